/* jsclock — JavaScriptCore's watchdog timed by the wall clock on the engine's thread.
 *
 * JavaScriptCore's watchdog (rules/jsengine.c, docs/rules.md §4) reads the calling thread's
 * CPU clock (clock_gettime with CLOCK_THREAD_CPUTIME_ID) at every entry into the VM, and
 * jsonata 2.x enters the VM once per promise job: about 38 reads per small evaluation. That
 * clock has no vDSO fast path: each read is a system call, together about 30 us of the 55 us
 * an evaluation took (measured, docs/rules.md §3.1). A program that links rules/jsclock.c
 * defines clock_gettime itself (the dynamic linker binds JavaScriptCore's calls to the
 * executable's definition); on a thread that called jsclock_wall_time_here, a read of
 * CLOCK_THREAD_CPUTIME_ID is answered from CLOCK_MONOTONIC (vDSO, no system call), so the
 * time limit counts wall time there. Every other call goes to the C library's clock_gettime
 * unchanged.
 */
#ifndef RULES_JSCLOCK_H
#define RULES_JSCLOCK_H

/* From now on, this thread's CPU clock reads are answered from the monotonic clock. */
void jsclock_wall_time_here(void);

#endif
