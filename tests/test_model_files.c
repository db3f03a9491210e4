/* Model files on disk (docs/format.md, "Loading from a path" and "Saving to a path"):
 * loading refuses what is not a regular file without blocking and reads the header
 * first; saving replaces the file a path names (through symbolic links) atomically,
 * keeps its permissions, leaves no temporary file when it fails or is killed, and
 * reports success once the file is replaced.
 *
 * Cases that depend on permissions run in a forked child as 'nobody' when the suite runs
 * as root (root ignores permission bits); cases that need a system without unnamed
 * temporary files, or without a way to name them, run in a child whose system calls are
 * refused by a seccomp filter. */
#define _GNU_SOURCE /* O_TMPFILE, O_PATH, setresuid, mkdirat */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>

#include "autoenc.h"
#include "test_models.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define NOBODY 65534

/* ---- models and their bytes ------------------------------------------------------ */

/* Two small models that differ (the target's old content and the new one) and a large
 * one whose save takes long enough to be interrupted. */
static ae_model *old_model, *new_model, *large_model;
static unsigned char *old_bytes, *new_bytes;
static size_t old_size, new_size;

static ae_model *seeded_model(const size_t *widths, size_t n_widths, double seed)
{
    ae_model *m = test_create_model(widths, n_widths, NULL, 0);
    test_set_param(m, AE_PARAM_SEED, seed);
    return m;
}

static unsigned char *bytes_of(const ae_model *m, size_t *n)
{
    assert_int_equal(ae_model_save_size(m, AE_SAVE_DEFAULT, n), AE_OK);
    unsigned char *bytes = malloc(*n);
    assert_non_null(bytes);
    size_t written = 0;
    assert_int_equal(ae_model_save_to_memory(m, AE_SAVE_DEFAULT, bytes, *n, &written), AE_OK);
    assert_int_equal(written, *n);
    return bytes;
}

static int group_setup(void **state)
{
    (void)state;
    static const size_t small[] = {6, 4, 2}, large[] = {784, 256, 128};
    old_model = seeded_model(small, ARRAY_LEN(small), 1);
    new_model = seeded_model(small, ARRAY_LEN(small), 2);
    large_model = seeded_model(large, ARRAY_LEN(large), 3);
    old_bytes = bytes_of(old_model, &old_size);
    new_bytes = bytes_of(new_model, &new_size);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    ae_model_free(old_model);
    ae_model_free(new_model);
    ae_model_free(large_model);
    free(old_bytes);
    free(new_bytes);
    return 0;
}

/* ---- files and folders ----------------------------------------------------------- */

/* The whole content of path (malloc'ed; NULL if it cannot be read). */
static unsigned char *read_file(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    size_t capacity = 4096, size = 0;
    unsigned char *bytes = malloc(capacity);
    assert_non_null(bytes);
    size_t got;
    while ((got = fread(bytes + size, 1, capacity - size, fp)) > 0) {
        size += got;
        if (size == capacity) {
            capacity *= 2;
            bytes = realloc(bytes, capacity);
            assert_non_null(bytes);
        }
    }
    fclose(fp);
    *n = size;
    return bytes;
}

/* Whether path holds exactly the n bytes at expected. */
static int file_holds(const char *path, const unsigned char *expected, size_t n)
{
    size_t size;
    unsigned char *bytes = read_file(path, &size);
    int same = bytes && size == n && memcmp(bytes, expected, n) == 0;
    free(bytes);
    return same;
}

static void write_file(const char *path, const void *bytes, size_t n)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(bytes, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
}

static void write_text(const char *path, const char *text) { write_file(path, text, strlen(text)); }

/* Entries of a folder other than . and .., optionally all but `except`. */
static size_t count_entries_except(const char *dir, const char *except)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
            !(except && strcmp(e->d_name, except) == 0))
            n++;
    closedir(d);
    return n;
}

static size_t count_entries(const char *dir) { return count_entries_except(dir, NULL); }

/* Remove the entries of dir whose names start with '.' (temporary files); their count. */
static size_t remove_hidden_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.' || strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        assert_int_equal(unlinkat(dirfd(d), e->d_name, 0), 0);
        n++;
    }
    closedir(d);
    return n;
}

/* A fresh folder under /tmp and paths inside it. */
typedef struct temp_dir {
    char dir[40];
    char path[512]; /* dir/model.aemodel */
} temp_dir;

static void make_temp_dir(temp_dir *t)
{
    memcpy(t->dir, "/tmp/ae_files_XXXXXX", sizeof "/tmp/ae_files_XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    snprintf(t->path, sizeof t->path, "%s/model.aemodel", t->dir);
}

/* A path inside t's folder, in a static buffer of its own per slot. */
static const char *in_dir(const temp_dir *t, int slot, const char *name)
{
    static char paths[4][1024];
    snprintf(paths[slot], sizeof paths[slot], "%s/%s", t->dir, name);
    return paths[slot];
}

/* A Unix socket bound at path (a file system entry that cannot be opened); close the
 * descriptor it returns when done. */
static int bound_socket(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    assert_true(strlen(path) < sizeof address.sun_path);
    memcpy(address.sun_path, path, strlen(path) + 1);
    assert_int_equal(bind(fd, (const struct sockaddr *)&address, sizeof address), 0);
    return fd;
}

/* Remove the folder and everything in it (one level deep, plus the given subfolders'
 * contents), as the last step of a test. */
static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char child[1024];
        snprintf(child, sizeof child, "%s/%s", dir, e->d_name);
        struct stat st;
        assert_int_equal(lstat(child, &st), 0);
        if (S_ISDIR(st.st_mode))
            remove_tree(child);
        else
            assert_int_equal(unlink(child), 0);
    }
    closedir(d);
    assert_int_equal(rmdir(dir), 0);
}

