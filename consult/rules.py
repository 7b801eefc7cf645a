"""Domain rules: who may vote, what counts, how a session is run.

Plain functions, called through consult.services by HTTP routes and socket handlers alike,
so each rule is written once. They raise Invalid with a message fit to show the person,
write into the open transaction and never commit: the service that calls them does, once.
"""
import re
from typing import NamedTuple

from sqlalchemy import delete, func, insert, select, update

from . import audit
from .extensions import db
from .models import (
    CODE_ALPHABET,
    CODE_LENGTH,
    HORIZONS,
    CafeSession,
    Horizon,
    Note,
    Option,
    Participant,
    Question,
    TrajectoryRow,
    Vote,
    VoteChoice,
    new_join_code,
    utcnow,
)

MAX_OPTIONS = 12
# The id a phone (or a host's screen) makes for each answer, so a retry never counts twice.
CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
CONTROL_ACTIONS = ("open", "close", "show", "reveal", "hide")
# The largest id an INTEGER column holds on PostgreSQL; SQLite cannot even bind a Python int past 2**63.
MAX_ID = 2**31 - 1
MAX_ROUND = 50
MALFORMED = "Your phone sent a malformed request: please reload the page."
# What a person hears when the server failed, not their input: nothing of theirs was stored.
FAILED = "Something went wrong on the server; please try again."
# Questions that take notes: open notes, and the milestones of a trajectory grid.
NOTE_KINDS = ("notes", "trajectory")


class Voter(NamedTuple):
    """Who is answering: a participant id and their session, without a database row.

    Their table is not here: it is read when an answer is recorded, so a move made through
    another server process (or by the facilitator removing a table) counts at once.

    A phone has no participant row until it answers or picks a table (opening the join link
    makes none): until then id is None, and token, which the server gave the phone in its
    signed cookie, says which participant its first answer makes (enrol).
    """

    id: int | None
    session_id: int
    token: str | None = None


class Invalid(Exception):
    """Input that breaks a rule; str(error) is the message for the person."""


def as_id(value, digits=False):
    """value as a row id, or None when it cannot be one (a bool, a float, out of range...).

    With digits, a string of ASCII digits (as a form sends) is accepted too. Looking up an
    id out of range would fail in the database driver, not find nothing.
    """
    if digits and isinstance(value, str) and re.fullmatch(r"[0-9]{1,10}", value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        return None
    return value


def round_number(value, everything=False, digits=True):
    """A round number from a request: 1 to MAX_ROUND, or Invalid.

    everything: 0, None and "" mean all rounds (0) rather than a mistake. digits: a string of
    digits is a number too, as a form sends it (JSON from a script sends numbers).
    """
    if everything and (value in (None, "") or (value == 0 and not isinstance(value, bool)) or value == "0"):
        return 0
    number = as_id(value, digits=digits)
    if number is None or number > MAX_ROUND:
        raise Invalid(f"Rounds are numbered from 1 to {MAX_ROUND}.")
    return number


def question_in(session_id, question_id, kinds=None, digits=False):
    """A question of the session (of one of kinds, when given), or Invalid.

    digits: the id may be a string of digits, as a form sends it.
    """
    question_id = as_id(question_id, digits=digits)
    question = db.session.get(Question, question_id) if question_id else None
    if question is None or question.session_id != session_id or (kinds and question.kind not in kinds):
        raise Invalid("That question was not found.")
    return question


def client_id(payload):
    """The id the phone made for this answer, or Invalid."""
    value = payload.get("client_id") if isinstance(payload, dict) else None
    if not isinstance(value, str) or not CLIENT_ID.match(value):
        raise Invalid(MALFORMED)
    return value


def note_text(question, text):
    """A note's text for question, stripped, or Invalid: empty, or longer than its limit."""
    if not isinstance(text, str) or not text.strip():
        raise Invalid("Write a note before sending.")
    text = text.strip()
    if len(text) > question.max_length:
        raise Invalid(
            f"That note is {len(text)} characters long; the limit is {question.max_length}. "
            "Shorten it and send again: nothing was lost."
        )
    return text


def session_of(user, session_id):
    """A session of the signed-in facilitator user's, or None: another's sessions do not exist for them."""
    session = db.session.get(CafeSession, session_id) if as_id(session_id) else None
    if session is None or not user.is_authenticated or session.owner_id != user.id:
        return None
    return session


# -- joining ---------------------------------------------------------------

def normalise_code(raw):
    """Upper-case a typed join code and drop spaces and dashes; None if it cannot be one."""
    if not isinstance(raw, str):
        return None
    code = re.sub(r"[\s-]", "", raw).upper()
    if len(code) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in code):
        return None
    return code


