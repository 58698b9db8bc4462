/* SPDX-License-Identifier: MIT */
/*
 * The reference model. Every function is a direct transcription of the
 * contract in include/vmar/vmar.h over the page array; nothing is cached,
 * so nothing can go stale. Costs are O(pages) per call, which is what the
 * driver can afford for user ranges of a few thousand pages.
 */
#include "model.h"

#include <stdlib.h>
#include <string.h>

#define PG VMAR_PAGE_SIZE
#define KEPT                                                                   \
    (VMAR_MAP_SHARED | VMAR_MAP_STACK | VMAR_MAP_DONTFORK |                    \
     VMAR_MAP_SEQUENTIAL | VMAR_MAP_RANDOM)
#define KNOWN_MAP                                                              \
    (VMAR_MAP_SHARED | VMAR_MAP_POPULATE | VMAR_MAP_STACK |                    \
     VMAR_MAP_BOTTOM_UP | VMAR_MAP_TOP_DOWN | VMAR_MAP_NO_RANDOM |             \
     VMAR_MAP_FAULT_AROUND | VMAR_MAP_DONTFORK | VMAR_MAP_SEQUENTIAL |         \
     VMAR_MAP_RANDOM | VMAR_MAP_EOF_FAULT)

int model_init(struct model *m, const struct model_cfg *cfg)
{
    memset(m, 0, sizeof(*m));
    if (cfg->user_lo >= cfg->user_hi || (cfg->user_lo | cfg->user_hi) % PG ||
        (cfg->user_hi - cfg->user_lo) / PG > MODEL_MAX_PAGES)
        return -1;
    m->cfg = *cfg;
    if (!m->cfg.max_map_count)
        m->cfg.max_map_count = VMAR_DEFAULT_MAX_MAP_COUNT;
    m->npages = (size_t)((cfg->user_hi - cfg->user_lo) / PG);
    m->pg = calloc(m->npages, sizeof(*m->pg));
    return m->pg ? 0 : -1;
}

void model_fini(struct model *m)
{
    free(m->pg);
    free(m->obj_frames);
    memset(m, 0, sizeof(*m));
}

int model_copy(struct model *dst, const struct model *src)
{
    if (!dst->pg || dst->npages != src->npages) {
        free(dst->pg);
        dst->pg = calloc(src->npages, sizeof(*dst->pg));
        if (!dst->pg)
            return -1;
    }
    if (dst->obj_cap < src->obj_cap) {
        size_t *f = realloc(dst->obj_frames, src->obj_cap * sizeof(*f));
        if (!f)
            return -1;
        dst->obj_frames = f;
        dst->obj_cap = src->obj_cap;
    }
    if (src->obj_cap)
        memcpy(dst->obj_frames, src->obj_frames,
               src->obj_cap * sizeof(*src->obj_frames));
    for (size_t i = src->obj_cap; i < dst->obj_cap; i++)
        dst->obj_frames[i] = 0;
    dst->cfg = src->cfg;
    dst->objects = src->objects;
    dst->npages = src->npages;
    memcpy(dst->pg, src->pg, src->npages * sizeof(*src->pg));
    return 0;
}

static size_t obj_frames_of(const struct model *m, uint64_t id)
{
    return id < m->obj_cap ? m->obj_frames[id] : 0;
}

bool model_equal(const struct model *a, const struct model *b)
{
    for (uint64_t id = 1; id <= a->objects || id <= b->objects; id++)
        if (obj_frames_of(a, id) != obj_frames_of(b, id))
            return false;
    return a->npages == b->npages && a->objects == b->objects &&
           memcmp(&a->cfg, &b->cfg, sizeof(a->cfg)) == 0 &&
           memcmp(a->pg, b->pg, a->npages * sizeof(*a->pg)) == 0;
}

/* A page gets a present translation; a shared object's page its frame. */
void model_touch(struct model *m, struct model_page *p)
{
    if (!p->populated && p->object) {
        if (p->object >= m->obj_cap) {
            size_t cap = (size_t)p->object * 2 + 16;
            size_t *f = realloc(m->obj_frames, cap * sizeof(*f));
            if (!f)
                abort();
            for (size_t i = m->obj_cap; i < cap; i++)
                f[i] = 0;
            m->obj_frames = f;
            m->obj_cap = cap;
        }
        m->obj_frames[p->object]++;
    }
    p->populated = 1;
}

