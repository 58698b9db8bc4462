/* SPDX-License-Identifier: MIT */
/**
 * @file mmu.h
 * @brief The MMU backend contract (`vmar_mmu_ops`) and the helpers a
 *        backend uses: reserved frame lists and the deferred TLB batch.
 *
 * Shape: pmap(9). The machine-independent core calls a few range
 * operations (prepare, map, unmap, protect, query, find_next, copy, move,
 * transfer),
 * one leaf rewrite (replace) and one deferred invalidation (flush). A backend
 * is constant data: a `const struct vmar_mmu_ops` with an ABI version; new
 * members are only ever appended and gated by `abi`.
 *
 * The rules a backend must keep are stated in docs/CONTRACT.md. In short:
 *  - prepare() is the only operation that may fail. After it succeeds, map,
 *    unmap and protect over the prepared range take what they need from the
 *    reservation and cannot fail.
 *  - TLB rule: unhook, invalidate, then free. unmap() never frees a frame or
 *    a table page itself; it hands them to the batch, which frees them only
 *    after flush() has run.
 *  - The core holds the space lock exclusively around map, unmap, protect,
 *    prepare, move and transfer, and at least shared around query and
 *    find_next.
 */
#ifndef VMAR_MMU_H
#define VMAR_MMU_H

#include <vmar/env.h>
#include <vmar/error.h>
#include <vmar/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/** ABI version of struct vmar_mmu_ops this header describes. */
#define VMAR_MMU_ABI 2u

/** The ABI that appended vmar_mmu_ops::guard and vmar_mmu_ops::find_guard
 * (guard markers). */
#define VMAR_MMU_ABI_GUARD 2u

/** A backend's page-table object (one per address space). Opaque. */
struct vmar_mmu;

/** Capability bits in vmar_mmu_ops::caps. */
enum vmar_mmu_caps {
    VMAR_MMU_CAP_NX = 1u << 0,      /**< can map readable, non-executable */
    VMAR_MMU_CAP_HUGE_2M = 1u << 1, /**< 2 MiB leaves */
    VMAR_MMU_CAP_HUGE_1G = 1u << 2, /**< 1 GiB leaves */
    VMAR_MMU_CAP_HW_AD = 1u << 3,   /**< hardware sets accessed/dirty */
    /** Split page-table locks: the backend allows concurrent calls on
     *  different leaf blocks under the shared space lock (see
     *  VMAR_MMU_LEAF_BLOCK and docs/CONTRACT.md, "Concurrency"). Without
     *  it the core serialises every such call of a space. */
    VMAR_MMU_CAP_SPLIT_PT = 1u << 4,
};

/**
 * The span of one leaf block: the addresses one last-level table maps in
 * every supported format (512 eight-byte entries of 4 KiB pages). The
 * core's page-table locks cover aligned blocks of this size: under the
 * shared space lock it never runs two calls at once whose ranges meet
 * the same block. A backend with VMAR_MMU_CAP_SPLIT_PT must then allow
 * these calls to run at once on different blocks of one table:
 * find_next, prepare(VMAR_PREP_MAP), map, protect and replace, each with
 * a range inside one block. What that asks of it (docs/CONTRACT.md,
 * "Concurrency"): a missing upper-level table is linked with a
 * compare-and-swap (the loser puts its page back on its reservation and
 * uses the winner's), every entry is read and written as one atomic word,
 * a new table's zeroed contents are visible before the word that links
 * it (release), and no table is unlinked or freed under the shared lock.
 * prepare() of any range and kind may also run beside these calls (a
 * layout change's prepare phase): it only reads the table; and so may
 * the map, protect, probe and flush calls of the commit of a map, an
 * unmap, a protect or an advice, on blocks that no fault then uses
 * (docs/CONTRACT.md, "Concurrency").
 */
#define VMAR_MMU_LEAF_BLOCK ((vmar_size_t)1 << 21)

/** Cache policy of a leaf. Write-back is the default for RAM. */
enum vmar_cache {
    VMAR_CACHE_WB = 0, /**< write-back */
    VMAR_CACHE_WT = 1, /**< write-through */
    VMAR_CACHE_WC = 2, /**< write-combining */
    VMAR_CACHE_UC = 3, /**< uncached (device memory) */
};

/** Number of vmar_cache policies (the size of vmar_mmu_ops::cache_as). */
#define VMAR_CACHE_POLICIES 4u

