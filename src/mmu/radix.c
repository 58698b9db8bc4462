/* SPDX-License-Identifier: MIT */
/*
 * The generic radix walker (the model is described in radix.h).
 *
 * Two loops do all the work:
 *  - walk(): descend from the root to the slot of one address, linking
 *    missing tables from a reservation (xv6 walk(), seL4 lookupPTSlot);
 *  - range(): one depth-first pass, in address order, over the entries
 *    that meet [va, end), with an explicit stack of tables. It calls a
 *    visitor on every entry it does not descend into (absent entries and
 *    leaves) and, on the way up, on every non-root table it leaves.
 * prepare, unmap, protect, find_next, copy, move, replace and fini are
 * visitors of range(). unmap, protect, copy and move stop it one level up
 * (floor 1) and loop over each leaf table's entries themselves: the per-page
 * work is then one loop step, not one visitor call from the walk.
 * Neither loop goes at or above rx->user_end: the root entries there are
 * the kernel half (radix.h), which nothing here reads, writes or frees.
 * Huge leaves add one thing, split(): before unmap or protect walk a
 * range, a huge leaf that straddles either edge is replaced by a table of
 * next-level leaves, recursively down to the level where the edge is
 * aligned, with table pages that prepare(VMAR_PREP_CHANGE) reserved.
 *
 * Concurrency (vmar/mmu.h, VMAR_MMU_CAP_SPLIT_PT). Under the shared space
 * lock, find_next, prepare(VMAR_PREP_MAP), map, protect and replace run
 * at once on different 2 MiB leaf blocks; everything else runs alone.
 * What lets them share the upper tables:
 *  - every entry is read with one atomic load and written with one atomic
 *    store (pt_* below), so a walker never sees a torn word;
 *  - a word that walk() or point_at() may follow to a table is loaded with
 *    acquire, and a word that makes an entry present (a leaf, or a table
 *    whose contents were written first) is stored with release: a walker
 *    that finds it sees what it points to. A cleared word publishes
 *    nothing and is stored relaxed, as are leaf words that loops read;
 *  - a missing table is linked by a compare-and-swap of the absent word
 *    (link_table()); the loser gives its page back to its own `resv`,
 *    clean, and goes on under the winner's table. Tables are unlinked
 *    only by unmap and fini, which run alone, so what a walker found
 *    stays;
 *  - the counters in struct vmar__radix change by atomic additions, once
 *    per table page or once per call, never per base page: map() counts
 *    no leaf (its caller does, radix.h), so a fault shares no counter.
 * On x86-64 these loads and stores are plain moves and only a missing
 * table costs a locked instruction; on RISC-V acquire and release add a
 * fence.
 *
 * Freestanding: compiler headers, <vmar/...> and libatomic_ops (header-
 * only for what is used here) only.
 */
#include "radix.h"

#include <atomic_ops.h>

#include <vmar/backend.h>
#include <vmar/error.h>

/* ---- entry access --------------------------------------------------- */

_Static_assert(sizeof(AO_t) == sizeof(uint64_t), "AO_t is not a table word");
_Static_assert(sizeof(AO_t) == sizeof(size_t), "AO_t is not a counter");

/* A word that is not followed to a table (a leaf in a loop, a slot about
 * to be overwritten). */
static inline uint64_t pt_read(const uint64_t *slot)
{
    return (uint64_t)AO_load((const volatile AO_t *)slot);
}

/* A word that may be followed to a table: the table's contents are read
 * after it. */
static inline uint64_t pt_read_acq(const uint64_t *slot)
{
    return (uint64_t)AO_load_acquire((const volatile AO_t *)slot);
}

/* A word that publishes nothing: 0, or any word of a table no walker can
 * reach yet. */
static inline void pt_set(uint64_t *slot, uint64_t w)
{
    AO_store((volatile AO_t *)slot, (AO_t)w);
}

/* A present word: what it points to (a table's contents, a frame's) was
 * written before. */
static inline void pt_publish(uint64_t *slot, uint64_t w)
{
    AO_store_release((volatile AO_t *)slot, (AO_t)w);
}

/* Replace `old` by `w` unless another walker changed the word first;
 * returns the word found (== old: replaced). A full barrier: release for
 * the new table's contents, acquire for the winner's. */
static inline uint64_t pt_cas(uint64_t *slot, uint64_t old, uint64_t w)
{
    return (uint64_t)AO_fetch_compare_and_swap_full((volatile AO_t *)slot,
                                                    (AO_t)old, (AO_t)w);
}

/* Add `d` (two's complement for a subtraction) to a counter of struct
 * vmar__radix. No order: nothing is published through a count. */
static inline void count_add(size_t *c, size_t d)
{
    (void)AO_fetch_and_add((volatile AO_t *)c, (AO_t)d);
}

/* A counter's value; exact when no call that changes it runs. */
static inline size_t count_get(const size_t *c)
{
    return (size_t)AO_load((const volatile AO_t *)c);
}

/* ---- format arithmetic ------------------------------------------------ */

static unsigned top_level(const struct vmar__pt_format *f)
{
    return f->levels - 1;
}

/* Index of va's entry in its table at `level`. */
static size_t slot_index(const struct vmar__pt_format *f, vmar_addr_t va,
                         unsigned level)
{
    unsigned shift = f->page_shift + level * f->bits_per_level;
    uint64_t mask = ((uint64_t)1 << f->bits_per_level) - 1;

    return (size_t)((va >> shift) & mask);
}

/* The format's present, is_leaf and table_decode: bit tests inline when
 * the format gives its masks (no call per level of a walk), else its
 * functions. */
static inline bool fmt_present(const struct vmar__pt_format *f, uint64_t w)
{
    return f->table_pa_mask ? (w & f->present_bits) != 0 : f->present(w);
}

static inline bool fmt_is_leaf(const struct vmar__pt_format *f, uint64_t w,
                               unsigned level)
{
    return f->table_pa_mask ? (w & f->table_bits) != f->table_value
                            : f->is_leaf(w, level);
}

static inline vmar_paddr_t fmt_table_pa(const struct vmar__pt_format *f,
                                        uint64_t w, unsigned level)
{
    return f->table_pa_mask ? (w & f->table_pa_mask) << f->table_pa_shift
                            : f->table_decode(w, level);
}

/* A guard marker (vmar_mmu_ops::guard): only ever a level-0 word. */
static inline bool is_guard(const struct vmar__pt_format *f, uint64_t w)
{
    return w != 0 && w == f->guard_word;
}

/* What probe() and map_empty() report for a marker (vmar/mmu.h). */
static void guard_pte(struct vmar_pte *out)
{
    *out = (struct vmar_pte){.flags = VMAR_PTE_GUARD, .cache = VMAR_CACHE_WB};
}

static bool is_table(const struct vmar__pt_format *f, uint64_t w,
                     unsigned level)
{
    return level > 0 && fmt_present(f, w) && !fmt_is_leaf(f, w, level);
}

static uint64_t *table_at(const struct vmar__radix *rx, vmar_paddr_t pa)
{
    return rx->env->phys_to_virt(rx->env->ctx, pa);
}

/* A frame from env->frame_alloc that becomes a table page. The env
 * contract (vmar/env.h) keeps it below the format's pa_top; one above
 * would link another frame as the table, so it is asserted here, once per
 * table page (a rare path), rather than trusted. */
static void check_table_page(const struct vmar__radix *rx, vmar_paddr_t pa)
{
    if (VMAR_UNLIKELY(pa >= rx->fmt->pa_top))
        vmar_panic(rx->env, "radix: env->frame_alloc returned a table page "
                            "at or above the format's pa_top");
}

static vmar_paddr_t pop_table_page(const struct vmar__radix *rx,
                                   struct vmar_frame_list *resv)
{
    vmar_paddr_t pa = vmar_frame_list_pop(rx->env, resv);

    check_table_page(rx, pa);
    return pa;
}

/* A table is one frame of 8-byte words; the walker's own checks rely on
 * it, so a malformed format is an invariant failure, not bad input. */
static bool format_ok(const struct vmar__pt_format *f)
{
    return f->levels >= 1 && f->levels <= VMAR_PT_MAX_LEVELS &&
           f->page_shift == VMAR_PAGE_SHIFT && f->bits_per_level >= 1 &&
           f->page_shift == f->bits_per_level + 3 &&
           f->va_bits == f->page_shift + f->levels * f->bits_per_level &&
           f->va_bits < 64 && (f->leaf_levels & 1u) != 0 &&
           (f->leaf_levels >> f->levels) == 0 &&
           /* leaf levels are a run from 0, so a split always has a leaf
            * level right below */
           (f->leaf_levels & (f->leaf_levels + 1)) == 0 && f->pa_top != 0 &&
           f->pa_top % VMAR_PAGE_SIZE == 0 && f->present != NULL &&
           f->is_leaf != NULL && f->leaf_encode != NULL &&
           f->leaf_decode != NULL && f->table_encode != NULL &&
           f->table_decode != NULL;
}

/* Ranges come from the core, which validated them: a bad one is a bug.
 * The bound is user_end, not 2^va_bits: a range reaching into the kernel
 * half would walk (and could free) the kernel's tables. */
static void check_range(const struct vmar__radix *rx, vmar_addr_t va,
                        vmar_size_t len)
{
    VMAR_ASSERT(rx->env, va % VMAR_PAGE_SIZE == 0 && len % VMAR_PAGE_SIZE == 0);
    VMAR_ASSERT(rx->env, va <= rx->user_end && len <= rx->user_end - va);
}

/* The highest level that may hold a leaf (leaf levels run from 0). */
static unsigned top_leaf_level(const struct vmar__pt_format *f)
{
    unsigned l = 0;

    while (l + 1 < f->levels && ((f->leaf_levels >> (l + 1)) & 1u))
        l++;
    return l;
}

/* True when the entry's part of the range, [lo, hi), is the whole leaf
 * [base, base+span). unmap and protect split the huge leaves at the two
 * edges first, so every leaf they visit is whole. */
static bool covers_whole_leaf(vmar_addr_t lo, vmar_addr_t hi, vmar_addr_t base,
                              vmar_size_t span)
{
    return lo == base && hi - lo == span;
}

/* ---- the point walk ------------------------------------------------------ */

/* Where walk() stopped. */
struct walk_ret {
    uint64_t *slot;
    unsigned level;
};

