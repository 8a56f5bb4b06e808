/* bench/train.c - whole training epochs: seconds per epoch, images/s,
 * effective GFLOP/s and % of the FMA peak, for each thread count asked for,
 * and where a step's time goes (GEMM by layer and pass, the element-wise
 * kernels, batch gathering, Adam). Then how much CPU an idle pool uses.
 *
 *   bench/train [--data DIR] [--epochs N] [--batch B] [--threads 1,2]
 *
 * Defaults: the full Fashion-MNIST when Debian's dataset-fashion-mnist is
 * installed, else data/; 3 epochs; batch 128; 1 and 2 threads. The model is
 * the default 784-400-20, Bernoulli, Adam 1e-3, seed 1, one model per
 * thread count.
 *
 * The thread counts take turns epoch by epoch (epoch 1 with 1 thread, then
 * with 2, then epoch 2 with 1 thread, ...), so that on a shared, noisy host
 * every count sees the same conditions; the scaling is the median over the
 * epochs of each epoch's time at the first count over its time at the
 * others. Every model trains the same epochs, so their losses agree.
 *
 * After each round the largest count's host reference is measured (see
 * independent_speedup), and the scaling is also given as a share of it. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "model.h"

#define VAE_BENCH_NO_MAIN
#include "peak.c"

/* How much of its time a core loses to the host (on a shared VM the
 * hypervisor pauses a virtual CPU now and then): one thread per CPU reads
 * the clock in a loop for 0.5 s and sums the gaps over 20 us. Printed with
 * the results, since it decides how far 2 threads can beat 1. */
typedef struct pause_probe {
    double lost, longest;
} pause_probe;

static void *probe_pauses(void *arg)
{
    pause_probe *p = arg;
    double t0 = now(), prev = t0;
    while (prev - t0 < 0.5) {
        double t = now();
        if (t - prev > 20e-6) p->lost += t - prev;
        if (t - prev > p->longest) p->longest = t - prev;
        prev = t;
    }
    return NULL;
}

static void print_host_pauses(void)
{
    enum { MAX_CPUS = 64 };
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int n = cpus < 1 ? 1 : cpus > MAX_CPUS ? MAX_CPUS : (int)cpus;
    pthread_t threads[MAX_CPUS];
    pause_probe probes[MAX_CPUS];
    memset(probes, 0, sizeof probes);
    int started = 0;
    while (started < n && pthread_create(&threads[started], NULL, probe_pauses, &probes[started]) == 0) started++;
    double lost = 0, longest = 0;
    for (int i = 0; i < started; i++) {
        pthread_join(threads[i], NULL);
        lost += probes[i].lost;
        if (probes[i].longest > longest) longest = probes[i].longest;
    }
    if (started > 0)
        printf("# host pauses: %.1f%% of each core's time in pauses over 20 us (longest %.1f ms), %d threads "
               "probing for 0.5 s\n",
               100 * lost / (0.5 * started), 1e3 * longest, started);
}

/* How long a cache line takes to go from one core to another and back: two
 * threads hand a counter to each other through one line, 100000 times.
 * Within a chiplet (one shared L3) that is some tens of ns; between
 * chiplets or sockets, hundreds, and then every value one thread writes and
 * the other reads (a layer's activations, a row of W that one thread's Adam
 * updates and the other's data-gradient GEMM reads) crosses that way. On
 * the 2-core VM (2026-11-27), with round trips of 380-390 ns the engine's 2
 * threads ran 1.51-1.57x one thread, and 1.88x minutes later at 98 ns; two
 * independent copies ran 2.0x both times. The host moves the virtual CPUs;
 * the scheduler places the two threads (on a 2-CPU machine, one per CPU).
 * At most HANDOFF_SECONDS: where the two threads get one CPU between them
 * (taskset, a 1-CPU machine) a round trip takes a time slice. */
enum { HANDOFFS = 100000 };
#define HANDOFF_SECONDS 0.25 /* at most: threads sharing one CPU hand off once a time slice */

