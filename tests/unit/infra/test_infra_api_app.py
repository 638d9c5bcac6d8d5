"""The read API's Container App runs `chargeback serve` with exactly the settings the code reads, reads the lake
and nothing more, and is deployed only when its Entra audience is given."""

from __future__ import annotations

import pytest

from aggregator.settings import AggregatorSettings
from api.settings import ApiSettings
from tests.support import infra_rules as rules
from tests.support.bicep import MAIN_BICEP, containers, env_vars, load_deployment, render


@pytest.fixture(scope="module")
def deployment():
    return load_deployment(MAIN_BICEP)


def _api(deployment):
    template = next(t for t in deployment.templates.values() if t.path.name == "api-app.bicep")
    return template, template.resource("api")


def test_api_app_env_is_exactly_what_serve_reads(deployment):
    template, api = _api(deployment)
    (container,) = containers(api)
    assert render(container["command"]) == "['chargeback']" and render(container["args"]) == "['serve']"
    given = set(env_vars(template, container["env"]))
    readable = set()
    required = set()
    for settings in (ApiSettings, AggregatorSettings):
        names, needed = rules.settings_env_names(settings)
        readable |= names
        required |= needed
    assert given - readable - rules.SDK_ENV_NAMES == set()
    assert required <= given
    assert not given & rules.EMULATOR_ONLY
    assert {"CHARGEBACK_API_AUTH", "CHARGEBACK_API_TENANT_ID", "CHARGEBACK_API_AUDIENCE"} <= given
    auth = env_vars(template, container["env"])["CHARGEBACK_API_AUTH"]
    assert render(auth["value"]) == "'entra'"  # never the local API key in Azure


def test_api_app_is_https_only_and_probed(deployment):
    _, api = _api(deployment)
    ingress = api.get("properties.configuration.ingress")
    assert render(ingress["allowInsecure"]) == "false" and render(ingress["external"]) == "true"
    (container,) = containers(api)
    paths = {render(p["httpGet"]["path"]) for p in container["probes"]}
    assert paths == {"'/api/v1/health'", "'/api/v1/metrics'"}


def test_api_is_deployed_only_with_an_audience(deployment):
    module = deployment.main.module("apiApp")
    assert render(module.condition) == "deployApi"
    assert render(deployment.main.var("deployApi")) == "!empty(apiAudience)"