/* Whether the file at path loads and saves back as exactly the n bytes at expected. */
static int loads_as(const char *path, const unsigned char *expected, size_t n)
{
    ae_model *m = NULL;
    if (ae_model_load(&m, path) != AE_OK)
        return 0;
    size_t size = 0, written = 0;
    int same = ae_model_save_size(m, AE_SAVE_DEFAULT, &size) == AE_OK && size == n;
    unsigned char *bytes = malloc(n);
    same = same && bytes &&
           ae_model_save_to_memory(m, AE_SAVE_DEFAULT, bytes, n, &written) == AE_OK &&
           memcmp(bytes, expected, n) == 0;
    free(bytes);
    ae_model_free(m);
    return same;
}

static void assert_loads_as_old(const char *path)
{
    assert_true(file_holds(path, old_bytes, old_size));
    assert_true(loads_as(path, old_bytes, old_size));
}

static void assert_loads_as_new(const char *path)
{
    assert_true(file_holds(path, new_bytes, new_size));
    assert_true(loads_as(path, new_bytes, new_size));
}

static void assert_error_mentions(const char *text)
{
    if (!strstr(ae_last_error(), text))
        fail_msg("the message \"%s\" does not mention \"%s\"", ae_last_error(), text);
}

/* Whether this folder offers unnamed temporary files (O_TMPFILE). */
static int has_unnamed_files(const char *dir)
{
    int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0)
        return 0;
    close(fd);
    return 1;
}

/* ---- running a case in a child ---------------------------------------------------- */

enum {
    AS_NOBODY = 1,          /* drop root's privileges (no effect when not root) */
    NO_UNNAMED_FILES = 2,   /* openat with O_TMPFILE fails with EOPNOTSUPP */
    NO_EMPTY_PATH_LINK = 4, /* linkat with AT_EMPTY_PATH fails with ENOENT */
    NO_LINK = 8             /* every linkat fails with EPERM */
};
#define CHILD_SKIPPED 77

#if defined(__x86_64__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

/* Make system call nr fail with error_number when its argument `arg` has a bit of mask. */
static int refuse_syscall(long nr, unsigned arg, uint32_t mask, int error_number)
{
#ifdef NATIVE_AUDIT_ARCH
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_AUDIT_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nr, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        /* the argument's low 32 bits (little-endian) */
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                 (uint32_t)(offsetof(struct seccomp_data, args) + arg * sizeof(uint64_t))),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, mask, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((uint32_t)error_number & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog program = {(unsigned short)ARRAY_LEN(code), code};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program, 0, 0);
#else
    (void)nr, (void)arg, (void)mask, (void)error_number;
    return -1;
#endif
}

/* In a forked child: take on `options`, then run the case. Exits with its result, or
 * CHILD_SKIPPED when an option cannot be had here. */
static void become(unsigned options)
{
    if ((options & NO_UNNAMED_FILES) &&
        refuse_syscall(SYS_openat, 2, (uint32_t)(O_TMPFILE & ~O_DIRECTORY), EOPNOTSUPP) != 0)
        _exit(CHILD_SKIPPED);
    if ((options & NO_EMPTY_PATH_LINK) && refuse_syscall(SYS_linkat, 4, AT_EMPTY_PATH, ENOENT) != 0)
        _exit(CHILD_SKIPPED);
    if ((options & NO_LINK) &&
        refuse_syscall(SYS_linkat, 4, AT_EMPTY_PATH | AT_SYMLINK_FOLLOW, EPERM) != 0)
        _exit(CHILD_SKIPPED);
    if ((options & AS_NOBODY) && geteuid() == 0 &&
        (setgroups(0, NULL) != 0 || setresgid(NOBODY, NOBODY, NOBODY) != 0 ||
         setresuid(NOBODY, NOBODY, NOBODY) != 0))
        _exit(CHILD_SKIPPED);
}

typedef int (*child_case)(const void *arg);

/* Run a case in a child with options; returns its wait status. */
static int run_child(child_case run, const void *arg, unsigned options)
{
    fflush(NULL);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        become(options);
        _exit(run(arg));
    }
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    return status;
}

/* Run a case in a child: true if it passed, false if it was skipped (with a note);
 * fails the test otherwise. */
