"""Dot-voting: prioritising the notes of an open-notes question.

The facilitator opens dot-voting on a notes question and gives everyone N dots (1 to 20).
Each participant places their dots on the notes that matter most to them, several on one
note if they like, and can take one back while dot-voting is open. The projector ranks the
notes by their dots.

Which dots count:

- A dot sits on the note it was placed on (Dot.note_id). When that note is later merged into
  another, the dot counts for the note it joined; unmerging gives it back to its own note.
- A dot counts only while the note it counts for is shown (visible, not itself merged). A dot
  on a note the facilitator hides is given back to its owner: it leaves the ranking and no
  longer uses up one of their N dots. Restoring the note brings the dot back.
- Dots are placed on visible, unmerged notes of the question only, never over N.

Opening dot-voting closes the question to new notes (everyone votes on the same list) and
puts it on screen; opening the question for notes again ends dot-voting. Closing dot-voting
keeps every dot: the ranking stays on the projector and goes into the write-up.

Plain functions, used through consult.services by the phone's and the facilitator's sockets and
pages alike; they raise rules.Invalid with a message for the person and never commit.
"""
import re

from sqlalchemy import delete, func, select
from sqlalchemy.orm import aliased

from .extensions import db
from .models import AuditEntry, Dot, Note, Participant, Question, utcnow
from . import audit, rules
from .rules import MALFORMED, Invalid, as_id, question_in

MAX_DOTS = 20
ACTIONS = ("open", "close")
# The most notes a phone is sent to put dots on (oldest first); a longer list is for merging first.
PHONE_NOTES = 500

CLOSED = "Dot-voting is closed: your dot was not placed."
NOT_FOUND = "That note was not found. It may have been removed: choose another one."


# -- the facilitator ------------------------------------------------------------------

def set_dots(session, question_id, action, dots=None):
    """Open (with dots per person) or close dot-voting on a notes question of session.

    question_id and dots may be digit strings, as a form sends them. Returns the question.
    """
    if action not in ACTIONS:
        raise Invalid("Unknown action.")
    question = question_in(session.id, question_id, digits=True)
    if question.kind != "notes":
        raise Invalid("Dot-voting works on open-notes questions only.")
    if action == "open":
        if isinstance(dots, str) and re.fullmatch(r"\s*[0-9]{1,3}\s*", dots):  # ASCII digits only: not "²"
            dots = int(dots)
        if isinstance(dots, bool) or not isinstance(dots, int) or not 1 <= dots <= MAX_DOTS:
            raise Invalid(f"Give each person from 1 to {MAX_DOTS} dots.")
        most = max(used_by(question.id).values(), default=0)
        if dots < most:
            raise Invalid(f"Someone has placed {most} dots already: give each person at least {most} dots.")
        question.dots = dots
        if not question.dots_open:
            audit.question_changed(question, "dots-open", value=str(dots))
        question.dots_open = True
        question.is_open = False  # no new notes while people prioritise: everyone sees the same list
        session.current_question = question
    else:
        if question.dots_open:
            audit.question_changed(question, "dots-close")
        question.dots_open = False
    return question


# -- which dots count -----------------------------------------------------------------

def counting(question_id):
    """A select of the dots of a question that count, with the note each counts for (target_id).

    The one place that says which dots count: the projector's ranking, the write-up, each
    phone's dots left and taking a dot back all read it.
    """
    source, target = aliased(Note), aliased(Note)
    target_id = func.coalesce(source.merged_into_id, source.id)
    return (
        select(Dot.id, Dot.participant_id, Dot.note_id, target.id.label("target_id"))
        .join(source, source.id == Dot.note_id)
        .join(target, target.id == target_id)
        .where(Dot.question_id == question_id, target.status == "visible", target.merged_into_id.is_(None))
    )


def used_by(question_id, participant_ids=None):
    """How many dots that count each participant has on a question: {participant id: count}."""
    query = counting(question_id)
    if participant_ids is not None:
        query = query.where(Dot.participant_id.in_(participant_ids))
    sub = query.subquery()
    return dict(db.session.execute(select(sub.c.participant_id, func.count()).group_by(sub.c.participant_id)).all())


