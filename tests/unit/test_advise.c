/* SPDX-License-Identifier: MIT */
/*
 * vmar_advise() (madvise): DONTNEED/FREE drop pages (private memory reads
 * as zero or as its object again, shared memory keeps its contents),
 * WILLNEED changes nothing, RANDOM/SEQUENTIAL/DONTFORK cut mappings at
 * the range's ends and NORMAL/DOFORK merge them back, DONTFORK keeps a
 * mapping out of a fork child, and every failure (hole, device, unknown
 * advice, count limit, allocation) leaves the space exactly as it was.
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

/* ---- helpers ------------------------------------------------------------- */

static unsigned flags_at(struct vt *vt, vmar_addr_t at)
{
    struct vmar_mapping_info info;

    VT_EXPECT_RC(vmar_query(vt->space, at, &info), 0);
    return info.flags;
}

static char *line(char *p, vmar_addr_t lo, vmar_addr_t hi, const char *perms)
{
    return p + sprintf(p, "%08llx-%08llx %s 00000000 00:00 0\n",
                       (unsigned long long)lo, (unsigned long long)hi, perms);
}

/* Three lines: [BASE, a) [a, b) [b, BASE + n pages), all rw-p. */
static const char *three(char *buf, vmar_addr_t a, vmar_addr_t b, size_t n)
{
    line(line(line(buf, BASE, a, "rw-p"), a, b, "rw-p"), b, BASE + n * PG,
         "rw-p");
    return buf;
}

static const char *one(char *buf, size_t n)
{
    line(buf, BASE, BASE + n * PG, "rw-p");
    return buf;
}

/* ---- dropping pages ------------------------------------------------------ */

static void drop_anon(int advice)
{
    struct vt vt;
    struct vmar_sim_cpu *cpu;
    char want[256];
    unsigned char b = 0;

    vt_setup(&vt, NULL, 0);
    assert_int_equal(vmar_sim_cpu_create(vt.sim, 0, &cpu), 0);
    vmar_sim_cpu_switch(cpu, vt.space);
    vt_map_fixed(&vt, BASE, 4, RW, 0);
    vt_fill_pages(&vt, BASE, 4, 1);
    /* The CPU caches every page. */
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(
            vmar_sim_cpu_access(cpu, BASE + i * PG, VMAR_ACCESS_READ, &b, 1),
            0);
        assert_int_equal(b, vt_page_byte(1, i));
    }
    const size_t frames = vt_frames_live(&vt);
    assert_int_equal(vt_space_stats(&vt).resident, 4 * PG);

    VT_EXPECT_RC(vt_advise(&vt, BASE + PG, 2 * PG, advice), 0);
    VT_EXPECT_LAYOUT(&vt, one(want, 4)); /* no split */
    assert_int_equal(vt_space_stats(&vt).resident, 2 * PG);
    assert_int_equal(vt_space_stats(&vt).resident_anon, 2 * PG);
    assert_int_equal(vt_frames_live(&vt), frames - 2);
    /* The CPU's entries went with the pages: it reads zero, no stale hit. */
    assert_int_equal(
        vmar_sim_cpu_access(cpu, BASE + PG, VMAR_ACCESS_READ, &b, 1), 0);
    assert_int_equal(b, 0);
    VT_EXPECT_PAGES(&vt, BASE, 1, 1);
    VT_EXPECT_ZERO(&vt, BASE + PG, 2);
    VT_EXPECT_PAGES(&vt, BASE + 3 * PG, 1, 1 + 3 * 17);
    assert_int_equal(vmar_sim_violations(vt.sim), 0);

    /* Over untouched pages and across two mappings: nothing to drop there,
     * no split either. */
    vt_map_fixed(&vt, BASE + 4 * PG, 2, R, 0);
    VT_EXPECT_RC(vt_advise(&vt, BASE + 2 * PG, 4 * PG, advice), 0);
    assert_int_equal(vt_space_stats(&vt).map_count, 2);
    VT_EXPECT_PAGES(&vt, BASE, 1, 1);
    VT_EXPECT_ZERO(&vt, BASE + 3 * PG, 1);
    vmar_sim_cpu_switch(cpu, NULL);
    vmar_sim_cpu_destroy(cpu);
    vt_teardown(&vt);
}

static void test_dontneed_anon(void **state)
{
    (void)state;
    drop_anon(VMAR_ADVISE_DONTNEED);
}

static void test_free_anon(void **state)
{
    (void)state;
    drop_anon(VMAR_ADVISE_FREE);
}

/* Map one uncached device page at `va` over a fresh frame of the
 * machine's, which it returns (the caller frees it after the unmap). */
static vmar_paddr_t map_device_page(struct vt *vt, vmar_addr_t va)
{
    vmar_paddr_t pa = 0;

    assert_int_equal(vt->env->frame_alloc(vt->env->ctx, VMAR_FRAME_ZERO, &pa),
                     0);
    struct vmar_map_opts o = {.addr = va,
                              .size = PG,
                              .prot = RW,
                              .place = FIXED,
                              .backing = VMAR_BACKING_DEVICE,
                              .paddr = pa,
                              .cache = VMAR_CACHE_UC};
    VT_EXPECT_RC(vt_map_opts(vt, &o, NULL), 0);
    return pa;
}

