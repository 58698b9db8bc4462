/* SPDX-License-Identifier: MIT */
/*
 * Bad input, table driven: every public call with every kind of invalid
 * argument returns exactly the code vmar.h documents and leaves the space
 * byte-for-byte unchanged (layout, counters, page tables, frames and
 * metadata; VT_EXPECT_UNCHANGED).
 *
 * Every failing case runs against the same pre-populated space (see
 * fixture()): mappings of different permissions and maximum permissions,
 * some populated so that page tables and frames exist, one of them on the
 * last pages below user_hi. The user range is chosen below the backend's
 * user_top so that "outside the user range" and "outside the backend" are
 * different things.
 *
 * A few success-path boundary cases pin the edges: the whole user range,
 * the last page below user_hi, user_lo itself, the default range.
 *
 * The sim's panic hook aborts. A row that makes the library panic is
 * reported as a failed row (its space is abandoned, not torn down) and the
 * table goes on; an abort anywhere else fails the running test.
 */
#define _POSIX_C_SOURCE 200809L

#include "harness.h"

#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define R   VMAR_PROT_READ
#define W   VMAR_PROT_WRITE
#define X   VMAR_PROT_EXEC
#define RW  (R | W)
#define RX  (R | X)
#define RWX VMAR_PROT_RWX
#define POP VMAR_MAP_POPULATE

#define NFRAMES 512

/* The fixture's user range ends at HI: 512 GiB, or where the backend's
 * user_top is lower, the highest power of two below it (Sv39: 128 GiB);
 * either way HI < user_top with room in between. */
static vmar_addr_t bad_hi(void)
{
    vmar_addr_t hi = (vmar_addr_t)1 << 39;

    while (hi >= VT_USER_TOP)
        hi >>= 1;
    return hi;
}
#define LO       ((vmar_addr_t)0x100000)
#define HI       bad_hi()                 /* 512 GiB where the backend allows */
#define TOP_PAGE (UINT64_MAX & ~(PG - 1)) /* the last page of 2^64 */

/*
 * The fixture (addresses are fixed so cases can name them):
 *   A [0x200000, 0x208000) rw-  populated
 *   B [0x208000, 0x20c000) r--  max r-- (deny W|X), adjacent to A
 *   C [0x20c000, 0x21c000) r-x  populated, adjacent to B
 *   D [0x230000, 0x234000) ---  max rw- (deny X)
 *   S [0x300000, 0x304000) rw-  shared, populated
 *   T [HI - 4 pages, HI)   rw-  populated: the last pages below user_hi
 */
#define A0    ((vmar_addr_t)0x200000)
#define A1    ((vmar_addr_t)0x208000)
#define B0    A1
#define B1    ((vmar_addr_t)0x20c000)
#define C0    B1
#define C1    ((vmar_addr_t)0x21c000)
#define D0    ((vmar_addr_t)0x230000)
#define D1    ((vmar_addr_t)0x234000)
#define S0    ((vmar_addr_t)0x300000)
#define S1    ((vmar_addr_t)0x304000)
#define T0    (HI - 4 * PG)
#define T1    HI
#define FREE0 ((vmar_addr_t)0x500000) /* a free area */

#define FX_MAPS           6u
#define FX_PAGES          (8u + 4u + 16u + 4u + 4u + 4u)
#define FX_RESIDENT_PAGES (8u + 16u + 4u + 4u)

/* One layout line [lo, hi) `perms`, written to `buf` (64 bytes). */
static const char *layout_line(char *buf, vmar_addr_t lo, vmar_addr_t hi,
                               const char *perms)
{
    snprintf(buf, 64, "%08" PRIx64 "-%08" PRIx64 " %s 00000000 00:00 0\n", lo,
             hi, perms);
    return buf;
}

/* The fixture's layout (T's line depends on HI). */
static const char *fx_layout(void)
{
    static char buf[512];
    char t[64];

    snprintf(buf, sizeof(buf), "%s%s",
             "00200000-00208000 rw-p 00000000 00:00 0\n"
             "00208000-0020c000 r--p 00000000 00:00 0\n"
             "0020c000-0021c000 r-xp 00000000 00:00 0\n"
             "00230000-00234000 ---p 00000000 00:00 0\n"
             "00300000-00304000 rw-s 00000000 00:00 0\n",
             layout_line(t, T0, T1, "rw-p"));
    return buf;
}
#define FX_LAYOUT fx_layout()

static void fx_map(struct vt *vt, vmar_addr_t addr, vmar_size_t size,
                   unsigned prot, unsigned deny, unsigned flags)
{
    const struct vmar_map_opts o = {.addr = addr,
                                    .size = size,
                                    .place = VMAR_PLACE_FIXED_NOREPLACE,
                                    .prot = prot,
                                    .deny_prot = deny,
                                    .flags = flags};
    vmar_addr_t got = 0;

    assert_int_equal(vt_map_opts(vt, &o, &got), 0);
    assert_int_equal(got, addr);
}

static void fixture(struct vt *vt)
{
    const struct vmar_space_opts o = {.user_lo = LO, .user_hi = HI};

    vt_setup(vt, &o, NFRAMES);
    fx_map(vt, A0, A1 - A0, RW, 0, POP);
    fx_map(vt, B0, B1 - B0, R, W | X, 0);
    fx_map(vt, C0, C1 - C0, RX, 0, POP);
    fx_map(vt, D0, D1 - D0, VMAR_PROT_NONE, X, 0);
    fx_map(vt, S0, S1 - S0, RW, 0, VMAR_MAP_SHARED | POP);
    fx_map(vt, T0, T1 - T0, RW, 0, POP);
}

/* ---- abort guard ------------------------------------------------------- */

static sigjmp_buf row_jmp;
static volatile sig_atomic_t row_armed;

static void on_abort(int sig)
{
    (void)sig;
    if (row_armed) {
        row_armed = 0;
        siglongjmp(row_jmp, 1);
    }
    fail_msg("abort(): the library panicked (see the message above)");
}

static void install_abort_guard(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_abort;
    sa.sa_flags = SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGABRT, &sa, NULL);
}

/* Per-test setup: no row is armed when a test starts. */
static int disarm(void **state)
{
    (void)state;
    row_armed = 0;
    return 0;
}

/* ---- the fixture itself ------------------------------------------------ */

static void test_fixture_is_as_described(void **state)
{
    struct vt vt;
    struct vmar_stats st;

    (void)state;
    fixture(&vt);
    VT_EXPECT_LAYOUT(&vt, FX_LAYOUT);
    vmar_stats(vt.space, &st);
    assert_int_equal(st.map_count, FX_MAPS);
    assert_int_equal(st.total_vm, FX_PAGES * PG);
    assert_int_equal(st.resident, FX_RESIDENT_PAGES * PG);
    assert_int_equal(st.user_lo, LO);
    assert_int_equal(st.user_hi, HI);
    assert_true(HI < VT_USER_TOP); /* the range is a strict subset */
    vt_teardown(&vt);
}

/* ---- the table of map / unmap / protect cases ---------------------------- */

enum bad_op {
    OP_MAP,
    OP_UNMAP,
    OP_PROTECT
};
enum bad_null {
    NN_NONE,
    NN_SPACE,
    NN_OPTS
};
enum bad_limit {
    LIM_NONE,
    LIM_AS,
    LIM_COUNT
};

struct bad_case {
    const char *desc;
    enum bad_op op;
    struct vmar_map_opts map; /* OP_MAP */
    vmar_addr_t addr;         /* OP_UNMAP, OP_PROTECT */
    vmar_size_t size;
    unsigned prot; /* OP_PROTECT */
    enum bad_null null;
    /* Limits set with vmar_set_limits() before the snapshot, relative to
     * the fixture: LIM_AS: as_limit = total_vm + slack (bytes);
     * LIM_COUNT: max_map_count = map_count + slack. */
    enum bad_limit limit;
    int64_t slack;
    int expect;
    /* expect == 0 only: the change in map_count and total_vm (bytes), or
     * `same` for successes that must change nothing at all. */
    int64_t dcount;
    int64_t dvm;
    bool same;
};

#define MAPC(d, e, ...)                                                        \
    {                                                                          \
        .desc = (d), .op = OP_MAP, .expect = (e), .map = { __VA_ARGS__ }       \
    }
#define UNMAPC(d, e, a, s)                                                     \
    {                                                                          \
        .desc = (d), .op = OP_UNMAP, .expect = (e), .addr = (a), .size = (s)   \
    }
#define PROTC(d, e, a, s, p)                                                   \
    {                                                                          \
        .desc = (d), .op = OP_PROTECT, .expect = (e), .addr = (a),             \
        .size = (s), .prot = (p)                                               \
    }

#define ANY       VMAR_PLACE_ANY
#define HINT      VMAR_PLACE_HINT
#define NOREPLACE VMAR_PLACE_FIXED_NOREPLACE
#define FIXED     VMAR_PLACE_FIXED
#define EINVAL_   VMAR_EINVAL

static void run_table(const struct bad_case *cases, size_t n);
#define RUN_TABLE(t) run_table((t), sizeof(t) / sizeof((t)[0]))

