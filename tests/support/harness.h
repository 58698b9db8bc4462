/* SPDX-License-Identifier: MIT */
/*
 * Test fixture: one simulated machine and one space, plus helpers that make
 * every test check invariants after each operation and compare whole-space
 * snapshots around failing calls.
 *
 * Include after <cmocka.h>'s prerequisites; this header includes them.
 */
#ifndef VMAR_TEST_HARNESS_H
#define VMAR_TEST_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <vmar/riscv64.h>
#include <vmar/sim.h>
#include <vmar/vmar.h>
#include <vmar/x86_64.h>

#include "refdecode.h"

#define PG ((vmar_size_t)VMAR_PAGE_SIZE)

/*
 * The backend under test, chosen by the environment variable
 * VMAR_TEST_BACKEND: sim (default), x86_64-4l, x86_64-5l, sv39, sv48,
 * sv57. Every backend runs on the sim machine's env: its frame pool is the
 * host arena that plays physical memory, so the real walkers run bit for
 * bit. ctest registers the scenario suites once per backend.
 */
struct vt_backend {
    const char *name; /* the VMAR_TEST_BACKEND value */
    const struct vmar_mmu_ops *ops;
    bool real;                 /* a hardware format: reference-checked */
    enum vt_ref_mode ref_mode; /* when real */
};
/* The selected backend (aborts on an unknown name). */
const struct vt_backend *vt_backend(void);
/* The backend called `name`, or NULL when there is none. */
const struct vt_backend *vt_backend_find(const char *name);
/* Select the backend by name, overriding VMAR_TEST_BACKEND (for drivers
 * with a --backend option); call it while no space exists. Returns 0, or
 * -1 for an unknown name (the selection is then unchanged). */
int vt_backend_select(const char *name);
/* The ops table spaces are given: the sim's own, or for a real backend a
 * copy whose members count their calls (see vt_stats). */
const struct vmar_mmu_ops *vt_backend_ops(void);
/* The selected backend's user_top. */
#define VT_USER_TOP (vt_backend()->ops->user_top)

/* Backend configuration for one space; must outlive vmar_space_create. */
struct vt_mmu_cfg {
    struct vmar_x86_64_config x86;
    struct vmar_riscv64_config rv;
};
/* Point o->mmu and o->mmu_config at the selected backend over `sim`. */
void vt_use_backend(struct vmar_space_opts *o, struct vmar_sim *sim,
                    struct vt_mmu_cfg *cfg);

struct vt {
    struct vmar_sim *sim;
    const struct vmar_env *env;
    struct vmar_space *space;
    struct vmar_space_opts opts; /* what the space was created with */
    struct vt_mmu_cfg cfg;       /* backend config of opts.mmu_config */
    /* The space's table on every backend, as the ops' create returned it
     * (vt_setup, vt_fork): what vt->opts.mmu's members take. */
    struct vmar_mmu *table;
    /* Check the raw tables of a real backend (VT_CHECK, vt_tables); a
     * test that builds its space itself sets it, one that changes the
     * tables behind libvmar's back clears it. */
    bool refcheck;
};

/* The sim machine's counters; for a real backend, the backend-call
 * counters come from the counting ops table, leaves_live is vt_leaves()
 * and tables_live vt_tables() of this space. */
struct vmar_sim_stats vt_stats(struct vt *vt);

/* Present leaves of the space's table, counted through ops->find_next
 * (the sim's leaves_live counter only follows the sim backend). */
size_t vt_leaves(struct vt *vt);
/* Page-table pages of the space: the sim's tables_live for sim, the
 * reference decoder's count for a real backend. */
size_t vt_tables(struct vt *vt);
/* vt_tables that reports a table frame the decoder finds dead instead of
 * failing the test: 0 and *tables set, or 1 with the reason in msg. */
int vt_tables_checked(struct vt *vt, size_t *tables, char *msg, size_t len);

