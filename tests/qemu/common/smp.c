/* SPDX-License-Identifier: MIT */
/*
 * The CPUs and the scenarios that run on all of them.
 *
 * Work: the boot CPU drives; every other CPU waits in k_ap_main for a
 * function to run (k_on_cpus), runs it and says so. A scenario's function
 * runs on every CPU at once, with k_barrier_wait between its steps, and
 * reports through a per-CPU failure record that the boot CPU prints.
 *
 * Scenarios:
 *   smp_checkin     every CPU started, runs the same space from user mode
 *                   and sees the others' writes.
 *   smp_concurrent  threads of one space on every CPU write their own
 *                   pages and slots of shared pages (demand-zero and
 *                   copy-on-write faults racing on one leaf table and one
 *                   page) while CPU 0 forks, unmaps, write-protects and
 *                   remaps; after each step every CPU checks its data and
 *                   that what CPU 0 unmapped or write-protected faults on
 *                   it: a stale translation that still writes is reported
 *                   with the CPU and the address.
 */
#include "kernel.h"

#define P ((vmar_size_t)VMAR_PAGE_SIZE)

struct k_cpu k_cpus[K_MAX_CPUS];
unsigned k_ncpus = 1;
unsigned k_online = 1;

struct work {
    void (*fn)(void *);
    void *arg;
    unsigned seq, done;
    unsigned caller; /* woken when done */
} __attribute__((aligned(64)));
static struct work work[K_MAX_CPUS];

_Noreturn void k_ap_main(struct k_cpu *cpu)
{
    struct work *w = &work[cpu->id];

    __atomic_fetch_add(&k_online, 1, __ATOMIC_RELEASE);
    for (;;) {
        unsigned seq = __atomic_load_n(&w->seq, __ATOMIC_ACQUIRE);

        if (seq == w->done) {
            arch_idle(&w->seq, seq);
            continue;
        }
        w->fn(w->arg);
        __atomic_store_n(&w->done, seq, __ATOMIC_RELEASE);
        arch_wake(w->caller);
    }
}

void k_on_cpus(uint32_t mask, void (*fn)(void *), void *arg)
{
    unsigned self = arch_this_cpu()->id;

    for (unsigned i = 0; i < k_ncpus; i++) {
        if (i == self || !(mask & (1u << i)))
            continue;
        work[i].fn = fn;
        work[i].arg = arg;
        work[i].caller = self;
        __atomic_store_n(&work[i].seq, work[i].seq + 1, __ATOMIC_RELEASE);
        arch_wake(i);
    }
    if (mask & (1u << self))
        fn(arg);
    for (unsigned i = 0, done; i < k_ncpus; i++) {
        if (i == self || !(mask & (1u << i)))
            continue;
        while ((done = __atomic_load_n(&work[i].done, __ATOMIC_ACQUIRE)) !=
               work[i].seq)
            arch_idle(&work[i].done, done); /* woken by the worker */
    }
}

void k_barrier_wait(struct k_barrier *b, unsigned n)
{
    unsigned sense = __atomic_load_n(&b->sense, __ATOMIC_ACQUIRE);

    if (__atomic_add_fetch(&b->count, 1, __ATOMIC_ACQ_REL) == n) {
        unsigned self = arch_this_cpu()->id;

        __atomic_store_n(&b->count, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&b->sense, sense + 1, __ATOMIC_RELEASE);
        for (unsigned i = 0; i < n; i++)
            if (i != self)
                arch_wake(i);
        return;
    }
    /* Halted, the waiting vCPUs leave the host's cores to the others. */
    while (__atomic_load_n(&b->sense, __ATOMIC_ACQUIRE) == sense)
        arch_idle(&b->sense, sense);
}

/* ---- failures -------------------------------------------------------------
 */

/* The first failure of each CPU in the running scenario, printed at once
 * (a broken shootdown may corrupt memory enough to panic later) as
 * "FAIL <scenario> cpu <n> <why> addr <a> value <v>". */
struct fail {
    const char *why;
} __attribute__((aligned(64)));
static struct fail fails[K_MAX_CPUS];
static const char *scenario;
static int console;

static void fail_at(const char *why, vmar_addr_t addr, uint64_t value)
{
    unsigned id = arch_this_cpu()->id;

    if (fails[id].why != NULL)
        return;
    fails[id].why = why;
    while (__atomic_exchange_n(&console, 1, __ATOMIC_ACQUIRE) != 0)
        arch_relax();
    k_puts("FAIL ");
    k_puts(scenario);
    k_puts(" cpu ");
    k_puthex(id);
    arch_putc(' ');
    k_puts(why);
    k_puts(" addr ");
    k_puthex(addr);
    k_puts(" value ");
    k_puthex(value);
    arch_putc('\n');
    __atomic_store_n(&console, 0, __ATOMIC_RELEASE);
}

