/* SPDX-License-Identifier: MIT */
/*
 * Allocation-failure loops: for every public mutating operation in several
 * shapes, make the 1st, 2nd, 3rd, ... allocation (metadata or frame) fail
 * and check that the operation fails with VMAR_ENOMEM leaving the space
 * byte-for-byte unchanged (VT_EXPECT_UNCHANGED), with exactly one failure
 * injected; the first n that the operation never reaches must give a
 * success with the expected layout. Each iteration ends with vt_teardown,
 * which proves that nothing leaked.
 *
 * Before each loop a canary runs the operation once, without injection, in
 * a child process: it counts the allocations the operation makes (K), and
 * a crash there (a backend reservation that runs dry, say) fails the test
 * without taking the other tests down. The loop then must see exactly K
 * failing iterations: every allocation is a failure point, none is
 * swallowed.
 */
#define _POSIX_C_SOURCE 200809L

#include "harness.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define R   VMAR_PROT_READ
#define W   VMAR_PROT_WRITE
#define X   VMAR_PROT_EXEC
#define RW  (R | W)
#define RX  (R | X)
#define POP VMAR_MAP_POPULATE

#define NFRAMES   256
#define OOM_MAX_N 10000 /* a loop that gets here does not terminate */

#define LO  ((vmar_addr_t)0x100000)
#define GIB ((vmar_addr_t)1 << 30)
#define MIB ((vmar_addr_t)1 << 20)

/*
 * The user range ends at HI: 1 TiB, or where the backend's user_top is
 * lower, the highest power of two below it (Sv39: 128 GiB). BIG = HI / 2
 * is the widest table boundary the range crosses: 512 GiB, the span of a
 * level-2 table of a 4-level format (on Sv39, 64 GiB, a boundary between
 * root entries).
 */
static vmar_addr_t oom_hi(void)
{
    vmar_addr_t hi = (vmar_addr_t)1 << 40;

    while (hi >= VT_USER_TOP)
        hi >>= 1;
    return hi;
}
#define HI  oom_hi()
#define BIG (HI / 2) /* 512 GiB where HI is 1 TiB */
/* vmar_space_create over the sim's own backend (user_top 2^47 - page). */
#define SIM_HI ((vmar_addr_t)0x10000000000) /* 1 TiB */

/*
 * The starting state of every shape:
 *   A [0x200000, 0x208000) rw-  populated
 *   B [0x208000, 0x20c000) r--                 (adjacent to A)
 *   C [0x20c000, 0x21c000) r-x  populated      (adjacent to B)
 *   D [0x230000, 0x234000) rw-
 * All in the level-0 table of [2 MiB, 4 MiB); nothing else is populated,
 * so replacing every leaf of A and C empties the tables above them too.
 */
#define A0          ((vmar_addr_t)0x200000)
#define A1          ((vmar_addr_t)0x208000)
#define B1          ((vmar_addr_t)0x20c000)
#define C1          ((vmar_addr_t)0x21c000)
#define D0          ((vmar_addr_t)0x230000)
#define D1          ((vmar_addr_t)0x234000)
#define FX_RESIDENT 24u /* pages: A 8 + C 16 */

static void fx_map(struct vt *vt, vmar_addr_t addr, vmar_size_t size,
                   unsigned prot, unsigned flags)
{
    vmar_addr_t got = 0;

    assert_int_equal(
        vt_map(vt, addr, size, prot, VMAR_PLACE_FIXED_NOREPLACE, flags, &got),
        0);
    assert_int_equal(got, addr);
}

static void fixture(struct vt *vt)
{
    const struct vmar_space_opts o = {.user_lo = LO, .user_hi = HI};
    struct vmar_stats st;

    vt_setup(vt, &o, NFRAMES);
    fx_map(vt, A0, A1 - A0, RW, POP);
    fx_map(vt, A1, B1 - A1, R, 0);
    fx_map(vt, B1, C1 - B1, RX, POP);
    fx_map(vt, D0, D1 - D0, RW, 0);
    vmar_stats(vt->space, &st);
    assert_int_equal(st.map_count, 4);
    assert_int_equal(st.resident, FX_RESIDENT * PG);
}

