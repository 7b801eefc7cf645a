"""Downloads of a session's write-up, for its facilitator."""
import json
import os
import re
import secrets
import time

from flask import Response, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from .. import framework, limits, offload, rules, secret_links, services, transfer, words
from ..extensions import as_report, db
from ..facilitator.routes import own_session
from ..models import CafeSession
from ..transfer import actions_csv as actions_csv_text, export
from . import bp, documents, trajectory, typeset
from .build import writeup
from .formats import csv_text, markdown, published

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


def render(session, fmt, public=False):
    """The write-up of session in fmt: text, or bytes for pdf, docx and xlsx.

    public: for a share link, which gives what the write-up shows and nothing more (the CSV,
    Excel and JSON data of the facilitator's own downloads hold every note and setting).
    """
    if fmt == "xlsx":
        return documents.xlsx(session, public)
    if fmt in BINARY:
        return BINARY[fmt](session)
    if fmt == "html":
        return render_template("writeup/report.html", w=writeup(session))
    if fmt == "md":
        return markdown(writeup(session))
    if fmt == "csv":
        return csv_text(session, public)
    if fmt == "json":
        data = export(session)
        return json.dumps(published(data) if public else data, ensure_ascii=False, indent=1)
    raise ValueError(fmt)


def filename(session, fmt, kind="write-up"):
    stem = "".join(c if c.isalnum() else "-" for c in session.title.lower()).strip("-")[:60] or "session"
    if kind == "trajectory":
        return f"{stem}-trajectory.{fmt}"
    return f"{stem}-data.{fmt}" if fmt in ("csv", "json") else f"{stem}-write-up.{fmt}"


@bp.route("/sessions/<int:session_id>/write-up.<fmt>")
@login_required
@limits.exports
def download(session_id, fmt):
    session = own_session(session_id)
    if fmt not in FORMATS:
        abort(404, "consult writes HTML, PDF, Word, Markdown, CSV, Excel and JSON.")
    return _file(session, fmt)


def render_id(session_id, fmt, public="", nonce=""):
    """render() of a session by its id: what a child process is given (offload.in_child, as strings).

    nonce: the response's CSP nonce for the HTML report's <style>, made in the server's request.
    """
    g.style_nonce = nonce
    return render(db.session.get(CafeSession, int(session_id)), fmt, public == "public")


def render_trajectory_id(session_id, fmt, public="", nonce=""):
    """The trajectory write-up (trajectory.py) of a session by its id, in a child process as render_id.

    public changes nothing: the grid shows only what the full write-up shows, for a share link too.
    """
    g.style_nonce = nonce
    return trajectory.render(db.session.get(CafeSession, int(session_id)), fmt)


def _file(session, fmt, public=False, kind="write-up"):
    # A write-up of a big café takes seconds of computing (Excel 17 s for 50,000 notes): in a
    # child process, not in the server, whose every phone would wait meanwhile.
    job = "consult.writeup.routes:render_trajectory_id" if kind == "trajectory" else "consult.writeup.routes:render_id"
    body = offload.in_child(job, session.id, fmt, "public" if public else "", getattr(request, "csp_nonce", ""))
    as_report()
    disposition = "inline" if fmt == "html" else "attachment"
    return Response(body, mimetype=FORMATS[fmt],
                    headers={"Content-Disposition": f'{disposition}; filename="{filename(session, fmt, kind)}"'})


NO_GRID = "This session has no trajectory question, so it has no trajectory write-up."


@bp.route("/sessions/<int:session_id>/trajectory.<fmt>")
@login_required
@limits.exports
def trajectory_download(session_id, fmt):
    """The trajectory grid as its own write-up ("<title>: Systems Change Trajectory"), in every format."""
    session = own_session(session_id)
    if fmt not in FORMATS:
        abort(404, "consult writes HTML, PDF, Word, Markdown, CSV, Excel and JSON.")
    if not trajectory.has_grid(session):
        abort(404, NO_GRID)
    return _file(session, fmt, kind="trajectory")


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
                # Step one: read the file and show what it would add; nothing is saved yet.
                upload = request.files.get("file")
                if upload is None or not upload.filename:
                    raise rules.Invalid("Choose a CSV file to import.")
                try:
                    text = upload.read(2_000_000).decode("utf-8-sig")
                except UnicodeDecodeError:
                    raise rules.Invalid("The file is not UTF-8 text: save it from your spreadsheet as “CSV UTF-8”.") from None
                services.preview_actions(session, text)  # a file that cannot be read at all: say so now
                token = _keep_upload(session, text)
                return redirect(url_for(".actions", session_id=session.id, preview=token))
            elif what == "import-confirm":
                token = request.form.get("upload")
                added = services.import_actions(session, _take_upload(session, token))
                flash(f"Imported {words.count(added, 'action')}.")
            elif what == "import-cancel":
                _drop_upload(session, request.form.get("upload"))
                flash("Import cancelled: nothing was added.")
            else:
                abort(400, "Unknown action.")
        except rules.Invalid as error:
            flash(str(error), "error")
        return redirect(url_for(".actions", session_id=session.id))
    token = request.args.get("preview")
    if token is not None:
        try:
            plan = services.preview_actions(session, _kept_upload(session, token))
        except rules.Invalid as error:
            flash(str(error), "error")
            return redirect(url_for(".actions", session_id=session.id))
        return render_template("writeup/import_preview.html", session=session, plan=plan, token=token,
                               message=None if plan["ok"] else transfer.plan_message(plan), shown=PREVIEW_ROWS)
    return render_template("writeup/actions.html", session=session, highlights=framework.highlights(session),
                           made={a.note_id for a in session.actions if a.note_id})


