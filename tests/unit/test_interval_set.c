/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the interval set (src/core/interval_set.h): tree shape and
 * lookups on small sets, split and merge_next, the guard and window rules
 * of the free-range search at their edges, and seeded differential tests
 * of vmar_iset_find_free: against a brute-force scan of every gap of a set
 * of over 100 000 nodes, against the same model on a few hundred slots with
 * every op checked (the early-stop retrace), and against trying every x in
 * small byte-granular sets at both ends of the address space.
 *
 * Every mutation is followed by vmar_iset_check(), except inside the bulk
 * build of the large differential test, which checks the first ops one by
 * one and then periodically.
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

/* ---- helpers ------------------------------------------------------------ */

static void check_set(const struct vmar_iset *set)
{
    const char *err = vmar_iset_check(set);

    if (err)
        fail_msg("vmar_iset_check: %s", err);
}

static void add(struct vmar_iset *set, struct vmar_iset_node *n,
                vmar_addr_t start, vmar_addr_t end, vmar_size_t guard)
{
    memset(n, 0xa5, sizeof(*n)); /* the set must not read stale fields */
    n->start = start;
    n->end = end;
    n->guard = guard;
    vmar_iset_insert(set, n);
    check_set(set);
}

static void del(struct vmar_iset *set, struct vmar_iset_node *n)
{
    vmar_iset_remove(set, n);
    check_set(set);
    assert_null(vmar_iset_parent(n));
    assert_null(n->left);
    assert_null(n->right);
}

static void reshape(struct vmar_iset *set, struct vmar_iset_node *n,
                    vmar_addr_t start, vmar_addr_t end, vmar_size_t guard)
{
    n->start = start;
    n->end = end;
    n->guard = guard;
    vmar_iset_update(set, n);
    check_set(set);
}

/* Run a query; returns the result, or `none` when nothing fits. */
static const vmar_addr_t none = 0x4e4f4e45; /* not page-aligned: no result */

static vmar_addr_t ff(const struct vmar_iset *set, vmar_addr_t lo,
                      vmar_addr_t hi, vmar_size_t size, vmar_size_t align,
                      vmar_size_t pre, bool top_down)
{
    struct vmar_iset_query q = {lo, hi, size, align, pre, top_down};
    vmar_addr_t x = none;

    if (!vmar_iset_find_free(set, &q, &x)) {
        assert_int_equal(x, none); /* *out untouched on failure */
        return none;
    }
    return x;
}

#define UP(set, lo, hi, size, align, pre)                                      \
    ff((set), (lo), (hi), (size), (align), (pre), false)
#define DOWN(set, lo, hi, size, align, pre)                                    \
    ff((set), (lo), (hi), (size), (align), (pre), true)

/* Assert the in-order sequence of starts equals `starts` (n entries). */
static void assert_order(const struct vmar_iset *set, const vmar_addr_t *starts,
                         size_t n)
{
    const struct vmar_iset_node *it = vmar_iset_first(set);
    size_t i;

    assert_int_equal(set->count, n);
    for (i = 0; i < n; i++) {
        assert_non_null(it);
        assert_int_equal(it->start, starts[i]);
        it = vmar_iset_next(it);
    }
    assert_null(it);
    it = vmar_iset_last(set);
    for (i = n; i-- > 0;) {
        assert_non_null(it);
        assert_int_equal(it->start, starts[i]);
        it = vmar_iset_prev(it);
    }
    assert_null(it);
}

/* ---- small sets: lookups ------------------------------------------------ */

static void test_empty(void **state)
{
    struct vmar_iset set;

    (void)state;
    vmar_iset_init(&set);
    check_set(&set);
    assert_null(set.root);
    assert_null(vmar_iset_first(&set));
    assert_null(vmar_iset_last(&set));
    assert_null(vmar_iset_find(&set, 0));
    assert_null(vmar_iset_find(&set, TOP));
    assert_null(vmar_iset_lower_bound(&set, 0));
    /* The whole space is one gap; x + size may reach hi = 2^64 - 1 only. */
    assert_int_equal(UP(&set, 0, TOP, PG, PG, 0), 0);
    assert_int_equal(DOWN(&set, 0, TOP, PG, PG, 0), TOP - 2 * PG + 1);
    assert_int_equal(DOWN(&set, 0, TOP, PG - 1, 1, 0), ENDPG);
    assert_int_equal(DOWN(&set, 0, TOP, 1, 1, 0), TOP - 1);
    assert_int_equal(UP(&set, 0, TOP, TOP, 1, 0), 0);
    assert_int_equal(DOWN(&set, 0, TOP, TOP, 1, 0), 0);
    assert_int_equal(UP(&set, 0, TOP, TOP, 1, 1), none);
    assert_int_equal(UP(&set, 1, TOP, TOP, 1, 0), none);
}

