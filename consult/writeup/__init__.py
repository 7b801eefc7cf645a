"""Write-ups: the café's results as documents, and whole sessions as JSON."""
from flask import Blueprint

bp = Blueprint("writeup", __name__)

from . import routes  # noqa: E402,F401
