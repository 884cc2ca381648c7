/* The boots' claims of a journal input as the journal lane keeps them (`BootClaims.fast`,
 * shipper/sources/journal_boots.py): _express_journal_claims.c. */
#ifndef SHIPPER_EXPRESS_JOURNAL_CLAIMS_H
#define SHIPPER_EXPRESS_JOURNAL_CLAIMS_H

#include "_express_journal.h"

/* One host's: [host, boot, first second, lowest, highest] (bytes, bytes, int, int, int). */
typedef struct {
    PyObject *list;
    Text host, boot;
    long long first, lo, hi;
    int moved;
} Claim;

typedef struct {
    Claim *c;
    Py_ssize_t n, last; /* last: the claim found last */
} Claims;

int claims_open(Claims *cl, PyObject *fast);                /* `fast`'s (None: none checked) */
int claimed(Claims *cl, const Entry *e, const Taken *t);     /* 1: the lane may take the entry, noted */
int claims_close(Claims *cl);                                /* the seconds noted, back into `fast` */
int apart_key(Buf *b, const Entry *e, Key *key);             /* the key of an entry decided apart */

#endif
