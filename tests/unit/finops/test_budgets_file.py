"""The budgets file is validated strictly: every bad cell is one line naming its row and column; exit code 3."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finops.budgets_file import Scope, in_force, parse_budgets
from finops.errors import BudgetsConfigError
from finops.periods import Period

HEADER = "budget_id,scope,period,amount,unit,thresholds,action,effective_from,effective_to,protected\n"


def test_a_good_file_parses_every_column():
    text = (
        "# comment\n" + HEADER + "alpha,team=alpha,month,1000.50,USD,80/50/100,throttle,2026-01-01,2026-07-01,\n"
        "alpha,team=alpha,month,2000,USD,,notify,2026-07-01,,\n"
        'proj,tag:project=apollo,2026-11-01..2026-11-30,5000000,tokens,"50;90",suspend,,,true\n'
        "all,all,quarter,9,EUR,100,notify,,,false\n"
    )
    budgets = parse_budgets(text, "b.csv")
    assert [b.budget_id for b in budgets] == ["alpha", "alpha", "proj", "all"]
    first, second, proj, everything = budgets
    assert first.scope == Scope("team", "alpha") and str(first.scope) == "team=alpha"
    assert first.amount == Decimal("1000.50") and first.thresholds == (50, 80, 100) and first.action == "throttle"
    assert second.thresholds == (50, 80, 100) and second.action == "notify"
    assert proj.scope == Scope("tag", "apollo", "project") and str(proj.scope) == "tag:project=apollo"
    assert proj.period == Period("range", date(2026, 11, 1), date(2026, 11, 30)) and proj.is_tokens
    assert proj.protected and not everything.protected and everything.scope.kind == "all"
    assert [b.amount for b in in_force(budgets, date(2026, 6, 30)) if b.budget_id == "alpha"] == [Decimal("1000.50")]
    assert [b.amount for b in in_force(budgets, date(2026, 7, 1)) if b.budget_id == "alpha"] == [Decimal("2000")]


def test_every_bad_cell_is_one_line_naming_row_and_column():
    text = HEADER + (
        "ok,team=a,month,10,USD,,,,,\n"
        "bad id!,team=a,month,10,USD,,,,,\n"
        "b,squad=a,month,-1,usd,50/x,explode,2026-02-30,,maybe\n"
        "c,deployment=gpt-4o,monthly,1.5,tokens,0/2000,suspend,,,\n"
        'd,team=a"b,month,10,USD,,,2026-05-01,2026-04-01,\n'
        "e,team=a,month,10\n"
    )
    with pytest.raises(BudgetsConfigError) as caught:
        parse_budgets(text, "b.csv")
    lines = str(caught.value).splitlines()
    assert lines[0] == "b.csv: 15 problems, first " + lines[1]
    expected = [
        "row 3, column budget_id:",
        "row 4, column scope:",
        "row 4, column unit:",
        "row 4, column amount:",
        "row 4, column thresholds:",
        "row 4, column action:",
        "row 4, column effective_from:",
        "row 4, column protected:",
        "row 5, column period:",
        "row 5, column amount:",
        "row 5, column thresholds:",
        "row 5, column action:",
        "row 6, column scope:",
        "row 6, column effective_to:",
        "row 7: 4 cells",
    ]
    assert [line.split(" ", 4)[:3] for line in lines[1:]] == [e.split(" ", 4)[:3] for e in expected]
    for line, prefix in zip(lines[1:], expected, strict=True):
        assert line.startswith(prefix), (line, prefix)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty"),
        ("budget_id,scope,period,amount\n", "missing required column 'unit'"),
        (HEADER.rstrip() + ",owner\n", "column 'owner': unknown column"),
        (HEADER + 'a,"team=a,month,1,USD\n', "not valid CSV"),
        (
            HEADER + "a,team=a,month,1,USD,,,2026-01-01,2026-06-01,\na,team=a,month,2,USD,,,2026-05-01,,\n",
            "row 3, column effective_from: budget 'a' overlaps the version on row 2",
        ),
        (HEADER + "a,team=a,month,1,USD,,,,,\na,team=b,month,2,USD,,,2026-05-01,,\n", "overlaps"),
        (HEADER + "a,team=a,month,1e999,USD,,,,,\n", "row 2, column amount: '1e999': at most 24 digits"),
        (HEADER + "a,team=a,month,0.000000000000001,USD,,,,,\n", "row 2, column amount: .* 14 after"),
    ],
)
def test_file_level_problems(text, message):
    with pytest.raises(BudgetsConfigError, match=message):
        parse_budgets(text, "b.csv")


def test_the_command_exits_3_with_the_problems_and_no_traceback(invoke, tmp_path):
    path = tmp_path / "budgets.csv"
    path.write_text(HEADER + "a,team=a,month,abc,USD,,,,,\n")
    result = invoke(["budgets", "check"], {"CHARGEBACK_BUDGETS_CONFIG": str(path)})
    assert result.exit_code == 3
    assert "row 2, column amount: 'abc' is not a number" in result.output
    assert "Traceback" not in result.output
    assert invoke(["budgets", "check"], {"CHARGEBACK_BUDGETS_CONFIG": str(tmp_path / "none.csv")}).exit_code == 3
    assert invoke(["budgets", "check"]).exit_code == 3
    path.write_bytes(b"\xff\xfe budget")
    result = invoke(["budgets", "check"], {"CHARGEBACK_BUDGETS_CONFIG": str(path)})
    assert result.exit_code == 3 and "not UTF-8" in result.output
    path.write_text(HEADER + "a,team=a,month,10,USD,,,,,\n")
    result = invoke(["budgets", "check"], {"CHARGEBACK_BUDGETS_CONFIG": str(path)})
    assert result.exit_code == 0 and "1 budget rows OK (sha256:" in result.output


_cells = st.one_of(
    st.sampled_from(
        [
            "",
            "team=a",
            "month",
            "quarter",
            "100",
            "USD",
            "tokens",
            "50/80/100",
            "suspend",
            "2026-01-01",
            "true",
            "all",
            "tag:project=x",
            "2026-11-01..2026-11-30",
            "-1",
            "1e999",
            "NaN",
            '"',
            "a,b",
        ]
    ),
    st.text(max_size=12),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(_cells, min_size=1, max_size=11), max_size=6), st.booleans())
def test_any_file_parses_or_is_refused_as_configuration_never_a_crash(rows, with_header):
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if with_header:
        writer.writerow(HEADER.strip().split(","))
    writer.writerows(rows)
    try:
        budgets = parse_budgets(buffer.getvalue(), "fuzz.csv")
    except BudgetsConfigError as exc:
        assert str(exc).startswith("fuzz.csv: ")
    else:
        assert with_header or not budgets
        for budget in budgets:
            assert budget.amount > 0 and budget.thresholds == tuple(sorted(set(budget.thresholds)))
