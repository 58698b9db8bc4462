/* SPDX-License-Identifier: MIT */
/*
 * x86-64 SMP: the local APIC, starting the application processors with
 * INIT-SIPI-SIPI through a real-mode trampoline (boot.S), and the TLB
 * shootdown behind env->tlb_flush (docs/PORTING.md section 4, "SMP").
 *
 * Shootdown: the sender flushes its own TLB, writes its request (root,
 * range) into its own slot with a bit per other CPU in `pending`, sends
 * the IPI to all other CPUs (one ICR write, shorthand "all excluding
 * self") and spins until `pending` is 0. Each receiver's handler serves
 * every slot that names it, clears its bit and sends EOI. Only then does
 * arch_tlb_flush return, and libvmar frees the frames (the TLB rule of
 * docs/CONTRACT.md). The sender spins with interrupts on, so two CPUs
 * shooting each other down at once both get through.
 *
 * A receiver where the table is current invalidates (invlpg per page, or
 * a CR3 reload for len 0); one where it is not marks its PCID stale, so
 * that the next switch to it drops the PCID's entries (without PCIDs
 * every CR3 load drops them anyway).
 */
#include <vmar/x86_64.h>

#include "x86.h"

#define KVA       0xffffffff80000000ull
#define APIC_PA   0xfee00000ull
#define APIC_VA   0xffffffffc0000000ull /* boot PDPT slot 511, 2 MiB */
#define AP_TRAMP  0x8000u
#define PTE_ADR   0x000ffffffffff000ull
#define APIC_ID   0x20
#define APIC_EOI  0xb0
#define APIC_SVR  0xf0
#define APIC_ICRL 0x300
#define APIC_ICRH 0x310

extern const char ap_tramp[], ap_tramp_end[], tr_cr3[], tr_cr4[], tr_cpu[];

static volatile uint32_t *apic(unsigned reg)
{
    return (volatile uint32_t *)(uintptr_t)(APIC_VA + reg);
}

void arch_relax(void)
{
    __asm__ volatile("pause" ::: "memory");
}

/* hlt right after sti: an IPI that arrives after the look at *word
 * still ends the hlt (sti's one-instruction shadow). */
void arch_idle(const unsigned *word, unsigned old)
{
    __asm__ volatile("cli" ::: "memory");
    if (__atomic_load_n(word, __ATOMIC_ACQUIRE) == old)
        __asm__ volatile("sti; hlt" ::: "memory");
    else
        __asm__ volatile("sti" ::: "memory");
}

static void apic_icr(unsigned dest, uint32_t lo);

/* The shootdown vector: its handler finds no request and sends EOI. */
void arch_wake(unsigned id)
{
    apic_icr(k_cpus[id].hw_id, 0x4000 | K_IPI_VECTOR);
}

