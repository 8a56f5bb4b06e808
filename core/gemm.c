/* gemm.c - the portable GEMM frame (BLIS's five loops around a microkernel).
 *
 *     C = alpha * op(A) * op(B) + beta * C       (row-major, BLAS semantics)
 *
 * The frame blocks the problem so that a KC x NC panel of op(B) stays in L3/L2
 * and an MC x KC block of op(A) in L2, packs both into the order the
 * microkernel reads (A in MR-row slivers, B in NR-column slivers, zero-padded
 * at the edges), and calls the active ISA's microkernel for each MR x NR tile
 * of C. The register-level work lives in simd/; the loop order is
 *
 *     for jc in steps of NC        (5th loop: columns of C and op(B))
 *       for pc in steps of KC      (4th loop: the shared dimension)  pack B
 *         for ic in steps of MC    (3rd loop: rows of C and op(A))   pack A
 *           for jr in steps of NR  (2nd loop)
 *             for ir in steps of MR  (1st loop)  microkernel
 *
 * Every element of C sums its k products in the same order (pc blocks in
 * turn, p within a block), whatever the blocking of m and n, so a split of C
 * between threads cannot change the result.
 *
 * Two additions to BLIS's frame: where the ISA has a microkernel that reads
 * A in place (AVX-512), a non-transposed A is not packed at all (its pack is
 * a transpose, a large part of a GEMM at the VAE's batch of 128); and
 * vae_sgemm_fused hands each finished block of C to an epilogue (bias and
 * activation, Adam) on the thread that computed it. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kernels.h"
#include "pool.h"

/* A 4 KB page, in floats: operands whose rows are this far apart, or a
 * multiple of it, defeat the cache and the prefetcher in their own ways (see
 * pack_b and block_a_in_place). */
#define PAGE_FLOATS 1024

/* Packing buffers, one pair per thread, and the buffer that holds a block
 * of a transient C (see VAE_GEMM_C_TRANSIENT), grown on first use and then
 * reused: after the first training step GEMM allocates nothing. */
static _Thread_local float *pack_a_buf, *pack_b_buf, *c_block_buf;
static _Thread_local size_t pack_a_cap, pack_b_cap, c_block_cap;

void vae_gemm_free_thread_buffers(void)
{
    vae_free_aligned(pack_a_buf);
    vae_free_aligned(pack_b_buf);
    vae_free_aligned(c_block_buf);
    pack_a_buf = pack_b_buf = c_block_buf = NULL;
    pack_a_cap = pack_b_cap = c_block_cap = 0;
}

static float *pack_buffer(float **buf, size_t *cap, size_t floats)
{
    if (floats > *cap) {
        vae_free_aligned(*buf);
        *buf = vae_alloc_aligned(floats * sizeof(float));
        *cap = *buf ? floats : 0;
    }
    return *buf;
}

/* Packs the mc x kc block of op(A) at (row i0, column p0) into slivers of mr
 * rows: sliver s holds, for p = 0..kc-1, the mr values op(A)[i0+s*mr+i][p0+p]
 * one after another; rows past mc are zero. A not transposed needs a
 * transposing pack; A transposed is a copy of runs of mr values. */
static void pack_a(const vae_kernels *k, vae_transpose trans, const float *a, int lda, int i0, int p0,
                   int mc, int kc, float *dst)
{
    int mr = k->mr;
    for (int s = 0; s < mc; s += mr, dst += (size_t)kc * mr) {
        int rows = mc - s < mr ? mc - s : mr;
        if (trans)
            k->pack_copied(a + (size_t)p0 * lda + i0 + s, lda, rows, kc, mr, dst);
        else
            k->pack_transposed(a + (size_t)(i0 + s) * lda + p0, lda, rows, kc, mr, dst);
    }
}

/* Rows of a non-transposed B at least a page apart are packed PACK_B_ROWS
 * rows at a time across all slivers (pack_b). */
#define PACK_B_ROWS 16

/* Packs the kc x nc block of op(B) at (row p0, column j0) into slivers of nr
 * columns: sliver s holds, for p = 0..kc-1, the nr values op(B)[p0+p][j0+s*nr+j];
 * columns past nc are zero.
 *
 * Sliver by sliver, a non-transposed B is read nr floats from each of kc
 * rows; when its rows are a page or more apart, each of those reads is on
 * another page, which the hardware prefetcher does not cross. Then the
 * slivers are filled PACK_B_ROWS rows at a time instead, reading along the
 * rows (1024^3 on AVX-512: 183-189 -> 188-193 GFLOP/s, in turns in one
 * process; with rows closer together, as in the VAE's weight gradients, it
 * measured 0-1.5 % slower, so they keep the sliver order). */
