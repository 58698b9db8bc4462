/* SPDX-License-Identifier: MIT */
/* The fault handler and the user-memory accessors on anonymous memory. */
#include "harness.h"

#include <stdbool.h>
#include <string.h>

#define BASE ((vmar_addr_t)0x40000000)
#define RW   (VMAR_PROT_READ | VMAR_PROT_WRITE)

static vmar_size_t resident(struct vt *vt)
{
    struct vmar_stats st;
    vmar_stats(vt->space, &st);
    return st.resident;
}

static void test_demand_zero(void **state)
{
    struct vt vt;
    unsigned char buf[64];
    size_t done = 1234;
    (void)state;

    vt_setup(&vt, NULL, 256);
    assert_int_equal(vt_map(&vt, BASE, 4 * PG, RW, VMAR_PLACE_FIXED, 0, NULL),
                     0);
    assert_int_equal(resident(&vt), 0);
    assert_int_equal(
        vmar_fault(vt.space, BASE + PG + 17, VMAR_ACCESS_READ, VMAR_FAULT_USER),
        0);
    VT_CHECK(&vt);
    assert_int_equal(resident(&vt), PG);
    memset(buf, 0xee, sizeof(buf));
    assert_int_equal(vmar_read(vt.space, BASE + PG, buf, sizeof(buf), &done),
                     0);
    assert_int_equal(done, sizeof(buf));
    for (size_t i = 0; i < sizeof(buf); i++)
        assert_int_equal(buf[i], 0);
    /* A second fault on the same page is spurious: nothing allocated. */
    struct vmar_sim_stats before, after;
    vmar_sim_stats(vt.sim, &before);
    assert_int_equal(vmar_fault(vt.space, BASE + PG, VMAR_ACCESS_WRITE, 0), 0);
    vmar_sim_stats(vt.sim, &after);
    assert_int_equal(after.frame_alloc_calls, before.frame_alloc_calls);
    assert_int_equal(after.alloc_calls, before.alloc_calls);
    assert_int_equal(resident(&vt), PG);
    VT_CHECK(&vt);
    vt_teardown(&vt);
}

static void test_write_read_across_pages_and_mappings(void **state)
{
    struct vt vt;
    unsigned char in[3 * 4096], out[3 * 4096];
    size_t done;
    (void)state;

    vt_setup(&vt, NULL, 256);
    /* Two adjacent mappings with different prot: [BASE, +2PG) rw-,
     * [+2PG, +4PG) rwx. A copy may cross both. */
    assert_int_equal(vt_map(&vt, BASE, 2 * PG, RW, VMAR_PLACE_FIXED, 0, NULL),
                     0);
    assert_int_equal(vt_map(&vt, BASE + 2 * PG, 2 * PG, VMAR_PROT_RWX,
                            VMAR_PLACE_FIXED, 0, NULL),
                     0);
    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = (unsigned char)(i * 7 + 3);
    assert_int_equal(vmar_write(vt.space, BASE + 100, in, sizeof(in), &done),
                     0);
    assert_int_equal(done, sizeof(in));
    VT_CHECK(&vt);
    assert_int_equal(resident(&vt), 4 * PG); /* touched 4 pages */
    memset(out, 0, sizeof(out));
    assert_int_equal(vmar_read(vt.space, BASE + 100, out, sizeof(out), &done),
                     0);
    assert_memory_equal(in, out, sizeof(in));
    /* fill_zero over a page boundary, then read it back. */
    assert_int_equal(vmar_fill_zero(vt.space, BASE + PG - 8, 16, &done), 0);
    assert_int_equal(done, 16);
    assert_int_equal(vmar_read(vt.space, BASE + PG - 8, out, 16, NULL), 0);
    for (int i = 0; i < 16; i++)
        assert_int_equal(out[i], 0);
    vt_teardown(&vt);
}

