/* Distributed training through ae_train_hooks (autoenc.h, ae_distributed), with an engine of
 * the test's own: R threads, one model each, summing in participant order through a barrier.
 * R participants training on their own rows end with the weights of one process training on
 * the combined batches, every participant takes the same branch (errors, cancellation,
 * validation, early stopping), gradient spans arrive last layer first and cover every
 * parameter once, and one participant with hooks trains exactly as without them. */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autoenc.h"
#include "test_data.h"
#include "test_models.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_PARTICIPANTS 3
#define MAX_REDUCE 4096
#define IN 10

/* ---- the engine ------------------------------------------------------------------------ */

typedef struct engine {
    int participants;
    pthread_barrier_t barrier;
    double slots[MAX_PARTICIPANTS][MAX_REDUCE];
    float *gradients[MAX_PARTICIPANTS];
    size_t n_gradients;
    int fail_reduce_at; /* the reduce call (counted by participant 0) that fails, or -1 */
    int lie_at;         /* the reduce call whose every result becomes lie_value, or -1 */
    double lie_value;
} engine;

typedef struct participant {
    engine *engine;
    int rank;
    int reduces;
    /* the spans handed over in this step, and in the last completed one, in order */
    size_t span_offsets[256], span_counts[256], n_spans;
    size_t last_offsets[256], last_counts[256], n_last;
    float *sum; /* scratch for the gradient sum */
} participant;

static int engine_reduce(double *values, size_t count, int op, void *user)
{
    participant *p = user;
    engine *e = p->engine;
    if (count > MAX_REDUCE)
        return -2;
    const int call = p->reduces++;
    int fail = e->fail_reduce_at >= 0 && call == e->fail_reduce_at;
    memcpy(e->slots[p->rank], values, count * sizeof *values);
    pthread_barrier_wait(&e->barrier);
    for (size_t i = 0; i < count; i++) {
        double v = e->slots[0][i];
        for (int r = 1; r < e->participants; r++)
            v = op == AE_REDUCE_SUM ? v + e->slots[r][i] : fmax(v, e->slots[r][i]);
        values[i] = v;
    }
    pthread_barrier_wait(&e->barrier);
    if (e->lie_at >= 0 && call == e->lie_at)
        for (size_t i = 0; i < count; i++)
            values[i] = e->lie_value;
    return fail ? -1 : 0;
}

static int engine_gradient_ready(float *gradients, size_t offset, size_t count, void *user)
{
    (void)gradients;
    participant *p = user;
    if (p->n_spans < ARRAY_LEN(p->span_offsets)) {
        p->span_offsets[p->n_spans] = offset;
        p->span_counts[p->n_spans++] = count;
    }
    return 0;
}

static int engine_gradient_wait(float *gradients, size_t count, void *user)
{
    participant *p = user;
    engine *e = p->engine;
    e->gradients[p->rank] = gradients;
    pthread_barrier_wait(&e->barrier);
    for (size_t i = 0; i < count; i++) {
        float v = e->gradients[0][i];
        for (int r = 1; r < e->participants; r++)
            v += e->gradients[r][i];
        p->sum[i] = v;
    }
    pthread_barrier_wait(&e->barrier);
    memcpy(gradients, p->sum, count * sizeof *gradients);
    memcpy(p->last_offsets, p->span_offsets, sizeof p->span_offsets);
    memcpy(p->last_counts, p->span_counts, sizeof p->span_counts);
    p->n_last = p->n_spans;
    p->n_spans = 0;
    return 0;
}

static void install(ae_model *m, participant *p, engine *e, int rank, size_t n_params)
{
    memset(p, 0, sizeof *p);
    p->engine = e;
    p->rank = rank;
    p->sum = malloc(n_params * sizeof *p->sum);
    assert_non_null(p->sum);
    ae_train_hooks hooks = {.size = sizeof hooks,
                            .participant = (uint32_t)rank,
                            .participants = (uint32_t)e->participants,
                            .user_data = p,
                            .reduce = engine_reduce,
                            .gradient_ready = engine_gradient_ready,
                            .gradient_wait = engine_gradient_wait};
    assert_int_equal(ae_model_set_train_hooks(m, &hooks), AE_OK);
}

/* ---- running a call on every participant ------------------------------------------------- */

typedef enum call_kind { CALL_FIT, CALL_FIT_VALIDATED, CALL_TRAIN_BATCH, CALL_GRADIENT, CALL_FIT_SOURCE } call_kind;

typedef struct job {
    ae_model *model;
    call_kind kind;
    const float *x, *x_val;
    size_t rows, val_rows;
    float *gradient;
    const ae_data_source *source;
    double loss;
    ae_fit_report report;
    int status;
    char message[256];
} job;

