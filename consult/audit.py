"""The audit trail: every answer and every change to one, appended and never rewritten.

Each vote, change of vote, note, dot placed or taken back, and each change the facilitator or
a table host makes to a note (or to a question's opening), is appended to AuditEntry in the
same transaction as the change itself. An answer's entry holds the id its phone made for it:
a client id already in the trail is a retry, acknowledged with what it was and never applied
again, however late it comes (a resent vote must not undo the newer one). The phone is given
a short receipt code for each counted answer; the facilitator can look it up, and download a
question's trail with totals recomputed from the trail alone.

Like the rule modules, these functions write into the open transaction and never commit.
"""
import csv
import io
import re
import secrets

from sqlalchemy import select

from . import words
from .extensions import db
from .models import CODE_ALPHABET, AuditEntry, Note, Question, Vote, utcnow

RECEIPT_LENGTH = 8
# 31**8 codes, about 2**39.6: a receipt cannot be guessed. Two alike in one session are refused by
# uq_audit_receipt, and the writer records that batch again answer by answer, with new codes.
_TO_ALPHABET = bytes(ord(CODE_ALPHABET[b % len(CODE_ALPHABET)]) for b in range(256))
_UNEVEN = bytes(range(256 // len(CODE_ALPHABET) * len(CODE_ALPHABET), 256))
CARRIED = "carried over"
_INSERT = AuditEntry.__table__.insert()


class Done(tuple):
    """(row id, changed), as the writer's callers unpack it, with the answer's receipt code and
    whether the answer still stands (False: a later answer replaced it, or the dot was taken back)."""

    def __new__(cls, row_id, changed, receipt=None, current=True):
        done = super().__new__(cls, (row_id, changed))
        done.receipt, done.current = receipt, current
        return done


def receipts(n):
    """n fresh receipt codes: RECEIPT_LENGTH characters of the join codes' unambiguous alphabet.

    Random bytes mapped to the alphabet in C (a burst's 250 codes in microseconds); bytes from
    248 up are dropped, so each of the 31 characters is as likely as another.
    """
    size = n * RECEIPT_LENGTH
    text = ""
    while len(text) < size:
        text += secrets.token_bytes(size + size // 4 + 8).translate(_TO_ALPHABET, _UNEVEN).decode("ascii")
    return [text[i:i + RECEIPT_LENGTH] for i in range(0, size, RECEIPT_LENGTH)]


def shown(receipt):
    """A receipt as people read and write it: ABCD-EFGH."""
    return f"{receipt[:4]}-{receipt[4:]}" if receipt else ""


def normalise(raw):
    """A typed receipt without spaces and dashes, upper case; None if it cannot be one."""
    if not isinstance(raw, str):
        return None
    code = re.sub(r"[\s-]", "", raw).upper()
    if len(code) != RECEIPT_LENGTH or any(c not in CODE_ALPHABET for c in code):
        return None
    return code


def vote_value(chosen, value):
    """What a vote's entry records: its option ids ("3,5"), or its value on a scale."""
    return str(value) if value is not None else ",".join(str(o) for o in chosen)


# -- writing --------------------------------------------------------------------------

def known(kind, items, out):
    """Settle items (rules._Checked-like: index, who, client_id) whose client id the trail holds
    already: each is a retry, answered with what it was (and whether it still stands), never
    applied again. Returns the others. One query, and one more only when there are retries.
    """
    ids = [c.client_id for c in items]
    rows = db.session.execute(
        select(AuditEntry.client_id, AuditEntry.target_id, AuditEntry.participant_id, AuditEntry.receipt)
        .where(AuditEntry.kind == kind, AuditEntry.client_id.in_(ids))
    ).all() if ids else []
    if not rows:
        return items
    seen = {client_id: (target_id, pid, receipt) for client_id, target_id, pid, receipt in rows}
    standing = still_standing(kind, seen)
    fresh = []
    for c in items:
        if c.client_id in seen:
            target_id, pid, receipt = seen[c.client_id]
            if pid != c.who.id:
                from .rules import MALFORMED, Invalid  # another's id: not theirs to learn about
                out[c.index] = Invalid(MALFORMED)
            else:
                out[c.index] = Done(target_id, False, receipt, c.client_id in standing)
        else:
            fresh.append(c)
    return fresh


def still_standing(kind, seen):
    """Of the client ids in seen ({client id: (row id, ...)}), those whose answer still stands."""
    if kind == "vote":  # a vote stands while its row carries its client id: a change replaces it
        rows = {target for target, *_ in seen.values()}
        return set(db.session.scalars(select(Vote.client_id).where(Vote.id.in_(rows), Vote.client_id.in_(seen))))
    if kind == "dot":
        gone = set(db.session.scalars(
            select(AuditEntry.client_id).where(AuditEntry.kind == "undot", AuditEntry.client_id.in_(seen))))
        return set(seen) - gone
    return set(seen)


def append(rows):
    """Append entries (dicts of every AuditEntry column but id) in one statement.

    The table's own insert, not the model's: the ORM's bulk insert cost as much again on the
    hot path, and these rows need nothing of it (no defaults, no ids back).
    """
    if rows:
        db.session.execute(_INSERT, rows)


def answered(kind, c, target_id, value, receipt, now, detail=""):
    """The entry of a fresh answer c (rules._Checked) as a row for append()."""
    return {"session_id": c.who.session_id, "question_id": c.question_id, "kind": kind, "client_id": c.client_id,
            "participant_id": c.who.id, "target_id": target_id, "value": value, "detail": detail, "by": "",
            "receipt": receipt, "at": now}


def note_changed(note, kind, by, value=""):
    """A change to a note (edit, hide, merge...), appended in the open transaction."""
    session_id = note.question.session_id
    append([{"session_id": session_id, "question_id": note.question_id, "kind": kind, "client_id": None,
             "participant_id": None, "target_id": note.id, "value": value, "detail": "", "by": (by or "")[:80],
             "receipt": None, "at": utcnow()}])


def question_changed(question, kind, by="", value=""):
    """The facilitator opened or closed a question (or its dot-voting)."""
    append([{"session_id": question.session_id, "question_id": question.id, "kind": kind, "client_id": None,
             "participant_id": None, "target_id": None, "value": value, "detail": "", "by": (by or "")[:80],
             "receipt": None, "at": utcnow()}])


def question_deleted(question, by=""):
    """A question deleted with its answers and its trail: the session's trail keeps that it was."""
    from .rules import answer_count

    count = answer_count(question)
    append([{"session_id": question.session_id, "question_id": None, "kind": "deleted", "client_id": None,
             "participant_id": None, "target_id": question.id,
             "value": f"{question.text} ({words.count(count, 'answer')})", "detail": "", "by": (by or "")[:80],
             "receipt": None, "at": utcnow()}])


def carry_over(session):
    """Entries for the answers a session already holds (an imported session's), marked carried over."""
    from .models import Dot, VoteChoice

    now, rows = utcnow(), []
    questions = [q.id for q in session.questions]
    if not questions:
        return
    chosen = {}
    for vote_id, option_id in db.session.execute(
            select(VoteChoice.vote_id, VoteChoice.option_id).join(Vote, Vote.id == VoteChoice.vote_id)
            .where(Vote.question_id.in_(questions)).order_by(VoteChoice.option_id)):
        chosen.setdefault(vote_id, []).append(option_id)
    for vote in db.session.scalars(select(Vote).where(Vote.question_id.in_(questions)).order_by(Vote.id)):
        rows.append({"session_id": session.id, "question_id": vote.question_id, "kind": "vote",
                     "client_id": vote.client_id, "participant_id": vote.participant_id, "target_id": vote.id,
                     "value": vote_value(chosen.get(vote.id, []), vote.value), "detail": CARRIED, "by": "",
                     "receipt": None, "at": vote.updated_at or now})
    notes = db.session.scalars(select(Note).where(Note.question_id.in_(questions)).order_by(Note.id)).all()
    for note in notes:
        rows.append({"session_id": session.id, "question_id": note.question_id, "kind": "note",
                     "client_id": note.client_id, "participant_id": note.participant_id, "target_id": note.id,
                     "value": note.text, "detail": note.status, "by": "host" if note.author == "host" else "",
                     "receipt": None, "at": note.created_at or now})
    for note in notes:
        if note.merged_into_id is not None:
            rows.append({"session_id": session.id, "question_id": note.question_id, "kind": "merge",
                         "client_id": None, "participant_id": None, "target_id": note.id,
                         "value": str(note.merged_into_id), "detail": CARRIED, "by": "", "receipt": None, "at": now})
    for dot in db.session.scalars(select(Dot).where(Dot.question_id.in_(questions)).order_by(Dot.id)):
        rows.append({"session_id": session.id, "question_id": dot.question_id, "kind": "dot",
                     "client_id": dot.client_id, "participant_id": dot.participant_id, "target_id": dot.id,
                     "value": str(dot.note_id), "detail": CARRIED, "by": "", "receipt": None,
                     "at": dot.created_at or now})
    append(rows)


# -- reading --------------------------------------------------------------------------

def receipts_of(kind, client_ids):
    """{client id: receipt} of a phone's answers, for its page after a reload."""
    if not client_ids:
        return {}
    return dict(db.session.execute(
        select(AuditEntry.client_id, AuditEntry.receipt)
        .where(AuditEntry.kind == kind, AuditEntry.client_id.in_(list(client_ids)))).all())


def lookup(session, raw):
    """What the facilitator may learn of a receipt: that it was counted, when, for which question, and
    whether it still stands; never the answer itself. None when the session has no such receipt."""
    code = normalise(raw)
    if code is None:
        return None
    entry = db.session.scalar(select(AuditEntry).filter_by(session_id=session.id, receipt=code))
    if entry is None:
        return None
    question = db.session.get(Question, entry.question_id) if entry.question_id else None
    found = {"receipt": shown(code), "kind": entry.kind, "at": entry.at, "question": question,
             "current": True, "replaced_at": None}
    if entry.kind == "vote":
        later = db.session.scalar(
            select(AuditEntry.at).where(AuditEntry.question_id == entry.question_id, AuditEntry.kind == "vote",
                                        AuditEntry.participant_id == entry.participant_id, AuditEntry.id > entry.id)
            .order_by(AuditEntry.id).limit(1))
        found["current"], found["replaced_at"] = later is None, later
    elif entry.kind == "dot":
        later = db.session.scalar(select(AuditEntry.at).filter_by(kind="undot", client_id=entry.client_id))
        found["current"], found["replaced_at"] = later is None, later
    elif entry.kind == "note":
        status = replay(entries_of(entry.question_id))["notes"].get(entry.target_id, {})
        found["current"] = status.get("status") == "visible" and status.get("into") is None
        found["note_status"] = status.get("status")
    return found


def entries_of(question_id):
    return db.session.scalars(select(AuditEntry).filter_by(question_id=question_id).order_by(AuditEntry.id)).all()


def replay(entries):
    """The state of a question worked out from its trail alone.

    {"votes": {participant: value}: the last vote entry of each participant counts;
     "notes": {note id: {status, into}}; "dots": {dot id: note id}} (dots not taken back).
    """
    votes, notes, dots, merged = {}, {}, {}, {}  # merged: {note id: ids of the notes merged into it}
    for e in entries:
        if e.kind == "vote":
            votes[e.participant_id] = e.value
        elif e.kind == "note":
            notes[e.target_id] = {"status": e.detail or "visible", "into": None}
        elif e.kind in ("hide", "restore", "approve") and e.target_id in notes:
            notes[e.target_id]["status"] = "hidden" if e.kind == "hide" else "visible"
        elif e.kind == "merge" and e.target_id in notes:
            into = int(e.value)
            joined = merged.setdefault(into, set())
            for child in merged.pop(e.target_id, ()):  # merges stay one level deep (cafe.merge)
                notes[child]["into"] = into
                joined.add(child)
            _leave(merged, notes[e.target_id], e.target_id)
            notes[e.target_id]["into"] = into
            joined.add(e.target_id)
        elif e.kind == "unmerge" and e.target_id in notes:
            _leave(merged, notes[e.target_id], e.target_id)
            notes[e.target_id]["into"] = None
        elif e.kind == "dot":
            dots[e.target_id] = int(e.value)
        elif e.kind == "undot":
            dots.pop(e.target_id, None)
    return {"votes": votes, "notes": notes, "dots": dots}


def _leave(merged, note, note_id):
    if note["into"] is not None:
        merged.get(note["into"], set()).discard(note_id)


def totals(question, entries):
    """A question's totals recomputed from its trail, in the shape results.results gives them:
    {total, counts: {option id or scale value: count}} for votes; {total, dots: {note id: dots},
    placed} for notes (the notes shown: visible and not merged; the dots that count on them)."""
    state = replay(entries)
    if question.kind in ("choice", "yesno", "scale"):
        counts = {}
        for value in state["votes"].values():
            keys = [int(value)] if question.kind == "scale" else [int(o) for o in value.split(",") if o]
            for key in keys:
                counts[key] = counts.get(key, 0) + 1
        return {"total": len(state["votes"]), "counts": counts}
    notes = state["notes"]
    shown_ = {i for i, n in notes.items() if n["status"] == "visible" and n["into"] is None}
    per_note = {}
    for note_id in state["dots"].values():
        target = notes.get(note_id, {}).get("into") or note_id
        if target in shown_:
            per_note[target] = per_note.get(target, 0) + 1
    return {"total": len(shown_), "dots": per_note, "placed": sum(per_note.values())}


KIND_NAMES = {"vote": "vote", "note": "note", "dot": "dot placed", "undot": "dot taken back",
              "edit": "note edited", "hide": "note hidden", "restore": "note restored", "approve": "note approved",
              "highlight": "note highlighted", "unhighlight": "highlight removed", "merge": "note merged",
              "unmerge": "note unmerged", "move": "milestone moved", "open": "question opened",
              "close": "question closed", "dots-open": "dot-voting opened", "dots-close": "dot-voting closed"}

ROW_NAMES = {"vote": "vote", "dot": "dot", "undot": "dot"}


def csv_text(question):
    """A question's audit download: every entry, then totals recomputed from those entries alone."""
    from .transfer import safe_cell  # transfer imports the rules, which import this module

    entries = entries_of(question.id)
    options = {o.id: o.text for o in question.options}
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow([safe_cell(f"Audit trail of: {question.text}")])
    w.writerow(["time (UTC)", "receipt", "kind", "participant", "by", "client id", "about", "value", "detail"])
    for e in entries:
        value = e.value
        if e.kind == "vote" and question.kind != "scale":
            value = "; ".join(options.get(int(o), f"option {o}") for o in e.value.split(",") if o)
        elif e.kind in ("dot", "undot"):
            value = f"note {e.value}"
        elif e.kind == "merge":
            value = f"into note {e.value}"
        w.writerow([e.at.isoformat(timespec="seconds") + "Z", shown(e.receipt), KIND_NAMES.get(e.kind, e.kind),
                    f"P{e.participant_id}" if e.participant_id else "", safe_cell(e.by), safe_cell(e.client_id or ""),
                    f"{ROW_NAMES.get(e.kind, 'note')} {e.target_id}" if e.target_id else "", safe_cell(value), safe_cell(e.detail)])
    result = totals(question, entries)
    w.writerow([])
    w.writerow(["Totals recomputed from this trail alone (the last vote of each participant counts)"])
    if question.kind in ("choice", "yesno"):
        w.writerow(["answer", "votes"])
        for option in question.options:
            w.writerow([safe_cell(option.text), result["counts"].get(option.id, 0)])
        w.writerow(["people who voted", result["total"]])
    elif question.kind == "scale":
        w.writerow(["value", "votes"])
        for v in range(question.scale_min, question.scale_max + 1):
            w.writerow([v, result["counts"].get(v, 0)])
        w.writerow(["people who voted", result["total"]])
    else:
        w.writerow(["notes shown", result["total"]])
        if result["dots"]:
            w.writerow(["dots that count", result["placed"]])
            w.writerow(["note", "dots"])
            for note_id, count in sorted(result["dots"].items(), key=lambda kv: (-kv[1], kv[0])):
                w.writerow([f"note {note_id}", count])
    return out.getvalue()
