/* SPDX-License-Identifier: MIT */
/*
 * The reference check run after every VT_CHECK on a real backend: the raw
 * tables, read by the independent decoders in refdecode_*.c, must agree
 * with the mapping list the space reports.
 *  - Every leaf found by walking the raw tables translates (no reserved
 *    encoding), lies inside a mapping whose prot is not NONE, is a user
 *    page, and has exactly the hardware rights the mapping's prot asks
 *    for (x86: a present page is readable, so W or X alone read too;
 *    RISC-V: W alone is mapped R|W). On RISC-V, A is set and D is set
 *    when writable (no Svade fault on first access).
 *  - The number of such pages equals vmar_resident over the mappings that
 *    are not PROT_NONE; PROT_NONE mappings translate nothing.
 *    Copy-on-write leaves (private mappings, object mappings) may lack
 *    the write right the prot asks for; never the other way round.
 *  - Every table page and leaf frame is a live pool frame, and no frame is
 *    used twice unless its reference count covers every use (a page
 *    shared by two mappings of one object).
 *  - Pages of small mappings are translated one by one, larger mappings
 *    at both ends; holes between mappings (first, middle and last page)
 *    and the page at user_top do not translate.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

struct rc_map {
    vmar_addr_t start, end;
    unsigned prot;
    bool may_be_ro; /* a write may still have to fault (copy-on-write) */
    /* Write-only and copy-on-write: a read-only leaf of it has no right
     * left, so it is present for vmar_resident but translates nothing. */
    bool lenient;
    /* Device memory: each page translates to its own physical address
     * (offset is the start's), which need not be a pool frame. */
    bool device;
    vmar_paddr_t offset;
};

struct rc {
    struct vt *vt;
    struct vt_ref_machine m;
    struct rc_map *maps;
    size_t nmaps, capmaps;
    uint64_t *frames;
    size_t nframes, capframes;
    size_t pages;         /* 4 KiB pages translated through leaves */
    size_t lenient_pages; /* ... of them in lenient mappings */
    size_t tables;
    const char *file;
    int line;
    /* Report mode (vt_refcheck, vt_tables_checked): a mismatch is written
     * to msg and unwinds to *out instead of failing the cmocka test, so a
     * caller such as the differential driver can still shrink its case. */
    jmp_buf *out;
    char *msg;
    size_t msglen;
};

static void *grow(void *p, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return p;
    *cap = *cap ? *cap * 2 : 64;
    p = realloc(p, *cap * elem);
    if (p == NULL)
        abort();
    return p;
}

static void rc_fail(struct rc *c, const char *fmt, uint64_t a, uint64_t b)
{
    free(c->maps);
    free(c->frames);
    if (c->out) {
        int n = snprintf(c->msg, c->msglen,
                         "reference decoder (%s): ", vt_backend()->name);
        if (n >= 0 && (size_t)n < c->msglen) {
            size_t k = (size_t)n;
            n = snprintf(c->msg + k, c->msglen - k, fmt, a, b);
            if (n >= 0 && k + (size_t)n + 1 < c->msglen)
                snprintf(c->msg + k + (size_t)n, c->msglen - k - (size_t)n,
                         "\n");
        }
        longjmp(*c->out, 1);
    }

    char *l = vt_layout(c->vt);

    fprintf(stderr, "%s:%d: reference decoder (%s): ", c->file, c->line,
            vt_backend()->name);
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, "\nlayout:\n%s", l);
    free(l);
    _fail(c->file, c->line);
}

static int collect(void *arg, const struct vmar_mapping_info *info)
{
    struct rc *c = arg;

    c->maps = grow(c->maps, &c->capmaps, c->nmaps, sizeof(*c->maps));
    c->maps[c->nmaps++] = (struct rc_map){
        .start = info->start,
        .end = info->end,
        .prot = info->prot,
        .may_be_ro = !(info->flags & VMAR_MAP_SHARED) || info->object,
        .lenient = (!(info->flags & VMAR_MAP_SHARED) || info->object) &&
                   info->prot == VMAR_PROT_WRITE,
        .device = info->backing == VMAR_BACKING_DEVICE,
        .offset = info->offset};
    return 0;
}

