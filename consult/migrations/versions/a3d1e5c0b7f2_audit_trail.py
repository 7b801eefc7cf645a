"""audit trail

Revision ID: a3d1e5c0b7f2
Revises: b3d1e5a7c9f2
Create Date: 2026-12-04

The answers already stored are carried over into the new trail (without receipts: none was
given for them), so a late retry of one is recognised and a question's recomputed totals
still equal its results.
"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a3d1e5c0b7f2'
down_revision = 'b3d1e5a7c9f2'
branch_labels = None
depends_on = None


def upgrade():
    audit = op.create_table('audit_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('question_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=True),
    sa.Column('participant_id', sa.Integer(), nullable=True),
    sa.Column('target_id', sa.Integer(), nullable=True),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('detail', sa.String(length=40), nullable=False),
    sa.Column('by', sa.String(length=80), nullable=False),
    sa.Column('receipt', sa.String(length=8), nullable=True),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['question_id'], ['question.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['session_id'], ['cafe_session.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('kind', 'client_id', name='uq_audit_client_id'),
    sa.UniqueConstraint('session_id', 'receipt', name='uq_audit_receipt')
    )
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_entry_question_id'), ['question_id'], unique=False)
    _carry_over(audit)


def _carry_over(audit):
    """One entry for each vote, note, merge and dot stored before the trail existed."""
    conn = op.get_bind()
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    session_of = dict(conn.execute(sa.text("SELECT id, session_id FROM question")).all())
    chosen = {}
    for vote_id, option_id in conn.execute(sa.text("SELECT vote_id, option_id FROM vote_choice ORDER BY option_id")):
        chosen.setdefault(vote_id, []).append(str(option_id))
    rows = []

    def when(at):  # SQLite hands back text from a raw query
        return datetime.fromisoformat(at) if isinstance(at, str) else at or now

    def entry(question_id, kind, **fields):
        rows.append({"session_id": session_of[question_id], "question_id": question_id, "kind": kind,
                     "client_id": None, "participant_id": None, "target_id": None, "value": "",
                     "detail": "carried over", "by": "", "receipt": None, "at": now, **fields})

    for vote_id, question_id, participant_id, client_id, value, at in conn.execute(sa.text(
            "SELECT id, question_id, participant_id, client_id, value, updated_at FROM vote ORDER BY id")):
        entry(question_id, "vote", client_id=client_id, participant_id=participant_id, target_id=vote_id,
              value=str(value) if value is not None else ",".join(chosen.get(vote_id, [])), at=when(at))
    merged = []
    for note_id, question_id, participant_id, client_id, text, status, author, into, at in conn.execute(sa.text(
            "SELECT id, question_id, participant_id, client_id, text, status, author, merged_into_id, created_at "
            "FROM note ORDER BY id")):
        entry(question_id, "note", client_id=client_id, participant_id=participant_id, target_id=note_id,
              value=text, detail=status, by="host" if author == "host" else "", at=when(at))
        if into is not None:
            merged.append((question_id, note_id, into))
    for question_id, note_id, into in merged:
        entry(question_id, "merge", target_id=note_id, value=str(into))
    for dot_id, question_id, participant_id, client_id, note_id, at in conn.execute(sa.text(
            "SELECT id, question_id, participant_id, client_id, note_id, created_at FROM dot ORDER BY id")):
        entry(question_id, "dot", client_id=client_id, participant_id=participant_id, target_id=dot_id,
              value=str(note_id), at=when(at))
    for start in range(0, len(rows), 500):
        op.bulk_insert(audit, rows[start:start + 500])


def downgrade():
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_entry_question_id'))

    op.drop_table('audit_entry')