static void pack_b(const vae_kernels *k, vae_transpose trans, const float *b, int ldb, int p0, int j0,
                   int kc, int nc, float *dst)
{
    int nr = k->nr;
    if (!trans && ldb >= PAGE_FLOATS) {
        for (int q = 0; q < kc; q += PACK_B_ROWS) {
            int rows = kc - q < PACK_B_ROWS ? kc - q : PACK_B_ROWS;
            for (int s = 0; s < nc; s += nr) {
                int cols = nc - s < nr ? nc - s : nr;
                k->pack_copied(b + (size_t)(p0 + q) * ldb + j0 + s, ldb, cols, rows, nr,
                               dst + (size_t)s * kc + (size_t)q * nr);
            }
        }
        return;
    }
    for (int s = 0; s < nc; s += nr, dst += (size_t)kc * nr) {
        int cols = nc - s < nr ? nc - s : nr;
        if (trans)
            k->pack_transposed(b + (size_t)(j0 + s) * ldb + p0, ldb, cols, kc, nr, dst);
        else
            k->pack_copied(b + (size_t)p0 * ldb + j0 + s, ldb, cols, kc, nr, dst);
    }
}

/* C = beta * C over m x n, for alpha == 0 or k == 0 (BLAS: A and B unread). */
static void scale_c(int m, int n, float beta, float *c, int ldc)
{
    for (int i = 0; i < m; i++) {
        float *row = c + (size_t)i * ldc;
        if (beta == 0.0f) memset(row, 0, sizeof(float) * (size_t)n);
        else for (int j = 0; j < n; j++) row[j] *= beta;
    }
}

/* The unpacked triple loop, used only when the packing buffers cannot be
 * allocated: slow, but correct and allocation-free. */
static void gemm_unpacked(vae_transpose ta, vae_transpose tb, int m, int n, int k, float alpha,
                          const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc,
                          int c_transposed)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            float sum = 0.0f;
            for (int p = 0; p < k; p++) {
                float av = ta ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p];
                float bv = tb ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j];
                sum += av * bv;
            }
            float *cij = c_transposed ? c + (size_t)j * ldc + i : c + (size_t)i * ldc + j;
            *cij = beta == 0.0f ? alpha * sum : alpha * sum + beta * *cij;
        }
}

/* An MC x KC block of op(A) read in place: element (i, p) at
 * a[i * rs + p * cs]. */
typedef struct strided_a {
    const float *a;
    int rs, cs;
} strided_a;

/* One MC x NC block of C from packed A and B: the two inner loops. The
 * microkernel handles the edge tiles (m < mr or n < nr) itself. When the
 * problem is the transpose of the caller's (c_transposed: element (i, j)
 * lives at c[j * ldc + i]), each tile is computed locally and stored
 * transposed. */
static void macro_kernel(const vae_kernels *k, int mc, int nc, int kc, float alpha, float beta,
                         const float *a_packed, const float *b_packed, float *c, int ldc, int c_transposed,
                         const strided_a *direct)
{
    _Alignas(64) float tile[VAE_MAX_MR * VAE_MAX_NR];
    int mr = k->mr, nr = k->nr;
    for (int jr = 0; jr < nc; jr += nr) {
        int cols = nc - jr < nr ? nc - jr : nr;
        const float *b_sliver = b_packed + (size_t)jr * kc;
        for (int ir = 0; ir < mc; ir += mr) {
            int rows = mc - ir < mr ? mc - ir : mr;
            const float *a_sliver = a_packed + (size_t)ir * kc;
            if (direct) {
                /* A in place: the tile's rows start ir rows down. */
                const float *a_tile = direct->a + (size_t)ir * direct->rs;
                if (!c_transposed) {
                    k->gemm_microkernel_a_strided(rows, cols, kc, a_tile, direct->rs, direct->cs, b_sliver,
                                                  c + (size_t)ir * ldc + jr, ldc, alpha, beta);
                } else {
                    k->gemm_microkernel_a_strided(rows, cols, kc, a_tile, direct->rs, direct->cs, b_sliver, tile,
                                                  nr, alpha, 0.0f);
                    k->store_tile_transposed(rows, cols, tile, nr, c + (size_t)jr * ldc + ir, ldc, beta);
                }
            } else if (!c_transposed) {
                k->gemm_microkernel(rows, cols, kc, a_sliver, b_sliver, c + (size_t)ir * ldc + jr, ldc, alpha,
                                    beta);
            } else {
                k->gemm_microkernel(mr, cols, kc, a_sliver, b_sliver, tile, nr, alpha, 0.0f);
                k->store_tile_transposed(rows, cols, tile, nr, c + (size_t)jr * ldc + ir, ldc, beta);
            }
        }
    }
}

