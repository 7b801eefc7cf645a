"""Write-up formats written as plain text: Markdown and CSV."""
import base64
import csv
import io

from flask import render_template
from sqlalchemy import func, select

from ..extensions import db
from ..models import Dot, Note, Option, Question, Vote, VoteChoice
from ..pictures import data_uri
from ..transfer import safe_cell
from .build import heading, horizon_label


def _md(text):
    """Text for a Markdown table cell or line: no markup from participants, no broken rows."""
    text = " ".join(str(text).split())
    for ch in "\\`*_{}[]<>#!|~":
        text = text.replace(ch, "\\" + ch)
    return text


def markdown(w):
    # The title page's lines, as in every format: "<title>, <date in words>", the subtitle, the facts.
    out = [f"# {_md(w['heading'])}", "", f"**{_md(w['subtitle'])}**", "", _md(w["facts"]), ""]
    for q in w["questions"]:
        out += [f"## {q['number']}. {_md(q['text'])}", ""]
        out += _pictures_markdown(q)
        if q["kind"] == "notes":
            out += ["| Question | Feedback (group) | Highlights (host) |", "|---|---|---|"]
            for row in q["rows"]:
                feedback = "<br>".join(
                    (f"Round {f['round']}: " if f["round"] else "") + "; ".join(_md(n["text"]) for n in f["notes"])
                    for f in row["feedback"]
                )
                highlights = "<br>".join([_md(n["text"]) for n in row["highlights"]]
                                         + [_md(s["text"]) for s in row["summaries"]])
                out.append(f"| {_md(row['table'])} | {feedback} | {highlights} |")
            if not q["rows"]:
                out.append("| | No notes | |")
            out += _prioritised_markdown(q.get("prioritised"))
        elif q["kind"] == "trajectory":
            out += _grid_markdown(q)
        else:
            r = q["results"]
            chart = render_template("writeup/chart.svg", r=r, number=q["number"])
            out += [f"![Bar chart of the answers to question {q['number']}]"
                    f"(data:image/svg+xml;base64,{base64.b64encode(chart.encode()).decode('ascii')})", ""]
            out += ["| Answer | Count | Percent |", "|---|---:|---:|"]
            out += [f"| {_md(b['text'])} | {b['count']} | {b['percent']}% |" for b in r["bars"]]
            out += ["", f"{r['total']} answered" + (f" · average {r['mean']}" if r.get("mean") is not None else "")]
        out.append("")
    if w["actions"]:
        codes = [p["code"] for p in w["priorities"]]
        out += ["## Action framework", "",
                "| Theme | Sub-theme | Action | No | Suggested lead | " + " | ".join(_md(c) for c in codes) + " | Outcome measure |",
                "|---|---|---|---|---|" + "---|" * len(codes) + "---|"]
        for a in w["actions"]:
            out.append(f"| {_md(a['theme'])} | {_md(a['sub_theme'])} | {_md(a['text'])} | {_md(a['number'])} | "
                       f"{_md(a['lead'])} | " + " | ".join(a["links"]) + f" | {_md(a['outcome'])} |")
        out.append("")
    out += ["## Participation", "", "| Question | Answered |", "|---|---:|"]
    out += [f"| {p['number']}. {_md(p['text'])} | {p['answers']} |" for p in w["participation"]["per_question"]]
    if w["participation"]["per_table"]:
        out += ["", "| Table | Seated | Notes | Votes |", "|---|---:|---:|---:|"]
        out += [f"| {_md(t['table'])} | {t['seated']} | {t['notes']} | {t['votes']} |" for t in w["participation"]["per_table"]]
    return "\n".join(out) + "\n"


def _pictures_markdown(q):
    """The question's and options' pictures, inline as data: URLs so the file stands alone."""
    out = []
    for name, alt, caption in [(q["image"], q["image_alt"], ""),
                               *((o["image"], o["alt"], o["text"]) for o in q["option_pictures"])]:
        src = data_uri(name)
        if src:
            out += [f"![{_md(alt)}]({src})" + (f" {_md(caption)}" if caption else ""), ""]
    return out


def prioritised_note(n):
    """A ranked note as plain text: its text, how many alike were merged into it, its table."""
    return n["text"] + (f" (and {n['merged']} alike)" if n["merged"] else "") + (f" · {n['table']}" if n["table"] else "")


def _prioritised_markdown(p):
    """Dot-voting on a notes question: the notes ranked by their dots."""
    if not p:
        return []
    out = ["", "### Prioritised", "", _md(p["summary"]), ""]
    if not p["notes"]:
        return out + ["No dots were placed."]
    out += ["| Rank | Note | Dots |", "|---:|---|---:|"]
    out += [f"| {n['rank']} | {_md(prioritised_note(n))} | {n['dots']} |" for n in p["notes"]]
    return out


def milestone_text(n):
    """A milestone as a grid cell lists it, as plain text."""
    return (("★ " if n["highlight"] else "") + n["text"] + (f" (and {n['merged']} alike)" if n["merged"] else "")
            + (" (host)" if n["host"] else ""))


def horizon_heading(h):
    return horizon_label(h["name"], h["hint"])


