#!/usr/bin/env python3
"""Writes grafana/dashboards/*.json, linewatch's Grafana dashboards.

The PromQL lives here once (selectors, loss, availability) and every
dashboard is built from it, so the four files cannot drift apart. Edit this
file, then run `python3 grafana/generate.py`; `--check` exits 1 when a
committed JSON file differs from what this file builds (the dashboards test
runs it).

Conventions every panel follows (checked by tests/grafana_dashboards_test.py):
the datasource is the `datasource` variable, selectors filter on the
`instance`, `line` and `target` variables (never a fixed instance or job),
panel ids are unique within a dashboard.
"""
import argparse
import json
import pathlib
import sys

DS = {"type": "prometheus", "uid": "${datasource}"}
OUT = pathlib.Path(__file__).resolve().parent / "dashboards"

# Label selectors: the agent, its lines, its probe series.
SEL_I = 'instance=~"$instance"'
SEL_L = SEL_I + ', line=~"$line"'
SEL_P = SEL_L + ', target=~"$target"'
# Reasons that count against a line (docs/alerts.md, prometheus/linewatch.rules.yml).
NETWORK = "dns|refused|unreachable|tls|timeout|stream_stall"
RI = "$__rate_interval"


def quantile(q, metric, sel, by, window=RI):
    return (f"histogram_quantile({q}, sum by ({by}, le) "
            f"(rate({metric}_bucket{{{sel}}}[{window}])))")


def series_loss(sel, kind="", window=RI):
    """Loss per line x target x kind: lost echoes over sent for icmp (as
    SmokePing counts it), failed rounds over all rounds for other kinds.
    kind is an extra matcher (', kind=~"$kind"'); the echo counters have no
    kind label, so their ratio is kept only where an icmp series matches."""
    ksel = sel + kind
    return (
        "((label_replace("
        f"sum by (line, target) (rate(linewatch_probe_echoes_lost_total{{{sel}}}[{window}]))"
        f" / sum by (line, target) (rate(linewatch_probe_echoes_sent_total{{{sel}}}[{window}])),"
        ' "kind", "icmp", "", "")'
        f" and on (line, target, kind) linewatch_probe_success{{{ksel}}})"
        " or (1 - sum by (line, target, kind) "
        f'(rate(linewatch_probe_results_total{{{ksel}, reason="ok"}}[{window}]))'
        " / sum by (line, target, kind) "
        f"(rate(linewatch_probe_results_total{{{ksel}}}[{window}]))))")


def echo_loss_by_line(sel, window=RI):
    return (f"sum by (line) (rate(linewatch_probe_echoes_lost_total{{{sel}}}[{window}]))"
            f" / sum by (line) (rate(linewatch_probe_echoes_sent_total{{{sel}}}[{window}]))")


def line_availability(sel, window):
    """Share of rounds that did not fail in the network (the line's own
    availability, as the LinewatchAvailability rule counts it). The ok
    series exists for every probe series, so this is never empty."""
    return (f'sum by (line) (increase(linewatch_probe_results_total{{{sel}, reason!~"{NETWORK}"}}[{window}]))'
            f" / sum by (line) (increase(linewatch_probe_results_total{{{sel}}}[{window}]))")


def endpoint_availability(sel, by, window):
    """Share of rounds that succeeded, whatever the reason of a failure."""
    return (f'sum by ({by}) (increase(linewatch_probe_results_total{{{sel}, reason="ok"}}[{window}]))'
            f" / sum by ({by}) (increase(linewatch_probe_results_total{{{sel}}}[{window}]))")


def line_state_code(sel):
    """0 up, 1 degraded, 2 down (one gauge per state, 1 for the current)."""
    return (f'max by (line) (linewatch_line_state{{{sel}, state="degraded"}})'
            f' + 2 * max by (line) (linewatch_line_state{{{sel}, state="down"}})')