size_t model_objects_live(const struct model *m, size_t *frames,
                          size_t *present_shared)
{
    unsigned char *seen = calloc((size_t)m->objects + 1, 1);
    size_t live = 0;

    if (!seen)
        abort();
    *frames = 0;
    *present_shared = 0;
    for (size_t i = 0; i < m->npages; i++) {
        const struct model_page *p = &m->pg[i];
        if (!p->mapped || !p->object)
            continue;
        *present_shared += p->populated;
        if (!seen[p->object]) {
            seen[p->object] = 1;
            live++;
            *frames += obj_frames_of(m, p->object);
        }
    }
    free(seen);
    return live;
}

/* ---- derived views ------------------------------------------------------ */

static vmar_addr_t addr_of(const struct model *m, size_t i)
{
    return m->cfg.user_lo + (vmar_addr_t)i * PG;
}

static bool same_attrs(const struct model_page *a, const struct model_page *b)
{
    return a->mapped && b->mapped && a->prot == b->prot &&
           a->max_prot == b->max_prot && a->flags == b->flags &&
           a->object == b->object;
}

size_t model_runs(const struct model *m, struct model_run *out)
{
    size_t n = 0;

    for (size_t i = 0; i < m->npages;) {
        if (!m->pg[i].mapped) {
            i++;
            continue;
        }
        size_t j = i;
        struct model_run r = {.start = addr_of(m, i),
                              .prot = m->pg[i].prot,
                              .max_prot = m->pg[i].max_prot,
                              .flags = m->pg[i].flags,
                              .offset = m->pg[i].objoff};
        while (j < m->npages && same_attrs(&m->pg[i], &m->pg[j]))
            r.populated += m->pg[j++].populated;
        r.end = addr_of(m, j);
        out[n++] = r;
        i = j;
    }
    return n;
}

static size_t run_count(const struct model *m)
{
    size_t n = 0;

    for (size_t i = 0; i < m->npages; i++)
        if (m->pg[i].mapped &&
            (i == 0 || !same_attrs(&m->pg[i - 1], &m->pg[i])))
            n++;
    return n;
}

vmar_size_t model_total_vm(const struct model *m)
{
    vmar_size_t t = 0;

    for (size_t i = 0; i < m->npages; i++)
        t += m->pg[i].mapped ? PG : 0;
    return t;
}

size_t model_populated(const struct model *m)
{
    size_t n = 0;

    for (size_t i = 0; i < m->npages; i++)
        n += m->pg[i].populated;
    return n;
}

/* The run containing page i (which must be mapped): [*s, *e). */
static void run_around(const struct model *m, size_t i, size_t *s, size_t *e)
{
    size_t a = i, b = i + 1;

    while (a > 0 && same_attrs(&m->pg[a - 1], &m->pg[i]))
        a--;
    while (b < m->npages && same_attrs(&m->pg[b], &m->pg[i]))
        b++;
    *s = a;
    *e = b;
}

/* vmar.h: a range is page aligned, non-empty, does not wrap and lies in
 * the user range. */
static bool range_ok(const struct model *m, vmar_addr_t addr, vmar_size_t size)
{
    return size && !((addr | size) % PG) && addr >= m->cfg.user_lo &&
           addr <= m->cfg.user_hi && size <= m->cfg.user_hi - addr;
}

/*
 * Mappings added by replacing [lo, hi) (page indices) with one new mapping,
 * counted before merging, as vmar.h and docs/DESIGN.md "Limits" say: every
 * mapping entirely inside the range goes, one that straddles both ends is
 * cut in two, the new one is added. The current mappings are the model's
 * runs: the library keeps every mergeable pair merged (vmar_check enforces
 * it and the driver compares lists after every operation), so its mapping
 * count before the operation is exactly the run count.
 */
static size_t count_after_replace(const struct model *m, size_t lo, size_t hi,
                                  bool adds_one)
{
    size_t n = run_count(m), removed = 0;
    bool straddle = false;

    for (size_t i = 0; i < m->npages;) {
        size_t s, e;
        if (!m->pg[i].mapped) {
            i++;
            continue;
        }
        run_around(m, i, &s, &e);
        if (s >= lo && e <= hi)
            removed++;
        else if (s < lo && e > hi)
            straddle = true;
        i = e;
    }
    return n - removed + (adds_one ? 1 : 0) + (straddle ? 1 : 0);
}

/* ---- placement ---------------------------------------------------------- */

/*
 * usable[i]: page i may hold part of a new mapping or of a new stack's
 * guard. A page is usable when it is free and not inside the guard of the
 * mapping directly above it: src/core/interval_set.h, "a guard clips only
 * the gap directly below its node". The mapping directly above a free page
 * is the run that starts at the next mapped page; its guard is the space's
 * stack_guard when it is a stack. Pages below user_lo do not exist here,
 * which matches the clamp at the window's bottom.
 */
