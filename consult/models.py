"""All database models."""
import secrets
import sqlite3
import time
from datetime import datetime, timezone

from flask_login import UserMixin
from sqlalchemy import ForeignKey, String, Text, UniqueConstraint, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from . import offload
from .extensions import db

# No 0/O, 1/I/L: a join code is read off a projector across a hall.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6

KINDS = {
    "choice": "Multiple choice",
    "yesno": "Yes / no",
    "scale": "Rating scale",
    "notes": "Open notes",
    "trajectory": "Trajectory grid",
}
# The Systems Change Trajectory's time horizons, editable per question.
HORIZONS = [
    ("Exploring", "~ 12 months"),
    ("Emerging", "~ 6 – 24 months"),
    ("Sustaining", "Ongoing"),
    ("Systems change", "Ongoing"),
]


def utcnow():
    return datetime.now(timezone.utc).replace(tzinfo=None)


def new_join_code():
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def new_session_token():
    return secrets.token_urlsafe(24)


class Facilitator(UserMixin, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # What sign-in cookies and remember-me tokens carry instead of the id: a new one (at
    # sign-out, or with a new password) ends every session of the account at once.
    session_token: Mapped[str] = mapped_column(String(64), unique=True, default=new_session_token)

    sessions: Mapped[list["CafeSession"]] = relationship(
        back_populates="owner", cascade="all, delete-orphan", passive_deletes=True
    )

    # Hashing takes a tenth of a second of CPU by design: in an OS thread (hashlib lets go of
    # Python's lock), or 100 wrong sign-ins stalled every phone's socket for 11 s.
    def set_password(self, password):
        self.password_hash = offload.run(generate_password_hash, password, lane="passwords")
        self.end_sessions()

    def end_sessions(self):
        """Sign the account out everywhere: cookies and remember-me tokens carry the old token."""
        self.session_token = new_session_token()

    def get_id(self):
        return self.session_token

    def check_password(self, password):
        return offload.run(check_password_hash, self.password_hash, password, lane="passwords")


class CafeSession(db.Model):
    __tablename__ = "cafe_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("facilitator.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    date: Mapped[datetime | None] = mapped_column(db.Date)
    venue: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    join_code: Mapped[str] = mapped_column(String(12), unique=True, default=new_join_code)
    # 0 until the facilitator starts round 1; answers record the round they were given in.
    current_round: Mapped[int] = mapped_column(default=0)
    # Which round the projector shows: None for all of them.
    shown_round: Mapped[int | None]
    # "post": notes show at once and can be hidden; "pre": notes wait for approval.
    moderation: Mapped[str] = mapped_column(String(4), default="post")
    # One word or phrase a line; a note containing one is held for review.
    blocked_words: Mapped[str] = mapped_column(Text, default="")
    # The secret in the read-only link to the write-up; None: not shared (or revoked).
    share_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    current_question_id: Mapped[int | None] = mapped_column(
        ForeignKey("question.id", ondelete="SET NULL", use_alter=True, name="fk_session_current_question")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    owner: Mapped[Facilitator] = relationship(back_populates="sessions")
    questions: Mapped[list["Question"]] = relationship(
        back_populates="session",
        order_by="Question.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
        foreign_keys="Question.session_id",
    )
    current_question: Mapped["Question | None"] = relationship(
        foreign_keys=[current_question_id], post_update=True
    )
    participants: Mapped[list["Participant"]] = relationship(
        back_populates="session", cascade="all, delete-orphan", passive_deletes=True
    )
    tables: Mapped[list["CafeTable"]] = relationship(
        back_populates="session", order_by="CafeTable.position", cascade="all, delete-orphan", passive_deletes=True
    )
    priorities: Mapped[list["Priority"]] = relationship(
        order_by="Priority.position", cascade="all, delete-orphan", passive_deletes=True
    )
    actions: Mapped[list["Action"]] = relationship(
        order_by="Action.position", cascade="all, delete-orphan", passive_deletes=True
    )


def new_host_token():
    return secrets.token_urlsafe(18)


class CafeTable(db.Model):
    """A table of the café: where people talk, with a host who keeps its notes."""

    __tablename__ = "cafe_table"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("cafe_session.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    name: Mapped[str] = mapped_column(String(60))
    # The secret in the host's link. Revoking replaces it, so the old link stops working.
    host_token: Mapped[str] = mapped_column(String(64), unique=True, default=new_host_token)

    session: Mapped[CafeSession] = relationship(back_populates="tables")


class Question(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("cafe_session.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    kind: Mapped[str] = mapped_column(String(10))
    text: Mapped[str] = mapped_column(String(500))
    multiple: Mapped[bool] = mapped_column(default=False)
    allow_unsure: Mapped[bool] = mapped_column(default=False)
    scale_min: Mapped[int] = mapped_column(default=1)
    scale_max: Mapped[int] = mapped_column(default=5)
    min_label: Mapped[str] = mapped_column(String(60), default="")
    max_label: Mapped[str] = mapped_column(String(60), default="")
    max_length: Mapped[int] = mapped_column(default=280)
    is_open: Mapped[bool] = mapped_column(default=False)
    revealed: Mapped[bool] = mapped_column(default=True)
    # Dot-voting on an open-notes question: each participant gets `dots` dots to place on notes.
    dots: Mapped[int] = mapped_column(default=0)
    dots_open: Mapped[bool] = mapped_column(default=False)
    # A picture for people who read pictures more easily than words; alt text is required.
    image: Mapped[str | None] = mapped_column(String(120))
    image_alt: Mapped[str] = mapped_column(String(300), default="")

    session: Mapped[CafeSession] = relationship(back_populates="questions", foreign_keys=[session_id])
    options: Mapped[list["Option"]] = relationship(
        back_populates="question", order_by="Option.position", cascade="all, delete-orphan", passive_deletes=True
    )
    votes: Mapped[list["Vote"]] = relationship(
        back_populates="question", cascade="all, delete-orphan", passive_deletes=True
    )
    notes: Mapped[list["Note"]] = relationship(
        back_populates="question", order_by="Note.id", cascade="all, delete-orphan", passive_deletes=True
    )
    rows: Mapped[list["TrajectoryRow"]] = relationship(
        order_by="TrajectoryRow.position", cascade="all, delete-orphan", passive_deletes=True
    )
    horizons: Mapped[list["Horizon"]] = relationship(
        order_by="Horizon.position", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def kind_label(self):
        return KINDS.get(self.kind, self.kind)


class Option(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("question.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    text: Mapped[str] = mapped_column(String(200))
    image: Mapped[str | None] = mapped_column(String(120))
    image_alt: Mapped[str] = mapped_column(String(300), default="")

    question: Mapped[Question] = relationship(back_populates="options")


class Participant(db.Model):
    """Someone's phone in the room: anonymous, known only by a random token in its cookie."""

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("cafe_session.id", ondelete="CASCADE"), index=True)
    token: Mapped[str] = mapped_column(String(64), unique=True, default=lambda: secrets.token_urlsafe(24))
    table_id: Mapped[int | None] = mapped_column(
        ForeignKey("cafe_table.id", ondelete="SET NULL", name="fk_participant_table")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    session: Mapped[CafeSession] = relationship(back_populates="participants")
    table: Mapped["CafeTable | None"] = relationship()


class Vote(db.Model):
    """One participant's answer to a choice, yes/no or scale question; changed in place."""

    __table_args__ = (UniqueConstraint("question_id", "participant_id", name="uq_vote_once"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("question.id", ondelete="CASCADE"), index=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id", ondelete="CASCADE"), index=True)
    # Made on the phone; a retried submission carries the same id and changes nothing.
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    value: Mapped[int | None]
    table_id: Mapped[int | None] = mapped_column(ForeignKey("cafe_table.id", ondelete="SET NULL", name="fk_vote_table"))
    round: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    question: Mapped[Question] = relationship(back_populates="votes")
    choices: Mapped[list["VoteChoice"]] = relationship(cascade="all, delete-orphan", passive_deletes=True)


class VoteChoice(db.Model):
    vote_id: Mapped[int] = mapped_column(ForeignKey("vote.id", ondelete="CASCADE"), primary_key=True)
    option_id: Mapped[int] = mapped_column(ForeignKey("option.id", ondelete="CASCADE"), primary_key=True, index=True)


NOTE_STATUSES = ("visible", "pending", "held", "hidden")


class Note(db.Model):
    """A note from a participant, or from a table host on the group's behalf.

    Nothing is deleted: hiding sets status, merging points a note at the one it joined,
    and every edit keeps the earlier text in NoteEdit.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("question.id", ondelete="CASCADE"), index=True)
    participant_id: Mapped[int | None] = mapped_column(ForeignKey("participant.id", ondelete="CASCADE"), index=True)
    table_id: Mapped[int | None] = mapped_column(
        ForeignKey("cafe_table.id", ondelete="SET NULL", name="fk_note_table"), index=True
    )
    round: Mapped[int] = mapped_column(default=0)
    author: Mapped[str] = mapped_column(String(12), default="participant")  # or "host"
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    text: Mapped[str] = mapped_column(Text)
    # visible; pending (waits for approval); held (matched a blocked word); hidden
    status: Mapped[str] = mapped_column(String(8), default="visible")
    highlight: Mapped[bool] = mapped_column(default=False)
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("note.id", ondelete="SET NULL", name="fk_note_merged_into")
    )
    # On a trajectory question: the grid cell (row, horizon) the milestone was posted in.
    row_id: Mapped[int | None] = mapped_column(ForeignKey("trajectory_row.id", ondelete="SET NULL", name="fk_note_row"))
    horizon_id: Mapped[int | None] = mapped_column(ForeignKey("horizon.id", ondelete="SET NULL", name="fk_note_horizon"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime | None]

    question: Mapped[Question] = relationship(back_populates="notes")
    edits: Mapped[list["NoteEdit"]] = relationship(
        order_by="NoteEdit.id", cascade="all, delete-orphan", passive_deletes=True
    )


class TrajectoryRow(db.Model):
    """A row of a trajectory grid: a question or theme."""

    __tablename__ = "trajectory_row"

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("question.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    text: Mapped[str] = mapped_column(String(500))


class Horizon(db.Model):
    """A column of a trajectory grid: a time horizon such as "Emerging, ~ 6 - 24 months"."""

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("question.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    name: Mapped[str] = mapped_column(String(80))
    hint: Mapped[str] = mapped_column(String(80), default="")


class Dot(db.Model):
    """One dot a participant placed on a note while prioritising; dots may stack on a note."""

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("question.id", ondelete="CASCADE"), index=True)
    note_id: Mapped[int] = mapped_column(ForeignKey("note.id", ondelete="CASCADE"), index=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class NoteEdit(db.Model):
    """The text a note had before an edit, and who changed it."""

    __tablename__ = "note_edit"

    id: Mapped[int] = mapped_column(primary_key=True)
    note_id: Mapped[int] = mapped_column(ForeignKey("note.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(12), default="edit")  # edit, hide, restore, approve, merge
    by: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEntry(db.Model):
    """One line of the session's audit trail: an answer given, or a change made to one.

    Appended in the transaction that makes the change and never updated or deleted by consult
    (it goes only with its question or its whole session). An answer's entry keeps the id its
    phone made (client_id): one entry per kind and client id, so a retry, however late, is
    recognised as what it was and never applied again; and the receipt code the phone was given.
    """

    __tablename__ = "audit_entry"
    __table_args__ = (
        UniqueConstraint("kind", "client_id", name="uq_audit_client_id"),
        UniqueConstraint("session_id", "receipt", name="uq_audit_receipt"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # No index of its own: uq_audit_receipt (session_id, receipt) serves it, and every index costs the burst.
    session_id: Mapped[int] = mapped_column(ForeignKey("cafe_session.id", ondelete="CASCADE"))
    question_id: Mapped[int | None] = mapped_column(ForeignKey("question.id", ondelete="CASCADE"), index=True)
    # vote, note, dot, undot (answers); edit, hide, restore, approve, highlight, unhighlight, merge,
    # unmerge, move (changes to notes); open, close, dots-open, dots-close, deleted (questions)
    kind: Mapped[str] = mapped_column(String(12))
    client_id: Mapped[str | None] = mapped_column(String(64))
    # Pseudonymous: the participant's number, never their token.
    participant_id: Mapped[int | None]
    # The row the entry is about: the vote, note or dot.
    target_id: Mapped[int | None]
    # The answer (a vote's option ids "3,5" or scale value, a note's text, the note a dot is on) or
    # what a change set (a note's new text, the note merged into, a milestone's new cell).
    value: Mapped[str] = mapped_column(Text, default="")
    # A new note's status (visible, pending, held); "carried over" for answers that predate the log.
    detail: Mapped[str] = mapped_column(String(40), default="")
    by: Mapped[str] = mapped_column(String(80), default="")
    receipt: Mapped[str | None] = mapped_column(String(8))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class HostSummary(db.Model):
    """A table host's summary of their table's discussion of one question in one round."""

    __tablename__ = "host_summary"
    __table_args__ = (UniqueConstraint("table_id", "question_id", "round", name="uq_summary_once"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    table_id: Mapped[int] = mapped_column(ForeignKey("cafe_table.id", ondelete="CASCADE"), index=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("question.id", ondelete="CASCADE"), index=True)
    round: Mapped[int] = mapped_column(default=0)
    text: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Priority(db.Model):
    """One of the session's priorities (the "vital few"), e.g. VF1 Vision & Leadership."""

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("cafe_session.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    code: Mapped[str] = mapped_column(String(12))
    name: Mapped[str] = mapped_column(String(120), default="")


class Action(db.Model):
    """A row of the action framework, often made from a host's highlight."""

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("cafe_session.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    number: Mapped[str] = mapped_column(String(12), default="")
    theme: Mapped[str] = mapped_column(String(200), default="")
    sub_theme: Mapped[str] = mapped_column(String(200), default="")
    text: Mapped[str] = mapped_column(Text)
    lead: Mapped[str] = mapped_column(String(200), default="")
    outcome: Mapped[str] = mapped_column(Text, default="")
    note_id: Mapped[int | None] = mapped_column(ForeignKey("note.id", ondelete="SET NULL", name="fk_action_note"))

    links: Mapped[list["ActionLink"]] = relationship(cascade="all, delete-orphan", passive_deletes=True)


class ActionLink(db.Model):
    """How strongly an action serves a priority: X strong, O supporting."""

    __tablename__ = "action_link"

    action_id: Mapped[int] = mapped_column(ForeignKey("action.id", ondelete="CASCADE"), primary_key=True)
    priority_id: Mapped[int] = mapped_column(ForeignKey("priority.id", ondelete="CASCADE"), primary_key=True)
    strength: Mapped[str] = mapped_column(String(1))


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record):
    # WAL lets the projector read while phones write; foreign keys make deletes cascade.
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=0")  # a locked database is waited for in _sqlite_wait, not in C
        cur.close()


# How long a write waits for another process's write lock (sqlite3's own default). SQLite
# waits in C, sleeping the OS thread: under eventlet or gevent, the whole server. One held
# lock (a backup, a CLI command, a sqlite3 shell) stalled every phone and page meanwhile.
# Here the wait sleeps cooperatively and the rest of the server goes on.
SQLITE_WAIT = 5.0


def _sqlite_wait(cursor, run):
    if not type(cursor).__module__.startswith("sqlite3"):
        return False  # other databases: SQLAlchemy executes as usual
    deadline, pause = time.monotonic() + SQLITE_WAIT, 0.001
    while True:
        try:
            run()
            return True
        except sqlite3.OperationalError as error:
            # Only plain SQLITE_BUSY: another process holds the lock and will let go.
            # BUSY_SNAPSHOT (517) means this transaction read old data: waiting cannot help.
            if getattr(error, "sqlite_errorcode", None) != 5 or time.monotonic() > deadline:
                raise
        time.sleep(pause)  # patched to yield under eventlet and gevent
        pause = min(pause * 2, 0.05)


@event.listens_for(Engine, "do_execute")
def _execute(cursor, statement, parameters, context):
    return _sqlite_wait(cursor, lambda: cursor.execute(statement, parameters))


@event.listens_for(Engine, "do_execute_no_params")
def _execute_no_params(cursor, statement, context):
    return _sqlite_wait(cursor, lambda: cursor.execute(statement))


@event.listens_for(Engine, "do_executemany")
def _executemany(cursor, statement, parameters, context):
    return _sqlite_wait(cursor, lambda: cursor.executemany(statement, parameters))
