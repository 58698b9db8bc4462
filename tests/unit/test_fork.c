/* SPDX-License-Identifier: MIT */
/*
 * fork with copy-on-write, and exec-time clear.
 *
 * Contents are checked through vmar_read/vmar_write and simulated CPUs;
 * both spaces are checked after every step (vt_fork checks them, VT_CHECK
 * afterwards). RSS of both sides is asserted exactly.
 */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

#include <vmar/mmu.h>
#include <vmar/object.h>

#define A ((vmar_addr_t)0x40000000)
#define C                                                                      \
    ((vmar_addr_t)0x2000000000) /* another 1 GiB entry, below Sv39's top */
#define MB ((vmar_size_t)1 << 20)
#define B  ((vmar_addr_t)0x50000000)
#define R  VMAR_PROT_READ
#define RW (VMAR_PROT_READ | VMAR_PROT_WRITE)
#define RD VMAR_ACCESS_READ
#define WR VMAR_ACCESS_WRITE

static void map_rw(struct vt *vt, vmar_addr_t at, vmar_size_t size,
                   unsigned flags)
{
    assert_int_equal(
        vt_map(vt, at, size, RW, VMAR_PLACE_FIXED_NOREPLACE, flags, NULL), 0);
}

/* Parent and child read the same bytes; a write on either side breaks COW
 * for that page only; the frames are shared until then. */
static void test_fork_cow(void **state)
{
    struct vt p, c;
    (void)state;

    vt_setup(&p, NULL, 0);
    map_rw(&p, A, 4 * PG, 0);
    for (unsigned i = 0; i < 4; i++)
        vt_poke(&p, A + i * PG, (unsigned char)(0x10 + i));
    size_t frames = vt_stats(&p).frames_live;
    size_t tables = vt_backend()->real ? 0 : vt_tables(&p); /* sim: all */
    assert_int_equal(vt_fork(&p, &c), 0);
    /* The data frames are shared: only the child's tables are new. */
    assert_int_equal(vt_stats(&p).frames_live - frames, vt_tables(&c) - tables);
    vt_expect_rss(&p, 4, 0);
    vt_expect_rss(&c, 4, 0);
    VT_EXPECT_LAYOUT(&c, "40000000-40004000 rw-p 00000000 00:00 0\n");
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(vt_peek(&c, A + i * PG), 0x10 + i);
    vt_poke(&c, A + PG, 0x21);     /* child copies page 1 */
    vt_poke(&p, A + 2 * PG, 0x32); /* parent copies page 2 */
    assert_int_equal(vt_peek(&p, A + PG), 0x11);
    assert_int_equal(vt_peek(&c, A + PG), 0x21);
    assert_int_equal(vt_peek(&p, A + 2 * PG), 0x32);
    assert_int_equal(vt_peek(&c, A + 2 * PG), 0x12);
    assert_int_equal(vt_peek(&c, A + 3 * PG), 0x13);
    /* Once the child wrote page 1, the parent's old frame has one
     * reference left: the parent's write reuses it (no new frame). */
    frames = vt_stats(&p).frames_live;
    vt_poke(&p, A + PG, 0x41);
    assert_int_equal(vt_stats(&p).frames_live, frames);
    assert_int_equal(vt_peek(&c, A + PG), 0x21);
    vt_expect_rss(&p, 4, 0);
    vt_expect_rss(&c, 4, 0);
    /* Unpopulated pages stay independent. */
    map_rw(&p, B, PG, 0);
    vt_child_destroy(&c);
    vt_teardown(&p);
}

/* libvmar keeps no pointer to a space's backend config: once the space
 * exists, the config may go (it is poisoned here while the space is used),
 * and a fork of a configured space needs the child's own config instead
 * of reusing the parent's (its PCID/ASID is the parent's). */
