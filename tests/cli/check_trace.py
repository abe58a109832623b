#!/usr/bin/env python3
"""Checks a `weft --trace` file: it parses as Chrome trace-event JSON and its
events are consistent.

  check_trace.py TRACE.json [--name REGEX]... [--io REGEX]...

  - every track has a thread_name; one of them is the I/O track;
  - slices (ph X) have a non-negative duration and do not overlap on their
    track (a worker runs one task segment at a time);
  - every task's segments are in order and never overlap (a task never runs
    on two workers at once);
  - every flow id has exactly one start (ph s) and one end (ph f), the start
    no later than the end, and the end at the start of a task segment on its
    track (the run the flow leads to);
  - --name: some task segment's name matches REGEX (e.g. the source location
    of an async block); --io: some slice on the I/O track matches REGEX.
Exits 1 with a reason on the first inconsistency.
"""
import argparse
import json
import re
import sys
from collections import defaultdict

EPSILON = 0.0015  # microseconds: timestamps are written with 3 decimals


def fail(message):
    print("check_trace: " + message)
    sys.exit(1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("trace")
    parser.add_argument("--name", action="append", default=[])
    parser.add_argument("--io", action="append", default=[])
    args = parser.parse_args()

    with open(args.trace) as f:
        document = json.load(f)
    events = document["traceEvents"]

    names = {e["tid"]: e["args"]["name"] for e in events
             if e["ph"] == "M" and e["name"] == "thread_name"}
    io_tracks = [tid for tid, name in names.items() if name == "I/O"]
    if len(io_tracks) != 1:
        fail("expected one I/O track, found %r" % names)
    io_track = io_tracks[0]

    slices_by_track = defaultdict(list)
    segments_by_task = defaultdict(list)
    starts_by_track = defaultdict(set)
    flow_starts = defaultdict(list)
    flow_ends = defaultdict(list)
    for e in events:
        if e["tid"] not in names:
            fail("event on a track without a name: %r" % e)
        if e["ph"] == "X":
            if e["dur"] < 0:
                fail("negative duration: %r" % e)
            slices_by_track[e["tid"]].append(e)
            if e["cat"] == "task":
                segments_by_task[e["args"]["task"]].append(e)
                starts_by_track[e["tid"]].add(round(e["ts"], 3))
        elif e["ph"] == "s":
            flow_starts[e["id"]].append(e)
        elif e["ph"] == "f":
            flow_ends[e["id"]].append(e)

    for tid, slices in slices_by_track.items():
        if tid == io_track:
            continue  # I/O operations overlap: many are in flight at once
        slices.sort(key=lambda e: e["ts"])
        for a, b in zip(slices, slices[1:]):
            if a["ts"] + a["dur"] > b["ts"] + EPSILON:
                fail("overlapping slices on track %s: %r and %r" % (names[tid], a, b))
    for task, segments in segments_by_task.items():
        segments.sort(key=lambda e: e["ts"])
        for a, b in zip(segments, segments[1:]):
            if a["ts"] + a["dur"] > b["ts"] + EPSILON:
                fail("task %s runs twice at once: %r and %r" % (task, a, b))
    for flow in set(flow_starts) | set(flow_ends):
        s, f = flow_starts.get(flow, []), flow_ends.get(flow, [])
        if len(s) != 1 or len(f) != 1:
            fail("flow %s has %d starts and %d ends" % (flow, len(s), len(f)))
        if s[0]["ts"] > f[0]["ts"] + EPSILON:
            fail("flow %s ends before it starts: %r %r" % (flow, s[0], f[0]))
        if round(f[0]["ts"], 3) not in starts_by_track[f[0]["tid"]]:
            fail("flow %s does not end at the start of a segment: %r" % (flow, f[0]))

    task_names = {e["name"] for slices in slices_by_track.values() for e in slices
                  if e["cat"] == "task"}
    io_names = {e["name"] for e in slices_by_track.get(io_track, [])}
    for pattern in args.name:
        if not any(re.search(pattern, n) for n in task_names):
            fail("no task segment named like %r; names: %r" % (pattern, sorted(task_names)[:20]))
    for pattern in args.io:
        if not any(re.search(pattern, n) for n in io_names):
            fail("no I/O slice named like %r; names: %r" % (pattern, sorted(io_names)[:20]))

    print("check_trace: %d events, %d tasks, %d flows, %d I/O slices: consistent" % (
        len(events), len(segments_by_task), len(flow_starts),
        len(slices_by_track.get(io_track, []))))


if __name__ == "__main__":
    main()
