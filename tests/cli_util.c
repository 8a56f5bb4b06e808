/* cli_util.c - see cli_util.h. */
#include "cli_util.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

int cli_exit_status(int status)
{
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int cli_vrun(const char *dir, char *output, size_t size, const char *fmt, va_list ap)
{
    char cmd[2048], path[300], full[2600];
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    snprintf(path, sizeof path, "%s/out.txt", dir);
    snprintf(full, sizeof full, "%s >%s 2>&1", cmd, path);
    int status = system(full);
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(output, 1, size - 1, f) : 0;
    output[n] = 0;
    if (f) fclose(f);
    return cli_exit_status(status);
}

void cli_put_be32(FILE *f, unsigned v)
{
    unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8),
                          (unsigned char)v};
    fwrite(b, 1, 4, f);
}

void cli_remove_dir(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

void cli_idx_images_header(FILE *f, unsigned n, unsigned rows, unsigned cols)
{
    cli_put_be32(f, 0x00000803);
    cli_put_be32(f, n);
    cli_put_be32(f, rows);
    cli_put_be32(f, cols);
}

int cli_png_header(const char *path, unsigned *width, unsigned *height, int *colour_type)
{
    unsigned char b[26];
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t got = fread(b, 1, sizeof b, f);
    fclose(f);
    if (got != sizeof b || memcmp(b, "\x89PNG\r\n\x1a\n", 8) != 0 || memcmp(b + 12, "IHDR", 4) != 0) return 0;
    *width = (unsigned)b[16] << 24 | (unsigned)b[17] << 16 | (unsigned)b[18] << 8 | b[19];
    *height = (unsigned)b[20] << 24 | (unsigned)b[21] << 16 | (unsigned)b[22] << 8 | b[23];
    *colour_type = b[25];
    return 1;
}
