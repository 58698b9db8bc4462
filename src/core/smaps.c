/* SPDX-License-Identifier: MIT */
/*
 * Per-mapping statistics (vmar_iterate_stats), their /proc/pid/smaps
 * text (vmar_smaps) and the memory lines of /proc/pid/status
 * (vmar_status). Nothing is kept per mapping: each mapping's leaves are
 * walked when asked, as Linux's smaps walks the page table. Lines are
 * built on the stack; nothing is allocated.
 */
#include "fmt.h"
#include "frame.h"
#include "mapping.h"

/* Fraction bits of the proportional set size while it is summed (Linux's
 * PSS_SHIFT): a page mapped three times adds a third of a page. */
#define PSS_SHIFT 12

struct pss_sum {
    uint64_t pss, pss_dirty; /* bytes << PSS_SHIFT */
};

/* Count one managed leaf of a mapping. Its map count is estimated from
 * the frame's references (vmar_mapping_stats): a private anonymous
 * frame's are all leaves', an object page's count includes the object's
 * own. */
static void account_leaf(const struct vmar_env *env, const struct vmar_pte *pte,
                         struct vmar_mapping_stats *st, struct pss_sum *sum)
{
    const vmar_size_t pg = VMAR_PAGE_SIZE;
    const bool anon = vmar__frame_is_anon(env, pte->pa);
    const size_t refs = vmar__frame_refs(env, pte->pa);
    const size_t maps = anon || refs < 2 ? VMAR_MAX(refs, (size_t)1) : refs - 1;
    const bool dirty = anon || (pte->flags & VMAR_PTE_DIRTY) != 0;
    const uint64_t share = ((uint64_t)pg << PSS_SHIFT) / maps;

    st->rss += pg;
    if (vmar__frame_dma_pinned(env, pte->pa))
        st->pinned += pg;
    sum->pss += share;
    if (dirty)
        sum->pss_dirty += share;
    if (anon)
        st->anonymous += pg;
    if (maps >= 2)
        *(dirty ? &st->shared_dirty : &st->shared_clean) += pg;
    else
        *(dirty ? &st->private_dirty : &st->private_clean) += pg;
}

/* The statistics of `m`. Device leaves are not counted (a PFN mapping's
 * pages are nobody's RSS), so their walk is skipped.
 * => caller holds the space lock shared; takes every page-table lock
 *    stripe for the walk. */
static void mapping_stats(struct vmar_space *space,
                          const struct vmar__mapping *m,
                          struct vmar_mapping_stats *st)
{
    struct pss_sum sum = {0, 0};
    struct vmar_pte pte;
    vmar_addr_t va = m->node.start;

    *st = (struct vmar_mapping_stats){.size = vmar__mapping_size(m)};
    vmar__mapping_info(m, &st->info);
    if (m->backing == VMAR_BACKING_DEVICE)
        return;
    vmar__pt_lock_all(space);
    while (va < m->node.end &&
           vmar__pmap_find_next(space, &va, m->node.end, &pte) == 0) {
        if (pte.flags & VMAR_PTE_MANAGED)
            account_leaf(space->env, &pte, st, &sum);
        va += VMAR_PAGE_SIZE;
    }
    vmar__pt_unlock_all(space);
    st->pss = (vmar_size_t)(sum.pss >> PSS_SHIFT);
    st->pss_dirty = (vmar_size_t)(sum.pss_dirty >> PSS_SHIFT);
    /* Linux's smaps: Locked is the Pss of a VM_LOCKED mapping. */
    if (vmar__mapping_locked(m))
        st->locked = st->pss;
}

int vmar_iterate_stats(struct vmar_space *h, vmar_addr_t lo, vmar_addr_t hi,
                       vmar_stats_fn fn, void *arg)
{
    struct vmar_space *space = vmar__base(h);
    struct vmar_mapping_stats st;
    int rc = 0;

    if (!space || !fn || lo > hi)
        return VMAR_EINVAL;
    vmar__lock(space, VMAR_LOCK_SHARED);
    for (struct vmar__mapping *m = vmar__mapping_first_in(space, lo, hi);
         m && !rc; m = vmar__mapping_next_in(m, hi)) {
        mapping_stats(space, m, &st);
        rc = fn(arg, &st);
    }
    vmar__unlock(space, VMAR_LOCK_SHARED);
    return rc;
}

struct line_sink {
    vmar_line_fn emit;
    void *arg;
};

/* "Name:" padded to column `col`, the kB value in 8 columns, " kB". */
static void kb_line(const struct line_sink *s, const char *name, size_t col,
                    vmar_size_t bytes)
{
    struct vmar__line l;

    vmar__line_reset(&l);
    vmar__line_str(&l, name);
    vmar__line_pad(&l, col);
    vmar__line_dec(&l, bytes >> 10, 8);
    vmar__line_str(&l, " kB");
    s->emit(s->arg, l.buf);
}

