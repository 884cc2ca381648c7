/* The express lane of a journal replay worker, in C: packed journal entries (_journalpack.h) ->
 * items (`Plan.journal_scan`, `Plan.journal`), without a dict per entry or per document.
 *
 * The Python path is the specification: `_journalread.unpack` makes the entry's dict,
 * `journal_doc` (built in C by _journaldoc.c) its document, and the tail (`Plan.docs`,
 * _express_docs.c) its ids, recognition's prefilters and items. The lane takes an entry when:
 *   - `_journaldoc` would build its document: every field once, every value UTF-8, a valid stamp
 *     (`_SOURCE_REALTIME_TIMESTAMP` when present, else `__REALTIME_TIMESTAMP`), PRIORITY and
 *     SYSLOG_FACILITY absent or codes journald writes;
 *   - the tail would take that document: no MESSAGE_ID a signature matches by fields, no gate or
 *     process prefilter passed (`quiet_event`, which also gives sendmail's fields);
 *   - it has at most MAX_ENTRY_FIELDS fields;
 *   - with the boots' claims given (`BootClaims.fast`, shipper/sources/journal_boots.py), it is of
 *     the boot of its host's highest range, at or above that range's first second: its id is the
 *     plain one, and nothing is decided (the claims learn the lowest and highest second taken).
 * It then writes the document's JSON from the fields, key for key in journal_doc's order, as
 * orjson writes it. shipper/parallel/express.py (`JournalLane`) hands every other entry to the
 * Python path, in order; tests/unit/test_express_journal.py compares both, byte for byte.
 */
#include "_express_journal.h"

/* journal_doc's field names by length, to find a field's number: -1 when it reads no such field. */
#define LONGEST_NAME 27
static signed char by_length[LONGEST_NAME + 1][6];

static int field_number(const char *name, Py_ssize_t n) {
    if (n > LONGEST_NAME)
        return -1;
    for (int k = 0; k < 6 && by_length[n][k] >= 0; k++) {
        int f = by_length[n][k];
        if (memcmp(journal_field_names[f], name, n) == 0)
            return f;
    }
    return -1;
}

static PyObject *JOURNALD; /* "journald": the documents' event.dataset, a key of the routes */

int journal_init(void) {
    memset(by_length, -1, sizeof by_length);
    for (int f = 0; f < JF_N_FIELDS; f++) {
        size_t n = strlen(journal_field_names[f]);
        int k = 0;
        while (by_length[n][k] >= 0)
            k++;
        by_length[n][k] = (signed char)f;
    }
    JOURNALD = PyUnicode_InternFromString("journald");
    return JOURNALD == NULL ? -1 : 0;
}

/* The entry's fields (from the packed entry's [at, end)); 0 when one is there twice (a list in
 * its dict), is not UTF-8 (bytes; a name is, unless the bytes are not `pack`'s), or there are
 * too many; -1 when the bytes are no entry. */
static int read_entry(const char *data, Py_ssize_t at, Py_ssize_t end, Entry *e) {
    uint64_t seen = 0; /* the hashes' low 6 bits, as a set */
    e->n = 0;
    memset(e->at, -1, sizeof e->at);
    while (at < end) {
        const char *name, *value;
        Py_ssize_t name_n, value_n;
        if (!pack_next_field(data, end, &at, &name, &name_n, &value, &value_n))
            return -1;
        int i = e->n;
        if (i == MAX_ENTRY_FIELDS || !valid_utf8(value, value_n) || !valid_utf8(name, name_n))
            return 0;
        uint32_t h = 2166136261u; /* FNV-1a */
        for (Py_ssize_t k = 0; k < name_n; k++)
            h = (h ^ (unsigned char)name[k]) * 16777619u;
        if (seen >> (h & 63) & 1)
            for (int j = 0; j < i; j++)
                if (e->hash[j] == h && text_eq(e->name[j], name, name_n))
                    return 0;
        seen |= 1ull << (h & 63);
        int f = field_number(name, name_n);
        if (f >= 0)
            e->at[f] = i;
        e->name[i] = (Text){name, name_n};
        e->value[i] = (Text){value, value_n};
        e->hash[i] = h;
        e->used[i] = 0;
        e->n++;
    }
    return 1;
}

