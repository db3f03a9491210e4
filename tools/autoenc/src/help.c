/* Help: every subcommand's --help and the man page autoenc(1) are rendered from the
 * tables below, and the settings reference from the library itself (settings.c), so
 * the three cannot disagree. The build writes the man page with `autoenc help --man`. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"
#include "common.h"
#include "settings.h"

#include <autoenc.h>

#include <stdio.h>
#include <string.h>

typedef struct help_option {
    const char *flags;
    const char *text;
} help_option;

typedef struct help_group {
    const char *title;
    const help_option *options;
} help_group;

typedef struct help_command {
    const char *name;
    const char *usage;
    const char *summary;
    const char *description;
    const help_group *groups[6];
    int settings; /* append the settings reference */
} help_command;

static const help_option misc_options[] = {
    {"-q, --quiet", "print nothing but errors on stderr"},
    {"-h, --help", "show this help"},
    {0, 0}};
static const help_option output_options[] = {
    {"-o, --output FILE", "write to FILE (replaced atomically: written under a temporary name "
                          "in the same folder, then renamed); without -o, CSV goes to standard "
                          "output; '-' is standard output"},
    {"--format npy|csv|tsv", "the output format; by default from the extension of FILE "
                             "(.csv, .tsv, .txt), else NPY (float32, C order)"},
    {0, 0}};
static const help_option data_options[] = {
    {"--header, --no-header", "CSV: the first row is (not) a header; detected by default"},
    {"--delimiter C", "CSV: the field separator, one character, 'tab' or 'space'; detected by "
                      "default among comma, tab, semicolon and '|'"},
    {"--columns LIST", "CSV: the columns to use, by 1-based number, range or header name, "
                       "e.g. 2-785 or x,y,z"},
    {"--labels FILE", "one label per row (IDX labels, NPY or CSV), for --class; for the "
                      "standard IDX names (train-images-idx3-ubyte.gz) the sibling labels "
                      "file is found by itself"},
    {"--class K", "keep only the rows labelled K (e.g. one-class training)"},
    {"--rows N", "use only the first N rows (after --class)"},
    {0, 0}};
static const help_option png_options[] = {
    {"--png FILE", "also draw the rows as a PNG picture"},
    {"--image WxH[x3]", "the rows' image shape; implied by IDX and 3-D NPY files, and by a "
                        "square number of values"},
    {"--scale N", "draw each value as N x N pixels (default 2)"},
    {"--count N", "how many rows to draw, or for score how many of each end (default 16)"},
    {0, 0}};
static const help_option chunk_options[] = {
    {"--chunk N", "rows per block (default: about 8 MiB of values); memory stays bounded "
                  "whatever the size of DATA"},
    {0, 0}};

