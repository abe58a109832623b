#!/usr/bin/env python3
"""Draws a `weft --trace` file as a self-contained HTML page with an SVG
timeline: one row per track (each worker, outside, I/O), a box for every
task segment coloured by the task's name, I/O operations stacked in lanes
on the I/O row, and flow arrows from a spawn or wake to the run it causes.
A legend lists the busiest task names. No network, no script: any browser
(or headless Chromium, scripts/trace_screenshot.sh) shows it.

  trace_to_html.py TRACE.json OUT.html [--title TEXT] [--max-flows N]
"""
import argparse
import hashlib
import html
import json
from collections import defaultdict

WIDTH = 1500
LEFT = 190
ROW = 46
LANE = 9
TOP = 70


def colour(name):
    digest = hashlib.md5(name.encode()).digest()
    return "hsl(%d,62%%,%d%%)" % (digest[0] * 360 // 256, 42 + digest[1] % 18)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("trace")
    parser.add_argument("out")
    parser.add_argument("--title", default="weft --trace")
    parser.add_argument("--max-flows", type=int, default=400)
    args = parser.parse_args()

    events = json.load(open(args.trace))["traceEvents"]
    names = {e["tid"]: e["args"]["name"] for e in events
             if e["ph"] == "M" and e["name"] == "thread_name"}
    slices = [e for e in events if e["ph"] == "X"]
    if not slices:
        raise SystemExit("no slices in " + args.trace)
    start = min(e["ts"] for e in slices)
    end = max(e["ts"] + e["dur"] for e in slices)
    span = max(end - start, 1.0)
    scale = (WIDTH - LEFT - 20) / span

    def x(ts):
        return LEFT + (ts - start) * scale

    # Rows: tracks with events, in track order; the I/O row gets lanes.
    used = sorted({e["tid"] for e in slices} | {e["tid"] for e in events if e["ph"] in "sf"})
    io_tid = next((t for t, n in names.items() if n == "I/O"), None)
    io_lanes = []
    io_lane_of = {}
    for e in sorted((e for e in slices if e["tid"] == io_tid), key=lambda e: e["ts"]):
        for lane, lane_end in enumerate(io_lanes):
            if lane_end <= e["ts"]:
                io_lanes[lane] = e["ts"] + e["dur"]
                io_lane_of[id(e)] = lane
                break
        else:
            io_lanes.append(e["ts"] + e["dur"])
            io_lane_of[id(e)] = len(io_lanes) - 1
    row_top = {}
    y = TOP
    for tid in used:
        row_top[tid] = y
        y += max(ROW, (len(io_lanes) * LANE + 10) if tid == io_tid else ROW)
    height = y + 150

    totals = defaultdict(float)
    for e in slices:
        if e["cat"] == "task":
            totals[e["name"]] += e["dur"]

    svg = []
    svg.append('<rect x="0" y="0" width="%d" height="%d" fill="#fbfbfd"/>' % (WIDTH, height))
    svg.append('<text x="16" y="30" font-size="20" font-weight="bold">%s</text>' %
               html.escape(args.title))
    svg.append('<text x="16" y="52" font-size="13" fill="#555">%d task segments, %d I/O '
               'operations, %.1f ms shown; arrows: spawn or wake to the run it causes</text>' % (
                   sum(1 for e in slices if e["cat"] == "task"),
                   sum(1 for e in slices if e["cat"] == "io"), span / 1000.0))
    for tid in used:
        top = row_top[tid]
        h = max(ROW, (len(io_lanes) * LANE + 10) if tid == io_tid else ROW)
        svg.append('<rect x="%d" y="%d" width="%d" height="%d" fill="%s"/>' % (
            LEFT, top, WIDTH - LEFT - 20, h - 4, "#eef0f5" if tid != io_tid else "#f3efe6"))
        svg.append('<text x="12" y="%d" font-size="14">%s</text>' % (
            top + h / 2 + 4, html.escape(names.get(tid, str(tid)))))
    for e in slices:
        top = row_top[e["tid"]]
        w = max(e["dur"] * scale, 0.6)
        if e["tid"] == io_tid:
            lane = io_lane_of.get(id(e), 0)
            svg.append('<rect x="%.2f" y="%d" width="%.2f" height="%d" fill="%s">'
                       '<title>%s</title></rect>' % (
                           x(e["ts"]), top + 4 + lane * LANE, w, LANE - 2, colour(e["name"]),
                           html.escape(e["name"])))
        else:
            svg.append('<rect x="%.2f" y="%d" width="%.2f" height="%d" fill="%s">'
                       '<title>%s</title></rect>' % (
                           x(e["ts"]), top + 6, w, ROW - 16, colour(e["name"]),
                           html.escape(e["name"])))
    starts = {e["id"]: e for e in events if e["ph"] == "s"}
    ends = [e for e in events if e["ph"] == "f" and e["id"] in starts]
    step = max(1, len(ends) // max(args.max_flows, 1))
    for e in ends[::step]:
        s = starts[e["id"]]
        y1 = row_top[s["tid"]] + ROW / 2
        y2 = row_top[e["tid"]] + ROW / 2
        svg.append('<line x1="%.2f" y1="%.1f" x2="%.2f" y2="%.1f" stroke="#222" '
                   'stroke-opacity="0.35" stroke-width="0.8" marker-end="url(#arrow)"/>' % (
                       x(s["ts"]), y1, x(e["ts"]), y2))
    # Axis and legend.
    axis_y = y + 8
    for i in range(11):
        ts = start + span * i / 10
        svg.append('<text x="%.1f" y="%d" font-size="11" fill="#555" text-anchor="middle">'
                   '%.1f ms</text>' % (x(ts), axis_y + 12, (ts - start) / 1000.0))
    legend_y = axis_y + 40
    for i, (name, total) in enumerate(sorted(totals.items(), key=lambda kv: -kv[1])[:8]):
        lx = 16 + (i % 4) * 370
        ly = legend_y + (i // 4) * 24
        svg.append('<rect x="%d" y="%d" width="14" height="14" fill="%s"/>' % (
            lx, ly - 11, colour(name)))
        svg.append('<text x="%d" y="%d" font-size="12">%s (%.1f ms)</text>' % (
            lx + 20, ly, html.escape(name[:44]), total / 1000.0))

    page = """<!doctype html>
<html><head><meta charset="utf-8"><title>%s</title></head>
<body style="margin:0;font-family:sans-serif">
<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif">
<defs><marker id="arrow" markerWidth="6" markerHeight="6" refX="5" refY="3" orient="auto">
<path d="M0,0 L6,3 L0,6 z" fill="#222" fill-opacity="0.5"/></marker></defs>
%s
</svg></body></html>
""" % (html.escape(args.title), WIDTH, height, "\n".join(svg))
    with open(args.out, "w") as f:
        f.write(page)


if __name__ == "__main__":
    main()
