/* SPDX-License-Identifier: MIT */
/*
 * The address space object and the helpers every operation shares:
 * locking wrappers, argument checks and the prepared-resources bundle.
 */
#ifndef VMAR_CORE_SPACE_H
#define VMAR_CORE_SPACE_H

#include <vmar/vmar.h>

#include "deps.h"
#include "interval_set.h"

struct vmar_mapping;

/*
 * A space and its handles. vmar_space_create() returns the space itself
 * (base == itself, every right); vmar_space_dup() returns a handle: a copy
 * of the space's constant fields (env, ops, mmu) whose `base` names the
 * space and whose `rights` may be fewer.
 * Every public entry point works on base; only `rights` is the handle's.
 */
struct vmar_space {
    struct vmar_space *base; /* the space this handle names */
    unsigned rights;         /* vmar_rights of this handle */
    volatile size_t handles; /* base only: live handles, itself included */
    const struct vmar_env *env;
    const struct vmar_mmu_ops *ops;
    struct vmar_mmu *mmu;
    /* Whether mmu was created from a non-NULL config. libvmar keeps no
     * pointer to a config: vmar_fork() then needs the child's own. */
    bool mmu_configured;
    void *lock;           /* embedder's lock object, may be NULL */
    struct vmar_iset set; /* the mappings, by address */
    vmar_addr_t user_lo;  /* user range [user_lo, user_hi) */
    vmar_addr_t user_hi;
    vmar_size_t as_limit; /* 0: unlimited */
    size_t max_map_count;
    vmar_size_t stack_guard;
    unsigned aslr_bits;
    unsigned flags;       /* vmar_space_flags */
    vmar_size_t total_vm; /* sum of mapping sizes */
    /* RSS in pages: present managed leaves whose frame is anonymous
     * memory / an object page. Atomic: faults may run concurrently. */
    volatile size_t rss_anon;
    volatile size_t rss_file;
    /* The page-table lock: a spinlock (libatomic_ops) that serialises
     * every read and write of the page table made under the shared space
     * lock (faults, user-memory access, vmar_resident, vmar_check).
     * Operations holding the space lock exclusively need not take it. */
    volatile size_t pt_lock;
    /* The running operation's index reservation: the inserts it reserved
     * for (see vmar__index_slack), the spares it allocated and the set's
     * generation before (vmar__prep_release gives them back when the set
     * has not changed since: the operation failed). 0 between operations. */
    size_t index_keep;
    size_t index_added;
    size_t index_gen;
};

/* The rights check of every public entry point (the table in vmar.h,
 * "Rights"): 0 when the handle holds every right in `need` (vmar_rights
 * bits), else VMAR_EACCES. Entry points call it before their first change,
 * so a refusal leaves the space as it was. */
int vmar__check_rights(const struct vmar_space *h, unsigned need);

/* The space a handle names; NULL for NULL. */
static inline struct vmar_space *vmar__base(struct vmar_space *h)
{
    return h ? h->base : NULL;
}

/* Take and release the page-table lock (see struct vmar_space). Never
 * held across a call that may sleep, except env->frame_alloc of a
 * page-table page (docs/DESIGN.md, "Locking"). */
void vmar__pt_lock(struct vmar_space *space);
void vmar__pt_unlock(struct vmar_space *space);

/* Unmap every leaf, flush, and destroy every mapping: the space is empty
 * and its counters zero; the page table stays. Cannot fail. */
void vmar__space_empty(struct vmar_space *space);

/* Add signed deltas (two's complement) to the RSS counters. */
void vmar__rss_add(struct vmar_space *space, size_t anon, size_t file);

/* Pages a backend reported through a vmar_mmu_take_fn (ops->copy's take,
 * ops->move's moved), split as the RSS counters are; the caller adds
 * them with vmar__rss_add() once the backend call returns. */
struct vmar__rss_tally {
    const struct vmar_env *env;
    size_t anon, file;
};

static inline void vmar__rss_tally_add(struct vmar__rss_tally *t, bool anon)
{
    if (anon)
        t->anon++;
    else
        t->file++;
}

/*
 * ops->unmap of [va, va+len) with the RSS counters following the managed
 * leaves it removed (counted by the batch as it queues their frames).
 * Device leaves are not RSS. Cannot fail; `resv` as for ops->unmap.
 */
void vmar__unmap_leaves(struct vmar_space *space, vmar_addr_t va,
                        vmar_size_t len, struct vmar_frame_list *resv,
                        struct vmar_tlb_batch *batch);

/* Public entry points bracket their work with these. With env->lock set
 * and a lock object given, they take it; otherwise the embedder locks, and
 * env->lock_held (if set) is asserted. */
