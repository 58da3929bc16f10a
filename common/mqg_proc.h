/* mqg_proc — small process helpers shared by all mqgate processes.
 *
 * Monotonic time, non-blocking fds, signals read through a signalfd (blocked in every thread
 * before any library starts one), the directory of the running executable.
 */
#ifndef MQG_PROC_H
#define MQG_PROC_H

#include <stddef.h>
#include <stdint.h>

/* Milliseconds on the monotonic clock. */
int64_t mqg_now_ms(void);

/* Monotonic clock in microseconds. */
int64_t mqg_now_us(void);

/* Wall-clock time in ms since the epoch (CLOCK_REALTIME): for times written to disk. */
int64_t mqg_now_wall_ms(void);

/* Set O_NONBLOCK on fd. Returns 0 or -errno. */
int mqg_set_nonblock(int fd);

/* Block SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGQUIT, SIGUSR1 and ignore SIGPIPE in the calling thread
 * (call before any thread exists), then return a non-blocking signalfd that reads them, or
 * -errno. */
int mqg_signals_block(void);

/* Read one pending signal number from a signalfd: returns the signal, 0 if none, -errno. */
int mqg_signal_read(int sfd);

/* Directory of /proc/self/exe into out (cap bytes). Returns 0 or -errno. */
int mqg_exe_dir(char *out, size_t cap);

/* Write all len bytes (retrying short writes and EINTR). Returns 0 or -errno (-EIO when the
 * file takes nothing). */
int mqg_write_all(int fd, const void *data, size_t len);

/* mkdir -p with mode for every created level. Returns 0 or -errno. */
int mqg_mkdir_p(const char *path, unsigned mode);

/* FNV-1a, 64 bits, of len bytes, continuing from h (start with MQG_FNV64_INIT). Stable across
 * versions and machines: names derived from it (instance lock, default client id) keep. */
#define MQG_FNV64_INIT 0xcbf29ce484222325ull
uint64_t mqg_fnv1a64(const void *data, size_t len, uint64_t h);

/* Random 64-bit seed (getrandom, falling back to time and pid). */
uint64_t mqg_seed(void);

#endif
