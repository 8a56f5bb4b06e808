/* tensor.c - 64-byte aligned float matrices.
 * 64 bytes is a cache line and one AVX-512 register, so every row of a
 * tensor whose ld is a multiple of 16 floats starts on a line. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void *vae_alloc_aligned(size_t n)
{
    size_t rounded;
    if (!vae_add_size(n, 63, &rounded)) return NULL;
    rounded &= ~(size_t)63;
    if (rounded == 0) rounded = 64;
    return aligned_alloc(64, rounded);
}

void vae_free_aligned(void *p) { free(p); }

int vae_tensor_init(vae_tensor *t, int rows, int cols)
{
    size_t bytes;
    memset(t, 0, sizeof *t);
    if (rows < 0 || cols < 0) return vae_fail(VAE_ERR_ARG, "tensor of %d x %d: negative size", rows, cols);
    int ld = (cols + 15) & ~15;
    if (!vae_mul_size((size_t)rows, (size_t)ld, &bytes) || !vae_mul_size(bytes, sizeof(float), &bytes))
        return vae_fail(VAE_ERR_NOMEM, "tensor of %d x %d: size overflows", rows, cols);
    t->data = vae_alloc_aligned(bytes);
    if (!t->data) return vae_fail(VAE_ERR_NOMEM, "tensor of %d x %d: out of memory", rows, cols);
    memset(t->data, 0, bytes);
    t->rows = rows;
    t->cols = cols;
    t->ld = ld;
    return VAE_OK;
}

void vae_tensor_free(vae_tensor *t)
{
    vae_free_aligned(t->data);
    memset(t, 0, sizeof *t);
}
