/* mqg_hostport — "host:port" (see mqg_hostport.h). */
#include "mqg_hostport.h"

#include <errno.h>
#include <string.h>

static const char s_expected[] =
    "expected HOST:PORT, e.g. \"127.0.0.1:9883\" or \"[::1]:9883\", with a port 1..65535";

/* The port text p: digits only, 1..65535. */
static int s_port(const char *p, int *port, const char **why)
{
    if (!*p || strspn(p, "0123456789") != strlen(p) || strlen(p) > 5) {
        *why = s_expected;
        return -EINVAL;
    }
    long v = 0;
    for (; *p; p++) {
        v = v * 10 + (*p - '0');
    }
    if (v < 1 || v > 65535) {
        *why = "the port must be 1..65535 (0, any free port, is not allowed: scrapers must "
               "know where to look)";
        return -EINVAL;
    }
    *port = (int)v;
    return 0;
}

int mqg_hostport_parse(const char *s, char *host, size_t cap, int *port, const char **why)
{
    const char *colon;
    const char *h = s;
    size_t hlen;
    *why = s_expected;
    if (!s || cap < MQG_HOST_MAX + 1) {
        return -EINVAL;
    }
    if (s[0] == '[') { /* [IPv6]:port */
        const char *end = strchr(s, ']');
        if (!end || end[1] != ':') {
            return -EINVAL;
        }
        h = s + 1;
        hlen = (size_t)(end - h);
        colon = end + 1;
        if (hlen == 0 || strspn(h, "0123456789abcdefABCDEF:.") < hlen) {
            return -EINVAL;
        }
    } else {
        colon = strrchr(s, ':');
        if (!colon || memchr(s, ':', (size_t)(colon - s))) { /* IPv6 needs brackets */
            return -EINVAL;
        }
        hlen = (size_t)(colon - s);
        const char *ok = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-";
        if (hlen == 0 || strspn(h, ok) < hlen) {
            return -EINVAL;
        }
    }
    if (hlen > MQG_HOST_MAX) {
        return -EINVAL;
    }
    int rc = s_port(colon + 1, port, why);
    if (rc != 0) {
        return rc;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    return 0;
}
