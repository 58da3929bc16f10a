/* mqg_yaml — read-only view of one libyaml document (see mqg_yaml.h).
 *
 * The only file that includes <yaml.h>. Node handles are yaml_node_t pointers into the
 * document's node array; libyaml's marks are 0-based and are turned into 1-based positions
 * here. The input is read twice: first as events (s_scan: nesting depth, tags), then by
 * libyaml's composer. Duplicate mapping keys, which libyaml accepts, are rejected after
 * loading.
 */
#include "mqg_yaml.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

struct mqg_yaml_doc {
    yaml_document_t doc;
};

/* The whole input, and its name for messages. */
struct s_input {
    const char *path;
    const unsigned char *buf;
    size_t len;
};

/* One scalar key of a mapping, for the duplicate check. */
struct s_key {
    const char *text;
    size_t len;
    size_t order; /* pair index in the mapping */
    const yaml_node_t *node;
};

static const yaml_node_t *s_node(const struct mqg_yaml_node *n)
{
    return (const yaml_node_t *)n;
}

static const struct mqg_yaml_node *s_handle(const yaml_node_t *n)
{
    return (const struct mqg_yaml_node *)n;
}

static const yaml_node_t *s_get(const struct mqg_yaml_doc *d, int index)
{
    const yaml_document_t *doc = &d->doc;
    if (index < 1 || doc->nodes.start + index > doc->nodes.top) {
        return NULL;
    }
    return doc->nodes.start + index - 1;
}