static void test_insert_lookup(void **state)
{
    struct vmar_iset set;
    struct vmar_iset_node n[5];
    static const vmar_addr_t order[] = {0x1000, 0x3000, 0x8000, 0x9000,
                                        0x20000};

    (void)state;
    vmar_iset_init(&set);
    add(&set, &n[0], 0x8000, 0x9000, 0);
    add(&set, &n[1], 0x1000, 0x2000, 0);
    add(&set, &n[2], 0x20000, 0x30000, 0);
    add(&set, &n[3], 0x3000, 0x5000, 0);
    add(&set, &n[4], 0x9000, 0xa000, 0); /* touches n[0]: no gap */
    assert_order(&set, order, 5);
    assert_ptr_equal(vmar_iset_first(&set), &n[1]);
    assert_ptr_equal(vmar_iset_last(&set), &n[2]);

    assert_null(vmar_iset_find(&set, 0));
    assert_null(vmar_iset_find(&set, 0xfff));
    assert_ptr_equal(vmar_iset_find(&set, 0x1000), &n[1]);
    assert_ptr_equal(vmar_iset_find(&set, 0x1fff), &n[1]);
    assert_null(vmar_iset_find(&set, 0x2000));
    assert_ptr_equal(vmar_iset_find(&set, 0x4abc), &n[3]);
    assert_ptr_equal(vmar_iset_find(&set, 0x8fff), &n[0]);
    assert_ptr_equal(vmar_iset_find(&set, 0x9000), &n[4]);
    assert_null(vmar_iset_find(&set, 0xa000));
    assert_ptr_equal(vmar_iset_find(&set, 0x2ffff), &n[2]);
    assert_null(vmar_iset_find(&set, 0x30000));
    assert_null(vmar_iset_find(&set, TOP));

    assert_ptr_equal(vmar_iset_lower_bound(&set, 0), &n[1]);
    assert_ptr_equal(vmar_iset_lower_bound(&set, 0x1fff), &n[1]);
    assert_ptr_equal(vmar_iset_lower_bound(&set, 0x2000), &n[3]);
    assert_ptr_equal(vmar_iset_lower_bound(&set, 0x4000), &n[3]);
    assert_ptr_equal(vmar_iset_lower_bound(&set, 0x5000), &n[0]);
    assert_ptr_equal(vmar_iset_lower_bound(&set, 0x9000), &n[4]);
    assert_ptr_equal(vmar_iset_lower_bound(&set, 0xa000), &n[2]);
    assert_ptr_equal(vmar_iset_lower_bound(&set, 0x2ffff), &n[2]);
    assert_null(vmar_iset_lower_bound(&set, 0x30000));
    assert_null(vmar_iset_lower_bound(&set, TOP));

    /* Each node caches the gap below it, from 0 for the first; the root
     * the largest of all: [0xa000, 0x20000). */
    assert_int_equal(n[1].gap, 0x1000);
    assert_int_equal(n[3].gap, 0x1000);
    assert_int_equal(n[0].gap, 0x3000);
    assert_int_equal(n[4].gap, 0);
    assert_int_equal(n[2].gap, 0x16000);
    assert_int_equal(vmar_iset_sub_gap(set.root), 0x16000);
}

static void test_single_node_cache(void **state)
{
    struct vmar_iset set;
    struct vmar_iset_node n;

    (void)state;
    vmar_iset_init(&set);
    add(&set, &n, 0x5000, 0x6000, 0x2000);
    assert_int_equal(vmar_iset_height(&n), 1);
    assert_int_equal(n.gap, 0x3000); /* [0, eff) with eff = 0x3000 */
    assert_int_equal(vmar_iset_sub_gap(&n), 0x3000);
    assert_ptr_equal(vmar_iset_find(&set, 0x5000), &n);
    assert_null(vmar_iset_find(&set, 0x4fff)); /* the guard is not the node */
    del(&set, &n);
    assert_null(set.root);
    assert_int_equal(set.count, 0);
}

#define ROT_N 200

/* Ascending, descending and zig-zag inserts hit all four rotation cases. */
static void test_rotations(void **state)
{
    struct vmar_iset set;
    struct vmar_iset_node n[ROT_N];
    vmar_addr_t starts[ROT_N];
    int pass, i;

    (void)state;
    for (i = 0; i < ROT_N; i++)
        starts[i] = (vmar_addr_t)(i + 1) * 2 * PG;
    for (pass = 0; pass < 4; pass++) {
        vmar_iset_init(&set);
        for (i = 0; i < ROT_N; i++) {
            int k = pass == 0   ? i
                    : pass == 1 ? ROT_N - 1 - i
                    : pass == 2 ? (i % 2 ? ROT_N - 1 - i / 2 : i / 2)
                                : (i * 73) % ROT_N; /* 73 is coprime to 200 */
            add(&set, &n[k], starts[k], starts[k] + PG, 0);
        }
        assert_order(&set, starts, ROT_N);
        /* An AVL tree of 200 nodes is at most 1.44 * log2(202) high. */
        assert_true(vmar_iset_height(set.root) <= 10);
        assert_int_equal(vmar_iset_sub_gap(set.root), 2 * PG); /* [0, first) */
        for (i = 0; i < ROT_N; i++)
            del(&set, &n[pass % 2 ? i : (i * 37) % ROT_N]);
        assert_null(set.root);
    }
}