/* -- taking fields out (`c.pop(...)`) ------------------------------------------------------------ */

/* The field, taken out: 0 when absent. */
int take(Entry *e, int f, Text *out) {
    int i = e->at[f];
    if (i < 0)
        return 0;
    e->used[i] = 1;
    *out = e->value[i];
    return 1;
}

/* `c.pop(a, None) or c.pop(b, None) ...`: the first non-empty value; 0 when none. */
int take_first(Entry *e, const int *fields, int n, Text *out) {
    for (int k = 0; k < n; k++)
        if (take(e, fields[k], out) && out->n > 0)
            return 1;
    return 0;
}

int take_one(Entry *e, int f, Text *out) { return take_first(e, &f, 1, out); }

/* `_pop_int`: the field as a number, taken out, if it is 1-18 ASCII digits; else 0, left. */
int take_int(Entry *e, int f, unsigned long long *out) {
    int i = e->at[f];
    if (i < 0 || e->value[i].n == 0 || e->value[i].n > 18)
        return 0;
    unsigned long long v = 0;
    for (Py_ssize_t k = 0; k < e->value[i].n; k++) {
        char c = e->value[i].p[k];
        if (c < '0' || c > '9')
            return 0;
        v = v * 10 + (unsigned)(c - '0');
    }
    e->used[i] = 1;
    *out = v;
    return 1;
}

/* The code of a PRIORITY or SYSLOG_FACILITY value as journald writes it (str(code), code < limit);
 * -1 when absent, -2 for anything else (`_odd_log`: the Python path). */
static int code_of(const Entry *e, int f, int limit) {
    int i = e->at[f];
    if (i < 0)
        return -1;
    Text v = e->value[i];
    if (v.n < 1 || v.n > 2 || v.p[0] < '0' || v.p[0] > '9' || (v.n == 2 && (v.p[0] == '0' || v.p[1] < '0' || v.p[1] > '9')))
        return -2;
    int code = v.n == 1 ? v.p[0] - '0' : (v.p[0] - '0') * 10 + (v.p[1] - '0');
    return code < limit ? code : -2;
}

static int is_message_id(const Plan *plan, Text mid) {
    for (int m = 0; m < plan->n_message_ids; m++)
        if (text_eq(plan->message_ids[m], mid.p, mid.n))
            return 1;
    return 0;
}

/* Whether the lane takes the entry (see the module comment): 1, with the document's head fields
 * taken out of it into t; 0; -1 on error. */
static int examine_entry(const Plan *plan, const char *data, Py_ssize_t at, Py_ssize_t end, Entry *e, Taken *t) {
    int r = read_entry(data, at, end, e);
    if (r <= 0)
        return r;
    int ts_field = e->at[JF_SOURCE_TS] >= 0 ? JF_SOURCE_TS : JF_REALTIME_TS;
    int i = e->at[ts_field];
    t->severity = code_of(e, JF_PRIORITY, 8);
    t->facility = code_of(e, JF_SYSLOG_FACILITY, 24);
    if (i < 0 || !journal_stamp(e->value[i].p, e->value[i].n, t->ts) || t->severity == -2 || t->facility == -2)
        return 0;
    e->used[i] = 1;
    Text message = {"", 0}, mid;
    take(e, JF_MESSAGE, &message);
    t->host = take_one(e, JF_HOSTNAME, &t->host) ? t->host : (Text){"", 0};
    static const int name_fields[] = {JF_SYSLOG_IDENTIFIER, JF_COMM};
    t->name = take_first(e, name_fields, 2, &t->name) ? t->name : (Text){NULL, -1};
    t->has_pid = take_int(e, JF_SYSLOG_PID, &t->pid_value) || take_int(e, JF_PID, &t->pid_value);
    const char *digits = t->has_pid ? digits_of(t->pid_value, t->pid) : t->pid + 24;
    t->key = (Key){t->host, t->name.n >= 0 ? t->name : (Text){"", 0}, {digits, t->pid + 24 - digits}, message,
                   {NULL, -1}, t->ts};
    if (message.n > 0 && take_one(e, JF_MESSAGE_ID, &mid) && is_message_id(plan, mid))
        return 0;
    return quiet_event(plan, t->key.tag, message, &t->mail);
}

