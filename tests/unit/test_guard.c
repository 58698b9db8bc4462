/* SPDX-License-Identifier: MIT */
/*
 * Guard markers (vmar_advise GUARD_INSTALL / GUARD_REMOVE, Linux 6.13's
 * MADV_GUARD_*), as the host kernel 6.18 behaves: an install drops the
 * pages under it and makes every access fail (VMAR_EFAULT) without a
 * split or RSS; DONTNEED, FREE and protect keep markers, fork copies
 * them, a remap moves them, unmap (and everything that removes a
 * mapping) drops them, GUARD_REMOVE clears them and leaves other pages
 * alone. Device mappings, holes, sealed read-only private memory and
 * missing rights are refused with the space unchanged, and every
 * allocation the new paths make is failed in turn.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define R  ((unsigned)VMAR_PROT_READ)
#define W  ((unsigned)VMAR_PROT_WRITE)
#define RW (R | W)

#define FIXED   VMAR_PLACE_FIXED
#define BASE    ((vmar_addr_t)0x40000000)
#define INSTALL VMAR_ADVISE_GUARD_INSTALL
#define REMOVE  VMAR_ADVISE_GUARD_REMOVE

/* Whether the page at `va` holds a marker: every access faults with
 * VMAR_EFAULT and a user copy fails there, nothing changing. */
static bool guarded(struct vt *vt, vmar_addr_t va)
{
    unsigned char b = 0;
    size_t done = 1;
    int rc = vmar_fault(vt->space, va, VMAR_ACCESS_READ, VMAR_FAULT_USER);

    VT_CHECK(vt);
    if (rc != VMAR_EFAULT)
        return false;
    VT_EXPECT_RC(vmar_fault(vt->space, va, VMAR_ACCESS_WRITE, VMAR_FAULT_USER),
                 VMAR_EFAULT);
    VT_EXPECT_RC(vmar_read(vt->space, va, &b, 1, &done), VMAR_EFAULT);
    assert_int_equal(done, 0);
    VT_EXPECT_RC(vmar_write(vt->space, va, &b, 1, &done), VMAR_EFAULT);
    assert_int_equal(done, 0);
    VT_CHECK(vt);
    return true;
}

/* The pages of [at, at + n pages) that hold markers, as a bit mask. */
static unsigned guard_mask(struct vt *vt, vmar_addr_t at, size_t n)
{
    unsigned mask = 0;

    for (size_t i = 0; i < n; i++)
        if (guarded(vt, at + i * PG))
            mask |= 1u << i;
    return mask;
}

static vmar_size_t resident(struct vt *vt, vmar_addr_t lo, vmar_addr_t hi)
{
    vmar_size_t bytes = 0;

    VT_EXPECT_RC(vmar_resident(vt->space, lo, hi, &bytes), 0);
    return bytes;
}

static char *line(char *p, vmar_addr_t lo, vmar_addr_t hi, const char *perms)
{
    return p + sprintf(p, "%08llx-%08llx %s 00000000 00:00 0\n",
                       (unsigned long long)lo, (unsigned long long)hi, perms);
}

/* ---- install and remove ------------------------------------------------- */

