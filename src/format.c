/* Model files (docs/format.md is the specification): writing byte by byte in
 * little-endian order, reading with every count, width and value checked before
 * anything is allocated, and atomic saving to a path. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FORMAT_MAJOR 1u
#define FORMAT_MINOR 2u
#define HEADER_SIZE 16u
#define SECTION_HEADER_SIZE 16u
#define CRC_SIZE 4u
#define LAYER_RECORD_SIZE 24u
#define SETTING_RECORD_SIZE 12u
#define RNG_SECTION_SIZE 33u
#define OPTM_FIXED_SIZE 14u
#define THRS_SECTION_SIZE 8u
#define FLAG_REQUIRED 1u
#define MAX_PARAM_ID 256 /* setting ids are small; the writer scans 0 .. MAX_PARAM_ID - 1 */

static const unsigned char file_magic[8] = {0x89, 'A', 'E', 'N', 'C', 0x0D, 0x0A, 0x1A};

enum {
    SEC_ARCH, SEC_SETT, SEC_PARM, SEC_RNG, SEC_OPTM, SEC_THRS, SEC_SCAL, SEC_ENCO, SEC_TIED,
    SEC_VARL, SEC_COUNT
};
static const char section_tags[SEC_COUNT][5] = {"ARCH", "SETT", "PARM", "RNG ", "OPTM",
                                                "THRS", "SCAL", "ENCO", "TIED", "VARL"};

/* Optional sections carry what an older reader may drop without changing the results;
 * the others are flagged required, so an older reader refuses a file it would misread. */
static bool section_required(int section) { return section != SEC_OPTM && section != SEC_THRS; }
/* Sections every file has; the others appear when the model has what they hold. */
static bool section_always_present(int section) { return section <= SEC_RNG; }

/* ---- little-endian encoding ------------------------------------------------ */

/* With bytes == NULL the writer only counts, so sizing and writing share one path. */
typedef struct writer {
    unsigned char *bytes;
    size_t pos;
} writer;

static void put_uint(writer *w, uint64_t value, unsigned n_bytes)
{
    if (w->bytes)
        for (unsigned i = 0; i < n_bytes; i++)
            w->bytes[w->pos + i] = (unsigned char)(value >> (8 * i));
    w->pos += n_bytes;
}

static void put_u8(writer *w, unsigned value) { put_uint(w, value, 1); }
static void put_u16(writer *w, unsigned value) { put_uint(w, value, 2); }
static void put_u32(writer *w, uint32_t value) { put_uint(w, value, 4); }
static void put_u64(writer *w, uint64_t value) { put_uint(w, value, 8); }

static void put_f32(writer *w, float value)
{
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    put_u32(w, bits);
}

static void put_f64(writer *w, double value)
{
    uint64_t bits;
    memcpy(&bits, &value, sizeof bits);
    put_u64(w, bits);
}

static void put_tag(writer *w, const char *tag)
{
    if (w->bytes)
        memcpy(w->bytes + w->pos, tag, 4);
    w->pos += 4;
}

static void put_floats(writer *w, const float *values, size_t n)
{
    if (!w->bytes) {
        w->pos += 4 * n;
        return;
    }
    for (size_t i = 0; i < n; i++)
        put_f32(w, values[i]);
}

static uint64_t get_uint(const unsigned char *p, unsigned n_bytes)
{
    uint64_t value = 0;
    for (unsigned i = 0; i < n_bytes; i++)
        value |= (uint64_t)p[i] << (8 * i);
    return value;
}

static uint32_t get_u16(const unsigned char *p) { return (uint32_t)get_uint(p, 2); }
static uint32_t get_u32(const unsigned char *p) { return (uint32_t)get_uint(p, 4); }
static uint64_t get_u64(const unsigned char *p) { return get_uint(p, 8); }