def mine(participant_id, question_id):
    """A participant's own dots on a question, as their phone keeps them: [{id, note_id, client_id}].

    note_id is the note the dot was placed on; the list a phone gets says which notes were merged
    into each note it shows, so the phone counts a dot where it counts.
    """
    rows = db.session.execute(
        select(Dot.id, Dot.note_id, Dot.client_id).filter_by(participant_id=participant_id, question_id=question_id)
        .order_by(Dot.id)
    ).all()
    return [{"id": i, "note_id": n, "client_id": c} for i, n, c in rows]


def left_for(participant_id, question):
    """How many of their dots a participant has still to place on question."""
    return max(0, question.dots - used_by(question.id, [participant_id]).get(participant_id, 0))


def all_mine(participant_id):
    """Every dot of a participant, by question: {question id: [{id, note_id, client_id}]}."""
    out = {}
    for i, q, n, c in db.session.execute(
        select(Dot.id, Dot.question_id, Dot.note_id, Dot.client_id)
        .filter_by(participant_id=participant_id).order_by(Dot.id)
    ):
        out.setdefault(q, []).append({"id": i, "note_id": n, "client_id": c})
    return out


def phone_list(question):
    """What phones show while dot-voting is open: the notes to put dots on, oldest first, no totals.

    {question_id, open, per_person, notes: [{id, text, also: [ids of notes merged into it]}]}.
    Phones never see how many dots a note has: nobody follows the crowd.
    """
    data = {"question_id": question.id, "open": question.dots_open, "per_person": question.dots}
    if not question.dots_open:
        return data
    rows = db.session.execute(
        select(Note.id, Note.text).filter_by(question_id=question.id, status="visible")
        .where(Note.merged_into_id.is_(None)).order_by(Note.id).limit(PHONE_NOTES)
    ).all()
    also = {}
    for source, target in db.session.execute(
        select(Note.id, Note.merged_into_id).filter_by(question_id=question.id).where(Note.merged_into_id.is_not(None))
    ):
        also.setdefault(target, []).append(source)
    data["notes"] = [{"id": i, "text": t, "also": also.get(i, [])} for i, t in rows]
    return data


# -- placing and taking back ----------------------------------------------------------

def limit_message(n):
    if n == 1:
        return "You have used your dot. Take it back from its note if you want to move it."
    return f"You have used all {n} of your dots. Take one back from a note if you want to move it."


def _check_dot(who, payload, questions, notes):
    """(question, note id) for a dot who may place, or Invalid. questions: a cache by id."""
    question_id = as_id(payload.get("question_id"))
    question = questions.get(question_id)
    if question is None:
        question = questions[question_id] = question_in(who.session_id, question_id)
    elif question.session_id != who.session_id:
        raise Invalid("That question was not found.")
    if question.kind != "notes":
        raise Invalid("This question has no notes to put dots on.")
    if not question.dots_open:
        raise Invalid(CLOSED)
    note = notes.get(as_id(payload.get("note_id")))
    if note is None or note.question_id != question.id:
        raise Invalid(NOT_FOUND)
    if note.merged_into_id is not None:
        raise Invalid("That note was joined with a similar one: put your dot on that one instead.")
    if note.status != "visible":
        raise Invalid("That note is not on the list any more, so it cannot take a dot. Choose another one.")
    return question, note.id