# An uploaded actions CSV waits in the instance folder between the preview and the confirm:
# under a random name that also holds the account and the session, so a name from the form
# opens only this facilitator's upload for this session. Left-over files go after a day.
PREVIEW_ROWS = 20
UPLOAD_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,64}")
UPLOAD_DAYS = 1


def _upload_dir():
    return os.path.join(current_app.instance_path, "imports")


def _upload_path(session, token):
    if not isinstance(token, str) or not UPLOAD_TOKEN.fullmatch(token):
        return None
    return os.path.join(_upload_dir(), f"actions-u{current_user.get_id()}-s{session.id}-{token}.csv")


def _keep_upload(session, text):
    folder = _upload_dir()
    os.makedirs(folder, mode=0o700, exist_ok=True)
    old = time.time() - UPLOAD_DAYS * 86400
    for name in os.listdir(folder):
        try:
            if os.path.getmtime(os.path.join(folder, name)) < old:
                os.remove(os.path.join(folder, name))
        except OSError:
            pass  # another worker removed it first
    token = secrets.token_urlsafe(24)
    with open(_upload_path(session, token), "w", encoding="utf-8") as out:
        out.write(text)
    return token


GONE = "That import is no longer waiting (done, cancelled or expired): upload the file again."


def _kept_upload(session, token):
    path = _upload_path(session, token)
    try:
        with open(path or "", encoding="utf-8") as kept:
            return kept.read()
    except (OSError, UnicodeDecodeError):
        raise rules.Invalid(GONE) from None


def _take_upload(session, token):
    """The upload, removed so that a second click on confirm cannot import it twice."""
    text = _kept_upload(session, token)
    try:
        os.remove(_upload_path(session, token))
    except OSError:
        raise rules.Invalid(GONE) from None  # the other click took it
    return text


def _drop_upload(session, token):
    path = _upload_path(session, token)
    if path:
        try:
            os.remove(path)
        except OSError:
            pass  # already gone: a second click on cancel


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


SHARE_COOKIE = "consult_share_{}"  # one per session, so links to two write-ups both keep working
NOT_SHARED = "This link to a write-up is not valid: it may have been withdrawn."


def _shared(token):
    token = token or ""
    session = db.session.scalar(select(CafeSession).filter_by(share_token=token)) if 16 <= len(token) <= 64 else None
    if session is None:
        abort(404, NOT_SHARED)
    return session


def _shared_by_cookie(session_id):
    """The session whose write-up this browser was given a link to, by the cookie the link set."""
    session = _shared(secret_links.token(
        SHARE_COOKIE.format(session_id), "This write-up opens from its link: open the link you were given again."))
    if session.id != session_id:
        abort(404, NOT_SHARED)
    return session


@bp.route("/shared/<token>")
@limits.exports
def shared(token):
    """The link given out: it leaves its token in a cookie and moves to an address without it,
    so the token stays out of the address bar, the history and any Referer."""
    session = _shared(token)
    return secret_links.enter(SHARE_COOKIE.format(session.id), token, ".shared_page", session_id=session.id)


@bp.route("/shared/session/<int:session_id>")
def shared_page(session_id):
    session = _shared_by_cookie(session_id)
    html = render_template("writeup/report.html", w=writeup(session), formats=FORMATS,
                           shared=url_for(".shared_page", session_id=session.id),
                           trajectory=trajectory.has_grid(session))
    as_report()
    return secret_links.private(Response(html, mimetype=FORMATS["html"]))


@bp.route("/shared/session/<int:session_id>/write-up.<fmt>")
@limits.exports
def shared_file(session_id, fmt):
    return _shared_file(_shared_by_cookie(session_id), fmt)


@bp.route("/shared/<token>/write-up.<fmt>")
@limits.exports
def shared_download(token, fmt):
    """A download by the link itself (a file's address handed on): no page to clean up."""
    return _shared_file(_shared(token), fmt)


@bp.route("/shared/session/<int:session_id>/trajectory.<fmt>")
@limits.exports
def shared_trajectory_file(session_id, fmt):
    return _shared_file(_shared_by_cookie(session_id), fmt, "trajectory")


@bp.route("/shared/<token>/trajectory.<fmt>")
@limits.exports
def shared_trajectory_download(token, fmt):
    return _shared_file(_shared(token), fmt, "trajectory")


def _shared_file(session, fmt, kind="write-up"):
    if fmt not in FORMATS:
        abort(404, "consult writes HTML, PDF, Word, Markdown, CSV, Excel and JSON.")
    if kind == "trajectory" and not trajectory.has_grid(session):
        abort(404, NO_GRID)
    if kind == "trajectory" and fmt == "html":
        # The page a share link opens, with its own download links (as shared_page).
        html = render_template("writeup/trajectory.html", t=trajectory.trajectory(session),
                               shared=url_for(".shared_page", session_id=session.id))
        as_report()
        return secret_links.private(Response(html, mimetype=FORMATS["html"]))
    return secret_links.private(_file(session, fmt, public=True, kind=kind))

