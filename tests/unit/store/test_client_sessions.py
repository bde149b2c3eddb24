"""The store client opens no ClickHouse HTTP session on the server path: a server runs one query per
session at a time (SESSION_IS_LOCKED), and the forecaster's read API sends concurrent queries on one
shared client (the console's pages fetch their panels at once). No ClickHouse server runs here, so this
checks the client clickhouse-connect builds, without sending a query."""

from __future__ import annotations

import clickhouse_connect
from clickhouse_connect.driver.httpclient import HttpClient

from observatory.settings import StoreSettings
from observatory.store import client as store_client


def test_server_client_has_no_session_id(monkeypatch):
    # the constructor's one network round trip (server version and settings) is skipped; what the client
    # would send with every query is then in _ch_settings (clickhouse-connect 1.12)
    monkeypatch.setattr(HttpClient, "_init_common_settings", lambda self, tz_source: None)
    c = store_client.connect(StoreSettings(dsn="http://user:pw@127.0.0.1:1/", database="x"))
    sent = getattr(c, "_ch_settings", None)
    assert sent is not None, f"clickhouse-connect {clickhouse_connect.__version__} keeps its settings elsewhere"
    assert "session_id" not in sent
