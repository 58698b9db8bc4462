/* SPDX-License-Identifier: MIT */
/*
 * The reference model. Every function is a direct transcription of the
 * contract in include/vmar/vmar.h over the page array; nothing is cached
 * but the reference counts of the shared store (each kept by the one
 * function every page change goes through, pg_set), so nothing else can
 * go stale. Costs are O(pages) per call, which is what the driver can
 * afford for user ranges of a few thousand pages.
 */
#include "model.h"

#include <stdlib.h>
#include <string.h>

#define PG VMAR_PAGE_SIZE
/* What a mapping keeps (FAULT_AROUND and EOF_FAULT exist only on object
 * mappings: map refuses them elsewhere). */
#define KEPT                                                                   \
    (VMAR_MAP_SHARED | VMAR_MAP_STACK | VMAR_MAP_DONTFORK |                    \
     VMAR_MAP_SEQUENTIAL | VMAR_MAP_RANDOM | VMAR_MAP_FAULT_AROUND |           \
     VMAR_MAP_EOF_FAULT | VMAR_MAP_SEALED | VMAR_MAP_GROWSDOWN | MADV_FLAGS |  \
     LOCKF)
/* The lock flags (Linux's VM_LOCKED_MASK). */
#define LOCKF (VMAR_MAP_LOCKED | VMAR_MAP_LOCKONFAULT)
/* The flags advice sets that a map may give too. */
#define MADV_FLAGS                                                             \
    (VMAR_MAP_DONTDUMP | VMAR_MAP_HUGEPAGE | VMAR_MAP_NOHUGEPAGE |             \
     VMAR_MAP_WIPEONFORK)
#define KNOWN_MAP                                                              \
    (VMAR_MAP_SHARED | VMAR_MAP_POPULATE | VMAR_MAP_STACK |                    \
     VMAR_MAP_BOTTOM_UP | VMAR_MAP_TOP_DOWN | VMAR_MAP_NO_RANDOM |             \
     VMAR_MAP_FAULT_AROUND | VMAR_MAP_DONTFORK | VMAR_MAP_SEQUENTIAL |         \
     VMAR_MAP_RANDOM | VMAR_MAP_EOF_FAULT | VMAR_MAP_SEALED |                  \
     VMAR_MAP_GROWSDOWN | MADV_FLAGS | LOCKF)
/* Mappings placement keeps the stack guard free below (vmar.h). */
#define GUARDED (VMAR_MAP_STACK | VMAR_MAP_GROWSDOWN)

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        abort();
    return p;
}

static void *xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n ? n : 1, sz);
    if (!p)
        abort();
    return p;
}

/* ---- the shared store ---------------------------------------------------- */

static struct model_store *store_new(void)
{
    struct model_store *st = xcalloc(1, sizeof(*st));
    st->users = 1;
    return st;
}

static void store_put(struct model_store *st)
{
    if (!st || --st->users)
        return;
    for (uint64_t i = 1; i <= st->nobj; i++) {
        free(st->obj[i].frame);
        free(st->obj[i].tag);
        free(st->obj[i].dirty);
        free(st->obj[i].pinid);
    }
    free(st->obj);
    free(st->frefs);
    free(st->fpins);
    free(st->fobj);
    free(st->pinned);
    free(st->ftag);
    free(st->dev_tag);
    free(st);
}

static uint64_t obj_new(struct model_store *st, size_t pages)
{
    uint64_t id = ++st->nobj;
    if (id >= st->obj_cap) {
        size_t cap = (size_t)id * 2 + 16;
        st->obj = xrealloc(st->obj, cap * sizeof(*st->obj));
        memset(st->obj + st->obj_cap, 0,
               (cap - st->obj_cap) * sizeof(*st->obj));
        st->obj_cap = cap;
    }
    struct model_obj *o = &st->obj[id];
    o->pages = pages;
    o->frame = xcalloc(pages, 1);
    o->tag = xcalloc(pages, sizeof(*o->tag));
    o->dirty = xcalloc(pages, 1);
    o->pinid = xcalloc(pages, sizeof(*o->pinid));
    o->slots = pages;
    o->max_prot = VMAR_PROT_RWX;
    o->bad = SIZE_MAX;
    o->allocs = 2; /* a memfd: itself and its page array */
    st->objs_live++;
    st->obj_allocs_live += o->allocs;
    return id;
}

/* An array of `cap` elements of `elem` bytes, grown from `old` with
 * zeros. */
static void *xgrow(void *p, size_t old, size_t cap, size_t elem)
{
    p = xrealloc(p, cap * elem);
    memset((char *)p + old * elem, 0, (cap - old) * elem);
    return p;
}

static uint64_t frame_new(struct model_store *st)
{
    uint64_t id = ++st->nframe;
    if (id >= st->frefs_cap) {
        size_t old = st->frefs_cap, cap = (size_t)id * 2 + 64;
        st->frefs = xgrow(st->frefs, old, cap, sizeof(*st->frefs));
        st->ftag = xgrow(st->ftag, old, cap, sizeof(*st->ftag));
        st->fpins = xgrow(st->fpins, old, cap, sizeof(*st->fpins));
        st->fobj = xgrow(st->fobj, old, cap, sizeof(*st->fobj));
        st->frefs_cap = cap;
    }
    return id;
}

static void refs_take(struct model_store *st, const struct model_page *p)
{
    if (p->mapped && p->object)
        st->obj[p->object].refs++;
    if (p->populated && p->frame && st->frefs[p->frame]++ == 0)
        st->frames_live++;
}

static void obj_die(struct model_store *st, struct model_obj *o)
{
    /* Its pinned frames outlive it, kept by their pins alone. */
    for (size_t k = 0; k < o->pages; k++) {
        if (o->pinid[k])
            st->fobj[o->pinid[k]] = 0;
        o->pinid[k] = 0;
    }
    o->dead = true;
    st->objs_live--;
    st->obj_frames_live -= o->frames;
    st->obj_allocs_live -= o->allocs;
}

static void refs_drop(struct model_store *st, const struct model_page *p)
{
    if (p->mapped && p->object) {
        struct model_obj *o = &st->obj[p->object];
        /* Its last mapping went and the caller holds no reference: the
         * library frees it and its frames. */
        if (--o->refs == 0 && !o->held)
            obj_die(st, o);
    }
    if (p->populated && p->frame && --st->frefs[p->frame] == 0)
        st->frames_live--;
}

/* Every change of a page goes through here (new references first, so an
 * object that stays mapped never looks dead in between). */
static void pg_set(struct model *m, struct model_page *p,
                   const struct model_page *v)
{
    struct model_page old = *p;
    refs_take(m->st, v);
    *p = *v;
    refs_drop(m->st, &old);
}

static void pg_clear(struct model *m, struct model_page *p)
{
    static const struct model_page zero;
    pg_set(m, p, &zero);
}

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
    m->st = store_new();
    return m->pg ? 0 : -1;
}

void model_fini(struct model *m)
{
    if (m->pg && m->st)
        for (size_t i = 0; i < m->npages; i++)
            pg_clear(m, &m->pg[i]);
    store_put(m->st);
    free(m->pg);
    memset(m, 0, sizeof(*m));
}

void model_set_device(struct model *m, vmar_paddr_t base, size_t pages)
{
    struct model_store *st = m->st;
    free(st->dev_tag);
    st->dev_base = base;
    st->dev_pages = pages;
    st->dev_tag = xcalloc(pages, sizeof(*st->dev_tag));
}

static struct model_store *store_copy(const struct model_store *src)
{
    struct model_store *st = xcalloc(1, sizeof(*st));
    *st = *src;
    st->users = 1;
    st->obj = xcalloc(src->obj_cap, sizeof(*st->obj));
    for (uint64_t i = 1; i <= src->nobj; i++) {
        const struct model_obj *o = &src->obj[i];
        st->obj[i] = *o;
        st->obj[i].frame = xcalloc(o->pages, 1);
        st->obj[i].tag = xcalloc(o->pages, sizeof(uint64_t));
        st->obj[i].dirty = xcalloc(o->pages, 1);
        st->obj[i].pinid = xcalloc(o->pages, sizeof(uint64_t));
        if (o->pages && o->frame) {
            memcpy(st->obj[i].pinid, o->pinid, o->pages * sizeof(uint64_t));
            memcpy(st->obj[i].frame, o->frame, o->pages);
            memcpy(st->obj[i].tag, o->tag, o->pages * sizeof(uint64_t));
            memcpy(st->obj[i].dirty, o->dirty, o->pages);
        }
    }
    st->frefs = xcalloc(src->frefs_cap, sizeof(*st->frefs));
    st->ftag = xcalloc(src->frefs_cap, sizeof(*st->ftag));
    st->fpins = xcalloc(src->frefs_cap, sizeof(*st->fpins));
    st->fobj = xcalloc(src->frefs_cap, sizeof(*st->fobj));
    if (src->frefs_cap) {
        memcpy(st->frefs, src->frefs, src->frefs_cap * sizeof(*st->frefs));
        memcpy(st->ftag, src->ftag, src->frefs_cap * sizeof(*st->ftag));
        memcpy(st->fpins, src->fpins, src->frefs_cap * sizeof(*st->fpins));
        memcpy(st->fobj, src->fobj, src->frefs_cap * sizeof(*st->fobj));
    }
    st->pinned = xcalloc(src->pinned_cap, sizeof(*st->pinned));
    if (src->npinned)
        memcpy(st->pinned, src->pinned, src->npinned * sizeof(*st->pinned));
    st->dev_tag = xcalloc(src->dev_pages, sizeof(*st->dev_tag));
    if (src->dev_pages)
        memcpy(st->dev_tag, src->dev_tag,
               src->dev_pages * sizeof(*st->dev_tag));
    return st;
}

int model_copy(struct model *dst, const struct model *src)
{
    if (!dst->pg || dst->npages != src->npages) {
        free(dst->pg);
        dst->pg = calloc(src->npages, sizeof(*dst->pg));
        if (!dst->pg)
            return -1;
    }
    store_put(dst->st);
    dst->st = store_copy(src->st);
    dst->cfg = src->cfg;
    dst->npages = src->npages;
    dst->stack_growths = src->stack_growths;
    dst->lock_future = src->lock_future;
    dst->pinned = src->pinned;
    memcpy(dst->pg, src->pg, src->npages * sizeof(*src->pg));
    return 0;
}