/* A space (no reference decoder: the object's frames are checked by
 * content) with a memfd of 4 pages in *obj, mapped shared read-write at
 * BASE; returns the options it was mapped with. */
static struct vmar_map_opts shared_memfd_setup(struct vt *vt,
                                               struct vmar_object **obj)
{
    vt_setup(vt, NULL, 0);
    vt_without_refdecoder(vt);
    assert_int_equal(vmar_memfd_create(vt->env, 4 * PG, obj), 0);
    struct vmar_map_opts o = {.addr = BASE,
                              .size = 4 * PG,
                              .prot = RW,
                              .place = FIXED,
                              .flags = VMAR_MAP_SHARED,
                              .backing = VMAR_BACKING_OBJECT,
                              .object = *obj};
    VT_EXPECT_RC(vt_map_opts(vt, &o, NULL), 0);
    return o;
}

/* A private mapping of an object: its own copies go, the object's
 * contents show again. A shared mapping keeps the contents. */
static void test_dontneed_object(void **state)
{
    struct vt vt;
    struct vmar_object *obj;
    (void)state;

    struct vmar_map_opts o = shared_memfd_setup(&vt, &obj);
    vt_fill_pages(&vt, BASE, 4, 2); /* the object's contents */
    o.addr = BASE + 32 * PG;
    o.flags = 0;
    VT_EXPECT_RC(vt_map_opts(&vt, &o, NULL), 0); /* private */
    VT_EXPECT_PAGES(&vt, BASE + 32 * PG, 4, 2);
    vt_fill_pages(&vt, BASE + 32 * PG, 4, 3); /* private copies */
    VT_EXPECT_PAGES(&vt, BASE, 4, 2);
    assert_int_equal(vt_space_stats(&vt).resident_anon, 4 * PG);

    /* FREE is for private anonymous memory only (Linux's EINVAL). */
    VT_EXPECT_ADVISE_FAILS(&vt, BASE + 33 * PG, 2 * PG, VMAR_ADVISE_FREE,
                           VMAR_EINVAL);
    VT_EXPECT_ADVISE_FAILS(&vt, BASE, 4 * PG, VMAR_ADVISE_FREE, VMAR_EINVAL);
    {
        const int advice = VMAR_ADVISE_DONTNEED;
        VT_EXPECT_RC(vt_advise(&vt, BASE + 33 * PG, 2 * PG, advice), 0);
        assert_int_equal(vt_space_stats(&vt).resident_anon, 2 * PG);
        VT_EXPECT_PAGES(&vt, BASE + 32 * PG, 1, 3);
        VT_EXPECT_PAGES(&vt, BASE + 33 * PG, 2, 2 + 17);
        VT_EXPECT_PAGES(&vt, BASE + 35 * PG, 1, 3 + 3 * 17);
        vt_fill_pages(&vt, BASE + 33 * PG, 2, 3 + 17); /* copies again */

        /* Shared: the pages are refaulted from the object. */
        VT_EXPECT_RC(vt_advise(&vt, BASE, 4 * PG, advice), 0);
        vmar_size_t bytes = 0;
        assert_int_equal(vmar_resident(vt.space, BASE, BASE + 4 * PG, &bytes),
                         0);
        assert_int_equal(bytes, 0);
        VT_EXPECT_PAGES(&vt, BASE, 4, 2);
    }
    vmar_object_unref(obj);
    vt_teardown(&vt);
}

/* Shared anonymous memory keeps its contents too. */
static void test_dontneed_shared_anon(void **state)
{
    struct vt vt;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 3, RW, VMAR_MAP_SHARED);
    vt_fill_pages(&vt, BASE, 3, 4);
    assert_int_equal(vt_space_stats(&vt).resident_file, 3 * PG);
    VT_EXPECT_RC(vt_advise(&vt, BASE, 3 * PG, VMAR_ADVISE_DONTNEED), 0);
    assert_int_equal(vt_space_stats(&vt).resident, 0);
    VT_EXPECT_PAGES(&vt, BASE, 3, 4);
    assert_int_equal(vt_space_stats(&vt).resident_file, 3 * PG);
    vt_teardown(&vt);
}

static void test_willneed(void **state)
{
    struct vt vt;
    struct vt_snap snap;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 4, RW, 0);
    vt_fill_pages(&vt, BASE, 2, 5);
    vt_snap_take(&vt, &snap);
    VT_EXPECT_RC(vt_advise(&vt, BASE + PG, 2 * PG, VMAR_ADVISE_WILLNEED), 0);
    VT_EXPECT_UNCHANGED(&vt, &snap);
    /* ...but a hole is still reported. */
    VT_EXPECT_ADVISE_FAILS(&vt, BASE + 2 * PG, 4 * PG, VMAR_ADVISE_WILLNEED,
                           VMAR_ENOMEM);
    vt_teardown(&vt);
}

/* ---- hints --------------------------------------------------------------- */

struct hint {
    int set, clear;
    unsigned flag;
};

static const struct hint hints[] = {
    {VMAR_ADVISE_RANDOM, VMAR_ADVISE_NORMAL, VMAR_MAP_RANDOM},
    {VMAR_ADVISE_SEQUENTIAL, VMAR_ADVISE_NORMAL, VMAR_MAP_SEQUENTIAL},
    {VMAR_ADVISE_DONTFORK, VMAR_ADVISE_DOFORK, VMAR_MAP_DONTFORK},
};

