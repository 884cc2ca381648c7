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
 *
 * `install_sigbus` keeps a journal file truncated (or a disk failing) under a reader from killing
 * the process. sd_journal maps the files; reading a mapped page past a file's new end raises
 * SIGBUS. journalctl installs systemd's handler for it (src/basic/sigbus.c), which libsystemd does
 * not export: this is the same. At a fault in a file mapping it maps a zero page over the page,
 * counts the fault, and returns: sd_journal then reads zeros, which it refuses as damaged objects.
 * `pack` leaves out the entry being read at a fault and stops there; the Python code reports the
 * file (`sigbus_pages` says where the faults were) and reads no more with that reader, whose
 * zero pages would read without a new fault.
 *
 * `pack` also says which entries sd_journal gave without some of their fields, passing over data
 * objects that fail its checks (a damaged file): see _journalhash.h.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <systemd/sd-journal.h>

#include "../_cbytes.h"
#include "_journalhash.h"
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

/* -- SIGBUS of a mapped journal file (see the top) ----------------------------------------------- */

#define PAGES_KEPT 64 /* the pages of the latest faults, for `sigbus_pages` */
static struct sigaction sigbus_before; /* the handler before ours: given back for other faults */
static int sigbus_installed = 0;       /* (set under the GIL) */
static uintptr_t page_size = 0;
static atomic_ulong sigbus_faults = 0;
static _Atomic uintptr_t sigbus_at[PAGES_KEPT];

