/* Creating, copying and describing models; settings; argument checks shared by entry points. */
#include "internal.h"

#include <limits.h>
#include <unistd.h>
#include <math.h>
#include <string.h>

/* ---- architecture -------------------------------------------------------- */

static int check_widths(const size_t *widths, size_t n_widths, const char *what)
{
    AE_CHECK(widths != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "%s is NULL", what);
    AE_CHECK(n_widths >= 2, NULL, AE_ERR_INVALID_ARGUMENT,
             "%s needs at least 2 entries (input and output of a layer), got %zu", what, n_widths);
    /* The count before the entries: a count beyond any model is refused without reading
     * that many entries (an array of a few widths with a count of SIZE_MAX). */
    AE_CHECK(n_widths - 1 <= AE_MAX_LAYERS, NULL, AE_ERR_INVALID_ARGUMENT,
             "%s has %zu entries, %zu layers: more than a model may have (AE_MAX_LAYERS = %d)",
             what, n_widths, n_widths - 1, AE_MAX_LAYERS);
    for (size_t i = 0; i < n_widths; i++)
    {
        AE_CHECK(widths[i] >= 1, NULL, AE_ERR_INVALID_ARGUMENT, "%s[%zu] is 0", what, i);
        /* The limit every model file must meet (and far below BLAS's int dimensions). */
        AE_CHECK(widths[i] <= AE_MAX_LAYER_WIDTH, NULL, AE_ERR_INVALID_ARGUMENT,
                 "%s[%zu] = %zu is wider than a layer may be (AE_MAX_LAYER_WIDTH = %d)", what, i,
                 widths[i], AE_MAX_LAYER_WIDTH);
    }
    return AE_OK;
}

size_t ae_max_layers(void) { return AE_MAX_LAYERS; }
size_t ae_max_layer_width(void) { return AE_MAX_LAYER_WIDTH; }

/* Lay out the layers and count parameters, checking every product and sum for overflow. */
static int plan_layers(ae_model *m, const size_t *enc, size_t n_enc, const size_t *dec)
{
    const bool tied = (m->architecture & AE_ARCH_TIED_WEIGHTS) != 0;
    size_t n_weights = 0, n_biases = 0;
    for (size_t l = 0; l < m->n_layers; l++) {
        ae_layer *layer = &m->layers[l];
        if (l < m->n_encoder_layers) {
            layer->n_in = enc[l];
            layer->n_out = enc[l + 1];
            if (l + 1 == m->n_encoder_layers && ae_is_variational(m))
                layer->n_out *= 2; /* a mean and a log-variance per latent unit */
        } else if (dec) {
            layer->n_in = dec[l - m->n_encoder_layers];
            layer->n_out = dec[l - m->n_encoder_layers + 1];
        } else { /* mirror: walk the encoder widths backwards */
            size_t k = n_enc - 1 - (l - m->n_encoder_layers);
            layer->n_in = enc[k];
            layer->n_out = enc[k - 1];
        }
        size_t layer_weights;
        AE_CHECK(ae_mul_size(layer->n_out, layer->n_in, &layer_weights) &&
                     n_weights <= SIZE_MAX - layer_weights && n_biases <= SIZE_MAX - layer->n_out,
                 NULL, AE_ERR_SIZE_OVERFLOW, "layer %zu (%zu x %zu) is too large", l,
                 layer->n_out, layer->n_in);
        if (tied && l >= m->n_encoder_layers) {
            /* The mirror's weights, transposed: no weights of its own. */
            ae_layer *mirror = &m->layers[m->n_layers - 1 - l];
            layer->weight_offset = mirror->weight_offset;
            layer->transposed = true;
            mirror->shared_grad = true;
            layer_weights = 0;
        } else {
            layer->weight_offset = n_weights;
        }
        n_weights += layer_weights;
        n_biases += layer->n_out;
        if (layer->n_out > m->max_width)
            m->max_width = layer->n_out;
        if (layer->n_in > m->max_width)
            m->max_width = layer->n_in;
    }
    size_t bytes;
    AE_CHECK(n_weights <= SIZE_MAX - n_biases && ae_mul_size(n_weights + n_biases, sizeof(float), &bytes),
             NULL, AE_ERR_SIZE_OVERFLOW, "the model's parameters do not fit in memory");
    size_t bias_offset = n_weights;
    for (size_t l = 0; l < m->n_layers; l++) {
        m->layers[l].bias_offset = bias_offset;
        bias_offset += m->layers[l].n_out;
    }
    m->n_weights = n_weights;
    m->n_params = n_weights + n_biases;
    return AE_OK;
}

