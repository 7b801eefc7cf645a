"""The table host's view: the page behind a table's secret link, and its Socket.IO namespace /host."""
import uuid

import pytest

from consult import live, services
from consult.app import SOCKET_ERROR
from consult.extensions import db
from consult.host import routes as host_routes
from consult.models import CafeSession, CafeTable, HostSummary, Note, NoteEdit, Participant

from .conftest import events, join_phone, make_cafe

HOST = "/host"
PHONE = "/phone"
NOT_VALID = host_routes.NOT_VALID


@pytest.fixture(autouse=True)
def cheap_passwords(fast_passwords):
    """Cheap password hashes: these tests sign in often."""


def cid():
    return "c-" + uuid.uuid4().hex


@pytest.fixture
def world(app, facilitator, cafe):
    """The café with three tables, and another café (of the same facilitator) with one table."""
    other = make_cafe(app, facilitator, title="Other café")
    with app.app_context():
        session = db.session.get(CafeSession, cafe["id"])
        services.set_tables(session, ["Oak", "Ash", "Elm"])
        far = db.session.get(CafeSession, other["id"])
        services.set_tables(far, ["Far"])
        tables = {t.name: {"id": t.id, "token": t.host_token} for t in session.tables + far.tables}
    choice, notes, yesno, scale, multi = cafe["questions"]
    return {"cafe": cafe, "other": other, "tables": tables, "notes_q": notes, "choice_q": choice,
            "other_notes_q": other["questions"][1]}


def host(app, token):
    return app.extensions["socketio"].test_client(app, namespace=HOST, auth={"token": token})


def ask(sock, event, data=None):
    if data is None:
        return sock.emit(event, namespace=HOST, callback=True)
    return sock.emit(event, data, namespace=HOST, callback=True)


def seated_phone(app, world, table="Oak"):
    """A phone that joined and sat down at a table with the phone socket's "table" event."""
    http, sock = join_phone(app, world["cafe"]["code"])
    ack = sock.emit("table", {"table_id": world["tables"][table]["id"]}, namespace=PHONE, callback=True)
    assert ack == {"ok": True, "table_id": world["tables"][table]["id"]}
    return sock


def phone_note(sock, question_id, text):
    ack = sock.emit("note", {"question_id": question_id, "client_id": cid(), "text": text}, namespace=PHONE, callback=True)
    assert ack["ok"], ack
    return ack["id"]


def texts(ack):
    return [n["text"] for n in ack["notes"]]


# -- the page ----------------------------------------------------------------------------

def test_page_shows_table_session_and_first_notes_question(app, client, world):
    token, table_id = world["tables"]["Oak"]["token"], world["tables"]["Oak"]["id"]
    r = client.get(f"/host/{token}", follow_redirects=True)
    assert r.status_code == 200 and r.request.path == f"/host/table/{table_id}"  # the address holds no token
    page = r.get_data(as_text=True)
    assert "Oak" in page and "Strategy café" in page
    assert "What does success look like?" in page
    assert "Pick one" not in page  # only open-notes questions are offered
    assert "/static/host.js" in page and "/static/vendor/socket.io.min.js" in page
    assert "https://" not in page and "cdn" not in page.lower()  # served locally, works offline
    assert f'/host/table/{table_id}/qr.svg' in page
    assert r.headers["Cache-Control"] == "no-store" and r.headers["Referrer-Policy"] == "no-referrer"
    # The shown question is a choice question: the first notes question is chosen instead.
    assert f'<option value="{world["notes_q"]}" selected>' in page
    assert 'id="round-field" hidden' in page  # no round started yet


def test_page_defaults_to_the_current_notes_question_and_round(app, client, facilitator):
    made = make_cafe(app, facilitator, questions=[
        {"kind": "notes", "text": "First notes"}, {"kind": "notes", "text": "Second notes"},
    ])
    with app.app_context():
        session = db.session.get(CafeSession, made["id"])
        services.set_tables(session, ["Oak"])
        services.control(session, "show", made["questions"][1])
        services.start_round(session)
        services.start_round(session)
        token = session.tables[0].host_token
    page = client.get(f"/host/{token}", follow_redirects=True).get_data(as_text=True)
    assert f'<option value="{made["questions"][1]}" selected>' in page
    assert '<option value="2" selected>Round 2</option>' in page and 'id="round-field" hidden' not in page


