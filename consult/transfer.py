"""A whole session as one JSON document, and back.

The document (format "consult-session", version 1) holds the session, its tables, questions
and options (and a trajectory grid's rows and horizons), anonymous participants (numbered, no
tokens), votes, notes with their edit history (and a milestone's cell: row and horizon), host
summaries, dot-voting (each question's dots each, and every dot: whose, on which note), priorities
and actions. References between them use the numbers inside the
document, not database ids. Importing makes a new session, with a new join code
and new host links, that gives the same write-up.

Also the action framework as CSV, out and in, for a team that drafts actions in a spreadsheet.
Importing writes into the open transaction; consult.services commits.
"""
import csv
import io
import re
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from .extensions import db
from .models import (
    Action,
    ActionLink,
    CafeSession,
    CafeTable,
    Dot,
    Horizon,
    HostSummary,
    Note,
    NoteEdit,
    Option,
    Participant,
    Priority,
    Question,
    TrajectoryRow,
    Vote,
    VoteChoice,
    utcnow,
)
from .dots import MAX_DOTS
from .framework import save_action
from .rules import Invalid, unique_join_code

FORMAT, VERSION = "consult-session", 1
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Characters XML 1.0 cannot hold, so neither can Word or Excel files: C0 controls but tab,
# newline and carriage return; lone surrogates; U+FFFE and U+FFFF.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
CONTROLS = "".join(map(chr, range(32)))


def safe_cell(value):
    """A spreadsheet cell that cannot run as a formula: participants' text is untrusted.

    Control characters before the formula sign do not stop a spreadsheet from reading one."""
    if isinstance(value, str) and value.lstrip(CONTROLS).startswith(FORMULA_START):
        return "'" + value
    return value


