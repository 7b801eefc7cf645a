"""Operations: each checks the rules, writes in one transaction, and once it is committed tells
whoever must hear of it (phones, table hosts, the control page, the projector).

HTTP routes and socket handlers call these and only translate their transport to a call and
back. The rules they apply live in rules.py, cafe.py, dots.py, framework.py and starters.py,
which never commit and never notify; what each audience hears is in live.py.
"""
from contextlib import contextmanager

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from . import audit, cafe, dots, framework, live, pictures, rules, starters, transfer
from .extensions import db
from .models import CafeSession, Facilitator, Note, Participant


@contextmanager
def change():
    """One unit of work: commits what the block wrote, then sends what it queued.

    The block queues notifications with then(fn, *args); they run only after the commit, so
    nobody hears of a change that was not stored. A broken rule (or any error) rolls back.
    """
    queued = []
    try:
        yield lambda fn, *args: queued.append((fn, args))
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    for fn, args in queued:
        fn(*args)


# -- participants ------------------------------------------------------------------

def join(session, token=None):
    """The participant behind token in session, made and stored now if it is not yet."""
    with change():
        participant = rules.join(session, token)
    return participant


def seat(session, who, table_id):
    """Seat a phone at a table (None: at none): (its participant, the table id).

    A phone that has not answered yet gets its participant now (a table picked is taking part);
    a table that is not the session's makes none.
    """
    for retry in (False, True):
        try:
            with change() as then:
                if who.id is None:
                    participant = rules.join(session, who.token)
                else:
                    participant = db.session.get(Participant, who.id)
                    if participant is None:
                        raise rules.Invalid("Open the join link again to take part.")
                table_id = cafe.choose_table(participant, table_id)
                then(live.touch, session.id)
            break
        except IntegrityError:
            if retry:
                raise
            # The phone's first answer made its participant meanwhile: seat that one.
    if who.id is None:
        live.enrolled(rules.Voter(participant.id, session.id, who.token))
    return participant, table_id


def answer(who, kind, payload):
    """A vote, note or dot (kind) sent over HTTP; returns its ack once it is committed.

    The writer records it with the answers that came with it (sockets queue theirs without
    waiting: participant/events.py). No database connection is held meanwhile: many requests
    waiting at once would otherwise take every connection the writer needs.
    """
    db.session.close()
    return live.hub().writer.wait(kind, who, payload)


def answered(items):
    """After the writer's commit: each answer's ack (what the phone is told), in order, and news
    of them for the screens (within one broadcast interval) and for table hosts (a new note)."""
    for item in items:
        if item.asked.id is None and item.who.id is not None:
            live.enrolled(item.who)  # a phone's first answer made its participant
    notes = [item.result[0] for item in items if item.kind == "note" and item.result]
    about = {}
    if notes:
        about = {i: (status, table_id, question_id) for i, status, table_id, question_id in db.session.execute(
            select(Note.id, Note.status, Note.table_id, Note.question_id).where(Note.id.in_(notes)))}
    acks, sessions, tables = [], set(), set()
    for item in items:
        if item.error is not None:
            error = str(item.error) if isinstance(item.error, rules.Invalid) else rules.FAILED
            acks.append({"ok": False, "error": error, **_my_dots(item.who, item.payload, item.kind)})
            continue
        item_id, changed = item.result
        if changed:
            sessions.add(item.who.session_id)
        ack = {"ok": True, "id": item_id}
        receipt = getattr(item.result, "receipt", None)
        if receipt:  # the code the phone shows after "counted", for the person to note down
            ack["receipt"] = audit.shown(receipt)
        if not getattr(item.result, "current", True):
            ack["current"] = False  # a late retry of an answer replaced since (or a dot taken back)
        if item.kind == "note":
            status, table_id, question_id = about[item_id]
            ack["status"] = status  # visible, pending, held or hidden: whether the note shows yet
            if changed and table_id is not None:
                tables.add((table_id, question_id))
        elif item.kind == "dot":
            ack.update(placed=changed, **_my_dots(item.who, item.payload, item.kind))
        acks.append(ack)
    for session_id in sessions:
        live.touch(session_id)
    for table_id, question_id in tables:
        live.table_changed(table_id, question_id)
    return acks


