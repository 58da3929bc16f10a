/* mqg_ratelog — first occurrence at WARN, then one summary per interval (see mqg_ratelog.h). */
#include "mqg_ratelog.h"

void mqg_ratelog_init(struct mqg_ratelog *r, int64_t interval_ms)
{
    r->interval_ms = interval_ms;
    r->last_ms = 0;
    r->total = 0;
    r->unreported = 0;
    r->started = false;
}

bool mqg_ratelog_hit(struct mqg_ratelog *r, int64_t now)
{
    r->total++;
    if (r->unreported == 0 && (!r->started || now - r->last_ms >= r->interval_ms)) {
        r->started = true;
        r->last_ms = now;
        return true;
    }
    r->unreported++;
    return false;
}

uint64_t mqg_ratelog_summary(struct mqg_ratelog *r, int64_t now)
{
    if (r->unreported == 0 || now - r->last_ms < r->interval_ms) {
        return 0;
    }
    uint64_t n = r->unreported;
    r->unreported = 0;
    r->last_ms = now;
    return n;
}

bool mqg_ratelog_tally(uint64_t *count, uint64_t n)
{
    uint64_t before = *count;
    *count += n;
    return before == 0 || before / MQG_RATELOG_TALLY != *count / MQG_RATELOG_TALLY;
}