/* Give the unused table page `pa` back to `resv`, as
 * vmar_frame_list_fill() links its frames: through the first word, which
 * vmar_frame_list_pop() clears again. The rest of the page is still the
 * zeros prepare put there. */
static void push_table_page(const struct vmar__radix *rx,
                            struct vmar_frame_list *resv, vmar_paddr_t pa)
{
    vmar_paddr_t *link = (vmar_paddr_t *)table_at(rx, pa);

    *link = resv->head;
    resv->head = pa;
    resv->count++;
}

/*
 * Link a table at `level` into the absent `slot` with a page from `resv`,
 * or find the one another call linked. Under the shared lock
 * another block's map may link the same slot at the same time: the
 * compare-and-swap lets one win, and the loser puts its page back on its
 * own `resv` (prepare's count for it stays an over-count, as vmar/mmu.h
 * allows) and goes on under the winner's table. The page is zero, as
 * prepare gave it, before the swap publishes it. Not on the fault path's
 * common case (the tables are there), hence out of line.
 */
static __attribute__((noinline)) void link_table(struct vmar__radix *rx,
                                                 uint64_t *slot, unsigned level,
                                                 struct vmar_frame_list *resv)
{
    const struct vmar__pt_format *f = rx->fmt;
    vmar_paddr_t pa = pop_table_page(rx, resv);
    /* An absent table slot is 0 (the walker writes no other absent word
     * above the leaves). */
    uint64_t found = pt_cas(slot, 0, f->table_encode(pa, level));

    if (found == 0) {
        count_add(&rx->tables, 1);
        return;
    }
    push_table_page(rx, resv, pa);
    count_add(&rx->lost_links, 1);
    /* Only a table goes into an upper slot under the shared lock (huge
     * leaves come from map_range, which runs alone). */
    VMAR_ASSERT(rx->env,
                fmt_present(f, found) && !fmt_is_leaf(f, found, level));
}

/*
 * Descend to va's slot at `target`, linking every missing table on the
 * way with a frame popped from `resv` (zeroed by prepare, so it reads as
 * empty). Stops early at a leaf above `target` (a huge leaf covers va).
 * The tables it linked are what it took from `resv`. A slot on the way
 * is read for each question rather than its word kept across the
 * format's calls (a register and a spill less on the fault path): once
 * present, a slot above `target` keeps its word until unmap, which runs
 * alone. Only the read whose table is followed needs acquire, and the
 * reads before it stay relaxed, so that the compiler keeps the format's
 * calls through memory operands.
 * Loop invariant: `table` is the table at `level` on va's path.
 * => caller holds the space lock exclusively, or shared with va's leaf
 *    block's lock (the slots above level 1 are then shared: link_table)
 */
static struct walk_ret walk(struct vmar__radix *rx, vmar_addr_t va,
                            unsigned target, struct vmar_frame_list *resv)
{
    const struct vmar__pt_format *f = rx->fmt;
    unsigned level = top_level(f);
    uint64_t *table = table_at(rx, rx->root);
    uint64_t *slot = &table[slot_index(f, va, level)];

    while (level > target) {
        if (VMAR_UNLIKELY(!fmt_present(f, pt_read(slot))))
            link_table(rx, slot, level, resv);
        else if (fmt_is_leaf(f, pt_read(slot), level))
            break;
        table = table_at(rx, fmt_table_pa(f, pt_read_acq(slot), level));
        level--;
        slot = &table[slot_index(f, va, level)];
    }
    return (struct walk_ret){.slot = slot, .level = level};
}

/*
 * Where a one-page descent for va stops: the first entry on va's path that
 * is absent or a leaf, or the entry at `floor`, each table word read once.
 * What a range() over that one page would visit, without the visitor's
 * indirect calls: the fault path asks one-page questions (find_next,
 * prepare, replace of a page), three or four of them per fault.
 */
struct point {
    uint64_t *slot;
    uint64_t w; /* *slot as read */
    unsigned level;
};

static struct point point_at(const struct vmar__radix *rx, vmar_addr_t va,
                             unsigned floor)
{
    const struct vmar__pt_format *f = rx->fmt;
    unsigned level = top_level(f);
    uint64_t *table = table_at(rx, rx->root);

    for (;;) {
        uint64_t *slot = &table[slot_index(f, va, level)];
        uint64_t w = pt_read_acq(slot);

        if (level <= floor || !fmt_present(f, w) || fmt_is_leaf(f, w, level))
            return (struct point){.slot = slot, .w = w, .level = level};
        table = table_at(rx, fmt_table_pa(f, w, level));
        level--;
    }
}

/* ---- the range walk ------------------------------------------------------ */

struct visitor;

/* Called on an entry the walk does not descend into: absent, a leaf, or a
 * table below the visitor's floor; `w` is *slot as the walk read it (once:
 * under the shared lock a word of another block may change meanwhile,
 * and a visitor works on what was read). [lo, hi) is the entry's part of
 * the range. Returning true stops the walk at once (no further leave
 * calls). */
typedef bool visit_entry_fn(struct visitor *v, uint64_t *slot, uint64_t w,
                            unsigned level, vmar_addr_t lo, vmar_addr_t hi);

/* Called once the walk has passed the last entry in range of the non-root
 * table `table` at `level`; `parent` is the slot that points to it. */
typedef void visit_leave_fn(struct visitor *v, uint64_t *parent,
                            const uint64_t *table, unsigned level);

/* Each operation embeds this first in its own state and casts back. */
struct visitor {
    visit_entry_fn *entry;
    visit_leave_fn *leave; /* NULL: nothing to do on the way up */
    unsigned floor;        /* lowest level of table to descend into */
};

/*
 * Visit [va, end) in address order. Absent entries at any level are handed
 * to the visitor whole, so an empty subtree costs one call, and a pass
 * costs O(populated tables in range * entries per table).
 * Loop invariant: table[level..top] is the path to the entry holding va,
 * and every entry below va in range has been visited.
 */
static void range(const struct vmar__radix *rx, vmar_addr_t va, vmar_addr_t end,
                  struct visitor *v)
{
    const struct vmar__pt_format *f = rx->fmt;
    const unsigned top = top_level(f);
    uint64_t *table[VMAR_PT_MAX_LEVELS];
    unsigned level = top;

    VMAR_ASSERT(rx->env, va <= end && end <= rx->user_end);
    table[top] = table_at(rx, rx->root);
    while (va < end) {
        uint64_t *slot = &table[level][slot_index(f, va, level)];
        /* Acquire: above level 0 a word may be a table, which the walk or
         * a floor-1 visitor reads next (at level 0 it is a plain move on
         * x86-64 all the same, and a fence on RISC-V). */
        uint64_t w = pt_read_acq(slot);
        vmar_size_t span = vmar__radix_span(f, level);
        vmar_addr_t next = (va & ~(span - 1)) + span;

        /* 0 is absent in every format: no call for the empty slots a
         * sparse range is mostly made of. */
        if (level > v->floor && w != 0 && is_table(f, w, level)) {
            table[level - 1] = table_at(rx, fmt_table_pa(f, w, level));
            level--;
            continue;
        }
        if (v->entry(v, slot, w, level, va, VMAR_MIN(next, end)))
            return;
        va = next;
        /* Leave every table va ran off the end of, or all at the end. */
        while (level < top && (va >= end || slot_index(f, va, level) == 0)) {
            if (v->leave != NULL) {
                uint64_t *parent =
                    &table[level + 1][slot_index(f, va - 1, level + 1)];
                v->leave(v, parent, table[level], level);
            }
            level++;
        }
    }
}

/* What a floor-1 visitor gets of one leaf table: the table the level-1
 * word points to, the address its slot 0 maps, and its slots
 * [first, end), those of the entry's part [lo, hi) of the range. */
struct leaf_slots {
    uint64_t *t;
    vmar_addr_t base;
    size_t first, end;
};

static struct leaf_slots leaf_slots(const struct vmar__radix *rx, uint64_t w,
                                    vmar_addr_t lo, vmar_addr_t hi)
{
    const struct vmar__pt_format *f = rx->fmt;
    size_t first = slot_index(f, lo, 0);

    return (struct leaf_slots){
        .t = table_at(rx, fmt_table_pa(f, w, 1)),
        .base = lo & ~(vmar__radix_span(f, 1) - 1),
        .first = first,
        .end = first + (size_t)((hi - lo) >> f->page_shift),
    };
}

/* True when no word of the table is set. The walker writes absent entries
 * as 0, and a non-zero absent word (a future swap entry) keeps its table.
 * Plain reads, which the compiler may merge: only unmap asks, and it runs
 * alone (the exclusive lock), so nothing writes the table meanwhile (a
 * hardware or simulated walk only reads). */
static bool table_empty(const struct vmar__pt_format *f, const uint64_t *table)
{
    size_t n = (size_t)1 << f->bits_per_level;

    for (size_t i = 0; i < n; i++)
        if (table[i] != 0)
            return false;
    return true;
}

/* ---- leaf tables, a decode per kind of word -------------------------- */

/*
 * The frame field of a level-0 leaf word, from three encodes: the bits
 * that frame 1 and the highest 52-bit frame set beyond frame 0's word. It
 * counts only as one run whose lowest bit is frame 1 (radix.h); else
 * leaf_addr stays 0, and every word is its own kind below.
 */
static void find_leaf_addr(struct vmar__radix *rx)
{
    const struct vmar__pt_format *f = rx->fmt;
    struct vmar_pte p = {.prot = VMAR_PROT_READ, .cache = VMAR_CACHE_WB};
    const uint64_t w0 = f->leaf_encode(&p, 0);

    p.pa = VMAR_PAGE_SIZE;
    const uint64_t unit = f->leaf_encode(&p, 0) ^ w0;
    p.pa = ((vmar_paddr_t)1 << 52) - VMAR_PAGE_SIZE;
    const uint64_t all = f->leaf_encode(&p, 0) ^ w0;
    const uint64_t run = unit ? all / unit : 0;

    rx->leaf_addr = 0;
    rx->leaf_addr_shift = 0;
    if (unit != 0 && (unit & (unit - 1)) == 0 && all % unit == 0 &&
        (run & (run + 1)) == 0) {
        rx->leaf_addr = all;
        /* A loop, not __builtin_ctzll: that is a libgcc call on RV64
         * without Zbb, and this runs once per space. */
        while ((unit >> rx->leaf_addr_shift) != 1)
            rx->leaf_addr_shift++;
    }
}

