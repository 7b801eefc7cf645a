"""The facilitator's pages: sessions and their questions, tables, the control page and the projector."""
from flask import Response, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from .. import audit, cafe, limits, live, pictures, rules, services, starters, words
from ..extensions import db
from ..forms import ModerationForm, NewSessionForm, QuestionForm, SessionForm, TablesForm
from ..models import KINDS, CafeSession
from ..urls import base_url, host_url, join_url, qr_svg, table_join_url
from . import bp


def own_session(session_id):
    """The signed-in facilitator's session, or 404."""
    session = rules.session_of(current_user, session_id)
    if session is None:
        abort(404, "There is no such session among yours.")
    return session


def own_question(session, question_id):
    try:
        return rules.question_in(session.id, question_id)
    except rules.Invalid:
        abort(404, "There is no such question in this session.")


@bp.app_context_processor
def _helpers():
    return {"join_url": join_url, "base_url": base_url, "host_url": host_url, "table_join_url": table_join_url}


@bp.route("/")
@login_required
def index():
    sessions = db.session.scalars(
        select(CafeSession).filter_by(owner_id=current_user.id).order_by(CafeSession.created_at.desc())
    ).all()
    return render_template("facilitator/index.html", sessions=sessions)


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    earlier = starters.earlier_sessions(current_user.id)
    form = NewSessionForm()
    form.start.choices = [(starters.BLANK, "A blank session")] + [
        (key, t["label"]) for key, t in starters.TEMPLATES.items()]
    if earlier:
        form.start.choices.append((starters.COPY, "A copy of an earlier session"))
    form.source.choices = [(s.id, s.title + (f", {words.long_date(s.date)}" if s.date else "")) for s in earlier]
    if form.validate_on_submit():
        choice = form.start.data
        source = next((s for s in earlier if s.id == form.source.data), None) if choice == starters.COPY else None
        try:
            session = services.create_session(current_user.id, form.fields(), choice, source)
        except rules.Invalid as error:
            form.source.errors = [str(error)]
        else:
            if choice in starters.TEMPLATES:
                flash(f"Session created from “{starters.TEMPLATES[choice]['label']}”. "
                      "Edit the words in [square brackets] to fit your event.")
            elif choice == starters.COPY:
                flash(f"Session created from “{source.title}”: "
                      "its questions, tables and settings, none of its answers.")
            else:
                flash("Session created. Add its questions.")
            return redirect(url_for(".detail", session_id=session.id))
    return render_template("facilitator/session_form.html", form=form, session=None,
                           templates=starters.TEMPLATES, earlier=earlier)


@bp.route("/import", methods=["POST"])
@login_required
def import_session():
    """A session file (as `consult import` takes it) uploaded: checked whole, then made a new session."""
    from .. import session_file

    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise rules.Invalid("Choose a session file to import.")
        session = services.import_session(session_file.read(upload.read(session_file.MAX_FILE + 1)), current_user.id)
    except rules.Invalid as error:
        flash(f"Nothing was imported. {error}", "error")
        return redirect(url_for(".index"))
    flash(f"Imported “{session.title}”: a new session with join code {session.join_code}.")
    return redirect(url_for(".detail", session_id=session.id))


@bp.route("/<int:session_id>")
@login_required
def detail(session_id):
    return render_detail(own_session(session_id))


def render_detail(session, tables_form=None, moderation_form=None):
    if tables_form is None:
        tables_form = TablesForm(formdata=None, tables="\n".join(t.name for t in session.tables))
    if moderation_form is None:
        moderation_form = ModerationForm(formdata=None, obj=session)
    return render_template(
        "facilitator/detail.html", session=session, answers=rules.answer_count,
        tables_form=tables_form, moderation_form=moderation_form, seated=cafe.seated(session),
    )


@bp.route("/<int:session_id>/edit", methods=["GET", "POST"])
@login_required
def edit(session_id):
    session = own_session(session_id)
    form = SessionForm(obj=session)
    if form.validate_on_submit():
        services.update_session(session, form.fields())
        flash("Session saved.")
        return redirect(url_for(".detail", session_id=session.id))
    return render_template("facilitator/session_form.html", form=form, session=session)


@bp.route("/<int:session_id>/duplicate", methods=["POST"])
@login_required
def duplicate(session_id):
    copy = services.duplicate_session(own_session(session_id))
    flash("Session duplicated, without its answers. It has a new join code.")
    return redirect(url_for(".detail", session_id=copy.id))


@bp.route("/<int:session_id>/delete", methods=["POST"])
@login_required
def delete(session_id):
    session = own_session(session_id)
    title = session.title
    services.delete_session(session)
    flash(f"Deleted “{title}” and all its answers.")
    return redirect(url_for(".index"))


