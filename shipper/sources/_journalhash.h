/* Whether sd_journal gave all of an entry's fields: the XOR of their hashes is in its cursor.
 *
 * A journal entry object stores `xor_hash`, the XOR of the Jenkins hash (lookup3's hashlittle2,
 * as systemd's jenkins_hash64) of each of its "FIELD=value" payloads, whatever hash the file's
 * data objects use (systemd's journal_file_append_entry), and cursors carry it (";x=..."). When a
 * data object of the entry fails sd_journal's checks (a damaged file), sd_journal_enumerate_data
 * passes over it without a word (systemd 252: "data object is bad, skipping over it", a debug
 * message): the entry is read without that field, and the XOR of the fields read differs.
 *
 * A field given twice with the same value is stored once (systemd 252's remove_duplicate_entry_items),
 * but its hash went into `xor_hash` twice, which cancels it out: a difference that the hash of one
 * field read, or of two, makes up is taken for that (a lost data object's hash is not one of them
 * but by a 1 in 2^64 chance). sd_journal gives at most its data threshold (64 KiB) of a compressed
 * field: an entry with a field that long is not checked, nor one with more than JH_FIELDS fields.
 *
 * Cost: hashing every field of every entry made `pack` 11-16% slower (~0.3 µs an entry of 22
 * fields); with the first check below, 4-6%. Most fields of an entry are data objects many entries
 * share (_BOOT_ID=, _SYSTEMD_UNIT=, _UID=...), which sd_journal gives at the same address (in its
 * mapping of the file) each time; so a first check takes the hashes of the fields met in the same
 * `pack` call from a cache by address and length (`entry_xor_add`), and only an entry whose XOR
 * then differs is checked again, every field hashed (`EntryHash`, `entry_whole`). Within a call an
 * address may hold other bytes since (a mapping replaced, the buffer of a decompressed field):
 * another data object, whose hash can only make the first check differ (but by a 1 in 2^64
 * chance). Across calls it could hold another version of the same object (another copy of the
 * file, damaged there, mapped where the first was): so the cache holds one call's hashes
 * (`entry_xor_begin`). */
#ifndef SHIPPER_JOURNALHASH_H
#define SHIPPER_JOURNALHASH_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define JOURNAL_DATA_THRESHOLD 65536 /* sd_journal's default, which systemd-python keeps */
#define JH_FIELDS 512

/* The hashes of an entry's fields as they are read. */
typedef struct {
    uint64_t xor;
    uint64_t hash[JH_FIELDS];
    size_t n;
    int unchecked; /* a field at the threshold, or too many fields */
} EntryHash;

#define JH_ROT(x, k) (((x) << (k)) | ((x) >> (32 - (k))))

static inline uint32_t jh_le32(const uint8_t *k) {
    return (uint32_t)k[0] | (uint32_t)k[1] << 8 | (uint32_t)k[2] << 16 | (uint32_t)k[3] << 24;
}

/* lookup3's hashlittle2 with both seeds 0, as systemd's jenkins_hash64: (c << 32) | b. */
static uint64_t jenkins_hash64(const void *data, size_t length) {
    const uint8_t *k = data;
    uint32_t a, b, c;
    a = b = c = 0xdeadbeef + (uint32_t)length;
    if (length == 0)
        return (uint64_t)c << 32 | b;
    while (length > 12) {
        a += jh_le32(k);
        b += jh_le32(k + 4);
        c += jh_le32(k + 8);
        a -= c; a ^= JH_ROT(c, 4); c += b;
        b -= a; b ^= JH_ROT(a, 6); a += c;
        c -= b; c ^= JH_ROT(b, 8); b += a;
        a -= c; a ^= JH_ROT(c, 16); c += b;
        b -= a; b ^= JH_ROT(a, 19); a += c;
        c -= b; c ^= JH_ROT(b, 4); b += a;
        length -= 12;
        k += 12;
    }
    uint8_t tail[12] = {0}; /* the last 1 to 12 bytes, the rest zeros: what lookup3 adds */
    memcpy(tail, k, length);
    a += jh_le32(tail);
    b += jh_le32(tail + 4);
    c += jh_le32(tail + 8);
    c ^= b; c -= JH_ROT(b, 14);
    a ^= c; a -= JH_ROT(c, 11);
    b ^= a; b -= JH_ROT(a, 25);
    c ^= b; c -= JH_ROT(b, 16);
    a ^= c; a -= JH_ROT(c, 4);
    b ^= a; b -= JH_ROT(a, 14);
    c ^= b; c -= JH_ROT(b, 24);
    return (uint64_t)c << 32 | b;
}

