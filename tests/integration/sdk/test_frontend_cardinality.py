"""$web_vitals and $exception metrics stay bounded under random URLs and random exception types: pages
are the configured patterns or `other`, exception types at most OBS_INGEST_MAX_EXCEPTION_TYPES + `other`."""

from __future__ import annotations

import random
import string
import uuid

from tests.integration.conftest import API_KEY

PATTERNS = "/,/products/*,/cart"


def _token(rng, n=10):
    return "".join(rng.choices(string.ascii_lowercase + string.digits, k=n))


def _frontend_series(registry) -> set[tuple[str, frozenset]]:
    return {
        (s.name, frozenset(s.labels.items()))
        for m in registry.collect()
        for s in m.samples
        if s.name.startswith("frontend_")
    }


async def _send(p, rng, n: int) -> None:
    batch = []
    for _ in range(n):
        path = rng.choice(
            [
                "/",
                f"/products/{_token(rng)}",
                "/cart",
                f"/{_token(rng)}/{_token(rng)}",
                f"/cart/{_token(rng)}?q={_token(rng)}",
            ]
        )
        batch.append(
            {
                "uuid": str(uuid.uuid4()),
                "event": "$web_vitals",
                "distinct_id": _token(rng),
                "properties": {
                    "$current_url": f"http://shop.test{path}",
                    "$web_vitals_LCP_value": rng.random() * 6000,
                    "$web_vitals_CLS_value": rng.random() / 2,
                    "$web_vitals_INP_value": rng.random() * 900,
                    "$web_vitals_FCP_value": rng.random() * 3000,
                    "$web_vitals_TTFB_value": rng.random() * 900,
                },
            }
        )
        batch.append(
            {
                "uuid": str(uuid.uuid4()),
                "event": "$exception",
                "distinct_id": _token(rng),
                "properties": {"$exception_list": [{"type": f"Err{_token(rng)}", "value": _token(rng)}]},
            }
        )
    for i in range(0, len(batch), 100):
        r = await p.http.post("/batch", json={"api_key": API_KEY, "batch": batch[i : i + 100]})
        assert r.status_code == 200, r.text


async def test_frontend_metric_series_stay_bounded(make_pipeline):
    rng = random.Random(10)
    async with make_pipeline(consumer=False, page_patterns=PATTERNS, max_exception_types=5) as p:
        registry = p.app.private.state.registry
        await _send(p, rng, 60)
        first = _frontend_series(registry)
        await _send(p, rng, 300)
        second = _frontend_series(registry)
    assert first == second, f"new series: {sorted(second - first)[:5]}"
    pages = {dict(labels).get("page") for name, labels in second if "web_vitals" in name}
    assert pages == {"/", "/products/*", "/cart", "other"}
    types = {dict(labels)["type"] for name, labels in second if name == "frontend_exceptions_total"}
    assert len(types) == 6 and "other" in types