static void test_install_remove(void **state)
{
    struct vt vt;
    char want[128];
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 8, RW, 0);
    vt_fill_pages(&vt, BASE, 8, 3);
    const size_t frames = vt_frames_live(&vt);
    vt_expect_rss(&vt, 8, 0);

    VT_EXPECT_RC(vt_advise(&vt, BASE + 2 * PG, 3 * PG, INSTALL), 0);
    line(want, BASE, BASE + 8 * PG, "rw-p");
    VT_EXPECT_LAYOUT(&vt, want); /* no split */
    vt_expect_rss(&vt, 5, 0);    /* the pages under it went, nothing else */
    assert_int_equal(vt_frames_live(&vt), frames - 3);
    assert_int_equal(resident(&vt, BASE, BASE + 8 * PG), 5 * PG);
    assert_int_equal(guard_mask(&vt, BASE, 8), 0x1cu);
    VT_EXPECT_RC(
        vmar_fault(vt.space, BASE + 3 * PG, VMAR_ACCESS_EXEC, VMAR_FAULT_USER),
        VMAR_EACCES); /* the mapping refuses first, as Linux */
    /* A copy across a marker stops at it. */
    unsigned char buf[3 * PG];
    size_t done = 0;
    VT_EXPECT_RC(vmar_read(vt.space, BASE + PG, buf, sizeof(buf), &done),
                 VMAR_EFAULT);
    assert_int_equal(done, PG);
    VT_EXPECT_PAGES(&vt, BASE, 2, 3);
    VT_EXPECT_PAGES(&vt, BASE + 5 * PG, 3, 3 + 5 * 17);
    vt_expect_rss(&vt, 5, 0);

    /* Again, and over a wider range: the markers stay, the new page
     * goes. */
    VT_EXPECT_RC(vt_advise(&vt, BASE + 2 * PG, 4 * PG, INSTALL), 0);
    assert_int_equal(guard_mask(&vt, BASE, 8), 0x3cu);
    vt_expect_rss(&vt, 4, 0);

    /* Removal clears the markers of the range only and leaves pages. */
    VT_EXPECT_RC(vt_advise(&vt, BASE, 4 * PG, REMOVE), 0);
    assert_int_equal(guard_mask(&vt, BASE, 8), 0x30u);
    VT_EXPECT_PAGES(&vt, BASE, 2, 3);
    VT_EXPECT_ZERO(&vt, BASE + 2 * PG, 2); /* demand-zero again */
    VT_EXPECT_RC(vt_advise(&vt, BASE, 8 * PG, REMOVE), 0);
    assert_int_equal(guard_mask(&vt, BASE, 8), 0);
    VT_EXPECT_ZERO(&vt, BASE + 4 * PG, 2);
    VT_EXPECT_PAGES(&vt, BASE + 6 * PG, 2, 3 + 6 * 17);
    /* Removing where there are none changes nothing. */
    struct vt_snap snap;
    vt_snap_take(&vt, &snap);
    VT_EXPECT_RC(vt_advise(&vt, BASE, 8 * PG, REMOVE), 0);
    VT_EXPECT_UNCHANGED(&vt, &snap);
    vt_teardown(&vt);
}

/* Markers over untouched memory take leaf tables, which the unmap gives
 * back; a table holding only markers is not freed by a DONTNEED. */
static void test_tables(void **state)
{
    struct vt vt;
    const vmar_addr_t at = BASE + 512 * PG - 2 * PG; /* across a leaf table */
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 1024, RW, 0);
    const size_t tables = vt_tables(&vt);
    VT_EXPECT_RC(vt_advise(&vt, at, 4 * PG, INSTALL), 0);
    assert_true(vt_tables(&vt) > tables);
    vt_expect_rss(&vt, 0, 0);
    VT_EXPECT_RC(vt_advise(&vt, BASE, 1024 * PG, VMAR_ADVISE_DONTNEED), 0);
    assert_int_equal(guard_mask(&vt, at - PG, 6), 0x1eu);
    VT_EXPECT_RC(vt_unmap(&vt, BASE, 1024 * PG), 0);
    VT_CHECK(&vt);
    assert_int_equal(vt_tables(&vt), tables);
    /* The same place mapped again has no marker. */
    vt_map_fixed(&vt, BASE, 1024, RW, 0);
    assert_int_equal(guard_mask(&vt, at - PG, 6), 0);
    VT_EXPECT_RC(vt_unmap(&vt, BASE, 1024 * PG), 0);
    assert_int_equal(vt_tables(&vt), tables);
    /* Removal frees the tables the markers alone kept. */
    vt_map_fixed(&vt, BASE, 1024, RW, 0);
    VT_EXPECT_RC(vt_advise(&vt, at, 4 * PG, INSTALL), 0);
    VT_EXPECT_RC(vt_advise(&vt, at, 4 * PG, REMOVE), 0);
    assert_int_equal(vt_tables(&vt), tables);
    vt_teardown(&vt);
}