bool model_equal(const struct model *a, const struct model *b)
{
    const struct model_store *x = a->st, *y = b->st;

    if (x->nobj != y->nobj || x->objs_live != y->objs_live ||
        x->obj_frames_live != y->obj_frames_live ||
        x->obj_allocs_live != y->obj_allocs_live ||
        x->frames_live != y->frames_live || x->dev_pages != y->dev_pages ||
        x->npinned != y->npinned || a->lock_future != b->lock_future ||
        a->pinned != b->pinned)
        return false;
    for (uint64_t id = 1; id <= x->nobj; id++) {
        const struct model_obj *o = &x->obj[id], *q = &y->obj[id];
        if (o->pages != q->pages || o->frames != q->frames ||
            o->refs != q->refs || o->dead != q->dead || o->held != q->held ||
            o->caller != q->caller || o->max_prot != q->max_prot ||
            o->allocs != q->allocs || o->bad != q->bad ||
            o->slots != q->slots || o->commit != q->commit ||
            memcmp(o->frame, q->frame, o->pages) ||
            memcmp(o->dirty, q->dirty, o->pages) ||
            memcmp(o->tag, q->tag, o->pages * sizeof(uint64_t)))
            return false;
    }
    if (x->dev_pages &&
        memcmp(x->dev_tag, y->dev_tag, x->dev_pages * sizeof(uint64_t)))
        return false;
    return a->npages == b->npages &&
           memcmp(&a->cfg, &b->cfg, sizeof(a->cfg)) == 0 &&
           memcmp(a->pg, b->pg, a->npages * sizeof(*a->pg)) == 0;
}

static bool is_device(const struct model_page *p)
{
    return p->backing == VMAR_BACKING_DEVICE;
}

static bool is_shared(const struct model_page *p)
{
    return (p->flags & VMAR_MAP_SHARED) != 0;
}

/* The object page behind p exists (p is not past its object's end). */
static bool in_object(const struct model *m, const struct model_page *p)
{
    return p->object && p->objoff / PG < m->st->obj[p->object].pages;
}

static void obj_frame(struct model_store *st, uint64_t id, size_t k)
{
    struct model_obj *o = &st->obj[id];
    if (k < o->pages && !o->frame[k]) {
        o->frame[k] = 1;
        o->frames++;
        if (!o->dead)
            st->obj_frames_live++;
    }
}

void model_object_has_frame(struct model *m, uint64_t obj, size_t index)
{
    obj_frame(m->st, obj, index);
}

uint64_t model_object_new(struct model *m, size_t pages, unsigned max_prot,
                          size_t allocs)
{
    struct model_store *st = m->st;
    uint64_t id = obj_new(st, pages);
    struct model_obj *o = &st->obj[id];

    st->obj_allocs_live -= o->allocs;
    o->allocs = allocs;
    st->obj_allocs_live += o->allocs;
    o->max_prot = max_prot & VMAR_PROT_RWX;
    o->held = true;
    o->caller = true;
    return id;
}

void model_object_config(struct model *m, uint64_t obj, size_t bad, bool commit)
{
    m->st->obj[obj].bad = bad;
    m->st->obj[obj].commit = commit;
}

/* Object page `k` forgets its frame (truncate, punch): every present
 * leaf that maps it keeps it as an orphan. */
static void obj_forget(struct model *const *ms, size_t n, uint64_t obj,
                       size_t k)
{
    struct model_store *st = ms[0]->st;
    struct model_obj *o = &st->obj[obj];

    if (o->frame[k]) {
        /* Every present leaf that maps the page keeps its frame: one
         * identity for all of them, whatever space they are in (a
         * pinned page's: its pins keep the same frame). */
        uint64_t id = o->pinid[k];
        if (id)
            st->fobj[id] = 0;
        o->pinid[k] = 0;
        for (size_t j = 0; j < n; j++) {
            struct model *mm = ms[j];
            for (size_t i = 0; i < mm->npages; i++) {
                struct model_page *q = &mm->pg[i];
                if (!q->mapped || q->object != obj || !q->populated ||
                    q->frame || q->objoff / PG != k)
                    continue;
                if (!id)
                    id = frame_new(st);
                struct model_page v = *q;
                v.frame = id;
                v.tag = 0;
                v.orphan = 1;
                st->ftag[id] = o->tag[k];
                pg_set(mm, q, &v);
            }
        }
        o->frame[k] = 0;
        o->frames--;
        if (!o->dead)
            st->obj_frames_live--;
    }
    o->tag[k] = 0;
    o->dirty[k] = 0;
}

void model_object_truncate(struct model *const *ms, size_t n, uint64_t obj,
                           size_t pages)
{
    struct model_store *st = ms[0]->st;
    struct model_obj *o = &st->obj[obj];

    for (size_t k = pages; k < o->pages; k++)
        obj_forget(ms, n, obj, k);
    if (pages > o->pages) {
        o->frame = xrealloc(o->frame, pages);
        o->tag = xrealloc(o->tag, pages * sizeof(*o->tag));
        o->dirty = xrealloc(o->dirty, pages);
        memset(o->frame + o->pages, 0, pages - o->pages);
        memset(o->tag + o->pages, 0, (pages - o->pages) * sizeof(*o->tag));
        memset(o->dirty + o->pages, 0, pages - o->pages);
        o->pinid = xrealloc(o->pinid, pages * sizeof(*o->pinid));
        memset(o->pinid + o->pages, 0, (pages - o->pages) * sizeof(*o->pinid));
        if (pages > o->slots) {
            /* The page array grows (from nothing: one block more). */
            if (!o->slots && !o->dead) {
                st->obj_allocs_live++;
                o->allocs++;
            }
            o->slots = pages;
        }
    }
    o->pages = pages;
}

void model_object_put(struct model *m, uint64_t obj)
{
    struct model_obj *o = &m->st->obj[obj];

    if (!o->held)
        return;
    o->held = false;
    if (o->refs == 0)
        obj_die(m->st, o);
}

/* A page gets a present translation: the object's page (made on first
 * touch) for shared memory and for a private page of an object before
 * its end (mapped read-only); otherwise a frame of its own (private
 * anonymous memory, or zero-fill past a private object's end). */
void model_touch(struct model *m, struct model_page *p)
{
    struct model_page v = *p;

    if (p->populated)
        return;
    v.populated = 1;
    if (in_object(m, p)) {
        obj_frame(m->st, p->object, (size_t)(p->objoff / PG));
    } else if (!is_device(p)) {
        v.frame = frame_new(m->st);
    }
    pg_set(m, p, &v);
}

/* A write reaches the (touched) page: private memory gets a frame of its
 * own (the copy-on-write break; when no one else mapped the old frame
 * the library reuses it, which leaves the count of distinct frames the
 * same); a private page that showed its object's page gets a copy of
 * it. A shared object page becomes dirty (notify_write). */
static void model_written(struct model *m, struct model_page *p)
{
    if (is_device(p) || !p->populated)
        return;
    if (p->object && is_shared(p)) {
        if (p->orphan)
            return; /* written in its own frame, no longer the object's */
        uint8_t *d = &m->st->obj[p->object].dirty[p->objoff / PG];
        if (in_object(m, p) && !*d) {
            *d = 1;
            m->obj_dirtied++;
        }
        return;
    }
    /* A DMA-pinned private anonymous frame is always the page's own
     * (pin.c): the write reuses it, the device keeps seeing the page. */
    if (p->frame && !p->orphan && m->st->fpins[p->frame])
        return;
    struct model_page v = *p;
    m->obj_copies += p->object && !p->frame;
    v.tag = *model_tag(m, p); /* the content the copy starts from */
    v.orphan = 0;
    v.frame = frame_new(m->st);
    pg_set(m, p, &v);
}

uint64_t *model_tag(struct model *m, const struct model_page *p)
{
    static uint64_t none;
    none = 0;
    /* The object's page: shared memory, a private page not yet copied
     * (not an orphan: those have a frame of their own). */
    if (p->object && !p->frame) {
        struct model_obj *o = &m->st->obj[p->object];
        size_t k = (size_t)(p->objoff / PG);
        return k < o->pages ? &o->tag[k] : &none;
    }
    if (p->orphan)
        return &m->st->ftag[p->frame];
    if (is_device(p)) {
        size_t k = (size_t)((p->objoff - m->st->dev_base) / PG);
        return k < m->st->dev_pages ? &m->st->dev_tag[k] : &none;
    }
    return (uint64_t *)&p->tag;
}

size_t model_present_shared(const struct model *m)
{
    size_t n = 0;
    for (size_t i = 0; i < m->npages; i++)
        n += m->pg[i].mapped && m->pg[i].object && m->pg[i].populated &&
             (!m->pg[i].frame || m->pg[i].orphan);
    return n;
}

size_t model_present_device(const struct model *m)
{
    size_t n = 0;
    for (size_t i = 0; i < m->npages; i++)
        n += m->pg[i].mapped && is_device(&m->pg[i]);
    return n;
}

/* ---- derived views ------------------------------------------------------ */

static vmar_addr_t addr_of(const struct model *m, size_t i)
{
    return m->cfg.user_lo + (vmar_addr_t)i * PG;
}

/* Page b, directly after page a, belongs to a's mapping: the library
 * keeps every mergeable pair merged (mapping.c, vmar__mapping_can_merge):
 * same permissions, kept flags and backing; shared memory of the same
 * object at the continuing offset; device memory never (only the pages of
 * one device mapping are one). */
static bool joins(const struct model_page *a, const struct model_page *b)
{
    if (!a->mapped || !b->mapped || a->prot != b->prot ||
        a->max_prot != b->max_prot || a->flags != b->flags ||
        a->backing != b->backing || a->object != b->object)
        return false;
    if (is_device(a))
        return a->node == b->node;
    return !a->object || b->objoff == a->objoff + PG;
}

size_t model_runs(const struct model *m, struct model_run *out)
{
    size_t n = 0;

    for (size_t i = 0; i < m->npages;) {
        if (!m->pg[i].mapped) {
            i++;
            continue;
        }
        size_t j = i + 1;
        struct model_run r = {.start = addr_of(m, i),
                              .prot = m->pg[i].prot,
                              .max_prot = m->pg[i].max_prot,
                              .flags = m->pg[i].flags,
                              .backing = m->pg[i].backing,
                              .offset = m->pg[i].objoff,
                              .object = m->pg[i].object,
                              .cache = m->pg[i].cache,
                              .populated = m->pg[i].populated};
        while (j < m->npages && joins(&m->pg[j - 1], &m->pg[j]))
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
        if (m->pg[i].mapped && (i == 0 || !joins(&m->pg[i - 1], &m->pg[i])))
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
        n += m->pg[i].populated && !is_device(&m->pg[i]);
    return n;
}

/* The run containing page i (which must be mapped): [*s, *e). */
static void run_around(const struct model *m, size_t i, size_t *s, size_t *e)
{
    size_t a = i, b = i + 1;

    while (a > 0 && joins(&m->pg[a - 1], &m->pg[a]))
        a--;
    while (b < m->npages && joins(&m->pg[b - 1], &m->pg[b]))
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
            if (m->pg[k].flags & GUARDED)
                limit = k >= gpages ? k - gpages : 0;
            else
                limit = k;
            continue;
        }
        usable[k] = k < limit;
    }
}

