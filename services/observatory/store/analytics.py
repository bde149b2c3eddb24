"""Analytics queries (store/queries/*.sql): discovery, parameter parsing and execution.

Each file is one KPI. A line `-- @include NAME` is replaced by queries/include/NAME.sql when the files
load (the web queries' shared `sessions` CTE); `Query.sql` is the expanded text. Placeholders (see
store/queries/README.md):
  `${db}`                    database, substituted as text by `observatory.store.client.render`
  `{start:DateTime64(3)}`    range start (inclusive, UTC), a ClickHouse server-side parameter
  `{end:DateTime64(3)}`      range end (exclusive, UTC)
  `{granularity:String}`     hour | day | week | month
  `{limit:UInt32}`           top-N size
  `{window_seconds:UInt32}`  funnel window
  `{event_name:String}`      event for `event_counts`
  `{dimension:String}`       device_type | browser | os | country for `web_breakdown`
  `{steps:Array(String)}`    funnel steps, 2..8 distinct event names (default FUNNEL_STEPS)

Long because it is the one parser of every query's parameters (their types, defaults, bounds and
the messages a caller sees) beside discovery and execution.

`parse_params` turns untrusted strings (HTTP query string) into typed values with defaults and raises
`ParameterError` with a message meant for the caller; `Analytics.run` executes a query.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from typing import Any

from clickhouse_connect.driver.client import Client

from observatory.store.client import render

GRANULARITIES = ("hour", "day", "week", "month")
DIMENSIONS = ("device_type", "browser", "os", "country")
_PARAM = re.compile(r"\{([a-z_]+):([A-Za-z0-9(), ]+)\}")
_INCLUDE = re.compile(r"[ \t]*--[ \t]*@include[ \t]+([a-z][a-z0-9_]*)[ \t]*")  # a whole line
_EVENT_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")
_STEP_NAME = re.compile(r"^\$?[A-Za-z0-9_.:-]{1,200}$")
FUNNEL_STEPS = ("user_signup", "product_viewed", "add_to_cart", "checkout_started", "purchase_completed")
MAX_STEPS = 8
MAX_BUCKETS = 20_000
TIME_RANGE = (datetime(1900, 1, 1, tzinfo=UTC), datetime(2299, 12, 31, tzinfo=UTC))
DEFAULT_DAYS = 30
DEFAULT_LIMIT = 10
DEFAULT_WINDOW_S = 7 * 86400
_BUCKET_SECONDS = {"hour": 3600, "day": 86400, "week": 7 * 86400, "month": 28 * 86400}


class UnknownQuery(KeyError):
    pass


class QueryFileError(ValueError):
    """A query file the loader cannot use (an unknown or malformed `-- @include`)."""


class ParameterError(ValueError):
    def __init__(self, parameter: str, message: str, code: str = "invalid_parameter") -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter
        self.message = message
        self.code = code  # invalid_steps: the HTTP API answers 400 instead of 422


def parse_steps(raw: str | None) -> list[str]:
    """`a,b,c` -> the funnel's steps: 2..8 distinct event names (a leading `$` allowed); None or ''
    -> the purchase funnel. Raises ParameterError(code="invalid_steps")."""
    if raw is None or not raw.strip():
        return list(FUNNEL_STEPS)
    steps = [s.strip() for s in raw.split(",")]

    def bad(message: str) -> ParameterError:
        return ParameterError("steps", message, "invalid_steps")

    if not 2 <= len(steps) <= MAX_STEPS:
        raise bad(f"2 to {MAX_STEPS} comma-separated event names, got {len(steps)}")
    for i, step in enumerate(steps, 1):
        if not step:
            raise bad(f"step {i} is empty")
        if not _STEP_NAME.match(step):
            raise bad(f"step {i} ({step[:50]!r}) is not an event name (letters, digits, _ . : -, a leading $)")
    duplicate = next((s for i, s in enumerate(steps) if s in steps[:i]), None)
    if duplicate:
        raise bad(f"{duplicate!r} appears twice: each step is a different event")
    return steps


@dataclass(frozen=True)
class Query:
    name: str
    sql: str
    params: tuple[str, ...]  # server-side parameter names, in order of first use
    description: str

    def info(self) -> dict[str, Any]:
        return {"name": self.name, "parameters": list(self.params), "description": self.description}


def expand_includes(sql: str, file: str, includes: Mapping[str, str]) -> str:
    """`sql` with each `-- @include NAME` line replaced by the SQL of queries/include/NAME.sql (its
    leading comment block left out). An unknown NAME, a malformed marker or an include inside an
    included file raises `QueryFileError` naming the file and line."""
    lines = sql.splitlines()
    out = []
    for number, line in enumerate(lines, 1):
        if "@include" not in line:
            out.append(line)
            continue
        marker = _INCLUDE.fullmatch(line)
        where = f"{file} line {number}"
        if not marker:
            raise QueryFileError(f"{where}: {line.strip()!r} is not an include (write `-- @include NAME` alone)")
        name = marker.group(1)
        if name not in includes:
            known = ", ".join(sorted(includes)) or "none"
            raise QueryFileError(f"{where}: no queries/include/{name}.sql to include (there are: {known})")
        out.append(includes[name])
    return "\n".join(out) + ("\n" if sql.endswith("\n") else "")


def _fragment(name: str, sql: str) -> str:
    """An included file's SQL without its leading comment block; it may not include others."""
    lines = sql.splitlines()
    while lines and (not lines[0].strip() or lines[0].lstrip().startswith("--")):
        lines.pop(0)
    body = "\n".join(lines).rstrip()
    if "@include" in body:
        raise QueryFileError(f"include/{name}.sql: an included file cannot include another")
    return body


