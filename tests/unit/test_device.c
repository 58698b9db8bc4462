/* SPDX-License-Identifier: MIT */
/*
 * Device (I/O memory) mappings: mapped at map time with their cache
 * policy, never resident, never freed, never merged, not reachable through
 * vmar_read/vmar_write, reachable by a (simulated) CPU.
 *
 * The "device" is a run of pool frames taken straight from the env, so
 * the reference decoders of the hardware backends can check it like RAM.
 */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

#define BASE ((vmar_addr_t)0x40000000)
#define RW   (VMAR_PROT_READ | VMAR_PROT_WRITE)
#define NDEV 4

struct dev {
    vmar_paddr_t pa; /* first frame of NDEV contiguous ones */
    vmar_paddr_t got[3 * NDEV];
    size_t ngot;
};

/* Take frames until NDEV of them are physically contiguous. */
static void dev_get(struct vt *vt, struct dev *d)
{
    d->ngot = 0;
    d->pa = 0;
    while (d->ngot < 3 * NDEV && !d->pa) {
        assert_int_equal(vt->env->frame_alloc(vt->env->ctx, VMAR_FRAME_ZERO,
                                              &d->got[d->ngot]),
                         0);
        d->ngot++;
        for (size_t i = 0; i < d->ngot && !d->pa; i++) {
            size_t run = 0;
            for (size_t k = 0; k < NDEV; k++)
                for (size_t j = 0; j < d->ngot; j++)
                    if (d->got[j] == d->got[i] + k * PG)
                        run++;
            if (run == NDEV)
                d->pa = d->got[i];
        }
    }
    assert_true(d->pa != 0);
    for (int k = 0; k < NDEV; k++)
        memset(
            vt->env->phys_to_virt(vt->env->ctx, d->pa + (vmar_paddr_t)k * PG),
            0x10 + k, PG);
}

static void dev_put(struct vt *vt, struct dev *d)
{
    for (size_t i = 0; i < d->ngot; i++)
        vt->env->frame_free(vt->env->ctx, d->got[i]);
}

static int map_dev_cache(struct vt *vt, vmar_addr_t at, vmar_size_t size,
                         vmar_paddr_t pa, unsigned prot, enum vmar_cache cache)
{
    struct vmar_map_opts o = {.addr = at,
                              .size = size,
                              .prot = prot,
                              .place = VMAR_PLACE_FIXED,
                              .backing = VMAR_BACKING_DEVICE,
                              .paddr = pa,
                              .cache = cache};
    return vt_map_opts(vt, &o, NULL);
}

static int map_dev(struct vt *vt, vmar_addr_t at, vmar_size_t size,
                   vmar_paddr_t pa, unsigned prot)
{
    return map_dev_cache(vt, at, size, pa, prot, VMAR_CACHE_UC);
}

