/* inflate.c - a raw DEFLATE decoder (RFC 1951) and a gzip reader (RFC 1952),
 * so that the engine reads MNIST's .gz files without zlib.
 *
 * Safety: every read of the input is checked against its length, every write
 * against the output capacity, every back-reference against the bytes written
 * so far, and every Huffman code set is checked for over-subscription before
 * use. A malformed stream gives VAE_ERR_FORMAT with a message naming what is
 * wrong and the input offset; nothing reads or writes out of bounds.
 *
 * Speed: bits are kept in a 64-bit buffer refilled eight bytes at a time, and
 * Huffman codes of up to FAST_BITS bits are decoded with one table look-up;
 * longer (rare) codes take the canonical-code walk of zlib's puff.c. The hot
 * loop keeps its state in locals, because every store through a uint8_t
 * pointer may alias a struct field and would force the compiler to reload it. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "io_internal.h"

#define MAX_CODE_BITS 15   /* longest Huffman code (RFC 1951 section 3.2.1) */
#define MAX_LITLEN_SYMS 288 /* 0..255 literals, 256 end of block, 257..287 lengths */
#define MAX_DIST_SYMS 32    /* 30 distances, plus 30 and 31 in the fixed code */
#define FAST_BITS 10
#define FAST_SIZE (1u << FAST_BITS)

/* Internal results of the decoder; a positive FULL means "output capacity or
 * limit reached", which the public functions word differently. */
enum { INFLATE_OK = 0, INFLATE_FULL = 1 };

/* A canonical Huffman code (RFC 1951 section 3.2.2).
 * fast[b] for the low FAST_BITS input bits b is symbol << 4 | length when a
 * code of at most FAST_BITS bits matches them, else 0 (longer code, or a bit
 * pattern no code uses). count[len] is the number of codes of each length and
 * symbol[] the symbols ordered by (length, value), for the slow walk. */
typedef struct huffman {
    uint16_t fast[FAST_SIZE];
    uint16_t count[MAX_CODE_BITS + 1];
    uint16_t symbol[MAX_LITLEN_SYMS];
} huffman;

/* Decoder state. The output is out[0..cap); out_start is where the current
 * deflate stream began (distances may not reach before it) and limit the most
 * the output may ever hold. When growable, out is a malloc'd buffer that
 * doubles up to limit; otherwise cap == limit is the caller's buffer. */
typedef struct inflater {
    const uint8_t *in;
    size_t in_len, in_pos;
    uint64_t bitbuf;   /* next input bits, LSB first; bits above bitcount are 0 or input */
    unsigned bitcount; /* number of valid bits in bitbuf */
    uint8_t *out;
    size_t out_pos, out_start, cap, limit;
    int growable;
    const char *what; /* "deflate" or "gzip", the start of error messages */
    huffman lit, dist;
} inflater;

/* Base values and extra-bit counts of length symbols 257..285 and distance
 * symbols 0..29 (RFC 1951 section 3.2.5). */
static const uint16_t length_base[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,
                                         15, 17, 19, 23, 27, 31, 35, 43, 51,  59,
                                         67, 83, 99, 115, 131, 163, 195, 227, 258};
static const uint8_t length_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                         2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const uint16_t dist_base[30] = {1,    2,    3,    4,    5,    7,     9,     13,
                                       17,   25,   33,   49,   65,   97,    129,   193,
                                       257,  385,  513,  769,  1025, 1537,  2049,  3073,
                                       4097, 6145, 8193, 12289, 16385, 24577};
static const uint8_t dist_extra[30] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                       6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

/* The input offset of the next unread bit's byte, for error messages. */
static size_t input_offset(const inflater *s) { return s->in_pos - s->bitcount / 8; }

/* Records a format error at the current input offset. */
static int fail_format(const inflater *s, const char *reason)
{
    return vae_fail(VAE_ERR_FORMAT, "%s: %s (at compressed byte %zu)", s->what, reason,
                    input_offset(s));
}

static int fail_truncated(const inflater *s)
{
    return vae_fail(VAE_ERR_FORMAT, "%s: unexpected end of compressed data after %zu bytes",
                    s->what, s->in_len);
}

