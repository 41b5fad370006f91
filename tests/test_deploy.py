"""Deploying a device as docs/deploy.md says: the wheel ``make dist`` builds installs into a fresh venv and
runs (boards included), the sdist carries what a checkout has, the systemd units are valid, and one's own
device script runs as its unit runs it ($STATE_DIRECTORY, the journal on stdout, SIGTERM), driving a board
actuator from device code while a controller watches."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tarfile
import time
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests._cli_helpers import cli, unique_name

BUILTIN_BOARDS = ("pi-4b", "pi-5", "pi-zero-2w", "sim")
ROOT = Path(__file__).resolve().parents[1]
UNITS = ("device-sdk.service", "my-device.service")


def run(argv: list[str], *, cwd: Path, timeout: float, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False, env=env)
    assert proc.returncode == 0, f"{argv}: {proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.mark.timeout(240)
def test_the_wheel_installs_into_a_fresh_venv_and_runs_with_its_boards(tmp_path: Path) -> None:
    """What `make dist` does, then a fresh venv as on a Pi. The tests run without a route to the package
    index (in a network namespace), so the dependencies are not downloaded: the fresh venv sees this
    venv's installed ones through a path entry placed after its own site-packages, and the wheel's
    metadata is checked to require exactly the project's dependencies (which a Pi's pip downloads)."""
    dist = tmp_path / "dist"
    run([sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)], cwd=tmp_path, timeout=120)
    wheels, sdists = list(dist.glob("*.whl")), list(dist.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, list(dist.iterdir())
    with tarfile.open(sdists[0]) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    assert {
        "device_sdk/hardware/board_profiles/pi-4b.toml",
        "deploy/my-device.service",
        "docs/deploy.md",
        "Makefile",
    } <= names
    assert {"examples/own_device/device.py", "tests/_cli_helpers.py", "tests/conftest.py"} <= names

    with zipfile.ZipFile(wheels[0]) as wheel:
        boards = {n for n in wheel.namelist() if n.startswith("device_sdk/hardware/board_profiles/")}
        assert {
            f"device_sdk/hardware/board_profiles/{b}.toml" for b in ("pi-4b", "pi-5", "pi-zero-2w", "sim")
        } <= boards
        metadata = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
        requires = [
            line.removeprefix("Requires-Dist: ")
            for line in wheel.read(metadata).decode().splitlines()
            if line.startswith("Requires-Dist: ") and "extra ==" not in line
        ]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert sorted(r.replace(" ", "") for r in requires) == sorted(d.replace(" ", "") for d in project["dependencies"])

    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path, timeout=60)
    fresh_site = run(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        cwd=tmp_path,
        timeout=30,
    ).strip()
    Path(fresh_site, "_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    pip = [str(venv / "bin" / "pip"), "install", "--quiet", "--no-index", "--no-deps", str(wheels[0])]
    run(pip, cwd=tmp_path, timeout=150)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    assert run([str(venv / "bin" / "device-sdk"), "--version"], cwd=tmp_path, timeout=30, env=env).startswith(
        "device_sdk "
    )
    where = run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import device_sdk; from device_sdk.hardware import builtin_profile_names, load_profile;"
            "print(device_sdk.__file__); print(*[load_profile(n).name for n in builtin_profile_names()])",
        ],
        cwd=tmp_path,
        timeout=30,
        env=env,
    ).splitlines()
    assert where[0].startswith(str(venv)), "device_sdk was not imported from the fresh venv"
    assert set(where[1].split()) == {"pi-4b", "pi-5", "pi-zero-2w", "sim"}

    ready = tmp_path / "ready.json"
    device = subprocess.Popen(
        [
            *(str(venv / "bin" / "device-sdk"), "run", "--board", "sim", "--no-advertise"),
            *("--ready-file", str(ready), "--state-dir", str(tmp_path / "state")),
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert device.poll() is None, device.communicate()
            assert time.monotonic() < deadline, "the installed device did not start"
            time.sleep(0.1)
        assert json.loads(ready.read_text())["port"] > 0
    finally:
        device.send_signal(signal.SIGINT)
        _, err = device.communicate(timeout=15)
    assert device.returncode == 0, err


@pytest.mark.timeout(30)
@pytest.mark.parametrize("unit", UNITS)
def test_the_systemd_units_are_valid(tmp_path: Path, unit: str) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (systemd)")
    text = (ROOT / "deploy" / unit).read_text()
    for line in text.splitlines():
        if line.startswith("ExecStart="):
            program = line.removeprefix("ExecStart=").split()[0]
            text = text.replace(program, sys.executable)  # the unit's venv does not exist here
    for needed in ("StateDirectory=", "Restart=on-failure", "ExecStart="):
        assert needed in text, f"{unit} has no {needed}"
    assert "User=" in text or "DynamicUser=yes" in text
    path = tmp_path / unit
    path.write_text(text)
    proc = subprocess.run([analyze, "verify", str(path)], capture_output=True, text=True, timeout=20, check=False)
    assert proc.returncode == 0 and proc.stderr.strip() == "", proc.stderr


@pytest.mark.timeout(90)
def test_ones_own_device_script_runs_as_its_unit_runs_it(tmp_path: Path) -> None:
    state = tmp_path / "state"
    journal = tmp_path / "journal.txt"
    name = unique_name("Thermostat")
    ctl = ("--state-dir", str(tmp_path / "ctl"), "--interface", "lo", "--json")
    with journal.open("wb") as out:
        st = os.fstat(out.fileno())
        env = {**os.environ, "STATE_DIRECTORY": str(state), "JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}
        argv = [sys.executable, str(ROOT / "examples" / "own_device" / "device.py"), "--board", "sim"]
        argv += ["--interface", "lo", "--name", name, "--ready-file", str(tmp_path / "ready.json")]
        device = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path)
        try:
            deadline = time.monotonic() + 30
            while not (tmp_path / "ready.json").exists():
                assert device.poll() is None and time.monotonic() < deadline, journal.read_text()
                time.sleep(0.05)
            assert {p.stat().st_mode & 0o777 for p in state.iterdir() if p.is_file()} == {0o600}
            sticker = cli("provision", "--state-dir", str(state), "--json").json()  # what the unit's user reads
            assert cli("pair", name, sticker["manual"], *ctl).json()["name"] == name
            sim = ("--state-dir", str(state), "--json")
            for temperature, heater in (("12", True), ("30", False)):  # below, then above the 20 C setpoint
                cli("sim", "force", "temperature", temperature, *sim).json()
                deadline = time.monotonic() + 15
                while cli("sim", "status", *sim).json()["outputs"]["led"] is not heater:  # the pin, driven
                    assert time.monotonic() < deadline, journal.read_text()
                    time.sleep(0.2)
                seen = cli("watch", name, "led", "--count", "1", *ctl).json_lines()
                assert seen[0]["v"] is heater  # the channel's state, as controllers see it
        finally:
            device.send_signal(signal.SIGTERM)  # systemctl stop
            device.wait(timeout=15)
    log = journal.read_text()
    assert device.returncode == 0, log
    assert "heater on" in log and "heater off" in log and log.rstrip().endswith("stopped")
    assert sticker["manual"] not in log and sticker["qr"] not in log, "the setup code reached the journal"