def _grid_markdown(q):
    """The trajectory grid as a Markdown table: question rows against horizon columns."""
    out = ["| Question or theme | " + " | ".join(_md(horizon_heading(h)) for h in q["horizons"]) + " |",
           "|---|" + "---|" * len(q["horizons"])]
    for row in q["grid"]:
        cells = ["<br>".join("• " + _md(milestone_text(n)) for n in cell) for cell in row["cells"]]
        out.append(f"| {_md(row['text'])} | " + " | ".join(cells) + " |")
    out += ["", f"{q['total']} milestone{'' if q['total'] == 1 else 's'}"
            + (" · ★ highlighted by a table host" if q["highlighted"] else "")]
    if q["unplaced"]:
        out += ["", "Not placed on the grid: " + "; ".join(_md(milestone_text(n)) for n in q["unplaced"])]
    for s in q["summaries"]:
        out += ["", f"*Host summary, {_md(s['table'])}" + (f", round {s['round']}" if s["round"] else "") + f":* {_md(s['text'])}"]
    return out


# The last two columns carry the café's title line ("<title>, <date in words>", as every write-up
# opens) and its date (ISO, which spreadsheets read as a date) on every row: the header stays the
# first line, so the file imports as it is, and several cafés' data can be stacked in one sheet.
RAW_COLUMNS = ["kind", "question_number", "question", "answer", "table", "round", "time", "status",
               "highlight", "merged_into", "author", "dots", "id", "row", "horizon", "session", "date"]


def raw_rows(session, public=False):
    """Every vote and note of the session, one row each, in RAW_COLUMNS order.

    public (a share link's download): only the notes the write-up shows, as it shows them;
    hidden, held and merged-away notes are left out, and a shown note counts the dots of
    the notes merged into it, as its ranking in the write-up does.
    """
    tables = {t.id: t.name for t in session.tables}
    about = [heading(session), session.date.isoformat() if session.date else ""]
    number = {q.id: i for i, q in enumerate(session.questions, 1)}
    texts = {q.id: q.text for q in session.questions}
    rows = {r.id: r.text for q in session.questions for r in q.rows}  # a trajectory milestone's cell
    horizons = {h.id: h.name for q in session.questions for h in q.horizons}
    options = dict(db.session.execute(
        select(Option.id, Option.text).join(Question).where(Question.session_id == session.id)
    ).all())
    chosen = {}
    for vote_id, option_id in db.session.execute(
        select(VoteChoice.vote_id, VoteChoice.option_id).join(Vote).join(Question).where(Question.session_id == session.id)
    ):
        chosen.setdefault(vote_id, []).append(options.get(option_id, ""))
    for v in db.session.scalars(select(Vote).join(Question).where(Question.session_id == session.id).order_by(Vote.id)):
        answer = "; ".join(chosen.get(v.id, [])) if v.value is None else str(v.value)
        yield ["vote", number[v.question_id], texts[v.question_id], answer, tables.get(v.table_id, ""), v.round,
               v.updated_at.isoformat(), "", "", "", "participant", "", v.id, "", "", *about]
    # Dot-voting: the dots placed on each note itself (a merged note's count for the note it joined in the write-up).
    dots = dict(db.session.execute(
        select(Dot.note_id, func.count()).join(Question, Question.id == Dot.question_id)
        .where(Question.session_id == session.id).group_by(Dot.note_id)
    ).all())
    notes = db.session.scalars(select(Note).join(Question).where(Question.session_id == session.id).order_by(Note.id))
    if public:
        notes = notes.all()
        dots = merged_dots(notes, dots)
        notes = [n for n in notes if shown(n)]
    for n in notes:
        yield ["note", number[n.question_id], texts[n.question_id], n.text, tables.get(n.table_id, ""), n.round,
               n.created_at.isoformat(), n.status, "yes" if n.highlight else "", n.merged_into_id or "", n.author, dots.get(n.id, 0), n.id,
               rows.get(n.row_id, ""), horizons.get(n.horizon_id, ""), *about]


def shown(note):
    """Whether the write-up shows this note as it is: visible, and not merged into another."""
    return note.status == "visible" and note.merged_into_id is None


def merged_dots(notes, dots):
    """{note id: dots} with each merged-away note's dots counted for the note it ended up in."""
    into = {n.id: n.merged_into_id for n in notes}
    total = {}
    for note_id, count in dots.items():
        seen = set()
        while into.get(note_id) is not None and note_id not in seen:  # merge chains, never a cycle
            seen.add(note_id)
            note_id = into[note_id]
        total[note_id] = total.get(note_id, 0) + count
    return total


def csv_text(session, public=False):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(RAW_COLUMNS)
    for row in raw_rows(session, public):
        writer.writerow([safe_cell(c) for c in row])
    return out.getvalue()


def published(data):
    """A share link's JSON: the session's export (transfer.export) cut to what its write-up shows.

    No hidden, held or merged-away notes, no edit history (it keeps moderators' emails and the
    words before a correction), no blocked words or moderation setting, and no participant
    numbers, which would tie one person's answers together where the write-up only counts them.
    """
    data = dict(data)
    data["session"] = {k: v for k, v in data["session"].items() if k not in ("blocked_words", "moderation")}
    notes = data["notes"]
    kept = [i for i, n in enumerate(notes) if n["status"] == "visible" and n["merged_into"] is None]
    index = {old: new for new, old in enumerate(kept)}

    def root(i):
        seen = set()
        while notes[i]["merged_into"] is not None and i not in seen:
            seen.add(i)
            i = notes[i]["merged_into"]
        return i

    data["notes"] = [{k: v for k, v in notes[i].items() if k not in ("participant", "edits")} for i in kept]
    data["dots"] = [{"question": d["question"], "note": index[root(d["note"])], "at": d["at"]}
                    for d in data["dots"] if root(d["note"]) in index]
    data["votes"] = [{k: v for k, v in vote.items() if k != "participant"} for vote in data["votes"]]
    data["actions"] = [{**a, "note": index.get(a["note"])} for a in data["actions"]]
    return data