/*
 * A loop over one leaf table's words (copy, protect, unmap, move) decodes
 * a word only when it differs from the last one decoded outside the frame
 * field; such words decode alike but for the frame, whose difference is
 * that of the fields. A fork of a table of 512 private pages thus decodes
 * one word, not 512. `out` is the loop's result for
 * the decoded word, outside the frame field; a result word carries the
 * frame of its input.
 */
struct leaf_memo {
    uint64_t addr;  /* the frame field (rx->leaf_addr) */
    unsigned shift; /* its lowest bit */
    bool valid;
    uint64_t key; /* the decoded word outside the frame field */
    uint64_t w;   /* the decoded word */
    struct vmar_pte pte;
    uint64_t out;
};

static void memo_init(struct leaf_memo *m, const struct vmar__radix *rx)
{
    m->addr = rx->leaf_addr;
    m->shift = rx->leaf_addr_shift;
    m->valid = false;
}

static void memo_fill(struct leaf_memo *m, const struct vmar__radix *rx,
                      uint64_t w)
{
    rx->fmt->leaf_decode(w, 0, &m->pte);
    m->w = w;
    m->key = w & ~m->addr;
    m->valid = true;
}

/* Make the memo describe the level-0 leaf word `w`: decode it unless it
 * differs from the memo's word only in the frame. True when it decoded,
 * and the caller must then set m->out. The test is kept apart from the
 * decode so that it inlines into the loops. */
static inline bool memo_load(struct leaf_memo *m, const struct vmar__radix *rx,
                             uint64_t w)
{
    if (m->valid && (w & ~m->addr) == m->key)
        return false;
    memo_fill(m, rx, w);
    return true;
}

/* The frame of `w`, which memo_load() just took. Unsigned arithmetic:
 * the difference of the fields may be negative, and wraps back. */
static vmar_paddr_t memo_pa(const struct leaf_memo *m, uint64_t w)
{
    return m->pte.pa +
           ((((w & m->addr) >> m->shift) - ((m->w & m->addr) >> m->shift))
            << VMAR_PAGE_SHIFT);
}

/* ---- create and destroy ------------------------------------------------ */

int vmar__radix_init(struct vmar__radix *rx, const struct vmar__pt_format *fmt,
                     const struct vmar_env *env)
{
    return vmar__radix_init_split(rx, fmt, env, vmar__radix_limit(fmt), 0);
}

/* Index of the first root entry of the kernel half. */
static size_t kernel_slot(const struct vmar__radix *rx)
{
    return (size_t)(rx->user_end >>
                    (rx->fmt->va_bits - rx->fmt->bits_per_level));
}

int vmar__radix_init_split(struct vmar__radix *rx,
                           const struct vmar__pt_format *fmt,
                           const struct vmar_env *env, vmar_addr_t user_end,
                           vmar_paddr_t kernel_root)
{
    size_t n = (size_t)1 << fmt->bits_per_level;
    const uint64_t *kernel;
    uint64_t *root;

    VMAR_ASSERT(env, format_ok(fmt));
    VMAR_ASSERT(env, user_end != 0 && user_end <= vmar__radix_limit(fmt) &&
                         user_end % vmar__radix_span(fmt, top_level(fmt)) == 0);
    VMAR_ASSERT(env, kernel_root % VMAR_PAGE_SIZE == 0);
    rx->fmt = fmt;
    rx->env = env;
    rx->root = 0;
    rx->user_end = user_end;
    rx->tables = 0;
    rx->leaves = 0;
    rx->unhooked = 0;
    rx->lost_links = 0;
    find_leaf_addr(rx);
    if (env->frame_alloc(env->ctx, VMAR_FRAME_TABLE | VMAR_FRAME_ZERO,
                         &rx->root) != 0)
        return VMAR_ENOMEM;
    check_table_page(rx, rx->root);
    rx->tables = 1;
    if (kernel_root == 0)
        return 0;
    /* The new root is active nowhere yet, so nothing is published. The
     * words are copied as they are, whatever the format makes of them:
     * they are the kernel's, and nothing here decodes them again. */
    root = table_at(rx, rx->root);
    kernel = table_at(rx, kernel_root);
    for (size_t i = kernel_slot(rx); i < n; i++)
        pt_set(&root[i], pt_read(&kernel[i]));
    return 0;
}

struct fini_visit {
    struct visitor v;
    struct vmar__radix *rx;
};

/* Every entry is absent (destroy's precondition; the walk checks the
 * table itself, since rx->leaves does not count map's leaves). */
static bool fini_entry(struct visitor *v, uint64_t *slot, uint64_t w,
                       unsigned level, vmar_addr_t lo, vmar_addr_t hi)
{
    struct fini_visit *fv = (struct fini_visit *)v;

    (void)slot;
    (void)level;
    (void)lo;
    (void)hi;
    VMAR_ASSERT(fv->rx->env, !fmt_present(fv->rx->fmt, w));
    return false;
}

/* The table is never active again (destroy's precondition): free at once. */
static void fini_leave(struct visitor *v, uint64_t *parent,
                       const uint64_t *table, unsigned level)
{
    struct fini_visit *fv = (struct fini_visit *)v;
    const struct vmar_env *env = fv->rx->env;
    vmar_paddr_t pa = fmt_table_pa(fv->rx->fmt, pt_read(parent), level + 1);

    (void)table;
    pt_set(parent, 0);
    env->frame_free(env->ctx, pa);
    count_add(&fv->rx->tables, (size_t)-1);
}

void vmar__radix_fini(struct vmar__radix *rx)
{
    const struct vmar_env *env = rx->env;
    struct fini_visit fv = {
        .v = {.entry = fini_entry, .leave = fini_leave, .floor = 0},
        .rx = rx,
    };
    size_t n = (size_t)1 << rx->fmt->bits_per_level;
    uint64_t *root;

    /* Only [0, user_end): the kernel half's tables are the kernel's. */
    range(rx, 0, rx->user_end, &fv.v);
    /* Drop the copies of the kernel's entries, so the root frame does not
     * go back to the env holding pointers to the kernel's tables. */
    root = table_at(rx, rx->root);
    for (size_t i = kernel_slot(rx); i < n; i++)
        pt_set(&root[i], 0);
    env->frame_free(env->ctx, rx->root);
    rx->root = 0;
    count_add(&rx->tables, (size_t)-1);
    VMAR_ASSERT(env, count_get(&rx->tables) == 0);
}

/* ---- prepare ------------------------------------------------------------ */

struct count_visit {
    struct visitor v;
    const struct vmar__pt_format *f;
    unsigned top; /* highest leaf level map_range may use (0: base pages) */
    size_t missing;
};

/*
 * Tables on levels below `level` that mapping [lo, hi) needs when leaves
 * up to level `top` are used wherever a whole aligned block of their span
 * fits (what vmar__radix_map_range does). A table at level l covers one
 * aligned block of span(l+1), so [lo, hi) meets ((hi-1) >> s) - (lo >> s)
 * + 1 of them (s = page_shift + (l+1) * bits); when l + 1 <= top, the
 * blocks lying wholly inside [lo, hi) are one leaf each and need no table.
 */
static size_t tables_below(const struct vmar__pt_format *f, unsigned level,
                           vmar_addr_t lo, vmar_addr_t hi, unsigned top)
{
    size_t n = 0;

    for (unsigned l = 0; l < level; l++) {
        unsigned shift = f->page_shift + (l + 1) * f->bits_per_level;
        vmar_addr_t first = lo >> shift, last = (hi - 1) >> shift;

        n += (size_t)(last - first + 1);
        if (l + 1 <= top) {
            /* whole blocks: [ceil(lo / block), floor(hi / block)) */
            vmar_addr_t whole_lo =
                first + ((lo & (((vmar_addr_t)1 << shift) - 1)) != 0);
            vmar_addr_t whole_hi = hi >> shift;

            if (whole_hi > whole_lo)
                n -= (size_t)(whole_hi - whole_lo);
        }
    }
    return n;
}

/* An absent entry at `level` lacks the whole path below it. Present
 * entries lack nothing: a leaf covers its range already, and a level-1
 * table (the floor) is the last table any base page needs. */
static bool count_entry(struct visitor *v, uint64_t *slot, uint64_t w,
                        unsigned level, vmar_addr_t lo, vmar_addr_t hi)
{
    struct count_visit *c = (struct count_visit *)v;

    (void)slot;
    if (!fmt_present(c->f, w))
        c->missing += tables_below(c->f, level, lo, hi, c->top);
    return false;
}

/* ---- huge-leaf splits ---------------------------------------------------- */

/* The entry holding one page: a present leaf (slot set) or nothing. */
struct edge_visit {
    uint64_t *slot; /* the present leaf, or NULL */
    uint64_t w;     /* its word */
    unsigned level; /* its level */
};

/* The present leaf whose span holds the page at `page`, if any: a
 * one-page descent (point_at). */
static struct edge_visit leaf_at(const struct vmar__radix *rx, vmar_addr_t page)
{
    const struct point p = point_at(rx, page, 0);

    return (struct edge_visit){
        .slot = fmt_present(rx->fmt, p.w) ? p.slot : NULL,
        .w = p.w,
        .level = p.level,
    };
}

/* The level a split of leaf `e` at `edge` stops at: the highest level
 * whose span `edge` is aligned to (the leaf's own level when the edge
 * does not cut it). A split from level L down to k needs L - k tables,
 * one per level, each the block of span(l+1) holding the edge's page. */
static unsigned split_floor(const struct vmar__pt_format *f,
                            const struct edge_visit *e, vmar_addr_t edge)
{
    unsigned k = e->level;

    if (e->slot == NULL)
        return k;
    while (k > 0 && edge % vmar__radix_span(f, k) != 0)
        k--;
    return k;
}

/* Table pages split_edges() takes for [va, va+len): the tables of the
 * two edges' splits, less those they share (both edges inside one leaf,
 * at the levels where both pages lie in the same block). */
static size_t count_split(const struct vmar__radix *rx, vmar_addr_t va,
                          vmar_size_t len)
{
    const struct vmar__pt_format *f = rx->fmt;
    vmar_addr_t hi = va + len;
    struct edge_visit a = leaf_at(rx, va);
    /* One page (the common protect and unmap): both edges are its. */
    struct edge_visit b =
        len == VMAR_PAGE_SIZE ? a : leaf_at(rx, hi - VMAR_PAGE_SIZE);
    unsigned ka = split_floor(f, &a, va), kb = split_floor(f, &b, hi);
    size_t n = (size_t)(a.level - ka) + (size_t)(b.level - kb);

    if (a.slot != NULL && a.slot == b.slot) {
        for (unsigned l = VMAR_MAX(ka, kb); l < a.level; l++) {
            unsigned shift = f->page_shift + (l + 1) * f->bits_per_level;

            if (va >> shift == (hi - 1) >> shift)
                n--;
        }
    }
    return n;
}