static void usable_pages(const struct model *m, uint8_t *usable)
{
    const size_t gpages = (size_t)(m->cfg.stack_guard / PG);
    size_t limit = m->npages; /* pages at or above this are not usable */

    for (size_t k = m->npages; k-- > 0;) {
        if (m->pg[k].mapped) {
            usable[k] = 0;
            /* k is the lowest page so far of the run above the next free
             * page, since we walk downwards. */
            if (m->pg[k].flags & VMAR_MAP_STACK)
                limit = k >= gpages ? k - gpages : 0;
            else
                limit = k;
            continue;
        }
        usable[k] = k < limit;
    }
}

/* True when a new mapping of `sp` pages with a guard of `gp` pages below
 * it fits at page index p. pre[i] = usable pages among [0, i). */
static bool fits(const struct model *m, const size_t *pre, size_t p, size_t sp,
                 size_t gp)
{
    if (p < gp || p + sp > m->npages)
        return false;
    return pre[p + sp] - pre[p - gp] == sp + gp;
}

static int place(const struct model *m, const struct vmar_map_opts *o,
                 vmar_size_t align, vmar_addr_t *out)
{
    const size_t sp = (size_t)(o->size / PG);
    const size_t gp =
        (o->flags & VMAR_MAP_STACK) ? (size_t)(m->cfg.stack_guard / PG) : 0;
    bool top_down = !m->cfg.bottom_up;
    uint8_t *usable = malloc(m->npages);
    size_t *pre = malloc((m->npages + 1) * sizeof(*pre));
    int rc = VMAR_ENOMEM;

    if (!usable || !pre)
        abort();
    if (o->flags & VMAR_MAP_TOP_DOWN)
        top_down = true;
    else if (o->flags & VMAR_MAP_BOTTOM_UP)
        top_down = false;
    usable_pages(m, usable);
    pre[0] = 0;
    for (size_t i = 0; i < m->npages; i++)
        pre[i + 1] = pre[i] + usable[i];

    /* HINT: exactly there when the range (and a stack's guard below it)
     * is free and inside the user range; otherwise search. */
    if (o->place == VMAR_PLACE_HINT && o->addr >= m->cfg.user_lo &&
        o->addr <= m->cfg.user_hi && o->size <= m->cfg.user_hi - o->addr) {
        size_t p = (size_t)((o->addr - m->cfg.user_lo) / PG);
        if (fits(m, pre, p, sp, gp)) {
            *out = o->addr;
            rc = 0;
            goto done;
        }
    }
    /* Highest (top-down) or lowest (bottom-up) aligned fit. Alignment is
     * of the absolute address, not of the offset in the user range. */
    for (size_t k = 0; k < m->npages; k++) {
        size_t p = top_down ? m->npages - 1 - k : k;
        if (addr_of(m, p) % align == 0 && fits(m, pre, p, sp, gp)) {
            *out = addr_of(m, p);
            rc = 0;
            break;
        }
    }
done:
    free(usable);
    free(pre);
    return rc;
}

/* ---- operations --------------------------------------------------------- */

/* Record why an operation fails and return its code. */
static int fail(struct model *m, int code, const char *why)
{
    m->why = why;
    return code;
}

static bool is_pow2(vmar_size_t x)
{
    return x && !(x & (x - 1));
}

/* Growth past the mapping-count limit is refused; an operation that does
 * not grow the count passes even when the limit is below current use
 * (vmar_set_limits: "only later growth is refused"). */
static bool count_refused(const struct model *m, size_t after)
{
    return after > m->cfg.max_map_count && after > run_count(m);
}

