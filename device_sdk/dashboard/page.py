"""One open page (one WebSocket), sans-I/O: what it watches and listens to, and its pairing requests.

:meth:`PageSession.receive` takes one message from the page and returns what to do: messages to send
back at once (an error for bad input) and the commands for the hub to run. The hub asks the session
whether the page wants a device's readings or a stream's chunks before sending them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from .protocol import BadMessage, Cancel, Command, Listen, Pair, Pin, Unlisten, Unwatch, Watch, parse_command
from .views import error_message, result_message

MAX_WATCHED: Final = 64
"""Devices one page may watch at once."""
MAX_LISTENING: Final = 8
"""Byte streams one page may listen to at once."""
MAX_PAIRINGS: Final = 4
"""Pairings one page may run at once."""


@dataclass
class Step:
    """What to do with one message: ``replies`` go back to this page, ``commands`` to the hub."""

    replies: list[dict[str, Any]] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)


class PageSession:
    """See the module docstring."""

    def __init__(self) -> None:
        self.watched: set[str] = set()
        self.listening: set[tuple[str, str]] = set()
        self.pairings: set[int] = set()
        self.bad_messages = 0

    def wants(self, device: str) -> bool:
        """Whether the page watches ``device`` (its readings and states)."""
        return device in self.watched

    def hears(self, device: str, channel: str) -> bool:
        """Whether the page listens to byte stream ``channel`` of ``device``."""
        return (device, channel) in self.listening

    def receive(self, text: str | bytes) -> Step:
        step = Step()
        try:
            command = parse_command(text)
        except BadMessage as exc:
            self.bad_messages += 1
            step.replies.append(error_message(exc.request_id, exc.text))
            return step
        if isinstance(command, Watch):
            if command.device not in self.watched and len(self.watched) >= MAX_WATCHED:
                step.replies.append(error_message(command.id, "This page watches too many devices already."))
                return step
            self.watched.add(command.device)
        elif isinstance(command, Unwatch):
            self.watched.discard(command.device)
            self.listening = {k for k in self.listening if k[0] != command.device}
        elif isinstance(command, Listen):
            key = (command.device, command.channel)
            if key not in self.listening and len(self.listening) >= MAX_LISTENING:
                step.replies.append(error_message(command.id, "This page listens to too many streams already."))
                return step
            self.listening.add(key)
        elif isinstance(command, Unlisten):
            self.listening.discard((command.device, command.channel))
            if command.id is not None:
                step.replies.append(result_message(command.id))
        elif isinstance(command, Pair):
            assert command.id is not None
            if command.id in self.pairings:
                step.replies.append(error_message(command.id, "A pairing with this number is already running."))
                return step
            if len(self.pairings) >= MAX_PAIRINGS:
                step.replies.append(error_message(command.id, "Too many pairings at once: wait for one to finish."))
                return step
            self.pairings.add(command.id)
        elif isinstance(command, Pin | Cancel) and command.id not in self.pairings:
            step.replies.append(error_message(command.id, "That pairing is over."))
            return step
        step.commands.append(command)
        return step

    def pairing_done(self, request_id: int) -> None:
        self.pairings.discard(request_id)

    def closed(self) -> None:
        """The page went away: it wants nothing more."""
        self.watched.clear()
        self.listening.clear()
        self.pairings.clear()
