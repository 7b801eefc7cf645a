"""Group commit: votes and notes that arrive together are committed in one transaction.

A commit (an fsync on SQLite) costs far more than the insert before it. The first handler
to arrive becomes the leader: it lets the others queue up, records the queue with a few
bulk statements, commits once and wakes them. Nobody is answered before the commit that
holds their answer, so "acknowledged" still means "stored".
"""
import threading

from . import rules
from .extensions import db, socketio

# Big enough to amortise a commit, small enough that the first phones of a burst hear back
# soon and the IN (...) lists stay well inside every database's limits.
MAX_BATCH = 250


RECORDS = ("record_votes", "record_notes", "record_dots")


def _recorder(record):
    """The bulk write function named record: rules.record_votes, rules.record_notes or dots.record_dots."""
    if record == "record_dots":
        from .dots import record_dots

        return record_dots
    return getattr(rules, record)


class _Item:
    __slots__ = ("record", "who", "payload", "done", "result", "error")

    def __init__(self, record, who, payload):
        self.record, self.who, self.payload = record, who, payload
        self.done = socketio.server.eio.create_event()
        self.result = self.error = None


class GroupCommit:
    def __init__(self):
        self._queue = []
        self._lock = threading.Lock()
        self._leading = False

    def submit(self, record, who, payload):
        """rules.<record>([(who, payload)]) committed; returns (id, changed) or raises its error.

        record is "record_votes", "record_notes" or "record_dots" (dots.record_dots).
        """
        item = _Item(record, who, payload)
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
                socketio.sleep(0)  # let the answers that arrived with this one join its batch
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
            for record in RECORDS:
                mine = [item for item in batch if item.record == record]
                if mine:
                    results = _recorder(record)([(item.who, item.payload) for item in mine])
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
                    item.result = rules.commit_one(_recorder(item.record), item.who, item.payload)
                except Exception as error:
                    db.session.rollback()
                    item.error = error
        finally:
            for item in batch:
                item.done.set()


writer = GroupCommit()
