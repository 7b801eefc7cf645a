from flask import abort

from .. import cafe
from . import bp


def table_or_404(token):
    table = cafe.host_table(token)
    if table is None:
        abort(404, "This host link is not valid: it may have been replaced. Ask the facilitator for the new one.")
    return table
