/* Reads journal entries in batches, for `shipper.sources.journal_entries.read_entries`.
 *
 * systemd-python's reader costs ~3 us an entry in Python calls (_next, _get_all, a decode per
 * value, _get_realtime, _get_cursor). `pack` reads many entries in one call, on the sd_journal of
 * a systemd-python `_Reader`, into one bytes object (_journalpack.h): the express lane of a
 * replay worker writes bulk items from it without a dict. `unpack` gives exactly what the Python
 * loop gives: each entry a dict of field -> str (bytes when a value is not UTF-8, a list when a
 * field has several values), plus `_BOOT_ID` when the entry has none, `__REALTIME_TIMESTAMP`
 * (decimal us) and `__CURSOR`.
 *
 * `skip` steps over entries and says how many it stepped over, which systemd-python's `_next(n)`
 * does not (it says only whether it moved): cutting a growing journal into segments needs it.
 *
 * The sd_journal pointer is read from the `_Reader` object, laid out as `PyObject_HEAD; sd_journal
 * *j;` in systemd-python (PyPI's 235 and Debian 12's python3-systemd: the tests bind to both).
 * `bind` checks the type's name and size once; if they differ, the Python loop is used instead
 * (see journal_entries.py).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-journal.h>

#include "../_cbytes.h"
#include "_journalpack.h"

typedef struct {
    PyObject_HEAD
    sd_journal *j;
} Reader;

static PyTypeObject *reader_type = NULL;

/* Field names repeat in every entry: one str object each, reused (and with its hash cached). */
#define MAX_KEYS 256
#define MAX_KEY_LEN 64
static struct {
    Py_ssize_t len;
    char name[MAX_KEY_LEN];
    PyObject *key;
} keys[MAX_KEYS];
static int n_keys = 0;

static PyObject *key_of(const char *name, Py_ssize_t len) {
    for (int i = 0; i < n_keys; i++)
        if (keys[i].len == len && memcmp(keys[i].name, name, len) == 0) {
            Py_INCREF(keys[i].key);
            return keys[i].key;
        }
    PyObject *key = PyUnicode_DecodeUTF8(name, len, NULL);
    if (key == NULL || len > MAX_KEY_LEN || n_keys == MAX_KEYS)
        return key;
    PyUnicode_InternInPlace(&key);
    keys[n_keys].len = len;
    memcpy(keys[n_keys].name, name, len);
    keys[n_keys].key = key;
    Py_INCREF(key);
    n_keys++;
    return key;
}

/* str when the value is UTF-8, else bytes (as `shipper.sources.export.as_value`). */
static PyObject *value_of(const char *data, Py_ssize_t len) {
    PyObject *value = PyUnicode_DecodeUTF8(data, len, NULL);
    if (value == NULL && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
        PyErr_Clear();
        value = PyBytes_FromStringAndSize(data, len);
    }
    return value;
}

/* Adds a value; a field seen again becomes a list of its values (as systemd-python's _get_all). */
static int add_value(PyObject *entry, PyObject *key, PyObject *value) {
    PyObject *old = PyDict_GetItemWithError(entry, key);
    if (old == NULL)
        return PyErr_Occurred() ? -1 : PyDict_SetItem(entry, key, value);
    if (PyList_CheckExact(old))
        return PyList_Append(old, value);
    PyObject *list = PyList_New(2);
    if (list == NULL)
        return -1;
    Py_INCREF(old);
    Py_INCREF(value);
    PyList_SET_ITEM(list, 0, old);
    PyList_SET_ITEM(list, 1, value);
    int r = PyDict_SetItem(entry, key, list);
    Py_DECREF(list);
    return r;
}

/* The decimal digits of `v`, ending at the end of `out` (snprintf's "%llu", without its cost on
 * every entry). */
static const char *decimal(uint64_t v, char out[21]) {
    char *p = out + 20;
    *p = '\0';
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return p;
}

/* -- packing (see _journalpack.h) ---------------------------------------------------------------- */

static void put_u32(Buf *b, Py_ssize_t at, size_t v) {
    uint32_t u = (uint32_t)v;
    memcpy(b->p + at, &u, 4);
}

/* A field: its length, then "name=value". */
static int put_field(Buf *b, const char *name, size_t name_n, const char *value, size_t value_n) {
    size_t n = name_n + 1 + value_n;
    if (n > UINT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "a journal field over 4 GiB");
        return -1;
    }
    if (buf_grow(b, (Py_ssize_t)(4 + n)) < 0)
        return -1;
    put_u32(b, b->n, n);
    memcpy(b->p + b->n + 4, name, name_n);
    b->p[b->n + 4 + name_n] = '=';
    memcpy(b->p + b->n + 5 + name_n, value, value_n);
    b->n += 4 + n;
    return 0;
}