static const help_option train_options[] = {
    {"-o, --output MODEL", "save the trained model to MODEL (atomically)"},
    {"-w, --widths IN,H1,...,CODE", "the encoder's widths from the input to the code; IN must "
                                    "equal the values per row of DATA"},
    {"--decoder CODE,...,IN", "the decoder's widths (default: the encoder mirrored)"},
    {"--tied", "tied weights: each decoder layer uses its mirror encoder layer's weights"},
    {"--variational", "a variational autoencoder (for sample)"},
    {"--pretrain", "greedy layer-wise pre-training before the fit"},
    {"--resume MODEL", "go on training a saved model (warm start) instead of a new one"},
    {"--validation-data FILE", "a fixed validation set instead of --validation SHARE"},
    {"--contamination SHARE", "after training, fit the anomaly threshold so that SHARE of the "
                              "training rows score above it"},
    {"--history FILE", "write the per-epoch losses as CSV (stage,epoch,train_loss,val_loss,seconds)"},
    {"--checkpoint-every N", "save the model every N epochs while training"},
    {"--checkpoint FILE", "where checkpoints go (default: the -o MODEL file)"},
    {"--save-optimizer", "save the optimizer state too, so that --resume continues exactly"},
    {"--stream", "read DATA a chunk at a time through the library's data sources, so memory "
                 "stays bounded for files larger than memory; rows are shuffled through a "
                 "buffer of --set shuffle_buffer=N rows (give validation rows as "
                 "--validation-data)"},
    {"--distributed", "one process of an MPI job, started as mpirun -np N autoenc train "
                      "--distributed ...: each process reads only its own block of the rows "
                      "of DATA (and of --validation-data), an NPY or IDX file, and trains one "
                      "model with the others, the gradients summed over every process (--batch "
                      "is per process); process 0 prints the progress and writes MODEL, "
                      "checkpoints, --history and --json. Needs an autoenc built with Open MPI; "
                      "not with --class, --contamination or CSV data"},
    {"--json", "print the fit report as JSON on standard output at the end"},
    {"--set NAME=VALUE", "any setting by its library name (see SETTINGS), e.g. "
                         "--set learning_rate=3e-3 or --set loss=bce; may be repeated"},
    {"--epochs N, --batch N, --lr X, --seed N, --loss mse|bce, --optimizer sgd|adam|adamw, "
     "--momentum X, --weight-decay X, --clip-norm X, --validation SHARE, --patience N, "
     "--min-delta X, --activation A, --latent-activation A, --output-activation A, "
     "--noise none|gaussian|masking|salt_and_pepper, --noise-level X, "
     "--scaling none|minmax|standardize, --sparsity X, --sparsity-target X, "
     "--sparsity-layer N, --l1 X, --contractive X, --dropout X, --dropout-input X, "
     "--kl-weight X, --kl-warmup N, --threads N",
     "named flags for the settings listed under SETTINGS. --loss bce implies a sigmoid "
     "output unless --output-activation is given. Settings are applied activations first, "
     "then scaling, loss and noise, so any consistent command line works; a real conflict "
     "is reported with the library's reason"},
    {0, 0}};

static const help_option detect_options[] = {
    {"--threshold X", "use X instead of the threshold stored in the model"},
    {"--scores", "write the score beside each label (two float columns)"},
    {0, 0}};
static const help_option encode_options[] = {
    {"--distribution", "variational models: write the means and then the log-variances "
                       "(2 x CODE columns)"},
    {0, 0}};
static const help_option threshold_options[] = {
    {"-c, --contamination SHARE", "the expected share of anomalies in DATA, in [0, 0.5]: the "
                                  "threshold is the 1 - SHARE quantile of its scores"},
    {"--value X", "set the threshold to X (no DATA)"},
    {"-o, --output FILE", "save the model with its threshold to FILE instead of in place"},
    {"--json", "print the threshold as JSON"},
    {0, 0}};
static const help_option sample_options[] = {
    {"-n, --samples N", "how many rows to generate (default 16)"},
    {"--seed N", "the seed of the codes drawn (default 0; the same seed gives the same rows)"},
    {0, 0}};
static const help_option interpolate_options[] = {
    {"--from I, --to J", "the 0-based indices of the two rows of DATA (default 0 and 1)"},
    {"-n, --steps N", "rows on the way, both ends included (default 10)"},
    {0, 0}};
static const help_option eval_options[] = {{"--json", "print the figures as JSON"}, {0, 0}};

static const help_group g_misc = {"General options", misc_options};
static const help_group g_output = {"Output options", output_options};
static const help_group g_data = {"Data options", data_options};
static const help_group g_png = {"Picture options", png_options};
static const help_group g_chunk = {"Streaming", chunk_options};

