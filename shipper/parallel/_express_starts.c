/* The starts a lane takes. A "Started ..." line of the service manager is kept only if its unit
 * failed, or logged a recognised error, on its host within `RECOVERY_WINDOW` before
 * (`systemd.unit_started`; shipper/enrich/nearby.py: `Nearby._recovery`, `stem_key`); every other
 * start is dropped, a plain line. `event_quiet` (_express.c) tells a line only a start's texts (or
 * MESSAGE_ID) pass: STARTS. The lane takes it when none of the troubled units it may end is that
 * recent (`Nearby.lane`: the host's troubled units by stem key); and, in a worker's block, notes
 * per stem key the lowest and highest second of the starts it took (`Reads.starts`): the main
 * process checks that the facts the block really started from answer them alike (`continued`).
 *
 * The unit a start ends is found as `systemd.unit_started`'s patterns and `stem_key` find it
 * (shipper/parallel/express.py enables this for that signature only): "Started " + D + ".", the
 * unit being D's first word (pattern 1: "UNIT - DESCRIPTION" or "UNIT"), or D (pattern 2, a
 * description: its first word), or, for a journal entry, a unit its fields name (`doc_vars`). The
 * lane asks for each of these stems (`Stems`); a message of more than 255 bytes or with a "\n",
 * and a first word that is not ASCII (its lower case is Python's), are left to Python.
 */
#include "_express.h"

#define MAX_STEM 255   /* a unit name's length at most (`UNIT_NAME_MAX`) */
#define MAX_KEY 1024   /* host, "\n", stem */

/* Days from 1970-01-01 to the civil date (Howard Hinnant's `days_from_civil`). */
static long long days_from_civil(long long y, unsigned m, unsigned d) {
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long long)doe - 719468;
}

static int two(const char *p) { return (p[0] - '0') * 10 + (p[1] - '0'); }

/* The second (since the epoch) of a stamp "YYYY-MM-DDTHH:MM:SS..." (UTC, as the lanes write it). */
static long long ts_second(const char *ts) {
    long long year = two(ts) * 100 + two(ts + 2);
    long long days = days_from_civil(year, (unsigned)two(ts + 5), (unsigned)two(ts + 8));
    return days * 86400 + two(ts + 11) * 3600 + two(ts + 14) * 60 + two(ts + 17);
}

int starts_open(Starts *s, PyObject *arg) {
    s->units = s->asked = NULL;
    s->window = 0;
    if (arg == NULL || arg == Py_None)
        return 0;
    PyObject *asked;
    if (!PyArg_ParseTuple(arg, "O!LO:starts", &PyDict_Type, &s->units, &s->window, &asked))
        return -1;
    if (asked != Py_None && !PyDict_CheckExact(asked)) {
        PyErr_SetString(PyExc_TypeError, "starts: (units, window, a dict or None)");
        return -1;
    }
    s->asked = asked == Py_None ? NULL : asked;
    return 0;
}

static int ascii(Text t) {
    for (Py_ssize_t i = 0; i < t.n; i++)
        if ((unsigned char)t.p[i] >= 0x80)
            return 0;
    return 1;
}

/* A unit name's stem: up to its last '.', then up to its first '@' (`stem_key`). */
static Text unit_stem(Text unit) {
    const char *dot = NULL;
    for (const char *c = unit.p; c < unit.p + unit.n; c++)
        if (*c == '.')
            dot = c;
    Text stem = {unit.p, dot - unit.p};
    const char *at = memchr(stem.p, '@', (size_t)stem.n);
    if (at != NULL)
        stem.n = at - stem.p;
    return stem;
}

/* The stems a start (`msg`) on `host` may end the trouble of: 1; 0 when it is Python's (see the
 * module comment). `units`: the values of the entry's unit fields (n = -1: absent); `by_id`: its
 * MESSAGE_ID is a start's (matched by fields: with no pattern matched, its unit is a field's, or "").
 * A message that is no "Started D." and only passed the prefilter matches no pattern: no stem. */