/* The references a frame's count word holds, pins and libvmar's marks
 * not included: the word is opaque to an embedder (vmar/env.h), so this
 * is the one piece of support code that needs the core's private headers
 * (tests/whitebox/frame_refs.c). */
size_t vt_frame_refs(const struct vmar_env *env, vmar_paddr_t pa);

/* Check the raw tables of a real backend against the mapping list with the
 * reference decoder (tests/support/refdecode_*.c); VT_CHECK calls it. */
void vt_refcheck_at(struct vt *vt, const char *file, int line);
/* The same check for drivers that handle a mismatch themselves (the
 * differential driver shrinks its case): 0 when the tables agree, else 1
 * with the reason, one line, in msg (nothing printed, nothing leaked). */
int vt_refcheck(struct vt *vt, char *msg, size_t len);

/* Create a machine of `nframes` frames (0: default) and a space over
 * the selected backend (vt_backend()). `opts` may be NULL; its
 * env/mmu/mmu_config are filled in. Asserts success. */
void vt_setup(struct vt *vt, const struct vmar_space_opts *opts,
              size_t nframes);

/* vt_setup() with the machine's random source seeded with `seed`
 * (vt_setup() uses 42). */
void vt_setup_seeded(struct vt *vt, const struct vmar_space_opts *opts,
                     size_t nframes, uint64_t seed);

/*
 * vt_setup(opts NULL, default frames) with the space on a copy of the
 * selected backend's ops whose flush() skips the next vt_flaky.skip calls
 * (counting them in vt_flaky.skipped): the bug the sim CPUs' stale-TLB
 * detector exists to catch (a frame freed, or a permission downgrade
 * returned, while a CPU still caches the old translation). Everything
 * else, the name included, is the real backend's, so the hardware
 * backends still reach the CPUs through env->tlb_flush when the flush
 * does happen. Both counters start at 0.
 */
struct vt_flaky {
    unsigned skip;    /* flushes still to skip */
    unsigned skipped; /* flushes skipped so far */
};
extern struct vt_flaky vt_flaky;
void vt_setup_flaky(struct vt *vt);

/* Destroy the space and assert that every metadata block and frame came
 * back, then destroy the machine. */
void vt_teardown(struct vt *vt);

/*
 * Cleanup after a failed test (tests/support/cleanup.c). A failed
 * assertion leaves a test before its own teardown. The machines and
 * spaces it registered here are released by the cmocka teardown
 * vt_cleanup, so that valgrind reports only the library's leaks. At most
 * VT_MAX_LIVE machines are registered at a time.
 */
#define VT_MAX_LIVE 4
/* Remember `sim` (and its space, NULL for none) or update its entry. */
void vt_live_set(struct vmar_sim *sim, struct vmar_space *space);
/* Forget `sim` (the test destroys it itself). */
void vt_live_drop(struct vmar_sim *sim);
/* cmocka teardown: destroy every machine still registered, and its space. */
int vt_cleanup(void **state);
/* vt_setup / vt_setup_seeded / vt_teardown, registered. */
void vt_setup_tracked(struct vt *vt, const struct vmar_space_opts *opts,
                      size_t nframes);
void vt_setup_seeded_tracked(struct vt *vt, const struct vmar_space_opts *opts,
                             size_t nframes, uint64_t seed);
void vt_teardown_tracked(struct vt *vt);

/* Fork `parent` into `child`, a vt over the same machine whose backend
 * config is its own copy (PCID/ASID one higher). Returns
 * vmar_fork()'s code; checks both spaces. Destroy the child with
 * vt_child_destroy() before the parent's vt_teardown(). */
int vt_fork(struct vt *parent, struct vt *child);
/* Make `child` a copy of `parent` (no space yet) whose backend config is
 * its own: PCID/ASID `id` on a real backend; the sim's
 * config is the machine. Returns what vmar_fork_opts::mmu_config takes. */