static void test_errors_stop_at_first_bad_page(void **state)
{
    struct vt vt;
    unsigned char buf[3 * 4096] = {0};
    size_t done;
    (void)state;

    vt_setup(&vt, NULL, 256);
    assert_int_equal(vt_map(&vt, BASE, 2 * PG, RW, VMAR_PLACE_FIXED, 0, NULL),
                     0);
    assert_int_equal(vt_map(&vt, BASE + 3 * PG, PG, VMAR_PROT_READ,
                            VMAR_PLACE_FIXED, 0, NULL),
                     0);
    /* A read that runs into the hole at BASE+2PG copies up to it. */
    assert_int_equal(vmar_read(vt.space, BASE + PG + 10, buf, 2 * PG, &done),
                     VMAR_EFAULT);
    assert_int_equal(done, PG - 10);
    /* A write into the read-only mapping stops at its first byte. */
    assert_int_equal(vmar_write(vt.space, BASE + 3 * PG, buf, 8, &done),
                     VMAR_EFAULT);
    assert_int_equal(done, 0);
    /* Reading it is fine (demand-zero, read-only leaf). */
    assert_int_equal(vmar_read(vt.space, BASE + 3 * PG, buf, 8, &done), 0);
    assert_int_equal(done, 8);
    /* Wrap-around is a fault, not a wild copy. */
    assert_int_equal(vmar_read(vt.space, UINT64_MAX - 4, buf, 16, &done),
                     VMAR_EFAULT);
    assert_int_equal(done, 0);
    VT_CHECK(&vt);
    vt_teardown(&vt);
}

static void test_fault_codes(void **state)
{
    struct vt vt;
    (void)state;

    vt_setup(&vt, NULL, 256);
    assert_int_equal(
        vt_map(&vt, BASE, PG, VMAR_PROT_READ, VMAR_PLACE_FIXED, 0, NULL), 0);
    assert_int_equal(vt_map(&vt, BASE + 2 * PG, PG, VMAR_PROT_NONE,
                            VMAR_PLACE_FIXED, 0, NULL),
                     0);
    struct vt_snap snap;
    vt_snap_take(&vt, &snap);
    assert_int_equal(vmar_fault(vt.space, BASE + PG, VMAR_ACCESS_READ, 0),
                     VMAR_ENOENT);
    assert_int_equal(vmar_fault(vt.space, BASE, VMAR_ACCESS_WRITE, 0),
                     VMAR_EACCES);
    assert_int_equal(vmar_fault(vt.space, BASE, VMAR_ACCESS_EXEC, 0),
                     VMAR_EACCES);
    assert_int_equal(vmar_fault(vt.space, BASE + 2 * PG, VMAR_ACCESS_READ, 0),
                     VMAR_EACCES);
    assert_int_equal(
        vmar_fault(vt.space, BASE, VMAR_ACCESS_READ | VMAR_ACCESS_WRITE, 0),
        VMAR_EINVAL);
    assert_int_equal(vmar_fault(vt.space, BASE, 0, 0), VMAR_EINVAL);
    assert_int_equal(vmar_fault(vt.space, BASE, VMAR_ACCESS_READ, 0x80),
                     VMAR_EINVAL);
    assert_int_equal(vmar_fault(NULL, BASE, VMAR_ACCESS_READ, 0), VMAR_EINVAL);
    VT_EXPECT_UNCHANGED(&vt, &snap);
    vt_teardown(&vt);
}

/* A leaf narrower than its mapping is widened, not replaced. */
static void test_widen_after_protect(void **state)
{
    struct vt vt;
    unsigned char b = 0x5a, r = 0;
    (void)state;

    vt_setup(&vt, NULL, 256);
    assert_int_equal(vt_map(&vt, BASE, PG, RW, VMAR_PLACE_FIXED, 0, NULL), 0);
    assert_int_equal(vmar_write(vt.space, BASE, &b, 1, NULL), 0);
    assert_int_equal(vt_protect(&vt, BASE, PG, VMAR_PROT_READ), 0);
    assert_int_equal(vmar_write(vt.space, BASE, &b, 1, NULL), VMAR_EFAULT);
    assert_int_equal(vt_protect(&vt, BASE, PG, RW), 0);
    b = 0x77;
    assert_int_equal(vmar_write(vt.space, BASE, &b, 1, NULL), 0);
    assert_int_equal(vmar_read(vt.space, BASE, &r, 1, NULL), 0);
    assert_int_equal(r, 0x77);
    assert_int_equal(resident(&vt), PG); /* the same frame all along */
    VT_CHECK(&vt);
    vt_teardown(&vt);
}

