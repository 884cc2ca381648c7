/* The express lane of a replay worker (and the tail of the daemon's batches), in C: the common
 * line or document to its items in one pass. shipper/parallel/express.py drives it and takes turns
 * with the Python stages, which are the specification; tests/unit/test_express.py compares both.
 *
 * Files: _express.c (this: the Plan, recognition's prefilters, the module), _express_lines.c
 * (syslog lines: `Plan.scan`, `Plan.run`; which lines it takes is described there),
 * _express_docs.c (documents any parser built: `Plan.docs_scan`, `Plan.docs`), _express_journal.c,
 * _express_journal_claims.c and _express_journal_doc.c (packed journal entries: `Plan.journal_scan`,
 * `Plan.journal`), _express_starts.c (the starts both lanes take), _express_codec.c (JSON as orjson
 * writes it, BLAKE2b-128 from RFC 7693, ids, items), _express.h.
 *
 * The Plan holds recognition's data (gates, process prefilters, sendmail idents and keys) and the
 * encoders' constant bytes, all given by the Python objects: nothing of them is written here.
 */
#include "_express.h"

/* -- the plan: what the Python objects say, as C arrays ----------------------------------------- */

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

/* The journal lane's data: (severity names, facility names, MESSAGE_IDs[, those of starts only]), all bytes. */
static int take_journal(Plan *self, PyObject *journal) {
    PyObject *severities, *facilities, *message_ids, *start_ids = NULL;
    int n_sev, n_fac;
    self->n_start_ids = 0;
    if (!PyArg_ParseTuple(journal, "O!O!O!|O!:journal", &PyTuple_Type, &severities, &PyTuple_Type, &facilities,
                          &PyTuple_Type, &message_ids, &PyTuple_Type, &start_ids) ||
        take_texts(severities, self->severities, 8, &n_sev, "severities") < 0 ||
        take_texts(facilities, self->facilities, 24, &n_fac, "facilities") < 0 ||
        take_texts(message_ids, self->message_ids, MAX_MESSAGE_IDS, &self->n_message_ids, "MESSAGE_IDs") < 0 ||
        (start_ids != NULL &&
         take_texts(start_ids, self->start_ids, MAX_MESSAGE_IDS, &self->n_start_ids, "starts' MESSAGE_IDs") < 0))
        return -1;
    if (n_sev != 8 || n_fac != 24) {
        PyErr_SetString(PyExc_ValueError, "journal: 8 severity names and 24 facility names");
        return -1;
    }
    self->journal = 1;
    return 0;
}

/* The pairs of `set`'s texts (`Needles`). */
static void index_needles(Needles *set) {
    memset(set->pairs, 0, sizeof set->pairs);
    set->by_pairs = 1;
    for (int i = 0; i < set->n; i++) {
        const unsigned char *s = (const unsigned char *)set->texts[i].p;
        if (set->texts[i].n < 2) {
            set->by_pairs = 0;
            return;
        }
        set->first[i] = (uint16_t)(s[0] << 8 | s[1]);
        set->pairs[set->first[i] >> 3] |= (uint8_t)(1u << (set->first[i] & 7));
    }
}

/* `set`: the plan's gates and `texts`, indexed. */
static int with_gates(const Plan *self, PyObject *texts, Needles *set) {
    int n_texts;
    memcpy(set->texts, self->gates.texts, (size_t)self->gates.n * sizeof(Text));
    if (take_texts(texts, set->texts + self->gates.n, MAX_FILTER_TEXTS, &n_texts, "prefilters") < 0)
        return -1;
    set->n = self->gates.n + n_texts;
    index_needles(set);
    return 0;
}

