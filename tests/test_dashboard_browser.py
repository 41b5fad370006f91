"""The dashboard end to end in a real headless chromium: real devices advertised over mDNS on loopback,
a real Controller behind the dashboard, a real browser page (Playwright driving the system chromium)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import segno

from device_sdk import Device, PairingMode, PinShown, SetupPayload, encode_qr
from device_sdk.channels import Actuator, Input
from device_sdk.hardware import Sink

from ._cli_helpers import DeviceProcess, unique_name
from ._dashboard_helpers import SETUP_CODE, Session, make_device, session, wait_until

pytestmark = pytest.mark.timeout(90)


async def started(device: Device) -> Device:
    await device.start()
    return device


async def open_device_page(s: Session, name: str) -> None:
    await s.page.wait_for_selector("[data-testid=plot-temperature], [data-testid=stream-audio]", timeout=20_000)
    assert await s.page.text_content("[data-testid=device-name]") == name


async def pair_through_page(s: Session, name: str) -> None:
    await s.pair(name, str(SETUP_CODE))
    await s.page.wait_for_selector("[data-testid=device-name]", timeout=20_000)


async def points(s: Session, channel: str) -> int:
    return int(await s.page.get_attribute(f"[data-testid=plot-{channel}]", "data-points") or 0)


async def test_a_device_appears_a_wrong_code_is_explained_pairing_works_and_the_plot_moves(tmp_path: Path) -> None:
    name = unique_name("Thermo")
    device = await started(make_device(tmp_path / "thermo", name, model="Thermo Mk II"))
    try:
        async with session(tmp_path) as s:
            card = s.card(name)
            await card.wait_for(timeout=15_000)
            assert await card.get_attribute("data-paired") == "false"
            assert await card.get_attribute("data-status") == "online"
            assert await card.locator("[data-testid=window-open]").count() == 1
            # Not paired yet, its model shows: the dashboard read its agent-info (Controller.probe).
            sub = card.locator("[data-testid=device-sub]")
            await wait_until(lambda: _contains(sub, "Thermo Mk II"), 15, "the unpaired card shows the model")

            await s.pair(name, "20202020")  # a valid passcode, not this device's
            error = s.page.locator("[data-testid=pair-error]")
            await error.wait_for(state="visible", timeout=20_000)
            text = await error.text_content() or ""
            assert text.startswith(f"That code is not the one {name} expects")
            assert "20202020" not in text
            assert await s.page.input_value("[data-testid=pair-code]") == ""  # the code is not kept

            await s.page.fill("[data-testid=pair-code]", str(SETUP_CODE))
            await s.page.click("[data-testid=pair-submit]")
            await open_device_page(s, name)
            assert await s.page.input_value("[data-testid=pair-code]") == ""

            first = await points(s, "temperature")
            await wait_until(lambda: _more(s, "temperature", first + 5), 15, "the temperature plot gained points")
            value = await s.page.text_content("[data-testid=value-temperature]") or ""
            assert 10.0 <= float(value) <= 35.0
            log = await s.page.text_content("[data-testid=log]") or ""
            assert f"Paired with {name}" in log and "failed" in log
            assert str(SETUP_CODE) not in log
    finally:
        await device.stop()


async def _more(s: Session, channel: str, than: int) -> bool:
    return await points(s, channel) >= than


async def test_the_led_switch_changes_the_device_and_shows_what_the_device_confirmed(tmp_path: Path) -> None:
    name = unique_name("Lamp")
    device = await started(make_device(tmp_path / "lamp", name))
    try:
        async with session(tmp_path) as s:
            await pair_through_page(s, name)
            switch = s.page.locator("[data-testid=switch-led]")
            await switch.wait_for(state="attached", timeout=15_000)
            assert device.hardware is not None
            led = device.hardware.runtime.part("led")
            actuator = device.channels["led"]
            assert isinstance(led, Sink) and isinstance(actuator, Actuator)
            assert led.state is False
            await s.page.click("[data-testid=switch-led] + .track")
            await wait_until(lambda: bool(led.state), 10, "the device's LED turned on")
            assert actuator.value is True
            # The state line shows what the device confirmed (the switch itself moves at the click).
            await wait_until(
                lambda: _text_is(s, "[data-testid=state-led]", "state: on"), 10, "the device's state shows"
            )
            assert await switch.is_checked()

            # A change made on the device (its own code drives the LED) shows in the page too.
            device.hardware.set("led", False)
            assert led.state is False
            await wait_until(lambda: _unchecked(switch), 10, "the switch followed the device")
            assert await s.page.text_content("[data-testid=state-led]") == "state: off"

            # The input channel (a push button) shows its state and the latency percentiles.
            button = device.channels["button"]
            assert isinstance(button, Input)
            button.publish(True)
            latency = s.page.locator("[data-testid=latency-button]")
            await wait_until(lambda: _contains(latency, "p99"), 10, "the input's latency showed")
            assert "on" in (await s.page.text_content("[data-testid=input-button]") or "")

    finally:
        await device.stop()


async def _contains(locator: Any, text: str) -> bool:
    return text in (await locator.text_content() or "")


async def _unchecked(locator: Any) -> bool:
    return not bool(await locator.is_checked())


async def test_the_baby_monitors_audio_reaches_the_page_and_records_to_wav(tmp_path: Path) -> None:
    name = unique_name("Baby")
    script = Path(__file__).parent.parent / "examples" / "baby_monitor" / "device.py"
    argv = [sys.executable, str(script), "--state-dir", str(tmp_path / "baby"), "--name", name]
    argv += ["--setup-code", str(SETUP_CODE), "--burst-every", "3", "--duration", "80"]
    monitor = await asyncio.create_subprocess_exec(*argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        async with session(tmp_path) as s:
            await pair_through_page(s, name)
            await s.page.click("[data-testid=listen-audio]", timeout=15_000)
            # 16 kHz mono: a second of audio scheduled into the page's Web Audio graph.
            await wait_until(
                lambda: s.page.evaluate("window.dashboard.audioStats.scheduled >= 16000"), 20, "audio reached the page"
            )
            assert await s.page.evaluate("window.dashboard.audioStats.samples") >= 16000
            await s.page.click("[data-testid=record-audio]")
            await asyncio.sleep(1.0)
            await s.page.click("[data-testid=record-audio]")
            link = s.page.locator("[data-testid=wav-audio]")
            await link.wait_for(timeout=5_000)
            assert "Save WAV" in (await link.text_content() or "")
            async with s.page.expect_download() as info:
                await link.click()
            download = await info.value
            wav = await asyncio.to_thread(Path(await download.path()).read_bytes)
            assert wav[:4] == b"RIFF" and wav[8:12] == b"WAVE" and len(wav) > 44 + 16000
            level = await s.page.text_content("[data-testid=value-sound_level]") or ""
            assert float(level) > 0
    finally:
        monitor.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(monitor.wait(), 10)
        except TimeoutError:
            monitor.kill()
            await monitor.wait()


@pytest.mark.timeout(150)
async def test_a_killed_device_shows_lost_comes_back_and_can_be_forgotten_here_when_gone(tmp_path: Path) -> None:
    name = unique_name("Kill")
    proc = DeviceProcess(name, tmp_path / "killed", tmp_path / "ready.json", ("--setup-code", str(SETUP_CODE)))
    proc.start("--open-window")
    try:
        async with session(tmp_path) as s:
            await pair_through_page(s, name)
            await s.page.click("[data-testid=back]")
            card = s.card(name)
            await wait_until(lambda: _status(card, "online"), 15, "the paired device shows online")
            assert proc.proc is not None
            proc.proc.send_signal(signal.SIGKILL)
            proc.proc.wait()
            proc.proc = None
            # The SDK's keep-alive ends the connection within its liveness timeout (5 s): ConnectionLost.
            await wait_until(lambda: _status(card, "lost"), 30, "the killed device shows lost")
            await wait_until(
                lambda: _logged(s.page, f"Lost contact with {name}: it stopped answering"), 5, "lost logged"
            )
            proc.start()
            await wait_until(lambda: _status(card, "online"), 45, "the restarted device shows online again")
            await wait_until(lambda: _logged(s.page, f"{name} is back"), 5, "the return logged")

            # Gone for good: unpairing cannot reach it, so the page offers to forget it here only.
            assert proc.proc is not None
            proc.proc.send_signal(signal.SIGKILL)
            proc.proc.wait()
            proc.proc = None
            await wait_until(lambda: _status(card, "lost"), 30, "the killed device shows lost again")
            await card.click()
            unpair = s.page.locator("[data-testid=unpair]")
            await unpair.click(timeout=10_000)
            await unpair.click()  # the second click confirms
            forget = s.page.locator("[data-testid=forget-here]")
            await forget.wait_for(timeout=20_000)
            toasts = await s.page.text_content("#toasts") or ""
            assert f"The dashboard could not reach {name}" in toasts
            assert s.controller.peers(), "nothing is forgotten when the device cannot be reached"
            await forget.click()
            await forget.click()
            await wait_until(lambda: not s.controller.peers(), 10, "the dashboard forgot the device")
            # the page hears of it after the controller has forgotten it
            await wait_until(lambda: _logged(s.page, "on this side only"), 5, "forgetting here logged")
    finally:
        proc.kill()


async def _status(card: Any, status: str) -> bool:
    return bool(await card.get_attribute("data-status") == status)


async def _logged(page: Any, text: str) -> bool:
    """Whether the page's event log shows ``text`` (entries arrive apart from status changes)."""
    return text in (await page.text_content("[data-testid=log]") or "")


