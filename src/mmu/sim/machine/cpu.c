/* SPDX-License-Identifier: MIT */
/*
 * Simulated CPUs: a TLB model per CPU plus the space it runs, so that
 * tests perform memory accesses the way hardware does and catch every
 * translation a flush failed to remove.
 *
 * The TLB is fully associative with LRU replacement. An entry caches the
 * translation of one base page of the CPU's current space (page -> frame,
 * prot), filled on a walk that allowed the access, exactly as long as
 * hardware may keep it: until a flush covering it reaches this CPU, or
 * the CPU switches space (no ASIDs: a switch empties the TLB).
 *
 * Stale-entry detector. Every libvmar call completes its flush before it
 * returns, so between calls no TLB entry may translate differently from
 * the page table. On every hit the entry is checked against a fresh walk;
 * when the table no longer maps the page, maps another frame, or grants
 * less than the entry, the hit is a violation: counted per CPU and per
 * machine, and reported on stderr. With several threads, a hit may race
 * with another thread's call that changed the leaf and has not flushed
 * yet; hardware allows that, so such a hit is served but not counted (the
 * sim backend records the changed range until its flush: unflushed.c).
 *
 * Threads. Each CPU is driven by one thread at a time (its accesses and
 * switches), while flushes from any thread invalidate its TLB. The CPU's
 * mutex covers its TLB, space and counters; an access holds it from the
 * translation (the walk included) through the copy, so a flush waits for
 * accesses in flight, as a shootdown waits for the IPI's acknowledgement,
 * and for the walk in flight, as an IPI waits for a hardware walk to
 * finish. A walk therefore never reads a table page after the flush that
 * precedes the page's free: the pool may poison the page and hand it out
 * again (plain writes) without racing a walk. The walk takes no lock
 * (vmar_space_translate() takes none, nor do the backends' walks), so it
 * may run under the CPU's mutex whatever a flushing thread holds
 * (machine.h has the lock order). The fault handler runs without the
 * mutex: the CPU notes the page it faults on, and a flush of that page
 * from another thread meanwhile marks the fault as overtaken (see
 * translate()).
 *
 * A violating hit is still served from the stale entry, as hardware
 * would, because what the stale entry exposes is the bug the tests look
 * for: reads of a freed frame return its poison (VMAR_SIM_FRAME_POISON),
 * reads of a reused frame return its new owner's bytes. Writes through a
 * stale entry to a frame that is no longer allocated are dropped, so the
 * pool's poison and vmar_sim_digest() stay meaningful for the rest of the
 * test; writes to a frame that is still allocated (a downgrade that was
 * not flushed, a frame already reused) land, as they would on hardware.
 *
 * The CPUs know a space only through the public API: the value
 * vmar_space_activation() reports names its table (CR3, satp, the sim
 * table's root), vmar_space_translate() is the walk, vmar_fault() the
 * trap. Every flush arrives at vmar_sim_tlb_flush() named by that value:
 * from the machine's env->tlb_flush (the hardware-format backends) or
 * from the backend itself (the sim backend).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmar/error.h>
#include <vmar/fault.h>
#include <vmar/vmar.h>

#include "machine.h"

#define VMAR_SIM_TLB_DEFAULT 32u
/* A TLB this large is a mistake, not a model of any CPU; the bound also
 * keeps the allocation size far from overflow. */
#define VMAR_SIM_TLB_MAX 4096u
/* Faults the CPU takes on one page of one access before it declares the
 * handler broken: a handler that returns 0 must leave a translation that
 * allows the retried access (one retry suffices; more tolerates a handler
 * that fixes things in steps). */
#define VMAR_SIM_CPU_RETRIES 3u

#define PAGE_MASK ((vmar_addr_t)VMAR_PAGE_SIZE - 1)

struct tlb_entry {
    vmar_addr_t va;  /* page address */
    vmar_paddr_t pa; /* frame */
    unsigned prot;   /* vmar_prot bits of the leaf when it was walked */
    uint64_t used;   /* LRU stamp; 0: invalid */
};

struct vmar_sim_cpu {
    struct vmar_sim *sim;
    struct vmar_sim_cpu *next; /* the machine's CPUs; under cpus_lock */
    unsigned id;               /* for reports */
    pthread_mutex_t lock;      /* everything below */
    bool faulting;             /* a fault on fault_va is under way */
    bool overtaken_by_other;   /* ... and another thread's flush covered
                                  the page meanwhile */
    pthread_t fault_thread;    /* the thread that drives the CPU */
    vmar_addr_t fault_va;
    struct vmar_space *space; /* current space, NULL: none */
    uint64_t root;            /* its activation value, when space is set */
    uint64_t clock;           /* LRU stamps */
    struct vmar_sim_cpu_stats st;
    unsigned nentries;
    struct tlb_entry tlb[];
};

