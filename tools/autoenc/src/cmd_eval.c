/* autoenc eval MODEL DATA: the model's loss (ae_model_loss) and the mean squared error
 * of the reconstructions in the data's own units, over every row, a block at a time. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *loss_name(double loss) { return loss == AE_LOSS_BCE ? "bce" : "mse"; }

static int evaluate(const cli_common *c, const char *model_path, const char *data_path)
{
    ae_model *m = NULL;
    cli_dataset ds;
    memset(&ds, 0, sizeof ds);
    float *scratch = NULL, *y = NULL;
    int rc = cli_load_model(model_path, &m);
    if (rc)
        return rc;
    size_t d = ae_model_input_dim(m);
    if (ae_model_layer_count(m) == ae_model_encoder_layer_count(m)) {
        rc = cli_fail(CLI_EX_MODEL_STATE, "%s: an encoder alone cannot be evaluated: it has no "
                                          "decoder", model_path);
        goto done;
    }
    if ((rc = cli_open_data(&ds, data_path, &c->read, d, model_path, "rows")) != 0)
        goto done;
    double loss_kind = 0, scaling = 0;
    ae_model_get_param(m, AE_PARAM_LOSS, &loss_kind);
    ae_model_get_param(m, AE_PARAM_SCALING, &scaling);
    size_t chunk = ((size_t)1 << 20) / d ? ((size_t)1 << 20) / d : 1;
    if (chunk > ds.rows)
        chunk = ds.rows;
    scratch = cli_dataset_is_contiguous(&ds) ? NULL : cli_malloc_array(chunk, d * sizeof(float));
    y = cli_malloc_array(chunk, d * sizeof(float));
    if ((!scratch && !cli_dataset_is_contiguous(&ds)) || !y) {
        rc = cli_fail(CLI_EX_OSERR, "out of memory");
        goto done;
    }
    double loss_sum = 0, se_sum = 0;
    for (size_t first = 0; first < ds.rows; first += chunk) {
        size_t n = ds.rows - first < chunk ? ds.rows - first : chunk;
        const float *x = cli_dataset_rows(&ds, first, n, scratch);
        double loss = 0;
        int arc = ae_model_loss(m, x, n, d, &loss);
        if (arc == AE_OK)
            arc = ae_model_reconstruct(m, x, n, d, y, d);
        if (arc != AE_OK) {
            rc = cli_dataset_report(&ds, first, n, arc, ae_last_error(),
                                    loss_kind == AE_LOSS_BCE && scaling == AE_SCALING_NONE);
            goto done;
        }
        loss_sum += loss * (double)n;
        for (size_t i = 0; i < n * d; i++) {
            double e = (double)y[i] - (double)x[i];
            se_sum += e * e;
        }
        cli_dataset_release(&ds, first + n);
    }
    double mean_loss = loss_sum / (double)ds.rows;
    double mse = se_sum / ((double)ds.rows * (double)d);
    if (c->json)
        printf("{\"rows\": %zu, \"loss\": \"%s\", \"loss_value\": %.9g, \"mse\": %.9g}\n",
               ds.rows, loss_name(loss_kind), mean_loss, mse);
    else
        printf("rows %zu\nloss (%s) %.6g\nmse %.6g\n", ds.rows, loss_name(loss_kind), mean_loss,
               mse);
    rc = cli_flush_stdout();
done:
    free(scratch);
    free(y);
    cli_dataset_free(&ds);
    ae_model_free(m);
    return rc;
}

int cmd_eval(int argc, char **argv)
{
    cli_common c;
    cli_common_init(&c);
    const cli_opt *groups[] = {cli_opts_misc, cli_opts_data, NULL};
    cli_args a;
    if (cli_args_init(&a, "eval", argc, argv) != 0)
        return cli_fail(CLI_EX_OSERR, "out of memory");
    int id, rc;
    const char *value;
    while ((rc = cli_next_option(&a, groups, &id, &value)) == 1)
        if ((rc = cli_common_option(&c, id, value)) != 0)
            break;
    if (rc == 0 && c.help)
        rc = cli_print_help("eval");
    else if (rc == 0 && (rc = cli_expect_positionals(&a, 2, 2, "autoenc eval MODEL DATA")) == 0)
        rc = evaluate(&c, a.positional[0], a.positional[1]);
    cli_args_free(&a);
    return rc;
}
