/* What the two files of the journal lane share: _express_journal.c reads and examines the packed
 * entries, _express_journal_doc.c writes their documents (see _express_journal.c). */
#ifndef SHIPPER_EXPRESS_JOURNAL_H
#define SHIPPER_EXPRESS_JOURNAL_H

#include "_express.h"
#include "../sources/_journalpack.h"

#define MAX_ENTRY_FIELDS 160

/* An entry's fields, and which of them the document has taken (the others are journald.custom). */
typedef struct {
    Text name[MAX_ENTRY_FIELDS], value[MAX_ENTRY_FIELDS];
    uint32_t hash[MAX_ENTRY_FIELDS];
    uint8_t used[MAX_ENTRY_FIELDS];
    int n;
    int at[JF_N_FIELDS]; /* each field journal_doc reads: its index, -1 when absent */
} Entry;

/* What `examine_entry` reads first of an entry: its id's parts, stamp, codes and sendmail fields. */
typedef struct {
    Key key;
    char ts[28];
    char pid[24];
    Fields mail;
    int severity, facility;
    Text name, host;
    unsigned long long pid_value;
    int has_pid;
    int start_by_id; /* its MESSAGE_ID is a start's (`STARTS`) */
} Taken;

/* -- taking fields out of the entry, as journal_doc does (`c.pop(...)`); inline: the lane takes
 * (or looks for) ~20 fields an entry, from both files -------------------------------------------- */

/* The field, taken out: 0 when absent. */
static inline int take(Entry *e, int f, Text *out) {
    int i = e->at[f];
    if (i < 0)
        return 0;
    e->used[i] = 1;
    *out = e->value[i];
    return 1;
}

/* `c.pop(a, None) or c.pop(b, None) ...`: the first non-empty value; 0 when none. */
static inline int take_first(Entry *e, const int *fields, int n, Text *out) {
    for (int k = 0; k < n; k++)
        if (take(e, fields[k], out) && out->n > 0)
            return 1;
    return 0;
}

static inline int take_one(Entry *e, int f, Text *out) { return take_first(e, &f, 1, out); }

/* `_pop_int`: the field as a number, taken out, if it is 1-18 ASCII digits; else 0, left. */
static inline int take_int(Entry *e, int f, unsigned long long *out) {
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

/* The document's JSON: _express_journal_doc.c */
int put_entry(Buf *b, const Plan *plan, Entry *e, const Taken *t, Py_ssize_t *id_at, Py_ssize_t message[2]);

#endif