def find_session(raw_code):
    code = normalise_code(raw_code)
    if code is None:
        return None
    return db.session.scalar(select(CafeSession).filter_by(join_code=code))


def unique_join_code():
    while True:
        code = new_join_code()
        if not db.session.scalar(select(CafeSession.id).filter_by(join_code=code)):
            return code


def participant_for(session, token):
    if not isinstance(token, str) or not token:
        return None
    return db.session.scalar(select(Participant).filter_by(session_id=session.id, token=token))


def join(session, token=None):
    """The participant behind token in session, made now if it is not stored yet, with that token
    (none: a new one); added, not committed."""
    participant = participant_for(session, token)
    if participant is None:
        participant = Participant(session=session, **({"token": token} if token else {}))
        db.session.add(participant)
    return participant


def enrol(voters):
    """voters, each with its participant id: those without one (a phone's first answer) get their
    participant made now, in the open transaction. A few statements for a whole batch."""
    new = {(v.session_id, v.token) for v in voters if v.id is None}
    if not new:
        return voters
    tokens = {token for _, token in new}

    def stored():
        rows = db.session.execute(
            select(Participant.session_id, Participant.token, Participant.id).where(Participant.token.in_(tokens)))
        return {(session_id, token): i for session_id, token, i in rows}

    ids = stored()
    missing = new - ids.keys()
    if missing:
        now = utcnow()
        db.session.execute(insert(Participant), [{"session_id": s, "token": t, "created_at": now} for s, t in missing])
        ids = stored()
    return [v if v.id is not None else v._replace(id=ids[(v.session_id, v.token)]) for v in voters]


# -- answering -------------------------------------------------------------

def _question_for(who, question_id, cache):
    """The open question of who's session, or Invalid. cache: question id -> Question, for a batch."""
    question = cache.get(as_id(question_id))
    if question is None:
        question = question_in(who.session_id, question_id)
        cache[question.id] = question  # also keeps it from leaving the weak identity map
    elif question.session_id != who.session_id:
        raise Invalid("That question was not found.")
    if not question.is_open:
        raise Invalid("This question is closed: your answer was not saved.")
    return question


def _payload(payload):
    if not isinstance(payload, dict):
        raise Invalid(MALFORMED)
    return payload


def _ballot(question, payload):
    """Validate a vote for question: (sorted option ids, scale value)."""
    if question.kind == "scale":
        value = payload.get("value")
        if isinstance(value, bool) or not isinstance(value, int):
            raise Invalid("Choose a number on the scale before sending.")
        if not question.scale_min <= value <= question.scale_max:
            raise Invalid(f"Choose a number from {question.scale_min} to {question.scale_max}.")
        return [], value
    if question.kind not in ("choice", "yesno"):
        raise Invalid("This question takes notes, not votes.")
    choices = payload.get("choices")
    if not isinstance(choices, list) or not choices:
        raise Invalid("Choose an answer before sending.")
    if any(isinstance(c, bool) or not isinstance(c, int) for c in choices):
        raise Invalid("That answer is not one of the options.")
    chosen = sorted(set(choices))
    valid = {o.id for o in question.options}
    if not set(chosen) <= valid:
        raise Invalid("That answer is not one of the options.")
    if len(chosen) > 1 and not question.multiple:
        raise Invalid("Choose only one answer.")
    return chosen, None


