/* SPDX-License-Identifier: MIT */
/*
 * The page-fault handler.
 *
 * Order of decisions, each cheaper than the next:
 *   1. which mapping (O(log n) tree lookup, no allocation);
 *   2. may the mapping be accessed this way (else a signal);
 *   3. is the leaf already good enough (a spurious fault: another CPU or
 *      an earlier retry fixed it; a stale TLB entry was already flushed);
 *   4. present but narrower than the mapping: a write to a copy-on-write
 *      page copies it, or reuses it in place when the frame's reference
 *      count shows this leaf is its only user; anything else widens the
 *      leaf to what the mapping allows;
 *   5. absent: demand-zero (anonymous memory, private pages past the end of
 *      an object), the object's page (shared, or private on a read), or a
 *      private copy of it (private, on a write); then fault-around.
 *
 * Concurrency. Faults run under the shared space lock or inside the fault
 * gate (lock.c), so the mapping is stable for a round but the page table
 * is not: several faults may race on it. Every look at and change of the
 * table happens under the page-table lock of the leaf block (a spinlock
 * stripe). What may sleep (allocating a data frame, the object's get_page
 * and notify_write) happens outside it, and outside the gate: the fault
 * drops them, obtains the resource, and starts over; if another fault
 * installed the page meanwhile, the resource goes back (the loser's frame
 * is freed) and the fault is spurious; if a layout change ran meanwhile
 * (gated faults only), the mapping is looked up again. Page-table pages
 * are allocated with the stripe held (rare: a missing table), so
 * env->frame_alloc must not sleep then.
 *
 * Whatever can fail is obtained before the first change, so a failed
 * fault leaves the space as it was.
 */
#include "fault.h"

#include "frame.h"
#include "mapping.h"
#include "objcall.h"

/* Pages fault-around considers, as one aligned window (64 KiB, Linux's
 * fault_around_bytes). A window never crosses a last-level table. */
#define FAULT_AROUND_PAGES 16u

/* What a fault obtained outside the page-table lock. */
struct fault_res {
    struct vmar_frame_list tables; /* page-table pages, reserved first */
    bool prepared;                 /* ... for this fault's page */
    vmar_paddr_t frame;            /* a fresh frame, not yet visible; 0: none */
    bool zeroed;                   /* ... allocated zero-filled */
    vmar_paddr_t page; /* an object page with our reference; 0: none */
    bool notified;     /* notify_write done for this fault's page */
    /* Tables map() of the page lacked at the last look (probe), or
     * VMAR__MISSING_UNKNOWN; and whether the last round found the page
     * absent (this round then installs only into an empty slot, and
     * does not look first). */
    size_t missing;
    bool absent;
    /* The object call to make (set by the round that asks for a page or a
     * notification) and what `page` and `notified` belong to: the object,
     * the page's index and the get_page flags. A gated fault (which may
     * outlive the mapping between rounds) holds a reference to `obj`. */
    struct vmar_object *obj;
    uint64_t index;
    unsigned get_flags;
    bool obj_ref;
};

/* What the locked part decided. */
enum fault_step {
    STEP_DONE,        /* finished (rc says how) */
    STEP_NEED_FRAME,  /* obtain a zeroed res.frame, retry */
    STEP_NEED_COPY,   /* obtain res.frame to copy into, retry */
    STEP_NEED_PAGE,   /* obtain res.page, retry */
    STEP_NEED_NOTIFY, /* call notify_write, retry */
    STEP_PRESENT      /* (fault_absent) a leaf appeared: *pte holds it */
};

/* The present leaf at `va`, if any.
 * => caller holds the space lock shared or exclusive, and the page-table
 *    lock. */
static bool leaf_at(const struct vmar_space *space, vmar_addr_t va,
                    struct vmar_pte *pte)
{
    vmar_addr_t at = va;

    return vmar__pmap_find_next(space, &at, va + VMAR_PAGE_SIZE, pte) == 0;
}

/* The vmar_access value of an internal access (VMAR__ACCESS_FORCE off). */
static unsigned access_kind(unsigned access)
{
    return access & ~(unsigned)VMAR__ACCESS_FORCE;
}

static uint64_t page_index(const struct vmar__mapping *m, vmar_addr_t va)
{
    return vmar__mapping_offset_of(m, va) >> VMAR_PAGE_SHIFT;
}

/* => m is an object mapping. */
static bool past_end(const struct vmar__mapping *m, vmar_addr_t va)
{
    return page_index(m, va) >= vmar__obj_size(m->ext.object) >>
           VMAR_PAGE_SHIFT;
}

/* The managed leaf for `pa` with `prot`. */
static void managed_pte(struct vmar_pte *pte, vmar_paddr_t pa, unsigned prot)
{
    pte->pa = pa;
    pte->prot = prot;
    pte->flags = VMAR_PTE_MANAGED;
    pte->cache = VMAR_CACHE_WB;
}

/* Install a managed leaf for `pa` at `va` where the table has none, and
 * count it in RSS: true; false when a leaf is there (another fault put
 * it there since this fault last looked), with it in *pte. `write`: the
 * leaf is made for a write, so it starts dirty (vmar_mapping_stats).
 * => caller holds the space lock shared or exclusive, or the gate, and
 *    the page-table lock. */
