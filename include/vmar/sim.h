/* SPDX-License-Identifier: MIT */
/**
 * @file sim.h
 * @brief The simulated machine: a pool of physical frames, an environment
 *        over it and CPUs with TLBs; and the `vmar_mmu_sim` backend.
 *        Hosted (uses libc); for tests, the demo and benchmarks, never for
 *        kernels.
 *
 * One `struct vmar_sim` is one simulated machine. vmar_sim_env() returns a
 * `struct vmar_env` whose metadata allocator counts and can be made to
 * fail, whose frames come from the pool (freed frames are poisoned and
 * double frees abort), and whose phys_to_virt points into the pool. The
 * machine (src/mmu/sim/machine/, library vmar::sim_machine) uses only the
 * public API, so it runs spaces of any backend whose tables live in its
 * pool. The backend `vmar_mmu_sim` (src/mmu/sim/backend/, vmar::sim,
 * which brings the machine along) keeps real radix page tables in pool
 * frames (the generic walker of src/mmu/ with a simple neutral PTE
 * format) and reports every operation the core asks of it to the machine
 * (see "Backends reporting to the machine" below).
 *
 * Threads: a machine is thread-safe. Its allocator, frame pool, failure
 * injection and CPUs take pthread mutexes of their own
 * (src/mmu/sim/machine/machine.h has the lock order); the sim backend's
 * tables take none: their entries are single atomic words, as hardware
 * sees them, and the backend has VMAR_MMU_CAP_SPLIT_PT (a CPU walks under
 * its own mutex, which a flush takes, as a shootdown waits for a walk in
 * flight). So several threads may fault and access one space
 * concurrently while another changes its layout, provided the space is
 * created over vmar_sim_env_locked() with a vmar_sim_lock. Single-threaded
 * behaviour and output are the same as without threads.
 *
 * Frames come from per-thread caches, so that threads faulting in
 * parallel share no machine-wide lock: each thread allocates from and
 * frees to a cache of its own (up to 64 free frames) under that cache's
 * own mutex, and takes the machine's mutex only to refill an empty cache
 * (half a cache from the free pool) or drain a full one (half to it).
 * Frames in a cache are free: poisoned, not live, not counted in
 * frames_live. To one thread the pool with its cache behaves as one
 * stack, so single-threaded frame order is the pool's (last freed, first
 * reused). An allocation that finds its cache and the pool empty first
 * reclaims every other thread's cache, so VMAR_ENOMEM means that no frame
 * is free anywhere. A thread that exits returns its cache (a pthread key
 * destructor, run before pthread_join() returns); vmar_sim_destroy()
 * returns the caches of threads still alive. While a frame hook is
 * installed or failure injection armed, every frame allocation takes the
 * machine's mutex, so the n-th allocation is well defined. Each thread
 * counts (vmar_sim_count(), its frame allocations) in a share of its
 * own, beside its cache, which vmar_sim_stats() adds up, and the frames'
 * state is read without a lock (vmar_sim_frame_live(),
 * env->frame_refcount): threads faulting in parallel write no line of
 * the machine's that the others write.
 */
#ifndef VMAR_SIM_H
#define VMAR_SIM_H

#include <vmar/env.h>
#include <vmar/mmu.h>
#include <vmar/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A simulated machine. Opaque. */
struct vmar_sim;

/** Options for vmar_sim_create(); zero means default. */
struct vmar_sim_opts {
    /** Frames in the physical pool. 0: 4096 (16 MiB). */
    size_t nframes;
    /** Physical address of frame 0 (page aligned, non-zero).
     *  0: 0x100000000 (so that 0 is never a valid frame). */
    vmar_paddr_t phys_base;
    /** Seed for env->random. */
    uint64_t seed;
    /** Provide env->random (enables ASLR in spaces that ask for it). */
    bool with_random;
    /** Print env->log messages to stderr. */
    bool verbose;
    /** Leave env->frame_refcount NULL, as an embedder without per-frame
     *  reference counts would (fork and object mappings are then
     *  VMAR_ENOTSUP). */
    bool no_frame_refcount;
    /** Back the pool with 2 MiB host pages where the host offers them
     *  (Linux: a 2 MiB-aligned pool and madvise(MADV_HUGEPAGE)), as a
     *  kernel's direct map is. Benchmarks want it: on 4 KiB pages every
     *  frame is a host TLB entry of its own, and in this project's
     *  benchmark guest (a VM that shadows page tables) zeroing a frame
     *  cost microseconds after the process's other mappings churned
     *  (docs/perf/history.md). Elsewhere, or when the host declines, the
     *  pool is on ordinary pages; never an error. */
    bool huge_pages;
};

