/* main.c - the `vae` command line: global options (--threads, VAE_ISA,
 * --version) and the table of subcommands, each in a core/cli_*.c file.
 *
 * Exit status: 0 success, 1 a runtime error (a file, memory), 2 a usage error
 * (a bad option or value). Every error is one line on stderr that names the
 * option or file and what is wrong. The library never prints; these files do. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* ----------------------------------------------------------------- main */

static const char main_help[] =
    "usage: vae COMMAND [options]\n"
    "\n"
    "A dependency-free Variational Autoencoder engine.\n"
    "\n"
    "commands:\n"
    "  train    train a model on MNIST-format data or a folder of images\n"
    "  sample   decode draws from the prior into a picture\n"
    "  recon    write test images beside their reconstructions\n"
    "  interp   decodings along the line between two test images' latent means\n"
    "  manifold a 2-D latent's decodings over a grid of the prior's quantiles\n"
    "  eval     test-set ELBO and the IWAE estimate of -log p(x)\n"
    "  encode   write each image's mu and logvar (CSV or float32)\n"
    "  info     what a model file holds: shape, likelihood, epochs, ...\n"
    "\n"
    "  vae COMMAND --help   options of a command\n"
    "  vae --version        version and the kernels in use\n"
    "\n"
    "every command takes --threads N (default: VAE_THREADS, else one per online CPU);\n"
    "the results are the same bits for any thread count.\n"
    "environment: VAE_ISA=scalar|avx2|avx512|neon forces a kernel set.\n";

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(main_help, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(main_help, stdout);
        return 0;
    }
    /* --threads N (or VAE_THREADS) applies to every command: take it out of
     * argv here, so each command's parser never sees it. */
    int threads = 0;
    const char *env_threads = getenv("VAE_THREADS");
    if (env_threads && parse_int("VAE_THREADS", env_threads, 1, &threads)) return EXIT_USAGE;
    int kept = 2;
    for (int i = 2; i < argc; i++) {
        const char *value = NULL;
        if (strcmp(argv[i], "--threads") == 0) {
            if (i + 1 >= argc) return fail_usage("option '--threads' needs a value");
            value = argv[++i];
        } else if (strncmp(argv[i], "--threads=", 10) == 0) {
            value = argv[i] + 10;
        } else {
            argv[kept++] = argv[i];
            continue;
        }
        if (parse_int("threads", value, 1, &threads)) return EXIT_USAGE;
    }
    argc = kept;
    if (vae_set_threads(threads) != VAE_OK) {
        fprintf(stderr, "vae: %s\n", vae_last_error());
        return EXIT_RUNTIME;
    }
    const char *isa = getenv("VAE_ISA");
    if (isa && vae_isa_select(isa) != VAE_OK) {
        fprintf(stderr, "vae: VAE_ISA: %s\n", vae_last_error());
        return EXIT_USAGE;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("vae %s (kernels: %s, threads: %d)\n", VAE_VERSION, vae_isa_name(), vae_get_threads());
        return 0;
    }
    static const struct {
        const char *name;
        int (*run)(int, char **);
    } commands[] = {{"train", cmd_train}, {"sample", cmd_sample}, {"recon", cmd_recon},
                    {"interp", cmd_interp}, {"manifold", cmd_manifold},
                    {"eval", cmd_eval},   {"encode", cmd_encode}, {"info", cmd_info}};
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(cmd, commands[i].name) == 0) {
            static char name[32];
            snprintf(name, sizeof name, "vae %s", cmd);
            command_name = name;
            return commands[i].run(argc - 2, argv + 2);
        }
    fprintf(stderr, "vae: unknown command '%s' (see 'vae --help')\n", cmd);
    return EXIT_USAGE;
}
