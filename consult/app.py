"""The application factory."""
import os

from flask import Flask, Request, abort, current_app, render_template, request
from flask.sessions import SecureCookieSessionInterface
from flask_socketio import ConnectionRefusedError, SocketIO
from sqlalchemy import select
from werkzeug.exceptions import BadRequest

from . import config, device, limits, rules, validate
from .extensions import csrf, db, headers, login, migrate

MIGRATIONS = os.path.join(os.path.dirname(__file__), "migrations")


def _folder(name):
    """templates/ or static/: inside the package when installed from a wheel, beside it in a checkout."""
    here = os.path.dirname(os.path.abspath(__file__))
    inside = os.path.join(here, name)
    return inside if os.path.isdir(inside) else os.path.join(os.path.dirname(here), name)


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, not decoded again for every Socket.IO event.

    Flask-SocketIO runs each event in a request context built from the socket's first request,
    and swaps that context's session for the socket's own copy (saved at its first event) as
    soon as it is pushed. Decoding and verifying the cookie anew each time was wasted, and it
    was a third of the server's work per vote in a burst (measured with py-spy).
    """

    def open_session(self, app, request):
        if "saved_session" in request.environ:
            return self.session_class()  # replaced by the socket's own session before any use
        return super().open_session(app, request)


class SizedRequest(Request):
    """Only a form with pictures (multipart) may be large: any other body is short text.

    Werkzeug 3.1.9 reads a url-encoded form whole, capped by the request's size limit only, so
    one limit for uploads and for text would let a 30 MB text field into memory.
    """

    @property
    def max_content_length(self):
        if self.mimetype == "multipart/form-data":
            return current_app.config["MAX_CONTENT_LENGTH"]
        return current_app.config["MAX_FORM_MEMORY_SIZE"]

    def on_json_loading_failed(self, e):
        if isinstance(e, validate.Refused):
            raise BadRequest(str(e))
        raise BadRequest("That request is not valid JSON.")


def _check_request():
    """Refuse, with a 400 and a message, a request no page or route of consult can take: NUL or a
    lone surrogate in a URL part, query argument or form field (PostgreSQL cannot even look such
    text up), or a JSON body nested too deep or otherwise malformed (validate.loads)."""
    # JSON bodies are read by the validation layer: depth, sizes, numbers and text checked. (Flask
    # gives each request the app's JSON provider as it starts, so it is replaced here, not on the class.)
    request.json_module = validate.RequestJSON
    try:
        validate.path_part(request.path)
        for key, value in request.args.items(multi=True):
            validate.request_text(key, "address"), validate.request_text(value, "address")
        if request.method in ("POST", "PUT", "PATCH", "DELETE"):
            if request.is_json:
                if request.get_data(cache=True):
                    request.get_json()  # parsed once, checked, and kept for the route
            else:
                for key, value in request.form.items(multi=True):
                    validate.request_text(key, "form"), validate.request_text(value, "form")
    except validate.Refused as error:
        abort(400, str(error))


def create_app(overrides=None):
    app = Flask(__name__, template_folder=_folder("templates"), static_folder=_folder("static"),
                instance_path=config.instance_path(), instance_relative_config=True)
    config.private_folder(app.instance_path)
    config.load(app, overrides)
    app.session_interface = SessionInterface()
    app.request_class = SizedRequest
    app.before_request(_check_request)
    device.init_app(app)

    if app.config["CONSULT_PROXIES"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Behind nginx: trust its X-Forwarded-* headers, so join links carry the public scheme and host.
        n = app.config["CONSULT_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)

    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS, render_as_batch=True)
    csrf.init_app(app)
    headers.init_app(app)
    login.init_app(app)
    login.login_view = "auth.login"
    login.login_message = "Sign in to run your café sessions."
    limits.init_app(app)
    # Each app its own SocketIO: Flask-SocketIO keeps the server on this object, so one shared by
    # two apps in a process would carry the first app's news through the second's sockets.
    socketio = SocketIO(
        app,
        async_mode=app.config["CONSULT_ASYNC_MODE"],
        **_queue(app),
        # Same-origin only: a page elsewhere must not drive a facilitator's signed-in socket.
        cors_allowed_origins=_same_origin(app),
        # Phones on weak wifi: notice a dead connection within a minute, not sooner.
        ping_interval=25,
        ping_timeout=30,
    )
    socketio.on_error_default(_socket_error)
    from . import live

    from . import services

    live.init_app(app, socketio, services.answered)

    from . import models
    from .auth import bp as auth_bp
    from .facilitator import bp as facilitator_bp, events as facilitator_events
    from .host import bp as host_bp, events as host_events
    from .participant import bp as participant_bp, events as participant_events
    from .writeup import bp as writeup_bp

    @login.user_loader
    def load_user(token):
        # Cookies carry the account's session token (Facilitator.get_id): a new one ends them all.
        if not token or len(token) > 64 or not token.isascii():
            return None
        return db.session.scalar(select(models.Facilitator).filter_by(session_token=token))

    # Counts and dates in words, the same helpers as the write-ups: {{ n|count("participant") }}.
    from . import words
    app.jinja_env.filters.update(count=words.count, plural=words.plural, in_words=words.in_words,
                                 long_date=words.long_date)
    app.register_blueprint(auth_bp)
    app.register_blueprint(facilitator_bp)
    app.register_blueprint(host_bp)
    app.register_blueprint(writeup_bp)
    app.register_blueprint(participant_bp)
    for events in (facilitator_events, host_events, participant_events):
        events.sockets.init_app(app, socketio)

    from .cli import register

    register(app)

    from flask_wtf.csrf import CSRFError

    app.register_error_handler(CSRFError, _csrf_error)
    for code, title in ((400, "Bad request"), (403, "Not yours"), (404, "Not found"), (405, "Not allowed"),
                        (413, "Too large")):
        app.register_error_handler(code, _error_page(code, title))
    return app


def _queue(app):
    """SocketIO's options for the message queue between processes, if there is one.

    Redis: consult's own manager, which resyncs this process's sockets after losing Redis.
    """
    url, channel = app.config["CONSULT_MESSAGE_QUEUE"], app.config["CONSULT_CHANNEL"]
    if url and url.startswith(("redis://", "rediss://")):
        from . import live
        from .queue import Queue

        return {"client_manager": Queue(url, channel, back=lambda: live.resync_soon(app), logger=app.logger)}
    return {"message_queue": url, "channel": channel}


def _same_origin(app):
    """The Socket.IO handshake's Origin check: this server's own address only.

    python-engineio's own check (cors_allowed_origins=None) also accepts the address in
    X-Forwarded-Proto/-Host, which any client may send; these are believed only from the
    CONSULT_PROXIES proxies in front of us (as ProxyFix does: the value the nearest added).
    """
    from urllib.parse import urlsplit

    proxies = app.config["CONSULT_PROXIES"]
    public = app.config["CONSULT_PUBLIC_URL"]
    public = "{0.scheme}://{0.netloc}".format(urlsplit(public)) if public else None

    def forwarded(environ, name, default):
        values = [v.strip() for v in environ.get(name, "").split(",") if v.strip()]
        return values[-proxies] if proxies and len(values) >= proxies else default

    def allowed(origin, environ):
        if not origin:
            return False
        scheme, host = environ.get("wsgi.url_scheme", "http"), environ.get("HTTP_HOST", "")
        ours = {f"{scheme}://{host}", public}
        if proxies:
            ours.add(f"{forwarded(environ, 'HTTP_X_FORWARDED_PROTO', scheme)}://"
                     f"{forwarded(environ, 'HTTP_X_FORWARDED_HOST', host)}")
        return origin in ours

    return allowed


def _csrf_error(error):
    if request.is_json:
        # The phone's script reads JSON; a stale page's token is fixed by reloading it.
        return {"ok": False, "error": "This page is out of date: reload it and send again."}, 400
    return render_template("error.html", code=400, title="Form expired",
                           message="This form was out of date. Go back, reload the page and try again."), 400


def _error_page(code, title):
    def handler(error):
        message = getattr(error, "description", "") or title
        if request.is_json or request.accept_mimetypes.best == "application/json":
            return {"ok": False, "error": message}, code  # a script reads JSON, not a page
        return render_template("error.html", code=code, title=title, message=message), code

    return handler


SOCKET_ERROR = rules.FAILED


def _socket_error(error):
    """An exception in a socket handler: log it and answer, so the client is not left waiting.

    Without this, Flask-SocketIO re-raises: the event gets no ack at all and a phone waits
    for its timeout, and a failed transaction would stay open until teardown.
    """
    event = getattr(request, "event", None) or {}
    current_app.logger.exception("socket event %r on %s failed", event.get("message"), getattr(request, "namespace", "?"))
    try:
        db.session.rollback()
    except Exception:  # the database itself may be what failed; the answer must still go out
        current_app.logger.exception("rollback after a failed socket event failed too")
    if event.get("message") == "connect":
        # A half-made connection is worse than none: refuse it, and the client retries.
        raise ConnectionRefusedError(SOCKET_ERROR)
    return {"ok": False, "error": SOCKET_ERROR}