static void test_hints_split_merge(void **state)
{
    char want[512];
    (void)state;

    for (size_t h = 0; h < sizeof(hints) / sizeof(hints[0]); h++) {
        struct vt vt;
        const struct hint *k = &hints[h];

        vt_setup(&vt, NULL, 0);
        vt_map_fixed(&vt, BASE, 8, RW, 0);
        vt_fill_pages(&vt, BASE, 8, 6);
        const struct vmar_stats st = vt_space_stats(&vt);

        /* The middle: cut at both ends. */
        VT_EXPECT_RC(vt_advise(&vt, BASE + 2 * PG, 3 * PG, k->set), 0);
        VT_EXPECT_LAYOUT(&vt, three(want, BASE + 2 * PG, BASE + 5 * PG, 8));
        assert_int_equal(flags_at(&vt, BASE) & k->flag, 0);
        assert_int_equal(flags_at(&vt, BASE + 2 * PG) & k->flag, k->flag);
        assert_int_equal(flags_at(&vt, BASE + 4 * PG) & k->flag, k->flag);
        assert_int_equal(flags_at(&vt, BASE + 5 * PG) & k->flag, 0);
        /* Pages untouched. */
        assert_int_equal(vt_space_stats(&vt).resident, st.resident);
        VT_EXPECT_PAGES(&vt, BASE, 8, 6);

        /* Again, overlapping: the advised part grows, the cut moves. */
        VT_EXPECT_RC(vt_advise(&vt, BASE + 4 * PG, 2 * PG, k->set), 0);
        VT_EXPECT_LAYOUT(&vt, three(want, BASE + 2 * PG, BASE + 6 * PG, 8));
        /* The same range again changes nothing and allocates nothing. */
        struct vt_snap snap;
        vt_snap_take(&vt, &snap);
        vmar_sim_fail_after(vt.sim, 1, VMAR_SIM_FAIL_ANY, true);
        VT_EXPECT_RC(vt_advise(&vt, BASE + 2 * PG, 4 * PG, k->set), 0);
        vmar_sim_fail_after(vt.sim, 0, 0, false);
        VT_EXPECT_UNCHANGED(&vt, &snap);

        /* Cleared in part: five mappings, alternating. */
        VT_EXPECT_RC(vt_advise(&vt, BASE + 3 * PG, 2 * PG, k->clear), 0);
        assert_int_equal(vt_space_stats(&vt).map_count, 5);
        assert_int_equal(flags_at(&vt, BASE + 3 * PG) & k->flag, 0);
        assert_int_equal(flags_at(&vt, BASE + 5 * PG) & k->flag, k->flag);
        /* Cleared everywhere: one mapping again. */
        VT_EXPECT_RC(vt_advise(&vt, BASE, 8 * PG, k->clear), 0);
        VT_EXPECT_LAYOUT(&vt, one(want, 8));
        assert_int_equal(flags_at(&vt, BASE) & k->flag, 0);

        /* Whole mapping: no cut, no merge with a neighbour that differs. */
        vt_map_fixed(&vt, BASE + 8 * PG, 2, RW, 0);
        VT_EXPECT_LAYOUT(&vt, one(want, 10));
        VT_EXPECT_RC(vt_advise(&vt, BASE + 8 * PG, 2 * PG, k->set), 0);
        line(line(want, BASE, BASE + 8 * PG, "rw-p"), BASE + 8 * PG,
             BASE + 10 * PG, "rw-p");
        VT_EXPECT_LAYOUT(&vt, want);
        VT_EXPECT_RC(vt_advise(&vt, BASE, 8 * PG, k->set), 0);
        VT_EXPECT_LAYOUT(&vt, one(want, 10));
        assert_int_equal(flags_at(&vt, BASE) & k->flag, k->flag);

        /* Across mappings of different permissions: each cut at the range
         * ends only, and they stay apart. */
        VT_EXPECT_RC(vt_protect(&vt, BASE + 5 * PG, 5 * PG, R), 0);
        VT_EXPECT_RC(vt_advise(&vt, BASE + 3 * PG, 4 * PG, k->clear), 0);
        char *p = line(want, BASE, BASE + 3 * PG, "rw-p");
        p = line(p, BASE + 3 * PG, BASE + 5 * PG, "rw-p");
        p = line(p, BASE + 5 * PG, BASE + 7 * PG, "r--p");
        line(p, BASE + 7 * PG, BASE + 10 * PG, "r--p");
        VT_EXPECT_LAYOUT(&vt, want);
        assert_int_equal(flags_at(&vt, BASE + 6 * PG) & k->flag, 0);
        assert_int_equal(flags_at(&vt, BASE + 7 * PG) & k->flag, k->flag);
        assert_int_equal(vt_space_stats(&vt).total_vm, 10 * PG);
        vt_teardown(&vt);
    }
}

