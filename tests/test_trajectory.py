"""Trajectory grids: rows (questions or themes) against time horizons, a milestone posted in a cell.

The rules (saving and editing a grid, milestones checked per cell, moving one), the phone's and the
host's sockets, the facilitator's form and screens, and the write-up in every format read back.
"""
import csv
import io
import json
import uuid

import pytest

from consult import services
from consult import cafe, live, rules
from consult.app import SOCKET_ERROR
from consult.extensions import db
from consult.models import HORIZONS, CafeSession, Horizon, Note, NoteEdit, Question, TrajectoryRow
from consult.results import results
from consult.writeup.build import writeup
from consult.writeup.formats import RAW_COLUMNS, csv_text, markdown
from consult.writeup.routes import render
from consult.services import import_session
from consult.transfer import export

from .conftest import cast_vote, events, join_phone, make_cafe, pdf_text, post_note

PHONE, HOST, SCREEN = "/phone", "/host", "/facilitator"
ROWS = ["More local jobs", "Skills for young people", "Affordable homes"]
GRID = {"kind": "trajectory", "text": "Where could we be, and when?", "rows": "\n".join(ROWS),
        "horizons": rules.horizons_text(), "max_length": 60}


@pytest.fixture(autouse=True)
def cheap_passwords(fast_passwords):
    """Cheap password hashes: these tests sign in often."""


def cid():
    return "c-" + uuid.uuid4().hex


@pytest.fixture
def world(app, facilitator):
    """A café with an open-notes question, a trajectory grid (shown, open) and two tables."""
    made = make_cafe(app, facilitator, questions=[{"kind": "notes", "text": "What does success look like?"}, GRID])
    notes_q, grid_q = made["questions"]
    with app.app_context():  # the tests run in it, and read the database with db.session
        session = db.session.get(CafeSession, made["id"])
        services.control(session, "show", grid_q)
        services.set_tables(session, ["Oak", "Ash"])
        q = db.session.get(Question, grid_q)
        tables = {t.name: {"id": t.id, "token": t.host_token} for t in session.tables}
        yield {**made, "notes_q": notes_q, "grid_q": grid_q, "tables": tables,
               "rows": [r.id for r in q.rows], "horizons": [h.id for h in q.horizons]}


def grid_data(**changes):
    return {**GRID, **changes}


def cell_texts(result):
    """{(row text, horizon name): [milestone texts]} of a trajectory result, non-empty cells only."""
    names = {h["id"]: h["name"] for h in result["horizons"]}
    return {(row["text"], names[c["horizon_id"]]): [n["text"] for n in c["notes"]]
            for row in result["rows"] for c in row["cells"] if c["notes"]}


# -- saving and editing a grid -------------------------------------------------------------

def test_a_new_grid_has_its_rows_and_the_default_horizons(app, world):
    q = db.session.get(Question, world["grid_q"])
    assert q.kind == "trajectory" and q.kind_label == "Trajectory grid" and q.max_length == 60
    assert [r.text for r in q.rows] == ROWS and [r.position for r in q.rows] == [0, 1, 2]
    assert [(h.name, h.hint) for h in q.horizons] == HORIZONS
    assert rules.horizons_text().splitlines() == [
        "Exploring | ~ 12 months", "Emerging | ~ 6 – 24 months", "Sustaining | Ongoing", "Systems change | Ongoing"]


def test_editing_keeps_ids_by_text_then_position(app, world):
    session = db.session.get(CafeSession, world["id"])
    q = db.session.get(Question, world["grid_q"])
    jobs, skills, homes = world["rows"]
    exploring, emerging, sustaining, systems = world["horizons"]
    # Reordered, one reworded and one added; a horizon renamed, one dropped (no milestones yet), hints edited.
    services.save_question(session, q, grid_data(
        rows="Affordable homes\nMORE LOCAL JOBS\nSkills for everyone\nTransport",
        horizons="Now | this year\nEmerging | 6 - 24 months\nSystems change",
    ))
    rows = {r.text: r.id for r in q.rows}
    assert list(rows) == ["Affordable homes", "MORE LOCAL JOBS", "Skills for everyone", "Transport"]
    assert (rows["Affordable homes"], rows["MORE LOCAL JOBS"], rows["Skills for everyone"]) == (homes, jobs, skills)
    assert rows["Transport"] not in world["rows"]
    horizons = [(h.id, h.name, h.hint) for h in q.horizons]
    # "Emerging" and "Systems change" by name; "Now" takes the first horizon left over (Exploring's).
    assert horizons == [(exploring, "Now", "this year"), (emerging, "Emerging", "6 - 24 months"),
                        (systems, "Systems change", "")]
    assert db.session.get(Horizon, sustaining) is None


