/* Error reporting: every library function returns 0 or a negative VAE_ERR_*
 * code, and leaves a one-line message naming what went wrong (file, option,
 * offset) in a thread-local buffer that vae_last_error() returns.
 * The library never prints or exits; the command line does. */
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"

static _Thread_local char error_message[512];

const char *vae_last_error(void) { return error_message[0] ? error_message : "no error"; }

int vae_fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_message, sizeof error_message, fmt, ap);
    va_end(ap);
    return code;
}

void vae_clear_error(void) { error_message[0] = 0; }
