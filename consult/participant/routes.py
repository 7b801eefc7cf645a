from flask import Response, abort, current_app, flash, jsonify, redirect, render_template, request, session, url_for
from sqlalchemy import select

from .. import cafe as cafe_rules, dots as dot_rules, live, rules
from ..batch import writer
from ..extensions import db
from ..forms import JoinForm
from ..models import Note
from ..urls import join_url, qr_svg
from . import bp


def remembered_token(code):
    """The participant token this browser holds for a session, kept in the signed cookie."""
    tokens = session.get("p")
    return tokens.get(code) if isinstance(tokens, dict) else None


def remember_token(code, token):
    tokens = dict(session.get("p") or {})
    tokens[code] = token
    # A phone is only ever at a few events; keep the cookie small.
    session["p"] = dict(list(tokens.items())[-8:])
    session.permanent = True


def no_table_chosen(code):
    """Whether this browser said "I'm not at a table" in the session (so the phone does not ask again)."""
    return code in (session.get("nt") or [])


def remember_no_table(code, chosen):
    codes = [c for c in (session.get("nt") or []) if isinstance(c, str) and c != code]
    session["nt"] = (codes + [code])[-8:] if chosen else codes


def participant_or_none(code):
    cafe = rules.find_session(code)
    if cafe is None:
        return None, None
    return cafe, rules.participant_for(cafe, remembered_token(cafe.join_code))


@bp.route("/", methods=["GET", "POST"])
def start():
    form = JoinForm()
    if form.validate_on_submit():
        cafe = rules.find_session(form.code.data)
        if cafe is not None:
            return redirect(url_for(".join", code=cafe.join_code))
        form.code.errors.append(
            "There is no session with that code. Check it on the big screen: it is 6 letters and numbers."
        )
        return render_template("participant/start.html", form=form), 404
    return render_template("participant/start.html", form=form)


@bp.route("/j/<code>")
def join(code):
    cafe = rules.find_session(code)
    if cafe is None:
        form = JoinForm(code=code[:20])
        # An unvalidated field's errors is a tuple: assign a list, do not append (that was a 500).
        form.code.errors = ["There is no session with that code. Check it on the big screen and try again."]
        return render_template("participant/start.html", form=form), 404
    participant = rules.join(cafe, remembered_token(cafe.join_code))
    remember_token(cafe.join_code, participant.token)
    if "t" in request.args:
        # The QR code on a table: seat the phone there, then show the clean link (safe to share or bookmark).
        # A table of another session, or garbage, is ignored: the phone simply asks which table.
        try:
            table_id = cafe_rules.choose_table(participant, request.args["t"])
        except rules.Invalid:
            pass
        else:
            _seated(cafe, participant, table_id)
        return redirect(url_for(".join", code=cafe.join_code))
    if code != cafe.join_code:
        return redirect(url_for(".join", code=cafe.join_code))
    return render_template(
        "participant/phone.html",
        cafe=cafe,
        state=live.phone_state(participant),
        no_table=no_table_chosen(cafe.join_code),
        note_limit=current_app.config["CONSULT_NOTE_MAX_LENGTH"],
    )


@bp.route("/j/<code>/qr.svg")
def qr(code):
    cafe = rules.find_session(code)
    if cafe is None:
        abort(404, "There is no session with that code.")
    return Response(qr_svg(join_url(cafe)), mimetype="image/svg+xml", headers={"Cache-Control": "max-age=3600"})


def _answer(code, record):
    cafe, participant = participant_or_none(code)
    if cafe is None:
        return jsonify(ok=False, error="There is no session with that code."), 404
    if participant is None:
        return jsonify(ok=False, error="Open the join link again to take part."), 403
    try:
        payload = request.get_json(silent=True)
        item_id, changed = writer.submit(record, rules.Voter(participant.id, cafe.id), payload)
    except rules.Invalid as error:
        return jsonify(ok=False, error=str(error)), 400
    live.touch(cafe.id)
    if record == "record_notes":
        return jsonify(recorded_note(item_id, changed))
    return jsonify(ok=True, id=item_id)


def recorded_note(note_id, created):
    """The ack of a note: {ok, id, status}. The status (visible, pending, held or hidden) lets the
    phone tell its owner whether the note shows yet; a new note's table host hears of it."""
    status, table_id, question_id = db.session.execute(
        select(Note.status, Note.table_id, Note.question_id).filter_by(id=note_id)).one()
    if created:
        live.table_changed(table_id, question_id)
    return {"ok": True, "id": note_id, "status": status}


