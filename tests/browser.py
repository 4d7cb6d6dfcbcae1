"""Headless Chromium (Debian's chromium + chromium-driver) driven by Selenium, for the page tests.

Started with the flags a machine without outside network needs, and a fresh profile each time.
Screenshots go to outputs/test_artifacts/, which CI keeps as the tests' artifacts.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ARTIFACTS = Path(__file__).resolve().parents[1] / "outputs" / "test_artifacts"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--window-size=1200,1600",
         "--autoplay-policy=no-user-gesture-required"]


def chromium_paths() -> tuple[str, str]:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not browser or not driver:
        raise RuntimeError("the page tests need Debian's chromium and chromium-driver: run `make chromium` "
                           "(make test does)")
    return browser, driver


@contextmanager
def chromium() -> Iterator["webdriver.Chrome"]:  # noqa: F821 - selenium's type, imported lazily
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver = chromium_paths()
    with tempfile.TemporaryDirectory() as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = browser
        for flag in [*FLAGS, f"--user-data-dir={profile}"]:
            options.add_argument(flag)
        session = webdriver.Chrome(service=Service(driver), options=options)
        try:
            yield session
        finally:
            session.quit()


def screenshot(session, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    session.save_screenshot(str(path))
    return path