/* -- the boots' claims (`BootClaims.fast`) ---------------------------------------------------------- */

/* One host's: [host, boot, first second, lowest, highest] (bytes, bytes, int, int, int). */
typedef struct {
    PyObject *list;
    Text host, boot;
    long long first, lo, hi;
    int moved;
} Claim;

typedef struct {
    Claim *c;
    Py_ssize_t n, last; /* last: the claim found last */
} Claims;

/* The claims of `fast` (None: none checked, n < 0); -1 on error. */
static int claims_open(Claims *cl, PyObject *fast) {
    cl->c = NULL;
    cl->n = -1;
    cl->last = 0;
    if (fast == NULL || fast == Py_None)
        return 0;
    if (!PyList_Check(fast)) {
        PyErr_SetString(PyExc_TypeError, "journal: the boots' claims must be a list");
        return -1;
    }
    Py_ssize_t n = PyList_GET_SIZE(fast);
    cl->c = PyMem_Calloc(n > 0 ? (size_t)n : 1, sizeof(Claim));
    if (cl->c == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t k = 0; k < n; k++) {
        PyObject *item = PyList_GET_ITEM(fast, k);
        Claim *c = &cl->c[k];
        if (!PyList_Check(item) || PyList_GET_SIZE(item) < 5 || !PyBytes_Check(PyList_GET_ITEM(item, 0)) ||
            !PyBytes_Check(PyList_GET_ITEM(item, 1))) {
            PyErr_SetString(PyExc_TypeError, "journal: a boots' claim must be [host, boot, first, lowest, highest]");
            goto error;
        }
        c->list = item;
        c->host = (Text){PyBytes_AS_STRING(PyList_GET_ITEM(item, 0)), PyBytes_GET_SIZE(PyList_GET_ITEM(item, 0))};
        c->boot = (Text){PyBytes_AS_STRING(PyList_GET_ITEM(item, 1)), PyBytes_GET_SIZE(PyList_GET_ITEM(item, 1))};
        c->first = PyLong_AsLongLong(PyList_GET_ITEM(item, 2));
        c->lo = PyLong_AsLongLong(PyList_GET_ITEM(item, 3));
        c->hi = PyLong_AsLongLong(PyList_GET_ITEM(item, 4));
        if (PyErr_Occurred())
            goto error;
    }
    cl->n = n;
    return 0;
error:
    PyMem_Free(cl->c);
    cl->c = NULL;
    return -1;
}

/* Whether the claims let the lane take the entry (see the module comment): 1, its second noted; 0. */
static int claimed(Claims *cl, const Entry *e, const Taken *t) {
    if (cl->n < 0)
        return 1;
    Py_ssize_t k = cl->last;
    if (k >= cl->n || !text_eq(cl->c[k].host, t->host.p, t->host.n)) {
        for (k = 0; k < cl->n && !text_eq(cl->c[k].host, t->host.p, t->host.n); k++)
            ;
        if (k == cl->n)
            return 0;
        cl->last = k;
    }
    Claim *c = &cl->c[k];
    int b = e->at[JF_BOOT_ID], s = e->at[e->at[JF_SOURCE_TS] >= 0 ? JF_SOURCE_TS : JF_REALTIME_TS];
    if (b < 0 || s < 0 || !text_eq(c->boot, e->value[b].p, e->value[b].n))
        return 0;
    long long second = 0; /* (the stamp is 7-18 digits: `journal_stamp`) */
    for (Py_ssize_t i = 0; i < e->value[s].n - 6; i++)
        second = second * 10 + (e->value[s].p[i] - '0');
    if (second < c->first)
        return 0;
    if (second < c->lo)
        c->lo = second;
    if (second > c->hi)
        c->hi = second;
    c->moved = 1;
    return 1;
}