static float get_f32(const unsigned char *p)
{
    uint32_t bits = get_u32(p);
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

static double get_f64(const unsigned char *p)
{
    uint64_t bits = get_u64(p);
    double value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

/* ---- writing --------------------------------------------------------------- */

static size_t setting_count(void)
{
    size_t count = 0;
    for (int id = 0; id < MAX_PARAM_ID; id++)
        count += ae_param_slot((ae_param)id) >= 0;
    return count;
}

static bool has_first_moment(const ae_model *m) { return m->optim.first_moment != NULL; }
static bool has_second_moment(const ae_model *m) { return m->optim.second_moment != NULL; }

/* Payload lengths of the sections, overflow-checked; false if the model cannot be saved
 * in this address space. */
typedef struct section_sizes {
    size_t arch, sett, parm, rng, optm, thrs, scal;
    size_t total;
} section_sizes;

static bool add_size(size_t *sum, size_t term)
{
    if (*sum > SIZE_MAX - term)
        return false;
    *sum += term;
    return true;
}

static bool plan_sizes(const ae_model *m, unsigned flags, section_sizes *s)
{
    size_t param_bytes;
    if (!ae_mul_size(m->n_params, 4, &param_bytes))
        return false;
    s->arch = 8 + LAYER_RECORD_SIZE * m->n_layers; /* n_layers <= AE_MAX_LAYERS */
    s->sett = 4 + SETTING_RECORD_SIZE * setting_count();
    s->parm = 8;
    s->rng = RNG_SECTION_SIZE;
    s->optm = OPTM_FIXED_SIZE;
    s->thrs = THRS_SECTION_SIZE;
    s->scal = 8 + 8 * ae_input_dim(m); /* input_dim <= INT_MAX */
    bool ok = add_size(&s->parm, param_bytes);
    if (has_first_moment(m))
        ok = ok && add_size(&s->optm, param_bytes);
    if (has_second_moment(m))
        ok = ok && add_size(&s->optm, param_bytes);
    s->total = HEADER_SIZE + CRC_SIZE;
    ok = ok && add_size(&s->total, SECTION_HEADER_SIZE + s->arch) &&
         add_size(&s->total, SECTION_HEADER_SIZE + s->sett) &&
         add_size(&s->total, SECTION_HEADER_SIZE + s->rng) &&
         add_size(&s->total, SECTION_HEADER_SIZE) && add_size(&s->total, s->parm);
    if (flags & AE_SAVE_OPTIMIZER_STATE)
        ok = ok && add_size(&s->total, SECTION_HEADER_SIZE) && add_size(&s->total, s->optm);
    if (m->has_threshold)
        ok = ok && add_size(&s->total, SECTION_HEADER_SIZE + s->thrs);
    if (m->scaling)
        ok = ok && add_size(&s->total, SECTION_HEADER_SIZE + s->scal);
    if (!ae_has_decoder(m))
        ok = ok && add_size(&s->total, SECTION_HEADER_SIZE);
    if (m->architecture & AE_ARCH_TIED_WEIGHTS)
        ok = ok && add_size(&s->total, SECTION_HEADER_SIZE);
    if (ae_is_variational(m))
        ok = ok && add_size(&s->total, SECTION_HEADER_SIZE);
    return ok;
}

static void put_section_header(writer *w, int section, size_t length)
{
    put_tag(w, section_tags[section]);
    put_u32(w, section_required(section) ? FLAG_REQUIRED : 0);
    put_u64(w, length);
}

/* Writes exactly s->total bytes (w->bytes must hold them). */
static void serialise(const ae_model *m, unsigned flags, const section_sizes *s, writer *w)
{
    for (size_t i = 0; i < sizeof file_magic; i++)
        put_u8(w, file_magic[i]);
    put_u16(w, FORMAT_MAJOR);
    put_u16(w, FORMAT_MINOR);
    put_u32(w, 4 + ((flags & AE_SAVE_OPTIMIZER_STATE) ? 1 : 0) + (m->has_threshold ? 1 : 0) +
                   (m->scaling ? 1 : 0) + (ae_has_decoder(m) ? 0 : 1) +
                   ((m->architecture & AE_ARCH_TIED_WEIGHTS) ? 1 : 0) + (ae_is_variational(m) ? 1 : 0));

    put_section_header(w, SEC_ARCH, s->arch);
    put_u32(w, (uint32_t)m->n_layers);
    put_u32(w, (uint32_t)m->n_encoder_layers);
    for (size_t l = 0; l < m->n_layers; l++) {
        put_u64(w, m->layers[l].n_in);
        put_u64(w, m->layers[l].n_out);
        put_u32(w, (uint32_t)m->layers[l].activation);
        put_u32(w, 0);
    }

    put_section_header(w, SEC_SETT, s->sett);
    put_u32(w, (uint32_t)setting_count());
    for (int id = 0; id < MAX_PARAM_ID; id++) {
        int slot = ae_param_slot((ae_param)id);
        if (slot < 0)
            continue;
        put_u32(w, (uint32_t)id);
        put_f64(w, m->param_values[slot]);
    }

    put_section_header(w, SEC_PARM, s->parm);
    put_u64(w, m->n_params);
    put_floats(w, m->params, m->n_params);

    put_section_header(w, SEC_RNG, s->rng);
    for (int i = 0; i < 4; i++)
        put_u64(w, m->rng.s[i]);
    put_u8(w, m->fresh_weights ? 1 : 0);

    if (flags & AE_SAVE_OPTIMIZER_STATE) {
        put_section_header(w, SEC_OPTM, s->optm);
        put_u32(w, (uint32_t)m->optim.kind);
        put_u64(w, m->optim.step);
        put_u8(w, has_first_moment(m));
        put_u8(w, has_second_moment(m));
        if (has_first_moment(m))
            put_floats(w, m->optim.first_moment, m->n_params);
        if (has_second_moment(m))
            put_floats(w, m->optim.second_moment, m->n_params);
    }

    if (m->has_threshold) {
        put_section_header(w, SEC_THRS, s->thrs);
        put_f64(w, m->threshold);
    }

    if (m->scaling) {
        put_section_header(w, SEC_SCAL, s->scal);
        put_u64(w, ae_input_dim(m));
        put_floats(w, m->scaling, 2 * ae_input_dim(m));
    }

    if (!ae_has_decoder(m))
        put_section_header(w, SEC_ENCO, 0);
    if (m->architecture & AE_ARCH_TIED_WEIGHTS)
        put_section_header(w, SEC_TIED, 0);
    if (ae_is_variational(m))
        put_section_header(w, SEC_VARL, 0);

    uint32_t crc = w->bytes ? ae_crc32c(0, w->bytes, w->pos) : 0;
    put_u32(w, crc);
}

static int check_save_args(const ae_model *m, unsigned flags, section_sizes *sizes)
{
    AE_CHECK(m != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "model is NULL");
    AE_CHECK((flags & ~(unsigned)AE_SAVE_OPTIMIZER_STATE) == 0, NULL, AE_ERR_INVALID_ARGUMENT,
             "unknown save flags 0x%x", flags);
    AE_CHECK(plan_sizes(m, flags, sizes), NULL, AE_ERR_SIZE_OVERFLOW,
             "the model is too large to serialise in this address space");
    return AE_OK;
}

int ae_model_save_size(const ae_model *m, unsigned flags, size_t *size)
{
    AE_CHECK(size != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "size is NULL");
    *size = 0;
    section_sizes sizes;
    AE_FORWARD(check_save_args(m, flags, &sizes));
    *size = sizes.total;
    return AE_OK;
}

int ae_model_save_to_memory(const ae_model *m, unsigned flags, void *buffer, size_t capacity,
                            size_t *written)
{
    AE_CHECK(written != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "written is NULL");
    *written = 0;
    section_sizes sizes;
    AE_FORWARD(check_save_args(m, flags, &sizes));
    if (capacity < sizes.total) {
        *written = sizes.total;
        return ae_fail(NULL, AE_ERR_BUFFER_TOO_SMALL,
                       "the buffer holds %zu bytes, the model needs %zu", capacity, sizes.total);
    }
    AE_CHECK(buffer != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "buffer is NULL");
    writer w = {buffer, 0};
    serialise(m, flags, &sizes, &w);
    *written = w.pos;
    return AE_OK;
}

/* ---- reading --------------------------------------------------------------- */

typedef struct section_ref {
    size_t header;  /* offset of the section header */
    size_t payload; /* offset of the payload */
    size_t length;
    bool present;
} section_ref;

/* What was read and checked, before the model exists. */
typedef struct parsed_file {
    unsigned minor;
    section_ref sections[SEC_COUNT];
    double values[AE_PARAM_SLOT_COUNT];
    ae_settings settings;
    uint32_t n_layers, n_encoder_layers;
    uint64_t n_params, input_dim;
} parsed_file;

/* A tag for messages: printable bytes as they are, others as \xNN. */
static const char *tag_text(const unsigned char *tag, char out[20])
{
    size_t k = 0;
    for (int i = 0; i < 4; i++) {
        if (tag[i] >= 0x20 && tag[i] < 0x7F && tag[i] != '\\')
            out[k++] = (char)tag[i];
        else
            k += (size_t)snprintf(out + k, 5, "\\x%02X", tag[i]);
    }
    out[k] = '\0';
    return out;
}

static int section_kind(const unsigned char *tag)
{
    for (int s = 0; s < SEC_COUNT; s++)
        if (memcmp(tag, section_tags[s], 4) == 0)
            return s;
    return -1;
}

#define FORMAT_ERROR(...) ae_fail(NULL, AE_ERR_FORMAT, __VA_ARGS__)

/* Steps 1 to 4 of docs/format.md: magic, version, section frames, checksum. */
static int check_frame(const unsigned char *d, size_t n, parsed_file *pf)
{
    if (n < sizeof file_magic)
        return FORMAT_ERROR("truncated: %zu bytes, fewer than the 8-byte magic of a model file", n);
    if (memcmp(d, file_magic, sizeof file_magic) != 0)
        return FORMAT_ERROR("not a libautoenc model file: wrong magic at byte 0");
    if (n < HEADER_SIZE)
        return FORMAT_ERROR("truncated: the header needs %u bytes, the data has %zu", HEADER_SIZE, n);
    unsigned major = get_u16(d + 8);
    pf->minor = get_u16(d + 10);
    if (major > FORMAT_MAJOR)
        return ae_fail(NULL, AE_ERR_VERSION,
                       "format version %u.%u (byte 8) needs a newer library; this one reads 1.x",
                       major, pf->minor);
    if (major == 0)
        return FORMAT_ERROR("format major version 0 at byte 8 does not exist");
    if (n < HEADER_SIZE + CRC_SIZE)
        return FORMAT_ERROR("truncated: %zu bytes, no room for the checksum after the header", n);

    const size_t end = n - CRC_SIZE; /* sections must end exactly here */
    const uint32_t count = get_u32(d + 12);
    size_t pos = HEADER_SIZE;
    for (uint32_t i = 0; i < count; i++) {
        if (end - pos < SECTION_HEADER_SIZE)
            return FORMAT_ERROR("truncated: section %u of %u at byte %zu needs a 16-byte header, "
                                "%zu bytes remain before the checksum",
                                i + 1, count, pos, end - pos);
        uint64_t length = get_u64(d + pos + 8);
        if (length > end - pos - SECTION_HEADER_SIZE) {
            char tag[20];
            return FORMAT_ERROR("truncated: section '%s' at byte %zu claims %llu bytes, "
                                "%zu remain before the checksum",
                                tag_text(d + pos, tag), pos, (unsigned long long)length,
                                end - pos - SECTION_HEADER_SIZE);
        }
        pos += SECTION_HEADER_SIZE + (size_t)length;
    }
    if (pos != end)
        return FORMAT_ERROR("%zu unexpected bytes at byte %zu after the last of %u sections",
                            end - pos, pos, count);

    uint32_t stored = get_u32(d + end), computed = ae_crc32c(0, d, end);
    if (stored != computed)
        return ae_fail(NULL, AE_ERR_CHECKSUM,
                       "checksum mismatch: 0x%08X stored at byte %zu, 0x%08X computed over the "
                       "data (corrupted file)",
                       (unsigned)stored, end, (unsigned)computed);

    /* Known sections by kind; unknown ones skipped or refused. */
    pos = HEADER_SIZE;
    for (uint32_t i = 0; i < count; i++) {
        char tag[20];
        size_t length = (size_t)get_u64(d + pos + 8);
        int kind = section_kind(d + pos);
        if (kind < 0) {
            if (get_u32(d + pos + 4) & FLAG_REQUIRED)
                return ae_fail(NULL, AE_ERR_VERSION,
                               "section '%s' at byte %zu is required but unknown to this library "
                               "(file format %u.%u): a newer library is needed",
                               tag_text(d + pos, tag), pos, (unsigned)get_u16(d + 8), pf->minor);
        } else {
            section_ref *ref = &pf->sections[kind];
            if (ref->present)
                return FORMAT_ERROR("second '%s' section at byte %zu (the first is at byte %zu)",
                                    tag_text(d + pos, tag), pos, ref->header);
            ref->present = true;
            ref->header = pos;
            ref->payload = pos + SECTION_HEADER_SIZE;
            ref->length = length;
        }
        pos += SECTION_HEADER_SIZE + length;
    }
    for (int s = 0; s < SEC_COUNT; s++)
        if (section_always_present(s) && !pf->sections[s].present)
            return FORMAT_ERROR("the required section '%s' is missing", section_tags[s]);
    return AE_OK;
}

static int check_length(const section_ref *ref, int kind, uint64_t expected)
{
    if (ref->length != expected)
        return FORMAT_ERROR("section '%s' at byte %zu is %zu bytes long, expected %llu",
                            section_tags[kind], ref->header, ref->length,
                            (unsigned long long)expected);
    return AE_OK;
}

static int check_min_length(const section_ref *ref, int kind, size_t minimum)
{
    if (ref->length < minimum)
        return FORMAT_ERROR("section '%s' at byte %zu is %zu bytes long, shorter than its "
                            "%zu-byte fixed part",
                            section_tags[kind], ref->header, ref->length, minimum);
    return AE_OK;
}

static int read_settings(const unsigned char *d, parsed_file *pf)
{
    const section_ref *ref = &pf->sections[SEC_SETT];
    AE_FORWARD(check_min_length(ref, SEC_SETT, 4));
    uint32_t count = get_u32(d + ref->payload);
    AE_FORWARD(check_length(ref, SEC_SETT, 4 + (uint64_t)SETTING_RECORD_SIZE * count));
    ae_param_defaults(pf->values);
    bool seen[AE_PARAM_SLOT_COUNT] = {false};
    for (uint32_t i = 0; i < count; i++) {
        size_t at = ref->payload + 4 + (size_t)SETTING_RECORD_SIZE * i;
        uint32_t id = get_u32(d + at);
        double value = get_f64(d + at + 4);
        int slot = id <= INT_MAX ? ae_param_slot((ae_param)id) : -1;
        if (slot < 0) {
            if (pf->minor > FORMAT_MINOR)
                continue; /* a setting of a newer minor version: skipped by design */
            return FORMAT_ERROR("unknown setting id %u at byte %zu", (unsigned)id, at);
        }
        if (seen[slot])
            return FORMAT_ERROR("setting %s given twice (again at byte %zu)",
                                ae_param_name((ae_param)id), at);
        seen[slot] = true;
        if (ae_param_check(NULL, (ae_param)id, value) != AE_OK) {
            char why[AE_MESSAGE_SIZE];
            snprintf(why, sizeof why, "%s", ae_last_error());
            return FORMAT_ERROR("invalid setting at byte %zu: %s", at + 4, why);
        }
        pf->values[slot] = value;
    }
    ae_settings_from_values(&pf->settings, pf->values);
    return AE_OK;
}

static int role_activation(const ae_settings *s, uint32_t layer, uint32_t n_layers,
                           uint32_t n_encoder_layers)
{
    if (layer == n_encoder_layers - 1)
        return s->latent_activation;
    if (layer == n_layers - 1)
        return s->output_activation;
    return s->hidden_activation;
}

static int read_architecture(const unsigned char *d, parsed_file *pf)
{
    const section_ref *ref = &pf->sections[SEC_ARCH];
    AE_FORWARD(check_min_length(ref, SEC_ARCH, 8));
    const size_t p = ref->payload;
    uint32_t n_layers = get_u32(d + p), n_enc = get_u32(d + p + 4);
    const bool encoder_only = pf->sections[SEC_ENCO].present;
    const bool tied = pf->sections[SEC_TIED].present, variational = pf->sections[SEC_VARL].present;
    if (tied && (variational || encoder_only))
        return FORMAT_ERROR("section 'TIED' at byte %zu combined with '%s': tied weights need a "
                            "plain mirrored decoder",
                            pf->sections[SEC_TIED].header, variational ? "VARL" : "ENCO");
    if (variational && pf->settings.latent_activation != AE_ACT_LINEAR)
        return FORMAT_ERROR("section 'VARL': a variational latent layer is linear, but the "
                            "settings give it %s",
                            ae_activation_name((ae_activation)pf->settings.latent_activation));
    const uint32_t min_layers = encoder_only ? 1 : 2;
    if (n_layers < min_layers || n_layers > AE_MAX_LAYERS)
        return FORMAT_ERROR("%u layers at byte %zu; a model has %u to %u", (unsigned)n_layers, p,
                            (unsigned)min_layers, (unsigned)AE_MAX_LAYERS);
    if (encoder_only && n_enc != n_layers)
        return FORMAT_ERROR("%u encoder layers at byte %zu; an encoder-only model (section "
                            "'ENCO') has all its %u layers in the encoder",
                            (unsigned)n_enc, p + 4, (unsigned)n_layers);
    if (!encoder_only && (n_enc < 1 || n_enc >= n_layers))
        return FORMAT_ERROR("%u encoder layers at byte %zu; with %u layers it must be 1 to %u",
                            (unsigned)n_enc, p + 4, (unsigned)n_layers, (unsigned)n_layers - 1);
    AE_FORWARD(check_length(ref, SEC_ARCH, 8 + (uint64_t)LAYER_RECORD_SIZE * n_layers));

    uint64_t n_params = 0, previous_out = 0;
    for (uint32_t l = 0; l < n_layers; l++) {
        size_t at = p + 8 + (size_t)LAYER_RECORD_SIZE * l;
        uint64_t n_in = get_u64(d + at), n_out = get_u64(d + at + 8);
        uint32_t activation = get_u32(d + at + 16), reserved = get_u32(d + at + 20);
        if (n_in < 1 || n_in > AE_MAX_LAYER_WIDTH || n_in > INT_MAX)
            return FORMAT_ERROR("layer %u input width %llu at byte %zu is outside 1 .. 2^24",
                                (unsigned)l, (unsigned long long)n_in, at);
        if (n_out < 1 || n_out > AE_MAX_LAYER_WIDTH || n_out > INT_MAX)
            return FORMAT_ERROR("layer %u output width %llu at byte %zu is outside 1 .. 2^24",
                                (unsigned)l, (unsigned long long)n_out, at + 8);
        /* After a variational latent layer (mean and log-variance) comes a code half as wide. */
        uint64_t expected_in = variational && l == n_enc ? previous_out / 2 : previous_out;
        if (variational && l + 1 == n_enc && n_out % 2 != 0)
            return FORMAT_ERROR("the variational latent layer %u has an odd output width %llu at "
                                "byte %zu; it holds a mean and a log-variance per unit",
                                (unsigned)l, (unsigned long long)n_out, at + 8);
        if (l > 0 && n_in != expected_in)
            return FORMAT_ERROR("layer %u input width %llu at byte %zu differs from layer %u's "
                                "output width %llu",
                                (unsigned)l, (unsigned long long)n_in, at, (unsigned)l - 1,
                                (unsigned long long)previous_out);
        if (tied && l >= n_enc) {
            size_t mirror_at = p + 8 + (size_t)LAYER_RECORD_SIZE * (n_layers - 1 - l);
            if (n_layers != 2 * n_enc || get_u64(d + mirror_at) != n_out ||
                get_u64(d + mirror_at + 8) != n_in)
                return FORMAT_ERROR("layer %u at byte %zu is not the mirror of layer %u, as "
                                    "tied weights ('TIED') need",
                                    (unsigned)l, at, (unsigned)(n_layers - 1 - l));
        }
        if (activation > AE_ACT_SOFTPLUS)
            return FORMAT_ERROR("layer %u has unknown activation %u at byte %zu", (unsigned)l,
                                (unsigned)activation, at + 16);
        int expected = role_activation(&pf->settings, l, n_layers, n_enc);
        if ((int)activation != expected)
            return FORMAT_ERROR("layer %u activation %s at byte %zu contradicts the settings (%s)",
                                (unsigned)l, ae_activation_name((ae_activation)activation),
                                at + 16, ae_activation_name((ae_activation)expected));
        if (reserved != 0)
            return FORMAT_ERROR("reserved field of layer %u at byte %zu is %u, not 0", (unsigned)l,
                                at + 20, (unsigned)reserved);
        /* Each term is below 2^49 and there are at most 2^12 layers: no overflow. A tied
         * decoder layer has only its bias. */
        n_params += (tied && l >= n_enc ? 0 : n_in * n_out) + n_out;
        previous_out = n_out;
    }
    uint64_t input_dim = get_u64(d + p + 8);
    if (!encoder_only && previous_out != input_dim)
        return FORMAT_ERROR("the output width %llu of the last layer differs from the input "
                            "width %llu",
                            (unsigned long long)previous_out, (unsigned long long)input_dim);
    pf->n_layers = n_layers;
    pf->n_encoder_layers = n_enc;
    pf->input_dim = input_dim;
    pf->n_params = n_params;
    return AE_OK;
}

static int check_finite_floats(const unsigned char *d, size_t at, uint64_t n, const char *what,
                               bool non_negative)
{
    for (uint64_t i = 0; i < n; i++) {
        float value = get_f32(d + at + 4 * i);
        if (!isfinite(value) || (non_negative && value < 0.0f))
            return FORMAT_ERROR("%s %llu at byte %zu is %g; it must be finite%s", what,
                                (unsigned long long)i, at + 4 * (size_t)i, (double)value,
                                non_negative ? " and not negative" : "");
    }
    return AE_OK;
}

static int read_parameters(const unsigned char *d, const parsed_file *pf)
{
    const section_ref *ref = &pf->sections[SEC_PARM];
    AE_FORWARD(check_min_length(ref, SEC_PARM, 8));
    uint64_t n_params = get_u64(d + ref->payload);
    if (n_params != pf->n_params)
        return FORMAT_ERROR("section 'PARM' at byte %zu holds %llu parameters, the layers need %llu",
                            ref->header, (unsigned long long)n_params,
                            (unsigned long long)pf->n_params);
    /* The count must fit in the section's bytes before anything is sized by it. */
    if (n_params > (ref->length - 8) / 4)
        return FORMAT_ERROR("section 'PARM' at byte %zu is %zu bytes long, too short for %llu "
                            "parameters",
                            ref->header, ref->length, (unsigned long long)n_params);
    AE_FORWARD(check_length(ref, SEC_PARM, 8 + 4 * n_params));
    return check_finite_floats(d, ref->payload + 8, n_params, "parameter", false);
}

static int read_generator(const unsigned char *d, const parsed_file *pf)
{
    const section_ref *ref = &pf->sections[SEC_RNG];
    AE_FORWARD(check_length(ref, SEC_RNG, RNG_SECTION_SIZE));
    uint64_t any = 0;
    for (int i = 0; i < 4; i++)
        any |= get_u64(d + ref->payload + 8 * (size_t)i);
    if (any == 0)
        return FORMAT_ERROR("the generator state at byte %zu is all zero", ref->payload);
    unsigned fresh = d[ref->payload + 32];
    if (fresh > 1)
        return FORMAT_ERROR("fresh_weights at byte %zu is %u, not 0 or 1", ref->payload + 32, fresh);
    return AE_OK;
}

static int read_optimizer(const unsigned char *d, const parsed_file *pf)
{
    const section_ref *ref = &pf->sections[SEC_OPTM];
    if (!ref->present)
        return AE_OK;
    AE_FORWARD(check_min_length(ref, SEC_OPTM, OPTM_FIXED_SIZE));
    const size_t p = ref->payload;
    uint32_t kind = get_u32(d + p);
    unsigned has_first = d[p + 12], has_second = d[p + 13];
    if (kind > AE_OPT_ADAMW)
        return FORMAT_ERROR("unknown optimizer %u at byte %zu", (unsigned)kind, p);
    if (has_first > 1 || has_second > 1)
        return FORMAT_ERROR("optimizer buffer flags at byte %zu are %u and %u, not 0 or 1",
                            p + 12, has_first, has_second);
    if (has_second && kind == AE_OPT_SGD)
        return FORMAT_ERROR("an SGD optimizer state at byte %zu has a second moment", p);
    if ((has_first || has_second) && (int)kind != pf->settings.optimizer)
        return FORMAT_ERROR("the optimizer state at byte %zu belongs to optimizer %u, the "
                            "settings say %d",
                            p, (unsigned)kind, pf->settings.optimizer);
    /* n_params * 4 fits in the PARM section, so this cannot overflow. */
    AE_FORWARD(check_length(ref, SEC_OPTM,
                            OPTM_FIXED_SIZE + 4 * pf->n_params * (has_first + has_second)));
    size_t at = p + OPTM_FIXED_SIZE;
    if (has_first) {
        AE_FORWARD(check_finite_floats(d, at, pf->n_params, "first-moment value", false));
        at += 4 * (size_t)pf->n_params;
    }
    if (has_second)
        AE_FORWARD(check_finite_floats(d, at, pf->n_params, "second-moment value", true));
    return AE_OK;
}

static int read_threshold(const unsigned char *d, const parsed_file *pf)
{
    const section_ref *ref = &pf->sections[SEC_THRS];
    if (!ref->present)
        return AE_OK;
    AE_FORWARD(check_length(ref, SEC_THRS, THRS_SECTION_SIZE));
    double threshold = get_f64(d + ref->payload);
    if (!isfinite(threshold) || threshold < 0.0)
        return FORMAT_ERROR("the anomaly threshold at byte %zu is %g; it must be finite and not "
                            "negative",
                            ref->payload, threshold);
    return AE_OK;
}

static int read_scaling(const unsigned char *d, const parsed_file *pf)
{
    const section_ref *ref = &pf->sections[SEC_SCAL];
    if (!ref->present)
        return AE_OK;
    AE_FORWARD(check_min_length(ref, SEC_SCAL, 8));
    uint64_t n = get_u64(d + ref->payload);
    if (n != pf->input_dim)
        return FORMAT_ERROR("section 'SCAL' at byte %zu scales %llu features; the model has %llu",
                            ref->header, (unsigned long long)n, (unsigned long long)pf->input_dim);
    AE_FORWARD(check_length(ref, SEC_SCAL, 8 + 8 * n));
    if (pf->settings.scaling == AE_SCALING_NONE)
        return FORMAT_ERROR("section 'SCAL' at byte %zu holds a scaling, but the scaling setting "
                            "is none",
                            ref->header);
    const size_t at = ref->payload + 8;
    AE_FORWARD(check_finite_floats(d, at, n, "scaling offset", false));
    for (size_t j = 0; j < n; j++) {
        float scale = get_f32(d + at + 4 * (n + j));
        if (!(isfinite(scale) && scale > 0.0f))
            return FORMAT_ERROR("scale %zu at byte %zu is %g; scales must be finite and positive",
                                j, at + 4 * (n + j), (double)scale);
    }
    return AE_OK;
}

/* ENCO, TIED and VARL are markers: present or not, with an empty payload. */
static int read_markers(const parsed_file *pf)
{
    static const int markers[] = {SEC_ENCO, SEC_TIED, SEC_VARL};
    for (size_t i = 0; i < sizeof markers / sizeof markers[0]; i++) {
        const section_ref *ref = &pf->sections[markers[i]];
        if (ref->present)
            AE_FORWARD(check_length(ref, markers[i], 0));
    }
    return AE_OK;
}

static void get_floats(const unsigned char *d, size_t at, float *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = get_f32(d + at + 4 * i);
}

/* Build the model from a fully checked file. Only allocation can fail here. */
static int build_model(const unsigned char *d, const parsed_file *pf, ae_model **out)
{
    const size_t n_layers = pf->n_layers, n_enc = pf->n_encoder_layers;
    const size_t arch = pf->sections[SEC_ARCH].payload + 8;
    size_t *widths = ae_calloc(n_layers + 2, sizeof *widths); /* encoder ... | latent ... */
    AE_CHECK(widths != NULL, NULL, AE_ERR_OUT_OF_MEMORY, "out of memory loading a model");
    for (size_t l = 0; l < n_enc; l++)
        widths[l] = (size_t)get_u64(d + arch + LAYER_RECORD_SIZE * l);
    widths[n_enc] = (size_t)get_u64(d + arch + LAYER_RECORD_SIZE * (n_enc - 1) + 8);
    size_t *decoder = widths + n_enc + 1;
    for (size_t l = n_enc; l < n_layers; l++)
        decoder[l - n_enc] = (size_t)get_u64(d + arch + LAYER_RECORD_SIZE * l);
    decoder[n_layers - n_enc] = (size_t)get_u64(d + arch + LAYER_RECORD_SIZE * (n_layers - 1) + 8);

    ae_model *m = NULL;
    const unsigned architecture = (pf->sections[SEC_TIED].present ? AE_ARCH_TIED_WEIGHTS : 0u) |
                                  (pf->sections[SEC_VARL].present ? AE_ARCH_VARIATIONAL : 0u);
    if (architecture & AE_ARCH_VARIATIONAL)
        widths[n_enc] /= 2; /* the code width; the latent layer doubles it */
    int status = n_enc == n_layers
                     ? ae_model_create_encoder_only(&m, widths, n_enc + 1, architecture)
                     : ae_model_create_ex(&m, widths, n_enc + 1, decoder, n_layers - n_enc + 1,
                                          architecture);
    ae_free(widths);
    if (status != AE_OK)
        return status;
    const section_ref *scal = &pf->sections[SEC_SCAL];
    if (scal->present) {
        m->scaling = ae_alloc_floats(2 * (size_t)pf->input_dim);
        if (!m->scaling) {
            ae_model_free(m);
            return ae_fail(NULL, AE_ERR_OUT_OF_MEMORY, "out of memory loading the scaling");
        }
        get_floats(d, scal->payload + 8, m->scaling, 2 * (size_t)pf->input_dim);
    }

    memcpy(m->param_values, pf->values, sizeof m->param_values);
    m->settings = pf->settings;
    ae_model_apply_activations(m);
    get_floats(d, pf->sections[SEC_PARM].payload + 8, m->params, m->n_params);
    const size_t rng = pf->sections[SEC_RNG].payload;
    for (size_t i = 0; i < 4; i++)
        m->rng.s[i] = get_u64(d + rng + 8 * i);
    m->fresh_weights = d[rng + 32] != 0;
    if (pf->sections[SEC_THRS].present) {
        m->threshold = get_f64(d + pf->sections[SEC_THRS].payload);
        m->has_threshold = true;
    }

    const section_ref *optm = &pf->sections[SEC_OPTM];
    if (optm->present) {
        const size_t p = optm->payload;
        ae_optimizer_state_release(&m->optim);
        m->optim.kind = (int)get_u32(d + p);
        m->optim.step = get_u64(d + p + 4);
        size_t at = p + OPTM_FIXED_SIZE;
        if (d[p + 12]) {
            m->optim.first_moment = ae_alloc_floats(m->n_params);
            if (!m->optim.first_moment)
                goto out_of_memory;
            get_floats(d, at, m->optim.first_moment, m->n_params);
            at += 4 * m->n_params;
        }
        if (d[p + 13]) {
            m->optim.second_moment = ae_alloc_floats(m->n_params);
            if (!m->optim.second_moment)
                goto out_of_memory;
            get_floats(d, at, m->optim.second_moment, m->n_params);
        }
    }
    *out = m;
    return AE_OK;

out_of_memory:
    ae_model_free(m);
    return ae_fail(NULL, AE_ERR_OUT_OF_MEMORY, "out of memory loading the optimizer state");
}

static int load_bytes(ae_model **out, const unsigned char *d, size_t n)
{
    parsed_file pf;
    memset(&pf, 0, sizeof pf);
    AE_FORWARD(check_frame(d, n, &pf));
    /* Settings first: the layers' activations are checked against them. */
    AE_FORWARD(read_settings(d, &pf));
    AE_FORWARD(read_markers(&pf));
    AE_FORWARD(read_architecture(d, &pf));
    AE_FORWARD(read_parameters(d, &pf));
    AE_FORWARD(read_generator(d, &pf));
    AE_FORWARD(read_optimizer(d, &pf));
    AE_FORWARD(read_threshold(d, &pf));
    AE_FORWARD(read_scaling(d, &pf));
    return build_model(d, &pf, out);
}

int ae_model_load_from_memory(ae_model **out, const void *data, size_t size)
{
    AE_CHECK(out != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "out is NULL");
    *out = NULL;
    AE_CHECK(data != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "data is NULL");
    return load_bytes(out, data, size);
}

/* ---- files ----------------------------------------------------------------- */

static int io_error(const char *what, const char *path, int error_number)
{
    char reason[128];
    if (strerror_r(error_number, reason, sizeof reason) != 0)
        snprintf(reason, sizeof reason, "error %d", error_number);
    return ae_fail(NULL, AE_ERR_IO, "%s %s: %s", what, path, reason);
}

int ae_model_load(ae_model **out, const char *path)
{
    AE_CHECK(out != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "out is NULL");
    *out = NULL;
    AE_CHECK(path != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "path is NULL");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return io_error("cannot open", path, errno);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int error_number = errno;
        close(fd);
        return io_error("cannot inspect", path, error_number);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return ae_fail(NULL, AE_ERR_IO, "%s is not a regular file", path);
    }
    if ((uintmax_t)st.st_size > SIZE_MAX) {
        close(fd);
        return ae_fail(NULL, AE_ERR_FORMAT, "%s is too large to be a model file here", path);
    }
    size_t size = (size_t)st.st_size;
    /* The file is read whole: loading holds at most the file plus the model. */
    unsigned char *bytes = ae_alloc(size ? size : 1);
    if (!bytes) {
        close(fd);
        return ae_fail(NULL, AE_ERR_OUT_OF_MEMORY, "out of memory reading %zu bytes of %s", size,
                       path);
    }
    size_t done = 0;
    while (done < size) {
        ssize_t got = read(fd, bytes + done, size - done);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            int error_number = got < 0 ? errno : 0;
            close(fd);
            ae_free(bytes);
            if (got == 0)
                return ae_fail(NULL, AE_ERR_IO, "%s shrank while being read", path);
            return io_error("cannot read", path, error_number);
        }
        done += (size_t)got;
    }
    close(fd);
    int status = load_bytes(out, bytes, size);
    ae_free(bytes);
    if (status != AE_OK && status != AE_ERR_OUT_OF_MEMORY) {
        char why[AE_MESSAGE_SIZE];
        snprintf(why, sizeof why, "%s", ae_last_error());
        ae_fail(NULL, status, "%s: %s", path, why);
    }
    return status;
}

