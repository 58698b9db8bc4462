/* SPDX-License-Identifier: MIT */
/*
 * Memory objects: shared and private object mappings, copy-on-write and
 * reuse, pages past the end, the MAY_WRITE rule, fault-around, populate,
 * notify_write, errors from the object, RSS split, and the built-in memfd.
 * Contents are checked through vmar_read/vmar_write and through a
 * simulated CPU; vmar_check runs after every step (VT_CHECK).
 */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

#define A         ((vmar_addr_t)0x40000000)
#define B         ((vmar_addr_t)0x50000000)
#define C         ((vmar_addr_t)0x60000000)
#define R         VMAR_PROT_READ
#define RW        (VMAR_PROT_READ | VMAR_PROT_WRITE)
#define RD        VMAR_ACCESS_READ
#define WR        VMAR_ACCESS_WRITE
#define MAX_PAGES 64

/* ---- a test object: an embedder's page cache in miniature ---------------- */

/* What a misbehaving get_page hands back for page bad_index. */
enum tobj_bad {
    BAD_NONE,
    BAD_ANON,      /* a frame marked private anonymous, with a reference */
    BAD_ZERO,      /* pa 0 */
    BAD_UNALIGNED, /* an address inside a frame, not its start */
    BAD_NOREF,     /* a frame whose count is 0: no reference handed over */
    BAD_RC,        /* a positive return, not a VMAR_E* code */
    BAD_COUNT
};

/* Calls of the bad page's get_page after which the object gives up with
 * VMAR_EBUSY: a library that loops on the answer fails instead of hanging. */
#define BAD_GETS_MAX 50u

struct tobj {
    struct vmar_object obj; /* first */
    const struct vmar_env *env;
    uint64_t pages;                /* size in pages */
    vmar_paddr_t pa[MAX_PAGES];    /* 0: not in memory yet */
    unsigned gets, present_misses; /* get_page calls, GET_PRESENT misses */
    unsigned notified;             /* notify_write calls */
    int fail_get;                  /* error get_page returns, 0: none */
    enum tobj_bad bad;             /* how page bad_index misbehaves */
    uint64_t bad_index;
    unsigned bad_gets; /* get_page calls for it */
    vmar_paddr_t raw;  /* BAD_NOREF's frame, straight from frame_alloc */
    bool released;
};

static struct tobj *tobj_of(struct vmar_object *o)
{
    return (struct tobj *)(void *)o;
}

static uint64_t tobj_size(struct vmar_object *o)
{
    return tobj_of(o)->pages * PG;
}

/* The private-anonymous marker libvmar keeps in the count word's top bit
 * (docs/CONTRACT.md), as on a frame saved from an anonymous mapping. */
#define ANON_MARKER ((size_t)1 << (sizeof(size_t) * 8 - 1))

static size_t *refword(const struct vmar_env *env, vmar_paddr_t pa)
{
    return env->frame_refcount(env->ctx, pa);
}

/* Bring the bad page into the object (its state, not a space's: tests
 * call it before they take a snapshot). */
static void tobj_bad_frame(struct tobj *t)
{
    const struct vmar_env *env = t->env;
    const uint64_t index = t->bad_index;

    if (t->bad == BAD_NOREF) {
        if (!t->raw)
            assert_int_equal(
                env->frame_alloc(env->ctx, VMAR_FRAME_ZERO, &t->raw), 0);
    } else if (!t->pa[index]) {
        assert_int_equal(vmar_frame_new(env, &t->pa[index]), 0);
        if (t->bad == BAD_ANON)
            __atomic_or_fetch(refword(env, t->pa[index]), ANON_MARKER,
                              __ATOMIC_SEQ_CST);
    }
}

static int tobj_get_bad(struct tobj *t, uint64_t index, vmar_paddr_t *pa)
{
    if (++t->bad_gets > BAD_GETS_MAX)
        return VMAR_EBUSY;
    if (t->bad == BAD_RC)
        return 1;
    if (t->bad == BAD_ZERO) {
        *pa = 0;
        return 0;
    }
    tobj_bad_frame(t);
    if (t->bad == BAD_NOREF) {
        *pa = t->raw;
        return 0;
    }
    if (t->bad == BAD_UNALIGNED) {
        *pa = t->pa[index] + 0x100;
        return 0;
    }
    vmar_frame_get(t->env, t->pa[index]); /* BAD_ANON: a real reference */
    *pa = t->pa[index];
    return 0;
}

static int tobj_get(struct vmar_object *o, uint64_t index, unsigned flags,
                    vmar_paddr_t *pa)
{
    struct tobj *t = tobj_of(o);

    t->gets++;
    if (t->fail_get)
        return t->fail_get;
    if (t->bad != BAD_NONE && index == t->bad_index)
        return tobj_get_bad(t, index, pa);
    assert_true(index < t->pages); /* libvmar checks the end first */
    if (!t->pa[index]) {
        if (flags & VMAR_OBJECT_GET_PRESENT) {
            t->present_misses++;
            return VMAR_ENOENT;
        }
        int rc = vmar_frame_new(t->env, &t->pa[index]);
        if (rc)
            return rc;
        /* Content: page i starts with 0xA0 + i. */
        unsigned char *p = t->env->phys_to_virt(t->env->ctx, t->pa[index]);
        p[0] = (unsigned char)(0xA0 + index);
    }
    vmar_frame_get(t->env, t->pa[index]);
    *pa = t->pa[index];
    return 0;
}