def test_page_escapes_names_and_texts(app, client, facilitator):
    made = make_cafe(app, facilitator, title="<b>Café</b>", questions=[{"kind": "notes", "text": "<script>x()</script>"}])
    with app.app_context():
        session = db.session.get(CafeSession, made["id"])
        services.set_tables(session, ["<i>Oak</i>"])
        token = session.tables[0].host_token
    page = client.get(f"/host/{token}", follow_redirects=True).get_data(as_text=True)
    assert "<script>x()" not in page and "<i>Oak" not in page and "<b>Café" not in page


def test_page_without_notes_questions(app, client, facilitator):
    made = make_cafe(app, facilitator, questions=[{"kind": "yesno", "text": "Agree?"}])
    with app.app_context():
        session = db.session.get(CafeSession, made["id"])
        services.set_tables(session, ["Oak"])
        token = session.tables[0].host_token
    r = client.get(f"/host/{token}", follow_redirects=True)
    assert r.status_code == 200 and "no open-notes questions yet" in r.get_data(as_text=True)


def test_unknown_and_revoked_links_are_404(app, client, world):
    for token in ("nonsense-token", "x" * 300, world["tables"]["Oak"]["token"][:-1]):
        r = client.get(f"/host/{token}")
        assert r.status_code == 404 and NOT_VALID in r.get_data(as_text=True)
    # A NUL is no part of any link: refused before any lookup (PostgreSQL could not even look it up).
    for path in ("/host/%00", f"/host/{world['tables']['Oak']['token']}%00", "/host/table/1%00/qr.svg"):
        assert client.get(path).status_code == 400
    old, table_id = world["tables"]["Oak"]["token"], world["tables"]["Oak"]["id"]
    assert client.get(f"/host/{old}", follow_redirects=True).status_code == 200
    with app.app_context():
        new = services.revoke_host(db.session.get(CafeTable, table_id))
    assert client.get(f"/host/{old}").status_code == 404
    # The cookie the old link left opens nothing now, page or QR code.
    assert client.get(f"/host/table/{table_id}").status_code == 404
    assert client.get(f"/host/table/{table_id}/qr.svg").status_code == 404
    assert client.get(f"/host/{new}", follow_redirects=True).status_code == 200


def test_qr_code_carries_the_absolute_host_link(app, client, world, monkeypatch):
    token, table_id = world["tables"]["Ash"]["token"], world["tables"]["Ash"]["id"]
    assert client.get(f"/host/table/{table_id}/qr.svg").status_code == 404  # not before the link was opened
    client.get(f"/host/{token}")
    r = client.get(f"/host/table/{table_id}/qr.svg")
    assert r.status_code == 200 and r.mimetype == "image/svg+xml" and b"<svg" in r.data
    seen = []
    monkeypatch.setattr(host_routes, "qr_svg", lambda url: seen.append(url) or b"<svg/>")
    client.get(f"/host/table/{table_id}/qr.svg")
    assert seen == [f"http://consult.test/host/{token}"]


# -- connecting ----------------------------------------------------------------------------

def test_connect_refused_for_bad_tokens(app, world):
    for auth in ({"token": "nonsense-token"}, {"token": None}, {"token": ["x"]}, {"token": 12345678},
                 {"token": "x" * 100_000}, {}, None, "nonsense"):
        sock = app.extensions["socketio"].test_client(app, namespace=HOST, auth=auth)
        assert not sock.is_connected(HOST), auth
    assert not app.extensions["consult"].hosts