/* One GEMM as the threads see it: the problem after the choice of
 * orientation, and how it is split between them. */
typedef struct gemm_job {
    const vae_kernels *kern;
    vae_transpose trans_a, trans_b;
    int m, n, k;
    float alpha, beta;
    const float *a, *b;
    int lda, ldb;
    float *c;
    int ldc, c_transposed;
    /* How the threads split it (plan_job): C in row_units strips of mr rows
     * and col_units strips of column_unit() columns; items are row strips
     * (split_rows), column strips, or, when row_groups and col_groups are
     * both over 1, the blocks of that grid of groups of strips. */
    int row_units, col_units, split_rows, row_groups, col_groups;
    int a_in_place; /* every k block reads A in place (a_in_place()) */
    /* C is transient (VAE_GEMM_C_TRANSIENT, taken): each block is computed
     * in a thread's buffer of transient_mc x min(n, nc) floats and handed to
     * the epilogue from there; blocks are transient_mc rows high. */
    int c_transient, transient_mc;
    vae_gemm_epilogue epilogue; /* may be NULL */
    void *epilogue_ctx;
} gemm_job;

/* Hands the finished block of rows [i0, i1) x columns [j0, j1) of the job's
 * problem to the epilogue, in the caller's orientation. The block's first
 * element is at `block`, its rows `ld` apart in the caller's orientation
 * (the job's element (i, j) at block[(i - i0) * ld + j - j0], or at
 * block[(j - j0) * ld + i - i0] when the job is the caller's transpose:
 * the same address arithmetic either way). */
static void finish_block(const gemm_job *g, int i0, int i1, int j0, int j1, float *block, int ld)
{
    if (!g->epilogue) return;
    if (g->c_transposed) g->epilogue(g->epilogue_ctx, j0, j1, i0, i1, block, ld);
    else g->epilogue(g->epilogue_ctx, i0, i1, j0, j1, block, ld);
}

/* 1 when a k block of kc columns of op(A) is read in place rather than
 * packed: the ISA has a kernel for that, A is not transposed (op(A)[i][p]
 * at a[i * lda + p]; the transposed case measured slower), the block is
 * long enough to pay for the strided reads, and A's rows are not a multiple
 * of 4 KB apart (then the rows of a tile fall in the same cache sets:
 * packing measured 1 % faster at 1024^3 and 5 % at 2048^3). */
static int block_a_in_place(const vae_kernels *kern, vae_transpose trans_a, int lda, int kc)
{
    return kern->gemm_microkernel_a_strided && !trans_a && kc >= 64 && lda % PAGE_FLOATS != 0;
}

/* 1 when every k block of a k-long sum reads A in place. */
static int a_in_place(const vae_kernels *kern, vae_transpose trans_a, int lda, int k)
{
    int last = k % kern->kc;
    return block_a_in_place(kern, trans_a, lda, k < kern->kc ? k : kern->kc) &&
           (last == 0 || block_a_in_place(kern, trans_a, lda, last));
}

/* The three outer loops (see the top of this file), over packed buffers, for
 * the share of the job at rows row0.. and columns col0.. of its C; with
 * c_buffer (a transient C), each block is computed there instead of in C. */
