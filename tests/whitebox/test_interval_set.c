/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the interval set (src/core/interval_set.h): lookups,
 * neighbours, update, split and merge_next on small sets; the B+tree's
 * shape (levels, fill, index nodes, leaf back pointers, the cached keys and
 * gaps) on sets of one to a few thousand elements built in ascending,
 * descending and scattered order and emptied again; the spare-node
 * contract; the guard and window rules of the free-range search at their
 * edges; and seeded differential tests of vmar__iset_find_free and the
 * lookups: against a brute-force scan of every gap of a set of over
 * 100 000 elements, against the same model on a few thousand slots with
 * every op checked, and against trying every x in small byte-granular sets
 * at both ends of the address space.
 *
 * Every mutation is followed by check_set(): vmar__iset_check(), plus this
 * file's own walk of the index (so a checker that misses a rule does not
 * hide a broken tree) and the index-node balance: the set allocates
 * nothing, so the index nodes in use plus its spares are exactly the ones
 * this file handed it. That balance is kept in one counter, so each test
 * keeps one set alive at a time and ends with finish(), which empties the
 * set, takes every spare back and frees it (the tests run under Valgrind
 * memcheck and ASan, which would report anything left).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/interval_set.h"

#define PG    ((vmar_addr_t)VMAR_PAGE_SIZE)
#define MIB   ((vmar_addr_t)1 << 20)
#define GIB   ((vmar_addr_t)1 << 30)
#define TOP   UINT64_MAX     /* the highest address; hi may be this */
#define ENDPG (TOP - PG + 1) /* 2^64 - page: the last page's start */

/* ---- spares ------------------------------------------------------------- */

/* Index nodes handed to the live set and not yet taken back. */
static size_t g_index_out;

static struct vmar__iset_index *index_alloc(void)
{
    size_t align = _Alignof(struct vmar__iset_index);
    size_t size = (sizeof(struct vmar__iset_index) + align - 1) / align * align;
    struct vmar__iset_index *x = aligned_alloc(align, size);

    assert_non_null(x);
    /* Garbage, not zeros: the set must initialise every field it reads. */
    memset(x, 0xa5, size);
    g_index_out++;
    return x;
}

/* Top the spares up so that `inserts` inserts cannot run out. */
static void spares(struct vmar__iset *set, size_t inserts)
{
    size_t k = vmar__iset_spares_needed(set, inserts);

    while (k--)
        vmar__iset_spare_add(set, index_alloc());
    assert_int_equal(vmar__iset_spares_needed(set, inserts), 0);
}

/* Take every spare back and free it. */
static void spares_free(struct vmar__iset *set)
{
    struct vmar__iset_index *x;

    while ((x = vmar__iset_spare_take(set))) {
        free(x);
        assert_true(g_index_out > 0);
        g_index_out--;
    }
    assert_int_equal(set->nspare, 0);
    assert_null(set->spare);
}

/* ---- an independent walk of the index ----------------------------------- */

/* n's guard: the set's for a guarded element, else 0. */
static vmar_size_t guard_of(const struct vmar__iset *set,
                            const struct vmar__iset_node *n)
{
    return vmar__iset_node_guarded(n) ? set->guard : 0;
}

/* Give n `guard` (0: none): a set has one guard size, so a nonzero guard
 * becomes the set's, which no guarded element may have had another of. */
static void set_guard(struct vmar__iset *set, struct vmar__iset_node *n,
                      vmar_size_t guard)
{
    if (guard)
        set->guard = guard;
    vmar__iset_node_set_guarded(n, guard != 0);
}

static vmar_addr_t eff_start(const struct vmar__iset *set,
                             const struct vmar__iset_node *n)
{
    const vmar_size_t g = guard_of(set, n);

    return g >= n->start ? 0 : n->start - g;
}

/* The gap before n by the header's definition, from its neighbours. */
static vmar_size_t model_gap(const struct vmar__iset *set,
                             const struct vmar__iset_node *prev,
                             const struct vmar__iset_node *n)
{
    vmar_addr_t lo = prev ? prev->end : 0, eff = eff_start(set, n);

    return eff > lo ? eff - lo : 0;
}

/* The fill interval_set.c keeps in every node but the root (a leaf root
 * holds at least one slot, an inner root at least two): what bounds the
 * levels, and so the cost of a descent. */
#define MIN_FILL 3u

struct walk {
    const struct vmar__iset *set;
    const struct vmar__iset_node *prev; /* the last element seen */
    size_t elements, nodes;
    const struct vmar__iset_index *level_last[64]; /* per level, in order */
    const char *err;
};

#define WALK_FAIL(w, msg)                                                      \
    do {                                                                       \
        if (!(w)->err)                                                         \
            (w)->err = (msg);                                                  \
        return 0;                                                              \
    } while (0)

/* Walks x's subtree in key order; returns its largest gap. */
static vmar_size_t walk_node(struct walk *w, const struct vmar__iset_index *x,
                             const struct vmar__iset_index *parent,
                             uint32_t level)
{
    vmar_size_t max = 0;
    uint32_t i;

    if (w->nodes++ > 1000000)
        WALK_FAIL(w, "walk: too many index nodes (a cycle?)");
    if (x->parent != parent)
        WALK_FAIL(w, "walk: parent pointer");
    if (x->level != level)
        WALK_FAIL(w, "walk: level");
    if (x->count > VMAR_ISET_FANOUT || x->count < (parent  ? MIN_FILL
                                                   : level ? 2u
                                                           : 1u))
        WALK_FAIL(w, "walk: fill out of bounds");
    if (x->prev != w->level_last[level])
        WALK_FAIL(w, "walk: prev link");
    if (w->level_last[level] && w->level_last[level]->next != x)
        WALK_FAIL(w, "walk: next link");
    w->level_last[level] = x;
    for (i = 0; i < x->count; i++) {
        vmar_size_t g;

        if (level == 0) {
            const struct vmar__iset_node *n = x->ptr[i];

            if (vmar__iset_node_leaf(n) != x)
                WALK_FAIL(w, "walk: element's leaf pointer");
            if (n->start >= n->end)
                WALK_FAIL(w, "walk: empty element");
            if (w->prev && w->prev->end > n->start)
                WALK_FAIL(w, "walk: elements out of order or overlapping");
            if (x->key[i] != n->start)
                WALK_FAIL(w, "walk: leaf key is not the element's start");
            g = model_gap(w->set, w->prev, n);
            if (x->gap[i] != g)
                WALK_FAIL(w, "walk: leaf gap");
            w->prev = n;
            w->elements++;
        } else {
            const struct vmar__iset_index *c = x->ptr[i];

            g = walk_node(w, c, x, level - 1);
            if (w->err)
                return 0;
            if (x->gap[i] != g)
                WALK_FAIL(w, "walk: inner gap is not the child's largest");
            if (x->key[i] != c->key[0])
                WALK_FAIL(w, "walk: inner key is not the child's first");
        }
        if (g > max)
            max = g;
    }
    return max;
}

static void shape_check(const struct vmar__iset *set)
{
    struct walk w;
    vmar_size_t max = 0;
    unsigned l;

    memset(&w, 0, sizeof(w));
    w.set = set;
    if (!set->root) {
        assert_int_equal(set->count, 0);
        assert_int_equal(set->levels, 0);
        assert_int_equal(vmar__iset_max_gap(set), 0);
        assert_int_equal(vmar__iset_index_nodes(set), 0);
        assert_null(vmar__iset_first(set));
        assert_null(vmar__iset_last(set));
    } else {
        assert_true(set->levels >= 1 && set->levels < 64);
        max = walk_node(&w, set->root, NULL, set->levels - 1);
        if (w.err)
            fail_msg("%s", w.err);
        assert_int_equal(w.elements, set->count);
        assert_int_equal(w.nodes, vmar__iset_index_nodes(set));
        assert_int_equal(max, vmar__iset_max_gap(set));
        for (l = 0; l < set->levels; l++)
            assert_null(w.level_last[l]->next);
        assert_ptr_equal(vmar__iset_last(set), w.prev);
    }
    /* The set allocates nothing and loses nothing. */
    assert_int_equal(vmar__iset_index_nodes(set) + set->nspare, g_index_out);
}

static void check_set(const struct vmar__iset *set)
{
    const char *err = vmar__iset_check(set);

    if (err)
        fail_msg("vmar__iset_check: %s", err);
    shape_check(set);
}

/* The gap the set keeps for element n (its slot in its leaf). */
static vmar_size_t node_gap(const struct vmar__iset_node *n)
{
    const struct vmar__iset_index *leaf = vmar__iset_node_leaf(n);
    uint32_t i;

    assert_non_null(leaf);
    for (i = 0; i < leaf->count; i++)
        if (leaf->ptr[i] == n)
            return leaf->gap[i];
    fail_msg("element %#" PRIx64 " is not in its leaf", n->start);
    return 0;
}

/* ---- changes ------------------------------------------------------------ */

static void add(struct vmar__iset *set, struct vmar__iset_node *n,
                vmar_addr_t start, vmar_addr_t end, vmar_size_t guard)
{
    size_t count = set->count;

    memset(n, 0xa5, sizeof(*n)); /* the set must not read stale fields */
    n->start = start;
    n->end = end;
    set_guard(set, n, guard);
    spares(set, 1);
    vmar__iset_insert(set, n);
    check_set(set);
    assert_int_equal(set->count, count + 1);
    assert_ptr_equal(vmar__iset_find(set, start), n);
}

static void del(struct vmar__iset *set, struct vmar__iset_node *n)
{
    size_t count = set->count;

    vmar__iset_remove(set, n);
    check_set(set);
    assert_int_equal(set->count, count - 1);
    assert_ptr_not_equal(vmar__iset_find(set, n->start), n);
}

static void reshape(struct vmar__iset *set, struct vmar__iset_node *n,
                    vmar_addr_t start, vmar_addr_t end, vmar_size_t guard)
{
    n->start = start;
    n->end = end;
    set_guard(set, n, guard);
    vmar__iset_update(set, n);
    check_set(set);
}

/* Empty the set, last element first or first element first, and free the
 * spares: every index node comes back. */
static void finish(struct vmar__iset *set)
{
    while (set->root)
        del(set, set->count % 2 ? vmar__iset_first(set) : vmar__iset_last(set));
    assert_int_equal(set->levels, 0);
    spares_free(set);
    assert_int_equal(g_index_out, 0);
}

/* Run a query; returns the result, or `none` when nothing fits. */
static const vmar_addr_t none = 0x4e4f4e45; /* not page-aligned: no result */

static vmar_addr_t ff(const struct vmar__iset *set, vmar_addr_t lo,
                      vmar_addr_t hi, vmar_size_t size, vmar_size_t align,
                      vmar_size_t pre, bool top_down)
{
    struct vmar__iset_query q = {lo, hi, size, align, pre, top_down};
    vmar_addr_t x = none;

    if (!vmar__iset_find_free(set, &q, &x, NULL)) {
        assert_int_equal(x, none); /* *out untouched on failure */
        return none;
    }
    return x;
}

#define UP(set, lo, hi, size, align, pre)                                      \
    ff((set), (lo), (hi), (size), (align), (pre), false)
#define DOWN(set, lo, hi, size, align, pre)                                    \
    ff((set), (lo), (hi), (size), (align), (pre), true)

/* Assert the in-order sequence of starts equals `starts` (n entries),
 * walking first..next and last..prev. */
static void assert_order(const struct vmar__iset *set,
                         const vmar_addr_t *starts, size_t n)
{
    const struct vmar__iset_node *it = vmar__iset_first(set);
    size_t i;

    assert_int_equal(set->count, n);
    for (i = 0; i < n; i++) {
        assert_non_null(it);
        assert_int_equal(it->start, starts[i]);
        it = vmar__iset_next(it);
    }
    assert_null(it);
    it = vmar__iset_last(set);
    for (i = n; i-- > 0;) {
        assert_non_null(it);
        assert_int_equal(it->start, starts[i]);
        it = vmar__iset_prev(it);
    }
    assert_null(it);
}
/* ---- small sets: lookups ------------------------------------------------ */

static void test_empty(void **state)
{
    struct vmar__iset set;

    (void)state;
    vmar__iset_init(&set);
    check_set(&set);
    assert_null(set.root);
    assert_null(vmar__iset_first(&set));
    assert_null(vmar__iset_last(&set));
    assert_null(vmar__iset_find(&set, 0));
    assert_null(vmar__iset_find(&set, TOP));
    assert_null(vmar__iset_lower_bound(&set, 0));
    assert_int_equal(set.levels, 0);
    assert_int_equal(set.count, 0);
    assert_int_equal(vmar__iset_max_gap(&set), 0);
    assert_int_equal(vmar__iset_index_nodes(&set), 0);
    /* No insert needs nothing; the first insert needs its leaf. */
    assert_int_equal(vmar__iset_spares_needed(&set, 0), 0);
    assert_true(vmar__iset_spares_needed(&set, 1) >= 1);
    assert_null(vmar__iset_spare_take(&set));
    /* The whole space is one gap; x + size may reach hi = 2^64 - 1 only. */
    assert_int_equal(UP(&set, 0, TOP, PG, PG, 0), 0);
    assert_int_equal(DOWN(&set, 0, TOP, PG, PG, 0), TOP - 2 * PG + 1);
    assert_int_equal(DOWN(&set, 0, TOP, PG - 1, 1, 0), ENDPG);
    assert_int_equal(DOWN(&set, 0, TOP, 1, 1, 0), TOP - 1);
    assert_int_equal(UP(&set, 0, TOP, TOP, 1, 0), 0);
    assert_int_equal(DOWN(&set, 0, TOP, TOP, 1, 0), 0);
    assert_int_equal(UP(&set, 0, TOP, TOP, 1, 1), none);
    assert_int_equal(UP(&set, 1, TOP, TOP, 1, 0), none);
    finish(&set);
}

