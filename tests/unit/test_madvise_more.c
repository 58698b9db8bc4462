/* SPDX-License-Identifier: MIT */
/*
 * The rest of madvise and fork inheritance: DONTDUMP/DODUMP,
 * HUGEPAGE/NOHUGEPAGE (kept flags that split and merge as Linux's VMA
 * flags), WIPEONFORK/KEEPONFORK and vmar_inherit() (what a fork child
 * gets), REMOVE (a hole punched in the object), FREE (private anonymous
 * memory only), COLD/PAGEOUT (checked hints). Each refusal is checked on
 * every kind of mapping (private anonymous, private object, shared
 * object, shared anonymous, read-only shared object, device) with the
 * space exactly unchanged, the seal rules, and allocation failure at
 * every point.
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

#define INHERIT 1000 /* in the tables below: INHERIT + a vmar_inherit */

static int advise_or_inherit(struct vt *vt, vmar_addr_t addr, vmar_size_t size,
                             int advice)
{
    int rc = advice >= INHERIT
                 ? vmar_inherit(vt->space, addr, size, advice - INHERIT)
                 : vmar_advise(vt->space, addr, size, advice);
    VT_CHECK(vt);
    return rc;
}

/* Advice (or INHERIT + inheritance) that must fail with `want` and change
 * nothing at all. */
#define EXPECT_FAILS(vt, addr, size, advice, want)                             \
    VT_EXPECT_FAILS((vt), advise_or_inherit((vt), (addr), (size), (advice)),   \
                    (want))

static struct vmar_mapping_info info_at(struct vt *vt, vmar_addr_t at)
{
    struct vmar_mapping_info info;

    VT_EXPECT_RC(vmar_query(vt->space, at, &info), 0);
    return info;
}

static unsigned flags_at(struct vt *vt, vmar_addr_t at)
{
    return info_at(vt, at).flags;
}

static size_t map_count(struct vt *vt)
{
    return vt_space_stats(vt).map_count;
}

/* ---- kinds of mapping ---------------------------------------------------- */

/* Mapping kinds, each one mapping of 4 pages at BASE + kind * 16 pages. */
enum kind {
    K_PANON,   /* private anonymous */
    K_POBJ,    /* private mapping of a memfd */
    K_SOBJ,    /* shared mapping of a memfd */
    K_SANON,   /* shared anonymous */
    K_SOBJ_RO, /* shared mapping of an object that allows only reading */
    K_DEV,     /* device memory */
    K_NOPUNCH, /* shared mapping of an object without punch (ABI 1) */
    K_COUNT,
};

static vmar_addr_t kind_at(enum kind k)
{
    return BASE + (vmar_addr_t)k * 16 * PG;
}

/* An ABI 1 object (no punch): pages from vmar_frame_new, kept per index. */
struct plain_obj {
    struct vmar_object obj;
    const struct vmar_env *env;
    vmar_paddr_t page[4];
};

static uint64_t plain_size(struct vmar_object *obj)
{
    (void)obj;
    return 4 * PG;
}

static int plain_get_page(struct vmar_object *obj, uint64_t index,
                          unsigned flags, vmar_paddr_t *pa)
{
    struct plain_obj *p = (struct plain_obj *)(void *)obj;

    if (index >= 4)
        return VMAR_ENXIO;
    if (!p->page[index]) {
        if (flags & VMAR_OBJECT_GET_PRESENT)
            return VMAR_ENOENT;
        int rc = vmar_frame_new(p->env, &p->page[index]);
        if (rc)
            return rc;
    }
    vmar_frame_get(p->env, p->page[index]);
    *pa = p->page[index];
    return 0;
}

static void plain_release(struct vmar_object *obj)
{
    struct plain_obj *p = (struct plain_obj *)(void *)obj;

    for (size_t i = 0; i < 4; i++)
        if (p->page[i])
            vmar_frame_put(p->env, p->page[i]);
    free(p);
}

static const struct vmar_object_ops plain_ops = {
    .abi = 1,
    .size = plain_size,
    .get_page = plain_get_page,
    .release = plain_release,
};

struct kinds {
    struct vmar_object *memfd, *ro, *plain;
    vmar_paddr_t dev_pa, got[12]; /* 4 contiguous frames among `got` */
    size_t ngot;
};

/* Take frames until 4 of them are physically contiguous (device memory). */
static void dev_get(struct vt *vt, struct kinds *k)
{
    for (k->ngot = 0, k->dev_pa = 0; k->ngot < 12 && !k->dev_pa;) {
        assert_int_equal(vt->env->frame_alloc(vt->env->ctx, VMAR_FRAME_ZERO,
                                              &k->got[k->ngot++]),
                         0);
        for (size_t i = 0; i < k->ngot && !k->dev_pa; i++) {
            size_t run = 0;
            for (size_t j = 0; j < k->ngot; j++)
                run += k->got[j] > k->got[i] && k->got[j] - k->got[i] < 4 * PG;
            if (run == 3)
                k->dev_pa = k->got[i];
        }
    }
    assert_true(k->dev_pa != 0);
}

