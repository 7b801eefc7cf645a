"""Socket events of the phone page (namespace /phone)."""
from flask import request
from flask_socketio import ConnectionRefusedError, join_room

from .. import live, rules
from ..batch import writer
from ..extensions import db, socketio
from ..models import Participant
from .routes import participant_or_none

NS = live.PHONE_NS
_phones = {}  # sid -> (session id, participant id)


@socketio.on("connect", namespace=NS)
def connect(auth):
    code = auth.get("code") if isinstance(auth, dict) else None
    cafe, participant = participant_or_none(code)
    if cafe is None:
        raise ConnectionRefusedError("There is no session with that code.")
    if participant is None:
        raise ConnectionRefusedError("Open the join link again to take part.")
    join_room(live.phones_room(cafe.id))
    # No connection-state recovery in Socket.IO: every (re)connect gets the whole picture.
    socketio.emit("state", live.phone_state(participant), to=request.sid, namespace=NS)
    _phones[request.sid] = (cafe.id, participant.id)
    live.presence.joined(cafe.id, request.sid)
    live.touch(cafe.id)


@socketio.on("disconnect", namespace=NS)
def disconnect(*_):
    where = _phones.pop(request.sid, None)
    if where:
        live.presence.left(request.sid)
        live.touch(where[0])


def _participant():
    where = _phones.get(request.sid)
    return db.session.get(Participant, where[1]) if where else None


def _answer(record, data):
    where = _phones.get(request.sid)
    if where is None:
        return {"ok": False, "error": "Open the join link again to take part."}
    session_id, participant_id = where
    try:
        item_id, _ = writer.submit(record, rules.Voter(participant_id, session_id), data)
    except rules.Invalid as error:
        return {"ok": False, "error": str(error)}
    live.touch(session_id)
    return {"ok": True, "id": item_id}


@socketio.on("vote", namespace=NS)
def vote(data):
    """{question_id, client_id, choices: [option ids]} or {..., value: n} for a scale."""
    return _answer("record_votes", data)


@socketio.on("note", namespace=NS)
def note(data):
    """{question_id, client_id, text}."""
    return _answer("record_notes", data)


@socketio.on("state", namespace=NS)
def state(*_):
    participant = _participant()
    if participant is None:
        return {"ok": False, "error": "Open the join link again to take part."}
    return {"ok": True, "state": live.phone_state(participant)}


@socketio.on("*", namespace=NS)
def unknown(event, *_):
    return {"ok": False, "error": f"Unknown request {str(event)[:40]!r}: please reload the page."}