/* RANDOM and SEQUENTIAL exclude each other; NORMAL keeps DONTFORK. */
static void test_hints_interplay(void **state)
{
    struct vt vt;
    char want[256];
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 4, RW, 0);
    VT_EXPECT_RC(vt_advise(&vt, BASE, 4 * PG, VMAR_ADVISE_RANDOM), 0);
    VT_EXPECT_RC(vt_advise(&vt, BASE, 4 * PG, VMAR_ADVISE_DONTFORK), 0);
    VT_EXPECT_RC(vt_advise(&vt, BASE + PG, 2 * PG, VMAR_ADVISE_SEQUENTIAL), 0);
    VT_EXPECT_LAYOUT(&vt, three(want, BASE + PG, BASE + 3 * PG, 4));
    assert_int_equal(
        flags_at(&vt, BASE + PG) &
            (VMAR_MAP_RANDOM | VMAR_MAP_SEQUENTIAL | VMAR_MAP_DONTFORK),
        VMAR_MAP_SEQUENTIAL | VMAR_MAP_DONTFORK);
    VT_EXPECT_RC(vt_advise(&vt, BASE, 4 * PG, VMAR_ADVISE_NORMAL), 0);
    VT_EXPECT_LAYOUT(&vt, one(want, 4));
    assert_int_equal(
        flags_at(&vt, BASE) &
            (VMAR_MAP_RANDOM | VMAR_MAP_SEQUENTIAL | VMAR_MAP_DONTFORK),
        VMAR_MAP_DONTFORK);
    VT_EXPECT_RC(vt_advise(&vt, BASE, 4 * PG, VMAR_ADVISE_DOFORK), 0);
    assert_int_equal(flags_at(&vt, BASE) & VMAR_MAP_DONTFORK, 0);
    /* A mapping made SEQUENTIAL by vmar_map merges with an advised one. */
    vt_map_fixed(&vt, BASE + 4 * PG, 2, RW, VMAR_MAP_SEQUENTIAL);
    assert_int_equal(vt_space_stats(&vt).map_count, 2);
    VT_EXPECT_RC(vt_advise(&vt, BASE + 2 * PG, 2 * PG, VMAR_ADVISE_SEQUENTIAL),
                 0);
    line(line(want, BASE, BASE + 2 * PG, "rw-p"), BASE + 2 * PG, BASE + 6 * PG,
         "rw-p");
    VT_EXPECT_LAYOUT(&vt, want);
    vt_teardown(&vt);
}

static void test_dontfork_fork(void **state)
{
    struct vt vt, child;
    struct vmar_mapping_info info;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 6, R, 0); /* read-only: no copy-on-write leaves */
    vt_map_fixed(&vt, BASE + 8 * PG, 2, R, 0);
    VT_EXPECT_RC(vt_advise(&vt, BASE + 2 * PG, 2 * PG, VMAR_ADVISE_DONTFORK),
                 0);
    VT_EXPECT_RC(vt_advise(&vt, BASE + 8 * PG, 2 * PG, VMAR_ADVISE_DONTFORK),
                 0);
    VT_EXPECT_RC(vt_fork(&vt, &child), 0);
    struct vmar_stats cs;
    vmar_stats(child.space, &cs);
    assert_int_equal(cs.map_count, 2);
    assert_int_equal(cs.total_vm, 4 * PG);
    VT_EXPECT_RC(vmar_query(child.space, BASE + 2 * PG, &info), VMAR_ENOENT);
    VT_EXPECT_RC(vmar_query(child.space, BASE + 3 * PG, &info), VMAR_ENOENT);
    VT_EXPECT_RC(vmar_query(child.space, BASE + 8 * PG, &info), VMAR_ENOENT);
    VT_EXPECT_RC(vmar_query(child.space, BASE + PG, &info), 0);
    assert_int_equal(info.start, BASE);
    assert_int_equal(info.end, BASE + 2 * PG);
    VT_EXPECT_RC(vmar_query(child.space, BASE + 4 * PG, &info), 0);
    assert_int_equal(info.start, BASE + 4 * PG);
    assert_int_equal(info.end, BASE + 6 * PG);
    /* The parent keeps all of it. */
    assert_int_equal(vt_space_stats(&vt).total_vm, 8 * PG);
    vt_child_destroy(&child);

    /* DOFORK: the next child has everything, merged. */
    VT_EXPECT_RC(vt_advise(&vt, BASE, 10 * PG - PG, VMAR_ADVISE_DOFORK),
                 VMAR_ENOMEM); /* the hole */
    VT_EXPECT_RC(vt_advise(&vt, BASE, 6 * PG, VMAR_ADVISE_DOFORK), 0);
    VT_EXPECT_RC(vt_fork(&vt, &child), 0);
    vmar_stats(child.space, &cs);
    assert_int_equal(cs.map_count, 1);
    assert_int_equal(cs.total_vm, 6 * PG);
    vt_child_destroy(&child);
    vt_teardown(&vt);
}

/* ---- failures ------------------------------------------------------------ */