const void *vt_child_config(const struct vt *parent, struct vt *child,
                            unsigned id);
void vt_child_destroy(struct vt *child);

/* One byte through vmar_read / vmar_write (faulting as a user access
 * would), asserting success, then VT_CHECK. */
unsigned char vt_peek(struct vt *vt, vmar_addr_t va);
void vt_poke(struct vt *vt, vmar_addr_t va, unsigned char b);
/* Assert the RSS counters: `anon` and `file` pages, resident their sum. */
void vt_expect_rss(struct vt *vt, size_t anon, size_t file);

/* Assert vmar_check() is clean (prints the layout if not). */
#define VT_CHECK(vt) vt_check_at((vt), __FILE__, __LINE__)
void vt_check_at(struct vt *vt, const char *file, int line);

/* The layout as text, one /proc/pid/maps line per mapping, each ending in
 * '\n'. Caller frees. */
char *vt_layout(struct vt *vt);

/* Assert the layout equals `expected` (same format as vt_layout()). */
#define VT_EXPECT_LAYOUT(vt, expected)                                         \
    vt_expect_layout_at((vt), (expected), __FILE__, __LINE__)
void vt_expect_layout_at(struct vt *vt, const char *expected, const char *file,
                         int line);

/* Everything observable about a space and its machine. */
struct vt_snap {
    char *layout;
    struct vmar_stats stats;
    uint64_t digest;    /* frames and page tables */
    size_t allocs_live; /* metadata */
    size_t frames_live;
};
void vt_snap_take(struct vt *vt, struct vt_snap *snap);
/* Assert `vt` is now exactly as in `snap`; frees the snapshot. */
#define VT_EXPECT_UNCHANGED(vt, snap)                                          \
    vt_expect_unchanged_at((vt), (snap), __FILE__, __LINE__)
void vt_expect_unchanged_at(struct vt *vt, struct vt_snap *snap,
                            const char *file, int line);
void vt_snap_free(struct vt_snap *snap);
/* `call` must fail with `want` and change nothing at all (vmar_check,
 * then VT_EXPECT_UNCHANGED against a snapshot taken before it). */
#define VT_EXPECT_FAILS(vt, call, want)                                        \
    do {                                                                       \
        struct vt_snap snap_;                                                  \
        vt_snap_take((vt), &snap_);                                            \
        VT_EXPECT_RC((call), (want));                                          \
        VT_EXPECT_UNCHANGED((vt), &snap_);                                     \
    } while (0)

/* vmar_advise() on vt's space, then VT_CHECK. */
int vt_advise(struct vt *vt, vmar_addr_t addr, vmar_size_t size, int advice);
/* An advise that must fail with `want` and change nothing at all. */
#define VT_EXPECT_ADVISE_FAILS(vt, addr, size, advice, want)                   \
    VT_EXPECT_FAILS((vt), vt_advise((vt), (addr), (size), (advice)), (want))
/* One vmar_advise() call for the allocation-failure sweeps: `arg` is a
 * struct vt_advice. */
struct vt_advice {
    vmar_addr_t addr;
    vmar_size_t size;
    int advice;
};
int vt_op_advise(struct vt *vt, void *arg);
/* Map one uncached read-write device page at `va` (VMAR_PLACE_FIXED) over
 * a fresh zeroed frame of the machine's, which it returns: the caller
 * gives it back with env->frame_free after unmapping it. */
vmar_paddr_t vt_map_device_page(struct vt *vt, vmar_addr_t va);

/* Fail the test at file:line, naming `what` and both codes by name,
 * unless got == want. */
