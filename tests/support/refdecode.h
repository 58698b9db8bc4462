/* SPDX-License-Identifier: MIT */
/*
 * Reference page-table decoders for the tests, written from the manuals
 * and independent of the backends' own encode/decode (src/mmu/x86_64,
 * src/mmu/riscv64):
 *  - refdecode_x86_64.c: Intel SDM Vol. 3A ch. 4, 4-level and 5-level
 *    paging (§4.5), access rights (§4.6);
 *  - refdecode_riscv.c: RISC-V privileged spec, "Supervisor-Level ISA",
 *    Sv39/Sv48/Sv57 and "Virtual Address Translation Process".
 * They read raw 64-bit words through phys_to_virt, as a hardware walker
 * reads physical memory, and report what a user-mode access would get.
 */
#ifndef VMAR_TEST_REFDECODE_H
#define VMAR_TEST_REFDECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum vt_ref_mode {
    VT_REF_X86_4L,
    VT_REF_X86_5L,
    VT_REF_SV39,
    VT_REF_SV48,
    VT_REF_SV57,
};

/* The machine state a hardware walker starts from. */
struct vt_ref_machine {
    enum vt_ref_mode mode;
    uint64_t root; /* CR3 or satp value, as the backend reports it */
    void *(*phys_to_virt)(void *ctx, uint64_t pa);
    void *ctx;
};

/* The translation of one virtual address. */
struct vt_ref_tr {
    bool present; /* a translation exists (no fault on the walk itself) */
    bool bad;     /* the walk hit a reserved encoding (why says which) */
    const char *why;
    uint64_t pa;    /* physical address of the byte at va */
    unsigned level; /* level of the leaf: 0 = 4 KiB */
    bool user, readable, writable, executable;
    bool accessed, dirty; /* A and D of the leaf */
};

/* Translate `va`. */
void vt_ref_translate(const struct vt_ref_machine *m, uint64_t va,
                      struct vt_ref_tr *out);

/* Called for every page-table page (root included) and every leaf the
 * raw tables hold; `va` is the leaf's first address (sign-extended),
 * `span` its size. A PTE whose valid/present bit is clear is not a
 * leaf. Return false to stop. */
struct vt_ref_visitor {
    bool (*table)(void *arg, uint64_t pa, unsigned level);
    bool (*leaf)(void *arg, uint64_t va, uint64_t span);
    void *arg;
};
void vt_ref_enumerate(const struct vt_ref_machine *m,
                      const struct vt_ref_visitor *v);

/* Per-architecture halves (vt_ref_translate/enumerate dispatch). */
void vt_ref_x86_translate(const struct vt_ref_machine *m, uint64_t va,
                          struct vt_ref_tr *out);
void vt_ref_x86_enumerate(const struct vt_ref_machine *m,
                          const struct vt_ref_visitor *v);
void vt_ref_rv_translate(const struct vt_ref_machine *m, uint64_t va,
                         struct vt_ref_tr *out);
void vt_ref_rv_enumerate(const struct vt_ref_machine *m,
                         const struct vt_ref_visitor *v);

#endif /* VMAR_TEST_REFDECODE_H */