static void test_hole_enomem(void **state)
{
    static const int all[] = {VMAR_ADVISE_NORMAL,     VMAR_ADVISE_RANDOM,
                              VMAR_ADVISE_SEQUENTIAL, VMAR_ADVISE_WILLNEED,
                              VMAR_ADVISE_DONTNEED,   VMAR_ADVISE_FREE,
                              VMAR_ADVISE_DONTFORK,   VMAR_ADVISE_DOFORK};
    struct vt vt;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 4, RW, 0);
    vt_map_fixed(&vt, BASE + 6 * PG, 2, RW, 0);
    vt_fill_pages(&vt, BASE, 4, 7);
    vt_fill_pages(&vt, BASE + 6 * PG, 2, 8);
    VT_EXPECT_RC(vt_advise(&vt, BASE + 6 * PG, 2 * PG, VMAR_ADVISE_RANDOM), 0);
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        /* Hole in the middle, at the start, at the end, only a hole. */
        VT_EXPECT_ADVISE_FAILS(&vt, BASE + PG, 6 * PG, all[i], VMAR_ENOMEM);
        VT_EXPECT_ADVISE_FAILS(&vt, BASE + 5 * PG, 2 * PG, all[i], VMAR_ENOMEM);
        VT_EXPECT_ADVISE_FAILS(&vt, BASE + 2 * PG, 3 * PG, all[i], VMAR_ENOMEM);
        VT_EXPECT_ADVISE_FAILS(&vt, BASE + 4 * PG, 2 * PG, all[i], VMAR_ENOMEM);
        VT_EXPECT_ADVISE_FAILS(&vt, BASE + 7 * PG, 2 * PG, all[i], VMAR_ENOMEM);
    }
    VT_EXPECT_PAGES(&vt, BASE, 4, 7);
    VT_EXPECT_PAGES(&vt, BASE + 6 * PG, 2, 8);
    vt_teardown(&vt);
}

static void test_einval(void **state)
{
    static const int unknown[] = {5, 6, 7, 12, 13, 24, 100, -1, 1 << 30};
    struct vt vt;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 4, RW, 0);
    vt_fill_pages(&vt, BASE, 4, 9);
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
        VT_EXPECT_ADVISE_FAILS(&vt, BASE, 4 * PG, unknown[i], VMAR_EINVAL);
    /* Bad ranges. */
    VT_EXPECT_ADVISE_FAILS(&vt, BASE + 1, PG, VMAR_ADVISE_DONTNEED,
                           VMAR_EINVAL);
    VT_EXPECT_ADVISE_FAILS(&vt, BASE, PG + 1, VMAR_ADVISE_RANDOM, VMAR_EINVAL);
    VT_EXPECT_ADVISE_FAILS(&vt, BASE, 0, VMAR_ADVISE_DONTNEED, VMAR_EINVAL);
    VT_EXPECT_ADVISE_FAILS(&vt, ~(vmar_addr_t)0 - PG + 1, PG,
                           VMAR_ADVISE_DONTNEED, VMAR_EINVAL);
    VT_EXPECT_ADVISE_FAILS(&vt, BASE, ~(vmar_size_t)0 - PG + 1,
                           VMAR_ADVISE_DONTNEED, VMAR_EINVAL);
    assert_int_equal(vmar_advise(NULL, BASE, PG, VMAR_ADVISE_DONTNEED),
                     VMAR_EINVAL);

    /* Device memory cannot be dropped; hints are fine. */
    const vmar_paddr_t pa = map_device_page(&vt, BASE + 8 * PG);
    VT_EXPECT_ADVISE_FAILS(&vt, BASE + 8 * PG, PG, VMAR_ADVISE_DONTNEED,
                           VMAR_EINVAL);
    VT_EXPECT_ADVISE_FAILS(&vt, BASE + 8 * PG, PG, VMAR_ADVISE_FREE,
                           VMAR_EINVAL);
    vt_map_fixed(&vt, BASE + 9 * PG, 1, RW, 0);
    vt_fill_pages(&vt, BASE + 9 * PG, 1, 10);
    VT_EXPECT_ADVISE_FAILS(&vt, BASE + 8 * PG, 2 * PG, VMAR_ADVISE_DONTNEED,
                           VMAR_EINVAL); /* nothing dropped from the RAM page */
    VT_EXPECT_PAGES(&vt, BASE + 9 * PG, 1, 10);
    VT_EXPECT_RC(vt_advise(&vt, BASE + 8 * PG, PG, VMAR_ADVISE_RANDOM), 0);
    VT_EXPECT_RC(vt_advise(&vt, BASE + 8 * PG, PG, VMAR_ADVISE_WILLNEED), 0);
    vmar_space_destroy(vt.space);
    vt.space = NULL;
    vt.env->frame_free(vt.env->ctx, pa);
    vt_teardown(&vt);
}