static bool install(struct vmar_space *space, vmar_addr_t va, vmar_paddr_t pa,
                    unsigned prot, bool anon, bool write,
                    struct vmar_frame_list *tables, struct vmar_pte *pte)
{
    struct vmar_pte leaf;

    managed_pte(&leaf, pa, prot);
    if (write)
        leaf.flags |= VMAR_PTE_DIRTY;
    if (vmar__pmap_map_empty(space, va, &leaf, tables, pte) != 0)
        return false;
    *pte = leaf;
    vmar__rss_add_at(space, va, anon ? 1u : 0u, anon ? 0u : 1u);
    return true;
}

/* Give back what the fault did not use. Nothing of it was ever visible.
 * => caller holds the space lock, not the page-table lock. */
static void res_release(struct vmar_space *space, struct fault_res *res)
{
    if (res->frame)
        space->env->frame_free(space->env->ctx, res->frame);
    if (res->page)
        vmar_frame_put(space->env, res->page);
    vmar_frame_list_release(space->env, &res->tables);
    if (res->obj_ref)
        vmar_object_unref(res->obj);
    res->frame = 0;
    res->page = 0;
    res->obj = NULL;
    res->obj_ref = false;
}

/* Fill the prepared frame (res->frame) with zeros or with a copy of
 * `from`; it stays res's until the caller adopts it (fault_adopt). */
static vmar_paddr_t fill_frame(struct vmar_space *space,
                               const struct fault_res *res, vmar_paddr_t from)
{
    const struct vmar_env *env = space->env;
    vmar_paddr_t pa = res->frame;
    void *dst = env->phys_to_virt(env->ctx, pa);

    if (from)
        VMAR_MEMCPY(dst, env->phys_to_virt(env->ctx, from), VMAR_PAGE_SIZE);
    else if (!res->zeroed)
        VMAR_MEMSET(dst, 0, VMAR_PAGE_SIZE);
    return pa;
}

/* The filled frame is now a leaf's: private anonymous memory with one
 * reference. Under the page-table lock, so no one reads its count before
 * (a pin, a copy-on-write check and vmar_check all take the lock). */
static void fault_adopt(struct vmar_space *space, struct fault_res *res)
{
    vmar__frame_adopt(space->env, res->frame, true);
    res->frame = 0;
}

/* The fault-around window of `va`: the aligned FAULT_AROUND_PAGES window
 * clipped to the mapping, so that neither its table reservation nor its
 * pages ever leave the mapping (nor, at the top, the user range). */
static void around_window(const struct vmar__mapping *m, vmar_addr_t va,
                          vmar_addr_t *lo, vmar_addr_t *hi)
{
    const vmar_size_t span = (vmar_size_t)FAULT_AROUND_PAGES * VMAR_PAGE_SIZE;
    const vmar_addr_t base = va & ~(span - 1);

    *lo = VMAR_MAX(base, m->node.start);
    *hi = base + span - 1 < m->node.end - 1 ? base + span : m->node.end;
}

/*
 * Map up to FAULT_AROUND_PAGES - 1 object pages around `va` that the
 * object already holds, where no leaf is. The window is aligned, inside
 * the mapping and before the object's end; its page-table pages were
 * reserved with the faulting page's (same last-level table), so this
 * cannot fail. Private mappings get them read-only, as a read fault would.
 * => caller holds the space lock shared or exclusive, and the page-table
 *    lock.
 */
static void fault_around(struct vmar_space *space,
                         const struct vmar__mapping *m, vmar_addr_t va,
                         struct vmar_frame_list *tables)
{
    vmar_addr_t lo, hi;
    struct vmar_pte pte;
    size_t missing;

    around_window(m, va, &lo, &hi);

    for (vmar_addr_t at = lo; at < hi; at += VMAR_PAGE_SIZE) {
        vmar_paddr_t pa = 0;
        int rc;
        /* A leaf or a guard marker there: nothing to map. */
        if (at == va || past_end(m, at) ||
            vmar__pmap_probe(space, at, &pte, &missing) == 0)
            continue;
        /* A page the object refuses, or should not have offered, is
         * simply not mapped ahead: its own fault reports it. */
        rc = vmar__obj_get_page(space->env, vmar__pmap_pa_top(space),
                                m->ext.object, page_index(m, at),
                                VMAR_OBJECT_GET_PRESENT, &pa);
        if (rc != 0)
            continue;
        managed_pte(&pte, pa, vmar__mapping_leaf_prot(m, false, false));
        vmar__pmap_map(space, at, &pte, tables);
        vmar__rss_add_at(space, at, 0, 1);
    }
}

/* An absent page: map what `res` holds, or say what is missing.
 * => caller holds the space lock shared or exclusive, and the page-table
 *    lock. */
