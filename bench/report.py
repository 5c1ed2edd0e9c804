"""The results as one table of figures next to their baselines and targets, plus the details."""

from __future__ import annotations

import math
from typing import Any

# "≈ 1.0 token request per lifetime" is read as at most 1.2.
TOKENS_PER_LIFETIME_TARGET = 1.2


def _met(ok: bool | None) -> str:
    return "—" if ok is None else ("yes" if ok else "**no**")


def target_rows(results: dict) -> list[dict[str, Any]]:
    """One row per figure with a target: measured, baseline(s) of the same run, target, met."""
    rows: list[dict[str, Any]] = []
    tokens = results.get("tokens")
    if tokens:
        p = tokens["peers"]
        product = p["product"]["requests_per_lifetime"]
        rows.append({
            "figure": f"token requests per token lifetime ({tokens['events']} events, "
                      f"{tokens['token_lifetime']:g} s tokens, concurrency {tokens['concurrency']})",
            "product": f"{product} ({p['product']['token_requests']} in {p['product']['lifetimes_spanned']} lifetimes)",
            "baseline": f"naive {p['naive']['requests_per_lifetime']} · auth0-python "
                        f"{p['auth0_python']['requests_per_lifetime']}",
            "target": f"≈ 1.0 (≤ {TOKENS_PER_LIFETIME_TARGET})",
            "met": product is not None and product <= TOKENS_PER_LIFETIME_TARGET})
    calls = results.get("calls")
    if calls:
        obo, legacy = calls["modes"]["on_behalf_of"], calls["modes"]["legacy_resource_server"]
        rows.append({
            "figure": f"Management API calls per new API, on_behalf_of ({obo['new_apis']} APIs)",
            "product": f"{obo['calls_per_new_api']}",
            "baseline": f"legacy_resource_server {legacy['calls_per_new_api']}",
            "target": "≤ 2", "met": obo["calls_per_new_api"] <= 2})
    drain = results.get("drain")
    if drain:
        for bucket, d in drain["buckets"].items():
            rows.append({
                "figure": f"drain of {d['apis']} new APIs, {bucket} bucket (burst {d['burst']}, {d['rate_per_s']:g}/s)",
                "product": f"{d['ratio']} × ideal ({d['drain_s']} s; dead-lettered {d['dead_lettered']}, "
                           f"lost {d['lost']}, 429s {d['rate_limited_429']})",
                "baseline": f"ideal {d['ideal_s']} s",
                "target": "≤ 1.15 × ideal, 0 dead-lettered",
                "met": d["ratio"] is not None and d["ratio"] <= 1.15 and d["dead_lettered"] == 0 and d["lost"] == 0})
    share = results.get("share")
    if share:
        rows += _share_rows(share)
    cold = results.get("cold")
    if cold:
        probes = cold["probes"]
        handler = probes["worker handler (import app)"]["median_ms"]
        rows.append({
            "figure": f"cold init of the worker handler (median of {cold['runs']})",
            "product": f"{handler} ms = {cold['ratio_to_import_boto3']} × import boto3",
            "baseline": f"import boto3 {probes['import boto3']['median_ms']} ms",
            "target": "≤ 1.5 × import boto3", "met": cold["ratio_to_import_boto3"] <= 1.5})
        rows.append({
            "figure": "cold init vs the auth0-python peer's import",
            "product": f"{cold['ratio_to_auth0_python_import']} × auth0-python",
            "baseline": f"auth0-python import {probes['auth0-python import']['median_ms']} ms",
            "target": "≤ 0.6 × auth0-python", "met": cold["ratio_to_auth0_python_import"] <= 0.6})
    first = results.get("first_record")
    if first:
        c = first["contenders"]
        naive, sdk = c["naive"]["import_and_first_invocation"], c["auth0_python"]["import_and_first_invocation"]
        for name in ("product, token cache empty", "product, token cache warm"):
            p = c[name]
            rows.append({
                "figure": f"cold start to the first record's outcome, {name.split(', ')[1]} (import + first "
                          f"invocation, median of {first['runs']} fresh processes)",
                "product": f"{p['import_and_first_invocation']['median_ms']} ms = {p['ratio_to_naive']} × naive",
                "baseline": f"naive {naive['median_ms']} ms · auth0-python {sdk['median_ms']} ms "
                            f"({c['auth0_python']['ratio_to_naive']} × naive)",
                "target": f"≤ {first['target_ratio_to_naive']} × naive",
                "met": p["ratio_to_naive"] <= first["target_ratio_to_naive"]})
    cost = results.get("cost")
    if cost:
        b = cost["burst"]
        rows.append({
            "figure": f"AWS cost of enabling {cost['apis']:,} new APIs at once (us-east-1 list prices; "
                      f"measured on {cost['measured_apis']:,})",
            "product": f"{_usd(b['product']['total_usd'])} (+ ${b['product']['per_month']['usd']:.2f}/month)",
            "baseline": f"naive {_usd(b['naive']['total_usd'])} · auth0-python {_usd(b['auth0_python']['total_usd'])} "
                        f"(+ ${b['naive']['per_month']['usd']:.2f}/month each)",
            "target": "—", "met": None})
        one = cost.get("one_at_a_time")
        if one:
            rows.append({
                "figure": f"AWS cost of enabling {cost['apis']:,} new APIs one at a time, each at a cold function",
                "product": f"{_usd(one['product, token cache empty']['total_usd'])} (token cache empty) · "
                           f"{_usd(one['product, token cache warm']['total_usd'])} (warm)",
                "baseline": f"naive {_usd(one['naive']['total_usd'])} · auth0-python "
                            f"{_usd(one['auth0_python']['total_usd'])}",
                "target": "—", "met": None})
    size = results.get("size")
    if size:
        rows.append({
            "figure": "deployable size, function + layer, zipped (deflate 9)",
            "product": f"{size['all_in_zip_mb']} MB",
            "baseline": f"with Powertools from its AWS layer: {size['without_powertools_zip_mb']} MB",
            "target": "≤ 3.5 MB", "met": size["all_in_zip_mb"] <= 3.5})
    memory = results.get("memory")
    if memory:
        m = memory["peak_rss_mb"]
        rows.append({
            "figure": "peak memory of a warm instance (VmHWM)",
            "product": f"{m.get('product')} MB",
            "baseline": f"naive {m.get('naive')} MB · auth0-python {m.get('auth0_python')} MB",
            "target": "—", "met": None})
    cpu = results.get("cpu")
    if cpu:
        rows.append({
            "figure": f"CPU per record, network faked ({cpu['records']} records)",
            "product": f"{cpu['product_cpu_us_per_record']} µs",
            "baseline": f"trivial handler {cpu['baseline_cpu_us_per_record']} µs "
                        f"(difference {cpu['overhead_cpu_us_per_record']} µs)",
            "target": "< 1000 µs", "met": cpu["product_cpu_us_per_record"] < 1000})
    return rows