/* The tables that depend on HI are built when their test runs. */
static void test_map_table(void **state)
{
    const struct bad_case map_cases[] = {
        /* NULL pointers */
        {.desc = "map: NULL space",
         .op = OP_MAP,
         .null = NN_SPACE,
         .expect = VMAR_EINVAL,
         .map = {.size = PG, .prot = R}},
        {.desc = "map: NULL opts",
         .op = OP_MAP,
         .null = NN_OPTS,
         .expect = VMAR_EINVAL},
        /* size */
        MAPC("map: size zero (ANY)", EINVAL_, .size = 0, .prot = R),
        MAPC("map: size zero (FIXED)", EINVAL_, .size = 0, .addr = FREE0,
             .place = FIXED, .prot = R),
        MAPC("map: size one byte", EINVAL_, .size = 1, .prot = R),
        MAPC("map: size a page plus one byte", EINVAL_, .size = PG + 1,
             .prot = R),
        MAPC("map: size half a page (FIXED)", EINVAL_, .size = PG / 2,
             .addr = FREE0, .place = FIXED, .prot = R),
        MAPC("map: size the user range plus a page (ANY)", EINVAL_,
             .size = HI - LO + PG, .prot = R),
        MAPC("map: size 2^64 - page (ANY)", EINVAL_, .size = TOP_PAGE,
             .prot = R),
        MAPC("map: size 2^64 - page (HINT)", EINVAL_, .size = TOP_PAGE,
             .addr = FREE0, .place = HINT, .prot = R),
        /* addresses of FIXED and FIXED_NOREPLACE */
        MAPC("map: FIXED addr unaligned by a byte", EINVAL_, .size = PG,
             .addr = FREE0 + 1, .place = FIXED, .prot = R),
        MAPC("map: FIXED addr unaligned by half a page", EINVAL_, .size = PG,
             .addr = FREE0 + PG / 2, .place = FIXED, .prot = R),
        MAPC("map: NOREPLACE addr unaligned", EINVAL_, .size = PG,
             .addr = FREE0 + 8, .place = NOREPLACE, .prot = R),
        MAPC("map: FIXED at 0", EINVAL_, .size = PG, .addr = 0, .place = FIXED,
             .prot = R),
        MAPC("map: FIXED one page below user_lo", EINVAL_, .size = PG,
             .addr = LO - PG, .place = FIXED, .prot = R),
        MAPC("map: FIXED straddling user_lo", EINVAL_, .size = 2 * PG,
             .addr = LO - PG, .place = FIXED, .prot = R),
        MAPC("map: NOREPLACE straddling user_lo", EINVAL_, .size = 2 * PG,
             .addr = LO - PG, .place = NOREPLACE, .prot = R),
        MAPC("map: FIXED ending one page above user_hi", EINVAL_,
             .size = 2 * PG, .addr = HI - PG, .place = FIXED, .prot = R),
        MAPC("map: NOREPLACE ending above user_hi", EINVAL_, .size = 2 * PG,
             .addr = HI - PG, .place = NOREPLACE, .prot = R),
        MAPC("map: FIXED starting at user_hi", EINVAL_, .size = PG, .addr = HI,
             .place = FIXED, .prot = R),
        MAPC("map: NOREPLACE starting at user_hi", EINVAL_, .size = PG,
             .addr = HI, .place = NOREPLACE, .prot = R),
        MAPC("map: FIXED between user_hi and the backend's user_top", EINVAL_,
             .size = PG, .addr = HI + 16 * PG, .place = FIXED, .prot = R),
        MAPC("map: FIXED at the backend's user_top", EINVAL_, .size = PG,
             .addr = VT_USER_TOP, .place = FIXED, .prot = R),
        MAPC("map: FIXED at the last page of 2^64", EINVAL_, .size = PG,
             .addr = TOP_PAGE, .place = FIXED, .prot = R),
        MAPC("map: FIXED wrapping around 2^64", EINVAL_, .size = 2 * PG,
             .addr = TOP_PAGE, .place = FIXED, .prot = R),
        MAPC("map: NOREPLACE wrapping around 2^64", EINVAL_, .size = 4 * PG,
             .addr = TOP_PAGE - PG, .place = NOREPLACE, .prot = R),
        MAPC("map: FIXED from user_lo, one page more than the range", EINVAL_,
             .size = HI - LO + PG, .addr = LO, .place = FIXED, .prot = R),
        /* prot, deny_prot */
        MAPC("map: unknown prot bit 3", EINVAL_, .size = PG, .prot = 1u << 3),
        MAPC("map: unknown prot bit 31", EINVAL_, .size = PG,
             .prot = R | (1u << 31)),
        MAPC("map: prot all ones", EINVAL_, .size = PG, .prot = UINT_MAX),
        MAPC("map: unknown deny_prot bit", EINVAL_, .size = PG, .prot = R,
             .deny_prot = 1u << 4),
        MAPC("map: deny_prot all ones", EINVAL_, .size = PG, .prot = 0,
             .deny_prot = UINT_MAX),
        MAPC("map: prot beyond max (W denied)", VMAR_EACCES, .size = PG,
             .prot = RW, .deny_prot = W),
        MAPC("map: prot beyond max (X denied, FIXED)", VMAR_EACCES, .size = PG,
             .addr = FREE0, .place = FIXED, .prot = RX, .deny_prot = X),
        MAPC("map: prot beyond max (everything denied, NOREPLACE)", VMAR_EACCES,
             .size = PG, .addr = FREE0, .place = NOREPLACE, .prot = R,
             .deny_prot = RWX),
        /* flags */
        MAPC("map: unknown flag bit 6", EINVAL_, .size = PG, .prot = R,
             .flags = 1u << 6),
        MAPC("map: unknown flag bit 31", EINVAL_, .size = PG, .prot = R,
             .flags = POP | (1u << 31)),
        MAPC("map: BOTTOM_UP | TOP_DOWN", EINVAL_, .size = PG, .prot = R,
             .flags = VMAR_MAP_BOTTOM_UP | VMAR_MAP_TOP_DOWN),
        MAPC("map: BOTTOM_UP | TOP_DOWN with FIXED", EINVAL_, .size = PG,
             .addr = FREE0, .place = FIXED, .prot = R,
             .flags = VMAR_MAP_BOTTOM_UP | VMAR_MAP_TOP_DOWN),
        /* enums */
        MAPC("map: place 4", EINVAL_, .size = PG, .prot = R,
             .place = (enum vmar_place)4),
        MAPC("map: place 0xffffffff", EINVAL_, .size = PG, .prot = R,
             .place = (enum vmar_place)UINT_MAX),
        MAPC("map: backing 3", EINVAL_, .size = PG, .prot = R,
             .backing = (enum vmar_backing)3),
        MAPC("map: backing 0xffffffff", EINVAL_, .size = PG, .prot = R,
             .backing = (enum vmar_backing)UINT_MAX),
        /* align */
        MAPC("map: align 1", EINVAL_, .size = PG, .prot = R, .align = 1),
        MAPC("map: align 3", EINVAL_, .size = PG, .prot = R, .align = 3),
        MAPC("map: align half a page (power of two < page)", EINVAL_,
             .size = PG, .prot = R, .align = PG / 2),
        MAPC("map: align three pages", EINVAL_, .size = 3 * PG, .prot = R,
             .align = 3 * PG),
        MAPC("map: align page + 1", EINVAL_, .size = PG, .prot = R,
             .align = PG + 1),
        MAPC("map: size not a multiple of align 2 MiB", EINVAL_, .size = PG,
             .prot = R, .align = (vmar_size_t)2 << 20),
        MAPC("map: size 17 pages with align 16 pages", EINVAL_, .size = 17 * PG,
             .prot = R, .align = 16 * PG),
        MAPC("map: HINT addr not a multiple of align", EINVAL_, .size = 16 * PG,
             .addr = FREE0 + PG, .place = HINT, .prot = R, .align = 16 * PG),
        MAPC("map: HINT addr unaligned to the page", EINVAL_, .size = PG,
             .addr = FREE0 + 12, .place = HINT, .prot = R),
        MAPC("map: FIXED addr not a multiple of align 2 MiB", EINVAL_,
             .size = (vmar_size_t)2 << 20, .addr = (vmar_addr_t)0x1500000,
             .place = FIXED, .prot = R, .align = (vmar_size_t)2 << 20),
        MAPC("map: NOREPLACE addr not a multiple of align", EINVAL_,
             .size = 16 * PG, .addr = FREE0 + 8 * PG, .place = NOREPLACE,
             .prot = R, .align = 16 * PG),
        /* FIXED_NOREPLACE over existing mappings */
        MAPC("map: NOREPLACE exactly over A", VMAR_EEXIST, .size = A1 - A0,
             .addr = A0, .place = NOREPLACE, .prot = RW),
        MAPC("map: NOREPLACE overlapping A's first page", VMAR_EEXIST,
             .size = 2 * PG, .addr = A0 - PG, .place = NOREPLACE, .prot = RW),
        MAPC("map: NOREPLACE overlapping C's last page", VMAR_EEXIST,
             .size = 2 * PG, .addr = C1 - PG, .place = NOREPLACE, .prot = RW),
        MAPC("map: NOREPLACE strictly inside C", VMAR_EEXIST, .size = PG,
             .addr = C0 + 4 * PG, .place = NOREPLACE, .prot = RW),
        MAPC("map: NOREPLACE covering B and more", VMAR_EEXIST, .size = 0x10000,
             .addr = (vmar_addr_t)0x204000, .place = NOREPLACE, .prot = RW),
        MAPC("map: NOREPLACE over the last page below user_hi", VMAR_EEXIST,
             .size = PG, .addr = HI - PG, .place = NOREPLACE, .prot = RW),
        MAPC("map: NOREPLACE over D (PROT_NONE) with POPULATE", VMAR_EEXIST,
             .size = D1 - D0, .addr = D0, .place = NOREPLACE, .prot = RW,
             .flags = POP),
        /* backings */
        MAPC("map: object backing without object (ANY)", VMAR_EINVAL,
             .size = PG, .prot = R, .backing = VMAR_BACKING_OBJECT),
        MAPC("map: object backing without object (FIXED over A)", VMAR_EINVAL,
             .size = PG, .addr = A0, .place = FIXED, .prot = R,
             .backing = VMAR_BACKING_OBJECT),
        MAPC("map: device paddr unaligned", VMAR_EINVAL, .size = PG,
             .addr = FREE0, .place = NOREPLACE, .prot = RW,
             .backing = VMAR_BACKING_DEVICE, .paddr = 0x100000800,
             .cache = VMAR_CACHE_UC),
        MAPC("map: device paddr range wraps", VMAR_EINVAL, .size = 2 * PG,
             .addr = FREE0, .place = NOREPLACE, .prot = RW,
             .backing = VMAR_BACKING_DEVICE, .paddr = UINT64_MAX - PG + 1),
        MAPC("map: device paddr at 2^56 (above every pa_top)", VMAR_EINVAL,
             .size = PG, .addr = FREE0, .place = NOREPLACE, .prot = RW,
             .backing = VMAR_BACKING_DEVICE, .paddr = (vmar_paddr_t)1 << 56),
        MAPC("map: device range past 2^56", VMAR_EINVAL, .size = 2 * PG,
             .addr = A0, .place = FIXED, .prot = RW,
             .backing = VMAR_BACKING_DEVICE,
             .paddr = ((vmar_paddr_t)1 << 56) - PG),
        MAPC("map: device unknown cache policy", VMAR_EINVAL, .size = PG,
             .addr = FREE0, .place = NOREPLACE, .prot = RW,
             .backing = VMAR_BACKING_DEVICE, .paddr = 0x100000000,
             .cache = (enum vmar_cache)4),
        MAPC("map: device with an object offset", VMAR_EINVAL, .size = PG,
             .addr = FREE0, .place = NOREPLACE, .prot = RW,
             .backing = VMAR_BACKING_DEVICE, .paddr = 0x100000000,
             .offset = PG),
        MAPC("map: anonymous with a paddr", VMAR_EINVAL, .size = PG,
             .addr = FREE0, .place = NOREPLACE, .prot = RW,
             .paddr = 0x100000000),
        MAPC("map: anonymous with a cache policy", VMAR_EINVAL, .size = PG,
             .addr = FREE0, .place = NOREPLACE, .prot = RW,
             .cache = VMAR_CACHE_UC),
        /* no room */
        MAPC("map: ANY of the whole user range in a non-empty space",
             VMAR_ENOMEM, .size = HI - LO, .prot = R),
        MAPC("map: HINT of the whole user range in a non-empty space",
             VMAR_ENOMEM, .size = HI - LO, .addr = LO, .place = HINT,
             .prot = R),
        MAPC("map: ANY aligned to HI / 2 (256 GiB) finds no aligned room",
             VMAR_ENOMEM, .size = HI / 2, .prot = R, .align = HI / 2),
        MAPC("map: POPULATE of more pages than the machine has frames",
             VMAR_ENOMEM, .size = 2 * NFRAMES * PG, .prot = RW, .flags = POP),
        MAPC("map: FIXED+POPULATE over A of more pages than there are frames",
             VMAR_ENOMEM, .size = 2 * NFRAMES * PG, .addr = A0, .place = FIXED,
             .prot = RW, .flags = POP),
    };

    (void)state;
    RUN_TABLE(map_cases);
}

