"""The schema of a session file (transfer.export writes it): checked whole before anything is stored.

`consult import` and any other import read a file through read(): every kind, status and
action known, every count and text within what the database and the rules allow, every
reference (a vote's question, a note's cell, a merge, a dot's note) pointing at something of the
right kind in the file, merges one level deep (so never a cycle), and pictures that Pillow opens
as PNG, JPEG, WebP or GIF. A refusal names the place: "questions[3].kind: unknown kind 'xyz'".
"""
import base64
import binascii
import json
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from . import pictures, validate
from .cafe import MAX_TABLES
from .dots import MAX_DOTS
from .framework import FIELDS as ACTION_FIELDS, MAX_ACTIONS, MAX_PRIORITIES
from .models import KINDS, NOTE_STATUSES
from .rules import MAX_HORIZONS, MAX_OPTIONS, MAX_ROUND, MAX_ROWS, NOTE_KINDS, Invalid

FORMAT, VERSION = "consult-session", 1
DAMAGED = "The session file is damaged or incomplete"
MAX_QUESTIONS = 200
MAX_PARTICIPANTS = 50_000
MAX_VOTES = 500_000
MAX_NOTES = 200_000
MAX_DOTS_IN_FILE = 500_000
MAX_EDITS = 200          # of one note
MAX_SUMMARIES = 50_000
MAX_NOTE = 10_000        # characters: a question's own limit is 2000 at most; older files kept longer
MAX_FILE = 200 * 1024 * 1024  # bytes of JSON
NOTE_ACTIONS = ("edit", "hide", "restore", "approve", "merge", "unmerge", "move")
VOTE_KINDS = ("choice", "yesno", "scale")


def _clean(value):
    # What no stored text keeps (NUL, controls, lone surrogates); newlines stay as they were.
    return validate.NOT_TEXT.sub("", value) if isinstance(value, str) else value


def Text(limit, required=False):  # noqa: N802 (a type)
    return Annotated[str, Field(max_length=limit, min_length=1 if required else 0), BeforeValidator(_clean)]


Index = Annotated[int, Field(ge=0, le=10_000_000)]
Round = Annotated[int, Field(ge=0, le=MAX_ROUND)]


def _when(value):
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not a date and time: {value[:40]!r}") from None


When = Annotated[str | None, Field(max_length=40), AfterValidator(_when)]


class Part(BaseModel):
    # Strict: a file consult wrote has numbers as numbers and true as true; other keys are ignored.
    model_config = ConfigDict(strict=True, extra="ignore")


class Session(Part):
    title: Text(200, required=True)
    date: Annotated[str | None, Field(max_length=20)] = None
    venue: Text(200) | None = ""
    description: Text(5000) | None = ""
    current_round: Round | None = 0
    moderation: Literal["post", "pre"] | None = "post"
    blocked_words: Text(10_000) | None = ""

    @model_validator(mode="after")
    def _date(self):
        if self.date is not None:
            try:
                date.fromisoformat(self.date)
            except ValueError:
                raise ValueError(f"session.date: not a date: {self.date!r}") from None
        return self


class Table(Part):
    name: Text(60, required=True)


class Horizon(Part):
    name: Text(80, required=True)
    hint: Text(80) | None = ""


