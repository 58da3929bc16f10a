/* mqg_service — loads a service commissioning file (YAML) into the resolved model.
 *
 * Used by the supervisor (see mqg_service.h and shared/commissioning.md). The document is
 * walked through mqg_yaml.c; !ref / !sub are resolved on the fly while each setting is read,
 * so every error can point at the node the user wrote. Resources are read in passes
 * (collect, connections, endpoints, mappings) so a resource may refer to one defined later.
 * The first error stops loading; no global state.
 */
#include "mqg_service.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "mqg_topic.h"
#include "mqg_yaml.h"

#define S_SID_MAX 80       /* service id / metadata.name, characters */
#define S_RES_ID_MAX 128   /* resource id, bytes */
#define S_NAME_MAX 128     /* parameter / definition name, bytes */
#define S_CLIENT_ID_MAX 64 /* derived client id, bytes */
#define S_DEPTH_MAX 16     /* nesting of !ref / !sub through definitions */
#define S_VALUE_MAX (1024 * 1024)       /* bytes of one value built by !sub */
#define S_EXPAND_MAX (16 * 1024 * 1024) /* bytes !sub may produce in one file, all levels */
#define S_SUBST_MAX 100000              /* ${NAME} substitutions in one file */
#define S_PATH_MAX 256     /* setting path (same size as mqg_error.setting) */

typedef struct mqg_yaml_node s_node;

enum s_ptype { S_T_STRING, S_T_INTEGER, S_T_NUMBER, S_T_BOOLEAN };

/* A declared parameter and its value (borrowed: from -p or from the document's default). */
struct s_pdef {
    const char *name;
    enum s_ptype type;
    const char *value;
};

enum s_rkind { S_R_CONN, S_R_EP, S_R_MAP, S_R_SKIPPED };

/* A resource of this file, collected in the first pass. */
struct s_res {
    const char *id;      /* borrowed from the document */
    const s_node *key;   /* the id as written */
    const s_node *props; /* properties mapping (resolved), NULL for skipped resources */
    enum s_rkind kind;
    char *skipped_as; /* skipped: the kind shown to the user (heap) */
    int index;        /* model index of the connection / endpoint, -1 before */
};

struct s_ctx {
    struct mqg_model *m;
    const char *path;
    struct mqg_yaml_doc *doc;
    struct mqg_error *err;
    struct mqg_param *params;
    size_t n_params;
    char sid[S_SID_MAX + 1];
    char root[S_SID_MAX + 16]; /* Cybus::MqttRoot */
    struct s_pdef *pdefs;
    size_t n_pdefs;
    const s_node *defs; /* definitions mapping or NULL */
    struct s_res *res;
    size_t n_res;
    const struct s_val *top; /* the setting being resolved (s_resolve): where limits point */
    size_t expanded;         /* bytes produced by !sub so far, nested ones each time */
    size_t substitutions;    /* ${NAME} resolved so far */
};

/* A setting's value after !ref / !sub resolution. */
struct s_val {
    const s_node *at;   /* where it is written: errors point here */
    const s_node *node; /* resolved YAML node; NULL for text from -p, built-ins, !sub */
    const char *text;   /* scalar text, NULL for a mapping or a sequence */
    size_t len;
    bool quoted;                /* typed as a string (quoted scalar, !sub, string parameter) */
    const struct s_pdef *param; /* the parameter it comes from, or NULL */
    const char *from_kind;      /* "parameter" / "definition" / NULL: for messages */
    const char *from_name;
    char *owned; /* heap text made by !sub */
};

/* ---------------------------------------------------------------------------------------- */
/* errors, paths, memory                                                                     */

static int s_fail(struct s_ctx *c, const s_node *at, const char *setting, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int s_fail(struct s_ctx *c, const s_node *at, const char *setting, const char *fmt, ...)
{
    char msg[sizeof(c->err->msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return mqg_error_set(c->err, c->path, mqg_yaml_line(at), mqg_yaml_col(at), setting, "%s", msg);
}

static int s_oom(struct s_ctx *c)
{
    mqg_error_set(c->err, c->path, 0, 0, NULL, "out of memory");
    return -ENOMEM;
}

/* A path that did not fit ends in "...". */
static void s_path_trunc(char *out, int n)
{
    if (n < 0 || n >= S_PATH_MAX) {
        memcpy(out + S_PATH_MAX - 4, "...", 4);
    }
}

/* out (S_PATH_MAX bytes) = "parent.key", or "key" when parent is empty. */
static void s_path(char *out, const char *parent, const char *key)
{
    int n;
    if (parent && parent[0]) {
        n = snprintf(out, S_PATH_MAX, "%s.%s", parent, key);
    } else {
        n = snprintf(out, S_PATH_MAX, "%s", key);
    }
    s_path_trunc(out, n);
}

/* out (S_PATH_MAX bytes) = "parent[i]". */
static void s_path_idx(char *out, const char *parent, size_t i)
{
    s_path_trunc(out, snprintf(out, S_PATH_MAX, "%s[%zu]", parent, i));
}

static int s_dup(struct s_ctx *c, const char *s, char **out)
{
    *out = strdup(s);
    return *out ? 0 : s_oom(c);
}

static int s_aprintf(struct s_ctx *c, char **out, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int s_aprintf(struct s_ctx *c, char **out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(out, fmt, ap);
    va_end(ap);
    if (n < 0) {
        *out = NULL;
        return s_oom(c);
    }
    return 0;
}

/* Append one zeroed element to a model array; *idx gets its index. */
static int s_append(struct s_ctx *c, void **arr, size_t *n, size_t size, size_t *idx)
{
    char *p = realloc(*arr, (*n + 1) * size);
    if (!p) {
        return s_oom(c);
    }
    memset(p + *n * size, 0, size);
    *arr = p;
    *idx = (*n)++;
    return 0;
}

/* " (from parameter 'x')" or "" — where a resolved value came from. */
static const char *s_origin(const struct s_val *v, char *buf, size_t cap)
{
    buf[0] = '\0';
    if (v->from_kind) {
        snprintf(buf, cap, " (from %s '%s')", v->from_kind, v->from_name);
    }
    return buf;
}

static void s_val_clear(struct s_val *v)
{
    free(v->owned);
    memset(v, 0, sizeof(*v));
}

/* ---------------------------------------------------------------------------------------- */
/* scalar parsing                                                                            */

static bool s_parse_ll(const char *s, long long *out)
{
    if (!s || !s[0] || isspace((unsigned char)s[0])) {
        return false;
    }
    errno = 0;
    char *end;
    long long x = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0') {
        return false;
    }
    *out = x;
    return true;
}

static bool s_parse_double(const char *s, double *out)
{
    if (!s || !s[0] || isspace((unsigned char)s[0])) {
        return false;
    }
    errno = 0;
    char *end;
    double x = strtod(s, &end);
    if (errno != 0 || *end != '\0' || !isfinite(x)) {
        return false;
    }
    *out = x;
    return true;
}

static bool s_parse_bool(const char *s, bool *out)
{
    if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0) {
        *out = true;
        return true;
    }
    if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0) {
        *out = false;
        return true;
    }
    return false;
}

/* Length in characters of UTF-8 text. */
static size_t s_utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++) {
        if (((unsigned char)*s & 0xc0) != 0x80) {
            n++;
        }
    }
    return n;
}

/* 1-based position of the character that starts at byte `off` of UTF-8 text. */
static size_t s_char_pos(const char *s, size_t off)
{
    size_t n = 1;
    for (size_t i = 0; i < off && s[i]; i++) {
        n += ((unsigned char)s[i] & 0xc0) != 0x80;
    }
    return n;
}

/* Names of parameters and definitions: letters, digits, '_', '-', '.'. */
static bool s_valid_name(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max) {
        return false;
    }
    for (; *s; s++) {
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.') {
            return false;
        }
    }
    return true;
}

static bool s_in_list(const char *s, const char *const *list)
{
    for (; *list; list++) {
        if (strcmp(s, *list) == 0) {
            return true;
        }
    }
    return false;
}

static void s_join(char *buf, size_t cap, const char *const *list)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; list[i] && off < cap; i++) {
        int n = snprintf(buf + off, cap - off, "%s%s", i ? ", " : "", list[i]);
        if (n < 0) {
            break;
        }
        off += (size_t)n;
    }
}

/* ---------------------------------------------------------------------------------------- */
/* lookups                                                                                   */

static const struct s_pdef *s_find_param(const struct s_ctx *c, const char *name)
{
    for (size_t i = 0; i < c->n_pdefs; i++) {
        if (strcmp(c->pdefs[i].name, name) == 0) {
            return &c->pdefs[i];
        }
    }
    return NULL;
}

static const s_node *s_find_def(const struct s_ctx *c, const char *name)
{
    const s_node *key = NULL;
    const s_node *v = mqg_yaml_map_get(c->doc, c->defs, name, &key);
    return key ? v : NULL;
}

