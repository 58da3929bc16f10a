/* mqg_log — log line formatting and output (see mqg_log.h).
 *
 * One write(2) per line, so lines from paho threads and the main loop never interleave.
 * Role and instance are fixed at start-up; the threshold may change at any time.
 */
#include "mqg_log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

int mqg_log_threshold = MQG_LOG_INFO;

static char s_role[32] = "mqgate";
static char s_instance[160] = "-";
static int s_fd = 2;

static const char *const s_names[] = {"DEBUG", "INFO", "NOTICE", "WARN", "ERROR"};

void mqg_log_init(const char *role, const char *instance, int level, int fd)
{
    snprintf(s_role, sizeof(s_role), "%s", role ? role : "mqgate");
    snprintf(s_instance, sizeof(s_instance), "%s", instance && *instance ? instance : "-");
    if (level >= MQG_LOG_DEBUG && level <= MQG_LOG_ERROR) {
        mqg_log_threshold = level;
    }
    s_fd = fd >= 0 ? fd : 2;
}

int mqg_log_level_parse(const char *s)
{
    if (!s) {
        return -1;
    }
    for (int i = MQG_LOG_DEBUG; i <= MQG_LOG_ERROR; i++) {
        if (strcasecmp(s, s_names[i]) == 0) {
            return i;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
        return MQG_LOG_WARN;
    }
    return -1;
}

const char *mqg_log_level_name(int level)
{
    if (level < MQG_LOG_DEBUG || level > MQG_LOG_ERROR) {
        return "?";
    }
    return s_names[level];
}

static void s_vwrite(const char *role, int pid, const char *name, int level, const char *msgid,
                     const char *fmt, va_list ap) __attribute__((format(printf, 6, 0)));

void mqg_log_write(int level, const char *msgid, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_vwrite(s_role, (int)getpid(), s_instance, level, msgid, fmt, ap);
    va_end(ap);
}

void mqg_log_write_as(const char *role, int pid, const char *name, int level, const char *msgid,
                      const char *fmt, ...)
{
    if (level < mqg_log_threshold) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    s_vwrite(role, pid, name, level, msgid, fmt, ap);
    va_end(ap);
}

static void s_vwrite(const char *role, int pid, const char *name, int level, const char *msgid,
                     const char *fmt, va_list ap)
{
    char line[2048];
    struct timeval tv;
    struct tm tm;
    int saved = errno;

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof(line),
                     "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s[%d] %s %s %s: ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (int)(tv.tv_usec / 1000), role, pid, name, mqg_log_level_name(level),
                     msgid ? msgid : "-");
    if (n < 0) {
        errno = saved;
        return;
    }
    size_t off = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
    int m = vsnprintf(line + off, sizeof(line) - off, fmt, ap);
    if (m > 0) {
        off += (size_t)m < sizeof(line) - off ? (size_t)m : sizeof(line) - off - 1;
    }
    /* one line, always newline-terminated, embedded newlines flattened */
    for (size_t i = 0; i < off; i++) {
        if (line[i] == '\n' || line[i] == '\r') {
            line[i] = ' ';
        }
    }
    if (off >= sizeof(line) - 1) {
        off = sizeof(line) - 2;
    }
    line[off++] = '\n';
    ssize_t w;
    do {
        w = write(s_fd, line, off);
    } while (w < 0 && errno == EINTR);
    errno = saved;
}
