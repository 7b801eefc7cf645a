"""Rate limits: how often one phone, one browser or one address may do something.

Flask-Limiter guards the HTTP routes (sign-in, join codes, joining, uploads, downloads) with the
decorators below. The phones' answers are counted here too, with the `limits` package in the
same storage, by answer(): the socket handlers and their HTTP twins both call it, and on the
socket's hot path it is one in-memory (or Redis) count, with no request context.

What phones do is counted per phone (its participant) or per device cookie, never per address
alone: a venue's phones share one NAT, and the room must never be shut out together. Per
address there are only a cap a room cannot reach (opening join links) and counts of what
mostly an attacker does a lot (join codes that match no session, wrong passwords).

Counts are kept in memory, or in Redis when several processes serve one event (the message
queue's Redis, or CONSULT_LIMITS_STORAGE), so that each process sees the others' counts.
"""
import math
import threading
import time

from flask import current_app, jsonify, make_response, render_template, request
from flask_limiter.util import get_remote_address
from flask_login import current_user
from limits import parse_many
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from . import device
from .extensions import limiter
from .words import count

TOO_FAST = "You are sending very fast: wait a moment and try again."
TOO_MANY_SOCKETS = "This phone has too many consult pages open: close the others, then reload this one."
WRONG_CODES = "Too many codes that match no session were tried here. Check the code on the big screen, and try again"
SIGN_IN = "Too many wrong passwords. For your account's safety, wait before you try again"
JOINING = "This session link was opened very many times from here. Wait a moment, then reload the page"
UPLOADS = "You have sent very many files. Wait a while before you send more"
EXPORTS = "You have downloaded very many write-ups. Wait a moment, then try again"
ANSWERS = {"vote": "CONSULT_LIMIT_VOTES", "note": "CONSULT_LIMIT_NOTES", "dot": "CONSULT_LIMIT_DOTS",
           "table": "CONSULT_LIMIT_TABLES"}
# A storage that fails (Redis gone) lets everything through; say so at most this often.
WARN_EVERY = 60
SWEEP_EVERY = 5  # seconds between sweeps of expired counts kept in memory


class Memory(MemoryStorage):
    """limits' in-memory storage, sweeping out expired counts every few seconds, not 100 times a second.

    Its sweep walks every key: with a room of phones counted, sweeping each 10 ms during a burst
    of answers took 7 ms a time (2,000 phones), on the server's one event loop. Expired counts
    only take memory meanwhile; every check reads the times themselves.
    """

    def _MemoryStorage__schedule_expiry(self):
        if not self.timer.is_alive():
            self.timer = threading.Timer(SWEEP_EVERY, self._MemoryStorage__expire_events)
            self.timer.daemon = True  # never keeps a finished process alive
            self.timer.start()


class Counts:
    """One app's counts: its limits storage and strategy, and the sockets open per device."""

    def __init__(self, app):
        cfg = self.config = app.config
        uri = storage_uri(cfg)
        options = {}
        if uri.startswith("redis"):  # redis://, rediss://, redis+unix://, redis+sentinel://...
            # Beside the message queue, and apart from any other consult on the same Redis.
            options["key_prefix"] = f"consult-limits:{cfg['CONSULT_CHANNEL']}"
        self.storage = Memory() if uri == "memory://" else storage_from_string(uri, **options)
        self.strategy = MovingWindowRateLimiter(self.storage)
        self.answers = {kind: parse_many(cfg[name]) for kind, name in ANSWERS.items()}
        self.max_sockets = cfg["CONSULT_LIMIT_SOCKETS"]
        self.sockets = {}  # device key -> sockets it has open on this process
        self.socket_keys = {}  # sid -> its device key
        self.lock = threading.Lock()
        self.warned = -WARN_EVERY
        self.logger = app.logger  # answer() runs outside any app context

    @property
    def on(self):
        return self.config["CONSULT_LIMITS"]

    def hit(self, items, *keys):
        """Count one more; None if it is allowed, else the seconds until it would be."""
        try:
            for item in items:
                if not self.strategy.hit(item, *keys):
                    reset, _ = self.strategy.get_window_stats(item, *keys)
                    return max(1, math.ceil(reset - time.time()))
        except Exception as error:
            self.failed(error)
        return None

    def failed(self, error=None):
        # Limits protect the event; an unreachable storage must not stop it. A lost Redis is
        # expected news (it restarts), said once a minute in a line, not a traceback per answer.
        if time.monotonic() - self.warned > WARN_EVERY:
            self.warned = time.monotonic()
            self.logger.warning("the rate-limit storage failed (%s): limits are not applied meanwhile", error)


