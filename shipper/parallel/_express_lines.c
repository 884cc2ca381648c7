/* The express lane for syslog lines: common RFC 3164 lines -> bulk items, in one pass, read from
 * the block of bytes the source read (no line is split off or decoded as an object).
 *
 * The Python stages are the specification: `SyslogParser`'s hot path (shipper/parse/syslog.py),
 * `IdAssigner.assign` and `content_key` (shipper/ids.py), `Recognise.enrich` with
 * `sendmail.parse_line` (shipper/enrich/), and the encoders (`bulk.Encoder`, `ndjson.encode_lines`).
 * `Plan.run` does what they do for a line that needs none of their rarer branches, and writes the
 * items without building the document. It takes a line only when all of this holds (`examine`):
 *   - the next line is in the region read and cannot continue it (it starts with none of tab, space, '-',
 *     U+2591);
 *   - the source would tag nothing in the line (`split_raw`, `decode_lines` in shipper/sources/):
 *     it is at most max_line_bytes long, has no "\r" before its "\n", and is valid UTF-8;
 *   - "Mmm dd HH:MM:SS host tag[pid]: message" as the hot path reads it: ASCII up to the host, the
 *     minute found in the parser's cache (`BsdStamps.minutes`), seconds 00-59, the host not ending
 *     in ':', an ASCII tag of 1-48 characters, a pid of 1-10 digits;
 *   - the tag does not end in a systemd unit suffix (`UNIT_SUFFIXES`, shipper/parse/syslog_journalctl.py:
 *     the hot path leaves such a tag, `journalctl -o with-unit`'s, to `_slow`);
 *   - no recognition gate is in the message, nor a prefilter of its process (`Matcher.gates`,
 *     `.proc_filters`): the line is not recognised; or only a start's, and the start ends no
 *     troubled unit: it is dropped (_express_starts.c);
 *   - for a sendmail ident: no "starting daemon (" and no non-ASCII queue id (`parse_line`'s
 *     rarer branches).
 * Anything else is left to the Python stages (shipper/parallel/express.py takes turns with them).
 * The plan's data (gates, prefilters, sendmail idents and keys, the encoders' constant bytes) comes
 * from the Python objects, not from here. tests/unit/test_express_lines.py compares both paths.
 */
#include "_express.h"

typedef struct {
    const char *s; /* the line, UTF-8 */
    Py_ssize_t n;
    Py_ssize_t next; /* where the next line starts */
    char ts[27]; /* YYYY-MM-DDTHH:MM:SS.000000Z */
    Text host, tag, msg;
    int has_pid;
    unsigned long long pid;
    Fields fields; /* its sendmail.* fields */
    int start;     /* a start dropped for certain, of these stems (_express_starts.c) */
    Stems stems;
} Line;

/* A block of text lines as the source read it (`RawBlock.data`, shipper/sources/lines.py): each
 * line ends with '\n' but the last. Lines are named by the position where they start. */
typedef struct {
    const char *data;
    Py_ssize_t len;
    Py_ssize_t cap;  /* max_line_bytes: a longer line is cut by the source */
    Py_ssize_t stop; /* the end of the region read (where the line after it starts) */
} Block;

#define UNKNOWN_MINUTE 2
/* The last minute looked up in the parser's cache, within one call (Python cannot change the
 * cache meanwhile): consecutive lines mostly share their minute. */
typedef struct {
    int valid;
    char key[12];
    char prefix[17];
} Minute;

/* The line of `b` at `pos` (where a line starts): its length, and where the next one starts (one
 * past the end of the data after the last line, which has no '\n'). */
static Py_ssize_t line_at(const Block *b, Py_ssize_t pos, Py_ssize_t *next) {
    const char *nl = memchr(b->data + pos, '\n', (size_t)(b->len - pos));
    Py_ssize_t end = nl != NULL ? nl - b->data : b->len;
    *next = end + 1;
    return end - pos;
}

/* Whether a tag ends in ".service", ".scope", ... (`UNIT_TYPES`, shipper/recognise/units.py). */
static int unit_suffix(Text tag) {
    static const char *const types[] = {"service", "socket", "target", "device", "mount", "automount",
                                        "swap",    "timer",  "path",   "slice",  "scope"};
    const char *dot = NULL;
    for (const char *c = tag.p; c < tag.p + tag.n; c++)
        if (*c == '.')
            dot = c;
    if (dot == NULL)
        return 0;
    Py_ssize_t len = tag.p + tag.n - dot - 1;
    for (size_t k = 0; k < sizeof types / sizeof *types; k++)
        if ((Py_ssize_t)strlen(types[k]) == len && memcmp(dot + 1, types[k], (size_t)len) == 0)
            return 1;
    return 0;
}

