/* SPDX-License-Identifier: MIT */
/*
 * Simulated CPUs with TLBs (src/mmu/sim/machine/cpu.c) running spaces of the
 * selected backend: accesses as hardware performs them (TLB, walk, page
 * fault, retry) with real bytes in the frames, the flush discipline
 * checked by the stale-TLB detector, and the kernel's user-copy routines
 * (vmar_read, vmar_write, vmar_fill_zero).
 *
 * Every test ends with zero violations except the one that breaks a flush
 * on purpose: it proves the detector fires, so that zero elsewhere means
 * something.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmar/error.h>
#include <vmar/fault.h>

#define R   VMAR_PROT_READ
#define W   VMAR_PROT_WRITE
#define X   VMAR_PROT_EXEC
#define RW  (VMAR_PROT_READ | VMAR_PROT_WRITE)
#define RWX VMAR_PROT_RWX

#define FIXED  VMAR_PLACE_FIXED
#define NOREPL VMAR_PLACE_FIXED_NOREPLACE
#define RD     VMAR_ACCESS_READ
#define WR     VMAR_ACCESS_WRITE
#define EX     VMAR_ACCESS_EXEC
#define BASE   ((vmar_addr_t)0x40000000) /* inside every backend's range */
#define POISON 0x5a                      /* VMAR_SIM_FRAME_POISON */
#define NCPU   2
#define BIGBUF (4 * 4096 + 512)

/* ---- a flush that can be made to go missing ------------------------ */

/* ---- fixture ------------------------------------------------------- */

struct cx {
    struct vt vt;
    struct vmar_sim_cpu *cpu[NCPU];
    bool broken_on_purpose; /* violations expected */
};

static void cpus_create(struct cx *c, unsigned tlb_entries)
{
    for (unsigned i = 0; i < NCPU; i++) {
        assert_int_equal(
            vmar_sim_cpu_create(c->vt.sim, tlb_entries, &c->cpu[i]), 0);
        vmar_sim_cpu_switch(c->cpu[i], c->vt.space);
    }
}

static int setup(void **state)
{
    struct cx *c = calloc(1, sizeof(*c));

    assert_non_null(c);
    vt_setup(&c->vt, NULL, 0);
    cpus_create(c, 0);
    *state = c;
    return 0;
}

/* The same, but the space runs on the flaky copy of the backend
 * (vt_setup_flaky). */
static int setup_flaky(void **state)
{
    struct cx *c = calloc(1, sizeof(*c));

    assert_non_null(c);
    vt_setup_flaky(&c->vt);
    cpus_create(c, 0);
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    struct cx *c = *state;

    if (!c->broken_on_purpose)
        assert_int_equal(vmar_sim_violations(c->vt.sim), 0);
    for (unsigned i = 0; i < NCPU; i++) {
        vmar_sim_cpu_switch(c->cpu[i], NULL);
        vmar_sim_cpu_destroy(c->cpu[i]);
    }
    vt_teardown(&c->vt);
    free(c);
    return 0;
}

/* ---- helpers ------------------------------------------------------- */

static struct vmar_sim_cpu_stats cstats(struct vmar_sim_cpu *cpu)
{
    struct vmar_sim_cpu_stats s;

    vmar_sim_cpu_stats(cpu, &s);
    return s;
}

static int acc(struct vmar_sim_cpu *cpu, vmar_addr_t va, unsigned access,
               void *buf, size_t len)
{
    return vmar_sim_cpu_access(cpu, va, access, buf, len);
}

/* Read one byte through `cpu`; asserts success. */
static unsigned char peek(struct vmar_sim_cpu *cpu, vmar_addr_t va)
{
    unsigned char b = 0;

    assert_int_equal(acc(cpu, va, RD, &b, 1), 0);
    return b;
}

static void poke(struct vmar_sim_cpu *cpu, vmar_addr_t va, unsigned char b)
{
    assert_int_equal(acc(cpu, va, WR, &b, 1), 0);
}

static void pattern(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(i * 7 + seed);
}

/* Resident size exact, both as the counter and as the tables say, and
 * the space consistent (vmar_check verifies the counter against the
 * tables too). */
#define EXPECT_RESIDENT(c, pages)                                              \
    expect_resident_at((c), (pages), __FILE__, __LINE__)
static void expect_resident_at(struct cx *c, size_t pages, const char *file,
                               int line)
{
    struct vmar_stats st;
    vmar_size_t bytes = 0;

    vmar_stats(c->vt.space, &st);
    _assert_int_equal(st.resident, pages * PG, file, line);
    _assert_int_equal(
        vmar_resident(c->vt.space, st.user_lo, st.user_hi, &bytes), 0, file,
        line);
    _assert_int_equal(bytes, pages * PG, file, line);
    _assert_int_equal(vt_leaves(&c->vt), pages, file, line);
    vt_check_at(&c->vt, file, line);
}

static void map_fixed(struct cx *c, vmar_addr_t addr, size_t pages,
                      unsigned prot)
{
    assert_int_equal(vt_map(&c->vt, addr, pages * PG, prot, FIXED, 0, NULL), 0);
}

/* ---- demand-zero content ------------------------------------------- */

