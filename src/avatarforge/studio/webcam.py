"""The webcam endpoint of the studio: a small HTTP server beside viser's, same host.

Why a second server: viser serves its page and websocket on one port but offers no hook for
other HTTP routes (its request hook only serves the client's static files, GET only), and its
GUI cannot run scripts. The studio's panel shows this server's page in an ``<iframe>``
(``allow="camera"``): the page asks the browser for the camera (``getUserMedia``; allowed on
``http://127.0.0.1``, a secure context), captures small JPEG frames and POSTs each to
``/frame`` with its capture time; the handler fits the face and updates that tab's avatar
before it answers, so the page measures capture -> update (the answer arrives after the mesh
update is queued to the viser client) and sends the figure back with the next frame.

Routes (``t`` = the tab's random token; every other request is 404/403):

* ``GET /webcam?t=TOKEN``: the capture page;
* ``POST /frame?t=TOKEN`` (body: a JPEG of at most `drive.MAX_FRAME_BYTES`; headers
  ``X-Capture-Ms``: ``Date.now()`` at capture, ``X-Last-Latency-Ms``: the previous frame's
  measured latency): answers JSON ``{"found": bool, "fit_ms": float, "update_ms": float}``.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from avatarforge.errors import UserInputError
from avatarforge.studio.drive import MAX_FRAME_BYTES

__all__ = ["WebcamServer", "CAPTURE_WIDTH", "CAPTURE_HEIGHT", "PAGE"]

log = logging.getLogger(__name__)

#: Size of the frames the page sends (the face landmarker needs ~100 px faces).
CAPTURE_WIDTH, CAPTURE_HEIGHT = 320, 240

#: The capture page (no external resources: works offline).
PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>avatarforge webcam</title>
<style>body{margin:0;font:12px sans-serif;color:#333;background:#fff}video{width:160px;height:120px;background:#000}
#row{display:flex;gap:6px;align-items:flex-start}button{font-size:12px}</style></head><body>
<div id="row"><video id="v" autoplay muted playsinline></video><div>
<button id="go">Start camera</button> <button id="stop" disabled>Stop</button>
<div id="s">camera off</div><div id="l"></div></div></div>
<script>
const W = __W__, H = __H__, TOKEN = "__TOKEN__";
const v = document.getElementById('v'), s = document.getElementById('s'), l = document.getElementById('l');
const c = document.createElement('canvas'); c.width = W; c.height = H; const ctx = c.getContext('2d');
let stream = null, running = false, last = 0, lat = [], sent = 0, found = 0;
window.__afWebcam = {sent: 0, found: 0, latencies: lat, error: null};
function median(a) { const b = [...a].sort((x, y) => x - y); return b.length ? b[Math.floor(b.length / 2)] : 0; }
async function loop() {
  while (running) {
    if (v.readyState < 2) { await new Promise(r => setTimeout(r, 50)); continue; }
    ctx.drawImage(v, 0, 0, W, H);
    const t0 = Date.now();
    const blob = await new Promise(r => c.toBlob(r, 'image/jpeg', 0.75));
    try {
      const res = await fetch('/frame?t=' + TOKEN, {method: 'POST', body: blob,
        headers: {'Content-Type': 'image/jpeg', 'X-Capture-Ms': String(t0), 'X-Last-Latency-Ms': String(last)}});
      const j = await res.json();
      last = Date.now() - t0; sent++; if (j.found) found++;
      lat.push(last); if (lat.length > 100) lat.shift();
      window.__afWebcam.sent = sent; window.__afWebcam.found = found;
      s.textContent = (j.found ? 'face' : 'no face') + ' · fit ' + j.fit_ms.toFixed(0) + ' ms';
      l.textContent = 'capture→update ' + last + ' ms (median ' + median(lat) + ' ms, ' + sent + ' frames)';
    } catch (e) { window.__afWebcam.error = String(e); s.textContent = 'error: ' + e; await new Promise(r => setTimeout(r, 500)); }
  }
}
document.getElementById('go').onclick = async () => {
  try {
    stream = await navigator.mediaDevices.getUserMedia({video: {width: W, height: H}, audio: false});
  } catch (e) { window.__afWebcam.error = String(e); s.textContent = 'no camera: ' + e; return; }
  v.srcObject = stream; running = true; s.textContent = 'starting…';
  document.getElementById('go').disabled = true; document.getElementById('stop').disabled = false; loop();
};
document.getElementById('stop').onclick = () => {
  running = false; if (stream) stream.getTracks().forEach(t => t.stop());
  document.getElementById('go').disabled = false; document.getElementById('stop').disabled = true;
  s.textContent = 'camera off';
};
</script></body></html>"""


