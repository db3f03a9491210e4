/* Model files (docs/format.md): round trips through memory, exact sizes, every
 * truncation and every flipped bit of a valid file, crafted hostile files with a correct
 * checksum, compatibility rules, and the golden files. Files on disk (loading from and
 * saving to a path) are tested in test_model_files.c. */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autoenc.h"
#include "test_data.h"
#include "test_models.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))


/* Malformed inputs tried by the whole suite, reported at the end. */
static size_t malformed_tried;

/* ---- a bitwise CRC-32C, independent of the library's table ---------------------- */

static uint32_t crc32c_bitwise(const unsigned char *data, size_t n)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        crc ^= data[i];
        for (int k = 0; k < 8; k++)
            crc = (crc & 1u) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
    }
    return ~crc;
}

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const unsigned char *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

/* Write the low `width` bytes of v at p, little-endian. */
static void wr_le(unsigned char *p, unsigned width, uint64_t v)
{
    for (unsigned i = 0; i < width; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void wr16(unsigned char *p, unsigned v) { wr_le(p, 2, v); }
static void wr32(unsigned char *p, uint32_t v) { wr_le(p, 4, v); }
static void wr64(unsigned char *p, uint64_t v) { wr_le(p, 8, v); }

static void wrf64(unsigned char *p, double f)
{
    uint64_t bits;
    memcpy(&bits, &f, sizeof bits);
    wr64(p, bits);
}

/* Recompute the trailing CRC so a crafted file passes the checksum. */
static void fix_crc(unsigned char *file, size_t n) { wr32(file + n - 4, crc32c_bitwise(file, n - 4)); }

/* ---- an allocator that tracks live and peak bytes --------------------------------- */

typedef struct tracker {
    size_t live, peak, live_blocks;
    long fail_at; /* fail the allocation with this 0-based index; -1: never */
    long count;
} tracker;

static tracker track;

static void *tracking_alloc(size_t size, void *user)
{
    (void)user;
    if (track.fail_at >= 0 && track.count++ == track.fail_at)
        return NULL;
    size_t *block = malloc(size + 16);
    if (!block)
        return NULL;
    block[0] = size;
    track.live += size;
    track.live_blocks++;
    if (track.live > track.peak)
        track.peak = track.live;
    return (char *)block + 16;
}

static void tracking_free(void *ptr, void *user)
{
    (void)user;
    size_t *block = (size_t *)((char *)ptr - 16);
    track.live -= block[0];
    track.live_blocks--;
    free(block);
}

static void track_start(long fail_at)
{
    memset(&track, 0, sizeof track);
    track.fail_at = fail_at;
    assert_int_equal(ae_set_allocator(tracking_alloc, tracking_free, NULL), AE_OK);
}

static void track_stop(void) { assert_int_equal(ae_set_allocator(NULL, NULL, NULL), AE_OK); }

/* ---- models and files ------------------------------------------------------------ */

static float *golden_input(size_t rows, size_t cols)
{
    float *x = malloc(rows * cols * sizeof *x);
    assert_non_null(x);
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++)
            x[i * cols + j] = (float)((i * 7 + j * 3) % 11) / 10.0f;
    return x;
}

/* A small mirrored model with non-default settings, trained a few steps with Adam so it
 * has optimizer state and a used generator. */
static ae_model *trained_small_model(void)
{
    static const size_t widths[] = {6, 4, 2};
    ae_model *m = test_create_model(widths, ARRAY_LEN(widths), NULL, 0);
    test_set_param(m, AE_PARAM_SEED, 42);
    test_set_activations(m, AE_ACT_TANH, AE_ACT_LINEAR, AE_ACT_SIGMOID);
    test_set_param(m, AE_PARAM_LOSS, AE_LOSS_BCE);
    test_set_epochs_and_batch(m, 2, 4);
    float *x = golden_input(12, 6);
    assert_int_equal(ae_model_fit(m, x, 12, 6, NULL), AE_OK);
    free(x);
    return m;
}

static unsigned char *save_to_buffer(const ae_model *m, unsigned flags, size_t *n)
{
    assert_int_equal(ae_model_save_size(m, flags, n), AE_OK);
    unsigned char *buf = malloc(*n);
    assert_non_null(buf);
    size_t written = 0;
    assert_int_equal(ae_model_save_to_memory(m, flags, buf, *n, &written), AE_OK);
    assert_int_equal(written, *n);
    return buf;
}

/* A copy of the first n bytes of buf in a block of exactly n bytes (1 if n is 0), so that
 * ASan sees any read beyond them. */
static unsigned char *copy_of(const unsigned char *buf, size_t n)
{
    unsigned char *copy = malloc(n ? n : 1);
    assert_non_null(copy);
    memcpy(copy, buf, n);
    return copy;
}

/* A copy of buf with bit `bit` (counted from the first byte's lowest bit) flipped. */
static unsigned char *copy_with_bit_flipped(const unsigned char *buf, size_t n, size_t bit)
{
    unsigned char *copy = copy_of(buf, n);
    copy[bit / 8] ^= (unsigned char)(1u << (bit % 8));
    return copy;
}

static ae_model *load_buffer(const unsigned char *buf, size_t n)
{
    ae_model *m = NULL;
    int status = ae_model_load_from_memory(&m, buf, n);
    if (status != AE_OK)
        print_error("load failed: %s (%s)\n", ae_status_str(status), ae_last_error());
    assert_int_equal(status, AE_OK);
    assert_non_null(m);
    return m;
}


/* Save m with flags and load the bytes back. */
static ae_model *save_and_load(const ae_model *m, unsigned flags)
{
    size_t n;
    unsigned char *file = save_to_buffer(m, flags, &n);
    ae_model *loaded = load_buffer(file, n);
    free(file);
    return loaded;
}

/* Saving m with flags gives exactly the n bytes of file. */
static void assert_saves_as(const ae_model *m, unsigned flags, const unsigned char *file, size_t n)
{
    size_t n2;
    unsigned char *again = save_to_buffer(m, flags, &n2);
    assert_int_equal(n, n2);
    assert_memory_equal(file, again, n);
    free(again);
}

static void assert_layer_counts(const ae_model *m, size_t layers, size_t encoder_layers)
{
    assert_int_equal(ae_model_layer_count(m), layers);
    assert_int_equal(ae_model_encoder_layer_count(m), encoder_layers);
}

static void assert_param_is(const ae_model *m, ae_param param, double expected)
{
    double v;
    assert_int_equal(ae_model_get_param(m, param, &v), AE_OK);
    assert_true(v == expected);
}

/* Number of settings the library knows (ids with a name). */
static size_t known_setting_count(void)
{
    size_t n = 0;
    for (int id = 0; id < 256; id++)
        n += ae_param_name((ae_param)id) != NULL;
    return n;
}

/* Same architecture, activations, settings and bitwise parameters, and bitwise equal
 * encode and reconstruct results. */
static void assert_same_model(const ae_model *a, const ae_model *b)
{
    assert_layer_counts(b, ae_model_layer_count(a), ae_model_encoder_layer_count(a));
    assert_int_equal(ae_model_param_count(a), ae_model_param_count(b));
    for (size_t l = 0; l < ae_model_layer_count(a); l++) {
        size_t out_a, in_a, out_b, in_b;
        int act_a, act_b;
        assert_int_equal(ae_model_layer_info(a, l, &out_a, &in_a, &act_a), AE_OK);
        assert_int_equal(ae_model_layer_info(b, l, &out_b, &in_b, &act_b), AE_OK);
        assert_int_equal(out_a, out_b);
        assert_int_equal(in_a, in_b);
        assert_int_equal(act_a, act_b);
    }
    for (int id = 0; id < 256; id++) {
        if (!ae_param_name((ae_param)id))
            continue;
        double va, vb;
        assert_int_equal(ae_model_get_param(a, (ae_param)id, &va), AE_OK);
        assert_int_equal(ae_model_get_param(b, (ae_param)id, &vb), AE_OK);
        assert_memory_equal(&va, &vb, sizeof va);
    }
    assert_true(test_same_params(a, b));
    size_t in = ae_model_input_dim(a), lat = ae_model_latent_dim(a), rows = 5;
    float *x = golden_input(rows, in);
    float *za = calloc(rows * lat, sizeof *za), *zb = calloc(rows * lat, sizeof *zb);
    float *ya = calloc(rows * in, sizeof *ya), *yb = calloc(rows * in, sizeof *yb);
    assert_true(za && zb && ya && yb);
    assert_int_equal(ae_model_encode(a, x, rows, in, za, lat), AE_OK);
    assert_int_equal(ae_model_encode(b, x, rows, in, zb, lat), AE_OK);
    assert_memory_equal(za, zb, rows * lat * sizeof *za);
    assert_int_equal(ae_model_reconstruct(a, x, rows, in, ya, in), AE_OK);
    assert_int_equal(ae_model_reconstruct(b, x, rows, in, yb, in), AE_OK);
    assert_memory_equal(ya, yb, rows * in * sizeof *ya);
    free(x);
    free(za);
    free(zb);
    free(ya);
    free(yb);
}

/* ---- a section-level view of a file, to craft hostile variants ------------------- */

typedef struct section {
    unsigned char tag[4];
    uint32_t flags;
    unsigned char *payload;
    size_t length;
} section;

typedef struct parsed {
    unsigned major, minor;
    size_t n_sections;
    section s[16];
} parsed;

static void parse_file(const unsigned char *file, size_t n, parsed *p)
{
    memset(p, 0, sizeof *p);
    assert_true(n >= 20);
    p->major = (unsigned)(file[8] | file[9] << 8);
    p->minor = (unsigned)(file[10] | file[11] << 8);
    uint32_t count = rd32(file + 12);
    size_t pos = 16;
    assert_true(count <= ARRAY_LEN(p->s));
    for (uint32_t i = 0; i < count; i++) {
        section *s = &p->s[i];
        memcpy(s->tag, file + pos, 4);
        s->flags = rd32(file + pos + 4);
        s->length = (size_t)rd64(file + pos + 8);
        s->payload = malloc(s->length ? s->length : 1);
        assert_non_null(s->payload);
        memcpy(s->payload, file + pos + 16, s->length);
        pos += 16 + s->length;
    }
    p->n_sections = count;
    assert_int_equal(pos + 4, n);
}

static void free_parsed(parsed *p)
{
    for (size_t i = 0; i < p->n_sections; i++)
        free(p->s[i].payload);
    p->n_sections = 0;
}

static section *find_section(parsed *p, const char *tag)
{
    for (size_t i = 0; i < p->n_sections; i++)
        if (memcmp(p->s[i].tag, tag, 4) == 0)
            return &p->s[i];
    fail_msg("no section %s", tag);
    return NULL;
}

static void resize_section(section *s, size_t length)
{
    s->payload = realloc(s->payload, length ? length : 1);
    assert_non_null(s->payload);
    for (size_t i = s->length; i < length; i++)
        s->payload[i] = 0;
    s->length = length;
}

static void remove_section(parsed *p, const char *tag)
{
    section *s = find_section(p, tag);
    free(s->payload);
    size_t i = (size_t)(s - p->s);
    memmove(&p->s[i], &p->s[i + 1], (p->n_sections - i - 1) * sizeof p->s[0]);
    p->n_sections--;
}

static void add_section(parsed *p, const char *tag, uint32_t flags, const void *payload, size_t length)
{
    assert_true(p->n_sections < ARRAY_LEN(p->s));
    section *s = &p->s[p->n_sections++];
    memcpy(s->tag, tag, 4);
    s->flags = flags;
    s->length = length;
    s->payload = malloc(length ? length : 1);
    assert_non_null(s->payload);
    if (length)
        memcpy(s->payload, payload, length);
}

/* The file for p, with a correct CRC. */
static unsigned char *emit_file(const parsed *p, size_t *n)
{
    size_t size = 16 + 4;
    for (size_t i = 0; i < p->n_sections; i++)
        size += 16 + p->s[i].length;
    unsigned char *file = malloc(size);
    assert_non_null(file);
    static const unsigned char magic[8] = {0x89, 'A', 'E', 'N', 'C', 0x0D, 0x0A, 0x1A};
    memcpy(file, magic, 8);
    wr16(file + 8, p->major);
    wr16(file + 10, p->minor);
    wr32(file + 12, (uint32_t)p->n_sections);
    size_t pos = 16;
    for (size_t i = 0; i < p->n_sections; i++) {
        memcpy(file + pos, p->s[i].tag, 4);
        wr32(file + pos + 4, p->s[i].flags);
        wr64(file + pos + 8, p->s[i].length);
        memcpy(file + pos + 16, p->s[i].payload, p->s[i].length);
        pos += 16 + p->s[i].length;
    }
    fix_crc(file, size);
    *n = size;
    return file;
}

/* Load a malformed buffer under the tracking allocator, counting it: returns the status,
 * whether a model came back (it is freed), and the peak and live allocations of the load. */
static int tracked_malformed_load(const unsigned char *file, size_t n, int *returned_model,
                                  size_t *peak, size_t *live)
{
    malformed_tried++;
    track_start(-1);
    ae_model *m = (ae_model *)(uintptr_t)1;
    int status = ae_model_load_from_memory(&m, file, n);
    *peak = track.peak;
    *live = track.live_blocks;
    *returned_model = m != NULL;
    if (status == AE_OK)
        ae_model_free(m);
    track_stop();
    return status;
}

/* Load a malformed buffer: the status must be `expected`, nothing returned, nothing
 * leaked, a message set, and memory never beyond the data size plus a constant. */
static void expect_load_fails(const unsigned char *file, size_t n, int expected)
{
    int returned_model;
    size_t peak, live;
    int status = tracked_malformed_load(file, n, &returned_model, &peak, &live);
    if (status != expected)
        print_error("expected %s, got %s: %s\n", ae_status_str(expected), ae_status_str(status),
                    ae_last_error());
    assert_int_equal(status, expected);
    assert_false(returned_model);
    assert_int_equal(live, 0);
    assert_true(peak <= n + 65536);
    assert_true(strlen(ae_last_error()) > 0);
}

/* Emit p and expect the load to fail with `expected`. */
static void expect_parsed_fails(const parsed *p, int expected)
{
    size_t n;
    unsigned char *file = emit_file(p, &n);
    expect_load_fails(file, n, expected);
    free(file);
}

/* The same, then free p. */
static void expect_parsed_fails_then_free(parsed *p, int expected)
{
    expect_parsed_fails(p, expected);
    free_parsed(p);
}

static ae_model *load_parsed(const parsed *p)
{
    size_t n;
    unsigned char *file = emit_file(p, &n);
    ae_model *m = load_buffer(file, n);
    free(file);
    return m;
}

/* Fixture: the parsed file of the trained small model saved with optimizer state. */
typedef struct fixture {
    ae_model *model;
    unsigned char *file;
    size_t n;
    parsed p;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    f->model = trained_small_model();
    f->file = save_to_buffer(f->model, AE_SAVE_OPTIMIZER_STATE, &f->n);
    parse_file(f->file, f->n, &f->p);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    free_parsed(&f->p);
    free(f->file);
    ae_model_free(f->model);
    free(f);
    return 0;
}

/* Copy the fixture's file, write the low `width` bytes of value at `offset`, fix the CRC
 * and expect the load to fail with `expected`. */
static void expect_patched_file_fails(const fixture *f, size_t offset, unsigned width, uint64_t value,
                                      int expected)
{
    unsigned char *copy = copy_of(f->file, f->n);
    wr_le(copy + offset, width, value);
    fix_crc(copy, f->n);
    expect_load_fails(copy, f->n, expected);
    free(copy);
}

/* Resize section `tag` of a copy of the fixture (zero-filling) and expect AE_ERR_FORMAT. */
static void expect_resized_section_fails(const fixture *f, const char *tag, size_t length)
{
    parsed p;
    parse_file(f->file, f->n, &p);
    resize_section(find_section(&p, tag), length);
    expect_parsed_fails_then_free(&p, AE_ERR_FORMAT);
}

/* The crafted file p loads as the fixture's model; p is freed. */
static void assert_parsed_loads_as_fixture(const fixture *f, parsed *p)
{
    ae_model *m = load_parsed(p);
    assert_same_model(f->model, m);
    ae_model_free(m);
    free_parsed(p);
}

/* Offsets inside the ARCH payload of layer l. */
#define ARCH_LAYER(l) (8 + 24 * (size_t)(l))

/* ================================================================================== */
/* Round trips                                                                         */
/* ================================================================================== */

static void test_crc_of_saved_file_is_crc32c_of_the_bytes_before_it(void **state)
{
    fixture *f = *state;
    static const unsigned char check[] = "123456789";
    assert_int_equal(crc32c_bitwise(check, 9), 0xE3069283u);
    assert_int_equal(rd32(f->file + f->n - 4), crc32c_bitwise(f->file, f->n - 4));
    static const unsigned char magic[8] = {0x89, 'A', 'E', 'N', 'C', 0x0D, 0x0A, 0x1A};
    assert_memory_equal(f->file, magic, 8);
    assert_int_equal(f->p.major, 1);
    assert_int_equal(f->p.minor, 3);
    assert_int_equal(f->p.n_sections, 5);
    static const char *tags[] = {"ARCH", "SETT", "PARM", "RNG ", "OPTM"};
    static const uint32_t flags[] = {1, 1, 1, 1, 0};
    for (size_t i = 0; i < 5; i++) {
        assert_memory_equal(f->p.s[i].tag, tags[i], 4);
        assert_int_equal(f->p.s[i].flags, flags[i]);
    }
}

static void test_memory_round_trip_gives_an_identical_model(void **state)
{
    fixture *f = *state;
    size_t n;
    unsigned char *file = save_to_buffer(f->model, AE_SAVE_DEFAULT, &n);
    assert_true(n < f->n);
    ae_model *loaded = load_buffer(file, n);
    assert_same_model(f->model, loaded);
    /* Saving the loaded model gives the same bytes. */
    assert_saves_as(loaded, AE_SAVE_DEFAULT, file, n);
    ae_model_free(loaded);
    free(file);
}

static void test_round_trip_with_optimizer_state_gives_identical_bytes(void **state)
{
    fixture *f = *state;
    ae_model *loaded = load_buffer(f->file, f->n);
    assert_same_model(f->model, loaded);
    assert_saves_as(loaded, AE_SAVE_OPTIMIZER_STATE, f->file, f->n);
    ae_model_free(loaded);
}

static void test_asymmetric_decoder_round_trips(void **state)
{
    (void)state;
    static const size_t enc[] = {7, 5, 3}, dec[] = {3, 9, 4, 7};
    ae_model *m = test_create_model(enc, ARRAY_LEN(enc), dec, ARRAY_LEN(dec));
    test_set_activations(m, AE_ACT_ELU, AE_ACT_TANH, AE_ACT_SOFTPLUS);
    ae_model *loaded = save_and_load(m, AE_SAVE_OPTIMIZER_STATE);
    assert_layer_counts(loaded, 5, 2);
    assert_same_model(m, loaded);
    ae_model_free(loaded);
    ae_model_free(m);
}

static void test_every_setting_survives_a_round_trip(void **state)
{
    (void)state;
    static const size_t widths[] = {5, 3};
    ae_model *m = test_create_model(widths, ARRAY_LEN(widths), NULL, 0);
    static const struct { ae_param param; double value; } values[] = {
        {AE_PARAM_SEED, 9007199254740992.0}, {AE_PARAM_HIDDEN_ACTIVATION, AE_ACT_LEAKY_RELU},
        {AE_PARAM_LATENT_ACTIVATION, AE_ACT_SIGMOID}, {AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_SIGMOID},
        {AE_PARAM_LOSS, AE_LOSS_BCE}, {AE_PARAM_LEAKY_SLOPE, 0.3}, {AE_PARAM_ELU_ALPHA, 2.5},
        {AE_PARAM_OPTIMIZER, AE_OPT_SGD}, {AE_PARAM_LEARNING_RATE, 0.123456789},
        {AE_PARAM_MOMENTUM, 0.7}, {AE_PARAM_NESTEROV, 1}, {AE_PARAM_ADAM_BETA1, 0.5},
        {AE_PARAM_ADAM_BETA2, 0.75}, {AE_PARAM_ADAM_EPSILON, 1e-5}, {AE_PARAM_WEIGHT_DECAY, 0.01},
        {AE_PARAM_CLIP_NORM, 3.5}, {AE_PARAM_EPOCHS, 77}, {AE_PARAM_BATCH_SIZE, 3},
        {AE_PARAM_SHUFFLE, 0}, {AE_PARAM_VALIDATION_FRACTION, 0.25}, {AE_PARAM_PATIENCE, 4},
        {AE_PARAM_MIN_DELTA, 1e-3}, {AE_PARAM_RESTORE_BEST, 0}, {AE_PARAM_PROGRESS_EVERY_BATCH, 1},
        {AE_PARAM_THREADS, 2}, {AE_PARAM_NOISE, AE_NOISE_SALT_AND_PEPPER}, {AE_PARAM_NOISE_LEVEL, 0.375},
        {AE_PARAM_SCALING, AE_SCALING_MINMAX}, {AE_PARAM_SPARSITY_WEIGHT, 0.625},
        {AE_PARAM_SPARSITY_TARGET, 0.2}, {AE_PARAM_SPARSITY_LAYER, 0}, {AE_PARAM_ACTIVITY_L1, 1e-4},
        {AE_PARAM_CONTRACTIVE_WEIGHT, 0.3}, {AE_PARAM_DROPOUT_INPUT, 0.15},
        {AE_PARAM_DROPOUT_HIDDEN, 0.999}, {AE_PARAM_KL_WEIGHT, 0.0625},
        {AE_PARAM_KL_WARMUP_EPOCHS, 12}, {AE_PARAM_DIVERGENCE_FACTOR, 12345.5},
        {AE_PARAM_SCALING_MIN_SCALE, 0.015625}, {AE_PARAM_SHUFFLE_BUFFER, 777}};
    /* Every setting the library knows is in the table (a new one must be added here). */
    assert_int_equal(ARRAY_LEN(values), known_setting_count());
    for (size_t i = 0; i < ARRAY_LEN(values); i++)
        test_set_param(m, values[i].param, values[i].value);
    /* The scaling setting needs offsets and scales before the model encodes. */
    static const float offset[5] = {-1, 0, 1, 2, 3}, scale[5] = {0.5f, 1, 2, 4, 8};
    assert_int_equal(ae_model_set_scaling(m, offset, scale, 5), AE_OK);
    ae_model *loaded = save_and_load(m, AE_SAVE_DEFAULT);
    for (size_t i = 0; i < ARRAY_LEN(values); i++) {
        double v;
        assert_int_equal(ae_model_get_param(loaded, values[i].param, &v), AE_OK);
        assert_memory_equal(&v, &values[i].value, sizeof v);
    }
    assert_same_model(m, loaded);
    ae_model_free(loaded);
    ae_model_free(m);
}

/* Fit both and compare the weights bitwise. */
static void assert_fit_continues_identically(ae_model *a, ae_model *b)
{
    size_t in = ae_model_input_dim(a);
    float *x = golden_input(20, in);
    ae_fit_report ra = test_new_fit_report(), rb = test_new_fit_report();
    assert_int_equal(ae_model_fit(a, x, 20, in, &ra), AE_OK);
    assert_int_equal(ae_model_fit(b, x, 20, in, &rb), AE_OK);
    assert_int_equal(ra.steps_run, rb.steps_run);
    assert_true(test_same_params(a, b));
    free(x);
}

static void test_training_continues_bit_identically_after_load_with_optimizer_state(void **state)
{
    (void)state;
    static const int optimizers[] = {AE_OPT_SGD, AE_OPT_ADAM, AE_OPT_ADAMW};
    for (size_t k = 0; k < ARRAY_LEN(optimizers); k++) {
        ae_model *m = trained_small_model();
        test_set_param(m, AE_PARAM_OPTIMIZER, optimizers[k]);
        test_set_param(m, AE_PARAM_MOMENTUM, 0.9);
        test_set_param(m, AE_PARAM_WEIGHT_DECAY, 0.01);
        test_set_param(m, AE_PARAM_VALIDATION_FRACTION, 0.2);
        float *x = golden_input(10, 6);
        assert_int_equal(ae_model_fit(m, x, 10, 6, NULL), AE_OK); /* builds the state */
        free(x);
        ae_model *loaded = save_and_load(m, AE_SAVE_OPTIMIZER_STATE);
        assert_fit_continues_identically(m, loaded);
        ae_model_free(loaded);
        ae_model_free(m);
    }
}

static void test_fresh_model_loaded_without_optimizer_state_trains_like_the_original(void **state)
{
    (void)state;
    static const size_t widths[] = {6, 4, 2};
    ae_model *m = test_create_model(widths, ARRAY_LEN(widths), NULL, 0);
    test_set_param(m, AE_PARAM_SEED, 5);
    ae_model *loaded = save_and_load(m, AE_SAVE_DEFAULT);
    /* Still fresh: a new seed redraws the weights in both. */
    test_set_param(m, AE_PARAM_SEED, 6);
    test_set_param(loaded, AE_PARAM_SEED, 6);
    assert_true(test_same_params(m, loaded));
    assert_fit_continues_identically(m, loaded);
    ae_model_free(loaded);
    ae_model_free(m);
}

static void test_generator_state_is_preserved(void **state)
{
    fixture *f = *state;
    /* Without the optimizer state, both start from a fresh optimizer: reset the original's. */
    ae_model *original = test_clone_model(f->model);
    test_set_param(original, AE_PARAM_OPTIMIZER, AE_OPT_SGD);
    test_set_param(original, AE_PARAM_OPTIMIZER, AE_OPT_ADAM);
    ae_model *loaded = save_and_load(original, AE_SAVE_DEFAULT);
    /* Shuffling and the validation split draw from the generator. */
    test_set_param(original, AE_PARAM_VALIDATION_FRACTION, 0.3);
    test_set_param(loaded, AE_PARAM_VALIDATION_FRACTION, 0.3);
    assert_fit_continues_identically(original, loaded);
    ae_model_free(loaded);
    ae_model_free(original);
}

static void test_save_size_equals_bytes_written(void **state)
{
    fixture *f = *state;
    for (unsigned flags = 0; flags <= AE_SAVE_OPTIMIZER_STATE; flags++) {
        size_t size = 0;
        assert_int_equal(ae_model_save_size(f->model, flags, &size), AE_OK);
        unsigned char *buf = malloc(size + 64);
        assert_non_null(buf);
        memset(buf, 0xAB, size + 64);
        size_t written = 0;
        assert_int_equal(ae_model_save_to_memory(f->model, flags, buf, size + 64, &written), AE_OK);
        assert_int_equal(written, size);
        for (size_t i = size; i < size + 64; i++)
            assert_int_equal(buf[i], 0xAB);
        free(buf);
    }
    /* 16 header + ARCH(16+8+4*24) + SETT(16+4+S*12) + PARM(16+8+4*P) + RNG(16+33)
     * + OPTM(16+14+2*4*P) + 4, with P = 6*4+4 + 4*2+2 + 2*4+4 + 4*6+6 = 80. */
    assert_int_equal(ae_model_param_count(f->model), 80);
    size_t s = known_setting_count();
    assert_int_equal(f->n, 16 + (16 + 8 + 96) + (16 + 4 + 12 * s) + (16 + 8 + 320) + (16 + 33) +
                               (16 + 14 + 640) + 4);
}

static void test_too_small_buffer_reports_the_size_needed(void **state)
{
    fixture *f = *state;
    unsigned char *buf = malloc(f->n);
    assert_non_null(buf);
    memset(buf, 0x5A, f->n);
    size_t written = 0;
    assert_int_equal(ae_model_save_to_memory(f->model, AE_SAVE_OPTIMIZER_STATE, buf, f->n - 1, &written),
                     AE_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(written, f->n);
    for (size_t i = 0; i < f->n; i++)
        assert_int_equal(buf[i], 0x5A);
    written = 0;
    assert_int_equal(ae_model_save_to_memory(f->model, AE_SAVE_OPTIMIZER_STATE, NULL, 0, &written),
                     AE_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(written, f->n);
    free(buf);
}

static void test_save_and_load_reject_bad_arguments(void **state)
{
    fixture *f = *state;
    size_t size;
    unsigned char buf[8];
    ae_model *m = (ae_model *)(uintptr_t)1;
    assert_int_equal(ae_model_save_size(NULL, 0, &size), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_save_size(f->model, 0, NULL), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_save_size(f->model, 2, &size), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_save_to_memory(f->model, 0, buf, sizeof buf, NULL), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_save_to_memory(NULL, 0, buf, sizeof buf, &size), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_save(NULL, "/tmp/x", 0), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_save(f->model, NULL, 0), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_save(f->model, "", 0), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_save(f->model, "/tmp/x", 0x10), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_load(NULL, "/tmp/x"), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_load(&m, NULL), AE_ERR_INVALID_ARGUMENT);
    assert_null(m);
    m = (ae_model *)(uintptr_t)1;
    assert_int_equal(ae_model_load_from_memory(&m, NULL, 10), AE_ERR_INVALID_ARGUMENT);
    assert_null(m);
    assert_int_equal(ae_model_load_from_memory(NULL, f->file, f->n), AE_ERR_INVALID_ARGUMENT);
}

/* ================================================================================== */
/* Truncations and bit flips                                                            */
/* ================================================================================== */

static void test_load_rejects_every_proper_prefix(void **state)
{
    fixture *f = *state;
    size_t before = malformed_tried;
    for (size_t len = 0; len < f->n; len++) {
        unsigned char *copy = copy_of(f->file, len); /* exact size: ASan sees any over-read */
        expect_load_fails(copy, len, AE_ERR_FORMAT);
        free(copy);
    }
    print_message("      %zu proper prefixes: all AE_ERR_FORMAT\n", malformed_tried - before);
}

static void test_load_rejects_every_single_bit_flip(void **state)
{
    fixture *f = *state;
    size_t counts[3] = {0};
    for (size_t byte = 0; byte < f->n; byte++) {
        for (int bit = 0; bit < 8; bit++) {
            unsigned char *copy = copy_with_bit_flipped(f->file, f->n, 8 * byte + (size_t)bit);
            int returned_model;
            size_t peak, live;
            int status = tracked_malformed_load(copy, f->n, &returned_model, &peak, &live);
            if (status == AE_OK)
                fail_msg("a flip of bit %d of byte %zu loaded", bit, byte);
            assert_false(returned_model);
            assert_int_equal(live, 0);
            if (byte < 8)
                assert_int_equal(status, AE_ERR_FORMAT); /* magic */
            else if (byte < 10)
                assert_true(status == AE_ERR_VERSION || status == AE_ERR_FORMAT); /* major */
            else
                assert_true(status == AE_ERR_CHECKSUM || status == AE_ERR_FORMAT);
            counts[status == AE_ERR_CHECKSUM ? 0 : status == AE_ERR_FORMAT ? 1 : 2]++;
            free(copy);
        }
    }
    print_message("      %zu bit flips: %zu AE_ERR_CHECKSUM, %zu AE_ERR_FORMAT, %zu AE_ERR_VERSION\n",
                  8 * f->n, counts[0], counts[1], counts[2]);
}

/* ================================================================================== */
/* Crafted files with a correct checksum                                               */
/* ================================================================================== */

static void test_crafted_file_with_correct_crc_loads_when_unchanged(void **state)
{
    fixture *f = *state;
    ae_model *m = load_parsed(&f->p);
    assert_same_model(f->model, m);
    ae_model_free(m);
}

/* Set one u64 or u32 field of a section in a copy of the fixture and expect `expected`. */
static void expect_field_fails(fixture *f, const char *tag, size_t offset, unsigned width,
                               uint64_t value, int expected)
{
    parsed p;
    parse_file(f->file, f->n, &p);
    section *s = find_section(&p, tag);
    assert_true(offset + width <= s->length);
    wr_le(s->payload + offset, width, value);
    expect_parsed_fails_then_free(&p, expected);
}

static void test_load_rejects_bad_layer_counts(void **state)
{
    fixture *f = *state;
    static const uint32_t bad_layers[] = {0, 1, 3, 5, 4097, 0xFFFFFFFFu};
    for (size_t i = 0; i < ARRAY_LEN(bad_layers); i++)
        expect_field_fails(f, "ARCH", 0, 4, bad_layers[i], AE_ERR_FORMAT);
    static const uint32_t bad_encoder[] = {0, 4, 5, 0xFFFFFFFFu};
    for (size_t i = 0; i < ARRAY_LEN(bad_encoder); i++)
        expect_field_fails(f, "ARCH", 4, 4, bad_encoder[i], AE_ERR_FORMAT);
    /* Encoder layers 1 or 3 are consistent counts but contradict the activations. */
    expect_field_fails(f, "ARCH", 4, 4, 1, AE_ERR_FORMAT);
    expect_field_fails(f, "ARCH", 4, 4, 3, AE_ERR_FORMAT);
}

static void test_load_rejects_huge_and_zero_widths(void **state)
{
    fixture *f = *state;
    static const uint64_t bad[] = {0, (1ull << 24) + 1, 1ull << 32, 1ull << 63, UINT64_MAX};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        expect_field_fails(f, "ARCH", ARCH_LAYER(1), 8, bad[i], AE_ERR_FORMAT);     /* n_in */
        expect_field_fails(f, "ARCH", ARCH_LAYER(1) + 8, 8, bad[i], AE_ERR_FORMAT); /* n_out */
    }
}

/* Every width set consistently to `width`, PARM claiming `n_params`, its payload left as is. */
static void expect_uniform_widths_fail(fixture *f, uint64_t width, uint64_t n_params)
{
    parsed p;
    parse_file(f->file, f->n, &p);
    section *arch = find_section(&p, "ARCH");
    for (size_t l = 0; l < 4; l++) {
        wr64(arch->payload + ARCH_LAYER(l), width);
        wr64(arch->payload + ARCH_LAYER(l) + 8, width);
    }
    wr64(find_section(&p, "PARM")->payload, n_params);
    expect_parsed_fails_then_free(&p, AE_ERR_FORMAT);
}

static void test_load_rejects_width_products_that_wrap_or_exceed_the_file(void **state)
{
    fixture *f = *state;
    /* 2^32 x 2^32 wraps to 0 in 64 bits: a reader multiplying blindly would see 4 * 2^32
     * biases, or with n_params forged to the wrapped sum, accept it. */
    expect_uniform_widths_fail(f, 1ull << 32, 4 * (1ull << 32));
    expect_uniform_widths_fail(f, 1ull << 32, 0);
    /* 2^16 x 2^16 = 2^32 per layer: valid widths, but the parameters cannot be in 200 bytes. */
    uint64_t w = 1ull << 16;
    expect_uniform_widths_fail(f, w, 4 * (w * w + w));
    expect_uniform_widths_fail(f, 1ull << 24, 4 * ((1ull << 48) + (1ull << 24)));
    /* n_params forged so that 4 * n_params wraps to the real payload size. */
    expect_uniform_widths_fail(f, w, (1ull << 62) + 80);
}

static void test_load_rejects_mismatched_widths(void **state)
{
    fixture *f = *state;
    /* layer 1 input differs from layer 0 output (4) */
    expect_field_fails(f, "ARCH", ARCH_LAYER(1), 8, 5, AE_ERR_FORMAT);
    /* last output differs from the input width (6) */
    expect_field_fails(f, "ARCH", ARCH_LAYER(3) + 8, 8, 7, AE_ERR_FORMAT);
    /* first input differs from the last output */
    expect_field_fails(f, "ARCH", ARCH_LAYER(0), 8, 5, AE_ERR_FORMAT);
}

static void test_load_rejects_bad_activations(void **state)
{
    fixture *f = *state;
    static const uint32_t bad[] = {7, 100, 0x80000000u, 0xFFFFFFFFu /* -1 */};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        expect_field_fails(f, "ARCH", ARCH_LAYER(2) + 16, 4, bad[i], AE_ERR_FORMAT);
    /* a valid activation that contradicts the settings (hidden is tanh) */
    expect_field_fails(f, "ARCH", ARCH_LAYER(2) + 16, 4, AE_ACT_RELU, AE_ERR_FORMAT);
    /* reserved field not zero */
    expect_field_fails(f, "ARCH", ARCH_LAYER(0) + 20, 4, 1, AE_ERR_FORMAT);
}

/* Offset in SETT's payload of the record for `param`. */
static size_t setting_offset(section *sett, ae_param param)
{
    uint32_t count = rd32(sett->payload);
    for (uint32_t i = 0; i < count; i++)
        if (rd32(sett->payload + 4 + 12 * (size_t)i) == (uint32_t)param)
            return 4 + 12 * (size_t)i;
    fail_msg("setting %d not in the file", (int)param);
    return 0;
}

static void expect_setting_fails(fixture *f, ae_param param, double value)
{
    parsed p;
    parse_file(f->file, f->n, &p);
    section *sett = find_section(&p, "SETT");
    wrf64(sett->payload + setting_offset(sett, param) + 4, value);
    expect_parsed_fails_then_free(&p, AE_ERR_FORMAT);
}

static void test_load_rejects_out_of_range_settings(void **state)
{
    fixture *f = *state;
    expect_setting_fails(f, AE_PARAM_LEARNING_RATE, 0.0);
    expect_setting_fails(f, AE_PARAM_LEARNING_RATE, -1.0);
    expect_setting_fails(f, AE_PARAM_LEARNING_RATE, NAN);
    expect_setting_fails(f, AE_PARAM_LEARNING_RATE, INFINITY);
    expect_setting_fails(f, AE_PARAM_LEARNING_RATE, 1e9);
    expect_setting_fails(f, AE_PARAM_EPOCHS, 1.5);
    expect_setting_fails(f, AE_PARAM_EPOCHS, 0);
    expect_setting_fails(f, AE_PARAM_SEED, -1);
    expect_setting_fails(f, AE_PARAM_SEED, 1e300);
    expect_setting_fails(f, AE_PARAM_HIDDEN_ACTIVATION, -1); /* negative enum */
    expect_setting_fails(f, AE_PARAM_HIDDEN_ACTIVATION, 7);  /* unknown enum */
    expect_setting_fails(f, AE_PARAM_LOSS, 2);
    expect_setting_fails(f, AE_PARAM_OPTIMIZER, -2147483648.0);
    expect_setting_fails(f, AE_PARAM_OPTIMIZER, 3);
    expect_setting_fails(f, AE_PARAM_ADAM_BETA2, 1.0);
    expect_setting_fails(f, AE_PARAM_NESTEROV, 0.5);
    /* The settings of 1.2. */
    expect_setting_fails(f, AE_PARAM_SCALING, 3);
    expect_setting_fails(f, AE_PARAM_SCALING, -1);
    expect_setting_fails(f, AE_PARAM_SCALING, 1.5);
    expect_setting_fails(f, AE_PARAM_SPARSITY_WEIGHT, -1e-9);
    expect_setting_fails(f, AE_PARAM_SPARSITY_TARGET, 0.0);
    expect_setting_fails(f, AE_PARAM_SPARSITY_TARGET, 1.0);
    expect_setting_fails(f, AE_PARAM_SPARSITY_LAYER, -2);
    expect_setting_fails(f, AE_PARAM_SPARSITY_LAYER, 4096);
    expect_setting_fails(f, AE_PARAM_SPARSITY_LAYER, 0.5);
    expect_setting_fails(f, AE_PARAM_ACTIVITY_L1, NAN);
    expect_setting_fails(f, AE_PARAM_CONTRACTIVE_WEIGHT, 1001);
    expect_setting_fails(f, AE_PARAM_DROPOUT_INPUT, 1.0);
    expect_setting_fails(f, AE_PARAM_DROPOUT_HIDDEN, -0.25);
    /* A valid value that changes a role's activation contradicts ARCH. */
    expect_setting_fails(f, AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_LINEAR);
}

static void test_load_rejects_unknown_duplicate_and_miscounted_settings(void **state)
{
    fixture *f = *state;
    /* unknown id in a 1.0 file */
    expect_field_fails(f, "SETT", 4, 4, 999, AE_ERR_FORMAT);
    expect_field_fails(f, "SETT", 4, 4, 0xFFFFFFFFu, AE_ERR_FORMAT);
    /* duplicate id: record 1 becomes a second record 0 */
    expect_field_fails(f, "SETT", 16, 4, rd32(find_section(&f->p, "SETT")->payload + 4), AE_ERR_FORMAT);
    /* count not matching the length */
    uint32_t count = (uint32_t)known_setting_count();
    expect_field_fails(f, "SETT", 0, 4, count - 1, AE_ERR_FORMAT);
    expect_field_fails(f, "SETT", 0, 4, count + 1, AE_ERR_FORMAT);
    expect_field_fails(f, "SETT", 0, 4, 0xFFFFFFFFu, AE_ERR_FORMAT);
    /* count 0 in a longer section */
    expect_field_fails(f, "SETT", 0, 4, 0, AE_ERR_FORMAT);
}

static void test_missing_setting_loads_with_its_default(void **state)
{
    fixture *f = *state;
    parsed p;
    parse_file(f->file, f->n, &p);
    section *sett = find_section(&p, "SETT");
    size_t at = setting_offset(sett, AE_PARAM_PATIENCE);
    memmove(sett->payload + at, sett->payload + at + 12, sett->length - at - 12);
    wr32(sett->payload, rd32(sett->payload) - 1);
    resize_section(sett, sett->length >= 12 ? sett->length - 12 : 0);
    ae_model *m = load_parsed(&p);
    assert_param_is(m, AE_PARAM_PATIENCE, 0.0);
    ae_model_free(m);
    free_parsed(&p);
}

static void test_load_rejects_parameter_count_and_value_errors(void **state)
{
    fixture *f = *state;
    expect_field_fails(f, "PARM", 0, 8, 79, AE_ERR_FORMAT);
    expect_field_fails(f, "PARM", 0, 8, 81, AE_ERR_FORMAT);
    expect_field_fails(f, "PARM", 0, 8, 0, AE_ERR_FORMAT);
    expect_field_fails(f, "PARM", 0, 8, UINT64_MAX, AE_ERR_FORMAT);
    uint32_t nan_bits = 0x7FC00000u, inf_bits = 0x7F800000u, ninf_bits = 0xFF800000u;
    expect_field_fails(f, "PARM", 8, 4, nan_bits, AE_ERR_FORMAT);
    expect_field_fails(f, "PARM", 8 + 4 * 79, 4, inf_bits, AE_ERR_FORMAT);
    expect_field_fails(f, "PARM", 8 + 4 * 40, 4, ninf_bits, AE_ERR_FORMAT);
    /* one float too many, with the count unchanged */
    expect_resized_section_fails(f, "PARM", 8 + 4 * 81);
}

static void test_load_rejects_bad_generator_state(void **state)
{
    fixture *f = *state;
    parsed p;
    parse_file(f->file, f->n, &p);
    memset(find_section(&p, "RNG ")->payload, 0, 32);
    expect_parsed_fails_then_free(&p, AE_ERR_FORMAT);
    expect_field_fails(f, "RNG ", 32, 1, 2, AE_ERR_FORMAT);
    expect_field_fails(f, "RNG ", 32, 1, 0xFF, AE_ERR_FORMAT);
    expect_resized_section_fails(f, "RNG ", 32);
}

static void test_load_rejects_bad_optimizer_state(void **state)
{
    fixture *f = *state;
    expect_field_fails(f, "OPTM", 0, 4, 3, AE_ERR_FORMAT);           /* unknown kind */
    expect_field_fails(f, "OPTM", 0, 4, 0xFFFFFFFFu, AE_ERR_FORMAT); /* negative kind */
    expect_field_fails(f, "OPTM", 0, 4, AE_OPT_SGD, AE_ERR_FORMAT);  /* SGD with a second moment */
    expect_field_fails(f, "OPTM", 0, 4, AE_OPT_ADAMW, AE_ERR_FORMAT); /* settings say Adam */
    expect_field_fails(f, "OPTM", 12, 1, 2, AE_ERR_FORMAT);
    expect_field_fails(f, "OPTM", 13, 1, 0, AE_ERR_FORMAT); /* length then too long */
    expect_field_fails(f, "OPTM", 14, 4, 0x7FC00000u, AE_ERR_FORMAT);          /* NaN m */
    expect_field_fails(f, "OPTM", 14 + 4 * 80, 4, 0xBF800000u, AE_ERR_FORMAT); /* v = -1 */
    expect_field_fails(f, "OPTM", 14 + 4 * 159, 4, 0x7F800000u, AE_ERR_FORMAT); /* v = Inf */
    expect_resized_section_fails(f, "OPTM", 13);
}

/* The fixture's OPTM section rewritten: kind, step, and which moments it keeps (the
 * payload resized to match). */
static void set_optimizer_state(parsed *p, uint32_t kind, uint64_t step, int has_first,
                                int has_second, size_t n_params)
{
    section *optm = find_section(p, "OPTM");
    resize_section(optm, 14 + 4 * n_params * (size_t)(has_first + has_second));
    wr32(optm->payload, kind);
    wr64(optm->payload + 4, step);
    optm->payload[12] = (unsigned char)has_first;
    optm->payload[13] = (unsigned char)has_second;
}

/* The fixture with its optimizer state replaced must fail with AE_ERR_FORMAT, naming the
 * state's offset and the reason. */
static void expect_optimizer_state_fails(fixture *f, uint32_t kind, uint64_t step, int has_first,
                                         int has_second, const char *reason)
{
    parsed p;
    parse_file(f->file, f->n, &p);
    set_optimizer_state(&p, kind, step, has_first, has_second, ae_model_param_count(f->model));
    size_t optm_payload = 16;
    for (size_t i = 0; memcmp(p.s[i].tag, "OPTM", 4) != 0; i++)
        optm_payload += 16 + p.s[i].length;
    optm_payload += 16;
    expect_parsed_fails_then_free(&p, AE_ERR_FORMAT);
    char where[64];
    snprintf(where, sizeof where, "invalid optimizer state at byte %zu: ", optm_payload);
    if (!strstr(ae_last_error(), where) || !strstr(ae_last_error(), reason))
        fail_msg("message \"%s\" lacks \"%s\" or \"%s\"", ae_last_error(), where, reason);
}

/* The same state loads and keeps its step counter (seen through the bytes it saves). */
static void expect_optimizer_state_loads(fixture *f, uint32_t kind, uint64_t step, int has_first,
                                         int has_second)
{
    parsed p;
    parse_file(f->file, f->n, &p);
    set_optimizer_state(&p, kind, step, has_first, has_second, ae_model_param_count(f->model));
    ae_model *m = load_parsed(&p);
    size_t n;
    unsigned char *again = save_to_buffer(m, AE_SAVE_OPTIMIZER_STATE, &n);
    parsed q;
    parse_file(again, n, &q);
    assert_int_equal(rd64(find_section(&q, "OPTM")->payload + 4), step);
    free_parsed(&q);
    free(again);
    ae_model_free(m);
    free_parsed(&p);
}

static void test_load_rejects_optimizer_step_counters_that_no_state_can_have(void **state)
{
    fixture *f = *state;
    /* Adam keeps at most 2^53 steps: past that the next step would wrap the counter (2^64-1
     * becomes 0 and the bias correction divides by zero) or lose exactness in a double. */
    expect_optimizer_state_fails(f, AE_OPT_ADAM, UINT64_MAX, 1, 1, "beyond 2^53");
    expect_optimizer_state_fails(f, AE_OPT_ADAM, ((uint64_t)1 << 53) + 1, 1, 1, "beyond 2^53");
    expect_optimizer_state_loads(f, AE_OPT_ADAM, (uint64_t)1 << 53, 1, 1);
    /* Adam keeps both moments or neither, and without them it has taken no step. */
    expect_optimizer_state_fails(f, AE_OPT_ADAM, 5, 1, 0, "not only the first");
    expect_optimizer_state_fails(f, AE_OPT_ADAM, 5, 0, 1, "not only the second");
    expect_optimizer_state_fails(f, AE_OPT_ADAM, 5, 0, 0, "has taken no step");
    expect_optimizer_state_loads(f, AE_OPT_ADAM, 0, 0, 0);
    /* SGD counts no steps (its momentum buffer, if any, is the settings' optimizer's only
     * when the settings say SGD, so these have none). */
    expect_optimizer_state_fails(f, AE_OPT_SGD, 1, 0, 0, "SGD counts no steps");
    expect_optimizer_state_fails(f, AE_OPT_SGD, UINT64_MAX, 0, 0, "beyond 2^53");
    expect_optimizer_state_loads(f, AE_OPT_SGD, 0, 0, 0);
}

static void test_load_rejects_section_lengths_beyond_the_file(void **state)
{
    fixture *f = *state;
    /* ARCH's length field sits at byte 24 of the file. */
    static const uint64_t lengths[] = {UINT64_MAX, 1ull << 63, 1ull << 32, 100000, 121};
    for (size_t i = 0; i < ARRAY_LEN(lengths); i++)
        expect_patched_file_fails(f, 24, 8, lengths[i], AE_ERR_FORMAT);
    /* section count one too many, one too few, huge; trailing bytes */
    static const uint32_t counts[] = {6, 4, 0, 0xFFFFFFFFu};
    for (size_t i = 0; i < ARRAY_LEN(counts); i++)
        expect_patched_file_fails(f, 12, 4, counts[i], AE_ERR_FORMAT);
    unsigned char *longer = malloc(f->n + 3);
    assert_non_null(longer);
    memcpy(longer, f->file, f->n - 4);
    memset(longer + f->n - 4, 0, 3);
    fix_crc(longer, f->n + 3);
    expect_load_fails(longer, f->n + 3, AE_ERR_FORMAT);
    free(longer);
}

static void test_load_rejects_duplicate_and_missing_sections(void **state)
{
    fixture *f = *state;
    static const char *tags[] = {"ARCH", "SETT", "PARM", "RNG ", "OPTM"};
    for (size_t i = 0; i < ARRAY_LEN(tags); i++) {
        parsed p;
        parse_file(f->file, f->n, &p);
        section *s = find_section(&p, tags[i]);
        add_section(&p, tags[i], s->flags, s->payload, s->length);
        expect_parsed_fails_then_free(&p, AE_ERR_FORMAT);
        if (i < 4) {
            parse_file(f->file, f->n, &p);
            remove_section(&p, tags[i]);
            expect_parsed_fails_then_free(&p, AE_ERR_FORMAT);
        }
    }
    /* A known tag with the wrong length. */
    expect_resized_section_fails(f, "ARCH", 8 + 24 * 4 + 1);
    /* No sections at all. */
    parsed p;
    parse_file(f->file, f->n, &p);
    while (p.n_sections)
        remove_section(&p, (const char *)p.s[0].tag);
    expect_parsed_fails_then_free(&p, AE_ERR_FORMAT);
}

static void test_unknown_required_section_is_a_version_error(void **state)
{
    fixture *f = *state;
    parsed p;
    parse_file(f->file, f->n, &p);
    /* A tag of no version yet (VARL, once the example here, is known since 1.2). */
    add_section(&p, "FUTR", 1, "xyz", 3);
    expect_parsed_fails(&p, AE_ERR_VERSION);
    assert_non_null(strstr(ae_last_error(), "FUTR"));
    free_parsed(&p);
    /* Other flag bits do not make a section required. */
    parse_file(f->file, f->n, &p);
    add_section(&p, "\x01\xFFzz", 0xFFFFFFFEu, "", 0);
    ae_model *m = load_parsed(&p);
    ae_model_free(m);
    free_parsed(&p);
}

static void test_unknown_optional_section_is_skipped(void **state)
{
    fixture *f = *state;
    parsed p;
    parse_file(f->file, f->n, &p);
    static const unsigned char junk[1000] = {0xFF};
    /* first, in the middle and last */
    memmove(&p.s[1], &p.s[0], p.n_sections * sizeof p.s[0]);
    p.n_sections++;
    memcpy(p.s[0].tag, "META", 4);
    p.s[0].flags = 0;
    p.s[0].length = sizeof junk;
    p.s[0].payload = malloc(sizeof junk);
    assert_non_null(p.s[0].payload);
    memcpy(p.s[0].payload, junk, sizeof junk);
    add_section(&p, "HIST", 0, junk, 17);
    add_section(&p, "ZERO", 0, junk, 0);
    assert_parsed_loads_as_fixture(f, &p);
}

static void test_sections_load_in_any_order(void **state)
{
    fixture *f = *state;
    parsed p;
    parse_file(f->file, f->n, &p);
    section tmp = p.s[0];
    p.s[0] = p.s[4];
    p.s[4] = tmp;
    tmp = p.s[1];
    p.s[1] = p.s[2];
    p.s[2] = tmp;
    ae_model *m = load_parsed(&p);
    assert_same_model(f->model, m);
    assert_fit_continues_identically(f->model, m);
    ae_model_free(m);
    free_parsed(&p);
}

static void test_newer_major_version_is_refused(void **state)
{
    fixture *f = *state;
    static const unsigned majors[] = {2, 3, 0xFFFF};
    for (size_t i = 0; i < ARRAY_LEN(majors); i++) {
        parsed p;
        parse_file(f->file, f->n, &p);
        p.major = majors[i];
        expect_parsed_fails_then_free(&p, AE_ERR_VERSION);
        /* Even a file whose rest is garbage: the version decides first. */
        unsigned char header[24] = {0x89, 'A', 'E', 'N', 'C', 0x0D, 0x0A, 0x1A};
        wr16(header + 8, majors[i]);
        memset(header + 12, 0xEE, 12);
        expect_load_fails(header, sizeof header, AE_ERR_VERSION);
    }
    parsed p;
    parse_file(f->file, f->n, &p);
    p.major = 0;
    expect_parsed_fails_then_free(&p, AE_ERR_FORMAT);
}

static void test_newer_minor_version_loads_skipping_unknown_settings(void **state)
{
    fixture *f = *state;
    parsed p;
    parse_file(f->file, f->n, &p);
    p.minor = 7;
    section *sett = find_section(&p, "SETT");
    size_t old = sett->length;
    resize_section(sett, old + 12);
    wr32(sett->payload, rd32(sett->payload) + 1);
    wr32(sett->payload + old, 200); /* a setting from the future, any value */
    wrf64(sett->payload + old + 4, -5.0);
    add_section(&p, "NEW1", 0, "abc", 3);
    assert_parsed_loads_as_fixture(f, &p);
}

static void test_load_rejects_wrong_magic_and_tiny_inputs(void **state)
{
    fixture *f = *state;
    for (size_t byte = 0; byte < 8; byte++)
        expect_patched_file_fails(f, byte, 1, (unsigned char)~f->file[byte], AE_ERR_FORMAT);
    static const char text[] = "this is a text file, not a model at all\n";
    expect_load_fails((const unsigned char *)text, sizeof text - 1, AE_ERR_FORMAT);
    expect_load_fails(f->file, 0, AE_ERR_FORMAT);
}

/* ================================================================================== */
/* Allocation failure and memory bound                                                  */
/* ================================================================================== */

static void test_load_fails_cleanly_when_any_allocation_fails(void **state)
{
    fixture *f = *state;
    long n_allocations = -1;
    for (long k = 0; n_allocations < 0 || k < n_allocations; k++) {
        track_start(k);
        ae_model *m = (ae_model *)(uintptr_t)1;
        int status = ae_model_load_from_memory(&m, f->file, f->n);
        long count = track.count;
        if (status == AE_OK) {
            ae_model_free(m);
            track_stop();
            n_allocations = count - 1; /* the allocation k was never reached */
            break;
        }
        size_t live = track.live_blocks;
        track_stop();
        assert_int_equal(status, AE_ERR_OUT_OF_MEMORY);
        assert_null(m);
        assert_int_equal(live, 0);
    }
    assert_true(n_allocations > 0);
}

static void test_load_memory_stays_within_the_model_and_a_constant(void **state)
{
    fixture *f = *state;
    track_start(-1);
    ae_model *m = NULL;
    assert_int_equal(ae_model_load_from_memory(&m, f->file, f->n), AE_OK);
    size_t peak = track.peak, model_bytes = track.live;
    ae_model_free(m);
    track_stop();
    assert_true(peak <= model_bytes + 65536);
}

/* ================================================================================== */
/* Golden files                                                                         */
/* ================================================================================== */

/* Expected results, computed by tests/data/make_golden.c when the files were written. */
#include "data/golden-v1.0-expected.h"

/* Load tests/data/<name> and check its layer counts. */
static ae_model *load_golden(const char *name, size_t layers, size_t encoder_layers)
{
    /* tests/data next to this source file (CMake compiles it by its absolute path). */
    char path[1024];
    const char *slash = strrchr(__FILE__, '/');
    int dir_length = slash ? (int)(slash - __FILE__) : 1;
    snprintf(path, sizeof path, "%.*s/data/%s", dir_length, slash ? __FILE__ : ".", name);
    ae_model *m = NULL;
    int status = ae_model_load(&m, path);
    if (status != AE_OK)
        print_error("%s: %s\n", path, ae_last_error());
    assert_int_equal(status, AE_OK);
    assert_layer_counts(m, layers, encoder_layers);
    return m;
}

static void assert_close(const float *got, const float *expected, size_t n, double tolerance)
{
    for (size_t i = 0; i < n; i++)
        if (!(fabs((double)got[i] - (double)expected[i]) <= tolerance))
            fail_msg("entry %zu: got %.9g, expected %.9g", i, (double)got[i], (double)expected[i]);
}

/* The codes of the golden input x are within 1e-5 of `expected`. */
static void assert_golden_codes(ae_model *m, const float *x, size_t latent, const float *expected)
{
    float *z = calloc(GOLDEN_ROWS * latent, sizeof *z);
    assert_non_null(z);
    assert_int_equal(ae_model_encode(m, x, GOLDEN_ROWS, GOLDEN_INPUT_DIM, z, latent), AE_OK);
    assert_close(z, expected, GOLDEN_ROWS * latent, 1e-5);
    free(z);
}

/* ================================================================================== */
/* The anomaly threshold (section THRS, format 1.1)                                    */
/* ================================================================================== */

static double threshold_of(const ae_model *m)
{
    double value = -1.0;
    assert_int_equal(ae_model_get_threshold(m, &value), AE_OK);
    return value;
}

static void test_threshold_round_trips_in_an_optional_thrs_section(void **state)
{
    fixture *f = *state;
    /* Without a threshold there is no THRS section and the loaded model has none. */
    for (size_t i = 0; i < f->p.n_sections; i++)
        assert_memory_not_equal(f->p.s[i].tag, "THRS", 4);
    ae_model *plain = load_buffer(f->file, f->n);
    double unused;
    assert_int_equal(ae_model_get_threshold(plain, &unused), AE_ERR_STATE);
    ae_model_free(plain);

    const double value = 0.123456789012345678;
    assert_int_equal(ae_model_set_threshold(f->model, value), AE_OK);
    size_t n;
    unsigned char *file = save_to_buffer(f->model, AE_SAVE_DEFAULT, &n);
    parsed p;
    parse_file(file, n, &p);
    assert_int_equal(p.minor, 3);
    section *thrs = find_section(&p, "THRS");
    assert_int_equal(thrs->flags, 0); /* optional: an older reader drops it */
    assert_int_equal(thrs->length, 8);
    double stored;
    uint64_t bits = rd64(thrs->payload);
    memcpy(&stored, &bits, sizeof stored);
    assert_true(stored == value);

    ae_model *loaded = load_buffer(file, n);
    assert_same_model(f->model, loaded);
    assert_true(threshold_of(loaded) == value);
    /* Saving the loaded model gives the same bytes. */
    assert_saves_as(loaded, AE_SAVE_DEFAULT, file, n);
    ae_model_free(loaded);

    /* What a 1.0 reader sees once it has skipped THRS: the same model, no threshold. */
    remove_section(&p, "THRS");
    loaded = load_parsed(&p);
    assert_same_model(f->model, loaded);
    assert_int_equal(ae_model_get_threshold(loaded, &unused), AE_ERR_STATE);
    ae_model_free(loaded);
    free_parsed(&p);
    free(file);
}

static void test_load_rejects_bad_threshold_payloads(void **state)
{
    fixture *f = *state;
    assert_int_equal(ae_model_set_threshold(f->model, 0.5), AE_OK);
    size_t n;
    unsigned char *file = save_to_buffer(f->model, AE_SAVE_OPTIMIZER_STATE, &n);
    parsed p;
    parse_file(file, n, &p);
    section *thrs = find_section(&p, "THRS");
    static const double bad[] = {NAN, INFINITY, -INFINITY, -1.0, -1e-300};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        wrf64(thrs->payload, bad[i]);
        expect_parsed_fails(&p, AE_ERR_FORMAT);
    }
    wrf64(thrs->payload, 0.0); /* zero is a valid threshold */
    ae_model *m = load_parsed(&p);
    assert_true(threshold_of(m) == 0.0);
    ae_model_free(m);
    for (size_t length = 0; length < 17; length++) {
        if (length == 8)
            continue;
        resize_section(thrs, length);
        expect_parsed_fails(&p, AE_ERR_FORMAT);
    }
    resize_section(thrs, 8);
    wrf64(thrs->payload, 0.25);
    add_section(&p, "THRS", 0, thrs->payload, 8); /* twice */
    expect_parsed_fails_then_free(&p, AE_ERR_FORMAT);
    /* Every bit flip inside the section is caught (by the checksum at least). */
    size_t at = n - 4 - 8;
    assert_memory_equal(file + at - 16, "THRS", 4);
    for (size_t bit = 0; bit < 8 * (16 + 8); bit++) {
        unsigned char *copy = copy_with_bit_flipped(file, n, 8 * (at - 16) + bit);
        ae_model *out = NULL;
        assert_int_not_equal(ae_model_load_from_memory(&out, copy, n), AE_OK);
        assert_null(out);
        free(copy);
    }
    free(file);
}

/* ================================================================================== */
/* Scaling and encoder-only models (sections SCAL and ENCO, format 1.2)                 */
/* ================================================================================== */

/* The small model of trained_small_model with min-max scaling fitted by its first fit
 * (min-max keeps the golden input in [0, 1], as BCE needs). */
static ae_model *scaled_small_model(void)
{
    static const size_t widths[] = {6, 4, 2};
    ae_model *m = test_create_model(widths, ARRAY_LEN(widths), NULL, 0);
    test_set_param(m, AE_PARAM_SEED, 42);
    test_set_activations(m, AE_ACT_TANH, AE_ACT_LINEAR, AE_ACT_SIGMOID);
    test_set_param(m, AE_PARAM_LOSS, AE_LOSS_BCE);
    test_set_param(m, AE_PARAM_SCALING, AE_SCALING_MINMAX);
    test_set_epochs_and_batch(m, 2, 4);
    float *x = golden_input(12, 6);
    for (size_t i = 0; i < 12 * 6; i++)
        x[i] = 3.0f * x[i] - 1.0f; /* offsets and scales other than 0 and 1 */
    assert_int_equal(ae_model_fit(m, x, 12, 6, NULL), AE_OK);
    free(x);
    return m;
}

static void assert_same_scaling(const ae_model *a, const ae_model *b)
{
    size_t n = ae_model_input_dim(a);
    float *fa = malloc(2 * n * sizeof *fa), *fb = malloc(2 * n * sizeof *fb);
    assert_true(fa && fb);
    assert_int_equal(ae_model_get_scaling(a, fa, fa + n, n), AE_OK);
    assert_int_equal(ae_model_get_scaling(b, fb, fb + n, n), AE_OK);
    assert_memory_equal(fa, fb, 2 * n * sizeof *fa);
    free(fa);
    free(fb);
}

static void test_fitted_scaling_round_trips_in_a_required_scal_section(void **state)
{
    (void)state;
    ae_model *m = scaled_small_model();
    assert_int_equal(ae_model_set_threshold(m, 0.5), AE_OK);
    size_t n;
    unsigned char *file = save_to_buffer(m, AE_SAVE_OPTIMIZER_STATE, &n);
    parsed p;
    parse_file(file, n, &p);
    assert_int_equal(p.minor, 3);
    /* Every section, in the documented order. */
    static const char *tags[] = {"ARCH", "SETT", "PARM", "RNG ", "OPTM", "THRS", "SCAL"};
    assert_int_equal(p.n_sections, ARRAY_LEN(tags));
    for (size_t i = 0; i < ARRAY_LEN(tags); i++)
        assert_memory_equal(p.s[i].tag, tags[i], 4);
    section *scal = find_section(&p, "SCAL");
    assert_int_equal(scal->flags, 1); /* required: a 1.1 reader must refuse it */
    assert_int_equal(scal->length, 8 + 8 * 6);
    assert_int_equal(rd64(scal->payload), 6);
    float offset[6], scale[6];
    assert_int_equal(ae_model_get_scaling(m, offset, scale, 6), AE_OK);
    for (size_t j = 0; j < 6; j++) {
        uint32_t off_bits, scale_bits;
        memcpy(&off_bits, &offset[j], 4);
        memcpy(&scale_bits, &scale[j], 4);
        assert_int_equal(rd32(scal->payload + 8 + 4 * j), off_bits);
        assert_int_equal(rd32(scal->payload + 8 + 4 * (6 + j)), scale_bits);
    }
    ae_model *loaded = load_buffer(file, n);
    assert_same_model(m, loaded);
    assert_same_scaling(m, loaded);
    assert_saves_as(loaded, AE_SAVE_OPTIMIZER_STATE, file, n);
    /* Without SCAL the same file is a model whose scaling is not fitted. */
    remove_section(&p, "SCAL");
    ae_model *unfitted = load_parsed(&p);
    float unused[2][6];
    assert_int_equal(ae_model_get_scaling(unfitted, unused[0], unused[1], 6), AE_ERR_STATE);
    ae_model_free(unfitted);
    free_parsed(&p);
    ae_model_free(loaded);
    free(file);
    ae_model_free(m);
}

static void test_model_without_a_fitted_scaling_has_no_scal_section(void **state)
{
    fixture *f = *state;
    for (size_t i = 0; i < f->p.n_sections; i++)
        assert_memory_not_equal(f->p.s[i].tag, "SCAL", 4);
    ae_model *m = test_clone_model(f->model);
    test_set_param(m, AE_PARAM_SCALING, AE_SCALING_MINMAX); /* set, not fitted */
    size_t n;
    unsigned char *file = save_to_buffer(m, AE_SAVE_DEFAULT, &n);
    parsed p;
    parse_file(file, n, &p);
    for (size_t i = 0; i < p.n_sections; i++)
        assert_memory_not_equal(p.s[i].tag, "SCAL", 4);
    ae_model *loaded = load_buffer(file, n);
    assert_param_is(loaded, AE_PARAM_SCALING, AE_SCALING_MINMAX);
    float unused[2][6];
    assert_int_equal(ae_model_get_scaling(loaded, unused[0], unused[1], 6), AE_ERR_STATE);
    ae_model_free(loaded);
    free_parsed(&p);
    free(file);
    ae_model_free(m);
}

/* A copy of the scaled model's file, parsed, with its SCAL section in *scal. */
static void parse_scaled_file(const unsigned char *file, size_t n, parsed *p, section **scal)
{
    parse_file(file, n, p);
    *scal = find_section(p, "SCAL");
}

static void test_load_rejects_bad_scal_sections(void **state)
{
    (void)state;
    ae_model *m = scaled_small_model();
    size_t n;
    unsigned char *file = save_to_buffer(m, AE_SAVE_DEFAULT, &n);
    parsed p;
    section *scal;
    /* n other than the input width (the length follows n, so only n is wrong). */
    static const uint64_t bad_n[] = {0, 5, 7, 1ull << 32, UINT64_MAX};
    for (size_t i = 0; i < ARRAY_LEN(bad_n); i++) {
        parse_scaled_file(file, n, &p, &scal);
        wr64(scal->payload, bad_n[i]);
        expect_parsed_fails_then_free(&p, AE_ERR_FORMAT);
    }
    /* ... and with the length matching n: a consistent section for the wrong width. */
    parse_scaled_file(file, n, &p, &scal);
    resize_section(scal, 8 + 8 * 5);
    wr64(scal->payload, 5);
    for (size_t j = 0; j < 5; j++)
        wr32(scal->payload + 8 + 4 * (5 + j), 0x3F800000u); /* scales 1 */
    expect_parsed_fails_then_free(&p, AE_ERR_FORMAT);
    /* Non-finite offsets. */
    static const uint32_t bad_offsets[] = {0x7FC00000u, 0x7F800000u, 0xFF800000u};
    for (size_t i = 0; i < ARRAY_LEN(bad_offsets); i++) {
        for (size_t j = 0; j < 6; j += 5) {
            parse_scaled_file(file, n, &p, &scal);
            wr32(scal->payload + 8 + 4 * j, bad_offsets[i]);
            expect_parsed_fails_then_free(&p, AE_ERR_FORMAT);
        }
    }
    /* Scales that are zero, negative or not finite. */
    static const uint32_t bad_scales[] = {0x00000000u /* 0 */,  0x80000000u /* -0 */,
                                          0xBF800000u /* -1 */, 0x80000001u /* -denormal */,
                                          0x7FC00000u /* NaN */, 0x7F800000u /* Inf */};
    for (size_t i = 0; i < ARRAY_LEN(bad_scales); i++) {
        for (size_t j = 0; j < 6; j += 5) {
            parse_scaled_file(file, n, &p, &scal);
            wr32(scal->payload + 8 + 4 * (6 + j), bad_scales[i]);
            expect_parsed_fails_then_free(&p, AE_ERR_FORMAT);
        }
    }
    /* The smallest positive scale is a valid one. */
    parse_scaled_file(file, n, &p, &scal);
    wr32(scal->payload + 8 + 4 * 6, 0x00000001u);
    ae_model *tiny = load_parsed(&p);
    ae_model_free(tiny);
    free_parsed(&p);
    /* Wrong lengths with n unchanged. */
    static const size_t lengths[] = {0, 7, 8, 8 + 8 * 6 - 1, 8 + 8 * 6 + 1, 8 + 8 * 7};
    for (size_t i = 0; i < ARRAY_LEN(lengths); i++) {
        parse_scaled_file(file, n, &p, &scal);
        resize_section(scal, lengths[i]);
        expect_parsed_fails_then_free(&p, AE_ERR_FORMAT);
    }
    /* Twice. */
    parse_scaled_file(file, n, &p, &scal);
    add_section(&p, "SCAL", 1, scal->payload, scal->length);
    expect_parsed_fails_then_free(&p, AE_ERR_FORMAT);
    /* A scaling in a model whose setting says none. */
    parse_scaled_file(file, n, &p, &scal);
    section *sett = find_section(&p, "SETT");
    wrf64(sett->payload + setting_offset(sett, AE_PARAM_SCALING) + 4, AE_SCALING_NONE);
    expect_parsed_fails_then_free(&p, AE_ERR_FORMAT);
    free(file);
    ae_model_free(m);
}

/* Encoder-only files: architecture, parameters and encoding as the exporting model's. */
static void assert_same_encoder(const ae_model *full, const ae_model *encoder)
{
    size_t layers = ae_model_encoder_layer_count(full);
    assert_layer_counts(encoder, layers, layers);
    for (size_t l = 0; l < layers; l++) {
        size_t out_a, in_a, out_b, in_b;
        int act_a, act_b;
        assert_int_equal(ae_model_layer_info(full, l, &out_a, &in_a, &act_a), AE_OK);
        assert_int_equal(ae_model_layer_info(encoder, l, &out_b, &in_b, &act_b), AE_OK);
        assert_int_equal(out_a, out_b);
        assert_int_equal(in_a, in_b);
        assert_int_equal(act_a, act_b);
    }
    size_t in = ae_model_input_dim(full), lat = ae_model_latent_dim(full), rows = 5;
    assert_int_equal(ae_model_input_dim(encoder), in);
    assert_int_equal(ae_model_latent_dim(encoder), lat);
    float *x = golden_input(rows, in);
    float *za = calloc(rows * lat, sizeof *za), *zb = calloc(rows * lat, sizeof *zb);
    assert_true(za && zb);
    assert_int_equal(ae_model_encode(full, x, rows, in, za, lat), AE_OK);
    assert_int_equal(ae_model_encode(encoder, x, rows, in, zb, lat), AE_OK);
    assert_memory_equal(za, zb, rows * lat * sizeof *za);
    free(x);
    free(za);
    free(zb);
}

static ae_model *exported_encoder(const ae_model *m)
{
    ae_model *encoder = NULL;
    assert_int_equal(ae_model_export_encoder(m, &encoder), AE_OK);
    return encoder;
}

static void test_encoder_only_model_round_trips_with_an_empty_required_enco_section(void **state)
{
    fixture *f = *state;
    ae_model *encoder = exported_encoder(f->model);
    for (unsigned flags = 0; flags <= AE_SAVE_OPTIMIZER_STATE; flags++) {
        size_t n;
        unsigned char *file = save_to_buffer(encoder, flags, &n);
        parsed p;
        parse_file(file, n, &p);
        assert_int_equal(p.minor, 3);
        section *enco = find_section(&p, "ENCO");
        assert_int_equal(enco->flags, 1);
        assert_int_equal(enco->length, 0);
        section *arch = find_section(&p, "ARCH");
        assert_int_equal(rd32(arch->payload), 2);     /* n_layers */
        assert_int_equal(rd32(arch->payload + 4), 2); /* n_encoder_layers */
        assert_int_equal(rd64(arch->payload + ARCH_LAYER(1) + 8), 2); /* ends at the latent width */
        ae_model *loaded = load_buffer(file, n);
        assert_same_encoder(f->model, loaded);
        assert_true(test_same_params(encoder, loaded));
        float z[2] = {0}, y[6];
        assert_int_equal(ae_model_decode(loaded, z, 1, 2, y, 6), AE_ERR_STATE);
        assert_saves_as(loaded, flags, file, n);
        ae_model_free(loaded);
        free_parsed(&p);
        free(file);
    }
    /* A one-layer encoder, with a fitted scaling: both sections. */
    static const size_t widths[] = {6, 3};
    ae_model *shallow = test_create_model(widths, ARRAY_LEN(widths), NULL, 0);
    test_set_param(shallow, AE_PARAM_SCALING, AE_SCALING_STANDARDIZE);
    float *x = golden_input(12, 6);
    assert_int_equal(ae_model_fit(shallow, x, 12, 6, NULL), AE_OK);
    free(x);
    ae_model *one = exported_encoder(shallow);
    size_t n;
    unsigned char *file = save_to_buffer(one, AE_SAVE_DEFAULT, &n);
    parsed p;
    parse_file(file, n, &p);
    assert_int_equal(find_section(&p, "ENCO")->length, 0);
    assert_int_equal(find_section(&p, "SCAL")->length, 8 + 8 * 6);
    assert_int_equal(rd32(find_section(&p, "ARCH")->payload), 1);
    ae_model *loaded = load_buffer(file, n);
    assert_layer_counts(loaded, 1, 1);
    assert_same_scaling(one, loaded);
    assert_true(test_same_params(one, loaded));
    assert_saves_as(loaded, AE_SAVE_DEFAULT, file, n);
    ae_model_free(loaded);
    free_parsed(&p);
    free(file);
    ae_model_free(one);
    ae_model_free(shallow);
    ae_model_free(encoder);
}

static void test_load_rejects_bad_enco_sections(void **state)
{
    fixture *f = *state;
    ae_model *encoder = exported_encoder(f->model);
    size_t n;
    unsigned char *file = save_to_buffer(encoder, AE_SAVE_DEFAULT, &n);
    parsed p;
    /* A payload in ENCO. */
    static const size_t lengths[] = {1, 4, 8};
    for (size_t i = 0; i < ARRAY_LEN(lengths); i++) {
        parse_file(file, n, &p);
        resize_section(find_section(&p, "ENCO"), lengths[i]);
        expect_parsed_fails_then_free(&p, AE_ERR_FORMAT);
    }
    /* Twice. */
    parse_file(file, n, &p);
    add_section(&p, "ENCO", 1, "", 0);
    expect_parsed_fails_then_free(&p, AE_ERR_FORMAT);
    /* An encoder-only architecture without ENCO. */
    parse_file(file, n, &p);
    remove_section(&p, "ENCO");
    expect_parsed_fails_then_free(&p, AE_ERR_FORMAT);
    /* ENCO with an architecture that has a decoder (the fixture's whole model). */
    parse_file(f->file, f->n, &p);
    add_section(&p, "ENCO", 1, "", 0);
    expect_parsed_fails_then_free(&p, AE_ERR_FORMAT);
    /* An encoder-only architecture whose encoder count is not its layer count. */
    parse_file(file, n, &p);
    wr32(find_section(&p, "ARCH")->payload + 4, 1);
    expect_parsed_fails_then_free(&p, AE_ERR_FORMAT);
    free(file);
    ae_model_free(encoder);
}

/* ------------------------------------------------------------------------------------ */
/* Tied and variational models (sections TIED and VARL, format 1.2)                     */
/* ------------------------------------------------------------------------------------ */

/* A trained 5-4-3 model of the given architecture (mirrored decoder). */
static ae_model *trained_variant(unsigned architecture)
{
    static const size_t widths[] = {5, 4, 3};
    ae_model *m = NULL;
    assert_int_equal(ae_model_create_ex(&m, widths, ARRAY_LEN(widths), NULL, 0, architecture), AE_OK);
    assert_int_equal(ae_model_set_param(m, AE_PARAM_HIDDEN_ACTIVATION, AE_ACT_TANH), AE_OK);
    float *x = golden_input(6, 5);
    for (int step = 0; step < 3; step++)
        assert_int_equal(ae_model_train_batch(m, x, 6, 5, NULL), AE_OK);
    free(x);
    return m;
}

static void test_tied_and_variational_models_round_trip_with_empty_marker_sections(void **state)
{
    (void)state;
    static const unsigned architectures[] = {AE_ARCH_TIED_WEIGHTS, AE_ARCH_VARIATIONAL};
    static const char *const markers[] = {"TIED", "VARL"};
    for (size_t k = 0; k < ARRAY_LEN(architectures); k++) {
        ae_model *m = trained_variant(architectures[k]);
        size_t n;
        unsigned char *file = save_to_buffer(m, AE_SAVE_OPTIMIZER_STATE, &n);
        parsed p;
        parse_file(file, n, &p);
        section *marker = find_section(&p, markers[k]);
        assert_int_equal(marker->length, 0);
        assert_int_equal(marker->flags, 1); /* required */
        assert_int_equal(p.minor, 3);
        free_parsed(&p);
        ae_model *loaded = load_buffer(file, n);
        assert_int_equal(ae_model_architecture(loaded), architectures[k]);
        assert_true(test_same_params(m, loaded));
        assert_saves_as(loaded, AE_SAVE_OPTIMIZER_STATE, file, n);
        ae_model_free(loaded);
        free(file);
        ae_model_free(m);
    }
}

static void test_load_rejects_bad_tied_and_variational_files(void **state)
{
    (void)state;
    ae_model *tied = trained_variant(AE_ARCH_TIED_WEIGHTS);
    ae_model *variational = trained_variant(AE_ARCH_VARIATIONAL);
    size_t n_tied, n_var;
    unsigned char *tied_file = save_to_buffer(tied, AE_SAVE_DEFAULT, &n_tied);
    unsigned char *var_file = save_to_buffer(variational, AE_SAVE_DEFAULT, &n_var);
    parsed p;
    /* Markers with a payload, or twice. */
    parse_file(tied_file, n_tied, &p);
    resize_section(find_section(&p, "TIED"), 4);
    expect_parsed_fails_then_free(&p, AE_ERR_FORMAT);
    parse_file(var_file, n_var, &p);
    add_section(&p, "VARL", 1, "", 0);
    expect_parsed_fails_then_free(&p, AE_ERR_FORMAT);
    /* Without TIED, the tied file's PARM is too short for the decoder's weights. */
    parse_file(tied_file, n_tied, &p);
    remove_section(&p, "TIED");
    expect_parsed_fails_then_free(&p, AE_ERR_FORMAT);
    /* Without VARL, the latent layer's width is twice the next layer's input. */
    parse_file(var_file, n_var, &p);
    remove_section(&p, "VARL");
    expect_parsed_fails_then_free(&p, AE_ERR_FORMAT);
    /* TIED and VARL together; TIED on an encoder alone. */
    parse_file(var_file, n_var, &p);
    add_section(&p, "TIED", 1, "", 0);
    expect_parsed_fails_then_free(&p, AE_ERR_FORMAT);
    ae_model *encoder = NULL;
    assert_int_equal(ae_model_export_encoder(tied, &encoder), AE_OK);
    size_t n_enc;
    unsigned char *enc_file = save_to_buffer(encoder, AE_SAVE_DEFAULT, &n_enc);
    parse_file(enc_file, n_enc, &p);
    add_section(&p, "TIED", 1, "", 0);
    expect_parsed_fails_then_free(&p, AE_ERR_FORMAT);
    /* TIED on a plain model whose decoder does not mirror its encoder. */
    static const size_t encoder_widths[] = {5, 4, 3}, decoder_widths[] = {3, 2, 5};
    ae_model *uneven = test_create_model(encoder_widths, 3, decoder_widths, 3);
    size_t n_uneven;
    unsigned char *uneven_file = save_to_buffer(uneven, AE_SAVE_DEFAULT, &n_uneven);
    parse_file(uneven_file, n_uneven, &p);
    add_section(&p, "TIED", 1, "", 0);
    expect_parsed_fails_then_free(&p, AE_ERR_FORMAT);
    /* VARL with a non-linear latent activation in the settings and the layer record. */
    parse_file(var_file, n_var, &p);
    section *sett = find_section(&p, "SETT");
    section *arch = find_section(&p, "ARCH");
    uint32_t count = rd32(sett->payload);
    for (uint32_t i = 0; i < count; i++)
        if (rd32(sett->payload + 4 + 12 * i) == AE_PARAM_LATENT_ACTIVATION)
            wrf64(sett->payload + 4 + 12 * i + 4, AE_ACT_TANH);
    wr32(arch->payload + 8 + 24 * 1 + 16, AE_ACT_TANH); /* layer 1 is the latent layer */
    expect_parsed_fails_then_free(&p, AE_ERR_FORMAT);
    /* VARL with an odd latent width (and the next layer's input rounded down). */
    parse_file(var_file, n_var, &p);
    arch = find_section(&p, "ARCH");
    wr64(arch->payload + 8 + 24 * 1 + 8, 5);
    wr64(arch->payload + 8 + 24 * 2, 2);
    expect_parsed_fails_then_free(&p, AE_ERR_FORMAT);
    free(uneven_file);
    ae_model_free(uneven);
    free(enc_file);
    ae_model_free(encoder);
    free(tied_file);
    free(var_file);
    ae_model_free(tied);
    ae_model_free(variational);
}

/* Every proper prefix and every single-bit flip of the file fails to load. */
static void assert_every_prefix_and_bit_flip_fails(const unsigned char *file, size_t n)
{
    for (size_t len = 0; len < n; len++) {
        unsigned char *copy = copy_of(file, len);
        expect_load_fails(copy, len, AE_ERR_FORMAT);
        free(copy);
    }
    for (size_t bit = 0; bit < 8 * n; bit++) {
        unsigned char *copy = copy_with_bit_flipped(file, n, bit);
        int returned_model;
        size_t peak, live;
        int status = tracked_malformed_load(copy, n, &returned_model, &peak, &live);
        if (status == AE_OK)
            fail_msg("a flip of bit %zu of byte %zu loaded", bit % 8, bit / 8);
        assert_false(returned_model);
        assert_int_equal(live, 0);
        free(copy);
    }
}

static void test_load_rejects_every_prefix_and_bit_flip_of_scaled_and_encoder_only_files(void **state)
{
    (void)state;
    ae_model *scaled = scaled_small_model();
    ae_model *encoder = exported_encoder(scaled);
    size_t before = malformed_tried;
    const ae_model *models[] = {scaled, encoder};
    for (size_t k = 0; k < ARRAY_LEN(models); k++) {
        size_t n;
        unsigned char *file = save_to_buffer(models[k], AE_SAVE_DEFAULT, &n);
        assert_every_prefix_and_bit_flip_fails(file, n);
        free(file);
    }
    print_message("      %zu malformed scaled and encoder-only files: all refused\n",
                  malformed_tried - before);
    ae_model_free(encoder);
    ae_model_free(scaled);
}

static void test_golden_mirrored_model_loads_with_known_outputs(void **state)
{
    (void)state;
    ae_model *m = load_golden("golden-v1.0-mirrored.aemodel", 4, 2);
    assert_int_equal(ae_model_input_dim(m), GOLDEN_INPUT_DIM);
    assert_int_equal(ae_model_latent_dim(m), GOLDEN_MIRRORED_LATENT);
    assert_param_is(m, AE_PARAM_LOSS, AE_LOSS_BCE);
    assert_param_is(m, AE_PARAM_SEED, 7);
    /* Parameters are stored exactly. */
    float *params = test_params_of(m);
    assert_memory_equal(params, golden_mirrored_first_params, sizeof golden_mirrored_first_params);
    free(params);
    float *x = golden_input(GOLDEN_ROWS, GOLDEN_INPUT_DIM);
    float y[GOLDEN_ROWS * GOLDEN_INPUT_DIM];
    assert_golden_codes(m, x, GOLDEN_MIRRORED_LATENT, golden_mirrored_codes);
    assert_int_equal(ae_model_reconstruct(m, x, GOLDEN_ROWS, GOLDEN_INPUT_DIM, y, GOLDEN_INPUT_DIM), AE_OK);
    assert_close(y, golden_mirrored_outputs, ARRAY_LEN(y), 1e-5);
    free(x);
    ae_model_free(m);
}

static void test_golden_model_with_optimizer_state_resumes_training(void **state)
{
    (void)state;
    ae_model *m = load_golden("golden-v1.0-optimizer.aemodel", 3, 2);
    assert_param_is(m, AE_PARAM_OPTIMIZER, AE_OPT_ADAMW);
    float *x = golden_input(GOLDEN_ROWS, GOLDEN_INPUT_DIM);
    assert_golden_codes(m, x, GOLDEN_OPTIMIZER_LATENT, golden_optimizer_codes_before);
    /* One more step uses the saved Adam moments and step count. */
    double loss;
    assert_int_equal(ae_model_train_batch(m, x, GOLDEN_ROWS, GOLDEN_INPUT_DIM, &loss), AE_OK);
    assert_true(fabs(loss - golden_optimizer_loss_before_step) <= 1e-6);
    assert_golden_codes(m, x, GOLDEN_OPTIMIZER_LATENT, golden_optimizer_codes_after_step);
    free(x);
    ae_model_free(m);
}

static int report_counts(void **state)
{
    (void)state;
    print_message("[ format   ] %zu malformed inputs tried in total\n", malformed_tried);
    return 0;
}

/* A test run on a fresh fixture. */
#define FIXTURE_TEST(test) cmocka_unit_test_setup_teardown(test, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        FIXTURE_TEST(test_crc_of_saved_file_is_crc32c_of_the_bytes_before_it),
        FIXTURE_TEST(test_memory_round_trip_gives_an_identical_model),
        FIXTURE_TEST(test_round_trip_with_optimizer_state_gives_identical_bytes),
        cmocka_unit_test(test_asymmetric_decoder_round_trips),
        cmocka_unit_test(test_every_setting_survives_a_round_trip),
        cmocka_unit_test(test_training_continues_bit_identically_after_load_with_optimizer_state),
        cmocka_unit_test(test_fresh_model_loaded_without_optimizer_state_trains_like_the_original),
        FIXTURE_TEST(test_generator_state_is_preserved),
        FIXTURE_TEST(test_save_size_equals_bytes_written),
        FIXTURE_TEST(test_too_small_buffer_reports_the_size_needed),
        FIXTURE_TEST(test_save_and_load_reject_bad_arguments),
        FIXTURE_TEST(test_load_rejects_every_proper_prefix),
        FIXTURE_TEST(test_load_rejects_every_single_bit_flip),
        FIXTURE_TEST(test_crafted_file_with_correct_crc_loads_when_unchanged),
        FIXTURE_TEST(test_load_rejects_bad_layer_counts),
        FIXTURE_TEST(test_load_rejects_huge_and_zero_widths),
        FIXTURE_TEST(test_load_rejects_width_products_that_wrap_or_exceed_the_file),
        FIXTURE_TEST(test_load_rejects_mismatched_widths),
        FIXTURE_TEST(test_load_rejects_bad_activations),
        FIXTURE_TEST(test_load_rejects_out_of_range_settings),
        FIXTURE_TEST(test_load_rejects_unknown_duplicate_and_miscounted_settings),
        FIXTURE_TEST(test_missing_setting_loads_with_its_default),
        FIXTURE_TEST(test_load_rejects_parameter_count_and_value_errors),
        FIXTURE_TEST(test_load_rejects_bad_generator_state),
        FIXTURE_TEST(test_load_rejects_bad_optimizer_state),
        FIXTURE_TEST(test_load_rejects_optimizer_step_counters_that_no_state_can_have),
        FIXTURE_TEST(test_load_rejects_section_lengths_beyond_the_file),
        FIXTURE_TEST(test_load_rejects_duplicate_and_missing_sections),
        FIXTURE_TEST(test_unknown_required_section_is_a_version_error),
        FIXTURE_TEST(test_unknown_optional_section_is_skipped),
        FIXTURE_TEST(test_sections_load_in_any_order),
        FIXTURE_TEST(test_newer_major_version_is_refused),
        FIXTURE_TEST(test_newer_minor_version_loads_skipping_unknown_settings),
        FIXTURE_TEST(test_load_rejects_wrong_magic_and_tiny_inputs),
        FIXTURE_TEST(test_load_fails_cleanly_when_any_allocation_fails),
        FIXTURE_TEST(test_load_memory_stays_within_the_model_and_a_constant),
        FIXTURE_TEST(test_threshold_round_trips_in_an_optional_thrs_section),
        FIXTURE_TEST(test_load_rejects_bad_threshold_payloads),
        cmocka_unit_test(test_fitted_scaling_round_trips_in_a_required_scal_section),
        FIXTURE_TEST(test_model_without_a_fitted_scaling_has_no_scal_section),
        cmocka_unit_test(test_load_rejects_bad_scal_sections),
        FIXTURE_TEST(test_encoder_only_model_round_trips_with_an_empty_required_enco_section),
        FIXTURE_TEST(test_load_rejects_bad_enco_sections),
        cmocka_unit_test(test_load_rejects_every_prefix_and_bit_flip_of_scaled_and_encoder_only_files),
        cmocka_unit_test(test_tied_and_variational_models_round_trip_with_empty_marker_sections),
        cmocka_unit_test(test_load_rejects_bad_tied_and_variational_files),
        cmocka_unit_test(test_golden_mirrored_model_loads_with_known_outputs),
        cmocka_unit_test(test_golden_model_with_optimizer_state_resumes_training),
    };
    return cmocka_run_group_tests_name("format", tests, NULL, report_counts);
}