/*
 * Replace the huge leaf at `slot` (level >= 1, first address `base`) by a
 * table of next-level leaves with the same attributes, at pa offsets of
 * the next level's span, and return that table. The table is complete
 * before the store that links it, so a hardware walker sees either the
 * huge leaf or the table, and both translate every address alike (the
 * store is a release: the table's contents come first, as in
 * link_table()). The huge translation may stay cached until a flush, even as
 * several smaller entries (Intel SDM Vol. 3A §4.10.2.3, "Details of TLB
 * Use"; §4.10.4.2 asks for an invalidation of every page the changed
 * entry mapped; RISC-V privileged spec, "Supervisor Memory-Management
 * Fence Instruction": a leaf entry changed), so its whole span goes on
 * the batch.
 */
static uint64_t *split_leaf(struct vmar__radix *rx, uint64_t *slot,
                            unsigned level, vmar_addr_t base,
                            struct vmar_frame_list *resv,
                            struct vmar_tlb_batch *batch)
{
    const struct vmar__pt_format *f = rx->fmt;
    size_t n = (size_t)1 << f->bits_per_level;
    vmar_size_t sub = vmar__radix_span(f, level - 1);
    vmar_paddr_t pa = pop_table_page(rx, resv);
    uint64_t *table = table_at(rx, pa);
    struct vmar_pte pte;

    f->leaf_decode(pt_read(slot), level, &pte);
    for (size_t i = 0; i < n; i++) {
        struct vmar_pte part = pte;

        part.pa = pte.pa + (vmar_paddr_t)i * sub;
        pt_set(&table[i], f->leaf_encode(&part, level - 1));
    }
    pt_publish(slot, f->table_encode(pa, level));
    count_add(&rx->tables, 1);
    count_add(&rx->leaves, n - 1);
    vmar_tlb_batch_add_range(batch, base, vmar__radix_span(f, level));
    return table;
}

/* Split the leaf holding `page` until `edge` falls on a leaf boundary.
 * Returns false when no leaf above level 0 held the page (nothing to
 * split for any edge of it). */
static bool split_edge(struct vmar__radix *rx, vmar_addr_t page,
                       vmar_addr_t edge, struct vmar_frame_list *resv,
                       struct vmar_tlb_batch *batch)
{
    const struct vmar__pt_format *f = rx->fmt;
    struct edge_visit e = leaf_at(rx, page);
    uint64_t *slot = e.slot;
    unsigned level = e.level;

    if (slot == NULL || level == 0)
        return false;
    while (level > 0 && edge % vmar__radix_span(f, level) != 0) {
        vmar_size_t span = vmar__radix_span(f, level);
        uint64_t *table =
            split_leaf(rx, slot, level, page & ~(span - 1), resv, batch);

        level--;
        slot = &table[slot_index(f, page, level)];
    }
    return true;
}

/* Make both edges of [va, va+len) leaf boundaries (count_split() says
 * how many table pages this pops from `resv`). A one-page range that no
 * huge leaf covers is looked up once. No reservation means nothing to
 * split (every split takes a table page, and prepare(CHANGE) reserved one
 * for each): the contract lets the caller say so with a NULL or empty
 * `resv`, and the walks to the two edges, ~90 of the ~2 300 instructions
 * of a one-page protect among 10 000 mappings, are skipped. */
static void split_edges(struct vmar__radix *rx, vmar_addr_t va, vmar_size_t len,
                        struct vmar_frame_list *resv,
                        struct vmar_tlb_batch *batch)
{
    if (len == 0 || rx->fmt->leaf_levels == 1u || !resv || !resv->count)
        return;
    if (!split_edge(rx, va, va, resv, batch) && len == VMAR_PAGE_SIZE)
        return;
    split_edge(rx, va + len - VMAR_PAGE_SIZE, va + len, resv, batch);
}

size_t vmar__radix_count_missing(const struct vmar__radix *rx, vmar_addr_t va,
                                 vmar_size_t len, enum vmar_mmu_prep what)
{
    struct count_visit c = {
        .v = {.entry = count_entry, .leave = NULL, .floor = 1},
        .f = rx->fmt,
        .top = what == VMAR_PREP_MAP_HUGE ? top_leaf_level(rx->fmt) : 0,
        .missing = 0,
    };

    check_range(rx, va, len);
    VMAR_ASSERT(rx->env, what == VMAR_PREP_MAP || what == VMAR_PREP_CHANGE ||
                             what == VMAR_PREP_REMAP ||
                             what == VMAR_PREP_MAP_HUGE);
    if (len == 0)
        return 0;
    /* CHANGE: only the splits of huge leaves at the two edges take
     * tables; the rest of unmap and protect only clears and rewrites. */
    if (what == VMAR_PREP_CHANGE)
        return rx->fmt->leaf_levels == 1u ? 0 : count_split(rx, va, len);
    /* REMAP: an unmap of the range in the same commit may free any table
     * below the root that the range touches, so count them all. */
    if (what == VMAR_PREP_REMAP)
        return tables_below(rx->fmt, rx->fmt->levels - 1, va, va + len, 0);
    if (what == VMAR_PREP_MAP && len == VMAR_PAGE_SIZE) {
        /* One page (a fault): an absent entry at level L lacks the L
         * tables below it (tables_below() of one page); a leaf or a
         * level-1 table lacks none. */
        const struct point p = point_at(rx, va, 1);
        return fmt_present(rx->fmt, p.w) ? 0 : p.level;
    }
    range(rx, va, va + len, &c.v);
    return c.missing;
}

int vmar__radix_prepare(const struct vmar__radix *rx, vmar_addr_t va,
                        vmar_size_t len, enum vmar_mmu_prep what,
                        struct vmar_frame_list *resv)
{
    size_t n = vmar__radix_count_missing(rx, va, len, what);

    if (n == 0)
        return 0;
    return vmar_frame_list_fill(rx->env, resv, n,
                                VMAR_FRAME_TABLE | VMAR_FRAME_ZERO);
}

/* ---- map ---------------------------------------------------------------- */

void vmar__radix_map(struct vmar__radix *rx, vmar_addr_t va, unsigned level,
                     const struct vmar_pte *pte, struct vmar_frame_list *resv)
{
    const struct vmar__pt_format *f = rx->fmt;
    vmar_size_t span = vmar__radix_span(f, level);
    struct walk_ret w;

    VMAR_ASSERT(rx->env, level < f->levels && (f->leaf_levels >> level) & 1u);
    VMAR_ASSERT(rx->env, va % span == 0 && pte->pa % span == 0);
    VMAR_ASSERT(rx->env, va < rx->user_end);
    w = walk(rx, va, level, resv);
    /* A leaf above `level` or a present slot: the core broke map()'s
     * precondition (it must unmap first). */
    VMAR_ASSERT(rx->env, w.level == level && !fmt_present(f, pt_read(w.slot)) &&
                             !is_guard(f, pt_read(w.slot)));
    /* The frame's contents (the core zeroed or filled it) come before. */
    pt_publish(w.slot, f->leaf_encode(pte, level));
}

int vmar__radix_map_empty(struct vmar__radix *rx, vmar_addr_t va,
                          const struct vmar_pte *pte,
                          struct vmar_frame_list *resv, struct vmar_pte *found)
{
    const struct vmar__pt_format *f = rx->fmt;
    struct walk_ret w;
    uint64_t cur;

    VMAR_ASSERT(rx->env, va % VMAR_PAGE_SIZE == 0 && va < rx->user_end);
    VMAR_ASSERT(rx->env, pte->pa % VMAR_PAGE_SIZE == 0);
    w = walk(rx, va, 0, resv);
    cur = pt_read(w.slot);
    if (fmt_present(f, cur)) {
        /* A leaf at w.level (a huge one when above 0) covers va. */
        f->leaf_decode(cur, w.level, found);
        found->pa += va & (vmar__radix_span(f, w.level) - 1);
        return VMAR_EEXIST;
    }
    if (is_guard(f, cur)) {
        guard_pte(found);
        return VMAR_EEXIST;
    }
    /* The frame's contents (the core zeroed or filled it) come before. */
    pt_publish(w.slot, f->leaf_encode(pte, 0));
    return 0;
}

void vmar__radix_map_range(struct vmar__radix *rx, vmar_addr_t va,
                           const struct vmar_pte *pte, vmar_size_t len,
                           unsigned flags, struct vmar_frame_list *resv)
{
    const struct vmar__pt_format *f = rx->fmt;
    unsigned top = (flags & VMAR_MAP_RANGE_HUGE) ? top_leaf_level(f) : 0;
    struct vmar_pte part = *pte;
    vmar_size_t off = 0;
    size_t leaves = 0;

    check_range(rx, va, len);
    VMAR_ASSERT(rx->env, pte->pa % VMAR_PAGE_SIZE == 0);
    /* Greedy from the left: the largest leaf whose span va and pa are
     * aligned to and that the rest of the range covers. This puts one
     * leaf on every maximal aligned block, which tables_below() counts. */
    while (off < len) {
        unsigned l = top;

        while (l > 0 && ((va + off) % vmar__radix_span(f, l) != 0 ||
                         part.pa % vmar__radix_span(f, l) != 0 ||
                         len - off < vmar__radix_span(f, l)))
            l--;
        vmar__radix_map(rx, va + off, l, &part, resv);
        leaves++;
        off += vmar__radix_span(f, l);
        part.pa += vmar__radix_span(f, l);
    }
    count_add(&rx->leaves, leaves);
}

/* ---- unmap -------------------------------------------------------------- */

struct unmap_visit {
    struct visitor v;
    struct vmar__radix *rx;
    struct vmar_tlb_batch *batch;
    size_t pages;
    /* pages of the huge leaves removed beyond one each: pages less this
     * is the leaves removed, counted in rx at the end (a count per leaf
     * would cost the per-page loop an instruction) */
    size_t huge_extra;
    uint32_t dirty; /* bit l: the current table at level l lost an entry */
};

static void unmap_leave(struct visitor *v, uint64_t *parent,
                        const uint64_t *table, unsigned level);