static const struct rc_map *find_map(const struct rc *c, vmar_addr_t va)
{
    size_t lo = 0, hi = c->nmaps;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->maps[mid].end <= va)
            lo = mid + 1;
        else if (c->maps[mid].start > va)
            hi = mid;
        else
            return &c->maps[mid];
    }
    return NULL;
}

static void add_frame(struct rc *c, uint64_t pa)
{
    if (!vmar_sim_frame_live(c->vt->sim, pa))
        rc_fail(c, "page 0x%" PRIx64 " (at 0x%" PRIx64 ") is not a live frame",
                pa, 0);
    c->frames = grow(c->frames, &c->capframes, c->nframes, sizeof(uint64_t));
    c->frames[c->nframes++] = pa;
}

/* The hardware rights a user access gets for a mapping's prot. */
static void expect_page(struct rc *c, vmar_addr_t va,
                        const struct vt_ref_tr *tr, const struct rc_map *m)
{
    /* A read-only copy-on-write leaf has the mapping's rights minus
     * write (on RISC-V, W alone was what made a page readable). */
    unsigned prot = !tr->writable && m->may_be_ro
                        ? m->prot & ~(unsigned)VMAR_PROT_WRITE
                        : m->prot;

    bool x86 = c->m.mode == VT_REF_X86_4L || c->m.mode == VT_REF_X86_5L;
    bool r = x86 ? true : (prot & (VMAR_PROT_READ | VMAR_PROT_WRITE)) != 0;

    if (!tr->user)
        rc_fail(c, "0x%" PRIx64 ": user bit clear (%" PRIu64 ")", va, 0);
    if (tr->readable != r)
        rc_fail(c, "0x%" PRIx64 ": readable %" PRIu64 ", wrong for the prot",
                va, tr->readable);
    if (tr->writable ? !(prot & VMAR_PROT_WRITE)
                     : (prot & VMAR_PROT_WRITE) && !m->may_be_ro)
        rc_fail(c, "0x%" PRIx64 ": writable %" PRIu64 ", wrong for the prot",
                va, tr->writable);
    if (tr->executable != ((prot & VMAR_PROT_EXEC) != 0))
        rc_fail(c, "0x%" PRIx64 ": executable %" PRIu64 ", wrong for the prot",
                va, tr->executable);
    if (!x86 && (!tr->accessed || (tr->writable && !tr->dirty)))
        rc_fail(c, "0x%" PRIx64 ": A/D not preset (Svade fault) %" PRIu64, va,
                0);
}

static bool on_table(void *arg, uint64_t pa, unsigned level)
{
    struct rc *c = arg;

    (void)level;
    c->tables++;
    add_frame(c, pa);
    return true;
}

static bool on_leaf(void *arg, uint64_t va, uint64_t span)
{
    struct rc *c = arg;

    for (uint64_t off = 0; off < span; off += PG) {
        struct vt_ref_tr tr;
        const struct rc_map *m;

        vt_ref_translate(&c->m, va + off, &tr);
        if (tr.bad) {
            fprintf(stderr, "bad entry: %s\n", tr.why);
            rc_fail(c, "0x%" PRIx64 ": bad entry (%" PRIu64 ")", va + off, 0);
        }
        if (!tr.present)
            rc_fail(c, "0x%" PRIx64 ": walked leaf does not translate %" PRIu64,
                    va + off, 0);
        m = find_map(c, va + off);
        if (m == NULL || m->prot == VMAR_PROT_NONE)
            rc_fail(c,
                    "0x%" PRIx64 ": translates outside every accessible "
                    "mapping (to 0x%" PRIx64 ")",
                    va + off, tr.pa);
        if (tr.pa % PG != 0)
            rc_fail(c, "0x%" PRIx64 ": unaligned pa 0x%" PRIx64, va + off,
                    tr.pa);
        expect_page(c, va + off, &tr, m);
        if (m->device && tr.pa != m->offset + (va + off - m->start))
            rc_fail(c, "0x%" PRIx64 ": device page translates to 0x%" PRIx64,
                    va + off, tr.pa);
        if (!m->device) /* no reference, maybe no pool frame */
            add_frame(c, tr.pa);
        c->pages++;
        c->lenient_pages += m->lenient;
    }
    return true;
}

