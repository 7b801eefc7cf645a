"""Real-browser tests: Chromium (through Playwright) against a real `consult serve` process.

A phone-sized context plays the participant and a desktop context the facilitator;
everything live goes over the real Socket.IO connection, and no page is reloaded
unless a test says so.
"""
import os
import re
import shutil
from dataclasses import dataclass

import pytest

playwright_api = pytest.importorskip("playwright.sync_api")
from playwright.sync_api import expect, sync_playwright  # noqa: E402

from consult.cli import DEMO_EMAIL, DEMO_PASSWORD, DEMO_QUESTIONS  # noqa: E402

from .live_server import LiveServer  # noqa: E402

pytestmark = pytest.mark.slow

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
WAIT = 5_000  # ms: auto-waiting assertions give live updates this long

# The demo café's questions, in order: five open-notes questions, then yes/no, then a 1-5 scale.
NOTES_Q, NOTES_Q2, NOTES_Q3 = 0, 1, 2
YESNO_Q, SCALE_Q = 5, 6
YESNO_TEXT = "Should the strategy make employment its first priority?"
SCALE_TEXT = "How confident are you that this strategy will make a difference?"

expect.set_options(timeout=WAIT)


def chromium_path():
    for path in (os.environ.get("CONSULT_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if path and os.path.exists(path):
            return path
    return None  # Playwright's own browser, where it is installed


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def new_context(browser):
    """Make browser contexts (each its own cookie jar: a phone, a facilitator); all closed afterwards."""
    made, blocked = [], []

    def make(**options):
        context = browser.new_context(**options)
        context.set_default_timeout(10_000)
        # Whatever the Content-Security-Policy blocks is a page that does not work as written.
        context.on("console", lambda m: "Content Security Policy" in m.text and blocked.append(m.text))
        made.append(context)
        return context

    yield make
    for context in made:
        context.close()
    assert not blocked, blocked


@dataclass
class Live:
    server: LiveServer
    code: str

    @property
    def url(self):
        return self.server.url


@pytest.fixture
def live(tmp_path):
    """A fresh server with the demo café (its first question open), stopped afterwards."""
    server = LiveServer(tmp_path / "instance")
    server.start()
    try:
        yield Live(server, server.demo())
    finally:
        server.stop()


class Remote:
    """The facilitator's controls over plain HTTP, to set the scene for a test quickly."""

    def __init__(self, live):
        self.url = live.url
        self.http = live.server.login()
        index = self.http.get(self.url + "/sessions/").text
        self.session_id = int(re.search(r"/sessions/(\d+)/control", index).group(1))
        self.control_url = f"{self.url}/sessions/{self.session_id}/control"
        self.projector_url = f"{self.url}/sessions/{self.session_id}/projector"
        state = self.http.get(f"{self.url}/sessions/{self.session_id}/state.json", params={"view": "control"})
        self.questions = [q["id"] for q in state.json()["questions"]]

    def control(self, action, index):
        page = self.http.get(self.control_url).text
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        r = self.http.post(
            self.control_url,
            data={"action": action, "question_id": self.questions[index], "csrf_token": token},
        )
        assert r.status_code == 200, r.text
        problem = re.search(r'<p class="flash error" role="alert">([^<]*)', r.text)
        assert problem is None, problem.group(1)


def sign_in(context, live):
    """The facilitator signs in through the real login form; returns the page, on 'My sessions'."""
    page = context.new_page()
    page.goto(live.url + "/auth/login")
    page.get_by_label("Email", exact=True).fill(DEMO_EMAIL)
    page.get_by_label("Password", exact=True).fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/sessions/$"))
    return page


def open_phone(context, live):
    """A phone that joined straight from the QR code link, its live connection up."""
    page = context.new_page()
    page.goto(f"{live.url}/j/{live.code}")
    expect(page.locator("#conn")).to_have_text("Connected")
    return page


def mark(*pages):
    """Tag each page's window, so we can tell later that it was never reloaded."""
    for page in pages:
        page.evaluate("window.__notReloaded = true")


def assert_not_reloaded(*pages):
    for page in pages:
        assert page.evaluate("window.__notReloaded === true"), f"{page.url} was reloaded"


def test_phone_votes_and_projector_shows_it_live(live, new_context):
    # The phone types the code in lower case: the start page normalises it.
    phone = new_context(**PHONE).new_page()
    phone.goto(live.url + "/")
    phone.get_by_label("Join code").fill(live.code.lower())
    phone.get_by_role("button", name="Join").click()
    expect(phone).to_have_url(re.compile(rf"/j/{live.code}$"))
    expect(phone.locator("#qtext")).to_have_text(DEMO_QUESTIONS[0])
    expect(phone.locator("#conn")).to_have_text("Connected")

    facilitator = new_context(**DESKTOP)
    control = sign_in(facilitator, live)
    control.get_by_role("link", name="Run live").click()
    expect(control).to_have_url(re.compile(r"/sessions/\d+/control$"))
    expect(control.locator("#screen")).to_have_attribute("data-live", "connected")
    with facilitator.expect_page() as opened:
        control.get_by_role("link", name="Open projector").click()
    projector = opened.value
    expect(projector.locator("#current-text")).to_have_text(DEMO_QUESTIONS[0])
    expect(projector.locator("#screen")).to_have_attribute("data-live", "connected")
    expect(projector.locator("#joined")).to_have_text("1")
    mark(phone, control, projector)

    # The facilitator opens the yes/no question; the control page sends it over the socket.
    card = control.locator("li.card", has_text=YESNO_TEXT)
    card.get_by_role("button", name="Open", exact=True).click()
    expect(card).to_have_class(re.compile(r"\bcurrent\b"))
    expect(card.locator(".status")).to_have_text(re.compile(r"^On screen · Open"))
    expect(card.get_by_role("button", name="Open", exact=True)).to_be_hidden()
    expect(card.get_by_role("button", name="Close", exact=True)).to_be_visible()

    # The phone shows it at once, and answers by tapping the label.
    expect(phone.locator("#qtext")).to_have_text(YESNO_TEXT)
    phone.locator("label.choice", has_text="Yes").click()
    expect(phone.get_by_label("Yes", exact=True)).to_be_checked()
    phone.get_by_role("button", name="Send my answer").click()
    expect(phone.locator("#feedback")).to_contain_text("Your answer counted")
    # With the receipt the facilitator can look up, for the person to note down.
    expect(phone.locator(".counted")).to_have_text(re.compile(r"^✓ Your answer is counted: Yes\. Receipt [A-Z2-9]{4}-[A-Z2-9]{4}\.$"))
    expect(phone.get_by_role("button", name="Change my answer")).to_be_visible()

    # The projector shows the vote without a reload.
    expect(projector.locator("#current-text")).to_have_text(YESNO_TEXT)
    expect(projector.locator(".results .total")).to_have_text("1 answer")
    yes = projector.locator(".bar", has=projector.locator(".bar-label", has_text=re.compile(r"^Yes$")))
    expect(yes.locator(".bar-figure")).to_have_text("1 · 100%")
    expect(yes.locator(".bar-fill")).to_have_attribute("style", re.compile(r"width:\s*100%"))
    no = projector.locator(".bar", has=projector.locator(".bar-label", has_text=re.compile(r"^No$")))
    expect(no.locator(".bar-figure")).to_have_text("0 · 0%")
    expect(control.locator("#answering")).to_have_text("1")
    assert_not_reloaded(phone, control, projector)


def test_note_reaches_the_notes_wall_escaped(live, new_context):
    remote = Remote(live)
    remote.control("open", NOTES_Q2)
    projector = sign_in(new_context(**DESKTOP), live)
    projector.goto(remote.projector_url)
    expect(projector.locator("#current-text")).to_have_text(DEMO_QUESTIONS[NOTES_Q2])
    expect(projector.locator(".results .total")).to_have_text("0 notes")
    phone = open_phone(new_context(**PHONE), live)
    expect(phone.locator("#qtext")).to_have_text(DEMO_QUESTIONS[NOTES_Q2])
    mark(phone, projector)

    text = "<b>bold</b> & “quotes” £ 🙂"
    phone.get_by_label("Your note", exact=True).fill(text)
    phone.get_by_role("button", name="Post note").click()
    expect(phone.locator("#feedback")).to_contain_text("Your note was posted")
    expect(phone.get_by_label("Your note", exact=True)).to_have_value("")
    expect(phone.locator("#mine-list li")).to_have_text([text])

    sticky = projector.locator(".wall .sticky")
    expect(sticky).to_have_text([text])
    expect(projector.locator(".results .total")).to_have_text("1 note")
    # The markup arrived as text: no element was made from it, anywhere.
    expect(projector.locator(".wall b")).to_have_count(0)
    expect(phone.locator("#mine-list b")).to_have_count(0)
    assert "&lt;b&gt;bold&lt;/b&gt; &amp;" in sticky.inner_html()
    assert_not_reloaded(phone, projector)


def test_phone_error_paths(live, new_context):
    remote = Remote(live)
    remote.control("open", SCALE_Q)
    phone = open_phone(new_context(**PHONE), live)
    expect(phone.locator("#qtext")).to_have_text(SCALE_TEXT)
    mark(phone)

    # Sending with nothing chosen.
    phone.get_by_role("button", name="Send my answer").click()
    feedback = phone.locator("#feedback")
    expect(feedback).to_have_text(re.compile("Choose an answer"))
    expect(feedback).to_have_attribute("role", "alert")
    expect(phone.locator(".counted")).to_have_count(0)

    # A note over the limit: a clear message, and the typed text is still there to shorten.
    remote.control("open", NOTES_Q3)
    expect(phone.locator("#qtext")).to_have_text(DEMO_QUESTIONS[NOTES_Q3])
    expect(feedback).to_have_text("")
    long_note = ("Local jobs for local people, with training that starts at school. " * 5)[:300]
    box = phone.get_by_label("Your note", exact=True)
    box.fill(long_note)
    expect(phone.locator("#count")).to_have_text("Too long by 20 characters.")
    phone.get_by_role("button", name="Post note").click()
    expect(feedback).to_have_text(re.compile(r"too long by 20 characters.*Shorten it", re.I))
    expect(box).to_have_value(long_note)
    expect(box).to_be_focused()
    expect(phone.locator("#mine")).to_be_hidden()

    # The facilitator closes the question: the phone says so at once, and keeps saying so after a reload.
    remote.control("close", NOTES_Q3)
    expect(phone.locator(".closed")).to_have_text("This question is closed.")
    expect(feedback).to_have_text("")  # the hint about the length no longer applies
    expect(phone.locator("#note")).to_have_count(0)
    expect(phone.get_by_role("button", name="Post note")).to_have_count(0)
    assert_not_reloaded(phone)
    phone.reload()
    expect(phone.locator("#qtext")).to_have_text(DEMO_QUESTIONS[NOTES_Q3])
    expect(phone.locator(".closed")).to_have_text("This question is closed.")

    # A closed vote question: the answers are there to read but cannot be picked or sent.
    remote.control("open", YESNO_Q)
    expect(phone.locator("#qtext")).to_have_text(YESNO_TEXT)
    remote.control("close", YESNO_Q)
    expect(phone.locator(".closed")).to_have_text("This question is closed.")
    expect(phone.get_by_label("Yes", exact=True)).to_be_disabled()
    expect(phone.get_by_role("button", name="Send my answer")).to_have_count(0)


LAYOUT_PROBLEMS = """() => {
  const problems = [];
  const width = document.documentElement.scrollWidth;
  if (width > window.innerWidth) problems.push(`scrolls sideways: ${width}px wide in ${window.innerWidth}px`);
  for (const input of document.querySelectorAll("input, textarea, select")) {
    if (input.type === "hidden") continue;
    const named = (input.labels && input.labels.length) || input.getAttribute("aria-labelledby");
    if (!named) problems.push(`no label for ${input.outerHTML}`);
  }
  for (const target of document.querySelectorAll("label, button")) {
    const box = target.getBoundingClientRect();
    if (!box.width && !box.height) continue;  // not shown
    if (box.height < 44) problems.push(`${Math.round(box.height)}px tall: ${target.outerHTML}`);
    if (box.right > window.innerWidth + 0.5) problems.push(`sticks out on the right: ${target.outerHTML}`);
  }
  return {width, problems};
}"""


def assert_fits(page, width=320):
    # A page that has just been posted may be in the DOM before its stylesheet applies.
    page.wait_for_load_state("load")
    found = page.evaluate(LAYOUT_PROBLEMS)
    assert found["width"] <= width
    assert found["problems"] == [], f"{page.url}:\n" + "\n".join(found["problems"])


def test_small_phone_layout(live, new_context):
    remote = Remote(live)
    phone = new_context(**{**PHONE, "viewport": {"width": 320, "height": 640}}).new_page()
    phone.goto(live.url + "/")
    expect(phone.get_by_label("Join code")).to_be_visible()
    assert phone.evaluate("window.innerWidth") == 320
    assert_fits(phone)

    # The start page with an error message shown.
    phone.get_by_role("button", name="Join").click()
    expect(phone.locator(".field .error")).to_have_text("Type the code from the big screen.")
    assert_fits(phone)

    phone.get_by_label("Join code").fill(live.code)
    phone.get_by_role("button", name="Join").click()
    expect(phone.locator("#conn")).to_have_text("Connected")
    expect(phone.locator("#qtext")).to_have_text(DEMO_QUESTIONS[0])
    assert_fits(phone)
    phone.get_by_label("Your note", exact=True).fill("A note that is long enough to wrap over several lines on a small phone.")
    phone.get_by_role("button", name="Post note").click()
    expect(phone.locator("#mine-list li")).to_have_count(1)
    assert_fits(phone)

    for index, text in ((YESNO_Q, YESNO_TEXT), (SCALE_Q, SCALE_TEXT)):
        remote.control("open", index)
        expect(phone.locator("#qtext")).to_have_text(text)
        assert_fits(phone)
        phone.get_by_role("button", name="Send my answer").click()
        expect(phone.locator("#feedback")).to_have_text(re.compile("Choose an answer"))
        assert_fits(phone)