int model_map(struct model *m, const struct vmar_map_opts *o,
              vmar_addr_t *out_addr)
{
    const struct model_cfg *c = &m->cfg;
    vmar_size_t align = o->align ? o->align : PG;
    vmar_addr_t addr = o->addr;
    bool fixed =
        o->place == VMAR_PLACE_FIXED || o->place == VMAR_PLACE_FIXED_NOREPLACE;
    int rc;

    m->why = NULL;
    /* ASSUMPTION (the header lists the codes, not their precedence):
     * EINVAL, then EACCES, then ENOTSUP, then EEXIST or "no free range",
     * then the limits: argument checks before any look at the layout. */
    if (!is_pow2(align) || align < PG)
        return fail(m, VMAR_EINVAL, "bad align");
    if (o->size == 0 || o->size % align || o->size > c->user_hi - c->user_lo)
        return fail(m, VMAR_EINVAL, "bad size");
    if ((o->prot | o->deny_prot) & ~(unsigned)VMAR_PROT_RWX ||
        o->flags & ~(unsigned)KNOWN_MAP ||
        ((o->flags & VMAR_MAP_BOTTOM_UP) && (o->flags & VMAR_MAP_TOP_DOWN)))
        return fail(m, VMAR_EINVAL, "bad prot or flags");
    if ((unsigned)o->place > VMAR_PLACE_FIXED ||
        (unsigned)o->backing > VMAR_BACKING_DEVICE)
        return fail(m, VMAR_EINVAL, "bad place or backing");
    if (o->place != VMAR_PLACE_ANY && o->addr % align)
        return fail(m, VMAR_EINVAL, "unaligned addr");
    if (fixed && !range_ok(m, o->addr, o->size))
        return fail(m, VMAR_EINVAL, "fixed range outside user range");
    /* The driver never passes an object: an object mapping without one. */
    if (o->backing == VMAR_BACKING_OBJECT)
        return fail(m, VMAR_EINVAL, "object backing without object");
    if ((o->flags & VMAR_MAP_SEQUENTIAL && o->flags & VMAR_MAP_RANDOM) ||
        o->flags & (VMAR_MAP_FAULT_AROUND | VMAR_MAP_EOF_FAULT))
        return fail(m, VMAR_EINVAL, "bad hint or fault-around on anon");
    if (o->prot & o->deny_prot)
        return fail(m, VMAR_EACCES, "prot & deny");
    if (o->backing != VMAR_BACKING_ANON)
        return fail(m, VMAR_ENOTSUP, "backing");

    if (!fixed) {
        rc = place(m, o, align, &addr);
        if (rc)
            return fail(m, rc, "no fit");
    }
    size_t lo = (size_t)((addr - c->user_lo) / PG);
    size_t hi = lo + (size_t)(o->size / PG);
    vmar_size_t mapped = 0;
    for (size_t i = lo; i < hi; i++)
        mapped += m->pg[i].mapped ? PG : 0;
    if (o->place == VMAR_PLACE_FIXED_NOREPLACE && mapped)
        return fail(m, VMAR_EEXIST, "noreplace overlap");
    /* Only FIXED can overlap: placement returned a free range. */
    vmar_size_t added = o->size - mapped;
    vmar_size_t total = model_total_vm(m);
    if (c->as_limit && added && total + added > c->as_limit)
        return fail(m, VMAR_ENOMEM, "as limit");
    if (count_refused(m, count_after_replace(m, lo, hi, true)))
        return fail(m, VMAR_ENOMEM, "count limit");

    /* ASSUMPTION (vmar.h is silent; Linux behaves so): POPULATE of a
     * PROT_NONE mapping maps nothing, as no access could use the pages. */
    bool populate = (o->flags & VMAR_MAP_POPULATE) && o->prot;
    uint64_t object = o->flags & VMAR_MAP_SHARED ? ++m->objects : 0;
    for (size_t i = lo; i < hi; i++) {
        m->pg[i] = (struct model_page){
            .mapped = 1,
            .prot = (uint8_t)o->prot,
            .max_prot = (uint8_t)(VMAR_PROT_RWX & ~o->deny_prot),
            .flags = (uint16_t)(o->flags & KEPT),
            .object = object,
            .objoff = object ? (uint64_t)(i - lo) * PG : 0,
        };
        if (populate)
            model_touch(m, &m->pg[i]);
    }
    if (out_addr)
        *out_addr = addr;
    return 0;
}

int model_unmap(struct model *m, vmar_addr_t addr, vmar_size_t size)
{
    m->why = NULL;
    if (!range_ok(m, addr, size))
        return fail(m, VMAR_EINVAL, "bad range");
    size_t lo = (size_t)((addr - m->cfg.user_lo) / PG);
    size_t hi = lo + (size_t)(size / PG);
    bool any = false;
    for (size_t i = lo; i < hi; i++)
        any |= m->pg[i].mapped;
    if (!any)
        return 0;
    if (count_refused(m, count_after_replace(m, lo, hi, false)))
        return fail(m, VMAR_ENOMEM, "count limit");
    memset(&m->pg[lo], 0, (hi - lo) * sizeof(*m->pg));
    return 0;
}