/* Translate one page of a mapping (or a hole when m is NULL). */
static bool probe(struct rc *c, vmar_addr_t va, const struct rc_map *m)
{
    struct vt_ref_tr tr;

    vt_ref_translate(&c->m, va, &tr);
    if (tr.bad) {
        fprintf(stderr, "bad entry: %s\n", tr.why);
        rc_fail(c, "0x%" PRIx64 ": bad entry (%" PRIu64 ")", va, 0);
    }
    if (!tr.present)
        return false;
    if (m == NULL || m->prot == VMAR_PROT_NONE)
        rc_fail(c,
                "0x%" PRIx64 ": a hole or PROT_NONE page translates to "
                "0x%" PRIx64,
                va, tr.pa);
    expect_page(c, va, &tr, m);
    return true;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* CR3 or satp: the reference decoders take the register's value. */
static uint64_t root_value(struct vt *vt)
{
    struct vmar_mmu_activation act;

    /* Every hardware backend has the operation (the callers checked
     * that the backend is one); a failure is a broken test setup. */
    if (vmar_space_activation(vt->space, &act) != 0)
        abort();
    return act.value;
}

static void rc_init(struct rc *c, struct vt *vt, const char *file, int line)
{
    memset(c, 0, sizeof(*c));
    c->vt = vt;
    c->file = file;
    c->line = line;
    c->m.mode = vt_backend()->ref_mode;
    c->m.root = root_value(vt);
    c->m.phys_to_virt = vt->env->phys_to_virt;
    c->m.ctx = vt->env->ctx;
}

/* Report mode: the caller calls setjmp(*out) itself, since the frame it
 * unwinds to must still be live when a check fails. */
static void rc_init_report(struct rc *c, struct vt *vt, jmp_buf *out, char *msg,
                           size_t len)
{
    rc_init(c, vt, __FILE__, __LINE__);
    c->out = out;
    c->msg = msg;
    c->msglen = len;
}

/* The table pages of a real backend's space, walked by the decoder. */
static size_t count_tables(struct rc *c)
{
    struct vt_ref_visitor v = {.table = on_table, .leaf = NULL, .arg = c};

    vt_ref_enumerate(&c->m, &v);
    free(c->frames);
    return c->tables;
}

size_t vt_tables(struct vt *vt)
{
    struct vmar_sim_stats st;
    struct rc c;

    if (!vt->refcheck || !vt_backend()->real) {
        vmar_sim_stats(vt->sim, &st);
        return st.tables_live;
    }
    rc_init(&c, vt, __FILE__, __LINE__);
    return count_tables(&c);
}

int vt_tables_checked(struct vt *vt, size_t *tables, char *msg, size_t len)
{
    struct vmar_sim_stats st;
    jmp_buf out;
    struct rc c;

    if (!vt->refcheck || !vt_backend()->real) {
        vmar_sim_stats(vt->sim, &st);
        *tables = st.tables_live;
        return 0;
    }
    rc_init_report(&c, vt, &out, msg, len);
    if (setjmp(out))
        return 1;
    *tables = count_tables(&c);
    return 0;
}

static void refcheck(struct rc *c)
{
    struct vt *vt = c->vt;
    struct vt_ref_visitor v = {.table = on_table, .leaf = on_leaf};
    vmar_addr_t top = vt->opts.mmu->user_top, prev = 0;
    vmar_size_t want = 0;
    int rc;

    v.arg = c;
    rc = vmar_iterate(vt->space, 0, ~(vmar_addr_t)0, collect, c);
    if (rc)
        rc_fail(c, "vmar_iterate: error -%" PRIu64 " (at 0x%" PRIx64 ")",
                (uint64_t)-rc, 0);
    vt_ref_enumerate(&c->m, &v);

    for (size_t i = 0; i < c->nmaps; i++) {
        const struct rc_map *m = &c->maps[i];
        vmar_size_t res = 0, npages = (m->end - m->start) / PG, seen = 0;

        rc = vmar_resident(vt->space, m->start, m->end, &res);
        if (rc)
            rc_fail(c, "vmar_resident at 0x%" PRIx64 ": -%" PRIu64, m->start,
                    (uint64_t)-rc);
        if (m->prot != VMAR_PROT_NONE && !m->lenient)
            want += res / PG;
        /* The hole below this mapping: its first, middle and last page. */
        if (m->start > prev) {
            probe(c, prev, NULL);
            probe(c, prev + (m->start - prev) / PG / 2 * PG, NULL);
            probe(c, m->start - PG, NULL);
        }
        prev = m->end;
        if (npages <= 512) {
            for (vmar_addr_t va = m->start; va < m->end; va += PG)
                seen += probe(c, va, m);
            if (m->prot != VMAR_PROT_NONE &&
                (m->lenient ? seen * PG > res : seen * PG != res))
                rc_fail(c,
                        "mapping at 0x%" PRIx64 ": the tables translate "
                        "%" PRIu64 " pages, vmar_resident disagrees",
                        m->start, seen);
        } else {
            for (vmar_addr_t k = 0; k < 32 * PG; k += PG) {
                probe(c, m->start + k, m);
                probe(c, m->end - PG - k, m);
            }
        }
    }
    if (top > prev) {
        probe(c, prev, NULL);
        probe(c, top - PG, NULL);
    }
    /* The page at user_top and the top of the lower half translate
     * nothing (no leaf outside the user range). */
    probe(c, top, NULL);
    if (c->pages - c->lenient_pages != want)
        rc_fail(c,
                "the raw tables translate %" PRIu64 " user pages, the "
                "accessible mappings are resident for %" PRIu64,
                c->pages, want);
    qsort(c->frames, c->nframes, sizeof(uint64_t), cmp_u64);
    for (size_t i = 0, k; i < c->nframes; i = k) {
        for (k = i + 1; k < c->nframes && c->frames[k] == c->frames[i]; k++)
            ;
        const size_t refs = vt_frame_refs(vt->env, c->frames[i]);
        if (k - i > 1 && refs < k - i)
            rc_fail(c, "frame 0x%" PRIx64 " used twice (%" PRIu64 ")",
                    c->frames[i], (uint64_t)refs);
    }
    free(c->maps);
    free(c->frames);
}

void vt_refcheck_at(struct vt *vt, const char *file, int line)
{
    struct rc c;

    rc_init(&c, vt, file, line);
    refcheck(&c);
}

int vt_refcheck(struct vt *vt, char *msg, size_t len)
{
    jmp_buf out;
    struct rc c;

    rc_init_report(&c, vt, &out, msg, len);
    if (setjmp(out))
        return 1;
    refcheck(&c);
    return 0;
}

size_t vt_leaves(struct vt *vt)
{
    vmar_size_t bytes = 0;

    /* vmar_resident walks ops->find_next over the range: every present
     * leaf of the space's table, PROT_NONE ones included. */
    _assert_int_equal(
        vmar_resident(vt->space, 0, vt->opts.mmu->user_top, &bytes), 0,
        __FILE__, __LINE__);
    return (size_t)(bytes / PG);
}
