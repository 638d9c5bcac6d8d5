"""`make mutation`: mutmut over one money / exactly-once module at a time, each against its own focused tests.

Each module gets its own scratch copy of the repository (.cache/mutation/<module>/, kept between runs so mutmut only
re-tests what changed) whose pyproject's [tool.mutmut] names that module and its tests; mutmut then runs each mutant
against the tests (of those) that executed the mutated function, one mutant at a time, under a CPU-time limit
(timeout_multiplier / timeout_constant in pyproject). Scores: `python -m tests.mutation.score`.

    python -m tests.mutation.run                          # every module
    python -m tests.mutation.run consumer/flush_state.py  # one
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MUTMUT = ROOT / ".cache" / "mutmut-venv" / "bin" / "mutmut"
SCRATCH = ROOT / ".cache" / "mutation"

_AGGREGATOR = ("tests/unit/aggregator", "--ignore=tests/unit/aggregator/test_report_browser.py")
FOCUSED_TESTS: dict[str, tuple[str, ...]] = {
    "schemas/codec.py": ("tests/unit/schemas",),
    "schemas/reassembler.py": ("tests/unit/schemas",),
    "consumer/partition.py": ("tests/unit/consumer",),
    "consumer/checkpoint_rule.py": ("tests/unit/consumer",),
    "consumer/flush_state.py": ("tests/unit/consumer",),
    "consumer/columnar.py": (
        "tests/unit/consumer/test_columnar.py",
        "tests/unit/consumer/test_rules_columnar.py",
        "tests/unit/consumer/test_bad_input.py",
    ),
    "aggregator/prices.py": _AGGREGATOR,
    "aggregator/rollup.py": _AGGREGATOR,
    "aggregator/ptu.py": _AGGREGATOR,
    "aggregator/focus.py": _AGGREGATOR,
}


def scratch_dir(module: str) -> Path:
    return SCRATCH / module.removesuffix(".py").replace("/", ".")


def sync_copy(target: Path) -> None:
    """The tracked and new (not ignored) files of the working tree; files unchanged since the last sync are left
    alone (mutmut compares modification times)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    for raw in filter(None, listed):
        name = raw.decode()
        source, destination = ROOT / name, target / name
        if not source.is_file():
            continue
        if destination.exists() and destination.stat().st_mtime == source.stat().st_mtime:
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)
    if not (target / "node_modules").exists():
        (target / "node_modules").symlink_to(ROOT / "node_modules")


def focused_config(pyproject: str, module: str) -> str:
    """The repository's [tool.mutmut] with only `module` mutated and only its focused tests selected."""
    selection = ", ".join(f'"{arg}"' for arg in FOCUSED_TESTS[module])
    text = re.sub(r"(?ms)^only_mutate = \[.*?^\]", f'only_mutate = ["{module}"]', pyproject)
    return re.sub(
        r"(?ms)^pytest_add_cli_args_test_selection = \[.*?^\]",
        f"pytest_add_cli_args_test_selection = [{selection}]",
        text,
    )


def run(module: str) -> int:
    target = scratch_dir(module)
    target.mkdir(parents=True, exist_ok=True)
    sync_copy(target)
    config = focused_config((ROOT / "pyproject.toml").read_text(encoding="utf-8"), module)
    if (target / "pyproject.toml").read_text(encoding="utf-8") != config:
        (target / "pyproject.toml").write_text(config, encoding="utf-8")
    name = module.removesuffix(".py").replace("/", ".")
    print(f"== mutmut {module} against {' '.join(FOCUSED_TESTS[module])}", flush=True)
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    with (target / "mutmut.log").open("w") as log:
        done = subprocess.run(
            ["nice", "-n", "10", str(MUTMUT), "run", "--max-children", "1", f"{name}.*"],
            cwd=target,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return done.returncode


def main(argv: list[str]) -> int:
    modules = argv or list(FOCUSED_TESTS)
    unknown = [m for m in modules if m not in FOCUSED_TESTS]
    if unknown:
        print(f"not a mutation-tested module: {', '.join(unknown)}", file=sys.stderr)
        return 2
    failed = [m for m in modules if run(m) != 0]
    for module in failed:
        print(f"mutmut failed on {module}: see {scratch_dir(module) / 'mutmut.log'}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
