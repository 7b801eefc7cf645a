"""Pictures on questions and options, for people who read pictures more easily than words.

A picture is uploaded with the question form, checked by its content (PNG, JPEG, WebP or GIF,
2 MB at most), stored in <instance>/uploads/ under a random name and served from /pictures/NAME
(participant/routes.py) with a long cache: a name is never reused for other content. Alt text is required with every
picture. Copies of a question (duplicate, "start from") share the file; it is deleted when no
question or option refers to it any more.
"""
import base64
import io
import os
import re
import secrets

from flask import current_app
from sqlalchemy import func, select

from .extensions import db
from .models import Option, Question
from .rules import Invalid

PATH = "/pictures/"  # where participant/routes.py serves them

MAX_BYTES = 2 * 1024 * 1024
MAX_SIDE = 6000  # pixels: bigger is no use on a phone or a projector, and costly for a phone to decode
MAX_ALT = 300
# Pillow's name for each format we take -> (file extension, content type).
FORMATS = {
    "PNG": ("png", "image/png"),
    "JPEG": ("jpg", "image/jpeg"),
    "WEBP": ("webp", "image/webp"),
    "GIF": ("gif", "image/gif"),
}
TYPES = {ext: mime for ext, mime in FORMATS.values()}
NAME = re.compile(r"^[0-9a-f]{32}\.(png|jpg|webp|gif)$")
ACCEPT = "image/png,image/jpeg,image/webp,image/gif"
CACHE_SECONDS = 365 * 24 * 3600
NOT_A_PICTURE = "That file is not a picture consult can show: use a PNG, JPEG, WebP or GIF image."


def upload_dir():
    return os.path.join(current_app.instance_path, "uploads")


def sniff(data):
    """The format of data judged by its first bytes (not the file's name), or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


class Upload:
    """A checked picture, not yet written to disk: .data (bytes) and .ext."""

    def __init__(self, data, ext):
        self.data, self.ext = data, ext

    def save(self):
        """Write the picture under a new random name; returns the name."""
        folder = upload_dir()
        os.makedirs(folder, mode=0o700, exist_ok=True)
        name = f"{secrets.token_hex(16)}.{self.ext}"
        # O_EXCL: never overwrite, however unlikely a clash of 128 random bits is.
        fd = os.open(os.path.join(folder, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(self.data)
        return name


def check(storage):
    """A FileStorage from a form as an Upload; None when no file was chosen; Invalid when it is no good."""
    if storage is None or not getattr(storage, "filename", None):
        return None
    return check_bytes(storage.stream.read(MAX_BYTES + 1))


def check_bytes(data):
    """A picture's bytes as an Upload, or Invalid: judged by its content, opened and verified by Pillow."""
    if not data:
        raise Invalid("That file is empty: choose the picture again.")
    if len(data) > MAX_BYTES:
        raise Invalid("That picture is larger than 2 MB: make it smaller "
                      "(about 1000 pixels wide is plenty for a phone or a projector).")
    kind = sniff(data)
    if kind is None:
        raise Invalid(NOT_A_PICTURE)
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            if image.format != kind:
                raise Invalid(NOT_A_PICTURE)
            width, height = image.size
            image.verify()  # a damaged or truncated file fails here
    except Invalid:
        raise
    except Exception:  # Pillow raises many kinds of error for a file that is not what it claims
        raise Invalid("That picture seems damaged: open it on your computer and save it again.") from None
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise Invalid(f"That picture is too big: at most {MAX_SIDE} pixels a side.")
    return Upload(data, FORMATS[kind][0])


def clean_alt(text):
    return " ".join((text or "").split())[:MAX_ALT]


def in_use(name):
    """How many questions and options show the picture called name."""
    return (db.session.scalar(select(func.count(Question.id)).filter_by(image=name)) or 0) + (
        db.session.scalar(select(func.count(Option.id)).filter_by(image=name)) or 0
    )


