/* pool.h - the engine's thread pool (core/pool.c). Not installed; the public
 * controls are vae_set_threads / vae_get_threads in vae.h. */
#ifndef VAE_POOL_H
#define VAE_POOL_H

#include "internal.h"

/* Part `part` of `parts` shares of n items: [begin, end), contiguous, sizes
 * differing by at most one, the same for the same (n, parts). The split of
 * every parallel_for, and of a GEMM's grid of blocks. */
void vae_share(int n, int parts, int part, int *begin, int *end);

/* Runs fn(ctx, begin, end) over contiguous shares of 0..n_items-1, one per
 * thread, the calling thread taking the first; returns when all are done.
 * Calls from inside a job run inline. */
typedef void (*vae_range_fn)(void *ctx, int begin, int end);
void vae_parallel_for(int n_items, vae_range_fn fn, void *ctx);

/* 1 inside a job (on a worker, or on the calling thread while it runs its
 * share): a nested parallel_for would run inline, so work planned for many
 * threads had better be planned for one. */
int vae_inside_job(void);

/* The same, but each share is handed out chunk items at a time and a thread
 * that has finished its own share takes the chunks left in the others'. For
 * work whose items cost the same wherever they run (no packing repeated per
 * call): the results stay the same, only who computes what changes. */
void vae_parallel_for_chunked(int n_items, int chunk, vae_range_fn fn, void *ctx);

/* The chunk the engine uses for n_items: about a quarter of a thread's
 * share, a whole number of `unit` items (at least one unit). */
int vae_chunk_size(int n_items, int unit);

/* The same on the calling thread alone (with the same floating-point mode),
 * for work too small to share. */
void vae_serial_for(int n_items, vae_range_fn fn, void *ctx);

/* Flushes denormals to zero on this thread; returns the mode to restore. */
unsigned vae_fp_flush_denormals(void);
void vae_fp_restore(unsigned saved);

#endif /* VAE_POOL_H */
