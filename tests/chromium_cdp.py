"""Drive headless Chromium over the Chrome DevTools Protocol (CDP), from Python only.

Chromium starts with a fresh profile and remote debugging on a free loopback
port. One page target is driven over its websocket with the ``websockets``
package, which uvicorn[standard] already installs. No
WebDriver and no browser download are involved, so Debian's ``chromium``
package is the only extra install.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

INSTALL_COMMAND = "apt-get update && apt-get install -y chromium"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

# --headless and --no-sandbox let it run as root without a display. The rest
# stop Chromium's own calls to outside hosts, which a closed network refuses.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)


class ChromiumError(Exception):
    """Chromium could not be found, started or driven."""


def find_chromium() -> str:
    """Return the Chromium executable: ``DELEGRAPH_CHROMIUM`` or the first found on PATH."""
    configured = os.environ.get("DELEGRAPH_CHROMIUM")
    if configured:
        if not os.access(configured, os.X_OK):
            raise ChromiumError(
                f"DELEGRAPH_CHROMIUM={configured!r} is not an executable file"
            )
        return configured
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    raise ChromiumError(
        f"Chromium not found on PATH (looked for {', '.join(CANDIDATES)}). "
        f"Install it with: {INSTALL_COMMAND}"
    )


class Page:
    """One page target: send CDP commands and wait for conditions in the page."""

    def __init__(self, connection: ClientConnection) -> None:
        self._connection = connection
        self._ids = itertools.count(1)
        self._loopback_only = False
        self.blocked_urls: list[str] = []

    def allow_only_loopback(self) -> None:
        """Fail every request of the page to a host other than 127.0.0.1 or localhost.

        Paused requests are answered while ``send`` reads replies, so a request
        waits at most until the next command (``wait_for`` polls every 0.25 s).
        Websockets, such as Bolt, are not intercepted by CDP's Fetch domain.
        """
        self._loopback_only = True
        self.send("Fetch.enable", patterns=[{"urlPattern": "*"}])

    def _on_event(self, event: dict[str, Any]) -> None:
        if not self._loopback_only or event.get("method") != "Fetch.requestPaused":
            return
        params = event["params"]
        host = urllib.parse.urlsplit(params["request"]["url"]).hostname
        if host in LOOPBACK_HOSTS:
            command = {
                "method": "Fetch.continueRequest",
                "params": {"requestId": params["requestId"]},
            }
        else:
            self.blocked_urls.append(params["request"]["url"])
            command = {
                "method": "Fetch.failRequest",
                "params": {
                    "requestId": params["requestId"],
                    "errorReason": "BlockedByClient",
                },
            }
        # The reply to this command has an id that no caller waits for, so it is dropped.
        self._connection.send(json.dumps({"id": next(self._ids), **command}))

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one CDP command and return its result; events in between are dropped."""
        message_id = next(self._ids)
        self._connection.send(
            json.dumps({"id": message_id, "method": method, "params": params})
        )
        while True:
            reply = json.loads(self._connection.recv(timeout=60))
            if "method" in reply:
                self._on_event(reply)
                continue
            if reply.get("id") != message_id:
                continue
            if "error" in reply:
                raise ChromiumError(f"CDP {method} failed: {reply['error']}")
            result: dict[str, Any] = reply.get("result", {})
            return result

    def evaluate(self, expression: str) -> Any:
        """Evaluate JavaScript in the page (awaiting a promise) and return its JSON value."""
        result = self.send(
            "Runtime.evaluate",
            expression=expression,
            returnByValue=True,
            awaitPromise=True,
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get(
                "text"
            )
            raise ChromiumError(f"JavaScript failed: {text}\nin: {expression[:200]}")
        return result["result"].get("value")

    def navigate(self, url: str) -> None:
        self.send("Page.navigate", url=url)

    def run_before_each_document(self, script: str) -> None:
        """Run JavaScript in every new document before the page's own scripts."""
        self.send("Page.addScriptToEvaluateOnNewDocument", source=script)

    def wait_for(self, expression: str, timeout: float, what: str) -> Any:
        """Poll a JavaScript expression until it is truthy and return its value."""
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.25)
        raise ChromiumError(f"timed out after {timeout:.0f} s waiting for {what}")

    def insert_text(self, text: str) -> None:
        """Type text into the focused element, as an input method would."""
        self.send("Input.insertText", text=text)

    def press(self, key: str, code: str, key_code: int, modifiers: int = 0) -> None:
        """Press and release one key; ``modifiers`` is the CDP bit mask (2 = Ctrl)."""
        for kind in ("keyDown", "keyUp"):
            self.send(
                "Input.dispatchKeyEvent",
                type=kind,
                key=key,
                code=code,
                windowsVirtualKeyCode=key_code,
                modifiers=modifiers,
            )

    def click(self, x: float, y: float) -> None:
        for kind in ("mousePressed", "mouseReleased"):
            self.send(
                "Input.dispatchMouseEvent",
                type=kind,
                x=x,
                y=y,
                button="left",
                clickCount=1,
            )

    def screenshot(self, path: Path) -> None:
        data = self.send("Page.captureScreenshot", format="png")["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))


def _debugging_port(
    profile: Path, process: subprocess.Popen[bytes], timeout: float
) -> int:
    """Read the port Chromium chose from DevToolsActivePort in its profile folder."""
    marker = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ChromiumError(
                f"Chromium exited with code {process.returncode} during start-up"
            )
        if marker.exists():
            first_line = marker.read_text().splitlines()[:1]
            if first_line and first_line[0].isdigit():
                return int(first_line[0])
        time.sleep(0.1)
    raise ChromiumError(f"Chromium opened no debugging port within {timeout:.0f} s")


def _page_websocket(port: int) -> str:
    with urllib.request.urlopen(
        f"http://127.0.0.1:{port}/json/list", timeout=10
    ) as reply:
        targets = json.load(reply)
    for target in targets:
        if target.get("type") == "page":
            url: str = target["webSocketDebuggerUrl"]
            return url
    raise ChromiumError(f"Chromium on port {port} has no page target: {targets}")


@contextmanager
def chromium_page(
    width: int = 1400, height: int = 900, start_timeout: float = 30.0
) -> Iterator[Page]:
    """Start headless Chromium with a fresh profile and yield its first page.

    Raises ChromiumError, naming the install command, when Chromium is missing
    or does not start.
    """
    executable = find_chromium()
    with (
        tempfile.TemporaryDirectory(
            prefix="delegraph-chromium-", ignore_cleanup_errors=True
        ) as profile_dir,
        (Path(profile_dir) / "stderr.log").open("wb") as stderr_log,
    ):
        profile = Path(profile_dir)
        command = [
            executable,
            *FLAGS,
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            "about:blank",
        ]
        try:
            # A session of its own, so that stopping it reaches the helper processes.
            process = subprocess.Popen(  # noqa: S603 - fixed argument list
                command,
                stdout=subprocess.DEVNULL,
                stderr=stderr_log,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError as error:
            raise ChromiumError(
                f"{executable} could not be started ({error}). "
                f"Install Chromium with: {INSTALL_COMMAND}"
            ) from error
        try:
            try:
                port = _debugging_port(profile, process, start_timeout)
            except ChromiumError as error:
                log = (profile / "stderr.log").read_text(errors="replace")[-1500:]
                raise ChromiumError(
                    f"{error}. Chromium said:\n{log}\n"
                    f"Install or repair Chromium with: {INSTALL_COMMAND}"
                ) from error
            with connect(
                _page_websocket(port), max_size=None, open_timeout=10
            ) as socket:
                page = Page(socket)
                page.send("Page.enable")
                page.send("Runtime.enable")
                page.send(
                    "Emulation.setDeviceMetricsOverride",
                    width=width,
                    height=height,
                    deviceScaleFactor=1,
                    mobile=False,
                )
                yield page
        finally:
            _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop Chromium and its helpers: SIGTERM to its process group, then SIGKILL."""
    group = process.pid  # the group id of a new session is the leader's pid
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, sig)
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        break
    # Helpers may outlive the leader for a moment; give them time to exit
    # before the profile folder is removed.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)
