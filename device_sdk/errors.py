"""The exception hierarchy of device_sdk.

One root, :class:`DeviceSDKError`. Errors carry structured fields (the close code, the peer,
the wait time), not only a message, so that callers and the CLI can act on them.
"""

from __future__ import annotations

from typing import Any


class DeviceSDKError(Exception):
    """Root of every error raised by device_sdk."""


class InvalidArgument(DeviceSDKError, ValueError):
    """A value handed to device_sdk is not one it takes (a malformed fingerprint, a channel spec that
    contradicts itself, a bad argument to a codec); the message says which and why. Also a ``ValueError``,
    as these functions have always raised."""


class InvalidType(DeviceSDKError, TypeError):
    """A value handed to device_sdk is of a kind it does not take (one string where a collection of
    them is needed, ...). Also a ``TypeError``."""


class NotRunning(DeviceSDKError, RuntimeError):
    """Something that needs a running device or connection was asked of one that is not running (the
    device's port before :meth:`~device_sdk.Device.start`). Also a ``RuntimeError``."""


class UnknownName(DeviceSDKError, KeyError):
    """No channel (or part, or catalog entry) has this name; also a ``KeyError``, as a lookup by name
    has always raised. ``name`` is the name asked for."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class ConfigError(DeviceSDKError):
    """Invalid configuration: a bad option, board profile or config file."""


class HardwareError(DeviceSDKError):
    """A hardware part could not be set up or driven (pin factory, pins, drivers)."""


class StateError(DeviceSDKError):
    """A file in the state directory is unreadable, corrupt or has unsafe permissions."""


# -- protocol errors: split by who broke the rules (as h11 does) ---------------------------------


class ProtocolError(DeviceSDKError):
    """A violation of the wire profile.

    ``code`` is the QUIC application error code the connection closes with (400, 401, 403, 404,
    413, 429), ``reason`` the reason phrase sent with it.
    """

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{code} {reason}")
        self.code = code
        self.reason = reason


class LocalProtocolError(ProtocolError):
    """We were about to break the protocol (a bug in the caller or in device_sdk)."""


class RemoteProtocolError(ProtocolError):
    """The peer broke the protocol: the connection is closed with ``code``."""


# -- transport ------------------------------------------------------------------------------------


class TransportError(DeviceSDKError):
    """The QUIC connection failed or ended."""


_CLOSE_MEANINGS = {
    400: "it received a message it could not read",
    401: "it does not trust this side (not paired, or the pairing failed)",
    403: "its pairing window is closed",
    404: "it received a message it does not know",
    413: "it received a message that is too large",
    429: "it is turning this side away for now (too many wrong codes, connections or unread answers)",
}
"""What the profile's close codes mean, said of the side that closed (for the messages below). Keyed by
the values of :class:`device_sdk.wire.CloseCode` (this root module imports nothing of the package;
tests/test_architecture.py checks that the keys are close codes)."""


class ConnectionClosed(TransportError):
    """The connection is closed. ``by_peer`` tells which side closed it; ``code`` and ``reason`` are the
    application close code and reason phrase (kept as fields: the message says what they mean)."""

    def __init__(self, code: int, reason: str, *, by_peer: bool) -> None:
        meaning = _CLOSE_MEANINGS.get(code)
        if by_peer:
            message = "the other side closed the connection" + (f": {meaning}" if meaning else "")
        else:
            message = "the connection was closed on this side" + (f" ({meaning})" if meaning else "")
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.by_peer = by_peer


class ConnectionLost(ConnectionClosed):
    """Nothing was heard from the peer for ``silent_for`` seconds, keep-alives unanswered: it lost
    power, crashed, or left the network. Nobody closed the connection; ``peer`` names the other side
    (its name when known, else its address)."""

    def __init__(self, peer: str, silent_for: float, *, code: int = 0, reason: str = "") -> None:
        TransportError.__init__(
            self,
            f"lost contact with {peer}: nothing heard for {silent_for:.1f} s; "
            "check that it is powered and on the network",
        )
        self.code = code
        self.reason = reason
        self.by_peer = False
        self.peer = peer
        self.silent_for = silent_for


class ConnectTimeout(TransportError):
    """The device did not answer in time."""


class FingerprintMismatch(TransportError):
    """The device presented a certificate whose SPKI fingerprint is not the expected one."""

    def __init__(self, expected: str, actual: str) -> None:
        super().__init__(
            f"the device is not the one expected (its fingerprint starts {actual[:12]}…, not {expected[:12]}…): "
            "another device, or this one was reset; pair with it again if it was reset"
        )
        self.expected = expected
        self.actual = actual


# -- pairing --------------------------------------------------------------------------------------


class PairingError(DeviceSDKError):
    """Pairing failed."""


class WrongSetupCode(PairingError):
    """The setup code (PSK) did not match: the confirmation failed."""


class PairingWindowClosed(PairingError):
    """The device's pairing window is closed (error 403): press its pairing button or ask an admin."""