static void test_map_count_limit(void **state)
{
    struct vmar_space_opts so = {.max_map_count = 1};
    struct vt vt;
    char want[256];
    (void)state;

    vt_setup(&vt, &so, 0);
    vt_map_fixed(&vt, BASE, 4, RW, 0);
    /* A cut needs a second mapping. */
    VT_EXPECT_ADVISE_FAILS(&vt, BASE + PG, 2 * PG, VMAR_ADVISE_RANDOM,
                           VMAR_ENOMEM);
    VT_EXPECT_ADVISE_FAILS(&vt, BASE, PG, VMAR_ADVISE_DONTFORK, VMAR_ENOMEM);
    /* The whole mapping needs no cut; dropping never cuts. */
    VT_EXPECT_RC(vt_advise(&vt, BASE, 4 * PG, VMAR_ADVISE_SEQUENTIAL), 0);
    VT_EXPECT_RC(vt_advise(&vt, BASE + PG, PG, VMAR_ADVISE_DONTNEED), 0);
    /* Advice that changes nothing needs no cut either. */
    VT_EXPECT_RC(vt_advise(&vt, BASE + PG, PG, VMAR_ADVISE_SEQUENTIAL), 0);
    /* Two allow one cut, three allow two. */
    vmar_set_limits(vt.space, 0, 2);
    VT_EXPECT_ADVISE_FAILS(&vt, BASE + PG, 2 * PG, VMAR_ADVISE_RANDOM,
                           VMAR_ENOMEM);
    VT_EXPECT_RC(vt_advise(&vt, BASE, PG, VMAR_ADVISE_RANDOM), 0);
    line(line(want, BASE, BASE + PG, "rw-p"), BASE + PG, BASE + 4 * PG, "rw-p");
    VT_EXPECT_LAYOUT(&vt, want);
    vmar_set_limits(vt.space, 0, 4);
    VT_EXPECT_RC(vt_advise(&vt, BASE + 2 * PG, PG, VMAR_ADVISE_RANDOM), 0);
    assert_int_equal(vt_space_stats(&vt).map_count, 4);
    vt_teardown(&vt);
}

static void test_oom_sweep(void **state)
{
    struct vt vt;
    char want[256];
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 8, RW, 0);
    vt_fill_pages(&vt, BASE, 8, 11);
    struct vt_advice a = {BASE + 2 * PG, 3 * PG, VMAR_ADVISE_DONTFORK};
    /* Two mapping nodes, and the spare index nodes the set's reservation
     * for two inserts adds (a few; each failure point is also swept). */
    const size_t ix0 = vt_space_stats(&vt).index_nodes;
    const size_t failed = vt_fail_each_allocation(&vt, vt_op_advise, &a);
    const size_t ix = vt_space_stats(&vt).index_nodes - ix0;
    assert_true(ix <= 8);
    assert_int_equal(failed, 2 + ix);
    VT_CHECK(&vt);
    VT_EXPECT_LAYOUT(&vt, three(want, BASE + 2 * PG, BASE + 5 * PG, 8));
    assert_int_equal(flags_at(&vt, BASE + 2 * PG) & VMAR_MAP_DONTFORK,
                     VMAR_MAP_DONTFORK);
    /* Merging back allocates nothing. */
    struct vt_advice b = {BASE, 8 * PG, VMAR_ADVISE_DOFORK};
    assert_int_equal(vt_fail_each_allocation(&vt, vt_op_advise, &b), 0);
    VT_CHECK(&vt);
    VT_EXPECT_LAYOUT(&vt, one(want, 8));
    /* Dropping pages, all-or-nothing too. */
    struct vt_advice c = {BASE + PG, 6 * PG, VMAR_ADVISE_DONTNEED};
    (void)vt_fail_each_allocation(&vt, vt_op_advise, &c);
    VT_CHECK(&vt);
    VT_EXPECT_PAGES(&vt, BASE, 1, 11);
    VT_EXPECT_ZERO(&vt, BASE + PG, 6);
    VT_EXPECT_PAGES(&vt, BASE + 7 * PG, 1, 11 + 7 * 17);
    vt_teardown(&vt);
}

/* ---- populate ------------------------------------------------------------ */

/* Resident bytes of [lo, hi). */
static vmar_size_t resident(struct vt *vt, vmar_addr_t lo, vmar_addr_t hi)
{
    vmar_size_t bytes = 0;

    assert_int_equal(vmar_resident(vt->space, lo, hi, &bytes), 0);
    return bytes;
}

/* Anonymous memory: every page becomes resident, as zeros; again is a
 * no-op; layout and hints untouched. */
static void test_populate_anon(void **state)
{
    char want[256];
    struct vt vt;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 8, RW, 0);
    VT_EXPECT_RC(vt_advise(&vt, BASE + PG, 3 * PG, VMAR_ADVISE_POPULATE_READ),
                 0);
    assert_int_equal(resident(&vt, BASE, BASE + 8 * PG), 3 * PG);
    assert_int_equal(resident(&vt, BASE + PG, BASE + 4 * PG), 3 * PG);
    VT_EXPECT_RC(vt_advise(&vt, BASE, 8 * PG, VMAR_ADVISE_POPULATE_WRITE), 0);
    assert_int_equal(resident(&vt, BASE, BASE + 8 * PG), 8 * PG);
    vt_expect_rss(&vt, 8, 0);
    struct vt_snap snap;
    vt_snap_take(&vt, &snap);
    VT_EXPECT_RC(vt_advise(&vt, BASE, 8 * PG, VMAR_ADVISE_POPULATE_WRITE), 0);
    VT_EXPECT_RC(vt_advise(&vt, BASE, 8 * PG, VMAR_ADVISE_POPULATE_READ), 0);
    VT_EXPECT_UNCHANGED(&vt, &snap);
    VT_EXPECT_LAYOUT(&vt, one(want, 8));
    VT_EXPECT_ZERO(&vt, BASE, 8);
    vt_teardown(&vt);
}

/* A private mapping of an object: a read populate maps the object's
 * pages, a write populate copies them (copy-on-write broken: later
 * changes to the object no longer show). Shared memory stays shared. */