/* ---- remove ------------------------------------------------------------- */

#define RM_N 15

static void test_remove(void **state)
{
    struct vmar_iset set;
    struct vmar_iset_node n[RM_N], *r, *succ;
    vmar_addr_t starts[RM_N];
    size_t live = RM_N, i;

    (void)state;
    vmar_iset_init(&set);
    for (i = 0; i < RM_N; i++) {
        starts[i] = (vmar_addr_t)(i + 1) * 0x10000;
        add(&set, &n[i], starts[i], starts[i] + 0x1000, 0);
    }
    assert_order(&set, starts, RM_N);

    /* A leaf. */
    r = vmar_iset_first(&set);
    assert_null(r->left);
    assert_null(r->right);
    del(&set, r);
    memmove(starts, starts + 1, --live * sizeof(*starts));
    assert_order(&set, starts, live);
    assert_int_equal(vmar_iset_first(&set)->gap, 0x20000);
    assert_int_equal(vmar_iset_sub_gap(set.root), 0x20000);

    /* The root, repeatedly; a full AVL root has two children. */
    while (set.root && set.root->left && set.root->right) {
        r = set.root;
        succ = vmar_iset_next(r);
        del(&set, r);
        for (i = 0; starts[i] != r->start; i++)
            ;
        memmove(starts + i, starts + i + 1, (--live - i) * sizeof(*starts));
        assert_order(&set, starts, live);
        assert_null(vmar_iset_find(&set, r->start));
        assert_ptr_equal(vmar_iset_lower_bound(&set, r->start), succ);
    }

    /* The last node; the gap cache follows. */
    r = vmar_iset_last(&set);
    del(&set, r);
    live--;
    assert_int_equal(set.count, live);
    if (set.root)
        assert_true(vmar_iset_last(&set)->end < r->end);

    while (set.root)
        del(&set, set.root);
    assert_int_equal(set.count, 0);
}

/* Remove a node with two children whose successor is deep in the right
 * subtree (not its direct child), and one whose successor is its child. */
static void test_remove_two_children(void **state)
{
    struct vmar_iset set;
    struct vmar_iset_node n[7], *mid;
    static const vmar_addr_t after1[] = {0x1000, 0x2000, 0x3000,
                                         0x5000, 0x6000, 0x7000};
    static const vmar_addr_t after2[] = {0x1000, 0x2000, 0x3000, 0x6000,
                                         0x7000};
    int i;

    (void)state;
    vmar_iset_init(&set);
    /* Ascending 1..7 gives a perfect tree rooted at 4. */
    for (i = 0; i < 7; i++)
        add(&set, &n[i], (vmar_addr_t)(i + 1) * 0x1000,
            (vmar_addr_t)(i + 1) * 0x1000 + 0x800, 0);
    assert_ptr_equal(set.root, &n[3]);
    assert_ptr_equal(n[5].left, &n[4]); /* successor of 4 is 5, deep */
    del(&set, &n[3]);
    assert_ptr_equal(set.root, &n[4]);
    assert_order(&set, after1, 6);

    /* Now remove 5, the new root: its successor 6 is its right child. */
    mid = set.root;
    assert_ptr_equal(mid->right, &n[5]);
    assert_null(n[5].left);
    del(&set, mid);
    assert_order(&set, after2, 5);
    assert_int_equal(vmar_iset_sub_gap(set.root), 0x2800);
}

/* ---- update ------------------------------------------------------------- */