/* Map one mapping of every kind, every page written or read once. */
static void kinds_setup(struct vt *vt, struct kinds *k)
{
    vt_setup(vt, NULL, 0);
    vt_without_refdecoder(vt);
    assert_int_equal(vmar_memfd_create(vt->env, 4 * PG, &k->memfd), 0);
    assert_int_equal(vmar_memfd_create(vt->env, 4 * PG, &k->ro), 0);
    k->ro->max_prot = R; /* as a file opened read-only */
    struct plain_obj *p = calloc(1, sizeof(*p));
    assert_non_null(p);
    p->env = vt->env;
    vmar_object_init(&p->obj, &plain_ops, VMAR_PROT_RWX);
    k->plain = &p->obj;

    vt_map_fixed(vt, kind_at(K_PANON), 4, RW, 0);
    struct vmar_map_opts o = {.addr = kind_at(K_POBJ),
                              .size = 4 * PG,
                              .prot = RW,
                              .place = FIXED,
                              .backing = VMAR_BACKING_OBJECT,
                              .object = k->memfd};
    VT_EXPECT_RC(vt_map_opts(vt, &o, NULL), 0);
    o.addr = kind_at(K_SOBJ);
    o.flags = VMAR_MAP_SHARED;
    VT_EXPECT_RC(vt_map_opts(vt, &o, NULL), 0);
    vt_map_fixed(vt, kind_at(K_SANON), 4, RW, VMAR_MAP_SHARED);
    o.addr = kind_at(K_SOBJ_RO);
    o.object = k->ro;
    o.prot = R;
    VT_EXPECT_RC(vt_map_opts(vt, &o, NULL), 0);
    o.addr = kind_at(K_NOPUNCH);
    o.object = k->plain;
    o.prot = RW;
    VT_EXPECT_RC(vt_map_opts(vt, &o, NULL), 0);
    dev_get(vt, k);
    struct vmar_map_opts d = {.addr = kind_at(K_DEV),
                              .size = 4 * PG,
                              .prot = RW,
                              .place = FIXED,
                              .backing = VMAR_BACKING_DEVICE,
                              .paddr = k->dev_pa,
                              .cache = VMAR_CACHE_UC};
    VT_EXPECT_RC(vt_map_opts(vt, &d, NULL), 0);
    for (enum kind i = 0; i < K_COUNT; i++) {
        if (i == K_DEV)
            continue;
        if (i == K_SOBJ_RO)
            (void)vt_peek(vt, kind_at(i));
        else
            vt_fill_pages(vt, kind_at(i), 4, 3 + (unsigned)i);
    }
}

static void kinds_teardown(struct vt *vt, struct kinds *k)
{
    vmar_space_destroy(vt->space);
    vt->space = NULL;
    vmar_object_unref(k->memfd);
    vmar_object_unref(k->ro);
    vmar_object_unref(k->plain);
    for (size_t i = 0; i < k->ngot; i++)
        vt->env->frame_free(vt->env->ctx, k->got[i]);
    vt_teardown(vt);
}

/* What each advice gives on each kind (Linux 6.18's madvise on the
 * matching VMA: a PFN mapping for device memory; checked on the host). */
static const struct {
    int advice;
    int rc[K_COUNT]; /* PANON POBJ SOBJ SANON SOBJ_RO DEV NOPUNCH */
} table[] = {
    {VMAR_ADVISE_DONTDUMP, {0, 0, 0, 0, 0, 0, 0}},
    {VMAR_ADVISE_DODUMP, {0, 0, 0, 0, 0, VMAR_EINVAL, 0}},
    {VMAR_ADVISE_HUGEPAGE, {0, 0, 0, 0, 0, VMAR_EINVAL, 0}},
    {VMAR_ADVISE_NOHUGEPAGE, {0, 0, 0, 0, 0, VMAR_EINVAL, 0}},
    {VMAR_ADVISE_WIPEONFORK,
     {0, VMAR_EINVAL, VMAR_EINVAL, VMAR_EINVAL, VMAR_EINVAL, VMAR_EINVAL,
      VMAR_EINVAL}},
    {VMAR_ADVISE_KEEPONFORK, {0, 0, 0, 0, 0, 0, 0}},
    {VMAR_ADVISE_DONTFORK, {0, 0, 0, 0, 0, 0, 0}},
    {VMAR_ADVISE_DOFORK, {0, 0, 0, 0, 0, VMAR_EINVAL, 0}},
    {VMAR_ADVISE_COLD, {0, 0, 0, 0, 0, VMAR_EINVAL, 0}},
    {VMAR_ADVISE_PAGEOUT, {0, 0, 0, 0, 0, VMAR_EINVAL, 0}},
    {VMAR_ADVISE_FREE,
     {0, VMAR_EINVAL, VMAR_EINVAL, VMAR_EINVAL, VMAR_EINVAL, VMAR_EINVAL,
      VMAR_EINVAL}},
    {VMAR_ADVISE_REMOVE,
     {VMAR_EINVAL, VMAR_EACCES, 0, 0, VMAR_EACCES, VMAR_EINVAL, VMAR_ENOTSUP}},
    {INHERIT + VMAR_INHERIT_SHARE, {VMAR_EINVAL, VMAR_EINVAL, 0, 0, 0, 0, 0}},
    {INHERIT + VMAR_INHERIT_COPY,
     {0, 0, VMAR_EINVAL, VMAR_EINVAL, VMAR_EINVAL, VMAR_EINVAL, VMAR_EINVAL}},
    {INHERIT + VMAR_INHERIT_NONE, {0, 0, 0, 0, 0, 0, 0}},
    {INHERIT + VMAR_INHERIT_ZERO,
     {0, VMAR_EINVAL, VMAR_EINVAL, VMAR_EINVAL, VMAR_EINVAL, VMAR_EINVAL,
      VMAR_EINVAL}},
};