/* Little-endian 64-bit load from bytes, independent of the host's byte order
 * (compilers turn it into one load on little-endian machines). */
static inline uint64_t load_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* Tops the bit buffer up to at least 56 bits, or to whatever input is left.
 * With 8 bytes available it ORs in a whole 64-bit word and advances by the
 * whole bytes that fitted (F. Giesen's "variant 4"); the partial byte shifted
 * in above bitcount is real input, so ORing it again later is harmless. */
static inline void refill_bits(const uint8_t *in, size_t in_len, size_t *in_pos, uint64_t *bitbuf,
                               unsigned *bitcount)
{
    if (in_len - *in_pos >= 8) {
        *bitbuf |= load_le64(in + *in_pos) << *bitcount;
        *in_pos += (63 - *bitcount) >> 3;
        *bitcount |= 56;
    } else {
        while (*bitcount <= 56 && *in_pos < in_len) {
            *bitbuf |= (uint64_t)in[(*in_pos)++] << *bitcount;
            *bitcount += 8;
        }
    }
}

/* Makes sure n <= 32 bits are buffered; 0, or -1 when the input ends first. */
static int need_bits(inflater *s, unsigned n)
{
    if (s->bitcount < n) refill_bits(s->in, s->in_len, &s->in_pos, &s->bitbuf, &s->bitcount);
    return s->bitcount < n ? -1 : 0;
}

/* Takes n buffered bits (the caller has checked that they are there). */
static inline uint32_t take_bits(uint64_t *bitbuf, unsigned *bitcount, unsigned n)
{
    uint32_t v = (uint32_t)(*bitbuf & ((1ull << n) - 1));
    *bitbuf >>= n;
    *bitcount -= n;
    return v;
}

/* Reverses the low len bits of code: Huffman codes are defined MSB first but
 * packed LSB first (RFC 1951 section 3.1.1), so the table is indexed reversed. */
static unsigned reverse_bits(unsigned code, unsigned len)
{
    unsigned r = 0;
    while (len--) {
        r = r << 1 | (code & 1);
        code >>= 1;
    }
    return r;
}

/* Results of build_huffman. */
enum { HUFF_COMPLETE = 0, HUFF_INCOMPLETE = 1, HUFF_OVERSUBSCRIBED = -1, HUFF_EMPTY = 2 };

/* Builds the canonical code of n symbols from their code lengths (RFC 1951
 * section 3.2.2: codes of one length are consecutive in symbol order, and
 * shorter codes sort before longer). Returns HUFF_OVERSUBSCRIBED when the
 * lengths claim more codes than exist (the Kraft sum exceeds 1), HUFF_EMPTY
 * when no symbol has a code, HUFF_INCOMPLETE when bit patterns are left over
 * (then max_len says how long the longest code is), else HUFF_COMPLETE. */
static int build_huffman(huffman *h, const uint8_t *lens, unsigned n, unsigned *max_len)
{
    uint16_t offset[MAX_CODE_BITS + 2];
    unsigned next_code[MAX_CODE_BITS + 1];
    memset(h->count, 0, sizeof h->count);
    for (unsigned sym = 0; sym < n; sym++) h->count[lens[sym]]++;
    h->count[0] = 0;
    *max_len = 0;
    for (unsigned len = 1; len <= MAX_CODE_BITS; len++)
        if (h->count[len]) *max_len = len;

    memset(h->fast, 0, sizeof h->fast);
    if (*max_len == 0) return HUFF_EMPTY;

    /* Kraft: after length len, `left` patterns of len bits remain unused. */
    int left = 1;
    for (unsigned len = 1; len <= MAX_CODE_BITS; len++) {
        left = 2 * left - h->count[len];
        if (left < 0) return HUFF_OVERSUBSCRIBED;
    }

    offset[1] = 0;
    for (unsigned len = 1; len <= MAX_CODE_BITS; len++)
        offset[len + 1] = (uint16_t)(offset[len] + h->count[len]);
    for (unsigned sym = 0; sym < n; sym++)
        if (lens[sym]) h->symbol[offset[lens[sym]]++] = (uint16_t)sym;

    /* First code of each length (RFC 1951 section 3.2.2, step 2). */
    unsigned code = 0;
    next_code[0] = 0;
    for (unsigned len = 1; len <= MAX_CODE_BITS; len++) {
        code = (code + (len > 1 ? h->count[len - 1] : 0)) << 1;
        next_code[len] = code;
    }
    for (unsigned sym = 0; sym < n; sym++) {
        unsigned len = lens[sym];
        if (len == 0) continue;
        unsigned c = next_code[len]++;
        if (len > FAST_BITS) continue;
        uint16_t entry = (uint16_t)(sym << 4 | len);
        for (unsigned i = reverse_bits(c, len); i < FAST_SIZE; i += 1u << len) h->fast[i] = entry;
    }
    return left > 0 ? HUFF_INCOMPLETE : HUFF_COMPLETE;
}

/* Decode results below zero, apart from the VAE_ERR_* codes (which
 * inflate_codes also passes on, from reserve_output). */
enum { DECODE_INVALID = -100, DECODE_TRUNCATED = -101 };

/* Decodes a code longer than FAST_BITS, or one the fast table lacks, by
 * walking the canonical code one bit at a time (as puff.c does): at each
 * length, codes in [first, first + count) are that length's symbols. */
static int decode_slow(uint64_t *bitbuf, unsigned *bitcount, const huffman *h)
{
    int code = 0, first = 0, index = 0;
    uint64_t bits = *bitbuf;
    for (unsigned len = 1; len <= MAX_CODE_BITS; len++) {
        if (len > *bitcount) return DECODE_TRUNCATED;
        code |= (int)(bits & 1);
        bits >>= 1;
        int count = h->count[len];
        if (code - count < first) {
            *bitbuf >>= len;
            *bitcount -= len;
            return h->symbol[index + (code - first)];
        }
        index += count;
        first = (first + count) << 1;
        code <<= 1;
    }
    return DECODE_INVALID;
}

/* Decodes one symbol: a table look-up on the next FAST_BITS bits, else the
 * slow walk. The bits past bitcount may be zero padding, so a match longer
 * than what is buffered means the input ended. */
static inline int decode_symbol(uint64_t *bitbuf, unsigned *bitcount, const huffman *h)
{
    unsigned entry = h->fast[*bitbuf & (FAST_SIZE - 1)];
    if (entry) {
        unsigned len = entry & 15;
        if (len > *bitcount) return DECODE_TRUNCATED;
        *bitbuf >>= len;
        *bitcount -= len;
        return (int)(entry >> 4);
    }
    return decode_slow(bitbuf, bitcount, h);
}

/* Makes room for out_pos + n bytes: INFLATE_OK, INFLATE_FULL when that passes
 * the limit, or VAE_ERR_NOMEM. A growable buffer doubles (capped by limit), so
 * the total copying stays linear in the output size. */
static int reserve_output(inflater *s, size_t n)
{
    size_t need;
    if (!vae_add_size(s->out_pos, n, &need) || need > s->limit) return INFLATE_FULL;
    if (need <= s->cap) return INFLATE_OK;
    if (!s->growable) return INFLATE_FULL;
    size_t new_cap = s->cap > s->limit / 2 ? s->limit : s->cap * 2;
    if (new_cap < need) new_cap = need;
    if (new_cap < 4096 && s->limit >= 4096) new_cap = 4096;
    uint8_t *p = realloc(s->out, new_cap);
    if (!p) return vae_fail(VAE_ERR_NOMEM, "%s: out of memory for %zu bytes of output", s->what,
                            new_cap);
    vae_io_advise_large_pages(p + s->out_pos, new_cap - s->out_pos); /* the part not yet written */
    s->out = p;
    s->cap = new_cap;
    return INFLATE_OK;
}

/* A stored block (RFC 1951 section 3.2.4): skip to a byte boundary, then LEN
 * and its complement NLEN (16 bits each, little-endian) and LEN raw bytes. */
static int inflate_stored(inflater *s)
{
    /* Give back the whole bytes still in the bit buffer, dropping the partial one. */
    s->in_pos -= s->bitcount / 8;
    s->bitbuf = 0;
    s->bitcount = 0;
    if (s->in_len - s->in_pos < 4) return fail_truncated(s);
    const uint8_t *p = s->in + s->in_pos;
    unsigned len = p[0] | (unsigned)p[1] << 8, nlen = p[2] | (unsigned)p[3] << 8;
    if (len != (~nlen & 0xFFFF)) return fail_format(s, "invalid stored block lengths");
    s->in_pos += 4;
    if (s->in_len - s->in_pos < len) return fail_truncated(s);
    int rc = reserve_output(s, len);
    if (rc == INFLATE_FULL && !s->growable) {
        /* Fill a caller's fixed buffer to the last byte before giving up. */
        size_t room = s->cap - s->out_pos;
        memcpy(s->out + s->out_pos, s->in + s->in_pos, room);
        s->out_pos += room;
        s->in_pos += room;
    }
    if (rc != INFLATE_OK) return rc;
    if (len) memcpy(s->out + s->out_pos, s->in + s->in_pos, len);
    s->out_pos += len;
    s->in_pos += len;
    return INFLATE_OK;
}

/* Decodes the symbols of one Huffman-coded block with s->lit and s->dist
 * (RFC 1951 section 3.2.5) until the end-of-block symbol. A refill leaves at
 * least 56 bits away from the end of the input, enough for the longest
 * length/distance pair (15 + 5 + 15 + 13 = 48 bits); near the end every step
 * checks what is buffered. */
static int inflate_codes(inflater *s)
{
    const uint8_t *in = s->in;
    const size_t in_len = s->in_len;
    size_t in_pos = s->in_pos;
    uint64_t bitbuf = s->bitbuf;
    unsigned bitcount = s->bitcount;
    uint8_t *out = s->out;
    size_t pos = s->out_pos, cap = s->cap;
    const size_t start = s->out_start;
    const huffman *lit = &s->lit, *dist = &s->dist;
    const char *error = NULL;
    int rc = INFLATE_OK;

/* Saves the locals before anything that reads or changes the struct. */
#define SAVE_STATE() (s->in_pos = in_pos, s->bitbuf = bitbuf, s->bitcount = bitcount, s->out_pos = pos)

    for (;;) {
        refill_bits(in, in_len, &in_pos, &bitbuf, &bitcount);
        int sym = decode_symbol(&bitbuf, &bitcount, lit);
        if (sym < 256) {
            if (sym < 0) {
                error = sym == DECODE_TRUNCATED ? NULL : "invalid literal/length code";
                rc = sym;
                break;
            }
            if (pos >= cap) {
                SAVE_STATE();
                rc = reserve_output(s, 1);
                if (rc != INFLATE_OK) break;
                out = s->out;
                cap = s->cap;
            }
            out[pos++] = (uint8_t)sym;
            continue;
        }
        if (sym == 256) break;
        sym -= 257;
        if (sym >= 29) {
            error = "invalid literal/length code";
            rc = DECODE_INVALID;
            break;
        }
        unsigned extra = length_extra[sym];
        if (bitcount < extra) {
            rc = DECODE_TRUNCATED;
            break;
        }
        size_t len = length_base[sym] + take_bits(&bitbuf, &bitcount, extra);

        if (bitcount < MAX_CODE_BITS + 13) refill_bits(in, in_len, &in_pos, &bitbuf, &bitcount);
        int dsym = decode_symbol(&bitbuf, &bitcount, dist);
        if (dsym < 0 || dsym >= 30) {
            error = dsym == DECODE_TRUNCATED ? NULL : "invalid distance code";
            rc = dsym == DECODE_TRUNCATED ? DECODE_TRUNCATED : DECODE_INVALID;
            break;
        }
        extra = dist_extra[dsym];
        if (bitcount < extra) {
            rc = DECODE_TRUNCATED;
            break;
        }
        size_t d = dist_base[dsym] + take_bits(&bitbuf, &bitcount, extra);
        if (d > pos - start) {
            error = "invalid distance too far back";
            rc = DECODE_INVALID;
            break;
        }
        if (len > cap - pos) {
            SAVE_STATE();
            rc = reserve_output(s, len);
            if (rc != INFLATE_OK) {
                /* A caller's fixed buffer is filled to the last byte, so that
                 * a prefix decode (vae_io_gunzip_prefix) gets every byte. */
                if (rc == INFLATE_FULL && !s->growable)
                    for (; pos < cap; pos++) out[pos] = out[pos - d];
                break;
            }
            out = s->out;
            cap = s->cap;
        }
        /* Copy the match; when d < len it overlaps its own output (a run),
         * which a forward byte-by-byte copy reproduces. */
        uint8_t *dst = out + pos;
        const uint8_t *src = dst - d;
        if (d >= 8 && cap - pos >= len + 8) {
            /* Eight bytes at a time, possibly writing up to 7 bytes past the
             * match (inside the buffer; later output overwrites them). With
             * d >= 8 each chunk reads only bytes already written. */
            uint8_t *end = dst + len;
            do {
                memcpy(dst, src, 8);
                dst += 8;
                src += 8;
            } while (dst < end);
        } else if (d >= len) {
            memcpy(dst, src, len);
        } else if (d == 1) {
            memset(dst, src[0], len);
        } else {
            for (size_t i = 0; i < len; i++) dst[i] = src[i];
        }
        pos += len;
    }
    SAVE_STATE();
#undef SAVE_STATE
    if (rc == DECODE_TRUNCATED) return fail_truncated(s);
    if (rc == DECODE_INVALID) return fail_format(s, error);
    return rc; /* INFLATE_OK, INFLATE_FULL or VAE_ERR_NOMEM */
}

/* Builds the fixed codes of block type 1 (RFC 1951 section 3.2.6). */
static void build_fixed(inflater *s)
{
    uint8_t lens[MAX_LITLEN_SYMS];
    unsigned max_len;
    memset(lens, 8, 144);
    memset(lens + 144, 9, 112);
    memset(lens + 256, 7, 24);
    memset(lens + 280, 8, 8);
    build_huffman(&s->lit, lens, MAX_LITLEN_SYMS, &max_len);
    memset(lens, 5, MAX_DIST_SYMS);
    build_huffman(&s->dist, lens, MAX_DIST_SYMS, &max_len);
}

/* Reads the code definitions of a dynamic block (RFC 1951 section 3.2.7):
 * HLIT, HDIST, HCLEN, the code-length code, then the literal/length and
 * distance code lengths run-length coded with symbols 16, 17 and 18. Checks
 * the sets as zlib does: the code-length code must be complete; the others may
 * be incomplete only when they hold a single one-bit code. */
static int read_dynamic_codes(inflater *s)
{
    static const uint8_t order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5,
                                      11, 4, 12, 3, 13, 2, 14, 1, 15};
    uint8_t lens[MAX_LITLEN_SYMS + MAX_DIST_SYMS];
    unsigned max_len;

    if (need_bits(s, 14)) return fail_truncated(s);
    unsigned nlit = take_bits(&s->bitbuf, &s->bitcount, 5) + 257;
    unsigned ndist = take_bits(&s->bitbuf, &s->bitcount, 5) + 1;
    unsigned ncode = take_bits(&s->bitbuf, &s->bitcount, 4) + 4;
    if (nlit > 286 || ndist > 30) return fail_format(s, "too many length or distance symbols");

    memset(lens, 0, 19);
    for (unsigned i = 0; i < ncode; i++) {
        if (need_bits(s, 3)) return fail_truncated(s);
        lens[order[i]] = (uint8_t)take_bits(&s->bitbuf, &s->bitcount, 3);
    }
    if (build_huffman(&s->lit, lens, 19, &max_len) != HUFF_COMPLETE)
        return fail_format(s, "invalid code lengths set");

    unsigned total = nlit + ndist;
    for (unsigned i = 0; i < total;) {
        need_bits(s, MAX_CODE_BITS + 7);
        int sym = decode_symbol(&s->bitbuf, &s->bitcount, &s->lit);
        if (sym == DECODE_TRUNCATED) return fail_truncated(s);
        if (sym < 0) return fail_format(s, "invalid code length code");
        if (sym < 16) {
            lens[i++] = (uint8_t)sym;
            continue;
        }
        unsigned value = 0, repeat, extra = sym == 16 ? 2 : sym == 17 ? 3 : 7;
        if (s->bitcount < extra) return fail_truncated(s);
        repeat = take_bits(&s->bitbuf, &s->bitcount, extra) + (sym == 18 ? 11 : 3);
        if (sym == 16) {
            if (i == 0) return fail_format(s, "invalid bit length repeat (nothing to repeat)");
            value = lens[i - 1];
        }
        if (repeat > total - i) return fail_format(s, "invalid bit length repeat (too many lengths)");
        memset(lens + i, (int)value, repeat);
        i += repeat;
    }

    if (lens[256] == 0) return fail_format(s, "invalid code -- missing end-of-block");
    int rc = build_huffman(&s->lit, lens, nlit, &max_len);
    if (rc == HUFF_OVERSUBSCRIBED || (rc == HUFF_INCOMPLETE && max_len != 1))
        return fail_format(s, "invalid literal/lengths set");
    rc = build_huffman(&s->dist, lens + nlit, ndist, &max_len);
    if (rc == HUFF_OVERSUBSCRIBED || (rc == HUFF_INCOMPLETE && max_len != 1))
        return fail_format(s, "invalid distances set");
    return INFLATE_OK;
}