static void test_demand_zero(void **state)
{
    struct cx *c = *state;
    static unsigned char buf[BIGBUF], pat[BIGBUF];
    struct vmar_sim_cpu_stats s0, s1;

    map_fixed(c, BASE, 4, RW);
    EXPECT_RESIDENT(c, 0);

    /* First touch: a fault, then a zeroed frame. */
    memset(buf, 0xee, sizeof(buf));
    assert_int_equal(acc(c->cpu[0], BASE + 100, RD, buf, 1), 0);
    assert_int_equal(buf[0], 0);
    EXPECT_RESIDENT(c, 1);
    s0 = cstats(c->cpu[0]);
    assert_int_equal(s0.faults, 1);
    assert_int_equal(s0.misses, 1);
    assert_int_equal(s0.hits, 0);
    assert_int_equal(acc(c->cpu[0], BASE, RD, buf, (size_t)PG), 0);
    assert_true(vt_all_bytes(buf, (size_t)PG, 0));
    assert_int_equal(cstats(c->cpu[0]).hits, 1);
    EXPECT_RESIDENT(c, 1);

    /* Write then read back, on this CPU and on the other. */
    pattern(pat, (size_t)PG, 3);
    assert_int_equal(acc(c->cpu[0], BASE + PG, WR, pat, (size_t)PG), 0);
    EXPECT_RESIDENT(c, 2);
    memset(buf, 0, sizeof(buf));
    assert_int_equal(acc(c->cpu[0], BASE + PG, RD, buf, (size_t)PG), 0);
    assert_memory_equal(buf, pat, (size_t)PG);
    s1 = cstats(c->cpu[1]);
    memset(buf, 0, sizeof(buf));
    assert_int_equal(acc(c->cpu[1], BASE + PG, RD, buf, (size_t)PG), 0);
    assert_memory_equal(buf, pat, (size_t)PG);
    /* The other CPU found the page in the table: a miss, not a fault. */
    assert_int_equal(cstats(c->cpu[1]).faults, s1.faults);
    assert_int_equal(cstats(c->cpu[1]).misses, s1.misses + 1);

    /* A write on CPU 1 is seen by CPU 0, which has the page cached. */
    poke(c->cpu[1], BASE + PG + 5, 0x77);
    assert_int_equal(peek(c->cpu[0], BASE + PG + 5), 0x77);

    /* The kernel's view is the same bytes. */
    memset(buf, 0, sizeof(buf));
    assert_int_equal(vmar_read(c->vt.space, BASE + PG, buf, 16, NULL), 0);
    assert_int_equal(buf[5], 0x77);
    assert_memory_equal(buf, pat, 5);

    /* A read-only mapping reads zeros too. */
    map_fixed(c, BASE + 8 * PG, 1, R);
    assert_int_equal(peek(c->cpu[1], BASE + 9 * PG - 1), 0);
    EXPECT_RESIDENT(c, 3);
}

/* ---- permission downgrade ------------------------------------------ */

static void test_protect_readonly(void **state)
{
    struct cx *c = *state;
    struct vmar_sim_cpu_stats s0;
    unsigned char b = 0x11;

    map_fixed(c, BASE, 2, RW);
    poke(c->cpu[0], BASE + 10, 0x42); /* CPU 0 caches a writable entry */
    poke(c->cpu[1], BASE + PG, 0x43); /* CPU 1 too, for the other page */
    assert_int_equal(peek(c->cpu[1], BASE + 10), 0x42);
    EXPECT_RESIDENT(c, 2);

    s0 = cstats(c->cpu[0]);
    assert_int_equal(vt_protect(&c->vt, BASE, 2 * PG, R), 0);
    /* The flush reached both CPUs: their entries of the range are gone. */
    assert_true(cstats(c->cpu[0]).invalidations > s0.invalidations);
    assert_true(cstats(c->cpu[1]).invalidations >= 2);

    /* The cached writable entry is not used: the write faults and fails,
     * and it is no stale hit. */
    assert_int_equal(acc(c->cpu[0], BASE + 10, WR, &b, 1), VMAR_EACCES);
    assert_int_equal(acc(c->cpu[1], BASE + PG, WR, &b, 1), VMAR_EACCES);
    assert_int_equal(peek(c->cpu[0], BASE + 10), 0x42);
    assert_int_equal(peek(c->cpu[0], BASE + PG), 0x43);
    assert_int_equal(vmar_sim_violations(c->vt.sim), 0);
    EXPECT_RESIDENT(c, 2);

    /* Upgrading needs no fault: the table says RW, the R entry is
     * dropped and the page walked again. */
    assert_int_equal(vt_protect(&c->vt, BASE, 2 * PG, RW), 0);
    s0 = cstats(c->cpu[0]);
    poke(c->cpu[0], BASE + 10, 0x44);
    assert_int_equal(cstats(c->cpu[0]).faults, s0.faults);
    assert_int_equal(peek(c->cpu[1], BASE + 10), 0x44);

    /* PROT_NONE: even reads fault, with the frames kept. */
    assert_int_equal(vt_protect(&c->vt, BASE, PG, VMAR_PROT_NONE), 0);
    assert_int_equal(acc(c->cpu[0], BASE + 10, RD, &b, 1), VMAR_EACCES);
    assert_int_equal(acc(c->cpu[1], BASE + 10, RD, &b, 1), VMAR_EACCES);
    assert_int_equal(peek(c->cpu[1], BASE + PG), 0x43);
    EXPECT_RESIDENT(c, 2);
    assert_int_equal(vt_protect(&c->vt, BASE, PG, R), 0);
    assert_int_equal(peek(c->cpu[0], BASE + 10), 0x44);
    EXPECT_RESIDENT(c, 2);
}

/* Execute needs X: reads like a read, faults like a missing right. */
static void test_exec(void **state)
{
    struct cx *c = *state;
    unsigned char b = 0;

    map_fixed(c, BASE, 1, RW);
    map_fixed(c, BASE + PG, 1, R | X);
    poke(c->cpu[0], BASE, 0x90);
    assert_int_equal(acc(c->cpu[0], BASE, EX, &b, 1), VMAR_EACCES);
    assert_int_equal(acc(c->cpu[0], BASE + PG, EX, &b, 1), 0);
    assert_int_equal(b, 0);
    assert_int_equal(acc(c->cpu[0], BASE + PG, WR, &b, 1), VMAR_EACCES);
    /* Make the data page executable and read-only: W^X, as a JIT does. */
    assert_int_equal(vt_protect(&c->vt, BASE, PG, R | X), 0);
    assert_int_equal(acc(c->cpu[0], BASE, EX, &b, 1), 0);
    assert_int_equal(b, 0x90);
    assert_int_equal(acc(c->cpu[0], BASE, WR, &b, 1), VMAR_EACCES);
    EXPECT_RESIDENT(c, 2);
}