/**
 * Create a machine: a pool of frames (from malloc) and an env over it.
 *
 * @param opts  the options; NULL or zero fields mean the defaults.
 * @param out   receives the machine on success.
 * Returns: 0 and the machine in *out; VMAR_EINVAL when out is NULL,
 *  phys_base is not page aligned, or the pool does not fit the sim PTE's
 *  52-bit physical addresses; VMAR_ENOMEM when the host allocation fails.
 * Locking: none needed (the machine is new).
 * On failure: nothing allocated, *out untouched.
 */
int vmar_sim_create(const struct vmar_sim_opts *opts, struct vmar_sim **out);

/**
 * Destroy a machine and free its pool. Every space using it must be
 * destroyed first.
 *
 * @param sim  the machine; invalid afterwards.
 * Locking: none taken; no other thread may use the machine, its CPUs or
 *  its spaces any more.
 * On failure: cannot fail.
 */
void vmar_sim_destroy(struct vmar_sim *sim);

/**
 * The environment of this machine, for vmar_space_opts::env.
 *
 * @param sim  the machine.
 * Returns: the env, valid as long as the machine; never NULL.
 * Locking: none (the env never changes); thread-safe. The env's callbacks
 *  are thread-safe (metadata under the machine's internal mutex, frames
 *  from the calling thread's cache: see "Threads" above), but the env
 *  has no lock hooks: spaces over it are serialised by their users.
 * On failure: cannot fail.
 */
const struct vmar_env *vmar_sim_env(struct vmar_sim *sim);

/**
 * The same environment plus lock hooks: env->lock / env->unlock take a
 * `struct vmar_sim_lock` (a pthread reader-writer lock, writer-preferring)
 * in the mode libvmar asks for, and env->lock_held checks that the calling
 * thread holds it. Give each space its own lock object in
 * vmar_space_opts::lock (and vmar_fork_opts::lock); a space given none is
 * serialised by its user, as over vmar_sim_env(). When a call releases
 * the lock, every page-table change it made must have been flushed; a
 * change left unflushed is reported on stderr ("MISSED FLUSH") and counted
 * in vmar_sim_violations(). Its frame callbacks are the same as
 * vmar_sim_env()'s: per-thread caches, no machine-wide lock on a fault
 * (see "Threads" above), so benchmarks over it measure libvmar's locks.
 *
 * @param sim  the machine.
 * Returns: the env, valid as long as the machine; never NULL.
 * Locking: none (the env never changes); thread-safe.
 * On failure: cannot fail.
 */
const struct vmar_env *vmar_sim_env_locked(struct vmar_sim *sim);

/** A space lock for vmar_sim_env_locked(). Opaque. */
struct vmar_sim_lock;

/**
 * Create a space lock for vmar_sim_env_locked(), independent of any
 * machine.
 *
 * @param out  receives the lock on success.
 * Returns: 0 and the lock in *out; VMAR_EINVAL when out is NULL;
 *  VMAR_ENOMEM when the host allocation or pthread_rwlock_init fails.
 * Locking: none; thread-safe.
 * On failure: nothing allocated, *out untouched.
 */
int vmar_sim_lock_create(struct vmar_sim_lock **out);

/**
 * Destroy a space lock. Destroy the space that uses it first.
 *
 * @param lock  the lock, or NULL (nothing happens); invalid afterwards.
 * Locking: the lock must not be held (aborts if it is).
 * On failure: cannot fail.
 */
void vmar_sim_lock_destroy(struct vmar_sim_lock *lock);

/**
 * A frame-allocation hook (vmar_sim_set_frame_hook()): called at the start
 * of every env->frame_alloc, with that call's vmar_frame_flags, outside
 * the machine's locks, on the allocating thread. It may block (a test
 * lines threads up at a barrier) but must not call back into the machine's
 * env.
 *
 * @param arg    the pointer given to vmar_sim_set_frame_hook().
 * @param flags  the allocation's vmar_frame_flags.
 */
typedef void (*vmar_sim_frame_hook)(void *arg, unsigned flags);

