"""How long a large café's write-up takes in each format: `consult bench-writeup`."""
import json
import os
import random
import shutil
import tempfile
import time


def build(participants, notes, questions, tables=10, rounds=3):
    """A café of the given size in the current app's database; returns the session."""
    from sqlalchemy import insert

    from .. import rules
    from ..extensions import db
    from ..models import CafeSession, CafeTable, Facilitator, Note, Participant, Vote, VoteChoice

    rng = random.Random(7)
    owner = Facilitator(email="writeup-bench@example.org", password_hash="-")
    session = CafeSession(owner=owner, title="Large café", join_code=rules.unique_join_code(), current_round=rounds)
    session.tables = [CafeTable(name=f"Table {i + 1}", position=i) for i in range(tables)]
    db.session.add(session)
    db.session.commit()
    kinds = ["notes"] * (questions * 3 // 4) + ["choice"] * (questions - questions * 3 // 4)
    made = []
    for i, kind in enumerate(kinds):
        data = {"kind": kind, "text": f"Vital question {i + 1}: what would success look like for “us” (£)?",
                "options": "Agree\nDisagree\nNot sure\nNeeds more work", "max_length": 280}
        made.append(rules.save_question(session, None, data))
    db.session.flush()
    table_ids = [t.id for t in session.tables]
    db.session.execute(insert(Participant), [
        {"session_id": session.id, "token": f"bench-{session.id}-{i}", "table_id": table_ids[i % tables]}
        for i in range(participants)
    ])
    people = [p.id for p in session.participants]
    notes_qs = [q for q in made if q.kind == "notes"]
    words = "jobs skills housing transport youth volunteering diversity health confidence enterprise".split()
    db.session.execute(insert(Note), [
        {"question_id": notes_qs[i % len(notes_qs)].id, "participant_id": people[i % participants],
         "table_id": table_ids[i % tables], "round": 1 + i % rounds, "client_id": f"bench-n-{session.id}-{i}",
         "text": " ".join(rng.choice(words) for _ in range(rng.randint(3, 25))), "highlight": i % 17 == 0,
         "status": "hidden" if i % 97 == 0 else "visible"}
        for i in range(notes)
    ])
    for q in made:
        if q.kind != "choice":
            continue
        ids = db.session.execute(insert(Vote).returning(Vote.id), [
            {"question_id": q.id, "participant_id": p, "client_id": f"bench-v-{q.id}-{p}", "round": 1} for p in people
        ]).scalars().all()
        db.session.execute(insert(VoteChoice), [
            {"vote_id": v, "option_id": q.options[rng.randrange(len(q.options))].id} for v in ids
        ])
    db.session.commit()
    return session


def main(participants=1000, notes=10000, questions=20):
    from .. import create_app
    from ..extensions import db
    from .. import offload
    from ..writeup.routes import render

    folder = tempfile.mkdtemp(prefix="consult-writeup-bench-")
    os.environ["CONSULT_INSTANCE_PATH"] = folder
    os.environ.pop("CONSULT_DATABASE_URL", None)
    app = create_app({"CONSULT_ASYNC_MODE": "threading"})
    result = {"participants": participants, "notes": notes, "questions": questions}
    try:
        with app.app_context():
            db.create_all()
            t0 = time.perf_counter()
            session = build(participants, notes, questions)
            result["build_s"] = round(time.perf_counter() - t0, 2)
            with app.test_request_context():
                for fmt in ("html", "md", "csv", "json", "docx", "xlsx", "pdf"):
                    t0 = time.perf_counter()
                    body = render(session, fmt)
                    result[f"{fmt}_s"] = round(time.perf_counter() - t0, 2)
                    result[f"{fmt}_kb"] = round(len(body if isinstance(body, bytes) else body.encode()) / 1024)
                # The web download prints the PDF in a child process: its start-up counts too.
                t0 = time.perf_counter()
                offload.child("consult.writeup.routes:render_id", session.id, "pdf")
                result["pdf_download_s"] = round(time.perf_counter() - t0, 2)
            db.session.remove()
            db.engine.dispose()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps(result), flush=True)
    return result
