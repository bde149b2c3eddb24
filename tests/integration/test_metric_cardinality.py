"""Label values stay bounded: varied traffic (random paths and methods, many user ids, event names,
property keys, API keys, request ids, invalid events) must not create series. The same kinds of
traffic are sent twice, the second time with five times as many distinct values: the set of series in
the registry (ingest and consumer, all-in-one style) must not change."""

from __future__ import annotations

import random
import string

from tests.integration.conftest import wait_until

TOKEN_CHARS = string.ascii_lowercase + string.digits


def token(rng: random.Random, n: int = 12) -> str:
    return "".join(rng.choices(TOKEN_CHARS, k=n))


def series(registry) -> set[tuple[str, frozenset]]:
    return {(s.name, frozenset(s.labels.items())) for metric in registry.collect() for s in metric.samples}


async def send_traffic(p, rng: random.Random, n: int, seen: set[str]) -> int:
    """Every kind of request n times with fresh random values; returns the number of accepted events."""
    accepted = 0
    for _ in range(n):
        t = [token(rng) for _ in range(6)]
        seen.update(t)
        headers = {"X-Request-ID": f"rid-{t[0]}"}
        await p.http.get(f"/{t[0]}/{t[1]}", headers=headers)  # unknown paths
        await p.http.post(f"/v1/{t[2]}", json={}, headers=headers)
        await p.http.request(rng.choice(["PURGE", "TRACE", "PATCH"]), f"/v1/events/{t[3]}")
        await p.http.post(
            "/v1/events",
            json={"event_name": "x", "user_id": "u"},  # unknown key
            headers={"Authorization": f"Bearer obs_{t[4]}"},
        )
        await p.post(content=b"{" + t[5].encode())  # malformed JSON
        batch = [
            {
                "event_name": f"ev_{t[1]}",
                "user_id": f"user-{t[2]}",
                "session_id": t[3],  # valid, any name
                "properties": {f"k_{t[4]}": t[5]},
            },
            {"event_name": f"ev_{t[2]}", "user_id": f"user-{t[3]}"},
            {"event_name": f"ev_{t[3]}"},  # missing user_id
            {"event_name": "page_view", "user_id": t[4], "timestamp": f"not-a-time-{t[5]}"},
            {"event_name": "page_view", "user_id": t[4], f"extra_{t[0]}": 1},  # unknown field
        ]
        r = await p.post(batch)
        assert r.status_code == 202, r.text
        accepted += r.json()["accepted"]
    return accepted


async def test_series_count_does_not_grow_with_user_input(make_pipeline):
    rng = random.Random(20261123)
    seen: set[str] = set()
    async with make_pipeline() as p:
        registry = p.app.state.registry

        def inserted() -> float:
            return registry.get_sample_value("consumer_rows_inserted_total") or 0

        first_accepted = await send_traffic(p, rng, 20, seen)
        await wait_until("the first round's events in ClickHouse", lambda: inserted() >= first_accepted, 30)
        first = series(registry)

        more = await send_traffic(p, rng, 100, seen)
        await wait_until("the second round's events in ClickHouse", lambda: inserted() >= first_accepted + more, 60)
        second = series(registry)

    assert len(first) > 100, f"the registry holds suspiciously few series ({len(first)})"
    assert second == first, f"new series from user input: {sorted(second - first)[:10]}"
    leaked = {v for _name, labels in second for _k, v in labels for t in seen if t in v}
    assert not leaked, f"user-supplied values became label values: {sorted(leaked)[:10]}"
    routes = {v for _n, labels in second for k, v in labels if k == "route"}
    assert "unmatched" in routes and "/v1/events" in routes, routes
