/* safetensors.c — reads and checks the table of contents of a .safetensors buffer.
 *
 * Layout: u64 little-endian header length N, N bytes of JSON, then the data section. The JSON is an
 * object whose keys are tensor names (values: {"dtype", "shape", "data_offsets"}) plus an optional
 * "__metadata__" object of strings. This is a parser for exactly that shape of JSON: every read is
 * bounds-checked, nothing is trusted, and any problem is an MG_EBADFILE naming what is wrong. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"

#define MAX_HEADER ((uint64_t)100 << 20) /* 100 MB */
#define MAX_TENSORS 100000

typedef struct {
    const char *p, *end;
} cursor;

static void skip_ws(cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++;
}

static int expect(cursor *c, char ch) {
    skip_ws(c);
    if (c->p >= c->end || *c->p != ch) return 0;
    c->p++;
    return 1;
}

static int peek(cursor *c, char ch) {
    skip_ws(c);
    return c->p < c->end && *c->p == ch;
}

static int hex4(const char *p, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char ch = p[i];
        v <<= 4;
        if (ch >= '0' && ch <= '9') v |= (unsigned)(ch - '0');
        else if (ch >= 'a' && ch <= 'f') v |= (unsigned)(ch - 'a' + 10);
        else if (ch >= 'A' && ch <= 'F') v |= (unsigned)(ch - 'A' + 10);
        else return 0;
    }
    *out = v;
    return 1;
}

/* Reads a JSON string into a new NUL-terminated buffer of at most max bytes (escapes decoded, \u to
 * UTF-8; a \u0000 is refused since names are C strings). Returns NULL on any problem. */
static char *read_string(cursor *c, size_t max) {
    if (!expect(c, '"')) return NULL;
    char *out = malloc(max + 1);
    if (!out) return NULL;
    size_t n = 0;
    while (c->p < c->end && *c->p != '"') {
        unsigned ch = (unsigned char)*c->p++;
        if (ch < 0x20) goto bad; /* control characters must be escaped */
        if (ch == '\\') {
            if (c->p >= c->end) goto bad;
            char e = *c->p++;
            switch (e) {
            case '"': case '\\': case '/': ch = (unsigned char)e; break;
            case 'b': ch = '\b'; break;
            case 'f': ch = '\f'; break;
            case 'n': ch = '\n'; break;
            case 'r': ch = '\r'; break;
            case 't': ch = '\t'; break;
            case 'u': {
                if (c->end - c->p < 4 || !hex4(c->p, &ch)) goto bad;
                c->p += 4;
                if (ch >= 0xD800 && ch <= 0xDBFF) { /* a surrogate pair */
                    unsigned lo;
                    if (c->end - c->p < 6 || c->p[0] != '\\' || c->p[1] != 'u' || !hex4(c->p + 2, &lo) ||
                        lo < 0xDC00 || lo > 0xDFFF)
                        goto bad;
                    c->p += 6;
                    ch = 0x10000 + ((ch - 0xD800) << 10) + (lo - 0xDC00);
                } else if (ch >= 0xDC00 && ch <= 0xDFFF) {
                    goto bad;
                }
                if (ch == 0) goto bad;
                unsigned char u[4];
                int len;
                if (ch < 0x80) u[0] = (unsigned char)ch, len = 1;
                else if (ch < 0x800) u[0] = 0xC0 | ch >> 6, u[1] = 0x80 | (ch & 63), len = 2;
                else if (ch < 0x10000) u[0] = 0xE0 | ch >> 12, u[1] = 0x80 | (ch >> 6 & 63), u[2] = 0x80 | (ch & 63), len = 3;
                else u[0] = 0xF0 | ch >> 18, u[1] = 0x80 | (ch >> 12 & 63), u[2] = 0x80 | (ch >> 6 & 63), u[3] = 0x80 | (ch & 63), len = 4;
                if (n + (size_t)len > max) goto bad;
                memcpy(out + n, u, (size_t)len);
                n += (size_t)len;
                continue;
            }
            default: goto bad;
            }
        }
        if (n + 1 > max) goto bad;
        out[n++] = (char)ch;
    }
    if (!expect(c, '"')) goto bad;
    out[n] = 0;
    return out;
bad:
    free(out);
    return NULL;
}

