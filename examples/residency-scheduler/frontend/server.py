"""The frontend stand-in: a small server in place of the seed's Next.js app (see README.md).

It renders the residents page on the server, as a Next.js page with server-side data would:
GET / asks the backend (NEXT_PUBLIC_API_URL, baked in at build time, or the variable at run
time) for /residents and fills src/page.html with them. The page's form posts to /api/residents
through nginx. src/ and public/ are read on every request, so `stackr watch` syncing them is
enough to see a change: no reload needed.
"""

import html
import json
import os
import signal
import sys
import urllib.error
import urllib.request
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def api_url() -> str:
    try:
        baked = json.loads((ROOT / "build.json").read_text())["api_url"]
    except (OSError, ValueError, KeyError):
        baked = "http://backend:8000"
    return os.environ.get("NEXT_PUBLIC_API_URL", baked).rstrip("/")


def residents() -> tuple[list, str | None]:
    try:
        with urllib.request.urlopen(f"{api_url()}/residents", timeout=5) as r:
            return json.load(r), None
    except (urllib.error.URLError, OSError, ValueError) as e:
        return [], f"the backend did not answer: {e}"


def render() -> bytes:
    page = (ROOT / "src" / "page.html").read_text(encoding="utf-8")
    people, error = residents()
    rows = "\n".join(
        f"<li>{html.escape(p['name'])} <small>PGY-{int(p['pgy_level'])}</small></li>"
        for p in people
    )
    notice = f'<p class="error">{html.escape(error)}</p>' if error else ""
    return (
        page.replace("{{residents}}", rows or "<li><em>no residents yet</em></li>")
        .replace("{{notice}}", notice)
        .replace("{{count}}", str(len(people)))
        .encode()
    )


class Handler(SimpleHTTPRequestHandler):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=str(ROOT / "public"), **kwargs)

    def do_GET(self) -> None:  # noqa: N802: the http.server API
        if self.path == "/healthz":
            return self.reply(200, b"ok\n", "text/plain")
        if self.path in ("/", "/index.html"):
            return self.reply(200, render(), "text/html; charset=utf-8")
        return super().do_GET()

    def reply(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt: str, *args) -> None:
        sys.stderr.write(f"frontend: {self.address_string()} {fmt % args}\n")


def stop(signum: int, _frame) -> None:
    # As PID 1 of its container, the process gets no default action for SIGTERM: without this,
    # `stop` would wait its whole grace period and then kill it.
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, stop)
    port = int(os.environ.get("PORT", "3000"))
    print(f"frontend stand-in listening on :{port}, backend at {api_url()}", flush=True)
    ThreadingHTTPServer(("0.0.0.0", port), Handler).serve_forever()