/* ---- what keeps, moves and drops markers -------------------------------- */

static void test_survive(void **state)
{
    struct vt vt;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 8, RW, 0);
    vt_fill_pages(&vt, BASE, 8, 5);
    VT_EXPECT_RC(vt_advise(&vt, BASE + PG, 2 * PG, INSTALL), 0);

    /* DONTNEED and FREE drop pages, not markers. */
    VT_EXPECT_RC(vt_advise(&vt, BASE, 8 * PG, VMAR_ADVISE_DONTNEED), 0);
    VT_EXPECT_RC(vt_advise(&vt, BASE, 8 * PG, VMAR_ADVISE_FREE), 0);
    vt_expect_rss(&vt, 0, 0);
    assert_int_equal(guard_mask(&vt, BASE, 8), 0x6u);
    /* Protect keeps them, whatever the permissions. */
    VT_EXPECT_RC(vt_protect(&vt, BASE, 8 * PG, R), 0);
    assert_int_equal(
        vmar_fault(vt.space, BASE + PG, VMAR_ACCESS_READ, VMAR_FAULT_USER),
        VMAR_EFAULT);
    VT_EXPECT_RC(vt_protect(&vt, BASE + 2 * PG, PG, RW), 0);
    VT_EXPECT_RC(vt_protect(&vt, BASE, 8 * PG, RW), 0);
    assert_int_equal(guard_mask(&vt, BASE, 8), 0x6u);
    /* Populate stops at the first marker with Linux's EFAULT, the pages
     * before it populated. */
    VT_EXPECT_RC(vt_advise(&vt, BASE, 8 * PG, VMAR_ADVISE_DONTNEED), 0);
    VT_EXPECT_RC(vt_advise(&vt, BASE, 8 * PG, VMAR_ADVISE_POPULATE_WRITE),
                 VMAR_EFAULT);
    assert_int_equal(resident(&vt, BASE, BASE + 8 * PG), PG);
    VT_EXPECT_RC(
        vt_advise(&vt, BASE + 3 * PG, 5 * PG, VMAR_ADVISE_POPULATE_READ), 0);
    VT_EXPECT_RC(vt_advise(&vt, BASE + PG, PG, VMAR_ADVISE_POPULATE_READ),
                 VMAR_EFAULT);
    assert_int_equal(resident(&vt, BASE, BASE + 8 * PG), 6 * PG);

    /* A remap moves them (transfer, whole and in part). */
    vmar_addr_t to = 0;
    VT_EXPECT_RC(vmar_remap(vt.space, BASE, 8 * PG, 8 * PG,
                            VMAR_REMAP_MAYMOVE | VMAR_REMAP_FIXED,
                            BASE + 64 * PG, &to),
                 0);
    VT_CHECK(&vt);
    assert_int_equal(to, BASE + 64 * PG);
    assert_int_equal(guard_mask(&vt, to, 8), 0x6u);
    VT_EXPECT_RC(vmar_remap(vt.space, to + PG, PG, PG,
                            VMAR_REMAP_MAYMOVE | VMAR_REMAP_FIXED,
                            BASE + 600 * PG, &to),
                 0);
    VT_CHECK(&vt);
    assert_true(guarded(&vt, BASE + 600 * PG));
    assert_int_equal(guard_mask(&vt, BASE + 64 * PG, 8), 0x4u);
    /* DONTUNMAP: the source keeps its mapping, not its markers. */
    VT_EXPECT_RC(
        vmar_remap(vt.space, BASE + 66 * PG, PG, PG,
                   VMAR_REMAP_MAYMOVE | VMAR_REMAP_FIXED | VMAR_REMAP_DONTUNMAP,
                   BASE + 700 * PG, &to),
        0);
    VT_CHECK(&vt);
    assert_true(guarded(&vt, BASE + 700 * PG));
    assert_false(guarded(&vt, BASE + 66 * PG));

    /* A shrink drops the tail's markers; growing back finds none. */
    vt_map_fixed(&vt, BASE + 64 * PG, 8, RW, 0);
    VT_EXPECT_RC(vt_advise(&vt, BASE + 64 * PG, 8 * PG, INSTALL), 0);
    VT_EXPECT_RC(
        vmar_remap(vt.space, BASE + 64 * PG, 8 * PG, 2 * PG, 0, 0, &to), 0);
    VT_EXPECT_RC(
        vmar_remap(vt.space, BASE + 64 * PG, 2 * PG, 8 * PG, 0, 0, &to), 0);
    VT_CHECK(&vt);
    assert_int_equal(guard_mask(&vt, BASE + 64 * PG, 8), 0x3u);
    /* A FIXED map over them replaces them. */
    vt_map_fixed(&vt, BASE + 64 * PG, 1, RW, 0);
    assert_int_equal(guard_mask(&vt, BASE + 64 * PG, 8), 0x2u);
    /* vmar_clear drops every one. */
    VT_EXPECT_RC(vmar_clear(vt.space), 0);
    VT_CHECK(&vt);
    vt_map_fixed(&vt, BASE + 64 * PG, 8, RW, 0);
    assert_int_equal(guard_mask(&vt, BASE + 64 * PG, 8), 0);
    vt_teardown(&vt);
}