/** Per-leaf flags in vmar_pte::flags. */
enum vmar_pte_flags {
    /** The leaf holds a reference to its frame: when the leaf is removed
     *  the backend queues the frame with vmar_tlb_batch_defer_put(), which
     *  drops the reference after the flush. Leaves without it (device
     *  memory) are never freed by libvmar. */
    VMAR_PTE_MANAGED = 1u << 0,
    VMAR_PTE_ACCESSED = 1u << 1, /**< accessed (A) bit */
    VMAR_PTE_DIRTY = 1u << 2,    /**< dirty (D) bit */
    /** Not a leaf: the base page holds a guard marker (Linux's
     *  MADV_GUARD_INSTALL), a non-present entry that maps nothing. Only
     *  probe() and map_empty() report one, with pa 0, prot 0 and this
     *  flag alone; no call takes it as input. */
    VMAR_PTE_GUARD = 1u << 3,
};

/** A leaf entry in machine-neutral form. */
struct vmar_pte {
    vmar_paddr_t pa; /**< physical address of the page (page aligned) */
    unsigned prot;   /**< vmar_prot bits */
    unsigned flags;  /**< vmar_pte_flags bits */
    /** cache policy (VMAR_CACHE_WB for RAM) */
    enum vmar_cache cache;
};

/**
 * A list of spare frames, linked through their first eight bytes (reached
 * with env->phys_to_virt). prepare() fills it with page-table pages that a
 * later map/unmap/protect may consume; the core releases what is left.
 * Zero-initialise before first use. Holding frames costs no metadata.
 */
struct vmar_frame_list {
    vmar_paddr_t head; /**< first frame, 0 when empty */
    size_t count;      /**< number of frames in the list */
};

/**
 * Allocate `n` frames with `flags` (vmar_frame_flags) onto `list`.
 *
 * @param env    the environment whose frame_alloc and phys_to_virt are used.
 * @param list   the list to add to; the new frames go in front.
 * @param n      how many frames to add (0: nothing to do).
 * @param flags  vmar_frame_flags passed to env->frame_alloc.
 * Returns: 0, or VMAR_ENOMEM when env->frame_alloc fails.
 * Locking: none of its own; called by a backend from within an operation,
 *  under the space lock the core holds.
 * On failure: the frames this call allocated are freed; `list` is unchanged.
 */
int vmar_frame_list_fill(const struct vmar_env *env,
                         struct vmar_frame_list *list, size_t n,
                         unsigned flags);

/**
 * Take one frame off `list`. The link word is cleared, so a list filled
 * with VMAR_FRAME_ZERO yields zero-filled frames.
 * Precondition: list->count > 0 (a backend that runs dry broke its own
 * prepare() estimate; the core panics).
 *
 * @param env   the environment (phys_to_virt reaches the link word).
 * @param list  a non-empty list.
 * Returns: the physical address of the frame; never 0.
 * Locking: none of its own; called by a backend from within an operation,
 *  under the space lock the core holds.
 * On failure: cannot fail; an empty list is a broken invariant and calls
 *  env->panic.
 */
vmar_paddr_t vmar_frame_list_pop(const struct vmar_env *env,
                                 struct vmar_frame_list *list);

/**
 * Free every frame on `list` through env->frame_free. Only for frames
 * that were never visible to the MMU (no flush is needed).
 *
 * @param env   the environment.
 * @param list  the list; empty afterwards.
 * Locking: none of its own; called by a backend from within an operation,
 *  under the space lock the core holds.
 * On failure: cannot fail.
 */
void vmar_frame_list_release(const struct vmar_env *env,
                             struct vmar_frame_list *list);

/** Pages of recorded range beyond which vmar_tlb_batch_finish() flushes
 *  the whole table instead of the range. */
#define VMAR_TLB_BATCH_RANGE_MAX 32u

/** Frames a batch holds before it flushes early (on the caller's stack). */
#define VMAR_TLB_BATCH_FRAMES 32u

/** The core's bookkeeping around a batch it started (private). */
struct vmar__tlb;

/**
 * Deferred TLB invalidation plus the frames waiting for it (Linux
 * mmu_gather, pmap_update). Lives on the stack of the operation that
 * changed translations. Queueing never fails: when the array is full the
 * batch flushes and frees early, then continues. A backend reads `lo`
 * and `hi` at most; it changes the batch only through the functions
 * below.
 */
