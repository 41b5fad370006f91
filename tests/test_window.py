"""The pairing window: opening, expiry, persistence across restarts, failure counters, lockout."""

from __future__ import annotations

import itertools
import json
import re
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from device_sdk.errors import ConfigError, StateError
from device_sdk.pairing.window import (
    MAX_DURATION_S,
    LockoutStarted,
    PairingConflict,
    PairingMode,
    PairingWindow,
    Refusal,
    TokenRotated,
    WindowClosed,
    WindowEvent,
    WindowOpened,
    backoff_seconds,
    new_auth_token,
)

T0 = 1_700_000_000.0
FP1 = b"\x01" * 32
FP2 = b"\x02" * 32


def counting_tokens() -> Callable[[], str]:
    counter = itertools.count()
    return lambda: f"tok{next(counter):013d}"


def make(
    tmp_path: Path, mode: PairingMode = PairingMode.STICKER, duration_s: float = MAX_DURATION_S
) -> tuple[PairingWindow, list[WindowEvent]]:
    window = PairingWindow(
        state_path=tmp_path / "state" / "window.json", mode=mode, token_source=counting_tokens(), duration_s=duration_s
    )
    events: list[WindowEvent] = []
    window.subscribe(events.append)
    return window, events


def fail(window: PairingWindow, times: int, start: float, step: float = 0.0) -> float:
    now = start
    for _ in range(times):
        window.attempt_failed(now)
        now += step
    return now


def test_new_auth_token_format() -> None:
    tokens = {new_auth_token() for _ in range(200)}
    assert len(tokens) == 200
    assert all(re.fullmatch(r"[A-Za-z0-9+/]{16}", t) for t in tokens)


def test_open_expire_and_timer(tmp_path: Path) -> None:
    window, events = make(tmp_path, duration_s=300)
    assert not window.is_open and window.next_timer() is None
    window.open(T0, "boot")
    assert window.is_open and window.expires_at == T0 + 300
    assert window.next_timer() == T0 + 300
    assert events[0] == WindowOpened("boot", T0 + 300)
    assert isinstance(events[1], TokenRotated)
    window.handle_timer(T0 + 299.9)
    assert window.is_open
    window.handle_timer(T0 + 300)
    assert not window.is_open and window.next_timer() is None
    assert events[-1] == WindowClosed("timeout")


def test_admit_expires_a_due_window(tmp_path: Path) -> None:
    window, _ = make(tmp_path)
    window.open(T0, "button")
    assert window.admit(T0 + 899, FP1) is None
    refusal = window.admit(T0 + 900, FP1)
    assert refusal == Refusal(403, 1, None, "pairing window closed")


def test_closed_window_refuses_with_403(tmp_path: Path) -> None:
    window, _ = make(tmp_path)
    assert window.admit(T0, FP1) == Refusal(403, 1, None, "pairing window closed")


def test_duration_validation(tmp_path: Path) -> None:
    for bad in (179.9, 900.1, 0, -5):
        with pytest.raises(ConfigError):
            make(tmp_path, duration_s=bad)
    make(tmp_path, duration_s=180)
    window, _ = make(tmp_path, duration_s=900)
    with pytest.raises(ConfigError):
        window.open(T0, "admin", duration_s=60)
    window.open(T0, "admin", duration_s=200)
    assert window.expires_at == T0 + 200


def test_token_rotates_on_start_open_and_failure(tmp_path: Path) -> None:
    window, events = make(tmp_path)
    first = window.token
    assert re.fullmatch(r"[A-Za-z0-9+/]{16}", first)
    window.open(T0, "boot")
    second = window.token
    assert second != first
    window.attempt_failed(T0 + 1)
    third = window.token
    assert third != second
    assert [e.token for e in events if isinstance(e, TokenRotated)] == [second, third]
    # A new object (a restart) draws a new token.
    again = PairingWindow(state_path=tmp_path / "state" / "window.json", mode=PairingMode.STICKER)
    assert again.token not in (first, second, third)


def test_bad_token_source_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        PairingWindow(state_path=tmp_path / "w.json", mode=PairingMode.STICKER, token_source=lambda: "short")


def test_resume_after_restart_with_counters(tmp_path: Path) -> None:
    window, _ = make(tmp_path)
    window.open(T0, "boot")
    fail(window, 3, T0 + 10)
    reborn, events = make(tmp_path)
    assert reborn.restore(T0 + 100) is True
    assert reborn.is_open and reborn.expires_at == T0 + 900
    assert reborn.failures_in_window == 3 and reborn.consecutive_failures == 3
    assert reborn.opened_reason == "boot"
    assert events == [WindowOpened("boot", T0 + 900, resumed=True)]
    # boot does not extend the resumed window
    reborn.open(T0 + 100, "boot")
    assert reborn.expires_at == T0 + 900


