"""The pairing window's state file (``pairing-window.json``): read at start, written on every change.

The file is private (0600) and replaced atomically through a
:class:`~device_sdk.storage.statefile.StateWriter`: at once for a failure (``sync``, the failure counters
bound guessing), else on ``background``, the owner's
:class:`~device_sdk.storage.statefile.StateWriterThread`, when given (so that a pairing's fsync does
not stall the event loop that serves every other controller).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import StateError
from ..storage.statefile import StateWriter, StateWriterThread, read_json
from .window_state import WindowState

__all__ = ["WindowStore"]


class WindowStore:
    """Load and save :class:`~device_sdk.pairing.window_state.WindowState` snapshots in ``path``."""

    def __init__(self, path: Path, *, background: StateWriterThread | None = None) -> None:
        self.path = Path(path)
        self._writer = StateWriter(self.path, background=background)

    def load(self) -> WindowState | None:
        """The state saved last, or None when there is no file; :class:`StateError` when it is corrupt."""
        data = read_json(self.path)
        if data is None:
            return None
        try:
            return WindowState.from_json(data)
        except (TypeError, ValueError, KeyError) as exc:
            raise StateError(f"{self.path} is not a valid pairing window state: {exc}") from exc

    def save(self, state: WindowState, *, sync: bool = False) -> None:
        """Write ``state``: now when ``sync`` (or without background writes), else soon."""
        self._writer.write_json(state.to_json(), sync=sync)

    def flush(self) -> None:
        """Return once the state is on disk."""
        self._writer.flush()

    def shutdown(self) -> None:
        """Flush and stop writing in the background (later writes are synchronous)."""
        self._writer.close()
