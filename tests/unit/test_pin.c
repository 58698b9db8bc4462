/* SPDX-License-Identifier: MIT */
/*
 * vmar_pin() / vmar_unpin() (Linux's pin_user_pages for DMA): a pin
 * faults its pages in, returns the frames the space maps, keeps them
 * after unmap and clear until the unpin, and keeps a pinned private page
 * the space's own: a write pin breaks copy-on-write, a read pin unshares
 * a page fork shared, a write fault reuses a pinned frame, and fork gives
 * the child a copy at once while the parent's page stays writable.
 * vmar_stats::pinned counts the pins. Errors (holes, device memory,
 * missing permission, rights, bad input, allocation failures) hold no
 * pin afterwards.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define R  ((unsigned)VMAR_PROT_READ)
#define W  ((unsigned)VMAR_PROT_WRITE)
#define RW (R | W)

#define FIXED VMAR_PLACE_FIXED
#define BASE  ((vmar_addr_t)0x40000000)
#define WPIN  VMAR_PIN_WRITE

static int pin(struct vt *vt, vmar_addr_t a, size_t n, unsigned f,
               vmar_paddr_t *pa)
{
    int rc = vmar_pin(vt->space, a, n, f, pa);
    VT_CHECK(vt);
    return rc;
}

static void unpin(struct vt *vt, const vmar_paddr_t *pa, size_t n)
{
    vmar_unpin(vt->space, pa, n);
    VT_CHECK(vt);
}

static size_t pinned(struct vt *vt)
{
    return vt_space_stats(vt).pinned;
}

static struct vmar_pte leaf(struct vt *vt, vmar_addr_t va)
{
    struct vmar_pte p = {0};

    VT_EXPECT_RC(vmar_space_translate(vt->space, va, &p), 0);
    return p;
}

static unsigned char *bytes_of(struct vt *vt, vmar_paddr_t pa)
{
    return vt->env->phys_to_virt(vt->env->ctx, pa);
}

/* Pins return the mapped frames and fault absent pages in; the frames
 * outlive unmap and clear, and the last unpin frees them. */
static void test_pin_unmap(void **state)
{
    struct vt vt;
    vmar_paddr_t pa[4];
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 4, RW, 0);
    vt_fill_pages(&vt, BASE, 2, 3);
    size_t frames = vt_frames_live(&vt);
    VT_EXPECT_RC(pin(&vt, BASE, 4, 0, pa), 0);
    assert_int_equal(pinned(&vt), 4);
    assert_int_equal(vt_frames_live(&vt), frames + 2); /* faulted in */
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(pa[i], leaf(&vt, BASE + i * PG).pa);
    /* A second pin of the same page counts again. */
    vmar_paddr_t again;
    VT_EXPECT_RC(pin(&vt, BASE, 1, WPIN, &again), 0);
    assert_int_equal(again, pa[0]);
    assert_int_equal(pinned(&vt), 5);
    VT_EXPECT_RC(vt_unmap(&vt, BASE, 4 * PG), 0);
    frames = vt_frames_live(&vt); /* the data frames pinned: kept */
    assert_int_equal(vt_frame_refs(vt.env, pa[0]), 0);
    assert_int_equal(bytes_of(&vt, pa[1])[7], vt_page_byte(3, 1));
    unpin(&vt, &again, 1);
    assert_int_equal(vt_frames_live(&vt), frames);
    unpin(&vt, pa, 4);
    assert_int_equal(pinned(&vt), 0);
    assert_int_equal(vt_frames_live(&vt), frames - 4);

    /* clear (exec) keeps them too. */
    vt_map_fixed(&vt, BASE, 2, RW, 0);
    VT_EXPECT_RC(pin(&vt, BASE, 2, WPIN, pa), 0);
    VT_EXPECT_RC(vmar_clear(vt.space), 0);
    VT_CHECK(&vt);
    assert_int_equal(pinned(&vt), 2);
    unpin(&vt, pa, 2);
    vt_teardown(&vt);
}

/* A write pin breaks copy-on-write; a read pin unshares a page fork
 * shared, even in a read-only mapping; the child keeps the old frame. */