static void test_update(void **state)
{
    struct vmar_iset set;
    struct vmar_iset_node n[7];
    int i;

    (void)state;
    vmar_iset_init(&set);
    for (i = 0; i < 7; i++)
        add(&set, &n[i], (vmar_addr_t)(i + 1) * 0x10000,
            (vmar_addr_t)(i + 1) * 0x10000 + 0x1000, 0);
    assert_int_equal(vmar_iset_sub_gap(set.root), 0x10000); /* [0, 0x10000) */

    /* Shrink a leaf's start upward and its end downward: its own gap and
     * its successor's change. */
    reshape(&set, &n[0], 0x14000, 0x15000, 0);
    assert_int_equal(n[0].gap, 0x14000);
    assert_int_equal(n[1].gap, 0xb000);
    assert_int_equal(vmar_iset_sub_gap(set.root), 0x14000);
    assert_int_equal(UP(&set, 0, TOP, 0x14000, PG, 0), 0);
    assert_int_equal(UP(&set, 0, TOP, 0x15000, PG, 0), 0x71000);

    /* Grow the root downward so it leaves a bigger gap above it. */
    reshape(&set, &n[3], 0x40000, 0x41000, 0);
    reshape(&set, &n[3], 0x3c000, 0x40000, 0); /* shrink end, grow start */
    assert_ptr_equal(vmar_iset_find(&set, 0x3c000), &n[3]);
    assert_null(vmar_iset_find(&set, 0x40000));
    assert_int_equal(n[3].gap, 0xb000);  /* [0x31000, 0x3c000) */
    assert_int_equal(n[4].gap, 0x10000); /* [0x40000, 0x50000) */
    assert_int_equal(vmar_iset_sub_gap(set.root), 0x14000);
    assert_int_equal(DOWN(&set, 0, 0x80000, 0x10000, PG, 0), 0x40000);
    assert_int_equal(UP(&set, 0x16000, TOP, 0x10000, PG, 0), 0x40000);

    /* Grow the last node to the top of the address space. */
    reshape(&set, &n[6], 0x70000, TOP, 0);
    assert_int_equal(vmar_iset_last(&set)->end, TOP);
    assert_int_equal(DOWN(&set, 0, TOP, PG, PG, 0), 0x6f000);

    /* Guards changed in place. */
    reshape(&set, &n[4], n[4].start, n[4].end, 0x8000);
    assert_int_equal(DOWN(&set, 0x40000, 0x50000, 0x8000, PG, 0), 0x40000);
    assert_int_equal(DOWN(&set, 0x40000, 0x50000, 0x8000 + PG, PG, 0), none);
    reshape(&set, &n[4], n[4].start, n[4].end, 0);
    assert_int_equal(DOWN(&set, 0x41000, 0x50000, 0xf000, PG, 0), 0x41000);
    for (i = 0; i < 7; i++)
        del(&set, &n[i]);
}

/* ---- split and merge_next ---------------------------------------------- */

static void test_split_merge_next(void **state)
{
    struct vmar_iset set;
    struct vmar_iset_node n[7], t[7], x;
    int i;

    (void)state;
    vmar_iset_init(&set);
    /* A perfect tree of 7, so both the root (right subtree present) and
     * leaves (no right child) are split. */
    for (i = 0; i < 7; i++)
        add(&set, &n[i], (vmar_addr_t)(i + 1) * 0x10000,
            (vmar_addr_t)(i + 1) * 0x10000 + 0x4000, 0);
    for (i = 0; i < 7; i++) {
        memset(&t[i], 0xa5, sizeof(t[i]));
        t[i].guard = i == 3 ? 0x2000 : 0; /* a guard inside n: no gap */
        vmar_iset_split(&set, &n[i], n[i].start + 0x1000, &t[i]);
        check_set(&set);
        assert_int_equal(t[i].start, n[i].end);
        assert_int_equal(t[i].end, n[i].start + 0x4000);
        assert_int_equal(t[i].gap, 0);
        assert_ptr_equal(vmar_iset_next(&n[i]), &t[i]);
        assert_ptr_equal(vmar_iset_find(&set, n[i].start + 0x1000), &t[i]);
    }
    assert_int_equal(set.count, 14);
    /* A tail whose guard reaches below node's start opens no gap. */
    memset(&x, 0xa5, sizeof(x));
    x.guard = 0x10000;
    vmar_iset_split(&set, &t[6], 0x72000, &x);
    check_set(&set);
    assert_int_equal(x.gap, 0);
    assert_int_equal(set.count, 15);
    vmar_iset_merge_next(&set, &t[6], &x);
    check_set(&set);
    for (i = 0; i < 7; i++) {
        vmar_iset_merge_next(&set, &n[i], &t[i]);
        check_set(&set);
        assert_null(vmar_iset_parent(&t[i]));
        assert_int_equal(n[i].end, n[i].start + 0x4000);
    }
    assert_int_equal(set.count, 7);

    /* Merging across a hole: node takes the hole and next's range. */
    vmar_iset_merge_next(&set, &n[2], &n[3]);
    check_set(&set);
    assert_int_equal(n[2].end, 0x44000);
    assert_ptr_equal(vmar_iset_find(&set, 0x3a000), &n[2]);
    assert_int_equal(n[4].gap, 0xc000);
    assert_int_equal(UP(&set, 0x30000, TOP, 0xc000, PG, 0), 0x44000);
    while (set.root)
        del(&set, set.root);
}

/* ---- guards ------------------------------------------------------------- */