def test_expired_window_is_not_resumed_but_counters_are(tmp_path: Path) -> None:
    window, _ = make(tmp_path)
    window.open(T0, "boot")
    fail(window, 6, T0 + 1)
    reborn, events = make(tmp_path)
    assert reborn.restore(T0 + 901) is False
    assert not reborn.is_open
    assert reborn.consecutive_failures == 6
    assert events == [WindowClosed("timeout")]
    # A window opened at boot keeps the consecutive failures (and their lockout).
    reborn.open(T0 + 902, "boot")
    assert reborn.consecutive_failures == 6 and reborn.failures_in_window == 0


def test_clock_going_back_never_extends_a_resumed_window(tmp_path: Path) -> None:
    window, _ = make(tmp_path, duration_s=600)
    window.open(T0, "button")
    reborn, _ = make(tmp_path, duration_s=600)
    assert reborn.restore(T0 - 3600)
    assert reborn.expires_at == T0 - 3600 + 600


def test_twenty_failures_close_the_window(tmp_path: Path) -> None:
    window, events = make(tmp_path)
    window.open(T0, "button")
    # spread the failures out so that the lockout never matters
    fail(window, 19, T0 + 1, step=0.5)
    assert window.is_open and window.failures_in_window == 19
    window.attempt_failed(T0 + 20)
    assert not window.is_open
    assert events[-1] == WindowClosed("failures")
    assert window.failures_in_window == 20
    assert window.admit(T0 + 500, FP1) == Refusal(403, 1, None, "pairing window closed")


def test_backoff_schedule() -> None:
    assert [backoff_seconds(n) for n in range(13)] == [0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 60, 60]
    assert backoff_seconds(10_000) == 60


def test_lockout_after_five_consecutive_failures(tmp_path: Path) -> None:
    window, events = make(tmp_path)
    window.open(T0, "button")
    now = T0 + 10
    fail(window, 4, now)
    assert window.admit(now, FP1) is None
    assert window.locked_until is None
    expected = [1, 2, 4, 8, 16, 32, 60, 60]
    for wait in expected:
        window.attempt_failed(now)
        assert window.locked_until == now + wait
        assert events[-1] == LockoutStarted(until=now + wait, consecutive_failures=window.consecutive_failures)
        refusal = window.admit(now + 0.25, FP1)
        assert refusal is not None
        assert refusal.close_code == 429 and refusal.auth_result == 1
        assert refusal.retry_after == wait  # rounded up to whole seconds
        assert refusal.reason == f"retry after {wait}"
        assert window.admit(now + wait - 0.001, FP1) is not None
        assert window.admit(now + wait, FP1) is None
        now += wait
    # refused handshakes are not failures
    assert window.consecutive_failures == 4 + len(expected)


def test_lockout_reason_rounds_up(tmp_path: Path) -> None:
    window, _ = make(tmp_path)
    window.open(T0, "button")
    fail(window, 8, T0 + 1)  # 8 consecutive: 8 s
    refusal = window.admit(T0 + 1 + 2.5, FP1)
    assert refusal is not None and refusal.reason == "retry after 6" and refusal.retry_after == 6


def test_403_wins_over_429(tmp_path: Path) -> None:
    window, _ = make(tmp_path)
    window.open(T0, "button")
    fail(window, 9, T0 + 1)
    window.close(T0 + 2)
    refusal = window.admit(T0 + 2, FP1)
    assert refusal is not None and refusal.close_code == 403


def test_button_and_admin_reset_consecutive_but_boot_does_not(tmp_path: Path) -> None:
    window, _ = make(tmp_path)
    window.open(T0, "boot")
    fail(window, 7, T0 + 1)
    window.close(T0 + 2, "admin")
    window.open(T0 + 3, "boot")
    assert window.consecutive_failures == 7
    assert window.admit(T0 + 3, FP1) is not None  # still locked out
    window.open(T0 + 4, "button")
    assert window.consecutive_failures == 0 and window.locked_until is None
    assert window.admit(T0 + 4, FP1) is None
    fail(window, 6, T0 + 5)
    window.open(T0 + 6, "admin")
    assert window.consecutive_failures == 0


def test_button_press_restarts_an_open_window(tmp_path: Path) -> None:
    window, events = make(tmp_path)
    window.open(T0, "boot")
    fail(window, 2, T0 + 1)
    window.open(T0 + 100, "button")
    assert window.expires_at == T0 + 1000 and window.failures_in_window == 0
    assert WindowOpened("button", T0 + 1000) in events


def test_success_resets_and_closes(tmp_path: Path) -> None:
    window, events = make(tmp_path)
    window.open(T0, "boot")
    fail(window, 3, T0 + 1)
    window.attempt_succeeded(T0 + 2)
    assert not window.is_open and window.consecutive_failures == 0
    assert events[-1] == WindowClosed("paired")
    reborn, _ = make(tmp_path)
    assert reborn.consecutive_failures == 0 and not reborn.restore(T0 + 3)


