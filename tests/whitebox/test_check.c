/* SPDX-License-Identifier: MIT */
/*
 * vmar_check() must catch what it promises to catch. Each test corrupts
 * one fact behind the library's back (through the private headers), asserts
 * VMAR_ECORRUPT, restores the fact and asserts the space is clean again.
 */
#include "harness.h"

#include "core/mapping.h"

#define BASE ((vmar_addr_t)0x40000000)

static struct vmar__mapping *mapping_at(struct vt *vt, vmar_addr_t addr)
{
    struct vmar__iset_node *n = vmar__iset_find(&vt->space->set, addr);
    assert_non_null(n);
    return vmar__mapping_of(n);
}

/* Three mappings r--, rw-, r-- at BASE, the middle one populated. */
static void setup3(struct vt *vt, const struct vmar_space_opts *o)
{
    vt_setup(vt, o, 256);
    assert_int_equal(
        vt_map(vt, BASE, 2 * PG, VMAR_PROT_READ, VMAR_PLACE_FIXED, 0, NULL), 0);
    assert_int_equal(vt_map(vt, BASE + 2 * PG, 2 * PG,
                            VMAR_PROT_READ | VMAR_PROT_WRITE, VMAR_PLACE_FIXED,
                            VMAR_MAP_POPULATE, NULL),
                     0);
    assert_int_equal(vt_map(vt, BASE + 4 * PG, 2 * PG, VMAR_PROT_READ,
                            VMAR_PLACE_FIXED, 0, NULL),
                     0);
}

static void test_clean(void **state)
{
    struct vt vt;
    (void)state;
    setup3(&vt, NULL);
    assert_int_equal(vmar_check(vt.space), 0);
    vt_teardown(&vt);
}

static void test_unmerged_neighbours(void **state)
{
    struct vt vt;
    (void)state;
    setup3(&vt, NULL);
    struct vmar__mapping *m = mapping_at(&vt, BASE + 2 * PG);
    m->prot = VMAR_PROT_READ; /* now equal to both neighbours */
    assert_int_equal(vmar_check(vt.space), VMAR_ECORRUPT);
    m->prot = VMAR_PROT_READ | VMAR_PROT_WRITE;
    VT_CHECK(&vt);
    vt_teardown(&vt);
}

static void test_counters(void **state)
{
    struct vt vt;
    (void)state;
    setup3(&vt, NULL);
    vt.space->total_vm += PG;
    assert_int_equal(vmar_check(vt.space), VMAR_ECORRUPT);
    vt.space->total_vm -= PG;
    vt.space->pt[0].rss_anon++;
    assert_int_equal(vmar_check(vt.space), VMAR_ECORRUPT);
    vt.space->pt[0].rss_anon--;
    vt.space->pt[0].rss_file++;
    assert_int_equal(vmar_check(vt.space), VMAR_ECORRUPT);
    vt.space->pt[0].rss_file--;
    vt.space->set.count++;
    assert_int_equal(vmar_check(vt.space), VMAR_ECORRUPT);
    vt.space->set.count--;
    VT_CHECK(&vt);
    vt_teardown(&vt);
}

/*
 * The interval set's index (a B+tree, core/interval_set.h): cached leaf
 * gaps and keys, inner keys and gaps, an element's back pointer to its
 * leaf and a leaf's slot count, first with the three mappings in one leaf
 * (the root), then with enough mappings for inner nodes. vmar_check()
 * runs vmar__iset_check(); each fact is restored so the space is torn
 * down through an intact index.
 */
#define IDX_EXTRA 40

static void test_index_corruption(void **state)
{
    struct vt vt;
    struct vmar__iset *set;
    struct vmar__iset_index *leaf, *leaf2, *root;
    struct vmar__iset_node *e;
    uint32_t count;
    int i;
    (void)state;
    setup3(&vt, NULL);
    set = &vt.space->set;
    assert_int_equal(set->levels, 1); /* one leaf, the root */
    leaf = set->root;
    assert_int_equal(leaf->count, 3);
    leaf->gap[1] += PG;
    assert_int_equal(vmar_check(vt.space), VMAR_ECORRUPT);
    leaf->gap[1] -= PG;
    leaf->key[2] += PG;
    assert_int_equal(vmar_check(vt.space), VMAR_ECORRUPT);
    leaf->key[2] -= PG;
    e = leaf->ptr[1];
    e->leaf_bits = 0;
    assert_int_equal(vmar_check(vt.space), VMAR_ECORRUPT);
    e->leaf_bits = (uintptr_t)leaf;
    leaf->count--; /* the last mapping drops out of the index */
    assert_int_equal(vmar_check(vt.space), VMAR_ECORRUPT);
    leaf->count++;
    VT_CHECK(&vt);

    /* Mappings with holes between them (no merging) until the index has
     * inner nodes. */
    for (i = 0; i < IDX_EXTRA; i++)
        assert_int_equal(vt_map(&vt, BASE + (vmar_addr_t)(64 + 2 * i) * PG, PG,
                                VMAR_PROT_READ, VMAR_PLACE_FIXED, 0, NULL),
                         0);
    assert_true(set->levels >= 2);
    root = set->root;
    assert_true(root->count >= 2);
    root->key[1] += PG;
    assert_int_equal(vmar_check(vt.space), VMAR_ECORRUPT);
    root->key[1] -= PG;
    root->gap[0] += PG;
    assert_int_equal(vmar_check(vt.space), VMAR_ECORRUPT);
    root->gap[0] -= PG;
    VT_CHECK(&vt);

    /* A leaf other than the root: the back pointer to a sibling leaf,
     * and a slot count one short (its last element drops out). */
    e = vmar__iset_find(set, BASE + 64 * PG + 2 * (IDX_EXTRA / 2) * PG);
    assert_non_null(e);
    leaf = vmar__iset_node_leaf(e);
    leaf2 = leaf->next ? leaf->next : leaf->prev;
    assert_non_null(leaf2);
    e->leaf_bits = (uintptr_t)leaf2;
    assert_int_equal(vmar_check(vt.space), VMAR_ECORRUPT);
    e->leaf_bits = (uintptr_t)leaf;
    VT_CHECK(&vt);
    count = leaf->count;
    leaf->count = count - 1;
    assert_int_equal(vmar_check(vt.space), VMAR_ECORRUPT);
    leaf->count = count;
    VT_CHECK(&vt);
    vt_teardown(&vt);
}