def test_a_row_or_horizon_with_milestones_cannot_be_removed(app, world):
    session = db.session.get(CafeSession, world["id"])
    p = services.join(session)
    jobs, skills, homes = world["rows"]
    exploring, emerging, sustaining, systems = world["horizons"]
    post_note(p, {"question_id": world["grid_q"], "client_id": cid(), "text": "Hub open", "row_id": skills,
                        "horizon_id": sustaining})
    q = db.session.get(Question, world["grid_q"])
    with pytest.raises(rules.Invalid, match="The row “Skills for young people” has milestones, so it cannot be removed."):
        services.save_question(session, q, grid_data(rows="More local jobs\nAffordable homes"))
    with pytest.raises(rules.Invalid, match="The time horizon “Sustaining” has milestones, so it cannot be removed."):
        services.save_question(session, q, grid_data(horizons="Exploring\nEmerging\nSystems change"))
    # Nothing changed, and rewording keeps the milestone in its cell.
    q = db.session.get(Question, world["grid_q"])
    assert [r.text for r in q.rows] == ROWS and len(q.horizons) == 4
    services.save_question(session, q, grid_data(rows="More local jobs\nSkills for all ages\nAffordable homes",
                                              horizons=rules.horizons_text().replace("Sustaining", "Keeping going")))
    note = db.session.query(Note).one()
    assert (note.row_id, note.horizon_id) == (skills, sustaining)
    assert db.session.get(TrajectoryRow, skills).text == "Skills for all ages"
    assert db.session.get(Horizon, sustaining).name == "Keeping going"
    # Removing a row without milestones is fine.
    services.save_question(session, q, grid_data(rows="Skills for all ages"))
    assert [r.id for r in q.rows] == [skills]
    # And the type cannot change once there are milestones.
    with pytest.raises(rules.Invalid, match="type cannot change"):
        services.save_question(session, q, {"kind": "notes", "text": "x"})


BAD_GRIDS = [
    ({"rows": ""}, "needs 1 to 12 rows"),
    ({"rows": "\n  \n"}, "needs 1 to 12 rows"),
    ({"rows": "\n".join(f"Row {i}" for i in range(13))}, "needs 1 to 12 rows"),
    ({"rows": "Jobs\njobs"}, "same text"),
    ({"rows": "x" * 501}, "up to 500 characters"),
    ({"horizons": "Only one | soon"}, "2 to 8 time horizons"),
    ({"horizons": "\n".join(f"H{i}" for i in range(9))}, "2 to 8 time horizons"),
    ({"horizons": "Soon\n | later"}, "needs a name"),
    ({"horizons": "Soon\nSOON | again"}, "same name"),
    ({"horizons": "Soon\n" + "x" * 81}, "up to 80 characters"),
    ({"horizons": "Soon\nLater | " + "x" * 81}, "up to 80 characters"),
    ({"horizons": None}, "2 to 8 time horizons"),
    ({"max_length": 5000}, "between 1 and 2000"),
]


def test_bad_grids_are_refused_and_change_nothing(app, world):
    session = db.session.get(CafeSession, world["id"])
    before = db.session.query(Question).count()
    for changes, message in BAD_GRIDS:
        with pytest.raises(rules.Invalid, match=message):
            services.save_question(session, None, grid_data(**changes))
        assert db.session.query(Question).count() == before
        with pytest.raises(rules.Invalid, match=message):
            services.save_question(session, db.session.get(Question, world["grid_q"]), grid_data(**changes))
        q = db.session.get(Question, world["grid_q"])
        assert [r.text for r in q.rows] == ROWS and [(h.name, h.hint) for h in q.horizons] == HORIZONS, changes


def test_a_grid_without_answers_can_become_another_type_and_back(app, world):
    session = db.session.get(CafeSession, world["id"])
    q = services.save_question(session, db.session.get(Question, world["grid_q"]), {"kind": "notes", "text": "Just notes"})
    assert q.kind == "notes" and q.rows == [] and q.horizons == []
    assert db.session.query(TrajectoryRow).count() == 0 and db.session.query(Horizon).count() == 0
    q = services.save_question(session, q, grid_data())
    assert [r.text for r in q.rows] == ROWS


def test_duplicating_a_session_copies_the_grid(app, world):
    session = db.session.get(CafeSession, world["id"])
    post_note(services.join(session), {"question_id": world["grid_q"], "client_id": cid(), "text": "x",
                                          "row_id": world["rows"][0], "horizon_id": world["horizons"][0]})
    copy = services.duplicate_session(session)
    q = copy.questions[1]
    assert q.kind == "trajectory" and q.max_length == 60 and q.notes == []
    assert [r.text for r in q.rows] == ROWS and [(h.name, h.hint) for h in q.horizons] == HORIZONS
    assert not {r.id for r in q.rows} & set(world["rows"])


# -- milestones: checked per cell ------------------------------------------------------------

def test_a_milestone_goes_in_its_cell_with_table_round_and_moderation(app, world):
    session = db.session.get(CafeSession, world["id"])
    oak = world["tables"]["Oak"]["id"]
    p = services.join(session)
    services.choose_table(p, oak)
    services.start_round(session)
    who = rules.Voter(p.id, session.id)
    jobs, skills, homes = world["rows"]
    exploring, emerging, sustaining, systems = world["horizons"]
    note_id, created = post_note(who, {"question_id": world["grid_q"], "client_id": "m-000001", "text": " Job fair ",
                                             "row_id": jobs, "horizon_id": emerging})
    assert created
    note = db.session.get(Note, note_id)
    assert (note.text, note.row_id, note.horizon_id, note.table_id, note.round, note.status) == (
        "Job fair", jobs, emerging, oak, 1, "visible")
    # A retry is the same milestone.
    assert post_note(who, {"question_id": world["grid_q"], "client_id": "m-000001", "text": "Job fair",
                                 "row_id": jobs, "horizon_id": emerging}) == (note_id, False)
    # Blocked words and pre-moderation apply as to any note.
    services.set_moderation(session, "post", "darn")
    held, _ = post_note(who, {"question_id": world["grid_q"], "client_id": cid(), "text": "Darn rents",
                                    "row_id": homes, "horizon_id": systems})
    assert db.session.get(Note, held).status == "held"
    services.set_moderation(session, "pre", "")
    pending, _ = post_note(who, {"question_id": world["grid_q"], "client_id": cid(), "text": "Homes plan",
                                       "row_id": homes, "horizon_id": exploring})
    assert db.session.get(Note, pending).status == "pending"


