"""Serve the saved Neo4j Browser queries, the style sheet and a Browser guide.

Run ``python scripts/browser_guide.py [--port 8047]``, then in Neo4j Browser:

    :style http://localhost:8047/delegraph.grass
    :guide http://localhost:8047/delegraph-guide.html

Neo4j Browser 5.24 fetches guides and style sheets from the web page, and only
from hosts in the server setting ``browser.remote_content_hostname_allowlist``
(default ``guides.neo4j.com,localhost``). So the URL must name ``localhost``,
not 127.0.0.1, and the replies carry ``Access-Control-Allow-Origin: *``
because Browser's own origin is the Neo4j HTTP port.
"""

from __future__ import annotations

import argparse
import html
import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

logger = logging.getLogger("delegraph.browser_guide")

BROWSER_DIR = Path(__file__).resolve().parents[1] / "cypher" / "browser"
GUIDE_NAME = "delegraph-guide.html"
STYLE_NAME = "delegraph.grass"
DEFAULT_PORT = 8047
# Slide order: the overview first, then the queries about one agent, then the edge lists.
QUERY_ORDER = (
    "overview",
    "agent_chains",
    "accountable_humans",
    "blast_radius",
    "expiring_delegations",
    "revoked_cuts",
)
PARAM_LINE = re.compile(r"(:param [a-z_]+ => .+?)\s*$")


def _header(text: str) -> list[str]:
    lines = []
    for line in text.splitlines():
        if not line.startswith("//"):
            break
        lines.append(line.removeprefix("//").strip())
    return lines


def _slide(name: str, text: str) -> str:
    header = _header(text)
    title, _, summary = header[0].partition(":")
    params = [match.group(1) for line in header if (match := PARAM_LINE.search(line))]
    notes = " ".join(line for line in header[1:] if not PARAM_LINE.search(line))
    parts = [
        "<slide>",
        f"<h3>{html.escape(title.strip())}</h3>",
        f"<p>{html.escape(summary.strip())}</p>",
        f"<p>{html.escape(notes)}</p>",
        f"<p>Saved as <code>cypher/browser/{name}.cypher</code>. Click a block to put it in the editor.</p>",
    ]
    parts += [f'<pre class="runnable">{html.escape(param)}</pre>' for param in params]
    parts.append(f'<pre class="runnable">{html.escape(text.strip())}</pre>')
    parts.append("</slide>")
    return "\n".join(parts)


def build_guide(style_url: str, directory: Path = BROWSER_DIR) -> str:
    """Return the guide HTML: one slide per saved query, built from the .cypher files."""
    intro = "\n".join(
        [
            "<slide>",
            "<h3>delegraph: delegation chains</h3>",
            "<p>Saved queries for analysts of a delegraph graph. Apply the style sheet "
            "first, so that users, groups, agents, workloads and resources each get a "
            "colour and every node shows its id:</p>",
            f'<pre class="runnable">:style {html.escape(style_url)}</pre>',
            "<p>Queries that take a parameter show the <code>:param</code> line to run "
            "before them.</p>",
            "</slide>",
        ]
    )
    slides = [
        _slide(name, (directory / f"{name}.cypher").read_text()) for name in QUERY_ORDER
    ]
    return (
        "<!DOCTYPE html>\n<html><head><title>delegraph</title></head><body>\n"
        + "\n".join([intro, *slides])
        + "\n</body></html>\n"
    )


class _Handler(SimpleHTTPRequestHandler):
    """Static files of cypher/browser/ plus the generated guide, open to any origin."""

    def __init__(self, *args: object, style_url: str, **kwargs: object) -> None:
        self._style_url = style_url
        super().__init__(*args, directory=str(BROWSER_DIR), **kwargs)  # type: ignore[arg-type]

    def end_headers(self) -> None:
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def do_OPTIONS(self) -> None:
        # Browser sends Pragma and Cache-Control request headers, so the web page
        # asks first with a CORS preflight.
        self.send_response(204)
        self.send_header("Access-Control-Allow-Methods", "GET, OPTIONS")
        self.send_header("Access-Control-Allow-Headers", "*")
        self.send_header("Access-Control-Max-Age", "600")
        self.end_headers()

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] != f"/{GUIDE_NAME}":
            super().do_GET()
            return
        body = build_guide(self._style_url).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        logger.info("%s %s", self.address_string(), format % args)


def make_server(port: int = DEFAULT_PORT) -> ThreadingHTTPServer:
    """Bind the content server to 127.0.0.1 (port 0 picks a free port)."""
    server = ThreadingHTTPServer(("127.0.0.1", port), partial(_Handler, style_url=""))
    bound = server.server_address[1]
    server.RequestHandlerClass = partial(  # type: ignore[assignment]
        _Handler, style_url=f"http://localhost:{bound}/{STYLE_NAME}"
    )
    return server


@contextmanager
def serving(port: int = 0) -> Iterator[int]:
    """Serve in a background thread and yield the port; stop on exit."""
    server = make_server(port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help="TCP port on 127.0.0.1 (default 8047)",
    )
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    server = make_server(arguments.port)
    port = server.server_address[1]
    print(f":style http://localhost:{port}/{STYLE_NAME}")
    print(f":guide http://localhost:{port}/{GUIDE_NAME}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