static enum fault_step fault_absent(struct vmar_space *space,
                                    const struct vmar__mapping *m,
                                    vmar_addr_t va, unsigned access,
                                    struct fault_res *res, struct vmar_pte *pte,
                                    int *rc)
{
    const bool write = access_kind(access) == VMAR_ACCESS_WRITE;
    const bool shared = vmar__mapping_shared(m);
    struct vmar_object *obj = vmar__mapping_object(m);
    const bool around = obj && m->flags & VMAR_MAP_FAULT_AROUND && !write;
    struct vmar_frame_list *tables = &res->tables;
    vmar_paddr_t pa;
    bool anon;

    /* Device pages are present from map to unmap; a missing one has
     * nothing to page in. */
    *rc = 0;
    if (m->backing == VMAR_BACKING_DEVICE) {
        *rc = VMAR_EFAULT;
        return STEP_DONE;
    }
    const bool eof = obj && past_end(m, va);
    if (eof && (shared || m->flags & VMAR_MAP_EOF_FAULT)) {
        *rc = VMAR_ENXIO; /* beyond the end: SIGBUS */
        return STEP_DONE;
    }
    /* Tables first: a fault that fails for want of a table must not have
     * made the object read a page. Once is enough while no layout change
     * runs (under the shared space lock, or rounds of a gated fault with
     * one gate sequence): tables only appear between two rounds (nothing
     * else frees one: a copy-on-write break rewrites its leaf in place),
     * so what was missing then is all that can be missing. A layout
     * change in between clears `prepared` (res_revalidate). */
    if (!res->prepared && res->missing != 0) {
        /* The probe's count serves the fault-around window too: it lies
         * in the page's last-level table. */
        vmar_addr_t lo = va, hi = va + VMAR_PAGE_SIZE;
        if (around)
            around_window(m, va, &lo, &hi);
        *rc = vmar__pmap_prepare(space, lo, hi - lo, VMAR_PREP_MAP, tables);
        if (*rc)
            return STEP_DONE;
    }
    res->prepared = true;
    if (obj && !eof) {
        if (!res->page)
            return STEP_NEED_PAGE;
        if (shared && write && vmar__obj_notifies(obj) && !res->notified)
            return STEP_NEED_NOTIFY;
    }
    /* Private memory written, or anonymous/zero-fill: a frame of our own. */
    const bool own = !obj || eof || (!shared && write);
    if (own && !res->frame)
        return !obj || eof ? STEP_NEED_FRAME : STEP_NEED_COPY;
    const vmar_paddr_t from = own && obj && !eof ? res->page : 0;
    if (own) {
        /* Demand-zero, or a copy of the object's page (whose reference
         * goes back in res_release: it was never mapped here). */
        pa = fill_frame(space, res, from);
        anon = true;
    } else {
        pa = res->page;
        anon = false;
    }
    if (!install(space, va, pa, vmar__mapping_leaf_prot(m, anon, write), anon,
                 write, tables, pte)) {
        /* Another fault was first: what this one holds stays in `res`
         * (a filled frame is zero only if nothing was copied into it). */
        if (own)
            res->zeroed = from == 0;
        return STEP_PRESENT;
    }
    if (own)
        fault_adopt(space, res);
    else
        res->page = 0;
    if (around)
        fault_around(space, m, va, tables);
    return STEP_DONE;
}

/* Rewrite the permissions of the present leaf at `va`.
 * => caller holds the space lock shared or exclusive, and the page-table
 *    lock. */
static void set_leaf_prot(struct vmar_space *space, vmar_addr_t va,
                          unsigned prot, struct vmar_pte *pte)
{
    struct vmar__tlb batch;

    vmar__tlb_init(&batch, space);
    vmar__pmap_protect(space, va, VMAR_PAGE_SIZE, prot, NULL, &batch);
    vmar__tlb_finish(&batch);
    pte->prot = prot;
}

/* Give the present leaf at `va` the fresh private copy in res->frame.
 * The leaf table is there, so nothing here can fail: replace() rewrites
 * the one leaf in place, flushes, and only then drops the old frame's
 * reference (which the copy read first). `old_anon`: the old frame is
 * private anonymous memory (vmar__frame_cow).
 * => caller holds the space lock shared or exclusive, and the page-table
 *    lock. */
static void cow_copy(struct vmar_space *space, const struct vmar__mapping *m,
                     vmar_addr_t va, struct fault_res *res,
                     struct vmar_pte *pte, bool old_anon)
{
    vmar_paddr_t pa = fill_frame(space, res, pte->pa);

    fault_adopt(space, res);
    managed_pte(pte, pa, m->prot);
    vmar__pmap_replace(space, va, pte);
    /* One anonymous page in, the old frame out (as an unmap counts it):
     * no change when that was anonymous too. */
    if (!old_anon)
        vmar__rss_add_at(space, va, 1, (size_t)0 - 1);
}

/* A write to a present, read-only leaf of a private mapping: reuse the
 * frame when ours alone, else copy.
 * => caller holds the space lock shared or exclusive, and the page-table
 *    lock. */
static enum fault_step cow_break(struct vmar_space *space,
                                 const struct vmar__mapping *m, vmar_addr_t va,
                                 struct fault_res *res, struct vmar_pte *pte,
                                 int *rc)
{
    /* Our reference is the only one, and none can appear: the frame is
     * private to this leaf (fork needs the exclusive lock). A copy pin,
     * even our own copy's, also forces the copy: it may be another
     * space's copy still reading what was its page (frame.c); unless a
     * DMA pin holds the frame, which makes it ours (pin_unshares). */
    const enum vmar__cow cow = vmar__frame_cow(space->env, pte->pa);

    *rc = 0;
    if (cow == VMAR__COW_REUSE) {
        set_leaf_prot(space, va, m->prot, pte);
        return STEP_DONE;
    }
    if (!res->frame)
        return STEP_NEED_COPY;
    cow_copy(space, m, va, res, pte, cow == VMAR__COW_COPY_ANON);
    return STEP_DONE;
}