def test_a_host_sees_only_own_tables_notes(app, world):
    q = world["notes_q"]
    oak_phone, ash_phone = seated_phone(app, world, "Oak"), seated_phone(app, world, "Ash")
    phone_note(oak_phone, q, "Oak says hi")
    phone_note(ash_phone, q, "Ash says hi")
    oak = host(app, world["tables"]["Oak"]["token"])
    ack = ask(oak, "notes", {"question_id": q})
    assert ack["ok"] and texts(ack) == ["Oak says hi"] and ack["summary"] == "" and ack["round"] == 0
    note = ack["notes"][0]
    assert note["author"] == "participant" and note["status"] == "visible" and not note["highlight"]
    assert note["merged_into"] is None and note["edited"] is False
    assert "participant_id" not in note  # nothing says who wrote it
    # A question of another session is not found, even though it exists.
    assert ask(oak, "notes", {"question_id": world["other_notes_q"]})["ok"] is False
    # A choice question is not a notes question.
    assert ask(oak, "notes", {"question_id": world["choice_q"]}) == {"ok": False, "error": "That question was not found."}


def test_notes_filter_by_round(app, world):
    q = world["notes_q"]
    phone = seated_phone(app, world)
    phone_note(phone, q, "before rounds")
    with app.app_context():
        session = db.session.get(CafeSession, world["cafe"]["id"])
        services.start_round(session)
    phone_note(phone, q, "in round one")
    oak = host(app, world["tables"]["Oak"]["token"])
    assert texts(ask(oak, "notes", {"question_id": q})) == ["before rounds", "in round one"]
    assert texts(ask(oak, "notes", {"question_id": q, "round": 0})) == ["before rounds", "in round one"]
    one = ask(oak, "notes", {"question_id": q, "round": 1})
    assert texts(one) == ["in round one"] and one["round"] == 1 and one["current_round"] == 1
    assert texts(ask(oak, "notes", {"question_id": q, "round": 2})) == []


def test_add_a_note_for_the_group_is_retry_safe(app, world):
    q = world["notes_q"]
    oak = host(app, world["tables"]["Oak"]["token"])
    payload = {"question_id": q, "client_id": cid(), "text": "  Said aloud  "}
    first = ask(oak, "add", payload)
    assert first["ok"] and first["round"] == 0
    assert ask(oak, "add", payload) == {"ok": True, "id": first["id"], "round": 0}  # a retry adds nothing
    ack = ask(oak, "notes", {"question_id": q})
    assert texts(ack) == ["Said aloud"] and ack["notes"][0]["author"] == "host"
    with app.app_context():
        note = db.session.get(Note, first["id"])
        assert (note.table_id, note.participant_id, note.status) == (world["tables"]["Oak"]["id"], None, "visible")
    # The same client id from another table's host is refused.
    ash = host(app, world["tables"]["Ash"]["token"])
    assert ask(ash, "add", payload)["ok"] is False


def test_edit_keeps_the_earlier_text_with_the_hosts_name(app, world):
    q = world["notes_q"]
    note_id = phone_note(seated_phone(app, world), q, "More jobz")
    oak = host(app, world["tables"]["Oak"]["token"])
    ack = ask(oak, "edit", {"note_id": note_id, "text": "More jobs"})
    assert ack["ok"] and ack["note"]["text"] == "More jobs" and ack["note"]["edited"]
    with app.app_context():
        (edit,) = db.session.query(NoteEdit).filter_by(note_id=note_id).all()
        assert (edit.text, edit.action, edit.by) == ("More jobz", "edit", "host:Oak")
    assert ask(oak, "edit", {"note_id": note_id, "text": "x" * 51})["error"].startswith("That note is 51 characters long; the limit is 50.")
    assert ask(oak, "edit", {"note_id": note_id, "text": "   "})["ok"] is False


