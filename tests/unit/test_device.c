/* SPDX-License-Identifier: MIT */
/*
 * Device (I/O memory) mappings: mapped at map time with their cache
 * policy, never resident, never freed, never merged, not reachable through
 * vmar_read/vmar_write, reachable by a (simulated) CPU.
 *
 * The "device" is a run of pool frames taken straight from the env, so
 * the reference decoders of the hardware backends can check it like RAM.
 *
 * Also every other physical address that reaches a leaf, against the
 * backend's pa_top: device ranges (VMAR_EINVAL), object pages (VMAR_EIO)
 * and frames from env->frame_alloc (a panic).
 */
#include "harness.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* The selected backend's pa_top: one past the highest physical address
 * its entries hold. */
static vmar_paddr_t pa_top(void)
{
    return vt_backend()->ops->pa_top;
}

static int map_dev_fixed(struct vt *vt, vmar_addr_t at, vmar_size_t size,
                         vmar_paddr_t pa)
{
    return map_dev(vt, at, size, pa, VMAR_PROT_READ);
}

/* A device map reaching past pa_top fails with VMAR_EINVAL and changes
 * nothing; the snapshot also covers the frames and tables. */
static void expect_refused(struct vt *vt, vmar_addr_t at, vmar_size_t size,
                           vmar_paddr_t pa)
{
    struct vt_snap snap;

    vt_snap_take(vt, &snap);
    assert_int_equal(map_dev_fixed(vt, at, size, pa), VMAR_EINVAL);
    VT_EXPECT_UNCHANGED(vt, &snap);
}

/*
 * Device memory up to pa_top maps (the last page, and huge leaves ending
 * there); a range that reaches past it is refused, whole, with the space
 * as it was (a fixed map over anonymous memory keeps that memory). The
 * entry would otherwise drop the high bits and map another frame: issue
 * 22's 0x10000100004000 mapped frame 0x100004000 of a 52-bit backend.
 */
static void test_device_pa_top(void **state)
{
    const vmar_paddr_t top = pa_top();
    const vmar_paddr_t issue = (vmar_paddr_t)0x10000100004000;
    const vmar_size_t huge = (vmar_size_t)1 << 21, giga = (vmar_size_t)1 << 30;
    struct vmar_mapping_info info;
    struct vt vt;
    (void)state;

    /* A fixed map reserves tables for base pages: 514 for 1 GiB. */
    vt_setup(&vt, NULL, 1024);
    assert_true(top != 0 && top % PG == 0);

    /* The last page below pa_top: mapped exactly there. */
    assert_int_equal(map_dev_fixed(&vt, BASE, PG, top - PG), 0);
    assert_int_equal(vmar_query(vt.space, BASE, &info), 0);
    assert_int_equal(info.offset, top - PG);
    assert_int_equal(vt_unmap(&vt, BASE, PG), 0);

    /* At pa_top, far above it, and straddling it: refused. */
    expect_refused(&vt, BASE, PG, top);
    expect_refused(&vt, BASE, PG, top + 0x4000);
    expect_refused(&vt, BASE, PG, ~(vmar_paddr_t)0 & ~(vmar_paddr_t)(PG - 1));
    expect_refused(&vt, BASE, 2 * PG, top - PG);

    /* Over private data: refused, the data stays (it was what the
     * truncated device leaf exposed). */
    assert_int_equal(vt_map(&vt, BASE, 4 * PG, RW, VMAR_PLACE_FIXED,
                            VMAR_MAP_POPULATE, NULL),
                     0);
    vt_poke(&vt, BASE + PG, 0x5a);
    if (issue + PG > top) {
        expect_refused(&vt, BASE, 4 * PG, issue);
    } else {
        /* 56-bit backends hold it: mapped as asked. */
        assert_int_equal(map_dev_fixed(&vt, BASE, 4 * PG, issue), 0);
        assert_int_equal(vmar_query(vt.space, BASE + PG, &info), 0);
        assert_int_equal(info.offset, issue);
        assert_int_equal(vt_map(&vt, BASE, 4 * PG, RW, VMAR_PLACE_FIXED,
                                VMAR_MAP_POPULATE, NULL),
                         0);
        vt_poke(&vt, BASE + PG, 0x5a);
    }
    expect_refused(&vt, BASE, 4 * PG, top - 2 * PG);
    assert_int_equal(vt_peek(&vt, BASE + PG), 0x5a);
    assert_int_equal(vt_unmap(&vt, BASE, 4 * PG), 0);

    /* Huge leaves ending at pa_top map; one more page past it does not. */
    assert_int_equal(map_dev_fixed(&vt, BASE, huge, top - huge), 0);
    assert_int_equal(map_dev_fixed(&vt, BASE + giga, giga, top - giga), 0);
    assert_int_equal(vmar_query(vt.space, BASE + giga + giga - PG, &info), 0);
    assert_int_equal(info.offset, top - giga);
    assert_int_equal(vt_unmap(&vt, BASE, 2 * giga), 0);
    expect_refused(&vt, BASE, huge, top - huge / 2);
    expect_refused(&vt, BASE, giga, top - giga + huge);
    vt_teardown(&vt);
}