/* Decodes one whole deflate stream (blocks until the one marked final). */
static int inflate_stream(inflater *s)
{
    int final;
    do {
        if (need_bits(s, 3)) return fail_truncated(s);
        final = (int)take_bits(&s->bitbuf, &s->bitcount, 1);
        unsigned type = take_bits(&s->bitbuf, &s->bitcount, 2);
        int rc;
        if (type == 0) {
            rc = inflate_stored(s);
        } else if (type == 1) {
            build_fixed(s);
            rc = inflate_codes(s);
        } else if (type == 2) {
            rc = read_dynamic_codes(s);
            if (rc == INFLATE_OK) rc = inflate_codes(s);
        } else {
            rc = fail_format(s, "invalid block type");
        }
        if (rc != INFLATE_OK) return rc;
    } while (!final);
    return INFLATE_OK;
}

/* Points the decoder at a new input, keeping its output buffer. */
static void start_input(inflater *s, const uint8_t *in, size_t in_len)
{
    s->in = in;
    s->in_len = in_len;
    s->in_pos = 0;
    s->bitbuf = 0;
    s->bitcount = 0;
    s->out_start = s->out_pos;
}

/* See vae.h. The output is the caller's fixed buffer; running out of it is an
 * error (the stream is not resumable). */
int vae_inflate(const uint8_t *in, size_t in_len, uint8_t *out, size_t cap, size_t *out_len,
                size_t *consumed)
{
    if (out_len) *out_len = 0;
    if (consumed) *consumed = 0;
    if ((!in && in_len) || (!out && cap) || !out_len)
        return vae_fail(VAE_ERR_ARG, "deflate: NULL buffer");
    inflater *s = malloc(sizeof *s);
    if (!s) return vae_fail(VAE_ERR_NOMEM, "deflate: out of memory");
    memset(s, 0, offsetof(inflater, lit));
    s->what = "deflate";
    s->out = out;
    s->cap = s->limit = cap;
    start_input(s, in, in_len);
    int rc = inflate_stream(s);
    if (rc == INFLATE_FULL)
        rc = vae_fail(VAE_ERR_FORMAT, "deflate: output exceeds %zu bytes", cap);
    *out_len = s->out_pos;
    if (consumed) *consumed = input_offset(s);
    free(s);
    return rc;
}