/**
 * Install (or with NULL remove) the frame-allocation hook.
 *
 * @param sim   the machine.
 * @param hook  called by every later env->frame_alloc; NULL: none.
 * @param arg   handed to the hook.
 * Locking: takes the machine's internal mutex; thread-safe. An allocation
 *  already past the hook is not affected. While a hook is installed,
 *  every frame allocation takes the machine's internal mutex.
 * On failure: cannot fail.
 */
void vmar_sim_set_frame_hook(struct vmar_sim *sim, vmar_sim_frame_hook hook,
                             void *arg);

/** The sim backend; its mmu_config is the `struct vmar_sim *`, which the
 *  page table keeps: the machine must outlive every space on it. Give the
 *  same machine as vmar_fork_opts::mmu_config to fork. */
extern const struct vmar_mmu_ops vmar_mmu_sim;

/** Counters, cumulative since creation unless marked "live". */
struct vmar_sim_stats {
    size_t alloc_calls;      /**< env->alloc calls (failed ones included) */
    size_t allocs_live;      /**< metadata blocks not yet freed */
    size_t alloc_bytes_live; /**< their total size */
    /** env->frame_alloc calls (failed ones included) */
    size_t frame_alloc_calls;
    size_t frames_live;    /**< frames allocated (tables included) */
    size_t tables_live;    /**< page-table pages held by sim backends */
    size_t fails_injected; /**< allocations failed on purpose */
    /** Backend operations the core asked for, as backends report them
     *  (vmar_sim_count(); the sim backend does): prepare, map (one per
     *  page installed, replace included), unmap, protect, find_next and
     *  flush calls. */
    /**@{*/
    size_t prepares, maps, unmaps, protects, finds, flushes;
    /**@}*/
    size_t leaves_live; /**< present leaves over all sim backends */
};

/**
 * Read the counters.
 *
 * @param sim  the machine.
 * @param out  receives the counters.
 * Locking: takes the machine's internal mutex and each thread cache's;
 *  thread-safe. Exact when no other thread allocates, frees or counts
 *  meanwhile (a test's teardown); read while they do, each counter is a
 *  sum of the threads' shares, each share a value it had. Frames held
 *  in threads' caches are free: frames_live counts only frames handed
 *  out, frame_alloc_calls every call.
 * On failure: cannot fail.
 */
void vmar_sim_stats(const struct vmar_sim *sim, struct vmar_sim_stats *out);

/** vmar_sim_fail_after() mask: which allocations count. */
enum vmar_sim_fail_mask {
    VMAR_SIM_FAIL_ALLOC = 1u << 0, /**< env->alloc */
    VMAR_SIM_FAIL_FRAME = 1u << 1, /**< env->frame_alloc: DATA and TABLE */
    VMAR_SIM_FAIL_ANY = VMAR_SIM_FAIL_ALLOC | VMAR_SIM_FAIL_FRAME,
    /** env->frame_alloc without VMAR_FRAME_TABLE: data frames only. */
    VMAR_SIM_FAIL_DATA = 1u << 2,
    /** env->frame_alloc with VMAR_FRAME_TABLE: page-table pages only. */
    VMAR_SIM_FAIL_TABLE = 1u << 3,
};

/**
 * Make the n-th next allocation matching `mask` fail (n = 1: the very
 * next). With `persistent`, every matching allocation after it fails too.
 * n = 0 turns injection off.
 *
 * @param sim         the machine.
 * @param n           which matching allocation fails first; 0: none.
 * @param mask        vmar_sim_fail_mask bits: which allocations count.
 * @param persistent  keep failing after the n-th.
 * Locking: takes the machine's internal mutex; thread-safe. With several
 *  threads allocating, which allocation is the n-th depends on timing.
 *  While armed, every frame allocation takes the machine's internal
 *  mutex (no per-thread cache shortcut), so single-threaded the n-th is
 *  exact.
 * On failure: cannot fail.
 */
void vmar_sim_fail_after(struct vmar_sim *sim, size_t n, unsigned mask,
                         bool persistent);

/**
 * A 64-bit digest of the machine's state: which frames are allocated and
 * the content of each allocated frame (page tables included). Two equal
 * digests around a failed call mean it changed no page table and no data.
 *
 * @param sim  the machine.
 * Returns: the digest. Cost: reads every allocated frame.
 * Locking: takes the machine's internal mutex (no frame is allocated or
 *  freed meanwhile); meaningful only while no other thread writes to
 *  frames (accesses, faults, layout changes), which the caller ensures.
 * On failure: cannot fail.
 */
