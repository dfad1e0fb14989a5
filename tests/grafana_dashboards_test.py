#!/usr/bin/env python3
"""linewatch's Grafana dashboards, checked without Grafana (it is not packaged).

  grafana_dashboards_test.py static SOURCE_DIR
      Every dashboard is what grafana/generate.py builds; each JSON parses,
      has a unique uid, no __inputs; every panel (rows' panels included) has
      targets with a non-empty expr; every panel, target, annotation and query
      variable uses the ${datasource} variable; `datasource`, `line` and
      `target` variables exist (multi, all); no expr names a fixed instance or
      job; every $variable an expr uses is defined; panel ids are unique per
      dashboard. The provisioning files parse: a Prometheus datasource with a
      uid and a url, a file provider whose path is a `dashboards` folder.

  grafana_dashboards_test.py live SOURCE_DIR LINEWATCH MOCKLLM
      A real agent on loopback (ICMP, TCP and HTTP targets on 127.0.0.1, a
      refused TCP port, llm targets against mockllm, one with a wrong key,
      two lines with capacity and counters, routes, an exec gateway, a
      webhook receiver, an alert rule that fires at once) and a real
      Prometheus scraping it every second with prometheus/linewatch.rules.yml
      loaded. The agent is restarted once with a second route, so the plan
      version changes as Prometheus watches. Then every expr of every panel
      and annotation, with the variables set to `.*` and Grafana's intervals
      to fixed windows, must return at least one series from Prometheus's
      query API (the line dashboard once more for each value of $kind), and
      every variable's label_values query must return values. On failure,
      every expr that returned nothing is listed.

Traffic goes to 127.0.0.1 only; every process is started here and stopped by
its PID; every wait is bounded.
"""
import http.server
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

DS = {"type": "prometheus", "uid": "${datasource}"}
# Grafana's own variables, and the fixed values the live check gives them.
BUILTIN = {"__rate_interval": "1m", "__interval": "1m", "__range": "10m",
           "__range_s": "600", "__range_ms": "600000", "__interval_ms": "60000"}
VAR_REF = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")


# ---------------------------------------------------------------- static

def load_dashboards(src):
    folder = src / "grafana" / "dashboards"
    files = sorted(folder.glob("*.json"))
    assert files, f"no dashboards in {folder}"
    return {f.name: json.loads(f.read_text(encoding="utf-8")) for f in files}


def all_panels(board):
    """Every panel, those inside (collapsed) rows included."""
    for p in board.get("panels", []):
        yield p
        yield from p.get("panels", [])


def exprs(board):
    """(where, expr) for every panel target and annotation."""
    for p in all_panels(board):
        for t in p.get("targets", []):
            yield f"panel {p.get('id')} {p.get('title')!r} {t.get('refId')}", t.get("expr", "")
    for a in board.get("annotations", {}).get("list", []):
        yield f"annotation {a.get('name')!r}", a.get("expr", "")


def check_board(name, board, errors):
    def err(msg):
        errors.append(f"{name}: {msg}")

    if "__inputs" in board or "${DS_" in json.dumps(board):
        err("has __inputs or ${DS_...}: the provisioning file must load it as it is")
    if not board.get("uid") or board.get("schemaVersion", 0) < 36:
        err("needs a uid and schemaVersion >= 36")
    variables = {v["name"]: v for v in board.get("templating", {}).get("list", [])}
    ds = variables.get("datasource", {})
    if ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        err("no `datasource` variable of type datasource, query prometheus")
    for want in ("line", "target"):
        v = variables.get(want, {})
        if v.get("type") != "query" or not v.get("multi") or not v.get("includeAll"):
            err(f"variable {want} must be a query variable with multi and all")
    for v in variables.values():
        if v["type"] == "query":
            if v.get("datasource") != DS:
                err(f"variable {v['name']} does not use ${{datasource}}")
            if not re.match(r"label_values\(.+,\s*\w+\)$", v.get("definition", "")):
                err(f"variable {v['name']}: not label_values(SELECTOR, LABEL): {v.get('definition')}")
    ids = [p.get("id") for p in all_panels(board)]
    if len(ids) != len(set(ids)) or None in ids:
        err(f"panel ids are missing or repeated: {ids}")
    for p in all_panels(board):
        where = f"panel {p.get('id')} {p.get('title')!r}"
        if p.get("type") == "row":
            continue
        if p.get("datasource") != DS:
            err(f"{where}: datasource is {p.get('datasource')}, not ${{datasource}}")
        tgts = p.get("targets", [])
        if not tgts:
            err(f"{where}: no targets")
        for t in tgts:
            if t.get("datasource") != DS:
                err(f"{where} {t.get('refId')}: target datasource is not ${{datasource}}")
            if not t.get("expr", "").strip():
                err(f"{where} {t.get('refId')}: empty expr")
    annos = board.get("annotations", {}).get("list", [])
    for a in annos:
        if a.get("datasource") != DS or not a.get("expr", "").strip():
            err(f"annotation {a.get('name')!r}: needs ${{datasource}} and an expr")
    texts = list(exprs(board)) + [(f"variable {v['name']}", v.get("definition", ""))
                                  for v in variables.values()]
    for where, text in texts:
        for label, op, value in re.findall(r'\b(instance|job)\s*(=~|!~|!=|=)\s*"([^"]*)"', text):
            if not (label == "instance" and op == "=~" and value == "$instance"):
                err(f"{where}: hard-coded {label}{op}\"{value}\"")
        for a, b in VAR_REF.findall(text):
            if (a or b) not in variables and (a or b) not in BUILTIN:
                err(f"{where}: uses undefined variable ${a or b}")


