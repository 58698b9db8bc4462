/* SPDX-License-Identifier: MIT */
/*
 * Concurrency: many threads in one address space, each driving its own
 * simulated CPU, under the sim's locked env (vmar_sim_env_locked():
 * faults take the space lock shared and the page-table lock of their
 * 2 MiB leaf block, layout changes take the space lock exclusively).
 * Every scenario runs on the backend the harness selects
 * (VMAR_TEST_BACKEND; ctest runs the suite once per backend), with the
 * stale-TLB detector of the CPUs on: afterwards no CPU used a
 * translation a flush should have removed (vmar_sim_violations() is 0),
 * vmar_check is clean (on a hardware format the reference decoder
 * agrees with the raw tables), RSS is exact and nothing leaked
 * (vt_teardown). The suite holds for both page-table lock modes: one
 * lock for the whole table, and with VMAR_MMU_CAP_SPLIT_PT one per leaf
 * block, where the backend runs faults on different blocks at once.
 *
 * The CPUs walk the tables without the space lock, as hardware does. The
 * sim backend keeps its walks safe beside its own changes, and records
 * each change of translations until its flush, so that a CPU's hit in
 * that window, legal on hardware, is not counted as stale. The hardware
 * formats do neither on the sim, so the suite runs them through a guard
 * (see "the hardware formats under the simulated CPUs"): a walk never
 * overlaps a call that frees a table or, without VMAR_MMU_CAP_SPLIT_PT,
 * one that writes entries; with it, faults write entries beside the
 * walks and beside each other, as the contract's single-word access
 * allows.
 *
 * test_same_page_race: two faults on one absent page, lined up with the
 * sim's frame hook so that both allocate a frame: exactly one is
 * installed, the loser's goes back, the counters stay exact.
 *
 * test_check_beside_copies: a user copy (vmar_read, vmar_write,
 * vmar_fill_zero) is held inside its copy, with its frame pinned, while
 * vmar_check runs: a pin is no sharing, so the check stays clean; and a
 * copy-on-write break does not reuse a frame another space's copy still
 * reads.
 *
 * test_pin_beside_copies: a write fault on a DMA-pinned page keeps the
 * pinned frame while a user copy of the same space pins it too; a read
 * pin of a frame another space's copy still pins takes a copy of its
 * own.
 *
 * test_stress: N_ACCESS threads fault and access pages they own, in
 * neighbouring leaf blocks (tag bytes checked on every read; two of them
 * also through vmar_read and vmar_write), two of them also share pages
 * (one they both write in disjoint slots, and a region the layout thread
 * keeps replacing, so that both keep faulting on the same fresh pages of
 * one leaf table), while one thread maps, unmaps, protects, remaps and
 * forks other ranges (the forks write-protect the owned pages, so the
 * owners take copy-on-write faults), and one more thread runs vmar_check
 * over and over beside all of them.
 *
 * test_shared_pages: SHARE_CPUS threads, each driving a CPU, write and
 * read the same words and bytes of the same pages (a user program racing
 * with itself), while another thread drops the pages, maps fresh ones
 * over them and forks, so that every CPU keeps faulting on them. Reads
 * see zero or whole words of the right page (an aligned word never
 * tears); under ThreadSanitizer the simulated user memory is no data race
 * (the CPUs copy with relaxed atomics: src/mmu/sim/machine/cpu.c).
 *
 * test_split_tables: SPLIT_THREADS threads each write pages of their own
 * leaf block of one mapping; the blocks are neighbours, half of them on
 * either side of a 1 GiB boundary inside a top-level slot nothing else
 * uses, so that every table above them is missing and the threads race
 * to link the same upper tables (with VMAR_MMU_CAP_SPLIT_PT the frame
 * hook lines their first table allocations up). Between rounds the
 * mapping is unmapped (every table goes again) and mapped anew. After
 * each round every page is present with a frame of its own and its tag,
 * RSS is exact, the table pages are exactly those the blocks need
 * (counted per level from the format's depth), frames_live is the pages
 * plus those tables (no table page of a lost race stays allocated), and
 * after the unmap the table count and frames are back where they were.
 *
 * test_layout_races: RACE_CPUS threads fault on one mapping (across a
 * leaf-block boundary) while a layout thread unmaps and remaps parts of
 * that very mapping, maps fresh pages over it, protects it (read-only,
 * none, writable), moves parts out and back (vmar_remap), forks and
 * drops its pages (VMAR_ADVISE_DONTNEED), and a checker thread runs
 * vmar_check throughout. A fault may be refused (VMAR_ENOENT in a hole,
 * VMAR_EACCES under a protection) and nothing else; every read that
 * succeeds sees zero or a tag written for that page (each thread's own
 * word: zero or the last value it wrote), and zero everywhere else.
 *
 * test_neighbour_churn: faults on one mapping beside map and unmap of
 * other ranges and at the mapping's ends (see the test).
 *
 * test_stack_growth: faults of several threads growing one grow-down
 * mapping at once (see the test).
 *
 * test_pin_stress: PS_OWNERS threads pin and unpin pages (vmar_pin,
 * read and write pins, one to three pages) of their own private
 * anonymous, shared anonymous, shared object and private object
 * regions, write through the pinned frames (the device) and through
 * their CPUs, and fork, while a fault thread faults and reads on all of
 * those pages, a layout thread unmaps, maps over, protects, moves out
 * and back and drops them, and a lock thread mlocks, munlocks, mlockalls
 * and forks. Unless the region was replaced meanwhile (a change count
 * per region), the space reads what the device wrote and the pinned
 * frame holds what the space wrote (a write fault keeps a pinned frame),
 * a read-pinned frame holds what the space reads, and the child of a
 * fork keeps a pinned private page as it was at the fork (shared pages:
 * the device's later write). A held pin's frame stays allocated with
 * the device's last word after its page is unmapped or replaced, until
 * the unpin. Afterwards no pin is left, the locked count is the locked
 * mappings' size, and once the regions and objects are gone the frame
 * pool is back at its starting count.
 *
 * test_frame_caches: the machine's per-thread frame caches keep the
 * pool's promises across threads: frames freed on one thread (into its
 * cache) are free in the stats and allocated on another, poisoned and
 * zeroed on request; a thread that exits gives its cache back in order;
 * an allocation fails only when no frame is free in any cache; and two
 * threads allocating and freeing at once over a pool that their cached
 * frames would exhaust never see VMAR_ENOMEM, with the counters exact
 * afterwards.
 *
 * Bounded in time: VMAR_TEST_SECONDS (default 2) shared by the timed
 * scenarios (stress half of it; shared pages, layout races, neighbour
 * churn and pin stress a quarter each, split tables at most a quarter,
 * stack growth an eighth), so that one run
 * per backend stays short under every preset. Randomised: each scenario prints
 * its seed; VMAR_TEST_SEED replays the choices (the thread interleaving is the
 * scheduler's).
 *
 * cmocka's assertions longjmp and are for the main thread only: worker
 * threads count and print their failures, the main thread asserts them.
 */
/* clock_gettime, pthread barriers and timed waits under -std=c11. */
#define _GNU_SOURCE

#include "harness.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vmar/error.h>
#include <vmar/fault.h>

#define RW (VMAR_PROT_READ | VMAR_PROT_WRITE)
#define RD VMAR_ACCESS_READ
#define WR VMAR_ACCESS_WRITE

/* ---- the hardware formats under the simulated CPUs ------------------ */

/*
 * A simulated CPU walks its space's table through vmar_space_translate(),
 * that is the backend's find_next, without any lock of libvmar's, as a
 * hardware walker does. On hardware, each entry is one word the walker
 * reads at once, and a table is freed only after the flush, which waits
 * for the walks in flight (the IPI). The sim's CPUs walk under their own
 * mutex, which a flush through the machine takes, so a flush waits for
 * the walks in flight there too. A backend with VMAR_MMU_CAP_SPLIT_PT
 * reads and writes every entry as one atomic word (docs/CONTRACT.md,
 * "Concurrency"), so its calls run beside the walks and beside each other
 * as on hardware, and ThreadSanitizer judges the words. A backend
 * without it may read plain memory: for such a backend the wrapper adds
 * one reader-writer lock (writer-preferring, so that walks cannot starve
 * a fault) that walks (find_next) and prepare read-lock and every change
 * write-locks. The wrapper also records each change of translations
 * until its flush, as the sim backend does (vmar_sim_change_begin,
 * _end), so that a CPU's hit in that window is excused and a missed
 * flush is reported.
 *
 * One guard per process: the scenarios run one after the other, and
 * every table of a scenario (the space's and its forks') shares it.
 */
static struct {
    const struct vmar_mmu_ops *real;
    struct vmar_sim *sim;
    struct vmar_mmu_ops ops;
    pthread_rwlock_t lock;
    bool ready;
} guard;

/* Whether this thread holds the guard for writing: a flush inside a
 * change (a full batch, replace's own) must not wait for itself. */
static _Thread_local bool guard_writing;

/* Whether the backend needs the lock (see above). */
static bool guard_locks(void)
{
    return (guard.real->caps & VMAR_MMU_CAP_SPLIT_PT) == 0;
}

static void guard_write(void)
{
    if (!guard_locks())
        return;
    if (pthread_rwlock_wrlock(&guard.lock) != 0)
        abort();
    guard_writing = true;
}

static void guard_write_end(void)
{
    if (!guard_locks())
        return;
    guard_writing = false;
    pthread_rwlock_unlock(&guard.lock);
}

/* Take the guard for a reading call; returns whether it was taken. */
static bool guard_read(void)
{
    if (guard_writing || !guard_locks())
        return false;
    if (pthread_rwlock_rdlock(&guard.lock) != 0)
        abort();
    return true;
}

static void guard_read_end(bool taken)
{
    if (taken)
        pthread_rwlock_unlock(&guard.lock);
}

/* A call the core makes under the shared space lock (map, protect,
 * replace): exclusive of walks and other faults without split locks. */
static bool guard_shared(void)
{
    if (!guard_locks())
        return false;
    guard_write();
    return true;
}

static void guard_shared_end(bool taken)
{
    if (!taken)
        return;
    if (guard_writing)
        guard_write_end();
    else
        guard_read_end(true);
}

/* The name the CPUs and the machine know `mmu` by. */
static uint64_t guard_table(const struct vmar_mmu *mmu)
{
    struct vmar_mmu_activation a;

    guard.real->activation(mmu, &a);
    return a.value;
}

static void guard_change_end(struct vmar_mmu *mmu, vmar_addr_t lo,
                             vmar_addr_t hi, const struct vmar_tlb_batch *batch)
{
    vmar_sim_change_end(guard.sim, guard_table(mmu), lo, hi,
                        batch != NULL ? batch->lo : 0,
                        batch != NULL ? batch->hi : 0);
}

static void g_destroy(struct vmar_mmu *mmu)
{
    uint64_t table = guard_table(mmu);

    guard_write();
    guard.real->destroy(mmu);
    guard_write_end();
    /* Records a missed flush left must not match a later table. */
    vmar_sim_tlb_flush(guard.sim, table, 0, 0);
}

static int g_prepare(struct vmar_mmu *mmu, vmar_addr_t va, vmar_size_t len,
                     enum vmar_mmu_prep what, struct vmar_frame_list *resv)
{
    bool taken = guard_read();
    int rc = guard.real->prepare(mmu, va, len, what, resv);

    guard_read_end(taken);
    return rc;
}

static void g_map(struct vmar_mmu *mmu, vmar_addr_t va,
                  const struct vmar_pte *pte, struct vmar_frame_list *resv)
{
    bool taken = guard_shared();

    guard.real->map(mmu, va, pte, resv);
    guard_shared_end(taken);
}

static size_t g_unmap(struct vmar_mmu *mmu, vmar_addr_t va, vmar_size_t len,
                      struct vmar_frame_list *resv,
                      struct vmar_tlb_batch *batch)
{
    size_t pages;

    vmar_sim_change_begin(guard.sim, guard_table(mmu), va, va + len);
    guard_write();
    pages = guard.real->unmap(mmu, va, len, resv, batch);
    guard_write_end();
    guard_change_end(mmu, va, va + len, batch);
    return pages;
}

static void g_protect(struct vmar_mmu *mmu, vmar_addr_t va, vmar_size_t len,
                      unsigned prot, struct vmar_frame_list *resv,
                      struct vmar_tlb_batch *batch)
{
    bool taken;

    vmar_sim_change_begin(guard.sim, guard_table(mmu), va, va + len);
    taken = guard_shared();
    guard.real->protect(mmu, va, len, prot, resv, batch);
    guard_shared_end(taken);
    guard_change_end(mmu, va, va + len, batch);
}

static int g_find_next(const struct vmar_mmu *mmu, vmar_addr_t *va,
                       vmar_addr_t end, struct vmar_pte *pte)
{
    bool taken = guard_read();
    int rc = guard.real->find_next(mmu, va, end, pte);

    guard_read_end(taken);
    return rc;
}

/* The backend's flush reaches the CPUs through env->tlb_flush; this one
 * also drops the records of the changes it covers. */
static void g_flush(struct vmar_mmu *mmu, vmar_addr_t va, vmar_size_t len)
{
    guard.real->flush(mmu, va, len);
    vmar_sim_tlb_flush(guard.sim, guard_table(mmu), va, len);
}

static void g_map_range(struct vmar_mmu *mmu, vmar_addr_t va,
                        const struct vmar_pte *pte, vmar_size_t len,
                        unsigned flags, struct vmar_frame_list *resv)
{
    guard_write();
    guard.real->map_range(mmu, va, pte, len, flags, resv);
    guard_write_end();
}

static size_t g_copy(struct vmar_mmu *dst, const struct vmar_mmu *src,
                     vmar_addr_t *va, vmar_addr_t end, unsigned flags,
                     struct vmar_frame_list *resv, vmar_mmu_take_fn *take,
                     void *arg)
{
    size_t lack;

    guard_write();
    lack = guard.real->copy(dst, src, va, end, flags, resv, take, arg);
    guard_write_end();
    return lack;
}

static void g_move(struct vmar_mmu *mmu, vmar_addr_t va, vmar_size_t len,
                   vmar_addr_t to, struct vmar_frame_list *resv,
                   vmar_mmu_take_fn *moved, void *arg)
{
    guard_write();
    guard.real->move(mmu, va, len, to, resv, moved, arg);
    guard_write_end();
}

/* A change of the source's translations, as unmap's; the target's slots
 * were empty. */
static void g_transfer(struct vmar_mmu *mmu, vmar_addr_t va, vmar_size_t len,
                       vmar_addr_t to, struct vmar_frame_list *resv,
                       struct vmar_tlb_batch *batch)
{
    vmar_sim_change_begin(guard.sim, guard_table(mmu), va, va + len);
    guard_write();
    guard.real->transfer(mmu, va, len, to, resv, batch);
    guard_write_end();
    guard_change_end(mmu, va, va + len, batch);
}

static void g_replace(struct vmar_mmu *mmu, vmar_addr_t va,
                      const struct vmar_pte *pte, struct vmar_tlb_batch *batch)
{
    bool taken;

    vmar_sim_change_begin(guard.sim, guard_table(mmu), va, va + PG);
    taken = guard_shared();
    guard.real->replace(mmu, va, pte, batch);
    guard_shared_end(taken);
    guard_change_end(mmu, va, va + PG, batch);
}