STATE_MAPPINGS = [{"type": "value", "options": {
    "0": {"text": "up", "color": "green", "index": 0},
    "1": {"text": "degraded", "color": "orange", "index": 1},
    "2": {"text": "down", "color": "red", "index": 2}}}]
BOOL_MAPPINGS = [{"type": "value", "options": {
    "0": {"text": "no", "color": "red", "index": 0},
    "1": {"text": "yes", "color": "green", "index": 1}}}]


# ---------------------------------------------------------------- builders

def target(expr, legend="", instant=False, fmt="time_series", ref="A"):
    t = {"datasource": DS, "refId": ref, "expr": expr, "legendFormat": legend or "__auto",
         "range": not instant, "instant": instant, "format": fmt, "editorMode": "code"}
    return t


def targets(*specs, **common):
    """specs: (expr, legend) pairs; refIds A, B, C... in order."""
    return [target(e, l, ref=chr(ord("A") + i), **common) for i, (e, l) in enumerate(specs)]


class Board:
    """Lays panels out left to right, top to bottom, with unique ids."""

    def __init__(self):
        self.panels, self.next_id, self.x, self.y, self.row_h = [], 1, 0, 0, 0

    def add(self, panel, w, h):
        if self.x + w > 24:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        panel["id"] = self.next_id
        self.next_id += 1
        panel["gridPos"] = {"x": self.x, "y": self.y, "w": w, "h": h}
        self.x += w
        self.row_h = max(self.row_h, h)
        self.panels.append(panel)
        return panel

    def row(self, title, repeat=None):
        self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        row = {"type": "row", "title": title, "collapsed": False, "panels": [], "datasource": DS}
        if repeat:
            row["repeat"] = repeat
        self.add(row, 24, 1)
        self.x, self.y, self.row_h = 0, self.y + 1, 0


def panel(kind, title, tgts, unit=None, desc="", overrides=None, options=None, custom=None,
          mappings=None, thresholds=None, transformations=None, **extra):
    defaults = {}
    if unit:
        defaults["unit"] = unit
    if custom:
        defaults["custom"] = custom
    if mappings:
        defaults["mappings"] = mappings
    if thresholds:
        defaults["thresholds"] = {"mode": "absolute", "steps": thresholds}
    p = {"type": kind, "title": title, "description": desc, "datasource": DS, "targets": tgts,
         "fieldConfig": {"defaults": defaults, "overrides": overrides or []},
         "options": options or {}}
    if transformations:
        p["transformations"] = transformations
    p.update(extra)
    return p


def timeseries(title, tgts, unit, desc="", overrides=None, stack=False, bars=False, step=False,
               **extra):
    custom = {"drawStyle": "bars" if bars else "line", "lineWidth": 1,
              "fillOpacity": 60 if bars else 10, "showPoints": "never", "spanNulls": False,
              "lineInterpolation": "stepAfter" if step else "linear",
              "stacking": {"mode": "normal" if stack else "none", "group": "A"}}
    return panel("timeseries", title, tgts, unit, desc, overrides, custom=custom,
                 options={"legend": {"displayMode": "table", "placement": "bottom",
                                     "calcs": ["mean", "max", "lastNotNull"]},
                          "tooltip": {"mode": "multi", "sort": "desc"}}, **extra)


def state_timeline(title, tgts, desc="", mappings=STATE_MAPPINGS):
    return panel("state-timeline", title, tgts, desc=desc, mappings=mappings,
                 custom={"fillOpacity": 80, "lineWidth": 0},
                 options={"showValue": "never", "mergeValues": True, "rowHeight": 0.8,
                          "legend": {"showLegend": False}})