/* One expected mapping: [start, end) and the perms column of the dump. */
struct em {
    vmar_addr_t start, end;
    const char *perms;
};

#define EM_A                                                                   \
    {                                                                          \
        A0, A1, "rw-p"                                                         \
    }
#define EM_B                                                                   \
    {                                                                          \
        A1, B1, "r--p"                                                         \
    }
#define EM_C                                                                   \
    {                                                                          \
        B1, C1, "r-xp"                                                         \
    }
#define EM_D                                                                   \
    {                                                                          \
        D0, D1, "rw-p"                                                         \
    }
#define MAX_EM 8

static char *layout_of(const struct em *m, size_t n)
{
    size_t cap = n * 96 + 1, len = 0;
    char *s = malloc(cap);

    assert_non_null(s);
    s[0] = '\0';
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(s + len, cap - len,
                                "%08" PRIx64 "-%08" PRIx64
                                " %s 00000000 00:00 0\n",
                                m[i].start, m[i].end, m[i].perms);
    return s;
}

enum oom_kind {
    K_MAP,
    K_UNMAP,
    K_PROTECT
};

struct oom_case {
    const char *name;
    enum oom_kind kind;
    struct vmar_map_opts map; /* K_MAP */
    vmar_addr_t addr;         /* K_UNMAP, K_PROTECT */
    vmar_size_t size;
    unsigned prot;            /* K_PROTECT */
    bool must_alloc;          /* the operation cannot succeed without */
    vmar_addr_t want_addr;    /* K_MAP: where it must land */
    struct em expect[MAX_EM]; /* the layout after success */
    size_t nexpect;
    size_t resident; /* pages after success */
};

static int run_op(struct vt *vt, const struct oom_case *c, vmar_addr_t *got)
{
    switch (c->kind) {
    case K_MAP:
        return vmar_map(vt->space, &c->map, got);
    case K_UNMAP:
        return vmar_unmap(vt->space, c->addr, c->size);
    case K_PROTECT:
        return vmar_protect(vt->space, c->addr, c->size, c->prot);
    }
    return VMAR_ECORRUPT;
}

static void verify_result(struct vt *vt, const struct oom_case *c,
                          vmar_addr_t got)
{
    struct vmar_stats st;
    char *want = layout_of(c->expect, c->nexpect);

    VT_CHECK(vt);
    VT_EXPECT_LAYOUT(vt, want);
    free(want);
    vmar_stats(vt->space, &st);
    assert_int_equal(st.resident, c->resident * PG);
    if (c->kind == K_MAP)
        assert_int_equal(got, c->want_addr);
}

static size_t allocs_made(const struct vmar_sim_stats *a,
                          const struct vmar_sim_stats *b)
{
    return (b->alloc_calls - a->alloc_calls) +
           (b->frame_alloc_calls - a->frame_alloc_calls);
}

/* ---- the canary (a child process) ---------------------------------------- */

static int canary_fd = -1;
static struct vmar_sim *canary_sim;
static struct vmar_sim_stats canary_s0;

static void canary_report(void)
{
    struct vmar_sim_stats s1;
    size_t k;

    vmar_sim_stats(canary_sim, &s1);
    k = allocs_made(&canary_s0, &s1);
    if (write(canary_fd, &k, sizeof(k)) != (ssize_t)sizeof(k))
        _exit(3);
    canary_fd = -1;
}

/* A crash in the child: report what was allocated so far, then die of the
 * same signal (the handler is reset, so returning re-raises it). */
static void canary_crash(int sig)
{
    if (canary_fd >= 0)
        canary_report();
    signal(sig, SIG_DFL);
    if (sig != SIGABRT)
        raise(sig);
}

static void canary_child(const struct oom_case *c, int fd)
{
    static const int sigs[] = {SIGABRT, SIGILL, SIGSEGV,
                               SIGFPE,  SIGBUS, SIGTRAP};
    struct vt vt;
    vmar_addr_t got = 0;
    int rc;

    /* A failed cmocka assertion in the child aborts it instead of jumping
     * back into the runner (which would run the other tests twice). */
    setenv("CMOCKA_TEST_ABORT", "1", 1);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        signal(sigs[i], canary_crash);
    fixture(&vt);
    canary_sim = vt.sim;
    canary_fd = fd;
    vmar_sim_stats(vt.sim, &canary_s0);
    rc = run_op(&vt, c, &got);
    canary_report();
    if (rc != 0)
        _exit(2);
    verify_result(&vt, c, got);
    vt_teardown(&vt);
    _exit(0);
}