/* A non-negative integer (no sign, fraction or exponent), at most 2^53. */
static int read_uint(cursor *c, uint64_t *out) {
    skip_ws(c);
    if (c->p >= c->end || *c->p < '0' || *c->p > '9') return 0;
    if (*c->p == '0' && c->end - c->p > 1 && c->p[1] >= '0' && c->p[1] <= '9') return 0; /* leading zero */
    uint64_t v = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        v = v * 10 + (uint64_t)(*c->p++ - '0');
        if (v > ((uint64_t)1 << 53)) return 0;
    }
    if (c->p < c->end && (*c->p == '.' || *c->p == 'e' || *c->p == 'E')) return 0;
    *out = v;
    return 1;
}

static int dtype_of(const char *s, int *dtype, int *size) {
    static const struct { const char *name; int dtype, size; } k[] = {
        {"F32", MG_DT_F32, 4}, {"F16", MG_DT_F16, 2}, {"BF16", MG_DT_BF16, 2}, {"I8", MG_DT_I8, 1}, {"U8", MG_DT_U8, 1}};
    for (size_t i = 0; i < sizeof k / sizeof *k; i++)
        if (!strcmp(s, k[i].name)) return *dtype = k[i].dtype, *size = k[i].size, 1;
    return 0;
}

/* {"dtype": "F32", "shape": [..], "data_offsets": [b, e]} in any key order, each key exactly once. */
static int read_tensor(cursor *c, mg_tensor_info *t, uint64_t data_size) {
    const char *name = t->name;
    int have_dtype = 0, have_shape = 0, have_offsets = 0, elsize = 0;
    if (!expect(c, '{')) return mg_fail(MG_EBADFILE, "tensor %s: its entry is not a JSON object", name);
    if (!peek(c, '}')) {
        do {
            char *key = read_string(c, 64);
            if (!key || !expect(c, ':')) {
                free(key);
                return mg_fail(MG_EBADFILE, "tensor %s: malformed entry", name);
            }
            int st = MG_OK;
            if (!strcmp(key, "dtype") && !have_dtype) {
                char *v = read_string(c, 16);
                if (!v) st = mg_fail(MG_EBADFILE, "tensor %s: dtype is not a string", name);
                else if (!dtype_of(v, &t->dtype, &elsize))
                    st = mg_fail(MG_EBADFILE, "tensor %s: unsupported dtype %s (F32, F16, BF16, I8 and U8 are)", name, v);
                free(v);
                have_dtype = 1;
            } else if (!strcmp(key, "shape") && !have_shape) {
                if (!expect(c, '[')) st = mg_fail(MG_EBADFILE, "tensor %s: shape is not a list", name);
                else if (!expect(c, ']')) {
                    do {
                        if (t->ndim == MG_MAX_DIMS) {
                            st = mg_fail(MG_EBADFILE, "tensor %s: more than %d dimensions", name, MG_MAX_DIMS);
                            break;
                        }
                        if (!read_uint(c, &t->shape[t->ndim++])) {
                            st = mg_fail(MG_EBADFILE, "tensor %s: shape holds something other than non-negative integers", name);
                            break;
                        }
                    } while (expect(c, ','));
                    if (!st && !expect(c, ']')) st = mg_fail(MG_EBADFILE, "tensor %s: malformed shape", name);
                }
                have_shape = 1;
            } else if (!strcmp(key, "data_offsets") && !have_offsets) {
                if (!expect(c, '[') || !read_uint(c, &t->begin) || !expect(c, ',') || !read_uint(c, &t->end) ||
                    !expect(c, ']'))
                    st = mg_fail(MG_EBADFILE, "tensor %s: data_offsets is not a list of two non-negative integers", name);
                have_offsets = 1;
            } else {
                st = mg_fail(MG_EBADFILE, "tensor %s: unexpected or repeated key \"%s\"", name, key);
            }
            free(key);
            if (st) return st;
        } while (expect(c, ','));
    }
    if (!expect(c, '}')) return mg_fail(MG_EBADFILE, "tensor %s: malformed entry", name);
    if (!have_dtype || !have_shape || !have_offsets)
        return mg_fail(MG_EBADFILE, "tensor %s: missing %s", name, !have_dtype ? "dtype" : !have_shape ? "shape" : "data_offsets");

    /* the byte size the shape implies, without overflow */
    uint64_t bytes = (uint64_t)elsize;
    for (int i = 0; i < t->ndim; i++) {
        if (t->shape[i] != 0 && bytes > (UINT64_MAX >> 1) / t->shape[i])
            return mg_fail(MG_EBADFILE, "tensor %s: shape overflows", name);
        bytes *= t->shape[i];
    }
    if (t->begin > t->end || t->end > data_size)
        return mg_fail(MG_EBADFILE, "tensor %s: data_offsets [%llu, %llu] outside the %llu bytes of data", name,
                       (unsigned long long)t->begin, (unsigned long long)t->end, (unsigned long long)data_size);
    if (t->end - t->begin != bytes)
        return mg_fail(MG_EBADFILE, "tensor %s: data_offsets span %llu bytes but its shape needs %llu", name,
                       (unsigned long long)(t->end - t->begin), (unsigned long long)bytes);
    return MG_OK;
}