static const help_command commands[] = {
    {"train", "DATA -o MODEL --widths IN,...,CODE [options]",
     "train an autoencoder on the rows of DATA",
     "Makes a model with the given widths (or loads one with --resume), applies the settings, "
     "and trains it with one ae_model_fit on all rows of DATA, which is memory-mapped (float32 "
     "NPY) or read once. Progress goes to stderr: a bar redrawn in place on a terminal, one "
     "line per epoch otherwise. Ctrl-C stops at the next batch and saves the model trained so "
     "far (the best epoch's weights when there is validation), with exit status 130; a second "
     "Ctrl-C quits at once.",
     {&(help_group){"Training options", train_options}, &g_data, &g_misc}, 1},
    {"encode", "MODEL DATA [-o OUT]", "write the latent code of every row",
     "Writes one row of CODE values per row of DATA.",
     {&(help_group){"Encode options", encode_options}, &g_output, &g_data, &g_chunk, &g_misc}, 0},
    {"decode", "MODEL CODES [-o OUT]", "decode latent codes into rows",
     "CODES holds one code (CODE values) per row; writes one output row per code.",
     {&g_output, &g_data, &g_chunk, &g_misc}, 0},
    {"reconstruct", "MODEL DATA [-o OUT] [--png FILE]", "write the reconstruction of every row",
     "Writes decode(encode(row)) for every row of DATA, in the data's own units. --png draws "
     "lines of originals, each above the line of their reconstructions.",
     {&g_output, &g_png, &g_data, &g_chunk, &g_misc}, 0},
    {"score", "MODEL DATA [-o OUT] [--png FILE]", "write the anomaly score of every row",
     "A row's score is its mean reconstruction loss (ae_model_score). --png draws the most "
     "anomalous rows on the first line and the least anomalous on the second.",
     {&g_output, &g_png, &g_data, &g_chunk, &g_misc}, 0},
    {"detect", "MODEL DATA [-o OUT]", "label the rows scoring above the model's threshold",
     "Writes 1 for an anomalous row and 0 otherwise (NPY uint8), and says on stderr how many "
     "rows are anomalous. The threshold comes from train --contamination, autoenc threshold, "
     "or --threshold.",
     {&(help_group){"Detect options", detect_options}, &g_output, &g_data, &g_chunk, &g_misc}, 0},
    {"threshold", "MODEL DATA --contamination SHARE [-o OUT] | MODEL --value X",
     "fit or set the anomaly threshold stored in a model",
     "Saves the model with its new threshold, in place (atomically) unless -o is given.",
     {&(help_group){"Threshold options", threshold_options}, &g_data, &g_misc}, 0},
    {"eval", "MODEL DATA [--json]", "print the loss and the mean squared error on DATA",
     "Prints the number of rows, the model's loss (MSE or BCE, on the scaled values when the "
     "model scales its inputs) and the mean squared error of the reconstructions in the data's "
     "own units.",
     {&(help_group){"Eval options", eval_options}, &g_data, &g_misc}, 0},
    {"sample", "MODEL -n N [-o OUT] [--png FILE]", "generate rows from a variational model",
     "Draws N codes from the standard normal prior and decodes them.",
     {&(help_group){"Sample options", sample_options}, &g_output, &g_png, &g_misc}, 0},
    {"interpolate", "MODEL DATA --from I --to J [-n STEPS] [-o OUT] [--png FILE]",
     "decode points on the line between two rows' codes",
     "Encodes rows I and J of DATA and decodes STEPS evenly spaced points between their codes "
     "(both ends included). --png draws them as a strip.",
     {&(help_group){"Interpolate options", interpolate_options}, &g_output, &g_png, &g_data, &g_misc}, 0},
    {"info", "MODEL|DATA", "describe a model file or a data file",
     "For a model: the file format version, the kind of model, the widths, each layer's "
     "activation, the parameter count, the scaling, the anomaly threshold, the optimizer "
     "steps taken and every setting. For a data file: its format, rows, columns, image shape "
     "and range of values.",
     {&g_data, &g_misc}, 0},
    {"help", "[COMMAND] | --man", "show the help of a command, or print the man page",
     "autoenc help --man prints autoenc(1) in troff, from the same text as --help.",
     {0}, 0},
};
enum { N_COMMANDS = sizeof commands / sizeof commands[0] };

