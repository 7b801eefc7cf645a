"""Pictures on questions and options: upload, checks, serving, removal, and where they show."""
import io
import json
import os
import re

import pytest
from PIL import Image

from consult import services
from consult import rules
from consult.extensions import db
from consult.models import CafeSession, Option, Question

from .conftest import make_cafe

NASTY = '"><script>alert(1)</script> & <b>'


@pytest.fixture(autouse=True)
def _fast(fast_passwords):
    """Password hashing is not under test here."""


def picture(fmt="PNG", size=(8, 6), color=(200, 30, 30)):
    """A small real image as bytes, in fmt (PNG, JPEG, WEBP, GIF)."""
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, fmt)
    return out.getvalue()


def upload(data, name="picture.png"):
    return (io.BytesIO(data), name)


def uploads(app):
    folder = os.path.join(app.instance_path, "uploads")
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def text(response):
    return response.get_data(as_text=True)


def post_question(client, session_id, question_id=None, **fields):
    data = {"kind": "notes", "text": "What does success look like?", "max_length": "280"}
    data.update(fields)
    url = f"/sessions/{session_id}/questions/" + (f"{question_id}/edit" if question_id else "new")
    return client.post(url, data=data, content_type="multipart/form-data")


def only_question(app, session_id):
    with app.app_context():
        session = db.session.get(CafeSession, session_id)
        q = session.questions[-1]
        return {"id": q.id, "image": q.image, "alt": q.image_alt,
                "options": [(o.text, o.image, o.image_alt) for o in q.options]}


@pytest.fixture
def empty(app, facilitator):
    with app.app_context():
        s = CafeSession(owner_id=facilitator, title="Pictures café", join_code=rules.unique_join_code())
        db.session.add(s)
        db.session.commit()
        return s.id


@pytest.mark.parametrize("fmt,ext,mime", [("PNG", "png", "image/png"), ("JPEG", "jpg", "image/jpeg"),
                                          ("WEBP", "webp", "image/webp"), ("GIF", "gif", "image/gif")])
def test_question_picture_is_stored_under_a_random_name_and_served_with_a_long_cache(app, client, empty, fmt, ext, mime):
    data = picture(fmt)
    # The file's name says .png whatever it is: its content decides the type.
    r = post_question(client, empty, image_file=upload(data, "holiday.PNG"), image_alt="A red square")
    assert r.status_code == 302, text(r)
    q = only_question(app, empty)
    assert re.fullmatch(rf"[0-9a-f]{{32}}\.{ext}", q["image"]) and q["alt"] == "A red square"
    assert uploads(app) == [q["image"]]
    served = client.get(f"/pictures/{q['image']}")
    assert served.status_code == 200 and served.data == data
    assert served.mimetype == mime
    cache = served.headers["Cache-Control"]
    assert "max-age=31536000" in cache and "immutable" in cache and "public" in cache
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    # Phones are not signed in: the picture is served to anyone with its (unguessable) name.
    assert app.test_client().get(f"/pictures/{q['image']}").status_code == 200


@pytest.mark.parametrize("data,name,message", [
    (b"just some text, not a picture", "notes.png", "not a picture consult can show"),
    (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "x.svg", "not a picture consult can show"),
    (b"%PDF-1.4 not a picture", "scan.jpg", "not a picture consult can show"),
    (picture()[:40], "cut.png", "seems damaged"),
    (b"", "empty.png", "empty"),
])
def test_files_that_are_not_pictures_are_refused_and_nothing_is_saved(app, client, empty, data, name, message):
    r = post_question(client, empty, image_file=upload(data, name), image_alt="Something")
    assert r.status_code == 200
    assert message in text(r) and "Nothing was saved" in text(r)
    with app.app_context():
        assert not db.session.get(CafeSession, empty).questions
    assert uploads(app) == []


def test_a_picture_over_2_mb_is_refused(app, client, empty):
    big = picture() + b"\0" * (2 * 1024 * 1024)  # a PNG with junk after it: too large all the same
    r = post_question(client, empty, image_file=upload(big), image_alt="Big")
    assert r.status_code == 200 and "larger than 2 MB" in text(r)
    assert uploads(app) == []


def test_alt_text_is_required_with_a_picture(app, client, empty):
    r = post_question(client, empty, image_file=upload(picture()), image_alt="   ")
    page = text(r)
    assert r.status_code == 200 and "Describe the picture" in page
    assert re.search(r'id="image_alt"[^>]*aria-invalid="true"|aria-invalid="true"[^>]*id="image_alt"', page)
    assert uploads(app) == []
    # A stored picture cannot lose its alt text either.
    post_question(client, empty, image_file=upload(picture()), image_alt="A red square")
    q = only_question(app, empty)
    r = post_question(client, empty, q["id"], image_alt="")
    assert r.status_code == 200 and "Describe the picture" in text(r)
    assert only_question(app, empty)["alt"] == "A red square"


