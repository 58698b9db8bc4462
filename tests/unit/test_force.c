/* SPDX-License-Identifier: MIT */
/*
 * Forced user-memory access (vmar_read_flags, vmar_write_flags with
 * VMAR_RW_FORCE; Linux's FOLL_FORCE as ptrace and /proc/pid/mem use it):
 * a forced write into private memory without write permission writes the
 * page's private copy and leaves the leaf read-only, a forced read reads
 * memory without read permission; shared memory without write
 * permission, a maximum that lacks the permission, device memory and
 * holes are refused with VMAR_EFAULT and change nothing. Checked against
 * Linux 6.18's /proc/self/mem (docs/LINUX.md).
 */
#include "harness.h"

#include <string.h>

#include <vmar/error.h>
#include <vmar/object.h>

#define RW    (VMAR_PROT_READ | VMAR_PROT_WRITE)
#define RO    VMAR_PROT_READ
#define FORCE VMAR_RW_FORCE
#define BASE  ((vmar_addr_t)0x40000000)

static int fwrite_at(struct vt *vt, vmar_addr_t va, const char *s)
{
    return vmar_write_flags(vt->space, va, s, strlen(s), FORCE, NULL);
}

/* The forced read of strlen(want) bytes at va gives want. */
static void expect_forced(struct vt *vt, vmar_addr_t va, const char *want)
{
    char buf[64] = {0};

    VT_EXPECT_RC(vmar_read_flags(vt->space, va, buf, strlen(want), FORCE, NULL),
                 0);
    assert_memory_equal(buf, want, strlen(want));
    VT_CHECK(vt);
}

static unsigned leaf_prot(struct vt *vt, vmar_addr_t va)
{
    struct vmar_pte pte;

    assert_int_equal(vmar_space_translate(vt->space, va, &pte), 0);
    return pte.prot;
}

static void test_private_anon(void **state)
{
    struct vt vt;
    char c = 0;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 4, RO, 0);
    /* Untouched read-only page: a private zero page is made and written;
     * the leaf stays read-only, so user writes still fault. */
    VT_EXPECT_RC(fwrite_at(&vt, BASE + 5, "bkpt"), 0);
    VT_CHECK(&vt);
    expect_forced(&vt, BASE + 5, "bkpt");
    VT_EXPECT_RC(vmar_read(vt.space, BASE + 6, &c, 1, NULL), 0);
    assert_int_equal(c, 'k');
    assert_int_equal(leaf_prot(&vt, BASE), RO);
    VT_EXPECT_RC(vmar_fault(vt.space, BASE, VMAR_ACCESS_WRITE, 0), VMAR_EACCES);
    VT_EXPECT_RC(vmar_write(vt.space, BASE, "x", 1, NULL), VMAR_EFAULT);
    vt_expect_rss(&vt, 1, 0);
    /* Again: the copy is the leaf's own, written in place. */
    const size_t frames = vt_frames_live(&vt);
    VT_EXPECT_RC(fwrite_at(&vt, BASE + 5, "BK"), 0);
    assert_int_equal(vt_frames_live(&vt), frames);
    expect_forced(&vt, BASE + 5, "BKpt");
    /* Across pages, the second read-only and absent. */
    VT_EXPECT_RC(fwrite_at(&vt, BASE + PG - 2, "abcd"), 0);
    expect_forced(&vt, BASE + PG - 2, "abcd");
    vt_expect_rss(&vt, 2, 0);
    /* Made writable later: the page is written in place, no copy. */
    VT_EXPECT_RC(vt_protect(&vt, BASE, 4 * PG, RW), 0);
    VT_EXPECT_RC(vmar_write(vt.space, BASE + 5, "u", 1, NULL), 0);
    assert_int_equal(vt_frames_live(&vt), frames + 1);
    expect_forced(&vt, BASE + 5, "uKpt");
    VT_CHECK(&vt);
    vt_teardown(&vt);
}

