"""`python -m bench [--quick] [--only NAME]`: run every benchmark and rewrite bench/README.md's table."""

from __future__ import annotations

import argparse
import importlib
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


def render(figures: list[tuple[str, Figure]], seconds: float) -> str:
    lines = [
        START,
        f"Last run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, Python {platform.python_version()}, "
        f"{platform.machine()}, took {seconds:.0f} s.",
        "",
        "| module | benchmark | figure | unit | baseline (same run) | baseline figure | ratio | target | notes |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for module, fig in figures:
        ratio = f"{fig.ratio:.2f}x" if fig.ratio is not None else ""
        lines.append(
            f"| {module} | {fig.benchmark} | {_fmt(fig.value)} | {fig.unit} | {fig.baseline} | "
            f"{_fmt(fig.baseline_value)} | {ratio} | {fig.target} | {fig.notes} |"
        )
    lines.append(END)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="smaller inputs (smoke run)")
    parser.add_argument("--only", action="append", default=[], help="run only bench_NAME (repeatable)")
    parser.add_argument("--no-write", action="store_true", help="print, do not rewrite bench/README.md")
    args = parser.parse_args(argv)
    names = sorted(p.stem for p in HERE.glob("bench_*.py"))
    if args.only:
        names = [n for n in names if n.removeprefix("bench_") in args.only or n in args.only]
    started = time.perf_counter()
    results: list[tuple[str, Figure]] = []
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        print(f"== {name}", flush=True)
        for fig in module.run(quick=args.quick):
            ratio = f" ({fig.ratio:.2f}x {fig.baseline})" if fig.ratio is not None else ""
            print(f"   {fig.benchmark}: {_fmt(fig.value)} {fig.unit}{ratio}", flush=True)
            results.append((name.removeprefix("bench_"), fig))
    table = render(results, time.perf_counter() - started)
    if args.no_write or args.only:
        print(table)
        return 0
    readme = HERE / "README.md"
    text = readme.read_text(encoding="utf-8")
    text = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: table, text, flags=re.S)
    readme.write_text(text, encoding="utf-8")
    print(f"wrote {readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
