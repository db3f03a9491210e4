/* What it costs a thread to take up data another core has just written: the price a step
 * split between threads pays for every weight, gradient, activation or delta that crosses
 * between its parts, against the same work on one core.
 *
 *   bench_cross_core [--iterations 20000]
 *
 * For blocks of 4, 16 and 64 KB, two threads take turns on one block: each reads every
 * cache line of it (written last by the other thread) and then writes every value of it
 * (read last by the other), handing the block over through an atomic flag. Printed: the
 * read's and the write's time per turn, medians of 7 runs, beside one thread doing the same
 * read and write of a block it wrote itself, and the same turns with the writer demoting
 * every line it wrote (CLDEMOTE, a hint towards the cache the cores share) before handing
 * the block over, where the processor has the instruction. A second table times the exchange a step split
 * by rows between two threads needs to add its parts' gradients: both cores write a block
 * each, then at once each adds the two blocks, every value (each core then holding the sum, as
 * for an update made on both) or its half of them (each core the values it updates), into a
 * buffer of its own; then each writes its block again, as the next step's gradient. A third
 * table times a loop of arithmetic on each thread's own registers, one thread alone and two
 * at once: whether the two cores slow each other when no data crosses. */
#include "bench_common.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#endif

enum { REPEATS = 7, MAX_BYTES = 65536, LINE_FLOATS = 16 };

typedef struct handover {
    float *block;
    size_t n;           /* floats */
    int iterations;
    bool demote;        /* the writer demotes the lines it wrote before handing over */
    atomic_int turn;    /* whose turn: 0 or 1 */
    double read_s[2], write_s[2];
} handover;

typedef struct player {
    handover *h;
    int me;
} player;

static float read_lines(const float *block, size_t n)
{
    float sum = 0.0f;
    for (size_t i = 0; i < n; i += LINE_FLOATS)
        sum += block[i];
    return sum;
}

static void write_all(float *block, size_t n, float value)
{
    for (size_t i = 0; i < n; i++)
        block[i] = value;
}

/* Whether the processor has CLDEMOTE (CPUID leaf 7, ECX bit 25). */
static bool has_cldemote(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    unsigned a, b, c, d;
    return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (c >> 25 & 1u);
#else
    return false;
#endif
}

/* CLDEMOTE on every line of the block: the hint moves a line this core wrote out of its own
 * caches towards the one the cores share, where the next reader finds it without asking this
 * core. Written as its bytes (0F 1C /0, here with the address in rdi) so that no compiler
 * option is needed; only called where has_cldemote(). */
static void demote_lines(const float *block, size_t n)
{
#if defined(__x86_64__) && defined(__GNUC__)
    for (size_t i = 0; i < n; i += LINE_FLOATS)
        __asm__ volatile(".byte 0x0f, 0x1c, 0x07" : : "D"(block + i) : "memory");
#else
    (void)block, (void)n;
#endif
}

static void *take_turns(void *arg)
{
    const player *p = arg;
    handover *h = p->h;
    volatile float sink = 0.0f;
    double read_s = 0.0, write_s = 0.0;
    for (int it = 0; it < h->iterations; it++) {
        while (atomic_load_explicit(&h->turn, memory_order_acquire) != p->me)
            ;
        const double t0 = bench_now();
        sink = read_lines(h->block, h->n);
        const double t1 = bench_now();
        write_all(h->block, h->n, (float)it);
        if (h->demote)
            demote_lines(h->block, h->n);
        write_s += bench_now() - t1;
        read_s += t1 - t0;
        atomic_store_explicit(&h->turn, 1 - p->me, memory_order_release);
    }
    (void)sink;
    h->read_s[p->me] = read_s / h->iterations;
    h->write_s[p->me] = write_s / h->iterations;
    return NULL;
}

/* One run of the hand-over: the mean read and write (with its demotion) times per turn of
 * thread 0. */
static int hand_over(float *block, size_t n, int iterations, bool demote, double *read_s,
                     double *write_s)
{
    handover h = {.block = block, .n = n, .iterations = iterations, .demote = demote};
    atomic_init(&h.turn, 0);
    player players[2] = {{&h, 0}, {&h, 1}};
    pthread_t other;
    if (pthread_create(&other, NULL, take_turns, &players[1]) != 0)
        return -1;
    take_turns(&players[0]);
    pthread_join(other, NULL);
    *read_s = h.read_s[0];
    *write_s = h.write_s[0];
    return 0;
}

