"""Simulated signals for the ``simulated`` part type (pure; seeded RNGs for repeatable runs).

- ``drift``: a random walk pulled back toward ``start``, kept within min..max (a room temperature).
- ``noise``: Gaussian noise around ``start`` with occasional bursts at ``burst_level`` (a sound level).

:class:`SimulatedSensor` is a sampled source like any other part: the device code that reads a
real sensor reads it the same way.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from device_sdk.hardware.profile import PartConfig
from device_sdk.hardware.spec import ChannelSpec

__all__ = ["DriftSignal", "NoiseSignal", "Signal", "SimulatedSensor"]


def _clamp(value: float, lo: float, hi: float) -> float:
    return min(hi, max(lo, value))


@dataclass
class DriftSignal:
    """A mean-reverting random walk within ``lo..hi``."""

    lo: float
    hi: float
    start: float
    step: float
    rng: random.Random
    value: float = float("nan")

    def __post_init__(self) -> None:
        self.value = _clamp(self.start, self.lo, self.hi)

    def next(self) -> float:
        """The next sample."""
        v = self.value + self.rng.gauss(0.0, self.step) + (self.start - self.value) * 0.02
        if v > self.hi:  # reflect at the edges so the walk does not stick there
            v = 2 * self.hi - v
        elif v < self.lo:
            v = 2 * self.lo - v
        self.value = _clamp(v, self.lo, self.hi)
        return self.value


@dataclass
class NoiseSignal:
    """Noise around ``base``, with bursts near ``burst_level`` lasting ``burst_samples``."""

    lo: float
    hi: float
    base: float
    noise: float
    burst_level: float
    burst_chance: float
    burst_samples: int
    rng: random.Random
    _burst_left: int = 0

    def next(self) -> float:
        """The next sample."""
        if self._burst_left == 0 and self.rng.random() < self.burst_chance:
            self._burst_left = max(1, self.burst_samples)
        level = self.base
        if self._burst_left:
            self._burst_left -= 1
            level = self.burst_level
        return _clamp(level + self.rng.gauss(0.0, self.noise), self.lo, self.hi)


Signal = DriftSignal | NoiseSignal


class SimulatedSensor:
    """A sampled source whose readings come from a simulated signal.

    :meth:`force` pins the reading to a value (tests, demos); ``force(None)`` resumes the signal.
    """

    def __init__(self, *, spec: ChannelSpec, signal: Signal) -> None:
        self.spec = spec
        self.signal = signal
        self._forced: float | None = None

    @classmethod
    def from_part(cls, part: PartConfig, *, rng: random.Random | None = None) -> SimulatedSensor:
        """Build from a ``simulated`` part (``signal``, ``start``, ``step``, ``noise``, ``burst_*``)."""
        o = part.options
        assert part.min is not None and part.max is not None  # the profile requires them
        lo, hi = part.min, part.max
        if rng is None:
            rng = random.Random(o.get("seed"))
        signal: Signal
        if o["signal"] == "drift":
            start = (lo + hi) / 2 if o["start"] is None else float(o["start"])
            signal = DriftSignal(lo=lo, hi=hi, start=start, step=float(o["step"]), rng=rng)
        else:
            base = lo + 0.3 * (hi - lo) if o["start"] is None else float(o["start"])
            burst = base + 0.6 * (hi - base) if o["burst_level"] is None else float(o["burst_level"])
            rate = part.rate_hz or 1.0
            signal = NoiseSignal(
                lo=lo,
                hi=hi,
                base=base,
                noise=float(o["noise"]),
                burst_level=burst,
                burst_chance=float(o["burst_chance"]),
                burst_samples=round(float(o["burst_s"]) * rate),
                rng=rng,
            )
        return cls(spec=part.spec, signal=signal)

    def read(self) -> float:
        """The next sample (or the forced value), rounded to 2 decimals."""
        if self._forced is not None:
            return self._forced
        return round(self.signal.next(), 2)

    def force(self, value: float | None) -> None:
        """Report ``value`` from now on, or resume the signal with None."""
        self._forced = None if value is None else float(value)

    def close(self) -> None:
        """Nothing to release."""
