"""The table host's page: the notes of one table, live, behind the secret link of that table."""
from flask import Response, abort, make_response, render_template

from .. import cafe, secret_links
from ..live import grid, table_view
from ..rules import NOTE_KINDS
from ..urls import host_url, qr_svg
from . import bp

NOT_VALID = "This host link is not valid: it may have been replaced. Ask the facilitator for the new one."


def table_or_404(token):
    table = cafe.host_table(token or "")
    if table is None:
        abort(404, NOT_VALID)
    return table


def notes_questions(session):
    """The questions a host keeps notes on: open notes and trajectory grids."""
    return [q for q in session.questions if q.kind in NOTE_KINDS]


def default_question(session):
    """The question shown first: the one on screen if it takes notes, else the first that does."""
    current = session.current_question
    if current is not None and current.kind in NOTE_KINDS:
        return current
    return next(iter(notes_questions(session)), None)


COOKIE = "consult_host_{}"  # one per table: a facilitator may try several hosts' pages in one browser


@bp.route("/<token>")
def entry(token):
    """The link given out (printed, QR'd): it leaves its token in a cookie and moves to an
    address without it, so the token stays out of the address bar, the history and any Referer."""
    table = table_or_404(token)
    return secret_links.enter(COOKIE.format(table.id), token, ".table", table_id=table.id)


def table_by_cookie(table_id):
    """The table this browser was given the host link of, while that link still works."""
    table = table_or_404(secret_links.token(
        COOKIE.format(table_id), "This page opens from your host link: open the link (or scan the host QR code) again."))
    if table.id != table_id:
        abort(404, NOT_VALID)
    return table


@bp.route("/table/<int:table_id>")
def table(table_id):
    table = table_by_cookie(table_id)
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
    return secret_links.private(make_response(page))


@bp.route("/table/<int:table_id>/qr.svg")
def qr(table_id):
    table = table_by_cookie(table_id)
    return secret_links.private(Response(qr_svg(host_url(table)), mimetype="image/svg+xml"))
