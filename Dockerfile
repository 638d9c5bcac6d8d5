# apim-chargeback: the consumer image for Azure Container Apps (`chargeback consume`; also runs the nightly job).
# Slim, non-root, pinned dependencies (constraints.txt), no build tools in the final image.

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY common ./common
COPY chargeback ./chargeback
COPY schemas ./schemas
COPY consumer ./consumer
COPY aggregator ./aggregator
COPY producer_policy ./producer_policy
COPY localhub ./localhub
RUN python -m venv /opt/chargeback \
    && /opt/chargeback/bin/pip install --upgrade pip \
    && /opt/chargeback/bin/pip install -c constraints.txt . \
    && find /opt/chargeback -name '__pycache__' -prune -exec rm -rf {} +

FROM python:3.11-slim-bookworm
LABEL org.opencontainers.image.title="apim-chargeback" \
      org.opencontainers.image.description="Chargeback for Azure OpenAI behind API Management: consumer and roll-ups"
# ARROW_DEFAULT_MEMORY_POOL: freed Arrow buffers go back to the OS (consumer/memory.py, bench/README.md).
ENV PATH=/opt/chargeback/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ARROW_DEFAULT_MEMORY_POOL=system \
    CHARGEBACK_HEALTH_PORT=8080
RUN groupadd --system --gid 10001 chargeback \
    && useradd --system --uid 10001 --gid chargeback --home-dir /home/chargeback --create-home chargeback
COPY --from=build /opt/chargeback /opt/chargeback
USER 10001:10001
WORKDIR /home/chargeback
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('CHARGEBACK_HEALTH_PORT', '8080') + '/healthz', timeout=4)"]
ENTRYPOINT ["chargeback"]
CMD ["consume"]