@bp.route("/<int:session_id>/questions/new", methods=["GET", "POST"])
@bp.route("/<int:session_id>/questions/<int:question_id>/edit", methods=["GET", "POST"])
@login_required
@limits.uploads
def question(session_id, question_id=None):
    session = own_session(session_id)
    question = own_question(session, question_id) if question_id else None
    form = QuestionForm(obj=question)
    for field in (form.options, form.rows, form.horizons):
        # obj fills these with the question's Option, row and horizon objects, not text, when the
        # form sent no such field: they are text made from the question below, or nothing.
        if not isinstance(field.data, str):
            field.data = None
    if request.method == "GET":
        choice = question is not None and question.kind == "choice"
        form.options.data = "\n".join(o.text for o in question.options) if choice else ""
        form.rows.data, form.horizons.data = grid_defaults(session, question)
    if request.method == "GET" and question is None and request.args.get("kind") in KINDS:
        form.kind.data = request.args["kind"]
    if form.validate_on_submit():
        # Pictures are checked first, and stored only once the question itself is saved.
        planned = pictures.plan_form(question, form, request)
        if planned is None:
            flash("Nothing was saved: a picture needs attention (see below). "
                  "Choose any new picture file again.", "error")
        else:
            try:
                saved = services.save_question(session, question, form.data, planned)
            except rules.Invalid as error:
                flash(str(error), "error")
            else:
                flash("Question saved.")
                return redirect(url_for(".detail", session_id=session.id) + f"#q{saved.id}")
    elif request.method == "POST":
        form.option_picture_errors = {}
    return render_template("facilitator/question_form.html", form=form, session=session, question=question,
                           option_pictures=pictures.form_rows(question, form, request), picture_types=pictures.ACCEPT)


def grid_defaults(session, question):
    """A trajectory grid's rows and horizons as the form shows them: the question's own, or, for a
    new one, the session's open-notes questions as rows and the four usual horizons."""
    if question is not None and question.kind == "trajectory":
        return ("\n".join(r.text for r in question.rows),
                rules.horizons_text([(h.name, h.hint) for h in question.horizons]))
    rows = "\n".join(" ".join(q.text.split()) for q in session.questions if q.kind == "notes")
    return rows, rules.horizons_text()


@bp.route("/<int:session_id>/questions/<int:question_id>/delete", methods=["POST"])
@login_required
def delete_question(session_id, question_id):
    session = own_session(session_id)
    services.delete_question(session, own_question(session, question_id))
    flash("Question deleted with its answers.")
    return redirect(url_for(".detail", session_id=session.id))


@bp.route("/<int:session_id>/questions/<int:question_id>/move", methods=["POST"])
@login_required
def move_question(session_id, question_id):
    session = own_session(session_id)
    step = -1 if request.form.get("direction") == "up" else 1
    services.move_question(own_question(session, question_id), step)
    return redirect(url_for(".detail", session_id=session.id) + f"#q{question_id}")


@bp.route("/<int:session_id>/control", methods=["GET", "POST"])
@login_required
def control(session_id):
    session = own_session(session_id)
    if request.method == "POST":
        # The page works without JavaScript too; with it, the same actions go over the socket.
        try:
            services.control(session, request.form.get("action"), request.form.get("question_id"))
        except rules.Invalid as error:
            flash(str(error), "error")
        return redirect(url_for(".control", session_id=session.id))
    return render_template(
        "facilitator/control.html", session=session, state=live.screen_state(session, "control")
    )


@bp.route("/<int:session_id>/projector")
@login_required
def projector(session_id):
    session = own_session(session_id)
    return render_template(
        "facilitator/projector.html", session=session, state=live.screen_state(session, "projector")
    )


@bp.route("/<int:session_id>/state.json")
@login_required
def state(session_id):
    view = "control" if request.args.get("view") == "control" else "projector"
    return jsonify(live.screen_state(own_session(session_id), view))


# -- World Café: tables, hosts, rounds, moderation ------------------------------------

def own_table(session, table_id):
    try:
        return cafe.table_in(session, table_id)
    except rules.Invalid:
        abort(404, "There is no such table in this session.")


@bp.route("/<int:session_id>/tables", methods=["POST"])
@login_required
def tables(session_id):
    session = own_session(session_id)
    form = TablesForm()
    if form.validate_on_submit():
        try:
            services.set_tables(session, cafe.table_names(form.tables.data))
        except rules.Invalid as error:
            form.tables.errors = [str(error)]
        else:
            count = len(session.tables)
            flash(f"Saved: {words.count(count, 'table')}." if count else "Saved: no tables.")
            return redirect(url_for(".detail", session_id=session.id) + "#table-setup")
    flash("The tables were not saved: see below.", "error")
    return render_detail(session, tables_form=form)


@bp.route("/<int:session_id>/tables/<int:table_id>/revoke", methods=["POST"])
@login_required
def revoke_host(session_id, table_id):
    session = own_session(session_id)
    table = own_table(session, table_id)
    services.revoke_host(table)
    flash(f"The old host link of {table.name} has stopped working. Give its host the new link below.")
    return redirect(url_for(".detail", session_id=session.id) + f"#table-{table.id}")


