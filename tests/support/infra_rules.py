"""The product's rules for its Azure templates, as functions returning problems (an empty list means "holds").

Tests run each rule on `infra/` (expecting no problem) and on deliberately broken copies (expecting the rule to
name the break), so every rule is shown to be able to fail.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from tests.support.bicep import (
    Deployment,
    Template,
    containers,
    env_vars,
    functions_called,
    is_symbol,
    render,
    role_assignments,
    symbols_used,
    walk,
)
from tests.support.bicep_refs import module_contract_problems, reference_problems

EVENTHUB = "Microsoft.EventHub/namespaces/eventhubs"
CONTAINER = "Microsoft.Storage/storageAccounts/blobServices/containers"
REGISTRY = "Microsoft.ContainerRegistry/registries"
SENDER = "2b629674-e913-4c01-ae53-ef4638d8f975"
RECEIVER = "a638d3c7-ab3a-418d-83e6-5f17a39d4fde"
BLOB_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
BLOB_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"

# (template file, role id, scope resource type, principal expression inside that template). Nothing else may
# hold a role: a new role assignment must be added here on purpose.
EXPECTED_ROLES = {
    ("eventhubs.bicep", SENDER, EVENTHUB, "senderPrincipalId"),
    ("eventhubs.bicep", RECEIVER, EVENTHUB, "receiverPrincipalId"),
    ("storage.bicep", BLOB_CONTRIBUTOR, CONTAINER, "consumerPrincipalId"),
    ("storage.bicep", BLOB_CONTRIBUTOR, CONTAINER, "jobPrincipalId"),
    ("storage.bicep", BLOB_READER, CONTAINER, "apiPrincipalId"),
    ("storage.bicep", BLOB_READER, CONTAINER, "jobPrincipalId"),  # the config container: read only
    ("storage.bicep", BLOB_CONTRIBUTOR, CONTAINER, "deployerPrincipalId"),  # `chargeback config push`
    ("registry.bicep", ACR_PULL, REGISTRY, "principalId"),
    # a custom role (no built-in GUID): its four actions are checked in tests/unit/infra/test_finops_infra.py
    ("finops-apim.bicep", None, "Microsoft.ApiManagement/service", "enforcerPrincipalId"),
}
# How main.bicep feeds those principals: module symbol -> param -> rendered expression.
EXPECTED_PRINCIPAL_WIRING = {
    ("eventHubs", "senderPrincipalId"): (
        "useExistingApim ? apimPrincipal.outputs.principalId : identities.outputs.apimPrincipalId"
    ),
    ("eventHubs", "receiverPrincipalId"): "identities.outputs.consumerPrincipalId",
    ("storage", "consumerPrincipalId"): "identities.outputs.consumerPrincipalId",
    ("storage", "jobPrincipalId"): "identities.outputs.jobPrincipalId",
    ("finopsApim", "enforcerPrincipalId"): "identities.outputs.jobPrincipalId",
    ("storage", "apiPrincipalId"): "deployApi ? identities.outputs.apiPrincipalId : ''",
    ("storage", "deployerPrincipalId"): "deployerPrincipalId",
    ("registry", "pullPrincipalIds"): (
        "[identities.outputs.consumerPrincipalId, identities.outputs.jobPrincipalId, identities.outputs.apiPrincipalId]"
    ),
}
SECRET_WORDS = re.compile(r"(connectionstring|password|secret|sharedkey|accountkey|primarykey|secondarykey|sas)", re.I)
CRON_FIELD = re.compile(r"^(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*$")


def _templates(deployment: Deployment) -> Iterable[Template]:
    return deployment.templates.values()


def _by_name(deployment: Deployment, name: str) -> Template:
    for template in _templates(deployment):
        if template.path.name == name:
            return template
    raise AssertionError(f"no template {name} in the deployment")


def symbol_problems(deployment: Deployment) -> list[str]:
    """Every symbol, function and module contract resolves (what `bicep build` would catch first)."""
    problems = [str(p) for t in _templates(deployment) for p in reference_problems(t)]
    problems += [str(p) for p in module_contract_problems(deployment)]
    for template in _templates(deployment):
        for res in template.resources.values():
            for key in ("parent", "scope"):
                target = res.config.get(key)
                if is_symbol(target) and target not in template.resources and key == "parent":
                    problems.append(f"{template.path.name}: {res.symbol}.parent {target!r} is not a resource")
            for dep in res.config.get("dependsOn", []) or []:
                if is_symbol(dep) and dep not in template.resources and dep not in template.modules:
                    problems.append(f"{template.path.name}: {res.symbol}.dependsOn {dep!r} is not a resource")
    return problems


def role_problems(deployment: Deployment) -> list[str]:
    """Exactly the expected data-plane roles, each scoped to the one resource it is for, for service principals."""
    problems = []
    found = set()
    for template in _templates(deployment):
        for ra in role_assignments(template):
            key = (template.path.name, ra.role_id, ra.scope_type, ra.principal)
            found.add(key)
            where = f"{template.path.name}:{ra.symbol}"
            if key not in EXPECTED_ROLES:
                problems.append(
                    f"{where}: unexpected role {ra.role_name} on {ra.scope} ({ra.scope_type}) for {ra.principal}"
                )
            # The deployer (azd: the signed-in user) is the one principal whose kind is a parameter.
            deployer = ra.principal == "deployerPrincipalId" and is_symbol(ra.principal_type, "deployerPrincipalType")
            if ra.principal_type != "ServicePrincipal" and not deployer:
                problems.append(f"{where}: principalType is {ra.principal_type!r}, not 'ServicePrincipal'")
    for missing in sorted(EXPECTED_ROLES - found, key=str):
        problems.append(f"missing role assignment {missing}")
    for (module, param), expected in EXPECTED_PRINCIPAL_WIRING.items():
        given = render(deployment.main.module(module).params.get(param))
        if given != expected:
            problems.append(f"main.bicep: module {module} gets {param} = {given}, expected {expected}")
    return problems


def logger_problems(deployment: Deployment) -> list[str]:
    """The APIM logger sends to Event Hubs as a managed identity: credentials are exactly
    endpointAddress, identityClientId, name, and the client id is the APIM identity (or SystemAssigned)."""
    problems = []
    template = _by_name(deployment, "apim-chargeback.bicep")
    loggers = template.resources_of_type("Microsoft.ApiManagement/service/loggers")
    if len(loggers) != 1:
        return [f"expected one APIM logger, found {len(loggers)}"]
    logger = loggers[0]
    if logger.get("properties.loggerType") != "azureEventHub":
        problems.append(f"loggerType is {logger.get('properties.loggerType')!r}")
    if template.resolve(logger.config.get("name")) != "chargeback-eventhub-logger":
        problems.append(f"logger id is {render(template.resolve(logger.config.get('name')))}")
    credentials = logger.get("properties.credentials") or {}
    if set(credentials) != {"endpointAddress", "identityClientId", "name"}:
        problems.append(f"logger credentials have keys {sorted(credentials)}; a connection string is not allowed")
    for node in walk(logger.config):
        if isinstance(node, dict) and "function" in node and node["function"]["type"].lower().startswith("list"):
            problems.append("logger reads keys with a list*() function")
    if SECRET_WORDS.search(render(credentials)):
        problems.append(f"logger credentials mention a secret: {render(credentials)}")
    client_id = credentials.get("identityClientId")
    if not is_symbol(client_id, "loggerIdentityClientId"):
        problems.append(f"identityClientId is {render(client_id)}, not the loggerIdentityClientId parameter")
    given = render(deployment.main.module("apimChargeback").params.get("loggerIdentityClientId"))
    if given != "useExistingApim ? 'SystemAssigned' : identities.outputs.apimClientId":
        problems.append(f"main.bicep passes loggerIdentityClientId = {given}")
    endpoint = render(deployment.main.module("apimChargeback").params.get("eventHubNamespaceHost"))
    if endpoint != "eventHubs.outputs.namespaceHost":
        problems.append(f"logger endpointAddress comes from {endpoint}")
    host = _by_name(deployment, "eventhubs.bicep").outputs["namespaceHost"]["value"]
    if not str(host).endswith(".servicebus.windows.net"):
        problems.append(f"namespaceHost output is {render(host)}, not a fully qualified namespace")
    service = _by_name(deployment, "apim-service.bicep").resources_of_type("Microsoft.ApiManagement/service")
    identities = [r.get("identity.userAssignedIdentities") for r in service]
    if not identities or not all(
        isinstance(i, dict) and any(str(k).strip("'") == "${identityId}" for k in i) for i in identities
    ):
        problems.append("a new APIM service does not carry the user-assigned identity the logger names")
    return problems


def storage_problems(deployment: Deployment) -> list[str]:
    problems = []
    template = _by_name(deployment, "storage.bicep")
    expected = {
        "properties.allowSharedKeyAccess": False,
        "properties.allowBlobPublicAccess": False,
        "properties.minimumTlsVersion": "TLS1_2",
        "properties.supportsHttpsTrafficOnly": True,
        "properties.defaultToOAuthAuthentication": True,
    }
    for account in template.resources_of_type("Microsoft.Storage/storageAccounts"):
        for path, value in expected.items():
            if account.get(path) != value:
                problems.append(f"storage {account.symbol}: {path} is {account.get(path)!r}, expected {value!r}")
    for container in template.resources_of_type(CONTAINER):
        if container.get("properties.publicAccess") != "None":
            problems.append(f"container {container.symbol} allows public access")
    rules = {}
    for policy in template.resources_of_type("Microsoft.Storage/storageAccounts/managementPolicies"):
        for rule in policy.get("properties.policy.rules", []):
            prefixes = rule["definition"]["filters"].get("prefixMatch", [])
            days = rule["definition"]["actions"]["baseBlob"]["delete"]["daysAfterModificationGreaterThan"]
            for prefix in prefixes:
                rules[str(prefix)] = days
    want = {
        "${lakeContainerName}/payloads/": "payloadRetentionDays",
        "${lakeContainerName}/dead_letters/": "deadLetterRetentionDays",
    }
    for prefix, param in want.items():
        if not is_symbol(rules.get(prefix), param):
            problems.append(f"no lifecycle rule deleting {prefix} after {param} days (found {rules})")
    return problems


def eventhubs_problems(deployment: Deployment) -> list[str]:
    problems = []
    template = _by_name(deployment, "eventhubs.bicep")
    for ns in template.resources_of_type("Microsoft.EventHub/namespaces"):
        if ns.get("properties.disableLocalAuth") is not True:
            problems.append(f"namespace {ns.symbol}: local (SAS) auth is not disabled")
        if ns.get("properties.minimumTlsVersion") != "1.2":
            problems.append(f"namespace {ns.symbol}: minimum TLS is not 1.2")
    for hub in template.resources_of_type(EVENTHUB):
        if not is_symbol(hub.get("properties.partitionCount"), "partitionCount"):
            problems.append("the hub's partition count is not the partitionCount parameter")
    for kind in (
        "Microsoft.EventHub/namespaces/authorizationRules",
        "Microsoft.EventHub/namespaces/eventhubs/authorizationRules",
    ):
        for t in _templates(deployment):
            if t.resources_of_type(kind):
                problems.append(f"{t.path.name}: declares SAS authorization rules ({kind})")
    return problems


def consumer_app_problems(deployment: Deployment) -> list[str]:
    """Health probes, the KEDA lag rule reading the SDK's blob checkpoints, replicas capped by partitions."""
    problems = []
    template = _by_name(deployment, "container-apps.bicep")
    app = template.resource("consumer")
    probes = {p["type"]: p for c in containers(app) for p in c.get("probes", [])}
    for kind, path in (("Liveness", "/healthz"), ("Readiness", "/readyz")):
        probe = probes.get(kind)
        if probe is None or probe.get("httpGet", {}).get("path") != path:
            problems.append(f"consumer: no {kind} probe on {path}")
        elif not is_symbol(probe["httpGet"].get("port"), "healthPort"):
            problems.append(f"consumer: {kind} probe is not on the health port")
    scale = app.get("properties.template.scale") or {}
    if not is_symbol(scale.get("maxReplicas"), "partitionCount"):
        problems.append(f"consumer: maxReplicas is {render(scale.get('maxReplicas'))}, not partitionCount")
    rules = [r for r in scale.get("rules", []) if "custom" in r]
    eventhub_rules = [r["custom"] for r in rules if r["custom"].get("type") == "azure-eventhub"]
    if len(eventhub_rules) != 1:
        problems.append("consumer: expected one azure-eventhub scale rule")
    for rule in eventhub_rules:
        meta = rule.get("metadata", {})
        if meta.get("checkpointStrategy") != "blobMetadata":
            problems.append("consumer: scale rule does not read blobMetadata checkpoints")
        for key in ("eventHubNamespace", "eventHubName", "consumerGroup", "blobContainer", "storageAccountName"):
            if key not in meta:
                problems.append(f"consumer: scale rule metadata lacks {key}")
        if not is_symbol(rule.get("identity"), "consumerIdentityId"):
            problems.append("consumer: scale rule does not authenticate as the consumer identity")
        if "auth" in rule:
            problems.append("consumer: scale rule uses secrets (auth) instead of the identity")
    wiring = {k: render(deployment.main.module("containerApps").params.get(k)) for k in ("partitionCount",)}
    if (
        wiring["partitionCount"] != "eventHubPartitionCount"
        or render(deployment.main.module("eventHubs").params.get("partitionCount")) != "eventHubPartitionCount"
    ):
        problems.append("main.bicep: the hub and the consumer's replica cap do not share eventHubPartitionCount")
    command = [render(x) for c in containers(app) for x in c.get("command", []) + c.get("args", [])]
    if command != ["'chargeback'", "'consume'"]:
        problems.append(f"consumer: runs {command}")
    return problems


