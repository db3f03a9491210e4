/* Model files on disk (docs/format.md, "Loading from a path" and "Saving to a path"):
 * loading reads the header before the rest and refuses anything but a regular file
 * without blocking on it; saving writes a new file next to the file a path names
 * (following symbolic links) and renames it over that file, so a crash leaves the old
 * file or the new one. Every name is opened relative to a descriptor of its folder (the
 * *at calls), so a path longer than PATH_MAX works when each piece of it does. */
#define _GNU_SOURCE /* O_TMPFILE, O_PATH, AT_EMPTY_PATH; each use is guarded */
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
#ifndef NAME_MAX
#define NAME_MAX 255
#endif

/* Symbolic links followed at most on the way to the file to replace, as the kernel does. */
#define MAX_LINK_HOPS 40
/* A temporary name is "." + the target's name (cut to fit) + "." + RANDOM_CHARS characters. */
#define RANDOM_CHARS 6
#define MAX_NAME_ATTEMPTS 100

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

/* A path as messages show it: a long one keeps its start and its end (the file's own name)
 * around "...", so that the reason after it still fits in a message (AE_MESSAGE_SIZE). */
enum { SHOWN_PATH_MAX = 96, SHOWN_PATH_HEAD = 40 };
typedef struct shown_path {
    char text[SHOWN_PATH_MAX + 1];
} shown_path;

static shown_path shown(const char *path)
{
    shown_path p;
    const size_t length = strlen(path);
    if (length <= SHOWN_PATH_MAX) {
        memcpy(p.text, path, length + 1);
        return p;
    }
    const size_t tail = SHOWN_PATH_MAX - SHOWN_PATH_HEAD - 3;
    memcpy(p.text, path, SHOWN_PATH_HEAD);
    memcpy(p.text + SHOWN_PATH_HEAD, "...", 3);
    memcpy(p.text + SHOWN_PATH_HEAD + 3, path + length - tail, tail + 1);
    return p;
}

static int io_error(const char *what, const char *path, int error_number)
{
    char buffer[128];
    const char *reason = STRERROR_TEXT(strerror_r(error_number, buffer, sizeof buffer), buffer);
    if (!reason) {
        snprintf(buffer, sizeof buffer, "error %d", error_number);
        reason = buffer;
    }
    return ae_fail(NULL, AE_ERR_IO, "%s %s: %s", what, shown(path).text, reason);
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
    return ae_fail(NULL, AE_ERR_IO, "%s is a %s, not a regular file", shown(path).text,
                   file_kind(mode));
}

