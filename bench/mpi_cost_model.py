#!/usr/bin/env python3
"""Predicted efficiency of data-parallel training (libautoenc_mpi) at many ranks, from the
per-step compute time measured by bench_mpi and a cost model of the gradient allreduce.

    python3 bench/mpi_cost_model.py --compute-ms 24.0 [--batch 256] [--widths 784-512-256-64]
                                    [--bucket-bytes 262144] [--ranks 8,64,512] [--gbits 10,25,100]

Model (docs/distributed.md, "Speed on paper"):
- a ring allreduce of S bytes on R ranks takes 2 (R-1)/R * S / bandwidth + 2 (R-1) * alpha;
  Rabenseifner's (recursive halving, then doubling; what MPI libraries pick for large
  messages on many ranks) the same bandwidth term and 2 log2(R) * alpha;
- alpha, the cost of one message: 25 us over TCP on 10 and 25 Gb/s Ethernet, 3 us on
  100 Gb/s RDMA (InfiniBand, RoCE); the bandwidth is the line rate (an upper bound);
- per-rank compute time scales with the batch (measured at --batch, scaled linearly);
- the step is forward, then backward (the update is small). The backward pass hands buckets over as
  libautoenc_mpi builds them (runs of neighbouring spans, started at bucket_bytes, last layer
  first), at times proportional to the backward flops done so far; the network reduces them
  one after another; what is left when the backward pass ends is exposed. Without overlap
  the whole allreduce is exposed. Efficiency = compute / (compute + exposed).
"""
import argparse
import math


def layers(widths):
    enc = list(zip(widths[:-1], widths[1:]))
    dec = [(b, a) for a, b in reversed(enc)]
    return enc + dec  # (n_in, n_out) per layer


def buckets(widths, bucket_bytes, batch):
    """(ready_fraction_of_backward, bytes) per reduction, in the order they start."""
    ls = layers(widths)
    # backward flops per layer: weight gradient, then input gradient (not for layer 0)
    work = []
    for l in reversed(range(len(ls))):
        n_in, n_out = ls[l]
        dw = 2 * batch * n_in * n_out
        dx = dw if l > 0 else 0
        work.append((l, dw, dx))
    total = sum(dw + dx for _, dw, dx in work)
    done = 0.0
    spans = []  # (ready fraction, kind, layer, floats)
    for l, dw, dx in work:
        done += dw
        n_in, n_out = ls[l]
        spans.append((done / total, "w", l, n_in * n_out))
        spans.append((done / total, "b", l, n_out))
        done += dx
    # runs of neighbouring spans: weights of layers l, l-1, ... are neighbours, so are biases
    out, open_runs = [], {}
    for ready, kind, l, floats in spans:
        run = open_runs.get(kind)
        if run is None or run["next"] != l:
            run = open_runs[kind] = {"floats": 0, "next": l}
        run["floats"] += floats
        run["next"] = l - 1
        if run["floats"] * 4 >= bucket_bytes:
            out.append((ready, run["floats"] * 4))
            open_runs[kind] = None
    for run in open_runs.values():
        if run and run["floats"]:
            out.append((1.0, run["floats"] * 4))
    return out


def allreduce_seconds(nbytes, ranks, gbits, alpha, algorithm):
    bandwidth = gbits * 1e9 / 8
    band = 2 * (ranks - 1) / ranks * nbytes / bandwidth
    if algorithm == "ring":
        return band + 2 * (ranks - 1) * alpha
    return band + 2 * math.log2(ranks) * alpha


def efficiency(compute, backward_share, plan, ranks, gbits, alpha, algorithm, overlap):
    if not overlap:
        total = sum(b for _, b in plan)
        exposed = allreduce_seconds(total, ranks, gbits, alpha, algorithm)
        return compute / (compute + exposed)
    # forward, then backward (the update's elementwise pass is small and counted in neither)
    backward = compute * backward_share
    start_of_backward = compute - backward
    free_at = 0.0
    end_of_backward = compute
    for ready, nbytes in plan:
        t = max(free_at, start_of_backward + ready * backward)
        free_at = t + allreduce_seconds(nbytes, ranks, gbits, alpha, algorithm)
    exposed = max(0.0, free_at - end_of_backward)
    return compute / (compute + exposed)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--compute-ms", type=float, required=True, help="per-rank step time without MPI at --batch")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--batches", default="256,1024,4096", help="per-rank batches to predict")
    p.add_argument("--widths", default="784-512-256-64")
    p.add_argument("--bucket-bytes", type=int, default=262144)
    p.add_argument("--ranks", default="8,64,512")
    p.add_argument("--gbits", default="10,25,100")
    p.add_argument("--bytes-factor", type=float, default=1.0, help="gradient compression: 0.5 for fp16")
    a = p.parse_args()
    widths = [int(w) for w in a.widths.split("-")]
    ls = layers(widths)
    params = sum(i * o + o for i, o in ls)
    fwd = sum(2 * i * o for i, o in ls)
    bwd = sum(2 * i * o * (2 if l > 0 else 1) for l, (i, o) in enumerate(ls))
    backward_share = bwd / (fwd + bwd)
    print(f"model {a.widths} mirrored: {params} parameters, {params * 4 / 1e6:.2f} MB of gradient; "
          f"backward {100 * backward_share:.0f}% of the step's flops")
    for batch in [int(b) for b in a.batches.split(",")]:
        compute = a.compute_ms / 1e3 * batch / a.batch
        plan = [(r, b * a.bytes_factor) for r, b in buckets(widths, a.bucket_bytes, batch)]
        print(f"\nper-rank batch {batch}: compute {compute * 1e3:.1f} ms/step, "
              f"{len(plan)} reductions of {', '.join(f'{b / 1e6:.2f}' for _, b in plan)} MB")
        print(f"{'ranks':>6} {'Gb/s':>5} {'alpha':>6} {'allreduce':>10} | {'ring':>14} {'ring+overlap':>13} | "
              f"{'Rabenseifner':>13} {'+overlap':>9}")
        for ranks in [int(r) for r in a.ranks.split(",")]:
            for gbits in [float(g) for g in a.gbits.split(",")]:
                alpha = 3e-6 if gbits >= 100 else 25e-6
                total = sum(b for _, b in plan)
                t_ring = allreduce_seconds(total, ranks, gbits, alpha, "ring")
                row = [efficiency(compute, backward_share, plan, ranks, gbits, alpha, alg, ov)
                       for alg in ("ring", "rabenseifner") for ov in (False, True)]
                print(f"{ranks:>6} {gbits:>5.0f} {alpha * 1e6:>4.0f}us {t_ring * 1e3:>8.1f}ms | "
                      f"{100 * row[0]:>13.0f}% {100 * row[1]:>12.0f}% | {100 * row[2]:>12.0f}% {100 * row[3]:>8.0f}%")


if __name__ == "__main__":
    main()
