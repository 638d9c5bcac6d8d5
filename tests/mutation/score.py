"""Per-module mutation scores from mutmut's result files (mutants/<module>.py.meta), printed as a Markdown table.

Usage: python -m tests.mutation.score [module.py ...]   (after `make mutation`; reads .cache/mutation/*/mutants)
Score = killed (incl. timeouts) / checked; survivors listed in tests/mutation/equivalent.md are counted apart.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from tests.mutation.run import scratch_dir

MODULES = (
    "schemas/codec.py",
    "schemas/reassembler.py",
    "consumer/partition.py",
    "consumer/checkpoint_rule.py",
    "consumer/flush_state.py",
    "consumer/columnar.py",
    "aggregator/prices.py",
    "aggregator/rollup.py",
    "aggregator/ptu.py",
    "aggregator/focus.py",
)
KILLED = {1, 3}
TIMEOUT = {24, -24, 36, 152, 255}
"""Out of CPU time (mutmut's per-mutant limit): detected, as mutmut counts it, but shown apart."""
SURVIVED = {0}
EQUIVALENT_FILE = Path(__file__).with_name("equivalent.md")


def equivalents() -> set[str]:
    """Mutant names listed in equivalent.md (every back-quoted mutmut name in it)."""
    if not EQUIVALENT_FILE.exists():
        return set()
    return set(re.findall(r"`([^`\s]+__mutmut_\d+)`", EQUIVALENT_FILE.read_text(encoding="utf-8")))


def module_counts(module: str, equivalent: set[str]) -> dict[str, object] | None:
    meta = scratch_dir(module) / "mutants" / f"{module}.meta"
    if not meta.exists():
        return None
    codes: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
    checked = {name: code for name, code in codes.items() if code is not None and code not in (5, 33, 34)}
    killed = [name for name, code in checked.items() if code in KILLED]
    timeouts = [name for name, code in checked.items() if code in TIMEOUT]
    survived = [name for name, code in checked.items() if code in SURVIVED]
    equiv = [name for name in survived if name in equivalent]
    other = [name for name, code in checked.items() if code not in KILLED | TIMEOUT | SURVIVED]
    no_tests = [name for name, code in codes.items() if code in (5, 33)]
    return {
        "module": module,
        "mutants": len(codes),
        "checked": len(checked),
        "killed": len(killed),
        "timeout": len(timeouts),
        "survived": len(survived) - len(equiv),
        "equivalent": len(equiv),
        "other": len(other),
        "no_tests": len(no_tests),
        "survivors": sorted(set(survived) - set(equiv)),
    }


def main(argv: list[str]) -> int:
    wanted = argv or list(MODULES)
    equivalent = equivalents()
    print("| module | mutants | checked | killed | timeout | survived | equivalent | no tests | survival |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    survivors: list[str] = []
    for module in wanted:
        counts = module_counts(module, equivalent)
        if counts is None:
            print(f"| {module} | not run | | | | | | | |")
            continue
        scored = counts["checked"] - counts["equivalent"]  # type: ignore[operator]
        rate = f"{100 * counts['survived'] / scored:.1f}%" if scored else "n/a"  # type: ignore[operator]
        print(
            f"| {module} | {counts['mutants']} | {counts['checked']} | {counts['killed']} | {counts['timeout']} "
            f"| {counts['survived']} "
            f"| {counts['equivalent']} | {counts['no_tests']} | {rate} |"
        )
        survivors.extend(counts["survivors"])  # type: ignore[arg-type]
    if survivors:
        print("\nsurvivors (`mutmut show NAME` in .cache/mutation/<module>/ prints the change):")
        for name in survivors:
            print(f"  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
