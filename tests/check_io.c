/* check_io.c - tests of io/: CRC-32 and Adler-32, inflate and gunzip, whole-
 * file reads, IDX, the MNIST folder loader, PNM and PNG output.
 *
 * Every expectation comes from outside the code under test: published check
 * values (CRC-32 "123456789", Adler-32 "Wikipedia"), bit-by-bit reference
 * implementations written here, fixtures made by the real gzip and by
 * Python's zlib (tests/data/README says how), byte streams built by hand from
 * RFC 1951/1952, and file parsers written here for the formats we write.
 * Run from the repository root, or define VAE_TEST_DATA_DIR (and
 * VAE_TEST_FUZZ_DIR, the fuzz seed corpora). */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io_internal.h"
#include "vae.h"

#ifndef VAE_TEST_DATA_DIR
#define VAE_TEST_DATA_DIR "tests/data"
#endif
#ifndef VAE_TEST_FUZZ_DIR
#define VAE_TEST_FUZZ_DIR "tests/fuzz/corpus"
#endif
#ifndef VAE_TEST_MNIST_DIR
#define VAE_TEST_MNIST_DIR "data"
#endif

#define SAMPLE_LEN 100000

/* ------------------------------------------------------------ references */

/* CRC-32 one bit at a time, straight from the definition (reflected
 * polynomial 0xEDB88320, preset and final complement): no table. */
static uint32_t ref_crc32(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
    }
    return ~c;
}

/* Adler-32 with a reduction after every byte (RFC 1950 section 8.2). */
static uint32_t ref_adler32(const uint8_t *p, size_t n)
{
    uint32_t a = 1, b = 0;
    for (size_t i = 0; i < n; i++) {
        a = (a + p[i]) % 65521u;
        b = (b + a) % 65521u;
    }
    return b << 16 | a;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}
static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}
static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

/* The fixtures' uncompressed content, the same generator as sample_bytes()
 * in tests/data/make_fixtures.py: words, runs and random bytes from an LCG. */
static uint8_t *sample_bytes(size_t n)
{
    static const char *const words[16] = {"the ",     "quick ",   "brown ",  "fox ",
                                           "jumps ",   "over ",    "lazy ",   "dog ",
                                           "vae ",     "encoder ", "decoder ", "latent ",
                                           "pixel ",   "gzip ",    "\n",      "mnist "};
    uint8_t *out = malloc(n + 400);
    ck_assert_ptr_nonnull(out);
    uint32_t s = 12345;
    size_t len = 0;
#define NEXT() (s = s * 1103515245u + 12345u, s >> 16)
    while (len < n) {
        uint32_t r = NEXT();
        uint32_t kind = r & 15;
        if (kind == 0) {
            uint32_t k = 1 + ((r >> 4) & 31);
            for (uint32_t i = 0; i < k; i++) out[len++] = (uint8_t)(NEXT() & 0xFF);
        } else if (kind == 1) {
            uint32_t k = 3 + ((r >> 12) & 7) * 40;
            memset(out + len, (int)((r >> 4) & 0xFF), k);
            len += k;
        } else {
            const char *w = words[(r >> 4) & 15];
            memcpy(out + len, w, strlen(w));
            len += strlen(w);
        }
    }
#undef NEXT
    return out;
}

/* Reads a whole file with stdio (not the code under test). */
static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    buf[n] = 0; /* n < cap: lets sscanf read a header safely */
    *len = n;
    return buf;
}

static uint8_t *fixture(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", VAE_TEST_DATA_DIR, name);
    return slurp(path, len);
}