def job_problems(deployment: Deployment) -> list[str]:
    """A scheduled Container Apps Job runs `chargeback nightly` (aggregate, compact, ...), on a valid 5-field cron."""
    problems = []
    template = _by_name(deployment, "container-apps.bicep")
    jobs = template.resources_of_type("Microsoft.App/jobs")
    if len(jobs) != 1:
        return [f"expected one Container Apps Job, found {len(jobs)}"]
    job = jobs[0]
    if job.get("properties.configuration.triggerType") != "Schedule":
        problems.append("job: trigger is not Schedule")
    cron = job.get("properties.configuration.scheduleTriggerConfig.cronExpression")
    if not is_symbol(cron, "aggregationCron"):
        problems.append(f"job: cron is {render(cron)}, not the aggregationCron parameter")
    if render(deployment.main.module("containerApps").params.get("aggregationCron")) != "aggregationCron":
        problems.append("main.bicep: the job's cron is not main's aggregationCron parameter")
    default = deployment.main.parameters.get("aggregationCron", {}).get("default")
    problems += cron_problems(default if isinstance(default, str) else "")
    command = [render(x) for c in containers(job) for x in c.get("command", []) + c.get("args", [])]
    if command != ["'chargeback'", "'nightly'"]:
        problems.append(f"job: runs {command}, expected `chargeback nightly`")
    return problems


