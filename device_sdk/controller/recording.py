"""Saving a byte stream that a controller receives: a WAV file for 16-bit PCM audio, the raw bytes otherwise.

::

    async with await controller.connect("Baby Monitor") as conn:
        recorder = None
        async for chunk in conn.stream("audio"):
            recorder = recorder or StreamRecorder.to_file(Path("baby.wav"), conn.stream_format("audio"), seconds=10)
            if recorder.write(chunk.data):
                break
        recorder.close()

The stream's format frame (``{"codec": "pcm_s16le", "rate": 16000, "channels": 1}``) gives the WAV header
its sample rate and channel count; any other codec is written as it comes.
"""

from __future__ import annotations

import time
import wave
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from ..channels import ChannelDescriptor, StreamFormat
from ..errors import ConfigError

__all__ = ["PCM_CODEC", "StreamRecorder", "format_from_catalog"]

PCM_CODEC = "pcm_s16le"
"""The codec name of signed 16-bit little-endian PCM audio: saved as WAV."""
_SAMPLE_BYTES = 2


def format_from_catalog(channel: ChannelDescriptor) -> StreamFormat | None:
    """The format a stream's catalog entry announces (its ``"format"`` extension), if any."""
    raw = channel.extra.get("format")
    if not isinstance(raw, Mapping) or not isinstance(raw.get("codec"), str):
        return None
    return StreamFormat(
        codec=raw["codec"], params={k: v for k, v in raw.items() if isinstance(k, str) and k != "codec"}
    )


def _positive_int(params: Mapping[str, Any], key: str, default: int) -> int:
    value = params.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"the stream's format has an invalid {key} ({value!r}): it cannot be saved as audio")
    return value


class StreamRecorder:
    """Writes the chunks of one stream; :meth:`write` tells when the wanted length is reached.

    Create it with :meth:`to_file` or :meth:`to_stream`; :meth:`close` finishes the file (the WAV header
    holds the length), also after an interruption.
    """

    def __init__(
        self, out: IO[bytes], fmt: StreamFormat | None, *, seconds: float | None, wav: bool, owns: bool
    ) -> None:
        self.format = fmt
        self._out = out
        self._owns = owns
        self._wave: wave.Wave_write | None = None
        self.is_wav = False
        """Whether the bytes are written as a WAV file."""
        self._frame_bytes = 0
        self._rate = 0
        self._pending = b""
        self._limit: int | None = None
        """Bytes to write for PCM audio with a length (exact, whatever the network's timing)."""
        self._deadline: float | None = None
        """Otherwise, the time to stop at."""
        self.bytes = 0
        self._started = time.monotonic()
        if fmt is not None and fmt.codec == PCM_CODEC:
            channels = _positive_int(fmt.params, "channels", 1)
            self._rate = _positive_int(fmt.params, "rate", 0) if "rate" in fmt.params else 0
            self._frame_bytes = channels * _SAMPLE_BYTES
            if wav:
                if not self._rate:
                    raise ConfigError("the stream's format has no sample rate: save it with raw bytes instead")
                self._wave = wave.open(out, "wb")  # noqa: SIM115 - closed by close()
                self.is_wav = True
                self._wave.setnchannels(channels)
                self._wave.setsampwidth(_SAMPLE_BYTES)
                self._wave.setframerate(self._rate)
        if seconds is not None:
            if self._rate and self._frame_bytes:
                self._limit = round(seconds * self._rate) * self._frame_bytes
            else:
                self._deadline = self._started + seconds

    @classmethod
    def to_file(
        cls, path: Path, fmt: StreamFormat | None, *, seconds: float | None = None, raw: bool = False
    ) -> StreamRecorder:
        """Record into ``path``: WAV for PCM audio (unless ``raw``), the bytes as they come otherwise."""
        out = Path(path).open("wb")  # noqa: SIM115 - closed by close()
        try:
            return cls(out, fmt, seconds=seconds, wav=not raw, owns=True)
        except BaseException:
            out.close()
            raise

    @classmethod
    def to_stream(cls, out: IO[bytes], fmt: StreamFormat | None, *, seconds: float | None = None) -> StreamRecorder:
        """Write the raw bytes to ``out`` (a pipe into a player, say); ``out`` is flushed, not closed."""
        return cls(out, fmt, seconds=seconds, wav=False, owns=False)

    @property
    def seconds(self) -> float | None:
        """How much audio was written, for PCM with a known rate; else None."""
        if not self._rate or not self._frame_bytes:
            return None
        return self.bytes / (self._rate * self._frame_bytes)

    def write(self, data: bytes) -> bool:
        """Write one chunk (cut at the wanted length); True once that length has been written."""
        if self._limit is not None:
            data = data[: self._limit - self.bytes]
        if self._wave is not None:
            data = self._pending + data
            whole = len(data) - len(data) % self._frame_bytes
            data, self._pending = data[:whole], data[whole:]
            self._wave.writeframes(data)
        else:
            self._out.write(data)
            self._out.flush()
        self.bytes += len(data)
        if self._limit is not None:
            return self.bytes >= self._limit
        return self._deadline is not None and time.monotonic() >= self._deadline

    def close(self) -> None:
        """Finish the WAV header and close the file (a stream given to :meth:`to_stream` is left open)."""
        if self._wave is not None:
            self._wave.close()  # patches the header's lengths; does not close a file it was given
            self._wave = None
        if self._owns:
            self._out.close()

    def summary(self) -> dict[str, Any]:
        """What was saved: codec, parameters, bytes, seconds of audio (JSON-ready)."""
        return {
            "codec": self.format.codec if self.format is not None else None,
            "params": dict(self.format.params) if self.format is not None else {},
            "bytes": self.bytes,
            "seconds": self.seconds,
            "wav": self.is_wav,
        }

    def describe(self) -> str:
        """What was saved, in words: ``5.0 s of pcm_s16le audio (16000 Hz, 1 channel) as WAV``."""
        seconds = self.seconds
        if self.format is None:
            return f"{self.bytes} bytes"
        if seconds is None:
            return f"{self.bytes} bytes of {self.format.codec}"
        channels = self._frame_bytes // _SAMPLE_BYTES
        what = f"{seconds:.1f} s of {self.format.codec} audio ({self._rate} Hz, {channels} channel"
        what += "s)" if channels != 1 else ")"
        return what + (" as WAV" if self.is_wav else "")