def _share_figures(r: dict) -> str:
    """The three figures of a run that shares the bucket; one that misses its target in bold."""
    met = r["targets_met"]

    def mark(text: str, ok: bool | None) -> str:
        return f"**{text} (target missed)**" if ok is False else text

    n = r["neighbour"]
    parts = [mark(f"neighbour {n['rate_limited']} × 429 in {n['sent']}", met["neighbour_429"])] if n else []
    parts += [mark(f"product {r['product_429_per_served_call']:.3g} 429s per served call ({r['product_429']} in "
                   f"{r['calls_served']})", met["product_429_per_call"]),
              mark(f"{r['ratio']} × ideal ({r['drain_s']} s)", met["ratio"])]
    if not met["nothing_lost"]:
        parts.append(f"**dead-lettered {r['dead_lettered']}, lost {r['lost']}**")
    return " · ".join(parts)


def _share_rows(share: dict) -> list[dict[str, Any]]:
    """The two runs with targets; the comparison runs go in the first one's baseline cell."""
    runs, t, bucket = share["runs"], share["targets"], share["bucket"]
    comparisons = "; ".join(f"{key}: {_share_figures(r)}" for key, r in runs.items()
                            if key not in share["with_targets"])
    rows: list[dict[str, Any]] = []
    for key in share["with_targets"]:
        r = runs[key]
        neighbour = f"a neighbour at {r['neighbour_share'] * 100:g} % of the rate" if r["neighbour"] else "no neighbour"
        target = f"≤ {t['product_429_per_served_call']} · ≤ {t['ratio']} × ideal"
        baseline = f"ideal {r['ideal_s']} s"
        if not rows and comparisons:
            baseline += f"; {comparisons}"
        rows.append({
            "figure": f"{r['apis']} new APIs on the Enterprise bucket (burst {bucket['burst']}, "
                      f"{bucket['rate_per_s']:g}/s), share {r['share']:.1f}, {neighbour}",
            "product": _share_figures(r), "baseline": baseline,
            "target": f"neighbour 0 × 429 · {target}" if r["neighbour"] else target,
            "met": all(v for v in r["targets_met"].values() if v is not None)})
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| figure | product | baseline (same run) | target | met |", "| --- | --- | --- | --- | --- |"]
    lines += [f"| {r['figure']} | {r['product']} | {r['baseline']} | {r['target']} | {_met(r['met'])} |" for r in rows]
    return "\n".join(lines)


