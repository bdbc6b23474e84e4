#!/usr/bin/env python3
"""bench/driver.py - run boucle's benchmark suite side by side with its peers.

For every workload, the implementations and worker counts run
interleaved, run by run (boucle, go, tokio, ... at one worker, the same
at two, then again), so that the drift of a shared machine hits all
alike.  Each run is one process (boucle_bench --workload, or a peer's
<name>-bench, bench/peers/README.md); its peak RSS comes from wait4().
At the end: one Markdown table on stdout (median [min-max], peak RSS,
boucle's ratio to each peer), every run in
bench/results/<date>-<host>.json, and gnuplot plots beside it.

Usage (bench/run builds everything and calls this):
    driver.py --boucle PATH --peers-dir DIR [--runs N] [--workers 1,2]
              [--only SUBSTR[,SUBSTR]] [--no-peers] [--quick]
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEER_ORDER = ["go", "tokio", "tbb", "asyncio"]
COLORS = {"boucle": "#d62728", "go": "#1f77b4", "tokio": "#2ca02c",
          "tbb": "#ff7f0e", "asyncio": "#9467bd"}
RUN_TIMEOUT = 600  # seconds; a run that takes longer counts as failed
SLOW_RUN = 60      # seconds; an implementation this slow gets one run only


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def list_workloads(boucle):
    out = subprocess.run([boucle, "--list"], check=True, capture_output=True,
                         text=True).stdout
    workloads = []
    for line in out.splitlines():
        name, unit, higher, runs = line.split("\t")
        workloads.append({"name": name, "unit": unit,
                          "higher_is_better": higher == "1",
                          "runs": int(runs)})
    return workloads


def build_peers(peers_dir, out_dir):
    """Build every peer; returns {name: executable} for those that built."""
    built = {}
    os.makedirs(out_dir, exist_ok=True)
    for name in PEER_ORDER:
        script = os.path.join(peers_dir, name, "build")
        if not os.access(script, os.X_OK):
            continue
        log(f"building peer {name} ...")
        res = subprocess.run([script, out_dir], capture_output=True,
                             text=True)
        exe = os.path.join(out_dir, f"{name}-bench")
        if res.returncode == 0 and os.access(exe, os.X_OK):
            built[name] = exe
        else:
            why = (res.stderr.strip().splitlines() or ["no reason given"])[-1]
            log(f"peer {name}: not built ({why}); the suite goes on "
                "without it")
    return built


def run_once(argv, env):
    """Run one benchmark process; returns (status, value, rss_kib)."""
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    # wait4 gives this child's own peak RSS; poll so a hang is bounded.
    while True:
        pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
        if pid != 0:
            break
        if time.monotonic() - start > RUN_TIMEOUT:
            proc.kill()
            pid, status, rusage = os.wait4(proc.pid, 0)
            proc.returncode = -9
            return "timeout", None, rusage.ru_maxrss
        time.sleep(0.01)
    proc.returncode = os.waitstatus_to_exitcode(status)
    out = proc.stdout.read().decode().strip()
    err = proc.stderr.read().decode().strip()
    if proc.returncode == 2:
        return "unsupported", None, rusage.ru_maxrss
    if proc.returncode != 0:
        log(f"  failed: {' '.join(argv)}: {err.splitlines()[-1:] or ''}")
        return "failed", None, rusage.ru_maxrss
    try:
        return "ok", float(out.splitlines()[-1]), rusage.ru_maxrss
    except (ValueError, IndexError):
        log(f"  bad output from {' '.join(argv)}: {out!r}")
        return "failed", None, rusage.ru_maxrss


def median(values):
    v = sorted(values)
    return v[len(v) // 2]


def fmt(v):
    if v is None:
        return "—"
    if v >= 1e6:
        return f"{v / 1e6:.2f} M"
    if v >= 1e4:
        return f"{v / 1e3:.1f} k"
    return f"{v:.3g}"


def package_version(pkg):
    res = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg],
                         capture_output=True, text=True)
    return res.stdout.strip() if res.returncode == 0 else None


def machine_info():
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    return {"host": socket.gethostname(), "cpu": cpu,
            "cpus": os.cpu_count(), "kernel": platform.release(),
            "memory_gib": round(mem_kib / 2**20, 1)}


def summarize(runs, workloads, impls, counts):
    """Rows of the results table: one per workload and worker count."""
    rows = []
    for w in workloads:
        for n in counts:
            row = {"workload": w["name"], "unit": w["unit"], "workers": n,
                   "higher_is_better": w["higher_is_better"], "impls": {}}
            for impl in impls:
                mine = [r for r in runs if r["workload"] == w["name"] and
                        r["workers"] == n and r["impl"] == impl]
                ok = [r["value"] for r in mine if r["status"] == "ok"]
                if not mine or not ok and mine[0]["status"] == "unsupported":
                    continue
                failed = any(r["status"] != "ok" for r in mine)
                row["impls"][impl] = {
                    "median": median(ok) if ok else None,
                    "min": min(ok) if ok else None,
                    "max": max(ok) if ok else None,
                    "rss_kib": max(r["rss_kib"] for r in mine),
                    "failed": failed}
            if row["impls"]:
                rows.append(row)
    return rows


def ratio(row, peer):
    mine, theirs = row["impls"].get("boucle"), row["impls"].get(peer)
    if not mine or not theirs or not mine["median"] or not theirs["median"]:
        return None
    r = mine["median"] / theirs["median"]
    return r if row["higher_is_better"] else 1 / r


def print_table(rows, impls, info, args):
    peers = [p for p in impls if p != "boucle"]
    print(f"machine: {info['cpu']}, {info['cpus']} CPUs, Linux "
          f"{info['kernel']}; median of {args.runs} runs [min - max], "
          f"peak RSS per run{'; QUICK (N/10)' if args.quick else ''}")
    print("ratios: boucle vs peer, > 1 means boucle is better "
          "(faster, or less for ns/%/KiB)\n")
    head = ["workload", "unit", "workers"] + impls + \
        [f"vs {p}" for p in peers]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for row in rows:
        cells = [row["workload"], row["unit"], str(row["workers"])]
        for impl in impls:
            s = row["impls"].get(impl)
            if s is None:
                cells.append("—")
            elif s["median"] is None:
                cells.append("FAILED")
            else:
                spread = ("" if args.runs == 1 else
                          f" [{fmt(s['min'])} - {fmt(s['max'])}]")
                mark = " (some runs failed)" if s["failed"] else ""
                cells.append(f"{fmt(s['median'])}{spread}, "
                             f"{s['rss_kib'] / 1024:.0f} MiB{mark}")
        for p in peers:
            r = ratio(row, p)
            cells.append("—" if r is None else f"{r:.2f}x")
        print("| " + " | ".join(cells) + " |")
    sys.stdout.flush()


def plot(rows, impls, counts, stem):
    """Draw <stem>-rates-w<N>.png and <stem>-mpmc.png with gnuplot."""
    if shutil.which("gnuplot") is None:
        log("gnuplot not found: no plots")
        return []
    made = []
    for n in counts:
        mine = [r for r in rows if r["workers"] == n and
                r["higher_is_better"] and r["unit"].endswith("/s")]
        if not mine:
            continue
        # Only implementations with a number at this worker count (an
        # all-empty column makes gnuplot drop the whole plot).
        shown = [i for i in impls
                 if any(r["impls"].get(i) and r["impls"][i]["median"]
                        for r in mine)]
        data = f"{stem}-rates-w{n}.dat"
        with open(data, "w") as f:
            f.write("workload " + " ".join(shown) + "\n")
            for r in mine:
                vals = []
                for impl in shown:
                    s = r["impls"].get(impl)
                    vals.append(str(s["median"]) if s and s["median"]
                                else "NaN")
                f.write(r["workload"] + " " + " ".join(vals) + "\n")
        png = f"{stem}-rates-w{n}.png"
        cols = " , ".join(
            f"'{data}' using {i + 2}:xtic(1) lc rgb '{COLORS[impl]}' "
            f"title '{impl}'" for i, impl in enumerate(shown))
        script = f"""
