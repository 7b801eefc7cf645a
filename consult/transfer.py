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
from .framework import clean_fields as framework_clean
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
MAX_COLUMNS = 40  # the framework's columns, its priorities, and room for a team's own notes columns

# Column names as teams keep them, normalised (see _norm): the framework's own, and common variants.
COLUMNS = {
    "theme": ("theme", "themes"),
    "sub_theme": ("sub theme", "subtheme", "sub themes", "subthemes"),
    "text": ("action", "actions", "action text"),
    "number": ("no", "number", "action no", "action number", "action num", "ref", "reference",
               "action ref", "action reference"),
    "lead": ("suggested lead", "lead", "suggested lead organisation", "suggested lead organization",
             "lead organisation", "lead organization", "suggested leads", "leads"),
    "outcome": ("outcome measure", "outcome measures", "outcome", "outcomes", "measure", "measures"),
}
LABELS = {"theme": "Theme", "sub_theme": "Sub-theme", "text": "Action", "number": "No",
          "lead": "Suggested lead", "outcome": "Outcome measure"}
ALIASES = {name: field for field, names in COLUMNS.items() for name in names}
MARKS = {"x": "X", "✓": "X", "✔": "X", "o": "O"}


def _norm(header, numbers=True):
    """A heading as compared: case, spaces and punctuation aside; without numbers, "Outcome
    Measure 2008" is the outcome measure (a year or a version a team added)."""
    text = header.strip().lower().replace("#", " no ")  # "Action #" is its number
    text = re.sub(r"\(s\)", "s", text)
    text = " ".join(re.sub(r"[\W_]+", " ", text).split())
    if not numbers:
        text = re.sub(r"(\s+\d+)+$", "", text)
    return text


def _dialect(text):
    """Excel's "sep=;" first line, else the separator the heading uses most: commas, or
    semicolons (Excel where the comma is the decimal point), or tabs."""
    first, _, rest = text.partition("\n")
    found = re.fullmatch(r'"?sep=(.)"?\r?', first.strip("\ufeff"))
    if found:
        return found.group(1), rest, 1
    counts = {sep: first.count(sep) for sep in ",;\t"}
    return max(counts, key=lambda sep: (counts[sep], sep == ",")), text, 0


def _csv_rows(text):
    """The rows of an actions CSV, at most MAX_ACTIONS of them (and a heading), or Invalid.

    Also returns how many lines came before the heading (a "sep=" line), for row numbers."""
    text = text.lstrip("\ufeff").replace("\x00", "")  # NUL: nothing a spreadsheet means; PostgreSQL refuses it
    delimiter, text, skipped = _dialect(text)
    rows, actions = [], 0
    try:
        reader = csv.reader(io.StringIO(text), delimiter=delimiter)
        for row in reader:
            n = reader.line_num + skipped
            if len(row) > MAX_COLUMNS:
                raise Invalid(f"Row {n} has {len(row)} cells: at most {MAX_COLUMNS} columns "
                              f"(and {MAX_PRIORITIES} priority columns) fit.")
            if any(len(cell) > MAX_CELL for cell in row):
                raise Invalid(f"Row {n} has a cell longer than {MAX_CELL} characters.")
            if rows and any(cell.strip() for cell in row):
                actions += 1
                if actions > MAX_ACTIONS:
                    raise Invalid(f"That file has more than {MAX_ACTIONS} actions: a session has at most {MAX_ACTIONS}.")
            rows.append([_clean_text(cell) for cell in row])
    except csv.Error as error:
        raise Invalid(f"That file is not a CSV consult can read (line {reader.line_num + skipped}: {error}).") from None
    return rows, actions, skipped


def _new_code(header, values):
    """A column the session has no priority for is a new one when it looks like a code (VF1)
    and holds only marks: a framework exported from another session."""
    code = header.strip()
    if not re.fullmatch(r"[^\W\d_][\w.-]{0,11}", code):
        return False
    marks = [v.strip().lower() for v in values if v.strip()]
    if any(m not in MARKS for m in marks):
        return False
    return bool(marks) or any(c.isdigit() for c in code)