static void test_prot_beyond_max(void **state)
{
    struct vt vt;
    (void)state;
    setup3(&vt, NULL);
    struct vmar__mapping *m = mapping_at(&vt, BASE);
    m->max_prot = VMAR_PROT_NONE;
    assert_int_equal(vmar_check(vt.space), VMAR_ECORRUPT);
    m->max_prot = VMAR_PROT_RWX;
    VT_CHECK(&vt);
    vt_teardown(&vt);
}

/* A leaf where no mapping is, and a leaf granting more than its mapping. */
static void test_stray_and_excess_leaves(void **state)
{
    struct vt vt;
    struct vmar_frame_list resv = {0, 0};
    struct vmar_tlb_batch batch;
    struct vmar_space *s;
    (void)state;

    setup3(&vt, NULL);
    s = vt.space;
    /* Stray: a managed frame mapped in the hole above the mappings. */
    vmar_addr_t stray = BASE + 16 * PG;
    struct vmar_pte pte = {.prot = VMAR_PROT_READ, .flags = VMAR_PTE_MANAGED};
    assert_int_equal(s->ops->prepare(s->mmu, stray, PG, VMAR_PREP_MAP, &resv),
                     0);
    assert_int_equal(vt.env->frame_alloc(vt.env->ctx, VMAR_FRAME_ZERO, &pte.pa),
                     0);
    /* One reference, anonymous (the word's top bit), as libvmar would. */
    *vt.env->frame_refcount(vt.env->ctx, pte.pa) =
        1 | ((size_t)1 << (sizeof(size_t) * 8 - 1));
    s->ops->map(s->mmu, stray, &pte, &resv);
    vmar_frame_list_release(vt.env, &resv);
    s->pt[0]
        .rss_anon++; /* keep the counter right so only the position is wrong */
    assert_int_equal(vmar_check(s), VMAR_ECORRUPT);
    vmar_tlb_batch_init(&batch, vt.env, s->ops, s->mmu);
    s->ops->unmap(s->mmu, stray, PG, NULL, &batch);
    s->pt[0].rss_anon--; /* the stray page, anonymous, is gone again */
    vmar_tlb_batch_finish(&batch);
    VT_CHECK(&vt);

    /* Excess: make a populated rw- page executable behind the space. */
    vmar_tlb_batch_init(&batch, vt.env, s->ops, s->mmu);
    s->ops->protect(s->mmu, BASE + 2 * PG, PG, VMAR_PROT_RWX, NULL, &batch);
    assert_int_equal(vmar_check(s), VMAR_ECORRUPT);
    s->ops->protect(s->mmu, BASE + 2 * PG, PG, VMAR_PROT_READ | VMAR_PROT_WRITE,
                    NULL, &batch);
    vmar_tlb_batch_finish(&batch);
    VT_CHECK(&vt);
    vt_teardown(&vt);
}

static void test_guard_mismatch(void **state)
{
    struct vt vt;
    struct vmar_space_opts o = {.stack_guard = 4 * PG};
    (void)state;
    setup3(&vt, &o);
    assert_int_equal(vt_map(&vt, BASE + 64 * PG, 4 * PG,
                            VMAR_PROT_READ | VMAR_PROT_WRITE, VMAR_PLACE_FIXED,
                            VMAR_MAP_STACK, NULL),
                     0);
    struct vmar__mapping *m = mapping_at(&vt, BASE + 64 * PG);
    assert_true(vmar__iset_node_guarded(&m->node));
    assert_int_equal(vt.space->set.guard, 4 * PG);
    vmar__iset_node_set_guarded(&m->node, false);
    vmar__iset_update(&vt.space->set, &m->node);
    assert_int_equal(vmar_check(vt.space), VMAR_ECORRUPT);
    vmar__iset_node_set_guarded(&m->node, true);
    vmar__iset_update(&vt.space->set, &m->node);
    VT_CHECK(&vt);
    vt_teardown(&vt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean),
        cmocka_unit_test(test_unmerged_neighbours),
        cmocka_unit_test(test_counters),
        cmocka_unit_test(test_index_corruption),
        cmocka_unit_test(test_prot_beyond_max),
        cmocka_unit_test(test_stray_and_excess_leaves),
        cmocka_unit_test(test_guard_mismatch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
