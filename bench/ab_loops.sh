#!/bin/bash
# Two builds of the library against each other in training and encode loops (bench_loop),
# a process per run, the builds in turn (A B, then B A), medians per configuration:
#
#   bench/ab_loops.sh BUILD/bench/bench_loop LIB_A LIB_B "64-32-8 30-16-4" "64 256 1024" [ROUNDS] [SECONDS]
#
# LIB_A and LIB_B are libautoenc.so files (e.g. build-old/src/libautoenc.so.0 and
# build/src/libautoenc.so.0), preloaded over the one bench_loop links. Prints, per model and
# batch, samples/s with A and with B and their ratio B/A, for training and for encoding.
set -eu
[ $# -ge 5 ] || { sed -n '2,9p' "$0" >&2; exit 2; }
loop=$1 a=$2 b=$3 models=$4 batches=$5 rounds=${6:-3} seconds=${7:-0.6}
runs=$(mktemp)
trap 'rm -f "$runs"' EXIT
for model in $models; do
    for batch in $batches; do
        for round in $(seq "$rounds"); do
            order="A B"
            [ $((round % 2)) -eq 1 ] || order="B A"
            for which in $order; do
                lib=$a
                [ "$which" = A ] || lib=$b
                line=$(LD_PRELOAD=$lib "$loop" "$model" "$batch" "$seconds") # set -e: a failed run stops
                echo "$which $line" >> "$runs"
            done
        done
    done
done
/usr/bin/python3 - "$runs" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    which, model, batch, _, train, _, encode = line.split()
    runs[(model, int(batch), which)].append((float(train), float(encode)))
print(f"{'model':>16} {'batch':>5}  {'train A':>11} {'train B':>11} {'B/A':>6}  {'encode A':>11} {'encode B':>11} {'B/A':>6}")
for model, batch in sorted({(m, b) for m, b, _ in runs}, key=lambda k: (k[0], k[1])):
    a = [statistics.median(v[i] for v in runs[(model, batch, "A")]) for i in (0, 1)]
    b = [statistics.median(v[i] for v in runs[(model, batch, "B")]) for i in (0, 1)]
    print(f"{model:>16} {batch:5d}  {a[0]:11.0f} {b[0]:11.0f} {b[0] / a[0]:5.2f}x  {a[1]:11.0f} {b[1]:11.0f} {b[1] / a[1]:5.2f}x")
PY
