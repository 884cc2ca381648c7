/* The express lane of a syslog replay worker: common RFC 3164 lines -> bulk items, in one pass.
 *
 * The Python stages are the specification: `SyslogParser`'s hot path (shipper/parse/syslog.py),
 * `IdAssigner.assign` and `content_key` (shipper/event.py), `Recognise.enrich` with
 * `sendmail.parse_line` (shipper/enrich/), and the encoders (`bulk.Encoder`, `ndjson.encode_lines`).
 * `Plan.run` does what they do for a line that needs none of their rarer branches, and writes the
 * items without building the document. It takes a line only when all of this holds (`examine`):
 *   - the next line exists and cannot continue it (it starts with none of tab, space, '-', U+2591);
 *   - the line has no per-item tags, and is valid UTF-8 (no lone surrogates);
 *   - "Mmm dd HH:MM:SS host tag[pid]: message" as the hot path reads it: ASCII up to the host, the
 *     minute found in the parser's cache (`BsdStamps.minutes`), seconds 00-59, the host not ending
 *     in ':', an ASCII tag of 1-48 characters, a pid of 1-10 digits;
 *   - no recognition gate is in the message, nor a prefilter of its process (`Matcher.gates`,
 *     `.proc_filters`): the line is not recognised;
 *   - for a sendmail ident: no "starting daemon (" and no non-ASCII queue id (`parse_line`'s
 *     rarer branches).
 * Anything else is left to the Python stages (shipper/parallel/express.py takes turns with them).
 * The plan's data (gates, prefilters, sendmail idents and keys, the encoders' constant bytes) comes
 * from the Python objects, not from here. tests/unit/test_express.py compares both paths.
 *
 * The id is BLAKE2b-128 (RFC 7693), implemented below: hashlib's is reachable only through Python
 * calls, which would cost more than the rest of a line.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

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

typedef struct {
    uint64_t h[8];
    uint64_t t;     /* bytes compressed so far (the key texts stay far below 2^64) */
    uint8_t b[128]; /* the block being filled */
    size_t c;       /* bytes in b */
} B2;

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

static void b2_init(B2 *s) {
    memcpy(s->h, B2_IV, sizeof s->h);
    s->h[0] ^= 0x01010000ULL ^ 16; /* depth 1, fanout 1, no key, 16-byte digest */
    s->t = 0;
    s->c = 0;
}

