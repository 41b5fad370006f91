"""Running actuator and admin calls: the one place where handlers are called (thin edge).

:func:`start_call` runs a call's handler at once and, when it is async, hands what is left to wait
for to the caller's ``spawn`` (the device does this: a synchronous handler's answer is ready before
the datagram that asked is done with, and leaves with its acknowledgement). :func:`run_call` runs one
:class:`~device_sdk.channels.calls.ActuatorCall` whose handler may be sync or async in a task of its
own; :func:`run_call_sync` runs a call whose handler is known to be sync (tests, sync applications).
None ever raises for a handler's failure: the failure becomes the answer.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from .calls import ActuatorCall


def start_call(
    call: ActuatorCall,
    *,
    clock: Callable[[], float],
    spawn: Callable[[Coroutine[Any, Any, None]], object],
) -> None:
    """Run ``call``'s handler now. A synchronous handler's call is complete (or failed) when this
    returns; an async handler's awaitable is awaited by the coroutine passed to ``spawn``, which
    completes the call then."""
    try:
        result = call.invoke()
    except Exception as exc:
        call.fail_with(exc, clock())
        return
    if inspect.isawaitable(result):
        spawn(_finish(call, result, clock, None))
    else:
        call.complete(result, clock())


async def _finish(
    call: ActuatorCall, result: Awaitable[object], clock: Callable[[], float], timeout: float | None
) -> None:
    """Await an async handler's ``result`` and complete or fail ``call`` with it."""
    try:
        value = await asyncio.wait_for(result, timeout) if timeout is not None else await result
    except asyncio.CancelledError:
        call.fail("failed", "cancelled", clock())
        raise
    except TimeoutError as exc:
        call.fail_with(exc if str(exc) else TimeoutError("timed out"), clock())
    except Exception as exc:
        call.fail_with(exc, clock())
    else:
        call.complete(value, clock())


async def run_call(call: ActuatorCall, *, clock: Callable[[], float] = time.time, timeout: float | None = None) -> None:
    """Run ``call``'s handler, await it when it is async, and complete or fail the call.

    ``timeout`` (seconds) bounds an async handler: when it runs out the call fails with
    ``"failed"`` / ``"timed out"``. If the task running this is cancelled, the call fails with
    ``"failed"`` / ``"cancelled"`` and the cancellation propagates.
    """
    try:
        result = call.invoke()
    except asyncio.CancelledError:
        call.fail("failed", "cancelled", clock())
        raise
    except Exception as exc:
        call.fail_with(exc, clock())
        return
    if inspect.isawaitable(result):
        await _finish(call, result, clock, timeout)
    else:
        call.complete(result, clock())


def run_call_sync(call: ActuatorCall, now: float) -> None:
    """Run ``call``'s handler synchronously and complete or fail the call at ``now``.

    A handler that returns an awaitable fails the call with ``"failed"`` (use :func:`run_call`).
    """
    try:
        result = call.invoke()
    except Exception as exc:
        call.fail_with(exc, now)
        return
    if inspect.isawaitable(result):
        close = getattr(result, "close", None)
        if callable(close):
            close()
        call.fail("failed", "the handler is async; run it with run_call", now)
        return
    call.complete(result, now)