def plan_actions(session, text):
    """What importing an actions CSV would add, without adding anything.

    Columns are matched by heading in any order; priorities by the session's codes or names.
    Returns a dict: columns [(heading, what it fills or None)], missing and ignored headings,
    new priority codes, rows [{n, values, marks, error}], and ok. Raises Invalid for a file that
    cannot be read at all (not a CSV, too big)."""
    rows, _, skipped = _csv_rows(text)
    while rows and not any(c.strip() for c in rows[0]):
        rows.pop(0)
        skipped += 1
    if not rows:
        raise Invalid("That file is empty: its first row should name the columns, such as Action.")
    head = rows[0]
    body = [(n, row) for n, row in enumerate(rows[1:], 2 + skipped) if any(c.strip() for c in row)]
    def key(text):  # "VF 1" is VF1
        return _norm(text).replace(" ", "")
    by_code = {key(p.code): p.code for p in session.priorities}
    by_name = {key(p.name): p.code for p in session.priorities if key(p.name)}
    columns, taken, problems = [], {}, []
    for i, header in enumerate(head):
        full, short = _norm(header), _norm(header, numbers=False)
        field = ALIASES.get(full) or ALIASES.get(short)
        if field:
            target = ("field", field)
        elif key(header) in by_code or key(header) in by_name:
            target = ("priority", by_code.get(key(header)) or by_name[key(header)])
        elif _new_code(header, [row[i] if i < len(row) else "" for _, row in body]):
            target = ("new", header.strip())
        else:
            target = None
        same = target and (target[0] == "field", target[1].lower())
        if same in taken:
            problems.append(f"Two columns fill the same thing: “{taken[same]}” and “{header.strip()}”.")
            target = None
        elif target:
            taken[same] = header.strip()
        columns.append((header.strip(), target))
    filled = {t[1] for _, t in columns if t and t[0] == "field"}
    missing = [LABELS["text"]] if "text" not in filled else []
    ignored = [h or f"column {i + 1}" for i, (h, t) in enumerate(columns)
               if t is None and (h or any(i < len(row) and row[i].strip() for _, row in body))]
    new = [t[1] for _, t in columns if t and t[0] == "new"]
    if len({_norm(p.code) for p in session.priorities} | {c.lower() for c in new}) > MAX_PRIORITIES:
        problems.append(f"A session has at most {MAX_PRIORITIES} priorities: this file would add "
                        f"{', '.join(new)} to the {len(session.priorities)} it has.")
    planned = []
    for n, row in body:
        values, marks, error = {}, {}, None
        if len(row) > len(head) and any(c.strip() for c in row[len(head):]):
            error = f"Row {n} has {len(row)} cells; the first row names {len(head)} columns."
        for i, (header, target) in enumerate(columns):
            cell = plain_cell(row[i]) if i < len(row) else ""
            if target is None:
                continue
            if target[0] == "field":
                values[target[1]] = cell.strip()
                continue
            mark = cell.strip().lower()
            if mark and mark not in MARKS:
                error = error or (f"Row {n}, column “{header}”: “{cell.strip()[:40]}” is not a mark: "
                                  "use X (strong), O (supporting) or leave it empty.")
            elif mark:
                marks[target[1]] = MARKS[mark]
        if not error and not missing:
            try:
                framework_clean(values)
            except Invalid as problem:
                error = f"Row {n}: {problem}"
        planned.append({"n": n, "values": values, "marks": marks, "error": error})
    if not planned and not missing:
        problems.append("That file has a heading but no actions.")
    elif len(session.actions) + len(planned) > MAX_ACTIONS:
        problems.append(f"The session has {len(session.actions)} actions; with {len(planned)} more it would pass "
                        f"the limit of {MAX_ACTIONS}.")
    ok = not missing and not problems and not any(r["error"] for r in planned)
    return {"columns": columns, "missing": missing, "ignored": ignored, "new": new,
            "problems": problems, "rows": planned, "ok": ok, "labels": LABELS}


def plan_message(plan):
    """The first thing wrong with a plan, as one message."""
    if plan["missing"]:
        return ("The file has no " + ", ".join(f"“{m}”" for m in plan["missing"]) + " column: the first row "
                "must name the columns, such as " + ", ".join(LABELS.values()) + " and the priority codes.")
    if plan["problems"]:
        return plan["problems"][0]
    return next(r["error"] for r in plan["rows"] if r["error"])


def import_actions_csv(session, text):
    """Add the actions of an actions CSV (see plan_actions); new priority columns are added.

    All of them or, on any error, none (Invalid). At most MAX_ACTIONS actions in a session, and
    in a file; cells within each field's length."""
    plan = plan_actions(session, text)
    if not plan["ok"]:
        raise Invalid(plan_message(plan))
    for code in plan["new"]:
        session.priorities.append(Priority(code=code, name="", position=len(session.priorities)))
    db.session.flush()
    ids = {p.code.lower(): p.id for p in session.priorities}
    for row in plan["rows"]:
        data = dict(row["values"])
        data.update({f"p{ids[code.lower()]}": mark for code, mark in row["marks"].items()})
        try:
            save_action(session, None, data)
        except Invalid as error:
            raise Invalid(f"Row {row['n']}: {error}") from None
    return len(plan["rows"])