/* Clear the present leaf word `w` at `level` (first address `base`):
 * record its span on the batch, then queue its frames. */
static void unmap_leaf(struct unmap_visit *u, vmar_paddr_t pa, unsigned flags,
                       unsigned level, vmar_addr_t base)
{
    const struct vmar__pt_format *f = u->rx->fmt;
    vmar_size_t span = vmar__radix_span(f, level);

    u->pages += (size_t)(span >> f->page_shift);
    /* Record the range before queueing the frames: a full batch flushes
     * early, and that flush must already cover these translations. */
    vmar_tlb_batch_add_range(u->batch, base, span);
    if (flags & VMAR_PTE_MANAGED) {
        /* A managed huge leaf is made of base frames, each from
         * env->frame_alloc, so each goes back on its own. */
        for (vmar_size_t off = 0; off < span; off += VMAR_PAGE_SIZE)
            vmar_tlb_batch_defer_put(u->batch, pa + off);
    }
}

static void unmap_word(struct unmap_visit *u, uint64_t w, unsigned level,
                       vmar_addr_t base)
{
    struct vmar_pte pte;

    u->rx->fmt->leaf_decode(w, level, &pte);
    unmap_leaf(u, pte.pa, pte.flags, level, base);
}

/* The entries in [lo, hi) of the leaf table the level-1 slot `slot`
 * points to (the visitor's floor is 1): one loop, then the table goes
 * as unmap_leave() would let it go when range() had descended. */
static void unmap_table(struct unmap_visit *u, uint64_t *slot, uint64_t w1,
                        vmar_addr_t lo, vmar_addr_t hi)
{
    const struct vmar__pt_format *f = u->rx->fmt;
    const struct leaf_slots ls = leaf_slots(u->rx, w1, lo, hi);
    uint64_t *t = ls.t;
    struct leaf_memo m;

    memo_init(&m, u->rx);
    for (size_t i = ls.first; i < ls.end; i++) {
        uint64_t w = pt_read(&t[i]);

        if (!fmt_present(f, w))
            continue;
        pt_set(&t[i], 0);
        u->dirty |= 1u;
        memo_load(&m, u->rx, w);
        unmap_leaf(u, memo_pa(&m, w), m.pte.flags, 0,
                   ls.base + ((vmar_addr_t)i << f->page_shift));
    }
    unmap_leave(&u->v, slot, t, 0);
}

static bool unmap_entry(struct visitor *v, uint64_t *slot, uint64_t w,
                        unsigned level, vmar_addr_t lo, vmar_addr_t hi)
{
    struct unmap_visit *u = (struct unmap_visit *)v;
    const struct vmar__pt_format *f = u->rx->fmt;
    vmar_size_t span = vmar__radix_span(f, level);
    vmar_addr_t base = lo & ~(span - 1);

    if (!fmt_present(f, w))
        return false;
    if (level > 0 && !fmt_is_leaf(f, w, level)) {
        unmap_table(u, slot, w, lo, hi);
        return false;
    }
    VMAR_ASSERT(u->rx->env, covers_whole_leaf(lo, hi, base, span));
    pt_set(slot, 0);
    u->huge_extra += (size_t)(span >> f->page_shift) - 1;
    u->dirty |= 1u << level;
    unmap_word(u, w, level, base);
    return false;
}

/* Free a table that lost its last entry. Tables nobody touched are not
 * scanned: by the invariant in radix.h they still hold an entry. The
 * leaves that were under the table were recorded on the batch already,
 * so the flush that precedes the free also covers the table. */
static void unmap_leave(struct visitor *v, uint64_t *parent,
                        const uint64_t *table, unsigned level)
{
    struct unmap_visit *u = (struct unmap_visit *)v;
    const struct vmar__pt_format *f = u->rx->fmt;
    uint32_t bit = 1u << level;
    vmar_paddr_t pa;

    if ((u->dirty & bit) == 0)
        return;
    u->dirty &= ~bit;
    if (!table_empty(f, table))
        return;
    pa = fmt_table_pa(f, pt_read(parent), level + 1);
    pt_set(parent, 0);
    count_add(&u->rx->tables, (size_t)-1);
    count_add(&u->rx->unhooked, 1);
    u->dirty |= bit << 1;
    vmar_tlb_batch_defer_free(u->batch, pa);
}

size_t vmar__radix_unmap(struct vmar__radix *rx, vmar_addr_t va,
                         vmar_size_t len, struct vmar_frame_list *resv,
                         struct vmar_tlb_batch *batch)
{
    struct unmap_visit u = {
        .v = {.entry = unmap_entry, .leave = unmap_leave, .floor = 1},
        .rx = rx,
        .batch = batch,
        .pages = 0,
        .huge_extra = 0,
        .dirty = 0,
    };

    check_range(rx, va, len);
    split_edges(rx, va, len, resv, batch);
    range(rx, va, va + len, &u.v);
    count_add(&rx->leaves, u.huge_extra - u.pages);
    return u.pages;
}

/* ---- replace ------------------------------------------------------------ */

void vmar__radix_replace(struct vmar__radix *rx, vmar_addr_t va,
                         const struct vmar_pte *pte,
                         struct vmar_tlb_batch *batch)
{
    const struct vmar__pt_format *f = rx->fmt;
    struct edge_visit e;
    struct vmar_pte old;

    check_range(rx, va, VMAR_PAGE_SIZE);
    VMAR_ASSERT(rx->env, pte->pa % VMAR_PAGE_SIZE == 0);
    e = leaf_at(rx, va);
    /* No leaf, or a huge one: the core broke replace()'s precondition. */
    VMAR_ASSERT(rx->env, e.slot != NULL && e.level == 0);
    f->leaf_decode(e.w, 0, &old);
    /* Break: the slot reads as absent until every CPU has dropped the old
     * translation, so none can use the old frame while another already
     * writes the new one. The table keeps its slot (an empty leaf table
     * for a moment is fine: nothing frees it under us). */
    pt_set(e.slot, 0);
    vmar_tlb_batch_add_range(batch, va, VMAR_PAGE_SIZE);
    if (old.flags & VMAR_PTE_MANAGED)
        vmar_tlb_batch_defer_put(batch, old.pa);
    vmar_tlb_batch_finish(batch);
    /* Make: an absent slot becomes present, which needs no flush. The
     * new frame's contents (the copy) come before. */
    pt_publish(e.slot, f->leaf_encode(pte, 0));
}

/* ---- protect ------------------------------------------------------------ */

struct protect_visit {
    struct visitor v;
    const struct vmar__radix *rx;
    struct vmar_tlb_batch *batch;
    unsigned prot;
};

/* The word for the present leaf `w` at `level` with p's permission. */
static uint64_t protect_pte(const struct protect_visit *p, struct vmar_pte pte,
                            unsigned level)
{
    /* Copy-on-write leaves stay read-only: only a fault may decide. */
    if (p->prot & VMAR_PROTECT_KEEP_RO && !(pte.prot & VMAR_PROT_WRITE))
        pte.prot = p->prot & VMAR_PROT_RWX & ~(unsigned)VMAR_PROT_WRITE;
    else
        pte.prot = p->prot & VMAR_PROT_RWX;
    return p->rx->fmt->leaf_encode(&pte, level);
}

static uint64_t protect_word(const struct protect_visit *p, uint64_t w,
                             unsigned level)
{
    struct vmar_pte pte;

    p->rx->fmt->leaf_decode(w, level, &pte);
    return protect_pte(p, pte, level);
}

/* The entries in [lo, hi) of the leaf table the level-1 word `w` points
 * to (the visitor's floor is 1): one loop, and one record on the batch
 * for the run from the first to the last changed leaf (the batch keeps
 * one covering range anyway). */
static void protect_table(struct protect_visit *p, uint64_t w, vmar_addr_t lo,
                          vmar_addr_t hi)
{
    const struct vmar__pt_format *f = p->rx->fmt;
    const struct leaf_slots ls = leaf_slots(p->rx, w, lo, hi);
    uint64_t *t = ls.t;
    size_t n = ls.end, first = n, last = 0;
    struct leaf_memo m;

    memo_init(&m, p->rx);
    for (size_t i = ls.first; i < n; i++) {
        uint64_t old = pt_read(&t[i]), nw;

        if (!fmt_present(f, old))
            continue;
        if (memo_load(&m, p->rx, old))
            m.out = protect_pte(p, m.pte, 0) & ~m.addr;
        nw = m.out | (old & m.addr);
        if (nw != old) {
            /* A release like every present word: a permission granted
             * here lets a walker reach the frame's contents. */
            pt_publish(&t[i], nw);
            if (first == n)
                first = i;
            last = i;
        }
    }
    if (first != n)
        vmar_tlb_batch_add_range(
            p->batch, ls.base + ((vmar_addr_t)first << f->page_shift),
            (vmar_size_t)(last - first + 1) << f->page_shift);
}

static bool protect_entry(struct visitor *v, uint64_t *slot, uint64_t w,
                          unsigned level, vmar_addr_t lo, vmar_addr_t hi)
{
    struct protect_visit *p = (struct protect_visit *)v;
    const struct vmar__pt_format *f = p->rx->fmt;
    vmar_size_t span = vmar__radix_span(f, level);
    vmar_addr_t base = lo & ~(span - 1);
    uint64_t nw;

    if (!fmt_present(f, w))
        return false;
    if (level > 0 && !fmt_is_leaf(f, w, level)) {
        protect_table(p, w, lo, hi);
        return false;
    }
    VMAR_ASSERT(p->rx->env, covers_whole_leaf(lo, hi, base, span));
    nw = protect_word(p, w, level);
    if (nw != w) {
        pt_publish(slot, nw);
        vmar_tlb_batch_add_range(p->batch, base, span);
    }
    return false;
}

size_t vmar__radix_protect(struct vmar__radix *rx, vmar_addr_t va,
                           vmar_size_t len, unsigned prot,
                           struct vmar_frame_list *resv,
                           struct vmar_tlb_batch *batch)
{
    /* Every page protect takes from `resv` is a split's table. */
    const size_t spare = resv != NULL ? resv->count : 0;
    struct protect_visit p = {
        .v = {.entry = protect_entry, .leave = NULL, .floor = 1},
        .rx = rx,
        .batch = batch,
        .prot = prot,
    };

    check_range(rx, va, len);
    split_edges(rx, va, len, resv, batch);
    range(rx, va, va + len, &p.v);
    return spare - (resv != NULL ? resv->count : 0);
}

