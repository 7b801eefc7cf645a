"""All database models."""
import secrets
from datetime import datetime, timezone

from flask_login import UserMixin
from sqlalchemy import ForeignKey, String, Text, UniqueConstraint, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from .extensions import db

# No 0/O, 1/I/L: a join code is read off a projector across a hall.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6

KINDS = {
    "choice": "Multiple choice",
    "yesno": "Yes / no",
    "scale": "Rating scale",
    "notes": "Open notes",
}


def utcnow():
    return datetime.now(timezone.utc).replace(tzinfo=None)


def new_join_code():
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


class Facilitator(UserMixin, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    sessions: Mapped[list["CafeSession"]] = relationship(
        back_populates="owner", cascade="all, delete-orphan", passive_deletes=True
    )

    def set_password(self, password):
        self.password_hash = generate_password_hash(password)

    def check_password(self, password):
        return check_password_hash(self.password_hash, password)


class CafeSession(db.Model):
    __tablename__ = "cafe_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("facilitator.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    date: Mapped[datetime | None] = mapped_column(db.Date)
    venue: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    join_code: Mapped[str] = mapped_column(String(12), unique=True, default=new_join_code)
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

    @property
    def kind_label(self):
        return KINDS.get(self.kind, self.kind)


class Option(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("question.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    text: Mapped[str] = mapped_column(String(200))

    question: Mapped[Question] = relationship(back_populates="options")


class Participant(db.Model):
    """Someone's phone in the room: anonymous, known only by a random token in its cookie."""

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("cafe_session.id", ondelete="CASCADE"), index=True)
    token: Mapped[str] = mapped_column(String(64), unique=True, default=lambda: secrets.token_urlsafe(24))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    session: Mapped[CafeSession] = relationship(back_populates="participants")


class Vote(db.Model):
    """One participant's answer to a choice, yes/no or scale question; changed in place."""

    __table_args__ = (UniqueConstraint("question_id", "participant_id", name="uq_vote_once"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("question.id", ondelete="CASCADE"), index=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id", ondelete="CASCADE"), index=True)
    # Made on the phone; a retried submission carries the same id and changes nothing.
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    value: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    question: Mapped[Question] = relationship(back_populates="votes")
    choices: Mapped[list["VoteChoice"]] = relationship(cascade="all, delete-orphan", passive_deletes=True)


class VoteChoice(db.Model):
    vote_id: Mapped[int] = mapped_column(ForeignKey("vote.id", ondelete="CASCADE"), primary_key=True)
    option_id: Mapped[int] = mapped_column(ForeignKey("option.id", ondelete="CASCADE"), primary_key=True, index=True)


class Note(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("question.id", ondelete="CASCADE"), index=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    question: Mapped[Question] = relationship(back_populates="notes")


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record):
    # WAL lets the projector read while phones write; foreign keys make deletes cascade.
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()
