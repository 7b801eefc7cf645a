"""The table host's page: the notes of one table, live, behind the secret link of that table."""
from flask import Response, abort, current_app, make_response, redirect, render_template, request, url_for

from .. import cafe
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


def _private(response):
    # The link is the password: keep the page out of caches and its address out of Referer headers.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


COOKIE = "consult_host_{}"  # one per table: a facilitator may try several hosts' pages in one browser


@bp.route("/<token>")
def entry(token):
    """The link given out (printed, QR'd): it leaves its token in a cookie and moves to an
    address without it, so the token stays out of the address bar, the history and any Referer."""
    table = table_or_404(token)
    response = redirect(url_for(".table", table_id=table.id))
    response.set_cookie(COOKIE.format(table.id), token, max_age=current_app.config["PERMANENT_SESSION_LIFETIME"],
                        path=url_for(".table", table_id=table.id), httponly=True, samesite="Lax",
                        secure=current_app.config["CONSULT_HTTPS"])
    return _private(response)


def table_by_cookie(table_id):
    """The table this browser was given the host link of, while that link still works."""
    token = request.cookies.get(COOKIE.format(table_id))
    if not token:  # never opened here, cookies refused, or expired
        abort(404, "This page opens from your host link: open the link (or scan the host QR code) again.")
    table = table_or_404(token)
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
    return _private(make_response(page))


@bp.route("/table/<int:table_id>/qr.svg")
def qr(table_id):
    table = table_by_cookie(table_id)
    return _private(Response(qr_svg(host_url(table)), mimetype="image/svg+xml"))