/* True when a new mapping of `sp` pages with a guard of `gp` pages below
 * it fits at page index p, all inside the window [wlo, whi) of page
 * indices. pre[i] = usable pages among [0, i). */
static bool fits(const size_t *pre, size_t p, size_t sp, size_t gp, size_t wlo,
                 size_t whi)
{
    if (p < gp || p - gp < wlo || p + sp > whi)
        return false;
    return pre[p + sp] - pre[p - gp] == sp + gp;
}

static int place(const struct model *m, const struct vmar_map_opts *o,
                 vmar_size_t align, vmar_addr_t *out)
{
    const size_t sp = (size_t)(o->size / PG);
    const size_t gp =
        (o->flags & GUARDED) ? (size_t)(m->cfg.stack_guard / PG) : 0;
    /* The window, in page indices (validated by the caller; 0: the
     * user range's edge). */
    const size_t wlo =
        o->window_lo ? (size_t)((o->window_lo - m->cfg.user_lo) / PG) : 0;
    const size_t whi = o->window_hi
                           ? (size_t)((o->window_hi - m->cfg.user_lo) / PG)
                           : m->npages;
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
        if (fits(pre, p, sp, gp, wlo, whi)) {
            *out = o->addr;
            rc = 0;
            goto done;
        }
    }
    /* Highest (top-down) or lowest (bottom-up) aligned fit. Alignment is
     * of the absolute address, not of the offset in the user range. */
    for (size_t k = 0; k < m->npages; k++) {
        size_t p = top_down ? m->npages - 1 - k : k;
        if (addr_of(m, p) % align == 0 && fits(pre, p, sp, gp, wlo, whi)) {
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

/* Device mappings never merge, so the model names each one (node); an
 * operation that cuts one at page index i gives the part from i on a
 * name of its own, as the library's split makes a node of its own. */
static void dev_cut(struct model *m, size_t i)
{
    if (i == 0 || i >= m->npages || !m->pg[i].mapped || !is_device(&m->pg[i]) ||
        !joins(&m->pg[i - 1], &m->pg[i]))
        return;
    uint64_t old = m->pg[i].node, id = ++m->st->nnode;
    for (size_t k = i; k < m->npages && m->pg[k].mapped &&
                       is_device(&m->pg[k]) && m->pg[k].node == old;
         k++)
        m->pg[k].node = id;
}

/* Remove the pages [lo, hi) (indices). */
static void carve(struct model *m, size_t lo, size_t hi)
{
    dev_cut(m, lo);
    dev_cut(m, hi);
    for (size_t i = lo; i < hi; i++)
        pg_clear(m, &m->pg[i]);
}

/* A sealed page in [lo, hi) (indices)? */
static bool any_sealed(const struct model *m, size_t lo, size_t hi)
{
    for (size_t i = lo; i < hi; i++)
        if (m->pg[i].mapped && m->pg[i].flags & VMAR_MAP_SEALED)
            return true;
    return false;
}

/* ---- the lock limit (args.c) ------------------------------------------- */

static void populate_locked(struct model *m, size_t lo, size_t hi,
                            bool after_change, int *rc);

vmar_size_t model_locked(const struct model *m)
{
    vmar_size_t t = 0;

    for (size_t i = 0; i < m->npages; i++)
        t += m->pg[i].mapped && m->pg[i].flags & VMAR_MAP_LOCKED ? PG : 0;
    return t;
}

/* The limit applies and is 0: every lock is refused (VMAR_EPERM). */
static bool mlock_zero(const struct model *m)
{
    return m->cfg.mlock_limited && m->cfg.mlock_limit == 0;
}

/* `bytes` more of locked memory fit the limit, in pages as Linux's
 * mlock_future_ok() counts. */
static bool mlock_fits(const struct model *m, vmar_size_t bytes)
{
    const vmar_size_t limit = m->cfg.mlock_limit / PG;
    const vmar_size_t locked = model_locked(m) / PG;
    const vmar_size_t more = (bytes + PG - 1) / PG;

    return !m->cfg.mlock_limited || (locked <= limit && more <= limit - locked);
}

int model_map(struct model *m, const struct vmar_map_opts *o,
              vmar_addr_t *out_addr)
{
    return model_map_obj(m, o, 0, out_addr);
}

/* What an object lets a mapping of it have (vmar.h, object.h): a shared
 * mapping its max_prot, a private one write too (to its own copies). */
static unsigned object_allows(const struct model *m,
                              const struct vmar_map_opts *o, uint64_t obj)
{
    if (o->backing != VMAR_BACKING_OBJECT)
        return VMAR_PROT_RWX;
    unsigned mp = m->st->obj[obj].max_prot;
    return o->flags & VMAR_MAP_SHARED ? mp : mp | (unsigned)VMAR_PROT_WRITE;
}

int model_map_obj(struct model *m, const struct vmar_map_opts *o, uint64_t obj,
                  vmar_addr_t *out_addr)
{
    const struct model_cfg *c = &m->cfg;
    vmar_size_t align = o->align ? o->align : PG;
    vmar_addr_t addr = o->addr;
    bool fixed =
        o->place == VMAR_PLACE_FIXED || o->place == VMAR_PLACE_FIXED_NOREPLACE;
    bool device = o->backing == VMAR_BACKING_DEVICE;
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
    /* vmar.h, window_lo: checked in every placement mode. */
    const vmar_addr_t wlo = o->window_lo ? o->window_lo : c->user_lo;
    const vmar_addr_t whi = o->window_hi ? o->window_hi : c->user_hi;
    if (wlo % PG || whi % PG || wlo >= whi || wlo < c->user_lo ||
        whi > c->user_hi)
        return fail(m, VMAR_EINVAL, "bad window");
    if (device && (o->paddr % PG || o->paddr + o->size < o->paddr ||
                   (unsigned)o->cache > VMAR_CACHE_UC || o->offset))
        return fail(m, VMAR_EINVAL, "bad device paddr, cache or offset");
    if (o->backing == VMAR_BACKING_ANON &&
        (o->offset || o->paddr || o->cache != VMAR_CACHE_WB))
        return fail(m, VMAR_EINVAL, "offset, paddr or cache on anon");
    const bool object = o->backing == VMAR_BACKING_OBJECT;
    /* An object mapping: an object, an offset that is a multiple of the
     * alignment and does not wrap with the size, no device fields. */
    if (object &&
        (!obj || o->offset % align || o->offset + o->size < o->offset ||
         o->paddr || o->cache != VMAR_CACHE_WB))
        return fail(m, VMAR_EINVAL, "bad object, offset or device field");
    if ((o->flags & VMAR_MAP_SEQUENTIAL && o->flags & VMAR_MAP_RANDOM) ||
        (o->flags & VMAR_MAP_LOCKONFAULT && !(o->flags & VMAR_MAP_LOCKED)) ||
        (!object && o->flags & (VMAR_MAP_FAULT_AROUND | VMAR_MAP_EOF_FAULT)))
        return fail(m, VMAR_EINVAL, "bad hint or fault-around on anon");
    if ((o->flags & VMAR_MAP_WIPEONFORK &&
         (o->backing != VMAR_BACKING_ANON || o->flags & VMAR_MAP_SHARED)) ||
        (o->flags & VMAR_MAP_HUGEPAGE && o->flags & VMAR_MAP_NOHUGEPAGE))
        return fail(m, VMAR_EINVAL,
                    "wipe-on-fork beyond private anon or "
                    "huge with nohuge");
    if (o->flags & VMAR_MAP_GROWSDOWN &&
        (o->backing != VMAR_BACKING_ANON || o->flags & VMAR_MAP_SHARED))
        return fail(m, VMAR_EINVAL, "grow-down memory not private anon");
    if (o->prot & o->deny_prot)
        return fail(m, VMAR_EACCES, "prot & deny");
    const unsigned allows = object_allows(m, o, object ? obj : 0);
    if (o->prot & ~allows)
        return fail(m, VMAR_EACCES, "beyond the object's max_prot");

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
    if (o->place == VMAR_PLACE_FIXED && any_sealed(m, lo, hi))
        return fail(m, VMAR_EPERM, "fixed over a sealed mapping");
    /* The lock limit (map.c, map_check_mlock): an explicit LOCKED needs
     * a non-zero limit; a locked map, by mlockall(FUTURE) too, must fit
     * whole (an overwrite is charged in full); a reservation (deny_prot
     * covering RWX) gets no future lock; device memory loses it after
     * the check. */
    unsigned ef = o->flags;
    if ((o->deny_prot & VMAR_PROT_RWX) != VMAR_PROT_RWX)
        ef |= m->lock_future;
    if (o->flags & VMAR_MAP_LOCKED && mlock_zero(m))
        return fail(m, VMAR_EPERM, "lock limit 0");
    if (ef & VMAR_MAP_LOCKED && !mlock_fits(m, o->size))
        return fail(m, VMAR_EAGAIN, "lock limit");
    if (device)
        ef &= ~(unsigned)LOCKF;
    /* Only FIXED can overlap: placement returned a free range. */
    vmar_size_t added = o->size - mapped;
    vmar_size_t total = model_total_vm(m);
    if (c->as_limit && added && total + added > c->as_limit)
        return fail(m, VMAR_ENOMEM, "as limit");
    if (count_refused(m, count_after_replace(m, lo, hi, true)))
        return fail(m, VMAR_ENOMEM, "count limit");

    /* ASSUMPTION (vmar.h is silent; Linux behaves so): POPULATE of a
     * PROT_NONE mapping maps nothing, as no access could use the pages.
     * Device memory is present whatever its permissions (vmar.h). */
    bool populate = ef & (VMAR_MAP_POPULATE | VMAR_MAP_LOCKED) &&
                    !(ef & VMAR_MAP_LOCKONFAULT) && o->prot && !device;
    /* Populating an object: ops->commit of the range first (the
     * driver's makes every page but an unreadable one resident), then
     * get_page page by page up to the object's end; an unreadable page
     * fails the map with its error, and the pages the object got before
     * stay in its cache (they are the object's, not the space's). */
    if (populate && object) {
        struct model_obj *ob = &m->st->obj[obj];
        size_t first = (size_t)(o->offset / PG);
        size_t end = (size_t)((o->offset + o->size) / PG);
        end = end < ob->pages ? end : ob->pages;
        if (ob->bad >= first && ob->bad < end) {
            for (size_t k = first; k < (ob->commit ? end : ob->bad); k++)
                if (k != ob->bad)
                    obj_frame(m->st, obj, k);
            return fail(m, VMAR_EIO, "object page unreadable");
        }
    }
    uint64_t id = object ? obj
                  : !device && o->flags & VMAR_MAP_SHARED
                      ? obj_new(m->st, (size_t)(o->size / PG))
                      : 0;
    const uint64_t base = object ? o->offset : 0;
    uint64_t node = device ? ++m->st->nnode : 0;
    carve(m, lo, hi);
    for (size_t i = lo; i < hi; i++) {
        struct model_page v = {
            .mapped = 1,
            .prot = (uint8_t)o->prot,
            .max_prot = (uint8_t)(VMAR_PROT_RWX & ~o->deny_prot & allows),
            .flags = (uint32_t)(ef & KEPT),
            .backing = (uint8_t)o->backing,
            .populated = device,
            .object = id,
            .objoff = id       ? base + (uint64_t)(i - lo) * PG
                      : device ? o->paddr + (uint64_t)(i - lo) * PG
                               : 0,
            .node = node,
            .cache = (uint8_t)(device ? o->cache : VMAR_CACHE_WB),
        };
        pg_set(m, &m->pg[i], &v);
        /* Object pages up to the object's end (those past it stay
         * absent: zero-fill or ENXIO on their first touch). */
        if (populate && (!id || in_object(m, &m->pg[i])))
            model_touch(m, &m->pg[i]);
    }
    if (out_addr)
        *out_addr = addr;
    return 0;
}

static int unmap_pages(struct model *m, size_t lo, size_t hi)
{
    bool any = false;
    for (size_t i = lo; i < hi; i++)
        any |= m->pg[i].mapped;
    if (!any)
        return 0;
    if (count_refused(m, count_after_replace(m, lo, hi, false)))
        return fail(m, VMAR_ENOMEM, "count limit");
    if (any_sealed(m, lo, hi))
        return fail(m, VMAR_EPERM, "sealed");
    carve(m, lo, hi);
    return 0;
}

int model_unmap(struct model *m, vmar_addr_t addr, vmar_size_t size)
{
    m->why = NULL;
    if (!range_ok(m, addr, size))
        return fail(m, VMAR_EINVAL, "bad range");
    size_t lo = (size_t)((addr - m->cfg.user_lo) / PG);
    return unmap_pages(m, lo, lo + (size_t)(size / PG));
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
        if (m->pg[i].flags & VMAR_MAP_SEALED)
            return fail(m, VMAR_EPERM, "sealed");
    }
    /* Before merging, a mapping whose permissions change is cut where it
     * straddles an end of the range; one that already has `prot` is not. */
    size_t splits = 0;
    bool cut_lo =
        lo > 0 && joins(&m->pg[lo - 1], &m->pg[lo]) && m->pg[lo].prot != prot;
    bool cut_hi = hi < m->npages && joins(&m->pg[hi - 1], &m->pg[hi]) &&
                  m->pg[hi - 1].prot != prot;
    splits = (size_t)cut_lo + (size_t)cut_hi;
    if (count_refused(m, run_count(m) + splits))
        return fail(m, VMAR_ENOMEM, "count limit");
    /* A device mapping cut here stays two (never merged); one whose
     * permissions do not change is not cut at all. */
    for (size_t i = lo; i < hi; i++)
        if (is_device(&m->pg[i]) && m->pg[i].prot != prot &&
            (i == lo || !joins(&m->pg[i - 1], &m->pg[i])))
            dev_cut(m, i);
    for (size_t i = lo; i < hi; i++) {
        if (is_device(&m->pg[i]) && m->pg[i].prot != prot &&
            (i + 1 == hi || !joins(&m->pg[i], &m->pg[i + 1])))
            dev_cut(m, i + 1);
    }
    /* Locked private memory that gains write is populated again for
     * writing (protect.c, locked_gains_write: Linux's mprotect_fixup()),
     * piece by piece of the old layout; past PROTECT_REFILL (8) pieces
     * the last one stretches to the range's end. */
    size_t rlo[8], rhi[8], nref = 0;
    for (size_t i = lo; i < hi && prot & VMAR_PROT_WRITE;) {
        size_t s, e;
        run_around(m, i, &s, &e);
        const struct model_page *p = &m->pg[i];
        if ((p->flags & (LOCKF | VMAR_MAP_SHARED)) == VMAR_MAP_LOCKED &&
            !(p->prot & VMAR_PROT_WRITE)) {
            if (nref == 8) {
                rhi[7] = hi;
                break;
            }
            rlo[nref] = s > lo ? s : lo;
            rhi[nref++] = e < hi ? e : hi;
        }
        i = e;
    }
    for (size_t i = lo; i < hi; i++)
        m->pg[i].prot = (uint8_t)prot;
    for (size_t k = 0; k < nref; k++)
        populate_locked(m, rlo[k], rhi[k], true, NULL);
    return 0;
}

/* ---- advise ---------------------------------------------------------------
 */

static bool advice_known(int advice)
{
    switch (advice) {
    case VMAR_ADVISE_NORMAL:
    case VMAR_ADVISE_RANDOM:
    case VMAR_ADVISE_SEQUENTIAL:
    case VMAR_ADVISE_WILLNEED:
    case VMAR_ADVISE_DONTNEED:
    case VMAR_ADVISE_FREE:
    case VMAR_ADVISE_REMOVE:
    case VMAR_ADVISE_DONTFORK:
    case VMAR_ADVISE_DOFORK:
    case VMAR_ADVISE_HUGEPAGE:
    case VMAR_ADVISE_NOHUGEPAGE:
    case VMAR_ADVISE_DONTDUMP:
    case VMAR_ADVISE_DODUMP:
    case VMAR_ADVISE_WIPEONFORK:
    case VMAR_ADVISE_KEEPONFORK:
    case VMAR_ADVISE_COLD:
    case VMAR_ADVISE_PAGEOUT:
    case VMAR_ADVISE_POPULATE_READ:
    case VMAR_ADVISE_POPULATE_WRITE:
    case VMAR_ADVISE_GUARD_INSTALL:
    case VMAR_ADVISE_GUARD_REMOVE:
        return true;
    default:
        return false;
    }
}

static int populate(struct model *m, size_t lo, size_t hi, unsigned need);

/* vmar_inherit values are advice here, past every vmar_advice value:
 * MODEL_INHERIT + the vmar_inherit value. */
static unsigned advised(unsigned f, int advice)
{
    const unsigned fork = VMAR_MAP_DONTFORK | VMAR_MAP_WIPEONFORK;
    const unsigned huge = VMAR_MAP_HUGEPAGE | VMAR_MAP_NOHUGEPAGE;

    switch (advice) {
    case VMAR_ADVISE_NORMAL:
        return f & ~(unsigned)(VMAR_MAP_SEQUENTIAL | VMAR_MAP_RANDOM);
    case VMAR_ADVISE_RANDOM:
        return (f & ~(unsigned)VMAR_MAP_SEQUENTIAL) | VMAR_MAP_RANDOM;
    case VMAR_ADVISE_SEQUENTIAL:
        return (f & ~(unsigned)VMAR_MAP_RANDOM) | VMAR_MAP_SEQUENTIAL;
    case VMAR_ADVISE_DONTFORK:
        return f | VMAR_MAP_DONTFORK;
    case VMAR_ADVISE_DOFORK:
        return f & ~(unsigned)VMAR_MAP_DONTFORK;
    case VMAR_ADVISE_WIPEONFORK:
        return f | VMAR_MAP_WIPEONFORK;
    case VMAR_ADVISE_KEEPONFORK:
        return f & ~(unsigned)VMAR_MAP_WIPEONFORK;
    case VMAR_ADVISE_DONTDUMP:
        return f | VMAR_MAP_DONTDUMP;
    case VMAR_ADVISE_DODUMP:
        return f & ~(unsigned)VMAR_MAP_DONTDUMP;
    case VMAR_ADVISE_HUGEPAGE:
        return (f & ~huge) | VMAR_MAP_HUGEPAGE;
    case VMAR_ADVISE_NOHUGEPAGE:
        return (f & ~huge) | VMAR_MAP_NOHUGEPAGE;
    case MODEL_INHERIT + VMAR_INHERIT_SHARE:
    case MODEL_INHERIT + VMAR_INHERIT_COPY:
        return f & ~fork;
    case MODEL_INHERIT + VMAR_INHERIT_NONE:
        return (f & ~fork) | VMAR_MAP_DONTFORK;
    case MODEL_INHERIT + VMAR_INHERIT_ZERO:
        return (f & ~fork) | VMAR_MAP_WIPEONFORK;
    default:
        return f;
    }
}

/* Kinds of memory, for the refusals of model_advise (vmar.h, vmar_advise
 * and vmar_inherit): device, private anonymous, private object, shared,
 * shared that may never be written. */
enum {
    K_DEV = 1,
    K_PANON = 2,
    K_POBJ = 4,
    K_SHARED = 8,
    K_SHARED_NOWRITE = 16,
    K_LOCKED = 32, /* with its kind: VMAR_MAP_LOCKED (never device) */
};

static unsigned page_kind(const struct model_page *p)
{
    const unsigned locked = p->flags & VMAR_MAP_LOCKED ? K_LOCKED : 0u;

    if (is_device(p))
        return K_DEV;
    if (!is_shared(p))
        return locked | (p->object ? K_POBJ : K_PANON);
    return locked |
           (p->max_prot & VMAR_PROT_WRITE ? K_SHARED
                                          : K_SHARED | K_SHARED_NOWRITE);
}

/* What `advice` refuses, by kind: EINVAL, then EACCES. */
static void advice_refuses(int advice, unsigned *einval, unsigned *eacces)
{
    const unsigned not_panon = K_DEV | K_POBJ | K_SHARED;

    *einval = *eacces = 0;
    switch (advice) {
    case VMAR_ADVISE_DONTNEED: /* Linux: EINVAL on VM_LOCKED too */
    case VMAR_ADVISE_COLD:
    case VMAR_ADVISE_PAGEOUT:
    case VMAR_ADVISE_GUARD_INSTALL:
        *einval = K_DEV | K_LOCKED;
        break;
    case VMAR_ADVISE_FREE:
        *einval = not_panon | K_LOCKED;
        break;
    case VMAR_ADVISE_DOFORK:
    case VMAR_ADVISE_DODUMP:
    case VMAR_ADVISE_HUGEPAGE:
    case VMAR_ADVISE_NOHUGEPAGE:
        *einval = K_DEV;
        break;
    case VMAR_ADVISE_WIPEONFORK:
    case MODEL_INHERIT + VMAR_INHERIT_ZERO:
        *einval = not_panon;
        break;
    case VMAR_ADVISE_REMOVE:
        *einval = K_DEV | K_PANON | K_LOCKED;
        *eacces = K_POBJ | K_SHARED_NOWRITE;
        break;
    case MODEL_INHERIT + VMAR_INHERIT_SHARE:
        *einval = K_PANON | K_POBJ;
        break;
    case MODEL_INHERIT + VMAR_INHERIT_COPY:
        *einval = K_DEV | K_SHARED;
        break;
    case VMAR_ADVISE_GUARD_REMOVE:
        *einval = K_DEV;
        break;
    default:
        break;
    }
}

/* The page loses its translation: private memory reads as zero (or as
 * its object) again, shared memory refaults from its object. */
static void page_drop(struct model *m, size_t i)
{
    struct model_page v = m->pg[i];
    v.populated = 0;
    if (!v.object || !is_shared(&v) || v.orphan) {
        v.orphan = 0;
        m->obj_reverts += v.object && v.frame && in_object(m, &v);
        v.tag = 0;
        v.frame = 0;
    }
    pg_set(m, &m->pg[i], &v);
}

int model_advise(struct model *m, vmar_addr_t addr, vmar_size_t size,
                 int advice)
{
    const bool remove = advice == VMAR_ADVISE_REMOVE;
    const bool install = advice == VMAR_ADVISE_GUARD_INSTALL;
    const bool drops = advice == VMAR_ADVISE_DONTNEED ||
                       advice == VMAR_ADVISE_FREE || remove || install;
    /* vmar.h, VMAR_MAP_SEALED: discarding advice is refused on sealed
     * read-only private anonymous memory; a guard install drops pages. */
    const bool discards = drops || advice == VMAR_ADVISE_DONTFORK ||
                          advice == VMAR_ADVISE_WIPEONFORK ||
                          advice == MODEL_INHERIT + VMAR_INHERIT_NONE ||
                          advice == MODEL_INHERIT + VMAR_INHERIT_ZERO;
    const bool inherit =
        advice >= MODEL_INHERIT && advice <= MODEL_INHERIT + VMAR_INHERIT_ZERO;
    unsigned einval, eacces;

    m->why = NULL;
    if (!range_ok(m, addr, size) || (!inherit && !advice_known(advice)))
        return fail(m, VMAR_EINVAL, "bad range or advice");
    advice_refuses(advice, &einval, &eacces);
    size_t lo = (size_t)((addr - m->cfg.user_lo) / PG);
    size_t hi = lo + (size_t)(size / PG);
    if (advice == VMAR_ADVISE_POPULATE_READ ||
        advice == VMAR_ADVISE_POPULATE_WRITE)
        return populate(m, lo, hi,
                        advice == VMAR_ADVISE_POPULATE_WRITE ? VMAR_PROT_WRITE
                                                             : VMAR_PROT_READ);
    /* Mapping by mapping in address order: a hole is ENOMEM, a seal EPERM,
     * a kind of memory the advice refuses EINVAL or EACCES, whichever
     * comes first. */
    for (size_t i = lo; i < hi; i++) {
        const struct model_page *p = &m->pg[i];
        if (!p->mapped)
            return fail(m, VMAR_ENOMEM, "hole");
        if (discards && p->flags & VMAR_MAP_SEALED &&
            p->backing == VMAR_BACKING_ANON && !is_shared(p) &&
            !(p->prot & VMAR_PROT_WRITE))
            return fail(m, VMAR_EPERM, "discard sealed read-only anon");
        if (page_kind(p) & einval)
            return fail(m, VMAR_EINVAL,
                        page_kind(p) & einval & K_LOCKED
                            ? "advice refused on locked memory"
                            : "advice this memory refuses");
        if (page_kind(p) & eacces)
            return fail(m, VMAR_EACCES, "remove on memory not shared writable");
        if (remove && m->st->obj[p->object].nopunch)
            return fail(m, VMAR_ENOTSUP, "remove: the object cannot punch");
    }
    if (advice == VMAR_ADVISE_WILLNEED || advice == VMAR_ADVISE_COLD ||
        advice == VMAR_ADVISE_PAGEOUT)
        return 0;
    if (advice == VMAR_ADVISE_GUARD_REMOVE) {
        for (size_t i = lo; i < hi; i++)
            m->pg[i].guard = 0;
        return 0;
    }
    if (drops) {
        /* Private memory reads as zero (or as its object) again; shared
         * memory refaults from its object, which keeps the page (REMOVE:
         * model_punch then empties the object's pages). A marker survives
         * every drop; an install adds one. */
        for (size_t i = lo; i < hi; i++) {
            page_drop(m, i);
            if (install)
                m->pg[i].guard = 1;
        }
        return 0;
    }
    bool cut_lo = lo > 0 && joins(&m->pg[lo - 1], &m->pg[lo]) &&
                  advised(m->pg[lo].flags, advice) != m->pg[lo].flags;
    bool cut_hi = hi < m->npages && joins(&m->pg[hi - 1], &m->pg[hi]) &&
                  advised(m->pg[hi - 1].flags, advice) != m->pg[hi - 1].flags;
    if (count_refused(m, run_count(m) + (size_t)cut_lo + (size_t)cut_hi))
        return fail(m, VMAR_ENOMEM, "count limit");
    for (size_t i = lo; i < hi; i++)
        if (is_device(&m->pg[i]) &&
            advised(m->pg[i].flags, advice) != m->pg[i].flags &&
            (i == lo || !joins(&m->pg[i - 1], &m->pg[i])))
            dev_cut(m, i);
    for (size_t i = lo; i < hi; i++)
        if (is_device(&m->pg[i]) &&
            advised(m->pg[i].flags, advice) != m->pg[i].flags &&
            (i + 1 == hi || !joins(&m->pg[i], &m->pg[i + 1])))
            dev_cut(m, i + 1);
    for (size_t i = lo; i < hi; i++)
        m->pg[i].flags = (uint32_t)advised(m->pg[i].flags, advice);
    return 0;
}

void model_punch(struct model *const *ms, size_t n, struct model *m,
                 vmar_addr_t addr, vmar_size_t size)
{
    size_t lo = (size_t)((addr - m->cfg.user_lo) / PG);
    size_t hi = lo + (size_t)(size / PG);

    for (size_t i = lo; i < hi; i++) {
        const struct model_page *p = &m->pg[i];
        const uint64_t obj = p->object;
        const size_t k = (size_t)(p->objoff / PG);
        /* The space's other leaves of the page go (a private page keeps
         * its own copy; an orphan's frame is no anonymous one: it goes
         * too), then the object forgets it, orphaning other spaces'. */
        for (size_t j = 0; j < m->npages; j++) {
            const struct model_page *q = &m->pg[j];
            if (q->mapped && q->object == obj && q->objoff / PG == k &&
                q->populated && (!q->frame || q->orphan))
                page_drop(m, j);
        }
        if (k < m->st->obj[obj].pages)
            obj_forget(ms, n, obj, k);
    }
}

void model_object_nopunch(struct model *m, uint64_t obj)
{
    m->st->obj[obj].nopunch = true;
}

/* ---- remap, resize --------------------------------------------------------
 */

/* vmar_remap, transcribed from vmar.h and src/core/remap.c (Linux's
 * mm/mremap.c errno order), over pages. *grown: the locked mapping grew
 * by [*grown_lo, *grown_hi) (page indices), to populate after the call. */
static int remap_inner(struct model *m, vmar_addr_t old, vmar_size_t old_size,
                       vmar_size_t new_size, unsigned flags,
                       vmar_addr_t new_addr, vmar_addr_t *out_addr, bool *grown)
{
    const struct model_cfg *c = &m->cfg;
    const unsigned known =
        VMAR_REMAP_MAYMOVE | VMAR_REMAP_FIXED | VMAR_REMAP_DONTUNMAP;
    const bool fixed = flags & VMAR_REMAP_FIXED;
    const bool dontunmap = flags & VMAR_REMAP_DONTUNMAP;

    m->why = NULL;
    if (flags & ~known)
        return fail(m, VMAR_EINVAL, "unknown remap flags");
    if ((fixed || dontunmap) && !(flags & VMAR_REMAP_MAYMOVE))
        return fail(m, VMAR_EINVAL, "fixed/dontunmap without maymove");
    if (dontunmap && old_size != new_size)
        return fail(m, VMAR_EINVAL, "dontunmap resizes");
    if (old % PG)
        return fail(m, VMAR_EINVAL, "unaligned old");
    /* Sizes round up to a page. */
    vmar_size_t os = (old_size + PG - 1) & ~(vmar_size_t)(PG - 1);
    vmar_size_t ns = (new_size + PG - 1) & ~(vmar_size_t)(PG - 1);
    if (os < old_size || ns < new_size || !os || !ns)
        return fail(m, VMAR_EINVAL, "zero or wrapping size");
    if (fixed) {
        if (new_addr % PG || !range_ok(m, new_addr, ns))
            return fail(m, VMAR_EINVAL, "bad fixed target");
        if (new_addr < old + os && old < new_addr + ns)
            return fail(m, VMAR_EINVAL, "target overlaps source");
    }
    /* The source: mapped from old on without holes; one mapping when the
     * size changes, several (any, contiguous) for a pure move. */
    const vmar_addr_t hi = old + os;
    if (hi < old || old < c->user_lo || hi > c->user_hi)
        return fail(m, VMAR_EFAULT, "source outside user range");
    const size_t lo_i = (size_t)((old - c->user_lo) / PG);
    const size_t hi_i = (size_t)((hi - c->user_lo) / PG);
    if (!m->pg[lo_i].mapped)
        return fail(m, VMAR_EFAULT, "no mapping at old");
    size_t first_s, first_e, pieces = 0, covered = lo_i, last_e = lo_i;
    run_around(m, lo_i, &first_s, &first_e);
    for (size_t i = first_s; i < hi_i;) {
        size_t s, e;
        if (!m->pg[i].mapped) {
            i++;
            continue;
        }
        run_around(m, i, &s, &e);
        if (s > covered)
            return fail(m, VMAR_EFAULT, "hole in source");
        if (m->pg[i].flags & VMAR_MAP_SEALED)
            return fail(m, VMAR_EPERM, "sealed source");
        if (dontunmap && (m->pg[i].object || is_device(&m->pg[i])))
            return fail(m, VMAR_EINVAL, "dontunmap on shared or device");
        covered = e;
        last_e = e;
        pieces++;
        i = e;
    }
    if (covered < hi_i)
        return fail(m, VMAR_EFAULT, "hole in source");
    const unsigned cuts =
        (first_s < lo_i ? 1u : 0u) + (last_e > hi_i ? 1u : 0u);
    if (pieces > 1 && os != ns)
        return fail(m, VMAR_EFAULT, "resize across mappings");
    if (ns > os && is_device(&m->pg[lo_i]))
        return fail(m, VMAR_EFAULT, "device grows");
    /* Growth of a locked mapping must fit the lock limit (Linux's
     * resize_is_valid()); its new pages are populated afterwards. */
    if (ns > os && m->pg[lo_i].flags & VMAR_MAP_LOCKED) {
        if (!mlock_fits(m, ns - os))
            return fail(m, VMAR_EAGAIN, "lock limit");
        *grown = true;
    }

    const bool may_stay = !fixed && !dontunmap;
    if (may_stay && ns <= os) {
        int rc = 0;
        if (ns < os)
            rc = unmap_pages(m, lo_i + (size_t)(ns / PG), hi_i);
        if (!rc && out_addr)
            *out_addr = old;
        return rc;
    }
    const vmar_size_t added_grow = ns > os ? ns - os : 0;
    const vmar_size_t total = model_total_vm(m);
    const size_t runs = run_count(m);
    if (may_stay && first_e == hi_i && ns - os <= c->user_hi - hi) {
        bool free_after = true;
        for (size_t i = hi_i; i < lo_i + ns / PG; i++)
            free_after &= !m->pg[i].mapped;
        if (free_after) {
            if (c->as_limit && added_grow &&
                (total > c->as_limit || added_grow > c->as_limit - total))
                return fail(m, VMAR_ENOMEM, "as limit");
            const struct model_page *last = &m->pg[hi_i - 1];
            for (size_t i = hi_i; i < lo_i + ns / PG; i++) {
                struct model_page v = *last;
                v.populated = 0;
                v.tag = 0;
                v.frame = 0;
                v.orphan = 0;
                v.guard = 0; /* new pages: no marker */
                if (v.object)
                    v.objoff = last->objoff + (uint64_t)(i - hi_i + 1) * PG;
                pg_set(m, &m->pg[i], &v);
            }
            if (out_addr)
                *out_addr = old;
            return 0;
        }
    }
    if (!(flags & VMAR_REMAP_MAYMOVE))
        return fail(m, VMAR_ENOMEM, "cannot grow in place");

    /* The target: exactly new_addr, or placed like a map of new_size (a
     * stack keeps its guard) while the source is still mapped. */
    vmar_addr_t to = new_addr;
    size_t removed = 0;
    bool needs_node = false;
    vmar_size_t tmapped = 0;
    if (fixed) {
        size_t tlo = (size_t)((to - c->user_lo) / PG), thi = tlo + ns / PG;
        for (size_t i = 0; i < m->npages;) {
            size_t s, e;
            if (!m->pg[i].mapped) {
                i++;
                continue;
            }
            run_around(m, i, &s, &e);
            if (s < thi && e > tlo) {
                if (s < tlo && e > thi)
                    needs_node = true;
                else if (s >= tlo && e <= thi)
                    removed++;
            }
            i = e;
        }
        for (size_t i = tlo; i < thi; i++)
            tmapped += m->pg[i].mapped ? PG : 0;
    } else {
        struct vmar_map_opts o = {.size = ns,
                                  .place = VMAR_PLACE_ANY,
                                  .flags = m->pg[lo_i].flags & GUARDED};
        if (place(m, &o, PG, &to))
            return fail(m, VMAR_ENOMEM, "no fit");
    }
    /* Limits as remap.c's remap_limits counts them (before merging; a
     * FIXED target that trims the source's own mapping may be charged
     * one mapping too many, never too few). */
    vmar_size_t added = added_grow;
    size_t count = runs;
    if (dontunmap) {
        added += os;
        count += pieces;
    }
    added -= added < tmapped ? added : tmapped;
    count += cuts + (needs_node ? 1u : 0u);
    count -= count < removed ? count : removed;
    if (c->as_limit && added &&
        (total > c->as_limit || added > c->as_limit - total))
        return fail(m, VMAR_ENOMEM, "as limit");
    if (count > c->max_map_count && count > runs)
        return fail(m, VMAR_ENOMEM, "count limit");
    if (fixed && any_sealed(m, (size_t)((to - c->user_lo) / PG),
                            (size_t)((to - c->user_lo) / PG) + ns / PG))
        return fail(m, VMAR_EPERM, "fixed target over a sealed mapping");

    /* Commit: contents, residency, frames and object offsets move with
     * the pages; the source becomes a hole, or with DONTUNMAP stays
     * mapped and empty; growth continues the last page. */
    const size_t len = (size_t)((os < ns ? os : ns) / PG);
    const size_t tlo = (size_t)((to - c->user_lo) / PG);
    struct model_page *save = xcalloc(len, sizeof(*save));
    dev_cut(m, lo_i);
    dev_cut(m, hi_i);
    memcpy(save, &m->pg[lo_i], len * sizeof(*save));
    carve(m, tlo, tlo + (size_t)(ns / PG));
    for (size_t k = 0; k < len; k++)
        pg_set(m, &m->pg[tlo + k], &save[k]);
    for (size_t k = len; k < ns / PG; k++) {
        struct model_page v = save[len - 1];
        v.populated = 0;
        v.tag = 0;
        v.frame = 0;
        v.orphan = 0;
        v.guard = 0;
        if (v.object)
            v.objoff = save[len - 1].objoff + (uint64_t)(k - len + 1) * PG;
        pg_set(m, &m->pg[tlo + k], &v);
    }
    carve(m, lo_i + len, hi_i);
    for (size_t k = 0; k < len; k++) {
        if (dontunmap) {
            struct model_page v = save[k];
            v.flags &= ~(uint32_t)LOCKF; /* the lock moved to the target */
            v.populated = 0;
            v.tag = 0;
            v.frame = 0;
            v.orphan = 0;
            v.guard = 0; /* moved with the pages */
            pg_set(m, &m->pg[lo_i + k], &v);
        } else {
            pg_clear(m, &m->pg[lo_i + k]);
        }
    }
    free(save);
    if (out_addr)
        *out_addr = to;
    return 0;
}

int model_remap(struct model *m, vmar_addr_t old, vmar_size_t old_size,
                vmar_size_t new_size, unsigned flags, vmar_addr_t new_addr,
                vmar_addr_t *out_addr)
{
    vmar_addr_t at = 0;
    bool grown = false;
    int rc =
        remap_inner(m, old, old_size, new_size, flags, new_addr, &at, &grown);

    if (rc == 0 && grown) {
        /* remap_inner checked the sizes: both round to pages. */
        const size_t first = (size_t)((at - m->cfg.user_lo) / PG);
        populate_locked(m, first + (size_t)((old_size + PG - 1) / PG),
                        first + (size_t)((new_size + PG - 1) / PG), true, NULL);
    }
    if (rc == 0 && out_addr)
        *out_addr = at;
    return rc;
}

int model_resize(struct model *m, vmar_addr_t addr, vmar_size_t old_size,
                 vmar_size_t new_size)
{
    m->why = NULL;
    if (!range_ok(m, addr, old_size) || !range_ok(m, addr, new_size))
        return fail(m, VMAR_EINVAL, "bad range");
    size_t i = (size_t)((addr - m->cfg.user_lo) / PG), s, e;
    if (!m->pg[i].mapped)
        return fail(m, VMAR_EFAULT, "not one mapping");
    run_around(m, i, &s, &e);
    if (s != i || (vmar_size_t)(e - s) * PG != old_size)
        return fail(m, VMAR_EFAULT, "not one mapping");
    return model_remap(m, addr, old_size, new_size, 0, 0, NULL);
}

int model_seal(struct model *m, vmar_addr_t addr, vmar_size_t size)
{
    const unsigned sl = VMAR_MAP_SEALED;

    m->why = NULL;
    if (!range_ok(m, addr, size))
        return fail(m, VMAR_EINVAL, "bad range");
    size_t lo = (size_t)((addr - m->cfg.user_lo) / PG);
    size_t hi = lo + (size_t)(size / PG);
    for (size_t i = lo; i < hi; i++)
        if (!m->pg[i].mapped)
            return fail(m, VMAR_ENOMEM, "hole");
    /* A mapping straddling an end is cut unless it is sealed already. */
    bool cut_lo =
        lo > 0 && joins(&m->pg[lo - 1], &m->pg[lo]) && !(m->pg[lo].flags & sl);
    bool cut_hi = hi < m->npages && joins(&m->pg[hi - 1], &m->pg[hi]) &&
                  !(m->pg[hi - 1].flags & sl);
    if (count_refused(m, run_count(m) + (size_t)cut_lo + (size_t)cut_hi))
        return fail(m, VMAR_ENOMEM, "count limit");
    for (size_t i = lo; i < hi; i++)
        if (is_device(&m->pg[i]) && !(m->pg[i].flags & sl) &&
            (i == lo || !joins(&m->pg[i - 1], &m->pg[i])))
            dev_cut(m, i);
    for (size_t i = lo; i < hi; i++)
        if (is_device(&m->pg[i]) && !(m->pg[i].flags & sl) &&
            (i + 1 == hi || !joins(&m->pg[i], &m->pg[i + 1])))
            dev_cut(m, i + 1);
    for (size_t i = lo; i < hi; i++)
        m->pg[i].flags = (uint32_t)(m->pg[i].flags | sl);
    return 0;
}

void model_clear(struct model *m)
{
    m->why = NULL;
    m->lock_future = 0; /* exec's new mm */
    for (size_t i = 0; i < m->npages; i++)
        pg_clear(m, &m->pg[i]);
}

int model_fork(struct model *child, const struct model *parent)
{
    memset(child, 0, sizeof(*child));
    child->cfg = parent->cfg;
    child->npages = parent->npages;
    child->pg = calloc(parent->npages, sizeof(*child->pg));
    if (!child->pg)
        return -1;
    child->st = parent->st;
    child->st->users++;
    /* The lock limit comes with cfg; lock flags, mlockall(FUTURE) and
     * pins stay with the parent (Linux's dup_mmap() clears
     * VM_LOCKED_MASK). */
    /* Private pages share their frames (identities) until written; shared
     * objects are the same objects; device pages are mapped again;
     * DONTFORK mappings stay behind, WIPEONFORK ones come empty. */
    for (size_t i = 0; i < parent->npages; i++) {
        const struct model_page *p = &parent->pg[i];
        if (!p->mapped || p->flags & VMAR_MAP_DONTFORK)
            continue;
        struct model_page v = *p;
        v.flags &= ~(uint32_t)LOCKF;
        if (p->flags & VMAR_MAP_WIPEONFORK) {
            /* Private anonymous memory that comes empty, without guard
             * markers (Linux 6.18: checked on the host). */
            v.populated = 0;
            v.frame = 0;
            v.tag = 0;
            v.guard = 0;
        } else if (p->populated && p->frame && !p->orphan && !is_shared(p) &&
                   child->st->fpins[p->frame]) {
            /* A DMA-pinned private anonymous page: the child gets a copy
             * at once, the parent keeps its frame (fork.c, copy_pinned;
             * Linux's page_needs_cow_for_dma()). */
            v.frame = frame_new(child->st);
            child->pin_copies++;
        }
        pg_set(child, &child->pg[i], &v);
    }
    return 0;
}

void model_set_stack_limit(struct model *m, vmar_size_t limit)
{
    m->cfg.stack_limit = limit;
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
                              .backing = m->pg[i].backing,
                              .offset = m->pg[s].objoff,
                              .object = m->pg[i].object,
                              .cache = m->pg[i].cache};
    for (size_t k = s; k < e; k++)
        out->populated += m->pg[k].populated;
    return 0;
}