static int tobj_notify(struct vmar_object *o, uint64_t index)
{
    (void)index;
    tobj_of(o)->notified++;
    return 0;
}

static void tobj_release(struct vmar_object *o)
{
    struct tobj *t = tobj_of(o);

    for (uint64_t i = 0; i < t->pages; i++)
        if (t->pa[i])
            vmar_frame_put(t->env, t->pa[i]);
    memset(t->pa, 0, sizeof(t->pa));
    if (t->raw)
        t->env->frame_free(t->env->ctx, t->raw);
    t->raw = 0;
    t->released = true;
}

static const struct vmar_object_ops tobj_ops = {
    .abi = VMAR_OBJECT_ABI,
    .size = tobj_size,
    .get_page = tobj_get,
    .release = tobj_release,
};

static const struct vmar_object_ops tobj_notify_ops = {
    .abi = VMAR_OBJECT_ABI,
    .size = tobj_size,
    .get_page = tobj_get,
    .notify_write = tobj_notify,
    .release = tobj_release,
};

static void tobj_init(struct tobj *t, struct vt *vt, uint64_t pages,
                      unsigned max_prot, const struct vmar_object_ops *ops)
{
    memset(t, 0, sizeof(*t));
    assert_true(pages <= MAX_PAGES);
    t->env = vt->env;
    t->pages = pages;
    vmar_object_init(&t->obj, ops, max_prot);
}

/* Drop the test's own reference; the object goes once no mapping holds
 * it. */
static void tobj_done(struct tobj *t)
{
    vmar_object_unref(&t->obj);
}

/* ---- helpers --------------------------------------------------------------
 */

static int map_obj(struct vt *vt, vmar_addr_t at, vmar_size_t size,
                   unsigned prot, unsigned flags, struct vmar_object *obj,
                   uint64_t offset)
{
    struct vmar_map_opts o = {.addr = at,
                              .size = size,
                              .place = VMAR_PLACE_FIXED_NOREPLACE,
                              .prot = prot,
                              .flags = flags,
                              .backing = VMAR_BACKING_OBJECT,
                              .object = obj,
                              .offset = offset};
    return vt_map_opts(vt, &o, NULL);
}

/* ---- tests ----------------------------------------------------------------
 */

/* Two shared mappings of one object see each other's writes; the pages
 * are file memory; the object outlives the test's reference until the
 * last mapping goes. */
static void test_shared_object(void **state)
{
    struct vt vt;
    struct tobj t;
    (void)state;

    vt_setup(&vt, NULL, 0);
    tobj_init(&t, &vt, 8, VMAR_PROT_RWX, &tobj_ops);
    assert_int_equal(map_obj(&vt, A, 8 * PG, RW, VMAR_MAP_SHARED, &t.obj, 0),
                     0);
    assert_int_equal(
        map_obj(&vt, B, 4 * PG, RW, VMAR_MAP_SHARED, &t.obj, 4 * PG), 0);
    assert_int_equal(vt_peek(&vt, A + 5 * PG), 0xA5); /* object content */
    vt_poke(&vt, B + PG + 9, 0x77);                   /* object page 5 */
    assert_int_equal(vt_peek(&vt, A + 5 * PG + 9), 0x77);
    vt_expect_rss(&vt, 0, 2);
    tobj_done(&t);
    assert_false(t.released); /* the mappings hold it */
    assert_int_equal(vt_unmap(&vt, A, 8 * PG), 0);
    assert_false(t.released);
    vt_expect_rss(&vt, 0, 1);
    assert_int_equal(vt_unmap(&vt, B, 4 * PG), 0);
    assert_true(t.released);
    vt_expect_rss(&vt, 0, 0);
    vt_teardown(&vt);
}

/* A private mapping reads the object's page, copies it on the first write
 * (the object and other mappings keep the original), and after the copy
 * the page is anonymous memory of the space. */
static void test_private_cow(void **state)
{
    struct vt vt;
    struct tobj t;
    (void)state;

    vt_setup(&vt, NULL, 0);
    tobj_init(&t, &vt, 4, VMAR_PROT_RWX, &tobj_ops);
    assert_int_equal(map_obj(&vt, A, 4 * PG, RW, 0, &t.obj, 0), 0);
    assert_int_equal(map_obj(&vt, B, 4 * PG, R, VMAR_MAP_SHARED, &t.obj, 0), 0);
    assert_int_equal(vt_peek(&vt, A + 2 * PG), 0xA2);
    vt_expect_rss(&vt, 0, 1); /* the object's page, read-only */
    vt_poke(&vt, A + 2 * PG, 0x11);
    vt_expect_rss(&vt, 1, 0); /* now a private copy */
    assert_int_equal(vt_peek(&vt, A + 2 * PG), 0x11);
    assert_int_equal(vt_peek(&vt, B + 2 * PG), 0xA2); /* object unchanged */
    vt_expect_rss(&vt, 1, 1);
    /* A write fault on an absent page copies straight away. */
    vt_poke(&vt, A + 3 * PG + 1, 0x22);
    assert_int_equal(vt_peek(&vt, A + 3 * PG), 0xA3);
    assert_int_equal(vt_peek(&vt, B + 3 * PG + 1), 0);
    vt_expect_rss(&vt, 2, 2);
    /* A second write reuses the private copy in place: no new frame. */
    struct vmar_sim_stats s0 = vt_stats(&vt);
    vt_poke(&vt, A + 3 * PG + 2, 0x33);
    assert_int_equal(vt_stats(&vt).frames_live, s0.frames_live);
    tobj_done(&t);
    vt_teardown(&vt);
    assert_true(t.released);
}

