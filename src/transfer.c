/* Moving weights between models: copying layers, exporting the encoder as a model of its
 * own, and greedy layer-wise pre-training through shallow autoencoders. */
#include "internal.h"

#include <math.h>
#include <string.h>

/* Copy layer `from` of src onto layer `to` of dst (same shape, checked by the caller). A
 * tied layer of dst takes only the bias: its weights are its mirror's. */
static void copy_layer(ae_model *dst, size_t to, const ae_model *src, size_t from)
{
    const ae_layer *d = &dst->layers[to], *s = &src->layers[from];
    memcpy(dst->params + d->bias_offset, src->params + s->bias_offset, s->n_out * sizeof(float));
    if (d->transposed)
        return;
    float *w = dst->params + d->weight_offset;
    const float *v = src->params + s->weight_offset;
    if (!s->transposed) {
        memcpy(w, v, s->n_out * s->n_in * sizeof(float));
        return;
    }
    for (size_t i = 0; i < s->n_out; i++) /* a tied source layer: its mirror's V transposed */
        for (size_t j = 0; j < s->n_in; j++)
            w[i * s->n_in + j] = v[j * s->n_out + i];
}

/* New weights invalidate the optimizer's moments and end the fresh state. */
static void weights_replaced(ae_model *m)
{
    ae_optimizer_state_release(&m->optim);
    m->fresh_weights = false;
}

static int copy_layers(ae_model *dst, size_t dst_layer, const ae_model *src, size_t src_layer,
                       size_t n_layers)
{
    AE_CHECK(n_layers >= 1, NULL, AE_ERR_INVALID_ARGUMENT, "n_layers is 0");
    AE_CHECK(src_layer <= src->n_layers && n_layers <= src->n_layers - src_layer, NULL,
             AE_ERR_INVALID_ARGUMENT, "src has layers 0 .. %zu; %zu layers from %zu do not fit",
             src->n_layers - 1, n_layers, src_layer);
    AE_CHECK(dst_layer <= dst->n_layers && n_layers <= dst->n_layers - dst_layer, NULL,
             AE_ERR_INVALID_ARGUMENT, "dst has layers 0 .. %zu; %zu layers from %zu do not fit",
             dst->n_layers - 1, n_layers, dst_layer);
    for (size_t k = 0; k < n_layers; k++) {
        const ae_layer *d = &dst->layers[dst_layer + k], *s = &src->layers[src_layer + k];
        AE_CHECK(d->n_out == s->n_out && d->n_in == s->n_in, NULL, AE_ERR_INVALID_ARGUMENT,
                 "dst layer %zu is %zu x %zu, src layer %zu is %zu x %zu", dst_layer + k, d->n_out,
                 d->n_in, src_layer + k, s->n_out, s->n_in);
    }
    for (size_t k = 0; k < n_layers; k++)
        copy_layer(dst, dst_layer + k, src, src_layer + k);
    weights_replaced(dst);
    return AE_OK;
}

/* dst is held as the writer already: the source joins as a reader. */
static int copy_from_source(ae_model *dst, size_t dst_layer, const ae_model *src, size_t src_layer,
                            size_t n_layers)
{
    AE_CHECK(src != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "src is NULL");
    AE_CHECK(dst != src, NULL, AE_ERR_INVALID_ARGUMENT,
             "dst and src are the same model; copy between two models");
    AE_RETURN_AS_READER(src, copy_layers(dst, dst_layer, src, src_layer, n_layers));
}

int ae_model_copy_layers(ae_model *dst, size_t dst_layer, const ae_model *src, size_t src_layer,
                         size_t n_layers)
{
    AE_CHECK(dst != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "dst is NULL");
    AE_RETURN_AS_WRITER(dst, copy_from_source(dst, dst_layer, src, src_layer, n_layers));
}

/* Give model m the settings in values (a full slot array), chosen as in `like`. */
static void use_settings(ae_model *m, const double *values, const ae_model *like)
{
    memcpy(m->param_values, values, sizeof m->param_values);
    m->chosen_settings = like->chosen_settings;
    ae_settings_from_values(&m->settings, m->param_values);
    ae_model_apply_activations(m);
}

