/* SPDX-License-Identifier: MIT */
/*
 * The random stream's engine (stream.h). The model: per page of the
 * window, whether it is mapped, its permissions and the word at ST_WORD.
 * A probe must then see: a read gives the word (or VMAR_ENOENT unmapped,
 * VMAR_EACCES without READ); a write succeeds exactly with WRITE and sets
 * the word; an execution succeeds exactly with EXEC. Permissions are
 * drawn from NONE, R, RW, RX and RWX, which every MMU expresses.
 *
 * Expected results: map and unmap 0; protect and advise VMAR_ENOMEM over
 * a hole (nothing changes), else 0; DONTNEED zeroes. A remap's result is
 * taken as it comes (whether two mappings are compatible is the
 * library's business; the sim run checks it agrees) and the model moves
 * the pages only when it succeeded. fork snapshots the model for the
 * child, which is probed (reads) at the next fork and at the end.
 */
#include "stream.h"

#define PG ((vmar_size_t)VMAR_PAGE_SIZE)

struct st_page {
    bool mapped;
    unsigned prot;
    uint64_t val;
};

struct st {
    const struct st_platform *pl;
    struct st_result *res;
    struct vmar_space *s, *child;
    struct st_page m[ST_PAGES], cm[ST_PAGES]; /* parent, child at fork */
    uint64_t rng;
    unsigned op;
};

static uint64_t next(struct st *t)
{
    uint64_t z = (t->rng += 0x9e3779b97f4a7c15);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
    z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
    return z ^ (z >> 31);
}

static unsigned below(struct st *t, unsigned n)
{
    return (unsigned)(next(t) % n);
}

static void mix(struct st *t, uint64_t v)
{
    uint64_t d = t->res->digest ^ v;

    d *= 0x100000001b3;
    t->res->digest = d ^ (d >> 29);
}

static void mismatch(struct st *t, const char *why, vmar_addr_t a, uint64_t got,
                     uint64_t want)
{
    struct st_result *r = t->res;

    if (r->mismatches++ == 0) {
        r->why = why;
        r->op = t->op;
        r->addr = a;
        r->got = got;
        r->want = want;
    }
}

static const unsigned prots[] = {
    VMAR_PROT_NONE,
    VMAR_PROT_READ,
    VMAR_PROT_READ | VMAR_PROT_WRITE,
    VMAR_PROT_READ | VMAR_PROT_EXEC,
    VMAR_PROT_READ | VMAR_PROT_WRITE | VMAR_PROT_EXEC,
};

static vmar_addr_t page_va(unsigned i)
{
    return ST_BASE + i * PG;
}

static int want_rc(const struct st_page *p, unsigned need)
{
    if (!p->mapped)
        return VMAR_ENOENT;
    return (p->prot & need) == need ? 0 : VMAR_EACCES;
}

/* Probe every page of `s` against `m`, fold the results in; with
 * `writes`, each writable page gets a fresh word. */
static void probe(struct st *t, struct vmar_space *s, struct st_page *m,
                  bool writes)
{
    struct st_probe pr[ST_PAGES];

    for (unsigned i = 0; i < ST_PAGES; i++)
        pr[i] = (struct st_probe){.wval = next(t) | 1,
                                  .exec = (i + t->op) % 4 == 0};
    t->pl->probe(t->pl->ctx, s, t->op, writes, pr);
    for (unsigned i = 0; i < ST_PAGES; i++) {
        vmar_addr_t a = page_va(i) + ST_WORD;
        int r = want_rc(&m[i], VMAR_PROT_READ);
        int w = want_rc(&m[i], VMAR_PROT_WRITE);
        int x = want_rc(&m[i], VMAR_PROT_EXEC);

        mix(t, (uint64_t)(uint32_t)pr[i].rc_r << 32 | (uint32_t)pr[i].rc_x);
        mix(t, pr[i].rc_r == 0 ? pr[i].val : 0);
        if (pr[i].rc_r != r)
            mismatch(t, "read result", a, (uint64_t)(int64_t)pr[i].rc_r,
                     (uint64_t)(int64_t)r);
        else if (r == 0 && pr[i].val != m[i].val)
            mismatch(t, "read value", a, pr[i].val, m[i].val);
        if (pr[i].exec && pr[i].rc_x != x)
            mismatch(t, "exec result", page_va(i),
                     (uint64_t)(int64_t)pr[i].rc_x, (uint64_t)(int64_t)x);
        if (!writes)
            continue;
        mix(t, (uint64_t)(int64_t)pr[i].rc_w);
        if (pr[i].rc_w != w)
            mismatch(t, "write result", a, (uint64_t)(int64_t)pr[i].rc_w,
                     (uint64_t)(int64_t)w);
        if (w == 0)
            m[i].val = pr[i].wval;
    }
}

static bool has_hole(const struct st *t, unsigned i, unsigned n)
{
    for (unsigned k = i; k < i + n; k++)
        if (!t->m[k].mapped)
            return true;
    return false;
}

