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
        __atomic_store_n(&work[i].seq, work[i].seq + 1, __ATOMIC_RELEASE);
        arch_wake(i);
    }
    if (mask & (1u << self))
        fn(arg);
    for (unsigned i = 0; i < k_ncpus; i++) {
        if (i == self || !(mask & (1u << i)))
            continue;
        while (__atomic_load_n(&work[i].done, __ATOMIC_ACQUIRE) != work[i].seq)
            arch_relax();
    }
}

void k_barrier_wait(struct k_barrier *b, unsigned n)
{
    unsigned sense = __atomic_load_n(&b->sense, __ATOMIC_ACQUIRE);

    if (__atomic_add_fetch(&b->count, 1, __ATOMIC_ACQ_REL) == n) {
        __atomic_store_n(&b->count, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&b->sense, sense + 1, __ATOMIC_RELEASE);
        return;
    }
    while (__atomic_load_n(&b->sense, __ATOMIC_ACQUIRE) == sense)
        arch_relax();
}

/* ---- failures -------------------------------------------------------------
 */

/* The first failure of each CPU in the running scenario. */
struct fail {
    const char *why;
    vmar_addr_t addr;
    uint64_t value;
} __attribute__((aligned(64)));
static struct fail fails[K_MAX_CPUS];

static void fail_at(const char *why, vmar_addr_t addr, uint64_t value)
{
    struct fail *f = &fails[arch_this_cpu()->id];

    if (f->why == NULL)
        *f = (struct fail){why, addr, value};
}

/* Print each CPU's failure as "FAIL <name> cpu <n> <why> addr <a> value
 * <v>", count the scenario once through k_report, and clear them. */
static void report(const char *name, const char *why0)
{
    const char *first = why0;

    for (unsigned i = 0; i < k_ncpus; i++) {
        struct fail *f = &fails[i];

        if (f->why == NULL)
            continue;
        k_puts("FAIL ");
        k_puts(name);
        k_puts(" cpu ");
        k_puthex(i);
        arch_putc(' ');
        k_puts(f->why);
        k_puts(" addr ");
        k_puthex(f->addr);
        k_puts(" value ");
        k_puthex(f->value);
        arch_putc('\n');
        if (first == NULL)
            first = "on some CPU (above)";
        *f = (struct fail){0};
    }
    if (first != NULL) {
        /* k_report prints the scenario's one counted FAIL line. */
        k_report(name, first, 0);
        return;
    }
    k_report(name, NULL, 0);
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
    report("smp_checkin", NULL);
}

void k_smp_scenarios(void)
{
    sc_checkin();
}