/* Past the end: a shared mapping faults with VMAR_ENXIO (SIGBUS); a private
 * one gets zero-filled anonymous pages, unless VMAR_MAP_EOF_FAULT. */
static void test_past_end(void **state)
{
    struct vt vt;
    struct tobj t;
    unsigned char b = 0;
    (void)state;

    vt_setup(&vt, NULL, 0);
    tobj_init(&t, &vt, 2, VMAR_PROT_RWX, &tobj_ops);
    assert_int_equal(map_obj(&vt, A, 4 * PG, RW, VMAR_MAP_SHARED, &t.obj, 0),
                     0);
    assert_int_equal(map_obj(&vt, B, 4 * PG, RW, 0, &t.obj, 0), 0);
    assert_int_equal(
        map_obj(&vt, B + 8 * PG, 4 * PG, RW, VMAR_MAP_EOF_FAULT, &t.obj, 0), 0);
    assert_int_equal(vmar_fault(vt.space, A + PG, RD, VMAR_FAULT_USER), 0);
    assert_int_equal(vmar_fault(vt.space, A + 2 * PG, RD, VMAR_FAULT_USER),
                     VMAR_ENXIO);
    assert_int_equal(vmar_read(vt.space, A + 3 * PG, &b, 1, NULL), VMAR_EFAULT);
    assert_int_equal(vt_peek(&vt, B + 3 * PG), 0);
    vt_expect_rss(&vt, 1, 1);
    assert_int_equal(vmar_fault(vt.space, B + 10 * PG, WR, VMAR_FAULT_USER),
                     VMAR_ENXIO);
    assert_int_equal(vt_peek(&vt, B + 9 * PG), 0xA1);
    VT_CHECK(&vt);
    /* Truncation-like growth: the page exists now. */
    t.pages = 4;
    assert_int_equal(vt_peek(&vt, A + 2 * PG), 0xA2);
    tobj_done(&t);
    vt_teardown(&vt);
}

/* The MAY_WRITE rule: an object that does not allow writing gives shared
 * mappings that can never become writable; private ones may write to
 * their copies. */
static void test_may_write(void **state)
{
    struct vt vt;
    struct tobj t;
    struct vmar_mapping_info info;
    (void)state;

    vt_setup(&vt, NULL, 0);
    tobj_init(&t, &vt, 4, R, &tobj_ops);
    assert_int_equal(map_obj(&vt, A, 4 * PG, RW, VMAR_MAP_SHARED, &t.obj, 0),
                     VMAR_EACCES);
    assert_int_equal(map_obj(&vt, A, 4 * PG, R, VMAR_MAP_SHARED, &t.obj, 0), 0);
    assert_int_equal(vmar_query(vt.space, A, &info), 0);
    assert_int_equal(info.max_prot, R);
    assert_ptr_equal(info.object, &t.obj);
    struct vt_snap snap;
    vt_snap_take(&vt, &snap);
    assert_int_equal(vmar_protect(vt.space, A, PG, RW), VMAR_EACCES);
    VT_EXPECT_UNCHANGED(&vt, &snap);
    /* Exec is not allowed either, private or shared. */
    assert_int_equal(map_obj(&vt, B, PG, R | VMAR_PROT_EXEC, 0, &t.obj, 0),
                     VMAR_EACCES);
    assert_int_equal(map_obj(&vt, B, 4 * PG, RW, 0, &t.obj, 0), 0);
    vt_poke(&vt, B, 0x5A);
    assert_int_equal(vt_peek(&vt, A), 0xA0);
    tobj_done(&t);
    vt_teardown(&vt);
}

/* Fault-around maps the object pages already in memory around a read
 * fault, inside the mapping and one aligned 16-page window; without the
 * flag, only the faulting page. */
