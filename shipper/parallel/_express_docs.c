/* The tail of a replay worker, in C: documents any parser built -> ids, recognition's prefilters,
 * items (`Plan.docs`).
 *
 * The Python stages are the specification: `IdAssigner.assign` and `content_key`
 * (shipper/ids.py), `Recognise.enrich` with `sendmail.add_fields` (shipper/enrich/), and the
 * encoders (`bulk.Encoder`, `ndjson.encode_lines`: orjson). `Plan.docs` takes documents in order
 * while each needs none of their rarer branches (`examine_doc`): a dict with an event dict (no id
 * yet) of a dataset the routes know, a stamp of 19 ASCII characters or more, host, process,
 * container and message fields of the types the parsers write; no data_stream, rootcause, tags,
 * error or sendmail fields; a process name, or no systemd field (`UnitMap.process`); no known
 * MESSAGE_ID, no gate or prefilter passed; values orjson writes as this file does (str, int within
 * 64 bits, bool, None, dict with str keys, list, tuple; no float, no subclass).
 * shipper/parallel/express.py (`Tail`) hands every other document to the Python stages, in order.
 * tests/unit/test_express.py compares both.
 */
#include "_express.h"

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

/* The keys the tail reads, made once (their hashes cached) by `docs_init`. */
enum { K_DATASTREAM, K_ROOTCAUSE, K_TAGS, K_ERROR, K_SENDMAIL, K_EVENT, K_ID, K_DATASET, K_TIMESTAMP, K_HOST, K_PROCESS, K_CONTAINER, K_PID, K_NAME, K_MESSAGE, K_JOURNALD, K_MESSAGEID, K_SYSTEMD, N_KEYS };
static const char *const key_names[N_KEYS] = {"data_stream", "rootcause", "tags", "error", "sendmail", "event", "id", "dataset", "@timestamp", "host", "process", "container", "pid", "name", "message", "journald", "message_id", "systemd"};
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

/* Python's truth of a field the parsers write (None, a dict or a str), without running Python
 * code (a __bool__ could change the list being read); -1 for any other value. */
static int truth(PyObject *v) {
    if (v == NULL || v == Py_None)
        return 0;
    if (PyDict_CheckExact(v))
        return PyDict_GET_SIZE(v) > 0;
    if (PyUnicode_CheckExact(v))
        return PyUnicode_GET_LENGTH(v) > 0;
    return -1;
}

typedef struct {
    Key key;
    Text ts; /* @timestamp */
    char pid[24];
    PyObject *event; /* the event dict (borrowed) */
    PyObject *dataset;
    Text given; /* event.id when ids are given */
    Fields mail; /* its sendmail.* fields */
} Doc;

/* Whether the tail takes a document: what `IdAssigner.assign`, `Recognise.enrich` and the encoders
 * would do with it needs none of their rarer branches (see the module comment). */