/* Count the scenario once through k_report (PASS, or one more FAIL line
 * after the CPUs' own) and clear the records. */
static void report(void)
{
    const char *why = NULL;

    for (unsigned i = 0; i < k_ncpus; i++) {
        if (fails[i].why != NULL)
            why = "on the CPUs above";
        fails[i].why = NULL;
    }
    k_report(scenario, why, 0);
}

/* User accesses that record a failure and return false. */
static bool uload(vmar_addr_t a, uint64_t *v)
{
    int rc = arch_user_op(UOP_LOAD64, a, 0, v);

    if (rc != 0)
        fail_at("user load faulted", a, (uint64_t)(int64_t)rc);
    return rc == 0;
}

static bool ustore(vmar_addr_t a, uint64_t v)
{
    int rc = arch_user_op(UOP_STORE64, a, v, NULL);

    if (rc != 0)
        fail_at("user store faulted", a, (uint64_t)(int64_t)rc);
    return rc == 0;
}

static bool uexpect(vmar_addr_t a, uint64_t want, const char *why)
{
    uint64_t v = 0;

    if (!uload(a, &v))
        return false;
    if (v != want)
        fail_at(why, a, v);
    return v == want;
}

/* ---- smp_checkin ------------------------------------------------------- */

struct checkin {
    struct vmar_space *s;
    vmar_addr_t a;
    struct k_barrier bar;
    unsigned seen[K_MAX_CPUS];
};

static uint64_t checkin_word(unsigned id)
{
    return 0xc0de000000000000 | (uint64_t)k_cpus[id].hw_id << 16 | id;
}

static void checkin_cpu(void *arg)
{
    struct checkin *c = arg;
    unsigned id = arch_this_cpu()->id;

    c->seen[id] = arch_this_cpu()->hw_id + 1;
    arch_switch(c->s);
    ustore(c->a + 8 * id, checkin_word(id));
    k_barrier_wait(&c->bar, k_ncpus);
    for (unsigned i = 0; i < k_ncpus; i++)
        uexpect(c->a + 8 * i, checkin_word(i), "another CPU's word");
    k_barrier_wait(&c->bar, k_ncpus);
    arch_switch(NULL);
}

static void sc_checkin(void)
{
    static struct checkin c;
    size_t frames = k_frames_free();
    const char *why = NULL;
    uint64_t val = 0;

    scenario = "smp_checkin";
    c = (struct checkin){0};
    why = space_new(&c.s);
    if (why == NULL &&
        vmar_map(c.s,
                 &(struct vmar_map_opts){
                     .size = P, .prot = VMAR_PROT_READ | VMAR_PROT_WRITE},
                 &c.a) != 0)
        why = "vmar_map";
    arch_switch(NULL);
    if (why == NULL) {
        k_on_cpus(K_ALL_CPUS, checkin_cpu, &c);
        for (unsigned i = 0; i < k_ncpus && why == NULL; i++)
            if (c.seen[i] != k_cpus[i].hw_id + 1) {
                why = "a CPU did not run";
                val = i;
            }
    }
    if (c.s != NULL)
        arch_space_destroy(c.s);
    if (why == NULL && k_frames_free() != frames) {
        why = "frames leaked";
        val = frames - k_frames_free();
    }
    if (why != NULL)
        fail_at(why, 0, val);
    k_puts("cpus ");
    k_puthex(k_ncpus);
    arch_putc('\n');
    report();
}

/* ---- smp_concurrent ------------------------------------------------------ */

/*
 * Addresses (one space S; P a page): R = [B, B + 64P), one leaf table,
 * mapped afresh (demand-zero, replacing the last round's) every round:
 *   own page of CPU c   B + cP            written by c only
 *   shared page         B + 16P           CPU c writes word c + 1
 *   unmap victim        B + 17P           likewise, then CPU 0 unmaps it
 *   protect victim      B + 18P           likewise, then read-only
 *   remapped pair       B + 20P, B + 21P  likewise, then moved to B + 40P
 * ST = B + 2 MiB + cP: CPU c's page outside R, hammered while CPU 0
 * forks (a stale writable entry would write into the child's frame).
 */
#define CB     ((vmar_addr_t)0x10000000)
#define C_SH   (CB + 16 * P)
#define C_UN   (CB + 17 * P)
#define C_RO   (CB + 18 * P)
#define C_MV   (CB + 20 * P)
#define C_MVTO (CB + 40 * P)
#define C_ST   (CB + ((vmar_size_t)2 << 20))
#define ROUNDS 12u

struct conc {
    struct vmar_space *s, *child;
    struct k_barrier bar;
    unsigned round;
    unsigned done;   /* CPU 0's layout step is over: stop hammering */
    const char *why; /* CPU 0's layout failure */
    uint64_t why_val;
    uint64_t st_child[K_MAX_CPUS]; /* the child's ST words after fork */
};

