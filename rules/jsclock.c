/* jsclock — see jsclock.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "jsclock.h"

#include <dlfcn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* How long an estimate may run on before the CPU clock is read again (ns). */
#define S_REFRESH_NS 1000000

typedef int s_clock_fn(clockid_t, struct timespec *);

static _Atomic(s_clock_fn *) s_next;

/* The engine thread's estimate: at mono_ns the CPU clock read cpu_ns; given out last: out_ns. */
static _Thread_local struct {
    bool on;
    int64_t mono_ns, cpu_ns, out_ns;
} t_est;

void jsclock_wall_time_here(void)
{
    t_est.on = true;
}

static s_clock_fn *s_real(void)
{
    s_clock_fn *next = atomic_load_explicit(&s_next, memory_order_acquire);
    if (!next) { /* the C library's (or a sanitizer's, which calls the C library's) */
        next = (s_clock_fn *)dlsym(RTLD_NEXT, "clock_gettime");
        atomic_store_explicit(&s_next, next, memory_order_release);
    }
    return next;
}

static int s_call(clockid_t id, struct timespec *ts)
{
    s_clock_fn *real = s_real();
    return real ? real(id, ts) : (int)syscall(SYS_clock_gettime, id, ts);
}

static int64_t s_ns(const struct timespec *ts)
{
    return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

/* This thread's CPU clock, estimated between reads at most S_REFRESH_NS apart. */
static int s_cpu_estimate(struct timespec *ts)
{
    struct timespec m;
    if (s_call(CLOCK_MONOTONIC, &m) != 0) {
        return s_call(CLOCK_THREAD_CPUTIME_ID, ts);
    }
    int64_t mono = s_ns(&m), est;
    if (t_est.mono_ns && mono - t_est.mono_ns < S_REFRESH_NS) {
        est = t_est.cpu_ns + (mono - t_est.mono_ns);
    } else {
        struct timespec c;
        if (s_call(CLOCK_THREAD_CPUTIME_ID, &c) != 0) {
            return -1;
        }
        t_est.mono_ns = mono;
        t_est.cpu_ns = est = s_ns(&c);
    }
    if (est < t_est.out_ns) {
        est = t_est.out_ns; /* never backwards (the thread may have waited) */
    }
    t_est.out_ns = est;
    ts->tv_sec = est / 1000000000;
    ts->tv_nsec = est % 1000000000;
    return 0;
}

int clock_gettime(clockid_t id, struct timespec *ts)
{
    if (id == CLOCK_THREAD_CPUTIME_ID && t_est.on) {
        return s_cpu_estimate(ts);
    }
    return s_call(id, ts);
}
