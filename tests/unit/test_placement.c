/* SPDX-License-Identifier: MIT */
/*
 * Placement at scale, against a brute-force oracle.
 *
 * test_placement_100k builds a space of 100 000 mappings with FIXED, in a
 * shuffled order, at pseudo-random page-aligned addresses with random
 * sizes and random gaps (some of them stacks, in a space with a stack
 * guard). Then it runs thousands of placement queries: VMAR_PLACE_ANY
 * top-down and bottom-up and VMAR_PLACE_HINT, with sizes from one page to
 * beyond every gap and alignments from 4 KiB to 1 GiB. Each answer is
 * compared with an oracle that scans the free gaps derived from the
 * vmar_iterate() output, following the definition in
 * src/core/interval_set.h and src/core/placement.c:
 *
 *   - a node's effective start is start - guard (guard = stack_guard for a
 *     VMAR_MAP_STACK mapping, else 0); the free gaps are [prev.end,
 *     eff(next)) between neighbours plus the two ends, clipped to the user
 *     range;
 *   - a request of `size` bytes aligned to `align`, with `pre` bytes that
 *     must be free below it (the guard of a new stack), takes the highest
 *     (top-down) or lowest (bottom-up) aligned x with [x - pre, x + size)
 *     inside one gap;
 *   - a hint is taken when [hint - pre, hint + size) lies inside one gap,
 *     otherwise the request is placed as above.
 *
 * Phase 1 unmaps each placed mapping again, so the layout and the gap list
 * stay fixed. Since every small top-down request then lands in the same
 * top gap, phase 2 keeps what it places and updates the gap list
 * incrementally, so the searches walk down (and up) through thousands of
 * gaps, including those clipped by stack guards; hints are also aimed at
 * guards. At the end the incremental gap list must equal the one rebuilt
 * from vmar_iterate(), and unmapping the kept mappings must give back the
 * original layout. vmar_check() is O(n), so it runs every CHECK_EVERY
 * operations and at the end of each phase.
 *
 * test_placement_churn does the same on a small space whose layout keeps
 * changing (FIXED overwrites, unmaps, protects, merges), recomputing the
 * oracle from vmar_iterate() before every query and checking the space
 * after every operation.
 *
 * Seeds come from vt_seed() (VMAR_TEST_SEED replays a failure).
 */
#include "harness.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MIB ((vmar_size_t)1 << 20)
#define GIB ((vmar_size_t)1 << 30)

#define R  ((unsigned)VMAR_PROT_READ)
#define RW ((unsigned)(VMAR_PROT_READ | VMAR_PROT_WRITE))
#define RX ((unsigned)(VMAR_PROT_READ | VMAR_PROT_EXEC))
/* Placed mappings are execute-only: no setup mapping has that prot, so a
 * placed mapping never merges with one, and unmapping it restores the
 * layout. */
#define PLACED_PROT ((unsigned)VMAR_PROT_EXEC)

#define N_MAPPINGS  100000u
#define N_UNDONE    2000u /* phase 1 queries */
#define N_KEPT      3000u /* phase 2 queries */
#define CHECK_EVERY 5000u
#define BIG_GUARD   (64 * PG) /* 256 KiB */

static double seconds_since(clock_t t0)
{
    return (double)(clock() - t0) / CLOCKS_PER_SEC;
}

static uint64_t rnd(uint64_t *rng, uint64_t n) /* uniform-ish in [0, n) */
{
    return vt_rand(rng) % n;
}

/* ---- the oracle ---------------------------------------------------------- */

struct infos {
    struct vmar_mapping_info *v;
    size_t n, cap;
};

static int collect_fn(void *arg, const struct vmar_mapping_info *info)
{
    struct infos *c = arg;

    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 1024;
        c->v = realloc(c->v, c->cap * sizeof(*c->v));
        assert_non_null(c->v);
    }
    c->v[c->n++] = *info;
    return 0;
}

/* Every mapping, in address order, checked to be ordered and disjoint. */
static void collect(struct vt *vt, struct infos *c)
{
    c->n = 0;
    assert_int_equal(vmar_iterate(vt->space, 0, UINT64_MAX, collect_fn, c), 0);
    for (size_t i = 0; i < c->n; i++) {
        assert_true(c->v[i].start < c->v[i].end);
        if (i)
            assert_true(c->v[i - 1].end <= c->v[i].start);
    }
}

struct gapset {
    vmar_addr_t *lo, *hi; /* disjoint, ascending, non-empty */
    size_t n, cap;
};