static void test_no_access(void **state)
{
    struct vt vt;
    char buf[4];
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 2, VMAR_PROT_NONE, 0);
    vt_map_fixed(&vt, BASE + 2 * PG, 2, VMAR_PROT_EXEC, 0);
    vt_map_fixed(&vt, BASE + 4 * PG, 2, VMAR_PROT_WRITE, VMAR_MAP_SHARED);
    /* PROT_NONE: an absent page reads as zero, then takes a write. */
    VT_EXPECT_RC(vmar_read(vt.space, BASE, buf, 1, NULL), VMAR_EFAULT);
    expect_forced(&vt, BASE, "\0\0\0");
    VT_EXPECT_RC(fwrite_at(&vt, BASE + PG, "none"), 0);
    expect_forced(&vt, BASE + PG, "none");
    assert_int_equal(leaf_prot(&vt, BASE + PG), VMAR_PROT_NONE);
    /* Execute-only. */
    VT_EXPECT_RC(fwrite_at(&vt, BASE + 2 * PG, "exec"), 0);
    expect_forced(&vt, BASE + 2 * PG, "exec");
    assert_int_equal(leaf_prot(&vt, BASE + 2 * PG), VMAR_PROT_EXEC);
    /* Shared write-only: read by force (Linux reads it too). */
    VT_EXPECT_RC(vmar_write(vt.space, BASE + 4 * PG, "wo", 2, NULL), 0);
    expect_forced(&vt, BASE + 4 * PG, "wo");
    /* Made readable: the user sees what was written. */
    VT_EXPECT_RC(vt_protect(&vt, BASE, 4 * PG, RO), 0);
    VT_EXPECT_RC(vmar_read(vt.space, BASE + PG, buf, 4, NULL), 0);
    assert_memory_equal(buf, "none", 4);
    VT_EXPECT_RC(vmar_read(vt.space, BASE + 2 * PG, buf, 4, NULL), 0);
    assert_memory_equal(buf, "exec", 4);
    VT_CHECK(&vt);
    vt_teardown(&vt);
}

static void test_private_object(void **state)
{
    struct vt vt;
    struct vmar_object *obj;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_without_refdecoder(&vt);
    assert_int_equal(vmar_memfd_create(vt.env, 2 * PG, &obj), 0);
    struct vmar_map_opts o = {.size = 2 * PG,
                              .addr = BASE,
                              .place = VMAR_PLACE_FIXED,
                              .prot = RW,
                              .flags = VMAR_MAP_SHARED,
                              .backing = VMAR_BACKING_OBJECT,
                              .object = obj};
    VT_EXPECT_RC(vt_map_opts(&vt, &o, NULL), 0);
    VT_EXPECT_RC(vmar_write(vt.space, BASE, "file", 4, NULL), 0);
    /* A private read-only mapping of it, read first (the object's page
     * is mapped), then written by force: a private copy. */
    o.addr = BASE + 4 * PG;
    o.prot = RO;
    o.flags = 0;
    VT_EXPECT_RC(vt_map_opts(&vt, &o, NULL), 0);
    expect_forced(&vt, BASE + 4 * PG, "file");
    vt_expect_rss(&vt, 0, 2);
    VT_EXPECT_RC(fwrite_at(&vt, BASE + 4 * PG, "FI"), 0);
    expect_forced(&vt, BASE + 4 * PG, "FIle");
    expect_forced(&vt, BASE, "file"); /* the object is unchanged */
    vt_expect_rss(&vt, 1, 1);
    assert_int_equal(leaf_prot(&vt, BASE + 4 * PG), RO);
    /* An absent page: copied from the object, not zero. */
    VT_EXPECT_RC(vmar_write(vt.space, BASE + PG, "two", 3, NULL), 0);
    VT_EXPECT_RC(fwrite_at(&vt, BASE + 5 * PG + 1, "W"), 0);
    expect_forced(&vt, BASE + 5 * PG, "tWo");
    expect_forced(&vt, BASE + PG, "two");
    vmar_object_unref(obj);
    VT_CHECK(&vt);
    vt_teardown(&vt);
}

static void test_after_fork(void **state)
{
    struct vt vt, child;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_without_refdecoder(&vt);
    vt_map_fixed(&vt, BASE, 1, RO, 0);
    VT_EXPECT_RC(fwrite_at(&vt, BASE, "parent"), 0);
    assert_int_equal(vt_fork(&vt, &child), 0);
    vt_without_refdecoder(&child);
    /* The frame is shared now: the child's forced write copies it. */
    VT_EXPECT_RC(fwrite_at(&child, BASE, "child"), 0);
    expect_forced(&child, BASE, "childt");
    expect_forced(&vt, BASE, "parent");
    VT_EXPECT_RC(fwrite_at(&vt, BASE, "P"), 0);
    expect_forced(&vt, BASE, "Parent");
    expect_forced(&child, BASE, "childt");
    vt_child_destroy(&child);
    VT_CHECK(&vt);
    vt_teardown(&vt);
}

/* ---- refusals ---------------------------------------------------------- */

static void expect_refused(struct vt *vt, vmar_addr_t va, bool write, int want)
{
    struct vt_snap snap;
    char buf[2] = {'r', 'r'};
    size_t done = 99;

    vt_snap_take(vt, &snap);
    if (write)
        VT_EXPECT_RC(vmar_write_flags(vt->space, va, buf, 2, FORCE, &done),
                     want);
    else
        VT_EXPECT_RC(vmar_read_flags(vt->space, va, buf, 2, FORCE, &done),
                     want);
    assert_int_equal(done, 0);
    VT_EXPECT_UNCHANGED(vt, &snap);
}