/* ---- find_next ---------------------------------------------------------- */

struct find_visit {
    struct visitor v;
    const struct vmar__pt_format *f;
    vmar_addr_t va;
    struct vmar_pte pte;
    bool found;
};

static bool find_entry(struct visitor *v, uint64_t *slot, uint64_t w,
                       unsigned level, vmar_addr_t lo, vmar_addr_t hi)
{
    struct find_visit *fv = (struct find_visit *)v;
    vmar_size_t span = vmar__radix_span(fv->f, level);

    (void)slot;
    (void)hi;
    if (!fmt_present(fv->f, w))
        return false;
    fv->f->leaf_decode(w, level, &fv->pte);
    fv->pte.pa += lo - (lo & ~(span - 1)); /* the page inside a huge leaf */
    fv->va = lo;
    fv->found = true;
    return true;
}

int vmar__radix_probe(const struct vmar__radix *rx, vmar_addr_t va,
                      struct vmar_pte *pte, size_t *missing)
{
    VMAR_ASSERT(rx->env, va % VMAR_PAGE_SIZE == 0 && va < rx->user_end);
    const struct point p = point_at(rx, va, 0);
    if (is_guard(rx->fmt, p.w)) {
        guard_pte(pte);
        return 0;
    }
    if (!fmt_present(rx->fmt, p.w)) {
        /* Absent at level L: the L tables below it are missing (none at
         * level 0: the leaf table is there). */
        *missing = p.level;
        return VMAR_ENOENT;
    }
    rx->fmt->leaf_decode(p.w, p.level, pte);
    pte->pa += va & (vmar__radix_span(rx->fmt, p.level) - 1);
    return 0;
}

int vmar__radix_find_next(const struct vmar__radix *rx, vmar_addr_t *va,
                          vmar_addr_t end, struct vmar_pte *pte)
{
    VMAR_ASSERT(rx->env, *va % VMAR_PAGE_SIZE == 0);
    /* Nothing of the table's own is mapped at or above user_end (above it
     * sits the kernel half, never scanned): callers may pass any end. */
    end = VMAR_MIN(end, rx->user_end);
    if (*va >= end)
        return VMAR_ENOENT;
    if (end - *va == VMAR_PAGE_SIZE) {
        /* One page (a fault's look at its page): the leaf covering it,
         * if any, by a point descent. */
        const struct point p = point_at(rx, *va, 0);
        if (!fmt_present(rx->fmt, p.w))
            return VMAR_ENOENT;
        rx->fmt->leaf_decode(p.w, p.level, pte);
        pte->pa += *va & (vmar__radix_span(rx->fmt, p.level) - 1);
        return 0;
    }
    struct find_visit fv = {
        .v = {.entry = find_entry, .leave = NULL, .floor = 0},
        .f = rx->fmt,
        .va = 0,
        .found = false,
    };
    range(rx, *va, end, &fv.v);
    if (!fv.found)
        return VMAR_ENOENT;
    *va = fv.va;
    *pte = fv.pte;
    return 0;
}

/* ---- copy --------------------------------------------------------------- */

struct copy_visit {
    struct visitor v;
    struct vmar__radix *dst;
    const struct vmar__radix *src;
    struct vmar_frame_list *resv;
    vmar_mmu_take_fn *take;
    void *arg;
    bool cow;
    vmar_addr_t stop; /* the leaf copy stopped before */
    size_t need;      /* tables its path lacks; 0: not stopped */
};

/* Tables of `rx` missing on va's path down to `target` (the slot there
 * must be free: a leaf above it is a broken copy precondition). */
static size_t path_missing(const struct vmar__radix *rx, vmar_addr_t va,
                           unsigned target)
{
    const struct vmar__pt_format *f = rx->fmt;
    unsigned level = top_level(f);
    const uint64_t *table = table_at(rx, rx->root);

    while (level > target) {
        uint64_t w = pt_read_acq(&table[slot_index(f, va, level)]);

        if (!fmt_present(f, w))
            return level - target;
        VMAR_ASSERT(rx->env, !fmt_is_leaf(f, w, level));
        table = table_at(rx, fmt_table_pa(f, w, level));
        level--;
    }
    return 0;
}

/* dst's slot for the leaf at `va` on `level`, its path linked from
 * `resv`; NULL (and the stop recorded) when `resv` is short. */
static uint64_t *copy_slot(struct copy_visit *c, vmar_addr_t va, unsigned level)
{
    size_t need = path_missing(c->dst, va, level);
    struct walk_ret w;

    if (need > c->resv->count) {
        c->stop = va;
        c->need = need;
        return NULL;
    }
    w = walk(c->dst, va, level, c->resv);
    VMAR_ASSERT(c->dst->env,
                w.level == level && !fmt_present(c->dst->fmt, pt_read(w.slot)));
    return w.slot;
}

/* The child's word for the parent's leaf `w` (decoded: `pte`). */
static uint64_t copy_out(const struct copy_visit *c, uint64_t w,
                         struct vmar_pte pte, unsigned level)
{
    if (c->cow && (pte.prot & VMAR_PROT_WRITE)) {
        pte.prot &= ~(unsigned)VMAR_PROT_WRITE;
        w = c->src->fmt->leaf_encode(&pte, level);
    }
    return w;
}

/* Take a reference to each base frame of a managed leaf at `pa`. */
static void copy_take(struct copy_visit *c, vmar_paddr_t pa, unsigned flags,
                      unsigned level)
{
    if (flags & VMAR_PTE_MANAGED) {
        vmar_size_t span = vmar__radix_span(c->src->fmt, level);

        for (vmar_size_t off = 0; off < span; off += VMAR_PAGE_SIZE)
            c->take(c->arg, pa + off);
    }
}

/* The child's word for the present leaf word `w` at `level`, after
 * handing the references of a managed leaf to the caller. */
static uint64_t copy_word(struct copy_visit *c, uint64_t w, unsigned level)
{
    struct vmar_pte pte;

    c->src->fmt->leaf_decode(w, level, &pte);
    copy_take(c, pte.pa, pte.flags, level);
    return copy_out(c, w, pte, level);
}

/* The entries of the leaf table `w` (a level-1 table word) that lie in
 * [lo, hi): one descent of dst, at the first present leaf, then a loop.
 * Every leaf of a leaf table is a base page, so dst's table there holds
 * them all. Returns true when it stopped for tables. */
static bool copy_table(struct copy_visit *c, uint64_t w, vmar_addr_t lo,
                       vmar_addr_t hi)
{
    const struct vmar__pt_format *f = c->src->fmt;
    const struct leaf_slots ls = leaf_slots(c->src, w, lo, hi);
    const uint64_t *s = ls.t;
    size_t i = ls.first, n = ls.end;
    size_t added = 0;
    struct leaf_memo m;
    uint64_t *d;

    /* Any word that is not 0 goes to the child: a leaf or a marker. */
    while (i < n && pt_read(&s[i]) == 0)
        i++;
    if (i == n)
        return false;
    d = copy_slot(c, ls.base + ((vmar_addr_t)i << f->page_shift), 0);
    if (d == NULL)
        return true;
    d -= i; /* dst's leaf table */
    memo_init(&m, c->src);
    for (; i < n; i++) {
        uint64_t sw = pt_read(&s[i]);

        if (!fmt_present(f, sw)) {
            if (is_guard(f, sw))
                pt_set(&d[i], sw); /* maps nothing: publishes nothing */
            continue;
        }
        VMAR_ASSERT(c->dst->env, !fmt_present(f, pt_read(&d[i])));
        if (memo_load(&m, c->src, sw))
            m.out = copy_out(c, sw, m.pte, 0) & ~m.addr;
        copy_take(c, memo_pa(&m, sw), m.pte.flags, 0);
        pt_publish(&d[i], m.out | (sw & m.addr));
        added++;
    }
    count_add(&c->dst->leaves, added);
    return false;
}

static bool copy_entry(struct visitor *v, uint64_t *slot, uint64_t w,
                       unsigned level, vmar_addr_t lo, vmar_addr_t hi)
{
    struct copy_visit *c = (struct copy_visit *)v;
    const struct vmar__pt_format *f = c->src->fmt;
    vmar_size_t span = vmar__radix_span(f, level);
    uint64_t *d;

    if (!fmt_present(f, w))
        return false;
    if (level > 0 && !fmt_is_leaf(f, w, level))
        return copy_table(c, w, lo, hi); /* a leaf table (floor 1) */
    /* A leaf at any level: whole, since no leaf straddles the ends. */
    VMAR_ASSERT(c->src->env, covers_whole_leaf(lo, hi, lo & ~(span - 1), span));
    (void)slot;
    d = copy_slot(c, lo, level);
    if (d == NULL)
        return true;
    pt_publish(d, copy_word(c, w, level));
    count_add(&c->dst->leaves, 1);
    return false;
}

size_t vmar__radix_copy(struct vmar__radix *dst, const struct vmar__radix *src,
                        vmar_addr_t *va, vmar_addr_t end, unsigned flags,
                        struct vmar_frame_list *resv, vmar_mmu_take_fn *take,
                        void *arg)
{
    struct copy_visit c = {
        .v = {.entry = copy_entry, .leave = NULL, .floor = 1},
        .dst = dst,
        .src = src,
        .resv = resv,
        .take = take,
        .arg = arg,
        .cow = (flags & VMAR_COPY_COW) != 0,
        .stop = 0,
        .need = 0,
    };

    VMAR_ASSERT(src->env, dst->fmt == src->fmt &&
                              dst->user_end == src->user_end && dst != src);
    VMAR_ASSERT(src->env, *va <= end);
    check_range(src, *va, end - *va);
    range(src, *va, end, &c.v);
    if (c.need != 0) {
        *va = c.stop;
        return c.need;
    }
    *va = end;
    return 0;
}

/* ---- move --------------------------------------------------------------- */

/*
 * Source and target are in the same table, so move creates tables (walk
 * from `resv`) while range() is visiting the source. That is safe because
 * walk only ever fills absent slots (it never frees or replaces a table,
 * so the path range() holds stays valid), and range() looks only at the
 * entries of each table that meet [va, va+len), reading each slot when it
 * reaches it: a table walk linked is then either outside that range or,
 * when it meets it, holds no leaf inside it (the target is disjoint from
 * the source, so every leaf move installs lies outside [va, va+len)),
 * so range() finds nothing to move there. The cached target table stays
 * valid for the same reason: nothing here unhooks or frees a table.
 */
