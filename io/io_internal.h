/* io_internal.h - helpers shared between the files of io/, not installed.
 * Like every non-static symbol of the library they carry the vae_ prefix. */
#ifndef VAE_IO_INTERNAL_H
#define VAE_IO_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* Writes head[0..head_len) then body[0..body_len) to path, replacing the file.
 * Either part may be empty (NULL with length 0). Every fwrite and the fclose
 * are checked; on failure the partial file is removed and the error reads
 * "<path>: cannot write: <strerror>". Returns 0 or VAE_ERR_IO. */
int vae_io_write_file(const char *path, const void *head, size_t head_len, const void *body,
                      size_t body_len);

/* Re-raises the thread's current error message with "<path>: " in front and
 * returns code, for errors from buffer-level functions (vae_gunzip) reported
 * on behalf of a file. */
int vae_io_fail_with_path(int code, const char *path);

/* Checks the arguments of an image writer (path and pixels not NULL, width
 * and height positive, channels 1 or 3, the size representable) and sets
 * *bytes = width * height * channels. Returns 0 or VAE_ERR_ARG. */
int vae_io_check_image(const char *path, const uint8_t *pixels, int width, int height,
                       int channels, size_t *bytes);

#endif /* VAE_IO_INTERNAL_H */