/* gzip header flags (RFC 1952 section 2.3.1). */
enum { FTEXT = 1, FHCRC = 2, FEXTRA = 4, FNAME = 8, FCOMMENT = 16, FRESERVED = 0xE0 };

/* Parses the header of gzip member `member` (1-based) at in[0..len) and sets
 * *header_len (RFC 1952 section 2.3): magic 1f 8b, method 8, flags, mtime,
 * xfl, os, then the optional extra field, file name, comment and header CRC
 * (the low 16 bits of the CRC-32 of the header bytes before it). */
static int parse_gzip_header(const uint8_t *in, size_t len, int member, size_t *header_len)
{
    if (len < 2 || in[0] != 0x1F || in[1] != 0x8B) {
        if (member > 1)
            return vae_fail(VAE_ERR_FORMAT, "gzip: trailing garbage after member %d", member - 1);
        if (len < 2) return vae_fail(VAE_ERR_FORMAT, "gzip: truncated header");
        return vae_fail(VAE_ERR_FORMAT, "gzip: not gzip data (starts with %02x %02x)", in[0],
                        in[1]);
    }
    if (len < 10) goto truncated;
    if (in[2] != 8)
        return vae_fail(VAE_ERR_FORMAT,
                        "gzip: compression method %u not supported (only 8, deflate)", in[2]);
    unsigned flags = in[3];
    if (flags & FRESERVED)
        return vae_fail(VAE_ERR_FORMAT, "gzip: reserved header flags set (0x%02x)", flags);
    size_t p = 10;
    if (flags & FEXTRA) {
        if (len - p < 2) goto truncated;
        size_t xlen = in[p] | (size_t)in[p + 1] << 8;
        p += 2;
        if (len - p < xlen) goto truncated;
        p += xlen;
    }
    for (unsigned flag = FNAME; flag <= FCOMMENT; flag <<= 1) {
        if (!(flags & flag)) continue;
        const uint8_t *nul = memchr(in + p, 0, len - p);
        if (!nul) goto truncated;
        p = (size_t)(nul - in) + 1;
    }
    if (flags & FHCRC) {
        if (len - p < 2) goto truncated;
        unsigned stored = in[p] | (unsigned)in[p + 1] << 8;
        unsigned computed = vae_crc32(0, in, p) & 0xFFFF;
        if (stored != computed)
            return vae_fail(VAE_ERR_FORMAT,
                            "gzip: header CRC mismatch in member %d (stored 0x%04x, computed 0x%04x)",
                            member, stored, computed);
        p += 2;
    }
    *header_len = p;
    return 0;
truncated:
    return vae_fail(VAE_ERR_FORMAT, "gzip: truncated header of member %d", member);
}

