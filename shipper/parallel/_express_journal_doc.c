/* The journal lane's documents: an entry's JSON from its fields, key for key as journal_doc
 * builds the document and orjson writes it (see _express_journal.c). */
#include "_express_journal.h"

/* The document's fixed pieces are written as they are, inline: a literal as Text, and a key
 * quoted with its colon ("key":, which needs no escape). Through put_str, PUT_LIT and strlen,
 * put_entry took 1.9 times the instructions (~3,000 more an entry). */
#define LIT(s) {(s), (Py_ssize_t)sizeof(s) - 1}
#define KEY(k) LIT("\"" k "\":")

static inline int put_text(Buf *b, Text t) {
    if (buf_grow(b, t.n) < 0)
        return -1;
    memcpy(b->p + b->n, t.p, (size_t)t.n);
    b->n += t.n;
    return 0;
}

#define PUT_TEXT(b, s) put_text((b), (Text)LIT(s))

static inline int put_char(Buf *b, char c) {
    if (buf_grow(b, 1) < 0)
        return -1;
    b->p[b->n++] = c;
    return 0;
}

/* An object whose members are written as they come: its opening ("key":{ after a comma) before
 * the first, a comma before the others, its closing } when it has any. */
typedef struct {
    Buf *b;
    Text open;
    int any;
} Object;

static int open_member(Object *o) {
    int r = o->any ? put_char(o->b, ',') : put_text(o->b, o->open);
    o->any = 1;
    return r;
}

/* "key":"value", when the value is not empty (journal_doc leaves out an empty field). */
static int member(Object *o, Text key, Text value) {
    if (value.n <= 0)
        return 0;
    return open_member(o) < 0 || put_text(o->b, key) < 0 || put_str(o->b, value.p, value.n) < 0 ? -1 : 0;
}

static int close_object(Object *o) { return o->any ? put_char(o->b, '}') : 0; }

/* "key":number */
static int number(Object *o, Text key, unsigned long long v) {
    return open_member(o) < 0 || put_text(o->b, key) < 0 || put_uint(o->b, v) < 0 ? -1 : 0;
}

static int put_host(Buf *b, Text host) {
    Object o = {b, LIT(",\"host\":{"), 0};
    return member(&o, (Text)KEY("name"), host) < 0 ? -1 : close_object(&o);
}

static int put_process(Buf *b, const Taken *t) {
    Object o = {b, LIT(",\"process\":{"), 0};
    if ((t->name.n >= 0 && member(&o, (Text)KEY("name"), t->name) < 0) ||
        (t->has_pid && number(&o, (Text)KEY("pid"), t->pid_value) < 0))
        return -1;
    return close_object(&o);
}

static int put_systemd(Buf *b, Entry *e) {
    static const int unit[] = {JF_UNIT, JF_SYSTEMD_UNIT}, user_unit[] = {JF_USER_UNIT, JF_SYSTEMD_USER_UNIT},
                     invocation[] = {JF_INVOCATION_ID, JF_USER_INVOCATION_ID, JF_SYSTEMD_INVOCATION_ID};
    Text v[5] = {{"", 0}, {"", 0}, {"", 0}, {"", 0}, {"", 0}};
    take_first(e, unit, 2, &v[0]);
    take_first(e, user_unit, 2, &v[1]);
    take_first(e, invocation, 3, &v[2]);
    take_one(e, JF_SYSTEMD_SLICE, &v[3]);
    take_one(e, JF_TRANSPORT, &v[4]);
    static const Text keys[5] = {KEY("unit"), KEY("user_unit"), KEY("invocation_id"), KEY("slice"), KEY("transport")};
    Object o = {b, LIT(",\"systemd\":{"), 0};
    for (int k = 0; k < 5; k++)
        if (member(&o, keys[k], v[k]) < 0)
            return -1;
    return close_object(&o);
}

/* "key":{"code":code,"name":name} */
static int code_name(Object *o, Text key, int code, Text name) {
    return open_member(o) < 0 || put_text(o->b, key) < 0 || PUT_TEXT(o->b, "{\"code\":") < 0 ||
                   put_uint(o->b, (unsigned)code) < 0 || PUT_TEXT(o->b, ",\"name\":") < 0 || put_str(o->b, name.p, name.n) < 0
               ? -1
               : put_char(o->b, '}');
}

