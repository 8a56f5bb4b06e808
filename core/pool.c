/* pool.c - one persistent pthread pool for the whole engine; no OpenMP.
 *
 * vae_parallel_for(n, fn, ctx) splits 0..n-1 into one contiguous range per
 * thread, the same split for the same n and thread count, and runs range 0 on
 * the calling thread (worker 0) while the pool's workers run the others.
 * Work is always split by output rows, columns or tiles, never across a sum,
 * so results do not depend on the thread count, nor on which thread computes
 * which item.
 *
 * vae_parallel_for_chunked(n, chunk, fn, ctx) starts from the same ranges but
 * hands them out chunk items at a time, and a thread that has finished its
 * own range takes the chunks still waiting in the others' ranges. On a
 * shared machine the host stops a thread now and then (on the 2-core VM this
 * was written on, about 5 % of each core's time goes in pauses of 20 us to
 * 4 ms); with fixed shares everyone waits for it, with chunks the others take
 * its work over. The owner works through its own range first, so in the
 * usual case each thread still computes its own share, in its own cache.
 *
 * Waiting: a worker that finished a job spins on the job counter for a
 * bounded time (SPIN_SECONDS), because in a training step the next job
 * comes within microseconds; then it sleeps on a condition variable, so an
 * idle pool uses no CPU. The caller waits for the workers the same way.
 *
 * Every job runs with denormals flushed to zero (x86 MXCSR FTZ/DAZ, aarch64
 * FPCR.FZ) on every thread that takes part, the caller included, so all rows
 * see the same arithmetic; the caller's mode is restored afterwards. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "pool.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ volatile("yield")
#else
#define cpu_relax() ((void)0)
#endif

#define MAX_THREADS 256
#define SPIN_SECONDS 200e-6

/* ------------------------------------------------------ floating point */

unsigned vae_fp_flush_denormals(void)
{
#if defined(__x86_64__) || defined(__i386__)
    unsigned old = _mm_getcsr();
    _mm_setcsr(old | 0x8040); /* FTZ (bit 15) | DAZ (bit 6) */
    return old;
#elif defined(__aarch64__)
    uint64_t old;
    __asm__ volatile("mrs %0, fpcr" : "=r"(old));
    __asm__ volatile("msr fpcr, %0" : : "r"(old | (1ull << 24))); /* FZ */
    return (unsigned)old;
#else
    return 0;
#endif
}

void vae_fp_restore(unsigned saved)
{
#if defined(__x86_64__) || defined(__i386__)
    _mm_setcsr(saved);
#elif defined(__aarch64__)
    uint64_t v = saved;
    __asm__ volatile("msr fpcr, %0" : : "r"(v));
#else
    (void)saved;
#endif
}

/* ---------------------------------------------------------------- pool */

typedef struct pool {
    int n_threads; /* workers including the caller */
    pthread_t threads[MAX_THREADS];

    /* The job: published by bumping generation. */
    vae_range_fn fn;
    void *ctx;
    int n_items;
    int chunk; /* 0: fixed shares; else items taken a chunk at a time */
    /* With chunks: the next untaken item of each thread's share, one cache
     * line each (the owner takes from it without disturbing the others). */
    struct {
        _Alignas(64) atomic_int next;
    } cursor[MAX_THREADS];
    atomic_uint generation;
    unsigned generation_at_start; /* generation when the workers were created */
    atomic_int pending; /* workers still running the job */
    atomic_int sleepers;
    atomic_int stop;

    pthread_mutex_t mutex; /* guards sleeping and waking */
    pthread_cond_t wake, done;
} pool;

static pool the_pool = {.n_threads = 1,
                        .mutex = PTHREAD_MUTEX_INITIALIZER,
                        .wake = PTHREAD_COND_INITIALIZER,
                        .done = PTHREAD_COND_INITIALIZER};
/* Serializes jobs and pool changes: one parallel_for at a time. */
static pthread_mutex_t job_mutex = PTHREAD_MUTEX_INITIALIZER;
/* 1 on a pool worker (or on a caller inside a job): nested calls run inline. */
static _Thread_local int inside_job;

int vae_inside_job(void) { return inside_job; }

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void vae_share(int n, int parts, int part, int *begin, int *end)
{
    *begin = (int)((long long)n * part / parts);
    *end = (int)((long long)n * (part + 1) / parts);
}