static int child_passes(child_case run, const void *arg, unsigned options, const char *what)
{
    int status = run_child(run, arg, options);
    if (WIFEXITED(status) && WEXITSTATUS(status) == CHILD_SKIPPED) {
        print_message("      note: skipped %s (the child could not get its restrictions here)\n",
                      what);
        return 0;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("%s: the child %s %d", what, WIFEXITED(status) ? "failed at check" : "died of signal",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    return 1;
}

/* The folder becomes the saving user's: nobody's when the suite runs as root. */
static void give_to_saver(const char *path)
{
    if (geteuid() == 0)
        assert_int_equal(lchown(path, NOBODY, NOBODY), 0);
}

/* Cases run in children: their argument is a path, their result 0 or the failed check. */
typedef struct save_case {
    const char *path;
    const ae_model *model;
    int expected;         /* status of the save */
    const char *mentions; /* text the message must hold, or NULL */
} save_case;

static int save_case_run(const void *arg)
{
    const save_case *c = arg;
    int status = ae_model_save(c->model, c->path, AE_SAVE_DEFAULT);
    if (status != c->expected) {
        fprintf(stderr, "      save: %s (%s)\n", ae_status_str(status), ae_last_error());
        return 1;
    }
    if (c->mentions && !strstr(ae_last_error(), c->mentions)) {
        fprintf(stderr, "      message: %s\n", ae_last_error());
        return 2;
    }
    return 0;
}

/* ================================================================================== */
/* Round trips and bad paths                                                           */
/* ================================================================================== */

static void test_file_round_trip_writes_exactly_the_memory_bytes(void **state)
{
    (void)state;
    temp_dir t;
    make_temp_dir(&t);
    assert_int_equal(ae_model_save(new_model, t.path, AE_SAVE_DEFAULT), AE_OK);
    assert_loads_as_new(t.path);
    /* With the optimizer state too. */
    size_t n;
    assert_int_equal(ae_model_save_size(large_model, AE_SAVE_OPTIMIZER_STATE, &n), AE_OK);
    assert_int_equal(ae_model_save(large_model, t.path, AE_SAVE_OPTIMIZER_STATE), AE_OK);
    struct stat st;
    assert_int_equal(stat(t.path, &st), 0);
    assert_int_equal((size_t)st.st_size, n);
    assert_int_equal(count_entries(t.dir), 1);
    remove_tree(t.dir);
}

static void test_load_of_missing_file_or_folder_is_an_io_error(void **state)
{
    (void)state;
    ae_model *m = (ae_model *)(uintptr_t)1;
    assert_int_equal(ae_model_load(&m, "/nonexistent-ae-dir/model.aemodel"), AE_ERR_IO);
    assert_null(m);
    assert_error_mentions("/nonexistent-ae-dir/model.aemodel");
    assert_int_equal(ae_model_load(&m, "/tmp"), AE_ERR_IO);
    assert_error_mentions("is a directory");
    assert_int_equal(ae_model_load(&m, "/tmp/"), AE_ERR_IO);
    assert_error_mentions("is a directory");
    assert_null(m);
}

static void test_load_of_a_fifo_device_or_socket_is_refused_without_blocking(void **state)
{
    (void)state;
    temp_dir t;
    make_temp_dir(&t);
    assert_int_equal(mkfifo(t.path, 0644), 0);
    /* Opening a FIFO that no one writes to blocks until someone does: without care the
     * load would hang, and the alarm would end the suite. */
    alarm(20);
    ae_model *m = (ae_model *)(uintptr_t)1;
    assert_int_equal(ae_model_load(&m, t.path), AE_ERR_IO);
    assert_null(m);
    assert_error_mentions("is a FIFO, not a regular file");
    /* Through a symbolic link as well. */
    const char *link_path = in_dir(&t, 0, "link");
    assert_int_equal(symlink("model.aemodel", link_path), 0);
    assert_int_equal(ae_model_load(&m, link_path), AE_ERR_IO);
    assert_error_mentions("is a FIFO");
    assert_int_equal(ae_model_load(&m, "/dev/null"), AE_ERR_IO);
    assert_error_mentions("/dev/null is a character device, not a regular file");
    alarm(0);
    /* A socket is refused for what it is, not with open's "No such device or address": what
     * a path names is looked at before it is opened (opening a device can act on it). */
    const char *sock = in_dir(&t, 1, "socket");
    int fd = bound_socket(sock);
    assert_int_equal(ae_model_load(&m, sock), AE_ERR_IO);
    assert_null(m);
    assert_error_mentions("is a socket, not a regular file");
    close(fd);
    remove_tree(t.dir);
}

/* ================================================================================== */
/* Load reads the header first                                                          */
/* ================================================================================== */

/* An allocator that fails allocations above a limit or the Nth one, counts live blocks
 * and remembers the largest request. */
static struct {
    size_t limit, largest;
    long fail_at, count, live;
} hook;

static void *hook_alloc(size_t size, void *user)
{
    (void)user;
    if (size > hook.largest)
        hook.largest = size;
    if (size > hook.limit || (hook.fail_at >= 0 && hook.count++ == hook.fail_at))
        return NULL;
    void *p = malloc(size ? size : 1);
    hook.live += p != NULL;
    return p;
}

static void hook_free(void *ptr, void *user)
{
    (void)user;
    hook.live--;
    free(ptr);
}

static void hook_start(size_t limit, long fail_at)
{
    memset(&hook, 0, sizeof hook);
    hook.limit = limit;
    hook.fail_at = fail_at;
    assert_int_equal(ae_set_allocator(hook_alloc, hook_free, NULL), AE_OK);
}

static void hook_stop(void) { assert_int_equal(ae_set_allocator(NULL, NULL, NULL), AE_OK); }

static void test_load_refuses_a_huge_file_of_zeros_after_reading_only_its_header(void **state)
{
    (void)state;
    temp_dir t;
    make_temp_dir(&t);
    static const off_t sizes[] = {(off_t)256 << 20, (off_t)2 << 30};
    for (size_t i = 0; i < ARRAY_LEN(sizes); i++) {
        /* Sparse: it takes no room on the disk, but reading it whole would need the memory. */
        int fd = open(t.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, sizes[i]), 0);
        assert_int_equal(close(fd), 0);
        /* Any allocation above 1 MiB fails: a loader that reads the file before looking at
         * it would report out of memory, not a malformed file. */
        hook_start(1u << 20, -1);
        ae_model *m = (ae_model *)(uintptr_t)1;
        int status = ae_model_load(&m, t.path);
        size_t largest = hook.largest;
        long live = hook.live;
        hook_stop();
        if (status != AE_ERR_FORMAT)
            print_error("%s: %s\n", ae_status_str(status), ae_last_error());
        assert_int_equal(status, AE_ERR_FORMAT);
        assert_error_mentions("wrong magic at byte 0");
        assert_null(m);
        assert_true(largest <= 1u << 20);
        assert_int_equal(live, 0);
    }
    remove_tree(t.dir);
}

/* A header for the tests below: magic, then major and minor version. */
static void make_header(unsigned char header[16], unsigned major, unsigned minor)
{
    memcpy(header, old_bytes, 16);
    header[8] = (unsigned char)major;
    header[9] = (unsigned char)(major >> 8);
    header[10] = (unsigned char)minor;
    header[11] = (unsigned char)(minor >> 8);
}

static void test_load_from_a_file_reports_header_errors_as_loading_from_memory_does(void **state)
{
    (void)state;
    temp_dir t;
    make_temp_dir(&t);
    unsigned char good[16], newer[16], zero[16];
    make_header(good, 1, 2);
    make_header(newer, 2, 0);
    make_header(zero, 0, 7);
    static const char text[] = "just some text, not a model";
    struct {
        const unsigned char *bytes;
        size_t n;
        int expected;
    } cases[] = {
        {good, 0, AE_ERR_FORMAT},                   /* empty */
        {good, 5, AE_ERR_FORMAT},                   /* part of the magic */
        {good, 12, AE_ERR_FORMAT},                  /* part of the header */
        {(const unsigned char *)text, sizeof text - 1, AE_ERR_FORMAT},
        {newer, 16, AE_ERR_VERSION},
        {zero, 16, AE_ERR_FORMAT},
        {good, 16, AE_ERR_FORMAT},                  /* no checksum */
        {old_bytes, old_size - 1, AE_ERR_FORMAT},   /* truncated */
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        ae_model *m = NULL;
        int from_memory = ae_model_load_from_memory(&m, cases[i].bytes, cases[i].n);
        char memory_message[1024];
        snprintf(memory_message, sizeof memory_message, "%s: %s", t.path, ae_last_error());
        write_file(t.path, cases[i].bytes, cases[i].n);
        int from_file = ae_model_load(&m, t.path);
        assert_int_equal(from_memory, cases[i].expected);
        assert_int_equal(from_file, cases[i].expected);
        assert_string_equal(ae_last_error(), memory_message);
        assert_null(m);
    }
    remove_tree(t.dir);
}

/* ================================================================================== */
/* Saving: replacing a file                                                             */
/* ================================================================================== */

static void test_save_replaces_an_existing_file_and_leaves_no_temporary(void **state)
{
    (void)state;
    temp_dir t;
    make_temp_dir(&t);
    write_text(t.path, "old contents");
    assert_int_equal(ae_model_save(new_model, t.path, AE_SAVE_DEFAULT), AE_OK);
    assert_int_equal(count_entries(t.dir), 1);
    assert_loads_as_new(t.path);
    /* Relative paths too (no folder part). */
    char cwd[512];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(t.dir), 0);
    assert_int_equal(ae_model_save(old_model, "model.aemodel", AE_SAVE_DEFAULT), AE_OK);
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(count_entries(t.dir), 1);
    assert_loads_as_old(t.path);
    remove_tree(t.dir);
}