/* The lowest and highest seconds taken, back into the claims' lists; then freed. -1 on error. */
static int claims_close(Claims *cl) {
    int r = 0;
    for (Py_ssize_t k = 0; k < cl->n && r == 0; k++) {
        Claim *c = &cl->c[k];
        if (!c->moved)
            continue;
        PyObject *lo = PyLong_FromLongLong(c->lo), *hi = PyLong_FromLongLong(c->hi);
        if (lo == NULL || hi == NULL || PyList_SetItem(c->list, 3, lo) < 0 || PyList_SetItem(c->list, 4, hi) < 0)
            r = -1;
        else
            lo = hi = NULL;
        Py_XDECREF(lo);
        Py_XDECREF(hi);
    }
    PyMem_Free(cl->c);
    cl->c = NULL;
    return r;
}

/* The key of an entry whose second another boot of its host took: its message + "\x1e" + its boot
 * (`IdAssigner.assign`: the whole key then ends so; the lane takes no entry with a container). */
static int apart_key(Buf *b, const Entry *e, Key *key) {
    int i = e->at[JF_BOOT_ID];
    Text boot = i >= 0 ? e->value[i] : (Text){"", 0};
    b->n = 0;
    if (put(b, key->msg.p, key->msg.n) < 0 || put(b, "\x1e", 1) < 0 || put(b, boot.p, boot.n) < 0)
        return -1;
    key->msg = (Text){b->p, b->n};
    return 0;
}

/* The journal's arguments: the packed entries, where to start. */
static int entries_args(PyObject *data, Py_ssize_t start, const char **p, Py_ssize_t *size) {
    *p = PyBytes_AS_STRING(data);
    *size = PyBytes_GET_SIZE(data);
    if (start < 0 || start > *size) {
        PyErr_SetString(PyExc_ValueError, "start is not within the packed entries");
        return -1;
    }
    return 0;
}

static int journal_ready(const Plan *plan) {
    if (!plan->journal)
        PyErr_SetString(PyExc_ValueError, "this Plan was made without the journal's data");
    return plan->journal;
}

PyObject *plan_journal_scan(Plan *self, PyObject *args) {
    PyObject *data, *routes;
    Py_ssize_t start, most, size;
    const char *p;
    if (!PyArg_ParseTuple(args, "O!nnO!:journal_scan", &PyBytes_Type, &data, &start, &most, &PyList_Type, &routes) ||
        check_routes(routes) < 0 || !journal_ready(self) || entries_args(data, start, &p, &size) < 0)
        return NULL;
    Text heads[MAX_FORMS], mids[MAX_FORMS];
    int r = routes_for(routes, JOURNALD, heads, mids);
    if (r < 0)
        return NULL;
    if (r == 0) /* the routes do not know the dataset: no entry is taken */
        return PyLong_FromSsize_t(size);
    Py_ssize_t pos = start;
    for (Py_ssize_t k = 0; k < most && pos < size; k++) {
        Py_ssize_t at, end, here = pos;
        Entry e;
        Taken t;
        if (!pack_next_entry(p, size, &pos, &at, &end) || (r = examine_entry(self, p, at, end, &e, &t)) < 0)
            return NULL;
        if (r)
            return PyLong_FromSsize_t(here);
    }
    return PyLong_FromSsize_t(pos);
}

