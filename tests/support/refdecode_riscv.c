/* SPDX-License-Identifier: MIT */
/*
 * Reference decoder for RISC-V Sv39/Sv48/Sv57, from the privileged spec
 * ("Supervisor-Level ISA": "Virtual Address Translation Process", the
 * Sv39/Sv48/Sv57 PTE formats, "Svpbmt", "Svnapot"), not from
 * src/mmu/riscv64/. Models a U-mode access with Svpbmt implemented,
 * Svnapot not implemented, and Svade (no hardware A/D update): the
 * translation reports A and D so the caller can check that an access
 * would not fault on them.
 */
#include "refdecode.h"

static unsigned bit(uint64_t x, unsigned n)
{
    return (unsigned)(x >> n) & 1u;
}

static uint64_t bits(uint64_t x, unsigned hi, unsigned lo)
{
    return (x >> lo) & (((uint64_t)1 << (hi - lo + 1)) - 1);
}

static unsigned levels_of(enum vt_ref_mode mode)
{
    return mode == VT_REF_SV39 ? 3 : mode == VT_REF_SV48 ? 4 : 5;
}

static uint64_t read_pte(const struct vt_ref_machine *m, uint64_t a,
                         unsigned index)
{
    const uint64_t *t = m->phys_to_virt(m->ctx, a);

    return t[index]; /* PTESIZE = 8 */
}

static void fault(struct vt_ref_tr *out, const char *why)
{
    out->present = false;
    out->bad = why != NULL;
    out->why = why;
}

/* PTE.PPN is bits 53:10; the table/page address is PPN * PAGESIZE. */
static uint64_t ppn_of(uint64_t pte)
{
    return bits(pte, 53, 10);
}

void vt_ref_rv_translate(const struct vt_ref_machine *m, uint64_t va,
                         struct vt_ref_tr *out)
{
    unsigned levels = levels_of(m->mode);
    unsigned vbits = 12 + 9 * levels;
    /* Step 1: a = satp.ppn * PAGESIZE (satp.PPN is bits 43:0). Check the
     * MODE field (63:60) against the mode: 8 Sv39, 9 Sv48, 10 Sv57. */
    uint64_t a = bits(m->root, 43, 0) << 12;
    unsigned want_mode = 8 + (levels - 3);

    *out = (struct vt_ref_tr){0};
    if (bits(m->root, 63, 60) != want_mode) {
        fault(out, "satp.MODE does not match the mode");
        return;
    }
    /* Bits 63:vbits must equal bit vbits-1, else a page fault. */
    {
        uint64_t top = va >> (vbits - 1);
        if (top != 0 && top != (~(uint64_t)0 >> (vbits - 1))) {
            fault(out, NULL);
            return;
        }
    }
    for (unsigned i = levels; i-- > 0;) {
        /* Step 2: pte = a + va.vpn[i] * PTESIZE. */
        unsigned vpn = (unsigned)bits(va, 12 + 9 * i + 8, 12 + 9 * i);
        uint64_t pte = read_pte(m, a, vpn);
        unsigned v = bit(pte, 0), r = bit(pte, 1), w = bit(pte, 2),
                 x = bit(pte, 3);

        /* Step 3: V = 0, or R = 0 with W = 1, or a reserved bit: fault. */
        if (!v) {
            fault(out, NULL);
            return;
        }
        if (!r && w) {
            fault(out, "W without R (reserved)");
            return;
        }
        if (bits(pte, 60, 54) != 0) {
            fault(out, "reserved bits 60:54 set");
            return;
        }
        if (bit(pte, 63)) {
            fault(out, "N set (Svnapot not implemented)");
            return;
        }
        if (bits(pte, 62, 61) == 3) {
            fault(out, "PBMT = 3 (reserved)");
            return;
        }
        if (!r && !x) {
            /* Step 4: a pointer to the next level. D, A, U and PBMT are
             * reserved in non-leaf PTEs. */
            if (bit(pte, 7) || bit(pte, 6) || bit(pte, 4) ||
                bits(pte, 62, 61) != 0) {
                fault(out, "D/A/U/PBMT set in a non-leaf PTE");
                return;
            }
            if (i == 0) {
                fault(out, "non-leaf PTE at level 0");
                return;
            }
            a = ppn_of(pte) << 12;
            continue;
        }
        /* Step 6: a superpage must be aligned: ppn[i-1:0] = 0. */
        if (i > 0 && bits(ppn_of(pte), 9 * i - 1, 0) != 0) {
            fault(out, "misaligned superpage");
            return;
        }
        /* Step 8: pa = pte.ppn[LEVELS-1:i] with va.vpn[i-1:0], offset. */
        out->present = true;
        out->level = i;
        out->pa = (ppn_of(pte) >> (9 * i) << (12 + 9 * i)) |
                  bits(va, 12 + 9 * i - 1, 0);
        out->user = bit(pte, 4);
        out->readable = r;
        out->writable = w;
        out->executable = x;
        out->accessed = bit(pte, 6);
        out->dirty = bit(pte, 7);
        return;
    }
}

static uint64_t sign_extend(uint64_t va, unsigned vbits)
{
    if (bit(va, vbits - 1))
        va |= ~(uint64_t)0 << vbits;
    return va;
}

static bool walk(const struct vt_ref_machine *m, const struct vt_ref_visitor *v,
                 uint64_t a, unsigned i, uint64_t prefix)
{
    unsigned vbits = 12 + 9 * levels_of(m->mode);

    if (v->table && !v->table(v->arg, a, i))
        return false;
    for (unsigned n = 0; n < 512; n++) {
        uint64_t pte = read_pte(m, a, n);
        uint64_t va = prefix | ((uint64_t)n << (12 + 9 * i));

        if (!bit(pte, 0))
            continue;
        if (bit(pte, 1) || bit(pte, 3) || i == 0) {
            if (v->leaf && !v->leaf(v->arg, sign_extend(va, vbits),
                                    (uint64_t)1 << (12 + 9 * i)))
                return false;
            continue;
        }
        if (!walk(m, v, ppn_of(pte) << 12, i - 1, va))
            return false;
    }
    return true;
}

void vt_ref_rv_enumerate(const struct vt_ref_machine *m,
                         const struct vt_ref_visitor *v)
{
    walk(m, v, bits(m->root, 43, 0) << 12, levels_of(m->mode) - 1, 0);
}