/* Every advice on every kind: the refusals change nothing; a success on a
 * part of the mapping, then on all of it. */
static void test_kinds(void **state)
{
    struct vt vt;
    struct kinds k;
    (void)state;

    for (size_t t = 0; t < sizeof(table) / sizeof(table[0]); t++) {
        kinds_setup(&vt, &k);
        for (enum kind i = 0; i < K_COUNT; i++) {
            const int want = table[t].rc[i];
            const vmar_addr_t at = kind_at(i);
            if (want) {
                EXPECT_FAILS(&vt, at + PG, PG, table[t].advice, want);
                EXPECT_FAILS(&vt, at, 4 * PG, table[t].advice, want);
            } else {
                VT_EXPECT_RC(
                    advise_or_inherit(&vt, at + PG, PG, table[t].advice), 0);
                VT_EXPECT_RC(
                    advise_or_inherit(&vt, at, 4 * PG, table[t].advice), 0);
            }
        }
        /* A range over two kinds: the first refusal in address order,
         * nothing changed in the first. */
        const int first = table[t].rc[K_PANON], second = table[t].rc[K_POBJ];
        if (first || second) {
            struct vmar_map_opts o = {.addr = kind_at(K_PANON) + 4 * PG,
                                      .size = 12 * PG,
                                      .prot = RW,
                                      .place = FIXED};
            VT_EXPECT_RC(vt_map_opts(&vt, &o, NULL), 0);
            EXPECT_FAILS(&vt, kind_at(K_PANON) + 2 * PG, 16 * PG,
                         table[t].advice, first ? first : second);
        }
        kinds_teardown(&vt, &k);
    }
}

/* ---- flags ----------------------------------------------------------------
 */

/* DONTDUMP/DODUMP and HUGEPAGE/NOHUGEPAGE cut the mapping where they
 * change it and merge it back; HUGEPAGE and NOHUGEPAGE replace each
 * other; each is kept apart from unlike flags (Linux's VMA flags). */
static void test_flags_split_merge(void **state)
{
    static const struct {
        int set, clear;
        unsigned flag;
    } pairs[] = {
        {VMAR_ADVISE_DONTDUMP, VMAR_ADVISE_DODUMP, VMAR_MAP_DONTDUMP},
        {VMAR_ADVISE_WIPEONFORK, VMAR_ADVISE_KEEPONFORK, VMAR_MAP_WIPEONFORK},
        {VMAR_ADVISE_HUGEPAGE, VMAR_ADVISE_NORMAL, VMAR_MAP_HUGEPAGE},
        {VMAR_ADVISE_NOHUGEPAGE, VMAR_ADVISE_NORMAL, VMAR_MAP_NOHUGEPAGE},
    };
    struct vt vt;
    (void)state;

    for (size_t p = 0; p < sizeof(pairs) / sizeof(pairs[0]); p++) {
        vt_setup(&vt, NULL, 0);
        vt_map_fixed(&vt, BASE, 8, RW, 0);
        vt_fill_pages(&vt, BASE, 8, 5);
        VT_EXPECT_RC(
            advise_or_inherit(&vt, BASE + 2 * PG, 3 * PG, pairs[p].set), 0);
        assert_int_equal(map_count(&vt), 3);
        assert_int_equal(flags_at(&vt, BASE + 2 * PG), pairs[p].flag);
        assert_int_equal(flags_at(&vt, BASE), 0);
        /* Setting it again changes nothing and needs no node. */
        VT_EXPECT_RC(
            advise_or_inherit(&vt, BASE + 2 * PG, 3 * PG, pairs[p].set), 0);
        assert_int_equal(map_count(&vt), 3);
        VT_EXPECT_PAGES(&vt, BASE, 8, 5);
        if (pairs[p].clear != VMAR_ADVISE_NORMAL) {
            VT_EXPECT_RC(advise_or_inherit(&vt, BASE, 8 * PG, pairs[p].clear),
                         0);
        } else {
            /* The other huge-page advice replaces it; then both are
             * cleared by nothing else: set the other everywhere. */
            const int other = pairs[p].set == VMAR_ADVISE_HUGEPAGE
                                  ? VMAR_ADVISE_NOHUGEPAGE
                                  : VMAR_ADVISE_HUGEPAGE;
            VT_EXPECT_RC(advise_or_inherit(&vt, BASE, 8 * PG, other), 0);
            assert_int_equal(flags_at(&vt, BASE + 2 * PG) &
                                 (VMAR_MAP_HUGEPAGE | VMAR_MAP_NOHUGEPAGE),
                             pairs[p].flag ^
                                 (VMAR_MAP_HUGEPAGE | VMAR_MAP_NOHUGEPAGE));
        }
        assert_int_equal(map_count(&vt), 1);
        VT_EXPECT_PAGES(&vt, BASE, 8, 5);
        vt_teardown(&vt);
    }
    /* WIPEONFORK and DONTFORK are two flags: a mapping with both differs
     * from one with either (Linux keeps the three apart). */
    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 3, RW, 0);
    VT_EXPECT_RC(advise_or_inherit(&vt, BASE, 2 * PG, VMAR_ADVISE_WIPEONFORK),
                 0);
    VT_EXPECT_RC(
        advise_or_inherit(&vt, BASE + PG, 2 * PG, VMAR_ADVISE_DONTFORK), 0);
    assert_int_equal(map_count(&vt), 3);
    assert_int_equal(flags_at(&vt, BASE + PG),
                     VMAR_MAP_WIPEONFORK | VMAR_MAP_DONTFORK);
    /* DOFORK leaves WIPEONFORK, KEEPONFORK leaves DONTFORK. */
    VT_EXPECT_RC(advise_or_inherit(&vt, BASE, 3 * PG, VMAR_ADVISE_DOFORK), 0);
    assert_int_equal(map_count(&vt), 2);
    VT_EXPECT_RC(advise_or_inherit(&vt, BASE, 3 * PG, VMAR_ADVISE_KEEPONFORK),
                 0);
    assert_int_equal(map_count(&vt), 1);
    vt_teardown(&vt);
}

