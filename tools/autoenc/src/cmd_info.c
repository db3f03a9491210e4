/* autoenc info FILE: a model's architecture, activations, settings, scaling, threshold,
 * parameter count and file format version; or, for a data file, its format, shape and
 * range of values (which reads the whole file, and so also times a reader). */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"
#include "common.h"
#include "settings.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const unsigned char model_magic[8] = {0x89, 'A', 'E', 'N', 'C', 0x0D, 0x0A, 0x1A};

/* Reads the documented 12-byte start of a model file (docs/format.md). */
static int file_is_model(const char *path, unsigned *major, unsigned *minor)
{
    unsigned char head[12];
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    if (n < sizeof head || memcmp(head, model_magic, 8) != 0)
        return 0;
    *major = head[8] | (unsigned)head[9] << 8;
    *minor = head[10] | (unsigned)head[11] << 8;
    return 1;
}

static const char *activation(int a)
{
    const char *name = ae_activation_name((ae_activation)a);
    return name ? name : "unknown";
}

static int model_info(const char *path, unsigned major, unsigned minor)
{
    ae_model *m = NULL;
    int rc = cli_load_model(path, &m);
    if (rc)
        return rc;
    unsigned arch = ae_model_architecture(m);
    size_t layers = ae_model_layer_count(m), enc = ae_model_encoder_layer_count(m);
    printf("file:          %s\n", path);
    printf("format:        libautoenc model file %u.%u\n", major, minor);
    char kind[128];
    snprintf(kind, sizeof kind, "%s%s%s", arch & AE_ARCH_VARIATIONAL ? "variational autoencoder" : "autoencoder",
             arch & AE_ARCH_TIED_WEIGHTS ? ", tied weights" : "",
             layers == enc ? ", encoder only" : "");
    printf("kind:          %s\n", kind);
    printf("widths:        ");
    for (size_t l = 0; l < layers; l++) {
        size_t n_out = 0, n_in = 0;
        ae_model_layer_info(m, l, &n_out, &n_in, NULL);
        if (l == 0)
            printf("%zu", n_in);
        if (arch & AE_ARCH_VARIATIONAL && l == enc - 1)
            n_out /= 2;
        printf(" -> %zu", n_out);
    }
    printf("\ninput:         %zu\nlatent:        %zu\nparameters:    %zu\n", ae_model_input_dim(m),
           ae_model_latent_dim(m), ae_model_param_count(m));
    printf("layers:\n");
    for (size_t l = 0; l < layers; l++) {
        size_t n_out = 0, n_in = 0;
        int act = 0;
        ae_layer_description desc;
        memset(&desc, 0, sizeof desc);
        desc.size = sizeof desc;
        ae_model_layer_info(m, l, &n_out, &n_in, &act);
        ae_model_describe_layer(m, l, &desc);
        const char *role = l < enc ? (l == enc - 1 ? "encoder (code)" : "encoder") :
                                     (l == layers - 1 ? "decoder (output)" : "decoder");
        char line[160];
        int len = snprintf(line, sizeof line, "  %2zu  %-16s %6zu -> %-6zu %-11s", l, role, n_in,
                           n_out, activation(act));
        if (desc.tied)
            snprintf(line + len, sizeof line - (size_t)len, " tied to layer %llu",
                     (unsigned long long)desc.weights_layer);
        else if (arch & AE_ARCH_VARIATIONAL && l == enc - 1)
            snprintf(line + len, sizeof line - (size_t)len, " mean and log-variance");
        len = (int)strlen(line);
        while (len > 0 && line[len - 1] == ' ')
            line[--len] = '\0';
        printf("%s\n", line);
    }
    double scaling = 0, loss = 0;
    ae_model_get_param(m, AE_PARAM_SCALING, &scaling);
    ae_model_get_param(m, AE_PARAM_LOSS, &loss);
    char buf[64];
    printf("scaling:       %s", cli_param_value_text(AE_PARAM_SCALING, scaling, buf, sizeof buf));
    if (scaling != AE_SCALING_NONE) {
        size_t d = ae_model_input_dim(m);
        float *offset = cli_malloc_array(d, sizeof *offset), *scale = cli_malloc_array(d, sizeof *scale);
        if (offset && scale && ae_model_get_scaling(m, offset, scale, d) == AE_OK) {
            float lo = INFINITY, hi = -INFINITY;
            for (size_t i = 0; i < d; i++) {
                lo = scale[i] < lo ? scale[i] : lo;
                hi = scale[i] > hi ? scale[i] : hi;
            }
            printf(", fitted (scales %.6g to %.6g)", (double)lo, (double)hi);
        } else {
            printf(", not fitted yet");
        }
        free(offset);
        free(scale);
    }
    double threshold;
    if (ae_model_get_threshold(m, &threshold) == AE_OK)
        printf("\nthreshold:     %.9g\n", threshold);
    else
        printf("\nthreshold:     none\n");
    uint64_t steps = 0;
    ae_model_get_optimizer_state(m, &steps, NULL, NULL, 0);
    if (steps > 0)
        printf("optimizer:     state saved after %llu steps\n", (unsigned long long)steps);
    else
        printf("optimizer:     no state saved\n");
    printf("settings:\n");
    ae_param params[256];
    size_t n = cli_param_list(params, 256);
    for (size_t i = 0; i < n; i++) {
        double v = 0;
        if (ae_model_get_param(m, params[i], &v) == AE_OK)
            printf("  %-22s %s\n", ae_param_name(params[i]),
                   cli_param_value_text(params[i], v, buf, sizeof buf));
    }
    ae_model_free(m);
    return cli_flush_stdout();
}