/* `_log` for codes journald writes (-1: absent), which are taken out. */
static int put_log(Buf *b, const Plan *plan, Entry *e, int sev, int fac) {
    if (sev < 0 && fac < 0)
        return 0;
    Text unused;
    Object log = {b, LIT(",\"log\":{"), 0}, syslog = {b, LIT("\"syslog\":{"), 0};
    if (open_member(&log) < 0)
        return -1;
    if (fac >= 0) {
        take(e, JF_SYSLOG_FACILITY, &unused);
        if (code_name(&syslog, (Text)KEY("facility"), fac, plan->facilities[fac]) < 0)
            return -1;
    }
    if (sev >= 0) {
        take(e, JF_PRIORITY, &unused);
        if (code_name(&syslog, (Text)KEY("severity"), sev, plan->severities[sev]) < 0 ||
            (fac >= 0 && number(&syslog, (Text)KEY("priority"), (unsigned)(fac * 8 + sev)) < 0))
            return -1;
    }
    if (close_object(&syslog) < 0 || (sev >= 0 && member(&log, (Text)KEY("level"), plan->severities[sev]) < 0))
        return -1;
    return close_object(&log);
}

/* journald.*: the identifiers, `_unit_record`, and the fields left (journald.custom). */
static int put_journald(Buf *b, Entry *e) {
    static const int fields[] = {JF_MESSAGE_ID, JF_BOOT_ID, JF_CURSOR, JF_UNIT_RESULT, JF_EXIT_CODE, JF_COMMAND};
    static const Text keys[] = {KEY("message_id"), KEY("boot_id"), KEY("cursor"), KEY("unit_result"), KEY("exit_code"),
                                KEY("command")};
    static const int job_fields[] = {JF_JOB_TYPE, JF_JOB_RESULT, JF_JOB_ID};
    static const Text job_keys[] = {KEY("type"), KEY("result"), KEY("id")};
    Object o = {b, LIT(",\"journald\":{"), 0}, code = {b, LIT("\"code\":{"), 0}, job = {b, LIT("\"job\":{"), 0},
           custom = {b, LIT("\"custom\":{"), 0};
    Text v;
    for (int k = 0; k < 6; k++)
        if (take_one(e, fields[k], &v) && member(&o, keys[k], v) < 0)
            return -1;
    if (take_one(e, JF_CODE_FUNC, &v) &&
        (open_member(&o) < 0 || member(&code, (Text)KEY("func"), v) < 0 || close_object(&code) < 0))
        return -1;
    Text job_values[3] = {{"", 0}, {"", 0}, {"", 0}};
    int any_job = 0;
    for (int k = 0; k < 3; k++)
        any_job |= take_one(e, job_fields[k], &job_values[k]);
    if (any_job && open_member(&o) < 0)
        return -1;
    for (int k = 0; k < 3 && any_job; k++)
        if (member(&job, job_keys[k], job_values[k]) < 0)
            return -1;
    unsigned long long status;
    if (close_object(&job) < 0 ||
        (take_int(e, JF_EXIT_STATUS, &status) && number(&o, (Text)KEY("exit_status"), status) < 0))
        return -1;
    for (int i = 0; i < e->n; i++) {
        if (e->used[i])
            continue;
        if ((!custom.any && open_member(&o) < 0) || open_member(&custom) < 0 ||
            put_str(b, e->name[i].p, e->name[i].n) < 0 || put_char(b, ':') < 0 || put_str(b, e->value[i].p, e->value[i].n) < 0)
            return -1;
    }
    return close_object(&custom) < 0 ? -1 : close_object(&o);
}

/* The document's JSON after its opening brace, with event.id (its place at *id_at) and the
 * sendmail.* fields last; `message` (its key and value) is `b->p[message[0]:message[1]]`. */
int put_entry(Buf *b, const Plan *plan, Entry *e, const Taken *t, Py_ssize_t *id_at, Py_ssize_t message[2]) {
    b->n = 0;
    if (PUT_TEXT(b, "\"@timestamp\":\"") < 0 || put_text(b, (Text){t->ts, 27}) < 0 || put_char(b, '"') < 0)
        return -1;
    message[0] = b->n;
    if (PUT_TEXT(b, ",\"message\":") < 0 || put_str(b, t->key.msg.p, t->key.msg.n) < 0)
        return -1;
    message[1] = b->n;
    if (PUT_TEXT(b, ",\"event\":{\"dataset\":\"journald\",\"kind\":\"event\",\"id\":\"") < 0)
        return -1;
    *id_at = b->n;
    if (PUT_TEXT(b, "00000000000000000000000000000000\"}") < 0 || put_host(b, t->host) < 0 || put_process(b, t) < 0 ||
        put_systemd(b, e) < 0 || put_log(b, plan, e, t->severity, t->facility) < 0 || put_journald(b, e) < 0 ||
        put_fields(b, &t->mail, 1) < 0)
        return -1;
    return put_char(b, '}');
}