def test_moderate_hide_restore_approve(app, world):
    q = world["notes_q"]
    phone = seated_phone(app, world)
    with app.app_context():
        services.set_moderation(db.session.get(CafeSession, world["cafe"]["id"]), "pre", "darn")
    pending = phone_note(phone, q, "Needs a look")
    held = phone_note(phone, q, "Darn buses")
    oak = host(app, world["tables"]["Oak"]["token"])
    statuses = {n["id"]: n["status"] for n in ask(oak, "notes", {"question_id": q})["notes"]}
    assert statuses == {pending: "pending", held: "held"}
    assert ask(oak, "moderate", {"note_id": pending, "action": "approve"})["note"]["status"] == "visible"
    assert ask(oak, "moderate", {"note_id": held, "action": "approve"})["note"]["status"] == "visible"
    assert ask(oak, "moderate", {"note_id": held, "action": "hide"})["note"]["status"] == "hidden"
    ack = ask(oak, "moderate", {"note_id": held, "action": "restore"})
    assert ack["note"]["status"] == "visible" and ack["note"]["edited"] is False  # moderating is not editing
    with app.app_context():
        actions = [(e.action, e.by) for e in db.session.query(NoteEdit).filter_by(note_id=held).order_by(NoteEdit.id)]
    assert actions == [("approve", "host:Oak"), ("hide", "host:Oak"), ("restore", "host:Oak")]
    for action in ("delete", None, ["hide"], {"x": 1}, "x" * 10_000):
        assert ask(oak, "moderate", {"note_id": held, "action": action}) == {"ok": False, "error": "Unknown action."}


def test_highlight(app, world):
    note_id = phone_note(seated_phone(app, world), world["notes_q"], "Star me")
    oak = host(app, world["tables"]["Oak"]["token"])
    assert ask(oak, "highlight", {"note_id": note_id, "on": True})["note"]["highlight"] is True
    assert ask(oak, "highlight", {"note_id": note_id, "on": False})["note"]["highlight"] is False
    for on in (None, 1, "yes", [True]):
        assert ask(oak, "highlight", {"note_id": note_id, "on": on})["ok"] is False


def test_merge_keeps_the_originals_and_unmerge_restores(app, world):
    q = world["notes_q"]
    phone = seated_phone(app, world)
    a, b, c = (phone_note(phone, q, t) for t in ("More jobs", "more jobs!", "Jobs please"))
    oak = host(app, world["tables"]["Oak"]["token"])
    ask(oak, "highlight", {"note_id": c, "on": True})
    ack = ask(oak, "merge", {"target_id": a, "source_ids": [b, c, b]})
    assert ack["ok"] and ack["note"]["highlight"]  # a merge keeps a highlight
    listed = {n["id"]: n for n in ask(oak, "notes", {"question_id": q})["notes"]}
    assert listed[b]["merged_into"] == a and listed[c]["merged_into"] == a and listed[a]["merged_into"] is None
    assert [listed[i]["text"] for i in (a, b, c)] == ["More jobs", "more jobs!", "Jobs please"]  # all kept
    with app.app_context():
        assert db.session.query(Note).filter_by(question_id=q).count() == 3
        assert db.session.query(NoteEdit).filter_by(action="merge", by="host:Oak").count() == 2
    # A merged note is no target; a note does not merge into itself.
    assert ask(oak, "merge", {"target_id": b, "source_ids": [c]})["ok"] is False
    assert ask(oak, "merge", {"target_id": a, "source_ids": [a]})["ok"] is False
    assert ask(oak, "unmerge", {"note_id": b})["note"]["merged_into"] is None
    listed = {n["id"]: n for n in ask(oak, "notes", {"question_id": q})["notes"]}
    assert listed[b]["merged_into"] is None and listed[c]["merged_into"] == a
    for bad in ([], None, "1", [None], list(range(1, 200)), [{"id": b}]):
        assert ask(oak, "merge", {"target_id": a, "source_ids": bad})["ok"] is False


def test_summary_per_question_and_round(app, world):
    q = world["notes_q"]
    oak = host(app, world["tables"]["Oak"]["token"])
    ack = ask(oak, "summary", {"question_id": q, "round": 0, "text": "  Jobs, jobs, jobs  "})
    assert ack["ok"] and ack["summary"] == "Jobs, jobs, jobs" and ack["at"].endswith("Z")
    assert ask(oak, "summary", {"question_id": q, "round": 2, "text": "Round two"})["ok"]
    assert ask(oak, "notes", {"question_id": q})["summary"] == "Jobs, jobs, jobs"
    assert ask(oak, "notes", {"question_id": q, "round": 2})["summary"] == "Round two"
    assert ask(oak, "notes", {"question_id": q, "round": 1})["summary"] == ""
    assert ask(oak, "summary", {"question_id": q, "round": 0, "text": "Changed"})["ok"]
    with app.app_context():
        rows = {(s.round, s.text) for s in db.session.query(HostSummary).filter_by(table_id=world["tables"]["Oak"]["id"])}
    assert rows == {(0, "Changed"), (2, "Round two")}
    assert ask(oak, "summary", {"question_id": q, "round": 0, "text": "x" * 5001})["error"] == \
        "A summary is up to 5000 characters."
    # Another table's host has their own summary.
    ash = host(app, world["tables"]["Ash"]["token"])
    assert ask(ash, "notes", {"question_id": q})["summary"] == ""