static struct s_res *s_find_res(const struct s_ctx *c, const char *id)
{
    for (size_t i = 0; i < c->n_res; i++) {
        if (strcmp(c->res[i].id, id) == 0) {
            return &c->res[i];
        }
    }
    return NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* !ref and !sub                                                                             */

static int s_resolve_node(struct s_ctx *c, const s_node *n, const char *path, int depth,
                          struct s_val *v);

/* The name written after !ref / inside ${}: a non-empty scalar. */
static int s_tag_name(struct s_ctx *c, const s_node *n, const char *tag, const char *path,
                      const char **out)
{
    size_t len;
    const char *name = mqg_yaml_scalar(n, &len);
    if (!name || len == 0 || strlen(name) != len) {
        return s_fail(c, n, path, "%s needs a name, e.g. '%s mqttHost'; got a %s", tag, tag,
                      name ? "empty or binary scalar" : mqg_yaml_kind_name(n));
    }
    *out = name;
    return 0;
}

/* Resolve NAME (of !ref NAME or ${NAME}) into v; errors point at `at`. */
static int s_resolve_name(struct s_ctx *c, const char *name, const s_node *at, const char *path,
                          int depth, struct s_val *v)
{
    if (strcmp(name, "Cybus::ServiceId") == 0 || strcmp(name, "Cybus::MqttRoot") == 0) {
        v->text = name[7] == 'S' ? c->sid : c->root;
        v->len = strlen(v->text);
        v->quoted = true;
        v->node = NULL;
        return 0;
    }
    if (strncmp(name, "Cybus::", 7) == 0) {
        return s_fail(c, at, path,
                      "unknown built-in '%s'; expected Cybus::ServiceId or Cybus::MqttRoot", name);
    }
    if (strstr(name, "::")) {
        return s_fail(c, at, path,
                      "'%s' is a reference to another service, which mqgate does not support; "
                      "expected a parameter, definition or resource of this file",
                      name);
    }
    const struct s_pdef *p = s_find_param(c, name);
    if (p) {
        v->text = p->value;
        v->len = strlen(p->value);
        v->quoted = p->type == S_T_STRING;
        v->param = p;
        v->node = NULL;
        if (!v->from_kind) {
            v->from_kind = "parameter";
            v->from_name = p->name;
        }
        return 0;
    }
    const s_node *def = s_find_def(c, name);
    if (def) {
        if (!v->from_kind) {
            v->from_kind = "definition";
            v->from_name = name;
        }
        return s_resolve_node(c, def, path, depth + 1, v);
    }
    if (s_find_res(c, name)) {
        return s_fail(c, at, path,
                      "'%s' is a resource; a resource can only be referenced where a "
                      "connection or endpoint is expected",
                      name);
    }
    return s_fail(c, at, path,
                  "unknown name '%s'; expected a parameter, a definition or a built-in "
                  "(Cybus::ServiceId, Cybus::MqttRoot)",
                  name);
}

/* Growable text for !sub. */
struct s_buf {
    char *p;
    size_t len;
    size_t cap;
};

static int s_buf_add(struct s_buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1) {
            cap *= 2;
        }
        char *p = realloc(b->p, cap);
        if (!p) {
            return -ENOMEM;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

/* Count `add` bytes for the !sub being built in b against the limits of one value and of the
 * file (S_VALUE_MAX, S_EXPAND_MAX); errors point at the setting being resolved. */
static int s_expand_check(struct s_ctx *c, const struct s_buf *b, size_t add, const char *path)
{
    char o[S_NAME_MAX + 32];
    const struct s_val *top = c->top;
    if (add > S_VALUE_MAX - b->len) {
        return s_fail(c, top->at, path,
                      "!sub makes this value longer than %d bytes (1 MiB)%s; expected at most "
                      "1 MiB",
                      S_VALUE_MAX, s_origin(top, o, sizeof(o)));
    }
    c->expanded += add;
    if (c->expanded > S_EXPAND_MAX) {
        return s_fail(c, top->at, path,
                      "!sub has made more than %d bytes (16 MiB) of text in this file, nested "
                      "!sub counted each time they are expanded%s; expected at most 16 MiB",
                      S_EXPAND_MAX, s_origin(top, o, sizeof(o)));
    }
    return 0;
}

/* !sub 'text ${NAME} text' -> heap string in *out. */
static int s_substitute(struct s_ctx *c, const s_node *n, const char *path, int depth, char **out)
{
    char o[S_NAME_MAX + 32];
    size_t len;
    const char *s = mqg_yaml_scalar(n, &len);
    if (!s || strlen(s) != len) {
        return s_fail(c, n, path, "!sub needs text, e.g. !sub '${Cybus::MqttRoot}/data'; got a %s",
                      s ? "binary scalar" : mqg_yaml_kind_name(n));
    }
    struct s_buf b = {0};
    int rc = s_buf_add(&b, "", 0);
    while (rc == 0 && *s) {
        const char *dollar = strstr(s, "${");
        size_t lit = dollar ? (size_t)(dollar - s) : strlen(s);
        rc = s_expand_check(c, &b, lit, path);
        rc = rc < 0 ? rc : s_buf_add(&b, s, lit);
        if (rc < 0 || !dollar) {
            break;
        }
        const char *end = strchr(dollar + 2, '}');
        size_t nlen = end ? (size_t)(end - dollar - 2) : 0;
        if (!end || nlen == 0 || nlen > S_NAME_MAX) {
            rc = s_fail(c, n, path,
                        "malformed substitution '%.40s' in !sub; expected ${NAME} with the "
                        "name of a parameter, definition or built-in",
                        dollar);
            break;
        }
        char name[S_NAME_MAX + 1];
        memcpy(name, dollar + 2, nlen);
        name[nlen] = '\0';
        if (++c->substitutions > S_SUBST_MAX) {
            rc = s_fail(c, c->top->at, path,
                        "more than %d substitutions (${...} in !sub) in this file, nested ones "
                        "counted each time they are expanded%s; expected at most %d",
                        S_SUBST_MAX, s_origin(c->top, o, sizeof(o)), S_SUBST_MAX);
            break;
        }
        struct s_val sv = {.at = n};
        rc = s_resolve_name(c, name, n, path, depth + 1, &sv);
        if (rc == 0 && !sv.text) {
            rc = s_fail(c, n, path, "${%s} in !sub is a %s; expected a scalar value", name,
                        mqg_yaml_kind_name(sv.node));
        }
        rc = rc < 0 ? rc : s_expand_check(c, &b, strlen(sv.text), path);
        if (rc == 0) {
            rc = s_buf_add(&b, sv.text, strlen(sv.text));
        }
        s_val_clear(&sv);
        s = end + 1;
    }
    if (rc == -ENOMEM) {
        rc = s_oom(c);
    }
    if (rc < 0) {
        free(b.p);
        return rc;
    }
    *out = b.p;
    return 0;
}

static int s_resolve_node(struct s_ctx *c, const s_node *n, const char *path, int depth,
                          struct s_val *v)
{
    if (depth > S_DEPTH_MAX) {
        return s_fail(c, v->at, path,
                      "references nested deeper than %d levels; expected no reference cycle",
                      S_DEPTH_MAX);
    }
    const char *tag = mqg_yaml_local_tag(n);
    if (!tag) {
        v->node = n;
        v->text = mqg_yaml_scalar(n, &v->len);
        v->quoted = v->text && !mqg_yaml_plain(n);
        return 0;
    }
    if (strcmp(tag, "!ref") == 0) {
        const char *name;
        int rc = s_tag_name(c, n, "!ref", path, &name);
        return rc < 0 ? rc : s_resolve_name(c, name, n, path, depth, v);
    }
    if (strcmp(tag, "!sub") == 0) {
        char *text = NULL;
        int rc = s_substitute(c, n, path, depth, &text);
        if (rc < 0) {
            return rc;
        }
        free(v->owned);
        v->owned = text;
        v->text = text;
        v->len = strlen(text);
        v->quoted = true;
        v->node = NULL;
        return 0;
    }
    if (strcmp(tag, "!merge") == 0) {
        return s_fail(c, n, path, "!merge is not supported; write the merged mapping out");
    }
    return s_fail(c, n, path, "unknown tag '%s'; expected !ref or !sub", tag);
}

/* Resolve n into a fresh v (clear it with s_val_clear). */
static int s_resolve(struct s_ctx *c, const s_node *n, const char *path, struct s_val *v)
{
    memset(v, 0, sizeof(*v));
    v->at = n;
    c->top = v;
    int rc = s_resolve_node(c, n, path, 0, v);
    c->top = NULL;
    if (rc < 0) {
        s_val_clear(v);
    }
    return rc;
}

static bool s_val_null(const struct s_val *v)
{
    return v->node && mqg_yaml_is_null(v->node);
}

/* ---------------------------------------------------------------------------------------- */
/* typed settings                                                                            */

/* Read map[key] into v and its path into `path`. Returns 1 if set, 0 if absent or null. */
static int s_get(struct s_ctx *c, const s_node *map, const char *parent, const char *key,
                 char *path, struct s_val *v)
{
    memset(v, 0, sizeof(*v));
    s_path(path, parent, key);
    const s_node *n = mqg_yaml_map_get(c->doc, map, key, NULL);
    if (!n) {
        return 0;
    }
    int rc = s_resolve(c, n, path, v);
    if (rc < 0) {
        return rc;
    }
    if (s_val_null(v)) {
        s_val_clear(v);
        return 0;
    }
    return 1;
}

static int s_val_text(struct s_ctx *c, const struct s_val *v, const char *path, const char *what)
{
    char o[S_NAME_MAX + 32];
    if (!v->text) {
        return s_fail(c, v->at, path, "expected %s, got a %s%s", what, mqg_yaml_kind_name(v->node),
                      s_origin(v, o, sizeof(o)));
    }
    if (strlen(v->text) != v->len) {
        return s_fail(c, v->at, path, "expected %s, got text holding a NUL character%s", what,
                      s_origin(v, o, sizeof(o)));
    }
    return 0;
}

static int s_val_string(struct s_ctx *c, const struct s_val *v, const char *path, char **out)
{
    int rc = s_val_text(c, v, path, "a string");
    return rc < 0 ? rc : s_dup(c, v->text, out);
}

static int s_val_int(struct s_ctx *c, const struct s_val *v, const char *path, long long min,
                     long long max, int *out)
{
    char o[S_NAME_MAX + 32];
    int rc = s_val_text(c, v, path, "an integer");
    if (rc < 0) {
        return rc;
    }
    long long x;
    if (v->quoted && !v->param) {
        return s_fail(c, v->at, path, "expected an integer, got the quoted string '%s'%s", v->text,
                      s_origin(v, o, sizeof(o)));
    }
    if (!s_parse_ll(v->text, &x)) {
        return s_fail(c, v->at, path, "expected an integer, got '%s'%s", v->text,
                      s_origin(v, o, sizeof(o)));
    }
    if (x < min || x > max) {
        return s_fail(c, v->at, path, "%lld is out of range; expected %lld..%lld%s", x, min, max,
                      s_origin(v, o, sizeof(o)));
    }
    *out = (int)x;
    return 0;
}

static int s_val_bool(struct s_ctx *c, const struct s_val *v, const char *path, bool *out)
{
    char o[S_NAME_MAX + 32];
    int rc = s_val_text(c, v, path, "a boolean (true or false)");
    if (rc < 0) {
        return rc;
    }
    if ((v->quoted && !v->param) || !s_parse_bool(v->text, out)) {
        return s_fail(c, v->at, path, "expected a boolean (true or false), got %s'%s'%s",
                      v->quoted && !v->param ? "the quoted string " : "", v->text,
                      s_origin(v, o, sizeof(o)));
    }
    return 0;
}

/* Optional settings: leave *out unchanged when absent. Return 1 set, 0 absent, <0 error. */
static int s_opt_string(struct s_ctx *c, const s_node *map, const char *parent, const char *key,
                        char **out)
{
    char path[S_PATH_MAX];
    struct s_val v;
    int rc = s_get(c, map, parent, key, path, &v);
    if (rc > 0) {
        char *s;
        rc = s_val_string(c, &v, path, &s);
        if (rc == 0) {
            free(*out);
            *out = s;
            rc = 1;
        }
    }
    s_val_clear(&v);
    return rc;
}

static int s_opt_int(struct s_ctx *c, const s_node *map, const char *parent, const char *key,
                     long long min, long long max, int *out)
{
    char path[S_PATH_MAX];
    struct s_val v;
    int rc = s_get(c, map, parent, key, path, &v);
    if (rc > 0) {
        rc = s_val_int(c, &v, path, min, max, out);
        rc = rc < 0 ? rc : 1;
    }
    s_val_clear(&v);
    return rc;
}

static int s_opt_bool(struct s_ctx *c, const s_node *map, const char *parent, const char *key,
                      bool *out)
{
    char path[S_PATH_MAX];
    struct s_val v;
    int rc = s_get(c, map, parent, key, path, &v);
    if (rc > 0) {
        rc = s_val_bool(c, &v, path, out);
        rc = rc < 0 ? rc : 1;
    }
    s_val_clear(&v);
    return rc;
}

/* map[key] must be a mapping (after resolution): *out gets it, NULL if absent. */
static int s_opt_map(struct s_ctx *c, const s_node *map, const char *parent, const char *key,
                     const s_node **out)
{
    char path[S_PATH_MAX];
    char o[S_NAME_MAX + 32];
    struct s_val v;
    *out = NULL;
    int rc = s_get(c, map, parent, key, path, &v);
    if (rc > 0) {
        if (mqg_yaml_kind(v.node) != MQG_YAML_MAPPING) {
            rc = s_fail(c, v.at, path, "expected a mapping, got %s%s",
                        v.text ? "a scalar" : "a sequence", s_origin(&v, o, sizeof(o)));
        } else {
            *out = v.node;
        }
    }
    s_val_clear(&v);
    return rc;
}

/* Fail on keys of `map` that are not in `allowed` (NULL-terminated). */
static int s_check_keys(struct s_ctx *c, const s_node *map, const char *parent,
                        const char *const *allowed)
{
    char path[S_PATH_MAX];
    size_t n = mqg_yaml_map_size(map);
    for (size_t i = 0; i < n; i++) {
        const s_node *k;
        mqg_yaml_map_at(c->doc, map, i, &k, NULL);
        size_t len;
        const char *key = mqg_yaml_scalar(k, &len);
        if (!key || strlen(key) != len) {
            return s_fail(c, k, parent, "expected a text key, got a %s",
                          key ? "binary scalar" : mqg_yaml_kind_name(k));
        }
        s_path(path, parent, key);
        if (strcmp(key, "<<") == 0) {
            return s_fail(c, k, path, "merge keys (<<) are not supported; write the mapping out");
        }
        if (!s_in_list(key, allowed)) {
            char list[400];
            s_join(list, sizeof(list), allowed);
            return s_fail(c, k, path, "unknown property '%s'; expected one of: %s", key, list);
        }
    }
    return 0;
}

/* A resource reference (`connection: !ref conn`): *out gets the resource, NULL if absent. A
 * plain id, or a parameter/definition holding an id, is accepted too. */
static int s_opt_resref(struct s_ctx *c, const s_node *map, const char *parent, const char *key,
                        struct s_res **out)
{
    char path[S_PATH_MAX];
    *out = NULL;
    s_path(path, parent, key);
    const s_node *n = mqg_yaml_map_get(c->doc, map, key, NULL);
    if (!n || mqg_yaml_is_null(n)) {
        return 0;
    }
    const char *tag = mqg_yaml_local_tag(n);
    const char *name = NULL;
    if (tag && strcmp(tag, "!ref") == 0) {
        int rc = s_tag_name(c, n, "!ref", path, &name);
        if (rc < 0) {
            return rc;
        }
        if (strstr(name, "::") && strncmp(name, "Cybus::", 7) != 0) {
            return s_fail(c, n, path,
                          "'%s' is a reference to another service, which mqgate does not "
                          "support; expected a resource of this file",
                          name);
        }
        *out = s_find_res(c, name);
        if (*out) {
            return 1;
        }
        if (!s_find_param(c, name) && !s_find_def(c, name) && strncmp(name, "Cybus::", 7) != 0) {
            return s_fail(c, n, path,
                          "unknown resource '%s'; expected the id of a resource of this file",
                          name);
        }
    }
    struct s_val v;
    int rc = s_resolve(c, n, path, &v);
    if (rc < 0) {
        return rc;
    }
    rc = s_val_text(c, &v, path, "a reference to a resource (!ref <resource id>)");
    if (rc == 0) {
        *out = s_find_res(c, v.text);
        if (!*out) {
            rc = s_fail(c, n, path,
                        "unknown resource '%s'; expected the id of a resource of this "
                        "file",
                        v.text);
        }
    }
    s_val_clear(&v);
    return rc < 0 ? rc : 1;
}

static const char *s_kind_name(const struct s_res *r)
{
    switch (r->kind) {
    case S_R_CONN:
        return "Cybus::Connection";
    case S_R_EP:
        return "Cybus::Endpoint";
    case S_R_MAP:
        return "Cybus::Mapping";
    default:
        return r->skipped_as;
    }
}

/* A required/optional reference to a resource of kind `want`. */
static int s_resref_kind(struct s_ctx *c, const s_node *map, const char *parent, const char *key,
                         enum s_rkind want, struct s_res **out)
{
    char path[S_PATH_MAX];
    int rc = s_opt_resref(c, map, parent, key, out);
    if (rc <= 0) {
        return rc;
    }
    const char *want_name = want == S_R_CONN ? "Cybus::Connection" : "Cybus::Endpoint";
    const s_node *at = mqg_yaml_map_get(c->doc, map, key, NULL);
    s_path(path, parent, key);
    if ((*out)->kind == S_R_SKIPPED) {
        return s_fail(c, at, path,
                      "'%s' is a %s, which mqgate skips; expected a %s with protocol Mqtt",
                      (*out)->id, (*out)->skipped_as, want_name);
    }
    if ((*out)->kind != want) {
        return s_fail(c, at, path, "'%s' is a %s; expected a %s", (*out)->id, s_kind_name(*out),
                      want_name);
    }
    return 1;
}

/* A topic mqgate publishes to as written (write.topic, will.topic, a data topic, the literal
 * text of a mapping's publish.topic): MQTT's rules, and the strict ones brokers such as
 * mosquitto apply, which would otherwise cost the connection at run time. `what` names the
 * topic in the message ("topic to write to"); `skip` bytes of `topic` are a prefix mqgate
 * added (the data topic's service root), not counted in the position. */
static int s_check_publish_topic(struct s_ctx *c, const s_node *at, const char *path,
                                 const char *topic, size_t skip, const char *shown,
                                 const char *what, const char *hint)
{
    size_t off;
    const char *why = mqg_topic_name_fault(topic, strlen(topic), true, &off);
    if (!why) {
        return 0;
    }
    size_t pos = off >= skip ? s_char_pos(topic + skip, off - skip) : 1;
    return s_fail(c, at, path,
                  "'%s' is not a valid %s: it %s (character %zu); expected a topic name "
                  "without '+', '#', control characters or Unicode non-characters%s",
                  shown, what, why, pos, hint);
}

/* ---------------------------------------------------------------------------------------- */
/* metadata                                                                                  */

static int s_check_sid(struct s_ctx *c, const s_node *at)
{
    for (size_t i = 0; i < c->m->n_services; i++) {
        if (strcmp(c->m->services[i].service_id, c->sid) == 0) {
            return s_fail(c, at, "metadata.name",
                          "service id '%s' is already used by %s; expected a different "
                          "metadata.name (or --service-id)",
                          c->sid, c->m->services[i].file);
        }
    }
    return 0;
}

static int s_load_metadata(struct s_ctx *c, const s_node *root, const char *override)
{
    static const char *const keys[] = {"name", "version", "provider", "icon", "homepage", NULL};
    const s_node *md = mqg_yaml_map_get(c->doc, root, "metadata", NULL);
    if (!md) {
        return s_fail(c, root, "metadata", "metadata is missing; expected metadata with a name");
    }
    if (mqg_yaml_kind(md) != MQG_YAML_MAPPING || mqg_yaml_local_tag(md)) {
        return s_fail(c, md, "metadata", "expected a mapping with name, version, provider, ...");
    }
    int rc = s_check_keys(c, md, "metadata", keys);
    if (rc < 0) {
        return rc;
    }
    for (size_t i = 1; keys[i]; i++) {
        const s_node *v = mqg_yaml_map_get(c->doc, md, keys[i], NULL);
        char path[S_PATH_MAX];
        s_path(path, "metadata", keys[i]);
        if (v && mqg_yaml_kind(v) != MQG_YAML_SCALAR) {
            return s_fail(c, v, path, "expected text, got a %s", mqg_yaml_kind_name(v));
        }
    }
    const s_node *name_key;
    const s_node *nn = mqg_yaml_map_get(c->doc, md, "name", &name_key);
    size_t len;
    const char *name = mqg_yaml_scalar(nn, &len);
    if (!nn || mqg_yaml_is_null(nn)) {
        return s_fail(c, nn ? nn : md, "metadata.name",
                      "metadata.name is missing; expected the service name (at most %d "
                      "characters)",
                      S_SID_MAX);
    }
    if (!name || mqg_yaml_local_tag(nn) || strlen(name) != len) {
        return s_fail(c, nn, "metadata.name", "expected literal text (no !ref or !sub), got a %s%s",
                      mqg_yaml_kind_name(nn), mqg_yaml_local_tag(nn) ? " with a tag" : "");
    }
    if (s_utf8_len(name) > S_SID_MAX) {
        return s_fail(c, nn, "metadata.name", "name has %zu characters; expected at most %d",
                      s_utf8_len(name), S_SID_MAX);
    }
    if (override) {
        bool ok = override[0] != '\0' && strlen(override) <= S_SID_MAX;
        for (const char *p = override; *p; p++) {
            ok = ok && ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'));
        }
        if (!ok) {
            return mqg_error_set(c->err, NULL, 0, 0, "--service-id",
                                 "service id '%s' is invalid; expected 1..%d characters a-z, 0-9",
                                 override, S_SID_MAX);
        }
        snprintf(c->sid, sizeof(c->sid), "%s", override);
    } else {
        mqg_service_id_from_name(name, c->sid, sizeof(c->sid));
        if (!c->sid[0]) {
            return s_fail(c, nn, "metadata.name",
                          "'%s' gives an empty service id; expected at least one letter a-z "
                          "or digit (or give --service-id)",
                          name);
        }
    }
    snprintf(c->root, sizeof(c->root), "services/%s", c->sid);
    rc = s_check_sid(c, nn);
    if (rc < 0) {
        return rc;
    }
    size_t idx;
    rc = s_append(c, (void **)&c->m->services, &c->m->n_services, sizeof(*c->m->services), &idx);
    if (rc < 0) {
        return rc;
    }
    struct mqg_service_info *si = &c->m->services[idx];
    if (s_dup(c, c->sid, &si->service_id) < 0 || s_dup(c, name, &si->name) < 0 ||
        s_dup(c, c->path, &si->file) < 0) {
        return -ENOMEM;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* parameters and definitions                                                                */

static const char *s_ptype_name(enum s_ptype t)
{
    switch (t) {
    case S_T_INTEGER:
        return "integer";
    case S_T_NUMBER:
        return "number";
    case S_T_BOOLEAN:
        return "boolean";
    default:
        return "string";
    }
}

/* Does `text` have the parameter's type? */
static bool s_param_typed(enum s_ptype t, const char *text)
{
    long long l;
    double d;
    bool b;
    switch (t) {
    case S_T_INTEGER:
        return s_parse_ll(text, &l);
    case S_T_NUMBER:
        return s_parse_double(text, &d);
    case S_T_BOOLEAN:
        return s_parse_bool(text, &b);
    default:
        return true;
    }
}

/* Equality of a parameter value and an enum item, by the parameter's type. */
static bool s_param_equal(enum s_ptype t, const char *a, const char *b)
{
    double x;
    double y;
    bool p;
    bool q;
    long long i;
    long long j;
    switch (t) {
    case S_T_INTEGER:
        return s_parse_ll(a, &i) && s_parse_ll(b, &j) && i == j;
    case S_T_NUMBER:
        return s_parse_double(a, &x) && s_parse_double(b, &y) && x == y;
    case S_T_BOOLEAN:
        return s_parse_bool(a, &p) && s_parse_bool(b, &q) && p == q;
    default:
        return strcmp(a, b) == 0;
    }
}

/* A rule of a parameter declaration (enum, minimum, ...): its literal node or NULL. */
static const s_node *s_rule(struct s_ctx *c, const s_node *decl, const char *key)
{
    const s_node *n = mqg_yaml_map_get(c->doc, decl, key, NULL);
    return n && !mqg_yaml_is_null(n) ? n : NULL;
}

static int s_check_enum(struct s_ctx *c, const struct s_pdef *p, const s_node *decl,
                        const char *base, const char *who)
{
    char path[S_PATH_MAX];
    const s_node *en = s_rule(c, decl, "enum");
    if (!en) {
        return 0;
    }
    s_path(path, base, "enum");
    if (mqg_yaml_kind(en) != MQG_YAML_SEQUENCE || mqg_yaml_local_tag(en)) {
        return s_fail(c, en, path, "expected a list of allowed values, got a %s",
                      mqg_yaml_kind_name(en));
    }
    char list[300];
    size_t off = 0;
    list[0] = '\0';
    size_t n = mqg_yaml_seq_size(en);
    for (size_t i = 0; i < n; i++) {
        const s_node *item = mqg_yaml_seq_at(c->doc, en, i);
        const char *text = mqg_yaml_scalar(item, NULL);
        if (!text || mqg_yaml_local_tag(item)) {
            char ipath[S_PATH_MAX];
            s_path_idx(ipath, path, i);
            return s_fail(c, item, ipath, "expected a literal scalar value, got a %s",
                          mqg_yaml_kind_name(item));
        }
        if (s_param_equal(p->type, p->value, text)) {
            return 0;
        }
        if (off < sizeof(list)) {
            int k = snprintf(list + off, sizeof(list) - off, "%s%s", i ? ", " : "", text);
            off += k > 0 ? (size_t)k : 0;
        }
    }
    return s_fail(c, en, path, "parameter '%s': %s is not allowed; expected one of: %s", p->name,
                  who, list);
}

static int s_check_bound(struct s_ctx *c, const struct s_pdef *p, const s_node *decl,
                         const char *base, const char *who, const char *key, bool is_len)
{
    char path[S_PATH_MAX];
    const s_node *n = s_rule(c, decl, key);
    if (!n) {
        return 0;
    }
    s_path(path, base, key);
    bool applies =
        is_len ? p->type == S_T_STRING : (p->type == S_T_INTEGER || p->type == S_T_NUMBER);
    if (!applies) {
        return s_fail(c, n, path, "%s applies to %s parameters; parameter '%s' has type %s", key,
                      is_len ? "string" : "integer and number", p->name, s_ptype_name(p->type));
    }
    const char *text = mqg_yaml_scalar(n, NULL);
    double bound = 0;
    long long lb = 0;
    if (!text || mqg_yaml_local_tag(n) || !mqg_yaml_plain(n) ||
        (is_len ? !s_parse_ll(text, &lb) || lb < 0 : !s_parse_double(text, &bound))) {
        return s_fail(c, n, path, "expected %s", is_len ? "a non-negative integer" : "a number");
    }
    double val;
    if (is_len) {
        val = (double)s_utf8_len(p->value);
        bound = (double)lb;
    } else {
        s_parse_double(p->value, &val);
    }
    bool is_min = strcmp(key, "minimum") == 0 || strcmp(key, "minLength") == 0;
    if (is_min ? val < bound : val > bound) {
        return s_fail(c, n, path, "parameter '%s': %s %s; expected %s %s", p->name, who,
                      is_len ? (is_min ? "is too short" : "is too long")
                             : (is_min ? "is too small" : "is too large"),
                      is_len ? (is_min ? "at least" : "at most") : (is_min ? ">=" : "<="), text);
    }
    return 0;
}

static int s_check_pattern(struct s_ctx *c, const struct s_pdef *p, const s_node *decl,
                           const char *base, const char *who)
{
    char path[S_PATH_MAX];
    const s_node *n = s_rule(c, decl, "pattern");
    if (!n) {
        return 0;
    }
    s_path(path, base, "pattern");
    const char *re = mqg_yaml_scalar(n, NULL);
    if (!re || mqg_yaml_local_tag(n)) {
        return s_fail(c, n, path, "expected a regular expression (text), got a %s",
                      mqg_yaml_kind_name(n));
    }
    if (p->type != S_T_STRING) {
        return s_fail(c, n, path, "pattern applies to string parameters; '%s' has type %s", p->name,
                      s_ptype_name(p->type));
    }
    regex_t rx;
    int rc = regcomp(&rx, re, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char why[128];
        regerror(rc, &rx, why, sizeof(why));
        return s_fail(c, n, path,
                      "invalid regular expression '%s': %s; expected a POSIX "
                      "extended regular expression",
                      re, why);
    }
    rc = regexec(&rx, p->value, 0, NULL, 0);
    regfree(&rx);
    if (rc != 0) {
        return s_fail(c, n, path, "parameter '%s': %s does not match the pattern '%s'", p->name,
                      who, re);
    }
    return 0;
}

/* Check a parameter value against type, enum, bounds and pattern. */
static int s_check_param(struct s_ctx *c, const struct s_pdef *p, const s_node *decl,
                         const s_node *type_at, const char *base, const char *who)
{
    char path[S_PATH_MAX];
    if (!s_param_typed(p->type, p->value)) {
        s_path(path, base, "type");
        return s_fail(c, type_at, path, "parameter '%s': %s is not a valid %s%s", p->name, who,
                      s_ptype_name(p->type), p->type == S_T_BOOLEAN ? " (true or false)" : "");
    }
    int rc = s_check_enum(c, p, decl, base, who);
    rc = rc < 0 ? rc : s_check_bound(c, p, decl, base, who, "minimum", false);
    rc = rc < 0 ? rc : s_check_bound(c, p, decl, base, who, "maximum", false);
    rc = rc < 0 ? rc : s_check_bound(c, p, decl, base, who, "minLength", true);
    rc = rc < 0 ? rc : s_check_bound(c, p, decl, base, who, "maxLength", true);
    rc = rc < 0 ? rc : s_check_pattern(c, p, decl, base, who);
    return rc;
}

static int s_load_param(struct s_ctx *c, const s_node *key, const s_node *decl, struct s_pdef *p)
{
    static const char *const keys[] = {"type",    "description", "default",   "enum",
                                       "minimum", "maximum",     "minLength", "maxLength",
                                       "pattern", "title",       NULL};
    char base[S_PATH_MAX];
    char path[S_PATH_MAX];
    s_path(base, "parameters", p->name);
    if (mqg_yaml_kind(decl) != MQG_YAML_MAPPING || mqg_yaml_local_tag(decl)) {
        return s_fail(c, decl, base, "expected a mapping with type, default, description, ...");
    }
    int rc = s_check_keys(c, decl, base, keys);
    if (rc < 0) {
        return rc;
    }
    const s_node *type = s_rule(c, decl, "type");
    const char *tname = type ? mqg_yaml_scalar(type, NULL) : "string";
    s_path(path, base, "type");
    if (!tname || (type && mqg_yaml_local_tag(type))) {
        return s_fail(c, type, path, "expected string, integer, number or boolean");
    }
    if (strcmp(tname, "string") == 0) {
        p->type = S_T_STRING;
    } else if (strcmp(tname, "integer") == 0) {
        p->type = S_T_INTEGER;
    } else if (strcmp(tname, "number") == 0) {
        p->type = S_T_NUMBER;
    } else if (strcmp(tname, "boolean") == 0) {
        p->type = S_T_BOOLEAN;
    } else {
        return s_fail(c, type, path,
                      "unknown type '%s'; expected string, integer, number or "
                      "boolean",
                      tname);
    }
    for (size_t i = 0; i < c->n_params; i++) {
        if (c->params[i].name && strcmp(c->params[i].name, p->name) == 0) {
            p->value = c->params[i].value ? c->params[i].value : "";
            c->params[i].used = true;
        }
    }
    char who[200];
    const s_node *at = type ? type : key;
    if (p->value) {
        snprintf(who, sizeof(who), "value '%.120s' given with -p", p->value);
    } else {
        const s_node *def = s_rule(c, decl, "default");
        if (!def) {
            return s_fail(c, key, base,
                          "parameter '%s' has no value and no default; expected -p %s=VALUE",
                          p->name, p->name);
        }
        s_path(path, base, "default");
        p->value = mqg_yaml_scalar(def, NULL);
        if (!p->value || mqg_yaml_local_tag(def)) {
            return s_fail(c, def, path, "expected a literal scalar default, got a %s%s",
                          mqg_yaml_kind_name(def), mqg_yaml_local_tag(def) ? " with a tag" : "");
        }
        snprintf(who, sizeof(who), "default '%.120s'", p->value);
        at = def;
    }
    return s_check_param(c, p, decl, at, base, who);
}

static int s_load_params(struct s_ctx *c, const s_node *root)
{
    const s_node *ps = mqg_yaml_map_get(c->doc, root, "parameters", NULL);
    if (!ps || mqg_yaml_is_null(ps)) {
        return 0;
    }
    if (mqg_yaml_kind(ps) != MQG_YAML_MAPPING || mqg_yaml_local_tag(ps)) {
        return s_fail(c, ps, "parameters", "expected a mapping NAME: {type, default, ...}");
    }
    size_t n = mqg_yaml_map_size(ps);
    c->pdefs = calloc(n ? n : 1, sizeof(*c->pdefs));
    if (!c->pdefs) {
        return s_oom(c);
    }
    for (size_t i = 0; i < n; i++) {
        const s_node *k;
        const s_node *v;
        mqg_yaml_map_at(c->doc, ps, i, &k, &v);
        const char *name = mqg_yaml_scalar(k, NULL);
        if (!name || !s_valid_name(name, S_NAME_MAX)) {
            return s_fail(c, k, "parameters",
                          "invalid parameter name '%s'; expected letters, digits, '_', '-', '.'",
                          name ? name : "");
        }
        struct s_pdef *p = &c->pdefs[c->n_pdefs++];
        p->name = name;
        int rc = s_load_param(c, k, v, p);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

static int s_load_defs(struct s_ctx *c, const s_node *root)
{
    const s_node *ds = mqg_yaml_map_get(c->doc, root, "definitions", NULL);
    if (!ds || mqg_yaml_is_null(ds)) {
        return 0;
    }
    if (mqg_yaml_kind(ds) != MQG_YAML_MAPPING || mqg_yaml_local_tag(ds)) {
        return s_fail(c, ds, "definitions", "expected a mapping NAME: value");
    }
    size_t n = mqg_yaml_map_size(ds);
    for (size_t i = 0; i < n; i++) {
        const s_node *k;
        mqg_yaml_map_at(c->doc, ds, i, &k, NULL);
        const char *name = mqg_yaml_scalar(k, NULL);
        if (!name || !s_valid_name(name, S_NAME_MAX)) {
            return s_fail(c, k, "definitions",
                          "invalid definition name '%s'; expected letters, digits, '_', '-', "
                          "'.'",
                          name ? name : "");
        }
        if (s_find_param(c, name)) {
            char path[S_PATH_MAX];
            s_path(path, "definitions", name);
            return s_fail(c, k, path,
                          "'%s' is declared as a parameter and as a definition; expected one "
                          "name for each",
                          name);
        }
    }
    c->defs = ds;
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* resources: first pass                                                                     */

/* Resource ids as the platform defines them: [a-zA-Z0-9][a-zA-Z0-9_.]* ('-' is the separator
 * of service id and resource id in derived names such as the client id). */
static bool s_valid_res_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > S_RES_ID_MAX || !isalnum((unsigned char)s[0])) {
        return false;
    }
    for (; *s; s++) {
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.') {
            return false;
        }
    }
    return true;
}

static int s_skip(struct s_ctx *c, struct s_res *r, const char *type, const char *protocol)
{
    int rc = protocol ? s_aprintf(c, &r->skipped_as, "%s (protocol %s)", type, protocol)
                      : s_dup(c, type, &r->skipped_as);
    if (rc < 0) {
        return rc;
    }
    r->kind = S_R_SKIPPED;
    size_t idx;
    rc = s_append(c, (void **)&c->m->skipped, &c->m->n_skipped, sizeof(*c->m->skipped), &idx);
    if (rc < 0) {
        return rc;
    }
    struct mqg_skipped *s = &c->m->skipped[idx];
    if (s_dup(c, c->sid, &s->service_id) < 0 || s_dup(c, r->id, &s->id) < 0 ||
        s_dup(c, r->skipped_as, &s->type) < 0) {
        return -ENOMEM;
    }
    return 0;
}

/* Type and protocol of one resource; skipped kinds are recorded in the model. */
static int s_collect_res(struct s_ctx *c, struct s_res *r, const s_node *body)
{
    static const char *const keys[] = {"type", "properties", NULL};
    char base[S_PATH_MAX];
    char path[S_PATH_MAX];
    s_path(base, "resources", r->id);
    if (mqg_yaml_kind(body) != MQG_YAML_MAPPING || mqg_yaml_local_tag(body)) {
        return s_fail(c, body, base, "expected a mapping with type and properties");
    }
    int rc = s_check_keys(c, body, base, keys);
    if (rc < 0) {
        return rc;
    }
    s_path(path, base, "type");
    const s_node *tn = mqg_yaml_map_get(c->doc, body, "type", NULL);
    const char *type = mqg_yaml_scalar(tn, NULL);
    if (!tn || mqg_yaml_is_null(tn)) {
        return s_fail(c, r->key, path, "type is missing; expected e.g. Cybus::Connection");
    }
    if (!type || mqg_yaml_local_tag(tn)) {
        return s_fail(c, tn, path, "expected a literal resource type such as Cybus::Endpoint");
    }
    if (strcmp(type, "Cybus::Connection") == 0) {
        r->kind = S_R_CONN;
    } else if (strcmp(type, "Cybus::Endpoint") == 0) {
        r->kind = S_R_EP;
    } else if (strcmp(type, "Cybus::Mapping") == 0) {
        r->kind = S_R_MAP;
    } else {
        return s_skip(c, r, type, NULL);
    }
    rc = s_opt_map(c, body, base, "properties", &r->props);
    if (rc < 0) {
        return rc;
    }
    s_path(path, base, "properties");
    if (!r->props) {
        return s_fail(c, r->key, path, "properties is missing; expected the properties of the %s",
                      type);
    }
    if (r->kind == S_R_MAP) {
        return 0;
    }
    char pbase[S_PATH_MAX];
    struct s_val v;
    s_path(pbase, base, "properties");
    rc = s_get(c, r->props, pbase, "protocol", path, &v);
    if (rc == 0) {
        const s_node *pk;
        mqg_yaml_map_get(c->doc, body, "properties", &pk);
        return s_fail(c, pk, pbase, "protocol is missing; expected protocol: Mqtt");
    }
    rc = rc < 0 ? rc : s_val_text(c, &v, path, "a protocol name such as Mqtt");
    if (rc == 0 && strcasecmp(v.text, "mqtt") != 0) {
        rc = s_skip(c, r, type, v.text);
        r->props = NULL;
    }
    s_val_clear(&v);
    return rc;
}

static int s_collect(struct s_ctx *c, const s_node *root)
{
    const s_node *rkey;
    const s_node *rs = mqg_yaml_map_get(c->doc, root, "resources", &rkey);
    if (!rs) {
        return s_fail(c, root, "resources",
                      "resources is missing; expected a mapping of "
                      "resources (ID: {type, properties})");
    }
    if (mqg_yaml_kind(rs) != MQG_YAML_MAPPING || mqg_yaml_local_tag(rs)) {
        return s_fail(c, mqg_yaml_is_null(rs) ? rkey : rs, "resources",
                      "expected a mapping of resources (ID: {type, properties})");
    }
    size_t n = mqg_yaml_map_size(rs);
    c->res = calloc(n ? n : 1, sizeof(*c->res));
    if (!c->res) {
        return s_oom(c);
    }
    for (size_t i = 0; i < n; i++) {
        const s_node *k;
        const s_node *body;
        mqg_yaml_map_at(c->doc, rs, i, &k, &body);
        const char *id = mqg_yaml_scalar(k, NULL);
        if (!id || !s_valid_res_id(id)) {
            return s_fail(c, k, "resources",
                          "invalid resource id '%s'; expected 1..%d letters, digits, '_' and "
                          "'.', starting with a letter or digit",
                          id ? id : "", S_RES_ID_MAX);
        }
        if (s_find_param(c, id) || s_find_def(c, id)) {
            char path[S_PATH_MAX];
            s_path(path, "resources", id);
            return s_fail(c, k, path,
                          "resource id '%s' is also the name of a %s; expected distinct names "
                          "(!ref would be ambiguous)",
                          id, s_find_param(c, id) ? "parameter" : "definition");
        }
        struct s_res *r = &c->res[c->n_res++];
        r->id = id;
        r->key = k;
        r->index = -1;
        int rc = s_collect_res(c, r, body);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Cybus::Connection                                                                         */

struct s_scheme_name {
    const char *name;
    enum mqg_scheme scheme;
};

static const struct s_scheme_name s_schemes[] = {
    {"mqtt", MQG_SCHEME_MQTT}, {"tcp", MQG_SCHEME_MQTT},  {"mqtts", MQG_SCHEME_MQTTS},
    {"tls", MQG_SCHEME_MQTTS}, {"ssl", MQG_SCHEME_MQTTS}, {"ws", MQG_SCHEME_WS},
    {"wss", MQG_SCHEME_WSS},   {NULL, MQG_SCHEME_MQTT},
};

static bool s_scheme_parse(const char *s, size_t len, bool allow_ssl, enum mqg_scheme *out)
{
    for (const struct s_scheme_name *p = s_schemes; p->name; p++) {
        if (strlen(p->name) == len && strncasecmp(p->name, s, len) == 0) {
            if (!allow_ssl && strcmp(p->name, "ssl") == 0) {
                return false;
            }
            *out = p->scheme;
            return true;
        }
    }
    return false;
}

/* 1883 for mqtt/tcp, 8883 for mqtts/tls; WebSocket URLs follow URL rules (80, 443) like the
 * platform's MQTT client does. */
static int s_default_port(enum mqg_scheme s)
{
    switch (s) {
    case MQG_SCHEME_MQTTS:
        return 8883;
    case MQG_SCHEME_WS:
        return 80;
    case MQG_SCHEME_WSS:
        return 443;
    default:
        return 1883;
    }
}

/* A host name or address: no blanks, '/', '@', brackets; ':' only for IPv6. */
static bool s_valid_host(const char *h)
{
    if (!h[0] || strlen(h) > 253) {
        return false;
    }
    for (; *h; h++) {
        unsigned char ch = (unsigned char)*h;
        if (ch <= ' ' || ch == '/' || ch == '@' || ch == '[' || ch == ']' || ch == '?' ||
            ch == '#' || ch == 0x7f) {
            return false;
        }
    }
    return true;
}

/* Parse `url` into host, port (0 = default), scheme and a path (ws/wss only). */
static int s_parse_url(struct s_ctx *c, const struct s_val *v, const char *path,
                       struct mqg_connection *cn, char **ws_path)
{
    const char *url = v->text;
    const char *sep = strstr(url, "://");
    if (!sep || !s_scheme_parse(url, (size_t)(sep - url), true, &cn->scheme)) {
        return s_fail(c, v->at, path,
                      "cannot use url '%s'; expected mqtt://, mqtts://, tcp://, ssl://, tls://, "
                      "ws:// or wss:// followed by host[:port]",
                      url);
    }
    const char *auth = sep + 3;
    size_t alen = strcspn(auth, "/?#");
    const char *rest = auth + alen;
    if (memchr(auth, '@', alen)) {
        return s_fail(c, v->at, path,
                      "credentials in the url are not supported; expected username and password "
                      "as their own properties");
    }
    const char *host = auth;
    size_t hlen = alen;
    const char *port = NULL;
    size_t plen = 0;
    if (alen > 0 && auth[0] == '[') {
        const char *close = memchr(auth, ']', alen);
        if (!close) {
            return s_fail(c, v->at, path, "unterminated '[' in url '%s'; expected [IPv6]:port",
                          url);
        }
        host = auth + 1;
        hlen = (size_t)(close - host);
        if (close + 1 < rest) {
            if (close[1] != ':') {
                return s_fail(c, v->at, path, "cannot use url '%s'; expected [IPv6]:port", url);
            }
            port = close + 2;
            plen = (size_t)(rest - port);
        }
    } else {
        const char *colon = memchr(auth, ':', alen);
        if (colon && memchr(colon + 1, ':', (size_t)(rest - colon - 1))) {
            return s_fail(c, v->at, path,
                          "cannot use url '%s'; expected an IPv6 address in brackets ([::1])", url);
        }
        if (colon) {
            hlen = (size_t)(colon - auth);
            port = colon + 1;
            plen = (size_t)(rest - port);
        }
    }
    char *h = strndup(host, hlen);
    if (!h) {
        return s_oom(c);
    }
    free(cn->host);
    cn->host = h;
    if (!s_valid_host(h)) {
        return s_fail(c, v->at, path,
                      "cannot use url '%s': invalid host; expected "
                      "scheme://host[:port]",
                      url);
    }
    if (port) {
        char pb[8] = "";
        long long p = 0;
        if (plen == 0 || plen >= sizeof(pb)) {
            return s_fail(c, v->at, path, "cannot use url '%s': invalid port; expected 1..65535",
                          url);
        }
        memcpy(pb, port, plen);
        if (!s_parse_ll(pb, &p) || p < 1 || p > 65535 || pb[0] == '+' || pb[0] == '-') {
            return s_fail(c, v->at, path, "cannot use url '%s': invalid port; expected 1..65535",
                          url);
        }
        cn->port = (int)p;
    }
    if (rest[0] && strcmp(rest, "/") != 0) {
        if (cn->scheme != MQG_SCHEME_WS && cn->scheme != MQG_SCHEME_WSS) {
            return s_fail(c, v->at, path,
                          "url '%s' has a path; expected a path only with ws:// or wss://", url);
        }
        *ws_path = strdup(rest);
        if (!*ws_path) {
            return s_oom(c);
        }
    }
    return 0;
}

/* host, port and scheme (or url) of a connection. */
static int s_conn_host_port(struct s_ctx *c, const s_node *cm, const char *base, const s_node *at,
                            struct mqg_connection *cn)
{
    char path[S_PATH_MAX];
    int rc = s_opt_string(c, cm, base, "host", &cn->host);
    s_path(path, base, "host");
    if (rc == 0) {
        return s_fail(c, at, path, "host is missing; expected the broker's host (or a url)");
    }
    if (rc < 0) {
        return rc;
    }
    size_t n = strlen(cn->host);
    if (n > 2 && cn->host[0] == '[' && cn->host[n - 1] == ']') {
        memmove(cn->host, cn->host + 1, n - 2);
        cn->host[n - 2] = '\0';
    }
    if (!s_valid_host(cn->host)) {
        return s_fail(c, mqg_yaml_map_get(c->doc, cm, "host", NULL), path,
                      "invalid host '%s'; expected a host name or an address", cn->host);
    }
    rc = s_opt_int(c, cm, base, "port", 1, 65535, &cn->port);
    if (rc < 0) {
        return rc;
    }
    struct s_val v;
    rc = s_get(c, cm, base, "scheme", path, &v);
    if (rc > 0) {
        rc = s_val_text(c, &v, path, "a scheme");
        if (rc == 0 && !s_scheme_parse(v.text, v.len, false, &cn->scheme)) {
            rc = s_fail(c, v.at, path,
                        "unknown scheme '%s'; expected mqtt, tcp, mqtts, tls, ws or wss", v.text);
        }
    }
    s_val_clear(&v);
    return rc < 0 ? rc : 0;
}

/* host, port, scheme, url -> host, port, scheme, uri. `at` is where a missing host is
 * reported. */
static int s_conn_address(struct s_ctx *c, const s_node *cm, const char *base, const s_node *at,
                          struct mqg_connection *cn)
{
    static const char *const prefix[] = {"tcp", "ssl", "ws", "wss"};
    char path[S_PATH_MAX];
    char *ws_path = NULL;
    struct s_val v;
    int rc = s_get(c, cm, base, "url", path, &v);
    if (rc > 0) {
        rc = s_val_text(c, &v, path, "a url such as mqtt://host:1883");
        rc = rc < 0 ? rc : s_parse_url(c, &v, path, cn, &ws_path);
    } else if (rc == 0) {
        rc = s_conn_host_port(c, cm, base, at, cn);
    }
    s_val_clear(&v);
    if (rc < 0) {
        free(ws_path);
        return rc;
    }
    if (cn->port == 0) {
        cn->port = s_default_port(cn->scheme);
    }
    bool v6 = strchr(cn->host, ':') != NULL;
    rc = s_aprintf(c, &cn->uri, "%s://%s%s%s:%d%s", prefix[cn->scheme], v6 ? "[" : "", cn->host,
                   v6 ? "]" : "", cn->port, ws_path ? ws_path : "");
    free(ws_path);
    return rc;
}

static int s_conn_will(struct s_ctx *c, const s_node *cm, const char *base,
                       struct mqg_connection *cn)
{
    static const char *const keys[] = {"topic", "payload", "qos", "retain", NULL};
    char wbase[S_PATH_MAX];
    char path[S_PATH_MAX];
    const s_node *w;
    int rc = s_opt_map(c, cm, base, "will", &w);
    if (rc <= 0) {
        return rc;
    }
    s_path(wbase, base, "will");
    rc = s_check_keys(c, w, wbase, keys);
    if (rc < 0) {
        return rc;
    }
    cn->will.set = true;
    rc = s_opt_string(c, w, wbase, "topic", &cn->will.topic);
    s_path(path, wbase, "topic");
    if (rc == 0) {
        return s_fail(c, mqg_yaml_map_get(c->doc, cm, "will", NULL), path,
                      "will.topic is missing; expected the topic of the last-will message");
    }
    if (rc > 0) {
        rc = s_check_publish_topic(c, mqg_yaml_map_get(c->doc, w, "topic", NULL), path,
                                   cn->will.topic, 0, cn->will.topic, "topic name", "");
    }
    rc = rc < 0 ? rc : s_opt_string(c, w, wbase, "payload", &cn->will.payload);
    if (rc == 0 && !cn->will.payload) {
        rc = s_dup(c, "", &cn->will.payload);
    }
    rc = rc < 0 ? rc : s_opt_int(c, w, wbase, "qos", 0, 2, &cn->will.qos);
    rc = rc < 0 ? rc : s_opt_bool(c, w, wbase, "retain", &cn->will.retain);
    return rc < 0 ? rc : 0;
}

/* Optional text settings that mean "none" when empty (credentials, certificates). */
static int s_opt_nonempty(struct s_ctx *c, const s_node *map, const char *base, const char *key,
                          char **out, bool secret)
{
    int rc = s_opt_string(c, map, base, key, out);
    if (rc > 0 && (*out)[0] == '\0') {
        if (secret) {
            explicit_bzero(*out, 1);
        }
        free(*out);
        *out = NULL;
    }
    return rc;
}

/* Integer and boolean settings of `connection:`, with their ranges. */
struct s_int_setting {
    const char *key;
    long long min;
    long long max;
    size_t offset; /* of the int in struct mqg_connection */
};

static const struct s_int_setting s_conn_ints[] = {
    {"keepalive", 0, 65535, offsetof(struct mqg_connection, keepalive_s)},
    {"connectTimeout", 0, INT_MAX, offsetof(struct mqg_connection, connect_timeout_ms)},
    {"reconnectPeriod", 0, INT_MAX, offsetof(struct mqg_connection, reconnect_period_ms)},
    {"protocolVersion", 3, 5, offsetof(struct mqg_connection, protocol_version)},
    {"messageBufferWindowMs", 0, 30000, offsetof(struct mqg_connection, buffer_window_ms)},
    {"maxBufferedMessages", 1, 300000, offsetof(struct mqg_connection, max_buffered)},
};

struct s_bool_setting {
    const char *key;
    size_t offset; /* of the bool in struct mqg_connection */
};

static const struct s_bool_setting s_conn_bools[] = {
    {"clean", offsetof(struct mqg_connection, clean)},
    {"trustAllCertificates", offsetof(struct mqg_connection, trust_all)},
    {"mutualAuthentication", offsetof(struct mqg_connection, mutual_auth)},
};

static int s_conn_settings(struct s_ctx *c, const s_node *cm, const char *base,
                           struct mqg_connection *cn)
{
    char path[S_PATH_MAX];
    int rc = s_opt_nonempty(c, cm, base, "username", &cn->username, false);
    rc = rc < 0 ? rc : s_opt_nonempty(c, cm, base, "password", &cn->password, true);
    rc = rc < 0 ? rc : s_opt_string(c, cm, base, "clientId", &cn->client_id);
    if (rc > 0 && (cn->client_id[0] == '\0' || strlen(cn->client_id) > 65535)) {
        s_path(path, base, "clientId");
        return s_fail(c, mqg_yaml_map_get(c->doc, cm, "clientId", NULL), path,
                      "expected a non-empty client id of at most 65535 bytes");
    }
    for (size_t i = 0; rc >= 0 && i < sizeof(s_conn_ints) / sizeof(s_conn_ints[0]); i++) {
        const struct s_int_setting *t = &s_conn_ints[i];
        rc = s_opt_int(c, cm, base, t->key, t->min, t->max, (int *)((char *)cn + t->offset));
    }
    for (size_t i = 0; rc >= 0 && i < sizeof(s_conn_bools) / sizeof(s_conn_bools[0]); i++) {
        const struct s_bool_setting *t = &s_conn_bools[i];
        rc = s_opt_bool(c, cm, base, t->key, (bool *)((char *)cn + t->offset));
    }
    rc = rc < 0 ? rc : s_opt_nonempty(c, cm, base, "caCert", &cn->ca_cert, false);
    rc = rc < 0 ? rc : s_opt_nonempty(c, cm, base, "clientCert", &cn->client_cert, false);
    rc = rc < 0 ? rc : s_opt_nonempty(c, cm, base, "clientPrivateKey", &cn->client_key, true);
    rc = rc < 0 ? rc : s_conn_will(c, cm, base, cn);
    if (rc < 0) {
        return rc;
    }
    if (cn->mutual_auth && (!cn->client_cert || !cn->client_key)) {
        s_path(path, base, "mutualAuthentication");
        return s_fail(c, mqg_yaml_map_get(c->doc, cm, "mutualAuthentication", NULL), path,
                      "mutualAuthentication is true but %s is missing; expected clientCert and "
                      "clientPrivateKey",
                      cn->client_cert ? "clientPrivateKey" : "clientCert");
    }
    return 0;
}

static int s_build_conn(struct s_ctx *c, struct s_res *r)
{
    static const char *const pkeys[] = {"protocol", "targetState", "connection", NULL};
    static const char *const ckeys[] = {"host",
                                        "port",
                                        "scheme",
                                        "url",
                                        "username",
                                        "password",
                                        "clientId",
                                        "clean",
                                        "keepalive",
                                        "connectTimeout",
                                        "reconnectPeriod",
                                        "protocolVersion",
                                        "trustAllCertificates",
                                        "mutualAuthentication",
                                        "caCert",
                                        "clientCert",
                                        "clientPrivateKey",
                                        "will",
                                        "messageBufferWindowMs",
                                        "maxBufferedMessages",
                                        NULL};
    char base[S_PATH_MAX];
    char cbase[S_PATH_MAX];
    char path[S_PATH_MAX];
    snprintf(base, sizeof(base), "resources.%s.properties", r->id);
    int rc = s_check_keys(c, r->props, base, pkeys);
    if (rc < 0) {
        return rc;
    }
    size_t idx;
    rc = s_append(c, (void **)&c->m->conns, &c->m->n_conns, sizeof(*c->m->conns), &idx);
    if (rc < 0) {
        return rc;
    }
    r->index = (int)idx;
    struct mqg_connection *cn = &c->m->conns[idx];
    cn->clean = true;
    cn->keepalive_s = 60;
    cn->connect_timeout_ms = 30000;
    cn->reconnect_period_ms = 1000;
    cn->protocol_version = 4;
    cn->target_connected = true;
    cn->buffer_window_ms = 10000;
    cn->max_buffered = 20000;
    cn->scheme = MQG_SCHEME_MQTT;
    if (s_dup(c, c->sid, &cn->service_id) < 0 || s_dup(c, r->id, &cn->id) < 0 ||
        s_aprintf(c, &cn->key, "%s/%s", c->sid, r->id) < 0) {
        return -ENOMEM;
    }
    struct s_val v;
    rc = s_get(c, r->props, base, "targetState", path, &v);
    if (rc > 0) {
        rc = s_val_text(c, &v, path, "connected or disconnected");
        if (rc == 0 && strcmp(v.text, "connected") != 0 && strcmp(v.text, "disconnected") != 0) {
            rc = s_fail(c, v.at, path,
                        "unknown targetState '%s'; expected connected or "
                        "disconnected",
                        v.text);
        }
        if (rc == 0) {
            cn->target_connected = strcmp(v.text, "connected") == 0;
        }
    }
    s_val_clear(&v);
    if (rc < 0) {
        return rc;
    }
    const s_node *cm;
    rc = s_opt_map(c, r->props, base, "connection", &cm);
    if (rc < 0) {
        return rc;
    }
    s_path(cbase, base, "connection");
    if (!cm) {
        return s_fail(c, r->key, cbase,
                      "connection is missing; expected connection: {host, "
                      "port, ...}");
    }
    rc = s_check_keys(c, cm, cbase, ckeys);
    const s_node *ckey = NULL;
    mqg_yaml_map_get(c->doc, r->props, "connection", &ckey);
    rc = rc < 0 ? rc : s_conn_address(c, cm, cbase, ckey ? ckey : r->key, cn);
    rc = rc < 0 ? rc : s_conn_settings(c, cm, cbase, cn);
    if (rc < 0) {
        return rc;
    }
    if (!cn->client_id) {
        cn->client_id_derived = true; /* made unique per instance by mqg_clientid_apply */
        rc = s_aprintf(c, &cn->client_id, "%s-%s", c->sid, r->id);
        if (rc == 0 && strlen(cn->client_id) > S_CLIENT_ID_MAX) {
            cn->client_id[S_CLIENT_ID_MAX] = '\0';
        }
    }
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Cybus::Endpoint                                                                           */

static int s_add_route(struct s_ctx *c, size_t n_sources, size_t *idx)
{
    int rc = s_append(c, (void **)&c->m->routes, &c->m->n_routes, sizeof(*c->m->routes), idx);
    if (rc < 0) {
        return rc;
    }
    struct mqg_route *rt = &c->m->routes[*idx];
    rt->sources = calloc(n_sources, sizeof(*rt->sources));
    if (!rt->sources) {
        return s_oom(c);
    }
    rt->n_sources = n_sources;
    return 0;
}

static int s_endpoint_route(struct s_ctx *c, const struct mqg_endpoint *ep)
{
    size_t idx;
    int rc = s_add_route(c, 1, &idx);
    if (rc < 0) {
        return rc;
    }
    struct mqg_route *rt = &c->m->routes[idx];
    struct mqg_source *s = &rt->sources[0];
    rc = s_aprintf(c, &rt->name, "endpoint %s", ep->id);
    if (ep->kind == MQG_EP_SUBSCRIBE) {
        s->conn = ep->conn;
        s->qos = ep->qos;
        rc = rc < 0 ? rc : s_dup(c, ep->topic, &s->filter);
        rt->target.conn = MQG_INTERNAL;
        rt->target.qos = ep->qos;
        rt->target.retain = false;
        rc = rc < 0 ? rc : s_dup(c, ep->data_topic, &rt->target.topic);
    } else {
        s->conn = MQG_INTERNAL;
        s->qos = ep->qos;
        rc = rc < 0 ? rc : s_aprintf(c, &s->filter, "%s/set", ep->data_topic);
        rt->target.conn = ep->conn;
        rt->target.qos = ep->qos;
        rt->target.retain = ep->retain;
        rc = rc < 0 ? rc : s_dup(c, ep->topic, &rt->target.topic);
    }
    return rc;
}

/* subscribe: {topic, qos} or write: {topic, qos, retain} of an endpoint. */
static int s_endpoint_op(struct s_ctx *c, const s_node *props, const char *base, bool write,
                         struct mqg_endpoint *ep)
{
    static const char *const skeys[] = {"topic", "qos", NULL};
    static const char *const wkeys[] = {"topic", "qos", "retain", NULL};
    const char *key = write ? "write" : "subscribe";
    char obase[S_PATH_MAX];
    char path[S_PATH_MAX];
    const s_node *op;
    const s_node *okey;
    mqg_yaml_map_get(c->doc, props, key, &okey);
    s_path(obase, base, key);
    int rc = s_opt_map(c, props, base, key, &op);
    if (rc < 0) {
        return rc;
    }
    if (!op) {
        return s_fail(c, okey, obase, "%s is empty; expected %s: {topic: ...}", key, key);
    }
    rc = s_check_keys(c, op, obase, write ? wkeys : skeys);
    rc = rc < 0 ? rc : s_opt_string(c, op, obase, "topic", &ep->topic);
    s_path(path, obase, "topic");
    if (rc == 0) {
        return s_fail(c, okey, path, "%s.topic is missing; expected the topic %s", key,
                      write ? "to publish to" : "to subscribe to");
    }
    if (rc > 0 && write) {
        rc = s_check_publish_topic(c, mqg_yaml_map_get(c->doc, op, "topic", NULL), path, ep->topic,
                                   0, ep->topic, "topic to write to", "");
        rc = rc < 0 ? rc : 1;
    }
    if (rc > 0 && !write && !mqg_topic_valid_filter(ep->topic)) {
        return s_fail(c, mqg_yaml_map_get(c->doc, op, "topic", NULL), path,
                      "'%s' is not a valid topic filter; expected levels separated by '/', with "
                      "'+' or '#' only as a whole level and '#' only last",
                      ep->topic);
    }
    rc = rc < 0 ? rc : s_opt_int(c, op, obase, "qos", 0, 2, &ep->qos);
    if (write) {
        rc = rc < 0 ? rc : s_opt_bool(c, op, obase, "retain", &ep->retain);
    }
    return rc < 0 ? rc : 0;
}

static int s_build_endpoint(struct s_ctx *c, struct s_res *r)
{
    static const char *const keys[] = {"protocol", "connection", "topic", "subscribe",
                                       "write",    "rules",      NULL};
    char base[S_PATH_MAX];
    char path[S_PATH_MAX];
    snprintf(base, sizeof(base), "resources.%s.properties", r->id);
    int rc = s_check_keys(c, r->props, base, keys);
    if (rc < 0) {
        return rc;
    }
    const s_node *k;
    if (mqg_yaml_map_get(c->doc, r->props, "rules", &k), k) {
        s_path(path, base, "rules");
        return s_fail(c, k, path,
                      "rules are not supported yet (endpoint '%s'); expected an "
                      "endpoint without rules",
                      r->id);
    }
    struct s_res *conn;
    rc = s_resref_kind(c, r->props, base, "connection", S_R_CONN, &conn);
    if (rc < 0) {
        return rc;
    }
    if (!conn) {
        s_path(path, base, "connection");
        return s_fail(c, r->key, path,
                      "connection is missing; expected connection: !ref "
                      "<Cybus::Connection id>");
    }
    const s_node *sk;
    const s_node *wk;
    mqg_yaml_map_get(c->doc, r->props, "subscribe", &sk);
    mqg_yaml_map_get(c->doc, r->props, "write", &wk);
    if (sk && wk) {
        bool sub_later =
            mqg_yaml_line(sk) > mqg_yaml_line(wk) ||
            (mqg_yaml_line(sk) == mqg_yaml_line(wk) && mqg_yaml_col(sk) > mqg_yaml_col(wk));
        s_path(path, base, sub_later ? "subscribe" : "write");
        return s_fail(c, sub_later ? sk : wk, path,
                      "endpoint '%s' has both subscribe and write; expected exactly one of them",
                      r->id);
    }
    if (!sk && !wk) {
        return s_fail(c, r->key, base,
                      "endpoint '%s' has neither subscribe nor write; expected exactly one of "
                      "them",
                      r->id);
    }
    size_t idx;
    rc = s_append(c, (void **)&c->m->endpoints, &c->m->n_endpoints, sizeof(*c->m->endpoints), &idx);
    if (rc < 0) {
        return rc;
    }
    r->index = (int)idx;
    struct mqg_endpoint *ep = &c->m->endpoints[idx];
    ep->conn = conn->index;
    ep->kind = wk ? MQG_EP_WRITE : MQG_EP_SUBSCRIBE;
    if (s_dup(c, c->sid, &ep->service_id) < 0 || s_dup(c, r->id, &ep->id) < 0) {
        return -ENOMEM;
    }
    rc = s_endpoint_op(c, r->props, base, wk != NULL, ep);
    if (rc < 0) {
        return rc;
    }
    char *topic = NULL;
    rc = s_opt_string(c, r->props, base, "topic", &topic);
    if (rc >= 0) {
        rc = s_aprintf(c, &ep->data_topic, "%s/%s", c->root, topic ? topic : r->id);
    }
    s_path(path, base, "topic");
    const s_node *tn = mqg_yaml_map_get(c->doc, r->props, "topic", NULL);
    if (rc >= 0 && topic && !topic[0]) {
        rc = s_fail(c, tn, path, "'' is not a valid data topic; expected a topic name");
    } else if (rc >= 0) {
        rc = s_check_publish_topic(c, tn, path, ep->data_topic, strlen(c->root) + 1,
                                   topic ? topic : r->id, "data topic", "");
    }
    free(topic);
    return rc < 0 ? rc : s_endpoint_route(c, &c->m->endpoints[idx]);
}

/* ---------------------------------------------------------------------------------------- */
/* Cybus::Mapping                                                                            */

/* One subscribe entry S of a mapping into route source *src (pattern into *pat). */
static int s_mapping_source(struct s_ctx *c, const s_node *s, const char *sbase,
                            struct mqg_source *src, struct mqg_pattern **pat)
{
    static const char *const keys[] = {"endpoint", "topic", "qos", "connection", NULL};
    char path[S_PATH_MAX];
    struct s_val v;
    int rc = s_resolve(c, s, sbase, &v);
    if (rc < 0) {
        return rc;
    }
    const s_node *sm = v.node;
    s_val_clear(&v);
    if (mqg_yaml_kind(sm) != MQG_YAML_MAPPING) {
        return s_fail(c, s, sbase,
                      "expected {endpoint: !ref <endpoint>} or {topic: <filter>}, "
                      "got a %s",
                      sm ? mqg_yaml_kind_name(sm) : "scalar");
    }
    rc = s_check_keys(c, sm, sbase, keys);
    if (rc < 0) {
        return rc;
    }
    const s_node *ek;
    const s_node *tk;
    mqg_yaml_map_get(c->doc, sm, "endpoint", &ek);
    mqg_yaml_map_get(c->doc, sm, "topic", &tk);
    if ((ek != NULL) == (tk != NULL)) {
        return s_fail(c, ek ? tk : s, sbase, "%s; expected exactly one of endpoint and topic",
                      ek ? "both endpoint and topic are given"
                         : "neither endpoint nor topic is "
                           "given");
    }
    src->conn = MQG_INTERNAL;
    rc = s_opt_int(c, sm, sbase, "qos", 0, 2, &src->qos);
    if (rc < 0) {
        return rc;
    }
    struct s_res *conn;
    rc = s_resref_kind(c, sm, sbase, "connection", S_R_CONN, &conn);
    if (rc < 0) {
        return rc;
    }
    if (ek) {
        struct s_res *ep;
        rc = s_resref_kind(c, sm, sbase, "endpoint", S_R_EP, &ep);
        if (rc < 0) {
            return rc;
        }
        if (!ep) {
            s_path(path, sbase, "endpoint");
            return s_fail(c, ek, path, "endpoint is empty; expected endpoint: !ref <endpoint id>");
        }
        if (conn) {
            s_path(path, sbase, "connection");
            return s_fail(c, mqg_yaml_map_get(c->doc, sm, "connection", NULL), path,
                          "connection goes with topic, not with endpoint; expected either "
                          "{endpoint} or {topic, connection}");
        }
        return s_dup(c, c->m->endpoints[ep->index].data_topic, &src->filter);
    }
    if (conn) {
        src->conn = conn->index;
    }
    rc = s_opt_string(c, sm, sbase, "topic", &src->filter);
    s_path(path, sbase, "topic");
    if (rc == 0) {
        return s_fail(c, tk, path, "topic is empty; expected a topic filter");
    }
    if (rc < 0) {
        return rc;
    }
    const char *why = NULL;
    if (mqg_pattern_new(src->filter, pat, &why) < 0) {
        return s_fail(c, mqg_yaml_map_get(c->doc, sm, "topic", NULL), path,
                      "'%s' is not a valid topic filter: %s; expected levels separated by '/', "
                      "wildcards +, #, +name, #name as whole levels",
                      src->filter, why ? why : "malformed");
    }
    return 0;
}

/* The publish entry P of a mapping into route target *t, checked against the patterns. */
static int s_mapping_target(struct s_ctx *c, const s_node *p, const char *pbase,
                            struct mqg_pattern *const *pats, size_t n_pats, struct mqg_target *t)
{
    static const char *const keys[] = {"endpoint", "topic", "qos", "retain", "connection", NULL};
    char path[S_PATH_MAX];
    const s_node *ek;
    const s_node *tk;
    int rc = s_check_keys(c, p, pbase, keys);
    if (rc < 0) {
        return rc;
    }
    mqg_yaml_map_get(c->doc, p, "endpoint", &ek);
    mqg_yaml_map_get(c->doc, p, "topic", &tk);
    if ((ek != NULL) == (tk != NULL)) {
        return s_fail(c, ek ? tk : p, pbase, "%s; expected exactly one of endpoint and topic",
                      ek ? "both endpoint and topic are given"
                         : "neither endpoint nor topic is "
                           "given");
    }
    struct s_res *conn;
    rc = s_resref_kind(c, p, pbase, "connection", S_R_CONN, &conn);
    if (rc < 0) {
        return rc;
    }
    t->conn = MQG_INTERNAL;
    if (ek) {
        struct s_res *er;
        rc = s_resref_kind(c, p, pbase, "endpoint", S_R_EP, &er);
        if (rc < 0) {
            return rc;
        }
        s_path(path, pbase, "endpoint");
        if (!er) {
            return s_fail(c, ek, path,
                          "endpoint is empty; expected endpoint: !ref <write endpoint id>");
        }
        const struct mqg_endpoint *ep = &c->m->endpoints[er->index];
        if (ep->kind != MQG_EP_WRITE) {
            return s_fail(c, mqg_yaml_map_get(c->doc, p, "endpoint", NULL), path,
                          "'%s' is a subscribe endpoint; expected a write endpoint to publish "
                          "to",
                          er->id);
        }
        if (conn) {
            s_path(path, pbase, "connection");
            return s_fail(c, mqg_yaml_map_get(c->doc, p, "connection", NULL), path,
                          "connection goes with topic, not with endpoint; expected either "
                          "{endpoint} or {topic, connection}");
        }
        t->qos = ep->qos;
        t->retain = ep->retain;
        rc = s_aprintf(c, &t->topic, "%s/set", ep->data_topic);
    } else {
        if (conn) {
            t->conn = conn->index;
        }
        rc = s_opt_string(c, p, pbase, "topic", &t->topic);
        s_path(path, pbase, "topic");
        if (rc == 0) {
            return s_fail(c, tk, path, "topic is empty; expected a topic to publish to");
        }
        const s_node *tn = mqg_yaml_map_get(c->doc, p, "topic", NULL);
        /* references ({name}, $name) are names, so what the strict rule finds in a template
         * is in its literal text; what they are replaced by is checked at run time */
        if (rc > 0) {
            rc = s_check_publish_topic(c, tn, path, t->topic, 0, t->topic, "topic to publish to",
                                       " ({name} placeholders allowed)");
            rc = rc < 0 ? rc : 1;
        }
        for (size_t i = 0; rc >= 0 && i < n_pats; i++) {
            const char *why = NULL;
            if (mqg_pattern_check_template(pats[i], t->topic, &why) < 0) {
                rc = s_fail(c, tn, path,
                            "'%s' does not fit subscribe[%zu]: %s; expected only "
                            "placeholders named by +name/#name wildcards of every subscribe",
                            t->topic, i, why ? why : "unknown placeholder");
            }
        }
    }
    rc = rc < 0 ? rc : s_opt_int(c, p, pbase, "qos", 0, 2, &t->qos);
    rc = rc < 0 ? rc : s_opt_bool(c, p, pbase, "retain", &t->retain);
    return rc < 0 ? rc : 0;
}

/* One entry {subscribe, publish} of a mapping -> one route. */
static int s_mapping_entry(struct s_ctx *c, const struct s_res *r, const s_node *e,
                           const char *ebase, size_t index)
{
    static const char *const keys[] = {"subscribe", "publish", "rules", NULL};
    char path[S_PATH_MAX];
    struct s_val v;
    int rc = s_resolve(c, e, ebase, &v);
    const s_node *em = v.node;
    s_val_clear(&v);
    if (rc < 0) {
        return rc;
    }
    if (mqg_yaml_kind(em) != MQG_YAML_MAPPING) {
        return s_fail(c, e, ebase, "expected a mapping {subscribe: ..., publish: ...}");
    }
    rc = s_check_keys(c, em, ebase, keys);
    if (rc < 0) {
        return rc;
    }
    const s_node *k;
    if (mqg_yaml_map_get(c->doc, em, "rules", &k), k) {
        s_path(path, ebase, "rules");
        return s_fail(c, k, path,
                      "rules are not supported yet (mapping '%s'); expected a "
                      "mapping entry without rules",
                      r->id);
    }
    const s_node *sub;
    const s_node *sk;
    const s_node *pub;
    mqg_yaml_map_get(c->doc, em, "subscribe", &sk);
    s_path(path, ebase, "subscribe");
    rc = s_get(c, em, ebase, "subscribe", path, &v);
    sub = v.node;
    s_val_clear(&v);
    if (rc <= 0) {
        return rc < 0 ? rc
                      : s_fail(c, sk ? sk : e, path,
                               "subscribe is missing; expected "
                               "{endpoint: !ref <ep>} or {topic: <filter>} or a list");
    }
    bool list = mqg_yaml_kind(sub) == MQG_YAML_SEQUENCE;
    size_t n = list ? mqg_yaml_seq_size(sub) : 1;
    if (n == 0) {
        return s_fail(c, sub, path, "subscribe is an empty list; expected at least one entry");
    }
    rc = s_opt_map(c, em, ebase, "publish", &pub);
    if (rc <= 0) {
        s_path(path, ebase, "publish");
        return rc < 0 ? rc
                      : s_fail(c, e, path,
                               "publish is missing; expected {endpoint: !ref "
                               "<write endpoint>} or {topic: <topic>}");
    }
    struct mqg_pattern **pats = calloc(n, sizeof(*pats));
    size_t idx;
    if (!pats) {
        return s_oom(c);
    }
    rc = s_add_route(c, n, &idx);
    rc = rc < 0 ? rc : s_aprintf(c, &c->m->routes[idx].name, "mapping %s[%zu]", r->id, index);
    for (size_t i = 0; rc >= 0 && i < n; i++) {
        char sbase[S_PATH_MAX];
        if (list) {
            s_path_idx(sbase, path, i);
        } else {
            snprintf(sbase, sizeof(sbase), "%s", path);
        }
        const s_node *s = list ? mqg_yaml_seq_at(c->doc, sub, i)
                               : mqg_yaml_map_get(c->doc, em, "subscribe", NULL);
        rc = s_mapping_source(c, s, sbase, &c->m->routes[idx].sources[i], &pats[i]);
    }
    if (rc >= 0) {
        s_path(path, ebase, "publish");
        rc = s_mapping_target(c, pub, path, pats, n, &c->m->routes[idx].target);
    }
    for (size_t i = 0; i < n; i++) {
        mqg_pattern_destroy(&pats[i]);
    }
    free(pats);
    return rc < 0 ? rc : 0;
}

static int s_build_mapping(struct s_ctx *c, struct s_res *r)
{
    static const char *const keys[] = {"mappings", NULL};
    char base[S_PATH_MAX];
    char path[S_PATH_MAX];
    snprintf(base, sizeof(base), "resources.%s.properties", r->id);
    int rc = s_check_keys(c, r->props, base, keys);
    if (rc < 0) {
        return rc;
    }
    struct s_val v;
    rc = s_get(c, r->props, base, "mappings", path, &v);
    const s_node *list = v.node;
    const s_node *at = v.at;
    s_val_clear(&v);
    if (rc <= 0) {
        return rc < 0 ? rc
                      : s_fail(c, r->key, path,
                               "mappings is missing; expected a list of "
                               "{subscribe, publish}");
    }
    if (mqg_yaml_kind(list) != MQG_YAML_SEQUENCE || mqg_yaml_seq_size(list) == 0) {
        return s_fail(c, at, path, "expected a non-empty list of {subscribe, publish}");
    }
    size_t n = mqg_yaml_seq_size(list);
    for (size_t i = 0; i < n; i++) {
        char ebase[S_PATH_MAX];
        s_path_idx(ebase, path, i);
        rc = s_mapping_entry(c, r, mqg_yaml_seq_at(c->doc, list, i), ebase, i);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* loading                                                                                   */

static int s_load(struct s_ctx *c, const char *service_id)
{
    /* `version` is the platform's file format version: accepted and ignored. */
    static const char *const keys[] = {"version",     "description", "metadata", "parameters",
                                       "definitions", "resources",   NULL};
    const s_node *root = mqg_yaml_root(c->doc);
    if (mqg_yaml_kind(root) != MQG_YAML_MAPPING || mqg_yaml_local_tag(root)) {
        return s_fail(c, root, NULL,
                      "expected a mapping with metadata and resources at the top "
                      "level, got a %s",
                      mqg_yaml_kind_name(root));
    }
    int rc = s_check_keys(c, root, "", keys);
    for (size_t i = 0; rc == 0 && i < 2; i++) {
        const s_node *d = mqg_yaml_map_get(c->doc, root, keys[i], NULL);
        if (d && mqg_yaml_kind(d) != MQG_YAML_SCALAR) {
            rc = s_fail(c, d, keys[i], "expected text, got a %s", mqg_yaml_kind_name(d));
        }
    }
    rc = rc < 0 ? rc : s_load_metadata(c, root, service_id);
    rc = rc < 0 ? rc : s_load_params(c, root);
    rc = rc < 0 ? rc : s_load_defs(c, root);
    rc = rc < 0 ? rc : s_collect(c, root);
    for (size_t i = 0; rc >= 0 && i < c->n_res; i++) {
        if (c->res[i].kind == S_R_CONN) {
            rc = s_build_conn(c, &c->res[i]);
        }
    }
    for (size_t i = 0; rc >= 0 && i < c->n_res; i++) {
        if (c->res[i].kind == S_R_EP) {
            rc = s_build_endpoint(c, &c->res[i]);
        }
    }
    for (size_t i = 0; rc >= 0 && i < c->n_res; i++) {
        if (c->res[i].kind == S_R_MAP) {
            rc = s_build_mapping(c, &c->res[i]);
        }
    }
    return rc;
}

/* Load c->doc (owned by c, destroyed here) into the model. */
static int s_load_doc(struct s_ctx *c, const char *service_id)
{
    int rc = s_load(c, service_id);
    for (size_t i = 0; i < c->n_res; i++) {
        free(c->res[i].skipped_as);
    }
    free(c->res);
    free(c->pdefs);
    mqg_yaml_destroy(&c->doc);
    return rc;
}

int mqg_service_load(struct mqg_model *m, const char *path, struct mqg_param *params,
                     size_t n_params, const char *service_id, struct mqg_error *err)
{
    struct s_ctx c = {
        .m = m,
        .path = path,
        .err = err,
        .params = params,
        .n_params = n_params,
    };
    int rc = mqg_yaml_load(path, &c.doc, err);
    return rc < 0 ? rc : s_load_doc(&c, service_id);
}

int mqg_service_load_buffer(struct mqg_model *m, const char *name, const void *buf, size_t len,
                            struct mqg_param *params, size_t n_params, const char *service_id,
                            struct mqg_error *err)
{
    struct s_ctx c = {
        .m = m,
        .path = name,
        .err = err,
        .params = params,
        .n_params = n_params,
    };
    int rc = mqg_yaml_load_buffer(name, buf, len, &c.doc, err);
    return rc < 0 ? rc : s_load_doc(&c, service_id);
}

int mqg_service_check_unused(const struct mqg_param *params, size_t n_params,
                             const char *first_file, struct mqg_error *err)
{
    for (size_t i = 0; i < n_params; i++) {
        if (params[i].used) {
            continue;
        }
        int line = 1;
        int col = 1;
        struct mqg_yaml_doc *doc = NULL;
        struct mqg_error ignored;
        if (first_file && mqg_yaml_load(first_file, &doc, &ignored) == 0) {
            const s_node *key;
            mqg_yaml_map_get(doc, mqg_yaml_root(doc), "parameters", &key);
            if (key) {
                line = mqg_yaml_line(key);
                col = mqg_yaml_col(key);
            }
            mqg_yaml_destroy(&doc);
        }
        return mqg_error_set(err, first_file, first_file ? line : 0, first_file ? col : 0,
                             "parameters",
                             "unknown parameter '%s' given with -p; expected only parameters "
                             "declared under parameters in a service file",
                             params[i].name ? params[i].name : "");
    }
    return 0;
}

void mqg_service_id_from_name(const char *name, char *out, size_t cap)
{
    size_t n = 0;
    if (cap == 0) {
        return;
    }
    for (const char *p = name; p && *p && n + 1 < cap; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch >= 'A' && ch <= 'Z') {
            out[n++] = (char)(ch - 'A' + 'a');
        } else if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')) {
            out[n++] = (char)ch;
        }
    }
    out[n] = '\0';
}
