"""The facilitator runs World Café in a real browser: Chromium (Playwright) against `consult serve`.

Tables are set on the session page, a round starts on the control page, and a note held for a
blocked word is approved in the review panel, all without reloading the control page.
"""
import os
import re
import shutil
import uuid

import pytest
import requests

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import expect, sync_playwright  # noqa: E402

from consult.cli import DEMO_EMAIL, DEMO_PASSWORD  # noqa: E402

from .live_server import LiveServer  # noqa: E402

pytestmark = pytest.mark.slow

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
expect.set_options(timeout=5_000)


def chromium_path():
    for path in (os.environ.get("CONSULT_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if path and os.path.exists(path):
            return path
    return None  # Playwright's own browser, where it is installed


@pytest.fixture
def server(tmp_path):
    """A fresh server with the demo café (its first question, open notes, on screen); its join code."""
    live = LiveServer(tmp_path / "instance")
    live.start()
    try:
        yield live, live.demo()
    finally:
        live.stop()


@pytest.fixture
def page():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(**DESKTOP)
            context.set_default_timeout(10_000)
            yield context.new_page()
        finally:
            browser.close()


def phone_note(url, code, text, table_id):
    """A phone that scanned a table's card posts a note over HTTP, with its page's CSRF token."""
    phone = requests.Session()
    html = phone.get(f"{url}/j/{code}", params={"t": table_id}).text
    token = re.search(r'data-csrf="([^"]+)"', html).group(1)
    state = phone.get(f"{url}/j/{code}/state.json").json()
    assert state["table_id"] == table_id
    r = phone.post(f"{url}/j/{code}/note", headers={"X-CSRFToken": token},
                   json={"question_id": state["question"]["id"], "client_id": "n-" + uuid.uuid4().hex, "text": text})
    assert r.status_code == 200 and r.json()["ok"], r.text


def test_facilitator_runs_tables_rounds_and_review(server, page):
    live, code = server
    page.goto(live.url + "/auth/login")
    page.get_by_label("Email", exact=True).fill(DEMO_EMAIL)
    page.get_by_label("Password", exact=True).fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/sessions/$"))
    session_url = page.locator("a[href$='/control']").first.get_attribute("href").removesuffix("/control")

    # The session page: three tables, and "spam" as a blocked word.
    page.goto(live.url + session_url)
    page.get_by_label("Tables: a number, or one name per line").fill("3")
    page.get_by_role("button", name="Save tables").click()
    expect(page.locator(".flash")).to_have_text("Saved: 3 tables.")
    tables = page.locator("li.cafe-table")
    expect(tables.locator("h3")).to_have_text([re.compile(rf"^Table {n} · 0 seated$") for n in (1, 2, 3)])
    host_link = page.get_by_label("Host link: for this table's host only").first
    expect(host_link).to_have_value(re.compile(rf"^{re.escape(live.url)}/host/[\w-]+$"))
    table_two = int(tables.nth(1).get_attribute("id").removeprefix("table-"))
    expect(page.get_by_label("Join link that seats people at Table 2")).to_have_value(f"{live.url}/j/{code}?t={table_two}")
    page.get_by_label("Blocked words, one per line").fill("spam")
    page.get_by_role("button", name="Save moderation").click()
    expect(page.locator(".flash")).to_have_text(re.compile("^Moderation saved"))

    # The control page: start round 1 over the socket, no reload.
    page.get_by_role("link", name="Run live").click()
    expect(page.locator("#screen")).to_have_attribute("data-live", "connected")
    page.evaluate("window.__notReloaded = true")
    rounds = page.locator("#rounds-panel")
    expect(rounds.locator("#round-now")).to_have_text("Not started")
    expect(page.locator("#table-seats li")).to_have_text(["Table 1 0 seated", "Table 2 0 seated", "Table 3 0 seated"])
    rounds.get_by_role("button", name="Start round 1").click()
    expect(rounds.locator("#round-now")).to_have_text("Round 1")
    expect(rounds.get_by_role("button", name="Start round 2")).to_be_visible()
    expect(rounds.get_by_role("button", name="Round 1", exact=True)).to_have_attribute("aria-pressed", "false")
    expect(rounds.get_by_role("button", name="All rounds")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#control-error")).to_be_hidden()

    # A phone at Table 2 posts a note with the blocked word: it waits in the review panel.
    phone_note(live.url, code, "Buy spam now <b>cheap</b>", table_two)
    review = page.locator("#review-panel")
    item = review.locator("li.review-item")
    expect(item).to_have_count(1)
    expect(item.locator(".review-text")).to_have_text("Buy spam now <b>cheap</b>")
    expect(item.locator(".meta")).to_have_text("Held: it has a blocked word · Table 2 · Round 1 · Question 1")
    expect(review.locator("#review-count")).to_have_text("1")
    expect(page.locator("#table-seats li").nth(1)).to_have_text("Table 2 1 seated")
    expect(page.locator(".wall .sticky")).to_have_count(0)

    item.get_by_role("button", name="Approve").click()
    expect(item).to_have_count(0)
    expect(review.locator("#review-empty")).to_be_visible()
    expect(review.locator("#review-count")).to_have_text("0")
    sticky = page.locator(".wall .sticky")
    expect(sticky.locator(".note-text")).to_have_text(["Buy spam now <b>cheap</b>"])
    expect(sticky.locator(".note-table")).to_have_text(["Table 2"])
    expect(page.locator(".wall b")).to_have_count(0)

    # Hidden from the wall, and restored from the hidden list.
    sticky.get_by_role("button", name="Hide").click()
    expect(sticky).to_have_count(0)
    hidden = page.locator("#hidden-list li.review-item")
    expect(hidden.locator(".review-text")).to_have_text(["Buy spam now <b>cheap</b>"])
    hidden.get_by_role("button", name="Restore").click()
    expect(hidden).to_have_count(0)
    expect(sticky).to_have_count(1)
    assert page.evaluate("window.__notReloaded === true"), "the control page was reloaded"
