/* SPDX-License-Identifier: MIT */
/*
 * The merge predicate (vmar__mapping_can_merge, src/core/mapping.h),
 * table-driven on hand-built mappings: which attributes keep two
 * neighbours apart, and that the predicate reads nothing else of a
 * mapping. White-box: the mappings are built field by field.
 * tests/unit/test_split_merge.c checks the merges vmar_map() and
 * vmar_protect() make through the public API.
 */
#include "harness.h"

#include <string.h>

#include "core/mapping.h"

#define R    ((unsigned)VMAR_PROT_READ)
#define X    ((unsigned)VMAR_PROT_EXEC)
#define RW   (R | (unsigned)VMAR_PROT_WRITE)
#define RX   (R | X)
#define RWX  ((unsigned)VMAR_PROT_RWX)
#define NONE ((unsigned)VMAR_PROT_NONE)

struct attrs {
    unsigned prot, max_prot, flags;
    enum vmar_backing backing;
    uint64_t offset;
    int object; /* 0: none, 1 or 2: one of two distinct objects */
};

static struct vmar_object pred_objects[3];

enum where {
    ADJACENT, /* a = [0x10000, 0x12000), b = [0x12000, 0x14000) */
    GAP,      /* b starts one page after a ends */
    REVERSED, /* b = [0xe000, 0x10000): b ends where a starts */
    OVERLAP,  /* b starts one page before a ends */
};

static void build(struct vmar__mapping *m, const struct attrs *at,
                  vmar_addr_t start, vmar_addr_t end)
{
    memset(m, 0xa5, sizeof(*m)); /* the predicate must not read the rest */
    m->node.start = start;
    m->node.end = end;
    vmar__iset_node_set_guarded(&m->node, (at->flags & VMAR_MAP_STACK) != 0);
    m->prot = at->prot;
    m->max_prot = at->max_prot;
    m->flags = at->flags;
    m->backing = at->backing;
    /* Only private anonymous memory has the short form (mapping.h). */
    if (at->backing != VMAR_BACKING_ANON || at->flags & VMAR_MAP_SHARED) {
        m->flags |= VMAR_MAPPING_FULL;
        m->ext.offset = at->offset;
        m->ext.object = at->object ? &pred_objects[at->object] : NULL;
    }
}

#define ANON(p, mp, fl)                                                        \
    {                                                                          \
        (p), (mp), (fl), VMAR_BACKING_ANON, 0, 0                               \
    }