/* The round's look at the page: true with its leaf in *pte when one is
 * present; false when none is, or when the last round found none (then
 * the round installs into an empty slot without looking first).
 * => caller holds the page-table lock, and the space lock or the gate. */
static bool fault_look(const struct vmar_space *space, vmar_addr_t va,
                       struct fault_res *res, struct vmar_pte *pte)
{
    return !res->absent && vmar__pmap_probe(space, va, pte, &res->missing) == 0;
}

/* serves() of a forced access whose leaf lacks the permission. */
static bool serves_forced(const struct vmar_space *space,
                          const struct vmar_pte *pte, unsigned need)
{
    if (need != VMAR_PROT_WRITE)
        return true;
    return pte->flags & VMAR_PTE_MANAGED &&
           vmar__frame_is_anon(space->env, pte->pa) &&
           vmar__frame_refs(space->env, pte->pa) == 1;
}

/* Whether the present leaf `pte` already serves `access`: the fault is
 * spurious (another CPU or an earlier round fixed it, or the TLB entry
 * was stale), and needs no mapping: a leaf never allows more than its
 * mapping does. Once the mapping allowed a forced access (`allowed`:
 * mapping_allows()), a forced read takes any leaf, and a forced write
 * any leaf whose frame is this leaf's own private anonymous memory (a
 * pin is no reference: two forced writers share the copy), which it
 * writes without making the leaf writable, as Linux's FOLL_FORCE does.
 * Inline: a spurious fault decides here; the forced case is rare.
 * => caller holds the page-table lock of `pte`'s leaf. */
static inline bool serves(const struct vmar_space *space,
                          const struct vmar_pte *pte, unsigned access,
                          bool allowed)
{
    const unsigned need = vmar_access_prot(access_kind(access));

    if (__builtin_expect((pte->prot & need) != 0, 1))
        return true;
    if (!(access & VMAR__ACCESS_FORCE) || !allowed)
        return false;
    return serves_forced(space, pte, need);
}

/* One pass of a fault, after fault_look() (`present` and *pte its
 * answer) found no leaf that serves the access.
 * => caller holds the space lock shared or exclusive, or the gate, and
 *    the page-table lock. */
static enum fault_step fault_step(struct vmar_space *space,
                                  const struct vmar__mapping *m, vmar_addr_t va,
                                  unsigned access, bool present,
                                  struct fault_res *res, struct vmar_pte *pte,
                                  int *rc)
{
    const unsigned need = vmar_access_prot(access_kind(access));

    *rc = 0;
    if (!present) {
        enum fault_step step = fault_absent(space, m, va, access, res, pte, rc);
        res->absent = step != STEP_DONE && step != STEP_PRESENT;
        if (step != STEP_PRESENT)
            return step;
    }
    /* A guard marker: Linux's VM_FAULT_SIGSEGV (vmar/fault.h). */
    if (pte->flags & VMAR_PTE_GUARD) {
        *rc = VMAR_EFAULT;
        return STEP_DONE;
    }
    if (serves(space, pte, access, true))
        return STEP_DONE; /* a leaf appeared meanwhile */
    if (need == VMAR_PROT_WRITE && vmar__mapping_cow(m))
        return cow_break(space, m, va, res, pte, rc);
    if (need == VMAR_PROT_WRITE) {
        /* A shared page mapped read-only so that its first write tells
         * the object (notify_write). */
        const struct vmar_object *obj = vmar__mapping_object(m);
        if (obj && vmar__obj_notifies(obj) && !res->notified)
            return STEP_NEED_NOTIFY;
        set_leaf_prot(space, va, m->prot, pte);
        return STEP_DONE;
    }
    /* Read or execute on a narrower leaf (after a protect that widened
     * the mapping): widen it, but never to writable where a write must
     * still fault. */
    set_leaf_prot(space, va,
                  (m->prot & ~(unsigned)VMAR_PROT_WRITE) |
                      (pte->prot & VMAR_PROT_WRITE),
                  pte);
    return STEP_DONE;
}

/* The get_page flags a fault of `access` in `m` asks with: a write to a
 * shared mapping writes the object's page itself. */
static unsigned get_flags_of(const struct vmar__mapping *m, unsigned access)
{
    return vmar__mapping_shared(m) && access_kind(access) == VMAR_ACCESS_WRITE
               ? VMAR_OBJECT_GET_WRITE
               : 0u;
}

/* Record in `res` the object call the step asks for (the mapping is
 * stable now, perhaps not when the call is made). A gated fault takes a
 * reference to the object, so that it outlives the mapping and its
 * address names no other object until the fault ends.
 * => caller holds the space lock or is inside the gate. */
static void fault_want(const struct vmar__mapping *m, vmar_addr_t va,
                       unsigned access, enum fault_step step, bool gated,
                       struct fault_res *res)
{
    if (step != STEP_NEED_PAGE && step != STEP_NEED_NOTIFY)
        return;
    struct vmar_object *obj = vmar__mapping_object(m);

    if (res->obj != obj) {
        if (res->obj_ref)
            vmar_object_unref(res->obj);
        res->obj = obj;
        res->obj_ref = gated;
        if (gated)
            vmar_object_ref(res->obj);
    }
    res->index = page_index(m, va);
    res->get_flags = get_flags_of(m, access);
}