/* ---- unmap, fixed overwrite ---------------------------------------- */

static void test_unmap_enoent(void **state)
{
    struct cx *c = *state;
    unsigned char b = 0;
    struct vmar_sim_cpu_stats s0, s1;

    map_fixed(c, BASE, 3, RW);
    for (unsigned i = 0; i < 3; i++) {
        poke(c->cpu[0], BASE + i * PG, (unsigned char)(i + 1));
        assert_int_equal(peek(c->cpu[1], BASE + i * PG), i + 1);
    }
    EXPECT_RESIDENT(c, 3);

    s0 = cstats(c->cpu[0]);
    s1 = cstats(c->cpu[1]);
    assert_int_equal(vt_unmap(&c->vt, BASE + PG, PG), 0);
    EXPECT_RESIDENT(c, 2);
    assert_int_equal(cstats(c->cpu[0]).invalidations, s0.invalidations + 1);
    assert_int_equal(cstats(c->cpu[1]).invalidations, s1.invalidations + 1);
    assert_int_equal(acc(c->cpu[0], BASE + PG, RD, &b, 1), VMAR_ENOENT);
    assert_int_equal(acc(c->cpu[1], BASE + PG + 7, WR, &b, 1), VMAR_ENOENT);
    assert_int_equal(peek(c->cpu[0], BASE), 1);
    assert_int_equal(peek(c->cpu[1], BASE + 2 * PG), 3);

    /* Outside any mapping, and above the user range. */
    assert_int_equal(acc(c->cpu[0], BASE - 1, RD, &b, 1), VMAR_ENOENT);
    assert_int_equal(acc(c->cpu[0], VT_USER_TOP, RD, &b, 1), VMAR_ENOENT);
    assert_int_equal(acc(c->cpu[0], ~(vmar_addr_t)0 - PG + 1, RD, &b, 1),
                     VMAR_ENOENT);

    assert_int_equal(vt_unmap(&c->vt, BASE, 3 * PG), 0);
    EXPECT_RESIDENT(c, 0);
    assert_int_equal(acc(c->cpu[1], BASE, RD, &b, 1), VMAR_ENOENT);
    assert_int_equal(acc(c->cpu[0], BASE + 2 * PG, RD, &b, 1), VMAR_ENOENT);
}

static void test_fixed_overwrite_zero(void **state)
{
    struct cx *c = *state;
    static unsigned char buf[2 * 4096];

    map_fixed(c, BASE, 2, RW);
    memset(buf, 0xab, sizeof(buf));
    assert_int_equal(acc(c->cpu[0], BASE, WR, buf, 2 * (size_t)PG), 0);
    assert_int_equal(peek(c->cpu[1], BASE + PG), 0xab);
    EXPECT_RESIDENT(c, 2);

    /* Replace the mapping: the old frames go, the CPUs' entries too, and
     * the new mapping demand-zeroes fresh frames. */
    map_fixed(c, BASE, 2, RW);
    EXPECT_RESIDENT(c, 0);
    memset(buf, 0xee, sizeof(buf));
    assert_int_equal(acc(c->cpu[0], BASE, RD, buf, 2 * (size_t)PG), 0);
    assert_true(vt_all_bytes(buf, sizeof(buf), 0));
    assert_int_equal(peek(c->cpu[1], BASE + 17), 0);
    EXPECT_RESIDENT(c, 2);

    /* A populated overwrite: zero at once, no fault needed. */
    poke(c->cpu[1], BASE + 3, 0xcd);
    assert_int_equal(
        vt_map(&c->vt, BASE, 2 * PG, RW, FIXED, VMAR_MAP_POPULATE, NULL), 0);
    EXPECT_RESIDENT(c, 2);
    struct vmar_sim_cpu_stats s = cstats(c->cpu[0]);
    assert_int_equal(peek(c->cpu[0], BASE + 3), 0);
    assert_int_equal(peek(c->cpu[1], BASE + 3), 0);
    assert_int_equal(cstats(c->cpu[0]).faults, s.faults);
}

/* ---- page and mapping boundaries ----------------------------------- */