static void test_fork_config_lifetime(void **state)
{
    struct vt p, c;
    struct vt_mmu_cfg saved;
    struct vmar_space *child = NULL;
    (void)state;

    vt_setup(&p, NULL, 0);
    map_rw(&p, A, 2 * PG, 0);
    saved = p.cfg;
    memset(&p.cfg.x86, 0xa5, sizeof(p.cfg.x86));
    memset(&p.cfg.rv, 0xa5, sizeof(p.cfg.rv));
    vt_poke(&p, A, 0x5a);
    assert_int_equal(vt_protect(&p, A + PG, PG, R), 0);
    char *before = vt_layout(&p);
    p.cfg = saved; /* alive again: a fork must still not reuse it */
    assert_int_equal(vmar_fork(p.space, NULL, &child), VMAR_EINVAL);
    assert_null(child);
    assert_int_equal(
        vmar_fork(p.space, &(struct vmar_fork_opts){.lock = NULL}, &child),
        VMAR_EINVAL);
    assert_null(child);
    VT_EXPECT_LAYOUT(&p, before);
    free(before);
    /* libvmar writes nothing into a config, the parent's included. */
    assert_memory_equal(&p.cfg, &saved, sizeof(saved));
    vt_expect_rss(&p, 1, 0);
    assert_int_equal(vt_fork(&p, &c), 0);
    assert_memory_equal(&p.cfg, &saved, sizeof(saved));
    assert_int_equal(vt_peek(&c, A), 0x5a);
    vt_poke(&c, A, 0x6b);
    assert_int_equal(vt_peek(&p, A), 0x5a);
    vt_child_destroy(&c);
    vt_teardown(&p);
}

/* Three generations, and a parent that exits first. */
static void test_fork_generations(void **state)
{
    struct vt p, c, g;
    (void)state;

    vt_setup(&p, NULL, 0);
    map_rw(&p, A, 2 * PG, 0);
    vt_poke(&p, A, 1);
    vt_poke(&p, A + PG, 2);
    assert_int_equal(vt_fork(&p, &c), 0);
    vt_poke(&c, A, 3);
    assert_int_equal(vt_fork(&c, &g), 0);
    assert_int_equal(vt_peek(&g, A), 3);
    assert_int_equal(vt_peek(&g, A + PG), 2);
    /* The parent exits first: its space goes, the others keep the frames. */
    struct vt keep = p;
    keep.space = NULL;
    vmar_space_destroy(p.space);
    p.space = NULL;
    assert_int_equal(vt_peek(&c, A + PG), 2);
    vt_poke(&g, A + PG, 5);
    assert_int_equal(vt_peek(&c, A + PG), 2);
    assert_int_equal(vt_peek(&g, A + PG), 5);
    vt_poke(&c, A + PG, 6);
    assert_int_equal(vt_peek(&g, A + PG), 5);
    vt_expect_rss(&c, 2, 0);
    vt_expect_rss(&g, 2, 0);
    vt_child_destroy(&g);
    vt_child_destroy(&c);
    vt_teardown(&keep);
}

/* Shared mappings stay shared and writable; device mappings are copied
 * as device mappings; DONTFORK mappings are left out. */
static void test_fork_kinds(void **state)
{
    struct vt p, c;
    struct vmar_mapping_info info;
    vmar_paddr_t dev;
    (void)state;

    vt_setup(&p, NULL, 0);
    map_rw(&p, A, 2 * PG, VMAR_MAP_SHARED);
    vt_poke(&p, A, 7);
    map_rw(&p, A + 4 * PG, PG, VMAR_MAP_DONTFORK);
    map_rw(&p, A + 5 * PG, PG, 0); /* after the DONTFORK hole */
    assert_int_equal(p.env->frame_alloc(p.env->ctx, VMAR_FRAME_ZERO, &dev), 0);
    struct vmar_map_opts d = {.addr = B,
                              .size = PG,
                              .place = VMAR_PLACE_FIXED_NOREPLACE,
                              .prot = RW,
                              .backing = VMAR_BACKING_DEVICE,
                              .paddr = dev,
                              .cache = VMAR_CACHE_UC};
    assert_int_equal(vt_map_opts(&p, &d, NULL), 0);
    assert_int_equal(vt_fork(&p, &c), 0);
    vt_poke(&c, A + 1, 8);
    assert_int_equal(vt_peek(&p, A + 1), 8); /* shared */
    vt_poke(&p, A + PG, 9);
    assert_int_equal(vt_peek(&c, A + PG), 9);
    vt_expect_rss(&p, 0, 2);
    vt_expect_rss(&c, 0, 2);
    assert_int_equal(vmar_query(c.space, A + 4 * PG, &info), VMAR_ENOENT);
    assert_int_equal(vmar_query(c.space, A + 5 * PG, &info), 0);
    assert_int_equal(vmar_query(c.space, B, &info), 0);
    assert_int_equal(info.backing, VMAR_BACKING_DEVICE);
    assert_int_equal(info.offset, dev);
    assert_int_equal(info.cache, VMAR_CACHE_UC);
    vt_child_destroy(&c);
    assert_int_equal(vt_unmap(&p, B, PG), 0);
    p.env->frame_free(p.env->ctx, dev);
    vt_teardown(&p);
}