/* Every present translation, device pages included (vmar.h). */
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

/* An absent page past its object's end that may not be zero-filled:
 * shared memory, or a private mapping with VMAR_MAP_EOF_FAULT (SIGBUS). */
static bool past_end(const struct model *m, const struct model_page *p)
{
    return p->object && !p->populated && !in_object(m, p) &&
           (is_shared(p) || p->flags & VMAR_MAP_EOF_FAULT);
}

/* A read or execute fault on the absent page i of a FAULT_AROUND object
 * mapping also maps the pages of its aligned 16-page window, inside the
 * mapping and before the object's end, whose object page is in memory
 * and that have no translation (src/core/fault.c, fault_around). */
static void fault_around(struct model *m, size_t i)
{
    const vmar_addr_t span = 16 * PG;
    size_t s, e;

    run_around(m, i, &s, &e);
    vmar_addr_t va = addr_of(m, i), w = va & ~(span - 1);
    vmar_addr_t lo = w > addr_of(m, s) ? w : addr_of(m, s);
    vmar_addr_t hi = w + span < addr_of(m, e) ? w + span : addr_of(m, e);
    for (vmar_addr_t at = lo; at < hi; at += PG) {
        struct model_page *q = &m->pg[(at - m->cfg.user_lo) / PG];
        if (at == va || q->populated || q->guard || !in_object(m, q) ||
            !m->st->obj[q->object].frame[q->objoff / PG])
            continue;
        model_touch(m, q);
        m->faulted_around++;
    }
}

