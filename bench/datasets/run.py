#!/usr/bin/python3
"""libautoenc against reference datasets: one command runs every stage and rewrites the
report (docs/results.md) and its figures (docs/results/).

  /usr/bin/python3 bench/datasets/run.py                  the full run (about 45 min on 2 cores)
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
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch stages as if torch were missing")
    p.add_argument("--report-only", action="store_true",
                   help="rewrite results.md from OUT/results/results.json without running anything")
    args = p.parse_args(argv)
    args.threads = args.threads or int(os.environ.get("OPENBLAS_NUM_THREADS", "0") or 0) or os.cpu_count() or 1
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


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
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
    timings = {}
    failed = []
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
    info["load_average_end"] = "%.1f %.1f %.1f" % os.getloadavg()
    data = {"info": info, "quick": args.quick, "command": args.command, "stages": args.stages,
            "threads": args.threads, "seeds": ctx.seeds, "seconds": timings,
            "total_seconds": time.time() - ctx.t0, "results": ctx.results,
            "checks": ctx.checks, "notes": ctx.notes, "figures": ctx.figures,
            "torch_error": ctx.torch_error}
    common.write_json(os.path.join(ctx.fig_dir, "results.json"), data)
    report.write(ctx.out, report.load(ctx.out))
    n_bad = sum(1 for c in ctx.checks if not c[2])
    print("\n%d checks, %d failed; %d figures; %.0f s in all; report: %s" % (
        len(ctx.checks), n_bad, len(ctx.figures), data["total_seconds"], os.path.join(ctx.out, "results.md")))
    for stage, what, ok, detail in ctx.checks:
        if not ok:
            print("FAILED %s: %s %s" % (stage, what, detail))
    return 1 if n_bad or failed else 0


if __name__ == "__main__":
    sys.exit(main())