/* A name for the temporary file: "<path>.tmp." and six characters. */
static void temporary_name(char *tmp, const char *path, size_t path_length)
{
    static atomic_uint counter;
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    struct timespec now;
    timespec_get(&now, TIME_UTC);
    uint64_t mix = (uint64_t)getpid() * 0x9E3779B97F4A7C15ull ^ (uint64_t)now.tv_nsec ^
                   ((uint64_t)now.tv_sec << 30) ^ (uint64_t)(uintptr_t)tmp ^
                   ((uint64_t)atomic_fetch_add(&counter, 1) << 40);
    ae_rng rng;
    ae_rng_seed(&rng, mix);
    memcpy(tmp, path, path_length);
    memcpy(tmp + path_length, ".tmp.", 5);
    for (int i = 0; i < 6; i++)
        tmp[path_length + 5 + i] = alphabet[ae_rng_below(&rng, sizeof alphabet - 1)];
    tmp[path_length + 11] = '\0';
}

static int write_all(int fd, const unsigned char *bytes, size_t size)
{
    size_t done = 0;
    while (done < size) {
        ssize_t put = write(fd, bytes + done, size - done);
        if (put < 0 && errno == EINTR)
            continue;
        if (put < 0)
            return -1;
        done += (size_t)put;
    }
    return 0;
}

