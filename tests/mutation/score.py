"""Per-module mutation scores from mutmut's result files (mutants/<module>.py.meta), printed as a Markdown table.

Usage: python -m tests.mutation.score [module.py ...]   (run from the repository root after `make mutation`)
Score = killed (incl. timeouts) / checked; survivors listed in tests/mutation/equivalent.md are counted apart.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

MODULES = (
    "schemas/codec.py",
    "schemas/reassembler.py",
    "consumer/partition.py",
    "consumer/flush_state.py",
    "consumer/columnar.py",
    "aggregator/prices.py",
    "aggregator/rollup.py",
    "aggregator/ptu.py",
    "aggregator/focus.py",
)
KILLED = {1, 3, 24, -24, 36, 152, 255}
SURVIVED = {0}
EQUIVALENT_FILE = Path(__file__).with_name("equivalent.md")


def equivalents() -> set[str]:
    """Mutant names listed in equivalent.md (a line starting with `- \\`name\\``)."""
    if not EQUIVALENT_FILE.exists():
        return set()
    return set(re.findall(r"^- `([^`]+)`", EQUIVALENT_FILE.read_text(encoding="utf-8"), flags=re.MULTILINE))


def module_counts(module: str, equivalent: set[str]) -> dict[str, object] | None:
    meta = Path("mutants") / f"{module}.meta"
    if not meta.exists():
        return None
    codes: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
    checked = {name: code for name, code in codes.items() if code is not None and code not in (5, 33, 34)}
    killed = [name for name, code in checked.items() if code in KILLED]
    survived = [name for name, code in checked.items() if code in SURVIVED]
    equiv = [name for name in survived if name in equivalent]
    other = [name for name in checked if name not in killed and name not in survived]
    no_tests = [name for name, code in codes.items() if code in (5, 33)]
    return {
        "module": module,
        "mutants": len(codes),
        "checked": len(checked),
        "killed": len(killed),
        "survived": len(survived) - len(equiv),
        "equivalent": len(equiv),
        "other": len(other),
        "no_tests": len(no_tests),
        "survivors": sorted(set(survived) - set(equiv)),
    }


def main(argv: list[str]) -> int:
    wanted = argv or list(MODULES)
    equivalent = equivalents()
    print("| module | mutants | checked | killed | survived | equivalent | no tests | survival |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    survivors: list[str] = []
    for module in wanted:
        counts = module_counts(module, equivalent)
        if counts is None:
            print(f"| {module} | not run | | | | | | |")
            continue
        scored = counts["checked"] - counts["equivalent"]  # type: ignore[operator]
        rate = f"{100 * counts['survived'] / scored:.1f}%" if scored else "n/a"  # type: ignore[operator]
        print(
            f"| {module} | {counts['mutants']} | {counts['checked']} | {counts['killed']} | {counts['survived']} "
            f"| {counts['equivalent']} | {counts['no_tests']} | {rate} |"
        )
        survivors.extend(counts["survivors"])  # type: ignore[arg-type]
    if survivors:
        print("\nsurvivors (see with `mutmut show NAME` in the repository root):")
        for name in survivors:
            print(f"  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