static int read_metadata(cursor *c, mg_safetensors *st) {
    if (!expect(c, '{')) return mg_fail(MG_EBADFILE, "__metadata__ is not a JSON object");
    if (expect(c, '}')) return MG_OK;
    do {
        if (st->n_meta == 1024) return mg_fail(MG_EBADFILE, "__metadata__ has more than 1024 entries");
        mg_meta *m = &st->meta[st->n_meta];
        m->key = read_string(c, 256);
        st->n_meta++; /* from here the entry is freed with the table, whatever fails */
        if (!m->key || !expect(c, ':')) return mg_fail(MG_EBADFILE, "__metadata__: malformed key");
        m->value = read_string(c, 1 << 16);
        if (!m->value) return mg_fail(MG_EBADFILE, "__metadata__ \"%s\": the value is not a string (of at most 64 KB)", m->key);
        for (int i = 0; i < st->n_meta - 1; i++)
            if (st->meta[i].key && !strcmp(st->meta[i].key, m->key)) return mg_fail(MG_EBADFILE, "__metadata__ \"%s\" appears twice", m->key);
    } while (expect(c, ','));
    if (!expect(c, '}')) return mg_fail(MG_EBADFILE, "__metadata__: malformed object");
    return MG_OK;
}

static int by_name(const void *a, const void *b) {
    return strcmp(((const mg_tensor_info *)a)->name, ((const mg_tensor_info *)b)->name);
}

static int by_begin(const void *a, const void *b) {
    const mg_tensor_info *x = *(const mg_tensor_info *const *)a, *y = *(const mg_tensor_info *const *)b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : (x->end > y->end) - (x->end < y->end);
}

static int parse_header(cursor *c, mg_safetensors *st, size_t max_tensors) {
    if (!expect(c, '{')) return mg_fail(MG_EBADFILE, "the header is not a JSON object");
    int seen_meta = 0;
    if (!peek(c, '}')) {
        do {
            char *name = read_string(c, MG_MAX_NAME);
            if (!name) return mg_fail(MG_EBADFILE, "the header holds a malformed name (or one over %d bytes)", MG_MAX_NAME);
            if (!expect(c, ':')) {
                int st2 = mg_fail(MG_EBADFILE, "the header is malformed after \"%.64s\"", name);
                free(name);
                return st2;
            }
            if (!strcmp(name, "__metadata__")) {
                free(name);
                if (seen_meta++) return mg_fail(MG_EBADFILE, "__metadata__ appears twice");
                int s = read_metadata(c, st);
                if (s) return s;
                continue;
            }
            if ((size_t)st->n_tensors == max_tensors) {
                free(name);
                return mg_fail(MG_EBADFILE, "the header lists more tensors than it has room for");
            }
            mg_tensor_info *t = &st->tensors[st->n_tensors++];
            memset(t, 0, sizeof *t);
            t->name = name;
            int s = read_tensor(c, t, st->data_size);
            if (s) return s;
        } while (expect(c, ','));
    }
    if (!expect(c, '}')) return mg_fail(MG_EBADFILE, "the header's JSON object is malformed or not closed");
    skip_ws(c);
    if (c->p != c->end) return mg_fail(MG_EBADFILE, "the header has bytes after its JSON object");
    return MG_OK;
}

