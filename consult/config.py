"""Configuration: defaults, then instance/config.py, then CONSULT_* environment variables."""
import os
import secrets

# The server eventlet or gevent is chosen by this setting; the design card names eventlet.
ASYNC_MODE = "eventlet"
# The largest request: a question form with its picture and one for each of 12 options, 2 MB each.
MAX_REQUEST = 30 * 1024 * 1024

def _flag(value):
    return value.lower() in ("1", "true", "yes", "on")


# name -> (default, parser). Each is read from the environment as CONSULT_<NAME>.
SETTINGS = {
    "SECRET_KEY": (None, str),
    "DATABASE_URL": (None, str),
    "HOST": ("0.0.0.0", str),
    "PORT": (5000, int),
    "ASYNC_MODE": (ASYNC_MODE, str),
    "MAX_CONNECTIONS": (10000, int),
    "OPEN_SIGNUP": (False, _flag),
    "PUBLIC_URL": (None, str),
    "MESSAGE_QUEUE": (None, str),
    "CHANNEL": ("consult", str),
    "PROXIES": (0, int),
    "BROADCAST_INTERVAL": (0.25, float),
    "NOTE_MAX_LENGTH": (280, int),
    # SQLite copies while serving: a folder (a USB stick), minutes between copies (0: none), how many kept.
    "BACKUP_DIR": (None, str),
    "BACKUP_MINUTES": (5.0, float),
    "BACKUP_KEEP": (24, int),
    # Served over HTTPS (directly or behind a TLS proxy): HSTS, Secure cookies, http:// redirected.
    "HTTPS": (False, lambda v: v.lower() in ("1", "true", "yes", "on")),
    # Who may show the projector page in a frame (CSP frame-ancestors sources, e.g. "'self'
    # https://signage.example.org"); no page may be framed without it.
    "FRAME_ANCESTORS": (None, str),
    # Rate limits (consult/limits.py; README, "Limits"). "N per minute", "N per 15 minutes";
    # several with ";". LIMITS=0 turns every one off (a load test).
    "LIMITS": (True, _flag),
    "LIMITS_STORAGE": (None, str),  # a limits storage URI; default: memory, or the message queue's Redis
    "LIMIT_VOTES": ("60 per minute", str),  # per phone
    "LIMIT_NOTES": ("30 per minute", str),
    "LIMIT_DOTS": ("60 per minute", str),
    "LIMIT_TABLES": ("20 per minute", str),  # moves to another table
    "LIMIT_SOCKETS": (10, int),  # live connections open at once per device
    "LIMIT_SIGNIN_ACCOUNT": ("10 per 15 minutes", str),  # wrong passwords
    "LIMIT_SIGNIN_IP": ("50 per 15 minutes", str),
    "LIMIT_WRONG_CODES_DEVICE": ("20 per 10 minutes", str),  # join codes that match no session
    "LIMIT_WRONG_CODES_IP": ("200 per hour", str),
    "LIMIT_JOIN_DEVICE": ("60 per minute", str),  # opening a join link
    "LIMIT_JOIN_IP": ("1000 per minute", str),
    "LIMIT_UPLOADS": ("100 per hour", str),  # forms with pictures or a file, per account
    "LIMIT_EXPORTS": ("30 per minute", str),  # write-up downloads, per account (share links: per device)
}


def instance_path():
    """The instance folder: CONSULT_INSTANCE_PATH, or ./instance where consult is run."""
    return os.path.abspath(os.environ.get("CONSULT_INSTANCE_PATH") or "instance")


