/* SPDX-License-Identifier: MIT */
/*
 * fork with copy-on-write, and exec-time clear.
 *
 * Contents are checked through vmar_read/vmar_write and simulated CPUs;
 * both spaces are checked after every step (vt_fork checks them, VT_CHECK
 * afterwards). RSS of both sides is asserted exactly.
 */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

#define A  ((vmar_addr_t)0x40000000)
#define B  ((vmar_addr_t)0x50000000)
#define R  VMAR_PROT_READ
#define RW (VMAR_PROT_READ | VMAR_PROT_WRITE)
#define RD VMAR_ACCESS_READ
#define WR VMAR_ACCESS_WRITE

static void map_rw(struct vt *vt, vmar_addr_t at, vmar_size_t size,
                   unsigned flags)
{
    assert_int_equal(
        vt_map(vt, at, size, RW, VMAR_PLACE_FIXED_NOREPLACE, flags, NULL), 0);
}

/* Parent and child read the same bytes; a write on either side breaks COW
 * for that page only; the frames are shared until then. */
static void test_fork_cow(void **state)
{
    struct vt p, c;
    (void)state;

    vt_setup(&p, NULL, 0);
    map_rw(&p, A, 4 * PG, 0);
    for (unsigned i = 0; i < 4; i++)
        vt_poke(&p, A + i * PG, (unsigned char)(0x10 + i));
    size_t frames = vt_stats(&p).frames_live;
    size_t tables = vt_backend()->real ? 0 : vt_tables(&p); /* sim: all */
    assert_int_equal(vt_fork(&p, &c), 0);
    /* The data frames are shared: only the child's tables are new. */
    assert_int_equal(vt_stats(&p).frames_live - frames, vt_tables(&c) - tables);
    vt_expect_rss(&p, 4, 0);
    vt_expect_rss(&c, 4, 0);
    VT_EXPECT_LAYOUT(&c, "40000000-40004000 rw-p 00000000 00:00 0\n");
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(vt_peek(&c, A + i * PG), 0x10 + i);
    vt_poke(&c, A + PG, 0x21);     /* child copies page 1 */
    vt_poke(&p, A + 2 * PG, 0x32); /* parent copies page 2 */
    assert_int_equal(vt_peek(&p, A + PG), 0x11);
    assert_int_equal(vt_peek(&c, A + PG), 0x21);
    assert_int_equal(vt_peek(&p, A + 2 * PG), 0x32);
    assert_int_equal(vt_peek(&c, A + 2 * PG), 0x12);
    assert_int_equal(vt_peek(&c, A + 3 * PG), 0x13);
    /* Once the child wrote page 1, the parent's old frame has one
     * reference left: the parent's write reuses it (no new frame). */
    frames = vt_stats(&p).frames_live;
    vt_poke(&p, A + PG, 0x41);
    assert_int_equal(vt_stats(&p).frames_live, frames);
    assert_int_equal(vt_peek(&c, A + PG), 0x21);
    vt_expect_rss(&p, 4, 0);
    vt_expect_rss(&c, 4, 0);
    /* Unpopulated pages stay independent. */
    map_rw(&p, B, PG, 0);
    vt_child_destroy(&c);
    vt_teardown(&p);
}

/* Three generations, and a parent that exits first. */
static void test_fork_generations(void **state)
{
    struct vt p, c, g;
    (void)state;

    vt_setup(&p, NULL, 0);
    map_rw(&p, A, 2 * PG, 0);
    vt_poke(&p, A, 1);
    vt_poke(&p, A + PG, 2);
    assert_int_equal(vt_fork(&p, &c), 0);
    vt_poke(&c, A, 3);
    assert_int_equal(vt_fork(&c, &g), 0);
    assert_int_equal(vt_peek(&g, A), 3);
    assert_int_equal(vt_peek(&g, A + PG), 2);
    /* The parent exits first: its space goes, the others keep the frames. */
    struct vt keep = p;
    keep.space = NULL;
    vmar_space_destroy(p.space);
    p.space = NULL;
    assert_int_equal(vt_peek(&c, A + PG), 2);
    vt_poke(&g, A + PG, 5);
    assert_int_equal(vt_peek(&c, A + PG), 2);
    assert_int_equal(vt_peek(&g, A + PG), 5);
    vt_poke(&c, A + PG, 6);
    assert_int_equal(vt_peek(&g, A + PG), 5);
    vt_expect_rss(&c, 2, 0);
    vt_expect_rss(&g, 2, 0);
    vt_child_destroy(&g);
    vt_child_destroy(&c);
    vt_teardown(&keep);
}