static void gaps_reserve(struct gapset *g, size_t cap)
{
    if (cap <= g->cap)
        return;
    g->lo = realloc(g->lo, cap * sizeof(*g->lo));
    g->hi = realloc(g->hi, cap * sizeof(*g->hi));
    assert_true(g->lo && g->hi);
    g->cap = cap;
}

/* The free gaps of a layout, clipped to [ulo, uhi); room for `extra` more. */
static void gaps_build(struct gapset *g, const struct infos *c, vmar_addr_t ulo,
                       vmar_addr_t uhi, vmar_size_t stack_guard, size_t extra)
{
    vmar_addr_t prev_end = 0;

    gaps_reserve(g, c->n + 1 + extra);
    g->n = 0;
    for (size_t i = 0; i <= c->n; i++) {
        vmar_addr_t lo = prev_end, hi = UINT64_MAX;

        if (i < c->n) {
            const struct vmar_mapping_info *m = &c->v[i];
            vmar_size_t guard = (m->flags & VMAR_MAP_STACK) ? stack_guard : 0;
            hi = m->start > guard ? m->start - guard : 0;
            prev_end = m->end;
        }
        if (lo < ulo)
            lo = ulo;
        if (hi > uhi)
            hi = uhi;
        if (lo < hi) {
            g->lo[g->n] = lo;
            g->hi[g->n] = hi;
            g->n++;
        }
    }
}

static void gaps_free(struct gapset *g)
{
    free(g->lo);
    free(g->hi);
    memset(g, 0, sizeof(*g));
}

/* The index of the gap that contains `addr`, or g->n. */
static size_t gap_holding(const struct gapset *g, vmar_addr_t addr)
{
    size_t a = 0, b = g->n;

    while (a < b) { /* a: the first gap starting above addr */
        size_t m = a + (b - a) / 2;
        if (g->lo[m] <= addr)
            a = m + 1;
        else
            b = m;
    }
    return a > 0 && addr < g->hi[a - 1] ? a - 1 : g->n;
}

/* A mapping now occupies [x, x + size) and keeps `pre` bytes below it free
 * (its own guard): the gap that held [x - pre, x + size) becomes
 * [lo, x - pre) and [x + size, hi), either possibly empty. */
static void gaps_take(struct gapset *g, vmar_addr_t x, vmar_size_t size,
                      vmar_size_t pre)
{
    size_t i = gap_holding(g, x - pre);

    assert_true(i < g->n && x + size <= g->hi[i]);
    const vmar_addr_t lo = g->lo[i], hi = g->hi[i];
    const bool left = lo < x - pre, right = x + size < hi;
    if (left && right) {
        gaps_reserve(g, g->n + 1);
        memmove(g->lo + i + 2, g->lo + i + 1, (g->n - i - 1) * sizeof(*g->lo));
        memmove(g->hi + i + 2, g->hi + i + 1, (g->n - i - 1) * sizeof(*g->hi));
        g->n++;
        g->hi[i] = x - pre;
        g->lo[i + 1] = x + size;
        g->hi[i + 1] = hi;
    } else if (left) {
        g->hi[i] = x - pre;
    } else if (right) {
        g->lo[i] = x + size;
    } else {
        memmove(g->lo + i, g->lo + i + 1, (g->n - i - 1) * sizeof(*g->lo));
        memmove(g->hi + i, g->hi + i + 1, (g->n - i - 1) * sizeof(*g->hi));
        g->n--;
    }
}

/* Highest (top_down) or lowest aligned x with [x - pre, x + size) inside
 * one gap. *passed: how many gaps the scan passed before the answer. */
static bool oracle_any(const struct gapset *g, vmar_size_t size,
                       vmar_size_t align, vmar_size_t pre, bool top_down,
                       vmar_addr_t *out, size_t *passed)
{
    const vmar_size_t mask = align - 1;

    for (size_t k = 0; k < g->n; k++) {
        size_t i = top_down ? g->n - 1 - k : k;
        vmar_addr_t lo = g->lo[i], hi = g->hi[i], x;

        if (hi - lo < size || hi - lo - size < pre)
            continue;
        if (top_down) {
            x = (hi - size) & ~mask;
            if (x < lo + pre)
                continue;
        } else {
            x = (lo + pre + mask) & ~mask;
            if (x < lo + pre || x > hi - size) /* x < lo + pre: wrapped */
                continue;
        }
        *out = x;
        *passed = k;
        return true;
    }
    return false;
}