/* A failed fork leaves the parent exactly as it was, write permissions
 * included, and frees the partial child. */
static int op_fork(struct vt *p, void *arg)
{
    struct vt c;
    (void)arg;
    int rc = vt_fork(p, &c);
    if (rc == 0)
        vt_child_destroy(&c);
    return rc;
}

static void test_fork_oom(void **state)
{
    struct vt p;
    (void)state;

    vt_setup(&p, NULL, 0);
    map_rw(&p, A, 4 * PG, 0);
    vt_poke(&p, A, 1);
    vt_poke(&p, A + 3 * PG, 2);
    map_rw(&p, B, 2 * PG, VMAR_MAP_SHARED);
    vt_poke(&p, B, 3);
    map_rw(&p, B + 0x10000000, PG, 0);
    vt_poke(&p, B + 0x10000000, 4);
    /* A failed fork must not leave the parent write-protected: writes
     * after it need no copy (no new frame). */
    assert_true(vt_fail_each_allocation(&p, op_fork, NULL) >= 4);
    size_t frames = vt_stats(&p).frames_live;
    vt_poke(&p, A, 5);
    vt_poke(&p, A + 3 * PG, 6);
    assert_int_equal(vt_stats(&p).frames_live, frames);
    vt_teardown(&p);
}

/* A write to a present copy-on-write leaf succeeds without trying to
 * allocate a page-table page (every try fails and is counted). */
static void cow_write(struct vt *vt, vmar_addr_t va, unsigned char b)
{
    size_t fails = vt_stats(vt).fails_injected;

    assert_int_equal(vmar_write(vt->space, va, &b, 1, NULL), 0);
    VT_CHECK(vt);
    assert_int_equal(vt_stats(vt).fails_injected, fails);
}

/* A copy-on-write break rewrites the one leaf in place: it takes no
 * page-table page (none is allocated, none freed), so it succeeds while
 * every table allocation fails, on the frames fork shares and on an
 * object's page under a private mapping alike. */
static void test_fork_cow_no_tables(void **state)
{
    struct vt p, c;
    struct vmar_object *obj;
    (void)state;

    vt_setup(&p, NULL, 0);
    map_rw(&p, A, 2 * PG, 0);
    vt_poke(&p, A, 0x11);
    vt_poke(&p, A + PG, 0x12);
    assert_int_equal(vmar_memfd_create(p.env, PG, &obj), 0);
    struct vmar_map_opts o = {.addr = B,
                              .size = PG,
                              .place = VMAR_PLACE_FIXED_NOREPLACE,
                              .prot = RW,
                              .backing = VMAR_BACKING_OBJECT,
                              .object = obj};
    assert_int_equal(vt_map_opts(&p, &o, NULL), 0);
    vmar_object_unref(obj);              /* the mapping holds it */
    assert_int_equal(vt_peek(&p, B), 0); /* the object's page, read-only */
    assert_int_equal(vt_fork(&p, &c), 0);
    size_t tables = vt_tables(&c);
    size_t frames = vt_stats(&p).frames_live;

    vmar_sim_fail_after(p.sim, 1, VMAR_SIM_FAIL_TABLE, true);
    cow_write(&c, A, 0x21);
    cow_write(&c, A + PG, 0x22);
    cow_write(&c, B, 0x23);
    /* The parent's frames now have one reference each: reused. */
    cow_write(&p, A, 0x31);
    /* The object's page is the object's: copied. */
    cow_write(&p, B, 0x33);
    vmar_sim_fail_after(p.sim, 0, 0, false);

    assert_int_equal(vt_tables(&c), tables);
    /* Three copies for the child, one for the parent's object page. */
    assert_int_equal(vt_stats(&p).frames_live, frames + 4);
    assert_int_equal(vt_peek(&c, A), 0x21);
    assert_int_equal(vt_peek(&c, A + PG), 0x22);
    assert_int_equal(vt_peek(&c, B), 0x23);
    assert_int_equal(vt_peek(&p, A), 0x31);
    assert_int_equal(vt_peek(&p, A + PG), 0x12);
    assert_int_equal(vt_peek(&p, B), 0x33);
    vt_expect_rss(&c, 3, 0);
    vt_expect_rss(&p, 3, 0);
    vt_child_destroy(&c);
    vt_teardown(&p);
}

