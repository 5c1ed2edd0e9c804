"""The results as one table of figures next to their baselines and targets, plus the details."""

from __future__ import annotations

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
    cold = results.get("cold")
    if cold:
        out += ["", "### 4. Cold init, memory, size", "", f"Fresh `-I -S` interpreters, median of {cold['runs']}, "
                "probes taking turns:", "", "| import | median ms | min | max | process peak RSS (MB) | modules |",
                "| --- | --- | --- | --- | --- | --- |"]
        for name, p in cold["probes"].items():
            out.append(f"| {name} | {p['median_ms']} | {p['min_ms']} | {p['max_ms']} | {p['peak_rss_mb']} | "
                       f"{p['modules']} |")
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
    return "\n".join(out)


def markdown(results: dict) -> str:
    meta = results["meta"]
    head = [f"# Benchmark results{' (quick)' if meta['quick'] else ''}", "",
            f"`make bench` on {meta['started']} — {meta['cpus']} CPUs, Python {meta['python']}, "
            f"{meta['seconds']} s. Every figure is measured in this run next to its baseline, on the local stack "
            "(Auth0 emulator, moto, Lambda-like worker processes). Timings are from a shared development machine.", ""]
    notes = [f"- {note}" for note in meta.get("notes", [])]
    return "\n".join(head + [table(target_rows(results))] + ([""] + notes if notes else []) + [details(results), ""])