/* The new flags at map time: kept, merged only with like mappings;
 * refused where the advice would be. */
static void test_map_flags(void **state)
{
    struct vt vt;
    struct vmar_object *obj;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 2, RW, VMAR_MAP_DONTDUMP | VMAR_MAP_NOHUGEPAGE);
    vt_map_fixed(&vt, BASE + 2 * PG, 2, RW, VMAR_MAP_DONTDUMP);
    assert_int_equal(map_count(&vt), 2);
    vt_map_fixed(&vt, BASE + 4 * PG, 2, RW, VMAR_MAP_DONTDUMP);
    assert_int_equal(map_count(&vt), 2); /* merged with its like */
    vt_map_fixed(&vt, BASE + 6 * PG, 2, RW, VMAR_MAP_WIPEONFORK);
    vt_map_fixed(&vt, BASE + 8 * PG, 2, RW, VMAR_MAP_HUGEPAGE);
    assert_int_equal(flags_at(&vt, BASE),
                     VMAR_MAP_DONTDUMP | VMAR_MAP_NOHUGEPAGE);
    assert_int_equal(flags_at(&vt, BASE + 6 * PG), VMAR_MAP_WIPEONFORK);
    assert_int_equal(map_count(&vt), 4);

    assert_int_equal(vmar_memfd_create(vt.env, PG, &obj), 0);
    struct vt_snap snap;
    vt_snap_take(&vt, &snap);
    VT_EXPECT_RC(vmar_map(vt.space,
                          &(struct vmar_map_opts){.size = PG,
                                                  .prot = RW,
                                                  .flags = VMAR_MAP_HUGEPAGE |
                                                           VMAR_MAP_NOHUGEPAGE},
                          NULL),
                 VMAR_EINVAL);
    VT_EXPECT_RC(vmar_map(vt.space,
                          &(struct vmar_map_opts){.size = PG,
                                                  .prot = RW,
                                                  .flags = VMAR_MAP_WIPEONFORK |
                                                           VMAR_MAP_SHARED},
                          NULL),
                 VMAR_EINVAL);
    VT_EXPECT_RC(
        vmar_map(vt.space,
                 &(struct vmar_map_opts){.size = PG,
                                         .prot = RW,
                                         .flags = VMAR_MAP_WIPEONFORK,
                                         .backing = VMAR_BACKING_OBJECT,
                                         .object = obj},
                 NULL),
        VMAR_EINVAL);
    VT_EXPECT_RC(
        vmar_map(vt.space,
                 &(struct vmar_map_opts){.size = PG,
                                         .prot = RW,
                                         .flags = VMAR_MAP_WIPEONFORK,
                                         .backing = VMAR_BACKING_DEVICE,
                                         .paddr = PG},
                 NULL),
        VMAR_EINVAL);
    VT_EXPECT_UNCHANGED(&vt, &snap);
    vmar_object_unref(obj);
    vt_teardown(&vt);
}

/* ---- fork inheritance ---------------------------------------------------- */

/* WIPEONFORK: the child's copy is empty (zero), keeps the flag, and
 * shares no frame with the parent, whose pages stay writable in place;
 * DONTFORK wins over it; KEEPONFORK gives the copy back. */