/* Only async-signal-safe calls: mmap, sigaction, raise, and atomic operations. */
static void on_sigbus(int sig, siginfo_t *si, void *context) {
    (void)context;
    int saved_errno = errno;
    if ((si->si_code == BUS_ADRERR || si->si_code == BUS_OBJERR) && si->si_addr != NULL) {
        uintptr_t page = (uintptr_t)si->si_addr & ~(page_size - 1);
        if (mmap((void *)page, page_size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == (void *)page) {
            unsigned long n = atomic_fetch_add(&sigbus_faults, 1);
            atomic_store(&sigbus_at[n % PAGES_KEPT], page);
            errno = saved_errno;
            return;
        }
    }
    /* Not a fault this can mend: the handler before ours takes it. A fault returned from happens
     * again at once; a signal that is not one of the instruction's (kill, a machine-check error
     * reported later) is raised again, to be delivered once this handler returns. */
    sigaction(sig, &sigbus_before, NULL);
    if (si->si_code <= 0 || si->si_code == BUS_MCEERR_AO)
        raise(sig);
    errno = saved_errno;
}

PyDoc_STRVAR(install_sigbus_doc,
    "install_sigbus() -> None\n\n"
    "Install the process's SIGBUS handler for faults in mapped journal files (once; see the module\n"
    "source). Other SIGBUS signals go to the handler there was before (the default: the process ends).");

static PyObject *install_sigbus(PyObject *module, PyObject *unused) {
    if (sigbus_installed)
        Py_RETURN_NONE;
    page_size = (uintptr_t)sysconf(_SC_PAGESIZE);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGBUS, &sa, &sigbus_before) < 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    sigbus_installed = 1;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(sigbus_count_doc,
    "sigbus_count() -> int\n\n"
    "How many faults in mapped files the SIGBUS handler mended (zero pages mapped over them).");

static PyObject *sigbus_count(PyObject *module, PyObject *unused) {
    return PyLong_FromUnsignedLong(atomic_load(&sigbus_faults));
}

PyDoc_STRVAR(sigbus_pages_doc,
    "sigbus_pages(since) -> list[int]\n\n"
    "The addresses of the pages of the faults after the first `since` (sigbus_count() then), oldest\n"
    "first; only the latest 64 are kept.");

static PyObject *sigbus_pages(PyObject *module, PyObject *arg) {
    unsigned long since = PyLong_AsUnsignedLong(arg);
    if (since == (unsigned long)-1 && PyErr_Occurred())
        return NULL;
    unsigned long now = atomic_load(&sigbus_faults);
    if (now - since > PAGES_KEPT)
        since = now - PAGES_KEPT;
    PyObject *pages = PyList_New(0);
    for (unsigned long n = since; pages != NULL && n < now; n++) {
        PyObject *at = PyLong_FromSize_t((size_t)atomic_load(&sigbus_at[n % PAGES_KEPT]));
        if (at == NULL || PyList_Append(pages, at) < 0)
            Py_CLEAR(pages);
        Py_XDECREF(at);
    }
    return pages;
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

static void entry_hash_init(EntryHash *h) {
    h->xor = 0;
    h->n = 0;
    h->unchecked = 0;
}

/* Whether sd_journal gives all the current entry's fields, every one hashed (_journalhash.h): for
 * an entry the first check found different. */
static int read_whole(sd_journal *j, const char *cursor) {
    EntryHash hash;
    const void *data;
    size_t len;
    entry_hash_init(&hash);
    sd_journal_restart_data(j);
    while (sd_journal_enumerate_data(j, &data, &len) > 0)
        entry_hash_add(&hash, data, len);
    return entry_whole(cursor, &hash);
}

/* The current entry, packed at the end of b; -1 with a Python error, or with *err set (a journal
 * error). *damaged is set when a field was left out (no '=', or a name that is not UTF-8),
 * *incomplete when sd_journal did not give all the entry's fields (_journalhash.h). */
static int pack_entry(sd_journal *j, Buf *b, int *err, char **cursor, int *damaged, int *incomplete) {
    const void *data;
    size_t len;
    Py_ssize_t start = b->n;
    int r, has_boot = 0;
    uint64_t xor = 0;
    if (buf_grow(b, 4) < 0)
        return -1;
    b->n += 4;
    sd_journal_restart_data(j);
    while ((r = sd_journal_enumerate_data(j, &data, &len)) > 0) {
        xor = entry_xor_add(xor, data, len);
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
    *incomplete = !entry_xor_whole(*cursor, xor) && !read_whole(j, *cursor);
    put_u32(b, start, (size_t)(b->n - start - 4));
    return 0;
journal_error:
    *err = -r;
    return -1;
}

PyDoc_STRVAR(pack_doc,
    "pack(reader, n) -> (data, count, cursor, errno, damaged, incomplete)\n\n"
    "Up to n entries after the reader's position, packed into bytes (see _journalpack.h), how many,\n"
    "the cursor of the last (None: none read), the error number that stopped the reading (0: none;\n"
    "fewer than n entries then means the end of the journal), and the cursors of the entries a\n"
    "damaged field was left out of, and the places (from 0) of the entries packed without fields\n"
    "sd_journal passed over (see _journalhash.h). The reader stays after the last entry packed. At a\n"
    "SIGBUS in a mapped file (see install_sigbus), the entry being read is left out and the error is EIO.");

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

static int append_index(PyObject *list, Py_ssize_t n) {
    PyObject *at = PyLong_FromSsize_t(n);
    int bad = at == NULL || PyList_Append(list, at) < 0;
    Py_XDECREF(at);
    return bad ? -1 : 0;
}

static PyObject *pack_batch(PyObject *module, PyObject *args) {
    Py_ssize_t n;
    sd_journal *j = reader_args(args, "On:pack", &n);
    if (j == NULL)
        return NULL;
    Buf b = {NULL, 0, 0};
    char *cursor = NULL, *last = NULL;
    PyObject *damaged = PyList_New(0), *incomplete = PyList_New(0);
    if (damaged == NULL || incomplete == NULL)
        goto fail;
    int err = 0;
    Py_ssize_t count = 0;
    unsigned long faults = atomic_load(&sigbus_faults);
    entry_xor_begin();
    for (; count < n; count++) {
        int r = sd_journal_next(j);
        if (r <= 0) {
            err = -r;
            break;
        }
        int skipped = 0, partial = 0;
        Py_ssize_t start = b.n;
        if (pack_entry(j, &b, &err, &cursor, &skipped, &partial) < 0) {
            if (!err)
                goto fail;
            b.n = start; /* the entry that could not be read is left out */
            break;
        }
        if (atomic_load(&sigbus_faults) != faults) { /* a file changed under the reader: zeros may have been read */
            err = EIO;
            b.n = start;
            break;
        }
        if (skipped) {
            PyObject *where = PyUnicode_FromString(cursor);
            int bad = where == NULL || PyList_Append(damaged, where) < 0;
            Py_XDECREF(where);
            if (bad)
                goto fail;
        }
        if (partial && append_index(incomplete, count) < 0)
            goto fail;
        free(last);
        last = cursor;
        cursor = NULL;
    }
    free(cursor);
    PyObject *result = Py_BuildValue("(y#nziNN)", b.p ? b.p : "", b.n, count, last, err, damaged, incomplete);
    free(last);
    PyMem_Free(b.p);
    return result;
fail:
    free(cursor);
    free(last);
    PyMem_Free(b.p);
    Py_XDECREF(damaged);
    Py_XDECREF(incomplete);
    return NULL;
}

PyDoc_STRVAR(whole_doc,
    "whole(cursor, fields) -> bool\n\n"
    "Whether the fields (bytes \"NAME=value\", as sd_journal gave them) are all of the entry of the\n"
    "cursor (see _journalhash.h): what pack checks, for the Python loop.");

static PyObject *whole(PyObject *module, PyObject *args) {
    const char *cursor;
    PyObject *fields;
    if (!PyArg_ParseTuple(args, "sO!:whole", &cursor, &PyList_Type, &fields))
        return NULL;
    EntryHash hash;
    entry_hash_init(&hash);
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(fields); i++) {
        char *data;
        Py_ssize_t len;
        if (PyBytes_AsStringAndSize(PyList_GET_ITEM(fields, i), &data, &len) < 0)
            return NULL;
        entry_hash_add(&hash, data, (size_t)len);
    }
    return PyBool_FromLong(entry_whole(cursor, &hash));
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
    "OSError if the journal cannot be read (EIO at a SIGBUS in a mapped file: see install_sigbus).");

static PyObject *skip(PyObject *module, PyObject *args) {
    Py_ssize_t n;
    sd_journal *j = reader_args(args, "On:skip", &n);
    if (j == NULL)
        return NULL;
    if (n <= 0 || n > INT_MAX) /* sd_journal_next_skip(j, 0) would move one entry */
        return PyErr_Format(PyExc_ValueError, "skip() moves 1 to %d entries, not %zd", INT_MAX, n);
    int r;
    unsigned long faults = atomic_load(&sigbus_faults);
    Py_BEGIN_ALLOW_THREADS
    r = sd_journal_next_skip(j, (uint64_t)n);
    Py_END_ALLOW_THREADS
    if (r >= 0 && atomic_load(&sigbus_faults) != faults)
        r = -EIO; /* a file changed under the reader (see install_sigbus): where it is cannot be trusted */
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
    {"whole", whole, METH_VARARGS, whole_doc},
    {"install_sigbus", install_sigbus, METH_NOARGS, install_sigbus_doc},
    {"sigbus_count", sigbus_count, METH_NOARGS, sigbus_count_doc},
    {"sigbus_pages", sigbus_pages, METH_O, sigbus_pages_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_journalread", "Journal entries read in batches (see journal_entries.py).", -1, methods,
};

PyMODINIT_FUNC PyInit__journalread(void) { return PyModule_Create(&module); }