struct vmar_tlb_batch {
    const struct vmar_env *env;     /**< frees go to env->frame_free */
    const struct vmar_mmu_ops *ops; /**< flushes go to ops->flush */
    struct vmar_mmu *mmu;           /**< the page table being changed */
    vmar_addr_t lo; /**< lowest address whose translation changed */
    vmar_addr_t hi; /**< one past the highest; lo >= hi when nothing */
    size_t nfree;   /**< used entries of `frames` */
    /** frames and table pages waiting for the flush; bit 0 set: a
     *  reference to drop (vmar_tlb_batch_defer_put), clear: a page to
     *  free */
    vmar_paddr_t frames[VMAR_TLB_BATCH_FRAMES];
    /** The core's wrapper of a batch it started, where
     *  vmar_tlb_batch_defer_put() counts the pages it is given (the RSS
     *  bookkeeping); NULL after vmar_tlb_batch_init(). A backend never
     *  touches it. */
    struct vmar__tlb *core;
};

/**
 * Start an empty batch for `mmu`.
 *
 * @param batch  the batch, usually on the caller's stack.
 * @param env    the environment that frees the queued frames.
 * @param ops    the backend whose flush() the batch calls.
 * @param mmu    the page table the batch flushes.
 * Locking: none of its own; the core starts a batch under the space lock.
 * On failure: cannot fail.
 */
void vmar_tlb_batch_init(struct vmar_tlb_batch *batch,
                         const struct vmar_env *env,
                         const struct vmar_mmu_ops *ops, struct vmar_mmu *mmu);

/**
 * Record that translations in [va, va+len) changed and need a flush. The
 * batch keeps one range, the smallest that covers every recorded one.
 *
 * @param batch  the batch.
 * @param va     start of the changed range.
 * @param len    its length in bytes; 0 records nothing.
 * Locking: none of its own; called by a backend from within an operation,
 *  under the space lock the core holds.
 * On failure: cannot fail.
 */
void vmar_tlb_batch_add_range(struct vmar_tlb_batch *batch, vmar_addr_t va,
                              vmar_size_t len);

/**
 * Queue a page-table page (or any frame without a reference count) to be
 * freed after the next flush. When the
 * batch already holds VMAR_TLB_BATCH_FRAMES frames it first finishes
 * (flushes what was recorded and frees what was queued), so record the
 * range of a leaf before queueing its frame.
 *
 * @param batch  the batch.
 * @param pa     the frame; no translation to it may be added afterwards.
 * Locking: none of its own; called by a backend from within an operation,
 *  under the space lock the core holds.
 * On failure: cannot fail; never allocates.
 */
void vmar_tlb_batch_defer_free(struct vmar_tlb_batch *batch, vmar_paddr_t pa);

/**
 * Queue the reference a removed managed leaf held on its frame, to be
 * dropped after the next flush (the frame is freed when that was the last
 * reference). In a batch the core started, the core also counts the page
 * for its RSS, and during remap's move (the reference moves to a new
 * leaf) queues nothing. A backend calls this once per base frame of every
 * VMAR_PTE_MANAGED leaf it removes, after recording the leaf's range.
 *
 * @param batch  the batch.
 * @param pa     the base frame.
 * Locking: none of its own; called by a backend from within an operation,
 *  under the space lock the core holds.
 * On failure: cannot fail; never allocates.
 */
void vmar_tlb_batch_defer_put(struct vmar_tlb_batch *batch, vmar_paddr_t pa);

/**
 * Flush the recorded range (if any; the whole table when it spans more
 * than VMAR_TLB_BATCH_RANGE_MAX pages), then free the queued frames. With
 * frames queued but no range recorded it flushes the whole table (len 0),
 * which also drops paging-structure caches. The batch is empty and
 * reusable afterwards.
 *
 * @param batch  the batch.
 * Locking: none of its own; the core finishes a batch under the space
 *  lock, in the release phase of an operation.
 * On failure: cannot fail.
 */
void vmar_tlb_batch_finish(struct vmar_tlb_batch *batch);