/* `real` wrapped for the CPUs of `sim`. */
static const struct vmar_mmu_ops *guard_ops(const struct vmar_mmu_ops *real,
                                            struct vmar_sim *sim)
{
    if (!guard.ready) {
        pthread_rwlockattr_t attr;

        assert_int_equal(pthread_rwlockattr_init(&attr), 0);
        pthread_rwlockattr_setkind_np(
            &attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
        assert_int_equal(pthread_rwlock_init(&guard.lock, &attr), 0);
        pthread_rwlockattr_destroy(&attr);
        guard.ready = true;
    }
    assert_non_null(real->activation);
    guard.real = real;
    guard.sim = sim;
    guard.ops = *real;
    guard.ops.destroy = g_destroy;
    guard.ops.prepare = g_prepare;
    guard.ops.map = g_map;
    guard.ops.unmap = g_unmap;
    guard.ops.protect = g_protect;
    guard.ops.find_next = g_find_next;
    guard.ops.flush = g_flush;
    guard.ops.replace = g_replace;
    guard.ops.map_range = real->map_range ? g_map_range : NULL;
    guard.ops.copy = real->copy ? g_copy : NULL;
    guard.ops.move = real->move ? g_move : NULL;
    guard.ops.transfer = real->transfer ? g_transfer : NULL;
    return &guard.ops;
}

/* ---- fixture: a machine, a locked space, CPUs ---------------------- */

#define MAX_CPUS 8

struct cc {
    struct vt vt;
    struct vmar_sim_lock *lock;
    struct vmar_sim_cpu *cpu[MAX_CPUS];
    unsigned ncpu;
};

/* A space over the selected backend (vt_use_backend): the sim's as it
 * is, a hardware format's through the guard above. The raw ops, not the
 * harness's counting copy: its counters are not for threads. */
static void cc_setup(struct cc *c, size_t nframes, unsigned ncpu)
{
    struct vmar_sim_opts so = {
        .nframes = nframes, .seed = 42, .with_random = true, .verbose = true};

    memset(c, 0, sizeof(*c));
    assert_int_equal(vmar_sim_create(&so, &c->vt.sim), 0);
    assert_int_equal(vmar_sim_lock_create(&c->lock), 0);
    /* The locked env: the space lock is a real rwlock taken by libvmar. */
    c->vt.env = vmar_sim_env_locked(c->vt.sim);
    c->vt.opts.env = c->vt.env;
    vt_use_backend(&c->vt.opts, c->vt.sim, &c->vt.cfg);
    if (vt_backend()->real)
        c->vt.opts.mmu = guard_ops(vt_backend()->ops, c->vt.sim);
    c->vt.opts.lock = c->lock;
    assert_int_equal(vmar_space_create(&c->vt.opts, &c->vt.space), 0);
    c->vt.refcheck = vt_backend()->real;
    c->ncpu = ncpu;
    for (unsigned i = 0; i < ncpu; i++) {
        assert_int_equal(vmar_sim_cpu_create(c->vt.sim, 0, &c->cpu[i]), 0);
        vmar_sim_cpu_switch(c->cpu[i], c->vt.space);
    }
}

static void cc_teardown(struct cc *c)
{
    for (unsigned i = 0; i < c->ncpu; i++) {
        vmar_sim_cpu_switch(c->cpu[i], NULL);
        vmar_sim_cpu_destroy(c->cpu[i]);
    }
    vmar_space_destroy(c->vt.space);
    c->vt.space = NULL;
    vmar_sim_lock_destroy(c->lock);
    vt_teardown(&c->vt); /* asserts every frame and block came back */
}

/* Fork `parent`, a space of the fixture's machine, into *child under
 * `lock`; the child's backend config is its own (vt_child_config: on a
 * hardware format another PCID or ASID). Any thread may call it. */
static int cc_fork(struct cc *c, struct vmar_space *parent,
                   struct vmar_sim_lock *lock, struct vmar_space **child)
{
    struct vt cv;
    struct vmar_fork_opts fo = {.lock = lock};

    fo.mmu_config = vt_child_config(&c->vt, &cv, 0x42);
    return vmar_fork(parent, &fo, child);
}

/* Fork `space` (cc_fork), check the child and destroy it: 0, or the
 * first error of the lock, the fork or vmar_check(child). */
static int cc_fork_checked(struct cc *c, struct vmar_space *space)
{
    struct vmar_sim_lock *lock;
    struct vmar_space *child;
    int rc = vmar_sim_lock_create(&lock);

    if (rc != 0)
        return rc;
    rc = cc_fork(c, space, lock, &child);
    if (rc == 0) {
        rc = vmar_check(child);
        vmar_space_destroy(child);
    }
    vmar_sim_lock_destroy(lock);
    return rc;
}

static void map_fixed(struct cc *c, vmar_addr_t addr, size_t pages)
{
    struct vmar_map_opts o = {.addr = addr,
                              .size = pages * PG,
                              .place = VMAR_PLACE_FIXED,
                              .prot = RW};

    assert_int_equal(vmar_map(c->vt.space, &o, NULL), 0);
}

/* RSS exact: the counters equal the translations present. */
static void expect_rss_exact(struct cc *c)
{
    struct vmar_stats st;
    vmar_size_t bytes = 0;

    vmar_stats(c->vt.space, &st);
    assert_int_equal(vmar_resident(c->vt.space, st.user_lo, st.user_hi, &bytes),
                     0);
    assert_int_equal(st.resident, bytes);
    assert_int_equal(st.resident_anon + st.resident_file, st.resident);
}

/* ---- threads ------------------------------------------------------- */

static double test_seconds(void)
{
    const char *e = getenv("VMAR_TEST_SECONDS");
    double v = e ? strtod(e, NULL) : 2.0;

    return v > 0 ? v : 2.0;
}

static struct timespec deadline_after(double secs)
{
    struct timespec t;
    long long ns;