/* Touch page p for an access needing `need` (vmar_prot bit). */
static void touch_for(struct model *m, struct model_page *p, unsigned need)
{
    bool around = !p->populated && need != VMAR_PROT_WRITE && p->object &&
                  p->flags & VMAR_MAP_FAULT_AROUND;
    model_touch(m, p);
    if (around)
        fault_around(m, (size_t)(p - m->pg));
    if (need == VMAR_PROT_WRITE)
        model_written(m, p);
}

/* An absent page whose object page cannot be read (get_page: EIO). */
static bool unreadable(const struct model *m, const struct model_page *p)
{
    return !p->populated && in_object(m, p) &&
           p->objoff / PG == m->st->obj[p->object].bad;
}

/* vmar_fault() of the free page i: when the mapping above the hole
 * grows down, EAGAIN without VMAR_FAULT_EXCLUSIVE (the model's spaces
 * run with the embedder's lock, none of libvmar's), else the growth of
 * src/core/stack.c: refused (ENOENT) when an accessible mapping below
 * that does not grow down would lie closer than the stack guard, past
 * the stack limit or the address-space limit; otherwise the pages from
 * i up to the stack become the stack's (absent), 0. Not a stack: 0 and
 * nothing done (the caller reports the hole). */
static int grow(struct model *m, size_t i, unsigned flags)
{
    size_t top = i, below = i;

    while (top < m->npages && !m->pg[top].mapped)
        top++;
    if (top == m->npages || !(m->pg[top].flags & VMAR_MAP_GROWSDOWN))
        return 0;
    if (!(flags & VMAR_FAULT_EXCLUSIVE))
        return fail(m, VMAR_EAGAIN, "stack growth needs the lock exclusive");
    while (below > 0 && !m->pg[below - 1].mapped)
        below--;
    /* below: the first free page above the mapping below (or 0). */
    if (below > 0) {
        const struct model_page *b = &m->pg[below - 1];
        if (!(b->flags & VMAR_MAP_GROWSDOWN) && b->prot &&
            (i - below) * PG < m->cfg.stack_guard)
            return fail(m, VMAR_ENOENT, "stack guard");
    }
    size_t s, e;
    run_around(m, top, &s, &e);
    if (m->cfg.stack_limit && (e - i) * PG > m->cfg.stack_limit)
        return fail(m, VMAR_ENOENT, "stack limit");
    if (m->cfg.as_limit && model_total_vm(m) + (top - i) * PG > m->cfg.as_limit)
        return fail(m, VMAR_ENOENT, "as limit (stack)");
    if (m->pg[top].flags & VMAR_MAP_LOCKED && !mlock_fits(m, (top - i) * PG))
        return fail(m, VMAR_ENOENT, "lock limit (stack)");
    struct model_page v = m->pg[top];
    v.populated = 0;
    v.tag = 0;
    v.frame = 0;
    v.guard = 0; /* new pages: no marker (the stack's first may have one) */
    for (size_t k = i; k < top; k++)
        pg_set(m, &m->pg[k], &v);
    m->stack_growths++;
    return 0;
}

