/* mqg_rundir — the runtime directory, made and checked so that no other user controls it.
 *
 * Used by the supervisor (at start, and again whenever it finds the directory gone) and by the
 * connector (before it writes inline certificates and keys there). Whoever can change what is
 * in the runtime directory can swap the CA file a connector trusts, so a directory is used only
 * when no other user can change it. Path I/O only; no global state. Every function that fails
 * puts one sentence into why: the path, what is wrong, and what to do about it.
 */
#ifndef MQG_RUNDIR_H
#define MQG_RUNDIR_H

#include <stddef.h>
#include <sys/types.h>

/* The secret files a connector writes into the runtime directory (inline PEM text). */
enum mqg_secret { MQG_SECRET_CA, MQG_SECRET_CERT, MQG_SECRET_KEY, MQG_SECRET_COUNT };

/* Identity of a directory, to notice that it was removed or replaced. */
struct mqg_rundir_id {
    dev_t dev;
    ino_t ino;
};

/* Make <base>/<name> the instance runtime directory: create what is missing (mode 0700) and
 * check every level, walking with O_NOFOLLOW from the real path of base's parent down:
 * - every level above <base>/<name>, base included: a directory owned by root or by this
 *   (effective) user, writable by group or others only when its sticky bit is set (as /tmp);
 *   base itself must not be a symbolic link (levels above it are resolved first);
 * - <base>/<name>: a directory, not a symbolic link, owned by this user and not writable by
 *   group or others; it is then set to mode 0700.
 * name is one path component. Nothing that exists is changed except that last mode.
 * Returns 0 and fills *id (may be NULL); -EPERM when a level is unsafe; another -errno when a
 * level cannot be created or inspected. */
int mqg_rundir_make(const char *base, const char *name, struct mqg_rundir_id *id, char *why,
                    size_t cap);

/* Check, without creating anything, that dir (made by mqg_rundir_make) is still a directory
 * of this user that nobody else may write to. Returns 0 and fills *id (may be NULL); -ENOENT
 * when it is gone; -EPERM when it is unsafe (a symbolic link, another owner, writable by group
 * or others); another -errno. */
int mqg_rundir_check(const char *dir, struct mqg_rundir_id *id, char *why, size_t cap);

/* The real path of <base>/<name> as mqg_rundir_make walks it (base's parent resolved by
 * realpath as far as it exists; base and name appended as written), into out. Creates nothing.
 * Returns 0, -ENAMETOOLONG or -errno. */
int mqg_rundir_real_path(const char *base, const char *name, char *out, size_t cap);

/* Write a secret (an inline certificate or key) into a new file at path, mode 0600, created
 * with O_EXCL | O_NOFOLLOW: never through a symbolic link, never into a file someone else
 * prepared. A stale file of ours (a regular file owned by this user, e.g. left by a killed
 * process whose pid is reused) is removed and the creation tried once more; anything else at
 * path is left alone and reported (-EEXIST). A failed write removes the new file. Returns 0 or
 * -errno. */
int mqg_rundir_write_secret(const char *path, const void *data, size_t len, char *why, size_t cap);

/* The path of the secret file `kind` of the process pid in the runtime directory dir,
 * "<dir>/<ca|cert|key>-<pid>.pem", into out: the one name the connector writes (and removes)
 * and the supervisor removes when a connector ends any other way. Returns 0, -ENAMETOOLONG
 * when it does not fit in cap, -EINVAL for an unknown kind. */
int mqg_rundir_secret_path(const char *dir, enum mqg_secret kind, pid_t pid, char *out, size_t cap);

#endif
