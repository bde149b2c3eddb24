"""Shared plumbing of the setup jobs: bounded waits and HTTP calls that ride out a target that is
still starting (connection refused, 502/503/504), and fail with a message that names the target,
the request and what the server said."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx

from observatory import poll

log = logging.getLogger("observatory.setup")
TRANSIENT_STATUS = frozenset({429, 502, 503, 504})


class SetupError(RuntimeError):
    pass


def wait_for(
    what: str,
    probe: Callable[[], Any],
    timeout_s: float,
    interval_s: float = 2.0,
    transient: tuple[type[BaseException], ...] = (httpx.TransportError,),
) -> Any:
    """Call `probe` until it returns a truthy value; transient exceptions count as "not yet".
    Raises SetupError naming `what` and the last reason after `timeout_s` (observatory.poll)."""
    try:
        return poll.wait_for(what, probe, timeout_s, interval_s, transient=transient, log=log)
    except poll.WaitTimeout as exc:
        raise SetupError(str(exc)) from None


class Api:
    """A small JSON-over-HTTP client for one target (Kibana, Grafana, Metabase)."""

    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        auth: tuple[str, str] | None = None,
        headers: dict[str, str] | None = None,
        timeout_s: float = 30.0,
        retry_s: float = 120.0,
        interval_s: float = 2.0,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.retry_s = retry_s
        self.interval_s = interval_s
        self.client = httpx.Client(base_url=self.base_url, auth=auth, headers=headers or {}, timeout=timeout_s)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def request(self, method: str, path: str, *, ok: tuple[int, ...] = (200, 201, 204), **kwargs) -> httpx.Response:
        """Send; retry transport errors and 429/502/503/504 until `retry_s` has passed; any other
        status outside `ok` is an error at once."""
        what = f"{self.name} {method} {path}"

        def attempt():
            r = self.client.request(method, path, **kwargs)
            if r.status_code in TRANSIENT_STATUS:
                raise _Transient(f"HTTP {r.status_code}")
            return r

        r = wait_for(what, attempt, self.retry_s, self.interval_s, transient=(httpx.TransportError, _Transient))
        if r.status_code not in ok:
            raise SetupError(f"{what}: HTTP {r.status_code}: {r.text[:500]}")
        return r

    def json(self, method: str, path: str, **kwargs) -> Any:
        r = self.request(method, path, **kwargs)
        return r.json() if r.content else None


class _Transient(Exception):
    pass
