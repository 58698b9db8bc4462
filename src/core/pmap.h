/* SPDX-License-Identifier: MIT */
/*
 * The core's one way to the backend, pmap(9)'s place in UVM: every call
 * of a vmar_mmu_ops member is in pmap.c, each optional
 * operation's fallback is written once in pmap.c, and the TLB batch the
 * core changes translations under is the private wrapper below. Every
 * other core file reaches the page table through vmar__pmap_*().
 *
 * Lock contract (docs/DESIGN.md, "Locking"): a function that changes the
 * table needs the space lock exclusively, or shared with the page-table
 * lock held (faults); one that only reads it needs the space lock at
 * least shared, plus the page-table lock when the space lock is shared.
 * Only pmap.c calls vmar_mmu_ops members or reads their fields; the
 * header declares them.
 */
#ifndef VMAR_CORE_PMAP_H
#define VMAR_CORE_PMAP_H

#include <vmar/mmu.h>

#include "space.h"

/*
 * A TLB batch as the core uses it: the public batch (what a backend
 * reads and fills, vmar/mmu.h) plus the core's bookkeeping of what the
 * backend queued. vmar__tlb_init() points b.core here, so that
 * vmar_tlb_batch_defer_put() counts into it. Lives on the stack of the
 * operation; never copied.
 */
struct vmar__tlb {
    struct vmar_tlb_batch b;
    /* managed base pages queued since init that were private anonymous
     * memory / object pages: the RSS bookkeeping reads them */
    size_t put_anon;
    size_t put_file;
    /* Remap's move: the references of removed managed leaves move to new
     * leaves, so defer_put counts them but queues nothing. */
    bool transfer;
};

/* Start an empty batch for the space's table.
 * => caller holds the space lock (exclusive, or shared with the
 *    page-table lock) until vmar__tlb_finish(). */
void vmar__tlb_init(struct vmar__tlb *t, struct vmar_space *space);

/* Flush what was recorded, then free and drop what was queued
 * (vmar_tlb_batch_finish()). => caller holds what vmar__tlb_init()
 * needed. */
static inline void vmar__tlb_finish(struct vmar__tlb *t)
{
    /* Most layout changes over untouched memory record nothing. */
    if (t->b.lo < t->b.hi || t->b.nfree)
        vmar_tlb_batch_finish(&t->b);
}

/* Pages a backend reported through a vmar_mmu_take_fn (copy's take,
 * move's moved), split as the RSS counters are; the caller adds them
 * with vmar__rss_add() once the call returns. */
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

/* ---- the backend's description ------------------------------------------ */

/* Whether `ops` is a backend this core can drive: 0; VMAR_ENOTSUP (logged
 * through `env`, which may lack a log) when it was built for a newer
 * VMAR_MMU_ABI; VMAR_EINVAL for NULL, ABI 0, a missing required member,
 * an unaligned or zero user_top or pa_top, or a cache_as table that does
 * not store each policy as a policy (vmar/mmu.h). */
int vmar__pmap_usable(const struct vmar_env *env,
                      const struct vmar_mmu_ops *ops);

/* Whether the backend lets calls on different leaf blocks run at once
 * (VMAR_MMU_CAP_SPLIT_PT): the page-table lock stripes and the fault
 * gate's late close follow it. */
bool vmar__pmap_split(const struct vmar_space *space);

/* One past the highest user address `ops` translates (before a space
 * has it: the default and the bound of a new space's user range). */
vmar_addr_t vmar__pmap_ops_user_top(const struct vmar_mmu_ops *ops);

/* One past the highest user address the backend translates. */
vmar_addr_t vmar__pmap_user_top(const struct vmar_space *space);

/* One past the highest physical address a leaf can hold. */
vmar_paddr_t vmar__pmap_pa_top(const struct vmar_space *space);

/* The policy a leaf made with cache policy `c` reads back as. */
enum vmar_cache vmar__pmap_cache_as(const struct vmar_space *space,
                                    enum vmar_cache c);

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
    return pa < vmar__pmap_pa_top(space);
}

/* A data frame fresh from env->frame_alloc (see above). */
static inline void vmar__check_new_frame(const struct vmar_space *space,
                                         vmar_paddr_t pa)
{
    if (VMAR_UNLIKELY(!vmar__pa_fits(space, pa)))
        vmar_panic(space->env, "env->frame_alloc returned a frame at or "
                               "above the backend's pa_top");
}

/* The span map_range() aligns huge leaves to (the largest leaf the
 * backend's caps allow), or 0 when the backend has no map_range. */
vmar_size_t vmar__pmap_range_span(const struct vmar_space *space);

/* ---- the table's life -----------------------------------------------------
 */