static void test_fault_around(void **state)
{
    struct vt vt;
    struct tobj t;
    vmar_size_t res;
    (void)state;

    vt_setup(&vt, NULL, 0);
    tobj_init(&t, &vt, 40, VMAR_PROT_RWX, &tobj_ops);
    /* Bring pages 0..39 into the object, except 20. */
    assert_int_equal(map_obj(&vt, B, 40 * PG, R, VMAR_MAP_SHARED, &t.obj, 0),
                     0);
    for (unsigned i = 0; i < 40; i++)
        if (i != 20)
            (void)vt_peek(&vt, B + i * PG);
    assert_int_equal(vt_unmap(&vt, B, 40 * PG), 0);

    assert_int_equal(map_obj(&vt, A, 40 * PG, R, 0, &t.obj, 0), 0);
    assert_int_equal(
        map_obj(&vt, A + 64 * PG, 40 * PG, R, VMAR_MAP_FAULT_AROUND, &t.obj, 0),
        0);
    (void)vt_peek(&vt, A + 5 * PG);
    assert_int_equal(vmar_resident(vt.space, A, A + 40 * PG, &res), 0);
    assert_int_equal(res, PG);
    /* Window of page 21 is pages 16..31; page 20 is not in memory. */
    unsigned misses = t.present_misses;
    assert_int_equal(vt_peek(&vt, A + 64 * PG + 21 * PG), 0xA0 + 21);
    assert_int_equal(vmar_resident(vt.space, A + 64 * PG, A + 104 * PG, &res),
                     0);
    assert_int_equal(res, 15 * PG);
    assert_int_equal(t.present_misses, misses + 1);
    vt_expect_rss(&vt, 0, 16);
    /* Mapped around pages read the object's content, read-only. */
    assert_int_equal(vt_peek(&vt, A + 64 * PG + 30 * PG), 0xA0 + 30);
    assert_int_equal(vmar_fault(vt.space, A + 64 * PG + 31 * PG, WR, 0),
                     VMAR_EACCES);
    /* Clipped to the mapping: a mapping of pages 36..39 only. */
    assert_int_equal(map_obj(&vt, A + 128 * PG, 4 * PG, R,
                             VMAR_MAP_FAULT_AROUND, &t.obj, 36 * PG),
                     0);
    (void)vt_peek(&vt, A + 128 * PG);
    assert_int_equal(vmar_resident(vt.space, A + 128 * PG, A + 132 * PG, &res),
                     0);
    assert_int_equal(res, 4 * PG);
    /* Write faults do not fault around. */
    assert_int_equal(vt_unmap(&vt, A + 64 * PG, 40 * PG), 0);
    assert_int_equal(map_obj(&vt, A + 64 * PG, 40 * PG, RW,
                             VMAR_MAP_FAULT_AROUND, &t.obj, 0),
                     0);
    vt_poke(&vt, A + 64 * PG + 3 * PG, 1);
    assert_int_equal(vmar_resident(vt.space, A + 64 * PG, A + 104 * PG, &res),
                     0);
    assert_int_equal(res, PG);
    tobj_done(&t);
    vt_teardown(&vt);
}

/* Fault-around in the last page of the user range (found by the
 * differential driver): the aligned window would run past the top, so its
 * page-table reservation must be clipped to the mapping like the window
 * itself. And in the first page of a mapping whose window starts below
 * it. */
static void test_fault_around_top(void **state)
{
    struct vt vt;
    struct tobj t;
    struct vmar_stats st;
    vmar_size_t res;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vmar_stats(vt.space, &st);
    tobj_init(&t, &vt, 16, VMAR_PROT_RWX, &tobj_ops);
    const vmar_addr_t top = st.user_hi - PG;
    assert_int_equal(map_obj(&vt, top, PG, R, VMAR_MAP_SHARED, &t.obj, 0), 0);
    assert_int_equal(vt_peek(&vt, top), 0xA0); /* page 0 now in the object */
    assert_int_equal(vt_unmap(&vt, top, PG), 0);
    assert_int_equal(map_obj(&vt, top, PG, R, VMAR_MAP_FAULT_AROUND, &t.obj, 0),
                     0);
    assert_int_equal(vmar_fault(vt.space, top, VMAR_ACCESS_READ, 0), 0);
    VT_CHECK(&vt);
    assert_int_equal(vmar_resident(vt.space, top, st.user_hi, &res), 0);
    assert_int_equal(res, PG);
    assert_int_equal(vt_unmap(&vt, top, PG), 0);
    tobj_done(&t);
    vt_teardown(&vt);
}

/* notify_write: a shared page read first is mapped read-only; its first
 * write calls the hook once and makes it writable. */
static void test_notify_write(void **state)
{
    struct vt vt;
    struct tobj t;
    (void)state;

    vt_setup(&vt, NULL, 0);
    tobj_init(&t, &vt, 4, VMAR_PROT_RWX, &tobj_notify_ops);
    assert_int_equal(map_obj(&vt, A, 4 * PG, RW, VMAR_MAP_SHARED, &t.obj, 0),
                     0);
    assert_int_equal(vt_peek(&vt, A), 0xA0);
    assert_int_equal(t.notified, 0u);
    vt_poke(&vt, A + 1, 9);
    assert_int_equal(t.notified, 1u);
    vt_poke(&vt, A + 2, 9);
    assert_int_equal(t.notified, 1u);
    vt_poke(&vt, A + PG, 9); /* absent page, write fault: once */
    assert_int_equal(t.notified, 2u);
    /* protect keeps a read-only shared page read-only: the hook must hear
     * of the next write. */
    assert_int_equal(vt_protect(&vt, A, 4 * PG, R), 0);
    assert_int_equal(vt_protect(&vt, A, 4 * PG, RW), 0);
    (void)vt_peek(&vt, A + 2 * PG);
    vt_poke(&vt, A + 2 * PG, 1);
    assert_int_equal(t.notified, 3u);
    tobj_done(&t);
    vt_teardown(&vt);
}