/* Takes chunks from share `owner` until none is left. */
static void take_chunks(pool *p, int owner)
{
    int unused, end;
    vae_share(p->n_items, p->n_threads, owner, &unused, &end);
    for (;;) {
        int i = atomic_fetch_add_explicit(&p->cursor[owner].next, p->chunk, memory_order_relaxed);
        if (i >= end) return;
        p->fn(p->ctx, i, i + p->chunk < end ? i + p->chunk : end);
    }
}

static void run_share(pool *p, int worker)
{
    if (p->chunk > 0) {
        /* Its own share first, then what is left of the others'. */
        for (int t = 0; t < p->n_threads; t++) take_chunks(p, (worker + t) % p->n_threads);
        return;
    }
    int begin, end;
    vae_share(p->n_items, p->n_threads, worker, &begin, &end);
    if (begin < end) p->fn(p->ctx, begin, end);
}

/* Spins until *word != value or SPIN_SECONDS pass; 1 if it changed. */
static int spin_while_equal_uint(atomic_uint *word, unsigned value)
{
    double deadline = 0;
    for (unsigned i = 1;; i++) {
        if (atomic_load_explicit(word, memory_order_acquire) != value) return 1;
        cpu_relax();
        if ((i & 255) == 0) {
            double now = seconds_now();
            if (deadline == 0) deadline = now + SPIN_SECONDS;
            else if (now > deadline) return 0;
        }
    }
}

static void *worker_main(void *arg)
{
    pool *p = &the_pool;
    int worker = (int)(intptr_t)arg;
    inside_job = 1;
    vae_fp_flush_denormals();
    /* Not a fresh load: a job published before this thread got to run
     * must still be seen as new. */
    unsigned seen = p->generation_at_start;
    for (;;) {
        if (!spin_while_equal_uint(&p->generation, seen)) {
            pthread_mutex_lock(&p->mutex);
            atomic_fetch_add(&p->sleepers, 1);
            while (atomic_load(&p->generation) == seen && !atomic_load(&p->stop))
                pthread_cond_wait(&p->wake, &p->mutex);
            atomic_fetch_sub(&p->sleepers, 1);
            pthread_mutex_unlock(&p->mutex);
        }
        if (atomic_load(&p->stop)) {
            vae_gemm_free_thread_buffers();
            return NULL;
        }
        seen = atomic_load_explicit(&p->generation, memory_order_acquire);
        run_share(p, worker);
        if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&p->mutex);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mutex);
        }
    }
}

/* Stops and joins every worker; the pool is then single-threaded. */
static void stop_workers(pool *p)
{
    pthread_mutex_lock(&p->mutex);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mutex);
    for (int t = 1; t < p->n_threads; t++) pthread_join(p->threads[t], NULL);
    atomic_store(&p->stop, 0);
    p->n_threads = 1;
}

/* Set once a thread count was chosen, by a call or by the default. */
static atomic_int threads_chosen;

/* fork() copies only the calling thread: the child's pool has no workers.
 * The child starts with a fresh single-threaded pool and brings the thread
 * count back at its first job. The parent holds job_mutex across the fork,
 * so no job is half-published in the child. */