static int activation_for_layer(const ae_model *m, size_t layer)
{
    if (layer == m->n_encoder_layers - 1)
        return m->settings.latent_activation;
    if (layer == m->n_layers - 1)
        return m->settings.output_activation;
    return m->settings.hidden_activation;
}

void ae_model_apply_activations(ae_model *m)
{
    for (size_t l = 0; l < m->n_layers; l++)
        m->layers[l].activation = activation_for_layer(m, l);
}

static bool uses_he_init(int activation)
{
    return activation == AE_ACT_RELU || activation == AE_ACT_LEAKY_RELU || activation == AE_ACT_ELU;
}

void ae_model_init_weights(ae_model *m)
{
    ae_rng_seed(&m->rng, m->settings.seed);
    for (size_t l = 0; l < m->n_layers; l++) {
        const ae_layer *layer = &m->layers[l];
        float *w = m->params + layer->weight_offset;
        size_t n = layer->transposed ? 0 : layer->n_out * layer->n_in;
        if (uses_he_init(layer->activation)) {
            double std = sqrt(2.0 / (double)layer->n_in);
            for (size_t i = 0; i < n; i++)
                w[i] = (float)(std * ae_rng_normal(&m->rng));
        } else {
            double limit = sqrt(6.0 / (double)(layer->n_in + layer->n_out));
            for (size_t i = 0; i < n; i++)
                w[i] = (float)(limit * (2.0 * ae_rng_uniform(&m->rng) - 1.0));
        }
        memset(m->params + layer->bias_offset, 0, layer->n_out * sizeof(float));
    }
    m->fresh_weights = true;
}

/* Build a model from checked widths: n_decoder_layers 0 makes an encoder alone; a
 * decoder_widths of NULL mirrors the encoder. */
static int build(ae_model **out, const size_t *encoder_widths, size_t n_encoder_widths,
                 const size_t *decoder_widths, size_t n_decoder_layers, unsigned architecture);

int ae_model_create_encoder_only(ae_model **out, const size_t *widths, size_t n_widths,
                                 unsigned architecture)
{
    *out = NULL;
    return build(out, widths, n_widths, NULL, 0, architecture & AE_ARCH_VARIATIONAL);
}

int ae_model_create(ae_model **out, const size_t *encoder_widths, size_t n_encoder_widths,
                    const size_t *decoder_widths, size_t n_decoder_widths)
{
    return ae_model_create_ex(out, encoder_widths, n_encoder_widths, decoder_widths,
                              n_decoder_widths, AE_ARCH_PLAIN);
}

/* A decoder given explicitly mirrors the encoder when its widths are the encoder's reversed. */
static bool widths_mirror(const size_t *enc, size_t n_enc, const size_t *dec, size_t n_dec)
{
    if (!dec)
        return true;
    if (n_dec != n_enc)
        return false;
    for (size_t i = 0; i < n_dec; i++)
        if (dec[i] != enc[n_enc - 1 - i])
            return false;
    return true;
}

