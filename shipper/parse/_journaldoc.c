/* Journal entries -> documents, for `shipper.parse.journal_fields.JournalParser`.
 *
 * `journal_doc` in journal_fields.py is the mapping and its specification. In Python it costs
 * ~2.5 us an entry, nearly all of it dict calls; `docs` builds the same documents here for the
 * common entry, and hands every other entry to `journal_doc` itself, so that rare shapes have one
 * implementation only. An entry goes to `journal_doc` when:
 *   - it is not a dict, or a value is not a str (binary, several values, None: `_normalise`);
 *   - its stamp (`_SOURCE_REALTIME_TIMESTAMP` if present, else `__REALTIME_TIMESTAMP`) is missing,
 *     or is not 7-18 ASCII digits of a second up to 9999-12-31 (invalid, inferred or zero-filled);
 *   - PRIORITY or SYSLOG_FACILITY is not one of the codes journald writes (`_odd_log`).
 * Everything else follows journal_doc step by step: the same fields taken out of a copy of the
 * entry in the same order, so that the documents are equal key for key, in the same key order
 * (the order of their JSON). tests/unit/test_journal_doc_native.py compares both on the corpus
 * and on random entries.
 *
 * The severity and facility tables are journal_fields.py's (`_SEVERITY_OF`, `_FACILITY_OF`),
 * passed in: the names are not repeated here.
 */
#include "../sources/_journalpack.h"

/* The document's keys and constant values. */
enum {
    K_TIMESTAMP, K_MESSAGE, K_EVENT, K_DATASET, K_KIND, V_JOURNALD, V_EVENT, K_HOST, K_NAME, K_PROCESS,
    K_PID, K_SYSTEMD, K_UNIT, K_USER_UNIT, K_INVOCATION_ID, K_SLICE, K_TRANSPORT, K_LOG, K_SYSLOG,
    K_FACILITY, K_SEVERITY, K_CODE, K_PRIORITY, K_LEVEL, K_JOURNALD, K_MESSAGE_ID, K_BOOT_ID,
    K_CURSOR, K_UNIT_RESULT, K_EXIT_CODE, K_COMMAND, K_FUNC, K_JOB, K_TYPE, K_RESULT, K_ID,
    K_EXIT_STATUS, K_CUSTOM, V_EMPTY, N_NAMES
};
static const char *names[N_NAMES] = {
    "@timestamp", "message", "event", "dataset", "kind", "journald", "event", "host", "name", "process",
    "pid", "systemd", "unit", "user_unit", "invocation_id", "slice", "transport", "log", "syslog",
    "facility", "severity", "code", "priority", "level", "journald", "message_id", "boot_id",
    "cursor", "unit_result", "exit_code", "command", "func", "job", "type", "result", "id",
    "exit_status", "custom", "",
};

static PyObject *F[JF_N_FIELDS];
static PyObject *N[N_NAMES];

/* -- taking fields out of the entry's copy (`c.pop(...)`); new references, NULL when absent ----- */

static PyObject *take(PyObject *c, int field) {
    PyObject *value = PyDict_GetItemWithError(c, F[field]);
    if (value == NULL)
        return NULL;
    Py_INCREF(value);
    if (PyDict_DelItem(c, F[field]) < 0)
        Py_CLEAR(value);
    return value;
}

/* `c.pop(a, None) or c.pop(b, None) ...`: the first non-empty value; NULL when none. */
static PyObject *take_first(PyObject *c, const int *fields, int n) {
    for (int i = 0; i < n; i++) {
        PyObject *value = take(c, fields[i]);
        if (value != NULL && PyUnicode_GET_LENGTH(value) > 0)
            return value;
        Py_XDECREF(value);
    }
    return NULL;
}

/* `_pop_int`: the field as an int, taken out, if it is 1-18 ASCII digits; else NULL, left. */
static PyObject *take_int(PyObject *c, int field) {
    PyObject *value = PyDict_GetItemWithError(c, F[field]);
    if (value == NULL)
        return NULL;
    Py_ssize_t len = PyUnicode_GET_LENGTH(value);
    if (len == 0 || len > 18 || !PyUnicode_IS_ASCII(value))
        return NULL;
    const char *s = (const char *)PyUnicode_DATA(value);
    long long number = 0;
    for (Py_ssize_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return NULL;
        number = number * 10 + (s[i] - '0');
    }
    if (PyDict_DelItem(c, F[field]) < 0)
        return NULL;
    return PyLong_FromLongLong(number);
}