def test_a_host_reaches_only_own_table_of_own_session(app, world):
    q = world["notes_q"]
    oak_note = phone_note(seated_phone(app, world, "Oak"), q, "Oak's")
    ash = host(app, world["tables"]["Ash"]["token"])
    far = host(app, world["tables"]["Far"]["token"])
    for sock in (ash, far):
        for event, data in (
            ("edit", {"note_id": oak_note, "text": "mine now"}),
            ("moderate", {"note_id": oak_note, "action": "hide"}),
            ("highlight", {"note_id": oak_note, "on": True}),
            ("unmerge", {"note_id": oak_note}),
            ("merge", {"target_id": oak_note, "source_ids": [oak_note]}),
        ):
            assert ask(sock, event, data) == {"ok": False, "error": "That note was not found."}, (event, data)
    ash_note = ask(ash, "add", {"question_id": q, "client_id": cid(), "text": "Ash's"})["id"]
    # Not even by merging one's own note into another table's, or the other way round.
    assert ask(ash, "merge", {"target_id": ash_note, "source_ids": [oak_note]})["ok"] is False
    assert ask(ash, "merge", {"target_id": oak_note, "source_ids": [ash_note]})["ok"] is False
    # The other session's host cannot add to, read or summarise this session's question.
    assert ask(far, "add", {"question_id": q, "client_id": cid(), "text": "x"})["ok"] is False
    assert ask(far, "notes", {"question_id": q})["ok"] is False
    assert ask(far, "summary", {"question_id": q, "round": 0, "text": "x"})["ok"] is False
    with app.app_context():
        note = db.session.get(Note, oak_note)
        assert (note.text, note.status, note.highlight, note.merged_into_id) == ("Oak's", "visible", False, None)
        assert db.session.query(HostSummary).count() == 0


@pytest.mark.parametrize("event,payloads", [
    ("notes", [None, "x", [], 5, {}, {"question_id": "1"}, {"question_id": True}, {"question_id": 2**40},
               {"question_id": 999_999}, {"QID": 1}, {"question_id": "QID", "round": -1},
               {"question_id": "QID", "round": "1"}, {"question_id": "QID", "round": 51},
               {"question_id": "QID", "round": True}, {"question_id": "QID", "round": 1.5}]),
    ("add", [None, {}, {"question_id": "QID", "text": "no client id"},
             {"question_id": "QID", "client_id": "short", "text": "x"},
             {"question_id": "QID", "client_id": "x" * 65, "text": "x"},
             {"question_id": "QID", "client_id": "bad id with spaces", "text": "x"},
             {"question_id": "QID", "client_id": "CID", "text": ""},
             {"question_id": "QID", "client_id": "CID", "text": ["x"]},
             {"question_id": "QID", "client_id": "CID", "text": "x" * 1_000_000},
             {"question_id": None, "client_id": "CID", "text": "x"}]),
    ("edit", [None, {}, {"note_id": "NID"}, {"note_id": "NID", "text": None}, {"note_id": "NID", "text": 5},
              {"note_id": "NID", "text": "x" * 1_000_000}, {"note_id": None, "text": "x"},
              {"note_id": 999_999, "text": "x"}, {"note_id": [1], "text": "x"}, {"note_id": 2**70, "text": "x"}]),
    ("moderate", [None, {}, {"note_id": "NID"}, {"note_id": "NID", "action": "delete"},
                  {"note_id": -1, "action": "hide"}, {"note_id": 1.0, "action": "hide"}]),
    ("highlight", [None, {}, {"note_id": "NID"}, {"note_id": "NID", "on": "true"}, {"note_id": "x", "on": True}]),
    ("merge", [None, {}, {"target_id": "NID"}, {"target_id": "NID", "source_ids": "NID"},
               {"target_id": "NID", "source_ids": [999_999]}, {"target_id": None, "source_ids": ["NID"]}]),
    ("unmerge", [None, {}, {"note_id": "abc"}, {"note_id": 999_999}]),
    ("summary", [None, {}, {"question_id": "QID", "round": 0}, {"question_id": "QID", "round": 0, "text": None},
                 {"question_id": "QID", "round": "x", "text": "x"}, {"question_id": "QID", "round": 10**12, "text": "x"},
                 {"question_id": "QID", "round": 0, "text": "x" * 1_000_000}, {"question_id": "x", "round": 0, "text": "x"}]),
])
def test_bad_input_is_refused_and_the_socket_lives(app, world, event, payloads):
    q = world["notes_q"]
    note_id = phone_note(seated_phone(app, world), q, "A note")
    oak = host(app, world["tables"]["Oak"]["token"])

    def fill(value):
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v) for v in value]
        return {"QID": q, "NID": note_id, "CID": cid()}.get(value, value) if isinstance(value, str) else value

    for payload in payloads:
        ack = ask(oak, event, fill(payload))
        assert ack["ok"] is False and ack["error"] and ack["error"] != SOCKET_ERROR, (payload, ack)
        assert oak.is_connected(HOST)
    assert ask(oak, "notes", {"question_id": q})["ok"]
    with app.app_context():
        note = db.session.get(Note, note_id)
        assert (note.text, note.status, note.highlight) == ("A note", "visible", False)


