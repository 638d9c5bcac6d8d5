"""`chargeback sql` shows values literally in its table output: values come from client headers, so Rich markup in
them is data. `[/x]` used to crash the command and `[red]x[/red]` used to print as `x`."""

from __future__ import annotations

from typer.testing import CliRunner

from chargeback.cli import app

VALUES = ["[/x]", "[red]x[/red]", ":thumbs_up:", "[link=https://evil.example]click[/link]", "[bold]"]


def test_table_output_is_literal(tmp_path):
    (tmp_path / "lake").mkdir()
    columns = ", ".join(f"'{value}' AS c{i}" for i, value in enumerate(VALUES))
    query = f'SELECT {columns}, 1 AS "[b]name[/b]"'
    result = CliRunner().invoke(app, ["sql", query, "--lake", str(tmp_path / "lake")], env={"CHARGEBACK_LAKE_URL": ""})
    assert result.exit_code == 0, result.stderr
    for value in [*VALUES, "[b]name[/b]"]:
        assert value in result.stdout, (value, result.stdout)
    assert "\N{THUMBS UP SIGN}" not in result.stdout
