/* SPDX-License-Identifier: MIT */
/*
 * Rights on space handles (the reference's Vmar<Rights>): a missing right
 * is VMAR_EACCES with the space unchanged; handles can only drop rights;
 * the space lives until its last handle goes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define A   ((vmar_addr_t)0x40000000)
#define R   VMAR_PROT_READ
#define RW  (VMAR_PROT_READ | VMAR_PROT_WRITE)
#define RWX VMAR_PROT_RWX

static void test_default_all(void **state)
{
    struct vt vt;
    (void)state;

    vt_setup(&vt, NULL, 0);
    assert_int_equal(vmar_space_rights(vt.space), VMAR_RIGHTS_ALL);
    assert_int_equal(vmar_space_rights(NULL), 0);
    vt_teardown(&vt);
}

/* A read-only handle: may map read-only memory whose maximum it covers,
 * may read, may not write, protect upwards or map writable memory. */
static void test_read_only_handle(void **state)
{
    struct vt vt;
    struct vmar_space *ro;
    struct vt_snap snap;
    unsigned char b = 0;
    size_t done = 99;
    (void)state;

    vt_setup(&vt, NULL, 0);
    assert_int_equal(vt_map(&vt, A, 4 * PG, RW, VMAR_PLACE_FIXED, 0, NULL), 0);
    assert_int_equal(vmar_write(vt.space, A, "x", 1, NULL), 0);
    assert_int_equal(
        vmar_space_dup(vt.space, VMAR_RIGHT_READ | VMAR_RIGHT_DUP, &ro), 0);
    assert_int_equal(vmar_space_rights(ro), VMAR_RIGHT_READ | VMAR_RIGHT_DUP);

    vt_snap_take(&vt, &snap);
    assert_int_equal(vmar_write(ro, A, "y", 1, &done), VMAR_EACCES);
    assert_int_equal(done, 0);
    assert_int_equal(vmar_fill_zero(ro, A, 1, NULL), VMAR_EACCES);
    assert_int_equal(vmar_protect(ro, A, PG, RW), VMAR_EACCES);
    /* prot R, but the maximum (RWX by default) is not covered. */
    assert_int_equal(
        vmar_map(ro, &(struct vmar_map_opts){.size = PG, .prot = R}, NULL),
        VMAR_EACCES);
    assert_int_equal(
        vmar_map(
            ro, &(struct vmar_map_opts){.size = PG, .prot = RW, .deny_prot = 4},
            NULL),
        VMAR_EACCES);
    VT_EXPECT_UNCHANGED(&vt, &snap);

    /* What the handle covers works, on the same space. */
    assert_int_equal(vmar_read(ro, A, &b, 1, NULL), 0);
    assert_int_equal(b, 'x');
    vmar_addr_t at;
    assert_int_equal(
        vmar_map(ro,
                 &(struct vmar_map_opts){.size = PG,
                                         .prot = R,
                                         .deny_prot =
                                             VMAR_PROT_WRITE | VMAR_PROT_EXEC},
                 &at),
        0);
    VT_CHECK(&vt);
    struct vmar_mapping_info info;
    assert_int_equal(vmar_query(vt.space, at, &info), 0);
    assert_int_equal(info.max_prot, R);
    assert_int_equal(vmar_protect(ro, A, PG, R), 0);
    /* Unmapping destroys contents: it needs WRITE. */
    assert_int_equal(vmar_unmap(ro, at, PG), VMAR_EACCES);
    assert_int_equal(vmar_unmap(vt.space, at, PG), 0);
    VT_CHECK(&vt);
    vmar_space_destroy(ro);
    vt_teardown(&vt);
}

/* Duplicating needs the DUP right and never adds rights. */
static void test_dup_rules(void **state)
{
    struct vt vt;
    struct vmar_space *a, *b, *c;
    (void)state;

    vt_setup(&vt, NULL, 0);
    assert_int_equal(vmar_space_dup(vt.space, RW, &a), 0); /* no DUP */
    assert_int_equal(vmar_space_dup(a, R, &b), VMAR_EACCES);
    assert_int_equal(
        vmar_space_dup(vt.space, VMAR_RIGHT_READ | VMAR_RIGHT_DUP, &b), 0);
    assert_int_equal(vmar_space_dup(b, VMAR_RIGHT_READ | VMAR_RIGHT_WRITE, &c),
                     VMAR_EACCES);
    assert_int_equal(vmar_space_dup(b, 1u << 4, &c), VMAR_EINVAL);
    assert_int_equal(vmar_space_dup(NULL, R, &c), VMAR_EINVAL);
    assert_int_equal(vmar_space_dup(b, 0, &c), 0); /* no rights at all */
    assert_int_equal(vmar_space_rights(c), 0);
    vmar_space_destroy(c);
    vmar_space_destroy(b);
    vmar_space_destroy(a);
    vt_teardown(&vt);
}

