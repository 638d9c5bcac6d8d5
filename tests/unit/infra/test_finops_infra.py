"""The FinOps pieces of infra/: the enforcer's custom role is exactly the four actions enforcement uses, on the one
APIM service; the named value and fragment are the ones the code and the policy use; every near-real-time alert
rule watches a metric the consumer really exports (or an APIM platform metric) and notifies the action group."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from finops.settings import FinopsSettings
from tests.support.bicep import MAIN_BICEP, REPO_ROOT, load_deployment, render, role_assignments

ENFORCER_ACTIONS = {
    "Microsoft.ApiManagement/service/subscriptions/read",
    "Microsoft.ApiManagement/service/subscriptions/write",
    "Microsoft.ApiManagement/service/namedValues/read",
    "Microsoft.ApiManagement/service/namedValues/write",
}


@pytest.fixture(scope="module")
def deployment():
    return load_deployment(MAIN_BICEP)


def _template(deployment, name):
    return next(t for t in deployment.templates.values() if t.path.name == name)


def test_the_enforcer_role_is_custom_minimal_and_assigned_on_the_apim_service_only(deployment):
    apim = _template(deployment, "finops-apim.bicep")
    (role,) = apim.resources_of_type("Microsoft.Authorization/roleDefinitions")
    (permissions,) = role.get("properties.permissions")
    assert set(apim.resolve(permissions["actions"])) == ENFORCER_ACTIONS
    assert not permissions["dataActions"] and not permissions["notActions"]
    assert render(role.get("properties.assignableScopes")) == "[resourceGroup().id]"
    (assignment,) = role_assignments(apim)
    assert assignment.scope == "apim" and assignment.scope_type == "Microsoft.ApiManagement/service"
    assert assignment.principal == "enforcerPrincipalId" and assignment.principal_type == "ServicePrincipal"
    assert render(apim.resource("enforcerAssignment").get("properties.roleDefinitionId")) == "enforcerRole.id"
    assert render(deployment.main.module("finopsApim").params["enforcerPrincipalId"]) == (
        "identities.outputs.jobPrincipalId"
    )


def test_the_named_value_and_fragment_are_the_ones_the_code_and_policy_use(deployment):
    apim = _template(deployment, "finops-apim.bicep")
    default = FinopsSettings.model_fields["enforcement_named_value"].default
    assert apim.parameters["enforcementNamedValue"]["default"] == default
    assert render(apim.resource("enforcement").get("properties.value")) == "'none'"
    value = render(apim.resource("enforcementFragment").get("properties.value"))
    match = re.fullmatch(r"loadTextContent\('(.+)'\)", value)
    assert match, value
    fragment = (apim.path.parent / match.group(1)).resolve()
    assert fragment == (REPO_ROOT / "finops" / "policy" / "chargeback-enforcement.xml").resolve()
    assert "{{" + default + "}}" in fragment.read_text(encoding="utf-8")


def test_alert_rules_watch_exported_metrics_and_notify_the_action_group(deployment):
    alerts = _template(deployment, "finops-alerts.bicep")
    exported = set(
        re.findall(r'"(chargeback\.consumer\.[a-z_]+)"', Path(REPO_ROOT / "consumer" / "metrics.py").read_text())
    )
    rules = alerts.var("rules")
    assert len(rules) == 7
    for rule in rules:
        if rule["custom"]:
            assert rule["metric"] in exported, rule["metric"]
            assert alerts.resolve(rule["namespace"]) == "azure.applicationinsights"
            assert rule["scope"] == "appInsightsId"
        else:
            assert rule["metric"] in {"Requests", "Duration"} and rule["scope"] == "apimId"
    (resource,) = alerts.resources_of_type("Microsoft.Insights/metricAlerts")
    assert render(resource.get("properties.actions")) == "[{actionGroupId: actionGroup.id}]"
    criterion = resource.get("properties.criteria.allOf")[0]
    assert render(criterion["skipMetricValidation"]) == "rule.custom"
    assert {r["name"] for r in rules} >= {
        "chargeback-request-rate",
        "chargeback-consumer-lag",
        "chargeback-dead-letters",
        "chargeback-gateway-5xx",
        "chargeback-gateway-429",
        "chargeback-gateway-auth-failures",
        "chargeback-gateway-latency",
    }


def test_the_alert_webhook_is_a_secret_end_to_end(deployment):
    alerts = _template(deployment, "finops-alerts.bicep")
    assert alerts.is_secure("alertWebhookUrl") and deployment.main.is_secure("alertWebhookUrl")
    assert "alertWebhookUrl" not in render(alerts.outputs) and "alertWebhookUrl" not in render(deployment.main.outputs)