static void entry_hash_add(EntryHash *h, const void *data, size_t len) {
    uint64_t v = jenkins_hash64(data, len);
    h->xor ^= v;
    h->unchecked |= len >= JOURNAL_DATA_THRESHOLD || h->n == JH_FIELDS;
    if (h->n < JH_FIELDS)
        h->hash[h->n++] = v;
}

/* A lower-case hex digit's value + 1; 0: not one. */
static const unsigned char jh_hex[256] = {
    ['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7, ['7'] = 8, ['8'] = 9,
    ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16};

/* The XOR a cursor gives: its last field, ";x=" and 1 to 16 lower-case hex digits, as sd_journal
 * writes it; 0 if it gives none. (Read from the end, not by strstr and strtoull: they took more time
 * than the hashes of the first check.) */
static int cursor_xor(const char *cursor, uint64_t *xor) {
    size_t n = strlen(cursor), digits = 0;
    uint64_t v = 0;
    for (; digits < n && digits <= 16; digits++) {
        uint64_t d = jh_hex[(unsigned char)cursor[n - 1 - digits]];
        if (d == 0)
            break;
        v |= (d - 1) << (4 * digits);
    }
    if (digits == 0 || digits > 16 || n < digits + 3 || memcmp(cursor + n - digits - 3, ";x=", 3) != 0)
        return 0;
    *xor = v;
    return 1;
}

/* Whether the fields read (``h``) are all of the entry's, by the XOR its cursor gives (a cursor
 * without one, or an entry not checked: taken as whole). */
static int entry_whole(const char *cursor, const EntryHash *h) {
    uint64_t diff;
    if (!cursor_xor(cursor, &diff) || h->unchecked)
        return 1;
    diff ^= h->xor;
    if (diff == 0)
        return 1;
    for (size_t i = 0; i < h->n; i++) /* fields given twice (see the top) */
        for (size_t k = i; k < h->n; k++)
            if ((k == i ? h->hash[i] : h->hash[i] ^ h->hash[k]) == diff)
                return 1;
    return 0;
}

/* The first check (see the top): the hashes of the fields sd_journal gave in this `pack` call, by
 * address and length; a slot of an earlier call (``gen``) is empty. Used under the GIL only. */
#define JH_CACHE_BITS 12
typedef struct {
    const void *at;
    uint32_t len;
    uint32_t gen;
    uint64_t hash;
} JhSlot;
static JhSlot jh_cache[1 << JH_CACHE_BITS];
static uint32_t jh_gen = 1;

/* A new `pack` call: the cache's hashes are of the calls before. */
static void entry_xor_begin(void) {
    if (++jh_gen == 0) { /* (2^32 calls on, a slot of then would look like one of now) */
        memset(jh_cache, 0, sizeof jh_cache);
        jh_gen = 1;
    }
}

static inline uint64_t entry_xor_add(uint64_t xor, const void *data, size_t len) {
    uint64_t key = ((uint64_t)(uintptr_t)data ^ len) * 0x9e3779b97f4a7c15ULL;
    JhSlot *slot = &jh_cache[key >> (64 - JH_CACHE_BITS)];
    if (slot->at == data && slot->len == len && slot->gen == jh_gen)
        return xor ^ slot->hash;
    uint64_t hash = jenkins_hash64(data, len);
    if (len <= UINT32_MAX) {
        slot->at = data;
        slot->len = (uint32_t)len;
        slot->gen = jh_gen;
        slot->hash = hash;
    }
    return xor ^ hash;
}

/* Whether the first check finds the entry whole: the XOR of its fields' hashes (`entry_xor_add`)
 * is the cursor's, or the cursor gives none. */
static int entry_xor_whole(const char *cursor, uint64_t xor) {
    uint64_t expected;
    return !cursor_xor(cursor, &expected) || expected == xor;
}

#endif
