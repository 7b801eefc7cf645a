"""Dot-voting in a real browser: the facilitator opens it with 3 dots, a 360px phone places them, the projector ranks live.

Chromium (through Playwright) against a real `consult serve`; the notes to vote on are posted by another
phone over plain HTTP first, and what was stored is read straight from the instance's SQLite database.
"""
import re
import sqlite3

import pytest
import requests

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import expect  # noqa: E402

from consult.cli import DEMO_QUESTIONS  # noqa: E402

from .test_browser import (  # noqa: E402,F401  (fixtures)
    DESKTOP, PHONE, YESNO_TEXT, assert_fits, browser, live, new_context, sign_in,
)

pytestmark = pytest.mark.slow

NOTES = ["Parks & <b>gardens</b>", "Local jobs for local people", "Buses after 6pm"]
PARKS, JOBS, BUSES = NOTES


def post_notes(live, texts):
    """Another phone posts notes to the open question, over plain HTTP (as a phone without its socket does)."""
    http = requests.Session()
    page = http.get(f"{live.url}/j/{live.code}").text
    csrf = re.search(r'data-csrf="([^"]+)"', page).group(1)
    question_id = int(re.search(r'"question": \{[^}]*?"id": (\d+)', page).group(1))
    for i, text in enumerate(texts):
        r = http.post(f"{live.url}/j/{live.code}/note", headers={"X-CSRFToken": csrf},
                      json={"question_id": question_id, "client_id": f"writer-note-{i:04d}", "text": text})
        assert r.json()["ok"], r.text


def receipted(message):
    """A confirmation on the phone, ending with the receipt of the dot placed or taken back."""
    return re.compile("^" + re.escape(message) + r" Receipt [A-Z2-9]{4}-[A-Z2-9]{4}\.$")


def query(live, sql):
    with sqlite3.connect(live.server.instance / "consult.db") as db:
        return db.execute(sql).fetchall()