struct canary {
    size_t k;      /* allocations the operation made */
    bool reported; /* k is valid */
    int status;    /* waitpid status */
};

static void run_canary(const struct oom_case *c, struct canary *out)
{
    int fds[2];
    pid_t pid;

    fflush(stdout);
    fflush(stderr);
    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        canary_child(c, fds[1]);
    }
    close(fds[1]);
    out->reported =
        read(fds[0], &out->k, sizeof(out->k)) == (ssize_t)sizeof(out->k);
    close(fds[0]);
    assert_int_equal(waitpid(pid, &out->status, 0), pid);
}

static bool canary_ok(const struct canary *k)
{
    return k->reported && WIFEXITED(k->status) && WEXITSTATUS(k->status) == 0;
}

/* ---- the loop ------------------------------------------------------------ */

static void oom_loop(const struct oom_case *c, bool persistent)
{
    struct canary can;
    size_t n, failed = 0;
    bool succeeded = false;

    run_canary(c, &can);
    if (!can.reported)
        fail_msg("[%s] the canary died before the operation returned or "
                 "crashed (status %#x)",
                 c->name, (unsigned)can.status);
    if (c->must_alloc && can.k == 0)
        fail_msg("[%s] made no allocation: the loop would be vacuous", c->name);

    for (n = 1; n < OOM_MAX_N; n++) {
        struct vt vt;
        struct vt_snap snap;
        struct vmar_sim_stats s0, s1;
        vmar_addr_t got = 0;
        int rc;

        /* Only run the all-allocations-succeed iteration in this process
         * when the canary survived it. */
        if (!canary_ok(&can) && n > can.k)
            break;
        fixture(&vt);
        vt_snap_take(&vt, &snap);
        vmar_sim_stats(vt.sim, &s0);
        vmar_sim_fail_after(vt.sim, n, VMAR_SIM_FAIL_ANY, persistent);
        rc = run_op(&vt, c, &got);
        vmar_sim_fail_after(vt.sim, 0, VMAR_SIM_FAIL_ANY, false);
        vmar_sim_stats(vt.sim, &s1);
        if (rc == VMAR_ENOMEM) {
            size_t injected = s1.fails_injected - s0.fails_injected;
            if (persistent ? injected < 1 : injected != 1)
                fail_msg("[%s] n=%zu: ENOMEM with %zu failures injected",
                         c->name, n, injected);
            VT_EXPECT_UNCHANGED(&vt, &snap);
            failed++;
            vt_teardown(&vt);
            continue;
        }
        if (rc != 0)
            fail_msg("[%s] n=%zu: returned %s", c->name, n, vmar_errname(rc));
        if (s1.fails_injected != s0.fails_injected)
            fail_msg("[%s] n=%zu: succeeded although allocation %zu failed",
                     c->name, n, n);
        if (allocs_made(&s0, &s1) != can.k)
            fail_msg("[%s] n=%zu: %zu allocations, the canary made %zu",
                     c->name, n, allocs_made(&s0, &s1), can.k);
        vt_snap_free(&snap);
        verify_result(&vt, c, got);
        vt_teardown(&vt);
        succeeded = true;
        break;
    }
    if (!canary_ok(&can)) {
        if (WIFSIGNALED(can.status))
            fail_msg("[%s] crashed (signal %d) when all %zu allocations "
                     "succeed; the %zu failing iterations before it were "
                     "clean (see the child's message above)",
                     c->name, WTERMSIG(can.status), can.k, failed);
        fail_msg("[%s] the canary failed (exit status %d; 2: the operation "
                 "did not return 0)",
                 c->name, WIFEXITED(can.status) ? WEXITSTATUS(can.status) : -1);
    }
    if (!succeeded)
        fail_msg("[%s] still failing at n=%d", c->name, OOM_MAX_N);
    if (failed != can.k)
        fail_msg("[%s] %zu failing iterations for %zu allocations", c->name,
                 failed, can.k);
    if (c->must_alloc)
        assert_true(failed > 0);
}

