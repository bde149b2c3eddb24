"""Ceilings measured with the fastest clients available here, in the same run as the figures they
bound: RabbitMQ publish/consume with pika's asynchronous connection (pipelined confirms, a large
window), a bare ASGI app under the same HTTP server and load generator as ingest, and a raw chDB
insert of the same events with the consumer's own SQL but no broker and no Python per row.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import msgspec
import pika
from pika.adapters.select_connection import SelectConnection


def pika_publish_rate(url: str, exchange: str, routing_key: str, body: bytes, n: int, window: int = 1000) -> float:
    """Persistent messages with publisher confirms, `window` unconfirmed at once (multiple-acks
    release several at a time). Messages per second, first publish to last confirm."""
    state = {"sent": 0, "confirmed": 0, "started": 0.0, "ended": 0.0}
    props = pika.BasicProperties(delivery_mode=2, content_type="application/json")
    outstanding: dict[float, None] = {}  # keyed by state["sent"]

    def publish_more(ch) -> None:
        while state["sent"] < n and len(outstanding) < window:
            ch.basic_publish(exchange, routing_key, body, props)
            state["sent"] += 1
            outstanding[state["sent"]] = None

    def on_confirm(frame) -> None:
        method = frame.method
        if isinstance(method, pika.spec.Basic.Nack):
            raise RuntimeError("broker nacked a ceiling publish")
        tag = method.delivery_tag
        if method.multiple:
            for t in [t for t in outstanding if t <= tag]:
                del outstanding[t]
        else:
            outstanding.pop(tag, None)
        state["confirmed"] = state["sent"] - len(outstanding)
        if state["confirmed"] >= n:
            state["ended"] = time.perf_counter()
            conn.close()
        else:
            publish_more(channel[0])

    channel: list = []

    def on_channel(ch) -> None:
        channel.append(ch)
        ch.confirm_delivery(on_confirm, callback=lambda _: start(ch))

    def start(ch) -> None:
        state["started"] = time.perf_counter()
        publish_more(ch)

    conn = SelectConnection(
        pika.URLParameters(url),
        on_open_callback=lambda c: c.channel(on_open_callback=on_channel),
        on_open_error_callback=lambda c, e: (_ for _ in ()).throw(RuntimeError(str(e))),
        on_close_callback=lambda c, r: c.ioloop.stop(),
    )
    conn.ioloop.start()
    if state["confirmed"] < n:
        raise RuntimeError(f"ceiling publish stopped after {state['confirmed']} of {n} confirms")
    return n / (state["ended"] - state["started"])


def pika_consume_rate(url: str, queue: str, n: int, prefetch: int = 1000, ack_every: int = 100) -> float:
    """Manual acks, one multiple-ack per `ack_every` deliveries. Messages per second."""
    state = {"seen": 0, "started": 0.0, "ended": 0.0}

    def on_message(ch, method, _props, _body) -> None:
        if state["seen"] == 0:
            state["started"] = time.perf_counter()
        state["seen"] += 1
        if state["seen"] % ack_every == 0 or state["seen"] >= n:
            ch.basic_ack(method.delivery_tag, multiple=True)
        if state["seen"] >= n:
            state["ended"] = time.perf_counter()
            conn.close()

    def on_channel(ch) -> None:
        ch.basic_qos(prefetch_count=prefetch, callback=lambda _: ch.basic_consume(queue, on_message))

    conn = SelectConnection(
        pika.URLParameters(url),
        on_open_callback=lambda c: c.channel(on_open_callback=on_channel),
        on_close_callback=lambda c, r: c.ioloop.stop(),
    )
    conn.ioloop.start()
    if state["seen"] < n:
        raise RuntimeError(f"ceiling consume stopped after {state['seen']} of {n} messages")
    return (n - 1) / (state["ended"] - state["started"])


def chdb_insert_rate(work: Path, bodies: list[bytes], repeat: int = 3) -> dict:
    """Raw inserts of the same events into a fresh chDB folder, in a subprocess (this process must
    not open a chDB folder): the consumer's own JSONEachRow SQL from one file (no broker, no Python
    per row), and clickhouse-connect's Native insert of Python rows (the consumer before). Rows/s."""
    data = work / "ceiling-rows.jsonl"
    split = msgspec.json.Decoder(list[msgspec.Raw])
    with open(data, "wb") as f:
        for body in bodies:
            f.write(b"\n".join(bytes(text) for text in split.decode(body)) + b"\n")
    code = f"""
import time, uuid, orjson, datetime as dt, clickhouse_connect
from observatory.settings import StoreSettings
from observatory.store.migrate import migrate
from observatory.store.sink import ClickHouseSink, SETTINGS
s = StoreSettings(dsn="chdb://{work / "chdb-ceiling"}", database="ceiling")
c = clickhouse_connect.get_client(dsn=s.dsn); migrate(c, s)
sink = ClickHouseSink(c, "ceiling")
path = "{data}"
lines = open(path, "rb").read().splitlines()
n = len(lines)
best = 0.0
for _ in range({repeat}):
    t = time.perf_counter()
    c.command(sink._sql(dt.datetime.now(dt.timezone.utc), f"file('{{path}}', 'JSONEachRow', '{{{{structure}}}}')"),
              settings=SETTINGS)
    best = max(best, n / (time.perf_counter() - t))
print("json", best)
def row(ev):
    ts = dt.datetime.fromisoformat
    return [uuid.UUID(ev["event_id"]), ev["event_name"], ts(ev["timestamp"]), ev["user_id"], ev["session_id"],
            orjson.dumps(ev["properties"]).decode(), ev["source"], ts(ev["received_at"]), dt.datetime.now(dt.timezone.utc)]
rows = [row(orjson.loads(line)) for line in lines]
cols = ("event_id","event_name","timestamp","user_id","session_id","properties","source","received_at","inserted_at")
best = 0.0
for _ in range({repeat}):
    t = time.perf_counter()
    c.insert("ceiling.events", rows, column_names=cols)
    best = max(best, n / (time.perf_counter() - t))
print("native", best)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    if out.returncode:
        raise RuntimeError(f"raw insert ceiling failed: {out.stderr[-2000:]}")
    rates = dict(line.split() for line in out.stdout.splitlines() if line.startswith(("json", "native")))
    return {k: float(v) for k, v in rates.items()}