static void test_map_query_protect_unmap(void **state)
{
    struct vt vt;
    struct dev d;
    struct vmar_stats st;
    struct vmar_mapping_info info;
    vmar_size_t bytes;
    unsigned char b;
    size_t done;
    (void)state;

    vt_setup(&vt, NULL, 256);
    dev_get(&vt, &d);
    assert_int_equal(map_dev(&vt, BASE, NDEV * PG, d.pa, RW), 0);
    vmar_stats(vt.space, &st);
    assert_int_equal(st.resident, 0); /* device pages are not RSS */
    assert_int_equal(vmar_resident(vt.space, BASE, BASE + NDEV * PG, &bytes),
                     0);
    assert_int_equal(bytes, NDEV * PG); /* but every page is translated */
    assert_int_equal(vmar_query(vt.space, BASE + PG, &info), 0);
    assert_int_equal(info.backing, VMAR_BACKING_DEVICE);
    assert_int_equal(info.offset, d.pa);
    assert_int_equal(info.cache, VMAR_CACHE_UC);

    /* Faults: present pages are spurious; exec is refused. */
    assert_int_equal(vmar_fault(vt.space, BASE, VMAR_ACCESS_WRITE, 0), 0);
    assert_int_equal(vmar_fault(vt.space, BASE, VMAR_ACCESS_EXEC, 0),
                     VMAR_EACCES);
    /* Kernel copies refuse device memory. */
    assert_int_equal(vmar_read(vt.space, BASE, &b, 1, &done), VMAR_EFAULT);
    assert_int_equal(done, 0);

    /* Protect the middle: split, offsets follow, nothing merges back. */
    assert_int_equal(vt_protect(&vt, BASE + PG, PG, VMAR_PROT_READ), 0);
    assert_int_equal(vmar_query(vt.space, BASE + PG, &info), 0);
    assert_int_equal(info.offset, d.pa + PG);
    assert_int_equal(vmar_query(vt.space, BASE + 2 * PG, &info), 0);
    assert_int_equal(info.start, BASE + 2 * PG);
    assert_int_equal(info.offset, d.pa + 2 * PG);
    assert_int_equal(vt_protect(&vt, BASE + PG, PG, RW), 0);
    vmar_stats(vt.space, &st);
    assert_int_equal(st.map_count, 3); /* device mappings never merge */

    /* Unmap and overwrite: the device frames are never freed. */
    assert_int_equal(vt_unmap(&vt, BASE + PG, PG), 0);
    assert_int_equal(vt_map(&vt, BASE + 2 * PG, PG, RW, VMAR_PLACE_FIXED,
                            VMAR_MAP_POPULATE, NULL),
                     0);
    vmar_stats(vt.space, &st);
    assert_int_equal(st.resident, PG); /* only the anonymous page */
    for (int k = 0; k < NDEV; k++)
        assert_true(vmar_sim_frame_live(vt.sim, d.pa + (vmar_paddr_t)k * PG));
    vmar_space_destroy(vt.space);
    vt.space = NULL;
    for (int k = 0; k < NDEV; k++)
        assert_true(vmar_sim_frame_live(vt.sim, d.pa + (vmar_paddr_t)k * PG));
    dev_put(&vt, &d);
    vt_teardown(&vt);
}

static int expect_cache(void *arg, const struct vmar_mapping_info *info)
{
    assert_int_equal(info->cache, *(const enum vmar_cache *)arg);
    return 0;
}

/* Every policy, on every backend: the space reports the policy asked for
 * (query, iterate) through map, protect, remap and fork, and vmar_check
 * (VT_CHECK after each step) accepts the leaves however the backend
 * stores the policy (RISC-V stores WT as WC: vmar_mmu_ops::cache_as). */
static void test_every_cache_policy(void **state)
{
    const vmar_addr_t to = BASE + 64 * PG;
    struct vmar_mapping_info info;
    struct vt vt, child;
    vmar_addr_t at;
    struct dev d;
    (void)state;

    vt_setup(&vt, NULL, 256);
    dev_get(&vt, &d);
    for (enum vmar_cache c = VMAR_CACHE_WB; c <= VMAR_CACHE_UC; c++) {
        assert_int_equal(map_dev_cache(&vt, BASE, NDEV * PG, d.pa, RW, c), 0);
        assert_int_equal(vmar_query(vt.space, BASE, &info), 0);
        assert_int_equal(info.cache, c);
        /* A protect rewrites leaves in place and splits the mapping. */
        assert_int_equal(vt_protect(&vt, BASE + PG, PG, VMAR_PROT_READ), 0);
        assert_int_equal(vmar_query(vt.space, BASE + PG, &info), 0);
        assert_int_equal(info.cache, c);
        /* A remap installs the leaves anew; a fork copies them. */
        assert_int_equal(vmar_remap(vt.space, BASE, NDEV * PG, NDEV * PG,
                                    VMAR_REMAP_MAYMOVE | VMAR_REMAP_FIXED, to,
                                    &at),
                         0);
        VT_CHECK(&vt);
        assert_int_equal(at, to);
        assert_int_equal(vt_fork(&vt, &child), 0);
        assert_int_equal(
            vmar_iterate(child.space, 0, VT_USER_TOP, expect_cache, &c), 0);
        vt_child_destroy(&child);
        assert_int_equal(
            vmar_iterate(vt.space, 0, VT_USER_TOP, expect_cache, &c), 0);
        assert_int_equal(vt_unmap(&vt, to, NDEV * PG), 0);
    }
    dev_put(&vt, &d);
    vt_teardown(&vt);
}

