"""The projector and the control page count in words as they update live: "1 note", then "2 notes"."""
import re
import uuid

import pytest
import requests

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import expect  # noqa: E402

from consult.cli import DEMO_EMAIL, DEMO_PASSWORD  # noqa: E402

from .test_browser_facilitator import page, server  # noqa: E402,F401  (fixtures)

pytestmark = pytest.mark.slow


def post(url, code, text):
    """A phone joins and posts a note to the question on screen, over HTTP."""
    phone = requests.Session()
    token = re.search(r'data-csrf="([^"]+)"', phone.get(f"{url}/j/{code}").text).group(1)
    state = phone.get(f"{url}/j/{code}/state.json").json()
    r = phone.post(f"{url}/j/{code}/note", headers={"X-CSRFToken": token},
                   json={"question_id": state["question"]["id"], "client_id": "n-" + uuid.uuid4().hex, "text": text})
    assert r.status_code == 200 and r.json()["ok"], r.text


def test_projector_counts_one_note_then_two(server, page):  # noqa: F811
    live, code = server
    page.goto(live.url + "/auth/login")
    page.get_by_label("Email", exact=True).fill(DEMO_EMAIL)
    page.get_by_label("Password", exact=True).fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/sessions/$"))
    control = page.locator("a[href$='/control']").first.get_attribute("href")
    page.goto(live.url + control.removesuffix("/control") + "/projector")
    expect(page.locator("#screen")).to_have_attribute("data-live", "connected")
    count = page.locator("#results > p.total, #results > p.hidden-results")

    post(live.url, code, "More <b>local</b> jobs")
    expect(count).to_have_text(re.compile(r"^1 note( so far|$)"))
    expect(page.locator("#joined")).to_have_text("1")
    post(live.url, code, "A skills hub")
    expect(count).to_have_text(re.compile(r"^2 notes( so far|$)"))

    page.goto(live.url + control)  # the control page draws the same counts with the same helper
    expect(page.locator("#screen")).to_have_attribute("data-live", "connected")
    expect(page.locator("#results > p.total, #results > p.hidden-results")).to_have_text(re.compile(r"^2 notes( so far|$)"))


def test_the_phone_counts_characters_in_the_singular(server, page):  # noqa: F811
    live, code = server
    page.goto(f"{live.url}/j/{code}")
    box = page.get_by_label("Your note", exact=True)
    box.fill("x" * 279)  # the demo's first question takes 280 characters
    expect(page.locator("#count")).to_have_text("1 character left.")
    box.fill("x" * 278)
    expect(page.locator("#count")).to_have_text("2 characters left.")
    box.fill("x" * 281)
    expect(page.locator("#count")).to_have_text("Too long by 1 character.")
    box.fill("x" * 282)
    expect(page.locator("#count")).to_have_text("Too long by 2 characters.")