static _Alignas(64) _Atomic long handoff;

static void *answer_handoffs(void *arg)
{
    (void)arg;
    for (long i = 0; i < HANDOFFS; i++) {
        long v;
        while ((v = atomic_load_explicit(&handoff, memory_order_acquire)) != 2 * i + 1)
            if (v < 0) return NULL; /* stopped early */
        atomic_store_explicit(&handoff, 2 * i + 2, memory_order_release);
    }
    return NULL;
}

static void print_core_round_trip(void)
{
    if (sysconf(_SC_NPROCESSORS_ONLN) < 2) return;
    pthread_t other;
    atomic_store(&handoff, 0);
    if (pthread_create(&other, NULL, answer_handoffs, NULL) != 0) return;
    double t0 = now(), seconds = 0.0;
    long done = 0;
    while (done < HANDOFFS && seconds < HANDOFF_SECONDS) {
        atomic_store_explicit(&handoff, 2 * done + 1, memory_order_release);
        while (atomic_load_explicit(&handoff, memory_order_acquire) != 2 * done + 2) {
        }
        if (++done % 16 == 0) seconds = now() - t0;
    }
    seconds = now() - t0;
    atomic_store_explicit(&handoff, -1, memory_order_release);
    pthread_join(other, NULL);
    double ns = 1e9 * seconds / (double)done;
    if (ns > 1e5)
        printf("# core to core: %.1f ms a round trip: the 2 threads share one CPU here\n", ns * 1e-6);
    else
        printf("# core to core: a cache line's round trip between 2 threads takes %.0f ns (tens: one shared L3; "
               "hundreds: apart)\n",
               ns);
}

/* What the host gives n threads now, as a reference for the scaling: n
 * independent copies of a 1-thread training step, one per thread, sharing
 * nothing and waiting for nothing (as n processes would), against one copy
 * alone. On a quiet machine it is close to n; on a shared VM it falls when
 * the host pauses a core or a neighbour takes the shared cache and memory.
 * It is not a strict ceiling: each copy streams its own 10 MB of parameters
 * and Adam moments, where the engine's threads share one model. Measured in
 * every round of epochs, so each epoch's scaling is read against the host
 * of the same moment. */
enum { PROBE_STEPS = 40, PROBE_BATCHES = 8, MAX_PROBES = 64 };

typedef struct probe_copy {
    vae_model *m;
    const float *batches; /* PROBE_BATCHES batches of batch x D */
    int batch, dim;
    double seconds;
} probe_copy;

static void *run_probe_copy(void *arg)
{
    probe_copy *c = arg;
    double t0 = vae_seconds_now();
    for (int s = 0; s < PROBE_STEPS; s++)
        vae_train_step(c->m, c->batches + (size_t)(s % PROBE_BATCHES) * c->batch * c->dim, c->batch, 1e-3f, NULL);
    c->seconds = vae_seconds_now() - t0;
    return NULL;
}

/* n copies at once over one copy alone, in throughput; 0 when the helper
 * threads cannot be started. The pool runs 1 thread meanwhile. */