def discard(name):
    """Delete the picture's file if nothing refers to it any more (call after the change is flushed)."""
    if not name or not NAME.match(name) or in_use(name):
        return
    try:
        os.remove(os.path.join(upload_dir(), name))
    except FileNotFoundError:
        pass


def url(name):
    """Where a phone or a screen loads the picture; None for no picture. A plain path: live
    updates are also built outside any request (the background push), where url_for cannot be."""
    return PATH + name if name else None


def stored(name):
    """The file of a picture consult stored under name, or None: a name of another shape, or a
    picture whose file is gone (write-ups then go on without it)."""
    if not name or not NAME.match(name):
        return None
    path = os.path.join(upload_dir(), name)
    return path if os.path.isfile(path) else None


def data_uri(name):
    """The picture inline, for write-ups that must not depend on a server (HTML, Markdown); "" if it is gone."""
    path = stored(name)
    if path is None:
        return ""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return ""
    return f"data:{TYPES[name.rsplit('.', 1)[1]]};base64,{base64.b64encode(data).decode('ascii')}"


# -- the question form's pictures ---------------------------------------------------------

class PictureInvalid(Invalid):
    """A picture that cannot be used; .field says which input is at fault: "file" or "alt"."""

    def __init__(self, message, field):
        super().__init__(message)
        self.field = field


class Change:
    """What the form asks for one picture: a new upload, its removal, or new alt text (or nothing)."""

    def __init__(self, upload=None, remove=False, alt=None, current=None):
        # current: the stored picture the form showed; a removal or new alt text applies only to it.
        self.upload, self.remove, self.alt, self.current = upload, remove, alt, current


NEEDS_ALT = "Describe the picture in a few words (alt text): it is read out to people who cannot see it."


def plan(storage, alt, remove, current, had=None):
    """Check one picture's fields; returns a Change, raises PictureInvalid.

    current: the picture stored now (or None); had: the picture the form showed (None: the
    form showed the stored one). When the form did not show the stored picture, only a new
    file changes it.
    """
    alt = clean_alt(alt)
    try:
        upload = check(storage)
    except Invalid as error:
        raise PictureInvalid(str(error), "file") from None
    if upload is not None:
        if remove:
            raise PictureInvalid("Either choose a new picture or remove it, not both.", "file")
        if not alt:
            raise PictureInvalid(NEEDS_ALT, "alt")
        return Change(upload=upload, alt=alt)
    shown = current if had is None else (had if had == current else None)
    if not shown:
        return Change()
    if remove:
        return Change(remove=True, current=shown)
    if not alt:
        raise PictureInvalid(NEEDS_ALT[:-1] + ", or tick “Remove”.", "alt")
    return Change(alt=alt, current=shown)


def apply(target, change):
    """Apply a Change to a Question or an Option (in the open transaction); returns the name it let go."""
    old = target.image
    if change.upload is not None:
        target.image, target.image_alt = change.upload.save(), change.alt
    elif change.current is None or target.image != change.current:
        pass  # the form did not show this picture: leave it as it is
    elif change.remove:
        target.image, target.image_alt = None, ""
    elif change.alt is not None:
        target.image_alt = change.alt
    return old if old and old != target.image else None


def posted_rows(form, files):
    """The option picture rows a question form sent, in order: [dict(text, had, file, alt, remove)].

    Row i is the fields opt_text-i (the option line it belongs to), opt_had-i (the stored picture it
    showed), opt_image-i (a new file), opt_alt-i and opt_remove-i.
    """
    rows = []
    for key in form:
        m = re.fullmatch(r"opt_text-(\d{1,2})", key)
        if m:
            i = m.group(1)
            rows.append((int(i), {
                "text": " ".join(form.get(key, "").split()), "had": form.get(f"opt_had-{i}") or "",
                "file": files.get(f"opt_image-{i}"), "alt": form.get(f"opt_alt-{i}", ""),
                "remove": bool(form.get(f"opt_remove-{i}")),
            }))
    return [row for _, row in sorted(rows, key=lambda r: r[0])]


