/* SPDX-License-Identifier: MIT */
/*
 * Reference decoder for x86-64 4-level and 5-level paging, from the Intel
 * SDM Vol. 3A ch. 4. Written bit by bit from the manual's tables, not from
 * src/mmu/x86_64/: the point is to disagree with the backend when it is
 * wrong. Assumes CR0.WP = 1, CR4.PAE = 1, IA32_EFER.LME = NXE = 1,
 * MAXPHYADDR = 52, no protection keys; models a user-mode access.
 */
#include "refdecode.h"

/* Bit n of x. */
static unsigned bit(uint64_t x, unsigned n)
{
    return (unsigned)(x >> n) & 1u;
}

/* Bits hi..lo of x, shifted down. */
static uint64_t bits(uint64_t x, unsigned hi, unsigned lo)
{
    return (x >> lo) & ((hi - lo == 63) ? ~(uint64_t)0
                                        : (((uint64_t)1 << (hi - lo + 1)) - 1));
}

static unsigned levels_of(enum vt_ref_mode mode)
{
    return mode == VT_REF_X86_5L ? 5 : 4;
}

static uint64_t read_entry(const struct vt_ref_machine *m, uint64_t table_pa,
                           unsigned index)
{
    const uint64_t *t = m->phys_to_virt(m->ctx, table_pa);

    return t[index];
}

static void fault(struct vt_ref_tr *out, const char *why)
{
    out->present = false;
    out->bad = why != NULL;
    out->why = why;
}

void vt_ref_x86_translate(const struct vt_ref_machine *m, uint64_t va,
                          struct vt_ref_tr *out)
{
    unsigned levels = levels_of(m->mode);
    unsigned vbits = 12 + 9 * levels; /* 48 or 57 */
    /* §4.5.2: CR3 bits 51:12 locate the PML4 (PML5) table (PCID in 11:0
     * is not part of the address). */
    uint64_t table = bits(m->root, 51, 12) << 12;
    bool rw = true, us = true, xd = false;

    *out = (struct vt_ref_tr){0};
    /* §3.3.7.1: canonical = bits 63:vbits-1 all equal. */
    {
        uint64_t top = va >> (vbits - 1);
        if (top != 0 && top != (~(uint64_t)0 >> (vbits - 1))) {
            fault(out, NULL);
            return;
        }
    }
    for (unsigned l = levels; l-- > 0;) {
        /* §4.5.4/§4.5.5: the index is 9 bits of va at 12 + 9 * l. */
        unsigned idx = (unsigned)bits(va, 12 + 9 * l + 8, 12 + 9 * l);
        uint64_t e = read_entry(m, table, idx);

        if (!bit(e, 0)) { /* P */
            fault(out, NULL);
            return;
        }
        /* Rights are the AND over all levels (§4.6.1): R/W bit 1,
         * U/S bit 2; XD bit 63 in any entry disables execution. */
        rw = rw && bit(e, 1);
        us = us && bit(e, 2);
        xd = xd || bit(e, 63);
        if (l >= 3 && bit(e, 7)) {
            /* PS is reserved in a PML5E and PML4E (Tables 4-14, 4-15). */
            fault(out, "PS set in a PML5E/PML4E");
            return;
        }
        if (l == 0 || bit(e, 7)) {
            /* A leaf: PTE (Table 4-20), or PDPTE/PDE with PS = 1 (Tables
             * 4-16, 4-18), whose address bits start at 30 / 21 and whose
             * bits 29:13 / 20:13 are reserved. */
            unsigned lo = 12 + 9 * l;
            if (l > 0 && bits(e, lo - 1, 13) != 0) {
                fault(out, "reserved address bits in a huge leaf");
                return;
            }
            out->present = true;
            out->level = l;
            out->pa = (bits(e, 51, lo) << lo) | bits(va, lo - 1, 0);
            out->user = us;
            out->readable = true; /* a present page is readable (§4.6) */
            out->writable = rw;
            out->executable = !xd;
            out->accessed = bit(e, 5);
            out->dirty = bit(e, 6);
            return;
        }
        table = bits(e, 51, 12) << 12;
    }
}

static uint64_t sign_extend(uint64_t va, unsigned vbits)
{
    if (bit(va, vbits - 1))
        va |= ~(uint64_t)0 << vbits;
    return va;
}

static bool walk(const struct vt_ref_machine *m, const struct vt_ref_visitor *v,
                 uint64_t table, unsigned l, uint64_t prefix)
{
    unsigned vbits = 12 + 9 * levels_of(m->mode);

    if (v->table && !v->table(v->arg, table, l))
        return false;
    for (unsigned i = 0; i < 512; i++) {
        uint64_t e = read_entry(m, table, i);
        uint64_t va = prefix | ((uint64_t)i << (12 + 9 * l));

        if (!bit(e, 0))
            continue;
        if (l == 0 || (l < 3 && bit(e, 7))) {
            if (v->leaf && !v->leaf(v->arg, sign_extend(va, vbits),
                                    (uint64_t)1 << (12 + 9 * l)))
                return false;
            continue;
        }
        if (!walk(m, v, bits(e, 51, 12) << 12, l - 1, va))
            return false;
    }
    return true;
}

void vt_ref_x86_enumerate(const struct vt_ref_machine *m,
                          const struct vt_ref_visitor *v)
{
    walk(m, v, bits(m->root, 51, 12) << 12, levels_of(m->mode) - 1, 0);
}

void vt_ref_translate(const struct vt_ref_machine *m, uint64_t va,
                      struct vt_ref_tr *out)
{
    if (m->mode == VT_REF_X86_4L || m->mode == VT_REF_X86_5L)
        vt_ref_x86_translate(m, va, out);
    else
        vt_ref_rv_translate(m, va, out);
}

void vt_ref_enumerate(const struct vt_ref_machine *m,
                      const struct vt_ref_visitor *v)
{
    if (m->mode == VT_REF_X86_4L || m->mode == VT_REF_X86_5L)
        vt_ref_x86_enumerate(m, v);
    else
        vt_ref_rv_enumerate(m, v);
}
