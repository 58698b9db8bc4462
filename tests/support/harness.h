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

#include <vmar/sim.h>
#include <vmar/vmar.h>

#define PG ((vmar_size_t)VMAR_PAGE_SIZE)

struct vt {
    struct vmar_sim *sim;
    const struct vmar_env *env;
    struct vmar_space *space;
    struct vmar_space_opts opts; /* what the space was created with */
};

/* Create a machine of `nframes` frames (0: default) and a space over
 * vmar_mmu_sim. `opts` may be NULL; its env/mmu/mmu_config are filled in.
 * Asserts success. */
void vt_setup(struct vt *vt, const struct vmar_space_opts *opts,
              size_t nframes);

/* Destroy the space and assert that every metadata block and frame came
 * back, then destroy the machine. */
void vt_teardown(struct vt *vt);

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

/* vmar_map with a one-line option set; returns the code, stores the
 * address in *addr when non-NULL, then checks invariants. */
int vt_map(struct vt *vt, vmar_addr_t addr, vmar_size_t size, unsigned prot,
           enum vmar_place place, unsigned flags, vmar_addr_t *out);
int vt_map_opts(struct vt *vt, const struct vmar_map_opts *o, vmar_addr_t *out);
int vt_unmap(struct vt *vt, vmar_addr_t addr, vmar_size_t size);
int vt_protect(struct vt *vt, vmar_addr_t addr, vmar_size_t size,
               unsigned prot);

/* A seed for randomised tests: VMAR_TEST_SEED if set, else `dflt`;
 * printed so a failure can be replayed. */
uint64_t vt_seed(uint64_t dflt);
/* splitmix64 step. */
uint64_t vt_rand(uint64_t *state);

#endif /* VMAR_TEST_HARNESS_H */
