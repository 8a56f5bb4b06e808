/* cli_util.h - what the suites that run the vae program share
 * (check_cli.c, check_cli_train.c, check_cli_pictures.c, check_eval.c). */
#ifndef VAE_TESTS_CLI_UTIL_H
#define VAE_TESTS_CLI_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* The program under test, as the shell sees it: $VAE_TEST_PROG (./vae
 * unless the environment names another build, as `make check-asan` does),
 * behind $VAE_TEST_RUNNER when that is set (an emulator, say). */
#define VAE "$VAE_TEST_RUNNER \"$VAE_TEST_PROG\""

/* Runs the shell command fmt/ap with stdout and stderr together captured in
 * dir/out.txt and copied into output (size bytes, NUL-terminated); returns
 * the exit status, or 128 + the signal that ended it. */
int cli_vrun(const char *dir, char *output, size_t size, const char *fmt, va_list ap);

/* The exit status of a wait()/system() status, 128 + signal when killed. */
int cli_exit_status(int status);

/* rm -rf dir (a test's scratch folder); says so on stderr if it fails. */
void cli_remove_dir(const char *dir);

/* Writes v as 4 big-endian bytes (the IDX header's integers). */
void cli_put_be32(FILE *f, unsigned v);
/* The header of an unsigned-byte IDX file of n images of rows x cols. */
void cli_idx_images_header(FILE *f, unsigned n, unsigned rows, unsigned cols);

/* The IHDR of the PNG at path: width, height and colour type (0 grey, 2
 * RGB); 0 when the file is not a PNG. */
int cli_png_header(const char *path, unsigned *width, unsigned *height, int *colour_type);

#endif
