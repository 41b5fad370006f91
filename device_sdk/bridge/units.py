"""Catalog units to Home Assistant's unit, device class and state class (pure tables).

Home Assistant accepts a ``device_class`` only with its own spelling of the unit (``°C``, not ``C``) and
only with some state classes; a pair it does not accept is a configuration error there. So a unit maps to
a device class only where the pair is one Home Assistant lists (checked by ``make test-ha`` against the
installed release). Units that map to nothing are passed through as ``unit_of_measurement`` alone.

A few units are shared by several quantities (``%`` is humidity, moisture or a battery level; ``ppm`` is
CO2 or something else): the channel's name decides, and without a telling name there is no device class.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class SensorClass:
    """How Home Assistant should present a numeric sensor."""

    unit: str | None
    device_class: str | None
    state_class: str


_MEASUREMENT: Final = "measurement"

# catalog unit (as written, then lower-cased) -> (Home Assistant unit, device class)
_UNITS: Final[dict[str, tuple[str, str]]] = {
    "c": ("°C", "temperature"),
    "°c": ("°C", "temperature"),
    "degc": ("°C", "temperature"),
    "celsius": ("°C", "temperature"),
    "f": ("°F", "temperature"),
    "°f": ("°F", "temperature"),
    "k": ("K", "temperature"),
    "db": ("dB", "sound_pressure"),
    "dba": ("dBA", "sound_pressure"),
    "dbm": ("dBm", "signal_strength"),
    "lx": ("lx", "illuminance"),
    "lux": ("lx", "illuminance"),
    "pa": ("Pa", "pressure"),
    "hpa": ("hPa", "pressure"),
    "kpa": ("kPa", "pressure"),
    "bar": ("bar", "pressure"),
    "mbar": ("mbar", "pressure"),
    "psi": ("psi", "pressure"),
    "mmhg": ("mmHg", "pressure"),
    "inhg": ("inHg", "pressure"),
    "w": ("W", "power"),
    "kw": ("kW", "power"),
    "mw": ("mW", "power"),
    "wh": ("Wh", "energy"),
    "kwh": ("kWh", "energy"),
    "v": ("V", "voltage"),
    "mv": ("mV", "voltage"),
    "a": ("A", "current"),
    "ma": ("mA", "current"),
    "hz": ("Hz", "frequency"),
    "khz": ("kHz", "frequency"),
    "mhz": ("MHz", "frequency"),
    "mm": ("mm", "distance"),
    "cm": ("cm", "distance"),
    "m": ("m", "distance"),
    "km": ("km", "distance"),
    "s": ("s", "duration"),
    "ms": ("ms", "duration"),
    "min": ("min", "duration"),
    "h": ("h", "duration"),
    "m/s": ("m/s", "speed"),
    "km/h": ("km/h", "speed"),
    "g": ("g", "weight"),
    "kg": ("kg", "weight"),
}
"""Units whose device class is certain, by their lower-cased spelling (``_EXACT`` first: ``MW`` is not ``mW``)."""

_EXACT: Final[dict[str, tuple[str, str]]] = {
    "MW": ("MW", "power"),
    "MV": ("MV", "voltage"),
}
"""Spellings that lower-casing would confuse with the milli- units."""

_TOTAL_INCREASING: Final = frozenset({"energy"})
"""Device classes that count up (meters): Home Assistant wants ``total_increasing`` for them."""

# For units shared by several quantities: words in the channel name -> device class.
_PERCENT_HINTS: Final = (("humid", "humidity"), ("moist", "moisture"), ("soil", "moisture"), ("batt", "battery"))
_PPM_HINTS: Final = (("co2", "carbon_dioxide"), ("carbon_dioxide", "carbon_dioxide"))

_BINARY_HINTS: Final = (
    ("motion", "motion"),
    ("pir", "motion"),
    ("occupan", "occupancy"),
    ("presence", "presence"),
    ("door", "door"),
    ("window", "window"),
    ("smoke", "smoke"),
    ("leak", "moisture"),
    ("water", "moisture"),
    ("vibration", "vibration"),
    ("sound", "sound"),
)
"""Words in a boolean sensor's name -> binary_sensor device class."""


def _hint(name: str, hints: tuple[tuple[str, str], ...]) -> str | None:
    lowered = name.lower()
    for word, device_class in hints:
        if word in lowered:
            return device_class
    return None


def sensor_class(unit: str | None, name: str) -> SensorClass:
    """Unit, device class and state class of a numeric sensor named ``name`` measured in ``unit``."""
    if not unit:
        return SensorClass(None, None, _MEASUREMENT)
    cleaned = unit.strip()
    if cleaned == "%":
        return SensorClass("%", _hint(name, _PERCENT_HINTS), _MEASUREMENT)
    if cleaned.lower() == "ppm":
        return SensorClass("ppm", _hint(name, _PPM_HINTS), _MEASUREMENT)
    mapped = _EXACT.get(cleaned) or _UNITS.get(cleaned.lower())
    if mapped is None:
        return SensorClass(cleaned, None, _MEASUREMENT)
    ha_unit, device_class = mapped
    state_class = "total_increasing" if device_class in _TOTAL_INCREASING else _MEASUREMENT
    return SensorClass(ha_unit, device_class, state_class)


def binary_sensor_class(name: str) -> str | None:
    """The binary_sensor device class a boolean sensor's name suggests (``motion`` -> ``motion``), or None."""
    return _hint(name, _BINARY_HINTS)


def device_class_pairs() -> list[tuple[str, str, str]]:
    """Every (unit, device class, state class) this module can produce: ``make test-ha`` checks each one
    against the installed Home Assistant."""
    pairs = set(_UNITS.values()) | set(_EXACT.values())
    pairs |= {("%", d) for _, d in _PERCENT_HINTS} | {("ppm", d) for _, d in _PPM_HINTS}
    return sorted((u, d, "total_increasing" if d in _TOTAL_INCREASING else _MEASUREMENT) for u, d in pairs)
