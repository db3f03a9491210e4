#!/bin/bash
# Alternate 1-rank and R-rank bench_mpi jobs on a shared machine, and say for each how much
# of the machine other processes took while it ran, so that runs disturbed by them can be
# told apart (docs/distributed.md, "Speed on this machine").
#
#   bench/bench_mpi_runs.sh BUILD_DIR OUT_DIR [PAIRS] [RANKS] [-- bench_mpi options for the R-rank job]
#
# Each job starts once no other process has been runnable for 5 consecutive seconds (or
# after MAX_WAIT seconds, default 1200). OUT_DIR gets np1_K.json / npR_K.json (bench_mpi
# --json) and jobs.tsv: job, start time, seconds waited, wall seconds, the job's own CPU
# seconds, and the share of the machine's CPU time (all cores) used by other processes
# meanwhile. Summarise with bench/bench_mpi_summary.py.
set -u
build=$1 out=$2 pairs=${3:-8} ranks=${4:-2}
shift $(( $# < 4 ? $# : 4 ))
[ "${1:-}" = "--" ] && shift
bench=$build/bench/bench_mpi
max_wait=${MAX_WAIT:-1200}
export OPENBLAS_NUM_THREADS=1
mkdir -p "$out"
[ -f "$out/jobs.tsv" ] || printf 'job\tstart\twaited_s\twall_s\tjob_cpu_s\tforeign_share\n' > "$out/jobs.tsv"
launch="mpirun"
[ "$(id -u)" = 0 ] && launch="mpirun --allow-run-as-root"
cores=$(nproc)

wait_quiet() {
    local waited=0 calm=0 running
    while [ $calm -lt 5 ] && [ $waited -lt "$max_wait" ]; do
        running=$(awk '/procs_running/ {print $2}' /proc/stat)
        if [ "$running" -le 1 ]; then calm=$((calm + 1)); else calm=0; fi
        sleep 1
        waited=$((waited + 1))
    done
    echo $waited
}

busy_jiffies() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }

run_job() { # name ranks args...
    local name=$1 n=$2
    shift 2
    local waited start busy0 busy1 t0 t1 hz cpu
    waited=$(wait_quiet)
    start=$(date +%T)
    busy0=$(busy_jiffies)
    t0=$(date +%s.%N)
    /usr/bin/time -f '%U %S' -o "$out/$name.time" \
        $launch -np "$n" "$bench" --json "$out/$name.json" "$@" > "$out/$name.txt" 2>&1
    t1=$(date +%s.%N)
    busy1=$(busy_jiffies)
    hz=$(getconf CLK_TCK)
    cpu=$(awk '{print $1 + $2}' "$out/$name.time")
    awk -v name="$name" -v start="$start" -v waited="$waited" -v t0="$t0" -v t1="$t1" \
        -v b0="$busy0" -v b1="$busy1" -v hz="$hz" -v cpu="$cpu" -v cores="$cores" 'BEGIN {
        wall = t1 - t0; busy = (b1 - b0) / hz; foreign = busy - cpu; if (foreign < 0) foreign = 0
        printf "%s\t%s\t%d\t%.1f\t%.1f\t%.3f\n", name, start, waited, wall, cpu, foreign / (wall * cores)
    }' >> "$out/jobs.tsv"
}

for k in $(seq 1 "$pairs"); do
    run_job "np1_$k" 1 --reps 3 --configs overlap:default,compute
    run_job "np${ranks}_$k" "$ranks" --reps 3 "$@"
done