def test_unknown_event_gets_an_error(app, world):
    oak = host(app, world["tables"]["Oak"]["token"])
    ack = ask(oak, "delete_everything", {"x": 1})
    assert ack["ok"] is False and "Unknown request" in ack["error"]
    assert oak.is_connected(HOST)


# -- live ------------------------------------------------------------------------------------

def test_a_phone_note_at_the_table_reaches_its_host_live(app, world):
    q = world["notes_q"]
    oak, ash = host(app, world["tables"]["Oak"]["token"]), host(app, world["tables"]["Ash"]["token"])
    oak.get_received(HOST), ash.get_received(HOST)
    phone = seated_phone(app, world, "Oak")
    note_id = phone_note(phone, q, "Live from the table")
    assert events(oak, "changed", HOST) == [{"question_id": q}]
    assert events(ash, "changed", HOST) == []
    assert texts(ask(oak, "notes", {"question_id": q})) == ["Live from the table"]
    # A phone moved to another table brings its next notes there.
    assert phone.emit("table", {"table_id": world["tables"]["Ash"]["id"]}, namespace=PHONE, callback=True)["ok"]
    phone_note(phone, q, "Now at Ash")
    assert events(ash, "changed", HOST) == [{"question_id": q}] and events(oak, "changed", HOST) == []
    # An earlier note stays where it was written.
    with app.app_context():
        assert db.session.get(Note, note_id).table_id == world["tables"]["Oak"]["id"]


def test_the_author_phone_hears_its_hosts_moderation_of_its_note(app, world):
    """What the phone receives when its table's host hides, restores, corrects or merges its note:
    its own note as it is now; another phone at the table hears nothing of it."""
    q = world["notes_q"]
    oak = host(app, world["tables"]["Oak"]["token"])
    author, neighbour = seated_phone(app, world, "Oak"), seated_phone(app, world, "Oak")
    mine = phone_note(author, q, "More buses")
    other = phone_note(neighbour, q, "More trains")
    author.get_received(PHONE), neighbour.get_received(PHONE)

    def heard():
        return events(author, "note", PHONE)

    assert ask(oak, "moderate", {"note_id": mine, "action": "hide"})["ok"]
    assert heard() == [{"id": mine, "question_id": q, "text": "More buses", "status": "hidden"}]
    assert ask(oak, "moderate", {"note_id": mine, "action": "restore"})["ok"]
    assert heard() == [{"id": mine, "question_id": q, "text": "More buses", "status": "visible"}]
    assert ask(oak, "edit", {"note_id": mine, "text": "More buses at night"})["ok"]
    assert heard() == [{"id": mine, "question_id": q, "text": "More buses at night", "status": "visible"}]
    assert ask(oak, "merge", {"target_id": other, "source_ids": [mine]})["ok"]
    assert [n["id"] for n in heard()] == [mine]
    assert [n["id"] for n in events(neighbour, "note", PHONE)] == [other]  # its own note took the merge in