static int examine_doc(Plan *plan, PyObject *doc, PyObject *message_ids, int given, Doc *d) {
    static const int python_only[] = {K_DATASTREAM, K_ROOTCAUSE, K_TAGS, K_ERROR, K_SENDMAIL};
    if (!PyDict_CheckExact(doc))
        return 0;
    for (size_t k = 0; k < sizeof python_only / sizeof *python_only; k++)
        if (item(doc, python_only[k]) != NULL)
            return 0;
    d->event = item(doc, K_EVENT);
    if (d->event == NULL || !PyDict_CheckExact(d->event))
        return 0;
    PyObject *id = item(d->event, K_ID); /* given: each must have one; else none may */
    if ((id != NULL) != given || (given && !text_of(id, &d->given)))
        return 0;
    d->dataset = item(d->event, K_DATASET);
    if (d->dataset == NULL || !PyUnicode_CheckExact(d->dataset))
        return 0;
    Text ts, tag = {"", 0}, pid = {"", 0};
    PyObject *stamp = item(doc, K_TIMESTAMP);
    if (stamp == NULL || !text_of(stamp, &ts) || ts.n < 19 || !PyUnicode_IS_ASCII(stamp))
        return 0;
    d->key.second = ts.p;
    d->ts = ts;
    PyObject *host = item(doc, K_HOST), *proc = item(doc, K_PROCESS), *container = item(doc, K_CONTAINER);
    d->key.host = (Text){"", 0};
    int present = truth(host);
    if (present < 0 || (present && (!PyDict_CheckExact(host) || !text_in(host, K_NAME, &d->key.host))))
        return 0;
    PyObject *name = NULL;
    if (proc != NULL && proc != Py_None) {
        if (!PyDict_CheckExact(proc))
            return 0;
        if ((name = item(proc, K_NAME)) != NULL && !text_of(name, &tag))
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
    /* No process name but a unit (journalctl -o with-unit: "sendmail.service[123]"): `Recognise`
     * matches it as the process the signature files' units table gives the unit (`UnitMap.process`). */
    if (name == NULL && item(doc, K_SYSTEMD) != NULL)
        return 0;
    d->key.tag = tag;
    d->key.pid = pid;
    d->key.container = (Text){NULL, -1};
    if ((present = truth(container)) < 0 ||
        (present && (!PyDict_CheckExact(container) || !text_in(container, K_NAME, &d->key.container))))
        return 0;
    if (!text_in(doc, K_MESSAGE, &d->key.msg))
        return 0;
    PyObject *journal = item(doc, K_JOURNALD);
    if (d->key.msg.n > 0 && journal != NULL && journal != Py_None) { /* a known MESSAGE_ID: matched by fields */
        PyObject *mid = PyDict_CheckExact(journal) ? item(journal, K_MESSAGEID) : NULL;
        if (!PyDict_CheckExact(journal) || (mid != NULL && (!PyUnicode_CheckExact(mid) || PySequence_Contains(message_ids, mid) != 0)))
            return PyErr_Occurred() ? -1 : 0;
    }
    return quiet_event(plan, tag, d->key.msg, &d->mail); /* no name: "" (no prefilter, no sendmail ident) */
}

/* The document's JSON after its opening brace, with event.id (its place at *id_at), and the
 * sendmail.* fields last; `message` (its key, value and one comma) is `b->p[message[0]:message[1]]`. */
static int put_doc(Buf *b, PyObject *doc, const Doc *d, Py_ssize_t *id_at, Py_ssize_t message[2]) {
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    b->n = 0;
    message[0] = -1;
    int any = 0, r, first = 0; /* the message is the first member: the comma after it goes with it (the
                                 * document has @timestamp and event too: `examine_doc`) */
    while (PyDict_Next(doc, &pos, &key, &value)) {
        if (!PyUnicode_CheckExact(key))
            return 0;
        Py_ssize_t at = b->n;
        if (any && PUT_LIT(b, ",") < 0)
            return -1;
        if (first) {
            message[1] = b->n;
            first = 0;
        }
        if ((r = put_value(b, key, 1)) < 0 || PUT_LIT(b, ":") < 0)
            return -1;
        if (value == d->event && PyUnicode_CompareWithASCIIString(key, "event") != 0)
            return 0; /* the event object twice: Python's */
        if (r == 0 || (r = value == d->event ? put_dict(b, value, 1, id_at) : put_value(b, value, 1)) <= 0)
            return r;
        if (PyUnicode_GET_LENGTH(key) == 7 && PyUnicode_CompareWithASCIIString(key, "message") == 0) {
            message[0] = at;
            message[1] = b->n;
            first = !any;
        }
        any = 1;
    }
    if (message[0] < 0) /* none: nothing is cut */
        message[0] = message[1] = 0;
    if (put_fields(b, &d->mail, any) < 0)
        return -1;
    return PUT_LIT(b, "}") < 0 ? -1 : 1;
}

/* Each form's bytes around the id for the document's dataset; 0 when a route does not know it. */
int routes_for(PyObject *routes, PyObject *dataset, Text *heads, Text *mids) {
    Py_ssize_t n = PyList_GET_SIZE(routes);
    for (Py_ssize_t f = 0; f < n; f++) {
        PyObject *route = PyList_GET_ITEM(routes, f), *form;
        if (route == Py_None) { /* NDJSON: the document alone */
            heads[f] = (Text){NULL, NO_ID};
            mids[f] = (Text){"{", 1};
            continue;
        }
        if (PyUnicode_Check(route)) { /* "row": the local store's row (`check_routes`) */
            heads[f] = (Text){NULL, ROW};
            mids[f] = (Text){"", 0};
            continue;
        }
        if (!PyDict_Check(route) || (form = PyDict_GetItemWithError(route, dataset)) == NULL)
            return PyErr_Occurred() ? -1 : 0;
        PyObject *head = PyTuple_GET_ITEM(form, 0), *mid = PyTuple_GET_ITEM(form, 1);
        heads[f] = head == Py_None ? (Text){NULL, NO_ID} : (Text){PyBytes_AS_STRING(head), PyBytes_GET_SIZE(head)};
        mids[f] = (Text){PyBytes_AS_STRING(mid), PyBytes_GET_SIZE(mid)};
    }
    return 1;
}

/* Whether the tail takes a document (`examine_doc`) to every form (`routes_for`): 1, 0, -1 on error. */
static int takes(Plan *plan, PyObject *doc, PyObject *message_ids, int given, PyObject *routes, Doc *d, Text *heads, Text *mids) {
    int r = examine_doc(plan, doc, message_ids, given, d);
    return r > 0 ? routes_for(routes, d->dataset, heads, mids) : r;
}

/* routes: a list of None, "row" (the local store's rows) or dicts of dataset -> (bytes or None,
 * bytes), at most MAX_FORMS. */
int check_routes(PyObject *routes) {
    Py_ssize_t forms = PyList_GET_SIZE(routes);
    for (Py_ssize_t f = 0; f < forms && forms <= MAX_FORMS; f++) {
        PyObject *route = PyList_GET_ITEM(routes, f), *key, *form;
        Py_ssize_t pos = 0;
        if (route == Py_None || (PyUnicode_Check(route) && PyUnicode_CompareWithASCIIString(route, "row") == 0))
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
    PyErr_SetString(PyExc_TypeError, "routes: at most 4, each None, \"row\" or a dict of dataset -> (bytes or None, bytes)");
    return -1;
}

/* outs: a list per route (see check_routes), each a list. */
int check_outs(PyObject *outs, PyObject *routes) {
    if (check_routes(routes) < 0)
        return -1;
    Py_ssize_t forms = PyList_GET_SIZE(outs);
    if (forms != PyList_GET_SIZE(routes)) {
        PyErr_SetString(PyExc_ValueError, "one route per output list");
        return -1;
    }
    for (Py_ssize_t f = 0; f < forms; f++)
        if (!PyList_Check(PyList_GET_ITEM(outs, f))) {
            PyErr_SetString(PyExc_TypeError, "outs: lists");
            return -1;
        }
    return 0;
}

PyObject *plan_docs_scan(Plan *self, PyObject *args) {
    PyObject *docs, *routes, *message_ids;
    Py_ssize_t start;
    int given;
    if (!PyArg_ParseTuple(args, "O!nO!Op:docs_scan", &PyList_Type, &docs, &start, &PyList_Type, &routes, &message_ids,
                          &given) ||
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
        int r = takes(self, PyList_GET_ITEM(docs, i), message_ids, given, routes, &d, heads, mids);
        if (r < 0)
            return NULL;
        if (r)
            break;
    }
    return PyLong_FromSsize_t(i);
}

PyObject *plan_docs(Plan *self, PyObject *args) {
    PyObject *docs, *live, *outs, *routes, *message_ids;
    Py_ssize_t start;
    Ids ids;
    if (!PyArg_ParseTuple(args, "O!nOO!O!O:docs", &PyList_Type, &docs, &start, &live, &PyList_Type, &outs, &PyList_Type,
                          &routes, &message_ids) ||
        check_outs(outs, routes) < 0)
        return NULL;
    if (start < 0) {
        PyErr_SetString(PyExc_ValueError, "start must not be negative");
        return NULL;
    }
    if (ids_open(&ids, live) < 0)
        return NULL;
    int given = ids.seen == NULL; /* the documents carry their ids: none is counted */
    Py_ssize_t forms = PyList_GET_SIZE(outs);
    Buf body = {NULL, 0, 0}, quoted = {NULL, 0, 0}, rest = {NULL, 0, 0};
    Py_ssize_t i = start, n = PyList_GET_SIZE(docs);
    for (; i < n; i++) {
        PyObject *doc = PyList_GET_ITEM(docs, i);
        Doc d;
        Text heads[MAX_FORMS], mids[MAX_FORMS];
        char id[32];
        int r = takes(self, doc, message_ids, given, routes, &d, heads, mids);
        if (r < 0)
            goto error;
        if (r == 0)
            break;
        /* The body is written before the id is counted, so that a document orjson would write
         * otherwise is left to Python whole; the id goes into its place afterwards. */
        Py_ssize_t id_at = -1;
        Row row = {given ? d.given : (Text){id, 32}, d.ts, d.key.host, d.key.tag, d.key.msg, {0, 0}, &rest};
        if ((r = put_doc(&body, doc, &d, given ? NULL : &id_at, row.message)) < 0)
            goto error;
        if (r == 0 || (!given && id_at < 0))
            break;
        quoted.n = 0;
        if (given) {
            if (put_str(&quoted, d.given.p, d.given.n) < 0)
                goto error;
        } else {
            if (next_second(&ids, d.key.second) < 0 || event_id(ids.seen, &d.key, id) < 0)
                goto error;
            memcpy(body.p + id_at, id, 32);
            if (put_str(&quoted, id, 32) < 0)
                goto error;
        }
        if (add_items((int)forms, heads, mids, outs, &body, (Text){quoted.p, quoted.n}, &row) < 0)
            goto error;
    }
    PyMem_Free(body.p);
    PyMem_Free(quoted.p);
    PyMem_Free(rest.p);
    return Py_BuildValue("nN", i, ids_close(&ids));
error:
    PyMem_Free(body.p);
    PyMem_Free(quoted.p);
    PyMem_Free(rest.p);
    ids_clear(&ids);
    return NULL;
}

int docs_init(void) {
    for (int k = 0; k < N_KEYS; k++)
        if ((KEYS[k] = PyUnicode_InternFromString(key_names[k])) == NULL)
            return -1;
    return 0;
}