static void test_merge_predicate_table(void **state)
{
    static const struct {
        const char *what;
        struct attrs a, b;
        enum where where;
        bool expected;
    } rows[] = {
        {"identical, adjacent", ANON(RW, RWX, 0), ANON(RW, RWX, 0), ADJACENT,
         true},
        {"identical, gap", ANON(RW, RWX, 0), ANON(RW, RWX, 0), GAP, false},
        {"identical, b before a", ANON(RW, RWX, 0), ANON(RW, RWX, 0), REVERSED,
         false},
        {"identical, overlapping", ANON(RW, RWX, 0), ANON(RW, RWX, 0), OVERLAP,
         false},
        {"prot differs", ANON(RW, RWX, 0), ANON(R, RWX, 0), ADJACENT, false},
        {"prot differs (exec)", ANON(R, RWX, 0), ANON(RX, RWX, 0), ADJACENT,
         false},
        {"max_prot differs", ANON(R, RWX, 0), ANON(R, RX, 0), ADJACENT, false},
        {"max_prot same, restricted", ANON(R, RX, 0), ANON(R, RX, 0), ADJACENT,
         true},
        {"both PROT_NONE", ANON(NONE, RWX, 0), ANON(NONE, RWX, 0), ADJACENT,
         true},
        {"shared vs private", ANON(RW, RWX, VMAR_MAP_SHARED), ANON(RW, RWX, 0),
         ADJACENT, false},
        {"private vs shared", ANON(RW, RWX, 0), ANON(RW, RWX, VMAR_MAP_SHARED),
         ADJACENT, false},
        {"shared anonymous, one object, contiguous",
         {RW, RWX, VMAR_MAP_SHARED, VMAR_BACKING_ANON, 0, 1},
         {RW, RWX, VMAR_MAP_SHARED, VMAR_BACKING_ANON, 0x2000, 1},
         ADJACENT,
         true},
        {"shared anonymous, two objects",
         {RW, RWX, VMAR_MAP_SHARED, VMAR_BACKING_ANON, 0, 1},
         {RW, RWX, VMAR_MAP_SHARED, VMAR_BACKING_ANON, 0x2000, 2},
         ADJACENT,
         false},
        {"object, contiguous",
         {RW, RWX, 0, VMAR_BACKING_OBJECT, 0x1000, 1},
         {RW, RWX, 0, VMAR_BACKING_OBJECT, 0x3000, 1},
         ADJACENT,
         true},
        {"object, two objects",
         {RW, RWX, 0, VMAR_BACKING_OBJECT, 0x1000, 1},
         {RW, RWX, 0, VMAR_BACKING_OBJECT, 0x3000, 2},
         ADJACENT,
         false},
        {"stack vs not", ANON(RW, RWX, VMAR_MAP_STACK), ANON(RW, RWX, 0),
         ADJACENT, false},
        {"not vs stack", ANON(RW, RWX, 0), ANON(RW, RWX, VMAR_MAP_STACK),
         ADJACENT, false},
        {"both stack", ANON(RW, RWX, VMAR_MAP_STACK),
         ANON(RW, RWX, VMAR_MAP_STACK), ADJACENT, true},
        {"both stack, gap", ANON(RW, RWX, VMAR_MAP_STACK),
         ANON(RW, RWX, VMAR_MAP_STACK), GAP, false},
        {"shared stack vs stack",
         ANON(RW, RWX, VMAR_MAP_SHARED | VMAR_MAP_STACK),
         ANON(RW, RWX, VMAR_MAP_STACK), ADJACENT, false},
        {"both shared stack, one object, contiguous",
         {R, R, VMAR_MAP_SHARED | VMAR_MAP_STACK, VMAR_BACKING_ANON, 0, 1},
         {R, R, VMAR_MAP_SHARED | VMAR_MAP_STACK, VMAR_BACKING_ANON, 0x2000, 1},
         ADJACENT,
         true},
        {"anon vs object",
         ANON(RW, RWX, 0),
         {RW, RWX, 0, VMAR_BACKING_OBJECT, 0x2000, 1},
         ADJACENT,
         false},
        {"object vs anon",
         {RW, RWX, 0, VMAR_BACKING_OBJECT, 0, 1},
         ANON(RW, RWX, 0),
         ADJACENT,
         false},
        {"object, offsets not contiguous",
         {RW, RWX, 0, VMAR_BACKING_OBJECT, 0, 1},
         {RW, RWX, 0, VMAR_BACKING_OBJECT, 0x5000, 1},
         ADJACENT,
         false},
        {"anon vs device",
         ANON(RW, RWX, 0),
         {RW, RWX, 0, VMAR_BACKING_DEVICE, 0, 0},
         ADJACENT,
         false},
    };
    const vmar_addr_t s = 0x10000, e = 0x12000, len = 0x2000;
    size_t trues = 0, falses = 0;
    (void)state;

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct vmar__mapping a, b;
        vmar_addr_t bs;

        switch (rows[i].where) {
        case ADJACENT:
            bs = e;
            break;
        case GAP:
            bs = e + PG;
            break;
        case REVERSED:
            bs = s - len;
            break;
        case OVERLAP:
        default:
            bs = e - PG;
            break;
        }
        build(&a, &rows[i].a, s, e);
        build(&b, &rows[i].b, bs, bs + len);
        bool got = vmar__mapping_can_merge(&a, &b);
        if (got != rows[i].expected)
            fail_msg("row %zu (%s): can_merge = %d, expected %d", i,
                     rows[i].what, got, rows[i].expected);
        /* The predicate is about the ordered pair (a then b): a mergeable
         * pair swapped is never mergeable (b does not end where a starts). */
        if (rows[i].where == ADJACENT && vmar__mapping_can_merge(&b, &a))
            fail_msg("row %zu (%s): swapped pair reported mergeable", i,
                     rows[i].what);
        /* Symmetric in attributes: swapping the attributes of an adjacent
         * pair gives the same answer. */
        if (rows[i].where == ADJACENT && !rows[i].a.object &&
            !rows[i].b.object) {
            build(&a, &rows[i].b, s, e);
            build(&b, &rows[i].a, e, e + len);
            if (vmar__mapping_can_merge(&a, &b) != rows[i].expected)
                fail_msg("row %zu (%s): not symmetric in attributes", i,
                         rows[i].what);
        }
        if (rows[i].expected)
            trues++;
        else
            falses++;
    }
    assert_true(trues >= 5 && falses >= 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_predicate_table),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
