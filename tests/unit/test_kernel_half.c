/* SPDX-License-Identifier: MIT */
/*
 * The kernel half of a hardware page table (vmar_x86_64_config::
 * kernel_root, vmar_riscv64_config::kernel_root; src/mmu/radix.h, "The
 * kernel half"): on every hardware backend,
 *  - create copies root entries 256..511 of the kernel's root and nothing
 *    of its lower half;
 *  - map, protect, unmap, find_next, check and fork never change the
 *    kernel's tables or the copied entries, and find_next never reports
 *    a kernel leaf even when asked for the whole address space;
 *  - destroy frees every table of the space and none of the kernel's,
 *    also when the embedder wrote upper-half entries itself (the old
 *    copy-by-hand workaround);
 *  - a misaligned kernel_root is refused and a failed create leaks
 *    nothing.
 * The sim machine plays physical memory: its frame accounting and
 * vmar_sim_frame_live() prove what was freed, and the kernel's tables are
 * compared word for word with a copy taken before.
 *
 * Independent of the sim backend: with VMAR_TEST_BACKEND naming a
 * hardware backend only that one runs, else (unset or sim) all five.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmar/error.h>
#include <vmar/mmu.h>

#define MIB ((vmar_addr_t)1 << 20)
#define RW  (VMAR_PROT_READ | VMAR_PROT_WRITE)
/* Fake device memory outside the pool: leaves are never dereferenced. */
#define DEV ((vmar_paddr_t)1 << 40)

/* The kernel's tables: its root and four tables below it. */
enum {
    K_ROOT,
    K_T1,
    K_T2,
    K_T3,
    K_LOW,
    K_N
};

struct kh {
    const struct vt_backend *b;
    bool x86;
    unsigned levels;
    struct vmar_sim *sim;
    const struct vmar_env *env;
    vmar_paddr_t k[K_N];
    uint64_t saved[K_N][512];
};

/* The backend's ops with a create that records the table it made in the
 * kcfg last initialised, so that the tests can walk the table with the
 * backend's own find_next (libvmar hands no table out). */
static const struct vmar_mmu_ops *rec_real;
static struct vmar_mmu_ops rec_ops;
static struct vmar_mmu **rec_into;

static int rec_create(const struct vmar_env *env, const void *config,
                      struct vmar_mmu **out)
{
    int rc = rec_real->create(env, config, out);

    if (rc == 0)
        *rec_into = *out;
    return rc;
}

/* ---- raw words, written from the manuals' bit positions ----------------
 * x86 (SDM Vol. 3A Table 4-15 ff.): P bit 0, R/W bit 1, PS bit 7, address
 * bits 51:12. RISC-V (privileged spec, Sv39): V 0, R 1, W 2, G 5, A 6,
 * D 7, PPN from bit 10. Supervisor-only (no U), as a kernel's are. */

static uint64_t word_table(const struct kh *h, vmar_paddr_t pa)
{
    return h->x86 ? pa | 0x3 : (pa >> 12) << 10 | 0x1;
}

static uint64_t word_leaf(const struct kh *h, vmar_paddr_t pa, unsigned level)
{
    if (h->x86)
        return pa | 0x3 | (level > 0 ? 0x80u : 0u);
    return (pa >> 12) << 10 | 0xe7;
}

static uint64_t *words(const struct kh *h, vmar_paddr_t pa)
{
    return h->env->phys_to_virt(h->env->ctx, pa);
}

/* ---- fixture ------------------------------------------------------------ */

/* The hardware backends, by their VMAR_TEST_BACKEND names. */
static const struct {
    const char *name;
    bool x86;
    unsigned levels;
} hw[] = {
    {"x86_64-4l", true, 4}, {"x86_64-5l", true, 5}, {"sv39", false, 3},
    {"sv48", false, 4},     {"sv57", false, 5},
};
#define NHW (sizeof(hw) / sizeof(hw[0]))

/* cmocka's prestate for each backend: its index in hw[]. */
static size_t hw_index[NHW];