def test_replacing_and_removing_a_picture_deletes_the_old_file(app, client, empty):
    post_question(client, empty, image_file=upload(picture()), image_alt="First")
    first = only_question(app, empty)
    # Saving without a new file keeps the picture; new alt text is taken.
    assert post_question(client, empty, first["id"], image_alt="First, reworded").status_code == 302
    assert only_question(app, empty)["image"] == first["image"]
    assert only_question(app, empty)["alt"] == "First, reworded"
    # A new file replaces it, and the old file goes.
    post_question(client, empty, first["id"], image_file=upload(picture("GIF")), image_alt="Second")
    second = only_question(app, empty)
    assert second["image"] != first["image"] and uploads(app) == [second["image"]]
    assert client.get(f"/pictures/{first['image']}").status_code == 404
    # Remove.
    page = text(client.get(f"/sessions/{empty}/questions/{first['id']}/edit"))
    assert f'src="/pictures/{second["image"]}"' in page and "Remove the picture" in page
    r = post_question(client, empty, first["id"], remove_image="y", image_alt="Second")
    assert r.status_code == 302
    q = only_question(app, empty)
    assert q["image"] is None and q["alt"] == "" and uploads(app) == []


def test_serving_takes_only_names_consult_made(app, client, empty):
    post_question(client, empty, image_file=upload(picture()), image_alt="A red square")
    with open(os.path.join(app.instance_path, "x.png"), "wb") as f:  # a file beside the uploads folder
        f.write(picture())
    for path in ["/pictures/..%2Fsecret_key", "/pictures/../secret_key", "/pictures/%2e%2e%2fsecret_key",
                 "/pictures/x.png", "/pictures/" + "a" * 32 + ".svg", "/pictures/" + "a" * 32 + ".png",
                 "/pictures/" + "A" * 32 + ".png", "/pictures/"]:
        assert client.get(path).status_code == 404, path


def choice_fields(rows, options="Bus\nBike\nWalk", **extra):
    """A choice question's fields with option picture rows: rows = [(text, file bytes or None, alt, had, remove)]."""
    data = {"kind": "choice", "text": "How do you travel?", "options": options}
    for i, (opt, file, alt, had, remove) in enumerate(rows):
        data[f"opt_text-{i}"] = opt
        data[f"opt_had-{i}"] = had or ""
        data[f"opt_alt-{i}"] = alt
        if file is not None:
            data[f"opt_image-{i}"] = upload(file)
        if remove:
            data[f"opt_remove-{i}"] = "1"
    data.update(extra)
    return data


def test_option_pictures_follow_their_options_and_reach_phones(app, client, empty):
    r = post_question(client, empty, **choice_fields([("Bus", picture(), "A red bus", None, False),
                                                      ("Bike", None, "", None, False),
                                                      ("Walk", picture("JPEG"), "Feet walking", None, False)]))
    assert r.status_code == 302, text(r)
    q = only_question(app, empty)
    (bus, bus_pic, bus_alt), (bike, bike_pic, _), (walk, walk_pic, walk_alt) = q["options"]
    assert (bus, bus_alt, bike, bike_pic, walk, walk_alt) == ("Bus", "A red bus", "Bike", None, "Walk", "Feet walking")
    assert bus_pic.endswith(".png") and walk_pic.endswith(".jpg")

    # The form shows a row per option, with its picture and alt text.
    page = text(client.get(f"/sessions/{empty}/questions/{q['id']}/edit"))
    assert 'enctype="multipart/form-data"' in page
    assert re.search(r'name="opt_text-0" value="Bus"', page) and f'value="{bus_pic}"' in page
    assert re.search(r'id="opt_alt-2"[^>]*value="Feet walking"', page)

    # Lines reordered and one removed: each picture stays with its option; the removed option's file goes.
    r = post_question(client, empty, q["id"], **choice_fields(
        [("Bike", None, "", None, False), ("Bus", None, "A red bus", bus_pic, False)], options="Bike\nBus"))
    assert r.status_code == 302, text(r)
    assert only_question(app, empty)["options"] == [("Bike", None, ""), ("Bus", bus_pic, "A red bus")]
    assert uploads(app) == [bus_pic]

    # Phones get the pictures with their alt text.
    with app.app_context():
        services.control(db.session.get(CafeSession, empty), "open", q["id"])
    http = app.test_client()
    assert http.get(f"/j/{db_code(app, empty)}").status_code == 200
    state = http.get(f"/j/{db_code(app, empty)}/state.json").json
    options = state["question"]["options"]
    assert options[1]["image"] == f"/pictures/{bus_pic}" and options[1]["image_alt"] == "A red bus"
    assert "image" not in options[0] and "image" not in state["question"]  # no picture, no keys
    assert http.get(options[1]["image"]).status_code == 200