/* The first allocation for vae_gunzip: the ISIZE field of the last member is
 * the uncompressed size mod 2^32 when there is one member, so it is a good
 * guess, but it is untrusted: it is capped by max_out and by the most that
 * deflate can expand in_len bytes (258 bytes from as little as 2 bits, about
 * 1032:1), and the buffer still grows if the guess is short. */
static size_t initial_capacity(const uint8_t *in, size_t in_len, size_t max_out)
{
    size_t guess = in_len >= 18 ? vae_load_le32(in + in_len - 4) : 0, bound;
    if (!vae_mul_size(in_len, 1032, &bound)) bound = SIZE_MAX;
    if (guess > bound) guess = bound;
    if (guess > max_out) guess = max_out;
    return guess;
}

/* See io_internal.h. */
size_t vae_io_inflate_bound(size_t in_len)
{
    size_t bound;
    if (!vae_mul_size(in_len, 1032, &bound) || !vae_add_size(bound, 1032, &bound)) return SIZE_MAX;
    return bound;
}

/* vae_gunzip, and *exceeded (when not NULL) set to 1 when it failed because
 * the output would pass max_out. Each member is header, deflate stream,
 * CRC-32 and ISIZE (RFC 1952 section 2.3.1); members follow each other and
 * their outputs are joined. Zero bytes after the last member (padding) are
 * ignored, as gzip does; anything else must be another member. */