static void test_insert_lookup(void **state)
{
    struct vmar__iset set;
    struct vmar__iset_node n[5];
    static const vmar_addr_t order[] = {0x1000, 0x3000, 0x8000, 0x9000,
                                        0x20000};

    (void)state;
    vmar__iset_init(&set);
    add(&set, &n[0], 0x8000, 0x9000, 0);
    add(&set, &n[1], 0x1000, 0x2000, 0);
    add(&set, &n[2], 0x20000, 0x30000, 0);
    add(&set, &n[3], 0x3000, 0x5000, 0);
    add(&set, &n[4], 0x9000, 0xa000, 0); /* touches n[0]: no gap */
    assert_order(&set, order, 5);
    assert_ptr_equal(vmar__iset_first(&set), &n[1]);
    assert_ptr_equal(vmar__iset_last(&set), &n[2]);

    assert_null(vmar__iset_find(&set, 0));
    assert_null(vmar__iset_find(&set, 0xfff));
    assert_ptr_equal(vmar__iset_find(&set, 0x1000), &n[1]);
    assert_ptr_equal(vmar__iset_find(&set, 0x1fff), &n[1]);
    assert_null(vmar__iset_find(&set, 0x2000));
    assert_ptr_equal(vmar__iset_find(&set, 0x4abc), &n[3]);
    assert_ptr_equal(vmar__iset_find(&set, 0x8fff), &n[0]);
    assert_ptr_equal(vmar__iset_find(&set, 0x9000), &n[4]);
    assert_null(vmar__iset_find(&set, 0xa000));
    assert_ptr_equal(vmar__iset_find(&set, 0x2ffff), &n[2]);
    assert_null(vmar__iset_find(&set, 0x30000));
    assert_null(vmar__iset_find(&set, TOP));

    assert_ptr_equal(vmar__iset_lower_bound(&set, 0), &n[1]);
    assert_ptr_equal(vmar__iset_lower_bound(&set, 0x1fff), &n[1]);
    assert_ptr_equal(vmar__iset_lower_bound(&set, 0x2000), &n[3]);
    assert_ptr_equal(vmar__iset_lower_bound(&set, 0x4000), &n[3]);
    assert_ptr_equal(vmar__iset_lower_bound(&set, 0x5000), &n[0]);
    assert_ptr_equal(vmar__iset_lower_bound(&set, 0x9000), &n[4]);
    assert_ptr_equal(vmar__iset_lower_bound(&set, 0xa000), &n[2]);
    assert_ptr_equal(vmar__iset_lower_bound(&set, 0x2ffff), &n[2]);
    assert_null(vmar__iset_lower_bound(&set, 0x30000));
    assert_null(vmar__iset_lower_bound(&set, TOP));

    /* Each node caches the gap below it, from 0 for the first; the root
     * the largest of all: [0xa000, 0x20000). */
    assert_int_equal(node_gap(&n[1]), 0x1000);
    assert_int_equal(node_gap(&n[3]), 0x1000);
    assert_int_equal(node_gap(&n[0]), 0x3000);
    assert_int_equal(node_gap(&n[4]), 0);
    assert_int_equal(node_gap(&n[2]), 0x16000);
    assert_int_equal(vmar__iset_max_gap(&set), 0x16000);
    /* Five elements fit one leaf: the root. */
    assert_int_equal(set.levels, 1);
    assert_int_equal(vmar__iset_index_nodes(&set), 1);
    assert_ptr_equal(vmar__iset_node_leaf(&n[0]), set.root);
    finish(&set);
}

/* Insert a one-page node at `start` through `hint`, then check. */
static void put_hinted(struct vmar__iset *set,
                       const struct vmar__iset_hint *hint,
                       struct vmar__iset_node *n, vmar_addr_t start,
                       vmar_size_t guard)
{
    memset(n, 0xa5, sizeof(*n)); /* the set must not read stale fields */
    n->start = start;
    n->end = start + PG;
    set_guard(set, n, guard);
    spares(set, 1);
    vmar__iset_insert_hinted(set, hint, n);
    check_set(set);
}

/* A hint from a free-range search places the insert without a descent;
 * one the set has changed since is not used (the slot it names now holds
 * another element), the insert descends instead. The top gap and the
 * empty set have hints too. */
static void test_insert_hinted(void **state)
{
    struct vmar__iset set;
    struct vmar__iset_node n[4];
    struct vmar__iset_hint hint, stale;
    struct vmar__iset_query q = {.hi = TOP, .size = PG, .align = PG};
    vmar_addr_t got;

    (void)state;
    vmar__iset_init(&set);
    /* Empty: the whole space is the top gap. */
    q.lo = 0x10000;
    assert_true(vmar__iset_find_free(&set, &q, &got, &hint));
    assert_int_equal(got, 0x10000);
    assert_null(hint.leaf);
    put_hinted(&set, &hint, &n[0], got, 0);
    assert_int_equal(node_gap(&n[0]), 0x10000);
    /* Above the last element. */
    q.lo = 0x20000;
    assert_true(vmar__iset_find_free(&set, &q, &got, &hint));
    assert_ptr_equal(hint.leaf, set.root);
    assert_int_equal(hint.slot, 1);
    assert_int_equal(hint.below, 0x11000);
    put_hinted(&set, &hint, &n[1], got, 0);
    assert_int_equal(node_gap(&n[1]), 0x20000 - 0x11000);
    /* In the hole between them, with a guard below the new element. */
    q.lo = 0x12000;
    q.hi = 0x15000;
    q.pre = 0x2000;
    assert_true(vmar__iset_find_free(&set, &q, &got, &hint));
    assert_int_equal(got, 0x14000);
    assert_int_equal(hint.slot, 1);
    assert_int_equal(hint.below, 0x11000);
    stale = hint;
    put_hinted(&set, &hint, &n[2], got, 0x2000);
    assert_int_equal(node_gap(&n[2]), 0x12000 - 0x11000);
    assert_int_equal(node_gap(&n[1]), 0x20000 - 0x15000);
    /* The stale hint still names slot 1, now n[2]'s: not used. */
    put_hinted(&set, &stale, &n[3], 0x18000, 0);
    assert_ptr_equal(vmar__iset_next(&n[2]), &n[3]);
    assert_ptr_equal(vmar__iset_next(&n[3]), &n[1]);
    assert_int_equal(node_gap(&n[3]), 0x18000 - 0x15000);
    finish(&set);
}

/* lower_bound_pred: the lower bound of lower_bound and, from the same
 * descent, its predecessor, also across leaf boundaries. */
static void test_lower_bound_pred(void **state)
{
    struct vmar__iset set;
    struct vmar__iset_node n[3], *pred, *lb;

    (void)state;
    vmar__iset_init(&set);
    pred = &n[0]; /* must be overwritten with NULL */
    assert_null(vmar__iset_lower_bound_pred(&set, 0x5000, &pred));
    assert_null(pred);
    add(&set, &n[0], 0x1000, 0x2000, 0);
    add(&set, &n[1], 0x2000, 0x3000, 0); /* touches n[0] */
    add(&set, &n[2], 0x8000, 0x9000, 0x4000);
    lb = vmar__iset_lower_bound_pred(&set, 0, &pred);
    assert_ptr_equal(lb, &n[0]);
    assert_null(pred);
    lb = vmar__iset_lower_bound_pred(&set, 0x1000, &pred);
    assert_ptr_equal(lb, &n[0]);
    assert_null(pred);
    lb = vmar__iset_lower_bound_pred(&set, 0x1fff, &pred);
    assert_ptr_equal(lb, &n[0]);
    assert_null(pred);
    /* At n[1].start, n[0] ends: it is the predecessor. */
    lb = vmar__iset_lower_bound_pred(&set, 0x2000, &pred);
    assert_ptr_equal(lb, &n[1]);
    assert_ptr_equal(pred, &n[0]);
    lb = vmar__iset_lower_bound_pred(&set, 0x3000, &pred);
    assert_ptr_equal(lb, &n[2]);
    assert_ptr_equal(pred, &n[1]);
    /* Inside n[2]'s guard: the guard is not the element. */
    lb = vmar__iset_lower_bound_pred(&set, 0x7fff, &pred);
    assert_ptr_equal(lb, &n[2]);
    assert_ptr_equal(pred, &n[1]);
    lb = vmar__iset_lower_bound_pred(&set, 0x8fff, &pred);
    assert_ptr_equal(lb, &n[2]);
    assert_ptr_equal(pred, &n[1]);
    lb = vmar__iset_lower_bound_pred(&set, 0x9000, &pred);
    assert_null(lb);
    assert_ptr_equal(pred, &n[2]);
    lb = vmar__iset_lower_bound_pred(&set, TOP, &pred);
    assert_null(lb);
    assert_ptr_equal(pred, &n[2]);
    finish(&set);
}

static void test_single_node_cache(void **state)
{
    struct vmar__iset set;
    struct vmar__iset_node n;

    (void)state;
    vmar__iset_init(&set);
    add(&set, &n, 0x5000, 0x6000, 0x2000);
    /* One leaf, the root, holding one slot. */
    assert_int_equal(set.levels, 1);
    assert_int_equal(vmar__iset_index_nodes(&set), 1);
    assert_ptr_equal(vmar__iset_node_leaf(&n), set.root);
    assert_int_equal(set.root->count, 1);
    assert_int_equal(set.root->level, 0);
    assert_null(set.root->parent);
    assert_int_equal(node_gap(&n), 0x3000); /* [0, eff) with eff = 0x3000 */
    assert_int_equal(vmar__iset_max_gap(&set), 0x3000);
    assert_ptr_equal(vmar__iset_find(&set, 0x5000), &n);
    assert_null(vmar__iset_find(&set, 0x4fff)); /* the guard is not the node */
    assert_null(vmar__iset_next(&n));
    assert_null(vmar__iset_prev(&n));
    del(&set, &n);
    assert_null(set.root);
    assert_int_equal(set.count, 0);
    assert_int_equal(set.levels, 0);
    /* The leaf went back to the spares. */
    assert_true(set.nspare >= 1);
    finish(&set);
}

#define ROT_N 200

/* Ascending, descending, zig-zag and scattered inserts split leaves at
 * their ends and in their middles; the removals (in two orders) empty
 * leaves at both ends and inside. 200 elements need at least two levels
 * (one leaf holds 16) and, as splits leave nodes at least a quarter full,
 * at most four. */
static void test_insert_orders(void **state)
{
    struct vmar__iset set;
    struct vmar__iset_node n[ROT_N];
    vmar_addr_t starts[ROT_N];
    int pass, i;

    (void)state;
    for (i = 0; i < ROT_N; i++)
        starts[i] = (vmar_addr_t)(i + 1) * 2 * PG;
    for (pass = 0; pass < 4; pass++) {
        vmar__iset_init(&set);
        for (i = 0; i < ROT_N; i++) {
            int k = pass == 0   ? i
                    : pass == 1 ? ROT_N - 1 - i
                    : pass == 2 ? (i % 2 ? ROT_N - 1 - i / 2 : i / 2)
                                : (i * 73) % ROT_N; /* 73 is coprime to 200 */
            add(&set, &n[k], starts[k], starts[k] + PG, 0);
        }
        assert_order(&set, starts, ROT_N);
        assert_true(set.levels >= 2 && set.levels <= 4);
        assert_true(vmar__iset_index_nodes(&set) >= ROT_N / VMAR_ISET_FANOUT);
        assert_int_equal(vmar__iset_max_gap(&set), 2 * PG); /* [0, first) */
        for (i = 0; i < ROT_N; i++)
            del(&set, &n[pass % 2 ? i : (i * 37) % ROT_N]);
        assert_null(set.root);
        finish(&set);
    }
}

/* ---- remove ------------------------------------------------------------- */

#define RM_N 60

/* Removals at the first, the middle and the last position, in a set of
 * four or more leaves that shrinks to one. */
static void test_remove(void **state)
{
    struct vmar__iset set;
    struct vmar__iset_node n[RM_N], *r, *succ, *pred, *p;
    vmar_addr_t starts[RM_N];
    size_t live = RM_N, i;

    (void)state;
    vmar__iset_init(&set);
    for (i = 0; i < RM_N; i++) {
        starts[i] = (vmar_addr_t)(i + 1) * 0x10000;
        add(&set, &n[i], starts[i], starts[i] + 0x1000, 0);
    }
    assert_order(&set, starts, RM_N);
    assert_true(set.levels >= 2);

    /* The first element; the gap cache follows. */
    r = vmar__iset_first(&set);
    del(&set, r);
    memmove(starts, starts + 1, --live * sizeof(*starts));
    assert_order(&set, starts, live);
    assert_int_equal(node_gap(vmar__iset_first(&set)), 0x20000);
    assert_int_equal(vmar__iset_max_gap(&set), 0x20000);

    /* The middle one, repeatedly, until a handful is left: leaves empty
     * or merge and the levels collapse. */
    while (live > 4) {
        for (r = vmar__iset_first(&set), i = 0; i < live / 2; i++)
            r = vmar__iset_next(r);
        succ = vmar__iset_next(r);
        pred = vmar__iset_prev(r);
        del(&set, r);
        for (i = 0; starts[i] != r->start; i++)
            ;
        memmove(starts + i, starts + i + 1, (--live - i) * sizeof(*starts));
        assert_order(&set, starts, live);
        assert_null(vmar__iset_find(&set, r->start));
        assert_ptr_equal(vmar__iset_lower_bound(&set, r->start), succ);
        assert_ptr_equal(vmar__iset_lower_bound_pred(&set, r->start, &p), succ);
        assert_ptr_equal(p, pred);
        assert_int_equal(node_gap(succ), succ->start - pred->end);
    }
    assert_int_equal(set.levels, 1);

    /* The last element; the gap cache follows. */
    r = vmar__iset_last(&set);
    del(&set, r);
    live--;
    assert_int_equal(set.count, live);
    assert_true(vmar__iset_last(&set)->end < r->end);
    finish(&set);
}

/*
 * Changes at a leaf's edges: removing or moving a leaf's first element
 * changes the keys its ancestors keep (checked by every check_set), and
 * removing or changing a leaf's last element changes the gap of its
 * successor, which lives in the next leaf.
 */