static const struct exit_status {
    int code;
    const char *meaning;
} exit_statuses[] = {
    {CLI_OK, "success"},
    {CLI_EX_USAGE, "the command line is wrong (unknown option, bad value, conflicting settings)"},
    {CLI_EX_DATAERR, "a data file is malformed, or does not fit the model (width, NaN, range)"},
    {CLI_EX_NOINPUT, "an input file is missing, unreadable or a directory"},
    {CLI_EX_SOFTWARE, "an internal error (please report it)"},
    {CLI_EX_OSERR, "out of memory"},
    {CLI_EX_CANTCREAT, "an output file cannot be created (checked before the work)"},
    {CLI_EX_IOERR, "reading or writing failed part way (an input, or any output: data, "
                   "picture, history or model)"},
    {CLI_EX_MODEL, "a model file does not load (damaged, not a model, or from a newer library)"},
    {CLI_EX_MODEL_STATE, "the model cannot do this (no threshold, not variational, encoder only)"},
    {CLI_EX_TRAINING, "training diverged (nothing saved)"},
    {CLI_EX_PEER, "train --distributed: another process of the job failed; its own message "
                  "says why"},
    {CLI_EX_INTERRUPTED, "interrupted by Ctrl-C (SIGINT); another signal N gives 128+N (129 "
                         "SIGHUP, 131 SIGQUIT, 143 SIGTERM...). After one SIGINT or SIGTERM "
                         "train saves the model so far first; otherwise nothing is written"},
};

static const char *const file_text[] = {
    "DATA is recognised by its content: NPY (versions 1 to 3; float16/32/64, integer and bool "
    "dtypes; C order, or Fortran order for 2-D arrays; a little-endian float32 C-order file is "
    "memory-mapped and never read whole), IDX (the MNIST format, plain or gzip-compressed; "
    "bytes are pixels scaled to [0, 1]) or CSV/TSV text (numbers only; the delimiter is "
    "detected, and a first row of text is a header, one mixing numbers and text is refused "
    "unless --header or --no-header says which). An array of 3 or 4 dimensions holds images, "
    "one per row.",
    "Outputs are NPY (float32, C order) unless the name ends in .csv, .tsv or .txt or --format "
    "says otherwise, and are never left half-written: each is written under a temporary name "
    "beside it, made before the work, and a command renames all of its outputs into place "
    "only once every one is complete, so a failed or interrupted command leaves every old "
    "file as it was (train's checkpoints, saved as training goes, excepted). An output that "
    "names one of the command's inputs or another of its outputs is refused (64).",
    "Every malformed input is reported in one line naming the file, the place (line and "
    "column, or byte offset) and what was expected.",
    NULL};

/* The variables of the environment that change what autoenc does (ENVIRONMENT in the man
 * page): OpenBLAS's, which it reads when it is loaded, before autoenc starts. */
static const help_option environment[] = {
    {"OPENBLAS_CORETYPE", "the OpenBLAS kernels to use, e.g. SkylakeX (AVX-512) or Haswell "
                          "(AVX2), instead of those OpenBLAS picks for the CPU. OpenBLAS "
                          "0.3.21 (Debian 12) does not know recent Intel CPUs (Sapphire and "
                          "Emerald Rapids...) and runs its Prescott (SSE3) kernels there; "
                          "OPENBLAS_CORETYPE=SkylakeX made training about 2-3x faster on such "
                          "a CPU. train says which value to export when it finds OpenBLAS on "
                          "kernels older than the CPU supports (not with --quiet), and "
                          "autoenc --version names the kernels in use"},
    {"OPENBLAS_NUM_THREADS", "OpenBLAS's threads (by default one per core). With 1, train's own "
                             "threads (--threads) split each batch by rows, which is usually "
                             "faster"},
    {0, 0}};