static void gemm_blocked(const gemm_job *g, int row0, int col0, int m, int n, const float *a, const float *b,
                         float *c, float *a_packed, float *b_packed, float *c_buffer)
{
    const vae_kernels *kern = g->kern;
    vae_transpose trans_a = g->trans_a, trans_b = g->trans_b;
    int k = g->k, lda = g->lda, ldb = g->ldb, ldc = g->ldc, c_transposed = g->c_transposed;
    float alpha = g->alpha, beta = g->beta;
    int mc_max = c_buffer ? g->transient_mc : kern->mc, kc_max = kern->kc, nc_max = kern->nc;
    for (int jc = 0; jc < n; jc += nc_max) {
        int nc = n - jc < nc_max ? n - jc : nc_max;
        for (int pc = 0; pc < k; pc += kc_max) {
            int kc = k - pc < kc_max ? k - pc : kc_max;
            /* The first k block applies the caller's beta; later ones add. */
            float beta_block = pc == 0 ? beta : 1.0f;
            pack_b(kern, trans_b, b, ldb, pc, jc, kc, nc, b_packed);
            for (int ic = 0; ic < m; ic += mc_max) {
                int mc = m - ic < mc_max ? m - ic : mc_max;
                /* A is packed, or read in place (block_a_in_place):
                 * op(A)[i][p] is a[p * lda + i] or a[i * lda + p]. */
                strided_a direct = {NULL, trans_a ? 1 : lda, trans_a ? lda : 1};
                if (block_a_in_place(kern, trans_a, lda, kc))
                    direct.a = a + (size_t)ic * (size_t)direct.rs + (size_t)pc * (size_t)direct.cs;
                else
                    pack_a(kern, trans_a, a, lda, ic, pc, mc, kc, a_packed);
                float *c_block = c_transposed ? c + (size_t)jc * ldc + ic : c + (size_t)ic * ldc + jc;
                int ld = ldc;
                if (c_buffer) { /* one k block (plan_job): the buffer holds the whole sum */
                    c_block = c_buffer;
                    ld = c_transposed ? mc_max : nc;
                }
                macro_kernel(kern, mc, nc, kc, alpha, beta_block, a_packed, b_packed, c_block, ld,
                             c_transposed, direct.a ? &direct : NULL);
                if (pc + kc == k)
                    finish_block(g, row0 + ic, row0 + ic + mc, col0 + jc, col0 + jc + nc, c_block, ld);
            }
        }
    }
}

/* The share of a tile grid's work that is useful: m x n inside whole tiles. */
static double tile_efficiency(int m, int n, int mr, int nr)
{
    return (double)m / ((m + mr - 1) / mr * mr) * (double)n / ((n + nr - 1) / nr * nr);
}

/* The width of the column strips that threads share out: a tile, or half a
 * tile where a half-wide tile costs half (see half_tiles in kernels.h). */
static int column_unit(const vae_kernels *kern)
{
    return kern->half_tiles ? kern->nr / 2 : kern->nr;
}

/* Computes the block of rows [i0, i1) x columns [j0, j1) of the job's C
 * (clipped to C) on this thread, with this thread's packing buffers. */
static void gemm_block(const gemm_job *g, int i0, int i1, int j0, int j1)
{
    const vae_kernels *kern = g->kern;
    if (i1 > g->m) i1 = g->m;
    if (j1 > g->n) j1 = g->n;
    int m = i1 - i0, n = j1 - j0;
    if (m <= 0 || n <= 0) return;
    const float *a = g->a + (g->trans_a ? (size_t)i0 : (size_t)i0 * g->lda);
    const float *b = g->b + (g->trans_b ? (size_t)j0 * g->ldb : (size_t)j0);
    float *c = g->c + (g->c_transposed ? (size_t)j0 * g->ldc + i0 : (size_t)i0 * g->ldc + j0);
    int mr = kern->mr, nr = kern->nr;
    size_t a_floats = (size_t)((kern->mc + mr - 1) / mr * mr) * (size_t)kern->kc;
    size_t b_floats = (size_t)((kern->nc + nr - 1) / nr * nr) * (size_t)kern->kc;
    float *a_packed = pack_buffer(&pack_a_buf, &pack_a_cap, a_floats);
    float *b_packed = pack_buffer(&pack_b_buf, &pack_b_cap, b_floats);
    /* A transient C's block buffer; without it, C itself (it is valid
     * memory either way: the flag only allows leaving it unwritten). */
    float *c_buffer = NULL;
    if (g->c_transient) {
        size_t width = (size_t)(g->n < kern->nc ? g->n : kern->nc);
        c_buffer = pack_buffer(&c_block_buf, &c_block_cap, (size_t)g->transient_mc * width);
    }
    if (!a_packed || !b_packed) {
        gemm_unpacked(g->trans_a, g->trans_b, m, n, g->k, g->alpha, a, g->lda, b, g->ldb, g->beta, c, g->ldc,
                      g->c_transposed);
        finish_block(g, i0, i1, j0, j1, c, g->ldc);
    } else {
        gemm_blocked(g, i0, j0, m, n, a, b, c, a_packed, b_packed, c_buffer);
    }
}

