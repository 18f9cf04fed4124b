#!/usr/bin/env python3
"""Prints quitter/peer ratios of the criterion medians from the last
`cargo bench -p quitter-tokio --bench compare` run (and the memory table).

Usage: python3 quitter-tokio/benches/ratios.py [target-dir]
"""
import json
import os
import sys

target = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("CARGO_TARGET_DIR", "target")
root = os.path.join(target, "criterion")
medians = {}  # (group, impl, case) -> ns
for dirpath, _, files in os.walk(root):
    if "estimates.json" in files and os.path.basename(dirpath) == "new":
        parts = os.path.relpath(os.path.dirname(dirpath), root).split(os.sep)
        if len(parts) != 3:
            continue
        with open(os.path.join(dirpath, "estimates.json")) as f:
            medians[tuple(parts)] = json.load(f)["median"]["point_estimate"]

def fmt(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.2f} {unit}"
    return f"{ns:.1f} ns"

print(f"{'bench':<40} {'quitter':>11} {'peer':>11}  {'ratio':>6}")
for (group, impl, case), ours in sorted(medians.items()):
    if impl != "quitter":
        continue
    for peer in ("tokio_util", "floor", "raw"):
        theirs = medians.get((group, peer, case))
        if theirs:
            name = f"{group}/{case} vs {peer}"
            print(f"{name:<40} {fmt(ours):>11} {fmt(theirs):>11}  {ours / theirs:>6.2f}")
    # is_draining against is_quitting, both quitter's, from the same run.
    if group == "is_draining":
        theirs = medians.get(("is_quitting", "quitter", case))
        if theirs:
            name = f"{group}/{case} vs is_quitting"
            print(f"{name:<40} {fmt(ours):>11} {fmt(theirs):>11}  {ours / theirs:>6.2f}")

memory = os.path.join(target, "tmp", "memory.json")
if os.path.exists(memory):
    print(f"\n{'bytes per item':<40} {'quitter':>11} {'tokio-util':>11}  {'ratio':>6}")
    for name, (ours, theirs) in json.load(open(memory)).items():
        ratio = f"{ours / theirs:.2f}" if theirs else "-"
        print(f"{name:<40} {ours:>11.1f} {theirs:>11.1f}  {ratio:>6}")
