#!/usr/bin/env python3
"""A stand-in agent for the page's drawing test: serves agent/page/* as the
agent does (same paths, types and headers) and fixed /api/v1/lines, targets
and series documents in the shapes docs/api.md gives, built around a "now"
frozen at start-up so that the checker reads the same documents the page did.

The series hold the drawing's edge cases: steps of every loss colour, a gap of
missing steps, steps where nothing answered (rtt_ms null, loss 1), a step with
nothing sent (loss null), a series with no point, and a series that answers
500. Usage: page_fixture.py PAGE_DIR PORT (loopback only).
"""
import datetime
import http.server
import json
import sys
import urllib.parse

PAGE_DIR, PORT = sys.argv[1], int(sys.argv[2])
NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
RANGES = {"3h": 3 * 3600, "1d": 86400, "7d": 7 * 86400, "30d": 30 * 86400}
ASSETS = {"/": ("index.html", "text/html; charset=utf-8"),
          "/page.js": ("page.js", "text/javascript; charset=utf-8"),
          "/page.css": ("page.css", "text/css; charset=utf-8")}
CSP = "default-src 'self'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'"

LINES = {"agent": "fixture", "now": NOW.isoformat().replace("+00:00", "Z"), "lines": [
    {"line": "lo-a", "state": "up", "health": "good", "score": 0.93, "role": "primary",
     "targets": 2, "targets_ok": 2, "rx_bps": 1.2e6, "tx_bps": 3.4e5, "utilisation": 0.012,
     "capacity_bps": 1e8},
    {"line": "lo-b", "state": "down", "health": None, "score": None, "role": None,
     "targets": 1, "targets_ok": 0, "rx_bps": 0, "tx_bps": 0, "utilisation": None,
     "capacity_bps": None},
    {"line": "lo-c", "state": "unknown", "health": None, "score": None, "role": None,
     "targets": 1, "targets_ok": 0, "rx_bps": None, "tx_bps": None, "utilisation": None,
     "capacity_bps": None},
]}
TARGETS = {"targets": [
    {"target": "dns", "address": "127.0.0.1", "kinds": ["icmp", "tcp"], "lines": ["lo-a", "lo-b"]},
    {"target": "web", "address": "http://127.0.0.1/", "kinds": ["http"], "lines": ["lo-a", "lo-c"]},
]}


def stamp(t):
    return t.isoformat().replace("+00:00", "Z")


def rtt(base):
    return {"min": base * 0.9, "p10": base * 0.95, "p25": base * 0.98, "median": base,
            "p75": base * 1.03, "p90": base * 1.08, "max": base * 1.6}


def point(t, sent, lost, base, rounds=5):
    loss = None if sent == 0 else lost / sent
    return {"t": stamp(t), "rounds": rounds, "ok": rounds if lost < sent or sent == 0 else 0,
            "sent": sent, "lost": lost, "loss": loss,
            "rtt_ms": None if sent and lost == sent else rtt(base)}


N = 300  # steps per range, as the agent's default step gives


def steps(pattern, step):
    """Points for the last N steps of `step` seconds ending at NOW; `pattern(i)`
    gives (sent, lost, base RTT ms) for step i, or None for a step with no round."""
    first = NOW - datetime.timedelta(seconds=step * N)
    out = []
    for i in range(N):
        spec = pattern(i)
        if spec is not None:
            out.append(point(first + datetime.timedelta(seconds=step * i), *spec))
    return out


def mixed(i):
    if 100 <= i < 110:
        return None  # a gap: ten steps with no round stored
    if 150 <= i < 153:
        return (20, 20, 0)  # nothing answered
    if i == 160:
        return (0, 0, 30.0)  # nothing sent (loss null)
    if i % 7 == 3:
        return (100, 11, 45.0)  # 11 %: between SmokePing's 2 and 3 of 20
    lost = [0, 0, 0, 0, 1, 2, 3, 4, 10, 19][i % 10]
    return (20, lost, 30.0 + (i % 17))


SERIES = {
    ("lo-a", "dns", "icmp"): mixed,
    ("lo-a", "dns", "tcp"): lambda i: (1, 0, 2.0),
    ("lo-b", "dns", "icmp"): lambda i: (20, 20, 0),
    ("lo-b", "dns", "tcp"): lambda i: None,
    ("lo-c", "web", "http"): lambda i: (1, 0, 120.0) if i == N - 1 else None,
}


class Handler(http.server.BaseHTTPRequestHandler):
    def answer(self, status, ctype, body, extra=()):
        data = body if isinstance(body, bytes) else body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache")
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def json(self, status, doc):
        self.answer(status, "application/json", json.dumps(doc))

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path in ASSETS:
            name, ctype = ASSETS[url.path]
            with open(f"{PAGE_DIR}/{name}", "rb") as f:
                self.answer(200, ctype, f.read(), [("Content-Security-Policy", CSP)])
        elif url.path == "/api/v1/lines":
            self.json(200, LINES)
        elif url.path == "/api/v1/targets":
            self.json(200, TARGETS)
        elif url.path == "/api/v1/series":
            self.series(urllib.parse.parse_qs(url.query))
        else:
            self.json(404, {"error": "not found"})

    def series(self, q):
        line, target, kind = (q.get(k, [""])[0] for k in ("line", "target", "kind"))
        since = q.get("since", ["3h"])[0]
        if (line, target) == ("lo-a", "web"):
            return self.json(500, {"error": "storage: database is locked"})
        if (line, target, kind) not in SERIES or since not in RANGES:
            return self.json(400, {"error": f"fixture: no series {line}/{target}/{kind}/{since}"})
        step = -(-RANGES[since] // N)
        first = NOW - datetime.timedelta(seconds=step * N)
        self.json(200, {"line": line, "target": target, "kind": kind, "from": stamp(first),
                        "to": stamp(NOW), "step_s": step,
                        "points": steps(SERIES[(line, target, kind)], step)})

    def log_message(self, fmt, *args):
        pass


if __name__ == "__main__":
    server = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
    print("ready", flush=True)
    server.serve_forever()