/* A failure of the format layer, prefixed with the path it came from. */
static int with_path(int status, const char *path)
{
    if (status != AE_OK && status != AE_ERR_OUT_OF_MEMORY) {
        char why[AE_MESSAGE_SIZE];
        snprintf(why, sizeof why, "%s", ae_last_error());
        ae_fail(NULL, status, "%s: %s", shown(path).text, why);
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
    /* What the path names is looked at before it is opened: opening a device can act on it
     * (a tape rewinds, a watchdog starts) and a socket cannot be opened at all, so neither is
     * opened. The check after opening stays, for a path replaced in between. */
    struct stat before;
    if (fstatat(folder_fd, name, &before, 0) == 0 && !S_ISREG(before.st_mode)) {
        close(folder_fd);
        return not_a_regular_file(path, before.st_mode);
    }
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
        return ae_fail(NULL, AE_ERR_FORMAT, "%s is too large to be a model file here",
                       shown(path).text);
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
        status = ae_fail(NULL, AE_ERR_IO, "%s shrank while being read", shown(path).text);
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

/* ---- saving: the file a path names ---------------------------------------------- */

/* The file to replace: a name in a folder, found by following symbolic links. */
typedef struct target {
    int folder_fd;
    const char *name;    /* in the caller's path or in link_text */
    char *link_text;     /* the last link followed, or NULL */
    bool exists;         /* then a regular file with status st */
    struct stat st;
} target;

static void release_target(target *t)
{
    if (t->folder_fd >= 0)
        close(t->folder_fd);
    ae_free(t->link_text);
    t->folder_fd = -1;
    t->link_text = NULL;
}

/* The text of the link `name` in folder_fd, NUL-terminated, in a new buffer; its length
 * in *length. NULL with errno set (ENOMEM when the allocation fails). */
static char *read_link(int folder_fd, const char *name, off_t size_hint, size_t *length)
{
    size_t capacity = size_hint > 0 && (uintmax_t)size_hint < PATH_MAX ? (size_t)size_hint + 1
                                                                       : PATH_MAX;
    for (;;) {
        char *text = ae_alloc(capacity);
        if (!text) {
            errno = ENOMEM;
            return NULL;
        }
        ssize_t n = readlinkat(folder_fd, name, text, capacity);
        if (n >= 0 && (size_t)n < capacity) {
            text[n] = '\0';
            *length = (size_t)n;
            return text;
        }
        int error_number = errno;
        ae_free(text);
        if (n < 0) {
            errno = error_number;
            return NULL;
        }
        /* The link grew since it was looked at, or st_size was wrong (some /proc links). */
        if (capacity > SIZE_MAX / 2) {
            errno = ENAMETOOLONG;
            return NULL;
        }
        capacity *= 2;
    }
}

/* Find the file path names, following symbolic links as an editor does, so a link stays
 * a link and the file it names is replaced: relative link texts count from the link's
 * folder, at most MAX_LINK_HOPS links, and a link to nothing leads to the file to create.
 * Refuses anything that exists and is not a regular file. */
static int resolve_target(const char *path, target *t)
{
    memset(t, 0, sizeof *t);
    t->folder_fd = open_folder_of(AT_FDCWD, path, strlen(path), &t->name);
    if (t->folder_fd < 0)
        return io_error("cannot open the folder of", path, errno);
    for (int hops = 0;; hops++) {
        if (fstatat(t->folder_fd, t->name, &t->st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT)
                return AE_OK; /* a new file */
            return io_error("cannot inspect", path, errno);
        }
        if (!S_ISLNK(t->st.st_mode))
            break;
        if (hops == MAX_LINK_HOPS)
            return io_error("cannot follow the symbolic links of", path, ELOOP);
        size_t length;
        char *text = read_link(t->folder_fd, t->name, t->st.st_size, &length);
        if (!text) {
            if (errno == ENOMEM)
                return ae_fail(NULL, AE_ERR_OUT_OF_MEMORY,
                               "out of memory following the links of %s", shown(path).text);
            return io_error("cannot read the symbolic link", path, errno);
        }
        const char *name;
        int folder_fd = open_folder_of(t->folder_fd, text, length, &name);
        if (folder_fd < 0) {
            int error_number = errno;
            ae_free(text);
            return io_error("cannot open the folder of the file linked from", path,
                            error_number);
        }
        close(t->folder_fd);
        ae_free(t->link_text);
        t->folder_fd = folder_fd;
        t->link_text = text;
        t->name = name;
    }
    if (!S_ISREG(t->st.st_mode))
        return not_a_regular_file(path, t->st.st_mode);
    t->exists = true;
    return AE_OK;
}

/* ---- saving: writing and replacing --------------------------------------------- */

/* What failed (a phrase completed by the path) and the system's reason. */
typedef struct failure {
    const char *what;
    int error_number;
} failure;

static bool fail_step(failure *why, const char *what)
{
    why->what = what;
    why->error_number = errno;
    return false;
}

/* The longest file name the folder's file system takes (ecryptfs: 143), at most NAME_MAX
 * and at least room for a temporary name that keeps one byte of the target's. */
static size_t folder_name_max(int folder_fd)
{
    long limit = fpathconf(folder_fd, _PC_NAME_MAX);
    if (limit <= 0 || limit > NAME_MAX)
        return NAME_MAX;
    return (size_t)limit < RANDOM_CHARS + 3 ? RANDOM_CHARS + 3 : (size_t)limit;
}

/* A fresh temporary name for a file next to `name`: "." + name + "." + random characters,
 * with name cut (never inside a UTF-8 character) so that the whole fits in name_max. */
static void temporary_name(char tmp[NAME_MAX + 1], const char *name, size_t name_max)
{
    static atomic_uint counter;
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    size_t keep = strlen(name);
    if (keep > name_max - RANDOM_CHARS - 2) {
        keep = name_max - RANDOM_CHARS - 2;
        while (keep > 0 && ((unsigned char)name[keep] & 0xC0) == 0x80)
            keep--; /* name[keep], the first byte dropped, continues a character */
    }
    struct timespec now;
    timespec_get(&now, TIME_UTC);
    uint64_t mix = (uint64_t)getpid() * 0x9E3779B97F4A7C15ull ^ (uint64_t)now.tv_nsec ^
                   ((uint64_t)now.tv_sec << 30) ^ (uint64_t)(uintptr_t)tmp ^
                   ((uint64_t)atomic_fetch_add(&counter, 1) << 40);
    ae_rng rng;
    ae_rng_seed(&rng, mix);
    tmp[0] = '.';
    memcpy(tmp + 1, name, keep);
    tmp[keep + 1] = '.';
    for (size_t i = 0; i < RANDOM_CHARS; i++)
        tmp[keep + 2 + i] = alphabet[ae_rng_below(&rng, sizeof alphabet - 1)];
    tmp[keep + 2 + RANDOM_CHARS] = '\0';
}

/* The new file keeps the permissions of the one it replaces and, where the system lets
 * this process give them, its owner and group. */
static void keep_owner_and_mode(int fd, const target *t)
{
    if (!t->exists)
        return;
    if (fchown(fd, t->st.st_uid, t->st.st_gid) != 0) {
        /* Only a privileged process may give a file away: it stays ours. */
    }
    if (fchmod(fd, t->st.st_mode & 07777) != 0) {
        /* Our own new file: this does not fail in practice, and it is only metadata. */
    }
}

/* Write all bytes and flush them to the device. */
static bool write_and_flush(int fd, const unsigned char *bytes, size_t size, failure *why)
{
    size_t done = 0;
    while (done < size) {
        ssize_t put = write(fd, bytes + done, size - done);
        if (put < 0 && errno == EINTR)
            continue;
        if (put < 0)
            return fail_step(why, "cannot write");
        done += (size_t)put;
    }
    if (fsync(fd) != 0)
        return fail_step(why, "cannot flush");
    return true;
}

/* Replace the target by the temporary file `tmp` (in the same folder); on failure the
 * temporary name is removed. */
static bool rename_over_target(const target *t, const char *tmp, failure *why)
{
    if (renameat(t->folder_fd, tmp, t->folder_fd, t->name) == 0)
        return true;
    fail_step(why, "cannot rename the temporary file over");
    unlinkat(t->folder_fd, tmp, 0);
    return false;
}

/* Outcomes of one way of saving. */
enum { SAVE_FAILED, SAVE_DONE, SAVE_UNAVAILABLE };

#ifdef O_TMPFILE
/* Give the unnamed file fd the name tmp: 0 or an errno value. AT_EMPTY_PATH needs
 * CAP_DAC_READ_SEARCH on most kernels; /proc/self/fd works for the file's owner. */
static int link_unnamed(int fd, int folder_fd, const char *tmp)
{
#ifdef AT_EMPTY_PATH
    if (linkat(fd, "", folder_fd, tmp, AT_EMPTY_PATH) == 0)
        return 0;
    if (errno == EEXIST)
        return EEXIST;
#endif
    char proc_path[40];
    snprintf(proc_path, sizeof proc_path, "/proc/self/fd/%d", fd);
    if (linkat(AT_FDCWD, proc_path, folder_fd, tmp, AT_SYMLINK_FOLLOW) == 0)
        return 0;
    return errno;
}

/* An unnamed file (O_TMPFILE) gets its name only once it is complete, in the system call
 * before the rename: a process killed meanwhile leaves nothing behind. SAVE_UNAVAILABLE
 * when the folder or the system offers no unnamed file, or no way to name one. */
static int save_unnamed(const target *t, const unsigned char *bytes, size_t size, failure *why)
{
    int fd = openat(t->folder_fd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
    if (fd < 0)
        return SAVE_UNAVAILABLE; /* a named file is tried; its failure says why */
    keep_owner_and_mode(fd, t);
    if (!write_and_flush(fd, bytes, size, why)) {
        close(fd);
        return SAVE_FAILED;
    }
    char tmp[NAME_MAX + 1];
    for (int attempt = 0; attempt < MAX_NAME_ATTEMPTS; attempt++) {
        temporary_name(tmp, t->name, folder_name_max(t->folder_fd));
        int error_number = link_unnamed(fd, t->folder_fd, tmp);
        if (error_number == EEXIST)
            continue;
        if (error_number != 0)
            break;
        bool renamed = rename_over_target(t, tmp, why);
        close(fd); /* the data is flushed: closing reports nothing more */
        return renamed ? SAVE_DONE : SAVE_FAILED;
    }
    close(fd);
    return SAVE_UNAVAILABLE;
}
#endif

/* A named temporary file, created exclusively (with the permissions of any new file, not
 * mkstemp's 0600) and removed on failure. */
static int save_named(const target *t, const unsigned char *bytes, size_t size, failure *why)
{
    char tmp[NAME_MAX + 1];
    int fd = -1;
    for (int attempt = 0; attempt < MAX_NAME_ATTEMPTS && fd < 0; attempt++) {
        temporary_name(tmp, t->name, folder_name_max(t->folder_fd));
        fd = openat(t->folder_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        fail_step(why, "cannot create a temporary file next to");
        return SAVE_FAILED;
    }
    keep_owner_and_mode(fd, t);
    bool ok = write_and_flush(fd, bytes, size, why);
    if (close(fd) != 0 && ok)
        ok = fail_step(why, "cannot close");
    if (!ok) {
        unlinkat(t->folder_fd, tmp, 0);
        return SAVE_FAILED;
    }
    return rename_over_target(t, tmp, why) ? SAVE_DONE : SAVE_FAILED;
}

/* After the rename the path holds the new file, whatever happens next, so flushing the
 * folder (which makes the rename itself durable) is best-effort, as in SQLite: it needs
 * read permission on the folder, and some file systems cannot flush a folder at all. */
static void flush_folder(int folder_fd)
{
    int fd = openat(folder_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return;
    if (fsync(fd) != 0) {
        /* Nothing more can be done, and the save has happened. */
    }
    close(fd);
}

int ae_model_save(const ae_model *m, const char *path, unsigned flags)
{
    AE_CHECK(path != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "path is NULL");
    AE_CHECK(path[0] != '\0', NULL, AE_ERR_INVALID_ARGUMENT, "path is empty");
    unsigned char *bytes;
    size_t size;
    AE_FORWARD(ae_format_serialise(m, flags, &bytes, &size));
    target t;
    int status = resolve_target(path, &t);
    if (status == AE_OK) {
        failure why = {NULL, 0};
        int outcome = SAVE_UNAVAILABLE;
#ifdef O_TMPFILE
        outcome = save_unnamed(&t, bytes, size, &why);
#endif
        if (outcome == SAVE_UNAVAILABLE)
            outcome = save_named(&t, bytes, size, &why);
        if (outcome == SAVE_DONE)
            flush_folder(t.folder_fd);
        else
            status = io_error(why.what, path, why.error_number);
    }
    release_target(&t);
    ae_free(bytes);
    return status;
}
