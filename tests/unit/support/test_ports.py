"""Free ports under pytest-xdist: each worker draws from its own slice below the kernel's ephemeral range, and no
port is handed out twice in one process."""

from __future__ import annotations

import socket

from tests.support import ports


def test_workers_draw_from_disjoint_slices_below_the_ephemeral_range(monkeypatch):
    monkeypatch.setattr(ports, "_handed_out", set())
    width = (ports.HIGH - ports.LOW) // 3
    for index, worker in enumerate(("gw0", "gw1", "gw2")):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "3")
        own = range(ports.LOW + index * width, ports.LOW + (index + 1) * width)
        drawn = [ports.free_port() for _ in range(30)]
        assert all(p in own for p in drawn), (worker, sorted(drawn))
    assert ports.HIGH <= 32_768  # below Linux's default ephemeral range: no outgoing connection is given one


def test_a_port_is_never_handed_out_twice_and_is_bindable(monkeypatch):
    monkeypatch.setattr(ports, "_handed_out", set())
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    seen = [ports.free_port() for _ in range(200)]
    assert len(set(seen)) == len(seen)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", seen[-1]))


def test_a_taken_port_is_skipped(monkeypatch):
    monkeypatch.setattr(ports, "_handed_out", set())
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", ports.LOW))
        monkeypatch.setattr(ports, "_worker_slice", lambda: range(ports.LOW, ports.LOW + 2))
        assert {ports.free_port() for _ in range(1)} == {ports.LOW + 1}
