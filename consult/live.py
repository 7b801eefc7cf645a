"""What phones and screens see, and pushing it to them over Socket.IO.

Votes do not fan out to phones. Each vote marks its session dirty; a background
task flushes dirty sessions a few times a second to the control page and the
projector, so a burst of votes becomes a few messages rather than one per vote.
"""
import json
import time

from flask import current_app
from sqlalchemy import func, select

from . import dots, shared
from .extensions import db, socketio
from .models import CafeSession, Note, Participant, Vote
from .pictures import picture_data
from .results import hidden, results

PHONE_NS = "/phone"
FACILITATOR_NS = "/facilitator"
HOST_NS = "/host"

presence = shared.Local()  # replaced in init_app: who is connected, across processes
_dirty = {}  # session id -> time.monotonic() of its latest change not yet pushed
_loop_started = False
REFRESH_EVERY = 30  # seconds between renewals of this process's presence


def init_app(app):
    global presence
    presence = shared.make(app.config["CONSULT_MESSAGE_QUEUE"], app.config["CONSULT_CHANNEL"])


def phones_room(session_id):
    return f"phones:{session_id}"


def screen_room(session_id, view):
    return f"{view}:{session_id}"


def host_room(table_id):
    return f"host:{table_id}"


def participant_room(participant_id):
    """The sockets of one phone: news of its own notes reaches it and no other."""
    return f"participant:{participant_id}"


def tables_data(session):
    return [{"id": t.id, "name": t.name} for t in session.tables]


def question_data(question):
    """A question as a phone needs it to answer."""
    if question is None:
        return None
    data = {"id": question.id, "kind": question.kind, "text": question.text, "is_open": question.is_open}
    data.update(picture_data(question))  # "image" (its URL) and "image_alt", when it has a picture
    if question.kind in ("choice", "yesno"):
        data["multiple"] = question.multiple
        data["options"] = [{"id": o.id, "text": o.text, **picture_data(o)} for o in question.options]
    elif question.kind == "scale":
        data.update(
            scale_min=question.scale_min, scale_max=question.scale_max,
            min_label=question.min_label, max_label=question.max_label,
        )
    else:
        data["max_length"] = question.max_length
        if question.kind == "trajectory":
            data["rows"] = [{"id": r.id, "text": r.text} for r in question.rows]
            data["horizons"] = [{"id": h.id, "name": h.name, "hint": h.hint} for h in question.horizons]
    if question.kind == "notes":  # dot-voting: dots each (0: never opened) and whether it is open now
        data.update(dots=question.dots, dots_open=question.dots_open)
    return data


def cell(note):
    """A trajectory milestone's grid cell, for its author's phone; nothing for a plain note."""
    if note.horizon_id is None:
        return {}
    return {"row_id": note.row_id, "horizon_id": note.horizon_id}


def phone_state(participant):
    """Everything a phone needs after (re)connecting: the current question and its own answers."""
    session = participant.session
    answers = {}
    for vote in db.session.scalars(select(Vote).filter_by(participant_id=participant.id)):
        answers[vote.question_id] = {
            "choices": sorted(c.option_id for c in vote.choices),
            "value": vote.value,
            "client_id": vote.client_id,
        }
    notes = {}
    for note in db.session.scalars(select(Note).filter_by(participant_id=participant.id).order_by(Note.id)):
        notes.setdefault(note.question_id, []).append(
            {"id": note.id, "text": note.text, "client_id": note.client_id, "status": note.status, **cell(note)}
        )
    return {
        "session": {"title": session.title, "code": session.join_code, "round": session.current_round},
        "question": question_data(session.current_question),
        "tables": tables_data(session),
        "table_id": participant.table_id,
        "answers": answers,
        "notes": notes,
        # Dot-voting: the notes to put dots on (while it is open on the current question), and this phone's dots.
        "dots": dot_list(session.current_question, participant.id),
        "my_dots": dots.all_mine(participant.id),
    }


def _screen_common(session):
    """What both screens show, and the current results: worked out once per push, not per view."""
    current = session.current_question
    state = {
        "session_id": session.id,
        "joined": db.session.scalar(select(func.count(Participant.id)).filter_by(session_id=session.id)),
        "connected": presence.connected(session.id),
        "current": question_data(current),
        "revealed": bool(current and current.revealed),
        "round": session.current_round,
        "shown_round": session.shown_round,
        "tables": tables_data(session),
    }
    return state, results(current, session.shown_round) if current is not None else None


def screen_state(session, view, common=None):
    """What the control page (everything) or the projector (respecting 'reveal') shows.

    common: _screen_common(session), when the caller pushes both views at once.
    """
    base, result = common or _screen_common(session)
    state = dict(base)
    current = session.current_question
    if result is not None:
        state["results"] = result if (view == "control" or current.revealed) else hidden(result)
    if view == "control":
        from .cafe import review_queue, seated

        state["questions"] = [
            {"id": q.id, "is_open": q.is_open, "revealed": q.revealed, "current": q is current,
             "kind": q.kind, "dots": q.dots, "dots_open": q.dots_open}
            for q in session.questions
        ]
        state["seated"] = seated(session)
        state["review"] = review_queue(session)
        state["moderation"] = session.moderation
        state["hidden"] = hidden_notes(current)
    return state


