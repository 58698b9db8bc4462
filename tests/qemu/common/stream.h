/* SPDX-License-Identifier: MIT */
/*
 * The random stream (stream.c): a seeded sequence of map, unmap, protect,
 * remap, fork and advise operations on a window of ST_PAGES pages, each
 * followed by probes of every page of the window (read, write, execute)
 * through a real or simulated MMU, checked against a model of the
 * operations' semantics and folded into a digest.
 *
 * The same engine runs in the QEMU kernels (stream_kernel.c: the probes
 * are user-mode accesses spread over every CPU) and on the host against
 * the sim (host/stream_sim.c: vmar_sim_cpu accesses), so that equal
 * digests mean the hardware page tables and the sim gave the same answer
 * to every probe. Portable C11 without libc.
 */
#ifndef VMAR_QEMU_STREAM_H
#define VMAR_QEMU_STREAM_H

#include <stdbool.h>
#include <stdint.h>
#include <vmar/vmar.h>

#define ST_PAGES 16u
/* The window straddles a 2 MiB boundary (two leaf tables), far from the
 * kernels' user program at 0x400000 and inside every user range. */
#define ST_BASE ((vmar_addr_t)0x20000000 - 8 * VMAR_PAGE_SIZE)
/* Probes read and write the word at this offset of a page and execute
 * its first byte (zero in every page: no instruction the stream wrote). */
#define ST_WORD 8u

/* One page's probes: the read's result and value, the write's result
 * (wval in), the execution's result (when `exec`: a quarter of the pages
 * each time, since a TCG write to a page it has translated code from is
 * slow): 0 or a vmar_fault() error. */
struct st_probe {
    int rc_r, rc_w, rc_x;
    bool exec;
    uint64_t val, wval;
};

struct st_platform {
    void *ctx;
    int (*create)(void *ctx, struct vmar_space **out);
    int (*fork)(void *ctx, struct vmar_space *parent, struct vmar_space **out);
    void (*destroy)(void *ctx, struct vmar_space *s);
    /* Probe every page i of the window in `s` (read; then, when `writes`,
     * write pr[i].wval; then, when pr[i].exec, execute), all on CPU
     * turn % the platform's CPU count. Results in pr[]. */
    void (*probe)(void *ctx, struct vmar_space *s, unsigned turn, bool writes,
                  struct st_probe pr[ST_PAGES]);
};

struct st_result {
    uint64_t digest;     /* every operation's result and every probe's */
    unsigned ops;        /* operations run */
    unsigned mismatches; /* probes or results the model disagreed with */
    /* The first mismatch: */
    const char *why;
    unsigned op;
    vmar_addr_t addr;
    uint64_t got, want;
};

/* Run `nops` operations from `seed`. Returns 0, or the error of a setup
 * step (create, fork) that the stream cannot go on without. */
int st_run(const struct st_platform *pl, uint64_t seed, unsigned nops,
           struct st_result *out);

#endif /* VMAR_QEMU_STREAM_H */