/** What a prepare() call must make infallible. */
enum vmar_mmu_prep {
    /** map() of any base page in the range. */
    VMAR_PREP_MAP = 1,
    /** unmap() or protect() of exactly this range: a backend with huge
     *  leaves reserves the table pages that splitting every huge leaf
     *  straddling either edge takes (down to the level where the edge is
     *  aligned), so that the commit splits without failing. */
    VMAR_PREP_CHANGE = 2,
    /** map() of any base page in the range after an unmap() of the same
     *  range in the same commit (a fixed overwrite that populates): count
     *  every table the range needs as missing, since the unmap may free
     *  tables that are there now. */
    VMAR_PREP_REMAP = 3,
    /** map_range() with VMAR_MAP_RANGE_HUGE of exactly this range, given
     *  the table as it is now, for a physical address congruent to `va`
     *  modulo the largest leaf span the backend maps (1 GiB on x86-64
     *  and RISC-V): then the leaves map_range picks depend on the range
     *  only, and the count is exact. For any other physical address, or
     *  without VMAR_MAP_RANGE_HUGE, VMAR_PREP_MAP (or VMAR_PREP_REMAP
     *  after an unmap in the same commit) reserves enough: base pages
     *  need every table a huge leaf would. Only for a backend whose
     *  map_range is set. */
    VMAR_PREP_MAP_HUGE = 4,
};

/** Or'ed into the `prot` argument of vmar_mmu_ops::protect: leaves that
 *  are not writable stay not writable. */
#define VMAR_PROTECT_KEEP_RO (1u << 8)

/** What vmar_mmu_ops::guard does to [va, va+len). */
enum vmar_mmu_guard_op {
    /** Every base page becomes a guard marker: a present leaf is removed
     *  first as unmap() removes it (its range recorded on the batch, a
     *  managed frame queued with vmar_tlb_batch_defer_put()); a marker
     *  stays. */
    VMAR_GUARD_INSTALL = 1,
    /** Every marker is cleared; leaves stay. Tables left empty are
     *  unhooked and queued with vmar_tlb_batch_defer_free(), as unmap()
     *  does. */
    VMAR_GUARD_REMOVE = 2,
};

/** Flags of vmar_mmu_ops::map_range. */
enum vmar_map_range_flags {
    /** Huge leaves allowed: where va and pa are both aligned to a leaf
     *  level's span and the rest of the range covers the span, one leaf
     *  of that level (the largest such) maps it. Without it: base pages. */
    VMAR_MAP_RANGE_HUGE = 1u << 0,
};

/** Flags of vmar_mmu_ops::copy. */
enum vmar_mmu_copy_flags {
    /** Copy-on-write: the copies are not writable (the source's leaves
     *  are left as they are; the caller write-protects them later). */
    VMAR_COPY_COW = 1u << 0,
};

/**
 * Called by vmar_mmu_ops::copy once per base frame of every
 * VMAR_PTE_MANAGED leaf it copies: the new leaf holds a reference to
 * `pa`, which the callee takes (the backend never touches reference
 * counts). Also called by vmar_mmu_ops::move once per base page it
 * installs (no reference changes hands there). Must not fail and must
 * not call into either table.
 */
typedef void vmar_mmu_take_fn(void *arg, vmar_paddr_t pa);

/**
 * What a CPU loads to run a page table (pmap_activate(9)): filled by
 * vmar_mmu_ops::activation, reported by vmar_space_activation().
 */
struct vmar_mmu_activation {
    /** Physical address of the root table. */
    vmar_paddr_t root;
    /** The value to load into the translation register: CR3 (the root
     *  and the PCID) on x86-64, satp (MODE, ASID and the root's PPN) on
     *  RISC-V, the root's address on a machine without such a register.
     *  A backend's flushes name the table by this value in
     *  env->tlb_flush, so it also tells which CPUs a flush is for. */
    uint64_t value;
};

/**
 * The backend vtable. Backends export one as constant data
 * (e.g. `vmar_mmu_sim`). "Required" members must be non-NULL.
 */
struct vmar_mmu_ops {
    /** VMAR_MMU_ABI of the <vmar/mmu.h> the backend was built against.
     *  vmar_space_create() refuses 0 (VMAR_EINVAL) and an ABI newer than
     *  its own (VMAR_ENOTSUP): such a backend may rely on members or rules
     *  this core lacks. Members appended by a later ABI will be read only
     *  when `abi` reaches that ABI, so an older backend keeps working. */
    uint32_t abi;
    /** Short name for logs and dumps ("sim", "x86_64-4level"). */
    const char *name;
    /** vmar_mmu_caps bits. */
    uint32_t caps;
    /** One past the highest user address the backend can translate (for
     *  4-level x86-64: 0x7ffffffff000, the top page excluded on purpose).
     *  The space's default upper bound. */
    vmar_addr_t user_top;