/* A device mapping at the top of the physical range moves and forks
 * with its address; it never grows (past pa_top or anywhere). */
static void test_device_pa_top_remap(void **state)
{
    const vmar_paddr_t top = pa_top();
    struct vmar_mapping_info info;
    struct vt_snap snap;
    struct vt vt, child;
    vmar_addr_t at = 0;
    (void)state;

    vt_setup(&vt, NULL, 256);
    assert_int_equal(map_dev_fixed(&vt, BASE, 2 * PG, top - 2 * PG), 0);
    vt_snap_take(&vt, &snap);
    assert_int_equal(
        vmar_remap(vt.space, BASE, 2 * PG, 3 * PG, VMAR_REMAP_MAYMOVE, 0, &at),
        VMAR_EFAULT);
    assert_int_equal(vmar_resize(vt.space, BASE, 2 * PG, 3 * PG), VMAR_EFAULT);
    VT_EXPECT_UNCHANGED(&vt, &snap);
    assert_int_equal(vmar_remap(vt.space, BASE, 2 * PG, 2 * PG,
                                VMAR_REMAP_MAYMOVE | VMAR_REMAP_FIXED,
                                BASE + 16 * PG, &at),
                     0);
    VT_CHECK(&vt);
    assert_int_equal(at, BASE + 16 * PG);
    assert_int_equal(vmar_query(vt.space, BASE + 17 * PG, &info), 0);
    assert_int_equal(info.offset, top - 2 * PG);
    assert_int_equal(vt_fork(&vt, &child), 0);
    assert_int_equal(vmar_query(child.space, BASE + 17 * PG, &info), 0);
    assert_int_equal(info.offset, top - 2 * PG);
    vt_child_destroy(&child);
    vt_teardown(&vt);
}

/* ---- object pages ---------------------------------------------------- */

/* The env the next space gets (a wrapped sim env) and the original. */
static struct vmar_env wrapped_env;
static const struct vmar_env *sim_env;

/* vt_setup() over wrapped_env: the sim env with `wrap` applied. */
static void setup_wrapped(struct vt *vt, void (*wrap)(struct vmar_env *))
{
    struct vmar_sim_opts so = {.nframes = 256, .seed = 42, .verbose = true};

    memset(vt, 0, sizeof(*vt));
    assert_int_equal(vmar_sim_create(&so, &vt->sim), 0);
    sim_env = vmar_sim_env(vt->sim);
    wrapped_env = *sim_env;
    wrap(&wrapped_env);
    vt->env = &wrapped_env;
    vt->opts.env = &wrapped_env;
    vt_use_backend(&vt->opts, vt->sim, &vt->cfg);
    assert_int_equal(vmar_space_create(&vt->opts, &vt->space), 0);
    vt->refcheck = vt_backend()->real;
    VT_CHECK(vt);
}

/* The count of every frame at or above pa_top (there are none in the
 * pool): the object's own reference keeps it at 1 or more. */
static size_t high_refs;

static size_t *high_refcount(void *ctx, vmar_paddr_t pa)
{
    if (pa >= pa_top())
        return &high_refs;
    return sim_env->frame_refcount(ctx, pa);
}

static void wrap_refcount(struct vmar_env *env)
{
    env->frame_refcount = high_refcount;
}