static void kh_setup(struct kh *h, void **state)
{
    const size_t which = *(const size_t *)*state;
    struct vmar_sim_opts so = {.nframes = 1024};
    uint64_t *root, *t1, *t2, *low;

    memset(h, 0, sizeof(*h));
    h->b = vt_backend_find(hw[which].name);
    assert_non_null(h->b);
    assert_true(h->b->real);
    h->x86 = hw[which].x86;
    h->levels = hw[which].levels;
    rec_real = h->b->ops;
    rec_ops = *rec_real;
    rec_ops.create = rec_create;
    assert_int_equal(vmar_sim_create(&so, &h->sim), 0);
    h->env = vmar_sim_env(h->sim);
    for (unsigned i = 0; i < K_N; i++)
        assert_int_equal(h->env->frame_alloc(h->env->ctx,
                                             VMAR_FRAME_TABLE | VMAR_FRAME_ZERO,
                                             &h->k[i]),
                         0);
    /*
     * The kernel's root: entries 256 and 511 share T1 (T1 -> T2 -> one
     * present leaf), entry 300 holds an empty table T3, and entry 0 (its
     * own low mapping, T_LOW with a leaf) must not be copied. A walk into
     * T1 or T2 would assert on the leaf; a fini that walked T3 would free
     * it, which vmar_sim_frame_live() and the frame count would show.
     */
    root = words(h, h->k[K_ROOT]);
    t1 = words(h, h->k[K_T1]);
    t2 = words(h, h->k[K_T2]);
    low = words(h, h->k[K_LOW]);
    root[0] = word_table(h, h->k[K_LOW]);
    root[256] = word_table(h, h->k[K_T1]);
    root[300] = word_table(h, h->k[K_T3]);
    root[511] = word_table(h, h->k[K_T1]);
    t1[0] = word_table(h, h->k[K_T2]);
    t2[5] = word_leaf(h, DEV, h->levels - 3);
    low[1] = word_table(h, h->k[K_T3]);
    for (unsigned i = 0; i < K_N; i++)
        memcpy(h->saved[i], words(h, h->k[i]), sizeof(h->saved[i]));
}

/* The kernel's tables are allocated and hold what they held at setup. */
static void kernel_intact(const struct kh *h)
{
    for (unsigned i = 0; i < K_N; i++) {
        assert_true(vmar_sim_frame_live(h->sim, h->k[i]));
        assert_memory_equal(words(h, h->k[i]), h->saved[i],
                            sizeof(h->saved[i]));
    }
}

/* Free the kernel's tables; then nothing may be left on the machine. */
static void kh_teardown(struct kh *h)
{
    struct vmar_sim_stats st;

    kernel_intact(h);
    vmar_sim_stats(h->sim, &st);
    assert_int_equal(st.frames_live, K_N);
    assert_int_equal(st.allocs_live, 0);
    for (unsigned i = 0; i < K_N; i++)
        h->env->frame_free(h->env->ctx, h->k[i]);
    vmar_sim_stats(h->sim, &st);
    assert_int_equal(st.frames_live, 0);
    vmar_sim_destroy(h->sim);
}

/* A backend config and the table made from it. */
struct kcfg {
    struct vmar_x86_64_config x86;
    struct vmar_riscv64_config rv;
    struct vmar_mmu *mmu; /* recorded by rec_create */
};

static const void *kcfg_init(const struct kh *h, struct kcfg *c,
                             vmar_paddr_t kernel_root)
{
    memset(c, 0, sizeof(*c));
    c->x86.kernel_root = kernel_root;
    c->rv.kernel_root = kernel_root;
    rec_into = &c->mmu;
    return h->x86 ? (const void *)&c->x86 : (const void *)&c->rv;
}

static int space_create(const struct kh *h, struct kcfg *c,
                        vmar_paddr_t kernel_root, struct vmar_space **out)
{
    struct vmar_space_opts o = {0};

    o.env = h->env;
    o.mmu = &rec_ops;
    o.mmu_config = kcfg_init(h, c, kernel_root);
    return vmar_space_create(&o, out);
}

/* The raw root table of a space, after checking the register value the
 * backend reports for it (x86-64: CR3 is the root and PCID 0; RISC-V:
 * satp's MODE is 5 + levels and its PPN the root's). */
static uint64_t *root_of(const struct kh *h, const struct kcfg *c)
{
    struct vmar_mmu_activation act;

    h->b->ops->activation(c->mmu, &act);
    if (h->x86)
        assert_int_equal(act.value, act.root);
    else
        assert_int_equal(act.value,
                         (uint64_t)(5 + h->levels) << 60 | act.root >> 12);
    return words(h, act.root);
}

/* The space's upper half is the kernel's, word for word. */
static void upper_is_kernel(const struct kh *h, const struct kcfg *c)
{
    const uint64_t *root = root_of(h, c);

    assert_memory_equal(&root[256], &h->saved[K_ROOT][256],
                        256 * sizeof(uint64_t));
    kernel_intact(h);
}

/* Everything is as it should be after one user-range operation. */
static void after_op(const struct kh *h, const struct kcfg *c,
                     struct vmar_space *s)
{
    assert_int_equal(vmar_check(s), 0);
    upper_is_kernel(h, c);
}

