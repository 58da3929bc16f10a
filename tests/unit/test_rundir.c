/* test_rundir — unit tests of mqg_rundir: which runtime directories are used, which refused,
 * and how secret files are created.
 *
 * Each test works in its own mkdtemp directory under /tmp. Cases that need a directory of
 * another user (uid 65534) chown one and are skipped when not run as root.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mqg_rundir.h"

#define OTHER_UID 65534

struct tmp {
    char dir[64];
    char why[512];
};

static int s_setup(void **state)
{
    struct tmp *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    snprintf(t->dir, sizeof(t->dir), "/tmp/test_rundir.XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    *state = t;
    return 0;
}

static int s_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    chmod(path, 0700);
    return remove(path);
}

static int s_teardown(void **state)
{
    struct tmp *t = *state;
    nftw(t->dir, s_rm, 16, FTW_DEPTH | FTW_PHYS);
    free(t);
    return 0;
}

/* "<tmp>/<rel>" into a static buffer (one at a time per expression). */
static const char *s_at(const struct tmp *t, const char *rel, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s", t->dir, rel);
    return buf;
}

static void s_mkdir(const struct tmp *t, const char *rel, unsigned mode)
{
    char p[256];
    assert_int_equal(mkdir(s_at(t, rel, p, sizeof(p)), 0700), 0);
    assert_int_equal(chmod(p, mode), 0);
}

static unsigned s_mode(const struct tmp *t, const char *rel)
{
    char p[256];
    struct stat st;
    assert_int_equal(lstat(s_at(t, rel, p, sizeof(p)), &st), 0);
    return (unsigned)st.st_mode & 07777;
}

static void test_creates_every_level_0700(void **state)
{
    struct tmp *t = *state;
    char base[256], dir[256];
    s_at(t, "a/b/run", base, sizeof(base));
    struct mqg_rundir_id id, again, checked;
    assert_int_equal(mqg_rundir_make(base, "gw", &id, t->why, sizeof(t->why)), 0);
    assert_int_equal(s_mode(t, "a"), 0700);
    assert_int_equal(s_mode(t, "a/b/run"), 0700);
    assert_int_equal(s_mode(t, "a/b/run/gw"), 0700);
    /* an existing safe directory is used as it is */
    assert_int_equal(mqg_rundir_make(base, "gw", &again, t->why, sizeof(t->why)), 0);
    assert_true(id.dev == again.dev && id.ino == again.ino);
    s_at(t, "a/b/run/gw", dir, sizeof(dir));
    assert_int_equal(mqg_rundir_check(dir, &checked, t->why, sizeof(t->why)), 0);
    assert_true(id.dev == checked.dev && id.ino == checked.ino);
}

static void test_gone_is_enoent(void **state)
{
    struct tmp *t = *state;
    char dir[256];
    assert_int_equal(
        mqg_rundir_check(s_at(t, "nope", dir, sizeof(dir)), NULL, t->why, sizeof(t->why)), -ENOENT);
    assert_non_null(strstr(t->why, dir));
}

static void test_readable_by_others_is_tightened(void **state)
{
    struct tmp *t = *state;
    char base[256];
    s_mkdir(t, "run", 0755);
    s_mkdir(t, "run/gw", 0755);
    assert_int_equal(
        mqg_rundir_make(s_at(t, "run", base, sizeof(base)), "gw", NULL, t->why, sizeof(t->why)), 0);
    assert_int_equal(s_mode(t, "run/gw"), 0700);
    assert_int_equal(s_mode(t, "run"), 0755); /* not ours to change */
}

static void test_writable_by_others_is_refused(void **state)
{
    struct tmp *t = *state;
    char base[256], dir[256];
    s_mkdir(t, "run", 0700);
    s_mkdir(t, "run/gw", 0770);
    s_at(t, "run", base, sizeof(base));
    assert_int_equal(mqg_rundir_make(base, "gw", NULL, t->why, sizeof(t->why)), -EPERM);
    assert_non_null(strstr(t->why, s_at(t, "run/gw", dir, sizeof(dir))));
    assert_non_null(strstr(t->why, "writable by group or others (mode 0770)"));
    assert_int_equal(s_mode(t, "run/gw"), 0770); /* left alone */
    assert_int_equal(mqg_rundir_check(dir, NULL, t->why, sizeof(t->why)), -EPERM);
    /* the base too, unless sticky like /tmp */
    assert_int_equal(chmod(dir, 0700), 0);
    assert_int_equal(chmod(base, 0777), 0);
    assert_int_equal(mqg_rundir_make(base, "gw", NULL, t->why, sizeof(t->why)), -EPERM);
    assert_non_null(strstr(t->why, "without the sticky bit (mode 0777)"));
    assert_int_equal(chmod(base, 01777), 0);
    assert_int_equal(mqg_rundir_make(base, "gw", NULL, t->why, sizeof(t->why)), 0);
}