/* The current entry, packed at the end of b; -1 with a Python error, or with *err set (a journal
 * error). *damaged is set when a field was left out (no '=', or a name that is not UTF-8). */
static int pack_entry(sd_journal *j, Buf *b, int *err, char **cursor, int *damaged) {
    const void *data;
    size_t len;
    Py_ssize_t start = b->n;
    int r, has_boot = 0;
    if (buf_grow(b, 4) < 0)
        return -1;
    b->n += 4;
    sd_journal_restart_data(j);
    while ((r = sd_journal_enumerate_data(j, &data, &len)) > 0) {
        const char *eq = memchr(data, '=', len);
        size_t klen = eq != NULL ? (size_t)(eq - (const char *)data) : 0;
        if (eq == NULL || !valid_utf8(data, (Py_ssize_t)klen)) { /* systemd-python raises there, which ends the reading */
            *damaged = 1;
            continue;
        }
        if (put_field(b, data, klen, eq + 1, len - klen - 1) < 0)
            return -1;
        has_boot |= klen == 8 && memcmp(data, "_BOOT_ID", 8) == 0;
    }
    char text[33], stamp[21];
    if (!has_boot) { /* an entry without fields still has its boot (as in export) */
        sd_id128_t boot;
        uint64_t usec;
        if ((r = sd_journal_get_monotonic_usec(j, &usec, &boot)) < 0)
            goto journal_error;
        if (put_field(b, "_BOOT_ID", 8, sd_id128_to_string(boot, text), 32) < 0)
            return -1;
    }
    uint64_t realtime;
    if ((r = sd_journal_get_realtime_usec(j, &realtime)) < 0)
        goto journal_error;
    const char *digits = decimal(realtime, stamp);
    if (put_field(b, "__REALTIME_TIMESTAMP", 20, digits, strlen(digits)) < 0)
        return -1;
    if ((r = sd_journal_get_cursor(j, cursor)) < 0)
        goto journal_error;
    if (put_field(b, "__CURSOR", 8, *cursor, strlen(*cursor)) < 0)
        return -1;
    put_u32(b, start, (size_t)(b->n - start - 4));
    return 0;
journal_error:
    *err = -r;
    return -1;
}

PyDoc_STRVAR(pack_doc,
    "pack(reader, n) -> (data, count, cursor, errno, damaged)\n\n"
    "Up to n entries after the reader's position, packed into bytes (see _journalpack.h), how many,\n"
    "the cursor of the last (None: none read), the error number that stopped the reading (0: none;\n"
    "fewer than n entries then means the end of the journal), and the cursors of the entries a\n"
    "damaged field was left out of. The reader stays after the last entry packed.");

/* The sd_journal of a bound systemd-python _Reader; NULL with an exception set if it is not one. */
static sd_journal *journal_of(PyObject *obj) {
    if (reader_type == NULL || !PyObject_TypeCheck(obj, reader_type)) {
        PyErr_SetString(PyExc_TypeError, "a bound systemd-python _Reader is needed");
        return NULL;
    }
    sd_journal *j = ((Reader *)obj)->j;
    if (j == NULL)
        PyErr_SetString(PyExc_ValueError, "the journal reader is closed");
    return j;
}

/* The (reader, n) arguments of pack and skip: the reader's sd_journal (NULL: an exception is set). */
static sd_journal *reader_args(PyObject *args, const char *format, Py_ssize_t *n) {
    PyObject *obj;
    if (!PyArg_ParseTuple(args, format, &obj, n))
        return NULL;
    return journal_of(obj);
}

static PyObject *pack_batch(PyObject *module, PyObject *args) {
    Py_ssize_t n;
    sd_journal *j = reader_args(args, "On:pack", &n);
    if (j == NULL)
        return NULL;
    PyObject *damaged = PyList_New(0);
    if (damaged == NULL)
        return NULL;
    Buf b = {NULL, 0, 0};
    char *cursor = NULL, *last = NULL;
    int err = 0;
    Py_ssize_t count = 0;
    for (; count < n; count++) {
        int r = sd_journal_next(j);
        if (r <= 0) {
            err = -r;
            break;
        }
        int skipped = 0;
        Py_ssize_t start = b.n;
        if (pack_entry(j, &b, &err, &cursor, &skipped) < 0) {
            if (!err)
                goto fail;
            b.n = start; /* the entry that could not be read is left out */
            break;
        }
        if (skipped) {
            PyObject *where = PyUnicode_FromString(cursor);
            int bad = where == NULL || PyList_Append(damaged, where) < 0;
            Py_XDECREF(where);
            if (bad)
                goto fail;
        }
        free(last);
        last = cursor;
        cursor = NULL;
    }
    free(cursor);
    PyObject *result = Py_BuildValue("(y#nziN)", b.p ? b.p : "", b.n, count, last, err, damaged);
    free(last);
    PyMem_Free(b.p);
    return result;
fail:
    free(cursor);
    free(last);
    PyMem_Free(b.p);
    Py_DECREF(damaged);
    return NULL;
}