int start_stems(Text host, Text msg, const Text *units, int n_units, int by_id, Stems *s) {
    static const char STARTED[] = "Started ";
    const Py_ssize_t head = (Py_ssize_t)sizeof STARTED - 1;
    if (msg.n > MAX_STEM || host.n > MAX_KEY - MAX_STEM - 1 || memchr(msg.p, '\n', (size_t)msg.n) != NULL)
        return 0;
    s->host = host;
    s->n = 0;
    if (msg.n > head + 1 && memcmp(msg.p, STARTED, (size_t)head) == 0 && msg.p[msg.n - 1] == '.') {
        Text d = {msg.p + head, msg.n - head - 1};
        const char *space = memchr(d.p, ' ', (size_t)d.n);
        Text word = {d.p, space != NULL ? space - d.p : d.n};
        if (!ascii(word))
            return 0;
        s->stem[s->n++] = word; /* a description's first word */
        if (memchr(word.p, '.', (size_t)word.n) != NULL)
            s->stem[s->n++] = unit_stem(word); /* a unit's */
    } else if (by_id)
        s->stem[s->n++] = (Text){"", 0};
    else
        return 1;
    for (int k = 0; k < n_units; k++)
        if (units[k].n > 0 && units[k].n <= MAX_STEM && ascii(units[k]) && memchr(units[k].p, '.', (size_t)units[k].n))
            s->stem[s->n++] = unit_stem(units[k]);
    return 1;
}

/* `stem_key(host, stem)` as a str. */
static PyObject *stem_key(const Stems *s, int k) {
    char key[MAX_KEY];
    Text stem = s->stem[k];
    memcpy(key, s->host.p, (size_t)s->host.n);
    key[s->host.n] = '\n';
    for (Py_ssize_t i = 0; i < stem.n; i++) {
        char c = stem.p[i];
        key[s->host.n + 1 + i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    return PyUnicode_DecodeUTF8(key, s->host.n + 1 + stem.n, NULL);
}

/* Whether a start at `ts` is dropped for certain: no troubled unit of its stems is as recent as
 * `window` seconds before it (a second more: whole seconds), nor later. 1; 0: Python's; -1 on error. */
int start_free(const Starts *st, const Stems *s, const char *ts) {
    if (st->units == NULL)
        return 0;
    if (PyDict_GET_SIZE(st->units) == 0)
        return 1;
    long long second = ts_second(ts);
    for (int k = 0; k < s->n; k++) {
        PyObject *key = stem_key(s, k);
        if (key == NULL)
            return -1;
        PyObject *fact = PyDict_GetItemWithError(st->units, key); /* borrowed: (seconds, unit) */
        Py_DECREF(key);
        if (fact == NULL && PyErr_Occurred())
            return -1;
        if (fact == NULL)
            continue;
        if (!PyTuple_Check(fact) || PyTuple_GET_SIZE(fact) != 2)
            return 0;
        double at = PyFloat_AsDouble(PyTuple_GET_ITEM(fact, 0));
        if (at == -1.0 && PyErr_Occurred())
            return -1;
        if (!(second > (long long)at + st->window + 1))
            return 0;
    }
    return 1;
}

static int set_second(PyObject *span, Py_ssize_t i, long long second) {
    PyObject *v = PyLong_FromLongLong(second);
    return v == NULL ? -1 : PyList_SetItem(span, i, v);
}

/* Note a start taken at `ts` (when watched): each stem key's lowest and highest second. -1 on error. */
int start_note(const Starts *st, const Stems *s, const char *ts) {
    if (st->asked == NULL)
        return 0;
    long long second = ts_second(ts);
    for (int k = 0; k < s->n; k++) {
        PyObject *key = stem_key(s, k);
        if (key == NULL)
            return -1;
        PyObject *span = PyDict_GetItemWithError(st->asked, key); /* borrowed */
        int r = -1;
        if (span == NULL && !PyErr_Occurred()) {
            span = Py_BuildValue("[LL]", second, second);
            r = span == NULL ? -1 : PyDict_SetItem(st->asked, key, span);
            Py_XDECREF(span);
        } else if (span != NULL && PyList_CheckExact(span) && PyList_GET_SIZE(span) == 2) {
            long long lo = PyLong_AsLongLong(PyList_GET_ITEM(span, 0)), hi = PyLong_AsLongLong(PyList_GET_ITEM(span, 1));
            r = PyErr_Occurred() ? -1 : 0;
            if (r == 0 && (second < lo || second > hi))
                r = set_second(span, second < lo ? 0 : 1, second);
        } else if (span != NULL)
            PyErr_SetString(PyExc_TypeError, "starts: [lowest, highest] per stem key");
        Py_DECREF(key);
        if (r < 0)
            return -1;
    }
    return 0;
}