int model_protect(struct model *m, vmar_addr_t addr, vmar_size_t size,
                  unsigned prot)
{
    m->why = NULL;
    if (!range_ok(m, addr, size) || prot & ~(unsigned)VMAR_PROT_RWX)
        return fail(m, VMAR_EINVAL, "bad range or prot");
    size_t lo = (size_t)((addr - m->cfg.user_lo) / PG);
    size_t hi = lo + (size_t)(size / PG);
    /* Atomic: the first problem in address order decides, and nothing
     * changes on failure (docs/DESIGN.md, stricter than Linux). */
    for (size_t i = lo; i < hi; i++) {
        if (!m->pg[i].mapped)
            return fail(m, VMAR_ENOMEM, "hole");
        if (prot & ~(unsigned)m->pg[i].max_prot)
            return fail(m, VMAR_EACCES, "beyond max");
    }
    /* Before merging, a mapping whose permissions change is cut where it
     * straddles an end of the range; one that already has `prot` is not. */
    size_t splits = 0;
    if (lo > 0 && same_attrs(&m->pg[lo - 1], &m->pg[lo]) &&
        m->pg[lo].prot != prot)
        splits++;
    if (hi < m->npages && same_attrs(&m->pg[hi - 1], &m->pg[hi]) &&
        m->pg[hi - 1].prot != prot)
        splits++;
    if (count_refused(m, run_count(m) + splits))
        return fail(m, VMAR_ENOMEM, "count limit");
    for (size_t i = lo; i < hi; i++)
        m->pg[i].prot = (uint8_t)prot;
    return 0;
}

void model_set_limits(struct model *m, vmar_size_t as_limit,
                      size_t max_map_count)
{
    m->cfg.as_limit = as_limit;
    m->cfg.max_map_count =
        max_map_count ? max_map_count : VMAR_DEFAULT_MAX_MAP_COUNT;
}

int model_query(const struct model *m, vmar_addr_t addr, struct model_run *out)
{
    if (addr < m->cfg.user_lo || addr >= m->cfg.user_hi)
        return VMAR_ENOENT;
    size_t i = (size_t)((addr - m->cfg.user_lo) / PG), s, e;
    if (!m->pg[i].mapped)
        return VMAR_ENOENT;
    run_around(m, i, &s, &e);
    *out = (struct model_run){.start = addr_of(m, s),
                              .end = addr_of(m, e),
                              .prot = m->pg[i].prot,
                              .max_prot = m->pg[i].max_prot,
                              .flags = m->pg[i].flags,
                              .offset = m->pg[s].objoff};
    for (size_t k = s; k < e; k++)
        out->populated += m->pg[k].populated;
    return 0;
}

int model_resident(const struct model *m, vmar_addr_t lo, vmar_addr_t hi,
                   vmar_size_t *bytes)
{
    if (lo > hi || (lo | hi) % PG)
        return VMAR_EINVAL;
    *bytes = 0;
    for (size_t i = 0; i < m->npages; i++)
        if (m->pg[i].populated && addr_of(m, i) >= lo && addr_of(m, i) < hi)
            *bytes += PG;
    return 0;
}

struct model_page *model_page_at(struct model *m, vmar_addr_t va)
{
    if (va < m->cfg.user_lo || va >= m->cfg.user_hi)
        return NULL;
    return &m->pg[(va - m->cfg.user_lo) / PG];
}

int model_fault(struct model *m, vmar_addr_t addr, unsigned access,
                unsigned flags)
{
    struct model_page *p;

    m->why = NULL;
    /* fault.h: access is exactly one vmar_access value; flags known. */
    if (flags & ~(unsigned)VMAR_FAULT_USER ||
        (access != VMAR_ACCESS_READ && access != VMAR_ACCESS_WRITE &&
         access != VMAR_ACCESS_EXEC))
        return fail(m, VMAR_EINVAL, "bad access or flags");
    p = model_page_at(m, addr);
    if (!p || !p->mapped)
        return fail(m, VMAR_ENOENT, "no mapping");
    if (!(p->prot & vmar_access_prot(access)))
        return fail(m, VMAR_EACCES, "access denied");
    model_touch(m, p);
    return 0;
}

int model_access(struct model *m, vmar_addr_t addr, uint64_t len, unsigned need,
                 uint64_t *done)
{
    uint64_t off = 0;

    m->why = NULL;
    while (off < len) {
        vmar_addr_t va = addr + off;
        uint64_t n = PG - (va % PG);
        struct model_page *p = model_page_at(m, va);
        if (n > len - off)
            n = len - off;
        if (!p || !p->mapped) {
            *done = off;
            return fail(m, VMAR_ENOENT, "no mapping");
        }
        if (!(p->prot & need)) {
            *done = off;
            return fail(m, VMAR_EACCES, "access denied");
        }
        model_touch(m, p);
        off += n;
    }
    *done = off;
    return 0;
}
