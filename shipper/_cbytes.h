/* What shipper's C extensions share (each is built on its own, so these are inline): a growing
 * byte buffer, and the check that bytes are UTF-8 as Python's strict decoder takes them. */
#ifndef SHIPPER_CBYTES_H
#define SHIPPER_CBYTES_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* A growing byte buffer (PyMem; the owner frees p) */
typedef struct {
    char *p;
    Py_ssize_t n, cap;
} Buf;

/* Room for `more` bytes after the n used; -1 with MemoryError. */
static inline int buf_grow(Buf *b, Py_ssize_t more) {
    if (b->n + more <= b->cap)
        return 0;
    Py_ssize_t cap = b->cap ? b->cap : 1024;
    while (cap < b->n + more)
        cap *= 2;
    char *p = PyMem_Realloc(b->p, cap);
    if (p == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

/* Whether the bytes are valid UTF-8 as Python's strict decoder takes it (no surrogates): ASCII
 * is checked a word at a time, anything else by the decoder itself. */
static inline int valid_utf8(const char *s, Py_ssize_t n) {
    Py_ssize_t k = 0;
    for (; k + 8 <= n; k += 8) {
        uint64_t w;
        memcpy(&w, s + k, 8);
        if (w & 0x8080808080808080ull)
            break;
    }
    for (; k < n; k++)
        if ((unsigned char)s[k] >= 0x80) {
            PyObject *text = PyUnicode_DecodeUTF8(s, n, NULL);
            if (text == NULL) {
                PyErr_Clear();
                return 0;
            }
            Py_DECREF(text);
            return 1;
        }
    return 1;
}

#endif
