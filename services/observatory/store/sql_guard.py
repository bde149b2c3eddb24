"""What POST /v1/query lets through: one SELECT over the project's tables, checked by a real parser.

guard(sql, database) -> str   the statement to send, RE-RENDERED from its parse tree (comments, odd
                              spacing, unicode look-alikes and anything the parser dropped never
                              reach ClickHouse); raises Refused(code, message) otherwise

The parser is sqlglot's ClickHouse dialect with its function table emptied, so every call stays
under the name it was written with (no `toStartOfDay` -> `dateTrunc` rewrite) and renders back as
written. Allowed: exactly one statement, SELECT (with WITH, UNION/INTERSECT/EXCEPT, subqueries,
joins, ARRAY JOIN, FINAL, SAMPLE, window functions, lambdas) or `DESCRIBE [TABLE] <table>`; every
function in store/sql_functions.py; every table a plain table of `database` (unqualified names are
qualified with it; names a WITH clause defines stay as they are). Refused, with a machine code:

parse_error          not SQL the parser understands (a clause sqlglot does not know is refused too)
multiple_statements  a `;` followed by anything
not_a_select         INSERT, ALTER, SYSTEM, KILL, SET, SHOW, EXPLAIN, CREATE (UDFs), ATTACH, ...
forbidden_function   a function outside the allowlist (file, url, dictGet, getSetting, sleep, ...)
forbidden_table      system.*, information_schema, another database, a table function
                     (file, url, s3, remote, executable, input, jdbc, numbers, ...), `IN <table>`
forbidden_clause     INTO OUTFILE, SETTINGS, FORMAT (the server sets those itself)

This is the first wall, not the only one: the session stays `readonly=1` with caps (store/sql.py),
and on a server the read API logs in as the read-only `query_api` user (config/clickhouse/users.d).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlglot import exp
from sqlglot.dialects.clickhouse import ClickHouse
from sqlglot.errors import SqlglotError
from sqlglot.parsers.clickhouse import ClickHouseParser
from sqlglot.tokens import TokenType

from observatory.store.sql_functions import allowed

_CALL = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\(")
_FIRST_WORDS = {"SELECT", "WITH", "DESCRIBE", "DESC"}
_NOT_A_SELECT = "only SELECT (WITH, UNION) and DESCRIBE <table> run through the API; this is {kind}"
_CLAUSES = {"settings": "SETTINGS", "format": "FORMAT", "into": "INTO"}


class _Parser(ClickHouseParser):
    FUNCTIONS: ClassVar[dict[str, Any]] = {}  # keep every call as written: exp.Anonymous, rendered back verbatim


class Dialect(ClickHouse):
    parser_class = _Parser  # type: ignore[assignment]
    Parser = _Parser


@dataclass
class Refused(Exception):
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def _parse(sql: str) -> exp.Expression:
    dialect = Dialect()
    try:
        tokens = dialect.tokenize(sql)
    except SqlglotError as exc:
        raise Refused("parse_error", f"cannot read the statement: {_short(exc)}") from None
    cut = next((i for i, t in enumerate(tokens) if t.token_type == TokenType.SEMICOLON), None)
    if cut is not None and any(t.token_type != TokenType.SEMICOLON for t in tokens[cut:]):
        raise Refused("multiple_statements", "one statement per request: remove what follows the `;`")
    words = [t for t in tokens if t.token_type not in (TokenType.SEMICOLON, TokenType.L_PAREN)]
    if not words:
        raise Refused("parse_error", "the statement is empty")
    if words[0].text.upper() not in _FIRST_WORDS:
        raise Refused("not_a_select", _NOT_A_SELECT.format(kind=words[0].text.upper()[:40]))
    if any(t.token_type != TokenType.STRING and t.text.upper() == "OUTFILE" for t in tokens):
        raise Refused("forbidden_clause", "INTO OUTFILE is not allowed: the rows come back in the response")
    try:
        trees = [t for t in dialect.parser().parse(tokens, sql) if t is not None]
    except (SqlglotError, RecursionError) as exc:
        raise Refused("parse_error", f"cannot read the statement: {_short(exc)}") from None
    if len(trees) != 1:
        raise Refused("multiple_statements", "one statement per request")
    tree = trees[0]
    assert isinstance(tree, exp.Expression)
    return tree


def _short(exc: BaseException) -> str:
    text = str(exc).replace("\x1b[4m", "").replace("\x1b[0m", "")
    return text.splitlines()[0][:300] if text else type(exc).__name__


def _function_name(node: exp.Func) -> str | None:
    """The name ClickHouse will see for this call (None: written as syntax, e.g. CASE or [..])."""
    if isinstance(node, exp.Anonymous) and isinstance(node.this, exp.Identifier):  # `file`(...)
        return node.this.name
    if isinstance(node, (exp.Anonymous, exp.AnonymousAggFunc, exp.CombinedAggFunc, exp.ParameterizedAgg)):
        if isinstance(node.this, str):
            return node.this
        raise Refused("forbidden_function", f"a call without a plain name: {node.sql(dialect=Dialect)[:80]}")
    if isinstance(node, exp.Exists):  # EXISTS (SELECT ...): syntax; the subquery is checked on its own
        return None
    # a typed node (CAST, AND, CASE, ...) renders a fixed spelling: a call by that name, or syntax whose
    # parts are nodes of their own, each checked in turn
    m = _CALL.match(node.sql(dialect=Dialect, comments=False))
    return m.group(1) if m else None


def _cte_names(tree: exp.Expression) -> set[str]:
    return {cte.alias_or_name for cte in tree.find_all(exp.CTE)}


def _check_table(table: exp.Table, database: str, ctes: set[str]) -> None:
    if not isinstance(table.this, exp.Identifier):  # FROM file(...), url(...), numbers(...)
        what = table.this.sql(dialect=Dialect, comments=False)[:80] if table.this else "?"
        name = _function_name(table.this) if isinstance(table.this, exp.Func) else what
        raise Refused("forbidden_table", f"table functions are not allowed: {name}()")
    alias = table.args.get("alias")
    if alias is not None and alias.args.get("columns"):  # `dictionary('d')` reads as `dictionary AS _(d)`
        raise Refused("forbidden_table", f"{table.name}(...): table functions are not allowed")
    if "." in table.name:  # `system.query_log` as one quoted name
        raise Refused("forbidden_table", f"{table.name}: a table name with a dot is not a table of `{database}`")
    if table.catalog:
        raise Refused("forbidden_table", f"{table.sql(dialect=Dialect)}: only tables of `{database}` are readable")
    if table.db:
        if table.db != database:
            raise Refused(
                "forbidden_table", f"{table.db}.{table.name}: only tables of the `{database}` database are readable"
            )
        return
    if table.name in ctes:
        return
    table.set("db", exp.to_identifier(database))


def _check_in(node: exp.In) -> None:
    """`x IN name` (and `x IN (name)`) reads a table in ClickHouse: only subqueries and values."""
    rhs = node.args.get("field")
    items = node.expressions
    single = rhs if rhs is not None else (items[0] if len(items) == 1 else None)
    if isinstance(single, (exp.Column, exp.Table, exp.Identifier, exp.Dot)):
        raise Refused(
            "forbidden_table", f"IN {single.sql(dialect=Dialect)}: write IN (SELECT ... FROM <table>) or a list"
        )


def _check(tree: exp.Expression, database: str) -> None:
    if isinstance(tree, exp.Describe):
        if not isinstance(tree.this, exp.Table):
            raise Refused("not_a_select", "DESCRIBE takes a table of the project's database")
        _check_table(tree.this, database, set())
        if any(k for k, v in tree.args.items() if v and k != "this" and k != "kind"):
            raise Refused("forbidden_clause", "DESCRIBE [TABLE] <table> only")
        return
    if not isinstance(tree, (exp.Select, exp.SetOperation, exp.Subquery)):
        kind = tree.sql(dialect=Dialect).split(None, 1)[0].upper() if not isinstance(tree, exp.Command) else tree.name
        raise Refused("not_a_select", _NOT_A_SELECT.format(kind=kind.upper()[:40]))
    ctes = _cte_names(tree)
    for node in list(tree.walk()):
        if isinstance(node, exp.Command):
            raise Refused("not_a_select", f"{node.name} is not allowed inside a query")
        if isinstance(node, exp.Values):
            raise Refused("forbidden_table", "table functions are not allowed: values()")
        if isinstance(node, (exp.Into, exp.Properties)):
            raise Refused("forbidden_clause", "INTO (OUTFILE, tables) is not allowed")
        for key, clause in _CLAUSES.items():
            if node.args.get(key):
                raise Refused("forbidden_clause", f"{clause} is set by the server, not by the query")
        if isinstance(node, exp.Table):
            _check_table(node, database, ctes)
        elif isinstance(node, exp.In):
            _check_in(node)
        elif isinstance(node, exp.Func):
            name = _function_name(node)
            if name is not None and not allowed(name):
                raise Refused("forbidden_function", f"function {name}() is not allowed (docs/query.md lists why)")
            if (
                name is not None
                and name.lower() == "exists"
                and not all(isinstance(a, (exp.Subquery, exp.Select, exp.SetOperation)) for a in node.expressions)
            ):
                raise Refused("forbidden_function", "EXISTS takes a subquery: EXISTS (SELECT ...)")


def guard(sql: str, database: str) -> str:
    """The statement to send for `sql` (with `{db}` replaced by `database`), or Refused."""
    tree = _parse(sql.replace("{db}", database))
    _check(tree, database)
    rendered = tree.sql(dialect=Dialect, comments=False)
    # what is sent must read back as what was checked: render, parse and check again, same text
    again = _parse(rendered)
    _check(again, database)
    if again.sql(dialect=Dialect, comments=False) != rendered:
        raise Refused("parse_error", "the statement does not read back the same way once re-written")
    return rendered
