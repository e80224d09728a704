#!/usr/bin/env python3
"""Turns bench/run.sh's raw measurements into one markdown table (medians and ratios), a chart, and,
with --docs, the generated part of docs/benchmarks.md (between the results markers)."""
import argparse
import csv
import math
import re
import statistics
from collections import defaultdict

TARGETS = ["direct", "sluice", "sluice-aot", "squid", "tinyproxy"]
NAMES = {"direct": "direct", "sluice": "Sluice", "sluice-aot": "Sluice AOT", "squid": "Squid", "tinyproxy": "tinyproxy"}
COLORS = {"direct": "#9e9e9e", "sluice": "#1f77b4", "sluice-aot": "#6baed6", "squid": "#d62728", "tinyproxy": "#ff7f0e"}

# workload, metric, label, unit, higher is better, target (kind, factor) or None
ROWS = [
    ("fwd1k", "rps", "1. forwarded GET 1 KiB, 50 keep-alive conns", "req/s", True, ("squid", 1.6)),
    ("fwd1k", "p50_ms", "1. … latency p50", "ms", False, None),
    ("fwd1k", "p99_ms", "1. … latency p99", "ms", False, ("squid-max", 1.0)),
    ("connect_dl", "MBps", "2. CONNECT tunnel download {big} (TLS to origin)", "MB/s", True, ("squid+direct", (1.5, 0.6))),
    ("connect_plain", "MBps", "2b. CONNECT tunnel download {big}, plain HTTP inside", "MB/s", True, None),
    ("fwd_dl", "MBps", "3. forwarded GET {big}", "MB/s", True, ("squid", 3.0)),
    ("tunnel_ul", "MBps", "3. upload (POST) {big} through a tunnel", "MB/s", True, None),
    ("newtunnels", "per_s", "4. new tunnels (connect, CONNECT, GET 1 KiB, close)", "tunnels/s", True, None),
    ("idle", "kb_per_tunnel", "5. idle CONNECT tunnels: RSS per tunnel ({idle} tunnels)", "KiB", False, ("abs-max", 8.0)),
    ("tls_dl", "MBps", "6. tunnel download {big} via TLS listener (Squid https_port)", "MB/s", True, None),
    ("startup", "ms", "start to first forwarded response", "ms", False, None),
]


def load_raw(path):
    values = defaultdict(list)
    notes = defaultdict(list)
    for line in open(path):
        parts = line.rstrip("\n").split("\t")
        if len(parts) < 5:
            continue
        w, t, rep, metric, value = parts[:5]
        note = parts[5] if len(parts) > 5 else ""
        try:
            v = float(value)
        except ValueError:
            v = math.nan
        values[(w, metric, t)].append(v)
        if note:
            notes[(w, t)].append(note)
    return values, notes


def med(xs):
    xs = [x for x in xs if not math.isnan(x)]
    return statistics.median(xs) if xs else math.nan


def fmt(v, unit=""):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if unit in ("ms",) and v < 10:
        return f"{v:.2f}"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def ratio(a, b):
    if a is None or b is None or math.isnan(a) or math.isnan(b) or b == 0:
        return math.nan
    return a / b


def fmt_ratio(r):
    return "–" if math.isnan(r) else f"{r:.2f}×"


def verdict(target, higher, m, build):
    """Whether `build`'s median meets the issue-6 target of this row; '' when the row has no target."""
    if target is None:
        return ""
    kind, factor = target
    v = m.get(build, math.nan)
    if math.isnan(v):
        return "n/a"
    if kind == "squid":
        r = ratio(v, m.get("squid", math.nan))
        return "n/a" if math.isnan(r) else ("yes" if r >= factor else "no")
    if kind == "squid-max":
        s = m.get("squid", math.nan)
        return "n/a" if math.isnan(s) else ("yes" if v <= s * factor else "no")
    if kind == "squid+direct":
        rs, rd = ratio(v, m.get("squid", math.nan)), ratio(v, m.get("direct", math.nan))
        if math.isnan(rs) or math.isnan(rd):
            return "n/a"
        return "yes" if rs >= factor[0] and rd >= factor[1] else "no"
    if kind == "abs-max":
        return "yes" if v <= factor else "no"
    return ""


