"""infra/ as data: every template parses, every symbol resolves, and the product's rules hold.

The Bicep CLI cannot run here, so these assertions stand in for `bicep build` where they can (symbols,
functions, module contracts) and check what no compiler would (least privilege, no secrets, names shared
with the code). `test_infra_broken_copies.py` proves each rule fails on a broken template.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tests.support import infra_rules as rules
from tests.support.bicep import (
    INFRA_DIR,
    MAIN_BICEP,
    REPO_ROOT,
    load_deployment,
    load_template,
    loaded_files,
    render,
)

BICEP_FILES = sorted(INFRA_DIR.rglob("*.bicep"))
LOAD_TEXT_LIMIT = 131_072  # characters loadTextContent() accepts


@pytest.fixture(scope="module")
def deployment():
    return load_deployment(MAIN_BICEP)


def test_the_templates_exist_in_azd_layout():
    assert MAIN_BICEP.is_file()
    assert (INFRA_DIR / "main.parameters.json").is_file()
    assert len(BICEP_FILES) >= 8, BICEP_FILES


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: p.name)
def test_every_bicep_file_parses(path: Path):
    template = load_template(path)
    assert template.resources or template.modules or template.outputs


def test_every_module_file_is_used(deployment):
    assert set(deployment.templates) == {p.resolve() for p in BICEP_FILES}


def test_every_symbol_function_and_module_contract_resolves(deployment):
    assert rules.symbol_problems(deployment) == []


def test_roles_are_least_privilege_and_scoped(deployment):
    assert rules.role_problems(deployment) == []


def test_apim_logger_authenticates_with_a_managed_identity(deployment):
    assert rules.logger_problems(deployment) == []


def test_storage_is_entra_only_private_tls12_with_retention_rules(deployment):
    assert rules.storage_problems(deployment) == []


def test_event_hubs_has_local_auth_disabled_and_parameterised_partitions(deployment):
    assert rules.eventhubs_problems(deployment) == []


def test_consumer_app_probes_scale_rule_and_replica_cap(deployment):
    assert rules.consumer_app_problems(deployment) == []


def test_aggregation_job_runs_on_a_valid_cron(deployment):
    assert rules.job_problems(deployment) == []


def test_no_output_carries_a_secret(deployment):
    assert rules.output_secret_problems(deployment) == []


def test_ip_salt_is_secure_and_generated(deployment):
    main = deployment.main
    assert main.is_secure("ipHashSalt")
    metadata = main.decorators("ipHashSalt")["metadata"]
    assert metadata["azd"]["type"] == "generate"
    apim = deployment.module_of(main, "apimChargeback")
    assert apim.is_secure("ipHashSalt")
    salt = apim.resource("ipSalt")
    assert salt.get("properties.secret") is True
    assert str(salt.config["name"]) == "chargeback-ip-salt"


def test_named_values_are_the_ones_the_policy_reads(deployment):
    apim = deployment.module_of(deployment.main, "apimChargeback")
    names = {str(nv["name"]) for nv in apim.var("namedValues")} | {str(apim.resource("ipSalt").config["name"])}
    assert names == {
        "chargeback-stream-mode",
        "chargeback-include-usage",
        "chargeback-capture",
        "chargeback-client-ip",
        "chargeback-ip-salt",
        "chargeback-tag-headers",
    }
    policy_dir = REPO_ROOT / "producer_policy"
    texts = [p.read_text(encoding="utf-8") for p in policy_dir.rglob("*.xml")] if policy_dir.is_dir() else []
    referenced = {name for name in names if any("{{" + name + "}}" in t for t in texts)}
    if texts:  # once the policy is on main, every named value it references must be deployed
        used = {m for t in texts for m in re.findall(r"\{\{(chargeback-[a-z0-9-]+)\}\}", t)}
        assert used <= names, f"policy reads named values the templates do not create: {used - names}"
        assert referenced, "the policy references none of the deployed named values"


def test_policy_files_are_loaded_with_fragment_ids_equal_to_file_stems(deployment):
    apim = deployment.module_of(deployment.main, "apimChargeback")
    files = loaded_files(apim)
    expected = {
        (REPO_ROOT / "producer_policy" / "policy.xml").resolve(),
        *((REPO_ROOT / "producer_policy" / "fragments" / f"{s}.xml").resolve() for s in apim.var("fragmentIds")),
    }
    assert set(files) == expected
    assert {k.strip("'") for k in apim.var("fragmentXml")} == {str(s) for s in apim.var("fragmentIds")}
    for path in files:
        if path.exists():  # the policy engineer's files; checked whenever they are on main
            assert len(path.read_text(encoding="utf-8")) <= LOAD_TEXT_LIMIT, f"{path} is too large for loadTextContent"


def test_app_environment_names_equal_the_settings_the_code_reads(deployment):
    from aggregator.settings import AggregatorSettings
    from consumer.settings import ConsumerSettings
    from finops.settings import FinopsSettings

    settings = {
        "consumer": ConsumerSettings,
        "aggregationJob": type("NightlyJobSettings", (AggregatorSettings, FinopsSettings), {}),
    }
    assert rules.env_name_problems(deployment, settings) == []
    assert any(n.startswith("CHARGEBACK_") for n in deployment.main.outputs)


def test_telemetry_connection_string_is_a_secret_reference(deployment):
    env = rules.app_env_names(deployment)
    for symbol in ("consumer", "aggregationJob"):
        entry = env[symbol]["APPLICATIONINSIGHTS_CONNECTION_STRING"]
        assert "secretRef" in entry and "value" not in entry


def test_parameters_file_names_only_declared_parameters_and_every_required_one(deployment):
    params = json.loads((INFRA_DIR / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    declared = deployment.main.parameters
    assert set(params) <= set(declared)
    required = deployment.main.required_params()
    # the secure salt is generated by azd (metadata type 'generate'), never written in the parameters file
    assert required - set(params) == {"ipHashSalt"}
    assert params["environmentName"]["value"] == "${AZURE_ENV_NAME}"
    assert params["location"]["value"] == "${AZURE_LOCATION}"
    assert "ipHashSalt" not in params


def test_outputs_are_named_like_environment_variables(deployment):
    for name in deployment.main.outputs:
        assert name == name.upper() and name.replace("_", "").isalnum(), name


def test_azure_yaml_points_azd_at_the_templates_and_the_dockerfile(deployment):
    config = yaml.safe_load((REPO_ROOT / "azure.yaml").read_text(encoding="utf-8"))
    assert config["infra"] == {"provider": "bicep", "path": "infra", "module": "main"}
    service = config["services"]["consumer"]
    assert service["host"] == "containerapp"
    assert service["language"] == "python"
    assert service["docker"]["path"] == "./Dockerfile"
    apps = deployment.module_of(deployment.main, "containerApps")
    tags = apps.resource("consumer").config["tags"]
    assert "'azd-service-name': 'consumer'" in render(tags) or "azd-service-name: 'consumer'" in render(tags)
    hook = config["hooks"]["postdeploy"]["posix"]["run"]
    for output in ("AZURE_AGGREGATION_JOB_NAME", "AZURE_RESOURCE_GROUP"):
        assert output in hook and output in deployment.main.outputs
    assert "SERVICE_CONSUMER_IMAGE_NAME" in hook
