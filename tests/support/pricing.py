"""A small price sheet, deployments map and PTU config whose numbers the tests compute by hand."""

from __future__ import annotations

from pathlib import Path

from aggregator.settings import AggregatorSettings

SHEET = """\
# test sheet: gpt-4.1 global changes price on 2026-11-15; batch is given per 1K tokens on purpose
model,deployment_type,region,currency,unit,input,cached_input,output,cache_write,effective_from,effective_to,source
gpt-4.1,global,*,USD,1M tokens,2.00,0.50,8.00,,2026-01-01,2026-11-15,test
gpt-4.1,global,*,USD,1M tokens,1.80,0.45,7.20,,2026-11-15,,test
gpt-4.1,batch,*,USD,1K tokens,0.001,,0.004,,,,test
o4-mini,global,*,USD,1M tokens,1.10,0.275,4.40,,,,test
"""

DEPLOYMENTS = """\
deployment,deployment_type,region
gpt-4.1,global,
gpt-4.1-batch,batch,
o4-mini,global,
gpt-4.1-ptu,provisioned,swedencentral
mystery,global,
"""

TEAMS = """\
# sub-1 is a shared platform subscription: its callers may name team a, b or c in the x-team header
subscription_id,product_id,team,cost_center,owner,shared_teams,effective_from,effective_to
sub-1,,platform,CC-0000,platform@contoso.example,a;b;c,2026-01-01,
sub-a,,a,CC-1001,alice@contoso.example,,2026-01-01,
"""

PTU = """\
{"provisioned": [{"deployment": "gpt-4.1-ptu", "ptu_count": 10, "hourly_rate": "2.00", "currency": "USD",
  "effective_from": "2026-11-01", "effective_to": null}]}
"""


def write_config(
    directory: Path, lake_url: str, connection_string: str | None = None, *, teams: str = TEAMS
) -> AggregatorSettings:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "prices.csv").write_text(SHEET)
    (directory / "deployments.csv").write_text(DEPLOYMENTS)
    (directory / "ptu.json").write_text(PTU)
    (directory / "teams.csv").write_text(teams)
    return AggregatorSettings(
        lake_url=lake_url,
        storage_connection_string=connection_string,
        price_sheet=directory / "prices.csv",
        deployments_config=directory / "deployments.csv",
        ptu_config=directory / "ptu.json",
        teams_config=str(directory / "teams.csv"),
        late_data_days=2,
    )


def env_for(settings: AggregatorSettings) -> dict[str, str]:
    env = {
        "CHARGEBACK_LAKE_URL": settings.lake_url or "",
        "CHARGEBACK_PRICE_SHEET": str(settings.price_sheet),
        "CHARGEBACK_DEPLOYMENTS_CONFIG": str(settings.deployments_config),
        "CHARGEBACK_PTU_CONFIG": str(settings.ptu_config),
        "CHARGEBACK_TEAMS_CONFIG": str(settings.teams_config),
    }
    if settings.storage_connection:
        env["CHARGEBACK_STORAGE_CONNECTION_STRING"] = settings.storage_connection
    return env