static void outw(uint16_t port, uint16_t v)
{
    __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static uint8_t inb(uint16_t port)
{
    uint8_t v;

    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

/* QEMU's fw_cfg FW_CFG_NB_CPUS (selector 5): the -smp count. */
static unsigned fw_cfg_cpus(void)
{
    unsigned n;

    outw(0x510, 0x05);
    n = inb(0x511);
    n |= (unsigned)inb(0x511) << 8;
    return n;
}

/* Map the local APIC (uncached: PCD|PWT, PAT UC) with a 2 MiB leaf in the
 * kernel half: slot 511 of the boot PDPT that maps the kernel. Done before
 * the first space exists, since every space shares these tables. */
static void apic_map(void)
{
    static _Alignas(4096) uint64_t pd[512];
    uint64_t *root = arch_phys_to_virt(x86_boot_cr3());
    uint64_t *pml4 = root, *pdpt;

    if (x86_boot_cr4() & (1u << 12)) /* LA57: PML5[511] -> PML4 */
        pml4 = arch_phys_to_virt(root[511] & PTE_ADR);
    pdpt = arch_phys_to_virt(pml4[511] & PTE_ADR);
    pd[0] = APIC_PA | 0x9b; /* P|RW|PWT|PCD|PS */
    pdpt[511] = ((uint64_t)(uintptr_t)pd - KVA) | 0x3;
    __asm__ volatile("invlpg (%0)" : : "r"(APIC_VA) : "memory");
}

void x86_apic_init(void)
{
    *apic(APIC_SVR) = 0x1ff; /* enabled, spurious vector 0xff */
    *apic(0x80) = 0;         /* TPR: take every vector */
}

static void apic_icr(unsigned dest, uint32_t lo)
{
    while (*apic(APIC_ICRL) & (1u << 12)) /* delivery pending */
        arch_relax();
    *apic(APIC_ICRH) = dest << 24;
    *apic(APIC_ICRL) = lo;
}

/* ---- bring-up ------------------------------------------------------------ */

static _Alignas(16) unsigned char ap_stacks[K_MAX_CPUS][16384];

void arch_smp_start(void)
{
    unsigned char *tramp = arch_phys_to_virt(AP_TRAMP);
    unsigned n = fw_cfg_cpus();

    if (n == 0 || n > K_MAX_CPUS)
        n = n == 0 ? 1 : K_MAX_CPUS;
    apic_map();
    outb(0x21, 0xff); /* mask the 8259 PICs: only IPIs interrupt */
    outb(0xa1, 0xff);
    x86_apic_init();
    k_cpus[0].hw_id = *apic(APIC_ID) >> 24;
    memcpy(tramp, ap_tramp, (size_t)(ap_tramp_end - ap_tramp));
    *(uint32_t *)(tramp + (tr_cr3 - ap_tramp)) = x86_boot_cr3();
    *(uint32_t *)(tramp + (tr_cr4 - ap_tramp)) = x86_boot_cr4();
    for (unsigned i = 1; i < n; i++) {
        struct k_cpu *c = &k_cpus[i];

        /* QEMU numbers the APIC IDs of a flat -smp 0..n-1. */
        c->id = i;
        c->hw_id = i;
        c->boot_sp = (uint64_t)(uintptr_t)(ap_stacks[i] + 16384);
        *(uint64_t *)(tramp + (tr_cpu - ap_tramp)) = (uint64_t)(uintptr_t)c;
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        apic_icr(c->hw_id, 0x4500);                    /* INIT */
        apic_icr(c->hw_id, 0x4600 | (AP_TRAMP >> 12)); /* SIPI */
        for (unsigned long spin = 0;
             __atomic_load_n(&k_online, __ATOMIC_ACQUIRE) <= i; spin++) {
            if (spin == 100000) /* the second SIPI, as the MP spec says */
                apic_icr(c->hw_id, 0x4600 | (AP_TRAMP >> 12));
            if (spin > 100000000)
                k_panic("an AP did not start");
            arch_relax();
        }
    }
    k_ncpus = n;
    k_puts(x86_pcid ? "smp: PCIDs on\n" : "smp: no PCIDs\n");
    __asm__ volatile("sti");
}

/* ---- PCIDs ----------------------------------------------------------------
 */

#define PCID_WORDS ((VMAR_X86_64_PCID_MAX + 1) / 64)
static uint64_t pcid_stale[K_MAX_CPUS][PCID_WORDS];

void x86_pcid_fresh(uint16_t pcid)
{
    for (unsigned i = 0; i < K_MAX_CPUS; i++)
        __atomic_fetch_or(&pcid_stale[i][pcid / 64], 1ull << (pcid % 64),
                          __ATOMIC_SEQ_CST);
}

bool x86_pcid_take(uint16_t pcid)
{
    uint64_t bit = 1ull << (pcid % 64);
    unsigned id = arch_this_cpu()->id;

    return __atomic_fetch_and(&pcid_stale[id][pcid / 64], ~bit,
                              __ATOMIC_SEQ_CST) &
           bit;
}

/* ---- shootdown ------------------------------------------------------------
 */

struct flush_req {
    uint64_t root;
    vmar_addr_t va;
    vmar_size_t len;
    uint32_t pending; /* CPUs that have not acknowledged yet */
} __attribute__((aligned(64)));
static struct flush_req reqs[K_MAX_CPUS];

/* This CPU's part (interrupts off, so that no switch runs in between). */
static void local_flush(uint64_t root, vmar_addr_t va, vmar_size_t len)
{
    uint64_t cur;

    __asm__ volatile("mov %%cr3, %0" : "=r"(cur));
    if (root != cur) {
        if (x86_pcid) /* the next switch to it drops its entries */
            __atomic_fetch_or(
                &pcid_stale[arch_this_cpu()->id][(root & 0xfff) / 64],
                1ull << (root & 63), __ATOMIC_SEQ_CST);
        return;
    }
    if (len == 0) { /* bit 63 clear: drops the current PCID's entries */
        __asm__ volatile("mov %0, %%cr3" : : "r"(cur) : "memory");
        return;
    }
    for (vmar_size_t off = 0; off < len; off += VMAR_PAGE_SIZE)
        __asm__ volatile("invlpg (%0)" : : "r"(va + off) : "memory");
}

void x86_ipi(void)
{
    uint32_t bit = 1u << arch_this_cpu()->id;

    for (unsigned s = 0; s < k_ncpus; s++) {
        struct flush_req *r = &reqs[s];

        if (!(__atomic_load_n(&r->pending, __ATOMIC_ACQUIRE) & bit))
            continue;
        local_flush(r->root, r->va, r->len);
        __atomic_fetch_and(&r->pending, ~bit, __ATOMIC_RELEASE);
    }
    *apic(APIC_EOI) = 0;
}

void arch_tlb_flush(uint64_t root, vmar_addr_t va, vmar_size_t len)
{
    uint64_t flags;

    __asm__ volatile("pushf; pop %0; cli" : "=r"(flags) : : "memory");
    local_flush(root, va, len);
    if (flags & 0x200)
        __asm__ volatile("sti");
#ifndef K_BROKEN_SHOOTDOWN
    if (k_ncpus > 1) {
        unsigned self = arch_this_cpu()->id;
        struct flush_req *r = &reqs[self];

        if (!(flags & 0x200))
            k_panic("shootdown with interrupts off");
        r->root = root;
        r->va = va;
        r->len = len;
        __atomic_store_n(&r->pending, K_ALL_CPUS & ~(1u << self),
                         __ATOMIC_RELEASE);
        apic_icr(0, 0xc0000 | 0x4000 | K_IPI_VECTOR); /* all but self */
        while (__atomic_load_n(&r->pending, __ATOMIC_ACQUIRE) != 0)
            arch_relax();
    }
#endif
}
