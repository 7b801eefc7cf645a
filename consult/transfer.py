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
from datetime import date

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
from .framework import MAX_ACTIONS, MAX_PRIORITIES, save_action
from .validate import clean_text as _clean_text
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


def _save_picture(picture):
    """Store a checked picture of the file (session_file.Picture): (file name, alt text), or (None, "")."""
    from . import pictures

    if picture is None or picture._upload is None:
        return None, ""  # none, or it was missing when exported
    return picture._upload.save(), pictures.clean_alt(picture.alt or "") or "Picture"


def import_session(data, owner_id):
    """A new session of owner_id's from an exported document (decoded JSON, or a session_file.Document
    already checked); raises Invalid for a bad one.

    The whole file is checked first (session_file.check: kinds, statuses, sizes, references,
    merges, pictures), so a refused file stores nothing, not even a picture.
    """
    from .session_file import Document, check

    return _import(data if isinstance(data, Document) else check(data), owner_id)


def _import(doc, owner_id):
    s = doc.session
    session = CafeSession(
        owner_id=owner_id, title=s.title, date=date.fromisoformat(s.date) if s.date else None, venue=s.venue or "",
        description=s.description or "", current_round=s.current_round or 0, moderation=s.moderation or "post",
        blocked_words=s.blocked_words or "", join_code=unique_join_code(),
    )
    db.session.add(session)
    tables = [CafeTable(name=t.name, position=i) for i, t in enumerate(doc.tables)]
    session.tables.extend(tables)
    questions = []
    for i, q in enumerate(doc.questions):
        question = Question(
            position=i, kind=q.kind, text=q.text, multiple=q.multiple, allow_unsure=q.allow_unsure,
            scale_min=q.scale_min, scale_max=q.scale_max, min_label=q.min_label or "", max_label=q.max_label or "",
            max_length=q.max_length, is_open=q.is_open, revealed=q.revealed, dots=q.dots, dots_open=q.dots_open,
        )
        question.options = [Option(text=t, position=j) for j, t in enumerate(q.options)]
        question.rows = [TrajectoryRow(text=t, position=j) for j, t in enumerate(q.rows)]
        question.horizons = [Horizon(name=h.name, hint=h.hint or "", position=j) for j, h in enumerate(q.horizons)]
        session.questions.append(question)
        questions.append(question)
    table = lambda ref: tables[ref] if ref is not None else None  # noqa: E731
    table_id = lambda ref: tables[ref].id if ref is not None else None  # noqa: E731
    people = [Participant(table=table(p.table)) for p in doc.participants]
    session.participants.extend(people)
    db.session.flush()
    for i, v in enumerate(doc.votes):
        q = questions[v.question]
        vote = Vote(question_id=q.id, participant_id=people[v.participant].id, value=v.value,
                    table_id=table_id(v.table), round=v.round or 0, client_id=f"import-{session.join_code}-v{i}",
                    created_at=v.at, updated_at=v.at)
        vote.choices = [VoteChoice(option_id=q.options[j].id) for j in v.options]
        db.session.add(vote)
    notes = []
    for i, n in enumerate(doc.notes):
        q = questions[n.question]
        note = Note(
            question_id=q.id, participant_id=people[n.participant].id if n.participant is not None else None,
            author=n.author or "participant", text=n.text, table_id=table_id(n.table), round=n.round or 0,
            status=n.status or "visible", highlight=n.highlight, client_id=f"import-{session.join_code}-n{i}",
            created_at=n.at, row_id=q.rows[n.row].id if n.row is not None else None,
            horizon_id=q.horizons[n.horizon].id if n.horizon is not None else None,
        )
        note.edits = [NoteEdit(text=e.text, action=e.action, by=e.by or "", at=e.at) for e in n.edits]
        db.session.add(note)
        notes.append(note)
    db.session.flush()
    for n, note in zip(doc.notes, notes):
        if n.merged_into is not None:
            note.merged_into_id = notes[n.merged_into].id
    for i, d in enumerate(doc.dots):  # dot-voting: each dot on its note, by its participant
        note = notes[d.note]
        db.session.add(Dot(question_id=note.question_id, note_id=note.id, participant_id=people[d.participant].id,
                           client_id=f"import-{session.join_code}-d{i}", created_at=d.at or utcnow()))
    for s_ in doc.summaries:
        db.session.add(HostSummary(table_id=tables[s_.table].id, question_id=questions[s_.question].id,
                                   round=s_.round or 0, text=s_.text or ""))
    priorities = [Priority(code=p.code, name=p.name or "", position=i) for i, p in enumerate(doc.priorities)]
    session.priorities.extend(priorities)
    db.session.flush()
    for i, a in enumerate(doc.actions):
        action = Action(session_id=session.id, position=i, number=a.number or "", theme=a.theme or "",
                        sub_theme=a.sub_theme or "", text=a.text, lead=a.lead or "", outcome=a.outcome or "",
                        note_id=notes[a.note].id if a.note is not None else None)
        action.links = [ActionLink(priority_id=priorities[int(k)].id, strength=v) for k, v in a.links.items()]
        db.session.add(action)
    # Pictures last: nothing above can fail on a checked file, so no picture is stored for nothing.
    for question, q in zip(questions, doc.questions):
        question.image, question.image_alt = _save_picture(q.picture)
        for option, picture in zip(question.options, q.option_pictures):
            option.image, option.image_alt = _save_picture(picture)
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