/* The space lives until its last handle goes, whichever that is. */
static void test_last_handle(void **state)
{
    struct vt vt;
    struct vmar_space *d;
    unsigned char b = 0;
    (void)state;

    vt_setup(&vt, NULL, 0);
    assert_int_equal(vt_map(&vt, A, PG, RW, VMAR_PLACE_FIXED, 0, NULL), 0);
    assert_int_equal(vmar_write(vt.space, A, "z", 1, NULL), 0);
    assert_int_equal(vmar_space_dup(vt.space, VMAR_RIGHTS_ALL, &d), 0);
    vmar_space_destroy(vt.space); /* the creator's handle goes first */
    vt.space = NULL;
    assert_int_equal(vmar_read(d, A, &b, 1, NULL), 0);
    assert_int_equal(b, 'z');
    assert_int_equal(vmar_check(d), 0);
    vmar_space_destroy(d); /* now the space goes */
    vt_teardown(&vt);      /* asserts nothing leaked */
}

/* A fork through a restricted handle gives a child with those rights. */
static void test_fork_keeps_rights(void **state)
{
    struct vt vt;
    struct vmar_space *h, *child;
    (void)state;

    vt_setup(&vt, NULL, 0);
    assert_int_equal(vmar_space_dup(vt.space, VMAR_RIGHT_READ, &h), 0);
    assert_int_equal(
        vmar_fork(h, &(struct vmar_fork_opts){.mmu_config = vt.sim}, &child),
        0);
    assert_int_equal(vmar_space_rights(child), VMAR_RIGHT_READ);
    vmar_space_destroy(child);
    vmar_space_destroy(h);
    vt_teardown(&vt);
}

/*
 * The rights table (vmar.h, "Rights"), operation by operation, against
 * every one of the 16 subsets of READ|WRITE|EXEC|DUP: each call either
 * succeeds or returns VMAR_EACCES, as the table says, and a refusal
 * leaves the space exactly as it was: layout, every field of every
 * mapping, counters, residency, frame and page-table contents, metadata.
 */

#define B  ((vmar_addr_t)0x50000000) /* RX, 2 pages, not resident */
#define F  ((vmar_addr_t)0x60000000) /* free */
#define RX (VMAR_PROT_READ | VMAR_PROT_EXEC)
#define WX (VMAR_PROT_WRITE | VMAR_PROT_EXEC)
#define RR VMAR_RIGHT_READ
#define WR VMAR_RIGHT_WRITE
#define XR VMAR_RIGHT_EXEC
#define DR VMAR_RIGHT_DUP

/* A device range outside the sim's RAM, below every backend's limit. */
#define DEV_PA ((vmar_paddr_t)0x80000000)

struct rights_case {
    const char *name;
    unsigned need; /* vmar_rights bits the table asks for */
    int (*op)(struct vt *vt, struct vmar_space *h);
};

static int map_with(struct vmar_space *h, vmar_addr_t at, enum vmar_place place,
                    unsigned prot, unsigned deny, unsigned flags)
{
    return vmar_map(h,
                    &(struct vmar_map_opts){.addr = at,
                                            .size = 2 * PG,
                                            .place = place,
                                            .prot = prot,
                                            .deny_prot = deny,
                                            .flags = flags},
                    NULL);
}

static int op_map_any_r(struct vt *vt, struct vmar_space *h)
{
    (void)vt;
    return map_with(h, 0, VMAR_PLACE_ANY, R, WX, 0);
}

static int op_map_any_max(struct vt *vt, struct vmar_space *h)
{
    (void)vt; /* prot R, maximum RWX (deny_prot 0) */
    return map_with(h, 0, VMAR_PLACE_ANY, R, 0, 0);
}