class _QuietHTTPServer(ThreadingHTTPServer):
    """A client that goes away mid-answer (a closed tab, a reloaded page) is normal here: it is
    logged at debug level instead of http.server's traceback on stderr; other errors get one
    warning line."""

    def handle_error(self, request, client_address) -> None:
        import sys

        err = sys.exc_info()[1]
        if isinstance(err, ConnectionError):
            log.debug("webcam: client %s went away: %s", client_address, err)
        else:
            log.warning("webcam: a request from %s failed: %s", client_address, err)


class WebcamServer:
    """Serves the capture page and takes frames for the tabs registered by token."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.handlers: dict[str, Callable[[bytes, float, float], dict]] = {}
        """Token -> ``handler(jpeg, capture_ms, last_latency_ms)`` returning the JSON answer."""
        self._lock = threading.Lock()
        self.httpd = _QuietHTTPServer((host, port), self._handler_class())
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="studio-webcam", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def register(self, token: str, handler: Callable[[bytes, float, float], dict]) -> None:
        with self._lock:
            self.handlers[token] = handler

    def unregister(self, token: str) -> None:
        with self._lock:
            self.handlers.pop(token, None)

    def page_url(self, token: str) -> str:
        return f"{self.url}/webcam?t={token}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format, *args) -> None:  # noqa: A002 - the base class's name
                log.debug("webcam: " + format, *args)

            def _send(self, status: int, body: bytes, ctype: str = "text/plain; charset=utf-8") -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def _route(self) -> tuple[str, Callable | None, str]:
                url = urlsplit(self.path)
                token = parse_qs(url.query).get("t", [""])[0]
                with server._lock:
                    return url.path, server.handlers.get(token), token

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                path, handler, token = self._route()
                if path != "/webcam":
                    return self._send(HTTPStatus.NOT_FOUND, b"not found")
                if handler is None:
                    return self._send(HTTPStatus.FORBIDDEN, b"unknown or closed studio tab")
                page = PAGE.replace("__W__", str(CAPTURE_WIDTH)).replace("__H__", str(CAPTURE_HEIGHT))
                self._send(HTTPStatus.OK, page.replace("__TOKEN__", token).encode(), "text/html; charset=utf-8")

            def do_POST(self) -> None:  # noqa: N802
                path, handler, _ = self._route()
                if path != "/frame":
                    return self._send(HTTPStatus.NOT_FOUND, b"not found")
                if handler is None:
                    return self._send(HTTPStatus.FORBIDDEN, b"unknown or closed studio tab")
                try:
                    n = int(self.headers.get("Content-Length", "-1"))
                except ValueError:
                    n = -1
                if n < 0 or n > MAX_FRAME_BYTES:
                    self.close_connection = True
                    return self._send(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, b"a frame must be a JPEG of at most 2 MB")
                body = self.rfile.read(n)

                def number(name: str) -> float:
                    try:
                        v = float(self.headers.get(name, "0"))
                    except ValueError:
                        return 0.0
                    return v if v == v and abs(v) < 1e15 else 0.0

                try:
                    answer = handler(body, number("X-Capture-Ms"), number("X-Last-Latency-Ms"))
                except UserInputError as exc:
                    return self._send(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, str(exc).encode())
                except Exception as exc:  # noqa: BLE001 - one bad frame must not stop the server
                    log.exception("studio: webcam frame failed")
                    return self._send(HTTPStatus.INTERNAL_SERVER_ERROR, f"{type(exc).__name__}: {exc}".encode())
                self._send(HTTPStatus.OK, json.dumps(answer).encode(), "application/json")

        return Handler