static const struct bad_case limit_cases[] = {
    /* as_limit */
    {.desc = "as_limit: ANY adding 3 pages with 2 pages left",
     .op = OP_MAP,
     .limit = LIM_AS,
     .slack = 2 * PG,
     .expect = VMAR_ENOMEM,
     .map = {.size = 3 * PG, .prot = R}},
    {.desc = "as_limit: ANY adding exactly the 2 pages left",
     .op = OP_MAP,
     .limit = LIM_AS,
     .slack = 2 * PG,
     .expect = 0,
     .dcount = 1,
     .dvm = 2 * PG,
     .map = {.size = 2 * PG, .prot = R}},
    {.desc = "as_limit: NOREPLACE of a page with none left",
     .op = OP_MAP,
     .limit = LIM_AS,
     .slack = 0,
     .expect = VMAR_ENOMEM,
     .map = {.size = PG, .addr = FREE0, .place = NOREPLACE, .prot = R}},
    {.desc = "as_limit: FIXED over 4 mapped pages with none left (adds 0)",
     .op = OP_MAP,
     .limit = LIM_AS,
     .slack = 0,
     .expect = 0,
     .dcount = 1,
     .dvm = 0,
     .map = {.size = 4 * PG, .addr = A1 - 2 * PG, .place = FIXED, .prot = RX}},
    {.desc = "as_limit: FIXED 4 pages over 2 mapped, 2 left (adds 2, fits)",
     .op = OP_MAP,
     .limit = LIM_AS,
     .slack = 2 * PG,
     .expect = 0,
     .dcount = 0,
     .dvm = 2 * PG,
     .map = {.size = 4 * PG, .addr = C1 - 2 * PG, .place = FIXED, .prot = RX}},
    {.desc = "as_limit: FIXED 4 pages over 2 mapped, 1 left (adds 2)",
     .op = OP_MAP,
     .limit = LIM_AS,
     .slack = PG,
     .expect = VMAR_ENOMEM,
     .map = {.size = 4 * PG, .addr = C1 - 2 * PG, .place = FIXED, .prot = RX}},
    {.desc = "as_limit: FIXED 4 pages over 1 mapped, 2 left (adds 3)",
     .op = OP_MAP,
     .limit = LIM_AS,
     .slack = 2 * PG,
     .expect = VMAR_ENOMEM,
     .map = {.size = 4 * PG, .addr = C1 - PG, .place = FIXED, .prot = RX}},
    {.desc = "as_limit below total_vm: ANY of a page",
     .op = OP_MAP,
     .limit = LIM_AS,
     .slack = -(int64_t)PG,
     .expect = VMAR_ENOMEM,
     .map = {.size = PG, .prot = R}},
    /* vmar_set_limits(): "Existing mappings are kept even if they exceed
     * the new limits; only later growth is refused", and vmar_map(): "an
     * overwrite is charged only the bytes it adds". */
    {.desc = "as_limit below total_vm: FIXED exactly over D adds no bytes",
     .op = OP_MAP,
     .limit = LIM_AS,
     .slack = -(int64_t)PG,
     .expect = 0,
     .dcount = 0,
     .dvm = 0,
     .map = {.size = D1 - D0, .addr = D0, .place = FIXED, .prot = RW}},
    {.desc = "as_limit below total_vm: FIXED adding a page is growth",
     .op = OP_MAP,
     .limit = LIM_AS,
     .slack = -(int64_t)PG,
     .expect = VMAR_ENOMEM,
     .map = {.size = D1 - D0 + PG, .addr = D0, .place = FIXED, .prot = RW}},
    {.desc = "as_limit below total_vm: unmap still works",
     .op = OP_UNMAP,
     .limit = LIM_AS,
     .slack = -(int64_t)PG,
     .expect = 0,
     .dcount = -1,
     .dvm = -(int64_t)(D1 - D0),
     .addr = D0,
     .size = D1 - D0},
    {.desc = "as_limit below total_vm: protect still works",
     .op = OP_PROTECT,
     .limit = LIM_AS,
     .slack = -(int64_t)PG,
     .expect = 0,
     .dcount = 0,
     .dvm = 0,
     .addr = D0,
     .size = D1 - D0,
     .prot = RW},
    /* max_map_count: map */
    {.desc = "count: ANY at the limit",
     .op = OP_MAP,
     .limit = LIM_COUNT,
     .slack = 0,
     .expect = VMAR_ENOMEM,
     .map = {.size = PG, .prot = R}},
    {.desc = "count: ANY one below the limit",
     .op = OP_MAP,
     .limit = LIM_COUNT,
     .slack = 1,
     .expect = 0,
     .dcount = 1,
     .dvm = PG,
     .map = {.size = PG, .prot = R}},
    {.desc = "count: NOREPLACE that would merge with A, at the limit "
             "(counted before merging)",
     .op = OP_MAP,
     .limit = LIM_COUNT,
     .slack = 0,
     .expect = VMAR_ENOMEM,
     .map = {.size = PG, .addr = A0 - PG, .place = NOREPLACE, .prot = RW}},
    {.desc = "count: NOREPLACE that merges with A, one below the limit",
     .op = OP_MAP,
     .limit = LIM_COUNT,
     .slack = 1,
     .expect = 0,
     .dcount = 0,
     .dvm = PG,
     .map = {.size = PG, .addr = A0 - PG, .place = NOREPLACE, .prot = RW}},
    {.desc = "count: FIXED exactly over D at the limit",
     .op = OP_MAP,
     .limit = LIM_COUNT,
     .slack = 0,
     .expect = 0,
     .dcount = 0,
     .dvm = 0,
     .map = {.size = D1 - D0, .addr = D0, .place = FIXED, .prot = RW}},
    {.desc = "count: FIXED over A and B whole at the limit",
     .op = OP_MAP,
     .limit = LIM_COUNT,
     .slack = 0,
     .expect = 0,
     .dcount = -1,
     .dvm = 0,
     .map = {.size = B1 - A0, .addr = A0, .place = FIXED, .prot = R}},
    {.desc = "count: FIXED trimming A and B at the limit",
     .op = OP_MAP,
     .limit = LIM_COUNT,
     .slack = 0,
     .expect = VMAR_ENOMEM,
     .map = {.size = 2 * PG, .addr = A1 - PG, .place = FIXED, .prot = RWX}},
    {.desc = "count: FIXED in the middle of C, one below the limit",
     .op = OP_MAP,
     .limit = LIM_COUNT,
     .slack = 1,
     .expect = VMAR_ENOMEM,
     .map = {.size = PG, .addr = C0 + 4 * PG, .place = FIXED, .prot = R}},
    {.desc = "count: FIXED in the middle of C, two below the limit",
     .op = OP_MAP,
     .limit = LIM_COUNT,
     .slack = 2,
     .expect = 0,
     .dcount = 2,
     .dvm = 0,
     .map = {.size = PG, .addr = C0 + 4 * PG, .place = FIXED, .prot = R}},
    {.desc = "count above the limit: FIXED exactly over D adds no mapping",
     .op = OP_MAP,
     .limit = LIM_COUNT,
     .slack = -1,
     .expect = 0,
     .dcount = 0,
     .dvm = 0,
     .map = {.size = D1 - D0, .addr = D0, .place = FIXED, .prot = RW}},
    {.desc = "count above the limit: ANY is growth",
     .op = OP_MAP,
     .limit = LIM_COUNT,
     .slack = -1,
     .expect = VMAR_ENOMEM,
     .map = {.size = PG, .prot = R}},
    {.desc = "count above the limit: unmap of D still works",
     .op = OP_UNMAP,
     .limit = LIM_COUNT,
     .slack = -1,
     .expect = 0,
     .dcount = -1,
     .dvm = -(int64_t)(D1 - D0),
     .addr = D0,
     .size = D1 - D0},
    /* max_map_count: unmap */
    {.desc = "count: unmap punching a hole in C at the limit",
     .op = OP_UNMAP,
     .limit = LIM_COUNT,
     .slack = 0,
     .expect = VMAR_ENOMEM,
     .addr = C0 + 4 * PG,
     .size = 4 * PG},
    {.desc = "count: unmap punching a hole in C one below the limit",
     .op = OP_UNMAP,
     .limit = LIM_COUNT,
     .slack = 1,
     .expect = 0,
     .dcount = 1,
     .dvm = -(int64_t)(4 * PG),
     .addr = C0 + 4 * PG,
     .size = 4 * PG},
    {.desc = "count: unmap trimming C's head at the limit",
     .op = OP_UNMAP,
     .limit = LIM_COUNT,
     .slack = 0,
     .expect = 0,
     .dcount = 0,
     .dvm = -(int64_t)(4 * PG),
     .addr = C0,
     .size = 4 * PG},
    {.desc = "count: unmap across A and B ends at the limit",
     .op = OP_UNMAP,
     .limit = LIM_COUNT,
     .slack = 0,
     .expect = 0,
     .dcount = 0,
     .dvm = -(int64_t)(2 * PG),
     .addr = A1 - PG,
     .size = 2 * PG},
    /* max_map_count: protect */
    {.desc = "count: protect splitting C's head at the limit",
     .op = OP_PROTECT,
     .limit = LIM_COUNT,
     .slack = 0,
     .expect = VMAR_ENOMEM,
     .addr = C0,
     .size = PG,
     .prot = R},
    {.desc = "count: protect splitting C's head one below the limit",
     .op = OP_PROTECT,
     .limit = LIM_COUNT,
     .slack = 1,
     .expect = 0,
     .dcount = 1,
     .dvm = 0,
     .addr = C0,
     .size = PG,
     .prot = R},
    {.desc = "count: protect the middle of C one below the limit "
             "(needs two splits)",
     .op = OP_PROTECT,
     .limit = LIM_COUNT,
     .slack = 1,
     .expect = VMAR_ENOMEM,
     .addr = C0 + 4 * PG,
     .size = PG,
     .prot = R},
    {.desc = "count: protect the middle of C two below the limit",
     .op = OP_PROTECT,
     .limit = LIM_COUNT,
     .slack = 2,
     .expect = 0,
     .dcount = 2,
     .dvm = 0,
     .addr = C0 + 4 * PG,
     .size = PG,
     .prot = R},
    {.desc = "count: protect the middle of C to its own prot at the limit",
     .op = OP_PROTECT,
     .limit = LIM_COUNT,
     .slack = 0,
     .expect = 0,
     .same = true,
     .addr = C0 + 4 * PG,
     .size = PG,
     .prot = RX},
    {.desc = "count: protect A's last page at the limit",
     .op = OP_PROTECT,
     .limit = LIM_COUNT,
     .slack = 0,
     .expect = VMAR_ENOMEM,
     .addr = A1 - PG,
     .size = PG,
     .prot = R},
};

