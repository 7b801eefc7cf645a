"""Action framework rules: priorities (the "vital few") and actions that serve them.

Plain functions for the facilitator's pages and the CSV import; they raise rules.Invalid
with a message for the person and commit what they change.
"""
import csv
import io
import re
import secrets

from sqlalchemy import select

from .extensions import db
from .models import Action, ActionLink, Note, Priority, Question
from .rules import Invalid, as_id, move_in
from .writeup.formats import safe_cell

STRENGTHS = ("X", "O")
FIELDS = {"number": 12, "theme": 200, "sub_theme": 200, "text": 2000, "lead": 200, "outcome": 2000}
CSV_HEAD = ["Theme", "Sub-theme", "Action", "No", "Suggested lead"]


def parse_priorities(raw):
    """Priorities from a textarea: one a line, "VF1 | Vision & Leadership" (or "VF1 Vision...")."""
    out = []
    for line in (raw or "").splitlines():
        line = line.strip()
        if not line:
            continue
        code, _, name = line.partition("|") if "|" in line else line.partition(" ")
        code, name = code.strip()[:12], name.strip()[:120]
        if not code:
            raise Invalid("Each priority needs a short code, such as VF1.")
        out.append((code, name))
    codes = [c.lower() for c, _ in out]
    if len(set(codes)) != len(codes):
        raise Invalid("Two priorities have the same code.")
    if len(out) > 12:
        raise Invalid("At most 12 priorities.")
    return out


def set_priorities(session, pairs):
    """Match priorities by code, so actions keep their X and O marks."""
    existing = {p.code.lower(): p for p in session.priorities}
    keep = []
    for i, (code, name) in enumerate(pairs):
        priority = existing.pop(code.lower(), None) or Priority(code=code)
        priority.code, priority.name, priority.position = code, name, i
        keep.append(priority)
    session.priorities = keep
    db.session.commit()


def _clean(data):
    values = {}
    for field, limit in FIELDS.items():
        value = data.get(field, "")
        if not isinstance(value, str):
            raise Invalid("Malformed form.")
        value = value.strip()
        if len(value) > limit:
            raise Invalid(f"{field.replace('_', '-').capitalize()} is at most {limit} characters.")
        values[field] = value
    if not values["text"]:
        raise Invalid("Write the action.")
    return values


def _links(session, data):
    links = []
    for p in session.priorities:
        mark = (data.get(f"p{p.id}") or "").strip().upper()
        if mark and mark not in STRENGTHS:
            raise Invalid("Mark a priority X (strong), O (supporting) or leave it empty.")
        if mark:
            links.append(ActionLink(priority_id=p.id, strength=mark))
    return links


def save_action(session, action, data, commit=True):
    """Create (action None) or update an action from form data: fields and p<priority id> marks."""
    values = _clean(data)
    links = _links(session, data)
    if action is None:
        action = Action(session_id=session.id, position=len(session.actions))
        session.actions.append(action)
    for field, value in values.items():
        setattr(action, field, value)
    action.links = links
    if commit:
        db.session.commit()
    return action


def action_in(session, action_id):
    action_id = as_id(action_id, digits=True)
    action = db.session.get(Action, action_id) if action_id else None
    if action is None or action.session_id != session.id:
        raise Invalid("That action was not found.")
    return action


def delete_action(session, action):
    session.actions.remove(action)
    for i, a in enumerate(session.actions):
        a.position = i
    db.session.commit()


def move_action(session, action, step):
    move_in(session.actions, action, step)


def highlights(session):
    """Hosts' highlights that could become actions: (note, question, table name), question order."""
    tables = {t.id: t.name for t in session.tables}
    rows = db.session.execute(
        select(Note, Question).join(Question, Note.question_id == Question.id)
        .where(Question.session_id == session.id, Note.highlight.is_(True), Note.status == "visible",
               Note.merged_into_id.is_(None))
        .order_by(Question.position, Note.table_id, Note.id)
    ).all()
    return [(note, question, tables.get(note.table_id, "")) for note, question in rows]


def action_from_note(session, note_id):
    """One click: a highlight becomes an action, linked back to it."""
    note_id = as_id(note_id, digits=True)
    note = db.session.get(Note, note_id) if note_id else None
    if note is None or note.question.session_id != session.id:
        raise Invalid("That note was not found.")
    number = str(len(session.actions) + 1)
    action = Action(session_id=session.id, position=len(session.actions), number=number,
                    theme=note.question.text[:200], text=note.text[:2000], note_id=note.id,
                    sub_theme=next((t.name for t in session.tables if t.id == note.table_id), ""))
    session.actions.append(action)
    db.session.commit()
    return action


def actions_csv(session):
    out = io.StringIO()
    writer = csv.writer(out)
    codes = [p.code for p in session.priorities]
    writer.writerow(CSV_HEAD + codes + ["Outcome measure"])
    for a in session.actions:
        marks = {link.priority_id: link.strength for link in a.links}
        writer.writerow([safe_cell(v) for v in [a.theme, a.sub_theme, a.text, a.number, a.lead]
                         + [marks.get(p.id, "") for p in session.priorities] + [a.outcome]])
    return out.getvalue()


def import_actions_csv(session, text):
    """Add the actions of a CSV like actions_csv writes; unknown priority columns are added."""
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or [h.strip() for h in rows[0][:5]] != CSV_HEAD or rows[0][-1].strip() != "Outcome measure":
        raise Invalid("The first row must be: " + ", ".join(CSV_HEAD) + ", then priority codes, then Outcome measure.")
    codes = [c.strip() for c in rows[0][5:-1]]
    known = {p.code.lower(): p for p in session.priorities}
    for code in codes:
        if code.lower() not in known:
            if not re.fullmatch(r"[\w.-]{1,12}", code):
                raise Invalid(f"Not a priority code: {code[:20]!r}.")
            priority = Priority(code=code, name="", position=len(session.priorities))
            session.priorities.append(priority)
            known[code.lower()] = priority
    db.session.flush()
    added = 0
    for n, row in enumerate(rows[1:], 2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(rows[0]):
            db.session.rollback()
            raise Invalid(f"Row {n} has {len(row)} cells; the first row has {len(rows[0])}.")
        # Cells that were protected from spreadsheets on the way out come back as written.
        cells = [c[1:] if c.startswith("'") and c[1:2] in "=+-@\t\r" and c[1:] else c for c in row]
        data = dict(zip(["theme", "sub_theme", "text", "number", "lead"], cells[:5]))
        data["outcome"] = cells[-1]
        for code, mark in zip(codes, cells[5:-1]):
            data[f"p{known[code.lower()].id}"] = mark
        try:
            save_action(session, None, data, commit=False)
        except Invalid as error:
            db.session.rollback()
            raise Invalid(f"Row {n}: {error}") from None
        added += 1
    db.session.commit()
    return added


def share(session):
    """Make (or replace) the read-only link to the write-up; an old link stops working."""
    session.share_token = secrets.token_urlsafe(24)
    db.session.commit()
    return session.share_token


def unshare(session):
    session.share_token = None
    db.session.commit()
