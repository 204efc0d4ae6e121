"""flask-oso on Flask 3: the one compatibility shim, and the only place that imports it.

flask-oso 0.27.0 (its last release) reads ``flask._app_ctx_stack.top`` to find the
current application context. Flask 3.0 removed that stack. Everything else in
flask-oso works on Flask 3, so instead of running Flask 2.1 (and Werkzeug 2.0, both
with published CVEs) we give flask-oso the one attribute it reads, backed by Flask's
public ``has_app_context`` and ``app_ctx`` API. Import FlaskOso from here, never
from flask_oso directly, so that the shim is always applied first.
"""

from __future__ import annotations

from typing import Any

import flask
from flask.globals import app_ctx


class _AppContextStack:
    """Stands in for Flask 2's ``_app_ctx_stack``: only ``.top`` is used."""

    @property
    def top(self) -> Any:
        """The active application context, or None outside one (as Flask 2 did)."""
        if not flask.has_app_context():
            return None
        # app_ctx is a LocalProxy (typed as the AppContext it stands for).
        return app_ctx._get_current_object()  # type: ignore[attr-defined]


if not hasattr(flask, "_app_ctx_stack"):
    flask._app_ctx_stack = _AppContextStack()  # type: ignore[attr-defined]

from flask_oso import FlaskOso, skip_authorization  # noqa: E402

__all__ = ["FlaskOso", "skip_authorization"]
