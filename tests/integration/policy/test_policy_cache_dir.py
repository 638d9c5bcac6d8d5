"""An unusable CHARGEBACK_POLICY_CACHE_DIR is a configuration error (one line, exit 3), not a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("below", ["", "cache"])
def test_unusable_policy_cache_dir(tmp_path, below):
    request = tmp_path / "req.json"
    request.write_text(json.dumps({"method": "POST", "url": "https://gw/openai/deployments/d/chat/completions"}))
    response = tmp_path / "resp.json"
    response.write_text(json.dumps({"status": 200, "body": {"usage": {"total_tokens": 1}}}))
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHARGEBACK_")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "chargeback",
            "policy",
            "simulate",
            "--request",
            str(request),
            "--response",
            str(response),
        ],
        env=env | {"CHARGEBACK_POLICY_CACHE_DIR": str(blocker / below)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 3 and len(lines) == 1, done.stderr
    assert lines[0].startswith("error: CHARGEBACK_POLICY_CACHE_DIR") and "Not a directory" in lines[0]
