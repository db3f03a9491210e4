#!/usr/bin/python3
"""libautoenc against reference datasets: one command runs every stage and rewrites the
report (docs/results.md) and its figures (docs/results/).

  /usr/bin/python3 bench/datasets/run.py                  the full run (53 min on 2 shared cores)
  /usr/bin/python3 bench/datasets/run.py --quick          the same pipeline on small subsets
  cmake --build build --target results                    the full run, against build/'s library

Stages: recon (reconstruction against PCA and PyTorch), oneclass (one-class anomaly
detection on Fashion-MNIST), tabular (anomaly detection on scikit-learn's data sets),
features (codes as features), denoise, generate (variational models), speed.

The library: AUTOENC_LIBRARY (a file), --build DIR (DIR/src/libautoenc.so.0), or the
package's own search (bindings/python/README.md). PyTorch stages run when torch imports
(Debian's python3-torch) and are skipped with a note otherwise. The run fails (exit 1)
when any check fails: each stage checks that it produced sane figures and results (the
autoencoder beats the mean image, detectors beat chance, ...); never timings.
"""

import argparse
import os
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
STAGES = ("recon", "oneclass", "tabular", "features", "denoise", "generate", "speed")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("--quick", action="store_true", help="small subsets, a couple of epochs (under 2 minutes)")
    p.add_argument("--out", default=None,
                   help="folder for results.md and results/ (default: docs/ of the checkout for a full run, "
                        "a new folder under /tmp for --quick)")
    p.add_argument("--build", default=None, help="a build folder whose src/libautoenc.so.0 to use")
    p.add_argument("--seeds", type=int, default=3, help="seeds where several are run (default 3)")
    p.add_argument("--threads", type=int, default=None,
                   help="threads for OpenBLAS, libautoenc and torch (default: the number of CPUs)")
    p.add_argument("--stages", default=",".join(STAGES),
                   help="comma-separated subset of: %s (later stages need recon)" % ", ".join(STAGES))
    p.add_argument("--train-rows", type=int, default=None,
                   help="train the reference-size models (stages recon, features, denoise, generate) on a "
                        "stratified subset of this many training images (default: all 60,000); the "
                        "one-class stage always uses every image of its class")
    p.add_argument("--epochs", type=int, default=None,
                   help="epochs of the reference-size models (recon, denoise, generate and the one-class "
                        "plain model; defaults 10, 10, 10 and 20); the one-class recipe keeps its 20")
    p.add_argument("--oneclass-classes", default=None,
                   help="comma-separated classes that this run trains in the one-class stage (with "
                        "--resume: other runs do the rest side by side; a last --resume run collects them)")
    p.add_argument("--resume", action="store_true",
                   help="keep the stages already in OUT/results/results.json (skipping them) and merge this "
                        "run's stages into it; runs with --resume on different stages can go side by side")
    p.add_argument("--again", default="",
                   help="with --resume: run these stages again although they are in results.json (the one-class "
                        "stage still takes its finished classes from results/oneclass_parts/)")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch stages as if torch were missing")
    p.add_argument("--jobs", type=int, default=None,
                   help="a full run's processes side by side, each on one thread (default: the number of "
                        "CPUs, at most 3): one runs every stage but the one-class one, the others share "
                        "its classes; 1 runs every stage in this process on --threads threads")
    p.add_argument("--report-only", action="store_true",
                   help="rewrite results.md from OUT/results/results.json without running anything")
    args = p.parse_args(argv)
    explicit_threads = args.threads
    args.threads = args.threads or int(os.environ.get("OPENBLAS_NUM_THREADS", "0") or 0) or os.cpu_count() or 1
    if args.jobs is None:
        # side by side only when nothing asks for one process (threads, a share of the classes)
        side = not (args.quick or args.resume or args.report_only or explicit_threads or args.oneclass_classes)
        args.jobs = min(os.cpu_count() or 1, 3) if side else 1
    if args.out is None:
        if args.quick:
            import tempfile
            args.out = tempfile.mkdtemp(prefix="autoenc-results-quick-")
        else:
            args.out = os.path.join(ROOT, "docs")
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    bad = [s for s in stages if s not in STAGES]
    if bad:
        p.error("unknown stage(s): %s" % ", ".join(bad))
    if any(s in stages for s in ("features", "denoise")) and "recon" not in stages:
        p.error("features and denoise use the models of recon: add recon to --stages")
    if args.oneclass_classes:
        args.oneclass_classes = tuple(int(c) for c in args.oneclass_classes.split(","))
        if not args.resume:
            p.error("--oneclass-classes needs --resume (the classes' results are merged)")
    if args.quick and (args.train_rows or args.epochs):
        p.error("--train-rows and --epochs are for full runs (--quick has its own subsets)")
    args.stages = [s for s in STAGES if s in stages]
    shown = ["/usr/bin/python3 bench/datasets/run.py"]
    skip = False
    for a in argv:   # the library and the default folder do not change the results
        if skip:
            skip = False
        elif a in ("--build", "--out") and not (a == "--out" and args.quick):
            skip = True
        elif not a.startswith("--build=") and not a.startswith("--out="):
            shown.append(a)
    args.command = " ".join(shown)
    return args