def blocked_words(session):
    return [w.strip() for w in (session.blocked_words or "").splitlines() if w.strip()]


def note_status(session, text):
    """Where a new note starts: held if it has a blocked word, pending under pre-moderation."""
    for word in blocked_words(session):
        if re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text, re.IGNORECASE):
            return "held"
    return "pending" if session.moderation == "pre" else "visible"


class _Checked(NamedTuple):
    index: int
    who: Voter
    client_id: str
    question_id: int
    chosen: list
    value: int | None
    text: str | None
    round: int
    status: str = "visible"
    row_id: int | None = None      # a trajectory milestone's grid cell
    horizon_id: int | None = None


def _check_vote(i, who, payload, questions):
    payload = _payload(payload)
    made = client_id(payload)
    question = _question_for(who, payload.get("question_id"), questions)
    chosen, value = _ballot(question, payload)
    return _Checked(i, who, made, question.id, chosen, value, None, question.session.current_round)


def _check_note(i, who, payload, questions):
    payload = _payload(payload)
    made = client_id(payload)
    question = _question_for(who, payload.get("question_id"), questions)
    if question.kind not in NOTE_KINDS:
        raise Invalid("This question takes votes, not notes.")
    row_id, horizon_id = grid_cell(question, payload) if question.kind == "trajectory" else (None, None)
    text = note_text(question, payload.get("text"))
    session = question.session
    return _Checked(i, who, made, question.id, [], None, text, session.current_round, note_status(session, text),
                    row_id, horizon_id)


def grid_cell(question, payload):
    """The (row id, horizon id) a milestone on a trajectory question goes in, or Invalid.

    A grid with one row needs no row_id: the milestone goes in that row.
    """
    rows = {r.id for r in question.rows}
    horizons = {h.id for h in question.horizons}
    row_id, horizon_id = payload.get("row_id"), payload.get("horizon_id")
    if row_id is None and len(rows) == 1:
        row_id = next(iter(rows))
    if row_id is None or horizon_id is None:
        raise Invalid("Choose where your milestone goes on the grid before sending.")
    row_id, horizon_id = as_id(row_id), as_id(horizon_id)
    if row_id not in rows or horizon_id not in horizons:
        raise Invalid("That place on the grid was not found: choose it again.")
    return row_id, horizon_id


def _rounds(checked, key):
    """Split checked items so that no round holds the same client id, or the same key, twice."""
    while checked:
        this, rest, ids, keys = [], [], set(), set()
        for c in checked:
            k = key(c)
            if c.client_id in ids or (k is not None and k in keys):
                rest.append(c)
            else:
                this.append(c)
                ids.add(c.client_id)
                keys.add(k)
        yield this
        checked = rest


def _seats(checked):
    """{participant id: table id} of the people answering, as the database has it now."""
    people = {c.who.id for c in checked}
    if not people:
        return {}
    return dict(db.session.execute(select(Participant.id, Participant.table_id).where(Participant.id.in_(people))).all())


def insert_rows(model, rows):
    """Insert rows (dicts with a client_id each) of model: {client id: new row id}.

    One statement run for every row, then one query for their ids, rather than INSERT ...
    RETURNING: that is a new statement for each number of rows, and SQLite prepares a
    statement of 250 rows' values afresh each time, which cost as much as the rest of a batch.
    """
    db.session.execute(insert(model), rows)
    made = [row["client_id"] for row in rows]
    return dict(db.session.execute(select(model.client_id, model.id).where(model.client_id.in_(made))).all())