static void test_wipeonfork(void **state)
{
    struct vt vt, child;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 8, RW, 0);
    vt_fill_pages(&vt, BASE, 8, 7);
    VT_EXPECT_RC(
        advise_or_inherit(&vt, BASE + 2 * PG, 2 * PG, VMAR_ADVISE_WIPEONFORK),
        0);
    VT_EXPECT_RC(
        advise_or_inherit(&vt, BASE + 6 * PG, PG, VMAR_ADVISE_WIPEONFORK), 0);
    VT_EXPECT_RC(
        advise_or_inherit(&vt, BASE + 6 * PG, PG, VMAR_ADVISE_DONTFORK), 0);
    VT_EXPECT_RC(vt_fork(&vt, &child), 0);
    VT_EXPECT_PAGES(&child, BASE, 2, 7);
    VT_EXPECT_ZERO(&child, BASE + 2 * PG, 2);
    VT_EXPECT_PAGES(&child, BASE + 4 * PG, 2, 7 + 4 * 17);
    assert_int_equal(
        vmar_query(child.space, BASE + 6 * PG, &(struct vmar_mapping_info){0}),
        VMAR_ENOENT);
    VT_EXPECT_PAGES(&child, BASE + 7 * PG, 1, 7 + 7 * 17);
    assert_int_equal(flags_at(&child, BASE + 2 * PG), VMAR_MAP_WIPEONFORK);
    assert_int_equal(vmar_mapping_inherit(&(struct vmar_mapping_info){
                         .flags = flags_at(&child, BASE + 2 * PG)}),
                     VMAR_INHERIT_ZERO);
    /* Only the copied pages are shared: writing the wiped ones in the
     * parent copies nothing (the frames stay the parent's alone). */
    const size_t frames = vt_frames_live(&vt);
    vt_fill_pages(&vt, BASE + 2 * PG, 2, 9);
    assert_int_equal(vt_frames_live(&vt), frames);
    VT_EXPECT_ZERO(&child, BASE + 2 * PG, 2);
    vt_fill_pages(&child, BASE + 2 * PG, 2, 11);
    VT_EXPECT_PAGES(&vt, BASE + 2 * PG, 2, 9);
    vt_child_destroy(&child);

    /* KEEPONFORK: the next child gets a copy. */
    VT_EXPECT_RC(advise_or_inherit(&vt, BASE, 8 * PG, VMAR_ADVISE_KEEPONFORK),
                 0);
    VT_EXPECT_RC(vt_fork(&vt, &child), 0);
    VT_EXPECT_PAGES(&child, BASE + 2 * PG, 2, 9);
    vt_child_destroy(&child);
    vt_teardown(&vt);
}