def test_a_hosts_change_reaches_the_tables_other_screens_and_the_control_page(app, client, world):
    q = world["notes_q"]
    token = world["tables"]["Oak"]["token"]
    laptop, phone_screen = host(app, token), host(app, token)
    control = app.extensions["socketio"].test_client(app, namespace="/facilitator", flask_test_client=client,
                                   auth={"session_id": world["cafe"]["id"], "view": "control"})
    laptop.get_received(HOST), phone_screen.get_received(HOST), control.get_received("/facilitator")
    assert ask(laptop, "add", {"question_id": q, "client_id": cid(), "text": "From the laptop"})["ok"]
    assert events(phone_screen, "changed", HOST) == [{"question_id": q}]
    assert events(control, "state", "/facilitator")  # touch(): the screens refresh


# -- revoking --------------------------------------------------------------------------------

def test_revoking_ends_an_open_hosts_access_at_once(app, world):
    q = world["notes_q"]
    oak_id, old = world["tables"]["Oak"]["id"], world["tables"]["Oak"]["token"]
    oak = host(app, old)
    ash = host(app, world["tables"]["Ash"]["token"])
    note_id = phone_note(seated_phone(app, world, "Oak"), q, "Before revoking")
    assert ask(oak, "notes", {"question_id": q})["ok"]
    oak.get_received(HOST), ash.get_received(HOST)

    with app.app_context():
        new = services.revoke_host(db.session.get(CafeTable, oak_id))
    assert events(oak, "revoked", HOST) == [{"message": live.REVOKED}]
    assert events(ash, "revoked", HOST) == []

    # The open socket can neither read nor change anything any more.
    refused = {"ok": False, "error": live.REVOKED, "revoked": True}
    assert ask(oak, "notes", {"question_id": q}) == refused
    assert ask(oak, "edit", {"note_id": note_id, "text": "sneaky"}) == refused
    assert ask(oak, "add", {"question_id": q, "client_id": cid(), "text": "sneaky"}) == refused
    assert ask(oak, "summary", {"question_id": q, "round": 0, "text": "sneaky"}) == refused
    assert ask(oak, "moderate", {"note_id": note_id, "action": "hide"}) == refused
    assert ask(oak, "notes") == refused  # refused before its input is even looked at
    # ...and hears nothing more of the table.
    phone_note(seated_phone(app, world, "Oak"), q, "After revoking")
    assert events(oak, "changed", HOST) == []
    # The old link cannot connect again; the new one can, and sees everything.
    assert not host(app, old).is_connected(HOST)
    fresh = host(app, new)
    assert texts(ask(fresh, "notes", {"question_id": q})) == ["Before revoking", "After revoking"]
    with app.app_context():
        assert db.session.get(Note, note_id).text == "Before revoking"
        assert db.session.query(Note).filter_by(author="host").count() == 0
    # The other table's host is untouched.
    assert ask(ash, "notes", {"question_id": q})["ok"]


def test_revoking_without_end_host_still_refuses_the_next_event(app, world):
    oak_id = world["tables"]["Oak"]["id"]
    oak = host(app, world["tables"]["Oak"]["token"])
    with app.app_context():
        services.revoke_host(db.session.get(CafeTable, oak_id))
    assert ask(oak, "notes", {"question_id": world["notes_q"]})["revoked"] is True


def test_removed_table_ends_its_hosts_access(app, world):
    elm = host(app, world["tables"]["Elm"]["token"])
    with app.app_context():
        session = db.session.get(CafeSession, world["cafe"]["id"])
        services.set_tables(session, ["Oak", "Ash"])
        assert db.session.query(Participant).count() == 0
    assert ask(elm, "notes", {"question_id": world["notes_q"]})["revoked"] is True