static int op_map_any_rw(struct vt *vt, struct vmar_space *h)
{
    (void)vt;
    return map_with(h, 0, VMAR_PLACE_ANY, RW, VMAR_PROT_EXEC, 0);
}

static int op_map_any_rx(struct vt *vt, struct vmar_space *h)
{
    (void)vt;
    return map_with(h, 0, VMAR_PLACE_ANY, RX, VMAR_PROT_WRITE, 0);
}

static int op_map_none(struct vt *vt, struct vmar_space *h)
{
    (void)vt; /* PROT_NONE that may never gain anything */
    return map_with(h, 0, VMAR_PLACE_ANY, 0, RWX, 0);
}

static int op_map_hint(struct vt *vt, struct vmar_space *h)
{
    (void)vt;
    return map_with(h, F, VMAR_PLACE_HINT, R, WX, 0);
}

static int op_map_noreplace(struct vt *vt, struct vmar_space *h)
{
    (void)vt;
    return map_with(h, F, VMAR_PLACE_FIXED_NOREPLACE, R, WX, 0);
}

static int op_map_fixed_free(struct vt *vt, struct vmar_space *h)
{
    (void)vt;
    return map_with(h, F, VMAR_PLACE_FIXED, R, WX, 0);
}

static int op_map_fixed_over(struct vt *vt, struct vmar_space *h)
{
    (void)vt; /* replaces the written pages of A */
    return map_with(h, A, VMAR_PLACE_FIXED, R, WX, 0);
}

static int op_map_populate(struct vt *vt, struct vmar_space *h)
{
    (void)vt;
    return map_with(h, 0, VMAR_PLACE_ANY, RW, VMAR_PROT_EXEC,
                    VMAR_MAP_POPULATE);
}

static int map_object(struct vt *vt, struct vmar_space *h, unsigned prot,
                      unsigned deny, unsigned flags)
{
    struct vmar_object *obj;
    int rc;

    assert_int_equal(vmar_memfd_create(vt->env, 2 * PG, &obj), 0);
    rc = vmar_map(h,
                  &(struct vmar_map_opts){.size = 2 * PG,
                                          .prot = prot,
                                          .deny_prot = deny,
                                          .flags = flags,
                                          .backing = VMAR_BACKING_OBJECT,
                                          .object = obj},
                  NULL);
    vmar_object_unref(obj); /* a mapping holds its own reference */
    return rc;
}

static int op_map_obj_shared(struct vt *vt, struct vmar_space *h)
{
    return map_object(vt, h, RW, VMAR_PROT_EXEC,
                      VMAR_MAP_SHARED | VMAR_MAP_POPULATE);
}

static int op_map_obj_private(struct vt *vt, struct vmar_space *h)
{
    return map_object(vt, h, R, WX, 0);
}

static int op_map_device(struct vt *vt, struct vmar_space *h)
{
    (void)vt;
    return vmar_map(h,
                    &(struct vmar_map_opts){.size = 2 * PG,
                                            .prot = RW,
                                            .deny_prot = VMAR_PROT_EXEC,
                                            .backing = VMAR_BACKING_DEVICE,
                                            .paddr = DEV_PA,
                                            .cache = VMAR_CACHE_UC},
                    NULL);
}

static int op_unmap(struct vt *vt, struct vmar_space *h)
{
    (void)vt;
    return vmar_unmap(h, A + PG, 2 * PG);
}

static int op_unmap_hole(struct vt *vt, struct vmar_space *h)
{
    (void)vt; /* nothing there: refused all the same */
    return vmar_unmap(h, F, PG);
}

static int op_protect_r(struct vt *vt, struct vmar_space *h)
{
    (void)vt;
    return vmar_protect(h, A, PG, R);
}

static int op_protect_rw(struct vt *vt, struct vmar_space *h)
{
    (void)vt;
    return vmar_protect(h, A + PG, PG, RW);
}

static int op_protect_rx(struct vt *vt, struct vmar_space *h)
{
    (void)vt;
    return vmar_protect(h, A, PG, RX);
}

static int op_protect_none(struct vt *vt, struct vmar_space *h)
{
    (void)vt;
    return vmar_protect(h, A, 4 * PG, 0);
}