/* ---- the machine's CPU list ---------------------------------------- */

int vmar_sim_cpu_create(struct vmar_sim *sim, unsigned tlb_entries,
                        struct vmar_sim_cpu **out)
{
    struct vmar_sim_cpu *cpu;

    if (sim == NULL || out == NULL || tlb_entries > VMAR_SIM_TLB_MAX)
        return VMAR_EINVAL;
    if (tlb_entries == 0)
        tlb_entries = VMAR_SIM_TLB_DEFAULT;
    cpu = calloc(1, sizeof(*cpu) + tlb_entries * sizeof(cpu->tlb[0]));
    if (cpu == NULL)
        return VMAR_ENOMEM;
    if (pthread_mutex_init(&cpu->lock, NULL) != 0) {
        free(cpu);
        return VMAR_ENOMEM;
    }
    cpu->sim = sim;
    cpu->nentries = tlb_entries;
    vmar__sim_lock(&sim->lock);
    cpu->id = sim->cpu_ids++;
    /* From now on a TLB may cache a translation that a change by another
     * thread leaves stale until its flush. */
    sim->track_unflushed = true;
    vmar__sim_unlock(&sim->lock);
    vmar__sim_lock(&sim->cpus_lock);
    cpu->next = sim->cpus;
    sim->cpus = cpu;
    vmar__sim_unlock(&sim->cpus_lock);
    *out = cpu;
    return 0;
}

void vmar_sim_cpu_destroy(struct vmar_sim_cpu *cpu)
{
    struct vmar_sim_cpu **pp;

    if (cpu == NULL)
        return;
    vmar__sim_lock(&cpu->sim->cpus_lock);
    for (pp = &cpu->sim->cpus; *pp != NULL; pp = &(*pp)->next)
        if (*pp == cpu) {
            *pp = cpu->next;
            break;
        }
    vmar__sim_unlock(&cpu->sim->cpus_lock);
    pthread_mutex_destroy(&cpu->lock);
    free(cpu);
}

void vmar__sim_cpus_fini(struct vmar_sim *sim)
{
    while (sim->cpus != NULL)
        vmar_sim_cpu_destroy(sim->cpus);
}

bool vmar_sim_table_running(const struct vmar_sim *sim, uint64_t table)
{
    struct vmar_sim *s = (struct vmar_sim *)sim; /* for the lock only */
    bool active = false;

    vmar__sim_lock(&s->cpus_lock);
    for (struct vmar_sim_cpu *c = s->cpus; c != NULL && !active; c = c->next) {
        vmar__sim_lock(&c->lock);
        active = c->space != NULL && c->root == table;
        vmar__sim_unlock(&c->lock);
    }
    vmar__sim_unlock(&s->cpus_lock);
    return active;
}

/* ---- switch and invalidation ---------------------------------------- */

static void tlb_clear(struct vmar_sim_cpu *cpu)
{
    memset(cpu->tlb, 0, cpu->nentries * sizeof(cpu->tlb[0]));
}

void vmar_sim_cpu_switch(struct vmar_sim_cpu *cpu, struct vmar_space *space)
{
    struct vmar_mmu_activation act = {0, 0};

    /* What the CPU loads: the value every flush of the table names. The
     * root must be a frame of this machine, whose pool holds the tables
     * and whose CPUs the flushes reach. */
    if (space != NULL && vmar_space_activation(space, &act) != 0)
        vmar__sim_die("cpu%u: the space's backend has no activation "
                      "(vmar_mmu_ops::activation): a CPU cannot run it",
                      cpu->id);
    if (space != NULL && !vmar_sim_frame_live(cpu->sim, act.root))
        vmar__sim_die("cpu%u: switch to a space whose root %#llx is no frame "
                      "of this machine",
                      cpu->id, (unsigned long long)act.root);
    vmar__sim_lock(&cpu->lock);
    tlb_clear(cpu);
    cpu->space = space;
    cpu->root = act.value;
    vmar__sim_unlock(&cpu->lock);
}

/* Drop the entries of [va, va+len) (len 0: all) and count them; a fault
 * on a page in the range is overtaken by another thread's flush.
 * => cpu->lock held. */
