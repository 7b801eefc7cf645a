"""The device cookie: a long-lived random id per browser, which nginx keeps each phone on one process by."""
import re

from consult.device import COOKIE, MAX_AGE


def device_cookies(response):
    return [h for h in response.headers.getlist("Set-Cookie") if h.startswith(COOKIE + "=")]


def test_a_page_sets_the_device_cookie_once(app):
    client = app.test_client()
    first = device_cookies(client.get("/"))
    assert len(first) == 1
    header = first[0]
    value = re.match(rf"{COOKIE}=([^;]+);", header).group(1)
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", value)
    attrs = [a.strip().lower() for a in header.split(";")[1:]]
    assert "httponly" in attrs and "samesite=lax" in attrs and "path=/" in attrs
    assert f"max-age={MAX_AGE}" in attrs and MAX_AGE >= 365 * 24 * 3600
    assert "secure" not in attrs  # plain http (a laptop at a venue): a Secure cookie would never come back
    # Present: not issued again, on any page.
    for path in ("/", "/auth/login", "/no-such-page"):
        assert device_cookies(client.get(path)) == [], path
    assert client.get_cookie(COOKIE, domain="consult.test").value == value


def test_each_browser_gets_its_own_id(app):
    ids = {app.test_client().get("/").headers["Set-Cookie"].split(";")[0] for _ in range(5)}
    assert len(ids) == 5


def test_only_pages_set_it(app):
    # A fresh browser's parallel requests for scripts and styles must not hand out rival ids.
    response = app.test_client().get("/static/style.css")
    assert response.status_code == 200 and device_cookies(response) == []


def test_a_mangled_id_is_replaced(app):
    client = app.test_client()
    client.set_cookie(COOKIE, "x; not one of ours")
    assert len(device_cookies(client.get("/"))) == 1


def test_secure_over_https(app):
    response = app.test_client().get("/", base_url="https://consult.test")
    assert "secure" in [a.strip().lower() for a in device_cookies(response)[0].split(";")]


def test_current_is_the_id_the_request_carries(app):
    from consult import device

    good = device.new_id()
    with app.test_request_context("/", headers={"Cookie": f"{COOKIE}={good}"}):
        assert device.current() == good
    for cookie in ("", f"{COOKIE}=short"):
        with app.test_request_context("/", headers={"Cookie": cookie}):
            assert device.current() is None  # nothing to key on yet
