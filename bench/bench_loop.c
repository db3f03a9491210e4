/* A training loop and an encode loop at one batch size, as a program runs them: nothing else
 * in the process between the calls (bench_step interleaves the floor's products, which wake
 * or leave asleep OpenBLAS's workers and so move the library's time with OpenBLAS's threads).
 *
 *   bench_loop WIDTHS BATCH [SECONDS] [THREADS]
 *
 * The model: WIDTHS (e.g. 64-32-8) mirrored, as bench_step trains it (sigmoid output, BCE
 * loss, Adam at 1e-3), the library's defaults otherwise, THREADS as
 * AE_PARAM_THREADS (default: the library's); 16 batches of uniform data in [0, 1), taken in
 * turn. After 20 untimed steps, ae_model_train_batch with a loss for SECONDS (default 1),
 * then ae_model_encode of the same batches for half as long. Prints one line:
 * "WIDTHS BATCH train SAMPLES_PER_S encode SAMPLES_PER_S". bench/ab_loops.sh runs it for two
 * builds of the library in turn. */
#include "bench_common.h"

#include <autoenc.h>

#include <stdio.h>
#include <stdlib.h>

enum { MAX_WIDTHS = 16, POOL = 16 };

static int fail(const char *what, const ae_model *m)
{
    fprintf(stderr, "bench_loop: %s: %s\n", what, m ? ae_model_last_error(m) : ae_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 5) {
        fprintf(stderr, "usage: bench_loop WIDTHS BATCH [SECONDS] [THREADS]\n");
        return 2;
    }
    size_t widths[MAX_WIDTHS], n_widths = 0;
    for (char *p = argv[1]; *p && n_widths < MAX_WIDTHS;) {
        widths[n_widths++] = strtoul(p, &p, 10);
        if (*p == '-')
            p++;
        else if (*p)
            return fprintf(stderr, "bench_loop: widths like 64-32-8\n"), 2;
    }
    const size_t batch = strtoul(argv[2], NULL, 10);
    const double seconds = argc > 3 ? atof(argv[3]) : 1.0;
    if (n_widths < 2 || batch < 1 || !(seconds > 0.0))
        return fprintf(stderr, "bench_loop: need two widths or more, a batch and a positive time\n"), 2;
    ae_model *m = NULL;
    if (ae_model_create(&m, widths, n_widths, NULL, 0) != AE_OK)
        return fail("create", NULL);
    if (ae_model_set_param(m, AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_SIGMOID) != AE_OK ||
        ae_model_set_param(m, AE_PARAM_LOSS, AE_LOSS_BCE) != AE_OK ||
        ae_model_set_param(m, AE_PARAM_OPTIMIZER, AE_OPT_ADAM) != AE_OK ||
        ae_model_set_param(m, AE_PARAM_LEARNING_RATE, 1e-3) != AE_OK)
        return fail("set_param", m);
    if (argc > 4 && ae_model_set_param(m, AE_PARAM_THREADS, atof(argv[4])) != AE_OK)
        return fail("threads", m);
    const size_t d = widths[0], k = widths[n_widths - 1];
    float *x = malloc(POOL * batch * d * sizeof *x), *z = malloc(batch * k * sizeof *z);
    if (!x || !z)
        return fprintf(stderr, "bench_loop: out of memory\n"), 1;
    unsigned state = 1;
    for (size_t i = 0; i < POOL * batch * d; i++) {
        state = state * 1103515245u + 12345u;
        x[i] = (float)((state >> 8) & 0xffff) / 65536.0f;
    }
    double loss;
    for (size_t i = 0; i < 20; i++)
        if (ae_model_train_batch(m, x + (i % POOL) * batch * d, batch, d, &loss) != AE_OK)
            return fail("train", m);
    size_t steps = 0;
    double start = bench_now(), elapsed;
    do
        for (int i = 0; i < 10; i++, steps++)
            if (ae_model_train_batch(m, x + (steps % POOL) * batch * d, batch, d, &loss) != AE_OK)
                return fail("train", m);
    while ((elapsed = bench_now() - start) < seconds);
    const double train = (double)(steps * batch) / elapsed;
    size_t calls = 0;
    start = bench_now();
    do
        for (int i = 0; i < 10; i++, calls++)
            if (ae_model_encode(m, x + (calls % POOL) * batch * d, batch, d, z, k) != AE_OK)
                return fail("encode", m);
    while ((elapsed = bench_now() - start) < seconds / 2);
    printf("%s %zu train %.0f encode %.0f\n", argv[1], batch, train, (double)(calls * batch) / elapsed);
    ae_model_free(m);
    free(x), free(z);
    return 0;
}
