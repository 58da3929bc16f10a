/* mqg_backoff — retry delays with decorrelated jitter, reset on success (see mqg_backoff.h).
 *
 * next = min(cap, uniform [base, 3 * prev)), with prev = base after init/reset, as in the
 * "decorrelated jitter" of AWS' backoff study. The randomness is a xorshift64 generator
 * seeded by the caller and kept in the struct: no global state, deterministic in tests.
 */
#include "mqg_backoff.h"

#include "mqg_model.h"

/* Replaces a zero seed: xorshift64 never leaves the all-zero state. */
#define S_SEED_DEFAULT 0x9e3779b97f4a7c15ull

static uint64_t s_xorshift64(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return x;
}

void mqg_backoff_init(struct mqg_backoff *b, uint32_t base_ms, uint32_t cap_ms, uint64_t seed)
{
    b->base_ms = base_ms ? base_ms : 1;
    b->cap_ms = cap_ms < b->base_ms ? b->base_ms : cap_ms;
    b->prev_ms = 0;
    b->rng = seed ? seed : S_SEED_DEFAULT;
    b->attempts = 0;
    b->factor = 0;
}

void mqg_backoff_init_conn(struct mqg_backoff *b, const struct mqg_connection *c, uint64_t seed)
{
    uint32_t base = c->reconnect_period_ms > 0 ? (uint32_t)c->reconnect_period_ms : 1000;
    uint32_t cap =
        c->reconnect_max_ms > 0 ? (uint32_t)c->reconnect_max_ms : (base > 60000 ? base : 60000);
    mqg_backoff_init(b, base, cap, seed);
    b->factor = c->reconnect_factor > 0 ? (uint32_t)c->reconnect_factor : 0;
}

/* base, base * factor, ... capped: the platform's connectionStrategy. */
static uint32_t s_next_factor(struct mqg_backoff *b)
{
    uint64_t delay = b->prev_ms ? (uint64_t)b->prev_ms * b->factor : b->base_ms;
    return delay > b->cap_ms ? b->cap_ms : (uint32_t)delay;
}

uint32_t mqg_backoff_next(struct mqg_backoff *b)
{
    if (b->factor) {
        b->prev_ms = s_next_factor(b);
        if (b->attempts < UINT32_MAX) {
            b->attempts++;
        }
        return b->prev_ms;
    }
    uint64_t lo = b->base_ms;
    uint64_t prev = b->prev_ms ? b->prev_ms : lo;
    uint64_t hi = prev * 3; /* > lo, as prev >= base >= 1; no overflow in 64 bits */
    uint64_t delay = lo + s_xorshift64(&b->rng) % (hi - lo);
    if (delay > b->cap_ms) {
        delay = b->cap_ms;
    }
    b->prev_ms = (uint32_t)delay;
    if (b->attempts < UINT32_MAX) {
        b->attempts++;
    }
    return (uint32_t)delay;
}

void mqg_backoff_reset(struct mqg_backoff *b)
{
    b->prev_ms = 0;
    b->attempts = 0;
}