    /**
     * Required. Create an empty page table. `config` is backend specific
     * (vmar_space_opts::mmu_config, vmar_fork_opts::mmu_config) and valid
     * only during the call: copy what is needed later. `env` outlives the
     * table. Returns 0, VMAR_ENOMEM or VMAR_EINVAL.
     */
    int (*create)(const struct vmar_env *env, const void *config,
                  struct vmar_mmu **out);

    /**
     * Required. Free the page table. Precondition: no leaf is present (the
     * core unmapped everything and flushed), and the table is not active on
     * any CPU, so freeing the remaining table pages needs no flush.
     */
    void (*destroy)(struct vmar_mmu *mmu);

    /**
     * Required. Add to `resv` every table page that `what` on
     * [va, va+len) could need. Reads the table, changes nothing visible.
     * Returns: 0, or VMAR_ENOMEM with `resv` unchanged.
     */
    int (*prepare)(struct vmar_mmu *mmu, vmar_addr_t va, vmar_size_t len,
                   enum vmar_mmu_prep what, struct vmar_frame_list *resv);

    /**
     * Required. Install one base-page leaf at `va`. Precondition: va is page
     * aligned, inside a prepared range, and no leaf is present there.
     * Installing into an empty slot needs no flush. Cannot fail.
     */
    void (*map)(struct vmar_mmu *mmu, vmar_addr_t va,
                const struct vmar_pte *pte, struct vmar_frame_list *resv);

    /**
     * Required. Remove every leaf in [va, va+len): record the range on
     * `batch`, hand the frames of managed leaves to
     * vmar_tlb_batch_defer_put() and page-table pages that became empty to
     * vmar_tlb_batch_defer_free(). A huge leaf that the range covers only in
     * part is split first with table pages from `resv`
     * (prepare(VMAR_PREP_CHANGE) reserved them; `resv` is NULL or empty
     * only when no huge leaf straddles an edge, and a backend may then skip
     * looking for one) and its whole span recorded on `batch`. Returns
     * the number of base pages whose leaves were removed. Cannot fail.
     */
    size_t (*unmap)(struct vmar_mmu *mmu, vmar_addr_t va, vmar_size_t len,
                    struct vmar_frame_list *resv, struct vmar_tlb_batch *batch);

    /**
     * Required. Set the permission of every present leaf in [va, va+len) to
     * `prot` (other attributes kept), recording changed ranges on `batch`.
     * With VMAR_PROTECT_KEEP_RO or'ed into `prot`, a leaf that is
     * not writable now stays not writable (copy-on-write leaves: only a
     * fault may make them writable).
     * Splits partly covered huge leaves first, as unmap() does. Cannot
     * fail.
     */
    void (*protect)(struct vmar_mmu *mmu, vmar_addr_t va, vmar_size_t len,
                    unsigned prot, struct vmar_frame_list *resv,
                    struct vmar_tlb_batch *batch);

    /**
     * Required. Find the lowest present leaf whose page lies in [*va, end).
     * On success store its page address in *va and its entry in *pte and
     * return 0; return VMAR_ENOENT when there is none. Skips empty tables
     * (cost proportional to the populated part, not to the range).
     */
    int (*find_next)(const struct vmar_mmu *mmu, vmar_addr_t *va,
                     vmar_addr_t end, struct vmar_pte *pte);

    /**
     * Required. Invalidate cached translations of [va, va+len) on every CPU
     * where the table is or was active (len == 0: the whole table). Returns
     * when the invalidation has completed everywhere.
     */
    void (*flush)(struct vmar_mmu *mmu, vmar_addr_t va, vmar_size_t len);

    /**
     * Optional (may be NULL: map every page with map()). Map the
     * physically contiguous range [va, va+len) to [pte->pa, pte->pa+len)
     * with pte's prot, flags and cache, base pages or, with
     * VMAR_MAP_RANGE_HUGE in `flags`, the largest leaves the format
     * holds where va and pa are aligned to the leaf's span
     * (vmar_map_range_flags). Preconditions: va, pte->pa and len page
     * aligned, len > 0, no leaf present in the range, and the range
     * prepared with VMAR_PREP_MAP, VMAR_PREP_REMAP, or (huge, congruent
     * pa) VMAR_PREP_MAP_HUGE. Installing into empty slots needs no
     * flush. Cannot fail.
     *
     * Managed huge leaves (VMAR_PTE_MANAGED with VMAR_MAP_RANGE_HUGE):
     * the frames come one base frame at a time from env->frame_alloc and
     * go back one at a time after unmap, so a managed huge leaf is only
     * possible when the caller obtained physically contiguous frames
     * some other way. Device ranges (unmanaged) are the main user.
     */
    void (*map_range)(struct vmar_mmu *mmu, vmar_addr_t va,
                      const struct vmar_pte *pte, vmar_size_t len,
                      unsigned flags, struct vmar_frame_list *resv);

