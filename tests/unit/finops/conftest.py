"""The real `chargeback` shell run in-process, with a clean CHARGEBACK_* environment."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from chargeback.cli import app
from tests.unit.finops.month import build_month

Invoke = Callable[..., Result]


@pytest.fixture
def invoke(monkeypatch: pytest.MonkeyPatch) -> Invoke:
    for name in list(os.environ):
        if name.startswith("CHARGEBACK_"):
            monkeypatch.delenv(name)

    def run(args: list[str], env: dict[str, str] | None = None) -> Result:
        return CliRunner().invoke(app, args, env=env or {}, catch_exceptions=False)

    return run


@pytest.fixture(scope="session")
def month_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The scenario month (tests/unit/finops/month.py), aggregated once per session; tests get a copy to write to."""
    return build_month(tmp_path_factory.mktemp("month"))


@pytest.fixture
def month(month_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """A private copy of the scenario lake, so each test's FinOps tables start empty."""
    import shutil

    lake = tmp_path / "lake"
    shutil.copytree(month_env["CHARGEBACK_LAKE_URL"], lake)
    return month_env | {"CHARGEBACK_LAKE_URL": str(lake)}