@lru_cache(maxsize=1)
def queries() -> dict[str, Query]:
    folder = resources.files("observatory.store").joinpath("queries")
    includes = {
        entry.name[:-4]: _fragment(entry.name[:-4], entry.read_text())
        for entry in folder.joinpath("include").iterdir()
        if entry.name.endswith(".sql")
    }
    found = {}
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        sql = expand_includes(entry.read_text(), entry.name, includes)
        names = list(dict.fromkeys(m.group(1) for m in _PARAM.finditer(sql)))
        header = [line[2:].strip() for line in sql.splitlines() if line.startswith("--")]
        description = " ".join(header).split(" Columns:")[0]
        found[entry.name[:-4]] = Query(entry.name[:-4], sql, tuple(names), description)
    return dict(sorted(found.items()))


def get_query(name: str) -> Query:
    try:
        return queries()[name]
    except KeyError:
        raise UnknownQuery(name) from None


def utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_midnight(t: datetime) -> bool:
    """`t` is a midnight in UTC (naive: taken as UTC): a whole-day bound, which the day rollups serve."""
    u = utc(t)
    return u == u.replace(hour=0, minute=0, second=0, microsecond=0)


def next_midnight(now: datetime) -> datetime:
    return utc(now).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)


def parse_time(parameter: str, raw: str) -> datetime:
    text = raw.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return datetime.fromisoformat(text).replace(tzinfo=UTC)
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        raise ParameterError(
            parameter, f"{raw!r} is not an ISO-8601 date or date-time (e.g. 2026-01-31 or 2026-01-31T12:00:00Z)"
        ) from None
    if value.tzinfo is None:
        raise ParameterError(parameter, f"{raw!r} has no time zone (add Z or +00:00)")
    return utc(value)


def _int(parameter: str, raw: str, low: int, high: int) -> int:
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ParameterError(parameter, f"{raw!r} is not an integer") from None
    if not low <= value <= high:
        raise ParameterError(parameter, f"must be between {low} and {high}, got {value}")
    return value