static void b2_update(B2 *s, const char *data, size_t n) {
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
static void b2_final_hex(B2 *s, char out[32]) {
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

/* -- a growing byte buffer, and JSON as orjson writes it ---------------------------------------- */

typedef struct {
    char *p;
    Py_ssize_t n, cap;
} Buf;

static int buf_grow(Buf *b, Py_ssize_t more) {
    if (b->n + more <= b->cap)
        return 0;
    Py_ssize_t cap = b->cap ? b->cap : 1024;
    while (cap < b->n + more)
        cap *= 2;
    char *p = PyMem_Realloc(b->p, cap);
    if (p == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

static int put(Buf *b, const char *s, Py_ssize_t n) {
    if (buf_grow(b, n) < 0)
        return -1;
    memcpy(b->p + b->n, s, n);
    b->n += n;
    return 0;
}

#define PUT_LIT(b, lit) put((b), (lit), (Py_ssize_t)sizeof(lit) - 1)

/* A JSON string: '"' and '\' escaped, control characters as \b \t \n \f \r or \u00xx, everything
 * else (DEL and non-ASCII UTF-8 too) as it is. */
static int put_str(Buf *b, const char *s, Py_ssize_t n) {
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

static int put_uint(Buf *b, unsigned long long v) {
    char tmp[24];
    int n = 0;
    do {
        tmp[sizeof tmp - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return put(b, tmp + sizeof tmp - n, n);
}

/* -- the plan: what the Python objects say, as C arrays ----------------------------------------- */

typedef struct {
    const char *p;
    Py_ssize_t n;
} Text;

#define MAX_GATES 64
#define MAX_FILTERS 8
#define MAX_FILTER_TEXTS 64
#define MAX_NAMES 16
#define MAX_KEYS 16
#define MAX_FORMS 4

typedef struct {
    PyObject_HEAD
    PyObject *keep; /* the plan's arguments: they own the bytes the arrays point into */
    Text gates[MAX_GATES];
    int n_gates;
    uint8_t gate_pairs[8192]; /* the first two bytes of each gate, as a set (all gates >= 2 bytes) */
    int by_pairs;
    Text filter_names[MAX_FILTERS];
    Text filter_texts[MAX_FILTERS][MAX_FILTER_TEXTS];
    int n_filter_texts[MAX_FILTERS];
    int n_filters;
    Text mail_names[MAX_NAMES];
    int n_mail_names;
    Text mail_keys[MAX_KEYS];
    int n_mail_keys;
    Text form_head[MAX_FORMS]; /* before the id (n = -1: the form has no id) */
    Text form_mid[MAX_FORMS];  /* after the id, up to the document's first key */
    int n_forms;
    Text log_head; /* '"log":{"file":{"path":...},"offset":' or '"log":{"offset":' */
} Plan;

static int take_texts(PyObject *seq, Text *out, int max, int *count, const char *what) {
    PyObject *fast = PySequence_Fast(seq, what);
    if (fast == NULL)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    if (n > max) {
        Py_DECREF(fast);
        PyErr_Format(PyExc_ValueError, "%s: at most %d", what, max);
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(fast, i);
        if (!PyBytes_Check(item)) {
            Py_DECREF(fast);
            PyErr_Format(PyExc_TypeError, "%s: bytes expected", what);
            return -1;
        }
        out[i].p = PyBytes_AS_STRING(item);
        out[i].n = PyBytes_GET_SIZE(item);
    }
    *count = (int)n;
    Py_DECREF(fast); /* the items stay alive: `keep` holds the sequence */
    return 0;
}

static int plan_init(Plan *self, PyObject *args, PyObject *kwds) {
    PyObject *gates, *filters, *mail_names, *mail_keys, *forms, *log_head;
    if (!PyArg_ParseTuple(args, "O!O!O!O!O!O!:Plan", &PyTuple_Type, &gates, &PyTuple_Type, &filters, &PyTuple_Type,
                          &mail_names, &PyTuple_Type, &mail_keys, &PyTuple_Type, &forms, &PyBytes_Type, &log_head))
        return -1;
    Py_XSETREF(self->keep, Py_NewRef(args));
    if (take_texts(gates, self->gates, MAX_GATES, &self->n_gates, "gates") < 0 ||
        take_texts(mail_names, self->mail_names, MAX_NAMES, &self->n_mail_names, "sendmail idents") < 0 ||
        take_texts(mail_keys, self->mail_keys, MAX_KEYS, &self->n_mail_keys, "sendmail keys") < 0)
        return -1;
    if (PyTuple_GET_SIZE(filters) > MAX_FILTERS || PyTuple_GET_SIZE(forms) > MAX_FORMS) {
        PyErr_SetString(PyExc_ValueError, "too many process prefilters or forms");
        return -1;
    }
    self->n_filters = (int)PyTuple_GET_SIZE(filters);
    for (int i = 0; i < self->n_filters; i++) {
        PyObject *name, *texts;
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(filters, i), "SO!:filter", &name, &PyTuple_Type, &texts))
            return -1;
        self->filter_names[i] = (Text){PyBytes_AS_STRING(name), PyBytes_GET_SIZE(name)};
        if (take_texts(texts, self->filter_texts[i], MAX_FILTER_TEXTS, &self->n_filter_texts[i], "prefilters") < 0)
            return -1;
    }
    self->n_forms = (int)PyTuple_GET_SIZE(forms);
    for (int i = 0; i < self->n_forms; i++) {
        PyObject *head, *mid;
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(forms, i), "OS:form", &head, &mid))
            return -1;
        if (head == Py_None)
            self->form_head[i] = (Text){NULL, -1};
        else if (PyBytes_Check(head))
            self->form_head[i] = (Text){PyBytes_AS_STRING(head), PyBytes_GET_SIZE(head)};
        else {
            PyErr_SetString(PyExc_TypeError, "form: bytes or None before the id");
            return -1;
        }
        self->form_mid[i] = (Text){PyBytes_AS_STRING(mid), PyBytes_GET_SIZE(mid)};
    }
    self->log_head = (Text){PyBytes_AS_STRING(log_head), PyBytes_GET_SIZE(log_head)};
    memset(self->gate_pairs, 0, sizeof self->gate_pairs);
    self->by_pairs = 1;
    for (int g = 0; g < self->n_gates; g++) {
        const unsigned char *s = (const unsigned char *)self->gates[g].p;
        if (self->gates[g].n < 2) {
            self->by_pairs = 0;
            break;
        }
        unsigned pair = (unsigned)s[0] << 8 | s[1];
        self->gate_pairs[pair >> 3] |= (uint8_t)(1u << (pair & 7));
    }
    return 0;
}

static void plan_dealloc(Plan *self) {
    Py_XDECREF(self->keep);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* -- one line ------------------------------------------------------------------------------------ */

#define MAX_FIELDS 17 /* sendmail.*: queue_id and the wanted keys */

typedef struct {
    const char *s; /* the line, UTF-8 */
    Py_ssize_t n;
    char ts[27]; /* YYYY-MM-DDTHH:MM:SS.000000Z */
    Text host, tag, msg;
    int has_pid;
    unsigned long long pid;
    int mail;                    /* a sendmail ident: `fields` are its sendmail.* fields */
    Text field_key[MAX_FIELDS]; /* "queue_id" or a key of the plan */
    Text field_value[MAX_FIELDS];
    int n_fields;
} Line;

static int text_eq(Text a, const char *p, Py_ssize_t n) { return a.n == n && memcmp(a.p, p, n) == 0; }

static int contains(Text hay, Text needle) {
    if (needle.n == 0)
        return 1;
    return hay.n >= needle.n && memmem(hay.p, hay.n, needle.p, needle.n) != NULL;
}

/* Whether a gate is in the message: one pass over it, comparing only where the first two bytes of
 * some gate are (one memmem per gate otherwise). */
static int any_gate(const Plan *plan, Text msg) {
    if (!plan->by_pairs) {
        for (int g = 0; g < plan->n_gates; g++)
            if (contains(msg, plan->gates[g]))
                return 1;
        return 0;
    }
    const unsigned char *p = (const unsigned char *)msg.p, *end = p + msg.n;
    for (; p + 1 < end; p++) {
        unsigned pair = (unsigned)p[0] << 8 | p[1];
        if (!(plan->gate_pairs[pair >> 3] & (1u << (pair & 7))))
            continue;
        for (int g = 0; g < plan->n_gates; g++)
            if (plan->gates[g].n <= end - p && memcmp(p, plan->gates[g].p, plan->gates[g].n) == 0)
                return 1;
    }
    return 0;
}

static int is_alnum(unsigned char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

/* Length of the run of ASCII letters and digits at p (up to end). */
static Py_ssize_t alnum_run(const char *p, const char *end) {
    const char *q = p;
    while (q < end && is_alnum((unsigned char)*q))
        q++;
    return q - p;
}

/* ", word=" at p (word: ASCII letters and digits): where a value of the key=value list ends. */
static int at_boundary(const char *p, const char *end) {
    if (end - p < 4 || p[0] != ',' || p[1] != ' ')
        return 0;
    Py_ssize_t w = alnum_run(p + 2, end);
    return w > 0 && p + 2 + w < end && p[2 + w] == '=';
}

/* The plan's key spelled at p (followed by '='), or -1. */
static int mail_key_at(Plan *plan, const char *p, const char *end) {
    Py_ssize_t w = alnum_run(p, end);
    if (w == 0 || p + w >= end || p[w] != '=')
        return -1;
    for (int k = 0; k < plan->n_mail_keys; k++)
        if (text_eq(plan->mail_keys[k], p, w))
            return k;
    return -1;
}

static void add_field(Line *ln, Text key, Text value) {
    for (int i = 0; i < ln->n_fields; i++)
        if (text_eq(ln->field_key[i], key.p, key.n)) { /* a key given twice: first place, last value */
            ln->field_value[i] = value;
            return;
        }
    ln->field_key[ln->n_fields] = key;
    ln->field_value[ln->n_fields++] = value;
}

/* `sendmail.parse_line` of the message; 0 when it takes a branch left to Python. */
static int mail_fields(Plan *plan, Line *ln) {
    static const char START[] = "starting daemon (";
    const char *text = ln->msg.p, *end = ln->msg.p + ln->msg.n;
    const char *rest = text;
    const char *colon = ln->msg.n >= 2 ? memmem(text, ln->msg.n, ": ", 2) : NULL;
    ln->n_fields = 0;
    for (const char *p = text; colon != NULL && p < colon; p++)
        if ((unsigned char)*p >= 0x80)
            return 0; /* the colon's index in characters, str.isalnum() of non-ASCII text: Python's */
    if (colon != NULL && colon - text >= 5 && colon - text <= 20) {
        int alnum = 1;
        for (const char *p = text; p < colon; p++)
            alnum &= is_alnum((unsigned char)*p);
        if (alnum) {
            ln->field_key[ln->n_fields] = (Text){"queue_id", 8};
            ln->field_value[ln->n_fields++] = (Text){text, colon - text};
            rest = colon + 2;
        }
    }
    if (end - rest >= (Py_ssize_t)sizeof START - 1 && memcmp(rest, START, sizeof START - 1) == 0)
        return 0;
    if (memchr(rest, '=', end - rest) == NULL)
        return 1;
    /* A bare wanted key first ("dsn, stat=..."): that key, empty. */
    Py_ssize_t w = alnum_run(rest, end);
    for (int k = 0; k < plan->n_mail_keys; k++)
        if (text_eq(plan->mail_keys[k], rest, w) && at_boundary(rest + w, end)) {
            add_field(ln, plan->mail_keys[k], (Text){rest, 0});
            break;
        }
    /* ", key=value" items of ", " + rest; a value runs up to the next ", word=". */
    int k = mail_key_at(plan, rest, end); /* the item at the start, after the virtual ", " */
    const char *p = rest;
    for (;;) {
        if (k >= 0) {
            const char *v = p + plan->mail_keys[k].n + 1, *e = v;
            while (e < end && !at_boundary(e, end))
                e++;
            add_field(ln, plan->mail_keys[k], (Text){v, e - v});
            p = e;
        }
        const char *q = p;
        k = -1;
        while (q + 2 <= end && (q = memmem(q, end - q, ", ", 2)) != NULL) {
            k = mail_key_at(plan, q + 2, end);
            if (k >= 0)
                break;
            q += 1;
        }
        if (k < 0)
            return 1;
        p = q + 2;
    }
}

/* 1 if the express lane takes line i of `lines` (`ln` is filled), 0 if not, UNKNOWN_MINUTE if its
 * minute is not in the parser's cache yet (the Python stages read that line, and fill the cache);
 * -1 with an exception set on an error that is not the line's. */
#define UNKNOWN_MINUTE 2
/* The last minute looked up in the parser's cache, within one call (Python cannot change the
 * cache meanwhile): consecutive lines mostly share their minute. */
typedef struct {
    int valid;
    char key[12];
    char prefix[17];
} Minute;

static int examine(Plan *plan, PyObject *lines, Py_ssize_t i, PyObject *minutes, PyObject *tags, Line *ln, Minute *last) {
    Py_ssize_t count = PyList_GET_SIZE(lines);
    if (i + 1 >= count)
        return 0; /* the last line: the next chunk may continue it */
    PyObject *next = PyList_GET_ITEM(lines, i + 1), *line = PyList_GET_ITEM(lines, i);
    if (!PyUnicode_Check(next) || !PyUnicode_Check(line))
        return 0;
    if (PyUnicode_GET_LENGTH(next) > 0) {
        Py_UCS4 c = PyUnicode_READ_CHAR(next, 0);
        if (c == '\t' || c == ' ' || c == '-' || c == 0x2591)
            return 0;
    }
    if (PyDict_GET_SIZE(tags) > 0) {
        PyObject *key = PyLong_FromSsize_t(i);
        if (key == NULL)
            return -1;
        int tagged = PyDict_Contains(tags, key);
        Py_DECREF(key);
        if (tagged != 0)
            return tagged < 0 ? -1 : 0;
    }
    const char *s = PyUnicode_AsUTF8AndSize(line, &ln->n);
    if (s == NULL) {
        PyErr_Clear(); /* lone surrogates */
        return 0;
    }
    ln->s = s;
    Py_ssize_t n = ln->n;
    /* A letter first: never a continuation line, so the held record is complete (also for a line
     * of an unknown minute, which the Python stages read next). */
    if (n < 18 || s[15] != ' ' || s[9] != ':' || !((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z')))
        return 0;
    for (int k = 0; k < 16; k++)
        if ((unsigned char)s[k] >= 0x80)
            return 0;
    if (s[13] < '0' || s[13] > '5' || s[14] < '0' || s[14] > '9')
        return 0;
    if (!last->valid || memcmp(last->key, s, 12) != 0) {
        PyObject *key = PyUnicode_FromStringAndSize(s, 12);
        if (key == NULL)
            return -1;
        PyObject *prefix = PyDict_GetItemWithError(minutes, key); /* borrowed */
        Py_DECREF(key);
        if (prefix == NULL)
            return PyErr_Occurred() ? -1 : UNKNOWN_MINUTE;
        if (!PyUnicode_Check(prefix) || !PyUnicode_IS_ASCII(prefix) || PyUnicode_GET_LENGTH(prefix) != 17)
            return 0;
        memcpy(last->key, s, 12);
        memcpy(last->prefix, PyUnicode_DATA(prefix), 17);
        last->valid = 1;
    }
    memcpy(ln->ts, last->prefix, 17);
    memcpy(ln->ts + 17, s + 13, 2);
    memcpy(ln->ts + 19, ".000000Z", 8);
    /* host: a character not ' ', ':' or '<', then anything up to a space; it must not end in ':' */
    const char *p = s + 16, *end = s + n;
    if (*p == ' ' || *p == ':' || *p == '<')
        return 0;
    const char *sp = memchr(p, ' ', end - p);
    if (sp == NULL || sp[-1] == ':')
        return 0;
    ln->host = (Text){p, sp - p};
    /* tag: 1-48 ASCII characters but ' ', ':', '[', ']'; then "[pid]: " or ": " */
    p = sp + 1;
    const char *t = p;
    while (t < end && t - p <= 48 && *t != ' ' && *t != ':' && *t != '[' && *t != ']') {
        if ((unsigned char)*t >= 0x80)
            return 0;
        t++;
    }
    if (t == p || t - p > 48 || t >= end)
        return 0;
    ln->tag = (Text){p, t - p};
    ln->has_pid = 0;
    if (*t == '[') {
        const char *d = ++t;
        unsigned long long pid = 0;
        while (t < end && *t >= '0' && *t <= '9' && t - d < 11)
            pid = pid * 10 + (unsigned long long)(*t++ - '0');
        if (t == d || t - d > 10 || t >= end || *t != ']')
            return 0;
        t++;
        ln->has_pid = 1;
        ln->pid = pid;
    }
    if (end - t < 2 || t[0] != ':' || t[1] != ' ')
        return 0;
    ln->msg = (Text){t + 2, end - t - 2};
    /* recognition: nothing may match */
    ln->mail = 0;
    if (ln->msg.n == 0)
        return 1; /* `Recognise.enrich` skips an empty message altogether */
    if (any_gate(plan, ln->msg))
        return 0;
    for (int f = 0; f < plan->n_filters; f++)
        if (text_eq(plan->filter_names[f], ln->tag.p, ln->tag.n))
            for (int k = 0; k < plan->n_filter_texts[f]; k++)
                if (contains(ln->msg, plan->filter_texts[f][k]))
                    return 0;
    for (int m = 0; m < plan->n_mail_names; m++)
        if (text_eq(plan->mail_names[m], ln->tag.p, ln->tag.n)) {
            ln->mail = 1;
            return mail_fields(plan, ln);
        }
    return 1;
}

/* -- ids and items ------------------------------------------------------------------------------ */

/* What `content_key` joins with \x1f: host, second, process name and pid, message (, container). */
typedef struct {
    Text host, tag, pid, msg, container; /* container.n < 0: none */
    const char *second;                  /* 19 characters */
} Key;

/* Decimal digits of v at the end of out[24]; the first digit. */
static char *digits_of(unsigned long long v, char out[24]) {
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
static int event_id(PyObject *seen, const Key *key, char id[32]) {
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

/* The document's JSON after its opening brace, as `SyslogParser`'s hot path, `IdAssigner` and
 * `sendmail.add_fields` build it and orjson writes it. */
static int put_body(Buf *b, Plan *plan, const Line *ln, const char id[32], long long offset) {
    if (PUT_LIT(b, "\"@timestamp\":\"") < 0 || put(b, ln->ts, 27) < 0 || PUT_LIT(b, "\",\"message\":") < 0 ||
        put_str(b, ln->msg.p, ln->msg.n) < 0 ||
        PUT_LIT(b, ",\"event\":{\"dataset\":\"syslog\",\"kind\":\"event\",\"id\":\"") < 0 || put(b, id, 32) < 0 ||
        PUT_LIT(b, "\"},\"host\":{\"name\":") < 0 || put_str(b, ln->host.p, ln->host.n) < 0 ||
        PUT_LIT(b, "},\"process\":{\"name\":") < 0 || put_str(b, ln->tag.p, ln->tag.n) < 0)
        return -1;
    if (ln->has_pid && (PUT_LIT(b, ",\"pid\":") < 0 || put_uint(b, ln->pid) < 0))
        return -1;
    if (PUT_LIT(b, "},") < 0 || put(b, plan->log_head.p, plan->log_head.n) < 0)
        return -1;
    if (offset < 0 ? (PUT_LIT(b, "-") < 0 || put_uint(b, -(unsigned long long)offset) < 0) : put_uint(b, offset) < 0)
        return -1;
    if (PUT_LIT(b, "}") < 0)
        return -1;
    if (ln->mail && ln->n_fields > 0) {
        if (PUT_LIT(b, ",\"sendmail\":{") < 0)
            return -1;
        for (int f = 0; f < ln->n_fields; f++)
            if ((f > 0 && PUT_LIT(b, ",") < 0) || put_str(b, ln->field_key[f].p, ln->field_key[f].n) < 0 ||
                PUT_LIT(b, ":") < 0 || put_str(b, ln->field_value[f].p, ln->field_value[f].n) < 0)
                return -1;
        if (PUT_LIT(b, "}") < 0)
            return -1;
    }
    return PUT_LIT(b, "}");
}

/* One item per form: [head "id"] mid body "\n", appended to that form's list. */
static int add_items(int forms, const Text *heads, const Text *mids, PyObject *outs, const Buf *body, const char id[32]) {
    for (int f = 0; f < forms; f++) {
        Text head = heads[f], mid = mids[f];
        Py_ssize_t size = (head.n >= 0 ? head.n + 34 : 0) + mid.n + body->n + 1;
        PyObject *item = PyBytes_FromStringAndSize(NULL, size);
        if (item == NULL)
            return -1;
        char *o = PyBytes_AS_STRING(item);
        if (head.n >= 0) {
            memcpy(o, head.p, head.n);
            o += head.n;
            *o++ = '"';
            memcpy(o, id, 32);
            o += 32;
            *o++ = '"';
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

/* `IdAssigner.assign` reaching an event of the second ts[:19]: a new second clears the counts,
 * and the first change keeps the first second's (when `track`). */
static int next_second(PyObject **current, const char *ts, PyObject *seen, int *track, PyObject **first) {
    PyObject *cur = *current;
    if (PyUnicode_IS_ASCII(cur) && PyUnicode_GET_LENGTH(cur) == 19 && memcmp(PyUnicode_DATA(cur), ts, 19) == 0)
        return 0;
    if (*track && PyUnicode_GET_LENGTH(cur) > 0) {
        PyObject *copy = PyDict_Copy(seen);
        if (copy == NULL)
            return -1;
        Py_SETREF(*first, PyTuple_Pack(2, cur, copy));
        Py_DECREF(copy);
        if (*first == NULL)
            return -1;
        *track = 0;
    }
    Py_SETREF(*current, PyUnicode_FromStringAndSize(ts, 19));
    if (*current == NULL)
        return -1;
    PyDict_Clear(seen);
    return 0;
}

static int check_lines(PyObject *lines, PyObject *minutes, PyObject *tags, Py_ssize_t start) {
    if (!PyList_Check(lines) || !PyDict_Check(minutes) || !PyDict_Check(tags)) {
        PyErr_SetString(PyExc_TypeError, "lines: list, minutes: dict, tags: dict");
        return -1;
    }
    if (start < 0) {
        PyErr_SetString(PyExc_ValueError, "start must not be negative");
        return -1;
    }
    return 0;
}

static PyObject *plan_scan(Plan *self, PyObject *args) {
    PyObject *lines, *minutes, *tags;
    Py_ssize_t start;
    if (!PyArg_ParseTuple(args, "OnOO:scan", &lines, &start, &minutes, &tags) || check_lines(lines, minutes, tags, start) < 0)
        return NULL;
    Py_ssize_t i = start, n = PyList_GET_SIZE(lines);
    Minute last = {0};
    for (; i < n; i++) {
        Line ln;
        int r = examine(self, lines, i, minutes, tags, &ln, &last);
        if (r < 0)
            return NULL;
        if (r)
            break;
    }
    return PyLong_FromSsize_t(i);
}

static PyObject *plan_run(Plan *self, PyObject *args) {
    PyObject *lines, *offsets, *minutes, *tags, *second, *seen, *outs;
    Py_ssize_t start;
    int track;
    if (!PyArg_ParseTuple(args, "OO!nOOUO!pO!:run", &lines, &PyList_Type, &offsets, &start, &minutes, &tags, &second,
                          &PyDict_Type, &seen, &track, &PyList_Type, &outs) ||
        check_lines(lines, minutes, tags, start) < 0)
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(lines);
    if (PyList_GET_SIZE(offsets) != n || PyList_GET_SIZE(outs) != self->n_forms) {
        PyErr_SetString(PyExc_ValueError, "one offset per line, and one output list per form");
        return NULL;
    }
    for (int f = 0; f < self->n_forms; f++)
        if (!PyList_Check(PyList_GET_ITEM(outs, f))) {
            PyErr_SetString(PyExc_TypeError, "outs: lists");
            return NULL;
        }
    Buf body = {NULL, 0, 0};
    PyObject *current = Py_NewRef(second), *first = Py_NewRef(Py_None), *last_ts = NULL;
    Py_ssize_t i = start;
    Line ln;
    char last[27]; /* the stamp of the last line taken */
    Minute minute = {0};
    for (; i < n; i++) {
        int r = examine(self, lines, i, minutes, tags, &ln, &minute);
        if (r < 0)
            goto error;
        if (r != 1)
            break;
        if (next_second(&current, ln.ts, seen, &track, &first) < 0)
            goto error;
        char id[32], pid[24];
        long long offset = PyLong_AsLongLong(PyList_GET_ITEM(offsets, i));
        if (offset == -1 && PyErr_Occurred())
            goto error;
        const char *d = ln.has_pid ? digits_of(ln.pid, pid) : pid + 24;
        Key key = {ln.host, ln.tag, {d, pid + 24 - d}, ln.msg, {NULL, -1}, ln.ts};
        body.n = 0;
        if (event_id(seen, &key, id) < 0 || put_body(&body, self, &ln, id, offset) < 0 ||
            add_items(self->n_forms, self->form_head, self->form_mid, outs, &body, id) < 0)
            goto error;
        memcpy(last, ln.ts, 27);
    }
    if (i > start && (last_ts = PyUnicode_FromStringAndSize(last, 27)) == NULL)
        goto error;
    PyMem_Free(body.p);
    return Py_BuildValue("nNNN", i, last_ts ? last_ts : Py_NewRef(Py_None), current, first);
error:
    PyMem_Free(body.p);
    Py_XDECREF(current);
    Py_XDECREF(first);
    return NULL;
}

/* -- documents built elsewhere (the Python parsers' odd lines, the journal's builder) ------------- */

static int put_dict(Buf *b, PyObject *dict, int depth, Py_ssize_t *id_at);

/* A value as orjson writes it: 1; 0 when orjson would write it otherwise or not at all (a float,
 * an int beyond 64 bits, a subclass, another type, a str with lone surrogates, deep nesting);
 * -1 on error. */
static int put_value(Buf *b, PyObject *v, int depth) {
    if (PyUnicode_CheckExact(v)) {
        Py_ssize_t n;
        const char *s = PyUnicode_AsUTF8AndSize(v, &n);
        if (s == NULL) {
            PyErr_Clear();
            return 0;
        }
        return put_str(b, s, n) < 0 ? -1 : 1;
    }
    if (v == Py_True || v == Py_False || v == Py_None)
        return (v == Py_True ? PUT_LIT(b, "true") : v == Py_False ? PUT_LIT(b, "false") : PUT_LIT(b, "null")) < 0 ? -1 : 1;
    if (PyLong_CheckExact(v)) {
        int overflow;
        long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (overflow)
            return 0;
        if (x == -1 && PyErr_Occurred())
            return -1;
        if (x < 0 && PUT_LIT(b, "-") < 0)
            return -1;
        return put_uint(b, x < 0 ? -(unsigned long long)x : (unsigned long long)x) < 0 ? -1 : 1;
    }
    if (depth >= 32)
        return 0;
    if (PyDict_CheckExact(v))
        return put_dict(b, v, depth + 1, NULL);
    if (PyList_CheckExact(v) || PyTuple_CheckExact(v)) {
        Py_ssize_t n = PySequence_Fast_GET_SIZE(v);
        if (PUT_LIT(b, "[") < 0)
            return -1;
        for (Py_ssize_t i = 0; i < n; i++) {
            if (i > 0 && PUT_LIT(b, ",") < 0)
                return -1;
            int r = put_value(b, PySequence_Fast_GET_ITEM(v, i), depth + 1);
            if (r <= 0)
                return r;
        }
        return PUT_LIT(b, "]") < 0 ? -1 : 1;
    }
    return 0;
}

/* A dict, its keys in order (str only). With `id_at`, an "id" key last (`IdAssigner` adds event.id),
 * its value 32 zeros for now, at *id_at in the buffer. */
static int put_dict(Buf *b, PyObject *dict, int depth, Py_ssize_t *id_at) {
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    int any = 0;
    if (PUT_LIT(b, "{") < 0)
        return -1;
    while (PyDict_Next(dict, &pos, &key, &value)) {
        if (!PyUnicode_CheckExact(key))
            return 0;
        if (any && PUT_LIT(b, ",") < 0)
            return -1;
        any = 1;
        int r = put_value(b, key, depth);
        if (r <= 0)
            return r;
        if (PUT_LIT(b, ":") < 0)
            return -1;
        r = put_value(b, value, depth);
        if (r <= 0)
            return r;
    }
    if (id_at != NULL) {
        if ((any && PUT_LIT(b, ",") < 0) || PUT_LIT(b, "\"id\":\"") < 0)
            return -1;
        *id_at = b->n;
        if (PUT_LIT(b, "00000000000000000000000000000000\"") < 0)
            return -1;
    }
    return PUT_LIT(b, "}") < 0 ? -1 : 1;
}

/* The keys the tail reads, made once (their hashes cached). */
enum { K_DATASTREAM, K_ROOTCAUSE, K_TAGS, K_ERROR, K_SENDMAIL, K_EVENT, K_ID, K_DATASET, K_TIMESTAMP, K_HOST, K_PROCESS, K_CONTAINER, K_PID, K_NAME, K_MESSAGE, K_JOURNALD, K_MESSAGEID, N_KEYS };
static const char *const key_names[N_KEYS] = {"data_stream", "rootcause", "tags", "error", "sendmail", "event", "id", "dataset", "@timestamp", "host", "process", "container", "pid", "name", "message", "journald", "message_id"};
static PyObject *KEYS[N_KEYS];

/* dict[key] (borrowed), NULL when absent (str keys: no error). */
static PyObject *item(PyObject *dict, int key) { return PyDict_GetItemWithError(dict, KEYS[key]); }

/* A str field's UTF-8 text; 0 when the value is not an exact str, or has lone surrogates. */
static int text_of(PyObject *v, Text *out) {
    if (!PyUnicode_CheckExact(v))
        return 0;
    out->p = PyUnicode_AsUTF8AndSize(v, &out->n);
    if (out->p == NULL) {
        PyErr_Clear();
        return 0;
    }
    return 1;
}

/* `d.get(key, "")` of a dict as text (1), or 0 when it is not a str. */
static int text_in(PyObject *d, int key, Text *out) {
    PyObject *v = item(d, key);
    if (v == NULL) {
        *out = (Text){"", 0};
        return 1;
    }
    return text_of(v, out);
}

typedef struct {
    Key key;
    char pid[24];
    PyObject *event; /* the event dict (borrowed) */
    PyObject *dataset;
    Line mail; /* its sendmail.* fields when mail.mail */
} Doc;

/* Whether the tail takes a document: what `IdAssigner.assign`, `Recognise.enrich` and the encoders
 * would do with it needs none of their rarer branches (see the module comment). */
static int examine_doc(Plan *plan, PyObject *doc, PyObject *message_ids, Doc *d) {
    static const int python_only[] = {K_DATASTREAM, K_ROOTCAUSE, K_TAGS, K_ERROR, K_SENDMAIL};
    if (!PyDict_CheckExact(doc))
        return 0;
    for (size_t k = 0; k < sizeof python_only / sizeof *python_only; k++)
        if (item(doc, python_only[k]) != NULL)
            return 0;
    d->event = item(doc, K_EVENT);
    if (d->event == NULL || !PyDict_CheckExact(d->event) || item(d->event, K_ID) != NULL)
        return 0;
    d->dataset = item(d->event, K_DATASET);
    if (d->dataset == NULL || !PyUnicode_CheckExact(d->dataset))
        return 0;
    Text ts, tag = {"", 0}, pid = {"", 0};
    PyObject *stamp = item(doc, K_TIMESTAMP);
    if (stamp == NULL || !text_of(stamp, &ts) || ts.n < 19 || !PyUnicode_IS_ASCII(stamp))
        return 0;
    d->key.second = ts.p;
    PyObject *host = item(doc, K_HOST), *proc = item(doc, K_PROCESS), *container = item(doc, K_CONTAINER);
    d->key.host = (Text){"", 0};
    if (host != NULL && PyObject_IsTrue(host) && (!PyDict_CheckExact(host) || !text_in(host, K_NAME, &d->key.host)))
        return 0;
    if (proc != NULL && proc != Py_None) {
        if (!PyDict_CheckExact(proc) || !text_in(proc, K_NAME, &tag))
            return 0;
        PyObject *p = item(proc, K_PID);
        if (p != NULL && PyLong_CheckExact(p)) {
            int overflow;
            long long v = PyLong_AsLongLongAndOverflow(p, &overflow);
            if (overflow || v < 0)
                return 0;
            const char *digits = digits_of((unsigned long long)v, d->pid);
            pid = (Text){digits, d->pid + 24 - digits};
        } else if (p != NULL && !text_of(p, &pid))
            return 0;
    }
    d->key.tag = tag;
    d->key.pid = pid;
    d->key.container = (Text){NULL, -1};
    if (container != NULL && PyObject_IsTrue(container) &&
        (!PyDict_CheckExact(container) || !text_in(container, K_NAME, &d->key.container)))
        return 0;
    if (!text_in(doc, K_MESSAGE, &d->key.msg))
        return 0;
    d->mail.mail = 0;
    d->mail.n_fields = 0;
    if (d->key.msg.n == 0)
        return 1; /* `Recognise.enrich` skips a document without text */
    if (any_gate(plan, d->key.msg))
        return 0;
    PyObject *journal = item(doc, K_JOURNALD);
    if (journal != NULL && journal != Py_None) {
        PyObject *mid = PyDict_CheckExact(journal) ? item(journal, K_MESSAGEID) : NULL;
        if (!PyDict_CheckExact(journal) || (mid != NULL && (!PyUnicode_CheckExact(mid) || PySequence_Contains(message_ids, mid) != 0)))
            return PyErr_Occurred() ? -1 : 0;
    }
    if (proc == NULL || proc == Py_None || item(proc, K_NAME) == NULL)
        return 1; /* no process name: no prefilter, no sendmail ident */
    for (int f = 0; f < plan->n_filters; f++)
        if (text_eq(plan->filter_names[f], tag.p, tag.n))
            for (int k = 0; k < plan->n_filter_texts[f]; k++)
                if (contains(d->key.msg, plan->filter_texts[f][k]))
                    return 0;
    for (int m = 0; m < plan->n_mail_names; m++)
        if (text_eq(plan->mail_names[m], tag.p, tag.n)) {
            d->mail.mail = 1;
            d->mail.msg = d->key.msg;
            return mail_fields(plan, &d->mail);
        }
    return 1;
}

/* The document's JSON after its opening brace, with event.id (its place at *id_at), and the
 * sendmail.* fields last. */
static int put_doc(Buf *b, PyObject *doc, const Doc *d, Py_ssize_t *id_at) {
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    b->n = 0;
    int any = 0, r;
    while (PyDict_Next(doc, &pos, &key, &value)) {
        if (!PyUnicode_CheckExact(key))
            return 0;
        if ((any && PUT_LIT(b, ",") < 0) || (r = put_value(b, key, 1)) < 0 || PUT_LIT(b, ":") < 0)
            return -1;
        any = 1;
        if (value == d->event && PyUnicode_CompareWithASCIIString(key, "event") != 0)
            return 0; /* the event object twice: Python's */
        if (r == 0 || (r = value == d->event ? put_dict(b, value, 1, id_at) : put_value(b, value, 1)) <= 0)
            return r;
    }
    if (d->mail.mail && d->mail.n_fields > 0) {
        if ((any && PUT_LIT(b, ",") < 0) || PUT_LIT(b, "\"sendmail\":{") < 0)
            return -1;
        for (int f = 0; f < d->mail.n_fields; f++)
            if ((f > 0 && PUT_LIT(b, ",") < 0) || put_str(b, d->mail.field_key[f].p, d->mail.field_key[f].n) < 0 ||
                PUT_LIT(b, ":") < 0 || put_str(b, d->mail.field_value[f].p, d->mail.field_value[f].n) < 0)
                return -1;
        if (PUT_LIT(b, "}") < 0)
            return -1;
    }
    return PUT_LIT(b, "}") < 0 ? -1 : 1;
}

/* Each form's bytes around the id for the document's dataset; 0 when a route does not know it. */
static int routes_for(PyObject *routes, PyObject *dataset, Text *heads, Text *mids) {
    Py_ssize_t n = PyList_GET_SIZE(routes);
    for (Py_ssize_t f = 0; f < n; f++) {
        PyObject *route = PyList_GET_ITEM(routes, f), *form;
        if (route == Py_None) { /* NDJSON: the document alone */
            heads[f] = (Text){NULL, -1};
            mids[f] = (Text){"{", 1};
            continue;
        }
        if (!PyDict_Check(route) || (form = PyDict_GetItemWithError(route, dataset)) == NULL)
            return PyErr_Occurred() ? -1 : 0;
        PyObject *head = PyTuple_GET_ITEM(form, 0), *mid = PyTuple_GET_ITEM(form, 1);
        heads[f] = head == Py_None ? (Text){NULL, -1} : (Text){PyBytes_AS_STRING(head), PyBytes_GET_SIZE(head)};
        mids[f] = (Text){PyBytes_AS_STRING(mid), PyBytes_GET_SIZE(mid)};
    }
    return 1;
}

/* routes: a list of None or dicts of dataset -> (bytes or None, bytes), at most MAX_FORMS. */
static int check_routes(PyObject *routes) {
    Py_ssize_t forms = PyList_GET_SIZE(routes);
    for (Py_ssize_t f = 0; f < forms && forms <= MAX_FORMS; f++) {
        PyObject *route = PyList_GET_ITEM(routes, f), *key, *form;
        Py_ssize_t pos = 0;
        if (route == Py_None)
            continue;
        if (!PyDict_Check(route))
            goto bad;
        while (PyDict_Next(route, &pos, &key, &form))
            if (!PyTuple_Check(form) || PyTuple_GET_SIZE(form) != 2 || !PyBytes_Check(PyTuple_GET_ITEM(form, 1)) ||
                (PyTuple_GET_ITEM(form, 0) != Py_None && !PyBytes_Check(PyTuple_GET_ITEM(form, 0))))
                goto bad;
    }
    if (forms <= MAX_FORMS)
        return 0;
bad:
    PyErr_SetString(PyExc_TypeError, "routes: at most 4, each None or a dict of dataset -> (bytes or None, bytes)");
    return -1;
}

static PyObject *plan_docs_scan(Plan *self, PyObject *args) {
    PyObject *docs, *routes, *message_ids;
    Py_ssize_t start;
    if (!PyArg_ParseTuple(args, "O!nO!O:docs_scan", &PyList_Type, &docs, &start, &PyList_Type, &routes, &message_ids) ||
        check_routes(routes) < 0)
        return NULL;
    if (start < 0) {
        PyErr_SetString(PyExc_ValueError, "start must not be negative");
        return NULL;
    }
    Py_ssize_t i = start, n = PyList_GET_SIZE(docs);
    for (; i < n; i++) {
        Doc d;
        Text heads[MAX_FORMS], mids[MAX_FORMS];
        int r = examine_doc(self, PyList_GET_ITEM(docs, i), message_ids, &d);
        if (r > 0)
            r = routes_for(routes, d.dataset, heads, mids);
        if (r < 0)
            return NULL;
        if (r)
            break;
    }
    return PyLong_FromSsize_t(i);
}

static PyObject *plan_docs(Plan *self, PyObject *args) {
    PyObject *docs, *second, *seen, *outs, *routes, *message_ids;
    Py_ssize_t start;
    int track;
    if (!PyArg_ParseTuple(args, "O!nUO!pO!O!O:docs", &PyList_Type, &docs, &start, &second, &PyDict_Type, &seen, &track,
                          &PyList_Type, &outs, &PyList_Type, &routes, &message_ids))
        return NULL;
    Py_ssize_t forms = PyList_GET_SIZE(outs);
    if (check_routes(routes) < 0)
        return NULL;
    if (forms != PyList_GET_SIZE(routes) || start < 0) {
        PyErr_SetString(PyExc_ValueError, "one route per output list; start not negative");
        return NULL;
    }
    for (Py_ssize_t f = 0; f < forms; f++)
        if (!PyList_Check(PyList_GET_ITEM(outs, f))) {
            PyErr_SetString(PyExc_TypeError, "outs: lists");
            return NULL;
        }
    Buf body = {NULL, 0, 0};
    PyObject *current = Py_NewRef(second), *first = Py_NewRef(Py_None);
    Py_ssize_t i = start, n = PyList_GET_SIZE(docs);
    for (; i < n; i++) {
        PyObject *doc = PyList_GET_ITEM(docs, i);
        Doc d;
        Text heads[MAX_FORMS], mids[MAX_FORMS];
        char id[32];
        int r = examine_doc(self, doc, message_ids, &d);
        if (r > 0)
            r = routes_for(routes, d.dataset, heads, mids);
        if (r < 0)
            goto error;
        if (r == 0)
            break;
        /* The body is written before the id is counted, so that a document orjson would write
         * otherwise is left to Python whole; the id goes into its place afterwards. */
        Py_ssize_t id_at = -1;
        if ((r = put_doc(&body, doc, &d, &id_at)) < 0)
            goto error;
        if (r == 0 || id_at < 0)
            break;
        if (next_second(&current, d.key.second, seen, &track, &first) < 0 || event_id(seen, &d.key, id) < 0)
            goto error;
        memcpy(body.p + id_at, id, 32);
        if (add_items((int)forms, heads, mids, outs, &body, id) < 0)
            goto error;
    }
    PyMem_Free(body.p);
    return Py_BuildValue("nNN", i, current, first);
error:
    PyMem_Free(body.p);
    Py_XDECREF(current);
    Py_XDECREF(first);
    return NULL;
}

static PyMethodDef plan_methods[] = {
    {"scan", (PyCFunction)plan_scan, METH_VARARGS,
     "scan(lines, start, minutes, tags) -> the first index from start that run() takes, or whose\n"
     "minute is not in the cache yet (len(lines): none)"},
    {"docs_scan", (PyCFunction)plan_docs_scan, METH_VARARGS,
     "docs_scan(docs, start, routes, message_ids) -> the first index from start that docs() takes"},
    {"docs", (PyCFunction)plan_docs, METH_VARARGS,
     "docs(docs, start, second, seen, track, outs, routes, message_ids) -> (stop, second, first)\n\n"
     "Takes documents from start on while it can (ids, recognition's gates, encoding), appending one\n"
     "item per document to each list of outs; stop is the first document not taken."},
    {"run", (PyCFunction)plan_run, METH_VARARGS,
     "run(lines, offsets, start, minutes, tags, second, seen, track, outs) -> (stop, last_ts, second, first)\n\n"
     "Takes lines from start on while it can, appending one item per line to each list of outs;\n"
     "stop is the first line not taken. second, seen, track and first are IdAssigner's (see express.py)."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject PlanType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "shipper.parallel._express.Plan",
    .tp_basicsize = sizeof(Plan),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Plan(gates, prefilters, sendmail_idents, sendmail_keys, forms, log_head): see express.py",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)plan_init,
    .tp_dealloc = (destructor)plan_dealloc,
    .tp_methods = plan_methods,
};

static PyObject *digest(PyObject *module, PyObject *arg) {
    char *data;
    Py_ssize_t n;
    if (PyBytes_AsStringAndSize(arg, &data, &n) < 0)
        return NULL;
    B2 st;
    char out[32];
    b2_init(&st);
    b2_update(&st, data, n);
    b2_final_hex(&st, out);
    return PyUnicode_FromStringAndSize(out, 32);
}

static PyObject *json_str(PyObject *module, PyObject *arg) {
    char *data;
    Py_ssize_t n;
    if (PyBytes_AsStringAndSize(arg, &data, &n) < 0)
        return NULL;
    Buf b = {NULL, 0, 0};
    if (put_str(&b, data, n) < 0) {
        PyMem_Free(b.p);
        return NULL;
    }
    PyObject *out = PyBytes_FromStringAndSize(b.p, b.n);
    PyMem_Free(b.p);
    return out;
}

static PyMethodDef module_methods[] = {
    {"digest", digest, METH_O, "digest(data) -> BLAKE2b-128 hex digest (for tests)"},
    {"json_str", json_str, METH_O, "json_str(utf8) -> the JSON string (for tests)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_express", "The express lane of a syslog replay worker (see express.py).", -1, module_methods,
};

PyMODINIT_FUNC PyInit__express(void) {
    if (PyType_Ready(&PlanType) < 0)
        return NULL;
    for (int k = 0; k < N_KEYS; k++)
        if ((KEYS[k] = PyUnicode_InternFromString(key_names[k])) == NULL)
            return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddObjectRef(m, "Plan", (PyObject *)&PlanType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
