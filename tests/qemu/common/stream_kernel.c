/* SPDX-License-Identifier: MIT */
/*
 * The random stream (stream.h) in the kernel: the probes are user-mode
 * accesses, those after operation i on CPU i % k_ncpus, so every CPU's
 * TLB must follow every change the boot CPU makes. Prints "stream seed <s> ops
 * <n> digest <d>": host/stream_sim.c prints the same line for the sim when the
 * two agree, which the ctest wrapper checks (run.sh --agree).
 *
 * The command line may set the seed and the count: "stream.seed=<n>"
 * and "stream.ops=<n>" (decimal); defaults 1 and K_STREAM_OPS.
 */
#include "kernel.h"
#include "stream.h"

#define K_STREAM_OPS 10000u

struct probe_job {
    struct vmar_space *s;
    unsigned turn;
    bool writes;
    struct st_probe *pr;
};

static void probe_cpu(void *arg)
{
    struct probe_job *j = arg;

    if (arch_this_cpu()->current != j->s)
        arch_switch(j->s);
    for (unsigned i = 0; i < ST_PAGES; i++) {
        struct st_probe *p = &j->pr[i];
        vmar_addr_t a = ST_BASE + i * VMAR_PAGE_SIZE;

        p->rc_r = arch_user_op(UOP_LOAD64, a + ST_WORD, 0, &p->val);
        if (j->writes)
            p->rc_w = arch_user_op(UOP_STORE64, a + ST_WORD, p->wval, NULL);
        if (p->exec)
            p->rc_x = arch_user_op(UOP_EXEC, a, 0, NULL);
    }
}

static void k_probe(void *ctx, struct vmar_space *s, unsigned turn, bool writes,
                    struct st_probe pr[ST_PAGES])
{
    struct probe_job j = {s, turn, writes, pr};

    (void)ctx;
    k_on_cpus(1u << (turn % k_ncpus), probe_cpu, &j);
}

static int k_create(void *ctx, struct vmar_space **out)
{
    (void)ctx;
    *out = NULL;
    return space_new(out) == NULL ? 0 : VMAR_ENOMEM;
}

static int k_fork(void *ctx, struct vmar_space *parent, struct vmar_space **out)
{
    (void)ctx;
    return arch_space_fork(parent, out);
}

static void leave(void *arg)
{
    if (arch_this_cpu()->current == arg)
        arch_switch(NULL);
}

static void k_destroy(void *ctx, struct vmar_space *s)
{
    (void)ctx;
    k_on_cpus(K_ALL_CPUS, leave, s);
    if (vmar_check(s) != 0)
        k_panic("vmar_check after the stream");
    arch_space_destroy(s);
}

static const struct st_platform k_platform = {
    .create = k_create,
    .fork = k_fork,
    .destroy = k_destroy,
    .probe = k_probe,
};

void k_stream_scenarios(void)
{
    uint64_t seed = k_cmdline_num("stream.seed=", 1);
    unsigned nops = (unsigned)k_cmdline_num("stream.ops=", K_STREAM_OPS);
    size_t frames = k_frames_free();
    struct st_result r;
    int rc = st_run(&k_platform, seed, nops, &r);

    k_puts("stream seed ");
    k_puthex(seed);
    k_puts(" ops ");
    k_puthex(r.ops);
    k_puts(" digest ");
    k_puthex(r.digest);
    arch_putc('\n');
    if (rc != 0) {
        k_report("stream", "setup failed", (uint64_t)(int64_t)rc);
    } else if (r.mismatches != 0) {
        k_puts("stream: first mismatch at op ");
        k_puthex(r.op);
        k_puts(" addr ");
        k_puthex(r.addr);
        k_puts(" got ");
        k_puthex(r.got);
        k_puts(" want ");
        k_puthex(r.want);
        arch_putc('\n');
        k_report("stream", r.why, r.mismatches);
    } else if (k_frames_free() != frames) {
        k_report("stream", "frames leaked", frames - k_frames_free());
    } else {
        k_report("stream", NULL, 0);
    }
}