/* Line (1-based) and column (1-based, in bytes) of byte `offset` of the input. */
static void s_offset_position(const struct s_input *in, size_t offset, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < offset && i < in->len; i++) {
        if (in->buf[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

/* Turn a failed yaml_parser_parse or yaml_parser_load into *err; returns the negative errno. */
static int s_parser_error(yaml_parser_t *p, const struct s_input *in, struct mqg_error *err)
{
    const char *path = in->path;
    const char *problem = p->problem ? p->problem : "unknown error";
    int line;
    int col;

    switch (p->error) {
    case YAML_MEMORY_ERROR:
        mqg_error_set(err, path, 0, 0, NULL, "out of memory while reading YAML");
        return -ENOMEM;
    case YAML_READER_ERROR:
        s_offset_position(in, p->problem_offset, &line, &col);
        if (p->problem_offset >= in->len) {
            return mqg_error_set(err, path, line, col, NULL,
                                 "invalid YAML input: %s; expected UTF-8 text", problem);
        }
        /* libyaml gives the code point for these two, and the offset of its first byte */
        if (strcmp(problem, "invalid Unicode character") == 0 ||
            strcmp(problem, "control characters are not allowed") == 0) {
            return mqg_error_set(err, path, line, col, NULL,
                                 "invalid YAML input: %s: U+%04X (byte 0x%02x); expected UTF-8 "
                                 "text without control characters, surrogates or non-characters",
                                 problem, (unsigned)p->problem_value,
                                 (unsigned)in->buf[p->problem_offset]);
        }
        return mqg_error_set(err, path, line, col, NULL,
                             "invalid YAML input: %s (byte 0x%02x); expected UTF-8 text", problem,
                             (unsigned)in->buf[p->problem_offset]);
    default:
        line = (int)p->problem_mark.line + 1;
        col = (int)p->problem_mark.column + 1;
        if (p->context) {
            return mqg_error_set(err, path, line, col, NULL,
                                 "YAML syntax error: %s (%s at line %d, column %d)", problem,
                                 p->context, (int)p->context_mark.line + 1,
                                 (int)p->context_mark.column + 1);
        }
        return mqg_error_set(err, path, line, col, NULL, "YAML syntax error: %s", problem);
    }
}

static int s_key_cmp(const void *a, const void *b)
{
    const struct s_key *x = a;
    const struct s_key *y = b;
    if (x->len != y->len) {
        return x->len < y->len ? -1 : 1;
    }
    int c = memcmp(x->text, y->text, x->len);
    if (c != 0) {
        return c;
    }
    return x->order < y->order ? -1 : (x->order > y->order ? 1 : 0);
}

/* Reject a mapping holding the same scalar key twice; reports the later occurrence. */
static int s_check_map_keys(const struct mqg_yaml_doc *d, const yaml_node_t *map, const char *path,
                            struct mqg_error *err)
{
    size_t n = (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
    if (n < 2) {
        return 0;
    }
    struct s_key *keys = calloc(n, sizeof(*keys));
    if (!keys) {
        mqg_error_set(err, path, 0, 0, NULL, "out of memory while reading YAML");
        return -ENOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const yaml_node_t *key = s_get(d, map->data.mapping.pairs.start[i].key);
        if (key && key->type == YAML_SCALAR_NODE) {
            keys[k].text = (const char *)key->data.scalar.value;
            keys[k].len = key->data.scalar.length;
            keys[k].order = i;
            keys[k].node = key;
            k++;
        }
    }
    qsort(keys, k, sizeof(*keys), s_key_cmp);
    /* After sorting, a duplicate with the smallest order that is not the first occurrence is
     * the one the user meets first in the file among the repeats of that key. */
    const struct s_key *dup = NULL;
    const struct s_key *first = NULL;
    for (size_t i = 1; i < k; i++) {
        if (keys[i].len == keys[i - 1].len &&
            memcmp(keys[i].text, keys[i - 1].text, keys[i].len) == 0) {
            const struct s_key *f0 = &keys[i - 1];
            while (f0 > keys && f0[-1].len == f0->len &&
                   memcmp(f0[-1].text, f0->text, f0->len) == 0) {
                f0--;
            }
            if (!dup || keys[i].order < dup->order) {
                dup = &keys[i];
                first = f0;
            }
        }
    }
    int rc = 0;
    if (dup) {
        rc = mqg_error_set(err, path, (int)dup->node->start_mark.line + 1,
                           (int)dup->node->start_mark.column + 1, NULL,
                           "duplicate key '%s' (first given at line %d, column %d); "
                           "expected every key of a mapping once",
                           dup->text, (int)first->node->start_mark.line + 1,
                           (int)first->node->start_mark.column + 1);
    }
    free(keys);
    return rc;
}

static int s_check_duplicates(const struct mqg_yaml_doc *d, const char *path, struct mqg_error *err)
{
    for (const yaml_node_t *n = d->doc.nodes.start; n < d->doc.nodes.top; n++) {
        if (n->type == YAML_MAPPING_NODE) {
            int rc = s_check_map_keys(d, n, path, err);
            if (rc < 0) {
                return rc;
            }
        }
    }
    return 0;
}

/* After the first document: fail if the stream holds another one. Only its start is parsed,
 * so whatever it holds costs nothing. */
static int s_check_single(yaml_parser_t *p, const struct s_input *in, struct mqg_error *err)
{
    yaml_event_t ev;
    if (!yaml_parser_parse(p, &ev)) {
        return s_parser_error(p, in, err);
    }
    int rc = 0;
    if (ev.type == YAML_DOCUMENT_START_EVENT) {
        rc = mqg_error_set(err, in->path, (int)ev.start_mark.line + 1,
                           (int)ev.start_mark.column + 1, NULL,
                           "a second YAML document starts here; expected exactly one "
                           "document per commissioning file");
    }
    yaml_event_delete(&ev);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* the first pass over the events: nesting depth and tags                                    */

#define S_KEY_MAX 128 /* bytes of a mapping key kept for the setting path */

/* An open collection, for the setting path of an error. */
struct s_frame {
    bool map;
    size_t n;                /* nodes seen in it so far (in a mapping: keys and values) */
    char key[S_KEY_MAX + 1]; /* mapping: the current key ("?" when it is not a scalar) */
};

struct s_scan {
    const struct s_input *in;
    struct mqg_error *err;
    struct s_frame frames[MQG_YAML_DEPTH_MAX];
    size_t depth;
};

/* The setting path of the node that starts now, as the loader spells it
 * ("resources.c.properties", "mappings[0]"): out has cap bytes. `key` is the node's own text
 * when it is a mapping key. */
static void s_scan_path(const struct s_scan *sc, const char *key, char *out, size_t cap)
{
    size_t off = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sc->depth && off < cap; i++) {
        const struct s_frame *f = &sc->frames[i];
        bool last = i + 1 == sc->depth;
        int n;
        if (!f->map) {
            n = snprintf(out + off, cap - off, "[%zu]", f->n);
        } else {
            const char *k = last && f->n % 2 == 0 ? key : f->key;
            n = snprintf(out + off, cap - off, "%s%s", off ? "." : "", k ? k : "?");
        }
        off = n < 0 ? cap : off + (size_t)n;
    }
    if (off >= cap && cap > 4) {
        memcpy(out + cap - 4, "...", 4);
    }
}

/* A node has been read: count it in its collection (and keep a key's text). */
static void s_scan_node_done(struct s_scan *sc, const yaml_event_t *ev)
{
    if (sc->depth == 0) {
        return;
    }
    struct s_frame *f = &sc->frames[sc->depth - 1];
    if (f->map && f->n % 2 == 0) {
        if (ev && ev->type == YAML_SCALAR_EVENT) {
            size_t len = ev->data.scalar.length < S_KEY_MAX ? ev->data.scalar.length : S_KEY_MAX;
            memcpy(f->key, ev->data.scalar.value, len);
            f->key[len] = '\0';
        } else {
            snprintf(f->key, sizeof(f->key), "?");
        }
    }
    f->n++;
}

/* Tags mqgate understands are local ("!ref", "!sub"; the loader names unknown ones). Global
 * tags ("!!str", "!!binary", "!<tag:...>", or any tag a %TAG directive makes global) and the
 * non-specific "!" would change a value's type in ways the loader does not follow. */
static int s_scan_tag(struct s_scan *sc, const yaml_event_t *ev, const char *tag, const char *key)
{
    if (!tag || (tag[0] == '!' && tag[1] != '\0')) {
        return 0;
    }
    static const char core[] = "tag:yaml.org,2002:";
    char shown[160];
    if (strcmp(tag, "!") == 0) {
        snprintf(shown, sizeof(shown), "the non-specific tag '!'");
    } else if (strncmp(tag, core, sizeof(core) - 1) == 0) {
        snprintf(shown, sizeof(shown), "tag '!!%.100s'", tag + sizeof(core) - 1);
    } else {
        snprintf(shown, sizeof(shown), "tag '!<%.100s>'", tag);
    }
    char path[256];
    s_scan_path(sc, key, path, sizeof(path));
    return mqg_error_set(sc->err, sc->in->path, (int)ev->start_mark.line + 1,
                         (int)ev->start_mark.column + 1, path,
                         "%s is not supported; expected no tag (quote a value to make it text), "
                         "!ref or !sub",
                         shown);
}

/* One event of the first document. Returns 0, 1 at the end of the document, or -EINVAL. */
static int s_scan_event(struct s_scan *sc, const yaml_event_t *ev)
{
    const char *tag = NULL;
    switch (ev->type) {
    case YAML_DOCUMENT_END_EVENT:
    case YAML_STREAM_END_EVENT:
        return 1;
    case YAML_ALIAS_EVENT:
        s_scan_node_done(sc, ev);
        return 0;
    case YAML_SCALAR_EVENT: {
        struct s_frame *f = sc->depth ? &sc->frames[sc->depth - 1] : NULL;
        char key[S_KEY_MAX + 1];
        snprintf(key, sizeof(key), "%.*s",
                 (int)(ev->data.scalar.length < S_KEY_MAX ? ev->data.scalar.length : S_KEY_MAX),
                 (const char *)ev->data.scalar.value);
        int rc = s_scan_tag(sc, ev, (const char *)ev->data.scalar.tag,
                            f && f->map && f->n % 2 == 0 ? key : NULL);
        s_scan_node_done(sc, ev);
        return rc;
    }
    case YAML_SEQUENCE_START_EVENT:
        tag = (const char *)ev->data.sequence_start.tag;
        break;
    case YAML_MAPPING_START_EVENT:
        tag = (const char *)ev->data.mapping_start.tag;
        break;
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        sc->depth--;
        s_scan_node_done(sc, NULL);
        return 0;
    default:
        return 0;
    }
    int rc = s_scan_tag(sc, ev, tag, "?");
    if (rc < 0) {
        return rc;
    }
    if (sc->depth == MQG_YAML_DEPTH_MAX) {
        char path[256];
        s_scan_path(sc, "?", path, sizeof(path));
        return mqg_error_set(sc->err, sc->in->path, (int)ev->start_mark.line + 1,
                             (int)ev->start_mark.column + 1, path,
                             "mappings and sequences nested more than %d levels deep; expected "
                             "at most %d levels",
                             MQG_YAML_DEPTH_MAX, MQG_YAML_DEPTH_MAX);
    }
    struct s_frame *f = &sc->frames[sc->depth++];
    f->map = ev->type == YAML_MAPPING_START_EVENT;
    f->n = 0;
    f->key[0] = '\0';
    return 0;
}

/* Read the first document as events, before libyaml's composer builds it: stops at the first
 * syntax error, the first collection nested deeper than MQG_YAML_DEPTH_MAX (libyaml's scanner
 * slows down with every open flow level, so a deep file is refused before it costs time) and
 * the first tag mqgate does not accept. */
static int s_scan(const struct s_input *in, struct mqg_error *err)
{
    yaml_parser_t parser;
    struct s_scan *sc = calloc(1, sizeof(*sc));
    if (!sc || !yaml_parser_initialize(&parser)) {
        free(sc);
        mqg_error_set(err, in->path, 0, 0, NULL, "out of memory while reading YAML");
        return -ENOMEM;
    }
    sc->in = in;
    sc->err = err;
    yaml_parser_set_input_string(&parser, in->buf, in->len);
    int rc = 0;
    while (rc == 0) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = s_parser_error(&parser, in, err);
            break;
        }
        rc = s_scan_event(sc, &ev);
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    free(sc);
    return rc < 0 ? rc : 0;
}

/* libyaml decodes UTF-16 when the text starts with its byte order mark (and takes UTF-32's
 * little-endian one for UTF-16's); mqgate reads UTF-8 only. */
static int s_check_utf8(const struct s_input *in, struct mqg_error *err)
{
    const unsigned char *b = in->buf;
    if (in->len >= 2 && ((b[0] == 0xff && b[1] == 0xfe) || (b[0] == 0xfe && b[1] == 0xff))) {
        return mqg_error_set(err, in->path, 1, 1, NULL,
                             "invalid YAML input: the file is UTF-16 or UTF-32 (it starts with "
                             "the byte order mark 0x%02x 0x%02x); expected UTF-8 text",
                             b[0], b[1]);
    }
    if (in->len >= 4 && b[0] == 0 && b[1] == 0 && b[2] == 0xfe && b[3] == 0xff) {
        return mqg_error_set(err, in->path, 1, 1, NULL,
                             "invalid YAML input: the file is UTF-32 (it starts with the byte "
                             "order mark 0x00 0x00 0xfe 0xff); expected UTF-8 text");
    }
    return 0;
}

/* Read all of `path` into a new buffer *out (caller frees), *len bytes. Files that are not
 * regular (pipes, /dev/stdin) are read to their end too. */
static int s_read_file(const char *path, unsigned char **out, size_t *len, struct mqg_error *err)
{
    *out = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        mqg_error_set(err, path, 0, 0, NULL, "cannot open file: %s", strerror(e));
        return e == ENOENT ? -ENOENT : -EIO;
    }
    struct stat st = {.st_mode = 0};
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        mqg_error_set(err, path, 0, 0, NULL, "cannot read file: it is a directory");
        return -EIO;
    }
    size_t cap = S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size + 1 : 4096;
    unsigned char *buf = malloc(cap);
    size_t n = 0;
    int rc = buf ? 0 : -ENOMEM;
    while (rc == 0) {
        if (n == cap) {
            unsigned char *p = cap <= SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
            if (!p) {
                rc = -ENOMEM;
                break;
            }
            buf = p;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            rc = ferror(f) ? -EIO : 1;
        }
    }
    if (rc == -EIO) {
        mqg_error_set(err, path, 0, 0, NULL, "cannot read file: %s", strerror(errno));
    } else if (rc == -ENOMEM) {
        mqg_error_set(err, path, 0, 0, NULL, "out of memory while reading the file");
    }
    fclose(f);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    *out = buf;
    *len = n;
    return 0;
}

int mqg_yaml_load(const char *path, struct mqg_yaml_doc **out, struct mqg_error *err)
{
    *out = NULL;
    unsigned char *buf;
    size_t len;
    int rc = s_read_file(path, &buf, &len, err);
    if (rc < 0) {
        return rc;
    }
    rc = mqg_yaml_load_buffer(path, buf, len, out, err);
    free(buf);
    return rc;
}

int mqg_yaml_load_buffer(const char *name, const void *buf, size_t len, struct mqg_yaml_doc **out,
                         struct mqg_error *err)
{
    *out = NULL;
    struct s_input in = {.path = name, .buf = buf, .len = len};
    const char *path = name;
    int rc;
    struct mqg_yaml_doc *d = calloc(1, sizeof(*d));
    yaml_parser_t parser;
    if (!d || !yaml_parser_initialize(&parser)) {
        free(d);
        mqg_error_set(err, path, 0, 0, NULL, "out of memory while reading YAML");
        return -ENOMEM;
    }
    yaml_parser_set_input_string(&parser, in.buf, in.len);
    rc = s_check_utf8(&in, err);
    rc = rc < 0 ? rc : s_scan(&in, err);
    if (rc < 0) {
        free(d);
        goto out;
    }
    if (!yaml_parser_load(&parser, &d->doc)) {
        rc = s_parser_error(&parser, &in, err);
        free(d);
        goto out;
    }
    if (!yaml_document_get_root_node(&d->doc)) {
        rc = mqg_error_set(err, path, 0, 0, NULL,
                           "the file holds no YAML document; expected a commissioning file "
                           "(a mapping with metadata and resources)");
    } else {
        rc = s_check_single(&parser, &in, err);
    }
    if (rc == 0) {
        rc = s_check_duplicates(d, path, err);
    }
    if (rc < 0) {
        yaml_document_delete(&d->doc);
        free(d);
        goto out;
    }
    *out = d;
out:
    yaml_parser_delete(&parser);
    return rc;
}

void mqg_yaml_destroy(struct mqg_yaml_doc **doc)
{
    if (!doc || !*doc) {
        return;
    }
    yaml_document_delete(&(*doc)->doc);
    free(*doc);
    *doc = NULL;
}

const struct mqg_yaml_node *mqg_yaml_root(const struct mqg_yaml_doc *doc)
{
    return s_handle(s_get(doc, 1));
}

enum mqg_yaml_kind mqg_yaml_kind(const struct mqg_yaml_node *n)
{
    if (!n) {
        return MQG_YAML_NONE;
    }
    switch (s_node(n)->type) {
    case YAML_SCALAR_NODE:
        return MQG_YAML_SCALAR;
    case YAML_SEQUENCE_NODE:
        return MQG_YAML_SEQUENCE;
    case YAML_MAPPING_NODE:
        return MQG_YAML_MAPPING;
    default:
        return MQG_YAML_NONE;
    }
}

const char *mqg_yaml_kind_name(const struct mqg_yaml_node *n)
{
    switch (mqg_yaml_kind(n)) {
    case MQG_YAML_SCALAR:
        return "scalar";
    case MQG_YAML_SEQUENCE:
        return "sequence";
    case MQG_YAML_MAPPING:
        return "mapping";
    default:
        return "nothing";
    }
}

const char *mqg_yaml_tag(const struct mqg_yaml_node *n)
{
    return n ? (const char *)s_node(n)->tag : NULL;
}

const char *mqg_yaml_local_tag(const struct mqg_yaml_node *n)
{
    const char *tag = mqg_yaml_tag(n);
    if (!tag || tag[0] != '!' || tag[1] == '\0') {
        return NULL;
    }
    return tag;
}

const char *mqg_yaml_scalar(const struct mqg_yaml_node *n, size_t *len)
{
    if (mqg_yaml_kind(n) != MQG_YAML_SCALAR) {
        return NULL;
    }
    if (len) {
        *len = s_node(n)->data.scalar.length;
    }
    return (const char *)s_node(n)->data.scalar.value;
}

bool mqg_yaml_plain(const struct mqg_yaml_node *n)
{
    return mqg_yaml_kind(n) == MQG_YAML_SCALAR &&
           s_node(n)->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

bool mqg_yaml_is_null(const struct mqg_yaml_node *n)
{
    if (!mqg_yaml_plain(n) || mqg_yaml_local_tag(n)) {
        return false;
    }
    const char *tag = mqg_yaml_tag(n);
    if (tag && strcmp(tag, YAML_DEFAULT_SCALAR_TAG) != 0 && strcmp(tag, YAML_NULL_TAG) != 0) {
        return false;
    }
    const char *v = mqg_yaml_scalar(n, NULL);
    return v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
           strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

int mqg_yaml_line(const struct mqg_yaml_node *n)
{
    return n ? (int)s_node(n)->start_mark.line + 1 : 0;
}

int mqg_yaml_col(const struct mqg_yaml_node *n)
{
    return n ? (int)s_node(n)->start_mark.column + 1 : 0;
}

size_t mqg_yaml_map_size(const struct mqg_yaml_node *n)
{
    if (mqg_yaml_kind(n) != MQG_YAML_MAPPING) {
        return 0;
    }
    const yaml_node_t *m = s_node(n);
    return (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
}

int mqg_yaml_map_at(const struct mqg_yaml_doc *doc, const struct mqg_yaml_node *map, size_t i,
                    const struct mqg_yaml_node **key, const struct mqg_yaml_node **value)
{
    if (i >= mqg_yaml_map_size(map)) {
        return -EINVAL;
    }
    const yaml_node_pair_t *pair = &s_node(map)->data.mapping.pairs.start[i];
    if (key) {
        *key = s_handle(s_get(doc, pair->key));
    }
    if (value) {
        *value = s_handle(s_get(doc, pair->value));
    }
    return 0;
}

const struct mqg_yaml_node *mqg_yaml_map_get(const struct mqg_yaml_doc *doc,
                                             const struct mqg_yaml_node *map, const char *key,
                                             const struct mqg_yaml_node **key_node)
{
    size_t n = mqg_yaml_map_size(map);
    size_t klen = strlen(key);
    if (key_node) {
        *key_node = NULL;
    }
    for (size_t i = 0; i < n; i++) {
        const struct mqg_yaml_node *k = NULL;
        const struct mqg_yaml_node *v = NULL;
        mqg_yaml_map_at(doc, map, i, &k, &v);
        size_t len;
        const char *text = mqg_yaml_scalar(k, &len);
        if (text && len == klen && memcmp(text, key, klen) == 0) {
            if (key_node) {
                *key_node = k;
            }
            return v;
        }
    }
    return NULL;
}

size_t mqg_yaml_seq_size(const struct mqg_yaml_node *n)
{
    if (mqg_yaml_kind(n) != MQG_YAML_SEQUENCE) {
        return 0;
    }
    const yaml_node_t *s = s_node(n);
    return (size_t)(s->data.sequence.items.top - s->data.sequence.items.start);
}

const struct mqg_yaml_node *mqg_yaml_seq_at(const struct mqg_yaml_doc *doc,
                                            const struct mqg_yaml_node *seq, size_t i)
{
    if (i >= mqg_yaml_seq_size(seq)) {
        return NULL;
    }
    return s_handle(s_get(doc, s_node(seq)->data.sequence.items.start[i]));
}