def take_back_dot(who, payload):
    """{question_id, dot_id} (or note_id): the ack for taking a dot back."""
    try:
        with change() as then:
            done = dots.take_back(who, payload)
            if done[1]:
                then(live.touch, who.session_id)
    except rules.Invalid as error:
        return {"ok": False, "error": str(error), **_my_dots(who, payload, "dot")}
    receipt = {"receipt": audit.shown(done.receipt)} if getattr(done, "receipt", None) else {}
    return {"ok": True, "id": done[0], "taken": done[1], **receipt, **_my_dots(who, payload, "dot")}


def _my_dots(who, payload, kind):
    """With a dot's ack: the phone's own dots on that question, so it shows exactly what counts."""
    if kind != "dot" or not isinstance(payload, dict):
        return {}
    try:
        question = rules.question_in(who.session_id, payload.get("question_id"))
    except rules.Invalid:
        return {}
    return {"mine": dots.mine(who.id, question.id), "left": dots.left_for(who.id, question)}


def choose_table(participant, table_id):
    """Seat a participant at a table (None: at none); the control page counts who sits where."""
    with change() as then:
        table_id = cafe.choose_table(participant, table_id)
        then(live.touch, participant.session_id)
    return table_id


# -- notes: table hosts and the facilitator ---------------------------------------------

def host_note(table, payload):
    """A note a host adds for their table: (note id, created)."""
    with change() as then:
        note, created = cafe.host_note(table, payload)
        if created:
            then(live.note_changed, note)
    return note.id, created


def edit_note(note, text, by):
    with change() as then:
        cafe.edit_note(note, text, by)
        then(live.note_changed, note)
    return note


def moderate(note, action, by):
    """hide, restore or approve a note (or highlight / unhighlight it): its author's phone, its
    table's host screens and the control page hear of it."""
    with change() as then:
        if action in ("highlight", "unhighlight"):
            cafe.highlight(note, action == "highlight", by)
        else:
            cafe.moderate(note, action, by)
        then(live.note_changed, note)
    return note


def highlight(note, on, by=""):
    with change() as then:
        cafe.highlight(note, on, by)
        then(live.note_changed, note)
    return note


def move_note(note, row_id, horizon_id, by):
    with change() as then:
        cafe.move_note(note, row_id, horizon_id, by)
        then(live.note_changed, note)
    return note


def merge(target, sources, by):
    with change() as then:
        cafe.merge(target, sources, by)
        for note in [target, *sources]:
            then(live.note_changed, note)
    return target


def unmerge(note, by):
    with change() as then:
        cafe.unmerge(note, by)
        then(live.note_changed, note)
    return note


def save_summary(table, question, round_, text):
    with change() as then:
        summary = cafe.save_summary(table, question, round_, text)
        then(live.table_changed, table.id, question.id)
    return summary


# -- running a session live ----------------------------------------------------------

def control(session, action, question_id):
    """open, close, show, reveal or hide a question: every phone and screen hears of it now."""
    with change() as then:
        question = rules.control(session, action, question_id)
        then(live.announce, session)
    return question


def start_round(session, number=None):
    """Start round number (the next one without it): phones, hosts and screens hear of it."""
    with change() as then:
        if cafe.start_round(session, number):
            then(live.announce_round, session)
    return session.current_round


def show_round(session, number):
    """Show one round (or all: 0 or None) on the projector."""
    with change() as then:
        cafe.show_round(session, number)
        then(live.touch, session.id)
    return session.shown_round


def round_action(session, action, number):
    """The control page's round control: "start" a round or "show" one."""
    if action == "start":
        return start_round(session, number)
    if action == "show":
        return show_round(session, number)
    raise rules.Invalid("Unknown action.")


def set_dots(session, question_id, action, count=None):
    """Open (count dots each) or close dot-voting on a notes question."""
    with change() as then:
        question = dots.set_dots(session, question_id, action, count)
        then(live.announce_dots, session, question)
    return question


def set_tables(session, names):
    """Rename, add and remove tables (cafe.table_names reads them from a form): phones get the new
    list, and the hosts of removed tables lose their view at once."""
    with change() as then:
        before = {t.id for t in session.tables}
        cafe.set_tables(session, names)
        db.session.flush()
        then(live.announce_tables, session, before - {t.id for t in session.tables})
    return session.tables


