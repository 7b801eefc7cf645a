"""The table host's page: the notes of one table, live, behind the secret link of that table."""
from flask import Response, abort, make_response, render_template, url_for
from sqlalchemy import select

from .. import cafe
from ..extensions import db
from ..models import HostSummary, Question
from ..rules import NOTE_KINDS, Invalid, as_id
from ..urls import base_url, qr_svg
from . import bp

NOT_VALID = "This host link is not valid: it may have been replaced. Ask the facilitator for the new one."
MAX_ROUND = 50  # as cafe.start_round allows


def table_or_404(token):
    table = cafe.host_table(token)
    if table is None:
        abort(404, NOT_VALID)
    return table


def host_url(table):
    """The absolute link of a table's host view, as phones reach it (like urls.join_url)."""
    return base_url() + url_for("host.table", token=table.host_token)


def notes_questions(session):
    """The questions a host keeps notes on: open notes and trajectory grids."""
    return [q for q in session.questions if q.kind in NOTE_KINDS]


def default_question(session):
    """The question shown first: the one on screen if it takes notes, else the first that does."""
    current = session.current_question
    if current is not None and current.kind in NOTE_KINDS:
        return current
    return next(iter(notes_questions(session)), None)


def question_for(table, question_id):
    """An open-notes (or trajectory) question of the table's session, or Invalid."""
    question_id = as_id(question_id)
    question = db.session.get(Question, question_id) if question_id else None
    if question is None or question.session_id != table.session_id or question.kind not in NOTE_KINDS:
        raise Invalid("That question was not found.")
    return question


def round_of(value):
    """A round from a request: 0 for all rounds (None, 0), else 1 to MAX_ROUND."""
    if value is None or (value == 0 and not isinstance(value, bool)):
        return 0
    number = as_id(value)
    if number is None or number > MAX_ROUND:
        raise Invalid("That round was not found.")
    return number


def table_view(table, question, round_):
    """The table's notes on a question (of one round, or all: 0) and the host's summary of them."""
    notes = cafe.table_notes(table, question.id)
    if round_:
        notes = [n for n in notes if n["round"] == round_]
    summary = db.session.scalar(
        select(HostSummary.text).filter_by(table_id=table.id, question_id=question.id, round=round_)
    )
    return {
        "question_id": question.id,
        "round": round_,
        "current_round": table.session.current_round,
        "notes": notes,
        "summary": summary or "",
        **grid(question),  # a trajectory grid's rows and horizons as they are now
    }


def grid(question):
    """A trajectory question's rows and horizons, for the host to group and move milestones by."""
    if question.kind != "trajectory":
        return {}
    return {"rows": [{"id": r.id, "text": r.text} for r in question.rows],
            "horizons": [{"id": h.id, "name": h.name, "hint": h.hint} for h in question.horizons]}


def _private(response):
    # The link is the password: keep the page out of caches and its address out of Referer headers.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.route("/<token>")
def table(token):
    table = table_or_404(token)
    session = table.session
    question = default_question(session)
    numbers = {q.id: i for i, q in enumerate(session.questions, start=1)}
    state = {
        "session": {"title": session.title},
        "table": {"id": table.id, "name": table.name},
        "questions": [
            {"id": q.id, "number": numbers[q.id], "text": q.text, "max_length": q.max_length, "is_open": q.is_open,
             "kind": q.kind, **grid(q)}
            for q in notes_questions(session)
        ],
        "question_id": question.id if question else None,
        "round": session.current_round,
        "view": table_view(table, question, session.current_round) if question else None,
    }
    page = render_template("host/table.html", table=table, session=session, state=state, host_url=host_url(table))
    return _private(make_response(page))


@bp.route("/<token>/qr.svg")
def qr(token):
    table = table_or_404(token)
    return _private(Response(qr_svg(host_url(table)), mimetype="image/svg+xml"))