static void check_rc(struct st *t, const char *why, int got, int want)
{
    mix(t, (uint64_t)(int64_t)got);
    if (got != want)
        mismatch(t, why, 0, (uint64_t)(int64_t)got, (uint64_t)(int64_t)want);
}

static void op_remap(struct st *t, unsigned i, unsigned n)
{
    unsigned j = below(t, ST_PAGES - n + 1);
    struct st_page moved[ST_PAGES];
    int rc;

    if (j < i + n && i < j + n) /* overlapping: VMAR_EINVAL, not useful */
        j = i + n <= ST_PAGES - n ? i + n : 0;
    if (j < i + n && i < j + n)
        return;
    mix(t, (uint64_t)j);
    rc = vmar_remap(t->s, page_va(i), n * PG, n * PG,
                    VMAR_REMAP_MAYMOVE | VMAR_REMAP_FIXED, page_va(j), NULL);
    mix(t, (uint64_t)(int64_t)rc);
    if (rc != 0)
        return;
    for (unsigned k = 0; k < n; k++) {
        moved[k] = t->m[i + k];
        t->m[i + k] = (struct st_page){0};
    }
    for (unsigned k = 0; k < n; k++)
        t->m[j + k] = moved[k];
}

static int op_fork(struct st *t)
{
    int rc;

    if (t->child != NULL) {
        probe(t, t->child, t->cm, false);
        t->pl->destroy(t->pl->ctx, t->child);
        t->child = NULL;
    }
    rc = t->pl->fork(t->pl->ctx, t->s, &t->child);
    mix(t, (uint64_t)(int64_t)rc);
    if (rc != 0) {
        t->child = NULL;
        return rc;
    }
    for (unsigned k = 0; k < ST_PAGES; k++)
        t->cm[k] = t->m[k];
    return 0;
}

static int step(struct st *t)
{
    unsigned kind = below(t, 100), n = 1 + below(t, 4);
    unsigned i = below(t, ST_PAGES - n + 1);
    vmar_addr_t a = page_va(i);
    vmar_size_t len = n * PG;
    unsigned prot = prots[below(t, 5)];
    int rc, want;

    mix(t, (uint64_t)kind << 32 | (uint64_t)i << 16 | n);
    if (kind < 28) { /* map over whatever is there */
        rc = vmar_map(t->s,
                      &(struct vmar_map_opts){.size = len,
                                              .addr = a,
                                              .place = VMAR_PLACE_FIXED,
                                              .prot = prot},
                      NULL);
        check_rc(t, "map", rc, 0);
        for (unsigned k = i; rc == 0 && k < i + n; k++)
            t->m[k] = (struct st_page){.mapped = true, .prot = prot};
    } else if (kind < 43) {
        check_rc(t, "unmap", vmar_unmap(t->s, a, len), 0);
        for (unsigned k = i; k < i + n; k++)
            t->m[k] = (struct st_page){0};
    } else if (kind < 63) {
        want = has_hole(t, i, n) ? VMAR_ENOMEM : 0;
        rc = vmar_protect(t->s, a, len, prot);
        check_rc(t, "protect", rc, want);
        for (unsigned k = i; rc == 0 && k < i + n; k++)
            t->m[k].prot = prot;
    } else if (kind < 75) {
        op_remap(t, i, n);
    } else if (kind < 87) {
        want = has_hole(t, i, n) ? VMAR_ENOMEM : 0;
        rc = vmar_advise(t->s, a, len, VMAR_ADVISE_DONTNEED);
        check_rc(t, "advise dontneed", rc, want);
        for (unsigned k = i; rc == 0 && k < i + n; k++)
            t->m[k].val = 0;
    } else if (kind < 95) { /* flag advice: splits, changes no page */
        static const int adv[] = {VMAR_ADVISE_RANDOM, VMAR_ADVISE_SEQUENTIAL,
                                  VMAR_ADVISE_NORMAL, VMAR_ADVISE_WILLNEED};
        int advice = adv[below(t, 4)];

        want = has_hole(t, i, n) ? VMAR_ENOMEM : 0;
        check_rc(t, "advise", vmar_advise(t->s, a, len, advice), want);
    } else {
        rc = op_fork(t);
        if (rc != 0)
            return rc;
    }
    probe(t, t->s, t->m, true);
    return 0;
}

int st_run(const struct st_platform *pl, uint64_t seed, unsigned nops,
           struct st_result *out)
{
    struct st t = {.pl = pl, .res = out, .rng = seed};
    int rc;

    *out = (struct st_result){.digest = 0xcbf29ce484222325};
    rc = pl->create(pl->ctx, &t.s);
    if (rc != 0)
        return rc;
    for (t.op = 0; t.op < nops && rc == 0; t.op++) {
        rc = step(&t);
        out->ops++;
    }
    if (t.child != NULL) {
        probe(&t, t.child, t.cm, false);
        pl->destroy(pl->ctx, t.child);
    }
    pl->destroy(pl->ctx, t.s);
    return rc;
}
