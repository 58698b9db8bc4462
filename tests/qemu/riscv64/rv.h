/* SPDX-License-Identifier: MIT */
/* What riscv64/arch.c and riscv64/smp.c share. */
#ifndef VMAR_QEMU_RV_H
#define VMAR_QEMU_RV_H

#include "kernel.h"

/* The largest ASID the harts take (satp.ASID's writable bits), 0 when
 * they have none; arch_smp_start finds it. */
extern uint16_t rv_asid_max;
/* An ASID handed to a new space: fence it on every hart first. */
void rv_asid_fresh(uint16_t asid);

#endif /* VMAR_QEMU_RV_H */