/* Obtain what the locked pass asked for; may sleep. Reads no mapping:
 * the object call is the one fault_want() recorded.
 * => caller holds neither the page-table lock nor the gate (the space
 *    lock it may hold, shared or exclusive). */
static int fault_obtain(struct vmar_space *space, enum fault_step step,
                        struct fault_res *res)
{
    int rc;

    switch (step) {
    case STEP_NEED_FRAME:
    case STEP_NEED_COPY: {
        /* Zeroed unless it will receive a copy: the env zeroes (it may
         * keep pre-zeroed pages), and fill_frame() then writes nothing.
         * One frame straight from the env, no list to link it on. */
        const bool zero = step == STEP_NEED_FRAME;
        vmar_paddr_t pa;
        if (space->env->frame_alloc(space->env->ctx,
                                    zero ? VMAR_FRAME_ZERO : 0u, &pa) != 0)
            return VMAR_ENOMEM;
        vmar__check_new_frame(space, pa);
        res->frame = pa;
        res->zeroed = zero;
        return 0;
    }
    case STEP_NEED_PAGE:
        return vmar__obj_get_page(space->env, vmar__pmap_pa_top(space),
                                  res->obj, res->index, res->get_flags,
                                  &res->page);
    case STEP_NEED_NOTIFY:
        rc = vmar__obj_notify_write(res->obj, res->index);
        res->notified = rc == 0;
        return rc;
    case STEP_DONE:
    default:
        return 0;
    }
}

/* Internal answer of a fault: no mapping contains the address, but a
 * VMAR_MAP_GROWSDOWN mapping above it would grow down to it: a layout
 * change, which vmar_fault() makes under the exclusive lock. */
#define FAULT_GROW       2
#define FAULT_GROW_TRIES 4u

/* Whether `m` allows `access`. A forced one (Linux's check_vma_flags()
 * with FOLL_FORCE) needs the permission in the maximum only, and a
 * forced write without WRITE a copy-on-write mapping: Linux refuses one
 * into shared memory that is not writable now, VM_MAYWRITE or not. */
static bool mapping_allows(const struct vmar__mapping *m, unsigned access)
{
    const unsigned need = vmar_access_prot(access_kind(access));

    if (m->prot & need)
        return true;
    if (!(access & VMAR__ACCESS_FORCE) || !(m->max_prot & need))
        return false;
    return need != VMAR_PROT_WRITE || vmar__mapping_cow(m);
}

/* The mapping that serves `access` at `addr`: 0 with *out set, or
 * VMAR_ENOENT / VMAR_EACCES / FAULT_GROW.
 * => caller holds the space lock or is inside the gate and the index. */
static int fault_lookup(struct vmar_space *space, vmar_addr_t addr,
                        unsigned access, struct vmar__mapping **out)
{
    struct vmar__iset_node *n = vmar__iset_find(&space->set, addr);

    if (!n)
        return vmar__stack_below(space, addr) ? FAULT_GROW : VMAR_ENOENT;
    *out = vmar__mapping_of(n);
    return mapping_allows(*out, access) ? 0 : VMAR_EACCES;
}

/* What `res` learnt of the page table (tables prepared, the page found
 * absent) no longer holds: a layout change may have run since. */
static void res_forget_table(struct fault_res *res)
{
    res->prepared = false;
    res->absent = false;
}

/* Keep of `res` what still serves the fault at `va` in `m`, found again
 * after the layout may have changed: the fresh frame always (anonymous
 * and never visible); the object page and the notification only for the
 * same object, index and get_page flags; the table reservation is
 * counted again (what it holds stays, spare pages go back at the end).
 * => caller holds the space lock or is inside the gate. */
static void res_revalidate(struct vmar_space *space,
                           const struct vmar__mapping *m, vmar_addr_t va,
                           unsigned access, struct fault_res *res)
{
    const unsigned get_flags = get_flags_of(m, access);

    if (!res->page && !res->notified)
        return;
    if (vmar__mapping_object(m) == res->obj &&
        page_index(m, va) == res->index && get_flags == res->get_flags)
        return;
    if (res->page)
        vmar_frame_put(space->env, res->page);
    res->page = 0;
    res->notified = false;
}

/* Rounds of a fault until it is done or fails. Unless the caller found
 * the mapping already (`m`, serving `access` at `addr`; else NULL), it is
 * looked up once, when the first look at the page finds no leaf that
 * serves the access (a spurious fault reads no mapping), and what `res`
 * holds from earlier rounds is checked against it.
 * => caller holds the space lock, shared or exclusive, and not the
 *    page-table lock. */
static int fault_rounds(struct vmar_space *space, vmar_addr_t addr,
                        unsigned access, struct vmar__mapping *m,
                        struct fault_res *res, struct vmar_pte *pte)
{
    const vmar_addr_t va = addr & ~(VMAR_PAGE_SIZE - 1);
    enum fault_step step;
    int rc;