set terminal pngcairo noenhanced size 1400,700 font ',11'
set output '{png}'
set title 'Rate per workload, workers = {n} (median; higher is better)'
set ylabel 'operations per second (log scale)'
set xlabel 'workload'
set logscale y
set style data histogram
set style histogram cluster gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set xtics rotate by -35
set key top right
set grid ytics
plot {cols}
"""
        subprocess.run(["gnuplot"], input=script, text=True, check=False)
        made.append(png)
    # The mpmc P x C matrix: items/s against P x C, one line per
    # implementation and worker count.
    data = f"{stem}-mpmc.dat"
    sides = ["1x1", "4x4", "16x16"]
    series = []
    with open(data, "w") as f:
        for impl in impls:
            for n in counts:
                vals = []
                for side in sides:
                    r = next((r for r in rows if r["workers"] == n and
                              r["workload"] == f"mpmc_{side}"), None)
                    s = r["impls"].get(impl) if r else None
                    vals.append(s["median"] if s and s["median"] else None)
                if all(v is None for v in vals):
                    continue
                f.write(f"# {impl} w{n}\n")
                for i, v in enumerate(vals):
                    f.write(f"{i} {v if v is not None else 'NaN'}\n")
                f.write("\n\n")
                series.append((f"{impl}, workers={n}", COLORS[impl],
                               1 if n == counts[0] else 2))
    if series:
        png = f"{stem}-mpmc.png"
        cols = " , ".join(
            f"'{data}' index {i} using 1:2 with linespoints lw 2 "
            f"lc rgb '{color}' dt {dash} title '{title}'"
            for i, (title, color, dash) in enumerate(series))
        script = f"""