/* A sparse layout over four leaf tables: a 6 MiB private mapping with
 * pages in three 2 MiB blocks and a one-page mapping in another 1 GiB
 * region. Returns the pages poked. */
static size_t sparse_layout(struct vt *p)
{
    static const vmar_size_t at[] = {0,      PG,          2 * MB + 5 * PG,
                                     4 * MB, 6 * MB - PG, 4 * MB + 7 * PG};
    size_t n = sizeof(at) / sizeof(at[0]);

    map_rw(p, A, 6 * MB, 0);
    for (size_t i = 0; i < n; i++)
        vt_poke(p, A + at[i], (unsigned char)(0x30 + i));
    map_rw(p, C, PG, 0);
    vt_poke(p, C, 0x3f);
    return n + 1;
}

/* Both sides see the layout's bytes; writes on either side stay there. */
static void sparse_check(struct vt *p, struct vt *c)
{
    assert_int_equal(vt_peek(c, A + 2 * MB + 5 * PG), 0x32);
    assert_int_equal(vt_peek(c, A + 6 * MB - PG), 0x34);
    assert_int_equal(vt_peek(c, C), 0x3f);
    vt_poke(c, A + 4 * MB, 0x51);
    vt_poke(p, A + 4 * MB + 7 * PG, 0x52);
    assert_int_equal(vt_peek(p, A + 4 * MB), 0x33);
    assert_int_equal(vt_peek(c, A + 4 * MB + 7 * PG), 0x35);
    vt_poke(p, C, 0x53);
    assert_int_equal(vt_peek(c, C), 0x3f);
}

/* With ops->copy the child's tables come one prepare per leaf table, not
 * one per page, and the child has exactly the parent's tables. */
static void test_fork_tables(void **state)
{
    struct vt p, c;
    (void)state;

    vt_setup(&p, NULL, 0);
    size_t pages = sparse_layout(&p);
    size_t tables = vt_tables(&p);
    struct vmar_sim_stats s0 = vt_stats(&p);
    assert_int_equal(vt_fork(&p, &c), 0);
    struct vmar_sim_stats s1 = vt_stats(&p);
    if (vt_backend_ops()->copy != NULL)
        assert_int_equal(s1.prepares - s0.prepares, 4); /* leaf tables */
    assert_int_equal(s1.flushes - s0.flushes, 1);
    /* sim: tables_live is machine-wide */
    assert_int_equal(vt_tables(&c) - (vt_backend()->real ? 0 : tables), tables);
    assert_int_equal(vt_leaves(&c), pages);
    vt_expect_rss(&p, pages, 0);
    vt_expect_rss(&c, pages, 0);
    sparse_check(&p, &c);
    vt_expect_rss(&p, pages, 0);
    vt_expect_rss(&c, pages, 0);
    vt_child_destroy(&c);
    vt_teardown(&p);
}

/* Allocation failures at every step of a multi-table copy (a prepare
 * between two leaf tables fails after leaves were copied): the parent is
 * untouched and the partial child goes without a leak. */
static void test_fork_tables_oom(void **state)
{
    struct vt p, c;
    (void)state;

    vt_setup(&p, NULL, 0);
    size_t pages = sparse_layout(&p);
    assert_true(vt_fail_each_allocation(&p, op_fork, NULL) >= 6);
    assert_int_equal(vt_fork(&p, &c), 0);
    vt_expect_rss(&c, pages, 0);
    sparse_check(&p, &c);
    vt_child_destroy(&c);
    vt_teardown(&p);
}

/* A backend without ops->copy (optional member): the core's leaf-by-leaf
 * path gives the same child, and fails as cleanly. */
static void test_fork_without_copy(void **state)
{
    static struct vmar_mmu_ops nocopy;
    struct vt p, c;
    (void)state;

    vt_setup(&p, NULL, 0);
    vmar_space_destroy(p.space);
    nocopy = *p.opts.mmu;
    nocopy.copy = NULL;
    p.opts.mmu = &nocopy;
    assert_int_equal(vmar_space_create(&p.opts, &p.space), 0);
    p.refcheck = vt_backend()->real;
    size_t pages = sparse_layout(&p);
    assert_true(vt_fail_each_allocation(&p, op_fork, NULL) >= 6);
    struct vmar_sim_stats s0 = vt_stats(&p);
    assert_int_equal(vt_fork(&p, &c), 0);
    if (vt_backend()->real) /* the sim counts its own maps */
        assert_int_equal(vt_stats(&p).maps - s0.maps, pages);
    vt_expect_rss(&p, pages, 0);
    vt_expect_rss(&c, pages, 0);
    sparse_check(&p, &c);
    vt_child_destroy(&c);
    vt_teardown(&p);
}

