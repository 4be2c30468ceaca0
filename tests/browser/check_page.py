#!/usr/bin/python3
"""Opens a local HTML page in headless Chromium over the DevTools protocol and reports on it.

    check_page.py PAGE SCREENSHOT [--chromium PATH] [--width 1280] [--timeout 60]

Prints one JSON object: the page's title, its console errors (console.error/assert, uncaught
exceptions, browser log entries of level error), every <img> with its natural size, every request
that left the page (anything but data: URIs and the page itself), and where the full-page
screenshot went. Exits 0 when the page loaded with no console error, no outside request, and
every image has a natural width above 0; 1 otherwise; 2 when Chromium could not be driven.

Needs Debian's python3-websocket (scripts/setup installs it with chromium).
"""
import argparse
import base64
import json
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

import websocket


class DevTools:
    """A DevTools connection to the browser: commands by id, events kept in order."""

    def __init__(self, url, timeout):
        self.socket = websocket.create_connection(url, timeout=timeout, suppress_origin=True)
        self.next_id = 0
        self.events = []
        self.deadline = time.monotonic() + timeout

    def _receive(self):
        if time.monotonic() > self.deadline:
            raise TimeoutError("the page took too long")
        return json.loads(self.socket.recv())

    def call(self, method, session=None, **params):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self.socket.send(json.dumps(message))
        while True:
            reply = self._receive()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method):
        for event in self.events:
            if event.get("method") == method:
                return event
        while True:
            event = self._receive()
            self.events.append(event)
            if event.get("method") == method:
                return event

    def drain(self, seconds):
        """Collects the events that arrive within `seconds` (late console errors)."""
        end = time.monotonic() + seconds
        timeout = self.socket.gettimeout()
        try:
            while time.monotonic() < end:
                self.socket.settimeout(max(0.01, end - time.monotonic()))
                try:
                    self.events.append(json.loads(self.socket.recv()))
                except websocket.WebSocketTimeoutException:
                    break
        finally:
            self.socket.settimeout(timeout)


def start_chromium(chromium, profile, width):
    process = subprocess.Popen(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--no-first-run", "--no-default-browser-check", "--disable-extensions",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--mute-audio", f"--window-size={width},900", f"--user-data-dir={profile}",
         "--remote-debugging-port=0", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    port_file = pathlib.Path(profile) / "DevToolsActivePort"
    for _ in range(300):
        if process.poll() is not None:
            raise RuntimeError("chromium exited with " + str(process.returncode) + ": " +
                               process.stderr.read().decode(errors="replace")[-2000:])
        if port_file.exists():
            lines = port_file.read_text().split()
            if len(lines) >= 2:
                return process, f"ws://127.0.0.1:{lines[0]}{lines[1]}"
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("chromium did not open its DevTools port within 30 s")


def check(page, screenshot, chromium, width, timeout):
    profile = tempfile.mkdtemp(prefix="xfer-chromium-")
    process = None
    try:
        process, url = start_chromium(chromium, profile, width)
        tools = DevTools(url, timeout)
        target = tools.call("Target.createTarget", url="about:blank")["targetId"]
        session = tools.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            tools.call(domain + ".enable", session)
        page_url = page.resolve().as_uri()
        tools.call("Page.navigate", session, url=page_url)
        tools.wait_for("Page.loadEventFired")
        tools.drain(0.5)
        images = tools.call(
            "Runtime.evaluate", session, returnByValue=True,
            expression="Array.from(document.images).map(i => ({alt: i.alt, complete: i.complete,"
                       " naturalWidth: i.naturalWidth, naturalHeight: i.naturalHeight}))",
        )["result"]["value"]
        title = tools.call("Runtime.evaluate", session, returnByValue=True,
                           expression="document.title")["result"]["value"]
        size = tools.call("Page.getLayoutMetrics", session)["cssContentSize"]
        tools.call("Emulation.setDeviceMetricsOverride", session, width=width,
                   height=int(size["height"]), deviceScaleFactor=1, mobile=False)
        shot = tools.call("Page.captureScreenshot", session, format="png",
                          captureBeyondViewport=True)["data"]
        pathlib.Path(screenshot).write_bytes(base64.b64decode(shot))
        tools.drain(0.2)
        errors, requests = [], []
        for event in tools.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                errors.append("console." + params["type"] + ": " + " ".join(
                    str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                errors.append("exception: " + details.get("exception", {}).get(
                    "description", details.get("text", "")))
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                errors.append("log: " + params["entry"].get("text", ""))
            elif method == "Network.requestWillBeSent":
                request_url = params.get("request", {}).get("url", "")
                if not request_url.startswith("data:") and request_url != page_url:
                    requests.append(request_url)
        try:
            tools.call("Browser.close")
        except Exception:  # the browser may close the socket before answering
            pass
        report = {"page": str(page), "title": title, "console_errors": errors, "images": images,
                  "requests": requests, "screenshot": str(screenshot)}
        ok = not errors and not requests and all(i["naturalWidth"] > 0 for i in images)
        return report, ok
    finally:
        if process is not None:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(profile, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", type=pathlib.Path)
    parser.add_argument("screenshot", type=pathlib.Path)
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()
    try:
        report, ok = check(args.page, args.screenshot, args.chromium, args.width, args.timeout)
    except Exception as error:  # anything that kept us from checking the page
        print(json.dumps({"page": str(args.page), "failure": f"{type(error).__name__}: {error}"}))
        return 2
    print(json.dumps(report))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