static int plan_init(Plan *self, PyObject *args, PyObject *kwds) {
    PyObject *gates, *filters, *mail_names, *mail_keys, *forms, *log_head, *journal = NULL;
    if (!PyArg_ParseTuple(args, "O!O!O!O!O!O!|O!:Plan", &PyTuple_Type, &gates, &PyTuple_Type, &filters, &PyTuple_Type,
                          &mail_names, &PyTuple_Type, &mail_keys, &PyTuple_Type, &forms, &PyBytes_Type, &log_head,
                          &PyTuple_Type, &journal))
        return -1;
    Py_XSETREF(self->keep, Py_NewRef(args));
    if (take_texts(gates, self->gates.texts, MAX_GATES, &self->gates.n, "gates") < 0 ||
        take_texts(mail_names, self->mail_names, MAX_NAMES, &self->n_mail_names, "sendmail idents") < 0 ||
        take_texts(mail_keys, self->mail_keys, MAX_KEYS, &self->n_mail_keys, "sendmail keys") < 0)
        return -1;
    if (PyTuple_GET_SIZE(filters) > MAX_FILTERS || PyTuple_GET_SIZE(forms) > MAX_FORMS) {
        PyErr_SetString(PyExc_ValueError, "too many process prefilters or forms");
        return -1;
    }
    index_needles(&self->gates);
    self->n_filters = (int)PyTuple_GET_SIZE(filters);
    for (int i = 0; i < self->n_filters; i++) {
        PyObject *name, *texts, *strict = NULL;
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(filters, i), "SO!|O!:filter", &name, &PyTuple_Type, &texts,
                              &PyTuple_Type, &strict))
            return -1;
        self->filter_names[i] = (Text){PyBytes_AS_STRING(name), PyBytes_GET_SIZE(name)};
        self->has_strict[i] = strict != NULL;
        if (with_gates(self, texts, &self->filtered[i]) < 0 || (strict != NULL && with_gates(self, strict, &self->strict[i]) < 0))
            return -1;
    }
    self->n_forms = (int)PyTuple_GET_SIZE(forms);
    for (int i = 0; i < self->n_forms; i++) {
        PyObject *head, *mid, *form = PyTuple_GET_ITEM(forms, i);
        if (PyUnicode_Check(form) && PyUnicode_CompareWithASCIIString(form, "row") == 0) {
            self->form_head[i] = (Text){NULL, ROW};
            self->form_mid[i] = (Text){"", 0};
            continue;
        }
        if (!PyArg_ParseTuple(form, "OS:form", &head, &mid))
            return -1;
        if (head == Py_None)
            self->form_head[i] = (Text){NULL, NO_ID};
        else if (PyBytes_Check(head))
            self->form_head[i] = (Text){PyBytes_AS_STRING(head), PyBytes_GET_SIZE(head)};
        else {
            PyErr_SetString(PyExc_TypeError, "form: bytes or None before the id");
            return -1;
        }
        self->form_mid[i] = (Text){PyBytes_AS_STRING(mid), PyBytes_GET_SIZE(mid)};
    }
    self->log_head = (Text){PyBytes_AS_STRING(log_head), PyBytes_GET_SIZE(log_head)};
    self->journal = 0;
    if (journal != NULL && take_journal(self, journal) < 0)
        return -1;
    return 0;
}

