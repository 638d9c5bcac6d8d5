"""checkov's Bicep scan of infra/ is clean: no failed check without a written suppression reason, no file it
cannot parse. The broken copy proves the verdict fails on each of those three things (one scan, to keep the
suite's time down: checkov takes tens of seconds on a busy 2-core machine)."""

from __future__ import annotations

import shutil

import pytest

from tests.support.bicep import INFRA_DIR
from tests.support.checkov import run_checkov

pytestmark = pytest.mark.integration


def test_checkov_scan_of_infra_is_clean():
    report = run_checkov(INFRA_DIR)
    assert report.verdict() == []
    assert report.resource_count > 20 and report.passed > 0
    assert all(f.reason for f in report.skipped)


def test_checkov_verdict_fails_on_a_finding_a_bare_skip_and_a_parse_error(tmp_path):
    target = tmp_path / "infra"
    shutil.copytree(INFRA_DIR, target)
    storage = target / "modules" / "storage.bicep"
    text = storage.read_text(encoding="utf-8")
    # 1. a new failing check: TLS 1.0 allowed
    assert text.count("minimumTlsVersion: 'TLS1_2'") == 1
    text = text.replace("minimumTlsVersion: 'TLS1_2'", "minimumTlsVersion: 'TLS1_0'")
    storage.write_text(text, encoding="utf-8")
    # 2. a suppression whose reason was deleted
    registry = target / "modules" / "registry.bicep"
    text = registry.read_text(encoding="utf-8")
    start = text.index("// checkov:skip=CKV_AZURE_166:")
    end = text.index("\n", start)
    registry.write_text(text[:start] + "// checkov:skip=CKV_AZURE_166" + text[end:], encoding="utf-8")
    # 3. a file checkov's own (older) parser rejects: a union-type literal
    (target / "modules" / "unparsable.bicep").write_text(
        "param tier 'Basic' | 'Standard' = 'Basic'\n", encoding="utf-8"
    )

    problems = run_checkov(target).verdict()

    assert any("storage.bicep" in p and "CKV_AZURE_44 failed" in p for p in problems), problems
    assert any("CKV_AZURE_166 suppressed without a written reason" in p for p in problems), problems
    assert any("could not parse 1 file" in p for p in problems), problems