/* vmar_inherit() sets the pair of flags; the fork gives what it says. */
static void test_inherit(void **state)
{
    struct vt vt, child;
    struct vmar_object *obj;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_without_refdecoder(&vt);
    vt_map_fixed(&vt, BASE, 6, RW, 0);
    vt_fill_pages(&vt, BASE, 6, 2);
    assert_int_equal(vmar_memfd_create(vt.env, 2 * PG, &obj), 0);
    struct vmar_map_opts o = {.addr = BASE + 16 * PG,
                              .size = 2 * PG,
                              .prot = RW,
                              .place = FIXED,
                              .flags = VMAR_MAP_SHARED,
                              .backing = VMAR_BACKING_OBJECT,
                              .object = obj};
    VT_EXPECT_RC(vt_map_opts(&vt, &o, NULL), 0);
    vt_fill_pages(&vt, BASE + 16 * PG, 2, 4);
    struct vmar_mapping_info info = info_at(&vt, BASE);
    assert_int_equal(vmar_mapping_inherit(&info), VMAR_INHERIT_COPY);
    info = info_at(&vt, BASE + 16 * PG);
    assert_int_equal(vmar_mapping_inherit(&info), VMAR_INHERIT_SHARE);

    VT_EXPECT_RC(
        advise_or_inherit(&vt, BASE, 2 * PG, INHERIT + VMAR_INHERIT_NONE), 0);
    VT_EXPECT_RC(advise_or_inherit(&vt, BASE + 2 * PG, 2 * PG,
                                   INHERIT + VMAR_INHERIT_ZERO),
                 0);
    info = info_at(&vt, BASE);
    assert_int_equal(vmar_mapping_inherit(&info), VMAR_INHERIT_NONE);
    info = info_at(&vt, BASE + 2 * PG);
    assert_int_equal(vmar_mapping_inherit(&info), VMAR_INHERIT_ZERO);
    /* ZERO over NONE replaces it, and the reverse. */
    VT_EXPECT_RC(
        advise_or_inherit(&vt, BASE + PG, 2 * PG, INHERIT + VMAR_INHERIT_ZERO),
        0);
    assert_int_equal(flags_at(&vt, BASE + PG), VMAR_MAP_WIPEONFORK);
    VT_EXPECT_RC(
        advise_or_inherit(&vt, BASE + PG, PG, INHERIT + VMAR_INHERIT_NONE), 0);
    assert_int_equal(flags_at(&vt, BASE + PG), VMAR_MAP_DONTFORK);
    VT_EXPECT_RC(
        advise_or_inherit(&vt, BASE + 16 * PG, PG, INHERIT + VMAR_INHERIT_NONE),
        0);
    VT_EXPECT_RC(advise_or_inherit(&vt, BASE + 16 * PG, 2 * PG,
                                   INHERIT + VMAR_INHERIT_SHARE),
                 0);
    assert_int_equal(map_count(&vt), 3 + 1);

    VT_EXPECT_RC(vt_fork(&vt, &child), 0);
    assert_int_equal(vmar_query(child.space, BASE, &info), VMAR_ENOENT);
    assert_int_equal(vmar_query(child.space, BASE + PG, &info), VMAR_ENOENT);
    VT_EXPECT_ZERO(&child, BASE + 2 * PG, 2);
    VT_EXPECT_PAGES(&child, BASE + 4 * PG, 2, 2 + 4 * 17);
    VT_EXPECT_PAGES(&child, BASE + 16 * PG, 2, 4);
    vt_fill_pages(&child, BASE + 16 * PG, 2, 8); /* shared: the parent sees */
    VT_EXPECT_PAGES(&vt, BASE + 16 * PG, 2, 8);
    vt_child_destroy(&child);

    /* COPY and SHARE restore the default; unknown values are refused. */
    VT_EXPECT_RC(
        advise_or_inherit(&vt, BASE, 6 * PG, INHERIT + VMAR_INHERIT_COPY), 0);
    assert_int_equal(map_count(&vt), 2);
    EXPECT_FAILS(&vt, BASE, PG, INHERIT + 4, VMAR_EINVAL);
    EXPECT_FAILS(&vt, BASE, PG, INHERIT - 1001, VMAR_EINVAL);
    EXPECT_FAILS(&vt, BASE + PG / 2, PG, INHERIT + VMAR_INHERIT_NONE,
                 VMAR_EINVAL);
    EXPECT_FAILS(&vt, BASE + 4 * PG, 4 * PG, INHERIT + VMAR_INHERIT_NONE,
                 VMAR_ENOMEM); /* a hole */
    assert_int_equal(vmar_inherit(NULL, BASE, PG, VMAR_INHERIT_NONE),
                     VMAR_EINVAL);
    /* No right is needed (the parent's contents do not change). */
    struct vmar_space *none;
    VT_EXPECT_RC(vmar_space_dup(vt.space, 0, &none), 0);
    VT_EXPECT_RC(vmar_inherit(none, BASE, PG, VMAR_INHERIT_ZERO), 0);
    VT_EXPECT_RC(vmar_advise(none, BASE, PG, VMAR_ADVISE_DONTDUMP), 0);
    VT_EXPECT_RC(vmar_advise(none, BASE, PG, VMAR_ADVISE_FREE), VMAR_EACCES);
    vmar_space_destroy(none);
    VT_CHECK(&vt);
    vmar_object_unref(obj);
    vt_teardown(&vt);
}

/* ---- REMOVE ---------------------------------------------------------------
 */

/* A space with a memfd of 8 pages in *obj, mapped shared read-write at
 * BASE and written (seed 6); returns the options it was mapped with. */
static struct vmar_map_opts remove_setup(struct vt *vt,
                                         struct vmar_object **obj)
{
    vt_setup(vt, NULL, 0);
    vt_without_refdecoder(vt);
    assert_int_equal(vmar_memfd_create(vt->env, 8 * PG, obj), 0);
    struct vmar_map_opts o = {.addr = BASE,
                              .size = 8 * PG,
                              .prot = RW,
                              .place = FIXED,
                              .flags = VMAR_MAP_SHARED,
                              .backing = VMAR_BACKING_OBJECT,
                              .object = *obj};
    VT_EXPECT_RC(vt_map_opts(vt, &o, NULL), 0);
    vt_fill_pages(vt, BASE, 8, 6);
    return o;
}

/* A hole in a shared memfd: the range's pages go and read as zero; the
 * object forgets them (a new mapping sees zero); the pages around stay;
 * another mapping of the object in the space drops them too (a private
 * one keeps its copies); a fork child keeps what it maps (vmar.h: no
 * reverse map from an object to spaces). */