/* d[key] = value, and the reference to value dropped; -1 on error (value dropped too). */
static int put(PyObject *d, int key, PyObject *value) {
    if (value == NULL)
        return -1;
    int rc = PyDict_SetItem(d, N[key], value);
    Py_DECREF(value);
    return rc;
}

/* `{key: value}` / `{k1: v1, k2: v2}`, borrowing the values. */
static PyObject *dict_of(int k1, PyObject *v1, int k2, PyObject *v2) {
    PyObject *d = PyDict_New();
    if (d == NULL)
        return NULL;
    if (PyDict_SetItem(d, N[k1], v1) < 0 || (v2 != NULL && PyDict_SetItem(d, N[k2], v2) < 0))
        Py_CLEAR(d);
    return d;
}

/* -- what decides whether journal_doc takes the entry ------------------------------------------ */

/* The stamp of a str value (`journal_stamp`), into out[28]; 0 when it is not one. */
static int stamp(PyObject *value, char out[28]) {
    return PyUnicode_IS_ASCII(value) &&
           journal_stamp((const char *)PyUnicode_DATA(value), PyUnicode_GET_LENGTH(value), out);
}

/* The entry as journal_doc would see it after `_normalise` and `_timestamp`, if this code builds
 * its document: a dict of str values with a valid stamp (written into ts, its field into *ts_field)
 * and standard PRIORITY and SYSLOG_FACILITY codes (their table rows into *sev and *fac). */
static int is_common(PyObject *fields, PyObject *severity_of, PyObject *facility_of, char ts[28], int *ts_field,
                     PyObject **sev, PyObject **fac) {
    if (!PyDict_CheckExact(fields))
        return 0;
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    while (PyDict_Next(fields, &pos, &key, &value))
        if (!PyUnicode_CheckExact(value))
            return 0;
    *ts_field = PyDict_GetItemWithError(fields, F[JF_SOURCE_TS]) != NULL ? JF_SOURCE_TS : JF_REALTIME_TS;
    PyObject *value_ts = PyDict_GetItemWithError(fields, F[*ts_field]);
    if (value_ts == NULL || !stamp(value_ts, ts))
        return 0;
    PyObject *pri = PyDict_GetItemWithError(fields, F[JF_PRIORITY]);
    PyObject *fa = PyDict_GetItemWithError(fields, F[JF_SYSLOG_FACILITY]);
    *sev = pri != NULL ? PyDict_GetItemWithError(severity_of, pri) : NULL;
    *fac = fa != NULL ? PyDict_GetItemWithError(facility_of, fa) : NULL;
    return !PyErr_Occurred() && (pri == NULL) == (*sev == NULL) && (fa == NULL) == (*fac == NULL);
}

/* -- the parts of the document (journal_fields.py's functions of the same names) ---------------- */

static int process(PyObject *doc, PyObject *c) {
    static const int name_fields[] = {JF_SYSLOG_IDENTIFIER, JF_COMM};
    PyObject *name = take_first(c, name_fields, 2);
    PyObject *pid = take_int(c, JF_SYSLOG_PID);
    if (pid == NULL)
        pid = take_int(c, JF_PID);
    int rc = 0;
    if (name != NULL || pid != NULL)
        rc = put(doc, K_PROCESS, name != NULL ? dict_of(K_NAME, name, K_PID, pid) : dict_of(K_PID, pid, 0, NULL));
    Py_XDECREF(name);
    Py_XDECREF(pid);
    return rc;
}

static int systemd(PyObject *doc, PyObject *c) {
    static const int unit_fields[] = {JF_UNIT, JF_SYSTEMD_UNIT};
    static const int user_unit_fields[] = {JF_USER_UNIT, JF_SYSTEMD_USER_UNIT};
    static const int invocation_fields[] = {JF_INVOCATION_ID, JF_USER_INVOCATION_ID, JF_SYSTEMD_INVOCATION_ID};
    PyObject *values[5] = {
        take_first(c, unit_fields, 2), take_first(c, user_unit_fields, 2), take_first(c, invocation_fields, 3),
        take_first(c, (const int[]){JF_SYSTEMD_SLICE}, 1), take_first(c, (const int[]){JF_TRANSPORT}, 1),
    };
    static const int keys[5] = {K_UNIT, K_USER_UNIT, K_INVOCATION_ID, K_SLICE, K_TRANSPORT};
    PyObject *systemd = NULL;
    int rc = 0;
    for (int i = 0; i < 5; i++) {
        if (values[i] == NULL || rc < 0)
            continue;
        if (systemd == NULL && (systemd = PyDict_New()) == NULL)
            rc = -1;
        else
            rc = PyDict_SetItem(systemd, N[keys[i]], values[i]);
    }
    for (int i = 0; i < 5; i++)
        Py_XDECREF(values[i]);
    if (systemd != NULL && rc == 0)
        return put(doc, K_SYSTEMD, systemd);
    Py_XDECREF(systemd);
    return rc;
}

