/* mqg_log — the one log line format of every mqgate process.
 *
 * "<time> <role>[<pid>] <instance> <LEVEL> <MSGID>: <text>" to stderr (children: the pipe
 * the supervisor reads) or to a file. The level is checked before formatting. Thread-safe:
 * one write(2) per line. Never log credentials; payloads only at DEBUG.
 */
#ifndef MQG_LOG_H
#define MQG_LOG_H

enum mqg_log_level {
    MQG_LOG_DEBUG = 0,
    MQG_LOG_INFO,
    MQG_LOG_NOTICE,
    MQG_LOG_WARN,
    MQG_LOG_ERROR,
};

extern int mqg_log_threshold;

/* role: "supervisor", "router", "connector"; instance: gateway instance or connection key.
 * Both are copied. fd: where lines go (2 = stderr). */
void mqg_log_init(const char *role, const char *instance, int level, int fd);

/* "debug", "info", "notice", "warn"/"warning", "error" -> level; -1 if unknown. */
int mqg_log_level_parse(const char *s);
const char *mqg_log_level_name(int level);

void mqg_log_write(int level, const char *msgid, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A line in the name of another process, which cannot write mqgate's format itself (the
 * embedded mosquitto, whose output the supervisor reads): its role, pid and name instead of
 * this process's. The level is checked here. */
void mqg_log_write_as(const char *role, int pid, const char *name, int level, const char *msgid,
                      const char *fmt, ...) __attribute__((format(printf, 6, 7)));

#define mqg_log(level, msgid, ...)                                                                 \
    do {                                                                                           \
        if ((level) >= mqg_log_threshold) {                                                        \
            mqg_log_write((level), (msgid), __VA_ARGS__);                                          \
        }                                                                                          \
    } while (0)

#define log_debug(id, ...) mqg_log(MQG_LOG_DEBUG, id, __VA_ARGS__)
#define log_info(id, ...) mqg_log(MQG_LOG_INFO, id, __VA_ARGS__)
#define log_notice(id, ...) mqg_log(MQG_LOG_NOTICE, id, __VA_ARGS__)
#define log_warn(id, ...) mqg_log(MQG_LOG_WARN, id, __VA_ARGS__)
#define log_error(id, ...) mqg_log(MQG_LOG_ERROR, id, __VA_ARGS__)

#endif