/* A CPU reads and writes the device's bytes through the mapping. */
static void test_cpu_reaches_device(void **state)
{
    struct vt vt;
    struct dev d;
    struct vmar_sim_cpu *cpu;
    unsigned char buf[8];
    (void)state;

    vt_setup(&vt, NULL, 256);
    dev_get(&vt, &d);
    assert_int_equal(map_dev(&vt, BASE, NDEV * PG, d.pa, RW), 0);
    assert_int_equal(vmar_sim_cpu_create(vt.sim, 0, &cpu), 0);
    vmar_sim_cpu_switch(cpu, vt.space);
    assert_int_equal(
        vmar_sim_cpu_access(cpu, BASE + 2 * PG + 5, VMAR_ACCESS_READ, buf, 1),
        0);
    assert_int_equal(buf[0], 0x12);
    memset(buf, 0xab, sizeof(buf));
    assert_int_equal(vmar_sim_cpu_access(cpu, BASE + 3 * PG, VMAR_ACCESS_WRITE,
                                         buf, sizeof(buf)),
                     0);
    unsigned char *dev3 =
        vt.env->phys_to_virt(vt.env->ctx, d.pa + 3 * (vmar_paddr_t)PG);
    assert_int_equal(dev3[7], 0xab);
    assert_int_equal(vmar_sim_violations(vt.sim), 0);
    vmar_sim_cpu_switch(cpu, NULL);
    vmar_sim_cpu_destroy(cpu);
    vmar_space_destroy(vt.space);
    vt.space = NULL;
    dev_put(&vt, &d);
    vt_teardown(&vt);
}

static int map_dev_at_base(struct vt *vt, void *arg)
{
    return map_dev(vt, BASE, NDEV * PG, ((const struct dev *)arg)->pa,
                   VMAR_PROT_READ | VMAR_PROT_WRITE);
}

/* Out of page-table pages while mapping a device: nothing changes. */
static void test_device_map_oom(void **state)
{
    struct vt vt;
    struct dev d;
    (void)state;

    vt_setup(&vt, NULL, 256);
    dev_get(&vt, &d);
    /* The node and at least one table page. */
    assert_true(vt_fail_each_allocation(&vt, map_dev_at_base, &d) >= 2);
    vmar_space_destroy(vt.space);
    vt.space = NULL;
    dev_put(&vt, &d);
    vt_teardown(&vt);
}

/*
 * Page-table pages are prepared for a protect or unmap only where a cut
 * end falls inside a device mapping (the only kind with huge leaves);
 * cutting ordinary memory asks the backend for nothing.
 */
static void test_prepare_only_for_device_cuts(void **state)
{
    const vmar_addr_t dev_at = BASE + 0x100000;
    struct vt vt;
    struct dev d;
    size_t p0;
    (void)state;

    vt_setup(&vt, NULL, 256);
    dev_get(&vt, &d);
    assert_int_equal(vt_map(&vt, BASE, 8 * PG, RW, VMAR_PLACE_FIXED, 0, NULL),
                     0);
    /* Ordinary memory right below the device (they never merge). */
    assert_int_equal(
        vt_map(&vt, dev_at - 2 * PG, 2 * PG, RW, VMAR_PLACE_FIXED, 0, NULL), 0);
    assert_int_equal(map_dev(&vt, dev_at, NDEV * PG, d.pa, RW), 0);
    p0 = vt_stats(&vt).prepares;
    assert_int_equal(vt_protect(&vt, BASE + 2 * PG, PG, VMAR_PROT_READ), 0);
    assert_int_equal(vt_unmap(&vt, BASE + 5 * PG, PG), 0);
    /* A range that ends inside the device mapping but does not change
     * it there (same permissions): not cut, nothing to prepare. */
    assert_int_equal(vt_protect(&vt, dev_at - 2 * PG, 3 * PG, RW), 0);
    /* The whole device mapping: no cut either. */
    assert_int_equal(vt_protect(&vt, dev_at, NDEV * PG, VMAR_PROT_READ), 0);
    assert_int_equal(vt_stats(&vt).prepares, p0);
    /* Cutting the device mapping: one prepare each. */
    assert_int_equal(vt_protect(&vt, dev_at + PG, PG, RW), 0);
    assert_int_equal(vt_stats(&vt).prepares, p0 + 1);
    assert_int_equal(vt_unmap(&vt, dev_at + 2 * PG, PG), 0);
    assert_int_equal(vt_stats(&vt).prepares, p0 + 2);
    /* Ending on the boundary of a device piece cuts nothing. */
    assert_int_equal(vt_unmap(&vt, BASE, dev_at + PG - BASE), 0);
    assert_int_equal(vt_stats(&vt).prepares, p0 + 2);
    vmar_space_destroy(vt.space);
    vt.space = NULL;
    dev_put(&vt, &d);
    vt_teardown(&vt);
}

