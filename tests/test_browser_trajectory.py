"""A trajectory grid in a real browser: Chromium (through Playwright) against a real `consult serve`.

On a phone, a participant picks a row, then a time horizon (one step at a time), and posts a milestone;
the projector's grid shows it in that cell without a reload; the table's host moves it to another cell,
and the projector and the author's phone follow; on a 320px phone nothing scrolls sideways at any step.
The grid question is made with consult.rules in a subprocess on the same instance, and what was stored
is read straight from the instance's SQLite database.
"""
import json
import re
import sqlite3
import subprocess
import sys

import pytest

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import expect  # noqa: E402

from .live_server import ROOT, LiveServer  # noqa: E402
from .test_browser import PHONE, assert_fits, browser, new_context  # noqa: E402,F401  (fixtures)

pytestmark = pytest.mark.slow

LIVE = 3_000  # ms: "live", with room for a busy test machine
QUESTION = "Where could Leicester be, and when?"
ROWS = ["Meaningful employment for local people", "Diversity and inclusion as the city's fundamental asset"]
HORIZONS = ["Exploring", "Emerging", "Sustaining", "Systems change"]

# A session of the demo facilitator's, with one table, whose one question (open, on screen) is the grid.
SETUP = """
import json, sys
from consult import create_app, rules, services
from consult.extensions import db
from consult.models import CafeSession, Facilitator
app = create_app()
with app.app_context():
    owner = db.session.query(Facilitator).filter_by(email="demo@example.org").one()
    session = CafeSession(owner_id=owner.id, title="Trajectory café", join_code=rules.unique_join_code())
    db.session.add(session)
    db.session.commit()
    q = services.save_question(session, None, {"kind": "trajectory", "text": sys.argv[1], "rows": "\\n".join(json.loads(sys.argv[2])),
                                            "horizons": rules.horizons_text(), "max_length": 140})
    services.control(session, "open", q.id)
    (table,) = services.set_tables(session, ["Oak"])
    print(json.dumps({"id": session.id, "code": session.join_code, "rows": [r.id for r in q.rows],
                      "horizons": [h.id for h in q.horizons], "table": table.id, "host": table.host_token}))
"""


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    server = LiveServer(tmp_path_factory.mktemp("trajectory") / "instance")
    server.start()
    try:
        server.demo()  # the demo facilitator
        env = {k: v for k, v in server.env.items() if k != "CONSULT_ASYNC_MODE"}
        out = subprocess.run([sys.executable, "-c", SETUP, QUESTION, json.dumps(ROWS)], env=env, cwd=ROOT,
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        yield server, json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        server.stop()


def query(server, sql, *args):
    with sqlite3.connect(server.instance / "consult.db", timeout=10) as db:
        return db.execute(sql, args).fetchall()


def signed_in(new_context, server, **options):
    """A browser context with the demo facilitator's session cookie (signed in over HTTP)."""
    context = new_context(**options)
    http = server.login()
    context.add_cookies([{"name": c.name, "value": c.value, "url": server.url} for c in http.cookies])
    return context


def test_phone_posts_a_milestone_into_a_cell_and_the_projector_shows_it_there(live, new_context):
    server, made = live
    projector = signed_in(new_context, server, viewport={"width": 1280, "height": 800}).new_page()
    projector.goto(f"{server.url}/sessions/{made['id']}/projector")
    grid = projector.locator("table.traj-grid")
    expect(grid.locator("thead .h-name")).to_have_text(HORIZONS)
    expect(grid.locator("thead .h-hint")).to_have_text(["~ 12 months", "~ 6 – 24 months", "Ongoing", "Ongoing"])
    expect(grid.locator("tbody th")).to_have_text(ROWS)
    expect(grid.locator(".sticky")).to_have_count(0)
    projector.evaluate("window.__notReloaded = true")

    phone = new_context(**PHONE).new_page()
    phone.goto(f"{server.url}/j/{made['code']}?t={made['table']}")  # the table's QR code
    expect(phone.locator("#conn")).to_have_text("Connected")
    expect(phone.locator("#qtext")).to_have_text(QUESTION)

    # Step 1: the row, one big button each.
    step = phone.get_by_role("group", name="Step 1 of 3: which question or theme is your milestone about?")
    expect(step.get_by_role("button")).to_have_text(ROWS)
    step.get_by_role("button", name=ROWS[1]).click()

    # Step 2: the horizon, its hint in the button's name; the heading of the step takes the focus.
    heading = phone.get_by_role("heading", name="Step 2 of 3: when could it happen?")
    expect(heading).to_be_focused()
    expect(phone.locator(".grid-for")).to_have_text(f"About: {ROWS[1]}")
    step = phone.get_by_role("group", name="Step 2 of 3: when could it happen?")
    expect(step.get_by_role("button", name="Emerging ~ 6 – 24 months")).to_be_visible()
    # Back and forth: "Back" returns to the rows, the earlier choice marked.
    phone.get_by_role("button", name="Back: choose another question").click()
    expect(phone.get_by_role("button", name=ROWS[1])).to_have_attribute("aria-current", "true")
    phone.get_by_role("button", name=ROWS[1]).click()
    phone.get_by_role("button", name="Emerging ~ 6 – 24 months").click()

    # Step 3: where it goes, and the milestone itself.
    expect(phone.get_by_role("heading", name="Step 3 of 3: write your milestone")).to_be_focused()
    expect(phone.locator("#cell-now")).to_have_text(f"Your milestone goes in: {ROWS[1]} · Emerging ~ 6 – 24 months")
    phone.get_by_label("Your milestone", exact=True).fill("A city-wide inclusion charter signed by 50 employers")
    phone.get_by_role("button", name="Post milestone").click()
    expect(phone.locator("#feedback")).to_have_text(re.compile(
        "^" + re.escape(f"✓ Your milestone was posted in {ROWS[1]} · Emerging ~ 6 – 24 months. Receipt ")
        + r"[A-Z2-9]{4}-[A-Z2-9]{4}\. You can add another\.$"))
    expect(phone.locator("#mine-h")).to_have_text("Your milestones")
    expect(phone.locator("#mine-list .note-text")).to_have_text(["A city-wide inclusion charter signed by 50 employers"])
    expect(phone.locator("#mine-list .note-cell")).to_have_text([f"In: {ROWS[1]} · Emerging ~ 6 – 24 months"])
    expect(phone.get_by_label("Your milestone", exact=True)).to_have_value("")

    # The projector's grid fills in, in that cell only, without a reload.
    cell = grid.locator(f'td[data-row="{made["rows"][1]}"][data-horizon="{made["horizons"][1]}"] .sticky .note-text')
    expect(cell).to_have_text(["A city-wide inclusion charter signed by 50 employers"], timeout=LIVE)
    expect(grid.locator(".sticky")).to_have_count(1)
    expect(projector.locator(".results .total")).to_have_text("1 milestone")
    assert projector.evaluate("window.__notReloaded === true")
    assert query(server, "SELECT text, row_id, horizon_id FROM note") == [
        ("A city-wide inclusion charter signed by 50 employers", made["rows"][1], made["horizons"][1])]

    # Another milestone in another place: "Choose another place" starts again from the rows.
    phone.get_by_role("button", name="Choose another place").click()
    expect(phone.get_by_role("heading", name="Step 1 of 3: which question or theme is your milestone about?")).to_be_focused()
    phone.get_by_role("button", name=ROWS[0]).click()
    phone.get_by_role("button", name="Systems change Ongoing").click()
    phone.get_by_label("Your milestone", exact=True).fill("Good work is the norm")
    phone.get_by_role("button", name="Post milestone").click()
    cell = grid.locator(f'td[data-row="{made["rows"][0]}"][data-horizon="{made["horizons"][3]}"] .sticky .note-text')
    expect(cell).to_have_text(["Good work is the norm"], timeout=LIVE)
    expect(grid.locator(".sticky")).to_have_count(2)

    # The table's host sees the milestones under their cells, and moves one to an earlier horizon.
    host = new_context(**PHONE).new_page()
    host.goto(f"{server.url}/host/{made['host']}")
    expect(host.locator("#conn")).to_have_text("Connected")
    # A grid's items are milestones on the host's page, not notes.
    expect(host.locator("#add-h")).to_have_text("Add a milestone for the group")
    expect(host.get_by_role("button", name="Add milestone")).to_be_visible()
    expect(host.locator("#notes-title")).to_have_text("Milestones from this table")
    expect(host.locator(".cell-h")).to_have_text([f"{ROWS[0]} · Systems change Ongoing (1)",
                                                  f"{ROWS[1]} · Emerging ~ 6 – 24 months (1)"])
    note = host.locator("li.hnote", has_text="Good work is the norm")
    note.get_by_role("button", name="Move").click()
    form = note.get_by_role("group", name="Move this milestone to another cell")
    expect(form.get_by_label("Question or theme")).to_be_focused()
    form.get_by_label("Time horizon").select_option(label="Exploring ~ 12 months")
    note.get_by_role("button", name="Move here").click()
    expect(host.locator("#feedback")).to_have_text(f"✓ Moved to {ROWS[0]} · Exploring ~ 12 months.")
    expect(host.locator(".cell-h").first).to_have_text(f"{ROWS[0]} · Exploring ~ 12 months (1)")
    moved = grid.locator(f'td[data-row="{made["rows"][0]}"][data-horizon="{made["horizons"][0]}"] .sticky .note-text')
    expect(moved).to_have_text(["Good work is the norm"], timeout=LIVE)
    expect(cell).to_have_count(0)
    expect(phone.locator("#mine-list .note-cell")).to_have_text(
        [f"In: {ROWS[1]} · Emerging ~ 6 – 24 months", f"In: {ROWS[0]} · Exploring ~ 12 months"], timeout=LIVE)
    assert query(server, "SELECT action, by FROM note_edit") == [("move", "host:Oak")]
    # At 320px wide, with the move form open, the host's page does not scroll sideways.
    host.set_viewport_size({"width": 320, "height": 640})
    note.get_by_role("button", name="Move").click()
    expect(note.get_by_role("button", name="Move here")).to_be_visible()
    assert host.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    note.get_by_role("button", name="Cancel").click()
    expect(note.get_by_role("button", name="Move")).to_be_focused()


def test_every_step_fits_a_320px_phone(live, new_context):
    server, made = live
    phone = new_context(**{**PHONE, "viewport": {"width": 320, "height": 640}}).new_page()
    phone.goto(f"{server.url}/j/{made['code']}?t={made['table']}")  # the table's QR code
    expect(phone.locator("#conn")).to_have_text("Connected")
    expect(phone.get_by_role("button", name=ROWS[1])).to_be_visible()
    assert_fits(phone)
    phone.get_by_role("button", name=ROWS[1]).click()
    expect(phone.get_by_role("button", name="Systems change Ongoing")).to_be_visible()
    assert_fits(phone)
    phone.get_by_role("button", name="Systems change Ongoing").click()
    phone.get_by_label("Your milestone", exact=True).fill("x" * 30)
    assert_fits(phone)
    phone.get_by_role("button", name="Post milestone").click()
    expect(phone.locator("#mine-list .note-cell")).to_have_text([f"In: {ROWS[1]} · Systems change Ongoing"])
    assert_fits(phone)
