"""CPU time of the policy's C# expressions per call under Mono (a proxy for gateway cost), by record size."""

from __future__ import annotations

import json
import statistics

from bench.figures import Figure
from producer_policy.harness.exchange import Exchange, HttpRequest, HttpResponse
from producer_policy.harness.policy import PolicyDocuments, PolicyHarness
from producer_policy.render import PACKAGE_DIR

URL = "https://gw.example/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21"
SIZES = (("1 KB", 1_000), ("100 KB", 100_000), ("5 MB", 5_000_000))


def _response(size: int) -> bytes:
    usage = {"prompt_tokens": 1520, "completion_tokens": 310, "total_tokens": 1830}
    shell = {
        "id": "chatcmpl-1",
        "model": "gpt-4o-2024-11-20",
        "choices": [{"message": {"content": ""}}],
        "usage": usage,
    }
    pad = max(0, size - len(json.dumps(shell)))
    shell["choices"][0]["message"]["content"] = ("Grüße, 世界! " * (pad // 10 + 1))[:pad]
    return json.dumps(shell, ensure_ascii=False).encode()


def _exchange(size: int) -> Exchange:
    request = HttpRequest("POST", URL, {"Content-Type": ["application/json"], "x-team": ["alpha"]}, b'{"messages":[]}')
    return Exchange(
        request=request, response=HttpResponse(200, {"Content-Type": ["application/json"]}, _response(size))
    )


def _median_us(harness: PolicyHarness, prepared, ex: Exchange, repeat: int) -> float:
    harness.run(prepared, ex)  # JIT warm-up
    return statistics.median(harness.run(prepared, ex).expression_us for _ in range(repeat))


def run(quick: bool) -> list[Figure]:
    documents = PolicyDocuments.from_directory(PACKAGE_DIR)
    figures: list[Figure] = []
    with PolicyHarness() as harness:
        usage_only = harness.prepare(documents, {"chargeback-capture": "none"})
        capture = harness.prepare(documents, {"chargeback-capture": "response"})
        measured: dict[str, tuple[float, float]] = {}
        for label, size in SIZES:
            repeat = 3 if size >= 1_000_000 else (20 if quick else 100)
            if quick and size >= 1_000_000:
                repeat = 2
            ex = _exchange(size)
            base = _median_us(harness, usage_only, ex, repeat)
            full = _median_us(harness, capture, ex, repeat)
            measured[label] = (base, full)
            figures.append(
                Figure(
                    benchmark=f"policy expressions per call, {label} response, capture=response",
                    value=full / 1000,
                    unit="ms/call",
                    baseline="same call, capture=none (usage record only)",
                    baseline_value=base / 1000,
                    notes=f"median of {repeat}; Stopwatch around each expression (one thread, ~CPU); Mono 6.8",
                )
            )
    small, large = measured["1 KB"], measured["5 MB"]
    per_kb = (large[1] - small[1]) / (5_000_000 - 1_000) * 1000
    figures.append(
        Figure(
            benchmark="growth of expression CPU from 1 KB to 5 MB (capture=response)",
            value=large[1] / small[1],
            unit="x",
            baseline="same growth with capture=none",
            baseline_value=large[0] / small[0],
            notes=f"about {per_kb:.1f} µs per extra KB with capture (read, parsed, base64'd once)",
        )
    )
    return figures
