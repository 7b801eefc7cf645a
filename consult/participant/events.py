"""Socket events of the phone page (namespace /phone)."""
from flask import current_app, request
from flask_socketio import ConnectionRefusedError, join_room

from .. import device, limits, live, rules, services
from ..extensions import db
from ..models import CafeSession, Participant
from ..sockets import Events
from .tokens import phone

sockets = Events(live.PHONE_NS)
REJOIN = {"ok": False, "error": "Open the join link again to take part."}


@sockets.on("connect")
def connect(auth):
    code = auth.get("code") if isinstance(auth, dict) else None
    if not limits.may_guess():
        raise ConnectionRefusedError(limits.WRONG_CODES + ".")
    cafe, participant, who = phone(code)
    if cafe is None:
        limits.missed()
        raise ConnectionRefusedError("There is no session with that code.")
    if who is None:
        raise ConnectionRefusedError("Open the join link again to take part.")
    # One phone, a few tabs: not thousands of sockets on one cookie.
    if not limits.open_socket(request.sid, device.current() or who.token):
        raise ConnectionRefusedError(limits.TOO_MANY_SOCKETS)
    try:
        _connect(cafe, participant, who)
    except BaseException:
        limits.close_socket(request.sid)
        raise


def _connect(cafe, participant, who):
    hub = live.hub()
    join_room(live.phones_room(cafe.id))
    if who.id is not None:
        join_room(live.participant_room(who.id))  # news of this phone's own notes (approved, hidden)
    else:
        # No participant until its first answer or table: then live.enrolled puts it in that room.
        hub.waiting.setdefault(who.token, set()).add(request.sid)
    # No connection-state recovery in Socket.IO: every (re)connect gets the whole picture.
    hub.emit("state", live.phone_state(cafe, participant), request.sid, live.PHONE_NS)
    hub.phones[request.sid] = who
    hub.presence.joined(cafe.id, request.sid)
    live.touch(cafe.id)


@sockets.on("disconnect")
def disconnect(*_):
    limits.close_socket(request.sid)
    hub = live.hub()
    who = hub.phones.pop(request.sid, None)
    if who:
        waiting = hub.waiting.get(who.token)
        if waiting is not None:
            waiting.discard(request.sid)
            if not waiting:
                del hub.waiting[who.token]
        hub.presence.left(request.sid)
        live.touch(who.session_id)


def _who():
    return live.hub().phones.get(request.sid)


def _participant():
    """(session, participant or None) of this socket's phone; (None, None) if it has none."""
    who = _who()
    if who is None:
        return None, None
    return db.session.get(CafeSession, who.session_id), db.session.get(Participant, who.id) if who.id else None


def _queue(app, kind, sid, args, reply):
    """Hand an answer to the writer, which acks it once committed (services.answered says how)."""
    hub = app.extensions["consult"]
    who = hub.phones.get(sid)
    if who is None:
        reply(REJOIN)
    elif len(args) != 1:
        reply({"ok": False, "error": rules.MALFORMED})
    else:
        refusal = limits.answer(app, kind, who)
        if refusal:
            reply(refusal)
        else:
            hub.writer.submit(kind, who, args[0], reply)


@sockets.queued("vote")
def vote(app, sid, args, reply):
    """{question_id, client_id, choices: [option ids]} or {..., value: n} for a scale."""
    _queue(app, "vote", sid, args, reply)


@sockets.queued("note")
def note(app, sid, args, reply):
    """{question_id, client_id, text}: the ack says the note's status (visible, pending, held)."""
    _queue(app, "note", sid, args, reply)


@sockets.queued("dot")
def dot(app, sid, args, reply):
    """{question_id, note_id, client_id}: place a dot; a retry with the same client_id places nothing.

    The ack: {ok, id, placed, mine: [this phone's dots on the question], left} or {ok: false, error, mine, left}.
    """
    _queue(app, "dot", sid, args, reply)


@sockets.on("undot")
def undot(data):
    """{question_id, dot_id} takes that dot back (again: nothing changes); {question_id, note_id} the latest on it."""
    who = _who()
    if who is None:
        return REJOIN
    return limits.answer(current_app._get_current_object(), "dot", who) or services.take_back_dot(who, data)


@sockets.on("table")
def table(data):
    """{table_id}: move to another table (null: none); later answers record it."""
    who = _who()
    cafe = db.session.get(CafeSession, who.session_id) if who else None
    if cafe is None:
        return REJOIN
    # A missing table_id is malformed, not "no table": only an explicit null leaves the table.
    table_id = data.get("table_id", "?") if isinstance(data, dict) else "?"
    refusal = limits.answer(current_app._get_current_object(), "table", who)
    if refusal:
        return refusal
    try:
        _, table_id = services.seat(cafe, who, table_id)
    except rules.Invalid as error:
        return {"ok": False, "error": str(error)}
    return {"ok": True, "table_id": table_id}


@sockets.on("state")
def state(*_):
    cafe, participant = _participant()
    if cafe is None:
        return REJOIN
    return {"ok": True, "state": live.phone_state(cafe, participant)}


@sockets.on("*")
def unknown(event, *_):
    return {"ok": False, "error": f"Unknown request {str(event)[:40]!r}: please reload the page."}