static int data_info(const char *path, const cli_read_options *o)
{
    cli_dataset ds;
    int rc = cli_dataset_open(&ds, path, o);
    if (rc)
        return rc;
    static const char *const formats[] = {"unknown", "NPY", "IDX", "CSV"};
    float *row = cli_malloc_array(ds.cols, sizeof *row);
    if (!row) {
        cli_dataset_free(&ds);
        return cli_fail(CLI_EX_OSERR, "out of memory");
    }
    double lo = INFINITY, hi = -INFINITY, sum = 0;
    size_t non_finite = 0;
    for (size_t i = 0; i < ds.rows; i++) {
        const float *x = cli_dataset_rows(&ds, i, 1, row);
        for (size_t j = 0; j < ds.cols; j++) {
            double v = x[j];
            if (!isfinite(v)) {
                non_finite++;
                continue;
            }
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
            sum += v;
        }
    }
    free(row);
    printf("file:          %s\nformat:        %s%s\nrows:          %zu\ncolumns:       %zu\n", path,
           formats[ds.format], ds.format == CLI_FORMAT_NPY && ds.data && !ds.owns_data ? " (float32, memory-mapped)" : "",
           ds.rows, ds.cols);
    if (ds.image_width)
        printf("image:         %zux%zu%s\n", ds.image_width, ds.image_height,
               ds.image_channels == 3 ? "x3" : "");
    if (lo <= hi)
        printf("values:        %.9g to %.9g, mean %.9g\n", lo, hi,
               sum / ((double)ds.rows * (double)ds.cols - (double)non_finite));
    else
        printf("values:        none finite\n");
    if (non_finite)
        printf("non-finite:    %zu values (NaN or infinite)\n", non_finite);
    cli_dataset_free(&ds);
    return cli_flush_stdout();
}

int cmd_info(int argc, char **argv)
{
    cli_common c;
    cli_common_init(&c);
    const cli_opt *groups[] = {cli_opts_misc, cli_opts_data, NULL};
    cli_args a;
    if (cli_args_init(&a, "info", argc, argv) != 0)
        return cli_fail(CLI_EX_OSERR, "out of memory");
    int id, rc;
    const char *value;
    while ((rc = cli_next_option(&a, groups, &id, &value)) == 1)
        if ((rc = cli_common_option(&c, id, value)) != 0)
            break;
    if (rc == 0 && c.help)
        rc = cli_print_help("info");
    else if (rc == 0 && (rc = cli_expect_positionals(&a, 1, 1, "autoenc info MODEL|DATA")) == 0) {
        unsigned major = 0, minor = 0;
        if (file_is_model(a.positional[0], &major, &minor))
            rc = model_info(a.positional[0], major, minor);
        else if (strstr(a.positional[0], ".aemodel"))
            rc = cli_load_model(a.positional[0], &(ae_model *){NULL}); /* reports why */
        else
            rc = data_info(a.positional[0], &c.read);
    }
    cli_args_free(&a);
    return rc;
}
