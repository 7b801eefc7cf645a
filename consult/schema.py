"""The database schema: created and upgraded by the migrations shipped in the package (Flask-Migrate)."""
from flask import current_app

from .extensions import db


def upgrade():
    """Create or upgrade the schema to the migrations' head."""
    from flask_migrate import upgrade as migrate_upgrade

    migrate_upgrade()


def revisions():
    """(the database's schema revisions, the shipped migrations' heads): equal when up to date."""
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    config = current_app.extensions["migrate"].migrate.get_config()
    heads = set(ScriptDirectory.from_config(config).get_heads())
    with db.engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    return current, heads