struct took {
    const struct vmar_env *env;
    size_t n;
    vmar_paddr_t pa[64];
};

static void take_rec(void *arg, vmar_paddr_t pa)
{
    struct took *t = arg;

    assert_true(t->n < sizeof(t->pa) / sizeof(t->pa[0]));
    t->pa[t->n++] = pa;
    vmar_frame_get(t->env, pa);
}

static void map_one(const struct vmar_env *env, const struct vmar_mmu_ops *ops,
                    struct vmar_mmu *mmu, vmar_addr_t va,
                    const struct vmar_pte *pte)
{
    struct vmar_frame_list resv = {0, 0};

    assert_int_equal(ops->prepare(mmu, va, PG, VMAR_PREP_MAP, &resv), 0);
    ops->map(mmu, va, pte, &resv);
    vmar_frame_list_release(env, &resv);
}

/* The reference count of an object frame (no anonymous marker). */
static size_t refs(const struct vmar_env *env, vmar_paddr_t pa)
{
    return *env->frame_refcount(env->ctx, pa);
}

static void drop_all(const struct vmar_env *env, const struct vmar_mmu_ops *ops,
                     struct vmar_mmu *mmu, vmar_addr_t va, vmar_size_t len)
{
    struct vmar_tlb_batch batch;

    vmar_tlb_batch_init(&batch, env, ops, mmu);
    ops->unmap(mmu, va, len, NULL, &batch);
    vmar_tlb_batch_finish(&batch);
    ops->destroy(mmu);
}

/* A harness space (for its env and backend) and two bare tables of that
 * backend, as the ops-level tests below use them. */
struct bare2 {
    struct vt p;
    const struct vmar_mmu_ops *ops;
    const struct vmar_env *env;
    struct vmar_mmu *src, *dst;
};

static void bare2_setup(struct bare2 *b)
{
    vt_setup(&b->p, NULL, 0);
    b->ops = vt_backend_ops();
    b->env = b->p.env;
    const void *cfg = vt_backend()->real ? NULL : (const void *)b->p.sim;
    assert_int_equal(b->ops->create(b->env, cfg, &b->src), 0);
    assert_int_equal(b->ops->create(b->env, cfg, &b->dst), 0);
}

/* vmar_mmu_ops::copy on its own: huge and base leaves, managed and not,
 * stops for tables and resumes, leaves the source as it was, takes one
 * reference per managed base frame, copies nothing from an empty range. */
