/* The C side of the Python package's bit-identity test: trains a model exactly as a
 * C program would and writes its flat parameters, so the test can compare them with
 * those of the same fit made through the package.
 *
 *   autoenc_py_reference_fit DATA N_ROWS N_COLS OUT WIDTH... [-- NAME=VALUE...]
 *
 * DATA holds N_ROWS x N_COLS float32 values (native byte order, row-major); WIDTH...
 * are the encoder widths (the first equal to N_COLS; the decoder mirrors them);
 * each NAME=VALUE is a setting, by its ae_param_name, applied in order. OUT receives
 * ae_model_param_count() float32 values. Exit status 0, or 1 with a message. */
#include <autoenc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what, const char *detail)
{
    fprintf(stderr, "reference_fit: %s: %s\n", what, detail);
    return 1;
}

static int param_by_name(const char *name)
{
    for (int id = 0; id < 1024; id++) {
        const char *known = ae_param_name((ae_param)id);
        if (known && strcmp(known, name) == 0)
            return id;
    }
    return -1;
}

int main(int argc, char **argv)
{
    if (argc < 7)
        return fail("usage", "DATA N_ROWS N_COLS OUT WIDTH WIDTH... [-- NAME=VALUE...]");
    const size_t n_rows = strtoul(argv[2], NULL, 10), n_cols = strtoul(argv[3], NULL, 10);
    size_t widths[64], n_widths = 0;
    int arg = 5;
    for (; arg < argc && strcmp(argv[arg], "--") != 0 && n_widths < 64; arg++)
        widths[n_widths++] = strtoul(argv[arg], NULL, 10);

    float *x = malloc(n_rows * n_cols * sizeof *x);
    FILE *in = fopen(argv[1], "rb");
    if (!x || !in || fread(x, sizeof *x, n_rows * n_cols, in) != n_rows * n_cols)
        return fail(argv[1], "cannot read the data");
    fclose(in);

    ae_model *model = NULL;
    if (ae_model_create(&model, widths, n_widths, NULL, 0) != AE_OK)
        return fail("ae_model_create", ae_last_error());
    for (arg++; arg < argc; arg++) {
        char name[128];
        const char *eq = strchr(argv[arg], '=');
        if (!eq || (size_t)(eq - argv[arg]) >= sizeof name)
            return fail("setting", argv[arg]);
        memcpy(name, argv[arg], (size_t)(eq - argv[arg]));
        name[eq - argv[arg]] = '\0';
        int id = param_by_name(name);
        if (id < 0)
            return fail("unknown setting", name);
        if (ae_model_set_param(model, (ae_param)id, strtod(eq + 1, NULL)) != AE_OK)
            return fail("ae_model_set_param", ae_model_last_error(model));
    }

    ae_fit_report report = {0};
    report.size = sizeof report;
    if (ae_model_fit(model, x, n_rows, n_cols, &report) != AE_OK)
        return fail("ae_model_fit", ae_model_last_error(model));

    const size_t n_params = ae_model_param_count(model);
    float *params = malloc(n_params * sizeof *params);
    if (!params || ae_model_get_params(model, params, n_params) != AE_OK)
        return fail("ae_model_get_params", ae_last_error());
    FILE *out = fopen(argv[4], "wb");
    if (!out || fwrite(params, sizeof *params, n_params, out) != n_params || fclose(out) != 0)
        return fail(argv[4], "cannot write the parameters");
    printf("%llu epochs, %llu steps, loss %.9g\n", (unsigned long long)report.epochs_run,
           (unsigned long long)report.steps_run, report.final_train_loss);
    free(params);
    free(x);
    ae_model_free(model);
    return 0;
}