static void test_unmap_table(void **state)
{
    const struct bad_case unmap_cases[] = {
        {.desc = "unmap: NULL space",
         .op = OP_UNMAP,
         .null = NN_SPACE,
         .expect = VMAR_EINVAL,
         .addr = A0,
         .size = PG},
        UNMAPC("unmap: size zero", EINVAL_, A0, 0),
        UNMAPC("unmap: size zero at user_hi", EINVAL_, HI, 0),
        UNMAPC("unmap: addr unaligned", EINVAL_, A0 + 1, PG),
        UNMAPC("unmap: addr unaligned by half a page", EINVAL_, A0 + PG / 2,
               PG),
        UNMAPC("unmap: size unaligned", EINVAL_, A0, PG + 1),
        UNMAPC("unmap: size half a page", EINVAL_, A0, PG / 2),
        UNMAPC("unmap: at 0", EINVAL_, 0, PG),
        UNMAPC("unmap: one page below user_lo", EINVAL_, LO - PG, PG),
        UNMAPC("unmap: straddling user_lo", EINVAL_, LO - PG, 2 * PG),
        UNMAPC("unmap: ending one page above user_hi", EINVAL_, HI - PG,
               2 * PG),
        UNMAPC("unmap: T and one page above user_hi", EINVAL_, T0,
               T1 - T0 + PG),
        UNMAPC("unmap: starting at user_hi", EINVAL_, HI, PG),
        UNMAPC("unmap: at the backend's user_top", EINVAL_, VT_USER_TOP, PG),
        UNMAPC("unmap: wrapping around 2^64", EINVAL_, TOP_PAGE, 2 * PG),
        UNMAPC("unmap: from A with a size that wraps", EINVAL_, A0,
               TOP_PAGE - A0 + 2 * PG),
        UNMAPC("unmap: from A with size 2^64 - page", EINVAL_, A0, TOP_PAGE),
        UNMAPC("unmap: the whole user range plus a page", EINVAL_, LO,
               HI - LO + PG),
        /* success that changes nothing */
        {.desc = "unmap: a hole (no-op)",
         .op = OP_UNMAP,
         .expect = 0,
         .same = true,
         .addr = FREE0,
         .size = 16 * PG},
    };

    (void)state;
    RUN_TABLE(unmap_cases);
}

static void test_protect_table(void **state)
{
    const struct bad_case protect_cases[] = {
        {.desc = "protect: NULL space",
         .op = OP_PROTECT,
         .null = NN_SPACE,
         .expect = VMAR_EINVAL,
         .addr = A0,
         .size = PG,
         .prot = R},
        PROTC("protect: size zero", EINVAL_, A0, 0, R),
        PROTC("protect: addr unaligned", EINVAL_, A0 + 1, PG, R),
        PROTC("protect: size unaligned", EINVAL_, A0, PG + 1, R),
        PROTC("protect: at 0", EINVAL_, 0, PG, R),
        PROTC("protect: straddling user_lo", EINVAL_, LO - PG, 2 * PG, R),
        PROTC("protect: T and one page above user_hi", EINVAL_, T0,
              T1 - T0 + PG, R),
        PROTC("protect: starting at user_hi", EINVAL_, HI, PG, R),
        PROTC("protect: wrapping around 2^64", EINVAL_, TOP_PAGE, 2 * PG, R),
        PROTC("protect: from A with a size that wraps", EINVAL_, A0,
              TOP_PAGE - A0 + 2 * PG, R),
        PROTC("protect: unknown prot bit 3", EINVAL_, A0, PG, 1u << 3),
        PROTC("protect: unknown prot bit 31", EINVAL_, A0, PG, R | (1u << 31)),
        PROTC("protect: prot all ones", EINVAL_, A0, PG, UINT_MAX),
        PROTC("protect: unknown prot bit over a hole", EINVAL_, FREE0, PG,
              1u << 3),
        /* holes */
        PROTC("protect: entirely in a hole", VMAR_ENOMEM, FREE0, 4 * PG, R),
        PROTC("protect: a hole then A", VMAR_ENOMEM, A0 - PG, 2 * PG, R),
        PROTC("protect: C then the hole after it", VMAR_ENOMEM, C1 - PG, 2 * PG,
              R),
        PROTC("protect: C, a hole, D", VMAR_ENOMEM, C0, D1 - C0,
              VMAR_PROT_NONE),
        PROTC("protect: A, B, C and the hole after C", VMAR_ENOMEM, A0,
              C1 - A0 + PG, R),
        /* beyond max */
        PROTC("protect: B (max r--) to rw-", VMAR_EACCES, B0, B1 - B0, RW),
        PROTC("protect: B (max r--) to r-x", VMAR_EACCES, B0, PG, RX),
        PROTC("protect: D (max rw-) to --x", VMAR_EACCES, D0, D1 - D0, X),
        PROTC("protect: A's tail and B's head to rw- (B denies W)", VMAR_EACCES,
              A1 - PG, 2 * PG, RW),
        PROTC("protect: A, B and C to r-x (B denies X)", VMAR_EACCES, A0,
              C1 - A0, RX),
        /* success that changes nothing */
        {.desc = "protect: B to its own r--",
         .op = OP_PROTECT,
         .expect = 0,
         .same = true,
         .addr = B0,
         .size = B1 - B0,
         .prot = R},
    };

    (void)state;
    RUN_TABLE(protect_cases);
}

static int apply_limit(struct vt *vt, const struct bad_case *c)
{
    struct vmar_stats st;

    vmar_stats(vt->space, &st);
    switch (c->limit) {
    case LIM_NONE:
        return 0;
    case LIM_AS:
        vmar_set_limits(vt->space,
                        (vmar_size_t)((int64_t)st.total_vm + c->slack), 0);
        return 0;
    case LIM_COUNT:
        vmar_set_limits(vt->space, 0,
                        (size_t)((int64_t)st.map_count + c->slack));
        return 0;
    }
    return -1;
}

/* Run one case against a fresh fixture. Returns 1 (after printing why) on
 * a wrong code or a wrong success; hard-asserts the unchanged space. */
static int run_case(const struct bad_case *c)
{
    struct vt vt;
    struct vt_snap snap;
    struct vmar_stats st0, st1;
    struct vmar_space *sp;
    vmar_addr_t got = 0;
    int rc = 0, bad = 0;

    fixture(&vt);
    assert_int_equal(apply_limit(&vt, c), 0);
    vmar_stats(vt.space, &st0);
    vt_snap_take(&vt, &snap);
    sp = c->null == NN_SPACE ? NULL : vt.space;
    switch (c->op) {
    case OP_MAP:
        rc = vmar_map(sp, c->null == NN_OPTS ? NULL : &c->map, &got);
        break;
    case OP_UNMAP:
        rc = vmar_unmap(sp, c->addr, c->size);
        break;
    case OP_PROTECT:
        rc = vmar_protect(sp, c->addr, c->size, c->prot);
        break;
    }
    if (rc != c->expect) {
        fprintf(stderr, "FAILED [%s]: returned %s, expected %s\n", c->desc,
                vmar_errname(rc), vmar_errname(c->expect));
        vt_snap_free(&snap);
        VT_CHECK(&vt);
        bad = 1;
    } else if (c->expect != 0 || c->same) {
        /* Failures, and successes documented to change nothing. */
        VT_EXPECT_UNCHANGED(&vt, &snap);
    } else {
        vt_snap_free(&snap);
        VT_CHECK(&vt);
        vmar_stats(vt.space, &st1);
        if ((int64_t)st1.map_count - (int64_t)st0.map_count != c->dcount ||
            (int64_t)st1.total_vm - (int64_t)st0.total_vm != c->dvm) {
            fprintf(stderr,
                    "FAILED [%s]: map_count %zu -> %zu (want %+" PRId64
                    "), total_vm %#" PRIx64 " -> %#" PRIx64 " (want %+" PRId64
                    ")\n",
                    c->desc, st0.map_count, st1.map_count, c->dcount,
                    st0.total_vm, st1.total_vm, c->dvm);
            bad = 1;
        }
        if (c->op == OP_MAP) {
            struct vmar_mapping_info info;
            vmar_size_t align = c->map.align ? c->map.align : PG;
            if ((c->map.place == FIXED || c->map.place == NOREPLACE) &&
                got != c->map.addr) {
                fprintf(stderr, "FAILED [%s]: mapped at %#" PRIx64 "\n",
                        c->desc, got);
                bad = 1;
            }
            if (got % align != 0 || got < LO || got > HI - c->map.size ||
                vmar_query(vt.space, got, &info) != 0 ||
                info.prot != c->map.prot) {
                fprintf(stderr, "FAILED [%s]: bad placement %#" PRIx64 "\n",
                        c->desc, got);
                bad = 1;
            }
        }
    }
    vt_teardown(&vt);
    return bad;
}

static const struct bad_case *guarded_case;

/* run_case() with the abort guard armed around it. */
static int run_case_guarded(void)
{
    int bad;

    if (sigsetjmp(row_jmp, 1) != 0) {
        fprintf(stderr, "FAILED [%s]: the library panicked (see above)\n",
                guarded_case->desc);
        return 1;
    }
    row_armed = 1;
    bad = run_case(guarded_case);
    row_armed = 0;
    return bad;
}

static void run_table(const struct bad_case *cases, size_t n)
{
    size_t failed = 0;

    for (size_t i = 0; i < n; i++) {
        guarded_case = &cases[i];
        failed += (size_t)run_case_guarded();
    }
    if (failed)
        fail_msg("%zu of %zu cases failed (listed above)", failed, n);
}

static void test_limit_table(void **state)
{
    (void)state;
    RUN_TABLE(limit_cases);
}

/* ---- vmar_query ---------------------------------------------------------- */

struct query_case {
    const char *desc;
    enum bad_null null; /* NN_OPTS here means a NULL info */
    vmar_addr_t addr;
    int expect;
    /* expect == 0: the mapping reported, and vmar_resident() over it */
    vmar_addr_t start, end;
    unsigned prot, max_prot, flags;
    vmar_size_t resident;
};