static void test_guard_clips_gap_below(void **state)
{
    struct vmar_iset set;
    struct vmar_iset_node a, b, c;

    (void)state;
    vmar_iset_init(&set);
    add(&set, &a, 0x1000, 0x2000, 0);
    add(&set, &b, 0x10000, 0x11000, 0x4000); /* gap below: [0x2000, 0xc000) */
    add(&set, &c, 0x20000, 0x21000, 0);
    assert_int_equal(vmar_iset_sub_gap(set.root),
                     0xf000); /* [0x11000, 0x20000) */

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

    /* Guard exactly the gap: it closes. */
    reshape(&set, &b, b.start, b.end, 0xe000);
    assert_int_equal(UP(&set, 0x2000, 0x10000, PG, 1, 0), none);
    assert_int_equal(vmar_iset_sub_gap(set.root), 0xf000);
    /* A guard on c shrinks the largest gap, and the root sees it. */
    reshape(&set, &c, c.start, c.end, 0x8000);
    assert_int_equal(vmar_iset_sub_gap(set.root), 0x7000);
    assert_int_equal(DOWN(&set, 0, 0x20000, PG, PG, 0), 0x17000);
    del(&set, &b);
    /* b's guard went with b: [0x2000, 0x18000) is one gap now. */
    assert_int_equal(vmar_iset_sub_gap(set.root), 0x16000);
    assert_int_equal(UP(&set, 0, TOP, 0x16000, PG, 0), 0x2000);
}

static void test_guard_beyond_prev(void **state)
{
    struct vmar_iset set;
    struct vmar_iset_node a, b;

    (void)state;
    vmar_iset_init(&set);
    add(&set, &a, 0x100000, 0x101000, 0);
    /* eff(b) = 0x80000 lies below a.end (even below a.start). */
    add(&set, &b, 0x200000, 0x201000, 0x180000);
    assert_int_equal(a.gap, 0x100000);
    assert_int_equal(b.gap, 0);
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
    assert_int_equal(b.gap, PG);
    assert_int_equal(UP(&set, 0x100000, TOP, PG, PG, 0), 0x101000);
    assert_int_equal(UP(&set, 0x100000, TOP, 2 * PG, PG, 0), 0x201000);
}

/* A guard reaching below several earlier nodes still clips only the gap
 * directly below its own node; the gaps it spans stay usable. */
static void test_guard_spans_nodes(void **state)
{
    struct vmar_iset set;
    struct vmar_iset_node n[5];
    int i;

    (void)state;
    vmar_iset_init(&set);
    for (i = 4; i >= 0; i--) /* descending: root 4, left subtree 1..3 */
        add(&set, &n[i], (vmar_addr_t)(i + 1) * 0x10000,
            (vmar_addr_t)(i + 1) * 0x10000 + 0x1000, 0);
    reshape(&set, &n[3], n[3].start, n[3].end, n[3].start);
    assert_int_equal(n[3].gap, 0);
    assert_int_equal(n[4].gap, 0xf000);
    assert_int_equal(vmar_iset_sub_gap(set.root), 0x10000); /* [0, 0x10000) */
    assert_int_equal(UP(&set, 0x11000, TOP, 0xf000, PG, 0), 0x11000);
    assert_int_equal(DOWN(&set, 0, 0x50000, 0xf000, PG, 0), 0x41000);
    assert_int_equal(DOWN(&set, 0, 0x41000, 0xf000, PG, 0), 0x21000);
    assert_int_equal(DOWN(&set, 0x10000, 0x41000, 0xf000 + PG, PG, 0), none);
    assert_int_equal(UP(&set, 0x31000, 0x41000, PG, PG, 0), none);
    assert_int_equal(UP(&set, 0x31000, TOP, PG, PG, 0), 0x41000);
    for (i = 0; i < 5; i++)
        del(&set, &n[i]);
}

static void test_guard_clamps_at_zero(void **state)
{
    struct vmar_iset set;
    struct vmar_iset_node a, b;

    (void)state;
    vmar_iset_init(&set);
    add(&set, &a, 0x3000, 0x4000, 0x10000); /* guard > start: eff = 0 */
    assert_int_equal(a.gap, 0);
    assert_int_equal(UP(&set, 0, TOP, PG, PG, 0), 0x4000);
    assert_int_equal(DOWN(&set, 0, 0x3000, 1, 1, 0), none);
    reshape(&set, &a, 0x3000, 0x4000, 0x3000); /* guard == start: eff = 0 */
    assert_int_equal(a.gap, 0);
    assert_int_equal(UP(&set, 0, TOP, PG, PG, 0), 0x4000);
    reshape(&set, &a, 0x3000, 0x4000, TOP); /* the largest guard */
    assert_int_equal(a.gap, 0);
    add(&set, &b, 0x8000, 0x9000, TOP);
    assert_int_equal(b.gap, 0);
    assert_int_equal(vmar_iset_sub_gap(set.root), 0);
    assert_int_equal(UP(&set, 0, TOP, PG, PG, 0), 0x9000);
    reshape(&set, &a, 0x3000, 0x4000, 0x1000);
    assert_int_equal(a.gap, 0x2000);
    assert_int_equal(DOWN(&set, 0, TOP, 0x2000, PG, 0), TOP - 0x3000 + 1);
    assert_int_equal(DOWN(&set, 0, 0x9000, 0x2000, PG, 0), 0);
    assert_int_equal(DOWN(&set, 0, 0x9000, 0x2001, 1, 0), none);
}