static void plan_dealloc(Plan *self) {
    Py_XDECREF(self->keep);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* -- recognition's prefilters, sendmail's fields ------------------------------------------------ */

int text_eq(Text a, const char *p, Py_ssize_t n) { return a.n == n && memcmp(a.p, p, n) == 0; }

static int contains(Text hay, Text needle) {
    if (needle.n == 0)
        return 1;
    return hay.n >= needle.n && memmem(hay.p, hay.n, needle.p, needle.n) != NULL;
}

/* Whether one of the texts of `set` is in the message: one pass over it, comparing a text only
 * where its first two bytes are (one memmem per text where a text is shorter). */
static int any_in(const Needles *set, Text msg) {
    if (!set->by_pairs) {
        for (int i = 0; i < set->n; i++)
            if (contains(msg, set->texts[i]))
                return 1;
        return 0;
    }
    const unsigned char *p = (const unsigned char *)msg.p, *end = p + msg.n;
    for (; p + 1 < end; p++) {
        unsigned pair = (unsigned)p[0] << 8 | p[1];
        if (!(set->pairs[pair >> 3] & (1u << (pair & 7))))
            continue;
        for (int i = 0; i < set->n; i++)
            if (set->first[i] == pair && set->texts[i].n <= end - p && memcmp(p, set->texts[i].p, set->texts[i].n) == 0)
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
static int mail_key_at(const Plan *plan, const char *p, const char *end) {
    Py_ssize_t w = alnum_run(p, end);
    if (w == 0 || p + w >= end || p[w] != '=')
        return -1;
    for (int k = 0; k < plan->n_mail_keys; k++)
        if (text_eq(plan->mail_keys[k], p, w))
            return k;
    return -1;
}

static void add_field(Fields *f, Text key, Text value) {
    for (int i = 0; i < f->n; i++)
        if (text_eq(f->key[i], key.p, key.n)) { /* a key given twice: first place, last value */
            f->value[i] = value;
            return;
        }
    f->key[f->n] = key;
    f->value[f->n++] = value;
}

/* `sendmail.parse_line` of the message; 0 when it takes a branch left to Python. */
static int mail_fields(const Plan *plan, Text msg, Fields *out) {
    static const char START[] = "starting daemon (";
    const char *text = msg.p, *end = msg.p + msg.n;
    const char *rest = text;
    const char *colon = msg.n >= 2 ? memmem(text, msg.n, ": ", 2) : NULL;
    for (const char *p = text; colon != NULL && p < colon; p++)
        if ((unsigned char)*p >= 0x80)
            return 0; /* the colon's index in characters, str.isalnum() of non-ASCII text: Python's */
    if (colon != NULL && colon - text >= 5 && colon - text <= 20) {
        int alnum = 1;
        for (const char *p = text; p < colon; p++)
            alnum &= is_alnum((unsigned char)*p);
        if (alnum) {
            add_field(out, (Text){"queue_id", 8}, (Text){text, colon - text});
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
            add_field(out, plan->mail_keys[k], (Text){rest, 0});
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
            add_field(out, plan->mail_keys[k], (Text){v, e - v});
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

/* Recognition's prefilters (`Recognise.enrich`) for a message of process `tag`: 0 when one passes
 * (the Python stages recognise the event), else 1, with the sendmail.* fields of a sendmail ident
 * in `fields` (0 when `sendmail.parse_line` takes a branch left to Python). STARTS when only a
 * start's texts pass (the process's strict set passes none) and it has no "\\n" (Python would read
 * it line by line; a "\n": `start_stems`): only `systemd.unit_started` may keep it. */
int event_quiet(const Plan *plan, Text tag, Text msg, Fields *fields) {
    fields->mail = 0;
    fields->n = 0;
    if (msg.n == 0)
        return 1; /* `Recognise.enrich` skips an event without text */
    const Needles *set = &plan->gates; /* or, for a process with prefilters, the gates and those */
    int f = 0;
    for (; f < plan->n_filters; f++)
        if (text_eq(plan->filter_names[f], tag.p, tag.n)) {
            set = &plan->filtered[f]; /* (the names are a dict's keys: one at most) */
            break;
        }
    int r = 1;
    if (any_in(set, msg)) {
        if (f == plan->n_filters || !plan->has_strict[f] || any_in(&plan->strict[f], msg) || memmem(msg.p, msg.n, "\\n", 2))
            return 0;
        r = STARTS;
    }
    for (int m = 0; m < plan->n_mail_names; m++)
        if (text_eq(plan->mail_names[m], tag.p, tag.n)) {
            fields->mail = 1;
            return mail_fields(plan, msg, fields) ? r : 0;
        }
    return r;
}

/* `event_quiet`, a start not told apart (1: quiet, 0: Python's). */
int quiet_event(const Plan *plan, Text tag, Text msg, Fields *fields) { return event_quiet(plan, tag, msg, fields) == 1; }

static PyMethodDef plan_methods[] = {
    {"scan", (PyCFunction)plan_scan, METH_VARARGS,
     "scan(data, start, stop, cap, minutes, most) -> (position, lines): the first line from start\n"
     "(before stop, within most lines) that run() takes or whose minute is not in the cache yet"},
    {"docs_scan", (PyCFunction)plan_docs_scan, METH_VARARGS,
     "docs_scan(docs, start, routes, message_ids) -> the first index from start that docs() takes"},
    {"docs", (PyCFunction)plan_docs, METH_VARARGS,
     "docs(docs, start, ids, outs, routes, message_ids) -> (stop, moved)\n\n"
     "Takes documents from start on while it can (ids, recognition's gates, encoding), appending one\n"
     "item per document to each list of outs; stop is the first document not taken."},
    {"journal_scan", (PyCFunction)plan_journal_scan, METH_VARARGS,
     "journal_scan(data, start, most, routes) -> position: where the first entry from start that\n"
     "journal() takes starts, within most entries (else where the entry most entries on starts)"},
    {"journal", (PyCFunction)plan_journal, METH_VARARGS,
     "journal(data, start, ids, outs, routes) -> (position, entries, last_ts, moved)\n\n"
     "Takes the packed journal entries of data from start on while it can, appending one item per entry\n"
     "to each list of outs; position is where the first entry not taken starts."},
    {"run", (PyCFunction)plan_run, METH_VARARGS,
     "run(data, start, stop, first_offset, cap, minutes, ids, outs)\n"
     "-> (position, lines, last_ts, moved)\n\n"
     "Takes the lines of data from start on (before stop) while it can, appending one item per line to\n"
     "each list of outs; position is where the first line not taken starts. A line's offset is\n"
     "first_offset plus its position. ids is IdAssigner.live() (None for docs whose documents carry\n"
     "their ids), moved what IdAssigner.moved_to takes."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject PlanType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "shipper.parallel._express.Plan",
    .tp_basicsize = sizeof(Plan),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Plan(gates, prefilters, sendmail_idents, sendmail_keys, forms, log_head[, journal]): see express.py",
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
    {"cut", cut_lines, METH_VARARGS,
     "cut(data, start, most) -> (position, lines): where the line most lines after start starts\n"
     "(len(data) + 1 past the last line), and how many lines that is"},
    {"cut_entries", cut_entries, METH_VARARGS,
     "cut_entries(data, start, most) -> position: where the packed journal entry most entries after\n"
     "start starts (len(data) past the last)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_express", "The express lane of a syslog replay worker (see express.py).", -1, module_methods,
};

PyMODINIT_FUNC PyInit__express(void) {
    if (PyType_Ready(&PlanType) < 0 || docs_init() < 0 || journal_init() < 0)
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