def storage_uri(cfg):
    if cfg.get("CONSULT_LIMITS_STORAGE"):
        return cfg["CONSULT_LIMITS_STORAGE"]
    queue = cfg.get("CONSULT_MESSAGE_QUEUE") or ""
    return queue if queue.startswith(("redis://", "rediss://")) else "memory://"


def init_app(app):
    app.extensions["limits"] = Counts(app)
    limiter.init_app(app)
    app.register_error_handler(429, too_many)


def counts():
    return current_app.extensions["limits"]


@limiter.request_filter
def _off():
    return not current_app.config["CONSULT_LIMITS"]


# -- the phones' answers and sockets --------------------------------------------------

def phone_key(who):
    """What a phone's answers are counted by: its participant (not its address), by the token the
    server gave it, which it has before its participant is made."""
    return f"phone:{who.token}" if who.token else f"participant:{who.id}"


def answer(app, kind, who):
    """None if who may send one more answer of kind ("vote", "note", "dot") now; else the ack
    that refuses it, with retry_after in seconds. Counts the answer when it is allowed."""
    limits = app.extensions["limits"]
    if not limits.on:
        return None
    wait = limits.hit(limits.answers[kind], phone_key(who), kind)
    if wait is None:
        return None
    return {"ok": False, "error": TOO_FAST, "retry_after": wait}


def refused(ack):
    """An HTTP response for a refused answer: 429 with Retry-After, the ack as JSON."""
    response = jsonify(ack)
    response.status_code = 429
    response.headers["Retry-After"] = str(ack["retry_after"])
    return response


def open_socket(sid, key):
    """Count a socket of device key (this process's); False if it has too many open already.

    nginx sends every request of one device to the same process (it hashes on the device
    cookie), so counting per process counts them all.
    """
    limits = counts()
    if not limits.on or not key:
        return True
    with limits.lock:
        n = limits.sockets.get(key, 0)
        if n >= limits.max_sockets:
            return False
        limits.sockets[key] = n + 1
        limits.socket_keys[sid] = key
    return True


def close_socket(sid):
    limits = counts()
    with limits.lock:
        key = limits.socket_keys.pop(sid, None)
        if key is not None:
            n = limits.sockets.get(key, 0) - 1
            if n > 0:
                limits.sockets[key] = n
            else:
                limits.sockets.pop(key, None)


# -- join codes over a socket (the routes have the decorators below) ----------------------

def _guess_keys():
    keys = [("CONSULT_LIMIT_WRONG_CODES_IP", get_remote_address(), "wrong-code-ip")]
    if device.current():
        keys.append(("CONSULT_LIMIT_WRONG_CODES_DEVICE", device.current(), "wrong-code-device"))
    return keys


def may_guess():
    """Whether this address and device may try a join code now: the same counts as the routes'."""
    limits = counts()
    if not limits.on:
        return True
    try:
        return all(limits.strategy.test(item, key, scope)
                   for name, key, scope in _guess_keys() for item in parse_many(current_app.config[name]))
    except Exception as error:
        limits.failed(error)
        return True


def missed():
    """Count a join code that matched no session."""
    limits = counts()
    if limits.on:
        for name, key, scope in _guess_keys():
            limits.hit(parse_many(current_app.config[name]), key, scope)