/* `_log` for codes found in the tables: sev and fac are (code, name) rows, or NULL. */
static int log_fields(PyObject *doc, PyObject *c, PyObject *sev, PyObject *fac) {
    if (sev == NULL && fac == NULL)
        return 0;
    PyObject *syslog = PyDict_New();
    if (syslog == NULL)
        return -1;
    int rc = 0;
    if (fac != NULL) {
        rc = PyDict_DelItem(c, F[JF_SYSLOG_FACILITY]);
        if (rc == 0)
            rc = put(syslog, K_FACILITY, dict_of(K_CODE, PyTuple_GET_ITEM(fac, 0), K_NAME, PyTuple_GET_ITEM(fac, 1)));
    }
    if (rc == 0 && sev != NULL) {
        rc = PyDict_DelItem(c, F[JF_PRIORITY]);
        if (rc == 0)
            rc = put(syslog, K_SEVERITY, dict_of(K_CODE, PyTuple_GET_ITEM(sev, 0), K_NAME, PyTuple_GET_ITEM(sev, 1)));
        if (rc == 0 && fac != NULL)
            rc = put(syslog, K_PRIORITY,
                     PyLong_FromLong(PyLong_AsLong(PyTuple_GET_ITEM(fac, 0)) * 8 + PyLong_AsLong(PyTuple_GET_ITEM(sev, 0))));
    }
    if (rc < 0) {
        Py_DECREF(syslog);
        return -1;
    }
    PyObject *log = dict_of(K_SYSLOG, syslog, K_LEVEL, sev != NULL ? PyTuple_GET_ITEM(sev, 1) : NULL);
    Py_DECREF(syslog);
    return put(doc, K_LOG, log);
}

/* journald[key] = the field taken out, when it is not empty. */
static int take_into(PyObject *d, int key, PyObject *c, int field) {
    PyObject *value = take_first(c, &field, 1);
    return value == NULL ? 0 : put(d, key, value);
}

/* `_unit_record`: PID 1's fields about a unit or a job, the code location. */
static int unit_record(PyObject *journald, PyObject *c) {
    if (take_into(journald, K_UNIT_RESULT, c, JF_UNIT_RESULT) < 0 || take_into(journald, K_EXIT_CODE, c, JF_EXIT_CODE) < 0
        || take_into(journald, K_COMMAND, c, JF_COMMAND) < 0)
        return -1;
    PyObject *func = take_first(c, (const int[]){JF_CODE_FUNC}, 1);
    if (func != NULL) {
        int rc = put(journald, K_CODE, dict_of(K_FUNC, func, 0, NULL));
        Py_DECREF(func);
        if (rc < 0)
            return -1;
    }
    PyObject *job = PyDict_New();
    if (job == NULL || take_into(job, K_TYPE, c, JF_JOB_TYPE) < 0 || take_into(job, K_RESULT, c, JF_JOB_RESULT) < 0
        || take_into(job, K_ID, c, JF_JOB_ID) < 0) {
        Py_XDECREF(job);
        return -1;
    }
    if (PyDict_GET_SIZE(job) > 0) {
        if (put(journald, K_JOB, job) < 0)
            return -1;
    } else {
        Py_DECREF(job);
    }
    PyObject *status = take_int(c, JF_EXIT_STATUS);
    return status == NULL ? 0 : put(journald, K_EXIT_STATUS, status);
}

static int journald(PyObject *doc, PyObject *c) {
    PyObject *journald = PyDict_New();
    if (journald == NULL || take_into(journald, K_MESSAGE_ID, c, JF_MESSAGE_ID) < 0
        || take_into(journald, K_BOOT_ID, c, JF_BOOT_ID) < 0 || take_into(journald, K_CURSOR, c, JF_CURSOR) < 0
        || (PyDict_GET_SIZE(c) > 0 && unit_record(journald, c) < 0)
        || (PyDict_GET_SIZE(c) > 0 && PyDict_SetItem(journald, N[K_CUSTOM], c) < 0)) {
        Py_XDECREF(journald);
        return -1;
    }
    if (PyDict_GET_SIZE(journald) == 0) {
        Py_DECREF(journald);
        return 0;
    }
    return put(doc, K_JOURNALD, journald);
}