/* ---- the shapes ---------------------------------------------------------- */

static struct oom_case c_map_any(void)
{
    return (struct oom_case){
        .name = "map ANY",
        .kind = K_MAP,
        .map = {.size = 4 * PG, .prot = RW},
        .must_alloc = true,
        .want_addr = HI - 4 * PG,
        .expect = {EM_A, EM_B, EM_C, EM_D, {HI - 4 * PG, HI, "rw-p"}},
        .nexpect = 5,
        .resident = FX_RESIDENT,
    };
}

static struct oom_case c_map_any_populate(void)
{
    return (struct oom_case){
        .name = "map ANY + POPULATE",
        .kind = K_MAP,
        .map = {.size = 8 * PG, .prot = RW, .flags = POP},
        .must_alloc = true,
        .want_addr = HI - 8 * PG,
        .expect = {EM_A, EM_B, EM_C, EM_D, {HI - 8 * PG, HI, "rw-p"}},
        .nexpect = 5,
        .resident = FX_RESIDENT + 8,
    };
}

static struct oom_case c_map_hint(void)
{
    return (struct oom_case){
        .name = "map HINT",
        .kind = K_MAP,
        .map = {.size = 4 * PG,
                .addr = 0x400000,
                .place = VMAR_PLACE_HINT,
                .prot = RW},
        .must_alloc = true,
        .want_addr = 0x400000,
        .expect = {EM_A, EM_B, EM_C, EM_D, {0x400000, 0x404000, "rw-p"}},
        .nexpect = 5,
        .resident = FX_RESIDENT,
    };
}

/* 16 pages across the BIG (512 GiB) boundary: a new level-2 table (Sv39
 * has only its root at that level), two level-1 and two level-0 tables. */
static struct oom_case c_map_hint_populate_512g(void)
{
    return (struct oom_case){
        .name = "map HINT + POPULATE across HI / 2 (512 GiB)",
        .kind = K_MAP,
        .map = {.size = 16 * PG,
                .addr = BIG - 8 * PG,
                .place = VMAR_PLACE_HINT,
                .prot = RW,
                .flags = POP},
        .must_alloc = true,
        .want_addr = BIG - 8 * PG,
        .expect =
            {EM_A, EM_B, EM_C, EM_D, {BIG - 8 * PG, BIG + 8 * PG, "rw-p"}},
        .nexpect = 5,
        .resident = FX_RESIDENT + 16,
    };
}

static struct oom_case c_map_noreplace(void)
{
    return (struct oom_case){
        .name = "map FIXED_NOREPLACE",
        .kind = K_MAP,
        .map = {.size = 4 * PG,
                .addr = 0x400000,
                .place = VMAR_PLACE_FIXED_NOREPLACE,
                .prot = R},
        .must_alloc = true,
        .want_addr = 0x400000,
        .expect = {EM_A, EM_B, EM_C, EM_D, {0x400000, 0x404000, "r--p"}},
        .nexpect = 5,
        .resident = FX_RESIDENT,
    };
}

/* 64 pages across the 1 GiB boundary (a 2 MiB boundary too): a new
 * level-1 table and two level-0 tables. */
static struct oom_case c_map_populate_1g(void)
{
    return (struct oom_case){
        .name = "map FIXED_NOREPLACE + POPULATE across 1 GiB",
        .kind = K_MAP,
        .map = {.size = 64 * PG,
                .addr = GIB - 32 * PG,
                .place = VMAR_PLACE_FIXED_NOREPLACE,
                .prot = RW,
                .flags = POP},
        .must_alloc = true,
        .want_addr = GIB - 32 * PG,
        .expect =
            {EM_A, EM_B, EM_C, EM_D, {GIB - 32 * PG, GIB + 32 * PG, "rw-p"}},
        .nexpect = 5,
        .resident = FX_RESIDENT + 64,
    };
}

