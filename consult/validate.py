"""One validation layer: what any input may carry before the rules look at it.

Socket payloads, JSON bodies, form fields, URL parts and imported files all pass through here
first, so that what reaches the rules (and the database) is of a shape they can refuse with a
message: no nesting deeper than MAX_DEPTH, no number a database integer cannot hold, no NUL
(PostgreSQL refuses it in text), no lone surrogate (UTF-8 cannot encode it), no control
character a document format cannot hold. The rules (rules.py and the rest) then check what each
value means; they never see what would crash them.
"""
import json
import math
import re

from .rules import MALFORMED, Invalid

MAX_DEPTH = 32           # lists and objects inside each other: consult's own payloads use 2
MAX_ITEMS = 100_000      # values in one payload, all levels together (a 1 MB message holds a few times more)
MAX_STRING = 1_000_000  # characters in one text: the transports cap a message near this; each rule has its own limit

# Characters no stored text keeps: C0 controls but tab and newline (a carriage return becomes a
# newline), DEL, lone surrogates, and the non-characters U+FFFE and U+FFFF. XML (Word, Excel)
# cannot hold most of them, PostgreSQL refuses NUL, and UTF-8 cannot encode a lone surrogate.
NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
# What cannot go anywhere near the database or an encoder, not even in a name or a token.
UNSAFE = re.compile("[\x00\ud800-\udfff]")
CONTROL = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")

TOO_DEEP = "That request is nested too deeply to be one of consult's."
TOO_BIG = "That request is too large to be one of consult's."


class Refused(Invalid, ValueError):
    """Input of a shape no rule takes: str(error) is the message for the person.

    A ValueError too, as a JSON parser's errors are: whatever reads JSON refuses it the same way."""


def clean_text(value):
    """Text as consult stores it: newlines as \\n, without the characters of NOT_TEXT."""
    if "\r" in value:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    return NOT_TEXT.sub("", value)


def payload(value, depth=MAX_DEPTH, items=MAX_ITEMS, strict=False):
    """value (decoded JSON, from a socket or a request body) checked and cleaned, or Refused.

    Lists and objects at most depth deep and items values in all; texts cleaned (clean_text)
    and at most MAX_STRING long; finite numbers only (each rule checks its integers' range); no
    bytes (consult never takes binary data in a payload). Returns a cleaned copy. strict: a
    text that cleaning would change is refused instead (credentials: a token with a NUL in it
    is not the token without).
    """
    budget = [items]

    def walk(v, level):
        budget[0] -= 1
        if budget[0] < 0:
            raise Refused(TOO_BIG)
        if isinstance(v, str):
            if len(v) > MAX_STRING:
                raise Refused(f"That text is {len(v)} characters long: far more than consult takes.")
            cleaned = clean_text(v)
            if strict and cleaned != v:
                raise Refused(MALFORMED)
            return cleaned
        if v is None or isinstance(v, bool):
            return v
        if isinstance(v, int):
            return v  # each rule checks its own range (rules.as_id: an id fits its column)
        if isinstance(v, float):
            if not math.isfinite(v):
                raise Refused(MALFORMED)
            return v
        if level >= depth:
            raise Refused(TOO_DEEP)
        if isinstance(v, (list, tuple)):
            return [walk(x, level + 1) for x in v]
        if isinstance(v, dict):
            out = {}
            for k, x in v.items():
                if not isinstance(k, str):
                    raise Refused(MALFORMED)
                out[walk(k, level + 1)] = walk(x, level + 1)
            return out
        raise Refused(MALFORMED)  # bytes (a binary attachment) or anything else

    return walk(value, 0)


_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_BRACKETS = re.compile(r"[\[\]{}]")


def too_deep(text, depth=MAX_DEPTH):
    """Whether JSON text nests lists and objects deeper than depth, judged before parsing it
    (json.loads recurses: 100,000 brackets would exhaust the stack, not fail cleanly)."""
    brackets = text.count("[") + text.count("{")
    if brackets <= depth:
        return False
    level = 0
    for b in _BRACKETS.findall(_STRINGS.sub("", text)):
        if b in "[{":
            level += 1
            if level > depth:
                return True
        else:
            level -= 1
    return False


def loads(text, depth=MAX_DEPTH, items=MAX_ITEMS):
    """JSON text parsed and checked by payload(); ValueError (a Refused) for anything else."""
    if isinstance(text, (bytes, bytearray)):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise Refused("That request is not UTF-8 text.") from None
    if too_deep(text, depth):
        raise Refused(TOO_DEEP)
    try:
        value = json.loads(text)
    except RecursionError:
        raise Refused(TOO_DEEP) from None
    except ValueError as error:  # not JSON, or a number of more digits than Python converts
        raise Refused(f"That request is not valid JSON ({str(error)[:80]}).") from None
    return payload(value, depth, items)


class RequestJSON:
    """The JSON module of requests (app.SizedRequest.json_module): bodies parsed by loads() above."""

    loads = staticmethod(loads)
    dumps = staticmethod(json.dumps)


def request_text(value, what="request"):
    """A form field, a query argument or a URL part: Refused when it holds NUL or a lone surrogate.

    Forms never need either; PostgreSQL cannot look either up, so a 400 is the only answer.
    """
    if isinstance(value, str) and UNSAFE.search(value):
        raise Refused(f"The {what} holds a character consult cannot read (a NUL byte or a broken "
                         "character): remove it and send again.")
    return value


def path_part(value):
    """A URL part (a join code, a token, a name): no control character belongs in one."""
    if isinstance(value, str) and CONTROL.search(value):
        raise Refused("That address holds a control character, so it cannot be one of consult's.")
    return value