/* Shared mappings stay shared and writable; device mappings are copied
 * as device mappings; DONTFORK mappings are left out. */
static void test_fork_kinds(void **state)
{
    struct vt p, c;
    struct vmar_mapping_info info;
    vmar_paddr_t dev;
    (void)state;

    vt_setup(&p, NULL, 0);
    map_rw(&p, A, 2 * PG, VMAR_MAP_SHARED);
    vt_poke(&p, A, 7);
    map_rw(&p, A + 4 * PG, PG, VMAR_MAP_DONTFORK);
    map_rw(&p, A + 5 * PG, PG, 0); /* after the DONTFORK hole */
    assert_int_equal(p.env->frame_alloc(p.env->ctx, VMAR_FRAME_ZERO, &dev), 0);
    struct vmar_map_opts d = {.addr = B,
                              .size = PG,
                              .place = VMAR_PLACE_FIXED_NOREPLACE,
                              .prot = RW,
                              .backing = VMAR_BACKING_DEVICE,
                              .paddr = dev,
                              .cache = VMAR_CACHE_UC};
    assert_int_equal(vt_map_opts(&p, &d, NULL), 0);
    assert_int_equal(vt_fork(&p, &c), 0);
    vt_poke(&c, A + 1, 8);
    assert_int_equal(vt_peek(&p, A + 1), 8); /* shared */
    vt_poke(&p, A + PG, 9);
    assert_int_equal(vt_peek(&c, A + PG), 9);
    vt_expect_rss(&p, 0, 2);
    vt_expect_rss(&c, 0, 2);
    assert_int_equal(vmar_query(c.space, A + 4 * PG, &info), VMAR_ENOENT);
    assert_int_equal(vmar_query(c.space, A + 5 * PG, &info), 0);
    assert_int_equal(vmar_query(c.space, B, &info), 0);
    assert_int_equal(info.backing, VMAR_BACKING_DEVICE);
    assert_int_equal(info.offset, dev);
    assert_int_equal(info.cache, VMAR_CACHE_UC);
    vt_child_destroy(&c);
    assert_int_equal(vt_unmap(&p, B, PG), 0);
    p.env->frame_free(p.env->ctx, dev);
    vt_teardown(&p);
}

/* A failed fork leaves the parent exactly as it was, write permissions
 * included, and frees the partial child. */
static int op_fork(struct vt *p, void *arg)
{
    struct vt c;
    (void)arg;
    int rc = vt_fork(p, &c);
    if (rc == 0)
        vt_child_destroy(&c);
    return rc;
}

static void test_fork_oom(void **state)
{
    struct vt p;
    (void)state;

    vt_setup(&p, NULL, 0);
    map_rw(&p, A, 4 * PG, 0);
    vt_poke(&p, A, 1);
    vt_poke(&p, A + 3 * PG, 2);
    map_rw(&p, B, 2 * PG, VMAR_MAP_SHARED);
    vt_poke(&p, B, 3);
    map_rw(&p, B + 0x10000000, PG, 0);
    vt_poke(&p, B + 0x10000000, 4);
    /* A failed fork must not leave the parent write-protected: writes
     * after it need no copy (no new frame). */
    assert_true(vt_fail_each_allocation(&p, op_fork, NULL) >= 4);
    size_t frames = vt_stats(&p).frames_live;
    vt_poke(&p, A, 5);
    vt_poke(&p, A + 3 * PG, 6);
    assert_int_equal(vt_stats(&p).frames_live, frames);
    vt_teardown(&p);
}

/* The parent's cached writable translations are gone after fork (one
 * flush): a write through a CPU that cached it faults and copies; no
 * stale hit. Also: exactly one flush of the parent. */
