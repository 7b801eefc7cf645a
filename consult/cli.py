"""Commands of the `consult` CLI (also `flask --app consult ...`)."""
import json
import os
import sys

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy import select

from . import schema, words
from .extensions import db

DEMO_EMAIL = "demo@example.org"
DEMO_PASSWORD = "consult-demo"
DEMO_TITLE = "Local Access Leicester Strategy Café"
DEMO_QUESTIONS = [
    "Our vision is for a healthy, safe, confident and enterprising City. What does success look like for this project?",
    "What does meaningful employment mean to you, at job, community and industry levels?",
    "How might local people be empowered to take an active part in the economy?",
    "Leicester is a diverse city. How do we harness diversity and inclusion as a fundamental asset?",
    "How will the VCSE sector in Leicester have a more entrepreneurial impact? "
    "What are the financial opportunities for social investment?",
]


def _create_app():
    from . import create_app

    return create_app()


cli = FlaskGroup(create_app=_create_app, add_default_commands=False, help="consult: live consultation events.")


def register(app):
    """Attach the commands to the app too, so `flask --app consult ...` has them."""
    for command in COMMANDS:
        app.cli.add_command(command)


def _check_schema(app):
    """Upgrade the schema when this is the only server; with a message queue, leave it to init-db."""
    current, heads = schema.revisions()
    if current == heads:
        return
    if not app.config["CONSULT_MESSAGE_QUEUE"]:
        schema.upgrade()
        return
    # Several processes share this database: each migrating it at start would race the others.
    have = ", ".join(sorted(current)) or "none: the database is empty"
    raise click.ClickException(
        f"The database schema is not up to date (revision {have}; this consult needs {', '.join(sorted(heads))}). "
        "CONSULT_MESSAGE_QUEUE is set, so several servers may share the database and none of them "
        "migrates it: run `consult init-db` once (deploy/consult-init-db.service does), then start the servers."
    )


@click.command("init-db")
@with_appcontext
def init_db():
    """Create or upgrade the database schema."""
    schema.upgrade()
    click.echo(f"Database ready: {db.engine.url.render_as_string(hide_password=True)}")


@click.command("create-facilitator")
@click.argument("email")
@click.option("--password", help="Read from a prompt, or from stdin when it is not a terminal.")
@with_appcontext
def create_facilitator(email, password):
    """Make a facilitator account (or reset its password)."""
    from . import services

    if password is None:
        if sys.stdin.isatty():
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        else:
            password = sys.stdin.readline().rstrip("\n")
    if len(password) < 8:
        raise click.ClickException("The password needs at least 8 characters.")
    schema.upgrade()
    user, made = services.set_password(email, password)
    click.echo(f"{'Created' if made else 'Updated'} facilitator {user.email}.")


DEMO_TABLES = 4
DEMO_ROUNDS = 3
# The five questions as themes: the rows of the demo's trajectory grid.
DEMO_THEMES = [
    "Vision and success",
    "Meaningful employment",
    "Local people in the economy",
    "Diversity and inclusion",
    "VCSE enterprise and social investment",
]
# The "vital few" priorities the action framework links actions to.
DEMO_PRIORITIES = [
    ("VF1", "Vision & Leadership"),
    ("VF2", "Employment & Skills"),
    ("VF3", "Enterprise & Economy"),
    ("VF4", "Diversity & Inclusion"),
    ("VF5", "Social Investment"),
]
DEMO_TRAJECTORY = ("Where is the strategy heading? Add a milestone for a theme under the time horizon "
                   "you expect it.")


def make_demo():
    """The demo café, made once and reused; returns the session.

    A World Café: 4 tables, 3 rounds (round 1 started), the five vital questions as open notes,
    a yes/no and a scale question, a trajectory grid of the five themes against the four usual
    horizons, and the priorities VF1-VF5 for the action framework.
    """
    from . import cafe as cafe_rules, rules, starters
    from .models import CafeSession, Facilitator, Priority

    user = db.session.scalar(select(Facilitator).filter_by(email=DEMO_EMAIL))
    if user is None:
        user = Facilitator(email=DEMO_EMAIL)
        user.set_password(DEMO_PASSWORD)
        db.session.add(user)
    cafe = db.session.scalar(select(CafeSession).filter_by(owner=user, title=DEMO_TITLE)) if user.id else None
    if cafe is not None:
        return cafe
    cafe = CafeSession(
        owner=user,
        title=DEMO_TITLE,
        venue="Leicester",
        description=f"Five vital questions for the Local Access Leicester strategy, discussed at {DEMO_TABLES} "
                    f"tables over {DEMO_ROUNDS} rounds; table hosts highlight the key points.",
        join_code=rules.unique_join_code(),
    )
    db.session.add(cafe)
    db.session.flush()  # its defaults (round 0, post-moderation) are set by the insert
    cafe_rules.set_tables(cafe, [f"Table {n}" for n in range(1, DEMO_TABLES + 1)])
    starters.add_questions(cafe, [{"kind": "notes", "text": text, "max_length": 280} for text in DEMO_QUESTIONS] + [
        {"kind": "yesno", "text": "Should the strategy make employment its first priority?", "allow_unsure": True},
        {"kind": "scale", "text": "How confident are you that this strategy will make a difference?",
         "scale_min": 1, "scale_max": 5, "min_label": "Not at all", "max_label": "Very"},
        {"kind": "trajectory", "text": DEMO_TRAJECTORY, "rows": DEMO_THEMES},
    ])
    cafe.priorities.extend(Priority(code=code, name=name, position=i) for i, (code, name) in enumerate(DEMO_PRIORITIES))
    cafe_rules.start_round(cafe)
    db.session.flush()  # the questions' ids
    rules.control(cafe, "open", cafe.questions[0].id)
    db.session.commit()
    return cafe