static int examine(Plan *plan, const Block *b, Py_ssize_t pos, PyObject *minutes, const Starts *starts, Line *ln,
                   Minute *last) {
    Py_ssize_t next;
    Py_ssize_t n = line_at(b, pos, &next);
    if (next >= b->stop)
        return 0; /* the region's last line: the next region may continue it (or it was cut) */
    if (next < b->len) {
        unsigned char c = (unsigned char)b->data[next];
        if (c == '\t' || c == ' ' || c == '-' || (b->len - next >= 3 && memcmp(b->data + next, "\xe2\x96\x91", 3) == 0))
            return 0; /* U+2591 */
    }
    const char *s = b->data + pos;
    /* A line the source tags (cut to the cap, "\r" taken off, not valid UTF-8): Python's. */
    if (n > b->cap || (n > 0 && s[n - 1] == '\r') || !valid_utf8(s, n))
        return 0;
    ln->s = s;
    ln->n = n;
    ln->next = next;
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
    if (unit_suffix(ln->tag))
        return 0;
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
    int r = event_quiet(plan, ln->tag, ln->msg, &ln->fields); /* recognition: nothing may match */
    ln->start = r == STARTS;
    if (!ln->start)
        return r;
    return start_stems(ln->host, ln->msg, NULL, 0, 0, &ln->stems) ? start_free(starts, &ln->stems, ln->ts) : 0;
}

/* The document's JSON after its opening brace, as `SyslogParser`'s hot path, `IdAssigner` and
 * `sendmail.add_fields` build it and orjson writes it; `message` (its key and value) is
 * `b->p[message[0]:message[1]]`. */
static int put_body(Buf *b, Plan *plan, const Line *ln, const char id[32], long long offset, Py_ssize_t message[2]) {
    if (PUT_LIT(b, "\"@timestamp\":\"") < 0 || put(b, ln->ts, 27) < 0 || PUT_LIT(b, "\"") < 0)
        return -1;
    message[0] = b->n;
    if (PUT_LIT(b, ",\"message\":") < 0 || put_str(b, ln->msg.p, ln->msg.n) < 0)
        return -1;
    message[1] = b->n;
    if (PUT_LIT(b, ",\"event\":{\"dataset\":\"syslog\",\"kind\":\"event\",\"id\":\"") < 0 || put(b, id, 32) < 0 ||
        PUT_LIT(b, "\"},\"host\":{\"name\":") < 0 || put_str(b, ln->host.p, ln->host.n) < 0 ||
        PUT_LIT(b, "},\"process\":{\"name\":") < 0 || put_str(b, ln->tag.p, ln->tag.n) < 0)
        return -1;
    if (ln->has_pid && (PUT_LIT(b, ",\"pid\":") < 0 || put_uint(b, ln->pid) < 0))
        return -1;
    if (PUT_LIT(b, "},") < 0 || put(b, plan->log_head.p, plan->log_head.n) < 0)
        return -1;
    if (offset < 0 ? (PUT_LIT(b, "-") < 0 || put_uint(b, -(unsigned long long)offset) < 0) : put_uint(b, offset) < 0)
        return -1;
    if (PUT_LIT(b, "}") < 0 || put_fields(b, &ln->fields, 1) < 0)
        return -1;
    return PUT_LIT(b, "}");
}

/* `data, start, stop` as a region of a block: `stop` is a line's start or one past the end. */
static int region(PyObject *data, Py_ssize_t start, Py_ssize_t stop, Py_ssize_t cap, PyObject *minutes, Block *b) {
    if (!PyDict_Check(minutes)) {
        PyErr_SetString(PyExc_TypeError, "minutes: dict");
        return -1;
    }
    b->data = PyBytes_AS_STRING(data);
    b->len = PyBytes_GET_SIZE(data);
    b->cap = cap;
    b->stop = stop;
    if (start < 0 || start > stop || stop > b->len + 1) {
        PyErr_SetString(PyExc_ValueError, "0 <= start <= stop <= len(data) + 1");
        return -1;
    }
    return 0;
}

