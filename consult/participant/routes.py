"""The participant's pages: the start page, joining, and the phone page, with HTTP twins of the
phone's socket events for a phone whose socket is down."""
from flask import (Response, abort, current_app, flash, jsonify, redirect, render_template, request,
                   send_from_directory, url_for)

from .. import limits, live, pictures, rules, services
from ..forms import JoinForm
from ..urls import join_url, qr_svg
from . import bp
from .tokens import new_token, no_table_chosen, phone, remember_no_table, remember_token, remembered_token


@bp.route("/", methods=["GET", "POST"])
@limits.code_guesses
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
@limits.code_guesses
@limits.joining
def join(code):
    cafe = rules.find_session(code)
    if cafe is None:
        form = JoinForm(code=code[:20])
        # An unvalidated field's errors is a tuple: assign a list, do not append (that was a 500).
        form.code.errors = ["There is no session with that code. Check it on the big screen and try again."]
        return render_template("participant/start.html", form=form), 404
    # The phone's token, and no participant yet: that is made with its first answer or table.
    token = remembered_token(cafe.join_code) or new_token()
    remember_token(cafe.join_code, token)
    participant = rules.participant_for(cafe, token)
    if "t" in request.args:
        # The QR code on a table: seat the phone there, then show the clean link (safe to share or bookmark).
        # A table of another session, or garbage, is ignored: the phone simply asks which table.
        try:
            _, table_id = services.seat(cafe, rules.Voter(participant.id if participant else None, cafe.id, token),
                                        request.args["t"])
        except rules.Invalid:
            pass
        else:
            remember_no_table(cafe.join_code, table_id is None)
        return redirect(url_for(".join", code=cafe.join_code))
    if code != cafe.join_code:
        return redirect(url_for(".join", code=cafe.join_code))
    return render_template(
        "participant/phone.html",
        cafe=cafe,
        state=live.phone_state(cafe, participant),
        no_table=no_table_chosen(cafe.join_code),
        note_limit=current_app.config["CONSULT_NOTE_MAX_LENGTH"],
    )


@bp.route("/j/<code>/qr.svg")
@limits.code_guesses
def qr(code):
    cafe = rules.find_session(code)
    if cafe is None:
        abort(404, "There is no session with that code.")
    return Response(qr_svg(join_url(cafe)), mimetype="image/svg+xml", headers={"Cache-Control": "max-age=3600"})


def _answer(code, kind):
    """A vote, note or dot (kind) sent over HTTP: the same ack as the socket's, as JSON."""
    cafe, _, who = phone(code)
    if cafe is None:
        return jsonify(ok=False, error="There is no session with that code."), 404
    if who is None:
        return jsonify(ok=False, error="Open the join link again to take part."), 403
    refusal = limits.answer(current_app._get_current_object(), kind, who)
    if refusal:
        return limits.refused(refusal)
    ack = services.answer(who, kind, request.get_json(silent=True))
    return jsonify(ack), 200 if ack["ok"] else 400


@bp.route("/j/<code>/vote", methods=["POST"])
@limits.code_guesses
def vote(code):
    """The socket's vote event, for a phone whose socket is down."""
    return _answer(code, "vote")


@bp.route("/j/<code>/note", methods=["POST"])
@limits.code_guesses
def note(code):
    return _answer(code, "note")


@bp.route("/j/<code>/dot", methods=["POST"])
@limits.code_guesses
def dot(code):
    return _answer(code, "dot")


@bp.route("/j/<code>/undot", methods=["POST"])
@limits.code_guesses
def undot(code):
    cafe, _, who = phone(code)
    if cafe is None:
        return jsonify(ok=False, error="There is no session with that code."), 404
    if who is None:
        return jsonify(ok=False, error="Open the join link again to take part."), 403
    refusal = limits.answer(current_app._get_current_object(), "dot", who)
    if refusal:
        return limits.refused(refusal)
    ack = services.take_back_dot(who, request.get_json(silent=True))
    return jsonify(ack), 200 if ack["ok"] else 400


@bp.route("/j/<code>/table", methods=["POST"])
@limits.code_guesses
def table(code):
    """Move to another table ({table_id}; null or "none": no table), as the socket's table event does.

    JSON from the phone's script when its socket is down; a plain form post (the picker's buttons)
    without script, answered with the phone page again.
    """
    wants_json = request.is_json
    cafe, _, who = phone(code)
    if cafe is None:
        if wants_json:
            return jsonify(ok=False, error="There is no session with that code."), 404
        abort(404, "There is no session with that code.")
    if who is None:
        if wants_json:
            return jsonify(ok=False, error="Open the join link again to take part."), 403
        return redirect(url_for(".join", code=cafe.join_code))
    data = request.get_json(silent=True) if wants_json else request.form
    table_id = data.get("table_id", "?") if hasattr(data, "get") else "?"
    if table_id in ("", "none"):
        table_id = None
    refusal = limits.answer(current_app._get_current_object(), "table", who)
    if refusal:
        if wants_json:
            return limits.refused(refusal)
        flash(refusal["error"], "error")
        return redirect(url_for(".join", code=cafe.join_code))
    try:
        participant, table_id = services.seat(cafe, who, table_id)
    except rules.Invalid as error:
        if wants_json:
            return jsonify(ok=False, error=str(error)), 400
        flash(f"{error} Choose your table again.", "error")
        return redirect(url_for(".join", code=cafe.join_code))
    remember_no_table(cafe.join_code, table_id is None)
    if wants_json:
        return jsonify(ok=True, table_id=table_id)
    flash(f"You are at {participant.table.name}." if table_id else "You are not at a table. You can choose one any time.")
    return redirect(url_for(".join", code=cafe.join_code))


@bp.route("/j/<code>/state.json")
@limits.code_guesses
def state(code):
    cafe, participant, who = phone(code)
    # JSON errors, as the vote and note endpoints give, not an HTML page a script cannot read.
    if cafe is None:
        return jsonify(ok=False, error="There is no session with that code."), 404
    if who is None:
        return jsonify(ok=False, error="Open the join link again to take part."), 403
    return jsonify(live.phone_state(cafe, participant))


@bp.route(pictures.PATH + "<name>")
def picture(name):
    """A question's or an option's picture, for phones, screens and the facilitator's pages."""
    # The name is checked against the pattern of names consult makes: no path, no other file.
    if not pictures.NAME.match(name):
        abort(404, "There is no such picture.")
    response = send_from_directory(pictures.upload_dir(), name, mimetype=pictures.TYPES[name.rsplit(".", 1)[1]],
                                   max_age=pictures.CACHE_SECONDS)
    # A name is never given to other content: the browser may keep the picture for good.
    response.cache_control.public = True
    response.cache_control.immutable = True
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    return response


@bp.app_template_filter("picture_url")
def _picture_url(name):
    return pictures.url(name) or ""


@bp.app_template_filter("picture_data")
def _picture_data(name):
    return pictures.data_uri(name)