def test_facilitator_opens_dots_phone_places_them_projector_ranks_live(live, new_context):
    post_notes(live, NOTES)
    facilitator = new_context(**DESKTOP)
    control = sign_in(facilitator, live)
    control.get_by_role("link", name="Run live").click()
    expect(control.locator("#screen")).to_have_attribute("data-live", "connected")
    projector = facilitator.new_page()
    projector.goto(control.url.replace("/control", "/projector"))
    expect(projector.locator("#screen")).to_have_attribute("data-live", "connected")
    expect(projector.locator(".wall .sticky")).to_have_count(3)

    phone = new_context(**PHONE).new_page()
    phone.goto(f"{live.url}/j/{live.code}")
    expect(phone.locator("#conn")).to_have_text("Connected")
    expect(phone.locator("#qtext")).to_have_text(DEMO_QUESTIONS[0])
    expect(phone.get_by_label("Your note", exact=True)).to_be_visible()
    for page in (phone, control, projector):
        page.evaluate("window.__notReloaded = true")
    # The room has moved on to the yes/no question.
    control.locator("li.card", has_text=YESNO_TEXT).get_by_role("button", name="Open", exact=True).click()
    expect(phone.locator("#qtext")).to_have_text(YESNO_TEXT)

    # The facilitator gives everyone 3 dots on the first question, from its card on the control page:
    # it goes back on screen, and the phones switch to it.
    card = control.locator("li.card", has_text=DEMO_QUESTIONS[0])
    card.get_by_label("Dots each").fill("3")
    card.get_by_role("button", name="Open dot-voting").click()
    expect(card.locator(".status")).to_contain_text("dot-voting open (3 dots each)")
    expect(card.get_by_role("button", name="Close dot-voting")).to_be_visible()
    expect(card.get_by_role("button", name="Open dot-voting")).to_be_hidden()

    # The phone switches to dot-voting at once: the notes (as text), a count of dots left, big buttons.
    expect(phone.locator("#qtext")).to_have_text(DEMO_QUESTIONS[0])
    expect(phone.locator("#qtext")).to_be_focused()
    left = phone.locator("#dots-left")
    expect(left).to_have_text("You have 3 dots left.")
    expect(phone.locator("#feedback")).to_have_text("Dot-voting has started: you have 3 dots to place.")
    expect(phone.locator(".dot-text")).to_have_text(NOTES)
    expect(phone.locator(".dot-list b")).to_have_count(0)  # markup in a note stays text
    expect(phone.get_by_label("Your note", exact=True)).to_have_count(0)
    assert_fits(phone, width=360)
    expect(projector.locator("#current-status")).to_have_text(
        "Prioritise: put your 3 dots on the notes that matter most to you")

    # Two dots on Jobs (they stack), one on Buses; each confirmed in words, the focus staying on the button.
    add_jobs = phone.get_by_role("button", name=f"Add a dot to: {JOBS}")
    add_jobs.click()
    expect(phone.locator("#feedback")).to_have_text(receipted(f"✓ Dot added to “{JOBS}”. You have 2 dots left."))
    expect(add_jobs).to_be_focused()
    add_jobs.click()
    expect(left).to_have_text("You have 1 dot left.")
    jobs_card = phone.locator(".dot-note", has_text=JOBS)
    expect(jobs_card.locator(".dot-mine")).to_contain_text("Your dots here: 2")
    phone.get_by_role("button", name=f"Add a dot to: {BUSES}").click()
    expect(phone.locator("#feedback")).to_have_text(receipted(f"✓ Dot added to “{BUSES}”. You have no dots left."))
    expect(phone.locator("#feedback")).to_have_attribute("role", "status")

    # The projector ranks the notes live, with counts and bars.
    ranked = projector.locator(".ranked .ranked-note")
    expect(ranked.locator(".note-text")).to_have_text([JOBS, BUSES, PARKS])
    expect(ranked.locator(".dot-figure")).to_have_text(["2 dots", "1 dot", "0 dots"])
    expect(ranked.first.locator(".bar-fill")).to_have_attribute("style", re.compile(r"width:\s*100%"))
    expect(ranked.nth(1).locator(".bar-fill")).to_have_attribute("style", re.compile(r"width:\s*50%"))
    expect(projector.locator(".dots-total")).to_have_text("3 dots from 1 person · dot-voting open: 3 dots each")
    expect(control.locator("#results .ranked-note .note-text")).to_have_text([JOBS, BUSES, PARKS])

    # No dots left: the buttons say so (aria-disabled, still focusable), and a tap says why, as an alert.
    add_parks = phone.get_by_role("button", name=f"Add a dot to: {PARKS}")
    expect(add_parks).to_have_attribute("aria-disabled", "true")
    add_parks.click(force=True)  # Playwright waits for "enabled"; a person can tap it all the same
    expect(phone.locator("#feedback")).to_have_text(
        "You have used all 3 of your dots. Take one back from a note if you want to move it.")
    expect(phone.locator("#feedback")).to_have_attribute("role", "alert")
    # Taking one back from Jobs, and putting it on Parks instead.
    phone.get_by_role("button", name=f"Take back a dot from: {JOBS}").click()
    expect(phone.locator("#feedback")).to_have_text(receipted(f"✓ Dot taken back from “{JOBS}”. You have 1 dot left."))
    expect(jobs_card.locator(".dot-mine")).to_contain_text("Your dots here: 1")
    phone.get_by_role("button", name=f"Add a dot to: {PARKS}").click()
    expect(left).to_have_text("You have no dots left.")
    expect(ranked.locator(".dot-figure")).to_have_text(["1 dot", "1 dot", "1 dot"])
    expect(ranked.locator(".rank")).to_have_text(["1", "1", "1"])  # a tie shares the rank
    expect(ranked.locator(".note-text")).to_have_text(NOTES)  # and the older note comes first

    # A small phone too.
    phone.set_viewport_size({"width": 320, "height": 640})
    assert_fits(phone)

    # The facilitator closes dot-voting: the phone says so, the ranking stays on the projector.
    card.get_by_role("button", name="Close dot-voting").click()
    expect(phone.locator("#feedback")).to_have_text("Dot-voting has finished. Thank you for your dots!")
    expect(phone.locator(".dots-done")).to_have_text("Dot-voting has finished.")
    expect(phone.locator(".dot-list")).to_have_count(0)
    expect(projector.locator(".dots-total")).to_have_text("3 dots from 1 person · dot-voting closed")
    expect(card.locator(".status")).to_contain_text("dot-voting closed")
    assert query(live, "SELECT n.text, count(*) FROM dot d JOIN note n ON n.id = d.note_id GROUP BY n.text ORDER BY n.text") == [
        (BUSES, 1), (JOBS, 1), (PARKS, 1)]
    for page in (phone, control, projector):
        assert page.evaluate("window.__notReloaded === true"), page.url