static void *run_job(void *raw)
{
    job *j = raw;
    j->report = test_new_fit_report();
    switch (j->kind) {
    case CALL_FIT: j->status = ae_model_fit(j->model, j->x, j->rows, IN, &j->report); break;
    case CALL_FIT_VALIDATED:
        j->status = ae_model_fit_validated(j->model, j->x, j->rows, IN, j->x_val, j->val_rows, IN,
                                           &j->report);
        break;
    case CALL_TRAIN_BATCH: j->status = ae_model_train_batch(j->model, j->x, j->rows, IN, &j->loss); break;
    case CALL_GRADIENT:
        j->status = ae_model_gradient(j->model, j->x, j->rows, IN, j->gradient,
                                      ae_model_param_count(j->model), &j->loss);
        break;
    case CALL_FIT_SOURCE: j->status = ae_model_fit_source(j->model, j->source, NULL, &j->report); break;
    }
    snprintf(j->message, sizeof j->message, "%s", ae_last_error());
    return NULL;
}

static void run_together(job *jobs, int n)
{
    pthread_t threads[MAX_PARTICIPANTS];
    for (int r = 0; r < n; r++)
        assert_int_equal(pthread_create(&threads[r], NULL, run_job, &jobs[r]), 0);
    for (int r = 0; r < n; r++)
        assert_int_equal(pthread_join(threads[r], NULL), 0);
}

/* ---- models and data ------------------------------------------------------------------ */

typedef struct variant {
    const char *name;
    unsigned flags;
    int hidden, latent, output, loss, scaling;
    double sparsity, activity, contractive;
} variant;

static ae_model *make_model(const variant *v)
{
    static const size_t widths[] = {IN, 6, 3};
    ae_model *m = NULL;
    assert_int_equal(ae_model_create_ex(&m, widths, 3, NULL, 0, v->flags), AE_OK);
    test_set_param(m, AE_PARAM_THREADS, 1);
    test_set_activations(m, v->hidden, v->latent, v->output);
    test_set_param(m, AE_PARAM_LOSS, v->loss);
    if (v->scaling != AE_SCALING_NONE)
        test_set_param(m, AE_PARAM_SCALING, v->scaling);
    if (v->sparsity > 0)
        test_set_param(m, AE_PARAM_SPARSITY_WEIGHT, v->sparsity);
    if (v->activity > 0)
        test_set_param(m, AE_PARAM_ACTIVITY_L1, v->activity);
    if (v->contractive > 0)
        test_set_param(m, AE_PARAM_CONTRACTIVE_WEIGHT, v->contractive);
    test_set_param(m, AE_PARAM_SHUFFLE, 0);
    test_set_param(m, AE_PARAM_SEED, 7);
    return m;
}

static const variant VARIANTS[] = {
    {"plain", AE_ARCH_PLAIN, AE_ACT_TANH, AE_ACT_LINEAR, AE_ACT_SIGMOID, AE_LOSS_BCE, AE_SCALING_NONE, 0, 0, 0},
    {"tied", AE_ARCH_TIED_WEIGHTS, AE_ACT_ELU, AE_ACT_LINEAR, AE_ACT_LINEAR, AE_LOSS_MSE, AE_SCALING_NONE, 0, 0, 0},
    {"penalties", AE_ARCH_PLAIN, AE_ACT_TANH, AE_ACT_SIGMOID, AE_ACT_LINEAR, AE_LOSS_MSE, AE_SCALING_NONE, 0.3, 0.05, 0.1},
    {"standardised", AE_ARCH_PLAIN, AE_ACT_RELU, AE_ACT_LINEAR, AE_ACT_LINEAR, AE_LOSS_MSE, AE_SCALING_STANDARDIZE, 0, 0, 0},
    {"min-max", AE_ARCH_PLAIN, AE_ACT_SOFTPLUS, AE_ACT_TANH, AE_ACT_SIGMOID, AE_LOSS_BCE, AE_SCALING_MINMAX, 0, 0, 0},
};

/* rows x IN values in [0, 1] (BCE targets), with columns of different spreads. */
static float *make_data(uint64_t seed, size_t rows)
{
    test_rng rng;
    test_rng_seed(&rng, seed);
    float *x = test_random_matrix(&rng, rows, IN, IN, 0.0f, 1.0f);
    for (size_t i = 0; i < rows; i++)
        x[i * IN + 3] *= 0.2f;
    return x;
}

/* The combined batches of participants' shards of the given sizes, per-participant batch b:
 * step k takes rows [k b, (k + 1) b) of every shard, participant by participant. The rows
 * go into `combined`, each step's row count into steps[]; returns the number of steps. */
