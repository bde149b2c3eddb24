"""Fixtures shared by every test folder.

Real servers only: a private RabbitMQ node (Debian's package) started once per session on free
loopback ports, and ONE embedded ClickHouse (chDB) folder for the whole test process (chDB lets a
process open a single folder in its life). Tests isolate themselves by names: each gets its own
exchange/queue names and its own ClickHouse database.

When a subprocess (a consumer under test) must own the chDB folder, use `chdb.released()`: it
closes every client this process opened and reopens them afterwards.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path

import pytest

os.environ.setdefault("OBS_ENV", "test")

from observatory.localstack.rabbitmq import RabbitNode  # noqa: E402
from observatory.settings import BrokerSettings, StoreSettings  # noqa: E402


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def rabbit(tmp_path_factory) -> RabbitNode:
    """A RabbitMQ node for the whole session (5-8 s to start)."""
    node = RabbitNode(tmp_path_factory.mktemp("rabbitmq"), name="test")
    node.start(timeout_s=90)
    yield node
    node.destroy()


@pytest.fixture
def broker_settings(rabbit) -> BrokerSettings:
    """Topology names unique to the test, on the session's node."""
    return topology(rabbit.url, unique("events"))


def topology(url: str, name: str) -> BrokerSettings:
    """The tests' topology names from one name: exchange and queue `name`, `name.dlx`, `name.dead`."""
    return BrokerSettings(
        url=url, exchange=name, queue=name, dead_letter_exchange=f"{name}.dlx", dead_letter_queue=f"{name}.dead"
    )


class Chdb:
    """The test process's one chDB folder and the clients opened on it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.dsn = f"chdb://{path}"
        self._clients: list = []

    def client(self):
        import clickhouse_connect

        c = clickhouse_connect.get_client(dsn=self.dsn)
        self._clients.append(c)
        return c

    def track(self, client) -> None:
        """Register a client opened elsewhere (e.g. by an in-process consumer) so release() closes it."""
        self._clients.append(client)

    def close_all(self) -> None:
        for c in self._clients:
            with contextlib.suppress(Exception):
                c.close()
        self._clients.clear()

    @contextlib.contextmanager
    def released(self):
        """Close every client of this process so another process can take the folder."""
        self.close_all()
        yield self.dsn


@pytest.fixture(scope="session")
def chdb(tmp_path_factory) -> Chdb:
    handle = Chdb(tmp_path_factory.mktemp("chdb"))
    yield handle
    handle.close_all()


@pytest.fixture
def store_settings(chdb) -> StoreSettings:
    """A fresh ClickHouse database name on the session's chDB folder."""
    return StoreSettings(dsn=chdb.dsn, database=unique("t"))


@pytest.fixture
def ch(chdb):
    """A client on the session folder, closed after the test."""
    client = chdb.client()
    yield client
    with contextlib.suppress(Exception):
        client.close()