static void test_pin_unshares(void **state)
{
    struct vt vt, child;
    vmar_paddr_t pa[2];
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_without_refdecoder(&vt);
    vt_map_fixed(&vt, BASE, 2, RW, 0);
    vt_fill_pages(&vt, BASE, 2, 5);
    vt_map_fixed(&vt, BASE + 4 * PG, 1, RW, 0);
    vt_fill_pages(&vt, BASE + 4 * PG, 1, 6);
    VT_EXPECT_RC(vt_protect(&vt, BASE + 4 * PG, PG, R), 0);
    VT_EXPECT_RC(vt_fork(&vt, &child), 0);
    child.refcheck = false;
    const vmar_paddr_t shared0 = leaf(&child, BASE).pa;
    const vmar_paddr_t shared4 = leaf(&child, BASE + 4 * PG).pa;
    assert_int_equal(leaf(&vt, BASE).pa, shared0);

    VT_EXPECT_RC(pin(&vt, BASE, 1, WPIN, &pa[0]), 0);
    assert_int_not_equal(pa[0], shared0);
    assert_true(leaf(&vt, BASE).prot & W);
    /* Read pin, writable mapping. */
    VT_EXPECT_RC(pin(&vt, BASE + PG, 1, 0, &pa[1]), 0);
    assert_int_not_equal(pa[1], leaf(&child, BASE + PG).pa);
    /* Read pin, read-only mapping: a copy, still read-only. */
    vmar_paddr_t ro;
    VT_EXPECT_RC(pin(&vt, BASE + 4 * PG, 1, 0, &ro), 0);
    assert_int_not_equal(ro, shared4);
    assert_false(leaf(&vt, BASE + 4 * PG).prot & W);
    assert_int_equal(leaf(&child, BASE + 4 * PG).pa, shared4);
    VT_EXPECT_PAGES(&vt, BASE, 2, 5);
    VT_EXPECT_PAGES(&child, BASE, 2, 5);
    VT_EXPECT_PAGES(&vt, BASE + 4 * PG, 1, 6);
    /* The parent's writes land in the pinned frames. */
    vt_poke(&vt, BASE + PG, 0xab);
    assert_int_equal(leaf(&vt, BASE + PG).pa, pa[1]);
    assert_int_equal(bytes_of(&vt, pa[1])[0], 0xab);
    assert_int_not_equal(vt_peek(&child, BASE + PG), 0xab);
    unpin(&vt, pa, 2);
    unpin(&vt, &ro, 1);
    vt_child_destroy(&child);
    vt_teardown(&vt);
}

/* Fork after a pin: the child gets its own copy at once; the parent's
 * page stays writable, its frame the pinned one, and a write fault
 * after a protect round trip reuses it. */
static void test_fork_copies_pinned(void **state)
{
    struct vt vt, child;
    vmar_paddr_t pa;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_without_refdecoder(&vt);
    vt_map_fixed(&vt, BASE, 4, RW, 0);
    vt_fill_pages(&vt, BASE, 4, 8);
    VT_EXPECT_RC(pin(&vt, BASE + PG, 1, WPIN, &pa), 0);
    const size_t frames = vt_frames_live(&vt);
    VT_EXPECT_RC(vt_fork(&vt, &child), 0);
    child.refcheck = false;
    assert_int_equal(pinned(&child), 0);
    struct vmar_pte p = leaf(&vt, BASE + PG), c = leaf(&child, BASE + PG);
    assert_int_equal(p.pa, pa);
    assert_true(p.prot & W);
    assert_int_not_equal(c.pa, pa);
    assert_true(c.prot & W);
    assert_int_equal(vt_frame_refs(vt.env, pa), 1);
    /* Unpinned pages are shared copy-on-write as usual. */
    assert_int_equal(leaf(&vt, BASE).pa, leaf(&child, BASE).pa);
    assert_false(leaf(&vt, BASE).prot & W);
    assert_true(vt_frames_live(&vt) > frames);
    VT_EXPECT_PAGES(&child, BASE, 4, 8);
    /* The device's writes are the parent's, not the child's. */
    bytes_of(&vt, pa)[3] = 0x5a;
    assert_int_equal(vt_peek(&vt, BASE + PG + 3), 0x5a);
    assert_int_not_equal(vt_peek(&child, BASE + PG + 3), 0x5a);
    vt_poke(&child, BASE + PG + 4, 0x11);
    assert_int_not_equal(bytes_of(&vt, pa)[4], 0x11);
    /* A read-only round trip: the write fault reuses the pinned frame. */
    VT_EXPECT_RC(vt_protect(&vt, BASE, 4 * PG, R), 0);
    VT_EXPECT_RC(vt_protect(&vt, BASE, 4 * PG, RW), 0);
    vt_poke(&vt, BASE + PG + 5, 0x22);
    assert_int_equal(leaf(&vt, BASE + PG).pa, pa);
    assert_int_equal(bytes_of(&vt, pa)[5], 0x22);
    vt_child_destroy(&child);
    unpin(&vt, &pa, 1);
    vt_teardown(&vt);
}