static size_t combine(const float *const *shards, const size_t *sizes, int n, size_t b,
                      float *combined, size_t *steps)
{
    size_t most = 0, at = 0, n_steps = 0;
    for (int r = 0; r < n; r++)
        most = sizes[r] > most ? sizes[r] : most;
    for (size_t start = 0; start < most; start += b) {
        size_t rows = 0;
        for (int r = 0; r < n; r++) {
            for (size_t i = start; i < sizes[r] && i < start + b; i++, rows++)
                memcpy(combined + (at++) * IN, shards[r] + i * IN, IN * sizeof(float));
        }
        steps[n_steps++] = rows;
    }
    return n_steps;
}

static double max_relative_difference(const ae_model *a, const ae_model *b)
{
    size_t n = ae_model_param_count(a);
    float *pa = test_params_of(a), *pb = test_params_of(b);
    double worst = 0, scale = 0;
    for (size_t i = 0; i < n; i++) {
        worst = fmax(worst, fabs((double)pa[i] - pb[i]));
        scale = fmax(scale, fabs((double)pb[i]));
    }
    free(pa);
    free(pb);
    return worst / scale;
}

/* ---- equivalence ---------------------------------------------------------------------- */

/* R participants with shards of the given sizes fit E epochs of per-participant batch B; one
 * process takes the same combined batches with train_batch (and fits its scaling on all
 * rows). After 20 or more steps the weights agree to 1e-5 relative (float sums in another
 * order), every participant holds the same weights, and the scalings agree. */
static void check_equivalence(const variant *v, int n, const size_t *sizes, size_t batch,
                              uint64_t epochs)
{
    engine e = {.participants = n, .fail_reduce_at = -1, .lie_at = -1};
    pthread_barrier_init(&e.barrier, NULL, (unsigned)n);
    float *shards[MAX_PARTICIPANTS];
    ae_model *models[MAX_PARTICIPANTS];
    participant parts[MAX_PARTICIPANTS];
    job jobs[MAX_PARTICIPANTS];
    size_t total = 0;
    for (int r = 0; r < n; r++) {
        shards[r] = make_data(100 + (uint64_t)r, sizes[r]);
        models[r] = make_model(v);
        test_set_epochs_and_batch(models[r], (double)epochs, (double)batch);
        install(models[r], &parts[r], &e, r, ae_model_param_count(models[r]));
        jobs[r] = (job){.model = models[r], .kind = CALL_FIT, .x = shards[r], .rows = sizes[r]};
        total += sizes[r];
    }
    run_together(jobs, n);
    for (int r = 0; r < n; r++) {
        if (jobs[r].status != AE_OK)
            print_error("%s, participant %d: %s\n", v->name, r, jobs[r].message);
        assert_int_equal(jobs[r].status, AE_OK);
        assert_int_equal(jobs[r].report.epochs_run, epochs);
        assert_true(jobs[r].report.final_train_loss == jobs[0].report.final_train_loss);
        assert_true(test_same_params(models[r], models[0]));
    }

    /* One process, the combined batches in the same order. */
    float *combined = malloc(total * IN * sizeof *combined);
    size_t steps[1024];
    size_t n_steps = combine((const float *const *)shards, sizes, n, batch, combined, steps);
    ae_model *single = make_model(v);
    if (v->scaling != AE_SCALING_NONE)
        assert_int_equal(ae_model_fit_scaling(single, combined, total, IN), AE_OK);
    for (uint64_t epoch = 0; epoch < epochs; epoch++) {
        size_t at = 0;
        for (size_t k = 0; k < n_steps; k++) {
            assert_int_equal(ae_model_train_batch(single, combined + at * IN, steps[k], IN, NULL), AE_OK);
            at += steps[k];
        }
    }
    assert_true(n_steps * epochs >= 20);
    if (v->scaling != AE_SCALING_NONE) {
        float o1[IN], s1[IN], o2[IN], s2[IN];
        assert_int_equal(ae_model_get_scaling(single, o1, s1, IN), AE_OK);
        assert_int_equal(ae_model_get_scaling(models[0], o2, s2, IN), AE_OK);
        for (size_t j = 0; j < IN; j++) {
            assert_true(fabsf(o1[j] - o2[j]) <= 1e-6f * (1 + fabsf(o1[j])));
            assert_true(fabsf(s1[j] - s2[j]) <= 1e-6f * s1[j]);
        }
    }
    double difference = max_relative_difference(models[0], single);
    if (getenv("AE_TEST_VERBOSE"))
        print_message("%s, %d participants: %.3g\n", v->name, n, difference);
    if (difference > 1e-5)
        print_error("%s, %d participants: weights differ by %.3g relative\n", v->name, n, difference);
    assert_true(difference <= 1e-5);

    free(combined);
    ae_model_free(single);
    for (int r = 0; r < n; r++) {
        ae_model_free(models[r]);
        free(shards[r]);
        free(parts[r].sum);
    }
    pthread_barrier_destroy(&e.barrier);
}