static void test_mmu_copy_op(void **state)
{
    const vmar_addr_t H = A;          /* 2 MiB huge leaf, unmanaged, rw */
    const vmar_addr_t L = A + 4 * MB; /* managed base pages */
    struct vmar_frame_list resv = {0, 0};
    struct bare2 b;
    (void)state;

    bare2_setup(&b);
    const struct vmar_mmu_ops *ops = b.ops;
    const struct vmar_env *env = b.env;
    struct vmar_mmu *src = b.src, *dst = b.dst;
    /* Every backend of this tree implements copy (the NULL fallback has
     * its own test, test_fork_without_copy). */
    assert_non_null(ops->copy);

    struct vmar_pte huge = {.pa = (vmar_paddr_t)1 << 30,
                            .prot = RW,
                            .flags = 0,
                            .cache = VMAR_CACHE_UC};
    assert_int_equal(ops->prepare(src, H, 2 * MB, VMAR_PREP_MAP, &resv), 0);
    ops->map_range(src, H, &huge, 2 * MB, VMAR_MAP_RANGE_HUGE, &resv);
    vmar_frame_list_release(env, &resv);
    vmar_paddr_t f[3];
    const vmar_addr_t fva[3] = {L, L + 3 * PG, L + 2 * MB};
    const unsigned fprot[3] = {RW, R, RW};
    for (unsigned i = 0; i < 3; i++) {
        assert_int_equal(vmar_frame_new(env, &f[i]), 0);
        struct vmar_pte pte = {.pa = f[i],
                               .prot = fprot[i],
                               .flags = VMAR_PTE_MANAGED,
                               .cache = VMAR_CACHE_WB};
        map_one(env, ops, src, fva[i], &pte);
    }

    /* Empty range: nothing copied, no table needed. */
    struct took t = {.env = env, .n = 0};
    vmar_addr_t va = A + 8 * MB;
    assert_int_equal(ops->copy(dst, src, &va, A + 16 * MB, VMAR_COPY_COW, &resv,
                               take_rec, &t),
                     0);
    assert_int_equal(va, A + 16 * MB);
    assert_int_equal(t.n, 0);
    assert_int_equal(resv.count, 0);

    /* Starting from an empty reservation: a stop per leaf table. */
    size_t stops = 0, need;
    va = A;
    while ((need = ops->copy(dst, src, &va, A + 8 * MB, VMAR_COPY_COW, &resv,
                             take_rec, &t)) != 0) {
        assert_true(need > resv.count);
        assert_true(stops++ < 8);
        assert_int_equal(ops->prepare(dst, va, PG, VMAR_PREP_MAP, &resv), 0);
    }
    assert_int_equal(va, A + 8 * MB);
    /* The huge leaf's tables (the prepare of its page also reserved the
     * leaf table that L then uses), and L+2M's leaf table. */
    assert_int_equal(stops, 2);
    vmar_frame_list_release(env, &resv);
    assert_int_equal(t.n, 3);
    for (unsigned i = 0; i < 3; i++) {
        assert_int_equal(t.pa[i], f[i]);
        assert_int_equal(refs(env, f[i]), 2);
    }

    /* Leaf for leaf: same frame and attributes, not writable in dst;
     * the source unchanged. */
    vmar_addr_t sv = A, dv = A;
    struct vmar_pte sp, dp;
    size_t n = 0;
    while (ops->find_next(src, &sv, A + 8 * MB, &sp) == 0) {
        assert_int_equal(ops->find_next(dst, &dv, A + 8 * MB, &dp), 0);
        assert_int_equal(sv, dv);
        assert_int_equal(sp.pa, dp.pa);
        assert_int_equal(sp.flags, dp.flags);
        assert_int_equal(sp.cache, dp.cache);
        assert_int_equal(dp.prot, sp.prot & ~(unsigned)VMAR_PROT_WRITE);
        if (sv < H + 2 * MB)
            assert_int_equal(sp.prot, RW);
        sv += PG;
        dv += PG;
        n++;
    }
    assert_int_equal(ops->find_next(dst, &dv, A + 8 * MB, &dp), VMAR_ENOENT);
    assert_int_equal(n, 512 + 3);

    drop_all(env, ops, dst, A, 8 * MB);
    for (unsigned i = 0; i < 3; i++)
        assert_int_equal(refs(env, f[i]), 1);
    drop_all(env, ops, src, A, 8 * MB); /* frees f[] */
    vt_teardown(&b.p);
}

/*
 * The per-page loops over one leaf table (copy, protect, unmap) decode a
 * word only when it differs from the last decoded one outside the frame,
 * and derive the frame from the difference of the fields. Here one table
 * holds 64 leaves whose frames run down, jump and repeat no order, and
 * whose kinds (managed or not, permissions, cache policy) come in runs and
 * come back after other kinds: every leaf must keep its own frame and its
 * own attributes through a COW copy and a protect, every managed frame be
 * taken once and put back once.
 */