/* Whether [hint - pre, hint + size) lies inside one gap. */
static bool oracle_hint(const struct gapset *g, vmar_addr_t hint,
                        vmar_size_t size, vmar_size_t pre)
{
    if (hint < pre || hint > UINT64_MAX - size)
        return false;
    size_t i = gap_holding(g, hint - pre);
    return i < g->n && hint + size <= g->hi[i];
}

/* ---- random requests ----------------------------------------------------- */

static vmar_size_t rand_align(uint64_t *rng)
{
    uint64_t r = rnd(rng, 100);

    if (r < 50)
        return PG;
    if (r < 80)
        return (vmar_size_t)1 << (13 + rnd(rng, 18)); /* 8 KiB .. 1 GiB */
    if (r < 90)
        return 2 * MIB;
    return GIB;
}

static vmar_size_t rand_size(uint64_t *rng, vmar_size_t align)
{
    uint64_t r = rnd(rng, 100);
    vmar_size_t sz;

    if (align >= 2 * MIB && r < 90)
        sz = align * (1 + rnd(rng, 3));
    else if (r < 55)
        sz = (1 + rnd(rng, 16)) * PG;
    else if (r < 85)
        sz = (17 + rnd(rng, 4080)) * PG; /* up to 16 MiB */
    else if (r < 97)
        sz = (4097 + rnd(rng, (uint64_t)1 << 20)) * PG; /* up to 4 GiB */
    else
        sz = 16 * GIB + rnd(rng, 48 * GIB / PG) * PG; /* beyond every gap */
    return (sz + align - 1) & ~(align - 1);
}

struct tally {
    size_t found_top, found_bottom, enomem, hint_exact, hint_fallback;
    size_t stacks, passed_gaps, big_align_found, too_big, guard_hints;
};

struct placed {
    vmar_addr_t addr;
    vmar_size_t size;
};

/* What one query works with. */
struct qctx {
    struct vt *vt;
    struct gapset *gaps;
    vmar_size_t guard;         /* the space's stack_guard */
    const vmar_addr_t *stacks; /* starts of some stack mappings */
    size_t nstacks;
    uint64_t *rng;
    struct tally *t;
    /* Kept placements are recorded here (when non-NULL) and taken out of
     * the gap list; otherwise each placement is unmapped again. */
    struct placed *kept;
    size_t nkept;
};

/* A hint for a request of `size` (+ `pre` below) aligned to `align`. */
static vmar_addr_t rand_hint(struct qctx *q, vmar_size_t size,
                             vmar_size_t align, vmar_size_t pre)
{
    const struct gapset *g = q->gaps;
    struct vmar_stats st;
    vmar_addr_t a;

    vmar_stats(q->vt->space, &st);
    switch (rnd(q->rng, q->nstacks ? 5 : 3)) {
    case 0: /* somewhere in a random gap, fitting or not */
        if (g->n) {
            size_t i = (size_t)rnd(q->rng, g->n);
            a = g->lo[i] + pre +
                rnd(q->rng, (g->hi[i] - g->lo[i]) / PG + 1) * PG;
            break;
        }
        /* fall through */
    case 1: /* the lowest aligned place in a random gap */
        if (g->n) {
            size_t i = (size_t)rnd(q->rng, g->n);
            a = (g->lo[i] + pre + align - 1) & ~(align - 1);
            break;
        }
        /* fall through */
    case 2: /* anywhere */
        a = st.user_lo + rnd(q->rng, (st.user_hi - st.user_lo) / PG) * PG;
        break;
    case 3: { /* inside a stack's guard: never free */
        vmar_addr_t s = q->stacks[rnd(q->rng, q->nstacks)];
        a = s - q->guard + rnd(q->rng, q->guard / PG) * PG;
        q->t->guard_hints++;
        break;
    }
    default: { /* ending exactly at a stack's guard: free if the gap is */
        vmar_addr_t s = q->stacks[rnd(q->rng, q->nstacks)];
        a = s - q->guard - size;
        q->t->guard_hints++;
        break;
    }
    }
    return a & ~(align - 1);
}

/*
 * One placement query against the oracle. On success the new mapping is
 * checked with vmar_query(), then either unmapped again or kept.
 */
