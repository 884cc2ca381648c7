/* Bytes for the express lane: JSON as orjson writes it, BLAKE2b, event ids, items. See _express.c. */
#include "_express.h"

/* -- JSON as orjson writes it -------------------------------------------------------------------- */

int put(Buf *b, const char *s, Py_ssize_t n) {
    if (buf_grow(b, n) < 0)
        return -1;
    memcpy(b->p + b->n, s, n);
    b->n += n;
    return 0;
}


/* A JSON string: '"' and '\' escaped, control characters as \b \t \n \f \r or \u00xx, everything
 * else (DEL and non-ASCII UTF-8 too) as it is. */
int put_str(Buf *b, const char *s, Py_ssize_t n) {
    static const char hex[] = "0123456789abcdef";
    if (buf_grow(b, 6 * n + 2) < 0)
        return -1;
    char *o = b->p + b->n;
    *o++ = '"';
    for (Py_ssize_t i = 0; i < n; i++) {
        /* Eight bytes at a time while none of them needs escaping (no byte < 0x20, '"' or '\\'). */
        while (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
            uint64_t quote = w ^ (ones * '"'), slash = w ^ (ones * '\\');
            if (((w - ones * 0x20) | (quote - ones) | (slash - ones)) & ~w & highs)
                break;
            memcpy(o, &w, 8);
            o += 8;
            i += 8;
        }
        if (i >= n)
            break;
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            *o++ = (char)c;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\b': *o++ = 'b'; break;
        case '\t': *o++ = 't'; break;
        case '\n': *o++ = 'n'; break;
        case '\f': *o++ = 'f'; break;
        case '\r': *o++ = 'r'; break;
        default:
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o++ = '"';
    b->n = o - b->p;
    return 0;
}

int put_uint(Buf *b, unsigned long long v) {
    char tmp[24];
    int n = 0;
    do {
        tmp[sizeof tmp - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return put(b, tmp + sizeof tmp - n, n);
}

/* The sendmail.* fields as a JSON member (after a comma if `comma`); nothing without fields. */
int put_fields(Buf *b, const Fields *fields, int comma) {
    if (!fields->mail || fields->n == 0)
        return 0;
    if ((comma && PUT_LIT(b, ",") < 0) || PUT_LIT(b, "\"sendmail\":{") < 0)
        return -1;
    for (int f = 0; f < fields->n; f++)
        if ((f > 0 && PUT_LIT(b, ",") < 0) || put_str(b, fields->key[f].p, fields->key[f].n) < 0 || PUT_LIT(b, ":") < 0 ||
            put_str(b, fields->value[f].p, fields->value[f].n) < 0)
            return -1;
    return PUT_LIT(b, "}");
}

/* -- BLAKE2b, unkeyed, 16-byte digest ------------------------------------------------------ */

static const uint64_t B2_IV[8] = {
    0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
    0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL, 0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL,
};
static const uint8_t B2_SIGMA[12][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4}, {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13}, {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11}, {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5}, {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
};

#define ROTR64(x, n) (((x) >> (n)) | ((x) << (64 - (n))))
#define B2_G(a, b, c, d, x, y)               \
    do {                                     \
        v[a] = v[a] + v[b] + (x);            \
        v[d] = ROTR64(v[d] ^ v[a], 32);      \
        v[c] = v[c] + v[d];                  \
        v[b] = ROTR64(v[b] ^ v[c], 24);      \
        v[a] = v[a] + v[b] + (y);            \
        v[d] = ROTR64(v[d] ^ v[a], 16);      \
        v[c] = v[c] + v[d];                  \
        v[b] = ROTR64(v[b] ^ v[c], 63);      \
    } while (0)

static void b2_compress(B2 *s, int last) {
    uint64_t v[16], m[16];
    for (int i = 0; i < 8; i++) {
        v[i] = s->h[i];
        v[i + 8] = B2_IV[i];
    }
    v[12] ^= s->t;
    if (last)
        v[14] = ~v[14];
    for (int i = 0; i < 16; i++) {
        const uint8_t *p = s->b + 8 * i;
        m[i] = (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
               (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
    }
    /* Unrolled, the message words' indices are constants: a fifth less time per block. */
#pragma GCC unroll 12
    for (int r = 0; r < 12; r++) {
        const uint8_t *z = B2_SIGMA[r];
        B2_G(0, 4, 8, 12, m[z[0]], m[z[1]]);
        B2_G(1, 5, 9, 13, m[z[2]], m[z[3]]);
        B2_G(2, 6, 10, 14, m[z[4]], m[z[5]]);
        B2_G(3, 7, 11, 15, m[z[6]], m[z[7]]);
        B2_G(0, 5, 10, 15, m[z[8]], m[z[9]]);
        B2_G(1, 6, 11, 12, m[z[10]], m[z[11]]);
        B2_G(2, 7, 8, 13, m[z[12]], m[z[13]]);
        B2_G(3, 4, 9, 14, m[z[14]], m[z[15]]);
    }
    for (int i = 0; i < 8; i++)
        s->h[i] ^= v[i] ^ v[i + 8];
}

void b2_init(B2 *s) {
    memcpy(s->h, B2_IV, sizeof s->h);
    s->h[0] ^= 0x01010000ULL ^ 16; /* depth 1, fanout 1, no key, 16-byte digest */
    s->t = 0;
    s->c = 0;
}

void b2_update(B2 *s, const char *data, size_t n) {
    while (n > 0) {
        if (s->c == 128) { /* full, and more follows: this block is not the last */
            s->t += 128;
            b2_compress(s, 0);
            s->c = 0;
        }
        size_t take = 128 - s->c < n ? 128 - s->c : n;
        memcpy(s->b + s->c, data, take);
        s->c += take;
        data += take;
        n -= take;
    }
}

/* The digest as 32 lowercase hex digits (`hexdigest`). */
void b2_final_hex(B2 *s, char out[32]) {
    static const char hex[] = "0123456789abcdef";
    s->t += s->c;
    memset(s->b + s->c, 0, 128 - s->c);
    b2_compress(s, 1);
    for (int i = 0; i < 16; i++) {
        uint8_t byte = (uint8_t)(s->h[i / 8] >> (8 * (i % 8)));
        out[2 * i] = hex[byte >> 4];
        out[2 * i + 1] = hex[byte & 15];
    }
}

/* -- ids and items ------------------------------------------------------------------------------ */

/* Decimal digits of v at the end of out[24]; the first digit. */
char *digits_of(unsigned long long v, char out[24]) {
    char *p = out + 24;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return p;
}

static void hash_key(B2 *st, const Key *k) {
    b2_init(st);
    b2_update(st, k->host.p, k->host.n);
    b2_update(st, "\x1f", 1);
    b2_update(st, k->second, 19);
    b2_update(st, "\x1f", 1);
    b2_update(st, k->tag.p, k->tag.n);
    b2_update(st, "\x1f", 1);
    b2_update(st, k->pid.p, k->pid.n);
    b2_update(st, "\x1f", 1);
    b2_update(st, k->msg.p, k->msg.n);
    if (k->container.n >= 0) {
        b2_update(st, "\x1f", 1);
        b2_update(st, k->container.p, k->container.n);
    }
}

/* The event id (`IdAssigner.assign`): the key's digest, counted in `seen` (digest -> occurrences
 * within the second); an n-th occurrence hashes the key + "\x1f" + n instead. */
int event_id(PyObject *seen, const Key *key, char id[32]) {
    B2 st, again;
    hash_key(&st, key);
    again = st;
    b2_final_hex(&st, id);
    PyObject *first = PyUnicode_FromStringAndSize(id, 32);
    if (first == NULL)
        return -1;
    PyObject *count = PyDict_GetItemWithError(seen, first); /* borrowed */
    long long n = 0;
    if (count == NULL && PyErr_Occurred())
        goto error;
    if (count != NULL && (n = PyLong_AsLongLong(count)) == -1 && PyErr_Occurred())
        goto error;
    PyObject *next = PyLong_FromLongLong(n + 1);
    if (next == NULL || PyDict_SetItem(seen, first, next) < 0) {
        Py_XDECREF(next);
        goto error;
    }
    Py_DECREF(next);
    Py_DECREF(first);
    if (n > 0) {
        char digits[24];
        int len = snprintf(digits, sizeof digits, "\x1f%lld", n);
        b2_update(&again, digits, len);
        b2_final_hex(&again, id);
    }
    return 0;
error:
    Py_DECREF(first);
    return -1;
}

/* The local store's row (`shipper.sinks.rows._row`) of ``row``, the document's JSON without its
 * message being ``body`` with ``row->message`` cut out (written into ``row->rest``). */
static PyObject *store_row(const Row *row, const Buf *body) {
    Buf *rest = row->rest;
    rest->n = 0;
    if (PUT_LIT(rest, "{") < 0 || put(rest, body->p, row->message[0]) < 0 ||
        put(rest, body->p + row->message[1], body->n - row->message[1]) < 0)
        return NULL;
    Text host = row->host.n > 0 ? row->host : (Text){"", 0}; /* ("s#" would give None for a NULL pointer) */
    Text process = row->process.n > 0 ? row->process : (Text){"", 0};
    return Py_BuildValue("(s#s#s#s#s#s#)", row->id.p, row->id.n, row->ts.p, row->ts.n, host.p, host.n, process.p,
                         process.n, row->msg.p, row->msg.n, rest->p, rest->n);
}

/* One item per form, appended to that form's list: [head id] mid body "\n" (`id`: a JSON string),
 * or for a ROW form the store's row (`store_row`). */
int add_items(int forms, const Text *heads, const Text *mids, PyObject *outs, const Buf *body, Text id, const Row *row) {
    for (int f = 0; f < forms; f++) {
        Text head = heads[f], mid = mids[f];
        if (head.n == ROW) {
            PyObject *item = store_row(row, body);
            int r = item == NULL ? -1 : PyList_Append(PyList_GET_ITEM(outs, f), item);
            Py_XDECREF(item);
            if (r < 0)
                return -1;
            continue;
        }
        Py_ssize_t size = (head.n >= 0 ? head.n + id.n : 0) + mid.n + body->n + 1;
        PyObject *item = PyBytes_FromStringAndSize(NULL, size);
        if (item == NULL)
            return -1;
        char *o = PyBytes_AS_STRING(item);
        if (head.n >= 0) {
            memcpy(o, head.p, head.n);
            o += head.n;
            memcpy(o, id.p, id.n);
            o += id.n;
        }
        memcpy(o, mid.p, mid.n);
        o += mid.n;
        memcpy(o, body->p, body->n);
        o[body->n] = '\n';
        int r = PyList_Append(PyList_GET_ITEM(outs, f), item);
        Py_DECREF(item);
        if (r < 0)
            return -1;
    }
    return 0;
}

/* `IdAssigner.live()` into ``ids``; None when the documents carry their ids (``ids->seen`` stays NULL). */
int ids_open(Ids *ids, PyObject *live) {
    *ids = (Ids){0};
    if (live == Py_None)
        return 0;
    PyObject *second, *seen, *seconds, *first;
    if (!PyTuple_Check(live) ||
        !PyArg_ParseTuple(live, "UO!O!nO", &second, &PyDict_Type, &seen, &PyDict_Type, &seconds, &ids->keep, &first))
        return -1;
    if (first != Py_None && !PyDict_Check(first)) {
        PyErr_SetString(PyExc_TypeError, "ids: IdAssigner.live()");
        return -1;
    }
    ids->second = Py_NewRef(second);
    ids->seen = Py_NewRef(seen);
    ids->seconds = seconds; /* borrowed: the caller's tuple holds them */
    ids->first = first == Py_None ? NULL : first;
    return 0;
}

/* For `IdAssigner.moved_to`: (second, seen); the references are handed over. */
PyObject *ids_close(Ids *ids) {
    if (ids->seen == NULL)
        return Py_NewRef(Py_None);
    PyObject *out = Py_BuildValue("NN", ids->second, ids->seen);
    *ids = (Ids){0};
    return out;
}

void ids_clear(Ids *ids) {
    Py_CLEAR(ids->second);
    Py_CLEAR(ids->seen);
}

/* Counts for a second not counted yet: when as many are counted as are kept, the least recently
 * seen is forgotten, and its counts are cleared for the new one where nothing else holds them
 * (a new dict for each second costs about 8% of a replay of the bench's log, 1.5 lines a second:
 * in its allocation and in the garbage collections it brings). */
static PyObject *fresh_counts(Ids *ids) {
    if (PyDict_GET_SIZE(ids->seconds) < ids->keep)
        return PyDict_New();
    PyObject *oldest, *counts;
    Py_ssize_t pos = 0;
    PyDict_Next(ids->seconds, &pos, &oldest, &counts);
    Py_INCREF(counts);
    if (PyDict_DelItem(ids->seconds, oldest) < 0) {
        Py_DECREF(counts);
        return NULL;
    }
    if (Py_REFCNT(counts) == 1 && counts != ids->seen) {
        PyDict_Clear(counts);
        return counts;
    }
    Py_DECREF(counts);
    return PyDict_New();
}

/* `IdAssigner._turn`: an event of the second ts[:19], now the most recently seen; its counts
 * become ``ids->seen``. */
int next_second(Ids *ids, const char *ts) {
    PyObject *cur = ids->second;
    if (PyUnicode_IS_ASCII(cur) && PyUnicode_GET_LENGTH(cur) == 19 && memcmp(PyUnicode_DATA(cur), ts, 19) == 0)
        return 0;
    PyObject *second = PyUnicode_FromStringAndSize(ts, 19);
    if (second == NULL)
        return -1;
    PyObject *counts = PyDict_GetItemWithError(ids->seconds, second); /* borrowed */
    if (counts != NULL) {
        Py_INCREF(counts);
        if (PyDict_DelItem(ids->seconds, second) < 0) /* to be put back last */
            goto error;
    } else if (PyErr_Occurred() || (counts = fresh_counts(ids)) == NULL ||
               (ids->first != NULL && PyDict_GET_SIZE(ids->first) < ids->keep &&
                PyDict_SetItem(ids->first, second, counts) < 0))
        goto error;
    if (PyDict_SetItem(ids->seconds, second, counts) < 0)
        goto error;
    Py_SETREF(ids->second, second);
    Py_SETREF(ids->seen, counts);
    return 0;
error:
    Py_DECREF(second);
    Py_XDECREF(counts);
    return -1;
}
