"""The aggregator's static SQL, one `.sql` file per query (package data), with the money types filled in once.

`{{COST}}` and `{{PRICE}}` stand for the DECIMAL types of aggregator/money.py; `$day` is a DuckDB parameter. The
queries whose shape depends on configuration (the tag dimensions: `rollup.raw_grouped_sql`, `rollup.grouped_sql`)
are built in Python."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from aggregator.money import COST_SQL, PRICE_SQL


@cache
def load(name: str) -> str:
    text = files(__package__).joinpath(f"{name}.sql").read_text(encoding="utf-8")
    return text.replace("{{COST}}", COST_SQL).replace("{{PRICE}}", PRICE_SQL)
