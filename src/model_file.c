/* Model files on disk: loading from a path and atomic saving to a path. */
#include "format.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int io_error(const char *what, const char *path, int error_number)
{
    char reason[128];
    if (strerror_r(error_number, reason, sizeof reason) != 0)
        snprintf(reason, sizeof reason, "error %d", error_number);
    return ae_fail(NULL, AE_ERR_IO, "%s %s: %s", what, path, reason);
}

int ae_model_load(ae_model **out, const char *path)
{
    AE_CHECK(out != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "out is NULL");
    *out = NULL;
    AE_CHECK(path != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "path is NULL");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return io_error("cannot open", path, errno);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int error_number = errno;
        close(fd);
        return io_error("cannot inspect", path, error_number);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return ae_fail(NULL, AE_ERR_IO, "%s is not a regular file", path);
    }
    if ((uintmax_t)st.st_size > SIZE_MAX) {
        close(fd);
        return ae_fail(NULL, AE_ERR_FORMAT, "%s is too large to be a model file here", path);
    }
    size_t size = (size_t)st.st_size;
    /* The file is read whole: loading holds at most the file plus the model. */
    unsigned char *bytes = ae_alloc(size ? size : 1);
    if (!bytes) {
        close(fd);
        return ae_fail(NULL, AE_ERR_OUT_OF_MEMORY, "out of memory reading %zu bytes of %s", size,
                       path);
    }
    size_t done = 0;
    while (done < size) {
        ssize_t got = read(fd, bytes + done, size - done);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            int error_number = got < 0 ? errno : 0;
            close(fd);
            ae_free(bytes);
            if (got == 0)
                return ae_fail(NULL, AE_ERR_IO, "%s shrank while being read", path);
            return io_error("cannot read", path, error_number);
        }
        done += (size_t)got;
    }
    close(fd);
    int status = ae_format_load(out, bytes, size);
    ae_free(bytes);
    if (status != AE_OK && status != AE_ERR_OUT_OF_MEMORY) {
        char why[AE_MESSAGE_SIZE];
        snprintf(why, sizeof why, "%s", ae_last_error());
        ae_fail(NULL, status, "%s: %s", path, why);
    }
    return status;
}

/* A name for the temporary file: "<path>.tmp." and six characters. */
static void temporary_name(char *tmp, const char *path, size_t path_length)
{
    static atomic_uint counter;
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    struct timespec now;
    timespec_get(&now, TIME_UTC);
    uint64_t mix = (uint64_t)getpid() * 0x9E3779B97F4A7C15ull ^ (uint64_t)now.tv_nsec ^
                   ((uint64_t)now.tv_sec << 30) ^ (uint64_t)(uintptr_t)tmp ^
                   ((uint64_t)atomic_fetch_add(&counter, 1) << 40);
    ae_rng rng;
    ae_rng_seed(&rng, mix);
    memcpy(tmp, path, path_length);
    memcpy(tmp + path_length, ".tmp.", 5);
    for (int i = 0; i < 6; i++)
        tmp[path_length + 5 + i] = alphabet[ae_rng_below(&rng, sizeof alphabet - 1)];
    tmp[path_length + 11] = '\0';
}

static int write_all(int fd, const unsigned char *bytes, size_t size)
{
    size_t done = 0;
    while (done < size) {
        ssize_t put = write(fd, bytes + done, size - done);
        if (put < 0 && errno == EINTR)
            continue;
        if (put < 0)
            return -1;
        done += (size_t)put;
    }
    return 0;
}

/* The folder holding path, written into folder (room for strlen(path) + 2 bytes). */
static void folder_of(const char *path, char *folder)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        memcpy(folder, ".", 2);
    else if (slash == path)
        memcpy(folder, "/", 2);
    else {
        memcpy(folder, path, (size_t)(slash - path));
        folder[slash - path] = '\0';
    }
}

/* Flush a folder so that a rename inside it is durable; 0 or an errno value. */
static int sync_folder(const char *folder)
{
    int fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    int error_number = 0;
    /* Some file systems cannot flush a folder; nothing more can be done there. */
    if (fsync(fd) != 0 && errno != EINVAL && errno != ENOTSUP)
        error_number = errno;
    close(fd);
    return error_number;
}

static int write_atomically(const char *path, const unsigned char *bytes, size_t size)
{
    size_t path_length = strlen(path);
    AE_CHECK(path_length > 0, NULL, AE_ERR_INVALID_ARGUMENT, "path is empty");
    AE_CHECK(path_length <= SIZE_MAX / 2 - 16, NULL, AE_ERR_INVALID_ARGUMENT, "path is too long");
    /* Both names are allocated up front, so nothing can fail for memory after the rename. */
    char *tmp = ae_alloc(2 * path_length + 14);
    AE_CHECK(tmp != NULL, NULL, AE_ERR_OUT_OF_MEMORY, "out of memory saving to %s", path);
    char *folder = tmp + path_length + 12;
    folder_of(path, folder);

    /* open with O_EXCL rather than mkstemp: the file gets the permissions of any new file
     * (0666 less the umask), not mkstemp's 0600. */
    int fd = -1;
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        temporary_name(tmp, path, path_length);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        int status = io_error("cannot create a temporary file next to", path, errno);
        ae_free(tmp);
        return status;
    }
    /* Replacing a file keeps its permissions. */
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
        (void)fchmod(fd, st.st_mode & 07777);

    const char *failed = NULL;
    int error_number = 0;
    if (write_all(fd, bytes, size) != 0)
        failed = "cannot write";
    else if (fsync(fd) != 0)
        failed = "cannot flush";
    if (failed)
        error_number = errno;
    if (close(fd) != 0 && !failed) {
        failed = "cannot close";
        error_number = errno;
    }
    if (!failed && rename(tmp, path) != 0) {
        failed = "cannot rename the temporary file over";
        error_number = errno;
    }
    if (failed) {
        unlink(tmp);
        ae_free(tmp);
        return io_error(failed, path, error_number);
    }
    error_number = sync_folder(folder);
    ae_free(tmp);
    if (error_number != 0)
        return io_error("saved, but cannot flush the folder of", path, error_number);
    return AE_OK;
}

int ae_model_save(const ae_model *m, const char *path, unsigned flags)
{
    AE_CHECK(path != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "path is NULL");
    unsigned char *bytes;
    size_t size;
    AE_FORWARD(ae_format_serialise(m, flags, &bytes, &size));
    int status = write_atomically(path, bytes, size);
    ae_free(bytes);
    return status;
}