/* The same read and write on one thread, of a block it wrote itself. */
static void on_one_core(float *block, size_t n, int iterations, double *read_s, double *write_s)
{
    volatile float sink = 0.0f;
    double r = 0.0, w = 0.0;
    for (int it = 0; it < iterations; it++) {
        const double t0 = bench_now();
        sink = read_lines(block, n);
        const double t1 = bench_now();
        write_all(block, n, (float)it);
        w += bench_now() - t1;
        r += t1 - t0;
    }
    (void)sink;
    *read_s = r / iterations;
    *write_s = w / iterations;
}

typedef struct exchange {
    float *block[2], *sum[2];
    size_t n;
    bool halves;   /* each core adds its half of the values, not all */
    bool crossing; /* false: one thread writes both blocks and adds them all, alone */
    int iterations;
    bench_meeting met; /* the two cores spin, so that a meeting costs no system call */
    double add_s, rewrite_s; /* thread 0's means per round */
} exchange;

typedef struct exchanger {
    exchange *x;
    int me;
} exchanger;

static void add_blocks(const exchange *x, int me)
{
    const size_t begin = x->halves ? x->n / 2 * (size_t)me : 0;
    const size_t end = x->halves && me == 0 ? x->n / 2 : x->n;
    const float *a = x->block[0], *b = x->block[1];
    float *out = x->sum[me];
    for (size_t i = begin; i < end; i++)
        out[i] = a[i] + b[i];
}

static void *exchange_rounds(void *arg)
{
    const exchanger *p = arg;
    exchange *x = p->x;
    double add_s = 0.0, rewrite_s = 0.0;
    for (int it = 0; it < x->iterations; it++) {
        const double t0 = bench_now();
        write_all(x->block[p->me], x->n, (float)it);
        if (!x->crossing)
            write_all(x->block[1], x->n, (float)it);
        const double t1 = bench_now();
        if (x->crossing)
            bench_meet(&x->met, 2, false);
        const double t2 = bench_now();
        add_blocks(x, p->me);
        const double t3 = bench_now();
        if (x->crossing)
            bench_meet(&x->met, 2, false);
        if (it > 0)
            rewrite_s += t1 - t0;
        add_s += t3 - t2;
    }
    if (p->me == 0) {
        x->add_s = add_s / x->iterations;
        x->rewrite_s = x->iterations > 1 ? rewrite_s / (x->iterations - 1) : 0.0;
    }
    return NULL;
}

/* One run of the exchange: thread 0's mean times per round for adding and for rewriting its
 * block (both blocks when alone). */
static int exchange_run(exchange *x)
{
    exchanger players[2] = {{x, 0}, {x, 1}};
    pthread_t other;
    if (x->crossing && pthread_create(&other, NULL, exchange_rounds, &players[1]) != 0)
        return -1;
    exchange_rounds(&players[0]);
    if (x->crossing)
        pthread_join(other, NULL);
    return 0;
}