static void test_participants_train_as_one_process_on_the_combined_batches(void **state)
{
    (void)state;
    for (size_t k = 0; k < ARRAY_LEN(VARIANTS); k++) {
        for (int n = 1; n <= 3; n++) {
            const size_t sizes[3] = {48, 48, 48};
            check_equivalence(&VARIANTS[k], n, sizes, 8, 4);
        }
    }
}

/* Uneven shards: a participant whose rows run out takes part with empty batches. */
static void test_uneven_shards_train_as_one_process(void **state)
{
    (void)state;
    const size_t sizes[3] = {61, 13, 30};
    check_equivalence(&VARIANTS[0], 3, sizes, 8, 3);
    check_equivalence(&VARIANTS[2], 3, sizes, 8, 3);
    const size_t tiny[2] = {40, 3}; /* fewer rows than one batch */
    check_equivalence(&VARIANTS[3], 2, tiny, 8, 5);
}

/* A source over a shard, read in chunks of at most 5 rows. */
typedef struct shard_source {
    const float *x;
    size_t rows, next;
} shard_source;

static int shard_read(void *user, float *rows, size_t n_cols, size_t max_rows, size_t *n_read)
{
    shard_source *s = user;
    size_t n = s->rows - s->next < max_rows ? s->rows - s->next : max_rows;
    n = n < 5 ? n : 5;
    memcpy(rows, s->x + s->next * n_cols, n * n_cols * sizeof(float));
    s->next += n;
    *n_read = n;
    return 0;
}

static int shard_rewind(void *user)
{
    ((shard_source *)user)->next = 0;
    return 0;
}

/* Participants fitting from their own data sources train exactly as from their arrays, the
 * scaling fitted on every participant's rows included, uneven shards too. */
static void test_participants_fit_from_their_own_sources(void **state)
{
    (void)state;
    const size_t sizes[3] = {50, 17, 33};
    ae_model *from_arrays[3], *from_sources[3];
    for (int pass = 0; pass < 2; pass++) {
        engine e = {.participants = 3, .fail_reduce_at = -1, .lie_at = -1};
        pthread_barrier_init(&e.barrier, NULL, 3);
        participant parts[3];
        job jobs[3];
        float *shards[3];
        shard_source shard_sources[3];
        ae_data_source sources[3];
        ae_model **models = pass ? from_sources : from_arrays;
        for (int r = 0; r < 3; r++) {
            shards[r] = make_data(600 + (uint64_t)r, sizes[r]);
            models[r] = make_model(&VARIANTS[3]);
            test_set_epochs_and_batch(models[r], 3, 8);
            install(models[r], &parts[r], &e, r, ae_model_param_count(models[r]));
            shard_sources[r] = (shard_source){.x = shards[r], .rows = sizes[r]};
            sources[r] = (ae_data_source){.size = sizeof(ae_data_source), .user_data = &shard_sources[r],
                                          .read = shard_read, .rewind = shard_rewind};
            jobs[r] = (job){.model = models[r], .kind = pass ? CALL_FIT_SOURCE : CALL_FIT,
                            .x = shards[r], .rows = sizes[r], .source = &sources[r]};
        }
        run_together(jobs, 3);
        for (int r = 0; r < 3; r++) {
            if (jobs[r].status != AE_OK)
                print_error("participant %d: %s\n", r, jobs[r].message);
            assert_int_equal(jobs[r].status, AE_OK);
            free(shards[r]);
            free(parts[r].sum);
        }
        pthread_barrier_destroy(&e.barrier);
    }
    for (int r = 0; r < 3; r++) {
        assert_true(test_same_params(from_arrays[r], from_sources[r]));
        assert_true(test_same_params(from_sources[r], from_sources[0]));
    }
    for (int r = 0; r < 3; r++) {
        ae_model_free(from_arrays[r]);
        ae_model_free(from_sources[r]);
    }
}