struct move_visit {
    struct visitor v;
    struct vmar__radix *rx;
    struct vmar_frame_list *resv;
    vmar_mmu_take_fn *moved;
    void *arg;
    vmar_addr_t delta; /* to - va: target address minus source address */
    /* The target leaf table of the last install and the address of its
     * first slot: consecutive leaves land in one table, so the walk from
     * the root happens once per target leaf table, not once per page. */
    uint64_t *table;
    vmar_addr_t table_base;
    size_t leaves; /* installed, counted in rx at the end */
};

/* The target slot for page `t`, its leaf table linked as needed. */
static uint64_t *move_slot(struct move_visit *m, vmar_addr_t t)
{
    const struct vmar__pt_format *f = m->rx->fmt;
    vmar_addr_t base = t & ~(vmar__radix_span(f, 1) - 1);
    uint64_t *d;

    if (m->table == NULL || base != m->table_base) {
        struct walk_ret r = walk(m->rx, t, 0, m->resv);

        /* A leaf above level 0 covers t: the target was not empty. */
        VMAR_ASSERT(m->rx->env, r.level == 0);
        m->table = r.slot - slot_index(f, t, 0);
        m->table_base = base;
    }
    d = &m->table[slot_index(f, t, 0)];
    VMAR_ASSERT(m->rx->env, pt_read(d) == 0);
    return d;
}

/* Install the base-page leaf word `w` of frame `pa` at target `t`. */
static void move_install(struct move_visit *m, vmar_addr_t t, uint64_t w,
                         vmar_paddr_t pa)
{
    pt_publish(move_slot(m, t), w);
    m->leaves++;
    m->moved(m->arg, pa);
}

/* The present entries in [lo, hi) of the leaf table the level-1 word `w`
 * points to: a leaf table holds base pages only, so each word is
 * installed as it is (the same word is the same leaf at any address). */
static void move_table(struct move_visit *m, uint64_t w, vmar_addr_t lo,
                       vmar_addr_t hi)
{
    const struct vmar__pt_format *f = m->rx->fmt;
    const struct leaf_slots ls = leaf_slots(m->rx, w, lo, hi);
    struct leaf_memo lm;

    memo_init(&lm, m->rx);
    for (size_t i = ls.first; i < ls.end; i++) {
        uint64_t sw = pt_read(&ls.t[i]);
        vmar_addr_t t = ls.base + ((vmar_addr_t)i << f->page_shift) + m->delta;

        if (!fmt_present(f, sw)) {
            /* A marker goes along, as a word of its own (no page). */
            if (is_guard(f, sw))
                pt_set(move_slot(m, t), sw);
            continue;
        }
        memo_load(&lm, m->rx, sw);
        move_install(m, t, sw, memo_pa(&lm, sw));
    }
}

static bool move_entry(struct visitor *v, uint64_t *slot, uint64_t w,
                       unsigned level, vmar_addr_t lo, vmar_addr_t hi)
{
    struct move_visit *m = (struct move_visit *)v;
    const struct vmar__pt_format *f = m->rx->fmt;
    vmar_size_t span = vmar__radix_span(f, level);
    struct vmar_pte pte;

    (void)slot;
    if (!fmt_present(f, w))
        return false;
    if (level > 0 && !fmt_is_leaf(f, w, level)) {
        move_table(m, w, lo, hi); /* a leaf table (floor 1) */
        return false;
    }
    /* A leaf at any level, as base pages: only its pages in [lo, hi),
     * so a huge leaf cut by either end moves its part in the range. */
    f->leaf_decode(w, level, &pte);
    pte.pa += lo - (lo & ~(span - 1));
    for (vmar_addr_t x = lo; x < hi; x += VMAR_PAGE_SIZE) {
        move_install(m, x + m->delta, f->leaf_encode(&pte, 0), pte.pa);
        pte.pa += VMAR_PAGE_SIZE;
    }
    return false;
}

void vmar__radix_move(struct vmar__radix *rx, vmar_addr_t va, vmar_size_t len,
                      vmar_addr_t to, struct vmar_frame_list *resv,
                      vmar_mmu_take_fn *moved, void *arg)
{
    struct move_visit m = {
        .v = {.entry = move_entry, .leave = NULL, .floor = 1},
        .rx = rx,
        .resv = resv,
        .moved = moved,
        .arg = arg,
        .delta = to - va,
        .table = NULL,
        .table_base = 0,
        .leaves = 0,
    };

    check_range(rx, va, len);
    check_range(rx, to, len);
    /* Disjoint: range() must never meet a leaf that move installed. */
    VMAR_ASSERT(rx->env, len > 0 && (va + len <= to || to + len <= va));
    range(rx, va, va + len, &m.v);
    count_add(&rx->leaves, m.leaves);
}

/* ---- transfer ----------------------------------------------------------- */

/*
 * Remap's one-pass move (Linux move_page_tables): each present source
 * word is cleared and written at its target, a leaf table at a time, and
 * a whole leaf table whose target is aligned alike is relinked instead
 * (move_pmd). The words keep their frames' references, so nothing is
 * taken or dropped; the source ranges go on the batch and the source
 * tables left empty are unhooked onto it, as unmap does.
 *
 * Freeing while the target is being filled. Tables are reserved for the
 * target as the table is before the call (prepare(VMAR_PREP_MAP)), so a
 * source table that the target may still land in must stay linked until
 * the pass is over: else the target would need it again, unreserved. A
 * table the target lands in has a span that meets both the source and
 * the disjoint target range, so it holds the source's page nearest the
 * target (the "edge"): at most one such table per level, all on the
 * edge's path. Those are checked after the pass (transfer_settle); every
 * other source table is checked when range() leaves it, as in unmap. A
 * leaf table that received target words is not empty and is not checked
 * at all (no scan of its 512 words).
 *
 * The walks that link target tables while range() visits the source are
 * safe as in move (above): they fill only absent slots, outside the
 * source range. The cached target tables and range()'s path are never
 * unhooked under them: a table is unhooked only when empty, and a table
 * on the target's path meets the target range, so it waits for the
 * settle.
 */
struct transfer_visit {
    struct unmap_visit u; /* first: unmap_leave() unhooks emptied tables */
    struct vmar_frame_list *resv;
    vmar_addr_t delta;      /* to - va */
    vmar_addr_t to, to_end; /* the target range */
    vmar_addr_t last;       /* lo of the last entry visited */
    uint32_t deferred;      /* bit l: the edge's table at level l lost
                               entries; checked by transfer_settle() */
    size_t added;           /* leaves gained (huge leaves as base pages) */
};

/* unmap_leave(), except for a table whose span meets the target range:
 * that one is the edge's (see above) and waits for the settle. */
static void transfer_leave(struct visitor *v, uint64_t *parent,
                           const uint64_t *table, unsigned level)
{
    struct transfer_visit *x = (struct transfer_visit *)v;
    const uint32_t bit = 1u << level;
    const vmar_size_t span = vmar__radix_span(x->u.rx->fmt, level + 1);
    const vmar_addr_t base = x->last & ~(span - 1);

    if ((x->u.dirty & bit) == 0)
        return;
    if (base < x->to_end && x->to < base + span) {
        x->u.dirty &= ~bit;
        x->deferred |= bit;
        return;
    }
    unmap_leave(v, parent, table, level);
}

/* The target leaf table holding the page `t`, its missing path linked
 * from the reservation. */
static uint64_t *transfer_target(struct transfer_visit *x, vmar_addr_t t)
{
    const struct walk_ret r = walk(x->u.rx, t, 0, x->resv);

    /* A leaf above level 0 covers t: the target was not empty. */
    VMAR_ASSERT(x->u.rx->env, r.level == 0);
    return r.slot - slot_index(x->u.rx->fmt, t, 0);
}

/* Move the whole leaf table of the level-1 slot `slot` (word w1, first
 * address lo) to the target's level-1 slot: one word written, one
 * cleared. The leaf table keeps every word and reference. Its span goes
 * on the batch; past VMAR_TLB_BATCH_RANGE_MAX pages that is a full
 * flush, which also drops the paging-structure caches that still hold
 * the cleared upper entry. */
static void transfer_relink(struct transfer_visit *x, uint64_t *slot,
                            uint64_t w1, vmar_addr_t lo)
{
    struct vmar__radix *rx = x->u.rx;
    const struct walk_ret r = walk(rx, lo + x->delta, 1, x->resv);

    /* The target is empty, so by radix.h's invariant no table or leaf
     * is in a slot whose span lies inside it. */
    VMAR_ASSERT(rx->env,
                r.level == 1 && !fmt_present(rx->fmt, pt_read(r.slot)));
    pt_set(slot, 0);
    pt_publish(r.slot, w1);
    vmar_tlb_batch_add_range(x->u.batch, lo, vmar__radix_span(rx->fmt, 1));
    x->u.dirty |= 1u << 1;
}

/* The present words in [lo, hi) of the leaf table of the level-1 slot
 * `slot` (word w1): relinked whole when the range covers the table and
 * the target is aligned alike, else moved word by word, in runs that
 * land in one target leaf table each. */
static void transfer_table(struct transfer_visit *x, uint64_t *slot,
                           uint64_t w1, vmar_addr_t lo, vmar_addr_t hi)
{
    struct vmar__radix *rx = x->u.rx;
    const struct vmar__pt_format *f = rx->fmt;
    const struct leaf_slots ls = leaf_slots(rx, w1, lo, hi);
    const size_t n = (size_t)1 << f->bits_per_level;
    const vmar_size_t span1 = vmar__radix_span(f, 1);
    /* A word that is not 0 moves: a leaf, or a guard marker (absent
     * words are 0, radix.h). */
    uint64_t *s = ls.t;
    size_t i = ls.first, a = ls.end, b = 0;
    bool into_self = false;

    if (ls.first == 0 && ls.end == n && x->delta % span1 == 0) {
        transfer_relink(x, slot, w1, lo);
        return;
    }
    while (i < ls.end) {
        /* Source slots [i, run) land in one target leaf table, at index
         * i + k (mod 2^N: k is the target's offset, either sign). */
        const size_t j = slot_index(
            f, ls.base + ((vmar_addr_t)i << f->page_shift) + x->delta, 0);
        const size_t run = VMAR_MIN(ls.end, i + (n - j));
        const size_t k = j - i;
        uint64_t *d;

        while (i < run && pt_read(&s[i]) == 0)
            i++;
        if (i == run)
            continue;
        d = transfer_target(x, ls.base + ((vmar_addr_t)i << f->page_shift) +
                                   x->delta);
        into_self |= d == s;
        a = VMAR_MIN(a, i);
        for (; i < run; i++) {
            const uint64_t w = pt_read(&s[i]);

            if (w == 0)
                continue;
            pt_set(&s[i], 0);
            /* The frame's contents are the source's: nothing new to
             * publish, but the word is present, so release as map. */
            pt_publish(&d[i + k], w);
            b = i;
        }
    }
    if (a == ls.end)
        return;
    vmar_tlb_batch_add_range(x->u.batch,
                             ls.base + ((vmar_addr_t)a << f->page_shift),
                             (vmar_size_t)(b - a + 1) << f->page_shift);
    if (into_self)
        return; /* holds the target's words: not empty */
    x->u.dirty |= 1u;
    transfer_leave(&x->u.v, slot, s, 0);
}

