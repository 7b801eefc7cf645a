"""Starting points for a new session: blank, a built-in template, or an earlier session of the facilitator's.

The templates are plain data here. Starting from an earlier session copies its set-up (questions
with their options, pictures and grids; tables; moderation; priorities), never its answers.
"""
from sqlalchemy import select

from .cafe import set_tables
from .extensions import db
from .models import HORIZONS, CafeSession, CafeTable, Horizon, Option, Priority, Question, TrajectoryRow
from .rules import Invalid, save_question, unique_join_code

STRATEGY_QUESTIONS = [
    "Our vision is [write your vision here]. What does success look like for this project?",
    "What does [a theme, e.g. meaningful employment] mean to you, for yourself, your community and [your sector]?",
    "How might [the people this project serves] be empowered to take an active part in [the area you want to change]?",
    "[Your place or organisation] is diverse. How do we harness diversity and inclusion as a fundamental asset?",
    "How will [your sector or partners] have a bigger impact? What are the opportunities for [funding or investment]?",
]

TEMPLATES = {
    "strategy": {
        "label": "Strategy café: five vital questions",
        "summary": "4 tables and 3 rounds of World Café: five open-notes questions, with table hosts "
                   "highlighting what matters. Edit the words in [square brackets] to fit your event.",
        "description": "A strategy café: five vital questions discussed at tables over three rounds. "
                       "People move table between rounds; each table's host highlights the key points.",
        "tables": 4,
        "questions": [{"kind": "notes", "text": text, "max_length": 280} for text in STRATEGY_QUESTIONS],
    },
    "trajectory": {
        "label": "Systems change trajectory",
        "summary": "One trajectory grid: themes as rows, the four horizons (Exploring, Emerging, Sustaining, "
                   "Systems change) as columns; people place milestones in its cells.",
        "description": "Where are we heading? Milestones for each theme, placed on the systems change "
                       "trajectory from exploring to systems change.",
        "tables": 0,
        "questions": [{
            "kind": "trajectory",
            "text": "Where are we on the journey to systems change? Add a milestone for a theme under the time "
                    "horizon you expect it.",
            "rows": ["[Theme 1]", "[Theme 2]", "[Theme 3]"],
            "max_length": 280,
        }],
    },
}
BLANK = "blank"
COPY = "copy"

# Columns that are the state of a running session, not its set-up: never copied.
LIVE_COLUMNS = {"id", "session_id", "question_id", "is_open", "revealed", "dots_open"}


def _columns(row, model):
    return {c.key: getattr(row, c.key) for c in model.__table__.columns if c.key not in LIVE_COLUMNS}


def copy_question(q):
    """A new Question with q's settings, options, picture references and grid; no answers."""
    nq = Question(**_columns(q, Question))
    nq.options = [Option(**_columns(o, Option)) for o in q.options]
    nq.rows = [TrajectoryRow(**_columns(r, TrajectoryRow)) for r in q.rows]
    nq.horizons = [Horizon(**_columns(h, Horizon)) for h in q.horizons]
    return nq


def copy_setup(source, target):
    """Copy source's questions, tables (with new host links), moderation and priorities into target.

    The caller commits. Pictures are shared by reference: the file stays while any copy shows it.
    """
    start = len(target.questions)
    for i, q in enumerate(source.questions):
        nq = copy_question(q)
        nq.position = start + i
        target.questions.append(nq)
    if not target.tables:
        target.tables.extend(CafeTable(name=t.name, position=t.position) for t in source.tables)
    target.moderation = source.moderation
    target.blocked_words = source.blocked_words
    if not target.priorities:
        target.priorities.extend(Priority(code=p.code, name=p.name, position=p.position) for p in source.priorities)
    return target


def add_trajectory(session, text, rows, horizons=HORIZONS, max_length=280):
    """A trajectory question with its rows and horizons, through rules.save_question."""
    data = {"kind": "trajectory", "text": text, "max_length": max_length, "rows": "\n".join(rows),
            "horizons": "\n".join(f"{name} | {hint}" if hint else name for name, hint in horizons)}
    return save_question(session, None, data)


def add_questions(session, questions):
    made = []
    for data in questions:
        if data["kind"] == "trajectory":
            made.append(add_trajectory(session, data["text"], data["rows"], data.get("horizons", HORIZONS),
                                       data.get("max_length", 280)))
        else:
            made.append(save_question(session, None, data))
    return made


def apply_template(session, key):
    """Set up session (already added) from the built-in template key."""
    template = TEMPLATES[key]
    if not session.description:
        session.description = template["description"]
    if template["tables"]:
        set_tables(session, [f"Table {n}" for n in range(1, template["tables"] + 1)])
    add_questions(session, template["questions"])
    return session


def earlier_sessions(owner_id):
    return db.session.scalars(
        select(CafeSession).filter_by(owner_id=owner_id).order_by(CafeSession.created_at.desc(), CafeSession.id.desc())
    ).all()


def start(session, choice, source=None):
    """Set up a new session (already added, with its owner) from a starting point.

    choice: BLANK, a TEMPLATES key, or COPY with source, an earlier session of the same owner.
    """
    if choice in (None, "", BLANK):
        pass
    elif choice in TEMPLATES:
        apply_template(session, choice)
    elif choice == COPY:
        if source is None or source.owner_id != session.owner_id or source.id == session.id:
            raise Invalid("Choose one of your earlier sessions to start from.")
        if not session.description:
            session.description = source.description
        if not session.venue:
            session.venue = source.venue
        copy_setup(source, session)
    else:
        raise Invalid("Choose where to start from.")
    return session


def duplicate(session):
    """A copy of session: its questions (options, pictures, grids and every setting), tables,
    moderation and priorities; none of its answers."""
    copy = CafeSession(
        owner_id=session.owner_id,
        title=f"{session.title} (copy)"[:200],
        date=session.date,
        venue=session.venue,
        description=session.description,
        join_code=unique_join_code(),
    )
    db.session.add(copy)
    return copy_setup(session, copy)
