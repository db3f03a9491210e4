/* Model files on disk (docs/format.md, "Reading" and "Saving to a path"): loading
 * reads the header before the rest and refuses anything but a regular file without
 * blocking on it; saving writes a temporary file next to the target and renames it over
 * the target. Names are opened relative to a descriptor of their folder (the *at
 * calls), so a path longer than PATH_MAX loads when each piece of it can be reached. */
#define _GNU_SOURCE /* O_PATH, guarded */
#include "format.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

/* A folder descriptor only serves as the base of *at calls: O_PATH needs no read
 * permission on the folder, only the right to reach it. */
#ifdef O_PATH
#define FOLDER_FLAGS (O_PATH | O_DIRECTORY | O_CLOEXEC)
#else
#define FOLDER_FLAGS (O_RDONLY | O_DIRECTORY | O_CLOEXEC)
#endif

/* ---- messages ---------------------------------------------------------------- */

/* strerror_r is the XSI one (int) or, with _GNU_SOURCE on glibc, the GNU one (char *). */
static const char *xsi_reason(int result, const char *buffer) { return result == 0 ? buffer : NULL; }
static const char *gnu_reason(const char *result, const char *buffer)
{
    (void)buffer;
    return result;
}
#define STRERROR_TEXT(result, buffer) \
    _Generic((result), int: xsi_reason, char *: gnu_reason)((result), (buffer))

static int io_error(const char *what, const char *path, int error_number)
{
    char buffer[128];
    const char *reason = STRERROR_TEXT(strerror_r(error_number, buffer, sizeof buffer), buffer);
    if (!reason) {
        snprintf(buffer, sizeof buffer, "error %d", error_number);
        reason = buffer;
    }
    return ae_fail(NULL, AE_ERR_IO, "%s %s: %s", what, path, reason);
}

static const char *file_kind(mode_t mode)
{
    if (S_ISDIR(mode))
        return "directory";
    if (S_ISFIFO(mode))
        return "FIFO";
    if (S_ISCHR(mode))
        return "character device";
    if (S_ISBLK(mode))
        return "block device";
    if (S_ISSOCK(mode))
        return "socket";
    return "special file";
}

static int not_a_regular_file(const char *path, mode_t mode)
{
    return ae_fail(NULL, AE_ERR_IO, "%s is a %s, not a regular file", path, file_kind(mode));
}

/* A failure of the format layer, prefixed with the path it came from. */
static int with_path(int status, const char *path)
{
    if (status != AE_OK && status != AE_ERR_OUT_OF_MEMORY) {
        char why[AE_MESSAGE_SIZE];
        snprintf(why, sizeof why, "%s", ae_last_error());
        ae_fail(NULL, status, "%s: %s", path, why);
    }
    return status;
}

static void close_keeping_errno(int fd)
{
    int error_number = errno;
    close(fd);
    errno = error_number;
}

/* ---- paths ------------------------------------------------------------------- */

/* Open the folder named by the `length` bytes at `folder` (not NUL-terminated), relative
 * to at_fd, in pieces of fewer than PATH_MAX bytes cut at slashes. The descriptor, or -1
 * with errno set. */
static int open_folder(int at_fd, const char *folder, size_t length)
{
    char piece[PATH_MAX];
    int fd = at_fd;
    size_t done = 0;
    while (done < length) {
        if (done > 0 && folder[done] == '/') {
            done++; /* a piece after the first must not start with '/': it would be absolute */
            continue;
        }
        size_t n = length - done;
        if (n >= sizeof piece) {
            n = sizeof piece - 1;
            while (n > 0 && folder[done + n - 1] != '/')
                n--;
            if (n == 0) {
                if (fd != at_fd)
                    close(fd);
                errno = ENAMETOOLONG;
                return -1;
            }
        }
        memcpy(piece, folder + done, n);
        piece[n] = '\0';
        int next = openat(fd, piece, FOLDER_FLAGS);
        if (fd != at_fd)
            close_keeping_errno(fd);
        if (next < 0)
            return -1;
        fd = next;
        done += n;
    }
    return fd;
}

