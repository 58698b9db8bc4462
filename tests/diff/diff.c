/* SPDX-License-Identifier: MIT */
/*
 * The differential driver's engine: apply, compare, generate, shrink,
 * print and parse. See diff.h for the shape and tests/diff/README.md for
 * what is compared and why.
 */
/* strtok_r, clock_gettime, stat: POSIX, not C11. */
#define _POSIX_C_SOURCE 200809L

#include "diff.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <vmar/sim.h>

#include "harness.h"
#include "model.h"

#undef PG
#undef fail /* cmocka's; this file has its own */
#define PG ((uint64_t)VMAR_PAGE_SIZE)

/* Simulated CPUs per session, and their TLB sizes (a tiny one evicts). */
#define NCPU 2
static const unsigned cpu_tlb[NCPU] = {4, 64};
/* Largest user copy the generator makes, plus slack. */
#define COPY_MAX (8 * PG)
/* Device memory: DEV_PAGES physically contiguous pool frames taken from
 * the env (as tests/unit/test_device.c does). Fewer than 512, so that no
 * backend maps them with a huge leaf. */
#define DEV_PAGES 16

/*
 * The driver's own memory object type (an embedder's file, as object.h
 * describes one): a page array of frames from the env (vmar_frame_new),
 * allocated on first use; get_page refuses pages at or past size / PG
 * (a partial last page is past the end, as object.h says), optionally
 * commit (make a range resident) and notify_write (dirty tracking). The
 * structure outlives release (the session frees it at the end), so that
 * the driver can check when the library released it.
 */
struct eobj {
    struct vmar_object obj; /* first: the object is the eobj */
    struct diff_session *s;
    const struct vmar_env *env;
    uint64_t size;
    size_t npages;
    vmar_paddr_t *pages;
    uint8_t *dirty;
    bool notify;
    size_t bad; /* get_page fails with VMAR_EIO (SIZE_MAX: none) */
    bool released;
    struct eobj *next;
};

/* The driver's reference to an object of one DIFF_OBJECT slot. */
struct dobj {
    struct vmar_object *lib; /* NULL: empty slot */
    uint64_t mid;            /* the model's id */
};

/* One space of a session and its model (the first, and forks). */
struct slot {
    bool live;
    struct vmar_space *space;
    /* The harness's view of the space (backend config, raw tables). */
    struct vt vt;
    struct vmar_sim_cpu *cpu[NCPU]; /* running this space */
    struct model m;
    /* DMA pins held through this space: the frame vmar_pin returned and
     * the model's identity of it (the same identity is the same frame). */
    struct pinrec {
        vmar_paddr_t pa;
        uint64_t id;
    } pins[DIFF_MAX_PINS];
    size_t npins;
};

struct diff_session {
    struct vmar_sim *sim;
    struct slot sl[DIFF_SLOTS];
    struct slot *c;        /* the slot the current op runs in */
    bool real;             /* a hardware page-table format */
    unsigned pcid0, asid0; /* slot 0's; slot k gets +k */
    size_t base_violations;
    unsigned char *buf, *want; /* COPY_MAX each */
    struct diff_opts opts;
    struct diff_stats *st;
    size_t base_allocs; /* metadata of an empty space (space, mmu) */
    size_t nsteps;
    /* scratch, capacity npages + 1 each */
    struct model_run *runs, *runs2;
    struct vmar_mapping_info *infos;
    size_t nruns; /* model runs after the last step */
    bool space_failed;
    bool forked; /* a fork happened in this session */
    /* Device memory: DEV_PAGES pool frames from dev_base (sim_get). */
    vmar_paddr_t dev_base;
    /* Caller objects: the slots, the library object of each model id
     * (NULL: a shared anonymous object the library made), the embedder
     * objects ever made (freed at close), how many are not released. */
    struct dobj obj[DIFF_NOBJ];
    struct vmar_object **objptr;
    struct eobj **objeo; /* by model id: the eobj, or NULL (a memfd) */
    size_t objptr_cap;
    size_t *objnodes; /* scratch: mappings per model id */
    struct eobj *eobjs;
    size_t eobj_live;
    bool in_unref; /* the driver is dropping its own reference */
    int last_rc;   /* the model's code of the last op (VMAR_DIFF_TRACE) */
    char err[2048];
};

/* ---- random source ------------------------------------------------------ */

void diff_rng_seed(struct diff_rng *r, uint64_t seed)
{
    memset(r, 0, sizeof(*r));
    r->state = seed;
}