/* ops->create for a space that is being built (not yet visible: no lock).
 * 0, VMAR_ENOMEM or VMAR_EINVAL; *out is set only on success. */
int vmar__pmap_create(const struct vmar_env *env,
                      const struct vmar_mmu_ops *ops, const void *config,
                      struct vmar_mmu **out);

/* ops->destroy: the space is empty and flushed, and no one else can
 * reach it (its last handle is going). */
void vmar__pmap_destroy(struct vmar_space *space);

/* ---- operations ------------------------------------------------------------
 */

/* Reserve in `resv` the table pages `what` on [va, va+len) may need.
 * 0 or VMAR_ENOMEM (`resv` unchanged).
 * => caller holds the space lock exclusively, or shared with the
 *    page-table lock (a fault). */
int vmar__pmap_prepare(struct vmar_space *space, vmar_addr_t va,
                       vmar_size_t len, enum vmar_mmu_prep what,
                       struct vmar_frame_list *resv);

/* Install one base-page leaf where none is; tables from `resv`.
 * => caller holds the space lock exclusively, or shared with the
 *    page-table lock. */
void vmar__pmap_map(struct vmar_space *space, vmar_addr_t va,
                    const struct vmar_pte *pte, struct vmar_frame_list *resv);

/* Map [va, va+len) to the contiguous [pte->pa, pte->pa+len): with
 * ops->map_range (huge leaves where aligned, with VMAR_MAP_RANGE_HUGE),
 * else page by page with map(). Cannot fail.
 * => caller holds the space lock exclusively. */
void vmar__pmap_map_range(struct vmar_space *space, vmar_addr_t va,
                          const struct vmar_pte *pte, vmar_size_t len,
                          unsigned flags, struct vmar_frame_list *resv);

/* Remove every leaf of [va, va+len) into `t`, the RSS counters following
 * the managed leaves removed (device leaves are not RSS). Cannot fail;
 * `resv` as for ops->unmap.
 * => caller holds the space lock exclusively. */
void vmar__pmap_unmap(struct vmar_space *space, vmar_addr_t va, vmar_size_t len,
                      struct vmar_frame_list *resv, struct vmar__tlb *t);

/* Set the permissions of the present leaves of [va, va+len) (`prot` may
 * carry VMAR_PROTECT_KEEP_RO). Cannot fail.
 * => caller holds the space lock exclusively, or shared with the
 *    page-table lock (one page, a fault). */
void vmar__pmap_protect(struct vmar_space *space, vmar_addr_t va,
                        vmar_size_t len, unsigned prot,
                        struct vmar_frame_list *resv, struct vmar__tlb *t);

/* The lowest present leaf in [*va, end): 0 with *va and *pte set, or
 * VMAR_ENOENT.
 * => caller holds the space lock exclusively, or shared with the
 *    page-table lock. */
int vmar__pmap_find_next(const struct vmar_space *space, vmar_addr_t *va,
                         vmar_addr_t end, struct vmar_pte *pte);

/* The leaf covering the base page `va`: 0 with *pte set, or VMAR_ENOENT
 * with *missing the table pages map() of it would take now, or
 * VMAR__MISSING_UNKNOWN when the backend has no probe (the caller then
 * asks prepare). One descent with ops->probe, else find_next.
 * => caller holds the space lock exclusively, or shared with the
 *    page-table lock. */
#define VMAR__MISSING_UNKNOWN ((size_t)-1)
int vmar__pmap_probe(const struct vmar_space *space, vmar_addr_t va,
                     struct vmar_pte *pte, size_t *missing);

/* Install `pte` at the base page `va` unless a leaf covers it: 0, or
 * VMAR_EEXIST with that leaf's entry for the page in *found (nothing
 * changed). ops->map_empty, else find_next then map. Tables from `resv`.
 * => caller holds the space lock shared with the page-table lock, or
 *    exclusively. */
int vmar__pmap_map_empty(struct vmar_space *space, vmar_addr_t va,
                         const struct vmar_pte *pte,
                         struct vmar_frame_list *resv, struct vmar_pte *found);

/* The lowest present leaf in [*va, end) as a hardware walk would find it
 * (vmar_space_translate): find_next with no lock held, which the walkers
 * allow because they read each table word once.
 * => caller holds nothing. */
int vmar__pmap_walk(const struct vmar_space *space, vmar_addr_t *va,
                    vmar_addr_t end, struct vmar_pte *pte);

/* What a CPU loads to run the space: 0, or VMAR_ENOTSUP for a backend
 * without the optional activation. Never changes for a space.
 * => caller holds nothing. */
int vmar__pmap_activation(const struct vmar_space *space,
                          struct vmar_mmu_activation *out);