PyObject *plan_scan(Plan *self, PyObject *args) {
    PyObject *data, *minutes, *arg = Py_None;
    Py_ssize_t start, stop, cap, most;
    Block b;
    Starts starts;
    if (!PyArg_ParseTuple(args, "O!nnnOn|O:scan", &PyBytes_Type, &data, &start, &stop, &cap, &minutes, &most, &arg) ||
        region(data, start, stop, cap, minutes, &b) < 0 || starts_open(&starts, arg) < 0)
        return NULL;
    starts.asked = NULL; /* (scan takes nothing) */
    Py_ssize_t pos = start, count = 0;
    Minute last = {0};
    for (; pos < stop && count < most; count++) {
        Line ln;
        int r = examine(self, &b, pos, minutes, &starts, &ln, &last);
        if (r < 0)
            return NULL;
        if (r)
            break;
        line_at(&b, pos, &pos);
    }
    return Py_BuildValue("nn", pos, count);
}

PyObject *plan_run(Plan *self, PyObject *args) {
    PyObject *data, *minutes, *live, *outs, *arg = Py_None;
    Py_ssize_t start, stop, cap;
    long long first_offset;
    Block b;
    Ids ids;
    Starts starts;
    if (!PyArg_ParseTuple(args, "O!nnLnOO!O!|O:run", &PyBytes_Type, &data, &start, &stop, &first_offset, &cap, &minutes,
                          &PyTuple_Type, &live, &PyList_Type, &outs, &arg) ||
        region(data, start, stop, cap, minutes, &b) < 0 || starts_open(&starts, arg) < 0)
        return NULL;
    if (PyList_GET_SIZE(outs) != self->n_forms) {
        PyErr_SetString(PyExc_ValueError, "one output list per form");
        return NULL;
    }
    for (int f = 0; f < self->n_forms; f++)
        if (!PyList_Check(PyList_GET_ITEM(outs, f))) {
            PyErr_SetString(PyExc_TypeError, "outs: lists");
            return NULL;
        }
    if (ids_open(&ids, live) < 0)
        return NULL;
    Buf body = {NULL, 0, 0}, rest = {NULL, 0, 0};
    PyObject *last_ts = NULL;
    Py_ssize_t pos = start, count = 0;
    Line ln;
    char last[27]; /* the stamp of the last line taken */
    Minute minute = {0};
    for (; pos < stop; pos = ln.next, count++) {
        int r = examine(self, &b, pos, minutes, &starts, &ln, &minute);
        if (r < 0 || (r == 1 && ln.start && start_note(&starts, &ln.stems, ln.ts) < 0))
            goto error;
        if (r != 1)
            break;
        if (next_second(&ids, ln.ts) < 0)
            goto error;
        char id[32], pid[24];
        const char *d = ln.has_pid ? digits_of(ln.pid, pid) : pid + 24;
        Key key = {ln.host, ln.tag, {d, pid + 24 - d}, ln.msg, {NULL, -1}, ln.ts};
        body.n = 0;
        Row row = {{id, 32}, {ln.ts, 27}, ln.host, ln.tag, ln.msg, {0, 0}, &rest};
        if (event_id(ids.seen, &key, id) < 0 || put_body(&body, self, &ln, id, first_offset + pos, row.message) < 0)
            goto error;
        char quoted[34] = {'"'};
        memcpy(quoted + 1, id, 32);
        quoted[33] = '"';
        if (add_items(self->n_forms, self->form_head, self->form_mid, outs, &body, (Text){quoted, 34}, &row) < 0)
            goto error;
        memcpy(last, ln.ts, 27);
    }
    if (count > 0 && (last_ts = PyUnicode_FromStringAndSize(last, 27)) == NULL)
        goto error;
    PyMem_Free(body.p);
    PyMem_Free(rest.p);
    return Py_BuildValue("nnNN", pos, count, last_ts ? last_ts : Py_NewRef(Py_None), ids_close(&ids));
error:
    PyMem_Free(body.p);
    PyMem_Free(rest.p);
    ids_clear(&ids);
    return NULL;
}

PyObject *cut_lines(PyObject *module, PyObject *args) {
    PyObject *data;
    Py_ssize_t start, most;
    if (!PyArg_ParseTuple(args, "O!nn:cut", &PyBytes_Type, &data, &start, &most))
        return NULL;
    Block b = {PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data), 0, 0};
    if (start < 0 || start > b.len + 1) {
        PyErr_SetString(PyExc_ValueError, "0 <= start <= len(data) + 1");
        return NULL;
    }
    Py_ssize_t pos = start, count = 0;
    for (; pos <= b.len && count < most; count++)
        line_at(&b, pos, &pos);
    return Py_BuildValue("nn", pos, count);
}
