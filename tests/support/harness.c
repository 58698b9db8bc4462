/* SPDX-License-Identifier: MIT */
#include "harness.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct vt_backend backends[] = {
    {"sim", &vmar_mmu_sim, false, VT_REF_X86_4L},
    {"x86_64-4l", &vmar_mmu_x86_64_4l, true, VT_REF_X86_4L},
    {"x86_64-5l", &vmar_mmu_x86_64_5l, true, VT_REF_X86_5L},
    {"sv39", &vmar_mmu_riscv64_sv39, true, VT_REF_SV39},
    {"sv48", &vmar_mmu_riscv64_sv48, true, VT_REF_SV48},
    {"sv57", &vmar_mmu_riscv64_sv57, true, VT_REF_SV57},
};

/*
 * Spaces run through a copy of their backend's ops table. Its create
 * records the table it made, so a test can reach a space's table through
 * the ops as the core does (vt->table). On a real backend the members
 * also count their calls before forwarding, so tests can assert on
 * backend calls (maps, unmaps, protects, flushes) on every backend, as
 * the sim counts them itself. One backend per process, hence the
 * file-scope state.
 */
static const struct vmar_mmu_ops *real_ops;
static struct vmar_mmu_ops counted_ops;
static struct vmar_sim_stats op_counts;
static struct vmar_mmu *last_created;

static int c_create(const struct vmar_env *env, const void *config,
                    struct vmar_mmu **out)
{
    int rc = real_ops->create(env, config, out);

    if (rc == 0)
        last_created = *out;
    return rc;
}

static int c_prepare(struct vmar_mmu *mmu, vmar_addr_t va, vmar_size_t len,
                     enum vmar_mmu_prep what, struct vmar_frame_list *resv)
{
    op_counts.prepares++;
    return real_ops->prepare(mmu, va, len, what, resv);
}

static void c_map(struct vmar_mmu *mmu, vmar_addr_t va,
                  const struct vmar_pte *pte, struct vmar_frame_list *resv)
{
    op_counts.maps++;
    real_ops->map(mmu, va, pte, resv);
}

static size_t c_unmap(struct vmar_mmu *mmu, vmar_addr_t va, vmar_size_t len,
                      struct vmar_frame_list *resv,
                      struct vmar_tlb_batch *batch)
{
    op_counts.unmaps++;
    return real_ops->unmap(mmu, va, len, resv, batch);
}

static void c_protect(struct vmar_mmu *mmu, vmar_addr_t va, vmar_size_t len,
                      unsigned prot, struct vmar_frame_list *resv,
                      struct vmar_tlb_batch *batch)
{
    op_counts.protects++;
    real_ops->protect(mmu, va, len, prot, resv, batch);
}

/* One page installed: counted with the maps, as the sim counts it. */
static void c_replace(struct vmar_mmu *mmu, vmar_addr_t va,
                      const struct vmar_pte *pte, struct vmar_tlb_batch *batch)
{
    op_counts.maps++;
    real_ops->replace(mmu, va, pte, batch);
}

static int c_find_next(const struct vmar_mmu *mmu, vmar_addr_t *va,
                       vmar_addr_t end, struct vmar_pte *pte)
{
    op_counts.finds++;
    return real_ops->find_next(mmu, va, end, pte);
}

/* Counted as the sim counts them: probe with the finds, map_empty with
 * the maps when it installs and with the finds when a leaf is there. */
static int c_probe(const struct vmar_mmu *mmu, vmar_addr_t va,
                   struct vmar_pte *pte, size_t *missing)
{
    op_counts.finds++;
    return real_ops->probe(mmu, va, pte, missing);
}

static int c_map_empty(struct vmar_mmu *mmu, vmar_addr_t va,
                       const struct vmar_pte *pte, struct vmar_frame_list *resv,
                       struct vmar_pte *found)
{
    int rc = real_ops->map_empty(mmu, va, pte, resv, found);

    if (rc == 0)
        op_counts.maps++;
    else
        op_counts.finds++;
    return rc;
}

static void c_flush(struct vmar_mmu *mmu, vmar_addr_t va, vmar_size_t len)
{
    op_counts.flushes++;
    real_ops->flush(mmu, va, len);
}