/* Linux's VmFlags names, in its bit order, for what a mapping has. */
static void vmflags_line(const struct line_sink *s,
                         const struct vmar__mapping *m)
{
    const bool dev = m->backing == VMAR_BACKING_DEVICE;
    const bool shared = vmar__mapping_shared(m);
    const unsigned f = m->flags;
    const struct {
        bool on;
        const char *name;
    } names[] = {
        {(m->prot & VMAR_PROT_READ) != 0, "rd"},
        {(m->prot & VMAR_PROT_WRITE) != 0, "wr"},
        {(m->prot & VMAR_PROT_EXEC) != 0, "ex"},
        /* VM_SHARED: a shared mapping that may be written. */
        {shared && (m->max_prot & VMAR_PROT_WRITE), "sh"},
        {(m->max_prot & VMAR_PROT_READ) != 0, "mr"},
        {(m->max_prot & VMAR_PROT_WRITE) != 0, "mw"},
        {(m->max_prot & VMAR_PROT_EXEC) != 0, "me"},
        {shared, "ms"},
        {(f & VMAR_MAP_GROWSDOWN) != 0, "gd"},
        {dev, "pf"},
        {(f & VMAR_MAP_LOCKED) != 0, "lo"},
        {dev, "io"},
        {(f & VMAR_MAP_SEQUENTIAL) != 0, "sr"},
        {(f & VMAR_MAP_RANDOM) != 0, "rr"},
        {(f & VMAR_MAP_DONTFORK) != 0, "dc"},
        {dev, "de"},
        {(f & VMAR_MAP_WIPEONFORK) != 0, "wf"},
        /* remap_pfn_range() makes every PFN mapping VM_DONTDUMP. */
        {dev || (f & VMAR_MAP_DONTDUMP), "dd"},
        {(f & VMAR_MAP_HUGEPAGE) != 0, "hg"},
        {(f & VMAR_MAP_NOHUGEPAGE) != 0, "nh"},
        {(f & VMAR_MAP_SEALED) != 0, "sl"},
    };
    struct vmar__line l;

    vmar__line_reset(&l);
    vmar__line_str(&l, "VmFlags: ");
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (!names[i].on)
            continue;
        vmar__line_str(&l, names[i].name);
        vmar__line_char(&l, ' ');
    }
    s->emit(s->arg, l.buf);
}

/* One mapping's smaps block.
 * => caller holds the space lock shared. */
static void smaps_block(struct vmar_space *space, const struct vmar__mapping *m,
                        const struct line_sink *s)
{
    struct vmar_mapping_stats st;
    struct vmar__line l;

    mapping_stats(space, m, &st);
    vmar__mapping_line(&l, m);
    s->emit(s->arg, l.buf);
    kb_line(s, "Size:", 16, st.size);
    kb_line(s, "KernelPageSize:", 16, VMAR_PAGE_SIZE);
    kb_line(s, "MMUPageSize:", 16, VMAR_PAGE_SIZE);
    kb_line(s, "Rss:", 16, st.rss);
    kb_line(s, "Pss:", 16, st.pss);
    kb_line(s, "Pss_Dirty:", 16, st.pss_dirty);
    kb_line(s, "Shared_Clean:", 16, st.shared_clean);
    kb_line(s, "Shared_Dirty:", 16, st.shared_dirty);
    kb_line(s, "Private_Clean:", 16, st.private_clean);
    kb_line(s, "Private_Dirty:", 16, st.private_dirty);
    kb_line(s, "Anonymous:", 16, st.anonymous);
    kb_line(s, "LazyFree:", 16, 0);
    kb_line(s, "Locked:", 16, st.locked);
    vmflags_line(s, m);
}

void vmar_smaps(struct vmar_space *h, vmar_line_fn emit, void *arg)
{
    struct vmar_space *space = vmar__base(h);
    const struct line_sink s = {emit, arg};

    vmar__lock(space, VMAR_LOCK_SHARED);
    for (struct vmar__iset_node *n = vmar__iset_first(&space->set); n;
         n = vmar__iset_next(n))
        smaps_block(space, vmar__mapping_of(n), &s);
    vmar__unlock(space, VMAR_LOCK_SHARED);
}

void vmar_status(struct vmar_space *h, vmar_line_fn emit, void *arg)
{
    const struct line_sink s = {emit, arg};
    struct vmar_stats st;

    vmar_stats(h, &st);
    /* Linux: the name, a tab, the value in 8 columns. */
    kb_line(&s, "VmSize:\t", 0, st.total_vm);
    kb_line(&s, "VmLck:\t", 0, st.locked);
    kb_line(&s, "VmPin:\t", 0, (vmar_size_t)st.pinned << VMAR_PAGE_SHIFT);
    kb_line(&s, "VmRSS:\t", 0, st.resident);
    kb_line(&s, "RssAnon:\t", 0, st.resident_anon);
    kb_line(&s, "RssFile:\t", 0, st.resident_file);
}