static void test_query_table(void **state)
{
    const struct query_case query_cases[] = {
        {"query: NULL space", NN_SPACE, A0, VMAR_EINVAL, 0, 0, 0, 0, 0, 0},
        {"query: NULL info", NN_OPTS, A0, VMAR_EINVAL, 0, 0, 0, 0, 0, 0},
        {"query: NULL info over a hole", NN_OPTS, FREE0, VMAR_EINVAL, 0, 0, 0,
         0, 0, 0},
        {"query: 0", NN_NONE, 0, VMAR_ENOENT, 0, 0, 0, 0, 0, 0},
        {"query: below user_lo", NN_NONE, LO - 1, VMAR_ENOENT, 0, 0, 0, 0, 0,
         0},
        {"query: the byte below A", NN_NONE, A0 - 1, VMAR_ENOENT, 0, 0, 0, 0, 0,
         0},
        {"query: C's end (exclusive)", NN_NONE, C1, VMAR_ENOENT, 0, 0, 0, 0, 0,
         0},
        {"query: a hole", NN_NONE, FREE0, VMAR_ENOENT, 0, 0, 0, 0, 0, 0},
        {"query: user_hi", NN_NONE, HI, VMAR_ENOENT, 0, 0, 0, 0, 0, 0},
        {"query: 2^64 - 1", NN_NONE, UINT64_MAX, VMAR_ENOENT, 0, 0, 0, 0, 0, 0},
        {"query: A's first byte", NN_NONE, A0, 0, A0, A1, RW, RWX, 0, A1 - A0},
        {"query: A's last byte (unaligned addr)", NN_NONE, A1 - 1, 0, A0, A1,
         RW, RWX, 0, A1 - A0},
        {"query: B (not populated, max r--)", NN_NONE, B0 + PG, 0, B0, B1, R, R,
         0, 0},
        {"query: D (PROT_NONE, max rw-)", NN_NONE, D0, 0, D0, D1,
         VMAR_PROT_NONE, RW, 0, 0},
        {"query: S (shared, populated)", NN_NONE, S1 - PG, 0, S0, S1, RW, RWX,
         VMAR_MAP_SHARED, S1 - S0},
        {"query: the last byte below user_hi", NN_NONE, HI - 1, 0, T0, T1, RW,
         RWX, 0, T1 - T0},
    };

    size_t n = sizeof(query_cases) / sizeof(query_cases[0]), failed = 0;

    (void)state;
    for (size_t i = 0; i < n; i++) {
        const struct query_case *c = &query_cases[i];
        struct vmar_mapping_info info;
        struct vt vt;
        struct vt_snap snap;
        int rc;

        struct vmar_sim_stats s0, s1;

        fixture(&vt);
        vt_snap_take(&vt, &snap);
        memset(&info, 0xa5, sizeof(info)); /* garbage, as a caller has */
        vmar_sim_stats(vt.sim, &s0);
        rc = vmar_query(c->null == NN_SPACE ? NULL : vt.space, c->addr,
                        c->null == NN_OPTS ? NULL : &info);
        vmar_sim_stats(vt.sim, &s1);
        /* "O(log n), allocates nothing" */
        assert_int_equal(s1.alloc_calls, s0.alloc_calls);
        assert_int_equal(s1.frame_alloc_calls, s0.frame_alloc_calls);
        VT_EXPECT_UNCHANGED(&vt, &snap);
        if (rc != c->expect) {
            fprintf(stderr, "FAILED [%s]: returned %s, expected %s\n", c->desc,
                    vmar_errname(rc), vmar_errname(c->expect));
            failed++;
        } else if (rc == 0) {
            vmar_size_t res = ~(vmar_size_t)0;
            int rrc = vmar_resident(vt.space, info.start, info.end, &res);
            if (info.start != c->start || info.end != c->end ||
                info.prot != c->prot || info.max_prot != c->max_prot ||
                info.flags != c->flags || info.backing != VMAR_BACKING_ANON ||
                info.offset != 0 || rrc != 0 || res != c->resident) {
                fprintf(stderr,
                        "FAILED [%s]: got [%#" PRIx64 ", %#" PRIx64
                        ") prot %#x max %#x flags %#x backing %d offset "
                        "%#" PRIx64 " resident %#" PRIx64
                        " (rc %d); want [%#" PRIx64 ", %#" PRIx64
                        ") prot %#x max %#x flags %#x "
                        "anon 0 resident %#" PRIx64 "\n",
                        c->desc, info.start, info.end, info.prot, info.max_prot,
                        info.flags, (int)info.backing, info.offset, res, rrc,
                        c->start, c->end, c->prot, c->max_prot, c->flags,
                        c->resident);
                failed++;
            }
        }
        vt_teardown(&vt);
    }
    if (failed)
        fail_msg("%zu of %zu query cases failed (listed above)", failed, n);
}

/* ---- vmar_resident ----------------------------------------------------- */

struct resident_case {
    const char *desc;
    enum bad_null null; /* NN_OPTS here means a NULL bytes pointer */
    vmar_addr_t lo, hi;
    int expect;
    vmar_size_t bytes; /* expect == 0 */
};

static void test_resident_table(void **state)
{
    const struct resident_case resident_cases[] = {
        {"resident: NULL space", NN_SPACE, A0, A1, VMAR_EINVAL, 0},
        {"resident: NULL bytes", NN_OPTS, A0, A1, VMAR_EINVAL, 0},
        {"resident: lo > hi", NN_NONE, A1, A0, VMAR_EINVAL, 0},
        {"resident: lo unaligned", NN_NONE, A0 + 1, A1, VMAR_EINVAL, 0},
        {"resident: hi unaligned", NN_NONE, A0, A1 - 1, VMAR_EINVAL, 0},
        {"resident: lo = 2^64 - 1 > hi", NN_NONE, UINT64_MAX, A0, VMAR_EINVAL,
         0},
        {"resident: empty range inside A", NN_NONE, A0 + PG, A0 + PG, 0, 0},
        {"resident: A", NN_NONE, A0, A1, 0, A1 - A0},
        {"resident: one page of A", NN_NONE, A0 + 2 * PG, A0 + 3 * PG, 0, PG},
        {"resident: B (not populated)", NN_NONE, B0, B1, 0, 0},
        {"resident: A to C", NN_NONE, A0, C1, 0, (A1 - A0) + (C1 - C0)},
        {"resident: a hole", NN_NONE, FREE0, FREE0 + 16 * PG, 0, 0},
        {"resident: T up to user_hi", NN_NONE, T0, HI, 0, T1 - T0},
        {"resident: everything up to 2^64 - page", NN_NONE, 0, TOP_PAGE, 0,
         FX_RESIDENT_PAGES * PG},
    };

    size_t n = sizeof(resident_cases) / sizeof(resident_cases[0]), failed = 0;

    (void)state;
    for (size_t i = 0; i < n; i++) {
        const struct resident_case *c = &resident_cases[i];
        struct vt vt;
        struct vt_snap snap;
        struct vmar_sim_stats s0, s1;
        vmar_size_t bytes = 0x5a5a5a5a;
        int rc;

        fixture(&vt);
        vt_snap_take(&vt, &snap);
        vmar_sim_stats(vt.sim, &s0);
        rc = vmar_resident(c->null == NN_SPACE ? NULL : vt.space, c->lo, c->hi,
                           c->null == NN_OPTS ? NULL : &bytes);
        vmar_sim_stats(vt.sim, &s1);
        assert_int_equal(s1.alloc_calls, s0.alloc_calls);
        assert_int_equal(s1.frame_alloc_calls, s0.frame_alloc_calls);
        VT_EXPECT_UNCHANGED(&vt, &snap);
        if (rc != c->expect || (rc == 0 && bytes != c->bytes)) {
            fprintf(stderr,
                    "FAILED [%s]: returned %s, %#" PRIx64
                    " bytes; expected %s, %#" PRIx64 "\n",
                    c->desc, vmar_errname(rc), bytes, vmar_errname(c->expect),
                    c->bytes);
            failed++;
        }
        vt_teardown(&vt);
    }
    if (failed)
        fail_msg("%zu of %zu resident cases failed (listed above)", failed, n);
}

/* ---- vmar_iterate ----------------------------------------------------------
 */

struct visit_log {
    size_t calls;
    vmar_addr_t starts[16];
    int stop_after; /* return this many calls in: non-zero value 7 */
};

static int visit(void *arg, const struct vmar_mapping_info *info)
{
    struct visit_log *v = arg;

    if (v->calls < 16)
        v->starts[v->calls] = info->start;
    v->calls++;
    return v->stop_after && (int)v->calls == v->stop_after ? 7 : 0;
}

struct iter_case {
    const char *desc;
    enum bad_null null; /* NN_OPTS here means a NULL callback */
    vmar_addr_t lo, hi;
    int stop_after;
    int expect;
    size_t calls;
    vmar_addr_t first; /* start of the first mapping visited */
};

static void test_iterate_table(void **state)
{
    const struct iter_case iter_cases[] = {
        {"iterate: NULL space", NN_SPACE, 0, UINT64_MAX, 0, VMAR_EINVAL, 0, 0},
        {"iterate: NULL callback", NN_OPTS, 0, UINT64_MAX, 0, VMAR_EINVAL, 0,
         0},
        {"iterate: lo > hi", NN_NONE, HI, LO, 0, VMAR_EINVAL, 0, 0},
        {"iterate: lo = hi + 1 inside A", NN_NONE, A0 + PG + 1, A0 + PG, 0,
         VMAR_EINVAL, 0, 0},
        {"iterate: lo = 2^64 - 1 > hi = 0", NN_NONE, UINT64_MAX, 0, 0,
         VMAR_EINVAL, 0, 0},
        {"iterate: everything", NN_NONE, 0, UINT64_MAX, 0, 0, FX_MAPS, A0},
        {"iterate: the user range", NN_NONE, LO, HI, 0, 0, FX_MAPS, A0},
        {"iterate: a hole", NN_NONE, FREE0, FREE0 + 16 * PG, 0, 0, 0, 0},
        {"iterate: [A's last byte, B's first byte]", NN_NONE, A1 - 1, B0 + 1, 0,
         0, 2, A0},
        {"iterate: [C's end, D's start) touches neither", NN_NONE, C1, D0, 0, 0,
         0, 0},
        {"iterate: stops early with the callback's value", NN_NONE, 0,
         UINT64_MAX, 2, 7, 2, A0},
        {"iterate: empty range at A's start visits nothing", NN_NONE, A0, A0, 0,
         0, 0, 0},
        {"iterate: empty range inside A visits nothing", NN_NONE, A0 + PG,
         A0 + PG, 0, 0, 0, 0},
        {"iterate: empty range inside T visits nothing", NN_NONE, HI - 1,
         HI - 1, 0, 0, 0, 0},
    };

    size_t n = sizeof(iter_cases) / sizeof(iter_cases[0]), failed = 0;

    (void)state;
    for (size_t i = 0; i < n; i++) {
        const struct iter_case *c = &iter_cases[i];
        struct visit_log v = {.calls = 0, .stop_after = c->stop_after};
        struct vt vt;
        struct vt_snap snap;
        int rc;

        struct vmar_sim_stats s0, s1;

        fixture(&vt);
        vt_snap_take(&vt, &snap);
        vmar_sim_stats(vt.sim, &s0);
        rc = vmar_iterate(c->null == NN_SPACE ? NULL : vt.space, c->lo, c->hi,
                          c->null == NN_OPTS ? NULL : visit, &v);
        vmar_sim_stats(vt.sim, &s1);
        assert_int_equal(s1.alloc_calls, s0.alloc_calls);
        assert_int_equal(s1.frame_alloc_calls, s0.frame_alloc_calls);
        VT_EXPECT_UNCHANGED(&vt, &snap);
        if (rc != c->expect || v.calls != c->calls ||
            (c->calls && v.starts[0] != c->first)) {
            fprintf(stderr,
                    "FAILED [%s]: returned %d after %zu calls (first %#" PRIx64
                    "), expected %d after %zu calls (first %#" PRIx64 ")\n",
                    c->desc, rc, v.calls, v.calls ? v.starts[0] : 0, c->expect,
                    c->calls, c->first);
            failed++;
        }
        vt_teardown(&vt);
    }
    if (failed)
        fail_msg("%zu of %zu iterate cases failed (listed above)", failed, n);
}

static void test_check_null_space(void **state)
{
    (void)state;
    assert_int_equal(vmar_check(NULL), VMAR_EINVAL);
}

/* ---- vmar_space_create ------------------------------------------------- */

/*
 * Cases build options from copies of the sim env and of the sim backend.
 * The sim backend's create() checks that the env belongs to its machine,
 * so the copied backend's create is a shim that hands the sim its own env
 * (the copy has the same ctx and callbacks, so both sides agree, whatever
 * optional member a case removed). The shim counts calls: a case the core
 * must reject must never reach the backend.
 */