static int gunzip(const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len,
                  size_t max_out, int *exceeded)
{
    if (exceeded) *exceeded = 0;
    if (!out || !out_len) return vae_fail(VAE_ERR_ARG, "gzip: NULL output pointer");
    *out = NULL;
    *out_len = 0;
    if (!in && in_len) return vae_fail(VAE_ERR_ARG, "gzip: NULL input");
    if (in_len == 0) return vae_fail(VAE_ERR_FORMAT, "gzip: empty input");

    inflater *s = malloc(sizeof *s);
    if (!s) return vae_fail(VAE_ERR_NOMEM, "gzip: out of memory");
    memset(s, 0, offsetof(inflater, lit));
    s->what = "gzip";
    s->growable = 1;
    s->limit = max_out;
    s->cap = initial_capacity(in, in_len, max_out); /* never above the limit */
    s->out = malloc(s->cap ? s->cap : 1);
    int rc = s->out ? 0 : vae_fail(VAE_ERR_NOMEM, "gzip: out of memory for %zu bytes", s->cap);
    vae_io_advise_large_pages(s->out, s->cap);

    size_t p = 0;
    for (int member = 1; rc == 0 && p < in_len; member++) {
        if (member > 1) {
            size_t q = p;
            while (q < in_len && in[q] == 0) q++;
            if (q == in_len) break;
        }
        size_t header_len = 0;
        rc = parse_gzip_header(in + p, in_len - p, member, &header_len);
        if (rc) break;
        p += header_len;
        start_input(s, in + p, in_len - p);
        rc = inflate_stream(s);
        if (rc == INFLATE_FULL) {
            rc = vae_fail(VAE_ERR_FORMAT, "gzip: decompressed data exceeds the limit of %zu bytes",
                          max_out);
            if (exceeded) *exceeded = 1;
            break;
        }
        if (rc) break;
        p += input_offset(s);
        if (in_len - p < 8) {
            rc = vae_fail(VAE_ERR_FORMAT,
                          "gzip: member %d is truncated (no CRC-32 and length trailer)", member);
            break;
        }
        size_t produced = s->out_pos - s->out_start;
        uint32_t crc = vae_crc32(0, s->out + s->out_start, produced);
        uint32_t stored_crc = vae_load_le32(in + p), stored_size = vae_load_le32(in + p + 4);
        if (crc != stored_crc) {
            rc = vae_fail(VAE_ERR_FORMAT,
                          "gzip: CRC-32 mismatch in member %d (stored 0x%08x, computed 0x%08x)",
                          member, (unsigned)stored_crc, (unsigned)crc);
            break;
        }
        if ((uint32_t)produced != stored_size) {
            rc = vae_fail(VAE_ERR_FORMAT,
                          "gzip: length mismatch in member %d (stored %u mod 2^32, decoded %zu)",
                          member, (unsigned)stored_size, produced);
            break;
        }
        p += 8;
    }
    if (rc) {
        free(s->out);
        free(s);
        return rc;
    }
    /* Give back what the guess over-allocated. */
    uint8_t *shrunk = s->out_pos < s->cap ? realloc(s->out, s->out_pos ? s->out_pos : 1) : NULL;
    *out = shrunk ? shrunk : s->out;
    *out_len = s->out_pos;
    free(s);
    return 0;
}