def _print_demo(cafe):
    from .urls import lan_address

    host = current_app.config["CONSULT_HOST"]
    port = current_app.config["CONSULT_PORT"]
    shown = lan_address() if host in ("0.0.0.0", "::") else host
    base = (current_app.config["CONSULT_PUBLIC_URL"] or f"http://{shown or '127.0.0.1'}:{port}").rstrip("/")
    join = f"{base}/j/{cafe.join_code}"
    click.echo(f"Demo café: {cafe.title}")
    click.echo(f"  Facilitator login: {DEMO_EMAIL} / {DEMO_PASSWORD}")
    click.echo(f"  Sign in at:        {base}/auth/login")
    click.echo(f"  Join code:         {cafe.join_code}")
    click.echo(f"  Join URL:          {join}")
    if cafe.current_round:
        click.echo(f"  Round {cafe.current_round} has started ({DEMO_ROUNDS} planned); "
                   "start the next on the Run live page.")
    if cafe.tables:
        click.echo("  Tables: the join link seats a phone at the table (it is on the printed table card);")
        click.echo("  the host link is for that table's host only.")
        width = max(len(t.name) for t in cafe.tables)
        for t in cafe.tables:
            click.echo(f"    {t.name:<{width}}  join: {join}?t={t.id}")
            click.echo(f"    {'':<{width}}  host: {base}/host/{t.host_token}")


@click.command("demo")
@with_appcontext
def demo():
    """Set up the demo café and print how to sign in and join."""
    schema.upgrade()
    _print_demo(make_demo())


@click.command("serve")
@click.option("--host", help="Address to listen on (CONSULT_HOST, default 0.0.0.0: the whole local network).")
@click.option("--port", type=int, help="Port to listen on (CONSULT_PORT, default 5000).")
@click.option("--demo", "with_demo", is_flag=True, help="Set up the demo café first.")
@click.option("--async-mode", type=click.Choice(["eventlet", "gevent", "threading"]),
              help="Server concurrency (CONSULT_ASYNC_MODE, default eventlet).")
@with_appcontext
def serve(host, port, with_demo, async_mode):
    """Run consult: the web pages and the live Socket.IO server."""
    from .server import PortBusy, check_port, run

    app = current_app._get_current_object()
    if host:
        app.config["CONSULT_HOST"] = host
    if port:
        app.config["CONSULT_PORT"] = port
    host, port = app.config["CONSULT_HOST"], app.config["CONSULT_PORT"]
    try:
        check_port(host, port)
    except PortBusy as error:
        raise click.ClickException(error.strerror)
    _check_schema(app)
    if with_demo:
        _print_demo(make_demo())
    _schedule_backups(app)
    click.echo(f"consult is serving on http://{host}:{port} ({app.extensions['socketio'].async_mode}); Ctrl+C stops it.")
    sys.stdout.flush()
    run(app, host, port)


def _schedule_backups(app):
    from . import backup

    if app.config["CONSULT_BACKUP_MINUTES"] <= 0:
        return
    try:
        schedule = backup.Schedule(app, app.extensions["socketio"])
    except backup.BackupError:
        return  # PostgreSQL: its own tools back it up
    schedule.start()
    click.echo(f"Backing up the database every {app.config['CONSULT_BACKUP_MINUTES']:g} "
               f"{words.plural(app.config['CONSULT_BACKUP_MINUTES'], 'minute')} "
               f"(when it changed) to {schedule.to}")


def _sqlite_file(app):
    from . import backup

    try:
        return backup.database_file(app)
    except backup.BackupError as error:  # PostgreSQL: pg_dump
        raise click.ClickException(str(error)) from None


@click.command("backup")
@click.argument("folder", required=False, type=click.Path(file_okay=False))
@click.option("--list", "listing", is_flag=True, help="List the backups in the folder instead.")
@with_appcontext
def backup_command(folder, listing):
    """Copy the database now, safely while consult is serving (SQLite; default folder: CONSULT_BACKUP_DIR or instance/backups)."""
    from . import backup

    app = current_app._get_current_object()
    source = _sqlite_file(app)
    to = folder or backup.folder(app)
    if listing:
        found = backup.backups(to)
        for path in found:
            click.echo(f"{path}  ({backup.since(path)})")
        if not found:
            click.echo(f"No backups in {to}.")
        return
    if not os.path.exists(source):
        raise click.ClickException(f"There is no database at {source} yet.")
    try:
        path = backup.snapshot(source, to)
    except (backup.BackupError, OSError) as error:
        raise click.ClickException(f"The backup failed: {error}") from None
    click.echo(path)