static void test_remove(void **state)
{
    struct vt vt;
    struct vmar_object *obj;
    (void)state;

    struct vmar_map_opts o = remove_setup(&vt, &obj);
    o.addr = BASE + 32 * PG;
    VT_EXPECT_RC(vt_map_opts(&vt, &o, NULL), 0);
    VT_EXPECT_PAGES(&vt, BASE + 34 * PG, 1, 6 + 2 * 17); /* mapped */
    o.addr = BASE + 48 * PG; /* private: one page read, one copied */
    o.flags = 0;
    VT_EXPECT_RC(vt_map_opts(&vt, &o, NULL), 0);
    VT_EXPECT_PAGES(&vt, BASE + 50 * PG, 1, 6 + 2 * 17);
    vt_fill_pages(&vt, BASE + 51 * PG, 1, 20);
    struct vt child;
    VT_EXPECT_RC(vt_fork(&vt, &child), 0);
    o.flags = VMAR_MAP_SHARED;
    const vmar_size_t file = vt_space_stats(&vt).resident_file;

    VT_EXPECT_RC(
        advise_or_inherit(&vt, BASE + 2 * PG, 3 * PG, VMAR_ADVISE_REMOVE), 0);
    /* Three pages here, one in the other shared mapping, one in the
     * private one. */
    assert_int_equal(vt_space_stats(&vt).resident_file, file - 5 * PG);
    VT_EXPECT_PAGES(&vt, BASE, 2, 6);
    VT_EXPECT_ZERO(&vt, BASE + 2 * PG, 3);
    VT_EXPECT_PAGES(&vt, BASE + 5 * PG, 3, 6 + 5 * 17);
    VT_EXPECT_ZERO(&vt, BASE + 34 * PG, 3);
    VT_EXPECT_ZERO(&vt, BASE + 50 * PG, 1);
    VT_EXPECT_PAGES(&vt, BASE + 51 * PG, 1, 20); /* its own copy */
    /* The child's leaves keep the old frames. */
    VT_EXPECT_PAGES(&child, BASE + 2 * PG, 3, 6 + 2 * 17);
    VT_EXPECT_PAGES(&child, BASE + 51 * PG, 1, 20);
    vt_child_destroy(&child);
    /* A new mapping sees the hole too; writing fills it again. */
    o.addr = BASE + 64 * PG;
    VT_EXPECT_RC(vt_map_opts(&vt, &o, NULL), 0);
    VT_EXPECT_ZERO(&vt, BASE + 66 * PG, 3);
    vt_fill_pages(&vt, BASE + 2 * PG, 1, 13);
    VT_EXPECT_PAGES(&vt, BASE + 66 * PG, 1, 13);
    /* A range past the object's end and a second mapping at once. */
    VT_EXPECT_RC(vmar_memfd_truncate(obj, 4 * PG), 0);
    VT_EXPECT_RC(advise_or_inherit(&vt, BASE, 8 * PG, VMAR_ADVISE_REMOVE), 0);

    /* Shared anonymous memory: its own object. */
    vt_map_fixed(&vt, BASE + 96 * PG, 4, RW, VMAR_MAP_SHARED);
    vt_fill_pages(&vt, BASE + 96 * PG, 4, 8);
    VT_EXPECT_RC(advise_or_inherit(&vt, BASE + 97 * PG, PG, VMAR_ADVISE_REMOVE),
                 0);
    VT_EXPECT_PAGES(&vt, BASE + 96 * PG, 1, 8);
    VT_EXPECT_ZERO(&vt, BASE + 97 * PG, 1);
    VT_EXPECT_PAGES(&vt, BASE + 98 * PG, 2, 8 + 2 * 17);

    /* Through a handle without WRITE: refused, nothing changes. */
    struct vmar_space *ro;
    VT_EXPECT_RC(vmar_space_dup(vt.space, VMAR_RIGHT_READ, &ro), 0);
    struct vt_snap snap;
    vt_snap_take(&vt, &snap);
    VT_EXPECT_RC(vmar_advise(ro, BASE + 96 * PG, PG, VMAR_ADVISE_REMOVE),
                 VMAR_EACCES);
    VT_EXPECT_UNCHANGED(&vt, &snap);
    vmar_space_destroy(ro);
    vmar_object_unref(obj);
    vt_teardown(&vt);
}

/* REMOVE and DONTNEED allocate nothing; a cut by flag advice or
 * vmar_inherit fails cleanly at every allocation. */
static int op_advise(struct vt *vt, void *arg)
{
    const struct vt_advice *a = arg;

    return a->advice >= INHERIT
               ? vmar_inherit(vt->space, a->addr, a->size, a->advice - INHERIT)
               : vmar_advise(vt->space, a->addr, a->size, a->advice);
}

static int op_fork(struct vt *vt, void *arg)
{
    struct vmar_space *child;
    struct vt *cv = arg;
    const void *cfg = vt_child_config(vt, cv, 1);
    int rc = vmar_fork(vt->space, &(struct vmar_fork_opts){.mmu_config = cfg},
                       &child);
    if (rc == 0) {
        vmar_space_destroy(child);
    }
    return rc;
}

