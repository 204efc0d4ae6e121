"""gunicorn settings for `make serve` (production). Read by gunicorn at start.

HOST, PORT, WEB_CONCURRENCY and PORTAL_THREADS come from the environment; any
setting can be overridden with GUNICORN_CMD_ARGS. The README's Production section
explains the choices.
"""

from __future__ import annotations

import os
from typing import Any

from portal import create_app
from portal.health import require_database
from portal.infra.logs import DATE_FORMAT, FORMAT

wsgi_app = "portal:create_app()"

# Behind nginx (deploy/nginx.conf), on an address only nginx reaches: gthread
# workers have no timeout for reading a request, so workers x threads clients
# that send slowly would stall the server; nginx hands over only whole requests.
bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"


def _cpus() -> int:
    """CPUs this process may use (a container may get fewer than the machine)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


# One process per CPU the server may use (the GIL lets a process use one), each
# with a few threads for requests that wait on the database. $WEB_CONCURRENCY
# is the common convention (Heroku, Render) for overriding the process count.
workers = int(os.environ.get("WEB_CONCURRENCY") or _cpus())
worker_class = "gthread"
threads = int(os.environ.get("PORTAL_THREADS", "4"))

# A worker whose main loop is silent this long is killed and replaced.
timeout = 30
# On SIGTERM, workers finish the requests they have for up to this long.
graceful_timeout = 30
# Longer than nothing, shorter than a load balancer's idle timeout (often 60 s),
# so that the balancer never sends on a connection we are closing. (nginx with
# deploy/nginx.conf opens a connection per request and does not reuse it.)
keepalive = 5

# No runtime control socket ($HOME/.gunicorn/gunicorn.ctl by default): we do not
# use it, and two servers on one host would contend for that one path.
control_socket_disable = True

# X-Forwarded-* is trusted in one place only, the app (PORTAL_PROXY_COUNT, via
# Werkzeug's ProxyFix): gunicorn's own handling would otherwise believe
# X-Forwarded-Proto from any local process.
forwarded_allow_ips = ""
secure_scheme_headers: dict[str, str] = {}

# Everything on stdout, one format: gunicorn's start/stop/worker lines, the
# access log and the app's own lines (logger "portal": role changes, refused and
# throttled logins, database outages, 500s with their traceback). A logging
# config also switches the access log on.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'
logconfig_dict: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "root": {"level": "INFO", "handlers": ["stdout"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": [], "propagate": True},
        "gunicorn.access": {"level": "INFO", "handlers": [], "propagate": True},
        # The start-up check reads the schema's revision; Alembic would say
        # "Context impl ..." at INFO on every start.
        "alembic": {"level": "WARNING", "handlers": [], "propagate": True},
    },
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "formatter": "portal",
            "stream": "ext://sys.stdout",
            # Invitation and reset links' tokens never reach the log.
            "filters": ["redact"],
        }
    },
    "filters": {"redact": {"()": "portal.infra.logs.RedactLinkTokens"}},
    "formatters": {"portal": {"format": FORMAT, "datefmt": DATE_FORMAT}},
}


def on_starting(server: Any) -> None:
    """Refuse to start unless the app can be built (SECRET_KEY set, valid
    settings), its database answers and its schema is at the migrations' head;
    gunicorn prints the RuntimeError's one-line message and exits with status 1."""
    require_database(create_app())


def post_fork(server: Any, worker: Any) -> None:
    """With --preload, every worker inherits the app the master built, engine and
    pooled connections included: drop those (without closing the master's
    sockets) so that each worker opens connections of its own."""
    if server.cfg.preload_app:
        server.app.wsgi().extensions["portal.engine"].dispose(close=False)