static void test_fork(void **state)
{
    struct vt vt, child;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 8, RW, 0);
    vt_map_fixed(&vt, BASE + 16 * PG, 4, RW, VMAR_MAP_DONTFORK);
    vt_fill_pages(&vt, BASE, 8, 7);
    VT_EXPECT_RC(vt_advise(&vt, BASE + 3 * PG, 2 * PG, INSTALL), 0);
    VT_EXPECT_RC(vt_advise(&vt, BASE + 16 * PG, PG, INSTALL), 0);
    VT_EXPECT_RC(vt_fork(&vt, &child), 0);
    assert_int_equal(guard_mask(&child, BASE, 8), 0x18u);
    assert_int_equal(guard_mask(&vt, BASE, 8), 0x18u);
    VT_EXPECT_PAGES(&child, BASE, 3, 7);
    vt_expect_rss(&child, 6, 0);
    /* Each side's markers are its own. */
    VT_EXPECT_RC(vt_advise(&child, BASE, 8 * PG, REMOVE), 0);
    assert_int_equal(guard_mask(&vt, BASE, 8), 0x18u);
    assert_int_equal(guard_mask(&child, BASE, 8), 0);
    /* A grandchild of a child whose markers are gone has none. */
    vt_child_destroy(&child);
    /* Fork fails at every allocation with the parent unchanged. */
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
        assert_true(n < 1000);
    }
    assert_int_equal(guard_mask(&child, BASE, 8), 0x18u);
    vt_child_destroy(&child);
    vt_teardown(&vt);
}

/* A CPU that cached a page's translation loses it with the install. */
static void test_cpu(void **state)
{
    struct vt vt;
    struct vmar_sim_cpu *cpu;
    unsigned char b = 1;
    (void)state;

    vt_setup(&vt, NULL, 0);
    assert_int_equal(vmar_sim_cpu_create(vt.sim, 0, &cpu), 0);
    vmar_sim_cpu_switch(cpu, vt.space);
    vt_map_fixed(&vt, BASE, 4, RW, 0);
    assert_int_equal(
        vmar_sim_cpu_access(cpu, BASE + PG, VMAR_ACCESS_WRITE, &b, 1), 0);
    VT_EXPECT_RC(vt_advise(&vt, BASE + PG, PG, INSTALL), 0);
    assert_int_equal(
        vmar_sim_cpu_access(cpu, BASE + PG, VMAR_ACCESS_READ, &b, 1),
        VMAR_EFAULT);
    assert_int_equal(vmar_sim_violations(vt.sim), 0);
    vmar_sim_cpu_switch(cpu, NULL);
    vmar_sim_cpu_destroy(cpu);
    vt_teardown(&vt);
}

/* ---- mapping kinds and bad input ----------------------------------------- */