static int op_remap_shrink(struct vt *vt, struct vmar_space *h)
{
    (void)vt;
    return vmar_remap(h, A, 4 * PG, PG, 0, 0, NULL);
}

static int op_remap_grow(struct vt *vt, struct vmar_space *h)
{
    (void)vt;
    return vmar_remap(h, A, 4 * PG, 8 * PG, 0, 0, NULL);
}

static int op_remap_move(struct vt *vt, struct vmar_space *h)
{
    (void)vt;
    return vmar_remap(h, A, 4 * PG, 4 * PG,
                      VMAR_REMAP_MAYMOVE | VMAR_REMAP_FIXED, F, NULL);
}

static int op_remap_dontunmap(struct vt *vt, struct vmar_space *h)
{
    (void)vt;
    return vmar_remap(h, A, 4 * PG, 4 * PG,
                      VMAR_REMAP_MAYMOVE | VMAR_REMAP_DONTUNMAP, 0, NULL);
}

static int op_resize(struct vt *vt, struct vmar_space *h)
{
    (void)vt;
    return vmar_resize(h, A, 4 * PG, 2 * PG);
}

static int op_clear(struct vt *vt, struct vmar_space *h)
{
    (void)vt;
    return vmar_clear(h);
}

#define ADVISE_OP(fn, advice)                                                  \
    static int fn(struct vt *vt, struct vmar_space *h)                         \
    {                                                                          \
        (void)vt;                                                              \
        return vmar_advise(h, A, 2 * PG, advice);                              \
    }
ADVISE_OP(op_advise_normal, VMAR_ADVISE_NORMAL)
ADVISE_OP(op_advise_random, VMAR_ADVISE_RANDOM)
ADVISE_OP(op_advise_sequential, VMAR_ADVISE_SEQUENTIAL)
ADVISE_OP(op_advise_willneed, VMAR_ADVISE_WILLNEED)
ADVISE_OP(op_advise_dontneed, VMAR_ADVISE_DONTNEED)
ADVISE_OP(op_advise_free, VMAR_ADVISE_FREE)
ADVISE_OP(op_advise_dontfork, VMAR_ADVISE_DONTFORK)
ADVISE_OP(op_advise_dofork, VMAR_ADVISE_DOFORK)

static int op_fault_read(struct vt *vt, struct vmar_space *h)
{
    (void)vt; /* page 2 of A is not resident yet */
    return vmar_fault(h, A + 2 * PG, VMAR_ACCESS_READ, VMAR_FAULT_USER);
}

static int op_fault_write(struct vt *vt, struct vmar_space *h)
{
    (void)vt;
    return vmar_fault(h, A + 2 * PG, VMAR_ACCESS_WRITE, VMAR_FAULT_USER);
}

static int op_fault_exec(struct vt *vt, struct vmar_space *h)
{
    (void)vt;
    return vmar_fault(h, B, VMAR_ACCESS_EXEC, VMAR_FAULT_USER);
}

static int op_read(struct vt *vt, struct vmar_space *h)
{
    unsigned char b[2] = {0, 0};
    size_t done = 99;
    (void)vt;
    int rc = vmar_read(h, A + PG - 1, b, 2, &done); /* across two pages */
    assert_int_equal(done, rc ? 0 : 2);
    if (!rc)
        assert_int_equal(b[1], 'b');
    return rc;
}

static int op_write(struct vt *vt, struct vmar_space *h)
{
    size_t done = 99;
    (void)vt;
    int rc = vmar_write(h, A + PG - 1, "xy", 2, &done);
    assert_int_equal(done, rc ? 0 : 2);
    return rc;
}

static int op_fill_zero(struct vt *vt, struct vmar_space *h)
{
    size_t done = 99;
    (void)vt;
    int rc = vmar_fill_zero(h, A, PG + 1, &done);
    assert_int_equal(done, rc ? 0 : PG + 1);
    return rc;
}

static int op_fork(struct vt *vt, struct vmar_space *h)
{
    struct vmar_space *child = NULL;
    int rc =
        vmar_fork(h, &(struct vmar_fork_opts){.mmu_config = vt->sim}, &child);
    if (!rc) {
        assert_int_equal(vmar_space_rights(child), vmar_space_rights(h));
        assert_int_equal(vmar_check(child), 0);
        vmar_space_destroy(child);
    }
    return rc;
}