static double independent_speedup(probe_copy *copies, int n)
{
    int pool_threads = vae_get_threads();
    vae_set_threads(1);
    run_probe_copy(&copies[0]);
    double alone = copies[0].seconds;
    pthread_t threads[MAX_PROBES];
    int started = 1;
    double t0 = vae_seconds_now();
    while (started < n && pthread_create(&threads[started], NULL, run_probe_copy, &copies[started]) == 0) started++;
    run_probe_copy(&copies[0]);
    for (int i = 1; i < started; i++) pthread_join(threads[i], NULL);
    double together = vae_seconds_now() - t0;
    vae_set_threads(pool_threads);
    return started == n ? n * alone / together : 0.0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Flops of one epoch of n images: forward and weight gradient of every
 * layer, and the data gradient of every layer but the first. */
static double epoch_flops(const vae_model *m, int n)
{
    double f = 0;
    for (int side = 0; side < 2; side++)
        for (int l = 0; l < m->n_layers; l++) {
            const vae_linear *L = side ? &m->dec[l] : &m->enc[l];
            double mac = (double)L->in * L->out;
            f += 2 * mac * 2;                      /* forward + weight gradient */
            if (side || l > 0) f += 2 * mac;        /* data gradient */
        }
    return f * n;
}

typedef struct run_log {
    double seconds[64];
    double test_loss;
    int epochs;
} run_log;

static int record(const vae_epoch_report *r, void *user)
{
    run_log *log = user;
    if (log->epochs < 64) log->seconds[log->epochs++] = r->seconds;
    log->test_loss = r->test_loss;
    printf(" epoch %d: %.3f s, %.0f images/s, test loss %.3f\n", r->epoch, r->seconds, r->images_per_second,
           r->test_loss);
    fflush(stdout);
    return 0;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_sec +
           1e-6 * (double)ru.ru_stime.tv_usec;
}

static void print_profile(const vae_model *m, const vae_profile *p, double total)
{
    static const char *const pass_names[3] = {"forward", "data grad", "weight grad"};
    printf("    where the time goes (all epochs, %% of training time):\n");
    double gemm_total = 0;
    for (int side = 0; side < 2; side++)
        for (int l = 0; l < m->n_layers; l++) {
            const vae_linear *L = side ? &m->dec[l] : &m->enc[l];
            for (int pass = 0; pass < 3; pass++) {
                double t = p->gemm[side][l][pass];
                if (t == 0) continue;
                gemm_total += t;
                printf("      gemm %s%d %4d->%-4d %-11s %8.3f s %5.1f%%\n", side ? "dec" : "enc", l + 1, L->in,
                       L->out, pass_names[pass], t, 100 * t / total);
            }
        }
    struct {
        const char *name;
        double t;
    } parts[] = {{"bias + activation", p->bias_act}, {"activation backward", p->act_backward},
                 {"bias gradient", p->bias_grad},    {"reparameterize + KL", p->reparam},
                 {"likelihood + gradient", p->loss}, {"Adam", p->adam},
                 {"batch gathering", p->gather}};
    double other = 0;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        other += parts[i].t;
        printf("      %-34s %8.3f s %5.1f%%\n", parts[i].name, parts[i].t, 100 * parts[i].t / total);
    }
    printf("      %-34s %8.3f s %5.1f%%\n", "all GEMM", gemm_total, 100 * gemm_total / total);
    printf("      %-34s %8.3f s %5.1f%%\n", "all outside GEMM", other, 100 * other / total);
    printf("      %-34s %8.3f s %5.1f%%\n", "unaccounted", total - gemm_total - other,
           100 * (total - gemm_total - other) / total);
}