MAX_CELL = 5000  # characters in one cell: an action's longest field is 2000


def _csv_rows(text):
    """The rows of an actions CSV, at most MAX_ACTIONS of them (and a heading), or Invalid."""
    text = text.replace("\x00", "")  # NUL: nothing a spreadsheet means; PostgreSQL refuses it
    rows, actions = [], 0
    try:
        reader = csv.reader(io.StringIO(text))
        for row in reader:
            if len(row) > 5 + MAX_PRIORITIES + 1:
                raise Invalid(f"Row {reader.line_num} has {len(row)} cells: at most {MAX_PRIORITIES} priority columns fit.")
            if any(len(cell) > MAX_CELL for cell in row):
                raise Invalid(f"Row {reader.line_num} has a cell longer than {MAX_CELL} characters.")
            if rows and any(cell.strip() for cell in row):
                actions += 1
                if actions > MAX_ACTIONS:
                    raise Invalid(f"That file has more than {MAX_ACTIONS} actions: a session has at most {MAX_ACTIONS}.")
            rows.append([_clean_text(cell) for cell in row])
    except csv.Error as error:
        raise Invalid(f"That file is not a CSV consult can read (line {reader.line_num}: {error}).") from None
    return rows, actions


def import_actions_csv(session, text):
    """Add the actions of a CSV like actions_csv writes; unknown priority columns are added.

    At most MAX_ACTIONS actions in a session, and in a file; cells within each field's length."""
    rows, actions = _csv_rows(text)
    if len(session.actions) + actions > MAX_ACTIONS:
        raise Invalid(f"The session has {len(session.actions)} actions; with {actions} more it would pass "
                      f"the limit of {MAX_ACTIONS}.")
    if not rows or [h.strip() for h in rows[0][:5]] != ACTIONS_HEAD or rows[0][-1].strip() != "Outcome measure":
        raise Invalid("The first row must be: " + ", ".join(ACTIONS_HEAD) + ", then priority codes, then Outcome measure.")
    codes = [c.strip() for c in rows[0][5:-1]]
    known = {p.code.lower(): p for p in session.priorities}
    for code in codes:
        if code.lower() not in known:
            if not re.fullmatch(r"[\w.-]{1,12}", code):
                raise Invalid(f"Not a priority code: {code[:20]!r}.")
            if len(session.priorities) >= MAX_PRIORITIES:
                raise Invalid(f"A session has at most {MAX_PRIORITIES} priorities.")
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
