"""The write-up of a session as plain data, which every format renders."""
import re
from collections import defaultdict

from sqlalchemy import func, select

from ..extensions import db
from ..models import HostSummary, Note, Participant, Vote
from ..results import dot_ranking, results
from ..words import count, in_words, long_date, plural

NO_TABLE = "Not at a table"


def horizon_label(name, hint):
    """A time horizon as the paper write-up heads its column: "Exploring ~ 12 months", "Emerging ~ 6 – 24
    months" (a range with an en dash, however the facilitator typed it), "Sustaining Ongoing"."""
    hint = re.sub(r"(\d)\s*[-–]\s*(\d)", "\\1 – \\2", hint or "").strip()
    return f"{name} {hint}" if hint else name


def writeup(session):
    """Everything a write-up shows, in the order it shows it.

    Notes left out: hidden, pending and held ones. A merged note is shown once, as the note
    it was merged into. Group feedback is listed per table, and per round where there were
    rounds; hosts' highlights and summaries stand beside it.
    """
    tables = {t.id: t.name for t in session.tables}
    order = {t.id: t.position for t in session.tables}
    rounds = max(session.current_round, db.session.scalar(
        select(func.max(Note.round)).join(Note.question).where(Note.question.has(session_id=session.id))
    ) or 0)
    joined = db.session.scalar(select(func.count(Participant.id)).filter_by(session_id=session.id))
    questions = []
    for q in session.questions:
        item = {"id": q.id, "number": len(questions) + 1, "kind": q.kind, "kind_label": q.kind_label, "text": q.text}
        # Pictures (stored names; the HTML and PDF write-ups show them): the question's and its options'.
        item.update(image=q.image, image_alt=q.image_alt,
                    option_pictures=[{"text": o.text, "image": o.image, "alt": o.image_alt} for o in q.options if o.image])
        if q.kind == "notes":
            item.update(_notes(q, tables, order))
        elif q.kind == "trajectory":
            item.update(_grid(q, tables, order))
        else:
            item["results"] = results(q)
        questions.append(item)
    w = {
        "title": session.title,
        "date": session.date,
        "venue": session.venue,
        "description": session.description,
        "joined": joined,
        "tables": [t.name for t in session.tables],
        "rounds": rounds,
        "questions": questions,
        "participation": _participation(session, questions, tables),
        "priorities": [{"code": p.code, "name": p.name} for p in session.priorities],
        "actions": [_action(a, session.priorities) for a in session.actions],
    }
    # The title page's lines, the same in every format, as the paper write-ups have them:
    # "<Session title>, <date in words>" (also the running header), the subtitle naming how many
    # vital (open-notes) questions were explored, then venue · participants · tables · rounds.
    w["heading"] = heading(session)
    w["subtitle"] = subtitle(sum(1 for q in questions if q["kind"] == "notes"))
    w["facts"] = " · ".join(part for part in (
        w["venue"], count(joined, "participant"), count(len(w["tables"]), "table") if w["tables"] else "",
        count(rounds, "round") if rounds else "") if part)
    return w


def heading(session):
    """The title line: "<Session title>, <date in words>", or the title alone without a date."""
    return session.title + (f", {long_date(session.date)}" if session.date else "")


def subtitle(vital):
    """ "Full write-up of group discussions exploring five vital questions"; without open-notes
    questions, no count of them."""
    if not vital:
        return "Full write-up of group discussions"
    return f"Full write-up of group discussions exploring {in_words(vital)} vital {plural(vital, 'question')}"


def _shown(question):
    """The notes a write-up shows (visible, not merged into another), oldest first, and how
    many notes were merged into each: {note id: count}."""
    notes = db.session.scalars(
        select(Note).filter_by(question_id=question.id).where(Note.status == "visible", Note.merged_into_id.is_(None))
        .order_by(Note.id)
    ).all()
    merged = dict(db.session.execute(
        select(Note.merged_into_id, func.count()).filter_by(question_id=question.id)
        .where(Note.merged_into_id.is_not(None)).group_by(Note.merged_into_id)
    ).all())
    return notes, merged


def _notes(question, tables, order):
    notes, merged = _shown(question)
    summaries = defaultdict(list)
    for s in db.session.scalars(select(HostSummary).filter_by(question_id=question.id).order_by(HostSummary.round)):
        if s.text:
            summaries[s.table_id].append({"round": s.round, "text": s.text})
    by_table = defaultdict(list)
    for n in notes:
        by_table[n.table_id].append(n)
    rows = []
    for table_id in sorted(set(by_table) | set(summaries), key=lambda t: (t is None, order.get(t, 0))):
        feedback = defaultdict(list)
        highlights = []
        for n in by_table.get(table_id, []):
            entry = {"text": n.text, "merged": merged.get(n.id, 0), "host": n.author == "host"}
            feedback[n.round].append(entry)
            if n.highlight:
                highlights.append(entry)
        rows.append({
            "table": tables.get(table_id, NO_TABLE),
            "feedback": [{"round": r, "notes": feedback[r]} for r in sorted(feedback)],
            "highlights": highlights,
            "summaries": summaries.get(table_id, []),
        })
    return {"rows": rows, "total": len(notes), "prioritised": _prioritised(question, tables, merged)}