/* One participant with hooks is exactly one process without them, randomness included. */
static void test_one_participant_trains_exactly_as_without_hooks(void **state)
{
    (void)state;
    engine e = {.participants = 1, .fail_reduce_at = -1, .lie_at = -1};
    pthread_barrier_init(&e.barrier, NULL, 1);
    float *x = make_data(5, 64);
    ae_model *hooked = make_model(&VARIANTS[0]), *plain = make_model(&VARIANTS[0]);
    ae_model *models[2] = {hooked, plain};
    participant p;
    install(hooked, &p, &e, 0, ae_model_param_count(hooked));
    for (int k = 0; k < 2; k++) {
        test_set_param(models[k], AE_PARAM_SHUFFLE, 1);
        test_set_param(models[k], AE_PARAM_NOISE, AE_NOISE_MASKING);
        test_set_param(models[k], AE_PARAM_DROPOUT_HIDDEN, 0.2);
        test_set_param(models[k], AE_PARAM_VALIDATION_FRACTION, 0.25);
        test_set_epochs_and_batch(models[k], 3, 8);
        assert_int_equal(ae_model_fit(models[k], x, 64, IN, NULL), AE_OK);
        assert_int_equal(ae_model_train_batch(models[k], x, 8, IN, NULL), AE_OK);
    }
    assert_true(test_same_params(hooked, plain));
    free(p.sum);
    free(x);
    ae_model_free(hooked);
    ae_model_free(plain);
    pthread_barrier_destroy(&e.barrier);
}

/* ---- the gradient spans ------------------------------------------------------------------- */

/* Each span is handed over once, right after the backward pass finished it: every layer's
 * bias and its own weights, the last layer first; a tied decoder layer's share of its
 * mirror's weights comes with the mirror, once both are added. */
static void test_gradient_spans_come_last_layer_first_and_cover_every_parameter(void **state)
{
    (void)state;
    static const unsigned flags[] = {AE_ARCH_PLAIN, AE_ARCH_TIED_WEIGHTS, AE_ARCH_VARIATIONAL};
    for (size_t k = 0; k < ARRAY_LEN(flags); k++) {
        engine e = {.participants = 1, .fail_reduce_at = -1, .lie_at = -1};
        pthread_barrier_init(&e.barrier, NULL, 1);
        variant v = VARIANTS[1];
        v.flags = flags[k];
        ae_model *m = make_model(&v);
        const size_t n = ae_model_param_count(m), n_layers = ae_model_layer_count(m);
        participant p;
        install(m, &p, &e, 0, n);
        float *x = make_data(9, 16), *g = malloc(n * sizeof *g);
        unsigned char *seen = calloc(n, 1);
        assert_non_null(g);
        assert_non_null(seen);
        assert_int_equal(ae_model_gradient(m, x, 16, IN, g, n, NULL), AE_OK);
        /* the layer of each span, from the layer descriptions */
        long previous_layer = (long)n_layers;
        for (size_t s = 0; s < p.n_last; s++) {
            long layer = -1;
            for (size_t l = 0; l < n_layers && layer < 0; l++) {
                ae_layer_description d = {.size = sizeof d};
                assert_int_equal(ae_model_describe_layer(m, l, &d), AE_OK);
                if ((p.last_offsets[s] == d.bias_offset && p.last_counts[s] == d.bias_count) ||
                    (d.weight_count && p.last_offsets[s] == d.weight_offset &&
                     p.last_counts[s] == d.weight_count))
                    layer = (long)l;
            }
            assert_true(layer >= 0);
            assert_true(layer <= previous_layer); /* last layer first */
            previous_layer = layer;
            for (size_t i = 0; i < p.last_counts[s]; i++)
                seen[p.last_offsets[s] + i]++;
        }
        for (size_t i = 0; i < n; i++)
            assert_int_equal(seen[i], 1);
        free(seen);
        free(g);
        free(x);
        free(p.sum);
        ae_model_free(m);
        pthread_barrier_destroy(&e.barrier);
    }
}

/* ---- every participant takes the same branch --------------------------------------------- */

/* n participants of one engine, each with a model of `v` (epochs and batch set when epochs is
 * not 0), 24 rows of its own, a gradient buffer, and its weights before the call, about to run
 * `kind` together. */
typedef struct team {
    engine e;
    int n;
    ae_model *models[MAX_PARTICIPANTS];
    participant parts[MAX_PARTICIPANTS];
    job jobs[MAX_PARTICIPANTS];
    float *data[MAX_PARTICIPANTS], *before[MAX_PARTICIPANTS], *grads[MAX_PARTICIPANTS];
} team;

enum { TEAM_ROWS = 24 };