static void tlb_invalidate(struct vmar_sim_cpu *cpu, vmar_addr_t va,
                           vmar_size_t len)
{
    vmar_addr_t lo = va & ~PAGE_MASK;
    /* A range reaching past the top of the address space is clipped. */
    vmar_addr_t hi = len > ~(vmar_addr_t)0 - va ? ~(vmar_addr_t)0 : va + len;

    if (cpu->faulting &&
        (len == 0 || (cpu->fault_va >= lo && cpu->fault_va < hi)) &&
        !pthread_equal(pthread_self(), cpu->fault_thread))
        cpu->overtaken_by_other = true;
    for (unsigned i = 0; i < cpu->nentries; i++) {
        struct tlb_entry *e = &cpu->tlb[i];

        if (e->used == 0 || (len != 0 && (e->va < lo || e->va >= hi)))
            continue;
        e->used = 0;
        cpu->st.invalidations++;
    }
}

void vmar__sim_cpus_invalidate(struct vmar_sim *sim, uint64_t table,
                               vmar_addr_t va, vmar_size_t len)
{
    vmar__sim_lock(&sim->cpus_lock);
    for (struct vmar_sim_cpu *c = sim->cpus; c != NULL; c = c->next) {
        vmar__sim_lock(&c->lock);
        if (c->space != NULL && c->root == table)
            tlb_invalidate(c, va, len);
        vmar__sim_unlock(&c->lock);
    }
    vmar__sim_unlock(&sim->cpus_lock);
}

void vmar_sim_tlb_flush(struct vmar_sim *sim, uint64_t table, vmar_addr_t va,
                        vmar_size_t len)
{
    vmar__sim_cpus_invalidate(sim, table, va, len);
    /* The records after the CPUs: until every CPU has dropped the
     * entries, a hit on them is still a legal race. */
    vmar__sim_unflushed_flushed(sim, table, va, len);
}

/* ---- accesses ------------------------------------------------------- */

/*
 * Copies between a frame and the caller's buffer. Simulated user memory is
 * shared by every CPU that runs the space, and the program on them may
 * race with itself (two threads writing one word is the program's
 * business, not a defect of the library or of the simulator), so the
 * frame side is read and written with relaxed atomic accesses: such races
 * are defined behaviour here, and ThreadSanitizer keeps reporting the
 * races that are defects (the library's and the tests' own data). Like
 * hardware, an aligned 8-byte word is copied in one access, so a racing
 * read sees one writer's word, never a mix; other bytes are copied one at
 * a time. Relaxed: ordering between CPUs comes from the CPU locks and the
 * library's locks, as it would from the program's own fences and locks.
 * The library's user copies (vmar_read, vmar_write, copy-on-write, zero
 * fill) stay plain, as in a kernel: a test that races them with a CPU's
 * access to the same bytes is still a data race.
 */
typedef uint64_t frame_word __attribute__((may_alias));

static void frame_read(unsigned char *dst, const unsigned char *frame, size_t n)
{
    size_t i = 0;

    while (i < n)
        if ((uintptr_t)(frame + i) % sizeof(frame_word) == 0 &&
            n - i >= sizeof(frame_word)) {
            frame_word w = __atomic_load_n((const frame_word *)(frame + i),
                                           __ATOMIC_RELAXED);

            memcpy(dst + i, &w, sizeof(w));
            i += sizeof(w);
        } else {
            dst[i] = __atomic_load_n(frame + i, __ATOMIC_RELAXED);
            i++;
        }
}

static void frame_write(unsigned char *frame, const unsigned char *src,
                        size_t n)
{
    size_t i = 0;

    while (i < n)
        if ((uintptr_t)(frame + i) % sizeof(frame_word) == 0 &&
            n - i >= sizeof(frame_word)) {
            frame_word w;

            memcpy(&w, src + i, sizeof(w));
            __atomic_store_n((frame_word *)(frame + i), w, __ATOMIC_RELAXED);
            i += sizeof(w);
        } else {
            __atomic_store_n(frame + i, src[i], __ATOMIC_RELAXED);
            i++;
        }
}

static const char *access_name(unsigned access)
{
    switch (access) {
    case VMAR_ACCESS_READ:
        return "read";
    case VMAR_ACCESS_WRITE:
        return "write";
    default:
        return "exec";
    }
}

/* "rwx" with '-' for missing bits; buf holds 4 bytes. */
static const char *prot_str(unsigned prot, char *buf)
{
    buf[0] = (prot & VMAR_PROT_READ) ? 'r' : '-';
    buf[1] = (prot & VMAR_PROT_WRITE) ? 'w' : '-';
    buf[2] = (prot & VMAR_PROT_EXEC) ? 'x' : '-';
    buf[3] = '\0';
    return buf;
}

/* The current leaf of `page`, through the space's backend (any format);
 * none above its user_top, so the fault handler decides there. */
