/* The express lane for syslog lines: common RFC 3164 lines -> bulk items, in one pass.
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
 */
#include "_express.h"

typedef struct {
    const char *s; /* the line, UTF-8 */
    Py_ssize_t n;
    char ts[27]; /* YYYY-MM-DDTHH:MM:SS.000000Z */
    Text host, tag, msg;
    int has_pid;
    unsigned long long pid;
    Fields fields; /* its sendmail.* fields */
} Line;

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
    return quiet_event(plan, ln->tag, ln->msg, &ln->fields); /* recognition: nothing may match */
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
    if (PUT_LIT(b, "}") < 0 || put_fields(b, &ln->fields, 1) < 0)
        return -1;
    return PUT_LIT(b, "}");
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

PyObject *plan_scan(Plan *self, PyObject *args) {
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

PyObject *plan_run(Plan *self, PyObject *args) {
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
        if (event_id(seen, &key, id) < 0 || put_body(&body, self, &ln, id, offset) < 0)
            goto error;
        char quoted[34] = {'"'};
        memcpy(quoted + 1, id, 32);
        quoted[33] = '"';
        if (add_items(self->n_forms, self->form_head, self->form_mid, outs, &body, (Text){quoted, 34}) < 0)
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