/* 16 pages across the 6 MiB boundary: two new level-0 tables. */
static struct oom_case c_map_populate_2m(void)
{
    return (struct oom_case){
        .name = "map FIXED_NOREPLACE + POPULATE across 6 MiB",
        .kind = K_MAP,
        .map = {.size = 16 * PG,
                .addr = 6 * MIB - 8 * PG,
                .place = VMAR_PLACE_FIXED_NOREPLACE,
                .prot = RW,
                .flags = POP},
        .must_alloc = true,
        .want_addr = 6 * MIB - 8 * PG,
        .expect = {EM_A,
                   EM_B,
                   EM_C,
                   EM_D,
                   {6 * MIB - 8 * PG, 6 * MIB + 8 * PG, "rw-p"}},
        .nexpect = 5,
        .resident = FX_RESIDENT + 16,
    };
}

/* The middle of C: C is split around the new mapping (two new nodes). */
static struct oom_case c_fixed_1(void)
{
    return (struct oom_case){
        .name = "map FIXED over the middle of 1 mapping",
        .kind = K_MAP,
        .map = {.size = 4 * PG,
                .addr = 0x210000,
                .place = VMAR_PLACE_FIXED,
                .prot = RW},
        .must_alloc = true,
        .want_addr = 0x210000,
        .expect = {EM_A,
                   EM_B,
                   {B1, 0x210000, "r-xp"},
                   {0x210000, 0x214000, "rw-p"},
                   {0x214000, C1, "r-xp"},
                   EM_D},
        .nexpect = 6,
        .resident = FX_RESIDENT - 4,
    };
}

/* A's tail and B's head; the new r-- piece merges with B's rest. */
static struct oom_case c_fixed_2(void)
{
    return (struct oom_case){
        .name = "map FIXED over parts of 2 mappings",
        .kind = K_MAP,
        .map = {.size = 6 * PG,
                .addr = 0x204000,
                .place = VMAR_PLACE_FIXED,
                .prot = R},
        .must_alloc = true,
        .want_addr = 0x204000,
        .expect = {{A0, 0x204000, "rw-p"}, {0x204000, B1, "r--p"}, EM_C, EM_D},
        .nexpect = 4,
        .resident = FX_RESIDENT - 4,
    };
}

/* A's tail, all of B, C's head; the new rw- piece merges with A's rest. */
static struct oom_case c_fixed_3(void)
{
    return (struct oom_case){
        .name = "map FIXED over parts of 3 mappings",
        .kind = K_MAP,
        .map = {.size = 8 * PG,
                .addr = 0x206000,
                .place = VMAR_PLACE_FIXED,
                .prot = RW},
        .must_alloc = true,
        .want_addr = 0x206000,
        .expect = {{A0, 0x20e000, "rw-p"}, {0x20e000, C1, "r-xp"}, EM_D},
        .nexpect = 3,
        .resident = FX_RESIDENT - 4,
    };
}

/* Over populated A and C; A's first pages keep the tables alive. */
static struct oom_case c_fixed_populate(void)
{
    return (struct oom_case){
        .name = "map FIXED + POPULATE over populated mappings",
        .kind = K_MAP,
        .map = {.size = 12 * PG,
                .addr = 0x204000,
                .place = VMAR_PLACE_FIXED,
                .prot = RW,
                .flags = POP},
        .must_alloc = true,
        .want_addr = 0x204000,
        .expect = {{A0, 0x210000, "rw-p"}, {0x210000, C1, "r-xp"}, EM_D},
        .nexpect = 3,
        .resident = 4 + 12 + 12,
    };
}

/* Replaces every present leaf of the space: the unmap half of the
 * overwrite empties the level-0, level-1 and level-2 tables above A and C,
 * and the populate half needs them again. */
static struct oom_case c_fixed_populate_all(void)
{
    return (struct oom_case){
        .name = "map FIXED + POPULATE replacing every leaf of its tables",
        .kind = K_MAP,
        .map = {.size = C1 - A0,
                .addr = A0,
                .place = VMAR_PLACE_FIXED,
                .prot = RW,
                .flags = POP},
        .must_alloc = true,
        .want_addr = A0,
        .expect = {{A0, C1, "rw-p"}, EM_D},
        .nexpect = 2,
        .resident = (C1 - A0) / 4096,
    };
}

