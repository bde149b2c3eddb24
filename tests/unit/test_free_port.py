"""free_port() picks below the kernel's ephemeral range, where no outgoing connection can take the
port before our server binds it."""

from __future__ import annotations

import socket

from observatory.process import LOWEST_PORT, free_port


def test_free_ports_are_bindable_and_below_the_ephemeral_range():
    low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    ports = [free_port() for _ in range(50)]
    assert all(LOWEST_PORT <= p < low for p in ports), (low, ports)
    assert len(set(ports)) > 40, "random picks, not one port over and over"
    for port in ports[:5]:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))


def test_a_port_in_use_is_not_picked(monkeypatch):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    picks = iter([port, port, *range(port - 50, port)])  # the taken port twice, then others
    monkeypatch.setattr("observatory.process.random.randrange", lambda a, b: next(picks))
    monkeypatch.setattr("observatory.process._ephemeral_low", lambda: 65000)
    try:
        assert free_port() != port
    finally:
        taken.close()
