/* SPDX-License-Identifier: MIT */
/*
 * The generic radix page-table walker, shared by every backend.
 *
 * A multi-level page table is written once here and described per machine
 * by a constant `struct vmar__pt_format` (levels, bits per level, which
 * levels may hold leaves, and the encoding of the 64-bit hardware word).
 * A backend embeds a `struct vmar__radix` in its `struct vmar_mmu` and
 * implements most vmar_mmu_ops members as one call each.
 *
 * Levels are numbered from the bottom: level 0 entries map base pages,
 * level 1 entries span 2 MiB (with 9 bits per level), and the root table
 * sits at level `levels - 1`. For the 4-level sim format:
 *
 *   47      39 38      30 29      21 20      12 11         0
 *   | level 3 | level 2  | level 1  | level 0  | page offset |
 *
 * Addresses. The walker sees a flat index space [0, 2^va_bits). Upper-half
 * (negative canonical) addresses are the backend's business: it strips the
 * sign extension before calling in and re-applies it to addresses it gets
 * back. User spaces live in the lower half, so their backends pass
 * addresses through unchanged.
 *
 * The kernel half. A table may own only a prefix [0, user_end) of that
 * space (vmar__radix_init_split; the hardware backends pass the lower
 * half). The root entries at and above user_end belong to the embedder's
 * kernel: they are copied once from its root at init and then never read,
 * written, walked or freed by any operation here, so the kernel tables
 * they point to are shared by every space and owned by none. Every range
 * an operation takes must lie below user_end (asserted); find_next and
 * fini stop there.
 *
 * Tables are exactly one frame (2^bits_per_level eight-byte words ==
 * 2^page_shift bytes). They are reached only through env->phys_to_virt; a
 * physical address is never dereferenced. A word that is not present is
 * written as 0, and 0 is not present in every format.
 *
 * Invariant kept by every operation: every table except the root holds at
 * least one non-zero entry, a present one or a guard marker (unmap and
 * guard removal free tables that become empty). prepare()
 * relies on it when it counts missing tables. (While a map runs, the
 * tables it has linked may be empty until its leaf is in; another call
 * that sees one just finds the table there, which stays.)
 *
 * Huge leaves. The format says which levels may hold leaves (a run from
 * level 0). map_range picks the largest leaf that fits where va and pa
 * are aligned; map, unmap, protect and find_next handle a leaf at any
 * such level. unmap and protect first split every huge leaf that their
 * range cuts (at either edge) into a table of next-level leaves, down to
 * the level where the edge is aligned, with table pages reserved by
 * prepare(VMAR_PREP_CHANGE); the split records the huge leaf's whole span
 * on the batch. Nothing merges split leaves back into a huge one.
 *
 * Locking: none here; the core serialises as described in vmar/mmu.h,
 * and with VMAR_MMU_CAP_SPLIT_PT it runs find_next, prepare(VMAR_PREP_MAP),
 * map, protect and replace at once on different 2 MiB leaf blocks under
 * its shared lock. The walker allows that (radix.c, "Concurrency"): each
 * entry is one atomic word, a missing upper table is linked by a
 * compare-and-swap (the loser's page goes back on its `resv`), and
 * nothing unlinks a table but unmap and fini, which run alone. A hardware
 * or simulated walker may read the table at any time; it reads each word
 * once, atomically, and never frees anything.
 */
#ifndef VMAR_MMU_RADIX_H
#define VMAR_MMU_RADIX_H

#include <vmar/env.h>
#include <vmar/mmu.h>
#include <vmar/types.h>

/** Deepest table hierarchy supported (x86-64 5-level, RISC-V Sv57). */
#define VMAR_PT_MAX_LEVELS 5u

/**
 * A page-table format: constant data, one per machine mode
 * (e.g. x86-64 4-level, RISC-V Sv48, the sim format).
 *
 * Round trip: for a present leaf word `w` at level `l`,
 * leaf_encode(leaf_decode(w, l), l) must give back `w`, so the walker can
 * rewrite one attribute (protect) through the neutral form. Bits the
 * neutral form cannot carry must therefore be derived or constant.
 *
 * Frame field: leaf_encode at level 0 must put pa >> page_shift into one
 * run of bits, whatever the other fields are, and derive no other bit
 * from pa. The walker then handles a leaf table's words that differ only
 * there with one decode (struct vmar__radix's leaf_addr); a format that
 * does otherwise still works, with a decode per word.
 */