/* Dependent multiply-adds in eight chains, on registers only. */
static void *arithmetic(void *arg)
{
    double *seconds = arg;
    float a[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    const double t0 = bench_now();
    for (int it = 0; it < 20000000; it++)
        for (int k = 0; k < 8; k++)
            a[k] = a[k] * 0.999999f + 1e-7f;
    *seconds = bench_now() - t0;
    volatile float sink = a[0] + a[7];
    (void)sink;
    return NULL;
}

int main(int argc, char **argv)
{
    int iterations = 20000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc)
            iterations = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_cross_core [--iterations 20000]\n");
            return 2;
        }
    }
    if (iterations < 1)
        return fprintf(stderr, "bench_cross_core: --iterations must be positive\n"), 2;
    float *block = aligned_alloc(64, MAX_BYTES);
    if (!block)
        return fprintf(stderr, "bench_cross_core: out of memory\n"), 1;
    memset(block, 0, MAX_BYTES);

    const bool demote = has_cldemote();
    printf("Data another core wrote last, medians of %d runs of %d turns (us per turn); demoted:\n"
           "the writer demoted its lines before handing over (%s)\n",
           REPEATS, iterations, demote ? "CLDEMOTE" : "no CLDEMOTE on this processor: not timed");
    printf("%8s | %10s %10s %8s | %14s %15s | %14s %10s | %s\n", "block", "read", "GB/s", "write",
           "demoted: read", "write, demote", "one core: read", "write", "read, crossing / one core");
    for (size_t bytes = 4096; bytes <= MAX_BYTES; bytes *= 4) {
        const size_t n = bytes / sizeof(float);
        double r[REPEATS], w[REPEATS], rd[REPEATS], wd[REPEATS], r1[REPEATS], w1[REPEATS];
        for (int k = 0; k < REPEATS; k++) {
            if (hand_over(block, n, iterations, false, &r[k], &w[k]) != 0 ||
                (demote && hand_over(block, n, iterations, true, &rd[k], &wd[k]) != 0))
                return fprintf(stderr, "bench_cross_core: no thread\n"), 1;
            on_one_core(block, n, iterations, &r1[k], &w1[k]);
        }
        const double read_s = bench_median(r, REPEATS), write_s = bench_median(w, REPEATS);
        const double read1_s = bench_median(r1, REPEATS), write1_s = bench_median(w1, REPEATS);
        printf("%5zu KB | %10.3f %10.1f %8.3f |", bytes / 1024, read_s * 1e6,
               (double)bytes / read_s * 1e-9, write_s * 1e6);
        if (demote)
            printf(" %14.3f %15.3f |", bench_median(rd, REPEATS) * 1e6,
                   bench_median(wd, REPEATS) * 1e6);
        else
            printf(" %14s %15s |", "-", "-");
        printf(" %14.3f %10.3f | %.1fx\n", read1_s * 1e6, write1_s * 1e6, read_s / read1_s);
    }

    float *buffers[4];
    for (int k = 0; k < 4; k++)
        if (!(buffers[k] = aligned_alloc(64, MAX_BYTES)))
            return fprintf(stderr, "bench_cross_core: out of memory\n"), 1;
    printf("\nTwo cores adding their blocks at once (us per round, medians of %d runs of %d rounds):\n"
           "each writes its block, then adds the two blocks (all values, or its half) into its own\n"
           "buffer; alone = one thread writing both blocks and adding them all\n",
           REPEATS, iterations);
    printf("%8s | %10s %10s | %10s %10s | %10s %10s\n", "blocks", "all: add", "rewrite", "half: add",
           "rewrite", "alone: add", "write both");
    for (size_t bytes = 4096; bytes <= MAX_BYTES; bytes *= 4) {
        double t[3][2][REPEATS];
        const bool halves[3] = {false, true, false}, crossing[3] = {true, true, false};
        for (int k = 0; k < REPEATS; k++)
            for (int way = 0; way < 3; way++) {
                exchange x = {.block = {buffers[0], buffers[1]}, .sum = {buffers[2], buffers[3]},
                              .n = bytes / sizeof(float), .halves = halves[way],
                              .crossing = crossing[way], .iterations = iterations};
                if (exchange_run(&x) != 0)
                    return fprintf(stderr, "bench_cross_core: no thread\n"), 1;
                t[way][0][k] = x.add_s;
                t[way][1][k] = x.rewrite_s;
            }
        printf("%5zu KB |", bytes / 1024);
        for (int way = 0; way < 3; way++)
            printf(" %10.3f %10.3f |", bench_median(t[way][0], REPEATS) * 1e6,
                   bench_median(t[way][1], REPEATS) * 1e6);
        printf("\n");
    }
    for (int k = 0; k < 4; k++)
        free(buffers[k]);

    double alone[REPEATS], both[REPEATS];
    for (int k = 0; k < REPEATS; k++) {
        double other = 0.0;
        arithmetic(&alone[k]);
        pthread_t t;
        if (pthread_create(&t, NULL, arithmetic, &other) != 0)
            return fprintf(stderr, "bench_cross_core: no thread\n"), 1;
        arithmetic(&both[k]);
        pthread_join(t, NULL);
    }
    const double one = bench_median(alone, REPEATS), two = bench_median(both, REPEATS);
    printf("\nArithmetic on registers, no data crossing (ms, medians of %d):\n", REPEATS);
    printf("one thread alone %.1f, beside a second thread doing the same %.1f: %.2fx\n", one * 1e3,
           two * 1e3, two / one);
    free(block);
    return 0;
}