def details(results: dict) -> str:
    out: list[str] = []
    tokens = results.get("tokens")
    if tokens:
        out += ["", "### 1. Token requests per token lifetime", "",
                f"{tokens['events']} events ({tokens['events_note']}), concurrency {tokens['concurrency']}, "
                f"{tokens['rate_limit']} bucket, tokens living {tokens['token_lifetime']:g} s; lifetimes spanned = "
                f"{tokens['lifetimes_from']}.", "",
                "| handler | token requests | lifetimes spanned | requests per lifetime | Management calls "
                "(429s included) | served calls per new API | 429s | invocations | seconds | enabled "
                "| dead-lettered | lost |",
                "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for p in tokens["peers"].values():
            out.append(f"| {p['label']} | {p['token_requests']} | {p['lifetimes_spanned']} | "
                       f"{p['requests_per_lifetime']} | {p['management_calls']} | {p['served_calls_per_api']} | "
                       f"{p['rate_limited']} | {p['invocations']} | {p['seconds']} | {p['enabled']} | "
                       f"{p['dead_lettered']} | {p['lost']} |")
        pol = tokens["policy"]
        out += ["", f"The product's refresh policy on a simulated clock ({pol['instances']} instances sharing the "
                f"cache, {pol['lifetimes_simulated']} lifetimes): token requests per lifetime by token lifetime:", "",
                "| lifetime (s) | " + " | ".join(pol["requests_per_lifetime"]) + " |",
                "| --- |" + " --- |" * len(pol["requests_per_lifetime"]),
                "| requests per lifetime | " + " | ".join(str(v) for v in pol["requests_per_lifetime"].values()) + " |"]
    calls = results.get("calls")
    if calls:
        out += ["", "### 2. Management API calls per new API", "",
                f"{calls['divisor']}; tenant without rate limit.", "",
                "| mode | new APIs | Management calls | calls per new API | enabled | skipped | dead-lettered |",
                "| --- | --- | --- | --- | --- | --- | --- |"]
        for mode, m in calls["modes"].items():
            out.append(f"| {mode} | {m['new_apis']} | {m['management_calls']} | {m['calls_per_new_api']} | "
                       f"{m['enabled']} | {m['skipped']} | {m['dead_lettered']} |")
    drain = results.get("drain")
    if drain:
        out += ["", "### 3. Drain of a burst", "", f"Creation: {drain['creation']}. ideal = {drain['ideal_formula']}, "
                "calls = the worker's requests that were served (429s excluded); drain = first event streamed to "
                "last outcome.", "",
                "| bucket | APIs | calls served | ideal (s) | drain (s) | ratio | dead-lettered | lost | 429s "
                "| records back to the queue |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for bucket, d in drain["buckets"].items():
            out.append(f"| {bucket} | {d['apis']} | {d['calls_served']} | {d['ideal_s']} | {d['drain_s']} | "
                       f"{d['ratio']} | {d['dead_lettered']} | {d['lost']} | {d['rate_limited_429']} | "
                       f"{d['records_returned_to_queue']} |")
    share = results.get("share")
    if share:
        out += _share_details(share)
    cold = results.get("cold")
    if cold:
        out += ["", "### 4. Cold init, memory, size", "", f"Fresh `-I -S` interpreters, median of {cold['runs']}, "
                "probes taking turns:", "", "| import | median ms | min | max | process peak RSS (MB) | modules |",
                "| --- | --- | --- | --- | --- | --- |"]
        for name, p in cold["probes"].items():
            out.append(f"| {name} | {p['median_ms']} | {p['min_ms']} | {p['max_ms']} | {p['peak_rss_mb']} | "
                       f"{p['modules']} |")
    first = results.get("first_record")
    if first:
        out += _first_record(first)
    memory = results.get("memory")
    if memory:
        m = memory["peak_rss_mb"]
        out += ["", f"Peak memory ({memory['measure']}, {memory['source']}): "
                + ", ".join(f"{k} {v} MB" for k, v in m.items()) + "."]
    size = results.get("size")
    if size:
        out += ["", f"Size ({size['build']}): function {size['function_zip_kb']} kB, layer {size['layer_zip_mb']} MB, "
                f"all-in {size['all_in_zip_mb']} MB zipped ({size['all_in_unzipped_mb']} MB unzipped); without "
                f"{', '.join(size['without_powertools_dropped'])}: {size['without_powertools_zip_mb']} MB. Zipped per "
                "package (MB): " + ", ".join(f"{k} {v}" for k, v in size["zipped_mb_per_package"].items()) + "."]
    cpu = results.get("cpu")
    if cpu:
        out += ["", "### 5. CPU per record", "",
                f"{cpu['method']}. Product {cpu['product_cpu_us_per_record']} µs CPU "
                f"({cpu['product_wall_us_per_record']} µs wall), "
                f"trivial handler {cpu['baseline_cpu_us_per_record']} µs "
                f"({cpu['baseline_wall_us_per_record']} µs wall); failed records {cpu['failed_records']}; faked Auth0 "
                "calls: " + ", ".join(f"{k} {v}" for k, v in cpu["fake_auth0_calls"].items()) + "."]
    cost = results.get("cost")
    if cost:
        out += _cost(cost)
    return "\n".join(out)


def _share_details(share: dict) -> list[str]:
    from bench.measure_share import __doc__ as definitions

    b, t = share["bucket"], share["targets"]
    out = ["", "### 3b. Sharing the bucket (MANAGEMENT_API_RATE_SHARE)", "",
           f"Creation: {share['creation']}. Enterprise bucket (burst {b['burst']}, {b['rate_per_s']:g}/s). The "
           "neighbour is another M2M application of the tenant, with its own token, reading one API over HTTP on a "
           "fixed schedule from the first event streamed until the last outcome; a 429 it meets is counted and not "
           "retried. Targets: the neighbour meets no 429, the product's 429s per served call ≤ "
           f"{t['product_429_per_served_call']}, drain ≤ {t['ratio']} × ideal.", "", "```",
           (definitions or "").split("\n\n", 3)[3].split("\n\nTargets:")[0].strip(), "```", "",
           "| run | share | reserve (tokens) | neighbour: rate, served, 429s | neighbour's tokens/s (n) | calls served "
           "| product 429s (per served call) | paced calls | ideal (s) | drain (s) | ratio | dead-lettered | lost "
           "| records back to the queue |",
           "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for key, r in share["runs"].items():
        n = r["neighbour"]
        neighbour = (f"{n['rate_per_s']:g}/s: {n['served']} served, {n['rate_limited']} × 429 of {n['sent']} in "
                     f"{n['seconds']} s" if n else "none")
        mark = "" if key in share["with_targets"] else " (comparison)"
        out.append(f"| {key}{mark} | {r['share']:g} | {r['reserve_tokens']:g} | {neighbour} | "
                   f"{r['neighbour_rate_used_per_s']} | {r['calls_served']} | {r['product_429']} "
                   f"({r['product_429_per_served_call']}) | {r['paced']} | {r['ideal_s']} | {r['drain_s']} | "
                   f"{r['ratio']} | {r['dead_lettered']} | {r['lost']} | {r['records_returned_to_queue']} |")
    return out


def _first_record(first: dict) -> list[str]:
    c = first["contenders"]
    out = ["", "#### Cold start to the first record's outcome", "",
           f"A fresh `-I -S` interpreter per sample ({first['setting']}) imports the handler and invokes it once "
           "with one \"API created\" record of an API created just before; median of "
           f"{first['runs']} per contender, contenders taking turns. Ratio: import + first invocation / the naive "
           "peer's, same run.", "",
           "| contender | import + first invocation (ms) | min | max | import (ms) | first invocation (ms) "
           "| interpreter start (ms) | spawn to outcome (ms) | modules | ratio to naive |",
           "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for p in c.values():
        f = p["import_and_first_invocation"]
        out.append(f"| {p['label']} | {f['median_ms']} | {f['min_ms']} | {f['max_ms']} | {p['import']['median_ms']} "
                   f"| {p['first_invocation']['median_ms']} | {p['interpreter_start']['median_ms']} | "
                   f"{p['spawn_to_outcome']['median_ms']} | {p['modules']} | {p['ratio_to_naive']} |")
    phases = [name for name, p in c.items() if p["phases"]]
    if not phases:
        return out
    names = sorted({k for n in phases for k in c[n]["phases"]},
                   key=lambda k: -max(c[n]["phases"].get(k, {}).get("total_ms", 0.0) for n in phases))
    out += ["", f"Where the time goes: median exclusive ms per phase over {first['phase_runs']} phase-stamped "
            "processes per contender (perf_counter stamps around module loading, boto3 session and client creation, "
            "each AWS call and each HTTP request to Auth0; \"other Python\" is the rest: the handler's own logic, "
            "logging, metrics). Cells: init (import) + first invocation = total, ×calls.", "",
            "| phase | " + " | ".join(c[n]["label"] for n in phases) + " |",
            "| --- |" + " --- |" * len(phases)]
    for key in names:
        cells = []
        for n in phases:
            p = c[n]["phases"].get(key)
            if p is None or (p["total_ms"] == 0 and not p["calls"]):
                cells.append("—")
                continue
            calls = f" ×{p['calls']}" if p["calls"] else ""
            split = f"{p['init_ms']} + {p['invoke_ms']} = " if p["init_ms"] and p["invoke_ms"] else ""
            cells.append(f"{split}{p['total_ms']}{calls}")
        out.append(f"| {key} | " + " | ".join(cells) + " |")
    if "naive" in phases:
        base = _phase_groups(c["naive"]["phases"])
        for name in ("product, token cache empty", "product, token cache warm"):
            if name in phases:
                groups = _phase_groups(c[name]["phases"])
                out += ["", f"{c[name]['label']} minus the naive peer, by kind of phase (medians): " + ", ".join(
                    f"{group} {groups[group] - base[group]:+.1f} ms" for group in groups) + "."]
    return out


PHASE_GROUPS = (("imports", ("import",)), ("boto3 sessions and clients", ("boto3 ",)), ("AWS calls", ("aws ",)),
                ("Auth0 calls", ("auth0 ",)), ("other Python", ("other Python",)),
                ("interpreter start-up", ("interpreter",)))


def _phase_groups(phases: dict) -> dict[str, float]:
    return {group: sum(p["total_ms"] for key, p in phases.items() if key.startswith(prefixes))
            for group, prefixes in PHASE_GROUPS}


def _usd(value: float) -> str:
    """Dollars to three significant digits (at least cents): $0.00920, $0.0000400, $1.70."""
    if value == 0:
        return "$0"
    decimals = max(2, 2 - math.floor(math.log10(abs(value))))
    return f"${value:,.{decimals}f}"


def _count(value: float) -> str:
    if value == 0:
        return "0"
    if value >= 100 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:.2f}" if value >= 0.01 else f"{value:.6f}"


def _cost(cost: dict) -> list[str]:
    from bench.measure_cost import KINDS

    b = cost["burst"]
    out = ["", f"### 6. AWS cost per {cost['apis']:,} new APIs", "",
           f"Burst: {cost['measured_apis']:,} new APIs (+ the system API) at once through the local pipeline with "
           "the template's settings, the Enterprise bucket and 24 h tokens; every AWS request counted through a proxy "
           f"in front of moto; counts scaled to {cost['apis']:,} new APIs. Lambda GB-s: each invocation's wall time "
           f"(cold starts included), rounded up to the ms, × MemorySize {cost['memory_mb']} MB from template.yaml. "
           "Empty SQS receives are left out (idle long polling: a monthly cost, the same for every handler).", "",
           "| request | " + " | ".join(f"{p['label']}: count | cost" for p in b.values()) + " |",
           "| --- |" + " ---: | ---: |" * len(b)]
    for key, label, _ in KINDS:
        cells = []
        for p in b.values():
            cells.append(f"{_count(p['counts'][key])} | {_usd(p['costs_usd'][key])}")
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    out.append("| **total** | " + " | ".join(f" | **{_usd(p['total_usd'])}**" for p in b.values()) + " |")
    out.append("| per month, whatever the traffic: secrets stored + custom metrics (EMF) | " + " | ".join(
        f"{p['per_month']['secrets']} + {p['per_month']['custom_metrics']} | ${p['per_month']['usd']:.2f}"
        for p in b.values()) + " |")
    out += ["", "Measured in the burst runs: " + "; ".join(
        f"{p['label']}: {p['basis']['invocations']} invocations ({p['basis']['cold_starts']} cold), "
        f"{p['basis']['billed_ms'] / 1000:.1f} s billed, {p['basis']['token_requests']} token requests, "
        f"{p['basis']['rate_limited']} answered 429, {p['basis']['log_bytes'] / 1e6:.2f} MB of logs "
        f"({p['basis']['emf_bytes'] / 1e3:.1f} kB EMF)" for p in b.values()) + "."]
    product = b["product"]["basis"]
    out += ["", "The product's AWS requests in its burst run: " + ", ".join(
        f"{k.replace('DynamoDB_20120810', 'DynamoDB')} {v}" for k, v in product["aws_requests"].items()
        if "(empty)" not in k and "dead-letter" not in k)
        + f"; largest item written to DynamoDB {product['largest_item_bytes']} bytes (1 write unit each); custom "
        "metrics: "
        + (", ".join(product["custom_metrics"]) or "none") + "."]
    one = cost.get("one_at_a_time")
    if one:
        out += ["", f"One at a time: {cost['apis']:,} APIs that each arrive alone at a cold function (one invocation "
                "each, lasting the median spawn-to-outcome of the cold-start measurement, with the AWS calls counted "
                "in its phase-stamped runs; SQS: send, receive, delete).", "",
                "| request | " + " | ".join(f"{p['label']}: count | cost" for p in one.values()) + " |",
                "| --- |" + " ---: | ---: |" * len(one)]
        for key, label, _ in KINDS:
            cells = []
            for p in one.values():
                cells.append(f"{_count(p['counts'][key])} | {_usd(p['costs_usd'][key])}")
            out.append(f"| {label} | " + " | ".join(cells) + " |")
        out.append("| **total** | " + " | ".join(f" | **{_usd(p['total_usd'])}**" for p in one.values()) + " |")
    out += ["", "Prices (us-east-1, list, free tiers left out): " + "; ".join(
        f"{k} ${p['usd']:g} per {p['per']:,} {p['unit']} ({p['as_of']}, {p['source']})"
        for k, p in cost["prices"].items()) + ". Not counted: KMS requests behind Secrets Manager (at most one per "
        "call, $0.03 per 10,000), the alarms, queues and idle polling every handler shares, the daily reconcile "
        "run, data transfer."]
    return out


def markdown(results: dict) -> str:
    meta = results["meta"]
    head = [f"# Benchmark results{' (quick)' if meta['quick'] else ''}", "",
            f"`make bench` on {meta['started']} — {meta['cpus']} CPUs, Python {meta['python']}, "
            f"{meta['seconds']} s. Every figure is measured in this run next to its baseline, on the local stack "
            "(Auth0 emulator, moto, Lambda-like worker processes). Timings are from a shared development machine.", ""]
    notes = [f"- {note}" for note in meta.get("notes", [])]
    return "\n".join(head + [table(target_rows(results))] + ([""] + notes if notes else []) + [details(results), ""])
