"""World Café rules: tables, rounds, table hosts and moderation.

Plain functions, used through consult.services by the facilitator's and the host's pages and
sockets alike. They raise rules.Invalid with a message for the person and write into the open
transaction; the service that calls them commits.
"""
import re

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from . import audit
from .extensions import db
from .models import CafeTable, HostSummary, Note, NoteEdit, Participant, Question, Vote, new_host_token, utcnow
from .rules import MALFORMED, NOTE_KINDS, Invalid, as_id, client_id, grid_cell, note_text, question_in, round_number

MAX_TABLES = 60
HOST = "host"


# -- tables --------------------------------------------------------------------

def table_names(raw):
    """Table names from a form: a number ("6": Table 1..6) or one name a line."""
    raw = (raw or "").strip()
    if re.fullmatch(r"\d{1,3}", raw):
        count = int(raw)
        if count > MAX_TABLES:
            raise Invalid(f"At most {MAX_TABLES} tables.")
        return [f"Table {n}" for n in range(1, count + 1)]
    names = [line.strip()[:60] for line in raw.splitlines() if line.strip()]
    if len(names) > MAX_TABLES:
        raise Invalid(f"At most {MAX_TABLES} tables.")
    if len({n.lower() for n in names}) != len(names):
        raise Invalid("Two tables have the same name.")
    return names


def set_tables(session, names):
    """Rename, add and remove tables to match names; a table with answers is never removed."""
    tables = list(session.tables)
    for i, name in enumerate(names):
        if i < len(tables):
            tables[i].name, tables[i].position = name, i
        else:
            session.tables.append(CafeTable(name=name, position=i))
    for table in tables[len(names):]:
        used = db.session.scalar(select(func.count(Note.id)).filter_by(table_id=table.id)) or db.session.scalar(
            select(func.count(Vote.id)).filter_by(table_id=table.id)
        )
        if used:
            raise Invalid(f"{table.name} has answers, so it cannot be removed.")
        session.tables.remove(table)
    return session.tables


def table_in(session, table_id):
    table_id = as_id(table_id, digits=True)
    table = db.session.get(CafeTable, table_id) if table_id else None
    if table is None or table.session_id != session.id:
        raise Invalid("That table was not found.")
    return table


def choose_table(participant, table_id):
    """Seat a participant at a table (or at none, with None); their later answers record it."""
    if table_id is None:
        participant.table_id = None
    else:
        participant.table_id = table_in(participant.session, table_id).id
    return participant.table_id


def revoke_host(table):
    """A new host link for the table: the old one, and every screen opened with it, stop working."""
    table.host_token = new_host_token()
    return table.host_token


def host_table(token):
    if not isinstance(token, str) or not 8 <= len(token) <= 64:
        return None
    return db.session.scalar(select(CafeTable).filter_by(host_token=token))


# -- rounds ------------------------------------------------------------------------

def start_round(session, number=None):
    """Start round number (default: the next one); answers from now on record it.

    Returns whether it changed anything: a repeated click on the round under way does not.
    A page out of date (another tab started later rounds) cannot take the café back.
    """
    if number in (None, ""):
        number = session.current_round + 1
    number = round_number(number)
    if number == session.current_round:
        return False
    if number < session.current_round:
        raise Invalid(f"Round {session.current_round} has already started.")
    session.current_round = number
    return True


def show_round(session, number):
    """Show one round's answers on the projector, or all of them (None, 0 or "")."""
    if number in (None, "", 0, "0", "all"):
        session.shown_round = None
    else:
        number = as_id(number, digits=True)
        if number is None or number > max(session.current_round, 1):
            raise Invalid("That round has not started.")
        session.shown_round = number
    return session.shown_round


# -- notes: hosts and moderation -----------------------------------------------------

def note_in(session, note_id, table=None):
    """A note of the session (and of the table, for a host), or Invalid."""
    note_id = as_id(note_id, digits=True)
    note = db.session.get(Note, note_id) if note_id else None
    if note is None or note.question.session_id != session.id or (table is not None and note.table_id != table.id):
        raise Invalid("That note was not found.")
    return note


def _log(note, action, by):
    db.session.add(NoteEdit(note_id=note.id, text=note.text, action=action, by=by[:80]))


def host_note(table, payload):
    """A note the host adds for the group: (note, created). A retry adds nothing and gives the first."""
    made = client_id(payload)
    question = question_in(table.session_id, payload.get("question_id"), kinds=NOTE_KINDS)
    row_id, horizon_id = grid_cell(question, payload) if question.kind == "trajectory" else (None, None)
    text = note_text(question, payload.get("text"))
    seen = db.session.scalar(select(Note).filter_by(client_id=made))
    if seen is not None:
        if seen.table_id != table.id or seen.author != HOST:
            raise Invalid(MALFORMED)
        return seen, False
    note = Note(question_id=question.id, table_id=table.id, round=table.session.current_round, author=HOST,
                client_id=made, text=text, status="visible", row_id=row_id, horizon_id=horizon_id)
    db.session.add(note)
    db.session.flush()  # its id, for the trail
    audit.append([{"session_id": table.session_id, "question_id": question.id, "kind": "note", "client_id": made,
                   "participant_id": None, "target_id": note.id, "value": text, "detail": "visible",
                   "by": f"host:{table.name}"[:80], "receipt": None, "at": utcnow()}])
    return note, True