static void query_once(struct qctx *q, unsigned prot)
{
    struct vt *vt = q->vt;
    struct tally *t = q->t;
    struct vmar_stats st;

    vmar_stats(vt->space, &st);
    const vmar_size_t align = rand_align(q->rng);
    const vmar_size_t size = rand_size(q->rng, align);
    const bool stack = rnd(q->rng, 10) == 0;
    const vmar_size_t pre = stack ? q->guard : 0;
    unsigned flags = stack ? VMAR_MAP_STACK : 0;
    bool top_down;
    switch (rnd(q->rng, 3)) {
    case 0:
        top_down = true;
        break; /* the space's default */
    case 1:
        top_down = true;
        flags |= VMAR_MAP_TOP_DOWN;
        break;
    default:
        top_down = false;
        flags |= VMAR_MAP_BOTTOM_UP;
        break;
    }

    struct vmar_map_opts o = {.size = size,
                              .align = align,
                              .prot = prot,
                              .flags = flags,
                              .place = VMAR_PLACE_ANY};
    if (size > st.user_hi - st.user_lo) {
        /* Larger than the user range: invalid rather than "no room". */
        struct vt_snap snap;
        vt_snap_take(vt, &snap);
        assert_int_equal(vmar_map(vt->space, &o, NULL), VMAR_EINVAL);
        VT_EXPECT_UNCHANGED(vt, &snap);
        t->too_big++;
        return;
    }
    bool hint_ok = false;
    if (rnd(q->rng, 3) == 0) {
        o.place = VMAR_PLACE_HINT;
        o.addr = rand_hint(q, size, align, pre);
        hint_ok = oracle_hint(q->gaps, o.addr, size, pre);
    }

    vmar_addr_t want = 0, got = 0;
    size_t passed = 0;
    bool found = hint_ok;
    if (hint_ok)
        want = o.addr;
    else
        found = oracle_any(q->gaps, size, align, pre, top_down, &want, &passed);

    int rc = vmar_map(vt->space, &o, &got);
    if (found && (rc != 0 || got != want))
        fail_msg(
            "%s size %#" PRIx64 " align %#" PRIx64 " %s%s%s "
            "hint %#" PRIx64 ": got rc %s addr %#" PRIx64 ", oracle %#" PRIx64,
            o.place == VMAR_PLACE_HINT ? "HINT" : "ANY", size, align,
            top_down ? "top-down" : "bottom-up", stack ? " stack" : "",
            hint_ok ? " (hint fits)" : "", o.addr, vmar_errname(rc), got, want);
    if (!found && rc != VMAR_ENOMEM)
        fail_msg("%s size %#" PRIx64 " align %#" PRIx64 " %s%s: got rc %s "
                 "addr %#" PRIx64 ", oracle: no fit",
                 o.place == VMAR_PLACE_HINT ? "HINT" : "ANY", size, align,
                 top_down ? "top-down" : "bottom-up", stack ? " stack" : "",
                 vmar_errname(rc), got);
    if (!found) {
        t->enomem++;
        return;
    }

    struct vmar_mapping_info info;
    assert_int_equal(vmar_query(vt->space, got, &info), 0);
    assert_true(info.start <= got && info.end >= got + size);
    assert_int_equal(info.prot, prot);
    assert_int_equal(info.flags, stack ? VMAR_MAP_STACK : 0);
    if (q->kept) {
        q->kept[q->nkept].addr = got;
        q->kept[q->nkept].size = size;
        q->nkept++;
        gaps_take(q->gaps, got, size, pre);
    } else {
        assert_int_equal(info.start, got);
        assert_int_equal(info.end, got + size);
        assert_int_equal(vmar_unmap(vt->space, got, size), 0);
    }
    if (o.place == VMAR_PLACE_HINT && hint_ok)
        t->hint_exact++;
    else if (o.place == VMAR_PLACE_HINT)
        t->hint_fallback++;
    else if (top_down)
        t->found_top++;
    else
        t->found_bottom++;
    t->stacks += stack;
    t->passed_gaps += passed > 0;
    t->big_align_found += align >= 2 * MIB;
}

static void print_tally(const char *what, const struct tally *t)
{
    fprintf(stderr,
            "%s: %zu top-down, %zu bottom-up, %zu hint exact, %zu hint "
            "fallback (%zu aimed at guards), %zu no fit, %zu too big; %zu "
            "stacks, %zu past the first gap, %zu aligned >= 2 MiB\n",
            what, t->found_top, t->found_bottom, t->hint_exact,
            t->hint_fallback, t->guard_hints, t->enomem, t->too_big, t->stacks,
            t->passed_gaps, t->big_align_found);
}

/* ---- 100 000 mappings ---------------------------------------------------- */

struct model {
    vmar_addr_t start, end;
    unsigned prot, flags;
};

/* `div` (a power of two, 1 where the user range allows) shrinks the two
 * widest kinds of gap so that the layout fits the backend's user range;
 * the widest gaps still start at 1 GiB. */
