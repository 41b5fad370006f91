"""The pairing window as pure policy: opening, expiry, restarts, failure counters, lockout, the one
live attempt, pairing again, one pairing per window, the boot budget; and its state file."""

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
    ATTEMPT_LEASE_S,
    BOOT_BUDGET_REFILL_S,
    MAX_DURATION_S,
    MAX_FAILURES_PER_WINDOW,
    Admission,
    LockoutStarted,
    PairingConflict,
    PairingMode,
    PairingWindow,
    Refusal,
    TokenRotated,
    WindowClosed,
    WindowEvent,
    WindowOpened,
    WindowState,
    WindowUpdate,
    backoff_seconds,
    new_auth_token,
)
from device_sdk.pairing.window_store import WindowStore
from device_sdk.storage.statefile import StateWriterThread

T0 = 1_700_000_000.0
FP1 = b"\x01" * 32
FP2 = b"\x02" * 32
CLOSED = Refusal(403, 1, None, "pairing window closed")


def counting_tokens() -> Callable[[], str]:
    counter = itertools.count()
    return lambda: f"tok{next(counter):013d}"


class Rig:
    """A window as the device runs it: each update persisted to a real state file, then recorded."""

    def __init__(
        self, tmp_path: Path, mode: PairingMode = PairingMode.STICKER, duration_s: float = MAX_DURATION_S
    ) -> None:
        self.store = WindowStore(tmp_path / "state" / "window.json")
        self.window = PairingWindow(
            mode=mode, duration_s=duration_s, state=self.store.load(), token_source=counting_tokens()
        )
        self.events: list[WindowEvent] = []
        self.actions: list[PairingConflict] = []
        self.updates: list[WindowUpdate] = []

    def __call__(self, update: WindowUpdate) -> WindowUpdate:
        if update.state is not None:
            self.store.save(update.state, sync=update.sync)
        self.updates.append(update)
        self.actions.extend(update.actions)
        self.events.extend(update.events)
        return update

    def admit(self, now: float, fp: bytes = FP1, *, trusted: bool = False) -> Admission | Refusal:
        verdict, update = self.window.admit(now, fp, trusted=trusted)
        self(update)
        return verdict

    def admitted(self, now: float, fp: bytes = FP1, *, trusted: bool = False) -> Admission:
        verdict = self.admit(now, fp, trusted=trusted)
        assert isinstance(verdict, Admission), verdict
        return verdict

    def fail(self, times: int, start: float, step: float = 0.0) -> float:
        """``times`` failed attempts (as if admitted; the lockout is not checked here)."""
        now = start
        for _ in range(times):
            self(self.window.attempt_failed(self.attempt(), now))
            now += step
        return now

    def succeed(self, attempt: Admission, now: float) -> Refusal | None:
        refusal, update = self.window.attempt_succeeded(attempt, now)
        self(update)
        return refusal

    def attempt(self, fp: bytes = FP1, trusted: bool = False) -> Admission:
        """An attempt of the current opening that the window did not admit itself."""
        return Admission(attempt=0, controller_fp=fp, token="", trusted=trusted, generation=self.window.generation)

    def reborn(self, mode: PairingMode = PairingMode.STICKER, duration_s: float = MAX_DURATION_S) -> Rig:
        """The same state directory after a restart."""
        return Rig(self.store.path.parent.parent, mode, duration_s)


def test_new_auth_token_format() -> None:
    tokens = {new_auth_token() for _ in range(200)}
    assert len(tokens) == 200
    assert all(re.fullmatch(r"[A-Za-z0-9+/]{16}", t) for t in tokens)