static int write_fault(struct vt *vt, void *arg)
{
    return vmar_fault(vt->space, *(const vmar_addr_t *)arg, VMAR_ACCESS_WRITE,
                      0);
}

/* Out of memory at each allocation of a fault: nothing changes. */
static void test_fault_oom(void **state)
{
    struct vt vt;
    (void)state;

    vt_setup(&vt, NULL, 256);
    /* Far from anything populated (a 1 GiB region of its own near the top
     * of whatever user range the backend has), so the fault needs new
     * tables too. */
    struct vmar_stats st;
    vmar_stats(vt.space, &st);
    const vmar_addr_t far =
        (st.user_hi - 0x40000000) & ~(vmar_addr_t)0x3fffffff;
    assert_int_equal(vt_map(&vt, far, PG, RW, VMAR_PLACE_FIXED, 0, NULL), 0);
    /* At least a table page and the frame. */
    assert_true(vt_fail_each_allocation(&vt, write_fault, (void *)&far) >= 2);
    assert_int_equal(resident(&vt), PG);
    VT_CHECK(&vt);
    vt_teardown(&vt);
}

/* ---- frames given back in batches (vmar_env::frame_free_batch) ------ */

static const struct vmar_env *fb_sim; /* the sim's env, wrapped below */
static size_t fb_single, fb_batches, fb_batched, fb_largest;

static void fb_free(void *ctx, vmar_paddr_t pa)
{
    fb_single++;
    fb_sim->frame_free(ctx, pa);
}

static void fb_free_batch(void *ctx, const vmar_paddr_t *pa, size_t n)
{
    assert_true(n >= 1 && n <= 32);
    fb_batches++;
    fb_batched += n;
    if (n > fb_largest)
        fb_largest = n;
    for (size_t i = 0; i < n; i++)
        fb_sim->frame_free(ctx, pa[i]);
}

/* 100 faulted pages, then one unmap: with frame_free_batch the frames
 * (and the emptied tables) go back in calls of at most 32 frames, none
 * through frame_free; without it, one frame_free per frame. Either way
 * every frame comes back (vt_teardown). */
static void fb_run(bool batch)
{
    struct vmar_sim_opts so = {.nframes = 512, .seed = 42, .verbose = true};
    struct vmar_env env;
    struct vt vt;

    memset(&vt, 0, sizeof(vt));
    assert_int_equal(vmar_sim_create(&so, &vt.sim), 0);
    fb_sim = vmar_sim_env(vt.sim);
    env = *fb_sim;
    env.frame_free = fb_free;
    env.frame_free_batch = batch ? fb_free_batch : NULL;
    vt.env = &env;
    vt.opts.env = &env;
    vt_use_backend(&vt.opts, vt.sim, &vt.cfg);
    assert_int_equal(vmar_space_create(&vt.opts, &vt.space), 0);
    vt.refcheck = vt_backend()->real;
    assert_int_equal(vt_map(&vt, BASE, 100 * PG, RW, VMAR_PLACE_FIXED, 0, NULL),
                     0);
    for (unsigned i = 0; i < 100; i++)
        assert_int_equal(vmar_fault(vt.space, BASE + i * PG, VMAR_ACCESS_WRITE,
                                    VMAR_FAULT_USER),
                         0);
    VT_CHECK(&vt);
    fb_single = fb_batches = fb_batched = fb_largest = 0;
    assert_int_equal(vmar_unmap(vt.space, BASE, 100 * PG), 0);
    VT_CHECK(&vt);
    if (batch) {
        /* 100 data frames and at least the leaf table. */
        assert_int_equal(fb_single, 0);
        assert_true(fb_batched >= 101);
        assert_int_equal(fb_largest, 32);
        assert_true(fb_batches >= 4 && fb_batches <= fb_batched / 32 + 2);
    } else {
        assert_int_equal(fb_batches, 0);
        assert_true(fb_single >= 101);
    }
    vt_teardown(&vt);
}

/* Out of memory at each allocation of a fault that takes the fault gate
 * (libvmar takes the space lock itself: the locked env and a lock
 * object), far from anything populated so that it needs tables too:
 * every failure is VMAR_ENOMEM with the space as it was, and the gate is
 * left open (a layout change afterwards does not wait). */