static void test_writable_parent_above_is_refused(void **state)
{
    struct tmp *t = *state;
    char base[256];
    s_mkdir(t, "open", 0777);
    s_at(t, "open/run", base, sizeof(base));
    assert_int_equal(mqg_rundir_make(base, "gw", NULL, t->why, sizeof(t->why)), -EPERM);
    assert_non_null(strstr(t->why, "above the runtime directory"));
    assert_int_equal(access(base, F_OK), -1); /* nothing created below it */
}

static void test_symbolic_links_are_refused(void **state)
{
    struct tmp *t = *state;
    char base[256], target[256], link[256];
    s_mkdir(t, "real", 0700);
    s_mkdir(t, "run", 0700);
    s_at(t, "real", target, sizeof(target));
    /* the instance directory a link */
    assert_int_equal(symlink(target, s_at(t, "run/gw", link, sizeof(link))), 0);
    s_at(t, "run", base, sizeof(base));
    assert_int_equal(mqg_rundir_make(base, "gw", NULL, t->why, sizeof(t->why)), -EPERM);
    assert_non_null(strstr(t->why, "symbolic link"));
    assert_int_equal(mqg_rundir_check(link, NULL, t->why, sizeof(t->why)), -EPERM);
    /* runtime_dir itself a link */
    assert_int_equal(symlink(target, s_at(t, "linked", link, sizeof(link))), 0);
    assert_int_equal(mqg_rundir_make(link, "gw", NULL, t->why, sizeof(t->why)), -EPERM);
    assert_non_null(strstr(t->why, "runtime_dir"));
    assert_non_null(strstr(t->why, "symbolic link"));
    /* a link above runtime_dir (as /var/run -> /run) is resolved and its target checked */
    s_at(t, "linked/run", base, sizeof(base));
    assert_int_equal(mqg_rundir_make(base, "gw", NULL, t->why, sizeof(t->why)), 0);
    assert_int_equal(s_mode(t, "real/run/gw"), 0700);
}

static void test_not_a_directory(void **state)
{
    struct tmp *t = *state;
    char base[256], f[256];
    s_mkdir(t, "run", 0700);
    int fd = open(s_at(t, "run/gw", f, sizeof(f)), O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(
        mqg_rundir_make(s_at(t, "run", base, sizeof(base)), "gw", NULL, t->why, sizeof(t->why)),
        -ENOTDIR);
}

static void test_dot_levels_are_refused(void **state)
{
    struct tmp *t = *state;
    char base[256];
    assert_int_equal(mqg_rundir_make(s_at(t, "x/../run", base, sizeof(base)), "gw", NULL, t->why,
                                     sizeof(t->why)),
                     -EINVAL);
    assert_int_equal(mqg_rundir_make("relative/run", "gw", NULL, t->why, sizeof(t->why)), -EINVAL);
}

static void test_real_path(void **state)
{
    struct tmp *t = *state;
    char base[256], want[256], out[512];
    s_mkdir(t, "real", 0700);
    assert_int_equal(
        symlink(s_at(t, "real", want, sizeof(want)), s_at(t, "alias", base, sizeof(base))), 0);
    assert_int_equal(
        mqg_rundir_real_path(s_at(t, "alias/x/y/run/", base, sizeof(base)), "gw", out, sizeof(out)),
        0);
    assert_string_equal(out, s_at(t, "real/x/y/run/gw", want, sizeof(want)));
    assert_int_equal(mqg_rundir_real_path("/", "gw", out, sizeof(out)), 0);
    assert_string_equal(out, "/gw");
    assert_int_equal(mqg_rundir_real_path("/run", "gw", out, sizeof(out)), 0);
    assert_string_equal(out, "/run/gw");
}

static void test_other_owner_is_refused(void **state)
{
    struct tmp *t = *state;
    if (geteuid() != 0) {
        skip();
    }
    char base[256], dir[256];
    s_mkdir(t, "run", 0700);
    s_mkdir(t, "run/gw", 0700);
    s_at(t, "run", base, sizeof(base));
    assert_int_equal(chown(s_at(t, "run/gw", dir, sizeof(dir)), OTHER_UID, OTHER_UID), 0);
    assert_int_equal(mqg_rundir_make(base, "gw", NULL, t->why, sizeof(t->why)), -EPERM);
    assert_non_null(strstr(t->why, "owned by uid 65534, not by this user (uid 0)"));
    assert_non_null(strstr(t->why, dir));
    assert_int_equal(chown(dir, 0, 0), 0);
    assert_int_equal(chown(base, OTHER_UID, OTHER_UID), 0);
    assert_int_equal(mqg_rundir_make(base, "gw", NULL, t->why, sizeof(t->why)), -EPERM);
    assert_non_null(strstr(t->why, "runtime_dir"));
    assert_non_null(strstr(t->why, "neither root nor this user"));
}

static void s_read(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
}

static void test_secret_file(void **state)
{
    struct tmp *t = *state;
    char path[256], buf[64];
    s_at(t, "ca-1.pem", path, sizeof(path));
    assert_int_equal(mqg_rundir_write_secret(path, "PEM1", 4, t->why, sizeof(t->why)), 0);
    assert_int_equal(s_mode(t, "ca-1.pem"), 0600);
    s_read(path, buf, sizeof(buf));
    assert_string_equal(buf, "PEM1");
    /* a stale file of ours (a dead process with the same pid) is replaced */
    assert_int_equal(mqg_rundir_write_secret(path, "PEM2", 4, t->why, sizeof(t->why)), 0);
    s_read(path, buf, sizeof(buf));
    assert_string_equal(buf, "PEM2");
}

static void test_secret_file_never_through_a_link(void **state)
{
    struct tmp *t = *state;
    char path[256], victim[256], buf[64];
    int fd = open(s_at(t, "victim", victim, sizeof(victim)), O_CREAT | O_WRONLY, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "keep", 4), 4);
    close(fd);
    assert_int_equal(symlink(victim, s_at(t, "ca-2.pem", path, sizeof(path))), 0);
    assert_int_equal(mqg_rundir_write_secret(path, "EVIL", 4, t->why, sizeof(t->why)), -EEXIST);
    assert_non_null(strstr(t->why, "not a regular file"));
    s_read(victim, buf, sizeof(buf));
    assert_string_equal(buf, "keep");
    /* a dangling link does not create its target either */
    assert_int_equal(
        symlink(s_at(t, "made", victim, sizeof(victim)), s_at(t, "ca-3.pem", path, sizeof(path))),
        0);
    assert_int_equal(mqg_rundir_write_secret(path, "EVIL", 4, t->why, sizeof(t->why)), -EEXIST);
    assert_int_equal(access(victim, F_OK), -1);
}