#define EDGE_N 200

static void test_leaf_edges(void **state)
{
    struct vmar__iset set;
    struct vmar__iset_node n[EDGE_N], *r, *succ, *pred, *p;
    size_t i, firsts = 0, lasts = 0;

    (void)state;
    vmar__iset_init(&set);
    for (i = 0; i < EDGE_N; i++)
        add(&set, &n[i], (vmar_addr_t)(i + 1) * 0x10000,
            (vmar_addr_t)(i + 1) * 0x10000 + 0x1000, 0);
    assert_true(set.levels >= 2);

    /* Move each leaf's first element down by a page (a new key for the
     * ancestors) and its last element's end up by a page (a smaller gap
     * for the successor in the next leaf). */
    for (r = vmar__iset_first(&set); r; r = vmar__iset_next(r)) {
        pred = vmar__iset_prev(r);
        succ = vmar__iset_next(r);
        if (vmar__iset_node_leaf(r)->ptr[0] == r && pred) {
            reshape(&set, r, r->start - PG, r->end, 0);
            assert_int_equal(vmar__iset_node_leaf(r)->key[0], r->start);
            assert_int_equal(node_gap(r), r->start - pred->end);
            firsts++;
        }
        if (vmar__iset_node_leaf(r)->ptr[vmar__iset_node_leaf(r)->count - 1] ==
                r &&
            succ) {
            reshape(&set, r, r->start, r->end + PG, 0);
            assert_ptr_not_equal(vmar__iset_node_leaf(succ),
                                 vmar__iset_node_leaf(r));
            assert_int_equal(node_gap(succ), succ->start - r->end);
            lasts++;
        }
    }
    assert_true(firsts >= 1 && lasts >= 1);

    /* Remove leaves' first elements, then leaves' last elements, while
     * there are any besides the set's first and last. */
    for (;;) {
        for (r = vmar__iset_next(vmar__iset_first(&set)); r;
             r = vmar__iset_next(r))
            if (vmar__iset_next(r) &&
                (vmar__iset_node_leaf(r)->ptr[0] == r ||
                 vmar__iset_node_leaf(r)
                         ->ptr[vmar__iset_node_leaf(r)->count - 1] == r))
                break;
        if (!r)
            break;
        pred = vmar__iset_prev(r);
        succ = vmar__iset_next(r);
        del(&set, r);
        assert_ptr_equal(vmar__iset_next(pred), succ);
        assert_ptr_equal(vmar__iset_prev(succ), pred);
        assert_ptr_equal(vmar__iset_lower_bound_pred(&set, r->start, &p), succ);
        assert_ptr_equal(p, pred);
        assert_int_equal(node_gap(succ), succ->start - pred->end);
    }
    /* Left: one leaf, or two whose only elements are the ends. */
    assert_true(set.count <= VMAR_ISET_FANOUT);
    finish(&set);
}

/* ---- update ------------------------------------------------------------- */

static void test_update(void **state)
{
    struct vmar__iset set;
    struct vmar__iset_node n[7];
    int i;

    (void)state;
    vmar__iset_init(&set);
    for (i = 0; i < 7; i++)
        add(&set, &n[i], (vmar_addr_t)(i + 1) * 0x10000,
            (vmar_addr_t)(i + 1) * 0x10000 + 0x1000, 0);
    assert_int_equal(vmar__iset_max_gap(&set), 0x10000); /* [0, 0x10000) */

    /* Shrink a leaf's start upward and its end downward: its own gap and
     * its successor's change. */
    reshape(&set, &n[0], 0x14000, 0x15000, 0);
    assert_int_equal(node_gap(&n[0]), 0x14000);
    assert_int_equal(node_gap(&n[1]), 0xb000);
    assert_int_equal(vmar__iset_max_gap(&set), 0x14000);
    assert_int_equal(UP(&set, 0, TOP, 0x14000, PG, 0), 0);
    assert_int_equal(UP(&set, 0, TOP, 0x15000, PG, 0), 0x71000);

    /* Grow n[3] downward so it leaves a bigger gap above it. */
    reshape(&set, &n[3], 0x40000, 0x41000, 0);
    reshape(&set, &n[3], 0x3c000, 0x40000, 0); /* shrink end, grow start */
    assert_ptr_equal(vmar__iset_find(&set, 0x3c000), &n[3]);
    assert_null(vmar__iset_find(&set, 0x40000));
    assert_int_equal(node_gap(&n[3]), 0xb000);  /* [0x31000, 0x3c000) */
    assert_int_equal(node_gap(&n[4]), 0x10000); /* [0x40000, 0x50000) */
    assert_int_equal(vmar__iset_max_gap(&set), 0x14000);
    assert_int_equal(DOWN(&set, 0, 0x80000, 0x10000, PG, 0), 0x40000);
    assert_int_equal(UP(&set, 0x16000, TOP, 0x10000, PG, 0), 0x40000);

    /* Grow the last node to the top of the address space. */
    reshape(&set, &n[6], 0x70000, TOP, 0);
    assert_int_equal(vmar__iset_last(&set)->end, TOP);
    assert_int_equal(DOWN(&set, 0, TOP, PG, PG, 0), 0x6f000);

    /* Guards changed in place. */
    reshape(&set, &n[4], n[4].start, n[4].end, 0x8000);
    assert_int_equal(DOWN(&set, 0x40000, 0x50000, 0x8000, PG, 0), 0x40000);
    assert_int_equal(DOWN(&set, 0x40000, 0x50000, 0x8000 + PG, PG, 0), none);
    reshape(&set, &n[4], n[4].start, n[4].end, 0);
    assert_int_equal(DOWN(&set, 0x41000, 0x50000, 0xf000, PG, 0), 0x41000);
    for (i = 0; i < 7; i++)
        del(&set, &n[i]);
    finish(&set);
}

/* ---- split and merge_next ---------------------------------------------- */

static void test_split_merge_next(void **state)
{
    struct vmar__iset set;
    struct vmar__iset_node n[7], t[7], x;
    int i;

    (void)state;
    vmar__iset_init(&set);
    /* The first, middle and last elements of a leaf are split. */
    for (i = 0; i < 7; i++)
        add(&set, &n[i], (vmar_addr_t)(i + 1) * 0x10000,
            (vmar_addr_t)(i + 1) * 0x10000 + 0x4000, 0);
    for (i = 0; i < 7; i++) {
        memset(&t[i], 0xa5, sizeof(t[i]));
        set_guard(&set, &t[i], i == 3 ? 0x10000 : 0); /* into n: no gap */
        spares(&set, 1);
        vmar__iset_split(&set, &n[i], n[i].start + 0x1000, &t[i]);
        check_set(&set);
        assert_int_equal(t[i].start, n[i].end);
        assert_int_equal(t[i].end, n[i].start + 0x4000);
        assert_int_equal(node_gap(&t[i]), 0);
        assert_ptr_equal(vmar__iset_next(&n[i]), &t[i]);
        assert_ptr_equal(vmar__iset_find(&set, n[i].start + 0x1000), &t[i]);
    }
    assert_int_equal(set.count, 14);
    /* A tail whose guard reaches below node's start opens no gap. */
    memset(&x, 0xa5, sizeof(x));
    set_guard(&set, &x, 0x10000);
    spares(&set, 1);
    vmar__iset_split(&set, &t[6], 0x72000, &x);
    check_set(&set);
    assert_int_equal(node_gap(&x), 0);
    assert_int_equal(set.count, 15);
    vmar__iset_merge_next(&set, &t[6], &x);
    check_set(&set);
    for (i = 0; i < 7; i++) {
        vmar__iset_merge_next(&set, &n[i], &t[i]);
        check_set(&set);
        assert_ptr_equal(vmar__iset_next(&n[i]), i < 6 ? &n[i + 1] : NULL);
        assert_int_equal(n[i].end, n[i].start + 0x4000);
    }
    assert_int_equal(set.count, 7);

    /* Merging across a hole: node takes the hole and next's range. */
    vmar__iset_merge_next(&set, &n[2], &n[3]);
    check_set(&set);
    assert_int_equal(n[2].end, 0x44000);
    assert_ptr_equal(vmar__iset_find(&set, 0x3a000), &n[2]);
    assert_int_equal(node_gap(&n[4]), 0xc000);
    assert_int_equal(UP(&set, 0x30000, TOP, 0xc000, PG, 0), 0x44000);
    finish(&set);
}

/*
 * Split one element page by page, from the top down (each tail lands
 * right after the element: the same leaf slot every time) and from the
 * bottom up (each tail lands at the end): the leaf fills and splits and
 * the tree grows levels without a descent. Then merge it back together,
 * which empties and merges the leaves again.
 */
#define SPLIT_PAGES 600

static void test_split_many(void **state)
{
    struct vmar__iset set;
    struct vmar__iset_node lo, hi, *t = calloc(SPLIT_PAGES, sizeof(*t));
    struct vmar__iset_node *a, *b;
    const vmar_addr_t base = 0x100000;
    int pass, i;

    (void)state;
    assert_non_null(t);
    for (pass = 0; pass < 2; pass++) {
        vmar__iset_init(&set);
        add(&set, &lo, PG, 2 * PG, 0); /* neighbours on both sides */
        add(&set, &hi, base + (SPLIT_PAGES + 4) * PG,
            base + (SPLIT_PAGES + 5) * PG, 0);
        add(&set, &t[0], base, base + SPLIT_PAGES * PG, PG);
        for (i = 1; i < SPLIT_PAGES; i++) {
            /* Pass 0: t[0] gives its last page to t[i]; pass 1: t[i - 1]
             * keeps its first page and gives the rest to t[i]. */
            a = pass == 0 ? &t[0] : &t[i - 1];
            memset(&t[i], 0xa5, sizeof(t[i]));
            vmar__iset_node_set_guarded(&t[i], false);
            spares(&set, 1);
            vmar__iset_split(&set, a, pass == 0 ? a->end - PG : a->start + PG,
                             &t[i]);
            check_set(&set);
            assert_ptr_equal(vmar__iset_next(a), &t[i]);
            assert_int_equal(node_gap(&t[i]), 0);
        }
        assert_int_equal(set.count, SPLIT_PAGES + 2);
        /* Two levels hold at most 16 * 16 elements. */
        assert_true(set.levels >= 3);
        for (i = 0; i < SPLIT_PAGES; i++)
            assert_ptr_equal(vmar__iset_find(&set, base + (vmar_addr_t)i * PG),
                             pass == 0 && i ? &t[SPLIT_PAGES - i] : &t[i]);
        /* Merge back: pass 0 always at t[0] (the front of the run), pass 1
         * from the top of the run down. */
        for (i = 1; i < SPLIT_PAGES; i++) {
            a = pass == 0 ? &t[0] : &t[SPLIT_PAGES - 1 - i];
            b = vmar__iset_next(a);
            vmar__iset_merge_next(&set, a, b);
            check_set(&set);
            assert_ptr_equal(vmar__iset_next(a),
                             pass == 0 && i < SPLIT_PAGES - 1
                                 ? &t[SPLIT_PAGES - 1 - i]
                                 : &hi);
        }
        assert_int_equal(set.count, 3);
        assert_int_equal(t[0].start, base);
        assert_int_equal(t[0].end, base + SPLIT_PAGES * PG);
        assert_int_equal(node_gap(&t[0]), base - PG - 2 * PG);
        /* Three elements: the levels collapsed back to one leaf. */
        assert_int_equal(set.levels, 1);
        finish(&set);
    }
    free(t);
}

/*
 * Churn does not leave the index sparse: build CHURN elements in address
 * order, then in batches of CHURN / 10 split each of a batch in three and
 * merge the batch back, in address order and in a scattered order, as
 * vmar_protect() of a middle page and back does. Before removals merged
 * nodes under LOW (8 of 16) the first round left ~3 elements a leaf, 4.1
 * times the index nodes of the freshly built set (957 against 232); now
 * both orders stay within 1.5 times (1.04 and 1.39 measured).
 */
#define CHURN 3000
static void test_churn_stays_dense(void **state)
{
    struct vmar__iset set;
    struct vmar__iset_node *t = calloc(3 * CHURN, sizeof(*t));
    size_t *order = calloc(CHURN, sizeof(*order));
    const size_t batch = CHURN / 10;
    size_t built, pass, b, i, j, tmp;
    uint64_t rng = 0x636875726eull;

    (void)state;
    assert_non_null(t);
    assert_non_null(order);
    vmar__iset_init(&set);
    for (i = 0; i < CHURN; i++) {
        t[i].start = (vmar_addr_t)(i + 1) * 4 * PG;
        t[i].end = t[i].start + 3 * PG;
        spares(&set, 1);
        vmar__iset_insert(&set, &t[i]);
        order[i] = i;
    }
    check_set(&set);
    built = vmar__iset_index_nodes(&set);
    for (pass = 0; pass < 2; pass++) {
        if (pass == 1) { /* Fisher-Yates with an xorshift */
            for (i = CHURN - 1; i > 0; i--) {
                rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
                j = (size_t)(rng % (i + 1));
                tmp = order[i], order[i] = order[j], order[j] = tmp;
            }
        }
        for (b = 0; b < CHURN; b += batch) {
            for (i = b; i < b + batch; i++) {
                struct vmar__iset_node *n = &t[order[i]];
                struct vmar__iset_node *mid = &t[CHURN + 2 * order[i]];

                spares(&set, 2);
                vmar__iset_split3(&set, n, n->start + PG, mid,
                                  n->start + 2 * PG, mid + 1);
            }
            check_set(&set);
            assert_int_equal(set.count, CHURN + 2 * batch);
            for (i = b; i < b + batch; i++) {
                struct vmar__iset_node *n = &t[order[i]];

                vmar__iset_merge_next(&set, n, vmar__iset_next(n));
                vmar__iset_merge_next(&set, n, vmar__iset_next(n));
            }
            check_set(&set);
            assert_int_equal(set.count, CHURN);
        }
        assert_true(vmar__iset_index_nodes(&set) * 2 <= built * 3);
    }
    for (i = 0; i < CHURN; i++)
        assert_ptr_equal(vmar__iset_find(&set, t[i].start + 2 * PG), &t[i]);
    finish(&set);
    free(order);
    free(t);
}

