"""`python -m bench [--quick] [--only NAME]...`: run the benchmarks and rewrite bench/README.md's table.

With `--only`, only the rows of the modules that ran are replaced; the others keep their last measurement."""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import re
import sys
import time
from pathlib import Path

from bench.figures import Figure

HERE = Path(__file__).parent
START, END = "<!-- figures:start -->", "<!-- figures:end -->"


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.3g}"


HEADER = (
    "| module | benchmark | figure | unit | baseline (same run) | baseline figure | ratio | target | notes "
    "| measured |",
    "|---|---|---|---|---|---|---|---|---|---|",
)


def row(module: str, fig: Figure, measured: str) -> str:
    ratio = f"{fig.ratio:.2f}x" if fig.ratio is not None else ""
    return (
        f"| {module} | {fig.benchmark} | {_fmt(fig.value)} | {fig.unit} | {fig.baseline} | "
        f"{_fmt(fig.baseline_value)} | {ratio} | {fig.target} | {fig.notes} | {measured} |"
    )


def existing_rows(text: str) -> list[str]:
    """Rows of the current table (so a partial run replaces only the modules it ran)."""
    block = re.search(re.escape(START) + "(.*?)" + re.escape(END), text, flags=re.S)
    if not block:
        return []
    return [
        line
        for line in block.group(1).splitlines()
        if line.startswith("| ") and line not in HEADER and not line.startswith("| module |")
    ]


def render(rows: list[str]) -> str:
    machine = f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores"
    return "\n".join(
        [START, f"Machine: {machine}. `measured` is when each row's module last ran.", "", *HEADER, *rows, END]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="smaller inputs (smoke run)")
    parser.add_argument("--only", action="append", default=[], help="run only bench_NAME (repeatable)")
    parser.add_argument("--no-write", action="store_true", help="print, do not rewrite bench/README.md")
    args = parser.parse_args(argv)
    names = sorted(p.stem for p in HERE.glob("bench_*.py"))
    if args.only:
        names = [n for n in names if n.removeprefix("bench_") in args.only or n in args.only]
    readme = HERE / "README.md"
    text = readme.read_text(encoding="utf-8")
    fresh: dict[str, list[str]] = {}
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        short = name.removeprefix("bench_")
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        figures = module.run(quick=args.quick)
        measured = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()) + f" ({time.perf_counter() - started:.0f} s)"
        for fig in figures:
            ratio = f" ({fig.ratio:.2f}x {fig.baseline})" if fig.ratio is not None else ""
            print(f"   {fig.benchmark}: {_fmt(fig.value)} {fig.unit}{ratio}", flush=True)
        fresh[short] = [row(short, fig, measured + (" quick" if args.quick else "")) for fig in figures]
    kept = [line for line in existing_rows(text) if line.split("|")[1].strip() not in fresh]
    order = sorted({*fresh, *(line.split("|")[1].strip() for line in kept)})
    rows = [
        r for module in order for r in (fresh.get(module) or [k for k in kept if k.split("|")[1].strip() == module])
    ]
    table = render(rows)
    if args.no_write:
        print(table)
        return 0
    readme.write_text(
        re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: table, text, flags=re.S), encoding="utf-8"
    )
    print(f"wrote {readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