const struct vmar_mmu_ops *vt_backend_ops(void)
{
    const struct vt_backend *b = vt_backend();

    if (real_ops == b->ops)
        return &counted_ops;
    real_ops = b->ops;
    counted_ops = *b->ops;
    counted_ops.create = c_create;
    if (b->real) {
        counted_ops.prepare = c_prepare;
        counted_ops.map = c_map;
        counted_ops.unmap = c_unmap;
        counted_ops.protect = c_protect;
        counted_ops.find_next = c_find_next;
        counted_ops.replace = c_replace;
        counted_ops.flush = c_flush;
        if (b->ops->probe)
            counted_ops.probe = c_probe;
        if (b->ops->map_empty)
            counted_ops.map_empty = c_map_empty;
    }
    return &counted_ops;
}

struct vmar_sim_stats vt_stats(struct vt *vt)
{
    struct vmar_sim_stats s;

    vmar_sim_stats(vt->sim, &s);
    if (!vt_backend()->real)
        return s;
    s.prepares = op_counts.prepares;
    s.maps = op_counts.maps;
    s.unmaps = op_counts.unmaps;
    s.protects = op_counts.protects;
    s.finds = op_counts.finds;
    s.flushes = op_counts.flushes;
    s.leaves_live = vt->space != NULL ? vt_leaves(vt) : 0;
    s.tables_live = vt_tables(vt);
    return s;
}

/* Chosen by vt_backend_select(), else from VMAR_TEST_BACKEND on first use. */
static const struct vt_backend *chosen;

const struct vt_backend *vt_backend_find(const char *name)
{
    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
        if (strcmp(backends[i].name, name) == 0)
            return &backends[i];
    return NULL;
}

int vt_backend_select(const char *name)
{
    const struct vt_backend *b = vt_backend_find(name);

    if (b == NULL)
        return -1;
    chosen = b;
    return 0;
}

const struct vt_backend *vt_backend(void)
{
    const char *name;

    if (chosen)
        return chosen;
    name = getenv("VMAR_TEST_BACKEND");
    if (name == NULL || *name == '\0')
        name = "sim";
    chosen = vt_backend_find(name);
    if (chosen == NULL) {
        fprintf(stderr, "VMAR_TEST_BACKEND=%s: unknown backend\n", name);
        abort();
    }
    return chosen;
}

void vt_use_backend(struct vmar_space_opts *o, struct vmar_sim *sim,
                    struct vt_mmu_cfg *cfg)
{
    const struct vt_backend *b = vt_backend();

    memset(cfg, 0, sizeof(*cfg));
    o->mmu = vt_backend_ops();
    if (!b->real) {
        o->mmu_config = sim;
    } else if (b->ref_mode == VT_REF_X86_4L || b->ref_mode == VT_REF_X86_5L) {
        cfg->x86.pcid = 0x123; /* shows up in CR3, not in the root */
        o->mmu_config = &cfg->x86;
    } else {
        cfg->rv.asid = 0x4567; /* shows up in satp, not in the root */
        o->mmu_config = &cfg->rv;
    }
}

struct vt_flaky vt_flaky;
static const struct vmar_mmu_ops *flaky_real;
static struct vmar_mmu_ops flaky_ops;

static void flaky_flush(struct vmar_mmu *mmu, vmar_addr_t va, vmar_size_t len)
{
    if (vt_flaky.skip > 0) {
        vt_flaky.skip--;
        vt_flaky.skipped++;
        return;
    }
    flaky_real->flush(mmu, va, len);
}

/* vt_setup_seeded, the machine registered with vt_live_set() as soon as
 * it exists when `track` (so a failed space creation leaks nothing). */
static void setup(struct vt *vt, const struct vmar_space_opts *opts,
                  size_t nframes, uint64_t seed, bool track, bool flaky)
{
    struct vmar_sim_opts so = {
        .nframes = nframes, .seed = seed, .with_random = true, .verbose = true};

    memset(vt, 0, sizeof(*vt));
    assert_int_equal(vmar_sim_create(&so, &vt->sim), 0);
    if (track)
        vt_live_set(vt->sim, NULL);
    vt->env = vmar_sim_env(vt->sim);
    if (opts)
        vt->opts = *opts;
    vt->opts.env = vt->env;
    vt_use_backend(&vt->opts, vt->sim, &vt->cfg);
    if (flaky) {
        flaky_real = vt->opts.mmu;
        flaky_ops = *vt->opts.mmu;
        flaky_ops.flush = flaky_flush;
        vt_flaky = (struct vt_flaky){0, 0};
        vt->opts.mmu = &flaky_ops;
    }
    last_created = NULL;
    assert_int_equal(vmar_space_create(&vt->opts, &vt->space), 0);
    vt->refcheck = vt_backend()->real;
    vt->table = last_created;
    if (track)
        vt_live_set(vt->sim, vt->space);
    VT_CHECK(vt);
}

