"""Dot-voting over Socket.IO and HTTP: the control page opens it, phones place dots, screens rank the notes."""
import re
import uuid

import pytest

from consult import rules, services
from consult.extensions import db
from consult.models import Dot, Question

from .conftest import events, join_phone, make_cafe

PHONE = "/phone"
SCREEN = "/facilitator"
MALFORMED = "Your phone sent a malformed request: please reload the page."


@pytest.fixture(autouse=True)
def cheap_passwords(fast_passwords):
    """Cheap password hashes: these tests sign in often."""


def cid():
    return "d-" + uuid.uuid4().hex


def screen(app, http, session_id, view="control"):
    return app.extensions["socketio"].test_client(app, namespace=SCREEN, flask_test_client=http,
                                auth={"session_id": session_id, "view": view})


def emit(sock, event, data, namespace=PHONE):
    return sock.emit(event, data, namespace=namespace, callback=True)


def last(sock, name, namespace):
    found = events(sock, name, namespace)
    assert found, f"no {name!r} received"
    return found[-1]


@pytest.fixture
def room(app, client, cafe):
    """The café's notes question with three notes, two phones and the control page; dot-voting not open yet."""
    q = cafe["questions"][1]
    _, writer = join_phone(app, cafe["code"])
    notes = [emit(writer, "note", {"question_id": q, "client_id": cid(), "text": t})["id"] for t in ("Buses", "Jobs", "Parks")]
    _, ann = join_phone(app, cafe["code"])
    _, bob = join_phone(app, cafe["code"])
    control = screen(app, client, cafe["id"])
    for sock, ns in ((writer, PHONE), (ann, PHONE), (bob, PHONE), (control, SCREEN)):
        sock.get_received(ns)
    return {"q": q, "notes": notes, "ann": ann, "bob": bob, "control": control, "cafe": cafe}


def open_dots(room, n=3):
    ack = emit(room["control"], "dots", {"question_id": room["q"], "action": "open", "dots": n}, SCREEN)
    assert ack == {"ok": True, "open": True, "dots": n}, ack


def dot(sock, room, note, client_id=None):
    return emit(sock, "dot", {"question_id": room["q"], "note_id": note, "client_id": client_id or cid()})


def test_opening_reaches_phones_and_screens(app, client, room):
    buses, jobs, parks = room["notes"]
    projector = screen(app, client, room["cafe"]["id"], "projector")
    projector.get_received(SCREEN)
    open_dots(room)
    received = room["ann"].get_received(PHONE)
    names = [e["name"] for e in received]
    assert names.index("dots") < names.index("question")  # the list first: the phone has it when it switches
    data = next(e["args"][0] for e in received if e["name"] == "dots")
    assert data == {"question_id": room["q"], "open": True, "per_person": 3,
                    "notes": [{"id": buses, "text": "Buses", "also": []}, {"id": jobs, "text": "Jobs", "also": []},
                              {"id": parks, "text": "Parks", "also": []}]}
    question = next(e["args"][0] for e in received if e["name"] == "question")
    assert (question["id"], question["is_open"], question["dots"], question["dots_open"]) == (room["q"], False, 3, True)
    state = last(projector, "state", SCREEN)
    assert state["current"]["dots_open"] is True
    assert [(n["text"], n["dots"]) for n in state["results"]["dots"]["ranked"]] == [("Buses", 0), ("Jobs", 0), ("Parks", 0)]
    control = last(room["control"], "state", SCREEN)
    mine = next(q for q in control["questions"] if q["id"] == room["q"])
    assert (mine["kind"], mine["dots"], mine["dots_open"]) == ("notes", 3, True)

    # Dots reach the screens (ranked), never the phones.
    dot(room["ann"], room, parks)
    dot(room["bob"], room, parks)
    dot(room["bob"], room, jobs)
    ranked = last(projector, "state", SCREEN)["results"]["dots"]
    assert [(n["text"], n["dots"], n["rank"]) for n in ranked["ranked"]] == [("Parks", 2, 1), ("Jobs", 1, 2), ("Buses", 0, 3)]
    assert (ranked["placed"], ranked["voters"]) == (3, 2)
    assert {n["text"]: n["dots"] for n in last(room["control"], "state", SCREEN)["results"]["notes"]} == {
        "Buses": 0, "Jobs": 1, "Parks": 2}
    assert [e["name"] for e in room["ann"].get_received(PHONE)] == []

    # Closing: phones hear it, the ranking stays.
    ack = emit(room["control"], "dots", {"question_id": room["q"], "action": "close"}, SCREEN)
    assert ack == {"ok": True, "open": False, "dots": 3}
    assert last(room["ann"], "dots", PHONE) == {"question_id": room["q"], "open": False, "per_person": 3}
    ranked = last(projector, "state", SCREEN)["results"]["dots"]
    assert ranked["open"] is False and ranked["placed"] == 3


