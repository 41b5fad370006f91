"""Take the dashboard screenshots of docs/dashboard.md from the real page.

Simulated devices on loopback (a sim board "Thermo", the baby monitor example, two devices waiting to be
paired), a real Controller behind the dashboard, the system chromium driven by Playwright. Run it in a
network namespace of its own so that no other mDNS traffic shows up:

    ip netns add shots && ip -n shots link set lo up
    ip netns exec shots .venv/bin/python docs/screenshots/take.py
"""

from __future__ import annotations

import asyncio
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

from playwright.async_api import Page, async_playwright

from device_sdk import Controller, ControllerConfig, Device, DeviceConfig
from device_sdk.dashboard import Dashboard, DashboardConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests._chromium import CHROMIUM_ARGS, system_chromium

OUT = Path(__file__).parent
ROOT = OUT.parent.parent
LOOPBACK = ("127.0.0.1",)
CODE = 20202021


def device(state: Path, name: str, **more: Any) -> Device:
    return Device(
        DeviceConfig(state_dir=state / name, name=name, host="127.0.0.1", interfaces=LOOPBACK, setup_code=CODE, **more)
    )


async def pair(page: Page, name: str, code: str) -> None:
    await page.locator(f'[data-testid=device-card][data-name="{name}"] [data-testid=pair-button]').click()
    await page.fill("[data-testid=pair-code]", code)
    await page.click("[data-testid=pair-submit]")


async def whole_page(page: Page, path: Path) -> None:
    """The whole page in one picture: a viewport as tall as the page (a full-page capture would paint the
    sticky header in the middle)."""
    height = await page.evaluate("document.documentElement.scrollHeight")
    await page.set_viewport_size({"width": 1360, "height": int(height)})
    await asyncio.sleep(0.5)
    await page.screenshot(path=path)
    await page.set_viewport_size({"width": 1360, "height": 860})


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        devices = [
            device(state, "Thermo", board="sim", model="Living room sensor", open_window=True),
            device(state, "Smart Plug", model="device_sdk smart plug", open_window=True),
            device(state, "Garden soil", model="Soil moisture probe", open_window=True),
        ]
        for d in devices:
            await d.start()
        baby = await asyncio.create_subprocess_exec(
            sys.executable,
            str(ROOT / "examples" / "baby_monitor" / "device.py"),
            "--state-dir",
            str(state / "baby"),
            "--name",
            "Nursery",
            "--setup-code",
            str(CODE),
            "--burst-every",
            "4",
            stdout=asyncio.subprocess.DEVNULL,
        )
        ctl_config = ControllerConfig(state_dir=state / "dashboard", name="Kitchen tablet", interfaces=LOOPBACK)
        try:
            async with (
                Controller(ctl_config) as ctl,
                Dashboard(ctl, DashboardConfig(port=0)) as dashboard,
                async_playwright() as playwright,
            ):
                browser = await playwright.chromium.launch(executable_path=system_chromium(), args=CHROMIUM_ARGS)
                page = await browser.new_page(viewport={"width": 1360, "height": 860}, device_scale_factor=1)
                await page.goto(dashboard.url)
                await page.locator("[data-testid=device-card]").nth(3).wait_for(timeout=30_000)
                await pair(page, "Thermo", str(CODE))
                await page.wait_for_selector("[data-testid=plot-temperature]", timeout=30_000)
                await page.click("[data-testid=back]")
                await pair(page, "Nursery", "20202020")  # a wrong code, for its sentence
                await page.wait_for_selector("[data-testid=pair-error]:not(.hidden)", timeout=30_000)
                await page.screenshot(path=OUT / "pairing.png")
                await page.fill("[data-testid=pair-code]", str(CODE))
                await page.click("[data-testid=pair-submit]")
                await page.wait_for_selector("[data-testid=listen-audio]", timeout=30_000)
                await page.click("[data-testid=back]")
                await asyncio.sleep(25)  # some history in the plots
                await page.screenshot(path=OUT / "devices.png")
                fp = devices[0].fingerprint
                await page.goto(f"{dashboard.url}#/device/{quote(fp, safe='')}")
                await page.wait_for_selector("[data-testid=plot-temperature]")
                await asyncio.sleep(2)
                await whole_page(page, OUT / "device.png")
                await page.emulate_media(color_scheme="dark")
                await page.goto(f"{dashboard.url}#/")
                await page.wait_for_selector("[data-testid=device-card]")
                nursery = page.locator('[data-testid=device-card][data-name="Nursery"]')
                await nursery.click()
                await page.click("[data-testid=listen-audio]")
                await asyncio.sleep(6)
                await whole_page(page, OUT / "baby-monitor-dark.png")
                await browser.close()
        finally:
            baby.send_signal(signal.SIGINT)
            await baby.wait()
            for d in devices:
                await d.stop()
    print(f"screenshots written to {OUT}")  # noqa: T201 - a script for people


if __name__ == "__main__":
    asyncio.run(main())