def record_votes(items):
    """Record or change the votes in items, [(who, payload)], in the open transaction.

    The caller commits. Returns, per item, audit.Done (vote id, changed; its receipt) or the
    Invalid it broke. Each vote is appended to the audit trail. A client id the trail holds
    already is a retry, however late: it changes nothing (a resent earlier vote never undoes a
    later one). A later vote replaces an earlier one. A handful of statements per call,
    however many votes: this is the hot path of a burst.
    """
    out, checked, questions = [None] * len(items), [], {}
    for i, (who, payload) in enumerate(items):
        try:
            checked.append(_check_vote(i, who, payload, questions))
        except Invalid as error:
            out[i] = error
    now, seats = utcnow(), _seats(checked)
    for round_ in _rounds(checked, key=lambda c: (c.question_id, c.who.id)):
        fresh = audit.known("vote", round_, out)
        if not fresh:
            continue
        rows = db.session.execute(
            select(Vote.question_id, Vote.participant_id, Vote.id).where(
                Vote.question_id.in_({c.question_id for c in fresh}),
                Vote.participant_id.in_({c.who.id for c in fresh}),
            )
        ).all()
        existing = {(q, p): vote_id for q, p, vote_id in rows}
        changes = [c for c in fresh if (c.question_id, c.who.id) in existing]
        new = [c for c in fresh if (c.question_id, c.who.id) not in existing]
        ids = {}
        if changes:
            for c in changes:
                ids[c.client_id] = existing[(c.question_id, c.who.id)]
            db.session.execute(
                update(Vote),
                [{"id": ids[c.client_id], "client_id": c.client_id, "value": c.value, "updated_at": now,
                  "table_id": seats.get(c.who.id), "round": c.round} for c in changes],
            )
            db.session.execute(delete(VoteChoice).where(VoteChoice.vote_id.in_([ids[c.client_id] for c in changes])))
        if new:
            ids.update(insert_rows(Vote, [
                {"question_id": c.question_id, "participant_id": c.who.id, "client_id": c.client_id,
                 "value": c.value, "created_at": now, "updated_at": now,
                 "table_id": seats.get(c.who.id), "round": c.round} for c in new]))
        choices = [{"vote_id": ids[c.client_id], "option_id": o} for c in fresh for o in c.chosen]
        if choices:
            db.session.execute(insert(VoteChoice), choices)
        codes = audit.receipts(len(fresh))
        audit.append([audit.answered("vote", c, ids[c.client_id], audit.vote_value(c.chosen, c.value), code, now)
                      for c, code in zip(fresh, codes)])
        for c, code in zip(fresh, codes):
            out[c.index] = audit.Done(ids[c.client_id], True, code)
    return out


def record_notes(items):
    """Add the notes in items, [(who, payload)], in the open transaction; the caller commits.

    Returns, per item, audit.Done (note id, created; its receipt) or the Invalid it broke.
    """
    out, checked, questions = [None] * len(items), [], {}
    for i, (who, payload) in enumerate(items):
        try:
            checked.append(_check_note(i, who, payload, questions))
        except Invalid as error:
            out[i] = error
    now, seats = utcnow(), _seats(checked)
    for round_ in _rounds(checked, key=lambda c: None):
        fresh = audit.known("note", round_, out)
        if fresh:
            ids = insert_rows(Note, [
                {"question_id": c.question_id, "participant_id": c.who.id, "client_id": c.client_id,
                 "text": c.text, "created_at": now, "table_id": seats.get(c.who.id), "round": c.round,
                 "status": c.status, "row_id": c.row_id, "horizon_id": c.horizon_id} for c in fresh])
            codes = audit.receipts(len(fresh))
            audit.append([audit.answered("note", c, ids[c.client_id], c.text, code, now, detail=c.status)
                          for c, code in zip(fresh, codes)])
            for c, code in zip(fresh, codes):
                out[c.index] = audit.Done(ids[c.client_id], True, code)
    return out


# -- running a session -----------------------------------------------------

