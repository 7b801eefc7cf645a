"""The join link phones can reach, which is not always the address the laptop uses."""
import socket
from urllib.parse import urlsplit

from flask import current_app, request, url_for

LOOPBACK = ("localhost", "127.", "::1", "[::1]")


def lan_address():
    """This machine's first non-loopback IPv4 address, found without sending anything."""
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    except OSError:
        return None
    for info in infos:
        address = info[4][0]
        if not address.startswith("127."):
            return address
    return None


def base_url():
    configured = current_app.config["CONSULT_PUBLIC_URL"]
    if configured:
        return configured.rstrip("/")
    parts = urlsplit(request.host_url)
    host = parts.hostname or ""
    if host.startswith(LOOPBACK):
        # The facilitator opened the page as localhost; a phone needs the laptop's network address.
        address = lan_address()
        if address:
            return f"{parts.scheme}://{address}:{parts.port or 80}"
    return request.host_url.rstrip("/")


def join_url(session):
    return base_url() + url_for("participant.join", code=session.join_code)