static void test_objects(void **state)
{
    struct vt vt;
    struct vmar_object *obj;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_without_refdecoder(&vt);
    assert_int_equal(vmar_memfd_create(vt.env, 4 * PG, &obj), 0);
    struct vmar_map_opts o = {.addr = BASE,
                              .size = 4 * PG,
                              .prot = RW,
                              .place = FIXED,
                              .flags = VMAR_MAP_SHARED,
                              .backing = VMAR_BACKING_OBJECT,
                              .object = obj};
    VT_EXPECT_RC(vt_map_opts(&vt, &o, NULL), 0);
    vt_fill_pages(&vt, BASE, 4, 9); /* the object's contents */
    /* Shared: Linux 6.18 allows it; the object keeps its pages. */
    VT_EXPECT_RC(vt_advise(&vt, BASE + PG, PG, INSTALL), 0);
    assert_int_equal(guard_mask(&vt, BASE, 4), 0x2u);
    vt_expect_rss(&vt, 0, 3);
    /* Private, over the same object (fault-around skips the marker). */
    o.addr = BASE + 16 * PG;
    o.flags = VMAR_MAP_FAULT_AROUND;
    VT_EXPECT_RC(vt_map_opts(&vt, &o, NULL), 0);
    VT_EXPECT_RC(vt_advise(&vt, BASE + 18 * PG, PG, INSTALL), 0);
    VT_EXPECT_PAGES(&vt, BASE + 16 * PG, 1, 9);
    assert_int_equal(guard_mask(&vt, BASE + 16 * PG, 4), 0x4u);
    VT_EXPECT_RC(vt_advise(&vt, BASE, 32 * PG, REMOVE), VMAR_ENOMEM); /* hole */
    VT_EXPECT_RC(vt_advise(&vt, BASE, 4 * PG, REMOVE), 0);
    VT_EXPECT_RC(vt_advise(&vt, BASE + 16 * PG, 4 * PG, REMOVE), 0);
    VT_EXPECT_PAGES(&vt, BASE, 4, 9);
    VT_EXPECT_PAGES(&vt, BASE + 16 * PG, 4, 9);
    vmar_object_unref(obj);
    vt_teardown(&vt);
}

static void test_bad_input(void **state)
{
    struct vt vt;
    vmar_paddr_t pa = 0;
    struct vmar_space *ro = NULL;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 4, RW, 0);
    vt_map_fixed(&vt, BASE + 5 * PG, 2, RW, 0); /* a hole at BASE + 4 */
    vt_fill_pages(&vt, BASE, 4, 2);
    assert_int_equal(vt.env->frame_alloc(vt.env->ctx, VMAR_FRAME_ZERO, &pa), 0);
    struct vmar_map_opts dev = {.addr = BASE + 8 * PG,
                                .size = PG,
                                .prot = RW,
                                .place = FIXED,
                                .backing = VMAR_BACKING_DEVICE,
                                .paddr = pa,
                                .cache = VMAR_CACHE_UC};
    VT_EXPECT_RC(vt_map_opts(&vt, &dev, NULL), 0);
    vt_map_fixed(&vt, BASE + 9 * PG, 2, R, 0);
    VT_EXPECT_RC(vmar_seal(vt.space, BASE + 9 * PG, 2 * PG), 0);
    VT_CHECK(&vt);
    for (int adv = INSTALL; adv <= REMOVE; adv++) {
        VT_EXPECT_ADVISE_FAILS(&vt, BASE + 1, PG, adv, VMAR_EINVAL);
        VT_EXPECT_ADVISE_FAILS(&vt, BASE, 0, adv, VMAR_EINVAL);
        VT_EXPECT_ADVISE_FAILS(&vt, BASE, 5 * PG, adv, VMAR_ENOMEM);
        VT_EXPECT_ADVISE_FAILS(&vt, BASE - PG, 2 * PG, adv, VMAR_ENOMEM);
        VT_EXPECT_ADVISE_FAILS(&vt, BASE + 8 * PG, PG, adv, VMAR_EINVAL);
        VT_EXPECT_ADVISE_FAILS(&vt, BASE + 8 * PG, 2 * PG, adv, VMAR_EINVAL);
    }
    /* Sealed read-only private memory: an install drops pages (EPERM),
     * a removal does not. */
    VT_EXPECT_ADVISE_FAILS(&vt, BASE + 9 * PG, PG, INSTALL, VMAR_EPERM);
    VT_EXPECT_RC(vt_advise(&vt, BASE + 9 * PG, PG, REMOVE), 0);
    /* An install needs the right to change contents, a removal none. */
    VT_EXPECT_RC(vmar_space_dup(vt.space, VMAR_RIGHT_READ, &ro), 0);
    struct vt_snap snap;
    vt_snap_take(&vt, &snap);
    VT_EXPECT_RC(vmar_advise(ro, BASE, PG, INSTALL), VMAR_EACCES);
    VT_EXPECT_UNCHANGED(&vt, &snap);
    VT_EXPECT_RC(vmar_advise(ro, BASE, PG, REMOVE), 0);
    vmar_space_destroy(ro);
    /* Unknown advice next to them. */
    VT_EXPECT_ADVISE_FAILS(&vt, BASE, PG, 104, VMAR_EINVAL);
    VT_EXPECT_PAGES(&vt, BASE, 4, 2);
    VT_EXPECT_RC(vt_unmap(&vt, BASE + 8 * PG, PG), 0);
    vt.env->frame_free(vt.env->ctx, pa);
    vt_teardown(&vt);
}