/* ---- find_free ---------------------------------------------------------- */

/* Three mappings at 1 GiB, 3 GiB and 8 GiB, one page each. */
static void three_nodes(struct vmar_iset *set, struct vmar_iset_node n[3])
{
    vmar_iset_init(set);
    add(set, &n[0], 1 * GIB, 1 * GIB + PG, 0);
    add(set, &n[1], 3 * GIB, 3 * GIB + PG, 0);
    add(set, &n[2], 8 * GIB, 8 * GIB + PG, 0);
}

static void test_find_free_directions(void **state)
{
    struct vmar_iset set;
    struct vmar_iset_node n[3];

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
}

static void test_find_free_alignment(void **state)
{
    struct vmar_iset set;
    struct vmar_iset_node n[3];

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
}

static void test_find_free_pre(void **state)
{
    struct vmar_iset set;
    struct vmar_iset_node n[3];

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
}

static void test_find_free_window_edges(void **state)
{
    struct vmar_iset set;
    struct vmar_iset_node n[3];
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
}

static void test_find_free_near_top(void **state)
{
    struct vmar_iset set;
    struct vmar_iset_node a, b;

    (void)state;
    vmar_iset_init(&set);
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
    assert_int_equal(vmar_iset_last(&set)->end, TOP);
    assert_int_equal(b.gap, 0);
    assert_int_equal(vmar_iset_sub_gap(set.root), ENDPG - 4 * PG); /* [0, a) */
}

#define FILL_N 64

static void test_find_free_exhaustion(void **state)
{
    struct vmar_iset set;
    struct vmar_iset_node n[FILL_N], all;
    int i;

    (void)state;
    vmar_iset_init(&set);
    /* Fill [1 MiB, 1 MiB + 64 pages) page by page: the window is full. */
    for (i = 0; i < FILL_N; i++) {
        vmar_addr_t s = MIB + (vmar_addr_t)i * PG;

        assert_int_equal(UP(&set, MIB, MIB + FILL_N * PG, PG, PG, 0), s);
        add(&set, &n[i], s, s + PG, 0);
    }
    assert_int_equal(vmar_iset_sub_gap(set.root), MIB); /* only [0, 1 MiB) */
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
}

static void test_find_free_malformed(void **state)
{
    struct vmar_iset set;

    (void)state;
    vmar_iset_init(&set);
    /* The header requires size > 0 and a power-of-two alignment; the set
     * answers "no fit" instead of misbehaving. */
    assert_int_equal(UP(&set, 0, TOP, 0, PG, 0), none);
    assert_int_equal(UP(&set, 0, TOP, PG, 0, 0), none);
    assert_int_equal(UP(&set, 0, TOP, PG, 3 * PG, 0), none);
}

/* ---- the checker catches corruption ------------------------------------- */

#define CHK_N 7