def test_a_one_row_grid_needs_no_row(app, world):
    session = db.session.get(CafeSession, world["id"])
    q = services.save_question(session, None, grid_data(rows="Our city"))
    services.control(session, "open", q.id)
    note_id, _ = post_note(services.join(session), {"question_id": q.id, "client_id": cid(), "text": "x",
                                                       "horizon_id": q.horizons[1].id})
    assert db.session.get(Note, note_id).row_id == q.rows[0].id


BAD_CELLS = [
    ({}, "Choose where your milestone goes on the grid before sending."),
    ({"row_id": "ROW"}, "Choose where your milestone goes"),
    ({"horizon_id": "HZ"}, "Choose where your milestone goes"),
    ({"row_id": "ROW", "horizon_id": None}, "Choose where your milestone goes"),
    ({"row_id": "ROW", "horizon_id": 999_999}, "That place on the grid was not found"),
    ({"row_id": 999_999, "horizon_id": "HZ"}, "That place on the grid was not found"),
    ({"row_id": "OTHER_ROW", "horizon_id": "HZ"}, "That place on the grid was not found"),
    ({"row_id": "ROW", "horizon_id": "OTHER_HZ"}, "That place on the grid was not found"),
    ({"row_id": True, "horizon_id": "HZ"}, "not found"),
    ({"row_id": "1", "horizon_id": "HZ"}, "not found"),
    ({"row_id": 1.0, "horizon_id": "HZ"}, "not found"),
    ({"row_id": 2**70, "horizon_id": "HZ"}, "not found"),
    ({"row_id": -1, "horizon_id": "HZ"}, "not found"),
    ({"row_id": ["ROW"], "horizon_id": "HZ"}, "not found"),
]


def test_a_milestone_must_name_a_cell_of_its_own_grid(app, world):
    session = db.session.get(CafeSession, world["id"])
    other = services.save_question(session, None, grid_data(text="Another grid"))
    fill = {"ROW": world["rows"][0], "HZ": world["horizons"][0], "OTHER_ROW": other.rows[0].id,
            "OTHER_HZ": other.horizons[0].id}
    p = services.join(session)
    for cell, message in BAD_CELLS:
        payload = {"question_id": world["grid_q"], "client_id": cid(), "text": "A milestone",
                   **{k: fill.get(v, v) if isinstance(v, str) else v for k, v in cell.items()}}
        with pytest.raises(rules.Invalid, match=message):
            post_note(p, payload)
    assert db.session.query(Note).count() == 0


def test_milestones_keep_the_note_rules(app, world):
    session = db.session.get(CafeSession, world["id"])
    p = services.join(session)
    base = {"question_id": world["grid_q"], "row_id": world["rows"][0], "horizon_id": world["horizons"][0]}
    with pytest.raises(rules.Invalid, match="limit is 60"):
        post_note(p, {**base, "client_id": cid(), "text": "x" * 61})
    with pytest.raises(rules.Invalid, match="Write a note"):
        post_note(p, {**base, "client_id": cid(), "text": "  "})
    with pytest.raises(rules.Invalid, match="takes notes, not votes"):
        cast_vote(p, {"question_id": world["grid_q"], "client_id": cid(), "choices": [1]})
    # A cell on a plain notes question is ignored, not stored.
    note_id, _ = post_note(p, {**base, "question_id": world["notes_q"], "client_id": cid(), "text": "plain"})
    assert (db.session.get(Note, note_id).row_id, db.session.get(Note, note_id).horizon_id) == (None, None)
    services.control(session, "close", world["grid_q"])
    with pytest.raises(rules.Invalid, match="closed"):
        post_note(p, {**base, "client_id": cid(), "text": "late"})


def test_bulk_path_records_each_cell(app, world):
    session = db.session.get(CafeSession, world["id"])
    people = [rules.Voter(services.join(session).id, session.id) for _ in range(3)]
    rows, hz = world["rows"], world["horizons"]
    items = [(people[i % 3], {"question_id": world["grid_q"], "client_id": f"bulk-{i:04d}", "text": f"m{i}",
                              "row_id": rows[i % 3], "horizon_id": hz[i % 4]}) for i in range(12)]
    items.append((people[0], {"question_id": world["grid_q"], "client_id": "bulk-bad1", "text": "no cell"}))
    out = rules.record_notes(items)
    db.session.commit()
    assert all(isinstance(r, tuple) for r in out[:12]) and isinstance(out[12], rules.Invalid)
    stored = {n.text: (n.row_id, n.horizon_id) for n in db.session.query(Note)}
    assert stored == {f"m{i}": (rows[i % 3], hz[i % 4]) for i in range(12)}