static void test_boundaries(void **state)
{
    struct cx *c = *state;
    static unsigned char pat[BIGBUF], buf[BIGBUF];
    const size_t len = 2 * (size_t)PG + 50; /* pages 0, 1, 2 */

    /* [BASE, +3 pages) RW, [+3, +4) RWX (a second mapping: different
     * prot), hole at +4, [+5, +6) R. */
    map_fixed(c, BASE, 3, RW);
    map_fixed(c, BASE + 3 * PG, 1, RWX);
    map_fixed(c, BASE + 5 * PG, 1, R);

    /* Across two page boundaries inside one mapping. */
    pattern(pat, len, 1);
    assert_int_equal(acc(c->cpu[0], BASE + PG - 100, WR, pat, len), 0);
    EXPECT_RESIDENT(c, 3);
    assert_int_equal(acc(c->cpu[1], BASE + PG - 100, RD, buf, len), 0);
    assert_memory_equal(buf, pat, len);
    assert_int_equal(peek(c->cpu[1], BASE + PG - 101), 0);
    assert_int_equal(peek(c->cpu[1], BASE + PG - 100 + len), 0);

    /* Across the boundary between the two mappings. */
    pattern(pat, 300, 9);
    assert_int_equal(acc(c->cpu[1], BASE + 3 * PG - 150, WR, pat, 300), 0);
    EXPECT_RESIDENT(c, 4);
    assert_int_equal(acc(c->cpu[0], BASE + 3 * PG - 150, RD, buf, 300), 0);
    assert_memory_equal(buf, pat, 300);

    /* Into the hole: the bytes before it are written, then ENOENT. */
    memset(pat, 0x3c, 300);
    assert_int_equal(acc(c->cpu[0], BASE + 4 * PG - 100, WR, pat, 300),
                     VMAR_ENOENT);
    assert_int_equal(peek(c->cpu[1], BASE + 4 * PG - 100), 0x3c);
    assert_int_equal(peek(c->cpu[1], BASE + 4 * PG - 1), 0x3c);
    assert_int_equal(peek(c->cpu[1], BASE + 4 * PG - 101), 0);
    EXPECT_RESIDENT(c, 4);

    /* Into a read-only mapping after a hole: a read spanning the hole
     * fails at it; a write into the R page fails with EACCES after
     * faulting the page in for the read it did not get. */
    memset(buf, 0, sizeof(buf));
    assert_int_equal(acc(c->cpu[0], BASE + 4 * PG - 8, RD, buf, 16),
                     VMAR_ENOENT);
    assert_true(vt_all_bytes(buf, 8, 0x3c));
    assert_int_equal(acc(c->cpu[0], BASE + 5 * PG, RD, buf, (size_t)PG), 0);
    assert_true(vt_all_bytes(buf, (size_t)PG, 0));
    EXPECT_RESIDENT(c, 5);
    assert_int_equal(acc(c->cpu[1], BASE + 5 * PG + 1, WR, pat, 10),
                     VMAR_EACCES);
    assert_int_equal(peek(c->cpu[0], BASE + 5 * PG + 1), 0);

    /* Zero length: nothing, not even a fault. */
    struct vmar_sim_cpu_stats s = cstats(c->cpu[0]);
    assert_int_equal(acc(c->cpu[0], BASE + 4 * PG, RD, buf, 0), 0);
    assert_int_equal(cstats(c->cpu[0]).misses, s.misses);
    EXPECT_RESIDENT(c, 5);
}

/* ---- TLB counters -------------------------------------------------- */

static void test_tlb_counters(void **state)
{
    struct cx *c = *state;
    struct vmar_sim_cpu *small;
    struct vmar_sim_cpu_stats s;

    /* A 4-entry TLB of its own, so that LRU eviction shows. */
    assert_int_equal(vmar_sim_cpu_create(c->vt.sim, 4, &small), 0);
    vmar_sim_cpu_switch(small, c->vt.space);
    map_fixed(c, BASE, 8, RW);

    (void)peek(small, BASE);
    s = cstats(small);
    assert_int_equal(s.misses, 1);
    assert_int_equal(s.faults, 1);
    assert_int_equal(s.hits, 0);
    (void)peek(small, BASE + 1);
    (void)peek(small, BASE + PG - 1);
    s = cstats(small);
    assert_int_equal(s.hits, 2);
    assert_int_equal(s.misses, 1);

    /* Pages 1..4 evict page 0, the least recently used. */
    for (unsigned i = 1; i <= 4; i++)
        (void)peek(small, BASE + i * PG);
    s = cstats(small);
    assert_int_equal(s.misses, 5);
    assert_int_equal(s.faults, 5);
    (void)peek(small, BASE + 4 * PG); /* still there */
    assert_int_equal(cstats(small).hits, s.hits + 1);
    (void)peek(small, BASE); /* gone: a miss, but the table has it */
    assert_int_equal(cstats(small).misses, s.misses + 1);
    assert_int_equal(cstats(small).faults, s.faults);
    /* That evicted page 1 (now the LRU); page 2 is still cached. */
    s = cstats(small);
    (void)peek(small, BASE + 2 * PG);
    assert_int_equal(cstats(small).hits, s.hits + 1);
    (void)peek(small, BASE + PG);
    assert_int_equal(cstats(small).misses, s.misses + 1);

    /* A flush drops exactly the cached entries of its range. Cached now:
     * pages 4, 0, 2, 1. */
    s = cstats(small);
    assert_int_equal(vt_unmap(&c->vt, BASE + 2 * PG, 2 * PG), 0);
    assert_int_equal(cstats(small).invalidations, s.invalidations + 1);
    assert_int_equal(vt_protect(&c->vt, BASE + 4 * PG, 4 * PG, R), 0);
    assert_int_equal(cstats(small).invalidations, s.invalidations + 2);

    /* A CPU not running the space sees none of its flushes; a switch
     * empties the TLB without counting invalidations. */
    vmar_sim_cpu_switch(small, NULL);
    s = cstats(small);
    assert_int_equal(vt_unmap(&c->vt, BASE, PG), 0);
    assert_int_equal(cstats(small).invalidations, s.invalidations);
    vmar_sim_cpu_switch(small, c->vt.space);
    (void)peek(small, BASE + PG);
    assert_int_equal(cstats(small).misses, s.misses + 1);
    assert_int_equal(cstats(small).faults, s.faults);
    assert_int_equal(cstats(small).violations, 0);

    vmar_sim_cpu_switch(small, NULL);
    vmar_sim_cpu_destroy(small);
}

/* Flushes are per table: a CPU running another space of the same machine
 * keeps its entries. */