/* The leaf a hardware walk finds for `page`: true with *pte set, or
 * false with *pte zeroed (so that no caller reads an unset entry). */
static bool walk(struct vmar_space *space, vmar_addr_t page,
                 struct vmar_pte *pte)
{
    if (vmar_space_translate(space, page, pte) == 0)
        return true;
    memset(pte, 0, sizeof(*pte));
    return false;
}

static struct tlb_entry *tlb_lookup(struct vmar_sim_cpu *cpu, vmar_addr_t page)
{
    for (unsigned i = 0; i < cpu->nentries; i++)
        if (cpu->tlb[i].used != 0 && cpu->tlb[i].va == page)
            return &cpu->tlb[i];
    return NULL;
}

/* An invalid entry if any, else the least recently used one. */
static struct tlb_entry *tlb_victim(struct vmar_sim_cpu *cpu)
{
    struct tlb_entry *v = &cpu->tlb[0];

    for (unsigned i = 0; i < cpu->nentries && v->used != 0; i++)
        if (cpu->tlb[i].used < v->used)
            v = &cpu->tlb[i];
    return v;
}

/* Start a fault on `page`, taken without the CPU lock. => cpu->lock held;
 * the caller drops it next. */
static void fault_begin(struct vmar_sim_cpu *cpu, vmar_addr_t page)
{
    cpu->faulting = true;
    cpu->overtaken_by_other = false;
    cpu->fault_thread = pthread_self();
    cpu->fault_va = page;
}

/* Retake the CPU lock after a fault (cpu->overtaken_by_other says the
 * rest). */
static void fault_end(struct vmar_sim_cpu *cpu)
{
    vmar__sim_lock(&cpu->lock);
    cpu->faulting = false;
}

/* Report and count a hit on a stale entry. => cpu->lock held. */
static void report_stale(struct vmar_sim_cpu *cpu, const struct tlb_entry *e,
                         unsigned access, bool present,
                         const struct vmar_pte *pte)
{
    char p1[4], p2[4];

    cpu->st.violations++;
    vmar__sim_lock(&cpu->sim->lock);
    cpu->sim->violations++;
    vmar__sim_unlock(&cpu->sim->lock);
    if (present)
        fprintf(stderr,
                "vmar sim: cpu%u: STALE TLB ENTRY used for a %s: va %#llx -> "
                "pa %#llx %s (frame %s), but the page table maps pa %#llx "
                "%s\n",
                cpu->id, access_name(access), (unsigned long long)e->va,
                (unsigned long long)e->pa, prot_str(e->prot, p1),
                vmar_sim_frame_live(cpu->sim, e->pa) ? "allocated" : "FREED",
                (unsigned long long)pte->pa, prot_str(pte->prot, p2));
    else
        fprintf(stderr,
                "vmar sim: cpu%u: STALE TLB ENTRY used for a %s: va %#llx -> "
                "pa %#llx %s (frame %s), but the page table maps nothing "
                "there\n",
                cpu->id, access_name(access), (unsigned long long)e->va,
                (unsigned long long)e->pa, prot_str(e->prot, p1),
                vmar_sim_frame_live(cpu->sim, e->pa) ? "allocated" : "FREED");
}

/*
 * Translate `page` for `access`: the TLB, else a walk, else a page fault
 * and a retry. Returns 0 with the frame in *pa, whether it came from a
 * stale entry in *stale, and cpu->lock held (the caller copies, then
 * unlocks); or the fault handler's error, without the lock.
 */
