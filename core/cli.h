/* cli.h - shared by the `vae` command line's files (core/main.c and
 * core/cli_*.c); not part of the library. */
#ifndef VAE_CLI_H
#define VAE_CLI_H

#include <stdint.h>

#include "vae.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

/* "vae train" etc., the prefix of every message. */
extern const char *command_name;

/* Prints "<command>: <message> (see '<command> --help')"; returns EXIT_USAGE. */
int fail_usage(const char *fmt, ...);
/* Prints "<command>: <vae_last_error()>"; returns EXIT_RUNTIME. */
int fail_runtime(void);

typedef enum { OPT_INT, OPT_U64, OPT_FLOAT, OPT_STRING, OPT_FLAG } option_kind;

typedef struct option {
    const char *name; /* without the leading "--" */
    option_kind kind;
    void *value;
    int min; /* smallest accepted value for OPT_INT */
} option;

int parse_int(const char *name, const char *text, int min, int *out);
/* GNU-style long options: --name value or --name=value. Sets *help when
 * --help or -h is given, and bit i of *seen (when not NULL) for each option
 * opts[i] given. opts ends with a NULL name. Returns 0, or the exit status
 * of a usage error. */
int parse_options(int argc, char **argv, option *opts, int *help, uint64_t *seen);
/* "400" or "512,256" -> cfg->hidden; returns 0 or a usage exit status. */
int parse_hidden(const char *text, vae_config *cfg);

/* Writes n images (the model's shape, floats in [0,1]) as a grid with
 * grid_cols columns; .png, .ppm or .pgm by the extension of path. Returns 0
 * or an exit status, having printed the error. */
int write_grid(const float *images, int n, const vae_config *cfg, int grid_cols, const char *path);

/* The subcommands: argv holds the options after the command's name. */
int cmd_train(int argc, char **argv);
int cmd_sample(int argc, char **argv);
int cmd_recon(int argc, char **argv);
int cmd_interp(int argc, char **argv);
int cmd_manifold(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_encode(int argc, char **argv);
int cmd_info(int argc, char **argv);

#endif