def test_phone_dots_acks_limit_retry_and_take_back(app, room):
    buses, jobs, parks = room["notes"]
    open_dots(room, 2)
    ann = room["ann"]
    first = dot(ann, room, jobs, "dot-ann-0001")
    assert first["ok"] and first["placed"] is True
    assert first["mine"] == [{"id": first["id"], "note_id": jobs, "client_id": "dot-ann-0001"}] and first["left"] == 1
    # A retry (a lost ack) places nothing.
    again = dot(ann, room, jobs, "dot-ann-0001")
    assert again == {**first, "placed": False}
    second = dot(ann, room, jobs)
    assert second["ok"] and len(second["mine"]) == 2
    full = dot(ann, room, parks)
    assert full["ok"] is False and full["error"] == (
        "You have used all 2 of your dots. Take one back from a note if you want to move it.")
    assert len(full["mine"]) == 2 and full["left"] == 0  # the phone sees what it really has
    # Taking back by dot id, twice (a retry), then by note.
    back = emit(ann, "undot", {"question_id": room["q"], "dot_id": first["id"]})
    assert back == {"ok": True, "id": first["id"], "taken": True, "receipt": back["receipt"], "mine": [second["mine"][1]],
                    "left": 1}
    assert emit(ann, "undot", {"question_id": room["q"], "dot_id": first["id"]})["taken"] is False
    back = emit(ann, "undot", {"question_id": room["q"], "note_id": jobs})
    assert back["ok"] and back["id"] == second["id"] and back["mine"] == [] and back["left"] == 2
    nothing = emit(ann, "undot", {"question_id": room["q"], "note_id": jobs})
    assert nothing == {"ok": False, "error": "You have no dot on that note to take back.", "mine": [], "left": 2}
    with app.app_context():
        assert db.session.query(Dot).count() == 0


BAD_DOTS = [
    ("none", lambda r: None, MALFORMED),
    ("list", lambda r: [r["q"], r["notes"][0]], MALFORMED),
    ("no client id", lambda r: {"question_id": r["q"], "note_id": r["notes"][0]}, MALFORMED),
    ("client id number", lambda r: {"question_id": r["q"], "note_id": r["notes"][0], "client_id": 12345678}, MALFORMED),
    ("no question", lambda r: {"note_id": r["notes"][0], "client_id": cid()}, "That question was not found."),
    ("huge question", lambda r: {"question_id": 2**70, "note_id": r["notes"][0], "client_id": cid()},
     "That question was not found."),
    ("vote question", lambda r: {"question_id": r["cafe"]["questions"][0], "note_id": r["notes"][0], "client_id": cid()},
     "This question has no notes to put dots on."),
    ("no note", lambda r: {"question_id": r["q"], "client_id": cid()}, "That note was not found."),
    ("note as text", lambda r: {"question_id": r["q"], "note_id": str(r["notes"][0]), "client_id": cid()},
     "That note was not found."),
    ("huge note", lambda r: {"question_id": r["q"], "note_id": 10**40, "client_id": cid()}, "That note was not found."),
    ("bool note", lambda r: {"question_id": r["q"], "note_id": True, "client_id": cid()}, "That note was not found."),
]


def test_bad_dots_are_refused_and_the_socket_lives(app, room):
    open_dots(room)
    for name, make, message in BAD_DOTS:
        ack = dot_ack = emit(room["ann"], "dot", make(room))
        assert dot_ack["ok"] is False and message in ack["error"], (name, ack)
        assert room["ann"].is_connected(PHONE), name
    for bad in (None, "x", [], {}, {"dot_id": "1"}, {"note_id": 2**70}, {"dot_id": True}):
        ack = emit(room["ann"], "undot", bad)
        assert ack["ok"] is False, (bad, ack)
    with app.app_context():
        assert db.session.query(Dot).count() == 0
    assert dot(room["ann"], room, room["notes"][0])["ok"]