uint64_t vmar_sim_digest(const struct vmar_sim *sim);

/**
 * Whether `pa` is an allocated frame of this machine.
 *
 * @param sim  the machine.
 * @param pa   a physical address (any value).
 * Returns: true when `pa` is the page-aligned address of an allocated
 *  frame of the pool, false otherwise (a frame in a thread's cache is
 *  free).
 * Locking: none (an atomic read of the frame's state); thread-safe.
 * On failure: cannot fail.
 */
bool vmar_sim_frame_live(const struct vmar_sim *sim, vmar_paddr_t pa);

/* ---- simulated CPUs with TLBs -------------------------------------- */

struct vmar_space;

/**
 * A simulated CPU: a TLB model plus the space it runs. Opaque.
 *
 * The TLB is fully associative with LRU replacement; each entry caches one
 * base page of the current space (page -> frame, with the leaf's prot).
 * Every flush of the space's table reaches the CPU, matched by the value
 * vmar_space_activation() reports for the space (CR3, satp, the sim
 * table's root): the hardware-format backends' flushes through the
 * machine env's tlb_flush hook, the sim backend's through
 * vmar_sim_tlb_flush().
 */
struct vmar_sim_cpu;

/**
 * Add a CPU to `sim` with a TLB of `tlb_entries` entries, running no space.
 *
 * @param sim          the machine.
 * @param tlb_entries  TLB size; 0: 32; at most 4096.
 * @param out          receives the CPU on success.
 * Returns: 0 and the CPU in *out; VMAR_EINVAL when sim or out is NULL or
 *  tlb_entries is above 4096; VMAR_ENOMEM when the host allocation fails.
 * Locking: takes the machine's internal mutexes; thread-safe.
 * On failure: nothing allocated, *out untouched.
 */
int vmar_sim_cpu_create(struct vmar_sim *sim, unsigned tlb_entries,
                        struct vmar_sim_cpu **out);

/**
 * Remove a CPU. vmar_sim_destroy() removes the CPUs left behind.
 *
 * @param cpu  the CPU, or NULL (nothing happens); invalid afterwards. Its
 *             violations stay counted in vmar_sim_violations().
 * Locking: takes the machine's CPU-list mutex; thread-safe, but no
 *  thread may be using this CPU.
 * On failure: cannot fail.
 */
void vmar_sim_cpu_destroy(struct vmar_sim_cpu *cpu);

/**
 * Make `space` the CPU's current address space (writing CR3 or satp
 * without an ASID: the CPU's TLB is emptied). From now on, every flush of
 * that space's page table must reach this CPU. A space must not be
 * destroyed while a CPU runs it (the sim backend aborts): switch away
 * first.
 *
 * @param cpu    the CPU.
 * @param space  a space whose backend has vmar_mmu_ops::activation and
 *               whose root table is a frame of this machine, or NULL:
 *               run no space.
 * Locking: takes the CPU's mutex (flushes from other threads may arrive
 *  at any time); one thread at a time drives a CPU (switch and access).
 * On failure: cannot fail; a space without an activation or whose root
 *  is no allocated frame of this machine aborts.
 */
void vmar_sim_cpu_switch(struct vmar_sim_cpu *cpu, struct vmar_space *space);