PyDoc_STRVAR(unpack_doc,
    "unpack(data, start, stop) -> entries\n\n"
    "The packed entries from byte start to stop (where entries start and end) as dicts of\n"
    "field -> str (bytes when a value is not UTF-8, a list when a field has several values).");

static PyObject *unpack(PyObject *module, PyObject *args) {
    const char *data;
    Py_ssize_t size, pos, stop;
    if (!PyArg_ParseTuple(args, "y#nn:unpack", &data, &size, &pos, &stop))
        return NULL;
    if (pos < 0 || stop > size || pos > stop)
        return PyErr_Format(PyExc_ValueError, "unpack: %zd to %zd is not within the %zd bytes", pos, stop, size);
    PyObject *entries = PyList_New(0);
    while (entries != NULL && pos < stop) {
        Py_ssize_t at, end;
        PyObject *entry = pack_next_entry(data, stop, &pos, &at, &end) ? PyDict_New() : NULL;
        int bad = entry == NULL;
        while (!bad && at < end) {
            const char *name, *value;
            Py_ssize_t name_n, value_n;
            if (!pack_next_field(data, end, &at, &name, &name_n, &value, &value_n)) {
                bad = 1;
                break;
            }
            PyObject *key = key_of(name, name_n);
            PyObject *v = key ? value_of(value, value_n) : NULL;
            bad = v == NULL || add_value(entry, key, v) < 0;
            Py_XDECREF(key);
            Py_XDECREF(v);
        }
        if (bad || PyList_Append(entries, entry) < 0)
            Py_CLEAR(entries);
        Py_XDECREF(entry);
    }
    return entries;
}

PyDoc_STRVAR(skip_doc,
    "skip(reader, n) -> int\n\n"
    "Move the reader n entries on (sd_journal_next_skip) and return how many it moved: fewer\n"
    "than n at the end of the journal (systemd-python's _next(n) says only whether it moved).\n"
    "OSError if the journal cannot be read.");

static PyObject *skip(PyObject *module, PyObject *args) {
    Py_ssize_t n;
    sd_journal *j = reader_args(args, "On:skip", &n);
    if (j == NULL)
        return NULL;
    if (n <= 0 || n > INT_MAX) /* sd_journal_next_skip(j, 0) would move one entry */
        return PyErr_Format(PyExc_ValueError, "skip() moves 1 to %d entries, not %zd", INT_MAX, n);
    int r;
    Py_BEGIN_ALLOW_THREADS
    r = sd_journal_next_skip(j, (uint64_t)n);
    Py_END_ALLOW_THREADS
    if (r < 0) {
        errno = -r;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    return PyLong_FromLong(r);
}

PyDoc_STRVAR(bind_doc,
    "bind(reader_type) -> bool\n\n"
    "Use systemd-python's _Reader type; False (and nothing bound) if its layout is not the one\n"
    "this module knows.");

static PyObject *bind(PyObject *module, PyObject *type) {
    if (!PyType_Check(type))
        return PyErr_Format(PyExc_TypeError, "bind() needs a type, not %.100s", Py_TYPE(type)->tp_name);
    PyTypeObject *t = (PyTypeObject *)type;
    if (strcmp(t->tp_name, "_reader._Reader") != 0 || t->tp_basicsize != sizeof(Reader))
        Py_RETURN_FALSE;
    Py_INCREF(type);
    Py_XSETREF(reader_type, t);
    Py_RETURN_TRUE;
}

static PyMethodDef methods[] = {
    {"bind", bind, METH_O, bind_doc},
    {"pack", pack_batch, METH_VARARGS, pack_doc},
    {"unpack", unpack, METH_VARARGS, unpack_doc},
    {"skip", skip, METH_VARARGS, skip_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_journalread", "Journal entries read in batches (see journal_entries.py).", -1, methods,
};

PyMODINIT_FUNC PyInit__journalread(void) { return PyModule_Create(&module); }