void vt_setup(struct vt *vt, const struct vmar_space_opts *opts, size_t nframes)
{
    setup(vt, opts, nframes, 42, false, false);
}

void vt_setup_seeded(struct vt *vt, const struct vmar_space_opts *opts,
                     size_t nframes, uint64_t seed)
{
    setup(vt, opts, nframes, seed, false, false);
}

void vt_setup_tracked(struct vt *vt, const struct vmar_space_opts *opts,
                      size_t nframes)
{
    setup(vt, opts, nframes, 42, true, false);
}

void vt_setup_seeded_tracked(struct vt *vt, const struct vmar_space_opts *opts,
                             size_t nframes, uint64_t seed)
{
    setup(vt, opts, nframes, seed, true, false);
}

void vt_setup_flaky(struct vt *vt)
{
    setup(vt, NULL, 0, 42, false, true);
}

void vt_teardown_tracked(struct vt *vt)
{
    vt_live_drop(vt->sim);
    vt_teardown(vt);
}

const void *vt_child_config(const struct vt *parent, struct vt *child,
                            unsigned id)
{
    *child = *parent;
    child->space = NULL;
    child->refcheck = false;
    child->table = NULL;
    if (parent->opts.mmu_config == &parent->cfg.x86) {
        child->cfg.x86.pcid = (uint16_t)id;
        child->opts.mmu_config = &child->cfg.x86;
    } else if (parent->opts.mmu_config == &parent->cfg.rv) {
        child->cfg.rv.asid = (uint16_t)id;
        child->opts.mmu_config = &child->cfg.rv;
    }
    return child->opts.mmu_config;
}

int vt_fork(struct vt *parent, struct vt *child)
{
    /* An address-space id of its own: one above the parent's. */
    unsigned id = parent->opts.mmu_config == &parent->cfg.rv
                      ? parent->cfg.rv.asid + 1u
                      : parent->cfg.x86.pcid + 1u;
    struct vmar_fork_opts fo = {
        .mmu_config = vt_child_config(parent, child, id),
    };
    int rc;

    last_created = NULL;
    rc = vmar_fork(parent->space, &fo, &child->space);
    if (rc == 0) {
        child->refcheck = vt_backend()->real;
        child->table = last_created;
        VT_CHECK(child);
    } else {
        child->space = NULL;
    }
    VT_CHECK(parent);
    return rc;
}

unsigned char vt_peek(struct vt *vt, vmar_addr_t va)
{
    unsigned char b = 0xEE;
    assert_int_equal(vmar_read(vt->space, va, &b, 1, NULL), 0);
    VT_CHECK(vt);
    return b;
}

void vt_poke(struct vt *vt, vmar_addr_t va, unsigned char b)
{
    assert_int_equal(vmar_write(vt->space, va, &b, 1, NULL), 0);
    VT_CHECK(vt);
}

void vt_expect_rss(struct vt *vt, size_t anon, size_t file)
{
    struct vmar_stats s;
    vmar_stats(vt->space, &s);
    assert_int_equal(s.resident_anon, anon * PG);
    assert_int_equal(s.resident_file, file * PG);
    assert_int_equal(s.resident, (anon + file) * PG);
}

void vt_child_destroy(struct vt *child)
{
    if (child->space)
        vmar_space_destroy(child->space);
    child->space = NULL;
}

void vt_teardown(struct vt *vt)
{
    struct vmar_sim_stats st;

    if (vt->space)
        vmar_space_destroy(vt->space);
    vt->space = NULL;
    vmar_sim_stats(vt->sim, &st);
    assert_int_equal(st.allocs_live, 0);
    assert_int_equal(st.frames_live, 0);
    assert_int_equal(st.leaves_live, 0);
    vmar_sim_destroy(vt->sim);
    vt->sim = NULL;
}

struct strbuf {
    char *s;
    size_t len, cap;
};

static void append_line(void *arg, const char *line)
{
    struct strbuf *b = arg;
    size_t n = strlen(line);

    if (b->len + n + 2 > b->cap) {
        b->cap = (b->len + n + 2) * 2;
        b->s = realloc(b->s, b->cap);
        assert_non_null(b->s);
    }
    memcpy(b->s + b->len, line, n);
    b->len += n;
    b->s[b->len++] = '\n';
    b->s[b->len] = '\0';
}

char *vt_layout(struct vt *vt)
{
    struct strbuf b = {NULL, 0, 0};

    b.s = calloc(1, 1);
    assert_non_null(b.s);
    vmar_dump(vt->space, append_line, &b);
    return b.s;
}