@bp.route("/j/<code>/vote", methods=["POST"])
def vote(code):
    """The same vote as the socket event, for a phone whose socket is down."""
    return _answer(code, "record_votes")


@bp.route("/j/<code>/note", methods=["POST"])
def note(code):
    return _answer(code, "record_notes")


# -- dot-voting (consult/dots.py) ------------------------------------------------------

def _my_dots(who, payload):
    """This phone's dots on the question a dot request names, so it shows exactly what counts."""
    question = dot_rules.question_of(who, payload.get("question_id") if isinstance(payload, dict) else None)
    if question is None:
        return {}
    return {"mine": dot_rules.mine(who.id, question.id), "left": dot_rules.left_for(who.id, question)}


def add_dot(who, payload):
    """{question_id, note_id, client_id}: the ack for placing a dot, over the socket or HTTP."""
    try:
        dot_id, placed = writer.submit("record_dots", who, payload)
    except rules.Invalid as error:
        return {"ok": False, "error": str(error), **_my_dots(who, payload)}
    if placed:
        live.touch(who.session_id)
    return {"ok": True, "id": dot_id, "placed": placed, **_my_dots(who, payload)}


def take_back_dot(who, payload):
    """{question_id, dot_id} (or note_id): the ack for taking a dot back."""
    try:
        dot_id, taken = dot_rules.take_back(who, payload)
    except rules.Invalid as error:
        db.session.rollback()
        return {"ok": False, "error": str(error), **_my_dots(who, payload)}
    if taken:
        live.touch(who.session_id)
    return {"ok": True, "id": dot_id, "taken": taken, **_my_dots(who, payload)}


def _dot_request(code, handle):
    cafe, participant = participant_or_none(code)
    if cafe is None:
        return jsonify(ok=False, error="There is no session with that code."), 404
    if participant is None:
        return jsonify(ok=False, error="Open the join link again to take part."), 403
    ack = handle(rules.Voter(participant.id, cafe.id), request.get_json(silent=True))
    return jsonify(ack), 200 if ack["ok"] else 400


@bp.route("/j/<code>/dot", methods=["POST"])
def dot(code):
    """The socket's dot event, for a phone whose socket is down."""
    return _dot_request(code, add_dot)


@bp.route("/j/<code>/undot", methods=["POST"])
def undot(code):
    return _dot_request(code, take_back_dot)


@bp.route("/j/<code>/table", methods=["POST"])
def table(code):
    """Move to another table ({table_id}; null or "none": no table), as the socket's table event does.

    JSON from the phone's script when its socket is down; a plain form post (the picker's buttons)
    without script, answered with the phone page again.
    """
    wants_json = request.is_json
    cafe, participant = participant_or_none(code)
    if cafe is None:
        if wants_json:
            return jsonify(ok=False, error="There is no session with that code."), 404
        abort(404, "There is no session with that code.")
    if participant is None:
        if wants_json:
            return jsonify(ok=False, error="Open the join link again to take part."), 403
        return redirect(url_for(".join", code=cafe.join_code))
    data = request.get_json(silent=True) if wants_json else request.form
    table_id = data.get("table_id", "?") if hasattr(data, "get") else "?"
    if table_id in ("", "none"):
        table_id = None
    try:
        table_id = cafe_rules.choose_table(participant, table_id)
    except rules.Invalid as error:
        if wants_json:
            return jsonify(ok=False, error=str(error)), 400
        flash(f"{error} Choose your table again.", "error")
        return redirect(url_for(".join", code=cafe.join_code))
    _seated(cafe, participant, table_id)
    if wants_json:
        return jsonify(ok=True, table_id=table_id)
    flash(f"You are at {participant.table.name}." if table_id else "You are not at a table. You can choose one any time.")
    return redirect(url_for(".join", code=cafe.join_code))


def _seated(cafe, participant, table_id):
    remember_no_table(cafe.join_code, table_id is None)
    live.touch(cafe.id)  # the control page counts who sits where


@bp.route("/j/<code>/state.json")
def state(code):
    cafe, participant = participant_or_none(code)
    # JSON errors, as the vote and note endpoints give, not an HTML page a script cannot read.
    if cafe is None:
        return jsonify(ok=False, error="There is no session with that code."), 404
    if participant is None:
        return jsonify(ok=False, error="Open the join link again to take part."), 403
    return jsonify(live.phone_state(participant))