static uint64_t pat(unsigned r, unsigned c, unsigned k)
{
    return 0x5a00000000000000 | (uint64_t)r << 40 | (uint64_t)c << 32 | k;
}

static void sync(struct conc *x)
{
    k_barrier_wait(&x->bar, k_ncpus);
}

/* Until CPU 0 sets done: write and check the CPU's own page and ST word
 * (faults on the leaf table CPU 0 is changing, and copy-on-write ones
 * after a fork). Returns the last value written to ST. */
static uint64_t hammer(struct conc *x, unsigned c)
{
    uint64_t last = 0;
    unsigned k = 100;

    do {
        last = pat(x->round, c, k++);
        if (!ustore(C_ST + c * P, last) ||
            !uexpect(C_ST + c * P, last, "hammered word lost") ||
            !ustore(CB + c * P + 16, last))
            break;
    } while (!__atomic_load_n(&x->done, __ATOMIC_ACQUIRE));
    return last;
}

static void layout_fail(struct conc *x, const char *why, int rc)
{
    if (x->why == NULL) {
        x->why = why;
        x->why_val = (uint64_t)(int64_t)rc;
    }
}

static uint64_t child_word(struct conc *x, vmar_addr_t a)
{
    uint64_t v = 0;
    int rc = vmar_read(x->child, a, &v, sizeof(v), NULL);

    if (rc != 0)
        layout_fail(x, "vmar_read(child)", rc);
    return v;
}

/* CPU 0's step 2: fork while the others hammer. */
static void conc_fork(struct conc *x)
{
    int rc = arch_space_fork(x->s, &x->child);

    if (rc != 0) {
        layout_fail(x, "fork", rc);
        x->child = NULL;
        return;
    }
    for (unsigned i = 0; i < k_ncpus; i++)
        x->st_child[i] = child_word(x, C_ST + i * P);
}

/* CPU 0's step 4: unmap, write-protect and move while the others hammer. */
static void conc_layout(struct conc *x)
{
    int rc = vmar_unmap(x->s, C_UN, P);

    if (rc != 0)
        layout_fail(x, "unmap", rc);
    rc = vmar_protect(x->s, C_RO, P, VMAR_PROT_READ);
    if (rc != 0)
        layout_fail(x, "protect", rc);
    rc = vmar_remap(x->s, C_MV, 2 * P, 2 * P,
                    VMAR_REMAP_MAYMOVE | VMAR_REMAP_FIXED, C_MVTO, NULL);
    if (rc != 0)
        layout_fail(x, "remap", rc);
}

/* A store that must fault with `want`: one that lands is a stale
 * translation on this CPU. */
static void must_fault(vmar_addr_t a, int want, const char *stale)
{
    int rc = arch_user_op(UOP_STORE64, a, 0xdead, NULL);

    if (rc == 0)
        fail_at(stale, a, 0xdead);
    else if (rc != want)
        fail_at("wrong fault", a, (uint64_t)(int64_t)rc);
}

