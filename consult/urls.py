"""The join link phones can reach, which is not always the address the laptop uses."""
import socket
from urllib.parse import urlsplit

from flask import current_app, request, url_for

LOOPBACK = ("localhost", "127.", "::1", "[::1]")


def lan_address():
    """This machine's address on the local network, or None; nothing is sent to find it."""
    try:
        # A UDP "connect" only asks the routing table which interface would be used; no packet
        # leaves the machine. 192.0.2.1 is a documentation address that is never routed anywhere.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))
            address = probe.getsockname()[0]
        if not address.startswith(("127.", "0.")):
            return address
    except OSError:
        pass
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    except OSError:
        return None
    return next((i[4][0] for i in infos if not i[4][0].startswith("127.")), None)


def base_url():
    configured = current_app.config["CONSULT_PUBLIC_URL"]
    if configured:
        return configured.rstrip("/")
    parts = urlsplit(request.host_url)
    host = parts.hostname or ""
    listening_everywhere = current_app.config["CONSULT_HOST"] in ("0.0.0.0", "::", "")
    if host.startswith(LOOPBACK) and listening_everywhere:
        # The facilitator opened the page as localhost; a phone needs the laptop's network address.
        address = lan_address()
        if address:
            return f"{parts.scheme}://{address}:{parts.port or 80}"
    return request.host_url.rstrip("/")


def join_url(session):
    return base_url() + url_for("participant.join", code=session.join_code)


def table_join_url(table):
    """The join link that seats a phone at this table straight away (on its printed card)."""
    return f"{join_url(table.session)}?t={table.id}"


def host_url(table):
    """The table host's secret link, with the address phones reach (as the join link has)."""
    return base_url() + url_for("host.entry", token=table.host_token)


def qr_svg(url):
    """The QR code of url as SVG bytes: drawn here, so it works with no internet."""
    import io

    import qrcode
    import qrcode.image.svg

    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=20, border=2)
    out = io.BytesIO()
    image.save(out)
    return out.getvalue()