void vt_check_at(struct vt *vt, const char *file, int line)
{
    int rc = vmar_check(vt->space);
    if (rc != 0) {
        char *l = vt_layout(vt);
        fprintf(stderr, "%s:%d: vmar_check failed (%s); layout:\n%s", file,
                line, vmar_errname(rc), l);
        free(l);
    }
    _assert_int_equal((uintmax_t)rc, 0, file, line);
    if (vt->refcheck && vt_backend()->real)
        vt_refcheck_at(vt, file, line);
}

void vt_expect_layout_at(struct vt *vt, const char *expected, const char *file,
                         int line)
{
    char *l = vt_layout(vt);
    if (strcmp(l, expected) != 0)
        fprintf(stderr, "%s:%d: layout differs\n--- expected\n%s--- got\n%s",
                file, line, expected, l);
    int same = strcmp(l, expected) == 0;
    free(l);
    _assert_true((uintmax_t)same, "layout == expected", file, line);
}

void vt_snap_take(struct vt *vt, struct vt_snap *snap)
{
    struct vmar_sim_stats st;

    snap->layout = vt_layout(vt);
    vmar_stats(vt->space, &snap->stats);
    snap->digest = vmar_sim_digest(vt->sim);
    vmar_sim_stats(vt->sim, &st);
    snap->allocs_live = st.allocs_live;
    snap->frames_live = st.frames_live;
}

void vt_snap_free(struct vt_snap *snap)
{
    free(snap->layout);
    snap->layout = NULL;
}

void vt_expect_unchanged_at(struct vt *vt, struct vt_snap *snap,
                            const char *file, int line)
{
    struct vt_snap now;

    vt_snap_take(vt, &now);
    if (strcmp(now.layout, snap->layout) != 0)
        fprintf(stderr, "%s:%d: layout changed\n--- before\n%s--- after\n%s",
                file, line, snap->layout, now.layout);
    _assert_true(strcmp(now.layout, snap->layout) == 0, "layout unchanged",
                 file, line);
    _assert_true(memcmp(&now.stats, &snap->stats, sizeof(now.stats)) == 0,
                 "stats unchanged", file, line);
    _assert_int_equal(now.digest, snap->digest, file, line);
    _assert_int_equal(now.allocs_live, snap->allocs_live, file, line);
    _assert_int_equal(now.frames_live, snap->frames_live, file, line);
    vt_snap_free(&now);
    vt_snap_free(snap);
    vt_check_at(vt, file, line);
}

void vt_expect_rc_at(int got, int want, const char *what, const char *file,
                     int line)
{
    if (got != want) {
        fprintf(stderr, "%s:%d: %s returned %s (%d), expected %s (%d)\n", file,
                line, what, vmar_errname(got), got, vmar_errname(want), want);
        _fail(file, line);
    }
}

void vt_map_fixed(struct vt *vt, vmar_addr_t at, size_t pages, unsigned prot,
                  unsigned flags)
{
    vmar_addr_t got = 0;

    VT_EXPECT_RC(
        vt_map(vt, at, pages * PG, prot, VMAR_PLACE_FIXED, flags, &got), 0);
    assert_int_equal(got, at);
}

struct vmar_stats vt_space_stats(struct vt *vt)
{
    struct vmar_stats st;

    vmar_stats(vt->space, &st);
    return st;
}

size_t vt_frames_live(struct vt *vt)
{
    struct vmar_sim_stats s;

    vmar_sim_stats(vt->sim, &s);
    return s.frames_live;
}

void vt_without_refdecoder(struct vt *vt)
{
    vt->refcheck = false;
}

unsigned char vt_page_byte(unsigned seed, size_t i)
{
    return (unsigned char)(seed + 17 * i + 1);
}

void vt_fill_pages(struct vt *vt, vmar_addr_t at, size_t pages, unsigned seed)
{
    static unsigned char buf[VMAR_PAGE_SIZE];
    size_t done = 0;

    for (size_t i = 0; i < pages; i++) {
        memset(buf, vt_page_byte(seed, i), sizeof(buf));
        assert_int_equal(
            vmar_write(vt->space, at + i * PG, buf, sizeof(buf), &done), 0);
        assert_int_equal(done, PG);
    }
    VT_CHECK(vt);
}

bool vt_all_bytes(const unsigned char *p, size_t n, unsigned char v)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != v)
            return false;
    return true;
}