def cron_problems(cron: str) -> list[str]:
    fields = cron.split()
    if len(fields) != 5:
        return [f"cron {cron!r} does not have 5 fields"]
    limits = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 6)]
    problems = []
    for value, (low, high) in zip(fields, limits, strict=True):
        if not CRON_FIELD.match(value):
            problems.append(f"cron field {value!r} is not valid")
            continue
        for number in re.findall(r"\d+", value.split("/")[0]):
            if not low <= int(number) <= high:
                problems.append(f"cron field {value!r} outside {low}-{high}")
    return problems


def output_secret_problems(deployment: Deployment) -> list[str]:
    """No output carries a secret: no @secure() parameter, no list*() call, nothing named like a key."""
    problems = []
    for template in _templates(deployment):
        secure = {name for name in template.parameters if template.is_secure(name)}
        for name, output in template.outputs.items():
            value = output.get("value")
            used = symbols_used(value)
            closure = set(used)
            for symbol in used:
                if symbol in template.variables:
                    closure |= symbols_used(template.variables[symbol]["value"])
            if closure & secure:
                problems.append(f"{template.path.name}: output {name} exposes @secure() {sorted(closure & secure)}")
            if any(f.lower().startswith("list") for f in functions_called(value)) or ".list" in render(value):
                problems.append(f"{template.path.name}: output {name} calls a list*() function")
            if SECRET_WORDS.search(name) or SECRET_WORDS.search(render(value)):
                problems.append(f"{template.path.name}: output {name} looks like a secret: {render(value)}")
            if any(d.get("type") == "secure" for d in output.get("decorators", [])):
                problems.append(f"{template.path.name}: output {name} is @secure()")
    return problems


