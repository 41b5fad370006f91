"""The sentences the CLI shows when a command fails: one per failure, naming the thing and what to do
next, built from the fields of the error (never its protocol codes, Python names or errno text).

Pure functions: the commands fill an :class:`ErrorContext` as they learn what they work on (the
device's name, the channel), and :func:`describe` turns an exception into the sentence to show.
"""

from __future__ import annotations

import difflib
import errno
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..channels import Catalog
from ..errors import (
    ActuatorError,
    ChannelError,
    ChannelOpenFailed,
    ConnectionClosed,
    ConnectTimeout,
    DeviceNotFound,
    DeviceSDKError,
    FingerprintMismatch,
    InvalidSetupCode,
    LockedOut,
    PairingTimeout,
    PairingWindowClosed,
    ProtocolError,
    TransportError,
    WrongSetupCode,
)
from ..wire import CloseCode

__all__ = ["ErrorContext", "channel_misuse", "describe", "describe_os_error", "did_you_mean", "quoted", "unknown"]


@dataclass
class ErrorContext:
    """What a command was working on when it failed, as far as it got."""

    device: str | None = None
    """The device as the user named it; its real name once the command has found it."""
    channel: str | None = None
    """The channel the command was using."""
    code: str | None = None
    """The setup code text the user typed (pair): named when it does not parse."""
    devices: list[str] = field(default_factory=list)
    """Names of the devices this controller knows (paired, or seen on the network): for "did you mean"."""
    catalog: Catalog | None = None
    """The device's channels, once the command has read them."""
    closed: ConnectionClosed | None = None
    """How the connection to the device ended, if it did: what a failed channel really means."""


def quoted(word: str) -> str:
    """``word`` as the user would type it in a shell command."""
    return shlex.quote(word)


