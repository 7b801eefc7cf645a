"""Copies of a SQLite database taken while the event runs, and putting one back.

A café on one laptop has one copy of everything people said: a copy every few minutes to a
USB stick means a dead laptop loses minutes, not the event. SQLite's online backup copies a
consistent database while the server keeps writing; a copy is checked before it counts.
PostgreSQL has its own tools (pg_dump), so these refuse it with that advice.
"""
import os
import re
import sqlite3
import time
from datetime import datetime

from . import offload
from .words import count

NAME = re.compile(r"^consult-\d{8}-\d{6}(-\d+)?\.db$")


class BackupError(Exception):
    pass


def database_file(app):
    """The SQLite file of the app's database, or BackupError for any other database."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if not url.startswith("sqlite:///") or url in ("sqlite:///", "sqlite:///:memory:"):
        raise BackupError("consult backup copies a SQLite database; for PostgreSQL use pg_dump "
                          "(and pg_restore), which copy a live database safely.")
    return url[len("sqlite:///"):]


def folder(app):
    return app.config["CONSULT_BACKUP_DIR"] or os.path.join(app.instance_path, "backups")


def snapshot(source, to):
    """Copy the database at source into the folder to; returns the new file's path."""
    os.makedirs(to, mode=0o700, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path, n = os.path.join(to, f"consult-{stamp}.db"), 1
    while os.path.exists(path):
        n += 1
        path = os.path.join(to, f"consult-{stamp}-{n}.db")
    partial = path + ".partial"
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.close(fd)
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst)
            check(dst)
        finally:
            dst.close()
    finally:
        src.close()
    # Only a whole, checked copy gets a backup's name: a stick pulled out mid-copy leaves a .partial.
    os.replace(partial, path)
    return path


def check(conn):
    """BackupError unless conn is an intact consult database."""
    try:
        ok = conn.execute("PRAGMA integrity_check").fetchone()[0]
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as error:
        raise BackupError(f"not a SQLite database ({error})") from None
    if ok != "ok":
        raise BackupError(f"the database is damaged ({ok})")
    if not {"alembic_version", "cafe_session"} <= tables:
        raise BackupError("not a consult database (it has no consult tables)")


def backups(to):
    """The backups in folder to, oldest first."""
    try:
        names = [n for n in os.listdir(to) if NAME.match(n)]
    except FileNotFoundError:
        return []
    return sorted((os.path.join(to, n) for n in names), key=os.path.getmtime)


def prune(to, keep):
    for path in backups(to)[:-keep] if keep > 0 else []:
        os.remove(path)


def restore(source, target):
    """Put the backup at source in place of the database at target, keeping a copy of target first.

    Returns the path of that copy (None when there was no database). The copy is written with
    SQLite's backup, into the live file, so a server left running sees a whole database, never a
    half-copied one.
    """
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        check(src)
        kept = None
        if os.path.exists(target) and os.path.getsize(target):
            kept = snapshot(target, os.path.join(os.path.dirname(os.path.abspath(target)), "backups", "before-restore"))
        dst = sqlite3.connect(target, timeout=30)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()
    return kept


class Schedule:
    """Back up every few minutes while the server runs, when something changed since the last copy."""

    def __init__(self, app, socketio):
        self.app, self.socketio = app, socketio
        self.source = database_file(app)
        self.to = folder(app)
        self.every = app.config["CONSULT_BACKUP_MINUTES"] * 60
        self.keep = app.config["CONSULT_BACKUP_KEEP"]
        self.seen = None

    def start(self):
        self.socketio.start_background_task(self._loop)

    def _loop(self):
        while True:
            self.socketio.sleep(self.every)
            try:
                self.once()
            except Exception:  # a full or missing stick: say so, and try again next time
                self.app.logger.exception("backup to %s failed", self.to)

    def _stamp(self):
        return tuple(os.stat(p).st_mtime_ns if os.path.exists(p) else 0
                     for p in (self.source, self.source + "-wal"))

    def once(self):
        stamp = self._stamp()
        if stamp == self.seen:
            return None
        with self.app.app_context():
            # SQLite's backup runs in C and holds its thread until done: not the server's one thread.
            path = offload.run(snapshot, self.source, self.to)
        self.seen = stamp
        prune(self.to, self.keep)
        self.app.logger.info("backed up to %s", path)
        return path


def since(path):
    """'3 minutes ago', for the CLI's listing."""
    minutes = int((time.time() - os.path.getmtime(path)) // 60)
    return "just now" if minutes < 1 else f"{count(minutes, 'minute')} ago"