static void conc_round(struct conc *x, unsigned c)
{
    unsigned r = x->round, n = k_ncpus;
    vmar_addr_t own = CB + c * P;
    uint64_t v;

    /* 1: demand-zero faults of every CPU in one leaf table and page. */
    uexpect(own, 0, "fresh page not zero (stale translation)");
    ustore(own + 8, pat(r, c, 1));
    ustore(C_SH + 8 * (c + 1), pat(r, c, 2));
    ustore(C_UN + 8 * (c + 1), pat(r, c, 3));
    ustore(C_RO + 8 * (c + 1), pat(r, c, 4));
    ustore(C_MV + 8 * (c + 1), pat(r, c, 5));
    ustore(C_MV + P + 8 * (c + 1), pat(r, c, 6));
    uexpect(own + 8, pat(r, c, 1), "own page");
    sync(x);
    for (unsigned i = 0; i < n; i++) {
        uexpect(C_SH + 8 * (i + 1), pat(r, i, 2), "shared page");
        uexpect(C_RO + 8 * (i + 1), pat(r, i, 4), "protect victim");
        uexpect(C_MV + P + 8 * (i + 1), pat(r, i, 6), "remap source");
    }
    sync(x);

    /* 2: fork beside writers; the child keeps what it saw at fork. */
    __atomic_store_n(&x->done, 0, __ATOMIC_RELEASE);
    sync(x);
    if (c == 0) {
        conc_fork(x);
        __atomic_store_n(&x->done, 1, __ATOMIC_RELEASE);
    } else {
        hammer(x, c);
    }
    sync(x);
    if (c == 0 && x->child != NULL)
        for (unsigned i = 0; i < n; i++)
            if (child_word(x, C_ST + i * P) != x->st_child[i])
                layout_fail(x,
                            "a parent write reached the child (stale "
                            "writable translation)",
                            (int)i);

    /* 3: copy-on-write faults of every CPU on the same page. */
    ustore(C_SH + 8 * (c + 1), pat(r, c, 7));
    ustore(own + 8, pat(r, c, 8));
    uexpect(own + 8, pat(r, c, 8), "own page after COW");
    sync(x);
    for (unsigned i = 0; i < n; i++)
        uexpect(C_SH + 8 * (i + 1), pat(r, i, 7), "shared page after COW");
    if (c == 0 && x->child != NULL)
        for (unsigned i = 0; i < n; i++)
            if (child_word(x, C_SH + 8 * (i + 1)) != pat(r, i, 2))
                layout_fail(x, "child's shared page changed", (int)i);
    sync(x);

    /* 4: unmap, protect, remap beside writers on the same leaf table. */
    __atomic_store_n(&x->done, 0, __ATOMIC_RELEASE);
    sync(x);
    if (c == 0) {
        conc_layout(x);
        __atomic_store_n(&x->done, 1, __ATOMIC_RELEASE);
    } else {
        hammer(x, c);
    }
    sync(x);

    /* 5: what CPU 0 took away faults here too. */
    must_fault(C_UN + 8 * (c + 1), VMAR_ENOENT,
               "stale translation wrote an unmapped page");
    must_fault(C_RO + 8 * (c + 1), VMAR_EACCES,
               "stale translation wrote a read-only page");
    must_fault(C_MV + P + 8 * (c + 1), VMAR_ENOENT,
               "stale translation wrote a moved-away page");
    uexpect(C_RO + 8 * (c + 1), pat(r, c, 4), "read-only page changed");
    for (unsigned i = 0; i < n; i++) {
        uexpect(C_MVTO + 8 * (i + 1), pat(r, i, 5), "moved page 0");
        uexpect(C_MVTO + P + 8 * (i + 1), pat(r, i, 6), "moved page 1");
    }
    if (arch_user_op(UOP_LOAD64, C_UN, 0, &v) != VMAR_ENOENT)
        fail_at("stale translation read an unmapped page", C_UN, v);
    sync(x);

    /* 6: the last CPU runs the child and finds it as it was at fork. */
    if (c == n - 1 && x->child != NULL) {
        arch_switch(x->child);
        uexpect(own + 8, pat(r, c, 1), "child's own page");
        for (unsigned i = 0; i < n; i++)
            uexpect(C_SH + 8 * (i + 1), pat(r, i, 2), "child's shared page");
        arch_switch(x->s);
    }
    sync(x);
}

static void conc_cpu(void *arg)
{
    struct conc *x = arg;
    unsigned c = arch_this_cpu()->id;

    arch_switch(x->s);
    for (unsigned r = 0; r < ROUNDS; r++) {
        if (c == 0) {
            int rc = vmar_map(x->s,
                              &(struct vmar_map_opts){
                                  .size = 64 * P,
                                  .addr = CB,
                                  .place = VMAR_PLACE_FIXED,
                                  .prot = VMAR_PROT_READ | VMAR_PROT_WRITE,
                              },
                              NULL);
            if (rc != 0)
                layout_fail(x, "map R", rc);
            x->round = r;
        }
        sync(x);
        conc_round(x, c);
        if (c == 0 && x->child != NULL) {
            arch_space_destroy(x->child);
            x->child = NULL;
        }
        sync(x);
    }
    arch_switch(NULL);
}

static void sc_concurrent(void)
{
    static struct conc x;
    size_t frames = k_frames_free();
    const char *why;
    int rc;

    scenario = "smp_concurrent";
    x = (struct conc){0};
    why = space_new(&x.s);
    if (why == NULL) {
        rc = vmar_map(x.s,
                      &(struct vmar_map_opts){
                          .size = K_MAX_CPUS * P,
                          .addr = C_ST,
                          .place = VMAR_PLACE_FIXED_NOREPLACE,
                          .prot = VMAR_PROT_READ | VMAR_PROT_WRITE,
                      },
                      NULL);
        if (rc != 0)
            why = "map ST";
    }
    arch_switch(NULL);
    if (why == NULL) {
        k_on_cpus(K_ALL_CPUS, conc_cpu, &x);
        why = x.why;
        if (why == NULL && vmar_check(x.s) != 0)
            why = "vmar_check";
    }
    if (x.s != NULL)
        arch_space_destroy(x.s);
    if (why == NULL && k_frames_free() != frames) {
        why = "frames leaked";
        x.why_val = frames - k_frames_free();
    }
    if (why != NULL)
        fail_at(why, 0, x.why_val);
    report();
}

void k_smp_scenarios(void)
{
    sc_checkin();
    sc_concurrent();
}