int model_grow(struct model *m, vmar_addr_t addr, unsigned flags)
{
    struct model_page *p = model_page_at(m, addr);

    m->why = NULL;
    return p && !p->mapped ? grow(m, (size_t)(p - m->pg), flags) : 0;
}

/* What refuses a fault of the mapped page p that its mapping allows, in
 * vmar_fault()'s order: a guard marker, then the object's errors. */
static int fault_refusal(struct model *m, const struct model_page *p)
{
    if (p->guard)
        return fail(m, VMAR_EFAULT, "guard marker");
    if (past_end(m, p))
        return fail(m, VMAR_ENXIO, "past the object's end");
    if (unreadable(m, p))
        return fail(m, VMAR_EIO, "object page unreadable");
    return 0;
}

int model_fault(struct model *m, vmar_addr_t addr, unsigned access,
                unsigned flags)
{
    struct model_page *p;

    m->why = NULL;
    /* fault.h: access is exactly one vmar_access value; flags known
     * (VMAR_FAULT_EXCLUSIVE is: the model's spaces have no lock of
     * libvmar's, and no mapping of theirs grows down). */
    if (flags & ~(unsigned)(VMAR_FAULT_USER | VMAR_FAULT_EXCLUSIVE) ||
        (access != VMAR_ACCESS_READ && access != VMAR_ACCESS_WRITE &&
         access != VMAR_ACCESS_EXEC))
        return fail(m, VMAR_EINVAL, "bad access or flags");
    p = model_page_at(m, addr);
    if (p && !p->mapped) {
        int rc = grow(m, (size_t)(p - m->pg), flags);
        if (rc)
            return rc;
    }
    if (!p || !p->mapped)
        return fail(m, VMAR_ENOENT, "no mapping");
    if (!(p->prot & vmar_access_prot(access)))
        return fail(m, VMAR_EACCES, "access denied");
    int rc = fault_refusal(m, p);
    if (rc)
        return rc;
    touch_for(m, p, vmar_access_prot(access));
    return 0;
}

