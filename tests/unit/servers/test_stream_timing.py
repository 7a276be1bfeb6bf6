"""Timing arithmetic with a fake clock: no sleeping, exact numbers."""

from __future__ import annotations

import pytest

from o2v.servers.timing import TimingRecorder


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_ttft_itl_e2e_tpot() -> None:
    clock = FakeClock()
    rec = TimingRecorder(clock)
    rec.restart()
    clock.now += 0.010
    rec.first_byte()
    clock.now += 0.005
    rec.event(has_text=False)  # role-only first chunk is not a token
    clock.now += 0.085
    rec.event(has_text=True)
    for _ in range(3):
        clock.now += 0.020
        rec.event(has_text=True)
    clock.now += 0.001
    rec.finish()
    rec.finish()  # idempotent: the first end counts
    t = rec.timing
    assert t.first_byte_ms == pytest.approx(10.0)
    assert t.ttft_ms == pytest.approx(100.0)
    assert t.itl_ms == pytest.approx([20.0, 20.0, 20.0])
    assert t.e2e_ms == pytest.approx(161.0)
    assert t.events == 5
    assert t.tpot_ms(4) == pytest.approx(61.0 / 3)
    assert t.tpot_ms(1) is None
    assert t.tpot_ms(None) is None


def test_nothing_received() -> None:
    rec = TimingRecorder(FakeClock())
    assert rec.timing.ttft_ms is None
    assert rec.timing.e2e_ms is None
    assert rec.timing.itl_ms == []


def test_restart_moves_the_origin_and_keeps_the_object() -> None:
    clock = FakeClock()
    rec = TimingRecorder(clock)
    handed_out = rec.timing
    clock.now += 5.0  # time spent before sending is not the server's
    rec.restart()
    clock.now += 0.25
    rec.event(has_text=True)
    assert rec.timing is handed_out
    assert handed_out.ttft_ms == pytest.approx(250.0)
