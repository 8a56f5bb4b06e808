/* cli_util.c - see cli_util.h. */
#include "cli_util.h"

#include <stdlib.h>
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