/* See vae.h. */
int vae_gunzip(const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len, size_t max_out)
{
    return gunzip(in, in_len, out, out_len, max_out, NULL);
}

/* See io_internal.h. */
int vae_io_gunzip(const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len,
                  size_t max_out, int *exceeded)
{
    return gunzip(in, in_len, out, out_len, max_out, exceeded);
}

/* See io_internal.h. Decoding stops as soon as out is full, so whatever
 * follows (and the trailer's CRC) is not looked at: the caller decodes the
 * whole stream again once the prefix told it how much output to allow. */
int vae_io_gunzip_prefix(const uint8_t *in, size_t in_len, uint8_t *out, size_t cap,
                         size_t *out_len)
{
    *out_len = 0;
    if (in_len == 0) return vae_fail(VAE_ERR_FORMAT, "gzip: empty input");
    size_t header_len = 0;
    int rc = parse_gzip_header(in, in_len, 1, &header_len);
    if (rc) return rc;
    inflater *s = malloc(sizeof *s);
    if (!s) return vae_fail(VAE_ERR_NOMEM, "gzip: out of memory");
    memset(s, 0, offsetof(inflater, lit));
    s->what = "gzip";
    s->out = out;
    s->cap = s->limit = cap;
    start_input(s, in + header_len, in_len - header_len);
    rc = inflate_stream(s);
    *out_len = s->out_pos;
    free(s);
    return rc == INFLATE_FULL ? 0 : rc;
}