/* ---- guards ------------------------------------------------------------- */

static void test_guard_clips_gap_below(void **state)
{
    struct vmar__iset set;
    struct vmar__iset_node a, b, c;

    (void)state;
    vmar__iset_init(&set);
    add(&set, &a, 0x1000, 0x2000, 0);
    add(&set, &b, 0x10000, 0x11000, 0x4000); /* gap below: [0x2000, 0xc000) */
    add(&set, &c, 0x20000, 0x21000, 0);
    assert_int_equal(vmar__iset_max_gap(&set), 0xf000); /* [0x11000, 0x20000) */

    assert_int_equal(UP(&set, 0, TOP, 0xa000, PG, 0), 0x2000);
    assert_int_equal(DOWN(&set, 0, 0x10000, 0xa000, PG, 0), 0x2000);
    assert_int_equal(DOWN(&set, 0, 0x10000, PG, PG, 0), 0xb000);
    assert_int_equal(UP(&set, 0xc000, TOP, PG, PG, 0), 0x11000);
    /* The guard range itself is never handed out. */
    assert_int_equal(UP(&set, 0xc000, 0x10000, PG, PG, 0), none);
    /* One page more than the clipped gap goes above b. */
    assert_int_equal(UP(&set, 0, TOP, 0xb000, PG, 0), 0x11000);
    /* The guard clips only the gap below b, not the one below a. */
    assert_int_equal(DOWN(&set, 0, 0x1000, 0x1000, PG, 0), 0);

    /* c guarded too: its gap [0x11000, 0x1c000) is the largest, and the
     * root sees it. */
    reshape(&set, &c, c.start, c.end, 0x4000);
    assert_int_equal(vmar__iset_max_gap(&set), 0xb000);
    assert_int_equal(DOWN(&set, 0, 0x20000, PG, PG, 0), 0x1b000);
    /* Unguarded again: the gap grows back. */
    reshape(&set, &c, c.start, c.end, 0);
    assert_int_equal(vmar__iset_max_gap(&set), 0xf000);
    del(&set, &b);
    /* b's guard went with b: [0x2000, 0x20000) is one gap now. */
    assert_int_equal(vmar__iset_max_gap(&set), 0x1e000);
    assert_int_equal(UP(&set, 0, TOP, 0x1e000, PG, 0), 0x2000);
    finish(&set);

    /* A guard of exactly the gap closes it. */
    vmar__iset_init(&set);
    add(&set, &a, 0x1000, 0x2000, 0);
    add(&set, &b, 0x10000, 0x11000, 0xe000);
    assert_int_equal(node_gap(&b), 0);
    assert_int_equal(UP(&set, 0x2000, 0x10000, PG, 1, 0), none);
    assert_int_equal(vmar__iset_max_gap(&set), 0x1000); /* below a */
    finish(&set);
}

static void test_guard_beyond_prev(void **state)
{
    struct vmar__iset set;
    struct vmar__iset_node a, b;

    (void)state;
    vmar__iset_init(&set);
    add(&set, &a, 0x100000, 0x101000, 0);
    /* eff(b) = 0x80000 lies below a.end (even below a.start). */
    add(&set, &b, 0x200000, 0x201000, 0x180000);
    assert_int_equal(node_gap(&a), 0x100000);
    assert_int_equal(node_gap(&b), 0);
    /* Nothing fits between a and b at all. */
    assert_int_equal(UP(&set, 0x101000, 0x200000, PG, PG, 0), none);
    assert_int_equal(DOWN(&set, 0x101000, 0x200000, PG, PG, 0), none);
    /* The gap below a is untouched by b's guard. */
    assert_int_equal(DOWN(&set, 0, 0x200000, 0x100000, PG, 0), 0);
    assert_int_equal(DOWN(&set, 0, 0x200000, PG, PG, 0), 0xff000);
    assert_int_equal(UP(&set, 0x1000, TOP, PG, PG, 0), 0x1000);
    /* Above b is free. */
    assert_int_equal(UP(&set, 0x100000, TOP, PG, PG, 0), 0x201000);
    /* Guard reaching exactly a.end: still empty. */
    reshape(&set, &b, b.start, b.end, 0x200000 - 0x101000);
    assert_int_equal(UP(&set, 0x101000, 0x200000, 1, 1, 0), none);
    /* One page short of a.end: one page opens. */
    reshape(&set, &b, b.start, b.end, 0x200000 - 0x102000);
    assert_int_equal(node_gap(&b), PG);
    assert_int_equal(UP(&set, 0x100000, TOP, PG, PG, 0), 0x101000);
    assert_int_equal(UP(&set, 0x100000, TOP, 2 * PG, PG, 0), 0x201000);
    finish(&set);
}

/* A guard reaching below several earlier nodes still clips only the gap
 * directly below its own node; the gaps it spans stay usable. */
static void test_guard_spans_nodes(void **state)
{
    struct vmar__iset set;
    struct vmar__iset_node n[5];
    int i;

    (void)state;
    vmar__iset_init(&set);
    for (i = 4; i >= 0; i--) /* descending */
        add(&set, &n[i], (vmar_addr_t)(i + 1) * 0x10000,
            (vmar_addr_t)(i + 1) * 0x10000 + 0x1000, 0);
    reshape(&set, &n[3], n[3].start, n[3].end, n[3].start);
    assert_int_equal(node_gap(&n[3]), 0);
    assert_int_equal(node_gap(&n[4]), 0xf000);
    assert_int_equal(vmar__iset_max_gap(&set), 0x10000); /* [0, 0x10000) */
    assert_int_equal(UP(&set, 0x11000, TOP, 0xf000, PG, 0), 0x11000);
    assert_int_equal(DOWN(&set, 0, 0x50000, 0xf000, PG, 0), 0x41000);
    assert_int_equal(DOWN(&set, 0, 0x41000, 0xf000, PG, 0), 0x21000);
    assert_int_equal(DOWN(&set, 0x10000, 0x41000, 0xf000 + PG, PG, 0), none);
    assert_int_equal(UP(&set, 0x31000, 0x41000, PG, PG, 0), none);
    assert_int_equal(UP(&set, 0x31000, TOP, PG, PG, 0), 0x41000);
    for (i = 0; i < 5; i++)
        del(&set, &n[i]);
    finish(&set);
}

static void test_guard_clamps_at_zero(void **state)
{
    static const vmar_size_t beyond[] = {0x10000, 0x3000}; /* > and == */
    struct vmar__iset set;
    struct vmar__iset_node a, b;

    (void)state;
    /* A guard reaching to or below 0: eff = 0, no gap below a. */
    for (size_t i = 0; i < 2; i++) {
        vmar__iset_init(&set);
        add(&set, &a, 0x3000, 0x4000, beyond[i]);
        assert_int_equal(node_gap(&a), 0);
        assert_int_equal(UP(&set, 0, TOP, PG, PG, 0), 0x4000);
        assert_int_equal(DOWN(&set, 0, 0x3000, 1, 1, 0), none);
        finish(&set);
    }
    /* The largest guard. */
    vmar__iset_init(&set);
    add(&set, &a, 0x3000, 0x4000, TOP);
    assert_int_equal(node_gap(&a), 0);
    add(&set, &b, 0x8000, 0x9000, TOP);
    assert_int_equal(node_gap(&b), 0);
    assert_int_equal(vmar__iset_max_gap(&set), 0);
    assert_int_equal(UP(&set, 0, TOP, PG, PG, 0), 0x9000);
    assert_int_equal(DOWN(&set, 0, TOP, 0x2000, PG, 0), TOP - 0x3000 + 1);
    finish(&set);
    /* A small guard keeps the rest of each gap. */
    vmar__iset_init(&set);
    add(&set, &a, 0x3000, 0x4000, 0x1000);
    add(&set, &b, 0x8000, 0x9000, 0x1000);
    assert_int_equal(node_gap(&a), 0x2000);
    assert_int_equal(node_gap(&b), 0x3000);
    assert_int_equal(DOWN(&set, 0, 0x9000, 0x2000, PG, 0), 0x5000);
    assert_int_equal(DOWN(&set, 0, 0x4000, 0x2000, PG, 0), 0);
    assert_int_equal(DOWN(&set, 0, 0x4000, 0x2001, 1, 0), none);
    finish(&set);
}

/* ---- find_free ---------------------------------------------------------- */

/* Three mappings at 1 GiB, 3 GiB and 8 GiB, one page each. */
static void three_nodes(struct vmar__iset *set, struct vmar__iset_node n[3])
{
    vmar__iset_init(set);
    add(set, &n[0], 1 * GIB, 1 * GIB + PG, 0);
    add(set, &n[1], 3 * GIB, 3 * GIB + PG, 0);
    add(set, &n[2], 8 * GIB, 8 * GIB + PG, 0);
}

static void test_find_free_directions(void **state)
{
    struct vmar__iset set;
    struct vmar__iset_node n[3];

    (void)state;
    three_nodes(&set, n);
    /* Lowest fit is at 0, highest just below 2^64 - 1. */
    assert_int_equal(UP(&set, 0, TOP, PG, PG, 0), 0);
    assert_int_equal(DOWN(&set, 0, TOP, PG, PG, 0), TOP - 2 * PG + 1);
    /* Size 1 GiB + page: only between 1 and 3 GiB, 3 and 8, or above 8. */
    assert_int_equal(UP(&set, 0, TOP, GIB + PG, PG, 0), 1 * GIB + PG);
    assert_int_equal(DOWN(&set, 0, 8 * GIB, GIB + PG, PG, 0), 7 * GIB - PG);
    /* Size 3 GiB: between 3 and 8 GiB only (below the top). */
    assert_int_equal(UP(&set, 0, 8 * GIB, 3 * GIB, PG, 0), 3 * GIB + PG);
    assert_int_equal(DOWN(&set, 0, 8 * GIB, 3 * GIB, PG, 0), 5 * GIB);
    /* Exactly the 3..8 gap, and one page more. */
    assert_int_equal(UP(&set, 0, 8 * GIB, 5 * GIB - PG, PG, 0), 3 * GIB + PG);
    assert_int_equal(DOWN(&set, 0, 8 * GIB, 5 * GIB - PG, PG, 0), 3 * GIB + PG);
    assert_int_equal(UP(&set, 0, 8 * GIB, 5 * GIB, PG, 0), none);
    assert_int_equal(UP(&set, 0, TOP, 5 * GIB, PG, 0), 8 * GIB + PG);
    finish(&set);
}

static void test_find_free_alignment(void **state)
{
    struct vmar__iset set;
    struct vmar__iset_node n[3];

    (void)state;
    three_nodes(&set, n);
    /* 2 MiB: the first aligned slot above 1 GiB + page. */
    assert_int_equal(UP(&set, GIB, TOP, 2 * MIB, 2 * MIB, 0), GIB + 2 * MIB);
    assert_int_equal(DOWN(&set, 0, 3 * GIB, 2 * MIB, 2 * MIB, 0),
                     3 * GIB - 2 * MIB);
    assert_int_equal(DOWN(&set, 0, 8 * GIB + 3 * MIB, 2 * MIB, 2 * MIB, 0),
                     8 * GIB - 2 * MIB);
    /* 1 GiB: the gaps are large, but aligned slots are at 2, 4..7, 9.. */
    assert_int_equal(UP(&set, GIB, TOP, GIB, GIB, 0), 2 * GIB);
    assert_int_equal(UP(&set, GIB, TOP, 2 * GIB, GIB, 0), 4 * GIB);
    assert_int_equal(DOWN(&set, 0, 8 * GIB, 2 * GIB, GIB, 0), 6 * GIB);
    assert_int_equal(DOWN(&set, 0, 8 * GIB, 4 * GIB, GIB, 0), 4 * GIB);
    assert_int_equal(DOWN(&set, 0, 8 * GIB, 5 * GIB, GIB, 0), none);
    assert_int_equal(UP(&set, 0, TOP, 4 * GIB, GIB, 0), 4 * GIB);
    assert_int_equal(UP(&set, 0, TOP, 5 * GIB, GIB, 0), 9 * GIB);
    /* 1 GiB with a page of pre: x - pre must clear the mapping below. */
    assert_int_equal(UP(&set, GIB, TOP, GIB, GIB, PG), 2 * GIB);
    assert_int_equal(UP(&set, 3 * GIB, TOP, GIB, GIB, 2 * PG), 4 * GIB);
    assert_int_equal(UP(&set, 0, TOP, GIB, GIB, GIB), 5 * GIB);
    assert_int_equal(UP(&set, 0, TOP, GIB, GIB, 3 * GIB), 7 * GIB);
    assert_int_equal(UP(&set, 0, TOP, GIB, GIB, 4 * GIB), 13 * GIB);
    /* Top of space: the highest 1 GiB-aligned x with x + 1 GiB <= 2^64-1. */
    assert_int_equal(DOWN(&set, 0, TOP, GIB, GIB, 0), TOP - 2 * GIB + 1);
    assert_int_equal(DOWN(&set, 0, TOP, GIB - 1, GIB, 0), TOP - GIB + 1);
    /* Huge alignments: 2^63, and the largest, where only 0 and 2^63 are
     * multiples. */
    assert_int_equal(DOWN(&set, 0, TOP, GIB, (vmar_size_t)1 << 63, 0),
                     (vmar_addr_t)1 << 63);
    assert_int_equal(UP(&set, 1, TOP, GIB, (vmar_size_t)1 << 63, 0),
                     (vmar_addr_t)1 << 63);
    assert_int_equal(
        UP(&set, ((vmar_addr_t)1 << 63) + 1, TOP, 1, (vmar_size_t)1 << 63, 0),
        none);
    finish(&set);
}