/* An object's error reaches the fault; nothing changes. */
static void test_object_errors(void **state)
{
    struct vt vt;
    struct tobj t;
    struct vt_snap snap;
    (void)state;

    vt_setup(&vt, NULL, 0);
    tobj_init(&t, &vt, 4, VMAR_PROT_RWX, &tobj_ops);
    assert_int_equal(map_obj(&vt, A, 4 * PG, RW, 0, &t.obj, 0), 0);
    t.fail_get = VMAR_EIO;
    vt_snap_take(&vt, &snap);
    assert_int_equal(vmar_fault(vt.space, A, RD, VMAR_FAULT_USER), VMAR_EIO);
    assert_int_equal(vmar_fault(vt.space, A, WR, VMAR_FAULT_USER), VMAR_EIO);
    VT_EXPECT_UNCHANGED(&vt, &snap);
    t.fail_get = 0;
    assert_int_equal(vt_peek(&vt, A), 0xA0);
    /* Bad object arguments. */
    struct vmar_object broken;
    static const struct vmar_object_ops no_get = {
        .abi = VMAR_OBJECT_ABI, .size = tobj_size, .release = tobj_release};
    vmar_object_init(&broken, &no_get, VMAR_PROT_RWX);
    assert_int_equal(map_obj(&vt, B, PG, R, 0, &broken, 0), VMAR_EINVAL);
    assert_int_equal(map_obj(&vt, B, PG, R, 0, &t.obj, 100), VMAR_EINVAL);
    assert_int_equal(map_obj(&vt, B, PG, R, 0, &t.obj, UINT64_MAX & ~(PG - 1)),
                     VMAR_EINVAL);
    struct vmar_map_opts o = {.size = PG,
                              .prot = R,
                              .backing = VMAR_BACKING_OBJECT,
                              .object = &t.obj,
                              .paddr = 0x1000};
    assert_int_equal(vt_map_opts(&vt, &o, NULL), VMAR_EINVAL);
    o = (struct vmar_map_opts){
        .size = PG, .prot = R, .flags = VMAR_MAP_FAULT_AROUND};
    assert_int_equal(vt_map_opts(&vt, &o, NULL), VMAR_EINVAL);
    tobj_done(&t);
    vt_teardown(&vt);
}

/* One fault on page `index` of the mapping at `at`, which the object
 * answers wrongly: VMAR_EIO after exactly one get_page call, the space
 * unchanged. */
static void bad_fault(struct vt *vt, struct tobj *t, vmar_addr_t at,
                      unsigned access)
{
    struct vt_snap snap;

    vt_snap_take(vt, &snap);
    t->bad_gets = 0;
    assert_int_equal(vmar_fault(vt->space, at, access, VMAR_FAULT_USER),
                     VMAR_EIO);
    assert_int_equal(t->bad_gets, 1);
    VT_EXPECT_UNCHANGED(vt, &snap);
}

/* get_page answers that the library can tell are wrong (a frame of some
 * space's anonymous memory, an address that names no frame, a frame with
 * no reference for the caller, a positive return): each fault, populate
 * and fault-around refuses the page with VMAR_EIO, leaves the space as it
 * was and gives back the reference when there is one, so the counters,
 * vmar_check and the final teardown stay right. */
static void test_bad_object_pages(void **state)
{
    (void)state;

    for (int bad = BAD_ANON; bad < BAD_COUNT; bad++) {
        struct vt vt;
        struct tobj t;
        struct vt_snap snap;
        size_t word = 0;

        vt_setup(&vt, NULL, 0);
        tobj_init(&t, &vt, 4, VMAR_PROT_RWX, &tobj_ops);
        t.bad = (enum tobj_bad)bad;
        t.bad_index = 1;
        tobj_bad_frame(&t);
        if (bad == BAD_ANON)
            word = *refword(vt.env, t.pa[1]); /* the object's reference */
        assert_int_equal(map_obj(&vt, A, 4 * PG, RW, 0, &t.obj, 0), 0);
        assert_int_equal(
            map_obj(&vt, B, 4 * PG, RW, VMAR_MAP_SHARED, &t.obj, 0), 0);
        bad_fault(&vt, &t, A + PG, RD);
        bad_fault(&vt, &t, A + PG, WR); /* private: a copy of it */
        bad_fault(&vt, &t, B + PG, RD);
        bad_fault(&vt, &t, B + PG, WR);
        if (bad == BAD_ANON)
            assert_int_equal(*refword(vt.env, t.pa[1]), word);
        /* Good pages still work; fault-around skips the bad one. */
        assert_int_equal(vt_peek(&vt, A), 0xA0);
        assert_int_equal(map_obj(&vt, A + 8 * PG, 4 * PG, R,
                                 VMAR_MAP_FAULT_AROUND, &t.obj, 0),
                         0);
        /* Page 2, and around it 0 (in memory), 1 (bad, asked once) and
         * 3 (not in memory). */
        t.bad_gets = 0;
        assert_int_equal(vt_peek(&vt, A + 10 * PG), 0xA2);
        assert_int_equal(t.bad_gets, 1);
        vmar_size_t bytes = 0;
        assert_int_equal(
            vmar_resident(vt.space, A + 8 * PG, A + 12 * PG, &bytes), 0);
        assert_int_equal(bytes, 2 * PG);
        if (bad == BAD_ANON)
            assert_int_equal(*refword(vt.env, t.pa[1]), word);
        /* POPULATE fails the map as a fault would. */
        vt_snap_take(&vt, &snap);
        assert_int_equal(
            map_obj(&vt, C, 4 * PG, R, VMAR_MAP_POPULATE, &t.obj, 0), VMAR_EIO);
        VT_EXPECT_UNCHANGED(&vt, &snap);
        if (bad == BAD_ANON)
            assert_int_equal(*refword(vt.env, t.pa[1]), word);
        vt_expect_rss(&vt, 0, 3); /* page 0 at A, pages 0 and 2 at A+8 */
        tobj_done(&t);
        vt_teardown(&vt); /* every frame back, no panic */
        assert_true(t.released);
    }
}