/* Four pages: page 0 is at pa_top, the others are pool frames. */
struct high_obj {
    struct vmar_object obj;
    const struct vmar_env *env;
    vmar_paddr_t pages[4];
};

static uint64_t high_size(struct vmar_object *obj)
{
    (void)obj;
    return 4 * PG;
}

static int high_get_page(struct vmar_object *obj, uint64_t index,
                         unsigned flags, vmar_paddr_t *pa)
{
    struct high_obj *h = (struct high_obj *)obj;

    (void)flags;
    if (index >= 4)
        return VMAR_ENXIO;
    vmar_frame_get(h->env, h->pages[index]);
    *pa = h->pages[index];
    return 0;
}

static void high_release(struct vmar_object *obj)
{
    (void)obj; /* the test drops the pages */
}

static const struct vmar_object_ops high_ops = {
    .abi = VMAR_OBJECT_ABI,
    .size = high_size,
    .get_page = high_get_page,
    .release = high_release,
};

static int map_high(struct vt *vt, struct high_obj *h, unsigned flags)
{
    struct vmar_map_opts o = {.addr = BASE,
                              .size = 4 * PG,
                              .prot = RW,
                              .place = VMAR_PLACE_FIXED,
                              .flags = flags,
                              .backing = VMAR_BACKING_OBJECT,
                              .object = &h->obj};
    return vt_map_opts(vt, &o, NULL);
}

/*
 * An object page at or above pa_top: the fault (shared or private, read
 * or write) and a populating map fail with VMAR_EIO, the space as it was
 * and the page's reference dropped; fault-around leaves it out.
 */
static void test_object_page_above_pa_top(void **state)
{
    static const unsigned kinds[] = {VMAR_MAP_SHARED, 0};
    struct high_obj h = {.pages = {0}};
    struct vt_snap snap;
    vmar_size_t bytes;
    struct vt vt;
    (void)state;

    setup_wrapped(&vt, wrap_refcount);
    h.env = vt.env;
    h.pages[0] = pa_top();
    high_refs = 1;
    for (int i = 1; i < 4; i++)
        assert_int_equal(vmar_frame_new(vt.env, &h.pages[i]), 0);
    vmar_object_init(&h.obj, &high_ops, VMAR_PROT_RWX);

    for (size_t k = 0; k < 2; k++) {
        assert_int_equal(map_high(&vt, &h, kinds[k]), 0);
        vt_snap_take(&vt, &snap);
        assert_int_equal(vmar_fault(vt.space, BASE, VMAR_ACCESS_READ, 0),
                         VMAR_EIO);
        assert_int_equal(vmar_fault(vt.space, BASE, VMAR_ACCESS_WRITE, 0),
                         VMAR_EIO);
        VT_EXPECT_UNCHANGED(&vt, &snap);
        assert_int_equal(high_refs, 1);
        assert_int_equal(vt_unmap(&vt, BASE, 4 * PG), 0);
    }

    /* Populate: refused before anything changed. */
    vt_snap_take(&vt, &snap);
    assert_int_equal(map_high(&vt, &h, VMAR_MAP_SHARED | VMAR_MAP_POPULATE),
                     VMAR_EIO);
    VT_EXPECT_UNCHANGED(&vt, &snap);
    assert_int_equal(high_refs, 1);

    /* Fault-around maps pages 1..3, not page 0. */
    assert_int_equal(map_high(&vt, &h, VMAR_MAP_SHARED | VMAR_MAP_FAULT_AROUND),
                     0);
    assert_int_equal(vmar_fault(vt.space, BASE + 2 * PG, VMAR_ACCESS_READ, 0),
                     0);
    VT_CHECK(&vt);
    assert_int_equal(vmar_resident(vt.space, BASE, BASE + 4 * PG, &bytes), 0);
    assert_int_equal(bytes, 3 * PG);
    assert_int_equal(vmar_resident(vt.space, BASE, BASE + PG, &bytes), 0);
    assert_int_equal(bytes, 0);
    assert_int_equal(high_refs, 1);
    assert_int_equal(vt_unmap(&vt, BASE, 4 * PG), 0);

    vmar_object_unref(&h.obj);
    for (int i = 1; i < 4; i++)
        vmar_frame_put(vt.env, h.pages[i]);
    vt_teardown(&vt);
}

