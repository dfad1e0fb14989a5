#!/usr/bin/env python3
"""Checks on what headless Chromium made of the built-in page.

  page_check.py png FILE
      FILE is a PNG of a drawn page, not a blank one.
  page_check.py agent DOM --line L ... --chart LINE/TARGET/KIND ... [--lost-chart ...]
      every line's row shows its state, every chart named is drawn with data
      (data-points > 0, a tooltip with the loss per step, and a median path
      with points, or for a --lost-chart every step in the 100 % loss
      colour), and there is no other chart.
  page_check.py fixture DOM URL [--range R]
      the charts drawn from tests/support/page_fixture.py (at URL) match its
      series documents step by step: points, gaps, loss colours, columns
      where nothing answered, tooltips, the empty and the failed series.
"""
import argparse
import datetime
import html.parser
import re
import json
import struct
import sys
import urllib.parse
import urllib.request
import zlib

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}
# SmokePing's loss colours as the page draws them: (highest share, colour).
LOSS_COLOURS = [(0, "#26ff00"), (0.05, "#00b8ff"), (0.10, "#0059ff"), (0.15, "#5e00ff"),
                (0.20, "#7e00ff"), (0.50, "#dd00ff"), (1, "#ff0000")]
NO_LOSS_FIGURE = "#808080"


class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent, self.children, self.text = tag, dict(attrs), parent, [], ""

    def walk(self):
        yield self
        for c in self.children:
            yield from c.walk()

    def find(self, tag=None, class_=None, id=None):
        """Nodes below (and including) this one with that tag, class and id."""
        for n in self.walk():
            if ((tag is None or n.tag == tag) and
                    (class_ is None or class_ in (n.attrs.get("class") or "").split()) and
                    (id is None or n.attrs.get("id") == id)):
                yield n

    def all_text(self):
        return self.text + "".join(c.all_text() for c in self.children)


class Tree(html.parser.HTMLParser):
    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {}, None)
        self.at = self.root
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs, self.at)
        self.at.children.append(node)
        if tag not in VOID:
            self.at = node

    def handle_startendtag(self, tag, attrs):
        self.at.children.append(Node(tag, attrs, self.at))

    def handle_endtag(self, tag):
        n = self.at
        while n is not None and n.tag != tag:
            n = n.parent
        if n is not None and n.parent is not None:
            self.at = n.parent

    def handle_data(self, data):
        self.at.text += data