    clock_gettime(CLOCK_MONOTONIC, &t);
    ns = (long long)t.tv_nsec + (long long)(secs * 1e9);
    t.tv_sec += (time_t)(ns / 1000000000LL);
    t.tv_nsec = (long)(ns % 1000000000LL);
    return t;
}

/* The threads' loops are do-while: each runs at least once, however
 * slow the host (under valgrind a thread may not be scheduled before the
 * deadline). */
static bool past(const struct timespec *deadline)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > deadline->tv_sec ||
           (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

#define FAIL(s, ...)                                                           \
    do {                                                                       \
        fprintf(stderr, "FAIL: " __VA_ARGS__);                                 \
        __atomic_add_fetch(&(s)->failures, 1, __ATOMIC_RELAXED);               \
    } while (0)

/* A scenario's threads: thread t of `s` runs with a struct job {s, t}. */
struct job {
    void *s;
    unsigned t;
};

typedef void *(*job_main)(void *);

#define MAX_JOBS (MAX_CPUS + 2)

struct jobs {
    struct job job[MAX_JOBS];
    pthread_t th[MAX_JOBS];
    unsigned n;
};

/* Start `workers` threads running `worker` (threads 0 to workers - 1),
 * then `layout` and `checker` when not NULL. */
static void jobs_start(struct jobs *j, void *s, unsigned workers,
                       job_main worker, job_main layout, job_main checker)
{
    const job_main extra[2] = {layout, checker};

    j->n = 0;
    for (unsigned t = 0; t < workers + 2; t++) {
        job_main fn = t < workers ? worker : extra[t - workers];

        if (fn == NULL)
            continue;
        assert_true(j->n < MAX_JOBS);
        j->job[j->n] = (struct job){s, j->n};
        assert_int_equal(pthread_create(&j->th[j->n], NULL, fn, &j->job[j->n]),
                         0);
        j->n++;
    }
}

static void jobs_join(struct jobs *j)
{
    for (unsigned t = 0; t < j->n; t++)
        assert_int_equal(pthread_join(j->th[t], NULL), 0);
}

/* A timed scenario: set *deadline `secs` ahead, run the threads as
 * jobs_start would start them until they all stop, and print
 * "<what>: ops per thread: n0 n1 ..." (without the line's end) from
 * ops[0 .. nops). */
static void jobs_run(void *s, struct timespec *deadline, double secs,
                     unsigned workers, job_main worker, job_main layout,
                     job_main checker, const char *what,
                     const unsigned long *ops, unsigned nops)
{
    struct jobs jobs;

    *deadline = deadline_after(secs);
    jobs_start(&jobs, s, workers, worker, layout, checker);
    jobs_join(&jobs);
    fprintf(stderr, "%s: ops per thread:", what);
    for (unsigned t = 0; t < nops; t++)
        fprintf(stderr, " %lu", ops[t]);
}

/* After a timed scenario: each of its `n` threads ran (ops[t] counts
 * thread t's loops), the CPUs took faults (which of them took the first
 * touches is the scheduler's choice) or, with `faults`, vmar_fault()
 * calls of the scenario's own mapped pages, and none used a stale
 * translation. */
static void expect_ran_faults(struct cc *c, const unsigned long *ops,
                              unsigned n, size_t faults)
{
    for (unsigned t = 0; t < n; t++)
        assert_true(ops[t] > 0);
    for (unsigned i = 0; i < c->ncpu; i++) {
        struct vmar_sim_cpu_stats cs;

        vmar_sim_cpu_stats(c->cpu[i], &cs);
        faults += cs.faults;
    }
    assert_true(faults > 0);
    assert_int_equal(vmar_sim_violations(c->vt.sim), 0);
}

static void expect_ran(struct cc *c, const unsigned long *ops, unsigned n)
{
    expect_ran_faults(c, ops, n, 0);
}

/* ---- two faults on one absent page --------------------------------- */

/* The frame hook holds each data-frame allocation (a demand-zero fault
 * asks for exactly VMAR_FRAME_ZERO; table pages add VMAR_FRAME_TABLE)
 * until two have arrived: both faults then own a frame for the page. */
struct rendezvous {
    pthread_mutex_t m;
    pthread_cond_t cv;
    unsigned arrived;
    bool timed_out;
};

static void rendezvous_hook(void *arg, unsigned flags)
{
    struct rendezvous *r = arg;
    struct timespec until;

    if (flags != VMAR_FRAME_ZERO)
        return;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10; /* a broken fault path fails, it does not hang */
    pthread_mutex_lock(&r->m);
    r->arrived++;
    pthread_cond_broadcast(&r->cv);
    while (r->arrived < 2 && !r->timed_out)
        if (pthread_cond_timedwait(&r->cv, &r->m, &until) != 0)
            r->timed_out = true;
    pthread_mutex_unlock(&r->m);
}

struct racer {
    struct vmar_sim_cpu *cpu;
    vmar_addr_t va;
    unsigned char buf[64];
    int rc;
};

static void *racer_main(void *arg)
{
    struct racer *r = arg;

    r->rc = vmar_sim_cpu_access(r->cpu, r->va, RD, r->buf, sizeof(r->buf));
    return NULL;
}

static void test_same_page_race(void **state)
{
    struct cc c;
    struct rendezvous rv = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
                            0, false};
    const vmar_addr_t base = 0x40000000;
    struct racer r[2];
    pthread_t th[2];
    struct vmar_sim_stats s0, s1;
    struct vmar_stats st;
    vmar_size_t bytes = 0;
    unsigned char zero[64] = {0};
    uint64_t one = 1;

    (void)state;
    cc_setup(&c, 0, 2);
    map_fixed(&c, base, 2);
    /* The neighbour's fault builds the tables, so the race below needs
     * nothing but its data frame. */
    assert_int_equal(vmar_write(c.vt.space, base + PG, &one, sizeof(one), NULL),
                     0);
    s0 = vt_stats(&c.vt); /* leaves counted on every backend */
    vmar_sim_set_frame_hook(c.vt.sim, rendezvous_hook, &rv);
    for (int i = 0; i < 2; i++) {
        r[i] = (struct racer){.cpu = c.cpu[i], .va = base, .rc = -1};
        memset(r[i].buf, 0xee, sizeof(r[i].buf));
        assert_int_equal(pthread_create(&th[i], NULL, racer_main, &r[i]), 0);
    }
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    vmar_sim_set_frame_hook(c.vt.sim, NULL, NULL);
    s1 = vt_stats(&c.vt);

    assert_false(rv.timed_out);
    assert_int_equal(rv.arrived, 2);
    for (int i = 0; i < 2; i++) {
        struct vmar_sim_cpu_stats cs;

        assert_int_equal(r[i].rc, 0);
        assert_memory_equal(r[i].buf, zero, sizeof(zero));
        vmar_sim_cpu_stats(c.cpu[i], &cs);
        assert_int_equal(cs.faults, 1);
    }
    /* Both faults allocated; one frame was installed, the other freed. */
    assert_int_equal(s1.frame_alloc_calls, s0.frame_alloc_calls + 2);
    assert_int_equal(s1.frames_live, s0.frames_live + 1);
    assert_int_equal(s1.leaves_live, s0.leaves_live + 1);
    vmar_stats(c.vt.space, &st);
    assert_int_equal(st.resident, 2 * PG);
    assert_int_equal(st.resident_anon, 2 * PG);
    assert_int_equal(vmar_resident(c.vt.space, base, base + 2 * PG, &bytes), 0);
    assert_int_equal(bytes, 2 * PG);
    VT_CHECK(&c.vt);
    assert_int_equal(vmar_sim_violations(c.vt.sim), 0);
    cc_teardown(&c);
}

/* ---- vmar_check beside a user copy --------------------------------- */

/* A user copy of a present page reaches its frame's count word
 * (env->frame_refcount) twice: to pin the frame, before it takes the pin,
 * and to drop the pin after its copy. This env's frame_refcount holds the
 * thread `held` at its second call (armed) until the main thread lets it
 * go: a window in which the pin is certainly taken and the copy not done.
 * (The sim backend insists on its own phys_to_virt, else that would be
 * the place.) The pages are present and allow the copy beforehand, so
 * the copy's fault is spurious and reaches no count word itself. */
static struct pin_window {
    const struct vmar_env *base;
    struct vmar_env env;
    pthread_mutex_t m;
    pthread_cond_t cv;
    pthread_t held;
    unsigned calls;
    bool armed, inside, release, timed_out;
} pw = {.m = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

/* Wait on pw.cv until *flag; false after 10 s (a broken test fails, it
 * does not hang). => pw.m held. */
static bool pw_wait(const bool *flag)
{
    struct timespec until;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    while (!*flag && !pw.timed_out)
        if (pthread_cond_timedwait(&pw.cv, &pw.m, &until) != 0)
            pw.timed_out = true;
    return *flag;
}

static size_t *pw_frame_refcount(void *ctx, vmar_paddr_t pa)
{
    pthread_mutex_lock(&pw.m);
    if (pw.armed && pthread_equal(pthread_self(), pw.held) && ++pw.calls == 2) {
        pw.armed = false;
        pw.inside = true;
        pthread_cond_broadcast(&pw.cv);
        pw_wait(&pw.release);
    }
    pthread_mutex_unlock(&pw.m);
    return pw.base->frame_refcount(ctx, pa);
}

enum pw_copy {
    PW_READ,
    PW_WRITE,
    PW_ZERO
};

struct pw_job {
    struct vmar_space *space;
    vmar_addr_t va;
    enum pw_copy kind;
    uint64_t v; /* read into, or written from */
    int rc;
};

static void *pw_copier(void *arg)
{
    struct pw_job *j = arg;

    switch (j->kind) {
    case PW_READ:
        j->rc = vmar_read(j->space, j->va, &j->v, sizeof(j->v), NULL);
        break;
    case PW_WRITE:
        j->rc = vmar_write(j->space, j->va, &j->v, sizeof(j->v), NULL);
        break;
    case PW_ZERO:
        j->rc = vmar_fill_zero(j->space, j->va, sizeof(j->v), NULL);
        break;
    }
    return NULL;
}

/* Start `j` on a thread and return once it is inside its copy. */
static void pw_hold(struct pw_job *j, pthread_t *th)
{
    pthread_mutex_lock(&pw.m);
    pw.inside = pw.release = false;
    pw.calls = 0;
    pw.armed = true;
    assert_int_equal(pthread_create(th, NULL, pw_copier, j), 0);
    pw.held = *th;
    pthread_cond_broadcast(&pw.cv);
    assert_true(pw_wait(&pw.inside));
    pthread_mutex_unlock(&pw.m);
}

static void pw_let_go(pthread_t th)
{
    pthread_mutex_lock(&pw.m);
    pw.release = true;
    pthread_cond_broadcast(&pw.cv);
    pthread_mutex_unlock(&pw.m);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_false(pw.timed_out);
}

/* A space of the fixture's machine on the holding env, with its lock. */
static struct vmar_space *pw_space(struct cc *c, struct vmar_sim_lock **lock)
{
    struct vmar_space_opts o = c->vt.opts;
    struct vmar_space *space;

    pw.base = c->vt.env;
    pw.env = *c->vt.env;
    pw.env.frame_refcount = pw_frame_refcount;
    pw.timed_out = false;
    assert_int_equal(vmar_sim_lock_create(lock), 0);
    o.env = &pw.env;
    o.lock = *lock;
    assert_int_equal(vmar_space_create(&o, &space), 0);
    return space;
}

static void test_check_beside_copies(void **state)
{
    const vmar_addr_t va = 0x40000000;
    struct vmar_sim_lock *lock, *child_lock;
    struct vmar_space *space, *child;
    struct cc c;
    pthread_t th;
    uint64_t v;
    (void)state;

    cc_setup(&c, 0, 0);
    space = pw_space(&c, &lock);
    struct vmar_map_opts o = {
        .addr = va, .size = PG, .place = VMAR_PLACE_FIXED, .prot = RW};
    assert_int_equal(vmar_map(space, &o, NULL), 0);
    v = 0x1111;
    assert_int_equal(vmar_write(space, va, &v, sizeof(v), NULL), 0);

    /* A private writable page, pinned by each kind of copy in turn: its
     * one reference is the leaf's, the pin is no sharing. */
    static const enum pw_copy kinds[] = {PW_READ, PW_WRITE, PW_ZERO};
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        struct pw_job j = {space, va, kinds[k], 0x2222, -1};
        pw_hold(&j, &th);
        assert_int_equal(vmar_check(space), 0);
        pw_let_go(th);
        assert_int_equal(j.rc, 0);
    }

    /* Another space's copy still reads the frame its own write just
     * replaced: the frame's only reference is this space's leaf, but the
     * pin forbids the copy-on-write break to reuse it in place, else that
     * copy would read this space's data written after the fork. */
    v = 0xaaaa;
    assert_int_equal(vmar_write(space, va, &v, sizeof(v), NULL), 0);
    assert_int_equal(vmar_sim_lock_create(&child_lock), 0);
    assert_int_equal(cc_fork(&c, space, child_lock, &child), 0);
    struct pw_job j = {child, va, PW_READ, 0, -1};
    pw_hold(&j, &th);
    v = 0xbbbb;
    assert_int_equal(vmar_write(child, va, &v, sizeof(v), NULL), 0);
    v = 0xcccc;
    assert_int_equal(vmar_write(space, va, &v, sizeof(v), NULL), 0);
    assert_int_equal(vmar_check(space), 0);
    assert_int_equal(vmar_check(child), 0);
    pw_let_go(th);
    assert_int_equal(j.rc, 0);
    assert_int_equal(j.v, 0xaaaa);
    assert_int_equal(vmar_read(child, va, &v, sizeof(v), NULL), 0);
    assert_int_equal(v, 0xbbbb);
    assert_int_equal(vmar_read(space, va, &v, sizeof(v), NULL), 0);
    assert_int_equal(v, 0xcccc);

    vmar_space_destroy(child);
    vmar_sim_lock_destroy(child_lock);
    vmar_space_destroy(space);
    vmar_sim_lock_destroy(lock);
    cc_teardown(&c);
}

/* DMA pins beside user copies. A write fault on a DMA-pinned page while
 * a user copy of the same space holds the frame: the pinned frame is the
 * space's own, so the fault reuses it (vmar_pin's promise) whatever
 * copies are running; a copy would leave the device writing a frame the
 * space no longer maps. And a read pin of a frame that another space's
 * copy still pins (its leaf there replaced by a copy-on-write break)
 * pins a copy of its own: the frame it pins is written in place from
 * then on, which the other space's copy must not see. */
static void test_pin_beside_copies(void **state)
{
    const vmar_addr_t va = 0x40000000;
    struct vmar_sim_lock *lock, *child_lock;
    struct vmar_space *space, *child;
    struct vmar_pte pte;
    struct cc c;
    pthread_t th;
    vmar_paddr_t pa, shared;
    uint64_t v = 0x1111;
    (void)state;

    cc_setup(&c, 0, 0);
    space = pw_space(&c, &lock);
    struct vmar_map_opts o = {
        .addr = va, .size = 2 * PG, .place = VMAR_PLACE_FIXED, .prot = RW};
    assert_int_equal(vmar_map(space, &o, NULL), 0);
    assert_int_equal(vmar_write(space, va, &v, sizeof(v), NULL), 0);
    /* After a fork, protect leaves private pages read-only. */
    assert_int_equal(vmar_sim_lock_create(&child_lock), 0);
    assert_int_equal(cc_fork(&c, space, child_lock, &child), 0);
    vmar_space_destroy(child);
    assert_int_equal(vmar_pin(space, va, 1, VMAR_PIN_WRITE, &pa), 0);
    /* A read-only round trip: the next write faults. */
    assert_int_equal(vmar_protect(space, va, PG, VMAR_PROT_READ), 0);
    assert_int_equal(vmar_protect(space, va, PG, RW), 0);
    assert_int_equal(vmar_space_translate(space, va, &pte), 0);
    assert_false(pte.prot & VMAR_PROT_WRITE);
    struct pw_job j = {space, va, PW_READ, 0, -1};
    pw_hold(&j, &th);
    assert_int_equal(vmar_fault(space, va, WR, 0), 0);
    assert_int_equal(vmar_space_translate(space, va, &pte), 0);
    assert_int_equal(pte.pa, pa);
    assert_int_equal(vmar_check(space), 0);
    pw_let_go(th);
    assert_int_equal(j.rc, 0);
    assert_int_equal(j.v, 0x1111);
    /* The device's write is the space's. */
    uint64_t *frame = c.vt.env->phys_to_virt(c.vt.env->ctx, pa);
    *frame = 0x2222;
    assert_int_equal(vmar_read(space, va, &v, sizeof(v), NULL), 0);
    assert_int_equal(v, 0x2222);
    vmar_unpin(space, &pa, 1);

    /* The child's copy pins the frame both spaces map; the child's write
     * gives it a copy of its own, leaving the parent's leaf the frame's
     * only reference. */
    v = 0xaaaa;
    assert_int_equal(vmar_write(space, va + PG, &v, sizeof(v), NULL), 0);
    assert_int_equal(cc_fork(&c, space, child_lock, &child), 0);
    assert_int_equal(vmar_space_translate(space, va + PG, &pte), 0);
    shared = pte.pa;
    j = (struct pw_job){child, va + PG, PW_READ, 0, -1};
    pw_hold(&j, &th);
    v = 0xbbbb;
    assert_int_equal(vmar_write(child, va + PG, &v, sizeof(v), NULL), 0);
    assert_int_equal(vmar_pin(space, va + PG, 1, 0, &pa), 0);
    assert_int_not_equal(pa, shared);
    v = 0xcccc;
    assert_int_equal(vmar_write(space, va + PG, &v, sizeof(v), NULL), 0);
    assert_int_equal(vmar_space_translate(space, va + PG, &pte), 0);
    assert_int_equal(pte.pa, pa);
    frame = c.vt.env->phys_to_virt(c.vt.env->ctx, shared);
    assert_int_equal(*frame, 0xaaaa);
    assert_int_equal(vmar_check(space), 0);
    assert_int_equal(vmar_check(child), 0);
    pw_let_go(th);
    assert_int_equal(j.rc, 0);
    assert_int_equal(j.v, 0xaaaa);
    vmar_unpin(space, &pa, 1);

    vmar_space_destroy(child);
    vmar_sim_lock_destroy(child_lock);
    vmar_space_destroy(space);
    vmar_sim_lock_destroy(lock);
    cc_teardown(&c);
}

/* ---- the stress test ----------------------------------------------- */

#define N_ACCESS     4
#define OWN_PAGES    48
#define OWN_BASE     ((vmar_addr_t)0x10000000) /* + t * OWN_STRIDE */
#define OWN_STRIDE   VMAR_MMU_LEAF_BLOCK       /* neighbouring leaf blocks */
#define SHARED_PAGE  ((vmar_addr_t)0x20000000) /* written by threads 0, 1 */
#define HAMMER_BASE  ((vmar_addr_t)0x21000000) /* read by threads 0, 1 */
#define HAMMER_PAGES 8
#define LAYOUT_BASE  ((vmar_addr_t)0x30000000) /* the layout thread's */
#define LAYOUT_PAGES 256
#define REMAP_DEST   ((vmar_addr_t)0x38000000)

struct stress {
    struct cc *c;
    uint64_t seed;
    struct timespec deadline;
    unsigned long failures; /* __atomic */
    unsigned long ops[N_ACCESS + 1];
    unsigned long forks, checks;
    /* Tag of each owned page: what its first 8 bytes hold (0: never
     * written, demand-zero). Each thread writes only its own row; the
     * main thread reads it after the join. */
    uint64_t tag[N_ACCESS][OWN_PAGES];
    uint64_t slot[2]; /* threads 0 and 1's last values in SHARED_PAGE */
};

/* Threads 2 and 3 also go through the kernel's user copies, a whole page
 * each (the copy pins the frame throughout, beside the checker thread's
 * vmar_check). A write keeps the page's shape: its tag, then zeros. */
static void kernel_copies(struct stress *s, unsigned t, vmar_addr_t page,
                          uint64_t *tag, uint64_t r)
{
    uint64_t buf[PG / sizeof(uint64_t)];
    int rc = vmar_read(s->c->vt.space, page, buf, sizeof(buf), NULL);

    if (rc != 0 || buf[0] != *tag)
        FAIL(s, "thread %u: vmar_read %#llx rc %d tag %#llx, expected %#llx\n",
             t, (unsigned long long)page, rc, (unsigned long long)buf[0],
             (unsigned long long)*tag);
    if ((r >> 40) % 2 == 0)
        return;
    memset(buf, 0, sizeof(buf));
    buf[0] = ((uint64_t)(t + 1) << 56) | (r >> 41 << 1) | 1;
    rc = vmar_write(s->c->vt.space, page, buf, sizeof(buf), NULL);
    if (rc != 0)
        FAIL(s, "thread %u: vmar_write %#llx rc %d\n", t,
             (unsigned long long)page, rc);
    else
        *tag = buf[0];
}

static void *access_main(void *arg)
{
    struct job *w = arg;
    struct stress *s = w->s;
    struct vmar_sim_cpu *cpu = s->c->cpu[w->t];
    const vmar_addr_t own = OWN_BASE + w->t * OWN_STRIDE;
    uint64_t rng = s->seed ^ (0x1000 + w->t);
    uint64_t version = 0;
    int rc;

    do {
        uint64_t r = vt_rand(&rng);
        unsigned p = (unsigned)(r % OWN_PAGES);
        vmar_addr_t va = own + p * PG + ((r >> 8) % (PG / 8 - 1)) * 8;
        uint64_t v = 0;

        s->ops[w->t]++;
        /* Every page's first word is its tag; the rest is zero or what
         * this thread wrote, which is not checked (the tag is). */
        rc = vmar_sim_cpu_access(cpu, own + p * PG, RD, &v, sizeof(v));
        if (rc != 0 || v != s->tag[w->t][p])
            FAIL(s, "thread %u page %u: read rc %d tag %#llx, expected %#llx\n",
                 w->t, p, rc, (unsigned long long)v,
                 (unsigned long long)s->tag[w->t][p]);
        if ((r >> 32) % 2 == 0) {
            v = ((uint64_t)(w->t + 1) << 56) | ((uint64_t)p << 40) | ++version;
            rc = vmar_sim_cpu_access(cpu, own + p * PG, WR, &v, sizeof(v));
            if (rc != 0)
                FAIL(s, "thread %u page %u: write rc %d\n", w->t, p, rc);
            else
                s->tag[w->t][p] = v;
        } else if (va != own + p * PG) {
            /* Another word of the page: exercises more of the frame. */
            rc = vmar_sim_cpu_access(cpu, va, RD, &v, sizeof(v));
            if (rc != 0)
                FAIL(s, "thread %u: read at %#llx rc %d\n", w->t,
                     (unsigned long long)va, rc);
        }
        if (w->t >= 2) {
            kernel_copies(s, w->t, own + p * PG, &s->tag[w->t][p], r);
            continue;
        }
        /* Threads 0 and 1 share a page, each writing its own slot. */
        vmar_addr_t slot = SHARED_PAGE + 64 * w->t;
        rc = vmar_sim_cpu_access(cpu, slot, RD, &v, sizeof(v));
        if (rc != 0 || v != s->slot[w->t])
            FAIL(s,
                 "thread %u shared slot: rc %d value %#llx, expected "
                 "%#llx\n",
                 w->t, rc, (unsigned long long)v,
                 (unsigned long long)s->slot[w->t]);
        v = r | 1;
        if (vmar_sim_cpu_access(cpu, slot, WR, &v, sizeof(v)) == 0)
            s->slot[w->t] = v;
        else
            FAIL(s, "thread %u shared slot: write failed\n", w->t);
        /* ... and both read the hammer region, which the layout thread
         * keeps replacing: two faults on the same fresh page, over and
         * over. Its pages are only ever read, so they hold zeros. */
        vmar_addr_t hv = HAMMER_BASE + ((r >> 16) % HAMMER_PAGES) * PG;
        rc = vmar_sim_cpu_access(cpu, hv, RD, &v, sizeof(v));
        if (rc != 0 || v != 0)
            FAIL(s, "thread %u hammer %#llx: rc %d value %#llx\n", w->t,
                 (unsigned long long)hv, rc, (unsigned long long)v);
    } while (!past(&s->deadline));
    return NULL;
}

/* vmar_check over and over, beside the faults, the CPUs' accesses, the
 * kernel copies and the layout changes. */
static void *check_main(void *arg)
{
    struct stress *s = ((struct job *)arg)->s;

    do {
        s->checks++;
        if (vmar_check(s->c->vt.space) != 0)
            FAIL(s, "vmar_check failed beside the others\n");
    } while (!past(&s->deadline));
    return NULL;
}

/* A random page-aligned sub-range of the layout area. */
static void pick_range(uint64_t *rng, vmar_addr_t *addr, vmar_size_t *size)
{
    size_t first = (size_t)(vt_rand(rng) % LAYOUT_PAGES);
    size_t n = 1 + (size_t)(vt_rand(rng) % 16);

    if (first + n > LAYOUT_PAGES)
        n = LAYOUT_PAGES - first;
    *addr = LAYOUT_BASE + first * PG;
    *size = n * PG;
}

static void *layout_main(void *arg)
{
    struct job *w = arg;
    struct stress *s = w->s;
    struct vmar_space *space = s->c->vt.space;
    uint64_t rng = s->seed ^ 0x2000;
    unsigned char buf[256];

    do {
        uint64_t r = vt_rand(&rng);
        vmar_addr_t a;
        vmar_size_t n;
        int rc = 0;

        s->ops[N_ACCESS]++;
        pick_range(&rng, &a, &n);
        switch (r % 8) {
        case 0: { /* map over part of the area */
            struct vmar_map_opts o = {
                .addr = a,
                .size = n,
                .place = VMAR_PLACE_FIXED,
                .prot = RW,
                .flags = (r >> 8) % 4 == 0 ? VMAR_MAP_POPULATE : 0u};
            rc = vmar_map(space, &o, NULL);
            break;
        }
        case 1:
            rc = vmar_unmap(space, a, n);
            break;
        case 2: /* unmapped parts give VMAR_ENOMEM, like mprotect */
            rc = vmar_protect(space, a, n,
                              (r >> 8) % 3 == 0 ? VMAR_PROT_READ : RW);
            if (rc == VMAR_ENOMEM)
                rc = 0;
            break;
        case 3: /* move a range out and back: page tables move */
            rc = vmar_remap(space, a, n, n,
                            VMAR_REMAP_MAYMOVE | VMAR_REMAP_FIXED, REMAP_DEST,
                            NULL);
            if (rc == 0)
                rc = vmar_remap(space, REMAP_DEST, n, n,
                                VMAR_REMAP_MAYMOVE | VMAR_REMAP_FIXED, a, NULL);
            else if (rc == VMAR_EFAULT)
                rc = 0; /* not (wholly) mapped there */
            break;
        case 4: /* the kernel's own user copies fault too */
            memset(buf, (int)(r >> 8), sizeof(buf));
            rc = vmar_write(space, a, buf, sizeof(buf), NULL);
            if (rc == VMAR_EFAULT)
                rc = 0;
            break;
        case 5: { /* replace the hammer region: fresh zero pages */
            struct vmar_map_opts o = {.addr = HAMMER_BASE,
                                      .size = HAMMER_PAGES * PG,
                                      .place = VMAR_PLACE_FIXED,
                                      .prot = RW};
            rc = vmar_map(space, &o, NULL);
            break;
        }
        case 6: /* fork: write-protects every owned page */
            if ((r >> 8) % 4 != 0)
                break;
            rc = cc_fork_checked(s->c, space);
            s->forks += rc == 0;
            break;
        default: /* queries run concurrently with the faults */
            if (vmar_check(space) != 0)
                FAIL(s, "vmar_check failed mid-run\n");
            break;
        }
        if (rc != 0)
            FAIL(s, "layout op %u on [%#llx, +%#llx): rc %d\n",
                 (unsigned)(r % 8), (unsigned long long)a,
                 (unsigned long long)n, rc);
    } while (!past(&s->deadline));
    return NULL;
}

static void test_stress(void **state)
{
    static struct stress s; /* large; zeroed */
    struct cc c;
    double secs = test_seconds() / 2;

    (void)state;
    memset(&s, 0, sizeof(s));
    s.seed = vt_seed((uint64_t)time(NULL));
    fprintf(stderr,
            "stress: %u access threads + 1 layout thread + 1 checker, "
            "%.1f s (set VMAR_TEST_SECONDS to change)\n",
            N_ACCESS, secs);
    cc_setup(&c, 16384, N_ACCESS);
    s.c = &c;
    for (unsigned t = 0; t < N_ACCESS; t++)
        map_fixed(&c, OWN_BASE + t * OWN_STRIDE, OWN_PAGES);
    map_fixed(&c, SHARED_PAGE, 1);
    map_fixed(&c, HAMMER_BASE, HAMMER_PAGES);
    map_fixed(&c, LAYOUT_BASE, LAYOUT_PAGES);

    jobs_run(&s, &s.deadline, secs, N_ACCESS, access_main, layout_main,
             check_main, "stress", s.ops, N_ACCESS + 1);
    fprintf(stderr, "; forks %lu; checks %lu; violations %zu\n", s.forks,
            s.checks, vmar_sim_violations(c.vt.sim));
    assert_int_equal(s.failures, 0);
    expect_ran(&c, s.ops, N_ACCESS + 1);
    VT_CHECK(&c.vt);
    expect_rss_exact(&c);
    /* The owned pages hold what their threads last wrote. */
    for (unsigned t = 0; t < N_ACCESS; t++)
        for (unsigned p = 0; p < OWN_PAGES; p++) {
            uint64_t v = 0;

            assert_int_equal(vmar_read(c.vt.space,
                                       OWN_BASE + t * OWN_STRIDE + p * PG, &v,
                                       sizeof(v), NULL),
                             0);
            assert_int_equal(v, s.tag[t][p]);
        }
    cc_teardown(&c);
}

/* ---- CPUs sharing user pages --------------------------------------- */

#define SHARE_CPUS    4
#define SHARE_BASE    ((vmar_addr_t)0x50000000)
#define SHARE_PAGES   4
#define SHARE_WORD_AT 2048 /* each page's word area: SHARE_WORDS words */
#define SHARE_WORDS   64
#define SHARE_RUN_MAX 64 /* byte runs: up to this long, any alignment */
#define SHARE_MAGIC   0x5au
#define SHARE_BYTE0   0xa0u /* thread t writes bytes SHARE_BYTE0 + t */

struct share {
    struct cc *c;
    uint64_t seed;
    struct timespec deadline;
    unsigned long failures; /* __atomic */
    unsigned long ops[SHARE_CPUS + 1];
    unsigned long forks, dropped, replaced;
};

/* What thread t writes into word w of page p: the page and word say
 * where it belongs, so a read proves the frame is the page's and that the
 * word did not tear (two writers' halves would disagree on the thread or
 * the count). */
static uint64_t share_word(unsigned p, unsigned w, unsigned t, uint32_t n)
{
    return (uint64_t)SHARE_MAGIC << 56 | (uint64_t)p << 48 | (uint64_t)w << 40 |
           (uint64_t)t << 32 | n;
}

static bool share_word_ok(uint64_t v, unsigned p, unsigned w)
{
    return v == 0 || ((v >> 40) == share_word(p, w, 0, 0) >> 40 &&
                      ((v >> 32) & 0xff) < SHARE_CPUS);
}

/* Byte `off` of the shared range (any byte outside a word area) holds 0
 * (demand zero, or dropped) or some thread's run byte. */
static bool share_byte_ok(vmar_size_t off, unsigned char b)
{
    size_t in_page = (size_t)(off % PG);

    if (in_page >= SHARE_WORD_AT && in_page < SHARE_WORD_AT + 8 * SHARE_WORDS)
        return true; /* a word's byte: share_word_ok() judges it */
    return b == 0 || (b >= SHARE_BYTE0 && b < SHARE_BYTE0 + SHARE_CPUS);
}

/* Check `n` bytes read at offset `off` of the shared range. */
static bool share_bytes_ok(vmar_size_t off, const unsigned char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        vmar_size_t at = off + i;
        size_t in_page = (size_t)(at % PG);

        if (!share_byte_ok(at, b[i]))
            return false;
        if (in_page >= SHARE_WORD_AT &&
            in_page < SHARE_WORD_AT + 8 * SHARE_WORDS && in_page % 8 == 0 &&
            i + 8 <= n) {
            uint64_t v;

            memcpy(&v, b + i, sizeof(v));
            if (!share_word_ok(v, (unsigned)(at / PG),
                               (unsigned)((in_page - SHARE_WORD_AT) / 8)))
                return false;
        }
    }
    return true;
}