static unsigned shim_creates;

static int shim_create(const struct vmar_env *env, const void *config,
                       struct vmar_mmu **out)
{
    (void)env;
    shim_creates++;
    return vmar_mmu_sim.create(vmar_sim_env((struct vmar_sim *)config), config,
                               out);
}

struct lock_obj {
    int depth;      /* > 0 exclusive count, < 0 shared count */
    unsigned locks; /* lock() calls */
    unsigned errors;
};

static void t_lock(void *ctx, void *lock, enum vmar_lock_mode mode)
{
    struct lock_obj *l = lock;

    (void)ctx;
    if (l == NULL)
        return;
    if (l->depth != 0) /* no recursion: one call, one lock */
        l->errors++;
    l->locks++;
    l->depth = mode == VMAR_LOCK_EXCLUSIVE ? 1 : -1;
}

static void t_unlock(void *ctx, void *lock, enum vmar_lock_mode mode)
{
    struct lock_obj *l = lock;

    (void)ctx;
    if (l == NULL)
        return;
    if (l->depth != (mode == VMAR_LOCK_EXCLUSIVE ? 1 : -1))
        l->errors++;
    l->depth = 0;
}

static bool t_lock_held(void *ctx, void *lock, enum vmar_lock_mode mode)
{
    (void)ctx;
    (void)lock;
    (void)mode;
    return true;
}

struct cctx {
    struct vmar_sim *sim;
    struct vmar_env env;     /* copy of vmar_sim_env(sim) */
    struct vmar_mmu_ops ops; /* copy of vmar_mmu_sim, create shimmed */
    struct vmar_space_opts opts;
    bool null_opts, null_out;
};

struct create_case {
    const char *desc;
    void (*mutate)(struct cctx *c);
    int expect;
    vmar_addr_t want_lo, want_hi; /* expect == 0: the resulting range */
};

#define SIM_TOP ((vmar_addr_t)0x7ffffffff000)
#define MUT(name, body)                                                        \
    static void name(struct cctx *c)                                           \
    {                                                                          \
        body;                                                                  \
    }

MUT(m_none, (void)c)
MUT(m_opts_null, c->null_opts = true)
MUT(m_out_null, c->null_out = true)
MUT(m_env_null, c->opts.env = NULL)
MUT(m_mmu_null, c->opts.mmu = NULL)
MUT(m_no_alloc, c->env.alloc = NULL)
MUT(m_no_free, c->env.free = NULL)
MUT(m_no_frame_alloc, c->env.frame_alloc = NULL)
MUT(m_no_frame_free, c->env.frame_free = NULL)
MUT(m_no_phys_to_virt, c->env.phys_to_virt = NULL)
MUT(m_lock_only, c->env.lock = t_lock)
MUT(m_unlock_only, c->env.unlock = t_unlock)
MUT(m_lock_only_with_obj, {
    static struct lock_obj l;
    c->env.lock = t_lock;
    c->opts.lock = &l;
})
MUT(m_lock_pair, {
    c->env.lock = t_lock;
    c->env.unlock = t_unlock;
})
MUT(m_lock_held_only, c->env.lock_held = t_lock_held)
MUT(m_no_optional, {
    c->env.lock = NULL;
    c->env.unlock = NULL;
    c->env.lock_held = NULL;
    c->env.random = NULL;
    c->env.log = NULL;
    c->env.panic = NULL;
})
MUT(m_abi_0, c->ops.abi = 0)
MUT(m_abi_next, c->ops.abi = VMAR_MMU_ABI + 1)
MUT(m_abi_max, c->ops.abi = UINT32_MAX)
MUT(m_no_create, c->ops.create = NULL)
MUT(m_no_destroy, c->ops.destroy = NULL)
MUT(m_no_prepare, c->ops.prepare = NULL)
MUT(m_no_map, c->ops.map = NULL)
MUT(m_no_unmap, c->ops.unmap = NULL)
MUT(m_no_protect, c->ops.protect = NULL)
MUT(m_no_find_next, c->ops.find_next = NULL)
MUT(m_no_flush, c->ops.flush = NULL)
MUT(m_no_replace, c->ops.replace = NULL)
MUT(m_top_0, c->ops.user_top = 0)
MUT(m_cache_as_bad, c->ops.cache_as[VMAR_CACHE_WT] = VMAR_CACHE_UC + 1)
MUT(m_cache_as_wb, c->ops.cache_as[VMAR_CACHE_WB] = VMAR_CACHE_UC)
MUT(m_top_unaligned, c->ops.user_top = SIM_TOP - 8)
MUT(m_top_small, c->ops.user_top = (vmar_addr_t)1 << 30)
MUT(m_pa_top_0, c->ops.pa_top = 0)
MUT(m_pa_top_unaligned, c->ops.pa_top = ((vmar_paddr_t)1 << 52) - 8)
MUT(m_top_small_hi_above, {
    c->ops.user_top = (vmar_addr_t)1 << 30;
    c->opts.user_hi = ((vmar_addr_t)1 << 30) + PG;
})
MUT(m_lo_unaligned, c->opts.user_lo = 0x10000 + 0x800)
MUT(m_lo_unaligned_1, c->opts.user_lo = 0x10001)
MUT(m_hi_unaligned, c->opts.user_hi = SIM_TOP - 0x800)
MUT(m_empty, {
    c->opts.user_lo = 0x100000;
    c->opts.user_hi = 0x100000;
})
MUT(m_inverted, {
    c->opts.user_lo = 0x200000;
    c->opts.user_hi = 0x100000;
})
MUT(m_hi_below_default_lo, c->opts.user_hi = 0x8000)
MUT(m_hi_at_default_lo, c->opts.user_hi = VMAR_DEFAULT_USER_LO)
MUT(m_lo_at_top, c->opts.user_lo = SIM_TOP)
MUT(m_lo_above_top, c->opts.user_lo = SIM_TOP + PG)
MUT(m_hi_above_top, c->opts.user_hi = SIM_TOP + PG)
MUT(m_hi_2_64_page, c->opts.user_hi = TOP_PAGE)
MUT(m_range_beyond_top, {
    c->opts.user_lo = SIM_TOP + PG;
    c->opts.user_hi = SIM_TOP + 16 * PG;
})
MUT(m_one_page, {
    c->opts.user_lo = SIM_TOP - PG;
    c->opts.user_hi = SIM_TOP;
})
MUT(m_whole_backend, {
    c->opts.user_lo = PG;
    c->opts.user_hi = SIM_TOP;
})
MUT(m_guard_1, c->opts.stack_guard = 1)
MUT(m_guard_unaligned, c->opts.stack_guard = 256 * PG + 0x800)
MUT(m_guard_ok, c->opts.stack_guard = 256 * PG)
MUT(m_aslr_41, c->opts.aslr_bits = 41)
MUT(m_aslr_64, c->opts.aslr_bits = 64)
MUT(m_aslr_max, c->opts.aslr_bits = UINT_MAX)
MUT(m_aslr_40, c->opts.aslr_bits = 40)
MUT(m_aslr_no_random, {
    c->env.random = NULL;
    c->opts.aslr_bits = 1;
})
MUT(m_aslr_40_no_random, {
    c->env.random = NULL;
    c->opts.aslr_bits = 40;
})
MUT(m_no_random_no_aslr, c->env.random = NULL)
MUT(m_flag_1, c->opts.flags = 1u << 1)
MUT(m_flag_31, c->opts.flags = VMAR_SPACE_BOTTOM_UP | (1u << 31))
MUT(m_flag_bottom_up, c->opts.flags = VMAR_SPACE_BOTTOM_UP)
MUT(m_limits, {
    c->opts.as_limit = PG;
    c->opts.max_map_count = 1;
})

static const struct create_case create_cases[] = {
    {"create: control (copied env and backend)", m_none, 0,
     VMAR_DEFAULT_USER_LO, SIM_TOP},
    {"create: NULL opts", m_opts_null, VMAR_EINVAL, 0, 0},
    {"create: NULL out", m_out_null, VMAR_EINVAL, 0, 0},
    {"create: NULL env", m_env_null, VMAR_EINVAL, 0, 0},
    {"create: NULL backend", m_mmu_null, VMAR_EINVAL, 0, 0},
    {"create: env without alloc", m_no_alloc, VMAR_EINVAL, 0, 0},
    {"create: env without free", m_no_free, VMAR_EINVAL, 0, 0},
    {"create: env without frame_alloc", m_no_frame_alloc, VMAR_EINVAL, 0, 0},
    {"create: env without frame_free", m_no_frame_free, VMAR_EINVAL, 0, 0},
    {"create: env without phys_to_virt", m_no_phys_to_virt, VMAR_EINVAL, 0, 0},
    {"create: env lock without unlock", m_lock_only, VMAR_EINVAL, 0, 0},
    {"create: env unlock without lock", m_unlock_only, VMAR_EINVAL, 0, 0},
    {"create: env lock without unlock, lock object given", m_lock_only_with_obj,
     VMAR_EINVAL, 0, 0},
    {"create: env lock and unlock", m_lock_pair, 0, VMAR_DEFAULT_USER_LO,
     SIM_TOP},
    {"create: env lock_held alone", m_lock_held_only, 0, VMAR_DEFAULT_USER_LO,
     SIM_TOP},
    {"create: env without any optional member", m_no_optional, 0,
     VMAR_DEFAULT_USER_LO, SIM_TOP},
    {"create: backend abi 0", m_abi_0, VMAR_EINVAL, 0, 0},
    {"create: backend abi + 1", m_abi_next, VMAR_ENOTSUP, 0, 0},
    {"create: backend abi UINT32_MAX", m_abi_max, VMAR_ENOTSUP, 0, 0},
    {"create: backend without create", m_no_create, VMAR_EINVAL, 0, 0},
    {"create: backend without destroy", m_no_destroy, VMAR_EINVAL, 0, 0},
    {"create: backend without prepare", m_no_prepare, VMAR_EINVAL, 0, 0},
    {"create: backend without map", m_no_map, VMAR_EINVAL, 0, 0},
    {"create: backend without unmap", m_no_unmap, VMAR_EINVAL, 0, 0},
    {"create: backend without protect", m_no_protect, VMAR_EINVAL, 0, 0},
    {"create: backend stores a policy as none", m_cache_as_bad, VMAR_EINVAL, 0,
     0},
    {"create: backend stores RAM's WB as UC", m_cache_as_wb, VMAR_EINVAL, 0, 0},
    {"create: backend without find_next", m_no_find_next, VMAR_EINVAL, 0, 0},
    {"create: backend without flush", m_no_flush, VMAR_EINVAL, 0, 0},
    {"create: backend without replace", m_no_replace, VMAR_EINVAL, 0, 0},
    {"create: backend user_top 0", m_top_0, VMAR_EINVAL, 0, 0},
    {"create: backend user_top unaligned", m_top_unaligned, VMAR_EINVAL, 0, 0},
    {"create: backend pa_top 0", m_pa_top_0, VMAR_EINVAL, 0, 0},
    {"create: backend pa_top unaligned", m_pa_top_unaligned, VMAR_EINVAL, 0, 0},
    {"create: backend user_top 1 GiB, default range", m_top_small, 0,
     VMAR_DEFAULT_USER_LO, (vmar_addr_t)1 << 30},
    {"create: user_hi above a 1 GiB backend user_top", m_top_small_hi_above,
     VMAR_EINVAL, 0, 0},
    {"create: user_lo unaligned by half a page", m_lo_unaligned, VMAR_EINVAL, 0,
     0},
    {"create: user_lo unaligned by a byte", m_lo_unaligned_1, VMAR_EINVAL, 0,
     0},
    {"create: user_hi unaligned", m_hi_unaligned, VMAR_EINVAL, 0, 0},
    {"create: empty user range", m_empty, VMAR_EINVAL, 0, 0},
    {"create: inverted user range", m_inverted, VMAR_EINVAL, 0, 0},
    {"create: user_hi below the default user_lo", m_hi_below_default_lo,
     VMAR_EINVAL, 0, 0},
    {"create: user_hi at the default user_lo", m_hi_at_default_lo, VMAR_EINVAL,
     0, 0},
    {"create: user_lo at user_top, default user_hi", m_lo_at_top, VMAR_EINVAL,
     0, 0},
    {"create: user_lo above user_top, default user_hi", m_lo_above_top,
     VMAR_EINVAL, 0, 0},
    {"create: user_hi a page above user_top", m_hi_above_top, VMAR_EINVAL, 0,
     0},
    {"create: user_hi at the last page of 2^64", m_hi_2_64_page, VMAR_EINVAL, 0,
     0},
    {"create: user range wholly beyond user_top", m_range_beyond_top,
     VMAR_EINVAL, 0, 0},
    {"create: one page just below user_top", m_one_page, 0, SIM_TOP - PG,
     SIM_TOP},
    {"create: [page, user_top)", m_whole_backend, 0, PG, SIM_TOP},
    {"create: stack_guard 1", m_guard_1, VMAR_EINVAL, 0, 0},
    {"create: stack_guard unaligned", m_guard_unaligned, VMAR_EINVAL, 0, 0},
    {"create: stack_guard 1 MiB", m_guard_ok, 0, VMAR_DEFAULT_USER_LO, SIM_TOP},
    {"create: aslr_bits 41", m_aslr_41, VMAR_EINVAL, 0, 0},
    {"create: aslr_bits 64", m_aslr_64, VMAR_EINVAL, 0, 0},
    {"create: aslr_bits UINT_MAX", m_aslr_max, VMAR_EINVAL, 0, 0},
    {"create: aslr_bits 40", m_aslr_40, 0, VMAR_DEFAULT_USER_LO, SIM_TOP},
    {"create: aslr_bits 1 without env->random", m_aslr_no_random, VMAR_EINVAL,
     0, 0},
    {"create: aslr_bits 40 without env->random", m_aslr_40_no_random,
     VMAR_EINVAL, 0, 0},
    {"create: no env->random and no ASLR", m_no_random_no_aslr, 0,
     VMAR_DEFAULT_USER_LO, SIM_TOP},
    {"create: unknown flag bit 1", m_flag_1, VMAR_EINVAL, 0, 0},
    {"create: unknown flag bit 31", m_flag_31, VMAR_EINVAL, 0, 0},
    {"create: VMAR_SPACE_BOTTOM_UP", m_flag_bottom_up, 0, VMAR_DEFAULT_USER_LO,
     SIM_TOP},
    {"create: tiny limits", m_limits, 0, VMAR_DEFAULT_USER_LO, SIM_TOP},
};