static void team_start(team *t, int n, const variant *v, uint64_t epochs, uint64_t batch,
                       uint64_t seed, call_kind kind)
{
    t->e = (engine){.participants = n, .fail_reduce_at = -1, .lie_at = -1};
    t->n = n;
    pthread_barrier_init(&t->e.barrier, NULL, (unsigned)n);
    for (int r = 0; r < n; r++) {
        t->models[r] = make_model(v);
        if (epochs)
            test_set_epochs_and_batch(t->models[r], epochs, batch);
        install(t->models[r], &t->parts[r], &t->e, r, ae_model_param_count(t->models[r]));
        t->data[r] = make_data(seed + (uint64_t)r, TEAM_ROWS);
        t->before[r] = test_params_of(t->models[r]);
        t->grads[r] = malloc(ae_model_param_count(t->models[r]) * sizeof(float));
        assert_non_null(t->grads[r]);
        t->jobs[r] = (job){.model = t->models[r], .kind = kind, .x = t->data[r],
                           .rows = TEAM_ROWS, .gradient = t->grads[r]};
    }
}

/* Every participant's model as it was before the call; then everything freed. */
static void team_end_unchanged(team *t)
{
    for (int r = 0; r < t->n; r++) {
        assert_true(test_params_equal_to(t->models[r], t->before[r]));
        ae_model_free(t->models[r]);
        free(t->data[r]);
        free(t->before[r]);
        free(t->grads[r]);
        free(t->parts[r].sum);
    }
    pthread_barrier_destroy(&t->e.barrier);
}

/* What participant 1 gets wrong: its data, or (for the gradient) its own arguments, which are
 * agreed on with the batch's checks like every other refusal. */
typedef enum fault { FAULT_NAN_ROW, FAULT_NO_GRADIENT_BUFFER, FAULT_GRADIENT_OVER_X } fault;

/* An error on one participant: it returns its own status, the others AE_ERR_PEER, and nobody
 * changed anything. For a fit, a training step and a gradient. */
static void test_an_error_on_one_participant_stops_every_one_unchanged(void **state)
{
    (void)state;
    for (int f = FAULT_NAN_ROW; f <= FAULT_GRADIENT_OVER_X; f++)
    for (int kind = f == FAULT_NAN_ROW ? CALL_FIT : CALL_GRADIENT; kind <= CALL_GRADIENT; kind++) {
        team t;
        team_start(&t, 3, &VARIANTS[2], 0, 0, 200, (call_kind)kind);
        if (f == FAULT_NAN_ROW)
            t.data[1][5 * IN + 2] = NAN;
        else
            t.jobs[1].gradient = f == FAULT_NO_GRADIENT_BUFFER ? NULL : t.data[1] + IN;
        run_together(t.jobs, 3);
        const int own = f == FAULT_NAN_ROW ? AE_ERR_NON_FINITE_INPUT : AE_ERR_INVALID_ARGUMENT;
        for (int r = 0; r < 3; r++) {
            assert_int_equal(t.jobs[r].status, r == 1 ? own : AE_ERR_PEER);
            if (r != 1)
                assert_non_null(strstr(t.jobs[r].message, "another participant failed"));
        }
        team_end_unchanged(&t);
    }
}

/* A setting changed on one participant only (after the engine was installed) is found at the
 * next agreement: every participant refuses with AE_ERR_STATE, none waits or changes. */
static void test_settings_changed_on_one_participant_stop_every_one_unchanged(void **state)
{
    (void)state;
    static const struct { ae_param param; double value; } changes[] = {
        {AE_PARAM_EPOCHS, 7}, {AE_PARAM_BATCH_SIZE, 5}, {AE_PARAM_LEARNING_RATE, 0.02},
        {AE_PARAM_PROGRESS_EVERY_BATCH, 1}};
    for (size_t c = 0; c < ARRAY_LEN(changes); c++)
    for (int kind = CALL_FIT; kind <= CALL_GRADIENT; kind++) {
        team t;
        team_start(&t, 2, &VARIANTS[0], 2, 8, 300, (call_kind)kind);
        test_set_param(t.models[1], changes[c].param, changes[c].value);
        run_together(t.jobs, 2);
        for (int r = 0; r < 2; r++) {
            assert_int_equal(t.jobs[r].status, AE_ERR_STATE);
            assert_non_null(strstr(t.jobs[r].message, "settings differ"));
        }
        team_end_unchanged(&t);
    }
}

/* The progress callback on participant 0 stops everyone after the same epoch; validation,
 * early stopping and the best epoch are decided from the combined losses. */
static int stop_after_two_epochs(const ae_progress *progress, void *user)
{
    (void)user;
    return progress->epoch_end && progress->epoch >= 2;
}