static void map_at(struct vmar_space *s, vmar_addr_t va, vmar_size_t len)
{
    struct vmar_map_opts o = {.addr = va,
                              .size = len,
                              .prot = RW,
                              .place = VMAR_PLACE_FIXED,
                              .flags = VMAR_MAP_POPULATE};
    vmar_addr_t got;

    assert_int_equal(vmar_map(s, &o, &got), 0);
    assert_int_equal(got, va);
}

static void map_device(struct vmar_space *s, vmar_addr_t va, vmar_size_t len)
{
    struct vmar_map_opts o = {.addr = va,
                              .size = len,
                              .prot = RW,
                              .place = VMAR_PLACE_FIXED,
                              .backing = VMAR_BACKING_DEVICE,
                              .paddr = DEV,
                              .cache = VMAR_CACHE_UC};
    vmar_addr_t got;

    assert_int_equal(vmar_map(s, &o, &got), 0);
}

/* Leaves the backend reports over the whole 64-bit address space, each
 * below user_top (none is a kernel leaf). */
static size_t leaves_anywhere(const struct kh *h, const struct kcfg *c)
{
    vmar_addr_t va = 0;
    struct vmar_pte pte;
    size_t n = 0;

    while (h->b->ops->find_next(c->mmu, &va, ~(vmar_addr_t)0, &pte) == 0) {
        assert_true(va < h->b->ops->user_top);
        n++;
        va += PG;
    }
    return n;
}

/* ---- the tests ---------------------------------------------------------- */

static void test_copied_and_left_alone(void **state)
{
    struct kh h;
    struct kcfg c;
    struct vmar_space *s;
    struct vmar_sim_stats st;
    const uint64_t *root;
    vmar_addr_t top;

    kh_setup(&h, state);
    top = h.b->ops->user_top;
    assert_int_equal(space_create(&h, &c, h.k[K_ROOT], &s), 0);
    root = root_of(&h, &c);
    /* Only the upper half is copied: the kernel's low entry is not. */
    for (unsigned i = 0; i < 256; i++)
        assert_int_equal(root[i], 0);
    upper_is_kernel(&h, &c);
    assert_int_equal(leaves_anywhere(&h, &c), 0);

    /* The lowest and the highest user pages (the last one sits under root
     * entry 255, right below the kernel half), and a device range that
     * the backend maps with 2 MiB leaves. */
    map_at(s, VMAR_DEFAULT_USER_LO, 8 * PG);
    after_op(&h, &c, s);
    map_at(s, top - 16 * PG, 16 * PG);
    after_op(&h, &c, s);
    map_device(s, 64 * MIB, 4 * MIB);
    after_op(&h, &c, s);
    assert_int_equal(leaves_anywhere(&h, &c), 8 + 16 + 1024);

    /* Protect splits a 2 MiB leaf; protect the top page on its own. */
    assert_int_equal(vmar_protect(s, 65 * MIB, PG, VMAR_PROT_READ), 0);
    after_op(&h, &c, s);
    assert_int_equal(vmar_protect(s, top - PG, PG, VMAR_PROT_NONE), 0);
    after_op(&h, &c, s);
    assert_int_equal(vmar_unmap(s, 64 * MIB + PG, PG), 0);
    after_op(&h, &c, s);

    /* The whole user range: every table of the lower half goes, the root
     * keeps exactly the kernel's entries. */
    assert_int_equal(
        vmar_unmap(s, VMAR_DEFAULT_USER_LO, top - VMAR_DEFAULT_USER_LO), 0);
    after_op(&h, &c, s);
    assert_int_equal(leaves_anywhere(&h, &c), 0);
    for (unsigned i = 0; i < 256; i++)
        assert_int_equal(root[i], 0);

    map_at(s, top - PG, PG);
    vmar_space_destroy(s);
    /* The space's root and tables are gone, the kernel's all here. */
    vmar_sim_stats(h.sim, &st);
    assert_int_equal(st.frames_live, K_N);
    kh_teardown(&h);
}

/* Several spaces at once share the kernel's tables; each owns its root. */
static void test_shared_by_spaces(void **state)
{
    struct kh h;
    struct kcfg c[3];
    struct vmar_space *s[3];

    kh_setup(&h, state);
    for (unsigned i = 0; i < 3; i++) {
        assert_int_equal(space_create(&h, &c[i], h.k[K_ROOT], &s[i]), 0);
        map_at(s[i], 0x400000 + i * MIB, 3 * PG);
    }
    for (unsigned i = 0; i < 3; i++) {
        after_op(&h, &c[i], s[i]);
        assert_true(root_of(&h, &c[i]) != words(&h, h.k[K_ROOT]));
    }
    /* Destroy the middle one first: the others keep the kernel half. */
    vmar_space_destroy(s[1]);
    after_op(&h, &c[0], s[0]);
    after_op(&h, &c[2], s[2]);
    vmar_space_destroy(s[0]);
    vmar_space_destroy(s[2]);
    kh_teardown(&h);
}

