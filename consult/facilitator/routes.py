from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from .. import live, rules
from ..extensions import db
from ..forms import QuestionForm, SessionForm
from ..models import KINDS, CafeSession, Question
from ..urls import base_url, join_url
from . import bp


def own_session(session_id):
    """The signed-in facilitator's session, or 404: another's sessions do not exist for them."""
    session = db.session.get(CafeSession, session_id) if rules.as_id(session_id) else None
    if session is None or session.owner_id != current_user.id:
        abort(404, "There is no such session among yours.")
    return session


def own_question(session, question_id):
    question = db.session.get(Question, question_id) if rules.as_id(question_id) else None
    if question is None or question.session_id != session.id:
        abort(404, "There is no such question in this session.")
    return question


@bp.app_context_processor
def _helpers():
    return {"join_url": join_url, "base_url": base_url}


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
    form = SessionForm()
    if form.validate_on_submit():
        session = CafeSession(owner_id=current_user.id, join_code=rules.unique_join_code())
        form.populate_obj(session)
        db.session.add(session)
        db.session.commit()
        flash("Session created. Add its questions.")
        return redirect(url_for(".detail", session_id=session.id))
    return render_template("facilitator/session_form.html", form=form, session=None)


@bp.route("/<int:session_id>")
@login_required
def detail(session_id):
    session = own_session(session_id)
    return render_template("facilitator/detail.html", session=session, answers=rules.answer_count)


@bp.route("/<int:session_id>/edit", methods=["GET", "POST"])
@login_required
def edit(session_id):
    session = own_session(session_id)
    form = SessionForm(obj=session)
    if form.validate_on_submit():
        form.populate_obj(session)
        db.session.commit()
        flash("Session saved.")
        return redirect(url_for(".detail", session_id=session.id))
    return render_template("facilitator/session_form.html", form=form, session=session)


@bp.route("/<int:session_id>/duplicate", methods=["POST"])
@login_required
def duplicate(session_id):
    copy = rules.duplicate_session(own_session(session_id))
    flash("Session duplicated, without its answers. It has a new join code.")
    return redirect(url_for(".detail", session_id=copy.id))


@bp.route("/<int:session_id>/delete", methods=["POST"])
@login_required
def delete(session_id):
    session = own_session(session_id)
    title = session.title
    db.session.delete(session)
    db.session.commit()
    flash(f"Deleted “{title}” and all its answers.")
    return redirect(url_for(".index"))


@bp.route("/<int:session_id>/questions/new", methods=["GET", "POST"])
@bp.route("/<int:session_id>/questions/<int:question_id>/edit", methods=["GET", "POST"])
@login_required
def question(session_id, question_id=None):
    session = own_session(session_id)
    question = own_question(session, question_id) if question_id else None
    form = QuestionForm(obj=question)
    if request.method == "GET":
        choice = question is not None and question.kind == "choice"
        form.options.data = "\n".join(o.text for o in question.options) if choice else ""
    if request.method == "GET" and question is None and request.args.get("kind") in KINDS:
        form.kind.data = request.args["kind"]
    if form.validate_on_submit():
        try:
            saved = rules.save_question(session, question, form.data)
        except rules.Invalid as error:
            flash(str(error), "error")
        else:
            if saved is session.current_question:
                live.announce(session)
            flash("Question saved.")
            return redirect(url_for(".detail", session_id=session.id) + f"#q{saved.id}")
    return render_template("facilitator/question_form.html", form=form, session=session, question=question)


@bp.route("/<int:session_id>/questions/<int:question_id>/delete", methods=["POST"])
@login_required
def delete_question(session_id, question_id):
    session = own_session(session_id)
    question = own_question(session, question_id)
    was_current = question is session.current_question
    db.session.delete(question)
    db.session.commit()
    for n, q in enumerate(session.questions):
        q.position = n
    db.session.commit()
    if was_current:
        live.announce(session)
    flash("Question deleted with its answers.")
    return redirect(url_for(".detail", session_id=session.id))


@bp.route("/<int:session_id>/questions/<int:question_id>/move", methods=["POST"])
@login_required
def move_question(session_id, question_id):
    session = own_session(session_id)
    step = -1 if request.form.get("direction") == "up" else 1
    rules.move_question(own_question(session, question_id), step)
    return redirect(url_for(".detail", session_id=session.id) + f"#q{question_id}")


@bp.route("/<int:session_id>/control", methods=["GET", "POST"])
@login_required
def control(session_id):
    session = own_session(session_id)
    if request.method == "POST":
        # The page works without JavaScript too; with it, the same actions go over the socket.
        try:
            rules.control(session, request.form.get("action"), request.form.get("question_id"))
        except rules.Invalid as error:
            flash(str(error), "error")
        else:
            live.announce(session)
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
