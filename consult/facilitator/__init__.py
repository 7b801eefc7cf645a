"""The facilitator's pages: sessions, questions, the live control page and the projector."""
from flask import Blueprint

bp = Blueprint("facilitator", __name__, url_prefix="/sessions")

from . import events, routes  # noqa: E402,F401