static void test_find_free_pre(void **state)
{
    struct vmar__iset set;
    struct vmar__iset_node n[3];

    (void)state;
    three_nodes(&set, n);
    /* pre must be free and inside the window too. */
    assert_int_equal(UP(&set, 0, TOP, PG, PG, 0x10000), 0x10000);
    assert_int_equal(UP(&set, GIB, TOP, PG, PG, 0x10000), GIB + PG + 0x10000);
    assert_int_equal(DOWN(&set, 0, GIB, PG, PG, 0x10000), GIB - PG);
    /* Exactly fills [0, 1 GiB): pre + size == gap. */
    assert_int_equal(DOWN(&set, 0, 2 * GIB, GIB - PG, PG, PG), PG);
    assert_int_equal(UP(&set, 0, 3 * GIB, GIB, PG, PG), GIB + 2 * PG);
    /* pre larger than any gap: nothing. */
    assert_int_equal(UP(&set, 0, 8 * GIB, PG, PG, 6 * GIB), none);
    assert_int_equal(UP(&set, 0, TOP, PG, PG, 6 * GIB), 8 * GIB + PG + 6 * GIB);
    /* x - pre may not wrap below 0, and lo counts for x - pre. */
    assert_int_equal(UP(&set, 0, GIB, 1, 1, 5), 5);
    assert_int_equal(UP(&set, 3, GIB, 1, 1, 5), 8);
    assert_int_equal(DOWN(&set, 0, 6, 1, 1, 5), 5);
    assert_int_equal(DOWN(&set, 0, 5, 1, 1, 5), none);
    /* size + pre overflowing the space finds nothing. */
    assert_int_equal(UP(&set, 0, TOP, TOP, 1, TOP), none);
    assert_int_equal(UP(&set, 0, TOP, PG, PG, TOP - PG + 1), none);
    finish(&set);
}

static void test_find_free_window_edges(void **state)
{
    struct vmar__iset set;
    struct vmar__iset_node n[3];
    const vmar_addr_t g0 = GIB + PG, g1 = 3 * GIB; /* a gap */

    (void)state;
    three_nodes(&set, n);
    /* Window exactly the gap; exactly full. */
    assert_int_equal(UP(&set, g0, g1, g1 - g0, PG, 0), g0);
    assert_int_equal(DOWN(&set, g0, g1, g1 - g0, PG, 0), g0);
    assert_int_equal(UP(&set, g0, g1, g1 - g0 + PG, PG, 0), none);
    assert_int_equal(UP(&set, g0 + PG, g1, g1 - g0, PG, 0), none);
    assert_int_equal(UP(&set, g0, g1 - PG, g1 - g0, PG, 0), none);
    /* Window edges one page inside the gap edges. */
    assert_int_equal(UP(&set, g0 + PG, g1 - PG, PG, PG, 0), g0 + PG);
    assert_int_equal(DOWN(&set, g0 + PG, g1 - PG, PG, PG, 0), g1 - 2 * PG);
    /* Window strictly inside one gap, unaligned edges. */
    assert_int_equal(UP(&set, g0 + 5, g0 + 3 * PG - 5, PG, PG, 0), g0 + PG);
    assert_int_equal(DOWN(&set, g0 + 5, g0 + 3 * PG - 5, PG, PG, 0), g0 + PG);
    assert_int_equal(UP(&set, g0 + 5, g0 + 2 * PG - 1, PG, PG, 0), none);
    /* Window covering only a mapping, or no room, or empty / inverted. */
    assert_int_equal(UP(&set, GIB, GIB + PG, 1, 1, 0), none);
    assert_int_equal(UP(&set, GIB - PG, GIB + PG, 2 * PG, PG, 0), none);
    assert_int_equal(UP(&set, GIB - PG, GIB + PG, PG, PG, 0), GIB - PG);
    assert_int_equal(DOWN(&set, GIB - PG, GIB + 2 * PG, PG, PG, 0), GIB + PG);
    assert_int_equal(UP(&set, g0, g0, 1, 1, 0), none);
    assert_int_equal(UP(&set, g1, g0, 1, 1, 0), none);
    assert_int_equal(DOWN(&set, TOP, TOP, 1, 1, 0), none);
    /* Window that straddles a mapping picks the side by direction. */
    assert_int_equal(UP(&set, GIB - PG, GIB + 2 * PG, PG, PG, 0), GIB - PG);
    /* Window at the very top: [2^64 - page, 2^64 - 1). */
    assert_int_equal(UP(&set, ENDPG, TOP, PG - 1, 1, 0), ENDPG);
    assert_int_equal(UP(&set, ENDPG, TOP, PG, 1, 0), none);
    assert_int_equal(DOWN(&set, ENDPG, TOP, 1, 1, 0), TOP - 1);
    assert_int_equal(UP(&set, ENDPG + 1, TOP, 1, PG, 0), none);
    assert_int_equal(UP(&set, TOP - 1, TOP, 1, 1, 0), TOP - 1);
    finish(&set);
}

static void test_find_free_near_top(void **state)
{
    struct vmar__iset set;
    struct vmar__iset_node a, b;

    (void)state;
    vmar__iset_init(&set);
    /* The last mapping ends one page below 2^64: [2^64 - page, 2^64) is the
     * end gap, of which only [.., 2^64 - 1) is reachable. */
    add(&set, &a, ENDPG - 4 * PG, ENDPG, 0);
    assert_int_equal(DOWN(&set, 0, TOP, PG, PG, 0), ENDPG - 5 * PG);
    assert_int_equal(DOWN(&set, 0, TOP, PG - 1, 1, 0), ENDPG);
    assert_int_equal(DOWN(&set, 0, TOP, PG - 1, PG, 0), ENDPG);
    assert_int_equal(UP(&set, ENDPG - 4 * PG, TOP, 1, 1, 0), ENDPG);
    assert_int_equal(UP(&set, ENDPG - 4 * PG, TOP, 1, GIB, 0), none);
    /* 2^64 - 1 GiB is the last 1 GiB multiple; above it rounding wraps. */
    assert_int_equal(UP(&set, TOP - GIB, TOP, 1, GIB, 0), TOP - GIB + 1);
    assert_int_equal(UP(&set, TOP - GIB + 2, TOP, 1, GIB, 0), none);
    /* A mapping ending at 2^64 - 1 leaves a 1-byte end gap that no x can
     * use, since x + size <= hi <= 2^64 - 1. */
    add(&set, &b, ENDPG, TOP, 0);
    assert_int_equal(UP(&set, ENDPG - 4 * PG, TOP, 1, 1, 0), none);
    assert_int_equal(DOWN(&set, 0, TOP, 1, 1, 0), ENDPG - 4 * PG - 1);
    assert_int_equal(vmar__iset_last(&set)->end, TOP);
    assert_int_equal(node_gap(&b), 0);
    assert_int_equal(vmar__iset_max_gap(&set), ENDPG - 4 * PG); /* [0, a) */
    finish(&set);
}

#define FILL_N 64

static void test_find_free_exhaustion(void **state)
{
    struct vmar__iset set;
    struct vmar__iset_node n[FILL_N], all;
    int i;

    (void)state;
    vmar__iset_init(&set);
    /* Fill [1 MiB, 1 MiB + 64 pages) page by page: the window is full. */
    for (i = 0; i < FILL_N; i++) {
        vmar_addr_t s = MIB + (vmar_addr_t)i * PG;

        assert_int_equal(UP(&set, MIB, MIB + FILL_N * PG, PG, PG, 0), s);
        add(&set, &n[i], s, s + PG, 0);
    }
    assert_int_equal(vmar__iset_max_gap(&set), MIB); /* only [0, 1 MiB) */
    assert_int_equal(UP(&set, MIB, MIB + FILL_N * PG, PG, PG, 0), none);
    assert_int_equal(DOWN(&set, MIB, MIB + FILL_N * PG, 1, 1, 0), none);
    assert_int_equal(UP(&set, MIB, MIB + FILL_N * PG + PG, PG, PG, 0),
                     MIB + FILL_N * PG);
    /* Free two non-adjacent pages: a 2-page request still fails. */
    del(&set, &n[10]);
    del(&set, &n[20]);
    assert_int_equal(UP(&set, MIB, MIB + FILL_N * PG, 2 * PG, PG, 0), none);
    assert_int_equal(DOWN(&set, MIB, MIB + FILL_N * PG, PG, PG, 0),
                     MIB + 20 * PG);
    for (i = 0; i < FILL_N; i++)
        if (i != 10 && i != 20)
            del(&set, &n[i]);

    /* One mapping over the whole space but the last byte: no room. */
    add(&set, &all, 0, TOP, 0);
    assert_int_equal(UP(&set, 0, TOP, 1, 1, 0), none);
    assert_int_equal(DOWN(&set, 0, TOP, 1, 1, 0), none);
    del(&set, &all);
    assert_int_equal(UP(&set, 0, TOP, 1, 1, 0), 0);
    finish(&set);
}

static void test_find_free_malformed(void **state)
{
    struct vmar__iset set;

    (void)state;
    vmar__iset_init(&set);
    /* The header requires size > 0 and a power-of-two alignment; the set
     * answers "no fit" instead of misbehaving. */
    assert_int_equal(UP(&set, 0, TOP, 0, PG, 0), none);
    assert_int_equal(UP(&set, 0, TOP, PG, 0, 0), none);
    assert_int_equal(UP(&set, 0, TOP, PG, 3 * PG, 0), none);
    finish(&set);
}

/* ---- deterministic orders at 1000 --------------------------------------- */

#define DET_N 1000

static void assert_live_order(const struct vmar__iset *set,
                              const struct vmar__iset_node *n, const bool *live,
                              size_t count)
{
    static vmar_addr_t starts[DET_N];
    size_t i, k = 0;

    for (i = 0; i < count; i++)
        if (live[i])
            starts[k++] = n[i].start;
    assert_order(set, starts, k);
}

/*
 * 1000 elements inserted in ascending, then (second pass) descending
 * order; then every other one removed, then the rest, in the same
 * direction. After every step: the checks, and the walks first..next and
 * last..prev. Two levels hold at most 256 elements, so 1000 need three;
 * with nodes at least a quarter full after splits, at most four.
 */
static void test_ordered_1000(void **state)
{
    struct vmar__iset set;
    struct vmar__iset_node *n = calloc(DET_N, sizeof(*n));
    bool *live = calloc(DET_N, sizeof(*live));
    unsigned max_levels = 0;
    int pass, j, i;

    (void)state;
    assert_true(n && live);
    for (pass = 0; pass < 2; pass++) {
        vmar__iset_init(&set);
        for (j = 0; j < DET_N; j++) {
            i = pass == 0 ? j : DET_N - 1 - j;
            add(&set, &n[i], (vmar_addr_t)(i + 1) * 2 * PG,
                (vmar_addr_t)(i + 1) * 2 * PG + PG, 0);
            live[i] = true;
            assert_live_order(&set, n, live, DET_N);
            assert_ptr_equal(pass == 0 ? vmar__iset_last(&set)
                                       : vmar__iset_first(&set),
                             &n[i]);
            if (set.levels > max_levels)
                max_levels = set.levels;
        }
        assert_true(set.levels >= 3 && set.levels <= 4);
        assert_int_equal(vmar__iset_max_gap(&set), 2 * PG);
        /* Every other one: each leaf loses half its elements. */
        for (j = 0; j < DET_N; j++) {
            i = pass == 0 ? j : DET_N - 1 - j;
            if (i % 2 == 0)
                continue;
            del(&set, &n[i]);
            live[i] = false;
            assert_live_order(&set, n, live, DET_N);
            /* The successor's gap now spans the removed element. */
            if (i + 1 < DET_N)
                assert_int_equal(node_gap(&n[i + 1]), 3 * PG);
        }
        assert_int_equal(set.count, DET_N / 2);
        assert_int_equal(vmar__iset_max_gap(&set), 3 * PG);
        assert_true(set.levels <= 4);
        /* The rest: leaves empty one after the other, levels collapse. */
        for (j = 0; j < DET_N; j++) {
            i = pass == 0 ? j : DET_N - 1 - j;
            if (!live[i])
                continue;
            del(&set, &n[i]);
            live[i] = false;
            assert_live_order(&set, n, live, DET_N);
        }
        assert_null(set.root);
        assert_int_equal(set.levels, 0);
        finish(&set);
    }
    assert_true(max_levels <= 4);
    free(live);
    free(n);
}

/* ---- insert_after ------------------------------------------------------- */

/*
 * insert_after with the predecessor from lower_bound_pred, at the front
 * (pred NULL), at the back, and over and over at the same place (every
 * leaf split there, and up), agrees with insert.
 */
#define IA_N 700

static void test_insert_after(void **state)
{
    struct vmar__iset set;
    struct vmar__iset_node *n = calloc(IA_N, sizeof(*n)), *lb, *pred;
    bool *live = calloc(IA_N, sizeof(*live));
    int i, j, k;

    (void)state;
    assert_true(n && live);
    vmar__iset_init(&set);
    /* Order: the middle, then outwards alternately, then the rest from
     * the front: every kind of position. */
    for (j = 0; j < IA_N; j++) {
        if (j < IA_N / 2)
            i = IA_N / 2 + (j % 2 ? (j + 1) / 2 : -(j / 2));
        else
            for (i = 0; live[i]; i++)
                ;
        memset(&n[i], 0xa5, sizeof(n[i]));
        n[i].start = (vmar_addr_t)(i + 1) * 4 * PG;
        n[i].end = n[i].start + 2 * PG;
        set_guard(&set, &n[i], i % 5 ? 0 : PG);
        lb = vmar__iset_lower_bound_pred(&set, n[i].start, &pred);
        /* The model: the nearest live neighbours. */
        for (k = i - 1; k >= 0 && !live[k]; k--)
            ;
        assert_ptr_equal(pred, k >= 0 ? &n[k] : NULL);
        for (k = i + 1; k < IA_N && !live[k]; k++)
            ;
        assert_ptr_equal(lb, k < IA_N ? &n[k] : NULL);
        spares(&set, 1);
        vmar__iset_insert_after(&set, pred, &n[i]);
        live[i] = true;
        check_set(&set);
        assert_ptr_equal(vmar__iset_prev(&n[i]), pred);
        assert_ptr_equal(vmar__iset_next(&n[i]), lb);
        assert_ptr_equal(vmar__iset_find(&set, n[i].start + PG), &n[i]);
        if (pred)
            assert_ptr_equal(vmar__iset_next(pred), &n[i]);
        else
            assert_ptr_equal(vmar__iset_first(&set), &n[i]);
    }
    assert_live_order(&set, n, live, IA_N);
    assert_true(set.levels >= 3);
    finish(&set);
    free(live);
    free(n);
}