def revoke_host(table):
    """A new host link for the table; screens opened with the old one close at once."""
    with change() as then:
        cafe.revoke_host(table)
        then(live.end_host, table.id)
    return table.host_token


def set_moderation(session, mode, words):
    with change() as then:
        cafe.set_moderation(session, mode, words)
        then(live.touch, session.id)


# -- setting a session up ------------------------------------------------------------

def create_session(owner_id, fields, start=starters.BLANK, source=None):
    """A new session of owner_id's with fields (title, date, venue, description), set up from start."""
    with change():
        session = CafeSession(owner_id=owner_id, join_code=rules.unique_join_code(), **fields)
        db.session.add(session)
        db.session.flush()  # its defaults (round 0, post-moderation) are set by the insert
        starters.start(session, start, source)
    return session


def update_session(session, fields):
    with change() as then:
        for name, value in fields.items():
            setattr(session, name, value)
        then(live.touch, session.id)
    return session


def duplicate_session(session):
    with change():
        copy = starters.duplicate(session)
    return copy


def set_password(email, password):
    """Make the facilitator account email (or give it a new password): (facilitator, made).

    A new password ends every session of the account: its cookies, remember-me tokens and sockets.
    """
    with change() as then:
        user = db.session.scalar(select(Facilitator).where(func.lower(Facilitator.email) == email.strip().lower()))
        made = user is None
        if made:
            user = Facilitator(email=email.strip().lower())
            db.session.add(user)
        user.set_password(password)
        if not made:
            then(_ended, user)
    return user, made


def sign_out(user):
    """End every session of the account: each browser, remember-me token and open screen."""
    with change() as then:
        user.end_sessions()
        then(_ended, user)


def _ended(user):
    live.end_account(user.id)


def delete_session(session):
    names = pictures.names_of(session.questions)
    with change():
        db.session.delete(session)
    pictures.discard_all(names)


def save_question(session, question, data, planned=None):
    """Create (question None) or update a question from form data, with its planned pictures.

    Phones and screens showing it hear of the change. Picture files nothing uses any more are
    deleted after the commit.
    """
    with change() as then:
        saved = rules.save_question(session, question, data)
        let_go = pictures.apply_form(saved, planned) if planned is not None else set()
        if saved is session.current_question:
            then(live.announce, session)
    pictures.discard_all(let_go)
    return saved


def delete_question(session, question):
    was_current = question is session.current_question
    names = pictures.names_of([question])
    with change() as then:
        audit.question_deleted(question)
        session.questions.remove(question)
        db.session.delete(question)
        for n, q in enumerate(session.questions):
            q.position = n
        if was_current:
            session.current_question = None
            then(live.announce, session)
    pictures.discard_all(names)


def move_question(question, step):
    with change() as then:
        rules.move_in(question.session.questions, question, step)
        then(live.touch, question.session_id)


def import_session(data, owner_id):
    """A new session from a file that `consult export --format json` wrote."""
    with change():
        session = transfer.import_session(data, owner_id)
        db.session.flush()
        audit.carry_over(session)  # the imported answers start its trail, so its totals still add up
    return session


# -- the action framework and sharing ---------------------------------------------------

def set_priorities(session, pairs):
    """The session's priorities, [(code, name)] (framework.parse_priorities reads them from a form)."""
    with change():
        framework.set_priorities(session, pairs)


def save_action(session, action, data):
    with change():
        action = framework.save_action(session, action, data)
    return action


def delete_action(session, action):
    with change():
        framework.delete_action(session, action)


def move_action(session, action, step):
    with change():
        framework.move_action(session, action, step)


def action_from_note(session, note_id):
    with change():
        action = framework.action_from_note(session, note_id)
    return action


def preview_actions(session, text):
    """What importing a CSV file would add: nothing is written (see transfer.plan_actions)."""
    return transfer.plan_actions(session, text)


def import_actions(session, text):
    """Add the actions of a CSV file; all of them or, on an error, none. Returns how many."""
    with change():
        added = transfer.import_actions_csv(session, text)
    return added


def share(session):
    """Make (or replace) the read-only link to the write-up; an old link stops working."""
    with change():
        token = framework.share(session)
    return token


def unshare(session):
    with change():
        framework.unshare(session)
