/* mqg_trie — subscription trie: plain MQTT filters mapped to opaque values.
 *
 * The router keeps one trie per namespace (internal bus, each external connection) and
 * matches every message topic against it; mqg_subs uses one to find overlapping filters.
 * Values are borrowed pointers: the trie never frees them. Not thread-safe; one owner.
 */
#ifndef MQG_TRIE_H
#define MQG_TRIE_H

#include <stddef.h>

struct mqg_trie;

/* Returns a new empty trie, or NULL on allocation failure. */
struct mqg_trie *mqg_trie_new(void);

/* NULL-safe; frees all nodes (not the values) and clears *t. */
void mqg_trie_destroy(struct mqg_trie **t);

/* Add (filter, value). The same filter may carry several values; the same pair added twice is
 * stored twice. Returns 0, -EINVAL for an invalid plain filter, -ENOMEM. */
int mqg_trie_add(struct mqg_trie *t, const char *filter, void *value);

typedef void (*mqg_trie_cb)(void *value, void *arg);

/* Call cb(value, arg) once for every (filter, value) pair whose filter matches the topic
 * name. Order is unspecified. A value stored under two matching filters is reported twice:
 * callers dedupe. Returns the number of calls. The topic is taken as a valid name (checked
 * on receipt by mqg_wire_topic_ok); NULL or "" matches nothing. Allocation-free; recursion
 * depth is at most the number of '+' levels in the deepest stored filter. */
size_t mqg_trie_match(const struct mqg_trie *t, const char *topic, mqg_trie_cb cb, void *arg);

/* Remove one (filter, value) pair added before. Returns 0, -ENOENT if it is not there,
 * -EINVAL for an invalid filter. */
int mqg_trie_remove(struct mqg_trie *t, const char *filter, void *value);

/* Call cb(value, arg) once for every stored (filter, value) pair whose filter overlaps the
 * plain filter `filter`: some topic name matches both (so "a/+" and "+/b" overlap, "a/+" and
 * "a/b/c" do not, and neither do "+/x" and "$SYS/x"). Returns the number of calls; 0 for an
 * invalid filter. Allocation-free. The cost grows with the stored filters that overlap, and
 * with the children enumerated under each '+' level of the query. */
size_t mqg_trie_overlaps(const struct mqg_trie *t, const char *filter, mqg_trie_cb cb, void *arg);

/* Number of (filter, value) pairs stored. */
size_t mqg_trie_size(const struct mqg_trie *t);

#endif
