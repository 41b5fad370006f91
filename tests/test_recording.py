"""Saving a byte stream: WAV for pcm_s16le with the format's rate and channels, raw bytes otherwise, cut
at exactly the length asked for (real files, the stdlib's wave module to read them back)."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import pytest

from device_sdk.channels import ChannelDescriptor, StreamFormat
from device_sdk.controller.recording import StreamRecorder, format_from_catalog
from device_sdk.errors import ConfigError

STEREO = StreamFormat(codec="pcm_s16le", params={"rate": 8000, "channels": 2})


def test_pcm_becomes_wav_with_whole_frames_whatever_the_chunking(tmp_path: Path) -> None:
    path = tmp_path / "a.wav"
    recorder = StreamRecorder.to_file(path, STEREO)
    data = bytes(range(256)) * 40  # 10240 bytes = 2560 frames of 4 bytes
    for cut in range(0, len(data), 999):  # chunks that split frames
        assert recorder.write(data[cut : cut + 999]) is False
    recorder.close()
    with wave.open(str(path), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth(), wav.getnframes()) == (8000, 2, 2, 2560)
        assert wav.readframes(2560) == data
    assert recorder.is_wav and recorder.seconds == pytest.approx(2560 / 8000)
    assert recorder.describe() == "0.3 s of pcm_s16le audio (8000 Hz, 2 channels) as WAV"


def test_a_length_in_seconds_is_cut_exactly(tmp_path: Path) -> None:
    recorder = StreamRecorder.to_file(tmp_path / "b.wav", STEREO, seconds=0.5)
    written = 0
    while not recorder.write(b"\x01\x02" * 333):
        written += 1
        assert written < 100
    recorder.close()
    with wave.open(str(tmp_path / "b.wav"), "rb") as wav:
        assert wav.getnframes() == 4000
    assert recorder.summary() == {
        "codec": "pcm_s16le",
        "params": {"rate": 8000, "channels": 2},
        "bytes": 16000,
        "seconds": 0.5,
        "wav": True,
    }


def test_other_codecs_and_raw_requests_are_written_as_they_come(tmp_path: Path) -> None:
    opus = StreamRecorder.to_file(tmp_path / "c.opus", StreamFormat(codec="opus", params={"rate": 48000}))
    opus.write(b"RIFF? no: opus")
    opus.close()
    assert (tmp_path / "c.opus").read_bytes() == b"RIFF? no: opus" and not opus.is_wav
    assert opus.describe() == "14 bytes of opus" and opus.seconds is None
    raw = StreamRecorder.to_file(tmp_path / "d.pcm", STEREO, raw=True, seconds=0.001)
    assert raw.write(b"\x00" * 100) is True  # 8 frames of 4 bytes: cut at 32
    raw.close()
    assert (tmp_path / "d.pcm").stat().st_size == 32
    out = io.BytesIO()
    piped = StreamRecorder.to_stream(out, None)
    piped.write(b"abc")
    piped.close()
    assert out.getvalue() == b"abc" and not out.closed and piped.describe() == "3 bytes"


def test_a_pcm_format_without_a_usable_rate_is_refused(tmp_path: Path) -> None:
    for params in ({}, {"rate": 0}, {"rate": 16000, "channels": "two"}):
        with pytest.raises(ConfigError, match=r"cannot be saved as audio|no sample rate"):
            StreamRecorder.to_file(tmp_path / "e.wav", StreamFormat(codec="pcm_s16le", params=params))


def test_the_format_announced_in_the_catalog() -> None:
    audio = ChannelDescriptor.from_frame(
        {"name": "audio", "kind": "stream", "type": "bytes", "format": {"codec": "pcm_s16le", "rate": 16000}}
    )
    assert format_from_catalog(audio) == StreamFormat(codec="pcm_s16le", params={"rate": 16000})
    plain = ChannelDescriptor.from_frame({"name": "log", "kind": "stream", "type": "bytes"})
    assert format_from_catalog(plain) is None
