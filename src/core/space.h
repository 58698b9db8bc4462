/* SPDX-License-Identifier: MIT */
/*
 * The address space object and what every operation shares about it:
 * the locks (lock.c), the argument and limit checks (args.c) and the
 * space's life (space.c). The prepared-resources bundle is prep.h's, the
 * page table pmap.h's.
 */
#ifndef VMAR_CORE_SPACE_H
#define VMAR_CORE_SPACE_H

#include <vmar/mmu.h>
#include <vmar/vmar.h>

#include "atomic.h"
#include "deps.h"
#include "interval_set.h"

struct vmar__mapping;

/*
 * One stripe of the page-table locks and of the fault gate: a spinlock
 * (libatomic_ops), the gate's state for the stripe's leaf blocks and this
 * stripe's share of the RSS, alone on a cache line, so that faults on
 * different leaf blocks write no common line.
 *
 * Blocks. Block b (VMAR_MMU_LEAF_BLOCK bytes, one last-level table) takes
 * stripe b & pt_mask. With a backend that has VMAR_MMU_CAP_SPLIT_PT a
 * space has VMAR__PT_STRIPES stripes, so faults on neighbouring blocks
 * never share one; otherwise one, which covers the whole table.
 *
 * The lock serialises the table work made under the shared space lock or
 * inside the gate (faults, user-memory access, vmar_resident, vmar_check)
 * on the stripe's blocks. Operations holding the space lock exclusively
 * take none: they close the gate of every stripe whose blocks they change.
 *
 * The gate (lock.c): `readers` counts the faults inside, `seq` is odd
 * while an exclusive holder keeps the stripe closed (it changes a mapping
 * that covers one of the stripe's blocks, or the page table there), and
 * `cache` names the mapping the last fault here found (NULL: none), valid
 * while the stripe stays open: closing a stripe clears it. A fault whose
 * mapping is in the cache reads no line but its stripe's and the
 * mapping's.
 *
 * RSS in pages: present managed leaves whose frame is anonymous memory /
 * an object page, spread over the stripes (a fault adds to the stripe it
 * holds, every other change to stripe 0). Only the sum means anything:
 * one stripe's share may wrap below zero. Atomic adds: a stripe's share
 * is also read without its lock (vmar_stats).
 */
#define VMAR__PT_STRIPES 16u
#define VMAR__CACHE_LINE 64u

struct vmar__pt_stripe {
    volatile size_t lock;
    volatile size_t readers; /* faults inside this stripe's gate */
    volatile size_t seq;     /* odd: closed */
    volatile size_t cache;   /* (struct vmar__mapping *) or 0 */
    volatile size_t rss_anon;
    volatile size_t rss_file;
    unsigned char pad[VMAR__CACHE_LINE - 6 * sizeof(size_t)];
};

/*
 * A space and its handles. vmar_space_create() returns the space itself
 * (base == itself, every right); vmar_space_dup() returns a handle: a copy
 * of the space's constant fields (env, ops, mmu) whose `base` names the
 * space and whose `rights` may be fewer.
 * Every public entry point works on base; only `rights` is the handle's.
 */