static void test_gated_fault_oom(void **state)
{
    struct vmar_sim_opts so = {.nframes = 256, .seed = 42, .verbose = true};
    struct vmar_sim_lock *lock;
    struct vmar_stats st;
    struct vt vt;
    (void)state;

    memset(&vt, 0, sizeof(vt));
    assert_int_equal(vmar_sim_create(&so, &vt.sim), 0);
    assert_int_equal(vmar_sim_lock_create(&lock), 0);
    vt.env = vmar_sim_env_locked(vt.sim);
    vt.opts.env = vt.env;
    vt.opts.lock = lock;
    vt_use_backend(&vt.opts, vt.sim, &vt.cfg);
    assert_int_equal(vmar_space_create(&vt.opts, &vt.space), 0);
    vt.refcheck = vt_backend()->real;
    vmar_stats(vt.space, &st);
    const vmar_addr_t far =
        (st.user_hi - 0x40000000) & ~(vmar_addr_t)0x3fffffff;
    assert_int_equal(vt_map(&vt, far, 2 * PG, RW, VMAR_PLACE_FIXED, 0, NULL),
                     0);
    assert_true(vt_fail_each_allocation(&vt, write_fault, (void *)&far) >= 2);
    assert_int_equal(resident(&vt), PG);
    assert_int_equal(vt_unmap(&vt, far + PG, PG), 0);
    VT_CHECK(&vt);
    vmar_space_destroy(vt.space);
    vt.space = NULL;
    vmar_sim_lock_destroy(lock);
    vt_teardown(&vt);
}

/* A backend without the optional probe and map_empty: the core asks
 * find_next and prepare, then find_next and map, and faults behave the
 * same (demand-zero, spurious, widened, read then written). */
static void test_fault_without_probe(void **state)
{
    struct vmar_mmu_ops ops;
    struct vt vt;
    (void)state;

    memset(&vt, 0, sizeof(vt));
    struct vmar_sim_opts so = {.nframes = 256, .seed = 42, .verbose = true};
    assert_int_equal(vmar_sim_create(&so, &vt.sim), 0);
    vt.env = vmar_sim_env(vt.sim);
    vt.opts.env = vt.env;
    vt_use_backend(&vt.opts, vt.sim, &vt.cfg);
    ops = *vt.opts.mmu;
    assert_non_null(ops.probe);
    assert_non_null(ops.map_empty);
    ops.probe = NULL;
    ops.map_empty = NULL;
    vt.opts.mmu = &ops;
    assert_int_equal(vmar_space_create(&vt.opts, &vt.space), 0);
    vt.refcheck = vt_backend()->real;
    assert_int_equal(vt_map(&vt, BASE, 8 * PG, RW, VMAR_PLACE_FIXED, 0, NULL),
                     0);
    for (unsigned i = 0; i < 8; i++) {
        const unsigned access = i & 1 ? VMAR_ACCESS_READ : VMAR_ACCESS_WRITE;
        assert_int_equal(
            vmar_fault(vt.space, BASE + i * PG, access, VMAR_FAULT_USER), 0);
        VT_CHECK(&vt);
        /* Again: spurious for the same access, a widening write after a
         * read. */
        assert_int_equal(vmar_fault(vt.space, BASE + i * PG, VMAR_ACCESS_WRITE,
                                    VMAR_FAULT_USER),
                         0);
        VT_CHECK(&vt);
    }
    assert_int_equal(resident(&vt), 8 * PG);
    vt_teardown(&vt);
}

static void test_frame_free_batch(void **state)
{
    (void)state;
    fb_run(true);
    fb_run(false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_demand_zero),
        cmocka_unit_test(test_write_read_across_pages_and_mappings),
        cmocka_unit_test(test_errors_stop_at_first_bad_page),
        cmocka_unit_test(test_fault_codes),
        cmocka_unit_test(test_widen_after_protect),
        cmocka_unit_test(test_fault_oom),
        cmocka_unit_test(test_frame_free_batch),
        cmocka_unit_test(test_fault_without_probe),
        cmocka_unit_test(test_gated_fault_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
