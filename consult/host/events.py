"""Socket events of the host view (namespace /host).

A host's socket is authorised by the table's secret token, and the token is checked again
on every event: once the facilitator replaces it (services.revoke_host), the old link can
neither read nor change anything, even on a socket that connected before.
"""
import functools

from flask import request
from flask_socketio import ConnectionRefusedError, join_room

from .. import cafe, live, rules, services
from ..rules import MALFORMED, NOTE_KINDS, Invalid
from ..sockets import Events

sockets = Events(live.HOST_NS)
MAX_MERGE = 100  # notes merged at once


@sockets.on("connect")
def connect(auth):
    token = auth.get("token") if isinstance(auth, dict) else None
    table = cafe.host_table(token)
    if table is None:
        raise ConnectionRefusedError(live.REVOKED)
    live.hub().hosts[request.sid] = (token, table.id)
    join_room(live.host_room(table.id))


@sockets.on("disconnect")
def disconnect(*_):
    live.hub().hosts.pop(request.sid, None)


def _table():
    """This socket's table, if its token still opens it; None once revoked."""
    who = live.hub().hosts.get(request.sid)
    if who is None:
        return None
    token, table_id = who
    table = cafe.host_table(token)
    return table if table is not None and table.id == table_id else None


def _by(table):
    return f"host:{table.name}"


def host_event(name):
    """A host event: checks the token, that data is an object, and turns Invalid into an error ack."""

    def register(handler):
        @sockets.on(name)
        @functools.wraps(handler)
        def wrapper(data=None):  # none at all: refused as malformed, after the token (a revoked link hears so first)
            table = _table()
            if table is None:
                return {"ok": False, "error": live.REVOKED, "revoked": True}
            if not isinstance(data, dict):
                return {"ok": False, "error": MALFORMED}
            try:
                return handler(table, data)
            except Invalid as error:
                return {"ok": False, "error": str(error)}

        return wrapper

    return register


def _note(table, note_id):
    return cafe.note_in(table.session, note_id, table=table)


def _question(table, data):
    return rules.question_in(table.session_id, data.get("question_id"), kinds=NOTE_KINDS)


def _round(data):
    """The round a request names: 0 (or none) for all rounds."""
    return rules.round_number(data.get("round"), everything=True, digits=False)


@host_event("notes")
def notes(table, data):
    """{question_id, round?}: the table's notes on a question (round 0 or absent: all rounds)."""
    return {"ok": True, **live.table_view(table, _question(table, data), _round(data))}


@host_event("add")
def add(table, data):
    """{question_id, client_id, text}: a note for the group; a retry with the same client_id adds nothing."""
    note_id, _ = services.host_note(table, data)
    return {"ok": True, "id": note_id, "round": table.session.current_round}


@host_event("edit")
def edit(table, data):
    """{note_id, text}: correct a note; the earlier text is kept."""
    note = services.edit_note(_note(table, data.get("note_id")), data.get("text"), by=_by(table))
    return {"ok": True, "note": cafe.note_data(note)}


@host_event("moderate")
def moderate(table, data):
    """{note_id, action: hide|restore|approve}."""
    note = services.moderate(_note(table, data.get("note_id")), data.get("action"), by=_by(table))
    return {"ok": True, "note": cafe.note_data(note)}


@host_event("highlight")
def highlight(table, data):
    """{note_id, on: true|false}."""
    note = services.highlight(_note(table, data.get("note_id")), data.get("on"), by=_by(table))
    return {"ok": True, "note": cafe.note_data(note)}


@host_event("move")
def move(table, data):
    """{note_id, row_id, horizon_id}: move a milestone to another cell of its trajectory grid."""
    note = _note(table, data.get("note_id"))
    services.move_note(note, data.get("row_id"), data.get("horizon_id"), by=_by(table))
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
    services.merge(target, sources, by=_by(table))
    return {"ok": True, "note": cafe.note_data(target)}


@host_event("unmerge")
def unmerge(table, data):
    """{note_id}: show a merged note on its own again."""
    note = services.unmerge(_note(table, data.get("note_id")), by=_by(table))
    return {"ok": True, "note": cafe.note_data(note)}


@host_event("summary")
def summary(table, data):
    """{question_id, round, text}: the host's summary of a question, for one round (or all: 0)."""
    saved = services.save_summary(table, _question(table, data), _round(data), data.get("text"))
    return {"ok": True, "summary": saved.text, "at": saved.updated_at.isoformat() + "Z"}


@sockets.on("*")
def unknown(event, *_):
    return {"ok": False, "error": f"Unknown request {str(event)[:40]!r}: please reload the page."}