# -- the routes' limits (Flask-Limiter) -----------------------------------------------------

def _setting(name):
    return lambda: current_app.config["CONSULT_" + name]


def _no_device():
    return device.current() is None


def _device():
    return device.current()


def _account():
    return (request.form.get("email") or "").strip().lower()[:254]


def _user_or_device():
    """Who downloads or uploads: the signed-in account, else the device, else the address."""
    if current_user.is_authenticated:
        return f"user:{current_user.get_id()}"
    return device.current() or get_remote_address()


def _no_files():
    try:
        return not any(f.filename for f in request.files.values())
    except Exception:  # a body too large or malformed: the view answers it
        return True


def _both(*decorators):
    def apply(view):
        for decorate in reversed(decorators):
            view = decorate(view)
        return view

    return apply


def _missed_code(response):
    return response.status_code == 404


def _wrong_password(response):
    return response.status_code == 401


# A code that matches no session costs; a right one does not. The per-device count is the
# tight one; the per-address one is loose, as a room shares an address (and its typos).
code_guesses = _both(
    limiter.shared_limit(_setting("LIMIT_WRONG_CODES_IP"), scope="wrong-code-ip", key_func=get_remote_address,
                         deduct_when=_missed_code, error_message=WRONG_CODES),
    limiter.shared_limit(_setting("LIMIT_WRONG_CODES_DEVICE"), scope="wrong-code-device", key_func=_device,
                         exempt_when=_no_device, deduct_when=_missed_code, error_message=WRONG_CODES),
)

# Opening a join link: per device, and a cap per address no room reaches.
joining = _both(
    limiter.shared_limit(_setting("LIMIT_JOIN_IP"), scope="join-ip", key_func=get_remote_address,
                         error_message=JOINING),
    limiter.shared_limit(_setting("LIMIT_JOIN_DEVICE"), scope="join-device", key_func=_device,
                         exempt_when=_no_device, error_message=JOINING),
)

# Wrong passwords, per account and per address; a right one costs nothing.
sign_in = _both(
    limiter.limit(_setting("LIMIT_SIGNIN_ACCOUNT"), scope="account", key_func=_account, methods=["POST"],
                  exempt_when=lambda: not _account(), deduct_when=_wrong_password, error_message=SIGN_IN),
    limiter.limit(_setting("LIMIT_SIGNIN_IP"), scope="ip", key_func=get_remote_address, methods=["POST"],
                  deduct_when=_wrong_password, error_message=SIGN_IN),
)

# A form that carries a picture or a file.
uploads = limiter.shared_limit(_setting("LIMIT_UPLOADS"), scope="uploads", key_func=_user_or_device,
                               methods=["POST"], exempt_when=_no_files, error_message=UPLOADS)

# Write-ups and data files: each is work for the server (seconds, for a large café).
exports = limiter.shared_limit(_setting("LIMIT_EXPORTS"), scope="exports", key_func=_user_or_device,
                               error_message=EXPORTS)


def too_many(error):
    """429: what was refused, and when to try again (in words, and in Retry-After)."""
    message = error.description or TOO_FAST
    wait = _retry_after()
    if wait and not message.endswith("."):
        message += f" (about {_duration(wait)})."
    elif not message.endswith("."):
        message += "."
    if request.is_json or request.path.endswith(".json") or request.accept_mimetypes.best == "application/json":
        response = jsonify(ok=False, error=message)
    else:
        response = make_response(render_template("error.html", code=429, title="Please wait", message=message))
    response.status_code = 429
    if wait:
        response.headers["Retry-After"] = str(wait)
    return response


def _retry_after():
    current = limiter.current_limit
    try:
        return max(1, math.ceil(current.window[0] - time.time())) if current else None
    except Exception:
        return None


def _duration(seconds):
    if seconds < 90:
        return count(seconds, "second")
    return count(math.ceil(seconds / 60), "minute")