static const char *const examples[] = {
    "autoenc train train-images-idx3-ubyte.gz -o fashion.aemodel --widths 784,256,32 --epochs 10 --loss bce",
    "autoenc encode fashion.aemodel t10k-images-idx3-ubyte.gz -o codes.npy",
    "autoenc reconstruct fashion.aemodel t10k-images-idx3-ubyte.gz -o recon.npy --png recon.png",
    "autoenc train train-images-idx3-ubyte.gz --class 0 -o tshirts.aemodel --widths 784,128,16 --contamination 0.01",
    "autoenc score tshirts.aemodel t10k-images-idx3-ubyte.gz -o scores.csv --png extremes.png",
    "autoenc train data.csv --widths 30,16,4 --scaling standardize --set weight_decay=1e-4 -o m.aemodel",
    "autoenc train train-images-idx3-ubyte.gz --variational --widths 784,256,8 -o vae.aemodel",
    "autoenc sample vae.aemodel -n 64 -o samples.npy --png samples.png",
    NULL};

/* Writes @p text wrapped to @p width columns, each line indented by @p indent. */
static void wrap(FILE *out, const char *text, size_t indent, size_t first_col, size_t width)
{
    size_t col = first_col;
    const char *p = text;
    while (*p) {
        while (*p == ' ')
            p++;
        size_t len = strcspn(p, " ");
        if (len == 0)
            break;
        if (col > indent && col + 1 + len > width) {
            fprintf(out, "\n%*s", (int)indent, "");
            col = indent;
        } else if (col > indent) {
            fputc(' ', out);
            col++;
        } else if (col < indent) {
            fprintf(out, "%*s", (int)(indent - col), "");
            col = indent;
        }
        fwrite(p, 1, len, out);
        col += len;
        p += len;
    }
    fputc('\n', out);
}

static const help_command *find(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

/* A table of options (or variables): the name, then its text wrapped beside or below it. */
static void print_options(FILE *out, const help_option *options)
{
    for (const help_option *o = options; o->flags; o++) {
        size_t len = strlen(o->flags);
        fprintf(out, "  %s", o->flags);
        if (len + 2 > 78) { /* a long list of flags: wrap it, text below */
            fputc('\n', out);
            wrap(out, o->text, 8, 0, 80);
        } else if (len + 2 >= 30) {
            fprintf(out, "\n");
            wrap(out, o->text, 30, 0, 80);
        } else {
            wrap(out, o->text, 30, len + 2, 80);
        }
    }
}

static void print_command(FILE *out, const help_command *c)
{
    fprintf(out, "Usage: autoenc %s %s\n\n", c->name, c->usage);
    wrap(out, c->summary, 0, 0, 80);
    fputc('\n', out);
    wrap(out, c->description, 0, 0, 80);
    for (size_t g = 0; g < 6 && c->groups[g]; g++) {
        fprintf(out, "\n%s:\n", c->groups[g]->title);
        print_options(out, c->groups[g]->options);
    }
    if (c->settings) {
        fprintf(out, "\nSettings (--set NAME=VALUE, or the flag in brackets; ranges and defaults "
                     "from libautoenc %s):\n",
                ae_version_string());
        cli_settings_reference(out, 0);
    }
}

static void print_main(FILE *out)
{
    fprintf(out, "Usage: autoenc COMMAND [ARGS] [OPTIONS]\n\n"
                 "Deep stacked autoencoders from the command line (libautoenc %s).\n\nCommands:\n",
            ae_version_string());
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-13s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'autoenc COMMAND --help' describes a command; 'man autoenc' all of them.\n\n");
    for (size_t i = 0; file_text[i]; i++) {
        wrap(out, file_text[i], 0, 0, 80);
        fputc('\n', out);
    }
    fprintf(out, "Exit statuses:\n");
    for (size_t i = 0; i < sizeof exit_statuses / sizeof exit_statuses[0]; i++) {
        fprintf(out, "  %3d", exit_statuses[i].code);
        wrap(out, exit_statuses[i].meaning, 7, 5, 80);
    }
    fprintf(out, "\nEnvironment:\n");
    print_options(out, environment);
}

/* troff: escape backslashes and hyphens, protect a leading dot or quote. */
static void troff_text(FILE *out, const char *s)
{
    if (*s == '.' || *s == '\'')
        fputs("\\&", out);
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\e", out);
        else if (*s == '-')
            fputs("\\-", out);
        else
            fputc(*s, out);
    }
}