static void spit(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

/* A fresh folder under /tmp for one test, and its removal (flat folders). */
static void make_temp_dir(char *dir, size_t size)
{
    snprintf(dir, size, "/tmp/vae-check-io-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void remove_temp_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[1024];
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        remove(path);
    }
    closedir(d);
    rmdir(dir);
}

#define ck_assert_error_contains(text)                                                          \
    ck_assert_msg(strstr(vae_last_error(), (text)) != NULL, "error \"%s\" lacks \"%s\"",         \
                  vae_last_error(), (text))
#define ck_assert_error_starts(prefix)                                                          \
    ck_assert_msg(strncmp(vae_last_error(), (prefix), strlen(prefix)) == 0,                     \
                  "error \"%s\" does not start with \"%s\"", vae_last_error(), (prefix))

/* A gzip member (RFC 1952) around a deflate stream, with a plain 10-byte
 * header and a trailer of the given CRC-32 and content length. */
static uint8_t *gzip_wrap_crc(const uint8_t *deflate, size_t deflate_len, uint32_t crc, size_t content_len,
                              size_t *len)
{
    uint8_t *g = malloc(10 + deflate_len + 8);
    ck_assert_ptr_nonnull(g);
    static const uint8_t header[10] = {0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3};
    memcpy(g, header, 10);
    memcpy(g + 10, deflate, deflate_len);
    put_le32(g + 10 + deflate_len, crc);
    put_le32(g + 14 + deflate_len, (uint32_t)content_len);
    *len = 18 + deflate_len;
    return g;
}

/* The same with the trailer's CRC computed by the reference CRC. */
static uint8_t *gzip_wrap(const uint8_t *deflate, size_t deflate_len, const uint8_t *content,
                          size_t content_len, size_t *len)
{
    return gzip_wrap_crc(deflate, deflate_len, ref_crc32(content, content_len), content_len, len);
}

/* Bit writer for hand-made deflate streams: values LSB first, Huffman codes
 * MSB first (RFC 1951 section 3.1.1). */
typedef struct bit_writer {
    uint8_t buf[64];
    size_t bit;
} bit_writer;

static void put_bits(bit_writer *w, uint32_t value, int n)
{
    for (int i = 0; i < n; i++, w->bit++)
        if (value >> i & 1) w->buf[w->bit / 8] |= (uint8_t)(1u << (w->bit % 8));
}

static void put_code(bit_writer *w, uint32_t code, int n)
{
    for (int i = n - 1; i >= 0; i--) put_bits(w, code >> i & 1, 1);
}

/* ---------------------------------------------------------- checksums */

START_TEST(test_crc32_check_value)
{
    ck_assert_uint_eq(vae_crc32(0, "123456789", 9), 0xCBF43926u);
    ck_assert_uint_eq(vae_crc32(0, "", 0), 0);
    ck_assert_uint_eq(vae_crc32(0, "The quick brown fox jumps over the lazy dog", 43), 0x414FA339u);
    /* Continuing over a split equals one pass. */
    ck_assert_uint_eq(vae_crc32(vae_crc32(0, "1234", 4), "56789", 5), 0xCBF43926u);
}
END_TEST

START_TEST(test_crc32_matches_bitwise_reference)
{
    uint8_t *s = sample_bytes(SAMPLE_LEN);
    for (size_t off = 0; off < 9; off++)
        for (size_t n = 0; n < 70; n++)
            ck_assert_uint_eq(vae_crc32(0, s + off, n), ref_crc32(s + off, n));
    ck_assert_uint_eq(vae_crc32(0, s, SAMPLE_LEN), ref_crc32(s, SAMPLE_LEN));
    uint32_t c = 0;
    for (size_t at = 0; at < SAMPLE_LEN; at += 777)
        c = vae_crc32(c, s + at, SAMPLE_LEN - at < 777 ? SAMPLE_LEN - at : 777);
    ck_assert_uint_eq(c, ref_crc32(s, SAMPLE_LEN));
    free(s);
}
END_TEST

START_TEST(test_adler32)
{
    ck_assert_uint_eq(vae_adler32(1, "Wikipedia", 9), 0x11E60398u);
    ck_assert_uint_eq(vae_adler32(1, "", 0), 1);
    uint8_t *s = sample_bytes(SAMPLE_LEN);
    ck_assert_uint_eq(vae_adler32(1, s, SAMPLE_LEN), ref_adler32(s, SAMPLE_LEN));
    ck_assert_uint_eq(vae_adler32(vae_adler32(1, s, 12345), s + 12345, SAMPLE_LEN - 12345),
                      ref_adler32(s, SAMPLE_LEN));
    /* All 0xFF is the worst case for the deferred modulo. */
    memset(s, 0xFF, SAMPLE_LEN);
    ck_assert_uint_eq(vae_adler32(1, s, SAMPLE_LEN), ref_adler32(s, SAMPLE_LEN));
    free(s);
}
END_TEST

/* ---------------------------------------------------- gzip fixtures */

/* Gunzips a fixture and compares it with the first n generated sample bytes;
 * expect_btype is the type of the first deflate block (-1: don't check). */
static void check_sample_fixture(const char *name, size_t n, int expect_btype)
{
    size_t len, out_len = 0;
    uint8_t *gz = fixture(name, &len), *out = NULL;
    ck_assert_uint_ge(len, 18);
    if (expect_btype >= 0) {
        ck_assert_uint_eq(gz[3], 0); /* no optional header fields: block starts at 10 */
        ck_assert_int_eq(gz[10] >> 1 & 3, expect_btype);
    }
    int rc = vae_gunzip(gz, len, &out, &out_len, 1 << 20);
    ck_assert_msg(rc == 0, "%s: %s", name, vae_last_error());
    ck_assert_uint_eq(out_len, n);
    uint8_t *s = sample_bytes(n);
    ck_assert_int_eq(memcmp(out, s, n), 0);
    free(s);
    free(out);
    free(gz);
}

START_TEST(test_gunzip_gzip1_dynamic)
{
    check_sample_fixture("sample-1.gz", SAMPLE_LEN, 2);
}
END_TEST

START_TEST(test_gunzip_gzip9_with_name)
{
    size_t len;
    uint8_t *gz = fixture("sample-9.gz", &len);
    ck_assert_uint_eq(gz[3], 0x08); /* FNAME */
    ck_assert_str_eq((const char *)gz + 10, "sample.bin");
    free(gz);
    check_sample_fixture("sample-9.gz", SAMPLE_LEN, -1);
}
END_TEST

START_TEST(test_gunzip_fixed_huffman)
{
    check_sample_fixture("sample-fixed.gz", SAMPLE_LEN, 1);
}
END_TEST

START_TEST(test_gunzip_stored_fixture)
{
    check_sample_fixture("sample-stored.gz", 5000, 0);
}
END_TEST

/* Stored blocks built by hand: 65535 bytes, an empty block, 4465 bytes. */
START_TEST(test_gunzip_stored_by_hand)
{
    const size_t n = 70000, first = 65535;
    uint8_t *s = sample_bytes(n);
    uint8_t *d = malloc(n + 15);
    size_t k = 0;
    d[k++] = 0; /* BFINAL 0, BTYPE 00, padding to the byte boundary */
    d[k++] = 0xFF, d[k++] = 0xFF, d[k++] = 0x00, d[k++] = 0x00;
    memcpy(d + k, s, first);
    k += first;
    d[k++] = 0;
    d[k++] = 0x00, d[k++] = 0x00, d[k++] = 0xFF, d[k++] = 0xFF;
    d[k++] = 1; /* BFINAL 1, BTYPE 00 */
    size_t rest = n - first;
    d[k++] = (uint8_t)rest, d[k++] = (uint8_t)(rest >> 8);
    d[k++] = (uint8_t)~rest, d[k++] = (uint8_t)(~rest >> 8);
    memcpy(d + k, s + first, rest);
    k += rest;
    size_t len, out_len;
    uint8_t *gz = gzip_wrap(d, k, s, n, &len), *out;
    ck_assert_int_eq(vae_gunzip(gz, len, &out, &out_len, n), 0);
    ck_assert_uint_eq(out_len, n);
    ck_assert_int_eq(memcmp(out, s, n), 0);
    free(out);

    /* NLEN that is not the complement of LEN. */
    gz[10 + 3] ^= 1;
    ck_assert_int_eq(vae_gunzip(gz, len, &out, &out_len, n), VAE_ERR_FORMAT);
    ck_assert_error_contains("invalid stored block lengths");
    ck_assert_ptr_null(out);
    free(gz);
    free(d);
    free(s);
}
END_TEST

/* Stored blocks of up to 65535 bytes holding s[0..n), the last one final. */
static uint8_t *stored_blocks(const uint8_t *s, size_t n, size_t *len)
{
    uint8_t *d = malloc(n + 5 * (n / 65535 + 1));
    ck_assert_ptr_nonnull(d);
    size_t k = 0, at = 0;
    do {
        size_t part = n - at < 65535 ? n - at : 65535;
        d[k++] = at + part == n; /* BFINAL, BTYPE 00 */
        d[k++] = (uint8_t)part, d[k++] = (uint8_t)(part >> 8);
        d[k++] = (uint8_t)~part, d[k++] = (uint8_t)(~part >> 8);
        memcpy(d + k, s + at, part);
        k += part, at += part;
    } while (at < n);
    *len = k;
    return d;
}

/* A 9 MB member then a 1000-byte one: the output buffer starts at the size
 * the last member's ISIZE gives (1000 bytes) and grows to 9 MB, past the
 * size where its unwritten part is offered 2 MB pages (pages.c); the bytes
 * must come out the same. The large member's CRC is vae_crc32's, which
 * test_crc32_matches_bitwise_reference checks (the bitwise one is slow on
 * 9 MB under emulation). */
START_TEST(test_gunzip_grows_to_large_pages)
{
    const size_t n = (size_t)9 << 20, tail = 1000;
    uint8_t *s = sample_bytes(n + tail);
    size_t len1, len2, gz1_len, gz2_len;
    uint8_t *d1 = stored_blocks(s, n, &len1), *d2 = stored_blocks(s + n, tail, &len2);
    uint8_t *gz1 = gzip_wrap_crc(d1, len1, vae_crc32(0, s, n), n, &gz1_len);
    uint8_t *gz2 = gzip_wrap(d2, len2, s + n, tail, &gz2_len);
    size_t len = gz1_len + gz2_len;
    uint8_t *gz = malloc(len);
    ck_assert_ptr_nonnull(gz);
    memcpy(gz, gz1, gz1_len);
    memcpy(gz + gz1_len, gz2, gz2_len);
    uint8_t *out;
    size_t out_len;
    ck_assert_int_eq(vae_gunzip(gz, len, &out, &out_len, 2 * n), 0);
    ck_assert_uint_eq(out_len, n + tail);
    ck_assert_int_eq(memcmp(out, s, n + tail), 0);
    free(out); free(gz); free(gz1); free(gz2); free(d1); free(d2); free(s);
}
END_TEST

/* The whole 2 MB pages inside a buffer, against counting them one by one. */
START_TEST(test_large_page_span)
{
    const uintptr_t page = (uintptr_t)2 << 20;
    const uintptr_t bases[] = {0, page, 7 * page, 7 * page + 1, 7 * page + 4096, 8 * page - 16, 1000 * page + 12345};
    const size_t sizes[] = {0, 4096, ((size_t)8 << 20) - 1, (size_t)8 << 20, ((size_t)8 << 20) + 1,
                            (size_t)10 << 20, ((size_t)10 << 20) + 4000, (size_t)47040000};
    for (size_t b = 0; b < sizeof bases / sizeof *bases; b++)
        for (size_t z = 0; z < sizeof sizes / sizeof *sizes; z++) {
            uintptr_t addr = bases[b], first = 0;
            size_t n = sizes[z], pages = 0;
            for (uintptr_t q = addr / page * page; q <= addr + n; q += page)
                if (q >= addr && q + page <= addr + n) {
                    if (pages++ == 0) first = q;
                }
            if (n < ((size_t)8 << 20)) pages = 0, first = 0;
            uintptr_t start = 1;
            size_t span = vae_io_large_page_span(addr, n, &start);
            ck_assert_msg(span == pages * page && start == first,
                          "addr %#zx n %zu: span %zu start %#zx, expected %zu at %#zx", (size_t)addr, n, span,
                          (size_t)start, (size_t)(pages * page), (size_t)first);
        }
    uintptr_t start = 1; /* a buffer that would end past the address space */
    ck_assert_uint_eq(vae_io_large_page_span(UINTPTR_MAX - page, (size_t)16 << 20, &start), 0);
    ck_assert_uint_eq(start, 0);
}
END_TEST

START_TEST(test_gunzip_concatenated_members)
{
    size_t len, out_len;
    uint8_t *gz = fixture("multi.gz", &len), *out;
    ck_assert_int_eq(vae_gunzip(gz, len, &out, &out_len, 100), 0);
    ck_assert_uint_eq(out_len, 27);
    ck_assert_int_eq(memcmp(out, "first member\nsecond member\n", 27), 0);
    free(out);
    /* Zero padding after the last member is ignored, as gzip does... */
    uint8_t *padded = calloc(len + 100, 1);
    memcpy(padded, gz, len);
    ck_assert_int_eq(vae_gunzip(padded, len + 100, &out, &out_len, 100), 0);
    ck_assert_uint_eq(out_len, 27);
    free(out);
    /* ...but other trailing bytes are not. */
    padded[len + 50] = 'x';
    ck_assert_int_eq(vae_gunzip(padded, len + 100, &out, &out_len, 100), VAE_ERR_FORMAT);
    ck_assert_error_contains("trailing garbage");
    free(padded);
    free(gz);
}
END_TEST

/* A member with every optional header field (RFC 1952 section 2.3.1): the
 * deflate data of sample-1.gz behind a hand-made header. */
START_TEST(test_gunzip_all_header_fields)
{
    size_t len, out_len;
    uint8_t *gz = fixture("sample-1.gz", &len), *out;
    static const uint8_t head[] = {0x1F, 0x8B, 8, 0x1F /* FTEXT|FHCRC|FEXTRA|FNAME|FCOMMENT */,
                                   1, 2, 3, 4, 0, 255,
                                   5, 0, 'A', 'B', 2, 0, 'x' /* XLEN 5: one subfield */,
                                   'n', 'a', 'm', 'e', 0, 'h', 'i', '!', 0};
    size_t h = sizeof head;
    uint8_t *g = malloc(h + 2 + len - 10);
    memcpy(g, head, h);
    uint32_t hcrc = ref_crc32(g, h);
    g[h] = (uint8_t)hcrc, g[h + 1] = (uint8_t)(hcrc >> 8);
    memcpy(g + h + 2, gz + 10, len - 10);
    size_t glen = h + 2 + len - 10;
    ck_assert_int_eq(vae_gunzip(g, glen, &out, &out_len, SAMPLE_LEN), 0);
    uint8_t *s = sample_bytes(SAMPLE_LEN);
    ck_assert_uint_eq(out_len, SAMPLE_LEN);
    ck_assert_int_eq(memcmp(out, s, SAMPLE_LEN), 0);
    free(out);
    /* A wrong header CRC is refused. */
    g[h] ^= 0x40;
    ck_assert_int_eq(vae_gunzip(g, glen, &out, &out_len, SAMPLE_LEN), VAE_ERR_FORMAT);
    ck_assert_error_contains("header CRC");
    /* A name that never ends is a truncated header. */
    ck_assert_int_eq(vae_gunzip(g, 20, &out, &out_len, SAMPLE_LEN), VAE_ERR_FORMAT);
    ck_assert_error_contains("truncated header");
    free(s);
    free(g);
    free(gz);
}
END_TEST

START_TEST(test_gunzip_bad_trailer)
{
    size_t len, out_len;
    uint8_t *gz = fixture("sample-1.gz", &len), *out = (uint8_t *)1;
    gz[len - 8] ^= 0x01; /* CRC-32 */
    ck_assert_int_eq(vae_gunzip(gz, len, &out, &out_len, 1 << 20), VAE_ERR_FORMAT);
    ck_assert_error_contains("CRC-32 mismatch");
    ck_assert_ptr_null(out);
    gz[len - 8] ^= 0x01;
    gz[len - 4] ^= 0x01; /* ISIZE */
    ck_assert_int_eq(vae_gunzip(gz, len, &out, &out_len, 1 << 20), VAE_ERR_FORMAT);
    ck_assert_error_contains("length mismatch");
    free(gz);
}
END_TEST

START_TEST(test_gunzip_truncated)
{
    size_t len, out_len;
    uint8_t *gz = fixture("sample-1.gz", &len), *out;
    for (size_t cut = 0; cut < len; cut += (cut < 40 || cut > len - 40) ? 1 : 97) {
        uint8_t *copy = malloc(cut ? cut : 1); /* exact size, so ASan sees any over-read */
        memcpy(copy, gz, cut);
        out = (uint8_t *)1;
        int rc = vae_gunzip(copy, cut, &out, &out_len, 1 << 20);
        ck_assert_msg(rc == VAE_ERR_FORMAT, "cut at %zu: rc %d", cut, rc);
        ck_assert_ptr_null(out);
        free(copy);
    }
    free(gz);
}
END_TEST

START_TEST(test_gunzip_limit)
{
    size_t len, out_len;
    uint8_t *gz = fixture("sample-1.gz", &len), *out;
    ck_assert_int_eq(vae_gunzip(gz, len, &out, &out_len, SAMPLE_LEN - 1), VAE_ERR_FORMAT);
    ck_assert_error_contains("exceeds the limit of 99999 bytes");
    ck_assert_int_eq(vae_gunzip(gz, len, &out, &out_len, SAMPLE_LEN), 0);
    ck_assert_uint_eq(out_len, SAMPLE_LEN);
    free(out);
    ck_assert_uint_eq(le32(gz + len - 4), SAMPLE_LEN); /* the ISIZE field */
    free(gz);

    /* gzip -n of empty input, made by the real gzip: fits a limit of 0. */
    static const uint8_t empty[] = {0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03,
                                    0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
    ck_assert_int_eq(vae_gunzip(empty, sizeof empty, &out, &out_len, 0), 0);
    ck_assert_uint_eq(out_len, 0);
    free(out);
    /* gzip -n of "a": does not fit a limit of 0. */
    static const uint8_t one[] = {0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x4b,
                                  0x04, 0x00, 0x43, 0xbe, 0xb7, 0xe8, 0x01, 0x00, 0x00, 0x00};
    ck_assert_int_eq(vae_gunzip(one, sizeof one, &out, &out_len, 0), VAE_ERR_FORMAT);
    ck_assert_error_contains("exceeds the limit of 0 bytes");
    ck_assert_int_eq(vae_gunzip(one, sizeof one, &out, &out_len, 1), 0);
    ck_assert_uint_eq(out_len, 1);
    ck_assert_int_eq(out[0], 'a');
    free(out);
}
END_TEST

START_TEST(test_gunzip_untrusted_isize)
{
    size_t len, out_len;
    uint8_t *gz = fixture("sample-1.gz", &len), *out;
    /* Re-point ISIZE at 1 byte or 4 GiB - 1: the output must not depend on it
     * (the trailer check then fails, but only after decoding all the data). */
    put_le32(gz + len - 4, 1);
    ck_assert_int_eq(vae_gunzip(gz, len, &out, &out_len, 1 << 20), VAE_ERR_FORMAT);
    ck_assert_error_contains("length mismatch");
    put_le32(gz + len - 4, 0xFFFFFFFFu);
    ck_assert_int_eq(vae_gunzip(gz, len, &out, &out_len, (size_t)1 << 40), VAE_ERR_FORMAT);
    ck_assert_error_contains("length mismatch");
    free(gz);
}
END_TEST

START_TEST(test_gunzip_not_gzip)
{
    uint8_t *out;
    size_t out_len;
    ck_assert_int_eq(vae_gunzip((const uint8_t *)"", 0, &out, &out_len, 10), VAE_ERR_FORMAT);
    ck_assert_int_eq(vae_gunzip((const uint8_t *)"hello world, not gzip", 21, &out, &out_len, 10),
                     VAE_ERR_FORMAT);
    ck_assert_error_contains("not gzip data");
    static const uint8_t method7[] = {0x1f, 0x8b, 0x07, 0, 0, 0, 0, 0, 0, 3, 3, 0,
                                      0,    0,    0,    0, 0, 0, 0, 0};
    ck_assert_int_eq(vae_gunzip(method7, sizeof method7, &out, &out_len, 10), VAE_ERR_FORMAT);
    ck_assert_error_contains("compression method 7");
}
END_TEST

/* ------------------------------------------------------ raw inflate */

/* The deflate data inside sample-9.gz (after the header with its name). */
START_TEST(test_inflate_raw_stream)
{
    size_t len, out_len, used;
    uint8_t *gz = fixture("sample-9.gz", &len);
    size_t start = 10 + strlen((const char *)gz + 10) + 1, dlen = len - start - 8;
    uint8_t *out = malloc(SAMPLE_LEN);
    ck_assert_int_eq(vae_inflate(gz + start, dlen, out, SAMPLE_LEN, &out_len, &used), 0);
    ck_assert_uint_eq(out_len, SAMPLE_LEN);
    ck_assert_uint_eq(used, dlen); /* stops exactly where the trailer begins */
    uint8_t *s = sample_bytes(SAMPLE_LEN);
    ck_assert_int_eq(memcmp(out, s, SAMPLE_LEN), 0);
    ck_assert_int_eq(vae_inflate(gz + start, dlen, out, SAMPLE_LEN - 1, &out_len, NULL),
                     VAE_ERR_FORMAT);
    ck_assert_error_contains("output exceeds 99999 bytes");
    ck_assert_uint_le(out_len, SAMPLE_LEN - 1);
    free(s);
    free(out);
    free(gz);
}
END_TEST

/* Fixed-Huffman streams built bit by bit from RFC 1951 section 3.2.6:
 * literals 0-143 are 8-bit codes from 00110000, lengths 256-279 7-bit codes
 * from 0000000, distances 5-bit codes equal to their symbol. */
START_TEST(test_inflate_hand_made_fixed)
{
    uint8_t out[16];
    size_t out_len, used;
    bit_writer w = {{0}, 0};
    put_bits(&w, 1, 1);             /* BFINAL */
    put_bits(&w, 1, 2);             /* BTYPE 01 */
    put_code(&w, 0x30 + 'a', 8);    /* literal 'a' */
    put_code(&w, 259 - 256, 7);     /* length 5 */
    put_code(&w, 0, 5);             /* distance 1: overlaps its own output */
    put_code(&w, 0, 7);             /* end of block */
    size_t n = (w.bit + 7) / 8;
    ck_assert_int_eq(vae_inflate(w.buf, n, out, sizeof out, &out_len, &used), 0);
    ck_assert_uint_eq(out_len, 6);
    ck_assert_int_eq(memcmp(out, "aaaaaa", 6), 0);
    ck_assert_uint_eq(used, n);

    /* The same match with nothing before it reaches too far back. */
    bit_writer bad = {{0}, 0};
    put_bits(&bad, 1, 1);
    put_bits(&bad, 1, 2);
    put_code(&bad, 259 - 256, 7);
    put_code(&bad, 0, 5);
    put_code(&bad, 0, 7);
    ck_assert_int_eq(vae_inflate(bad.buf, (bad.bit + 7) / 8, out, sizeof out, &out_len, NULL),
                     VAE_ERR_FORMAT);
    ck_assert_error_contains("invalid distance too far back");

    /* Distance symbol 30 exists in the fixed code but is invalid. */
    bit_writer d30 = {{0}, 0};
    put_bits(&d30, 1, 1);
    put_bits(&d30, 1, 2);
    put_code(&d30, 0x30 + 'a', 8);
    put_code(&d30, 257 - 256, 7);
    put_code(&d30, 30, 5);
    put_code(&d30, 0, 7);
    ck_assert_int_eq(vae_inflate(d30.buf, (d30.bit + 7) / 8, out, sizeof out, &out_len, NULL),
                     VAE_ERR_FORMAT);
    ck_assert_error_contains("invalid distance code");

    /* Block type 3 is reserved. */
    uint8_t type3 = 0x07;
    ck_assert_int_eq(vae_inflate(&type3, 1, out, sizeof out, &out_len, NULL), VAE_ERR_FORMAT);
    ck_assert_error_contains("invalid block type");

    /* A stream that stops inside a block. */
    ck_assert_int_eq(vae_inflate(w.buf, 2, out, sizeof out, &out_len, NULL), VAE_ERR_FORMAT);
    ck_assert_error_contains("unexpected end");
    ck_assert_int_eq(vae_inflate(w.buf, 0, out, sizeof out, &out_len, NULL), VAE_ERR_FORMAT);
}
END_TEST

/* Dynamic-block headers that zlib also rejects. */
START_TEST(test_inflate_bad_dynamic_header)
{
    uint8_t out[16];
    size_t out_len;
    /* HLIT = 30 + 257 = 287 literal/length codes: more than 286. */
    bit_writer w = {{0}, 0};
    put_bits(&w, 1, 1);
    put_bits(&w, 2, 2);
    put_bits(&w, 30, 5);
    put_bits(&w, 0, 5);
    put_bits(&w, 0, 4);
    ck_assert_int_eq(vae_inflate(w.buf, 8, out, sizeof out, &out_len, NULL), VAE_ERR_FORMAT);
    ck_assert_error_contains("too many length or distance symbols");

    /* A code-length code with all 4 given lengths 1: over-subscribed. */
    bit_writer o = {{0}, 0};
    put_bits(&o, 1, 1);
    put_bits(&o, 2, 2);
    put_bits(&o, 0, 5);
    put_bits(&o, 0, 5);
    put_bits(&o, 0, 4);
    for (int i = 0; i < 4; i++) put_bits(&o, 1, 3);
    ck_assert_int_eq(vae_inflate(o.buf, 8, out, sizeof out, &out_len, NULL), VAE_ERR_FORMAT);
    ck_assert_error_contains("invalid code lengths set");

    /* Code-length code {16: 1 bit, 17: 1 bit} (complete), then a repeat (16)
     * as the very first length: nothing to repeat. */
    bit_writer r = {{0}, 0};
    put_bits(&r, 1, 1);
    put_bits(&r, 2, 2);
    put_bits(&r, 0, 5);
    put_bits(&r, 0, 5);
    put_bits(&r, 0, 4);
    put_bits(&r, 1, 3); /* symbol 16: length 1 -> code 0 */
    put_bits(&r, 1, 3); /* symbol 17: length 1 -> code 1 */
    put_bits(&r, 0, 3);
    put_bits(&r, 0, 3);
    put_code(&r, 0, 1); /* 16 */
    put_bits(&r, 0, 2);
    ck_assert_int_eq(vae_inflate(r.buf, 8, out, sizeof out, &out_len, NULL), VAE_ERR_FORMAT);
    ck_assert_error_contains("invalid bit length repeat");
}
END_TEST

/* ------------------------------------------------------------ files */

START_TEST(test_read_file_errors)
{
    char dir[64], path[128];
    make_temp_dir(dir, sizeof dir);
    uint8_t *data = (uint8_t *)1;
    size_t len = 7;

    snprintf(path, sizeof path, "%s/missing", dir);
    ck_assert_int_eq(vae_read_file(path, &data, &len, 100), VAE_ERR_IO);
    char expect[256];
    snprintf(expect, sizeof expect, "%s: cannot open: %s", path, strerror(ENOENT));
    ck_assert_str_eq(vae_last_error(), expect);
    ck_assert_ptr_null(data);

    ck_assert_int_eq(vae_read_file(dir, &data, &len, 100), VAE_ERR_IO);
    snprintf(expect, sizeof expect, "%s: is a directory", dir);
    ck_assert_str_eq(vae_last_error(), expect);

    snprintf(path, sizeof path, "%s/ten", dir);
    spit(path, "0123456789", 10);
    ck_assert_int_eq(vae_read_file(path, &data, &len, 9), VAE_ERR_IO);
    snprintf(expect, sizeof expect, "%s: larger than the limit of 9 bytes", path);
    ck_assert_str_eq(vae_last_error(), expect);
    ck_assert_int_eq(vae_read_file(path, &data, &len, 10), 0);
    ck_assert_uint_eq(len, 10);
    ck_assert_int_eq(memcmp(data, "0123456789", 10), 0);
    free(data);

    snprintf(path, sizeof path, "%s/empty", dir);
    spit(path, "", 0);
    ck_assert_int_eq(vae_read_file(path, &data, &len, 0), 0);
    ck_assert_uint_eq(len, 0);
    ck_assert_ptr_nonnull(data);
    free(data);
    remove_temp_dir(dir);
}
END_TEST

START_TEST(test_read_file_maybe_gz)
{
    char path[512];
    uint8_t *data;
    size_t len;
    snprintf(path, sizeof path, "%s/sample-9.gz", VAE_TEST_DATA_DIR);
    ck_assert_int_eq(vae_read_file_maybe_gz(path, &data, &len, SAMPLE_LEN), 0);
    uint8_t *s = sample_bytes(SAMPLE_LEN);
    ck_assert_uint_eq(len, SAMPLE_LEN);
    ck_assert_int_eq(memcmp(data, s, SAMPLE_LEN), 0);
    free(data);
    /* Inflating past the limit; a compressed file already above it. */
    ck_assert_int_eq(vae_read_file_maybe_gz(path, &data, &len, 50000), VAE_ERR_FORMAT);
    ck_assert_error_starts(path);
    ck_assert_error_contains("exceeds the limit of 50000 bytes");
    ck_assert_int_eq(vae_read_file_maybe_gz(path, &data, &len, 1000), VAE_ERR_IO);
    ck_assert_error_starts(path);
    ck_assert_error_contains("larger than the limit of 1000 bytes");

    /* A plain file passes through; a corrupted .gz names the file. */
    char dir[64];
    make_temp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/plain", dir);
    spit(path, s, 5000);
    ck_assert_int_eq(vae_read_file_maybe_gz(path, &data, &len, 5000), 0);
    ck_assert_uint_eq(len, 5000);
    ck_assert_int_eq(memcmp(data, s, 5000), 0);
    free(data);
    ck_assert_int_eq(vae_read_file_maybe_gz(path, &data, &len, 4999), VAE_ERR_IO);
    ck_assert_error_contains("larger than the limit of 4999 bytes");

    size_t glen;
    uint8_t *gz = fixture("sample-1.gz", &glen);
    gz[glen / 2] ^= 0x10;
    snprintf(path, sizeof path, "%s/broken.gz", dir);
    spit(path, gz, glen);
    ck_assert_int_eq(vae_read_file_maybe_gz(path, &data, &len, SAMPLE_LEN), VAE_ERR_FORMAT);
    ck_assert_error_starts(path);
    ck_assert_error_contains("gzip: ");
    free(gz);
    free(s);
    remove_temp_dir(dir);
}
END_TEST

/* -------------------------------------------------------------- IDX */

/* An IDX images file (magic 0x00000803) of count images of rows x cols,
 * pixel (i, r, c) = (i*31 + r*7 + c*3) mod 256, as in make_fixtures.py. */
static uint8_t *idx_images_bytes(uint32_t count, uint32_t rows, uint32_t cols, size_t *len)
{
    size_t n = (size_t)count * rows * cols;
    uint8_t *b = malloc(16 + n);
    put_be32(b, 0x803);
    put_be32(b + 4, count);
    put_be32(b + 8, rows);
    put_be32(b + 12, cols);
    size_t k = 16;
    for (uint32_t i = 0; i < count; i++)
        for (uint32_t r = 0; r < rows; r++)
            for (uint32_t c = 0; c < cols; c++) b[k++] = (uint8_t)((i * 31 + r * 7 + c * 3) & 0xFF);
    *len = k;
    return b;
}

static uint8_t *idx_labels_bytes(uint32_t count, size_t *len)
{
    uint8_t *b = malloc(8 + count);
    put_be32(b, 0x801);
    put_be32(b + 4, count);
    for (uint32_t i = 0; i < count; i++) b[8 + i] = (uint8_t)(i % 10);
    *len = 8 + count;
    return b;
}

/* Checks images against the formula, for images first..first+count-1. */
static void check_formula_images(const vae_images *im, int first, int count, int rows, int cols)
{
    ck_assert_int_eq(im->count, count);
    ck_assert_int_eq(im->rows, rows);
    ck_assert_int_eq(im->cols, cols);
    ck_assert_int_eq(im->channels, 1);
    for (int i = 0; i < count; i++)
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                ck_assert_int_eq(im->pixels[((size_t)i * rows + r) * cols + c],
                                 ((first + i) * 31 + r * 7 + c * 3) & 0xFF);
}

START_TEST(test_idx_images_plain)
{
    char dir[64], path[128];
    make_temp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/images", dir);
    size_t len;
    uint8_t *b = idx_images_bytes(3, 2, 4, &len);
    ck_assert_uint_eq(len, 16 + 24);
    spit(path, b, len);
    vae_images im;
    ck_assert_int_eq(vae_idx_read_images(path, &im), 0);
    check_formula_images(&im, 0, 3, 2, 4);
    ck_assert_ptr_null(im.labels);
    vae_images_free(&im);
    ck_assert_ptr_null(im.pixels);
    ck_assert_int_eq(im.count, 0);
    vae_images_free(&im); /* safe twice */
    free(b);
    remove_temp_dir(dir);
}
END_TEST

START_TEST(test_idx_gz_fixture)
{
    char path[512];
    snprintf(path, sizeof path, "%s/mnist-t10k-only/t10k-images-idx3-ubyte.gz", VAE_TEST_DATA_DIR);
    vae_images im;
    ck_assert_int_eq(vae_idx_read_images(path, &im), 0);
    check_formula_images(&im, 0, 20, 4, 5);
    vae_images_free(&im);

    snprintf(path, sizeof path, "%s/mnist-t10k-only/t10k-labels-idx1-ubyte.gz", VAE_TEST_DATA_DIR);
    uint8_t *labels;
    int count;
    ck_assert_int_eq(vae_idx_read_labels(path, &labels, &count), 0);
    ck_assert_int_eq(count, 20);
    for (int i = 0; i < 20; i++) ck_assert_int_eq(labels[i], i % 10);
    free(labels);

    /* Reading labels as images is refused with the dimensions. */
    vae_images wrong;
    ck_assert_int_eq(vae_idx_read_images(path, &wrong), VAE_ERR_FORMAT);
    char expect[600];
    snprintf(expect, sizeof expect,
             "%s: IDX file has 1 dimension, but images need at least 2 (rows, cols)", path);
    ck_assert_str_eq(vae_last_error(), expect);
    ck_assert_ptr_null(wrong.pixels);
}
END_TEST

START_TEST(test_idx_labels_plain)
{
    char dir[64], path[128];
    make_temp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/labels", dir);
    size_t len;
    uint8_t *b = idx_labels_bytes(13, &len);
    spit(path, b, len);
    uint8_t *labels;
    int count;
    ck_assert_int_eq(vae_idx_read_labels(path, &labels, &count), 0);
    ck_assert_int_eq(count, 13);
    ck_assert_int_eq(memcmp(labels, b + 8, 13), 0);
    free(labels);
    /* Truncated by one label. */
    spit(path, b, len - 1);
    ck_assert_int_eq(vae_idx_read_labels(path, &labels, &count), VAE_ERR_FORMAT);
    ck_assert_error_starts(path);
    ck_assert_error_contains("IDX data is 12 bytes, but the header says 13");
    ck_assert_ptr_null(labels);
    ck_assert_int_eq(count, 0);
    free(b);
    remove_temp_dir(dir);
}
END_TEST

/* Writes bytes to dir/bad and expects vae_idx_read_images to fail with code
 * and exactly the message "<dir>/bad: <text>", leaving no pixels. */
static void expect_idx_error(const char *dir, const uint8_t *bytes, size_t len, int code,
                             const char *text)
{
    char path[128], expect[512];
    snprintf(path, sizeof path, "%s/bad", dir);
    spit(path, bytes, len);
    vae_images im;
    memset(&im, 0xAB, sizeof im);
    int rc = vae_idx_read_images(path, &im);
    ck_assert_msg(rc == code, "expected %d for \"%s\", got %d (%s)", code, text, rc,
                  vae_last_error());
    snprintf(expect, sizeof expect, "%s: %s", path, text);
    ck_assert_str_eq(vae_last_error(), expect);
    ck_assert_ptr_null(im.pixels);
    ck_assert_ptr_null(im.values);
}

START_TEST(test_idx_malformed)
{
    char dir[64];
    make_temp_dir(dir, sizeof dir);
    size_t len;
    uint8_t *b = idx_images_bytes(3, 2, 4, &len);

    /* Truncated header: shorter than the magic, or than the sizes. */
    expect_idx_error(dir, b, 0, VAE_ERR_FORMAT,
                     "truncated header (0 bytes; an IDX file starts with a 4-byte magic)");
    expect_idx_error(dir, b, 3, VAE_ERR_FORMAT,
                     "truncated header (3 bytes; an IDX file starts with a 4-byte magic)");
    expect_idx_error(dir, b, 12, VAE_ERR_FORMAT, "truncated header (12 bytes, the header needs 16)");
    /* Truncated data, and trailing bytes. */
    expect_idx_error(dir, b, len - 1, VAE_ERR_FORMAT,
                     "IDX data is 23 bytes, but the header says 24 (truncated file)");
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, b, len);
    longer[len] = 0;
    expect_idx_error(dir, longer, len + 1, VAE_ERR_FORMAT,
                     "IDX data is 25 bytes, but the header says 24 (trailing bytes)");
    free(longer);

    /* Wrong magic: not zero in front, or an element type the format lacks. */
    uint8_t h[16];
    memcpy(h, b, 16);
    put_be32(h, 0x12345678);
    expect_idx_error(dir, h, 16, VAE_ERR_FORMAT, "not an IDX file (magic 0x12345678)");
    put_be32(h, 0x00000A03); /* 0x0A is not one of the six types */
    expect_idx_error(dir, h, 16, VAE_ERR_FORMAT, "not an IDX file (magic 0x00000a03)");
    put_be32(h, 0x00000800);
    expect_idx_error(dir, h, 16, VAE_ERR_FORMAT, "IDX file has no dimensions (magic 0x00000800)");
    /* A float file of 3 x 2 x 4 with only the header: 96 bytes missing. */
    put_be32(h, 0x00000D03);
    expect_idx_error(dir, h, 16, VAE_ERR_FORMAT,
                     "IDX data is 0 bytes, but the header says 96 (truncated file)");

    /* Zero, overflowing and too large dimensions are refused before any
     * allocation: the file holds only the 16-byte header. */
    memcpy(h, b, 16);
    put_be32(h + 8, 0);
    expect_idx_error(dir, h, 16, VAE_ERR_FORMAT, "IDX dimension 1 is zero");
    put_be32(h + 4, 0x7FFFFFFF);
    put_be32(h + 8, 0x7FFFFFFF);
    put_be32(h + 12, 0x7FFFFFFF); /* product about 2^93: overflows size_t */
    expect_idx_error(dir, h, 16, VAE_ERR_FORMAT,
                     "IDX data of 2147483647 x 2147483647 x 2147483647 elements of 1 byte "
                     "exceeds the limit of 1073741824 bytes");
    put_be32(h + 4, 65537);
    put_be32(h + 8, 128);
    put_be32(h + 12, 128); /* 2^30 + 16384 bytes: just above the 1 GiB cap */
    expect_idx_error(dir, h, 16, VAE_ERR_FORMAT,
                     "IDX data of 65537 x 128 x 128 elements of 1 byte exceeds the limit of "
                     "1073741824 bytes");
    put_be32(h, 0x00000E03); /* doubles: 8 bytes each */
    put_be32(h + 4, 16385);
    expect_idx_error(dir, h, 16, VAE_ERR_FORMAT,
                     "IDX data of 16385 x 128 x 128 elements of 8 bytes exceeds the limit of "
                     "1073741824 bytes");
    put_be32(h, 0x00000803);
    put_be32(h + 4, 0x80000000u); /* does not fit an int */
    expect_idx_error(dir, h, 16, VAE_ERR_FORMAT, "IDX dimension 0 is too large (2147483648)");
    free(b);
    remove_temp_dir(dir);
}
END_TEST

START_TEST(test_idx_missing_and_corrupt_gz)
{
    vae_images im;
    ck_assert_int_eq(vae_idx_read_images("/nonexistent/vae/images", &im), VAE_ERR_IO);
    ck_assert_error_starts("/nonexistent/vae/images: cannot open");

    char dir[64], path[128];
    make_temp_dir(dir, sizeof dir);
    size_t len;
    uint8_t *gz = fixture("mnist-t10k-only/t10k-images-idx3-ubyte.gz", &len);
    gz[len - 6] ^= 0x01; /* the CRC-32 */
    snprintf(path, sizeof path, "%s/images.gz", dir);
    spit(path, gz, len);
    ck_assert_int_eq(vae_idx_read_images(path, &im), VAE_ERR_FORMAT);
    ck_assert_error_starts(path);
    ck_assert_error_contains("CRC-32 mismatch");
    free(gz);
    remove_temp_dir(dir);
}
END_TEST

/* ---------------------------------------------------------- datasets */

START_TEST(test_dataset_t10k_only_split)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/mnist-t10k-only", VAE_TEST_DATA_DIR);
    vae_dataset ds;
    int rc = vae_dataset_load_mnist_dir(dir, &ds);
    ck_assert_msg(rc == 0, "%s", vae_last_error());
    ck_assert_int_eq(ds.split_from_test, 1);
    /* 20 images, fewer than 10,000: the first 90% (18) train, 2 test. */
    check_formula_images(&ds.train, 0, 18, 4, 5);
    check_formula_images(&ds.test, 18, 2, 4, 5);
    ck_assert_ptr_nonnull(ds.train.labels);
    ck_assert_ptr_nonnull(ds.test.labels);
    for (int i = 0; i < 18; i++) ck_assert_int_eq(ds.train.labels[i], i % 10);
    for (int i = 0; i < 2; i++) ck_assert_int_eq(ds.test.labels[i], (18 + i) % 10);
    vae_dataset_free(&ds);
    ck_assert_ptr_null(ds.train.pixels);
    ck_assert_ptr_null(ds.test.pixels);
    vae_dataset_free(&ds);
}
END_TEST