    /**
     * Optional (NULL: the core copies leaf by leaf with find_next,
     * prepare and map). Fork's table copy, pmap_copy(9) style: give
     * `dst` a leaf for every present leaf of `src` whose span lies in
     * [*va, end), in address order, one leaf table at a time: the same
     * word (frame, attributes, accessed/dirty bits), except that with
     * VMAR_COPY_COW in `flags` a writable leaf is copied not writable.
     * For each base frame of every copied VMAR_PTE_MANAGED leaf it calls
     * take(arg, pa); the core takes the reference there. `src` is only
     * read: its leaves, and what a TLB may cache of them, are unchanged.
     *
     * Tables come from `resv` only; copy never allocates and cannot
     * fail. When the next leaf to copy needs more missing tables of
     * `dst` than `resv` holds, copy stops before that leaf, stores its
     * address in *va and returns how many tables its path lacks (> 0):
     * the caller makes `resv` hold that many (prepare(VMAR_PREP_MAP) of
     * the page at *va does) and calls again from *va. Leaves before *va
     * are copied and stay, so a caller that gives up instead owns a
     * consistent, partly copied `dst` (unmap removes it). Returns 0 with
     * *va = end once the range is done.
     *
     * Preconditions: dst and src are tables of this backend with the
     * same format, va and end page aligned, no leaf present in `dst` in
     * the range, and no leaf of `src` cut by either end (the core copies
     * whole mappings). Installing into empty slots needs no flush.
     */
    size_t (*copy)(struct vmar_mmu *dst, const struct vmar_mmu *src,
                   vmar_addr_t *va, vmar_addr_t end, unsigned flags,
                   struct vmar_frame_list *resv, vmar_mmu_take_fn *take,
                   void *arg);

    /**
     * Optional (NULL: the core moves page by page with find_next
     * and map). Remap's leaf move, one leaf table at a time: for every
     * present leaf of `mmu` whose pages lie in [va, va+len), install at
     * to + (x - va), for each of its pages x in the range, a base-page
     * leaf with the same frame and attributes (prot, flags, cache, and
     * accessed/dirty as far as the format keeps them). A huge leaf is
     * installed as base pages, as map() would; one cut by either end
     * contributes only its pages inside the range (the core never passes
     * one today: huge leaves are only in device mappings, which it
     * installs anew itself; its prepare(VMAR_PREP_CHANGE) of the source
     * only reserves the edge splits, which the later unmap performs).
     * Calls moved(arg, pa) once per base page installed, in address
     * order; the core counts RSS there.
     *
     * The source leaves are left as they are, references included: the
     * core removes them afterwards with unmap() on a batch whose
     * vmar_tlb_batch_defer_put() queues nothing, so each reference moves from
     * the old leaf to the new one and move itself takes none. Tables come from
     * `resv` only (what prepare(VMAR_PREP_MAP or VMAR_PREP_REMAP) reserved for
     * every target leaf-table span a leaf lands in); move never allocates and
     * cannot fail (a short `resv` is a broken invariant: it panics).
     *
     * Preconditions: va, to and len page aligned, len > 0, [va, va+len)
     * and [to, to+len) disjoint and both below user_top, and no leaf
     * present in the target. Installing into empty slots needs no flush.
     */
    void (*move)(struct vmar_mmu *mmu, vmar_addr_t va, vmar_size_t len,
                 vmar_addr_t to, struct vmar_frame_list *resv,
                 vmar_mmu_take_fn *moved, void *arg);