    if (addr < space->user_lo || addr >= space->user_hi)
        return VMAR_ENOENT; /* no mapping there, and no table to look at */
    res_forget_table(res);
    /* Each round either finishes or obtains one more resource, so it ends
     * after at most three rounds unless other faults keep changing the
     * page under us, which only makes the next round spurious. */
    do {
        vmar__pt_lock(space, va);
        const bool present = fault_look(space, va, res, pte);
        if (present && serves(space, pte, access, m != NULL)) {
            vmar__pt_unlock(space, va);
            return 0;
        }
        if (!m) {
            rc = fault_lookup(space, addr, access, &m);
            if (rc) {
                vmar__pt_unlock(space, va);
                return rc;
            }
            res_revalidate(space, m, va, access, res);
        }
        step = fault_step(space, m, va, access, present, res, pte, &rc);
        vmar__pt_unlock(space, va);
        if (step != STEP_DONE) {
            fault_want(m, va, access, step, false, res);
            rc = fault_obtain(space, step, res);
        }
    } while (step != STEP_DONE && rc == 0);
    return rc;
}

/* Inside the gate of `va`, with its page-table lock: the mapping that
 * serves `access` at `addr` into *m, from the stripe's cache or else
 * from the index (which then goes into the cache). 0; VMAR_ENOENT /
 * VMAR_EACCES / FAULT_GROW; or INDEX_BUSY when a layout change holds the
 * index. */
#define INDEX_BUSY 1
static int fault_resolve(struct vmar_space *space, vmar_addr_t addr,
                         unsigned access, struct vmar__mapping **m)
{
    struct vmar__mapping *c = vmar__gate_cached(space, addr);
    int rc;

    if (c && c->node.start <= addr && addr < c->node.end) {
        *m = c;
        return mapping_allows(c, access) ? 0 : VMAR_EACCES;
    }
    if (!vmar__gate_index_enter(space))
        return INDEX_BUSY;
    rc = fault_lookup(space, addr, access, m);
    if (rc == 0 || rc == VMAR_EACCES)
        vmar__gate_remember(space, addr, *m);
    vmar__gate_index_exit(space);
    return rc;
}

/*
 * A fault under the gate (lock.c) instead of the space lock. Each round
 * runs inside the gate of the stripe of va's leaf block: no layout change
 * runs there then, so the mapping found is stable for the round. The
 * mapping comes from the stripe's cache, or from the index (entered for
 * the lookup only). Between rounds the fault leaves the gate to obtain
 * what may sleep; when a layout change closed the stripe meanwhile (its
 * sequence moved), the next round finds the mapping again and
 * res_revalidate() keeps only what still fits. When a layout change
 * holds the stripe or the index for long, the fault waits for it on the
 * space lock, shared, and finishes there as vmar__fault_locked() does.
 * => caller holds nothing; vmar__gated(space).
 */
static int fault_gated(struct vmar_space *space, vmar_addr_t addr,
                       unsigned access, struct vmar_pte *pte)
{
    const vmar_addr_t va = addr & ~(VMAR_PAGE_SIZE - 1);
    struct fault_res res = {.missing = VMAR__MISSING_UNKNOWN};
    struct vmar__mapping *m = NULL;
    size_t seq, seen = 1; /* odd: no mapping found yet */
    unsigned tries = 0;
    enum fault_step step;
    int rc;

    for (;;) {
        if (!vmar__gate_enter(space, va, &seq)) {
            /* Most layout changes are short: wait a little for the gate
             * to open, a few times, before sleeping on the space lock
             * (where a writer-preferring lock and a busy layout thread
             * could hold the fault off for long). */
            if (tries++ < VMAR__GATE_TRIES && vmar__gate_wait(space, va))
                continue;
            break;
        }
        vmar__pt_lock(space, va);
        if (seq != seen)
            res_forget_table(&res);
        const bool present = fault_look(space, va, &res, pte);
        bool stepped = false;
        step = STEP_DONE;
        if (present && serves(space, pte, access, false)) {
            rc = 0;
        } else if (seq == seen ||
                   (rc = fault_resolve(space, addr, access, &m)) == 0) {
            if (seq != seen)
                res_revalidate(space, m, va, access, &res);
            seen = seq;
            step = fault_step(space, m, va, access, present, &res, pte, &rc);
            stepped = true;
        }
        vmar__pt_unlock(space, va);
        if (stepped)
            fault_want(m, va, access, step, true, &res);
        vmar__gate_exit(space, va);
        if (rc == INDEX_BUSY) {
            if (tries++ < VMAR__GATE_TRIES && vmar__gate_index_wait(space))
                continue;
            break;
        }
        if (step == STEP_DONE) {
            res_release(space, &res);
            return rc;
        }
        rc = fault_obtain(space, step, &res);
        if (rc) {
            res_release(space, &res);
            return rc;
        }
    }
    vmar__lock(space, VMAR_LOCK_SHARED);
    rc = fault_rounds(space, addr, access, NULL, &res, pte);
    vmar__unlock(space, VMAR_LOCK_SHARED);
    res_release(space, &res);
    return rc;
}

int vmar__fault_locked(struct vmar_space *space, vmar_addr_t addr,
                       unsigned access, struct vmar_pte *pte)
{
    struct fault_res res = {.missing = VMAR__MISSING_UNKNOWN};
    int rc = fault_rounds(space, addr, access, NULL, &res, pte);

    res_release(space, &res);
    return rc;
}

int vmar__fault_pin(struct vmar_space *space, vmar_addr_t addr, unsigned access,
                    struct vmar_pte *pte)
{
    const vmar_addr_t va = addr & ~(VMAR_PAGE_SIZE - 1);