def test_closed_hidden_and_merged_notes(app, room):
    buses, jobs, parks = room["notes"]
    closed = dot(room["ann"], room, jobs)
    assert closed["ok"] is False and closed["error"] == "Dot-voting is closed: your dot was not placed."
    open_dots(room)
    mine = dot(room["ann"], room, buses)
    with app.app_context():
        note = lambda i: db.session.get(rules.Note, i)  # noqa: E731
        services.moderate(note(parks), "hide", by="facilitator")
        services.merge(note(jobs), [note(buses)], by="facilitator")
    # The phones get the new list: Parks gone, Buses merged into Jobs (so a dot on Buses shows on Jobs).
    assert last(room["bob"], "dots", PHONE)["notes"] == [{"id": jobs, "text": "Jobs", "also": [buses]}]
    assert dot(room["ann"], room, parks)["error"].startswith("That note is not on the list any more")
    assert dot(room["ann"], room, buses)["error"].startswith("That note was joined with a similar one")
    projector = last(room["control"], "state", SCREEN)["results"]["dots"]["ranked"]
    assert [(n["text"], n["dots"]) for n in projector] == [("Jobs", 1)]
    # Taking back from the note it joined finds it.
    assert emit(room["ann"], "undot", {"question_id": room["q"], "note_id": jobs})["id"] == mine["id"]
    # Closed: the dots stay.
    dot(room["ann"], room, jobs)
    emit(room["control"], "dots", {"question_id": room["q"], "action": "close"}, SCREEN)
    ack = emit(room["ann"], "undot", {"question_id": room["q"], "note_id": jobs})
    assert ack["ok"] is False and ack["error"] == "Dot-voting is closed: your dots stay where they are."


def test_a_phone_of_another_session_cannot_dot(app, facilitator, room):
    other = make_cafe(app, facilitator, title="Other café")
    _, stranger = join_phone(app, other["code"])
    open_dots(room)
    ack = dot(stranger, room, room["notes"][0])
    assert ack == {"ok": False, "error": "That question was not found."}
    mine = dot(room["ann"], room, room["notes"][0])
    assert emit(stranger, "undot", {"dot_id": mine["id"]})["taken"] is False
    ack = emit(stranger, "undot", {"note_id": room["notes"][0]})
    assert ack["ok"] is False and "note was not found" in ack["error"]
    with app.app_context():
        assert db.session.query(Dot).count() == 1


def test_only_the_control_page_opens_dots(app, client, room):
    projector = screen(app, client, room["cafe"]["id"], "projector")
    ack = emit(projector, "dots", {"question_id": room["q"], "action": "open", "dots": 3}, SCREEN)
    assert ack == {"ok": False, "error": "Only the control page can do that."}
    # Nor can a phone: the facilitator's events are not on its namespace.
    assert emit(room["ann"], "dots", {"question_id": room["q"], "action": "open", "dots": 3})["ok"] is False
    with app.app_context():
        assert not db.session.get(Question, room["q"]).dots_open


@pytest.mark.parametrize("data, error", [
    (None, "Malformed request."),
    ("open", "Malformed request."),
    ({"action": "open", "dots": 3}, "That question was not found."),
    ({"question_id": "Q", "action": "open", "dots": 0}, "Give each person from 1 to 20 dots."),
    ({"question_id": "Q", "action": "open", "dots": 21}, "Give each person from 1 to 20 dots."),
    ({"question_id": "Q", "action": "open", "dots": None}, "Give each person from 1 to 20 dots."),
    ({"question_id": "Q", "action": "open", "dots": "lots"}, "Give each person from 1 to 20 dots."),
    ({"question_id": "Q", "action": "explode", "dots": 3}, "Unknown action."),
    ({"question_id": "CHOICE", "action": "open", "dots": 3}, "Dot-voting works on open-notes questions only."),
    ({"question_id": "OTHER", "action": "open", "dots": 3}, "That question was not found."),
])
def test_bad_dot_controls(app, facilitator, room, data, error):
    other = make_cafe(app, facilitator, title="Other")
    names = {"Q": room["q"], "CHOICE": room["cafe"]["questions"][0], "OTHER": other["questions"][1]}
    if isinstance(data, dict):
        data = {k: names.get(v, v) if isinstance(v, str) else v for k, v in data.items()}
    assert emit(room["control"], "dots", data, SCREEN) == {"ok": False, "error": error}
    assert events(room["ann"], "dots", PHONE) == []


