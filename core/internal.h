/* internal.h - declarations shared inside libvae, not installed.
 * Every non-static symbol still carries the vae_ prefix, so a static link
 * into another program cannot collide with its names. */
#ifndef VAE_INTERNAL_H
#define VAE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "vae.h"

#if defined(__GNUC__) || defined(__clang__)
#define VAE_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define VAE_PRINTF(f, a)
#endif

/* Sets the thread's error message and returns code, so that failures read
 * `return vae_fail(VAE_ERR_FORMAT, "%s: truncated header", path);` */
int vae_fail(int code, const char *fmt, ...) VAE_PRINTF(2, 3);
void vae_clear_error(void);

/* Frees this thread's GEMM packing buffers (a pool worker does at exit). */
void vae_gemm_free_thread_buffers(void);

/* A GEMM epilogue: called once for each finished block of C, rows [i0, i1)
 * and columns [j0, j1) in the caller's coordinates, on the thread that
 * computed it and while the block is still in that core's cache. The
 * block's element (i0, j0) is at `block`, its rows `ld` floats apart: in C
 * itself (block = c + i0 * ldc + j0, ld = ldc), or, for a transient C, in
 * the thread's own buffer. The blocks of one call cover C exactly once.
 * Used to fuse element-wise work (bias and activation, the activation's
 * derivative, Adam) into the GEMM, so it runs with the GEMM's thread split
 * and no extra pass over memory. */
typedef void (*vae_gemm_epilogue)(void *ctx, int i0, int i1, int j0, int j1, float *block, int ld);
/* vae_sgemm_fused's flags. How it shares C between threads: by default the
 * split that packs least; SPLIT_ROWS gives each thread whole rows of C, for
 * a caller whose epilogue writes data that other GEMMs read by rows (Adam
 * on a weight matrix that the forward pass splits by rows), so each core
 * keeps writing the lines it reads next step instead of taking them from
 * the other. C_TRANSIENT: the caller needs C only in the epilogue (a weight
 * gradient that Adam consumes at once); where the sum fits one k block and
 * beta is 0, each block is computed in a small per-thread buffer and C is
 * left unwritten, which saves writing it to memory and reading it back. */
enum { VAE_GEMM_SPLIT_AUTO = 0, VAE_GEMM_SPLIT_ROWS = 1, VAE_GEMM_C_TRANSIENT = 2 };
/* vae_sgemm, then epilogue(ctx, ...) over C's blocks (epilogue may be NULL). */
void vae_sgemm_fused(vae_transpose trans_a, vae_transpose trans_b, int m, int n, int k, float alpha,
                     const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc,
                     vae_gemm_epilogue epilogue, void *ctx, int flags);

/* For tests: the grid of blocks in which `threads` threads split this
 * GEMM's C, in the orientation the frame computes it (a split into strips
 * is threads x 1 or 1 x threads). */
void vae_gemm_split_plan(vae_transpose trans_a, vae_transpose trans_b, int m, int n, int k, int lda, int ldb,
                         int threads, int *row_groups, int *col_groups);

/* Overflow-checked size arithmetic: 0 on overflow, else 1 and *out set. */
static inline int vae_mul_size(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a) return 0;
    *out = a * b;
    return 1;
}
static inline int vae_add_size(size_t a, size_t b, size_t *out)
{
    if (b > SIZE_MAX - a) return 0;
    *out = a + b;
    return 1;
}

/* Little-endian / big-endian byte access for file formats. */
static inline uint32_t vae_load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void vae_store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static inline uint32_t vae_load_le32(const uint8_t *p)
{
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}
static inline void vae_store_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

#endif /* VAE_INTERNAL_H */
