"""facilitator session token: sign-out and a new password end every session of the account

Revision ID: b3d1e5a7c9f2
Revises: 7382bbcfb16c
Create Date: 2026-12-05

"""
import secrets

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b3d1e5a7c9f2'
down_revision = '7382bbcfb16c'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('facilitator', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_token', sa.String(length=64), nullable=True))
    # Each account its own token; sign-in cookies made before (they carry the id) stop working.
    facilitator = sa.table('facilitator', sa.column('id', sa.Integer), sa.column('session_token', sa.String))
    conn = op.get_bind()
    for (id_,) in conn.execute(sa.select(facilitator.c.id)).all():
        conn.execute(facilitator.update().where(facilitator.c.id == id_).values(session_token=secrets.token_urlsafe(24)))
    with op.batch_alter_table('facilitator', schema=None) as batch_op:
        batch_op.alter_column('session_token', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint('uq_facilitator_session_token', ['session_token'])


def downgrade():
    with op.batch_alter_table('facilitator', schema=None) as batch_op:
        batch_op.drop_constraint('uq_facilitator_session_token', type_='unique')
        batch_op.drop_column('session_token')