def table(title, tgts, columns, desc="", overrides=None, sort=None):
    """An instant table of several queries merged on their labels; columns
    renames each query's value (Value #A...) to a header."""
    rename = {f"Value #{t['refId']}": columns[i] for i, t in enumerate(tgts)}
    transformations = [{"id": "merge", "options": {}},
                       {"id": "organize", "options": {"excludeByName": {"Time": True},
                                                      "renameByName": rename}}]
    if sort:
        transformations.append({"id": "sortBy", "options": {"sort": [{"field": sort, "desc": True}]}})
    for t in tgts:
        t.update({"instant": True, "range": False, "format": "table"})
    return panel("table", title, tgts, desc=desc, overrides=overrides,
                 options={"showHeader": True, "cellHeight": "sm"},
                 transformations=transformations)


def by_name(name, **props):
    return {"matcher": {"id": "byName", "options": name},
            "properties": [{"id": k.replace("__", "."), "value": v} for k, v in props.items()]}


def by_regexp(regexp, **props):
    o = by_name("", **props)
    o["matcher"] = {"id": "byRegexp", "options": regexp}
    return o


def fixed(color):
    return {"mode": "fixed", "fixedColor": color}


# ---------------------------------------------------------------- variables

def variables(line_metric, target_metric, only="", kind_var=False):
    """datasource, instance, line and target (and kind for the line
    dashboard); `only` narrows the line and target lists (e.g. to llm)."""
    def query(name, label, definition, multi=True, include_all=True):
        v = {"type": "query", "name": name, "label": label, "datasource": DS,
             "definition": definition,
             "query": {"query": definition, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
             "refresh": 2, "sort": 1, "regex": "", "multi": multi, "includeAll": include_all,
             "current": {}, "options": [], "hide": 0}
        if include_all:
            v["allValue"] = ".*"
        return v

    out = [{"type": "datasource", "name": "datasource", "label": "Prometheus", "query": "prometheus",
            "current": {}, "options": [], "refresh": 1, "regex": "", "hide": 0},
           query("instance", "Agent", "label_values(linewatch_build_info, instance)"),
           query("line", "Line", f"label_values({line_metric}{{{only}{SEL_I}}}, line)")]
    tsel = only + SEL_L
    if kind_var:
        out.append(query("kind", "Probe kind",
                         f"label_values(linewatch_probe_rtt_seconds_count{{{SEL_L}}}, kind)",
                         multi=False, include_all=False))
        tsel += ', kind=~"$kind"'
    out.append(query("target", "Target", f"label_values({target_metric}{{{tsel}}}, target)"))
    return {"list": out}


def annotations(line_filter=True):
    alerts_sel = 'alertname=~"Linewatch.*", alertstate="firing"'
    if line_filter:
        alerts_sel += ', line=~"$line"'
    common = {"datasource": DS, "enable": True, "hide": False, "step": "1m"}
    return {"list": [
        dict(common, name="Alerts (agent rules)", iconColor="red",
             expr=f'sum by (rule) (linewatch_alerts{{{SEL_I}, state="firing"}}) > 0',
             titleFormat="{{rule}} firing", textFormat="linewatch alert rule {{rule}}",
             tagKeys="rule"),
        dict(common, name="Alerts (Prometheus rules)", iconColor="orange",
             expr=f"ALERTS{{{alerts_sel}}}",
             titleFormat="{{alertname}} {{line}}", textFormat="severity {{severity}}",
             tagKeys="alertname,line,severity"),
        dict(common, name="Route plan changes", iconColor="blue",
             expr=f"changes(linewatch_route_plan_version{{{SEL_I}}}[{RI}]) > 0",
             titleFormat="route plan changed", textFormat="agent {{instance}}",
             tagKeys="instance"),
    ]}


def dashboard(uid, title, desc, board, templating, annos, tags):
    return {"uid": uid, "title": title, "description": desc, "tags": ["linewatch"] + tags,
            "schemaVersion": 39, "version": 1, "editable": True, "graphTooltip": 1,
            "timezone": "", "refresh": "30s", "time": {"from": "now-6h", "to": "now"},
            "timepicker": {}, "fiscalYearStartMonth": 0, "liveNow": False,
            "links": [{"type": "dashboards", "tags": ["linewatch"], "asDropdown": True,
                       "title": "linewatch", "includeVars": True, "keepTime": True}],
            "templating": templating, "annotations": annos, "panels": board.panels}


# ---------------------------------------------------------------- overview

def overview():
    b = Board()
    icmp = SEL_P + ', kind="icmp"'
    b.row("Lines")
    b.add(table("Lines now", targets(
        (line_state_code(SEL_L), ""),
        (f"max by (line) (linewatch_line_takes_traffic{{{SEL_L}}})", ""),
        (quantile(0.5, "linewatch_probe_rtt_seconds", icmp, "line", "5m"), ""),
        (quantile(0.95, "linewatch_probe_rtt_seconds", icmp, "line", "5m"), ""),
        (echo_loss_by_line(SEL_P, "5m"), ""),
        (f"max by (line) (linewatch_line_utilisation_ratio{{{SEL_L}}})", ""),
        (line_availability(SEL_P, "1h"), ""),
        (line_availability(SEL_P, "24h"), ""),
        (line_availability(SEL_P, "30d"), "")),
        ["State", "Takes traffic", "RTT median 5m", "RTT p95 5m", "Loss 5m", "Utilisation",
         "Availability 1h", "Availability 24h", "Availability 30d"],
        desc="Each line's failover state (with routes), RTT and loss of its ICMP echoes over 5 "
             "minutes, utilisation of its capacity, and availability: rounds that did not fail "
             "in the network over all rounds, as the LinewatchAvailability rule counts them.",
        overrides=[by_name("State", mappings=STATE_MAPPINGS,
                           custom__cellOptions={"type": "color-background"}),
                   by_name("Takes traffic", mappings=BOOL_MAPPINGS,
                           custom__cellOptions={"type": "color-text"}),
                   by_regexp("^RTT.*", unit="s", decimals=2),
                   by_regexp("^(Loss|Utilisation).*", unit="percentunit", decimals=2),
                   by_regexp("^Availability.*", unit="percentunit", decimals=3,
                             custom__cellOptions={"type": "color-text"},
                             thresholds={"mode": "absolute", "steps": [
                                 {"color": "red", "value": None},
                                 {"color": "orange", "value": 0.99},
                                 {"color": "green", "value": 0.999}]})]), 24, 7)
    b.add(state_timeline("Line state", targets((line_state_code(SEL_L), "{{line}}")),
                         desc="up, degraded (breaks an SLA figure) or down (silent on every "
                              "reflector). Only with routes configured."), 24, 5)
    b.add(timeseries("RTT, ICMP echoes", targets(
        (quantile(0.5, "linewatch_probe_rtt_seconds", icmp, "line"), "{{line}} median"),
        (quantile(0.95, "linewatch_probe_rtt_seconds", icmp, "line"), "{{line}} p95")), "s",
        desc="Median and p95 of every answered echo of the line's ICMP targets.",
        overrides=[by_regexp(".* p95$", custom__lineStyle={"fill": "dash", "dash": [6, 4]})]),
        12, 8)
    b.add(timeseries("Loss, ICMP echoes", targets((echo_loss_by_line(SEL_P), "{{line}}")),
                     "percentunit", desc="Echoes lost over echoes sent."), 12, 8)
    b.add(timeseries("Utilisation", targets(
        (f"linewatch_line_utilisation_ratio{{{SEL_L}}}", "{{line}}")), "percentunit",
        desc="max(rx, tx) over the line's capacity; absent without a capacity.",
        thresholds=[{"color": "green", "value": None}, {"color": "red", "value": 0.8}]), 8, 8)
    b.add(timeseries("Bandwidth", targets(
        (f"8 * linewatch_line_bandwidth_bytes_per_second{{{SEL_L}}}", "{{line}} {{direction}}"),
        (f"8 * linewatch_line_capacity_bytes_per_second{{{SEL_L}}}", "{{line}} capacity")),
        "bps", desc="Traffic on the line's interface, in bits per second, with its capacity.",
        overrides=[by_regexp(".* capacity$", custom__lineStyle={"fill": "dash", "dash": [10, 5]},
                             custom__fillOpacity=0)]), 8, 8)
    b.add(timeseries("Jitter", targets((
        f'avg by (line) (linewatch_probe_jitter_seconds{{{icmp}}})', "{{line}}")), "s",
        desc="RFC 3550 jitter of the line's ICMP series, averaged over its targets."), 8, 8)

    b.row("Route plan")
    b.add(panel("stat", "Plan version", targets(
        (f"max by (instance) (linewatch_route_plan_version{{{SEL_I}}})", "{{instance}}")),
        desc="Version of the route plan in force (0 before the first). Only with routes.",
        options={"colorMode": "none", "graphMode": "area", "reduceOptions": {
            "calcs": ["lastNotNull"], "fields": "", "values": False}}), 4, 6)
    b.add(panel("stat", "Plan panic", targets(
        (f"max by (instance) (linewatch_route_plan_panic{{{SEL_I}}})", "{{instance}}")),
        desc="1 while the plan keeps a line that takes no traffic because none better is left.",
        mappings=[{"type": "value", "options": {
            "0": {"text": "no", "color": "green", "index": 0},
            "1": {"text": "PANIC", "color": "red", "index": 1}}}],
        options={"colorMode": "background", "graphMode": "none", "reduceOptions": {
            "calcs": ["lastNotNull"], "fields": "", "values": False}}), 4, 6)
    b.add(table("Where the plan is in force", targets(
        (f"max by (gateway) (linewatch_gateway_delivered_version{{{SEL_I}}} or label_replace("
         f'linewatch_route_applied_version{{{SEL_I}}}, "gateway", "this host (apply)", "", ""))', ""),
        (f"max by (gateway) (linewatch_gateway_pending_version{{{SEL_I}}})", ""),
        (f"sum by (gateway) (increase(linewatch_gateway_push_failures_total{{{SEL_I}}}[1h]))", "")),
        ["Applied version", "Pending version", "Push failures 1h"],
        desc="Each gateway's version in force and the one waiting, and this host's own "
             "(with apply:). A gateway behind the plan version is still being pushed to."), 8, 6)
    b.add(table("Lines the plan ranks", targets(
        (f"max by (line) (linewatch_line_score{{{SEL_L}}})", ""),
        (f"max by (line) (linewatch_line_takes_traffic{{{SEL_L}}})", ""),
        (f"max by (line) (linewatch_line_alive{{{SEL_L}}})", ""),
        (f"max by (line) (linewatch_line_flap_penalty{{{SEL_L}}})", "")),
        ["Score", "Takes traffic", "Alive", "Flap penalty"], sort="Score",
        desc="Lines by score: a primary-backup route uses its best line that takes traffic.",
        overrides=[by_name("Score", decimals=3),
                   by_regexp("^(Takes traffic|Alive)$", mappings=BOOL_MAPPINGS,
                             custom__cellOptions={"type": "color-text"})]), 8, 6)
    b.add(table("Each route's lines in the plan", targets(
        (f"max by (route, line) (linewatch_route_next_hop_weight{{{SEL_L}}})", "")),
        ["Weight"], sort="Weight",
        desc="Per route (routes[].prefix) and line: the line's multipath weight in the plan in "
             "force, 0 when the route lists it but sends it nothing. A primary-backup route has "
             "one line at 1: its primary."), 12, 6)
    b.add(timeseries("Plan version and delivery", targets(
        (f"max by (instance) (linewatch_route_plan_version{{{SEL_I}}})", "plan {{instance}}"),
        (f"max by (gateway) (linewatch_gateway_delivered_version{{{SEL_I}}})", "{{gateway}}")),
        "none", step=True,
        desc="The plan version and each gateway's version in force: a step is a route change."),
        12, 6)

    b.row("Alerts")
    b.add(table("Alerts now, agent rules", targets(
        (f'sum by (rule, state) (linewatch_alerts{{{SEL_I}, state=~"pending|firing"}}) > 0', "")),
        ["Alerts"], desc="Alerts of each rule of the agent (alerts: in its config) by state."),
        8, 7)
    b.add(table("Alerts now, Prometheus rules", targets(
        ('ALERTS{alertname=~"Linewatch.*", line=~"$line"}', "")), ["Active"],
        desc="Alerts of prometheus/linewatch.rules.yml, when this Prometheus loads it."), 16, 7)
    b.add(state_timeline("Alert history, agent rules", targets((
        f'sum by (rule) (linewatch_alerts{{{SEL_I}, state="firing"}})', "{{rule}}")),
        desc="Firing alerts per rule.",
        mappings=[{"type": "value", "options": {"0": {"text": "ok", "color": "green"}}},
                  {"type": "range", "options": {"from": 1, "to": 1e9, "result": {
                      "text": "firing", "color": "red"}}}]), 16, 7)
    b.add(table("Notifications", targets(
        (f"max by (receiver) (linewatch_notify_outbox_pending{{{SEL_I}}})", ""),
        (f"max by (receiver) (linewatch_notify_outbox_parked{{{SEL_I}}})", ""),
        (f"sum by (receiver) (increase(linewatch_notify_delivered_total{{{SEL_I}}}[1h]))", ""),
        (f"sum by (receiver) (increase(linewatch_notify_failures_total{{{SEL_I}}}[1h]))", "")),
        ["Pending", "Parked", "Delivered 1h", "Failures 1h"],
        desc="The agent's outbox per receiver: alerts that fire but do not arrive show here."),
        8, 7)
    return dashboard("linewatch-overview", "linewatch / Overview",
                     "Every line's state, RTT, loss, utilisation and availability; the route plan "
                     "and where it is in force; alerts.", b,
                     variables("linewatch_probe_success", "linewatch_probe_success"),
                     annotations(), ["overview"])


# ---------------------------------------------------------------- line (SmokePing)

# SmokePing's loss colours, by share of echoes lost.
LOSS_CLASSES = [("0", "== 0", "#26ff00"), ("≤5%", "> 0 <= 0.05", "#00b8ff"),
                ("≤20%", "> 0.05 <= 0.2", "#0059ff"), ("≤50%", "> 0.2 <= 0.5", "#dd00ff"),
                (">50%", "> 0.5", "#ff0000")]


def smoke_median(sel, kind):
    """The median, one series per loss class (label `loss`), so that each
    stretch of the line takes its class's colour as SmokePing draws it."""
    median = quantile(0.5, "linewatch_probe_rtt_seconds", sel + kind, "line, target, kind")
    loss = series_loss(sel, kind)
    parts = [f'label_replace(({median}) and on (line, target, kind) ({loss} {cmp}), '
             f'"loss", "{name}", "", "")' for name, cmp, _ in LOSS_CLASSES]
    return "\n or ".join(parts)


def smokeping(sel, kind):
    band = [(q, f"p{int(q * 100)}") for q in (0.1, 0.25, 0.75, 0.9)]
    tgts = targets(*[(quantile(q, "linewatch_probe_rtt_seconds", sel + kind, "line, target, kind"),
                      name) for q, name in band],
                   (smoke_median(sel, kind), "median, loss {{loss}}"))
    no_line = {"custom__lineWidth": 0, "custom__hideFrom": {"legend": True, "tooltip": False,
                                                             "viz": False}}
    overrides = [
        by_name("p90", color=fixed("#b0b0b0"), custom__fillBelowTo="p10", custom__fillOpacity=35,
                **no_line),
        by_name("p10", color=fixed("#b0b0b0"), custom__fillOpacity=0, **no_line),
        by_name("p75", color=fixed("#707070"), custom__fillBelowTo="p25", custom__fillOpacity=45,
                **no_line),
        by_name("p25", color=fixed("#707070"), custom__fillOpacity=0, **no_line)]
    overrides += [by_name(f"median, loss {name}", color=fixed(color), custom__lineWidth=2,
                          custom__showPoints="always", custom__pointSize=3,
                          custom__fillOpacity=0) for name, _, color in LOSS_CLASSES]
    p = timeseries("$target via $line ($kind)", tgts, "s",
                   desc="SmokePing style: the smoke is the RTT spread from the histogram (light "
                        "10-90 %, dark 25-75 %), the line the median coloured by loss: green none, "
                        "cyan up to 5 %, blue up to 20 %, magenta up to 50 %, red above. Loss is "
                        "lost over sent echoes for icmp, failed rounds for other kinds.",
                   overrides=overrides, repeat="target", repeatDirection="h", maxPerRow=2)
    p["fieldConfig"]["defaults"]["custom"].update({"fillOpacity": 0, "spanNulls": False})
    p["options"]["legend"] = {"displayMode": "list", "placement": "bottom", "calcs": []}
    p["options"]["tooltip"] = {"mode": "multi", "sort": "none"}
    return p


def line():
    b = Board()
    kind = ', kind=~"$kind"'
    sel = SEL_P + kind
    b.add(state_timeline("Line state", targets((line_state_code(SEL_L), "{{line}}")),
                         desc="up, degraded or down (with routes configured)."), 24, 4)
    b.add(timeseries("Loss by target", targets((series_loss(SEL_P, kind), "{{target}} via {{line}}")),
                     "percentunit", desc="Lost over sent echoes (icmp), failed rounds (others)."),
          8, 7)
    b.add(timeseries("Jitter by target", targets((
        f"linewatch_probe_jitter_seconds{{{sel}}}", "{{target}} via {{line}}")), "s",
        desc="RFC 3550 jitter over consecutive RTTs."), 8, 7)
    b.add(timeseries("Rounds by outcome", targets((
        f"sum by (target, reason) (increase(linewatch_probe_results_total{{{sel}}}[{RI}]))",
        "{{target}} {{reason}}")), "short", bars=True, stack=True,
        desc="Probe rounds by reason (ok, or why the round failed)."), 8, 7)
    b.row("$line", repeat="line")
    b.add(smokeping(SEL_P, kind), 12, 9)
    return dashboard("linewatch-line", "linewatch / Line (SmokePing)",
                     "Per line and target, the RTT spread as smoke and the median coloured by "
                     "loss, in the SmokePing tradition.", b,
                     variables("linewatch_probe_success", "linewatch_probe_rtt_seconds_count",
                               kind_var=True), annotations(), ["smokeping"])


# ---------------------------------------------------------------- LLM endpoints

def llm():
    b = Board()
    sel = SEL_P + ', kind="llm"'
    ttft = "linewatch_llm_ttft_seconds"
    b.add(panel("stat", "Availability over the time range", targets(
        (endpoint_availability(sel, "target", "$__range"), "{{target}}")), "percentunit",
        desc="Rounds that succeeded over all rounds, every line together: an API error (401, "
             "429, 5xx) counts against the endpoint.",
        thresholds=[{"color": "red", "value": None}, {"color": "orange", "value": 0.99},
                    {"color": "green", "value": 0.999}],
        options={"colorMode": "value", "graphMode": "none", "reduceOptions": {
            "calcs": ["lastNotNull"], "fields": "", "values": False}}), 12, 5)
    b.add(table("Availability 1h / 24h / 30d", targets(
        (endpoint_availability(sel, "line, target", "1h"), ""),
        (endpoint_availability(sel, "line, target", "24h"), ""),
        (endpoint_availability(sel, "line, target", "30d"), "")),
        ["1h", "24h", "30d"], desc="Per endpoint and line: rounds that succeeded over all rounds.",
        overrides=[by_regexp("^(1h|24h|30d)$", unit="percentunit", decimals=3)]), 12, 5)
    b.add(timeseries("Time to first token", targets(
        (quantile(0.5, ttft, SEL_P, "line, target"), "{{target}} via {{line}} median"),
        (quantile(0.95, ttft, SEL_P, "line, target"), "{{target}} via {{line}} p95")), "s",
        desc="Completion rounds: from the request written to the first content token.",
        overrides=[by_regexp(".* p95$", custom__lineStyle={"fill": "dash", "dash": [6, 4]})]),
        12, 8)
    b.add(panel("heatmap", "Time to first token, distribution", [target(
        f"sum by (le) (increase({ttft}_bucket{{{SEL_P}}}[{RI}]))", "{{le}}", fmt="heatmap")],
        "s", desc="Completion rounds per TTFT bucket, every selected line and target.",
        options={"calculate": False, "yAxis": {"unit": "s"}, "cellGap": 1,
                 "color": {"mode": "scheme", "scheme": "Oranges", "fill": "dark-orange"},
                 "rowsFrame": {"layout": "auto"}, "legend": {"show": True},
                 "tooltip": {"show": True, "yHistogram": True}}), 12, 8)
    b.add(timeseries("Phase durations", targets((
        f"linewatch_probe_phase_seconds{{{sel}}}", "{{target}} via {{line}} {{phase}}")), "s",
        desc="The latest round's dns, connect, tls, ttfb, ttft, transfer and total; a phase "
             "the round never reached is absent."), 12, 8)
    b.add(panel("bargauge", "Phases of the latest round", targets((
        f"avg by (target, phase) (linewatch_probe_phase_seconds{{{sel}}})",
        "{{target}} {{phase}}"), instant=True), "s",
        desc="Averaged over the selected lines.",
        options={"displayMode": "gradient", "orientation": "horizontal", "showUnfilled": True,
                 "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}}),
        12, 8)
    b.add(timeseries("Errors by reason", targets((
        f'sum by (target, reason) (increase(linewatch_probe_results_total{{{sel}, reason!="ok"}}[{RI}]))',
        "{{target}} {{reason}}")), "short", bars=True, stack=True,
        desc="Failed rounds: auth, rate_limited, server_error and model_missing are the "
             "endpoint's; timeout, refused, tls and a stall before the first byte the line's."),
        12, 8)
    b.add(timeseries("Round time", targets((
        quantile(0.5, "linewatch_probe_rtt_seconds", sel, "line, target"),
        "{{target}} via {{line}}")), "s",
        desc="Median RTT of llm rounds: the TTFT for completion, the whole call for models."),
        12, 8)
    b.add(state_timeline("Latest round", targets((
        f"max by (line, target) (linewatch_probe_success{{{sel}}})", "{{target}} via {{line}}")),
        desc="Whether the latest round succeeded.", mappings=BOOL_MAPPINGS), 24, 6)
    return dashboard("linewatch-llm", "linewatch / LLM endpoints",
                     "Time to first token, phases, errors by reason and availability of the "
                     "LLM API endpoints, per line.", b,
                     variables("linewatch_probe_success", "linewatch_probe_success",
                               only='kind="llm", '),
                     annotations(line_filter=True), ["llm"])


# ---------------------------------------------------------------- main

def build():
    return {"overview.json": overview(), "line.json": line(), "llm.json": llm()}


def render(board):
    return json.dumps(board, indent=2, ensure_ascii=False) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when a committed dashboard differs from what this file builds")
    args = parser.parse_args()
    stale = []
    for name, board in build().items():
        path = OUT / name
        text = render(board)
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path))
        else:
            OUT.mkdir(exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if stale:
        print("stale (run python3 grafana/generate.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