/* The shipped Fashion-MNIST test set: 10,000 images of 28x28 with 1,000 of
 * each of the 10 classes (as its documentation states), split 9,000/1,000. */
START_TEST(test_dataset_shipped_fashion_mnist)
{
    vae_dataset ds;
    int rc = vae_dataset_load_mnist_dir(VAE_TEST_MNIST_DIR, &ds);
    ck_assert_msg(rc == 0, "%s", vae_last_error());
    ck_assert_int_eq(ds.split_from_test, 1);
    ck_assert_int_eq(ds.train.count, 9000);
    ck_assert_int_eq(ds.test.count, 1000);
    ck_assert_int_eq(ds.train.rows, 28);
    ck_assert_int_eq(ds.train.cols, 28);
    ck_assert_int_eq(ds.test.rows, 28);
    ck_assert_int_eq(ds.test.cols, 28);
    int per_class[10] = {0};
    for (int i = 0; i < 9000; i++) {
        ck_assert_int_lt(ds.train.labels[i], 10);
        per_class[ds.train.labels[i]]++;
    }
    for (int i = 0; i < 1000; i++) {
        ck_assert_int_lt(ds.test.labels[i], 10);
        per_class[ds.test.labels[i]]++;
    }
    for (int k = 0; k < 10; k++) ck_assert_int_eq(per_class[k], 1000);
    vae_dataset_free(&ds);
}
END_TEST

