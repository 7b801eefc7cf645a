"""The writer: answers that arrive together are recorded and committed in one transaction.

A commit (an fsync on SQLite) costs far more than the insert before it. Phones' votes, notes
and dots go into one queue; a single task per app takes up to MAX_BATCH of them at a time,
records them with a few bulk statements, commits once, and only then answers each (its ack),
so "acknowledged" still means "stored". Nobody waits in a handler of their own meanwhile: a
socket's answer is sent by the writer when its batch is committed (sockets.Events.queued),
and only an HTTP request, which must answer in its own response, waits, holding no database
connection while it does.
"""
import threading

from sqlalchemy.exc import IntegrityError

from . import dots, rules
from .extensions import db

# Big enough to amortise a commit, small enough that the first phones of a burst hear back
# soon and the IN (...) lists stay well inside every database's limits.
MAX_BATCH = 250

# What each kind of answer is recorded by: a bulk write into the open transaction.
RECORDS = {"vote": rules.record_votes, "note": rules.record_notes, "dot": dots.record_dots}


class Item:
    """One answer in the queue; after its batch, result is (id, changed) or error is set.

    asked is who sent it, as queued; who, the same with its participant id once the batch made
    the participant of a phone's first answer (rules.enrol).
    """

    __slots__ = ("kind", "asked", "who", "payload", "reply", "result", "error")

    def __init__(self, kind, who, payload, reply):
        self.kind, self.asked, self.who, self.payload, self.reply = kind, who, who, payload, reply
        self.result = self.error = None


def commit_one(record, who, payload):
    """One answer, committed on its own: (id, changed), or raises Invalid."""
    return _commit_alone(record, who, payload)[0]


def _commit_alone(record, who, payload):
    """One answer, committed on its own: ((id, changed), who with its participant id), or raises Invalid."""
    try:
        (voter,) = rules.enrol([who])
        (result,) = record([(voter, payload)])
        db.session.commit()
    except IntegrityError:
        # The same submission raced itself (a retry beside the original), or a phone's first
        # answers made its participant twice at once: one of them won.
        db.session.rollback()
        (voter,) = rules.enrol([who])
        (result,) = record([(voter, payload)])
        db.session.commit()
    if isinstance(result, rules.Invalid):
        raise result
    return result, voter


class Writer:
    """One app's writer.

    answered(items), called in the app's context after each commit, returns the items' acks
    (and tells the screens what changed): services.answered.
    """

    def __init__(self, app, socketio, answered):
        self.app, self.socketio, self.answered = app, socketio, answered
        self._queue = []
        self._lock = threading.Lock()
        self._busy = False

    def submit(self, kind, who, payload, reply):
        """Queue an answer ("vote", "note" or "dot"); reply(ack) once it is committed or refused."""
        with self._lock:
            self._queue.append(Item(kind, who, payload, reply))
            start, self._busy = not self._busy, True
        if not start:
            return
        if self.socketio.server.async_handlers:
            self.socketio.start_background_task(self._drain)
        else:
            self._drain()  # events are handled inline (Flask-SocketIO's test client): so is the batch

    def wait(self, kind, who, payload):
        """Queue an answer and wait for its ack (an HTTP request, which answers in its response)."""
        done, acks = self.socketio.server.eio.create_event(), []

        def reply(ack):
            acks.append(ack)
            done.set()

        self.submit(kind, who, payload, reply)
        done.wait()
        return acks[0]

    def _drain(self):
        try:
            self._drain_queue()
        except BaseException:
            with self._lock:  # stopped from outside (the server shutting down): the next answer restarts it
                self._busy = False
            raise

    def _drain_queue(self):
        while True:
            self.socketio.sleep(0)  # let the answers that arrived with these join their batch
            with self._lock:
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                if not batch:
                    self._busy = False
                    return
            try:
                with self.app.app_context():
                    self._commit(batch)
                    acks = self.answered(batch)
            except Exception:  # the acks themselves failed: every phone still hears back
                self.app.logger.exception("answering a batch of %d failed", len(batch))
                acks = [{"ok": False, "error": rules.FAILED}] * len(batch)
            for item, ack in zip(batch, acks):
                try:
                    item.reply(ack)
                except Exception:  # a phone gone meanwhile must not cost the others their acks
                    self.app.logger.exception("sending an ack failed")

    def _commit(self, batch):
        try:
            for item, who in zip(batch, rules.enrol([item.asked for item in batch])):
                item.who = who
            for kind, record in RECORDS.items():
                mine = [item for item in batch if item.kind == kind]
                if mine:
                    results = record([(item.who, item.payload) for item in mine])
                    for item, result in zip(mine, results):
                        if isinstance(result, rules.Invalid):
                            item.error = result
                        else:
                            item.result = result
            db.session.commit()
        except Exception:
            # One bad item (or a race with another server process) spoils the shared
            # transaction: commit each on its own instead, so only the bad one fails.
            db.session.rollback()
            for item in batch:
                item.result = item.error = None
                item.who = item.asked  # a participant made by the failed transaction is not stored
                try:
                    item.result, item.who = _commit_alone(RECORDS[item.kind], item.asked, item.payload)
                except rules.Invalid as error:
                    item.error = error
                except Exception as error:
                    db.session.rollback()
                    self.app.logger.exception("recording a %s failed", item.kind)
                    item.error = error