/* ---- spares ------------------------------------------------------------- */

/*
 * vmar__iset_spares_needed(set, k) is honoured: after topping up for k,
 * any k inserts (insert, insert_after, split), interleaved with removals,
 * find their index nodes (running out traps). The inserts are aimed: many
 * at one place, so that one leaf and its ancestors split again and again,
 * or scattered; on sets built ascending, descending and scattered, from
 * empty to a few thousand elements.
 */
#define SP_SLOTS  3000
#define SP_ROUNDS 48

struct sp {
    uint64_t rng;
    struct vmar__iset set;
    struct vmar__iset_node node[SP_SLOTS], tail[SP_SLOTS];
    bool live[SP_SLOTS], tlive[SP_SLOTS];
};

static uint64_t rnd(uint64_t *rng);
static uint64_t rnd_below(uint64_t *rng, uint64_t n);

/* The element that ends last below slot i, or NULL. */
static struct vmar__iset_node *sp_pred(struct sp *t, int i)
{
    for (i--; i >= 0; i--)
        if (t->live[i])
            return t->tlive[i] ? &t->tail[i] : &t->node[i];
    return NULL;
}

static void sp_insert(struct sp *t, int i)
{
    struct vmar__iset_node *n = &t->node[i];

    memset(n, 0xa5, sizeof(*n));
    n->start = (vmar_addr_t)(i + 1) * 4 * PG;
    n->end = n->start + 2 * PG;
    set_guard(&t->set, n, rnd_below(&t->rng, 4) ? 0 : PG);
    if (rnd_below(&t->rng, 2))
        vmar__iset_insert_after(&t->set, sp_pred(t, i), n);
    else
        vmar__iset_insert(&t->set, n);
    t->live[i] = true;
}

static void sp_remove(struct sp *t, int i)
{
    if (t->tlive[i])
        vmar__iset_remove(&t->set, &t->tail[i]);
    vmar__iset_remove(&t->set, &t->node[i]);
    t->live[i] = t->tlive[i] = false;
}

/* A free slot: the first at or after `at` (wrapping), or -1. */
static int sp_free_slot(const struct sp *t, int at)
{
    int k;

    for (k = 0; k < SP_SLOTS; k++)
        if (!t->live[(at + k) % SP_SLOTS])
            return (at + k) % SP_SLOTS;
    return -1;
}

static void test_spares_honoured(void **state)
{
    struct sp *t = calloc(1, sizeof(*t));
    size_t round, j, k, built, most = 0;
    int i, at, k2;

    (void)state;
    assert_non_null(t);
    t->rng = 0x7370617265730000u; /* fixed: the aimed cases are the point */
    for (round = 0; round < SP_ROUNDS; round++) {
        memset(t->live, 0, sizeof(t->live));
        memset(t->tlive, 0, sizeof(t->tlive));
        vmar__iset_init(&t->set);
        built = round % 8 == 0 ? 0 : rnd_below(&t->rng, SP_SLOTS / 2);
        for (j = 0; j < built; j++) {
            i = round % 3 == 0 ? (int)j * 2
                : round % 3 == 1
                    ? SP_SLOTS - 1 - (int)j * 2
                    : sp_free_slot(t, (int)rnd_below(&t->rng, SP_SLOTS));
            spares(&t->set, 1);
            sp_insert(t, i);
        }
        check_set(&t->set);

        /* Top up for k inserts, then no more. */
        k = 1 + rnd_below(&t->rng, round % 4 == 0 ? 400 : 40);
        spares(&t->set, k);
        at = (int)rnd_below(&t->rng, SP_SLOTS);
        for (j = 0; j < k;) {
            size_t nspare = t->set.nspare;
            unsigned op = (unsigned)rnd_below(&t->rng, 8);

            if (op == 0 && t->set.count) { /* a removal: not counted */
                i = (int)rnd_below(&t->rng, SP_SLOTS);
                while (!t->live[i])
                    i = (i + 1) % SP_SLOTS;
                sp_remove(t, i);
                check_set(&t->set);
                assert_true(t->set.nspare >= nspare);
                continue;
            }
            if (op == 1) { /* split an element without a tail */
                i = (int)rnd_below(&t->rng, SP_SLOTS);
                for (k2 = 0; k2 < SP_SLOTS && !(t->live[i] && !t->tlive[i]);
                     k2++)
                    i = (i + 1) % SP_SLOTS;
                if (t->live[i] && !t->tlive[i]) {
                    memset(&t->tail[i], 0xa5, sizeof(t->tail[i]));
                    vmar__iset_node_set_guarded(&t->tail[i], false);
                    vmar__iset_split(&t->set, &t->node[i],
                                     t->node[i].start + PG, &t->tail[i]);
                    t->tlive[i] = true;
                    j++;
                    check_set(&t->set);
                    assert_true(t->set.nspare <= nspare);
                    continue;
                }
            }
            /* Mostly aimed at one place; else anywhere. */
            i = sp_free_slot(t,
                             op < 6 ? at : (int)rnd_below(&t->rng, SP_SLOTS));
            assert_true(i >= 0);
            sp_insert(t, i);
            j++;
            check_set(&t->set);
            assert_true(t->set.nspare <= nspare);
            if (nspare - t->set.nspare > most)
                most = nspare - t->set.nspare;
        }
        /* Empty it in a scattered order. */
        for (j = 0; j < SP_SLOTS; j++) {
            i = (int)((j * 1237) % SP_SLOTS); /* 1237 is prime */
            if (t->live[i])
                sp_remove(t, i);
        }
        check_set(&t->set);
        finish(&t->set);
    }
    /* Some insert split more than a leaf. */
    assert_true(most >= 2);
    free(t);
}

/* ---- the checker catches corruption ------------------------------------- */

#define CHK_N 40

static void expect_corrupt(const struct vmar__iset *set, const char *what)
{
    if (!vmar__iset_check(set))
        fail_msg("vmar__iset_check missed: %s", what);
}

static void test_check_detects_corruption(void **state)
{
    struct vmar__iset set;
    struct vmar__iset_node n[CHK_N], saved, *e;
    struct vmar__iset_index *root, *leaf, *leaf2, copy;
    int i;

    (void)state;
    vmar__iset_init(&set);
    for (i = 0; i < CHK_N; i++)
        add(&set, &n[i], (vmar_addr_t)(i + 1) * 0x10000,
            (vmar_addr_t)(i + 1) * 0x10000 + 0x1000, 0);
    spares(&set, 4); /* a spare list to count */
    assert_true(set.levels >= 2);
    root = set.root;
    assert_true(root->count >= 2);
    leaf = vmar__iset_node_leaf(&n[CHK_N / 2]);
    leaf2 = leaf->next;
    assert_non_null(leaf2);
    assert_true(leaf->count >= 2);

    /* Cached leaf fields. */
    leaf->gap[1]++;
    expect_corrupt(&set, "leaf gap");
    leaf->gap[1]--;
    leaf->key[1]++;
    expect_corrupt(&set, "leaf key");
    leaf->key[1]--;
    /* Cached inner fields. */
    root->key[1]++;
    expect_corrupt(&set, "inner key");
    root->key[1]--;
    root->gap[0]++;
    expect_corrupt(&set, "inner gap");
    root->gap[0]--;
    check_set(&set);

    /* Links. */
    e = leaf->ptr[0];
    e->leaf_bits = (uintptr_t)leaf2;
    expect_corrupt(&set, "element's leaf pointer");
    e->leaf_bits = 0;
    expect_corrupt(&set, "element's leaf pointer NULL");
    e->leaf_bits = (uintptr_t)leaf;
    copy = *leaf;
    leaf->parent = leaf2;
    expect_corrupt(&set, "parent pointer");
    *leaf = copy;
    leaf->next = NULL;
    expect_corrupt(&set, "next link");
    *leaf = copy;
    leaf->next = leaf;
    expect_corrupt(&set, "next link to itself");
    *leaf = copy;
    leaf->prev = leaf2;
    expect_corrupt(&set, "prev link");
    *leaf = copy;
    leaf->level = 1;
    expect_corrupt(&set, "level");
    *leaf = copy;
    check_set(&set);

    /* Fill and order. */
    leaf->count--;
    expect_corrupt(&set, "leaf count - 1 (an element lost)");
    leaf->count = 0;
    expect_corrupt(&set, "leaf count 0");
    *leaf = copy;
    leaf->ptr[0] = copy.ptr[1];
    leaf->ptr[1] = copy.ptr[0];
    leaf->key[0] = copy.key[1];
    leaf->key[1] = copy.key[0];
    expect_corrupt(&set, "two elements swapped");
    *leaf = copy;
    check_set(&set);

    /* The set's own fields. */
    set.count++;
    expect_corrupt(&set, "count");
    set.count--;
    set.levels++;
    expect_corrupt(&set, "levels + 1");
    set.levels -= 2;
    expect_corrupt(&set, "levels - 1");
    set.levels++;
    set.nspare++;
    expect_corrupt(&set, "nspare");
    set.nspare--;
    check_set(&set);

    /* Changing an element without vmar__iset_update() is caught. */
    e = &n[CHK_N / 2];
    saved = *e;
    set.guard = 0x1000; /* no element is guarded yet: nothing changes */
    check_set(&set);
    vmar__iset_node_set_guarded(e, true);
    expect_corrupt(&set, "guard changed");
    *e = saved;
    set.guard = 0;
    e->end = n[CHK_N / 2 + 1].start + 1; /* overlap */
    expect_corrupt(&set, "overlap");
    *e = saved;
    e->end = e->start; /* empty */
    expect_corrupt(&set, "empty element");
    *e = saved;
    check_set(&set);

    /* A cycle (one child in two slots) must not hang the checker. */
    copy = *root;
    root->ptr[1] = root->ptr[0];
    expect_corrupt(&set, "child in two slots");
    *root = copy;
    root->parent = root;
    expect_corrupt(&set, "root's parent");
    *root = copy;
    check_set(&set);
    finish(&set);
}

/* ---- randomized differential test --------------------------------------- */

/*
 * The model: the space is split into slots (two clusters, one from 0 up
 * and one ending just below 2^64), each holding at most one interval, so
 * intervals stay disjoint and the occupied slots in slot order are the
 * set in address order, independently of the tree.
 */
#define R_SLOTS    125000u
#define R_MIN_LIVE 100000u
#define R_QUERIES  2000u
#define R_ROUNDS   4u

struct rslot {
    vmar_addr_t lo, hi; /* the slot's range */
    bool live;
    struct vmar__iset_node node;
};

/* A gap of the model, with its end as 2^64 for the last one. */
__extension__ typedef unsigned __int128 u128;

struct rgap {
    vmar_addr_t a;
    u128 b;
};

struct rstate {
    uint64_t seed;
    uint64_t rng;
    struct vmar__iset set;
    struct rslot *slot;
    uint32_t *perm;
    struct rgap *gap;
    size_t ngap;
    size_t live;
    size_t ops;
    size_t hinted;  /* inserts through vmar__iset_insert_hinted() */
    size_t split3;  /* vmar__iset_split3() calls */
    bool check_all; /* check after every op, not only the first ones */
    unsigned max_levels;
};