/* Every CPU reads and writes the same words and the same bytes of every
 * shared page: aligned words, byte runs of any alignment that may cross
 * into the next page, whole pages. */
static void *share_access_main(void *arg)
{
    struct job *w = arg;
    struct share *s = w->s;
    struct vmar_sim_cpu *cpu = s->c->cpu[w->t];
    uint64_t rng = s->seed ^ (0x3000 + w->t);
    const vmar_size_t span = SHARE_PAGES * PG;
    const size_t runs_at = SHARE_WORD_AT + 8 * SHARE_WORDS;
    unsigned char buf[PG];
    uint32_t n = 0;

    do {
        uint64_t r = vt_rand(&rng);
        unsigned p = (unsigned)(r % SHARE_PAGES);
        unsigned word = (unsigned)((r >> 8) % SHARE_WORDS);
        vmar_size_t off = p * PG + SHARE_WORD_AT + 8 * word;
        size_t len = 8;
        unsigned access = WR;
        int rc;

        s->ops[w->t]++;
        switch ((r >> 16) % 8) {
        case 0:
        case 1:
        case 2: { /* write a word */
            uint64_t v = share_word(p, word, w->t, ++n);

            memcpy(buf, &v, sizeof(v));
            break;
        }
        case 3:
        case 4:
        case 5: /* write a byte run after the word area */
            off = p * PG + runs_at + (r >> 24) % (PG - runs_at);
            len = 1 + (size_t)((r >> 40) % SHARE_RUN_MAX);
            if (len > span - off)
                len = (size_t)(span - off);
            memset(buf, (int)(SHARE_BYTE0 + w->t), len);
            break;
        case 6: /* read a word */
            access = RD;
            break;
        default: /* read the whole page */
            off = p * PG;
            len = PG;
            access = RD;
            break;
        }
        rc = vmar_sim_cpu_access(cpu, SHARE_BASE + off, access, buf, len);
        if (rc != 0)
            FAIL(s, "thread %u: access %u of %zu bytes at +%#llx: rc %d\n",
                 w->t, access, len, (unsigned long long)off, rc);
        else if (access == RD && !share_bytes_ok(off, buf, len))
            FAIL(s,
                 "thread %u: read of %zu bytes at +%#llx: foreign or torn "
                 "data\n",
                 w->t, len, (unsigned long long)off);
    } while (!past(&s->deadline));
    return NULL;
}

/* Makes the CPUs fault on the shared pages again and again: drops them
 * (demand-zero refaults), maps fresh pages over some, forks (write faults
 * break copy-on-write while the child keeps the old frames), checks. */
static void *share_fault_main(void *arg)
{
    struct job *w = arg;
    struct share *s = w->s;
    struct vmar_space *space = s->c->vt.space;
    struct vmar_space *child = NULL;
    struct vmar_sim_lock *child_lock = NULL;
    uint64_t rng = s->seed ^ 0x4000;

    do {
        uint64_t r = vt_rand(&rng);
        unsigned first = (unsigned)(r % SHARE_PAGES);
        unsigned np = 1 + (unsigned)((r >> 8) % (SHARE_PAGES - first));
        vmar_addr_t a = SHARE_BASE + first * PG;
        int rc = 0;

        s->ops[SHARE_CPUS]++;
        switch ((r >> 16) % 4) {
        case 0:
            rc = vmar_advise(space, a, np * PG, VMAR_ADVISE_DONTNEED);
            s->dropped += rc == 0;
            break;
        case 1: {
            struct vmar_map_opts o = {.addr = a,
                                      .size = np * PG,
                                      .place = VMAR_PLACE_FIXED,
                                      .prot = RW};
            rc = vmar_map(space, &o, NULL);
            s->replaced += rc == 0;
            break;
        }
        case 2: { /* the previous child goes, a new one shares the frames */
            if (child != NULL)
                vmar_space_destroy(child);
            child = NULL;
            if (child_lock == NULL && vmar_sim_lock_create(&child_lock) != 0) {
                FAIL(s, "lock create\n");
                break;
            }
            rc = cc_fork(s->c, space, child_lock, &child);
            s->forks += rc == 0;
            break;
        }
        default:
            if (vmar_check(space) != 0)
                FAIL(s, "vmar_check failed mid-run\n");
            break;
        }
        if (rc != 0)
            FAIL(s, "fault thread: op %u on [%#llx, +%u pages): rc %d\n",
                 (unsigned)((r >> 16) % 4), (unsigned long long)a, np, rc);
    } while (!past(&s->deadline));
    if (child != NULL)
        vmar_space_destroy(child);
    if (child_lock != NULL)
        vmar_sim_lock_destroy(child_lock);
    return NULL;
}

static void test_shared_pages(void **state)
{
    static struct share s; /* zeroed */
    struct cc c;
    double secs = test_seconds() / 4;
    unsigned char page[PG];

    (void)state;
    memset(&s, 0, sizeof(s));
    s.seed = vt_seed((uint64_t)time(NULL));
    fprintf(stderr,
            "shared pages: %u CPUs on %u pages + 1 fault thread, %.1f s\n",
            SHARE_CPUS, SHARE_PAGES, secs);
    cc_setup(&c, 0, SHARE_CPUS);
    s.c = &c;
    map_fixed(&c, SHARE_BASE, SHARE_PAGES);
    jobs_run(&s, &s.deadline, secs, SHARE_CPUS, share_access_main,
             share_fault_main, NULL, "shared pages", s.ops, SHARE_CPUS + 1);
    fprintf(stderr, "; forks %lu, drops %lu, replacements %lu\n", s.forks,
            s.dropped, s.replaced);
    assert_int_equal(s.failures, 0);
    expect_ran(&c, s.ops, SHARE_CPUS + 1);
    VT_CHECK(&c.vt);
    expect_rss_exact(&c);
    for (unsigned p = 0; p < SHARE_PAGES; p++) {
        assert_int_equal(
            vmar_read(c.vt.space, SHARE_BASE + p * PG, page, PG, NULL), 0);
        assert_true(share_bytes_ok(p * PG, page, PG));
    }
    cc_teardown(&c);
}

/* ---- neighbouring leaf blocks under missing upper tables ----------- */

#define SPLIT_THREADS 4 /* blocks: half below a 1 GiB boundary, half above */
#define SPLIT_PAGES   8 /* pages each thread writes in its block */
#define SPLIT_ROUNDS  300
#define SPLIT_MAGIC   0x5bu
#define LEAF_PAGES    ((unsigned)(VMAR_MMU_LEAF_BLOCK / PG))

struct split {
    struct cc *c;
    uint64_t seed;
    vmar_addr_t lo; /* the mapping: SPLIT_THREADS blocks from here */
    unsigned round; /* set by the main thread before `go` */
    bool stop;      /* ... likewise: the workers return */
    bool line_up;   /* the frame hook lines up first table pages */
    pthread_barrier_t go, done;
    unsigned long failures; /* __atomic */
    /* The line-up (split_hook), under m. */
    pthread_mutex_t m;
    pthread_cond_t cv;
    unsigned arrived;
    bool gave_up;           /* a worker stopped waiting this round */
    unsigned long lined_up; /* rounds in which all waited at once */
};

/* Whether this worker has yet to allocate its first table page of the
 * round (split_hook). */
static _Thread_local bool split_first_table;

/* Depth of a format whose user range ends at `user_top`: 9 bits a level
 * above the 12-bit page, the root included (the sim and x86-64 4-level
 * and Sv48: 4; Sv39: 3; 5-level and Sv57: 5). */
static unsigned format_levels(vmar_addr_t user_top)
{
    unsigned bits = 12;

    while (bits < 64 && ((vmar_addr_t)1 << bits) < user_top)
        bits++;
    return (bits - 12 + 8) / 9;
}

/* A 1 GiB boundary in the middle of the user range, 1 GiB into a slot of
 * the root table that nothing else of the suite uses: the blocks on
 * either side of it have no table below the root yet, and on a format of
 * four levels or more they share every table above their 1 GiB ones. */
static vmar_addr_t split_center(unsigned levels, vmar_addr_t user_top)
{
    const vmar_addr_t slot = (vmar_addr_t)1 << (12 + 9 * (levels - 1));

    return user_top / slot / 2 * slot + ((vmar_addr_t)1 << 30);
}

/* The tables below the root that faults in the SPLIT_THREADS blocks from
 * `lo` link: per level, one for each span of that level's tables the
 * blocks meet (a level-l table maps 2^(21 + 9l) bytes). */
static size_t split_tables_needed(vmar_addr_t lo, unsigned levels)
{
    size_t n = 0;

    for (unsigned l = 0; l + 1 < levels; l++) {
        const unsigned shift = 21 + 9 * l;

        for (unsigned t = 0; t < SPLIT_THREADS; t++) {
            vmar_addr_t b = lo + t * VMAR_MMU_LEAF_BLOCK;

            n += t == 0 || b >> shift != (b - VMAR_MMU_LEAF_BLOCK) >> shift;
        }
    }
    return n;
}

/* Page k of thread t's block: pages 0, 73, ..., 511 (73 is prime to
 * 512): both ends of the leaf table and spread between them. */
static vmar_addr_t split_page(const struct split *s, unsigned t, unsigned k)
{
    return s->lo + t * VMAR_MMU_LEAF_BLOCK +
           (vmar_addr_t)((k * 73u) % LEAF_PAGES) * PG;
}

static uint64_t split_tag(unsigned round, unsigned t, unsigned k)
{
    return (uint64_t)SPLIT_MAGIC << 56 | (uint64_t)round << 24 | t << 8 | k;
}

/* The frame hook, with split page-table locks only: each worker's first
 * table page of a round waits until every worker has asked for one, so
 * that all of them have found the upper tables missing before any links
 * one. Without split locks the one page-table lock is held here and the
 * others cannot arrive; a backend may also serialise its prepare calls
 * by a lock of its own. So a worker waits 20 ms at most; then the round
 * runs as it comes, and the main thread stops lining rounds up. */
static void split_hook(void *arg, unsigned flags)
{
    struct split *s = arg;
    struct timespec until;

    if ((flags & VMAR_FRAME_TABLE) == 0 || !split_first_table)
        return;
    split_first_table = false;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += 20 * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->m);
    if (++s->arrived == SPLIT_THREADS) {
        s->lined_up += !s->gave_up;
        pthread_cond_broadcast(&s->cv);
    }
    while (s->arrived < SPLIT_THREADS && !s->gave_up)
        if (pthread_cond_timedwait(&s->cv, &s->m, &until) != 0)
            s->gave_up = true;
    pthread_mutex_unlock(&s->m);
}

/* Each round: write a tag into every own page, in an order of the
 * round's own, then read them all back. */
static void *split_main(void *arg)
{
    struct job *w = arg;
    struct split *s = w->s;
    struct vmar_sim_cpu *cpu = s->c->cpu[w->t];

    for (;;) {
        unsigned order[SPLIT_PAGES];
        uint64_t rng, v;
        int rc;

        pthread_barrier_wait(&s->go);
        if (s->stop)
            return NULL;
        rng = s->seed ^ ((uint64_t)s->round << 8) ^ w->t;
        for (unsigned k = 0; k < SPLIT_PAGES; k++)
            order[k] = k;
        for (unsigned k = SPLIT_PAGES - 1; k > 0; k--) {
            unsigned j = (unsigned)(vt_rand(&rng) % (k + 1));
            unsigned x = order[k];

            order[k] = order[j];
            order[j] = x;
        }
        split_first_table = s->line_up;
        for (unsigned i = 0; i < SPLIT_PAGES; i++) {
            v = split_tag(s->round, w->t, order[i]);
            rc = vmar_sim_cpu_access(cpu, split_page(s, w->t, order[i]), WR, &v,
                                     sizeof(v));
            if (rc != 0)
                FAIL(s, "split thread %u page %u: write rc %d\n", w->t,
                     order[i], rc);
        }
        split_first_table = false;
        for (unsigned k = 0; k < SPLIT_PAGES; k++) {
            v = 0;
            rc = vmar_sim_cpu_access(cpu, split_page(s, w->t, k), RD, &v,
                                     sizeof(v));
            if (rc != 0 || v != split_tag(s->round, w->t, k))
                FAIL(s, "split thread %u page %u: read rc %d tag %#llx\n", w->t,
                     k, rc, (unsigned long long)v);
        }
        pthread_barrier_wait(&s->done);
    }
}

/* After a round, on the main thread (the workers wait at `go`): every
 * page present, writable, a live frame of its own, holding its tag; RSS
 * exact; the check and the reference decoder clean; exactly the tables
 * the blocks need; no frame beyond pages and tables. */
