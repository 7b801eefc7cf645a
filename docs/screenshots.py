"""Make the README screenshots: docs/projector.png and docs/phone.png.

Starts a real `consult serve` with the demo café on a free loopback port, lets a
room of phones answer the scale question, and photographs the projector and one
phone with Chromium (through Playwright). Run from the repository root:

    python docs/screenshots.py

CONSULT_CHROMIUM names the browser if it is not /usr/bin/chromium.
"""
import os
import random
import re
import shutil
import sys
import tempfile
from pathlib import Path

import requests
from playwright.sync_api import expect, sync_playwright

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))

from consult.cli import DEMO_EMAIL, DEMO_PASSWORD  # noqa: E402
from tests.live_server import LiveServer  # noqa: E402

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
PUBLIC_URL = "http://192.168.1.20:5000"
SCALE_TEXT = "How confident are you that this strategy will make a difference?"
# How a room of 23 might answer the 1-5 scale (the phone in the picture adds one more 4).
ROOM = [1] * 1 + [2] * 3 + [3] * 6 + [4] * 9 + [5] * 4


def chromium_path():
    for path in (os.environ.get("CONSULT_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if path and os.path.exists(path):
            return path
    return None


def phone_votes(url, code, value):
    """One phone: join (a new participant cookie) and vote over the plain HTTP fallback."""
    http = requests.Session()
    page = http.get(f"{url}/j/{code}").text
    csrf = re.search(r'data-csrf="([^"]+)"', page).group(1)
    state = http.get(f"{url}/j/{code}/state.json").json()
    r = http.post(
        f"{url}/j/{code}/vote",
        json={"question_id": state["question"]["id"], "client_id": os.urandom(16).hex(), "value": value},
        headers={"X-CSRFToken": csrf},
    )
    assert r.json().get("ok"), r.text


def main():
    with tempfile.TemporaryDirectory() as tmp:
        # The join address a projector at a real venue would show (the server itself stays on loopback).
        server = LiveServer(Path(tmp) / "instance", env={"CONSULT_PUBLIC_URL": PUBLIC_URL}).start()
        try:
            code = server.demo()
            shoot(server, code)
        finally:
            server.stop()


def shoot(server, code):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            desk = browser.new_context(viewport={"width": 1280, "height": 720})
            control = desk.new_page()
            control.goto(server.url + "/auth/login")
            control.get_by_label("Email", exact=True).fill(DEMO_EMAIL)
            control.get_by_label("Password", exact=True).fill(DEMO_PASSWORD)
            control.get_by_role("button", name="Sign in").click()
            control.get_by_role("link", name="Run live").click()
            expect(control.locator("#screen")).to_have_attribute("data-live", "connected")
            card = control.locator("li.card", has_text=SCALE_TEXT)
            card.get_by_role("button", name="Open", exact=True).click()
            expect(card).to_have_class(re.compile(r"\bcurrent\b"))

            random.seed(7)
            for value in random.sample(ROOM, len(ROOM)):
                phone_votes(server.url, code, value)

            phone = browser.new_context(
                viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True, device_scale_factor=1
            ).new_page()
            phone.goto(f"{server.url}/j/{code}")
            expect(phone.locator("#conn")).to_have_text("Connected")
            expect(phone.locator("#qtext")).to_have_text(SCALE_TEXT)
            phone.locator("label.choice", has_text="4").click()
            phone.get_by_role("button", name="Send my answer").click()
            expect(phone.locator("#feedback")).to_contain_text("Your answer counted")
            phone.evaluate("document.activeElement && document.activeElement.blur()")
            phone.screenshot(path=str(DOCS / "phone.png"))

            projector = desk.new_page()
            projector.goto(control.url.replace("/control", "/projector"))
            expect(projector.locator(".results .total")).to_contain_text(f"{len(ROOM) + 1} answers")
            projector.wait_for_function("document.fonts.status === 'loaded'")
            # Let the bars finish their grow animation.
            projector.wait_for_function(
                "[...document.querySelectorAll('.bar-fill')].every(b => !b.getAnimations().length)"
            )
            projector.screenshot(path=str(DOCS / "projector.png"))
        finally:
            browser.close()
    for name in ("projector.png", "phone.png"):
        print(f"{DOCS / name}: {(DOCS / name).stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