static void test_check_detects_corruption(void **state)
{
    struct vmar_iset set;
    struct vmar_iset_node n[CHK_N], *r, *l, saved;
    int i;

    (void)state;
    vmar_iset_init(&set);
    for (i = 0; i < CHK_N; i++)
        add(&set, &n[i], (vmar_addr_t)(i + 1) * 0x10000,
            (vmar_addr_t)(i + 1) * 0x10000 + 0x1000, 0);
    r = set.root;
    l = r->left;

    r->lsub++;
    assert_non_null(vmar_iset_check(&set));
    r->lsub--;
    r->rsub++;
    assert_non_null(vmar_iset_check(&set));
    r->rsub--;
    l->gap++;
    assert_non_null(vmar_iset_check(&set));
    l->gap--;
    l->lsub--;
    assert_non_null(vmar_iset_check(&set));
    l->lsub++;
    /* The balance factor in the low bits: wrong, then no balance at all. */
    saved = *l;
    l->parent_bal =
        (l->parent_bal & ~(uintptr_t)3) | ((l->parent_bal & 3) == 1 ? 2u : 1u);
    assert_non_null(vmar_iset_check(&set));
    l->parent_bal |= 3;
    assert_non_null(vmar_iset_check(&set));
    l->parent_bal = saved.parent_bal;
    l->parent_bal &= 3; /* parent NULL, balance kept */
    assert_non_null(vmar_iset_check(&set));
    l->parent_bal = saved.parent_bal;
    set.count++;
    assert_non_null(vmar_iset_check(&set));
    set.count--;
    check_set(&set);

    /* Changing a field without vmar_iset_update() is caught. */
    saved = *l->left;
    l->left->guard = 0x1000;
    assert_non_null(vmar_iset_check(&set));
    *l->left = saved;
    l->left->end = l->start + 1; /* overlap */
    assert_non_null(vmar_iset_check(&set));
    *l->left = saved;
    l->left->end = l->left->start; /* empty */
    assert_non_null(vmar_iset_check(&set));
    *l->left = saved;
    check_set(&set);

    /* A cycle (both children the same node) must not hang the checker. */
    saved = *l;
    l->right = l->left;
    assert_non_null(vmar_iset_check(&set));
    *l = saved;
    check_set(&set);
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
    struct vmar_iset_node node;
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
    struct vmar_iset set;
    struct rslot *slot;
    uint32_t *perm;
    struct rgap *gap;
    size_t ngap;
    size_t live;
    size_t ops;
    bool check_all; /* check after every op, not only the first ones */
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
    s->node.guard = 0;
    if (rnd_below(&r->rng, 6) == 0)
        s->node.guard = rnd_log(&r->rng, 24) * PG; /* up to 128 GiB */
    if (rnd_below(&r->rng, 64) == 0)
        s->node.guard = TOP - rnd_below(&r->rng, 3);
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
    if (r->check_all || r->ops <= 2000 || r->ops % 4096 == 0)
        check_set(&r->set);
}

static void op_insert(struct rstate *r, struct rslot *s)
{
    slot_place(r, s);
    vmar_iset_insert(&r->set, &s->node);
    s->live = true;
    r->live++;
    after_op(r);
}

static void op_remove(struct rstate *r, struct rslot *s)
{
    vmar_iset_remove(&r->set, &s->node);
    s->live = false;
    r->live--;
    after_op(r);
}

static void op_update(struct rstate *r, struct rslot *s)
{
    slot_place(r, s); /* stays inside its slot: order is kept */
    vmar_iset_update(&r->set, &s->node);
    after_op(r);
}

/*
 * Split a live slot's interval at a random page with a temporary tail,
 * check, and merge it back: the model sees no change.
 */
static void op_split_merge(struct rstate *r, struct rslot *s)
{
    struct vmar_iset_node tail, *n = &s->node;
    vmar_addr_t end = n->end, pages = (end - n->start) / PG;
    vmar_addr_t at;

    if (pages < 2)
        return;
    at = n->start + (1 + rnd_below(&r->rng, pages - 1)) * PG;
    memset(&tail, 0xa5, sizeof(tail));
    tail.guard = rnd_below(&r->rng, 2) ? n->guard : rnd_log(&r->rng, 24) * PG;
    vmar_iset_split(&r->set, n, at, &tail);
    assert_int_equal(n->end, at);
    assert_int_equal(tail.start, at);
    assert_int_equal(tail.end, end);
    assert_ptr_equal(vmar_iset_next(n), &tail);
    after_op(r);
    vmar_iset_merge_next(&r->set, n, &tail);
    assert_int_equal(n->end, end);
    assert_null(vmar_iset_parent(&tail));
    after_op(r);
}