/* The folder holding path, written into folder (room for strlen(path) + 2 bytes). */
static void folder_of(const char *path, char *folder)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        memcpy(folder, ".", 2);
    else if (slash == path)
        memcpy(folder, "/", 2);
    else {
        memcpy(folder, path, (size_t)(slash - path));
        folder[slash - path] = '\0';
    }
}

/* Flush a folder so that a rename inside it is durable; 0 or an errno value. */
static int sync_folder(const char *folder)
{
    int fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    int error_number = 0;
    /* Some file systems cannot flush a folder; nothing more can be done there. */
    if (fsync(fd) != 0 && errno != EINVAL && errno != ENOTSUP)
        error_number = errno;
    close(fd);
    return error_number;
}

static int write_atomically(const char *path, const unsigned char *bytes, size_t size)
{
    size_t path_length = strlen(path);
    AE_CHECK(path_length > 0, NULL, AE_ERR_INVALID_ARGUMENT, "path is empty");
    AE_CHECK(path_length <= SIZE_MAX / 2 - 16, NULL, AE_ERR_INVALID_ARGUMENT, "path is too long");
    /* Both names are allocated up front, so nothing can fail for memory after the rename. */
    char *tmp = ae_alloc(2 * path_length + 14);
    AE_CHECK(tmp != NULL, NULL, AE_ERR_OUT_OF_MEMORY, "out of memory saving to %s", path);
    char *folder = tmp + path_length + 12;
    folder_of(path, folder);

    /* open with O_EXCL rather than mkstemp: the file gets the permissions of any new file
     * (0666 less the umask), not mkstemp's 0600. */
    int fd = -1;
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        temporary_name(tmp, path, path_length);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        int status = io_error("cannot create a temporary file next to", path, errno);
        ae_free(tmp);
        return status;
    }
    /* Replacing a file keeps its permissions. */
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
        (void)fchmod(fd, st.st_mode & 07777);

    const char *failed = NULL;
    int error_number = 0;
    if (write_all(fd, bytes, size) != 0)
        failed = "cannot write";
    else if (fsync(fd) != 0)
        failed = "cannot flush";
    if (failed)
        error_number = errno;
    if (close(fd) != 0 && !failed) {
        failed = "cannot close";
        error_number = errno;
    }
    if (!failed && rename(tmp, path) != 0) {
        failed = "cannot rename the temporary file over";
        error_number = errno;
    }
    if (failed) {
        unlink(tmp);
        ae_free(tmp);
        return io_error(failed, path, error_number);
    }
    error_number = sync_folder(folder);
    ae_free(tmp);
    if (error_number != 0)
        return io_error("saved, but cannot flush the folder of", path, error_number);
    return AE_OK;
}

int ae_model_save(const ae_model *m, const char *path, unsigned flags)
{
    section_sizes sizes;
    AE_FORWARD(check_save_args(m, flags, &sizes));
    AE_CHECK(path != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "path is NULL");
    unsigned char *bytes = ae_alloc(sizes.total);
    AE_CHECK(bytes != NULL, NULL, AE_ERR_OUT_OF_MEMORY,
             "out of memory serialising the model (%zu bytes)", sizes.total);
    writer w = {bytes, 0};
    serialise(m, flags, &sizes, &w);
    int status = write_atomically(path, bytes, sizes.total);
    ae_free(bytes);
    return status;
}