def edit_note(note, text, by):
    """Correct a note's text; the earlier text is kept."""
    text = note_text(note.question, text)
    if text != note.text:
        _log(note, "edit", by)
        audit.note_changed(note, "edit", by, text)
        note.text = text
        note.updated_at = utcnow()
    return note


STATUS_ACTIONS = {"hide": "hidden", "restore": "visible", "approve": "visible"}


def moderate(note, action, by):
    """hide, restore or approve a note; nothing is deleted."""
    status = STATUS_ACTIONS.get(action) if isinstance(action, str) else None
    if status is None:
        raise Invalid("Unknown action.")
    if note.status != status:
        _log(note, action, by)
        audit.note_changed(note, action, by)
        note.status = status
        note.updated_at = utcnow()
    return note


def move_note(note, row_id, horizon_id, by):
    """Move a milestone to another cell (row, horizon) of its trajectory grid; the move is logged."""
    if note.question.kind != "trajectory":
        raise Invalid("Only milestones on a trajectory grid can be moved.")
    row_id, horizon_id = grid_cell(note.question, {"row_id": row_id, "horizon_id": horizon_id})
    if (note.row_id, note.horizon_id) != (row_id, horizon_id):
        _log(note, "move", by)
        audit.note_changed(note, "move", by, f"row {row_id}, horizon {horizon_id}")
        note.row_id, note.horizon_id = row_id, horizon_id
        note.updated_at = utcnow()
    return note


def highlight(note, on, by=""):
    if not isinstance(on, bool):
        raise Invalid(MALFORMED)
    if note.highlight != on:
        audit.note_changed(note, "highlight" if on else "unhighlight", by)
    note.highlight = on
    note.updated_at = utcnow()
    return note


def merge(target, sources, by):
    """Show several notes as one (target); the others stay stored, pointing at it."""
    for source in sources:
        if source.id == target.id or source.question_id != target.question_id:
            raise Invalid("Only notes on the same question can be merged.")
        if target.merged_into_id is not None:
            raise Invalid("That note is itself merged into another.")
    for source in sources:
        _log(source, "merge", by)
        audit.note_changed(source, "merge", by, str(target.id))
        for child in db.session.scalars(select(Note).filter_by(merged_into_id=source.id)):
            child.merged_into_id = target.id  # keep merges one level deep
        source.merged_into_id = target.id
        source.updated_at = utcnow()
        if source.highlight:
            target.highlight = True
    return target


def unmerge(note, by):
    if note.merged_into_id is not None:
        _log(note, "unmerge", by)
        audit.note_changed(note, "unmerge", by)
        note.merged_into_id = None
        note.updated_at = utcnow()
    return note


def save_summary(table, question, round_, text):
    """The host's summary of a question at their table, for one round (or all of them: 0)."""
    if question.session_id != table.session_id:
        raise Invalid("That question was not found.")
    if not isinstance(text, str) or len(text) > 5000:
        raise Invalid("A summary is up to 5000 characters.")
    round_ = round_number(round_, everything=True)
    summary = db.session.scalar(
        select(HostSummary).filter_by(table_id=table.id, question_id=question.id, round=round_)
    )
    if summary is None:
        summary = HostSummary(table_id=table.id, question_id=question.id, round=round_)
        db.session.add(summary)
    summary.text = text.strip()
    summary.updated_at = utcnow()
    return summary


def set_moderation(session, mode, words):
    if mode not in ("post", "pre"):
        raise Invalid("Moderation is either after (post) or before (pre) notes show.")
    if not isinstance(words, str) or len(words) > 10000:
        raise Invalid("The blocked words list is too long.")
    session.moderation = mode
    session.blocked_words = "\n".join(w.strip() for w in words.splitlines() if w.strip())


def note_data(note):
    """A note as a host or the facilitator sees it: everything but who wrote it."""
    return {
        "id": note.id, "text": note.text, "question_id": note.question_id, "table_id": note.table_id,
        "round": note.round, "author": note.author, "status": note.status, "highlight": note.highlight,
        "merged_into": note.merged_into_id, "at": note.created_at.isoformat() + "Z",
        "row_id": note.row_id, "horizon_id": note.horizon_id,  # a trajectory milestone's cell
        # Edited means its text changed; hiding, restoring and merging are logged too, but are not edits.
        "edited": any(e.action == "edit" for e in note.edits),
    }


def table_notes(table, question_id):
    """Every note of a table on a question, hidden and merged ones too, oldest first."""
    notes = db.session.scalars(
        select(Note).filter_by(table_id=table.id, question_id=question_id).order_by(Note.id)
        .options(selectinload(Note.edits))
    ).all()
    return [note_data(n) for n in notes]


def review_queue(session):
    """Notes waiting for the facilitator: pending approval or held for a blocked word."""
    notes = db.session.scalars(
        select(Note).join(Question).where(Question.session_id == session.id, Note.status.in_(("pending", "held")))
        .order_by(Note.id).options(selectinload(Note.edits))  # note_data reads edits: one query, not one a note
    ).all()
    return [note_data(n) for n in notes]


def seated(session):
    """How many participants sit at each table: {table id: count}."""
    rows = db.session.execute(
        select(Participant.table_id, func.count()).filter_by(session_id=session.id).group_by(Participant.table_id)
    ).all()
    return {table_id: count for table_id, count in rows if table_id is not None}

