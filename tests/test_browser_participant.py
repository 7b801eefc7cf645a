"""The participant's side of World Café in a real browser: a table's QR link, changing table, rounds, note status.

Chromium (through Playwright) on a phone-sized screen against a real `consult serve`; the tables are
made with consult.cafe in a subprocess on the same instance, and what was stored is read straight
from the instance's SQLite database.
"""
import json
import re
import sqlite3
import subprocess
import sys

import pytest

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import expect  # noqa: E402

from consult.cli import DEMO_QUESTIONS  # noqa: E402

from .live_server import ROOT, LiveServer  # noqa: E402
from .test_browser import PHONE, assert_fits, browser, new_context  # noqa: E402,F401  (fixtures)

pytestmark = pytest.mark.slow

TABLES = ["Table 1", "Table 2", "Riverside Community Garden & Allotments"]

SETUP = """
import json, sys
from consult import create_app, services
from consult.extensions import db
from consult.models import CafeSession
code, tables, moderation = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
app = create_app()
with app.app_context():
    session = db.session.query(CafeSession).filter_by(join_code=code).one()
    if tables:
        services.set_tables(session, tables)
    if moderation:
        services.set_moderation(session, moderation, "")
    print(json.dumps({t.name: t.id for t in session.tables}))
"""


class Cafe:
    def __init__(self, server, code):
        self.server, self.code, self.url = server, code, server.url

    def setup(self, tables=(), moderation=""):
        """Tables and moderation, set by consult.cafe in another process; returns {table name: id}."""
        env = {k: v for k, v in self.server.env.items() if k != "CONSULT_ASYNC_MODE"}
        out = subprocess.run([sys.executable, "-c", SETUP, self.code, json.dumps(list(tables)), moderation],
                             env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout.strip().splitlines()[-1])

    def query(self, sql, *args):
        with sqlite3.connect(self.server.instance / "consult.db") as db:
            return db.execute(sql, args).fetchall()

    def start_round(self):
        """The facilitator starts the next round on the control page (the phones hear of it live)."""
        http = self.server.login()
        session_id = self.query("SELECT id FROM cafe_session WHERE join_code = ?", self.code)[0][0]
        control = http.get(f"{self.url}/sessions/{session_id}/control").text
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', control).group(1)
        r = http.post(f"{self.url}/sessions/{session_id}/round", data={"action": "start", "csrf_token": token})
        assert r.status_code == 200 and "Round 1 started" in r.text, r.text


@pytest.fixture
def live(tmp_path):
    server = LiveServer(tmp_path / "instance")
    server.start()
    try:
        yield Cafe(server, server.demo())
    finally:
        server.stop()


def test_phone_scans_a_table_code_changes_table_and_posts(live, new_context):
    ids = live.setup(TABLES)
    phone = new_context(**PHONE).new_page()

    # The QR code on Table 2: seated there, and the address bar shows the plain join link.
    phone.goto(f"{live.url}/j/{live.code}?t={ids['Table 2']}")
    expect(phone).to_have_url(f"{live.url}/j/{live.code}")
    expect(phone.locator("#conn")).to_have_text("Connected")
    expect(phone.locator("#table-now")).to_have_text("Table: Table 2")
    expect(phone.locator("#qtext")).to_have_text(DEMO_QUESTIONS[0])
    expect(phone.get_by_role("heading", name="Which table are you at?")).to_be_hidden()
    expect(phone.locator("#round-now")).to_be_hidden()  # no round started yet
    phone.evaluate("window.__notReloaded = true")

    # The facilitator starts round 1: the phone shows it, live.
    live.start_round()
    expect(phone.locator("#round-now")).to_have_text("Round 1")
    expect(phone.locator("#table-status")).to_contain_text("Round 1 has started.")

    # Moving table: "Change", then one tap on the new table.
    change = phone.get_by_role("button", name="Change table")
    expect(change).to_have_attribute("aria-expanded", "false")
    change.click()
    group = phone.get_by_role("group", name="Which table are you at?")
    expect(group).to_be_visible()
    expect(change).to_have_attribute("aria-expanded", "true")
    expect(phone.locator("#qtext")).to_be_hidden()  # the picker is the one thing on the page
    expect(group.get_by_role("button", name="Table 2", exact=True)).to_have_attribute("aria-current", "true")
    group.get_by_role("button", name=TABLES[2], exact=True).click()
    expect(phone.locator("#table-status")).to_have_text(f"✓ You are at {TABLES[2]}.")
    expect(phone.locator("#table-status")).to_have_attribute("role", "status")
    expect(phone.locator("#table-now")).to_have_text(f"Table: {TABLES[2]}")
    expect(group).to_be_hidden()
    expect(change).to_be_focused()
    expect(phone.locator("#qtext")).to_be_visible()

    phone.get_by_label("Your note", exact=True).fill("Benches along the river path")
    phone.get_by_role("button", name="Post note").click()
    expect(phone.locator("#feedback")).to_have_text(
        re.compile(r"^✓ Your note was posted\. Receipt [A-Z2-9]{4}-[A-Z2-9]{4}\. You can add another\.$"))
    (receipt,) = live.query("SELECT receipt FROM audit_entry WHERE kind = 'note' AND value = ?", "Benches along the river path")[0]
    expect(phone.locator("#feedback")).to_contain_text(f"Receipt {receipt[:4]}-{receipt[4:]}.")
    expect(phone.locator("#mine-list li")).to_have_text(["Benches along the river path"])
    assert live.query("SELECT table_id, round FROM note WHERE text = ?", "Benches along the river path") == [
        (ids[TABLES[2]], 1)
    ]
    assert live.query("SELECT table_id FROM participant") == [(ids[TABLES[2]],)]
    assert phone.evaluate("window.__notReloaded === true")