def test_open_expire_and_timer(tmp_path: Path) -> None:
    rig = Rig(tmp_path, duration_s=300)
    window = rig.window
    assert not window.is_open and window.next_timer() is None
    rig(window.open(T0, "boot"))
    assert window.is_open and window.expires_at == T0 + 300
    assert window.next_timer() == T0 + 300
    assert rig.events[0] == WindowOpened("boot", T0 + 300)
    assert isinstance(rig.events[1], TokenRotated)
    assert rig(window.handle_timer(T0 + 299.9)) == WindowUpdate()  # nothing to do, nothing to write
    assert window.is_open
    assert window.is_open_at(T0 + 299.9) and not window.is_open_at(T0 + 300)  # a read changes nothing
    assert window.is_open
    rig(window.handle_timer(T0 + 300))
    assert not window.is_open and window.next_timer() is None
    assert rig.events[-1] == WindowClosed("timeout")


def test_admit_expires_a_due_window(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig(rig.window.open(T0, "button"))
    attempt = rig.admit(T0 + 899)
    assert isinstance(attempt, Admission)
    rig(rig.window.attempt_ended(attempt, T0 + 899))
    assert rig.admit(T0 + 900) == CLOSED
    assert rig.events[-1] == WindowClosed("timeout")


def test_closed_window_refuses_with_403(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    assert rig.admit(T0) == CLOSED


def test_duration_validation(tmp_path: Path) -> None:
    for bad in (179.9, 900.1, 0, -5):
        with pytest.raises(ConfigError):
            Rig(tmp_path, duration_s=bad)
    Rig(tmp_path, duration_s=180)
    rig = Rig(tmp_path, duration_s=900)
    with pytest.raises(ConfigError):
        rig.window.open(T0, "admin", duration_s=60)
    rig(rig.window.open(T0, "admin", duration_s=200))
    assert rig.window.expires_at == T0 + 200


def test_token_rotates_on_start_open_and_failure(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    window = rig.window
    first = window.token
    assert re.fullmatch(r"[A-Za-z0-9+/]{16}", first)
    rig(window.open(T0, "boot"))
    second = window.token
    assert second != first
    rig.fail(1, T0 + 1)
    third = window.token
    assert third != second
    assert [e.token for e in rig.events if isinstance(e, TokenRotated)] == [second, third]
    # A new object (a restart) draws a new token.
    again = PairingWindow(mode=PairingMode.STICKER, state=rig.store.load())
    assert again.token not in (first, second, third)


def test_bad_token_source_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        PairingWindow(mode=PairingMode.STICKER, token_source=lambda: "short")


def test_resume_after_restart_with_counters(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig(rig.window.open(T0, "boot"))
    rig.fail(3, T0 + 10)
    reborn = rig.reborn()
    rig_events = reborn.events
    reborn(reborn.window.restore(T0 + 100))
    window = reborn.window
    assert window.is_open and window.expires_at == T0 + 900
    assert window.failures_in_window == 3 and window.consecutive_failures == 3
    assert window.opened_reason == "boot"
    assert rig_events == [WindowOpened("boot", T0 + 900, resumed=True)]
    # boot does not extend the resumed window
    reborn(window.open(T0 + 100, "boot"))
    assert window.expires_at == T0 + 900


def test_expired_window_is_not_resumed_but_counters_are(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig(rig.window.open(T0, "boot"))
    rig.fail(6, T0 + 1)
    reborn = rig.reborn()
    reborn(reborn.window.restore(T0 + 901))
    window = reborn.window
    assert not window.is_open
    assert window.consecutive_failures == 6
    assert reborn.events == [WindowClosed("timeout")]
    # A window opened at boot keeps the consecutive failures (and their lockout), and, within a day
    # of the last failure, the failures of the window before it (profile v1.1: no fresh guesses).
    reborn(window.open(T0 + 902, "boot"))
    assert window.consecutive_failures == 6 and window.failures_in_window == 6


def test_clock_going_back_never_extends_a_resumed_window(tmp_path: Path) -> None:
    rig = Rig(tmp_path, duration_s=600)
    rig(rig.window.open(T0, "button"))
    reborn = rig.reborn(duration_s=600)
    reborn(reborn.window.restore(T0 - 3600))
    assert reborn.window.is_open
    assert reborn.window.expires_at == T0 - 3600 + 600
    assert reborn.updates[-1].state is not None  # the shortened expiry is persisted


def test_twenty_failures_close_the_window(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    window = rig.window
    rig(window.open(T0, "button"))
    # spread the failures out so that the lockout never matters
    rig.fail(19, T0 + 1, step=0.5)
    assert window.is_open and window.failures_in_window == 19
    rig.fail(1, T0 + 20)
    assert not window.is_open
    assert rig.events[-1] == WindowClosed("failures")
    assert window.failures_in_window == 20
    assert rig.admit(T0 + 500) == CLOSED


def test_backoff_schedule() -> None:
    assert [backoff_seconds(n) for n in range(13)] == [0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 60, 60]
    assert backoff_seconds(10_000) == 60


def test_lockout_after_five_consecutive_failures(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    window = rig.window
    rig(window.open(T0, "button"))
    now = T0 + 10
    rig.fail(4, now)
    first = rig.admit(now)
    assert isinstance(first, Admission)
    rig(window.attempt_ended(first, now))
    assert window.locked_until is None
    expected = [1, 2, 4, 8, 16, 32, 60, 60]
    for wait in expected:
        rig.fail(1, now)
        assert window.locked_until == now + wait
        assert rig.events[-1] == LockoutStarted(until=now + wait, consecutive_failures=window.consecutive_failures)
        refusal = rig.admit(now + 0.25)
        assert isinstance(refusal, Refusal)
        assert refusal.close_code == 429 and refusal.auth_result == 1
        assert refusal.retry_after == wait  # rounded up to whole seconds
        assert refusal.reason == f"retry after {wait}"
        assert isinstance(rig.admit(now + wait - 0.001), Refusal)
        admitted = rig.admit(now + wait)
        assert isinstance(admitted, Admission)
        rig(window.attempt_ended(admitted, now + wait))
        now += wait
    # refused handshakes are not failures
    assert window.consecutive_failures == 4 + len(expected)


def test_lockout_reason_rounds_up(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig(rig.window.open(T0, "button"))
    rig.fail(8, T0 + 1)  # 8 consecutive: 8 s
    refusal = rig.admit(T0 + 1 + 2.5)
    assert isinstance(refusal, Refusal) and refusal.reason == "retry after 6" and refusal.retry_after == 6


def test_403_wins_over_429(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig(rig.window.open(T0, "button"))
    rig.fail(9, T0 + 1)
    rig(rig.window.close(T0 + 2))
    refusal = rig.admit(T0 + 2)
    assert isinstance(refusal, Refusal) and refusal.close_code == 403


def test_button_and_admin_reset_consecutive_but_boot_does_not(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    window = rig.window
    rig(window.open(T0, "boot"))
    rig.fail(7, T0 + 1)
    rig(window.close(T0 + 2, "admin"))
    rig(window.open(T0 + 3, "boot"))
    assert window.consecutive_failures == 7
    assert isinstance(rig.admit(T0 + 3), Refusal)  # still locked out
    rig(window.open(T0 + 4, "button"))
    assert window.consecutive_failures == 0 and window.locked_until is None
    admitted = rig.admit(T0 + 4)
    assert isinstance(admitted, Admission)
    rig(window.attempt_ended(admitted, T0 + 4))
    rig.fail(6, T0 + 5)
    rig(window.open(T0 + 6, "admin"))
    assert window.consecutive_failures == 0 and window.failures_in_window == 0


def test_button_press_restarts_an_open_window(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    window = rig.window
    rig(window.open(T0, "boot"))
    rig.fail(2, T0 + 1)
    rig(window.open(T0 + 100, "button"))
    assert window.expires_at == T0 + 1000 and window.failures_in_window == 0
    assert WindowOpened("button", T0 + 1000) in rig.events


def test_success_resets_and_closes(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    window = rig.window
    rig(window.open(T0, "boot"))
    rig.fail(3, T0 + 1)
    attempt = rig.admitted(T0 + 2)
    assert rig.succeed(attempt, T0 + 2) is None
    assert not window.is_open and window.consecutive_failures == 0
    assert rig.events[-1] == WindowClosed("paired")
    reborn = rig.reborn()
    assert reborn.window.consecutive_failures == 0
    reborn(reborn.window.restore(T0 + 3))
    assert not reborn.window.is_open


def test_success_of_an_attempt_from_an_earlier_window_keeps_a_reopened_one(tmp_path: Path) -> None:
    # A controller's auth-status can arrive after an admin reopened the window for the next one.
    rig = Rig(tmp_path)
    window = rig.window
    rig(window.open(T0, "boot"))
    began_in = rig.admitted(T0 + 0.5)
    rig(window.open(T0 + 1, "admin"))
    assert rig.succeed(began_in, T0 + 2) is None
    assert window.is_open and window.consecutive_failures == 0
    assert rig.succeed(rig.admitted(T0 + 3, FP2), T0 + 3) is None
    assert not window.is_open and rig.events[-1] == WindowClosed("paired")


def test_exactly_one_pairing_per_window(tmp_path: Path) -> None:
    # Display mode admits attempts side by side; only the first to confirm is committed.
    rig = Rig(tmp_path, PairingMode.DISPLAY)
    window = rig.window
    rig(window.open(T0, "button"))
    first, second = rig.admitted(T0, FP1), rig.admitted(T0, FP2)
    assert window.live_attempts == 2
    assert rig.succeed(first, T0 + 1) is None
    assert rig.succeed(second, T0 + 1) == CLOSED
    assert window.live_attempts == 0
    # ... and an admin reopening does not let the old opening commit a second pairing.
    assert not window.is_open
    rig(window.open(T0 + 2, "admin"))
    late = Admission(attempt=99, controller_fp=FP2, token="", generation=first.generation)
    assert rig.succeed(late, T0 + 3) == CLOSED
    assert window.is_open


def test_one_live_attempt_at_a_time_in_sticker_and_button_modes(tmp_path: Path) -> None:
    for mode in (PairingMode.STICKER, PairingMode.BUTTON):
        rig = Rig(tmp_path / mode.value, mode)
        window = rig.window
        rig(window.open(T0, "button"))
        attempt = rig.admitted(T0)
        refusal = rig.admit(T0 + 0.1)  # the same controller again, on a second connection
        assert refusal == Refusal(429, 1, 1.0, "retry after 1")
        assert window.consecutive_failures == 0 and window.failures_in_window == 0  # not counted
        rig(window.attempt_failed(attempt, T0 + 0.2))
        assert window.live_attempts == 0
        rig(window.attempt_ended(rig.admitted(T0 + 0.3), T0 + 0.3))
        assert window.live_attempts == 0 and isinstance(rig.admit(T0 + 0.4), Admission)


def test_display_mode_admits_attempts_side_by_side_within_the_window_budget(tmp_path: Path) -> None:
    rig = Rig(tmp_path, PairingMode.DISPLAY)
    rig(rig.window.open(T0, "button"))
    assert isinstance(rig.admit(T0, FP1), Admission) and isinstance(rig.admit(T0, FP2), Admission)
    rig.fail(3, T0)
    admitted = [rig.admit(T0, bytes([i]) * 32) for i in range(3, 40)]
    assert sum(isinstance(v, Admission) for v in admitted) == MAX_FAILURES_PER_WINDOW - 3 - 2
    assert admitted[-1] == Refusal(429, 1, 1.0, "retry after 1")  # never more guesses than 20 a window


def test_a_stuck_attempt_frees_its_slot_after_its_lease(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig(rig.window.open(T0, "button"))
    rig.admitted(T0)
    assert isinstance(rig.admit(T0 + ATTEMPT_LEASE_S - 1), Refusal)
    assert isinstance(rig.admit(T0 + ATTEMPT_LEASE_S), Admission)


def test_twenty_guesses_take_the_documented_time_whatever_the_parallelism(tmp_path: Path) -> None:
    # An attacker with many connections: each instant, every handshake it can start is refused but one.
    rig = Rig(tmp_path)
    window = rig.window
    rig(window.open(T0, "button"))
    now, guesses = T0, 0
    while window.is_open:
        verdicts = [rig.admit(now, bytes([i]) * 32) for i in range(25)]
        admitted = [v for v in verdicts if isinstance(v, Admission)]
        assert len(admitted) <= 1
        for attempt in admitted:
            rig(window.attempt_failed(attempt, now))
            guesses += 1
        now += 0.25
    assert guesses == MAX_FAILURES_PER_WINDOW
    assert now - T0 >= 603  # the waits after failures 5..19 (docs/security.md)


def test_pairing_again_ignores_a_closed_window_but_not_the_backoff(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    window = rig.window
    assert rig.admit(T0) == CLOSED
    again = rig.admitted(T0, trusted=True)
    assert again.trusted
    assert isinstance(rig.admit(T0, FP2, trusted=True), Refusal)  # one live attempt
    rig(window.attempt_failed(again, T0))
    assert window.consecutive_failures == 1 and window.failures_in_window == 0  # counted; no window
    rig.fail(4, T0 + 1)
    refusal = rig.admit(T0 + 1.5, trusted=True)
    assert isinstance(refusal, Refusal) and refusal.close_code == 429
    # success keeps the window as it is (closed here, open below) and resets the failures
    success = rig.admitted(T0 + 2, trusted=True)
    assert rig.succeed(success, T0 + 2) is None
    assert not window.is_open and window.consecutive_failures == 0
    rig(window.open(T0 + 3, "admin"))
    assert rig.succeed(rig.admitted(T0 + 4, trusted=True), T0 + 4) is None
    assert window.is_open and WindowClosed("paired") not in rig.events
    assert rig.succeed(rig.admitted(T0 + 5, FP2), T0 + 5) is None  # a new controller still pairs
    assert not window.is_open


def test_reboots_grant_no_fresh_guesses(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig(rig.window.open(T0, "boot"))
    rig.fail(MAX_FAILURES_PER_WINDOW, T0 + 1)
    assert not rig.window.is_open
    # Restarts within a day of the last failure: the boot window does not open again.
    for hours in (0.1, 1, 23):
        reborn = rig.reborn()
        reborn(reborn.window.restore(T0 + hours * 3600))
        reborn(reborn.window.open(T0 + hours * 3600, "boot"))
        assert not reborn.window.is_open and reborn.events == []
        assert reborn.admit(T0 + hours * 3600) == CLOSED
    # A day later a buttonless device opens again at its next start, with a fresh budget ...
    later = T0 + 1 + BOOT_BUDGET_REFILL_S
    reborn = rig.reborn()
    reborn(reborn.window.open(later, "boot"))
    assert reborn.window.is_open and reborn.window.failures_in_window == 0
    assert reborn.window.consecutive_failures == MAX_FAILURES_PER_WINDOW  # ... and its backoff
    # ... and a button press (or an admin) opens one at once.
    pressed = rig.reborn()
    pressed(pressed.window.open(T0 + 60, "button"))
    assert pressed.window.is_open and pressed.window.failures_in_window == 0


def test_a_window_closed_by_failures_is_resumed_closed_with_its_counters(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig(rig.window.open(T0, "boot"))
    rig.fail(12, T0 + 1)
    reborn = rig.reborn()
    reborn(reborn.window.restore(T0 + 100))
    assert reborn.window.is_open and reborn.window.failures_in_window == 12
    reborn.fail(8, T0 + 200)
    assert not reborn.window.is_open
    third = reborn.reborn()
    third(third.window.open(T0 + 300, "boot"))
    assert not third.window.is_open and third.window.failures_in_window == MAX_FAILURES_PER_WINDOW


def test_failures_are_written_at_once_and_only_changes_are_written(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    window = rig.window
    opened = window.open(T0, "boot")
    assert opened.state is not None and not opened.sync
    failed = window.attempt_failed(rig.attempt(), T0 + 1)
    assert failed.state is not None and failed.sync and failed.state.consecutive_failures == 1
    attempt, admitted = window.admit(T0 + 2, FP1)
    assert isinstance(attempt, Admission) and admitted.state is None  # a live attempt is not persisted
    assert window.attempt_ended(attempt, T0 + 2).state is None


def test_writes_in_the_background_land_on_flush(tmp_path: Path) -> None:
    thread = StateWriterThread()
    store = WindowStore(tmp_path / "w.json", background=thread)
    window = PairingWindow(mode=PairingMode.STICKER)
    update = window.open(T0, "admin")
    assert update.state is not None
    store.save(update.state, sync=update.sync)
    store.flush()
    reborn = PairingWindow(mode=PairingMode.STICKER, state=WindowStore(tmp_path / "w.json").load())
    reborn.restore(T0 + 1)
    assert reborn.is_open
    failed = window.attempt_failed(Admission(attempt=1, controller_fp=FP1, token=""), T0 + 2)
    assert failed.state is not None
    store.save(failed.state, sync=failed.sync)  # failures are written at once, not in the background
    assert WindowStore(tmp_path / "w.json").load() == failed.state
    store.shutdown()
    thread.close()


def test_button_mode_boot_does_not_open(tmp_path: Path) -> None:
    rig = Rig(tmp_path, PairingMode.BUTTON)
    rig(rig.window.open(T0, "boot"))
    assert not rig.window.is_open and rig.events == []
    rig(rig.window.open(T0, "button"))
    assert rig.window.is_open


def test_button_mode_conflict_aborts_both(tmp_path: Path) -> None:
    rig = Rig(tmp_path, PairingMode.BUTTON)
    window = rig.window
    rig(window.open(T0, "button"))
    first = rig.admitted(T0 + 1, FP1)
    rig(window.attempt_ended(first, T0 + 1))
    rig(window.attempt_ended(rig.admitted(T0 + 2, FP1), T0 + 2))  # the same controller again is fine
    live = rig.admitted(T0 + 2.5, FP1)  # live when the second controller comes
    refusal = rig.admit(T0 + 3, FP2)
    assert isinstance(refusal, Refusal) and refusal.close_code == 401 and refusal.auth_result == 1
    assert rig.actions == [PairingConflict(abort_fp=FP1)]  # an action for the runner, not an event
    rig(window.attempt_ended(live, T0 + 3))  # what the runner does: abort that attempt, not counted
    assert rig.events[-1] == WindowClosed("conflict")
    assert not window.is_open
    assert window.consecutive_failures == 0
    # a new press starts afresh with any controller
    rig(window.open(T0 + 10, "button"))
    assert isinstance(rig.admit(T0 + 11, FP2), Admission)


def test_button_mode_first_controller_survives_restart(tmp_path: Path) -> None:
    rig = Rig(tmp_path, PairingMode.BUTTON)
    rig(rig.window.open(T0, "button"))
    rig(rig.window.attempt_ended(rig.admitted(T0 + 1, FP1), T0 + 1))
    reborn = rig.reborn(PairingMode.BUTTON)
    reborn(reborn.window.restore(T0 + 2))
    assert reborn.window.is_open
    refusal = reborn.admit(T0 + 3, FP2)
    assert isinstance(refusal, Refusal) and refusal.close_code == 401


def test_state_file_is_private_and_readable(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig(rig.window.open(T0, "boot"))
    rig.fail(1, T0 + 1)
    path = tmp_path / "state" / "window.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = json.loads(path.read_text())
    assert data["open"] is True and data["consecutive_failures"] == 1
    assert data["last_failure_at"] == T0 + 1
    assert rig.window.token not in path.read_text()
    assert WindowState.from_json(data) == rig.window.state


def test_corrupt_state_file_is_a_state_error(tmp_path: Path) -> None:
    path = tmp_path / "w.json"
    for content in ("{", "[]", '{"version": 1}', '{"version": 1, "open": "yes"}'):
        path.write_text(content)
        with pytest.raises(StateError):
            WindowStore(path).load()


def test_open_rejects_unknown_reason(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    with pytest.raises(ValueError):
        rig.window.open(T0, "timer")  # type: ignore[arg-type]