/**
 * Perform a user-mode access of `len` bytes at `va` as hardware would,
 * page by page: a TLB hit uses the cached translation even if the page
 * table changed since (and reports a violation if that entry is stale); a
 * miss walks the space's page table through its backend; a missing or
 * insufficient translation delivers a page fault to vmar_fault() and
 * retries, like a trap return. VMAR_ACCESS_READ copies the bytes into
 * `buf`, VMAR_ACCESS_WRITE copies `buf` into the frames, VMAR_ACCESS_EXEC
 * reads like READ but needs execute permission.
 *
 * A hit is stale when the table no longer maps the page, maps another
 * frame, or grants less than the entry (whatever this access needs). It
 * is counted, reported on stderr, and served from the stale entry as
 * hardware would: a read of a freed frame returns its poison; a write to
 * a frame no longer allocated is dropped (the pool stays poisoned), one
 * to an allocated frame lands.
 *
 * CPUs may access the same bytes at the same time, as the threads of a
 * user program may: the frames are read and written with relaxed atomic
 * accesses (each aligned 8-byte word in one access, so it never tears;
 * other bytes one by one), so such races are defined and
 * ThreadSanitizer does not report them. The library's own copies
 * (vmar_read(), vmar_write(), copy-on-write) are plain memory accesses.
 *
 * @param cpu     the CPU; it must run a space.
 * @param va      first byte; any alignment.
 * @param access  exactly one vmar_access value.
 * @param buf     len bytes to read into or write from.
 * @param len     bytes; 0 does nothing.
 * Returns: 0; the vmar_fault() error that a kernel would turn into a
 *  signal (VMAR_ENOENT, VMAR_EACCES, VMAR_ENOMEM), the access having
 *  stopped at that page; VMAR_EINVAL when the CPU runs no space, access is
 *  not one value, buf is NULL with len > 0, or [va, va+len) wraps;
 *  VMAR_ECORRUPT when vmar_fault() returned 0 three times and the table
 *  still refuses the access (a livelock, reported on stderr; a fault
 *  whose work another thread's change of the page undid, as a fork
 *  write-protecting it again, does not count);
 *  VMAR_ENOTSUP for a frame outside the pool (device memory).
 * Locking: one thread at a time drives a CPU. Takes the CPU's mutex
 *  around each page's translation and copy (a flush from another thread
 *  waits for it, as a shootdown waits for the IPI) and releases it around
 *  vmar_fault(), which takes the space lock shared. With several threads,
 *  a hit on an entry whose leaf another thread changed but has not
 *  flushed yet is served from the entry and not counted: that race is
 *  legal on hardware (sim backend only; the hardware-format backends over
 *  the sim are for one thread).
 * On failure: the pages before the failing one were accessed.
 */
int vmar_sim_cpu_access(struct vmar_sim_cpu *cpu, vmar_addr_t va,
                        unsigned access, void *buf, size_t len);

/** TLB counters of one CPU, cumulative since its creation. */
struct vmar_sim_cpu_stats {
    size_t hits;   /**< page translations served by the TLB */
    size_t misses; /**< page translations that walked the table */
    size_t faults; /**< vmar_fault() calls */
    /** entries dropped by flushes (a switch empties the TLB uncounted) */
    size_t invalidations;
    size_t violations; /**< hits served by a stale entry */
};

/**
 * Read a CPU's counters.
 *
 * @param cpu  the CPU.
 * @param out  receives the counters.
 * Locking: takes the CPU's mutex; thread-safe.
 * On failure: cannot fail.
 */
void vmar_sim_cpu_stats(const struct vmar_sim_cpu *cpu,
                        struct vmar_sim_cpu_stats *out);

/**
 * Stale-TLB violations over every CPU the machine has had (0 is the goal).
 *
 * @param sim  the machine.
 * Returns: the number of accesses served by a stale TLB entry.
 * Locking: takes the machine's internal mutex; thread-safe.
 * On failure: cannot fail.
 */
size_t vmar_sim_violations(const struct vmar_sim *sim);

/* ---- backends reporting to the machine ------------------------------ */

/*
 * A backend whose tables live in the machine's pool may report its work
 * to the machine, which then counts it in vmar_sim_stats and checks its
 * flushes on the simulated CPUs. The sim backend does all of it; the
 * hardware-format backends do none (their flushes reach the CPUs through
 * env->tlb_flush). A table is named by
 * its activation value (vmar_mmu_activation::value), the name the CPUs
 * know it by.
 */

/** The backend operations vmar_sim_count() counts: members of
 *  vmar_sim_stats. */
enum vmar_sim_op {
    VMAR_SIM_OP_NONE = 0, /**< no operation counter, only the deltas */
    VMAR_SIM_OP_PREPARE,  /**< vmar_sim_stats::prepares */
    VMAR_SIM_OP_MAP,      /**< vmar_sim_stats::maps */
    VMAR_SIM_OP_UNMAP,    /**< vmar_sim_stats::unmaps */
    VMAR_SIM_OP_PROTECT,  /**< vmar_sim_stats::protects */
    VMAR_SIM_OP_FIND,     /**< vmar_sim_stats::finds */
    VMAR_SIM_OP_FLUSH,    /**< vmar_sim_stats::flushes */
};

