"""Choosing a gpiozero pin factory, and the mock factory the simulator and tests run on."""

from __future__ import annotations

import importlib
import logging
import os
from collections import deque
from collections.abc import Mapping
from typing import Any

from gpiozero.pins.mock import MockFactory, MockPWMPin, PinState

from device_sdk.errors import HardwareError
from device_sdk.hardware.profile import PIN_FACTORY_NAMES

__all__ = ["ENV_VAR", "FIX_HINT", "BoundedMockPWMPin", "make_mock_factory", "select_pin_factory"]

_log = logging.getLogger(__name__)

ENV_VAR = "GPIOZERO_PIN_FACTORY"
FIX_HINT = (
    "install python3-lgpio (apt) or `pip install lgpio` (device_sdk's pi extra), "
    "or set GPIOZERO_PIN_FACTORY=mock to simulate the pins"
)
_FACTORIES: Mapping[str, tuple[str, str]] = {
    "lgpio": ("gpiozero.pins.lgpio", "LGPIOFactory"),
    "rpigpio": ("gpiozero.pins.rpigpio", "RPiGPIOFactory"),
    "pigpio": ("gpiozero.pins.pigpio", "PiGPIOFactory"),
    "native": ("gpiozero.pins.native", "NativeFactory"),
}
_AUTO_ORDER = ("lgpio", "rpigpio", "pigpio")  # lgpio first: it works on every Pi, the Pi 5 included
_HISTORY = 4096


class BoundedMockPWMPin(MockPWMPin):  # type: ignore[misc]
    """gpiozero's PWM-capable mock pin, keeping only the last 4096 entries of ``states``.

    The stock mock pin appends every change to a list forever; a simulated device that blinks
    an LED for days would grow without bound. Works with ``assert_states`` like the original.
    """

    def clear_states(self) -> None:
        super().clear_states()
        self.states: deque[PinState] = deque(self.states, maxlen=_HISTORY)


def make_mock_factory() -> Any:
    """A gpiozero ``MockFactory`` whose pins support PWM and keep a bounded history."""
    return MockFactory(pin_class=BoundedMockPWMPin)


def _load(name: str) -> Any:
    if name == "mock":
        return make_mock_factory()
    mod_name, cls_name = _FACTORIES[name]
    module = importlib.import_module(mod_name)
    return getattr(module, cls_name)()


def _why_not(name: str, exc: BaseException) -> str:
    """Why pin factory ``name`` did not load, in words (the exception's own text goes to the debug log)."""
    _log.debug("pin factory %s: %r", name, exc)
    if isinstance(exc, ImportError):
        return f"{name} is not installed"
    return f"{name} cannot reach the GPIO pins here (not a Raspberry Pi, or no access to /dev/gpiochip*)"


def select_pin_factory(
    name: str | None = None,
    *,
    default: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Any:
    """A gpiozero pin factory.

    ``name`` (an explicit choice) wins, then the ``GPIOZERO_PIN_FACTORY`` environment variable,
    then ``default`` (a board profile's ``pin_factory``), then the first of lgpio, rpigpio and
    pigpio that loads. Names: mock, lgpio, rpigpio, pigpio, native. ``mock`` gives
    :func:`make_mock_factory`. Raises :class:`HardwareError` naming the fix when none loads.
    """
    env = os.environ if environ is None else environ
    chosen = name or env.get(ENV_VAR) or default
    if chosen:
        chosen = chosen.strip().lower()
        if chosen not in PIN_FACTORY_NAMES:
            raise HardwareError(f"unknown pin factory {chosen!r}: use one of {', '.join(PIN_FACTORY_NAMES)}")
        try:
            return _load(chosen)
        except Exception as exc:
            raise HardwareError(f"the GPIO pin factory {_why_not(chosen, exc)}: {FIX_HINT}") from exc
    failures = []
    for candidate in _AUTO_ORDER:
        try:
            factory = _load(candidate)
        except Exception as exc:
            failures.append(_why_not(candidate, exc))
            continue
        _log.debug("using pin factory %s", candidate)
        return factory
    raise HardwareError(f"no GPIO pin factory works here ({'; '.join(failures)}): {FIX_HINT}")