static int op_dup_none(struct vt *vt, struct vmar_space *h)
{
    struct vmar_space *d = NULL;
    int rc = vmar_space_dup(h, 0, &d);
    (void)vt;
    if (!rc)
        vmar_space_destroy(d);
    return rc;
}

static int op_dup_read(struct vt *vt, struct vmar_space *h)
{
    struct vmar_space *d = NULL;
    int rc = vmar_space_dup(h, VMAR_RIGHT_READ, &d);
    (void)vt;
    if (!rc) {
        assert_int_equal(vmar_space_rights(d), VMAR_RIGHT_READ);
        vmar_space_destroy(d);
    }
    return rc;
}

static int count_fn(void *arg, const struct vmar_mapping_info *info)
{
    (void)info;
    ++*(size_t *)arg;
    return 0;
}

static void count_line(void *arg, const char *line)
{
    (void)line;
    ++*(size_t *)arg;
}

/* The operations that only look: they need no right. */
static int op_inspect(struct vt *vt, struct vmar_space *h)
{
    struct vmar_mapping_info info;
    struct vmar_stats st;
    vmar_size_t bytes = 0;
    size_t n = 0, lines = 0;

    assert_int_equal(vmar_query(h, A, &info), 0);
    assert_int_equal(info.start, A);
    assert_int_equal(vmar_iterate(h, 0, VT_USER_TOP, count_fn, &n), 0);
    assert_int_equal(vmar_resident(h, A, A + 4 * PG, &bytes), 0);
    assert_int_equal(bytes, 2 * PG);
    vmar_stats(h, &st);
    assert_int_equal(st.map_count, n);
    vmar_dump(h, count_line, &lines);
    assert_int_equal(lines, n);
    assert_int_equal(vmar_space_rights(h) & ~(unsigned)VMAR_RIGHTS_ALL, 0);
    (void)vt;
    return vmar_check(h);
}

static int op_set_limits(struct vt *vt, struct vmar_space *h)
{
    (void)vt; /* cannot fail: generous limits change nothing observable */
    vmar_set_limits(h, 0, 0);
    return 0;
}

static const struct rights_case rights_cases[] = {
    {"map ANY R, max R", RR, op_map_any_r},
    {"map ANY R, max RWX", RR | WR | XR, op_map_any_max},
    {"map ANY RW", RR | WR, op_map_any_rw},
    {"map ANY RX", RR | XR, op_map_any_rx},
    {"map ANY NONE, max NONE", 0, op_map_none},
    {"map HINT R", RR, op_map_hint},
    {"map FIXED_NOREPLACE R", RR, op_map_noreplace},
    {"map FIXED R on a free range", RR | WR, op_map_fixed_free},
    {"map FIXED R over a mapping", RR | WR, op_map_fixed_over},
    {"map POPULATE RW", RR | WR, op_map_populate},
    {"map shared object RW", RR | WR, op_map_obj_shared},
    {"map private object R", RR, op_map_obj_private},
    {"map device RW", RR | WR, op_map_device},
    {"unmap", WR, op_unmap},
    {"unmap a hole", WR, op_unmap_hole},
    {"protect R", RR, op_protect_r},
    {"protect RW", RR | WR, op_protect_rw},
    {"protect RX", RR | XR, op_protect_rx},
    {"protect NONE", 0, op_protect_none},
    {"remap shrink", WR, op_remap_shrink},
    {"remap grow", WR, op_remap_grow},
    {"remap move FIXED", WR, op_remap_move},
    {"remap DONTUNMAP", WR, op_remap_dontunmap},
    {"resize", WR, op_resize},
    {"clear", WR, op_clear},
    {"advise NORMAL", 0, op_advise_normal},
    {"advise RANDOM", 0, op_advise_random},
    {"advise SEQUENTIAL", 0, op_advise_sequential},
    {"advise WILLNEED", 0, op_advise_willneed},
    {"advise DONTNEED", WR, op_advise_dontneed},
    {"advise FREE", WR, op_advise_free},
    {"advise DONTFORK", 0, op_advise_dontfork},
    {"advise DOFORK", 0, op_advise_dofork},
    {"fault READ", RR, op_fault_read},
    {"fault WRITE", WR, op_fault_write},
    {"fault EXEC", XR, op_fault_exec},
    {"read", RR, op_read},
    {"write", WR, op_write},
    {"fill_zero", WR, op_fill_zero},
    {"fork", RR, op_fork},
    {"dup to no rights", DR, op_dup_none},
    {"dup to READ", DR | RR, op_dup_read},
    {"query, iterate, resident, stats, dump, check", 0, op_inspect},
    {"set_limits", 0, op_set_limits},
};