static bool transfer_entry(struct visitor *v, uint64_t *slot, uint64_t w,
                           unsigned level, vmar_addr_t lo, vmar_addr_t hi)
{
    struct transfer_visit *x = (struct transfer_visit *)v;
    struct vmar__radix *rx = x->u.rx;
    const struct vmar__pt_format *f = rx->fmt;
    const vmar_size_t span = vmar__radix_span(f, level);
    struct vmar_pte pte;
    uint64_t *d = NULL;

    x->last = lo;
    if (!fmt_present(f, w))
        return false;
    if (level > 0 && !fmt_is_leaf(f, w, level)) {
        transfer_table(x, slot, w, lo, hi); /* a leaf table (floor 1) */
        return false;
    }
    /* A leaf (huge, or in a one-level table), whole by the precondition:
     * its pages go to the target as base pages, as move installs them. */
    VMAR_ASSERT(rx->env, covers_whole_leaf(lo, hi, lo & ~(span - 1), span));
    f->leaf_decode(w, level, &pte);
    pt_set(slot, 0);
    for (vmar_addr_t p = lo; p < hi; p += VMAR_PAGE_SIZE) {
        const vmar_addr_t t = p + x->delta;

        if (d == NULL || slot_index(f, t, 0) == 0)
            d = transfer_target(x, t);
        VMAR_ASSERT(rx->env, !fmt_present(f, pt_read(&d[slot_index(f, t, 0)])));
        pt_publish(&d[slot_index(f, t, 0)], f->leaf_encode(&pte, 0));
        pte.pa += VMAR_PAGE_SIZE;
    }
    x->added += (size_t)(span >> f->page_shift) - 1;
    vmar_tlb_batch_add_range(x->u.batch, lo, span);
    x->u.dirty |= 1u << level;
    return false;
}

/* Check the tables the pass left for later (transfer_leave), bottom-up on
 * the edge page's path: unhook each that is empty, which may empty its
 * parent in turn. */
static void transfer_settle(struct transfer_visit *x, vmar_addr_t edge)
{
    struct vmar__radix *rx = x->u.rx;
    const struct vmar__pt_format *f = rx->fmt;
    const unsigned top = top_level(f);
    uint64_t *table[VMAR_PT_MAX_LEVELS], *parent[VMAR_PT_MAX_LEVELS];
    unsigned level = top;

    if (x->deferred == 0)
        return;
    table[top] = table_at(rx, rx->root);
    while (level > 0) {
        uint64_t *slot = &table[level][slot_index(f, edge, level)];
        const uint64_t w = pt_read(slot);

        if (!is_table(f, w, level))
            break;
        parent[level - 1] = slot;
        table[level - 1] = table_at(rx, fmt_table_pa(f, w, level));
        level--;
    }
    /* A deferred table is linked still, and so is its path. */
    VMAR_ASSERT(rx->env, (x->deferred & ((1u << level) - 1)) == 0);
    for (unsigned l = level; l < top; l++) {
        const uint32_t up = 1u << (l + 1);

        if ((x->deferred & (1u << l)) == 0)
            continue;
        x->u.dirty = 1u << l;
        unmap_leave(&x->u.v, parent[l], table[l], l);
        if (x->u.dirty & up)
            x->deferred |= up; /* unhooked: the parent lost an entry */
    }
}

void vmar__radix_transfer(struct vmar__radix *rx, vmar_addr_t va,
                          vmar_size_t len, vmar_addr_t to,
                          struct vmar_frame_list *resv,
                          struct vmar_tlb_batch *batch)
{
    struct transfer_visit x = {
        .u = {.v = {.entry = transfer_entry,
                    .leave = transfer_leave,
                    .floor = 1},
              .rx = rx,
              .batch = batch},
        .resv = resv,
        .delta = to - va,
        .to = to,
        .to_end = to + len,
    };

    check_range(rx, va, len);
    check_range(rx, to, len);
    /* Disjoint: range() must never meet a word the pass wrote. */
    VMAR_ASSERT(rx->env, len > 0 && (va + len <= to || to + len <= va));
    range(rx, va, va + len, &x.u.v);
    transfer_settle(&x, to > va ? va + len - VMAR_PAGE_SIZE : va);
    count_add(&rx->leaves, x.added);
}

/* ---- guard markers ------------------------------------------------------- */

/* Install markers on [va, va+len): one descent per leaf table, then its
 * slots. A present leaf goes as unmap_table() removes one (its range on
 * the batch before its frame), and the marker takes its slot. */
static size_t guard_install(struct vmar__radix *rx, vmar_addr_t va,
                            vmar_addr_t end, struct vmar_frame_list *resv,
                            struct vmar_tlb_batch *batch)
{
    const struct vmar__pt_format *f = rx->fmt;
    const vmar_size_t span1 = vmar__radix_span(f, 1);
    struct unmap_visit u = {.rx = rx, .batch = batch};
    struct leaf_memo m;
    size_t added = 0;

    memo_init(&m, rx);
    while (va < end) {
        const vmar_addr_t stop = VMAR_MIN((va & ~(span1 - 1)) + span1, end);
        const struct walk_ret r = walk(rx, va, 0, resv);
        const size_t first = slot_index(f, va, 0);
        const size_t n = first + (size_t)((stop - va) >> f->page_shift);
        uint64_t *t = r.slot - first;

        /* A huge leaf covers va: only device mappings hold one, and the
         * core refuses markers there. */
        VMAR_ASSERT(rx->env, r.level == 0);
        for (size_t i = first; i < n; i++) {
            const uint64_t w = pt_read(&t[i]);

            if (is_guard(f, w))
                continue;
            if (fmt_present(f, w)) {
                memo_load(&m, rx, w);
                unmap_leaf(&u, memo_pa(&m, w), m.pte.flags, 0,
                           (va & ~(span1 - 1)) +
                               ((vmar_addr_t)i << f->page_shift));
            }
            /* Not present: publishes nothing. */
            pt_set(&t[i], f->guard_word);
            added++;
        }
        va = stop;
    }
    count_add(&rx->leaves, (size_t)0 - u.pages);
    return added;
}

/* VMAR_GUARD_REMOVE: the markers of one leaf table (floor 1), then the
 * table goes as unmap_leave() lets an emptied one go. */
static bool unguard_entry(struct visitor *v, uint64_t *slot, uint64_t w,
                          unsigned level, vmar_addr_t lo, vmar_addr_t hi)
{
    struct unmap_visit *u = (struct unmap_visit *)v;
    const struct vmar__pt_format *f = u->rx->fmt;
    struct leaf_slots ls;

    if (level == 0 || !fmt_present(f, w) || fmt_is_leaf(f, w, level))
        return false; /* markers lie in leaf tables only */
    ls = leaf_slots(u->rx, w, lo, hi);
    for (size_t i = ls.first; i < ls.end; i++) {
        if (!is_guard(f, pt_read(&ls.t[i])))
            continue;
        pt_set(&ls.t[i], 0);
        u->pages++;
        u->dirty |= 1u;
    }
    unmap_leave(v, slot, ls.t, 0);
    return false;
}

size_t vmar__radix_guard(struct vmar__radix *rx, vmar_addr_t va,
                         vmar_size_t len, enum vmar_mmu_guard_op op,
                         struct vmar_frame_list *resv,
                         struct vmar_tlb_batch *batch)
{
    struct unmap_visit u = {
        .v = {.entry = unguard_entry, .leave = unmap_leave, .floor = 1},
        .rx = rx,
        .batch = batch,
    };

    check_range(rx, va, len);
    VMAR_ASSERT(rx->env, rx->fmt->guard_word != 0 &&
                             !fmt_present(rx->fmt, rx->fmt->guard_word));
    if (op == VMAR_GUARD_INSTALL)
        return guard_install(rx, va, va + len, resv, batch);
    VMAR_ASSERT(rx->env, op == VMAR_GUARD_REMOVE);
    range(rx, va, va + len, &u.v);
    return u.pages;
}

struct find_guard_visit {
    struct visitor v;
    const struct vmar__radix *rx;
    vmar_addr_t va;
    bool found;
};

static bool find_guard_entry(struct visitor *v, uint64_t *slot, uint64_t w,
                             unsigned level, vmar_addr_t lo, vmar_addr_t hi)
{
    struct find_guard_visit *fv = (struct find_guard_visit *)v;
    const struct vmar__pt_format *f = fv->rx->fmt;
    struct leaf_slots ls;

    (void)slot;
    if (level == 0 || !fmt_present(f, w) || fmt_is_leaf(f, w, level))
        return false;
    ls = leaf_slots(fv->rx, w, lo, hi);
    for (size_t i = ls.first; i < ls.end; i++) {
        if (is_guard(f, pt_read(&ls.t[i]))) {
            fv->va = ls.base + ((vmar_addr_t)i << f->page_shift);
            fv->found = true;
            return true;
        }
    }
    return false;
}

int vmar__radix_find_guard(const struct vmar__radix *rx, vmar_addr_t *va,
                           vmar_addr_t end)
{
    struct find_guard_visit fv = {
        .v = {.entry = find_guard_entry, .leave = NULL, .floor = 1},
        .rx = rx,
    };

    VMAR_ASSERT(rx->env, *va % VMAR_PAGE_SIZE == 0);
    end = VMAR_MIN(end, rx->user_end);
    if (*va >= end || rx->fmt->guard_word == 0)
        return VMAR_ENOENT;
    range(rx, *va, end, &fv.v);
    if (!fv.found)
        return VMAR_ENOENT;
    *va = fv.va;
    return 0;
}