def test_small_phone_picker_and_note_status(live, new_context):
    ids = live.setup(TABLES, moderation="pre")
    phone = new_context(**{**PHONE, "viewport": {"width": 320, "height": 640}}).new_page()

    # Joined by code, not at a table yet: the phone asks first.
    phone.goto(f"{live.url}/j/{live.code}")
    expect(phone.locator("#conn")).to_have_text("Connected")
    heading = phone.get_by_role("heading", name="Which table are you at?")
    expect(heading).to_be_focused()
    expect(phone.locator("#qtext")).to_be_hidden()
    expect(phone.get_by_role("button", name="Cancel")).to_be_hidden()  # the first time, a choice is the way on
    expect(phone.locator("#picker-list button")).to_have_text(TABLES + ["I'm not at a table"])
    assert_fits(phone)

    phone.get_by_role("button", name="I'm not at a table").click()
    expect(phone.locator("#table-status")).to_have_text("✓ You are not at a table. You can choose one any time.")
    expect(phone.locator("#table-now")).to_have_text("Table: none")
    expect(phone.locator("#qtext")).to_be_focused()
    assert live.query("SELECT table_id FROM participant") == [(None,)]
    # It does not ask again after a reload.
    phone.reload()
    expect(phone.locator("#conn")).to_have_text("Connected")
    expect(phone.locator("#qtext")).to_have_text(DEMO_QUESTIONS[0])
    expect(heading).to_be_hidden()

    # The longest table name, marked as the current one, still fits a 320px screen.
    phone.get_by_role("button", name="Change table").click()
    phone.get_by_role("button", name=TABLES[2], exact=True).click()
    expect(phone.locator("#table-now")).to_have_text(f"Table: {TABLES[2]}")
    phone.get_by_role("button", name="Change table").click()
    expect(phone.get_by_role("button", name=TABLES[2], exact=True)).to_have_attribute("aria-current", "true")
    assert_fits(phone)
    phone.get_by_role("button", name="Cancel").click()
    expect(heading).to_be_hidden()
    expect(phone.locator("#table-now")).to_have_text(f"Table: {TABLES[2]}")

    # Under pre-moderation the note waits, and the phone says so in plain words.
    phone.get_by_label("Your note", exact=True).fill("More seats near the entrance")
    phone.get_by_role("button", name="Post note").click()
    expect(phone.locator("#feedback")).to_have_text(re.compile(
        r"^✓ Your note was received; it will show once the facilitator approves it\. Receipt [A-Z2-9]{4}-[A-Z2-9]{4}\.$"))
    expect(phone.locator("#mine-list li .note-status")).to_have_text(["Waiting for approval by the facilitator"])
    assert_fits(phone)
    assert live.query("SELECT table_id, status FROM note") == [(ids[TABLES[2]], "pending")]


def test_a_refused_note_goes_back_in_its_box(live, new_context):
    phone = new_context(**PHONE).new_page()
    phone.goto(f"{live.url}/j/{live.code}")
    expect(phone.locator("#qtext")).to_have_text(DEMO_QUESTIONS[0])
    # Closed behind the phone's back (as if the news had not reached it yet): the server refuses.
    db = sqlite3.connect(live.server.instance / "consult.db")
    try:
        with db:
            db.execute("UPDATE question SET is_open = 0")
    finally:
        db.close()
    box = phone.get_by_label("Your note", exact=True)
    box.fill("A bus stop nearer the health centre")
    phone.get_by_role("button", name="Post note").click()
    expect(phone.locator("#feedback")).to_have_text("This question is closed: your answer was not saved.")
    # Nothing to retype: the text is back in the box, with its count.
    expect(box).to_have_value("A bus stop nearer the health centre")
    expect(phone.locator("#count")).to_have_text(f"{280 - len('A bus stop nearer the health centre')} characters left.")
    assert live.query("SELECT count(*) FROM note") == [(0,)]