PyObject *plan_journal(Plan *self, PyObject *args) {
    PyObject *data, *live, *outs, *routes, *fast = NULL;
    int decided = -1; /* the first entry's: -1 checked against the claims, 0 decided plain, 1 apart */
    Py_ssize_t start, size;
    const char *p;
    Ids ids;
    Claims claims;
    if (!PyArg_ParseTuple(args, "O!nO!O!O!|Oi:journal", &PyBytes_Type, &data, &start, &PyTuple_Type, &live,
                          &PyList_Type, &outs, &PyList_Type, &routes, &fast, &decided) ||
        check_outs(outs, routes) < 0 || !journal_ready(self) || entries_args(data, start, &p, &size) < 0)
        return NULL;
    Py_ssize_t forms = PyList_GET_SIZE(outs);
    Text heads[MAX_FORMS], mids[MAX_FORMS];
    int r = routes_for(routes, JOURNALD, heads, mids);
    if (r < 0 || claims_open(&claims, fast) < 0)
        return NULL;
    if (ids_open(&ids, live) < 0) {
        PyMem_Free(claims.c);
        return NULL;
    }
    Buf body = {NULL, 0, 0}, quoted = {NULL, 0, 0}, rest = {NULL, 0, 0}, apart = {NULL, 0, 0};
    PyObject *last_ts = Py_NewRef(Py_None);
    Py_ssize_t pos = start, count = 0;
    char last[28] = "";
    while (r && pos < size) {
        Py_ssize_t at, end, next = pos;
        Entry e;
        Taken t;
        char id[32];
        if (!pack_next_entry(p, size, &next, &at, &end) || (r = examine_entry(self, p, at, end, &e, &t)) < 0)
            goto error;
        int first = pos == start && decided >= 0;
        if (r == 0 || (!first && !claimed(&claims, &e, &t)))
            break;
        Key key = t.key;
        if (first && decided && apart_key(&apart, &e, &key) < 0)
            goto error;
        Py_ssize_t id_at;
        Row row = {{id, 32}, {t.ts, 27}, t.host, t.name, t.key.msg, {0, 0}, &rest};
        quoted.n = 0;
        if (put_entry(&body, self, &e, &t, &id_at, row.message) < 0 || next_second(&ids, t.ts) < 0 ||
            event_id(ids.seen, &key, id) < 0 || put_str(&quoted, id, 32) < 0)
            goto error;
        memcpy(body.p + id_at, id, 32);
        if (add_items((int)forms, heads, mids, outs, &body, (Text){quoted.p, quoted.n}, &row) < 0)
            goto error;
        memcpy(last, t.ts, 28);
        pos = next;
        count++;
    }
    if (count > 0) {
        Py_SETREF(last_ts, PyUnicode_FromStringAndSize(last, 27));
        if (last_ts == NULL)
            goto error;
    }
    PyMem_Free(body.p);
    PyMem_Free(quoted.p);
    PyMem_Free(rest.p);
    PyMem_Free(apart.p);
    if (claims_close(&claims) < 0) {
        ids_clear(&ids);
        Py_DECREF(last_ts);
        return NULL;
    }
    return Py_BuildValue("nnNN", pos, count, last_ts, ids_close(&ids));
error:
    PyMem_Free(claims.c);
    PyMem_Free(body.p);
    PyMem_Free(quoted.p);
    PyMem_Free(rest.p);
    PyMem_Free(apart.p);
    ids_clear(&ids);
    Py_XDECREF(last_ts);
    return NULL;
}

PyObject *cut_entries(PyObject *module, PyObject *args) {
    PyObject *data;
    Py_ssize_t start, most, size, at, end;
    const char *p;
    if (!PyArg_ParseTuple(args, "O!nn:cut_entries", &PyBytes_Type, &data, &start, &most) ||
        entries_args(data, start, &p, &size) < 0)
        return NULL;
    for (Py_ssize_t k = 0; k < most && start < size; k++)
        if (!pack_next_entry(p, size, &start, &at, &end))
            return NULL;
    return PyLong_FromSsize_t(start);
}