static int translate(struct vmar_sim_cpu *cpu, vmar_addr_t page,
                     unsigned access, vmar_paddr_t *pa, bool *stale)
{
    const unsigned need = vmar_access_prot(access);
    struct vmar_space *space = cpu->space;
    bool missed = false;
    unsigned tries = 0;
    struct vmar_pte pte;

    for (;;) {
        vmar__sim_lock(&cpu->lock);
        struct tlb_entry *e = tlb_lookup(cpu, page);

        if (e != NULL && (e->prot & need) != 0) {
            /* Check the hit against the table. */
            bool present = walk(space, page, &pte);
            bool bad =
                !present || pte.pa != e->pa || (e->prot & ~pte.prot) != 0;
            /* Only sim tables record unflushed ranges; for the others
             * nothing matches and no hit is excused. The record of a
             * change this walk saw stays until its flush, which waits
             * for this lock. */
            bool excused =
                bad && vmar__sim_unflushed_excused(cpu->sim, cpu->root, page);

            cpu->st.hits++;
            e->used = ++cpu->clock;
            *pa = e->pa;
            *stale = bad;
            if (bad && !excused)
                report_stale(cpu, e, access, present, &pte);
            return 0;
        }
        /* A cached entry without the right raises a permission fault on
         * hardware, which drops the entry (x86 invalidates the faulting
         * page's entries on #PF; RISC-V refetches). Walking anew is the
         * same as that fault being spurious. */
        if (e != NULL)
            e->used = 0;
        if (!missed)
            cpu->st.misses++;
        missed = true;
        if (walk(space, page, &pte) && (pte.prot & need) != 0) {
            e = tlb_victim(cpu);
            e->va = page;
            e->pa = pte.pa;
            e->prot = pte.prot;
            e->used = ++cpu->clock;
            *pa = pte.pa;
            *stale = false;
            return 0;
        }
        if (tries == VMAR_SIM_CPU_RETRIES) {
            vmar__sim_unlock(&cpu->lock);
            /* vmar_fault() said "retry" each time, yet the table still
             * refuses the access: the handler would livelock the CPU. */
            fprintf(stderr,
                    "vmar sim: cpu%u: LIVELOCK: %s at va %#llx still faults "
                    "after %u successful vmar_fault() calls\n",
                    cpu->id, access_name(access), (unsigned long long)page,
                    tries);
            return VMAR_ECORRUPT;
        }
        tries++;
        cpu->st.faults++;
        /* The handler flushes, and flushes take this lock. When another
         * thread's change of the page (a fork write-protecting it again,
         * say) flushes it meanwhile, the handler's work was undone by
         * someone else and the retry is not a sign of livelock. */
        fault_begin(cpu, page);
        vmar__sim_unlock(&cpu->lock);
        int rc = vmar_fault(space, page, access, VMAR_FAULT_USER);
        fault_end(cpu);
        if (cpu->overtaken_by_other)
            tries = 0;
        vmar__sim_unlock(&cpu->lock);
        if (rc != 0)
            return rc;
    }
}

int vmar_sim_cpu_access(struct vmar_sim_cpu *cpu, vmar_addr_t va,
                        unsigned access, void *buf, size_t len)
{
    struct vmar_sim *sim;
    unsigned char *bytes = buf;
    size_t done = 0;

    if (cpu == NULL || cpu->space == NULL ||
        (access != VMAR_ACCESS_READ && access != VMAR_ACCESS_WRITE &&
         access != VMAR_ACCESS_EXEC) ||
        (len != 0 && buf == NULL) || len > ~(vmar_addr_t)0 - va)
        return VMAR_EINVAL;
    sim = cpu->sim;
    while (done < len) {
        vmar_addr_t at = va + done;
        vmar_addr_t page = at & ~PAGE_MASK;
        size_t off = (size_t)(at - page);
        size_t n = (size_t)VMAR_PAGE_SIZE - off;
        vmar_paddr_t pa;
        bool stale;
        unsigned char *frame;
        int rc;

        if (n > len - done)
            n = len - done;
        rc = translate(cpu, page, access, &pa, &stale);
        if (rc != 0)
            return rc;
        /* Device memory outside the pool has no bytes to simulate. */
        if (!vmar__sim_in_pool(sim, pa)) {
            vmar__sim_unlock(&cpu->lock);
            fprintf(stderr,
                    "vmar sim: cpu%u: va %#llx -> pa %#llx is outside the "
                    "pool; device memory is not simulated\n",
                    cpu->id, (unsigned long long)page, (unsigned long long)pa);
            return VMAR_ENOTSUP;
        }
        /* Still under the CPU lock: a flush of this page waits for the
         * copy, so the frame cannot be freed under it. */
        frame = sim->env.phys_to_virt(sim->env.ctx, pa);
        if (access != VMAR_ACCESS_WRITE)
            frame_read(bytes + done, frame + off, n);
        else if (!stale || vmar_sim_frame_live(sim, pa))
            frame_write(frame + off, bytes + done, n);
        vmar__sim_unlock(&cpu->lock);
        done += n;
    }
    return 0;
}

void vmar_sim_cpu_stats(const struct vmar_sim_cpu *cpu,
                        struct vmar_sim_cpu_stats *out)
{
    struct vmar_sim_cpu *c = (struct vmar_sim_cpu *)cpu; /* for the lock */

    vmar__sim_lock(&c->lock);
    *out = c->st;
    vmar__sim_unlock(&c->lock);
}

size_t vmar_sim_violations(const struct vmar_sim *sim)
{
    struct vmar_sim *s = (struct vmar_sim *)sim; /* for the lock only */
    size_t n;

    vmar__sim_lock(&s->lock);
    n = s->violations;
    vmar__sim_unlock(&s->lock);
    return n;
}
