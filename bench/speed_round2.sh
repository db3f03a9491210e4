#!/bin/sh
# Every figure behind the speed targets of docs/performance.md#speed_round2 in one run, so
# that they come from the same machine state: the training step and encode against the
# OpenBLAS floor, the machine's limit and the update's floor; the row-split step (OpenBLAS
# on one thread); the variants; serving from 1, 2 and 4 threads beside the bare sgemv
# floor; PyTorch side by side; and the regression guard against bench/baseline_step.json.
# The reference model's row-split step is also timed against OpenBLAS's threaded floor in
# the same process (bench_step --threaded-floor), which the machine's drift between two runs
# cannot enter.
#
#   bench/speed_round2.sh [BUILD_DIR] [OUT_DIR]      (defaults: build, speed-round2)
#
# Run it on a machine doing nothing else; about 10 minutes on 2 cores. OpenBLAS's variables
# (OPENBLAS_CORETYPE, ...) are passed through as set and recorded in OUT_DIR/conditions.txt;
# run it once more with OPENBLAS_CORETYPE=SkylakeX on a CPU newer than OpenBLAS knows.
# PyTorch needs Debian's python3-torch; without it that part is skipped.
set -eu
build=${1:-build}
out=${2:-speed-round2}
mkdir -p "$out"
step="$build/bench/bench_step"
serve="$build/bench/bench_serve"
lib="$build/src/libautoenc.so"
for tool in "$step" "$serve" "$lib"; do
    [ -e "$tool" ] || { echo "speed_round2: $tool is missing: cmake --build $build --target bench autoenc" >&2; exit 2; }
done

conditions() {
    echo "$1: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); load: $(cut -d' ' -f1-3 /proc/loadavg)"
}
# The processors' ticks since boot, all and stolen (the "cpu" line of /proc/stat: a virtual
# machine's steal is the time its host ran something else while it had work): the run's
# share of stolen time is the measure of a quiet host that the load average is not.
cpu_ticks() { awk '$1 == "cpu" { for (i = 2; i <= NF; i++) all += $i; print all, $9 }' /proc/stat; }
ticks_start=$(cpu_ticks)
{
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "OpenBLAS variables: $(env | grep '^OPENBLAS_' | tr '\n' ' ')"
    echo "processor: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) online"
    conditions start
} > "$out/conditions.txt"

echo "== step and encode, OpenBLAS's own threads (regression guard against the baseline)"
status=0
"$step" --models reference,narrow,30-16-4 --batches 1,64,256,1024 --budget 2 \
    --json "$out/step.json" --check bench/baseline_step.json > "$out/step.txt" || status=$?
cat "$out/step.txt"
# exit 3 is the guard finding a drop; anything else is a failure of the run itself
[ "$status" -eq 0 ] || [ "$status" -eq 3 ] || exit "$status"

echo "== row-split step: OpenBLAS on one thread, the model's threads split the rows"
OPENBLAS_NUM_THREADS=1 "$step" --models reference,narrow,30-16-4 --batches 64,256,1024 --budget 2 \
    --json "$out/step_split.json" > "$out/step_split.txt"
cat "$out/step_split.txt"

echo "== the reference model's row-split step against OpenBLAS's threaded floor in one process"
OPENBLAS_NUM_THREADS=1 "$step" --models reference --batches 64,256,1024 --budget 6 --threaded-floor \
    --json "$out/step_split_threaded_floor.json" > "$out/step_split_threaded_floor.txt"
cat "$out/step_split_threaded_floor.txt"

echo "== variants against the plain model"
"$step" --models variants --batches 256 --budget 3 --json "$out/variants.json" > "$out/variants.txt"
cat "$out/variants.txt"

echo "== serving: single rows from 1, 2 and 4 threads, OpenBLAS on one thread"
"$serve" --seconds 1 --rounds 3 --blas-threads 1 --json "$out/serve.json" > "$out/serve.txt"
cat "$out/serve.txt"

if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    for model in 784-512-256-64 64-32-8 30-16-4; do
        echo "== PyTorch side by side: $model"
        /usr/bin/python3 bench/peers_torch.py --lib "$lib" --model "$model" --batches 64,256,1024 \
            --reps 10 --json "$out/torch-$model.json" > "$out/torch-$model.txt"
        cat "$out/torch-$model.txt"
    done
else
    echo "== PyTorch side by side: skipped (python3-torch is not installed)"
fi
{
    conditions end
    echo "$ticks_start $(cpu_ticks)" | awk '{ all = $3 - $1; stolen = $4 - $2
        printf "stolen by the host: %.2f%% of the processors'"'"' time during the run\n", (all > 0 ? 100 * stolen / all : 0) }'
} >> "$out/conditions.txt"
cat "$out/conditions.txt"
[ "$status" -eq 0 ] || echo "speed_round2: the regression guard found a drop (step.txt)" >&2
exit "$status"
