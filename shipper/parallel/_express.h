/* What the files of the express lane share (shipper/parallel/_express*.c; see _express.c). */
#ifndef SHIPPER_EXPRESS_H
#define SHIPPER_EXPRESS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "../_cbytes.h"

typedef struct {
    const char *p;
    Py_ssize_t n;
} Text;

/* BLAKE2b state (_express_codec.c) */
typedef struct {
    uint64_t h[8];
    uint64_t t;     /* bytes compressed so far (the key texts stay far below 2^64) */
    uint8_t b[128]; /* the block being filled */
    size_t c;       /* bytes in b */
} B2;

#define PUT_LIT(b, lit) put((b), (lit), (Py_ssize_t)sizeof(lit) - 1)

#define MAX_GATES 64
#define MAX_FILTERS 8
#define MAX_FILTER_TEXTS 64
#define MAX_NAMES 16
#define MAX_KEYS 16
#define MAX_FORMS 4
#define MAX_MESSAGE_IDS 64
#define NO_ID -1 /* a form's head: the item is the document alone (NDJSON) */
#define ROW -2   /* a form's head: the item is the local store's row (`shipper.sinks.rows`) */

/* Texts looked for in a message in one pass over it (`any_in`): a text is compared only where its
 * first two bytes are (`pairs`: those of every text, as a set). With a text shorter than two
 * bytes, `by_pairs` is 0: one memmem per text. */
typedef struct {
    Text texts[MAX_GATES + MAX_FILTER_TEXTS];
    uint16_t first[MAX_GATES + MAX_FILTER_TEXTS]; /* each text's first two bytes */
    int n;
    int by_pairs;
    uint8_t pairs[8192];
} Needles;

typedef struct {
    PyObject_HEAD
    PyObject *keep; /* the plan's arguments: they own the bytes the arrays point into */
    Needles gates; /* recognition's gates: a message with one of them is recognised in Python */
    Text filter_names[MAX_FILTERS];
    Needles filtered[MAX_FILTERS]; /* the gates and the prefilters of the process of that name */
    Needles strict[MAX_FILTERS];   /* the texts but a start's that make Python look at a line of it (`STARTS`) */
    int has_strict[MAX_FILTERS];   /* the process's starts are told apart (strict is given) */
    int n_filters;
    Text mail_names[MAX_NAMES];
    int n_mail_names;
    Text mail_keys[MAX_KEYS];
    int n_mail_keys;
    Text form_head[MAX_FORMS]; /* before the id (n = NO_ID: the form has no id; ROW: a store row) */
    Text form_mid[MAX_FORMS];  /* after the id, up to the document's first key */
    int n_forms;
    Text log_head; /* '"log":{"file":{"path":...},"offset":' or '"log":{"offset":' */
    Text severities[8], facilities[24]; /* their names (journal entries' PRIORITY, SYSLOG_FACILITY) */
    Text message_ids[MAX_MESSAGE_IDS];  /* journald MESSAGE_IDs that signatures match by fields */
    Text start_ids[MAX_MESSAGE_IDS];    /* those that only starts' signatures match (`STARTS`) */
    int n_message_ids, n_start_ids, journal; /* journal: the four above are given */
} Plan;

#define MAX_FIELDS 17 /* sendmail.*: queue_id and the wanted keys */

/* The sendmail.* fields of a message (`sendmail.parse_line`), in their order. */
typedef struct {
    int mail;              /* the process is a sendmail ident: these are its fields */
    Text key[MAX_FIELDS]; /* "queue_id" or a key of the plan */
    Text value[MAX_FIELDS];
    int n;
} Fields;

/* What the local store's row of an event is made of (`add_items`): its texts, where its message is
 * in the document's body (`message[0]:message[1]`, its key, value and a comma), a buffer to use. */
typedef struct {
    Text id, ts, host, process, msg;
    Py_ssize_t message[2];
    Buf *rest;
} Row;

/* What `content_key` joins with \x1f: host, second, process name and pid, message (, container). */
typedef struct {
    Text host, tag, pid, msg, container; /* container.n < 0: none */
    const char *second;                  /* 19 characters */
} Key;

/* _express_codec.c: bytes, JSON, BLAKE2b, ids, items */
int put(Buf *b, const char *s, Py_ssize_t n);
int put_str(Buf *b, const char *s, Py_ssize_t n);
int put_uint(Buf *b, unsigned long long v);
int put_fields(Buf *b, const Fields *fields, int comma);
void b2_init(B2 *s);
void b2_update(B2 *s, const char *data, size_t n);
void b2_final_hex(B2 *s, char out[32]);
char *digits_of(unsigned long long v, char out[24]);
/* `IdAssigner`'s state while a lane assigns ids (`IdAssigner.live`, `moved_to`, shipper/ids.py). */
typedef struct {
    PyObject *second;  /* the current second */
    PyObject *seen;    /* its counts (NULL: the documents carry their ids) */
    PyObject *seconds; /* the seconds counted -> their counts, the least recently seen first (borrowed) */
    Py_ssize_t keep;   /* KEEP_SECONDS */
    PyObject *first;   /* with `track`, see `Block` (borrowed); else NULL */
} Ids;
int ids_open(Ids *ids, PyObject *live);
PyObject *ids_close(Ids *ids);
void ids_clear(Ids *ids);
int event_id(PyObject *seen, const Key *key, char id[32]);
int next_second(Ids *ids, const char *ts);
int add_items(int forms, const Text *heads, const Text *mids, PyObject *outs, const Buf *body, Text id, const Row *row);

/* _express.c: recognition's prefilters */
int text_eq(Text a, const char *p, Py_ssize_t n);
int quiet_event(const Plan *plan, Text tag, Text msg, Fields *fields);
#define STARTS 2 /* what `event_quiet` says of a start a recovery signature may keep (see _express_starts.c) */
int event_quiet(const Plan *plan, Text tag, Text msg, Fields *fields);

/* _express_starts.c: the starts a lane may take (`Nearby.lane`, shipper/enrich/nearby.py) */
typedef struct {
    PyObject *units;  /* stem key -> (seconds, unit): the troubled units (dict; NULL: no start is taken) */
    long long window; /* RECOVERY_WINDOW */
    PyObject *asked;  /* stem key -> [lowest, highest] second of the starts taken (dict; NULL: not watched) */
} Starts;
typedef struct {
    Text host;
    Text stem[6]; /* a description's first word and a unit's (or ""), those of the entry's four unit fields */
    int n;
} Stems;
int starts_open(Starts *s, PyObject *arg);
int start_stems(Text host, Text msg, const Text *units, int n_units, int by_id, Stems *s);
int start_free(const Starts *st, const Stems *s, const char *ts);
int start_note(const Starts *st, const Stems *s, const char *ts);

/* _express_lines.c, _express_docs.c and _express_journal.c: the Plan's methods, and what they share */
int check_routes(PyObject *routes);
int check_outs(PyObject *outs, PyObject *routes);
int routes_for(PyObject *routes, PyObject *dataset, Text *heads, Text *mids);
PyObject *plan_scan(Plan *self, PyObject *args);
PyObject *plan_run(Plan *self, PyObject *args);
PyObject *cut_lines(PyObject *module, PyObject *args);
PyObject *plan_docs_scan(Plan *self, PyObject *args);
PyObject *plan_docs(Plan *self, PyObject *args);
int docs_init(void);
PyObject *plan_journal_scan(Plan *self, PyObject *args);
PyObject *plan_journal(Plan *self, PyObject *args);
PyObject *cut_entries(PyObject *module, PyObject *args);
int journal_init(void);

#endif