/* POPULATE maps every page up to the object's end at map time; a failed
 * get_page fails the map with nothing changed. */
static void test_populate(void **state)
{
    struct vt vt;
    struct tobj t;
    vmar_size_t res;
    (void)state;

    vt_setup(&vt, NULL, 0);
    tobj_init(&t, &vt, 6, VMAR_PROT_RWX, &tobj_ops);
    assert_int_equal(map_obj(&vt, A, 8 * PG, RW,
                             VMAR_MAP_SHARED | VMAR_MAP_POPULATE, &t.obj, 0),
                     0);
    assert_int_equal(vmar_resident(vt.space, A, A + 8 * PG, &res), 0);
    assert_int_equal(res, 6 * PG);
    vt_expect_rss(&vt, 0, 6);
    t.fail_get = VMAR_EIO;
    struct vt_snap snap;
    vt_snap_take(&vt, &snap);
    assert_int_equal(map_obj(&vt, B, 2 * PG, R, VMAR_MAP_POPULATE, &t.obj, 0),
                     VMAR_EIO);
    VT_EXPECT_UNCHANGED(&vt, &snap);
    t.fail_get = 0;
    tobj_done(&t);
    vt_teardown(&vt);
}

/* The built-in memfd: pages on demand, shared between mappings, sized and
 * truncated; shared anonymous memory is one memfd per map call. */
static void test_memfd(void **state)
{
    struct vt vt;
    struct vmar_object *mfd;
    struct vmar_mapping_info info;
    (void)state;

    vt_setup(&vt, NULL, 0);
    assert_int_equal(vmar_memfd_create(vt.env, 3 * PG + 1, &mfd), 0);
    assert_int_equal(mfd->ops->size(mfd), 4 * PG);
    assert_int_equal(map_obj(&vt, A, 4 * PG, RW, VMAR_MAP_SHARED, mfd, 0), 0);
    assert_int_equal(map_obj(&vt, B, 4 * PG, RW, VMAR_MAP_SHARED, mfd, 0), 0);
    vt_poke(&vt, A + 3 * PG + 7, 0x42);
    assert_int_equal(vt_peek(&vt, B + 3 * PG + 7), 0x42);
    assert_int_equal(vt_peek(&vt, B + PG), 0);
    vt_expect_rss(&vt, 0, 3);
    assert_int_equal(vmar_memfd_truncate(mfd, 2 * PG), 0);
    /* A present page stays (its leaf holds the frame); others fault. */
    assert_int_equal(vmar_fault(vt.space, A + 3 * PG, RD, 0), 0);
    assert_int_equal(vmar_fault(vt.space, B + 2 * PG, RD, 0), VMAR_ENXIO);
    assert_int_equal(vmar_memfd_truncate(mfd, 8 * PG), 0);
    assert_int_equal(vt_peek(&vt, B + 2 * PG), 0);
    vmar_object_unref(mfd);
    /* MAP_SHARED|ANON: an object of its own, visible in vmar_query. */
    assert_int_equal(vt_map(&vt, A + 16 * PG, 2 * PG, RW,
                            VMAR_PLACE_FIXED_NOREPLACE, VMAR_MAP_SHARED, NULL),
                     0);
    assert_int_equal(vmar_query(vt.space, A + 17 * PG, &info), 0);
    assert_non_null(info.object);
    assert_int_equal(info.backing, VMAR_BACKING_ANON);
    vt_poke(&vt, A + 17 * PG, 1);
    vt_expect_rss(&vt, 0, 5);
    assert_int_equal(vmar_memfd_create(NULL, PG, &mfd), VMAR_EINVAL);
    assert_int_equal(vmar_memfd_truncate(info.object, 2 * PG), 0);
    vt_teardown(&vt);
}