/* Give the present base-page leaf at `va` the frame and attributes of
 * `pte`, break before make: the old translation is flushed, then the old
 * frame's reference dropped (the TLB rule), on a batch of this call's
 * own that the backend finishes. The batch does not classify the old
 * frame: the caller counts RSS, having read the frame's kind under the
 * same page-table lock. Cannot fail.
 * => caller holds the space lock shared and the page-table lock (a
 *    fault), or the space lock exclusively. */
void vmar__pmap_replace(struct vmar_space *space, vmar_addr_t va,
                        const struct vmar_pte *pte);

/* Fork's copy: give `dst` a leaf for every present leaf of `src` in
 * [va, end), not writable with VMAR_COPY_COW, calling take(arg, pa) for
 * each managed base frame. With ops->copy a leaf table per step,
 * otherwise leaf by leaf; the tables come from `resv`, refilled with
 * prepare(VMAR_PREP_MAP) whenever the backend lacks some. 0 or
 * VMAR_ENOMEM; what was copied before a failure stays in `dst`.
 * => caller holds the space lock of `src` exclusively; `dst` is not
 *    visible to anyone yet. */
int vmar__pmap_copy(struct vmar_space *dst, const struct vmar_space *src,
                    vmar_addr_t va, vmar_addr_t end, unsigned flags,
                    struct vmar_frame_list *resv, vmar_mmu_take_fn *take,
                    void *arg);

/* Remap's move: a base-page leaf at to + (x - va) for every page x of a
 * present leaf in [va, va+len), same frame and attributes, calling
 * moved(arg, pa) once per page installed; the source leaves stay (a
 * transfer-mode unmap removes them). With ops->move a leaf table per
 * step, otherwise page by page with find_next and map. Cannot fail:
 * the target's tables were prepared into `resv`.
 * => caller holds the space lock exclusively. */
void vmar__pmap_move(struct vmar_space *space, vmar_addr_t va, vmar_size_t len,
                     vmar_addr_t to, struct vmar_frame_list *resv,
                     vmar_mmu_take_fn *moved, void *arg);

/* Whether the backend moves leaves in one pass (ops->transfer): then
 * vmar__pmap_transfer() may be called. */
bool vmar__pmap_has_transfer(const struct vmar_space *space);

/* Remap's one-pass move (ops->transfer): every present leaf of
 * [va, va+len) goes to to + (x - va), its reference with it, the source
 * ranges and the source tables left empty on `t` (nothing is counted:
 * RSS is the same after a move within the space). No leaf of the source
 * is cut by either end nor huge (no device mapping). Cannot fail: the
 * target's tables were prepared into `resv`.
 * => caller holds the space lock exclusively. */
void vmar__pmap_transfer(struct vmar_space *space, vmar_addr_t va,
                         vmar_size_t len, vmar_addr_t to,
                         struct vmar_frame_list *resv, struct vmar__tlb *t);

/* ---- guard markers (vmar_mmu_ops::guard) --------------------------------
 */

/* Whether the backend keeps guard markers (ABI 2 and ops->guard). */
bool vmar__pmap_has_guard(const struct vmar_space *space);

/* ops->guard of [va, va+len): markers installed (present leaves removed
 * first into `t`, the RSS following them) or removed (emptied tables
 * onto `t`). Returns how many. Sets space->guarded on an install.
 * Precondition: vmar__pmap_has_guard(). Cannot fail; an install takes
 * its tables from `resv` (prepare(VMAR_PREP_MAP) of the range).
 * => caller holds the space lock exclusively. */
size_t vmar__pmap_guard(struct vmar_space *space, vmar_addr_t va,
                        vmar_size_t len, enum vmar_mmu_guard_op op,
                        struct vmar_frame_list *resv, struct vmar__tlb *t);

/* The lowest marker in [*va, end): 0 with *va set, or VMAR_ENOENT (also
 * for a backend without markers).
 * => caller holds the space lock at least shared. */
int vmar__pmap_find_guard(const struct vmar_space *space, vmar_addr_t *va,
                          vmar_addr_t end);

/* The lowest page in [*va, end) holding a leaf or a marker (what a move
 * or a copy carries): 0 with *va set, or VMAR_ENOENT.
 * => caller holds the space lock at least shared. */
int vmar__pmap_find_used(const struct vmar_space *space, vmar_addr_t *va,
                         vmar_addr_t end);

/* Remove the markers of [va, va+len) into `t` when the space may hold
 * any (space->guarded): what every removal of mappings does after its
 * unmap, which leaves markers (vmar/mmu.h). Nothing when it holds none.
 * => caller holds the space lock exclusively. */
void vmar__pmap_unguard(struct vmar_space *space, vmar_addr_t va,
                        vmar_size_t len, struct vmar__tlb *t);

#endif /* VMAR_CORE_PMAP_H */