/* 1D split: strips [begin, end) of mr rows (split_rows) or of column units. */
static void gemm_strips(void *ctx, int begin, int end)
{
    const gemm_job *g = ctx;
    int mr = g->kern->mr, unit = column_unit(g->kern);
    if (g->split_rows) gemm_block(g, begin * mr, end * mr, 0, g->n);
    else gemm_block(g, 0, g->m, begin * unit, end * unit);
}

/* 2D split: blocks [begin, end) of the row_groups x col_groups grid, block
 * i being row group i / col_groups and column group i % col_groups (shares
 * of the row and column strips, as vae_share splits items). */
static void gemm_grid_blocks(void *ctx, int begin, int end)
{
    const gemm_job *g = ctx;
    int mr = g->kern->mr, unit = column_unit(g->kern);
    for (int i = begin; i < end; i++) {
        int r0, r1, c0, c1;
        vae_share(g->row_units, g->row_groups, i / g->col_groups, &r0, &r1);
        vae_share(g->col_units, g->col_groups, i % g->col_groups, &c0, &c1);
        gemm_block(g, r0 * mr, r1 * mr, c0 * unit, c1 * unit);
    }
}

/* What a float of A or B costs a thread to pack or fetch, in flops of its
 * share of the product (a 784 x 400 transposing pack runs at about 9 G
 * floats/s on one Zen 5 core against 200 GFLOP/s of FMA; many threads
 * fetching at once from the shared cache cost more). */
#define OPERAND_FLOAT_FLOPS 32.0

/* Sets g->row_groups x g->col_groups to the grid in which `threads` threads
 * (three or more) share C, one block each, when the best grid is clearly
 * (10 %) cheaper than the best split into strips, by a thread's estimated
 * time: the flops of its block (whole tiles) plus the floats of A's rows and
 * B's columns it packs (A read in place counts half). With a strip of rows each, every thread
 * packs all of B (the weight gradient's x on 16 threads: 16 copies of it,
 * each for 1/16 of the work); a grid shares that out. Strips are kept
 * otherwise: each thread's output stays whole rows or columns, and column
 * strips with A read in place go out in chunks an idle thread can take. */
static void choose_grid(gemm_job *g, int threads)
{
    int mr = g->kern->mr, unit = column_unit(g->kern);
    double a_weight = g->a_in_place ? 0.5 : 1.0;
    double best_strips = -1.0, best_grid = -1.0;
    int grid_rows = 1, grid_cols = 1;
    for (int rg = 1; rg <= threads && rg <= g->row_units; rg++) {
        int cg = threads / rg < g->col_units ? threads / rg : g->col_units;
        double rows = (double)((g->row_units + rg - 1) / rg * mr);
        double cols = (double)((g->col_units + cg - 1) / cg * unit);
        double cost = 2.0 * rows * cols + OPERAND_FLOAT_FLOPS * (a_weight * rows + cols);
        if (rg == 1 || cg == 1) {
            if (best_strips < 0.0 || cost < best_strips) best_strips = cost;
        } else if (best_grid < 0.0 || cost < best_grid) {
            best_grid = cost;
            grid_rows = rg;
            grid_cols = cg;
        }
    }
    if (best_grid >= 0.0 && best_grid < 0.9 * best_strips) {
        g->row_groups = grid_rows;
        g->col_groups = grid_cols;
    }
}

/* The size of a transient C's blocks, in floats (256 KB). */
#define TRANSIENT_BLOCK_FLOATS 65536

/* Below this many flops a GEMM runs on the calling thread: waking the
 * others would cost more than it saves. */
#define PARALLEL_MIN_FLOPS 1e6

/* A problem whose n is thin next to the register tile's nr (the VAE's 20-
 * and 40-wide layers against nr = 32) wastes most of each tile. Its
 * transpose, C^T = op(B)^T op(A)^T, puts the thin side along mr instead;
 * computing that and storing each tile transposed changes neither the
 * result nor the order of any sum.
 *
 * Threads split C into strips of whole tiles (half tiles along n where the
 * ISA has half-wide tiles), along n when that makes each thread pack the
 * smaller operand twice (m <= n), else along m; three or more threads may
 * split it into a grid of blocks instead, where choose_grid finds that
 * clearly cheaper. Every element still sums its k products in the same
 * order, so the bits depend neither on the thread count nor on which thread
 * computes which block. */