/* One random op on a random slot among the first `n` of the permutation. */
static void op_random(struct rstate *r, uint32_t n)
{
    struct rslot *s = &r->slot[r->perm[rnd_below(&r->rng, n)]];
    unsigned k = (unsigned)rnd_below(&r->rng, 8);

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
        const struct vmar_iset_node *n = &r->slot[i].node;
        vmar_addr_t eff = n->guard >= n->start ? 0 : n->start - n->guard;

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
static bool ref_valid(const struct rstate *r, const struct vmar_iset_query *q,
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
static bool ref_find(const struct rstate *r, const struct vmar_iset_query *q,
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

static void rnd_query(struct rstate *r, struct vmar_iset_query *q)
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

static void one_query(struct rstate *r, size_t *hits)
{
    struct vmar_iset_query q;
    vmar_addr_t got = none, want = 0;
    bool ok, ref;

    rnd_query(r, &q);
    ok = vmar_iset_find_free(&r->set, &q, &got);
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
    vmar_iset_init(&r->set);
    slots_init(r);
    build(r);
    assert_true(r->live >= R_MIN_LIVE);
    assert_int_equal(r->set.count, r->live);

    for (round = 0; round < R_ROUNDS; round++) {
        if (round > 0) {
            for (i = 0; i < 5000; i++)
                op_random(r, R_SLOTS);
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
    printf("[ INFO     ] %zu live nodes, %zu ops, %zu/%u queries fit\n",
           r->live, r->ops, hits, R_QUERIES);

    while (r->set.root)
        vmar_iset_remove(&r->set, r->set.root);
    check_set(&r->set);
    free(r->gap);
    free(r->perm);
    free(r->slot);
    free(r);
}

/*
 * The retrace stops at the first ancestor whose height and stored summary
 * come out unchanged, and an update or remove also moves the successor's
 * gap. A stop one level too early leaves a stale cache that only a later
 * op would expose, so here every op on a few hundred slots (inserts,
 * removes, in-place moves of start, end and guard, many of them touching
 * their neighbours) is followed by a full check, and the set is queried
 * against the model throughout.
 */
#define E_SLOTS 400u
#define E_OPS   60000u

static void test_random_every_op_checked(void **state)
{
    struct rstate *r = calloc(1, sizeof(*r));
    size_t i, hits = 0;

    (void)state;
    assert_non_null(r);
    r->seed = r->rng = test_seed();
    r->check_all = true;
    r->slot = calloc(R_SLOTS, sizeof(*r->slot));
    r->perm = calloc(R_SLOTS, sizeof(*r->perm));
    r->gap = calloc(R_SLOTS + 1, sizeof(*r->gap));
    assert_true(r->slot && r->perm && r->gap);
    vmar_iset_init(&r->set);
    slots_init(r);
    for (i = 0; i < E_OPS; i++) {
        op_random(r, E_SLOTS);
        if (i % 64 == 0) {
            model_gaps(r);
            one_query(r, &hits);
        }
    }
    assert_int_equal(r->set.count, r->live);
    while (r->set.root) {
        vmar_iset_remove(&r->set, r->set.root);
        check_set(&r->set);
    }
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
    struct vmar_iset set;
    struct vmar_iset_node node[S_NODES]; /* in address order */
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

    vmar_iset_init(&t->set);
    for (t->n = 0; t->n < S_NODES; t->n++) {
        vmar_addr_t start = at + srnd(t, 40), len = 1 + srnd(t, 40);
        struct vmar_iset_node *n = &t->node[t->n];

        if (start + len > S_SPAN - 1) /* at the top, end may be TOP */
            break;
        memset(n, 0, sizeof(*n));
        n->start = t->base + start;
        n->end = t->base + start + len;
        n->guard = srnd(t, 3) ? 0 : srnd(t, 64);
        if (srnd(t, 16) == 0)
            n->guard = TOP;
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
        vmar_iset_insert(&t->set, &t->node[order[i]]);
        check_set(&t->set);
    }
}

/* Whether [a, b) lies inside one free gap of the header's definition. */
static bool small_free(const struct small *t, u128 a, u128 b)
{
    u128 prev_end = 0;
    size_t i;

    for (i = 0; i <= t->n; i++) {
        const struct vmar_iset_node *n = &t->node[i];
        u128 eff = (u128)1 << 64;

        if (i < t->n)
            eff = n->start > n->guard ? n->start - n->guard : 0;
        if (prev_end <= a && b <= eff)
            return true;
        if (i < t->n)
            prev_end = n->end;
    }
    return false;
}

static bool small_ref(const struct small *t, const struct vmar_iset_query *q,
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
    struct vmar_iset_query q;
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
    ok = vmar_iset_find_free(&t->set, &q, &got);
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
            struct vmar_iset_node *n = &t->node[srnd(t, t->n)];

            n->guard = 0;
            vmar_iset_update(&t->set, n);
            check_set(&t->set);
            for (i = 0; i < 10; i++, total++)
                small_query(t, &hits);
        }
    }
    assert_true(hits > total / 4 && hits < total - total / 4);
    printf("[ INFO     ] %u/%u queries fit\n", hits, total);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_insert_lookup),
        cmocka_unit_test(test_single_node_cache),
        cmocka_unit_test(test_rotations),
        cmocka_unit_test(test_remove),
        cmocka_unit_test(test_remove_two_children),
        cmocka_unit_test(test_update),
        cmocka_unit_test(test_split_merge_next),
        cmocka_unit_test(test_guard_clips_gap_below),
        cmocka_unit_test(test_guard_beyond_prev),
        cmocka_unit_test(test_guard_spans_nodes),
        cmocka_unit_test(test_guard_clamps_at_zero),
        cmocka_unit_test(test_find_free_directions),
        cmocka_unit_test(test_find_free_alignment),
        cmocka_unit_test(test_find_free_pre),
        cmocka_unit_test(test_find_free_window_edges),
        cmocka_unit_test(test_find_free_near_top),
        cmocka_unit_test(test_find_free_exhaustion),
        cmocka_unit_test(test_find_free_malformed),
        cmocka_unit_test(test_check_detects_corruption),
        cmocka_unit_test(test_random_differential),
        cmocka_unit_test(test_random_every_op_checked),
        cmocka_unit_test(test_random_small_exhaustive),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
