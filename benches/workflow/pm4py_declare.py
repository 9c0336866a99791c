#!/usr/bin/env python3
"""Run pm4py's Declare conformance checking on a biaozhun CSV event log.

Usage:
    pm4py_declare.py LOG.csv RULES.yaml [--cases-out FILE.json]

Reads the log with pandas, orders each case by (parsed UTC instant, file
order), translates the untimed rules of RULES.yaml (biaozhun's format) into a
pm4py Declare model, runs pm4py.conformance_declare and prints one JSON object:

    {"tool": "pm4py", "version": ..., "events": ..., "rows_skipped": ..., "cases": ...,
     "load_s": ..., "check_s": ..., "total_s": ..., "peak_rss_mb": ...,
     "violated": {"<rule id>": <violating cases>, ...},
     "unsupported": {"<rule id>": "<why>", ...}}

With --cases-out, also writes {"<rule id>": [violating case ids, sorted]} to
FILE.json (compare.sh uses it to show an example case when the tools differ).
"""

import argparse
import json
import resource
import sys
import time

T0 = time.perf_counter()

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pm4py  # noqa: E402  (its welcome banner goes to stderr)
import yaml  # noqa: E402
from pm4py.algo.discovery.declare import templates as T  # noqa: E402

CASE, ACT, TS, ROW = "case_id", "activity", "timestamp", "__row"


def declare_model(rules_path):
    """Our rules -> (pm4py model dict, {(pm4py template, key): [rule ids]}, unsupported).

    In our format `activation` is the event that triggers the constraint and
    `target` the other one.  pm4py keys are (a, b) in Declare's argument order;
    unary templates are keyed by the bare activity name (pm4py's checker tests
    `act in trace` / `trace[0] != act`, so a 1-tuple would never match).
    """
    with open(rules_path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    model, owners, unsupported = {}, {}, {}
    for r in doc.get("rules", []):
        rid, tpl = r["id"], r["template"]
        act, tgt = r.get("activation"), r.get("target")
        if r.get("window") or r.get("correlation"):
            unsupported[rid] = "time window / correlation"
            continue
        if not isinstance(act, str) or (tgt is not None and not isinstance(tgt, str)):
            unsupported[rid] = "activity lists or `when` conditions"
            continue
        n = r.get("n")
        if tpl == "init":
            key, name = act, T.INIT
        elif tpl == "existence" and (n is None or n == 1):
            key, name = act, T.EXISTENCE
        elif tpl == "exactly" and n == 1:
            key, name = act, T.EXACTLY_ONE
        elif tpl == "absence" and (n is None or n == 1):
            # ours: fewer than n occurrences; pm4py's absence: none at all
            key, name = act, T.ABSENCE
        elif tpl == "precedence":  # every activation preceded by target
            key, name = (tgt, act), T.PRECEDENCE
        elif tpl == "alternate_precedence":
            key, name = (tgt, act), T.ALTPRECEDENCE
        elif tpl == "chain_precedence":
            key, name = (tgt, act), T.CHAINPRECEDENCE
        elif tpl == "response":
            key, name = (act, tgt), T.RESPONSE
        elif tpl == "alternate_response":
            key, name = (act, tgt), T.ALTRESPONSE
        elif tpl == "chain_response":
            key, name = (act, tgt), T.CHAINRESPONSE
        elif tpl == "responded_existence":
            key, name = (act, tgt), T.RESPONDED_EXISTENCE
        elif tpl == "co_existence":
            key, name = (act, tgt), T.COEXISTENCE
        elif tpl == "not_co_existence":
            key, name = (act, tgt), T.NONCOEXISTENCE
        else:
            unsupported[rid] = f"template {tpl}" + (f" n={n}" if n is not None else "")
            continue
        model.setdefault(name, {})[key] = {"support": 1.0, "confidence": 1.0}
        owners.setdefault((name, key), []).append(rid)
    return model, owners, unsupported


def load(log_path):
    df = pd.read_csv(log_path, usecols=[CASE, ACT, TS], dtype=str, keep_default_na=False)
    rows = len(df)
    df[ROW] = np.arange(rows, dtype=np.int64)
    df[TS] = pd.to_datetime(df[TS], utc=True, format="ISO8601", errors="coerce")
    # Like our checker, skip rows without a case, an activity or a readable instant.
    bad = df[TS].isna() | (df[CASE] == "") | (df[ACT] == "")
    if bad.any():
        df = df[~bad]
    # Within a case, ties in the instant keep file order.
    df = df.sort_values([CASE, TS, ROW], kind="stable", ignore_index=True)
    df = pm4py.format_dataframe(df, case_id=CASE, activity_key=ACT, timestamp_key=TS)
    return df, rows - len(df)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("log")
    ap.add_argument("rules")
    ap.add_argument("--cases-out", help="write each rule's violating case ids here (JSON)")
    args = ap.parse_args()

    model, owners, unsupported = declare_model(args.rules)

    t_load = time.perf_counter()
    df, skipped = load(args.log)
    t_check = time.perf_counter()
    result = pm4py.conformance_declare(df, model, return_diagnostics_dataframe=False)
    t_end = time.perf_counter()

    # pm4py returns one dict per case, in the order of np.unique over the case
    # column (the dataframe is sorted by case); each has "deviations": a list of
    # [template, key] for every constraint that case violates.
    case_ids = np.unique(df["case:concept:name"].to_numpy())
    if len(case_ids) != len(result):
        sys.exit(f"pm4py returned {len(result)} results for {len(case_ids)} cases")
    violating = {rid: [] for rids in owners.values() for rid in rids}
    for cid, res in zip(case_ids, result):
        for tpl, key in res["deviations"]:
            key = tuple(key) if isinstance(key, list) else key
            for rid in owners[(tpl, key)]:
                violating[rid].append(str(cid))

    out = {
        "tool": "pm4py",
        "version": pm4py.__version__,
        "pandas": pd.__version__,
        "events": int(len(df)),
        "rows_skipped": int(skipped),
        "cases": int(len(case_ids)),
        "load_s": round(t_check - t_load, 4),
        "check_s": round(t_end - t_check, 4),
        "total_s": round(time.perf_counter() - T0, 4),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "violated": {rid: len(v) for rid, v in violating.items()},
        "unsupported": unsupported,
    }
    if args.cases_out:
        with open(args.cases_out, "w", encoding="utf-8") as f:
            json.dump({rid: sorted(v) for rid, v in violating.items()}, f, ensure_ascii=False)
    json.dump(out, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