/* Every field of every mapping, one line each (vt_snap's layout shows
 * neither the maximum nor the kept flags such as DONTFORK). */
static int info_line(void *arg, const struct vmar_mapping_info *i)
{
    char **s = arg;
    char line[256];
    size_t old = strlen(*s);

    snprintf(line, sizeof(line), "%llx-%llx p%x m%x f%x b%d o%llx c%d %p\n",
             (unsigned long long)i->start, (unsigned long long)i->end, i->prot,
             i->max_prot, i->flags, (int)i->backing,
             (unsigned long long)i->offset, (int)i->cache, (void *)i->object);
    *s = realloc(*s, old + strlen(line) + 1);
    assert_non_null(*s);
    memcpy(*s + old, line, strlen(line) + 1);
    return 0;
}

static char *mapping_list(struct vt *vt)
{
    char *s = calloc(1, 1);
    assert_non_null(s);
    assert_int_equal(vmar_iterate(vt->space, 0, VT_USER_TOP, info_line, &s), 0);
    return s;
}

/* A: RW private anonymous, 4 pages, pages 0 and 1 written ('a', 'b' at
 * the start of page 1); B: RX, 2 pages, nothing resident. */
static void rights_fixture(struct vt *vt)
{
    vt_setup(vt, NULL, 512); /* 2 MiB: 704 machines stay cheap */
    assert_int_equal(vt_map(vt, A, 4 * PG, RW, VMAR_PLACE_FIXED, 0, NULL), 0);
    assert_int_equal(vt_map(vt, B, 2 * PG, RX, VMAR_PLACE_FIXED, 0, NULL), 0);
    assert_int_equal(vmar_write(vt->space, A + PG - 1, "ab", 2, NULL), 0);
    VT_CHECK(vt);
}

static void test_rights_table(void **state)
{
    size_t wrong = 0;
    (void)state;

    for (size_t c = 0; c < sizeof(rights_cases) / sizeof(rights_cases[0]);
         c++) {
        const struct rights_case *rc_ = &rights_cases[c];
        for (unsigned rights = 0; rights <= VMAR_RIGHTS_ALL; rights++) {
            const bool allowed = (rc_->need & ~rights) == 0;
            struct vt vt;
            struct vmar_space *h;
            struct vt_snap snap;
            vmar_size_t res0, res1;

            rights_fixture(&vt);
            assert_int_equal(vmar_space_dup(vt.space, rights, &h), 0);
            vt_snap_take(&vt, &snap);
            char *before = mapping_list(&vt);
            assert_int_equal(
                vmar_resident(vt.space, 0, VT_USER_TOP & ~(PG - 1), &res0), 0);
            int rc = rc_->op(&vt, h);
            if (rc != (allowed ? 0 : VMAR_EACCES)) {
                /* Report every wrong cell of the table, then fail. */
                fprintf(stderr, "%s with rights %#x: %s, want %s\n", rc_->name,
                        rights, vmar_errname(rc),
                        allowed ? "0" : "VMAR_EACCES");
                wrong++;
                vt_snap_free(&snap);
            } else if (allowed) {
                vt_snap_free(&snap);
                VT_CHECK(&vt);
            } else {
                char *after = mapping_list(&vt);
                assert_string_equal(after, before);
                free(after);
                assert_int_equal(
                    vmar_resident(vt.space, 0, VT_USER_TOP & ~(PG - 1), &res1),
                    0);
                assert_int_equal(res1, res0);
                VT_EXPECT_UNCHANGED(&vt, &snap); /* also runs vmar_check */
            }
            free(before);
            vmar_space_destroy(h);
            vt_teardown(&vt);
        }
    }
    assert_int_equal(wrong, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_all),
        cmocka_unit_test(test_read_only_handle),
        cmocka_unit_test(test_dup_rules),
        cmocka_unit_test(test_last_handle),
        cmocka_unit_test(test_fork_keeps_rights),
        cmocka_unit_test(test_rights_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