static struct oom_case c_unmap_hole(void)
{
    return (struct oom_case){
        .name = "unmap punching a hole",
        .kind = K_UNMAP,
        .addr = 0x210000,
        .size = 4 * PG,
        .must_alloc = true,
        .expect =
            {EM_A, EM_B, {B1, 0x210000, "r-xp"}, {0x214000, C1, "r-xp"}, EM_D},
        .nexpect = 5,
        .resident = FX_RESIDENT - 4,
    };
}

static struct oom_case c_unmap_several(void)
{
    return (struct oom_case){
        .name = "unmap across several mappings",
        .kind = K_UNMAP,
        .addr = 0x204000,
        .size = 0xc000,
        .must_alloc = false, /* trims and removes: no node needed */
        .expect = {{A0, 0x204000, "rw-p"}, {0x210000, C1, "r-xp"}, EM_D},
        .nexpect = 3,
        .resident = 4 + 12,
    };
}

static struct oom_case c_unmap_all(void)
{
    return (struct oom_case){
        .name = "unmap the whole user range",
        .kind = K_UNMAP,
        .addr = LO,
        .size = HI - LO,
        .must_alloc = false,
        .expect = {{0, 0, NULL}},
        .nexpect = 0,
        .resident = 0,
    };
}

static struct oom_case c_protect_split(void)
{
    return (struct oom_case){
        .name = "protect splitting at both ends",
        .kind = K_PROTECT,
        .addr = 0x210000,
        .size = 4 * PG,
        .prot = RW,
        .must_alloc = true,
        .expect = {EM_A,
                   EM_B,
                   {B1, 0x210000, "r-xp"},
                   {0x210000, 0x214000, "rw-p"},
                   {0x214000, C1, "r-xp"},
                   EM_D},
        .nexpect = 6,
        .resident = FX_RESIDENT,
    };
}

/* Splits A and C, leaves B; the r-- pieces merge into one. */
static struct oom_case c_protect_several(void)
{
    return (struct oom_case){
        .name = "protect across several mappings",
        .kind = K_PROTECT,
        .addr = 0x204000,
        .size = 0x10000,
        .prot = R,
        .must_alloc = true,
        .expect = {{A0, 0x204000, "rw-p"},
                   {0x204000, 0x214000, "r--p"},
                   {0x214000, C1, "r-xp"},
                   EM_D},
        .nexpect = 4,
        .resident = FX_RESIDENT,
    };
}

static struct oom_case c_protect_whole(void)
{
    return (struct oom_case){
        .name = "protect whole mappings (no split)",
        .kind = K_PROTECT,
        .addr = A0,
        .size = C1 - A0,
        .prot = R,
        .must_alloc = false,
        .expect = {{A0, C1, "r--p"}, EM_D},
        .nexpect = 2,
        .resident = FX_RESIDENT,
    };
}

#define OOM_TEST(fn, c, persistent)                                            \
    static void fn(void **state)                                               \
    {                                                                          \
        (void)state;                                                           \
        const struct oom_case oc = (c)();                                      \
        oom_loop(&oc, (persistent));                                           \
    }

OOM_TEST(test_oom_map_any, c_map_any, false)
OOM_TEST(test_oom_map_any_populate, c_map_any_populate, false)
OOM_TEST(test_oom_map_hint, c_map_hint, false)
OOM_TEST(test_oom_map_hint_populate_512g, c_map_hint_populate_512g, false)
OOM_TEST(test_oom_map_noreplace, c_map_noreplace, false)
OOM_TEST(test_oom_map_populate_1g, c_map_populate_1g, false)
OOM_TEST(test_oom_map_populate_2m, c_map_populate_2m, false)
OOM_TEST(test_oom_map_fixed_middle_of_1, c_fixed_1, false)
OOM_TEST(test_oom_map_fixed_over_2, c_fixed_2, false)
OOM_TEST(test_oom_map_fixed_over_3, c_fixed_3, false)
OOM_TEST(test_oom_map_fixed_populate_over_populated, c_fixed_populate, false)
OOM_TEST(test_oom_map_fixed_populate_replacing_all, c_fixed_populate_all, false)
OOM_TEST(test_oom_unmap_hole, c_unmap_hole, false)
OOM_TEST(test_oom_unmap_several, c_unmap_several, false)
OOM_TEST(test_oom_unmap_all, c_unmap_all, false)
OOM_TEST(test_oom_protect_split_both_ends, c_protect_split, false)
OOM_TEST(test_oom_protect_several, c_protect_several, false)
OOM_TEST(test_oom_protect_whole, c_protect_whole, false)
OOM_TEST(test_oom_persistent_map_populate_1g, c_map_populate_1g, true)
OOM_TEST(test_oom_persistent_map_fixed_middle_of_1, c_fixed_1, true)
OOM_TEST(test_oom_persistent_map_fixed_populate, c_fixed_populate, true)
OOM_TEST(test_oom_persistent_unmap_hole, c_unmap_hole, true)
OOM_TEST(test_oom_persistent_protect_split, c_protect_split, true)

