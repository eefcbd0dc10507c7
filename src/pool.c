/* pool.c — the thread pool: persistent workers started once, a job runs on all of them at once.
 *
 * mg_pool_run(fn, ctx, work) calls fn(ctx, ith, nth) on every thread (the caller is thread 0) and returns
 * when all are done; a small job (work < the minimum, mg_set_min_parallel_work) runs on the caller alone.
 * Model code says what splits (rows [ir0, ir1) from ith/nth, see mg_split); the pool says how. Between
 * jobs a worker spins briefly (a new job often follows at once), then sleeps on a condition variable (a
 * futex in wasm): an idle pool burns no core. Built without pthreads, the pool is one thread. */
#include "internal.h"

#ifdef MINGRU_THREADS
#include <pthread.h>
#include <stdatomic.h>

#define SPINS 20000 /* polls before a thread sleeps: a few tens of microseconds */

static struct {
    int n;                    /* threads, including the caller */
    pthread_t threads[MG_MAX_THREADS];
    pthread_mutex_t mu;
    pthread_cond_t wake;      /* a new job (or stop) */
    pthread_cond_t done;      /* the last worker finished */
    atomic_int generation;    /* bumped for every job */
    atomic_int pending;       /* workers still running the current job */
    atomic_int sleeping;      /* workers asleep on wake (until they have the mutex again) */
    mg_task_fn fn;
    void *ctx;
    int stop;
    int start_generation;     /* the generation when the workers were started: jobs after it are theirs */
} pool = {1, {0}, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, NULL, NULL, 0, 0};

static void *worker(void *arg) {
    int ith = (int)(intptr_t)arg, seen = pool.start_generation;
    for (;;) {
        int spins = 0;
        while (atomic_load_explicit(&pool.generation, memory_order_acquire) == seen && spins < SPINS) spins++;
        pthread_mutex_lock(&pool.mu);
        if (atomic_load(&pool.generation) == seen && !pool.stop) {
            atomic_fetch_add(&pool.sleeping, 1);
            pthread_cond_wait(&pool.wake, &pool.mu);
            atomic_fetch_sub(&pool.sleeping, 1);
        }
        int stop = pool.stop;
        pthread_mutex_unlock(&pool.mu);
        if (stop) return NULL;
        if (atomic_load(&pool.generation) == seen) continue; /* woken without a job: spin again */
        seen = atomic_load(&pool.generation);
        pool.fn(pool.ctx, ith, pool.n);
        if (atomic_fetch_sub_explicit(&pool.pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&pool.mu);
            pthread_cond_signal(&pool.done);
            pthread_mutex_unlock(&pool.mu);
        }
    }
}

static void stop_workers(void) {
    pthread_mutex_lock(&pool.mu);
    pool.stop = 1;
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.mu);
    for (int i = 1; i < pool.n; i++) pthread_join(pool.threads[i], NULL);
    pool.stop = 0;
    pool.n = 1;
}

int mg_set_threads(int n) {
    if (n < 1 || n > MG_MAX_THREADS) return mg_fail(MG_EINVAL, "threads must be in [1, %d], got %d", MG_MAX_THREADS, n);
    if (n == pool.n) return MG_OK;
    stop_workers();
    pool.start_generation = atomic_load(&pool.generation);
    for (int i = 1; i < n; i++) {
        if (pthread_create(&pool.threads[i], NULL, worker, (void *)(intptr_t)i)) {
            pool.n = i;
            stop_workers();
            return mg_fail(MG_ENOMEM, "could not start thread %d of %d", i + 1, n);
        }
        pool.n = i + 1;
    }
    return MG_OK;
}

int mg_get_threads(void) { return pool.n; }

static size_t min_work = MG_DEFAULT_MIN_PARALLEL_WORK;
static int serial; /* mg_pool_serial: every job on the caller alone (the workers are left asleep) */

void mg_set_min_parallel_work(size_t bytes) { min_work = bytes; }

int mg_pool_serial(int on) {
    int was = serial;
    serial = on;
    return was;
}

void mg_pool_run(mg_task_fn fn, void *ctx, size_t work) {
    if (pool.n == 1 || serial || work < min_work) {
        fn(ctx, 0, 1);
        return;
    }
    if (work / 8 < min_work && atomic_load(&pool.sleeping) > 0) { /* wake them for the next job, do this one */
        pthread_mutex_lock(&pool.mu);
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.mu);
        fn(ctx, 0, 1);
        return;
    }
    pool.fn = fn;
    pool.ctx = ctx;
    atomic_store(&pool.pending, pool.n - 1);
    pthread_mutex_lock(&pool.mu);
    atomic_fetch_add_explicit(&pool.generation, 1, memory_order_release);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.mu);
    fn(ctx, 0, pool.n);
    int spins = 0;
    while (atomic_load_explicit(&pool.pending, memory_order_acquire) > 0 && spins < SPINS) spins++;
    pthread_mutex_lock(&pool.mu);
    while (atomic_load(&pool.pending) > 0) pthread_cond_wait(&pool.done, &pool.mu);
    pthread_mutex_unlock(&pool.mu);
}

#else

int mg_set_threads(int n) {
    if (n != 1) return mg_fail(MG_EINVAL, "this build has no threads: threads must be 1, got %d", n);
    return MG_OK;
}

int mg_get_threads(void) { return 1; }

void mg_set_min_parallel_work(size_t bytes) { (void)bytes; }

int mg_pool_serial(int on) {
    (void)on;
    return 0;
}

void mg_pool_run(mg_task_fn fn, void *ctx, size_t work) {
    (void)work;
    fn(ctx, 0, 1);
}

#endif

void mg_split(int n, int ith, int nth, int align, int *i0, int *i1) {
    int blocks = (n + align - 1) / align, per = (blocks + nth - 1) / nth;
    int b0 = per * ith, b1 = b0 + per < blocks ? b0 + per : blocks;
    *i0 = b0 * align < n ? b0 * align : n;
    *i1 = b1 * align < n ? b1 * align : n;
}

/* ---- mg_pool_for: an elementwise loop over [0, n) in one contiguous share per thread */

typedef struct {
    mg_range_fn fn;
    void *ctx;
    size_t n;
} range_job;

static void range_task(void *ctx, int ith, int nth) {
    const range_job *j = ctx;
    /* in 64 bits: n x nth can pass 2^32 in wasm32 (n up to 2^29 floats, 16 threads) */
    size_t i0 = (size_t)((uint64_t)j->n * ith / nth), i1 = (size_t)((uint64_t)j->n * (ith + 1) / nth);
    if (i0 < i1) j->fn(j->ctx, i0, i1);
}

void mg_pool_for(mg_range_fn fn, void *ctx, size_t n, size_t work) {
    range_job j = {fn, ctx, n};
    mg_pool_run(range_task, &j, work);
}
