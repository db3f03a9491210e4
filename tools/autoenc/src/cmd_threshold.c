/* autoenc threshold MODEL DATA --contamination C [-o NEW]: fit the anomaly threshold
 * to the scores of DATA (or set it with --value) and save the model, in place unless
 * -o is given (an atomic output: the old file stays whole until the new one is). */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"
#include "common.h"
#include "output.h"

#include <stdio.h>
#include <string.h>

enum { OPT_CONTAMINATION = OPT_COMMAND_BASE, OPT_VALUE };
static const cli_opt threshold_opts[] = {
    {"contamination", 'c', 1, OPT_CONTAMINATION}, {"value", 0, 1, OPT_VALUE}, {0}};

int cmd_threshold(int argc, char **argv)
{
    cli_common c;
    cli_common_init(&c);
    const cli_opt *groups[] = {cli_opts_misc, cli_opts_output, cli_opts_data, threshold_opts, NULL};
    cli_args a;
    if (cli_args_init(&a, "threshold", argc, argv) != 0)
        return cli_fail(CLI_EX_OSERR, "out of memory");
    double contamination = 0, value = 0;
    int have_contamination = 0, have_value = 0, id, rc;
    const char *text;
    while ((rc = cli_next_option(&a, groups, &id, &text)) == 1) {
        rc = cli_common_option(&c, id, text);
        if (rc > 0)
            break;
        rc = 0;
        if (id == OPT_CONTAMINATION) {
            rc = cli_parse_double("--contamination", text, &contamination);
            have_contamination = 1;
            if (rc == 0 && !(contamination >= 0 && contamination <= 0.5))
                rc = cli_fail(CLI_EX_USAGE, "--contamination %s: expected a share in [0, 0.5]",
                              text);
        } else if (id == OPT_VALUE) {
            rc = cli_parse_double("--value", text, &value);
            have_value = 1;
            if (rc == 0 && value < 0)
                rc = cli_fail(CLI_EX_USAGE, "--value %s: expected a threshold of at least 0 "
                                            "(scores are never negative)", text);
        }
        if (rc)
            break;
    }
    ae_model *m = NULL;
    cli_dataset ds;
    memset(&ds, 0, sizeof ds);
    if (rc == 0 && c.help) {
        rc = cli_print_help("threshold");
        goto done;
    }
    if (rc)
        goto done;
    cli_set_quiet(c.quiet);
    if (have_contamination == have_value) {
        rc = cli_fail(CLI_EX_USAGE, have_value ? "threshold: give --contamination or --value, not "
                                                 "both"
                                               : "threshold: give --contamination SHARE (with "
                                                 "DATA) or --value THRESHOLD");
        goto done;
    }
    if ((rc = cli_expect_positionals(&a, have_value ? 1 : 2, have_value ? 1 : 2,
                                     "autoenc threshold MODEL DATA --contamination SHARE [-o "
                                     "OUT], or MODEL --value THRESHOLD")) != 0)
        goto done;
    const char *model_path = a.positional[0];
    const char *out = c.output ? c.output : model_path;
    cli_atomic model_out;
    if ((rc = cli_claim_replaceable(model_path)) != 0 || /* updated in place by design */
        (rc = cli_atomic_open(&model_out, out)) != 0 ||
        (rc = cli_load_model(model_path, &m)) != 0)
        goto done;
    double threshold = value;
    int arc;
    if (have_value) {
        arc = ae_model_set_threshold(m, value);
        if (arc != AE_OK) {
            rc = cli_fail(CLI_EX_USAGE, "--value: %s", ae_model_last_error(m));
            goto done;
        }
    } else {
        if ((rc = cli_open_data(&ds, a.positional[1], &c.read, ae_model_input_dim(m), model_path,
                                "rows")) != 0 ||
            (rc = cli_dataset_materialize(&ds)) != 0)
            goto done;
        arc = ae_model_fit_threshold(m, ds.data, ds.rows, ds.cols, contamination, &threshold);
        if (arc == AE_ERR_INVALID_ARGUMENT) {
            rc = cli_fail(CLI_EX_USAGE, "--contamination: %s", ae_model_last_error(m));
            goto done;
        }
        if (arc != AE_OK) {
            rc = cli_dataset_report(&ds, 0, ds.rows, arc, ae_model_last_error(m), 0);
            goto done;
        }
    }
    uint64_t steps = 0; /* keep an optimizer state the file had */
    ae_model_get_optimizer_state(m, &steps, NULL, NULL, 0);
    if ((rc = cli_write_model(&model_out, m,
                              steps > 0 ? AE_SAVE_OPTIMIZER_STATE : AE_SAVE_DEFAULT)) != 0 ||
        (rc = cli_outputs_commit()) != 0)
        goto done;
    if (c.json)
        printf("{\"threshold\": %.9g}\n", threshold);
    else
        cli_note("threshold %.6g saved in %s", threshold, out);
done:
    cli_dataset_free(&ds);
    ae_model_free(m);
    cli_args_free(&a);
    return rc;
}