/* A folder with all four files, written here, plain and gzip mixed. */
START_TEST(test_dataset_full_dir)
{
    char dir[64], path[128];
    make_temp_dir(dir, sizeof dir);
    size_t len;
    uint8_t *b = idx_images_bytes(5, 3, 2, &len);
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte", dir);
    spit(path, b, len);
    free(b);
    b = idx_labels_bytes(5, &len);
    snprintf(path, sizeof path, "%s/train-labels-idx1-ubyte", dir);
    spit(path, b, len);
    free(b);
    b = idx_images_bytes(4, 3, 2, &len);
    snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte", dir);
    spit(path, b, len);
    free(b);

    vae_dataset ds;
    /* No test labels: they stay NULL. */
    ck_assert_int_eq(vae_dataset_load_mnist_dir(dir, &ds), 0);
    ck_assert_int_eq(ds.split_from_test, 0);
    check_formula_images(&ds.train, 0, 5, 3, 2);
    check_formula_images(&ds.test, 0, 4, 3, 2);
    ck_assert_ptr_nonnull(ds.train.labels);
    ck_assert_ptr_null(ds.test.labels);
    vae_dataset_free(&ds);

    /* Test labels whose count differs from the images'. */
    b = idx_labels_bytes(3, &len);
    snprintf(path, sizeof path, "%s/t10k-labels-idx1-ubyte", dir);
    spit(path, b, len);
    free(b);
    ck_assert_int_eq(vae_dataset_load_mnist_dir(dir, &ds), VAE_ERR_FORMAT);
    ck_assert_error_starts(path);
    ck_assert_error_contains("3 labels");
    ck_assert_ptr_null(ds.train.pixels);
    ck_assert_int_eq(ds.train.count, 0);

    /* Test images of another size. */
    remove(path);
    b = idx_images_bytes(4, 2, 3, &len);
    snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte", dir);
    spit(path, b, len);
    free(b);
    ck_assert_int_eq(vae_dataset_load_mnist_dir(dir, &ds), VAE_ERR_FORMAT);
    ck_assert_error_starts(dir);
    ck_assert_error_contains("3x2");
    remove_temp_dir(dir);
}
END_TEST

START_TEST(test_dataset_missing)
{
    vae_dataset ds;
    ck_assert_int_eq(vae_dataset_load_mnist_dir("/nonexistent/vae-data", &ds), VAE_ERR_IO);
    ck_assert_error_starts("/nonexistent/vae-data: cannot open");

    char dir[64], path[128];
    make_temp_dir(dir, sizeof dir);
    ck_assert_int_eq(vae_dataset_load_mnist_dir(dir, &ds), VAE_ERR_IO);
    char expect[256];
    snprintf(expect, sizeof expect,
             "%s: no train-images-idx3-ubyte[.gz] or t10k-images-idx3-ubyte[.gz] found", dir);
    ck_assert_str_eq(vae_last_error(), expect);

    snprintf(path, sizeof path, "%s/file", dir);
    spit(path, "x", 1);
    ck_assert_int_eq(vae_dataset_load_mnist_dir(path, &ds), VAE_ERR_IO);
    ck_assert_error_contains("not a directory");
    remove_temp_dir(dir);
}
END_TEST

/* ---------------------------------------------------------- pictures */

/* Parses a binary PNM written by the code under test: magic, width, height
 * and maxval separated by single whitespace (no comments in our output),
 * then one whitespace byte and the samples. Returns the sample pointer. */
static const uint8_t *parse_pnm(const uint8_t *f, size_t len, char *magic, int *w, int *h,
                                int *maxval)
{
    int consumed = 0;
    ck_assert_int_eq(sscanf((const char *)f, "P%c %d %d %d%n", magic, w, h, maxval, &consumed), 4);
    ck_assert_int_lt(consumed, (int)len);
    ck_assert_msg(f[consumed] == '\n', "one whitespace byte after maxval");
    return f + consumed + 1;
}

/* Test pixels: a gradient that differs per channel. */
static uint8_t *test_pixels(int w, int h, int ch)
{
    uint8_t *p = malloc((size_t)w * h * ch);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < ch; c++)
                p[((size_t)y * w + x) * ch + c] = (uint8_t)(x * 17 + y * 29 + c * 85);
    return p;
}

START_TEST(test_pnm_round_trip)
{
    char dir[64], path[128];
    make_temp_dir(dir, sizeof dir);
    for (int ch = 1; ch <= 3; ch += 2) {
        uint8_t *px = test_pixels(7, 5, ch);
        snprintf(path, sizeof path, "%s/out.pnm", dir);
        ck_assert_int_eq(vae_write_pnm(path, px, 7, 5, ch), 0);
        size_t len;
        uint8_t *f = slurp(path, &len);
        char magic;
        int w, h, maxval;
        const uint8_t *data = parse_pnm(f, len, &magic, &w, &h, &maxval);
        ck_assert_int_eq(magic, ch == 1 ? '5' : '6');
        ck_assert_int_eq(w, 7);
        ck_assert_int_eq(h, 5);
        ck_assert_int_eq(maxval, 255);
        ck_assert_uint_eq((size_t)(f + len - data), (size_t)7 * 5 * ch);
        ck_assert_int_eq(memcmp(data, px, (size_t)7 * 5 * ch), 0);
        free(f);
        free(px);
    }
    remove_temp_dir(dir);
}
END_TEST

START_TEST(test_write_image_by_extension)
{
    char dir[64], path[128];
    make_temp_dir(dir, sizeof dir);
    uint8_t *grey = test_pixels(4, 3, 1), *rgb = test_pixels(4, 3, 3);
    size_t len;
    uint8_t *f;
    char magic;
    int w, h, maxval;

    snprintf(path, sizeof path, "%s/a.PGM", dir); /* case-insensitive */
    ck_assert_int_eq(vae_write_image(path, grey, 4, 3, 1), 0);
    f = slurp(path, &len);
    parse_pnm(f, len, &magic, &w, &h, &maxval);
    ck_assert_int_eq(magic, '5');
    free(f);

    ck_assert_int_eq(vae_write_image(path, rgb, 4, 3, 3), VAE_ERR_ARG);
    ck_assert_error_starts(path);

    /* .ppm from grey: every sample repeated as R, G, B. */
    snprintf(path, sizeof path, "%s/b.ppm", dir);
    ck_assert_int_eq(vae_write_image(path, grey, 4, 3, 1), 0);
    f = slurp(path, &len);
    const uint8_t *d = parse_pnm(f, len, &magic, &w, &h, &maxval);
    ck_assert_int_eq(magic, '6');
    ck_assert_uint_eq((size_t)(f + len - d), 36);
    for (int i = 0; i < 12; i++)
        for (int c = 0; c < 3; c++) ck_assert_int_eq(d[3 * i + c], grey[i]);
    free(f);

    snprintf(path, sizeof path, "%s/c.pnm", dir);
    ck_assert_int_eq(vae_write_image(path, rgb, 4, 3, 3), 0);
    f = slurp(path, &len);
    parse_pnm(f, len, &magic, &w, &h, &maxval);
    ck_assert_int_eq(magic, '6');
    free(f);

    snprintf(path, sizeof path, "%s/d.Png", dir);
    ck_assert_int_eq(vae_write_image(path, rgb, 4, 3, 3), 0);
    f = slurp(path, &len);
    ck_assert_int_eq(memcmp(f, "\x89PNG\r\n\x1a\n", 8), 0);
    free(f);

    snprintf(path, sizeof path, "%s/e.jpg", dir);
    ck_assert_int_eq(vae_write_image(path, rgb, 4, 3, 3), VAE_ERR_ARG);
    char expect[256];
    snprintf(expect, sizeof expect, "%s: unknown image extension (use .png, .ppm or .pgm)", path);
    ck_assert_str_eq(vae_last_error(), expect);
    ck_assert_int_eq(access(path, F_OK), -1);

    snprintf(path, sizeof path, "%s/f.png", dir);
    ck_assert_int_eq(vae_write_image(path, rgb, 0, 3, 3), VAE_ERR_ARG);
    ck_assert_int_eq(vae_write_image(path, rgb, 4, 3, 2), VAE_ERR_ARG);
    ck_assert_int_eq(vae_write_png(path, NULL, 4, 3, 3), VAE_ERR_ARG);

    snprintf(path, sizeof path, "%s/no/such/dir/g.png", dir);
    ck_assert_int_eq(vae_write_image(path, rgb, 4, 3, 3), VAE_ERR_IO);
    ck_assert_error_starts(path);
    ck_assert_error_contains("cannot write");
    free(grey);
    free(rgb);
    remove_temp_dir(dir);
}
END_TEST

/* Reads a PNG written by vae_write_png and checks it against the PNG spec
 * with code of its own: chunk CRCs by the bitwise reference, the IHDR
 * fields, the zlib header, stored blocks decoded here, the Adler-32 by the
 * reference, filter bytes 0 and the rows equal to the pixels. */
static void check_png_file(const char *path, const uint8_t *px, int width, int height, int ch)
{
    size_t len;
    uint8_t *f = slurp(path, &len);
    ck_assert_uint_ge(len, 8);
    ck_assert_int_eq(memcmp(f, "\x89PNG\r\n\x1a\n", 8), 0);
    size_t at = 8, zlen = 0;
    uint8_t *z = malloc(len);
    int saw_ihdr = 0, saw_iend = 0, idat_chunks = 0;
    while (at < len) {
        ck_assert_uint_ge(len - at, 12);
        uint32_t n = be32(f + at);
        ck_assert_uint_le(n, len - at - 12);
        const uint8_t *type = f + at + 4, *data = f + at + 8;
        ck_assert_uint_eq(be32(data + n), ref_crc32(type, 4 + (size_t)n));
        if (!memcmp(type, "IHDR", 4)) {
            ck_assert_int_eq(at, 8); /* IHDR comes first */
            ck_assert_uint_eq(n, 13);
            ck_assert_uint_eq(be32(data), (uint32_t)width);
            ck_assert_uint_eq(be32(data + 4), (uint32_t)height);
            ck_assert_int_eq(data[8], 8);
            ck_assert_int_eq(data[9], ch == 1 ? 0 : 2);
            ck_assert_int_eq(data[10], 0);
            ck_assert_int_eq(data[11], 0);
            ck_assert_int_eq(data[12], 0);
            saw_ihdr = 1;
        } else if (!memcmp(type, "IDAT", 4)) {
            memcpy(z + zlen, data, n);
            zlen += n;
            idat_chunks++;
        } else if (!memcmp(type, "IEND", 4)) {
            ck_assert_uint_eq(n, 0);
            ck_assert_uint_eq(at + 12, len); /* IEND ends the file */
            saw_iend = 1;
        }
        at += 12 + (size_t)n;
    }
    ck_assert(saw_ihdr && saw_iend && idat_chunks >= 1);

    /* zlib (RFC 1950): CM 8, FCHECK, no dictionary. */
    ck_assert_uint_ge(zlen, 6);
    ck_assert_int_eq(z[0] & 15, 8);
    ck_assert_int_eq((z[0] * 256 + z[1]) % 31, 0);
    ck_assert_int_eq(z[1] & 0x20, 0);
    size_t raw_len = (size_t)height * (1 + (size_t)width * ch), got = 0, zp = 2;
    uint8_t *raw = malloc(raw_len);
    int final = 0, blocks = 0;
    while (!final) {
        ck_assert_uint_lt(zp + 5, zlen);
        final = z[zp] & 1;
        ck_assert_int_eq(z[zp] >> 1 & 3, 0); /* stored */
        unsigned n = z[zp + 1] | z[zp + 2] << 8, nn = z[zp + 3] | z[zp + 4] << 8;
        ck_assert_uint_eq(n, ~nn & 0xFFFF);
        zp += 5;
        ck_assert_uint_le(n, raw_len - got);
        ck_assert_uint_le(zp + n, zlen);
        memcpy(raw + got, z + zp, n);
        got += n;
        zp += n;
        blocks++;
    }
    ck_assert_uint_eq(got, raw_len);
    ck_assert_uint_eq(zp + 4, zlen);
    ck_assert_uint_eq(be32(z + zp), ref_adler32(raw, raw_len));
    ck_assert_int_ge(blocks, (int)(raw_len / 65535));
    size_t row = (size_t)width * ch;
    for (int y = 0; y < height; y++) {
        ck_assert_int_eq(raw[(size_t)y * (row + 1)], 0);
        ck_assert_int_eq(memcmp(raw + (size_t)y * (row + 1) + 1, px + (size_t)y * row, row), 0);
    }
    free(raw);
    free(z);
    free(f);
}

START_TEST(test_png_small)
{
    char dir[64], path[128];
    make_temp_dir(dir, sizeof dir);
    for (int ch = 1; ch <= 3; ch += 2) {
        uint8_t *px = test_pixels(7, 5, ch);
        snprintf(path, sizeof path, "%s/small.png", dir);
        ck_assert_int_eq(vae_write_png(path, px, 7, 5, ch), 0);
        check_png_file(path, px, 7, 5, ch);
        free(px);
    }
    uint8_t one = 200;
    ck_assert_int_eq(vae_write_png(path, &one, 1, 1, 1), 0);
    check_png_file(path, &one, 1, 1, 1);
    remove_temp_dir(dir);
}
END_TEST

/* More than 65535 bytes of filtered rows: several stored blocks, split in
 * the middle of rows. */
START_TEST(test_png_multiblock)
{
    char dir[64], path[128];
    make_temp_dir(dir, sizeof dir);
    uint8_t *px = test_pixels(300, 257, 3);
    snprintf(path, sizeof path, "%s/big.png", dir);
    ck_assert_int_eq(vae_write_png(path, px, 300, 257, 3), 0);
    check_png_file(path, px, 300, 257, 3);
    free(px);
    remove_temp_dir(dir);
}
END_TEST

/* ------------------------------------------------- IDX of every type */

/* An IDX file of `type` with sizes dims[0..ndims) holding v[0..count), each
 * value converted to the type here, big-endian, independently of the reader:
 * integers by two's complement byte arithmetic, floats by their bits. */