void vt_expect_pages_at(struct vt *vt, vmar_addr_t at, size_t pages,
                        unsigned seed, bool zero, const char *file, int line)
{
    static unsigned char buf[VMAR_PAGE_SIZE];
    size_t done = 0;

    for (size_t i = 0; i < pages; i++) {
        unsigned char want = zero ? 0 : vt_page_byte(seed, i);
        memset(buf, 0xee, sizeof(buf));
        _assert_int_equal(
            vmar_read(vt->space, at + i * PG, buf, sizeof(buf), &done), 0, file,
            line);
        _assert_int_equal(done, PG, file, line);
        if (!vt_all_bytes(buf, sizeof(buf), want)) {
            fprintf(stderr, "%s:%d: page %zu at %#llx: byte %#x, want %#x\n",
                    file, line, i, (unsigned long long)(at + i * PG), buf[0],
                    want);
            _fail(file, line);
        }
    }
    vt_check_at(vt, file, line);
}

int vt_map_opts(struct vt *vt, const struct vmar_map_opts *o, vmar_addr_t *out)
{
    int rc = vmar_map(vt->space, o, out);
    VT_CHECK(vt);
    return rc;
}

int vt_map_object(struct vt *vt, vmar_addr_t addr, vmar_size_t size,
                  unsigned prot, unsigned flags, struct vmar_object *obj,
                  uint64_t offset)
{
    const struct vmar_map_opts o = {.addr = addr,
                                    .size = size,
                                    .prot = prot,
                                    .place = VMAR_PLACE_FIXED,
                                    .flags = flags,
                                    .backing = VMAR_BACKING_OBJECT,
                                    .object = obj,
                                    .offset = offset};
    return vt_map_opts(vt, &o, NULL);
}

int vt_map(struct vt *vt, vmar_addr_t addr, vmar_size_t size, unsigned prot,
           enum vmar_place place, unsigned flags, vmar_addr_t *out)
{
    struct vmar_map_opts o = {.addr = addr,
                              .size = size,
                              .prot = prot,
                              .place = place,
                              .flags = flags};
    return vt_map_opts(vt, &o, out);
}

int vt_unmap(struct vt *vt, vmar_addr_t addr, vmar_size_t size)
{
    int rc = vmar_unmap(vt->space, addr, size);
    VT_CHECK(vt);
    return rc;
}

int vt_protect(struct vt *vt, vmar_addr_t addr, vmar_size_t size, unsigned prot)
{
    int rc = vmar_protect(vt->space, addr, size, prot);
    VT_CHECK(vt);
    return rc;
}

uint64_t vt_seed(uint64_t dflt)
{
    const char *s = getenv("VMAR_TEST_SEED");
    uint64_t seed = s ? strtoull(s, NULL, 0) : dflt;
    fprintf(stderr, "seed: %" PRIu64 " (set VMAR_TEST_SEED to replay)\n", seed);
    return seed;
}

uint64_t vt_rand(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

vmar_paddr_t vt_map_device_page(struct vt *vt, vmar_addr_t va)
{
    vmar_paddr_t pa = 0;

    assert_int_equal(vt->env->frame_alloc(vt->env->ctx, VMAR_FRAME_ZERO, &pa),
                     0);
    struct vmar_map_opts o = {.addr = va,
                              .size = PG,
                              .prot = VMAR_PROT_READ | VMAR_PROT_WRITE,
                              .place = VMAR_PLACE_FIXED,
                              .backing = VMAR_BACKING_DEVICE,
                              .paddr = pa,
                              .cache = VMAR_CACHE_UC};
    VT_EXPECT_RC(vt_map_opts(vt, &o, NULL), 0);
    return pa;
}

size_t vt_fail_each_allocation(struct vt *vt, int (*op)(struct vt *, void *),
                               void *arg)
{
    size_t failed = 0;

    for (size_t n = 1; n < 10000; n++) {
        struct vt_snap snap;
        vt_snap_take(vt, &snap);
        vmar_sim_fail_after(vt->sim, n, VMAR_SIM_FAIL_ANY, false);
        int rc = op(vt, arg);
        vmar_sim_fail_after(vt->sim, 0, 0, false);
        if (rc == 0) {
            vt_snap_free(&snap);
            return failed;
        }
        assert_int_equal(rc, VMAR_ENOMEM);
        VT_EXPECT_UNCHANGED(vt, &snap);
        failed++;
    }
    fail_msg("the operation never succeeded in 10 000 tries");
    return failed;
}

int vt_advise(struct vt *vt, vmar_addr_t addr, vmar_size_t size, int advice)
{
    int rc = vmar_advise(vt->space, addr, size, advice);
    VT_CHECK(vt);
    return rc;
}

int vt_op_advise(struct vt *vt, void *arg)
{
    const struct vt_advice *a = arg;

    return vmar_advise(vt->space, a->addr, a->size, a->advice);
}
