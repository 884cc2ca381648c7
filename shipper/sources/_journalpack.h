/* Journal entries packed into bytes: `_journalread.pack` writes them, `_journalread.unpack` turns
 * them into field dicts, and the express lane (shipper/parallel/_express_journal.c) writes bulk
 * items from them without building a dict.
 *
 * A batch is one bytes object. Each entry is a u32 (the size of its fields in bytes), then each
 * field as a u32 length and "NAME=value", all in the machine's byte order (a batch never leaves
 * the host). The fields are those sd_journal gives, in its order, but the damaged ones (no '=',
 * a name that is not UTF-8); then `_BOOT_ID` when the entry has none, `__REALTIME_TIMESTAMP`
 * and `__CURSOR`: the entry `_journalread` read as a dict before.
 *
 * Also here, for `_journaldoc` and the lane, which both build what `journal_doc` builds: the
 * fields it reads, and the stamp of a journal timestamp.
 */
#ifndef SHIPPER_JOURNALPACK_H
#define SHIPPER_JOURNALPACK_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* The fields `journal_doc` reads (journald's names). */
enum {
    JF_MESSAGE, JF_SOURCE_TS, JF_REALTIME_TS, JF_HOSTNAME, JF_SYSLOG_IDENTIFIER, JF_COMM, JF_SYSLOG_PID, JF_PID,
    JF_UNIT, JF_SYSTEMD_UNIT, JF_USER_UNIT, JF_SYSTEMD_USER_UNIT, JF_INVOCATION_ID, JF_USER_INVOCATION_ID,
    JF_SYSTEMD_INVOCATION_ID, JF_SYSTEMD_SLICE, JF_TRANSPORT, JF_PRIORITY, JF_SYSLOG_FACILITY, JF_MESSAGE_ID,
    JF_BOOT_ID, JF_CURSOR, JF_UNIT_RESULT, JF_EXIT_CODE, JF_COMMAND, JF_CODE_FUNC, JF_JOB_TYPE, JF_JOB_RESULT,
    JF_JOB_ID, JF_EXIT_STATUS, JF_N_FIELDS
};
static const char *const journal_field_names[JF_N_FIELDS] = {
    "MESSAGE", "_SOURCE_REALTIME_TIMESTAMP", "__REALTIME_TIMESTAMP", "_HOSTNAME", "SYSLOG_IDENTIFIER",
    "_COMM", "SYSLOG_PID", "_PID", "UNIT", "_SYSTEMD_UNIT", "USER_UNIT", "_SYSTEMD_USER_UNIT",
    "INVOCATION_ID", "USER_INVOCATION_ID", "_SYSTEMD_INVOCATION_ID", "_SYSTEMD_SLICE", "_TRANSPORT",
    "PRIORITY", "SYSLOG_FACILITY", "MESSAGE_ID", "_BOOT_ID", "__CURSOR", "UNIT_RESULT", "EXIT_CODE",
    "COMMAND", "CODE_FUNC", "JOB_TYPE", "JOB_RESULT", "JOB_ID", "EXIT_STATUS",
};

static inline uint32_t pack_u32(const char *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* The entry at *pos of data[0:size]: its fields in [*fields, *end); *pos moves past it. 0 when
 * the bytes there are no entry (a ValueError is set). */
static inline int pack_next_entry(const char *data, Py_ssize_t size, Py_ssize_t *pos, Py_ssize_t *fields,
                                  Py_ssize_t *end) {
    if (size - *pos < 4 || (Py_ssize_t)pack_u32(data + *pos) > size - *pos - 4) {
        PyErr_SetString(PyExc_ValueError, "packed journal entries: an entry runs past the end");
        return 0;
    }
    *fields = *pos + 4;
    *end = *fields + pack_u32(data + *pos);
    *pos = *end;
    return 1;
}

/* The field at *at (before end): its name and value; *at moves past it. 0 when the bytes there
 * are no field (a ValueError is set). */
static inline int pack_next_field(const char *data, Py_ssize_t end, Py_ssize_t *at, const char **name,
                                  Py_ssize_t *name_n, const char **value, Py_ssize_t *value_n) {
    const char *eq;
    Py_ssize_t n;
    if (end - *at < 4 || (n = (Py_ssize_t)pack_u32(data + *at)) > end - *at - 4 ||
        (eq = memchr(data + *at + 4, '=', n)) == NULL) {
        PyErr_SetString(PyExc_ValueError, "packed journal entries: a field runs past its entry");
        return 0;
    }
    *name = data + *at + 4;
    *name_n = eq - *name;
    *value = eq + 1;
    *value_n = n - *name_n - 1;
    *at += 4 + n;
    return 1;
}

/* `from_epoch_micros` for a value of 7-18 ASCII digits (microseconds): its stamp
 * ("YYYY-MM-DDTHH:MM:SS.ffffffZ", 27 characters and a NUL) into out; 0 for anything else, or a
 * second after 9999-12-31T23:59:59 (journal_doc decides what that means). The text of the last
 * second is kept: entries come in time order. */
static inline int journal_stamp(const char *s, Py_ssize_t len, char out[28]) {
    static long long cached_second = -1;
    static char cached_text[64]; /* 19 used */
    if (len < 7 || len > 18)
        return 0;
    long long second = 0;
    for (Py_ssize_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        if (i < len - 6)
            second = second * 10 + (s[i] - '0');
    }
    if (second > 253402300799LL)
        return 0;
    if (second != cached_second) {
        time_t t = (time_t)second;
        struct tm tm;
        if (gmtime_r(&t, &tm) == NULL)
            return 0;
        snprintf(cached_text, sizeof cached_text, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        cached_second = second;
    }
    memcpy(out, cached_text, 19);
    out[19] = '.';
    memcpy(out + 20, s + len - 6, 6);
    out[26] = 'Z';
    out[27] = '\0';
    return 1;
}

#endif