def test_results_place_visible_unmerged_milestones_by_round(app, world):
    session = db.session.get(CafeSession, world["id"])
    p = services.join(session)
    jobs, skills, homes = world["rows"]
    exploring, emerging, sustaining, systems = world["horizons"]

    def post(text, row, horizon):
        return post_note(p, {"question_id": world["grid_q"], "client_id": cid(), "text": text,
                                   "row_id": row, "horizon_id": horizon})[0]

    a = post("Job fair", jobs, exploring)
    services.start_round(session)
    b = post("job fair!", jobs, exploring)
    c = post("Apprenticeships", skills, emerging)
    d = post("Rude", homes, systems)
    services.merge(db.session.get(Note, a), [db.session.get(Note, b)], by="host:Oak")
    services.moderate(db.session.get(Note, d), "hide", by="facilitator")
    r = results(db.session.get(Question, world["grid_q"]))
    assert r["kind"] == "trajectory" and r["total"] == 2
    assert [h["name"] for h in r["horizons"]] == [n for n, _ in HORIZONS] and r["horizons"][1]["hint"] == "~ 6 – 24 months"
    assert [row["text"] for row in r["rows"]] == ROWS
    assert cell_texts(r) == {("More local jobs", "Exploring"): ["Job fair"], ("Skills for young people", "Emerging"): ["Apprenticeships"]}
    assert r["rows"][0]["cells"][0]["count"] == 1 and r["rows"][2]["cells"][3] == {"horizon_id": systems, "count": 0, "notes": []}
    assert r["rows"][1]["cells"][1]["notes"][0] == {"id": c, "text": "Apprenticeships", "table_id": None, "highlight": False}
    assert cell_texts(results(db.session.get(Question, world["grid_q"]), 1)) == {
        ("Skills for young people", "Emerging"): ["Apprenticeships"]}
    # The shown round decides what the projector gets.
    services.show_round(session, 1)
    assert live.screen_state(session, "projector")["results"]["total"] == 1


# -- moving a milestone ------------------------------------------------------------------------

def test_move_note_logs_and_checks_the_cell(app, world):
    session = db.session.get(CafeSession, world["id"])
    jobs, skills, homes = world["rows"]
    exploring, emerging, sustaining, systems = world["horizons"]
    note_id, _ = post_note(services.join(session), {"question_id": world["grid_q"], "client_id": cid(),
                                                       "text": "Hub", "row_id": jobs, "horizon_id": exploring})
    note = db.session.get(Note, note_id)
    services.move_note(note, skills, systems, by="host:Oak")
    assert (note.row_id, note.horizon_id, note.text) == (skills, systems, "Hub") and note.updated_at
    services.move_note(note, skills, systems, by="host:Oak")  # the same cell: nothing to log
    edits = db.session.query(NoteEdit).filter_by(note_id=note_id).all()
    assert [(e.action, e.by, e.text) for e in edits] == [("move", "host:Oak", "Hub")]
    assert cafe.note_data(note)["edited"] is False  # a move is not an edit of the text
    for row, horizon in ((None, exploring), (jobs, None), (999_999, exploring), (jobs, "x"), (True, exploring)):
        with pytest.raises(rules.Invalid):
            services.move_note(note, row, horizon, by="host:Oak")
    plain, _ = post_note(services.join(session), {"question_id": world["notes_q"], "client_id": cid(), "text": "x"})
    with pytest.raises(rules.Invalid, match="Only milestones on a trajectory grid can be moved."):
        services.move_note(db.session.get(Note, plain), jobs, exploring, by="host:Oak")


# -- sockets: the phone, the host, the screens ----------------------------------------------------

def ask(sock, event, data, namespace=HOST):
    return sock.emit(event, data, namespace=namespace, callback=True)


def seated_phone(app, world, table="Oak"):
    http, sock = join_phone(app, world["code"])
    assert ask(sock, "table", {"table_id": world["tables"][table]["id"]}, PHONE)["ok"]
    return sock


def test_the_phone_gets_the_grid_and_posts_into_a_cell(app, client, world):
    control = app.extensions["socketio"].test_client(app, namespace=SCREEN, flask_test_client=client,
                                   auth={"session_id": world["id"], "view": "projector"})
    phone = seated_phone(app, world)
    (state,) = events(phone, "state", PHONE)
    q = state["question"]
    assert q["kind"] == "trajectory" and q["max_length"] == 60
    assert q["rows"] == [{"id": i, "text": t} for i, t in zip(world["rows"], ROWS)]
    assert q["horizons"] == [{"id": i, "name": n, "hint": h} for i, (n, h) in zip(world["horizons"], HORIZONS)]
    control.get_received(SCREEN)
    row, horizon = world["rows"][1], world["horizons"][2]
    ack = ask(phone, "note", {"question_id": world["grid_q"], "client_id": cid(), "text": "Skills hub open",
                              "row_id": row, "horizon_id": horizon}, PHONE)
    assert ack == {"ok": True, "id": ack["id"], "status": "visible", "receipt": ack["receipt"]}
    pushed = events(control, "state", SCREEN)[-1]["results"]
    assert cell_texts(pushed) == {("Skills for young people", "Sustaining"): ["Skills hub open"]}
    # On reconnecting, the phone's own milestones come back with their cells.
    state = ask(phone, "state", {}, PHONE)["state"]
    (note,) = state["notes"][str(world["grid_q"])]
    assert (note["text"], note["row_id"], note["horizon_id"]) == ("Skills hub open", row, horizon)
    # Bad cells are refused with a message; the socket lives.
    for bad in ({}, {"row_id": row}, {"row_id": row, "horizon_id": "2"}, {"row_id": 10**30, "horizon_id": horizon},
                {"row_id": {"id": row}, "horizon_id": horizon}):
        ack = ask(phone, "note", {"question_id": world["grid_q"], "client_id": cid(), "text": "x", **bad}, PHONE)
        assert ack["ok"] is False and ack["error"] != SOCKET_ERROR and "grid" in ack["error"], (bad, ack)
        assert phone.is_connected(PHONE)
    assert db.session.query(Note).count() == 1