void vmar__lock(struct vmar_space *space, enum vmar_lock_mode mode);
void vmar__unlock(struct vmar_space *space, enum vmar_lock_mode mode);

/* The backend's map_range, or NULL (ABI 1 backends do not have it). */
static inline void (*vmar__map_range_op(const struct vmar_mmu_ops *ops))(
    struct vmar_mmu *, vmar_addr_t, const struct vmar_pte *, vmar_size_t,
    unsigned, struct vmar_frame_list *)
{
    return ops->abi >= 2 ? ops->map_range : NULL;
}

/*
 * Physical addresses the core puts into leaves must lie below the
 * backend's pa_top (vmar/mmu.h): the entry would drop the bits above and
 * map another frame. A device range is checked by vmar_map() (VMAR_EINVAL;
 * remap, fork and splits only reuse a checked range, never grow it), an
 * object's page when get_page returns it (VMAR_EIO), and a data frame
 * from env->frame_alloc when the core takes it (a broken env contract:
 * panic; the backend checks its table pages the same way).
 */
static inline bool vmar__pa_fits(const struct vmar_space *space,
                                 vmar_paddr_t pa)
{
    return pa < space->ops->pa_top;
}

/* A data frame fresh from env->frame_alloc (see above). */
static inline void vmar__check_new_frame(const struct vmar_space *space,
                                         vmar_paddr_t pa)
{
    if (VMAR_UNLIKELY(!vmar__pa_fits(space, pa)))
        vmar__panic(space->env, "env->frame_alloc returned a frame at or "
                                "above the backend's pa_top");
}

/* Report a line through env->log (no-op when unset). */
void vmar__log(const struct vmar_env *env, enum vmar_log_level level,
               const char *msg);

/* VMAR_ENOMEM when growing the space by `added` bytes or to `count`
 * mappings passes a limit (only growth is refused: see docs/DESIGN.md,
 * "Limits"); else 0. */
int vmar__check_growth(const struct vmar_space *space, vmar_size_t added,
                       size_t count);

/* 0 when [addr, addr+size) is page aligned, non-empty, does not wrap and
 * lies inside the user range; VMAR_EINVAL otherwise. */
int vmar__check_range(const struct vmar_space *space, vmar_addr_t addr,
                      vmar_size_t size);

/*
 * Everything a mutating operation may consume, allocated before the first
 * change (prepare) so that the commit cannot fail. Whatever the commit did
 * not use is returned by vmar__prep_release().
 */
#define VMAR_PREP_NODES 3
struct vmar_prep {
    struct vmar_mapping *nodes[VMAR_PREP_NODES];
    unsigned nnodes;
    struct vmar_frame_list tables; /* page-table pages for the backend */
    struct vmar_frame_list frames; /* data frames (populate) */
    /* A reference to the object a new mapping will hold (the caller's
     * object, or a new one for shared anonymous memory); dropped when the
     * commit did not take it. */
    struct vmar_object *object;
    /* Object pages to map (populate), one reference each; the commit
     * takes them from the end, release drops the rest. */
    vmar_paddr_t *pages;
    size_t npages, pages_cap;
};

/*
 * Index nodes of the interval set (interval_set.h): make sure the set holds
 * enough spares for `inserts` inserts. 0 or VMAR_ENOMEM; on failure the
 * spares are as before. vmar__index_trim() frees spares beyond what
 * `inserts` inserts need (0: all of them).
 */
int vmar__index_reserve(struct vmar_space *space, size_t inserts);
void vmar__index_trim(struct vmar_space *space, size_t inserts);

/*
 * After a removal in a commit: free spares beyond twice what the running
 * operation reserved (at least VMAR_PREP_NODES inserts' worth), keeping
 * the operation's reservation and enough for the next operation, so that
 * a split and a merge taking turns do not allocate and free an index node
 * each time. Only commits remove, so a failed operation never frees
 * spares: it leaves the allocator exactly as it found it.
 */
void vmar__index_slack(struct vmar_space *space);

/* Allocate `n` more mapping nodes into `prep`, and the index spares for
 * inserting every node `prep` then holds. 0 or VMAR_ENOMEM; on
 * failure `prep` keeps what it had. */
int vmar__prep_nodes(struct vmar_space *space, struct vmar_prep *prep,
                     unsigned n);
/* Take a prepared node; the commit asked for it, so one must be there. */
struct vmar_mapping *vmar__prep_take(struct vmar_space *space,
                                     struct vmar_prep *prep);
/* Free everything left in `prep`. */
void vmar__prep_release(struct vmar_space *space, struct vmar_prep *prep);

#endif /* VMAR_CORE_SPACE_H */
