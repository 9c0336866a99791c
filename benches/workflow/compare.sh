#!/usr/bin/env bash
# Side-by-side: biaozhun's workflow audit vs pm4py's Declare conformance
# checking, on the same generated event log and the 12 rules of rules-12.yaml.
#
# Usage: benches/workflow/compare.sh ORDERS [SEED]
#
# Environment:
#   BIAOZHUN    our binary (default target/release/biaozhun; relative paths are
#               taken from the current directory if they exist there, else
#               from the repository root)
#   PM4PY_VENV  throwaway virtualenv for pm4py (default /tmp/pm4py-venv)
#   PYTHON      interpreter used to create it (default python3)
#   RULES       rule file (default benches/workflow/rules-12.yaml)
#
# Exits non-zero only when a tool fails; a disagreement is reported, not fatal.
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 || ! $1 =~ ^[0-9]+$ ]]; then
    echo "usage: $0 ORDERS [SEED]" >&2
    exit 2
fi
ORDERS=$1
SEED=${2:-1}

BZ=${BIAOZHUN:-target/release/biaozhun}
if [[ $BZ != /* && -e $BZ ]]; then BZ="$PWD/$BZ"; fi
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT"
RULES=${RULES:-benches/workflow/rules-12.yaml}
VENV=${PM4PY_VENV:-/tmp/pm4py-venv}
# Generated once and reused; a non-default seed gets its own file.
if [[ $SEED == 1 ]]; then LOG=/tmp/bz-bench-$ORDERS.csv; else LOG=/tmp/bz-bench-$ORDERS-s$SEED.csv; fi
WORK=$(mktemp -d /tmp/bz-compare.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

if [[ ! -x $BZ ]]; then
    echo "error: $BZ not found (build it, or set BIAOZHUN)" >&2
    exit 2
fi

# /usr/bin/time (GNU time, for -v) is not the shell keyword.
if [[ ! -x /usr/bin/time ]]; then
    echo "note: /usr/bin/time is missing; installing Debian's 'time' (apt-get install -y time)" >&2
    if [[ $(id -u) -eq 0 ]]; then
        apt-get update -qq && apt-get install -y -qq time >/dev/null
    else
        echo "error: run 'sudo apt-get install -y time' first" >&2
        exit 2
    fi
fi

# (a) pm4py in a throwaway virtualenv
if [[ ! -x $VENV/bin/python ]] || ! "$VENV/bin/python" -c 'import pm4py, pandas, yaml' 2>/dev/null; then
    echo "setting up $VENV (pm4py, pandas, pyyaml) ..." >&2
    [[ -x $VENV/bin/python ]] || "${PYTHON:-python3}" -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check pm4py pandas pyyaml
fi
PY=$VENV/bin/python

# (b) the log
if [[ ! -s $LOG ]]; then
    echo "generating $LOG ($ORDERS orders, seed $SEED) ..." >&2
    "$BZ" demo log --orders "$ORDERS" --seed "$SEED" --fault-rate 0.2 --out "$LOG" >&2
fi

# (c) our checker: exit 0 = conforming, 1 = violations found, anything else = failure
echo "running biaozhun ..." >&2
set +e
/usr/bin/time -v -o "$WORK/bz.time" "$BZ" audit workflow --log "$LOG" --rules "$RULES" \
    --json --quiet >"$WORK/bz.json" 2>"$WORK/bz.err"
rc=$?
set -e
if [[ $rc -ne 0 && $rc -ne 1 ]]; then
    echo "error: biaozhun failed (exit $rc):" >&2
    cat "$WORK/bz.err" "$WORK/bz.time" >&2
    exit 1
fi

# (d) pm4py
echo "running pm4py ..." >&2
set +e
/usr/bin/time -v -o "$WORK/pm.time" "$PY" "$HERE/pm4py_declare.py" "$LOG" "$RULES" \
    --cases-out "$WORK/pm.cases.json" >"$WORK/pm.json" 2>"$WORK/pm.err"
rc=$?
set -e
if [[ $rc -ne 0 ]]; then
    echo "error: pm4py_declare.py failed (exit $rc):" >&2
    cat "$WORK/pm.err" >&2
    exit 1
fi

# (e) the table
"$PY" - "$WORK" "$LOG" <<'EOF'
import json, re, sys

work, log = sys.argv[1], sys.argv[2]


def gnu_time(path):
    text = open(path, encoding="utf-8").read()
    wall = re.search(r"Elapsed \(wall clock\) time.*: (\S+)", text).group(1)
    secs = 0.0
    for part in wall.split(":"):
        secs = secs * 60 + float(part)
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1))
    return secs, rss_kb / 1024


bz = json.load(open(f"{work}/bz.json", encoding="utf-8"))
pm = json.load(open(f"{work}/pm.json", encoding="utf-8"))
pm_cases = json.load(open(f"{work}/pm.cases.json", encoding="utf-8"))
bz_wall, bz_mb = gnu_time(f"{work}/bz.time")
pm_wall, pm_mb = gnu_time(f"{work}/pm.time")
bz_events = bz["log"]["events_kept"]

print(f"log: {log}  ({bz['cases']['total']} cases)")
print()
print(f"{'tool':<10}{'events':>10}{'wall s':>10}{'events/s':>12}{'peak MB':>10}")
print(f"{'biaozhun':<10}{bz_events:>10}{bz_wall:>10.2f}{bz_events / max(bz_wall, 1e-9):>12.0f}{bz_mb:>10.1f}")
print(f"{'pm4py':<10}{pm['events']:>10}{pm_wall:>10.2f}{pm['events'] / max(pm_wall, 1e-9):>12.0f}{pm_mb:>10.1f}")
print(f"  pm4py {pm['version']}: load {pm['load_s']:.2f} s, check {pm['check_s']:.2f} s "
      f"(rest is interpreter start-up and imports)")
if pm["events"] != bz_events:
    print(f"  note: event counts differ (biaozhun kept {bz_events}, pm4py {pm['events']})")
print()

width = max(len(r["id"]) for r in bz["rules"])
print(f"{'rule':<{width}}  {'template':<20}{'biaozhun':>9}{'pm4py':>9}  agree")
disagree = []
for r in bz["rules"]:
    rid = r["id"]
    mine = r["violated"]
    theirs = pm["violated"].get(rid)
    if theirs is None:
        verdict = "n/a (" + pm.get("unsupported", {}).get(rid, "not in pm4py model") + ")"
        theirs_s = "-"
    else:
        same_sets = {c["case"] for c in r["violating_cases"]} == set(pm_cases[rid])
        verdict = "yes" if mine == theirs and same_sets else "NO"
        if verdict == "NO":
            disagree.append(r)
        theirs_s = str(theirs)
    print(f"{rid:<{width}}  {r['template']:<20}{mine:>9}{theirs_s:>9}  {verdict}")

for r in disagree:
    mine = {c["case"] for c in r["violating_cases"]}
    theirs = set(pm_cases[r["id"]])
    only_bz, only_pm = sorted(mine - theirs), sorted(theirs - mine)
    print(f"\n{r['id']}: {len(only_bz)} cases only biaozhun flags"
          + (f" (e.g. {only_bz[0]})" if only_bz else "")
          + f", {len(only_pm)} only pm4py flags"
          + (f" (e.g. {only_pm[0]})" if only_pm else ""))
print()
print("all rules agree" if not disagree else f"{len(disagree)} rule(s) disagree")
EOF
