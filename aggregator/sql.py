"""`chargeback sql`: one read-only SELECT over the lake's views, printed or written as table, CSV, JSON or Parquet."""

from __future__ import annotations

import io
import json
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table
from rich.text import Text

from aggregator.csvsafe import neutralise_table
from aggregator.errors import QueryError

MAX_TABLE_ROWS = 1000


class OutputFormat(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"
    PARQUET = "parquet"


def run_query(con: duckdb.DuckDBPyConnection, query: str) -> pa.Table:
    """Run exactly one SELECT (or WITH ... SELECT); anything else is refused before it runs."""
    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as exc:
        raise QueryError(f"the query does not parse: {exc}") from None
    if len(statements) != 1:
        raise QueryError(f"give exactly one statement, got {len(statements)}")
    if statements[0].type != duckdb.StatementType.SELECT:
        raise QueryError(f"only SELECT queries are allowed (this is {statements[0].type.name}): the lake is read-only")
    try:
        return con.sql(query).to_arrow_table()
    except duckdb.Error as exc:
        raise QueryError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None


def _json_value(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def flat_for_csv(result: pa.Table) -> pa.Table:
    """CSV has no nested types: maps, lists and structs become JSON text, binary becomes hex."""
    columns = []
    for field in result.schema:
        column = result.column(field.name)
        if pa.types.is_nested(field.type):
            values = [None if v is None else json.dumps(_plain(v), default=_json_value) for v in column.to_pylist()]
            column = pa.array(values, pa.string())
        elif pa.types.is_binary(field.type) or pa.types.is_large_binary(field.type):
            column = pa.array([None if v is None else v.hex() for v in column.to_pylist()], pa.string())
        columns.append(column)
    return pa.table(columns, names=result.column_names)


def _plain(value: object) -> object:
    """Arrow's map values come back as lists of (key, value) pairs: show them as objects."""
    if isinstance(value, list) and all(isinstance(v, tuple) and len(v) == 2 for v in value):
        return {k: _plain(v) for k, v in value}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def render(result: pa.Table, fmt: OutputFormat, out: Path | None) -> str | None:
    """Write to `out` (returns None) or return the text to print."""
    if fmt is OutputFormat.PARQUET:
        if out is None:
            raise QueryError("--format parquet needs --out FILE")
        pq.write_table(result, out, compression="zstd")
        return None
    if fmt is OutputFormat.CSV:
        buffer = io.BytesIO()
        pacsv.write_csv(neutralise_table(flat_for_csv(result)), buffer)
        text = buffer.getvalue().decode("utf-8")
    elif fmt is OutputFormat.JSON:
        rows = [_plain(row) for row in result.to_pylist()]
        text = json.dumps(rows, default=_json_value, ensure_ascii=False, indent=1) + "\n"
    else:
        text = table_text(result)
    if out is not None:
        out.write_text(text, encoding="utf-8")
        return None
    return text


def table_text(result: pa.Table) -> str:
    """A text table of the result. Values (and column names) are shown literally: they come from client headers, so
    Rich markup (`[red]`), emoji codes (`:x:`) or a stray `[/x]` in them are data, never formatting."""
    table = Table(show_lines=False)
    for name in result.column_names:
        table.add_column(Text(name), overflow="fold")
    for row in result.slice(0, MAX_TABLE_ROWS).to_pylist():
        table.add_row(*[Text("" if v is None else str(v)) for v in row.values()])
    console = Console(file=io.StringIO(), width=200, record=True, markup=False, emoji=False, highlight=False)
    console.print(table)
    if result.num_rows > MAX_TABLE_ROWS:
        console.print(f"({result.num_rows - MAX_TABLE_ROWS} more rows: use --format csv/json/parquet --out FILE)")
    return console.export_text()
