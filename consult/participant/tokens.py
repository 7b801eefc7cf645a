"""Who a phone is: the participant token each session gave it, kept in the signed session cookie.

No account and no app: the cookie is the phone's identity, for its pages and its socket alike.
Opening the join link gives the phone its token, and no more: its participant row is made
with its first answer or table (rules.enrol, services.seat), so a link opened a thousand
times makes nothing. The cookie is signed, so a token in it is one this server gave out.
"""
import secrets

from flask import session

from .. import rules


def remembered_token(code):
    """The participant token this browser holds for a session, kept in the signed cookie."""
    tokens = session.get("p")
    token = tokens.get(code) if isinstance(tokens, dict) else None
    return token if isinstance(token, str) and token else None


def remember_token(code, token):
    tokens = dict(session.get("p") or {})
    tokens[code] = token
    # A phone is only ever at a few events; keep the cookie small.
    session["p"] = dict(list(tokens.items())[-8:])
    session.permanent = True


def new_token():
    return secrets.token_urlsafe(24)  # as long as the participant tokens made before


def no_table_chosen(code):
    """Whether this browser said "I'm not at a table" in the session (so the phone does not ask again)."""
    return code in (session.get("nt") or [])


def remember_no_table(code, chosen):
    codes = [c for c in (session.get("nt") or []) if isinstance(c, str) and c != code]
    session["nt"] = (codes + [code])[-8:] if chosen else codes


def phone(code):
    """(session, participant or None, voter or None) for this phone: no voter if it holds no
    token for the session (it must open the join link); a voter without an id if its participant
    is not made yet."""
    cafe = rules.find_session(code)
    if cafe is None:
        return None, None, None
    token = remembered_token(cafe.join_code)
    if token is None:
        return cafe, None, None
    participant = rules.participant_for(cafe, token)
    return cafe, participant, rules.Voter(participant.id if participant else None, cafe.id, token)