static void test_two_spaces(void **state)
{
    struct cx *c = *state;
    struct vmar_space_opts o = {.env = c->vt.env};
    struct vt_mmu_cfg cfg;
    struct vmar_space *other;
    struct vmar_map_opts mo = {
        .addr = BASE, .size = PG, .prot = RW, .place = FIXED};
    struct vmar_sim_cpu_stats s;

    vt_use_backend(&o, c->vt.sim, &cfg);
    assert_int_equal(vmar_space_create(&o, &other), 0);
    assert_int_equal(vmar_map(other, &mo, NULL), 0);
    map_fixed(c, BASE, 1, RW);

    vmar_sim_cpu_switch(c->cpu[1], other);
    poke(c->cpu[0], BASE, 1);
    poke(c->cpu[1], BASE, 2);
    assert_int_equal(peek(c->cpu[0], BASE), 1);
    assert_int_equal(peek(c->cpu[1], BASE), 2);

    s = cstats(c->cpu[1]);
    assert_int_equal(vt_unmap(&c->vt, BASE, PG), 0);
    assert_int_equal(cstats(c->cpu[1]).invalidations, s.invalidations);
    assert_int_equal(peek(c->cpu[1], BASE), 2);
    assert_int_equal(cstats(c->cpu[1]).hits, s.hits + 1);
    assert_int_equal(cstats(c->cpu[0]).invalidations, 1);

    vmar_sim_cpu_switch(c->cpu[1], c->vt.space);
    vmar_space_destroy(other);
}

/* ---- failures ------------------------------------------------------ */

static void test_fault_enomem(void **state)
{
    struct cx *c = *state;
    unsigned char b = 0;
    struct vt_snap snap;

    map_fixed(c, BASE, 2, RW);
    poke(c->cpu[0], BASE, 9);
    vt_snap_take(&c->vt, &snap);
    vmar_sim_fail_after(c->vt.sim, 1, VMAR_SIM_FAIL_FRAME, false);
    assert_int_equal(acc(c->cpu[0], BASE + PG, RD, &b, 1), VMAR_ENOMEM);
    VT_EXPECT_UNCHANGED(&c->vt, &snap);
    /* A multi-page access stops at the page that could not be faulted
     * in, after copying the pages before it. */
    unsigned char two[2] = {7, 7};
    vmar_sim_fail_after(c->vt.sim, 1, VMAR_SIM_FAIL_FRAME, false);
    assert_int_equal(acc(c->cpu[1], BASE + PG - 1, WR, two, 2), VMAR_ENOMEM);
    assert_int_equal(peek(c->cpu[0], BASE + PG - 1), 7);
    EXPECT_RESIDENT(c, 1);
    assert_int_equal(peek(c->cpu[0], BASE + PG), 0);
    EXPECT_RESIDENT(c, 2);
}

static void test_bad_args(void **state)
{
    struct cx *c = *state;
    struct vmar_sim_cpu *cpu;
    unsigned char b = 0;

    assert_int_equal(vmar_sim_cpu_create(NULL, 0, &cpu), VMAR_EINVAL);
    assert_int_equal(vmar_sim_cpu_create(c->vt.sim, 0, NULL), VMAR_EINVAL);
    assert_int_equal(vmar_sim_cpu_create(c->vt.sim, 1u << 20, &cpu),
                     VMAR_EINVAL);
    assert_int_equal(vmar_sim_cpu_create(c->vt.sim, 1, &cpu), 0);
    map_fixed(c, BASE, 2, RW);
    /* No space: nothing to translate with. */
    assert_int_equal(acc(cpu, BASE, RD, &b, 1), VMAR_EINVAL);
    vmar_sim_cpu_switch(cpu, c->vt.space);
    assert_int_equal(acc(cpu, BASE, 0, &b, 1), VMAR_EINVAL);
    assert_int_equal(acc(cpu, BASE, RD | WR, &b, 1), VMAR_EINVAL);
    assert_int_equal(acc(cpu, BASE, RD, NULL, 1), VMAR_EINVAL);
    assert_int_equal(acc(cpu, ~(vmar_addr_t)0, RD, &b, 2), VMAR_EINVAL);
    EXPECT_RESIDENT(c, 0);
    /* A one-entry TLB still works, thrashing. */
    unsigned char two[2] = {5, 6};
    assert_int_equal(acc(cpu, BASE + PG - 1, WR, two, 2), 0);
    assert_int_equal(acc(cpu, BASE + PG - 1, RD, two, 2), 0);
    assert_int_equal(two[0], 5);
    assert_int_equal(two[1], 6);
    assert_int_equal(cstats(cpu).hits, 0);
    /* Left running: machine destruction frees it, and must not mind
     * that the space went first... but the space cannot go while the
     * CPU runs it, so switch away before the fixture's teardown. */
    vmar_sim_cpu_switch(cpu, NULL);
}

/* ---- the stale-TLB detector ---------------------------------------- */

/* With the flush skipped, the detector fires; the same sequence with
 * the flush in place (the second half) stays clean. */
static void test_detector_unmap(void **state)
{
    struct cx *c = *state;
    unsigned char b = 0;

    c->broken_on_purpose = true;
    map_fixed(c, BASE, 2, RW);
    poke(c->cpu[0], BASE + 1, 0x61);
    poke(c->cpu[1], BASE + PG, 0x62);

    vt_flaky.skip = 1;
    assert_int_equal(vt_unmap(&c->vt, BASE, PG), 0);
    assert_int_equal(vt_flaky.skipped, 1);
    EXPECT_RESIDENT(c, 1);
    /* CPU 0 still caches the translation of a freed frame: reading it is
     * a violation, and shows the poison of the freed frame. */
    assert_int_equal(acc(c->cpu[0], BASE + 1, RD, &b, 1), 0);
    assert_int_equal(b, POISON);
    assert_int_equal(vmar_sim_violations(c->vt.sim), 1);
    assert_int_equal(cstats(c->cpu[0]).violations, 1);
    /* A write through it is a violation too (and is dropped, the frame
     * being free). CPU 1 never cached that page: it faults cleanly. */
    b = 0x63;
    assert_int_equal(acc(c->cpu[0], BASE + 2, WR, &b, 1), 0);
    assert_int_equal(vmar_sim_violations(c->vt.sim), 2);
    assert_int_equal(acc(c->cpu[1], BASE + 2, RD, &b, 1), VMAR_ENOENT);
    assert_int_equal(cstats(c->cpu[1]).violations, 0);

    /* The correct flush: same steps, no violation. */
    vmar_sim_cpu_switch(c->cpu[0], c->vt.space); /* forget the stale entry */
    size_t v0 = vmar_sim_violations(c->vt.sim);
    map_fixed(c, BASE, 1, RW);
    poke(c->cpu[0], BASE + 1, 0x61);
    assert_int_equal(vt_unmap(&c->vt, BASE, PG), 0);
    assert_int_equal(acc(c->cpu[0], BASE + 1, RD, &b, 1), VMAR_ENOENT);
    assert_int_equal(acc(c->cpu[0], BASE + 2, WR, &b, 1), VMAR_ENOENT);
    assert_int_equal(vmar_sim_violations(c->vt.sim), v0);
    assert_int_equal(vt_flaky.skipped, 1);
}