#define VT_EXPECT_RC(call, want)                                               \
    vt_expect_rc_at((call), (want), #call, __FILE__, __LINE__)
void vt_expect_rc_at(int got, int want, const char *what, const char *file,
                     int line);

/* vmar_map of `pages` pages at exactly `at` (VMAR_PLACE_FIXED); asserts
 * success, then VT_CHECK. */
void vt_map_fixed(struct vt *vt, vmar_addr_t at, size_t pages, unsigned prot,
                  unsigned flags);
/* vmar_stats of the space. */
struct vmar_stats vt_space_stats(struct vt *vt);
/* Frames of the machine in use (vmar_sim_stats). */
size_t vt_frames_live(struct vt *vt);
/*
 * The reference decoder (refcheck.c) assumes every frame is mapped once
 * per space and every leaf of a writable mapping is writable: shared
 * object pages mapped twice and copy-on-write leaves break both. A test
 * that builds those calls this: VT_CHECK then runs vmar_check() only.
 */
void vt_without_refdecoder(struct vt *vt);

/* Page contents for data tests: page i of a run filled with `seed` holds
 * vt_page_byte(seed, i) in every byte. */
unsigned char vt_page_byte(unsigned seed, size_t i);
/* Fill page i of [at, at + pages) with vt_page_byte(seed, i) through
 * vmar_write (which faults the pages in), then VT_CHECK. */
void vt_fill_pages(struct vt *vt, vmar_addr_t at, size_t pages, unsigned seed);
/* Page i of [at, at + pages) holds vt_page_byte(seed, i) everywhere, or
 * zero everywhere when `zero`; read with vmar_read, then VT_CHECK. */
#define VT_EXPECT_PAGES(vt, at, pages, seed)                                   \
    vt_expect_pages_at((vt), (at), (pages), (seed), false, __FILE__, __LINE__)
#define VT_EXPECT_ZERO(vt, at, pages)                                          \
    vt_expect_pages_at((vt), (at), (pages), 0, true, __FILE__, __LINE__)
void vt_expect_pages_at(struct vt *vt, vmar_addr_t at, size_t pages,
                        unsigned seed, bool zero, const char *file, int line);
/* All `n` bytes at p equal v. */
bool vt_all_bytes(const unsigned char *p, size_t n, unsigned char v);

/* vmar_map with a one-line option set; returns the code, stores the
 * address in *addr when non-NULL, then checks invariants. */
int vt_map(struct vt *vt, vmar_addr_t addr, vmar_size_t size, unsigned prot,
           enum vmar_place place, unsigned flags, vmar_addr_t *out);
int vt_map_opts(struct vt *vt, const struct vmar_map_opts *o, vmar_addr_t *out);
/* Map `size` bytes of `obj` from byte `offset` at exactly `addr` (over
 * whatever is there: VMAR_PLACE_FIXED) with `prot` and map `flags`
 * (VMAR_MAP_SHARED or not); vmar_check() after. The mapping takes its
 * own reference on obj. */
int vt_map_object(struct vt *vt, vmar_addr_t addr, vmar_size_t size,
                  unsigned prot, unsigned flags, struct vmar_object *obj,
                  uint64_t offset);
int vt_unmap(struct vt *vt, vmar_addr_t addr, vmar_size_t size);
int vt_protect(struct vt *vt, vmar_addr_t addr, vmar_size_t size,
               unsigned prot);

/*
 * Run `op` with the n-th allocation (metadata or frame) failing, for
 * n = 1, 2, ... until it succeeds (at most 10 000 tries). Every failure
 * must be VMAR_ENOMEM and leave the space exactly as it was
 * (VT_EXPECT_UNCHANGED). Returns how many attempts failed, so the caller
 * can assert the loop was not vacuous.
 */
size_t vt_fail_each_allocation(struct vt *vt, int (*op)(struct vt *, void *),
                               void *arg);

/* A seed for randomised tests: VMAR_TEST_SEED if set, else `dflt`;
 * printed so a failure can be replayed. */
uint64_t vt_seed(uint64_t dflt);
/* splitmix64 step. */
uint64_t vt_rand(uint64_t *state);

#endif /* VMAR_TEST_HARNESS_H */