/* Split the `length` bytes at path (NUL-terminated right after them) into a descriptor
 * of its folder, relative to at_fd, and the name inside it ("." for a path ending in a
 * slash, so that it names the folder). The descriptor, or -1 with errno set. */
static int open_folder_of(int at_fd, const char *path, size_t length, const char **name)
{
    const char *slash = NULL;
    for (size_t i = length; i > 0 && !slash; i--)
        if (path[i - 1] == '/')
            slash = path + i - 1;
    if (!slash) {
        *name = path;
        return open_folder(at_fd, ".", 1);
    }
    *name = slash[1] ? slash + 1 : ".";
    return open_folder(at_fd, path, slash == path ? 1 : (size_t)(slash - path));
}

/* ---- loading ----------------------------------------------------------------- */

/* Read up to n bytes; fewer only at the end of the file. The count, or -1 with errno. */
static ssize_t read_up_to(int fd, unsigned char *bytes, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t got = read(fd, bytes + done, n - done);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return -1;
        if (got == 0)
            break;
        done += (size_t)got;
    }
    return (ssize_t)done;
}

/* Open path for reading if it is a regular file. Opening does not block (a FIFO without
 * a writer would wait forever), and reading then blocks as usual. */
static int open_regular_file(const char *path, int *out_fd, struct stat *st)
{
    const char *name;
    int folder_fd = open_folder_of(AT_FDCWD, path, strlen(path), &name);
    if (folder_fd < 0)
        return io_error("cannot open", path, errno);
    int fd = openat(folder_fd, name, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    int error_number = errno;
    close(folder_fd);
    if (fd < 0)
        return io_error("cannot open", path, error_number);
    int status = AE_OK;
    int flags;
    if (fstat(fd, st) != 0)
        status = io_error("cannot inspect", path, errno);
    else if (!S_ISREG(st->st_mode))
        status = not_a_regular_file(path, st->st_mode);
    else if ((flags = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0)
        status = io_error("cannot read", path, errno);
    if (status != AE_OK) {
        close(fd);
        return status;
    }
    *out_fd = fd;
    return AE_OK;
}

/* Read the file after its checked header (the first `have` bytes, in header) and load it. */
static int load_rest(ae_model **out, int fd, const struct stat *st, const char *path,
                     const unsigned char *header, size_t have)
{
    if ((uintmax_t)st->st_size > SIZE_MAX)
        return ae_fail(NULL, AE_ERR_FORMAT, "%s is too large to be a model file here", path);
    size_t size = (size_t)st->st_size > have ? (size_t)st->st_size : have;
    /* The file is read whole: loading holds at most the file plus the model. */
    unsigned char *bytes = ae_alloc(size);
    AE_CHECK(bytes != NULL, NULL, AE_ERR_OUT_OF_MEMORY, "out of memory reading %zu bytes of %s",
             size, path);
    memcpy(bytes, header, have);
    ssize_t got = read_up_to(fd, bytes + have, size - have);
    int status;
    if (got < 0)
        status = io_error("cannot read", path, errno);
    else if ((size_t)got < size - have)
        status = ae_fail(NULL, AE_ERR_IO, "%s shrank while being read", path);
    else
        status = with_path(ae_format_load(out, bytes, size), path);
    ae_free(bytes);
    return status;
}

int ae_model_load(ae_model **out, const char *path)
{
    AE_CHECK(out != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "out is NULL");
    *out = NULL;
    AE_CHECK(path != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "path is NULL");
    int fd = -1;
    struct stat st;
    AE_FORWARD(open_regular_file(path, &fd, &st));
    /* The header first: a file that is not a model is refused without reading it all. */
    unsigned char header[HEADER_SIZE];
    ssize_t have = read_up_to(fd, header, sizeof header);
    int status;
    if (have < 0)
        status = io_error("cannot read", path, errno);
    else if ((status = with_path(ae_format_check_header(header, (size_t)have), path)) == AE_OK)
        status = load_rest(out, fd, &st, path, header, (size_t)have);
    close(fd);
    return status;
}

/* ---- saving ------------------------------------------------------------------ */

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