def load(app, overrides=None):
    cfg = app.config
    for name, (default, _) in SETTINGS.items():
        cfg.setdefault("CONSULT_" + name, default)
    # Flask defines these keys (as None), so they are set here, before instance/config.py may change them.
    cfg.update(
        SESSION_COOKIE_SAMESITE="Lax",
        # Phones keep their participant identity for the whole event and beyond a reload.
        PERMANENT_SESSION_LIFETIME=60 * 60 * 24 * 30,
        # CSRF tokens must outlive a long café on the facilitator's open pages.
        WTF_CSRF_TIME_LIMIT=None,
        MAX_CONTENT_LENGTH=MAX_REQUEST,
        # Werkzeug 3.1.9 stopped capping url-encoded form bodies by MAX_CONTENT_LENGTH; no form
        # field of consult's needs more than this (a long description, the blocked words).
        MAX_FORM_MEMORY_SIZE=500 * 1024,
    )
    cfg.from_pyfile("config.py", silent=True)
    for name, (_, parse) in SETTINGS.items():
        raw = os.environ.get("CONSULT_" + name)
        if raw is not None and raw != "":
            cfg["CONSULT_" + name] = parse(raw)
    if overrides:
        cfg.update(overrides)
    # Flask-Limiter's own settings: each app's counts live in consult/limits.py's storage, and
    # CONSULT_LIMITS (checked per request) turns them off, so the shared extension stays on. Its
    # headers would put a Retry-After on every page of a limited route: a 429 gets its own.
    cfg.update(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="memory://", RATELIMIT_STRATEGY="moving-window",
               RATELIMIT_HEADERS_ENABLED=False, RATELIMIT_SWALLOW_ERRORS=True)

    https = bool(cfg["CONSULT_HTTPS"])
    cfg.update(SESSION_COOKIE_SECURE=https, REMEMBER_COOKIE_SECURE=https, REMEMBER_COOKIE_SAMESITE="Lax",
               REMEMBER_COOKIE_HTTPONLY=True)

    if cfg.get("CONSULT_SECRET_KEY"):
        cfg["SECRET_KEY"] = cfg["CONSULT_SECRET_KEY"]
    if not cfg.get("SECRET_KEY"):
        cfg["SECRET_KEY"] = _stored_secret(app.instance_path)

    url = cfg.get("CONSULT_DATABASE_URL") or cfg.get("SQLALCHEMY_DATABASE_URI")
    if not url:
        url = "sqlite:///" + os.path.join(app.instance_path, "consult.db")
    if url.startswith("postgres://"):  # the scheme Heroku-style URLs use
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        # psycopg 3 in every mode (server.py makes it cooperative under eventlet), named so
        # that SQLAlchemy before 2.1 does not pick psycopg2; PostgreSQL is an optional extra.
        import importlib.util

        if importlib.util.find_spec("psycopg") is None:
            raise RuntimeError("PostgreSQL needs the psycopg driver: pip install 'psycopg[binary]' "
                               "(or install consult with its postgres extra: pip install '.[postgres]').")
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        private_file(url[len("sqlite:///"):])
    cfg["SQLALCHEMY_DATABASE_URI"] = url


def private_folder(path):
    """Make the folder (0700) or take group and others' access away from ours: it holds the
    database, the secret key and uploaded pictures."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    _owner_only(path, 0o700)


def private_file(path):
    """Create the SQLite file 0600 before SQLite does (it would follow the umask, 0644), or
    tighten ours; SQLite gives its -wal and -shm files the database file's mode."""
    path = path.split("?", 1)[0]
    if not path or os.path.basename(path) == ":memory:" or not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        return
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    except OSError:
        return  # a read-only place: SQLite will say so itself
    _owner_only(path, 0o600)


def _owner_only(path, mode):
    try:
        info = os.stat(path)
        if info.st_uid == os.getuid() and info.st_mode & 0o077:
            os.chmod(path, mode)
    except OSError:
        pass  # not ours to change; the deployment checklist says what it should be


def _stored_secret(folder):
    """Make a secret key on first run and keep it, so sign-ins survive a restart."""
    path = os.path.join(folder, "secret_key")
    try:
        with open(path) as f:
            key = f.read().strip()
        if key:
            return key
    except FileNotFoundError:
        pass
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key