async def test_a_closed_websocket_and_a_reopened_tab_recover(tmp_path: Path) -> None:
    name = unique_name("Recover")
    device = await started(make_device(tmp_path / "recover", name))
    try:
        async with session(tmp_path) as s:
            await pair_through_page(s, name)
            url = s.page.url
            # The server drops every WebSocket: the page says so, reconnects and carries on.
            for page in list(s.dashboard.hub.pages):
                await page.ws.close()  # type: ignore[attr-defined]
            await wait_until(lambda: s.page.evaluate("window.dashboard.connected"), 30, "the page reconnected")
            first = await points(s, "temperature")
            await wait_until(lambda: _more(s, "temperature", first + 3), 30, "readings flow again")
            # A new tab on the same device page, the old one closed.
            await s.page.close()
            s.page = await s.new_page()
            await s.page.goto(url)
            await open_device_page(s, name)
            await wait_until(lambda: _more(s, "temperature", 3), 30, "the reopened tab shows readings")
            assert len(s.dashboard.hub.pages) == 1
    finally:
        await device.stop()


async def test_display_pin_pairing_and_admin_actions(tmp_path: Path) -> None:
    name = unique_name("Panel")
    device = make_device(tmp_path / "panel", name, pairing_mode=PairingMode.DISPLAY)
    pins: list[str] = []
    device.subscribe(lambda event: pins.append(event.text) if isinstance(event, PinShown) else None)
    await device.start()
    try:
        async with session(tmp_path) as s:
            await s.card(name).locator("[data-testid=pair-button]").click(timeout=15_000)
            await s.page.click("[data-testid=tab-pin]")
            await s.page.click("[data-testid=pair-submit]")
            pin_box = s.page.locator("[data-testid=pair-pin]")
            await pin_box.wait_for(state="visible", timeout=15_000)
            assert pins, "the device showed no PIN"
            await pin_box.fill(pins[-1])
            await s.page.click("[data-testid=pair-submit]")
            await s.page.wait_for_selector("[data-testid=device-name]", timeout=20_000)

            # This dashboard is the first controller: an admin, listed by the device.
            rows = s.page.locator("[data-testid=peer-row]")
            await rows.first.wait_for(timeout=15_000)
            assert "this dashboard" in (await rows.first.text_content() or "")
            await s.page.click("[data-testid=open-window]")
            await wait_until(lambda: device.window.is_open, 10, "the device's pairing window opened")

            new_name = unique_name("Renamed")
            await s.page.fill("[data-testid=rename-input]", new_name)
            await s.page.click("[data-testid=rename]")
            await wait_until(lambda: device.name == new_name, 10, "the device took its new name")
            await wait_until(
                lambda: _text_is(s, "[data-testid=device-name]", new_name), 15, "the page shows the new name"
            )

            unpair = s.page.locator("[data-testid=unpair]")
            await unpair.click()
            await unpair.click()  # the second click confirms
            await wait_until(lambda: not device.trust.list(), 10, "the device forgot this controller")
            await wait_until(lambda: not s.controller.peers(), 10, "the dashboard forgot the device")
    finally:
        await device.stop()


async def _text_is(s: Session, selector: str, text: str) -> bool:
    return bool(await s.page.text_content(selector) == text)


async def test_a_photo_of_the_sticker_fills_in_the_code(tmp_path: Path) -> None:
    qr_text = encode_qr(SetupPayload(passcode=SETUP_CODE, discriminator=1234))
    photo = tmp_path / "sticker.png"
    segno.make(qr_text, error="m").save(str(photo), scale=8, border=4)
    async with session(tmp_path) as s:
        await s.page.click("[data-testid=add-device]")
        await s.page.set_input_files("[data-testid=scan-photo]", str(photo))
        await wait_until(
            lambda: _value_is(s, "[data-testid=pair-code]", qr_text), 15, "the QR code in the photo was read"
        )
        # No device waits for this code: the page says so in a sentence.
        await s.page.click("[data-testid=pair-submit]")
        error = s.page.locator("[data-testid=pair-error]")
        await error.wait_for(state="visible", timeout=20_000)
        assert "No device with an open pairing window matches this code" in (await error.text_content() or "")


async def _value_is(s: Session, selector: str, value: str) -> bool:
    return bool(await s.page.input_value(selector) == value)