static struct vmar_space *const SENTINEL =
    (struct vmar_space *)(uintptr_t)0x5e47196e1;

static int run_create_case(struct vmar_sim *sim, const struct create_case *cc)
{
    struct cctx c;
    struct vmar_sim_stats s0, s1;
    struct vmar_space *sp = SENTINEL;
    uint64_t d0;
    int rc, bad = 0;

    memset(&c, 0, sizeof(c));
    c.sim = sim;
    c.env = *vmar_sim_env(sim);
    c.ops = vmar_mmu_sim;
    c.ops.create = shim_create;
    c.opts.env = &c.env;
    c.opts.mmu = &c.ops;
    c.opts.mmu_config = sim;
    cc->mutate(&c);

    shim_creates = 0;
    vmar_sim_stats(sim, &s0);
    d0 = vmar_sim_digest(sim);
    rc = vmar_space_create(c.null_opts ? NULL : &c.opts,
                           c.null_out ? NULL : &sp);
    if (rc != cc->expect) {
        fprintf(stderr, "FAILED [%s]: returned %s, expected %s\n", cc->desc,
                vmar_errname(rc), vmar_errname(cc->expect));
        bad = 1;
    }
    if (rc != 0) {
        vmar_sim_stats(sim, &s1);
        /* "On failure: nothing allocated, *out untouched." */
        if (sp != SENTINEL || s1.allocs_live != s0.allocs_live ||
            s1.frames_live != s0.frames_live || vmar_sim_digest(sim) != d0) {
            fprintf(stderr, "FAILED [%s]: failure left a trace\n", cc->desc);
            bad = 1;
        }
        /* A core validation failure must not reach the backend. */
        if (cc->expect == VMAR_EINVAL && shim_creates != 0) {
            fprintf(stderr,
                    "FAILED [%s]: the core passed it on to the backend's "
                    "create()\n",
                    cc->desc);
            bad = 1;
        }
        return bad;
    }
    /* Success: a working space with the documented range. */
    struct vmar_stats st;
    struct vmar_map_opts o = {
        .size = PG, .prot = RW, .flags = POP | VMAR_MAP_NO_RANDOM};
    vmar_addr_t got = 0;

    assert_true(sp != SENTINEL && sp != NULL);
    assert_int_equal(vmar_check(sp), 0);
    vmar_stats(sp, &st);
    if (st.user_lo != cc->want_lo || st.user_hi != cc->want_hi ||
        st.map_count != 0 || st.total_vm != 0 || st.resident != 0) {
        fprintf(stderr,
                "FAILED [%s]: range [%#" PRIx64 ", %#" PRIx64
                "), want [%#" PRIx64 ", %#" PRIx64 ")\n",
                cc->desc, st.user_lo, st.user_hi, cc->want_lo, cc->want_hi);
        bad = 1;
    }
    if (c.opts.as_limit == 0) {
        assert_int_equal(vmar_map(sp, &o, &got), 0);
        assert_true(got >= st.user_lo && got < st.user_hi);
        assert_int_equal(vmar_check(sp), 0);
    }
    vmar_space_destroy(sp);
    vmar_sim_stats(sim, &s1);
    assert_int_equal(s1.allocs_live, s0.allocs_live);
    assert_int_equal(s1.frames_live, s0.frames_live);
    return bad;
}

static void test_create_table(void **state)
{
    size_t n = sizeof(create_cases) / sizeof(create_cases[0]), failed = 0;
    struct vmar_sim_opts so = {
        .nframes = 64, .with_random = true, .verbose = true};
    struct vmar_sim *sim;

    (void)state;
    assert_int_equal(vmar_sim_create(&so, &sim), 0);
    assert_int_equal(vmar_mmu_sim.user_top, SIM_TOP);
    for (size_t i = 0; i < n; i++)
        failed += (size_t)run_create_case(sim, &create_cases[i]);
    vmar_sim_destroy(sim);
    if (failed)
        fail_msg("%zu of %zu create cases failed (listed above)", failed, n);
}

/* aslr_bits on a machine whose own env has no random source (the real
 * env, no copy: this reaches the backend when the core lets it). */
static void test_create_aslr_without_random(void **state)
{
    struct vmar_sim_opts so = {.nframes = 16, .with_random = false};
    struct vmar_sim *sim;
    struct vmar_sim_stats s0, s1;
    struct vmar_space *sp = SENTINEL;

    (void)state;
    assert_int_equal(vmar_sim_create(&so, &sim), 0);
    assert_null(vmar_sim_env(sim)->random);
    struct vmar_space_opts o = {.env = vmar_sim_env(sim),
                                .mmu = &vmar_mmu_sim,
                                .mmu_config = sim,
                                .aslr_bits = 1};
    vmar_sim_stats(sim, &s0);
    assert_int_equal(vmar_space_create(&o, &sp), VMAR_EINVAL);
    assert_ptr_equal(sp, SENTINEL);
    vmar_sim_stats(sim, &s1);
    assert_int_equal(s1.allocs_live, s0.allocs_live);
    assert_int_equal(s1.frames_live, s0.frames_live);
    o.aslr_bits = 0;
    assert_int_equal(vmar_space_create(&o, &sp), 0);
    assert_int_equal(vmar_check(sp), 0);
    vmar_space_destroy(sp);
    vmar_sim_destroy(sim);
}

/* Failing calls release the embedder's lock like successful ones. */
static void test_failing_calls_release_the_lock(void **state)
{
    struct vmar_sim_opts so = {.nframes = 64, .with_random = true};
    struct vmar_sim *sim;
    struct vmar_env env;
    struct vmar_mmu_ops ops = vmar_mmu_sim;
    struct lock_obj l = {0, 0, 0};
    struct vmar_space *sp;
    struct vmar_map_opts bad = {.size = 0, .prot = R};
    struct vmar_map_opts good = {
        .size = PG, .addr = 0x100000, .place = VMAR_PLACE_FIXED, .prot = R};
    struct vmar_mapping_info info;
    struct visit_log v = {.calls = 0, .stop_after = 0};

    (void)state;
    assert_int_equal(vmar_sim_create(&so, &sim), 0);
    env = *vmar_sim_env(sim);
    env.lock = t_lock;
    env.unlock = t_unlock;
    ops.create = shim_create;
    struct vmar_space_opts o = {
        .env = &env, .mmu = &ops, .mmu_config = sim, .lock = &l};
    assert_int_equal(vmar_space_create(&o, &sp), 0);
    assert_int_equal(l.locks, 0); /* "Locking: none" */

    assert_int_equal(vmar_map(sp, &bad, NULL), VMAR_EINVAL);
    assert_int_equal(vmar_map(sp, &good, NULL), 0);
    assert_int_equal(vmar_map(sp, &good, NULL), 0); /* FIXED replaces */
    good.place = VMAR_PLACE_FIXED_NOREPLACE;
    assert_int_equal(vmar_map(sp, &good, NULL), VMAR_EEXIST);
    assert_int_equal(vmar_unmap(sp, 0x100001, PG), VMAR_EINVAL);
    assert_int_equal(vmar_protect(sp, 0x100000, PG, RW | 8), VMAR_EINVAL);
    assert_int_equal(vmar_protect(sp, 0x200000, PG, R), VMAR_ENOMEM);
    assert_int_equal(vmar_query(sp, 0x200000, &info), VMAR_ENOENT);
    assert_int_equal(vmar_iterate(sp, 2, 1, visit, &v), VMAR_EINVAL);
    assert_int_equal(l.depth, 0);
    assert_int_equal(l.errors, 0);
    assert_true(l.locks >= 8);
    assert_int_equal(vmar_check(sp), 0);
    vmar_space_destroy(sp);
    vmar_sim_destroy(sim);
}

/* ---- success-path boundaries -------------------------------------------- */

static void empty_space(struct vt *vt)
{
    const struct vmar_space_opts o = {.user_lo = LO, .user_hi = HI};

    vt_setup(vt, &o, 64);
}

