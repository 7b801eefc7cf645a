"""Result aggregation for the projector, the control page and the write-up."""
from sqlalchemy import func, select

from .extensions import db
from .models import Note, Vote, VoteChoice

NOTES_SHOWN = 200


def _percent(count, total):
    return round(100 * count / total, 1) if total else 0.0


def shown(note_query, round_=None):
    """Notes that count: visible, not merged into another, of one round when asked."""
    query = note_query.where(Note.status == "visible", Note.merged_into_id.is_(None))
    return query.where(Note.round == round_) if round_ else query


def results(question, round_=None):
    """Counts for a question: bars for votes, the newest notes for open notes.

    round_: only answers given in that round (None: all rounds).
    """
    if question.kind == "notes":
        total = db.session.scalar(shown(select(func.count(Note.id)).filter_by(question_id=question.id), round_))
        rows = db.session.execute(
            shown(select(Note.id, Note.text, Note.table_id, Note.highlight).filter_by(question_id=question.id), round_)
            .order_by(Note.id.desc()).limit(NOTES_SHOWN)
        ).all()
        return {
            "question_id": question.id,
            "kind": "notes",
            "total": total,
            "round": round_,
            "notes": [{"id": i, "text": t, "table_id": tid, "highlight": h} for i, t, tid, h in reversed(rows)],
        }

    votes = select(Vote.id).filter_by(question_id=question.id)
    if round_:
        votes = votes.where(Vote.round == round_)
    voters = db.session.scalar(select(func.count()).select_from(votes.subquery()))
    if question.kind == "scale":
        counts = dict(
            db.session.execute(
                select(Vote.value, func.count()).where(Vote.id.in_(votes)).group_by(Vote.value)
            ).all()
        )
        bars = []
        for v in range(question.scale_min, question.scale_max + 1):
            label = str(v)
            if v == question.scale_min and question.min_label:
                label += f" ({question.min_label})"
            if v == question.scale_max and question.max_label:
                label += f" ({question.max_label})"
            bars.append({"value": v, "text": label, "count": counts.get(v, 0)})
        total = sum(v * c for v, c in counts.items() if v is not None)
        mean = round(total / voters, 2) if voters else None
    else:
        counts = dict(
            db.session.execute(
                select(VoteChoice.option_id, func.count())
                .join(Vote, Vote.id == VoteChoice.vote_id)
                .where(Vote.id.in_(votes))
                .group_by(VoteChoice.option_id)
            ).all()
        )
        bars = [{"id": o.id, "text": o.text, "count": counts.get(o.id, 0)} for o in question.options]
        mean = None
    for bar in bars:
        bar["percent"] = _percent(bar["count"], voters)
    return {"question_id": question.id, "kind": question.kind, "total": voters, "round": round_, "bars": bars, "mean": mean}


def hidden(result):
    """What the projector may show before the facilitator reveals: how many answered."""
    return {"question_id": result["question_id"], "kind": result["kind"], "total": result["total"], "hidden": True}