static void test_populate_cow(void **state)
{
    struct vmar_object *obj;
    struct vt vt;
    (void)state;

    struct vmar_map_opts o = shared_memfd_setup(&vt, &obj);
    vt_fill_pages(&vt, BASE, 4, 2);
    VT_EXPECT_RC(vt_advise(&vt, BASE, 4 * PG, VMAR_ADVISE_DONTNEED), 0);
    o.addr = BASE + 32 * PG;
    o.flags = 0;
    VT_EXPECT_RC(vt_map_opts(&vt, &o, NULL), 0); /* private */

    VT_EXPECT_RC(vt_advise(&vt, BASE, 4 * PG, VMAR_ADVISE_POPULATE_WRITE), 0);
    VT_EXPECT_RC(
        vt_advise(&vt, BASE + 32 * PG, 4 * PG, VMAR_ADVISE_POPULATE_READ), 0);
    vt_expect_rss(&vt, 0, 8);
    VT_EXPECT_RC(
        vt_advise(&vt, BASE + 33 * PG, 2 * PG, VMAR_ADVISE_POPULATE_WRITE), 0);
    vt_expect_rss(&vt, 2, 6);
    vt_fill_pages(&vt, BASE, 4, 5); /* through the shared mapping */
    VT_EXPECT_PAGES(&vt, BASE + 32 * PG, 1, 5);
    VT_EXPECT_PAGES(&vt, BASE + 33 * PG, 2, 2 + 17); /* the copies */
    VT_EXPECT_PAGES(&vt, BASE + 35 * PG, 1, 5 + 3 * 17);
    vmar_object_unref(obj);
    vt_teardown(&vt);
}

/* Linux's errors: a hole is ENOMEM, device memory and a mapping without
 * the access's permission EINVAL, past the object's end ENXIO (Linux's
 * EFAULT); the pages before the failure stay populated, nothing else
 * changes. */
static void test_populate_errors(void **state)
{
    const int rd = VMAR_ADVISE_POPULATE_READ, wr = VMAR_ADVISE_POPULATE_WRITE;
    struct vmar_object *obj;
    struct vt vt;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_without_refdecoder(&vt);
    vt_map_fixed(&vt, BASE, 2, RW, 0);
    vt_map_fixed(&vt, BASE + 3 * PG, 2, RW, 0);
    vt_map_fixed(&vt, BASE + 5 * PG, 2, R, 0);
    vt_map_fixed(&vt, BASE + 7 * PG, 1, VMAR_PROT_NONE, 0);

    VT_EXPECT_ADVISE_FAILS(&vt, BASE + 2 * PG, 2 * PG, rd, VMAR_ENOMEM);
    VT_EXPECT_ADVISE_FAILS(&vt, BASE + 64 * PG, PG, wr, VMAR_ENOMEM);
    VT_EXPECT_ADVISE_FAILS(&vt, BASE + 7 * PG, PG, rd, VMAR_EINVAL);
    VT_EXPECT_ADVISE_FAILS(&vt, BASE + 5 * PG, PG, wr, VMAR_EINVAL);
    VT_EXPECT_ADVISE_FAILS(&vt, BASE + 1, PG, rd, VMAR_EINVAL);
    VT_EXPECT_ADVISE_FAILS(&vt, BASE, 0, wr, VMAR_EINVAL);

    /* Partial progress: the pages before the hole stay. */
    VT_EXPECT_RC(vt_advise(&vt, BASE, 4 * PG, wr), VMAR_ENOMEM);
    assert_int_equal(resident(&vt, BASE, BASE + 8 * PG), 2 * PG);
    /* ... before the read-only mapping (a write populate). */
    VT_EXPECT_RC(vt_advise(&vt, BASE + 3 * PG, 4 * PG, wr), VMAR_EINVAL);
    assert_int_equal(resident(&vt, BASE, BASE + 8 * PG), 4 * PG);
    /* A read populate passes it, and stops at PROT_NONE. */
    VT_EXPECT_RC(vt_advise(&vt, BASE + 3 * PG, 5 * PG, rd), VMAR_EINVAL);
    assert_int_equal(resident(&vt, BASE, BASE + 8 * PG), 6 * PG);

    /* Device memory. */
    const vmar_paddr_t pa = map_device_page(&vt, BASE + 16 * PG);
    VT_EXPECT_ADVISE_FAILS(&vt, BASE + 16 * PG, PG, rd, VMAR_EINVAL);
    VT_EXPECT_ADVISE_FAILS(&vt, BASE + 16 * PG, PG, wr, VMAR_EINVAL);

    /* Past the object's end of a shared mapping: SIGBUS, after the
     * object's pages. */
    assert_int_equal(vmar_memfd_create(vt.env, 2 * PG, &obj), 0);
    struct vmar_map_opts o = {.addr = BASE + 32 * PG,
                              .size = 4 * PG,
                              .prot = RW,
                              .place = FIXED,
                              .flags = VMAR_MAP_SHARED,
                              .backing = VMAR_BACKING_OBJECT,
                              .object = obj};
    VT_EXPECT_RC(vt_map_opts(&vt, &o, NULL), 0);
    VT_EXPECT_RC(vt_advise(&vt, BASE + 32 * PG, 4 * PG, rd), VMAR_ENXIO);
    assert_int_equal(resident(&vt, BASE + 32 * PG, BASE + 36 * PG), 2 * PG);
    VT_EXPECT_ADVISE_FAILS(&vt, BASE + 34 * PG, 2 * PG, wr, VMAR_ENXIO);
    vmar_object_unref(obj);
    vt.env->frame_free(vt.env->ctx, pa);
    vt_teardown(&vt);
}