/* Whether page p allows an access needing `need`; a forced one (fault.h,
 * VMAR_RW_FORCE) needs it in the maximum only, and a forced write without
 * WRITE private memory. */
static bool allows(const struct model_page *p, unsigned need, bool force)
{
    if (p->prot & need)
        return true;
    if (!force || !(p->max_prot & need))
        return false;
    return need != VMAR_PROT_WRITE || (!is_shared(p) && !is_device(p));
}

int model_access(struct model *m, vmar_addr_t addr, uint64_t len, unsigned need,
                 bool copy, uint64_t *done)
{
    return model_access_force(m, addr, len, need, copy, false, done);
}

/* POPULATE_READ / _WRITE over the pages [lo, hi): in order, a hole is
 * ENOMEM, a device page or one without the permission EINVAL, then the
 * fault's errors; the pages before a failure stay populated. */
static int populate(struct model *m, size_t lo, size_t hi, unsigned need)
{
    for (size_t i = lo; i < hi; i++) {
        struct model_page *p = &m->pg[i];
        if (!p->mapped)
            return fail(m, VMAR_ENOMEM, "populate: hole");
        if (is_device(p) || !(p->prot & need))
            return fail(m, VMAR_EINVAL, "populate: refused mapping");
        if (p->guard) /* as a fault: before the object's checks */
            return fail(m, VMAR_EFAULT, "populate: guard marker");
        if (past_end(m, p))
            return fail(m, VMAR_ENXIO, "past the object's end");
        if (unreadable(m, p))
            return fail(m, VMAR_EIO, "object page unreadable");
        touch_for(m, p, need);
    }
    return 0;
}

int model_access_force(struct model *m, vmar_addr_t addr, uint64_t len,
                       unsigned need, bool copy, bool force, uint64_t *done)
{
    uint64_t off = 0;

    m->why = NULL;
    while (off < len) {
        vmar_addr_t va = addr + off;
        uint64_t n = PG - (va % PG);
        struct model_page *p = model_page_at(m, va);
        if (n > len - off)
            n = len - off;
        /* A simulated CPU faults as vmar_fault(VMAR_FAULT_USER): below
         * a grow-down mapping that is VMAR_EAGAIN (a user copy never
         * grows a stack). */
        if (!copy && p && !p->mapped && grow(m, (size_t)(p - m->pg), 0)) {
            *done = off;
            return VMAR_EAGAIN;
        }
        if (!p || !p->mapped) {
            *done = off;
            return fail(m, VMAR_ENOENT, "no mapping");
        }
        if (!allows(p, need, force)) {
            *done = off;
            return fail(m, VMAR_EACCES, "access denied");
        }
        if (p->guard) {
            *done = off;
            return fail(m, VMAR_EFAULT, "guard marker");
        }
        if (past_end(m, p)) {
            *done = off;
            return fail(m, VMAR_ENXIO, "past the object's end");
        }
        if (unreadable(m, p)) {
            *done = off;
            return fail(m, VMAR_EIO, "object page unreadable");
        }
        if (copy && is_device(p)) {
            *done = off;
            return fail(m, VMAR_EFAULT, "copy from device memory");
        }
        touch_for(m, p, need);
        off += n;
    }
    *done = off;
    return 0;
}

/* ---- the mlock family (src/core/mlock.c) --------------------------------- */

/* The access that populates a locked page (fault.c, locked_access):
 * writable private memory is written (copy-on-write broken), shared
 * writable memory read unless it can only be written; 0 for PROT_NONE. */
static unsigned locked_need(const struct model_page *p)
{
    if (p->prot & VMAR_PROT_WRITE &&
        (!is_shared(p) || !(p->prot & VMAR_PROT_READ)))
        return VMAR_PROT_WRITE;
    if (p->prot & VMAR_PROT_READ)
        return VMAR_PROT_READ;
    return p->prot & VMAR_PROT_EXEC ? (unsigned)VMAR_PROT_EXEC : 0u;
}

/* vmar__populate_locked over the pages [lo, hi): mapping by mapping in
 * address order, skipping holes, device memory, LOCKONFAULT mappings
 * and (`after_change`) unlocked ones; a PROT_NONE mapping is VMAR_EFAULT,
 * else each page faults as vmar_fault() does, a mapping stopping at its
 * first failing page. Without `after_change` the first error ends it
 * (in *rc); with it every mapping is tried and errors are dropped. */
