"""The analytics SQL (observatory/store/queries/*.sql) turned into the plain SQL a dashboard tool
runs: Metabase native questions (a fixed trailing window) and Grafana ClickHouse panels (the
dashboard's time range macros). One source of SQL for the forecaster's API, Metabase and Grafana.

Placeholders (store/queries/README.md): `${db}`, `{start:DateTime64(3)}`, `{end:DateTime64(3)}`,
`{granularity:String}`, `{limit:UInt32}`, `{window_seconds:UInt32}`, `{event_name:String}`,
`{dimension:String}`, `{steps:Array(String)}` (default: the purchase funnel).
"""

from __future__ import annotations

import re

from observatory.store.analytics import DIMENSIONS, FUNNEL_STEPS, ParameterError, get_query, parse_steps
from observatory.store.client import render

_PARAM = re.compile(r"\{([a-z_]+):([A-Za-z0-9(), ]+)\}")
GRANULARITIES = ("hour", "day", "week", "month")


class SqlTemplateError(ValueError):
    pass


def _literal(name: str, value) -> str:
    if name in ("granularity", "event_name", "dimension"):
        if name == "granularity" and value not in GRANULARITIES:
            raise SqlTemplateError(f"granularity {value!r} is not one of {GRANULARITIES}")
        if name == "dimension" and value not in DIMENSIONS:
            raise SqlTemplateError(f"dimension {value!r} is not one of {DIMENSIONS}")
        if not re.fullmatch(r"[A-Za-z0-9_.:-]+", str(value)):
            raise SqlTemplateError(f"{name} {value!r} is not a plain name")
        return f"'{value}'"
    if name in ("limit", "window_seconds"):
        return str(int(value))
    if name == "steps":
        try:
            steps = parse_steps(value if isinstance(value, str) else ",".join(value))
        except ParameterError as exc:
            raise SqlTemplateError(str(exc)) from None
        return "[" + ", ".join(f"'{s}'" for s in steps) + "]"
    raise SqlTemplateError(f"no literal for parameter {name}")


def _body(sql: str) -> str:
    """Without the leading comment block (the file's documentation)."""
    lines = sql.strip().splitlines()
    while lines and lines[0].lstrip().startswith("--"):
        lines.pop(0)
    return "\n".join(lines).strip()


def _fill(sql: str, values: dict[str, str]) -> str:
    def sub(m: re.Match) -> str:
        if m.group(1) not in values:
            raise SqlTemplateError(f"no value for {{{m.group(1)}:{m.group(2)}}}")
        return values[m.group(1)]

    return _PARAM.sub(sub, sql)


def for_metabase(name: str, database: str = "observatory", days: int = 30, **params) -> str:
    """A native question over the trailing `days` (start = now - days, end = now)."""
    values = {"start": f"toDateTime64(now() - INTERVAL {int(days)} DAY, 3)", "end": "now64(3)"}
    values.update({k: _literal(k, v) for k, v in {"steps": FUNNEL_STEPS, **params}.items()})
    header = f"-- observatory/store/queries/{name}.sql over the last {int(days)} days\n"
    return header + _fill(_body(render(get_query(name).sql, db=database)), values)


def for_grafana(name: str, database: str = "observatory", **params) -> str:
    """A ClickHouse panel query over the dashboard's time range ($__fromTime .. $__toTime)."""
    values = {"start": "$__fromTime", "end": "$__toTime"}
    values.update({k: _literal(k, v) for k, v in {"steps": FUNNEL_STEPS, **params}.items()})
    return _fill(_body(render(get_query(name).sql, db=database)), values)
