"""Action framework rules: priorities (the "vital few") and actions that serve them.

Plain functions for the facilitator's pages and the CSV import (writeup.transfer); they raise
rules.Invalid with a message for the person and never commit: consult.services does.
"""
import secrets

from sqlalchemy import select

from .extensions import db
from .models import Action, ActionLink, Note, Priority, Question
from .rules import Invalid, as_id, move_in

STRENGTHS = ("X", "O")
MAX_PRIORITIES = 12
MAX_ACTIONS = 1000  # a session's actions: a framework is a page or two, not a spreadsheet of thousands
FIELDS = {"number": 12, "theme": 200, "sub_theme": 200, "text": 2000, "lead": 200, "outcome": 2000}


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
    if len(out) > MAX_PRIORITIES:
        raise Invalid(f"At most {MAX_PRIORITIES} priorities.")
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


def clean_fields(data):
    """An action's fields from form data, stripped and within their lengths, or Invalid."""
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


def save_action(session, action, data):
    """Create (action None) or update an action from form data: fields and p<priority id> marks."""
    values = clean_fields(data)
    links = _links(session, data)
    if action is None:
        if len(session.actions) >= MAX_ACTIONS:
            raise Invalid(f"A session has at most {MAX_ACTIONS} actions.")
        action = Action(session_id=session.id, position=len(session.actions))
        session.actions.append(action)
    for field, value in values.items():
        setattr(action, field, value)
    action.links = links
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
    return action


def share(session):
    """Make (or replace) the read-only link to the write-up; an old link stops working."""
    session.share_token = secrets.token_urlsafe(24)
    return session.share_token


def unshare(session):
    session.share_token = None