void diff_rng_bytes(struct diff_rng *r, const uint8_t *buf, size_t len)
{
    memset(r, 0, sizeof(*r));
    r->buf = buf;
    r->len = len;
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

uint64_t diff_rng_below(struct diff_rng *r, uint64_t n)
{
    if (n <= 1)
        return 0;
    if (!r->buf)
        return splitmix(&r->state) % n;
    /* Bytes: consume as few as the range needs, so that one mutated byte
     * changes one choice (what makes the fuzzer's mutations local). */
    uint64_t v = 0;
    for (uint64_t span = n - 1; span; span >>= 8) {
        if (r->pos >= r->len) {
            r->exhausted = true;
            return 0;
        }
        v = (v << 8) | r->buf[r->pos++];
    }
    return v % n;
}

static uint64_t R(struct diff_rng *r, uint64_t n)
{
    return diff_rng_below(r, n);
}

static bool chance(struct diff_rng *r, unsigned pct)
{
    return R(r, 100) < pct;
}

/* ---- session ------------------------------------------------------------ */

static int fail(struct diff_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int fail(struct diff_session *s, const char *fmt, ...)
{
    va_list ap;
    size_t n = strlen(s->err);

    va_start(ap, fmt);
    vsnprintf(s->err + n, sizeof(s->err) - n, fmt, ap);
    va_end(ap);
    return 1;
}

const char *diff_error(const struct diff_session *s)
{
    return s->err;
}

static struct diff_stats dummy_stats;

/* ---- the driver's memory object ------------------------------------------ */

static struct eobj *eobj_of(struct vmar_object *obj)
{
    return (struct eobj *)(void *)obj;
}

static uint64_t eobj_size(struct vmar_object *obj)
{
    return eobj_of(obj)->size;
}

static int eobj_get_page(struct vmar_object *obj, uint64_t index,
                         unsigned flags, vmar_paddr_t *pa)
{
    struct eobj *e = eobj_of(obj);

    if (index >= e->npages)
        return VMAR_ENXIO;
    if (!e->pages[index]) {
        if (flags & VMAR_OBJECT_GET_PRESENT)
            return VMAR_ENOENT;
        if (index == e->bad)
            return VMAR_EIO; /* a read error: never in memory */
        int rc = vmar_frame_new(e->env, &e->pages[index]);
        if (rc)
            return rc;
    }
    vmar_frame_get(e->env, e->pages[index]);
    *pa = e->pages[index];
    return 0;
}

static int eobj_commit(struct vmar_object *obj, uint64_t offset, uint64_t len)
{
    struct eobj *e = eobj_of(obj);

    for (uint64_t k = offset / PG; k < e->npages && k * PG < offset + len;
         k++) {
        /* An unreadable page is left for get_page to report. */
        if (!e->pages[k] && k != e->bad) {
            int rc = vmar_frame_new(e->env, &e->pages[k]);
            if (rc)
                return rc;
        }
    }
    return 0;
}

static int eobj_notify_write(struct vmar_object *obj, uint64_t index)
{
    struct eobj *e = eobj_of(obj);

    if (index >= e->npages || !e->pages[index])
        abort(); /* the library notifies only pages it got */
    e->dirty[index] = 1;
    return 0;
}

static void eobj_release(struct vmar_object *obj)
{
    struct eobj *e = eobj_of(obj);

    for (size_t k = 0; k < e->npages; k++)
        if (e->pages[k])
            vmar_frame_put(e->env, e->pages[k]);
    free(e->pages);
    free(e->dirty);
    e->pages = NULL;
    e->dirty = NULL;
    e->released = true;
    e->s->eobj_live--;
    if (!e->s->in_unref)
        e->s->st->obj_released++;
}

/* By DIFF_OBJ_COMMIT | DIFF_OBJ_NOTIFY. */
static const struct vmar_object_ops eobj_ops[4] = {
    {.abi = VMAR_OBJECT_ABI,
     .size = eobj_size,
     .get_page = eobj_get_page,
     .release = eobj_release},
    {.abi = VMAR_OBJECT_ABI,
     .size = eobj_size,
     .get_page = eobj_get_page,
     .commit = eobj_commit,
     .release = eobj_release},
    {.abi = VMAR_OBJECT_ABI,
     .size = eobj_size,
     .get_page = eobj_get_page,
     .notify_write = eobj_notify_write,
     .release = eobj_release},
    {.abi = VMAR_OBJECT_ABI,
     .size = eobj_size,
     .get_page = eobj_get_page,
     .commit = eobj_commit,
     .notify_write = eobj_notify_write,
     .release = eobj_release},
};

/* Object page `k` of the library object of model id `id` holds a frame.
 * A memfd is asked through its own get_page (VMAR_OBJECT_GET_PRESENT
 * allocates nothing; the reference it takes is given back). */
static bool obj_lib_has(struct diff_session *s, uint64_t id, size_t k)
{
    struct vmar_object *o = s->objptr[id];
    vmar_paddr_t pa;

    if (s->objeo[id])
        return s->objeo[id]->pages && k < s->objeo[id]->npages &&
               s->objeo[id]->pages[k];
    if (o->ops->get_page(o, k, VMAR_OBJECT_GET_PRESENT, &pa) != 0)
        return false;
    vmar_frame_put(vmar_sim_env(s->sim), pa);
    return true;
}

/* The frame of object page k (it holds one). */
static vmar_paddr_t obj_lib_frame(struct diff_session *s, uint64_t id, size_t k)
{
    struct vmar_object *o = s->objptr[id];
    vmar_paddr_t pa;

    if (s->objeo[id])
        return s->objeo[id]->pages[k];
    if (o->ops->get_page(o, k, VMAR_OBJECT_GET_PRESENT, &pa) != 0)
        return 0;
    vmar_frame_put(vmar_sim_env(s->sim), pa);
    return pa;
}

static void objptr_set(struct diff_session *s, uint64_t id,
                       struct vmar_object *o, struct eobj *e)
{
    if (id >= s->objptr_cap) {
        size_t cap = (size_t)id * 2 + 16;
        s->objptr = realloc(s->objptr, cap * sizeof(*s->objptr));
        s->objeo = realloc(s->objeo, cap * sizeof(*s->objeo));
        s->objnodes = realloc(s->objnodes, cap * sizeof(*s->objnodes));
        if (!s->objptr || !s->objeo || !s->objnodes)
            abort();
        memset(s->objptr + s->objptr_cap, 0,
               (cap - s->objptr_cap) * sizeof(*s->objptr));
        memset(s->objeo + s->objptr_cap, 0,
               (cap - s->objptr_cap) * sizeof(*s->objeo));
        s->objptr_cap = cap;
    }
    s->objptr[id] = o;
    s->objeo[id] = e;
}

/* The library object of a model id, NULL when unknown. */
static struct vmar_object *objptr_get(const struct diff_session *s, uint64_t id)
{
    return id < s->objptr_cap ? s->objptr[id] : NULL;
}

/* Drop the driver's reference of slot k. */
static void obj_slot_drop(struct diff_session *s, unsigned k, bool model)
{
    struct dobj *d = &s->obj[k];

    if (!d->lib)
        return;
    s->in_unref = true;
    vmar_object_unref(d->lib);
    s->in_unref = false;
    if (model)
        model_object_put(&s->c->m, d->mid);
    d->lib = NULL;
    d->mid = 0;
}

/*
 * Frames: SIM_POOL_PAGES per page the range can populate (a FIXED populate
 * over populated pages reserves every new frame before the replaced ones
 * are freed, and forks keep frames alive), plus page tables for a range of at
 * most 64 MiB anywhere (and a prepare that reserves them twice), so frame
 * exhaustion never happens by accident: the model cannot predict table pages;
 * injection covers frame failure.
 */
#define SIM_SPARE_FRAMES 256
/* With forks, each of the DIFF_SLOTS spaces may hold a frame for every
 * page while a FIXED populate in one of them reserves a new set (forks
 * share frames only until the first write or replace): the pool holds
 * DIFF_SLOTS + 2 frames per page (tests/diff/regress/fork_pool_size.ops
 * ran out with two), and the frames pins keep after their pages went. */
#define SIM_POOL_PAGES(np)                                                     \
    ((DIFF_SLOTS + 2) * (np) + SIM_SPARE_FRAMES + DIFF_SLOTS * DIFF_MAX_PINS)

/*
 * One machine is kept between sessions: creating one poisons its whole
 * pool, which made shrinking (thousands of short runs) spend its time in
 * memset. Reuse is sound because a session starts only when the previous
 * space was destroyed with nothing live, and every counter the driver
 * reads is either live or compared as a difference.
 */
static struct vmar_sim *cached_sim;
static size_t cached_nframes;
static vmar_paddr_t cached_dev;

/* Device memory: the first DEV_PAGES frames of a fresh pool (handed out
 * in order, so contiguous), held as long as the machine lives. */
static int dev_take(struct vmar_sim *sim, vmar_paddr_t *base)
{
    const struct vmar_env *env = vmar_sim_env(sim);
    vmar_paddr_t pa[DEV_PAGES];

    for (size_t i = 0; i < DEV_PAGES; i++) {
        if (env->frame_alloc(env->ctx, VMAR_FRAME_ZERO, &pa[i]) != 0 ||
            pa[i] != pa[0] + i * PG)
            return -1;
    }
    *base = pa[0];
    return 0;
}

static void sim_kill(struct vmar_sim *sim, vmar_paddr_t dev)
{
    const struct vmar_env *env = vmar_sim_env(sim);

    for (size_t i = 0; dev && i < DEV_PAGES; i++)
        env->frame_free(env->ctx, dev + i * PG);
    vmar_sim_destroy(sim);
}

static struct vmar_sim *sim_get(size_t nframes, vmar_paddr_t *dev)
{
    struct vmar_sim *sim = NULL;

    if (cached_sim && cached_nframes >= nframes) {
        sim = cached_sim;
        *dev = cached_dev;
        cached_sim = NULL;
        return sim;
    }
    diff_cleanup();
    /* One size for every generated space (at most 4096 pages). */
    if (nframes < SIM_POOL_PAGES(4096))
        nframes = SIM_POOL_PAGES(4096);
    nframes += DEV_PAGES;
    struct vmar_sim_opts so = {.nframes = nframes, .seed = 1};
    if (vmar_sim_create(&so, &sim) != 0)
        return NULL;
    if (dev_take(sim, dev) != 0)
        abort();
    cached_nframes = nframes;
    return sim;
}

static void sim_put(struct vmar_sim *sim, vmar_paddr_t dev, bool clean)
{
    if (!clean || cached_sim) {
        sim_kill(sim, dev);
        return;
    }
    cached_sim = sim;
    cached_dev = dev;
}

void diff_cleanup(void)
{
    if (cached_sim)
        sim_kill(cached_sim, cached_dev);
    cached_sim = NULL;
}

static void slot_cpus(struct diff_session *s, struct slot *sl)
{
    for (unsigned i = 0; i < NCPU; i++) {
        if (vmar_sim_cpu_create(s->sim, cpu_tlb[i], &sl->cpu[i]) != 0)
            abort();
        vmar_sim_cpu_switch(sl->cpu[i], sl->space);
    }
}

/* Give back the slot's pins from index k on (the library's and the
 * model's), keeping the others in order. */
static void slot_unpin(struct slot *sl, size_t k, size_t n)
{
    n = n < sl->npins - k ? n : sl->npins - k;
    for (size_t i = k; i < k + n; i++) {
        vmar_unpin(sl->space, &sl->pins[i].pa, 1);
        if (sl->live)
            model_unpin(&sl->m, sl->pins[i].id);
    }
    memmove(&sl->pins[k], &sl->pins[k + n],
            (sl->npins - k - n) * sizeof(sl->pins[0]));
    sl->npins -= n;
}

/* Destroy a slot's space (CPUs switched away first; its pins given back,
 * as vmar_space_destroy() requires) and its model. */
static void slot_kill(struct slot *sl)
{
    if (sl->space)
        slot_unpin(sl, 0, sl->npins);
    sl->npins = 0;
    for (unsigned i = 0; i < NCPU; i++) {
        if (sl->cpu[i]) {
            vmar_sim_cpu_switch(sl->cpu[i], NULL);
            vmar_sim_cpu_destroy(sl->cpu[i]);
            sl->cpu[i] = NULL;
        }
    }
    if (sl->space)
        vmar_space_destroy(sl->space);
    sl->space = NULL;
    if (sl->live)
        model_fini(&sl->m);
    sl->live = false;
}

static size_t live_slots(const struct diff_session *s)
{
    size_t n = 0;
    for (unsigned i = 0; i < DIFF_SLOTS; i++)
        n += s->sl[i].live;
    return n;
}

int diff_open(struct diff_session **out, const struct diff_space *sp,
              const struct diff_opts *opts, struct diff_stats *stats)
{
    struct diff_session *s = calloc(1, sizeof(*s));
    struct model_cfg mc = {
        .user_lo = sp->user_lo,
        .user_hi = sp->user_hi,
        .stack_guard = sp->stack_guard,
        .as_limit = sp->as_limit,
        .max_map_count = (size_t)sp->max_map_count,
        .bottom_up = (sp->flags & VMAR_SPACE_BOTTOM_UP) != 0,
    };

    if (!s)
        abort();
    *out = s;
    s->c = &s->sl[0];
    s->st = stats ? stats : &dummy_stats;
    if (opts)
        s->opts = *opts;
    if (!s->opts.page_check_every)
        s->opts.page_check_every = 32;
    if (!sp->user_lo || model_init(&s->c->m, &mc) != 0 ||
        sp->user_hi > vt_backend()->ops->user_top ||
        sp->stack_guard > sp->user_hi - sp->user_lo || sp->stack_guard % PG) {
        s->c->live = s->c->m.pg != NULL;
        fail(s, "space: unusable user range or guard");
        return -1;
    }
    s->c->live = true;
    s->sim = sim_get(SIM_POOL_PAGES(s->c->m.npages), &s->dev_base);
    if (!s->sim) {
        fail(s, "vmar_sim_create failed");
        return -1;
    }
    /* The device's contents start as zeros, as the model's. */
    for (size_t i = 0; i < DEV_PAGES; i++) {
        const struct vmar_env *env = vmar_sim_env(s->sim);
        memset(env->phys_to_virt(env->ctx, s->dev_base + i * PG), 0, PG);
    }
    struct vmar_space_opts o = {
        .env = vmar_sim_env(s->sim),
        .user_lo = sp->user_lo,
        .user_hi = sp->user_hi,
        .as_limit = sp->as_limit,
        .max_map_count = (size_t)sp->max_map_count,
        .stack_guard = sp->stack_guard,
        .flags = sp->flags,
    };
    vt_use_backend(&o, s->sim, &s->c->vt.cfg);
    s->real = vt_backend()->real;
    s->pcid0 = s->c->vt.cfg.x86.pcid;
    s->asid0 = s->c->vt.cfg.rv.asid;
    int rc = vmar_space_create(&o, &s->c->space);
    if (rc) {
        s->space_failed = true;
        fail(s, "vmar_space_create: %s", vmar_errname(rc));
        return -1;
    }
    s->c->vt.sim = s->sim;
    s->c->vt.env = o.env;
    s->c->vt.space = s->c->space;
    s->c->vt.opts = o;
    s->c->vt.refcheck = vt_backend()->real;
    slot_cpus(s, s->c);
    s->base_violations = vmar_sim_violations(s->sim);
    s->buf = malloc(COPY_MAX);
    s->want = malloc(COPY_MAX);
    if (!s->buf || !s->want)
        abort();
    s->runs = calloc(s->c->m.npages + 1, sizeof(*s->runs));
    s->runs2 = calloc(s->c->m.npages + 1, sizeof(*s->runs2));
    s->infos = calloc(s->c->m.npages + 1, sizeof(*s->infos));
    if (!s->runs || !s->runs2 || !s->infos)
        abort();
    struct vmar_sim_stats ss;
    vmar_sim_stats(s->sim, &ss);
    s->base_allocs = ss.allocs_live;
    model_set_device(&s->c->m, s->dev_base, DEV_PAGES);
    s->st->spaces++;
    return 0;
}

int diff_close(struct diff_session *s, char *msg, size_t msglen)
{
    int bad = 0;
    bool had_space = false;

    for (unsigned i = 0; i < DIFF_SLOTS; i++) {
        had_space |= s->sl[i].space != NULL;
        slot_kill(&s->sl[i]);
    }
    /* The driver's references go last: then every object must be
     * released (none is mapped any more). */
    for (unsigned k = 0; k < DIFF_NOBJ; k++)
        obj_slot_drop(s, k, false);
    if (s->eobj_live)
        bad = fail(s, "%zu embedder object(s) never released\n", s->eobj_live);
    if (had_space) {
        struct vmar_sim_stats ss;
        vmar_sim_stats(s->sim, &ss);
        if (ss.allocs_live || ss.frames_live != DEV_PAGES || ss.leaves_live ||
            ss.tables_live)
            bad = fail(s,
                       "leak after vmar_space_destroy: allocs %zu frames %zu "
                       "(the device's %d) leaves %zu tables %zu\n",
                       ss.allocs_live, ss.frames_live, DEV_PAGES,
                       ss.leaves_live, ss.tables_live);
    }
    if (bad && msg && msglen)
        snprintf(msg, msglen, "%s", s->err);
    if (s->sim)
        sim_put(s->sim, s->dev_base, !bad && !s->space_failed);
    free(s->buf);
    free(s->want);
    free(s->runs);
    free(s->runs2);
    free(s->infos);
    free(s->objptr);
    free(s->objeo);
    free(s->objnodes);
    while (s->eobjs) {
        struct eobj *e = s->eobjs;
        s->eobjs = e->next;
        if (!e->released) { /* leaked by the library: its frames go with
                             * the machine (not reused after a leak) */
            free(e->pages);
            free(e->dirty);
        }
        free(e);
    }
    free(s);
    return bad;
}

/* ---- comparison --------------------------------------------------------- */

struct collect {
    struct vmar_mapping_info *out;
    size_t n, cap;
    unsigned stop; /* stop after this many (0: never) */
};

/* The value the callback stops with: distinctive, so that the driver can
 * check vmar_iterate returns the callback's own value. */
#define STOP_VALUE 0x5170

static int collect_fn(void *arg, const struct vmar_mapping_info *info)
{
    struct collect *c = arg;

    if (c->n < c->cap)
        c->out[c->n] = *info;
    c->n++;
    return c->stop && c->n >= c->stop ? STOP_VALUE : 0;
}

static const char *prot_str(unsigned p, char buf[4])
{
    buf[0] = p & VMAR_PROT_READ ? 'r' : '-';
    buf[1] = p & VMAR_PROT_WRITE ? 'w' : '-';
    buf[2] = p & VMAR_PROT_EXEC ? 'x' : '-';
    buf[3] = '\0';
    return buf;
}

static int info_differs(struct diff_session *s, const char *what,
                        const struct vmar_mapping_info *got,
                        const struct model_run *want)
{
    char p1[4], p2[4], m1[4], m2[4];

    if (got->start == want->start && got->end == want->end &&
        got->prot == want->prot && got->max_prot == want->max_prot &&
        got->flags == want->flags && (unsigned)got->backing == want->backing &&
        got->offset == want->offset && (unsigned)got->cache == want->cache)
        return 0;
    return fail(s,
                "%s: library [%#" PRIx64 ", %#" PRIx64 ") %s max %s flags %#x "
                "backing %d offset %#" PRIx64 " cache %d; model [%#" PRIx64
                ", %#" PRIx64
                ") %s max %s flags %#x backing %u offset %#" PRIx64
                " cache %u\n",
                what, got->start, got->end, prot_str(got->prot, p1),
                prot_str(got->max_prot, m1), got->flags, (int)got->backing,
                got->offset, (int)got->cache, want->start, want->end,
                prot_str(want->prot, p2), prot_str(want->max_prot, m2),
                want->flags, want->backing, want->offset, want->cache);
}

uint64_t diff_tag(uint64_t seed, uint64_t va)
{
    uint64_t x = seed ^ (va * UINT64_C(0x9e3779b97f4a7c15));
    return splitmix(&x) | 1;
}

const char *diff_backend_name(void)
{
    return vt_backend()->name;
}

/* The byte the model says is at `va` (0 outside mapped pages). */
static unsigned char model_byte(struct model *m, vmar_addr_t va)
{
    const struct model_page *p = model_page_at(m, va);
    unsigned off = (unsigned)(va % PG);

    if (!p || !p->mapped || off >= 8)
        return 0;
    return (unsigned char)(*model_tag(m, p) >> (8 * off));
}

/* Every populated, readable page of [lo, hi): its tag in the first 8
 * bytes, zeros after them and at its end (vmar_read of a present readable
 * page changes nothing). Device pages are not reachable by vmar_read:
 * they are read through a CPU, which changes nothing either. */
static int check_contents(struct diff_session *s, vmar_addr_t lo,
                          vmar_addr_t hi)
{
    struct model *m = &s->c->m;

    for (size_t i = 0; i < m->npages; i++) {
        const struct model_page *p = &m->pg[i];
        vmar_addr_t va = m->cfg.user_lo + i * PG;
        unsigned char b[24];
        size_t done = 0;
        int rc;
        if (va < lo || va >= hi || !p->populated || !(p->prot & VMAR_PROT_READ))
            continue;
        /* Device pages, and object pages (through the simulated MMU: the
         * translation the tables hold), are read by a CPU. */
        if (p->backing == VMAR_BACKING_DEVICE || p->object) {
            rc = vmar_sim_cpu_access(s->c->cpu[1], va, VMAR_ACCESS_READ, b, 16);
            if (!rc)
                rc = vmar_sim_cpu_access(s->c->cpu[1], va + PG - 8,
                                         VMAR_ACCESS_READ, b + 16, 8);
        } else {
            rc = vmar_read(s->c->space, va, b, 16, &done);
            if (!rc)
                rc = vmar_read(s->c->space, va + PG - 8, b + 16, 8, NULL);
        }
        if (rc)
            return fail(s, "content sweep: read(%#" PRIx64 "): %s\n", va,
                        vmar_errname(rc));
        uint64_t tag = *model_tag(m, p);
        for (unsigned k = 0; k < 24; k++) {
            unsigned char want = k < 8 ? (unsigned char)(tag >> (8 * k)) : 0;
            if (b[k] != want)
                return fail(s,
                            "content sweep: page %#" PRIx64 " byte %u is %#x, "
                            "model tag %#" PRIx64 "\n",
                            va, k < 16 ? k : (unsigned)(PG - 24 + k), b[k],
                            tag);
        }
    }
    return 0;
}

/* The frame the session's pins hold for model identity `id` (0: none). */
static vmar_paddr_t pinned_pa(const struct diff_session *s, uint64_t id)
{
    for (unsigned i = 0; i < DIFF_SLOTS; i++)
        for (size_t k = 0; s->sl[i].live && k < s->sl[i].npins; k++)
            if (s->sl[i].pins[k].id == id)
                return s->sl[i].pins[k].pa;
    return 0;
}

/* A pinned page must translate to its pinned frame (a write reused it,
 * nothing replaced it). */
static int pin_translates(struct diff_session *s, vmar_addr_t va,
                          vmar_paddr_t pa)
{
    struct vmar_pte pte;
    int rc = vmar_space_translate(s->c->space, va, &pte);

    s->st->pin_checks++;
    if (rc || pte.pa != pa)
        return fail(s,
                    "pinned page %#" PRIx64 ": translates to %#" PRIx64
                    " (%s), pinned frame %#" PRIx64 "\n",
                    va, rc ? 0 : pte.pa, vmar_errname(rc), pa);
    return 0;
}

/* vmar_stats of the current slot against its model. */
static int compare_stats(struct diff_session *s, size_t n)
{
    struct model *m = &s->c->m;
    struct vmar_stats vs;
    size_t pop = model_populated(m), shared = model_present_shared(m);

    vmar_stats(s->c->space, &vs);
    if (vs.map_count != n || vs.total_vm != model_total_vm(m) ||
        vs.resident != pop * PG || vs.user_lo != m->cfg.user_lo ||
        vs.user_hi != m->cfg.user_hi || vs.stack_growths != m->stack_growths)
        return fail(s,
                    "vmar_stats (space %u): count %zu total %#" PRIx64
                    " resident %#" PRIx64 " growths %zu; model %zu %#" PRIx64
                    " %#" PRIx64 " %zu\n",
                    (unsigned)(s->c - s->sl), vs.map_count, vs.total_vm,
                    vs.resident, vs.stack_growths, n, model_total_vm(m),
                    (uint64_t)(pop * PG), m->stack_growths);
    if (vs.locked != model_locked(m) || vs.pinned != m->pinned ||
        vs.mlock_limit != m->cfg.mlock_limit ||
        vs.mlock_limited != m->cfg.mlock_limited ||
        vs.lock_future != m->lock_future)
        return fail(
            s,
            "vmar_stats (space %u): locked %#" PRIx64
            " pinned %zu limit %#" PRIx64 "%s future %#x; model %#" PRIx64
            " %zu %#" PRIx64 "%s %#x\n",
            (unsigned)(s->c - s->sl), vs.locked, vs.pinned, vs.mlock_limit,
            vs.mlock_limited ? " (applies)" : "", vs.lock_future,
            model_locked(m), m->pinned, m->cfg.mlock_limit,
            m->cfg.mlock_limited ? " (applies)" : "", m->lock_future);
    if (vs.resident_file != shared * PG ||
        vs.resident_anon != (pop - shared) * PG)
        return fail(s,
                    "vmar_stats (space %u): anon %#" PRIx64 " file %#" PRIx64
                    "; model %#" PRIx64 " %#" PRIx64 "\n",
                    (unsigned)(s->c - s->sl), vs.resident_anon,
                    vs.resident_file, (uint64_t)((pop - shared) * PG),
                    (uint64_t)(shared * PG));
    return 0;
}

/* Everything observable about the current slot, library against model. */
static int compare_slot(struct diff_session *s, bool page_sweep)
{
    struct model *m = &s->c->m;
    size_t n = model_runs(m, s->runs);
    struct collect c = {.out = s->infos, .cap = m->npages + 1};
    int rc;

    s->nruns = n;
    rc = vmar_check(s->c->space);
    if (rc)
        return fail(s, "vmar_check: %s\n", vmar_errname(rc));
    rc = vmar_iterate(s->c->space, 0, UINT64_MAX, collect_fn, &c);
    if (rc)
        return fail(s, "vmar_iterate(all): %s\n", vmar_errname(rc));
    if (c.n != n)
        fail(s, "mapping count: library %zu, model %zu\n", c.n, n);
    for (size_t i = 0; i < n && i < c.n; i++) {
        if (info_differs(s, "mapping", &s->infos[i], &s->runs[i]))
            return 1;
        /* The object: the driver's own for a caller's object, some
         * object for shared anonymous memory, none otherwise. */
        const struct vmar_object *want = objptr_get(s, s->runs[i].object);
        const struct vmar_object *got = s->infos[i].object;
        if (want ? got != want : (s->runs[i].object != 0) != (got != NULL))
            return fail(s,
                        "mapping [%#" PRIx64 ", %#" PRIx64
                        "): object %p, model object %" PRIu64 " (%p)\n",
                        s->runs[i].start, s->runs[i].end, (const void *)got,
                        s->runs[i].object, (const void *)want);
    }
    if (c.n != n)
        return 1;
    if (compare_stats(s, n))
        return 1;

    for (size_t i = 0; i < n; i++) {
        vmar_size_t bytes = 0;
        rc = vmar_resident(s->c->space, s->runs[i].start, s->runs[i].end,
                           &bytes);
        if (rc || bytes != s->runs[i].populated * PG)
            return fail(s,
                        "vmar_resident [%#" PRIx64 ", %#" PRIx64
                        "): %s %#" PRIx64 ", model %#" PRIx64 "\n",
                        s->runs[i].start, s->runs[i].end, vmar_errname(rc),
                        bytes, (uint64_t)(s->runs[i].populated * PG));
    }
    if (page_sweep) {
        s->st->page_checks++;
        for (size_t i = 0; i < m->npages; i++) {
            vmar_addr_t va = m->cfg.user_lo + i * PG;
            vmar_size_t bytes = 0;
            rc = vmar_resident(s->c->space, va, va + PG, &bytes);
            if (rc || bytes != (m->pg[i].populated ? PG : 0))
                return fail(
                    s, "page %#" PRIx64 ": resident %#" PRIx64 ", model %s\n",
                    va, bytes, m->pg[i].populated ? "present" : "absent");
            const uint64_t id = m->pg[i].populated && m->pg[i].mapped
                                    ? model_page_frame(m, &m->pg[i])
                                    : 0;
            if (id && m->st->fpins[id] &&
                pin_translates(s, va, pinned_pa(s, id)))
                return 1;
            /* A marker the model knows refuses a read fault, changing
             * nothing (the other way round, an access in the op stream
             * finds a marker the model lacks). */
            if (m->pg[i].guard && m->pg[i].prot & VMAR_PROT_READ) {
                s->st->guard_checks++;
                rc = vmar_fault(s->c->space, va, VMAR_ACCESS_READ,
                                VMAR_FAULT_USER);
                if (rc != VMAR_EFAULT)
                    return fail(s,
                                "page %#" PRIx64 ": read fault %s, model: "
                                "guard marker\n",
                                va, vmar_errname(rc));
            }
        }
        s->st->content_checks++;
        if (check_contents(s, 0, UINT64_MAX))
            return 1;
    }
    /* A hardware format: the raw tables against the mapping list, decoded
     * from the manuals (tests/support/refcheck.c), reported like any other
     * difference so that the case still shrinks. */
    if (page_sweep && s->real) {
        char why[512];
        if (vt_refcheck(&s->c->vt, why, sizeof(why)))
            return fail(s, "%s", why);
    }
    return 0;
}

/* The machine's counters against every live space's model. */
static int compare_machine(struct diff_session *s)
{
    struct vmar_sim_stats ss;
    size_t tables = 0, allocs = 0, present = 0;
    struct slot *cur = s->c;
    const struct model_store *st = cur->m.st;

    vmar_sim_stats(s->sim, &ss);
    if (s->objptr_cap)
        memset(s->objnodes, 0, s->objptr_cap * sizeof(*s->objnodes));
    for (unsigned i = 0; i < DIFF_SLOTS; i++) {
        struct slot *sl = &s->sl[i];
        if (!sl->live)
            continue;
        s->c = sl;
        size_t n = model_runs(&sl->m, s->runs2);
        for (size_t k = 0; k < n; k++)
            if (s->runs2[k].object < s->objptr_cap)
                s->objnodes[s->runs2[k].object]++;
        /* The mapping index's nodes, spares included, are the space's own
         * business (how many depends on its shape): taken from its stats. */
        struct vmar_stats vs;
        vmar_stats(sl->space, &vs);
        allocs += s->base_allocs + n + vs.index_nodes;
        present += model_populated(&sl->m) + model_present_device(&sl->m);
        if (s->real) {
            char why[512];
            size_t t = 0;
            if (vt_tables_checked(&sl->vt, &t, why, sizeof(why))) {
                s->c = cur;
                return fail(s, "(space %u) %s", i, why);
            }
            tables += t;
        }
        /* The other spaces: their counters (an op must not touch them
         * beyond what sharing explains). */
        if (sl != cur && compare_stats(s, n)) {
            s->c = cur;
            return fail(s, "(space %u, not the op's)\n", i);
        }
    }
    s->c = cur;
    if (!s->real)
        tables = ss.tables_live;
    size_t leaves = s->real ? present : ss.leaves_live;
    /*
     * Metadata: one block per mapping and per index node on top of each
     * empty space's, and
     * two (itself and its page array) per live shared object. Frames: the
     * page tables, one per distinct private frame (a fork shares them
     * until a write), the frames of live objects (one per page ever
     * touched), and the device frames the driver holds.
     */
    const size_t pinned = model_pinned_frames(st);
    s->st->pinned_unmapped += pinned != 0;
    size_t want_frames = tables + st->frames_live + pinned +
                         st->obj_frames_live + (size_t)DEV_PAGES;
    if (ss.allocs_live != allocs + st->obj_allocs_live || leaves != present ||
        ss.frames_live != want_frames)
        return fail(s,
                    "sim counters: allocs %zu (want %zu + %zu of %zu "
                    "objects), leaves %zu (want %zu), frames %zu (want %zu: "
                    "tables %zu, private %zu, pinned only %zu, object %zu, "
                    "device %zu)\n",
                    ss.allocs_live, allocs, st->obj_allocs_live, st->objs_live,
                    leaves, present, ss.frames_live, want_frames, tables,
                    st->frames_live, pinned, st->obj_frames_live,
                    (size_t)DEV_PAGES);
    /* The caller's objects: references (the driver's and one per
     * mapping), released exactly when the model says they died, and
     * which pages hold a frame (and, with notify_write, which a shared
     * mapping wrote). */
    for (uint64_t id = 1; id <= st->nobj && id < s->objptr_cap; id++) {
        const struct model_obj *o = &st->obj[id];
        struct vmar_object *lib = s->objptr[id];
        struct eobj *e = s->objeo[id];
        if (!lib)
            continue;
        if (e && e->released != o->dead)
            return fail(s, "object %" PRIu64 ": %s by the library, model %s\n",
                        id, e->released ? "released" : "not released",
                        o->dead ? "dead" : "alive");
        if (o->dead)
            continue;
        size_t want = s->objnodes[id] + (o->held ? 1u : 0u);
        if (lib->refs != want)
            return fail(s,
                        "object %" PRIu64 ": %zu references, model %zu (%zu "
                        "mappings%s)\n",
                        id, (size_t)lib->refs, want, s->objnodes[id],
                        o->held ? " and the driver's" : "");
        for (size_t k = 0; k < o->pages; k++) {
            if (obj_lib_has(s, id, k) != (o->frame[k] != 0))
                return fail(s,
                            "object %" PRIu64 " page %zu: %s in the library, "
                            "%s in the model\n",
                            id, k, o->frame[k] ? "absent" : "present",
                            o->frame[k] ? "present" : "absent");
            if (e && e->notify && e->dirty[k] != o->dirty[k])
                return fail(s,
                            "object %" PRIu64 " page %zu: notify_write %s, "
                            "model %s\n",
                            id, k, e->dirty[k] ? "called" : "not called",
                            o->dirty[k] ? "written" : "not written");
        }
    }
    size_t v = vmar_sim_violations(s->sim);
    if (v != s->base_violations)
        return fail(s, "stale-TLB violations: %zu (see stderr)\n",
                    v - s->base_violations);
    return 0;
}

/* The pages of the caller's objects, read from their frames: the model's
 * tag, zeros after it (whether or not anything maps them). */
static int check_objects(struct diff_session *s)
{
    const struct model_store *st = s->c->m.st;
    const struct vmar_env *env = vmar_sim_env(s->sim);

    for (uint64_t id = 1; id <= st->nobj && id < s->objptr_cap; id++) {
        const struct model_obj *o = &st->obj[id];
        if (!s->objptr[id] || o->dead)
            continue;
        for (size_t k = 0; k < o->pages; k++) {
            if (!o->frame[k])
                continue;
            vmar_paddr_t pa = obj_lib_frame(s, id, k);
            const unsigned char *b =
                pa ? env->phys_to_virt(env->ctx, pa) : NULL;
            if (!b)
                return fail(s, "object %" PRIu64 " page %zu: no frame\n", id,
                            k);
            for (size_t j = 0; j < PG; j++) {
                unsigned char want =
                    j < 8 ? (unsigned char)(o->tag[k] >> (8 * j)) : 0;
                if (b[j] != want)
                    return fail(s,
                                "object %" PRIu64 " page %zu byte %zu is %#x, "
                                "model tag %#" PRIx64 "\n",
                                id, k, j, b[j], o->tag[k]);
            }
        }
    }
    return 0;
}

/* Everything observable: the op's space in full (and with `page_sweep`
 * every live space in full), the others' counters, the machine's. */
static int compare_all(struct diff_session *s, bool page_sweep)
{
    struct slot *cur = s->c;

    if (page_sweep) {
        for (unsigned i = 0; i < DIFF_SLOTS; i++) {
            if (!s->sl[i].live || &s->sl[i] == cur)
                continue;
            s->c = &s->sl[i];
            int bad = compare_slot(s, true);
            s->c = cur;
            if (bad)
                return fail(s, "(space %u, not the op's)\n", i);
        }
    }
    if (compare_slot(s, page_sweep))
        return 1;
    if (page_sweep && check_objects(s))
        return 1;
    return compare_machine(s);
}

/* ---- executing one op --------------------------------------------------- */

static void op_to_map_opts(const struct diff_session *s,
                           const struct diff_op *op, struct vmar_map_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->addr = op->a;
    o->size = op->b;
    o->place = (enum vmar_place)op->place;
    o->align = op->align;
    o->prot = op->prot;
    o->deny_prot = op->deny;
    o->flags = op->flags;
    o->backing = (enum vmar_backing)op->backing;
    if (o->backing == VMAR_BACKING_DEVICE) {
        o->paddr = s->dev_base + op->d * PG;
        o->cache = (enum vmar_cache)op->cache;
    }
    o->offset = op->offset;
    o->window_lo = op->wlo;
    o->window_hi = op->whi;
    if (op->obj >= 1 && op->obj <= DIFF_NOBJ)
        o->object = s->obj[op->obj - 1].lib;
}

/* The model id of a MAP's object (0: none). */
static uint64_t op_mid(const struct diff_session *s, const struct diff_op *op)
{
    if (op->obj < 1 || op->obj > DIFF_NOBJ || !s->obj[op->obj - 1].lib)
        return 0;
    return s->obj[op->obj - 1].mid;
}

/* The child slot of a DIFF_FORK, or NULL when it cannot be one. */
static struct slot *fork_child(struct diff_session *s, const struct diff_op *op)
{
    if (op->a >= DIFF_SLOTS || &s->sl[op->a] == s->c || s->sl[op->a].live)
        return NULL;
    return &s->sl[op->a];
}

/* The child slot of a DIFF_FORK that happened. */
static struct slot *fork_child_done(struct diff_session *s,
                                    const struct diff_op *op)
{
    return &s->sl[op->a];
}

/* vmar_fork into `ch`, with a backend config of its own (as vt_fork). */
static int lib_fork(struct diff_session *s, struct slot *ch, unsigned idx)
{
    struct slot *p = s->c;
    unsigned id =
        (p->vt.opts.mmu_config == &p->vt.cfg.rv ? s->asid0 : s->pcid0) + idx;
    struct vmar_fork_opts fo = {
        .mmu_config = vt_child_config(&p->vt, &ch->vt, id),
    };
    int rc;

    ch->space = NULL;
    rc = vmar_fork(p->space, &fo, &ch->space);
    if (rc == 0) {
        ch->vt.space = ch->space;
        ch->vt.refcheck = vt_backend()->real;
    } else {
        ch->space = NULL;
    }
    return rc;
}

/* DIFF_LOCK on the library; an unknown kind is a driver error. */
static int lib_lock(struct vmar_space *sp, const struct diff_op *op)
{
    switch (op->c) {
    case DIFF_MLOCK:
        return vmar_mlock(sp, op->a, op->b, op->flags);
    case DIFF_MUNLOCK:
        return vmar_munlock(sp, op->a, op->b);
    case DIFF_MLOCKALL:
        return vmar_mlockall(sp, op->flags);
    case DIFF_MUNLOCKALL:
        return vmar_munlockall(sp);
    case DIFF_MLOCK_POPULATE:
        return vmar_mlock_populate(sp, op->a, op->b);
    case DIFF_MLOCK_LIMIT:
        vmar_set_mlock_limit(sp, op->a, op->flags != 0);
        return 0;
    default:
        abort();
    }
}

static int model_lock(struct model *m, const struct diff_op *op)
{
    switch (op->c) {
    case DIFF_MLOCK:
        return model_mlock(m, op->a, op->b, op->flags);
    case DIFF_MUNLOCK:
        return model_munlock(m, op->a, op->b);
    case DIFF_MLOCKALL:
        return model_mlockall(m, op->flags);
    case DIFF_MUNLOCKALL:
        return model_munlockall(m);
    case DIFF_MLOCK_POPULATE:
        return model_mlock_populate(m, op->a, op->b);
    case DIFF_MLOCK_LIMIT:
        m->why = NULL;
        model_set_mlock_limit(m, op->a, op->flags != 0);
        return 0;
    default:
        abort();
    }
}

static int lib_mutate(struct diff_session *s, const struct diff_op *op,
                      vmar_addr_t *addr)
{
    struct vmar_map_opts o;
    struct vmar_space *sp = s->c->space;

    switch (op->kind) {
    case DIFF_MAP:
        op_to_map_opts(s, op, &o);
        *addr = UINT64_C(0xdeadbeef000);
        return vmar_map(sp, &o, addr);
    case DIFF_UNMAP:
        return vmar_unmap(sp, op->a, op->b);
    case DIFF_PROTECT:
        return vmar_protect(sp, op->a, op->b, op->prot);
    case DIFF_ADVISE:
        if (op->advice >= MODEL_INHERIT)
            return vmar_inherit(sp, op->a, op->b, op->advice - MODEL_INHERIT);
        return vmar_advise(sp, op->a, op->b, op->advice);
    case DIFF_REMAP:
        *addr = UINT64_C(0xdeadbeef000);
        return vmar_remap(sp, op->a, op->b, op->c, op->flags, op->d, addr);
    case DIFF_RESIZE:
        return vmar_resize(sp, op->a, op->b, op->c);
    case DIFF_SEAL:
        return vmar_seal(sp, op->a, op->b);
    case DIFF_LOCK:
        return lib_lock(sp, op);
    case DIFF_FORK:
        return lib_fork(s, fork_child(s, op), (unsigned)op->a);
    default:
        abort();
    }
}

static int model_mutate(struct diff_session *s, const struct diff_op *op,
                        vmar_addr_t *addr)
{
    struct model *m = &s->c->m;
    struct vmar_map_opts o;

    switch (op->kind) {
    case DIFF_MAP:
        op_to_map_opts(s, op, &o);
        *addr = 0;
        return model_map_obj(m, &o, op_mid(s, op), addr);
    case DIFF_UNMAP:
        return model_unmap(m, op->a, op->b);
    case DIFF_PROTECT:
        return model_protect(m, op->a, op->b, op->prot);
    case DIFF_ADVISE: {
        int rc = model_advise(m, op->a, op->b, op->advice);
        if (rc == 0 && op->advice == VMAR_ADVISE_REMOVE) {
            /* The objects forget the pages in every space. */
            struct model *ms[DIFF_SLOTS];
            size_t n = 0;
            for (unsigned i = 0; i < DIFF_SLOTS; i++)
                if (s->sl[i].live)
                    ms[n++] = &s->sl[i].m;
            model_punch(ms, n, m, op->a, op->b);
        }
        return rc;
    }
    case DIFF_REMAP:
        *addr = 0;
        return model_remap(m, op->a, op->b, op->c, op->flags, op->d, addr);
    case DIFF_RESIZE:
        return model_resize(m, op->a, op->b, op->c);
    case DIFF_SEAL:
        return model_seal(m, op->a, op->b);
    case DIFF_LOCK:
        return model_lock(m, op);
    case DIFF_FORK: {
        struct slot *ch = fork_child(s, op);
        m->why = NULL;
        if (model_fork(&ch->m, m) != 0)
            abort();
        ch->live = true;
        return 0;
    }
    default:
        abort();
    }
}

static void count_outcome(struct diff_session *s, const struct diff_op *op,
                          int rc)
{
    struct diff_stats *st = s->st;
    const char *why = s->c->m.why;

    s->last_rc = rc;
    st->by_kind[op->kind]++;
    const bool lock_limit = why && (!strcmp(why, "lock limit") ||
                                    !strcmp(why, "lock limit (stack)"));
    st->seal_refusals +=
        rc == VMAR_EPERM && !(why && !strcmp(why, "lock limit 0"));
    st->lock_eperm += rc == VMAR_EPERM && why && !strcmp(why, "lock limit 0");
    st->lock_limit += lock_limit;
    st->lock_refused_advice +=
        why && !strcmp(why, "advice refused on locked memory");
    st->lock_efault += why && !strcmp(why, "lock: PROT_NONE mapping");
    st->window_einval += op->kind == DIFF_MAP && (op->wlo || op->whi) && why &&
                         !strcmp(why, "bad window");
    st->stack_eagain += rc == VMAR_EAGAIN && !lock_limit;
    st->stack_refused +=
        why && (!strcmp(why, "stack guard") || !strcmp(why, "stack limit") ||
                !strcmp(why, "as limit (stack)") ||
                !strcmp(why, "lock limit (stack)"));
    if (op->kind == DIFF_ADVISE && (op->advice == VMAR_ADVISE_POPULATE_READ ||
                                    op->advice == VMAR_ADVISE_POPULATE_WRITE))
        *(rc ? &st->populate_failed : &st->populate_advice) += 1;
    if ((op->kind == DIFF_READ || op->kind == DIFF_WRITE) &&
        op->flags & VMAR_RW_FORCE)
        *(rc ? &st->forced_refused : &st->forced_ok) += 1;
    if (rc == 0) {
        st->ok_by_kind[op->kind]++;
        if (op->kind == DIFF_MAP) {
            st->map_ok_by_place[op->place & 3]++;
            st->stack_maps += (op->flags & VMAR_MAP_STACK) != 0;
            st->populate_maps += (op->flags & VMAR_MAP_POPULATE) != 0;
            st->aligned_maps += op->align > PG;
            st->window_maps += op->wlo || op->whi;
            st->growsdown_maps += (op->flags & VMAR_MAP_GROWSDOWN) != 0;
        }
        return;
    }
    switch (rc) {
    case VMAR_EINVAL:
        st->einval++;
        break;
    case VMAR_EFAULT:
        st->efault++;
        st->guard_faults += why && !strcmp(why, "guard marker");
        break;
    case VMAR_EEXIST:
        st->eexist++;
        break;
    case VMAR_ENOTSUP:
        st->enotsup++;
        break;
    case VMAR_ENOENT:
        st->enoent++;
        break;
    case VMAR_ENXIO:
        st->enxio++;
        break;
    case VMAR_EIO:
        st->obj_eio++;
        break;
    case VMAR_EACCES:
        st->eacces++;
        st->eacces_max += why && !strcmp(why, "beyond max");
        break;
    case VMAR_ENOMEM:
        if (!why)
            break;
        st->nomem_nofit += !strcmp(why, "no fit");
        st->nomem_as += !strcmp(why, "as limit");
        st->nomem_count += !strcmp(why, "count limit");
        st->nomem_hole += !strcmp(why, "hole");
        break;
    default:
        break;
    }
}

/*
 * Object pages the library allocated that the model does not know of: a
 * failed call may leave them (a private write fault gets the object's
 * page before its copy fails; a populate's commit or get_page fills the
 * object's cache before a later allocation fails). The page cache is the
 * object's, not the space's, so this is no leak: the model adopts them.
 * Returns how many, or -1 (a divergence) for a page the library lost.
 */
static long obj_resync(struct diff_session *s)
{
    struct model *m = &s->c->m;
    const struct model_store *st = m->st;
    long added = 0;

    for (uint64_t id = 1; id <= st->nobj && id < s->objptr_cap; id++) {
        const struct model_obj *o = &st->obj[id];
        if (!s->objptr[id] || o->dead)
            continue;
        for (size_t k = 0; k < o->pages; k++) {
            bool lib = obj_lib_has(s, id, k);
            if (lib && !o->frame[k]) {
                model_object_has_frame(m, id, k);
                added++;
            } else if (!lib && o->frame[k]) {
                fail(s, "object %" PRIu64 " page %zu lost its frame\n", id, k);
                return -1;
            }
        }
    }
    return added;
}

/* State the library must keep across a failed call. */
struct snap {
    uint64_t digest;
    size_t allocs, frames;
};

static void snap_take(struct diff_session *s, struct snap *sn)
{
    struct vmar_sim_stats ss;

    vmar_sim_stats(s->sim, &ss);
    sn->digest = vmar_sim_digest(s->sim);
    sn->allocs = ss.allocs_live;
    sn->frames = ss.frames_live;
}

/*
 * One run of a mutating op with allocation `n` (of `mask`) failing.
 * Returns 0 and sets *fired when the injected failure hit and the library
 * reported VMAR_ENOMEM with nothing changed (compared against the model,
 * which has not applied the op, and against the digest); 1 on a
 * divergence. When it did not hit, the caller compares normally.
 */
static int run_injected(struct diff_session *s, const struct diff_op *op,
                        uint32_t n, unsigned mask, bool persist,
                        struct snap *before, int *lib_rc, vmar_addr_t *addr,
                        bool *fired)
{
    struct vmar_sim_stats a, b;

    vmar_sim_stats(s->sim, &a);
    vmar_sim_fail_after(s->sim, n, mask, persist);
    *lib_rc = lib_mutate(s, op, addr);
    vmar_sim_fail_after(s->sim, 0, 0, false);
    vmar_sim_stats(s->sim, &b);
    *fired = b.fails_injected != a.fails_injected;
    if (!*fired)
        return 0;
    s->st->fails_fired++;
    s->st->fired_alloc += mask == VMAR_SIM_FAIL_ALLOC;
    s->st->fired_frame += mask == VMAR_SIM_FAIL_FRAME;
    s->st->fired_data += mask == VMAR_SIM_FAIL_DATA;
    s->st->fired_table += mask == VMAR_SIM_FAIL_TABLE;
    s->st->fired_fork += op->kind == DIFF_FORK;
    s->st->fired_remap += op->kind == DIFF_REMAP || op->kind == DIFF_RESIZE;
    s->st->fired_advise += op->kind == DIFF_ADVISE;
    if (op->kind == DIFF_FORK && fork_child_done(s, op)->space)
        return fail(s, "failed vmar_fork (allocation %u) made a child\n", n);
    if (*lib_rc != VMAR_ENOMEM)
        return fail(s,
                    "injected allocation failure %u (mask %#x%s) hit but "
                    "the call returned %s, not VMAR_ENOMEM\n",
                    n, mask, persist ? ", persistent" : "",
                    vmar_errname(*lib_rc));
    struct snap after;
    long added = obj_resync(s);
    if (added < 0)
        return 1;
    s->st->fired_object += added > 0;
    snap_take(s, &after);
    /* Object pages left behind change the digest (new frames), so then
     * only the counts: the frames by exactly those pages. */
    if ((added == 0 && after.digest != before->digest) ||
        after.allocs != before->allocs ||
        after.frames != before->frames + (size_t)added)
        return fail(s,
                    "failed call (allocation %u, mask %#x) changed the "
                    "machine: digest %#" PRIx64 " -> %#" PRIx64
                    ", allocs %zu -> %zu, frames %zu -> %zu (object pages "
                    "left: %ld)\n",
                    n, mask, before->digest, after.digest, before->allocs,
                    after.allocs, before->frames, after.frames, added);
    if (compare_all(s, false))
        return fail(s, "(after a failed call with allocation %u failing)\n", n);
    if (added)
        *before = after; /* the next round of a sweep starts from here */
    return 0;
}

/*
 * The next n of a DIFF_FAIL_EVERY sweep: every n up to SWEEP_EVERY (the
 * generator keeps swept ops small enough, at most a 16-page populate or a
 * 4-page copy, that this is every n until success), then growing by half
 * for hand-written cases with larger ops.
 */
#define SWEEP_EVERY 256
static uint32_t sweep_next(uint32_t n)
{
    return n < SWEEP_EVERY ? n + 1 : n + n / 2;
}

/* Mappings of the current space that meet [lo, hi). */
static size_t runs_meeting(struct diff_session *s, uint64_t lo, uint64_t hi)
{
    size_t n = model_runs(&s->c->m, s->runs2), k = 0;

    for (size_t i = 0; i < n; i++)
        k += s->runs2[i].start < hi && s->runs2[i].end > lo;
    return k;
}

static bool page_is_device(struct diff_session *s, uint64_t va)
{
    const struct model_page *p = model_page_at(&s->c->m, va);
    return p && p->mapped && p->backing == VMAR_BACKING_DEVICE;
}

static bool page_is_object(struct diff_session *s, uint64_t va)
{
    const struct model_page *p = model_page_at(&s->c->m, va);
    return p && p->mapped && p->backing == VMAR_BACKING_OBJECT;
}

static bool has_private_present(const struct model *m)
{
    for (size_t i = 0; i < m->npages; i++)
        if (m->pg[i].populated && m->pg[i].frame)
            return true;
    return false;
}

/* Coverage of the newer operations, once they agreed. */
static void count_new(struct diff_session *s, const struct diff_op *op, int rc,
                      uint64_t addr, size_t pieces, bool device, bool cow,
                      bool objsrc)
{
    struct diff_stats *st = s->st;
    const char *why = s->c->m.why;

    switch (op->kind) {
    case DIFF_MAP:
        st->device_maps += rc == 0 && op->backing == VMAR_BACKING_DEVICE;
        /* The policy RISC-V stores as another (vmar_mmu_ops::cache_as). */
        st->device_maps_wt += rc == 0 && op->backing == VMAR_BACKING_DEVICE &&
                              op->cache == VMAR_CACHE_WT;
        if (rc == 0 && op->backing == VMAR_BACKING_OBJECT) {
            st->obj_maps_shared += (op->flags & VMAR_MAP_SHARED) != 0;
            st->obj_maps_private += !(op->flags & VMAR_MAP_SHARED);
        }
        st->obj_eacces += rc == VMAR_EACCES && why &&
                          !strcmp(why, "beyond the object's max_prot");
        break;
    case DIFF_ADVISE:
        if (rc)
            break;
        if (op->advice == VMAR_ADVISE_DONTNEED ||
            op->advice == VMAR_ADVISE_FREE)
            st->advise_drops++;
        else if (op->advice == VMAR_ADVISE_REMOVE)
            st->advise_removes++;
        else if (op->advice == VMAR_ADVISE_DONTFORK ||
                 op->advice == MODEL_INHERIT + VMAR_INHERIT_NONE)
            st->advise_dontfork++;
        else if (op->advice == VMAR_ADVISE_WIPEONFORK ||
                 op->advice == MODEL_INHERIT + VMAR_INHERIT_ZERO)
            st->advise_wipe++;
        else if (op->advice == VMAR_ADVISE_GUARD_INSTALL)
            st->advise_guards++;
        else if (op->advice != VMAR_ADVISE_WILLNEED)
            st->advise_hints++;
        break;
    case DIFF_REMAP:
        if (rc == VMAR_EFAULT)
            st->remap_efault++;
        if (rc == VMAR_ENOMEM && why && !strcmp(why, "cannot grow in place"))
            st->remap_nogrow++;
        if (rc)
            break;
        if (addr == op->a) {
            st->remap_shrink += op->c < op->b;
            st->remap_grow_in_place += op->c > op->b;
            break;
        }
        st->remap_moves++;
        st->obj_moves += objsrc;
        st->remap_fixed += (op->flags & VMAR_REMAP_FIXED) != 0;
        st->remap_dontunmap += (op->flags & VMAR_REMAP_DONTUNMAP) != 0;
        st->remap_multi += pieces > 1;
        st->device_moves += device;
        break;
    case DIFF_RESIZE:
        st->resize_ok += rc == 0;
        st->resize_efault += rc == VMAR_EFAULT;
        break;
    case DIFF_FORK:
        st->forks += rc == 0;
        st->forks_with_cow += rc == 0 && cow;
        st->obj_forks += rc == 0 && objsrc;
        break;
    default:
        break;
    }
}

/* Some page of [lo, hi) of the current space is locked. */
static bool range_locked(struct diff_session *s, uint64_t lo, uint64_t hi)
{
    const struct model *m = &s->c->m;

    for (size_t i = 0; i < m->npages; i++) {
        const uint64_t va = m->cfg.user_lo + i * PG;
        if (va >= lo && va < hi && m->pg[i].mapped &&
            m->pg[i].flags & VMAR_MAP_LOCKED)
            return true;
    }
    return false;
}

/* An op that may populate locked memory after its change is made
 * (mlock, mlockall(CURRENT), a locked mapping that grows, locked memory
 * that gains write): an injected failure there leaves the change and a
 * part of the pages, or is dropped, which the model cannot know of, so
 * such an op runs without injection. */
static bool populates_after(struct diff_session *s, const struct diff_op *op)
{
    switch (op->kind) {
    case DIFF_LOCK:
        return (op->c == DIFF_MLOCK &&
                !(op->flags & (VMAR_MLOCK_ONFAULT | VMAR_MLOCK_NOPOPULATE))) ||
               (op->c == DIFF_MLOCKALL && op->flags & VMAR_MLOCKALL_CURRENT) ||
               op->c == DIFF_MLOCK_POPULATE;
    case DIFF_REMAP:
    case DIFF_RESIZE:
        return range_locked(s, op->a, op->a + PG);
    case DIFF_PROTECT:
        return op->prot & VMAR_PROT_WRITE &&
               range_locked(s, op->a, op->a + op->b);
    default:
        return false;
    }
}

static bool page_locked(struct diff_session *s, uint64_t va)
{
    const struct model_page *p = model_page_at(&s->c->m, va);
    return p && p->mapped && p->flags & VMAR_MAP_LOCKED;
}

/* Coverage of the lock family, once the op agreed. */
static void count_lock(struct diff_session *s, const struct diff_op *op, int rc,
                       uint64_t addr, bool had_locked)
{
    struct diff_stats *st = s->st;

    switch (op->kind) {
    case DIFF_LOCK:
        if (rc)
            break;
        st->mlocks += op->c == DIFF_MLOCK;
        st->munlocks += op->c == DIFF_MUNLOCK;
        st->mlockalls += op->c == DIFF_MLOCKALL;
        st->munlockalls += op->c == DIFF_MUNLOCKALL;
        st->mlock_populates += op->c == DIFF_MLOCK_POPULATE;
        break;
    case DIFF_MAP:
        st->locked_maps += rc == 0 && page_locked(s, addr);
        st->lock_future_maps += rc == 0 && s->c->m.lock_future &&
                                !(op->flags & VMAR_MAP_LOCKED) &&
                                page_locked(s, addr);
        break;
    case DIFF_REMAP:
    case DIFF_RESIZE:
        st->locked_remaps += rc == 0 && op->c > op->b && had_locked;
        break;
    case DIFF_FORK:
        st->locked_forks += rc == 0 && had_locked;
        st->pinned_forks += rc == 0 && fork_child_done(s, op)->m.pin_copies;
        break;
    default:
        break;
    }
}

static int step_mutate(struct diff_session *s, const struct diff_op *op)
{
    vmar_addr_t laddr = 0, maddr = 0;
    size_t runs_before = s->nruns, pieces = 0;
    int lrc = 0, mrc;
    bool fired = false, device = false, cow = false, objsrc = false;
    const bool had_locked = op->kind == DIFF_FORK
                                ? range_locked(s, 0, UINT64_MAX)
                                : page_locked(s, op->a);

    if (op->kind == DIFF_FORK && !fork_child(s, op))
        return 0; /* no slot for the child (a shrunk case): nothing */
    if (op->kind == DIFF_REMAP) {
        pieces = runs_meeting(s, op->a, op->a + op->b);
        device = page_is_device(s, op->a);
        objsrc = page_is_object(s, op->a);
    }
    if (op->kind == DIFF_FORK) {
        cow = has_private_present(&s->c->m);
        for (size_t i = 0; i < s->c->m.npages && !objsrc; i++)
            objsrc = s->c->m.pg[i].mapped &&
                     s->c->m.pg[i].backing == VMAR_BACKING_OBJECT;
    }
    if (op->fail_n && !populates_after(s, op)) {
        struct snap before;
        snap_take(s, &before);
        if (op->fail_n == DIFF_FAIL_EVERY) {
            s->st->fails_every++;
            for (uint32_t n = 1;; n = sweep_next(n)) {
                if (run_injected(s, op, n, op->fail_mask, false, &before, &lrc,
                                 &laddr, &fired))
                    return 1;
                if (!fired)
                    break;
            }
        } else if (run_injected(s, op, op->fail_n, op->fail_mask,
                                op->fail_persist, &before, &lrc, &laddr,
                                &fired)) {
            return 1;
        } else if (fired) {
            /* The op did not happen; the model must not apply it. */
            s->st->by_kind[op->kind]++;
            return 0;
        }
    } else {
        lrc = lib_mutate(s, op, &laddr);
    }
    if (op->kind == DIFF_FORK && lrc != 0) {
        count_outcome(s, op, 0);
        return fail(s, "vmar_fork: %s, model 0\n", vmar_errname(lrc));
    }
    mrc = model_mutate(s, op, &maddr);
    count_outcome(s, op, mrc);
    if (lrc != mrc)
        return fail(s, "return code: library %s, model %s (%s)\n",
                    vmar_errname(lrc), vmar_errname(mrc),
                    s->c->m.why ? s->c->m.why : "success");
    if ((op->kind == DIFF_MAP || op->kind == DIFF_REMAP) && mrc == 0 &&
        laddr != maddr)
        return fail(s, "address: library %#" PRIx64 ", model %#" PRIx64 "\n",
                    laddr, maddr);
    if (op->kind == DIFF_FORK) {
        slot_cpus(s, fork_child_done(s, op));
        s->forked = true;
    }
    count_new(s, op, mrc, maddr, pieces, device, cow, objsrc);
    count_lock(s, op, mrc, maddr, had_locked);
    bool sweep = ++s->nsteps % s->opts.page_check_every == 0;
    if (compare_all(s, sweep))
        return 1;
    if (op->kind == DIFF_FORK) {
        /* The child in full too. */
        struct slot *cur = s->c;
        s->c = fork_child_done(s, op);
        int bad = compare_slot(s, false);
        s->c = cur;
        if (bad)
            return fail(s, "(the forked child)\n");
    }
    if (s->nruns < runs_before + (op->kind == DIFF_MAP && mrc == 0)) {
        s->st->merges_seen++;
        s->st->obj_merges +=
            op->kind == DIFF_MAP && op->backing == VMAR_BACKING_OBJECT;
    }
    return 0;
}

/* vmar_clear: cannot fail; every mapping goes, limits stay. */
static int step_clear(struct diff_session *s, const struct diff_op *op)
{
    int lrc = vmar_clear(s->c->space);

    model_clear(&s->c->m);
    count_outcome(s, op, 0);
    if (lrc)
        return fail(s, "vmar_clear: %s\n", vmar_errname(lrc));
    s->st->clears++;
    return compare_all(s, ++s->nsteps % s->opts.page_check_every == 0);
}

/* DIFF_PIN: vmar_pin of op->b pages. The frames must agree with the
 * model's identities: the same identity is the same frame, another one
 * another frame, and each page translates to the frame pinned for it. */
static int step_pin(struct diff_session *s, const struct diff_op *op)
{
    struct slot *sl = s->c;
    vmar_paddr_t pa[DIFF_MAX_PINS];
    uint64_t ids[DIFF_MAX_PINS];
    const size_t n = (size_t)op->b;

    /* A count the driver has no room for, yet one the library would
     * take: skipped (a zero or one past the range is refused before
     * anything is written to pages[]). */
    if (n && n <= sl->m.npages && n > DIFF_MAX_PINS - sl->npins)
        return 0;
    int lrc = vmar_pin(sl->space, op->a, n, op->flags, pa);
    int mrc = model_pin(&sl->m, op->a, n, op->flags, ids);
    count_outcome(s, op, mrc);
    if (lrc != mrc)
        return fail(s, "vmar_pin: library %s, model %s (%s)\n",
                    vmar_errname(lrc), vmar_errname(mrc),
                    sl->m.why ? sl->m.why : "success");
    if (mrc) {
        s->st->pin_refused++;
    } else {
        s->st->pins++;
        s->st->pins_write += (op->flags & VMAR_PIN_WRITE) != 0;
        for (size_t k = 0; k < n; k++) {
            for (unsigned i = 0; i < DIFF_SLOTS; i++)
                for (size_t j = 0; s->sl[i].live && j < s->sl[i].npins; j++)
                    if ((s->sl[i].pins[j].id == ids[k]) !=
                        (s->sl[i].pins[j].pa == pa[k]))
                        return fail(s,
                                    "vmar_pin page %zu: frame %#" PRIx64
                                    ", a pin of space %u holds %#" PRIx64
                                    " (model identities %" PRIu64
                                    " and %" PRIu64 ")\n",
                                    k, pa[k], i, s->sl[i].pins[j].pa, ids[k],
                                    s->sl[i].pins[j].id);
            sl->pins[sl->npins++] = (struct pinrec){.pa = pa[k], .id = ids[k]};
            if (pin_translates(s, op->a + k * PG, pa[k]))
                return 1;
        }
    }
    return compare_all(s, ++s->nsteps % s->opts.page_check_every == 0);
}

/* DIFF_UNPIN: give back op->b of the space's pins from index op->a (mod
 * their number); nothing when it holds none. */
static int step_unpin(struct diff_session *s, const struct diff_op *op)
{
    struct slot *sl = s->c;

    if (!sl->npins)
        return 0;
    slot_unpin(sl, (size_t)(op->a % sl->npins), (size_t)op->b);
    count_outcome(s, op, 0);
    s->st->unpins++;
    return compare_all(s, ++s->nsteps % s->opts.page_check_every == 0);
}

/* Largest object the driver makes (bytes). */
#define OBJ_MAX (64 * 1024 * PG)

/* DIFF_OBJECT: drop the driver's reference of the slot (the object lives
 * on while mapped), then make a new object there unless the kind is DROP. */
static int step_object(struct diff_session *s, const struct diff_op *op)
{
    struct model *m = &s->c->m;
    const struct vmar_env *env = vmar_sim_env(s->sim);
    struct dobj *d;
    int rc = 0;

    if (op->obj < 1 || op->obj > DIFF_NOBJ || op->c > DIFF_OBJ_TRUNCATE ||
        op->b > OBJ_MAX)
        return fail(s,
                    "op: object slot %u, kind %" PRIu64 " or size %#" PRIx64
                    " out of the driver's range\n",
                    op->obj, op->c, op->b);
    d = &s->obj[op->obj - 1];
    m->why = NULL;
    if (op->c == DIFF_OBJ_TRUNCATE) {
        /* A memfd changes size (every space that maps it sees it); the
         * embedder object is no built-in one: EINVAL, nothing changes. */
        if (!d->lib)
            return 0;
        int lrc = vmar_memfd_truncate(d->lib, op->b);
        int mrc = s->objeo[d->mid] ? VMAR_EINVAL : 0;
        count_outcome(s, op, mrc);
        if (lrc != mrc)
            return fail(s, "vmar_memfd_truncate(%#" PRIx64 "): %s, model %s\n",
                        op->b, vmar_errname(lrc), vmar_errname(mrc));
        if (mrc == 0) {
            struct model *ms[DIFF_SLOTS];
            size_t n = 0, orphans = 0;
            for (unsigned i = 0; i < DIFF_SLOTS; i++)
                if (s->sl[i].live)
                    ms[n++] = &s->sl[i].m;
            model_object_truncate(ms, n, d->mid,
                                  (size_t)((op->b + PG - 1) / PG));
            for (size_t j = 0; j < n; j++)
                for (size_t i = 0; i < ms[j]->npages; i++)
                    orphans += ms[j]->pg[i].orphan;
            s->st->obj_truncates++;
            s->st->obj_orphans += orphans != 0;
        }
        return compare_all(s, false);
    }
    obj_slot_drop(s, op->obj - 1, true);
    if (op->c == DIFF_OBJ_MEMFD) {
        size_t pages = (size_t)((op->b + PG - 1) / PG);
        if (op->fail_n && op->fail_n != DIFF_FAIL_EVERY) {
            /* A failed create allocates nothing and makes no object (the
             * slot stays empty: the op did not happen). */
            struct vmar_sim_stats a, b;
            struct snap before, after;
            struct vmar_object *none = NULL;
            snap_take(s, &before);
            vmar_sim_stats(s->sim, &a);
            vmar_sim_fail_after(s->sim, op->fail_n, op->fail_mask,
                                op->fail_persist);
            rc = vmar_memfd_create(env, op->b, &none);
            vmar_sim_fail_after(s->sim, 0, 0, false);
            vmar_sim_stats(s->sim, &b);
            if (b.fails_injected != a.fails_injected) {
                s->st->fails_fired++;
                s->st->fired_alloc += op->fail_mask == VMAR_SIM_FAIL_ALLOC;
                s->st->fired_frame += op->fail_mask == VMAR_SIM_FAIL_FRAME;
                s->st->fired_data += op->fail_mask == VMAR_SIM_FAIL_DATA;
                s->st->fired_table += op->fail_mask == VMAR_SIM_FAIL_TABLE;
                snap_take(s, &after);
                if (rc != VMAR_ENOMEM || none ||
                    after.digest != before.digest ||
                    after.allocs != before.allocs ||
                    after.frames != before.frames)
                    return fail(s,
                                "failed vmar_memfd_create (allocation %u): "
                                "%s, object %p, allocs %zu -> %zu\n",
                                op->fail_n, vmar_errname(rc), (void *)none,
                                before.allocs, after.allocs);
                s->st->obj_create_fails++;
                s->st->by_kind[op->kind]++;
                return compare_all(s, false);
            }
            if (rc)
                return fail(s, "vmar_memfd_create(%#" PRIx64 "): %s\n", op->b,
                            vmar_errname(rc));
            d->lib = none;
        } else {
            rc = vmar_memfd_create(env, op->b, &d->lib);
        }
        if (rc)
            return fail(s, "vmar_memfd_create(%#" PRIx64 "): %s\n", op->b,
                        vmar_errname(rc));
        d->mid = model_object_new(m, pages, VMAR_PROT_RWX, pages ? 2 : 1);
        objptr_set(s, d->mid, d->lib, NULL);
    } else if (op->c == DIFF_OBJ_EMBED) {
        struct eobj *e = calloc(1, sizeof(*e));
        if (!e)
            abort();
        e->s = s;
        e->env = env;
        e->size = op->b;
        e->npages = (size_t)(op->b / PG);
        e->pages = calloc(e->npages ? e->npages : 1, sizeof(*e->pages));
        e->dirty = calloc(e->npages ? e->npages : 1, 1);
        if (!e->pages || !e->dirty)
            abort();
        e->notify = (op->flags & DIFF_OBJ_NOTIFY) != 0;
        e->bad = op->flags & DIFF_OBJ_BAD ? (size_t)op->d : SIZE_MAX;
        e->next = s->eobjs;
        s->eobjs = e;
        s->eobj_live++;
        vmar_object_init(&e->obj, &eobj_ops[op->flags & 3], op->prot);
        d->lib = &e->obj;
        d->mid = model_object_new(m, e->npages, op->prot, 0);
        model_object_config(m, d->mid, e->bad,
                            (op->flags & DIFF_OBJ_COMMIT) != 0);
        model_object_nopunch(m, d->mid);
        objptr_set(s, d->mid, d->lib, e);
    }
    count_outcome(s, op, 0);
    return compare_all(s, false);
}

/* Destroy one space (never the last: a shrunk case may try). */
static int step_destroy(struct diff_session *s, const struct diff_op *op)
{
    if (live_slots(s) < 2)
        return 0;
    slot_kill(s->c);
    count_outcome(s, op, 0);
    s->st->destroys++;
    for (unsigned i = 0; i < DIFF_SLOTS; i++)
        if (s->sl[i].live) {
            s->c = &s->sl[i];
            break;
        }
    return compare_all(s, false);
}

static int step_query(struct diff_session *s, const struct diff_op *op)
{
    struct vmar_mapping_info info;
    struct model_run want;
    int lrc = vmar_query(s->c->space, op->a, &info);
    int mrc = model_query(&s->c->m, op->a, &want);

    s->c->m.why = NULL;
    count_outcome(s, op, mrc);
    if (lrc != mrc)
        return fail(s, "vmar_query(%#" PRIx64 "): library %s, model %s\n",
                    op->a, vmar_errname(lrc), vmar_errname(mrc));
    return mrc == 0 && info_differs(s, "vmar_query", &info, &want);
}

static int step_resident(struct diff_session *s, const struct diff_op *op)
{
    vmar_size_t lb = 0, mb = 0;
    int lrc = vmar_resident(s->c->space, op->a, op->b, &lb);
    int mrc = model_resident(&s->c->m, op->a, op->b, &mb);

    s->c->m.why = NULL;
    count_outcome(s, op, mrc);
    if (lrc != mrc || (mrc == 0 && lb != mb))
        return fail(s,
                    "vmar_resident(%#" PRIx64 ", %#" PRIx64
                    "): library %s %#" PRIx64 ", model %s %#" PRIx64 "\n",
                    op->a, op->b, vmar_errname(lrc), lb, vmar_errname(mrc), mb);
    return 0;
}

static int step_iterate(struct diff_session *s, const struct diff_op *op)
{
    struct collect c = {
        .out = s->infos, .cap = s->c->m.npages + 1, .stop = op->stop};
    int lrc = vmar_iterate(s->c->space, op->a, op->b, collect_fn, &c);
    size_t n = model_runs(&s->c->m, s->runs2), want = 0;
    int mrc = 0;

    s->c->m.why = NULL;
    if (op->a > op->b) {
        mrc = VMAR_EINVAL;
        n = 0;
    }
    /* Every mapping that intersects [lo, hi), whole, in order; the
     * callback's non-zero value stops the walk and is returned. */
    for (size_t i = 0; i < n; i++) {
        const struct model_run *r = &s->runs2[i];
        /* [lo, lo) is empty: it meets nothing, even inside a mapping. */
        if (!(op->a < op->b && r->start < op->b && r->end > op->a))
            continue;
        if (want < c.cap && want < c.n &&
            info_differs(s, "vmar_iterate", &s->infos[want], r))
            return 1;
        want++;
        if (op->stop && want == op->stop) {
            mrc = STOP_VALUE;
            s->st->iterate_stops++;
            break;
        }
    }
    count_outcome(s, op, mrc);
    if (lrc != mrc || c.n != want)
        return fail(s,
                    "vmar_iterate(%#" PRIx64 ", %#" PRIx64
                    ", stop %u): library rc %d with %zu calls, model rc %d "
                    "with %zu\n",
                    op->a, op->b, op->stop, lrc, c.n, mrc, want);
    return 0;
}

/* ---- user memory --------------------------------------------------------- */

static bool op_writes(const struct diff_op *op)
{
    return op->kind == DIFF_WRITE || op->kind == DIFF_ZERO ||
           (op->kind == DIFF_CPU && op->access == VMAR_ACCESS_WRITE);
}

static bool op_reads(const struct diff_op *op)
{
    return op->kind == DIFF_READ ||
           (op->kind == DIFF_CPU && op->access != VMAR_ACCESS_WRITE);
}

/* What a write op puts at `va`: its page's tag in the first 8 bytes,
 * zeros elsewhere; vmar_fill_zero zeros. */
static unsigned char written_byte(const struct diff_op *op, vmar_addr_t va)
{
    unsigned off = (unsigned)(va % PG);

    if (op->kind == DIFF_ZERO || off >= 8)
        return 0;
    return (unsigned char)(diff_tag(op->tag, va - off) >> (8 * off));
}

/* Run a user op on the library; *done as reported (copies) or 0. */
static int lib_user(struct diff_session *s, const struct diff_op *op,
                    size_t *done)
{
    size_t len = (size_t)op->b;

    *done = 0;
    if (op_writes(op))
        for (size_t i = 0; i < len; i++)
            s->buf[i] = written_byte(op, op->a + i);
    else
        memset(s->buf, 0xee, len);
    switch (op->kind) {
    case DIFF_FAULT:
        return vmar_fault(s->c->space, op->a, op->access, op->flags);
    case DIFF_READ:
        return vmar_read_flags(s->c->space, op->a, s->buf, len, op->flags,
                               done);
    case DIFF_WRITE:
        return vmar_write_flags(s->c->space, op->a, s->buf, len, op->flags,
                                done);
    case DIFF_ZERO:
        return vmar_fill_zero(s->c->space, op->a, len, done);
    case DIFF_CPU:
        return vmar_sim_cpu_access(s->c->cpu[op->cpu % NCPU], op->a, op->access,
                                   s->buf, len);
    default:
        abort();
    }
}

/* The model's answer; *done: bytes accessed before the first bad page. */
static int model_user(struct diff_session *s, const struct diff_op *op,
                      uint64_t len, uint64_t *done)
{
    struct model *m = &s->c->m;
    int rc;

    *done = 0;
    m->why = NULL;
    switch (op->kind) {
    case DIFF_FAULT:
        return model_fault(m, op->a, op->access, op->flags);
    case DIFF_READ:
    case DIFF_WRITE:
    case DIFF_ZERO:
        /* fault.h: VMAR_EFAULT when the range wraps (the library's test is
         * addr + len < addr), else at the first page not mapped or not
         * readable (writable). */
        if (op->a + len < op->a) {
            m->why = "wraps";
            return VMAR_EFAULT;
        }
        if (op->flags & ~(unsigned)VMAR_RW_FORCE) {
            m->why = "unknown vmar_rw_flags";
            return VMAR_EINVAL;
        }
        rc = model_access_force(
            m, op->a, len,
            op->kind == DIFF_READ ? VMAR_PROT_READ : VMAR_PROT_WRITE, true,
            op->kind != DIFF_ZERO && op->flags & VMAR_RW_FORCE, done);
        return rc ? VMAR_EFAULT : 0;
    case DIFF_CPU:
        /* sim.h: EINVAL for a bad access or a wrapping range; else the
         * vmar_fault() error of the first page that cannot be accessed. */
        if (vmar_access_prot(op->access) == 0 ||
            (op->access != VMAR_ACCESS_READ &&
             op->access != VMAR_ACCESS_WRITE &&
             op->access != VMAR_ACCESS_EXEC) ||
            len > UINT64_MAX - op->a) {
            m->why = "bad access or wraps";
            return VMAR_EINVAL;
        }
        return model_access(m, op->a, len, vmar_access_prot(op->access), false,
                            done);
    default:
        abort();
    }
}

/* After the model accessed [a, a+done): apply what a write wrote to the
 * tags, and check what a read got. */
static int user_bytes_from(struct diff_session *s, const struct diff_op *op,
                           uint64_t from, uint64_t done)
{
    for (uint64_t i = from; i < done; i++) {
        vmar_addr_t va = op->a + i;
        unsigned off = (unsigned)(va % PG);
        struct model_page *p = model_page_at(&s->c->m, va);
        if (!p)
            return fail(s, "model: access outside the user range\n");
        uint64_t *tag = model_tag(&s->c->m, p);
        if (op_writes(op)) {
            if (off < 8) {
                *tag &= ~(UINT64_C(0xff) << (8 * off));
                *tag |= (uint64_t)written_byte(op, va) << (8 * off);
            } else if (written_byte(op, va) != 0) {
                return fail(s, "generator: non-zero byte past a tag\n");
            }
            if (off == 0 && live_slots(s) > 1 && !p->object)
                s->st->cow_writes++;
            if (off == 0 && p->backing == VMAR_BACKING_DEVICE)
                s->st->device_cpu++;
            continue;
        }
        if (!op_reads(op))
            continue;
        unsigned char want = model_byte(&s->c->m, va);
        if (s->buf[i] != want)
            return fail(s,
                        "content: byte at %#" PRIx64 " read %#x, model %#x "
                        "(page tag %#" PRIx64 ")\n",
                        va, s->buf[i], want, *tag);
        if (off == 0) {
            const struct model_obj *o =
                p->object ? &s->c->m.st->obj[p->object] : NULL;
            bool own = !(p->flags & VMAR_MAP_SHARED) && p->frame;
            if (o && o->caller && !(p->flags & VMAR_MAP_SHARED) &&
                p->objoff / PG >= o->pages)
                s->st->obj_zero_eof++;
            s->st->obj_tag_reads += o && o->caller && !own && *tag;
            s->st->tags_read += *tag != 0;
            s->st->zeros_read += *tag == 0;
            s->st->object_shared_reads +=
                p->object && *tag && live_slots(s) > 1;
            s->st->device_cpu += p->backing == VMAR_BACKING_DEVICE;
        }
    }
    return 0;
}

static int user_bytes(struct diff_session *s, const struct diff_op *op,
                      uint64_t done)
{
    return user_bytes_from(s, op, 0, done);
}

static bool all_filler(const unsigned char *b, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        if (b[i] != 0xee)
            return false;
    return true;
}

/*
 * A CPU access that failed by injection: the pages before the failing one
 * were accessed (sim.h), but the call does not say how many. A read tells
 * through the buffer (a page not read still holds the 0xee filler; one
 * read has a zero byte or its tag there). A write tells through the CPU's
 * counters (`translations`: hits + misses during the call): every page it
 * reached was translated once, and the failing one (always a miss: a hit
 * completes its page) was not written. The contents cannot tell: a page
 * without READ (-w-, -wx) is written but never read back, so a search for
 * the shortest prefix that looks right stopped before it and the model
 * lost the write (tests/diff/regress/cpu_write_unreadable_prefix).
 * Applies that prefix to the model, which must then agree with everything
 * observable (layout, residency, contents of the pages touched, the
 * caller's objects' frames, frame counts); *done gets its length.
 */
static int cpu_prefix(struct diff_session *s, const struct diff_op *op,
                      size_t translations, size_t *done)
{
    const uint64_t len = op->b;
    const vmar_addr_t lo = op->a & ~(PG - 1);
    uint64_t off = 0, pages = 0;

    if (!op_reads(op) && translations == 0)
        return fail(s, "failed CPU write translated no page\n");
    for (;;) {
        uint64_t n = PG - ((op->a + off) % PG), d = 0;
        bool match;
        if (n > len - off)
            n = len - off;
        if (op_reads(op))
            match = off >= len || all_filler(s->buf + off, n);
        else
            match = pages + 1 >= translations;
        if (match)
            break;
        if (off >= len)
            return fail(s, "failed CPU access: no page prefix of it agrees "
                           "with the library\n");
        if (model_access(&s->c->m, op->a + off, n, vmar_access_prot(op->access),
                         false, &d) != 0 ||
            d != n)
            return fail(s, "failed CPU access (VMAR_ENOMEM) got past a page "
                           "the model refuses\n");
        if (user_bytes_from(s, op, off, off + n))
            return 1;
        off += n;
        pages++;
    }
    if (off >= len)
        return fail(s, "CPU access returned VMAR_ENOMEM after accessing "
                       "every page\n");
    if (!op_reads(op) &&
        (compare_all(s, false) || check_contents(s, lo, op->a + len) ||
         check_objects(s)))
        return fail(s,
                    "(after a failed CPU write of %" PRIu64 " pages of "
                    "%" PRIu64 " bytes)\n",
                    pages, len);
    *done = (size_t)off;
    s->st->fired_cpu++;
    s->st->cpu_partial += off != 0;
    return 0;
}

/* One library run of a user op with allocation n (of mask) failing; see
 * run_injected. A failed copy keeps the pages before the failing one, so
 * the model applies the prefix the library reports and the machine digest
 * is compared only when nothing was copied. */
static int run_injected_user(struct diff_session *s, const struct diff_op *op,
                             uint32_t n, unsigned mask, bool persist,
                             int *lib_rc, size_t *ldone, bool *fired)
{
    struct vmar_sim_stats a, b;
    struct vmar_sim_cpu_stats ca = {0}, cb = {0};
    struct vmar_sim_cpu *cpu = s->c->cpu[op->cpu % NCPU];
    struct snap before, after;
    bool grew = false;

    snap_take(s, &before);
    vmar_sim_stats(s->sim, &a);
    if (op->kind == DIFF_CPU)
        vmar_sim_cpu_stats(cpu, &ca);
    vmar_sim_fail_after(s->sim, n, mask, persist);
    *lib_rc = lib_user(s, op, ldone);
    vmar_sim_fail_after(s->sim, 0, 0, false);
    if (op->kind == DIFF_CPU)
        vmar_sim_cpu_stats(cpu, &cb);
    vmar_sim_stats(s->sim, &b);
    *fired = b.fails_injected != a.fails_injected;
    if (!*fired)
        return 0;
    s->st->fails_fired++;
    s->st->fired_user++;
    s->st->fired_alloc += mask == VMAR_SIM_FAIL_ALLOC;
    s->st->fired_frame += mask == VMAR_SIM_FAIL_FRAME;
    s->st->fired_data += mask == VMAR_SIM_FAIL_DATA;
    s->st->fired_table += mask == VMAR_SIM_FAIL_TABLE;
    if (*lib_rc != VMAR_ENOMEM)
        return fail(s,
                    "injected allocation failure %u (mask %#x) hit but the "
                    "call returned %s, not VMAR_ENOMEM\n",
                    n, mask, vmar_errname(*lib_rc));
    long added = obj_resync(s);
    if (added < 0)
        return 1;
    s->st->fired_object += added > 0;
    if (op->kind == DIFF_CPU) {
        if (cpu_prefix(s, op, (cb.hits + cb.misses) - (ca.hits + ca.misses),
                       ldone))
            return 1;
    } else if (op->kind == DIFF_FAULT) {
        /* A growth comes before the fault's allocations and stays. */
        const size_t growths = s->c->m.stack_growths;
        (void)model_grow(&s->c->m, op->a, op->flags);
        grew = s->c->m.stack_growths != growths;
    } else {
        uint64_t d = 0;
        if (*ldone >= op->b || (*ldone && (op->a + *ldone) % PG))
            return fail(s,
                        "failed copy (allocation %u, mask %#x) reports %zu "
                        "bytes done of %" PRIu64 ", not a page prefix\n",
                        n, mask, *ldone, op->b);
        if (model_access_force(
                &s->c->m, op->a, *ldone,
                op->kind == DIFF_READ ? VMAR_PROT_READ : VMAR_PROT_WRITE, true,
                op->kind != DIFF_ZERO && op->flags & VMAR_RW_FORCE, &d) != 0 ||
            d != *ldone)
            return fail(s,
                        "failed copy reports %zu bytes done, but the model "
                        "refuses a page before that\n",
                        *ldone);
        if (*ldone)
            s->st->partial_copies++;
        if (user_bytes(s, op, *ldone))
            return 1;
    }
    snap_take(s, &after);
    /* A CPU write's prefix is only known up to what is observable: a
     * page whose written bytes are all zeros and that needed no frame (a
     * copy-on-write reuse) looks untouched, but its leaf did change; so
     * no digest for CPU writes (tests/diff/regress/cpu_write_cow_reuse). */
    /* A stack that grew onto a grow-down neighbour merged with it: one
     * mapping node fewer, and the growth stays (vmar_fault()). */
    if ((op->kind == DIFF_FAULT || *ldone == 0) &&
        !(op->kind == DIFF_CPU && op_writes(op)) &&
        ((added == 0 && after.digest != before.digest) ||
         (grew ? after.allocs > before.allocs
               : after.allocs != before.allocs) ||
         after.frames != before.frames + (size_t)added))
        return fail(s,
                    "failed call (allocation %u, mask %#x) changed the "
                    "machine: digest %#" PRIx64 " -> %#" PRIx64
                    ", allocs %zu -> %zu, frames %zu -> %zu\n",
                    n, mask, before.digest, after.digest, before.allocs,
                    after.allocs, before.frames, after.frames);
    if (compare_all(s, false))
        return fail(s, "(after a failed call with allocation %u failing)\n", n);
    return 0;
}

static int step_user(struct diff_session *s, const struct diff_op *op)
{
    size_t ldone = 0;
    uint64_t mdone = 0;
    int lrc = 0, mrc;
    bool fired = false;

    if (op->kind != DIFF_FAULT && op->b > COPY_MAX)
        return fail(s,
                    "op: length %#" PRIx64 " over the driver's %#" PRIx64 "\n",
                    op->b, COPY_MAX);
    if (op->fail_n) {
        if (op->fail_n == DIFF_FAIL_EVERY) {
            s->st->fails_every++;
            for (uint32_t n = 1;; n = sweep_next(n)) {
                if (run_injected_user(s, op, n, op->fail_mask, false, &lrc,
                                      &ldone, &fired))
                    return 1;
                if (!fired)
                    break;
            }
        } else if (run_injected_user(s, op, op->fail_n, op->fail_mask,
                                     op->fail_persist, &lrc, &ldone, &fired)) {
            return 1;
        } else if (fired) {
            s->st->by_kind[op->kind]++;
            return 0;
        }
    } else {
        lrc = lib_user(s, op, &ldone);
    }
    const size_t growths = s->c->m.stack_growths;
    mrc = model_user(s, op, op->b, &mdone);
    s->st->stack_growths += s->c->m.stack_growths - growths;
    count_outcome(s, op, mrc);
    if (s->c->m.why && !strcmp(s->c->m.why, "past the object's end")) {
        const struct model_page *p = model_page_at(
            &s->c->m, op->kind == DIFF_FAULT ? op->a : op->a + mdone);
        s->st->obj_eof_enxio += p && !(p->flags & VMAR_MAP_SHARED);
    }
    if (lrc != mrc)
        return fail(s, "return code: library %s, model %s (%s)\n",
                    vmar_errname(lrc), vmar_errname(mrc),
                    s->c->m.why ? s->c->m.why : "success");
    if ((op->kind == DIFF_READ || op->kind == DIFF_WRITE ||
         op->kind == DIFF_ZERO) &&
        ldone != mdone)
        return fail(s, "bytes done: library %zu, model %" PRIu64 "\n", ldone,
                    mdone);
    if (mdone && mdone < op->b)
        s->st->partial_copies++;
    if (user_bytes(s, op, mdone))
        return 1;
    return compare_all(s, ++s->nsteps % s->opts.page_check_every == 0);
}

static int step_dispatch(struct diff_session *s, const struct diff_op *op);
static const char *const kind_names[DIFF_NKINDS];

/* Which of the driver's device frames the space maps (the model's view). */
static void dev_frames_used(const struct diff_session *s, const struct model *m,
                            uint8_t used[DEV_PAGES])
{
    memset(used, 0, DEV_PAGES);
    for (size_t i = 0; i < m->npages; i++)
        if (m->pg[i].mapped && m->pg[i].backing == VMAR_BACKING_DEVICE)
            used[(m->pg[i].objoff - s->dev_base) / PG] = 1;
}

/* A device map of frames the space already maps. The generator never
 * makes one (the reference decoders refuse a frame mapped twice in one
 * table, tests/support/refcheck.c), but a shrunk case can, by dropping
 * the op that unmapped them: it is skipped, or the shrinker would trade
 * the divergence it shrinks for that one. */
static bool dev_map_reuses(const struct diff_session *s,
                           const struct diff_op *op)
{
    uint8_t used[DEV_PAGES];

    if (op->kind != DIFF_MAP || op->backing != VMAR_BACKING_DEVICE ||
        op->d > DEV_PAGES || op->b > (DEV_PAGES - op->d) * PG)
        return false;
    dev_frames_used(s, &s->sl[op->sp].m, used);
    for (uint64_t k = op->d; k * PG < op->d * PG + op->b; k++)
        if (used[k])
            return true;
    return false;
}

int diff_step(struct diff_session *s, const struct diff_op *op)
{
    /* The op's space; an empty slot (a shrunk case lost the fork): skip. */
    if (op->sp >= DIFF_SLOTS || !s->sl[op->sp].live)
        return 0;
    if (dev_map_reuses(s, op))
        return 0;
    s->c = &s->sl[op->sp];
    s->st->ops++;
    s->st->multi_space_ops += live_slots(s) > 1;

    /* The model's own coverage counters of the op's space. */
    struct slot *sl = s->c;
    const struct model before = sl->m;
    s->last_rc = 0;
    sl->m.why = NULL;
    int rc = step_dispatch(s, op);
    /* VMAR_DIFF_TRACE=1: each op's outcome on stderr (what a replayed
     * case actually exercised). */
    static int trace = -1;
    if (trace < 0)
        trace = getenv("VMAR_DIFF_TRACE") != NULL;
    if (trace)
        fprintf(stderr, "op %zu (space %u, %s): %s%s%s%s\n", s->st->ops - 1,
                op->sp, op->kind < DIFF_NKINDS ? kind_names[op->kind] : "?",
                vmar_errname(s->last_rc), sl->live && sl->m.why ? " (" : "",
                sl->live && sl->m.why ? sl->m.why : "",
                sl->live && sl->m.why ? ")" : "");
    if (sl->live) {
        s->st->obj_around += sl->m.faulted_around - before.faulted_around;
        s->st->obj_copies += sl->m.obj_copies - before.obj_copies;
        s->st->obj_reverts += sl->m.obj_reverts - before.obj_reverts;
        s->st->obj_dirty += sl->m.obj_dirtied - before.obj_dirtied;
        s->st->lock_populated += sl->m.lock_populated - before.lock_populated;
        s->st->pin_unshares += sl->m.pin_unshares - before.pin_unshares;
    }
    return rc;
}

static int step_dispatch(struct diff_session *s, const struct diff_op *op)
{
    switch (op->kind) {
    case DIFF_MAP:
    case DIFF_UNMAP:
    case DIFF_PROTECT:
    case DIFF_ADVISE:
    case DIFF_REMAP:
    case DIFF_RESIZE:
    case DIFF_SEAL:
    case DIFF_FORK:
    case DIFF_LOCK:
        if (op->kind == DIFF_LOCK && op->c > DIFF_MLOCK_LIMIT)
            return fail(s, "op: unknown lock kind %" PRIu64 "\n", op->c);
        if (op->kind == DIFF_MAP && op->backing == VMAR_BACKING_DEVICE &&
            (op->d > DEV_PAGES || op->b > (DEV_PAGES - op->d) * PG))
            return fail(s,
                        "op: device range outside the driver's %d "
                        "frames\n",
                        DEV_PAGES);
        return step_mutate(s, op);
    case DIFF_CLEAR:
        return step_clear(s, op);
    case DIFF_PIN:
        return step_pin(s, op);
    case DIFF_UNPIN:
        return step_unpin(s, op);
    case DIFF_OBJECT:
        return step_object(s, op);
    case DIFF_DESTROY:
        return step_destroy(s, op);
    case DIFF_LIMITS:
        vmar_set_limits(s->c->space, op->a, (size_t)op->b);
        vmar_set_stack_limit(s->c->space, op->c);
        model_set_limits(&s->c->m, op->a, (size_t)op->b);
        model_set_stack_limit(&s->c->m, op->c);
        count_outcome(s, op, 0);
        return compare_all(s, false);
    case DIFF_QUERY:
        return step_query(s, op);
    case DIFF_RESIDENT:
        return step_resident(s, op);
    case DIFF_ITERATE:
        return step_iterate(s, op);
    case DIFF_FAULT:
    case DIFF_READ:
    case DIFF_WRITE:
    case DIFF_ZERO:
    case DIFF_CPU:
        return step_user(s, op);
    default:
        return fail(s, "unknown op kind %d\n", (int)op->kind);
    }
}

/* ---- generator ---------------------------------------------------------- */

void diff_gen_space(struct diff_rng *r, struct diff_space *sp)
{
    static const uint64_t sizes[] = {64, 256, 1024, 4096};
    /* Every address derives from the backend's user range: Sv39 has only
     * 2^38 bytes, the 5-level formats 2^56 and more. */
    const uint64_t top = vt_backend()->ops->user_top;
    /* Boundaries where a higher-level table changes: 1 GiB, 512 GiB,
     * 256 TiB (the 4-level top), 128 PiB; those below the top. */
    static const unsigned bounds[] = {30, 39, 47, 48, 56};
    unsigned nb = 0;
    while (nb < 5 && (UINT64_C(1) << bounds[nb]) + 4096 * PG < top)
        nb++;
    uint64_t np = sizes[R(r, 10) < 3 ? 0 : R(r, 10) < 9 ? 1 + R(r, 2) : 3];
    uint64_t len = np * PG;

    memset(sp, 0, sizeof(*sp));
    switch (R(r, 4)) {
    case 0: /* Linux's default bottom */
        sp->user_lo = VMAR_DEFAULT_USER_LO;
        break;
    case 1: /* across a 1 GiB, 512 GiB, ... boundary: upper tables change */
        sp->user_lo = (UINT64_C(1) << bounds[R(r, nb)]) - len / 2;
        break;
    case 2: /* the very top of the sim's user range */
        sp->user_lo = top - len;
        break;
    default: { /* across some 2 MiB boundary below 2^41 (or the top) */
        const uint64_t b = (1 + R(r, (top >> 21) - 8 < (UINT64_C(1) << 20)
                                         ? (top >> 21) - 8
                                         : UINT64_C(1) << 20))
                           << 21;
        /* The lowest boundaries have less than len / 2 below them (a
         * byte-fed rng that ran dry draws 0): start there, not at 0 or
         * below it. */
        sp->user_lo = b > len / 2 ? b - len / 2 : b;
        break;
    }
    }
    sp->user_hi = sp->user_lo + len;
    switch (R(r, 3)) {
    case 0:
        break;
    case 1:
        sp->stack_guard = PG;
        break;
    default:
        sp->stack_guard = (1 + R(r, 16)) * PG;
        break;
    }
    if (chance(r, 25))
        sp->as_limit = (np / 2 + R(r, np)) * PG;
    if (chance(r, 25))
        sp->max_map_count = 2 + R(r, 32);
    if (chance(r, 30))
        sp->flags = VMAR_SPACE_BOTTOM_UP;
}

/* Frame failures: of the ops that fail frames (VMAR_SIM_FAIL_FRAME), a
 * third count page-table pages only and a third data frames only, chosen
 * from the page of the address already drawn, so that the random stream
 * stays as it was. */
static void split_frame_mask(struct diff_op *op)
{
    if (op->fail_mask == VMAR_SIM_FAIL_FRAME && op->a / PG % 3 != 0)
        op->fail_mask =
            op->a / PG % 3 == 1 ? VMAR_SIM_FAIL_TABLE : VMAR_SIM_FAIL_DATA;
}

static const struct model_run *rand_run(struct diff_session *s,
                                        struct diff_rng *r)
{
    return s->nruns ? &s->runs[R(r, s->nruns)] : NULL;
}

static uint64_t pick_addr(struct diff_session *s, struct diff_rng *r)
{
    const struct model_cfg *c = &s->c->m.cfg;
    const struct model_run *run = rand_run(s, r);
    uint64_t np = s->c->m.npages;

    switch (R(r, 18)) {
    case 0:
    case 1:
        if (run)
            return run->start;
        break;
    case 2:
    case 3:
        if (run)
            return run->end;
        break;
    case 4:
        if (run)
            return run->start + PG;
        break;
    case 5:
        if (run)
            return run->end - PG;
        break;
    case 6:
        if (run)
            return run->start + R(r, (run->end - run->start) / PG) * PG;
        break;
    case 7:
        return c->user_lo;
    case 8:
        return c->user_hi - (1 + R(r, 4)) * PG;
    case 11:
    case 12: { /* a page of a caller's object mapping */
        size_t obj[64], n = 0;
        for (size_t i = 0; i < s->nruns && n < 64; i++)
            if (s->runs[i].backing == VMAR_BACKING_OBJECT)
                obj[n++] = i;
        if (n) {
            const struct model_run *o = &s->runs[obj[R(r, n)]];
            return o->start + R(r, (o->end - o->start) / PG) * PG;
        }
        break;
    }
    case 9: { /* an aligned address, for alignment limits */
        /* One draw per statement: the order in which the operands of one
         * expression are evaluated is unspecified, and compilers (or one
         * compiler at two optimisation levels) differ, which would make a
         * seed generate different sequences in different builds. */
        const uint64_t page = R(r, np);
        return (c->user_lo + page * PG) & ~((PG << R(r, 9)) - 1);
    }
    case 10: /* the user range's edges and beyond, rarely */
        if (!chance(r, 50))
            break;
        switch (R(r, 6)) {
        case 0:
            return c->user_lo - PG;
        case 1:
            return c->user_hi;
        case 2:
            return c->user_hi + PG;
        case 3:
            return 0;
        case 4:
            return UINT64_MAX & ~(PG - 1);
        default: {
            const uint64_t page = R(r, np); /* one draw per statement */
            return c->user_lo + page * PG + 1 + R(r, PG - 1);
        }
        }
    default:
        break;
    }
    return c->user_lo + R(r, np) * PG;
}

static uint64_t pick_size(struct diff_session *s, struct diff_rng *r,
                          uint64_t addr)
{
    const struct model_cfg *c = &s->c->m.cfg;
    uint64_t np = s->c->m.npages;
    size_t i = 0;

    /* First run that ends above addr. */
    while (i < s->nruns && s->runs[i].end <= addr)
        i++;
    switch (R(r, 13)) {
    case 0:
    case 1:
    case 2:
        return (1 + R(r, 4)) * PG;
    case 3: /* to the end of the run at or above */
        if (i < s->nruns)
            return s->runs[i].end - addr;
        break;
    case 4: /* across several runs and the holes between them */
        if (i < s->nruns) {
            size_t j = i + R(r, 4);
            j = j < s->nruns ? j : s->nruns - 1;
            return s->runs[j].end - addr;
        }
        break;
    case 5: /* up to the next run: fills a hole exactly */
        if (i < s->nruns && s->runs[i].start > addr)
            return s->runs[i].start - addr;
        break;
    case 6: { /* the exact size of some hole: an exact fit elsewhere */
        size_t g = (size_t)R(r, s->nruns + 1);
        uint64_t lo = g ? s->runs[g - 1].end : c->user_lo;
        uint64_t hi = g < s->nruns ? s->runs[g].start : c->user_hi;
        if (hi > lo)
            return hi - lo;
        break;
    }
    case 7: /* random, mostly inside the user range */
        if (addr >= c->user_lo && addr < c->user_hi && chance(r, 80))
            return (1 + R(r, (c->user_hi - addr) / PG)) * PG;
        return (1 + R(r, np)) * PG;
    case 8: /* to the top of the user range */
        if (addr < c->user_hi && addr >= c->user_lo)
            return c->user_hi - addr;
        break;
    case 9: /* sizes at and beyond the limits, rarely */
        if (!chance(r, 50))
            break;
        switch (R(r, 5)) {
        case 0:
            return c->user_hi - c->user_lo;
        case 1:
            return c->user_hi - c->user_lo + PG;
        case 2:
            return 0;
        case 3: {
            const uint64_t pages = 1 + R(r, 4); /* one draw per statement */
            return pages * PG + 1 + R(r, PG - 1);
        }
        default:
            return UINT64_MAX & ~(PG - 1); /* wraps */
        }
    default:
        break;
    }
    return (1 + R(r, 16)) * PG;
}

static unsigned pick_prot(struct diff_rng *r)
{
    /* Few distinct values, so neighbours often agree and merge. */
    if (chance(r, 60))
        return chance(r, 50) ? VMAR_PROT_READ
                             : VMAR_PROT_READ | VMAR_PROT_WRITE;
    if (chance(r, 3))
        return 8u << R(r, 3); /* unknown bit */
    return (unsigned)R(r, 8);
}

static void gen_object_map(struct diff_session *s, struct diff_rng *r,
                           struct diff_op *op);

/* A placement window (vmar_map_opts::window_lo, window_hi): mostly a
 * valid one of a few pages to the whole range, near the layout, one
 * edge left at its default now and then; rarely a malformed one. */
static void gen_window(struct diff_session *s, struct diff_rng *r,
                       struct diff_op *op)
{
    const struct model_cfg *c = &s->c->m.cfg;
    const uint64_t n = (c->user_hi - c->user_lo) / PG;
    uint64_t lo = pick_addr(s, r) & ~(PG - 1);

    if (lo < c->user_lo || lo >= c->user_hi)
        lo = c->user_lo + R(r, n) * PG;
    uint64_t room = (c->user_hi - lo) / PG;
    uint64_t hi = lo + (1 + R(r, chance(r, 50) ? 16 : room)) * PG;
    if (hi > c->user_hi)
        hi = c->user_hi;
    op->wlo = chance(r, 15) ? 0 : lo;
    op->whi = chance(r, 15) ? 0 : hi;
    if (chance(r, 8)) {
        switch (R(r, 5)) {
        case 0:
            op->wlo = lo + 1 + R(r, PG - 1);
            break;
        case 1:
            op->whi = hi - 1;
            break;
        case 2:
            op->wlo = hi;
            op->whi = lo;
            break;
        case 3:
            op->wlo = c->user_lo - PG;
            break;
        default:
            op->whi = c->user_hi + PG;
            break;
        }
    }
}

static void gen_map(struct diff_session *s, struct diff_rng *r,
                    struct diff_op *op)
{
    static const unsigned places[] = {VMAR_PLACE_ANY,
                                      VMAR_PLACE_ANY,
                                      VMAR_PLACE_ANY,
                                      VMAR_PLACE_HINT,
                                      VMAR_PLACE_HINT,
                                      VMAR_PLACE_FIXED_NOREPLACE,
                                      VMAR_PLACE_FIXED_NOREPLACE,
                                      VMAR_PLACE_FIXED,
                                      VMAR_PLACE_FIXED,
                                      VMAR_PLACE_FIXED};

    op->kind = DIFF_MAP;
    op->place = places[R(r, 10)];
    if (chance(r, 1))
        op->place = 4 + (unsigned)R(r, 3); /* unknown mode */
    op->a = pick_addr(s, r);
    op->b = pick_size(s, r, op->a);
    op->prot = pick_prot(r);
    if (chance(r, 15)) {
        /* Mostly a deny set compatible with prot, sometimes not. */
        op->deny = (unsigned)R(r, 8);
        if (chance(r, 85))
            op->deny &= ~op->prot;
    }
    if (chance(r, 20))
        op->flags |= VMAR_MAP_SHARED;
    if (chance(r, 25))
        op->flags |= VMAR_MAP_POPULATE;
    if (chance(r, 15))
        op->flags |= VMAR_MAP_STACK;
    /* Grow-down stacks: private anonymous memory (else EINVAL). */
    if (chance(r, 6))
        op->flags |= VMAR_MAP_GROWSDOWN;
    if (chance(r, 10))
        op->flags |= chance(r, 50) ? VMAR_MAP_BOTTOM_UP : VMAR_MAP_TOP_DOWN;
    if (chance(r, 12))
        gen_window(s, r, op);
    if (chance(r, 5))
        op->flags |= VMAR_MAP_NO_RANDOM;
    /* Locked (populated at once, or on fault), now and then ONFAULT
     * alone (EINVAL). */
    if (chance(r, 3))
        op->flags |=
            VMAR_MAP_LOCKED | (chance(r, 40) ? VMAR_MAP_LOCKONFAULT : 0u);
    else if (chance(r, 1))
        op->flags |= VMAR_MAP_LOCKONFAULT;
    if (chance(r, 4)) /* kept flags advice sets, now and then refused */
        op->flags |=
            chance(r, 50) ? VMAR_MAP_WIPEONFORK : VMAR_MAP_DONTDUMP << R(r, 3);
    if (chance(r, 1))
        op->flags |= VMAR_MAP_HUGEPAGE | VMAR_MAP_NOHUGEPAGE;
    if (chance(r, 1))
        op->flags |= chance(r, 50) ? VMAR_MAP_BOTTOM_UP | VMAR_MAP_TOP_DOWN
                                   : 1u << (6 + R(r, 4));
    if (chance(r, 15)) {
        op->align = PG << (1 + R(r, 7));
        if (chance(r, 3))
            op->align = chance(r, 50) ? PG / 2 : 3 * PG;
        /* Usually make it valid: size a multiple of align, a fixed or
         * hinted address aligned. */
        if (chance(r, 85) && op->align % PG == 0) {
            op->b = (op->b + op->align - 1) & ~(op->align - 1);
            if (op->place != VMAR_PLACE_ANY)
                op->a &= ~(op->align - 1);
        }
    } else if (chance(r, 2)) {
        op->align = PG;
    }
    /* An object mapping without an object, and an out-of-range value. */
    if (chance(r, 2))
        op->backing = R(r, 2) ? VMAR_BACKING_OBJECT : 3u;
    /* Device memory: a piece of the driver's DEV_PAGES frames. */
    if (chance(r, 4)) {
        /* Frames this space does not map yet: the reference decoders
         * (tests/support) refuse a frame mapped twice in one table. */
        uint8_t used[DEV_PAGES];
        dev_frames_used(s, &s->c->m, used);
        uint64_t d = R(r, DEV_PAGES), np = 0;
        while (d + np < DEV_PAGES && !used[d + np] && np < 1 + R(r, 8))
            np++;
        if (np == 0)
            return;
        op->backing = VMAR_BACKING_DEVICE;
        op->b = np * PG;
        op->d = d;
        op->cache = (unsigned)R(r, 4);
        op->align = 0;
        if (op->place == VMAR_PLACE_ANY && chance(r, 50))
            op->place = VMAR_PLACE_FIXED;
        return;
    }
    if (op->backing == VMAR_BACKING_ANON && chance(r, 30))
        gen_object_map(s, r, op);
}

/* DIFF_OBJECT: make a memfd or an embedder object (0 to 64 pages,
 * sometimes an odd byte size: a memfd rounds it up, the embedder's
 * partial last page is past its end) in a slot, or drop one. */
static void gen_object(struct diff_session *s, struct diff_rng *r,
                       struct diff_op *op)
{
    op->kind = DIFF_OBJECT;
    op->obj = 1 + (unsigned)R(r, DIFF_NOBJ);
    if (s->obj[op->obj - 1].lib && chance(r, 25)) {
        op->c = DIFF_OBJ_DROP;
        return;
    }
    if (s->obj[op->obj - 1].lib && chance(r, 35)) {
        /* Shrink (leaves keep the dropped pages), grow, or an odd size;
         * an embedder object refuses (EINVAL). */
        uint64_t pages = s->c->m.st->obj[s->obj[op->obj - 1].mid].pages;
        op->c = DIFF_OBJ_TRUNCATE;
        switch (R(r, 6)) {
        case 0:
        case 1:
        case 2:
            op->b = R(r, pages + 1) * PG;
            break;
        case 3: /* by a page or two: leaves near the end stay */
            op->b = (pages > 2 ? pages - 1 - R(r, 2) : 0) * PG;
            break;
        case 4:
            op->b = (pages + 1 + R(r, 8)) * PG;
            break;
        default:
            op->b = R(r, (pages + 2) * PG);
            break;
        }
        /* Mostly below a page some leaf maps: that leaf keeps it. */
        const struct model *m = &s->c->m;
        uint64_t mid = s->obj[op->obj - 1].mid, top = 0;
        for (size_t i = 0; i < m->npages; i++)
            if (m->pg[i].populated && m->pg[i].object == mid &&
                !m->pg[i].frame && m->pg[i].objoff / PG + 1 > top)
                top = m->pg[i].objoff / PG + 1;
        if (top && chance(r, 60))
            op->b = R(r, top) * PG;
        return;
    }
    op->c = R(r, 2);
    op->b = (chance(r, 5) ? 0 : 1 + R(r, chance(r, 75) ? 16 : 64)) * PG;
    if (chance(r, 20))
        op->b += 1 + R(r, PG - 1);
    if (op->c == DIFF_OBJ_MEMFD && chance(r, 10)) {
        op->fail_n = 1 + (uint32_t)R(r, 2);
        op->fail_mask = VMAR_SIM_FAIL_ALLOC;
    }
    if (op->c == DIFF_OBJ_EMBED) {
        op->prot = chance(r, 60) ? VMAR_PROT_RWX : (unsigned)R(r, 8);
        op->flags = (unsigned)R(r, 4);
        if (op->b >= PG && chance(r, 25)) {
            op->flags |= DIFF_OBJ_BAD;
            op->d = R(r, op->b / PG);
        }
    }
}

/* A map of one of the driver's objects: offsets at 0, near and past the
 * object's end, sizes to and across it, shared and private, FAULT_AROUND
 * and EOF_FAULT; or the continuation of a mapping of the same object
 * (just after or before it, offsets continuing: they must merge). */
static void gen_object_map(struct diff_session *s, struct diff_rng *r,
                           struct diff_op *op)
{
    unsigned live[DIFF_NOBJ], n = 0;
    const struct model_store *st = s->c->m.st;

    for (unsigned k = 0; k < DIFF_NOBJ; k++)
        if (s->obj[k].lib)
            live[n++] = k;
    if (n == 0 && !chance(r, 10))
        return;
    op->backing = VMAR_BACKING_OBJECT;
    op->obj = n ? 1 + live[R(r, n)] : 1 + (unsigned)R(r, DIFF_NOBJ);
    uint64_t mid = op_mid(s, op);
    uint64_t end = mid ? st->obj[mid].pages * PG : 0;

    if (mid && chance(r, 20)) {
        /* Continue a mapping of this object. */
        size_t cand[64], nc = 0;
        for (size_t i = 0; i < s->nruns && nc < 64; i++)
            if (s->runs[i].object == mid)
                cand[nc++] = i;
        if (nc) {
            const struct model_run *run = &s->runs[cand[R(r, nc)]];
            op->b = (1 + R(r, 4)) * PG;
            op->align = 0;
            op->place =
                chance(r, 50) ? VMAR_PLACE_FIXED_NOREPLACE : VMAR_PLACE_FIXED;
            if (chance(r, 50) || run->offset < op->b || run->start < op->b) {
                op->a = run->end;
                op->offset = run->offset + (run->end - run->start);
            } else {
                op->a = run->start - op->b;
                op->offset = run->offset - op->b;
            }
            /* Sometimes an offset that does not continue: no merge. */
            if (chance(r, 15))
                op->offset += PG;
            op->prot = run->prot;
            op->deny = VMAR_PROT_RWX & ~run->max_prot;
            op->flags = run->flags & ~(unsigned)VMAR_MAP_STACK;
            if (chance(r, 30))
                op->flags |= VMAR_MAP_POPULATE;
            return;
        }
    }
    switch (R(r, 8)) {
    case 0:
    case 1:
    case 2:
        op->offset = 0;
        break;
    case 3: /* near the end */
        op->offset =
            end > PG ? end - (1 + R(r, end / PG < 4 ? end / PG : 4)) * PG : 0;
        break;
    case 4: /* at or past the end */
        op->offset = end + R(r, 4) * PG;
        break;
    case 5:
        op->offset = R(r, end / PG + 1) * PG;
        break;
    case 6:
        if (chance(r, 20)) { /* unaligned, or wrapping with the size */
            op->offset = chance(r, 50) ? PG / 2 : UINT64_MAX & ~(PG - 1);
            break;
        }
        op->offset = R(r, end / PG + 1) * PG;
        break;
    default:
        op->offset = R(r, 2) * PG;
        break;
    }
    switch (R(r, 5)) {
    case 0: /* to the end */
        if (end > op->offset)
            op->b = end - op->offset;
        break;
    case 1: /* across it */
        if (end >= op->offset)
            op->b = end - op->offset + (1 + R(r, 4)) * PG;
        break;
    case 2:
        op->b = (1 + R(r, 4)) * PG;
        break;
    default:
        break; /* gen_map's size */
    }
    if (op->align > PG && op->align % PG == 0 && chance(r, 85)) {
        op->offset &= ~(op->align - 1);
        op->b = (op->b + op->align - 1) & ~(op->align - 1);
    }
    op->flags &= ~(unsigned)VMAR_MAP_SHARED;
    if (chance(r, 45))
        op->flags |= VMAR_MAP_SHARED;
    if (chance(r, 30))
        op->flags |= VMAR_MAP_FAULT_AROUND;
    if (chance(r, 25))
        op->flags |= VMAR_MAP_EOF_FAULT;
    if (chance(r, 15))
        op->flags |= VMAR_MAP_POPULATE;
    /* Fill an object's cache while failing: the pages it got stay. */
    if (chance(r, 5) && op->b <= 16 * PG) {
        op->flags |= VMAR_MAP_POPULATE;
        op->fail_n = DIFF_FAIL_EVERY;
        op->fail_mask =
            chance(r, 70) ? VMAR_SIM_FAIL_FRAME : VMAR_SIM_FAIL_ALLOC;
        split_frame_mask(op);
    }
}

static const int advices[] = {
    VMAR_ADVISE_NORMAL, VMAR_ADVISE_RANDOM, VMAR_ADVISE_SEQUENTIAL,
    VMAR_ADVISE_WILLNEED, VMAR_ADVISE_DONTNEED, VMAR_ADVISE_DONTNEED,
    VMAR_ADVISE_FREE, VMAR_ADVISE_DONTFORK, VMAR_ADVISE_DONTFORK,
    VMAR_ADVISE_DOFORK, VMAR_ADVISE_REMOVE, VMAR_ADVISE_REMOVE,
    VMAR_ADVISE_HUGEPAGE, VMAR_ADVISE_NOHUGEPAGE, VMAR_ADVISE_DONTDUMP,
    VMAR_ADVISE_DODUMP, VMAR_ADVISE_WIPEONFORK, VMAR_ADVISE_WIPEONFORK,
    VMAR_ADVISE_KEEPONFORK, VMAR_ADVISE_COLD, VMAR_ADVISE_PAGEOUT,
    VMAR_ADVISE_POPULATE_READ, VMAR_ADVISE_POPULATE_WRITE,
    /* vmar_inherit (the driver's encoding: MODEL_INHERIT + value). */
    MODEL_INHERIT + VMAR_INHERIT_SHARE, MODEL_INHERIT + VMAR_INHERIT_COPY,
    MODEL_INHERIT + VMAR_INHERIT_NONE, MODEL_INHERIT + VMAR_INHERIT_ZERO,
    VMAR_ADVISE_GUARD_INSTALL, VMAR_ADVISE_GUARD_REMOVE};

static void gen_advise(struct diff_session *s, struct diff_rng *r,
                       struct diff_op *op)
{
    op->kind = DIFF_ADVISE;
    op->a = pick_addr(s, r);
    op->b = pick_size(s, r, op->a);
    op->advice = advices[R(r, sizeof(advices) / sizeof(advices[0]))];
    /* Drop a whole caller's object mapping now and then: private copies
     * revert to the object's content. */
    if (chance(r, 20)) {
        size_t obj[64], n = 0;
        for (size_t i = 0; i < s->nruns && n < 64; i++)
            if (s->runs[i].backing == VMAR_BACKING_OBJECT)
                obj[n++] = i;
        if (n) {
            const struct model_run *o = &s->runs[obj[R(r, n)]];
            op->a = o->start;
            op->b = o->end - o->start;
            /* Or punch it: other mappings and spaces of the object. */
            op->advice =
                chance(r, 30) ? VMAR_ADVISE_REMOVE : VMAR_ADVISE_DONTNEED;
        }
    }
    if (chance(r, 3)) {
        static const int bad[] = {5, 6, 7, 12, 13, 100, -1};
        op->advice = bad[R(r, 7)];
        if (chance(r, 10))
            op->advice = MODEL_INHERIT + 4; /* an unknown vmar_inherit */
    }
    /* A hint that cuts a mapping needs a node: fail it more often than
     * the other ops (gen_mutation_fail still decides most). */
    if (chance(r, 8)) {
        op->fail_n = 1;
        op->fail_mask = VMAR_SIM_FAIL_ALLOC;
    }
}

/* Populate advice keeps the pages it faulted before a failure, which
 * the model cannot know of an injected one: no injection there. */
static bool populates(const struct diff_op *op)
{
    return op->kind == DIFF_ADVISE &&
           (op->advice == VMAR_ADVISE_POPULATE_READ ||
            op->advice == VMAR_ADVISE_POPULATE_WRITE);
}

/* Seal a mapping, a part of one, or a range with holes: rare, since a
 * sealed mapping refuses most later changes (until clear or destroy). */
static void gen_seal(struct diff_session *s, struct diff_rng *r,
                     struct diff_op *op)
{
    const struct model_run *run = rand_run(s, r);

    op->kind = DIFF_SEAL;
    if (run && chance(r, 70)) {
        op->a = run->start;
        op->b = run->end - run->start;
        if (chance(r, 40)) { /* a part: cuts */
            op->a += R(r, op->b / PG) * PG;
            op->b = (1 + R(r, (run->end - op->a) / PG)) * PG;
        }
    } else {
        op->a = pick_addr(s, r);
        op->b = pick_size(s, r, op->a);
    }
    if (chance(r, 8)) {
        op->fail_n = 1 + (uint32_t)R(r, 2);
        op->fail_mask = VMAR_SIM_FAIL_ALLOC;
    }
}

/* A new size: the same, smaller, larger, to the end of the range, odd. */
static uint64_t pick_new_size(struct diff_session *s, struct diff_rng *r,
                              uint64_t addr, uint64_t old)
{
    switch (R(r, 8)) {
    case 0:
    case 1:
        return old;
    case 2:
        return old > PG ? (1 + R(r, old / PG - 1)) * PG : PG;
    case 3:
    case 4:
        return old + (1 + R(r, 8)) * PG;
    case 5:
        return old + (1 + R(r, 64)) * PG;
    case 6:
        return pick_size(s, r, addr);
    default:
        return chance(r, 50) ? old - R(r, PG) : R(r, 3) * PG; /* rounds */
    }
}

static void gen_remap(struct diff_session *s, struct diff_rng *r,
                      struct diff_op *op)
{
    const struct model_run *run = rand_run(s, r);
    static const unsigned flagsets[] = {
        0,
        VMAR_REMAP_MAYMOVE,
        VMAR_REMAP_MAYMOVE,
        VMAR_REMAP_MAYMOVE | VMAR_REMAP_FIXED,
        VMAR_REMAP_MAYMOVE | VMAR_REMAP_FIXED,
        VMAR_REMAP_MAYMOVE | VMAR_REMAP_DONTUNMAP,
        VMAR_REMAP_MAYMOVE | VMAR_REMAP_FIXED | VMAR_REMAP_DONTUNMAP};

    op->kind = chance(r, 20) ? DIFF_RESIZE : DIFF_REMAP;
    /* A locked mapping now and then: growing it populates the new pages
     * (locked_remaps). */
    if (chance(r, 10)) {
        size_t lk[64], nl = 0;
        for (size_t i = 0; i < s->nruns && nl < 64; i++)
            if (s->runs[i].flags & VMAR_MAP_LOCKED)
                lk[nl++] = i;
        if (nl)
            run = &s->runs[lk[R(r, nl)]];
    }
    /* Device mappings are few: move one now and then. */
    if (chance(r, 40)) {
        size_t dev[64], nd = 0;
        for (size_t i = 0; i < s->nruns && nd < 64; i++)
            if (s->runs[i].backing == VMAR_BACKING_DEVICE)
                dev[nd++] = i;
        if (nd)
            run = &s->runs[dev[R(r, nd)]];
    }
    /* Mostly a whole mapping or a part from its start. */
    if (run && chance(r, 70)) {
        op->a = run->start;
        op->b = run->end - run->start;
        if (chance(r, 30))
            op->a += R(r, op->b / PG) * PG;
        if (op->a < run->end && chance(r, 30))
            op->b = (1 + R(r, (run->end - op->a) / PG)) * PG;
        else
            op->b = run->end - op->a;
        if (chance(r, 20)) /* across the next mapping(s) and holes */
            op->b = pick_size(s, r, op->a);
    } else {
        op->a = pick_addr(s, r);
        op->b = pick_size(s, r, op->a);
    }
    op->c = pick_new_size(s, r, op->a, op->b);
    /* A move needs a node and tables: fail one more often than the
     * other ops (gen_mutation_fail still decides most). */
    if (chance(r, 6)) {
        op->fail_n = 1 + (uint32_t)R(r, 2);
        op->fail_mask = VMAR_SIM_FAIL_ANY;
    }
    if (op->kind == DIFF_RESIZE) {
        if (chance(r, 10))
            op->b = pick_size(s, r, op->a);
        return;
    }
    op->flags = flagsets[R(r, sizeof(flagsets) / sizeof(flagsets[0]))];
    if (op->flags & VMAR_REMAP_DONTUNMAP && chance(r, 85))
        op->c = op->b;
    if (chance(r, 3))
        op->flags = chance(r, 50) ? VMAR_REMAP_FIXED | (unsigned)R(r, 8)
                                  : 1u << (3 + R(r, 4));
    if (op->flags & VMAR_REMAP_FIXED) {
        op->d = pick_addr(s, r);
        if (chance(r, 20))
            op->d = op->a + (chance(r, 50) ? op->b : 0) -
                    (chance(r, 50) ? op->c : 0);
    }
}

/* Make op's range a whole mapping whose prot & mask is `prot`, when
 * there is one. */
static void pick_run_where(struct diff_session *s, struct diff_rng *r,
                           struct diff_op *op, unsigned prot, unsigned mask)
{
    size_t idx[64], n = 0;

    for (size_t i = 0; i < s->nruns && n < 64; i++)
        if ((s->runs[i].prot & mask) == prot)
            idx[n++] = i;
    if (n) {
        const struct model_run *run = &s->runs[idx[R(r, n)]];
        op->a = run->start;
        op->b = run->end - run->start;
    }
}

/* The mlock family: lock or unlock a mapping, a part of one or a range
 * with holes; the whole space now and then (mlockall FUTURE is undone
 * soon: it locks and populates every later map); a lock limit that
 * applies (0, about what is locked, or large) or not. */
static void gen_lock(struct diff_session *s, struct diff_rng *r,
                     struct diff_op *op)
{
    static const unsigned alls[] = {
        VMAR_MLOCKALL_CURRENT,
        VMAR_MLOCKALL_CURRENT,
        VMAR_MLOCKALL_CURRENT | VMAR_MLOCKALL_ONFAULT,
        VMAR_MLOCKALL_FUTURE,
        VMAR_MLOCKALL_FUTURE | VMAR_MLOCKALL_ONFAULT,
        VMAR_MLOCKALL_CURRENT | VMAR_MLOCKALL_FUTURE,
        0,
        VMAR_MLOCKALL_ONFAULT,
        8};
    const struct model_run *run = rand_run(s, r);
    const unsigned k = (unsigned)R(r, 100);
    const vmar_size_t locked = model_locked(&s->c->m);

    op->kind = DIFF_LOCK;
    if (run && chance(r, 70)) {
        op->a = run->start;
        op->b = run->end - run->start;
        if (chance(r, 40)) { /* a part: cuts */
            op->a += R(r, op->b / PG) * PG;
            op->b = (1 + R(r, (run->end - op->a) / PG)) * PG;
        }
    } else {
        op->a = pick_addr(s, r);
        op->b = pick_size(s, r, op->a);
    }
    if (k < 30) {
        op->c = DIFF_MLOCK;
        if (chance(r, 15)) /* PROT_NONE: population fails (lock_efault) */
            pick_run_where(s, r, op, 0, VMAR_PROT_RWX);
        switch (R(r, 10)) {
        case 5:
        case 6:
            op->flags = VMAR_MLOCK_ONFAULT;
            break;
        case 7:
            op->flags = VMAR_MLOCK_NOPOPULATE;
            break;
        case 8:
            op->flags = VMAR_MLOCK_ONFAULT | VMAR_MLOCK_NOPOPULATE;
            break;
        case 9:
            op->flags = chance(r, 50) ? 4u : 0u;
            break;
        default:
            break;
        }
    } else if (k < 55) {
        op->c = DIFF_MUNLOCK;
    } else if (k < 67) {
        op->c = DIFF_MLOCKALL;
        op->flags = alls[R(r, sizeof(alls) / sizeof(alls[0]))];
    } else if (k < 75) {
        op->c = DIFF_MUNLOCKALL;
    } else if (k < 82) {
        op->c = DIFF_MLOCK_POPULATE;
    } else {
        /* Mostly about what is locked now, so that more locking meets
         * the limit (lock_limit). */
        op->c = DIFF_MLOCK_LIMIT;
        op->flags = chance(r, 30) ? 0u : 1u;
        switch (R(r, 8)) {
        case 0:
            op->a = 0;
            break;
        case 1:
        case 6:
        case 7:
            op->a = locked;
            break;
        case 2:
            op->a = locked + (1 + R(r, 16)) * PG;
            break;
        case 3:
            op->a = locked > PG ? locked - PG : PG;
            break;
        case 4:
            op->a = model_total_vm(&s->c->m);
            break;
        default:
            op->a = chance(r, 50) ? UINT64_MAX : locked + R(r, 4 * PG);
            break;
        }
    }
    /* Cutting a mapping needs a node: fail one now and then (an op that
     * populates afterwards runs without: populates_after). */
    if ((op->c == DIFF_MUNLOCK || op->c == DIFF_MLOCK) && chance(r, 8)) {
        op->fail_n = 1;
        op->fail_mask = VMAR_SIM_FAIL_ALLOC;
    }
}

/* A private page whose frame another space maps too (after a fork). */
static bool cow_shared(const struct model *m, const struct model_page *p)
{
    return p->mapped && p->populated && p->frame && !p->orphan &&
           !(p->flags & VMAR_MAP_SHARED) && m->st->frefs[p->frame] > 1 &&
           p->prot & VMAR_PROT_READ;
}

/* Pin one to four pages (now and then none, a count past the range, an
 * unaligned address or an unknown flag), or give some pins back. */
static void gen_pin(struct diff_session *s, struct diff_rng *r,
                    struct diff_op *op)
{
    op->kind = chance(r, 65) ? DIFF_PIN : DIFF_UNPIN;
    if (s->c->npins + 8 > DIFF_MAX_PINS)
        op->kind = DIFF_UNPIN;
    if (op->kind == DIFF_UNPIN) {
        op->a = R(r, DIFF_MAX_PINS);
        op->b = chance(r, 15) ? DIFF_MAX_PINS : 1 + R(r, 4);
        return;
    }
    op->a = pick_addr(s, r);
    op->b = 1 + R(r, chance(r, 50) ? 1 : 4);
    op->flags = chance(r, 50) ? VMAR_PIN_WRITE : 0u;
    if (chance(r, 25)) {
        /* A read pin of a private page that shares its frame with a
         * fork: the library copies it first (pin_unshares). */
        const struct model *m = &s->c->m;
        size_t n = 0, pick;
        for (size_t i = 0; i < m->npages; i++)
            n += cow_shared(m, &m->pg[i]);
        pick = (size_t)R(r, n);
        for (size_t i = 0; n && i < m->npages; i++)
            if (cow_shared(m, &m->pg[i]) && pick-- == 0) {
                op->a = m->cfg.user_lo + i * PG;
                op->b = 1;
                op->flags = 0;
            }
    }
    switch (R(r, 40)) {
    case 0:
        op->b = 0;
        break;
    case 1:
        op->b = s->c->m.npages + 1;
        break;
    case 2:
        op->a += 1 + R(r, PG - 1);
        break;
    case 3:
        op->flags |= 2u;
        break;
    default:
        break;
    }
}

/* Fork into a free slot, destroy a space, or clear one. */
static void gen_space_op(struct diff_session *s, struct diff_rng *r,
                         struct diff_op *op)
{
    unsigned k = (unsigned)R(r, 10);
    size_t live = live_slots(s);

    if (k < 6 && live < DIFF_SLOTS) {
        op->kind = DIFF_FORK;
        for (unsigned i = 0; i < DIFF_SLOTS; i++)
            if (!s->sl[i].live) {
                op->a = i;
                break;
            }
        return;
    }
    if (k < 9 && live > 1) {
        op->kind = DIFF_DESTROY;
        return;
    }
    op->kind = chance(r, 30) ? DIFF_CLEAR : DIFF_QUERY;
    op->a = pick_addr(s, r);
}

static void gen_mutation_fail(struct diff_rng *r, struct diff_op *op)
{
    unsigned pct = (unsigned)R(r, 100);

    if (populates(op))
        op->fail_n = 0;
    if (op->fail_n || populates(op))
        return;

    if (pct < 4) {
        op->fail_n = 1 + (uint32_t)R(r, 6);
        op->fail_mask = 1 + (unsigned)R(r, 3);
        op->fail_persist = chance(r, 25);
        split_frame_mask(op);
    } else if (pct < 6) {
        /* A sweep: every n until success, of metadata (ALLOC) or of
         * frames (FRAME) separately, sometimes of both in one order. An
         * op that succeeded cannot be undone, so one op sweeps one mask;
         * the mix over many ops gives both sweeps for every kind. */
        op->fail_n = DIFF_FAIL_EVERY;
        op->fail_mask = chance(r, 10)   ? VMAR_SIM_FAIL_ANY
                        : chance(r, 50) ? VMAR_SIM_FAIL_ALLOC
                                        : VMAR_SIM_FAIL_FRAME;
        split_frame_mask(op);
        /* Keep a sweep affordable: each n re-checks the whole space and
         * digests every frame. */
        if (op->kind == DIFF_MAP &&
            (op->flags & (VMAR_MAP_POPULATE | VMAR_MAP_LOCKED)) &&
            op->b > 16 * PG && op->b % PG == 0) {
            op->b = 16 * PG;
            op->align = 0;
        }
    } else if (pct < 8 && op->kind == DIFF_MAP &&
               op->flags & VMAR_MAP_POPULATE) {
        /* A populating map of a fresh range needs table pages: fail the
         * first one now and then, so that a page-table failure
         * (fired_table) is seen in every 25 000-op run. */
        op->fail_n = 1;
        op->fail_mask = VMAR_SIM_FAIL_TABLE;
    }
}

/* A user address whose page offset is not 1..7 (a tag is written or read
 * whole; see model.h): a page start, 8 bytes before one, or past the tag. */
static uint64_t pick_user_addr(struct diff_session *s, struct diff_rng *r)
{
    uint64_t page = pick_addr(s, r) & ~(PG - 1);

    switch (R(r, 4)) {
    case 0:
        return page - 8;
    case 1:
        return page + 8 + R(r, PG - 8);
    default:
        return page;
    }
}

static uint64_t pick_user_len(struct diff_rng *r, uint64_t a)
{
    uint64_t len;

    switch (R(r, 10)) {
    case 0:
    case 1: /* one tag (with the 8 bytes before it) */
        len = (PG - a % PG) % PG + 8;
        break;
    case 2:
    case 3:
    case 4:
    case 5: /* whole pages */
        len = (1 + R(r, 4)) * PG;
        break;
    case 6:
    case 7:
    case 8: /* anything up to 3 pages */
        len = 1 + R(r, 3 * PG);
        break;
    default:
        len = chance(r, 50) ? 0 : 1 + R(r, 16);
        break;
    }
    /* End outside a tag too. */
    if ((a + len) % PG >= 1 && (a + len) % PG < 8)
        len += 8;
    return len;
}

static void gen_user(struct diff_session *s, struct diff_rng *r,
                     struct diff_op *op)
{
    unsigned k = (unsigned)R(r, 100);

    if (k < 20) {
        op->kind = DIFF_FAULT;
        op->a = pick_addr(s, r); /* one draw per statement */
        op->a += chance(r, 30) ? R(r, PG) : 0;
        if (chance(r, 25)) {
            /* Shared memory past its object's end (a remap grew it). */
            const struct model *m = &s->c->m;
            size_t n = 0, pick;
            for (size_t i = 0; i < m->npages; i++)
                n += m->pg[i].mapped && m->pg[i].object &&
                     m->pg[i].objoff / PG >= m->st->obj[m->pg[i].object].pages;
            pick = (size_t)R(r, n);
            for (size_t i = 0; n && i < m->npages; i++)
                if (m->pg[i].mapped && m->pg[i].object &&
                    m->pg[i].objoff / PG >= m->st->obj[m->pg[i].object].pages &&
                    pick-- == 0)
                    op->a = m->cfg.user_lo + i * PG;
        }
        op->access = 1u << R(r, 3);
        op->flags = chance(r, 50) ? VMAR_FAULT_USER : 0;
        if (chance(r, 2))
            op->access = chance(r, 50) ? 0 : 3;
        /* An unknown flag; or VMAR_FAULT_EXCLUSIVE, valid here (the
         * spaces have no libvmar lock) and no different without a
         * grow-down mapping. */
        if (chance(r, 2))
            op->flags |= chance(r, 50) ? 1u << 7 : VMAR_FAULT_EXCLUSIVE;
        /* Below a grow-down mapping: a growth (with the lock held
         * exclusively, else VMAR_EAGAIN), or one the guard, the stack
         * limit or the address-space limit refuses. */
        if (chance(r, 30)) {
            size_t st[64], n = 0;
            for (size_t i = 0; i < s->nruns && n < 64; i++)
                if (s->runs[i].flags & VMAR_MAP_GROWSDOWN)
                    st[n++] = i;
            if (n) {
                const struct model_run *g = &s->runs[st[R(r, n)]];
                uint64_t below = 1 + R(r, chance(r, 50) ? 4 : 64);
                if (g->start - s->c->m.cfg.user_lo >= below * PG)
                    op->a = g->start - below * PG + R(r, PG);
                if (chance(r, 85))
                    op->flags |= VMAR_FAULT_EXCLUSIVE;
            }
        }
        if (chance(r, 6)) { /* a guard marker (guard_faults) */
            const struct model *m = &s->c->m;
            size_t n = 0, pick;
            for (size_t i = 0; i < m->npages; i++)
                n += m->pg[i].mapped && m->pg[i].guard;
            pick = (size_t)R(r, n);
            for (size_t i = 0; n && i < m->npages; i++)
                if (m->pg[i].mapped && m->pg[i].guard && pick-- == 0)
                    op->a = m->cfg.user_lo + i * PG;
        }
    } else {
        op->kind = k < 38   ? DIFF_READ
                   : k < 62 ? DIFF_WRITE
                   : k < 70 ? DIFF_ZERO
                            : DIFF_CPU;
        op->a = pick_user_addr(s, r);
        op->b = pick_user_len(r, op->a);
        if (chance(r, 1)) { /* wraps */
            op->a = UINT64_MAX - R(r, 64);
            op->b = PG;
        }
        op->tag = R(r, UINT64_MAX);
        if (op->kind == DIFF_CPU) {
            op->access = chance(r, 45)   ? VMAR_ACCESS_READ
                         : chance(r, 80) ? VMAR_ACCESS_WRITE
                                         : VMAR_ACCESS_EXEC;
            op->cpu = (unsigned)R(r, NCPU);
            /* A data frame failing after the first page: the partial
             * access (cpu_partial), too rare otherwise to be seen for
             * sure in a run of 25 000 ops. */
            if (op->b > PG && chance(r, 3)) {
                op->fail_n = 2 + (uint32_t)R(r, 3);
                op->fail_mask = VMAR_SIM_FAIL_DATA;
            }
        }
        if (op->kind == DIFF_READ || op->kind == DIFF_ZERO ||
            (op->kind == DIFF_CPU && op->access != VMAR_ACCESS_WRITE))
            op->tag = 0;
        /* Forced access (ptrace, /proc/pid/mem); rarely an unknown flag. */
        if ((op->kind == DIFF_READ || op->kind == DIFF_WRITE) && chance(r, 25))
            op->flags = chance(r, 97) ? VMAR_RW_FORCE : 2u;
    }
    gen_mutation_fail(r, op);
}

void diff_gen_op(struct diff_session *s, struct diff_rng *r, struct diff_op *op)
{
    memset(op, 0, sizeof(*op));
    /* The space: with forks live, any of them. */
    if (live_slots(s) > 1 && chance(r, 60)) {
        unsigned pick = (unsigned)R(r, live_slots(s));
        for (unsigned i = 0; i < DIFF_SLOTS; i++)
            if (s->sl[i].live && pick-- == 0)
                op->sp = i;
    } else {
        op->sp = (unsigned)(s->c - s->sl);
    }
    s->c = &s->sl[op->sp];

    const uint64_t total = model_total_vm(&s->c->m);
    const uint64_t window = s->c->m.npages * PG;
    unsigned k = (unsigned)R(r, 100);

    s->nruns = model_runs(&s->c->m, s->runs);
    /* A third of the ops touch user memory. */
    if (chance(r, 33)) {
        unsigned sp = op->sp;
        gen_user(s, r, op);
        op->sp = sp;
        return;
    }
    /* Keep the space between a quarter and three quarters full, where
     * both placement failures and holes are common. */
    if (total > window / 4 * 3 && k < 30)
        k += 30;
    else if (total < window / 4 && k >= 30 && k < 46)
        k -= 30;
    if (k < 30) {
        if (chance(r, 6))
            gen_object(s, r, op);
        else
            gen_map(s, r, op);
    } else if (k < 46) {
        op->kind = DIFF_UNMAP;
        op->a = pick_addr(s, r);
        op->b = pick_size(s, r, op->a);
    } else if (k < 62) {
        op->kind = DIFF_PROTECT;
        op->a = pick_addr(s, r);
        op->b = pick_size(s, r, op->a);
        op->prot = pick_prot(r);
    } else if (k < 69) {
        if (chance(r, 6))
            gen_seal(s, r, op);
        else
            gen_advise(s, r, op);
    } else if (k < 79) {
        gen_remap(s, r, op);
    } else if (k < 82) {
        gen_space_op(s, r, op);
    } else if (k < 85) {
        uint64_t n = s->nruns;
        op->kind = DIFF_LIMITS;
        /* Tight limits refuse most maps, so they come and go: lift them
         * again half of the time. */
        if (chance(r, 50))
            return;
        switch (R(r, 5)) {
        case 0:
            op->a = total;
            break;
        case 1:
            op->a = total + (1 + R(r, 8)) * PG;
            break;
        case 2:
            op->a = total > PG ? total - PG : PG;
            break;
        default:
            op->a = 0;
            break;
        }
        switch (R(r, 6)) {
        case 0:
            op->b = n ? n : 1;
            break;
        case 1:
            op->b = n + 1;
            break;
        case 2:
            op->b = n + 2;
            break;
        case 3:
            op->b = n > 1 ? n - 1 : 1;
            break;
        default:
            op->b = 0;
            break;
        }
        /* A stack limit of a few pages to none (vmar_set_stack_limit). */
        if (chance(r, 40))
            op->c = (1 + R(r, 24)) * PG;
    } else if (k < 90) {
        /* Locking and pins take most of the queries' share. */
        if (chance(r, 60)) {
            if (chance(r, 60))
                gen_lock(s, r, op);
            else
                gen_pin(s, r, op);
            return;
        }
        op->kind = DIFF_QUERY;
        op->a = pick_addr(s, r);
        if (chance(r, 30))
            op->a += R(r, PG);
    } else if (k < 94) {
        op->kind = DIFF_RESIDENT;
        op->a = pick_addr(s, r);
        op->b = pick_addr(s, r);
        if (op->a > op->b && chance(r, 85)) {
            uint64_t t = op->a;
            op->a = op->b;
            op->b = t;
        }
    } else {
        op->kind = DIFF_ITERATE;
        op->a = pick_addr(s, r);
        op->b = pick_addr(s, r);
        if (op->a > op->b && chance(r, 85)) {
            uint64_t t = op->a;
            op->a = op->b;
            op->b = t;
        }
        if (chance(r, 10)) {
            op->a = 0;
            op->b = UINT64_MAX;
        }
        if (chance(r, 30))
            op->stop = 1 + (unsigned)R(r, 3);
    }
    if (op->kind <= DIFF_PROTECT || op->kind == DIFF_ADVISE ||
        op->kind == DIFF_REMAP || op->kind == DIFF_RESIZE ||
        op->kind == DIFF_FORK || op->kind == DIFF_SEAL)
        gen_mutation_fail(r, op);
}

/* ---- cases, shrinking --------------------------------------------------- */

void diff_case_push(struct diff_case *c, const struct diff_op *op)
{
    if (c->nops == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->ops = realloc(c->ops, c->cap * sizeof(*c->ops));
        if (!c->ops)
            abort();
    }
    c->ops[c->nops++] = *op;
}

void diff_case_free(struct diff_case *c)
{
    free(c->ops);
    memset(c, 0, sizeof(*c));
}

long diff_run_case(const struct diff_case *c, const struct diff_opts *opts,
                   struct diff_stats *st, char *msg, size_t msglen)
{
    struct diff_session *s;
    long bad = -1;

    if (msglen)
        msg[0] = '\0';
    if (diff_open(&s, &c->space, opts, st) != 0) {
        if (msglen)
            snprintf(msg, msglen, "%s", diff_error(s));
        diff_close(s, NULL, 0);
        return 0;
    }
    for (size_t i = 0; i < c->nops && bad < 0; i++)
        if (diff_step(s, &c->ops[i]))
            bad = (long)i;
    if (bad >= 0 && msglen)
        snprintf(msg, msglen, "%s", diff_error(s));
    if (diff_close(s, bad < 0 ? msg : NULL, msglen) && bad < 0)
        bad = (long)c->nops;
    return bad;
}

static long trial(const struct diff_case *c, const struct diff_opts *o,
                  size_t *runs)
{
    (*runs)++;
    return diff_run_case(c, o, NULL, NULL, 0);
}

/* Keep `t` as the new case when it still diverges; trims it after the
 * diverging op. */
static bool keep_if_fails(struct diff_case *c, struct diff_case *t,
                          const struct diff_opts *o, size_t *runs)
{
    long bad = trial(t, o, runs);

    if (bad < 0)
        return false;
    if ((size_t)bad < t->nops)
        t->nops = (size_t)bad + 1;
    free(c->ops);
    *c = *t;
    t->ops = NULL;
    return true;
}

static void case_copy(struct diff_case *dst, const struct diff_case *src)
{
    dst->space = src->space;
    dst->nops = src->nops;
    dst->cap = src->nops ? src->nops : 1;
    dst->ops = malloc(dst->cap * sizeof(*dst->ops));
    if (!dst->ops)
        abort();
    memcpy(dst->ops, src->ops, src->nops * sizeof(*src->ops));
}

/* Simpler variants of one op; returns false when variant k does not
 * apply (or changes nothing). */
static bool simplify_op(struct diff_op *op, unsigned k)
{
    struct diff_op before = *op;

    switch (k) {
    case 0:
        op->fail_n = 0;
        op->fail_mask = 0;
        op->fail_persist = false;
        break;
    case 1:
        op->fail_persist = false;
        break;
    case 2:
        if (op->kind <= DIFF_PROTECT && op->b > PG && op->b % PG == 0 &&
            (op->align <= PG || (op->b / 2) % op->align == 0))
            op->b = (op->b / 2 + PG - 1) & ~(PG - 1);
        break;
    case 3:
        op->align = 0;
        break;
    case 4:
        op->deny = 0;
        break;
    case 5:
        op->stop = 0;
        break;
    case 6:
    case 7:
    case 8:
    case 9:
    case 10:
    case 11:
        op->flags &= ~(1u << (k - 6));
        break;
    case 12:
        if (op->kind == DIFF_MAP && op->place != VMAR_PLACE_ANY)
            op->place = VMAR_PLACE_FIXED;
        break;
    case 13:
        if (op->kind <= DIFF_PROTECT)
            op->prot = VMAR_PROT_READ;
        break;
    case 14:
        if (op->kind <= DIFF_PROTECT && op->b > PG && op->b % PG == 0 &&
            op->align <= PG)
            op->b -= PG;
        break;
    case 15: /* FAULT_AROUND, DONTFORK, SEQUENTIAL, RANDOM, EOF_FAULT */
    case 16:
    case 17:
    case 18:
    case 19:
        if (op->kind == DIFF_MAP)
            op->flags &= ~(1u << (k - 9));
        break;
    case 20:
        if (op->kind == DIFF_MAP)
            op->offset = 0;
        break;
    case 21: /* an embedder object without optional ops */
        if (op->kind == DIFF_OBJECT && op->c == DIFF_OBJ_EMBED)
            op->flags = 0;
        break;
    default:
        return false;
    }
    return memcmp(&before, op, sizeof(before)) != 0;
}

size_t diff_shrink(struct diff_case *c, const struct diff_opts *o)
{
    const size_t budget = 20000;
    size_t runs = 0;
    long bad = trial(c, o, &runs);
    bool progress = true;

    if (bad < 0)
        return runs;
    if ((size_t)bad < c->nops)
        c->nops = (size_t)bad + 1;
    while (progress && runs < budget) {
        progress = false;
        /* Drop chunks of ops, halving the chunk size (ddmin's
         * complement step, which is what shortens random sequences). */
        for (size_t chunk = c->nops / 2 ? c->nops / 2 : 1;; chunk /= 2) {
            for (size_t at = 0; at + chunk <= c->nops && runs < budget;) {
                struct diff_case t = {.space = c->space};
                t.cap = c->nops;
                t.ops = malloc(t.cap * sizeof(*t.ops));
                if (!t.ops)
                    abort();
                memcpy(t.ops, c->ops, at * sizeof(*t.ops));
                memcpy(t.ops + at, c->ops + at + chunk,
                       (c->nops - at - chunk) * sizeof(*t.ops));
                t.nops = c->nops - chunk;
                if (keep_if_fails(c, &t, o, &runs))
                    progress = true;
                else
                    at += chunk;
                free(t.ops);
            }
            if (chunk <= 1)
                break;
        }
        /* Simplify each op: no injection, smaller, fewer flags. */
        for (size_t i = 0; i < c->nops && runs < budget; i++) {
            for (unsigned k = 0; k < 22 && i < c->nops; k++) {
                struct diff_case t;
                case_copy(&t, c);
                if (simplify_op(&t.ops[i], k) && keep_if_fails(c, &t, o, &runs))
                    progress = true;
                free(t.ops);
            }
        }
        /* Simplify the space. */
        for (unsigned k = 0; k < 4 && runs < budget; k++) {
            struct diff_case t;
            case_copy(&t, c);
            struct diff_space before = t.space;
            if (k == 0)
                t.space.as_limit = 0;
            else if (k == 1)
                t.space.max_map_count = 0;
            else if (k == 2)
                t.space.stack_guard = 0;
            else
                t.space.flags = 0;
            if (memcmp(&before, &t.space, sizeof(before)) &&
                keep_if_fails(c, &t, o, &runs))
                progress = true;
            free(t.ops);
        }
    }
    return runs;
}

/* ---- text format -------------------------------------------------------- */

static const char *const kind_names[DIFF_NKINDS] = {
    "map",     "unmap", "protect", "limits", "query", "resident",
    "iterate", "fault", "read",    "write",  "zero",  "cpu",
    "advise",  "remap", "resize",  "clear",  "fork",  "destroy",
    "object",  "seal",  "lock",    "pin",    "unpin"};
static const char *const place_names[4] = {"any", "hint", "noreplace", "fixed"};
static const char *const place_enums[4] = {"VMAR_PLACE_ANY", "VMAR_PLACE_HINT",
                                           "VMAR_PLACE_FIXED_NOREPLACE",
                                           "VMAR_PLACE_FIXED"};

static const char *mask_name(unsigned mask)
{
    switch (mask) {
    case VMAR_SIM_FAIL_ALLOC:
        return "alloc";
    case VMAR_SIM_FAIL_FRAME:
        return "frame";
    case VMAR_SIM_FAIL_ANY:
        return "any";
    case VMAR_SIM_FAIL_DATA:
        return "data";
    case VMAR_SIM_FAIL_TABLE:
        return "table";
    default:
        return "0";
    }
}

static void print_fail(FILE *f, const struct diff_op *op)
{
    if (!op->fail_n)
        return;
    if (op->fail_n == DIFF_FAIL_EVERY)
        fprintf(f, " fail=every:%s", mask_name(op->fail_mask));
    else
        fprintf(f, " fail=%" PRIu32 ":%s%s", op->fail_n,
                mask_name(op->fail_mask), op->fail_persist ? ":persist" : "");
}

static void print_c_lock(FILE *f, const struct diff_op *op)
{
    switch (op->c) {
    case DIFF_MLOCK:
        fprintf(f, "vmar_mlock(s, %#" PRIx64 ", %#" PRIx64 ", %#x);", op->a,
                op->b, op->flags);
        break;
    case DIFF_MUNLOCK:
        fprintf(f, "vmar_munlock(s, %#" PRIx64 ", %#" PRIx64 ");", op->a,
                op->b);
        break;
    case DIFF_MLOCKALL:
        fprintf(f, "vmar_mlockall(s, %#x);", op->flags);
        break;
    case DIFF_MUNLOCKALL:
        fprintf(f, "vmar_munlockall(s);");
        break;
    case DIFF_MLOCK_POPULATE:
        fprintf(f, "vmar_mlock_populate(s, %#" PRIx64 ", %#" PRIx64 ");", op->a,
                op->b);
        break;
    default:
        fprintf(f, "vmar_set_mlock_limit(s, %#" PRIx64 ", %s);", op->a,
                op->flags ? "true" : "false");
        break;
    }
}

static void print_c(FILE *f, const struct diff_op *op)
{
    fprintf(f, "#   ");
    if (op->fail_n == DIFF_FAIL_EVERY)
        fprintf(f, "for n = 1.. { vmar_sim_fail_after(sim, n, %#x, false); ",
                op->fail_mask);
    else if (op->fail_n)
        fprintf(f, "vmar_sim_fail_after(sim, %" PRIu32 ", %#x, %s); ",
                op->fail_n, op->fail_mask, op->fail_persist ? "true" : "false");
    switch (op->kind) {
    case DIFF_MAP:
        fprintf(f,
                "vmar_map(s, &(struct vmar_map_opts){.addr = %#" PRIx64
                ", .size = %#" PRIx64 ", .place = ",
                op->a, op->b);
        if (op->place < 4)
            fprintf(f, "%s", place_enums[op->place]);
        else
            fprintf(f, "%u", op->place);
        fprintf(f,
                ", .align = %#" PRIx64 ", .prot = %#x, .deny_prot = %#x, "
                ".flags = %#x, .backing = %u",
                op->align, op->prot, op->deny, op->flags, op->backing);
        if (op->obj || op->offset)
            fprintf(f, ", .object = obj[%u], .offset = %#" PRIx64, op->obj,
                    op->offset);
        if (op->backing == VMAR_BACKING_DEVICE)
            fprintf(f, ", .paddr = dev + %#" PRIx64 ", .cache = %u", op->d * PG,
                    op->cache);
        if (op->wlo || op->whi)
            fprintf(f, ", .window_lo = %#" PRIx64 ", .window_hi = %#" PRIx64,
                    op->wlo, op->whi);
        fprintf(f, "}, &addr);");
        break;
    case DIFF_OBJECT:
        if (op->c == DIFF_OBJ_MEMFD)
            fprintf(f,
                    "vmar_object_unref(obj[%u]) if set; "
                    "vmar_memfd_create(env, %#" PRIx64 ", &obj[%u]);",
                    op->obj, op->b, op->obj);
        else if (op->c == DIFF_OBJ_EMBED)
            fprintf(f,
                    "vmar_object_unref(obj[%u]) if set; obj[%u] = "
                    "embedder object of %#" PRIx64 " bytes, max_prot %#x, "
                    "%s%s;",
                    op->obj, op->obj, op->b, op->prot,
                    op->flags & DIFF_OBJ_COMMIT ? "commit " : "",
                    op->flags & DIFF_OBJ_NOTIFY ? "notify_write" : "");
        else if (op->c == DIFF_OBJ_TRUNCATE)
            fprintf(f, "vmar_memfd_truncate(obj[%u], %#" PRIx64 ");", op->obj,
                    op->b);
        else
            fprintf(f, "vmar_object_unref(obj[%u]); obj[%u] = NULL;", op->obj,
                    op->obj);
        break;
    case DIFF_UNMAP:
        fprintf(f, "vmar_unmap(s, %#" PRIx64 ", %#" PRIx64 ");", op->a, op->b);
        break;
    case DIFF_PROTECT:
        fprintf(f, "vmar_protect(s, %#" PRIx64 ", %#" PRIx64 ", %#x);", op->a,
                op->b, op->prot);
        break;
    case DIFF_LIMITS:
        fprintf(f,
                "vmar_set_limits(s, %#" PRIx64 ", %" PRIu64
                "); vmar_set_stack_limit(s, %#" PRIx64 ");",
                op->a, op->b, op->c);
        break;
    case DIFF_QUERY:
        fprintf(f, "vmar_query(s, %#" PRIx64 ", &info);", op->a);
        break;
    case DIFF_RESIDENT:
        fprintf(f, "vmar_resident(s, %#" PRIx64 ", %#" PRIx64 ", &bytes);",
                op->a, op->b);
        break;
    case DIFF_ITERATE:
        fprintf(f,
                "vmar_iterate(s, %#" PRIx64 ", %#" PRIx64
                ", fn /* stops after %u */, arg);",
                op->a, op->b, op->stop);
        break;
    case DIFF_FAULT:
        fprintf(f, "vmar_fault(s, %#" PRIx64 ", %#x, %#x);", op->a, op->access,
                op->flags);
        break;
    case DIFF_READ:
        fprintf(f,
                "vmar_read_flags(s, %#" PRIx64 ", buf, %#" PRIx64
                ", %#x, &done);",
                op->a, op->b, op->flags);
        break;
    case DIFF_WRITE:
        fprintf(f,
                "vmar_write_flags(s, %#" PRIx64 ", tags(%#" PRIx64
                "), %#" PRIx64 ", %#x, &done);",
                op->a, op->tag, op->b, op->flags);
        break;
    case DIFF_ZERO:
        fprintf(f, "vmar_fill_zero(s, %#" PRIx64 ", %#" PRIx64 ", &done);",
                op->a, op->b);
        break;
    case DIFF_CPU:
        fprintf(f,
                "vmar_sim_cpu_access(cpu%u, %#" PRIx64
                ", %#x, buf /* tags(%#" PRIx64 ") */, %#" PRIx64 ");",
                op->cpu, op->a, op->access, op->tag, op->b);
        break;
    case DIFF_ADVISE:
        if (op->advice >= MODEL_INHERIT)
            fprintf(f, "vmar_inherit(s, %#" PRIx64 ", %#" PRIx64 ", %d);",
                    op->a, op->b, op->advice - MODEL_INHERIT);
        else
            fprintf(f, "vmar_advise(s, %#" PRIx64 ", %#" PRIx64 ", %d);", op->a,
                    op->b, op->advice);
        break;
    case DIFF_REMAP:
        fprintf(f,
                "vmar_remap(s, %#" PRIx64 ", %#" PRIx64 ", %#" PRIx64
                ", %#x, %#" PRIx64 ", &addr);",
                op->a, op->b, op->c, op->flags, op->d);
        break;
    case DIFF_RESIZE:
        fprintf(f, "vmar_resize(s, %#" PRIx64 ", %#" PRIx64 ", %#" PRIx64 ");",
                op->a, op->b, op->c);
        break;
    case DIFF_SEAL:
        fprintf(f, "vmar_seal(s, %#" PRIx64 ", %#" PRIx64 ");", op->a, op->b);
        break;
    case DIFF_CLEAR:
        fprintf(f, "vmar_clear(s);");
        break;
    case DIFF_FORK:
        fprintf(f, "vmar_fork(s, &opts, &space[%" PRIu64 "]);", op->a);
        break;
    case DIFF_DESTROY:
        fprintf(f, "vmar_space_destroy(s);");
        break;
    case DIFF_LOCK:
        print_c_lock(f, op);
        break;
    case DIFF_PIN:
        fprintf(f, "vmar_pin(s, %#" PRIx64 ", %" PRIu64 ", %#x, pages);", op->a,
                op->b, op->flags);
        break;
    case DIFF_UNPIN:
        fprintf(f,
                "vmar_unpin(s, &pins[%" PRIu64 " %% npins], %" PRIu64
                ") (at most npins);",
                op->a, op->b);
        break;
    default:
        break;
    }
    if (op->sp)
        fprintf(f, " /* s = space[%u] */", op->sp);
    if (op->fail_n == DIFF_FAIL_EVERY)
        fprintf(f, " }");
    fprintf(f, "\n");
}

void diff_print_case(FILE *f, const struct diff_case *c, bool c_like)
{
    const struct diff_space *sp = &c->space;

    fprintf(f,
            "space lo=%#" PRIx64 " hi=%#" PRIx64 " guard=%#" PRIx64
            " as=%#" PRIx64 " count=%" PRIu64 " flags=%#x backend=%s\n",
            sp->user_lo, sp->user_hi, sp->stack_guard, sp->as_limit,
            sp->max_map_count, sp->flags, diff_backend_name());
    for (size_t i = 0; i < c->nops; i++) {
        const struct diff_op *op = &c->ops[i];
        if (c_like)
            print_c(f, op);
        fprintf(f, "%s", op->kind < DIFF_NKINDS ? kind_names[op->kind] : "?");
        switch (op->kind) {
        case DIFF_MAP:
            fprintf(f, " addr=%#" PRIx64 " size=%#" PRIx64 " place=", op->a,
                    op->b);
            if (op->place < 4)
                fprintf(f, "%s", place_names[op->place]);
            else
                fprintf(f, "%u", op->place);
            fprintf(f,
                    " align=%#" PRIx64 " prot=%#x deny=%#x flags=%#x "
                    "backing=%u",
                    op->align, op->prot, op->deny, op->flags, op->backing);
            if (op->backing == VMAR_BACKING_DEVICE)
                fprintf(f, " dev=%" PRIu64 " cache=%u", op->d, op->cache);
            if (op->obj || op->offset)
                fprintf(f, " obj=%u off=%#" PRIx64, op->obj, op->offset);
            if (op->wlo || op->whi)
                fprintf(f, " wlo=%#" PRIx64 " whi=%#" PRIx64, op->wlo, op->whi);
            break;
        case DIFF_OBJECT:
            fprintf(f, " obj=%u kind=%" PRIu64, op->obj, op->c);
            if (op->c != DIFF_OBJ_DROP)
                fprintf(f, " size=%#" PRIx64, op->b);
            if (op->c == DIFF_OBJ_EMBED)
                fprintf(f, " prot=%#x flags=%#x", op->prot, op->flags);
            if (op->c == DIFF_OBJ_EMBED && op->flags & DIFF_OBJ_BAD)
                fprintf(f, " bad=%" PRIu64, op->d);
            break;
        case DIFF_ADVISE:
            fprintf(f, " addr=%#" PRIx64 " size=%#" PRIx64 " advice=%d", op->a,
                    op->b, op->advice);
            break;
        case DIFF_REMAP:
            fprintf(f,
                    " addr=%#" PRIx64 " size=%#" PRIx64 " new_size=%#" PRIx64
                    " flags=%#x new_addr=%#" PRIx64,
                    op->a, op->b, op->c, op->flags, op->d);
            break;
        case DIFF_RESIZE:
            fprintf(f,
                    " addr=%#" PRIx64 " size=%#" PRIx64 " new_size=%#" PRIx64,
                    op->a, op->b, op->c);
            break;
        case DIFF_FORK:
            fprintf(f, " child=%" PRIu64, op->a);
            break;
        case DIFF_LOCK:
            fprintf(f,
                    " kind=%" PRIu64 " addr=%#" PRIx64 " size=%#" PRIx64
                    " flags=%#x",
                    op->c, op->a, op->b, op->flags);
            break;
        case DIFF_PIN:
            fprintf(f, " addr=%#" PRIx64 " count=%" PRIu64 " flags=%#x", op->a,
                    op->b, op->flags);
            break;
        case DIFF_UNPIN:
            fprintf(f, " addr=%" PRIu64 " count=%" PRIu64, op->a, op->b);
            break;
        case DIFF_CLEAR:
        case DIFF_DESTROY:
            break;
        case DIFF_UNMAP:
        case DIFF_SEAL:
            fprintf(f, " addr=%#" PRIx64 " size=%#" PRIx64, op->a, op->b);
            break;
        case DIFF_PROTECT:
            fprintf(f, " addr=%#" PRIx64 " size=%#" PRIx64 " prot=%#x", op->a,
                    op->b, op->prot);
            break;
        case DIFF_LIMITS:
            fprintf(f, " as=%#" PRIx64 " count=%" PRIu64, op->a, op->b);
            if (op->c)
                fprintf(f, " stack=%#" PRIx64, op->c);
            break;
        case DIFF_QUERY:
            fprintf(f, " addr=%#" PRIx64, op->a);
            break;
        case DIFF_RESIDENT:
            fprintf(f, " lo=%#" PRIx64 " hi=%#" PRIx64, op->a, op->b);
            break;
        case DIFF_ITERATE:
            fprintf(f, " lo=%#" PRIx64 " hi=%#" PRIx64 " stop=%u", op->a, op->b,
                    op->stop);
            break;
        case DIFF_FAULT:
            fprintf(f, " addr=%#" PRIx64 " access=%#x flags=%#x", op->a,
                    op->access, op->flags);
            break;
        case DIFF_READ:
        case DIFF_WRITE:
        case DIFF_ZERO:
        case DIFF_CPU:
            fprintf(f, " addr=%#" PRIx64 " len=%#" PRIx64, op->a, op->b);
            if (op->kind == DIFF_CPU)
                fprintf(f, " cpu=%u access=%#x", op->cpu, op->access);
            if (op->tag)
                fprintf(f, " tag=%#" PRIx64, op->tag);
            if (op->flags)
                fprintf(f, " flags=%#x", op->flags);
            break;
        default:
            break;
        }
        if (op->sp)
            fprintf(f, " sp=%u", op->sp);
        print_fail(f, op);
        fprintf(f, "\n");
    }
}

static int parse_fail(const char *v, struct diff_op *op)
{
    char buf[64];
    char *mask, *persist;

    snprintf(buf, sizeof(buf), "%s", v);
    mask = strchr(buf, ':');
    if (!mask)
        return -1;
    *mask++ = '\0';
    persist = strchr(mask, ':');
    if (persist)
        *persist++ = '\0';
    op->fail_n = strcmp(buf, "every") == 0 ? DIFF_FAIL_EVERY
                                           : (uint32_t)strtoul(buf, NULL, 0);
    if (!strcmp(mask, "alloc"))
        op->fail_mask = 1;
    else if (!strcmp(mask, "frame"))
        op->fail_mask = 2;
    else if (!strcmp(mask, "any"))
        op->fail_mask = 3;
    else if (!strcmp(mask, "data"))
        op->fail_mask = VMAR_SIM_FAIL_DATA;
    else if (!strcmp(mask, "table"))
        op->fail_mask = VMAR_SIM_FAIL_TABLE;
    else
        return -1;
    op->fail_persist = persist && !strcmp(persist, "persist");
    return op->fail_n ? 0 : -1;
}

/* Set `key` of op or space from `v`; -1 for an unknown key. */
static int parse_kv(const char *key, const char *v, bool is_space,
                    struct diff_space *sp, struct diff_op *op)
{
    uint64_t x = strtoull(v, NULL, 0);

    if (is_space) {
        if (!strcmp(key, "lo"))
            sp->user_lo = x;
        else if (!strcmp(key, "hi"))
            sp->user_hi = x;
        else if (!strcmp(key, "guard"))
            sp->stack_guard = x;
        else if (!strcmp(key, "as"))
            sp->as_limit = x;
        else if (!strcmp(key, "count"))
            sp->max_map_count = x;
        else if (!strcmp(key, "flags"))
            sp->flags = (unsigned)x;
        else if (!strcmp(key, "backend")) {
            /* The process runs one backend: the case's, from here on. */
            if (vt_backend_select(v) != 0)
                return -1;
        } else
            return -1;
        return 0;
    }
    if (!strcmp(key, "addr") || !strcmp(key, "lo") || !strcmp(key, "as") ||
        !strcmp(key, "child"))
        op->a = x;
    else if (!strcmp(key, "new_size") || !strcmp(key, "kind") ||
             !strcmp(key, "stack"))
        op->c = x;
    else if (!strcmp(key, "wlo"))
        op->wlo = x;
    else if (!strcmp(key, "whi"))
        op->whi = x;
    else if (!strcmp(key, "obj"))
        op->obj = (unsigned)x;
    else if (!strcmp(key, "off"))
        op->offset = x;
    else if (!strcmp(key, "new_addr") || !strcmp(key, "dev") ||
             !strcmp(key, "bad"))
        op->d = x;
    else if (!strcmp(key, "advice"))
        op->advice = (int)strtoll(v, NULL, 0);
    else if (!strcmp(key, "sp"))
        op->sp = (unsigned)x;
    else if (!strcmp(key, "size") || !strcmp(key, "hi") ||
             !strcmp(key, "count") || !strcmp(key, "len"))
        op->b = x;
    else if (!strcmp(key, "access"))
        op->access = (unsigned)x;
    else if (!strcmp(key, "cpu"))
        op->cpu = (unsigned)x;
    else if (!strcmp(key, "tag"))
        op->tag = x;
    else if (!strcmp(key, "place")) {
        op->place = (unsigned)x;
        for (unsigned i = 0; i < 4; i++)
            if (!strcmp(v, place_names[i]))
                op->place = i;
    } else if (!strcmp(key, "align"))
        op->align = x;
    else if (!strcmp(key, "prot"))
        op->prot = (unsigned)x;
    else if (!strcmp(key, "deny"))
        op->deny = (unsigned)x;
    else if (!strcmp(key, "flags"))
        op->flags = (unsigned)x;
    else if (!strcmp(key, "backing"))
        op->backing = (unsigned)x;
    else if (!strcmp(key, "stop"))
        op->stop = (unsigned)x;
    else if (!strcmp(key, "cache"))
        op->cache = (unsigned)x;
    else if (!strcmp(key, "fail"))
        return parse_fail(v, op);
    else
        return -1;
    return 0;
}

int diff_parse_case(FILE *f, const char *name, struct diff_case *c)
{
    char line[1024];
    unsigned lineno = 0;
    bool have_space = false;

    memset(c, 0, sizeof(*c));
    while (fgets(line, sizeof(line), f)) {
        char *hash = strchr(line, '#');
        char *save = NULL, *tok;
        struct diff_op op;
        bool is_space = false;

        lineno++;
        if (hash)
            *hash = '\0';
        tok = strtok_r(line, " \t\r\n", &save);
        if (!tok)
            continue;
        memset(&op, 0, sizeof(op));
        if (!strcmp(tok, "space")) {
            is_space = true;
        } else {
            op.kind = DIFF_NKINDS;
            for (int k = 0; k < DIFF_NKINDS; k++)
                if (!strcmp(tok, kind_names[k]))
                    op.kind = (enum diff_kind)k;
            if (op.kind == DIFF_NKINDS || !have_space) {
                fprintf(stderr, "%s:%u: %s\n", name, lineno,
                        have_space ? "unknown op" : "expected `space` first");
                return -1;
            }
        }
        while ((tok = strtok_r(NULL, " \t\r\n", &save))) {
            char *eq = strchr(tok, '=');
            if (!eq ||
                (*eq = '\0', parse_kv(tok, eq + 1, is_space, &c->space, &op))) {
                fprintf(stderr, "%s:%u: bad field `%s`\n", name, lineno, tok);
                return -1;
            }
        }
        if (is_space)
            have_space = true;
        else
            diff_case_push(c, &op);
    }
    if (!have_space) {
        fprintf(stderr, "%s: no `space` line\n", name);
        return -1;
    }
    return 0;
}

/* ---- reporting ---------------------------------------------------------- */

void diff_report(struct diff_case *c, long bad, const char *msg,
                 const struct diff_opts *o)
{
    const char *out = getenv("VMAR_DIFF_OUT");
    char msg2[2048];

    fprintf(stderr, "DIVERGENCE at op %ld of %zu:\n%s", bad, c->nops, msg);
    size_t runs = diff_shrink(c, o);
    long bad2 = diff_run_case(c, o, NULL, msg2, sizeof(msg2));
    fprintf(stderr,
            "shrunk in %zu runs to %zu ops (diverges at op %ld):\n%s"
            "---- reproducer (.ops; save under tests/diff/regress/)\n",
            runs, c->nops, bad2, msg2);
    diff_print_case(stderr, c, true);
    fprintf(stderr, "----\n");
    if (out && *out) {
        FILE *f = fopen(out, "w");
        if (f) {
            fprintf(f, "# Shrunk reproducer: diverges at op %ld.\n", bad2);
            for (const char *p = msg2; *p;) {
                const char *nl = strchr(p, '\n');
                int n = nl ? (int)(nl - p) : (int)strlen(p);
                fprintf(f, "# %.*s\n", n, p);
                p += n + (nl ? 1 : 0);
            }
            diff_print_case(f, c, true);
            fclose(f);
            fprintf(stderr, "written to %s\n", out);
        } else {
            fprintf(stderr, "cannot write %s\n", out);
        }
    }
}

long diff_run_generated(struct diff_session *s, struct diff_rng *r,
                        uint64_t len, struct diff_case *c, char *msg,
                        size_t msglen)
{
    long bad = -1;

    for (uint64_t i = 0; i < len; i++) {
        struct diff_op op;
        diff_gen_op(s, r, &op);
        if (r->exhausted)
            break;
        diff_case_push(c, &op);
        if (diff_step(s, &op)) {
            bad = (long)i;
            snprintf(msg, msglen, "%s", diff_error(s));
            break;
        }
    }
    if (diff_close(s, bad < 0 ? msg : NULL, msglen) && bad < 0)
        bad = (long)c->nops;
    return bad;
}

int diff_run_bytes(const uint8_t *data, size_t len)
{
    const struct diff_opts o = {.page_check_every = 8};
    struct diff_rng r;
    struct diff_case c = {0};
    struct diff_session *s;
    char msg[2048];
    long bad = -1;

    diff_rng_bytes(&r, data, len);
    diff_gen_space(&r, &c.space);
    if (diff_open(&s, &c.space, &o, NULL) != 0) {
        fprintf(stderr, "diff_run_bytes: %s\n", diff_error(s));
        diff_close(s, NULL, 0);
        diff_case_free(&c);
        return 1;
    }
    /* A cap keeps one input cheap; longer inputs only add choices. */
    bad = diff_run_generated(s, &r, 2000, &c, msg, sizeof(msg));
    if (bad >= 0)
        diff_report(&c, bad, msg, &o);
    diff_case_free(&c);
    return bad >= 0;
}

/* ---- statistics --------------------------------------------------------- */

/* Every counter, one per line (clang-format keeps that stable). */
#define STAT_LIST(X)                                                           \
    X(ops)                                                                     \
    X(spaces)                                                                  \
    X(ok_by_kind[DIFF_MAP])                                                    \
    X(ok_by_kind[DIFF_UNMAP])                                                  \
    X(ok_by_kind[DIFF_PROTECT])                                                \
    X(ok_by_kind[DIFF_LIMITS])                                                 \
    X(ok_by_kind[DIFF_QUERY])                                                  \
    X(ok_by_kind[DIFF_RESIDENT])                                               \
    X(ok_by_kind[DIFF_ITERATE])                                                \
    X(map_ok_by_place[VMAR_PLACE_ANY])                                         \
    X(map_ok_by_place[VMAR_PLACE_HINT])                                        \
    X(map_ok_by_place[VMAR_PLACE_FIXED_NOREPLACE])                             \
    X(map_ok_by_place[VMAR_PLACE_FIXED])                                       \
    X(einval)                                                                  \
    X(eacces)                                                                  \
    X(eacces_max)                                                              \
    X(eexist)                                                                  \
    X(enoent)                                                                  \
    X(nomem_nofit)                                                             \
    X(nomem_as)                                                                \
    X(nomem_count)                                                             \
    X(nomem_hole)                                                              \
    X(merges_seen)                                                             \
    X(stack_maps)                                                              \
    X(populate_maps)                                                           \
    X(aligned_maps)                                                            \
    X(fails_fired)                                                             \
    X(fails_every)                                                             \
    X(page_checks)                                                             \
    X(iterate_stops)                                                           \
    X(ok_by_kind[DIFF_FAULT])                                                  \
    X(ok_by_kind[DIFF_READ])                                                   \
    X(ok_by_kind[DIFF_WRITE])                                                  \
    X(ok_by_kind[DIFF_ZERO])                                                   \
    X(ok_by_kind[DIFF_CPU])                                                    \
    X(efault)                                                                  \
    X(tags_read)                                                               \
    X(zeros_read)                                                              \
    X(fired_alloc)                                                             \
    X(fired_frame)                                                             \
    X(fired_data)                                                              \
    X(fired_table)                                                             \
    X(fired_user)                                                              \
    X(partial_copies)                                                          \
    X(content_checks)                                                          \
    X(ok_by_kind[DIFF_ADVISE])                                                 \
    X(ok_by_kind[DIFF_REMAP])                                                  \
    X(ok_by_kind[DIFF_RESIZE])                                                 \
    X(ok_by_kind[DIFF_CLEAR])                                                  \
    X(ok_by_kind[DIFF_FORK])                                                   \
    X(ok_by_kind[DIFF_DESTROY])                                                \
    X(advise_drops)                                                            \
    X(advise_hints)                                                            \
    X(advise_dontfork)                                                         \
    X(advise_removes)                                                          \
    X(advise_wipe)                                                             \
    X(remap_shrink)                                                            \
    X(remap_grow_in_place)                                                     \
    X(remap_moves)                                                             \
    X(remap_fixed)                                                             \
    X(remap_dontunmap)                                                         \
    X(remap_multi)                                                             \
    X(remap_efault)                                                            \
    X(remap_nogrow)                                                            \
    X(resize_ok)                                                               \
    X(resize_efault)                                                           \
    X(ok_by_kind[DIFF_SEAL])                                                   \
    X(seal_refusals)                                                           \
    X(window_maps)                                                             \
    X(window_einval)                                                           \
    X(growsdown_maps)                                                          \
    X(stack_growths)                                                           \
    X(stack_eagain)                                                            \
    X(stack_refused)                                                           \
    X(populate_advice)                                                         \
    X(populate_failed)                                                         \
    X(forced_ok)                                                               \
    X(forced_refused)                                                          \
    X(forks)                                                                   \
    X(forks_with_cow)                                                          \
    X(destroys)                                                                \
    X(clears)                                                                  \
    X(cow_writes)                                                              \
    X(object_shared_reads)                                                     \
    X(device_maps)                                                             \
    X(device_maps_wt)                                                          \
    X(device_moves)                                                            \
    X(device_cpu)                                                              \
    X(enxio)                                                                   \
    X(fired_cpu)                                                               \
    X(cpu_partial)                                                             \
    X(fired_fork)                                                              \
    X(fired_remap)                                                             \
    X(fired_advise)                                                            \
    X(multi_space_ops)                                                         \
    X(ok_by_kind[DIFF_OBJECT])                                                 \
    X(obj_maps_shared)                                                         \
    X(obj_maps_private)                                                        \
    X(obj_eacces)                                                              \
    X(obj_merges)                                                              \
    X(obj_zero_eof)                                                            \
    X(obj_eof_enxio)                                                           \
    X(obj_copies)                                                              \
    X(obj_reverts)                                                             \
    X(obj_around)                                                              \
    X(obj_released)                                                            \
    X(obj_tag_reads)                                                           \
    X(obj_moves)                                                               \
    X(obj_forks)                                                               \
    X(obj_dirty)                                                               \
    X(fired_object)                                                            \
    X(obj_create_fails)                                                        \
    X(obj_eio)                                                                 \
    X(obj_truncates)                                                           \
    X(obj_orphans)                                                             \
    X(advise_guards)                                                           \
    X(guard_faults)                                                            \
    X(guard_checks)                                                            \
    X(ok_by_kind[DIFF_LOCK])                                                   \
    X(mlocks)                                                                  \
    X(munlocks)                                                                \
    X(mlockalls)                                                               \
    X(munlockalls)                                                             \
    X(mlock_populates)                                                         \
    X(locked_maps)                                                             \
    X(lock_populated)                                                          \
    X(lock_eperm)                                                              \
    X(lock_limit)                                                              \
    X(lock_refused_advice)                                                     \
    X(lock_efault)                                                             \
    X(locked_forks)                                                            \
    X(lock_future_maps)                                                        \
    X(locked_remaps)                                                           \
    X(pins)                                                                    \
    X(pins_write)                                                              \
    X(pin_refused)                                                             \
    X(unpins)                                                                  \
    X(pin_unshares)                                                            \
    X(pinned_unmapped)                                                         \
    X(pinned_forks)                                                            \
    X(pin_checks)

void diff_stats_print(FILE *f, const struct diff_stats *st)
{
#define PRINT_STAT(field) fprintf(f, "  %-40s %zu\n", #field, st->field);
    STAT_LIST(PRINT_STAT)
#undef PRINT_STAT
}

int diff_stats_check(const struct diff_stats *st)
{
    int bad = 0;
#define CHECK_STAT(field)                                                      \
    if (st->field == 0) {                                                      \
        fprintf(stderr, "coverage: %s never happened\n", #field);              \
        bad = 1;                                                               \
    }
    STAT_LIST(CHECK_STAT)
#undef CHECK_STAT
    return bad;
}