HIDDEN_SHOWN = 200


def hidden_notes(question):
    """The hidden notes of a notes question, newest first, for the control page to restore."""
    if question is None or question.kind not in ("notes", "trajectory"):
        return []
    rows = db.session.execute(
        select(Note.id, Note.text, Note.table_id, Note.round, Note.author, Note.row_id, Note.horizon_id)
        .filter_by(question_id=question.id, status="hidden").order_by(Note.id.desc()).limit(HIDDEN_SHOWN)
    ).all()
    return [{"id": i, "text": t, "question_id": question.id, "table_id": tid, "round": r, "author": a, "status": "hidden",
             "row_id": row, "horizon_id": hz}
            for i, t, tid, r, a, row, hz in rows]


def touch(session_id):
    """Note that a session's results changed; screens hear of it within one interval."""
    interval = current_app.config["CONSULT_BROADCAST_INTERVAL"]
    if interval <= 0:
        flush_session(session_id)
        return
    _dirty[session_id] = time.monotonic()
    global _loop_started
    if not _loop_started:
        _loop_started = True
        socketio.start_background_task(_loop, current_app._get_current_object(), interval)


def _loop(app, interval):
    refreshed = time.monotonic()
    while True:
        socketio.sleep(interval)
        try:
            with app.app_context():
                flush(interval)
                if time.monotonic() - refreshed > REFRESH_EVERY:
                    presence.refresh()
                    refreshed = time.monotonic()
        except Exception:  # a bad moment must not stop live updates for the rest of the event
            app.logger.exception("live update failed")


def flush(interval=0):
    for session_id, changed in list(_dirty.items()):
        claim = presence.may_flush(session_id, interval, changed)
        if claim is False:
            continue  # another process pushes this interval; try again next time
        if _dirty.get(session_id) == changed:
            del _dirty[session_id]
        if claim:
            flush_session(session_id)


def flush_session(session_id):
    session = db.session.get(CafeSession, session_id)
    if session is None:
        return
    common = _screen_common(session)
    for view in ("control", "projector"):
        state = screen_state(session, view, common)
        socketio.emit("state", state, to=screen_room(session_id, view), namespace=FACILITATOR_NS)
    push_dots(session)


def table_changed(table_id, question_id):
    """A note of a table changed: its host's screen fetches the notes again."""
    if table_id is not None:
        socketio.emit("changed", {"question_id": question_id}, to=host_room(table_id), namespace=HOST_NS)


def note_changed(note):
    """A note was approved, hidden, restored or corrected: its author's phone shows it now ("note")."""
    if note.participant_id is not None:
        socketio.emit("note", {"id": note.id, "question_id": note.question_id, "text": note.text, "status": note.status,
                               **cell(note)},
                      to=participant_room(note.participant_id), namespace=PHONE_NS)


def announce(session):
    """The facilitator changed what is shown: tell every phone and screen now."""
    push_dots(session)  # first: a phone shown a question with dot-voting open has its notes to hand
    socketio.emit("question", question_data(session.current_question), to=phones_room(session.id), namespace=PHONE_NS)
    touch(session.id)


# -- dot-voting ---------------------------------------------------------------------

_dot_lists = {}  # session id -> the dot list its phones were sent last (as JSON), so a list goes once


def dot_list(question, participant_id=None):
    """The notes phones put dots on, while dot-voting is open on question (else None).

    For one participant's phone, with how many dots they have left ("left").
    """
    if question is None or question.kind != "notes" or not question.dots_open:
        return None
    data = dots.phone_list(question)
    if participant_id is not None:
        data["left"] = dots.left_for(participant_id, question)
    return data


def push_dots(session, force=False):
    """Send phones the dot list ("dots") when it changed: dot-voting opened, or a note came, went or merged.

    Phones never hear of other people's dots, so placing one sends them nothing.
    """
    data = dot_list(session.current_question)
    sig = json.dumps(data, sort_keys=True)
    if data is None or (not force and _dot_lists.get(session.id) == sig):
        _dot_lists[session.id] = sig
        return
    _dot_lists[session.id] = sig
    socketio.emit("dots", data, to=phones_room(session.id), namespace=PHONE_NS)


def announce_dots(session, question):
    """Dot-voting opened or closed on question: phones hear it ("dots", then "question"), screens too."""
    if not question.dots_open:
        socketio.emit("dots", dots.phone_list(question), to=phones_room(session.id), namespace=PHONE_NS)
    push_dots(session, force=True)
    announce(session)


def announce_round(session):
    """A round started: phones and table hosts hear its number now ("round" {round}), screens too."""
    data = {"round": session.current_round}
    socketio.emit("round", data, to=phones_room(session.id), namespace=PHONE_NS)
    for table in session.tables:
        socketio.emit("round", data, to=host_room(table.id), namespace=HOST_NS)
    announce(session)


def announce_tables(session):
    """The tables changed (added, renamed, removed): phones get the new list ("tables" [...]) now."""
    socketio.emit("tables", tables_data(session), to=phones_room(session.id), namespace=PHONE_NS)
    touch(session.id)