/* The child of a fork gets the kernel half from its own config. */
static void test_fork(void **state)
{
    struct kh h;
    struct kcfg pc, cc;
    struct vmar_space *parent, *child;
    struct vmar_fork_opts fo = {0};

    kh_setup(&h, state);
    assert_int_equal(space_create(&h, &pc, h.k[K_ROOT], &parent), 0);
    map_at(parent, 0x400000, 4 * PG);
    fo.mmu_config = kcfg_init(&h, &cc, h.k[K_ROOT]);
    assert_int_equal(vmar_fork(parent, &fo, &child), 0);
    after_op(&h, &pc, parent);
    after_op(&h, &cc, child);
    assert_int_equal(leaves_anywhere(&h, &cc), 4);
    vmar_space_destroy(parent);
    after_op(&h, &cc, child);
    vmar_space_destroy(child);
    kh_teardown(&h);
}

/* Without kernel_root the upper half starts empty; entries the embedder
 * writes there itself (the copy-by-hand way) survive destroy too. */
static void test_hand_written_upper_half(void **state)
{
    struct kh h;
    struct kcfg c;
    struct vmar_space *s;
    uint64_t *root;

    kh_setup(&h, state);
    assert_int_equal(space_create(&h, &c, 0, &s), 0);
    root = root_of(&h, &c);
    for (unsigned i = 0; i < 512; i++)
        assert_int_equal(root[i], 0);
    for (unsigned i = 256; i < 512; i++)
        root[i] = h.saved[K_ROOT][i];
    map_at(s, 0x400000, 2 * PG);
    after_op(&h, &c, s);
    assert_int_equal(vmar_unmap(s, 0x400000, 2 * PG), 0);
    after_op(&h, &c, s);
    vmar_space_destroy(s);
    kh_teardown(&h);
}

/* A misaligned kernel_root is refused; a create that runs out of memory
 * leaks nothing and leaves the kernel alone. */
static void test_bad_and_failing_create(void **state)
{
    struct kh h;
    struct kcfg c;
    struct vmar_space *s = NULL;
    struct vmar_sim_stats st;
    int rc;

    kh_setup(&h, state);
    assert_int_equal(space_create(&h, &c, h.k[K_ROOT] + 8, &s), VMAR_EINVAL);
    assert_null(s);
    vmar_sim_stats(h.sim, &st);
    assert_int_equal(st.frames_live, K_N);
    assert_int_equal(st.allocs_live, 0);

    /* Fail the n-th allocation of create for n = 1, 2, ... until it
     * succeeds: every failure leaves only the kernel's frames. */
    for (size_t n = 1;; n++) {
        vmar_sim_fail_after(h.sim, n, VMAR_SIM_FAIL_ANY, false);
        rc = space_create(&h, &c, h.k[K_ROOT], &s);
        vmar_sim_fail_after(h.sim, 0, 0, false);
        if (rc == 0)
            break;
        assert_int_equal(rc, VMAR_ENOMEM);
        assert_true(n < 100);
        vmar_sim_stats(h.sim, &st);
        assert_int_equal(st.frames_live, K_N);
        assert_int_equal(st.allocs_live, 0);
        kernel_intact(&h);
    }
    upper_is_kernel(&h, &c);
    vmar_space_destroy(s);
    kh_teardown(&h);
}

int main(void)
{
    const char *only = getenv("VMAR_TEST_BACKEND");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_copied_and_left_alone),
        cmocka_unit_test(test_shared_by_spaces),
        cmocka_unit_test(test_fork),
        cmocka_unit_test(test_hand_written_upper_half),
        cmocka_unit_test(test_bad_and_failing_create),
    };
    struct CMUnitTest group[sizeof(tests) / sizeof(tests[0])];
    int failed = 0, ran = 0;

    for (size_t i = 0; i < NHW; i++) {
        char name[64];

        if (only != NULL && strcmp(only, "sim") != 0 &&
            strcmp(only, hw[i].name) != 0)
            continue;
        hw_index[i] = i;
        memcpy(group, tests, sizeof(group));
        for (size_t t = 0; t < sizeof(group) / sizeof(group[0]); t++)
            group[t].initial_state = &hw_index[i];
        snprintf(name, sizeof(name), "kernel_half@%s", hw[i].name);
        failed += cmocka_run_group_tests_name(name, group, NULL, NULL);
        ran++;
    }
    if (ran == 0) {
        fprintf(stderr, "VMAR_TEST_BACKEND=%s is no hardware backend\n", only);
        return 1;
    }
    return failed != 0;
}
