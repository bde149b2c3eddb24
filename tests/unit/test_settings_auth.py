"""Settings validation, API keys and rate limiting (pure)."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from observatory.broker.topology import definitions, queue_arguments
from observatory.ingest.auth import KeyRing, RateLimiter, TokenBucket
from observatory.settings import BrokerSettings, IngestSettings, hash_key


def test_keys_are_stored_hashed_and_named():
    s = IngestSettings(api_keys=f"web:sha256:{hash_key('k1')}, backend:sha256:{hash_key('k2')}")
    ring = KeyRing(s.parsed_keys())
    assert ring.source_for("Bearer k1") == "web"
    assert ring.source_for("bearer k2") == "backend"
    assert ring.source_for("Bearer k3") is None
    assert ring.source_for("Basic k1") is None
    assert ring.source_for(None) is None
    assert "k1" not in s.api_keys


@pytest.mark.parametrize("keys", ["", "web:plainkey", f"web:sha256:{'a' * 10}", f":sha256:{'a' * 64}"])
def test_malformed_key_settings_are_refused(keys):
    with pytest.raises(ValidationError):
        IngestSettings(api_keys=keys)


def test_placeholder_keys_refused_outside_development(monkeypatch):
    monkeypatch.setenv("OBS_ENV", "production")
    with pytest.raises(ValidationError, match="placeholder"):
        IngestSettings(api_keys=f"web:sha256:{hash_key('changeme')}")
    monkeypatch.setenv("OBS_ENV", "development")
    assert IngestSettings(api_keys=f"web:sha256:{hash_key('changeme')}")


def test_api_keys_have_no_default(monkeypatch):
    monkeypatch.delenv("OBS_INGEST_API_KEYS", raising=False)
    with pytest.raises(ValidationError, match="api_keys"):
        IngestSettings()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_allows_burst_then_asks_to_wait():
    clock = FakeClock()
    b = TokenBucket(rate=10, burst=20, clock=clock)
    assert b.take(20) == 0
    assert b.take(5) == 0.5, "5 tokens at 10/s"
    clock.now += 0.2
    assert b.take(5) == pytest.approx(0.3), "2 tokens came back in 0.2 s"
    clock.now += 0.3
    assert b.take(5) == 0, "refilled to 5 after 0.5 s"
    clock.now += 100
    assert b.take(20) == 0 and b.take(1) == 0.1, "refill stops at the burst"
    assert math.isinf(b.take(21)), "more than the burst can never pass"


def test_rate_limiter_keeps_one_bucket_per_key():
    clock = FakeClock()
    rl = RateLimiter(rate=1, burst=2, clock=clock)
    assert rl.take("a", 2) == 0 and rl.take("a", 1) == 1.0
    assert rl.take("b", 2) == 0
    clock.now += 1
    assert rl.take("a", 1) == 0 and rl.take("b", 2) == 1.0


def test_queue_arguments_bound_the_queue_and_dead_letter():
    args = queue_arguments(BrokerSettings())
    assert args["x-overflow"] == "reject-publish"
    assert args["x-max-length"] == 1_000_000
    assert args["x-message-ttl"] == 7 * 24 * 3600 * 1000
    assert args["x-dead-letter-exchange"] == "events.dlx"


def test_definitions_describe_the_declared_topology():
    d = definitions(BrokerSettings(), users=[{"name": "obs", "password_hash": "x", "tags": []}])
    assert {q["name"] for q in d["queues"]} == {"events", "events.dead"}
    assert {(b["source"], b["destination"]) for b in d["bindings"]} == {
        ("events", "events"),
        ("events.dlx", "events.dead"),
    }
    assert d["permissions"][0]["user"] == "obs"
