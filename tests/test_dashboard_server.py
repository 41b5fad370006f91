"""The dashboard server over real HTTP and WebSockets (aiohttp's client), with a real Controller behind
it: who may connect, what a page gets, bad input answered and survived, and the `device-sdk dashboard`
command."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from device_sdk import Controller, ControllerConfig, ControllerRemoved, Device, LockoutStarted
from device_sdk.dashboard import Dashboard, DashboardConfig
from device_sdk.pairing.window import LOCKOUT_THRESHOLD

from ._cli_helpers import unique_name
from ._dashboard_helpers import LOOPBACK, make_device

pytestmark = pytest.mark.timeout(60)

TOKEN = "t0ken-for-the-test-" + "x" * 20


async def served(tmp_path: Path, **config: Any) -> AsyncIterator[Dashboard]:
    async with (
        Controller(ControllerConfig(state_dir=tmp_path / "ctl", name="Test dashboard", interfaces=LOOPBACK)) as ctl,
        Dashboard(ctl, DashboardConfig(port=0, **config)) as dashboard,
    ):
        yield dashboard


@pytest.fixture
async def open_dashboard(tmp_path: Path) -> AsyncIterator[Dashboard]:
    async for dashboard in served(tmp_path):
        yield dashboard


@pytest.fixture
async def token_dashboard(tmp_path: Path) -> AsyncIterator[Dashboard]:
    async for dashboard in served(tmp_path, token=TOKEN):
        yield dashboard


def base(dashboard: Dashboard) -> str:
    return f"http://127.0.0.1:{dashboard.port}"


async def next_json(ws: aiohttp.ClientWebSocketResponse, kind: str, seconds: float = 10) -> dict[str, Any]:
    async with asyncio.timeout(seconds):
        while True:
            message = await ws.receive()
            assert message.type == aiohttp.WSMsgType.TEXT, message
            data: dict[str, Any] = json.loads(message.data)
            if data["type"] == kind:
                return data


async def next_answer(ws: aiohttp.ClientWebSocketResponse, request_id: int, seconds: float = 20) -> dict[str, Any]:
    """The ``result`` or ``error`` answering request ``request_id``."""
    async with asyncio.timeout(seconds):
        while True:
            data = json.loads((await ws.receive()).data)
            if data["type"] in ("result", "error") and data["id"] == request_id:
                return data  # type: ignore[no-any-return]


async def until_listed(ws: aiohttp.ClientWebSocketResponse, hello: dict[str, Any], name: str) -> None:
    """Wait until the page knows device ``name`` (in ``hello`` already, or in a later ``device`` message)."""
    if any(d["name"] == name for d in hello["devices"]):
        return
    async with asyncio.timeout(15):
        while (await next_json(ws, "device"))["device"]["name"] != name:
            pass


async def test_the_page_and_its_files_are_served_with_a_strict_policy(open_dashboard: Dashboard) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(base(open_dashboard) + "/") as r:
            assert r.status == 200
            assert "device_sdk dashboard" in await r.text()
            csp = r.headers["Content-Security-Policy"]
            assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe" not in csp
            assert r.headers["Referrer-Policy"] == "no-referrer"
        for path in ("/static/app.js", "/static/vendor/uPlot.iife.min.js", "/static/vendor/jsQR.js"):
            async with http.get(base(open_dashboard) + path) as r:
                assert r.status == 200, path
        async with http.get(base(open_dashboard) + "/static/../server.py") as r:
            assert r.status in (403, 404)


async def test_loopback_refuses_foreign_hosts_and_origins(open_dashboard: Dashboard) -> None:
    url = base(open_dashboard)
    async with aiohttp.ClientSession() as http:
        async with http.get(url + "/", headers={"Host": f"rebound.example:{open_dashboard.port}"}) as r:
            assert r.status == 403
            assert "answers only to 127.0.0.1" in await r.text()
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(url + "/ws", headers={"Origin": "http://evil.example"})
        assert refused.value.status == 403
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await http.ws_connect(url + "/ws")  # no Origin: not from the page
        async with http.ws_connect(url + "/ws", headers={"Origin": url}) as ws:
            hello = await next_json(ws, "hello")
            assert hello["version"] == 1 and hello["controller"]["name"] == "Test dashboard"


async def test_the_token_is_checked_on_every_request_and_moved_to_a_cookie(
    token_dashboard: Dashboard, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url = base(token_dashboard)
    assert token_dashboard.url.endswith(f"/?token={TOKEN}")
    async with aiohttp.ClientSession() as anonymous:
        for path in ("/", "/static/app.js"):
            async with anonymous.get(url + path) as r:
                assert r.status == 403 and "token is missing or wrong" in await r.text()
        async with anonymous.get(url + "/?token=wrong") as r:
            assert r.status == 403
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await anonymous.ws_connect(url + "/ws", headers={"Origin": url})
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(url + f"/?token={TOKEN}", allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"] == "/"  # out of the address bar
            cookie = r.headers["Set-Cookie"]
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        async with http.get(url + "/") as r:
            assert r.status == 200
        async with http.get(url + "/static/app.js") as r:
            assert r.status == 200
        async with http.ws_connect(url + "/ws", headers={"Origin": url}) as ws:
            await next_json(ws, "hello")
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await http.ws_connect(url + "/ws", headers={"Origin": "http://elsewhere.example"})
    assert not [r for r in caplog.records if TOKEN in r.getMessage()]


async def test_bad_input_on_the_websocket_is_answered_and_survived(open_dashboard: Dashboard) -> None:
    url = base(open_dashboard)
    async with aiohttp.ClientSession() as http, http.ws_connect(url + "/ws", headers={"Origin": url}) as ws:
        await next_json(ws, "hello")
        for junk in ("", "{", "[]", '{"type": 5}', '{"type": "watch"}', '{"type": "x"}', "\x00" * 100):
            await ws.send_str(junk)
            error = await next_json(ws, "error")
            assert error["text"] and "Traceback" not in error["text"]
        await ws.send_bytes(b"\xff" * 64)
        assert "text messages only" in (await next_json(ws, "error"))["text"]
        unknown = "Z" * 43 + "="
        for request in (
            {"type": "set", "id": 1, "device": unknown, "channel": "led", "value": True},
            {"type": "peers", "id": 2, "device": unknown},
            {"type": "unpair", "id": 3, "device": unknown},
            {"type": "pair", "id": 4, "device": unknown, "method": "button"},
            {"type": "listen", "id": 5, "device": unknown, "channel": "audio"},
        ):
            await ws.send_str(json.dumps(request))
            error = await next_json(ws, "error")
            assert error["id"] == request["id"]
            assert error["text"].endswith(".") and error["text"][0].isupper(), error
        await ws.send_str(json.dumps({"type": "watch", "id": 9, "device": unknown}))
        assert (await next_json(ws, "result"))["id"] == 9
        assert not ws.closed


async def test_a_page_sees_devices_appear_live(open_dashboard: Dashboard, tmp_path: Path) -> None:
    url = base(open_dashboard)
    name = unique_name("Live")
    async with aiohttp.ClientSession() as http, http.ws_connect(url + "/ws", headers={"Origin": url}) as ws:
        await next_json(ws, "hello")
        device = make_device(tmp_path / "dev", name, board=None)
        await device.start()
        try:
            async with asyncio.timeout(15):
                while True:
                    record = (await next_json(ws, "device"))["device"]
                    if record["name"] == name:
                        break
            assert record["fp"] == device.fingerprint and record["status"] == "online"
            assert record["paired"] is False and record["window_open"] is True
        finally:
            await device.stop()
        async with asyncio.timeout(15):
            while (await next_json(ws, "device-gone"))["fp"] != device.fingerprint:
                pass


def test_the_dashboard_command_prints_its_address_once_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "device_sdk", "-vv", "dashboard", "--listen", "0.0.0.0:0"]
    argv += ["--state-dir", str(tmp_path / "ctl"), "--interface", "lo"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("device_sdk dashboard: http://127.0.0.1:"), line
        url = line.split(": ", 1)[1].strip()
        token = url.split("?token=")[1]
        port = int(url.split(":")[2].split("/")[0])
        elsewhere = f"{socket.gethostname()}.local:{port}"  # listening on every address: a link for the others
        assert proc.stdout.readline().strip() == f"from another machine: http://{elsewhere}/?token={token}"

        async def visit() -> tuple[int, int, int]:
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
                async with http.get(f"http://127.0.0.1:{port}/") as r:
                    refused = r.status
                async with http.get(url) as r:
                    local = r.status
            jar = aiohttp.CookieJar(unsafe=True)
            # as a browser elsewhere would ask, by that name
            async with aiohttp.ClientSession(cookie_jar=jar) as http, http.get(url, headers={"Host": elsewhere}) as r:
                return refused, local, r.status

        assert asyncio.run(visit()) == (403, 200, 200)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "shown only this once" in err
    assert token not in err and token not in out  # printed once, on the first lines only
    assert "Traceback" not in err


def test_the_dashboard_command_explains_a_bad_listen_address(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "device_sdk", "dashboard", "--listen", "nowhere:http", "--state-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith("device-sdk: error: --listen 'nowhere:http': the port must be a number")


@pytest.mark.parametrize(
    ("listen", "why"),
    [("127.0.0.1:{busy}", "another program is using that port"), ("nowhere.invalid:0", "no such host name or address")],
)
def test_the_dashboard_command_says_why_it_cannot_listen(tmp_path: Path, listen: str, why: str) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        address = listen.format(busy=holder.getsockname()[1])
        proc = subprocess.run(
            [sys.executable, "-m", "device_sdk", "dashboard", "--listen", address, "--state-dir", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        f"device-sdk: error: the dashboard cannot listen on {address} ({why}): "
        "choose another address or port with --listen"
    )


async def test_a_closed_window_and_admin_actions_of_a_user_controller_are_explained(
    open_dashboard: Dashboard, tmp_path: Path
) -> None:
    name = unique_name("Shared")
    device = make_device(tmp_path / "dev", name, board=None)
    await device.start()
    try:
        async with Controller(ControllerConfig(state_dir=tmp_path / "owner", interfaces=LOOPBACK)) as owner:
            conn = await owner.pair(await owner.find(name, timeout=15), "20202021")  # the first: an admin
            await conn.close()
        assert not device.window.is_open
        url = base(open_dashboard)
        async with aiohttp.ClientSession() as http, http.ws_connect(url + "/ws", headers={"Origin": url}) as ws:
            await until_listed(ws, await next_json(ws, "hello"), name)
            pair = {"type": "pair", "id": 1, "device": device.fingerprint, "method": "code", "code": "20202021"}
            await ws.send_str(json.dumps(pair))
            error = await next_json(ws, "error", 20)
            assert error["id"] == 1 and error["text"].startswith(f"{name} is not accepting new controllers right now")

            device.open_pairing_window("admin")
            # A person pairs once the page shows the window open: its TXT (and token) is then current.
            async with asyncio.timeout(15):
                while not (await next_json(ws, "device"))["device"]["window_open"]:
                    pass
            await ws.send_str(json.dumps({**pair, "id": 2}))
            answer = await next_answer(ws, 2)
            assert answer["type"] == "result" and answer["value"]["name"] == name, answer
            async with asyncio.timeout(15):
                while (record := (await next_json(ws, "device"))["device"])["status"] != "online":
                    pass
            assert record["role"] == "user"
            await ws.send_str(json.dumps({"type": "peers", "id": 3, "device": device.fingerprint}))
            error = await next_json(ws, "error")
            assert error["id"] == 3 and error["text"] == f"Only an admin controller of {name} can see its controllers."
            await ws.send_str(json.dumps({"type": "open-window", "id": 4, "device": device.fingerprint}))
            error = await next_json(ws, "error")
            assert error["id"] == 4 and error["text"] == f"Only an admin controller of {name} may do that."
            # A user controller removes itself from the device too (the admin channel's leave).
            assert len(device.trust.list()) == 2
            removed: list[ControllerRemoved] = []
            device.subscribe(lambda event: removed.append(event) if isinstance(event, ControllerRemoved) else None)
            await ws.send_str(json.dumps({"type": "unpair", "id": 5, "device": device.fingerprint}))
            assert await next_answer(ws, 5) == {"type": "result", "id": 5, "value": {"removed_on_device": True}}
            assert [c.role for c in device.trust.list()] == ["admin"]  # the owner only
            own = open_dashboard.hub.controller.identity.fingerprint_text
            assert [(e.fingerprint, e.name) for e in removed] == [(own, "Test dashboard")]
            assert not open_dashboard.hub.controller.peers()
    finally:
        await device.stop()


async def until_token_seen(dashboard: Dashboard, device: Device) -> None:
    """Wait until the dashboard's controller has seen the device's current auth-initiation token (it
    changes after each failed attempt, and a pairing with the old one fails)."""
    browser = await dashboard.hub.controller.browser()
    async with asyncio.timeout(15):
        while device.txt_record().at not in {
            d.txt.at for d in browser.devices.values() if d.fingerprint == device.fingerprint
        }:
            await asyncio.sleep(0.05)


async def test_a_device_that_stopped_taking_attempts_says_for_how_long(
    open_dashboard: Dashboard, tmp_path: Path
) -> None:
    now = [1_800_000_000.0]  # the device's clock, held still: its lock-out lasts until the test moves it
    name = unique_name("Locked")
    device = make_device(tmp_path / "dev", name, board=None, clock=lambda: now[0])
    lockouts: list[LockoutStarted] = []
    device.subscribe(lambda event: lockouts.append(event) if isinstance(event, LockoutStarted) else None)
    await device.start()
    try:
        url = base(open_dashboard)
        async with aiohttp.ClientSession() as http, http.ws_connect(url + "/ws", headers={"Origin": url}) as ws:
            await until_listed(ws, await next_json(ws, "hello"), name)
            wrong = {"type": "pair", "device": device.fingerprint, "method": "code", "code": "20202022"}
            for rid in range(1, LOCKOUT_THRESHOLD + 1):
                await until_token_seen(open_dashboard, device)  # as a person would retry: not with a stale one
                await ws.send_str(json.dumps({**wrong, "id": rid}))
                error = await next_answer(ws, rid)
                assert error["text"].startswith(f"That code is not the one {name} expects"), error
            assert [e.consecutive_failures for e in lockouts] == [LOCKOUT_THRESHOLD]
            await until_token_seen(open_dashboard, device)
            await ws.send_str(json.dumps({**wrong, "code": "20202021", "id": 9}))
            error = await next_answer(ws, 9)
            assert error["type"] == "error" and error["text"] == (
                f"{name} is not taking pairing attempts for 1 s (too many wrong codes, or another controller is "
                "pairing): wait, then try again with the right code."
            )
            now[0] = lockouts[0].until + 0.5  # the lock-out is over: the right code pairs
            await ws.send_str(json.dumps({**wrong, "code": "20202021", "id": 10}))
            answer = await next_answer(ws, 10)
            assert answer["type"] == "result" and answer["value"]["name"] == name, answer
    finally:
        await device.stop()


async def test_a_device_renamed_elsewhere_shows_its_new_name(open_dashboard: Dashboard, tmp_path: Path) -> None:
    name, new_name = unique_name("Before"), unique_name("After")
    device = make_device(tmp_path / "dev", name, board=None)
    await device.start()
    try:
        url = base(open_dashboard)
        async with aiohttp.ClientSession() as http, http.ws_connect(url + "/ws", headers={"Origin": url}) as ws:
            await until_listed(ws, await next_json(ws, "hello"), name)
            pair = {"type": "pair", "id": 1, "device": device.fingerprint, "method": "code", "code": "20202021"}
            await ws.send_str(json.dumps(pair))
            assert (await next_answer(ws, 1))["type"] == "result"
            await ws.send_str(json.dumps({"type": "watch", "device": device.fingerprint}))
            await next_json(ws, "catalog")
            device.rename(new_name)  # on the device (a button, another controller)
            async with asyncio.timeout(20):
                while (record := (await next_json(ws, "device"))["device"])["name"] != new_name:
                    pass
            assert record["fp"] == device.fingerprint and record["status"] == "online"
            assert (await next_json(ws, "catalog"))["info"]["name"] == new_name
    finally:
        await device.stop()


async def test_unpaired_devices_show_model_and_full_name_read_once_per_version_a_few_at_a_time(
    open_dashboard: Dashboard, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    controller = open_dashboard.hub.controller
    probed: list[tuple[str, int]] = []
    running, most = 0, 0
    real_probe = controller.probe

    async def counting_probe(device: Any) -> Any:  # the real probe, counted
        nonlocal running, most
        probed.append((device.fingerprint, device.txt.mv))
        running += 1
        most = max(most, running)
        try:
            return await real_probe(device)
        finally:
            running -= 1

    monkeypatch.setattr(controller, "probe", counting_probe)
    long_name = unique_name("A device with a name far longer than an mDNS label may carry") + " " + "x" * 20
    names = [long_name] + [unique_name(f"Probe{i}") for i in range(3)]
    devices = [
        make_device(tmp_path / f"dev{i}", name, board=None, model=f"Model {i}", open_window=False)
        for i, name in enumerate(names)
    ]
    url = base(open_dashboard)
    async with aiohttp.ClientSession() as http, http.ws_connect(url + "/ws", headers={"Origin": url}) as ws:
        await next_json(ws, "hello")
        await asyncio.gather(*(d.start() for d in devices))
        try:
            by_fp = {d.fingerprint: i for i, d in enumerate(devices)}
            models: dict[str, dict[str, Any]] = {}
            async with asyncio.timeout(30):
                while len(models) < len(devices):
                    record = (await next_json(ws, "device"))["device"]
                    if record["fp"] in by_fp and record["model"] is not None:
                        models[record["fp"]] = record
            for fp, record in models.items():
                i = by_fp[fp]
                assert record["model"] == f"Model {i}" and record["paired"] is False
                assert record["name"] == names[i]  # the full name, though the mDNS name is cut short
            assert len(long_name.encode()) > 63
            assert most <= 2  # MAX_PROBES
            assert sorted(fp for fp, _ in probed) == sorted(by_fp)  # once each

            # A new TXT record with the same metadata version (the window opened): no new probe.
            first = devices[1]
            first.open_pairing_window("admin")
            async with asyncio.timeout(15):
                while not (
                    (r := (await next_json(ws, "device"))["device"])["fp"] == first.fingerprint and r["window_open"]
                ):
                    pass
            # A new metadata version (renamed on the device): read once more.
            renamed = unique_name("Renamed")
            first.rename(renamed)
            async with asyncio.timeout(20):
                while not (
                    (r := (await next_json(ws, "device"))["device"])["fp"] == first.fingerprint and r["name"] == renamed
                ):
                    pass
            await asyncio.sleep(1.0)  # any further probe would have started by now
            versions = [mv for fp, mv in probed if fp == first.fingerprint]
            assert len(versions) == 2 and versions[0] != versions[1], probed
        finally:
            await asyncio.gather(*(d.stop() for d in devices))


async def test_an_unreachable_device_is_not_forgotten_unless_asked_to_forget_it_here_only(
    open_dashboard: Dashboard, tmp_path: Path
) -> None:
    name = unique_name("Gone")
    device = make_device(tmp_path / "dev", name, board=None)
    await device.start()
    url = base(open_dashboard)
    controller = open_dashboard.hub.controller
    try:
        async with aiohttp.ClientSession() as http, http.ws_connect(url + "/ws", headers={"Origin": url}) as ws:
            await until_listed(ws, await next_json(ws, "hello"), name)
            pair = {"type": "pair", "id": 1, "device": device.fingerprint, "method": "code", "code": "20202021"}
            await ws.send_str(json.dumps(pair))
            assert (await next_answer(ws, 1))["type"] == "result"
            async with asyncio.timeout(15):
                while (await next_json(ws, "device"))["device"]["status"] != "online":
                    pass
            await device.stop()
            async with asyncio.timeout(20):
                while (await next_json(ws, "device"))["device"]["status"] != "lost":
                    pass
            await ws.send_str(json.dumps({"type": "unpair", "id": 2, "device": device.fingerprint}))
            error = await next_answer(ws, 2, 30)
            assert error["type"] == "error" and error["offer"] == "forget-here", error
            assert error["text"].startswith(f"The dashboard could not reach {name} to remove itself from it")
            assert controller.peers(), "nothing is forgotten when the device cannot be reached"
            forget = {"type": "unpair", "id": 3, "device": device.fingerprint, "local_only": True}
            await ws.send_str(json.dumps(forget))
            assert await next_answer(ws, 3) == {"type": "result", "id": 3, "value": {"removed_on_device": False}}
            assert not controller.peers()
            assert device.trust.list(), "the device, unreached, still lists the dashboard"
    finally:
        await device.stop()


async def test_a_failing_background_task_is_logged_and_the_hub_goes_on(
    open_dashboard: Dashboard, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken() -> None:
        raise RuntimeError("a bug in a refresh")

    hub = open_dashboard.hub
    with caplog.at_level(logging.ERROR, logger="device_sdk.dashboard.hub"):
        hub._background(broken())
        async with asyncio.timeout(5):
            while not any(
                r.name == "device_sdk.dashboard.hub" and r.exc_info and "a bug in a refresh" in str(r.exc_info[1])
                for r in caplog.records
            ):
                await asyncio.sleep(0.01)
    assert not hub._refreshes
    url = base(open_dashboard)
    async with aiohttp.ClientSession() as http, http.ws_connect(url + "/ws", headers={"Origin": url}) as ws:
        await next_json(ws, "hello")  # still serving pages
