"""What phones, hosts and screens see, and pushing it to them over Socket.IO.

Live state belongs to the app, not to this module: app.extensions["consult"] is a Live that
holds which socket is whose, who is connected (shared.py: in memory, or in Redis across
processes), which sessions have changes not yet pushed, and the group-commit writer. Two apps
in one process share none of it.

Votes do not fan out to phones. Each answer marks its session dirty; a background task flushes
dirty sessions a few times a second to the control page and the projector, so a burst of votes
becomes a few messages rather than one per vote. consult.services calls the functions here
after its commit, so nobody hears of a change that was not stored.
"""
import json
import time

from flask import current_app
from sqlalchemy import func, select

from . import audit, cafe, dots, shared
from .batch import Writer
from .extensions import db
from .models import CafeSession, CafeTable, HostSummary, Note, Participant, Vote
from .pictures import picture_data
from .results import hidden, results

PHONE_NS = "/phone"
FACILITATOR_NS = "/facilitator"
HOST_NS = "/host"
REFRESH_EVERY = 30  # seconds between renewals of this process's presence
# The host page opened with a good link, so a token that stops working was replaced (or its table removed).
REVOKED = "The facilitator has replaced this host link (or removed the table). Ask them for the new link."


class Live:
    """One app's live state. Socket handlers and services reach it with hub()."""

    def __init__(self, app, socketio, answered):
        self.socketio = socketio
        self.presence = shared.make(app.config["CONSULT_MESSAGE_QUEUE"], app.config["CONSULT_CHANNEL"])
        self.phones = {}  # sid -> rules.Voter: who answers on this socket
        self.waiting = {}  # participant token -> sids of phones whose participant is not made yet (enrolled)
        self.screens = {}  # sid -> (session id, "control" or "projector")
        self.hosts = {}  # sid -> (token, table id): the table this socket hosts, with the token it proved
        self.accounts = {}  # sid -> (facilitator id, session token): whose screen this socket is, as signed in
        self.watching = False  # whether this process checks its screens' accounts (facilitator/events.py)
        self.dirty = {}  # session id -> time.monotonic() of its latest change not yet pushed
        self.dot_lists = {}  # session id -> the dot list its phones were sent last (JSON), so a list goes once
        self.writer = Writer(app, socketio, answered)  # answered: services.answered, the acks after a commit
        self.looping = False
        self.resyncing = self.resync_again = False

    def emit(self, event, data, room, namespace):
        self.socketio.emit(event, data, to=room, namespace=namespace)


def init_app(app, socketio, answered):
    app.extensions["consult"] = Live(app, socketio, answered)


def hub():
    """The live state of the current app."""
    return current_app.extensions["consult"]


def phones_room(session_id):
    return f"phones:{session_id}"


def screen_room(session_id, view):
    return f"{view}:{session_id}"


def host_room(table_id):
    return f"host:{table_id}"


def account_room(facilitator_id):
    """The screens (control pages, projectors) of one facilitator account, on every process."""
    return f"account:{facilitator_id}"


SIGNED_OUT = "You are signed out of consult here: sign in again to go on."


def end_account(facilitator_id):
    """The account was signed out, or its password changed: each of its screens, on every process,
    is told ("signed_out": the page reloads, to the sign-in page) and disconnected."""
    live = hub()
    live.emit("signed_out", {"message": SIGNED_OUT}, account_room(facilitator_id), FACILITATOR_NS)
    for sid in live.presence.account_sockets(facilitator_id):
        # A socket of another process is disconnected there (through the message queue).
        live.socketio.server.disconnect(sid, namespace=FACILITATOR_NS)
    live.presence.forget_account(facilitator_id)


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
        data.update(grid(question))
    if question.kind == "notes":  # dot-voting: dots each (0: never opened) and whether it is open now
        data.update(dots=question.dots, dots_open=question.dots_open)
    return data


def grid(question):
    """A trajectory question's rows and horizons (else nothing), for phones and hosts to place milestones by."""
    if question.kind != "trajectory":
        return {}
    return {"rows": [{"id": r.id, "text": r.text} for r in question.rows],
            "horizons": [{"id": h.id, "name": h.name, "hint": h.hint} for h in question.horizons]}


def table_view(table, question, round_):
    """What a table's host sees of a question: the table's notes (of one round, or all: 0) and their summary."""
    notes = cafe.table_notes(table, question.id)
    if round_:
        notes = [n for n in notes if n["round"] == round_]
    summary = db.session.scalar(
        select(HostSummary.text).filter_by(table_id=table.id, question_id=question.id, round=round_)
    )
    return {
        "question_id": question.id,
        "round": round_,
        "current_round": table.session.current_round,
        "notes": notes,
        "summary": summary or "",
        **grid(question),  # a trajectory grid's rows and horizons as they are now
    }


