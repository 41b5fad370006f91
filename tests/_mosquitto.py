"""A real Mosquitto broker for the bridge tests, and an MQTT client that records what it sees.

:class:`Mosquitto` starts ``/usr/sbin/mosquitto`` on a free loopback port from a config file in a temp
directory and stops it by its PID. :class:`Recorder` subscribes with aiomqtt and keeps every message.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import json
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt

__all__ = ["MOSQUITTO", "Message", "Mosquitto", "Recorder", "free_port", "terminate"]

MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def make_tls_files(directory: Path, ca_file: Path) -> tuple[Path, Path]:
    """A CA (written to ``ca_file``) and a server certificate and key for localhost / 127.0.0.1 signed by it."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def build(subject: str, issuer: str, key: Any, signer: Any, *, ca: bool) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_cert = build("test CA", "test CA", ca_key, ca_key, ca=True)
    server_cert = build("localhost", "test CA", server_key, ca_key, ca=False)
    cert, key = directory / "server.pem", directory / "server.key"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key.chmod(0o600)
    return cert, key


def terminate(proc: subprocess.Popen[Any], timeout: float) -> int:
    """SIGTERM ``proc`` (if it still runs), wait up to ``timeout`` s, then SIGKILL; its exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()


@dataclass
class Mosquitto:
    """One broker process; ``start()`` again after ``stop()`` reuses the port (a broker restart)."""

    directory: Path
    port: int = field(default_factory=free_port)
    users: dict[str, str] = field(default_factory=dict)
    tls: bool = False
    """Also listen with TLS on :attr:`tls_port` (a certificate for localhost from :attr:`ca_file`)."""
    tls_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def ca_file(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        assert MOSQUITTO is not None
        self.directory.mkdir(parents=True, exist_ok=True)
        lines = [
            f"listener {self.port} 127.0.0.1",
            "persistence false",
            # Without it QoS 1 bursts stall on Nagle + delayed ACK (40 ms per round trip).
            "set_tcp_nodelay true",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "max_queued_messages 100000",
            # As root, mosquitto switches to the "mosquitto" user, who cannot read files in our temp dir.
            f"user {getpass.getuser()}",
        ]
        if self.tls:
            cert, key = make_tls_files(self.directory, self.ca_file)
            lines += [
                "per_listener_settings false",
                f"listener {self.tls_port} 127.0.0.1",
                f"cafile {self.ca_file}",
                f"certfile {cert}",
                f"keyfile {key}",
            ]
        if self.users:
            passwd = self.directory / "passwd"
            passwd.write_text("")
            passwd.chmod(0o600)
            for user, password in self.users.items():
                subprocess.run(["mosquitto_passwd", "-b", str(passwd), user, password], check=True, capture_output=True)
            lines += ["allow_anonymous false", f"password_file {passwd}"]
        else:
            lines.append("allow_anonymous true")
        conf = self.directory / "mosquitto.conf"
        conf.write_text("\n".join(lines) + "\n")
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"mosquitto exited: {self.proc.stderr.read().decode()}")  # type: ignore[union-attr]
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return
            assert time.monotonic() < deadline, "mosquitto did not start listening"
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop the broker by its PID (SIGTERM, then SIGKILL)."""
        proc, self.proc = self.proc, None
        if proc is not None:
            terminate(proc, timeout=5)
            if proc.stderr is not None:
                proc.stderr.close()


@dataclass(frozen=True)
class Message:
    topic: str
    payload: bytes
    retain: bool
    arrived: float = 0.0
    """Wall-clock time of arrival (``time.time()``)."""

    def json(self) -> Any:
        return json.loads(self.payload)


class Recorder:
    """An MQTT client (aiomqtt) that subscribes to ``topics`` and records every message."""

    def __init__(self, broker: Mosquitto, *topics: str, username: str | None = None, password: str | None = None):
        self.broker = broker
        self.topics = topics or ("#",)
        self.messages: list[Message] = []
        self._changed = asyncio.Event()
        self._client = aiomqtt.Client(
            "127.0.0.1", broker.port, username=username, password=password, identifier=f"recorder-{id(self):x}"
        )
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Recorder:
        await self._client.__aenter__()
        for topic in self.topics:
            await self._client.subscribe(topic, qos=1)
        self._task = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
        with contextlib.suppress(Exception):
            await self._client.__aexit__(None, None, None)

    async def _read(self) -> None:
        with contextlib.suppress(aiomqtt.MqttError):
            async for m in self._client.messages:
                payload = m.payload if isinstance(m.payload, bytes) else str(m.payload or "").encode()
                self.messages.append(Message(m.topic.value, payload, bool(m.retain), time.time()))
                self._changed.set()

    async def publish(self, topic: str, payload: bytes | str, *, retain: bool = False, qos: int = 1) -> None:
        await self._client.publish(topic, payload, qos=qos, retain=retain)

    def on(self, topic: str) -> list[Message]:
        return [m for m in self.messages if m.topic == topic]

    def last(self, topic: str) -> Message | None:
        found = self.on(topic)
        return found[-1] if found else None

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
        """Wait until ``predicate()`` is truthy (checked at each message) and return its value."""
        async with asyncio.timeout(timeout):
            while True:
                result = predicate()
                if result:
                    return result
                self._changed.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.5):
                        await self._changed.wait()
        raise AssertionError(what)  # pragma: no cover

    async def wait_message(
        self, topic: str, match: Callable[[Message], bool] = lambda m: True, *, timeout: float = 10.0, since: int = 0
    ) -> Message:
        """The first message on ``topic`` (from index ``since`` of :attr:`messages`) that ``match`` accepts."""

        def find() -> Message | None:
            for m in self.messages[since:]:
                if m.topic == topic and match(m):
                    return m
            return None

        try:
            result: Message = await self.wait_for(find, timeout)
        except TimeoutError:
            seen = sorted({m.topic for m in self.messages})
            raise AssertionError(f"no matching message on {topic} within {timeout} s; topics seen: {seen}") from None
        return result