static void test_decisions_are_the_same_on_every_participant(void **state)
{
    (void)state;
    for (int cancel = 0; cancel <= 1; cancel++) {
        engine e = {.participants = 2, .fail_reduce_at = -1, .lie_at = -1};
        pthread_barrier_init(&e.barrier, NULL, 2);
        ae_model *models[2];
        participant parts[2];
        job jobs[2];
        float *data[2], *val[2];
        for (int r = 0; r < 2; r++) {
            models[r] = make_model(&VARIANTS[0]);
            test_set_epochs_and_batch(models[r], 30, 8);
            test_set_param(models[r], AE_PARAM_PATIENCE, 2);
            test_set_param(models[r], AE_PARAM_LEARNING_RATE, 0.05);
            install(models[r], &parts[r], &e, r, ae_model_param_count(models[r]));
            data[r] = make_data(300 + (uint64_t)r, 32);
            val[r] = make_data(400 + (uint64_t)r, r == 0 ? 12 : 1);
            jobs[r] = (job){.model = models[r], .kind = CALL_FIT_VALIDATED, .x = data[r],
                            .rows = 32, .x_val = val[r], .val_rows = r == 0 ? 12 : 1};
        }
        if (cancel)
            assert_int_equal(ae_model_set_progress(models[0], stop_after_two_epochs, NULL), AE_OK);
        run_together(jobs, 2);
        for (int r = 0; r < 2; r++) {
            assert_int_equal(jobs[r].status, cancel ? AE_ERR_CANCELLED : AE_OK);
            assert_int_equal(jobs[r].report.epochs_run, jobs[0].report.epochs_run);
            assert_int_equal(jobs[r].report.best_epoch, jobs[0].report.best_epoch);
            assert_int_equal(jobs[r].report.stop_reason, jobs[0].report.stop_reason);
            assert_true(jobs[r].report.final_val_loss == jobs[0].report.final_val_loss);
            assert_int_equal(jobs[r].report.restored_best, jobs[0].report.restored_best);
            assert_true(test_same_params(models[r], models[0]));
        }
        if (cancel)
            assert_int_equal(jobs[0].report.epochs_run, 2);
        else
            assert_int_equal(jobs[0].report.stop_reason, AE_STOP_EARLY);
        for (int r = 0; r < 2; r++) {
            ae_model_free(models[r]);
            free(data[r]);
            free(val[r]);
            free(parts[r].sum);
        }
        pthread_barrier_destroy(&e.barrier);
    }
}

/* An engine that fails: the call fails with AE_ERR_PEER on every participant, and the model
 * is usable (as after its last completed step). */
static void test_a_failing_engine_fails_the_call_cleanly(void **state)
{
    (void)state;
    for (int at = 0; at < 12; at += 3) {
        engine e = {.participants = 2, .fail_reduce_at = at, .lie_at = -1};
        pthread_barrier_init(&e.barrier, NULL, 2);
        ae_model *models[2];
        participant parts[2];
        job jobs[2];
        float *data[2];
        for (int r = 0; r < 2; r++) {
            models[r] = make_model(&VARIANTS[0]);
            test_set_epochs_and_batch(models[r], 3, 8);
            install(models[r], &parts[r], &e, r, ae_model_param_count(models[r]));
            data[r] = make_data(500 + (uint64_t)r, 32);
            jobs[r] = (job){.model = models[r], .kind = CALL_FIT, .x = data[r], .rows = 32};
        }
        run_together(jobs, 2);
        for (int r = 0; r < 2; r++) {
            assert_int_equal(jobs[r].status, AE_ERR_PEER);
            assert_non_null(strstr(jobs[r].message, "engine"));
            assert_int_equal(ae_model_set_train_hooks(models[r], NULL), AE_OK);
            assert_int_equal(ae_model_fit(models[r], data[r], 32, IN, NULL), AE_OK);
            ae_model_free(models[r]);
            free(data[r]);
            free(parts[r].sum);
        }
        pthread_barrier_destroy(&e.barrier);
    }
}

/* An engine whose reduce answers nonsense (a count of 1e30, a negative or fractional one, NaN,
 * zero) at any of a fit's first combinations: the fit fails or completes, never with a loss
 * that is not finite, and the model always saves bytes it loads again (UBSan watches the
 * conversions). Fits from arrays and from a source, standardised, so that the scaling's row
 * count is among the answers. */
