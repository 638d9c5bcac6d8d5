"""Benchmarks. Each `bench/bench_<stage>.py` exposes `run(quick: bool) -> list[Figure]`; `python -m bench`
runs them all and rewrites the figures table in bench/README.md."""