class Picture(Part):
    data: Annotated[str, Field(max_length=pictures.MAX_BYTES * 4 // 3 + 100)]
    alt: Text(pictures.MAX_ALT) | None = ""
    _upload = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _picture(self):
        if not self.data:
            return self  # the picture was missing when exported
        head, _, body = self.data.partition(",")
        if not head.startswith("data:image/") or not head.endswith(";base64"):
            raise ValueError("not a picture (a data: URI of an image)")
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("a picture whose data is damaged") from None
        try:
            self._upload = pictures.check_bytes(raw)
        except Invalid as error:
            raise ValueError(f"a picture consult cannot show: {error}") from None
        return self


class Question(Part):
    kind: Literal[tuple(KINDS)]
    text: Text(500, required=True)
    multiple: bool = False
    allow_unsure: bool = False
    scale_min: Annotated[int, Field(ge=0, le=10)] | None = 1
    scale_max: Annotated[int, Field(ge=0, le=10)] | None = 5
    min_label: Text(60) | None = ""
    max_label: Text(60) | None = ""
    max_length: Annotated[int, Field(ge=1, le=2000)] | None = 280
    is_open: bool = False
    revealed: bool = True
    options: Annotated[list[Text(200)], Field(max_length=MAX_OPTIONS)] = []
    rows: Annotated[list[Text(500)], Field(max_length=MAX_ROWS)] = []
    horizons: Annotated[list[Horizon], Field(max_length=MAX_HORIZONS)] = []
    dots: Annotated[int, Field(ge=0, le=MAX_DOTS)] | None = 0
    dots_open: bool = False
    picture: Picture | None = None
    option_pictures: Annotated[list[Picture | None], Field(max_length=MAX_OPTIONS)] = []

    @model_validator(mode="after")
    def _shape(self):
        for name, default in (("scale_min", 1), ("scale_max", 5), ("max_length", 280), ("dots", 0)):
            if getattr(self, name) is None:
                setattr(self, name, default)
        if self.kind == "scale" and not self.scale_min < self.scale_max:
            raise ValueError(f"a scale runs from a lower number to a higher one, not {self.scale_min} to {self.scale_max}")
        if len(self.option_pictures) > len(self.options):
            raise ValueError("more option pictures than options")
        return self


class Participant(Part):
    table: Index | None = None


class Vote(Part):
    question: Index
    participant: Index
    value: int | None = None
    options: Annotated[list[Index], Field(max_length=MAX_OPTIONS)] = []
    table: Index | None = None
    round: Round | None = 0
    at: When = None


class Edit(Part):
    text: Text(MAX_NOTE)
    action: Literal[NOTE_ACTIONS] = "edit"
    by: Text(80) | None = ""
    at: When = None


class Note(Part):
    question: Index
    participant: Index | None = None
    author: Literal["participant", "host"] | None = "participant"
    text: Text(MAX_NOTE)
    table: Index | None = None
    round: Round | None = 0
    status: Literal[NOTE_STATUSES] | None = "visible"
    highlight: bool = False
    merged_into: Index | None = None
    at: When = None
    row: Index | None = None
    horizon: Index | None = None
    edits: Annotated[list[Edit], Field(max_length=MAX_EDITS)] = []


class Dot(Part):
    question: Index
    note: Index
    participant: Index
    at: When = None


class Summary(Part):
    table: Index
    question: Index
    round: Round | None = 0
    text: Text(5000) | None = ""


class Priority(Part):
    code: Text(12, required=True)
    name: Text(120) | None = ""


class Action(Part):
    number: Text(ACTION_FIELDS["number"]) | None = ""
    theme: Text(ACTION_FIELDS["theme"]) | None = ""
    sub_theme: Text(ACTION_FIELDS["sub_theme"]) | None = ""
    text: Text(ACTION_FIELDS["text"], required=True)
    lead: Text(ACTION_FIELDS["lead"]) | None = ""
    outcome: Text(ACTION_FIELDS["outcome"]) | None = ""
    note: Index | None = None
    links: Annotated[dict[Annotated[str, Field(pattern=r"^[0-9]{1,2}$")], Literal["X", "O"]],
                     Field(max_length=MAX_PRIORITIES)] = {}


class Document(Part):
    format: Literal[FORMAT]
    version: Literal[VERSION]
    session: Session
    tables: Annotated[list[Table], Field(max_length=MAX_TABLES)] = []
    questions: Annotated[list[Question], Field(max_length=MAX_QUESTIONS)]
    participants: Annotated[list[Participant], Field(max_length=MAX_PARTICIPANTS)] = []
    votes: Annotated[list[Vote], Field(max_length=MAX_VOTES)] = []
    notes: Annotated[list[Note], Field(max_length=MAX_NOTES)] = []
    dots: Annotated[list[Dot], Field(max_length=MAX_DOTS_IN_FILE)] = []
    summaries: Annotated[list[Summary], Field(max_length=MAX_SUMMARIES)] = []
    priorities: Annotated[list[Priority], Field(max_length=MAX_PRIORITIES)] = []
    actions: Annotated[list[Action], Field(max_length=MAX_ACTIONS)] = []

    @model_validator(mode="after")
    def _references(self):
        """Every number that refers to another part of the file refers to one of the right kind."""
        problems = []

        def check(ok, place, message):
            if not ok and len(problems) < 3:
                problems.append(f"{place}: {message}")
            return ok

        def ref(value, items, place, what):
            return value is None or check(value < len(items), place, f"no {what} {value} in the file")

        questions = self.questions
        for i, p in enumerate(self.participants):
            ref(p.table, self.tables, f"participants[{i}].table", "table")
        voted = set()
        for i, v in enumerate(self.votes):
            if not (ref(v.question, questions, f"votes[{i}].question", "question")
                    and ref(v.participant, self.participants, f"votes[{i}].participant", "participant")):
                continue
            q = questions[v.question]
            check(q.kind in VOTE_KINDS, f"votes[{i}].question", f"question {v.question} takes notes, not votes")
            check((v.question, v.participant) not in voted, f"votes[{i}]", "a second vote of one participant on one question")
            voted.add((v.question, v.participant))
            ref(v.table, self.tables, f"votes[{i}].table", "table")
            for j, o in enumerate(v.options):
                ref(o, q.options, f"votes[{i}].options[{j}]", f"option of question {v.question} numbered")
            check(len(set(v.options)) == len(v.options), f"votes[{i}].options", "an option twice")
            if q.kind == "scale":
                check(v.value is not None and q.scale_min <= v.value <= q.scale_max, f"votes[{i}].value",
                      f"not on the scale of question {v.question}")
            else:
                check(v.value is None or abs(v.value) <= 2**31 - 1, f"votes[{i}].value", "out of range")
        for i, n in enumerate(self.notes):
            if not ref(n.question, questions, f"notes[{i}].question", "question"):
                continue
            q = questions[n.question]
            check(q.kind in NOTE_KINDS, f"notes[{i}].question", f"question {n.question} takes votes, not notes")
            ref(n.participant, self.participants, f"notes[{i}].participant", "participant")
            ref(n.table, self.tables, f"notes[{i}].table", "table")
            ref(n.row, q.rows, f"notes[{i}].row", f"row of question {n.question} numbered")
            ref(n.horizon, q.horizons, f"notes[{i}].horizon", f"time horizon of question {n.question} numbered")
            if n.merged_into is not None and ref(n.merged_into, self.notes, f"notes[{i}].merged_into", "note"):
                target = self.notes[n.merged_into]
                check(n.merged_into != i, f"notes[{i}].merged_into", "a note merged into itself")
                check(target.question == n.question, f"notes[{i}].merged_into", "a note of another question")
                # consult keeps merges one level deep, so a chain (and with it any cycle) is damage.
                check(target.merged_into is None, f"notes[{i}].merged_into",
                      f"note {n.merged_into} is itself merged into another (merges are one level deep)")
        for i, d in enumerate(self.dots):
            if (ref(d.question, questions, f"dots[{i}].question", "question")
                    and ref(d.note, self.notes, f"dots[{i}].note", "note")):
                check(questions[d.question].kind == "notes", f"dots[{i}].question", "dots go on open-notes questions only")
                check(self.notes[d.note].question == d.question, f"dots[{i}].note", "a note of another question")
            ref(d.participant, self.participants, f"dots[{i}].participant", "participant")
        seen = set()
        for i, s in enumerate(self.summaries):
            ref(s.table, self.tables, f"summaries[{i}].table", "table")
            if ref(s.question, questions, f"summaries[{i}].question", "question"):
                check(questions[s.question].kind in NOTE_KINDS, f"summaries[{i}].question", "a summary of a question without notes")
            check((s.table, s.question, s.round) not in seen, f"summaries[{i}]", "a second summary of one table, question and round")
            seen.add((s.table, s.question, s.round))
        codes = [p.code.lower() for p in self.priorities]
        check(len(set(codes)) == len(codes), "priorities", "two priorities with the same code")
        for i, a in enumerate(self.actions):
            ref(a.note, self.notes, f"actions[{i}].note", "note")
            for key in a.links:
                ref(int(key), self.priorities, f"actions[{i}].links", "priority")
        if problems:
            raise ValueError("; ".join(problems))
        return self


def _place(loc):
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")


def _message(error):
    kind, msg = error["type"], error["msg"]
    if kind == "value_error":
        return msg.removeprefix("Value error, ")
    if kind == "literal_error":
        field = next((p for p in reversed(error["loc"]) if isinstance(p, str)), "value")
        return f"unknown {field} {str(error.get('input'))[:40]!r} ({msg.lower()})"
    if kind == "missing":
        return "missing"
    return msg


def describe(error):
    """A pydantic ValidationError as a message naming its places, the first three of them."""
    errors = error.errors()
    parts = []
    for e in errors[:3]:
        place, message = _place(e["loc"]), _message(e)
        parts.append(f"{place}: {message}" if place else message)
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return "; ".join(parts) + more


def check(data):
    """A decoded session file (a dict) as a Document, or Invalid with a message naming the place."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise Invalid("This is not a consult session file.")
    if data.get("version") != VERSION:
        version = data.get("version")
        shown = version if isinstance(version, int) else repr(str(version)[:20])
        raise Invalid(f"This file is version {shown}; this consult reads version {VERSION}.")
    try:
        return Document.model_validate(data)
    except ValidationError as error:
        raise Invalid(f"{DAMAGED}: {describe(error)}.") from None
    except RecursionError:
        raise Invalid(f"{DAMAGED}: nested too deeply.") from None


def read(text):
    """A session file's text (or bytes) as a checked Document, or Invalid."""
    if len(text) > MAX_FILE:
        raise Invalid(f"That file is larger than {MAX_FILE // (1024 * 1024)} MB: it is not a session consult wrote.")
    if isinstance(text, (bytes, bytearray)):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise Invalid("Not JSON: the file is not UTF-8 text.") from None
    if validate.too_deep(text):
        raise Invalid("Not JSON that consult wrote: it is nested too deeply.")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise Invalid(f"Not JSON: {str(error)[:120]}") from None
    return check(data)