struct vmar_space {
    /* What every fault reads, set when the space (or handle) is made and
     * never written after: the first cache line, which nothing else
     * shares (faults on a space read no line that layout changes
     * write). */
    struct vmar_space *base; /* the space this handle names */
    unsigned rights;         /* vmar_rights of this handle */
    unsigned flags;          /* vmar_space_flags */
    const struct vmar_env *env;
    const struct vmar_mmu_ops *ops;
    struct vmar_mmu *mmu;
    void *lock;          /* embedder's lock object, may be NULL */
    vmar_addr_t user_lo; /* user range [user_lo, user_hi) */
    vmar_addr_t user_hi;
    /* The page-table locks and the RSS counters (lock.c): pt_mask + 1
     * stripes, one cache line each. Also read by every fault. */
    struct vmar__pt_stripe *pt;
    size_t pt_mask;
    /* Whether mmu was created from a non-NULL config. libvmar keeps no
     * pointer to a config: vmar_fork() then needs the child's own. */
    bool mmu_configured;
    unsigned aslr_bits;
    vmar_size_t stack_guard;
    volatile size_t handles; /* base only: live handles, itself included */
    /* What layout changes write, from a cache line of its own. */
    _Alignas(VMAR__CACHE_LINE) struct vmar__iset set; /* the mappings */
    vmar_size_t as_limit;                             /* 0: unlimited */
    size_t max_map_count;
    vmar_size_t stack_limit; /* 0: none (vmar_set_stack_limit) */
    size_t stack_growths;    /* vmar_stats::stack_growths */
    /* Locking (mlock.c): the limit and whether it applies (no
     * CAP_IPC_LOCK), the bytes of VMAR_MAP_LOCKED mappings (Linux's
     * locked_vm; vmar__locked_add keeps it) and the lock flags every new
     * mapping gets (VMAR_MAP_LOCKED[ONFAULT] after mlockall(MCL_FUTURE),
     * Linux's def_flags). */
    vmar_size_t mlock_limit;
    bool mlock_limited;
    vmar_size_t locked_vm;
    unsigned lock_future;
    /* Page pins held through vmar_pin() (atomic: pins are taken under
     * the shared lock and given back under none). Non-zero tells fork to
     * look for pinned pages (Linux's MMF_HAS_PINNED). */
    volatile size_t pinned;
    vmar_size_t total_vm; /* sum of mapping sizes */
    /* The table may hold guard markers: set by the first install (and in
     * a fork's child), cleared when the space is emptied. While it is
     * clear, removing mappings skips the backend's marker pass. */
    bool guarded;
    /* The fault gate (lock.c), used when libvmar takes the space lock
     * itself (env->lock and a lock object): vmar_fault() does not take
     * the space lock but enters the gate of its stripe (see struct
     * vmar__pt_stripe). A fault whose mapping is not in its stripe's
     * cache looks it up in the index, counted in `lookups`, while
     * gate_seq is even. An exclusive holder closes stripes (each one's
     * seq odd, then waits until its readers count is zero) and makes
     * gate_seq odd (then waits until `lookups` is zero) before it
     * changes anything: every stripe right after taking the lock; for
     * vmar_map and vmar_unmap, before their commit, only the stripes of
     * the blocks their change covers (vmar__gate_commit). It reopens
     * them before it lets go. `closed` (the exclusive holder's alone)
     * is the mask of closed stripes; gate_seq is odd exactly when it is
     * not 0. Faults on cached mappings thus read no line of the space's
     * own but the first, and wait only for changes on their own stripe. */
    volatile size_t gate_seq;
    volatile size_t lookups;
    size_t closed;
    /* The running operation's index reservation: the inserts it reserved
     * for (see vmar__index_slack), the spares it allocated and the set's
     * generation before (vmar__prep_release gives them back when the set
     * has not changed since: the operation failed). 0 between operations. */
    size_t index_keep;
    size_t index_added;
    size_t index_gen;
};

/* Whether placement keeps the space's stack guard (the index's
 * set.guard) free below a mapping with vmar_map_flags `flags`: a stack
 * (VMAR_MAP_STACK) or a grow-down mapping. */
static inline bool vmar__mapping_guarded(unsigned flags)
{
    return (flags & (VMAR_MAP_STACK | VMAR_MAP_GROWSDOWN)) != 0;
}

/* The space a handle names; NULL for NULL. */
static inline struct vmar_space *vmar__base(struct vmar_space *h)
{
    return h ? h->base : NULL;
}

/* ---- lock.c ------------------------------------------------------------- */

/* Public entry points bracket their work with these. With env->lock set
 * and a lock object given, they take it; otherwise the embedder locks, and
 * env->lock_held (if set) is asserted. */
void vmar__lock(struct vmar_space *space, enum vmar_lock_mode mode);
void vmar__unlock(struct vmar_space *space, enum vmar_lock_mode mode);

/* Allocate the page-table lock stripes of `space` (space->env and
 * its env and backend set): VMAR__PT_STRIPES with a VMAR_MMU_CAP_SPLIT_PT
 * backend, else one. Returns 0 or VMAR_ENOMEM (nothing allocated). */
int vmar__pt_init(struct vmar_space *space);

/* Free them. Precondition: no lock held, no fault running. */
void vmar__pt_fini(struct vmar_space *space);