static void split_check_round(struct split *s, size_t tables0, size_t frames0,
                              size_t need)
{
    struct cc *c = s->c;
    vmar_paddr_t pa[SPLIT_THREADS * SPLIT_PAGES];
    const size_t pages = SPLIT_THREADS * SPLIT_PAGES;
    struct vmar_stats st;
    vmar_size_t bytes = 0;
    size_t tables = 0;
    char msg[256];

    for (unsigned t = 0; t < SPLIT_THREADS; t++)
        for (unsigned k = 0; k < SPLIT_PAGES; k++) {
            vmar_addr_t va = split_page(s, t, k);
            size_t i = t * SPLIT_PAGES + k;
            struct vmar_pte pte;
            uint64_t v = 0;

            if (vmar_space_translate(c->vt.space, va, &pte) != 0 ||
                !(pte.prot & VMAR_PROT_WRITE) ||
                !vmar_sim_frame_live(c->vt.sim, pte.pa)) {
                FAIL(s,
                     "split round %u: page %#llx not present and "
                     "writable\n",
                     s->round, (unsigned long long)va);
                pa[i] = 0;
                continue;
            }
            pa[i] = pte.pa;
            for (size_t j = 0; j < i; j++)
                if (pa[j] == pa[i])
                    FAIL(s,
                         "split round %u: pages %zu and %zu share frame "
                         "%#llx\n",
                         s->round, j, i, (unsigned long long)pa[i]);
            if (vmar_read(c->vt.space, va, &v, sizeof(v), NULL) != 0 ||
                v != split_tag(s->round, t, k))
                FAIL(s, "split round %u: page %#llx holds %#llx\n", s->round,
                     (unsigned long long)va, (unsigned long long)v);
        }
    vmar_stats(c->vt.space, &st);
    if (vmar_resident(c->vt.space, st.user_lo, st.user_hi, &bytes) != 0 ||
        st.resident != pages * PG || bytes != st.resident ||
        st.resident_anon != st.resident)
        FAIL(s,
             "split round %u: RSS %llu (anon %llu), resident %llu, "
             "expected %zu pages\n",
             s->round, (unsigned long long)st.resident,
             (unsigned long long)st.resident_anon, (unsigned long long)bytes,
             pages);
    if (vmar_check(c->vt.space) != 0)
        FAIL(s, "split round %u: vmar_check failed\n", s->round);
    if (vt_backend()->real && vt_refcheck(&c->vt, msg, sizeof(msg)) != 0)
        FAIL(s, "split round %u: %s", s->round, msg);
    if (vt_tables_checked(&c->vt, &tables, msg, sizeof(msg)) != 0)
        FAIL(s, "split round %u: %s", s->round, msg);
    else if (tables != tables0 + need)
        FAIL(s, "split round %u: %zu table pages, expected %zu + %zu\n",
             s->round, tables, tables0, need);
    if (vt_frames_live(&c->vt) != frames0 + pages + need)
        FAIL(s, "split round %u: %zu frames live, expected %zu + %zu + %zu\n",
             s->round, vt_frames_live(&c->vt), frames0, pages, need);
}

static void test_split_tables(void **state)
{
    static struct split s; /* zeroed */
    struct cc c;
    struct jobs jobs;
    const size_t size = SPLIT_THREADS * VMAR_MMU_LEAF_BLOCK;
    struct timespec deadline;
    struct vmar_sim_stats a0, a1;
    size_t tables0, frames0, need, spares = 0, tables = 0;
    unsigned levels, round;
    char msg[256];

    (void)state;
    memset(&s, 0, sizeof(s));
    s.seed = vt_seed((uint64_t)time(NULL));
    cc_setup(&c, 0, SPLIT_THREADS);
    s.c = &c;
    levels = format_levels(VT_USER_TOP);
    s.lo = split_center(levels, VT_USER_TOP) -
           SPLIT_THREADS / 2 * VMAR_MMU_LEAF_BLOCK;
    need = split_tables_needed(s.lo, levels);
    s.line_up = (c.vt.opts.mmu->caps & VMAR_MMU_CAP_SPLIT_PT) != 0;
    fprintf(stderr,
            "split tables: %u threads in neighbouring blocks from %#llx, "
            "%u-level tables, %zu to link each round, %s\n",
            SPLIT_THREADS, (unsigned long long)s.lo, levels, need,
            s.line_up ? "split page-table locks" : "one page-table lock");
    assert_int_equal(pthread_mutex_init(&s.m, NULL), 0);
    assert_int_equal(pthread_cond_init(&s.cv, NULL), 0);
    assert_int_equal(pthread_barrier_init(&s.go, NULL, SPLIT_THREADS + 1), 0);
    assert_int_equal(pthread_barrier_init(&s.done, NULL, SPLIT_THREADS + 1), 0);
    tables0 = vt_tables(&c.vt);
    frames0 = vt_frames_live(&c.vt);
    if (s.line_up)
        vmar_sim_set_frame_hook(c.vt.sim, split_hook, &s);
    jobs_start(&jobs, &s, SPLIT_THREADS, split_main, NULL, NULL);
    deadline = deadline_after(test_seconds() / 4);
    for (round = 0; round < SPLIT_ROUNDS && s.failures == 0 &&
                    (round == 0 || !past(&deadline));
         round++) {
        struct vmar_map_opts o = {
            .addr = s.lo, .size = size, .place = VMAR_PLACE_FIXED, .prot = RW};

        if (vmar_map(c.vt.space, &o, NULL) != 0) {
            FAIL(&s, "split round %u: map failed\n", round);
            break;
        }
        s.round = round;
        pthread_mutex_lock(&s.m);
        s.line_up = s.line_up && !s.gave_up;
        s.arrived = 0;
        pthread_mutex_unlock(&s.m);
        vmar_sim_stats(c.vt.sim, &a0);
        pthread_barrier_wait(&s.go);
        pthread_barrier_wait(&s.done);
        vmar_sim_stats(c.vt.sim, &a1);
        /* Table pages allocated but not linked: a fault whose tables
         * another one linked first gave them back (split_check_round
         * checks that none stayed allocated). */
        if (a1.frame_alloc_calls - a0.frame_alloc_calls >=
            SPLIT_THREADS * SPLIT_PAGES + need)
            spares += a1.frame_alloc_calls - a0.frame_alloc_calls -
                      SPLIT_THREADS * SPLIT_PAGES - need;
        split_check_round(&s, tables0, frames0, need);
        /* Every table of the blocks goes with the last leaf under it. */
        if (vmar_unmap(c.vt.space, s.lo, size) != 0)
            FAIL(&s, "split round %u: unmap failed\n", round);
        else if (vt_tables_checked(&c.vt, &tables, msg, sizeof(msg)) != 0)
            FAIL(&s, "split round %u: %s", round, msg);
        else if (tables != tables0 || vt_frames_live(&c.vt) != frames0)
            FAIL(&s,
                 "split round %u: after the unmap %zu tables (%zu "
                 "before), %zu frames live (%zu before)\n",
                 round, tables, tables0, vt_frames_live(&c.vt), frames0);
    }
    s.stop = true;
    pthread_barrier_wait(&s.go);
    jobs_join(&jobs);
    vmar_sim_set_frame_hook(c.vt.sim, NULL, NULL);
    fprintf(stderr,
            "split tables: %u rounds (%lu with the first table pages lined "
            "up), %zu spare table pages given back\n",
            round, s.lined_up, spares);
    pthread_barrier_destroy(&s.go);
    pthread_barrier_destroy(&s.done);
    pthread_cond_destroy(&s.cv);
    pthread_mutex_destroy(&s.m);
    assert_int_equal(s.failures, 0);
    assert_true(round > 0);
    assert_int_equal(vmar_sim_violations(c.vt.sim), 0);
    VT_CHECK(&c.vt);
    expect_rss_exact(&c);
    cc_teardown(&c);
}

/* ---- faults racing layout changes of their own mapping ------------- */

#define RACE_CPUS  3
#define RACE_PAGES 48
/* Across a leaf-block boundary: 16 pages below it, 32 above. */
#define RACE_BASE  ((vmar_addr_t)0x60000000 + VMAR_MMU_LEAF_BLOCK - 16 * PG)
#define RACE_DEST  ((vmar_addr_t)0x68000000) /* where remap moves to */
#define RACE_MAGIC 0x5cu
#define RACE_KINDS 7 /* layout changes: see race_layout_main */

struct race {
    struct cc *c;
    uint64_t seed;
    struct timespec deadline;
    unsigned long failures; /* __atomic */
    unsigned long ops[RACE_CPUS + 2];
    unsigned long refused[RACE_CPUS]; /* VMAR_ENOENT, VMAR_EACCES */
    unsigned long changes[RACE_KINDS];
    /* Word t of page p is thread t's: what it last wrote there, 0 once
     * it read 0 (the page was dropped or replaced since). Each thread
     * keeps its own row; the main thread reads them after the join. */
    uint64_t own[RACE_CPUS][RACE_PAGES];
};

static uint64_t race_tag(unsigned p, unsigned t, uint32_t n)
{
    return (uint64_t)RACE_MAGIC << 56 | (uint64_t)p << 40 | (uint64_t)t << 32 |
           n;
}

/* Thread t's word of page p as it read it: 0 or its last write. */
static void race_own_seen(struct race *s, unsigned t, unsigned p, uint64_t v)
{
    if (v != 0 && v != s->own[t][p])
        FAIL(s,
             "race thread %u page %u: own word %#llx, expected %#llx or "
             "0\n",
             t, p, (unsigned long long)v, (unsigned long long)s->own[t][p]);
    if (v == 0)
        s->own[t][p] = 0;
}

/* A whole page as thread t read it: each thread's word 0 or a tag of
 * that thread for this page (its own: see race_own_seen), zero elsewhere. */
static void race_page_seen(struct race *s, unsigned t, unsigned p,
                           const uint64_t *w)
{
    for (unsigned u = 0; u < PG / sizeof(uint64_t); u++) {
        if (u == t)
            race_own_seen(s, t, p, w[u]);
        else if (u < RACE_CPUS
                     ? w[u] != 0 && w[u] >> 32 != race_tag(p, u, 0) >> 32
                     : w[u] != 0)
            FAIL(s, "race thread %u page %u: word %u holds %#llx\n", t, p, u,
                 (unsigned long long)w[u]);
    }
}

/* Writes its word, reads it, reads whole pages; a refusal (a hole, a
 * protection) is counted, any other error fails. */
static void *race_access_main(void *arg)
{
    struct job *w = arg;
    struct race *s = w->s;
    const unsigned t = w->t;
    struct vmar_sim_cpu *cpu = s->c->cpu[t];
    uint64_t rng = s->seed ^ (0x5000 + t);
    uint64_t page[PG / sizeof(uint64_t)];
    uint32_t n = 0;

    do {
        uint64_t r = vt_rand(&rng);
        unsigned p = (unsigned)(r % RACE_PAGES);
        vmar_addr_t va = RACE_BASE + p * PG;
        uint64_t v = 0;
        int rc;

        s->ops[t]++;
        switch ((r >> 8) % 4) {
        case 0:
        case 1:
            v = race_tag(p, t, ++n);
            rc = vmar_sim_cpu_access(cpu, va + 8 * t, WR, &v, sizeof(v));
            if (rc == 0)
                s->own[t][p] = v;
            break;
        case 2:
            rc = vmar_sim_cpu_access(cpu, va + 8 * t, RD, &v, sizeof(v));
            if (rc == 0)
                race_own_seen(s, t, p, v);
            break;
        default:
            rc = vmar_sim_cpu_access(cpu, va, RD, page, PG);
            if (rc == 0)
                race_page_seen(s, t, p, page);
            break;
        }
        if (rc == VMAR_ENOENT || rc == VMAR_EACCES)
            s->refused[t]++;
        else if (rc != 0)
            FAIL(s, "race thread %u page %u: access rc %d\n", t, p, rc);
    } while (!past(&s->deadline));
    return NULL;
}

/* Changes the layout of the very pages the CPUs fault on: a part of the
 * mapping or all of it. */
static void *race_layout_main(void *arg)
{
    struct race *s = ((struct job *)arg)->s;
    struct vmar_space *space = s->c->vt.space;
    uint64_t rng = s->seed ^ 0x6000;
    static const unsigned prots[] = {VMAR_PROT_READ, VMAR_PROT_NONE, RW, RW};

    do {
        uint64_t r = vt_rand(&rng);
        unsigned first = (unsigned)(r % RACE_PAGES);
        unsigned np = 1 + (unsigned)((r >> 8) % (RACE_PAGES - first));
        unsigned kind = (unsigned)((r >> 24) % RACE_KINDS);
        struct vmar_map_opts o = {.place = VMAR_PLACE_FIXED, .prot = RW};
        vmar_addr_t a;
        vmar_size_t n;
        int rc = 0;

        if ((r >> 16) % 4 == 0) { /* the whole mapping */
            first = 0;
            np = RACE_PAGES;
        }
        a = RACE_BASE + first * PG;
        n = np * PG;
        o.addr = a;
        o.size = n;
        s->ops[RACE_CPUS]++;
        switch (kind) {
        case 0: /* a hole, then fresh pages */
            rc = vmar_unmap(space, a, n);
            if (rc == 0)
                rc = vmar_map(space, &o, NULL);
            break;
        case 1: /* fresh pages over the old ones */
            rc = vmar_map(space, &o, NULL);
            break;
        case 2:
            rc = vmar_protect(space, a, n, prots[(r >> 32) % 4]);
            break;
        case 3: /* out and back: the leaves move twice */
            rc = vmar_remap(space, a, n, n,
                            VMAR_REMAP_MAYMOVE | VMAR_REMAP_FIXED, RACE_DEST,
                            NULL);
            if (rc == VMAR_EFAULT) {
                rc = 0; /* the range spans mappings of different prot */
                kind = RACE_KINDS - 1;
            } else if (rc == 0) {
                rc = vmar_remap(space, RACE_DEST, n, n,
                                VMAR_REMAP_MAYMOVE | VMAR_REMAP_FIXED, a, NULL);
            }
            break;
        case 4: /* write-protects every page: copy-on-write faults */
            rc = cc_fork_checked(s->c, space);
            break;
        case 5:
            rc = vmar_advise(space, a, n, VMAR_ADVISE_DONTNEED);
            break;
        default:
            rc = vmar_check(space);
            break;
        }
        if (rc != 0)
            FAIL(s, "race layout change %u on [%#llx, +%u pages): rc %d\n",
                 kind, (unsigned long long)a, np, rc);
        else
            s->changes[kind]++;
    } while (!past(&s->deadline));
    return NULL;
}

/* A checker thread's loop: vmar_check until the deadline, each run
 * counted in *ops, each failure in *failures (__atomic). */
static void check_until(struct cc *c, const struct timespec *deadline,
                        unsigned long *ops, unsigned long *failures,
                        const char *beside)
{
    do {
        (*ops)++;
        if (vmar_check(c->vt.space) != 0) {
            fprintf(stderr, "FAIL: vmar_check failed beside %s\n", beside);
            __atomic_add_fetch(failures, 1, __ATOMIC_RELAXED);
        }
    } while (!past(deadline));
}

static void *race_check_main(void *arg)
{
    struct race *s = ((struct job *)arg)->s;

    check_until(s->c, &s->deadline, &s->ops[RACE_CPUS + 1], &s->failures,
                "the races");
    return NULL;
}

/* What test_layout_races and test_neighbour_churn share. */
struct mapped_run {
    const char *what;
    unsigned ncpu;
    vmar_addr_t base; /* one read-write mapping of `pages` pages here */
    size_t pages;
    job_main worker, layout, checker;
};

/* Set up a machine with r->ncpu CPUs and the mapping, then run the
 * threads for a quarter of the test time; *c_of and *seed are the
 * scenario's fields. */
static void mapped_run(const struct mapped_run *r, void *s, struct cc *c,
                       struct cc **c_of, uint64_t *seed,
                       struct timespec *deadline, const unsigned long *ops)
{
    const double secs = test_seconds() / 4;

    *seed = vt_seed((uint64_t)time(NULL));
    fprintf(stderr,
            "%s: %u CPUs on %zu pages, 1 layout thread, 1 checker, %.1f s\n",
            r->what, r->ncpu, r->pages, secs);
    cc_setup(c, 0, r->ncpu);
    *c_of = c;
    map_fixed(c, r->base, r->pages);
    jobs_run(s, deadline, secs, r->ncpu, r->worker, r->layout, r->checker,
             r->what, ops, r->ncpu + 2);
}

