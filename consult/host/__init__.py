"""The table host's view: a secret link per table, on a phone or a laptop."""
from flask import Blueprint

bp = Blueprint("host", __name__, url_prefix="/host")

from . import events, routes  # noqa: E402,F401