static void populate_locked(struct model *m, size_t lo, size_t hi,
                            bool after_change, int *rc)
{
    int err = 0;

    for (size_t i = lo; i < hi && (err == 0 || after_change);) {
        size_t s, e;
        if (!m->pg[i].mapped) {
            i++;
            continue;
        }
        run_around(m, i, &s, &e);
        e = e < hi ? e : hi;
        const struct model_page *r = &m->pg[i];
        const unsigned need = locked_need(r);
        err = 0;
        if (is_device(r) || r->flags & VMAR_MAP_LOCKONFAULT ||
            (after_change && !(r->flags & VMAR_MAP_LOCKED))) {
            i = e;
            continue;
        }
        if (!need)
            err = fail(m, VMAR_EFAULT, "lock: PROT_NONE mapping");
        for (; i < e && !err; i++) {
            struct model_page *p = &m->pg[i];
            err = fault_refusal(m, p);
            if (!err) {
                m->lock_populated += !p->populated;
                touch_for(m, p, need);
            }
        }
        i = e;
    }
    if (rc)
        *rc = after_change ? 0 : err;
}

/* Whether setting the lock flags to `set` changes page p (device memory
 * never takes them: protect.c, attr_differs). */
static bool lock_differs(const struct model_page *p, unsigned set)
{
    return !is_device(p) && ((p->flags & ~(unsigned)LOCKF) | set) != p->flags;
}

/* Set (or clear, `set` 0) the lock flags of [lo, hi) (page indices), as
 * vmar__attr_change: a hole is VMAR_ENOMEM, mappings straddling an end
 * that change are cut (the count limit), then they merge. */
static int lock_range(struct model *m, size_t lo, size_t hi, unsigned set)
{
    for (size_t i = lo; i < hi; i++)
        if (!m->pg[i].mapped)
            return fail(m, VMAR_ENOMEM, "hole");
    bool cut_lo = lo > 0 && joins(&m->pg[lo - 1], &m->pg[lo]) &&
                  lock_differs(&m->pg[lo], set);
    bool cut_hi = hi < m->npages && joins(&m->pg[hi - 1], &m->pg[hi]) &&
                  lock_differs(&m->pg[hi - 1], set);
    if (count_refused(m, run_count(m) + (size_t)cut_lo + (size_t)cut_hi))
        return fail(m, VMAR_ENOMEM, "count limit");
    for (size_t i = lo; i < hi; i++)
        if (!is_device(&m->pg[i]))
            m->pg[i].flags = (m->pg[i].flags & ~(uint32_t)LOCKF) | set;
    return 0;
}

int model_mlock(struct model *m, vmar_addr_t addr, vmar_size_t size,
                unsigned flags)
{
    const unsigned set =
        VMAR_MAP_LOCKED |
        (flags & VMAR_MLOCK_ONFAULT ? (unsigned)VMAR_MAP_LOCKONFAULT : 0u);

    m->why = NULL;
    if (flags & ~(unsigned)(VMAR_MLOCK_ONFAULT | VMAR_MLOCK_NOPOPULATE))
        return fail(m, VMAR_EINVAL, "unknown mlock flags");
    if (mlock_zero(m))
        return fail(m, VMAR_EPERM, "lock limit 0");
    if (!range_ok(m, addr, size))
        return fail(m, VMAR_EINVAL, "bad range");
    size_t lo = (size_t)((addr - m->cfg.user_lo) / PG);
    size_t hi = lo + (size_t)(size / PG);
    /* What the range adds: its size less its locked part (holes and
     * device memory count, as Linux's count_mm_mlocked_page_nr()). */
    vmar_size_t locked = 0;
    for (size_t i = lo; i < hi; i++)
        locked += m->pg[i].mapped && m->pg[i].flags & VMAR_MAP_LOCKED ? PG : 0;
    if (!mlock_fits(m, size - locked))
        return fail(m, VMAR_ENOMEM, "lock limit");
    int rc = lock_range(m, lo, hi, set);
    if (!rc && !(flags & (VMAR_MLOCK_ONFAULT | VMAR_MLOCK_NOPOPULATE)))
        populate_locked(m, lo, hi, false, &rc);
    return rc;
}

int model_mlock_populate(struct model *m, vmar_addr_t addr, vmar_size_t size)
{
    int rc;

    m->why = NULL;
    if (!range_ok(m, addr, size))
        return fail(m, VMAR_EINVAL, "bad range");
    size_t lo = (size_t)((addr - m->cfg.user_lo) / PG);
    populate_locked(m, lo, lo + (size_t)(size / PG), false, &rc);
    return rc;
}

int model_munlock(struct model *m, vmar_addr_t addr, vmar_size_t size)
{
    m->why = NULL;
    if (!range_ok(m, addr, size))
        return fail(m, VMAR_EINVAL, "bad range");
    size_t lo = (size_t)((addr - m->cfg.user_lo) / PG);
    return lock_range(m, lo, lo + (size_t)(size / PG), 0);
}

/* mlockall_apply: FUTURE becomes what `flags` says; with CURRENT every
 * mapping but device memory gets `lock`, without it (munlockall) loses
 * the lock flags; FUTURE alone leaves the mappings as they are. */
static void mlockall_apply(struct model *m, unsigned flags)
{
    const unsigned lock =
        VMAR_MAP_LOCKED |
        (flags & VMAR_MLOCKALL_ONFAULT ? (unsigned)VMAR_MAP_LOCKONFAULT : 0u);

    m->lock_future = flags & VMAR_MLOCKALL_FUTURE ? lock : 0u;
    if (flags & VMAR_MLOCKALL_FUTURE && !(flags & VMAR_MLOCKALL_CURRENT))
        return;
    for (size_t i = 0; i < m->npages; i++)
        if (m->pg[i].mapped && !is_device(&m->pg[i]))
            m->pg[i].flags = (m->pg[i].flags & ~(uint32_t)LOCKF) |
                             (flags & VMAR_MLOCKALL_CURRENT ? lock : 0u);
}

int model_mlockall(struct model *m, unsigned flags)
{
    const unsigned known =
        VMAR_MLOCKALL_CURRENT | VMAR_MLOCKALL_FUTURE | VMAR_MLOCKALL_ONFAULT;

    m->why = NULL;
    if (!flags || flags & ~known || flags == VMAR_MLOCKALL_ONFAULT)
        return fail(m, VMAR_EINVAL, "bad mlockall flags");
    if (mlock_zero(m))
        return fail(m, VMAR_EPERM, "lock limit 0");
    /* Linux compares the whole space, not what would be added. */
    if (flags & VMAR_MLOCKALL_CURRENT && m->cfg.mlock_limited &&
        model_total_vm(m) / PG > m->cfg.mlock_limit / PG)
        return fail(m, VMAR_ENOMEM, "lock limit");
    mlockall_apply(m, flags);
    if (flags & VMAR_MLOCKALL_CURRENT)
        populate_locked(m, 0, m->npages, true, NULL);
    return 0;
}

int model_munlockall(struct model *m)
{
    m->why = NULL;
    mlockall_apply(m, 0);
    return 0;
}

void model_set_mlock_limit(struct model *m, vmar_size_t limit, bool limited)
{
    m->cfg.mlock_limit = limit;
    m->cfg.mlock_limited = limited;
}

/* ---- DMA pins (src/core/pin.c) --------------------------------------------
 */

uint64_t model_page_frame(const struct model *m, const struct model_page *p)
{
    if (p->frame)
        return p->frame;
    if (in_object(m, p))
        return m->st->obj[p->object].pinid[p->objoff / PG];
    return 0;
}

/* The identity to pin for populated page p: its frame, or its object
 * page's pin identity (made now). */
static uint64_t pin_identity(struct model *m, const struct model_page *p)
{
    uint64_t id = model_page_frame(m, p);

    if (!id && in_object(m, p)) {
        id = frame_new(m->st);
        m->st->fobj[id] = p->object;
        m->st->obj[p->object].pinid[p->objoff / PG] = id;
    }
    return id;
}

int model_pin(struct model *m, vmar_addr_t addr, size_t npages, unsigned flags,
              uint64_t *ids)
{
    const bool write = (flags & VMAR_PIN_WRITE) != 0;
    const unsigned need = write ? VMAR_PROT_WRITE : VMAR_PROT_READ;
    struct model_store *st = m->st;

    m->why = NULL;
    if (flags & ~(unsigned)VMAR_PIN_WRITE || npages == 0 || npages > m->npages)
        return fail(m, VMAR_EINVAL, "bad pin flags or count");
    if (!range_ok(m, addr, (vmar_size_t)npages * PG))
        return fail(m, VMAR_EINVAL, "bad range");
    for (size_t k = 0; k < npages; k++) {
        struct model_page *p = model_page_at(m, addr + k * PG);
        /* GUP: no mapping (a stack does not grow), device memory or one
         * without the permission is VMAR_EFAULT; then the fault's
         * errors. */
        if (!p->mapped)
            return fail(m, VMAR_EFAULT, "pin: no mapping");
        if (is_device(p) || !(p->prot & need))
            return fail(m, VMAR_EFAULT, "pin: refused mapping");
        int rc = fault_refusal(m, p);
        if (rc)
            return rc;
        touch_for(m, p, need);
        /* A read pin of a private anonymous frame another leaf maps
         * (after a fork) copies it first: the pinned frame is the
         * space's own. */
        if (!write && p->frame && !p->orphan && !is_shared(p) &&
            st->frefs[p->frame] > 1) {
            struct model_page v = *p;
            v.frame = frame_new(st);
            pg_set(m, p, &v);
            m->pin_unshares++;
        }
        ids[k] = pin_identity(m, p);
    }
    for (size_t k = 0; k < npages; k++) {
        if (st->fpins[ids[k]]++ == 0) {
            if (st->npinned == st->pinned_cap) {
                st->pinned_cap = st->pinned_cap * 2 + 16;
                st->pinned =
                    xrealloc(st->pinned, st->pinned_cap * sizeof(*st->pinned));
            }
            st->pinned[st->npinned++] = ids[k];
        }
    }
    m->pinned += npages;
    return 0;
}

void model_unpin(struct model *m, uint64_t id)
{
    struct model_store *st = m->st;

    if (--st->fpins[id] == 0)
        for (size_t i = 0; i < st->npinned; i++)
            if (st->pinned[i] == id) {
                st->pinned[i] = st->pinned[--st->npinned];
                break;
            }
    m->pinned--;
}

size_t model_pinned_frames(const struct model_store *st)
{
    size_t n = 0;

    for (size_t i = 0; i < st->npinned; i++)
        n += st->frefs[st->pinned[i]] == 0 && st->fobj[st->pinned[i]] == 0;
    return n;
}