def check_provisioning(src, errors):
    import yaml  # python3-yaml (Debian); scripts/setup.sh installs it
    prov = src / "grafana" / "provisioning"
    ds = yaml.safe_load((prov / "datasources" / "linewatch.yaml").read_text())
    proms = [d for d in ds.get("datasources", []) if d.get("type") == "prometheus"]
    if len(proms) != 1 or not proms[0].get("uid") or not proms[0].get("url", "").startswith("http"):
        errors.append(f"datasources/linewatch.yaml: want one prometheus datasource with uid and url: {ds}")
    dash = yaml.safe_load((prov / "dashboards" / "linewatch.yaml").read_text())
    providers = dash.get("providers", [])
    ok = [p for p in providers if p.get("type") == "file"
          and pathlib.PurePosixPath(p.get("options", {}).get("path", "")).is_absolute()
          and pathlib.PurePosixPath(p["options"]["path"]).name == "dashboards"]
    if len(ok) != 1 or dash.get("apiVersion") != 1:
        errors.append(f"dashboards/linewatch.yaml: want one file provider on a dashboards folder: {dash}")


def static(src):
    errors = []
    gen = subprocess.run([sys.executable, str(src / "grafana" / "generate.py"), "--check"],
                         capture_output=True, text=True, timeout=60)
    if gen.returncode != 0:
        errors.append(f"grafana/generate.py --check: {gen.stderr.strip()}")
    boards = load_dashboards(src)
    uids = [b.get("uid") for b in boards.values()]
    if len(uids) != len(set(uids)):
        errors.append(f"dashboard uids repeat: {uids}")
    for name, board in boards.items():
        check_board(name, board, errors)
    check_provisioning(src, errors)
    n = sum(1 for b in boards.values() for _ in exprs(b))
    if errors:
        print("FAIL:\n  " + "\n  ".join(errors), file=sys.stderr)
        return 1
    print(f"static: {len(boards)} dashboards, {n} exprs, provisioning ok")
    return 0


# ---------------------------------------------------------------- live

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Procs:
    """Processes this test started, stopped by PID (TERM, then KILL)."""

    def __init__(self, work):
        self.work, self.procs = work, {}

    def start(self, name, argv, **kw):
        log = open(self.work / f"{name}.log", "w")
        self.procs[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, **kw)
        return self.procs[name]

    def stop(self, name):
        p = self.procs.pop(name, None)
        if p is None or p.poll() is not None:
            return
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)

    def stop_all(self):
        for name in list(self.procs):
            self.stop(name)

    def logs(self):
        for f in sorted(self.work.glob("*.log")):
            print(f"== {f.name}", file=sys.stderr)
            print("".join(f.read_text(errors="replace").splitlines(True)[-30:]), file=sys.stderr)


def serve_tcp(port):
    """The tcp target: accepts and closes."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(64)

    def loop():
        while True:
            conn, _ = srv.accept()
            conn.close()
    threading.Thread(target=loop, daemon=True).start()


def serve_http(port, root):
    """The http target (GET) and the webhook receiver (POST answers 501, so
    notifications are retried and counted as failures)."""
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(root))
    http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
    srv = Server(("127.0.0.1", port), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()


def get_json(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read())


class Prom:
    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"

    def query(self, expr):
        """The instant query's result list, or None when Prometheus refuses it."""
        url = f"{self.base}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        try:
            d = get_json(url)
        except urllib.error.HTTPError as e:
            return ("error", e.read().decode(errors="replace"))
        except OSError:
            return None
        return d["data"]["result"] if d.get("status") == "success" else ("error", d)

    def wait(self, expr, what, seconds, fail):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            r = self.query(expr)
            if isinstance(r, list) and r:
                return r
            time.sleep(0.5)
        fail(f"Prometheus: {what} ({expr}) not within {seconds} s")