static void test_layout_races(void **state)
{
    static struct race s; /* zeroed */
    static const struct mapped_run run = {
        "layout races",   RACE_CPUS,        RACE_BASE,      RACE_PAGES,
        race_access_main, race_layout_main, race_check_main};
    struct cc c;
    uint64_t page[PG / sizeof(uint64_t)];

    (void)state;
    memset(&s, 0, sizeof(s));
    mapped_run(&run, &s, &c, &s.c, &s.seed, &s.deadline, s.ops);
    fprintf(stderr, "; refused:");
    for (unsigned t = 0; t < RACE_CPUS; t++)
        fprintf(stderr, " %lu", s.refused[t]);
    fprintf(stderr,
            "; unmap+map %lu, map over %lu, protect %lu, remap %lu, fork "
            "%lu, dontneed %lu, check %lu\n",
            s.changes[0], s.changes[1], s.changes[2], s.changes[3],
            s.changes[4], s.changes[5], s.changes[6]);
    assert_int_equal(s.failures, 0);
    expect_ran(&c, s.ops, RACE_CPUS + 2);
    /* Readable again everywhere: protections go, contents stay. */
    assert_int_equal(vmar_protect(c.vt.space, RACE_BASE, RACE_PAGES * PG, RW),
                     0);
    VT_CHECK(&c.vt);
    expect_rss_exact(&c);
    for (unsigned p = 0; p < RACE_PAGES; p++) {
        assert_int_equal(
            vmar_read(c.vt.space, RACE_BASE + p * PG, page, sizeof(page), NULL),
            0);
        for (unsigned u = 0; u < PG / sizeof(uint64_t); u++) {
            uint64_t want = u < RACE_CPUS ? s.own[u][p] : 0;

            if (page[u] != 0 && page[u] != want)
                fail_msg("page %u word %u: %#llx, expected %#llx or 0", p, u,
                         (unsigned long long)page[u], (unsigned long long)want);
        }
    }
    cc_teardown(&c);
}

/* ---- faults beside layout changes of other mappings ----------------- */

#define NB_CPUS 2
/* The faulted mapping: three leaf blocks and 16 pages, from a 1 GiB
 * boundary, so that the far ranges below share its upper tables. */
#define NB_BASE  ((vmar_addr_t)0x80000000)
#define NB_PAGES (3 * 512 + 16)
#define NB_END   (NB_BASE + NB_PAGES * PG)
#define NB_MAGIC 0x4eu
#define NB_KINDS 9 /* layout changes: see nb_layout_main */

struct nb {
    struct cc *c;
    uint64_t seed;
    struct timespec deadline;
    unsigned long failures; /* __atomic */
    unsigned long ops[NB_CPUS + 2];
    unsigned long changes[NB_KINDS];
    /* Word t of page p of thread t's half: what thread t last wrote
     * there (0: nothing yet, or dropped since). */
    uint64_t own[NB_CPUS][NB_PAGES];
};

static uint64_t nb_tag(unsigned p, unsigned t, uint32_t n)
{
    return (uint64_t)NB_MAGIC << 56 | (uint64_t)p << 40 | (uint64_t)t << 32 | n;
}

/* Thread t's pages of the mapping: its half. */
#define NB_HALF (NB_PAGES / NB_CPUS)

/* Writes and reads its word of random pages of its half of the mapping,
 * and now and then drops a run of them (VMAR_ADVISE_DONTNEED), so that
 * it keeps taking demand-zero faults: every access must succeed and see
 * what the thread last wrote (0 after a drop). */
static void *nb_access_main(void *arg)
{
    struct job *w = arg;
    struct nb *s = w->s;
    const unsigned t = w->t;
    struct vmar_sim_cpu *cpu = s->c->cpu[t];
    uint64_t rng = s->seed ^ (0x7000 + t);
    uint32_t n = 0;

    do {
        uint64_t r = vt_rand(&rng);
        unsigned p = t * NB_HALF + (unsigned)(r % NB_HALF);
        vmar_addr_t va = NB_BASE + p * PG + 8 * t;
        uint64_t v = 0;
        int rc;

        s->ops[t]++;
        if ((r >> 16) % 32 == 0) {
            unsigned k = 1 + (unsigned)((r >> 24) % 16);
            if (p + k > (t + 1) * NB_HALF)
                k = (t + 1) * NB_HALF - p;
            rc = vmar_advise(s->c->vt.space, NB_BASE + p * PG, k * PG,
                             VMAR_ADVISE_DONTNEED);
            if (rc == 0)
                memset(&s->own[t][p], 0, k * sizeof(s->own[t][p]));
        } else if ((r >> 16) % 2) {
            v = nb_tag(p, t, ++n);
            rc = vmar_sim_cpu_access(cpu, va, WR, &v, sizeof(v));
            if (rc == 0)
                s->own[t][p] = v;
        } else {
            rc = vmar_sim_cpu_access(cpu, va, RD, &v, sizeof(v));
            if (rc == 0 && v != s->own[t][p])
                FAIL(s, "nb thread %u page %u: read %#llx, wrote %#llx\n", t, p,
                     (unsigned long long)v, (unsigned long long)s->own[t][p]);
        }
        if (rc != 0)
            FAIL(s, "nb thread %u page %u: rc %d\n", t, p, rc);
    } while (!past(&s->deadline));
    return NULL;
}

static void *nb_check_main(void *arg)
{
    struct nb *s = ((struct job *)arg)->s;

    check_until(s->c, &s->deadline, &s->ops[NB_CPUS + 1], &s->failures,
                "the neighbours");
    return NULL;
}

/* Map [a, a + n) fixed, read-write, optionally write a byte of each page
 * (tables and leaves appear), then unmap it. */
static int nb_map_unmap(struct vmar_space *space, vmar_addr_t a, vmar_size_t n,
                        bool touch)
{
    struct vmar_map_opts o = {
        .addr = a, .size = n, .place = VMAR_PLACE_FIXED, .prot = RW};
    const unsigned char one = 1;
    int rc = vmar_map(space, &o, NULL);

    for (vmar_size_t off = 0; rc == 0 && touch && off < n; off += PG)
        rc = vmar_write(space, a + off, &one, 1, NULL);
    if (rc == 0)
        rc = vmar_unmap(space, a, n);
    return rc;
}

/* Changes the layout around the mapping and far from it, never the
 * mapping's own pages. */
static void *nb_layout_main(void *arg)
{
    struct nb *s = ((struct job *)arg)->s;
    struct vmar_space *space = s->c->vt.space;
    uint64_t rng = s->seed ^ 0x8000;
    /* Far ranges: a block of another stripe, a block of the stripe of the
     * mapping's first block (its faults wait), a block 1 GiB up (its
     * upper tables come and go beside the mapping's). */
    const vmar_addr_t far[] = {NB_BASE + 8 * VMAR_MMU_LEAF_BLOCK,
                               NB_BASE + 16 * VMAR_MMU_LEAF_BLOCK,
                               NB_BASE + ((vmar_addr_t)1 << 30)};
    const unsigned char one = 1;

    do {
        uint64_t r = vt_rand(&rng);
        /* In turn, so that every kind runs however slow the machine. */
        unsigned kind = (unsigned)(s->ops[NB_CPUS] % NB_KINDS);
        vmar_addr_t a = far[(r >> 8) % 3] + ((r >> 16) % 64) * PG;
        vmar_size_t n = (1 + (r >> 24) % 8) * PG;
        struct vmar_map_opts o = {.size = n, .prot = RW};
        vmar_addr_t got;
        int rc = 0;

        s->ops[NB_CPUS]++;
        switch (kind) {
        case 0: /* a far map and unmap: no table there */
            rc = nb_map_unmap(space, a, n, false);
            break;
        case 1: /* the same with pages: the unmap frees tables */
            rc = nb_map_unmap(space, a, n, true);
            break;
        case 2: /* grow the mapping at its end (a merge), cut it back */
            rc = nb_map_unmap(space, NB_END, n, (r >> 32) % 2);
            break;
        case 3: /* and at its start */
            rc = nb_map_unmap(space, NB_BASE - n, n, (r >> 32) % 2);
            break;
        case 4: /* fresh pages over populated ones, far */
            o.addr = a;
            o.place = VMAR_PLACE_FIXED;
            rc = nb_map_unmap(space, a, n, true);
            if (rc == 0)
                rc = vmar_map(space, &o, NULL);
            if (rc == 0)
                rc = vmar_write(space, a, &one, 1, NULL);
            if (rc == 0)
                rc = vmar_map(space, &o, NULL);
            if (rc == 0)
                rc = vmar_unmap(space, a, n);
            break;
        case 5: /* placed by the library */
            o.place = VMAR_PLACE_ANY;
            rc = vmar_map(space, &o, &got);
            if (rc == 0)
                rc = vmar_unmap(space, got, n);
            break;
        case 6: /* protect and advise far pages: cuts, merges, drops */
            o.addr = a;
            o.place = VMAR_PLACE_FIXED;
            rc = vmar_map(space, &o, NULL);
            if (rc == 0)
                rc = vmar_write(space, a, &one, 1, NULL);
            if (rc == 0)
                rc = vmar_protect(space, a, PG, VMAR_PROT_READ);
            if (rc == 0)
                rc = vmar_advise(space, a, n, VMAR_ADVISE_SEQUENTIAL);
            if (rc == 0)
                rc = vmar_protect(space, a, PG, RW);
            if (rc == 0)
                rc = vmar_advise(space, a, n, VMAR_ADVISE_NORMAL);
            if (rc == 0)
                rc = vmar_advise(space, a, n, VMAR_ADVISE_DONTNEED);
            if (rc == 0)
                rc = vmar_unmap(space, a, n);
            break;
        case 7: /* read-only pages at the mapping's end, then made
                   writable: the protect merges them into the mapping */
            o.addr = NB_END;
            o.place = VMAR_PLACE_FIXED;
            o.prot = VMAR_PROT_READ;
            rc = vmar_map(space, &o, NULL);
            if (rc == 0)
                rc = vmar_protect(space, NB_END, n, RW);
            if (rc == 0)
                rc = vmar_unmap(space, NB_END, n);
            break;
        default: /* nothing mapped there: the survey refuses */
            rc = vmar_protect(space, a + ((vmar_addr_t)1 << 30), n, RW);
            if (rc == VMAR_ENOMEM)
                rc = 0;
            break;
        }
        if (rc != 0)
            FAIL(s, "nb layout change %u at %#llx (+%llu pages): rc %d\n", kind,
                 (unsigned long long)a, (unsigned long long)(n / PG), rc);
        else
            s->changes[kind]++;
    } while (!past(&s->deadline) || s->ops[NB_CPUS] < NB_KINDS);
    return NULL;
}

/*
 * test_neighbour_churn: NB_CPUS threads fault on pages of one mapping,
 * each in its half (each access must succeed and read back exactly the
 * thread's last write; each thread also drops runs of its pages, so
 * that it keeps faulting them in) while a layout thread maps and unmaps other
 * ranges: in blocks of other stripes and of the mapping's own stripe,
 * with and without pages (page-table pages come and go in the upper
 * tables the mapping's share), right at either end of the mapping (the
 * new pages merge into it, and the unmap cuts it back: the mapping
 * itself changes), fresh pages over populated ones, placed maps,
 * protects and advice of far pages (cuts, merges, dropped pages),
 * read-only pages at the mapping's end that a protect merges into it,
 * and a protect of a hole; a checker runs vmar_check
 * throughout. With VMAR_MMU_CAP_SPLIT_PT, map, unmap, protect and
 * advise close only the stripes of the blocks they change (an unmap or
 * a drop of touched pages closes all), so this is where the faults run
 * beside them.
 */
static void test_neighbour_churn(void **state)
{
    static struct nb s; /* zeroed */
    static const struct mapped_run run = {
        "neighbour churn", NB_CPUS,        NB_BASE,      NB_PAGES,
        nb_access_main,    nb_layout_main, nb_check_main};
    struct cc c;
    uint64_t w[NB_CPUS];

    (void)state;
    memset(&s, 0, sizeof(s));
    mapped_run(&run, &s, &c, &s.c, &s.seed, &s.deadline, s.ops);
    fprintf(stderr,
            "; far map+unmap %lu, with pages %lu, at the end %lu, at the "
            "start %lu, over pages %lu, placed %lu, protect and advise %lu, "
            "protect merging %lu, protect of a hole %lu\n",
            s.changes[0], s.changes[1], s.changes[2], s.changes[3],
            s.changes[4], s.changes[5], s.changes[6], s.changes[7],
            s.changes[8]);
    assert_int_equal(s.failures, 0);
    expect_ran(&c, s.ops, NB_CPUS + 2);
    for (unsigned k = 0; k < NB_KINDS; k++)
        assert_true(s.changes[k] > 0);
    assert_int_equal(vmar_sim_violations(c.vt.sim), 0);
    VT_CHECK(&c.vt);
    expect_rss_exact(&c);
    /* The mapping is whole again, one mapping, with every word. */
    struct vmar_mapping_info mi;
    assert_int_equal(vmar_query(c.vt.space, NB_BASE, &mi), 0);
    assert_int_equal(mi.start, NB_BASE);
    assert_int_equal(mi.end, NB_END);
    for (unsigned p = 0; p < NB_PAGES; p++) {
        assert_int_equal(
            vmar_read(c.vt.space, NB_BASE + p * PG, w, sizeof(w), NULL), 0);
        for (unsigned t = 0; t < NB_CPUS; t++)
            if (w[t] != (p / NB_HALF == t ? s.own[t][p] : 0))
                fail_msg("page %u word %u: %#llx, expected %#llx", p, t,
                         (unsigned long long)w[t],
                         (unsigned long long)s.own[t][p]);
    }
    cc_teardown(&c);
}

/* ---- faults growing one stack at once -------------------------------- */

#define GROW_THREADS 3
/* Below every backend's user top (Sv39's is 2^38). */
#define GROW_TOP   ((vmar_addr_t)0x3000000000)
#define GROW_PAGES 1024 /* how far below the stack the faults go */

struct grow {
    struct cc *c;
    struct timespec deadline;
    unsigned long failures; /* __atomic */
    unsigned long ops[GROW_THREADS + 1];
    vmar_addr_t lowest[GROW_THREADS]; /* lowest page each thread faulted */
};

/* Write faults at random pages below the stack's top, mostly below its
 * current start: each must succeed, growing the stack or finding it
 * grown by another thread. */
static void *grow_main(void *arg)
{
    struct job *w = arg;
    struct grow *s = w->s;
    uint64_t rng = 0x9000 + w->t;

    s->lowest[w->t] = GROW_TOP;
    do {
        vmar_addr_t va = GROW_TOP - (1 + vt_rand(&rng) % GROW_PAGES) * PG;
        int rc =
            vmar_fault(s->c->vt.space, va, VMAR_ACCESS_WRITE, VMAR_FAULT_USER);
        s->ops[w->t]++;
        if (rc != 0)
            FAIL(s, "grow thread %u at %#llx: rc %d\n", w->t,
                 (unsigned long long)va, rc);
        else if (va < s->lowest[w->t])
            s->lowest[w->t] = va;
    } while (!past(&s->deadline));
    return NULL;
}

static void *grow_check_main(void *arg)
{
    struct grow *s = ((struct job *)arg)->s;

    check_until(s->c, &s->deadline, &s->ops[GROW_THREADS], &s->failures,
                "the growing stack");
    return NULL;
}

/*
 * test_stack_growth: GROW_THREADS threads fault below one
 * VMAR_MAP_GROWSDOWN mapping at once (each growth takes the space lock
 * exclusively), a checker runs vmar_check throughout: every fault
 * succeeds, and afterwards the stack is one mapping from the lowest page
 * any thread faulted to its top, with exact RSS.
 */
static void test_stack_growth(void **state)
{
    static struct grow s; /* zeroed */
    struct vmar_map_opts o = {.addr = GROW_TOP - PG,
                              .size = PG,
                              .place = VMAR_PLACE_FIXED,
                              .prot = RW,
                              .flags = VMAR_MAP_GROWSDOWN};
    struct vmar_mapping_info mi;
    struct vmar_stats st;
    struct cc c;
    vmar_addr_t lowest = GROW_TOP;

    (void)state;
    memset(&s, 0, sizeof(s));
    cc_setup(&c, 0, 0);
    s.c = &c;
    assert_int_equal(vmar_map(c.vt.space, &o, NULL), 0);
    jobs_run(&s, &s.deadline, test_seconds() / 8, GROW_THREADS, grow_main, NULL,
             grow_check_main, "stack growth", s.ops, GROW_THREADS + 1);
    fprintf(stderr, "\n");
    assert_int_equal(s.failures, 0);
    for (unsigned t = 0; t < GROW_THREADS; t++) {
        assert_true(s.ops[t] > 0);
        if (s.lowest[t] < lowest)
            lowest = s.lowest[t];
    }
    assert_int_equal(vmar_query(c.vt.space, GROW_TOP - 1, &mi), 0);
    assert_int_equal(mi.start, lowest & ~(vmar_addr_t)(PG - 1));
    assert_int_equal(mi.end, GROW_TOP);
    vmar_stats(c.vt.space, &st);
    assert_int_equal(st.map_count, 1);
    assert_true(st.stack_growths > 0);
    VT_CHECK(&c.vt);
    expect_rss_exact(&c);
    cc_teardown(&c);
}

