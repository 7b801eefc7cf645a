"""Group commit: votes and notes that arrive together are committed in one transaction.

A commit (an fsync on SQLite) costs far more than the insert before it. The first handler
to arrive becomes the leader: it lets the others queue up, records the queue with a few
bulk statements, commits once and wakes them. Nobody is answered before the commit that
holds their answer, so "acknowledged" still means "stored".
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


class _Item:
    __slots__ = ("kind", "who", "payload", "done", "result", "error")

    def __init__(self, kind, who, payload, done):
        self.kind, self.who, self.payload, self.done = kind, who, payload, done
        self.result = self.error = None


def commit_one(record, who, payload):
    """One answer, committed on its own: (id, changed), or raises Invalid."""
    try:
        (result,) = record([(who, payload)])
        db.session.commit()
    except IntegrityError:
        # The same submission raced itself (a retry beside the original): one of them won.
        db.session.rollback()
        (result,) = record([(who, payload)])
        db.session.commit()
    if isinstance(result, rules.Invalid):
        raise result
    return result


class GroupCommit:
    """One app's writer (it waits with that app's Socket.IO server's events and sleep)."""

    def __init__(self, socketio):
        self.socketio = socketio
        self._queue = []
        self._lock = threading.Lock()
        self._leading = False

    def submit(self, kind, who, payload):
        """Record an answer ("vote", "note" or "dot") and commit it with the others that came with it.

        Returns (id, changed) once committed, or raises the rules.Invalid it broke.
        """
        item = _Item(kind, who, payload, self.socketio.server.eio.create_event())
        with self._lock:
            self._queue.append(item)
            lead = not self._leading
            self._leading = True
        if lead:
            self._lead()
        else:
            item.done.wait()
        if item.error is not None:
            raise item.error
        return item.result

    def _lead(self):
        try:
            while True:
                self.socketio.sleep(0)  # let the answers that arrived with this one join its batch
                with self._lock:
                    batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                    if not batch:
                        self._leading = False
                        return
                self._commit(batch)
        except BaseException:
            with self._lock:
                self._leading = False
            raise

    def _commit(self, batch):
        try:
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
                try:
                    item.result = commit_one(RECORDS[item.kind], item.who, item.payload)
                except Exception as error:
                    db.session.rollback()
                    item.error = error
        finally:
            for item in batch:
                item.done.set()