static uint64_t rnd(uint64_t *rng) /* splitmix64 */
{
    uint64_t z = (*rng += 0x9e3779b97f4a7c15u);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static uint64_t rnd_below(uint64_t *rng, uint64_t n)
{
    return rnd(rng) % n;
}

/* Log-uniform in [1, 2^bits]. */
static uint64_t rnd_log(uint64_t *rng, unsigned bits)
{
    unsigned e = (unsigned)rnd_below(rng, bits + 1);
    uint64_t base = (uint64_t)1 << e;

    return base + rnd_below(rng, base);
}

static void slot_place(struct rstate *r, struct rslot *s)
{
    uint64_t pages = (s->hi - s->lo) / PG;
    uint64_t a = rnd_below(&r->rng, pages);
    uint64_t len = 1 + rnd_below(&r->rng, pages - a);
    unsigned pick = (unsigned)rnd_below(&r->rng, 8);

    if (pick == 0) { /* sometimes the whole slot: neighbours touch */
        a = 0;
        len = pages;
    } else if (pick < 4 && len > 16) { /* mostly short mappings */
        len = 1 + rnd_below(&r->rng, 16);
    }
    s->node.start = s->lo + a * PG;
    s->node.end = s->node.start + len * PG;
    /* The set's guard is drawn once (rstate_guard). */
    vmar__iset_node_set_guarded(&s->node, rnd_below(&r->rng, 6) == 0);
}

/* The set's guard for a run: up to 128 GiB, or near the top of the
 * address space (a guard that reaches below 0). */
static void rstate_guard(struct rstate *r)
{
    r->set.guard = rnd_below(&r->rng, 8) ? rnd_log(&r->rng, 24) * PG
                                         : TOP - rnd_below(&r->rng, 3);
}

static void slots_init(struct rstate *r)
{
    vmar_addr_t at = 0;
    uint32_t i;

    for (i = 0; i < R_SLOTS; i++) {
        /* Slot widths are log-uniform from 1 page to 8 GiB. */
        vmar_addr_t w = rnd_log(&r->rng, 20) * PG;

        if (i == R_SLOTS / 2) /* the upper cluster ends at 2^64 - page */
            at = ENDPG - (R_SLOTS / 2) * ((vmar_addr_t)1 << 33);
        r->slot[i].lo = at;
        r->slot[i].hi = at + w;
        r->slot[i].live = false;
        at += w;
    }
    /* Stretch the last slot of the upper cluster to 2^64 - page. */
    r->slot[R_SLOTS - 1].hi = ENDPG;
    for (i = 0; i < R_SLOTS; i++)
        r->perm[i] = i;
    for (i = R_SLOTS - 1; i > 0; i--) {
        uint32_t j = (uint32_t)rnd_below(&r->rng, i + 1), t = r->perm[i];

        r->perm[i] = r->perm[j];
        r->perm[j] = t;
    }
}

static void after_op(struct rstate *r)
{
    r->ops++;
    if (r->set.levels > r->max_levels)
        r->max_levels = r->set.levels;
    if (r->check_all || r->ops <= 2000 || r->live <= 2000 || r->ops % 4096 == 0)
        check_set(&r->set);
}

/* The model's neighbours of slot i: the nearest live slots below and
 * above, or NULL. */
static struct vmar__iset_node *model_below(struct rstate *r, size_t i)
{
    while (i-- > 0)
        if (r->slot[i].live)
            return &r->slot[i].node;
    return NULL;
}

static struct vmar__iset_node *model_above(struct rstate *r, size_t i)
{
    for (i++; i < R_SLOTS; i++)
        if (r->slot[i].live)
            return &r->slot[i].node;
    return NULL;
}

/* The last slot whose range starts at or below addr, or R_SLOTS when
 * none does (slots are in address order). */
static size_t model_slot(const struct rstate *r, vmar_addr_t addr)
{
    size_t lo = 0, hi = R_SLOTS;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (r->slot[mid].lo <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? lo - 1 : R_SLOTS;
}

/* find, lower_bound and lower_bound_pred against the model at addr. */
static void model_lookup(struct rstate *r, vmar_addr_t addr)
{
    size_t i = model_slot(r, addr);
    struct vmar__iset_node *find = NULL, *lb, *pred, *got_pred;
    const struct rslot *s = i < R_SLOTS ? &r->slot[i] : NULL;

    if (s && s->live && s->node.end > addr) {
        lb = (struct vmar__iset_node *)&s->node;
        pred = model_below(r, i);
        if (s->node.start <= addr)
            find = lb;
    } else if (s) {
        pred = s->live ? (struct vmar__iset_node *)&s->node : model_below(r, i);
        lb = model_above(r, i);
    } else { /* below every slot */
        pred = NULL;
        lb = model_above(r, (size_t)-1);
    }
    if (vmar__iset_find(&r->set, addr) != find ||
        vmar__iset_lower_bound(&r->set, addr) != lb ||
        vmar__iset_lower_bound_pred(&r->set, addr, &got_pred) != lb ||
        got_pred != pred)
        fail_msg("seed %#" PRIx64 ": lookup at %#" PRIx64 " disagrees with "
                 "the model",
                 r->seed, addr);
}

/* The hint of a query whose only fit is n's own range, as placement
 * asks before a map; false when that range is not free (a neighbour's
 * guard may cover it). */
static bool exact_hint(struct rstate *r, const struct vmar__iset_node *n,
                       struct vmar__iset_hint *hint)
{
    struct vmar__iset_query q = {
        .lo = n->start,
        .hi = n->end,
        .size = n->end - n->start,
        .align = PG,
        .top_down = rnd_below(&r->rng, 2),
    };
    vmar_addr_t got;

    return vmar__iset_find_free(&r->set, &q, &got, hint) && got == n->start;
}

/* Insert into slot s: a third of the time with insert_after and the
 * predecessor that lower_bound_pred gives (checked against the model), a
 * third with the hint of a free-range search for exactly its range when
 * that range is free (a placed map), else by descent. */
static void op_insert(struct rstate *r, struct rslot *s)
{
    size_t i = (size_t)(s - r->slot);
    struct vmar__iset_node *pred, *lb;
    struct vmar__iset_hint hint;
    const unsigned how = (unsigned)rnd_below(&r->rng, 3);

    slot_place(r, s);
    spares(&r->set, 1);
    if (how == 1 && exact_hint(r, &s->node, &hint)) {
        vmar__iset_insert_hinted(&r->set, &hint, &s->node);
        r->hinted++;
    } else if (how == 0) {
        lb = vmar__iset_lower_bound_pred(&r->set, s->node.start, &pred);
        assert_ptr_equal(pred, model_below(r, i));
        assert_ptr_equal(lb, model_above(r, i));
        vmar__iset_insert_after(&r->set, pred, &s->node);
    } else {
        vmar__iset_insert(&r->set, &s->node);
    }
    s->live = true;
    r->live++;
    after_op(r);
}

static void op_remove(struct rstate *r, struct rslot *s)
{
    vmar__iset_remove(&r->set, &s->node);
    s->live = false;
    r->live--;
    after_op(r);
}

static void op_update(struct rstate *r, struct rslot *s)
{
    slot_place(r, s); /* stays inside its slot: order is kept */
    vmar__iset_update(&r->set, &s->node);
    after_op(r);
}

/*
 * Split a live slot's interval in three at two random pages with
 * vmar__iset_split3 (temporary middle and tail), check, and merge them
 * back: the model sees no change. Full leaves take the two-split path,
 * the others the one-shift path.
 */
static void op_split3_merge(struct rstate *r, struct rslot *s)
{
    struct vmar__iset_node mid, tail, *n = &s->node;
    const vmar_addr_t end = n->end, pages = (end - n->start) / PG;
    const vmar_addr_t a = n->start + (1 + rnd_below(&r->rng, pages - 2)) * PG;
    const vmar_addr_t b = a + (1 + rnd_below(&r->rng, (end - a) / PG - 1)) * PG;

    memset(&mid, 0xa5, sizeof(mid));
    memset(&tail, 0xa5, sizeof(tail));
    vmar__iset_node_set_guarded(&mid, vmar__iset_node_guarded(n));
    vmar__iset_node_set_guarded(&tail, rnd_below(&r->rng, 2)
                                           ? vmar__iset_node_guarded(n)
                                           : rnd_below(&r->rng, 2) != 0);
    spares(&r->set, 2);
    vmar__iset_split3(&r->set, n, a, &mid, b, &tail);
    assert_int_equal(n->end, a);
    assert_int_equal(mid.start, a);
    assert_int_equal(mid.end, b);
    assert_int_equal(tail.start, b);
    assert_int_equal(tail.end, end);
    assert_ptr_equal(vmar__iset_next(n), &mid);
    assert_ptr_equal(vmar__iset_next(&mid), &tail);
    r->split3++;
    after_op(r);
    vmar__iset_merge_next(&r->set, n, &mid);
    vmar__iset_merge_next(&r->set, n, &tail);
    assert_int_equal(n->end, end);
    assert_ptr_equal(vmar__iset_next(n), model_above(r, (size_t)(s - r->slot)));
    after_op(r);
}

/*
 * Split a live slot's interval at a random page with a temporary tail,
 * check, and merge it back: the model sees no change. Half of the
 * intervals of three pages or more are split in three instead.
 */
static void op_split_merge(struct rstate *r, struct rslot *s)
{
    struct vmar__iset_node tail, *n = &s->node;
    vmar_addr_t end = n->end, pages = (end - n->start) / PG;
    vmar_addr_t at;

    if (pages < 2)
        return;
    if (pages >= 3 && rnd_below(&r->rng, 2)) {
        op_split3_merge(r, s);
        return;
    }
    at = n->start + (1 + rnd_below(&r->rng, pages - 1)) * PG;
    memset(&tail, 0xa5, sizeof(tail));
    vmar__iset_node_set_guarded(&tail, rnd_below(&r->rng, 2)
                                           ? vmar__iset_node_guarded(n)
                                           : rnd_below(&r->rng, 2) != 0);
    spares(&r->set, 1);
    vmar__iset_split(&r->set, n, at, &tail);
    assert_int_equal(n->end, at);
    assert_int_equal(tail.start, at);
    assert_int_equal(tail.end, end);
    assert_ptr_equal(vmar__iset_next(n), &tail);
    after_op(r);
    vmar__iset_merge_next(&r->set, n, &tail);
    assert_int_equal(n->end, end);
    assert_ptr_equal(vmar__iset_next(n), model_above(r, (size_t)(s - r->slot)));
    after_op(r);
}

/* One random op on a random slot among the first `n` of the permutation;
 * when `shrink`, mostly removals. */
static void op_random(struct rstate *r, uint32_t n, bool shrink)
{
    struct rslot *s = &r->slot[r->perm[rnd_below(&r->rng, n)]];
    unsigned k = (unsigned)rnd_below(&r->rng, 8);

    if (shrink) {
        if (s->live && k < 6)
            op_remove(r, s);
        else if (!s->live && k == 0)
            op_insert(r, s);
        return;
    }
    if (!s->live)
        op_insert(r, s);
    else if (k < 3)
        op_update(r, s);
    else if (k < 4)
        op_remove(r, s);
    else if (k < 5)
        op_split_merge(r, s);
}

static void build(struct rstate *r)
{
    struct rslot *s;
    uint32_t i;

    for (i = 0; i < R_SLOTS; i++) {
        op_insert(r, &r->slot[r->perm[i]]);
        s = &r->slot[r->perm[rnd_below(&r->rng, i + 1)]];
        if (rnd_below(&r->rng, 4) == 0 && s->live)
            op_update(r, s);
        if (rnd_below(&r->rng, 10) == 0 && r->slot[r->perm[i / 2]].live)
            op_remove(r, &r->slot[r->perm[i / 2]]);
    }
    check_set(&r->set);
}

/* The model's gaps, literally: [prev.end, eff(next)) plus both ends. */
static void model_gaps(struct rstate *r)
{
    vmar_addr_t prev_end = 0;
    uint32_t i;

    r->ngap = 0;
    for (i = 0; i < R_SLOTS; i++) {
        const struct vmar__iset_node *n = &r->slot[i].node;
        vmar_addr_t eff = eff_start(&r->set, n);

        if (!r->slot[i].live)
            continue;
        if (eff > prev_end) {
            r->gap[r->ngap].a = prev_end;
            r->gap[r->ngap++].b = eff;
        }
        prev_end = n->end;
    }
    r->gap[r->ngap].a = prev_end;
    r->gap[r->ngap++].b = (u128)1 << 64;
}

/* Whether x satisfies every condition of the header, in 128 bits. */
static bool ref_valid(const struct rstate *r, const struct vmar__iset_query *q,
                      vmar_addr_t x)
{
    u128 lo_edge = (u128)x - q->pre, hi_edge = (u128)x + q->size;
    size_t i;

    if (x % q->align || x < q->pre || lo_edge < q->lo || hi_edge > q->hi)
        return false;
    for (i = 0; i < r->ngap; i++)
        if (r->gap[i].a <= lo_edge && hi_edge <= r->gap[i].b)
            return true;
    return false;
}

/* The first model gap that ends above addr (gaps are in address order). */
static size_t ref_first_gap(const struct rstate *r, vmar_addr_t addr)
{
    size_t lo = 0, hi = r->ngap;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (r->gap[mid].b > addr)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Brute force: the best x of every gap that meets the window, then the
 * best over those gaps. */
static bool ref_find(const struct rstate *r, const struct vmar__iset_query *q,
                     vmar_addr_t *out)
{
    bool found = false;
    size_t i;

    for (i = ref_first_gap(r, q->lo); i < r->ngap && r->gap[i].a < q->hi; i++) {
        u128 a = r->gap[i].a > q->lo ? r->gap[i].a : q->lo;
        u128 b = r->gap[i].b < q->hi ? r->gap[i].b : q->hi;
        u128 first = a + q->pre, last, x;

        if (b < q->size || b - q->size < first)
            continue;
        last = b - q->size;
        x = q->top_down ? last - last % q->align
                        : (first + q->align - 1) / q->align * q->align;
        if (x < first || x > last)
            continue;
        if (!found || (q->top_down ? x > *out : x < *out))
            *out = (vmar_addr_t)x;
        found = true;
    }
    return found;
}

/* A random interesting address: a gap edge, near one, or anywhere. */
static vmar_addr_t rnd_addr(struct rstate *r)
{
    const struct rgap *g = &r->gap[rnd_below(&r->rng, r->ngap)];
    vmar_addr_t b = g->b >> 64 ? TOP : (vmar_addr_t)g->b;
    vmar_addr_t base = rnd_below(&r->rng, 2) ? g->a : b;
    vmar_addr_t d = rnd_below(&r->rng, 2) ? rnd_log(&r->rng, 36)
                                          : rnd_log(&r->rng, 24) * PG;

    switch (rnd_below(&r->rng, 8)) {
    case 0:
        return rnd(&r->rng);
    case 1:
        return rnd_below(&r->rng, 2) ? 0 : TOP;
    case 2:
    case 3:
        return base;
    case 4:
        return base > d ? base - d : 0;
    default:
        return base < TOP - d ? base + d : TOP;
    }
}

static void rnd_query(struct rstate *r, struct vmar__iset_query *q)
{
    unsigned k = (unsigned)rnd_below(&r->rng, 4);

    q->lo = rnd_addr(r);
    q->hi = rnd_addr(r);
    if (rnd_below(&r->rng, 4)) { /* mostly a window near lo, not across space */
        vmar_addr_t span = rnd_log(&r->rng, 40);

        q->hi = q->lo < TOP - span ? q->lo + span : TOP;
    }
    if (q->lo > q->hi && rnd_below(&r->rng, 16)) { /* mostly well-formed */
        vmar_addr_t t = q->lo;

        q->lo = q->hi;
        q->hi = t;
    }
    q->align = k < 2 ? PG : PG << rnd_below(&r->rng, 19); /* page .. 1 GiB */
    q->size = rnd_log(&r->rng, 22) * PG;
    if (rnd_below(&r->rng, 16) == 0)
        q->size = rnd_log(&r->rng, 40); /* any byte count */
    q->pre = 0;
    if (rnd_below(&r->rng, 3) == 0)
        q->pre = rnd_below(&r->rng, 8) ? rnd_log(&r->rng, 12) * PG
                                       : rnd_log(&r->rng, 40);
    q->top_down = rnd_below(&r->rng, 2);
}

/* Remove every live slot among the first n of the permutation, in a
 * fresh random order: leaves empty in no particular order and the levels
 * collapse one by one. */
static void drain(struct rstate *r, uint32_t n)
{
    uint32_t i, j, t;

    for (i = n - 1; i > 0; i--) {
        j = (uint32_t)rnd_below(&r->rng, i + 1);
        t = r->perm[i];
        r->perm[i] = r->perm[j];
        r->perm[j] = t;
    }
    for (i = 0; i < n; i++)
        if (r->slot[r->perm[i]].live)
            op_remove(r, &r->slot[r->perm[i]]);
    check_set(&r->set);
    assert_int_equal(r->live, 0);
    assert_null(r->set.root);
    assert_int_equal(r->set.levels, 0);
}

static void one_query(struct rstate *r, size_t *hits)
{
    struct vmar__iset_hint hint;
    struct vmar__iset_query q;
    vmar_addr_t got = none, want = 0;
    bool ok, ref;

    rnd_query(r, &q);
    ok = vmar__iset_find_free(&r->set, &q, &got,
                              rnd_below(&r->rng, 2) ? &hint : NULL);
    ref = ref_find(r, &q, &want);
    if (ok != ref || (ok && got != want) || (ok && !ref_valid(r, &q, got)))
        fail_msg("seed %#" PRIx64 ": lo %#" PRIx64 " hi %#" PRIx64
                 " size %#" PRIx64 " align %#" PRIx64 " pre %#" PRIx64
                 " %s: got %d %#" PRIx64 ", want %d %#" PRIx64,
                 r->seed, q.lo, q.hi, q.size, q.align, q.pre,
                 q.top_down ? "down" : "up", ok, got, ref, want);
    *hits += ok;
}

/* One seed per run, from VMAR_TEST_SEED or the clock; printed so a failing
 * run can be replayed. */
static uint64_t test_seed(void)
{
    static uint64_t seed;
    static bool have;
    const char *env = getenv("VMAR_TEST_SEED");

    if (!have) {
        if (env && *env)
            seed = strtoull(env, NULL, 0);
        else
            seed =
                (uint64_t)time(NULL) * 0x2545f4914f6cdd1du ^ (uint64_t)clock();
        have = true;
    }
    printf("[ SEED     ] VMAR_TEST_SEED=%#" PRIx64 "\n", seed);
    return seed;
}

static void test_random_differential(void **state)
{
    struct rstate *r = calloc(1, sizeof(*r));
    size_t round, i, hits = 0;

    (void)state;
    assert_non_null(r);
    r->seed = r->rng = test_seed();
    r->slot = calloc(R_SLOTS, sizeof(*r->slot));
    r->perm = calloc(R_SLOTS, sizeof(*r->perm));
    r->gap = calloc(R_SLOTS + 1, sizeof(*r->gap));
    assert_true(r->slot && r->perm && r->gap);
    vmar__iset_init(&r->set);
    rstate_guard(r);
    slots_init(r);
    build(r);
    assert_true(r->live >= R_MIN_LIVE);
    assert_int_equal(r->set.count, r->live);

    for (round = 0; round < R_ROUNDS; round++) {
        if (round > 0) {
            for (i = 0; i < 5000; i++)
                op_random(r, R_SLOTS, false);
            check_set(&r->set);
            assert_int_equal(r->set.count, r->live);
        }
        model_gaps(r);
        for (i = 0; i < R_QUERIES / R_ROUNDS; i++)
            one_query(r, &hits);
    }
    /* Guard against a generator that only ever asks impossible questions. */
    assert_true(hits > R_QUERIES / 4);
    assert_true(hits < R_QUERIES);
    for (i = 0; i < R_QUERIES; i++)
        model_lookup(r, rnd_addr(r));
    printf("[ INFO     ] %zu live nodes, %u levels, %zu index nodes, %zu ops, "
           "%zu/%u queries fit, %zu hinted inserts\n",
           r->live, r->set.levels, vmar__iset_index_nodes(&r->set), r->ops,
           hits, R_QUERIES, r->hinted);
    assert_true(r->hinted > r->ops / 20);
    assert_true(r->split3 > 0);
    assert_true(r->set.levels >= 4); /* three hold at most 16^3 = 4096 */

    drain(r, R_SLOTS);
    finish(&r->set);
    free(r->gap);
    free(r->perm);
    free(r->slot);
    free(r);
}

/*
 * A change moves cached keys and gaps up the index, and an update or
 * remove also moves the successor's gap, which may live in another leaf;
 * splits, borrows and merges of index nodes move slots between nodes. A
 * stale cache shows only in a later op, so here every op on a couple of
 * thousand slots (three or four levels: inserts, removes, splits and
 * merges, in-place moves of start, end and guard, many of them touching
 * their neighbours) is followed by a full check, and the set is queried
 * against the model throughout: it grows, is drained in random order to
 * empty, grows again, shrinks, and is drained again.
 */
#define E_SLOTS 2000u
#define E_OPS   12000u

static void test_random_every_op_checked(void **state)
{
    struct rstate *r = calloc(1, sizeof(*r));
    size_t i, hits = 0;
    int phase;

    (void)state;
    assert_non_null(r);
    r->seed = r->rng = test_seed();
    r->check_all = true;
    r->slot = calloc(R_SLOTS, sizeof(*r->slot));
    r->perm = calloc(R_SLOTS, sizeof(*r->perm));
    r->gap = calloc(R_SLOTS + 1, sizeof(*r->gap));
    assert_true(r->slot && r->perm && r->gap);
    vmar__iset_init(&r->set);
    rstate_guard(r);
    slots_init(r);
    model_gaps(r);
    for (phase = 0; phase < 4; phase++) {
        r->max_levels = 0;
        for (i = 0; i < E_OPS; i++) {
            op_random(r, E_SLOTS, phase == 3);
            model_lookup(r, rnd_addr(r));
            if (i % 32 == 0) {
                model_gaps(r);
                one_query(r, &hits);
            }
        }
        assert_int_equal(r->set.count, r->live);
        assert_true(r->hinted > 0 && r->split3 > 0);
        if (phase != 3) /* ~1800 live: two levels hold 256 */
            assert_true(r->max_levels >= 3);
        if (phase % 2)
            drain(r, E_SLOTS);
    }
    finish(&r->set);
    free(r->gap);
    free(r->perm);
    free(r->slot);
    free(r);
}

/*
 * Small sets in a 512-byte universe at the bottom or the very top of the
 * address space, byte-granular, checked against the header's definition
 * by trying every x in the window. This pins the edge arithmetic that the
 * page-granular test above reaches only by chance.
 */
#define S_SPAN   512u
#define S_NODES  16
#define S_ROUNDS 600u

struct small {
    uint64_t rng;
    vmar_addr_t base;
    struct vmar__iset set;
    struct vmar__iset_node node[S_NODES]; /* in address order */
    size_t n;
};

static uint64_t srnd(struct small *t, uint64_t n)
{
    return rnd_below(&t->rng, n);
}

static void small_build(struct small *t)
{
    vmar_addr_t at = srnd(t, 24);
    size_t order[S_NODES], i;

    vmar__iset_init(&t->set);
    t->set.guard = srnd(t, 16) == 0 ? TOP : srnd(t, 64);
    for (t->n = 0; t->n < S_NODES; t->n++) {
        vmar_addr_t start = at + srnd(t, 40), len = 1 + srnd(t, 40);
        struct vmar__iset_node *n = &t->node[t->n];

        if (start + len > S_SPAN - 1) /* at the top, end may be TOP */
            break;
        memset(n, 0, sizeof(*n));
        n->start = t->base + start;
        n->end = t->base + start + len;
        vmar__iset_node_set_guarded(n, srnd(t, 3) == 0);
        at = start + len;
    }
    for (i = 0; i < t->n; i++)
        order[i] = i;
    for (i = t->n; i > 1; i--) {
        size_t j = srnd(t, i), k = order[i - 1];

        order[i - 1] = order[j];
        order[j] = k;
    }
    for (i = 0; i < t->n; i++) {
        spares(&t->set, 1);
        vmar__iset_insert(&t->set, &t->node[order[i]]);
        check_set(&t->set);
    }
}

static void small_clear(struct small *t)
{
    size_t i;

    for (i = 0; i < t->n; i++) {
        vmar__iset_remove(&t->set, &t->node[i]);
        check_set(&t->set);
    }
    finish(&t->set);
}

/* Whether [a, b) lies inside one free gap of the header's definition. */
static bool small_free(const struct small *t, u128 a, u128 b)
{
    u128 prev_end = 0;
    size_t i;

    for (i = 0; i <= t->n; i++) {
        const struct vmar__iset_node *n = &t->node[i];
        u128 eff = (u128)1 << 64;

        if (i < t->n)
            eff = eff_start(&t->set, n);
        if (prev_end <= a && b <= eff)
            return true;
        if (i < t->n)
            prev_end = n->end;
    }
    return false;
}

static bool small_ref(const struct small *t, const struct vmar__iset_query *q,
                      vmar_addr_t *out)
{
    bool found = false;
    vmar_addr_t x;

    for (x = q->lo; x < q->hi; x++) {
        u128 a = (u128)x - q->pre, b = (u128)x + q->size;

        if (x % q->align || x < q->pre || a < q->lo || b > q->hi ||
            !small_free(t, a, b))
            continue;
        if (!found || q->top_down)
            *out = x;
        found = true;
    }
    return found;
}

static void small_query(struct small *t, unsigned *hits)
{
    struct vmar__iset_query q;
    vmar_addr_t got = none, want = 0;
    bool ok, ref;

    q.lo = t->base + srnd(t, S_SPAN);
    q.hi = t->base + srnd(t, S_SPAN);
    if (q.lo > q.hi) {
        vmar_addr_t x = q.lo;

        q.lo = q.hi;
        q.hi = x;
    }
    q.size = 1 + srnd(t, srnd(t, 2) ? 8 : 96);
    q.align = (vmar_size_t)1 << srnd(t, 7);
    q.pre = srnd(t, 3) ? 0 : srnd(t, 40);
    q.top_down = srnd(t, 2);
    ok = vmar__iset_find_free(&t->set, &q, &got, NULL);
    ref = small_ref(t, &q, &want);
    if (ok != ref || (ok && got != want))
        fail_msg("lo %#" PRIx64 " hi %#" PRIx64 " size %" PRIu64
                 " align %" PRIu64 " pre %" PRIu64 " %s: got %d %#" PRIx64
                 ", want %d %#" PRIx64,
                 q.lo, q.hi, q.size, q.align, q.pre, q.top_down ? "down" : "up",
                 ok, got, ref, want);
    *hits += ok;
}

static void test_random_small_exhaustive(void **state)
{
    struct small *t = calloc(1, sizeof(*t));
    unsigned round, i, hits = 0, total = 0;

    (void)state;
    assert_non_null(t);
    t->rng = test_seed() ^ 0x736d616c6cu;
    for (round = 0; round < S_ROUNDS; round++) {
        t->base = round % 2 ? TOP - (S_SPAN - 1) : 0;
        small_build(t);
        for (i = 0; i < 40; i++, total++)
            small_query(t, &hits);
        if (t->n) { /* drop the guard of one node and ask again */
            struct vmar__iset_node *n = &t->node[srnd(t, t->n)];

            vmar__iset_node_set_guarded(n, false);
            vmar__iset_update(&t->set, n);
            check_set(&t->set);
            for (i = 0; i < 10; i++, total++)
                small_query(t, &hits);
        }
        small_clear(t);
    }
    assert_true(hits > total / 4 && hits < total - total / 4);
    printf("[ INFO     ] %u/%u queries fit\n", hits, total);
    free(t);
}

/* A test that failed left its set behind: start the count afresh. */
static int reset(void **state)
{
    (void)state;
    g_index_out = 0;
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_empty, reset),
        cmocka_unit_test_setup(test_insert_lookup, reset),
        cmocka_unit_test_setup(test_insert_hinted, reset),
        cmocka_unit_test_setup(test_lower_bound_pred, reset),
        cmocka_unit_test_setup(test_single_node_cache, reset),
        cmocka_unit_test_setup(test_insert_orders, reset),
        cmocka_unit_test_setup(test_remove, reset),
        cmocka_unit_test_setup(test_leaf_edges, reset),
        cmocka_unit_test_setup(test_update, reset),
        cmocka_unit_test_setup(test_split_merge_next, reset),
        cmocka_unit_test_setup(test_split_many, reset),
        cmocka_unit_test_setup(test_churn_stays_dense, reset),
        cmocka_unit_test_setup(test_guard_clips_gap_below, reset),
        cmocka_unit_test_setup(test_guard_beyond_prev, reset),
        cmocka_unit_test_setup(test_guard_spans_nodes, reset),
        cmocka_unit_test_setup(test_guard_clamps_at_zero, reset),
        cmocka_unit_test_setup(test_find_free_directions, reset),
        cmocka_unit_test_setup(test_find_free_alignment, reset),
        cmocka_unit_test_setup(test_find_free_pre, reset),
        cmocka_unit_test_setup(test_find_free_window_edges, reset),
        cmocka_unit_test_setup(test_find_free_near_top, reset),
        cmocka_unit_test_setup(test_find_free_exhaustion, reset),
        cmocka_unit_test_setup(test_find_free_malformed, reset),
        cmocka_unit_test_setup(test_ordered_1000, reset),
        cmocka_unit_test_setup(test_insert_after, reset),
        cmocka_unit_test_setup(test_spares_honoured, reset),
        cmocka_unit_test_setup(test_check_detects_corruption, reset),
        cmocka_unit_test_setup(test_random_differential, reset),
        cmocka_unit_test_setup(test_random_every_op_checked, reset),
        cmocka_unit_test_setup(test_random_small_exhaustive, reset),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