    /**
     * Required. Give the present base-page leaf at `va` the frame
     * and attributes of `pte` (pa, prot, flags, cache) in place, as
     * pmap_enter(9) does over an existing mapping: a copy-on-write break
     * moves a page to its private copy so. The leaf's table stays where
     * it is, so replace takes no table page and cannot fail (no prepare).
     *
     * Break before make, then the TLB rule: the backend clears the leaf,
     * records the page on `batch`, queues the old frame with
     * vmar_tlb_batch_defer_put() when the old leaf was VMAR_PTE_MANAGED,
     * finishes the batch (vmar_tlb_batch_finish(): the flush, then the
     * old reference is dropped, and anything the caller queued before
     * goes with it) and only then writes the new leaf. No CPU ever
     * translates `va` to both frames at once, and the new leaf needs no
     * flush of its own: the batch is empty on return (the core's
     * bookkeeping has counted the old frame).
     *
     * Preconditions: va page aligned and below user_top, a level-0 leaf
     * present at va (the core never replaces part of a huge leaf), and
     * pte->pa page aligned.
     */
    void (*replace)(struct vmar_mmu *mmu, vmar_addr_t va,
                    const struct vmar_pte *pte, struct vmar_tlb_batch *batch);

    /**
     * Required (non-zero, page aligned). One past the highest
     * physical address the backend's entries can hold: a frame at or
     * above it would lose its high bits in the entry and map another
     * frame. 2^52 for x86-64 (MAXPHYADDR's architectural maximum, bits
     * 51:12 of an entry) and the sim, 2^56 for RISC-V (a 44-bit PPN).
     * vmar_map() refuses device memory that reaches past it
     * (VMAR_EINVAL), a fault refuses an object page at or above it
     * (VMAR_EIO), and a frame from env->frame_alloc at or above it
     * breaks the env contract (panic); see docs/CONTRACT.md.
     */
    vmar_paddr_t pa_top;

    /**
     * Required. How the format represents each cache policy,
     * indexed by enum vmar_cache: a leaf made by map() or map_range()
     * with pte->cache == c reads back from find_next() (and keeps through
     * protect, copy and move) as cache_as[c]. The identity where the
     * format has every policy; a format without one stores another
     * (RISC-V Svpbmt has no write-through: cache_as[VMAR_CACHE_WT] is
     * VMAR_CACHE_WC). cache_as[VMAR_CACHE_WB] must be VMAR_CACHE_WB and
     * every entry a vmar_cache value, else vmar_space_create() refuses
     * the backend (VMAR_EINVAL). The space reports the policy the caller
     * asked for (vmar_mapping_info::cache); vmar_check() holds a device
     * leaf to cache_as of it.
     */
    uint8_t cache_as[VMAR_CACHE_POLICIES];

    /**
     * Optional (NULL: vmar_space_activation() returns VMAR_ENOTSUP).
     * Describe what a CPU loads to run `mmu`: its root table's physical
     * address and the register value (vmar_mmu_activation). Both are
     * fixed when the table is created and never change, so the core
     * calls it without any lock. Cannot fail.
     */
    void (*activation)(const struct vmar_mmu *mmu,
                       struct vmar_mmu_activation *out);

    /**
     * Optional (NULL: the core asks find_next of the one page, then
     * prepare). One descent to the base page `va` (page aligned, below
     * user_top): when a leaf covers it, store that page's entry in *pte
     * (pte->pa the page's frame, inside a huge leaf too) and return 0;
     * otherwise return VMAR_ENOENT and store in *missing how many table
     * pages map() of `va` would take from its reservation now (0 when the
     * leaf table is there; what prepare(VMAR_PREP_MAP) of the page would
     * reserve). Reads only; called as find_next is (a fault's first look
     * at its page). Cannot fail otherwise.
     */
    int (*probe)(const struct vmar_mmu *mmu, vmar_addr_t va,
                 struct vmar_pte *pte, size_t *missing);

    /**
     * Optional (NULL: find_next of the one page, then map). map() of the
     * base page `va`, unless a leaf covers it already: return 0 after
     * installing `pte`, or VMAR_EEXIST with the covering leaf's entry for
     * that page in *found and nothing changed. Preconditions as map()'s,
     * except that the slot may be taken. One descent: a fault's install
     * after it obtained its frame with no lock held, when another fault
     * may have installed the page meanwhile. Cannot fail otherwise.
     */
    int (*map_empty)(struct vmar_mmu *mmu, vmar_addr_t va,
                     const struct vmar_pte *pte, struct vmar_frame_list *resv,
                     struct vmar_pte *found);