static void test_save_keeps_the_permissions_owner_and_group_of_the_replaced_file(void **state)
{
    (void)state;
    temp_dir t;
    make_temp_dir(&t);
    static const mode_t modes[] = {0640, 0604, 0444, 0600};
    for (size_t i = 0; i < ARRAY_LEN(modes); i++) {
        write_text(t.path, "old");
        assert_int_equal(chmod(t.path, modes[i]), 0);
        struct stat before;
        if (geteuid() == 0) /* root can give the file away; the save must give it back */
            assert_int_equal(chown(t.path, NOBODY, NOBODY), 0);
        assert_int_equal(stat(t.path, &before), 0);
        assert_int_equal(ae_model_save(new_model, t.path, AE_SAVE_DEFAULT), AE_OK);
        struct stat after;
        assert_int_equal(stat(t.path, &after), 0);
        assert_int_not_equal(after.st_ino, before.st_ino); /* a new file, renamed over */
        assert_int_equal(after.st_mode & 07777, modes[i]);
        assert_int_equal(after.st_uid, before.st_uid);
        assert_int_equal(after.st_gid, before.st_gid);
        assert_int_equal(count_entries(t.dir), 1);
        assert_int_equal(unlink(t.path), 0);
    }
    /* A new file gets the permissions of any new file: 0666 less the umask. */
    mode_t mask = umask(022);
    assert_int_equal(ae_model_save(new_model, t.path, AE_SAVE_DEFAULT), AE_OK);
    umask(mask);
    struct stat st;
    assert_int_equal(stat(t.path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    remove_tree(t.dir);
}

static void test_save_into_a_missing_folder_fails_and_creates_nothing(void **state)
{
    (void)state;
    temp_dir t;
    make_temp_dir(&t);
    assert_int_equal(ae_model_save(new_model, in_dir(&t, 0, "missing/model.aemodel"),
                                   AE_SAVE_DEFAULT),
                     AE_ERR_IO);
    assert_error_mentions("No such file");
    assert_int_equal(count_entries(t.dir), 0);
    remove_tree(t.dir);
}

static void test_save_into_a_read_only_folder_keeps_the_old_file(void **state)
{
    (void)state;
    temp_dir t;
    make_temp_dir(&t);
    write_file(t.path, old_bytes, old_size);
    give_to_saver(t.dir);
    assert_int_equal(chmod(t.dir, 0555), 0);
    save_case c = {t.path, new_model, AE_ERR_IO, "Permission denied"};
    child_passes(save_case_run, &c, AS_NOBODY, "saving into a read-only folder");
    assert_int_equal(count_entries(t.dir), 1);
    assert_loads_as_old(t.path);
    assert_int_equal(chmod(t.dir, 0700), 0);
    remove_tree(t.dir);
}

static void test_save_succeeds_when_the_folder_cannot_be_flushed(void **state)
{
    (void)state;
    /* In a folder with write and search permission but no read permission, the folder
     * cannot be opened to flush it. The file is replaced all the same, so the save
     * succeeds: flushing the folder after the rename is best-effort. */
    temp_dir t;
    make_temp_dir(&t);
    write_file(t.path, old_bytes, old_size);
    give_to_saver(t.dir);
    assert_int_equal(chmod(t.dir, 0300), 0);
    save_case c = {t.path, new_model, AE_OK, NULL};
    child_passes(save_case_run, &c, AS_NOBODY, "saving into a -wx folder");
    assert_int_equal(chmod(t.dir, 0700), 0);
    assert_int_equal(count_entries(t.dir), 1);
    assert_loads_as_new(t.path);
    remove_tree(t.dir);
}

static void test_save_fails_cleanly_when_any_allocation_fails(void **state)
{
    (void)state;
    temp_dir t;
    make_temp_dir(&t);
    write_file(t.path, old_bytes, old_size);
    /* Through a link, so that following it allocates too. */
    const char *link_path = in_dir(&t, 0, "link");
    assert_int_equal(symlink("model.aemodel", link_path), 0);
    for (long k = 0;; k++) {
        hook_start(SIZE_MAX, k);
        int status = ae_model_save(new_model, link_path, AE_SAVE_DEFAULT);
        long live = hook.live;
        hook_stop();
        assert_int_equal(live, 0);
        if (status == AE_OK)
            break;
        assert_int_equal(status, AE_ERR_OUT_OF_MEMORY);
        assert_loads_as_old(t.path);
        assert_int_equal(count_entries(t.dir), 2);
        assert_true(k < 20);
    }
    assert_loads_as_new(t.path);
    remove_tree(t.dir);
}

/* ================================================================================== */
/* Saving: what the path names                                                          */
/* ================================================================================== */

/* Whether path is a symbolic link whose text is `text`. */
static int is_link_to(const char *path, const char *text)
{
    char buffer[1024];
    ssize_t n = readlink(path, buffer, sizeof buffer - 1);
    if (n < 0)
        return 0;
    buffer[n] = '\0';
    return strcmp(buffer, text) == 0;
}

static void test_save_through_a_symlink_replaces_the_file_and_keeps_the_link(void **state)
{
    (void)state;
    temp_dir t;
    make_temp_dir(&t);
    /* dir/real/model.aemodel, and links to it: relative, absolute, a chain of two, and a
     * relative link in another folder (resolved against the link's folder, not ours). */
    assert_int_equal(mkdir(in_dir(&t, 0, "real"), 0755), 0);
    assert_int_equal(mkdir(in_dir(&t, 0, "links"), 0755), 0);
    const char *target = in_dir(&t, 1, "real/model.aemodel");
    char absolute[1024];
    snprintf(absolute, sizeof absolute, "%s", target);
    struct {
        const char *link, *text;
    } links[] = {
        {"relative", "real/model.aemodel"},
        {"absolute", absolute},
        {"chain", "relative"},
        {"links/elsewhere", "../real/model.aemodel"},
    };
    for (size_t i = 0; i < ARRAY_LEN(links); i++)
        assert_int_equal(symlink(links[i].text, in_dir(&t, 0, links[i].link)), 0);
    for (size_t i = 0; i < ARRAY_LEN(links); i++) {
        write_file(target, old_bytes, old_size);
        const char *link_path = in_dir(&t, 2, links[i].link);
        assert_int_equal(ae_model_save(new_model, link_path, AE_SAVE_DEFAULT), AE_OK);
        assert_true(is_link_to(link_path, links[i].text));
        assert_loads_as_new(target);
        assert_loads_as_new(link_path);
        assert_int_equal(count_entries(in_dir(&t, 3, "real")), 1);
        assert_int_equal(count_entries(in_dir(&t, 3, "links")), 1);
        assert_int_equal(count_entries(t.dir), 5);
    }
    /* From the links' folder, by a relative path. */
    char cwd[512];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(in_dir(&t, 0, "links")), 0);
    assert_int_equal(ae_model_save(old_model, "elsewhere", AE_SAVE_DEFAULT), AE_OK);
    assert_int_equal(chdir(cwd), 0);
    assert_true(is_link_to(in_dir(&t, 0, "links/elsewhere"), "../real/model.aemodel"));
    assert_loads_as_old(target);
    remove_tree(t.dir);
}

static void test_save_through_a_dangling_symlink_creates_its_target(void **state)
{
    (void)state;
    temp_dir t;
    make_temp_dir(&t);
    const char *link_path = in_dir(&t, 0, "link");
    assert_int_equal(symlink("new.aemodel", link_path), 0);
    assert_int_equal(ae_model_save(new_model, link_path, AE_SAVE_DEFAULT), AE_OK);
    assert_true(is_link_to(link_path, "new.aemodel"));
    assert_loads_as_new(in_dir(&t, 1, "new.aemodel"));
    assert_int_equal(count_entries(t.dir), 2);
    /* A link into a folder that does not exist: nothing can be created. */
    assert_int_equal(symlink("missing/x.aemodel", in_dir(&t, 0, "nowhere")), 0);
    assert_int_equal(ae_model_save(new_model, in_dir(&t, 0, "nowhere"), AE_SAVE_DEFAULT),
                     AE_ERR_IO);
    assert_error_mentions("No such file");
    assert_int_equal(count_entries(t.dir), 3);
    remove_tree(t.dir);
}

static void test_save_follows_at_most_40_links_and_refuses_a_loop(void **state)
{
    (void)state;
    temp_dir t;
    make_temp_dir(&t);
    write_file(t.path, old_bytes, old_size);
    /* l1 -> model.aemodel, l2 -> l1, ..., l41 -> l40. */
    char name[16], previous[16] = "model.aemodel";
    for (int i = 1; i <= 41; i++) {
        snprintf(name, sizeof name, "l%d", i);
        assert_int_equal(symlink(previous, in_dir(&t, 0, name)), 0);
        memcpy(previous, name, sizeof name);
    }
    assert_int_equal(ae_model_save(new_model, in_dir(&t, 0, "l40"), AE_SAVE_DEFAULT), AE_OK);
    assert_loads_as_new(t.path);
    assert_int_equal(ae_model_save(old_model, in_dir(&t, 0, "l41"), AE_SAVE_DEFAULT), AE_ERR_IO);
    assert_error_mentions("Too many levels of symbolic links");
    assert_loads_as_new(t.path);
    /* a -> b -> a */
    assert_int_equal(symlink("b", in_dir(&t, 0, "a")), 0);
    assert_int_equal(symlink("a", in_dir(&t, 0, "b")), 0);
    assert_int_equal(ae_model_save(old_model, in_dir(&t, 0, "a"), AE_SAVE_DEFAULT), AE_ERR_IO);
    assert_error_mentions("Too many levels of symbolic links");
    assert_int_equal(count_entries(t.dir), 44);
    remove_tree(t.dir);
}

/* Saving over something that is not a regular file is refused and changes nothing. */
static void expect_save_refused(const temp_dir *t, const char *path, const char *kind,
                                size_t entries)
{
    struct stat before, after;
    assert_int_equal(lstat(path, &before), 0);
    assert_int_equal(ae_model_save(new_model, path, AE_SAVE_DEFAULT), AE_ERR_IO);
    char expected[64];
    snprintf(expected, sizeof expected, "is a %s, not a regular file", kind);
    assert_error_mentions(expected);
    assert_int_equal(lstat(path, &after), 0);
    assert_int_equal(after.st_ino, before.st_ino);
    assert_int_equal(after.st_mode, before.st_mode);
    assert_int_equal(count_entries(t->dir), entries);
}

static int save_over_dev_null(const void *arg)
{
    (void)arg;
    save_case c = {"/dev/null", new_model, AE_ERR_IO,
                   "/dev/null is a character device, not a regular file"};
    return save_case_run(&c);
}

static void test_save_refuses_a_target_that_is_not_a_regular_file(void **state)
{
    (void)state;
    temp_dir t;
    make_temp_dir(&t);
    const char *folder = in_dir(&t, 0, "folder");
    assert_int_equal(mkdir(folder, 0755), 0);
    write_text(in_dir(&t, 1, "folder/keep"), "still here");
    expect_save_refused(&t, folder, "directory", 1);
    expect_save_refused(&t, in_dir(&t, 1, "folder/"), "directory", 1);
    assert_int_equal(count_entries(folder), 1);

    const char *fifo = in_dir(&t, 1, "fifo");
    assert_int_equal(mkfifo(fifo, 0644), 0);
    alarm(20); /* opening the FIFO would block */
    expect_save_refused(&t, fifo, "FIFO", 2);
    alarm(0);

    const char *sock = in_dir(&t, 2, "socket");
    int fd = bound_socket(sock);
    expect_save_refused(&t, sock, "socket", 3);
    close(fd);

    /* A link to a FIFO: the link is followed, the FIFO refused. */
    const char *link_path = in_dir(&t, 2, "link");
    assert_int_equal(symlink("fifo", link_path), 0);
    expect_save_refused(&t, link_path, "FIFO", 4);

    /* A device node of our own, where the system lets us make one. */
    const char *device = in_dir(&t, 2, "null");
    if (mknod(device, S_IFCHR | 0666, makedev(1, 3)) == 0)
        expect_save_refused(&t, device, "character device", 5);
    else
        print_message("      note: no device node of our own here (mknod: %s); /dev/null only\n",
                      strerror(errno));

    /* /dev/null itself. As root, the check runs as nobody, who cannot write in /dev: a
     * broken check then fails on permissions instead of replacing /dev/null. */
    struct stat before, after;
    assert_int_equal(stat("/dev/null", &before), 0);
    child_passes(save_over_dev_null, NULL, AS_NOBODY, "saving over /dev/null");
    assert_int_equal(stat("/dev/null", &after), 0);
    assert_true(S_ISCHR(after.st_mode));
    assert_int_equal(after.st_ino, before.st_ino);
    remove_tree(t.dir);
}

/* ================================================================================== */
/* Saving: long names and paths                                                          */
/* ================================================================================== */

/* A file name of exactly 255 bytes: 127 two-byte UTF-8 characters and an 'x'. */
static void long_name(char name[256])
{
    for (int i = 0; i < 127; i++)
        memcpy(name + 2 * i, "\xC3\xA9", 2); /* e with an acute accent */
    name[254] = 'x';
    name[255] = '\0';
}

static int save_long_name_and_load(const void *arg)
{
    const char *path = arg;
    if (ae_model_save(new_model, path, AE_SAVE_DEFAULT) != AE_OK) {
        fprintf(stderr, "      save: %s\n", ae_last_error());
        return 1;
    }
    return loads_as(path, new_bytes, new_size) ? 0 : 2;
}

static void test_save_and_load_a_file_name_of_255_bytes(void **state)
{
    (void)state;
    temp_dir t;
    make_temp_dir(&t);
    char name[256];
    long_name(name);
    char path[512];
    snprintf(path, sizeof path, "%s/%s", t.dir, name);
    write_file(path, old_bytes, old_size);
    assert_int_equal(save_long_name_and_load(path), 0);
    assert_int_equal(count_entries(t.dir), 1);
    assert_loads_as_new(path);
    /* With a named temporary file, whose name must fit as well. */
    write_file(path, old_bytes, old_size);
    if (child_passes(save_long_name_and_load, path, NO_UNNAMED_FILES,
                     "a 255-byte name without unnamed files")) {
        assert_int_equal(count_entries(t.dir), 1);
        assert_loads_as_new(path);
    }
    remove_tree(t.dir);
}

static void test_save_and_load_a_path_longer_than_path_max(void **state)
{
    (void)state;
    temp_dir t;
    make_temp_dir(&t);
    /* 24 nested folders of 200 characters: about 4,850 bytes, beyond PATH_MAX. */
    enum { DEPTH = 24, WIDTH = 200 };
    char component[WIDTH + 1];
    memset(component, 'd', WIDTH);
    component[WIDTH] = '\0';
    size_t capacity = sizeof t.dir + DEPTH * (WIDTH + 1) + 32;
    char *path = malloc(capacity);
    assert_non_null(path);
    size_t length = (size_t)snprintf(path, capacity, "%s", t.dir);
    int fds[DEPTH + 1];
    fds[0] = open(t.dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    assert_true(fds[0] >= 0);
    for (int i = 0; i < DEPTH; i++) {
        assert_int_equal(mkdirat(fds[i], component, 0700), 0);
        fds[i + 1] = openat(fds[i], component, O_PATH | O_DIRECTORY | O_CLOEXEC);
        assert_true(fds[i + 1] >= 0);
        length += (size_t)snprintf(path + length, capacity - length, "/%s", component);
    }
    snprintf(path + length, capacity - length, "/model.aemodel");
    assert_true(strlen(path) > PATH_MAX);

    assert_int_equal(ae_model_save(new_model, path, AE_SAVE_DEFAULT), AE_OK);
    assert_int_equal(ae_model_save(old_model, path, AE_SAVE_DEFAULT), AE_OK);
    assert_true(loads_as(path, old_bytes, old_size));
    /* Exactly one file in the deepest folder. */
    int deepest = openat(fds[DEPTH], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(deepest >= 0);
    DIR *d = fdopendir(deepest);
    assert_non_null(d);
    size_t entries = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        entries += e->d_name[0] != '.';
    closedir(d);
    assert_int_equal(entries, 1);

    assert_int_equal(unlinkat(fds[DEPTH], "model.aemodel", 0), 0);
    for (int i = DEPTH; i > 0; i--) {
        close(fds[i]);
        assert_int_equal(unlinkat(fds[i - 1], component, AT_REMOVEDIR), 0);
    }
    close(fds[0]);
    free(path);
    remove_tree(t.dir);
}

/* A long path's failure keeps its reason in the message: the path is shortened in its middle,
 * keeping its start and the file's own name, so that the reason still fits. */
static void test_a_long_paths_failure_keeps_its_reason_and_the_files_name(void **state)
{
    (void)state;
    char path[600];
    int at = snprintf(path, sizeof path, "/nonexistent-folder-of-autoenc-tests/");
    memset(path + at, 'a', 400);
    snprintf(path + at + 400, sizeof path - (size_t)at - 400, "-the-file.aemodel");
    assert_int_equal(ae_model_save(old_model, path, AE_SAVE_DEFAULT), AE_ERR_IO);
    const char *message = ae_last_error();
    assert_non_null(strstr(message, "/nonexistent-folder"));
    assert_non_null(strstr(message, "...aaa"));
    assert_non_null(strstr(message, "-the-file.aemodel: "));
    assert_true(strlen(message) < 250); /* the reason after the path, nothing cut */
    ae_model *m = NULL;
    assert_int_equal(ae_model_load(&m, path), AE_ERR_IO);
    message = ae_last_error();
    assert_non_null(strstr(message, "-the-file.aemodel: "));
    assert_true(strlen(message) < 250);
    assert_null(m);
}

/* ================================================================================== */
/* Saving: failures and kills leave the old file and nothing else                        */
/* ================================================================================== */

/* The save, with file size limited below the model's size: write() raises SIGXFSZ
 * (which kills the process mid-write) or, with the signal ignored, fails with EFBIG. */
typedef struct limited_save {
    const char *path;
    int ignore_signal;
} limited_save;

static int save_with_limited_file_size(const void *arg)
{
    const limited_save *c = arg;
    struct rlimit no_core = {0, 0}, limit = {new_size / 2, new_size / 2};
    if (setrlimit(RLIMIT_CORE, &no_core) != 0 || setrlimit(RLIMIT_FSIZE, &limit) != 0)
        return 10;
    if (c->ignore_signal)
        signal(SIGXFSZ, SIG_IGN);
    int status = ae_model_save(new_model, c->path, AE_SAVE_DEFAULT);
    if (status != AE_ERR_IO || !strstr(ae_last_error(), "cannot write")) {
        fprintf(stderr, "      save: %s (%s)\n", ae_status_str(status), ae_last_error());
        return 1;
    }
    return 0;
}

static void test_save_killed_while_writing_leaves_the_old_file_and_nothing_else(void **state)
{
    (void)state;
    temp_dir t;
    make_temp_dir(&t);
    if (!has_unnamed_files(t.dir)) {
        print_message("      note: skipped: %s offers no unnamed temporary files\n", t.dir);
        remove_tree(t.dir);
        return;
    }
    write_file(t.path, old_bytes, old_size);
    limited_save c = {t.path, 0};
    int status = run_child(save_with_limited_file_size, &c, 0);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGXFSZ);
    assert_int_equal(count_entries(t.dir), 1);
    assert_loads_as_old(t.path);
    /* The same through the other way of naming an unnamed file (/proc/self/fd). */
    status = run_child(save_with_limited_file_size, &c, NO_EMPTY_PATH_LINK);
    if (WIFEXITED(status) && WEXITSTATUS(status) == CHILD_SKIPPED) {
        print_message("      note: no seccomp filter here; /proc/self/fd naming not checked\n");
    } else {
        assert_true(WIFSIGNALED(status));
        assert_int_equal(WTERMSIG(status), SIGXFSZ);
        assert_int_equal(count_entries(t.dir), 1);
        assert_loads_as_old(t.path);
    }
    remove_tree(t.dir);
}

static void test_save_that_cannot_write_removes_its_temporary_file(void **state)
{
    (void)state;
    temp_dir t;
    make_temp_dir(&t);
    write_file(t.path, old_bytes, old_size);
    limited_save c = {t.path, 1};
    static const unsigned ways[] = {0, NO_UNNAMED_FILES, NO_LINK};
    static const char *names[] = {"unnamed file", "named file (no O_TMPFILE)",
                                  "named file (no linkat)"};
    for (size_t i = 0; i < ARRAY_LEN(ways); i++) {
        child_passes(save_with_limited_file_size, &c, ways[i], names[i]);
        assert_int_equal(count_entries(t.dir), 1);
        assert_loads_as_old(t.path);
    }
    remove_tree(t.dir);
}

static int save_new_model(const void *arg)
{
    save_case c = {arg, new_model, AE_OK, NULL};
    return save_case_run(&c);
}

static void test_save_names_its_file_through_proc_or_uses_a_named_one_when_it_must(void **state)
{
    (void)state;
    temp_dir t;
    make_temp_dir(&t);
    static const unsigned ways[] = {NO_UNNAMED_FILES, NO_LINK, NO_EMPTY_PATH_LINK,
                                    NO_EMPTY_PATH_LINK | AS_NOBODY};
    give_to_saver(t.dir);
    for (size_t i = 0; i < ARRAY_LEN(ways); i++) {
        write_file(t.path, old_bytes, old_size);
        if (!child_passes(save_new_model, t.path, ways[i], "saving under restrictions"))
            continue;
        assert_int_equal(count_entries(t.dir), 1);
        assert_loads_as_new(t.path);
    }
    /* Killed while writing, a named temporary file stays behind: it is hidden, next to
     * the target, and its name fits NAME_MAX however long the target's name is. */
    char name[256];
    long_name(name);
    char path[512];
    snprintf(path, sizeof path, "%s/%s", t.dir, name);
    write_file(path, old_bytes, old_size);
    assert_int_equal(unlink(t.path), 0);
    limited_save c = {path, 0};
    int status = run_child(save_with_limited_file_size, &c, NO_UNNAMED_FILES);
    if (!(WIFEXITED(status) && WEXITSTATUS(status) == CHILD_SKIPPED)) {
        assert_true(WIFSIGNALED(status));
        assert_loads_as_old(path);
        DIR *d = opendir(t.dir);
        assert_non_null(d);
        size_t temporaries = 0;
        for (struct dirent *e; (e = readdir(d)) != NULL;) {
            size_t n = strlen(e->d_name);
            if (e->d_name[0] != '.' || n <= 2)
                continue;
            temporaries++;
            /* "." + 246 bytes of the name (123 whole characters) + "." + 6 characters */
            assert_int_equal(n, 1 + 246 + 1 + 6);
            assert_memory_equal(e->d_name + 1, name, 246);
            assert_int_equal(e->d_name[247], '.');
        }
        closedir(d);
        assert_int_equal(temporaries, 1);
        assert_int_equal(remove_hidden_entries(t.dir), 1);
    }
    assert_int_equal(count_entries(t.dir), 1);
    remove_tree(t.dir);
}

/* Keep saving the large model over path until killed. */
static int save_large_model_forever(const void *arg)
{
    for (;;)
        if (ae_model_save(large_model, arg, AE_SAVE_DEFAULT) != AE_OK)
            return 1;
}

static void test_save_killed_at_random_times_leaves_the_old_or_the_new_model(void **state)
{
    (void)state;
    temp_dir t;
    make_temp_dir(&t);
    size_t large_size;
    unsigned char *large_bytes = bytes_of(large_model, &large_size);
    /* Kills spread over twice the time one save takes here, so that both outcomes occur. */
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    assert_int_equal(ae_model_save(large_model, t.path, AE_SAVE_DEFAULT), AE_OK);
    clock_gettime(CLOCK_MONOTONIC, &end);
    long save_us = (end.tv_sec - start.tv_sec) * 1000000L + (end.tv_nsec - start.tv_nsec) / 1000;
    long spread_us = 2 * save_us + 1000;
    enum { ROUNDS = 30 };
    unsigned seed = 12345;
    size_t old_seen = 0, new_seen = 0, leftovers = 0;
    for (int round = 0; round < ROUNDS; round++) {
        assert_int_equal(ae_model_save(old_model, t.path, AE_SAVE_DEFAULT), AE_OK);
        fflush(NULL);
        pid_t child = fork();
        assert_true(child >= 0);
        if (child == 0)
            _exit(save_large_model_forever(t.path));
        seed = seed * 1103515245u + 12345u;
        long delay_us = (long)((seed >> 8) % (unsigned long)spread_us);
        struct timespec delay = {delay_us / 1000000, delay_us % 1000000 * 1000};
        nanosleep(&delay, NULL);
        assert_int_equal(kill(child, SIGKILL), 0);
        int status;
        assert_int_equal(waitpid(child, &status, 0), child);
        assert_true(WIFSIGNALED(status));
        if (file_holds(t.path, old_bytes, old_size)) {
            assert_true(loads_as(t.path, old_bytes, old_size));
            old_seen++;
        } else {
            assert_true(file_holds(t.path, large_bytes, large_size));
            assert_true(loads_as(t.path, large_bytes, large_size));
            new_seen++;
        }
        leftovers += remove_hidden_entries(t.dir);
        assert_int_equal(count_entries(t.dir), 1);
    }
    print_message("      %d kills within %ld us (one save: %ld us): %zu left the old model, %zu "
                  "the new one; %zu temporary files left behind (%s)\n",
                  ROUNDS, spread_us, save_us, old_seen, new_seen, leftovers,
                  has_unnamed_files(t.dir) ? "unnamed files: a name lives only between linkat "
                                             "and rename"
                                           : "named temporary files");
    free(large_bytes);
    remove_tree(t.dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_round_trip_writes_exactly_the_memory_bytes),
        cmocka_unit_test(test_load_of_missing_file_or_folder_is_an_io_error),
        cmocka_unit_test(test_load_of_a_fifo_device_or_socket_is_refused_without_blocking),
        cmocka_unit_test(test_load_refuses_a_huge_file_of_zeros_after_reading_only_its_header),
        cmocka_unit_test(test_load_from_a_file_reports_header_errors_as_loading_from_memory_does),
        cmocka_unit_test(test_save_replaces_an_existing_file_and_leaves_no_temporary),
        cmocka_unit_test(test_save_keeps_the_permissions_owner_and_group_of_the_replaced_file),
        cmocka_unit_test(test_save_into_a_missing_folder_fails_and_creates_nothing),
        cmocka_unit_test(test_save_into_a_read_only_folder_keeps_the_old_file),
        cmocka_unit_test(test_save_succeeds_when_the_folder_cannot_be_flushed),
        cmocka_unit_test(test_save_fails_cleanly_when_any_allocation_fails),
        cmocka_unit_test(test_save_through_a_symlink_replaces_the_file_and_keeps_the_link),
        cmocka_unit_test(test_save_through_a_dangling_symlink_creates_its_target),
        cmocka_unit_test(test_save_follows_at_most_40_links_and_refuses_a_loop),
        cmocka_unit_test(test_save_refuses_a_target_that_is_not_a_regular_file),
        cmocka_unit_test(test_save_and_load_a_file_name_of_255_bytes),
        cmocka_unit_test(test_save_and_load_a_path_longer_than_path_max),
        cmocka_unit_test(test_a_long_paths_failure_keeps_its_reason_and_the_files_name),
        cmocka_unit_test(test_save_killed_while_writing_leaves_the_old_file_and_nothing_else),
        cmocka_unit_test(test_save_that_cannot_write_removes_its_temporary_file),
        cmocka_unit_test(test_save_names_its_file_through_proc_or_uses_a_named_one_when_it_must),
        cmocka_unit_test(test_save_killed_at_random_times_leaves_the_old_or_the_new_model),
    };
    return cmocka_run_group_tests_name("model_files", tests, group_setup, group_teardown);
}
