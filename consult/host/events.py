"""Socket events of the host view (namespace /host).

A host's socket is authorised by the table's secret token, and the token is checked again
on every event: once the facilitator replaces it (cafe.revoke_host), the old link can
neither read nor change anything, even on a socket that connected before.
"""
import functools

from flask import request
from flask_socketio import ConnectionRefusedError, join_room

from .. import cafe, live
from ..extensions import db, socketio
from ..rules import MALFORMED, Invalid
from .routes import question_for, round_of, table_view

NS = live.HOST_NS
# The page opened with a good link, so a token that stops working was replaced (or its table removed).
REVOKED = "The facilitator has replaced this host link (or removed the table). Ask them for the new link."
MAX_MERGE = 100  # notes merged at once
_hosts = {}  # sid -> (token, table id): which table this socket hosts, with the token it proved


def end_host(table_id):
    """Tell the host screens of a table their link was revoked, and stop pushing to them.

    Call it after cafe.revoke_host(table). The screens show a message and disconnect; a
    screen that does not is refused on its next event anyway.
    """
    room = live.host_room(table_id)
    socketio.emit("revoked", {"message": REVOKED}, to=room, namespace=NS)
    socketio.close_room(room, namespace=NS)


@socketio.on("connect", namespace=NS)
def connect(auth):
    token = auth.get("token") if isinstance(auth, dict) else None
    table = cafe.host_table(token)
    if table is None:
        raise ConnectionRefusedError(REVOKED)
    _hosts[request.sid] = (token, table.id)
    join_room(live.host_room(table.id))


@socketio.on("disconnect", namespace=NS)
def disconnect(*_):
    _hosts.pop(request.sid, None)


def _table():
    """This socket's table, if its token still opens it; None once revoked."""
    who = _hosts.get(request.sid)
    if who is None:
        return None
    token, table_id = who
    table = cafe.host_table(token)
    return table if table is not None and table.id == table_id else None


def _by(table):
    return f"host:{table.name}"


def _changed(table, question_id):
    live.touch(table.session_id)
    live.table_changed(table.id, question_id)


def host_event(name):
    """A host event: checks the token, that data is an object, and turns Invalid into an error ack."""

    def register(handler):
        @functools.wraps(handler)
        def wrapper(*args):
            table = _table()
            if table is None:
                return {"ok": False, "error": REVOKED, "revoked": True}
            data = args[0] if args else None
            if not isinstance(data, dict):
                return {"ok": False, "error": MALFORMED}
            try:
                return handler(table, data)
            except Invalid as error:
                db.session.rollback()
                return {"ok": False, "error": str(error)}

        socketio.on(name, namespace=NS)(wrapper)
        return wrapper

    return register


def _note(table, note_id):
    return cafe.note_in(table.session, note_id, table=table)


@host_event("notes")
def notes(table, data):
    """{question_id, round?}: the table's notes on a question (round 0 or absent: all rounds)."""
    question = question_for(table, data.get("question_id"))
    return {"ok": True, **table_view(table, question, round_of(data.get("round")))}


@host_event("add")
def add(table, data):
    """{question_id, client_id, text}: a note for the group; a retry with the same client_id adds nothing."""
    note_id, created = cafe.host_note(table, data)
    if created:
        _changed(table, data["question_id"])
    return {"ok": True, "id": note_id, "round": table.session.current_round}


@host_event("edit")
def edit(table, data):
    """{note_id, text}: correct a note; the earlier text is kept."""
    note = _note(table, data.get("note_id"))
    cafe.edit_note(note, data.get("text"), by=_by(table))
    _changed(table, note.question_id)
    return {"ok": True, "note": cafe.note_data(note)}


@host_event("moderate")
def moderate(table, data):
    """{note_id, action: hide|restore|approve}."""
    note = _note(table, data.get("note_id"))
    cafe.moderate(note, data.get("action"), by=_by(table))
    _changed(table, note.question_id)
    return {"ok": True, "note": cafe.note_data(note)}


@host_event("highlight")
def highlight(table, data):
    """{note_id, on: true|false}."""
    note = _note(table, data.get("note_id"))
    on = data.get("on")
    if not isinstance(on, bool):
        raise Invalid(MALFORMED)
    cafe.highlight(note, on)
    _changed(table, note.question_id)
    return {"ok": True, "note": cafe.note_data(note)}


@host_event("move")
def move(table, data):
    """{note_id, row_id, horizon_id}: move a milestone to another cell of its trajectory grid."""
    note = _note(table, data.get("note_id"))
    cafe.move_note(note, data.get("row_id"), data.get("horizon_id"), by=_by(table))
    _changed(table, note.question_id)
    live.note_changed(note)  # its author's phone shows it in the new cell
    return {"ok": True, "note": cafe.note_data(note)}


@host_event("merge")
def merge(table, data):
    """{target_id, source_ids: [note ids]}: show the sources as part of the target; all are kept."""
    target = _note(table, data.get("target_id"))
    source_ids = data.get("source_ids")
    if not isinstance(source_ids, list) or not 1 <= len(source_ids) <= MAX_MERGE:
        raise Invalid("Choose the notes to merge first.")
    sources = []
    for source_id in source_ids:
        source = _note(table, source_id)
        if source not in sources:
            sources.append(source)
    cafe.merge(target, sources, by=_by(table))
    _changed(table, target.question_id)
    return {"ok": True, "note": cafe.note_data(target)}


@host_event("unmerge")
def unmerge(table, data):
    """{note_id}: show a merged note on its own again."""
    note = _note(table, data.get("note_id"))
    cafe.unmerge(note, by=_by(table))
    _changed(table, note.question_id)
    return {"ok": True, "note": cafe.note_data(note)}


@host_event("summary")
def summary(table, data):
    """{question_id, round, text}: the host's summary of a question, for one round (or all: 0)."""
    question = question_for(table, data.get("question_id"))
    saved = cafe.save_summary(table, question, round_of(data.get("round")), data.get("text"))
    _changed(table, question.id)
    return {"ok": True, "summary": saved.text, "at": saved.updated_at.isoformat() + "Z"}


@socketio.on("*", namespace=NS)
def unknown(event, *_):
    return {"ok": False, "error": f"Unknown request {str(event)[:40]!r}: please reload the page."}