def control(session, action, question_id):
    """Apply a facilitator's live control action; returns the question it touched."""
    if action not in CONTROL_ACTIONS:
        raise Invalid("Unknown action.")
    question = question_in(session.id, question_id, digits=True)
    if action in ("open", "close") and question.is_open != (action == "open"):
        audit.question_changed(question, action)
    if action == "open":
        question.is_open = True
        question.dots_open = False  # taking notes again ends dot-voting (consult/dots.py); the dots are kept
        session.current_question = question
    elif action == "close":
        question.is_open = False
    elif action == "show":
        session.current_question = question
    elif action == "reveal":
        question.revealed = True
    elif action == "hide":
        question.revealed = False
    return question


# -- editing ---------------------------------------------------------------

def answer_count(question):
    votes = db.session.scalar(select(func.count(Vote.id)).filter_by(question_id=question.id))
    notes = db.session.scalar(select(func.count(Note.id)).filter_by(question_id=question.id))
    return votes + notes


def save_question(session, question, data):
    """Create (question is None) or update a question from validated form data.

    Editing keeps every answer: options keep their ids by position, and an option
    or a type that answers depend on cannot be removed.
    """
    kind = data["kind"]
    creating = question is None
    if creating:
        question = Question(session=session, position=len(session.questions))
        db.session.add(question)
    elif kind != question.kind and answer_count(question):
        raise Invalid("This question already has answers, so its type cannot change.")

    question.kind = kind
    question.text = data["text"].strip()
    question.multiple = bool(data.get("multiple")) and kind == "choice"
    question.allow_unsure = bool(data.get("allow_unsure")) and kind == "yesno"
    if kind == "scale":
        lo, hi = data.get("scale_min"), data.get("scale_max")
        if lo is None or hi is None or not 0 <= lo < hi <= 10:
            raise Invalid("A scale runs from 0 or more up to 10 at most, lowest first.")
        if not creating and (lo > question.scale_min or hi < question.scale_max):
            taken = db.session.scalar(
                select(func.count(Vote.id)).where(
                    Vote.question_id == question.id, (Vote.value < lo) | (Vote.value > hi)
                )
            ) if question.id else 0
            if taken:
                raise Invalid("Some answers fall outside that range, so the scale cannot shrink.")
        question.scale_min, question.scale_max = lo, hi
        question.min_label = (data.get("min_label") or "").strip()
        question.max_label = (data.get("max_label") or "").strip()
    if kind in NOTE_KINDS:
        limit = data.get("max_length") or 280
        if not 1 <= limit <= 2000:
            raise Invalid("A note limit must be between 1 and 2000 characters.")
        question.max_length = limit

    if kind == "choice":
        texts = [t.strip() for t in (data.get("options") or "").splitlines() if t.strip()]
        if not 2 <= len(texts) <= MAX_OPTIONS:
            raise Invalid(f"A multiple-choice question needs 2 to {MAX_OPTIONS} options, one per line.")
    elif kind == "yesno":
        texts = ["Yes", "No"] + (["Not sure"] if question.allow_unsure else [])
    else:
        texts = []
    _set_options(question, texts)
    if kind == "trajectory":
        _set_grid(question, grid_rows(data.get("rows")), grid_horizons(data.get("horizons")))
    elif question.rows or question.horizons:
        _set_grid(question, [], [])  # no longer a grid (it has no answers, or its type could not change)
    return question


def _match(existing, keys, key):
    """Pair each new line with an existing item: same text first, then reworded lines to the rest in
    order, so answers stay put. Returns (matched items or None, per line; the items left over)."""
    matched, free = [None] * len(keys), list(existing)
    for i, k in enumerate(keys):
        same = next((item for item in free if key(item).strip().lower() == k.lower()), None)
        if same is not None:
            matched[i] = same
            free.remove(same)
    for i in range(len(keys)):
        if matched[i] is None and free:
            matched[i] = free.pop(0)
    return matched, free