static void test_secret_file_of_another_user_is_left(void **state)
{
    struct tmp *t = *state;
    if (geteuid() != 0) {
        skip();
    }
    char path[256], buf[64];
    int fd = open(s_at(t, "key-4.pem", path, sizeof(path)), O_CREAT | O_WRONLY, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "theirs", 6), 6);
    close(fd);
    assert_int_equal(chown(path, OTHER_UID, OTHER_UID), 0);
    assert_int_equal(mqg_rundir_write_secret(path, "KEY", 3, t->why, sizeof(t->why)), -EEXIST);
    assert_non_null(strstr(t->why, "owned by another user"));
    s_read(path, buf, sizeof(buf));
    assert_string_equal(buf, "theirs");
}

static void test_secret_path(void **state)
{
    (void)state;
    char path[32];
    assert_int_equal(mqg_rundir_secret_path("/run/gw", MQG_SECRET_CA, 42, path, sizeof(path)), 0);
    assert_string_equal(path, "/run/gw/ca-42.pem");
    assert_int_equal(mqg_rundir_secret_path("/run/gw", MQG_SECRET_CERT, 7, path, sizeof(path)), 0);
    assert_string_equal(path, "/run/gw/cert-7.pem");
    assert_int_equal(mqg_rundir_secret_path("/run/gw", MQG_SECRET_KEY, 7, path, sizeof(path)), 0);
    assert_string_equal(path, "/run/gw/key-7.pem");
    /* a path that does not fit is refused, never cut */
    assert_int_equal(mqg_rundir_secret_path("/run/a-rather-long-directory", MQG_SECRET_KEY, 123456,
                                            path, sizeof(path)),
                     -ENAMETOOLONG);
    assert_int_equal(mqg_rundir_secret_path("/run/gw", MQG_SECRET_COUNT, 7, path, sizeof(path)),
                     -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_creates_every_level_0700, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_gone_is_enoent, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_readable_by_others_is_tightened, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_writable_by_others_is_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_writable_parent_above_is_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_symbolic_links_are_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_not_a_directory, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_dot_levels_are_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_real_path, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_other_owner_is_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_secret_file, s_setup, s_teardown),
        cmocka_unit_test(test_secret_path),
        cmocka_unit_test_setup_teardown(test_secret_file_never_through_a_link, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_secret_file_of_another_user_is_left, s_setup,
                                        s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