/* Without env->frame_refcount, sharing frames is impossible: refused. */
static void test_no_refcount(void **state)
{
    struct vmar_sim *sim;
    struct vmar_space *s;
    struct vmar_space *child;
    struct vmar_object *mfd;
    struct vmar_sim_opts so = {.no_frame_refcount = true};
    vmar_addr_t a;
    (void)state;

    assert_int_equal(vmar_sim_create(&so, &sim), 0);
    assert_int_equal(
        vmar_space_create(&(struct vmar_space_opts){.env = vmar_sim_env(sim),
                                                    .mmu = &vmar_mmu_sim,
                                                    .mmu_config = sim},
                          &s),
        0);
    assert_int_equal(vmar_memfd_create(vmar_sim_env(sim), PG, &mfd),
                     VMAR_ENOTSUP);
    assert_int_equal(vmar_map(s,
                              &(struct vmar_map_opts){.size = PG,
                                                      .prot = RW,
                                                      .flags = VMAR_MAP_SHARED},
                              &a),
                     VMAR_ENOTSUP);
    assert_int_equal(
        vmar_fork(s, &(struct vmar_fork_opts){.mmu_config = sim}, &child),
        VMAR_ENOTSUP);
    /* Private anonymous memory works as before. */
    assert_int_equal(
        vmar_map(s, &(struct vmar_map_opts){.size = 4 * PG, .prot = RW}, &a),
        0);
    assert_int_equal(vmar_write(s, a, "x", 1, NULL), 0);
    assert_int_equal(vmar_check(s), 0);
    vmar_space_destroy(s);
    vmar_sim_destroy(sim);
}

/* Allocation failure at every point of a populated object map and of a
 * copy-on-write fault: VMAR_ENOMEM, nothing changed. */
struct oom_arg {
    struct tobj *t;
};

static int op_map_populate(struct vt *vt, void *arg)
{
    struct oom_arg *o = arg;
    int rc = map_obj(vt, B, 4 * PG, RW, VMAR_MAP_SHARED | VMAR_MAP_POPULATE,
                     &o->t->obj, 0);
    if (rc == 0)
        assert_int_equal(vt_unmap(vt, B, 4 * PG), 0);
    return rc;
}

static int op_cow_fault(struct vt *vt, void *arg)
{
    (void)arg;
    return vmar_fault(vt->space, A + PG, WR, 0);
}

static void test_oom(void **state)
{
    struct vt vt;
    struct tobj t;
    struct oom_arg arg = {&t};
    (void)state;

    vt_setup(&vt, NULL, 0);
    tobj_init(&t, &vt, 4, VMAR_PROT_RWX, &tobj_ops);
    /* Fill the object's cache first: a failed map may leave pages the
     * object read (that is the object's state, not the space's). */
    assert_int_equal(op_map_populate(&vt, &arg), 0);
    assert_true(vt_fail_each_allocation(&vt, op_map_populate, &arg) > 0);
    assert_int_equal(map_obj(&vt, A, 4 * PG, RW, 0, &t.obj, 0), 0);
    (void)vt_peek(&vt, A + PG); /* the object's page, read-only */
    assert_true(vt_fail_each_allocation(&vt, op_cow_fault, &arg) > 0);
    vt_expect_rss(&vt, 1, 0);
    tobj_done(&t);
    vt_teardown(&vt);
}

/* ---- the two forms of a mapping ---------------------------------------
 * Private anonymous mappings are allocated short (no object, no offset),
 * the others full (src/core/mapping.h). One operation may need new nodes
 * of both forms; each failing allocation leaves the space as it was, and
 * every node is freed at its own size (the sim's env checks it). */

struct forms_arg {
    struct tobj *t;
};

/* The layout: [A, A+4) private anonymous, [A+4, A+8) a private mapping
 * of the object from page 0, both RW, data in pages 1 and 5. */
static void forms_layout_check(struct vt *vt)
{
    struct vmar_mapping_info info;

    assert_int_equal(vmar_query(vt->space, A + PG, &info), 0);
    assert_int_equal(info.start, A);
    assert_int_equal(info.end, A + 4 * PG);
    assert_int_equal(info.backing, VMAR_BACKING_ANON);
    assert_null(info.object);
    assert_int_equal(info.offset, 0);
    assert_int_equal(vmar_query(vt->space, A + 5 * PG, &info), 0);
    assert_int_equal(info.start, A + 4 * PG);
    assert_int_equal(info.end, A + 8 * PG);
    assert_int_equal(info.backing, VMAR_BACKING_OBJECT);
    assert_int_equal(info.offset, 0);
    assert_int_equal(info.prot, RW);
    assert_int_equal(vt_peek(vt, A + PG + 3), 0x31);
    assert_int_equal(vt_peek(vt, A + 5 * PG + 3), 0x35);
}

/* protect across both: the first cut is short, the last one full. */
static int op_forms_protect(struct vt *vt, void *arg)
{
    (void)arg;
    return vmar_protect(vt->space, A + 2 * PG, 4 * PG, VMAR_PROT_READ);
}

/* An object page inside the anonymous mapping: a short cut and a full
 * new node. */
static int op_forms_obj_in_anon(struct vt *vt, void *arg)
{
    struct forms_arg *f = arg;
    struct vmar_map_opts o = {.addr = A + 2 * PG,
                              .size = PG,
                              .place = VMAR_PLACE_FIXED,
                              .prot = RW,
                              .backing = VMAR_BACKING_OBJECT,
                              .object = &f->t->obj,
                              .offset = 2 * PG};
    return vmar_map(vt->space, &o, NULL);
}

/* Anonymous memory inside the object mapping: a full cut and a short new
 * node. */