set terminal pngcairo noenhanced size 1000,650 font ',11'
set output '{png}'
set title 'MPMC queue, capacity 1024: producers x consumers'
set xlabel 'producers x consumers'
set ylabel 'items per second (log scale)'
set logscale y
set xtics ('1x1' 0, '4x4' 1, '16x16' 2)
set xrange [-0.3:2.3]
set key outside right
set grid
plot {cols}
"""
        subprocess.run(["gnuplot"], input=script, text=True, check=False)
        made.append(png)
    return made


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--boucle", required=True)
    ap.add_argument("--peers-dir", default=os.path.join(ROOT, "bench",
                                                         "peers"))
    ap.add_argument("--peers-out", default=os.path.join(ROOT, "build",
                                                         "peers"))
    ap.add_argument("--results", default=os.path.join(ROOT, "bench",
                                                       "results"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--workers", default=None)
    ap.add_argument("--only", default=None)
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--quick", action="store_true",
                    default=os.environ.get("BENCH_QUICK") == "1")
    args = ap.parse_args()

    counts = ([int(x) for x in args.workers.split(",")] if args.workers
              else sorted({1, 2, os.cpu_count() or 1}))
    workloads = list_workloads(args.boucle)
    if args.only:
        keys = args.only.split(",")
        workloads = [w for w in workloads
                     if any(k in w["name"] for k in keys)]
    peers = {} if args.no_peers else build_peers(args.peers_dir,
                                                 args.peers_out)
    impls = ["boucle"] + [p for p in PEER_ORDER if p in peers]
    env = dict(os.environ)
    if args.quick:
        env["BENCH_QUICK"] = "1"

    info = machine_info()
    versions = {"boucle": subprocess.run(
        ["git", "-C", ROOT, "describe", "--always", "--dirty"],
        capture_output=True, text=True).stdout.strip() or "unknown"}
    for impl, pkg in (("go", "golang-go"), ("tokio", "librust-tokio-dev"),
                      ("tbb", "libtbb-dev"), ("asyncio", "python3")):
        if impl in peers:
            versions[impl] = package_version(pkg)

    runs = []
    for step, w in enumerate(workloads, 1):
        nruns = w["runs"] or args.runs
        # boucle-only measurements (runs fixed by the case) skip peers.
        mine = ["boucle"] if w["runs"] else impls
        unsupported, slow = set(), set()  # of (impl, workers)
        for k in range(nruns):
            # The worker counts alternate within a round too, so that
            # boucle's scaling (one worker against two) compares runs
            # taken seconds apart, not a whole workload apart.
            for n in counts:
                for impl in mine:
                    if (impl, n) in unsupported or (impl, n) in slow:
                        continue
                    log(f"[{step}/{len(workloads)}] {w['name']} "
                        f"workers={n} run {k + 1}/{nruns}: {impl}")
                    if impl == "boucle":
                        argv = [args.boucle, "--workload", w["name"],
                                "--workers", str(n)]
                    else:
                        argv = [peers[impl], w["name"], str(n)]
                        if args.quick:
                            argv.append("quick")
                    began = time.monotonic()
                    status, value, rss = run_once(argv, env)
                    elapsed = time.monotonic() - began
                    if status == "unsupported":
                        unsupported.add((impl, n))
                    elif elapsed > SLOW_RUN:
                        log(f"  {impl} took over {SLOW_RUN} s: one run only")
                        slow.add((impl, n))
                    runs.append({"workload": w["name"], "unit": w["unit"],
                                 "workers": n, "impl": impl, "run": k + 1,
                                 "status": status, "value": value,
                                 "rss_kib": rss,
                                 "seconds": round(elapsed, 3)})

    rows = summarize(runs, workloads, impls, counts)
    print_table(rows, impls, info, args)

    os.makedirs(args.results, exist_ok=True)
    stamp = datetime.date.today().isoformat()
    stem = os.path.join(args.results,
                        f"{stamp}-{info['host']}{'-quick' if args.quick else ''}")
    with open(stem + ".json", "w") as f:
        json.dump({"date": datetime.datetime.now().isoformat(
                       timespec="seconds"),
                   "machine": info, "versions": versions,
                   "quick": args.quick, "runs_per_case": args.runs,
                   "workers": counts, "runs": runs, "summary": rows},
                  f, indent=1)
    made = plot(rows, impls, counts, stem)
    log(f"results: {stem}.json" + "".join(f", {p}" for p in made))
    failed = [r for r in runs if r["status"] in ("failed", "timeout")]
    boucle_failed = [r for r in failed if r["impl"] == "boucle"]
    for r in failed:
        log(f"FAILED: {r['impl']} {r['workload']} workers={r['workers']} "
            f"run {r['run']} ({r['status']})")
    return 1 if boucle_failed else 0


if __name__ == "__main__":
    sys.exit(main())