static void test_fork_tlb(void **state)
{
    struct vt p, c;
    struct vmar_sim_cpu *cpu0, *cpu1;
    unsigned char b = 0x55;
    (void)state;

    vt_setup(&p, NULL, 0);
    map_rw(&p, A, 8 * PG, 0);
    assert_int_equal(vmar_sim_cpu_create(p.sim, 16, &cpu0), 0);
    assert_int_equal(vmar_sim_cpu_create(p.sim, 16, &cpu1), 0);
    vmar_sim_cpu_switch(cpu0, p.space);
    for (unsigned i = 0; i < 8; i++)
        assert_int_equal(vmar_sim_cpu_access(cpu0, A + i * PG, WR, &b, 1), 0);
    struct vmar_sim_stats s0 = vt_stats(&p);
    assert_int_equal(vt_fork(&p, &c), 0);
    assert_int_equal(vt_stats(&p).flushes - s0.flushes, 1);
    vmar_sim_cpu_switch(cpu1, c.space);
    b = 0x66;
    assert_int_equal(vmar_sim_cpu_access(cpu0, A + 3 * PG, WR, &b, 1), 0);
    assert_int_equal(vmar_sim_cpu_access(cpu1, A + 3 * PG, RD, &b, 1), 0);
    assert_int_equal(b, 0x55);
    b = 0x77;
    assert_int_equal(vmar_sim_cpu_access(cpu1, A + 4 * PG, WR, &b, 1), 0);
    assert_int_equal(vmar_sim_cpu_access(cpu0, A + 4 * PG, RD, &b, 1), 0);
    assert_int_equal(b, 0x55);
    assert_int_equal(vmar_sim_violations(p.sim), 0);
    VT_CHECK(&p);
    VT_CHECK(&c);
    vmar_sim_cpu_switch(cpu0, NULL);
    vmar_sim_cpu_switch(cpu1, NULL);
    vmar_sim_cpu_destroy(cpu0);
    vmar_sim_cpu_destroy(cpu1);
    vt_child_destroy(&c);
    vt_teardown(&p);
}

/* A protect after fork must not make shared frames writable. */
static void test_fork_protect(void **state)
{
    struct vt p, c;
    (void)state;

    vt_setup(&p, NULL, 0);
    map_rw(&p, A, 2 * PG, 0);
    vt_poke(&p, A, 1);
    assert_int_equal(vt_fork(&p, &c), 0);
    assert_int_equal(vt_protect(&p, A, 2 * PG, R), 0);
    assert_int_equal(vt_protect(&p, A, 2 * PG, RW), 0);
    vt_poke(&p, A, 2);
    assert_int_equal(vt_peek(&c, A), 1);
    vt_child_destroy(&c);
    vt_teardown(&p);
}

/* exec-time clear: everything goes, the space stays usable. */
static void test_clear(void **state)
{
    struct vt vt;
    struct vmar_stats s;
    (void)state;

    vt_setup(&vt, NULL, 0);
    map_rw(&vt, A, 4 * PG, 0);
    map_rw(&vt, B, 4 * PG, VMAR_MAP_SHARED);
    vt_poke(&vt, A, 1);
    vt_poke(&vt, B, 1);
    vmar_set_limits(vt.space, 64 * PG, 0);
    assert_int_equal(vmar_clear(vt.space), 0);
    VT_CHECK(&vt);
    vmar_stats(vt.space, &s);
    assert_int_equal(s.map_count, 0);
    assert_int_equal(s.total_vm, 0);
    assert_int_equal(s.resident, 0);
    assert_int_equal(vt_stats(&vt).frames_live, vt_tables(&vt));
    map_rw(&vt, A, 4 * PG, 0);
    assert_int_equal(vt_peek(&vt, A), 0);
    /* The limits survive. */
    assert_int_equal(
        vt_map(&vt, B, 64 * PG, RW, VMAR_PLACE_FIXED_NOREPLACE, 0, NULL),
        VMAR_ENOMEM);
    assert_int_equal(vmar_clear(NULL), VMAR_EINVAL);
    vt_teardown(&vt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fork_cow),
        cmocka_unit_test(test_fork_generations),
        cmocka_unit_test(test_fork_kinds),
        cmocka_unit_test(test_fork_oom),
        cmocka_unit_test(test_fork_tlb),
        cmocka_unit_test(test_fork_protect),
        cmocka_unit_test(test_clear),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