/* Names unique; byte ranges of non-empty tensors disjoint. */
static int check_layout(mg_safetensors *st) {
    qsort(st->tensors, (size_t)st->n_tensors, sizeof *st->tensors, by_name);
    for (int i = 1; i < st->n_tensors; i++)
        if (!strcmp(st->tensors[i - 1].name, st->tensors[i].name))
            return mg_fail(MG_EBADFILE, "tensor %s appears twice", st->tensors[i].name);
    mg_tensor_info **order = malloc(sizeof *order * (size_t)(st->n_tensors + 1));
    if (!order) return mg_fail(MG_ENOMEM, "out of memory checking tensor offsets");
    int n = 0;
    for (int i = 0; i < st->n_tensors; i++)
        if (st->tensors[i].end > st->tensors[i].begin) order[n++] = &st->tensors[i];
    qsort(order, (size_t)n, sizeof *order, by_begin);
    int status = MG_OK;
    for (int i = 1; i < n && !status; i++)
        if (order[i]->begin < order[i - 1]->end)
            status = mg_fail(MG_EBADFILE, "tensors %s and %s overlap in the data", order[i - 1]->name, order[i]->name);
    free(order);
    return status;
}

/* Files of other formats that get passed as models, known by their first bytes (after any whitespace). */
#define PICKLE "a Python pickle, such as an older PyTorch checkpoint (.pt, .pth): convert a checkpoint with tools/convert.py"
static const struct {
    const char *magic;
    size_t len;
    const char *what;
} foreign_formats[] = {
    {"PK\3\4", 4, "a zip archive, such as a PyTorch checkpoint (.pt, .pth): convert a checkpoint with tools/convert.py"},
    {"\x80\x02", 2, PICKLE}, {"\x80\x03", 2, PICKLE}, {"\x80\x04", 2, PICKLE}, {"\x80\x05", 2, PICKLE},
    {"GGUF", 4, "a GGUF model (llama.cpp's format), which mingru cannot read"},
    {"version https://git-lfs", 23, "a Git LFS pointer, not the model itself: fetch the file with git lfs pull"},
    {"<", 1, "an HTML or XML page (a wrong URL, or a server's error page?)"},
    {"{", 1, "a JSON file (a config.json, or a server's error message?)"},
};

/* ONNX is protobuf (a ModelProto) without a magic number. Exporters write field 1, ir_version, first: the
 * key byte 0x08, the version (one byte so far), then the key of the next field: producer_name (0x12),
 * producer_version, domain, model_version, doc_string, graph or opset_import (0x42). */
static int looks_like_onnx(const uint8_t *b, size_t size) {
    static const uint8_t next_keys[] = {0x12, 0x1a, 0x22, 0x28, 0x32, 0x3a, 0x42};
    return size >= 3 && b[0] == 0x08 && b[1] >= 1 && b[1] < 0x80 && memchr(next_keys, b[2], sizeof next_keys);
}

/* Whether the first KB of `b` is text: UTF-8 without control characters other than tab, line feed, form feed and
 * carriage return (a character cut by the KB's end counts). A safetensors file starts with its header's length,
 * whose high bytes are zeros: never text. */
static int is_text(const uint8_t *b, size_t size) {
    size_t n = size < 1024 ? size : 1024, i = 0;
    while (i < n) {
        uint8_t c = b[i];
        size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 && c >= 0xc2 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 && c <= 0xf4 ? 4 : 0;
        if (!len || (c < 0x20 && c != '\t' && c != '\n' && c != '\f' && c != '\r') || c == 0x7f) return 0;
        for (size_t k = 1; k < len && i + k < n; k++)
            if ((b[i + k] & 0xc0) != 0x80) return 0;
        i += len;
    }
    return 1;
}

/* What a file that is not safetensors looks like, or NULL if it looks like nothing known. */
static const char *foreign_format(const uint8_t *buf, size_t size) {
    if (looks_like_onnx(buf, size)) return "an ONNX model, which mingru cannot read";
    size_t at = 0;
    while (at < size && (buf[at] == ' ' || buf[at] == '\t' || buf[at] == '\n' || buf[at] == '\r')) at++;
    for (size_t i = 0; i < sizeof foreign_formats / sizeof *foreign_formats; i++)
        if (size - at >= foreign_formats[i].len && !memcmp(buf + at, foreign_formats[i].magic, foreign_formats[i].len))
            return foreign_formats[i].what;
    return NULL;
}

