"""A consumer whose batch commits late: its events are inserted with an explicit `inserted_at` older
than stamps already visible, as happens when two consumers run (the sink stamps a batch from its clock
before the insert runs, so a batch stamped t1 can become visible after one stamped t2 > t1) or when
their hosts' clocks are skewed. The rows are what the sink would write (decode.to_row), only the
stamp is chosen."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from observatory.consumer.decode import to_row

TIMES = ("timestamp", "received_at")


def insert_late(client, database: str, events: list[dict], inserted_at: datetime) -> None:
    rows = [json.loads(to_row(e).json) for e in events]
    columns = [*rows[0], "inserted_at"]
    data = []
    for row in rows:
        assert list(row) == columns[:-1]
        values = []
        for name, value in row.items():
            if name in TIMES:
                value = datetime.fromisoformat(value)
            elif name == "event_id":
                value = uuid.UUID(value)
            elif name == "properties":
                value = json.dumps(value)
            values.append(value)
        data.append([*values, inserted_at])
    client.insert(f"{database}.events", data, column_names=columns)
