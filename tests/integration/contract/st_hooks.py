"""Schemathesis hooks for the contract test (loaded with SCHEMATHESIS_HOOKS).

The event schema cannot say in JSON Schema that `timestamp` must lie within the accepted window
(400 days back, 300 s ahead of the server's clock; it is in the description), so positive examples
of `date-time` are drawn from that window. Everything else is generated from the documents as served.
"""

from datetime import UTC, datetime, timedelta

import schemathesis
from hypothesis import strategies as st

_NOW = datetime.now(UTC)

schemathesis.openapi.format(
    "date-time",
    st.datetimes(
        min_value=(_NOW - timedelta(days=399)).replace(tzinfo=None),
        max_value=(_NOW + timedelta(days=1)).replace(tzinfo=None),
        timezones=st.just(UTC),
    ).map(lambda d: min(d, datetime.now(UTC)).isoformat().replace("+00:00", "Z")),
)
