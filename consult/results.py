"""Result aggregation for the projector, the control page and the write-up."""
from sqlalchemy import func, select

from .dots import counting
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
        query = select(Note.id, Note.text, Note.table_id, Note.highlight).where(Note.question_id == question.id)
        if question.dots:  # dot-voting was opened: each note with its dots
            per_note = _dots_per_note(question.id)
            query = query.add_columns(func.coalesce(per_note.c.dots, 0)).outerjoin(per_note, per_note.c.note_id == Note.id)
        rows = db.session.execute(shown(query, round_).order_by(Note.id.desc()).limit(NOTES_SHOWN)).all()
        return {
            "question_id": question.id,
            "kind": "notes",
            "total": total,
            "round": round_,
            "notes": [{"id": r[0], "text": r[1], "table_id": r[2], "highlight": r[3], "dots": r[4] if len(r) > 4 else 0}
                      for r in reversed(rows)],
            "dots": dot_ranking(question, round_) if question.dots else None,
        }

    if question.kind == "trajectory":
        return trajectory(question, round_)

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


def trajectory(question, round_=None):
    """A trajectory grid: its rows against its horizons, the milestones in each cell.

    rows: [{id, text, cells: [{horizon_id, count, notes}] in horizon order}]. Visible, unmerged
    milestones only (of one round when asked); the newest NOTES_SHOWN of them are listed, oldest
    first in each cell, and each cell counts all of its own.
    """
    counts = dict(((r, h), n) for r, h, n in db.session.execute(
        shown(select(Note.row_id, Note.horizon_id, func.count(Note.id)).where(Note.question_id == question.id), round_)
        .group_by(Note.row_id, Note.horizon_id)
    ).all())
    listed = db.session.execute(
        shown(select(Note.id, Note.text, Note.table_id, Note.highlight, Note.row_id, Note.horizon_id)
              .where(Note.question_id == question.id), round_)
        .order_by(Note.id.desc()).limit(NOTES_SHOWN)
    ).all()
    cells = {}
    for i, t, tid, h, row_id, horizon_id in reversed(listed):
        cells.setdefault((row_id, horizon_id), []).append({"id": i, "text": t, "table_id": tid, "highlight": h})
    horizons = [{"id": h.id, "name": h.name, "hint": h.hint} for h in question.horizons]
    rows = [
        {"id": r.id, "text": r.text,
         "cells": [{"horizon_id": h["id"], "count": counts.get((r.id, h["id"]), 0), "notes": cells.get((r.id, h["id"]), [])}
                   for h in horizons]}
        for r in question.rows
    ]
    return {
        "question_id": question.id,
        "kind": "trajectory",
        "total": sum(counts.values()),
        "round": round_,
        "horizons": horizons,
        "rows": rows,
    }


def hidden(result):
    """What the projector may show before the facilitator reveals: how many answered."""
    out = {"question_id": result["question_id"], "kind": result["kind"], "total": result["total"], "hidden": True}
    if result.get("dots"):  # dot-voting: how many dots, not where they are
        out["dots_placed"] = result["dots"]["placed"]
    return out


# -- dot-voting (consult/dots.py has the rules) ------------------------------------------

def _dots_per_note(question_id):
    """A subquery (note_id, dots): the dots that count for each note (dots.counting says which)."""
    dots = counting(question_id).subquery()
    return select(dots.c.target_id.label("note_id"), func.count().label("dots")).group_by(dots.c.target_id).subquery()


def dot_ranking(question, round_=None, limit=NOTES_SHOWN):
    """The shown notes of a question ranked by their dots, most first (ties: the older note first).

    {open, per_person, placed, voters, ranked: [{id, text, table_id, highlight, dots, rank}]}: placed
    counts the dots that count (on shown notes), voters the people who placed them; rank is shared
    by notes with as many dots (1, 2, 2, 4).
    """
    per_note = _dots_per_note(question.id)
    dots = func.coalesce(per_note.c.dots, 0)
    rows = db.session.execute(
        shown(select(Note.id, Note.text, Note.table_id, Note.highlight, dots)
              .outerjoin(per_note, per_note.c.note_id == Note.id).where(Note.question_id == question.id), round_)
        .order_by(dots.desc(), Note.id).limit(limit)
    ).all()
    counted = counting(question.id).subquery()
    placed, voters = db.session.execute(
        shown(select(func.count(counted.c.id), func.count(func.distinct(counted.c.participant_id)))
              .select_from(counted).join(Note, Note.id == counted.c.target_id), round_)
    ).one()
    ranked, rank, before = [], 0, None
    for n, (i, text, table_id, highlight, count) in enumerate(rows, 1):
        if count != before:
            rank, before = n, count
        ranked.append({"id": i, "text": text, "table_id": table_id, "highlight": highlight, "dots": count, "rank": rank})
    return {"open": question.dots_open, "per_person": question.dots, "placed": placed, "voters": voters, "ranked": ranked}