def test_the_phone_posts_a_milestone_over_http_too(app, world):
    http, _ = join_phone(app, world["code"])
    r = http.post(f"/j/{world['code']}/note", json={"question_id": world["grid_q"], "client_id": cid(), "text": "Via HTTP",
                                                   "row_id": world["rows"][2], "horizon_id": world["horizons"][0]})
    assert r.status_code == 200 and r.json["ok"]
    r = http.post(f"/j/{world['code']}/note", json={"question_id": world["grid_q"], "client_id": cid(), "text": "No cell"})
    assert r.status_code == 400 and "grid" in r.json["error"]


def test_a_host_sees_milestones_with_cells_and_moves_one(app, world):
    phone = seated_phone(app, world)
    ash_phone = seated_phone(app, world, "Ash")
    jobs, skills, homes = world["rows"]
    exploring, emerging, sustaining, systems = world["horizons"]
    note_id = ask(phone, "note", {"question_id": world["grid_q"], "client_id": cid(), "text": "Job fair",
                                  "row_id": jobs, "horizon_id": exploring}, PHONE)["id"]
    ash_note = ask(ash_phone, "note", {"question_id": world["grid_q"], "client_id": cid(), "text": "Ash's",
                                       "row_id": jobs, "horizon_id": exploring}, PHONE)["id"]
    oak = app.extensions["socketio"].test_client(app, namespace=HOST, auth={"token": world["tables"]["Oak"]["token"]})
    ack = ask(oak, "notes", {"question_id": world["grid_q"]})
    assert ack["ok"] and [(n["text"], n["row_id"], n["horizon_id"]) for n in ack["notes"]] == [("Job fair", jobs, exploring)]
    assert [r["id"] for r in ack["rows"]] == world["rows"] and [h["name"] for h in ack["horizons"]] == [n for n, _ in HORIZONS]
    phone.get_received(PHONE)
    ack = ask(oak, "move", {"note_id": note_id, "row_id": skills, "horizon_id": sustaining})
    assert ack["ok"] and (ack["note"]["row_id"], ack["note"]["horizon_id"]) == (skills, sustaining)
    assert ack["note"]["edited"] is False
    (edit,) = db.session.query(NoteEdit).filter_by(note_id=note_id).all()
    assert (edit.action, edit.by) == ("move", "host:Oak")
    # The author's phone hears where its milestone went.
    (heard,) = events(phone, "note", PHONE)
    assert (heard["id"], heard["row_id"], heard["horizon_id"]) == (note_id, skills, sustaining)
    # A host cannot move another table's milestone, nor into a cell of another grid.
    assert ask(oak, "move", {"note_id": ash_note, "row_id": skills, "horizon_id": sustaining}) == {
        "ok": False, "error": "That note was not found."}
    other = services.save_question(db.session.get(CafeSession, world["id"]), None, grid_data(text="Other grid"))
    assert ask(oak, "move", {"note_id": note_id, "row_id": other.rows[0].id, "horizon_id": other.horizons[0].id})["ok"] is False
    db.session.rollback()  # see what the socket handlers committed
    assert (db.session.get(Note, ash_note).row_id, db.session.get(Note, note_id).row_id) == (jobs, skills)


def test_a_host_adds_a_milestone_for_the_group(app, world):
    oak = app.extensions["socketio"].test_client(app, namespace=HOST, auth={"token": world["tables"]["Oak"]["token"]})
    payload = {"question_id": world["grid_q"], "client_id": cid(), "text": "Said aloud", "row_id": world["rows"][2],
               "horizon_id": world["horizons"][3]}
    ack = ask(oak, "add", payload)
    assert ack["ok"] and ask(oak, "add", payload)["id"] == ack["id"]
    note = db.session.get(Note, ack["id"])
    assert (note.author, note.row_id, note.horizon_id) == ("host", world["rows"][2], world["horizons"][3])
    assert ask(oak, "add", {**payload, "client_id": cid(), "horizon_id": None})["ok"] is False


BAD_MOVES = [
    None, "x", {}, {"note_id": "NID"}, {"note_id": "NID", "row_id": "ROW"},
    {"note_id": "NID", "row_id": "ROW", "horizon_id": "9"}, {"note_id": "NID", "row_id": 999_999, "horizon_id": "HZ"},
    {"note_id": 999_999, "row_id": "ROW", "horizon_id": "HZ"}, {"note_id": "PLAIN", "row_id": "ROW", "horizon_id": "HZ"},
    {"note_id": [1], "row_id": "ROW", "horizon_id": "HZ"}, {"note_id": "NID", "row_id": 2**70, "horizon_id": "HZ"},
]