/* Populate through a handle without the access's right: VMAR_EACCES. */
static void test_populate_rights(void **state)
{
    struct vmar_space *ro = NULL;
    struct vt vt;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 2, RW, 0);
    assert_int_equal(vmar_space_dup(vt.space, VMAR_RIGHT_READ, &ro), 0);
    assert_int_equal(vmar_advise(ro, BASE, 2 * PG, VMAR_ADVISE_POPULATE_WRITE),
                     VMAR_EACCES);
    assert_int_equal(resident(&vt, BASE, BASE + 2 * PG), 0);
    assert_int_equal(vmar_advise(ro, BASE, 2 * PG, VMAR_ADVISE_POPULATE_READ),
                     0);
    assert_int_equal(resident(&vt, BASE, BASE + 2 * PG), 2 * PG);
    vmar_space_destroy(ro);
    VT_CHECK(&vt);
    vt_teardown(&vt);
}

/* A space for the populate sweep: a private object mapping across a
 * last-level table boundary, written populate (page-table pages, object
 * pages, copies) next to anonymous memory. */
#define SWEEP_AT (BASE + 0x200000 - 2 * PG)
static void sweep_space(struct vt *vt, struct vmar_object **obj)
{
    vt_setup(vt, NULL, 0);
    vt_without_refdecoder(vt);
    assert_int_equal(vmar_memfd_create(vt->env, 4 * PG, obj), 0);
    struct vmar_map_opts o = {.addr = SWEEP_AT,
                              .size = 4 * PG,
                              .prot = RW,
                              .place = FIXED,
                              .backing = VMAR_BACKING_OBJECT,
                              .object = *obj};
    VT_EXPECT_RC(vt_map_opts(vt, &o, NULL), 0);
    vt_map_fixed(vt, SWEEP_AT + 4 * PG, 4, RW, 0);
}

/* Allocation failure at every point of a populate: VMAR_ENOMEM with a
 * populated prefix and vmar_check clean; populating again then ends in
 * exactly the state (and frame count) of a run that never failed. */
static void test_populate_oom_sweep(void **state)
{
    const vmar_addr_t lo = SWEEP_AT, hi = SWEEP_AT + 8 * PG;
    struct vmar_object *obj;
    struct vt vt;
    (void)state;

    sweep_space(&vt, &obj);
    VT_EXPECT_RC(vt_advise(&vt, lo, hi - lo, VMAR_ADVISE_POPULATE_WRITE), 0);
    const size_t frames_ref = vt_frames_live(&vt);
    vt_expect_rss(&vt, 8, 0);
    vmar_object_unref(obj);
    vt_teardown(&vt);

    size_t failed = 0;
    for (size_t n = 1;; n++) {
        sweep_space(&vt, &obj);
        vmar_sim_fail_after(vt.sim, n, VMAR_SIM_FAIL_ANY, false);
        int rc = vmar_advise(vt.space, lo, hi - lo, VMAR_ADVISE_POPULATE_WRITE);
        vmar_sim_fail_after(vt.sim, 0, 0, false);
        VT_CHECK(&vt);
        const vmar_size_t done = resident(&vt, lo, hi);
        if (rc == 0) {
            assert_int_equal(done, hi - lo);
        } else {
            VT_EXPECT_RC(rc, VMAR_ENOMEM);
            failed++;
            /* A prefix. */
            assert_int_equal(resident(&vt, lo, lo + done), done);
            VT_EXPECT_RC(
                vt_advise(&vt, lo, hi - lo, VMAR_ADVISE_POPULATE_WRITE), 0);
        }
        assert_int_equal(vt_frames_live(&vt), frames_ref);
        vt_expect_rss(&vt, 8, 0);
        VT_EXPECT_ZERO(&vt, lo, 8);
        vmar_object_unref(obj);
        vt_teardown(&vt);
        if (rc == 0)
            break;
        assert_true(n < 1000);
    }
    /* Tables, four object pages, four copies, four zero frames at least. */
    assert_true(failed >= 12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dontneed_anon),
        cmocka_unit_test(test_free_anon),
        cmocka_unit_test(test_dontneed_object),
        cmocka_unit_test(test_dontneed_shared_anon),
        cmocka_unit_test(test_willneed),
        cmocka_unit_test(test_hints_split_merge),
        cmocka_unit_test(test_hints_interplay),
        cmocka_unit_test(test_dontfork_fork),
        cmocka_unit_test(test_hole_enomem),
        cmocka_unit_test(test_einval),
        cmocka_unit_test(test_map_count_limit),
        cmocka_unit_test(test_oom_sweep),
        cmocka_unit_test(test_populate_anon),
        cmocka_unit_test(test_populate_cow),
        cmocka_unit_test(test_populate_errors),
        cmocka_unit_test(test_populate_rights),
        cmocka_unit_test(test_populate_oom_sweep),
    };

    fprintf(stderr, "backend: %s\n", vt_backend()->name);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