static void test_detector_protect(void **state)
{
    struct cx *c = *state;
    unsigned char b = 0;

    c->broken_on_purpose = true;
    map_fixed(c, BASE, 1, RW);
    poke(c->cpu[0], BASE, 0x71);

    vt_flaky.skip = 1;
    assert_int_equal(vt_protect(&c->vt, BASE, PG, R), 0);
    /* CPU 1 had nothing cached: it walks the new table, no violation. */
    assert_int_equal(peek(c->cpu[1], BASE), 0x71);
    assert_int_equal(vmar_sim_violations(c->vt.sim), 0);
    /* CPU 0's writable entry outlived the downgrade: the write lands, as
     * on hardware, and is caught. So is a read through that entry: it
     * still grants more than the table, whatever this access needs. */
    b = 0x72;
    assert_int_equal(acc(c->cpu[0], BASE, WR, &b, 1), 0);
    assert_int_equal(vmar_sim_violations(c->vt.sim), 1);
    assert_int_equal(peek(c->cpu[0], BASE), 0x72);
    assert_int_equal(vmar_sim_violations(c->vt.sim), 2);
    assert_int_equal(cstats(c->cpu[0]).violations, 2);
    assert_int_equal(cstats(c->cpu[1]).violations, 0);

    /* The correct flush: same steps, no violation. */
    vmar_sim_cpu_switch(c->cpu[0], c->vt.space);
    size_t v0 = vmar_sim_violations(c->vt.sim);
    assert_int_equal(vt_protect(&c->vt, BASE, PG, RW), 0);
    poke(c->cpu[0], BASE, 0x73);
    assert_int_equal(vt_protect(&c->vt, BASE, PG, R), 0);
    b = 0x74;
    assert_int_equal(acc(c->cpu[0], BASE, WR, &b, 1), VMAR_EACCES);
    assert_int_equal(peek(c->cpu[0], BASE), 0x73);
    assert_int_equal(vmar_sim_violations(c->vt.sim), v0);
}

/* fork write-protects the parent's private leaves: without the flush, a
 * CPU's cached writable entry lets a write reach the frame the child now
 * shares, and the detector says so. With it, the write faults and copies. */
static void test_detector_fork(void **state)
{
    struct cx *c = *state;
    struct vt child;
    unsigned char b = 0;

    c->broken_on_purpose = true;
    map_fixed(c, BASE, 1, RW);
    poke(c->cpu[0], BASE, 0x81);
    vt_flaky.skip = 1;
    assert_int_equal(vt_fork(&c->vt, &child), 0);
    assert_int_equal(vt_flaky.skipped, 1);
    b = 0x82;
    assert_int_equal(acc(c->cpu[0], BASE, WR, &b, 1), 0);
    assert_int_equal(vmar_sim_violations(c->vt.sim), 1);
    /* The write leaked into the child's copy: exactly what COW prevents. */
    assert_int_equal(vmar_read(child.space, BASE, &b, 1, NULL), 0);
    assert_int_equal(b, 0x82);
    vt_child_destroy(&child);

    /* The correct flush: the write faults, copies, the child keeps 0x83. */
    vmar_sim_cpu_switch(c->cpu[0], c->vt.space);
    size_t v0 = vmar_sim_violations(c->vt.sim);
    poke(c->cpu[0], BASE, 0x83);
    assert_int_equal(vt_fork(&c->vt, &child), 0);
    b = 0x84;
    assert_int_equal(acc(c->cpu[0], BASE, WR, &b, 1), 0);
    assert_int_equal(vmar_read(child.space, BASE, &b, 1, NULL), 0);
    assert_int_equal(b, 0x83);
    assert_int_equal(vmar_sim_violations(c->vt.sim), v0);
    vt_child_destroy(&child);
}

/* A batch past VMAR_TLB_BATCH_RANGE_MAX pages flushes the whole table:
 * every CPU's cached entries of the space go, in one flush. */
static void test_batch_full_flush(void **state)
{
    struct cx *c = *state;
    const unsigned n = VMAR_TLB_BATCH_RANGE_MAX + 1;

    /* Every other page populated: fewer frames than the batch holds, so
     * the only flush is the one at the end. */
    map_fixed(c, BASE, n + 1, RW);
    for (unsigned i = 0; i < n; i += 2)
        poke(c->cpu[0], BASE + i * PG, 1);
    poke(c->cpu[0], BASE + n * PG, 1);
    struct vmar_sim_stats s0 = vt_stats(&c->vt);
    assert_int_equal(vt_unmap(&c->vt, BASE, n * PG), 0);
    assert_int_equal(vt_stats(&c->vt).flushes - s0.flushes, 1);
    /* The page outside the range was dropped too: it misses and walks. */
    struct vmar_sim_cpu_stats t0 = cstats(c->cpu[0]);
    assert_int_equal(peek(c->cpu[0], BASE + n * PG), 1);
    assert_int_equal(cstats(c->cpu[0]).misses - t0.misses, 1);
    /* At the threshold the range is flushed: that entry stays cached. */
    map_fixed(c, BASE, n, RW);
    for (unsigned i = 0; i < n; i += 2)
        poke(c->cpu[0], BASE + i * PG, 1);
    poke(c->cpu[0], BASE + n * PG, 1);
    assert_int_equal(vt_unmap(&c->vt, BASE, (n - 1) * PG), 0);
    t0 = cstats(c->cpu[0]);
    assert_int_equal(peek(c->cpu[0], BASE + n * PG), 1);
    assert_int_equal(cstats(c->cpu[0]).hits - t0.hits, 1);
    assert_int_equal(vmar_sim_violations(c->vt.sim), 0);
}

