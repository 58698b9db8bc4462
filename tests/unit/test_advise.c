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

static void expect_rc_at(int got, int want, const char *what, const char *file,
                         int line)
{
    if (got != want) {
        fprintf(stderr, "%s:%d: %s returned %s (%d), expected %s (%d)\n", file,
                line, what, vmar_errname(got), got, vmar_errname(want), want);
        _fail(file, line);
    }
}
#define EXPECT_RC(call, want)                                                  \
    expect_rc_at((call), (want), #call, __FILE__, __LINE__)

static int advise(struct vt *vt, vmar_addr_t addr, vmar_size_t size, int advice)
{
    int rc = vmar_advise(vt->space, addr, size, advice);
    VT_CHECK(vt);
    return rc;
}

/* An advise that must fail with `want` and change nothing at all. */
#define EXPECT_ADVISE_FAILS(vt, addr, size, advice, want)                      \
    do {                                                                       \
        struct vt_snap snap_;                                                  \
        vt_snap_take((vt), &snap_);                                            \
        EXPECT_RC(advise((vt), (addr), (size), (advice)), (want));             \
        VT_EXPECT_UNCHANGED((vt), &snap_);                                     \
    } while (0)

static void map_at(struct vt *vt, vmar_addr_t at, size_t pages, unsigned prot,
                   unsigned flags)
{
    vmar_addr_t got = 0;

    EXPECT_RC(vt_map(vt, at, pages * PG, prot, FIXED, flags, &got), 0);
    assert_int_equal(got, at);
}

static unsigned char page_byte(unsigned seed, size_t i)
{
    return (unsigned char)(seed + 17 * i + 1);
}

static void fill_pages(struct vt *vt, vmar_addr_t at, size_t pages,
                       unsigned seed)
{
    static unsigned char buf[VMAR_PAGE_SIZE];
    size_t done = 0;

    for (size_t i = 0; i < pages; i++) {
        memset(buf, page_byte(seed, i), sizeof(buf));
        assert_int_equal(
            vmar_write(vt->space, at + i * PG, buf, sizeof(buf), &done), 0);
        assert_int_equal(done, PG);
    }
    VT_CHECK(vt);
}

static bool all_bytes(const unsigned char *p, size_t n, unsigned char v)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != v)
            return false;
    return true;
}

#define EXPECT_PAGES(vt, at, pages, seed)                                      \
    expect_pages_at((vt), (at), (pages), (seed), false, __FILE__, __LINE__)
#define EXPECT_ZERO(vt, at, pages)                                             \
    expect_pages_at((vt), (at), (pages), 0, true, __FILE__, __LINE__)
static void expect_pages_at(struct vt *vt, vmar_addr_t at, size_t pages,
                            unsigned seed, bool zero, const char *file,
                            int line)
{
    static unsigned char buf[VMAR_PAGE_SIZE];
    size_t done = 0;

    for (size_t i = 0; i < pages; i++) {
        unsigned char want = zero ? 0 : page_byte(seed, i);
        memset(buf, 0xee, sizeof(buf));
        _assert_int_equal(
            vmar_read(vt->space, at + i * PG, buf, sizeof(buf), &done), 0, file,
            line);
        if (!all_bytes(buf, sizeof(buf), want)) {
            fprintf(stderr, "%s:%d: page %zu at %#llx: byte %#x, want %#x\n",
                    file, line, i, (unsigned long long)(at + i * PG), buf[0],
                    want);
            _fail(file, line);
        }
    }
    vt_check_at(vt, file, line);
}

static struct vmar_stats stats_of(struct vt *vt)
{
    struct vmar_stats st;

    vmar_stats(vt->space, &st);
    return st;
}

static size_t frames_live(struct vt *vt)
{
    struct vmar_sim_stats s;

    vmar_sim_stats(vt->sim, &s);
    return s.frames_live;
}

