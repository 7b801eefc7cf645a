"""Downloads of a session's write-up, for its facilitator."""
import json
import os
import subprocess
import sys
import tempfile

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import login_required
from sqlalchemy import select

from .. import framework, limits, rules, services
from ..extensions import db
from ..facilitator.routes import own_session
from ..models import CafeSession
from ..transfer import actions_csv as actions_csv_text, export
from . import bp, documents, typeset
from .build import writeup
from .formats import csv_text, markdown

FORMATS = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "md": "text/markdown; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}
BINARY = {"pdf": typeset.pdf, "docx": documents.docx, "xlsx": documents.xlsx}


def render(session, fmt):
    """The write-up of session in fmt: text, or bytes for pdf, docx and xlsx."""
    if fmt in BINARY:
        return BINARY[fmt](session)
    if fmt == "html":
        return render_template("writeup/report.html", w=writeup(session))
    if fmt == "md":
        return markdown(writeup(session))
    if fmt == "csv":
        return csv_text(session)
    if fmt == "json":
        return json.dumps(export(session), ensure_ascii=False, indent=1)
    raise ValueError(fmt)


def filename(session, fmt):
    stem = "".join(c if c.isalnum() else "-" for c in session.title.lower()).strip("-")[:60] or "session"
    return f"{stem}-data.{fmt}" if fmt in ("csv", "json") else f"{stem}-write-up.{fmt}"


@bp.route("/sessions/<int:session_id>/write-up.<fmt>")
@login_required
@limits.exports
def download(session_id, fmt):
    session = own_session(session_id)
    if fmt not in FORMATS:
        abort(404, "consult writes HTML, PDF, Word, Markdown, CSV, Excel and JSON.")
    return _file(session, fmt)


def pdf_in_child(session):
    """Print the PDF in a child process: laying out a large café takes Typst seconds of native
    code, and in the server process that would stall every phone's live connection meanwhile."""
    app = current_app._get_current_object()
    env = {**os.environ, "CONSULT_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
           "CONSULT_INSTANCE_PATH": app.instance_path, "CONSULT_ASYNC_MODE": "threading"}
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "write-up.pdf")
        done = subprocess.run(
            [sys.executable, "-m", "consult.entry", "export", session.join_code, "--format", "pdf", "--output", path],
            env=env, capture_output=True, timeout=600,
        )
        if done.returncode != 0:
            app.logger.error("PDF write-up failed: %s", done.stderr.decode(errors="replace")[-2000:])
            abort(500)
        with open(path, "rb") as f:
            return f.read()


def _file(session, fmt):
    body = pdf_in_child(session) if fmt == "pdf" else render(session, fmt)
    disposition = "inline" if fmt == "html" else "attachment"
    return Response(body, mimetype=FORMATS[fmt],
                    headers={"Content-Disposition": f'{disposition}; filename="{filename(session, fmt)}"'})


# -- the action framework --------------------------------------------------------

@bp.route("/sessions/<int:session_id>/actions", methods=["GET", "POST"])
@login_required
@limits.uploads
def actions(session_id):
    session = own_session(session_id)
    if request.method == "POST":
        what = request.form.get("what")
        try:
            if what == "priorities":
                services.set_priorities(session, framework.parse_priorities(request.form.get("priorities")))
                flash("Priorities saved.")
            elif what == "add":
                services.save_action(session, None, request.form)
                flash("Action added.")
            elif what == "edit":
                services.save_action(session, framework.action_in(session, request.form.get("action_id")), request.form)
                flash("Action saved.")
            elif what == "delete":
                services.delete_action(session, framework.action_in(session, request.form.get("action_id")))
                flash("Action deleted.")
            elif what in ("up", "down"):
                action = framework.action_in(session, request.form.get("action_id"))
                services.move_action(session, action, -1 if what == "up" else 1)
            elif what == "from-note":
                action = services.action_from_note(session, request.form.get("note_id"))
                flash(f"Action {action.number} made from the highlight: add its lead, priorities and measure.")
                return redirect(url_for(".actions", session_id=session.id) + f"#a{action.id}")
            elif what == "import":
                upload = request.files.get("file")
                if upload is None or not upload.filename:
                    raise rules.Invalid("Choose a CSV file to import.")
                try:
                    text = upload.read(2_000_000).decode("utf-8-sig")
                except UnicodeDecodeError:
                    raise rules.Invalid("The file is not UTF-8 text: save it from your spreadsheet as “CSV UTF-8”.") from None
                flash(f"Imported {services.import_actions(session, text)} actions.")
            else:
                abort(400, "Unknown action.")
        except rules.Invalid as error:
            flash(str(error), "error")
        return redirect(url_for(".actions", session_id=session.id))
    return render_template("writeup/actions.html", session=session, highlights=framework.highlights(session),
                           made={a.note_id for a in session.actions if a.note_id})


@bp.route("/sessions/<int:session_id>/actions.csv")
@login_required
@limits.exports
def actions_csv(session_id):
    session = own_session(session_id)
    return Response(actions_csv_text(session), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename(session, "csv").replace("-data", "-actions")}"'})


# -- read-only links to the write-up ------------------------------------------------

@bp.route("/sessions/<int:session_id>/share", methods=["POST"])
@login_required
def share(session_id):
    session = own_session(session_id)
    if request.form.get("what") == "revoke":
        services.unshare(session)
        flash("The read-only link no longer works.")
    else:
        replaced = session.share_token is not None
        services.share(session)
        flash("A new read-only link is made; the old one no longer works." if replaced else "Read-only link made.")
    return redirect(url_for("facilitator.detail", session_id=session.id) + "#writeup")


def _shared(token):
    session = db.session.scalar(select(CafeSession).filter_by(share_token=token)) if 16 <= len(token) <= 64 else None
    if session is None:
        abort(404, "This link to a write-up is not valid: it may have been withdrawn.")
    return session


def _private(response):
    # The link is the secret: keep it out of caches, search engines and other sites' logs.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@bp.route("/shared/<token>")
@limits.exports
def shared(token):
    session = _shared(token)
    html = render_template("writeup/report.html", w=writeup(session), shared=token, formats=FORMATS)
    return _private(Response(html, mimetype=FORMATS["html"]))


@bp.route("/shared/<token>/write-up.<fmt>")
@limits.exports
def shared_download(token, fmt):
    session = _shared(token)
    if fmt not in FORMATS:
        abort(404, "consult writes HTML, PDF, Word, Markdown, CSV, Excel and JSON.")
    return _private(_file(session, fmt))