def did_you_mean(word: str, names: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the names closest to ``word`` (case ignored), or ``""``."""
    by_folded: dict[str, str] = {}
    for name in names:
        by_folded.setdefault(name.casefold(), name)
    by_folded.pop(word.casefold(), None)  # the word itself is no suggestion
    close = difflib.get_close_matches(word.casefold(), list(by_folded), n=3, cutoff=0.6)
    if not close:
        return ""
    options = [repr(by_folded[c]) for c in close]
    listed = options[0] if len(options) == 1 else ", ".join(options[:-1]) + " or " + options[-1]
    return f"; did you mean {listed}?"


def unknown(sentence: str, word: str, names: Iterable[str], otherwise: str) -> str:
    """``sentence`` (that ``word`` names nothing) with "did you mean" from ``names``, else ``otherwise``
    (what to do, starting with its separator: ``": `device-sdk peers` lists them"``)."""
    return sentence + (did_you_mean(word, names) or otherwise)


_PERMANENT_ERROR = 102
"""The open-result of a channel the device refuses for good (no such channel, or not for this use)."""


def _closed(exc: ConnectionClosed, dev: str) -> str:
    """The sentence for a connection the device (or this side) ended, by its close code."""
    if exc.by_peer:
        if exc.code == CloseCode.UNAUTHORIZED:
            return (
                f"{dev} does not trust this controller (it was reset, or this controller was removed from it): "
                f"pair again with `device-sdk pair {quoted(dev)} CODE`"
            )
        if exc.code == CloseCode.FORBIDDEN:
            return f"{dev}'s pairing window is closed: press its pairing button, then try again"
        if exc.code == CloseCode.TOO_MANY_ATTEMPTS:
            return (
                f"{dev} turned this controller away for now (too many wrong codes, another pairing under way, or "
                "too many connections): try again in a minute"
            )
        if exc.code in (CloseCode.BAD_REQUEST, CloseCode.NOT_FOUND, CloseCode.TOO_LARGE):
            return (
                f"{dev} closed the connection because it did not understand this controller: "
                "use the same device_sdk version on both sides"
            )
        if exc.code == CloseCode.NORMAL:
            return f"{dev} closed the connection (it may be restarting): try again in a moment"
    return f"lost contact with {dev}: check that it is still running and on this network"


def describe(exc: BaseException, ctx: ErrorContext | None = None) -> str:
    """The one sentence to show for ``exc``."""
    ctx = ctx or ErrorContext()
    dev = ctx.device or "the device"
    if isinstance(exc, ChannelOpenFailed):
        if exc.result != _PERMANENT_ERROR:
            return str(exc).replace("the device", dev, 1)
        if ctx.catalog is not None:
            return channel_misuse(dev, exc.label, ctx.catalog)
        return (
            f"{dev} refused to open channel {exc.label!r}: it has no such channel, or not one this command can use "
            f"(`device-sdk info {quoted(dev)}` lists its channels)"
        )
    if isinstance(exc, ActuatorError):
        what = f"{dev}'s {ctx.channel!r}" if ctx.channel else dev
        if exc.code == "forbidden":
            return f"{what} is for its admins only: ask an admin of {dev}"
        if exc.code == "busy":
            return f"{what} is busy with other requests: try again in a moment"
        return f"{what} refused: {exc}"
    if isinstance(exc, FingerprintMismatch):
        return (
            f"the device answering as {dev} is not the one this controller paired with (a different device, "
            f"or it was reset): if it was reset, run `device-sdk unpair {quoted(dev)}` and pair again"
        )
    if isinstance(exc, ConnectTimeout):
        return f"{dev} did not answer: check that it is running and on this network"
    if isinstance(exc, ConnectionClosed):
        return _closed(exc, dev)
    if isinstance(exc, ChannelError) and ctx.closed is not None:
        return _closed(ctx.closed, dev)  # the channel ended because the connection did
    if isinstance(exc, TransportError):
        return f"cannot reach {dev}: check that it is running and on this network"
    if isinstance(exc, WrongSetupCode):
        return (
            f"{dev} did not accept the setup code: check it against the device's sticker "
            "(or the code its `device-sdk run` shows) and try again"
        )
    if isinstance(exc, PairingWindowClosed):
        return (
            f"{dev}'s pairing window is closed: press its pairing button (or ask one of its admins to open it), "
            "then try again"
        )
    if isinstance(exc, LockedOut):
        return (
            f"{dev} is not taking pairing attempts for {exc.retry_after:.0f} s (too many wrong codes, or another "
            "controller is pairing): try again then"
        )
    if isinstance(exc, PairingTimeout):
        return f"pairing with {dev} took too long: check that it is still running, then try again"
    if isinstance(exc, InvalidSetupCode):
        typed = f"{ctx.code!r} is not a setup code" if ctx.code else "that is not a setup code"
        return (
            f"{typed} ({exc}): type the QR text (MT:...), the 11-digit manual code or the 8-digit passcode "
            "from the sticker"
        )
    if isinstance(exc, ProtocolError):
        return f"{dev} and this controller do not understand each other: use the same device_sdk version on both sides"
    if isinstance(exc, DeviceNotFound) and ctx.device and "did you mean" not in str(exc):
        return f"{exc}{did_you_mean(ctx.device, ctx.devices)}"
    if isinstance(exc, OSError):
        return describe_os_error(exc)
    if isinstance(exc, DeviceSDKError | ValueError):
        return str(exc)
    return f"unexpected {type(exc).__name__}: {exc}"


_USE_BY_KIND = {
    "sensor": "watch it with `device-sdk watch {dev} {ch}`",
    "input": "watch it with `device-sdk watch {dev} {ch}`",
    "actuator": "set it with `device-sdk set {dev} {ch} VALUE` or watch it with `device-sdk watch {dev} {ch}`",
    "stream": "save it with `device-sdk listen {dev} {ch} --out FILE`",
}


def channel_misuse(dev: str, name: str, catalog: Catalog) -> str:
    """Why a command cannot use channel ``name`` of ``catalog``: it does not exist (with the names closest
    to it), or it is of another kind than the command needs (with the command that fits it)."""
    found = catalog.get(name)
    if found is None:
        names = [c.name for c in catalog.channels]
        listed = f"; its channels are {', '.join(repr(n) for n in names)}" if names else "; it has no channels"
        return unknown(f"{dev} has no channel {name!r}", name, names, listed)
    use = _USE_BY_KIND.get(found.kind, "see `device-sdk info {dev}`").format(dev=quoted(dev), ch=quoted(name))
    return f"{dev}'s {name!r} is {'an' if found.kind[0] in 'aeiou' else 'a'} {found.kind}: {use}"


def describe_os_error(exc: OSError, what: str | None = None) -> str:
    """An operating-system error as a sentence: what failed on which path, and the fix."""
    path = exc.filename if exc.filename is not None else None
    thing = what or (f"{path}" if path is not None else "a file")
    code = exc.errno
    if code in (errno.EACCES, errno.EPERM):
        return f"{thing} cannot be used by this user (no permission): fix its owner or mode, or choose another"
    if code == errno.ENOENT:
        return f"{thing} does not exist"
    if code == errno.ENOTDIR or code == errno.EEXIST:
        return f"{thing} is in the way: a file stands where a directory is needed; choose another path"
    if code == errno.EISDIR:
        return f"{thing} is a directory where a file is needed"
    if code == errno.EROFS:
        return f"{thing} is on a read-only file system: choose a writable place"
    if code == errno.ENOSPC:
        return f"the disk holding {thing} is full: free some space"
    if code == errno.EADDRINUSE:
        return "the port is already in use by another program: choose another one (or 0 for any free port)"
    if code == errno.EPIPE:
        return "the output was closed"
    return f"{thing}: the system refused the operation ({exc.strerror or 'unknown reason'})"