static uint8_t *idx_encode(int type, int ndims, const uint32_t *dims, const double *v,
                           size_t *len)
{
    size_t count = 1, esize = type == 0x0B ? 2 : type == 0x0C || type == 0x0D ? 4 : type == 0x0E ? 8 : 1;
    for (int i = 0; i < ndims; i++) count *= dims[i];
    size_t header = 4 + 4 * (size_t)ndims;
    uint8_t *b = malloc(header + count * esize);
    b[0] = b[1] = 0;
    b[2] = (uint8_t)type;
    b[3] = (uint8_t)ndims;
    for (int i = 0; i < ndims; i++) put_be32(b + 4 + 4 * i, dims[i]);
    for (size_t i = 0; i < count; i++) {
        uint8_t *p = b + header + i * esize;
        if (type == 0x0D) {
            float f = (float)v[i];
            uint32_t bits;
            memcpy(&bits, &f, 4);
            put_be32(p, bits);
        } else if (type == 0x0E) {
            uint64_t bits;
            memcpy(&bits, &v[i], 8);
            put_be32(p, (uint32_t)(bits >> 32));
            put_be32(p + 4, (uint32_t)bits);
        } else {
            int64_t x = (int64_t)v[i];
            uint32_t u = (uint32_t)(x & 0xFFFFFFFF);
            for (size_t k = 0; k < esize; k++) p[k] = (uint8_t)(u >> (8 * (esize - 1 - k)));
        }
    }
    *len = header + count * esize;
    return b;
}

/* A gzip member of stored deflate blocks (RFC 1951 section 3.2.4) holding
 * content[0..n): any size, no compression, trailer by the reference CRC. */
static uint8_t *gzip_stored(const uint8_t *content, size_t n, size_t *len)
{
    uint8_t *d = malloc(n + 5 * (n / 65535 + 1));
    size_t k = 0, at = 0;
    do {
        size_t m = n - at < 65535 ? n - at : 65535;
        d[k++] = at + m == n ? 1 : 0;
        d[k++] = (uint8_t)m, d[k++] = (uint8_t)(m >> 8);
        d[k++] = (uint8_t)~m, d[k++] = (uint8_t)(~m >> 8);
        memcpy(d + k, content + at, m);
        k += m;
        at += m;
    } while (at < n);
    uint8_t *g = gzip_wrap(d, k, content, n, len);
    free(d);
    return g;
}

/* Expects rc == code and the error message to be exactly expect. */
static void expect_error(int rc, int code, const char *expect)
{
    ck_assert_msg(rc == code, "expected %d (%s), got %d: %s", code, expect, rc, vae_last_error());
    ck_assert_str_eq(vae_last_error(), expect);
}

/* The same float, NaN included; -0 and +0 told apart. */
static int same_float(float a, float b)
{
    uint32_t x, y;
    memcpy(&x, &a, 4);
    memcpy(&y, &b, 4);
    return x == y || (a != a && b != b);
}

START_TEST(test_idx_all_types)
{
    static const int types[6] = {0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E};
    static const double values[6][6] = {
        {0, 1, 127, 128, 255, 42},
        {-128, -1, 0, 1, 127, 5},
        {-32768, -1, 0, 255, 32767, 1000},
        {-2147483648.0, -1, 0, 16777217, 2147483647, 123456},
        {-0.0, 1.5, -3.25, 1e-40, 3.4e38, 0.1},
        {0.1, -2.5, 1e-300, 1e38, 3.0, 1.0 / 3.0}};
    char dir[64], path[128];
    make_temp_dir(dir, sizeof dir);
    for (int t = 0; t < 6; t++)
        for (int gz = 0; gz < 2; gz++) {
            /* 2 x 3, or as 4 dimensions 1 x 2 x 1 x 3 for the odd types. */
            uint32_t dims2[2] = {2, 3}, dims4[4] = {1, 2, 1, 3};
            int ndims = t % 2 ? 4 : 2;
            size_t len;
            uint8_t *b = idx_encode(types[t], ndims, ndims == 2 ? dims2 : dims4, values[t], &len);
            snprintf(path, sizeof path, "%s/t%d%s", dir, t, gz ? ".gz" : "");
            if (gz) {
                size_t glen;
                uint8_t *g = gzip_stored(b, len, &glen);
                spit(path, g, glen);
                free(g);
            } else {
                spit(path, b, len);
            }
            free(b);
            vae_idx_array a;
            int rc = vae_idx_read(path, &a);
            ck_assert_msg(rc == 0, "%s", vae_last_error());
            ck_assert_int_eq(a.type, types[t]);
            ck_assert_int_eq(a.ndims, ndims);
            for (int i = 0; i < ndims; i++) ck_assert_uint_eq(a.dims[i], (ndims == 2 ? dims2 : dims4)[i]);
            ck_assert_uint_eq(a.dims[ndims], 0);
            ck_assert_uint_eq(a.count, 6);
            for (int i = 0; i < 6; i++)
                ck_assert_msg(same_float(a.values[i], (float)values[t][i]),
                              "type 0x%02x value %d: %g, expected %g", types[t], i,
                              (double)a.values[i], values[t][i]);
            vae_idx_array_free(&a);
            ck_assert_ptr_null(a.values);
            vae_idx_array_free(&a);
        }
    remove_temp_dir(dir);
}
END_TEST

/* Writes an IDX file of type with one dimension of n values to dir/name and
 * returns its path in a static buffer. */
static const char *write_idx_1d(const char *dir, const char *name, int type, const double *v,
                                uint32_t n)
{
    static char path[160];
    size_t len;
    uint8_t *b = idx_encode(type, 1, &n, v, &len);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    spit(path, b, len);
    free(b);
    return path;
}

START_TEST(test_idx_not_finite)
{
    char dir[64], expect[300];
    make_temp_dir(dir, sizeof dir);
    vae_idx_array a;
    double v[6] = {0.5, 0.25, 0, NAN, 1, 0};
    const char *path = write_idx_1d(dir, "nan", 0x0D, v, 6);
    snprintf(expect, sizeof expect, "%s: the value at index 3 is NaN", path);
    expect_error(vae_idx_read(path, &a), VAE_ERR_FORMAT, expect);
    ck_assert_ptr_null(a.values);
    v[3] = 0;
    v[0] = INFINITY;
    path = write_idx_1d(dir, "inf", 0x0D, v, 6);
    snprintf(expect, sizeof expect, "%s: the value at index 0 is infinite", path);
    expect_error(vae_idx_read(path, &a), VAE_ERR_FORMAT, expect);
    v[0] = 0;
    v[5] = -INFINITY;
    path = write_idx_1d(dir, "dinf", 0x0E, v, 6);
    snprintf(expect, sizeof expect, "%s: the value at index 5 is infinite", path);
    expect_error(vae_idx_read(path, &a), VAE_ERR_FORMAT, expect);
    v[5] = NAN;
    path = write_idx_1d(dir, "dnan", 0x0E, v, 6);
    snprintf(expect, sizeof expect, "%s: the value at index 5 is NaN", path);
    expect_error(vae_idx_read(path, &a), VAE_ERR_FORMAT, expect);
    v[5] = 0;
    v[2] = -1e300;
    path = write_idx_1d(dir, "big", 0x0E, v, 6);
    snprintf(expect, sizeof expect, "%s: the value -1e+300 at index 2 does not fit a float", path);
    expect_error(vae_idx_read(path, &a), VAE_ERR_FORMAT, expect);

    /* As images (2 x 3): the same NaN and infinity checks. */
    uint32_t dims[2] = {2, 3};
    double img[6] = {0, 0.5, 1, 0.25, NAN, 0};
    size_t len;
    uint8_t *b = idx_encode(0x0E, 2, dims, img, &len);
    char p2[160];
    snprintf(p2, sizeof p2, "%s/img", dir);
    spit(p2, b, len);
    free(b);
    vae_images im;
    snprintf(expect, sizeof expect, "%s: the value at index 4 is NaN", p2);
    expect_error(vae_idx_read_images(p2, &im), VAE_ERR_FORMAT, expect);
    ck_assert_ptr_null(im.values);
    img[4] = INFINITY;
    b = idx_encode(0x0D, 2, dims, img, &len);
    spit(p2, b, len);
    free(b);
    snprintf(expect, sizeof expect, "%s: the value at index 4 is infinite", p2);
    expect_error(vae_idx_read_images(p2, &im), VAE_ERR_FORMAT, expect);
    remove_temp_dir(dir);
}
END_TEST

/* Writes type images of dims and reads them with vae_idx_read_images. */
static int read_idx_images(const char *path, int type, int ndims, const uint32_t *dims,
                           const double *v, vae_images *im)
{
    size_t len;
    uint8_t *b = idx_encode(type, ndims, dims, v, &len);
    spit(path, b, len);
    free(b);
    return vae_idx_read_images(path, im);
}

START_TEST(test_idx_images_every_type)
{
    char dir[64], path[160], expect[400];
    make_temp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/images", dir);
    uint32_t dims[3] = {2, 2, 3};
    double v[12];
    vae_images im;
    /* Signed integers: v / (the type's largest value). */
    static const int types[3] = {0x09, 0x0B, 0x0C};
    static const double max[3] = {127, 32767, 2147483647};
    static const char *const names[3] = {"byte", "short", "int"};
    for (int t = 0; t < 3; t++) {
        for (int i = 0; i < 12; i++) v[i] = i == 11 ? max[t] : (double)(i * 7);
        ck_assert_int_eq(read_idx_images(path, types[t], 3, dims, v, &im), 0);
        ck_assert_int_eq(im.count, 2);
        ck_assert_int_eq(im.rows, 2);
        ck_assert_int_eq(im.cols, 3);
        ck_assert_int_eq(im.channels, 1);
        ck_assert_ptr_null(im.pixels);
        ck_assert_ptr_nonnull(im.values);
        for (int i = 0; i < 12; i++)
            ck_assert_msg(same_float(im.values[i], (float)(v[i] / max[t])), "%s %d", names[t], i);
        ck_assert(im.values[11] == 1.0f);
        vae_images_free(&im);
        ck_assert_ptr_null(im.values);
        /* A negative value is refused, naming its index. */
        v[4] = -1;
        snprintf(expect, sizeof expect,
                 "%s: the value -1 at index 4 is negative (%s IDX images hold intensities from 0 "
                 "to %.0f)",
                 path, names[t], max[t]);
        expect_error(read_idx_images(path, types[t], 3, dims, v, &im), VAE_ERR_FORMAT, expect);
        ck_assert_ptr_null(im.values);
    }
    /* Floats and doubles as they are, within [0, 1]. */
    for (int t = 0x0D; t <= 0x0E; t++) {
        for (int i = 0; i < 12; i++) v[i] = i / 11.0;
        ck_assert_int_eq(read_idx_images(path, t, 3, dims, v, &im), 0);
        for (int i = 0; i < 12; i++) ck_assert(same_float(im.values[i], (float)(i / 11.0)));
        vae_images_free(&im);
        v[7] = t == 0x0D ? 1.5 : -0.25;
        snprintf(expect, sizeof expect,
                 "%s: the value %g at index 7 is outside [0, 1] (float IDX images must hold "
                 "intensities from 0 to 1)",
                 path, v[7]);
        expect_error(read_idx_images(path, t, 3, dims, v, &im), VAE_ERR_FORMAT, expect);
    }
    /* Unsigned bytes stay bytes. */
    for (int i = 0; i < 12; i++) v[i] = i * 20;
    ck_assert_int_eq(read_idx_images(path, 0x08, 3, dims, v, &im), 0);
    ck_assert_ptr_null(im.values);
    for (int i = 0; i < 12; i++) ck_assert_int_eq(im.pixels[i], i * 20);
    /* vae_images_copy_float: bytes / 255, values copied. */
    float f[6];
    vae_images_copy_float(&im, 1, 1, f);
    for (int i = 0; i < 6; i++) ck_assert(same_float(f[i], (float)(6 + i) * 20 / 255.0f));
    vae_images_free(&im);
    for (int i = 0; i < 12; i++) v[i] = i / 16.0;
    ck_assert_int_eq(read_idx_images(path, 0x0D, 3, dims, v, &im), 0);
    vae_images_copy_float(&im, 1, 1, f);
    for (int i = 0; i < 6; i++) ck_assert(f[i] == (float)(6 + i) / 16.0f);
    vae_images_free(&im);
    remove_temp_dir(dir);
}
END_TEST

/* The dimension rule: last two are rows and cols, or with 4+ dimensions
 * ending in 1 or 3 the last three are rows, cols and channels. */
START_TEST(test_idx_images_shapes)
{
    char dir[64], path[160], expect[300];
    make_temp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/images", dir);
    static const struct {
        int ndims;
        uint32_t dims[5];
        int count, rows, cols, channels;
    } cases[] = {
        {2, {3, 4}, 1, 3, 4, 1},          {3, {2, 4, 3}, 2, 4, 3, 1},
        {4, {2, 3, 4, 3}, 2, 3, 4, 3},    {4, {2, 3, 4, 1}, 2, 3, 4, 1},
        {4, {2, 5, 3, 4}, 10, 3, 4, 1},   {5, {2, 2, 2, 2, 3}, 4, 2, 2, 3},
        {5, {2, 1, 3, 7, 2}, 6, 7, 2, 1}, {4, {1, 1, 1, 3}, 1, 1, 1, 3},
    };
    double v[128];
    for (int i = 0; i < 128; i++) v[i] = (i * 37) % 256;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        vae_images im;
        ck_assert_int_eq(read_idx_images(path, 0x08, cases[c].ndims, cases[c].dims, v, &im), 0);
        ck_assert_int_eq(im.count, cases[c].count);
        ck_assert_int_eq(im.rows, cases[c].rows);
        ck_assert_int_eq(im.cols, cases[c].cols);
        ck_assert_int_eq(im.channels, cases[c].channels);
        size_t n = (size_t)im.count * im.rows * im.cols * im.channels;
        for (size_t i = 0; i < n; i++) ck_assert_int_eq(im.pixels[i], (int)v[i]); /* file order */
        vae_images_free(&im);
    }
    /* The largest image: 2^24 pixels; one row more is refused. */
    uint32_t big[3] = {1, 4096, 4096};
    size_t len = 16 + ((size_t)1 << 24) + 4096;
    uint8_t *b = calloc(len, 1);
    put_be32(b, 0x803);
    put_be32(b + 4, 1);
    put_be32(b + 8, big[1]);
    put_be32(b + 12, big[2]);
    spit(path, b, 16 + ((size_t)1 << 24));
    vae_images im;
    ck_assert_int_eq(vae_idx_read_images(path, &im), 0);
    ck_assert_int_eq(im.rows * im.cols, 1 << 24);
    vae_images_free(&im);
    put_be32(b + 8, 4097);
    spit(path, b, len);
    snprintf(expect, sizeof expect,
             "%s: images of 4097 x 4096 pixels exceed the limit of 16777216 pixels", path);
    expect_error(vae_idx_read_images(path, &im), VAE_ERR_FORMAT, expect);
    free(b);
    remove_temp_dir(dir);
}
END_TEST