/* ---- DMA pins beside faults, layout changes, locks and forks -------- */

#define PS_OWNERS  3 /* pinning threads, one CPU each; then the faulter */
#define PS_KINDS   4 /* private anon, shared anon, shared object, private */
#define PS_PAGES   16
#define PS_BASE    ((vmar_addr_t)0xa0000000) /* + owner * VMAR_MMU_LEAF_BLOCK */
#define PS_DEST    ((vmar_addr_t)0xb0000000) /* where remap moves to */
#define PS_HOLD    4 /* pins an owner keeps across its loops */
#define PS_NPIN    3 /* pages per vmar_pin call, at most */
#define PS_MAGIC   0x5du
#define PS_THREADS (PS_OWNERS + 3) /* + faulter, layout, lock */
#define PS_CHANGES 6               /* layout changes: see ps_layout_main */
#define PS_LOCKS   6               /* lock changes: see ps_lock_main */
/* Loops the faulter makes even past the deadline: a slow scheduler
 * (Valgrind's) may let it run only once or twice in the time given. */
#define PS_MIN_FAULTS 48

enum {
    PS_ANON,
    PS_SHARED_ANON,
    PS_SHARED_OBJ,
    PS_PRIVATE_OBJ
};

/* A pin an owner holds: the frames and what their first word holds (the
 * device's word: only the owner's writes through the frame change it). */
struct ps_pin {
    vmar_paddr_t pa[PS_NPIN];
    uint64_t dev[PS_NPIN];
    unsigned n, kind;
    unsigned long gen; /* the region's change count when pinned */
    bool write;
};

struct ps {
    struct cc *c;
    uint64_t seed;
    struct timespec deadline;
    unsigned long failures; /* __atomic */
    unsigned long ops[PS_THREADS];
    /* Bumped (__atomic) before any change that may give a region's pages
     * other frames or contents (unmap, a map over it, DONTNEED): an owner
     * whose region's count did not move across a check knows the page
     * kept its frame. Protect, remap out and back, mlock and fork keep
     * frames (a pinned private anonymous page stays the parent's). */
    unsigned long gen[PS_OWNERS][PS_KINDS];
    /* The device's writes through pinned frames and the CPUs' writes
     * hold this shared; a fork holds it exclusively: its copy of a pinned
     * page reads the frame (Linux's fork copies a page under DMA the
     * same way; the test keeps the device out of it). */
    pthread_rwlock_t dma;
    /* The objects of the shared and private object regions, one each per
     * owner: the private one is never written, so copies of its pages
     * read no frame that anyone writes. */
    struct vmar_object *obj[PS_OWNERS][2];
    /* __atomic: pins taken, pins given back after their pages changed,
     * forks whose child was checked, pins refused (VMAR_EFAULT). */
    unsigned long pins, held_over, fork_checks, refused;
    /* __atomic: the faulter's vmar_fault() calls that returned 0. */
    unsigned long faults;
    unsigned long changes[PS_CHANGES], locks[PS_LOCKS];
};

#define PS_COUNT(x) __atomic_add_fetch(&(x), 1, __ATOMIC_RELAXED)

static vmar_addr_t ps_region(unsigned owner, unsigned kind)
{
    return PS_BASE + owner * VMAR_MMU_LEAF_BLOCK + kind * PS_PAGES * PG;
}

static unsigned long ps_gen(struct ps *s, unsigned owner, unsigned kind)
{
    return __atomic_load_n(&s->gen[owner][kind], __ATOMIC_SEQ_CST);
}

static void ps_bump(struct ps *s, unsigned owner, unsigned kind)
{
    __atomic_add_fetch(&s->gen[owner][kind], 1, __ATOMIC_SEQ_CST);
}

static uint64_t *ps_frame(struct ps *s, vmar_paddr_t pa)
{
    const struct vmar_env *env = s->c->vt.env;

    return env->phys_to_virt(env->ctx, pa);
}

static uint64_t ps_load(struct ps *s, vmar_paddr_t pa, unsigned word)
{
    return __atomic_load_n(&ps_frame(s, pa)[word], __ATOMIC_RELAXED);
}

static void ps_dma_lock(struct ps *s, bool exclusive)
{
    if ((exclusive ? pthread_rwlock_wrlock(&s->dma)
                   : pthread_rwlock_rdlock(&s->dma)) != 0)
        abort();
}

static void ps_dma_unlock(struct ps *s)
{
    pthread_rwlock_unlock(&s->dma);
}

/* Map [a, a + n) of region (owner, kind) afresh, as the region was. */
static int ps_map(struct ps *s, unsigned owner, unsigned kind, vmar_addr_t a,
                  vmar_size_t n, unsigned flags)
{
    struct vmar_map_opts o = {
        .addr = a, .size = n, .place = VMAR_PLACE_FIXED, .prot = RW};

    o.flags = flags | (kind == PS_SHARED_ANON || kind == PS_SHARED_OBJ
                           ? (unsigned)VMAR_MAP_SHARED
                           : 0u);
    if (kind >= PS_SHARED_OBJ) {
        o.backing = VMAR_BACKING_OBJECT;
        o.object = s->obj[owner][kind - PS_SHARED_OBJ];
        o.offset = a - ps_region(owner, kind);
    }
    return vmar_map(s->c->vt.space, &o, NULL);
}

/* Give back a held pin: each frame is still allocated and still holds
 * what the device last wrote there, whatever became of the pages. */
static void ps_unpin(struct ps *s, unsigned t, struct ps_pin *p)
{
    if (ps_gen(s, t, p->kind) != p->gen)
        PS_COUNT(s->held_over);
    for (unsigned i = 0; i < p->n; i++) {
        if (!vmar_sim_frame_live(s->c->vt.sim, p->pa[i]))
            FAIL(s, "pin owner %u: pinned frame %#llx freed\n", t,
                 (unsigned long long)p->pa[i]);
        else if (ps_load(s, p->pa[i], 0) != p->dev[i])
            FAIL(s,
                 "pin owner %u: pinned frame %#llx holds %#llx, device "
                 "wrote %#llx\n",
                 t, (unsigned long long)p->pa[i],
                 (unsigned long long)ps_load(s, p->pa[i], 0),
                 (unsigned long long)p->dev[i]);
    }
    vmar_unpin(s->c->vt.space, p->pa, p->n);
}

/* The device writes v to word 0 of frame pa; every held pin of that
 * frame now expects it. */
static void ps_dev_write(struct ps *s, struct ps_pin *held, unsigned nheld,
                         vmar_paddr_t pa, uint64_t v)
{
    ps_dma_lock(s, false);
    __atomic_store_n(&ps_frame(s, pa)[0], v, __ATOMIC_RELAXED);
    ps_dma_unlock(s);
    for (unsigned h = 0; h < nheld; h++)
        for (unsigned i = 0; i < held[h].n; i++)
            if (held[h].pa[i] == pa)
                held[h].dev[i] = v;
}

/* Fork with a write-pinned private page at va whose frame holds `before`,
 * then let the device write `after`: the child keeps `before` (its copy
 * was made at fork), unless the page changed meanwhile. */
static void ps_fork_check(struct ps *s, unsigned t, unsigned kind,
                          vmar_addr_t va, struct ps_pin *held, unsigned nheld,
                          vmar_paddr_t pa, uint64_t before, unsigned long g0)
{
    struct vmar_sim_lock *lock;
    struct vmar_space *child;
    uint64_t got = 0, after = before ^ 0xff00;
    int rc;

    if (vmar_sim_lock_create(&lock) != 0) {
        FAIL(s, "pin owner %u: no lock for the child\n", t);
        return;
    }
    ps_dma_lock(s, true);
    rc = cc_fork(s->c, s->c->vt.space, lock, &child);
    ps_dma_unlock(s);
    if (rc != 0) {
        FAIL(s, "pin owner %u: fork rc %d\n", t, rc);
        vmar_sim_lock_destroy(lock);
        return;
    }
    ps_dev_write(s, held, nheld, pa, after);
    rc = vmar_read(child, va, &got, sizeof(got), NULL);
    /* A hole or PROT_NONE at fork time: VMAR_EFAULT. */
    if (rc == 0 && ps_gen(s, t, kind) == g0 &&
        got !=
            (kind == PS_SHARED_ANON || kind == PS_SHARED_OBJ ? after : before))
        FAIL(s,
             "pin owner %u kind %u: child of fork reads %#llx at %#llx "
             "(before %#llx, after %#llx)\n",
             t, kind, (unsigned long long)got, (unsigned long long)va,
             (unsigned long long)before, (unsigned long long)after);
    else if (rc != 0 && rc != VMAR_EFAULT)
        FAIL(s, "pin owner %u: child read rc %d\n", t, rc);
    if (vmar_check(child) != 0)
        FAIL(s, "pin owner %u: vmar_check of the child failed\n", t);
    vmar_space_destroy(child);
    vmar_sim_lock_destroy(lock);
    PS_COUNT(s->fork_checks);
}

/* Pin one to PS_NPIN pages of a random region of this owner's, read and
 * write them through the frames and through the CPU, and compare; keep
 * the pin for later or give it back. */
static bool ps_owner_step(struct ps *s, unsigned t, uint64_t r,
                          struct ps_pin *held, unsigned *nheld, uint32_t *n)
{
    struct vmar_sim_cpu *cpu = s->c->cpu[t];
    const unsigned kind = (unsigned)(r % PS_KINDS);
    const unsigned first = (unsigned)((r >> 8) % PS_PAGES);
    const vmar_addr_t base = ps_region(t, kind) + first * PG;
    const unsigned long g0 = ps_gen(s, t, kind);
    struct ps_pin p = {.write = (r >> 16) % 2 == 0, .kind = kind, .gen = g0};
    int rc;

    ++*n;
    p.n = 1 + (unsigned)((r >> 20) % PS_NPIN);
    if (first + p.n > PS_PAGES)
        p.n = PS_PAGES - first;
    rc = vmar_pin(s->c->vt.space, base, p.n, p.write ? VMAR_PIN_WRITE : 0u,
                  p.pa);
    if (rc == VMAR_EFAULT) { /* a hole, or protected against the access */
        PS_COUNT(s->refused);
        return false;
    }
    if (rc != 0) {
        FAIL(s, "pin owner %u: vmar_pin rc %d\n", t, rc);
        return false;
    }
    PS_COUNT(s->pins);
    for (unsigned i = 0; i < p.n; i++) {
        const vmar_addr_t va = base + i * PG;
        uint64_t got = 0, v, w;

        p.dev[i] = ps_load(s, p.pa[i], 0);
        if (!p.write) {
            /* What the space reads is what the device reads. */
            rc = vmar_sim_cpu_access(cpu, va, RD, &got, sizeof(got));
            if (rc == 0 && ps_gen(s, t, kind) == g0 && got != p.dev[i])
                FAIL(s,
                     "pin owner %u: read pin %#llx holds %#llx, the "
                     "space reads %#llx\n",
                     t, (unsigned long long)va, (unsigned long long)p.dev[i],
                     (unsigned long long)got);
            continue;
        }
        /* What the device writes, the space reads ... */
        v = (uint64_t)PS_MAGIC << 56 | (uint64_t)t << 48 |
            (uint64_t)kind << 44 | (uint64_t)(first + i) << 36 | *n;
        ps_dev_write(s, held, *nheld, p.pa[i], v);
        p.dev[i] = v;
        if ((r >> 24) % 4 == 0)
            rc = vmar_read(s->c->vt.space, va, &got, sizeof(got), NULL);
        else
            rc = vmar_sim_cpu_access(cpu, va, RD, &got, sizeof(got));
        if (rc == 0 && ps_gen(s, t, kind) == g0 && got != v)
            FAIL(s,
                 "pin owner %u: device wrote %#llx to %#llx, the space "
                 "reads %#llx\n",
                 t, (unsigned long long)v, (unsigned long long)va,
                 (unsigned long long)got);
        /* ... and what the space writes, the device reads: a write
         * fault keeps the pinned frame. */
        w = ~v;
        ps_dma_lock(s, false);
        rc = vmar_sim_cpu_access(cpu, va + 8, WR, &w, sizeof(w));
        ps_dma_unlock(s);
        if (rc == 0 && ps_gen(s, t, kind) == g0 && ps_load(s, p.pa[i], 1) != w)
            FAIL(s,
                 "pin owner %u: the space wrote %#llx at %#llx, the "
                 "pinned frame %#llx holds %#llx\n",
                 t, (unsigned long long)w, (unsigned long long)va + 8,
                 (unsigned long long)p.pa[i],
                 (unsigned long long)ps_load(s, p.pa[i], 1));
        if (i == 0 && (r >> 28) % 8 == 0) {
            ps_fork_check(s, t, kind, va, held, *nheld, p.pa[0], p.dev[0], g0);
            p.dev[0] = ps_load(s, p.pa[0], 0); /* the check's write */
        }
    }
    if (*nheld < PS_HOLD && (r >> 32) % 2 == 0) {
        held[(*nheld)++] = p;
        return true;
    }
    ps_unpin(s, t, &p);
    if (*nheld > 0 && (r >> 33) % 2 == 0) {
        unsigned h = (unsigned)((r >> 40) % *nheld);
        ps_unpin(s, t, &held[h]);
        held[h] = held[--*nheld];
    }
    return true;
}

static void *ps_owner_main(void *arg)
{
    struct job *w = arg;
    struct ps *s = w->s;
    uint64_t rng = s->seed ^ (0x7000 + w->t);
    struct ps_pin held[PS_HOLD];
    unsigned nheld = 0;
    uint32_t n = 0;
    bool pinned = false;

    /* Until the deadline, and until a pin was taken: a slow host may let
     * a thread run one loop only, which a hole may refuse. */
    do {
        s->ops[w->t]++;
        pinned |= ps_owner_step(s, w->t, vt_rand(&rng), held, &nheld, &n);
    } while (!past(&s->deadline) || (!pinned && s->ops[w->t] < 1000));
    while (nheld > 0)
        ps_unpin(s, w->t, &held[--nheld]);
    return NULL;
}

/* Faults and CPU reads on every owner's pages, which change no contents:
 * a write fault breaks copy-on-write (or finds the leaf writable), and
 * must keep a pinned frame in place. */
static void *ps_fault_main(void *arg)
{
    struct job *w = arg;
    struct ps *s = w->s;
    struct vmar_sim_cpu *cpu = s->c->cpu[w->t];
    uint64_t rng = s->seed ^ 0x7100;

    do {
        uint64_t r = vt_rand(&rng), v;
        vmar_addr_t va = ps_region((unsigned)(r % PS_OWNERS),
                                   (unsigned)((r >> 8) % PS_KINDS)) +
                         ((r >> 16) % PS_PAGES) * PG;
        int rc;

        s->ops[w->t]++;
        if ((r >> 32) % 3 == 0)
            rc = vmar_sim_cpu_access(cpu, va, RD, &v, sizeof(v));
        else if ((rc = vmar_fault(s->c->vt.space, va,
                                  (r >> 32) % 3 == 1 ? RD : WR, 0)) == 0)
            PS_COUNT(s->faults);
        if (rc != 0 && rc != VMAR_ENOENT && rc != VMAR_EACCES)
            FAIL(s, "pin faulter: %#llx rc %d\n", (unsigned long long)va, rc);
    } while (!past(&s->deadline) || s->ops[w->t] < PS_MIN_FAULTS);
    return NULL;
}

/* Changes the owners' regions: a hole and fresh pages, fresh pages over
 * them, protections, a move out and back, dropped pages, checks. */
