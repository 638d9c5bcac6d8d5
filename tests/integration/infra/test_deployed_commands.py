"""What Azure runs is what runs here: the consumer app's and the nightly job's command lines and environments are
computed FROM THE BICEP (tests/support/bicep_eval.py) and run against Azurite and the local Event Hubs server.

Only what an emulator needs is substituted, each on one line of `_emulated` below:
- the storage account's blob endpoint is Azurite's (so every URL the Bicep builds points at Azurite), and the
  identity is replaced by Azurite's connection string (CHARGEBACK_STORAGE_CONNECTION_STRING);
- the Event Hubs namespace (managed identity) becomes the local server's connection string, namespace-level, so the
  hub name, consumer group and partition count are still the Bicep's;
- the Application Insights secret is dropped (no Azure Monitor here) and the health port is a free one (the probes'
  paths are the Bicep's).

So a command, an argument, a setting name or a configuration file the Bicep wires and the code does not understand
(or the reverse) fails here, not on the first night in Azure.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from aggregator.config_push import CONFIG_FILES
from schemas.codec import encode
from tests.integration.consumer.sending import send
from tests.support.bicep_eval import Evaluator, Runtime
from tests.support.infra_rules import SDK_ENV_NAMES, settings_env_names
from tests.support.localhub import LocalHubProcess
from tests.support.ports import free_port
from tests.unit.consumer.streams import rid, usage_record

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
MAIN_PARAMS = {"environmentName": "ci", "location": "local", "ipHashSalt": "not-a-secret"}
BLOB_ENDPOINT = "storage.bicep:account.properties.primaryEndpoints.blob"
RECORDS = 40
YESTERDAY = datetime.now(UTC).date() - timedelta(days=1)

# A price sheet unlike the shipped one (gpt-4.1 global: 3.00 in, 11.00 out per 1M), so a cost proves which was used.
PRICES = """\
model,deployment_type,region,currency,unit,input,cached_input,output,cache_write,effective_from,effective_to,source
gpt-4.1,global,*,USD,1M tokens,3.00,0.75,11.00,,,,deployed-commands test
"""
DEPLOYMENTS = "deployment,deployment_type,region\ngpt-4.1,global,\n"
PTU = '{"provisioned": []}\n'
TEAMS = "product_id,team\nai-standard,alpha\n"


def _deployed(azurite, **params: str) -> Evaluator:
    """The Bicep evaluated with Azurite as the storage account, whose containers are created as provisioning would."""
    from azure.storage.blob import BlobServiceClient

    deployed = Evaluator(MAIN_PARAMS | params, runtime={BLOB_ENDPOINT: f"{azurite.blob_endpoint}/"})
    containers = deployed.resource_names("storage", "Microsoft.Storage/storageAccounts/blobServices/containers")
    with BlobServiceClient.from_connection_string(azurite.connection_string, api_version="2025-01-05") as service:
        for name in containers:
            service.create_container(name)
    return deployed


def _code_reads() -> set[str]:
    """Every environment variable the code reads: the settings classes of every stage the shell mounts, and the
    shell's own options bound to a variable."""
    import typer
    from pydantic_settings import BaseSettings

    from chargeback.cli import app

    for settings_module in sorted(REPO.glob("*/settings.py")):  # every stage's settings (imported lazily by its CLI)
        importlib.import_module(f"{settings_module.parent.name}.settings")
    names: set[str] = set()
    pending = list(BaseSettings.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if (REPO / cls.__module__.split(".")[0]).is_dir():  # ours, not a library's
            names |= settings_env_names(cls)[0]
    command = typer.main.get_command(app)

    def walk(cmd) -> None:
        for param in cmd.params:
            envvar = getattr(param, "envvar", None)
            names.update([envvar] if isinstance(envvar, str) else envvar or [])
        for sub in getattr(cmd, "commands", {}).values():
            walk(sub)

    walk(command)
    return names


def _emulated(env: dict[str, str], azurite, hub: LocalHubProcess, health_port: int | None = None) -> dict[str, str]:
    """The Bicep's environment with only the emulator endpoints and credentials substituted."""
    out = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CHARGEBACK_", "AZURE_", "APPLICATIONINSIGHTS_", "IDENTITY_", "MSI_"))
    }
    out["PATH"] = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    for name, value in env.items():
        if name == "CHARGEBACK_EVENTHUB_NAMESPACE":  # managed identity -> the local server's key
            out["CHARGEBACK_EVENTHUB_CONNECTION_STRING"] = hub.namespace_connection_string()
        elif name == "APPLICATIONINSIGHTS_CONNECTION_STRING":  # no Azure Monitor here
            continue
        elif name == "CHARGEBACK_APIM_SUBSCRIPTION_ID" and "<runtime:" in value:  # the deployment's subscription
            out[name] = "00000000-0000-0000-0000-000000000000"  # enforcement is dry-run here: never called
        elif name == "CHARGEBACK_HEALTH_PORT" and health_port is not None:
            out[name] = str(health_port)
        else:
            out[name] = value
    out["CHARGEBACK_STORAGE_CONNECTION_STRING"] = azurite.connection_string  # identity -> Azurite's key
    leftovers = {k: v for k, v in out.items() if k.startswith("CHARGEBACK_") and "<runtime:" in v}
    assert not leftovers, f"settings only Azure could fill in: {leftovers}"
    return out