static void test_oom_sweep(void **state)
{
    static const int cutting[] = {
        VMAR_ADVISE_DONTDUMP,        VMAR_ADVISE_HUGEPAGE,
        VMAR_ADVISE_NOHUGEPAGE,      VMAR_ADVISE_WIPEONFORK,
        INHERIT + VMAR_INHERIT_ZERO, INHERIT + VMAR_INHERIT_NONE,
    };
    struct vt vt, cv;
    struct vmar_object *obj;
    (void)state;

    for (size_t i = 0; i < sizeof(cutting) / sizeof(cutting[0]); i++) {
        vt_setup(&vt, NULL, 0);
        vt_map_fixed(&vt, BASE, 8, RW, 0);
        vt_fill_pages(&vt, BASE, 8, 3);
        struct vt_advice a = {BASE + 2 * PG, 3 * PG, cutting[i]};
        assert_true(vt_fail_each_allocation(&vt, op_advise, &a) >= 2);
        assert_int_equal(map_count(&vt), 3);
        VT_EXPECT_PAGES(&vt, BASE, 8, 3);
        vt_teardown(&vt);
    }

    /* REMOVE: no allocation, so no failure. */
    (void)remove_setup(&vt, &obj);
    struct vt_advice r = {BASE + 2 * PG, 3 * PG, VMAR_ADVISE_REMOVE};
    assert_int_equal(vt_fail_each_allocation(&vt, op_advise, &r), 0);
    VT_EXPECT_ZERO(&vt, BASE + 2 * PG, 3);
    vmar_object_unref(obj);
    vt_teardown(&vt);

    /* A fork with a wiped mapping fails at every allocation with the
     * parent unchanged. */
    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 8, RW, 0);
    vt_fill_pages(&vt, BASE, 8, 3);
    VT_EXPECT_RC(
        advise_or_inherit(&vt, BASE + 2 * PG, 3 * PG, VMAR_ADVISE_WIPEONFORK),
        0);
    assert_true(vt_fail_each_allocation(&vt, op_fork, &cv) >= 3);
    vt_teardown(&vt);
}

/* ---- seals ----------------------------------------------------------------
 */

/* Linux's can_madvise_modify(): on a sealed read-only private anonymous
 * mapping, REMOVE and WIPEONFORK (and NONE, ZERO) are EPERM before any
 * other refusal; the flag hints and COLD/PAGEOUT are allowed; a writable
 * sealed mapping allows WIPEONFORK. */
static void test_sealed(void **state)
{
    static const int perm[] = {VMAR_ADVISE_REMOVE, VMAR_ADVISE_WIPEONFORK,
                               VMAR_ADVISE_FREE, INHERIT + VMAR_INHERIT_NONE,
                               INHERIT + VMAR_INHERIT_ZERO};
    static const int ok[] = {
        VMAR_ADVISE_DONTDUMP,   VMAR_ADVISE_DODUMP,
        VMAR_ADVISE_HUGEPAGE,   VMAR_ADVISE_NOHUGEPAGE,
        VMAR_ADVISE_KEEPONFORK, VMAR_ADVISE_COLD,
        VMAR_ADVISE_PAGEOUT,    INHERIT + VMAR_INHERIT_COPY};
    struct vt vt;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 4, R, VMAR_MAP_SEALED);
    vt_map_fixed(&vt, BASE + 8 * PG, 4, RW, VMAR_MAP_SEALED);
    for (size_t i = 0; i < sizeof(perm) / sizeof(perm[0]); i++)
        EXPECT_FAILS(&vt, BASE + PG, PG, perm[i], VMAR_EPERM);
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        VT_EXPECT_RC(advise_or_inherit(&vt, BASE + PG, PG, ok[i]), 0);
    VT_EXPECT_RC(
        advise_or_inherit(&vt, BASE + 9 * PG, PG, VMAR_ADVISE_WIPEONFORK), 0);
    EXPECT_FAILS(&vt, BASE + 9 * PG, PG, VMAR_ADVISE_REMOVE, VMAR_EINVAL);
    assert_int_equal(flags_at(&vt, BASE + 9 * PG),
                     VMAR_MAP_SEALED | VMAR_MAP_WIPEONFORK);
    vt_teardown(&vt);
}

/* ---- hints ------------------------------------------------------------------
 */

/* COLD and PAGEOUT only check: nothing changes, a hole is ENOMEM. */
static void test_cold_pageout(void **state)
{
    struct vt vt;
    struct vt_snap snap;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 4, RW, 0);
    vt_map_fixed(&vt, BASE + 6 * PG, 2, R, 0);
    vt_fill_pages(&vt, BASE, 4, 12);
    for (int advice = VMAR_ADVISE_COLD; advice <= VMAR_ADVISE_PAGEOUT;
         advice++) {
        vt_snap_take(&vt, &snap);
        VT_EXPECT_RC(advise_or_inherit(&vt, BASE + PG, 2 * PG, advice), 0);
        VT_EXPECT_UNCHANGED(&vt, &snap);
        EXPECT_FAILS(&vt, BASE + 2 * PG, 6 * PG, advice, VMAR_ENOMEM);
        EXPECT_FAILS(&vt, BASE + 1, PG, advice, VMAR_EINVAL);
    }
    VT_EXPECT_PAGES(&vt, BASE, 4, 12);
    vt_teardown(&vt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_flags_split_merge),
        cmocka_unit_test(test_map_flags),
        cmocka_unit_test(test_wipeonfork),
        cmocka_unit_test(test_inherit),
        cmocka_unit_test(test_remove),
        cmocka_unit_test(test_oom_sweep),
        cmocka_unit_test(test_sealed),
        cmocka_unit_test(test_cold_pageout),
    };

    fprintf(stderr, "backend: %s\n", vt_backend()->name);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