static int export_encoder(const ae_model *src, ae_model **out)
{
    const size_t n_enc = src->n_encoder_layers;
    size_t *widths = ae_calloc(n_enc + 1, sizeof *widths);
    AE_CHECK(widths != NULL, NULL, AE_ERR_OUT_OF_MEMORY, "out of memory exporting the encoder");
    widths[0] = ae_input_dim(src);
    for (size_t l = 0; l < n_enc; l++)
        widths[l + 1] = src->layers[l].n_out;
    widths[n_enc] = ae_latent_dim(src); /* a variational latent layer doubles it again */
    ae_model *m = NULL;
    int status = ae_model_create_encoder_only(&m, widths, n_enc + 1, src->architecture);
    ae_free(widths);
    if (status == AE_OK)
        status = ae_scaling_copy(m, src);
    if (status != AE_OK) {
        ae_model_free(m);
        return status;
    }
    use_settings(m, src->param_values, src);
    for (size_t l = 0; l < n_enc; l++)
        copy_layer(m, l, src, l);
    m->rng = src->rng;
    m->fresh_weights = false;
    *out = m;
    return AE_OK;
}

int ae_model_export_encoder(const ae_model *src, ae_model **out)
{
    AE_CHECK(out != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "out is NULL");
    *out = NULL;
    AE_CHECK(src != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "model is NULL");
    AE_RETURN_AS_READER(src, export_encoder(src, out));
}

/* ---- layer-wise pre-training ------------------------------------------------------- */

/* The decoder mirrors the encoder: decoder layer n-1-k has the transposed shape of k. */
static bool mirrored(const ae_model *m)
{
    if (m->n_layers != 2 * m->n_encoder_layers)
        return false;
    for (size_t k = 0; k < m->n_encoder_layers; k++) {
        const ae_layer *e = &m->layers[k], *d = &m->layers[m->n_layers - 1 - k];
        if (d->n_in != e->n_out || d->n_out != e->n_in)
            return false;
    }
    return true;
}

/* The shallow autoencoder of stage k: encoder layer k and its mirror, starting from the
 * model's current weights, with the model's settings adapted to the stage. */
static int make_stage(ae_model *m, size_t k, ae_model **out)
{
    const ae_layer *e = &m->layers[k];
    const size_t mirror = m->n_layers - 1 - k, widths[2] = {e->n_in, e->n_out};
    ae_model *stage = NULL;
    AE_FORWARD(ae_model_create_ex(&stage, widths, 2, NULL, 0, m->architecture & AE_ARCH_TIED_WEIGHTS));
    const bool first = k == 0, last = k + 1 == m->n_encoder_layers;
    double v[AE_PARAM_SLOT_COUNT];
    memcpy(v, m->param_values, sizeof v);
    v[ae_param_slot(AE_PARAM_LATENT_ACTIVATION)] = e->activation;
    v[ae_param_slot(AE_PARAM_OUTPUT_ACTIVATION)] = m->layers[mirror].activation;
    v[ae_param_slot(AE_PARAM_LOSS)] = first ? m->settings.loss : AE_LOSS_MSE;
    v[ae_param_slot(AE_PARAM_SCALING)] = first ? m->settings.scaling : AE_SCALING_NONE;
    v[ae_param_slot(AE_PARAM_SPARSITY_LAYER)] = -1;
    if (ae_sparsity_layer(m) != k)
        v[ae_param_slot(AE_PARAM_SPARSITY_WEIGHT)] = 0;
    if (!last) {
        v[ae_param_slot(AE_PARAM_ACTIVITY_L1)] = 0;
        v[ae_param_slot(AE_PARAM_CONTRACTIVE_WEIGHT)] = 0;
    }
    use_settings(stage, v, m);
    int status = first ? ae_scaling_copy(stage, m) : AE_OK;
    if (status != AE_OK) {
        ae_model_free(stage);
        return status;
    }
    copy_layer(stage, 0, m, k);
    copy_layer(stage, 1, m, mirror);
    stage->fresh_weights = false;
    /* Its own stream of the model's generator: shuffles and noise differ between stages. */
    ae_rng_seed(&stage->rng, ae_rng_next(&m->rng));
    stage->progress = m->progress;
    stage->progress_user = m->progress_user;
    /* A distributed pre-training trains each stage together on every participant. */
    stage->hooks = m->hooks;
    stage->has_hooks = m->has_hooks;
    *out = stage;
    return AE_OK;
}

/* Train stage k on its inputs and copy its weights back into the model. `status` is what
 * preparing the inputs gave: every participant of a distributed pre-training agrees on it
 * and on making the stage before any trains. */