def test_bad_moves_are_refused_and_the_socket_lives(app, world):
    phone = seated_phone(app, world)
    note_id = ask(phone, "note", {"question_id": world["grid_q"], "client_id": cid(), "text": "m",
                                  "row_id": world["rows"][0], "horizon_id": world["horizons"][0]}, PHONE)["id"]
    plain = ask(phone, "note", {"question_id": world["notes_q"], "client_id": cid(), "text": "p"}, PHONE)["id"]
    fill = {"NID": note_id, "PLAIN": plain, "ROW": world["rows"][1], "HZ": world["horizons"][1]}
    oak = app.extensions["socketio"].test_client(app, namespace=HOST, auth={"token": world["tables"]["Oak"]["token"]})
    for payload in BAD_MOVES:
        if isinstance(payload, dict):
            payload = {k: fill.get(v, v) if isinstance(v, str) else v for k, v in payload.items()}
        ack = ask(oak, "move", payload)
        assert ack["ok"] is False and ack["error"] and ack["error"] != SOCKET_ERROR, (payload, ack)
        assert oak.is_connected(HOST)
    db.session.rollback()  # see what the socket handlers committed
    assert db.session.get(Note, note_id).row_id == world["rows"][0]
    assert db.session.query(NoteEdit).count() == 0


def test_a_revoked_host_cannot_move(app, world):
    phone = seated_phone(app, world)
    note_id = ask(phone, "note", {"question_id": world["grid_q"], "client_id": cid(), "text": "m",
                                  "row_id": world["rows"][0], "horizon_id": world["horizons"][0]}, PHONE)["id"]
    oak = app.extensions["socketio"].test_client(app, namespace=HOST, auth={"token": world["tables"]["Oak"]["token"]})
    from consult.models import CafeTable

    services.revoke_host(db.session.get(CafeTable, world["tables"]["Oak"]["id"]))
    ack = ask(oak, "move", {"note_id": note_id, "row_id": world["rows"][1], "horizon_id": world["horizons"][1]})
    assert ack["ok"] is False and ack["revoked"] is True
    db.session.rollback()  # see what the socket handlers committed
    assert db.session.get(Note, note_id).row_id == world["rows"][0]


# -- the facilitator's pages ------------------------------------------------------------------------

def test_the_form_offers_the_notes_questions_as_rows_and_the_usual_horizons(app, client, world):
    page = client.get(f"/sessions/{world['id']}/questions/new?kind=trajectory").get_data(as_text=True)
    assert '<option selected value="trajectory">Trajectory grid</option>' in page
    assert 'data-kind="trajectory"' in page and 'data-kind="notes trajectory"' in page
    assert ">\r\nWhat does success look like?</textarea>" in page
    assert "Exploring | ~ 12 months\nEmerging | ~ 6 – 24 months\nSustaining | Ongoing\nSystems change | Ongoing" in page
    r = client.post(f"/sessions/{world['id']}/questions/new", data={
        "kind": "trajectory", "text": "Our path", "rows": "Jobs\nHomes", "horizons": "Soon | 1 year\nLater", "max_length": 100})
    assert r.status_code == 302
    q = db.session.query(Question).filter_by(text="Our path").one()
    assert [r.text for r in q.rows] == ["Jobs", "Homes"] and [(h.name, h.hint) for h in q.horizons] == [("Soon", "1 year"), ("Later", "")]
    # Editing shows this grid's own rows and horizons.
    page = client.get(f"/sessions/{world['id']}/questions/{q.id}/edit").get_data(as_text=True)
    assert ">\r\nJobs\nHomes</textarea>" in page and ">\r\nSoon | 1 year\nLater</textarea>" in page
    detail = client.get(f"/sessions/{world['id']}").get_data(as_text=True)
    assert "Trajectory grid, 2 rows × 2 time horizons" in detail and "Soon → Later" in detail
    assert "kind=trajectory" in detail


def test_the_form_explains_a_refused_edit(app, client, world):
    session = db.session.get(CafeSession, world["id"])
    post_note(services.join(session), {"question_id": world["grid_q"], "client_id": cid(), "text": "x",
                                          "row_id": world["rows"][2], "horizon_id": world["horizons"][0]})
    r = client.post(f"/sessions/{world['id']}/questions/{world['grid_q']}/edit", data={
        "kind": "trajectory", "text": "Where?", "rows": "More local jobs", "horizons": rules.horizons_text(), "max_length": 60})
    assert r.status_code == 200
    assert "The row “Affordable homes” has milestones, so it cannot be removed." in r.get_data(as_text=True)


def test_the_host_page_offers_the_grid(app, client, world):
    page = client.get(f"/host/{world['tables']['Oak']['token']}", follow_redirects=True).get_data(as_text=True)
    assert "Where could we be, and when?" in page and 'id="add-cell"' in page
    assert f'<option value="{world["grid_q"]}" selected>' in page  # the grid is on screen
    state = json.loads(page.split('<script type="application/json" id="state">')[1].split("</script>")[0])
    grid = next(q for q in state["questions"] if q["id"] == world["grid_q"])
    assert grid["kind"] == "trajectory" and [r["text"] for r in grid["rows"]] == ROWS and len(grid["horizons"]) == 4