static vmar_size_t rand_gap(uint64_t *rng, uint64_t div)
{
    uint64_t r = rnd(rng, 1000);

    if (r < 300)
        return 0;
    if (r < 700)
        return (1 + rnd(rng, 16)) * PG;
    if (r < 950)
        return (17 + rnd(rng, 1008)) * PG; /* up to 4 MiB */
    if (r < 999)
        return (1025 + rnd(rng, 64512 / div)) * PG; /* up to 256 MiB */
    return GIB + rnd(rng, 7 * GIB / PG / div) * PG; /* 1 .. 8 GiB */
}

static vmar_size_t rand_mapping_size(uint64_t *rng)
{
    uint64_t r = rnd(rng, 100);

    if (r < 80)
        return (1 + rnd(rng, 16)) * PG;
    if (r < 98)
        return (17 + rnd(rng, 496)) * PG;
    return (513 + rnd(rng, 512)) * PG;
}

static void compare_with_model(const struct infos *c, const struct model *m,
                               size_t n)
{
    assert_int_equal(c->n, n);
    for (size_t i = 0; i < n; i++) {
        if (c->v[i].start != m[i].start || c->v[i].end != m[i].end ||
            c->v[i].prot != m[i].prot || c->v[i].flags != m[i].flags)
            fail_msg("mapping %zu: [%#" PRIx64 ", %#" PRIx64 ") prot %u "
                     "flags %u, expected [%#" PRIx64 ", %#" PRIx64
                     ") prot %u flags %u",
                     i, c->v[i].start, c->v[i].end, c->v[i].prot, c->v[i].flags,
                     m[i].start, m[i].end, m[i].prot, m[i].flags);
    }
}

static void compare_gaps(const struct gapset *a, const struct gapset *b)
{
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++)
        if (a->lo[i] != b->lo[i] || a->hi[i] != b->hi[i])
            fail_msg("gap %zu: [%#" PRIx64 ", %#" PRIx64 ") vs [%#" PRIx64
                     ", %#" PRIx64 ")",
                     i, a->lo[i], a->hi[i], b->lo[i], b->hi[i]);
}

/* The big test's heap, at file scope so that cleanup_heap() can free it
 * after a failed assertion. */
static struct model *big_model;
static uint32_t *big_order;
static vmar_addr_t *big_stacks;
static struct placed *big_kept;
static struct infos big_infos;
static struct gapset big_gaps, big_gaps2;

static int cleanup_heap(void **state)
{
    free(big_model);
    free(big_order);
    free(big_stacks);
    free(big_kept);
    free(big_infos.v);
    big_model = NULL;
    big_order = NULL;
    big_stacks = NULL;
    big_kept = NULL;
    memset(&big_infos, 0, sizeof(big_infos));
    gaps_free(&big_gaps);
    gaps_free(&big_gaps2);
    return vt_cleanup(state);
}