def test_reconnect_snapshot_has_the_list_and_own_dots(app, room):
    buses, jobs, _ = room["notes"]
    open_dots(room)
    placed = [dot(room["ann"], room, jobs, f"dot-ann-000{i}") for i in range(2)]
    dot(room["bob"], room, buses)
    ack = emit(room["ann"], "state", None)
    state = ack["state"]
    assert state["question"]["dots_open"] is True and state["dots"]["left"] == 1
    assert [n["text"] for n in state["dots"]["notes"]] == ["Buses", "Jobs", "Parks"]
    assert state["my_dots"] == {str(room["q"]): [{"id": p["id"], "note_id": jobs, "client_id": f"dot-ann-000{i}"}
                                                 for i, p in enumerate(placed)]}
    # The phone page has it too (and a phone that reloads gets it as it connects).
    http, sock = join_phone(app, room["cafe"]["code"])
    (fresh,) = events(sock, "state", PHONE)
    assert fresh["dots"]["per_person"] == 3 and fresh["dots"]["left"] == 3 and fresh["my_dots"] == {}
    page = http.get(f"/j/{room['cafe']['code']}").get_data(as_text=True)
    assert '"dots_open": true' in page and 'data-dot-url="/j/' in page


def test_dots_over_http_when_the_socket_is_down(app, room):
    buses, _, _ = room["notes"]
    code = room["cafe"]["code"]
    http, _ = join_phone(app, code)
    body = {"question_id": room["q"], "note_id": buses, "client_id": "dot-http-0001"}
    assert http.post(f"/j/{code}/dot", json=body).json["error"] == "Dot-voting is closed: your dot was not placed."
    open_dots(room, 1)
    r = http.post(f"/j/{code}/dot", json=body)
    assert r.status_code == 200 and r.json["ok"] and r.json["placed"]
    assert http.post(f"/j/{code}/dot", json=body).json["placed"] is False  # a retry
    r = http.post(f"/j/{code}/dot", json={**body, "client_id": "dot-http-0002"})
    assert r.status_code == 400 and r.json["error"] == "You have used your dot. Take it back from its note if you want to move it."
    r = http.post(f"/j/{code}/undot", json={"question_id": room["q"], "dot_id": r.json["mine"][0]["id"]})
    assert r.status_code == 200 and r.json["taken"] and r.json["mine"] == []
    assert app.test_client().post(f"/j/{code}/dot", json=body).status_code == 403  # no participant cookie
    assert http.post("/j/ZZZZZZ/dot", json=body).status_code == 404


def test_control_page_post_fallback(app, client, room):
    s = room["cafe"]["id"]
    r = client.post(f"/sessions/{s}/dots", data={"question_id": str(room["q"]), "action": "open", "dots": "4"},
                    follow_redirects=True)
    assert "Dot-voting is open: everyone has 4 dots to place on the notes." in r.get_data(as_text=True)
    assert last(room["ann"], "dots", PHONE)["per_person"] == 4
    page = client.get(f"/sessions/{s}/control").get_data(as_text=True)
    assert re.search(r'name="dots"[^>]*value="4"', page) and "Close dot-voting" in page
    r = client.post(f"/sessions/{s}/dots", data={"question_id": str(room["q"]), "action": "open", "dots": "99"},
                    follow_redirects=True)
    assert "Give each person from 1 to 20 dots." in r.get_data(as_text=True)
    r = client.post(f"/sessions/{s}/dots", data={"question_id": str(room["q"]), "action": "close"}, follow_redirects=True)
    assert "Dot-voting is closed." in r.get_data(as_text=True)
    # Someone else's session does not exist for this facilitator; signed out, sign in first.
    assert app.test_client().post(f"/sessions/{s}/dots", data={"question_id": room["q"], "action": "open"}).status_code == 302
    with app.app_context():
        q = db.session.get(Question, room["q"])
        assert (q.dots, q.dots_open) == (4, False)


def test_reopening_for_notes_ends_dot_voting(app, room):
    open_dots(room)
    ack = emit(room["control"], "control", {"action": "open", "question_id": room["q"]}, SCREEN)
    assert ack == {"ok": True}
    question = last(room["ann"], "question", PHONE)
    assert question["is_open"] is True and question["dots_open"] is False
    assert dot(room["ann"], room, room["notes"][0])["error"] == "Dot-voting is closed: your dot was not placed."
