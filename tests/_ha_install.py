"""Install the newest Home Assistant that installs on a Python found here, for ``make test-ha``.

Usage: ``python tests/_ha_install.py VENV`` (VENV: a directory, created or reused). Pythons are looked
for on PATH (python3.14 ... python3.12), under pyenv and with uv; the newest is tried first and pip picks
the newest Home Assistant release that supports it. Then the requirements of the integrations the test
loads (the default ones, mqtt, mqtt_statestream, automation) are installed too, so that Home Assistant
runs with ``--skip-pip``. Prints one line per step; exits 2 with a sentence saying what to install when no
Python can run a Home Assistant release.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

MIN_PYTHON = (3, 12)
"""Home Assistant has needed 3.12 since 2024.2 (and 3.13 since 2025.2)."""

_REQUIREMENTS = r"""
import json, pathlib, sys
import homeassistant.bootstrap as b
import homeassistant.components as c
root = pathlib.Path(c.__file__).parent
want = set(b.DEFAULT_INTEGRATIONS) | set(b.CORE_INTEGRATIONS) | set(b.FRONTEND_INTEGRATIONS)
want |= {"logger", "network", "system_log", "http", "mqtt", "mqtt_statestream", "automation"}
seen, reqs, stack = set(), set(), list(want)
while stack:
    domain = stack.pop()
    if domain in seen:
        continue
    seen.add(domain)
    manifest = root / domain / "manifest.json"
    if manifest.exists():
        data = json.loads(manifest.read_text())
        reqs.update(data.get("requirements", []))
        stack += data.get("dependencies", [])
print(json.dumps(sorted(reqs)))
"""


def say(text: str) -> None:
    print(f"test-ha: {text}", flush=True)


def candidates() -> list[Path]:
    found: list[Path] = []
    for minor in range(20, MIN_PYTHON[1] - 1, -1):
        path = shutil.which(f"python3.{minor}")
        if path:
            found.append(Path(path))
    pyenv = shutil.which("pyenv")
    if pyenv:
        root = subprocess.run([pyenv, "root"], capture_output=True, text=True, check=False).stdout.strip()
        if root:
            found += sorted(Path(root, "versions").glob("3.*/bin/python3"))
    uv = shutil.which("uv")
    if uv:
        for minor in (14, 13):
            out = subprocess.run([uv, "python", "find", f"3.{minor}"], capture_output=True, text=True, check=False)
            if out.returncode == 0 and out.stdout.strip():
                found.append(Path(out.stdout.strip()))
    found.append(Path(sys.executable))
    return found


def version(python: Path) -> tuple[int, int, int] | None:
    try:
        out = subprocess.run(
            [str(python), "-c", "import sys; print(*sys.version_info[:3])"],
            capture_output=True,
            text=True,
            check=True,
            timeout=20,
        ).stdout.split()
        return int(out[0]), int(out[1]), int(out[2])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def pip(venv: Path, *args: str) -> bool:
    result = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", *args], check=False)
    return result.returncode == 0


def installed_version(venv: Path) -> str | None:
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "from homeassistant.const import __version__; print(__version__)"],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() if result.returncode == 0 else None


def install(venv: Path, python: Path) -> str | None:
    """Home Assistant and the test's integration requirements in a fresh ``venv``; its version or None."""
    shutil.rmtree(venv, ignore_errors=True)
    if subprocess.run([str(python), "-m", "venv", str(venv)], check=False).returncode != 0:
        return None
    pip(venv, "--upgrade", "pip")
    say(f"installing the newest Home Assistant for {python} (a few minutes)")
    if not pip(venv, "homeassistant"):
        return None
    reqs = subprocess.run(
        [str(venv / "bin" / "python"), "-c", _REQUIREMENTS], capture_output=True, text=True, check=False
    )
    if reqs.returncode != 0:
        return None
    for requirement in json.loads(reqs.stdout):
        if not pip(venv, requirement):
            say(f"could not install {requirement}; Home Assistant may not start without it")
    return installed_version(venv)


def main() -> int:
    venv = Path(sys.argv[1] if len(sys.argv) > 1 else ".venv-ha").absolute()
    marker = venv / ".installed"
    if marker.exists() and installed_version(venv):
        say(f"using Home Assistant {marker.read_text().strip()} in {venv} (delete it to reinstall)")
        return 0
    seen: dict[Path, tuple[int, int, int]] = {}
    for python in candidates():
        real = Path(os.path.realpath(python))
        found = version(real)
        if found is not None and real not in seen:
            seen[real] = found
    usable = sorted(((v, p) for p, v in seen.items() if v[:2] >= MIN_PYTHON), reverse=True)
    if not usable:
        have = ", ".join(f"{'.'.join(map(str, v))} ({p})" for p, v in seen.items()) or "none"
        say(
            "no Python here can run a current Home Assistant: it needs Python 3.13 or newer (3.12 for releases "
            f"before 2025.2); found {have}. Install one (`pyenv install 3.13` or `uv python install 3.13`) and "
            "run `make test-ha` again."
        )
        return 2
    for found, python in usable:
        ha = install(venv, python)
        if ha is not None:
            marker.write_text(f"{ha} on Python {'.'.join(map(str, found))}\n")
            say(f"Home Assistant {ha} on Python {'.'.join(map(str, found))} is in {venv}")
            return 0
        say(f"no Home Assistant release installs on Python {'.'.join(map(str, found))}; trying an older Python")
    say("Home Assistant could not be installed with any Python found here (see pip's messages above)")
    return 2


if __name__ == "__main__":
    sys.exit(main())