static void test_placement_100k(void **state)
{
    uint64_t rng = vt_seed(0x9ace3e47);
    struct model *m = big_model = calloc(N_MAPPINGS, sizeof(*m));
    uint32_t *order = big_order = calloc(N_MAPPINGS, sizeof(*order));
    vmar_addr_t *stacks = big_stacks = calloc(N_MAPPINGS, sizeof(*stacks));
    struct infos *cp = &big_infos;
    struct tally t1, t2;
    struct vt vt;
    size_t nstacks = 0;
    vmar_size_t total = 0;
    clock_t t0 = clock();
    (void)state;

    big_kept = calloc(N_KEPT, sizeof(*big_kept));
    assert_true(m && order && stacks && big_kept);
    memset(&t1, 0, sizeof(t1));
    memset(&t2, 0, sizeof(t2));

    /* The layout, in address order; consecutive mappings alternate their
     * prot so that none of them merge. Where it does not fit below the
     * backend's user_top, it is drawn again from the same seed with
     * narrower wide gaps. */
    const uint64_t seed = rng;
    uint64_t div = 1;
    vmar_addr_t cur;
again:
    rng = seed;
    nstacks = 0;
    total = 0;
    cur = VMAR_DEFAULT_USER_LO + rnd(&rng, 64) * PG;
    for (size_t i = 0; i < N_MAPPINGS; i++) {
        if (i)
            cur += rand_gap(&rng, div);
        m[i].start = cur;
        cur += rand_mapping_size(&rng);
        m[i].end = cur;
        m[i].prot = (i & 1) ? R : RW;
        m[i].flags = rnd(&rng, 25) == 0 ? VMAR_MAP_STACK : 0;
        if (m[i].flags)
            stacks[nstacks++] = m[i].start;
        total += m[i].end - m[i].start;
        order[i] = (uint32_t)i;
    }
    const vmar_addr_t user_hi = cur + rnd(&rng, 64) * PG;
    if (user_hi > VT_USER_TOP) {
        assert_true(div < 1024);
        div *= 2;
        goto again;
    }
    assert_true(user_hi <= VT_USER_TOP);
    for (size_t i = N_MAPPINGS - 1; i > 0; i--) { /* Fisher-Yates */
        size_t j = (size_t)rnd(&rng, i + 1);
        uint32_t tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }

    /* The guards shape the gaps: many below stacks are clipped, some to
     * nothing. */
    size_t clipped = 0, vanished = 0;
    for (size_t i = 1; i < N_MAPPINGS; i++) {
        vmar_size_t gap = m[i].start - m[i - 1].end;
        if (!(m[i].flags & VMAR_MAP_STACK) || gap == 0)
            continue;
        clipped++;
        vanished += gap <= BIG_GUARD;
    }
    assert_true(nstacks > N_MAPPINGS / 50);
    assert_true(clipped > 1000 && vanished > 500);

    struct vmar_space_opts so = {
        .user_hi = user_hi, .max_map_count = 300000, .stack_guard = BIG_GUARD};
    vt_setup_tracked(&vt, &so, 0);
    for (size_t k = 0; k < N_MAPPINGS; k++) {
        const struct model *x = &m[order[k]];
        struct vmar_map_opts o = {.addr = x->start,
                                  .size = x->end - x->start,
                                  .prot = x->prot,
                                  .flags = x->flags,
                                  .place = VMAR_PLACE_FIXED};
        vmar_addr_t got = 0;
        int rc = vmar_map(vt.space, &o, &got);
        if (rc != 0 || got != x->start)
            fail_msg("setup map %zu at %#" PRIx64 ": %s", k, x->start,
                     vmar_errname(rc));
        if ((k + 1) % CHECK_EVERY == 0)
            VT_CHECK(&vt);
    }
    VT_CHECK(&vt);
    struct vmar_stats st;
    vmar_stats(vt.space, &st);
    assert_int_equal(st.map_count, N_MAPPINGS);
    assert_int_equal(st.total_vm, total);
    assert_int_equal(st.user_hi, user_hi);
    collect(&vt, cp);
    compare_with_model(cp, m, N_MAPPINGS);
    gaps_build(&big_gaps, cp, st.user_lo, st.user_hi, BIG_GUARD, N_KEPT);
    fprintf(stderr,
            "built %u mappings (%zu stacks, %zu gaps below them, %zu inside "
            "the guard) over [%#" PRIx64 ", %#" PRIx64 "), %zu free gaps, in "
            "%.2f s (wide gaps / %" PRIu64 ")\n",
            N_MAPPINGS, nstacks, clipped, vanished, st.user_lo, st.user_hi,
            big_gaps.n, seconds_since(t0), div);

    /* Phase 1: each placement undone. */
    struct qctx q = {.vt = &vt,
                     .gaps = &big_gaps,
                     .guard = BIG_GUARD,
                     .stacks = stacks,
                     .nstacks = nstacks,
                     .rng = &rng,
                     .t = &t1,
                     .kept = NULL,
                     .nkept = 0};
    t0 = clock();
    for (size_t i = 0; i < N_UNDONE; i++) {
        query_once(&q, PLACED_PROT);
        if ((i + 1) % 500 == 0) {
            vmar_stats(vt.space, &st);
            assert_int_equal(st.map_count, N_MAPPINGS);
            assert_int_equal(st.total_vm, total);
        }
    }
    VT_CHECK(&vt);
    collect(&vt, cp);
    compare_with_model(cp, m, N_MAPPINGS);
    print_tally("undone", &t1);
    fprintf(stderr, "%u queries in %.2f s\n", N_UNDONE, seconds_since(t0));

    /* Phase 2: placements kept; the gap list follows incrementally. */
    q.t = &t2;
    q.kept = big_kept;
    t0 = clock();
    for (size_t i = 0; i < N_KEPT; i++) {
        query_once(&q, PLACED_PROT);
        if ((i + 1) % 1000 == 0)
            VT_CHECK(&vt);
    }
    print_tally("kept", &t2);
    fprintf(stderr, "%u queries in %.2f s, %zu kept\n", N_KEPT,
            seconds_since(t0), q.nkept);
    VT_CHECK(&vt);
    collect(&vt, cp);
    gaps_build(&big_gaps2, cp, st.user_lo, st.user_hi, BIG_GUARD, 0);
    compare_gaps(&big_gaps, &big_gaps2);

    /* Every kind of answer occurred, so no comparison passed vacuously;
     * the kept phase walked through many gaps. */
    assert_true(t1.found_top > N_UNDONE / 10 && t2.found_top > N_KEPT / 10);
    assert_true(t1.found_bottom > N_UNDONE / 10 &&
                t2.found_bottom > N_KEPT / 10);
    assert_true(t1.hint_exact > 20 && t2.hint_exact > 20);
    assert_true(t1.hint_fallback > 20 && t2.hint_fallback > 20);
    assert_true(t1.guard_hints > 50 && t2.guard_hints > 50);
    assert_true(t1.enomem > 10 && t2.enomem > 10);
    assert_true(t1.stacks > 50 && t2.stacks > 50);
    assert_true(t1.passed_gaps > N_UNDONE / 10 && t2.passed_gaps > N_KEPT / 4);
    assert_true(t1.big_align_found > 50 && t2.big_align_found > 50);
    /* Top-down searches reached gaps whose top is a stack's guard. */
    size_t against_guard = 0;
    for (size_t i = 0; i + 1 < cp->n; i++)
        against_guard += cp->v[i].prot == PLACED_PROT &&
                         cp->v[i + 1].flags & VMAR_MAP_STACK &&
                         cp->v[i].end == cp->v[i + 1].start - BIG_GUARD;
    fprintf(stderr, "%zu kept mappings end at a stack's guard\n",
            against_guard);
    assert_true(against_guard > 10);

    /* Unmapping what phase 2 kept gives back the layout that was built. */
    for (size_t i = 0; i < q.nkept; i++) {
        assert_int_equal(
            vmar_unmap(vt.space, big_kept[i].addr, big_kept[i].size), 0);
        if ((i + 1) % 1000 == 0)
            VT_CHECK(&vt);
    }
    VT_CHECK(&vt);
    vmar_stats(vt.space, &st);
    assert_int_equal(st.map_count, N_MAPPINGS);
    assert_int_equal(st.total_vm, total);
    collect(&vt, cp);
    compare_with_model(cp, m, N_MAPPINGS);

    vt_teardown_tracked(&vt);
    cleanup_heap(state);
}

