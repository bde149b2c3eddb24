"""Versioned SQL migrations (store/migrations/NNNN_name.sql), applied once each, in order.

Applied versions are recorded with a checksum in `<db>.schema_migrations`; an applied file that was
edited afterwards is an error (add a new migration instead). The events TTL follows the settings:
when OBS_CLICKHOUSE_TTL_DAYS changes, the table's TTL is altered to match.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from importlib import resources

from clickhouse_connect.driver.client import Client

from observatory.settings import StoreSettings
from observatory.store.client import StoreError, render

log = logging.getLogger("observatory.store")
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    def statements(self, **values: object) -> list[str]:
        body = "\n".join(line for line in self.sql.splitlines() if not line.strip().startswith("--"))
        return [s.strip() for s in render(body, **values).split(";") if s.strip()]


def available() -> list[Migration]:
    found = []
    for entry in resources.files("observatory.store").joinpath("migrations").iterdir():
        m = _NAME.match(entry.name)
        if m:
            found.append(Migration(int(m.group(1)), m.group(2), entry.read_text()))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise StoreError(f"duplicate migration versions: {versions}")
    return found


def migrate(client: Client, settings: StoreSettings) -> list[Migration]:
    """Apply pending migrations; returns the ones applied now. Safe to run repeatedly and concurrently
    with a running consumer (statements are IF NOT EXISTS)."""
    db = settings.database
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", db):
        raise StoreError(f"database name {db!r} is not a plain identifier")
    client.command(f"CREATE DATABASE IF NOT EXISTS {db}")
    client.command(
        f"CREATE TABLE IF NOT EXISTS {db}.schema_migrations (version UInt32, name String, checksum String, "
        "applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) ENGINE = ReplacingMergeTree ORDER BY version"
    )
    applied = {
        row[0]: row[1]
        for row in client.query(f"SELECT version, checksum FROM {db}.schema_migrations FINAL").result_rows
    }
    done = []
    for mig in available():
        if mig.version in applied:
            if applied[mig.version] != mig.checksum:
                raise StoreError(
                    f"migration {mig.version:04d}_{mig.name} was changed after it was applied; "
                    "add a new migration instead"
                )
            continue
        for stmt in mig.statements(db=db, ttl_days=settings.ttl_days):
            client.command(stmt)
        client.insert(
            f"{db}.schema_migrations",
            [[mig.version, mig.name, mig.checksum]],
            column_names=["version", "name", "checksum"],
        )
        log.info("migration applied", extra={"version": mig.version, "migration": mig.name})
        done.append(mig)
    _sync_ttl(client, settings)
    return done


def _sync_ttl(client: Client, settings: StoreSettings) -> None:
    db = settings.database
    rows = client.query(
        "SELECT engine_full FROM system.tables WHERE database = {db:String} AND name = 'events'", parameters={"db": db}
    ).result_rows
    if rows and f"toIntervalDay({settings.ttl_days})" not in rows[0][0]:
        client.command(
            f"ALTER TABLE {db}.events MODIFY TTL toDateTime(timestamp) + INTERVAL {settings.ttl_days} DAY DELETE"
        )
        log.info("events TTL changed", extra={"ttl_days": settings.ttl_days})