/* ---- vmar_space_create -----------------------------------------------------
 */

static void oom_space_create(bool persistent)
{
    struct vmar_sim_opts so = {
        .nframes = 16, .with_random = true, .verbose = true};
    struct vmar_space *const sentinel =
        (struct vmar_space *)(uintptr_t)0x5e47196e1;
    struct vmar_sim *sim;
    size_t n, failed = 0, k = 0;
    bool succeeded = false;

    assert_int_equal(vmar_sim_create(&so, &sim), 0);
    const struct vmar_space_opts o = {.env = vmar_sim_env(sim),
                                      .mmu = &vmar_mmu_sim,
                                      .mmu_config = sim,
                                      .user_lo = LO,
                                      .user_hi = SIM_HI};
    for (n = 1; n < OOM_MAX_N; n++) {
        struct vmar_sim_stats s0, s1;
        struct vmar_space *sp = sentinel;
        uint64_t d0 = vmar_sim_digest(sim);
        int rc;

        vmar_sim_stats(sim, &s0);
        vmar_sim_fail_after(sim, n, VMAR_SIM_FAIL_ANY, persistent);
        rc = vmar_space_create(&o, &sp);
        vmar_sim_fail_after(sim, 0, VMAR_SIM_FAIL_ANY, false);
        vmar_sim_stats(sim, &s1);
        if (rc == VMAR_ENOMEM) {
            size_t injected = s1.fails_injected - s0.fails_injected;
            if (persistent ? injected < 1 : injected != 1)
                fail_msg("create n=%zu: ENOMEM with %zu failures injected", n,
                         injected);
            /* "On failure: nothing allocated, *out untouched." */
            assert_ptr_equal(sp, sentinel);
            assert_int_equal(s1.allocs_live, s0.allocs_live);
            assert_int_equal(s1.frames_live, s0.frames_live);
            assert_int_equal(s1.tables_live, s0.tables_live);
            assert_int_equal(vmar_sim_digest(sim), d0);
            failed++;
            continue;
        }
        assert_int_equal(rc, 0);
        assert_int_equal(s1.fails_injected, s0.fails_injected);
        k = allocs_made(&s0, &s1);
        assert_true(sp != sentinel && sp != NULL);
        assert_int_equal(vmar_check(sp), 0);

        /* The space works: a populated mapping, then everything back. */
        struct vmar_map_opts mo = {.size = 2 * PG, .prot = RW, .flags = POP};
        struct vmar_stats st;
        vmar_addr_t got = 0;
        assert_int_equal(vmar_map(sp, &mo, &got), 0);
        assert_int_equal(got, SIM_HI - 2 * PG);
        vmar_stats(sp, &st);
        assert_int_equal(st.user_lo, LO);
        assert_int_equal(st.user_hi, SIM_HI);
        assert_int_equal(st.resident, 2 * PG);
        assert_int_equal(vmar_check(sp), 0);
        vmar_space_destroy(sp);
        vmar_sim_stats(sim, &s1);
        assert_int_equal(s1.allocs_live, s0.allocs_live);
        assert_int_equal(s1.frames_live, s0.frames_live);
        assert_int_equal(s1.leaves_live, 0);
        succeeded = true;
        break;
    }
    vmar_sim_destroy(sim);
    assert_true(succeeded);
    assert_true(failed > 0); /* at least the space itself is allocated */
    assert_int_equal(failed, k);
}