def test_the_control_page_lists_hidden_milestones_with_their_cells(app, client, world):
    session = db.session.get(CafeSession, world["id"])
    note_id, _ = post_note(services.join(session), {"question_id": world["grid_q"], "client_id": cid(), "text": "x",
                                                       "row_id": world["rows"][1], "horizon_id": world["horizons"][2]})
    services.moderate(db.session.get(Note, note_id), "hide", by="facilitator")
    state = client.get(f"/sessions/{world['id']}/state.json?view=control").json
    assert [(n["id"], n["row_id"], n["horizon_id"]) for n in state["hidden"]] == [(note_id, world["rows"][1], world["horizons"][2])]
    assert state["results"]["kind"] == "trajectory" and state["results"]["total"] == 0
    services.control(session, "hide", world["grid_q"])
    hidden = client.get(f"/sessions/{world['id']}/state.json").json["results"]
    assert hidden == {"question_id": world["grid_q"], "kind": "trajectory", "total": 0, "hidden": True}


# -- the write-up --------------------------------------------------------------------------------------

@pytest.fixture
def written(app, world):
    """Milestones in several cells: merged, highlighted, hidden, from a host, a summary, and a formula."""
    session = db.session.get(CafeSession, world["id"])
    oak, ash = session.tables
    jobs, skills, homes = world["rows"]
    exploring, emerging, sustaining, systems = world["horizons"]

    def person(table):
        p = services.join(session)
        services.choose_table(p, table.id)
        return rules.Voter(p.id, session.id)

    a, b = person(oak), person(ash)

    def post(who, text, row, horizon):
        return post_note(who, {"question_id": world["grid_q"], "client_id": cid(), "text": text,
                                     "row_id": row, "horizon_id": horizon})[0]

    services.start_round(session)
    n = {"fair": post(a, "Job fair in the library", jobs, exploring),
         "fair2": post(b, "jobs fair", jobs, exploring),
         "hub": post(b, "Skills hub | open ગુજરાતી", skills, sustaining),
         "formula": post(a, "=SUM(1,2)", homes, systems),
         "rude": post(b, "Rude remark", homes, emerging)}
    n["host"], _ = services.host_note(oak, {"question_id": world["grid_q"], "client_id": cid(), "text": "Housing forum",
                                        "row_id": homes, "horizon_id": emerging})
    note = lambda i: db.session.get(Note, i)  # noqa: E731
    services.merge(note(n["fair"]), [note(n["fair2"])], by="host:Oak")
    services.highlight(note(n["hub"]), True)
    services.moderate(note(n["rude"]), "hide", by="facilitator")
    services.move_note(note(n["host"]), homes, sustaining, by="host:Oak")
    services.save_summary(oak, db.session.get(Question, world["grid_q"]), 1, "Housing needs a long view")
    return session, n


def test_writeup_data_has_the_grid(written):
    session, _ = written
    q = writeup(session)["questions"][1]
    assert q["kind"] == "trajectory" and q["total"] == 4 and q["highlighted"] == 1
    assert [h["name"] for h in q["horizons"]] == [n for n, _ in HORIZONS] and q["horizons"][0]["hint"] == "~ 12 months"
    grid = {row["text"]: [[m["text"] for m in cell] for cell in row["cells"]] for row in q["grid"]}
    assert grid == {
        "More local jobs": [["Job fair in the library"], [], [], []],
        "Skills for young people": [[], [], ["Skills hub | open ગુજરાતી"], []],
        "Affordable homes": [[], [], ["Housing forum"], ["=SUM(1,2)"]],
    }
    fair = q["grid"][0]["cells"][0][0]
    assert (fair["merged"], fair["table"], fair["round"]) == (1, "Oak", 1)
    assert q["grid"][2]["cells"][2][0]["host"] is True
    assert q["summaries"] == [{"table": "Oak", "round": 1, "text": "Housing needs a long view"}] and q["unplaced"] == []
    per_question = writeup(session)["participation"]["per_question"]
    assert per_question[1]["answers"] == 2


def test_html_markdown_and_csv_show_the_grid(app, written):
    session, n = written
    with app.test_request_context():
        html = render(session, "html")
    assert '<table class="grid">' in html and "Question or theme" in html
    assert '<th scope="col">Emerging ~ 6 – 24 months</th>' in html
    body = html.split('<table class="grid">')[1].split("</table>")[0]
    rows = [r for r in body.split("<tr>")[2:]]
    assert "More local jobs" in rows[0] and rows[0].count("<td>") == 4
    cells = rows[1].split("<td>")[1:]
    assert "Skills hub | open ગુજરાતી" in cells[2] and 'class="n star"' in cells[2] and cells[0].startswith("</td>")
    assert "(and 1 alike)" in rows[0] and "Rude remark" not in html and "Housing needs a long view" in html

    md = markdown(writeup(session))
    assert ("| Question or theme | Exploring \\~ 12 months | Emerging \\~ 6 – 24 months | Sustaining Ongoing | "
            "Systems change Ongoing |") in md
    assert "| More local jobs | • Job fair in the library (and 1 alike) |  |  |  |" in md
    assert "| Skills for young people |  |  | • ★ Skills hub \\| open ગુજરાતી |  |" in md
    assert "| Affordable homes |  |  | • Housing forum (host) | • =SUM(1,2) |" in md
    assert "*Host summary, Oak, round 1:* Housing needs a long view" in md
    for line in md.splitlines():
        if line.startswith("| Question or theme") or line.startswith("| More") or line.startswith("| Affordable"):
            assert line.count("|") - line.count("\\|") == 6, line

    table = list(csv.reader(io.StringIO(csv_text(session))))
    assert table[0] == RAW_COLUMNS and table[0][-4:-2] == ["row", "horizon"] and table[0][:13] == RAW_COLUMNS[:13]
    by_id = {r[RAW_COLUMNS.index("id")]: dict(zip(RAW_COLUMNS, r)) for r in table[1:]}
    assert (by_id[str(n["hub"])]["row"], by_id[str(n["hub"])]["horizon"]) == ("Skills for young people", "Sustaining")
    assert (by_id[str(n["host"])]["row"], by_id[str(n["host"])]["horizon"]) == ("Affordable homes", "Sustaining")
    assert by_id[str(n["rude"])]["status"] == "hidden" and by_id[str(n["rude"])]["horizon"] == "Emerging"
    assert by_id[str(n["formula"])]["answer"] == "'=SUM(1,2)"


