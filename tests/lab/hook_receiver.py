"""A webhook receiver for linewatch's alert notifications, for the lab.

    hook_receiver.py ADDR PORT RECORDS [KEY_FILE]

Listens on ADDR:PORT (a loopback address: it is for the lab and the demo) and
answers every POST with 200 {}. Each request is appended to RECORDS as one
JSON line: received_ms (unix ms), path, headers (lower-case names) and
body_b64 (the exact bytes, so a checker can verify the signature itself).
Each is also printed as one line for people, e.g.

    12:00:05.123 hook: FIRING loss cn2-gia-1: 2.1% (threshold 1%), signature ok
    12:00:07.456 hook: FIRING line-down cn2-gia-1 (critical), signature ok

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
        head = f"{str(n.get('status', '?')).upper()} {n.get('rule', '?')} {scope}"
        value = (n.get("value") or {}).get("text")
        threshold = (n.get("threshold") or {}).get("text")
        if not value:  # an alert without a figure (line-down)
            return f"{head} ({n.get('severity', '?')})"
        return f"{head}: {value} (threshold {threshold or '-'})"

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            now = time.time()
            record = {"received_ms": int(now * 1000), "path": self.path,
                      "headers": headers, "body_b64": base64.b64encode(body).decode()}
            with open(records, "a") as f:
                f.write(json.dumps(record) + "\n")
            stamp = time.strftime("%H:%M:%S", time.localtime(now)) + f".{int(now * 1000) % 1000:03d}"
            print(f"{stamp} hook: {describe(body)}"
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