/* The error for a text file given as a model: what it is, its first line (up to 40 bytes, not cut inside a
 * character), and what a model is. */
static int text_file(const uint8_t *buf, size_t size) {
    size_t len = 0;
    while (len < size && len < 40 && buf[len] != '\n' && buf[len] != '\r') len++;
    while (len > 0 && len < size && (buf[len] & 0xc0) == 0x80) len--;
    return mg_fail(MG_EBADFILE,
                   "the file is text (it begins \"%.*s%s\"), not a model: a model is a .safetensors file, as "
                   "tools/convert.py and the engine's save write them",
                   (int)len, (const char *)buf, len < size && buf[len] != '\n' && buf[len] != '\r' ? "..." : "");
}

int mg_safetensors_parse(const uint8_t *buf, size_t size, mg_safetensors *st) {
    memset(st, 0, sizeof *st);
    if (buf && size > 0 && size < 8 && is_text(buf, size)) return text_file(buf, size);
    if (!buf || size < 8) return mg_fail(MG_EBADFILE, "the file is %zu bytes: too short for a safetensors header", buf ? size : 0);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | buf[i];
    /* A length over the limit, or a header that is not JSON, is the first sign of a file of another format.
     * (A length that runs past the end is a truncated safetensors file.) */
    int fits = n >= 2 && n <= size - 8;
    cursor c = {(const char *)buf + 8, (const char *)buf + 8 + (fits ? n : 0)};
    if (n > MAX_HEADER || (fits && !peek(&c, '{'))) {
        const char *what = foreign_format(buf, size);
        if (what) return mg_fail(MG_EBADFILE, "the file is not a safetensors model: it looks like %s", what);
        if (is_text(buf, size)) return text_file(buf, size);
    }
    if (n > MAX_HEADER) return mg_fail(MG_EBADFILE, "the header length %llu is over the 100 MB limit", (unsigned long long)n);
    if (!fits)
        return mg_fail(MG_EBADFILE, "the header length %llu does not fit in the %zu-byte file", (unsigned long long)n, size);
    st->data = buf + 8 + n;
    st->data_size = size - 8 - n;

    /* every tensor entry takes at least ~40 bytes of JSON: bound the table by the header's size */
    size_t max_tensors = (size_t)n / 40 + 1;
    if (max_tensors > MAX_TENSORS) max_tensors = MAX_TENSORS;
    st->tensors = calloc(max_tensors, sizeof *st->tensors);
    st->meta = calloc(1024, sizeof *st->meta);
    if (!st->tensors || !st->meta) {
        mg_safetensors_free(st);
        return mg_fail(MG_ENOMEM, "out of memory reading the header");
    }
    int status = parse_header(&c, st, max_tensors);
    if (!status) status = check_layout(st);
    if (status) mg_safetensors_free(st);
    return status;
}

void mg_safetensors_free(mg_safetensors *st) {
    for (int i = 0; i < st->n_tensors; i++) free(st->tensors[i].name);
    for (int i = 0; i < st->n_meta; i++) free(st->meta[i].key), free(st->meta[i].value);
    free(st->tensors);
    free(st->meta);
    memset(st, 0, sizeof *st);
}

mg_tensor_info *mg_safetensors_find(const mg_safetensors *st, const char *name) {
    mg_tensor_info key = {0};
    key.name = (char *)name;
    return bsearch(&key, st->tensors, (size_t)st->n_tensors, sizeof *st->tensors, by_name);
}

/* ---- the writer */

typedef struct {
    char *p;
    size_t n, cap;
    int failed;
} text;

static void put(text *t, const char *s, size_t len) {
    if (t->failed) return;
    if (t->n + len + 1 > t->cap) {
        size_t cap = (t->n + len + 1) * 2;
        char *p = realloc(t->p, cap);
        if (!p) {
            t->failed = 1;
            return;
        }
        t->p = p, t->cap = cap;
    }
    memcpy(t->p + t->n, s, len);
    t->n += len;
}

