"""Every validator catches the break it exists for: each case copies infra/ into tmp_path, breaks one thing
with an exact, unique text edit, and expects the rule that guards it to name the break (while the pristine copy
passes every rule, so the failure comes from the edit)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import infra_rules as rules
from tests.support.bicep import INFRA_DIR, BicepSyntaxError, Deployment, load_deployment


@dataclass(frozen=True)
class Break:
    id: str
    file: str
    old: str
    new: str
    rule: Callable[[Deployment], list[str]]
    expect: str  # a substring of one reported problem


def broken_copy(tmp_path: Path, file: str, old: str, new: str) -> Path:
    target = tmp_path / "infra"
    shutil.copytree(INFRA_DIR, target)
    path = target / file
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"the edit must match exactly once in {file}: {old!r}"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return target / "main.bicep"


def _env_rule(deployment: Deployment) -> list[str]:
    from aggregator.settings import AggregatorSettings
    from consumer.settings import ConsumerSettings
    from finops.settings import FinopsSettings

    return rules.env_name_problems(
        deployment,
        {
            "consumer": ConsumerSettings,
            "aggregationJob": type("NightlyJobSettings", (AggregatorSettings, FinopsSettings), {}),
        },
    )


BREAKS = [
    Break("typo-parent", "modules/eventhubs.bicep", "parent: namespace", "parent: namepsace",
          rules.symbol_problems, "unknown symbol 'namepsace'"),
    Break("typo-dependsOn", "modules/apim-chargeback.bicep", "      logger\n      settings\n",
          "      loger\n      settings\n", rules.symbol_problems, "unknown symbol 'loger'"),
    Break("typo-in-interpolation", "modules/storage.bicep", "'${lakeContainerName}/payloads/'",
          "'${lakeContainer_Name}/payloads/'", rules.symbol_problems, "unknown symbol 'lakeContainer_Name'"),
    Break("typo-module-output", "main.bicep", "monitoring.outputs.appInsightsName\n    registryServer",
          "monitoring.outputs.appInsightName\n    registryServer", rules.symbol_problems, "no such output"),
    Break("typo-function", "main.bicep", "toLower(uniqueString(", "toLower(uniqeString(",
          rules.symbol_problems, "unknown function 'uniqeString'"),
    Break("unknown-module-param", "main.bicep", "    retentionDays: eventHubRetentionDays",
          "    retentionDay: eventHubRetentionDays", rules.symbol_problems, "unknown param 'retentionDay'"),
    Break("missing-module-param", "main.bicep", "    retentionDays: eventHubRetentionDays\n", "",
          rules.symbol_problems, "missing required param 'retentionDays'"),
    Break("logger-connection-string", "modules/apim-chargeback.bicep",
          "      endpointAddress: eventHubNamespaceHost\n      identityClientId: loggerIdentityClientId\n",
          "      connectionString: 'Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=s;SharedAccessKey=k'\n",
          rules.logger_problems, "a connection string is not allowed"),
    Break("logger-literal-client-id", "modules/apim-chargeback.bicep",
          "identityClientId: loggerIdentityClientId", "identityClientId: '00000000-0000-0000-0000-000000000000'",
          rules.logger_problems, "not the loggerIdentityClientId parameter"),
    Break("role-on-namespace", "modules/eventhubs.bicep",
          "roles.eventHubsDataReceiver)\n  scope: hub", "roles.eventHubsDataReceiver)\n  scope: namespace",
          rules.role_problems, "on namespace (Microsoft.EventHub/namespaces)"),
    Break("role-on-storage-account", "modules/storage.bicep",
          "jobPrincipalId, roles.storageBlobDataContributor)\n  scope: lakeContainer",
          "jobPrincipalId, roles.storageBlobDataContributor)\n  scope: account",
          rules.role_problems, "on account (Microsoft.Storage/storageAccounts)"),
    Break("role-too-broad", "modules/eventhubs.bicep", "eventHubsDataSender: '2b629674-e913-4c01-ae53-ef4638d8f975'",
          "eventHubsDataSender: 'f526a384-b230-433a-b45c-95f59c4a2dec'", rules.role_problems,
          "Azure Event Hubs Data Owner"),
    Break("role-wrong-principal", "main.bicep", "    jobPrincipalId: identities.outputs.jobPrincipalId",
          "    jobPrincipalId: identities.outputs.consumerPrincipalId", rules.role_problems, "gets jobPrincipalId"),
    Break("shared-key-on", "modules/storage.bicep", "allowSharedKeyAccess: false", "allowSharedKeyAccess: true",
          rules.storage_problems, "allowSharedKeyAccess"),
    Break("no-payload-retention", "modules/storage.bicep", "daysAfterModificationGreaterThan: payloadRetentionDays",
          "daysAfterModificationGreaterThan: 3650", rules.storage_problems, "payloads/"),
    Break("sas-enabled", "modules/eventhubs.bicep", "disableLocalAuth: true", "disableLocalAuth: false",
          rules.eventhubs_problems, "local (SAS) auth"),
    Break("replicas-above-partitions", "modules/container-apps.bicep", "maxReplicas: partitionCount",
          "maxReplicas: 40", rules.consumer_app_problems, "maxReplicas is 40"),
    Break("no-readiness-probe", "modules/container-apps.bicep", "path: '/readyz'", "path: '/ready'",
          rules.consumer_app_problems, "no Readiness probe on /readyz"),
    Break("checkpoint-strategy", "modules/container-apps.bicep", "checkpointStrategy: 'blobMetadata'",
          "checkpointStrategy: 'azureFunction'", rules.consumer_app_problems, "blobMetadata"),
    Break("bad-cron", "main.bicep", "param aggregationCron string = '30 2 * * *'",
          "param aggregationCron string = '30 25 * * *'", rules.job_problems, "outside 0-23"),
    Break("job-skips-nightly", "modules/container-apps.bicep", "          args: [\n            'nightly'\n",
          "          args: [\n            'aggregate'\n", rules.job_problems, "job: runs"),
    Break("secure-param-in-output", "modules/apim-chargeback.bicep", "output apiName string = openAiApiName",
          "output apiName string = openAiApiName\noutput salt string = ipHashSalt", rules.output_secret_problems,
          "exposes @secure()"),
    Break("listkeys-in-output", "modules/storage.bicep", "output accountName string = account.name",
          "output accountName string = account.listKeys().keys[0].value", rules.output_secret_problems,
          "list*()"),
    Break("env-name-typo", "modules/container-apps.bicep", "name: 'CHARGEBACK_CONSUMER_GROUP'",
          "name: 'CHARGEBACK_CONSUMERGROUP'", _env_rule, "CHARGEBACK_CONSUMERGROUP"),
    Break("env-emulator-secret", "modules/container-apps.bicep", "name: 'CHARGEBACK_START_POSITION'",
          "name: 'CHARGEBACK_STORAGE_CONNECTION_STRING'", _env_rule, "emulator-only"),
    Break("env-required-missing", "modules/container-apps.bicep",
          "  {\n    name: 'CHARGEBACK_CHECKPOINT_URL'\n    value: checkpointUrl\n  }\n", "", _env_rule,
          "does not set required CHARGEBACK_CHECKPOINT_URL"),
]  # fmt: skip

ALL_RULES = [
    rules.symbol_problems,
    rules.role_problems,
    rules.logger_problems,
    rules.storage_problems,
    rules.eventhubs_problems,
    rules.consumer_app_problems,
    rules.job_problems,
    rules.output_secret_problems,
    _env_rule,
]


def test_an_unbroken_copy_passes_every_rule(tmp_path):
    shutil.copytree(INFRA_DIR, tmp_path / "infra")
    deployment = load_deployment(tmp_path / "infra" / "main.bicep")
    assert {rule.__name__: rule(deployment) for rule in ALL_RULES} == {rule.__name__: [] for rule in ALL_RULES}


@pytest.mark.parametrize("case", BREAKS, ids=lambda c: c.id)
def test_the_rule_names_the_break(tmp_path, case: Break):
    main = broken_copy(tmp_path, case.file, case.old, case.new)
    problems = case.rule(load_deployment(main))
    assert any(case.expect in p for p in problems), problems


def test_a_syntax_error_is_reported_with_the_file(tmp_path):
    main = broken_copy(tmp_path, "modules/registry.bicep", "  sku: {\n    name: 'Basic'\n  }", "  sku: {\n")
    with pytest.raises(BicepSyntaxError, match=r"registry\.bicep"):
        load_deployment(main)