struct vmar__pt_format {
    /** Short name for diagnostics ("sim-4level"). */
    const char *name;
    /** Table levels, 1..VMAR_PT_MAX_LEVELS; the root is level levels-1. */
    unsigned levels;
    /** Index bits per table (9: 512 entries of 8 bytes, one 4 KiB frame). */
    unsigned bits_per_level;
    /** log2 of the base page size; must be VMAR_PAGE_SHIFT (12). */
    unsigned page_shift;
    /** Translated address bits: page_shift + levels * bits_per_level. */
    unsigned va_bits;
    /** Bit l set: a leaf may sit at level l. The set bits must be a run
     *  from bit 0 (a split needs a leaf level right below). */
    uint32_t leaf_levels;
    /** One past the highest physical address an entry holds (the
     *  backend's vmar_mmu_ops::pa_top); page aligned, non-zero. */
    vmar_paddr_t pa_top;

    /** True when `w` is present (a leaf or a table pointer). */
    bool (*present)(uint64_t w);
    /** For a present `w` at level >= 1: true for a (huge) leaf, false for
     *  a table pointer. Never called at level 0, where present means leaf. */
    bool (*is_leaf)(uint64_t w, unsigned level);
    /** The present leaf word for `pte` at `level` (pa aligned to the
     *  level's span). */
    uint64_t (*leaf_encode)(const struct vmar_pte *pte, unsigned level);
    /** The neutral form of the present leaf word `w` at `level`. */
    void (*leaf_decode)(uint64_t w, unsigned level, struct vmar_pte *out);
    /** The present word at `level` pointing to the table page `pa`. */
    uint64_t (*table_encode)(vmar_paddr_t pa, unsigned level);
    /** The table page a present table word `w` at `level` points to. */
    vmar_paddr_t (*table_decode)(uint64_t w, unsigned level);

    /** Optional: the three functions above as bit tests, which the walker
     *  then makes inline instead of calling them at every level. Used
     *  when table_pa_mask is non-zero, and must then agree with them
     *  (test_radix checks every format): `w` is present iff
     *  (w & present_bits) != 0; a present `w` at level >= 1 points to a
     *  table iff (w & table_bits) == table_value; and that table is
     *  (w & table_pa_mask) << table_pa_shift. */
    uint64_t present_bits;
    uint64_t table_bits;
    uint64_t table_value;
    uint64_t table_pa_mask;
    unsigned table_pa_shift;

    /** The guard marker (vmar_mmu_ops::guard): a level-0 word that is
     *  not present and not 0, written alone (no other field); 0 when the
     *  format keeps no markers. */
    uint64_t guard_word;
};

/**
 * One page table. A backend embeds it in its struct vmar_mmu. Fields are
 * read-only outside radix.c. The counters change by atomic additions
 * (several calls may change them at once: see "Locking" above); read one
 * while no call that changes it runs and it is exact.
 */
struct vmar__radix {
    const struct vmar__pt_format *fmt;
    const struct vmar_env *env;
    vmar_paddr_t root;    /**< the root table page */
    vmar_addr_t user_end; /**< one past the last address the walker owns:
                               2^va_bits, or where the kernel half starts */
    size_t tables;        /**< table pages linked into the tree, root included;
                               a page leaves this count when unmap unhooks it
                               (it then waits on the batch) */
    /** Present leaves, at any level, less those vmar__radix_map()
     *  installed: map counts no leaf (its caller does, if it counts), so
     *  that a fault changes no counter shared by every thread. A net
     *  count that may wrap below zero; how it changes across a call
     *  other than map is exact (a backend's statistics fold that in). */
    size_t leaves;
    size_t unhooked;          /**< table pages unmap has unhooked since init
                                   (only grows; a backend compares it to notice
                                   frees, since splits also add tables) */
    size_t lost_links;        /**< tables a walk did not link because another
                                   call linked the slot first (only grows;
                                   statistics) */
    uint64_t leaf_addr;       /**< the frame field of a level-0 leaf word (see
                                   vmar__pt_format), found at init; 0 when the
                                   format has none */
    unsigned leaf_addr_shift; /**< its lowest bit */
};

/** Bytes mapped by one entry at `level` (4 KiB at level 0). */
static inline vmar_size_t vmar__radix_span(const struct vmar__pt_format *fmt,
                                           unsigned level)
{
    return (vmar_size_t)1 << (fmt->page_shift + level * fmt->bits_per_level);
}

/** One past the highest address the format translates (2^va_bits). */
static inline vmar_addr_t vmar__radix_limit(const struct vmar__pt_format *fmt)
{
    return (vmar_addr_t)1 << fmt->va_bits;
}

