/* file.c - whole-file reads (plain or gzip) and whole-file writes.
 * Errors name the path, so that a user reading "data/x.gz: gzip: CRC-32
 * mismatch ..." knows which file to replace. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "io_internal.h"

/* See io_internal.h. vae_last_error() is copied first because vae_fail
 * formats into the same buffer. */
int vae_io_fail_with_path(int code, const char *path)
{
    char reason[512];
    snprintf(reason, sizeof reason, "%s", vae_last_error());
    return vae_fail(code, "%s: %s", path, reason);
}

/* Reads from fd until end of file into a buffer that starts at `guess` bytes
 * (the size fstat reported, if any) and doubles, refusing more than max_len
 * bytes. Reading to EOF rather than trusting st_size also handles pipes,
 * /dev/stdin and files that change size while being read. */
static int read_all(int fd, const char *path, size_t guess, size_t max_len, size_t shown_limit,
                    uint8_t **data, size_t *len)
{
    /* One byte beyond the limit is enough to know the file is too large. */
    size_t hard = max_len < SIZE_MAX ? max_len + 1 : max_len;
    size_t cap = guess < hard ? guess + 1 : hard; /* +1 to see EOF without a regrow */
    if (cap < 4096) cap = hard < 4096 ? hard : 4096;
    if (cap == 0) cap = 1;
    uint8_t *buf = malloc(cap);
    if (!buf) return vae_fail(VAE_ERR_NOMEM, "%s: out of memory for %zu bytes", path, cap);
    vae_io_advise_large_pages(buf, cap);
    size_t n = 0;
    for (;;) {
        if (n == cap) {
            if (cap >= hard) break; /* holds max_len + 1 bytes: too large */
            size_t new_cap = cap > hard / 2 ? hard : cap * 2;
            uint8_t *p = realloc(buf, new_cap);
            if (!p) {
                free(buf);
                return vae_fail(VAE_ERR_NOMEM, "%s: out of memory for %zu bytes", path, new_cap);
            }
            vae_io_advise_large_pages(p + n, new_cap - n); /* the part not yet written */
            buf = p;
            cap = new_cap;
        }
        ssize_t got = read(fd, buf + n, cap - n);
        if (got < 0) {
            if (errno == EINTR) continue;
            int err = errno;
            free(buf);
            return vae_fail(VAE_ERR_IO, "%s: cannot read: %s", path, strerror(err));
        }
        if (got == 0) break;
        n += (size_t)got;
    }
    if (n > max_len) {
        free(buf);
        return vae_fail(VAE_ERR_IO, "%s: larger than the limit of %zu bytes", path, shown_limit);
    }
    *data = buf;
    *len = n;
    return 0;
}

/* Reads the file at path, refusing more than max_len bytes; errors about the
 * size quote shown_limit (the caller's limit, when it allowed head-room). */
static int read_file(const char *path, uint8_t **data, size_t *len, size_t max_len,
                     size_t shown_limit)
{
    int fd;
    do fd = open(path, O_RDONLY);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) return vae_fail(VAE_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        return vae_fail(VAE_ERR_IO, "%s: cannot stat: %s", path, strerror(err));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return vae_fail(VAE_ERR_IO, "%s: is a directory", path);
    }
    size_t guess = 0;
    if (S_ISREG(st.st_mode) && st.st_size > 0) {
        if ((unsigned long long)st.st_size > max_len) {
            close(fd);
            return vae_fail(VAE_ERR_IO, "%s: larger than the limit of %zu bytes", path,
                            shown_limit);
        }
        guess = (size_t)st.st_size;
    }
    int rc = read_all(fd, path, guess, max_len, shown_limit, data, len);
    close(fd);
    return rc;
}

/* See vae.h. The buffer is always allocated (at least one byte), so an empty
 * file gives a non-NULL *data with *len == 0. */
int vae_read_file(const char *path, uint8_t **data, size_t *len, size_t max_len)
{
    if (!path || !data || !len) return vae_fail(VAE_ERR_ARG, "vae_read_file: NULL argument");
    *data = NULL;
    *len = 0;
    return read_file(path, data, len, max_len, max_len);
}

/* See vae.h. The compressed file may be a little larger than its content
 * (incompressible data grows by about 0.02% plus a header), so it is read
 * with some head-room over max_len; the plain-file case then checks max_len
 * itself, and vae_gunzip caps the decompressed size. */
int vae_read_file_maybe_gz(const char *path, uint8_t **data, size_t *len, size_t max_len)
{
    if (!path || !data || !len)
        return vae_fail(VAE_ERR_ARG, "vae_read_file_maybe_gz: NULL argument");
    *data = NULL;
    *len = 0;
    size_t raw_max;
    if (!vae_add_size(max_len, max_len / 256 + 4096, &raw_max)) raw_max = SIZE_MAX;
    uint8_t *raw;
    size_t raw_len;
    int rc = read_file(path, &raw, &raw_len, raw_max, max_len);
    if (rc) return rc;
    if (raw_len >= 2 && raw[0] == 0x1F && raw[1] == 0x8B) {
        rc = vae_gunzip(raw, raw_len, data, len, max_len);
        free(raw);
        return rc ? vae_io_fail_with_path(rc, path) : 0;
    }
    if (raw_len > max_len) {
        free(raw);
        return vae_fail(VAE_ERR_IO, "%s: larger than the limit of %zu bytes", path, max_len);
    }
    *data = raw;
    *len = raw_len;
    return 0;
}

/* See io_internal.h. */
int vae_io_write_file(const char *path, const void *head, size_t head_len, const void *body,
                      size_t body_len)
{
    FILE *f = fopen(path, "wb");
    if (!f) return vae_fail(VAE_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    int err = 0;
    errno = 0;
    if (head_len && fwrite(head, 1, head_len, f) != head_len) err = errno ? errno : EIO;
    if (!err && body_len && fwrite(body, 1, body_len, f) != body_len) err = errno ? errno : EIO;
    errno = 0;
    if (fclose(f) != 0 && !err) err = errno ? errno : EIO; /* a full disk often shows here */
    if (err) {
        remove(path);
        return vae_fail(VAE_ERR_IO, "%s: cannot write: %s", path, strerror(err));
    }
    return 0;
}
