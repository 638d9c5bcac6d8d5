"""CSV meant for people is opened in spreadsheets: a cell that starts like a formula must not run as one.

OWASP's rule for CSV injection: a text value beginning with `=`, `+`, `-`, `@`, a tab or a carriage return is
written with a single quote (`'`) in front, so Excel, LibreOffice and Google Sheets show it as text
(`=HYPERLINK(...)` becomes `'=HYPERLINK(...)`). Only text columns are touched; numbers, dates and every Parquet
output stay exact. A value that legitimately starts with one of these characters (a negative number stored as text,
`-ops`) gains the quote too: that is the documented price of safety, and the Parquet output has the raw value.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

FORMULA_START = r"^[=+\-@\t\r]"
PREFIX = "'"


def neutralise(value: str | None) -> str | None:
    """One value, as the CSV writers write it."""
    if value and value[0] in "=+-@\t\r":
        return PREFIX + value
    return value


def neutralise_table(table: pa.Table) -> pa.Table:
    """Every string column with formula-looking values prefixed by a single quote; other columns as they are."""
    columns = []
    for field in table.schema:
        column = table.column(field.name)
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            risky = pc.fill_null(pc.match_substring_regex(column, FORMULA_START), False)
            if pc.any(risky).as_py():
                column = pc.if_else(risky, pc.binary_join_element_wise(PREFIX, column, ""), column)
        columns.append(column)
    return pa.table(columns, schema=table.schema)