static void *ps_layout_main(void *arg)
{
    struct job *w = arg;
    struct ps *s = w->s;
    struct vmar_space *space = s->c->vt.space;
    uint64_t rng = s->seed ^ 0x7200;
    static const unsigned prots[] = {VMAR_PROT_READ, VMAR_PROT_NONE, RW, RW};

    do {
        uint64_t r = vt_rand(&rng);
        const unsigned owner = (unsigned)(r % PS_OWNERS);
        const unsigned kind = (unsigned)((r >> 4) % PS_KINDS);
        const unsigned first = (unsigned)((r >> 8) % PS_PAGES);
        const unsigned np = 1 + (unsigned)((r >> 16) % (PS_PAGES - first));
        const unsigned change = (unsigned)((r >> 24) % PS_CHANGES);
        const vmar_addr_t a = ps_region(owner, kind) + first * PG;
        const vmar_size_t n = np * PG;
        int rc = 0;

        s->ops[w->t]++;
        switch (change) {
        case 0: /* a hole, then fresh pages */
            ps_bump(s, owner, kind);
            rc = vmar_unmap(space, a, n);
            if (rc == 0)
                rc = ps_map(s, owner, kind, a, n, 0);
            break;
        case 1: /* fresh pages over the old ones */
            ps_bump(s, owner, kind);
            rc = ps_map(s, owner, kind, a, n,
                        (r >> 32) % 2 ? (unsigned)VMAR_MAP_POPULATE : 0u);
            break;
        case 2:
            rc = vmar_protect(space, a, n, prots[(r >> 32) % 4]);
            break;
        case 3: /* out and back: the leaves and the pins' frames move */
            rc = vmar_remap(space, a, n, n,
                            VMAR_REMAP_MAYMOVE | VMAR_REMAP_FIXED, PS_DEST,
                            NULL);
            if (rc == 0)
                rc = vmar_remap(space, PS_DEST, n, n,
                                VMAR_REMAP_MAYMOVE | VMAR_REMAP_FIXED, a, NULL);
            else if (rc == VMAR_EFAULT)
                rc = 0; /* the range spans mappings of different prot */
            break;
        case 4: /* refused on locked memory */
            ps_bump(s, owner, kind);
            rc = vmar_advise(space, a, n, VMAR_ADVISE_DONTNEED);
            if (rc == VMAR_EINVAL)
                rc = 0;
            break;
        default:
            rc = vmar_check(space);
            break;
        }
        if (rc != 0)
            FAIL(s, "pin layout change %u on [%#llx, +%u pages): rc %d\n",
                 change, (unsigned long long)a, np, rc);
        else
            s->changes[change]++;
    } while (!past(&s->deadline));
    return NULL;
}

/* A mapping's statistics (smaps) beside pins: no more pinned or locked
 * bytes than resident ones. */
static int ps_stats_fn(void *arg, const struct vmar_mapping_stats *st)
{
    (void)arg;
    return st->pinned > st->rss || st->locked > st->rss ? VMAR_ECORRUPT : 0;
}

/* Locks and unlocks ranges and the whole space (each lock populates
 * what it locks), and forks. */
static void *ps_lock_main(void *arg)
{
    struct job *w = arg;
    struct ps *s = w->s;
    struct vmar_space *space = s->c->vt.space;
    uint64_t rng = s->seed ^ 0x7300;

    do {
        uint64_t r = vt_rand(&rng);
        const unsigned first = (unsigned)((r >> 8) % PS_PAGES);
        const vmar_addr_t a = ps_region((unsigned)(r % PS_OWNERS),
                                        (unsigned)((r >> 4) % PS_KINDS)) +
                              first * PG;
        const vmar_size_t n =
            (1 + (unsigned)((r >> 16) % (2 * PS_PAGES - first))) * PG;
        const unsigned change = (unsigned)((r >> 24) % PS_LOCKS);
        int rc = 0;

        s->ops[w->t]++;
        switch (change) {
        case 0: /* holes are VMAR_ENOMEM, as Linux's; a VMAR_PROT_NONE
                 * mapping fails the population with VMAR_EFAULT */
            rc = vmar_mlock(space, a, n,
                            (r >> 32) % 2 ? (unsigned)VMAR_MLOCK_ONFAULT : 0u);
            if (rc == VMAR_ENOMEM || rc == VMAR_EFAULT)
                rc = 0;
            break;
        case 1:
            rc = vmar_munlock(space, a, n);
            if (rc == VMAR_ENOMEM)
                rc = 0;
            break;
        case 2:
            rc = vmar_mlockall(
                space,
                VMAR_MLOCKALL_CURRENT |
                    ((r >> 32) % 2 ? (unsigned)VMAR_MLOCKALL_FUTURE : 0u) |
                    ((r >> 33) % 2 ? (unsigned)VMAR_MLOCKALL_ONFAULT : 0u));
            break;
        case 3:
            rc = vmar_munlockall(space);
            break;
        case 4:
            ps_dma_lock(s, true);
            rc = cc_fork_checked(s->c, space);
            ps_dma_unlock(s);
            break;
        default: /* the readers of pin and lock counts run beside them */
            rc = vmar_check(space);
            if (rc == 0)
                rc = vmar_iterate_stats(space, 0, ~(vmar_addr_t)0, ps_stats_fn,
                                        NULL);
            break;
        }
        if (rc != 0)
            FAIL(s, "pin lock change %u on [%#llx, +%#llx): rc %d\n", change,
                 (unsigned long long)a, (unsigned long long)n, rc);
        else
            s->locks[change]++;
    } while (!past(&s->deadline));
    return NULL;
}

static void *ps_main(void *arg)
{
    const unsigned t = ((struct job *)arg)->t;

    if (t < PS_OWNERS)
        return ps_owner_main(arg);
    if (t == PS_OWNERS)
        return ps_fault_main(arg);
    return t == PS_OWNERS + 1 ? ps_layout_main(arg) : ps_lock_main(arg);
}

/* Bytes of locked mappings, from the mappings. */
static int ps_sum_locked(void *arg, const struct vmar_mapping_info *info)
{
    if (info->flags & VMAR_MAP_LOCKED)
        *(vmar_size_t *)arg += info->end - info->start;
    return 0;
}

static void test_pin_stress(void **state)
{
    static struct ps s; /* zeroed */
    const double secs = test_seconds() / 4;
    struct cc c;
    struct jobs jobs;
    struct vmar_stats st;
    vmar_size_t locked = 0;
    pthread_rwlockattr_t attr;
    size_t frames0;

    (void)state;
    memset(&s, 0, sizeof(s));
    s.seed = vt_seed((uint64_t)time(NULL));
    fprintf(stderr,
            "pin stress: %u pinning CPUs, 1 faulting CPU, 1 layout thread, "
            "1 lock and fork thread, %.1f s\n",
            PS_OWNERS, secs);
    cc_setup(&c, 0, PS_OWNERS + 1);
    s.c = &c;
    assert_int_equal(pthread_rwlockattr_init(&attr), 0);
    /* Writer-preferring: the owners' short holds must not starve a fork. */
    pthread_rwlockattr_setkind_np(&attr,
                                  PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    assert_int_equal(pthread_rwlock_init(&s.dma, &attr), 0);
    pthread_rwlockattr_destroy(&attr);
    frames0 = vt_stats(&c.vt).frames_live;
    for (unsigned t = 0; t < PS_OWNERS; t++) {
        for (unsigned k = 0; k < 2; k++)
            assert_int_equal(
                vmar_memfd_create(c.vt.env, PS_PAGES * PG, &s.obj[t][k]), 0);
        for (unsigned k = 0; k < PS_KINDS; k++)
            assert_int_equal(
                ps_map(&s, t, k, ps_region(t, k), PS_PAGES * PG, 0), 0);
    }

    s.deadline = deadline_after(secs);
    jobs_start(&jobs, &s, PS_THREADS, ps_main, NULL, NULL);
    jobs_join(&jobs);
    fprintf(stderr, "pin stress: ops per thread:");
    for (unsigned t = 0; t < PS_THREADS; t++)
        fprintf(stderr, " %lu", s.ops[t]);
    fprintf(stderr,
            "; pins %lu (refused %lu, kept past a change %lu), fork checks "
            "%lu; unmap+map %lu, map over %lu, protect %lu, remap %lu, "
            "dontneed %lu, check %lu; mlock %lu, munlock %lu, mlockall %lu, "
            "munlockall %lu, fork %lu\n",
            s.pins, s.refused, s.held_over, s.fork_checks, s.changes[0],
            s.changes[1], s.changes[2], s.changes[3], s.changes[4],
            s.changes[5], s.locks[0], s.locks[1], s.locks[2], s.locks[3],
            s.locks[4]);
    assert_int_equal(s.failures, 0);
    /* The faulter's direct calls count: its CPU reads may all find their
     * pages present (the owners populate them by pinning). */
    expect_ran_faults(&c, s.ops, PS_THREADS, s.faults);
    assert_true(s.pins > 0);

    /* Every pin given back; the lock count is the locked mappings'. */
    vmar_stats(c.vt.space, &st);
    assert_int_equal(st.pinned, 0);
    assert_int_equal(vmar_iterate(c.vt.space, st.user_lo, st.user_hi,
                                  ps_sum_locked, &locked),
                     0);
    assert_int_equal(st.locked, locked);
    VT_CHECK(&c.vt);
    expect_rss_exact(&c);
    /* Without the regions and the objects, every frame is back. */
    for (unsigned t = 0; t < PS_OWNERS; t++) {
        assert_int_equal(
            vmar_unmap(c.vt.space, ps_region(t, 0), PS_KINDS * PS_PAGES * PG),
            0);
        for (unsigned k = 0; k < 2; k++)
            vmar_object_unref(s.obj[t][k]);
    }
    VT_CHECK(&c.vt);
    assert_int_equal(vt_stats(&c.vt).frames_live, frames0);
    pthread_rwlock_destroy(&s.dma);
    cc_teardown(&c);
}

/* ---- per-thread frame caches ----------------------------------------- */

#define FC_FRAMES 8u

struct fc_job {
    const struct vmar_env *env;
    struct vmar_sim *sim;
    vmar_paddr_t pa[FC_FRAMES];
    size_t n;       /* frames allocated (allocate) or to free (free) */
    bool free_them; /* free pa[0..n) in order, then exit */
    int last_rc;    /* allocate: the call after the pool ran dry */
    unsigned bad;   /* bytes not zero in a VMAR_FRAME_ZERO frame */
};

static void *fc_main(void *arg)
{
    struct fc_job *j = arg;

    if (j->free_them) {
        for (size_t i = 0; i < j->n; i++)
            j->env->frame_free(j->env->ctx, j->pa[i]);
        return NULL;
    }
    for (j->n = 0; j->n < FC_FRAMES; j->n++) {
        if (j->env->frame_alloc(j->env->ctx, VMAR_FRAME_ZERO, &j->pa[j->n]) !=
            0)
            break;
        const unsigned char *b = j->env->phys_to_virt(j->env->ctx, j->pa[j->n]);
        for (size_t k = 0; k < PG; k++)
            j->bad += b[k] != 0;
    }
    j->last_rc = j->env->frame_alloc(j->env->ctx, 0, &j->pa[0]);
    return NULL;
}

static void fc_run(struct fc_job *j)
{
    pthread_t th;

    assert_int_equal(pthread_create(&th, NULL, fc_main, j), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
}

static struct vmar_sim_stats fc_stats(struct vmar_sim *sim)
{
    struct vmar_sim_stats st;

    vmar_sim_stats(sim, &st);
    return st;
}

/* Two threads allocating and freeing at once over a pool their caches
 * alone could hold: each holds at most FC_HOLD frames, the pool has
 * FC_SLACK more, so an allocation may never fail. */
#define FC_HOLD   40u
#define FC_SLACK  8u
#define FC_ROUNDS 2000u

struct fc_churn {
    const struct vmar_env *env;
    unsigned seed;
    unsigned enomem, bad;
};

static void *fc_churn_main(void *arg)
{
    struct fc_churn *c = arg;
    vmar_paddr_t pa[FC_HOLD];
    uint64_t rng = c->seed;

    for (unsigned r = 0; r < FC_ROUNDS; r++) {
        rng = rng * 6364136223846793005u + 1442695040888963407u;
        size_t n = 1 + (size_t)(rng >> 33) % FC_HOLD, got = 0;

        for (; got < n; got++) {
            if (c->env->frame_alloc(c->env->ctx, 0, &pa[got]) != 0) {
                c->enomem++;
                break;
            }
            unsigned char *b = c->env->phys_to_virt(c->env->ctx, pa[got]);
            c->bad += b[0] != 0x5a || b[PG - 1] != 0x5a; /* poisoned */
            b[0] = (unsigned char)c->seed;
        }
        for (size_t i = 0; i < got; i++)
            c->env->frame_free(c->env->ctx, pa[i]);
    }
    return NULL;
}

static void test_frame_caches(void **state)
{
    struct vmar_sim_opts so = {.nframes = FC_FRAMES};
    struct vmar_sim *sim;
    const struct vmar_env *env;
    struct fc_job a = {0}, b = {0}, fr = {0};
    vmar_paddr_t pa;

    (void)state;
    assert_int_equal(vmar_sim_create(&so, &sim), 0);
    env = vmar_sim_env_locked(sim);
    a.env = b.env = fr.env = env;

    /* A thread takes every frame; the next call fails: nothing is free. */
    fc_run(&a);
    assert_int_equal(a.n, FC_FRAMES);
    assert_int_equal(a.last_rc, VMAR_ENOMEM);
    assert_int_equal(a.bad, 0);
    assert_int_equal(fc_stats(sim).frames_live, FC_FRAMES);
    assert_int_equal(fc_stats(sim).frame_alloc_calls, FC_FRAMES + 1);

    /* The main thread frees them into its cache: free in the stats. */
    for (size_t i = 0; i < FC_FRAMES; i++) {
        memset(env->phys_to_virt(env->ctx, a.pa[i]), 0x33, PG);
        env->frame_free(env->ctx, a.pa[i]);
        assert_false(vmar_sim_frame_live(sim, a.pa[i]));
    }
    assert_int_equal(fc_stats(sim).frames_live, 0);

    /* Another thread gets all of them out of the main thread's cache,
     * zeroed; only then does the pool run dry. */
    fc_run(&b);
    assert_int_equal(b.n, FC_FRAMES);
    assert_int_equal(b.last_rc, VMAR_ENOMEM);
    assert_int_equal(b.bad, 0);
    assert_int_equal(fc_stats(sim).frames_live, FC_FRAMES);
    assert_int_equal(fc_stats(sim).frame_alloc_calls, 2 * (FC_FRAMES + 1));

    /* A third thread frees them and exits: its cache goes back in order,
     * so the main thread gets the last one freed first, poisoned. */
    memcpy(fr.pa, b.pa, sizeof(b.pa));
    fr.n = FC_FRAMES;
    fr.free_them = true;
    fc_run(&fr);
    assert_int_equal(fc_stats(sim).frames_live, 0);
    for (size_t i = FC_FRAMES; i-- > 0;) {
        const unsigned char *p;

        assert_int_equal(env->frame_alloc(env->ctx, 0, &pa), 0);
        assert_int_equal(pa, b.pa[i]);
        p = env->phys_to_virt(env->ctx, pa);
        assert_int_equal(p[0], 0x5a);
        assert_int_equal(p[PG - 1], 0x5a);
    }
    assert_int_equal(env->frame_alloc(env->ctx, 0, &pa), VMAR_ENOMEM);
    for (size_t i = 0; i < FC_FRAMES; i++)
        env->frame_free(env->ctx, b.pa[i]);
    assert_int_equal(fc_stats(sim).frames_live, 0);
    assert_int_equal(fc_stats(sim).frame_alloc_calls, 3 * (FC_FRAMES + 1));
    vmar_sim_destroy(sim);

    /* Two threads at once, the pool smaller than their caches. */
    so.nframes = 2 * FC_HOLD + FC_SLACK;
    assert_int_equal(vmar_sim_create(&so, &sim), 0);
    env = vmar_sim_env_locked(sim);
    struct fc_churn ch[2] = {{env, 1, 0, 0}, {env, 2, 0, 0}};
    pthread_t th[2];
    for (unsigned t = 0; t < 2; t++)
        assert_int_equal(pthread_create(&th[t], NULL, fc_churn_main, &ch[t]),
                         0);
    for (unsigned t = 0; t < 2; t++) {
        assert_int_equal(pthread_join(th[t], NULL), 0);
        assert_int_equal(ch[t].enomem, 0);
        assert_int_equal(ch[t].bad, 0);
    }
    assert_int_equal(fc_stats(sim).frames_live, 0);
    /* Every frame is back on the free stack: one thread gets them all. */
    vmar_paddr_t all[2 * FC_HOLD + FC_SLACK];
    for (size_t i = 0; i < so.nframes; i++)
        assert_int_equal(env->frame_alloc(env->ctx, 0, &all[i]), 0);
    assert_int_equal(env->frame_alloc(env->ctx, 0, &pa), VMAR_ENOMEM);
    assert_int_equal(fc_stats(sim).frames_live, so.nframes);
    for (size_t i = 0; i < so.nframes; i++)
        env->frame_free(env->ctx, all[i]);
    assert_int_equal(fc_stats(sim).frames_live, 0);
    vmar_sim_destroy(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_page_race),
        cmocka_unit_test(test_check_beside_copies),
        cmocka_unit_test(test_pin_beside_copies),
        cmocka_unit_test(test_stress),
        cmocka_unit_test(test_shared_pages),
        cmocka_unit_test(test_split_tables),
        cmocka_unit_test(test_layout_races),
        cmocka_unit_test(test_neighbour_churn),
        cmocka_unit_test(test_stack_growth),
        cmocka_unit_test(test_pin_stress),
        cmocka_unit_test(test_frame_caches),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
