"""Helpers of the dashboard tests: the system chromium driven by Playwright, and a dashboard served by a
real Controller on loopback with real devices advertised over mDNS."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from device_sdk import Controller, ControllerConfig, Device, DeviceConfig
from device_sdk.dashboard import Dashboard, DashboardConfig

from ._chromium import CHROMIUM_ARGS, chromium_path

pw = pytest.importorskip("playwright.async_api", reason="playwright is not installed (pip install -e '.[dev]')")

LOOPBACK = ("127.0.0.1",)
SETUP_CODE = 20202021

__all__ = [
    "CHROMIUM_ARGS",
    "LOOPBACK",
    "SETUP_CODE",
    "Session",
    "chromium_path",
    "launch_chromium",
    "make_device",
    "session",
    "wait_until",
]


@contextlib.asynccontextmanager
async def launch_chromium() -> AsyncIterator[Any]:
    """A headless chromium; skips the test, saying why, when there is none that starts."""
    path = chromium_path()
    if path is None:
        pytest.skip("no chromium on this machine (.ci/run installs Debian's chromium)")
    async with pw.async_playwright() as playwright:
        try:
            browser = await playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, timeout=30_000)
        except Exception as exc:  # the browser cannot start here: say so
            pytest.skip(f"chromium at {path} cannot be launched: {str(exc).splitlines()[0]}")
        try:
            yield browser
        finally:
            await browser.close()


def make_device(
    state_dir: Path,
    name: str,
    *,
    board: str | None = "sim",
    open_window: bool = True,
    clock: Callable[[], float] | None = None,
    **more: Any,
) -> Device:
    """A device advertised over mDNS on loopback, accepting :data:`SETUP_CODE` (``clock``: the device's
    own, for a test that must hold its pairing lock-out still)."""
    config = DeviceConfig(
        state_dir=state_dir,
        name=name,
        board=board,
        host="127.0.0.1",
        interfaces=LOOPBACK,
        setup_code=SETUP_CODE,
        open_window=open_window,
        **more,
    )
    return Device(config) if clock is None else Device(config, clock=clock)


@dataclass
class Session:
    """A dashboard, its controller and one browser page showing it."""

    controller: Controller
    dashboard: Dashboard
    browser: Any
    page: Any
    errors: list[str]

    async def new_page(self) -> Any:
        page = await self.browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        await page.goto(self.dashboard.url)
        # Polled with evaluate: wait_for_function would need eval, which the page's CSP forbids.
        await wait_until(lambda: page.evaluate("!!(window.dashboard && window.dashboard.connected)"), 15, "page up")
        return page

    def card(self, name: str) -> Any:
        return self.page.locator(f'[data-testid=device-card][data-name="{name}"]')

    async def pair(self, name: str, code: str) -> None:
        """Pair with ``name`` through the page: the dialog, the code, the Pair button."""
        await self.card(name).locator("[data-testid=pair-button]").click(timeout=15_000)
        await self.page.fill("[data-testid=pair-code]", code)
        await self.page.click("[data-testid=pair-submit]")


@contextlib.asynccontextmanager
async def session(tmp_path: Path, *, name: str = "Dashboard") -> AsyncIterator[Session]:
    """A dashboard on a free loopback port and a page open on it. Page errors fail the test at the end."""
    async with (
        launch_chromium() as browser,
        Controller(ControllerConfig(state_dir=tmp_path / "dashboard", name=name, interfaces=LOOPBACK)) as ctl,
        Dashboard(ctl, DashboardConfig(port=0)) as dashboard,
    ):
        s = Session(ctl, dashboard, browser, None, [])
        s.page = await s.new_page()
        yield s
        assert not s.errors, f"errors in the page: {s.errors}"


async def wait_until(check: Callable[[], Awaitable[bool] | bool], seconds: float, what: str) -> None:
    """Poll ``check`` until it holds; fail saying ``what`` after ``seconds``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError(f"{what} within {seconds:g} s")
        await asyncio.sleep(0.1)