@click.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--yes", is_flag=True, help="Do not ask before replacing the database.")
@with_appcontext
def restore_command(path, yes):
    """Put a backup in place of the database (stop consult serve first); the current one is kept."""
    from . import backup

    target = _sqlite_file(current_app)
    if not yes:
        click.confirm(f"Replace the database at {target} with {path}? Stop consult serve first.", abort=True)
    db.engine.dispose()
    try:
        kept = backup.restore(path, target)
    except (backup.BackupError, OSError) as error:
        raise click.ClickException(f"Not restored: {error}") from None
    schema.upgrade()  # a backup from an older consult
    if kept:
        click.echo(f"The database as it was is kept in {kept}")
    click.echo(f"Restored {path}")


@click.command("bench")
@click.option("--phones", type=int, default=500, show_default=True, help="Phones to connect; each votes once.")
@click.option("--async-mode", type=click.Choice(["eventlet", "gevent"]), default="eventlet", show_default=True)
@click.option("--processes", type=int, default=1, show_default=True,
              help="Server processes; more than one needs --database-url and --message-queue.")
@click.option("--database-url", help="Database the servers share (default: SQLite in a temporary folder).")
@click.option("--message-queue", help="redis://... shared by several processes.")
@click.option("--no-bare", is_flag=True, help="Skip the bare Flask-SocketIO run (no ceiling, no ratio).")
@click.option("--bursts", type=int, default=3, show_default=True,
              help="Bursts of votes (the first new, then changed ones); figures are the median burst's.")
@click.option("--http", "by_http", type=int, default=0, show_default=True,
              help="More phones that answer by plain HTTP in the same bursts, while a new phone opens "
                   "the join page every 100 ms (page_max_ms: the slowest).")
def bench(phones, async_mode, processes, database_url, message_queue, no_bare, bursts, by_http):
    """Load benchmark on loopback: N phones vote in one burst; prints one JSON line last."""
    try:
        from .bench.run import bench as run_bench
    except ModuleNotFoundError as e:
        if e.name != "aiohttp":
            raise
        raise click.ClickException("consult bench needs aiohttp: pip install aiohttp "
                                   "(or install consult with its bench extra: pip install '.[bench]').")

    result = run_bench(phones, async_mode, processes, database_url, message_queue, not no_bare, bursts, by_http)
    click.echo(json.dumps(result))


@click.command("export")
@click.argument("join_code")
@click.option("--format", "fmt", type=click.Choice(["html", "pdf", "docx", "md", "csv", "xlsx", "json"]),
              default="html", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), help="File to write (default: stdout).")
@with_appcontext
def export_command(join_code, fmt, output):
    """Write a session's write-up (html, pdf, docx, md) or data (csv, xlsx, json)."""
    from . import rules
    from .writeup.routes import render

    session = rules.find_session(join_code)
    if session is None:
        raise click.ClickException(f"There is no session with the join code {join_code!r}.")
    body = render(session, fmt)
    data = body if isinstance(body, bytes) else body.encode("utf-8")
    if output:
        with open(output, "wb") as f:
            f.write(data)
        click.echo(f"Wrote {output}", err=True)
    elif isinstance(body, bytes) and sys.stdout.isatty():
        raise click.ClickException(f"A {fmt} file is binary: give --output PATH.")
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()


@click.command("import")
@click.argument("path", type=click.File("rb"))
@click.option("--owner", help="Facilitator's email (default: the only facilitator there is).")
@with_appcontext
def import_command(path, owner):
    """Make a new session from a JSON file that `consult export --format json` wrote; prints its join code."""
    from . import rules, services, session_file
    from .models import Facilitator

    schema.upgrade()
    if owner:
        user = db.session.scalar(select(Facilitator).filter_by(email=owner.strip().lower()))
        if user is None:
            raise click.ClickException(f"No facilitator {owner!r}: make one with `consult create-facilitator`.")
    else:
        users = db.session.scalars(select(Facilitator)).all()
        if len(users) != 1:
            raise click.ClickException("Say whose session it is: --owner EMAIL.")
        user = users[0]
    try:
        # The whole file is checked against the session file's schema before anything is stored.
        session = services.import_session(session_file.read(path.read(session_file.MAX_FILE + 1)), user.id)
    except rules.Invalid as error:
        raise click.ClickException(str(error)) from None
    click.echo(session.join_code)


@click.command("bench-writeup")
@click.option("--participants", type=int, default=1000, show_default=True)
@click.option("--notes", type=int, default=10000, show_default=True)
@click.option("--questions", type=int, default=20, show_default=True)
def bench_writeup(participants, notes, questions):
    """Time every write-up format for a large café (in a temporary database); prints one JSON line."""
    from .bench.writeup import main as run

    run(participants, notes, questions)


COMMANDS = (serve, create_facilitator, demo, init_db, bench, bench_writeup, export_command, import_command,
            backup_command, restore_command)
for _command in COMMANDS:
    cli.add_command(_command)
