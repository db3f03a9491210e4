/* Atomic output files: a temporary file in the target's folder, renamed over the target
 * once complete and flushed, so a crash, a full disk or Ctrl-C leaves the old file or
 * the new one, never a torn one. The temporary names are registered so that a second
 * Ctrl-C, which ends the process at once, can remove them. */
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

enum { MAX_OPEN_OUTPUTS = 8 };
static char *volatile open_temps[MAX_OPEN_OUTPUTS];

static void register_temp(char *temp)
{
    for (int i = 0; i < MAX_OPEN_OUTPUTS; i++)
        if (!open_temps[i]) {
            open_temps[i] = temp;
            return;
        }
}

static void unregister_temp(const char *temp)
{
    for (int i = 0; i < MAX_OPEN_OUTPUTS; i++)
        if (open_temps[i] == temp)
            open_temps[i] = NULL;
}

void cli_atomic_abort_all_from_signal(void)
{
    for (int i = 0; i < MAX_OPEN_OUTPUTS; i++) {
        char *temp = open_temps[i];
        if (temp)
            unlink(temp);
    }
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

int cli_atomic_open(cli_atomic *a, const char *path)
{
    memset(a, 0, sizeof *a);
    if (strcmp(path, "-") == 0) {
        a->is_stdout = 1;
        a->fp = stdout;
        return 0;
    }
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
    a->path = strdup(path);
    char *folder = folder_of(path);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = (folder ? strlen(folder) : 0) + strlen(base) + 16;
    a->temp = malloc(n);
    if (!a->path || !folder || !a->temp) {
        free(folder);
        free(a->path);
        free(a->temp);
        memset(a, 0, sizeof *a);
        return cli_fail(CLI_EX_OSERR, "out of memory");
    }
    snprintf(a->temp, n, "%s/.%s.XXXXXX", folder, base);
    free(folder);
    int fd = mkstemp(a->temp);
    if (fd < 0) {
        int e = errno;
        free(a->path);
        free(a->temp);
        memset(a, 0, sizeof *a);
        return cli_fail(CLI_EX_CANTCREAT, "%s: cannot create: %s", path, strerror(e));
    }
    register_temp(a->temp);
    fchmod(fd, mode);
    a->fp = fdopen(fd, "wb");
    if (!a->fp) {
        close(fd);
        cli_atomic_abort(a);
        return cli_fail(CLI_EX_OSERR, "out of memory");
    }
    setvbuf(a->fp, NULL, _IOFBF, 1 << 20);
    return 0;
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

int cli_atomic_commit(cli_atomic *a)
{
    if (a->is_stdout) {
        int bad = fflush(stdout) != 0 || ferror(stdout);
        memset(a, 0, sizeof *a);
        return bad ? cli_fail(CLI_EX_IOERR, "standard output: write error: %s", strerror(errno))
                   : 0;
    }
    int e = 0;
    if (fflush(a->fp) != 0 || ferror(a->fp))
        e = errno ? errno : EIO;
    if (!e && fsync(fileno(a->fp)) != 0 && errno != EINVAL)
        e = errno;
    if (fclose(a->fp) != 0 && !e)
        e = errno;
    a->fp = NULL;
    if (!e && rename(a->temp, a->path) != 0)
        e = errno;
    if (e) {
        int status = cli_fail(CLI_EX_IOERR, "%s: cannot write: %s (the file is unchanged)",
                              a->path, strerror(e));
        cli_atomic_abort(a);
        return status;
    }
    unregister_temp(a->temp);
    sync_folder(a->path);
    free(a->temp);
    free(a->path);
    memset(a, 0, sizeof *a);
    return 0;
}

void cli_atomic_abort(cli_atomic *a)
{
    if (a->is_stdout) {
        fflush(stdout);
        memset(a, 0, sizeof *a);
        return;
    }
    if (a->fp)
        fclose(a->fp);
    if (a->temp) {
        unlink(a->temp);
        unregister_temp(a->temp);
    }
    free(a->temp);
    free(a->path);
    memset(a, 0, sizeof *a);
}