def xml_safe(value):
    """value (text, or lists and dicts of it) without what an XML document cannot hold."""
    if isinstance(value, str):
        return NOT_XML.sub("", value)
    if isinstance(value, dict):
        return {k: xml_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [xml_safe(v) for v in value]
    return value


def plain_cell(value):
    """A cell as it was before safe_cell protected it."""
    if value.startswith("'") and value[1:].lstrip(CONTROLS).startswith(FORMULA_START):
        return value[1:]
    return value


def _when(value):
    return value.isoformat() if value else None


def export(session):
    tables = {t.id: i for i, t in enumerate(session.tables)}
    questions = {q.id: i for i, q in enumerate(session.questions)}
    options = {o.id: (questions[q.id], j) for q in session.questions for j, o in enumerate(q.options)}
    # A trajectory milestone's cell, as the positions of its row and horizon in the question's lists.
    grid_rows = {r.id: j for q in session.questions for j, r in enumerate(q.rows)}
    grid_horizons = {h.id: j for q in session.questions for j, h in enumerate(q.horizons)}
    people = {p.id: i for i, p in enumerate(sorted(session.participants, key=lambda p: p.id))}
    qids = list(questions)
    notes = db.session.scalars(
        select(Note).where(Note.question_id.in_(qids)).options(selectinload(Note.edits)).order_by(Note.id)
    ).all()
    note_ref = {n.id: i for i, n in enumerate(notes)}
    votes = db.session.scalars(
        select(Vote).where(Vote.question_id.in_(qids)).options(selectinload(Vote.choices)).order_by(Vote.id)
    ).all()
    priorities = {p.id: i for i, p in enumerate(session.priorities)}
    return {
        "format": FORMAT,
        "version": VERSION,
        "session": {
            "title": session.title, "date": _when(session.date), "venue": session.venue,
            "description": session.description, "current_round": session.current_round,
            "moderation": session.moderation, "blocked_words": session.blocked_words,
        },
        "tables": [{"name": t.name} for t in session.tables],
        "questions": [
            {"kind": q.kind, "text": q.text, "multiple": q.multiple, "allow_unsure": q.allow_unsure,
             "scale_min": q.scale_min, "scale_max": q.scale_max, "min_label": q.min_label, "max_label": q.max_label,
             "max_length": q.max_length, "is_open": q.is_open, "revealed": q.revealed,
             "options": [o.text for o in q.options], "rows": [r.text for r in q.rows],
             "horizons": [{"name": h.name, "hint": h.hint} for h in q.horizons],
             "dots": q.dots, "dots_open": q.dots_open,
             **_pictures(q)}
            for q in session.questions
        ],
        "participants": [{"table": tables.get(p.table_id)} for p in sorted(session.participants, key=lambda p: p.id)],
        "votes": [
            {"question": questions[v.question_id], "participant": people[v.participant_id], "value": v.value,
             "options": sorted(options[c.option_id][1] for c in v.choices), "table": tables.get(v.table_id),
             "round": v.round, "at": _when(v.updated_at)}
            for v in votes
        ],
        "notes": [
            {"question": questions[n.question_id], "participant": people.get(n.participant_id),
             "author": n.author, "text": n.text, "table": tables.get(n.table_id), "round": n.round,
             "status": n.status, "highlight": n.highlight, "merged_into": note_ref.get(n.merged_into_id),
             "at": _when(n.created_at), "row": grid_rows.get(n.row_id), "horizon": grid_horizons.get(n.horizon_id),
             "edits": [{"text": e.text, "action": e.action, "by": e.by, "at": _when(e.at)} for e in n.edits]}
            for n in notes
        ],
        "dots": [
            {"question": questions[d.question_id], "note": note_ref[d.note_id], "participant": people[d.participant_id],
             "at": _when(d.created_at)}
            for d in db.session.scalars(select(Dot).where(Dot.question_id.in_(qids)).order_by(Dot.id))
        ],
        "summaries": [
            {"table": tables[s.table_id], "question": questions[s.question_id], "round": s.round, "text": s.text}
            for s in db.session.scalars(select(HostSummary).where(HostSummary.question_id.in_(qids)).order_by(HostSummary.id))
        ],
        "priorities": [{"code": p.code, "name": p.name} for p in session.priorities],
        "actions": [
            {"number": a.number, "theme": a.theme, "sub_theme": a.sub_theme, "text": a.text, "lead": a.lead,
             "outcome": a.outcome, "note": note_ref.get(a.note_id),
             "links": {str(priorities[link.priority_id]): link.strength for link in a.links}}
            for a in session.actions
        ],
    }


def _pictures(question):
    """A question's pictures inline (data URIs), so the one file carries the whole session."""
    from . import pictures

    out = {}
    if question.image:
        out["picture"] = {"data": pictures.data_uri(question.image), "alt": question.image_alt}
    if any(o.image for o in question.options):
        out["option_pictures"] = [
            {"data": pictures.data_uri(o.image), "alt": o.image_alt} if o.image else None for o in question.options
        ]
    return out


def _picture(value):
    """Save an exported picture again; returns (file name, alt text), or Invalid."""
    import base64
    import binascii

    from . import pictures

    if not isinstance(value, dict) or not isinstance(value.get("data"), str):
        raise Invalid("The session file is damaged or incomplete (a picture).")
    if not value["data"]:
        return None, ""  # the picture was missing when exported
    head, _, body = value["data"].partition(",")
    try:
        data = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise Invalid("The session file is damaged or incomplete (a picture).") from None
    kind = pictures.sniff(data)
    if kind is None or len(data) > pictures.MAX_BYTES or not head.startswith("data:image/"):
        raise Invalid("The session file has a picture consult cannot show.")
    name = pictures.Upload(data, pictures.FORMATS[kind][0]).save()
    return name, pictures.clean_alt(value.get("alt") or "") or "Picture"


def _load_pictures(question, q):
    if q.get("picture"):
        question.image, question.image_alt = _picture(q["picture"])
    for option, value in zip(question.options, q.get("option_pictures") or []):
        if value:
            option.image, option.image_alt = _picture(value)


def _time(value):
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise Invalid(f"Not a date and time: {str(value)[:40]!r}.") from None


def _date(value):
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise Invalid(f"Not a date: {str(value)[:40]!r}.") from None


def _item(items, ref):
    """The id of items[ref] (a note's grid row or horizon), None for no ref; a bad ref is damage."""
    if ref is None:
        return None
    if isinstance(ref, bool) or not isinstance(ref, int) or not 0 <= ref < len(items):
        raise IndexError(f"no row or horizon {str(ref)[:20]}")
    return items[ref].id


def _ref(items, ref):
    """ref as a position in items (a dot's note or participant); a bad one is damage."""
    if isinstance(ref, bool) or not isinstance(ref, int) or not 0 <= ref < len(items):
        raise IndexError(f"no item {str(ref)[:20]}")
    return ref


def _dots_each(value):
    """A question's dots each, from a file: 0 (dot-voting never opened) to MAX_DOTS."""
    value = value or 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_DOTS:
        raise ValueError(f"dots each must be 0 to {MAX_DOTS}, not {str(value)[:20]}")
    return value


def import_session(data, owner_id):
    """A new session of owner_id's from an exported document; raises Invalid for a bad one."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise Invalid("This is not a consult session file.")
    if data.get("version") != VERSION:
        raise Invalid(f"This file is version {data.get('version')!r}; this consult reads version {VERSION}.")
    try:
        return _import(data, owner_id)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as error:
        raise Invalid(f"The session file is damaged or incomplete ({type(error).__name__}: {error}).") from None


def _import(data, owner_id):
    s = data["session"]
    session = CafeSession(
        owner_id=owner_id, title=str(s["title"])[:200], date=_date(s.get("date")), venue=s.get("venue") or "",
        description=s.get("description") or "", current_round=int(s.get("current_round") or 0),
        moderation=s.get("moderation") or "post", blocked_words=s.get("blocked_words") or "",
        join_code=unique_join_code(),
    )
    db.session.add(session)
    tables = [CafeTable(name=str(t["name"])[:60], position=i) for i, t in enumerate(data.get("tables", []))]
    session.tables.extend(tables)
    questions = []
    for i, q in enumerate(data["questions"]):
        question = Question(
            position=i, kind=q["kind"], text=q["text"], multiple=bool(q.get("multiple")),
            allow_unsure=bool(q.get("allow_unsure")), scale_min=int(q.get("scale_min", 1)),
            scale_max=int(q.get("scale_max", 5)), min_label=q.get("min_label") or "",
            max_label=q.get("max_label") or "", max_length=int(q.get("max_length") or 280),
            is_open=bool(q.get("is_open")), revealed=bool(q.get("revealed", True)),
            dots=_dots_each(q.get("dots")), dots_open=bool(q.get("dots_open")),
        )
        question.options = [Option(text=str(t)[:200], position=j) for j, t in enumerate(q.get("options", []))]
        _load_pictures(question, q)
        question.rows = [TrajectoryRow(text=str(t)[:500], position=j) for j, t in enumerate(q.get("rows", []))]
        question.horizons = [Horizon(name=str(h["name"])[:80], hint=str(h.get("hint") or "")[:80], position=j)
                             for j, h in enumerate(q.get("horizons", []))]
        session.questions.append(question)
        questions.append(question)
    table = lambda ref: tables[ref] if ref is not None else None  # noqa: E731
    people = [Participant(table=table(p.get("table"))) for p in data.get("participants", [])]
    session.participants.extend(people)
    db.session.flush()
    for i, v in enumerate(data.get("votes", [])):
        q = questions[v["question"]]
        vote = Vote(question_id=q.id, participant_id=people[v["participant"]].id, value=v.get("value"),
                    table_id=table(v.get("table")).id if v.get("table") is not None else None,
                    round=int(v.get("round") or 0), client_id=f"import-{session.join_code}-v{i}",
                    created_at=_time(v.get("at")), updated_at=_time(v.get("at")))
        vote.choices = [VoteChoice(option_id=q.options[j].id) for j in v.get("options", [])]
        db.session.add(vote)
    notes = []
    for i, n in enumerate(data.get("notes", [])):
        note = Note(
            question_id=questions[n["question"]].id,
            participant_id=people[n["participant"]].id if n.get("participant") is not None else None,
            author=n.get("author") or "participant", text=n["text"],
            table_id=table(n.get("table")).id if n.get("table") is not None else None,
            round=int(n.get("round") or 0), status=n.get("status") or "visible", highlight=bool(n.get("highlight")),
            client_id=f"import-{session.join_code}-n{i}", created_at=_time(n.get("at")),
            row_id=_item(questions[n["question"]].rows, n.get("row")),
            horizon_id=_item(questions[n["question"]].horizons, n.get("horizon")),
        )
        note.edits = [NoteEdit(text=e["text"], action=e.get("action", "edit"), by=e.get("by", ""), at=_time(e.get("at")))
                      for e in n.get("edits", [])]
        db.session.add(note)
        notes.append(note)
    db.session.flush()
    for n, note in zip(data.get("notes", []), notes):
        if n.get("merged_into") is not None:
            note.merged_into_id = notes[n["merged_into"]].id
    for i, d in enumerate(data.get("dots", [])):  # dot-voting: each dot on its note, by its participant
        note = notes[_ref(notes, d["note"])]
        db.session.add(Dot(question_id=note.question_id, note_id=note.id, participant_id=people[_ref(people, d["participant"])].id,
                           client_id=f"import-{session.join_code}-d{i}", created_at=_time(d.get("at")) or utcnow()))
    for s_ in data.get("summaries", []):
        db.session.add(HostSummary(table_id=tables[s_["table"]].id, question_id=questions[s_["question"]].id,
                                   round=int(s_.get("round") or 0), text=s_.get("text") or ""))
    priorities = [Priority(code=str(p["code"])[:12], name=p.get("name") or "", position=i)
                  for i, p in enumerate(data.get("priorities", []))]
    session.priorities.extend(priorities)
    db.session.flush()
    for i, a in enumerate(data.get("actions", [])):
        action = Action(session_id=session.id, position=i, number=a.get("number") or "", theme=a.get("theme") or "",
                        sub_theme=a.get("sub_theme") or "", text=a["text"], lead=a.get("lead") or "",
                        outcome=a.get("outcome") or "",
                        note_id=notes[a["note"]].id if a.get("note") is not None else None)
        action.links = [ActionLink(priority_id=priorities[int(k)].id, strength=v) for k, v in a.get("links", {}).items()
                        if v in ("X", "O")]
        db.session.add(action)
    return session


# -- the action framework as CSV ---------------------------------------------------

ACTIONS_HEAD = ["Theme", "Sub-theme", "Action", "No", "Suggested lead"]


def actions_csv(session):
    out = io.StringIO()
    writer = csv.writer(out)
    codes = [p.code for p in session.priorities]
    writer.writerow(ACTIONS_HEAD + codes + ["Outcome measure"])
    for a in session.actions:
        marks = {link.priority_id: link.strength for link in a.links}
        writer.writerow([safe_cell(v) for v in [a.theme, a.sub_theme, a.text, a.number, a.lead]
                         + [marks.get(p.id, "") for p in session.priorities] + [a.outcome]])
    return out.getvalue()


def import_actions_csv(session, text):
    """Add the actions of a CSV like actions_csv writes; unknown priority columns are added."""
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or [h.strip() for h in rows[0][:5]] != ACTIONS_HEAD or rows[0][-1].strip() != "Outcome measure":
        raise Invalid("The first row must be: " + ", ".join(ACTIONS_HEAD) + ", then priority codes, then Outcome measure.")
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
            raise Invalid(f"Row {n} has {len(row)} cells; the first row has {len(rows[0])}.")
        # Cells that were protected from spreadsheets on the way out come back as written.
        cells = [plain_cell(c) for c in row]
        data = dict(zip(["theme", "sub_theme", "text", "number", "lead"], cells[:5]))
        data["outcome"] = cells[-1]
        for code, mark in zip(codes, cells[5:-1]):
            data[f"p{known[code.lower()].id}"] = mark
        try:
            save_action(session, None, data)
        except Invalid as error:
            raise Invalid(f"Row {n}: {error}") from None
        added += 1
    return added
