"""Socket events of the phone page (namespace /phone)."""
from flask import request
from flask_socketio import ConnectionRefusedError, join_room

from .. import live, rules
from ..cafe import choose_table
from ..batch import writer
from ..extensions import db, socketio
from ..models import Participant
from .routes import add_dot, participant_or_none, recorded_note, take_back_dot

NS = live.PHONE_NS
_phones = {}  # sid -> rules.Voter: who answers on this socket


@socketio.on("connect", namespace=NS)
def connect(auth):
    code = auth.get("code") if isinstance(auth, dict) else None
    cafe, participant = participant_or_none(code)
    if cafe is None:
        raise ConnectionRefusedError("There is no session with that code.")
    if participant is None:
        raise ConnectionRefusedError("Open the join link again to take part.")
    join_room(live.phones_room(cafe.id))
    join_room(live.participant_room(participant.id))  # news of this phone's own notes (approved, hidden)
    # No connection-state recovery in Socket.IO: every (re)connect gets the whole picture.
    socketio.emit("state", live.phone_state(participant), to=request.sid, namespace=NS)
    _phones[request.sid] = rules.Voter(participant.id, cafe.id)
    live.presence.joined(cafe.id, request.sid)
    live.touch(cafe.id)


@socketio.on("disconnect", namespace=NS)
def disconnect(*_):
    where = _phones.pop(request.sid, None)
    if where:
        live.presence.left(request.sid)
        live.touch(where.session_id)


def _participant():
    who = _phones.get(request.sid)
    return db.session.get(Participant, who.id) if who else None


def _answer(record, data):
    who = _phones.get(request.sid)
    if who is None:
        return {"ok": False, "error": "Open the join link again to take part."}
    try:
        item_id, changed = writer.submit(record, who, data)
    except rules.Invalid as error:
        return {"ok": False, "error": str(error)}
    live.touch(who.session_id)
    if record == "record_notes":
        return recorded_note(item_id, changed)
    return {"ok": True, "id": item_id}


@socketio.on("vote", namespace=NS)
def vote(data):
    """{question_id, client_id, choices: [option ids]} or {..., value: n} for a scale."""
    return _answer("record_votes", data)


@socketio.on("note", namespace=NS)
def note(data):
    """{question_id, client_id, text}."""
    return _answer("record_notes", data)


@socketio.on("dot", namespace=NS)
def dot(data):
    """{question_id, note_id, client_id}: place a dot; a retry with the same client_id places nothing.

    The ack: {ok, id, placed, mine: [this phone's dots on the question]} or {ok: false, error, mine}.
    """
    who = _phones.get(request.sid)
    if who is None:
        return {"ok": False, "error": "Open the join link again to take part."}
    return add_dot(who, data)


@socketio.on("undot", namespace=NS)
def undot(data):
    """{question_id, dot_id} takes that dot back (again: nothing changes); {question_id, note_id} the latest on it."""
    who = _phones.get(request.sid)
    if who is None:
        return {"ok": False, "error": "Open the join link again to take part."}
    return take_back_dot(who, data)


@socketio.on("table", namespace=NS)
def table(data):
    """{table_id}: move to another table (null: none); later answers record it."""
    participant = _participant()
    if participant is None:
        return {"ok": False, "error": "Open the join link again to take part."}
    # A missing table_id is malformed, not "no table": only an explicit null leaves the table.
    table_id = data.get("table_id", "?") if isinstance(data, dict) else "?"
    try:
        table_id = choose_table(participant, table_id)
    except rules.Invalid as error:
        return {"ok": False, "error": str(error)}
    live.touch(participant.session_id)
    return {"ok": True, "table_id": table_id}


@socketio.on("state", namespace=NS)
def state(*_):
    participant = _participant()
    if participant is None:
        return {"ok": False, "error": "Open the join link again to take part."}
    return {"ok": True, "state": live.phone_state(participant)}


@socketio.on("*", namespace=NS)
def unknown(event, *_):
    return {"ok": False, "error": f"Unknown request {str(event)[:40]!r}: please reload the page."}