/* A table of options (or variables) as tagged paragraphs, the name in bold. */
static void man_options(FILE *out, const help_option *options)
{
    for (const help_option *o = options; o->flags; o++) {
        fprintf(out, ".TP\n.B ");
        troff_text(out, o->flags);
        fputc('\n', out);
        troff_text(out, o->text);
        fputc('\n', out);
    }
}

static void print_man(FILE *out)
{
    fprintf(out, ".\\\" Generated by 'autoenc help --man' from the tool's --help text; do not edit.\n");
    fprintf(out, ".TH AUTOENC 1 \"\" \"autoenc %s\" \"User Commands\"\n", ae_version_string());
    fprintf(out, ".SH NAME\nautoenc \\- train and use deep stacked autoencoders (libautoenc)\n");
    fprintf(out, ".SH SYNOPSIS\n");
    for (size_t i = 0; i < N_COMMANDS; i++) {
        fprintf(out, ".B autoenc %s\n", commands[i].name);
        troff_text(out, commands[i].usage);
        fprintf(out, "\n.br\n");
    }
    fprintf(out, ".SH DESCRIPTION\n");
    for (size_t i = 0; file_text[i]; i++) {
        fprintf(out, ".PP\n");
        troff_text(out, file_text[i]);
        fputc('\n', out);
    }
    fprintf(out, ".SH COMMANDS\n");
    for (size_t i = 0; i < N_COMMANDS; i++) {
        const help_command *c = &commands[i];
        fprintf(out, ".SS \"autoenc %s\"\n.B autoenc %s\n", c->name, c->name);
        troff_text(out, c->usage);
        fprintf(out, "\n.PP\n");
        troff_text(out, c->summary);
        fprintf(out, ".\n");
        troff_text(out, c->description);
        fputc('\n', out);
        for (size_t g = 0; g < 6 && c->groups[g]; g++) {
            fprintf(out, ".PP\n%s:\n", c->groups[g]->title);
            man_options(out, c->groups[g]->options);
        }
    }
    fprintf(out, ".SH SETTINGS\nEvery setting of the library, for\n.BR \"autoenc train \\-\\-set\" \" NAME=VALUE\"\n"
                 "or its named flag, with its range and default (libautoenc %s):\n",
            ae_version_string());
    cli_settings_reference(out, 1);
    fprintf(out, ".SH EXIT STATUS\n");
    for (size_t i = 0; i < sizeof exit_statuses / sizeof exit_statuses[0]; i++) {
        fprintf(out, ".TP\n.B %d\n", exit_statuses[i].code);
        troff_text(out, exit_statuses[i].meaning);
        fputc('\n', out);
    }
    fprintf(out, ".SH ENVIRONMENT\n");
    man_options(out, environment);
    fprintf(out, ".SH EXAMPLES\n");
    for (size_t i = 0; examples[i]; i++) {
        fprintf(out, ".PP\n.nf\n");
        troff_text(out, examples[i]);
        fprintf(out, "\n.fi\n");
    }
    fprintf(out, ".SH SEE ALSO\nThe guide docs/cli.md and the API guide of libautoenc.\n");
}

int cli_print_help(const char *command)
{
    const help_command *c = command ? find(command) : NULL;
    if (c)
        print_command(stdout, c);
    else
        print_main(stdout);
    return cli_flush_stdout();
}

int cmd_help(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "--man") == 0) {
        print_man(stdout);
        return cli_flush_stdout();
    }
    if (argc >= 2 && strcmp(argv[1], "-h") != 0 && strcmp(argv[1], "--help") != 0 &&
        !find(argv[1]))
        return cli_fail(CLI_EX_USAGE, "help: no command '%s' (see 'autoenc help')", argv[1]);
    return cli_print_help(argc >= 2 ? argv[1] : NULL);
}