/* ---- allocation failure ---------------------------------------------------
 */

struct mv {
    vmar_addr_t from, to;
    vmar_size_t size;
    unsigned flags;
};

static int op_remap(struct vt *vt, void *arg)
{
    const struct mv *m = arg;
    vmar_addr_t out;

    return vmar_remap(vt->space, m->from, m->size, m->size,
                      VMAR_REMAP_MAYMOVE | VMAR_REMAP_FIXED | m->flags, m->to,
                      &out);
}

static void test_oom(void **state)
{
    struct vt vt;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 2048, RW, 0);
    vt_fill_pages(&vt, BASE + 510 * PG, 2, 4);
    /* Across leaf tables, some missing: each table page fails in turn. */
    struct vt_advice a = {BASE + 510 * PG, 1024 * PG, INSTALL};
    assert_true(vt_fail_each_allocation(&vt, vt_op_advise, &a) >= 2);
    VT_CHECK(&vt);
    vt_expect_rss(&vt, 0, 0);
    assert_int_equal(guard_mask(&vt, BASE + 509 * PG, 4), 0xeu);
    /* Removal allocates nothing. */
    struct vt_advice b = {BASE + 1000 * PG, 8 * PG, REMOVE};
    assert_int_equal(vt_fail_each_allocation(&vt, vt_op_advise, &b), 0);
    assert_int_equal(guard_mask(&vt, BASE + 999 * PG, 10), 0x201u);
    /* A move whose target lacks the markers' tables, both kinds. */
    struct mv m = {BASE + 510 * PG, BASE + 8192 * PG, 4 * PG, 0};
    assert_true(vt_fail_each_allocation(&vt, op_remap, &m) >= 1);
    VT_CHECK(&vt);
    assert_int_equal(guard_mask(&vt, BASE + 8192 * PG, 4), 0xfu);
    struct mv d = {BASE + 8192 * PG, BASE + 9000 * PG, 2 * PG,
                   VMAR_REMAP_DONTUNMAP};
    assert_true(vt_fail_each_allocation(&vt, op_remap, &d) >= 1);
    VT_CHECK(&vt);
    assert_int_equal(guard_mask(&vt, BASE + 9000 * PG, 2), 0x3u);
    assert_int_equal(guard_mask(&vt, BASE + 8192 * PG, 4), 0xcu);
    vt_teardown(&vt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_install_remove),
        cmocka_unit_test(test_tables),
        cmocka_unit_test(test_survive),
        cmocka_unit_test(test_fork),
        cmocka_unit_test(test_cpu),
        cmocka_unit_test(test_objects),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_oom),
    };

    fprintf(stderr, "backend: %s\n", vt_backend()->name);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