    for (;;) {
        int rc = vmar__fault_locked(space, addr, access, pte);
        /* A user copy does not grow a stack (Linux's GUP no longer
         * does). */
        if (rc == FAULT_GROW)
            return VMAR_ENOENT;
        if (rc)
            return rc;
        /* The page may have changed since the fault let go of the lock;
         * pin what is there now if it still serves the access. */
        vmar__pt_lock(space, va);
        /* The fault found the mapping allows the access, and under the
         * space lock it stays. */
        bool ok = leaf_at(space, va, pte) && serves(space, pte, access, true);
        bool device = ok && !(pte->flags & VMAR_PTE_MANAGED);
        /* Without reference counts nothing replaces a frame under the
         * shared lock (no copy-on-write), so there is nothing to pin. */
        if (ok && !device && space->env->frame_refcount)
            vmar__frame_pin(space->env, pte->pa);
        vmar__pt_unlock(space, va);
        /* Device memory is not RAM behind phys_to_virt (Linux refuses
         * access_process_vm on VM_IO mappings the same way). */
        if (device)
            return VMAR_EFAULT;
        if (ok)
            return 0;
    }
}

/* Whether a read pin must first copy the frame of `pte` in `m`: private
 * anonymous memory behind a read-only leaf that a write fault would copy
 * (vmar__frame_cow): another leaf maps it (after a fork), or a copy pins
 * it that may be another space's, still reading what was its page. Once
 * DMA-pinned, the frame is reused by write faults beside copy pins, so
 * such a copy would read this space's later data. A writable leaf's
 * frame is the space's own already, its copy pins this space's copies
 * (a write fault made it writable with no pin or reused a DMA-pinned
 * one; fork write-protects what it shares), and copying it could lose a
 * vmar_write() in flight.
 * => caller holds the page-table lock of the leaf. */
static bool pin_unshares(const struct vmar_space *space,
                         const struct vmar__mapping *m,
                         const struct vmar_pte *pte)
{
    return vmar__mapping_cow(m) && !(pte->prot & VMAR_PROT_WRITE) &&
           vmar__frame_cow(space->env, pte->pa) == VMAR__COW_COPY_ANON;
}

int vmar__fault_pin_dma(struct vmar_space *space, vmar_addr_t va, bool write,
                        vmar_paddr_t *pa)
{
    const unsigned access = write ? VMAR_ACCESS_WRITE : VMAR_ACCESS_READ;
    const unsigned need = vmar_access_prot(access);
    struct vmar__iset_node *n = vmar__iset_find(&space->set, va);
    struct fault_res res = {.missing = VMAR__MISSING_UNKNOWN};
    struct vmar_pte pte;
    int rc;

    if (!n)
        return VMAR_EFAULT;
    struct vmar__mapping *m = vmar__mapping_of(n);
    if (m->backing == VMAR_BACKING_DEVICE || !(m->prot & need))
        return VMAR_EFAULT; /* Linux's GUP: VM_IO, check_vma_flags() */
    for (;;) {
        rc = fault_rounds(space, va, access, m, &res, &pte);
        if (rc)
            break;
        /* The leaf may have changed since the fault let go of the
         * page-table lock: pin what is there now if it still serves. */
        vmar__pt_lock(space, va);
        const bool ok = leaf_at(space, va, &pte) && pte.prot & need;
        const bool copy = ok && !write && pin_unshares(space, m, &pte);
        const bool pinned = ok && (!copy || res.frame);
        if (pinned) {
            if (copy)
                cow_copy(space, m, va, &res, &pte, true);
            vmar__frame_pin_dma(space->env, pte.pa);
            *pa = pte.pa;
        }
        vmar__pt_unlock(space, va);
        if (pinned)
            break;
        if (copy) {
            rc = fault_obtain(space, STEP_NEED_COPY, &res);
            if (rc)
                break;
        }
    }
    res_release(space, &res);
    return rc;
}

/* Populate the pages of one mapping piece [va, hi), under the space lock
 * held shared: VMAR_EINVAL when the mapping refuses (device memory, or
 * without the access's permission: Linux's check_vma_flags), else the
 * first fault's error. The pages before a failure stay. */
static int populate_piece(struct vmar_space *space, struct vmar__mapping *m,
                          vmar_addr_t va, vmar_addr_t hi, unsigned access)
{
    struct vmar_pte pte;

    if (m->backing == VMAR_BACKING_DEVICE ||
        !(m->prot & vmar_access_prot(access)))
        return VMAR_EINVAL;
    for (; va < hi; va += VMAR_PAGE_SIZE) {
        /* The mapping is known and stays: no lookup per page. */
        struct fault_res res = {.missing = VMAR__MISSING_UNKNOWN};
        int rc = fault_rounds(space, va, access, m, &res, &pte);
        res_release(space, &res);
        if (rc)
            return rc;
    }
    return 0;
}

int vmar__populate(struct vmar_space *space, vmar_addr_t lo, vmar_addr_t hi,
                   unsigned access)
{
    int rc = 0;

    /* One mapping per hold of the lock, so that a layout change waits
     * for at most one mapping's pages; the next mapping is found again
     * (Linux's GUP also looks the VMA up again after dropping
     * mmap_lock). */
    while (lo < hi && rc == 0) {
        vmar__lock(space, VMAR_LOCK_SHARED);
        struct vmar__iset_node *n = vmar__iset_find(&space->set, lo);
        if (!n) {
            rc = VMAR_ENOMEM; /* a hole: Linux's vma_lookup() fails */
        } else {
            struct vmar__mapping *m = vmar__mapping_of(n);
            const vmar_addr_t end = VMAR_MIN(m->node.end, hi);
            rc = populate_piece(space, m, lo, end, access);
            lo = end;
        }
        vmar__unlock(space, VMAR_LOCK_SHARED);
    }
    return rc;
}

