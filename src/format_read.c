/* Reading a model file (docs/format.md): the frame and checksum first, then every
 * section's counts, widths and values, all checked before anything is allocated; the
 * model is built only from a file that passed every check. */
#include "format.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static uint32_t get_u16(const unsigned char *p) { return (uint32_t)load_le(p, 2); }
static uint32_t get_u32(const unsigned char *p) { return (uint32_t)load_le(p, 4); }
static uint64_t get_u64(const unsigned char *p) { return load_le(p, 8); }

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

/* Steps 1 and 2 of docs/format.md: magic and version. */
int ae_format_check_header(const unsigned char *d, size_t n)
{
    if (n < sizeof file_magic)
        return FORMAT_ERROR("truncated: %zu bytes, fewer than the 8-byte magic of a model file", n);
    if (memcmp(d, file_magic, sizeof file_magic) != 0)
        return FORMAT_ERROR("not a libautoenc model file: wrong magic at byte 0");
    if (n < HEADER_SIZE)
        return FORMAT_ERROR("truncated: the header needs %u bytes, the data has %zu", HEADER_SIZE, n);
    unsigned major = get_u16(d + 8), minor = get_u16(d + 10);
    if (major > FORMAT_MAJOR)
        return ae_fail(NULL, AE_ERR_VERSION,
                       "format version %u.%u (byte 8) needs a newer library; this one reads 1.x",
                       major, minor);
    if (major == 0)
        return FORMAT_ERROR("format major version 0 at byte 8 does not exist");
    return AE_OK;
}

/* Steps 1 to 4 of docs/format.md: magic, version, section frames, checksum. */
static int check_frame(const unsigned char *d, size_t n, parsed_file *pf)
{
    AE_FORWARD(ae_format_check_header(d, n));
    pf->minor = get_u16(d + 10);
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
    /* The library's one rule set for a state (optim.c): a step counter past 2^53, or one
     * the buffers contradict, would wrap or divide by zero in the next step. */
    if (ae_optimizer_state_check(NULL, (int)kind, get_u64(d + p + 4), has_first,
                                 has_second) != AE_OK) {
        char why[AE_MESSAGE_SIZE];
        snprintf(why, sizeof why, "%s", ae_last_error());
        return FORMAT_ERROR("invalid optimizer state at byte %zu: %s", p, why);
    }
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
    /* A file holds every setting as deliberately as the model it was saved from did. */
    m->chosen_settings = ~(uint64_t)0;
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

int ae_format_load(ae_model **out, const unsigned char *d, size_t n)
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
    return ae_format_load(out, data, size);
}