static void putf(text *t, const char *fmt, unsigned long long a, unsigned long long b) {
    char buf[64];
    int len = snprintf(buf, sizeof buf, fmt, a, b);
    put(t, buf, (size_t)len);
}

/* A JSON string as Python's json.dumps writes it (ensure_ascii): printable ASCII as is but for " and \, the
 * rest escaped, code points above U+FFFF as surrogate pairs; a byte that is not UTF-8 as U+FFFD. */
static void put_string(text *t, const char *s) {
    put(t, "\"", 1);
    const unsigned char *u = (const unsigned char *)s;
    while (*u) {
        unsigned cp = *u, len = cp < 0x80 ? 1 : (cp >> 5) == 6 ? 2 : (cp >> 4) == 14 ? 3 : (cp >> 3) == 30 ? 4 : 0;
        if (len > 1) {
            cp &= 0x7F >> len;
            for (unsigned i = 1; i < len; i++) {
                if ((u[i] & 0xC0) != 0x80) len = 0;
                if (!len) break;
                cp = cp << 6 | (u[i] & 0x3F);
            }
        }
        if (!len) cp = 0xFFFD, len = 1;
        u += len;
        const char *esc = cp == '"' ? "\\\"" : cp == '\\' ? "\\\\" : cp == '\n' ? "\\n" : cp == '\r' ? "\\r"
                        : cp == '\t' ? "\\t" : cp == '\b' ? "\\b" : cp == '\f' ? "\\f" : NULL;
        if (esc) {
            put(t, esc, 2);
        } else if (cp >= 0x20 && cp < 0x7F) {
            char ch = (char)cp;
            put(t, &ch, 1);
        } else if (cp > 0xFFFF) {
            cp -= 0x10000;
            putf(t, "\\u%04llx\\u%04llx", 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF));
        } else {
            putf(t, "\\u%04llx", cp, 0);
        }
    }
    put(t, "\"", 1);
}

int mg_safetensors_write(const mg_meta *meta, int n_meta, const mg_tensor_out *tensors, int n, uint8_t **out,
                         size_t *size) {
    static const char *names[] = {"F32", "F16", "BF16", "I8", "U8"};
    static const int order[] = {MG_DT_F32, MG_DT_F16, MG_DT_I8, MG_DT_U8};
    const int n_order = (int)(sizeof order / sizeof *order);
    text h = {0};
    put(&h, "{\"__metadata__\":{", 17);
    for (int i = 0; i < n_meta; i++) {
        if (i) put(&h, ",", 1);
        put_string(&h, meta[i].key);
        put(&h, ":", 1);
        put_string(&h, meta[i].value);
    }
    put(&h, "}", 1);
    size_t offset = 0;
    for (int o = 0; o < n_order; o++)
        for (int i = 0; i < n; i++) {
            const mg_tensor_out *t = &tensors[i];
            if (t->dtype != order[o]) continue;
            put(&h, ",", 1);
            put_string(&h, t->name);
            put(&h, ":{\"dtype\":\"", 11);
            put(&h, names[t->dtype], strlen(names[t->dtype]));
            put(&h, "\",\"shape\":[", 11);
            for (int d = 0; d < t->ndim; d++) putf(&h, d ? ",%llu" : "%llu", t->shape[d], 0);
            putf(&h, "],\"data_offsets\":[%llu,%llu]}", offset, offset + t->bytes);
            offset += t->bytes;
        }
    put(&h, "}", 1);
    while (!h.failed && (8 + h.n) % 64) put(&h, " ", 1);
    uint8_t *buf = h.failed ? NULL : malloc(8 + h.n + offset);
    if (!buf) {
        free(h.p);
        return mg_fail(MG_ENOMEM, "out of memory writing a %zu MB model file", (8 + h.n + offset) >> 20);
    }
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)((uint64_t)h.n >> (8 * i));
    memcpy(buf + 8, h.p, h.n);
    uint8_t *at = buf + 8 + h.n;
    for (int o = 0; o < n_order; o++)
        for (int i = 0; i < n; i++)
            if (tensors[i].dtype == order[o]) memcpy(at, tensors[i].data, tensors[i].bytes), at += tensors[i].bytes;
    free(h.p);
    *out = buf, *size = 8 + h.n + offset;
    return MG_OK;
}
