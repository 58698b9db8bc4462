/* SPDX-License-Identifier: MIT */
/* What x86_64/arch.c and x86_64/smp.c share. */
#ifndef VMAR_QEMU_X86_H
#define VMAR_QEMU_X86_H

#include "kernel.h"

/* The shootdown IPI's vector (boot.S has its stub). */
#define K_IPI_VECTOR 0xf0

void x86_wrmsr(uint32_t msr, uint64_t v);

/* CR4.PCIDE is on (CPUID offers PCIDs): every space has its own PCID. */
extern bool x86_pcid;
/* A PCID handed to a new space: stale on every CPU until its next
 * switch there. */
void x86_pcid_fresh(uint16_t pcid);
/* On the calling CPU, interrupts off: whether `pcid` is stale here
 * (then the switch must drop its entries), clearing the mark. */
bool x86_pcid_take(uint16_t pcid);

/* The local APIC of the calling CPU: enable it (spurious vector 0xff). */
void x86_apic_init(void);
/* The shootdown IPI's handler (interrupts off): do every request that
 * names this CPU, acknowledge, EOI. */
void x86_ipi(void);

/* The boot tables' CR3 and the CR4 the trampoline sets (PAE, LA57). */
uint32_t x86_boot_cr3(void);
uint32_t x86_boot_cr4(void);

#endif /* VMAR_QEMU_X86_H */