def parse_params(query: Query, raw: Mapping[str, str], now: datetime | None = None) -> dict[str, Any]:
    """Typed parameters for `query` from strings, with defaults. Unknown parameters are refused so a
    typo (`granulariy=hour`) does not silently return the default."""
    unknown = sorted(set(raw) - set(query.params))
    if unknown:
        raise ParameterError(unknown[0], f"not a parameter of {query.name} (it takes {', '.join(query.params)})")
    out: dict[str, Any] = {}
    end = parse_time("end", raw["end"]) if raw.get("end") else next_midnight(now or datetime.now(UTC))
    start = parse_time("start", raw["start"]) if raw.get("start") else end - timedelta(days=DEFAULT_DAYS)
    if start >= end:
        raise ParameterError("start", f"must be before end ({start.isoformat()} >= {end.isoformat()})")
    for name, value in (("start", start), ("end", end)):
        if not TIME_RANGE[0] <= value <= TIME_RANGE[1]:  # ClickHouse DateTime64's range
            raise ParameterError(name, f"{value.isoformat()} is outside {TIME_RANGE[0].year}..{TIME_RANGE[1].year}")
    if "start" in query.params:
        out["start"] = start
    if "end" in query.params:
        out["end"] = end
    if "granularity" in query.params:
        g = (raw.get("granularity") or "day").strip().lower()
        if g not in GRANULARITIES:
            raise ParameterError("granularity", f"{g!r} is not one of {', '.join(GRANULARITIES)}")
        buckets = (end - start).total_seconds() / _BUCKET_SECONDS[g]
        if buckets > MAX_BUCKETS:
            raise ParameterError(
                "granularity",
                f"{math.ceil(buckets)} {g} buckets requested; at most "
                f"{MAX_BUCKETS}: shorten the range or use a coarser granularity",
            )
        out["granularity"] = g
    if "limit" in query.params:
        out["limit"] = _int("limit", raw.get("limit") or str(DEFAULT_LIMIT), 1, 1000)
    if "window_seconds" in query.params:
        out["window_seconds"] = _int(
            "window_seconds", raw.get("window_seconds") or str(DEFAULT_WINDOW_S), 1, 366 * 86400
        )
    if "event_name" in query.params:
        name = (raw.get("event_name") or "").strip()
        if not _EVENT_NAME.match(name):
            raise ParameterError("event_name", "required: an event name (letters, digits, _ . : -)")
        out["event_name"] = name
    if "dimension" in query.params:
        d = (raw.get("dimension") or "device_type").strip().lower()
        if d not in DIMENSIONS:
            raise ParameterError("dimension", f"{d!r} is not one of {', '.join(DIMENSIONS)}")
        out["dimension"] = d
    if "steps" in query.params:
        out["steps"] = parse_steps(raw.get("steps"))
    return out


def _bind(value: Any) -> Any:
    if isinstance(value, datetime):
        return utc(value).strftime("%Y-%m-%d %H:%M:%S.") + f"{utc(value).microsecond // 1000:03d}"
    return value


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return utc(value).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass
class QueryResult:
    query: str
    params: dict[str, Any]
    columns: list[str]
    rows: list[tuple[Any, ...]]

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row)) for row in self.rows]

    def json(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "parameters": {k: _json_value(v) for k, v in self.params.items()},
            "columns": self.columns,
            "rows": [{c: _json_value(v) for c, v in zip(self.columns, row)} for row in self.rows],
        }


class Analytics:
    """Runs the analytics queries on one client and database."""

    def __init__(self, client: Client, database: str) -> None:
        self.client = client
        self.database = database

    def sql(self, name: str) -> str:
        return render(get_query(name).sql, db=self.database)

    def run(self, name: str, settings: Mapping[str, Any] | None = None, **params: Any) -> QueryResult:
        """settings: ClickHouse settings of this one query (e.g. additional_table_filters)."""
        query = get_query(name)
        if "steps" in query.params and "steps" not in params:
            params = {**params, "steps": list(FUNNEL_STEPS)}
        missing = [p for p in query.params if p not in params]
        if missing:
            raise ParameterError(missing[0], f"required by {name}")
        bound = {k: _bind(params[k]) for k in query.params}
        sql = render(query.sql, db=self.database)
        result = self.client.query(sql, parameters=bound, settings=dict(settings) if settings else None)
        return QueryResult(
            name,
            {k: params[k] for k in query.params},
            list(result.column_names),
            [tuple(r) for r in result.result_rows],
        )

    def run_raw(self, name: str, raw: Mapping[str, str], now: datetime | None = None) -> QueryResult:
        query = get_query(name)
        return self.run(name, **parse_params(query, raw, now))