START_TEST(test_idx_labels_every_type)
{
    char dir[64], expect[300];
    make_temp_dir(dir, sizeof dir);
    uint8_t *labels;
    int count;
    static const int types[6] = {0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E};
    double v[4] = {0, 9, 3, 7};
    for (int t = 0; t < 6; t++) {
        v[1] = types[t] == 0x09 ? 127 : 255;
        const char *path = write_idx_1d(dir, "labels", types[t], v, 4);
        ck_assert_msg(vae_idx_read_labels(path, &labels, &count) == 0, "%s", vae_last_error());
        ck_assert_int_eq(count, 4);
        for (int i = 0; i < 4; i++) ck_assert_int_eq(labels[i], (int)v[i]);
        free(labels);
    }
    v[1] = 256;
    const char *path = write_idx_1d(dir, "labels", 0x0B, v, 4);
    snprintf(expect, sizeof expect, "%s: the label 256 at index 1 is not a whole number from 0 to 255",
             path);
    expect_error(vae_idx_read_labels(path, &labels, &count), VAE_ERR_FORMAT, expect);
    ck_assert_ptr_null(labels);
    ck_assert_int_eq(count, 0);
    v[1] = 2.5;
    path = write_idx_1d(dir, "labels", 0x0D, v, 4);
    snprintf(expect, sizeof expect, "%s: the label 2.5 at index 1 is not a whole number from 0 to 255",
             path);
    expect_error(vae_idx_read_labels(path, &labels, &count), VAE_ERR_FORMAT, expect);
    v[1] = -1;
    path = write_idx_1d(dir, "labels", 0x09, v, 4);
    snprintf(expect, sizeof expect, "%s: the label -1 at index 1 is not a whole number from 0 to 255",
             path);
    expect_error(vae_idx_read_labels(path, &labels, &count), VAE_ERR_FORMAT, expect);
    /* Two dimensions are not labels. */
    uint32_t dims[2] = {2, 2};
    size_t len;
    uint8_t *b = idx_encode(0x08, 2, dims, v, &len);
    char p2[160];
    snprintf(p2, sizeof p2, "%s/two", dir);
    spit(p2, b, len);
    free(b);
    snprintf(expect, sizeof expect, "%s: IDX file has 2 dimensions, but labels need 1", p2);
    expect_error(vae_idx_read_labels(p2, &labels, &count), VAE_ERR_FORMAT, expect);
    remove_temp_dir(dir);
}
END_TEST

/* A data set whose label count differs from its image count is refused. */
START_TEST(test_dataset_label_count_mismatch)
{
    char dir[64], path[160], expect[400];
    make_temp_dir(dir, sizeof dir);
    size_t len;
    uint8_t *b = idx_images_bytes(6, 2, 2, &len);
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte", dir);
    spit(path, b, len);
    free(b);
    double v[7] = {0, 1, 2, 3, 4, 5, 6};
    const char *labels = write_idx_1d(dir, "train-labels-idx1-ubyte", 0x0C, v, 7);
    vae_dataset ds;
    snprintf(expect, sizeof expect, "%s: 7 labels, but %s has 6 images", labels, path);
    expect_error(vae_dataset_load(dir, NULL, &ds), VAE_ERR_FORMAT, expect);
    ck_assert_ptr_null(ds.train.pixels);
    write_idx_1d(dir, "train-labels-idx1-ubyte", 0x0C, v, 6); /* int labels: fine */
    ck_assert_int_eq(vae_dataset_load(dir, NULL, &ds), 0);
    ck_assert_int_eq(ds.train.count, 6);
    ck_assert_int_eq(ds.train.labels[5], 5);
    ck_assert_int_eq(ds.test.count, 0);
    vae_dataset_free(&ds);
    remove_temp_dir(dir);
}
END_TEST

/* gzip IDX files: the header is inflated first, and the whole file then
 * under exactly the size it declares. */
START_TEST(test_idx_gzip_limits)
{
    char dir[64], path[160], expect[400];
    make_temp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/labels.gz", dir);
    uint8_t *labels;
    int count;
    size_t glen;

    /* Data beyond the declared size (here 5000 bytes more): refused. */
    uint8_t content[8000];
    memset(content, 7, sizeof content);
    put_be32(content, 0x801);
    put_be32(content + 4, 2000);
    uint8_t *g = gzip_stored(content, 8 + 2000 + 5000, &glen);
    spit(path, g, glen);
    free(g);
    snprintf(expect, sizeof expect,
             "%s: inflates to more than the 2008 bytes its IDX header declares (trailing data, "
             "or a gzip bomb)",
             path);
    expect_error(vae_idx_read_labels(path, &labels, &count), VAE_ERR_FORMAT, expect);
    /* Exactly the declared size: read. */
    g = gzip_stored(content, 8 + 2000, &glen);
    spit(path, g, glen);
    ck_assert_int_eq(vae_idx_read_labels(path, &labels, &count), 0);
    ck_assert_int_eq(count, 2000);
    free(labels);
    /* Bad CRC, and bad length, in the trailer: exact messages. */
    uint32_t crc = ref_crc32(content, 2008);
    g[glen - 8] ^= 0x10;
    spit(path, g, glen);
    snprintf(expect, sizeof expect,
             "%s: gzip: CRC-32 mismatch in member 1 (stored 0x%08x, computed 0x%08x)", path,
             (unsigned)(crc ^ 0x10), (unsigned)crc);
    expect_error(vae_idx_read_labels(path, &labels, &count), VAE_ERR_FORMAT, expect);
    g[glen - 8] ^= 0x10;
    g[glen - 4] ^= 0x01;
    spit(path, g, glen);
    snprintf(expect, sizeof expect,
             "%s: gzip: length mismatch in member 1 (stored 2009 mod 2^32, decoded 2008)", path);
    expect_error(vae_idx_read_labels(path, &labels, &count), VAE_ERR_FORMAT, expect);
    /* Cut before the trailer; cut inside the data. */
    spit(path, g, glen - 8);
    snprintf(expect, sizeof expect,
             "%s: gzip: member 1 is truncated (no CRC-32 and length trailer)", path);
    expect_error(vae_idx_read_labels(path, &labels, &count), VAE_ERR_FORMAT, expect);
    spit(path, g, 1500);
    snprintf(expect, sizeof expect,
             "%s: gzip: unexpected end of compressed data after 1490 bytes", path);
    expect_error(vae_idx_read_labels(path, &labels, &count), VAE_ERR_FORMAT, expect);
    free(g);

    /* A small file (the whole member inside the first 1,024 bytes) takes the
     * other path, with the same checks. */
    g = gzip_stored(content, 8 + 100, &glen);
    put_be32(content + 4, 100);
    free(g);
    g = gzip_stored(content, 8 + 100, &glen);
    spit(path, g, glen);
    ck_assert_int_eq(vae_idx_read_labels(path, &labels, &count), 0);
    ck_assert_int_eq(count, 100);
    free(labels);
    g[glen - 7] ^= 0x01;
    crc = ref_crc32(content, 108);
    spit(path, g, glen);
    snprintf(expect, sizeof expect,
             "%s: gzip: CRC-32 mismatch in member 1 (stored 0x%08x, computed 0x%08x)", path,
             (unsigned)(crc ^ 0x100), (unsigned)crc);
    expect_error(vae_idx_read_labels(path, &labels, &count), VAE_ERR_FORMAT, expect);
    free(g);
    g = gzip_stored(content, 8 + 99, &glen);
    spit(path, g, glen);
    free(g);
    snprintf(expect, sizeof expect, "%s: IDX data is 99 bytes, but the header says 100 (truncated file)",
             path);
    expect_error(vae_idx_read_labels(path, &labels, &count), VAE_ERR_FORMAT, expect);

    /* A header declaring more than the compressed bytes can hold: refused
     * before anything is allocated for it (512 MiB here). */
    put_be32(content + 4, 1u << 29);
    g = gzip_stored(content, 1100, &glen);
    spit(path, g, glen);
    free(g);
    snprintf(expect, sizeof expect,
             "%s: the IDX header declares 536870920 bytes, more than %zu bytes of gzip data can "
             "hold (truncated file?)",
             path, glen);
    expect_error(vae_idx_read_labels(path, &labels, &count), VAE_ERR_FORMAT, expect);

    /* A real bomb, made by gzip -9: 16 KB that inflate to 16 MiB. */
    snprintf(path, sizeof path, "%s/bomb-labels-idx1-ubyte.gz", VAE_TEST_DATA_DIR);
    snprintf(expect, sizeof expect,
             "%s: inflates to more than the 24 bytes its IDX header declares (trailing data, or "
             "a gzip bomb)",
             path);
    expect_error(vae_idx_read_labels(path, &labels, &count), VAE_ERR_FORMAT, expect);
    /* The generic reader caps its output too. */
    uint8_t *data;
    size_t len;
    snprintf(expect, sizeof expect, "%s: gzip: decompressed data exceeds the limit of 1048576 bytes",
             path);
    expect_error(vae_read_file_maybe_gz(path, &data, &len, 1 << 20), VAE_ERR_FORMAT, expect);
    remove_temp_dir(dir);
}
END_TEST

/* vae_inflate into a buffer too small fills it to the last byte, across
 * literals, matches and stored blocks, before it reports the overflow. */
START_TEST(test_inflate_fills_fixed_buffer)
{
    static const char *const names[3] = {"sample-9.gz", "sample-fixed.gz", "sample-stored.gz"};
    uint8_t *s = sample_bytes(SAMPLE_LEN);
    uint8_t *out = malloc(SAMPLE_LEN);
    for (int f = 0; f < 3; f++) {
        size_t len, out_len;
        uint8_t *gz = fixture(names[f], &len);
        size_t start = 10;
        if (gz[3] & 0x08) start += strlen((const char *)gz + 10) + 1;
        for (size_t cap = 1; cap < 4000; cap = cap * 3 + 1) {
            memset(out, 0xEE, SAMPLE_LEN);
            ck_assert_int_eq(vae_inflate(gz + start, len - start - 8, out, cap, &out_len, NULL),
                             VAE_ERR_FORMAT);
            ck_assert_uint_eq(out_len, cap);
            ck_assert_int_eq(memcmp(out, s, cap), 0);
            ck_assert_int_eq(out[cap], 0xEE); /* nothing written past the end */
        }
        free(gz);
    }
    free(out);
    free(s);
}
END_TEST

/* ------------------------------------------------------ file errors */

/* A missing file, a directory and an unreadable file, through each reader:
 * the same exact messages. */
START_TEST(test_reader_file_errors)
{
    char dir[64], path[160], expect[400];
    make_temp_dir(dir, sizeof dir);
    vae_images im;
    vae_idx_array a;
    uint8_t *labels;
    int count;
    snprintf(path, sizeof path, "%s/missing", dir);
    snprintf(expect, sizeof expect, "%s: cannot open: %s", path, strerror(ENOENT));
    expect_error(vae_idx_read_images(path, &im), VAE_ERR_IO, expect);
    expect_error(vae_idx_read_labels(path, &labels, &count), VAE_ERR_IO, expect);
    expect_error(vae_idx_read(path, &a), VAE_ERR_IO, expect);
    expect_error(vae_pnm_read(path, &im), VAE_ERR_IO, expect);
    expect_error(vae_images_load_dir(path, &im), VAE_ERR_IO, expect);
    vae_dataset ds;
    expect_error(vae_dataset_load(path, NULL, &ds), VAE_ERR_IO, expect);

    snprintf(expect, sizeof expect, "%s: is a directory", dir);
    expect_error(vae_idx_read_images(dir, &im), VAE_ERR_IO, expect);
    expect_error(vae_idx_read(dir, &a), VAE_ERR_IO, expect);
    expect_error(vae_pnm_read(dir, &im), VAE_ERR_IO, expect);

    /* Unreadable: /proc/self/mem opens, but reading at offset 0 (an
     * unmapped address) fails with EIO, even for root. */
    if (access("/proc/self/mem", R_OK) == 0) {
        snprintf(expect, sizeof expect, "/proc/self/mem: cannot read: %s", strerror(EIO));
        expect_error(vae_idx_read_images("/proc/self/mem", &im), VAE_ERR_IO, expect);
        expect_error(vae_pnm_read("/proc/self/mem", &im), VAE_ERR_IO, expect);
    }
    /* Mode 000 stops everyone but root (tests often run as root, where
     * permissions are not checked: then this part is skipped). */
    snprintf(path, sizeof path, "%s/locked.pgm", dir);
    spit(path, "P5 1 1 255\n\x07", 12);
    ck_assert_int_eq(chmod(path, 0), 0);
    if (geteuid() != 0) {
        snprintf(expect, sizeof expect, "%s: cannot open: %s", path, strerror(EACCES));
        expect_error(vae_pnm_read(path, &im), VAE_ERR_IO, expect);
        expect_error(vae_images_load_dir(dir, &im), VAE_ERR_IO, expect);
    }
    /* A path that is a file where a folder is expected. */
    snprintf(expect, sizeof expect, "%s: not a directory", path);
    expect_error(vae_images_load_dir(path, &im), VAE_ERR_IO, expect);
    expect_error(vae_dataset_load(path, NULL, &ds), VAE_ERR_IO, expect);
    remove_temp_dir(dir);
}
END_TEST

/* ------------------------------------------------------ Netpbm input */

/* Writes text[0..len) to dir/name and reads it with vae_pnm_read. */
static int read_pnm_bytes(const char *dir, const char *name, const void *text, size_t len,
                          vae_images *im, char *path, size_t path_size)
{
    snprintf(path, path_size, "%s/%s", dir, name);
    spit(path, text, len);
    return vae_pnm_read(path, im);
}

START_TEST(test_pnm_read_binary_round_trip)
{
    char dir[64], path[160];
    make_temp_dir(dir, sizeof dir);
    for (int ch = 1; ch <= 3; ch += 2) {
        uint8_t *px = test_pixels(7, 5, ch);
        snprintf(path, sizeof path, "%s/x.pnm", dir);
        ck_assert_int_eq(vae_write_pnm(path, px, 7, 5, ch), 0);
        vae_images im;
        ck_assert_msg(vae_pnm_read(path, &im) == 0, "%s", vae_last_error());
        ck_assert_int_eq(im.count, 1);
        ck_assert_int_eq(im.rows, 5);
        ck_assert_int_eq(im.cols, 7);
        ck_assert_int_eq(im.channels, ch);
        ck_assert_ptr_null(im.values);
        ck_assert_ptr_null(im.labels);
        ck_assert_int_eq(memcmp(im.pixels, px, (size_t)7 * 5 * ch), 0);
        vae_images_free(&im);
        free(px);
    }
    remove_temp_dir(dir);
}
END_TEST

/* The plain formats, with comments everywhere the header allows them and
 * inside the raster, as libnetpbm reads them. */
