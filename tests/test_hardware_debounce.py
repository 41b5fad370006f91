"""The pure debouncer and press classifier: fed levels and `now`, no loop, no sleeps."""

from __future__ import annotations

import pytest

from device_sdk.hardware.debounce import Debouncer, LevelChanged, LongPress, ShortPress


def test_bounces_collapse_into_one_change() -> None:
    d = Debouncer(debounce_s=0.05)
    events = []
    for i, t in enumerate([1.000, 1.002, 1.004, 1.006, 1.010]):  # bouncy contact, ends pressed
        events += d.feed(i % 2 == 0, t)
    assert events == [] and d.next_deadline() == pytest.approx(1.06)
    assert d.poll(1.059) == []
    assert d.poll(1.06) == [LevelChanged(True, 1.010)]
    assert d.active and d.next_deadline() is None


def test_glitch_shorter_than_debounce_is_ignored() -> None:
    d = Debouncer(debounce_s=0.05)
    assert d.feed(True, 0.0) == []
    assert d.feed(False, 0.02) == []
    assert d.poll(1.0) == [] and not d.active


def test_short_press_and_long_press() -> None:
    d = Debouncer(debounce_s=0.05, hold_s=10.0)
    d.feed(True, 0.0)
    assert d.poll(0.05) == [LevelChanged(True, 0.0)]
    assert d.next_deadline() == 10.0
    d.feed(False, 2.0)
    assert d.poll(2.05) == [LevelChanged(False, 2.0), ShortPress(2.0)]

    d.feed(True, 20.0)
    d.poll(20.05)
    assert d.poll(29.99) == []
    assert d.poll(30.0) == [LongPress(10.0)]
    assert d.poll(35.0) == []  # reported once
    d.feed(False, 40.0)
    assert d.poll(40.05) == [LevelChanged(False, 40.0)]  # no short press after a long one


def test_hold_seen_late_still_counts_as_long() -> None:
    d = Debouncer(debounce_s=0.0, hold_s=1.0)
    assert d.feed(True, 0.0) == [LevelChanged(True, 0.0)]
    assert d.feed(False, 5.0) == [LongPress(5.0), LevelChanged(False, 5.0)]
    d.feed(True, 6.0)
    assert d.poll(6.5) == []


def test_release_being_debounced_at_the_hold_time_is_a_short_press() -> None:
    d = Debouncer(debounce_s=0.1, hold_s=1.0)
    d.feed(True, 0.0)
    d.poll(0.1)
    assert d.feed(False, 0.95) == []
    assert d.next_deadline() == pytest.approx(1.05)
    assert d.poll(1.0) == []
    assert d.poll(1.05) == [LevelChanged(False, 0.95), ShortPress(0.95)]


def test_bounce_during_a_hold_does_not_restart_it() -> None:
    d = Debouncer(debounce_s=0.1, hold_s=1.0)
    d.feed(True, 0.0)
    d.poll(0.1)
    d.feed(False, 0.5)
    d.feed(True, 0.52)
    assert d.next_deadline() == 1.0
    assert d.poll(1.0) == [LongPress(1.0)]


def test_zero_debounce_reports_at_once_and_initial_level() -> None:
    d = Debouncer(debounce_s=0.0, initial=True)
    assert d.active
    assert d.feed(True, 0.0) == []
    assert d.feed(False, 0.1) == [LevelChanged(False, 0.1)]
    with pytest.raises(ValueError):
        Debouncer(debounce_s=-1)