def cell(note):
    """A trajectory milestone's grid cell, for its author's phone; nothing for a plain note."""
    if note.horizon_id is None:
        return {}
    return {"row_id": note.row_id, "horizon_id": note.horizon_id}


def phone_state(session, participant=None):
    """Everything a phone needs after (re)connecting: the current question and its own answers.

    participant None: a phone that has not answered yet (it has no participant row).
    """
    pid = participant.id if participant is not None else None
    answers = {}
    for vote in db.session.scalars(select(Vote).filter_by(participant_id=pid)) if pid else ():
        answers[vote.question_id] = {
            "choices": sorted(c.option_id for c in vote.choices),
            "value": vote.value,
            "client_id": vote.client_id,
        }
    codes = audit.receipts_of("vote", [a["client_id"] for a in answers.values()])
    for answer in answers.values():  # the receipt of each answer that counts, shown beside it
        answer["receipt"] = audit.shown(codes.get(answer["client_id"]))
    notes = {}
    for note in db.session.scalars(select(Note).filter_by(participant_id=pid).order_by(Note.id)) if pid else ():
        notes.setdefault(note.question_id, []).append(
            {"id": note.id, "text": note.text, "client_id": note.client_id, "status": note.status, **cell(note)}
        )
    return {
        "session": {"title": session.title, "code": session.join_code, "round": session.current_round},
        "question": question_data(session.current_question),
        "tables": tables_data(session),
        "table_id": participant.table_id if pid else None,
        "answers": answers,
        "notes": notes,
        # Dot-voting: the notes to put dots on (while it is open on the current question), and this phone's dots.
        "dots": dot_list(session.current_question, pid or 0),  # 0, no participant yet: every dot left
        "my_dots": dots.all_mine(pid) if pid else {},
    }


def enrolled(voter):
    """A phone's participant was just made (its first answer, or a table picked): its sockets on
    this process answer as that participant now, and hear of its own notes."""
    live = hub()
    for sid in live.waiting.pop(voter.token, ()):
        if sid in live.phones:
            live.phones[sid] = voter
            live.socketio.server.enter_room(sid, participant_room(voter.id), namespace=PHONE_NS)