static void test_refused(void **state)
{
    struct vt vt;
    struct vmar_object *obj;
    vmar_paddr_t pa = 0;
    (void)state;

    vt_setup(&vt, &(struct vmar_space_opts){.stack_guard = 4 * PG}, 0);
    vt_without_refdecoder(&vt);
    assert_int_equal(vmar_memfd_create(vt.env, 4 * PG, &obj), 0);
    /* Shared anonymous memory, read-only now but writable at most. */
    VT_EXPECT_RC(
        vt_map(&vt, BASE, PG, RW, VMAR_PLACE_FIXED, VMAR_MAP_SHARED, NULL), 0);
    VT_EXPECT_RC(vmar_write(vt.space, BASE, "s", 1, NULL), 0);
    VT_EXPECT_RC(vt_protect(&vt, BASE, PG, RO), 0);
    expect_refused(&vt, BASE, true, VMAR_EFAULT);
    expect_forced(&vt, BASE, "s");
    /* A shared object mapping without write, and a private one whose
     * maximum lacks it. */
    struct vmar_map_opts o = {.size = PG,
                              .addr = BASE + 2 * PG,
                              .place = VMAR_PLACE_FIXED,
                              .prot = RO,
                              .deny_prot = VMAR_PROT_WRITE,
                              .flags = VMAR_MAP_SHARED,
                              .backing = VMAR_BACKING_OBJECT,
                              .object = obj};
    VT_EXPECT_RC(vt_map_opts(&vt, &o, NULL), 0);
    expect_refused(&vt, BASE + 2 * PG, true, VMAR_EFAULT);
    o.flags = 0;
    o.addr = BASE + 4 * PG;
    VT_EXPECT_RC(vt_map_opts(&vt, &o, NULL), 0);
    expect_refused(&vt, BASE + 4 * PG, true, VMAR_EFAULT);
    /* Private anonymous memory that may never be read. */
    VT_EXPECT_RC(vt_map_opts(&vt,
                             &(struct vmar_map_opts){
                                 .size = PG,
                                 .addr = BASE + 6 * PG,
                                 .place = VMAR_PLACE_FIXED,
                                 .prot = VMAR_PROT_NONE,
                                 .deny_prot = VMAR_PROT_READ,
                             },
                             NULL),
                 0);
    expect_refused(&vt, BASE + 6 * PG, false, VMAR_EFAULT);
    VT_EXPECT_RC(fwrite_at(&vt, BASE + 6 * PG, "ok"), 0);
    /* ... also when its page is present (the leaf is no permission). */
    expect_refused(&vt, BASE + 6 * PG, false, VMAR_EFAULT);
    VT_EXPECT_RC(vt_map_opts(&vt,
                             &(struct vmar_map_opts){
                                 .size = PG,
                                 .addr = BASE + 7 * PG,
                                 .place = VMAR_PLACE_FIXED,
                                 .prot = VMAR_PROT_WRITE,
                                 .deny_prot = VMAR_PROT_READ,
                             },
                             NULL),
                 0);
    VT_EXPECT_RC(vmar_write(vt.space, BASE + 7 * PG, "w", 1, NULL), 0);
    expect_refused(&vt, BASE + 7 * PG, false, VMAR_EFAULT);
    /* Device memory, with and without the permission. */
    assert_int_equal(vt.env->frame_alloc(vt.env->ctx, VMAR_FRAME_ZERO, &pa), 0);
    VT_EXPECT_RC(vt_map_opts(&vt,
                             &(struct vmar_map_opts){
                                 .size = PG,
                                 .addr = BASE + 8 * PG,
                                 .place = VMAR_PLACE_FIXED,
                                 .prot = RO,
                                 .backing = VMAR_BACKING_DEVICE,
                                 .paddr = pa,
                             },
                             NULL),
                 0);
    expect_refused(&vt, BASE + 8 * PG, true, VMAR_EFAULT);
    expect_refused(&vt, BASE + 8 * PG, false, VMAR_EFAULT);
    /* A hole, and the hole below a grow-down stack (no growth). */
    expect_refused(&vt, BASE + 10 * PG, true, VMAR_EFAULT);
    expect_refused(&vt, BASE + 10 * PG, false, VMAR_EFAULT);
    vt_map_fixed(&vt, BASE + 20 * PG, 2, RO, VMAR_MAP_GROWSDOWN);
    expect_refused(&vt, BASE + 19 * PG, true, VMAR_EFAULT);
    expect_refused(&vt, BASE + 19 * PG, false, VMAR_EFAULT);
    /* Unknown flags: nothing copied. */
    {
        struct vt_snap snap;
        char b = 0;
        size_t done = 99;
        vt_snap_take(&vt, &snap);
        VT_EXPECT_RC(
            vmar_write_flags(vt.space, BASE + 20 * PG, &b, 1, 2, &done),
            VMAR_EINVAL);
        assert_int_equal(done, 0);
        VT_EXPECT_RC(vmar_read_flags(vt.space, BASE + 20 * PG, &b, 1,
                                     ~(unsigned)FORCE, &done),
                     VMAR_EINVAL);
        VT_EXPECT_UNCHANGED(&vt, &snap);
    }
    /* A handle without the right: VMAR_EACCES, as without force. */
    {
        struct vmar_space *ro;
        char b = 0;
        assert_int_equal(vmar_space_dup(vt.space, VMAR_RIGHT_READ, &ro), 0);
        VT_EXPECT_RC(vmar_write_flags(ro, BASE + 20 * PG, &b, 1, FORCE, NULL),
                     VMAR_EACCES);
        VT_EXPECT_RC(vmar_read_flags(ro, BASE + 20 * PG, &b, 1, FORCE, NULL),
                     0);
        vmar_space_destroy(ro);
    }
    /* A refusal mid-way: the bytes before it are written. */
    {
        size_t done = 0;
        VT_EXPECT_RC(vmar_write_flags(vt.space, BASE + 2 * PG - 2, "abcd", 4,
                                      FORCE, &done),
                     VMAR_EFAULT);
        assert_int_equal(done, 0); /* BASE + PG is a hole */
        VT_EXPECT_RC(vmar_write_flags(vt.space, BASE + 21 * PG - 2, "abcd", 4,
                                      FORCE, &done),
                     0);
        assert_int_equal(done, 4);
        VT_EXPECT_RC(vmar_write_flags(vt.space, BASE + 22 * PG - 2, "abcd", 4,
                                      FORCE, &done),
                     VMAR_EFAULT);
        assert_int_equal(done, 2);
    }
    VT_EXPECT_RC(vt_unmap(&vt, BASE + 8 * PG, PG), 0);
    vt.env->frame_free(vt.env->ctx, pa);
    vmar_object_unref(obj);
    VT_CHECK(&vt);
    vt_teardown(&vt);
}

