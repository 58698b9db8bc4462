/* SPDX-License-Identifier: MIT */
/*
 * RISC-V SMP: starting the other harts with the SBI HSM extension and the
 * TLB shootdown behind env->tlb_flush (docs/PORTING.md section 4, "SMP").
 *
 * Shootdown: the calling hart fences itself (sfence.vma with the space's
 * ASID: the whole space, or page by page), then asks the SBI for
 * sbi_remote_sfence_vma_asid on every other hart. OpenSBI sends them a
 * machine-mode IPI, each fences in M-mode whatever it was doing (S-mode
 * interrupts need not be on), and the call returns only when all of them
 * have: that return is the acknowledgement after which libvmar frees the
 * frames (the TLB rule of docs/CONTRACT.md). With the ASID named, the
 * fence also reaches harts where the space is not current but its entries
 * may still be cached.
 */
#include "rv.h"

#define SBI_HSM       0x48534du
#define SBI_RFNC      0x52464e43u
#define HSM_START     0
#define HSM_STATE     2
#define RFNC_VMA_ASID 2
#define HSM_STOPPED   1
#define SBI_IPI       0x735049u

struct sbiret {
    long error, value;
};

static struct sbiret sbi(unsigned long eid, unsigned long fid, unsigned long a0,
                         unsigned long a1, unsigned long a2, unsigned long a3,
                         unsigned long a4)
{
    register unsigned long r0 __asm__("a0") = a0;
    register unsigned long r1 __asm__("a1") = a1;
    register unsigned long r2 __asm__("a2") = a2;
    register unsigned long r3 __asm__("a3") = a3;
    register unsigned long r4 __asm__("a4") = a4;
    register unsigned long r6 __asm__("a6") = fid;
    register unsigned long r7 __asm__("a7") = eid;

    __asm__ volatile("ecall"
                     : "+r"(r0), "+r"(r1)
                     : "r"(r2), "r"(r3), "r"(r4), "r"(r6), "r"(r7)
                     : "memory");
    return (struct sbiret){(long)r0, (long)r1};
}

extern const char ap_start[];
#define KOFF 0xffffffc000000000ull

uint16_t rv_asid_max;
static _Alignas(16) unsigned char ap_stacks[K_MAX_CPUS][16384];
static unsigned long all_harts; /* hart mask of every started hart */

void arch_relax(void)
{
    __asm__ volatile(".insn i 0x0f, 0, x0, x0, 0x010" ::: "memory"); /* pause */
}

/* wfi wakes on an interrupt pending in sie (the SBI IPI sets SSIP) even
 * with sstatus.SIE off, so no trap is taken; one that arrives after the
 * look at *word leaves SSIP pending and wfi returns at once. sie.SSIE is
 * on only here: U-mode takes S-mode interrupts whatever sstatus.SIE. */
void arch_idle(const unsigned *word, unsigned old)
{
    __asm__ volatile("csrs sie, %0" : : "r"(2ul));
    if (__atomic_load_n(word, __ATOMIC_ACQUIRE) == old)
        __asm__ volatile("wfi" ::: "memory");
    __asm__ volatile("csrc sie, %0\n\tcsrc sip, %0" : : "r"(2ul) : "memory");
}

void arch_wake(unsigned id)
{
    sbi(SBI_IPI, 0, 1ul << k_cpus[id].hw_id, 0, 0, 0, 0);
}

/* satp.ASID keeps only the bits the hart implements (ASIDLEN). */
static uint16_t asid_bits(void)
{
    uint64_t old, probe;

    __asm__ volatile("csrr %0, satp" : "=r"(old));
    __asm__ volatile("csrw satp, %1\n\tcsrr %0, satp"
                     : "=r"(probe)
                     : "r"(old | 0xffffull << 44)
                     : "memory");
    __asm__ volatile("csrw satp, %0\n\tsfence.vma" : : "r"(old) : "memory");
    return (uint16_t)(probe >> 44);
}

void arch_smp_start(void)
{
    unsigned boot = k_cpus[0].hw_id, n = 1;

    rv_asid_max = asid_bits();
    all_harts = 1ul << boot;
    for (unsigned h = 0; h < 64 && n < K_MAX_CPUS; h++) {
        struct k_cpu *c = &k_cpus[n];
        struct sbiret r;

        if (h == boot)
            continue;
        r = sbi(SBI_HSM, HSM_STATE, h, 0, 0, 0, 0);
        if (r.error != 0)
            break; /* no such hart: QEMU numbers them 0..n-1 */
        if (r.value != HSM_STOPPED)
            continue;
        c->id = n;
        c->hw_id = h;
        c->boot_sp = (uint64_t)(uintptr_t)(ap_stacks[n] + 16384);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        r = sbi(SBI_HSM, HSM_START, h, (uintptr_t)ap_start - KOFF, (uintptr_t)c,
                0, 0);
        if (r.error != 0)
            k_panic("SBI hart_start failed");
        n++;
        while (__atomic_load_n(&k_online, __ATOMIC_ACQUIRE) < n)
            arch_relax();
        all_harts |= 1ul << h;
    }
    k_ncpus = n;
    k_puts("smp: ASIDs up to ");
    k_puthex(rv_asid_max);
    arch_putc('\n');
}

static void local_flush(uint16_t asid, vmar_addr_t va, vmar_size_t len)
{
    unsigned long a = asid;

    if (len == 0) {
        __asm__ volatile("sfence.vma zero, %0" : : "r"(a) : "memory");
        return;
    }
    for (vmar_size_t off = 0; off < len; off += VMAR_PAGE_SIZE)
        __asm__ volatile("sfence.vma %0, %1"
                         :
                         : "r"(va + off), "r"(a)
                         : "memory");
}

static void remote_flush(uint16_t asid, vmar_addr_t va, vmar_size_t len)
{
    unsigned long others = all_harts & ~(1ul << arch_this_cpu()->hw_id);
    struct sbiret r;

    if (others == 0)
        return;
    /* size -1: the whole address space of the ASID (SBI spec, RFENCE). */
    r = sbi(SBI_RFNC, RFNC_VMA_ASID, others, 0, len == 0 ? 0 : va,
            len == 0 ? ~0ul : len, asid);
    if (r.error != 0)
        k_panic("SBI remote_sfence_vma_asid failed");
}

void rv_asid_fresh(uint16_t asid)
{
    local_flush(asid, 0, 0);
    remote_flush(asid, 0, 0);
}

void arch_tlb_flush(uint64_t root, vmar_addr_t va, vmar_size_t len)
{
    uint16_t asid = (uint16_t)(root >> 44);

    local_flush(asid, va, len);
#ifndef K_BROKEN_SHOOTDOWN
    remote_flush(asid, va, len);
#endif
}