static void test_copy_protect_unmap_mixed_table(void **state)
{
    enum {
        N = 64
    };
    struct bare2 b;
    (void)state;

    bare2_setup(&b);
    struct vmar_mmu *src = b.src, *dst = b.dst;
    const struct vmar_env *env = b.env;
    const struct vmar_mmu_ops *ops = b.ops;
    struct vmar_frame_list resv = {0, 0};

    struct vmar_pte want[N];
    for (unsigned i = 0; i < N; i++) {
        const unsigned kind = (i / 3 + i / 17) % 4; /* runs, and returns */
        struct vmar_pte pte = {.prot = RW, .cache = VMAR_CACHE_WB};
        if (kind == 3) {
            /* Unmanaged (a device-like frame): high, descending, with a
             * jump in the middle. */
            pte.pa = ((vmar_paddr_t)1 << 32) - (vmar_paddr_t)(i + 1) * PG -
                     (i > N / 2 ? 64 * MB : 0);
            pte.cache = VMAR_CACHE_UC;
        } else {
            assert_int_equal(vmar_frame_new(env, &pte.pa), 0);
            pte.flags = VMAR_PTE_MANAGED;
            pte.prot = kind == 1 ? R : kind == 2 ? (R | VMAR_PROT_EXEC) : RW;
        }
        want[i] = pte;
    }
    /* Map in an order unrelated to the frames' (stride 5 through 64). */
    for (unsigned k = 0; k < N; k++) {
        const unsigned i = (k * 5) % N;
        map_one(env, ops, src, A + i * PG, &want[i]);
    }

    struct took t = {.env = env, .n = 0};
    vmar_addr_t va = A;
    size_t need;
    while ((need = ops->copy(dst, src, &va, A + N * PG, VMAR_COPY_COW, &resv,
                             take_rec, &t)) != 0)
        assert_int_equal(ops->prepare(dst, va, PG, VMAR_PREP_MAP, &resv), 0);
    vmar_frame_list_release(env, &resv);

    /* Takes in address order, one per managed leaf, of its frame. */
    size_t managed = 0;
    for (unsigned i = 0; i < N; i++) {
        if (!(want[i].flags & VMAR_PTE_MANAGED))
            continue;
        assert_true(managed < t.n);
        assert_int_equal(t.pa[managed], want[i].pa);
        assert_int_equal(refs(env, want[i].pa), 2);
        managed++;
    }
    assert_int_equal(t.n, managed);

    /* Each leaf of both sides, as mapped; the child's not writable. */
    for (unsigned i = 0; i < N; i++) {
        vmar_addr_t sv = A + i * PG, dv = sv;
        struct vmar_pte sp, dp;
        assert_int_equal(ops->find_next(src, &sv, sv + PG, &sp), 0);
        assert_int_equal(ops->find_next(dst, &dv, dv + PG, &dp), 0);
        assert_int_equal(sp.pa, want[i].pa);
        assert_int_equal(sp.prot, want[i].prot);
        assert_int_equal(sp.flags & VMAR_PTE_MANAGED, want[i].flags);
        assert_int_equal(sp.cache, want[i].cache);
        assert_int_equal(dp.pa, want[i].pa);
        assert_int_equal(dp.prot, want[i].prot & ~(unsigned)VMAR_PROT_WRITE);
        assert_int_equal(dp.flags & VMAR_PTE_MANAGED, want[i].flags);
        assert_int_equal(dp.cache, want[i].cache);
    }

    /* Protect the parent's whole table read-only: frames and the other
     * attributes stay. */
    struct vmar_tlb_batch batch;
    vmar_tlb_batch_init(&batch, env, ops, src);
    assert_int_equal(ops->prepare(src, A, N * PG, VMAR_PREP_CHANGE, &resv), 0);
    ops->protect(src, A, N * PG, R, &resv, &batch);
    vmar_tlb_batch_finish(&batch);
    vmar_frame_list_release(env, &resv);
    for (unsigned i = 0; i < N; i++) {
        vmar_addr_t sv = A + i * PG;
        struct vmar_pte sp;
        assert_int_equal(ops->find_next(src, &sv, sv + PG, &sp), 0);
        assert_int_equal(sp.pa, want[i].pa);
        assert_int_equal(sp.prot, R);
        assert_int_equal(sp.flags & VMAR_PTE_MANAGED, want[i].flags);
        assert_int_equal(sp.cache, want[i].cache);
    }

    /* Unmapping the child puts back exactly its references. */
    drop_all(env, ops, dst, A, N * PG);
    for (unsigned i = 0; i < N; i++)
        if (want[i].flags & VMAR_PTE_MANAGED)
            assert_int_equal(refs(env, want[i].pa), 1);
    drop_all(env, ops, src, A, N * PG); /* frees the managed frames */
    vt_teardown(&b.p);
}

/* The parent's cached writable translations are gone after fork (one
 * flush): a write through a CPU that cached it faults and copies; no
 * stale hit. Also: exactly one flush of the parent. */