static void test_map_exactly_the_whole_user_range(void **state)
{
    char line[64];
    struct vt vt;
    struct vt_snap snap;
    struct vmar_stats st;
    struct vmar_mapping_info info;
    vmar_addr_t got = 0;

    (void)state;
    empty_space(&vt);
    assert_int_equal(vt_map(&vt, LO, HI - LO, RW, VMAR_PLACE_FIXED, 0, &got),
                     0);
    assert_int_equal(got, LO);
    VT_EXPECT_LAYOUT(&vt, layout_line(line, LO, HI, "rw-p"));
    vmar_stats(vt.space, &st);
    assert_int_equal(st.total_vm, HI - LO);
    assert_int_equal(st.map_count, 1);
    assert_int_equal(vmar_query(vt.space, LO, &info), 0);
    assert_int_equal(info.start, LO);
    assert_int_equal(info.end, HI);
    assert_int_equal(vmar_query(vt.space, HI - 1, &info), 0);
    assert_int_equal(vmar_query(vt.space, HI, &info), VMAR_ENOENT);
    assert_int_equal(vmar_query(vt.space, LO - 1, &info), VMAR_ENOENT);

    /* Full: no room for anything else, and nothing changes. */
    vt_snap_take(&vt, &snap);
    assert_int_equal(vt_map(&vt, 0, PG, R, VMAR_PLACE_ANY, 0, NULL),
                     VMAR_ENOMEM);
    assert_int_equal(vt_map(&vt, LO, PG, R, VMAR_PLACE_HINT, 0, NULL),
                     VMAR_ENOMEM);
    VT_EXPECT_UNCHANGED(&vt, &snap);

    /* Protect and unmap of exactly the whole range. */
    assert_int_equal(vt_protect(&vt, LO, HI - LO, R), 0);
    VT_EXPECT_LAYOUT(&vt, layout_line(line, LO, HI, "r--p"));
    assert_int_equal(vt_unmap(&vt, LO, HI - LO), 0);
    VT_EXPECT_LAYOUT(&vt, "");

    /* ANY of exactly the whole range fits, at user_lo. */
    assert_int_equal(vt_map(&vt, 0, HI - LO, R, VMAR_PLACE_ANY, 0, &got), 0);
    assert_int_equal(got, LO);
    VT_EXPECT_LAYOUT(&vt, layout_line(line, LO, HI, "r--p"));
    vt_teardown(&vt);
}

static void test_last_page_below_user_hi(void **state)
{
    char line[64];
    struct vt vt;
    struct vmar_stats st;
    struct vmar_mapping_info info;
    vmar_addr_t got = 0;

    (void)state;
    empty_space(&vt);
    /* Top-down placement picks the last page first. */
    assert_int_equal(vt_map(&vt, 0, PG, RW, VMAR_PLACE_ANY, 0, &got), 0);
    assert_int_equal(got, HI - PG);
    assert_int_equal(vt_unmap(&vt, HI - PG, PG), 0);
    /* HINT exactly there. */
    assert_int_equal(vt_map(&vt, HI - PG, PG, RW, VMAR_PLACE_HINT, 0, &got), 0);
    assert_int_equal(got, HI - PG);
    assert_int_equal(vt_unmap(&vt, HI - PG, PG), 0);
    /* FIXED and populated. */
    assert_int_equal(vt_map(&vt, HI - PG, PG, RW, VMAR_PLACE_FIXED, POP, &got),
                     0);
    assert_int_equal(got, HI - PG);
    VT_EXPECT_LAYOUT(&vt, layout_line(line, HI - PG, HI, "rw-p"));
    vmar_stats(vt.space, &st);
    assert_int_equal(st.resident, PG);
    assert_int_equal(vmar_query(vt.space, HI - 1, &info), 0);
    assert_int_equal(info.start, HI - PG);
    assert_int_equal(info.end, HI);
    assert_int_equal(
        vt_map(&vt, HI - PG, PG, RW, VMAR_PLACE_FIXED_NOREPLACE, 0, NULL),
        VMAR_EEXIST);
    assert_int_equal(vt_protect(&vt, HI - PG, PG, R), 0);
    VT_EXPECT_LAYOUT(&vt, layout_line(line, HI - PG, HI, "r--p"));
    /* FIXED overwrite of the populated last page. */
    assert_int_equal(vt_map(&vt, HI - PG, PG, RW, VMAR_PLACE_FIXED, 0, NULL),
                     0);
    vmar_stats(vt.space, &st);
    assert_int_equal(st.resident, 0);
    assert_int_equal(vt_unmap(&vt, HI - PG, PG), 0);
    VT_EXPECT_LAYOUT(&vt, "");
    vt_teardown(&vt);
}

static void test_user_lo_itself(void **state)
{
    struct vt vt;
    struct vmar_mapping_info info;
    vmar_addr_t got = 0;

    (void)state;
    empty_space(&vt);
    /* Bottom-up placement picks user_lo first. */
    assert_int_equal(
        vt_map(&vt, 0, PG, R, VMAR_PLACE_ANY, VMAR_MAP_BOTTOM_UP, &got), 0);
    assert_int_equal(got, LO);
    assert_int_equal(vt_unmap(&vt, LO, PG), 0);
    assert_int_equal(vt_map(&vt, LO, PG, R, VMAR_PLACE_HINT, 0, &got), 0);
    assert_int_equal(got, LO);
    assert_int_equal(vt_unmap(&vt, LO, PG), 0);
    assert_int_equal(vt_map(&vt, LO, 2 * PG, RW, VMAR_PLACE_FIXED, POP, &got),
                     0);
    assert_int_equal(got, LO);
    VT_EXPECT_LAYOUT(&vt, "00100000-00102000 rw-p 00000000 00:00 0\n");
    assert_int_equal(vmar_query(vt.space, LO, &info), 0);
    assert_int_equal(info.start, LO);
    assert_int_equal(vmar_query(vt.space, LO - 1, &info), VMAR_ENOENT);
    assert_int_equal(vt_protect(&vt, LO, PG, R), 0);
    assert_int_equal(vt_unmap(&vt, LO, PG), 0);
    VT_EXPECT_LAYOUT(&vt, "00101000-00102000 rw-p 00000000 00:00 0\n");
    assert_int_equal(vt_unmap(&vt, LO, 2 * PG), 0);
    VT_EXPECT_LAYOUT(&vt, "");
    vt_teardown(&vt);
}

static void test_default_user_range(void **state)
{
    struct vt vt;
    struct vmar_stats st;
    struct vt_snap snap;
    const vmar_addr_t top = VT_USER_TOP;
    const vmar_addr_t lo = VMAR_DEFAULT_USER_LO;
    vmar_addr_t got = 0;

    (void)state;
    vt_setup(&vt, NULL, 64);
    vmar_stats(vt.space, &st);
    assert_int_equal(st.user_lo, lo);
    assert_int_equal(st.user_hi, top);
    assert_int_equal(vt_map(&vt, top - PG, PG, RW, VMAR_PLACE_FIXED, POP, &got),
                     0);
    assert_int_equal(got, top - PG);
    assert_int_equal(vt_map(&vt, lo, PG, RW, VMAR_PLACE_FIXED, POP, &got), 0);
    assert_int_equal(got, lo);
    vt_snap_take(&vt, &snap);
    assert_int_equal(vt_map(&vt, lo - PG, PG, R, VMAR_PLACE_FIXED, 0, NULL),
                     VMAR_EINVAL);
    assert_int_equal(vt_map(&vt, 0, PG, R, VMAR_PLACE_FIXED, 0, NULL),
                     VMAR_EINVAL);
    assert_int_equal(vt_map(&vt, top, PG, R, VMAR_PLACE_FIXED, 0, NULL),
                     VMAR_EINVAL);
    assert_int_equal(
        vt_map(&vt, top - PG, 2 * PG, R, VMAR_PLACE_FIXED, 0, NULL),
        VMAR_EINVAL);
    assert_int_equal(vt_unmap(&vt, top, PG), VMAR_EINVAL);
    assert_int_equal(vt_protect(&vt, lo - PG, 2 * PG, R), VMAR_EINVAL);
    VT_EXPECT_UNCHANGED(&vt, &snap);
    vt_teardown(&vt);
}

static void test_placement_ignores_or_falls_back(void **state)
{
    struct vt vt;
    struct vmar_map_opts o = {.size = 4 * PG, .prot = R};
    vmar_addr_t got;
    struct vmar_mapping_info info;

    (void)state;
    fixture(&vt);
    /* ANY ignores addr, even an unaligned one. */
    o.addr = FREE0 + 3;
    got = 0;
    assert_int_equal(vt_map_opts(&vt, &o, &got), 0);
    assert_int_equal(got % PG, 0);
    assert_true(got >= LO && got + o.size <= HI);
    /* HINT outside the user range, or over a mapping, falls back. */
    o.place = VMAR_PLACE_HINT;
    const vmar_addr_t hints[] = {0,  LO - PG, HI,      HI - PG,
                                 A0, C0 + PG, TOP_PAGE};
    for (size_t i = 0; i < sizeof(hints) / sizeof(hints[0]); i++) {
        o.addr = hints[i];
        got = 0;
        assert_int_equal(vt_map_opts(&vt, &o, &got), 0);
        assert_int_equal(got % PG, 0);
        assert_true(got >= LO && got + o.size <= HI);
        assert_int_equal(vmar_query(vt.space, got, &info), 0);
        /* a new r-- mapping (possibly merged with the previous new one),
         * not A or C */
        assert_true(info.start <= got && info.end >= got + o.size);
        assert_int_equal(info.prot, R);
        assert_true(got + o.size <= A0 || got >= C1);
    }
    /* Nothing of the fixture was replaced. */
    assert_int_equal(vmar_query(vt.space, A0, &info), 0);
    assert_int_equal(info.prot, RW);
    assert_int_equal(vmar_query(vt.space, C0 + PG, &info), 0);
    assert_int_equal(info.prot, RX);
    vt_teardown(&vt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_fixture_is_as_described, disarm),
        cmocka_unit_test_setup(test_map_table, disarm),
        cmocka_unit_test_setup(test_limit_table, disarm),
        cmocka_unit_test_setup(test_unmap_table, disarm),
        cmocka_unit_test_setup(test_protect_table, disarm),
        cmocka_unit_test_setup(test_query_table, disarm),
        cmocka_unit_test_setup(test_resident_table, disarm),
        cmocka_unit_test_setup(test_iterate_table, disarm),
        cmocka_unit_test_setup(test_check_null_space, disarm),
        cmocka_unit_test_setup(test_create_table, disarm),
        cmocka_unit_test_setup(test_create_aslr_without_random, disarm),
        cmocka_unit_test_setup(test_failing_calls_release_the_lock, disarm),
        cmocka_unit_test_setup(test_map_exactly_the_whole_user_range, disarm),
        cmocka_unit_test_setup(test_last_page_below_user_hi, disarm),
        cmocka_unit_test_setup(test_user_lo_itself, disarm),
        cmocka_unit_test_setup(test_default_user_range, disarm),
        cmocka_unit_test_setup(test_placement_ignores_or_falls_back, disarm),
    };

    install_abort_guard();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