def _prioritised(question, tables, merged):
    """Dot-voting on a notes question: the notes that got dots, most first; None if it never opened.

    {per_person, placed, voters, notes: [{rank, text, dots, table, merged}], summary: one line for
    every format}. A dot on a note merged
    into another counts for the note it joined; dots on hidden notes do not count (consult/dots.py).
    """
    if not question.dots:
        return None
    ranking = dot_ranking(question, limit=None)
    notes = [{"rank": n["rank"], "text": n["text"], "dots": n["dots"], "merged": merged.get(n["id"], 0),
              "table": tables.get(n["table_id"], NO_TABLE) if tables else ""}
             for n in ranking["ranked"] if n["dots"]]
    each, placed, voters = question.dots, ranking["placed"], ranking["voters"]
    summary = f"Dot-voting: {count(each, 'dot')} each · {count(placed, 'dot')} placed by {count(voters, 'person', 'people')}"
    return {"per_person": each, "placed": placed, "voters": voters, "notes": notes, "summary": summary}


def _grid(question, tables, order):
    """A trajectory grid: question rows against horizon columns, the milestones in each cell.

    grid: [{text, cells: [[milestone, ...] per horizon]}]; a milestone is {text, merged, host,
    highlight, table, round}, oldest first. As for notes: visible ones only, a merged one shown once.
    """
    notes, merged = _shown(question)
    cells = defaultdict(list)
    for n in notes:
        cells[(n.row_id, n.horizon_id)].append({
            "text": n.text, "merged": merged.get(n.id, 0), "host": n.author == "host", "highlight": n.highlight,
            "table": tables.get(n.table_id, NO_TABLE) if tables else "", "round": n.round,
        })
    horizons = list(question.horizons)
    rows, placed = [], set()
    for r in question.rows:
        rows.append({"text": r.text, "cells": [cells.get((r.id, h.id), []) for h in horizons]})
        placed.update((r.id, h.id) for h in horizons)
    summaries = [
        {"table": tables.get(s.table_id, NO_TABLE), "round": s.round, "text": s.text}
        for s in sorted(db.session.scalars(select(HostSummary).filter_by(question_id=question.id)),
                        key=lambda s: (order.get(s.table_id, 0), s.round))
        if s.text
    ]
    return {
        # label: the column's heading as the paper write-up prints it ("Emerging ~ 6 – 24 months").
        "horizons": [{"name": h.name, "hint": h.hint, "label": horizon_label(h.name, h.hint)} for h in horizons],
        "grid": rows,
        # Milestones without a cell of this grid (none, unless a file was edited by hand): listed, not lost.
        "unplaced": [n for key, found in cells.items() if key not in placed for n in found],
        "summaries": summaries,
        "total": len(notes),
        "highlighted": sum(1 for n in notes if n.highlight),
    }


def _participation(session, questions, tables):
    answers = {}
    for q in questions:
        if q["kind"] in ("notes", "trajectory"):
            answers[q["id"]] = db.session.scalar(
                select(func.count(func.distinct(Note.participant_id))).filter_by(question_id=q["id"])
                .where(Note.participant_id.is_not(None))
            )
        else:
            answers[q["id"]] = q["results"]["total"]
    seated = dict(db.session.execute(
        select(Participant.table_id, func.count()).filter_by(session_id=session.id).group_by(Participant.table_id)
    ).all())
    notes_at = dict(db.session.execute(
        select(Note.table_id, func.count()).join(Note.question).where(Note.question.has(session_id=session.id))
        .where(Note.status == "visible").group_by(Note.table_id)
    ).all())
    votes_at = dict(db.session.execute(
        select(Vote.table_id, func.count()).join(Vote.question).where(Vote.question.has(session_id=session.id))
        .group_by(Vote.table_id)
    ).all())
    per_table = [
        {"table": name, "seated": seated.get(tid, 0), "notes": notes_at.get(tid, 0), "votes": votes_at.get(tid, 0)}
        for tid, name in tables.items()
    ]
    return {
        "per_question": [{"number": q["number"], "text": q["text"], "answers": answers[q["id"]]} for q in questions],
        "per_table": per_table,
    }


def _action(action, priorities):
    strength = {link.priority_id: link.strength for link in action.links}
    return {
        "number": action.number, "theme": action.theme, "sub_theme": action.sub_theme, "text": action.text,
        "lead": action.lead, "outcome": action.outcome,
        "links": [strength.get(p.id, "") for p in priorities],
    }