/* The document of a common entry (see is_common); NULL with no error set: journal_doc's entry. */
static PyObject *build(PyObject *fields, PyObject *severity_of, PyObject *facility_of) {
    char ts[28];
    int ts_field;
    PyObject *sev, *fac;
    if (!is_common(fields, severity_of, facility_of, ts, &ts_field, &sev, &fac))
        return NULL;
    PyObject *c = PyDict_Copy(fields);
    PyObject *doc = PyDict_New();
    PyObject *event = dict_of(K_DATASET, N[V_JOURNALD], K_KIND, N[V_EVENT]);
    if (c == NULL || doc == NULL || event == NULL || PyDict_DelItem(c, F[ts_field]) < 0
        || put(doc, K_TIMESTAMP, PyUnicode_FromStringAndSize(ts, 27)) < 0)
        goto fail;
    PyObject *message = take(c, JF_MESSAGE);
    if (put(doc, K_MESSAGE, message != NULL ? message : Py_NewRef(N[V_EMPTY])) < 0)
        goto fail;
    if (put(doc, K_EVENT, event) < 0) {
        event = NULL;
        goto fail;
    }
    event = NULL;
    PyObject *host = take_first(c, (const int[]){JF_HOSTNAME}, 1);
    if ((host != NULL && put(doc, K_HOST, dict_of(K_NAME, host, 0, NULL)) < 0) || process(doc, c) < 0
        || systemd(doc, c) < 0 || log_fields(doc, c, sev, fac) < 0 || journald(doc, c) < 0) {
        Py_XDECREF(host);
        goto fail;
    }
    Py_XDECREF(host);
    if (PyErr_Occurred()) /* a helper that reads "absent" as NULL failed (no memory) */
        goto fail;
    Py_DECREF(c);
    return doc;
fail:
    Py_XDECREF(c);
    Py_XDECREF(doc);
    Py_XDECREF(event);
    return NULL;
}

static PyObject *docs(PyObject *self, PyObject *args) {
    PyObject *entries, *last, *slow, *severity_of, *facility_of;
    if (!PyArg_ParseTuple(args, "OUOO!O!:docs", &entries, &last, &slow, &PyDict_Type, &severity_of, &PyDict_Type,
                          &facility_of))
        return NULL;
    PyObject *seq = PySequence_Fast(entries, "docs: entries must be a sequence");
    if (seq == NULL)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject *out = PyList_New(n);
    if (out == NULL) {
        Py_DECREF(seq);
        return NULL;
    }
    Py_INCREF(last);
    for (Py_ssize_t i = 0; i < n; i++) {
        /* journal_doc is Python: should it change the list, the entry stays alive and the loop in bounds. */
        if (i >= PySequence_Fast_GET_SIZE(seq)) {
            PyErr_SetString(PyExc_RuntimeError, "docs: the entries changed while they were read");
            Py_DECREF(last);
            Py_DECREF(out);
            Py_DECREF(seq);
            return NULL;
        }
        PyObject *fields = Py_NewRef(PySequence_Fast_GET_ITEM(seq, i));
        PyObject *doc = build(fields, severity_of, facility_of);
        if (doc == NULL && !PyErr_Occurred())
            doc = PyObject_CallFunctionObjArgs(slow, fields, last, NULL);
        Py_DECREF(fields);
        PyObject *ts = doc != NULL && PyDict_Check(doc) ? PyDict_GetItemWithError(doc, N[K_TIMESTAMP]) : NULL;
        if (ts == NULL) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_TypeError, "docs: a document without @timestamp");
            Py_XDECREF(doc);
            Py_DECREF(last);
            Py_DECREF(out);
            Py_DECREF(seq);
            return NULL;
        }
        Py_SETREF(last, Py_NewRef(ts));
        PyList_SET_ITEM(out, i, doc);
    }
    Py_DECREF(seq);
    return Py_BuildValue("(NN)", out, last);
}

PyDoc_STRVAR(docs_doc,
             "docs(entries, last, journal_doc, severity_of, facility_of) -> (documents, last @timestamp)\n\n"
             "journal_doc(fields, last) for each entry, in order, ``last`` becoming each document's "
             "@timestamp; common entries are built in C, the others by calling journal_doc.");

static PyMethodDef methods[] = {
    {"docs", docs, METH_VARARGS, docs_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_journaldoc", "Journal entries -> documents (see journal_fields.py).", -1, methods,
};

PyMODINIT_FUNC PyInit__journaldoc(void) {
    for (int i = 0; i < JF_N_FIELDS; i++)
        if ((F[i] = PyUnicode_InternFromString(journal_field_names[i])) == NULL)
            return NULL;
    for (int i = 0; i < N_NAMES; i++)
        if ((N[i] = PyUnicode_InternFromString(names[i])) == NULL)
            return NULL;
    return PyModule_Create(&module);
}