static void test_fork_tlb(void **state)
{
    struct vt p, c;
    struct vmar_sim_cpu *cpu0, *cpu1;
    unsigned char b = 0x55;
    (void)state;

    vt_setup(&p, NULL, 0);
    map_rw(&p, A, 8 * PG, 0);
    assert_int_equal(vmar_sim_cpu_create(p.sim, 16, &cpu0), 0);
    assert_int_equal(vmar_sim_cpu_create(p.sim, 16, &cpu1), 0);
    vmar_sim_cpu_switch(cpu0, p.space);
    for (unsigned i = 0; i < 8; i++)
        assert_int_equal(vmar_sim_cpu_access(cpu0, A + i * PG, WR, &b, 1), 0);
    struct vmar_sim_stats s0 = vt_stats(&p);
    assert_int_equal(vt_fork(&p, &c), 0);
    assert_int_equal(vt_stats(&p).flushes - s0.flushes, 1);
    vmar_sim_cpu_switch(cpu1, c.space);
    b = 0x66;
    assert_int_equal(vmar_sim_cpu_access(cpu0, A + 3 * PG, WR, &b, 1), 0);
    assert_int_equal(vmar_sim_cpu_access(cpu1, A + 3 * PG, RD, &b, 1), 0);
    assert_int_equal(b, 0x55);
    b = 0x77;
    assert_int_equal(vmar_sim_cpu_access(cpu1, A + 4 * PG, WR, &b, 1), 0);
    assert_int_equal(vmar_sim_cpu_access(cpu0, A + 4 * PG, RD, &b, 1), 0);
    assert_int_equal(b, 0x55);
    assert_int_equal(vmar_sim_violations(p.sim), 0);
    VT_CHECK(&p);
    VT_CHECK(&c);
    vmar_sim_cpu_switch(cpu0, NULL);
    vmar_sim_cpu_switch(cpu1, NULL);
    vmar_sim_cpu_destroy(cpu0);
    vmar_sim_cpu_destroy(cpu1);
    vt_child_destroy(&c);
    vt_teardown(&p);
}

/* A protect after fork must not make shared frames writable. */
static void test_fork_protect(void **state)
{
    struct vt p, c;
    (void)state;

    vt_setup(&p, NULL, 0);
    map_rw(&p, A, 2 * PG, 0);
    vt_poke(&p, A, 1);
    assert_int_equal(vt_fork(&p, &c), 0);
    assert_int_equal(vt_protect(&p, A, 2 * PG, R), 0);
    assert_int_equal(vt_protect(&p, A, 2 * PG, RW), 0);
    vt_poke(&p, A, 2);
    assert_int_equal(vt_peek(&c, A), 1);
    vt_child_destroy(&c);
    vt_teardown(&p);
}

/* exec-time clear: everything goes, the space stays usable. */
static void test_clear(void **state)
{
    struct vt vt;
    struct vmar_stats s;
    (void)state;

    vt_setup(&vt, NULL, 0);
    map_rw(&vt, A, 4 * PG, 0);
    map_rw(&vt, B, 4 * PG, VMAR_MAP_SHARED);
    vt_poke(&vt, A, 1);
    vt_poke(&vt, B, 1);
    vmar_set_limits(vt.space, 64 * PG, 0);
    assert_int_equal(vmar_clear(vt.space), 0);
    VT_CHECK(&vt);
    vmar_stats(vt.space, &s);
    assert_int_equal(s.map_count, 0);
    assert_int_equal(s.total_vm, 0);
    assert_int_equal(s.resident, 0);
    assert_int_equal(vt_stats(&vt).frames_live, vt_tables(&vt));
    map_rw(&vt, A, 4 * PG, 0);
    assert_int_equal(vt_peek(&vt, A), 0);
    /* The limits survive. */
    assert_int_equal(
        vt_map(&vt, B, 64 * PG, RW, VMAR_PLACE_FIXED_NOREPLACE, 0, NULL),
        VMAR_ENOMEM);
    assert_int_equal(vmar_clear(NULL), VMAR_EINVAL);
    vt_teardown(&vt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fork_cow),
        cmocka_unit_test(test_fork_config_lifetime),
        cmocka_unit_test(test_fork_generations),
        cmocka_unit_test(test_fork_kinds),
        cmocka_unit_test(test_fork_oom),
        cmocka_unit_test(test_fork_cow_no_tables),
        cmocka_unit_test(test_fork_tables),
        cmocka_unit_test(test_fork_tables_oom),
        cmocka_unit_test(test_fork_without_copy),
        cmocka_unit_test(test_mmu_copy_op),
        cmocka_unit_test(test_copy_protect_unmap_mixed_table),
        cmocka_unit_test(test_fork_tlb),
        cmocka_unit_test(test_fork_protect),
        cmocka_unit_test(test_clear),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