static int threads_after_fork;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void before_fork(void) { pthread_mutex_lock(&job_mutex); }
static void after_fork_parent(void) { pthread_mutex_unlock(&job_mutex); }
static void after_fork_child(void)
{
    pool *p = &the_pool;
    threads_after_fork = p->n_threads;
    p->n_threads = 1;
    atomic_store(&p->pending, 0);
    atomic_store(&p->sleepers, 0);
    atomic_store(&p->stop, 0);
    pthread_mutex_init(&p->mutex, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    pthread_mutex_init(&job_mutex, NULL);
}

static void register_atfork(void) { pthread_atfork(before_fork, after_fork_parent, after_fork_child); }

int vae_set_threads(int n)
{
    atomic_store(&threads_chosen, 1);
    pthread_once(&atfork_once, register_atfork);
    if (n <= 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        n = cpus > 0 ? (int)cpus : 1;
    }
    if (n > MAX_THREADS) n = MAX_THREADS;
    pthread_mutex_lock(&job_mutex);
    pool *p = &the_pool;
    int rc = VAE_OK;
    if (n != p->n_threads) {
        stop_workers(p);
        p->generation_at_start = atomic_load(&p->generation);
        int started = 1;
        for (; started < n; started++)
            if (pthread_create(&p->threads[started], NULL, worker_main, (void *)(intptr_t)started) != 0) break;
        p->n_threads = started;
        if (started < n) rc = vae_fail(VAE_ERR_NOMEM, "could start only %d of %d threads", started, n);
    }
    pthread_mutex_unlock(&job_mutex);
    return rc;
}

/* The first job starts the pool at VAE_THREADS threads, or one per online
 * CPU, unless vae_set_threads came first. */
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

static void start_default_pool(void)
{
    if (atomic_load(&threads_chosen)) return;
    const char *env = getenv("VAE_THREADS");
    vae_set_threads(env ? atoi(env) : 0);
}

int vae_get_threads(void)
{
    pthread_once(&default_once, start_default_pool);
    return the_pool.n_threads;
}

void vae_serial_for(int n_items, vae_range_fn fn, void *ctx)
{
    if (n_items <= 0) return;
    unsigned fp = vae_fp_flush_denormals();
    fn(ctx, 0, n_items);
    vae_fp_restore(fp);
}

static void parallel_run(int n_items, int chunk, vae_range_fn fn, void *ctx);

void vae_parallel_for(int n_items, vae_range_fn fn, void *ctx) { parallel_run(n_items, 0, fn, ctx); }

void vae_parallel_for_chunked(int n_items, int chunk, vae_range_fn fn, void *ctx)
{
    parallel_run(n_items, chunk > 0 ? chunk : 1, fn, ctx);
}

/* Chunks of about a quarter of a share: small enough for the others to take
 * over a stopped thread's work, large enough to keep calls few. */
#define CHUNKS_PER_SHARE 4

int vae_chunk_size(int n_items, int unit)
{
    if (unit < 1) unit = 1;
    int chunk = n_items / (CHUNKS_PER_SHARE * vae_get_threads()) / unit * unit;
    return chunk > unit ? chunk : unit;
}

static void parallel_run(int n_items, int chunk, vae_range_fn fn, void *ctx)
{
    if (n_items <= 0) return;
    pthread_once(&default_once, start_default_pool);
    if (threads_after_fork > 1 && !inside_job) {
        int n = threads_after_fork;
        threads_after_fork = 0;
        vae_set_threads(n);
    }
    unsigned fp = vae_fp_flush_denormals();
    if (inside_job || the_pool.n_threads == 1 || n_items == 1) {
        fn(ctx, 0, n_items);
        vae_fp_restore(fp);
        return;
    }
    pthread_mutex_lock(&job_mutex);
    pool *p = &the_pool;
    p->fn = fn;
    p->ctx = ctx;
    p->n_items = n_items;
    p->chunk = chunk;
    if (chunk)
        for (int t = 0; t < p->n_threads; t++) {
            int begin, end;
            vae_share(n_items, p->n_threads, t, &begin, &end);
            atomic_store_explicit(&p->cursor[t].next, begin, memory_order_relaxed);
        }
    atomic_store(&p->pending, p->n_threads - 1);
    unsigned gen = atomic_fetch_add_explicit(&p->generation, 1, memory_order_seq_cst) + 1;
    (void)gen;
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mutex);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mutex);
    }
    inside_job = 1;
    run_share(p, 0);
    inside_job = 0;
    /* Wait for the workers: spin briefly, then sleep. */
    double deadline = 0;
    for (unsigned i = 1; atomic_load_explicit(&p->pending, memory_order_acquire) > 0; i++) {
        cpu_relax();
        if ((i & 255) == 0) {
            double now = seconds_now();
            if (deadline == 0) deadline = now + SPIN_SECONDS;
            else if (now > deadline) {
                pthread_mutex_lock(&p->mutex);
                while (atomic_load(&p->pending) > 0) pthread_cond_wait(&p->done, &p->mutex);
                pthread_mutex_unlock(&p->mutex);
            }
        }
    }
    pthread_mutex_unlock(&job_mutex);
    vae_fp_restore(fp);
}