/* ---- a small, changing layout -------------------------------------------- */

#define CHURN_OPS   3000u
#define CHURN_GUARD (16 * PG)

static unsigned rand_prot(uint64_t *rng)
{
    static const unsigned p[] = {R, RW, RX};
    return p[rnd(rng, 3)];
}

/* Whether [lo, hi) is entirely covered by mappings. */
static bool covered(const struct infos *c, vmar_addr_t lo, vmar_addr_t hi)
{
    for (size_t i = 0; i < c->n && lo < hi; i++) {
        if (c->v[i].end <= lo)
            continue;
        if (c->v[i].start > lo)
            return false;
        lo = c->v[i].end;
    }
    return lo >= hi;
}

/* Whether any mapping meets [lo, hi). */
static bool meets(const struct infos *c, vmar_addr_t lo, vmar_addr_t hi)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i].start < hi && c->v[i].end > lo)
            return true;
    return false;
}

static struct infos churn_infos;
static struct gapset churn_gaps;
static vmar_addr_t *churn_stacks;

static int cleanup_churn(void **state)
{
    free(churn_infos.v);
    memset(&churn_infos, 0, sizeof(churn_infos));
    gaps_free(&churn_gaps);
    free(churn_stacks);
    churn_stacks = NULL;
    return vt_cleanup(state);
}

