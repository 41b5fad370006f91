"""The control socket of a simulated board: tests and ``device-sdk sim`` press its buttons.

A device running a board on gpiozero's MockFactory listens on ``<state_dir>/sim.sock`` (a Unix
socket, mode 0600, removed on stop) and speaks the JSON-lines protocol of
:mod:`device_sdk.hardware.sim_protocol`. :class:`SimController` carries out requests on a
:class:`~device_sdk.hardware.sim.SimulatedBoard`; :class:`SimControlServer` is the asyncio edge;
:func:`sim_request` is the client.

AF_UNIX addresses are limited to 107 bytes. A longer socket path is reached through the
directory's ``/proc/self/fd`` entry on Linux, elsewhere it is a clear :class:`SimControlError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import stat
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from device_sdk.errors import HardwareError
from device_sdk.hardware.sim_protocol import (
    MAX_LINE_BYTES,
    PAIRING_BUTTON,
    Force,
    Press,
    SetInput,
    SimControlError,
    SimRequest,
    decode_request,
    decode_response,
    encode_request,
    encode_response,
    error_response,
)

if TYPE_CHECKING:  # the server is given a board; a client (`device-sdk sim`) needs none, nor gpiozero
    from device_sdk.hardware.sim import SimulatedBoard

__all__ = ["SOCKET_NAME", "SimControlServer", "SimController", "sim_request", "sim_socket_path"]

_log = logging.getLogger(__name__)

SOCKET_NAME = "sim.sock"
"""The control socket's file name in the device's state directory."""
_SUN_PATH_MAX = 107  # sizeof(sun_path) minus the terminating NUL on Linux (103 on the BSDs)
_MAX_CLIENTS = 8
_IDLE_S = 60.0
_SETTLE_MARGIN_S = 0.03

StatusExtra = Callable[[], Mapping[str, object]]
"""More fields of the ``status`` response (the binding adds the pairing window and peers)."""


def sim_socket_path(state_dir: Path) -> Path:
    """Where a simulated device with ``state_dir`` listens."""
    return Path(state_dir) / SOCKET_NAME


@contextlib.contextmanager
def _sockaddr(path: Path) -> Iterator[str]:
    """An AF_UNIX address for ``path``: the path itself, or a /proc/self/fd alias when too long."""
    if len(os.fsencode(path)) <= _SUN_PATH_MAX:
        yield str(path)
        return
    if not sys.platform.startswith("linux"):
        raise SimControlError(
            f"the sim control socket path {path} is longer than the {_SUN_PATH_MAX} bytes a Unix socket "
            "address allows: use a shorter --state-dir"
        )
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        alias = f"/proc/self/fd/{fd}/{path.name}"
        if len(alias) > _SUN_PATH_MAX:
            raise SimControlError(f"the sim control socket name {path.name!r} is too long")
        yield alias
    finally:
        os.close(fd)


class SimController:
    """Carries out sim control requests on ``board``.

    ``values``: the last value each channel reported (read, not copied, at every ``status``);
    ``status_extra``: more ``status`` fields.
    """

    def __init__(
        self,
        *,
        board: SimulatedBoard,
        values: Mapping[str, object] | None = None,
        status_extra: StatusExtra | None = None,
    ) -> None:
        self.board = board
        self._values = values if values is not None else {}
        self._status_extra = status_extra
        self._pressing: set[str] = set()

    async def handle(self, request: SimRequest) -> dict[str, object]:
        """The result of ``request``; HardwareError (SimControlError...) when the board refuses it."""
        if isinstance(request, Press):
            return await self._press(request)
        if isinstance(request, SetInput):
            if request.name in self._pressing:
                raise SimControlError(f"{request.name!r} is being pressed")
            self.board.set_input(request.name, request.active)
            return {"name": request.name, "active": request.active}
        if isinstance(request, Force):
            self.board.force(request.name, request.value)
            return {"name": request.name, "value": request.value}
        return self.status()

    async def _press(self, request: Press) -> dict[str, object]:
        """Press, hold, release, then wait out the debounce so the press has counted on return."""
        name = request.name
        debounce = self.board.debounce_s(name)
        if request.hold_s <= debounce:
            raise SimControlError(f"hold_s must be longer than the debounce of {name!r} ({debounce * 1000:g} ms)")
        if name in self._pressing:
            raise SimControlError(f"{name!r} is already being pressed")
        if self.board.input_active(name):
            raise SimControlError(f"{name!r} is held active: set it inactive first")
        self._pressing.add(name)
        try:
            await self.board.press(name, request.hold_s)
            await asyncio.sleep(debounce + _SETTLE_MARGIN_S)
        finally:
            self._pressing.discard(name)
        return {"pressed": name, "hold_s": request.hold_s}

    def status(self) -> dict[str, object]:
        """The board as tests and the CLI see it (JSON-ready)."""
        board = self.board
        runtime = board.runtime
        led = runtime.status_led
        status_led: dict[str, object] | None = None
        if led is not None:
            status_led = {
                "pattern": led.pattern.value,
                "lit": led.is_lit,
                "pin": int(bool(board.pin("status_led").state)),
            }
        button: dict[str, object] | None = None
        if runtime.profile.pairing_button is not None:
            pressed = runtime.button.is_pressed if runtime.button is not None else False
            button = {"pressed": pressed, "hold_s": runtime.profile.pairing_button.hold_s}
        result: dict[str, object] = {
            "board": runtime.profile.name,
            "status_led": status_led,
            "pairing_button": button,
            "inputs": {n: board.input_active(n) for n in board.input_names() if n != PAIRING_BUTTON},
            "outputs": {n: sink.state for n, sink in runtime.sinks.items()},
            "forced": board.simulated_sensors(),
            "values": dict(self._values),
        }
        if self._status_extra is not None:
            result.update(self._status_extra())
        return result


class SimControlServer:
    """Serves :class:`SimController` on the Unix socket ``path`` (mode 0600, removed by :meth:`stop`)."""

    def __init__(self, *, path: Path, controller: SimController) -> None:
        self.path = Path(path)
        self.controller = controller
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._inode: tuple[int, int] | None = None

    async def start(self) -> None:
        """Listen (SimControlError when the path is unusable or another device answers on it)."""
        await self._remove_stale()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            with _sockaddr(self.path) as address:
                sock.bind(address)
            os.chmod(self.path, 0o600)
            st = os.stat(self.path)
            self._inode = (st.st_dev, st.st_ino)
            self._server = await asyncio.start_unix_server(self._serve, sock=sock, limit=MAX_LINE_BYTES)
        except BaseException:
            sock.close()
            self._unlink()
            raise
        _log.info("sim control socket at %s", self.path)

    async def _remove_stale(self) -> None:
        """Remove a socket file left by a device that died; refuse if one still answers."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(st.st_mode):
            raise SimControlError(f"{self.path} exists and is not a socket")
        try:
            with _sockaddr(self.path) as address:
                _, writer = await asyncio.wait_for(asyncio.open_unix_connection(address), 1.0)
        except (OSError, TimeoutError):
            os.unlink(self.path)
            return
        writer.close()
        raise SimControlError(f"another device is serving the sim control socket {self.path}")

    def _unlink(self) -> None:
        """Remove the socket file if it is still ours."""
        try:
            st = os.stat(self.path)
            if self._inode is None or (st.st_dev, st.st_ino) == self._inode:
                os.unlink(self.path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            _log.warning("could not remove %s: %s", self.path, exc)

    async def stop(self) -> None:
        """Stop listening, end the connections and remove the socket file."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
            self._unlink()
        tasks, self._tasks = self._tasks, set()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if server is not None:
            await server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is None or self._server is None:
            writer.close()
            return
        if len(self._tasks) >= _MAX_CLIENTS:
            writer.write(error_response("too many sim control connections"))
            writer.close()
            return
        self._tasks.add(task)
        try:
            await self._session(reader, writer)
        except (ConnectionError, TimeoutError, asyncio.IncompleteReadError):
            pass
        except Exception:
            _log.exception("sim control connection failed")
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                line = await asyncio.wait_for(reader.readline(), _IDLE_S)
            except ValueError:  # longer than the stream limit: the rest of the line is unreadable
                writer.write(error_response(f"request longer than {MAX_LINE_BYTES} bytes"))
                await writer.drain()
                return
            if not line:
                return
            if not line.strip():
                continue
            writer.write(await self._answer(line))
            await writer.drain()

    async def _answer(self, line: bytes) -> bytes:
        try:
            request = decode_request(line)
            return encode_response(await self.controller.handle(request))
        except HardwareError as exc:
            return error_response(str(exc))
        except Exception as exc:
            _log.exception("sim control request failed")
            return error_response(f"internal error: {type(exc).__name__}")


async def sim_request(state_dir: Path, request: SimRequest, *, timeout: float = 10.0) -> dict[str, Any]:
    """Send ``request`` to the simulated device with ``state_dir``; its result (without ``ok``).

    Raises SimControlError when no simulated device listens there, the request is refused or
    no answer comes within ``timeout`` seconds.
    """
    path = sim_socket_path(state_dir)
    if isinstance(request, Press):
        timeout += request.hold_s
    try:
        async with asyncio.timeout(timeout):
            with _sockaddr(path) as address:
                reader, writer = await asyncio.open_unix_connection(address, limit=MAX_LINE_BYTES * 16)
            try:
                writer.write(encode_request(request))
                await writer.drain()
                line = await reader.readline()
            finally:
                writer.close()
    except (FileNotFoundError, ConnectionRefusedError):
        raise SimControlError(
            f"no simulated device is running with state directory {state_dir} (no {SOCKET_NAME} answers there)"
        ) from None
    except TimeoutError:
        raise SimControlError(f"the simulated device did not answer within {timeout:g} s") from None
    except OSError as exc:
        raise SimControlError(f"cannot reach the sim control socket {path}: {exc.strerror or exc}") from None
    if not line:
        raise SimControlError("the simulated device closed the connection without answering")
    return decode_response(line)