static void plan_job(gemm_job *g, int flags, int threads)
{
    int mr = g->kern->mr, nr = g->kern->nr;
    if (tile_efficiency(g->n, g->m, mr, nr) > 1.15 * tile_efficiency(g->m, g->n, mr, nr)) {
        vae_transpose trans_a = g->trans_a;
        const float *a = g->a;
        int m = g->m, lda = g->lda;
        g->trans_a = !g->trans_b;
        g->trans_b = !trans_a;
        g->m = g->n;
        g->n = m;
        g->a = g->b;
        g->lda = g->ldb;
        g->b = a;
        g->ldb = lda;
        g->c_transposed = 1;
    }
    int unit = column_unit(g->kern);
    g->row_units = (g->m + mr - 1) / mr;
    g->col_units = (g->n + unit - 1) / unit;
    g->a_in_place = a_in_place(g->kern, g->trans_a, g->lda, g->k);
    g->split_rows = flags & VAE_GEMM_SPLIT_ROWS ? !g->c_transposed : g->m > g->n;
    g->row_groups = g->col_groups = 1;
    if (threads > 2) choose_grid(g, threads);
    /* A transient C: only where the sum is one k block (a block of C is
     * final after one pass) and C is not read (beta = 0). Blocks hold
     * about TRANSIENT_BLOCK_FLOATS, so that the buffer stays in L2. */
    g->c_transient = (flags & VAE_GEMM_C_TRANSIENT) && g->epilogue && g->beta == 0.0f && g->k <= g->kern->kc;
    if (g->c_transient) {
        int width = g->n < g->kern->nc ? g->n : g->kern->nc;
        int rows = TRANSIENT_BLOCK_FLOATS / width / mr * mr;
        g->transient_mc = rows < mr ? mr : rows > g->kern->mc ? g->kern->mc : rows;
    }
}

void vae_gemm_split_plan(vae_transpose trans_a, vae_transpose trans_b, int m, int n, int k, int lda, int ldb,
                         int threads, int *row_groups, int *col_groups)
{
    gemm_job g = {.kern = vae_kernels_active(), .trans_a = trans_a, .trans_b = trans_b, .m = m, .n = n, .k = k,
                  .lda = lda, .ldb = ldb};
    plan_job(&g, VAE_GEMM_SPLIT_AUTO, threads);
    if (g.row_groups > 1 && g.col_groups > 1) {
        *row_groups = g.row_groups;
        *col_groups = g.col_groups;
    } else {
        *row_groups = g.split_rows ? threads : 1;
        *col_groups = g.split_rows ? 1 : threads;
    }
}

void vae_sgemm_fused(vae_transpose trans_a, vae_transpose trans_b, int m, int n, int k, float alpha,
                     const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc,
                     vae_gemm_epilogue epilogue, void *ctx, int flags)
{
    if (m <= 0 || n <= 0) return;
    if (k <= 0 || alpha == 0.0f) {
        scale_c(m, n, beta, c, ldc);
        if (epilogue) epilogue(ctx, 0, m, 0, n, c, ldc);
        return;
    }
    const vae_kernels *kern = vae_kernels_active();
    gemm_job g = {.kern = kern, .trans_a = trans_a, .trans_b = trans_b, .m = m, .n = n, .k = k, .alpha = alpha,
                  .beta = beta, .a = a, .b = b, .lda = lda, .ldb = ldb, .c = c, .ldc = ldc,
                  .epilogue = epilogue, .epilogue_ctx = ctx};
    int threads = 2.0 * m * n * k < PARALLEL_MIN_FLOPS || vae_inside_job() ? 1 : vae_get_threads();
    plan_job(&g, flags, threads);
    int strips = g.split_rows ? g.row_units : g.col_units;
    if (threads == 1) {
        vae_serial_for(strips, gemm_strips, &g);
    } else if (g.row_groups > 1 && g.col_groups > 1) {
        vae_parallel_for(g.row_groups * g.col_groups, gemm_grid_blocks, &g);
    } else if (!g.split_rows && g.a_in_place) {
        /* Column strips with A read in place: a strip costs the same in any
         * call (each call packs only its own columns of B), so the strips
         * can go out in chunks of whole tiles. */
        vae_parallel_for_chunked(strips, vae_chunk_size(strips, kern->nr / column_unit(kern)), gemm_strips, &g);
    } else {
        vae_parallel_for(strips, gemm_strips, &g);
    }
}

void vae_sgemm(vae_transpose trans_a, vae_transpose trans_b, int m, int n, int k, float alpha,
               const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    vae_sgemm_fused(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, NULL, NULL, VAE_GEMM_SPLIT_AUTO);
}