/* Object memory: a shared mapping pins the object's page, a private one
 * its copy when written; past the end of a shared one is VMAR_ENXIO. */
static void test_pin_objects(void **state)
{
    struct vt vt;
    struct vmar_object *obj;
    vmar_paddr_t pa[2];
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_without_refdecoder(&vt);
    assert_int_equal(vmar_memfd_create(vt.env, PG, &obj), 0);
    VT_EXPECT_RC(vt_map_object(&vt, BASE, 2 * PG, RW, VMAR_MAP_SHARED, obj, 0),
                 0);
    VT_EXPECT_RC(vt_map_object(&vt, BASE + 4 * PG, 2 * PG, RW, 0, obj, 0), 0);
    vmar_object_unref(obj);
    VT_EXPECT_RC(pin(&vt, BASE, 1, WPIN, &pa[0]), 0);
    VT_EXPECT_RC(pin(&vt, BASE + 4 * PG, 1, 0, &pa[1]), 0);
    assert_int_equal(pa[0], pa[1]); /* the object's page */
    unpin(&vt, &pa[1], 1);
    VT_EXPECT_RC(pin(&vt, BASE + 4 * PG, 1, WPIN, &pa[1]), 0);
    assert_int_not_equal(pa[0], pa[1]); /* a private copy */
    vt_expect_rss(&vt, 1, 1);
    vmar_paddr_t x;
    VT_EXPECT_FAILS(&vt, vmar_pin(vt.space, BASE + PG, 1, 0, &x), VMAR_ENXIO);
    assert_int_equal(pinned(&vt), 2);
    unpin(&vt, pa, 2);
    vt_teardown(&vt);
}

/* Bad input, holes, device memory, permissions, rights: an error and no
 * pin; a range that fails half-way gives back what it pinned. */
static void test_bad_input(void **state)
{
    struct vt vt;
    struct vmar_space *ro;
    vmar_paddr_t pa[4], dev;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 2, RW, 0);
    vt_fill_pages(&vt, BASE, 2, 1);
    vt_map_fixed(&vt, BASE + 4 * PG, 1, R, 0);
    vt_map_fixed(&vt, BASE + 6 * PG, 1, 0, 0);
    dev = vt_map_device_page(&vt, BASE + 8 * PG);
    VT_EXPECT_FAILS(&vt, vmar_pin(NULL, BASE, 1, 0, pa), VMAR_EINVAL);
    VT_EXPECT_FAILS(&vt, vmar_pin(vt.space, BASE, 1, 0, NULL), VMAR_EINVAL);
    VT_EXPECT_FAILS(&vt, vmar_pin(vt.space, BASE, 0, 0, pa), VMAR_EINVAL);
    VT_EXPECT_FAILS(&vt, vmar_pin(vt.space, BASE + 1, 1, 0, pa), VMAR_EINVAL);
    VT_EXPECT_FAILS(&vt, vmar_pin(vt.space, BASE, 1, 2, pa), VMAR_EINVAL);
    VT_EXPECT_FAILS(&vt, vmar_pin(vt.space, BASE, SIZE_MAX, 0, pa),
                    VMAR_EINVAL);
    VT_EXPECT_FAILS(&vt, vmar_pin(vt.space, 0, 1, 0, pa), VMAR_EINVAL);
    VT_EXPECT_FAILS(&vt, vmar_pin(vt.space, BASE + 2 * PG, 1, 0, pa),
                    VMAR_EFAULT);
    VT_EXPECT_FAILS(&vt, vmar_pin(vt.space, BASE + 4 * PG, 1, WPIN, pa),
                    VMAR_EFAULT);
    VT_EXPECT_FAILS(&vt, vmar_pin(vt.space, BASE + 6 * PG, 1, 0, pa),
                    VMAR_EFAULT);
    VT_EXPECT_FAILS(&vt, vmar_pin(vt.space, BASE + 8 * PG, 1, 0, pa),
                    VMAR_EFAULT);
    VT_EXPECT_FAILS(&vt, vmar_pin(vt.space, BASE + 8 * PG, 1, WPIN, pa),
                    VMAR_EFAULT);
    /* Two good pages, then a hole: nothing held. */
    VT_EXPECT_FAILS(&vt, vmar_pin(vt.space, BASE, 3, 0, pa), VMAR_EFAULT);
    assert_int_equal(vt_frame_refs(vt.env, leaf(&vt, BASE).pa), 1);
    assert_int_equal(
        vmar_space_dup(vt.space, VMAR_RIGHT_READ | VMAR_RIGHT_DUP, &ro), 0);
    VT_EXPECT_FAILS(&vt, vmar_pin(ro, BASE, 1, WPIN, pa), VMAR_EACCES);
    VT_EXPECT_RC(vmar_pin(ro, BASE, 1, 0, pa), 0);
    vmar_unpin(ro, pa, 1);
    vmar_space_destroy(ro);
    assert_int_equal(
        vmar_space_dup(vt.space, VMAR_RIGHT_WRITE | VMAR_RIGHT_DUP, &ro), 0);
    VT_EXPECT_FAILS(&vt, vmar_pin(ro, BASE, 1, 0, pa), VMAR_EACCES);
    vmar_space_destroy(ro);
    assert_int_equal(pinned(&vt), 0);
    VT_EXPECT_RC(vt_unmap(&vt, BASE + 8 * PG, PG), 0);
    vt.env->frame_free(vt.env->ctx, dev);
    vt_teardown(&vt);
}