static int op_forms_anon_in_obj(struct vt *vt, void *arg)
{
    (void)arg;
    const struct vmar_map_opts o = {
        .addr = A + 6 * PG, .size = PG, .place = VMAR_PLACE_FIXED, .prot = RW};
    return vmar_map(vt->space, &o, NULL);
}

static void test_mixed_forms(void **state)
{
    struct vt vt;
    struct tobj t;
    struct forms_arg arg = {&t};
    (void)state;

    vt_setup(&vt, NULL, 0);
    tobj_init(&t, &vt, 8, VMAR_PROT_RWX, &tobj_ops);
    assert_int_equal(vt_map(&vt, A, 4 * PG, RW, VMAR_PLACE_FIXED, 0, NULL), 0);
    assert_int_equal(map_obj(&vt, A + 4 * PG, 4 * PG, RW, 0, &t.obj, 0), 0);
    vt_poke(&vt, A + PG + 3, 0x31);
    vt_poke(&vt, A + 5 * PG + 3, 0x35); /* a private copy */
    forms_layout_check(&vt);
    assert_true(vt_fail_each_allocation(&vt, op_forms_protect, &arg) > 0);
    VT_CHECK(&vt);
    assert_int_equal(vt_peek(&vt, A + 5 * PG + 3), 0x35);
    assert_int_equal(vt_protect(&vt, A + 2 * PG, 4 * PG, RW), 0);
    forms_layout_check(&vt);

    assert_true(vt_fail_each_allocation(&vt, op_forms_obj_in_anon, &arg) > 0);
    VT_CHECK(&vt);
    assert_int_equal(vt_peek(&vt, A + 2 * PG), 0xA2); /* object page 2 */
    assert_int_equal(vt_map(&vt, A + 2 * PG, PG, RW, VMAR_PLACE_FIXED, 0, NULL),
                     0);
    forms_layout_check(&vt);

    assert_true(vt_fail_each_allocation(&vt, op_forms_anon_in_obj, &arg) > 0);
    VT_CHECK(&vt);
    assert_int_equal(vt_peek(&vt, A + 6 * PG), 0); /* zero-filled */
    assert_int_equal(vt_map_object(&vt, A + 6 * PG, PG, RW, 0, &t.obj, 2 * PG),
                     0);
    forms_layout_check(&vt);
    /* fork copies each mapping in its own form. */
    struct vt c;
    assert_int_equal(vt_fork(&vt, &c), 0);
    forms_layout_check(&c);
    VT_CHECK(&c);
    vt_child_destroy(&c);
    assert_int_equal(vt_unmap(&vt, A, 8 * PG), 0);
    tobj_done(&t);
    assert_true(t.released);
    vt_teardown(&vt);
}

/* A simulated CPU: the copy-on-write break is seen through the TLB (the
 * read-only entry of the object's page is flushed), no stale hit. */
static void test_cpu_cow(void **state)
{
    struct vt vt;
    struct tobj t;
    struct vmar_sim_cpu *cpu;
    unsigned char b = 0;
    (void)state;

    vt_setup(&vt, NULL, 0);
    tobj_init(&t, &vt, 4, VMAR_PROT_RWX, &tobj_ops);
    assert_int_equal(map_obj(&vt, A, 4 * PG, RW, 0, &t.obj, 0), 0);
    assert_int_equal(map_obj(&vt, B, 4 * PG, R, VMAR_MAP_SHARED, &t.obj, 0), 0);
    assert_int_equal(vmar_sim_cpu_create(vt.sim, 8, &cpu), 0);
    vmar_sim_cpu_switch(cpu, vt.space);
    assert_int_equal(vmar_sim_cpu_access(cpu, A + PG, RD, &b, 1), 0);
    assert_int_equal(b, 0xA1);
    b = 0x99;
    assert_int_equal(vmar_sim_cpu_access(cpu, A + PG, WR, &b, 1), 0);
    assert_int_equal(vmar_sim_cpu_access(cpu, A + PG, RD, &b, 1), 0);
    assert_int_equal(b, 0x99);
    assert_int_equal(vmar_sim_cpu_access(cpu, B + PG, RD, &b, 1), 0);
    assert_int_equal(b, 0xA1);
    assert_int_equal(vmar_sim_violations(vt.sim), 0);
    VT_CHECK(&vt);
    vmar_sim_cpu_switch(cpu, NULL);
    vmar_sim_cpu_destroy(cpu);
    tobj_done(&t);
    vt_teardown(&vt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared_object),
        cmocka_unit_test(test_private_cow),
        cmocka_unit_test(test_past_end),
        cmocka_unit_test(test_may_write),
        cmocka_unit_test(test_fault_around),
        cmocka_unit_test(test_fault_around_top),
        cmocka_unit_test(test_notify_write),
        cmocka_unit_test(test_object_errors),
        cmocka_unit_test(test_bad_object_pages),
        cmocka_unit_test(test_populate),
        cmocka_unit_test(test_memfd),
        cmocka_unit_test(test_no_refcount),
        cmocka_unit_test(test_oom),
        cmocka_unit_test(test_cpu_cow),
        cmocka_unit_test(test_mixed_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
