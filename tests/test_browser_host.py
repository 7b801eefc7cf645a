"""The table host's view in a real browser: Chromium (through Playwright) against a real `consult serve`.

A phone-sized host follows their table live: a phone's note arrives without a reload, the host
highlights it, corrects a typo, adds a note for the group, saves a summary and merges two notes;
at 320px wide nothing scrolls sideways; once the link is replaced the page says so and does nothing more (on
its next action, or when its connection is refused), and opening the old link gives a clear "not found".
"""
import os
import re
import secrets
import shutil
import sqlite3
from contextlib import closing

import pytest

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import expect, sync_playwright  # noqa: E402

from consult.cli import DEMO_QUESTIONS  # noqa: E402

from .live_server import LiveServer  # noqa: E402

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True}


def chromium_path():
    for path in (os.environ.get("CONSULT_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if path and os.path.exists(path):
            return path
    return None  # Playwright's own browser, where it is installed


pytestmark = pytest.mark.slow

LIVE = 2_000  # ms: "within a second", with room for a busy test machine

def db(server):
    """The instance's SQLite database, beside the running server (WAL: it reads while we write)."""
    return sqlite3.connect(server.instance / "consult.db", timeout=10, isolation_level=None)


def set_up_tables(server, code):
    """Two tables, and round 1 started, in the demo café: [(table id, host token)]."""
    with closing(db(server)) as con:
        (session_id,) = con.execute("SELECT id FROM cafe_session WHERE join_code = ?", (code,)).fetchone()
        made = []
        for position, name in enumerate(["Table 1", "Table 2"]):
            token = secrets.token_urlsafe(18)
            cur = con.execute("INSERT INTO cafe_table (session_id, position, name, host_token) VALUES (?, ?, ?, ?)",
                              (session_id, position, name, token))
            made.append((cur.lastrowid, token))
        con.execute("UPDATE cafe_session SET current_round = 1 WHERE id = ?", (session_id,))
    return made


def revoke(server, table_id):
    with closing(db(server)) as con:
        con.execute("UPDATE cafe_table SET host_token = ? WHERE id = ?", (secrets.token_urlsafe(18), table_id))


def stored(server, table_id):
    """What the database holds for a table: its notes (with their edits) and its summaries."""
    with closing(db(server)) as con:
        notes = [
            {"id": i, "text": text, "author": author, "highlight": bool(highlight), "round": round_, "merged_into": merged,
             "edits": con.execute("SELECT text, action, by FROM note_edit WHERE note_id = ? ORDER BY id", (i,)).fetchall()}
            for i, text, author, highlight, round_, merged in con.execute(
                "SELECT id, text, author, highlight, round, merged_into_id FROM note WHERE table_id = ? ORDER BY id",
                (table_id,))
        ]
        summaries = con.execute("SELECT round, text FROM host_summary WHERE table_id = ?", (table_id,)).fetchall()
    return {"notes": notes, "summaries": summaries}


@pytest.fixture
def server(tmp_path):
    server = LiveServer(tmp_path / "instance")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def phone_posts(phone, code, table_id, question_id, text):
    """The phone sits down at a table and posts a note over its own Socket.IO connection."""
    return phone.evaluate(
        """([code, tableId, questionId, text]) => new Promise((resolve, reject) => {
            const s = io("/phone", { auth: { code }, transports: ["websocket"] });
            s.on("connect_error", (e) => reject(e.message));
            s.on("connect", () => s.emit("table", { table_id: tableId }, (seated) => {
                if (!seated.ok) return reject(seated.error);
                const id = Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, "0")).join("");
                s.emit("note", { question_id: questionId, client_id: id, text }, (ack) => {
                    s.disconnect();
                    ack.ok ? resolve(ack.id) : reject(ack.error);
                });
            }));
        })""",
        [code, table_id, question_id, text],
    )


def no_sideways_scroll(page):
    return page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def test_host_follows_the_table_live_on_a_phone(server):
    code = server.demo()
    tables = set_up_tables(server, code)
    (table_id, token), (other_table_id, _) = tables

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            expect.set_options(timeout=5_000)
            phone = browser.new_context(**PHONE).new_page()
            phone.goto(f"{server.url}/j/{code}")
            host_context = browser.new_context(**PHONE)
            host = host_context.new_page()
            errors = []
            host.on("pageerror", lambda e: errors.append(str(e)))
            host.on("console", lambda m: m.type == "error" and errors.append(m.text))

            host.goto(f"{server.url}/host/{token}")
            expect(host.get_by_role("heading", name="Table 1", exact=True)).to_be_visible()
            expect(host.locator("#conn")).to_have_text("Connected")
            expect(host.get_by_label("Question", exact=True)).to_have_value(re.compile(r"^\d+$"))
            question_id = int(host.get_by_label("Question", exact=True).input_value())
            expect(host.locator("#question-text")).to_have_text(DEMO_QUESTIONS[0])
            expect(host.get_by_label("Round", exact=True)).to_have_value("1")
            expect(host.locator("#notes-empty")).to_be_visible()
            host.evaluate("window.__notReloaded = true")

            # A phone at this table posts a note: it shows on the host's page at once.
            phone_posts(phone, code, table_id, question_id, "More jobz for young people")
            note = host.locator("li.hnote", has_text="young people")
            expect(note).to_be_visible(timeout=LIVE)
            expect(note.locator(".hnote-meta")).to_contain_text("Participant")
            expect(note.locator(".hnote-meta")).to_contain_text("Visible")
            # A note at another table does not.
            phone_posts(phone, code, other_table_id, question_id, "Elsewhere")

            # Highlight it.
            note.get_by_role("button", name="Highlight", exact=True).click()
            expect(note.locator(".hnote-meta")).to_contain_text("★ Highlighted")
            expect(note.get_by_role("button", name="Unhighlight")).to_be_focused()

            # Correct the typo, inline.
            note.get_by_role("button", name="Edit").click()
            box = host.get_by_label("Correct the note’s text")
            expect(box).to_be_focused()
            expect(box).to_have_value("More jobz for young people")
            box.fill("More jobs for young people")
            host.get_by_role("button", name="Save", exact=True).click()
            expect(note.locator(".hnote-text")).to_have_text("More jobs for young people")
            expect(note.locator(".hnote-meta")).to_contain_text("Edited")
            expect(note.get_by_role("button", name="Edit")).to_be_focused()
            expect(host.locator("#feedback")).to_contain_text("Note corrected")

            # Add a note for the group: on an open-notes question they are notes (milestones on a grid).
            expect(host.locator("#notes-title")).to_have_text("Notes from this table")
            expect(host.locator("#add-h")).to_have_text("Add a note for the group")
            host.get_by_label("What did the table say?").fill("Bus passes for carers")
            host.get_by_role("button", name="Add note").click()
            expect(host.locator("#add-status")).to_have_text("✓ Note added.")
            expect(host.get_by_label("What did the table say?")).to_have_value("")
            mine = host.locator("li.hnote", has_text="Bus passes for carers")
            expect(mine.locator(".hnote-meta")).to_contain_text("Added by the host")
            expect(host.locator("li.hnote .hnote-text")).to_have_text(
                ["Bus passes for carers", "More jobs for young people"])  # newest first; not the other table's

            # Write and save the summary.
            summary = host.get_by_label(re.compile("Your summary of this question, round 1"))
            summary.fill("Jobs and transport came up most.")
            expect(host.locator("#summary-status")).to_have_text("Not saved yet")
            host.get_by_role("button", name="Save summary").click()
            expect(host.locator("#summary-status")).to_have_text(re.compile(r"^✓ Saved at "))

            # At 320px wide, with a long word and the merge controls showing, nothing scrolls sideways.
            phone_posts(phone, code, table_id, question_id, "Apprenticeships" * 6)
            expect(host.locator("li.hnote")).to_have_count(3, timeout=LIVE)
            host.set_viewport_size({"width": 320, "height": 640})
            long_note = host.locator("li.hnote", has_text="Apprenticeships")
            long_note.get_by_label("Select to merge").check()
            expect(host.locator("#merge-status")).to_contain_text("1 note selected")
            expect(note.get_by_role("button", name="Merge into this one")).to_be_visible()
            assert no_sideways_scroll(host)
            for button in host.locator("li.hnote button").all():
                size = button.bounding_box()
                assert size["height"] >= 44 and size["width"] >= 44, button.text_content()

            # The selection clears from the keyboard; then the long note merges into the first one.
            host.get_by_role("button", name="Clear selection").focus()
            host.keyboard.press("Enter")
            expect(host.locator("#merge-bar")).to_be_hidden()
            expect(host.locator("#notes-h")).to_be_focused()
            long_note.get_by_label("Select to merge").check()
            note.get_by_role("button", name="Merge into this one").click()
            child = note.locator("li.hnote.child")
            expect(child).to_contain_text("Merged into the note above")
            expect(host.locator("#notes-count")).to_have_text("(3, 1 merged)")
            expect(host.locator("#merge-bar")).to_be_hidden()
            assert no_sideways_scroll(host)

            saved = stored(server, table_id)
            assert saved["summaries"] == [(1, "Jobs and transport came up most.")]
            first_id = saved["notes"][0]["id"]
            assert [(n["text"], n["author"], n["highlight"], n["round"], n["merged_into"]) for n in saved["notes"]] == [
                ("More jobs for young people", "participant", True, 1, None),
                ("Bus passes for carers", "host", False, 1, None),
                ("Apprenticeships" * 6, "participant", False, 1, first_id),  # merged, and kept
            ]
            assert ("More jobz for young people", "edit", "host:Table 1") in saved["notes"][0]["edits"]

            # A second screen of the same host (a laptop, say), open and connected.
            laptop = host_context.new_page()
            laptop.goto(f"{server.url}/host/{token}")
            expect(laptop.locator("#conn")).to_have_text("Connected")

            # The facilitator replaces the link: the next thing the host does is refused, and the page says so.
            revoke(server, table_id)
            child.get_by_role("button", name="Unmerge").click()
            expect(host.get_by_role("alert").filter(has_text="This host link no longer works")).to_be_visible()
            expect(host.locator("#revoked")).to_contain_text("The facilitator has replaced this host link")
            expect(host.locator("li.hnote")).to_have_count(0)
            expect(host.locator("#conn")).to_have_text("Link revoked")
            assert host.evaluate("window.__notReloaded === true")
            assert not errors, errors
            assert stored(server, table_id) == saved  # the unmerge after revoking did nothing

            # The server restarts: the laptop's reconnection with the old link is refused, and it says so.
            server.restart()
            expect(laptop.locator("#revoked")).to_contain_text("The facilitator has replaced this host link", timeout=10_000)
            expect(laptop.locator("#conn")).to_have_text("Link revoked")

            # Opened again, the old link is a clear "not found".
            again = host_context.new_page()
            assert again.goto(f"{server.url}/host/{token}").status == 404
            expect(again.get_by_role("heading", name="Not found")).to_be_visible()
            expect(again.locator("main")).to_contain_text("Ask the facilitator for the new one")
        finally:
            browser.close()