int ae_model_create_ex(ae_model **out, const size_t *encoder_widths, size_t n_encoder_widths,
                       const size_t *decoder_widths, size_t n_decoder_widths, unsigned flags)
{
    AE_CHECK(out != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "out is NULL");
    *out = NULL;
    AE_CHECK((flags & ~(unsigned)(AE_ARCH_TIED_WEIGHTS | AE_ARCH_VARIATIONAL)) == 0, NULL,
             AE_ERR_INVALID_ARGUMENT, "unknown architecture flags 0x%x", flags);
    AE_CHECK(flags != (AE_ARCH_TIED_WEIGHTS | AE_ARCH_VARIATIONAL), NULL, AE_ERR_INVALID_ARGUMENT,
             "tied weights and a variational latent layer do not combine (the latent layer has "
             "twice the outputs its mirror takes)");
    AE_FORWARD(check_widths(encoder_widths, n_encoder_widths, "encoder_widths"));
    if (flags & AE_ARCH_VARIATIONAL)
        AE_CHECK(encoder_widths[n_encoder_widths - 1] <= AE_MAX_LAYER_WIDTH / 2, NULL,
                 AE_ERR_INVALID_ARGUMENT,
                 "the latent width %zu is too wide for a mean and a log-variance per unit (at "
                 "most AE_MAX_LAYER_WIDTH / 2 = %d)",
                 encoder_widths[n_encoder_widths - 1], AE_MAX_LAYER_WIDTH / 2);
    if (decoder_widths || n_decoder_widths) {
        AE_FORWARD(check_widths(decoder_widths, n_decoder_widths, "decoder_widths"));
        AE_CHECK(decoder_widths[0] == encoder_widths[n_encoder_widths - 1], NULL,
                 AE_ERR_INVALID_ARGUMENT,
                 "decoder_widths[0] = %zu must equal the latent width %zu", decoder_widths[0],
                 encoder_widths[n_encoder_widths - 1]);
        AE_CHECK(decoder_widths[n_decoder_widths - 1] == encoder_widths[0], NULL,
                 AE_ERR_INVALID_ARGUMENT,
                 "the last decoder width %zu must equal the input width %zu",
                 decoder_widths[n_decoder_widths - 1], encoder_widths[0]);
    }

    /* Each side has one layer fewer than widths; compared per side, so nothing overflows. */
    const size_t n_encoder_layers = n_encoder_widths - 1,
                 n_decoder_layers = decoder_widths ? n_decoder_widths - 1 : n_encoder_layers;
    AE_CHECK(n_encoder_layers <= AE_MAX_LAYERS && n_decoder_layers <= AE_MAX_LAYERS - n_encoder_layers,
             NULL, AE_ERR_INVALID_ARGUMENT,
             "%zu encoder and %zu decoder layers are more than a model may have (AE_MAX_LAYERS "
             "= %d)",
             n_encoder_layers, n_decoder_layers, AE_MAX_LAYERS);
    AE_CHECK(!(flags & AE_ARCH_TIED_WEIGHTS) ||
                 widths_mirror(encoder_widths, n_encoder_widths, decoder_widths, n_decoder_widths),
             NULL, AE_ERR_INVALID_ARGUMENT,
             "tied weights need a decoder that mirrors the encoder (decoder_widths NULL or the "
             "encoder widths reversed)");
    return build(out, encoder_widths, n_encoder_widths, decoder_widths, n_decoder_layers, flags);
}

static int build(ae_model **out, const size_t *encoder_widths, size_t n_encoder_widths,
                 const size_t *decoder_widths, size_t n_decoder_layers, unsigned architecture)
{
    ae_model *m = ae_calloc(1, sizeof *m);
    AE_CHECK(m != NULL, NULL, AE_ERR_OUT_OF_MEMORY, "out of memory creating a model");
    m->architecture = architecture;
    m->kl_ramp = 1.0;
    m->n_encoder_layers = n_encoder_widths - 1;
    m->n_layers = m->n_encoder_layers + n_decoder_layers;
    m->layers = ae_calloc(m->n_layers, sizeof *m->layers);
    int status = m->layers ? AE_OK
                           : ae_fail(NULL, AE_ERR_OUT_OF_MEMORY, "out of memory creating a model");
    if (status == AE_OK)
        status = plan_layers(m, encoder_widths, n_encoder_widths, decoder_widths);
    if (status == AE_OK) {
        m->params = ae_alloc_floats(m->n_params);
        m->grads = ae_alloc_floats(m->n_params);
        if (!m->params || !m->grads)
            status = ae_fail(NULL, AE_ERR_OUT_OF_MEMORY,
                             "out of memory allocating %zu parameters", m->n_params);
    }
    if (status != AE_OK) {
        ae_model_free(m);
        return status;
    }
    ae_param_defaults(m->param_values);
    ae_settings_from_values(&m->settings, m->param_values);
    ae_model_apply_activations(m);
    ae_model_init_weights(m);
    *out = m;
    return AE_OK;
}

void ae_model_free(ae_model *m)
{
    if (!m)
        return;
    ae_pool_stop(m->pool);
    ae_scratch_release(&m->spare_scratch);
    ae_workspace_release(&m->work);
    ae_optimizer_state_release(&m->optim);
    ae_free(m->params);
    ae_free(m->grads);
    ae_free(m->scaling);
    ae_free(m->layers);
    ae_free(m);
}