def db_code(app, session_id):
    with app.app_context():
        return db.session.get(CafeSession, session_id).join_code


def test_option_picture_needs_alt_text_and_a_real_picture(app, client, empty):
    r = post_question(client, empty, **choice_fields([("Bus", picture(), "", None, False),
                                                      ("Bike", b"GIF89a but not really", "A bike", None, False)]))
    page = text(r)
    assert r.status_code == 200 and "Nothing was saved" in page
    assert re.search(r'id="opt_error-0"[^>]*>Describe the picture', page)
    assert re.search(r'id="opt_error-1"[^>]*>That picture seems damaged|id="opt_error-1"[^>]*>That file is not', page)
    with app.app_context():
        assert not db.session.get(CafeSession, empty).questions
    assert uploads(app) == []


def test_removing_an_option_picture(app, client, empty):
    post_question(client, empty, **choice_fields([("Bus", picture(), "A red bus", None, False)]))
    q = only_question(app, empty)
    bus_pic = q["options"][0][1]
    r = post_question(client, empty, q["id"], **choice_fields([("Bus", None, "A red bus", bus_pic, True)]))
    assert r.status_code == 302
    assert only_question(app, empty)["options"][0] == ("Bus", None, "")
    assert uploads(app) == []


def test_copies_share_a_picture_until_the_last_one_lets_it_go(app, client, empty):
    post_question(client, empty, **choice_fields([("Bus", picture(), "A red bus", None, False)]),
                  image_file=upload(picture("WEBP")), image_alt="A map")
    original = only_question(app, empty)
    r = client.post(f"/sessions/{empty}/duplicate")
    copy_id = int(r.location.rsplit("/", 1)[1])
    copy = only_question(app, copy_id)
    assert (copy["image"], copy["alt"], copy["options"]) == (original["image"], original["alt"], original["options"])
    # Removing it from the copy keeps the file: the original still shows it.
    post_question(client, copy_id, copy["id"], remove_image="y", **choice_fields(
        [("Bus", None, "A red bus", original["options"][0][1], True)]))
    assert only_question(app, copy_id)["image"] is None
    assert sorted(uploads(app)) == sorted([original["image"], original["options"][0][1]])
    # Deleting the original session lets both go.
    client.post(f"/sessions/{empty}/delete")
    assert uploads(app) == []


def test_deleting_a_question_deletes_its_pictures(app, client, empty):
    post_question(client, empty, image_file=upload(picture()), image_alt="A red square")
    q = only_question(app, empty)
    assert client.post(f"/sessions/{empty}/questions/{q['id']}/delete").status_code == 302
    assert uploads(app) == []


def test_pictures_show_with_escaped_alt_text_everywhere(app, client, empty):
    r = post_question(client, empty, **choice_fields([("Bus", picture(), NASTY, None, False)]),
                      image_file=upload(picture()), image_alt=NASTY)
    assert r.status_code == 302, text(r)
    q = only_question(app, empty)
    with app.app_context():
        services.control(db.session.get(CafeSession, empty), "open", q["id"])
    code = db_code(app, empty)
    escaped = "&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;"
    pages = {
        "detail": text(client.get(f"/sessions/{empty}")),
        "form": text(client.get(f"/sessions/{empty}/questions/{q['id']}/edit")),
        "projector": text(client.get(f"/sessions/{empty}/projector")),
        "write-up": text(client.get(f"/sessions/{empty}/write-up.html")),
    }
    for name, page in pages.items():
        assert "<script>alert(1)" not in page, name
        assert f'alt="{escaped}"' in page, name
    assert f'src="/pictures/{q["image"]}"' in pages["detail"]
    assert re.search(rf'id="current-picture"[^>]*src="/pictures/{q["image"]}"', pages["projector"])
    # The HTML write-up stands alone: the pictures are inside it.
    assert pages["write-up"].count("data:image/png;base64,") == 2 and "/pictures/" not in pages["write-up"]
    # The phone's state is JSON inside a script element: no way out of it.
    phone = app.test_client()
    page = text(phone.get(f"/j/{code}"))
    assert "<script>alert(1)" not in page
    state = json.loads(re.search(r'<script type="application/json" id="state">(.*?)</script>', page, re.S).group(1))
    assert state["question"]["image_alt"] == NASTY and state["question"]["options"][0]["image_alt"] == NASTY


