"""`chargeback consume` tells the truth at start-up: "idle" means caught up. A hub that cannot be reached, does not
exist or refuses the credential ends the process with exit 5 and one `error:` line, in `--until-idle` mode and in
the long-running mode alike (instead of exit 0 "idle", or an event processor retrying forever)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from localhub.config import connection_string
from tests.integration.consumer.conftest import REPO, consumer_env
from tests.support.ports import free_port

pytestmark = pytest.mark.integration


def _start(env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "chargeback", "consume", *args],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_unreachable_missing_or_refusing_hub_exits_5_with_one_line(localhub, tmp_path):
    dead_port = free_port()  # nothing listens there
    cases = {
        "no such hub": (localhub.connection_string("usage"), "nope", ("--until-idle", "1")),
        "nothing listening": (connection_string("127.0.0.1", dead_port, "usage"), "usage", ("--until-idle", "1")),
        "long-running, no such hub": (localhub.connection_string("usage"), "missing", ()),
    }
    # All at once: each waits out the SDK's own retries (about 13 s), so in parallel the test takes that once.
    procs = {}
    for index, (label, (cs, hub, args)) in enumerate(cases.items()):
        env = consumer_env(
            cs,
            str(tmp_path / f"lake{index}"),
            str(tmp_path / f"cp{index}"),
            CHARGEBACK_EVENTHUB_NAME=hub,
            CHARGEBACK_LOG_LEVEL="WARNING",
        )
        procs[label] = _start(env, *args)
    lines, stderr = {}, {}
    try:
        for label, proc in procs.items():
            stderr[label] = proc.communicate(timeout=120)[1]
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for label, proc in procs.items():
        err = stderr[label]
        errors = [line for line in err.splitlines() if line.startswith("error:")]
        assert proc.returncode == 5, (label, proc.returncode, err)
        assert len(errors) == 1 and "Event Hubs unavailable" in errors[0], (label, err)
        assert "Traceback" not in err and "idle_exit" not in err, (label, err)
        lines[label] = errors[0]
    assert "'nope'" in lines["no such hub"] and "does not exist" in lines["no such hub"]
    assert f"127.0.0.1:{dead_port}" in lines["nothing listening"]
    assert "'missing'" in lines["long-running, no such hub"]


def test_a_refused_credential_exits_5_and_names_the_refusal(localhub, tmp_path):
    localhub.faults.refuse_tokens()
    cs = localhub.connection_string("usage")
    env = consumer_env(cs, str(tmp_path / "lake"), str(tmp_path / "cp"), CHARGEBACK_LOG_LEVEL="WARNING")
    proc = _start(env, "--until-idle", "1")
    try:
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert proc.returncode == 5, err
    assert len(errors) == 1 and "401" in errors[0] and "usage" in errors[0], err


def test_a_reachable_empty_hub_is_still_idle_and_exits_0(localhub, tmp_path):
    env = consumer_env(localhub.connection_string("usage"), str(tmp_path / "lake"), str(tmp_path / "cp"))
    proc = _start(env, "--until-idle", "1")
    try:
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "idle_exit" in err and "eventhub_reachable" in err
