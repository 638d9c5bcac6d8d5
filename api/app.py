"""The FastAPI application: read-only endpoints over the lake, the dashboard at `/`, Prometheus metrics.

Every data response carries how complete its data is (`completeness`: the last day rolled up and the first day the
next runs may still change) and an ETag derived from the roll-up files it read, so `If-None-Match` gives a 304
until `chargeback aggregate` writes again.
"""

import csv
import hashlib
import io
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from aggregator.focus import focus_rows, write_focus
from api import queries, records
from api.auth import Authenticator, Forbidden, Principal, Unauthenticated
from api.lake import LakeReader, Snapshot
from api.queries import DIMENSIONS, Where, plain, team_scope
from api.settings import ApiSettings
from schemas.lake import LakeLocation

API = "/api/v1"
CSV_TYPES = ("text/csv",)
PARQUET_TYPE = "application/vnd.apache.parquet"
PAGE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:"
MAX_RANGE_DAYS = 366

Month = Annotated[str, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM (UTC)")]


def _first_of(month: str) -> date:
    return date.fromisoformat(f"{month}-01")


def _range(start: date, end: date) -> tuple[date, date]:
    if end < start:
        raise HTTPException(422, "`to` is before `from`")
    if (end - start).days >= MAX_RANGE_DAYS:
        raise HTTPException(422, f"a range is at most {MAX_RANGE_DAYS} days")
    return start, end


def create_app(
    settings: ApiSettings,
    lake: LakeReader,
    location: LakeLocation,
    authenticator: Authenticator,
    *,
    team_tag: str = "team",
) -> FastAPI:
    app = FastAPI(
        title="apim-chargeback read API",
        version="1",
        description="Read-only chargeback data: usage, costs, PTU allocation and prices from the lake.",
        openapi_url=f"{API}/openapi.json",
        docs_url=f"{API}/docs",
        redoc_url=None,
    )
    registry = CollectorRegistry()
    requests_total = Counter(
        "chargeback_api_requests", "HTTP requests by route and status", ["route", "status"], registry=registry
    )
    latency = Histogram("chargeback_api_request_seconds", "Request latency by route", ["route"], registry=registry)

    @app.middleware("http")
    async def _measure(request: Request, call_next: Callable[[Request], Any]) -> Response:
        started = time.perf_counter()
        response: Response = await call_next(request)
        route = request.scope.get("route")
        name = getattr(route, "path", "unmatched")
        requests_total.labels(name, str(response.status_code)).inc()
        latency.labels(name).observe(time.perf_counter() - started)
        response.headers.setdefault("Cache-Control", "private, no-cache")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    def principal(
        authorization: Annotated[str | None, Header()] = None,
        x_api_key: Annotated[str | None, Header()] = None,
    ) -> Principal:
        try:
            return authenticator.principal(authorization, x_api_key)
        except Unauthenticated as exc:
            raise HTTPException(401, str(exc), headers={"WWW-Authenticate": 'Bearer realm="chargeback"'}) from None
        except Forbidden as exc:
            raise HTTPException(403, str(exc)) from None

    Caller = Annotated[Principal, Depends(principal)]

    def answer(
        request: Request,
        snapshot: Snapshot,
        who: Principal,
        body: dict[str, object],
        *,
        csv_rows: list[dict] | None,
        live: bool = False,
    ) -> Response:
        """JSON (or CSV when asked by `Accept`), with the ETag of what was read and the scope it was read for."""
        wants_csv = csv_rows is not None and any(t in request.headers.get("accept", "") for t in CSV_TYPES)
        scope = "*" if who.all_teams else ",".join(sorted(who.teams))
        tag = hashlib.sha256(
            f"{snapshot.etag}|{request.url.path}|{request.url.query}|{scope}|{wants_csv}".encode()
        ).hexdigest()[:32]
        etag = f'"{tag}"'
        headers = {
            "ETag": etag,
            "X-Chargeback-Last-Day-Rolled-Up": str(snapshot.completeness.as_json()["last_day_rolled_up"] or ""),
        }
        if live:
            del headers["ETag"]  # records come from the stream tables, which grow between roll-ups
        elif request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        if wants_csv:
            return Response(_csv(csv_rows or []), media_type="text/csv; charset=utf-8", headers=headers)
        body = {**body, "completeness": snapshot.completeness.as_json()}
        return JSONResponse(body, headers=headers)

    def raw_rows(cursor: duckdb.DuckDBPyConnection, sql: str, params: dict[str, object]) -> list[dict[str, object]]:
        return cursor.sql(sql, params=params).to_arrow_table().to_pylist()

    def rows_of(cursor: duckdb.DuckDBPyConnection, sql: str, params: dict[str, object]) -> list[dict[str, object]]:
        return [{name: plain(value) for name, value in row.items()} for row in raw_rows(cursor, sql, params)]

    @app.get("/", include_in_schema=False)
    def dashboard() -> HTMLResponse:
        page = resources.files("api").joinpath("static/index.html").read_text(encoding="utf-8")
        return HTMLResponse(page, headers={"Content-Security-Policy": PAGE_CSP})

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        types = {"dashboard.js": "text/javascript", "dashboard.css": "text/css"}
        if name not in types:
            raise HTTPException(404, "no such file")
        text = resources.files("api").joinpath(f"static/{name}").read_text(encoding="utf-8")
        return Response(text, media_type=f"{types[name]}; charset=utf-8")

    @app.get(f"{API}/health", tags=["operations"], summary="Liveness, and whether the lake answers")
    def health() -> JSONResponse:
        lake_ok = lake.answers()
        body: dict[str, object] = {"status": "ok" if lake_ok else "degraded", "lake": "ok" if lake_ok else "error"}
        if lake_ok:
            body["completeness"] = lake.snapshot().completeness.as_json()
        return JSONResponse(body, status_code=200 if lake_ok else 503)

    @app.get(f"{API}/metrics", tags=["operations"], summary="Prometheus metrics of this API process")
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get(f"{API}/usage/summary", tags=["usage"], summary="Tokens and cost from the daily roll-up, grouped")
    def usage_summary(
        request: Request,
        who: Caller,
        start: Annotated[date, Query(alias="from", description="First day (UTC), inclusive")],
        end: Annotated[date, Query(alias="to", description="Last day (UTC), inclusive")],
        group_by: Annotated[str, Query(description=f"Comma-separated: {', '.join(DIMENSIONS)}")] = "team",
        team: str | None = None,
        subscription_id: str | None = None,
        product_id: str | None = None,
        deployment: str | None = None,
        model: str | None = None,
        deployment_type: str | None = None,
        region: str | None = None,
    ) -> Response:
        start, end = _range(start, end)
        keys = [k.strip() for k in group_by.split(",") if k.strip()]
        unknown = [k for k in keys if k not in DIMENSIONS]
        if unknown or len(set(keys)) != len(keys):
            raise HTTPException(422, f"group_by takes distinct values among {', '.join(DIMENSIONS)}")
        if team is not None and not who.may_read(team):
            raise HTTPException(403, "this token may not read that team")
        where = Where()
        where.add("date BETWEEN $start AND $end", start=start, end=end)
        filters = {
            "team": team,
            "subscription_id": subscription_id,
            "product_id": product_id,
            "deployment": deployment,
            "model": model,
            "deployment_type": deployment_type,
            "region": region,
        }
        for column, value in filters.items():
            if value is not None:
                where.add(f"{column} = $f_{column}", **{f"f_{column}": value})
        team_scope(where, who)
        with lake.cursor() as (cursor, snapshot):
            rows = rows_of(cursor, queries.summary_sql(keys, where), where.params)
        body = {"from": start.isoformat(), "to": end.isoformat(), "group_by": keys, "rows": rows}
        return answer(request, snapshot, who, body, csv_rows=rows)

    @app.get(f"{API}/chargeback/report", tags=["chargeback"], summary="A month's chargeback per team (JSON or CSV)")
    def chargeback_report(request: Request, who: Caller, month: Month) -> Response:
        where = Where()
        where.add("month = $month", month=month)
        team_scope(where, who)
        with lake.cursor() as (cursor, snapshot):
            rows = rows_of(cursor, queries.report_sql(where), where.params)
        totals: dict[str, dict[str, object]] = {}
        for row in rows:
            currency = str(row["currency"]) if row["currency"] else None
            if currency is None:
                continue
            entry = totals.setdefault(currency, {"currency": currency, "total_cost": "0"})
            if row["total_cost"] is not None:
                entry["total_cost"] = queries.money(Decimal(str(entry["total_cost"])) + Decimal(str(row["total_cost"])))
        body = {"month": month, "teams": rows, "totals": sorted(totals.values(), key=lambda t: str(t["currency"]))}
        return answer(request, snapshot, who, body, csv_rows=rows)

    @app.get(
        f"{API}/chargeback/focus",
        tags=["chargeback"],
        summary="The month as FOCUS 1.2 rows: CSV (default) or Parquet (`Accept: application/vnd.apache.parquet`)",
    )
    def chargeback_focus(request: Request, who: Caller, month: Month) -> Response:
        snapshot = lake.snapshot()
        first = _first_of(month)
        table = focus_rows(location, first, billing_account_id="chargeback", billing_account_name="apim-chargeback")
        if not who.all_teams:
            teams = pa.array(sorted(who.teams), pa.string())
            table = table.filter(pc.is_in(table.column("x_Team"), value_set=teams))
        parquet = PARQUET_TYPE in request.headers.get("accept", "")
        with tempfile.TemporaryDirectory(prefix="chargeback-focus-") as directory:
            out = Path(directory) / ("focus.parquet" if parquet else "focus.csv")
            write_focus(table, out)
            content = out.read_bytes()
        media = PARQUET_TYPE if parquet else "text/csv; charset=utf-8"
        name = f"focus-{month}.{'parquet' if parquet else 'csv'}"
        return Response(
            content,
            media_type=media,
            headers={
                "Content-Disposition": f'attachment; filename="{name}"',
                "X-Chargeback-Last-Day-Rolled-Up": str(snapshot.completeness.as_json()["last_day_rolled_up"] or ""),
            },
        )

    @app.get(f"{API}/usage/records", tags=["usage"], summary="Usage records, oldest first, with keyset pagination")
    def usage_records(
        request: Request,
        who: Caller,
        start: Annotated[date, Query(alias="from")],
        end: Annotated[date, Query(alias="to")],
        limit: Annotated[int, Query(ge=1, le=settings.max_page)] = 100,
        after: Annotated[str | None, Query(description="`next` of the previous page")] = None,
        deployment: str | None = None,
        model: str | None = None,
        subscription_id: str | None = None,
        status_code: int | None = None,
    ) -> Response:
        start, end = _range(start, end)
        where = Where()
        for column, value in (
            ("deployment", deployment),
            ("model", model),
            ("subscription_id", subscription_id),
            ("status_code", status_code),
        ):
            if value is not None:
                where.add(f"{column} = $f_{column}", **{f"f_{column}": value})
        position = None
        if after is not None:
            try:
                position = queries.decode_cursor(after)
            except ValueError:
                raise HTTPException(422, "`after` is not a cursor this API issued") from None
        team_scope(where, who, column="element_at(tags, $team_tag)[1]")
        if not who.all_teams:
            where.params["team_tag"] = team_tag
        with lake.cursor() as (cursor, snapshot):
            raw = records.page(cursor, location, start=start, end=end, where=where, after=position, limit=limit)
        more = len(raw) > limit
        raw = raw[:limit]
        found = [{name: plain(value) for name, value in row.items()} for row in raw]
        next_cursor = None
        if more and raw:
            next_cursor = queries.encode_cursor(raw[-1]["event_time"], str(raw[-1]["record_id"]))
        return answer(request, snapshot, who, {"records": found, "next": next_cursor}, csv_rows=None, live=True)

    @app.get(f"{API}/usage/records/{{record_id}}", tags=["usage"], summary="One usage record by its id")
    def usage_record(request: Request, who: Caller, record_id: str) -> Response:
        where = Where()
        where.add("record_id = $record_id", record_id=record_id)
        team_scope(where, who, column="element_at(tags, $team_tag)[1]")
        if not who.all_teams:
            where.params["team_tag"] = team_tag
        with lake.cursor() as (cursor, snapshot):
            rows = rows_of(cursor, queries.records_sql(where, 1), where.params)
        if not rows:
            raise HTTPException(404, "no such record (or not one this token may read)")
        return answer(request, snapshot, who, {"record": rows[0]}, csv_rows=None)

    def by_day(
        table: str, order: str, scope: Callable[[Where, Principal], None] = team_scope
    ) -> Callable[..., Response]:
        """An endpoint answering a derived table's rows of a range of days, limited by `scope` to the caller's."""

        def endpoint(
            request: Request,
            who: Caller,
            start: Annotated[date, Query(alias="from")],
            end: Annotated[date, Query(alias="to")],
        ) -> Response:
            start, end = _range(start, end)
            where = Where()
            where.add("date BETWEEN $start AND $end", start=start, end=end)
            scope(where, who)
            with lake.cursor() as (cursor, snapshot):
                rows = rows_of(cursor, f"SELECT * FROM {table} WHERE {where.sql()} ORDER BY {order}", where.params)
            return answer(request, snapshot, who, {"rows": rows}, csv_rows=rows)

        return endpoint

    app.get(f"{API}/unpriced", tags=["chargeback"], summary="Usage that could not be priced, and why")(
        by_day("unpriced", "date, deployment, model, reason")
    )
    app.get(f"{API}/ptu-allocation", tags=["chargeback"], summary="Provisioned throughput cost allocated per key")(
        by_day("ptu_allocation", "date, deployment, team")
    )

    @app.get(f"{API}/prices", tags=["prices"], summary="The price rows in force on a day")
    def prices(request: Request, who: Caller, at: date | None = None) -> Response:
        day = at or datetime.now(UTC).date()
        sql = (
            "SELECT * FROM prices WHERE (effective_from IS NULL OR effective_from <= $at) "
            "AND (effective_to IS NULL OR effective_to > $at) ORDER BY ALL"
        )
        with lake.cursor() as (cursor, snapshot):
            rows = rows_of(cursor, sql, {"at": day})
        return answer(request, snapshot, who, {"at": day.isoformat(), "rows": rows}, csv_rows=rows)

    @app.get(f"{API}/budgets/status", tags=["budgets"], summary="Budget status on a day (default: the latest)")
    def budget_status(request: Request, who: Caller, as_of: date | None = None) -> Response:
        where = Where()
        if as_of is None:
            where.add("as_of = (SELECT max(as_of) FROM budget_status)")
        else:
            where.add("as_of = $as_of", as_of=as_of)
        if not who.all_teams:
            where.add("scope_type = 'team'")
            team_scope(where, who, column="scope_value")
        with lake.cursor() as (cursor, snapshot):
            rows = rows_of(cursor, f"SELECT * FROM budget_status WHERE {where.sql()} ORDER BY budget_id", where.params)
        return answer(request, snapshot, who, {"rows": rows}, csv_rows=rows)

    app.get(f"{API}/alerts", tags=["budgets"], summary="Alerts raised on the days of a range")(
        by_day("alerts", "date, rule, scope", scope=_alert_scope)
    )

    @app.get(f"{API}/months", tags=["chargeback"], summary="Months with roll-ups, newest first, and the caller's teams")
    def months(request: Request, who: Caller) -> Response:
        where = Where()
        team_scope(where, who)
        with lake.cursor() as (cursor, snapshot):
            found = raw_rows(
                cursor,
                f"SELECT DISTINCT month FROM chargeback_monthly WHERE {where.sql()} ORDER BY month DESC",
                where.params,
            )
            teams = raw_rows(
                cursor,
                f"SELECT DISTINCT team FROM chargeback_monthly WHERE team IS NOT NULL AND {where.sql()} ORDER BY team",
                where.params,
            )
        body = {"months": [m["month"] for m in found], "teams": [t["team"] for t in teams], "all_teams": who.all_teams}
        return answer(request, snapshot, who, body, csv_rows=None)

    return app


def _alert_scope(where: Where, who: Principal) -> None:
    """A team-scoped caller sees the alerts raised on its teams (`scope` = `team=<name>`)."""
    if not who.all_teams:
        where.add("scope IN (SELECT 'team=' || t FROM unnest($scope_teams) AS u(t))", scope_teams=sorted(who.teams))


def _csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return buffer.getvalue()