/* A deep copy of src (whose readers the caller holds). */
static int clone_model(const ae_model *src, ae_model **out)
{
    ae_model *m = ae_calloc(1, sizeof *m);
    AE_CHECK(m != NULL, NULL, AE_ERR_OUT_OF_MEMORY, "out of memory cloning a model");
    /* Everything before the guard: the fields that concurrent const calls change (the guard,
     * the spare scratch) are only touched atomically, so they start afresh (zero). */
    memcpy(m, src, AE_MODEL_COPIED_BYTES);
    /* Own nothing yet, so a failure below frees only what was copied. */
    m->layers = NULL;
    m->params = m->grads = m->scaling = NULL;
    m->pool = NULL; /* the copy starts its own workers when it trains */
    m->pool_refused = 0;
    m->pool_settled = false;
    m->has_hooks = false; /* a copy trains alone until it is given hooks */
    memset(&m->hooks, 0, sizeof m->hooks);
    m->use_stream = false;
    memset(&m->work, 0, sizeof m->work);
    memset(&m->optim, 0, sizeof m->optim);
    m->layers = ae_calloc(src->n_layers, sizeof *m->layers);
    m->params = ae_alloc_floats(src->n_params);
    m->grads = ae_alloc_floats(src->n_params);
    if (m->layers)
        memcpy(m->layers, src->layers, src->n_layers * sizeof *m->layers);
    if (!m->layers || !m->params || !m->grads ||
        ae_optimizer_state_copy(&m->optim, &src->optim, src->n_params) != AE_OK ||
        ae_scaling_copy(m, src) != AE_OK) {
        ae_model_free(m);
        return ae_fail(NULL, AE_ERR_OUT_OF_MEMORY, "out of memory cloning a model");
    }
    memcpy(m->params, src->params, src->n_params * sizeof(float));
    *out = m;
    return AE_OK;
}

int ae_model_clone(const ae_model *src, ae_model **out)
{
    AE_CHECK(out != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "out is NULL");
    *out = NULL;
    AE_CHECK(src != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "model is NULL");
    AE_RETURN_AS_READER(src, clone_model(src, out));
}

static int reset(ae_model *m)
{
    ae_model_init_weights(m);
    ae_optimizer_state_release(&m->optim);
    return AE_OK;
}

int ae_model_reset(ae_model *m)
{
    AE_CHECK(m != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "model is NULL");
    AE_RETURN_AS_WRITER(m, reset(m));
}

/* ---- description --------------------------------------------------------- */

size_t ae_model_input_dim(const ae_model *m) { return m ? ae_input_dim(m) : 0; }
size_t ae_model_latent_dim(const ae_model *m) { return m ? ae_latent_dim(m) : 0; }
size_t ae_model_layer_count(const ae_model *m) { return m ? m->n_layers : 0; }
size_t ae_model_encoder_layer_count(const ae_model *m) { return m ? m->n_encoder_layers : 0; }
size_t ae_model_param_count(const ae_model *m) { return m ? m->n_params : 0; }
unsigned ae_model_architecture(const ae_model *m) { return m ? m->architecture : 0; }

static int layer_info(const ae_model *m, size_t layer, size_t *n_out, size_t *n_in, int *activation)
{
    AE_CHECK(layer < m->n_layers, NULL, AE_ERR_INVALID_ARGUMENT,
             "layer %zu does not exist (the model has %zu)", layer, m->n_layers);
    if (n_out)
        *n_out = m->layers[layer].n_out;
    if (n_in)
        *n_in = m->layers[layer].n_in;
    if (activation)
        *activation = m->layers[layer].activation;
    return AE_OK;
}

int ae_model_layer_info(const ae_model *m, size_t layer, size_t *n_out, size_t *n_in, int *activation)
{
    AE_CHECK(m != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "model is NULL");
    AE_RETURN_AS_READER(m, layer_info(m, layer, n_out, n_in, activation));
}

static int describe_layer(const ae_model *m, size_t layer, ae_layer_description *description)
{
    AE_CHECK(description != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "description is NULL");
    AE_CHECK(description->size >= sizeof description->size, NULL, AE_ERR_INVALID_ARGUMENT,
             "description->size must be set to sizeof(ae_layer_description)");
    AE_CHECK(layer < m->n_layers, NULL, AE_ERR_INVALID_ARGUMENT,
             "layer %zu does not exist (the model has %zu)", layer, m->n_layers);
    const ae_layer *L = &m->layers[layer];
    ae_layer_description full = {
        .size = sizeof full,
        .n_in = L->n_in,
        .n_out = L->n_out,
        .activation = L->activation,
        .tied = L->transposed,
        .weights_layer = L->transposed ? m->n_layers - 1 - layer : layer,
        .weight_offset = L->weight_offset,
        .weight_count = L->transposed ? 0 : (uint64_t)L->n_out * L->n_in,
        .bias_offset = L->bias_offset,
        .bias_count = L->n_out,
    };
    ae_copy_size_prefixed(description, &full, sizeof full);
    return AE_OK;
}

int ae_model_describe_layer(const ae_model *m, size_t layer, ae_layer_description *description)
{
    AE_CHECK(m != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "model is NULL");
    AE_RETURN_AS_READER(m, describe_layer(m, layer, description));
}

/* ---- settings ------------------------------------------------------------ */