def _set_options(question, texts):
    matched, free = _match(question.options, texts, key=lambda o: o.text)
    for option in free:
        used = option.id and db.session.scalar(
            select(func.count()).select_from(VoteChoice).filter_by(option_id=option.id)
        )
        if used:
            raise Invalid(f"“{option.text}” has votes, so it cannot be removed.")
        question.options.remove(option)
    for i, text in enumerate(texts):
        option = matched[i]
        if option is None:
            option = Option(text=text[:200], position=i)
            question.options.append(option)
        option.text, option.position = text[:200], i
    question.options.sort(key=lambda o: o.position)


# -- trajectory grids ------------------------------------------------------

MAX_ROWS = 12
MAX_HORIZONS = 8


def horizons_text(horizons=HORIZONS):
    """Horizons as the form shows them: one "Name | hint" a line."""
    return "\n".join(f"{name} | {hint}" if hint else name for name, hint in horizons)


def grid_rows(raw):
    """A trajectory grid's rows from a form: one question or theme a line."""
    rows = [line.strip() for line in (raw or "").splitlines() if line.strip()]
    if not 1 <= len(rows) <= MAX_ROWS:
        raise Invalid(f"A trajectory grid needs 1 to {MAX_ROWS} rows: one question or theme per line.")
    if any(len(r) > 500 for r in rows):
        raise Invalid("A row is up to 500 characters.")
    if len({r.lower() for r in rows}) != len(rows):
        raise Invalid("Two rows of the grid have the same text.")
    return rows


def grid_horizons(raw):
    """A trajectory grid's time horizons from a form: one "Name | hint" a line -> [(name, hint)]."""
    horizons = []
    for line in (raw or "").splitlines():
        if not line.strip():
            continue
        name, _, hint = line.partition("|")
        name, hint = name.strip(), hint.strip()
        if not name:
            raise Invalid("Each time horizon needs a name before its “|”.")
        if len(name) > 80 or len(hint) > 80:
            raise Invalid("A time horizon's name and hint are up to 80 characters each.")
        horizons.append((name, hint))
    if not 2 <= len(horizons) <= MAX_HORIZONS:
        raise Invalid(f"A trajectory grid needs 2 to {MAX_HORIZONS} time horizons, one per line as “Name | hint”.")
    if len({n.lower() for n, _ in horizons}) != len(horizons):
        raise Invalid("Two time horizons have the same name.")
    return horizons


def _set_grid(question, rows, horizons):
    """Rows and horizons keep their ids (so milestones stay in their cells); one with milestones stays."""
    matched_rows, gone_rows = _match(question.rows, rows, key=lambda r: r.text)
    matched_horizons, gone_horizons = _match(question.horizons, [n for n, _ in horizons], key=lambda h: h.name)
    for row in gone_rows:
        if row.id and db.session.scalar(select(func.count(Note.id)).filter_by(row_id=row.id)):
            raise Invalid(f"The row “{row.text}” has milestones, so it cannot be removed.")
        question.rows.remove(row)
    for horizon in gone_horizons:
        if horizon.id and db.session.scalar(select(func.count(Note.id)).filter_by(horizon_id=horizon.id)):
            raise Invalid(f"The time horizon “{horizon.name}” has milestones, so it cannot be removed.")
        question.horizons.remove(horizon)
    for i, text in enumerate(rows):
        row = matched_rows[i]
        if row is None:
            row = TrajectoryRow(text=text)
            question.rows.append(row)
        row.text, row.position = text, i
    for i, (name, hint) in enumerate(horizons):
        horizon = matched_horizons[i]
        if horizon is None:
            horizon = Horizon(name=name)
            question.horizons.append(horizon)
        horizon.name, horizon.hint, horizon.position = name, hint, i
    question.rows.sort(key=lambda r: r.position)
    question.horizons.sort(key=lambda h: h.position)


def move_in(items, item, step):
    """Move item one place up (step -1) or down (+1) among items, numbering their positions again."""
    items = list(items)
    i = items.index(item)
    j = i + step
    if 0 <= j < len(items):
        items[i], items[j] = items[j], items[i]
        for n, each in enumerate(items):
            each.position = n