/**
 * Create an empty table: allocate the root with
 * env->frame_alloc(VMAR_FRAME_TABLE | VMAR_FRAME_ZERO).
 * Precondition: `fmt` is well formed (asserted).
 * Returns: 0, or VMAR_ENOMEM with `rx` unusable and nothing allocated.
 */
int vmar__radix_init(struct vmar__radix *rx, const struct vmar__pt_format *fmt,
                     const struct vmar_env *env);

/**
 * vmar__radix_init for a table that shares its upper root entries with a
 * kernel: the walker owns [0, user_end) only (see "The kernel half"
 * above). When `kernel_root` is not 0, the root entries whose addresses
 * are at or above user_end are copied from the root table at that
 * physical address (read through env->phys_to_virt), so the new table
 * maps the kernel as that one does; later changes to the kernel's root
 * entries are not propagated. With kernel_root 0 those entries stay 0.
 * Preconditions (asserted): `fmt` is well formed, user_end is a non-zero
 * multiple of the root entries' span no larger than 2^va_bits, and
 * kernel_root is page aligned.
 * Returns: 0, or VMAR_ENOMEM with `rx` unusable and nothing allocated.
 */
int vmar__radix_init_split(struct vmar__radix *rx,
                           const struct vmar__pt_format *fmt,
                           const struct vmar_env *env, vmar_addr_t user_end,
                           vmar_paddr_t kernel_root);

/**
 * Free every table page of [0, user_end), root last, straight through
 * env->frame_free, checking that no leaf is left and that rx->tables
 * counted every page. The kernel half's entries are not followed: the tables
 * they point to stay the kernel's; their copies in the root are cleared
 * before the root goes back, so the frame holds no pointer into them.
 * Precondition: no leaf is present and the table is active on no CPU
 * (vmar_mmu_ops::destroy), so no flush is needed.
 */
void vmar__radix_fini(struct vmar__radix *rx);

/**
 * Count the table pages that `what` on [va, va+len) could need:
 *  - VMAR_PREP_MAP: exactly the tables missing on the path of every base
 *    page of the range (0 where a huge leaf already covers it);
 *  - VMAR_PREP_REMAP: every non-root table on those paths, present or not
 *    (an unmap of the range before the maps may free any of them);
 *  - VMAR_PREP_MAP_HUGE: exactly the tables missing for
 *    vmar__radix_map_range(VMAR_MAP_RANGE_HUGE) of the range with a pa
 *    congruent to va modulo the top leaf level's span;
 *  - VMAR_PREP_CHANGE: the tables that splitting the huge leaves cut by
 *    either edge of the range takes (0 when no huge leaf is cut).
 * Reads the table only. Precondition: page-aligned range below user_end.
 */
size_t vmar__radix_count_missing(const struct vmar__radix *rx, vmar_addr_t va,
                                 vmar_size_t len, enum vmar_mmu_prep what);

/**
 * vmar_mmu_ops::prepare: count as above and put that many zeroed table
 * frames on `resv` with vmar_frame_list_fill.
 * Returns: 0, or VMAR_ENOMEM with `resv` and the table unchanged.
 */
int vmar__radix_prepare(const struct vmar__radix *rx, vmar_addr_t va,
                        vmar_size_t len, enum vmar_mmu_prep what,
                        struct vmar_frame_list *resv);

/**
 * Install one leaf at `va` on `level` (0 for a base page), linking missing
 * tables popped from `resv`. Cannot fail. A table that another call links
 * first (under the shared lock, another leaf block's map) is used as it
 * is, and the page popped for it goes back on `resv`: the tables this
 * call linked are exactly the pages it took from `resv`.
 * Counts those tables in rx->tables but not the leaf in rx->leaves (see
 * there): a caller that counts leaves adds one.
 * Preconditions (asserted): `level` may hold leaves, va and pte->pa are
 * aligned to the level's span, the slot is empty and no huge leaf covers
 * it, and `resv` holds the tables the walk lacks (prepare(VMAR_PREP_MAP)).
 */
void vmar__radix_map(struct vmar__radix *rx, vmar_addr_t va, unsigned level,
                     const struct vmar_pte *pte, struct vmar_frame_list *resv);

/**
 * vmar_mmu_ops::map_range: map [va, va+len) to [pte->pa, pte->pa+len)
 * with the largest leaves (up to the top leaf level with
 * VMAR_MAP_RANGE_HUGE in `flags`, else base pages) whose span va and pa
 * are aligned to and the rest of the range covers, through
 * vmar__radix_map. Cannot fail. Preconditions (asserted): page-aligned
 * va, pa and len, no leaf in the range, and `resv` prepared for it (see
 * vmar__radix_count_missing).
 */