def test_word_excel_and_pdf_read_back(app, written):
    import docx
    import openpyxl

    session, n = written
    with app.test_request_context():
        pdf_bytes, docx_bytes, xlsx_bytes = (render(session, f) for f in ("pdf", "docx", "xlsx"))

    document = docx.Document(io.BytesIO(docx_bytes))
    grid = next(t for t in document.tables if t.rows[0].cells[0].text == "Question or theme")
    assert [c.text for c in grid.rows[0].cells] == ["Question or theme", "Exploring ~ 12 months",
                                                    "Emerging ~ 6 – 24 months", "Sustaining Ongoing",
                                                    "Systems change Ongoing"]
    cells = {row.cells[0].text: [c.text for c in row.cells[1:]] for row in grid.rows[1:]}
    assert cells["More local jobs"] == ["• Job fair in the library (and 1 alike)", "", "", ""]
    assert cells["Skills for young people"][2] == "• ★ Skills hub | open ગુજરાતી"
    assert cells["Affordable homes"] == ["", "", "• Housing forum (host)", "• =SUM(1,2)"]
    assert any("Housing needs a long view" in p.text for p in document.paragraphs)

    book = openpyxl.load_workbook(io.BytesIO(xlsx_bytes))
    assert book.sheetnames[:4] == ["Write-up", "Raw data", "Results", "Notes"] and "Trajectory" in book.sheetnames
    sheet = list(book["Trajectory"].iter_rows(values_only=True))
    assert sheet[0][0] == "2. Where could we be, and when?"
    assert sheet[1] == ("Question or theme", "Exploring ~ 12 months", "Emerging ~ 6 – 24 months",
                        "Sustaining Ongoing", "Systems change Ongoing")
    assert sheet[4][0] == "Affordable homes" and sheet[4][3] == "• Housing forum (host)" and sheet[4][4] == "• =SUM(1,2)"
    formula = next(c for row in book["Trajectory"].iter_rows() for c in row if c.value == "• =SUM(1,2)")
    assert formula.data_type == "s" and formula.alignment.wrap_text
    raw = list(book["Raw data"].iter_rows(values_only=True))
    assert raw[0][-4:-2] == ("row", "horizon")
    hub = next(r for r in raw if r[RAW_COLUMNS.index("id")] == n["hub"])
    assert hub[-4:-2] == ("Skills for young people", "Sustaining")

    flat = pdf_text(pdf_bytes)
    for expected in ("Question or theme", "Exploring", "~ 12 months", "Systems change", "Job fair in the library",
                     "Skills hub | open", "ગુજરાતી", "Housing forum", "Housing needs a long view"):
        assert expected in flat, expected
    assert "Rude remark" not in flat


def test_json_round_trip_keeps_the_grid_and_the_cells(app, written, facilitator):
    session, _ = written
    data = json.loads(json.dumps(export(session)))
    q = data["questions"][1]
    assert q["rows"] == ROWS and q["horizons"][0] == {"name": "Exploring", "hint": "~ 12 months"}
    assert data["questions"][0]["rows"] == [] and data["questions"][0]["horizons"] == []
    hub = next(m for m in data["notes"] if m["text"].startswith("Skills hub"))
    assert (hub["row"], hub["horizon"]) == (1, 2)
    moved = next(m for m in data["notes"] if m["text"] == "Housing forum")
    assert (moved["row"], moved["horizon"]) == (2, 2) and moved["edits"][0]["action"] == "move"
    copy = import_session(data, facilitator)
    assert markdown(writeup(copy)) == markdown(writeup(session))
    assert writeup(copy)["questions"][1]["grid"] == writeup(session)["questions"][1]["grid"]
    assert export(copy) == data
    # A damaged cell reference is refused, and leaves nothing behind.
    before = db.session.query(CafeSession).count()
    for bad in (9, -1, "1", True):
        broken = json.loads(json.dumps(data))
        broken["notes"][0]["row"] = bad
        with pytest.raises(rules.Invalid, match="damaged"):
            import_session(broken, facilitator)
    assert db.session.query(CafeSession).count() == before
    # A file from before grids (no rows, horizons or cells) still imports.
    for question in data["questions"]:
        question.pop("rows"), question.pop("horizons")
    for note in data["notes"]:
        note.pop("row"), note.pop("horizon")
    data["questions"][1]["kind"] = "notes"
    assert import_session(data, facilitator).questions[1].rows == []
