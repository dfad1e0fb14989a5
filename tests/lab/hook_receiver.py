"""A webhook receiver for linewatch's alert notifications, for the lab.

    hook_receiver.py ADDR PORT RECORDS [KEY_FILE]

Listens on ADDR:PORT (a loopback address: it is for the lab and the demo) and
answers every POST with 200 {}. Each request is appended to RECORDS as one
JSON line: received_ms (unix ms), path, headers (lower-case names) and
body_b64 (the exact bytes, so a checker can verify the signature itself).
Each is also printed as one line for people, e.g.

    12:00:05 hook: FIRING loss cn2-gia-1: 2.1% (threshold 1%), signature ok

With KEY_FILE the signature (docs/alerts.md, "webhook") is checked for that
line: "signature ok" or "signature BAD". The answer does not depend on it.
Runs until killed; single-threaded, so records are written in arrival order.
"""
import base64
import hashlib
import hmac
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer


def main():
    addr, port, records = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    key = None
    if len(sys.argv) > 4:
        with open(sys.argv[4], "rb") as f:
            key = f.read().strip()

    def signature_note(headers, body):
        if key is None:
            return ""
        stamp = headers.get("x-linewatch-timestamp", "")
        mac = hmac.new(key, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        good = hmac.compare_digest("sha256=" + mac, headers.get("x-linewatch-signature", ""))
        return ", signature ok" if good else ", signature BAD"

    def describe(body):
        try:
            n = json.loads(body)
        except ValueError:
            return f"{len(body)} bytes, not JSON"
        labels = n.get("labels", {})
        scope = ":".join(labels[k] for k in ("line", "target", "kind") if k in labels)
        figure = lambda f: (f or {}).get("text") or "-"
        return (f"{str(n.get('status', '?')).upper()} {n.get('rule', '?')} {scope}: "
                f"{figure(n.get('value'))} (threshold {figure(n.get('threshold'))})")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            record = {"received_ms": int(time.time() * 1000), "path": self.path,
                      "headers": headers, "body_b64": base64.b64encode(body).decode()}
            with open(records, "a") as f:
                f.write(json.dumps(record) + "\n")
            print(f"{time.strftime('%H:%M:%S')} hook: {describe(body)}"
                  f"{signature_note(headers, body)}", flush=True)
            answer = b"{}"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):  # one line per notification is enough
            pass

    HTTPServer((addr, port), Handler).serve_forever()


if __name__ == "__main__":
    main()