/* The whole test file's sequences on the flaky backend with nothing
 * skipped: the wrapper itself is not what makes the detector fire. */
static void test_detector_quiet_when_flushed(void **state)
{
    struct cx *c = *state;
    unsigned char b = 0;

    map_fixed(c, BASE, 4, RW);
    for (unsigned i = 0; i < 4; i++)
        poke(c->cpu[i % NCPU], BASE + i * PG, (unsigned char)i);
    assert_int_equal(vt_protect(&c->vt, BASE, 2 * PG, R), 0);
    assert_int_equal(acc(c->cpu[0], BASE, WR, &b, 1), VMAR_EACCES);
    assert_int_equal(vt_unmap(&c->vt, BASE + 2 * PG, PG), 0);
    assert_int_equal(acc(c->cpu[0], BASE + 2 * PG, RD, &b, 1), VMAR_ENOENT);
    map_fixed(c, BASE + PG, 3, RW);
    assert_int_equal(peek(c->cpu[1], BASE + PG), 0);
    assert_int_equal(peek(c->cpu[0], BASE), 0);
    assert_int_equal(vt_flaky.skipped, 0);
}

/* ---- vmar_read / vmar_write / vmar_fill_zero ------------------------ */

static void test_user_copy(void **state)
{
    struct cx *c = *state;
    static unsigned char pat[BIGBUF], buf[BIGBUF];
    size_t done;

    /* [BASE, +3) RW | [+3, +4) RWX | hole +4 | [+5, +6) R | [+6, +7)
     * none | [+7, +8) RW. */
    map_fixed(c, BASE, 3, RW);
    map_fixed(c, BASE + 3 * PG, 1, RWX);
    map_fixed(c, BASE + 5 * PG, 1, R);
    map_fixed(c, BASE + 6 * PG, 1, VMAR_PROT_NONE);
    map_fixed(c, BASE + 7 * PG, 1, RW);

    /* Across page and mapping boundaries: all of it. */
    pattern(pat, 3 * (size_t)PG, 5);
    done = 1;
    assert_int_equal(
        vmar_write(c->vt.space, BASE + PG / 2, pat, 3 * (size_t)PG, &done), 0);
    assert_int_equal(done, 3 * PG);
    EXPECT_RESIDENT(c, 4);
    /* The CPUs see those bytes... */
    assert_int_equal(acc(c->cpu[0], BASE + PG / 2, RD, buf, 3 * (size_t)PG), 0);
    assert_memory_equal(buf, pat, 3 * (size_t)PG);
    /* ...and the kernel sees what a CPU wrote. */
    poke(c->cpu[1], BASE + 3 * PG + 1, 0xf1);
    memset(buf, 0, sizeof(buf));
    assert_int_equal(
        vmar_read(c->vt.space, BASE + PG / 2, buf, 3 * (size_t)PG, &done), 0);
    assert_int_equal(done, 3 * PG);
    assert_int_equal(buf[3 * PG + 1 - PG / 2], 0xf1);

    /* Into the hole: stops at its first byte, done counts what came
     * before; the bytes before it were really written. */
    memset(pat, 0xc3, 300);
    assert_int_equal(
        vmar_write(c->vt.space, BASE + 4 * PG - 100, pat, 300, &done),
        VMAR_EFAULT);
    assert_int_equal(done, 100);
    assert_int_equal(peek(c->cpu[0], BASE + 4 * PG - 1), 0xc3);
    assert_int_equal(
        vmar_read(c->vt.space, BASE + 4 * PG - 100, buf, 300, &done),
        VMAR_EFAULT);
    assert_int_equal(done, 100);
    assert_true(vt_all_bytes(buf, 100, 0xc3));
    assert_int_equal(
        vmar_fill_zero(c->vt.space, BASE + 4 * PG - 50, 300, &done),
        VMAR_EFAULT);
    assert_int_equal(done, 50);
    assert_int_equal(peek(c->cpu[1], BASE + 4 * PG - 51), 0xc3);
    assert_int_equal(peek(c->cpu[1], BASE + 4 * PG - 50), 0);
    assert_int_equal(peek(c->cpu[1], BASE + 4 * PG - 1), 0);
    /* Starting in the hole: nothing. */
    assert_int_equal(vmar_read(c->vt.space, BASE + 4 * PG, buf, 1, &done),
                     VMAR_EFAULT);
    assert_int_equal(done, 0);
    EXPECT_RESIDENT(c, 4);

    /* Read-only: readable (faulted in, zero), not writable. */
    assert_int_equal(vmar_read(c->vt.space, BASE + 5 * PG, buf, 10, &done), 0);
    assert_int_equal(done, 10);
    assert_true(vt_all_bytes(buf, 10, 0));
    EXPECT_RESIDENT(c, 5);
    assert_int_equal(vmar_write(c->vt.space, BASE + 5 * PG, pat, 10, &done),
                     VMAR_EFAULT);
    assert_int_equal(done, 0);
    assert_int_equal(vmar_fill_zero(c->vt.space, BASE + 5 * PG, 10, &done),
                     VMAR_EFAULT);
    assert_int_equal(done, 0);

    /* PROT_NONE in the middle: a read from the R page stops there, and
     * nothing gets faulted in behind it. */
    assert_int_equal(
        vmar_read(c->vt.space, BASE + 6 * PG - 8, buf, 2 * (size_t)PG, &done),
        VMAR_EFAULT);
    assert_int_equal(done, 8);
    EXPECT_RESIDENT(c, 5);

    /* Zero-fill across two pages of a populated range, seen by a CPU. */
    assert_int_equal(vmar_fill_zero(c->vt.space, BASE + PG - 10, 20, &done), 0);
    assert_int_equal(done, 20);
    assert_int_equal(acc(c->cpu[0], BASE + PG - 11, RD, buf, 22), 0);
    /* The byte before keeps what the first vmar_write put there. */
    assert_int_equal(buf[0], (unsigned char)((PG / 2 - 11) * 7 + 5));
    assert_true(vt_all_bytes(buf + 1, 20, 0));

    /* Edge cases: nothing to do; a range that wraps. */
    done = 9;
    assert_int_equal(vmar_read(c->vt.space, BASE, buf, 0, &done), 0);
    assert_int_equal(done, 0);
    assert_int_equal(vmar_write(c->vt.space, BASE, pat, 1, NULL), 0);
    assert_int_equal(vmar_read(c->vt.space, ~(vmar_addr_t)0 - 1, buf, 8, &done),
                     VMAR_EFAULT);
    assert_int_equal(done, 0);
    EXPECT_RESIDENT(c, 5);
}