/* The stripe covering the leaf block of `va`. */
static inline struct vmar__pt_stripe *vmar__pt_stripe(struct vmar_space *space,
                                                      vmar_addr_t va)
{
    return &space->pt[(va / VMAR_MMU_LEAF_BLOCK) & space->pt_mask];
}

/* Take and release the page-table lock of the leaf block holding `va`.
 * Never held across a call that may sleep, except env->frame_alloc of a
 * page-table page (docs/DESIGN.md, "Locking"). A caller holds at most
 * one stripe, or all of them (vmar__pt_lock_all).
 * => caller holds the space lock shared (with it exclusive, no one else
 *    touches the table and the page-table locks are not needed). */
void vmar__pt_lock(struct vmar_space *space, vmar_addr_t va);
void vmar__pt_unlock(struct vmar_space *space, vmar_addr_t va);

/* The space lock exclusively for vmar_map(), vmar_unmap(),
 * vmar_protect() and vmar_advise(), whose validate and prepare phases
 * only read the layout and the page table (faults only read the layout,
 * and a VMAR_MMU_CAP_SPLIT_PT backend lets prepare run beside their
 * table work): with such a backend the fault gate stays open until
 * vmar__gate_commit(), so faults wait at most for the commit and the
 * release, and only on the stripes it closes.
 * Otherwise as vmar__lock(). Undone by vmar__unlock(space,
 * VMAR_LOCK_EXCLUSIVE). */
void vmar__lock_layout(struct vmar_space *space);

/* Before a commit that changes the mappings meeting [lo, hi) (every one
 * it splits, trims, removes, adds or merges lies inside): close the
 * stripes of the range's blocks (every stripe when it spans as many
 * blocks as there are stripes) and the index, unless closed already.
 * => caller holds the space lock exclusively (vmar__lock_layout). */
void vmar__gate_commit(struct vmar_space *space, vmar_addr_t lo,
                       vmar_addr_t hi);

/* Before a commit unmaps [lo, hi), whose stripes vmar__gate_commit()
 * closed: whether the backend's unmap must run there. False when the
 * range holds no leaf and no leaf table (probed now, so none can appear:
 * faults there wait); the commit then skips the unmap. True otherwise,
 * after closing every stripe: the unmap may free an upper-level table
 * that faults on other blocks walk. True, closing nothing, when the
 * space is not gated (its gate is closed whole, or not used).
 * => caller holds the space lock exclusively. */
bool vmar__gate_unmap(struct vmar_space *space, vmar_addr_t lo, vmar_addr_t hi);

/* Whether faults use the gate instead of the shared space lock: libvmar
 * takes the space lock itself. Constant for the space's life. */
static inline bool vmar__gated(const struct vmar_space *space)
{
    return space->env->lock && space->lock;
}

/* Enter the gate of the stripe of `va`: true, with the stripe's sequence
 * in *seq (even), when the stripe is open; false (nothing held) when an
 * exclusive holder closed it: vmar__gate_wait(), or take the space lock
 * shared instead, which waits for the holder. Inside, the mappings that
 * cover the stripe's blocks and the page table of those blocks change
 * only under the page-table lock (faults). A fault may leave and enter
 * again; the same *seq says no layout change closed the stripe in
 * between. Precondition: vmar__gated(space). */
bool vmar__gate_enter(struct vmar_space *space, vmar_addr_t va, size_t *seq);
/* Leave it (the same `va`). Never held across a call that may sleep. */
void vmar__gate_exit(struct vmar_space *space, vmar_addr_t va);

/* Inside the gate of `va`: the mapping its stripe's cache names (NULL:
 * none), which is in the set; whether it covers `va` is the caller's to
 * check. vmar__gate_remember() makes `m` (found by a lookup) the one. */
struct vmar__mapping *vmar__gate_cached(struct vmar_space *space,
                                        vmar_addr_t va);
void vmar__gate_remember(struct vmar_space *space, vmar_addr_t va,
                         struct vmar__mapping *m);

/* Inside the gate: enter the index for a lookup (true), or false when an
 * exclusive holder is changing it (vmar__gate_index_wait()). Leave with
 * vmar__gate_index_exit() before leaving the gate. */
