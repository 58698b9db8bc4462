/* SPDX-License-Identifier: MIT */
/*
 * The random stream (../common/stream.h) on the host, against the sim
 * backend with simulated CPUs (vmar/sim.h): the same probes as the QEMU
 * kernels, spread over the same number of CPUs.
 *
 *   vmar_qemu_stream [SEED [OPS [CPUS]]]     (defaults 1 10000 4)
 *
 * Prints "stream seed <s> ops <n> digest <d>", the line the kernels
 * print when they agree, and exits 1 when the model disagreed with the
 * sim or a simulated CPU used a stale translation.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <vmar/sim.h>

#include "stream.h"

#define MAX_CPUS 8

struct host {
    struct vmar_sim *sim;
    struct vmar_sim_cpu *cpu[MAX_CPUS];
    struct vmar_space *on[MAX_CPUS];
    unsigned ncpus;
};

static int h_create(void *ctx, struct vmar_space **out)
{
    struct host *h = ctx;

    return vmar_space_create(
        &(struct vmar_space_opts){.env = vmar_sim_env(h->sim),
                                  .mmu = &vmar_mmu_sim,
                                  .mmu_config = h->sim},
        out);
}

static int h_fork(void *ctx, struct vmar_space *parent, struct vmar_space **out)
{
    struct host *h = ctx;

    return vmar_fork(parent, &(struct vmar_fork_opts){.mmu_config = h->sim},
                     out);
}

static void h_destroy(void *ctx, struct vmar_space *s)
{
    struct host *h = ctx;

    for (unsigned i = 0; i < h->ncpus; i++)
        if (h->on[i] == s) {
            vmar_sim_cpu_switch(h->cpu[i], NULL);
            h->on[i] = NULL;
        }
    if (vmar_check(s) != 0) {
        fprintf(stderr, "stream_sim: vmar_check failed\n");
        exit(1);
    }
    vmar_space_destroy(s);
}

static void h_probe(void *ctx, struct vmar_space *s, unsigned turn, bool writes,
                    struct st_probe pr[ST_PAGES])
{
    struct host *h = ctx;

    for (unsigned i = 0; i < ST_PAGES; i++) {
        unsigned c = turn % h->ncpus;
        vmar_addr_t a = ST_BASE + i * VMAR_PAGE_SIZE;
        unsigned char b;

        if (h->on[c] != s) {
            vmar_sim_cpu_switch(h->cpu[c], s);
            h->on[c] = s;
        }
        pr[i].val = 0;
        pr[i].rc_r = vmar_sim_cpu_access(h->cpu[c], a + ST_WORD,
                                         VMAR_ACCESS_READ, &pr[i].val, 8);
        if (writes)
            pr[i].rc_w = vmar_sim_cpu_access(h->cpu[c], a + ST_WORD,
                                             VMAR_ACCESS_WRITE, &pr[i].wval, 8);
        pr[i].rc_x = pr[i].exec ? vmar_sim_cpu_access(h->cpu[c], a,
                                                      VMAR_ACCESS_EXEC, &b, 1)
                                : 0;
    }
}

int main(int argc, char **argv)
{
    uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 0) : 1;
    unsigned nops = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 0) : 10000;
    struct host h = {.ncpus = argc > 3 ? (unsigned)atoi(argv[3]) : 4};
    struct st_platform pl = {.ctx = &h,
                             .create = h_create,
                             .fork = h_fork,
                             .destroy = h_destroy,
                             .probe = h_probe};
    struct st_result r;
    int rc;

    if (h.ncpus == 0 || h.ncpus > MAX_CPUS ||
        vmar_sim_create(NULL, &h.sim) != 0)
        return 2;
    for (unsigned i = 0; i < h.ncpus; i++)
        if (vmar_sim_cpu_create(h.sim, 0, &h.cpu[i]) != 0)
            return 2;
    rc = st_run(&pl, seed, nops, &r);
    printf("stream seed 0x%016" PRIx64 " ops 0x%016" PRIx64
           " digest 0x%016" PRIx64 "\n",
           seed, (uint64_t)r.ops, r.digest);
    if (rc != 0 || r.mismatches != 0) {
        fprintf(stderr,
                "stream_sim: rc %d, %u mismatches, first at op %u: %s at "
                "0x%" PRIx64 " got 0x%" PRIx64 " want 0x%" PRIx64 "\n",
                rc, r.mismatches, r.op, r.why ? r.why : "-", r.addr, r.got,
                r.want);
        return 1;
    }
    if (vmar_sim_violations(h.sim) != 0) {
        fprintf(stderr, "stream_sim: %zu stale translations used\n",
                vmar_sim_violations(h.sim));
        return 1;
    }
    vmar_sim_destroy(h.sim);
    return 0;
}
