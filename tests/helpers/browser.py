"""Headless Chromium for the report tests, driven over the DevTools protocol on a pipe (stdlib only).

`Browser` starts Debian's ``/usr/bin/chromium`` with ``--remote-debugging-pipe`` (the protocol on
file descriptors 3 and 4, NUL-separated JSON messages), opens a page, and lets a test evaluate
JavaScript in it, wait for a condition and save a screenshot. A fresh profile under the test's
temporary directory, no network features; the browser process is ended by `close`.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

CHROMIUM = "/usr/bin/chromium"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-quic", "--disable-extensions",
         "--disable-default-apps", "--mute-audio", "--hide-scrollbars")


def require_chromium() -> str:
    path = shutil.which(CHROMIUM) or shutil.which("chromium")
    if not path:
        pytest.skip("no chromium: install Debian's chromium package (scripts/bootstrap test does)")
    return path


class BrowserError(AssertionError):
    pass


class Browser:
    def __init__(self, profile: Path, *, width: int = 1280, height: int = 900) -> None:
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def fds() -> None:  # the child sees the protocol on fds 3 (its input) and 4 (its output)
            high_r = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10)  # out of the way of 3 and 4 first
            high_w = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
            os.dup2(high_r, 3)  # inheritable; every other descriptor closes on exec
            os.dup2(high_w, 4)

        profile.mkdir(parents=True, exist_ok=True)
        self._log = (profile.parent / f"{profile.name}.log").open("wb")
        self.proc = subprocess.Popen(
            [require_chromium(), *FLAGS, "--remote-debugging-pipe", f"--user-data-dir={profile}",
             f"--window-size={width},{height}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log, preexec_fn=fds,
            close_fds=False,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buf = b""
        self._next = 0
        self._events: list[dict[str, Any]] = []
        self.session = self._attach(width, height)

    # ---------------------------------------------------------------- protocol
    def send(self, method: str, params: dict[str, Any] | None = None, *, session: bool = True,
             timeout: float = 60) -> dict[str, Any]:
        self._next += 1
        msg: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = self.session
        os.write(self._to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._next:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            self._events.append(reply)

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_chrome], [], [], left)[0]:
                raise BrowserError("chromium did not answer in time")
            chunk = os.read(self._from_chrome, 1 << 20)
            if not chunk:
                raise BrowserError(f"chromium exited (status {self.proc.poll()})")
            self._buf += chunk
        raw, _, self._buf = self._buf.partition(b"\0")
        message: dict[str, Any] = json.loads(raw)
        return message

    def _attach(self, width: int, height: int) -> str:
        targets = self.send("Target.getTargets", session=False)["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        session: str = self.send("Target.attachToTarget", {"targetId": page["targetId"], "flatten": True},
                                 session=False)["sessionId"]
        self.session = session
        self.send("Page.enable")
        self.send("Runtime.enable")
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        return session

    # ---------------------------------------------------------------- what tests use
    def open(self, path: Path, *, ready: str = "document.documentElement.dataset.ready === '1'",
             timeout: float = 60) -> float:
        """Load ``path`` and wait until ``ready`` is true; returns the seconds it took."""
        start = time.monotonic()
        self._events.clear()
        self.send("Page.navigate", {"url": path.resolve().as_uri()})
        self.wait(ready, timeout=timeout)
        return time.monotonic() - start

    def eval(self, expression: str, *, timeout: float = 60) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True}, timeout=timeout)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails'].get('exception', result['exceptionDetails'])}")
        return result["result"].get("value")

    def wait(self, condition: str, *, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        probe = f"(function () {{ try {{ return !!({condition}); }} catch (e) {{ return false; }} }})()"
        while not self.eval(probe, timeout=timeout):
            if time.monotonic() > deadline:
                raise BrowserError(f"still not true after {timeout:.0f}s: {condition} (page errors: {self.errors()})")
            time.sleep(0.05)

    def errors(self) -> list[str]:
        """Uncaught exceptions and console errors the page reported so far."""
        out = []
        for event in self._events:
            params = event.get("params", {})
            if event.get("method") == "Runtime.exceptionThrown":
                out.append(str(params.get("exceptionDetails", {}).get("exception", {}).get("description")))
        return out

    def screenshot(self, path: Path, *, full_page: bool = False) -> Path:
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            size = self.eval("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
            params["clip"] = {"x": 0, "y": 0, "width": size[0], "height": min(size[1], 6000), "scale": 1}
            params["captureBeyondViewport"] = True
        path.write_bytes(base64.b64decode(self.send("Page.captureScreenshot", params)["data"]))
        return path

    def close(self) -> None:
        try:
            self.send("Browser.close", session=False, timeout=5)
        except (BrowserError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_chrome)
        os.close(self._from_chrome)
        self._log.close()

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# ---------------------------------------------------------------- report pages to look at
def replay(inputs: list[Path], store: Path, env: Any, *, year: int = 2017) -> Path:
    """The local store after ``shipper replay`` of ``inputs`` (UTC, the given year for syslog lines)."""
    from shipper.cli import main

    code = main(["replay", "--store", str(store), "--timezone", "UTC", "--year", str(year), *map(str, inputs)], env)
    assert code == 0, text(env.stderr)
    return store


def report(store: Path, out: Path, env: Any, *extra: str) -> int:
    """``shipper report --store STORE -o OUT`` as the CLI runs it (its parser, its run, the error boundary)."""
    import argparse

    from shipper.commands import report as command
    from shipper.errors import ShipperError

    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    try:
        return int(command.run(parser.parse_args(["--store", str(store), "-o", str(out), *extra]), env))
    except ShipperError as exc:
        env.stderr.write(f"shipper: error: {exc}\n")
        return int(exc.exit_code)


def text(stream: Any) -> str:
    """What a test `Env`'s in-memory stdout or stderr holds."""
    value: str = stream.getvalue()
    return value


CARDS = "document.querySelectorAll('article.incident').length"  # the incidents the page shows


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """One headless Chromium for a test module (skipped, saying why, where there is none)."""
    require_chromium()
    with Browser(tmp_path_factory.mktemp("chromium") / "profile") as b:
        yield b


def report_page(inputs: list[Path], tmp: Path, env: Any, *, year: int = 2017) -> tuple[Path, Any]:
    """The report of ``inputs`` and what `shipper causes --format json` says of the same store."""
    from shipper.cli import main

    store = replay(inputs, tmp / "store.db", env, year=year)
    out = tmp / "report.html"
    assert report(store, out, env) == 0, text(env.stderr)
    env.stdout.seek(0)
    env.stdout.truncate()
    assert main(["causes", "--store", str(store), "--format", "json"], env) == 0
    return out, json.loads(text(env.stdout))