def _screen_common(session):
    """What both screens show, and the current results: worked out once per push, not per view."""
    current = session.current_question
    # A phone has a participant once it answers or picks a table; one connected that has not
    # yet joined all the same, so the count rises as the room arrives.
    took_part = db.session.scalar(select(func.count(Participant.id)).filter_by(session_id=session.id))
    connected = hub().presence.connected(session.id)
    state = {
        "session_id": session.id,
        "joined": max(took_part, connected),
        "connected": connected,
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
        state["questions"] = [
            {"id": q.id, "is_open": q.is_open, "revealed": q.revealed, "current": q is current,
             "kind": q.kind, "dots": q.dots, "dots_open": q.dots_open}
            for q in session.questions
        ]
        state["seated"] = cafe.seated(session)
        state["review"] = cafe.review_queue(session)
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
    live = hub()
    interval = current_app.config["CONSULT_BROADCAST_INTERVAL"]
    if interval <= 0:
        flush_session(session_id)
        return
    live.dirty[session_id] = time.monotonic()
    if not live.looping:
        live.looping = True
        live.socketio.start_background_task(_loop, current_app._get_current_object(), interval)


def _loop(app, interval):
    live = app.extensions["consult"]
    refreshed = time.monotonic()
    while True:
        live.socketio.sleep(interval)
        try:
            with app.app_context():
                flush(interval)
                if time.monotonic() - refreshed > REFRESH_EVERY:
                    live.presence.refresh()
                    refreshed = time.monotonic()
        except Exception:  # a bad moment must not stop live updates for the rest of the event
            app.logger.exception("live update failed")


def flush(interval=0):
    live = hub()
    for session_id, changed in list(live.dirty.items()):
        claim = live.presence.may_flush(session_id, interval, changed)
        if claim is False:
            continue  # another process pushes this interval; try again next time
        if live.dirty.get(session_id) == changed:
            del live.dirty[session_id]
        if claim:
            flush_session(session_id)


def flush_session(session_id):
    session = db.session.get(CafeSession, session_id)
    if session is None:
        return
    common = _screen_common(session)
    for view in ("control", "projector"):
        hub().emit("state", screen_state(session, view, common), screen_room(session_id, view), FACILITATOR_NS)
    push_dots(session)


# -- after a gap in the message queue --------------------------------------------------

def resync_soon(app):
    """The message queue is back after a gap (queue.Queue calls this): resync this process's sockets."""
    live = app.extensions["consult"]
    if live.resyncing:
        live.resync_again = True  # once more when this one is done: it may have read too early
        return
    live.resyncing = True
    live.socketio.start_background_task(_resync, app)


def _resync(app):
    live = app.extensions["consult"]
    try:
        again = True
        while again:
            live.resync_again = False
            with app.app_context():
                resync()
            again = live.resync_again
    except Exception:  # the next reconnect tries again; live updates go on meanwhile
        app.logger.exception("resync after the message queue came back failed")
    finally:
        live.resyncing = False


def resync():
    """Send every screen, phone and host screen of this process the whole picture again.

    What other processes announced during the gap never arrived here, but they announce
    nothing before it is committed, so the database holds all of it. Presence is written
    back (Redis may have restarted empty), and each session is touched so that every
    process's screens hear the count once each process is back.
    """
    live = hub()
    live.presence.refresh()
    server = live.socketio.server
    live.dot_lists.clear()  # dot lists sent during the gap may not have arrived: send the next one anyway

    def send(event, data, sid, namespace):
        # Straight to our own socket: the queue may have dropped it again already.
        server.emit(event, data, to=sid, namespace=namespace, ignore_queue=True)
        live.socketio.sleep(0)  # thousands of phones: let acks and other events through meanwhile

    sessions = set()
    for sid, (session_id, view) in list(live.screens.items()):
        session = db.session.get(CafeSession, session_id)
        if session is not None:
            sessions.add(session_id)
            send("state", screen_state(session, view), sid, FACILITATOR_NS)
    for sid, voter in list(live.phones.items()):
        session = db.session.get(CafeSession, voter.session_id)
        if session is not None:
            sessions.add(voter.session_id)
            # A phone that has not answered yet has no participant row: the session's state alone.
            participant = db.session.get(Participant, voter.id) if voter.id is not None else None
            send("state", phone_state(session, participant), sid, PHONE_NS)
    for sid, (_, table_id) in list(live.hosts.items()):
        table = db.session.get(CafeTable, table_id)
        if table is not None:
            send("round", {"round": table.session.current_round}, sid, HOST_NS)
            for question in table.session.questions:
                if question.kind in ("notes", "trajectory"):
                    send("changed", {"question_id": question.id}, sid, HOST_NS)
    db.session.rollback()  # the snapshot read is done; end its transaction
    for session_id in sessions:
        touch(session_id)


# -- what each audience hears of a change (consult.services calls these after committing it) --

def table_changed(table_id, question_id):
    """A note of a table changed: its host's screens fetch the notes again ("changed")."""
    if table_id is not None:
        hub().emit("changed", {"question_id": question_id}, host_room(table_id), HOST_NS)


def note_changed(note):
    """A note was added, approved, hidden, restored, corrected, moved or merged.

    Its author's phone shows it as it is now ("note"), its table's host screens fetch the
    table's notes again, and the screens show it within one interval.
    """
    if note.participant_id is not None:
        hub().emit("note", {"id": note.id, "question_id": note.question_id, "text": note.text, "status": note.status,
                            **cell(note)},
                   participant_room(note.participant_id), PHONE_NS)
    table_changed(note.table_id, note.question_id)
    touch(note.question.session_id)


def announce(session):
    """The facilitator changed what is shown: tell every phone and screen now."""
    push_dots(session)  # first: a phone shown a question with dot-voting open has its notes to hand
    hub().emit("question", question_data(session.current_question), phones_room(session.id), PHONE_NS)
    touch(session.id)


def announce_round(session):
    """A round started: phones and table hosts hear its number now ("round" {round}), screens too."""
    data = {"round": session.current_round}
    hub().emit("round", data, phones_room(session.id), PHONE_NS)
    for table in session.tables:
        hub().emit("round", data, host_room(table.id), HOST_NS)
    announce(session)


def announce_tables(session, removed=()):
    """The tables changed (added, renamed, removed): phones get the new list ("tables" [...]) now,
    and the host screens of removed tables are told their link is gone."""
    hub().emit("tables", tables_data(session), phones_room(session.id), PHONE_NS)
    for table_id in removed:
        end_host(table_id)
    touch(session.id)


def end_host(table_id):
    """Tell the host screens of a table their link was revoked, and stop pushing to them.

    The screens show a message and disconnect; a screen that does not is refused on its next
    event anyway (host/events.py checks the token every time).
    """
    live, room = hub(), host_room(table_id)
    live.emit("revoked", {"message": REVOKED}, room, HOST_NS)
    live.socketio.close_room(room, namespace=HOST_NS)


# -- dot-voting ---------------------------------------------------------------------

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
    sent = hub().dot_lists
    data = dot_list(session.current_question)
    sig = json.dumps(data, sort_keys=True)
    if data is None or (not force and sent.get(session.id) == sig):
        sent[session.id] = sig
        return
    sent[session.id] = sig
    hub().emit("dots", data, phones_room(session.id), PHONE_NS)


def announce_dots(session, question):
    """Dot-voting opened or closed on question: phones hear it ("dots", then "question"), screens too."""
    if not question.dots_open:
        hub().emit("dots", dots.phone_list(question), phones_room(session.id), PHONE_NS)
    push_dots(session, force=True)
    announce(session)
