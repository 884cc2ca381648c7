/* The boots' claims (`BootClaims.fast`, shipper/sources/journal_boots.py) as the journal lane
 * (_express_journal.c) keeps them: with the claims given, the lane takes an entry of the boot of
 * its host's highest range, at or above that range's first second (its id is the plain one, and
 * nothing is decided), and the claims learn the lowest and highest second taken. An entry the
 * claims must decide is decided in Python, then taken with the key `apart_key` makes if it is apart.
 */
#include "_express_journal_claims.h"

/* The claims of `fast` (None: none checked, n < 0); -1 on error. */
int claims_open(Claims *cl, PyObject *fast) {
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
int claimed(Claims *cl, const Entry *e, const Taken *t) {
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
int claims_close(Claims *cl) {
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
int apart_key(Buf *b, const Entry *e, Key *key) {
    int i = e->at[JF_BOOT_ID];
    Text boot = i >= 0 ? e->value[i] : (Text){"", 0};
    b->n = 0;
    if (put(b, key->msg.p, key->msg.n) < 0 || put(b, "\x1e", 1) < 0 || put(b, boot.p, boot.n) < 0)
        return -1;
    key->msg = (Text){b->p, b->n};
    return 0;
}