TARGET_TEXT = {
    ("fwd1k", "rps"): "≥ 1.6× Squid",
    ("fwd1k", "p99_ms"): "≤ Squid",
    ("connect_dl", "MBps"): "≥ 1.5× Squid, ≥ 0.6× direct",
    ("fwd_dl", "MBps"): "≥ 3× Squid",
    ("idle", "kb_per_tunnel"): "≤ 8 KB",
}


def parse_time_ns(text):
    m = re.match(r"([\d,.]+)\s*(ns|us|μs|ms|s)$", text.strip())
    if not m:
        return math.nan
    v = float(m.group(1).replace(",", ""))
    return v * {"ns": 1, "us": 1e3, "μs": 1e3, "ms": 1e6, "s": 1e9}[m.group(2)]


def load_bdn(path):
    rows = []
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            rows.append({
                "type": r["Type"], "method": r["Method"].strip("'"), "rules": r.get("Rules", "?"), "host": r.get("Host", "?"),
                "mean_ns": parse_time_ns(r["Mean"]), "median_ns": parse_time_ns(r.get("Median") or r["Mean"]), "alloc": r.get("Allocated", ""),
            })
    return rows


def fmt_ns(ns):
    if math.isnan(ns):
        return "–"
    if ns >= 1e6:
        return f"{ns / 1e6:,.1f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:,.2f} µs"
    return f"{ns:,.0f} ns"


def build_table(values, notes, meta, bdn):
    present = [t for t in TARGETS if any(k[2] == t for k in values)]
    aot = "sluice-aot" in present
    big, idle = meta.get("big", "1 GiB"), meta.get("idle_count", "?")
    head = ["workload", "unit"] + [NAMES[t] for t in present] + ["Sluice ÷ Squid"]
    if aot:
        head.append("AOT ÷ Squid")
    head += ["Sluice ÷ direct", "tinyproxy ÷ Squid", "target (issue 6)", "met: Sluice" + (" / AOT" if aot else "")]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * 2 + ["---:"] * (len(head) - 4) + ["---"] * 2) + "|"]
    medians = {}
    for w, metric, label, unit, higher, target in ROWS:
        m = {t: med(values.get((w, metric, t), [])) for t in present}
        if all(math.isnan(v) for v in m.values()):
            continue
        medians[(w, metric)] = m
        if w == "idle":
            est = {t: med(values.get(("idle", "established", t), [])) for t in present}
            short = [f"{NAMES[t]} {int(e)}" for t, e in est.items() if not math.isnan(e) and e < float(idle)]
            label = label + (f" — established only: {', '.join(short)}" if short else "")
        cells = [label.format(big=big, idle=idle), unit] + [fmt(m[t], unit) for t in present]
        cells.append(fmt_ratio(ratio(m.get("sluice", math.nan), m.get("squid", math.nan))))
        if aot:
            cells.append(fmt_ratio(ratio(m.get("sluice-aot", math.nan), m.get("squid", math.nan))))
        cells.append(fmt_ratio(ratio(m.get("sluice", math.nan), m.get("direct", math.nan))))
        cells.append(fmt_ratio(ratio(m.get("tinyproxy", math.nan), m.get("squid", math.nan))))
        cells.append(TARGET_TEXT.get((w, metric), ""))
        v = verdict(target, higher, m, "sluice")
        if aot and target is not None:
            v += " / " + verdict(target, higher, m, "sluice-aot")
        cells.append(v)
        lines.append("| " + " | ".join(cells) + " |")

    policy = []
    if bdn:
        decide = [r for r in bdn if r["type"] == "DecideBenchmarks"]
        sizes = sorted({r["rules"] for r in decide}, key=lambda s: int(s))
        if decide:
            policy.append("| RulePolicy.Decide (median) | " + " | ".join(f"{int(s):,} rules" for s in sizes) + " | largest ÷ smallest | allocated (largest) | flat? |")
            policy.append("|---|" + "---:|" * (len(sizes) + 2) + "---|")
            for method in dict.fromkeys(r["method"] for r in decide):
                by = {r["rules"]: r for r in decide if r["method"] == method}
                first, last = by[sizes[0]]["median_ns"], by[sizes[-1]]["median_ns"]
                growth = ratio(last, first)
                flat = "–" if math.isnan(growth) else ("yes" if growth <= 3 else "no")
                policy.append(f"| {method} | " + " | ".join(fmt_ns(by[s]["median_ns"]) for s in sizes)
                              + f" | {fmt_ratio(growth)} | {by[sizes[-1]]['alloc']} | {flat} |")
        build = sorted(((int(k[1][3:]), v[0]) for k, v in values.items() if k[0] == "policy_build"))
        if build:
            policy.append("")
            policy.append("| building a RulePolicy (generating the rules + indexing, once) | " + " | ".join(f"{n:,} rules" for n, _ in build) + " |")
            policy.append("|---|" + "---:|" * len(build))
            policy.append("| time | " + " | ".join(fmt_ns(ms * 1e6) for _, ms in build) + " |")
        load = [r for r in bdn if r["type"] == "LoadBenchmarks"]
        if load:
            policy.append("")
            policy.append("| ConfigLoader.Parse (YAML, validated) | " + " | ".join(f"{int(r['rules']):,} rules" for r in load) + " |")
            policy.append("|---|" + "---:|" * len(load))
            policy.append("| median | " + " | ".join(fmt_ns(r["median_ns"]) for r in load) + " |")
        names = [r for r in bdn if r["type"] == "NameBenchmarks"]
        if names:
            policy.append("")
            policy.append("| HostNames.TryNormalize | " + " | ".join(f"`{r['host']}`" for r in names) + " |")
            policy.append("|---|" + "---:|" * len(names))
            policy.append("| median | " + " | ".join(fmt_ns(r["median_ns"]) for r in names) + " |")
    return present, medians, "\n".join(lines), "\n".join(policy)