bool vmar__gate_index_enter(struct vmar_space *space);
void vmar__gate_index_exit(struct vmar_space *space);

/* Spin a bounded while (VMAR__GATE_SPIN reads) for the stripe of `va`
 * (vmar__gate_wait) or the index (vmar__gate_index_wait) to open: true
 * when it did (enter again; it may have closed once more), false when the
 * layout change goes on (sleep on the space lock instead). A fault tries
 * at most VMAR__GATE_TRIES times. */
#define VMAR__GATE_SPIN  4096u
#define VMAR__GATE_TRIES 8u
bool vmar__gate_wait(const struct vmar_space *space, vmar_addr_t va);
bool vmar__gate_index_wait(const struct vmar_space *space);

/* Take every stripe, in index order (the lock order), for work that
 * spans blocks (vmar_check's walk, vmar_resident); release them all.
 * => caller holds the space lock shared and no stripe. */
void vmar__pt_lock_all(struct vmar_space *space);
void vmar__pt_unlock_all(struct vmar_space *space);

/* Add signed deltas (two's complement) to the RSS counters: to the
 * stripe of `va`, whose lock the caller holds (a fault), or with
 * vmar__rss_add to stripe 0 (any other caller). Atomic, never fails. */
static inline void vmar__rss_add_to(struct vmar__pt_stripe *st, size_t anon,
                                    size_t file)
{
    if (anon)
        vmar__atomic_add(&st->rss_anon, anon);
    if (file)
        vmar__atomic_add(&st->rss_file, file);
}

static inline void vmar__rss_add_at(struct vmar_space *space, vmar_addr_t va,
                                    size_t anon, size_t file)
{
    vmar__rss_add_to(vmar__pt_stripe(space, va), anon, file);
}

static inline void vmar__rss_add(struct vmar_space *space, size_t anon,
                                 size_t file)
{
    vmar__rss_add_to(&space->pt[0], anon, file);
}

/* The RSS in pages: the sum over the stripes. Exact when no fault runs
 * (the exclusive space lock, or every stripe held); a snapshot otherwise. */
void vmar__rss_read(const struct vmar_space *space, size_t *anon, size_t *file);

/* ---- args.c ------------------------------------------------------------- */

/* The rights check of every public entry point (the table in vmar.h,
 * "Rights"): 0 when the handle holds every right in `need` (vmar_rights
 * bits), else VMAR_EACCES. Entry points call it before their first change,
 * so a refusal leaves the space as it was. Reads only the handle's
 * constant rights: no lock. */
int vmar__check_rights(const struct vmar_space *h, unsigned need);

/* VMAR_ENOMEM when growing the space by `added` bytes or to `count`
 * mappings passes a limit (only growth is refused: see docs/DESIGN.md,
 * "Limits"); else 0.
 * => caller holds the space lock exclusively. */
int vmar__check_growth(const struct vmar_space *space, vmar_size_t added,
                       size_t count);

/* The lock limit (vmar_set_mlock_limit): VMAR_EPERM when it applies and
 * is 0 (Linux's can_do_mlock()), else 0.
 * => caller holds the space lock. */
int vmar__check_mlock_allowed(const struct vmar_space *space);

/* Whether `bytes` more locked memory stays within the lock limit (always
 * when it does not apply), Linux's mlock_future_ok(): locked_vm + bytes,
 * in pages, at most the limit in pages.
 * => caller holds the space lock. */
bool vmar__mlock_fits(const struct vmar_space *space, vmar_size_t bytes);

/* 0 when [addr, addr+size) is page aligned, non-empty, does not wrap and
 * lies inside the user range; VMAR_EINVAL otherwise. Reads only the
 * constant user range: no lock needed. */
int vmar__check_range(const struct vmar_space *space, vmar_addr_t addr,
                      vmar_size_t size);

/* ---- space.c ------------------------------------------------------------ */

/* Unmap every leaf, flush, and destroy every mapping: the space is empty
 * and its counters zero; the page table stays. Cannot fail.
 * => caller holds the space lock exclusively, or is the last handle's
 *    destruction. */
void vmar__space_empty(struct vmar_space *space);

#endif /* VMAR_CORE_SPACE_H */
