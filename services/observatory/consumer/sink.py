"""The ClickHouse sink: one INSERT per batch into <db>.events.

An insert that ClickHouse refuses because of the rows themselves raises consumer.faults.DataError;
any other failure is raised as it is (transient: the consumer retries)."""

from __future__ import annotations

from datetime import datetime, timezone

from clickhouse_connect.driver.client import Client

from observatory.consumer.decode import COLUMNS
from observatory.consumer.faults import as_data_error


class ClickHouseSink:
    def __init__(self, client: Client, database: str) -> None:
        self.client = client
        self.table = f"{database}.events"

    def insert(self, rows: list[list]) -> datetime:
        """Insert rows (without inserted_at); returns the inserted_at stamped on them."""
        now = datetime.now(timezone.utc)
        for row in rows:
            row.append(now)
        try:
            self.client.insert(self.table, rows, column_names=COLUMNS)
        except Exception as exc:
            data_error = as_data_error(exc)
            if data_error is not None:
                raise data_error from exc
            raise
        finally:
            for row in rows:  # a retried batch must not carry a stale inserted_at
                row.pop()
        return now
