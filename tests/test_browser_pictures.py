"""An option's picture on a real phone: Chromium at 360px against a real `consult serve` with the demo café.

The facilitator uploads the picture through the question form (over HTTP, with its CSRF token);
the phone joins from a table's link as `consult demo` printed it.
"""
import io
import re
import sqlite3

import pytest

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import expect  # noqa: E402
from PIL import Image  # noqa: E402

from .live_server import LiveServer  # noqa: E402
from .test_browser import PHONE, assert_fits, browser, new_context  # noqa: E402,F401  (fixtures)

pytestmark = pytest.mark.slow

ALT = "A red double-decker bus"


def token(page):
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


@pytest.fixture
def server(tmp_path):
    live = LiveServer(tmp_path / "instance")
    live.start()
    try:
        yield live
    finally:
        live.stop()


def test_option_picture_on_a_small_phone(server, new_context):
    code = server.demo(plain=False)  # the World Café demo: 4 tables, round 1 started
    # The printed links carry this machine's network address; the server here listens on loopback.
    table_link = server.url + re.search(r"join: \S*?(/j/\w+\?t=\d+)", server.demo_output).group(1)
    with sqlite3.connect(server.instance / "consult.db") as db:
        session_id = db.execute("SELECT id FROM cafe_session WHERE join_code = ?", (code,)).fetchone()[0]

    # The facilitator adds a choice question with a (wide) picture on its first option, and opens it.
    http = server.login()
    form = http.get(f"{server.url}/sessions/{session_id}/questions/new?kind=choice").text
    picture = io.BytesIO()
    Image.new("RGB", (1200, 800), (200, 30, 30)).save(picture, "PNG")
    r = http.post(f"{server.url}/sessions/{session_id}/questions/new", data={
        "csrf_token": token(form), "kind": "choice", "text": "How do you get here?", "options": "Bus\nBike",
        "opt_text-0": "Bus", "opt_had-0": "", "opt_alt-0": ALT, "opt_text-1": "Bike", "opt_had-1": "", "opt_alt-1": "",
    }, files={"opt_image-0": ("bus.png", picture.getvalue(), "image/png")})
    assert r.status_code == 200 and "Question saved" in r.text, r.text
    with sqlite3.connect(server.instance / "consult.db") as db:
        question_id, = db.execute("SELECT id FROM question WHERE text = 'How do you get here?'").fetchone()
    control = http.get(f"{server.url}/sessions/{session_id}/control").text
    r = http.post(f"{server.url}/sessions/{session_id}/control",
                  data={"csrf_token": token(control), "action": "open", "question_id": question_id})
    assert r.status_code == 200

    # A phone joins from the table's link (it is seated there: no table picker) and sees the picture.
    phone = new_context(**PHONE).new_page()
    phone.goto(table_link)
    expect(phone.locator("#conn")).to_have_text("Connected")
    expect(phone.locator("#qtext")).to_have_text("How do you get here?")
    image = phone.get_by_role("img", name=ALT)
    expect(image).to_be_visible()
    expect(phone.locator("label.choice", has=image)).to_contain_text("Bus")
    phone.wait_for_function("document.querySelector('.choice-picture').naturalWidth > 0")  # it loaded
    box = image.bounding_box()
    assert 0 <= box["x"] and box["x"] + box["width"] <= 360 and box["width"] <= 180 and box["height"] <= 180
    assert_fits(phone, 360)
    # The picture is part of the option's button: tapping it chooses the option.
    image.tap()
    expect(phone.get_by_role("radio", name=re.compile("Bus"))).to_be_checked()
    phone.get_by_role("button", name="Send my answer").click()
    expect(phone.locator("#feedback")).to_contain_text("Your answer counted")