def run_side_by_side(args):
    """A full run as processes side by side (--jobs): on a small machine, one-threaded
    processes keep every core busy where one process's threads would wait for each other
    (PyTorch's fits ran 2.5 times slower on two threads than on one on the 2-core machine of
    docs/results.md). The one-class classes are shared by jobs - 1 runs, the other stages go
    to one run; each merges its results into OUT/results/results.json (--resume), the last
    one-class run collects the classes, and the report is written at the end."""
    import shutil
    import subprocess
    fig_dir = os.path.join(args.out, "results")
    for stale in ("results.json", "oneclass_parts"):    # a full run starts afresh
        path = os.path.join(fig_dir, stale)
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)
    base = [sys.executable, os.path.abspath(__file__), "--out", args.out, "--resume", "--threads", "1",
            "--seeds", str(args.seeds)]
    for flag, value in (("--train-rows", args.train_rows), ("--epochs", args.epochs)):
        if value:
            base += [flag, str(value)]
    if args.no_torch:
        base.append("--no-torch")
    others = [s for s in args.stages if s != "oneclass"]
    commands = [base + ["--stages", ",".join(others)]] if others else []
    if "oneclass" in args.stages:
        shares = max(1, args.jobs - len(commands))
        classes = list(range(10))
        for k in range(shares):
            mine = classes[k::shares]
            commands.append(base + ["--stages", "oneclass", "--oneclass-classes", ",".join(map(str, mine))])
    print("run: %d processes side by side (--jobs %d), one thread each:" % (len(commands), args.jobs), flush=True)
    for c in commands:
        print("  " + " ".join(c[1:]), flush=True)
    procs = [subprocess.Popen(c) for c in commands]
    status = max(p.wait() for p in procs)
    # whichever one-class run finished last collected the classes; rewrite the report once more
    subprocess.call(base[:2] + ["--out", args.out, "--report-only"])
    return 1 if status else 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.jobs > 1 and not args.report_only:
        return run_side_by_side(args)
    # OpenBLAS reads its thread count when it is loaded (by torch or by libautoenc).
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(args.threads))
    if args.build:
        os.environ["AUTOENC_LIBRARY"] = os.path.join(os.path.abspath(args.build), "src", "libautoenc.so.0")
    sys.path.insert(0, HERE)
    sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
    import matplotlib
    matplotlib.use("Agg")
    import numpy as np
    np.seterr(all="ignore")

    import autoenc
    import common
    import report

    if args.report_only:
        data = report.load(args.out)
        report.write(args.out, data)
        print("wrote %s" % os.path.join(args.out, "results.md"))
        return 0

    done = {}
    if args.resume and os.path.exists(os.path.join(args.out, "results", "results.json")):
        done = report.load(args.out)
        if bool(done.get("quick")) != args.quick:
            print("--resume: %s holds a %s run; this one is %s" % (
                args.out, "quick" if done.get("quick") else "full", "quick" if args.quick else "full"))
            return 2
        again = [s.strip() for s in args.again.split(",") if s.strip()]
        skipped = [s for s in args.stages if s in done.get("results", {}) and s not in again]
        args.stages = [s for s in args.stages if s not in skipped]
        if any(s in args.stages for s in ("features", "denoise")) and "recon" not in args.stages:
            print("--resume: features and denoise need recon's models in the same process: add recon "
                  "(or remove its results)")
            return 2
        if skipped:
            print("--resume: %s already in %s, skipped" % (", ".join(skipped), args.out))

    ctx = common.Context(args)
    if args.no_torch:
        ctx.torch_error = "--no-torch was given"
    else:
        from torch_ae import import_torch
        ctx.torch, ctx.torch_error = import_torch(args.threads)
    if ctx.torch is None:
        ctx.note("run", "PyTorch is not importable (%s): the PyTorch stages are skipped" % ctx.torch_error)
    ctx.log("run", "libautoenc %s from %s; %s; %d threads; out: %s" % (
        autoenc.version_string(), autoenc.library_path, "quick" if args.quick else "full", args.threads, ctx.out))
    info = common.machine_info(autoenc, ctx.torch)
    this_run = {"command": args.command, "stages": [], "started": info["date"], "threads": args.threads,
                "load_average": info["load_average"], "pid": os.getpid(),
                "oneclass_classes": list(args.oneclass_classes or []), "commit": info["commit"]}
    timings = {}
    failed = []

    def checkpoint():
        """Merge this run's finished stages into OUT/results/results.json (under a lock, so
        that runs side by side with --resume do not lose each other's stages)."""
        import fcntl
        this_run["load_average_end"] = "%.1f %.1f %.1f" % os.getloadavg()
        this_run["seconds"] = time.time() - ctx.t0
        path = os.path.join(ctx.fig_dir, "results.json")
        with open(path + ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            old = report.load(ctx.out) if (args.resume and os.path.exists(path)) else None
            mine = set(this_run["stages"])
            if old is None:
                old = {"info": info, "quick": args.quick, "threads": args.threads, "seeds": ctx.seeds,
                       "results": {}, "seconds": {}, "checks": [], "notes": [], "figures": [], "runs": []}
            old["info"]["load_average_end"] = this_run["load_average_end"]
            old["results"].update({k: ctx.results[k] for k in mine if k in ctx.results})
            old["seconds"].update({k: timings[k] for k in mine})
            old["checks"] = [c for c in old["checks"] if c[0] not in mine] + \
                [c for c in ctx.checks if c[0] in mine or c[0] == "run"]
            notes = [list(n) for n in ctx.notes]
            old["notes"] = [n for n in old["notes"] if n[0] not in mine and list(n) not in notes] + notes
            old["figures"] = sorted(set(old["figures"]) | set(ctx.figures))
            # a run repeated with the same command (e.g. collecting the one-class classes again)
            # replaces the earlier one's entry
            # replaces the earlier one's entry; a stage run again is no longer an earlier run's, and
            # an earlier run left with nothing drops out of the list
            runs = []
            for r in old.get("runs", []):
                if (r.get("pid") == this_run["pid"] and r.get("started") == this_run["started"]) \
                        or r.get("command") == this_run["command"]:
                    continue
                r["stages"] = [s for s in r["stages"] if s not in mine]
                if r["stages"] or r.get("oneclass_classes"):
                    runs.append(r)
            old["runs"] = runs + [dict(this_run)]
            old["stages"] = [s for s in STAGES if s in old["results"] or s in old["seconds"]]
            old["torch_error"] = ctx.torch_error
            old["command"] = " ; ".join(r["command"] for r in old["runs"])
            old["total_seconds"] = sum(old["seconds"].values())
            common.write_json(path, old)

    for name in args.stages:
        module = __import__("stage_" + name)
        start = time.time()
        ctx.log(name, "start")
        try:
            module.run(ctx)
        except Exception:  # noqa: BLE001 -- a stage that fails is reported, the others still run
            traceback.print_exc()
            failed.append(name)
            ctx.check(name, "the stage ran to the end", False, traceback.format_exc(limit=3).splitlines()[-1])
        timings[name] = time.time() - start
        ctx.log(name, "done in %.0f s" % timings[name])
        if name in ctx.results or name in failed:    # not a one-class run's share of the classes
            this_run["stages"].append(name)
        checkpoint()       # an interrupted run keeps its finished stages (--resume goes on)
    data = report.load(ctx.out)
    for name in data["figures"]:     # also those of earlier runs merged by --resume
        if os.path.exists(ctx.fig_path(name)):
            common.shrink_png(ctx.fig_path(name))
    report.write(ctx.out, data)
    n_bad = sum(1 for c in ctx.checks if not c[2])
    print("\n%d checks, %d failed; %d figures; %.0f s in this run; report: %s" % (
        len(ctx.checks), n_bad, len(ctx.figures), time.time() - ctx.t0, os.path.join(ctx.out, "results.md")))
    for stage, what, ok, detail in ctx.checks:
        if not ok:
            print("FAILED %s: %s %s" % (stage, what, detail))
    return 1 if n_bad or failed else 0


if __name__ == "__main__":
    sys.exit(main())