void vmar__radix_map_range(struct vmar__radix *rx, vmar_addr_t va,
                           const struct vmar_pte *pte, vmar_size_t len,
                           unsigned flags, struct vmar_frame_list *resv);

/**
 * vmar_mmu_ops::unmap: split the huge leaves cut by either edge with
 * tables from `resv` (see above), then clear every leaf in [va, va+len).
 * For each leaf it
 * records the leaf's span on `batch` and then, when VMAR_PTE_MANAGED, hands
 * its frame(s) to vmar_tlb_batch_defer_put (references, dropped after the
 * flush); tables that become empty are unhooked and queued with
 * vmar_tlb_batch_defer_free (never the root). Nothing is freed here. Ranges
 * without present leaves are not recorded. Returns: the number of base pages
 * whose leaves were removed.
 */
size_t vmar__radix_unmap(struct vmar__radix *rx, vmar_addr_t va,
                         vmar_size_t len, struct vmar_frame_list *resv,
                         struct vmar_tlb_batch *batch);

/**
 * vmar_mmu_ops::protect: split the huge leaves cut by either edge with
 * tables from `resv`, then set the prot of every present leaf in
 * [va, va+len), keeping pa, flags and cache; records on `batch` the spans
 * of the split leaves and of the leaves whose word changed.
 * Returns: the number of splits, each of which linked one table and
 * turned one leaf into 2^bits_per_level (a caller that runs beside other
 * calls accounts them from this, not from the shared counters).
 */
size_t vmar__radix_protect(struct vmar__radix *rx, vmar_addr_t va,
                           vmar_size_t len, unsigned prot,
                           struct vmar_frame_list *resv,
                           struct vmar_tlb_batch *batch);

/**
 * vmar_mmu_ops::replace: give the level-0 leaf at `va` the word for `pte`,
 * break before make: clear it, record the page on `batch`, queue the old
 * frame (managed leaves), finish the batch, then write the new word. No
 * table page is taken or freed; `leaves` and `tables` do not change.
 * Preconditions (asserted): va page aligned below user_end, a level-0 leaf
 * present there, pte->pa page aligned.
 */
void vmar__radix_replace(struct vmar__radix *rx, vmar_addr_t va,
                         const struct vmar_pte *pte,
                         struct vmar_tlb_batch *batch);

/**
 * vmar_mmu_ops::find_next: the lowest base page in [*va, end) covered by a
 * present leaf. On success stores the page in *va and its entry in *pte
 * (for a huge leaf, pte->pa is that page's frame inside the leaf).
 * Absent subtrees are skipped whole: the cost follows the populated
 * tables, not the length of the range. `end` is clamped to user_end: the
 * kernel half is never scanned.
 * Returns: 0, or VMAR_ENOENT (then *va and *pte are unchanged).
 */
int vmar__radix_find_next(const struct vmar__radix *rx, vmar_addr_t *va,
                          vmar_addr_t end, struct vmar_pte *pte);

/**
 * vmar_mmu_ops::probe: one point descent to the base page `va`. 0 with
 * the page's entry in *pte when a leaf covers it (pa inside a huge leaf
 * too) or a guard marker holds it (flags VMAR_PTE_GUARD), else VMAR_ENOENT with
 * *missing the tables vmar__radix_map of `va` would link (count_missing of the
 * page, VMAR_PREP_MAP). Reads only. Precondition: va page aligned, below
 * user_end.
 */
int vmar__radix_probe(const struct vmar__radix *rx, vmar_addr_t va,
                      struct vmar_pte *pte, size_t *missing);

/**
 * vmar_mmu_ops::map_empty: vmar__radix_map of a base page unless a leaf
 * covers `va` or a guard marker holds it, in one descent: 0 when
 * installed, VMAR_EEXIST with the covering leaf's entry for the page (a
 * marker: flags VMAR_PTE_GUARD) in *found (nothing changed; tables
 * a missing path needed were linked, which only a present leaf rules
 * out, so none were). Preconditions as vmar__radix_map's but the slot.
 */
int vmar__radix_map_empty(struct vmar__radix *rx, vmar_addr_t va,
                          const struct vmar_pte *pte,
                          struct vmar_frame_list *resv, struct vmar_pte *found);

