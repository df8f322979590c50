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
story = d.get("story") or {}
corr = story.get("correlation")
if corr:
    print("  correlated with the alert: %d event(s)" % corr["total"])
for chain in story.get("chains", [])[:5]:
    print("  root cause: " + chain["summary"])
scope = story.get("scope") or {}
if scope.get("events"):
    print("  scope: hosts %s; users %s; addresses %s" % (
        ", ".join(e["value"] for e in scope["hosts"][:5]),
        ", ".join(e["value"] for e in scope["users"][:5]),
        ", ".join("%s (%s)" % (i["ip"], i["locality"]) for i in scope["ips"][:5]),
    ))