def agent_config(p, work, routes):
    route_lines = "\n".join(f"  - {{ prefix: 198.19.{i}.0/24, lines: {ls} }}"
                            for i, ls in enumerate(routes, 1))
    return f"""\
agent: {{ id: grafana-e2e, listen: 127.0.0.1:{p['api']}, data_dir: data }}
storage: {{ flush_interval: 100ms }}
probes:
  icmp: {{ interval: 1s, timeout: 200ms, pings: 3, spacing: 50ms }}
  tcp: {{ interval: 1s, timeout: 500ms }}
  http: {{ interval: 1s, timeout: 1s }}
  llm: {{ interval: 1s, timeout: 900ms, stall: 500ms }}
lines:
  - {{ id: lo-a, source: 127.0.0.1, gateway: 127.0.0.11, counters: lo, capacity: 100Mbps }}
  - {{ id: lo-b, source: 127.0.0.2, gateway: 127.0.0.12, counters: lo, capacity: 1Gbps }}
targets:
  - {{ id: loop-icmp, icmp: 127.0.0.1 }}
  - {{ id: loop-tcp, tcp: "127.0.0.1:{p['tcp']}" }}
  - {{ id: loop-web, http: "http://127.0.0.1:{p['web']}/" }}
  - {{ id: closed-tcp, tcp: "127.0.0.1:{p['closed']}" }}
  - id: llm-ok
    llm: {{ base_url: "http://127.0.0.1:{p['mock']}/v1", model: gpt-4o-mini,
           api_key_file: {work}/good.key, mode: completion }}
  - id: llm-wrong-key
    llm: {{ base_url: "http://127.0.0.1:{p['mock']}/v1", model: gpt-4o-mini,
           api_key_file: {work}/wrong.key, mode: completion }}
liveness: {{ interval: 50ms, detect: 500ms, reflectors: [loop-icmp] }}
routes:
{route_lines}
gateways:
  - {{ id: hook, exec: {work}/on-plan.sh, timeout: 2s }}
alerts:
  rules:
    - {{ name: closed-port, metric: failures, scope: series, match: {{ target: closed-tcp }},
        window: 10s, above: 0, for: 0s }}
notify:
  - {{ id: ops, kind: webhook, url: "http://127.0.0.1:{p['web']}/hook", secret_file: {work}/hook.key }}
"""


def substitute(expr, values):
    def repl(m):
        name = m.group(1) or m.group(2)
        return values.get(name, BUILTIN.get(name, m.group(0)))
    return VAR_REF.sub(repl, expr)


def label_values_query(definition):
    """label_values(SELECTOR, LABEL) as a PromQL query listing LABEL's values."""
    m = re.match(r"label_values\((.+),\s*(\w+)\)$", definition)
    return f"count by ({m.group(2)}) ({m.group(1)})", m.group(2)


def evaluate(prom, boards):
    """Every expr (and variable query) that returned no series, with why."""
    empty = []
    for name, board in boards.items():
        variables = [v for v in board["templating"]["list"] if v["type"] == "query"]
        passes = [{v["name"]: ".*" for v in variables}]
        if any(v["name"] == "kind" for v in variables):
            kinds = prom.query("count by (kind) (linewatch_probe_rtt_seconds_count)") or []
            passes += [dict(passes[0], kind=k["metric"]["kind"]) for k in kinds]
        for values in passes:
            tag = "" if len(passes) == 1 else f" [kind={values.get('kind')}]"
            for where, expr in exprs(board):
                r = prom.query(substitute(expr, values))
                if not (isinstance(r, list) and r):
                    empty.append(f"{name}{tag} {where}: {r if r else 'no series'}\n      {expr}")
        for v in variables:
            q, label = label_values_query(v["definition"])
            r = prom.query(substitute(q, {x["name"]: ".*" for x in variables}))
            if not (isinstance(r, list) and any(s["metric"].get(label) for s in r)):
                empty.append(f"{name} variable {v['name']}: no values\n      {v['definition']}")
    return empty