def test_every_write_up_document_carries_the_pictures_with_their_alt_text(app, client, empty):
    """PDF, Word and Markdown have the question's and the option's pictures, read back."""
    import docx
    from docx.enum.shape import WD_INLINE_SHAPE
    from pypdf import PdfReader

    r = post_question(client, empty, **choice_fields([("Bus", picture("WEBP", size=(30, 20)), NASTY, None, False)]),
                      image_file=upload(picture("PNG", size=(40, 30))), image_alt="A red square")
    assert r.status_code == 302, text(r)

    pdf = client.get(f"/sessions/{empty}/write-up.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    images = [img for page in PdfReader(io.BytesIO(pdf.data)).pages for img in page.images]
    assert len(images) == 2

    word = docx.Document(io.BytesIO(client.get(f"/sessions/{empty}/write-up.docx").data))
    pictures = [s for s in word.inline_shapes if s.type == WD_INLINE_SHAPE.PICTURE]
    assert [s._inline.docPr.get("descr") for s in pictures] == ["A red square", NASTY]
    kinds = {p.content_type for p in word.part.package.parts if p.partname.startswith("/word/media/")}
    assert kinds == {"image/png"}, "WebP, which Word cannot show, goes in as PNG"
    assert any(p.text == "Bus" for p in word.paragraphs)

    md = text(client.get(f"/sessions/{empty}/write-up.md"))
    assert "![A red square](data:image/png;base64," in md
    assert "(data:image/webp;base64," in md and "<script>" not in md


def test_a_picture_left_over_when_the_file_is_gone_does_not_break_pages(app, client, empty):
    post_question(client, empty, image_file=upload(picture()), image_alt="A red square")
    q = only_question(app, empty)
    os.remove(os.path.join(app.instance_path, "uploads", q["image"]))
    assert client.get(f"/pictures/{q['image']}").status_code == 404
    for fmt in ("html", "md", "docx", "pdf"):
        assert client.get(f"/sessions/{empty}/write-up.{fmt}").status_code == 200, fmt


def test_projector_state_and_phone_state_carry_question_pictures(app, facilitator, client):
    cafe = make_cafe(app, facilitator)
    with app.app_context():
        q = db.session.get(Question, cafe["questions"][0])
        q.image, q.image_alt = "0" * 32 + ".png", "Three circles"
        q.options[0].image, q.options[0].image_alt = "1" * 32 + ".gif", "A red circle"
        db.session.commit()
    state = client.get(f"/sessions/{cafe['id']}/state.json").json
    assert state["current"]["image"] == "/pictures/" + "0" * 32 + ".png"
    assert state["current"]["image_alt"] == "Three circles"
    assert state["current"]["options"][0] == {"id": state["current"]["options"][0]["id"], "text": "Red",
                                              "image": "/pictures/" + "1" * 32 + ".gif", "image_alt": "A red circle"}
    assert state["current"]["options"][1] == {"id": state["current"]["options"][1]["id"], "text": "Green"}
    with app.app_context():
        from consult import live

        # Outside any request (the background push to screens), the URL is the same path.
        data = live.question_data(db.session.get(Question, cafe["questions"][0]))
        assert data["image"] == "/pictures/" + "0" * 32 + ".png"
        assert data["options"][0]["image"] == "/pictures/" + "1" * 32 + ".gif"
        assert db.session.get(Option, data["options"][1]["id"]).image is None


def test_pictures_travel_in_the_json_export(app, client, empty):
    """A session file carries its pictures inline, and importing it saves them again."""
    from consult.services import import_session
    from consult.transfer import export

    r = post_question(client, empty, **choice_fields([("Bus", picture(), "A red bus", None, False),
                                                      ("Bike", None, "", None, False)], options="Bus\nBike",
                                                     image_file=upload(picture("GIF"), "q.gif"), image_alt="A road map"))
    assert r.status_code == 302, text(r)
    with app.app_context():
        session = db.session.get(CafeSession, empty)
        data = export(session)
        q = data["questions"][-1]
        assert q["picture"]["alt"] == "A road map" and q["picture"]["data"].startswith("data:image/gif;base64,")
        assert q["option_pictures"][0]["alt"] == "A red bus" and q["option_pictures"][1] is None
        copy = import_session(data, session.owner_id)
        question = copy.questions[-1]
        assert question.image != session.questions[-1].image and question.image.endswith(".gif")
        assert question.image_alt == "A road map" and question.options[0].image_alt == "A red bus"
        assert export(copy)["questions"][-1]["picture"] == q["picture"]
        before = len(uploads(app))
        broken = dict(data, questions=[dict(q, picture={"data": "data:image/png;base64,bm90IGEgcGljdHVyZQ==", "alt": "x"})])
        with pytest.raises(rules.Invalid, match="picture"):
            import_session(broken, session.owner_id)
        assert len(uploads(app)) == before
