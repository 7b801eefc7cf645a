from flask import Response, abort, current_app, jsonify, redirect, render_template, request, session, url_for

from .. import live, rules
from ..batch import writer
from ..forms import JoinForm
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
    if code != cafe.join_code:
        return redirect(url_for(".join", code=cafe.join_code))
    participant = rules.join(cafe, remembered_token(cafe.join_code))
    remember_token(cafe.join_code, participant.token)
    return render_template(
        "participant/phone.html",
        cafe=cafe,
        state=live.phone_state(participant),
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
        item_id, changed = writer.submit(record, rules.Voter(participant.id, cafe.id, participant.table_id), payload)
    except rules.Invalid as error:
        return jsonify(ok=False, error=str(error)), 400
    live.touch(cafe.id)
    if record == "record_notes" and changed:
        live.table_changed(participant.table_id, payload["question_id"])
    return jsonify(ok=True, id=item_id)


@bp.route("/j/<code>/vote", methods=["POST"])
def vote(code):
    """The same vote as the socket event, for a phone whose socket is down."""
    return _answer(code, "record_votes")


@bp.route("/j/<code>/note", methods=["POST"])
def note(code):
    return _answer(code, "record_notes")


@bp.route("/j/<code>/state.json")
def state(code):
    cafe, participant = participant_or_none(code)
    # JSON errors, as the vote and note endpoints give, not an HTML page a script cannot read.
    if cafe is None:
        return jsonify(ok=False, error="There is no session with that code."), 404
    if participant is None:
        return jsonify(ok=False, error="Open the join link again to take part."), 403
    return jsonify(live.phone_state(participant))