static void test_oom_space_create(void **state)
{
    (void)state;
    oom_space_create(false);
}

static void test_oom_persistent_space_create(void **state)
{
    (void)state;
    oom_space_create(true);
}

/* Injection that only counts frames, or only metadata, still ends in a
 * clean failure or a correct success (the masks are independent). */
static void oom_masked(const struct oom_case *c, unsigned mask)
{
    size_t n, failed = 0;

    for (n = 1; n < OOM_MAX_N; n++) {
        struct vt vt;
        struct vt_snap snap;
        struct vmar_sim_stats s0, s1;
        vmar_addr_t got = 0;
        int rc;

        fixture(&vt);
        vt_snap_take(&vt, &snap);
        vmar_sim_stats(vt.sim, &s0);
        vmar_sim_fail_after(vt.sim, n, mask, false);
        rc = run_op(&vt, c, &got);
        vmar_sim_fail_after(vt.sim, 0, mask, false);
        vmar_sim_stats(vt.sim, &s1);
        if (rc == VMAR_ENOMEM) {
            assert_int_equal(s1.fails_injected - s0.fails_injected, 1);
            VT_EXPECT_UNCHANGED(&vt, &snap);
            vt_teardown(&vt);
            failed++;
            continue;
        }
        assert_int_equal(rc, 0);
        assert_int_equal(s1.fails_injected, s0.fails_injected);
        vt_snap_free(&snap);
        verify_result(&vt, c, got);
        vt_teardown(&vt);
        break;
    }
    assert_true(n < OOM_MAX_N);
    assert_true(failed > 0);
}

static void test_oom_frames_only_map_populate_512g(void **state)
{
    (void)state;
    const struct oom_case c = c_map_hint_populate_512g();

    oom_masked(&c, VMAR_SIM_FAIL_FRAME);
}

static void test_oom_metadata_only_map_fixed_middle(void **state)
{
    (void)state;
    const struct oom_case c = c_fixed_1();

    oom_masked(&c, VMAR_SIM_FAIL_ALLOC);
}

/* The sim's panic hook aborts: outside a canary that fails the running
 * test instead of ending the program. */
static void on_abort(int sig)
{
    (void)sig;
    fail_msg("abort(): the library panicked (see the message above)");
}

int main(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_abort;
    sa.sa_flags = SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGABRT, &sa, NULL);

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oom_space_create),
        cmocka_unit_test(test_oom_persistent_space_create),
        cmocka_unit_test(test_oom_map_any),
        cmocka_unit_test(test_oom_map_any_populate),
        cmocka_unit_test(test_oom_map_hint),
        cmocka_unit_test(test_oom_map_hint_populate_512g),
        cmocka_unit_test(test_oom_map_noreplace),
        cmocka_unit_test(test_oom_map_populate_1g),
        cmocka_unit_test(test_oom_map_populate_2m),
        cmocka_unit_test(test_oom_map_fixed_middle_of_1),
        cmocka_unit_test(test_oom_map_fixed_over_2),
        cmocka_unit_test(test_oom_map_fixed_over_3),
        cmocka_unit_test(test_oom_map_fixed_populate_over_populated),
        cmocka_unit_test(test_oom_map_fixed_populate_replacing_all),
        cmocka_unit_test(test_oom_unmap_hole),
        cmocka_unit_test(test_oom_unmap_several),
        cmocka_unit_test(test_oom_unmap_all),
        cmocka_unit_test(test_oom_protect_split_both_ends),
        cmocka_unit_test(test_oom_protect_several),
        cmocka_unit_test(test_oom_protect_whole),
        cmocka_unit_test(test_oom_persistent_map_populate_1g),
        cmocka_unit_test(test_oom_persistent_map_fixed_middle_of_1),
        cmocka_unit_test(test_oom_persistent_map_fixed_populate),
        cmocka_unit_test(test_oom_persistent_unmap_hole),
        cmocka_unit_test(test_oom_persistent_protect_split),
        cmocka_unit_test(test_oom_frames_only_map_populate_512g),
        cmocka_unit_test(test_oom_metadata_only_map_fixed_middle),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
