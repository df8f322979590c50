"""Prints an investigation (GET /api/v1/investigations/{id}, JSON on stdin) for humans."""
import json
import sys

d = json.load(sys.stdin)
inv = d["investigation"]
print("Investigation %s: %s" % (inv["id"], inv["title"]))
print("  status: %s   evidence items: %d   events: %d" % (inv["status"], len(d["evidence"]), d["events_count"]))
for a in d["alarms"]:
    print("  alarm [%s] %s" % (a["severity"], a["title"]))
v = inv.get("verdict") or {}
print("  VERDICT: %s (score %s)" % (v.get("verdict"), v.get("score")))
for r in v.get("reasons", []):
    print("    - " + r)
