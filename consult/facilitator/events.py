"""Socket events of the control page and the projector (namespace /facilitator)."""
import functools

from flask import request
from flask_login import current_user
from flask_socketio import ConnectionRefusedError, join_room

from .. import live, rules
from ..extensions import db, socketio
from ..models import CafeSession
from .routes import change_dots, change_round, moderate_note

NS = live.FACILITATOR_NS
_screens = {}  # sid -> (session id, view)


def _owned(session_id):
    if rules.as_id(session_id) is None:
        return None
    session = db.session.get(CafeSession, session_id)
    if session is None or not current_user.is_authenticated or session.owner_id != current_user.id:
        return None
    return session


@socketio.on("connect", namespace=NS)
def connect(auth):
    if not current_user.is_authenticated:
        raise ConnectionRefusedError("Sign in first.")
    auth = auth if isinstance(auth, dict) else {}
    session = _owned(auth.get("session_id"))
    view = auth.get("view")
    if session is None or view not in ("control", "projector"):
        raise ConnectionRefusedError("No such session among yours.")
    _screens[request.sid] = (session.id, view)
    join_room(live.screen_room(session.id, view))
    socketio.emit("state", live.screen_state(session, view), to=request.sid, namespace=NS)


@socketio.on("disconnect", namespace=NS)
def disconnect(*_):
    _screens.pop(request.sid, None)


def _control_session(data):
    """(session, None) for a request from a control page, or (None, the error ack)."""
    where = _screens.get(request.sid)
    if where is None or where[1] != "control":
        return None, {"ok": False, "error": "Only the control page can do that."}
    session = _owned(where[0])
    if session is None:
        return None, {"ok": False, "error": "No such session among yours."}
    if not isinstance(data, dict):
        return None, {"ok": False, "error": "Malformed request."}
    return session, None


def control_event(name):
    """A control-page event: its session checked, and a broken rule answered as an error ack."""
    def register(handler):
        @socketio.on(name, namespace=NS)
        @functools.wraps(handler)
        def answer(data):
            session, refused = _control_session(data)
            if refused:
                return refused
            try:
                return {"ok": True, **(handler(session, data) or {})}
            except rules.Invalid as error:
                return {"ok": False, "error": str(error)}
        return answer
    return register


@control_event("control")
def control(session, data):
    """{action: open|close|show|reveal|hide, question_id} from the control page."""
    rules.control(session, data.get("action"), data.get("question_id"))
    live.announce(session)


@control_event("round")
def round_(session, data):
    """{action: "start", number} starts round number (the next one without it);
    {action: "show", number} shows that round on the projector (0 or null: all rounds)."""
    change_round(session, data.get("action"), data.get("number"))


@control_event("moderate")
def moderate(session, data):
    """{note_id, action: approve|hide|restore|highlight|unhighlight} from the control page."""
    moderate_note(session, data.get("note_id"), data.get("action"), current_user.email)


@control_event("dots")
def dots(session, data):
    """{question_id, action: open|close, dots: N} from the control page: dot-voting on a notes question."""
    question = change_dots(session, data.get("question_id"), data.get("action"), data.get("dots"))
    return {"open": question.dots_open, "dots": question.dots}


@socketio.on("*", namespace=NS)
def unknown(event, *_):
    return {"ok": False, "error": f"Unknown request {str(event)[:40]!r}."}