static void test_placement_churn(void **state)
{
    uint64_t rng = vt_seed(0xc4a27);
    /* A tight range: most requests must search between mappings. */
    const vmar_addr_t ulo = 0x10000, uhi = 0x10000 + 64 * MIB;
    const uint64_t range_pages = (uhi - ulo) / PG;
    struct infos *cp = &churn_infos;
    struct tally t;
    struct vt vt;
    size_t fixed = 0, noreplace_eexist = 0, unmaps = 0, protects = 0,
           protect_enomem = 0;
    (void)state;

    memset(&t, 0, sizeof(t));
    struct vmar_space_opts so = {
        .user_lo = ulo, .user_hi = uhi, .stack_guard = CHURN_GUARD};
    vt_setup_tracked(&vt, &so, 0);

    /* Random FIXED maps that touch, overlap and merge. */
    for (size_t i = 0; i < 600; i++) {
        vmar_size_t size = (1 + rnd(&rng, 32)) * PG;
        vmar_addr_t a = ulo + rnd(&rng, range_pages - size / PG + 1) * PG;
        assert_int_equal(vt_map(&vt, a, size, rand_prot(&rng), VMAR_PLACE_FIXED,
                                rnd(&rng, 20) ? 0 : VMAR_MAP_STACK, NULL),
                         0);
    }

    for (size_t op = 0; op < CHURN_OPS; op++) {
        collect(&vt, cp);
        uint64_t kind = rnd(&rng, 10);
        vmar_size_t size = (1 + rnd(&rng, 128)) * PG;
        vmar_addr_t a = ulo + rnd(&rng, range_pages - size / PG + 1) * PG;

        if (kind < 4) {
            /* Kept (random prot, may merge) or undone (exec-only, which no
             * other mapping has, so it stands alone). */
            bool undo = rnd(&rng, 2) == 0;
            size_t nstacks = 0;
            churn_stacks =
                realloc(churn_stacks, (cp->n + 1) * sizeof(*churn_stacks));
            assert_non_null(churn_stacks);
            for (size_t i = 0; i < cp->n; i++)
                if (cp->v[i].flags & VMAR_MAP_STACK &&
                    cp->v[i].start >= ulo + CHURN_GUARD + 1024 * PG)
                    churn_stacks[nstacks++] = cp->v[i].start;
            gaps_build(&churn_gaps, cp, ulo, uhi, CHURN_GUARD, 0);
            struct placed one;
            struct qctx q = {.vt = &vt,
                             .gaps = &churn_gaps,
                             .guard = CHURN_GUARD,
                             .stacks = churn_stacks,
                             .nstacks = nstacks,
                             .rng = &rng,
                             .t = &t,
                             .kept = undo ? NULL : &one,
                             .nkept = 0};
            query_once(&q, undo ? PLACED_PROT : rand_prot(&rng));
            VT_CHECK(&vt);
        } else if (kind < 6) {
            unsigned prot = rand_prot(&rng);
            assert_int_equal(vt_map(&vt, a, size, prot, VMAR_PLACE_FIXED,
                                    rnd(&rng, 10) ? 0 : VMAR_MAP_STACK, NULL),
                             0);
            struct vmar_mapping_info i;
            assert_int_equal(vmar_query(vt.space, a, &i), 0);
            assert_true(i.start <= a && i.end >= a + size);
            assert_int_equal(i.prot, prot);
            fixed++;
        } else if (kind < 7) {
            int want = meets(cp, a, a + size) ? VMAR_EEXIST : 0;
            assert_int_equal(
                vt_map(&vt, a, size, R, VMAR_PLACE_FIXED_NOREPLACE, 0, NULL),
                want);
            noreplace_eexist += want != 0;
        } else if (kind < 9) {
            assert_int_equal(vt_unmap(&vt, a, size), 0);
            struct vmar_mapping_info i;
            assert_int_equal(vmar_query(vt.space, a, &i), VMAR_ENOENT);
            assert_int_equal(vmar_query(vt.space, a + size - PG, &i),
                             VMAR_ENOENT);
            unmaps++;
        } else {
            size = (1 + rnd(&rng, 8)) * PG;
            a = ulo + rnd(&rng, range_pages - size / PG + 1) * PG;
            int want = covered(cp, a, a + size) ? 0 : VMAR_ENOMEM;
            unsigned prot = rand_prot(&rng);
            assert_int_equal(vt_protect(&vt, a, size, prot), want);
            if (want == 0) {
                struct vmar_mapping_info i;
                assert_int_equal(vmar_query(vt.space, a, &i), 0);
                assert_int_equal(i.prot, prot);
            }
            protects++;
            protect_enomem += want != 0;
        }
    }
    print_tally("churn placements", &t);
    fprintf(stderr,
            "churn: %zu fixed, %zu noreplace EEXIST, %zu unmaps, %zu "
            "protects (%zu ENOMEM)\n",
            fixed, noreplace_eexist, unmaps, protects, protect_enomem);
    assert_true(t.found_top > 100 && t.found_bottom > 50);
    assert_true(t.hint_exact > 10 && t.hint_fallback > 10);
    assert_true(t.guard_hints > 10);
    assert_true(t.enomem > 5 && t.too_big > 5 && t.stacks > 20 &&
                t.passed_gaps > 20);
    assert_true(noreplace_eexist > 10 && protect_enomem > 10 &&
                protects > protect_enomem + 10);

    vt_teardown_tracked(&vt);
    cleanup_churn(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_placement_100k, cleanup_heap),
        cmocka_unit_test_teardown(test_placement_churn, cleanup_churn),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
