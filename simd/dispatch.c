/* dispatch.c - picks the kernel table once, at the first call.
 *
 * x86-64: AVX2+FMA and AVX-512F are used only when CPUID reports them AND
 * XGETBV shows that the OS saves the YMM (and opmask/ZMM) state on context
 * switches; a CPU or hypervisor without that would fault on the first
 * instruction. aarch64: NEON is the baseline. VAE_ISA=name forces a table;
 * the command line calls vae_isa_select(getenv("VAE_ISA")) itself first, so a
 * bad VAE_ISA is reported as an error rather than silently ignored.
 *
 * An ISA table may leave element-wise kernels NULL; the table in use is a
 * copy with those filled from the scalar table. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kernels.h"

/* ------------------------------------------------------- CPU features */

static int always(void) { return 1; }

#if defined(__x86_64__)
#include <cpuid.h>

static uint64_t xgetbv0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (uint64_t)hi << 32 | lo;
}

/* 1: the CPU has AVX2 and FMA and the OS saves XMM and YMM state. */
static int cpu_has_avx2(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    int fma = c >> 12 & 1, osxsave = c >> 27 & 1, avx = c >> 28 & 1;
    if (!fma || !osxsave || !avx) return 0;
    if ((xgetbv0() & 0x6) != 0x6) return 0; /* XMM | YMM */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return b >> 5 & 1; /* AVX2 */
}

/* 1: also AVX-512F, and the OS saves opmask, ZMM0-15 upper and ZMM16-31. */
static int cpu_has_avx512(void)
{
    unsigned a, b, c, d;
    if (!cpu_has_avx2()) return 0;
    if ((xgetbv0() & 0xE6) != 0xE6) return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return b >> 16 & 1; /* AVX512F */
}
#endif

/* ------------------------------------------------------------- tables */

typedef struct isa_entry {
    const vae_kernels *kernels;
    int (*cpu_has)(void);
} isa_entry;

/* Every table this build holds, best first. */
static const isa_entry isa_table[] = {
#if defined(__x86_64__)
    {&vae_kernels_avx512, cpu_has_avx512},
    {&vae_kernels_avx2, cpu_has_avx2},
#endif
#if defined(__aarch64__)
    {&vae_kernels_neon, always},
#endif
    {&vae_kernels_scalar, always},
};
#define ISA_COUNT (sizeof isa_table / sizeof isa_table[0])

/* The tables as used: NULL kernels filled from scalar. */
static vae_kernels complete[ISA_COUNT];
static pthread_once_t complete_once = PTHREAD_ONCE_INIT;

#define FILL(field) if (!t->field) t->field = vae_kernels_scalar.field
static void complete_tables(void)
{
    for (size_t i = 0; i < ISA_COUNT; i++) {
        vae_kernels *t = &complete[i];
        *t = *isa_table[i].kernels;
        FILL(pack_copied);
        FILL(pack_transposed);
        FILL(store_tile_transposed);
        FILL(bias_act_forward);
        FILL(act_backward);
        FILL(bias_grad);
        FILL(reparam_kl_forward);
        FILL(reparam_kl_backward);
        FILL(bernoulli_loss);
        FILL(gaussian_loss);
        FILL(adam_update);
        FILL(bytes_to_unit);
    }
}
#undef FILL

static const vae_kernels *table(size_t i)
{
    pthread_once(&complete_once, complete_tables);
    return &complete[i];
}

static _Atomic(const vae_kernels *) active_kernels;

static const vae_kernels *best_available(void)
{
    for (size_t i = 0; i < ISA_COUNT; i++)
        if (isa_table[i].cpu_has()) return table(i);
    return table(ISA_COUNT - 1);
}

/* Looks name up: 0 and *out set, or an error code with the reason. */
static int find_isa(const char *name, const vae_kernels **out)
{
    if (name == NULL || name[0] == 0 || strcmp(name, "auto") == 0) {
        *out = best_available();
        return VAE_OK;
    }
    static const char *const known_names[] = {"scalar", "avx2", "avx512", "neon"};
    for (size_t i = 0; i < ISA_COUNT; i++) {
        if (strcmp(isa_table[i].kernels->name, name) != 0) continue;
        if (!isa_table[i].cpu_has())
            return vae_fail(VAE_ERR_UNSUPPORTED, "ISA '%s' is not supported by this CPU", name);
        *out = table(i);
        return VAE_OK;
    }
    for (size_t i = 0; i < sizeof known_names / sizeof known_names[0]; i++)
        if (strcmp(known_names[i], name) == 0)
            return vae_fail(VAE_ERR_UNSUPPORTED, "ISA '%s' is not built for this architecture", name);
    char list[128] = "";
    for (size_t i = 0; i < ISA_COUNT; i++) {
        if (i) strncat(list, ", ", sizeof list - strlen(list) - 1);
        strncat(list, isa_table[i].kernels->name, sizeof list - strlen(list) - 1);
    }
    return vae_fail(VAE_ERR_ARG, "unknown ISA '%s' (this build has: %s)", name, list);
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
            if (n < max) list[n] = table(i);
            n++;
        }
    return n;
}

const char *vae_isa_name(void) { return vae_kernels_active()->name; }