/* A fault-in by vmar_write into an untouched page, then a CPU access:
 * no second fault, same frame. */
static void test_user_copy_then_cpu(void **state)
{
    struct cx *c = *state;
    unsigned char b = 0x5;
    size_t done = 0;

    map_fixed(c, BASE + 7 * PG, 1, RW);
    assert_int_equal(vmar_write(c->vt.space, BASE + 8 * PG - 1, &b, 1, &done),
                     0);
    assert_int_equal(done, 1);
    EXPECT_RESIDENT(c, 1);
    assert_int_equal(peek(c->cpu[0], BASE + 8 * PG - 1), 5);
    assert_int_equal(cstats(c->cpu[0]).faults, 0);
    /* The CPU caches it; an unmap then a vmar_read: EFAULT, and no stale
     * hit anywhere. */
    assert_int_equal(vt_unmap(&c->vt, BASE + 7 * PG, PG), 0);
    assert_int_equal(vmar_read(c->vt.space, BASE + 8 * PG - 1, &b, 1, &done),
                     VMAR_EFAULT);
    assert_int_equal(done, 0);
    assert_int_equal(acc(c->cpu[0], BASE + 8 * PG - 1, RD, &b, 1), VMAR_ENOENT);
    EXPECT_RESIDENT(c, 0);
}

/* ---- the walk the CPUs use ----------------------------------------- */

/* vmar_space_translate() reports the leaf a CPU's walk finds: nothing
 * before the first touch, outside mappings and at or above user_top; after
 * a CPU's write, the frame holding the written byte and the permission the
 * mapping gives. */
static void test_translate(void **state)
{
    struct cx *c = *state;
    struct vmar_pte pte, untouched = {.pa = 1, .prot = 7};
    const unsigned char *frame;

    map_fixed(c, BASE, 2, RW);
    pte = untouched;
    assert_int_equal(vmar_space_translate(c->vt.space, BASE + PG, &pte),
                     VMAR_ENOENT);
    assert_memory_equal(&pte, &untouched, sizeof(pte));
    poke(c->cpu[0], BASE + PG + 9, 0x3c);
    assert_int_equal(vmar_space_translate(c->vt.space, BASE + PG + 9, &pte), 0);
    assert_int_equal(pte.pa % PG, 0);
    assert_true(vmar_sim_frame_live(c->vt.sim, pte.pa));
    frame = c->vt.env->phys_to_virt(c->vt.env->ctx, pte.pa);
    assert_int_equal(frame[9], 0x3c);
    assert_int_equal(pte.prot, RW);
    pte = untouched;
    assert_int_equal(vmar_space_translate(c->vt.space, BASE + 2 * PG, &pte),
                     VMAR_ENOENT);
    assert_int_equal(vmar_space_translate(c->vt.space, VT_USER_TOP, &pte),
                     VMAR_ENOENT);
    assert_int_equal(vmar_space_translate(c->vt.space, ~(vmar_addr_t)0, &pte),
                     VMAR_ENOENT);
    assert_memory_equal(&pte, &untouched, sizeof(pte));
    assert_int_equal(vmar_space_translate(NULL, BASE, &pte), VMAR_EINVAL);
    assert_int_equal(vmar_space_translate(c->vt.space, BASE, NULL),
                     VMAR_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f)  cmocka_unit_test_setup_teardown(f, setup, teardown)
#define TF(f) cmocka_unit_test_setup_teardown(f, setup_flaky, teardown)
        T(test_demand_zero),
        T(test_protect_readonly),
        T(test_exec),
        T(test_unmap_enoent),
        T(test_fixed_overwrite_zero),
        T(test_boundaries),
        T(test_tlb_counters),
        T(test_two_spaces),
        T(test_fault_enomem),
        T(test_bad_args),
        TF(test_detector_unmap),
        TF(test_detector_protect),
        TF(test_detector_fork),
        T(test_batch_full_flush),
        TF(test_detector_quiet_when_flushed),
        T(test_user_copy),
        T(test_user_copy_then_cpu),
        T(test_translate),
#undef T
#undef TF
    };

    fprintf(stderr, "backend: %s\n", vt_backend()->name);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