/**
 * vmar_mmu_ops::copy: copy the present leaves and guard markers of `src`
 * in [*va, end) into `dst` (see vmar/mmu.h for the whole contract): the same
 * words, without the write permission under VMAR_COPY_COW, huge leaves as huge
 * leaves at the same level; take(arg, pa) for each base frame of a managed
 * leaf. One descent of `dst` per leaf table of `src`, then a loop over
 * that table's entries. Missing tables of `dst` are popped from `resv`;
 * when it runs short the copy stops before the leaf that needs them,
 * sets *va to it and returns how many its path lacks (0: done, *va ==
 * end). Never allocates, never touches `src`.
 * Preconditions (asserted): same format and user_end, page-aligned
 * range below user_end, `dst` empty in the range, no `src` leaf cut by
 * either end.
 */
size_t vmar__radix_copy(struct vmar__radix *dst, const struct vmar__radix *src,
                        vmar_addr_t *va, vmar_addr_t end, unsigned flags,
                        struct vmar_frame_list *resv, vmar_mmu_take_fn *take,
                        void *arg);

/**
 * vmar_mmu_ops::move: for every present leaf of `rx` in [va, va+len),
 * install base-page leaves at to + (x - va) with the same frame and
 * attributes, and a guard marker for every marker, (see vmar/mmu.h for the
 * whole contract); a huge leaf goes as base pages, only its pages inside the
 * range. moved(arg, pa) once per base page installed, in address order. The
 * source is not touched. One descent per target leaf table (cached across
 * consecutive leaves), a loop over each source leaf table. Missing target
 * tables are popped from `resv`; never allocates, cannot fail. Preconditions
 * (asserted): va, to, len page aligned, len > 0, both ranges below user_end and
 * disjoint, no leaf present in the target (and `resv` holds what its tables
 * lack).
 */
void vmar__radix_move(struct vmar__radix *rx, vmar_addr_t va, vmar_size_t len,
                      vmar_addr_t to, struct vmar_frame_list *resv,
                      vmar_mmu_take_fn *moved, void *arg);

/**
 * vmar_mmu_ops::transfer: move every present leaf and guard marker of
 * `rx` in [va, va+len) to to + (x - va) in one pass (see vmar/mmu.h for the
 * whole contract). A leaf table's words are cleared and written at the target
 * as they are, frame, attributes and reference alike; a leaf table that the
 * range covers whole, with `to - va` a multiple of its span, is relinked
 * under the target's level-1 slot instead. A huge leaf goes as base
 * pages. The source's ranges are recorded on `batch`, and the source
 * tables left empty are unhooked and queued with
 * vmar_tlb_batch_defer_free (those whose span meets the target range
 * once the pass is over). No reference is taken or dropped. Missing
 * target tables are popped from `resv`; never allocates, cannot fail.
 * Preconditions (asserted): va, to, len page aligned, len > 0, both
 * ranges below user_end and disjoint, no leaf present in the target,
 * no leaf of the source cut by either end, and `resv` holds what
 * prepare(VMAR_PREP_MAP) of the target's leaf-table spans that a leaf
 * lands in reserved with the table as it was before the call.
 */
void vmar__radix_transfer(struct vmar__radix *rx, vmar_addr_t va,
                          vmar_size_t len, vmar_addr_t to,
                          struct vmar_frame_list *resv,
                          struct vmar_tlb_batch *batch);

/**
 * vmar_mmu_ops::guard (see vmar/mmu.h for the whole contract).
 * VMAR_GUARD_INSTALL: one descent per leaf table of the range (missing
 * tables popped from `resv`), then every slot that is not a marker gets
 * one, a present leaf first removed as unmap removes it. VMAR_GUARD_REMOVE:
 * a range() pass that clears the markers and unhooks the tables left
 * empty onto `batch`, as unmap. Returns the markers installed or removed.
 * Preconditions (asserted): the format has a guard_word, page-aligned
 * range below user_end, no huge leaf in it (install).
 */
size_t vmar__radix_guard(struct vmar__radix *rx, vmar_addr_t va,
                         vmar_size_t len, enum vmar_mmu_guard_op op,
                         struct vmar_frame_list *resv,
                         struct vmar_tlb_batch *batch);

/**
 * vmar_mmu_ops::find_guard: the lowest base page in [*va, end) holding
 * a guard marker, in *va. Skips absent subtrees as find_next does.
 * Returns: 0, or VMAR_ENOENT (*va unchanged).
 */
int vmar__radix_find_guard(const struct vmar__radix *rx, vmar_addr_t *va,
                           vmar_addr_t end);

#endif /* VMAR_MMU_RADIX_H */