/* Every allocation a pin makes (a demand-zero frame, a table page, an
 * unsharing copy) failing: VMAR_ENOMEM and no pin held; the pages
 * faulted in before it stay, as after vmar_fault(). Fork's copy of a
 * pinned page failing: the parent unchanged. */
static void test_oom(void **state)
{
    struct vt vt, child;
    vmar_paddr_t pa[4];
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_without_refdecoder(&vt);
    size_t failed = 0;
    for (size_t n = 1;; n++) {
        vt_map_fixed(&vt, BASE, 4, RW, 0);
        vmar_sim_fail_after(vt.sim, n, VMAR_SIM_FAIL_ANY, false);
        int rc = vmar_pin(vt.space, BASE, 4, WPIN, pa);
        vmar_sim_fail_after(vt.sim, 0, 0, false);
        VT_CHECK(&vt);
        if (rc == 0) {
            unpin(&vt, pa, 4);
            break;
        }
        VT_EXPECT_RC(rc, VMAR_ENOMEM);
        assert_int_equal(pinned(&vt), 0);
        VT_EXPECT_RC(vt_unmap(&vt, BASE, 4 * PG), 0);
        failed++;
    }
    assert_true(failed >= 4);

    /* Unsharing copies, after a fork. */
    vt_fill_pages(&vt, BASE, 4, 2);
    VT_EXPECT_RC(vt_fork(&vt, &child), 0);
    child.refcheck = false;
    /* The n-th copy failing; the pages unshared before it stay so. */
    for (size_t n = 1;; n++) {
        vmar_sim_fail_after(vt.sim, n, VMAR_SIM_FAIL_DATA, false);
        int rc = vmar_pin(vt.space, BASE, 4, 0, pa);
        vmar_sim_fail_after(vt.sim, 0, 0, false);
        VT_CHECK(&vt);
        if (rc == 0) {
            assert_true(n >= 3);
            break;
        }
        VT_EXPECT_RC(rc, VMAR_ENOMEM);
        assert_int_equal(pinned(&vt), 0);
    }
    VT_EXPECT_PAGES(&vt, BASE, 4, 2);
    VT_EXPECT_PAGES(&child, BASE, 4, 2);
    vt_child_destroy(&child);

    /* Fork of a space with pinned pages, each allocation failing. */
    size_t forks = 0;
    for (size_t n = 1;; n++) {
        struct vt_snap snap;
        vt_snap_take(&vt, &snap);
        vmar_sim_fail_after(vt.sim, n, VMAR_SIM_FAIL_ANY, false);
        int rc = vt_fork(&vt, &child);
        vmar_sim_fail_after(vt.sim, 0, 0, false);
        if (rc == 0) {
            vt_snap_free(&snap);
            break;
        }
        VT_EXPECT_RC(rc, VMAR_ENOMEM);
        VT_EXPECT_UNCHANGED(&vt, &snap);
        forks++;
    }
    child.refcheck = false;
    assert_true(forks >= 4);
    for (size_t i = 0; i < 4; i++)
        assert_int_not_equal(leaf(&child, BASE + i * PG).pa, pa[i]);
    vt_child_destroy(&child);
    unpin(&vt, pa, 4);
    vt_teardown(&vt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pin_unmap),
        cmocka_unit_test(test_pin_unshares),
        cmocka_unit_test(test_fork_copies_pinned),
        cmocka_unit_test(test_pin_objects),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_oom),
    };

    fprintf(stderr, "backend: %s\n", vt_backend()->name);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