class LockedOut(PairingError):
    """The device refuses handshakes for ``retry_after`` seconds (429): after too many failed attempts, or
    while another controller's attempt is under way (the profile gives both the same answer)."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(
            f"the device is not taking pairing attempts now (too many wrong codes, or another pairing under way): "
            f"try again in {retry_after:.0f} s"
        )
        self.retry_after = retry_after


class PairingTimeout(PairingError):
    """The other side did not complete the pairing in time."""


class PairingAborted(PairingError):
    """The device aborted the pairing (for example two controllers in one button window)."""


class InvalidSetupCode(PairingError, ValueError):
    """A QR text, manual code or passcode could not be parsed; the message says what is wrong."""


class NotPaired(PairingError):
    """The device does not know this controller (or the controller has not pinned the device)."""


class DeviceUnreachable(PairingError):
    """Unpairing asks the device to forget this controller, and the device could not be reached (or
    did not answer): nothing was forgotten. ``device`` names it; unpairing with ``local_only`` (the
    CLI's ``--local-only``) forgets it on this side only, and the device keeps trusting this
    controller until an admin removes it."""

    def __init__(self, device: str) -> None:
        super().__init__(
            f"could not reach {device} to remove this controller from it; "
            "to forget it on this side only, unpair with --local-only"
        )
        self.device = device


# -- discovery and channels -----------------------------------------------------------------------


class DiscoveryError(DeviceSDKError):
    """A device could not be found or resolved."""


class DeviceNotFound(DiscoveryError):
    """No device matches the given name, fingerprint prefix or discriminator."""


class AmbiguousDevice(DiscoveryError):
    """A query matches more than one device; ``candidates`` holds them (pinned or discovered devices)."""

    def __init__(self, message: str, candidates: tuple[Any, ...]) -> None:
        super().__init__(message)
        self.candidates = candidates


class ChannelError(DeviceSDKError):
    """A data channel could not be opened or was closed with an error."""


_OPEN_RESULTS = {
    100: "it did not answer in time",
    101: "it cannot open it right now; try again in a moment",
    103: "it is shutting down",
}
"""What the open-results other than success and permanent-error mean (profile section 6); keyed by
:class:`device_sdk.wire.OpenResult` values (checked like the close codes)."""


class ChannelOpenFailed(ChannelError):
    """The device answered a data-channel-open-request with a result other than success
    (``result``, the profile's open-result)."""

    def __init__(self, label: str, result: int) -> None:
        why = _OPEN_RESULTS.get(result, "it has no such channel, or not one that can be opened this way")
        super().__init__(f"the device did not open channel {label!r}: {why}")
        self.label = label
        self.result = result


_ACTUATOR_CODES = {
    "out-of-range": "the value is out of range",
    "bad-type": "the value is of the wrong type",
    "busy": "the device is busy with other requests: try again in a moment",
    "forbidden": "only an admin of the device may do this",
    "failed": "the device could not do it",
    "unknown-op": "the device does not know this request",
}
"""What the profile's actuator error codes mean, for an answer that came without a message."""


class ActuatorError(ChannelError):
    """The device rejected an actuator or admin request: ``code`` is the profile's error code,
    ``message`` the device's explanation (the error's text, or the code's meaning when it sent none)."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(message or _ACTUATOR_CODES.get(code, "the device refused the request"))
        self.code = code
        self.message = message