/* The access that populates locked `m` (vmar__populate_locked), or 0
 * for PROT_NONE. Shared writable memory is read, not dirtied, unless it
 * can only be written. */
static unsigned locked_access(const struct vmar__mapping *m)
{
    if (m->prot & VMAR_PROT_WRITE &&
        (!vmar__mapping_shared(m) || !(m->prot & VMAR_PROT_READ)))
        return VMAR_ACCESS_WRITE;
    if (m->prot & VMAR_PROT_READ)
        return VMAR_ACCESS_READ;
    return m->prot & VMAR_PROT_EXEC ? VMAR_ACCESS_EXEC : 0u;
}

int vmar__populate_locked(struct vmar_space *space, vmar_addr_t lo,
                          vmar_addr_t hi, bool after_change)
{
    int rc = 0;

    while (lo < hi && (rc == 0 || after_change)) {
        vmar__lock(space, VMAR_LOCK_SHARED);
        struct vmar__iset_node *n = vmar__iset_lower_bound(&space->set, lo);
        if (!n || n->start >= hi) {
            lo = hi;
        } else {
            struct vmar__mapping *m = vmar__mapping_of(n);
            const vmar_addr_t s = VMAR_MAX(m->node.start, lo);
            const vmar_addr_t end = VMAR_MIN(m->node.end, hi);
            const unsigned access = locked_access(m);
            if (m->backing == VMAR_BACKING_DEVICE ||
                m->flags & VMAR_MAP_LOCKONFAULT ||
                (after_change && !vmar__mapping_locked(m)))
                rc = 0;
            else if (!access)
                rc = VMAR_EFAULT;
            else
                rc = populate_piece(space, m, s, end, access);
            lo = end;
        }
        vmar__unlock(space, VMAR_LOCK_SHARED);
    }
    if (after_change)
        return 0;
    return rc == VMAR_ENOMEM ? VMAR_EAGAIN : rc;
}

/* One fault of vmar_fault(): FAULT_GROW when a stack must grow first.
 * => caller holds nothing (gated), or the embedder's space lock in
 *    `mode`. */
static int fault_once(struct vmar_space *space, vmar_addr_t addr,
                      unsigned access, enum vmar_lock_mode mode)
{
    struct vmar_pte pte;
    int rc;

    if (vmar__gated(space))
        return fault_gated(space, addr, access, &pte);
    vmar__lock(space, mode);
    rc = vmar__fault_locked(space, addr, access, &pte);
    vmar__unlock(space, mode);
    return rc;
}

/* A fault that found a grow-down mapping above `addr` (FAULT_GROW): grow
 * it under the exclusive lock and fault again. A mapping that other
 * threads keep unmapping below us may make the fault start over; after a
 * few rounds it is a hole.
 * => caller holds nothing (gated), or the embedder's space lock in
 *    `mode`. */
static int fault_grow(struct vmar_space *space, vmar_addr_t addr,
                      unsigned access, enum vmar_lock_mode mode)
{
    const bool gated = vmar__gated(space);
    int rc = FAULT_GROW;

    /* With the embedder's lock held shared, it must take it exclusively
     * and call again. */
    if (!gated && mode != VMAR_LOCK_EXCLUSIVE)
        return VMAR_EAGAIN;
    for (unsigned round = 0; rc == FAULT_GROW; round++) {
        if (round == FAULT_GROW_TRIES)
            return VMAR_ENOENT;
        if (gated)
            vmar__lock(space, VMAR_LOCK_EXCLUSIVE);
        rc = vmar__stack_grow(space, addr);
        if (gated)
            vmar__unlock(space, VMAR_LOCK_EXCLUSIVE);
        if (rc == 0)
            rc = fault_once(space, addr, access, mode);
    }
    return rc;
}

int vmar_fault(struct vmar_space *h, vmar_addr_t addr, unsigned access,
               unsigned flags)
{
    struct vmar_space *space = vmar__base(h);

    if (!space || flags & ~(unsigned)(VMAR_FAULT_USER | VMAR_FAULT_EXCLUSIVE) ||
        (access != VMAR_ACCESS_READ && access != VMAR_ACCESS_WRITE &&
         access != VMAR_ACCESS_EXEC))
        return VMAR_EINVAL;
    const enum vmar_lock_mode mode =
        flags & VMAR_FAULT_EXCLUSIVE ? VMAR_LOCK_EXCLUSIVE : VMAR_LOCK_SHARED;
    if (mode == VMAR_LOCK_EXCLUSIVE && vmar__gated(space))
        return VMAR_EINVAL;
    /* The access's right: vmar_rights bits equal the vmar_prot bits. */
    int rc = vmar__check_rights(h, vmar_access_prot(access));
    if (rc)
        return rc;
    /* No mapping outside the user range: the walk below never goes there. */
    if (addr < space->user_lo || addr >= space->user_hi)
        return VMAR_ENOENT;
    rc = fault_once(space, addr, access, mode);
    return rc == FAULT_GROW ? fault_grow(space, addr, access, mode) : rc;
}