static void test_an_engine_answering_nonsense_never_leaves_a_broken_model(void **state)
{
    (void)state;
    static const double lies[] = {1e30, -1.0, 2.5, NAN, 0.0};
    float *x = make_data(900, 40);
    for (size_t l = 0; l < ARRAY_LEN(lies); l++) {
        for (int at = 0; at < 14; at++) {
            for (int from_source = 0; from_source <= 1; from_source++) {
                engine e = {.participants = 1, .fail_reduce_at = -1, .lie_at = at, .lie_value = lies[l]};
                pthread_barrier_init(&e.barrier, NULL, 1);
                ae_model *m = make_model(&VARIANTS[3]);
                test_set_epochs_and_batch(m, 2, 16);
                participant part;
                install(m, &part, &e, 0, ae_model_param_count(m));
                shard_source shard = {.x = x, .rows = 40};
                ae_data_source source = {.size = sizeof source, .user_data = &shard,
                                         .read = shard_read, .rewind = shard_rewind};
                job j = {.model = m, .kind = from_source ? CALL_FIT_SOURCE : CALL_FIT, .x = x,
                         .rows = 40, .source = &source};
                run_together(&j, 1);
                if (j.status == AE_OK)
                    assert_true(isfinite(j.report.final_train_loss));
                size_t n = 0;
                assert_int_equal(ae_model_save_size(m, AE_SAVE_OPTIMIZER_STATE, &n), AE_OK);
                unsigned char *bytes = malloc(n);
                assert_non_null(bytes);
                assert_int_equal(ae_model_save_to_memory(m, AE_SAVE_OPTIMIZER_STATE, bytes, n, &n), AE_OK);
                ae_model *again = NULL;
                const int loaded = ae_model_load_from_memory(&again, bytes, n);
                if (loaded != AE_OK)
                    print_error("lie %g at reduce %d%s: fit %d (%s); load: %s\n", lies[l], at,
                                from_source ? " (source)" : "", j.status, j.message, ae_last_error());
                assert_int_equal(loaded, AE_OK);
                ae_model_free(again);
                free(bytes);
                ae_model_free(m);
                free(part.sum);
                pthread_barrier_destroy(&e.barrier);
            }
        }
    }
    free(x);
}

static void test_set_train_hooks_checks_its_argument(void **state)
{
    (void)state;
    ae_model *m = make_model(&VARIANTS[0]);
    ae_train_hooks hooks = {.size = sizeof hooks, .participant = 0, .participants = 2,
                            .reduce = engine_reduce, .gradient_ready = engine_gradient_ready,
                            .gradient_wait = engine_gradient_wait};
    assert_int_equal(ae_model_set_train_hooks(NULL, &hooks), AE_ERR_INVALID_ARGUMENT);
    hooks.participant = 2;
    assert_int_equal(ae_model_set_train_hooks(m, &hooks), AE_ERR_INVALID_ARGUMENT);
    hooks.participant = 1;
    hooks.reduce = NULL;
    assert_int_equal(ae_model_set_train_hooks(m, &hooks), AE_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(ae_model_last_error(m), "reduce"));
    hooks.reduce = engine_reduce;
    hooks.size = 0;
    assert_int_equal(ae_model_set_train_hooks(m, &hooks), AE_ERR_INVALID_ARGUMENT);
    hooks.size = sizeof hooks;
    hooks.participants = 0;
    assert_int_equal(ae_model_set_train_hooks(m, &hooks), AE_ERR_INVALID_ARGUMENT);
    /* a clone has no hooks: it trains alone */
    hooks.participants = 2;
    assert_int_equal(ae_model_set_train_hooks(m, &hooks), AE_OK);
    ae_model *copy = test_clone_model(m);
    float *x = make_data(1, 16);
    assert_int_equal(ae_model_train_batch(copy, x, 16, IN, NULL), AE_OK);
    assert_int_equal(ae_model_set_train_hooks(m, NULL), AE_OK);
    assert_int_equal(ae_model_train_batch(m, x, 16, IN, NULL), AE_OK);
    free(x);
    ae_model_free(copy);
    ae_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_participants_train_as_one_process_on_the_combined_batches),
        cmocka_unit_test(test_uneven_shards_train_as_one_process),
        cmocka_unit_test(test_one_participant_trains_exactly_as_without_hooks),
        cmocka_unit_test(test_participants_fit_from_their_own_sources),
        cmocka_unit_test(test_gradient_spans_come_last_layer_first_and_cover_every_parameter),
        cmocka_unit_test(test_an_error_on_one_participant_stops_every_one_unchanged),
        cmocka_unit_test(test_settings_changed_on_one_participant_stop_every_one_unchanged),
        cmocka_unit_test(test_decisions_are_the_same_on_every_participant),
        cmocka_unit_test(test_a_failing_engine_fails_the_call_cleanly),
        cmocka_unit_test(test_an_engine_answering_nonsense_never_leaves_a_broken_model),
        cmocka_unit_test(test_set_train_hooks_checks_its_argument),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