static int run_stage(ae_model *m, size_t k, int status, const float *in, size_t n_rows,
                     size_t ld_in, ae_fit_report *report)
{
    ae_model *stage = NULL;
    if (status == AE_OK)
        status = make_stage(m, k, &stage);
    status = ae_hooks_agree(m, status);
    if (status != AE_OK) {
        ae_model_free(stage);
        return status;
    }
    ae_fit_report full = {.size = sizeof full};
    status = ae_model_fit(stage, in, n_rows, ld_in, &full);
    ae_fit_report_copy(report, &full);
    if (status == AE_OK) {
        copy_layer(m, k, stage, 0);
        copy_layer(m, m->n_layers - 1 - k, stage, 1);
    }
    ae_model_free(stage);
    return status;
}

static int check_pretrain_args(ae_model *m, const float *x, size_t n_rows, size_t ld_x,
                               const ae_fit_report *reports, size_t n_reports)
{
    AE_CHECK((reports == NULL) == (n_reports == 0), m, AE_ERR_INVALID_ARGUMENT,
             "reports and n_reports must both be given or both be empty");
    AE_CHECK(!reports || n_reports == m->n_encoder_layers, m, AE_ERR_INVALID_ARGUMENT,
             "n_reports = %zu; pre-training has one stage per encoder layer (%zu)", n_reports,
             m->n_encoder_layers);
    for (size_t k = 0; k < n_reports; k++)
        AE_CHECK(reports[k].size >= sizeof reports[k].size, m, AE_ERR_INVALID_ARGUMENT,
                 "reports[%zu].size must be set to sizeof(ae_fit_report)", k);
    AE_FORWARD(ae_check_decoder(m, m, "be pre-trained"));
    AE_CHECK(!ae_is_variational(m), m, AE_ERR_STATE,
             "layer-wise pre-training trains deterministic shallow autoencoders; a variational "
             "model trains as a whole with ae_model_fit()");
    AE_CHECK(mirrored(m), m, AE_ERR_STATE,
             "layer-wise pre-training needs a decoder that mirrors the encoder");
    AE_FORWARD(ae_check_matrix(m, "x", x, n_rows, ae_input_dim(m), ld_x));
    return ae_check_data(m, m, "x", x, n_rows, ae_input_dim(m), ld_x, false);
}

static int pretrain(ae_model *m, const float *x, size_t n_rows, size_t ld_x,
                    ae_fit_report *reports, size_t n_reports)
{
    float *before = ae_alloc_floats(m->n_params), *codes = NULL;
    int status = check_pretrain_args(m, x, n_rows, ld_x, reports, n_reports);
    if (status == AE_OK && !before)
        status = ae_fail(m, AE_ERR_OUT_OF_MEMORY, "out of memory for pre-training");
    status = ae_hooks_agree(m, status);
    const bool had_scaling = m->scaling != NULL;
    if (status == AE_OK && m->settings.scaling != AE_SCALING_NONE && !m->scaling)
        status = ae_scaling_fit(m, x, n_rows, ld_x);
    if (status != AE_OK) {
        ae_free(before);
        return status;
    }
    memcpy(before, m->params, m->n_params * sizeof(float));
    const ae_rng rng_before = m->rng; /* the stages draw their generators from it */

    for (size_t k = 0; status == AE_OK && k < m->n_encoder_layers; k++) {
        ae_fit_report *report = reports ? &reports[k] : NULL;
        if (k == 0) {
            status = run_stage(m, 0, AE_OK, x, n_rows, ld_x, report);
            continue;
        }
        /* The codes of the layers below, for every row, from the weights trained so far. */
        const size_t width = m->layers[k].n_in;
        size_t n_floats;
        ae_free(codes);
        codes = ae_mul_size(n_rows, width, &n_floats) ? ae_alloc_floats(n_floats) : NULL;
        int prepared = codes ? ae_infer_layers(m, 0, k, x, n_rows, ld_x, codes, width)
                             : ae_fail(m, AE_ERR_OUT_OF_MEMORY,
                                       "out of memory for the %zu x %zu codes of pre-training "
                                       "stage %zu",
                                       n_rows, width, k);
        status = run_stage(m, k, prepared, codes, n_rows, width, report);
    }
    ae_free(codes);
    if (status == AE_OK) {
        weights_replaced(m);
    } else {
        memcpy(m->params, before, m->n_params * sizeof(float));
        m->rng = rng_before;
        if (!had_scaling)
            ae_scaling_drop(m); /* fitted by this call for weights it did not keep */
    }
    ae_free(before);
    return status;
}

int ae_model_pretrain(ae_model *m, const float *x, size_t n_rows, size_t ld_x,
                      ae_fit_report *reports, size_t n_reports)
{
    AE_CHECK(m != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "model is NULL");
    AE_RETURN_AS_WRITER(m, pretrain(m, x, n_rows, ld_x, reports, n_reports));
}