static unsigned flags_at(struct vt *vt, vmar_addr_t at)
{
    struct vmar_mapping_info info;

    EXPECT_RC(vmar_query(vt->space, at, &info), 0);
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

/* See test_remap.c: the reference decoder does not allow a frame mapped
 * twice or a read-only leaf in a writable mapping (copy-on-write). */
static void without_refdecoder(struct vt *vt)
{
    vt->refcheck = false;
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
    map_at(&vt, BASE, 4, RW, 0);
    fill_pages(&vt, BASE, 4, 1);
    /* The CPU caches every page. */
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(
            vmar_sim_cpu_access(cpu, BASE + i * PG, VMAR_ACCESS_READ, &b, 1),
            0);
        assert_int_equal(b, page_byte(1, i));
    }
    const size_t frames = frames_live(&vt);
    assert_int_equal(stats_of(&vt).resident, 4 * PG);

    EXPECT_RC(advise(&vt, BASE + PG, 2 * PG, advice), 0);
    VT_EXPECT_LAYOUT(&vt, one(want, 4)); /* no split */
    assert_int_equal(stats_of(&vt).resident, 2 * PG);
    assert_int_equal(stats_of(&vt).resident_anon, 2 * PG);
    assert_int_equal(frames_live(&vt), frames - 2);
    /* The CPU's entries went with the pages: it reads zero, no stale hit. */
    assert_int_equal(
        vmar_sim_cpu_access(cpu, BASE + PG, VMAR_ACCESS_READ, &b, 1), 0);
    assert_int_equal(b, 0);
    EXPECT_PAGES(&vt, BASE, 1, 1);
    EXPECT_ZERO(&vt, BASE + PG, 2);
    EXPECT_PAGES(&vt, BASE + 3 * PG, 1, 1 + 3 * 17);
    assert_int_equal(vmar_sim_violations(vt.sim), 0);

    /* Over untouched pages and across two mappings: nothing to drop there,
     * no split either. */
    map_at(&vt, BASE + 4 * PG, 2, R, 0);
    EXPECT_RC(advise(&vt, BASE + 2 * PG, 4 * PG, advice), 0);
    assert_int_equal(stats_of(&vt).map_count, 2);
    EXPECT_PAGES(&vt, BASE, 1, 1);
    EXPECT_ZERO(&vt, BASE + 3 * PG, 1);
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

/* A private mapping of an object: its own copies go, the object's
 * contents show again. A shared mapping keeps the contents. */
static void test_dontneed_object(void **state)
{
    struct vt vt;
    struct vmar_object *obj;
    (void)state;

    vt_setup(&vt, NULL, 0);
    without_refdecoder(&vt);
    assert_int_equal(vmar_memfd_create(vt.env, 4 * PG, &obj), 0);
    struct vmar_map_opts o = {.addr = BASE,
                              .size = 4 * PG,
                              .prot = RW,
                              .place = FIXED,
                              .flags = VMAR_MAP_SHARED,
                              .backing = VMAR_BACKING_OBJECT,
                              .object = obj};
    EXPECT_RC(vt_map_opts(&vt, &o, NULL), 0);
    fill_pages(&vt, BASE, 4, 2); /* the object's contents */
    o.addr = BASE + 32 * PG;
    o.flags = 0;
    EXPECT_RC(vt_map_opts(&vt, &o, NULL), 0); /* private */
    EXPECT_PAGES(&vt, BASE + 32 * PG, 4, 2);
    fill_pages(&vt, BASE + 32 * PG, 4, 3); /* private copies */
    EXPECT_PAGES(&vt, BASE, 4, 2);
    assert_int_equal(stats_of(&vt).resident_anon, 4 * PG);

    for (int advice = VMAR_ADVISE_DONTNEED; advice <= VMAR_ADVISE_FREE;
         advice += VMAR_ADVISE_FREE - VMAR_ADVISE_DONTNEED) {
        EXPECT_RC(advise(&vt, BASE + 33 * PG, 2 * PG, advice), 0);
        assert_int_equal(stats_of(&vt).resident_anon, 2 * PG);
        EXPECT_PAGES(&vt, BASE + 32 * PG, 1, 3);
        EXPECT_PAGES(&vt, BASE + 33 * PG, 2, 2 + 17);
        EXPECT_PAGES(&vt, BASE + 35 * PG, 1, 3 + 3 * 17);
        fill_pages(&vt, BASE + 33 * PG, 2, 3 + 17); /* copies again */

        /* Shared: the pages are refaulted from the object. */
        EXPECT_RC(advise(&vt, BASE, 4 * PG, advice), 0);
        vmar_size_t bytes = 0;
        assert_int_equal(vmar_resident(vt.space, BASE, BASE + 4 * PG, &bytes),
                         0);
        assert_int_equal(bytes, 0);
        EXPECT_PAGES(&vt, BASE, 4, 2);
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
    map_at(&vt, BASE, 3, RW, VMAR_MAP_SHARED);
    fill_pages(&vt, BASE, 3, 4);
    assert_int_equal(stats_of(&vt).resident_file, 3 * PG);
    EXPECT_RC(advise(&vt, BASE, 3 * PG, VMAR_ADVISE_DONTNEED), 0);
    assert_int_equal(stats_of(&vt).resident, 0);
    EXPECT_PAGES(&vt, BASE, 3, 4);
    assert_int_equal(stats_of(&vt).resident_file, 3 * PG);
    vt_teardown(&vt);
}

static void test_willneed(void **state)
{
    struct vt vt;
    struct vt_snap snap;
    (void)state;

    vt_setup(&vt, NULL, 0);
    map_at(&vt, BASE, 4, RW, 0);
    fill_pages(&vt, BASE, 2, 5);
    vt_snap_take(&vt, &snap);
    EXPECT_RC(advise(&vt, BASE + PG, 2 * PG, VMAR_ADVISE_WILLNEED), 0);
    VT_EXPECT_UNCHANGED(&vt, &snap);
    /* ...but a hole is still reported. */
    EXPECT_ADVISE_FAILS(&vt, BASE + 2 * PG, 4 * PG, VMAR_ADVISE_WILLNEED,
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
        map_at(&vt, BASE, 8, RW, 0);
        fill_pages(&vt, BASE, 8, 6);
        const struct vmar_stats st = stats_of(&vt);

        /* The middle: cut at both ends. */
        EXPECT_RC(advise(&vt, BASE + 2 * PG, 3 * PG, k->set), 0);
        VT_EXPECT_LAYOUT(&vt, three(want, BASE + 2 * PG, BASE + 5 * PG, 8));
        assert_int_equal(flags_at(&vt, BASE) & k->flag, 0);
        assert_int_equal(flags_at(&vt, BASE + 2 * PG) & k->flag, k->flag);
        assert_int_equal(flags_at(&vt, BASE + 4 * PG) & k->flag, k->flag);
        assert_int_equal(flags_at(&vt, BASE + 5 * PG) & k->flag, 0);
        /* Pages untouched. */
        assert_int_equal(stats_of(&vt).resident, st.resident);
        EXPECT_PAGES(&vt, BASE, 8, 6);

        /* Again, overlapping: the advised part grows, the cut moves. */
        EXPECT_RC(advise(&vt, BASE + 4 * PG, 2 * PG, k->set), 0);
        VT_EXPECT_LAYOUT(&vt, three(want, BASE + 2 * PG, BASE + 6 * PG, 8));
        /* The same range again changes nothing and allocates nothing. */
        struct vt_snap snap;
        vt_snap_take(&vt, &snap);
        vmar_sim_fail_after(vt.sim, 1, VMAR_SIM_FAIL_ANY, true);
        EXPECT_RC(advise(&vt, BASE + 2 * PG, 4 * PG, k->set), 0);
        vmar_sim_fail_after(vt.sim, 0, 0, false);
        VT_EXPECT_UNCHANGED(&vt, &snap);

        /* Cleared in part: five mappings, alternating. */
        EXPECT_RC(advise(&vt, BASE + 3 * PG, 2 * PG, k->clear), 0);
        assert_int_equal(stats_of(&vt).map_count, 5);
        assert_int_equal(flags_at(&vt, BASE + 3 * PG) & k->flag, 0);
        assert_int_equal(flags_at(&vt, BASE + 5 * PG) & k->flag, k->flag);
        /* Cleared everywhere: one mapping again. */
        EXPECT_RC(advise(&vt, BASE, 8 * PG, k->clear), 0);
        VT_EXPECT_LAYOUT(&vt, one(want, 8));
        assert_int_equal(flags_at(&vt, BASE) & k->flag, 0);

        /* Whole mapping: no cut, no merge with a neighbour that differs. */
        map_at(&vt, BASE + 8 * PG, 2, RW, 0);
        VT_EXPECT_LAYOUT(&vt, one(want, 10));
        EXPECT_RC(advise(&vt, BASE + 8 * PG, 2 * PG, k->set), 0);
        line(line(want, BASE, BASE + 8 * PG, "rw-p"), BASE + 8 * PG,
             BASE + 10 * PG, "rw-p");
        VT_EXPECT_LAYOUT(&vt, want);
        EXPECT_RC(advise(&vt, BASE, 8 * PG, k->set), 0);
        VT_EXPECT_LAYOUT(&vt, one(want, 10));
        assert_int_equal(flags_at(&vt, BASE) & k->flag, k->flag);

        /* Across mappings of different permissions: each cut at the range
         * ends only, and they stay apart. */
        EXPECT_RC(vt_protect(&vt, BASE + 5 * PG, 5 * PG, R), 0);
        EXPECT_RC(advise(&vt, BASE + 3 * PG, 4 * PG, k->clear), 0);
        char *p = line(want, BASE, BASE + 3 * PG, "rw-p");
        p = line(p, BASE + 3 * PG, BASE + 5 * PG, "rw-p");
        p = line(p, BASE + 5 * PG, BASE + 7 * PG, "r--p");
        line(p, BASE + 7 * PG, BASE + 10 * PG, "r--p");
        VT_EXPECT_LAYOUT(&vt, want);
        assert_int_equal(flags_at(&vt, BASE + 6 * PG) & k->flag, 0);
        assert_int_equal(flags_at(&vt, BASE + 7 * PG) & k->flag, k->flag);
        assert_int_equal(stats_of(&vt).total_vm, 10 * PG);
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
    map_at(&vt, BASE, 4, RW, 0);
    EXPECT_RC(advise(&vt, BASE, 4 * PG, VMAR_ADVISE_RANDOM), 0);
    EXPECT_RC(advise(&vt, BASE, 4 * PG, VMAR_ADVISE_DONTFORK), 0);
    EXPECT_RC(advise(&vt, BASE + PG, 2 * PG, VMAR_ADVISE_SEQUENTIAL), 0);
    VT_EXPECT_LAYOUT(&vt, three(want, BASE + PG, BASE + 3 * PG, 4));
    assert_int_equal(
        flags_at(&vt, BASE + PG) &
            (VMAR_MAP_RANDOM | VMAR_MAP_SEQUENTIAL | VMAR_MAP_DONTFORK),
        VMAR_MAP_SEQUENTIAL | VMAR_MAP_DONTFORK);
    EXPECT_RC(advise(&vt, BASE, 4 * PG, VMAR_ADVISE_NORMAL), 0);
    VT_EXPECT_LAYOUT(&vt, one(want, 4));
    assert_int_equal(
        flags_at(&vt, BASE) &
            (VMAR_MAP_RANDOM | VMAR_MAP_SEQUENTIAL | VMAR_MAP_DONTFORK),
        VMAR_MAP_DONTFORK);
    EXPECT_RC(advise(&vt, BASE, 4 * PG, VMAR_ADVISE_DOFORK), 0);
    assert_int_equal(flags_at(&vt, BASE) & VMAR_MAP_DONTFORK, 0);
    /* A mapping made SEQUENTIAL by vmar_map merges with an advised one. */
    map_at(&vt, BASE + 4 * PG, 2, RW, VMAR_MAP_SEQUENTIAL);
    assert_int_equal(stats_of(&vt).map_count, 2);
    EXPECT_RC(advise(&vt, BASE + 2 * PG, 2 * PG, VMAR_ADVISE_SEQUENTIAL), 0);
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
    map_at(&vt, BASE, 6, R, 0); /* read-only: no copy-on-write leaves */
    map_at(&vt, BASE + 8 * PG, 2, R, 0);
    EXPECT_RC(advise(&vt, BASE + 2 * PG, 2 * PG, VMAR_ADVISE_DONTFORK), 0);
    EXPECT_RC(advise(&vt, BASE + 8 * PG, 2 * PG, VMAR_ADVISE_DONTFORK), 0);
    EXPECT_RC(vt_fork(&vt, &child), 0);
    struct vmar_stats cs;
    vmar_stats(child.space, &cs);
    assert_int_equal(cs.map_count, 2);
    assert_int_equal(cs.total_vm, 4 * PG);
    EXPECT_RC(vmar_query(child.space, BASE + 2 * PG, &info), VMAR_ENOENT);
    EXPECT_RC(vmar_query(child.space, BASE + 3 * PG, &info), VMAR_ENOENT);
    EXPECT_RC(vmar_query(child.space, BASE + 8 * PG, &info), VMAR_ENOENT);
    EXPECT_RC(vmar_query(child.space, BASE + PG, &info), 0);
    assert_int_equal(info.start, BASE);
    assert_int_equal(info.end, BASE + 2 * PG);
    EXPECT_RC(vmar_query(child.space, BASE + 4 * PG, &info), 0);
    assert_int_equal(info.start, BASE + 4 * PG);
    assert_int_equal(info.end, BASE + 6 * PG);
    /* The parent keeps all of it. */
    assert_int_equal(stats_of(&vt).total_vm, 8 * PG);
    vt_child_destroy(&child);

    /* DOFORK: the next child has everything, merged. */
    EXPECT_RC(advise(&vt, BASE, 10 * PG - PG, VMAR_ADVISE_DOFORK),
              VMAR_ENOMEM); /* the hole */
    EXPECT_RC(advise(&vt, BASE, 6 * PG, VMAR_ADVISE_DOFORK), 0);
    EXPECT_RC(vt_fork(&vt, &child), 0);
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
    map_at(&vt, BASE, 4, RW, 0);
    map_at(&vt, BASE + 6 * PG, 2, RW, 0);
    fill_pages(&vt, BASE, 4, 7);
    fill_pages(&vt, BASE + 6 * PG, 2, 8);
    EXPECT_RC(advise(&vt, BASE + 6 * PG, 2 * PG, VMAR_ADVISE_RANDOM), 0);
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        /* Hole in the middle, at the start, at the end, only a hole. */
        EXPECT_ADVISE_FAILS(&vt, BASE + PG, 6 * PG, all[i], VMAR_ENOMEM);
        EXPECT_ADVISE_FAILS(&vt, BASE + 5 * PG, 2 * PG, all[i], VMAR_ENOMEM);
        EXPECT_ADVISE_FAILS(&vt, BASE + 2 * PG, 3 * PG, all[i], VMAR_ENOMEM);
        EXPECT_ADVISE_FAILS(&vt, BASE + 4 * PG, 2 * PG, all[i], VMAR_ENOMEM);
        EXPECT_ADVISE_FAILS(&vt, BASE + 7 * PG, 2 * PG, all[i], VMAR_ENOMEM);
    }
    EXPECT_PAGES(&vt, BASE, 4, 7);
    EXPECT_PAGES(&vt, BASE + 6 * PG, 2, 8);
    vt_teardown(&vt);
}

static void test_einval(void **state)
{
    static const int unknown[] = {5, 6, 7, 9, 12, 14, 100, -1, 1 << 30};
    struct vt vt;
    (void)state;

    vt_setup(&vt, NULL, 0);
    map_at(&vt, BASE, 4, RW, 0);
    fill_pages(&vt, BASE, 4, 9);
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
        EXPECT_ADVISE_FAILS(&vt, BASE, 4 * PG, unknown[i], VMAR_EINVAL);
    /* Bad ranges. */
    EXPECT_ADVISE_FAILS(&vt, BASE + 1, PG, VMAR_ADVISE_DONTNEED, VMAR_EINVAL);
    EXPECT_ADVISE_FAILS(&vt, BASE, PG + 1, VMAR_ADVISE_RANDOM, VMAR_EINVAL);
    EXPECT_ADVISE_FAILS(&vt, BASE, 0, VMAR_ADVISE_DONTNEED, VMAR_EINVAL);
    EXPECT_ADVISE_FAILS(&vt, ~(vmar_addr_t)0 - PG + 1, PG, VMAR_ADVISE_DONTNEED,
                        VMAR_EINVAL);
    EXPECT_ADVISE_FAILS(&vt, BASE, ~(vmar_size_t)0 - PG + 1,
                        VMAR_ADVISE_DONTNEED, VMAR_EINVAL);
    assert_int_equal(vmar_advise(NULL, BASE, PG, VMAR_ADVISE_DONTNEED),
                     VMAR_EINVAL);

    /* Device memory cannot be dropped; hints are fine. */
    vmar_paddr_t pa = 0;
    assert_int_equal(vt.env->frame_alloc(vt.env->ctx, VMAR_FRAME_ZERO, &pa), 0);
    struct vmar_map_opts o = {.addr = BASE + 8 * PG,
                              .size = PG,
                              .prot = RW,
                              .place = FIXED,
                              .backing = VMAR_BACKING_DEVICE,
                              .paddr = pa,
                              .cache = VMAR_CACHE_UC};
    EXPECT_RC(vt_map_opts(&vt, &o, NULL), 0);
    EXPECT_ADVISE_FAILS(&vt, BASE + 8 * PG, PG, VMAR_ADVISE_DONTNEED,
                        VMAR_EINVAL);
    EXPECT_ADVISE_FAILS(&vt, BASE + 8 * PG, PG, VMAR_ADVISE_FREE, VMAR_EINVAL);
    map_at(&vt, BASE + 9 * PG, 1, RW, 0);
    fill_pages(&vt, BASE + 9 * PG, 1, 10);
    EXPECT_ADVISE_FAILS(&vt, BASE + 8 * PG, 2 * PG, VMAR_ADVISE_DONTNEED,
                        VMAR_EINVAL); /* nothing dropped from the RAM page */
    EXPECT_PAGES(&vt, BASE + 9 * PG, 1, 10);
    EXPECT_RC(advise(&vt, BASE + 8 * PG, PG, VMAR_ADVISE_RANDOM), 0);
    EXPECT_RC(advise(&vt, BASE + 8 * PG, PG, VMAR_ADVISE_WILLNEED), 0);
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
    map_at(&vt, BASE, 4, RW, 0);
    /* A cut needs a second mapping. */
    EXPECT_ADVISE_FAILS(&vt, BASE + PG, 2 * PG, VMAR_ADVISE_RANDOM,
                        VMAR_ENOMEM);
    EXPECT_ADVISE_FAILS(&vt, BASE, PG, VMAR_ADVISE_DONTFORK, VMAR_ENOMEM);
    /* The whole mapping needs no cut; dropping never cuts. */
    EXPECT_RC(advise(&vt, BASE, 4 * PG, VMAR_ADVISE_SEQUENTIAL), 0);
    EXPECT_RC(advise(&vt, BASE + PG, PG, VMAR_ADVISE_DONTNEED), 0);
    /* Advice that changes nothing needs no cut either. */
    EXPECT_RC(advise(&vt, BASE + PG, PG, VMAR_ADVISE_SEQUENTIAL), 0);
    /* Two allow one cut, three allow two. */
    vmar_set_limits(vt.space, 0, 2);
    EXPECT_ADVISE_FAILS(&vt, BASE + PG, 2 * PG, VMAR_ADVISE_RANDOM,
                        VMAR_ENOMEM);
    EXPECT_RC(advise(&vt, BASE, PG, VMAR_ADVISE_RANDOM), 0);
    line(line(want, BASE, BASE + PG, "rw-p"), BASE + PG, BASE + 4 * PG, "rw-p");
    VT_EXPECT_LAYOUT(&vt, want);
    vmar_set_limits(vt.space, 0, 4);
    EXPECT_RC(advise(&vt, BASE + 2 * PG, PG, VMAR_ADVISE_RANDOM), 0);
    assert_int_equal(stats_of(&vt).map_count, 4);
    vt_teardown(&vt);
}

struct adv {
    vmar_addr_t addr;
    vmar_size_t size;
    int advice;
};

static int op_advise(struct vt *vt, void *arg)
{
    const struct adv *a = arg;

    return vmar_advise(vt->space, a->addr, a->size, a->advice);
}

static void test_oom_sweep(void **state)
{
    struct vt vt;
    char want[256];
    (void)state;

    vt_setup(&vt, NULL, 0);
    map_at(&vt, BASE, 8, RW, 0);
    fill_pages(&vt, BASE, 8, 11);
    struct adv a = {BASE + 2 * PG, 3 * PG, VMAR_ADVISE_DONTFORK};
    /* Two mapping nodes, and the spare index nodes the set's reservation
     * for two inserts adds (a few; each failure point is also swept). */
    const size_t ix0 = stats_of(&vt).index_nodes;
    const size_t failed = vt_fail_each_allocation(&vt, op_advise, &a);
    const size_t ix = stats_of(&vt).index_nodes - ix0;
    assert_true(ix <= 8);
    assert_int_equal(failed, 2 + ix);
    VT_CHECK(&vt);
    VT_EXPECT_LAYOUT(&vt, three(want, BASE + 2 * PG, BASE + 5 * PG, 8));
    assert_int_equal(flags_at(&vt, BASE + 2 * PG) & VMAR_MAP_DONTFORK,
                     VMAR_MAP_DONTFORK);
    /* Merging back allocates nothing. */
    struct adv b = {BASE, 8 * PG, VMAR_ADVISE_DOFORK};
    assert_int_equal(vt_fail_each_allocation(&vt, op_advise, &b), 0);
    VT_CHECK(&vt);
    VT_EXPECT_LAYOUT(&vt, one(want, 8));
    /* Dropping pages, all-or-nothing too. */
    struct adv c = {BASE + PG, 6 * PG, VMAR_ADVISE_DONTNEED};
    (void)vt_fail_each_allocation(&vt, op_advise, &c);
    VT_CHECK(&vt);
    EXPECT_PAGES(&vt, BASE, 1, 11);
    EXPECT_ZERO(&vt, BASE + PG, 6);
    EXPECT_PAGES(&vt, BASE + 7 * PG, 1, 11 + 7 * 17);
    vt_teardown(&vt);
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
    };

    fprintf(stderr, "backend: %s\n", vt_backend()->name);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