START_TEST(test_pnm_read_plain_and_comments)
{
    char dir[64], path[160];
    make_temp_dir(dir, sizeof dir);
    vae_images im;
    static const char p2[] = "P2\n# feep.pgm\n3 # width\n2\n# maxval next\n15\n0 3 7\n# row 2\n11\t15 1";
    ck_assert_msg(read_pnm_bytes(dir, "a.pgm", p2, sizeof p2 - 1, &im, path, sizeof path) == 0, "%s",
                  vae_last_error());
    ck_assert_int_eq(im.count, 1);
    ck_assert_int_eq(im.cols, 3);
    ck_assert_int_eq(im.rows, 2);
    ck_assert_int_eq(im.channels, 1);
    ck_assert_ptr_null(im.pixels);
    static const int expect[6] = {0, 3, 7, 11, 15, 1};
    for (int i = 0; i < 6; i++) ck_assert(same_float(im.values[i], (float)(expect[i] / 15.0)));
    vae_images_free(&im);
    /* maxval 255 gives bytes; P3 is RGB. */
    static const char p3[] = "P3 2 1 255\n255 0 0   0 128 255\n\n";
    ck_assert_int_eq(read_pnm_bytes(dir, "b.ppm", p3, sizeof p3 - 1, &im, path, sizeof path), 0);
    ck_assert_int_eq(im.channels, 3);
    ck_assert_ptr_nonnull(im.pixels);
    static const uint8_t rgb[6] = {255, 0, 0, 0, 128, 255};
    ck_assert_int_eq(memcmp(im.pixels, rgb, 6), 0);
    vae_images_free(&im);
    /* A binary header with comments, maxval 255, CR LF line ends. */
    static const char p5[] = "P5\r\n#c1\r\n2#c2\r\n2\r\n255\n\x01\x02\x03\x04";
    ck_assert_int_eq(read_pnm_bytes(dir, "c.pgm", p5, sizeof p5 - 1, &im, path, sizeof path), 0);
    ck_assert_int_eq(im.rows, 2);
    ck_assert_int_eq(im.pixels[3], 4);
    vae_images_free(&im);
    remove_temp_dir(dir);
}
END_TEST

/* maxval above 255: two bytes per sample, most significant first. */
START_TEST(test_pnm_read_16bit)
{
    char dir[64], path[160];
    make_temp_dir(dir, sizeof dir);
    vae_images im;
    static const uint8_t p5[] = "P5 3 1 65535\n\x01\x02\xFF\xFF\x00\x00";
    ck_assert_int_eq(read_pnm_bytes(dir, "a.pgm", p5, sizeof p5 - 1, &im, path, sizeof path), 0);
    ck_assert(same_float(im.values[0], (float)(258 / 65535.0)));
    ck_assert(im.values[1] == 1.0f);
    ck_assert(im.values[2] == 0.0f);
    vae_images_free(&im);
    static const uint8_t p6[] = "P6 1 1 1000\n\x03\xE8\x01\xF4\x00\x01";
    ck_assert_int_eq(read_pnm_bytes(dir, "b.ppm", p6, sizeof p6 - 1, &im, path, sizeof path), 0);
    ck_assert_int_eq(im.channels, 3);
    ck_assert(im.values[0] == 1.0f);
    ck_assert(im.values[1] == 0.5f);
    ck_assert(same_float(im.values[2], (float)(1 / 1000.0)));
    vae_images_free(&im);
    /* maxval 256 is the smallest with two bytes; plain accepts 65535. */
    static const uint8_t p5b[] = "P5 1 1 256\n\x01\x00";
    ck_assert_int_eq(read_pnm_bytes(dir, "c.pgm", p5b, sizeof p5b - 1, &im, path, sizeof path), 0);
    ck_assert(im.values[0] == 1.0f);
    vae_images_free(&im);
    static const char p2[] = "P2 2 1 65535 65535 32768";
    ck_assert_int_eq(read_pnm_bytes(dir, "d.pgm", p2, sizeof p2 - 1, &im, path, sizeof path), 0);
    ck_assert(im.values[0] == 1.0f);
    ck_assert(same_float(im.values[1], (float)(32768 / 65535.0)));
    vae_images_free(&im);
    remove_temp_dir(dir);
}
END_TEST

/* Several binary images in one file; with mixed maxvals all become values. */
START_TEST(test_pnm_read_several_images)
{
    char dir[64], path[160];
    make_temp_dir(dir, sizeof dir);
    vae_images im;
    static const uint8_t three[] = "P5 2 1 255\n\x00\xFFP5 2 1 255\n\x10\x20\nP5\n2 1\n255\n\x30\x40";
    ck_assert_int_eq(read_pnm_bytes(dir, "a.pgm", three, sizeof three - 1, &im, path, sizeof path), 0);
    ck_assert_int_eq(im.count, 3);
    static const uint8_t px[6] = {0, 255, 0x10, 0x20, 0x30, 0x40};
    ck_assert_int_eq(memcmp(im.pixels, px, 6), 0);
    vae_images_free(&im);
    static const uint8_t mixed[] = "P5 2 1 255\n\x00\xFFP5 2 1 1000\n\x03\xE8\x00\x64";
    ck_assert_int_eq(read_pnm_bytes(dir, "b.pgm", mixed, sizeof mixed - 1, &im, path, sizeof path), 0);
    ck_assert_int_eq(im.count, 2);
    ck_assert_ptr_null(im.pixels);
    ck_assert(im.values[0] == 0.0f && im.values[1] == 1.0f && im.values[2] == 1.0f);
    ck_assert(same_float(im.values[3], (float)(100 / 1000.0)));
    vae_images_free(&im);
    remove_temp_dir(dir);
}
END_TEST

/* Every way a Netpbm file can be wrong, each with its exact message. */
START_TEST(test_pnm_read_errors)
{
    static const struct {
        const char *bytes;
        int len; /* -1: strlen */
        int code;
        const char *message;
    } cases[] = {
        {"", -1, VAE_ERR_FORMAT, "truncated header (0 bytes)"},
        {"P", -1, VAE_ERR_FORMAT, "truncated header (1 bytes)"},
        {"GIF89a", -1, VAE_ERR_FORMAT,
         "not a Netpbm file (starts with 47 49; expected P2, P3, P5 or P6)"},
        {"P4 8 1\n\xFF", -1, VAE_ERR_UNSUPPORTED,
         "PBM bitmaps (P4) are not supported (convert to PGM: pbmtopgm)"},
        {"P1 1 1 0", -1, VAE_ERR_UNSUPPORTED,
         "PBM bitmaps (P1) are not supported (convert to PGM: pbmtopgm)"},
        {"P7\nWIDTH 1\n", -1, VAE_ERR_UNSUPPORTED, "PAM images (P7) are not supported"},
        /* truncated header */
        {"P5", -1, VAE_ERR_FORMAT, "truncated header of image 1 (no width)"},
        {"P5 4", -1, VAE_ERR_FORMAT, "truncated header of image 1 (it ends after the width)"},
        {"P5 4 ", -1, VAE_ERR_FORMAT, "truncated header of image 1 (no height)"},
        {"P5 4 3 # comment", -1, VAE_ERR_FORMAT, "truncated header of image 1 (no maxval)"},
        {"P5 4 3 255", -1, VAE_ERR_FORMAT, "truncated header of image 1 (it ends after the maxval)"},
        /* zero and overflowing sizes */
        {"P5 0 3 255\n", -1, VAE_ERR_FORMAT, "image 1 has width 0"},
        {"P6 4 0 255\n", -1, VAE_ERR_FORMAT, "image 1 has height 0"},
        {"P5 99999999999 1 255\n", -1, VAE_ERR_FORMAT, "the width of image 1 is too large (byte 3)"},
        {"P5 1 4294967296 255\n", -1, VAE_ERR_FORMAT, "the height of image 1 is too large (byte 5)"},
        {"P5 4097 4096 255\n", -1, VAE_ERR_FORMAT,
         "image 1 of 4097x4096 pixels exceeds the limit of 16777216 pixels"},
        {"P6 4294967295 4294967295 255\n", -1, VAE_ERR_FORMAT,
         "image 1 of 4294967295x4294967295 pixels exceeds the limit of 16777216 pixels"},
        /* maxval */
        {"P5 1 1 0\n\x00", 10, VAE_ERR_FORMAT, "the maxval of image 1 is 0 (it must be 1 to 65535)"},
        {"P5 1 1 65536\n\x00\x00", 15, VAE_ERR_FORMAT,
         "the maxval of image 1 is 65536 (it must be 1 to 65535)"},
        {"P2 1 1 99999999999 1", -1, VAE_ERR_FORMAT, "the maxval of image 1 is too large (byte 7)"},
        /* non-numeric fields */
        {"P2 4 x 255\n", -1, VAE_ERR_FORMAT, "the height of image 1 is not a number (byte 5)"},
        {"P2 4a 3 255\n", -1, VAE_ERR_FORMAT, "the width of image 1 is not a number (byte 3)"},
        {"P2 -4 3 255\n", -1, VAE_ERR_FORMAT, "the width of image 1 is not a number (byte 3)"},
        {"P3 1 1 2.5\n", -1, VAE_ERR_FORMAT, "the maxval of image 1 is not a number (byte 7)"},
        {"P2 2 1 255\n1 a\n", -1, VAE_ERR_FORMAT, "sample 1 of image 1 is not a number (byte 13)"},
        {"P2 2 1 255\n1 2x\n", -1, VAE_ERR_FORMAT, "sample 1 of image 1 is not a number (byte 13)"},
        {"P2 2 1 255\n-1 2\n", -1, VAE_ERR_FORMAT, "sample 0 of image 1 is not a number (byte 11)"},
        /* samples above the maxval */
        {"P2 2 1 100\n1 101\n", -1, VAE_ERR_FORMAT, "sample 1 of image 1 is 101, above the maxval 100"},
        {"P2 1 1 65535\n99999999999999\n", -1, VAE_ERR_FORMAT,
         "sample 0 of image 1 is 99999, above the maxval 65535"},
        {"P5 2 1 100\n\x05\xC8", -1, VAE_ERR_FORMAT, "sample 1 of image 1 is 200, above the maxval 100"},
        {"P5 1 1 1000\n\x03\xE9", -1, VAE_ERR_FORMAT, "sample 0 of image 1 is 1001, above the maxval 1000"},
        /* truncated rasters */
        {"P5 2 2 255\n\x01\x02\x03", -1, VAE_ERR_FORMAT, "truncated raster of image 1 (3 bytes, it needs 4)"},
        {"P6 1 1 300\n\x01\x02\x03\x04\x05", -1, VAE_ERR_FORMAT,
         "truncated raster of image 1 (5 bytes, it needs 6)"},
        {"P5 2 2 255\n", -1, VAE_ERR_FORMAT, "truncated raster of image 1 (0 bytes, it needs 4)"},
        {"P2 2 2 255\n1 2 3", -1, VAE_ERR_FORMAT,
         "truncated raster of image 1 (5 bytes left; 4 samples need at least 7)"},
        {"P2 2 2 255\n1 2 3 # 4 5 6 7 8\n", -1, VAE_ERR_FORMAT,
         "truncated raster of image 1 (3 of 4 samples)"},
        /* the byte after the maxval, and what follows an image */
        {"P5 1 1 255#x\n\x07", -1, VAE_ERR_FORMAT,
         "expected one whitespace character after the maxval of image 1 (byte 10)"},
        {"P2 1 1 255\n7\nP2 1 1 255\n7\n", -1, VAE_ERR_FORMAT,
         "unexpected data after the plain (P2) image (byte 13): a plain Netpbm file holds one image"},
        {"P5 1 1 255\n\x07xyz", -1, VAE_ERR_FORMAT,
         "unexpected data after image 1 (byte 12): only binary (P5, P6) images may follow one another"},
        {"P5 1 1 255\n\x07P2 1 1 255 7", -1, VAE_ERR_FORMAT,
         "unexpected data after image 1 (byte 12): only binary (P5, P6) images may follow one another"},
        {"P5 1 1 255\n\x07P5 2 1 255\n\x01\x02", -1, VAE_ERR_FORMAT,
         "image 2 is 2x1 with 1 channel, but image 1 is 1x1 with 1 (the images of a file must have "
         "one size)"},
        {"P5 1 1 255\n\x07P6 1 1 255\n\x01\x02\x03", -1, VAE_ERR_FORMAT,
         "image 2 is 1x1 with 3 channels, but image 1 is 1x1 with 1 (the images of a file must have "
         "one size)"},
        {"P5 1 1 255\n\x07P5 1 1 255\n", -1, VAE_ERR_FORMAT,
         "truncated raster of image 2 (0 bytes, it needs 1)"},
    };
    char dir[64], path[160], expect[400];
    make_temp_dir(dir, sizeof dir);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t len = cases[c].len < 0 ? strlen(cases[c].bytes) : (size_t)cases[c].len;
        vae_images im;
        memset(&im, 0xAB, sizeof im);
        int rc = read_pnm_bytes(dir, "bad.pnm", cases[c].bytes, len, &im, path, sizeof path);
        snprintf(expect, sizeof expect, "%s: %s", path, cases[c].message);
        ck_assert_msg(rc == cases[c].code, "case %zu: rc %d: %s", c, rc, vae_last_error());
        ck_assert_msg(strcmp(vae_last_error(), expect) == 0, "case %zu:\n  got    %s\n  wanted %s", c,
                      vae_last_error(), expect);
        ck_assert_ptr_null(im.pixels);
        ck_assert_ptr_null(im.values);
        ck_assert_int_eq(im.count, 0);
    }
    remove_temp_dir(dir);
}
END_TEST

/* ----------------------------------------------------- image folders */

/* Writes an RGB PPM of 3x2 pixels whose samples are k*7 + i (mod 256). */
static void write_ppm_k(const char *dir, const char *name, int k)
{
    char path[200];
    uint8_t px[18];
    for (int i = 0; i < 18; i++) px[i] = (uint8_t)(k * 7 + i);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    ck_assert_int_eq(vae_write_pnm(path, px, 3, 2, 3), 0);
}

/* Checks that image j of im is the one write_ppm_k made with k. */
static void check_ppm_k(const vae_images *im, int j, int k)
{
    for (int i = 0; i < 18; i++) ck_assert_int_eq(im->pixels[(size_t)j * 18 + i], (uint8_t)(k * 7 + i));
}

