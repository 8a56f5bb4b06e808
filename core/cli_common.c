/* cli_common.c - what every `vae` command shares: the error helpers (exit
 * status 1 runtime, 2 usage, one line naming the option or file), GNU-style
 * long-option parsing, and writing a grid of images as a picture. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const char *command_name = "vae";

int fail_usage(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", command_name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see '%s --help')\n", command_name);
    return EXIT_USAGE;
}

int fail_runtime(void)
{
    fprintf(stderr, "%s: %s\n", command_name, vae_last_error());
    return EXIT_RUNTIME;
}

/* ------------------------------------------------------------- options */

int parse_int(const char *name, const char *text, int min, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < min || v > 1000000000L)
        return fail_usage("--%s: '%s' is not an integer >= %d", name, text, min);
    *out = (int)v;
    return 0;
}

static int parse_value(const option *o, const char *text)
{
    char *end;
    switch (o->kind) {
    case OPT_INT:
        return parse_int(o->name, text, o->min, o->value);
    case OPT_U64: {
        errno = 0;
        unsigned long long v = strtoull(text, &end, 10);
        if (errno || end == text || *end || text[0] == '-')
            return fail_usage("--%s: '%s' is not a non-negative integer", o->name, text);
        *(uint64_t *)o->value = v;
        return 0;
    }
    case OPT_FLOAT: {
        errno = 0;
        float v = strtof(text, &end);
        if (errno || end == text || *end || !isfinite(v))
            return fail_usage("--%s: '%s' is not a number", o->name, text);
        *(float *)o->value = v;
        return 0;
    }
    case OPT_STRING:
        *(const char **)o->value = text;
        return 0;
    case OPT_FLAG:
        break;
    }
    return 0;
}

/* GNU-style long options: --name value or --name=value. Sets *help when
 * --help or -h is given, and bit i of *seen (when not NULL) for each option
 * opts[i] given. Returns 0, or the exit status of a usage error. */
int parse_options(int argc, char **argv, option *opts, int *help, uint64_t *seen)
{
    *help = 0;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            *help = 1;
            return 0;
        }
        if (strncmp(arg, "--", 2) != 0) return fail_usage("unexpected argument '%s'", arg);
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
        option *o = NULL;
        for (option *p = opts; p->name; p++)
            if (strlen(p->name) == name_len && strncmp(p->name, name, name_len) == 0) o = p;
        if (!o) return fail_usage("unknown option '%.*s'", (int)(name_len + 2), arg);
        if (seen) *seen |= 1ull << (o - opts);
        if (o->kind == OPT_FLAG) {
            if (eq) return fail_usage("option '--%s' takes no value", o->name);
            *(int *)o->value = 1;
            continue;
        }
        const char *value = eq ? eq + 1 : NULL;
        if (!value) {
            if (i + 1 >= argc) return fail_usage("option '--%s' needs a value", o->name);
            value = argv[++i];
        }
        int rc = parse_value(o, value);
        if (rc) return rc;
    }
    return 0;
}

/* "400" or "512,256" -> widths; returns 0 or a usage exit status. */
int parse_hidden(const char *text, vae_config *cfg)
{
    cfg->n_hidden = 0;
    if (strcmp(text, "none") == 0 || text[0] == 0) return 0;
    const char *p = text;
    for (;;) {
        if (cfg->n_hidden == VAE_MAX_HIDDEN)
            return fail_usage("--hidden: '%s' has more than %d layers", text, VAE_MAX_HIDDEN);
        char *end;
        errno = 0;
        long w = strtol(p, &end, 10);
        if (errno || end == p || w < 1 || w > 65536 || (*end && *end != ','))
            return fail_usage("--hidden: '%s' is not a comma-separated list of widths 1..65536", text);
        cfg->hidden[cfg->n_hidden++] = (int)w;
        if (!*end) return 0;
        p = end + 1;
    }
}

/* --------------------------------------------------------------- images */

/* Lays n images (rows x cols x ch floats in [0,1]) out in a grid of
 * grid_cols columns with a 2-pixel black border, as 8-bit pixels. */
static uint8_t *make_grid(const float *images, int n, int rows, int cols, int ch, int grid_cols,
                          int *width, int *height)
{
    const int pad = 2;
    int grid_rows = (n + grid_cols - 1) / grid_cols;
    *width = grid_cols * (cols + pad) + pad;
    *height = grid_rows * (rows + pad) + pad;
    uint8_t *pix = calloc((size_t)*width * (size_t)*height * (size_t)ch, 1);
    if (!pix) return NULL;
    size_t D = (size_t)rows * cols * ch;
    for (int k = 0; k < n; k++) {
        int gx = pad + (k % grid_cols) * (cols + pad), gy = pad + (k / grid_cols) * (rows + pad);
        for (int y = 0; y < rows; y++)
            for (int x = 0; x < cols * ch; x++) {
                float v = images[(size_t)k * D + (size_t)y * cols * ch + x];
                v = v > 0.0f ? (v < 1.0f ? v : 1.0f) : 0.0f; /* NaN becomes 0 */
                pix[((size_t)(gy + y) * *width + gx) * ch + x] = (uint8_t)(v * 255.0f + 0.5f);
            }
    }
    return pix;
}

int write_grid(const float *images, int n, const vae_config *cfg, int grid_cols, const char *path)
{
    int w, h;
    uint8_t *pix = make_grid(images, n, cfg->image_rows, cfg->image_cols, cfg->image_channels, grid_cols, &w, &h);
    if (!pix) {
        fprintf(stderr, "%s: out of memory for a %d-image grid\n", command_name, n);
        return EXIT_RUNTIME;
    }
    int rc = vae_write_image(path, pix, w, h, cfg->image_channels);
    free(pix);
    if (rc != VAE_OK) return fail_runtime();
    return 0;
}