def fail(message):
    print(f"FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def check(cond, message):
    if not cond:
        fail(message)


def loss_colour(loss):
    if loss is None:
        return NO_LOSS_FIGURE
    return next(c for up_to, c in LOSS_COLOURS if loss <= up_to + 1e-12)


def charts(root):
    return {(s.attrs["data-line"], s.attrs["data-target"], s.attrs["data-kind"]): s
            for s in root.find("svg", class_="chart")}


def paths(svg, cls):
    return [p for p in svg.find("path") if cls in p.attrs.get("class", "").split()]


def hover_titles(svg):
    group = next(svg.find("g", class_="hover"))
    rects = [r for r in group.children if r.tag == "rect"]
    return rects, [r.children[0].all_text() if r.children else "" for r in rects]


def common(root):
    error = next(root.find("p", id="error"))
    check("hidden" in error.attrs, f"the page shows an error: {error.all_text()}")
    body = next(root.find("body"))
    check(int(body.attrs.get("data-loaded", "0")) >= 1, "the page never finished loading its data")


def lines_shown(root, want):
    rows = {r.attrs["data-line"]: r for r in root.find("tr") if "data-line" in r.attrs}
    for line in want:
        check(line in rows, f"line {line} has no row in the lines table")
        badge = next(rows[line].find("span", class_="state"))
        state = badge.all_text().strip()
        check(state in ("up", "down", "unknown"), f"line {line}'s state is {state!r}")
        check("state-" + state in badge.attrs["class"], f"line {line}'s badge lacks its class")
    check(set(rows) == set(want), f"lines shown {sorted(rows)}, want {sorted(want)}")
    return {line: next(rows[line].find("span", class_="state")).all_text().strip() for line in want}


def cmd_png(args):
    data = open(args.file, "rb").read()
    check(data[:8] == b"\x89PNG\r\n\x1a\n", f"{args.file}: not a PNG")
    width, height = struct.unpack(">II", data[16:24])
    pos, idat = 8, b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    pixels = zlib.decompress(idat)
    check(width >= 800 and height >= 600, f"{args.file}: {width}x{height}")
    # A blank page is one colour: a handful of distinct bytes at most.
    check(len(set(pixels)) > 64, f"{args.file}: {len(set(pixels))} distinct bytes, a blank page?")
    print(f"page_check: {args.file} {width}x{height}, {len(data)} bytes")


def cmd_agent(args):
    root = Tree(open(args.dom).read()).root
    common(root)
    states = lines_shown(root, args.line)
    drawn = charts(root)
    answering = {tuple(c.split("/")) for c in args.chart}
    failing = {tuple(c.split("/")) for c in args.lost_chart or []}
    check(set(drawn) == answering | failing,
          f"charts drawn {sorted(drawn)}, want {sorted(answering | failing)}")
    for key, svg in sorted(drawn.items()):
        name = "/".join(key)
        n = int(svg.attrs["data-points"])
        check(n > 0, f"chart {name} has no point")
        medians = paths(svg, "median")
        columns = paths(svg, "lost")
        steps = sum(int(p.attrs["data-steps"]) for p in medians)
        lost = sum(int(p.attrs["data-steps"]) for p in columns)
        check(steps + lost == n, f"chart {name}: {steps} + {lost} steps drawn of {n}")
        _, titles = hover_titles(svg)
        check(len(titles) == n and all("loss " in t for t in titles),
              f"chart {name}: {len(titles)} tooltips with loss for {n} points")
        if key in answering:
            check(steps > 0 and all(re.fullmatch(r"(M[0-9. ]+H[0-9.]+(V[0-9.]+)?)+", p.attrs["d"])
                                    for p in medians), f"chart {name} has no median path")
        else:
            # Every step lost everything: drawn in SmokePing's red, 100 % in its tooltip.
            colours = {p.attrs["stroke"] for p in medians} | {p.attrs["fill"] for p in columns}
            check(colours == {LOSS_COLOURS[-1][1]}, f"chart {name}: colours {colours}")
            check(all("loss 100 %" in t for t in titles), f"chart {name}: tooltips {titles[:2]}")
        print(f"page_check: {name}: {n} points, {steps} with a median, {lost} with no answer")
    print(f"page_check: lines {states}")


def series(url, line, target, kind, since):
    q = urllib.parse.urlencode({"line": line, "target": target, "kind": kind, "since": since})
    with urllib.request.urlopen(f"{url}/api/v1/series?{q}", timeout=10) as r:
        return json.load(r)


def has_median(p):
    return p["rtt_ms"] is not None and p["rtt_ms"]["median"] is not None


def cmd_fixture(args):
    root = Tree(open(args.dom).read()).root
    common(root)
    states = lines_shown(root, ["lo-a", "lo-b", "lo-c"])
    check(states == {"lo-a": "up", "lo-b": "down", "lo-c": "unknown"}, f"states {states}")
    legend = next(root.find("ul", id="legend"))
    colours = [p.attrs["stroke"] for p in legend.find("path")]
    check(colours == [c for _, c in LOSS_COLOURS] + [NO_LOSS_FIGURE], f"legend colours {colours}")
    check(len(list(legend.find("rect"))) == 3, "the legend lacks the three RTT bands")

    failed = [f for f in root.find("figure") if "data-error" in f.attrs]
    check(len(failed) == 1 and failed[0].attrs["data-line"] == "lo-a" and
          "500 storage: database is locked" in failed[0].attrs["data-error"],
          "the failed series is not shown as failed with its error")
    drawn = charts(root)
    with urllib.request.urlopen(f"{args.url}/api/v1/targets", timeout=10) as r:
        targets = json.load(r)["targets"]
    want = {(line, t["target"], k) for t in targets for line in t["lines"] for k in t["kinds"]}
    want.discard(("lo-a", "web", "http"))
    check(set(drawn) == want, f"charts {sorted(drawn)}, want {sorted(want)}")
    for key, svg in sorted(drawn.items()):
        doc = series(args.url, *key, args.range)
        name = "/".join(key)
        pts = doc["points"]
        step = doc["step_s"]
        check(svg.attrs["data-points"] == str(len(pts)), f"{name}: data-points")
        check(svg.attrs["data-step-s"] == str(step), f"{name}: data-step-s")
        # Loss colour of every step, median or column.
        want_median, want_lost = {}, {}
        for p in pts:
            bucket = want_median if has_median(p) else want_lost
            colour = loss_colour(p["loss"])
            bucket[colour] = bucket.get(colour, 0) + 1
        got_median = {p.attrs["stroke"]: int(p.attrs["data-steps"]) for p in paths(svg, "median")}
        got_lost = {p.attrs["fill"]: int(p.attrs["data-steps"]) for p in paths(svg, "lost")}
        check(got_median == want_median, f"{name}: median steps by colour {got_median}, want {want_median}")
        check(got_lost == want_lost, f"{name}: no-answer columns {got_lost}, want {want_lost}")
        # Gaps: the median runs on (a V after the step's level) only to the very next step.
        ms = [datetime.datetime.fromisoformat(p["t"].replace("Z", "+00:00")).timestamp()
              for p in pts]
        joins = sum(1 for i in range(len(pts) - 1)
                    if has_median(pts[i]) and has_median(pts[i + 1]) and ms[i + 1] - ms[i] <= step)
        got_joins = sum(p.attrs["d"].count("V") for p in paths(svg, "median"))
        check(got_joins == joins, f"{name}: {got_joins} joins, want {joins} (gaps drawn wrong)")
        alone = sum(1 for i, p in enumerate(pts) if has_median(p) and
                    not (i > 0 and has_median(pts[i - 1]) and ms[i] - ms[i - 1] <= step) and
                    not (i + 1 < len(pts) and has_median(pts[i + 1]) and ms[i + 1] - ms[i] <= step))
        dots = len(list(svg.find("circle", class_="dot")))
        check(dots == alone, f"{name}: {dots} dots for {alone} steps alone between gaps")
        # A tooltip per step, with its loss.
        _, titles = hover_titles(svg)
        check(len(titles) == len(pts), f"{name}: {len(titles)} tooltips for {len(pts)} points")
        for p, title in zip(pts, titles):
            if p["loss"] is None:
                check("loss – (0 of 0 lost)" in title, f"{name}: tooltip {title!r}")
            elif p["loss"] == 1:
                check("loss 100 % (" in title and "no RTT" in title, f"{name}: tooltip {title!r}")
            elif p["loss"] == 0:
                check("loss 0 % (0 of" in title, f"{name}: tooltip {title!r}")
            else:
                check(f"({p['lost']} of {p['sent']} lost)" in title, f"{name}: tooltip {title!r}")
        if not pts:
            check("no rounds stored" in svg.all_text(), f"{name}: an empty chart says nothing")
        print(f"page_check: {name} ({args.range}): {len(pts)} points, {joins} joins, "
              f"{sum(want_lost.values())} no-answer steps, {dots} dots")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("png")
    p.add_argument("file")
    p = sub.add_parser("agent")
    p.add_argument("dom")
    p.add_argument("--line", action="append", required=True)
    p.add_argument("--chart", action="append", required=True, help="LINE/TARGET/KIND answering")
    p.add_argument("--lost-chart", action="append", help="LINE/TARGET/KIND never answering")
    p = sub.add_parser("fixture")
    p.add_argument("dom")
    p.add_argument("url")
    p.add_argument("--range", default="3h")
    args = parser.parse_args()
    {"png": cmd_png, "agent": cmd_agent, "fixture": cmd_fixture}[args.cmd](args)


if __name__ == "__main__":
    main()