def per_rep_details(values, present):
    out = ["| workload | metric | " + " | ".join(NAMES[t] for t in present) + " |", "|---|---|" + "---|" * len(present)]
    for w, metric, *_ in ROWS:
        if not any((w, metric, t) in values for t in present):
            continue
        cells = [", ".join(fmt(v) for v in values.get((w, metric, t), [])) or "–" for t in present]
        out.append(f"| {w} | {metric} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def chart(values, medians, present, bdn, meta, png):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    panels = [r for r in ROWS if (r[0], r[1]) in medians and r[0] != "startup" and r[1] != "p50_ms"]
    n = len(panels) + (1 if bdn else 0)
    cols = 3
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.6 * rows))
    axes = axes.flatten()
    big, idle = meta.get("big", "1 GiB"), meta.get("idle_count", "?")
    for ax, (w, metric, label, unit, higher, _) in zip(axes, panels):
        ts = [t for t in present if not math.isnan(medians[(w, metric)].get(t, math.nan))]
        ys = [medians[(w, metric)][t] for t in ts]
        lo = [y - min(v for v in values[(w, metric, t)] if not math.isnan(v)) for t, y in zip(ts, ys)]
        hi = [max(v for v in values[(w, metric, t)] if not math.isnan(v)) - y for t, y in zip(ts, ys)]
        bars = ax.bar([NAMES[t] for t in ts], ys, color=[COLORS[t] for t in ts], yerr=[lo, hi], capsize=3)
        for b, y in zip(bars, ys):
            ax.annotate(fmt(y, unit), (b.get_x() + b.get_width() / 2, y), ha="center", va="bottom", fontsize=8,
                        xytext=(0, 2), textcoords="offset points")
        ax.set_ylim(0, max(y + h for y, h in zip(ys, hi)) * 1.15)
        title = label.format(big=big, idle=idle).replace("…", "forwarded GET 1 KiB")
        ax.set_title(title + ("  (higher is better)" if higher else "  (lower is better)"), fontsize=8.5)
        ax.set_ylabel(unit)
        ax.tick_params(axis="x", labelsize=8)
    i = len(panels)
    if bdn:
        ax = axes[i]
        i += 1
        decide = [r for r in bdn if r["type"] == "DecideBenchmarks"]
        for method in dict.fromkeys(r["method"] for r in decide):
            pts = sorted(((int(r["rules"]), r["median_ns"]) for r in decide if r["method"] == method))
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=method)
        ax.set_xscale("log")
        ax.set_ylim(bottom=0)
        ax.set_xlabel("domain rules")
        ax.set_ylabel("ns per decision")
        ax.set_title("7. RulePolicy.Decide vs number of rules (lower is better)", fontsize=8.5)
        ax.legend(fontsize=7)
    for ax in axes[i:]:
        ax.axis("off")
    fig.suptitle(f"Sluice benchmark, {meta.get('mode', '')} run, commit {meta.get('commit', '?')}, medians of "
                 f"{meta.get('reps', '?')} (bars: min–max)", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(png, dpi=110)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--raw", required=True)
    p.add_argument("--meta", required=True)
    p.add_argument("--table", required=True)
    p.add_argument("--png", required=True)
    p.add_argument("--bdn")
    p.add_argument("--docs")
    p.add_argument("--docs-png")
    a = p.parse_args()
    meta = dict(line.rstrip("\n").split("=", 1) for line in open(a.meta) if "=" in line)
    values, notes = load_raw(a.raw)
    bdn = load_bdn(a.bdn) if a.bdn else []
    present, medians, table, policy = build_table(values, notes, meta, bdn)
    chart(values, medians, present, bdn, meta, a.png)

    failures = []
    for (w, t), ns in notes.items():
        for n in ns:
            bad = False
            if n.startswith("failed"):                       # a curl transfer that did not complete
                bad = True
            elif n.startswith("ok="):                        # new tunnels: any failed operation
                bad = not re.search(r"failed=0 ", n)
            elif n.startswith("errors="):                    # wrk: non-2xx or socket errors (read errors are closes)
                bad = not n.startswith("errors=0 ")
                if not bad and not n.endswith("read_errors=0"):
                    n = n + " (wrk counts each connection the proxy closes after a response as a read error)"
                    bad = True
            elif n.startswith("established="):               # idle tunnels: refused, failed or dead tunnels
                bad = not re.search(r"failed=0 ", n) or not re.search(r"alive=(\d+)/\1 ", n)
            if bad:
                failures.append(f"- {NAMES.get(t, t)}, {w}: {n}")
    aot_note = ', "Sluice AOT" the NativeAOT one' if "sluice-aot" in present else ""
    text = f"""Run: {meta.get('date')}, {meta.get('mode')} mode, commit {meta.get('commit')}; medians of {meta.get('reps')} repetitions ({meta.get('idle_reps')} for idle tunnels).

Machine: {meta.get('machine')}; load average (1 min) at start {meta.get('load_start', '?')}, at end {meta.get('load_end', '?')} (anything else running on the machine shows up in the numbers).
Versions: {meta.get('versions')}.
NativeAOT: {meta.get('aot')}.

{table}

Ratios are of medians; "Sluice" is the JIT (framework-dependent) Release build{aot_note}. MB/s is 10^6 bytes per second.

{policy}

Errors and incomplete runs seen in this run:
{chr(10).join(failures) if failures else "- none"}

<details><summary>Every repetition</summary>

{per_rep_details(values, present)}

</details>
"""
    with open(a.table, "w") as f:
        f.write(text)
    print(text)
    if a.docs:
        import shutil
        doc = open(a.docs).read()
        begin, end = "<!-- results:begin (generated by bench/run.sh) -->", "<!-- results:end -->"
        if begin in doc and end in doc:
            doc = doc[: doc.index(begin) + len(begin)] + "\n" + text + "\n" + doc[doc.index(end):]
        else:
            doc += f"\n{begin}\n{text}\n{end}\n"
        with open(a.docs, "w") as f:
            f.write(doc)
        if a.docs_png:
            shutil.copyfile(a.png, a.docs_png)


if __name__ == "__main__":
    main()