static bool redraws_fresh_weights(ae_param param)
{
    return param == AE_PARAM_SEED || param == AE_PARAM_HIDDEN_ACTIVATION ||
           param == AE_PARAM_LATENT_ACTIVATION || param == AE_PARAM_OUTPUT_ACTIVATION;
}

static int set_param(ae_model *m, ae_param param, double value)
{
    AE_FORWARD(ae_param_check(m, param, value));
    double next_values[AE_PARAM_SLOT_COUNT];
    memcpy(next_values, m->param_values, sizeof next_values);
    next_values[ae_param_slot(param)] = value;
    ae_settings next;
    ae_settings_from_values(&next, next_values);
    AE_FORWARD(ae_check_setting_change(m, m, &next, param, value));

    int previous_optimizer = m->settings.optimizer, previous_scaling = m->settings.scaling;
    memcpy(m->param_values, next_values, sizeof next_values);
    m->settings = next;
    m->chosen_settings |= (uint64_t)1 << ae_param_slot(param);
    ae_model_apply_activations(m);
    if (m->fresh_weights && redraws_fresh_weights(param))
        ae_model_init_weights(m);
    else if (param == AE_PARAM_SEED)
        ae_rng_seed(&m->rng, m->settings.seed);
    if (m->settings.optimizer != previous_optimizer)
        ae_optimizer_state_release(&m->optim);
    if (m->settings.scaling != previous_scaling)
        ae_scaling_drop(m); /* fitted for another kind of scaling */
    return AE_OK;
}

int ae_model_set_param(ae_model *m, ae_param param, double value)
{
    AE_CHECK(m != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "model is NULL");
    AE_RETURN_AS_WRITER(m, set_param(m, param, value));
}

static int get_param(const ae_model *m, ae_param param, double *value)
{
    AE_CHECK(value != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "value is NULL");
    int slot = ae_param_slot(param);
    AE_CHECK(slot >= 0, NULL, AE_ERR_INVALID_ARGUMENT, "unknown parameter %d", (int)param);
    *value = m->param_values[slot];
    return AE_OK;
}

int ae_model_get_param(const ae_model *m, ae_param param, double *value)
{
    AE_CHECK(m != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "model is NULL");
    AE_RETURN_AS_READER(m, get_param(m, param, value));
}

static int set_progress(ae_model *m, ae_progress_fn callback, void *user_data)
{
    m->progress = callback;
    m->progress_user = user_data;
    return AE_OK;
}

int ae_model_set_progress(ae_model *m, ae_progress_fn callback, void *user_data)
{
    AE_CHECK(m != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "model is NULL");
    AE_RETURN_AS_WRITER(m, set_progress(m, callback, user_data));
}

static size_t online_processors(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > AE_MAX_THREADS ? AE_MAX_THREADS : (size_t)n;
}

int ae_model_ensure_pool(ae_model *m)
{
    /* A child of fork() goes on training a model of its parent's on workers of its own. */
    if (ae_pool_orphaned(m->pool)) {
        ae_pool_stop(m->pool);
        m->pool = NULL;
        m->pool_settled = false;
        m->pool_refused = 0;
    }
    /* Counting the processors reads a file in sysfs (glibc's get_nprocs): about 10 us, a
     * quarter of a 30-16-4 step at 64 rows. Count them when the setting changes, not at every
     * step. */
    if (m->pool_settled && m->pool_setting == m->settings.threads)
        return AE_OK;
    size_t wanted = m->settings.threads ? m->settings.threads : online_processors();
    if (ae_pool_threads(m->pool) != wanted && !(wanted > 1 && m->pool_refused == wanted)) {
        ae_pool_stop(m->pool);
        m->pool = NULL;
        m->pool_settled = false;
        AE_CHECK(ae_pool_start(&m->pool, wanted) == AE_OK, m, AE_ERR_OUT_OF_MEMORY,
                 "out of memory starting %zu threads", wanted);
        /* The system may grant fewer threads; remember, so we do not retry every step. */
        m->pool_refused = ae_pool_threads(m->pool) == wanted ? 0 : wanted;
    }
    m->pool_settled = true;
    m->pool_setting = m->settings.threads;
    return AE_OK;
}

/* ---- versions ------------------------------------------------------------ */

unsigned ae_version_number(void) { return AE_VERSION_NUMBER; }

#define AE_STRINGIFY_(x) #x
#define AE_STRINGIFY(x) AE_STRINGIFY_(x)
const char *ae_version_string(void)
{
    return AE_STRINGIFY(AE_VERSION_MAJOR) "." AE_STRINGIFY(AE_VERSION_MINOR) "." AE_STRINGIFY(AE_VERSION_PATCH);
}
