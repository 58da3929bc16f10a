/* mqg_backoff — retry delays with decorrelated jitter, reset on success.
 *
 * Used by connectors (broker reconnect) and the supervisor (child restart). Pure: the random
 * source is a seeded xorshift state inside the struct, so tests are deterministic.
 * next = min(cap, random in [base, prev * 3]); the first delay after init/reset lies in
 * [base, 3 * base) capped at cap.
 */
#ifndef MQG_BACKOFF_H
#define MQG_BACKOFF_H

#include <stdint.h>

struct mqg_backoff {
    uint32_t base_ms;
    uint32_t cap_ms;
    uint32_t prev_ms;  /* 0 after init/reset */
    uint64_t rng;      /* xorshift64 state, never 0 */
    uint32_t attempts; /* delays handed out since the last reset */
};

/* base_ms >= 1; cap_ms >= base_ms (raised to base_ms if lower). seed 0 is replaced. */
void mqg_backoff_init(struct mqg_backoff *b, uint32_t base_ms, uint32_t cap_ms, uint64_t seed);

/* The next delay in milliseconds. */
uint32_t mqg_backoff_next(struct mqg_backoff *b);

/* After a success: the next delay starts from base again. */
void mqg_backoff_reset(struct mqg_backoff *b);

#endif