int main(int argc, char **argv)
{
    const char *data = access("/usr/share/datasets/fashion-mnist", R_OK) == 0 ? "/usr/share/datasets/fashion-mnist"
                                                                            : "data";
    const char *thread_list = "1,2";
    int epochs = 3, batch = 128;
    static const char usage[] = "usage: bench/train [--data DIR] [--epochs N] [--batch B] [--threads 1,2]\n";
    for (int i = 1; i < argc; i += 2) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--data") == 0 && value) data = value;
        else if (strcmp(argv[i], "--epochs") == 0 && value) epochs = atoi(value);
        else if (strcmp(argv[i], "--batch") == 0 && value) batch = atoi(value);
        else if (strcmp(argv[i], "--threads") == 0 && value) thread_list = value;
        else {
            fprintf(stderr, "bench/train: unknown option or missing value: %s\n%s", argv[i], usage);
            return 2;
        }
    }
    if (epochs < 1 || epochs > 64 || batch < 1) {
        fprintf(stderr, "bench/train: --epochs must be 1..64 and --batch positive\n");
        return 2;
    }
    vae_dataset ds;
    if (vae_dataset_load_mnist_dir(data, &ds) != VAE_OK) {
        fprintf(stderr, "bench/train: %s\n", vae_last_error());
        return 1;
    }
    double peak1 = vae_bench_peak_gflops(vae_isa_name());
    printf("# vae %s bench/train: %s (%d training, %d test images), batch %d, %d epochs, kernels %s,\n"
           "# one-core FMA peak %.1f GFLOP/s (bench/peak)\n",
           VAE_VERSION, data, ds.train.count, ds.test.count, batch, epochs, vae_isa_name(), peak1);
    print_host_pauses();
    print_core_round_trip();

    char list[64];
    snprintf(list, sizeof list, "%s", thread_list);
    enum { MAX_COUNTS = 8 };
    int counts[MAX_COUNTS], n_counts = 0;
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        int threads = atoi(tok);
        if (threads < 1 || n_counts == MAX_COUNTS || vae_set_threads(threads) != VAE_OK) {
            fprintf(stderr, "bench/train: bad thread count '%s' (1 to %d counts of 1 or more)\n", tok, MAX_COUNTS);
            return 2;
        }
        counts[n_counts++] = threads;
    }
    if (n_counts == 0) {
        fprintf(stderr, "bench/train: --threads needs at least one count\n");
        return 2;
    }
    vae_model *models[MAX_COUNTS];
    vae_profile profiles[MAX_COUNTS];
    run_log logs[MAX_COUNTS];
    memset(profiles, 0, sizeof profiles);
    memset(logs, 0, sizeof logs);
    for (int c = 0; c < n_counts; c++) {
        vae_config cfg;
        vae_config_default(&cfg);
        if (vae_model_create(&cfg, 1, &models[c]) != VAE_OK) {
            fprintf(stderr, "bench/train: %s\n", vae_last_error());
            return 1;
        }
        models[c]->profile = &profiles[c];
    }
    /* The host reference for the largest count (independent_speedup). */
    int n_probe = 1;
    for (int c = 0; c < n_counts; c++)
        if (counts[c] > n_probe) n_probe = counts[c];
    if (n_probe > MAX_PROBES) n_probe = MAX_PROBES;
    probe_copy copies[MAX_PROBES];
    double reference[64];
    float *probe_batches = NULL;
    if (n_probe > 1) {
        int dim = models[0]->input_dim;
        probe_batches = malloc(sizeof(float) * (size_t)PROBE_BATCHES * (size_t)batch * (size_t)dim);
        uint32_t *index = malloc(sizeof(uint32_t) * (size_t)batch);
        if (!probe_batches || !index) {
            fprintf(stderr, "bench/train: out of memory\n");
            return 1;
        }
        uint64_t lcg = 1;
        for (int q = 0; q < PROBE_BATCHES; q++) {
            for (int r = 0; r < batch; r++) {
                lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
                index[r] = (uint32_t)((lcg >> 33) % (uint64_t)ds.train.count);
            }
            vae_images_gather_float(&ds.train, index, batch, probe_batches + (size_t)q * batch * dim);
        }
        free(index);
        for (int i = 0; i < n_probe; i++) {
            vae_config cfg;
            vae_config_default(&cfg);
            copies[i] = (probe_copy){NULL, probe_batches, batch, dim, 0.0};
            if (vae_model_create(&cfg, 1, &copies[i].m) != VAE_OK || vae_model_reserve(copies[i].m, batch) != VAE_OK) {
                fprintf(stderr, "bench/train: %s\n", vae_last_error());
                return 1;
            }
        }
    }
    for (int e = 1; e <= epochs; e++) {
        for (int c = 0; c < n_counts; c++) {
            vae_set_threads(counts[c]);
            vae_train_options opt;
            vae_train_options_default(&opt);
            opt.epochs = e; /* one more epoch: the model continues where it stopped */
            opt.batch = batch;
            printf("threads %d:", counts[c]);
            if (vae_train(models[c], &ds.train, &ds.test, &opt, record, &logs[c]) != VAE_OK) {
                fprintf(stderr, "bench/train: %s\n", vae_last_error());
                return 1;
            }
        }
        if (n_probe > 1) {
            reference[e - 1] = independent_speedup(copies, n_probe);
            printf("host reference: %d independent 1-thread copies ran %.2fx one copy\n", n_probe, reference[e - 1]);
        }
    }
    for (int c = 0; c < n_counts; c++) {
        run_log *log = &logs[c];
        double total = 0, sorted[64];
        for (int e = 0; e < log->epochs; e++) total += sorted[e] = log->seconds[e];
        qsort(sorted, (size_t)log->epochs, sizeof(double), cmp_double);
        double median = sorted[log->epochs / 2];
        double gflops = epoch_flops(models[c], ds.train.count) / median * 1e-9;
        printf("  threads %d: median epoch %.3f s, %.0f images/s, %.1f GFLOP/s effective, %.1f%% of %d x %.1f "
               "GFLOP/s peak, final test loss %.3f\n",
               counts[c], median, ds.train.count / median, gflops, 100 * gflops / (counts[c] * peak1), counts[c],
               peak1, log->test_loss);
        print_profile(models[c], &profiles[c], total);
    }
    for (int c = 1; c < n_counts; c++) {
        double ratio[64];
        for (int e = 0; e < epochs; e++) ratio[e] = logs[0].seconds[e] / logs[c].seconds[e];
        qsort(ratio, (size_t)epochs, sizeof(double), cmp_double);
        printf("scaling: %d threads are %.2fx %d (median over %d epochs of the epoch-by-epoch ratio; range "
               "%.2f-%.2f)\n",
               counts[c], ratio[epochs / 2], counts[0], epochs, ratio[0], ratio[epochs - 1]);
        if (counts[c] == n_probe && counts[0] == 1) {
            /* Each epoch's scaling against the reference of its round. */
            double share[64], sorted_reference[64];
            for (int e = 0; e < epochs; e++) {
                share[e] = logs[0].seconds[e] / logs[c].seconds[e] / reference[e];
                sorted_reference[e] = reference[e];
            }
            qsort(share, (size_t)epochs, sizeof(double), cmp_double);
            qsort(sorted_reference, (size_t)epochs, sizeof(double), cmp_double);
            printf("host reference: %d independent 1-thread copies ran %.2fx one copy (median over %d rounds; "
                   "range %.2f-%.2f); %d threads reached %.0f%% of that (median; range %.0f-%.0f%%)\n",
                   n_probe, sorted_reference[epochs / 2], epochs, sorted_reference[0], sorted_reference[epochs - 1],
                   counts[c], 100 * share[epochs / 2], 100 * share[0], 100 * share[epochs - 1]);
        }
    }
    for (int i = 0; n_probe > 1 && i < n_probe; i++) vae_model_free(copies[i].m);
    free(probe_batches);
    for (int c = 0; c < n_counts; c++) vae_model_free(models[c]);
    /* An idle pool: workers spin for at most 200 us after a job, then
     * sleep. Measured from 50 ms after the last job (past the spin; some
     * kernels charge CPU time in whole ticks, which would blur it), for 1 s
     * of waiting, as between the epochs of a long run. */
    struct timespec settle = {0, 50000000}, one_second = {1, 0};
    nanosleep(&settle, NULL);
    double cpu0 = cpu_seconds(), t0 = vae_seconds_now();
    nanosleep(&one_second, NULL);
    double cpu = cpu_seconds() - cpu0, wall = vae_seconds_now() - t0;
    printf("idle pool (%d threads) over %.2f s of waiting: %.1f ms of CPU (%.2f%% of one core)\n", vae_get_threads(),
           wall, 1e3 * cpu, 100 * cpu / wall);
    vae_dataset_free(&ds);
    return 0;
}