def test_success_of_an_attempt_from_an_earlier_window_keeps_a_reopened_one(tmp_path: Path) -> None:
    # A controller's auth-status can arrive after an admin reopened the window for the next one.
    window, events = make(tmp_path)
    window.open(T0, "boot")
    began_in = window.generation
    window.open(T0 + 1, "admin")
    window.attempt_succeeded(T0 + 2, began_in)
    assert window.is_open and window.consecutive_failures == 0
    window.attempt_succeeded(T0 + 3, window.generation)
    assert not window.is_open and events[-1] == WindowClosed("paired")


def test_writes_in_the_background_land_on_flush(tmp_path: Path) -> None:
    window = PairingWindow(state_path=tmp_path / "w.json", mode=PairingMode.STICKER, background_writes=True)
    window.open(T0, "admin")
    window.flush()
    assert PairingWindow(state_path=tmp_path / "w.json", mode=PairingMode.STICKER).restore(T0 + 1)
    window.attempt_failed(T0 + 2)  # failures are written at once, not in the background
    assert PairingWindow(state_path=tmp_path / "w.json", mode=PairingMode.STICKER).consecutive_failures == 1
    window.shutdown()


def test_button_mode_boot_does_not_open(tmp_path: Path) -> None:
    window, events = make(tmp_path, PairingMode.BUTTON)
    window.open(T0, "boot")
    assert not window.is_open and events == []
    window.open(T0, "button")
    assert window.is_open


def test_button_mode_conflict_aborts_both(tmp_path: Path) -> None:
    window, events = make(tmp_path, PairingMode.BUTTON)
    window.open(T0, "button")
    assert window.admit(T0 + 1, FP1) is None
    assert window.admit(T0 + 2, FP1) is None  # the same controller again is fine
    refusal = window.admit(T0 + 3, FP2)
    assert refusal is not None and refusal.close_code == 401 and refusal.auth_result == 1
    assert PairingConflict(abort_fp=FP1) in events
    assert events[-1] == WindowClosed("conflict")
    assert not window.is_open
    assert window.consecutive_failures == 0
    # a new press starts afresh with any controller
    window.open(T0 + 10, "button")
    assert window.admit(T0 + 11, FP2) is None


def test_button_mode_first_controller_survives_restart(tmp_path: Path) -> None:
    window, _ = make(tmp_path, PairingMode.BUTTON)
    window.open(T0, "button")
    assert window.admit(T0 + 1, FP1) is None
    reborn, _ = make(tmp_path, PairingMode.BUTTON)
    assert reborn.restore(T0 + 2)
    refusal = reborn.admit(T0 + 3, FP2)
    assert refusal is not None and refusal.close_code == 401


def test_sticker_mode_allows_several_controllers(tmp_path: Path) -> None:
    window, _ = make(tmp_path)
    window.open(T0, "boot")
    assert window.admit(T0, FP1) is None and window.admit(T0, FP2) is None


def test_state_file_is_private_and_readable(tmp_path: Path) -> None:
    window, _ = make(tmp_path)
    window.open(T0, "boot")
    window.attempt_failed(T0 + 1)
    path = tmp_path / "state" / "window.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = json.loads(path.read_text())
    assert data["open"] is True and data["consecutive_failures"] == 1
    assert data["last_failure_at"] == T0 + 1
    assert window.token not in path.read_text()


def test_corrupt_state_file_is_a_state_error(tmp_path: Path) -> None:
    path = tmp_path / "w.json"
    for content in ("{", "[]", '{"version": 1}', '{"version": 1, "open": "yes"}'):
        path.write_text(content)
        with pytest.raises(StateError):
            PairingWindow(state_path=path, mode=PairingMode.STICKER)


def test_subscriber_errors_do_not_break_the_window(tmp_path: Path) -> None:
    window, events = make(tmp_path)

    def broken(event: WindowEvent) -> None:
        raise RuntimeError("boom")

    window.subscribe(broken)
    window.open(T0, "boot")
    assert window.is_open and len(events) == 2


def test_unsubscribe_and_reentrant_events_keep_order(tmp_path: Path) -> None:
    window, events = make(tmp_path, PairingMode.BUTTON)
    seen: list[WindowEvent] = []

    def closer(event: WindowEvent) -> None:
        seen.append(event)
        if isinstance(event, WindowOpened):
            window.close(T0, "admin")  # raises an event while events are being delivered

    unsubscribe = window.subscribe(closer)
    window.open(T0, "button")
    assert [type(e) for e in seen] == [WindowOpened, TokenRotated, WindowClosed]
    assert events == seen
    unsubscribe()
    unsubscribe()
    window.open(T0 + 1, "button")
    assert len(seen) == 3 and len(events) == 5


def test_open_rejects_unknown_reason(tmp_path: Path) -> None:
    window, _ = make(tmp_path)
    with pytest.raises(ValueError):
        window.open(T0, "timer")  # type: ignore[arg-type]
