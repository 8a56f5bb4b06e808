/* dispatch.c - picks the kernel table once, at the first call.
 *
 * Order of choice: VAE_ISA from the environment when it names a table this
 * build has and this CPU can run, else the best table available. The command
 * line calls vae_isa_select(getenv("VAE_ISA")) itself first, so that a bad
 * VAE_ISA is reported as an error rather than silently ignored. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kernels.h"

/* Every table this build holds, best first, with a test of whether the CPU
 * can run it. */
typedef struct isa_entry {
    const vae_kernels *kernels;
    int (*cpu_has)(void);
} isa_entry;

static int always(void) { return 1; }

static const isa_entry isa_table[] = {
    {&vae_kernels_scalar, always},
};
#define ISA_COUNT (sizeof isa_table / sizeof isa_table[0])

static _Atomic(const vae_kernels *) active_kernels;

static const vae_kernels *best_available(void)
{
    for (size_t i = 0; i < ISA_COUNT; i++)
        if (isa_table[i].cpu_has()) return isa_table[i].kernels;
    return &vae_kernels_scalar;
}

/* Looks name up: 0 and *out set, or an error code with the reason. */
static int find_isa(const char *name, const vae_kernels **out)
{
    if (name == NULL || name[0] == 0 || strcmp(name, "auto") == 0) {
        *out = best_available();
        return VAE_OK;
    }
    for (size_t i = 0; i < ISA_COUNT; i++) {
        if (strcmp(isa_table[i].kernels->name, name) != 0) continue;
        if (!isa_table[i].cpu_has())
            return vae_fail(VAE_ERR_UNSUPPORTED, "ISA '%s' is not supported by this CPU", name);
        *out = isa_table[i].kernels;
        return VAE_OK;
    }
    char known[128] = "";
    for (size_t i = 0; i < ISA_COUNT; i++) {
        if (i) strncat(known, ", ", sizeof known - strlen(known) - 1);
        strncat(known, isa_table[i].kernels->name, sizeof known - strlen(known) - 1);
    }
    return vae_fail(VAE_ERR_ARG, "unknown ISA '%s' (this build has: %s)", name, known);
}

const vae_kernels *vae_kernels_active(void)
{
    const vae_kernels *k = atomic_load_explicit(&active_kernels, memory_order_acquire);
    if (k) return k;
    if (find_isa(getenv("VAE_ISA"), &k) != VAE_OK) k = best_available();
    const vae_kernels *expected = NULL;
    if (!atomic_compare_exchange_strong(&active_kernels, &expected, k)) k = expected;
    return k;
}

int vae_isa_select(const char *name)
{
    const vae_kernels *k;
    int rc = find_isa(name, &k);
    if (rc != VAE_OK) return rc;
    atomic_store_explicit(&active_kernels, k, memory_order_release);
    return VAE_OK;
}

int vae_kernels_available(const vae_kernels **list, int max)
{
    int n = 0;
    for (size_t i = 0; i < ISA_COUNT; i++)
        if (isa_table[i].cpu_has()) {
            if (n < max) list[n] = isa_table[i].kernels;
            n++;
        }
    return n;
}

const char *vae_isa_name(void) { return vae_kernels_active()->name; }