static int protect_page_300(struct vt *vt, void *arg)
{
    (void)arg;
    return vt_protect(vt, BASE + 300 * PG, PG, VMAR_PROT_READ);
}

/*
 * A 2 MiB device range, congruent to its address: one huge leaf where the
 * backend has them; protecting a page in the middle splits it, and every
 * translation stays right (vmar_check and, on hardware formats, the
 * reference decoder verify each page).
 */
static void test_device_huge(void **state)
{
    const vmar_size_t huge = (vmar_size_t)1 << 21;
    struct vt vt;
    vmar_paddr_t *got = NULL, pa = 0;
    size_t n = 0, run = 0;
    struct vmar_sim_stats before, after;
    struct vmar_sim_cpu *cpu;
    unsigned char b = 0;
    (void)state;

    vt_setup(&vt, NULL, 2048);
    /* Frames until a 2 MiB-aligned contiguous run of 512 shows up. */
    got = calloc(2048, sizeof(*got));
    assert_non_null(got);
    while (!pa && n < 2048 &&
           vt.env->frame_alloc(vt.env->ctx, 0, &got[n]) == 0) {
        run = (n && got[n] == got[n - 1] + PG) ? run + 1 : 1;
        n++;
        if (run >= huge / PG && (got[n - 1] + PG) % huge == 0)
            pa = got[n - 1] + PG - huge;
    }
    assert_true(pa != 0);
    memset(vt.env->phys_to_virt(vt.env->ctx, pa + 300 * PG), 0x77, PG);

    vmar_sim_stats(vt.sim, &before);
    assert_int_equal(map_dev(&vt, BASE, huge, pa, RW), 0);
    vmar_sim_stats(vt.sim, &after);
    if (strcmp(vt_backend()->name, "sim") == 0)
        assert_int_equal(after.leaves_live - before.leaves_live, 1);
    /* Two nodes, and the table page the split of the huge leaf takes:
     * each allocation failing leaves everything as it was. */
    assert_true(vt_fail_each_allocation(&vt, protect_page_300, NULL) >= 3);
    assert_int_equal(vmar_sim_cpu_create(vt.sim, 0, &cpu), 0);
    vmar_sim_cpu_switch(cpu, vt.space);
    assert_int_equal(
        vmar_sim_cpu_access(cpu, BASE + 300 * PG + 9, VMAR_ACCESS_READ, &b, 1),
        0);
    assert_int_equal(b, 0x77);
    assert_int_equal(
        vmar_sim_cpu_access(cpu, BASE + 300 * PG, VMAR_ACCESS_WRITE, &b, 1),
        VMAR_EACCES);
    assert_int_equal(vt_unmap(&vt, BASE + 10 * PG, PG), 0);
    assert_int_equal(vmar_sim_violations(vt.sim), 0);
    vmar_sim_cpu_switch(cpu, NULL);
    vmar_sim_cpu_destroy(cpu);
    vmar_space_destroy(vt.space);
    vt.space = NULL;
    while (n)
        vt.env->frame_free(vt.env->ctx, got[--n]);
    free(got);
    vt_teardown(&vt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map_query_protect_unmap),
        cmocka_unit_test(test_every_cache_policy),
        cmocka_unit_test(test_cpu_reaches_device),
        cmocka_unit_test(test_device_map_oom),
        cmocka_unit_test(test_device_huge),
        cmocka_unit_test(test_prepare_only_for_device_cuts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