def record_dots(items):
    """Place the dots in items, [(who, {question_id, note_id, client_id})], in the open transaction.

    The caller commits (batch.GroupCommit). Returns, per item, (dot id, placed)
    or the Invalid it broke. A retry with a client id already stored places nothing and answers with
    the dot placed before. A handful of statements per call, however many dots.
    """
    out = [None] * len(items)
    parsed = []
    for i, (who, payload) in enumerate(items):
        try:
            parsed.append((i, who, payload, rules.client_id(payload)))
        except Invalid as error:
            out[i] = error
    if not parsed:
        return out
    # The trail, not the dots: a dot taken back is no longer a row, and its placement resent later
    # must not put it back.
    seen = {c: (dot_id, pid, receipt) for c, dot_id, pid, receipt in db.session.execute(
        select(AuditEntry.client_id, AuditEntry.target_id, AuditEntry.participant_id, AuditEntry.receipt)
        .where(AuditEntry.kind == "dot", AuditEntry.client_id.in_({p[3] for p in parsed}))
    )}
    standing = audit.still_standing("dot", seen) if seen else set()
    note_ids = {as_id(p[2].get("note_id")) for p in parsed} - {None}
    notes = {n.id: n for n in db.session.execute(
        select(Note.id, Note.question_id, Note.status, Note.merged_into_id).where(Note.id.in_(note_ids))
    )} if note_ids else {}
    questions, checked, first, repeats = {}, [], {}, []
    for i, who, payload, client_id in parsed:
        if client_id in seen:
            dot_id, pid, receipt = seen[client_id]
            out[i] = audit.Done(dot_id, False, receipt, client_id in standing) if pid == who.id else Invalid(MALFORMED)
        elif client_id in first:  # the same dot twice in one batch: the second is its retry
            repeats.append((i, client_id))
        else:
            first[client_id] = i
            try:
                question, note_id = _check_dot(who, payload, questions, notes)
            except Invalid as error:
                out[i] = error
            else:
                checked.append((i, who, question, note_id, client_id))
    if checked:
        people = sorted({who.id for _, who, *_ in checked})
        # PostgreSQL: a phone's dots are counted and placed one transaction at a time, across processes too.
        db.session.execute(select(Participant.id).where(Participant.id.in_(people)).order_by(Participant.id)
                           .with_for_update())
        used = {}
        for question in {q.id: q for _, _, q, _, _ in checked}.values():
            for pid, n in used_by(question.id, people).items():
                used[(pid, question.id)] = n
        fresh = []
        for i, who, question, note_id, client_id in checked:
            key = (who.id, question.id)
            if used.get(key, 0) >= question.dots:
                out[i] = Invalid(limit_message(question.dots))
                continue
            used[key] = used.get(key, 0) + 1
            fresh.append((i, who, question, note_id, client_id))
        if fresh:
            now = utcnow()
            ids = rules.insert_rows(Dot, [
                {"question_id": q.id, "note_id": n, "participant_id": who.id, "client_id": c, "created_at": now}
                for _, who, q, n, c in fresh])
            codes = audit.receipts(len(fresh))
            audit.append([{"session_id": who.session_id, "question_id": q.id, "kind": "dot", "client_id": c,
                           "participant_id": who.id, "target_id": ids[c], "value": str(n), "detail": "", "by": "",
                           "receipt": code, "at": now} for (_, who, q, n, c), code in zip(fresh, codes)])
            for (i, _, _, _, client_id), code in zip(fresh, codes):
                out[i] = audit.Done(ids[client_id], True, code)
    for i, client_id in repeats:
        earlier = out[first[client_id]]
        out[i] = audit.Done(earlier[0], False, earlier.receipt) if isinstance(earlier, tuple) else earlier
    return out


def take_back(who, payload):
    """Take back one of who's dots: (dot id, taken back).

    payload {dot_id} takes back that dot; a dot already taken back changes nothing (a retry).
    payload {note_id} takes back who's latest dot that counts for that note.
    """
    if not isinstance(payload, dict):
        raise Invalid(MALFORMED)
    dot_id, note_id = as_id(payload.get("dot_id")), as_id(payload.get("note_id"))
    if dot_id is not None:
        dot = db.session.get(Dot, dot_id)
        if dot is None or dot.participant_id != who.id:
            return dot_id, False  # taken back already
        question = db.session.get(Question, dot.question_id)
    elif note_id is not None:
        note = db.session.get(Note, note_id)
        if note is None or note.question.session_id != who.session_id:
            raise Invalid(NOT_FOUND)
        question = note.question
        target = note.merged_into_id or note.id
        query = counting(question.id)
        sub = query.where(Dot.participant_id == who.id).subquery()
        found = db.session.scalar(select(sub.c.id).where(sub.c.target_id == target).order_by(sub.c.id.desc()).limit(1))
        dot = db.session.get(Dot, found) if found else None
    else:
        raise Invalid(MALFORMED)
    if not question.dots_open:
        raise Invalid("Dot-voting is closed: your dots stay where they are.")
    if dot is None:
        raise Invalid("You have no dot on that note to take back.")
    taken, made, note_id = dot.id, dot.client_id, dot.note_id
    if not db.session.execute(delete(Dot).where(Dot.id == taken)).rowcount:
        return taken, False  # taken back meanwhile, by the same request sent twice
    (code,) = audit.receipts(1)
    audit.append([{"session_id": who.session_id, "question_id": question.id, "kind": "undot", "client_id": made,
                   "participant_id": who.id, "target_id": taken, "value": str(note_id), "detail": "", "by": "",
                   "receipt": code, "at": utcnow()}])
    return audit.Done(taken, True, code)