    /**
     * Optional (NULL: the core uses move, then unmap of the source on a
     * batch that drops no reference). Remap's one-pass move, Linux
     * move_page_tables style: every present leaf of `mmu` whose pages lie
     * in [va, va+len) goes to to + (x - va) for each of its pages x and
     * leaves the source. A base-page leaf's word moves as it is (frame,
     * attributes, accessed/dirty bits): read, cleared at the source,
     * written at the target, one leaf table per step. Where [va, va+len)
     * covers a whole leaf table (a VMAR_MMU_LEAF_BLOCK-aligned block) and
     * `to - va` is a multiple of VMAR_MMU_LEAF_BLOCK, a backend may move
     * the table itself instead, as Linux moves a PMD: the table pointer
     * goes from the source's upper entry to the target's. A huge leaf
     * inside the range is installed at the target as base pages (the
     * core passes none: huge leaves are only in device mappings, which it
     * installs anew and unmaps itself).
     *
     * References move with the leaves: transfer takes none and hands none
     * to vmar_tlb_batch_defer_put(), and since source and target are in
     * one space the RSS does not change (no callback). The source ranges
     * whose leaves left are recorded on `batch`, and source page-table
     * pages left empty are unhooked and queued with
     * vmar_tlb_batch_defer_free(), as unmap() does: the TLB rule holds,
     * the caller finishes the batch before it frees or reuses anything.
     * A backend that moves a table records the whole block's span (past
     * VMAR_TLB_BATCH_RANGE_MAX pages: a full flush, which also drops
     * paging-structure caches holding the cleared upper entry).
     *
     * Tables come from `resv` only: what prepare(VMAR_PREP_MAP, or
     * VMAR_PREP_REMAP after an unmap in the same commit) reserved, before
     * the call, for every target leaf-table span a leaf lands in. So a
     * source table the target may land in stays linked until the target
     * is done. transfer never allocates and cannot fail (a short `resv`
     * is a broken invariant: it panics).
     *
     * Preconditions: va, to and len page aligned, len > 0, [va, va+len)
     * and [to, to+len) disjoint and both below user_top, no leaf present
     * in the target, and no leaf of the source cut by either end. Runs
     * alone (the core holds the space lock exclusively).
     */
    void (*transfer)(struct vmar_mmu *mmu, vmar_addr_t va, vmar_size_t len,
                     vmar_addr_t to, struct vmar_frame_list *resv,
                     struct vmar_tlb_batch *batch);

    /**
     * Optional, ABI 2 (VMAR_MMU_ABI_GUARD); with find_guard, both or
     * neither (NULL: the backend keeps no guard markers, and
     * vmar_advise() of VMAR_ADVISE_GUARD_INSTALL is VMAR_ENOTSUP).
     * Install or remove guard markers on every base page of
     * [va, va+len) (enum vmar_mmu_guard_op). A marker is a non-present
     * level-0 entry in the backend's format, distinct from an empty one:
     * it maps nothing and is no leaf, so find_next() and protect() skip
     * it, unmap() leaves it (and its table) in place, map() and
     * map_range() are never called on it; probe() and map_empty() report
     * it as an entry whose flags are VMAR_PTE_GUARD; copy() gives `dst`
     * the same marker (no take call); move() installs it at the target
     * (no moved call) and transfer() moves it, as leaves.
     *
     * VMAR_GUARD_INSTALL takes the tables the markers need from `resv`
     * (prepare(VMAR_PREP_MAP) of the range reserved them) and cannot
     * fail; no huge leaf may lie in the range. VMAR_GUARD_REMOVE takes
     * nothing (`resv` may be NULL). Returns the number of markers
     * installed (pages that held none before) or removed. Markers cost
     * no TLB flush: a non-present entry is never cached. Runs alone
     * (the core holds the space lock exclusively).
     */
    size_t (*guard)(struct vmar_mmu *mmu, vmar_addr_t va, vmar_size_t len,
                    enum vmar_mmu_guard_op op, struct vmar_frame_list *resv,
                    struct vmar_tlb_batch *batch);

    /**
     * Optional, ABI 2, with guard (see there). Find the lowest base page
     * in [*va, end) holding a guard marker: store it in *va and return
     * 0, or return VMAR_ENOENT (*va unchanged). Reads only, called as
     * find_next() is; cost proportional to the populated tables of the
     * range.
     */
    int (*find_guard)(const struct vmar_mmu *mmu, vmar_addr_t *va,
                      vmar_addr_t end);
};

#ifdef __cplusplus
}
#endif

#endif /* VMAR_MMU_H */
