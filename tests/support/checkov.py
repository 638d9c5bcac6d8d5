"""checkov's Bicep scan, run from its own virtualenv (`make checkov`), read from its JSON report.

A failed check counts unless the resource carries a suppression with a written reason
(`// checkov:skip=CKV_X:reason` inside the resource body); checkov's parse errors only show as a count, so the
count is part of the verdict.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.bicep import REPO_ROOT

DEFAULT_CHECKOV = REPO_ROOT / ".cache" / "checkov-venv" / "bin" / "checkov"
NO_REASON = "No comment provided"  # what checkov records for a skip comment without a reason


def checkov_bin() -> Path:
    configured = os.environ.get("CHECKOV_BIN")
    candidate = Path(configured) if configured else DEFAULT_CHECKOV
    if not candidate.is_file():
        raise AssertionError(
            f"checkov not found at {candidate} (CHECKOV_BIN={configured!r}): run `make checkov` "
            "(part of `make test`), or point CHECKOV_BIN at a checkov 3.x executable"
        )
    return candidate


@dataclass(frozen=True)
class Finding:
    check_id: str
    resource: str
    file: str
    name: str
    reason: str | None


@dataclass(frozen=True)
class CheckovReport:
    passed: int
    failed: list[Finding]
    skipped: list[Finding]
    parsing_errors: int
    resource_count: int

    def verdict(self) -> list[str]:
        """Problems that fail the build (empty: the scan is clean)."""
        problems = [f"{f.file}: {f.resource}: {f.check_id} failed: {f.name}" for f in self.failed]
        problems += [
            f"{f.file}: {f.resource}: {f.check_id} suppressed without a written reason"
            for f in self.skipped
            if not f.reason or f.reason.strip() in ("", NO_REASON) or len(f.reason.strip()) < 15
        ]
        if self.parsing_errors:
            problems.append(f"checkov could not parse {self.parsing_errors} file(s)")
        return problems


def _finding(raw: dict[str, Any]) -> Finding:
    result = raw.get("check_result") or {}
    return Finding(
        check_id=raw["check_id"],
        resource=raw["resource"],
        file=raw["file_path"],
        name=raw.get("check_name", ""),
        reason=result.get("suppress_comment"),
    )


def run_checkov(directory: Path, timeout: float = 300) -> CheckovReport:
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE"}
    completed = subprocess.run(
        [str(checkov_bin()), "-d", str(directory), "--framework", "bicep", "--skip-download", "-o", "json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=directory,
        timeout=timeout,
        check=False,
    )
    if completed.returncode not in (0, 1):
        raise AssertionError(f"checkov exited {completed.returncode}: {completed.stderr[-2000:]}")
    data = json.loads(completed.stdout)
    reports = data if isinstance(data, list) else [data]
    bicep = [r for r in reports if r.get("check_type") == "bicep"]
    if not bicep:
        # checkov prints a bare summary (no check_type) when it found nothing to scan
        raise AssertionError(f"checkov scanned no Bicep in {directory}: {completed.stdout[:500]}")
    report = bicep[0]
    summary = report["summary"]
    return CheckovReport(
        passed=summary["passed"],
        failed=[_finding(r) for r in report["results"]["failed_checks"]],
        skipped=[_finding(r) for r in report["results"]["skipped_checks"]],
        parsing_errors=summary["parsing_errors"],
        resource_count=summary["resource_count"],
    )