/* ---- frames from env->frame_alloc ------------------------------------ */

/* Once armed, frame_alloc hands out pool frames moved up by pa_top, and
 * the other callbacks move them back: the frame an entry truncated to
 * pa_top's bits is the one the env meant, so nothing but the check can
 * notice. */
static bool armed;

static vmar_paddr_t untag(vmar_paddr_t pa)
{
    return pa & (pa_top() - 1);
}

static int tag_alloc(void *ctx, unsigned flags, vmar_paddr_t *pa)
{
    int rc = sim_env->frame_alloc(ctx, flags, pa);

    if (rc == 0 && armed)
        *pa += pa_top();
    return rc;
}

static void tag_free(void *ctx, vmar_paddr_t pa)
{
    sim_env->frame_free(ctx, untag(pa));
}

static void *tag_phys_to_virt(void *ctx, vmar_paddr_t pa)
{
    return sim_env->phys_to_virt(ctx, untag(pa));
}

static size_t *tag_refcount(void *ctx, vmar_paddr_t pa)
{
    return sim_env->frame_refcount(ctx, untag(pa));
}

/* The child's panic hook: which check fired is the exit status. */
_Noreturn static void exit_panic(void *ctx, const char *msg)
{
    (void)ctx;
    if (strstr(msg, "table page") && strstr(msg, "pa_top"))
        _exit(40);
    if (strstr(msg, "frame_alloc") && strstr(msg, "pa_top"))
        _exit(41);
    _exit(42);
}

static void wrap_alloc(struct vmar_env *env)
{
    env->frame_alloc = tag_alloc;
    env->frame_free = tag_free;
    env->frame_free_batch = NULL; /* every free untagged by tag_free */
    env->phys_to_virt = tag_phys_to_virt;
    env->frame_refcount = tag_refcount;
    env->panic = exit_panic;
}

/* In a child process, armed once the space exists: map a device page
 * (`tables`: its new tables are the first armed frames), or fault in an
 * anonymous page whose tables are already there. Returns the exit status
 * (0: no panic). */
static int child_status(bool tables)
{
    int status = 0;
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        struct vmar_map_opts o = {.addr = BASE,
                                  .size = 2 * PG,
                                  .prot = RW,
                                  .place = VMAR_PLACE_FIXED};
        vmar_paddr_t dev;
        struct vt vt;

        armed = false;
        setup_wrapped(&vt, wrap_alloc);
        if (sim_env->frame_alloc(sim_env->ctx, 0, &dev) != 0)
            _exit(43);
        if (tables) {
            o.backing = VMAR_BACKING_DEVICE;
            o.paddr = dev;
            o.size = PG;
            armed = true;
            (void)vmar_map(vt.space, &o, NULL);
            _exit(0);
        }
        if (vmar_map(vt.space, &o, NULL) != 0 ||
            vmar_fault(vt.space, BASE, VMAR_ACCESS_WRITE, 0) != 0)
            _exit(44);
        armed = true;
        (void)vmar_fault(vt.space, BASE + PG, VMAR_ACCESS_WRITE, 0);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/*
 * A frame from env->frame_alloc at or above pa_top breaks the env
 * contract: the entry would drop its high bits. The backend's table pages
 * and the core's data frames are checked where they become entries, and
 * the library panics (an env that hands out frames the MMU cannot reach
 * is no input to refuse). The sim backend takes only the sim's own
 * frame_alloc, whose pool lies below pa_top, so main() runs this on the
 * hardware backends only.
 */
static void test_env_frame_above_pa_top(void **state)
{
    (void)state;

    assert_true(vt_backend()->real);
    assert_int_equal(child_status(true), 40);
    assert_int_equal(child_status(false), 41);
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
        cmocka_unit_test(test_device_pa_top),
        cmocka_unit_test(test_device_pa_top_remap),
        cmocka_unit_test(test_object_page_above_pa_top),
        cmocka_unit_test(test_env_frame_above_pa_top),
    };
    /* The last test needs a backend that takes any env (see above). */
    const size_t n = sizeof(tests) / sizeof(tests[0]) - !vt_backend()->real;

    return _cmocka_run_group_tests("test_device", tests, n, NULL, NULL);
}
