/* Atomic output files: a temporary file in the target's folder, written and flushed, and
 * renamed over the target only when every output of the command is complete
 * (cli_outputs_commit), so a crash, a full disk, a failure or Ctrl-C leaves the old files,
 * never a torn one nor one output of a command that failed. The pending outputs live in a
 * table here, so that a signal handler and the end of main can remove their temporaries. */
#define _POSIX_C_SOURCE 200809L
#include "output.h"

#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { MAX_OUTPUTS = 8 };

typedef struct pending_output {
    char *path;   /* the target */
    FILE *fp;     /* open while being written */
    int finished; /* written, flushed and closed: waits for the commit */
} pending_output;

static pending_output outputs[MAX_OUTPUTS];
/* The temporaries' names, apart, for the signal handler (only whole pointers change). */
static char *volatile temps[MAX_OUTPUTS];

void cli_atomic_abort_all_from_signal(void)
{
    for (int i = 0; i < MAX_OUTPUTS; i++) {
        char *temp = temps[i];
        if (temp)
            unlink(temp);
    }
}

static void release(int slot, int remove_temp)
{
    pending_output *o = &outputs[slot];
    char *temp = temps[slot];
    temps[slot] = NULL; /* before the free: a signal may come at any point */
    if (o->fp)
        fclose(o->fp);
    if (temp && remove_temp)
        unlink(temp);
    free(temp);
    free(o->path);
    memset(o, 0, sizeof *o);
}

static char *folder_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

/* "<folder>/.<name>.XXXXXX" for mkstemp, the name cut so that the whole stays within the
 * folder's longest name: a target of any valid length gets a temporary. */
static char *temp_template(const char *path)
{
    char *folder = folder_of(path);
    if (!folder)
        return NULL;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    long name_max = pathconf(folder, _PC_NAME_MAX);
    size_t keep = strlen(base), room = name_max > 8 ? (size_t)name_max - 8 : 247;
    if (keep > room)
        keep = room; /* the 8: '.' before, ".XXXXXX" after */
    size_t n = strlen(folder) + keep + 16;
    char *temp = malloc(n);
    if (temp)
        snprintf(temp, n, "%s/.%.*s.XXXXXX", folder, (int)keep, base);
    free(folder);
    return temp;
}

int cli_atomic_open(cli_atomic *a, const char *path)
{
    memset(a, 0, sizeof *a);
    a->path = path;
    if (strcmp(path, "-") == 0) {
        a->fp = stdout;
        return 0;
    }
    int rc = cli_claim_output(path);
    if (rc)
        return rc;
    struct stat st;
    mode_t mode;
    if (stat(path, &st) == 0) {
        if (!S_ISREG(st.st_mode))
            return cli_fail(CLI_EX_CANTCREAT, "%s: is %s, expected a file to write", path,
                            S_ISDIR(st.st_mode) ? "a directory" : "not a regular file");
        mode = st.st_mode & 07777;
    } else {
        mode_t mask = umask(0);
        umask(mask);
        mode = 0666 & ~mask;
    }
    int slot = 0;
    while (slot < MAX_OUTPUTS && (outputs[slot].path || temps[slot]))
        slot++;
    if (slot == MAX_OUTPUTS)
        return cli_fail(CLI_EX_SOFTWARE, "internal error: more than %d outputs", MAX_OUTPUTS);
    pending_output *o = &outputs[slot];
    char *temp = temp_template(path);
    o->path = strdup(path);
    if (!temp || !o->path) {
        free(temp);
        release(slot, 0);
        return cli_fail(CLI_EX_OSERR, "out of memory");
    }
    int fd = mkstemp(temp);
    if (fd < 0) {
        int e = errno;
        free(temp);
        release(slot, 0);
        return cli_fail(CLI_EX_CANTCREAT, "%s: cannot create: %s", path, strerror(e));
    }
    temps[slot] = temp;
    fchmod(fd, mode);
    o->fp = fdopen(fd, "wb");
    if (!o->fp) {
        close(fd);
        release(slot, 1);
        return cli_fail(CLI_EX_OSERR, "out of memory");
    }
    setvbuf(o->fp, NULL, _IOFBF, 1 << 20);
    a->slot = slot + 1;
    a->fp = o->fp;
    a->path = o->path;
    return 0;
}

int cli_atomic_finish(cli_atomic *a)
{
    if (a->slot == 0) { /* standard output */
        int bad = a->fp && (fflush(a->fp) != 0 || ferror(a->fp));
        int e = errno;
        a->fp = NULL;
        return bad ? cli_fail(CLI_EX_IOERR, "standard output: write error: %s", strerror(e)) : 0;
    }
    pending_output *o = &outputs[a->slot - 1];
    int e = 0;
    if (fflush(o->fp) != 0 || ferror(o->fp))
        e = errno ? errno : EIO;
    if (!e && fsync(fileno(o->fp)) != 0 && errno != EINVAL)
        e = errno;
    if (fclose(o->fp) != 0 && !e)
        e = errno;
    o->fp = NULL;
    a->fp = NULL;
    if (e) {
        int status = cli_fail(CLI_EX_IOERR, "%s: cannot write: %s (the file is unchanged)",
                              o->path, strerror(e));
        cli_atomic_abort(a);
        return status;
    }
    o->finished = 1;
    return 0;
}

void cli_atomic_abort(cli_atomic *a)
{
    if (a->slot > 0)
        release(a->slot - 1, 1);
    else if (a->fp)
        fflush(a->fp);
    memset(a, 0, sizeof *a);
}

static void sync_folder(const char *path)
{
    char *folder = folder_of(path);
    if (!folder)
        return;
    int fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd); /* best effort: the rename is done either way */
        close(fd);
    }
    free(folder);
}

int cli_outputs_commit(void)
{
    for (int i = 0; i < MAX_OUTPUTS; i++)
        if (outputs[i].path && !outputs[i].finished) {
            cli_outputs_discard();
            return cli_fail(CLI_EX_SOFTWARE, "internal error: %s was not finished",
                            outputs[i].path);
        }
    /* Every temporary is complete, so only a rename can fail now (hardly ever). */
    int replaced = 0;
    for (int i = 0; i < MAX_OUTPUTS; i++) {
        if (!outputs[i].path)
            continue;
        if (rename(temps[i], outputs[i].path) != 0) {
            int e = errno;
            int status = cli_fail(CLI_EX_IOERR, "%s: cannot replace it: %s (%d other outputs "
                                  "replaced before it)", outputs[i].path, strerror(e), replaced);
            cli_outputs_discard();
            return status;
        }
        sync_folder(outputs[i].path);
        replaced++;
        release(i, 0);
    }
    return 0;
}

void cli_outputs_discard(void)
{
    for (int i = 0; i < MAX_OUTPUTS; i++)
        if (outputs[i].path || temps[i])
            release(i, 1);
}
