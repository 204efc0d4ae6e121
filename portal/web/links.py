"""Links that leave Portal in a mail or on the command line.

``public_url("auth.login")`` is the absolute address of a page, built from the
PUBLIC_URL setting, never from the request: the Host header is the client's to
choose, and a mailed link with a single-use token must not point wherever an
attacker said. Works inside a request and outside one (the CLI's ``invite``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import current_app


def public_url(endpoint: str, **values: Any) -> str:
    """The absolute URL of endpoint under PUBLIC_URL."""
    base = urlsplit(str(current_app.config["PUBLIC_URL"]).rstrip("/"))
    adapter = current_app.url_map.bind(
        base.netloc, script_name=base.path or "/", url_scheme=base.scheme or "https"
    )
    return adapter.build(endpoint, values, force_external=True)