def _run(argv: list[str], env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(argv, env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False)


def _messages() -> tuple[list[tuple[str, bytes]], int, int]:
    messages, prompt, completion = [], 0, 0
    start = datetime(YESTERDAY.year, YESTERDAY.month, YESTERDAY.day, 10, 0, tzinfo=UTC)
    for i in range(RECORDS):
        record_id = rid(i)
        p, c = 1_000 + 37 * i, 100 + 11 * i
        prompt, completion = prompt + p, completion + c
        record = usage_record(
            record_id,
            i,
            event_time=(start + timedelta(seconds=i)).isoformat(),
            deployment="gpt-4.1",
            model="gpt-4.1",
            prompt_tokens=p,
            completion_tokens=c,
            total_tokens=p + c,
        )
        body = json.dumps(record).encode()
        messages += [(record_id, b) for b in encode(record_id, "usage", body, emitted_at=start)]
    return messages, prompt, completion


def _usage_files(lake_url: str, connection_string: str) -> tuple[int, int]:
    from common.storage.location import open_location

    location = open_location(lake_url, connection_string=connection_string)
    base = location.path("usage", f"event_date={YESTERDAY}", "event_hour=10")
    import pyarrow.fs as pafs

    info = location.filesystem.get_file_info(base)
    if info.type != pafs.FileType.Directory:
        return 0, 0
    files = [
        f.path
        for f in location.filesystem.get_file_info(pafs.FileSelector(base))
        if f.base_name.endswith(".parquet") and not f.base_name.startswith((".", "_"))
    ]
    rows = ds.dataset(files, filesystem=location.filesystem, format="parquet").count_rows() if files else 0
    return len(files), rows


def _http_ok(port: int, path: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _every_container(deployed: Evaluator) -> dict[str, object]:
    """Every container of every Container App and Job any module deploys, by `module/resource`."""
    found = {}
    for module in deployed.deployment.main.modules:
        scope = deployed.module(module)
        for type_ in ("Microsoft.App/containerApps", "Microsoft.App/jobs"):
            for resource in scope.template.resources_of_type(type_):
                if not resource.existing:
                    found[f"{module}/{resource.symbol}"] = deployed.container(module, resource.symbol)
    return found


def test_every_setting_the_bicep_sets_is_read_and_every_config_file_is_wired(azurite):
    deployed = _deployed(azurite, apiAudience="api://chargeback-test")  # the optional API app deployed too
    containers = _every_container(deployed)
    assert {"containerApps/consumer", "containerApps/aggregationJob", "apiApp/api"} <= set(containers)
    app = containers["containerApps/consumer"]
    job = containers["containerApps/aggregationJob"]
    reads = _code_reads()
    for name, container in containers.items():
        unread = sorted(set(container.env) - reads - SDK_ENV_NAMES)
        assert unread == [], f"{name}: the Bicep sets {unread}, which no code reads"
        assert container.command[0] == "chargeback", f"{name} runs {container.command}"
    from consumer.settings import ConsumerSettings

    _, required = settings_env_names(ConsumerSettings)
    assert required <= set(app.env), f"consumer: required {sorted(required - set(app.env))} not set by the Bicep"

    config_url = deployed.main_output("CHARGEBACK_CONFIG_URL")
    for setting in CONFIG_FILES:
        assert job.env.get(setting.variable) == f"{config_url}/{setting.blob}", (
            f"the job's {setting.variable} is {job.env.get(setting.variable)!r}: not where `config push` puts it"
        )
    assert not isinstance(config_url, Runtime) and config_url.startswith(azurite.blob_endpoint)


def test_the_deployed_app_and_nightly_job_run_against_the_emulators(azurite, tmp_path):
    deployed = _deployed(azurite)
    app = deployed.container("containerApps", "consumer")
    job = deployed.container("containerApps", "aggregationJob")
    hubs = deployed.module("eventHubs").params
    hub_name, partitions = hubs["eventHubName"], hubs["partitionCount"]
    assert app.env["CHARGEBACK_EVENTHUB_NAME"] == hub_name

    with LocalHubProcess(hubs={hub_name: partitions}) as hub:
        # --- the consumer app, exactly as Container Apps starts it
        health_port = free_port()
        app_env = _emulated(app.env, azurite, hub, health_port)
        log = (tmp_path / "consumer.log").open("wb")
        consumer = subprocess.Popen(app.argv, env=app_env, cwd=REPO, stdout=log, stderr=log)
        try:
            messages, prompt, completion = _messages()
            asyncio.run(send(hub.connection_string(hub_name), messages, partitions=partitions))
            deadline = time.monotonic() + 120
            files, rows = 0, 0
            while time.monotonic() < deadline and rows < RECORDS and consumer.poll() is None:
                time.sleep(1)
                files, rows = _usage_files(app.env["CHARGEBACK_LAKE_URL"], azurite.connection_string)
            assert rows == RECORDS, (files, rows, (tmp_path / "consumer.log").read_text()[-3000:])
            assert files >= 2, "the records arrive on several partitions: several files in the hour"
            for probe in app.probes:
                path = probe["httpGet"]["path"]
                assert probe["httpGet"]["port"] == int(app.env["CHARGEBACK_HEALTH_PORT"])
                assert _http_ok(health_port, path), f"{probe['type']} probe {path} fails"
        finally:
            if consumer.poll() is None:
                consumer.send_signal(signal.SIGTERM)
            try:
                code = consumer.wait(timeout=60)
            finally:
                if consumer.poll() is None:
                    consumer.kill()
                    consumer.wait()
                log.close()
        assert code == 0, (tmp_path / "consumer.log").read_text()[-3000:]

    job_env = _emulated(job.env, azurite, hub)

    # --- the job before the configuration files are pushed: aggregation fails loudly, compaction still runs
    before = _run(job.argv, job_env)
    assert before.returncode == 3, before.stderr[-3000:]
    errors = [line for line in before.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "aggregate failed (exit 3" in errors[0] and "does not exist" in errors[0]
    assert "compact ok" in before.stdout and f"[compact] {YESTERDAY}: " in before.stdout
    assert _usage_files(job.env["CHARGEBACK_LAKE_URL"], azurite.connection_string) == (1, RECORDS)

    # --- `chargeback config push`, aimed by the Bicep's own output, prints exactly the job's settings
    files = (("prices.csv", PRICES), ("deployments.csv", DEPLOYMENTS), ("ptu.json", PTU), ("teams.csv", TEAMS))
    for name, text in files:
        (tmp_path / name).write_text(text)
    push_env = _emulated({"CHARGEBACK_CONFIG_URL": deployed.main_output("CHARGEBACK_CONFIG_URL")}, azurite, hub)
    pushed = _run(
        [
            "chargeback",
            "config",
            "push",
            "--prices",
            str(tmp_path / "prices.csv"),
            "--deployments",
            str(tmp_path / "deployments.csv"),
            "--ptu",
            str(tmp_path / "ptu.json"),
            "--teams",
            str(tmp_path / "teams.csv"),
        ],
        push_env,
    )
    assert pushed.returncode == 0, pushed.stderr
    printed = dict(line.split("=", 1) for line in pushed.stdout.splitlines())
    assert printed == {k: job.env[k] for k in printed} and len(printed) == len(CONFIG_FILES)

    # --- the nightly job, exactly as the Bicep runs it
    night = _run(job.argv, job_env)
    assert night.returncode == 0, night.stderr[-3000:]
    assert "nightly: aggregate ok, compact ok, retention ok" in night.stdout
    assert "compacted 0 of" in night.stdout, "the day was compacted by the first run: nothing left to do"
    query = (
        "SELECT sum(prompt_tokens)::BIGINT, sum(completion_tokens)::BIGINT, sum(total_cost)::DOUBLE "
        f"FROM chargeback_daily WHERE date = DATE '{YESTERDAY}'"
    )
    answer = _run(["chargeback", "sql", query, "--format", "json"], job_env)
    assert answer.returncode == 0, answer.stderr
    (row,) = json.loads(answer.stdout)
    tokens_in, tokens_out, cost = row.values()
    assert (tokens_in, tokens_out) == (prompt, completion)
    assert cost == pytest.approx(prompt * 3.00 / 1e6 + completion * 11.00 / 1e6), "priced with the pushed sheet"
    runs = _run(["chargeback", "sql", "SELECT price_sheet_location FROM aggregation_runs", "--format", "json"], job_env)
    assert runs.returncode == 0, runs.stderr
    assert [r["price_sheet_location"] for r in json.loads(runs.stdout)] == [job.env["CHARGEBACK_PRICE_SHEET"]]