START_TEST(test_image_dir_split)
{
    char dir[64], sub[128], name[32];
    make_temp_dir(dir, sizeof dir);
    /* 25 images written out of order; the names sort as k. Other files are
     * ignored: no Netpbm extension, a dot file, a folder named like an image. */
    for (int k = 24; k >= 0; k--) {
        snprintf(name, sizeof name, k % 5 == 0 ? "img%02d.PPM" : "img%02d.ppm", k);
        write_ppm_k(dir, name, k);
    }
    char path[200];
    snprintf(path, sizeof path, "%s/notes.txt", dir);
    spit(path, "hello", 5);
    snprintf(path, sizeof path, "%s/.hidden.ppm", dir);
    spit(path, "garbage", 7);
    snprintf(sub, sizeof sub, "%s/folder.pgm", dir);
    ck_assert_int_eq(mkdir(sub, 0755), 0);

    vae_images all;
    ck_assert_msg(vae_images_load_dir(dir, &all) == 0, "%s", vae_last_error());
    ck_assert_int_eq(all.count, 25);
    ck_assert_int_eq(all.rows, 2);
    ck_assert_int_eq(all.cols, 3);
    ck_assert_int_eq(all.channels, 3);
    for (int k = 0; k < 25; k++) check_ppm_k(&all, k, k);
    vae_images_free(&all);

    /* Every tenth image (k = 9, 19) tests; the other 23 train, in order. */
    vae_dataset ds;
    ck_assert_msg(vae_dataset_load(dir, NULL, &ds) == 0, "%s", vae_last_error());
    ck_assert_int_eq(ds.split_from_train, 1);
    ck_assert_int_eq(ds.split_from_test, 0);
    ck_assert_int_eq(ds.train.count, 23);
    ck_assert_int_eq(ds.test.count, 2);
    ck_assert_int_eq(ds.test.channels, 3);
    check_ppm_k(&ds.test, 0, 9);
    check_ppm_k(&ds.test, 1, 19);
    for (int j = 0, k = 0; k < 25; k++)
        if (k % 10 != 9) check_ppm_k(&ds.train, j++, k);
    vae_dataset_free(&ds);
    ck_assert_int_eq(ds.split_from_train, 0);

    /* An explicit test folder: every image of dir trains. */
    char test_dir[64];
    make_temp_dir(test_dir, sizeof test_dir);
    write_ppm_k(test_dir, "t1.ppm", 100);
    write_ppm_k(test_dir, "t0.pnm", 50);
    ck_assert_int_eq(vae_dataset_load(dir, test_dir, &ds), 0);
    ck_assert_int_eq(ds.split_from_train, 0);
    ck_assert_int_eq(ds.train.count, 25);
    ck_assert_int_eq(ds.test.count, 2);
    check_ppm_k(&ds.test, 0, 50);
    check_ppm_k(&ds.test, 1, 100);
    vae_dataset_free(&ds);
    /* A test folder of another size. */
    char expect[400];
    uint8_t grey[6] = {1, 2, 3, 4, 5, 6};
    snprintf(path, sizeof path, "%s/t0.pnm", test_dir);
    ck_assert_int_eq(vae_write_pnm(path, grey, 2, 3, 1), 0);
    snprintf(path, sizeof path, "%s/t1.ppm", test_dir);
    remove(path);
    snprintf(expect, sizeof expect,
             "%s: test images are 2x3 with 1 channel, but the training images of %s are 3x2 "
             "with 3",
             test_dir, dir);
    expect_error(vae_dataset_load(dir, test_dir, &ds), VAE_ERR_FORMAT, expect);
    ck_assert_ptr_null(ds.train.pixels);
    ck_assert_ptr_null(ds.test.pixels);
    /* An image of another size inside the folder names both files. */
    snprintf(path, sizeof path, "%s/img30.pgm", dir);
    ck_assert_int_eq(vae_write_pnm(path, grey, 2, 3, 1), 0);
    snprintf(expect, sizeof expect,
             "%s: images are 2x3 with 1 channel, but those of %s/img00.PPM are 3x2 with 3 (all "
             "images must have one size)",
             path, dir);
    expect_error(vae_images_load_dir(dir, &all), VAE_ERR_FORMAT, expect);
    expect_error(vae_dataset_load(dir, NULL, &ds), VAE_ERR_FORMAT, expect);
    /* A bad file names itself. */
    spit(path, "P5 1 1", 6);
    snprintf(expect, sizeof expect, "%s: truncated header of image 1 (it ends after the height)", path);
    expect_error(vae_images_load_dir(dir, &all), VAE_ERR_FORMAT, expect);
    rmdir(sub);
    remove_temp_dir(test_dir);
    remove_temp_dir(dir);
}
END_TEST

START_TEST(test_image_dir_mixed_and_small)
{
    char dir[64], path[200], expect[400];
    make_temp_dir(dir, sizeof dir);
    vae_dataset ds;
    /* An empty folder: neither kind. */
    snprintf(expect, sizeof expect,
             "%s: no MNIST files (train-images-idx3-ubyte, t10k-images-idx3-ubyte, plain or .gz) "
             "and no .pgm, .ppm or .pnm images found",
             dir);
    expect_error(vae_dataset_load(dir, NULL, &ds), VAE_ERR_IO, expect);
    vae_images im;
    snprintf(expect, sizeof expect, "%s: no .pgm, .ppm or .pnm images found", dir);
    expect_error(vae_images_load_dir(dir, &im), VAE_ERR_IO, expect);
    /* Grey images with maxval 255 and 65535 (and a two-image file): all
     * become values; fewer than 10 images: no test set. */
    spit(strcat(strcpy(path, dir), "/a.pgm"), "P5 2 1 255\n\x00\xFF", 13);
    spit(strcat(strcpy(path, dir), "/b.pgm"), "P5 2 1 65535\n\x80\x00\x00\x01P5 2 1 255\n\x33\x66", 30);
    spit(strcat(strcpy(path, dir), "/c.pgm"), "P2 2 1 255 17 34", 16);
    ck_assert_msg(vae_dataset_load(dir, NULL, &ds) == 0, "%s", vae_last_error());
    ck_assert_int_eq(ds.train.count, 4);
    ck_assert_int_eq(ds.test.count, 0);
    ck_assert_int_eq(ds.split_from_train, 1);
    ck_assert_ptr_null(ds.train.pixels);
    static const double want[8] = {0, 1, 32768 / 65535.0, 1 / 65535.0, 0x33 / 255.0, 0x66 / 255.0,
                                   17 / 255.0, 34 / 255.0};
    for (int i = 0; i < 8; i++)
        ck_assert_msg(same_float(ds.train.values[i], (float)want[i]) ||
                          fabsf(ds.train.values[i] - (float)want[i]) <= 1e-7f,
                      "%d: %g", i, (double)ds.train.values[i]);
    vae_dataset_free(&ds);
    /* An MNIST folder takes no test folder. */
    size_t len;
    uint8_t *b = idx_images_bytes(3, 2, 2, &len);
    snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte", dir);
    spit(path, b, len);
    free(b);
    snprintf(expect, sizeof expect,
             "%s: an MNIST-format folder brings its own test files; a separate test folder is for "
             "image folders",
             dir);
    expect_error(vae_dataset_load(dir, dir, &ds), VAE_ERR_ARG, expect);
    /* ... and wins over images beside it. */
    ck_assert_int_eq(vae_dataset_load(dir, NULL, &ds), 0);
    ck_assert_int_eq(ds.split_from_test, 1);
    ck_assert_int_eq(ds.train.rows, 2);
    vae_dataset_free(&ds);
    remove_temp_dir(dir);
}
END_TEST

/* ------------------------------------------- fuzzer findings (model) */

/* Regressions for what fuzz_model found in vae_model_load: a header whose
 * shape needs another parameter count than the file holds was reported
 * after the model was freed (a use after free), and the model for the
 * header's shape was allocated before that comparison, so a 488-byte file
 * could ask for terabytes. Both must now fail cleanly, before building. */
START_TEST(test_model_header_shape_mismatch)
{
    char path[300], dir[64], expect[400];
    snprintf(path, sizeof path, "%s/model/grey-2x1-3-1-gaussian", VAE_TEST_FUZZ_DIR);
    size_t len;
    uint8_t *f = slurp(path, &len);
    /* The seed: 2x1x1 images, one hidden layer of 3, latent 1: encoder
     * 2->3->2, decoder 1->3->2, (2*3+3) + (3*2+2) + (1*3+3) + (3*2+2) = 31
     * parameters, stored three times (values and two Adam moments). */
    ck_assert_uint_eq(len, 112 + 12 * 31 + 4);
    ck_assert_uint_eq(le32(f + 104), 31);
    make_temp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/m", dir);
    vae_model *m = NULL;

    /* Hidden width 1: (2+1) + (2+2) + (1+1) + (2+2) = 13 parameters. */
    put_le32(f + 28, 1);
    put_le32(f + len - 4, ref_crc32(f, len - 4));
    spit(path, f, len);
    snprintf(expect, sizeof expect, "%s: holds 31 parameters but its shape needs 13", path);
    expect_error(vae_model_load(path, &m), VAE_ERR_FORMAT, expect);
    ck_assert_ptr_null(m);

    /* Eight hidden layers of 65536 on 2 inputs: 8 * 65536^2 + ... parameters,
     * about 550 GB of model for a 488-byte file. */
    put_le32(f + 24, 8);
    for (int l = 0; l < 8; l++) put_le32(f + 28 + 4 * l, 65536);
    put_le32(f + len - 4, ref_crc32(f, len - 4));
    spit(path, f, len);
    unsigned long long need = (2ull * 65536 + 65536) + 7 * (65536ull * 65536 + 65536) +
                              (65536ull * 2 + 2) + (1ull * 65536 + 65536) +
                              7 * (65536ull * 65536 + 65536) + (65536ull * 2 + 2);
    snprintf(expect, sizeof expect, "%s: holds 31 parameters but its shape needs %llu", path, need);
    expect_error(vae_model_load(path, &m), VAE_ERR_FORMAT, expect);
    ck_assert_ptr_null(m);
    free(f);

    /* The input the fuzzer saved (its CRC fixed as the harness does). */
    snprintf(path, sizeof path, "%s/model/crash-use-after-free", VAE_TEST_FUZZ_DIR);
    f = slurp(path, &len);
    put_le32(f + len - 4, ref_crc32(f, len - 4));
    snprintf(path, sizeof path, "%s/crash", dir);
    spit(path, f, len);
    ck_assert_int_eq(vae_model_load(path, &m), VAE_ERR_FORMAT);
    ck_assert_error_contains("parameters but its shape needs");
    free(f);
    remove_temp_dir(dir);
}
END_TEST

/* Bytes become b / 255 through a table: every byte must give the bits of a
 * division done at run time, and a gathered batch must hold the indexed
 * images in order (byte images and float images; a batch big enough to
 * be shared between threads). */
START_TEST(test_images_gather_float)
{
    volatile float divisor = 255.0f; /* keeps the reference a run-time division */
    const int rows = 16, cols = 16, n = 300;
    vae_images im = {.count = n, .rows = rows, .cols = cols, .channels = 1};
    im.pixels = malloc((size_t)n * rows * cols);
    for (int i = 0; i < n * rows * cols; i++) im.pixels[i] = (uint8_t)((i * 7 + i / 256) & 255);
    uint32_t index[200];
    for (int r = 0; r < 200; r++) index[r] = (uint32_t)((r * 37 + 11) % n);
    float *out = malloc(sizeof(float) * 200 * rows * cols);
    for (int threads = 1; threads <= 2; threads++) {
        ck_assert_int_eq(vae_set_threads(threads), VAE_OK);
        vae_images_gather_float(&im, index, 200, out);
        for (int r = 0; r < 200; r++)
            for (int v = 0; v < rows * cols; v++) {
                float want = (float)im.pixels[(size_t)index[r] * rows * cols + v] / divisor;
                ck_assert_msg(memcmp(&out[(size_t)r * rows * cols + v], &want, sizeof want) == 0,
                              "row %d value %d: %.9g, want %.9g", r, v, out[(size_t)r * rows * cols + v], want);
            }
    }
    for (int b = 0; b < 256; b++) {
        uint8_t byte = (uint8_t)b;
        vae_images one = {.count = 1, .rows = 1, .cols = 1, .channels = 1, .pixels = &byte};
        float got, want = (float)b / divisor;
        vae_images_copy_float(&one, 0, 1, &got);
        ck_assert_msg(memcmp(&got, &want, sizeof got) == 0, "byte %d: %.9g, want %.9g", b, got, want);
    }
    /* Float images are copied as they are. */
    float values[6] = {0.0f, 0.25f, 1.0f, 0.5f, 0.125f, 0.75f};
    vae_images fv = {.count = 3, .rows = 1, .cols = 2, .channels = 1, .values = values};
    uint32_t order[3] = {2, 0, 1};
    float got[6];
    vae_images_gather_float(&fv, order, 3, got);
    ck_assert(got[0] == 0.125f && got[1] == 0.75f && got[2] == 0.0f && got[4] == 1.0f && got[5] == 0.5f);
    free(im.pixels);
    free(out);
    vae_set_threads(0);
}
END_TEST

Suite *vae_io_suite(void)
{
    Suite *s = suite_create("io");
    TCase *tc = tcase_create("checksums");
    tcase_add_test(tc, test_crc32_check_value);
    tcase_add_test(tc, test_crc32_matches_bitwise_reference);
    tcase_add_test(tc, test_adler32);
    suite_add_tcase(s, tc);

    tc = tcase_create("gzip");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_gunzip_gzip1_dynamic);
    tcase_add_test(tc, test_gunzip_gzip9_with_name);
    tcase_add_test(tc, test_gunzip_fixed_huffman);
    tcase_add_test(tc, test_gunzip_stored_fixture);
    tcase_add_test(tc, test_gunzip_stored_by_hand);
    tcase_add_test(tc, test_gunzip_grows_to_large_pages);
    tcase_add_test(tc, test_large_page_span);
    tcase_add_test(tc, test_gunzip_concatenated_members);
    tcase_add_test(tc, test_gunzip_all_header_fields);
    tcase_add_test(tc, test_gunzip_bad_trailer);
    tcase_add_test(tc, test_gunzip_truncated);
    tcase_add_test(tc, test_gunzip_limit);
    tcase_add_test(tc, test_gunzip_untrusted_isize);
    tcase_add_test(tc, test_gunzip_not_gzip);
    suite_add_tcase(s, tc);

    tc = tcase_create("inflate");
    tcase_add_test(tc, test_inflate_raw_stream);
    tcase_add_test(tc, test_inflate_hand_made_fixed);
    tcase_add_test(tc, test_inflate_bad_dynamic_header);
    suite_add_tcase(s, tc);

    tc = tcase_create("files");
    tcase_add_test(tc, test_read_file_errors);
    tcase_add_test(tc, test_read_file_maybe_gz);
    suite_add_tcase(s, tc);

    tc = tcase_create("idx");
    tcase_add_test(tc, test_idx_images_plain);
    tcase_add_test(tc, test_idx_gz_fixture);
    tcase_add_test(tc, test_idx_labels_plain);
    tcase_add_test(tc, test_idx_malformed);
    tcase_add_test(tc, test_idx_missing_and_corrupt_gz);
    suite_add_tcase(s, tc);

    tc = tcase_create("datasets");
    tcase_add_test(tc, test_images_gather_float);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_dataset_t10k_only_split);
    tcase_add_test(tc, test_dataset_shipped_fashion_mnist);
    tcase_add_test(tc, test_dataset_full_dir);
    tcase_add_test(tc, test_dataset_missing);
    suite_add_tcase(s, tc);

    tc = tcase_create("idx types");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_idx_all_types);
    tcase_add_test(tc, test_idx_not_finite);
    tcase_add_test(tc, test_idx_images_every_type);
    tcase_add_test(tc, test_idx_images_shapes);
    tcase_add_test(tc, test_idx_labels_every_type);
    tcase_add_test(tc, test_dataset_label_count_mismatch);
    tcase_add_test(tc, test_idx_gzip_limits);
    tcase_add_test(tc, test_inflate_fills_fixed_buffer);
    tcase_add_test(tc, test_reader_file_errors);
    suite_add_tcase(s, tc);

    tc = tcase_create("netpbm input");
    tcase_add_test(tc, test_pnm_read_binary_round_trip);
    tcase_add_test(tc, test_pnm_read_plain_and_comments);
    tcase_add_test(tc, test_pnm_read_16bit);
    tcase_add_test(tc, test_pnm_read_several_images);
    tcase_add_test(tc, test_pnm_read_errors);
    suite_add_tcase(s, tc);

    tc = tcase_create("image folders");
    tcase_add_test(tc, test_image_dir_split);
    tcase_add_test(tc, test_image_dir_mixed_and_small);
    suite_add_tcase(s, tc);

    tc = tcase_create("fuzzer findings");
    tcase_add_test(tc, test_model_header_shape_mismatch);
    suite_add_tcase(s, tc);

    tc = tcase_create("pictures");
    tcase_add_test(tc, test_pnm_round_trip);
    tcase_add_test(tc, test_write_image_by_extension);
    tcase_add_test(tc, test_png_small);
    tcase_add_test(tc, test_png_multiblock);
    suite_add_tcase(s, tc);
    return s;
}