def _lines(raw):
    """The option lines of the form's options text (nothing when the form sent none)."""
    return [" ".join(t.split()) for t in raw.splitlines() if t.strip()] if isinstance(raw, str) else []


class Plan:
    def __init__(self, question, options, before):
        self.question, self.options, self.before = question, options, before


def plan_form(question, form, request):
    """Check the pictures of a question form before anything is saved.

    Returns a Plan, or None after putting the errors on the form: form.image_file / form.image_alt
    for the question's picture, form.option_picture_errors ({option text, lower case: message}).
    A row belongs to the option with its text, so a picture follows its option when lines move.
    """
    form.option_picture_errors = {}
    ok = True
    try:
        question_change = plan(form.image_file.data, form.image_alt.data, form.remove_image.data,
                               question.image if question is not None else None)
    except PictureInvalid as error:
        (form.image_file if error.field == "file" else form.image_alt).errors = [str(error)]
        question_change, ok = None, False
    option_changes = []
    if form.kind.data == "choice":
        stored = {o.text.strip().lower(): o for o in (question.options if question is not None else [])}
        pictured = {o.image: o for o in stored.values() if o.image}
        wanted = {t.lower() for t in _lines(form.options.data)}
        for row in posted_rows(request.form, request.files):
            key = row["text"].lower()
            if key not in wanted:
                continue  # its line went: nothing to picture
            # The option of that text, or the one whose picture the row showed (its line was reworded).
            option = stored.get(key) or pictured.get(row["had"])
            try:
                change = plan(row["file"], row["alt"], row["remove"], option.image if option else None, had=row["had"])
            except PictureInvalid as error:
                form.option_picture_errors[key] = str(error)
                ok = False
                continue
            option_changes.append((key, change))
    if not ok:
        return None
    before = set()
    if question is not None:
        before = {question.image} | {o.image for o in question.options}
    return Plan(question_change, option_changes, {b for b in before if b})


def apply_form(question, planned):
    """After rules.save_question: store the planned pictures on the saved question and its options.

    Returns the pictures it may have let go (a replaced or removed picture, or the pictures of
    options that went): discard_all them once this is committed, and the files nothing refers
    to any more are deleted.
    """
    let_go = {apply(question, planned.question)}
    by_text = {o.text.strip().lower(): o for o in question.options}
    for key, change in planned.options:
        option = by_text.get(key)
        if option is not None:
            let_go.add(apply(option, change))
    return (let_go | planned.before) - {None}


def form_rows(question, form, request):
    """The option picture rows the question form shows, one per option line: [dict(text, image, alt, error)]."""
    stored = {o.text.strip().lower(): o for o in (question.options if question is not None else [])}
    if request.method == "POST":
        posted = {r["text"].lower(): r for r in posted_rows(request.form, request.files)}
        lines = _lines(form.options.data)
    else:
        posted = {}
        lines = [o.text for o in question.options] if question is not None and question.kind == "choice" else []
    errors = getattr(form, "option_picture_errors", {})
    rows = []
    for text in lines:
        key = text.lower()
        option, sent = stored.get(key), posted.get(key)
        if sent is not None:
            image = sent["had"] if sent["had"] in {o.image for o in stored.values()} else None
        else:
            image = option.image if option else None
        alt = sent["alt"] if sent else (option.image_alt if option and option.image else "")
        rows.append({"text": text, "image": image, "alt": alt, "error": errors.get(key),
                     "remove": bool(sent and sent["remove"])})
    return rows


def names_of(questions):
    """Every picture the questions and their options show (to discard after deleting them)."""
    names = set()
    for q in questions:
        names.add(q.image)
        names.update(o.image for o in q.options)
    return names - {None}


def discard_all(names):
    for name in names:
        discard(name)


def picture_data(target):
    """A question's or option's picture for a phone or a screen: {"image": url, "image_alt": text}, or {}."""
    if not target.image:
        return {}  # most have none: the thousands of phones need not hear so
    return {"image": url(target.image), "image_alt": target.image_alt}
