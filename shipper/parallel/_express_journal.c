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
 *     process prefilter passed (`event_quiet`, which also gives sendmail's fields); or only a
 *     start's (its MESSAGE_ID or texts: STARTS) that ends no troubled unit (_express_starts.c);
 *   - it has at most MAX_ENTRY_FIELDS fields;
 *   - with the boots' claims given, the claims let it be taken (_express_journal_claims.c).
 * It then writes the document's JSON from the fields, key for key in journal_doc's order, as
 * orjson writes it. shipper/parallel/express.py (`JournalLane`) hands every other entry to the
 * Python path, in order; tests/unit/test_express_journal.py compares both, byte for byte.
 */
#include "_express_journal_claims.h"

/* A field name's hash, to find a name twice in an entry and journal_doc's fields by name. Any
 * hash does for both (equal names hash alike; names that collide are compared): this one reads
 * the name's first and last eight bytes, not every byte (FNV-1a's byte loop and a search by
 * length took ~550 more instructions an entry, 4% of the lane). */
static inline uint32_t name_hash(const char *name, Py_ssize_t n) {
    uint64_t a = 0, b = 0;
    if (n >= 8) {
        memcpy(&a, name, 8);
        memcpy(&b, name + n - 8, 8);
    } else
        for (Py_ssize_t k = 0; k < n; k++)
            a |= (uint64_t)(unsigned char)name[k] << (8 * k);
    uint64_t h = (a * 0x9E3779B97F4A7C15ull) ^ (b * 0xC2B2AE3D27D4EB4Full) ^ (uint64_t)n;
    h ^= h >> 29;
    return (uint32_t)((h * 0xBF58476D1CE4E5B9ull) >> 32);
}

/* journal_doc's field names by hash (open addressing), to find a field's number. */
#define NAME_SLOTS 256 /* a power of two, well over JF_N_FIELDS */
static signed char by_hash[NAME_SLOTS];
static Py_ssize_t name_length[JF_N_FIELDS];

/* The field's number, -1 when journal_doc reads no such field (`h`: its `name_hash`). */
static int field_number(const char *name, Py_ssize_t n, uint32_t h) {
    for (uint32_t slot = h; by_hash[slot % NAME_SLOTS] >= 0; slot++) {
        int f = by_hash[slot % NAME_SLOTS];
        if (name_length[f] == n && memcmp(journal_field_names[f], name, (size_t)n) == 0)
            return f;
    }
    return -1;
}

static PyObject *JOURNALD; /* "journald": the documents' event.dataset, a key of the routes */

int journal_init(void) {
    memset(by_hash, -1, sizeof by_hash);
    for (int f = 0; f < JF_N_FIELDS; f++) {
        name_length[f] = (Py_ssize_t)strlen(journal_field_names[f]);
        uint32_t slot = name_hash(journal_field_names[f], name_length[f]);
        while (by_hash[slot % NAME_SLOTS] >= 0)
            slot++;
        by_hash[slot % NAME_SLOTS] = (signed char)f;
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
        uint32_t h = name_hash(name, name_n);
        if (seen >> (h & 63) & 1)
            for (int j = 0; j < i; j++)
                if (e->hash[j] == h && text_eq(e->name[j], name, name_n))
                    return 0;
        seen |= 1ull << (h & 63);
        int f = field_number(name, name_n, h);
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

static int is_one_of(const Text *ids, int n, Text mid) {
    for (int m = 0; m < n; m++)
        if (text_eq(ids[m], mid.p, mid.n))
            return 1;
    return 0;
}

/* Whether the lane takes the entry (see the module comment): 1, with the document's head fields
 * taken out of it into t; 0; STARTS for a start the lane takes if no unit it may end is troubled
 * (_express_starts.c); -1 on error. */
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
    /* No process name but a unit: `Recognise` matches it as the unit's process (`UnitMap.process`). */
    if (t->name.n < 0 && (e->at[JF_UNIT] >= 0 || e->at[JF_SYSTEMD_UNIT] >= 0 || e->at[JF_USER_UNIT] >= 0 ||
                          e->at[JF_SYSTEMD_USER_UNIT] >= 0))
        return 0;
    t->has_pid = take_int(e, JF_SYSLOG_PID, &t->pid_value) || take_int(e, JF_PID, &t->pid_value);
    const char *digits = t->has_pid ? digits_of(t->pid_value, t->pid) : t->pid + 24;
    t->key = (Key){t->host, t->name.n >= 0 ? t->name : (Text){"", 0}, {digits, t->pid + 24 - digits}, message,
                   {NULL, -1}, t->ts};
    t->start_by_id = 0;
    if (message.n > 0 && take_one(e, JF_MESSAGE_ID, &mid)) {
        if (is_one_of(plan->message_ids, plan->n_message_ids, mid))
            return 0;
        t->start_by_id = is_one_of(plan->start_ids, plan->n_start_ids, mid);
    }
    r = event_quiet(plan, t->key.tag, message, &t->mail);
    return t->start_by_id && r == 1 ? STARTS : r;
}

/* `start_free` for an entry `examine_entry` found STARTS, with the stems of its unit fields too. */
static int free_start(const Starts *starts, const Entry *e, const Taken *t, Stems *stems) {
    static const int fields[] = {JF_USER_UNIT, JF_SYSTEMD_USER_UNIT, JF_UNIT, JF_SYSTEMD_UNIT};
    Text units[4];
    for (int k = 0; k < 4; k++)
        units[k] = e->at[fields[k]] >= 0 ? e->value[e->at[fields[k]]] : (Text){NULL, -1};
    return start_stems(t->host, t->key.msg, units, 4, t->start_by_id, stems) ? start_free(starts, stems, t->ts) : 0;
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
    PyObject *data, *routes, *arg = Py_None;
    Py_ssize_t start, most, size;
    const char *p;
    Starts starts;
    if (!PyArg_ParseTuple(args, "O!nnO!|O:journal_scan", &PyBytes_Type, &data, &start, &most, &PyList_Type, &routes,
                          &arg) ||
        check_routes(routes) < 0 || !journal_ready(self) || entries_args(data, start, &p, &size) < 0 ||
        starts_open(&starts, arg) < 0)
        return NULL;
    starts.asked = NULL; /* (scan takes nothing) */
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
        Stems stems;
        if (!pack_next_entry(p, size, &pos, &at, &end) || (r = examine_entry(self, p, at, end, &e, &t)) < 0 ||
            (r == STARTS && (r = free_start(&starts, &e, &t, &stems)) < 0))
            return NULL;
        if (r)
            return PyLong_FromSsize_t(here);
    }
    return PyLong_FromSsize_t(pos);
}

PyObject *plan_journal(Plan *self, PyObject *args) {
    PyObject *data, *live, *outs, *routes, *fast = NULL, *arg = Py_None;
    int decided = -1; /* the first entry's: -1 checked against the claims, 0 decided plain, 1 apart */
    Py_ssize_t start, size;
    const char *p;
    Ids ids;
    Claims claims;
    Starts starts;
    if (!PyArg_ParseTuple(args, "O!nO!O!O!|OiO:journal", &PyBytes_Type, &data, &start, &PyTuple_Type, &live,
                          &PyList_Type, &outs, &PyList_Type, &routes, &fast, &decided, &arg) ||
        check_outs(outs, routes) < 0 || !journal_ready(self) || entries_args(data, start, &p, &size) < 0 ||
        starts_open(&starts, arg) < 0)
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
        int first = pos == start && decided >= 0, start_taken = r == STARTS;
        Stems stems;
        if (start_taken && (r = free_start(&starts, &e, &t, &stems)) < 0)
            goto error;
        if (r == 0 || (!first && !claimed(&claims, &e, &t)))
            break;
        if (start_taken && start_note(&starts, &stems, t.ts) < 0)
            goto error;
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
