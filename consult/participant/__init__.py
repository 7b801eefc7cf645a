"""The participant's side: the start page, joining, and the phone page."""
from flask import Blueprint

bp = Blueprint("participant", __name__)

from . import events, routes  # noqa: E402,F401
