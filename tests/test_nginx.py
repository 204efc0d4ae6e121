"""deploy/nginx.conf for real: Debian's nginx in front of gunicorn (gunicorn.conf.py),
over TLS with a throwaway certificate, on a seeded SQLite file.

The shipped template is used as it is, with its four values filled in and only
its listening addresses changed (free ports on 127.0.0.1 instead of 80 and 443).
nginx runs as a child process (daemon off) with its pid file, logs and temporary
files in the test's directory; every process is stopped when the test ends.
`make test` installs nginx (Debian's package) when it is missing; where it cannot
be installed, these tests are skipped and say why.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from portal.domain import demo
from tests.conftest import CSRF_RE
from tests.test_health import closed_port
from tests.test_serve import Server, start_server, stop_server

# why: servers and timing (see tests/test_serve.py).
pytestmark = pytest.mark.serial

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "deploy" / "nginx.conf"
START_TIMEOUT = 15.0
# The measured client's address: not 127.0.0.1, which is where nginx connects to
# gunicorn from, so that the app's log shows whose address it took.
CLIENT = "127.0.0.2"
# Requests that never finish: headers that stop midway, and a form body that
# stops after its first bytes (Content-Length under the app's 64 KiB limit).
SLOW_HEADERS = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: "
SLOW_BODY = (
    b"POST /login HTTP/1.1\r\nHost: localhost\r\n"
    b"Content-Type: application/x-www-form-urlencoded\r\n"
    b"Content-Length: 60000\r\n\r\nemail="
)
# deploy/nginx.conf's per-client limit (limit_conn portal_per_client).
PER_CLIENT = 20

Connect = Callable[[str], socket.socket]


def tool(name: str) -> str:
    """The path of a program these tests need, or a loud skip saying how to get
    it (/usr/sbin is not on every user's PATH)."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if found is None:
        pytest.skip(
            f"{name} is not installed, so deploy/nginx.conf is not tested: "
            f"install Debian's {name} package (make test does, as root)"
        )
    return found


@dataclass
class Nginx:
    """A running nginx in front of a gunicorn, and how to reach it."""

    process: subprocess.Popen[bytes]
    directory: Path
    https_port: int
    http_port: int
    context: ssl.SSLContext
    gunicorn: Server

    def connect(self, address: str) -> socket.socket:
        """A TLS connection to nginx from address (any 127.x.y.z)."""
        raw = socket.create_connection(
            ("127.0.0.1", self.https_port), timeout=5, source_address=(address, 0)
        )
        return self.context.wrap_socket(raw, server_hostname="localhost")

    def error_log(self) -> str:
        """What nginx logged (start-up errors, timeouts, refusals)."""
        return (self.directory / "error.log").read_text(errors="replace")


def certificate(openssl: str, directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1, and its key."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(  # fixed arguments, our own paths
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return cert, key


def render(
    upstream: str, https_port: int, http_port: int, cert: Path, key: Path
) -> str:
    """deploy/nginx.conf with its values filled in and its ports moved."""
    text = TEMPLATE.read_text()
    listen = {
        "listen 443 ssl;": f"listen 127.0.0.1:{https_port} ssl;",
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "listen [::]:443 ssl;": "",
        "listen [::]:80;": "",
    }
    for old, new in listen.items():
        assert text.count(old) == 1, f"deploy/nginx.conf no longer has {old!r}"
        text = text.replace(old, new)
    values = {
        "@SERVER_NAME@": "localhost",
        "@GUNICORN@": upstream,
        "@CERTIFICATE@": str(cert),
        "@CERTIFICATE_KEY@": str(key),
    }
    for old, new in values.items():
        text = text.replace(old, new)
    assert not re.search(r"@[A-Z_]+@", text), "a value of the template is not set"
    return text


def main_config(directory: Path) -> str:
    """nginx's own top level: everything it writes in directory, the site
    included from there."""
    # Workers of a root master run as nobody, who may not write in tmp_path.
    user = "user root;" if os.geteuid() == 0 else ""
    return f"""
daemon off;
{user}
worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log info;
events {{ worker_connections 1024; }}
http {{
    access_log {directory}/access.log;
    client_body_temp_path {directory}/client_body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
    include {directory}/portal.conf;
}}
"""


def start_nginx(gunicorn: Server, directory: Path) -> Nginx:
    """nginx with deploy/nginx.conf in front of gunicorn, answering /healthz."""
    nginx, openssl = tool("nginx"), tool("openssl")
    directory.mkdir()
    cert, key = certificate(openssl, directory)
    https_port, http_port = closed_port(), closed_port()
    upstream = urllib.parse.urlsplit(gunicorn.url).netloc
    site = render(upstream, https_port, http_port, cert, key)
    (directory / "portal.conf").write_text(site)
    (directory / "nginx.conf").write_text(main_config(directory))
    context = ssl.create_default_context(cafile=str(cert))
    with (directory / "nginx.out").open("wb") as out:
        process = subprocess.Popen(  # our own binary and config
            [
                nginx,
                *("-p", str(directory)),
                *("-e", str(directory / "error.log")),
                *("-c", str(directory / "nginx.conf")),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: master and worker stop together
        )
    running = Nginx(process, directory, https_port, http_port, context, gunicorn)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        assert process.poll() is None, (directory / "nginx.out").read_text()
        with contextlib.suppress(OSError, http.client.HTTPException):
            if Client(running).request("GET", "/healthz")[0] == 200:
                return running
        time.sleep(0.1)
    stop_nginx(running)
    pytest.fail(f"nginx did not answer within {START_TIMEOUT}s:\n{running.error_log()}")


def stop_nginx(nginx: Nginx) -> None:
    """SIGTERM (fast shutdown), then SIGKILL the group if it lingers."""
    if nginx.process.poll() is None:
        os.killpg(nginx.process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            nginx.process.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(nginx.process.pid, signal.SIGKILL)
    nginx.process.wait(timeout=5)


@pytest.fixture
def proxied(sqlite_db_url: str, tmp_path: Path) -> Iterator[Nginx]:
    """gunicorn as `make serve` runs it (HTTPS on, one proxy trusted), one worker,
    behind nginx with deploy/nginx.conf."""
    tool("nginx")  # skip before starting anything
    environment = {
        "PORTAL_HTTPS": "1",
        "PORTAL_PROXY_COUNT": "1",
        # localhost through nginx; 127.0.0.1 for start_server's own health check.
        "PORTAL_TRUSTED_HOSTS": "localhost,127.0.0.1",
    }
    gunicorn = start_server(
        sqlite_db_url, tmp_path / "gunicorn.log", environment=environment
    )
    try:
        nginx = start_nginx(gunicorn, tmp_path / "nginx")
        yield nginx
        stop_nginx(nginx)
    finally:
        stop_server(gunicorn)


@dataclass
class Client:
    """An HTTPS client of nginx from one address, keeping its cookies."""

    nginx: Nginx
    address: str = CLIENT
    cookies: dict[str, str] = field(default_factory=dict)

    def request(
        self,
        method: str,
        path: str,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str, str]:
        """(status, Location, body) of one request on a connection of its own."""
        port = self.nginx.https_port
        sent = {"Host": f"localhost:{port}"}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
            # Flask-WTF checks the Referer of HTTPS posts against the host it
            # sees: this passes only if X-Forwarded-Host and -Port are right.
            sent["Referer"] = f"https://localhost:{port}{path}"
        sent.update(headers or {})
        connection = http.client.HTTPSConnection(
            "127.0.0.1",
            port,
            timeout=10,
            source_address=(self.address, 0),
            context=self.nginx.context,
        )
        try:
            connection.request(method, path, body, sent)
            response = connection.getresponse()
            for cookie in response.headers.get_all("Set-Cookie") or []:
                name, _, rest = cookie.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
            answer = response.read().decode()
            return response.status, response.getheader("Location", ""), answer
        finally:
            connection.close()

    def login(self, password: str, headers: dict[str, str] | None = None) -> int:
        """The status of John's login through the form (302: logged in)."""
        status, _, page = self.request("GET", "/login")
        match = CSRF_RE.search(page)
        assert status == 200 and match, page
        form = {"email": demo.JOHN, "password": password, "csrf_token": match[1]}
        return self.request("POST", "/login", form, headers)[0]


class SlowClients:
    """One connection per request, each from an address of its own (127.0.1.n),
    that sends its request's start and then one more byte every interval (from a
    thread), never finishing, while the with block runs."""

    def __init__(
        self, connect: Connect, requests: list[bytes], interval: float = 0.5
    ) -> None:
        """Connections to make with connect, one per request start."""
        self.connect = connect
        self.requests = requests
        self.interval = interval
        self.sockets: list[socket.socket] = []
        # One thread at a time on a TLS connection: OpenSSL's are not shared.
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._trickle)

    def __enter__(self) -> SlowClients:
        """Connect them all, send each its start, and start trickling."""
        try:
            for number, start in enumerate(self.requests, 1):
                client = self.connect(f"127.0.1.{number}")
                self.sockets.append(client)
                client.sendall(start)
            self.thread.start()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exception: object) -> None:
        """Stop trickling and close every connection."""
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join(timeout=10)
        for client in self.sockets:
            client.close()

    def _trickle(self) -> None:
        """Send one byte on each connection every interval until stopped."""
        while not self.stop.wait(self.interval):
            with self.lock:
                for client in self.sockets:
                    with contextlib.suppress(OSError):  # closed by the server
                        client.send(b"x")

    def waiting(self) -> list[bool]:
        """For each connection, whether the server still waits for its request."""
        with self.lock:
            return [waiting(client) for client in self.sockets]


def waiting(client: socket.socket) -> bool:
    """Whether the server still waits for client's request: no answer, no close."""
    timeout = client.gettimeout()
    client.settimeout(0)
    try:
        client.recv(1)
    except (BlockingIOError, ssl.SSLWantReadError):
        return True
    except OSError:
        return False
    finally:
        client.settimeout(timeout)
    return False  # an answer (408, 429, 400) or the end of the connection


def timed(call: Callable[[], object]) -> tuple[object, float]:
    """call's result and how many seconds it took."""
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def test_nginx_slow_clients_delay_neither_health_nor_login(proxied: Nginx) -> None:
    # Straight to gunicorn, 8 of these stall it (the next test); nginx holds
    # them all and passes gunicorn only whole requests.
    requests = [SLOW_HEADERS] * 50 + [SLOW_BODY] * 50
    with SlowClients(proxied.connect, requests) as slow:
        time.sleep(1.5)  # every one of them has sent a few more bytes
        client = Client(proxied)
        health, health_took = timed(lambda: client.request("GET", "/healthz")[0])
        login, login_took = timed(lambda: client.login(demo.PASSWORD))
        held = sum(slow.waiting())
    assert (health, login) == (200, 302)
    assert health_took < 1.0, f"/healthz took {health_took:.2f}s"
    # A login is two requests (the form, then the post) and one password hash.
    assert login_took < 1.0, f"the login took {login_took:.2f}s"
    assert held == len(requests), "nginx dropped slow clients: nothing was proven"


def test_nginx_absent_gunicorn_stalls_behind_eight_slow_clients(
    sqlite_db_url: str, tmp_path: Path
) -> None:
    # Documents why deploy/nginx.conf exists: gthread workers read headers with
    # no timeout, so workers x threads (here 1 x 4) slow clients stall the server.
    gunicorn = start_server(sqlite_db_url, tmp_path / "gunicorn.log")
    port = int(gunicorn.url.rsplit(":", 1)[1])

    def connect(address: str) -> socket.socket:
        """A plain connection to gunicorn from address."""
        return socket.create_connection(
            ("127.0.0.1", port), timeout=5, source_address=(address, 0)
        )

    try:
        with SlowClients(connect, [SLOW_HEADERS] * 8):
            time.sleep(0.5)
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            with pytest.raises(TimeoutError):
                connection.request("GET", "/healthz")
                connection.getresponse()
            connection.close()
    finally:
        stop_server(gunicorn)


def test_nginx_passes_the_real_client_address_to_the_app(proxied: Nginx) -> None:
    # The client's own X-Forwarded-For is dropped, not believed.
    forged = {"X-Forwarded-For": "203.0.113.9"}
    assert Client(proxied).login("not the password", forged) == 422
    line = "login refused: user=1 from=127.0.0.2 reason=wrong password"
    deadline = time.monotonic() + 5
    while line not in proxied.gunicorn.output() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert line in proxied.gunicorn.output()
    # gunicorn's access log prints the address ProxyFix set, too.
    assert 'gunicorn.access: 127.0.0.2 "POST /login' in proxied.gunicorn.output()
    assert "203.0.113.9" not in proxied.gunicorn.output()


def test_nginx_tells_the_app_it_is_served_over_https(proxied: Nginx) -> None:
    # On HTTPS (X-Forwarded-Proto), Flask-WTF refuses a post whose Referer is
    # another site's; over plain HTTP it would not look.
    elsewhere = {"Referer": "https://elsewhere.example/login"}
    assert Client(proxied).login(demo.PASSWORD, elsewhere) == 400


def test_nginx_drops_a_forged_prefix(proxied: Nginx) -> None:
    # ProxyFix believes X-Forwarded-Prefix from the one proxy: nginx must not
    # pass the client's, or it would end up in every link and redirect.
    headers = {"X-Forwarded-Prefix": "/elsewhere"}
    status, location, _ = Client(proxied).request("GET", "/orgs", headers=headers)
    assert status == 302
    assert "/elsewhere" not in location
    assert urllib.parse.urlsplit(location).path == "/login"


def test_nginx_redirects_plain_http_to_https(proxied: Nginx) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", proxied.http_port, timeout=5)
    try:
        connection.request("GET", "/healthz", headers={"Host": "localhost"})
        response = connection.getresponse()
        assert response.status == 301
        assert response.getheader("Location") == "https://localhost/healthz"
    finally:
        connection.close()


def test_nginx_limits_connections_per_client(proxied: Nginx) -> None:
    # A client with PER_CLIENT requests in progress gets 429 for one more;
    # everybody else is still served.
    def connect(address: str) -> socket.socket:
        """Every slow connection from one address."""
        return proxied.connect("127.0.0.3")

    with SlowClients(connect, [SLOW_BODY] * PER_CLIENT):
        time.sleep(0.5)  # nginx has read their headers: they count
        greedy = Client(proxied, address="127.0.0.3")
        assert greedy.request("GET", "/healthz")[0] == 429
        assert Client(proxied).request("GET", "/healthz")[0] == 200


def test_nginx_drops_slow_headers_and_silent_bodies_after_ten_seconds(
    proxied: Nginx,
) -> None:
    # client_header_timeout bounds the whole header, however steadily it
    # trickles; client_body_timeout bounds each silence within a body.
    started = time.monotonic()
    requests = [SLOW_HEADERS, SLOW_BODY]
    dropped: dict[str, float] = {}
    with SlowClients(proxied.connect, requests, interval=0.5) as slow:
        # The body client goes silent after its start: stop trickling to it.
        silent = slow.sockets.pop()
        while len(dropped) < 2 and time.monotonic() - started < 15:
            now = time.monotonic() - started
            with slow.lock:
                states = {"headers": waiting(slow.sockets[0]), "body": waiting(silent)}
            for name, still in states.items():
                if not still:
                    dropped.setdefault(name, now)
            time.sleep(0.2)
        silent.close()
    assert set(dropped) == {"headers", "body"}, f"still open after 15 s: {dropped}"
    for name, after in dropped.items():
        assert 9 < after < 12, f"the slow {name} was dropped after {after:.1f}s"


def test_nginx_refuses_a_body_over_the_apps_limit_itself(proxied: Nginx) -> None:
    # client_max_body_size is the app's MAX_CONTENT_LENGTH (64 KiB): nginx
    # answers 413 from the declared length, before any byte of the body.
    client = proxied.connect(CLIENT)
    try:
        client.sendall(
            b"POST /login HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Length: %d\r\n\r\n" % (64 * 1024 + 1)
        )
        assert client.recv(12) == b"HTTP/1.1 413"
    finally:
        client.close()
    assert '"POST /login' not in proxied.gunicorn.output()