/* ---- allocation failure ------------------------------------------------ */

static int force_write_op(struct vt *vt, void *arg)
{
    const vmar_addr_t *va = arg;

    return vmar_write_flags(vt->space, *va, "fw", 2, FORCE, NULL);
}

static int force_read_op(struct vt *vt, void *arg)
{
    const vmar_addr_t *va = arg;
    char buf[2];

    return vmar_read_flags(vt->space, *va, buf, 2, FORCE, NULL);
}

static void test_alloc_failure(void **state)
{
    struct vt vt;
    struct vmar_object *obj;
    vmar_addr_t va;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_without_refdecoder(&vt);
    assert_int_equal(vmar_memfd_create(vt.env, 2 * PG, &obj), 0);
    vt_map_fixed(&vt, BASE, 2, VMAR_PROT_NONE, 0);
    struct vmar_map_opts o = {.size = 2 * PG,
                              .addr = BASE + 4 * PG,
                              .place = VMAR_PLACE_FIXED,
                              .prot = RO,
                              .backing = VMAR_BACKING_OBJECT,
                              .object = obj};
    VT_EXPECT_RC(vt_map_opts(&vt, &o, NULL), 0);
    /* The object's pages exist first: they are the object's to keep. */
    VT_EXPECT_RC(
        vmar_advise(vt.space, BASE + 4 * PG, 2 * PG, VMAR_ADVISE_POPULATE_READ),
        0);
    /* Absent anonymous page: a zero frame and a table. */
    va = BASE;
    assert_true(vt_fail_each_allocation(&vt, force_write_op, &va) > 0);
    va = BASE + PG;
    assert_true(vt_fail_each_allocation(&vt, force_read_op, &va) > 0);
    /* Present object page: the private copy's frame. */
    va = BASE + 4 * PG;
    assert_true(vt_fail_each_allocation(&vt, force_write_op, &va) > 0);
    expect_forced(&vt, BASE + 4 * PG, "fw");
    vmar_object_unref(obj);
    VT_CHECK(&vt);
    vt_teardown(&vt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_private_anon),
        cmocka_unit_test(test_no_access),
        cmocka_unit_test(test_private_object),
        cmocka_unit_test(test_after_fork),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_alloc_failure),
    };
    return cmocka_run_group_tests(tests, NULL, vt_cleanup);
}
