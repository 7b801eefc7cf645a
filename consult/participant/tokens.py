"""Who a phone is: the participant token each session gave it, kept in the signed session cookie.

No account and no app: the cookie is the phone's identity, for its pages and its socket alike.
"""
from flask import session

from .. import rules


def remembered_token(code):
    """The participant token this browser holds for a session, kept in the signed cookie."""
    tokens = session.get("p")
    return tokens.get(code) if isinstance(tokens, dict) else None


def remember_token(code, token):
    tokens = dict(session.get("p") or {})
    tokens[code] = token
    # A phone is only ever at a few events; keep the cookie small.
    session["p"] = dict(list(tokens.items())[-8:])
    session.permanent = True


def no_table_chosen(code):
    """Whether this browser said "I'm not at a table" in the session (so the phone does not ask again)."""
    return code in (session.get("nt") or [])


def remember_no_table(code, chosen):
    codes = [c for c in (session.get("nt") or []) if isinstance(c, str) and c != code]
    session["nt"] = (codes + [code])[-8:] if chosen else codes


def participant_or_none(code):
    cafe = rules.find_session(code)
    if cafe is None:
        return None, None
    return cafe, rules.participant_for(cafe, remembered_token(cafe.join_code))
