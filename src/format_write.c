/* Writing a model file (docs/format.md): the sections' sizes, overflow-checked, then the
 * bytes, little-endian, section by section. */
#include "format.h"

#include <string.h>

/* Bytes go to bytes + pos; plan_sizes() has sized the buffer. */
typedef struct writer {
    unsigned char *bytes;
    size_t pos;
} writer;

static void put_uint(writer *w, uint64_t value, unsigned n_bytes)
{
    store_le(w->bytes + w->pos, value, n_bytes);
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
    memcpy(w->bytes + w->pos, tag, 4);
    w->pos += 4;
}

static void put_floats(writer *w, const float *values, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put_f32(w, values[i]);
}

/* ---- sizes and sections ---------------------------------------------------- */

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

    put_u32(w, ae_crc32c(0, w->bytes, w->pos));
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

static int save_size(const ae_model *m, unsigned flags, size_t *size)
{
    section_sizes sizes;
    AE_FORWARD(check_save_args(m, flags, &sizes));
    *size = sizes.total;
    return AE_OK;
}

int ae_model_save_size(const ae_model *m, unsigned flags, size_t *size)
{
    AE_CHECK(size != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "size is NULL");
    *size = 0;
    AE_CHECK(m != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "model is NULL");
    AE_RETURN_AS_READER(m, save_size(m, flags, size));
}

static int save_to_memory(const ae_model *m, unsigned flags, void *buffer, size_t capacity,
                          size_t *written)
{
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

int ae_model_save_to_memory(const ae_model *m, unsigned flags, void *buffer, size_t capacity,
                            size_t *written)
{
    AE_CHECK(written != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "written is NULL");
    *written = 0;
    AE_CHECK(m != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "model is NULL");
    AE_RETURN_AS_READER(m, save_to_memory(m, flags, buffer, capacity, written));
}

static int serialise_copy(const ae_model *m, unsigned flags, unsigned char **bytes, size_t *size)
{
    section_sizes sizes;
    AE_FORWARD(check_save_args(m, flags, &sizes));
    unsigned char *buffer = ae_alloc(sizes.total);
    AE_CHECK(buffer != NULL, NULL, AE_ERR_OUT_OF_MEMORY,
             "out of memory serialising the model (%zu bytes)", sizes.total);
    writer w = {buffer, 0};
    serialise(m, flags, &sizes, &w);
    *bytes = buffer;
    *size = sizes.total;
    return AE_OK;
}

int ae_format_serialise(const ae_model *m, unsigned flags, unsigned char **bytes, size_t *size)
{
    *bytes = NULL;
    *size = 0;
    AE_CHECK(m != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "model is NULL");
    /* The model is held only while its bytes are made, not while a slow disk takes them. */
    AE_RETURN_AS_READER(m, serialise_copy(m, flags, bytes, size));
}