def app_env_names(deployment: Deployment) -> dict[str, dict[str, dict[str, Any]]]:
    """Resource symbol ('consumer', 'aggregationJob') -> env var name -> entry, from container-apps.bicep."""
    template = _by_name(deployment, "container-apps.bicep")
    result: dict[str, dict[str, dict[str, Any]]] = {}
    for symbol in ("consumer", "aggregationJob"):
        names: dict[str, dict[str, Any]] = {}
        for container in containers(template.resource(symbol)):
            names.update(env_vars(template, container.get("env", [])))
        result[symbol] = names
    return result


def settings_env_names(settings_class: Any) -> tuple[set[str], set[str]]:
    """(every variable a pydantic-settings class reads, those without a default), upper-case."""
    prefix = settings_class.model_config.get("env_prefix", "")
    names, required = set(), set()
    for field_name, field in settings_class.model_fields.items():
        alias = field.validation_alias or field.alias
        env = str(alias) if isinstance(alias, str) else f"{prefix}{field_name}"
        names.add(env.upper())
        if field.is_required():
            required.add(env.upper())
    return names, required


# Read by the Azure SDKs themselves, not by our settings classes: azure-identity's DefaultAzureCredential picks
# the user-assigned identity from AZURE_CLIENT_ID, the Azure Monitor exporter reads its connection string.
SDK_ENV_NAMES = {"AZURE_CLIENT_ID", "APPLICATIONINSIGHTS_CONNECTION_STRING"}
# Emulator-only settings: on Azure the identity is used, so the templates must never set them.
EMULATOR_ONLY = {"CHARGEBACK_EVENTHUB_CONNECTION_STRING", "CHARGEBACK_STORAGE_CONNECTION_STRING"}


def env_name_problems(deployment: Deployment, settings_by_app: dict[str, Any]) -> list[str]:
    """Each app's environment names are exactly settings its code reads (or SDK-standard names), every
    required setting is given, no emulator-only secret is set, and CHARGEBACK_* outputs are real settings."""
    problems = []
    env = app_env_names(deployment)
    every_setting: set[str] = set()
    for symbol, settings_class in settings_by_app.items():
        names, required = settings_env_names(settings_class)
        every_setting |= names
        given = set(env[symbol])
        for name in sorted(given - names - SDK_ENV_NAMES):
            problems.append(f"{symbol}: sets {name}, which {settings_class.__name__} does not read")
        for name in sorted(required - given):
            problems.append(f"{symbol}: does not set required {name}")
        for name in sorted(given & EMULATOR_ONLY):
            problems.append(f"{symbol}: sets emulator-only {name}")
        for name in sorted(SDK_ENV_NAMES - given):
            problems.append(f"{symbol}: does not set {name}")
    for name in sorted(deployment.main.outputs):
        if name.startswith("CHARGEBACK_") and name not in every_setting:
            problems.append(f"main.bicep: output {name} is not a setting the code reads")
    return problems