def live(src, linewatch, mockllm):
    for tool in ("/usr/bin/prometheus",):
        if not os.access(tool, os.X_OK):
            print(f"FAIL: {tool} is missing (Debian package prometheus; run scripts/setup.sh)",
                  file=sys.stderr)
            return 1
    work = pathlib.Path(tempfile.mkdtemp(prefix="linewatch-grafana."))
    procs = Procs(work)

    def fail(msg):
        print(f"FAIL: {msg}", file=sys.stderr)
        procs.logs()
        raise SystemExit(1)

    try:
        return run_live(src, linewatch, mockllm, work, procs, fail)
    finally:
        procs.stop_all()
        shutil.rmtree(work, ignore_errors=True)


def run_live(src, linewatch, mockllm, work, procs, fail):
    started = time.monotonic()
    p = {k: free_port() for k in ("api", "tcp", "web", "closed", "prom")}
    serve_tcp(p["tcp"])
    (work / "www").mkdir()
    (work / "www" / "index.html").write_text("hello\n")
    serve_http(p["web"], work / "www")
    for name, text in (("good.key", "sk-grafana-good"), ("wrong.key", "sk-grafana-wrong"),
                       ("hook.key", "hook-secret")):
        (work / name).write_text(text + "\n")
        (work / name).chmod(0o600)
    (work / "on-plan.sh").write_text("#!/bin/sh\ncat >/dev/null\n")
    (work / "on-plan.sh").chmod(0o755)

    procs.start("mockllm", [mockllm, "--listen", "127.0.0.1:0", "--token-file",
                            str(work / "good.key"), "--ttft", "50ms", "--tokens", "3",
                            "--token-interval", "5ms"])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "mock" not in p:
        m = re.search(r"listening http=127\.0\.0\.1:(\d+)", (work / "mockllm.log").read_text())
        if m:
            p["mock"] = int(m.group(1))
        time.sleep(0.05)
    if "mock" not in p:
        fail("mockllm did not start")

    (work / "prometheus.yml").write_text(f"""\
global: {{ scrape_interval: 1s, evaluation_interval: 1s }}
rule_files: ["{src / 'prometheus' / 'linewatch.rules.yml'}"]
scrape_configs:
  - job_name: linewatch
    static_configs: [ {{ targets: ["127.0.0.1:{p['api']}"] }} ]
""")
    procs.start("prometheus", ["/usr/bin/prometheus", f"--config.file={work}/prometheus.yml",
                               f"--storage.tsdb.path={work}/tsdb",
                               f"--web.listen-address=127.0.0.1:{p['prom']}"])
    prom = Prom(p["prom"])

    # Run 1: one route. Run 2, the same data_dir: a second route, so a plan
    # version newer than any of run 1 (a restart alone makes none;
    # docs/failover.md) while Prometheus watches.
    version = 0
    for run, routes in ((1, ["[lo-a, lo-b]"]), (2, ["[lo-a, lo-b]", "[lo-b, lo-a]"])):
        cfg = work / f"run{run}.yaml"
        cfg.write_text(agent_config(p, work, routes))
        check = subprocess.run([linewatch, "check-config", str(cfg)], capture_output=True,
                               text=True, timeout=30)
        if check.returncode != 0:
            fail(f"check-config refused {cfg}: {check.stdout}{check.stderr}")
        procs.stop("agent")
        procs.start("agent", [linewatch, "run", "-c", str(cfg)], cwd=work)
        r = prom.wait(f"max_over_time(linewatch_route_plan_version[1m]) > {version}",
                      f"a plan version above {version}", 30, fail)
        version = int(float(r[0]["value"][1]))
        print(f"live: run {run}, Prometheus sees plan version {version} "
              f"({time.monotonic() - started:.1f} s)")

    boards = load_dashboards(src)
    deadline = time.monotonic() + 45
    while True:
        if procs.procs["agent"].poll() is not None:
            fail("the agent exited")
        empty = evaluate(prom, boards)
        if not empty or time.monotonic() > deadline:
            break
        time.sleep(2)
    n = sum(1 for b in boards.values() for _ in exprs(b))
    if empty:
        fail(f"{len(empty)} queries returned nothing:\n  " + "\n  ".join(empty))
    print(f"live: all {n} exprs of {len(boards)} dashboards (and each $kind of the line "
          f"dashboard) and every variable return series ({time.monotonic() - started:.1f} s)")
    return 0


def main(argv):
    if len(argv) >= 3 and argv[1] == "static":
        return static(pathlib.Path(argv[2]).resolve())
    if len(argv) >= 5 and argv[1] == "live":
        return live(pathlib.Path(argv[2]).resolve(), os.path.realpath(argv[3]),
                    os.path.realpath(argv[4]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
