#!/usr/bin/env python3
"""Medians over several bench_mpi runs, and the scaling efficiency of R ranks against one.

    python3 bench/bench_mpi_summary.py --one np1_*.json --many np2_*.json

Each JSON file is one `mpiexec -np R bench_mpi --json FILE` run (itself medians over its
repetitions). For every engine the median over runs of samples/s and of the shares of step
time in the hooks is printed; the efficiency is samples/s of R ranks over R times the samples/s
of one rank (its `overlap:default` engine: one rank makes no MPI call).
"""
import argparse
import json
import statistics


def load(paths):
    runs = [json.load(open(p)) for p in paths]
    engines = {}
    for run in runs:
        for e in run["engines"]:
            engines.setdefault(e["engine"], []).append(e)
    return runs, engines


def median(values):
    return statistics.median(values) if values else float("nan")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--one", nargs="+", required=True, help="bench_mpi JSON files of 1 rank")
    p.add_argument("--many", nargs="+", required=True, help="bench_mpi JSON files of R ranks")
    a = p.parse_args()
    one_runs, one = load(a.one)
    many_runs, many = load(a.many)
    ranks = many_runs[0]["ranks"]
    base = median([e["samples_per_second"] for e in one["overlap:default"]])
    base_compute = median([e["samples_per_second"] for e in one.get("compute", one["overlap:default"])])
    loads = [r["load_before"] for r in one_runs + many_runs] + [r["load_after"] for r in one_runs + many_runs]
    print(f"1 rank: {base:.0f} samples/s (without hooks: {base_compute:.0f}), {len(one_runs)} runs; "
          f"{ranks} ranks: {len(many_runs)} runs; load average {min(loads):.2f} to {max(loads):.2f}")
    print(f"{'engine':<18} {'ms/step':>8} {'samples/s':>10} {'x 1 rank':>9} {'efficiency':>10} "
          f"{'ready':>7} {'wait':>7} {'reduce':>7} {'buckets':>8}")
    for name, entries in many.items():
        samples = median([e["samples_per_second"] for e in entries])
        ms = median([e["ms_per_step"] for e in entries])
        if name == "allreduce":
            print(f"{name:<18} {ms:>8.2f}")
            continue
        ratio = samples / base
        shares = [median([e[k] for e in entries]) for k in ("ready_share", "wait_share", "reduce_share")]
        buckets = median([e.get("buckets_per_step", 0) for e in entries])
        hooks = name != "compute"
        print(f"{name:<18} {ms:>8.2f} {samples:>10.0f} {ratio:>8.2f}x {100 * ratio / ranks:>9.1f}% "
              + (" ".join(f"{100 * s:>6.1f}%" for s in shares) + f" {buckets:>8.0f}" if hooks else ""))


if __name__ == "__main__":
    main()