@bp.route("/<int:session_id>/tables/print")
@login_required
def print_tables(session_id):
    return render_template("facilitator/tables_print.html", session=own_session(session_id))


@bp.route("/<int:session_id>/tables/<int:table_id>/join-qr.svg")
@login_required
def table_join_qr(session_id, table_id):
    table = own_table(own_session(session_id), table_id)
    return Response(qr_svg(table_join_url(table)), mimetype="image/svg+xml",
                    headers={"Cache-Control": "private, max-age=3600"})


@bp.route("/<int:session_id>/tables/<int:table_id>/host-qr.svg")
@login_required
def table_host_qr(session_id, table_id):
    table = own_table(own_session(session_id), table_id)
    # The host link is a secret that revoking replaces: never keep an old one in a cache.
    return Response(qr_svg(host_url(table)), mimetype="image/svg+xml", headers={"Cache-Control": "no-store"})


@bp.route("/<int:session_id>/moderation", methods=["POST"])
@login_required
def moderation(session_id):
    session = own_session(session_id)
    form = ModerationForm()
    if form.validate_on_submit():
        try:
            services.set_moderation(session, form.moderation.data, form.blocked_words.data or "")
        except rules.Invalid as error:
            form.blocked_words.errors = [str(error)]
        else:
            flash("Moderation saved. It applies to notes sent from now on.")
            return redirect(url_for(".detail", session_id=session.id) + "#moderation-setup")
    flash("Moderation was not saved: see below.", "error")
    return render_detail(session, moderation_form=form)


DONE = {"approve": "Note approved: it shows now.", "hide": "Note hidden. You can restore it.",
        "restore": "Note restored.", "highlight": "Note highlighted.", "unhighlight": "Highlight removed."}


@bp.route("/<int:session_id>/round", methods=["POST"])
@login_required
def round_(session_id):
    session = own_session(session_id)
    action = request.form.get("action")
    try:
        services.round_action(session, action, request.form.get("number"))
    except rules.Invalid as error:
        flash(str(error), "error")
    else:
        if action == "start":
            flash(f"Round {session.current_round} started: new answers count in it.")
        else:
            flash(f"The projector shows {f'round {session.shown_round}' if session.shown_round else 'all rounds'}.")
    return redirect(url_for(".control", session_id=session.id))


@bp.route("/<int:session_id>/moderate", methods=["POST"])
@login_required
def moderate(session_id):
    session = own_session(session_id)
    action = request.form.get("action")
    try:
        services.moderate(cafe.note_in(session, request.form.get("note_id")), action, current_user.email)
    except rules.Invalid as error:
        flash(str(error), "error")
    else:
        flash(DONE.get(action, "Done."))
    return redirect(url_for(".control", session_id=session.id) + "#review-h")


# -- dot-voting -------------------------------------------------------------------------

@bp.route("/<int:session_id>/dots", methods=["POST"])
@login_required
def dots_(session_id):
    """The control page's dot-voting form without JavaScript: {question_id, action: open|close, dots}."""
    session = own_session(session_id)
    try:
        question = services.set_dots(session, request.form.get("question_id"), request.form.get("action"),
                                     request.form.get("dots"))
    except rules.Invalid as error:
        flash(str(error), "error")
    else:
        if question.dots_open:
            flash(f"Dot-voting is open: everyone has {words.count(question.dots, 'dot')} "
                  "to place on the notes.")
        else:
            flash("Dot-voting is closed. The ranking stays on the projector and goes into the write-up.")
    return redirect(url_for(".control", session_id=session.id))


# -- the audit trail --------------------------------------------------------------------

@bp.route("/<int:session_id>/receipts")
@login_required
def receipts(session_id):
    """Look a participant's receipt up: counted, when, for which question, and whether it still
    stands; never what they answered. Also the questions' audit downloads."""
    session = own_session(session_id)
    raw = request.args.get("receipt", "")[:40]
    found, problem = None, None
    if raw.strip():
        if audit.normalise(raw) is None:
            problem = (f"A receipt is {audit.RECEIPT_LENGTH} letters and numbers, such as ABCD-EFGH: "
                       "check it and try again.")
        else:
            found = audit.lookup(session, raw)
            if found is None:
                problem = "No answer in this session has that receipt. Check it with its owner and try again."
    return render_template("facilitator/receipts.html", session=session, raw=raw, found=found, problem=problem)


@bp.route("/<int:session_id>/questions/<int:question_id>/audit.csv")
@login_required
def audit_csv(session_id, question_id):
    """Every entry of a question's audit trail, then its totals recomputed from the trail alone."""
    session = own_session(session_id)
    question = own_question(session, question_id)
    return Response(audit.csv_text(question), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="audit-question-{question.position + 1}.csv"',
                             "Cache-Control": "no-store"})
