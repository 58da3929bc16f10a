/* mqg_backoff — retry delays with decorrelated jitter, reset on success.
 *
 * Used by connectors (broker reconnect) and the supervisor (child restart). Pure: the random
 * source is a seeded xorshift state inside the struct, so tests are deterministic.
 * next = min(cap, random in [base, prev * 3]); the first delay after init/reset lies in
 * [base, 3 * base) capped at cap. With a factor (a connection's connectionStrategy) the delays
 * are those the platform documents instead, without jitter: base, base * factor, ... up to cap
 * (1000, 2000, 4000, 5000 for base 1000, factor 2, cap 5000).
 */
#ifndef MQG_BACKOFF_H
#define MQG_BACKOFF_H

#include <stdint.h>

struct mqg_backoff {
    uint32_t factor; /* 0: decorrelated jitter; else each delay this many times the last */
    uint32_t base_ms;
    uint32_t cap_ms;
    uint32_t prev_ms;  /* 0 after init/reset */
    uint64_t rng;      /* xorshift64 state, never 0 */
    uint32_t attempts; /* delays handed out since the last reset */
};

/* base_ms >= 1; cap_ms >= base_ms (raised to base_ms if lower). seed 0 is replaced. */
void mqg_backoff_init(struct mqg_backoff *b, uint32_t base_ms, uint32_t cap_ms, uint64_t seed);

/* The reconnect delays of a connection: connectionStrategy's initialDelay, incrementFactor and
 * maxDelay when it has them (reconnect_factor > 0), else growing with jitter from
 * reconnectPeriod (0 = 1000 ms) up to 60 s, or up to reconnectPeriod when that is longer
 * (reconnect_max_ms, when set, instead of 60 s). */
struct mqg_connection;
void mqg_backoff_init_conn(struct mqg_backoff *b, const struct mqg_connection *c, uint64_t seed);

/* The next delay in milliseconds. */
uint32_t mqg_backoff_next(struct mqg_backoff *b);

/* After a success: the next delay starts from base again. */
void mqg_backoff_reset(struct mqg_backoff *b);

#endif
