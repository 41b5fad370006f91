"""Child process for the crash-safety test: rewrites a DeviceTrustStore in a loop until killed.

Usage: python _trust_writer.py STORE_PATH. Each generation ``g`` sets the name of one controller to
``gen-<g>-<padding>`` (the padding changes the file size) and, after the write returns, prints
``g`` on stdout. The parent kills this process with SIGKILL at a random moment.
"""

from __future__ import annotations

import sys
from pathlib import Path

from device_sdk.pairing.trust import DeviceTrustStore

FINGERPRINTS = [bytes([i]) * 32 for i in range(3)]


def generation_of(store: DeviceTrustStore) -> int:
    """The generation recorded in a store written by this script (-1 for an empty store)."""
    entry = store.get(FINGERPRINTS[0])
    return -1 if entry is None else int(entry.name.split("-")[1])


def main() -> None:
    store = DeviceTrustStore(Path(sys.argv[1]))
    generation = generation_of(store)
    for fp in FINGERPRINTS[1:]:
        if not store.is_trusted(fp):
            store.add(fp, "other", 0.0)
    print("ready", flush=True)
    while True:
        generation += 1
        store.add(FINGERPRINTS[0], f"gen-{generation}-" + "x" * (generation % 97), float(generation))
        print(generation, flush=True)


if __name__ == "__main__":
    main()