/**
 * Count one backend operation and what it changed in the backend's page
 * tables: vmar_sim_stats::tables_live and leaves_live move by `tables`
 * and `leaves`.
 *
 * @param sim     the machine.
 * @param op      the counter that goes up by one; VMAR_SIM_OP_NONE: none.
 * @param tables  page-table pages the operation added (negative: freed).
 * @param leaves  present leaves it added (negative: removed).
 * Locking: none but a thread's first call, which takes the machine's
 *  internal mutex to give the thread its share (relaxed atomics, written
 *  by that thread only); thread-safe.
 * On failure: cannot fail; an op outside enum vmar_sim_op aborts.
 */
void vmar_sim_count(struct vmar_sim *sim, enum vmar_sim_op op, ptrdiff_t tables,
                    ptrdiff_t leaves);

/**
 * Record that the calling thread is about to change the translations of
 * [lo, hi) of `table` (unmap, protect, replace). Until a flush covers
 * them, a CPU driven by another thread may still hit its TLB entries
 * there, which hardware allows: the stale-TLB detector excuses such hits.
 * Pair every call with vmar_sim_change_end().
 *
 * @param sim    the machine.
 * @param table  the table's activation value.
 * @param lo     first address of the change.
 * @param hi     one past the last; lo >= hi records nothing.
 * Locking: takes the machine's internal mutex; thread-safe. Records are
 *  kept only once the machine has had a CPU (before, no TLB holds
 *  anything).
 * On failure: cannot fail (out of host memory aborts).
 */
void vmar_sim_change_begin(struct vmar_sim *sim, uint64_t table, vmar_addr_t lo,
                           vmar_addr_t hi);

/**
 * End the change begun on [lo, hi): of the calling thread's records of
 * `table` there, only [pending_lo, pending_hi) stays, what the change has
 * yet to flush (the batch's range). A record the thread still holds when
 * it releases a space lock of vmar_sim_env_locked() is a missed flush:
 * reported on stderr ("MISSED FLUSH") and counted in
 * vmar_sim_violations().
 *
 * @param sim         the machine.
 * @param table       the table's activation value.
 * @param lo          as given to vmar_sim_change_begin().
 * @param hi          as given to vmar_sim_change_begin().
 * @param pending_lo  first address still to flush.
 * @param pending_hi  one past the last; pending_lo >= pending_hi: none.
 * Locking: takes the machine's internal mutex; thread-safe. The cut and
 *  the new record are one step: a CPU never sees the change made and its
 *  record gone.
 * On failure: cannot fail (out of host memory aborts).
 */
void vmar_sim_change_end(struct vmar_sim *sim, uint64_t table, vmar_addr_t lo,
                         vmar_addr_t hi, vmar_addr_t pending_lo,
                         vmar_addr_t pending_hi);

/**
 * Invalidate the TLB entries of [va, va+len) (len 0: all) of `table` on
 * every CPU that runs it, then drop the records of changes there
 * (vmar_sim_change_begin()) whichever thread made them, except changes
 * another thread still has under way (begun, not yet ended): those stay
 * recorded until their own flush. A backend that
 * records changes calls it from its flush(); the machine's
 * env->tlb_flush invalidates the CPUs the same way but leaves the
 * records alone (backends flushing through it record none). A backend
 * also calls it with
 * len 0 when it destroys a table, so that records a missed flush left
 * cannot match a later table with the same value.
 *
 * @param sim    the machine.
 * @param table  the table's activation value.
 * @param va     first address.
 * @param len    bytes; 0: the whole table. A range past the top of the
 *               address space is clipped.
 * Locking: takes the CPU-list mutex, each CPU's mutex (waiting for the
 *  access in flight on it, as a shootdown waits for its IPI), then the
 *  machine's internal mutex; thread-safe. The caller may hold its own
 *  table locks (they come first in the lock order).
 * On failure: cannot fail.
 */
void vmar_sim_tlb_flush(struct vmar_sim *sim, uint64_t table, vmar_addr_t va,
                        vmar_size_t len);

/**
 * Whether a CPU of the machine runs a space whose table is `table`. A
 * backend asks before it frees a table, which must be active on no CPU.
 *
 * @param sim    the machine.
 * @param table  the table's activation value.
 * Returns: true when some CPU's current space has that activation value.
 * Locking: takes the CPU-list mutex and each CPU's mutex; thread-safe.
 * On failure: cannot fail.
 */
bool vmar_sim_table_running(const struct vmar_sim *sim, uint64_t table);

#ifdef __cplusplus
}
#endif

#endif /* VMAR_SIM_H */
