/* Label files: one integer per row, from an IDX label file, an NPY array or a CSV
 * column; and the labels file that sits next to a standard IDX images file. */
#define _POSIX_C_SOURCE 200809L
#include "dataset.h"

#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cli_read_labels(const char *path, long **labels, size_t *count)
{
    cli_read_options o;
    cli_read_options_init(&o);
    cli_dataset ds;
    int rc = cli_dataset_open(&ds, path, &o);
    if (rc)
        return rc;
    if (ds.cols != 1) {
        rc = cli_fail(CLI_EX_DATAERR, "%s: %zu values per row, expected one label per row", path,
                      ds.cols);
        cli_dataset_free(&ds);
        return rc;
    }
    long *out = cli_malloc_array(ds.rows, sizeof *out);
    float *row = cli_malloc_array(1, sizeof *row);
    if (!out || !row) {
        free(out);
        free(row);
        cli_dataset_free(&ds);
        return cli_fail(CLI_EX_OSERR, "out of memory");
    }
    float scale = ds.value_scale > 0 ? ds.value_scale : 1.0f;
    for (size_t i = 0; i < ds.rows; i++) {
        float v = cli_dataset_rows(&ds, i, 1, row)[0] / scale;
        double r = nearbyint((double)v);
        if (!isfinite(v) || fabs((double)v - r) > 1e-3 || r < 0 || r > 1e9) {
            char where[128];
            cli_dataset_where(&ds, i, 0, where, sizeof where);
            rc = cli_fail(CLI_EX_DATAERR, "%s: %s: %g, expected a label (a whole number >= 0)",
                          path, where, (double)v);
            break;
        }
        out[i] = (long)r;
    }
    *count = ds.rows;
    free(row);
    cli_dataset_free(&ds);
    if (rc) {
        free(out);
        return rc;
    }
    *labels = out;
    return 0;
}

char *cli_sibling_labels(const char *images_path)
{
    static const struct {
        const char *from, *to;
    } renames[] = {{"images-idx3-ubyte", "labels-idx1-ubyte"},
                   {"images.idx3-ubyte", "labels.idx1-ubyte"},
                   {"images", "labels"}};
    const char *base = strrchr(images_path, '/');
    base = base ? base + 1 : images_path;
    size_t len = strlen(images_path);
    for (size_t r = 0; r < sizeof renames / sizeof renames[0]; r++) {
        const char *at = strstr(base, renames[r].from);
        if (!at)
            continue;
        size_t from_len = strlen(renames[r].from), to_len = strlen(renames[r].to);
        char *candidate = malloc(len - from_len + to_len + 4);
        if (!candidate)
            return NULL;
        size_t prefix = (size_t)(at - images_path);
        memcpy(candidate, images_path, prefix);
        strcpy(candidate + prefix, renames[r].to);
        strcat(candidate, at + from_len);
        if (access(candidate, R_OK) == 0)
            return candidate;
        /* The other compression: with or without ".gz". */
        size_t n = strlen(candidate);
        if (n > 3 && strcmp(candidate + n - 3, ".gz") == 0)
            candidate[n - 3] = '\0';
        else
            strcat(candidate, ".gz");
        if (access(candidate, R_OK) == 0)
            return candidate;
        free(candidate);
    }
    return NULL;
}
