/* The files a command reads and writes, so that an output never replaces one of the
 * command's inputs or another of its outputs (encode M.aemodel X.npy -o M.aemodel would
 * have put codes where the model was). A file that exists is known by its device and
 * inode, so that another name of it (./x, a link) is caught; one that does not exist yet,
 * by its folder's real path and its name. */
#define _XOPEN_SOURCE 700 /* realpath */
#include "output.h"

#include "cli.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum claim_role { CLAIM_INPUT, CLAIM_OUTPUT, CLAIM_REPLACEABLE };
enum { MAX_CLAIMS = 32 };

typedef struct claim {
    enum claim_role role;
    int exists;
    dev_t dev;
    ino_t ino;
    char *where; /* the real folder and the name, for a file that does not exist */
    const char *path;
} claim;

static claim claims[MAX_CLAIMS];
static size_t n_claims;

static char *real_place(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *folder = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    char *real = folder ? realpath(folder, NULL) : NULL;
    const char *base = slash ? slash + 1 : path;
    char *where = real ? malloc(strlen(real) + strlen(base) + 2) : NULL;
    if (where)
        sprintf(where, "%s/%s", real, base);
    free(folder);
    free(real);
    return where ? where : strdup(path);
}

static int same_file(const claim *a, const claim *b)
{
    if (a->exists != b->exists)
        return 0;
    return a->exists ? a->dev == b->dev && a->ino == b->ino
                     : a->where && b->where && strcmp(a->where, b->where) == 0;
}

static int claim_file(const char *path, enum claim_role role)
{
    claim c = {role, 0, 0, 0, NULL, path};
    struct stat st;
    if (stat(path, &st) == 0) {
        c.exists = 1;
        c.dev = st.st_dev;
        c.ino = st.st_ino;
    } else if (role == CLAIM_OUTPUT) {
        c.where = real_place(path);
    } else {
        return 0; /* a missing input is reported where it is opened */
    }
    for (size_t i = 0; i < n_claims; i++) {
        const claim *o = &claims[i];
        if (!same_file(&c, o))
            continue;
        if (role == CLAIM_INPUT && o->role == CLAIM_REPLACEABLE)
            break; /* replaced on purpose: no conflict to find */
        if (role == CLAIM_OUTPUT && o->role == CLAIM_OUTPUT) {
            free(c.where);
            return cli_fail(CLI_EX_USAGE, "the outputs %s and %s are the same file: give each "
                                          "its own name", o->path, path);
        }
        if ((role == CLAIM_OUTPUT && o->role == CLAIM_INPUT) ||
            (role == CLAIM_INPUT && o->role == CLAIM_OUTPUT)) {
            free(c.where);
            const char *in = role == CLAIM_INPUT ? path : o->path;
            const char *out = role == CLAIM_INPUT ? o->path : path;
            return cli_fail(CLI_EX_USAGE, "the output %s would replace the input %s (the same "
                                          "file): give another output name", out, in);
        }
    }
    if (n_claims == MAX_CLAIMS) { /* more files than any command has: nothing to compare */
        free(c.where);
        return 0;
    }
    claims[n_claims++] = c;
    return 0;
}

int cli_claim_input(const char *path) { return claim_file(path, CLAIM_INPUT); }
int cli_claim_output(const char *path) { return claim_file(path, CLAIM_OUTPUT); }
int cli_claim_replaceable(const char *path) { return claim_file(path, CLAIM_REPLACEABLE); }
