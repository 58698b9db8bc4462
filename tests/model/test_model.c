/* SPDX-License-Identifier: MIT */
/*
 * The reference model checked against hand-computed answers, so that the
 * differential driver compares the library with something known to be
 * right for the rules that are easiest to get wrong: placement with
 * guards, merging, the limits, atomic protect and caller objects (the
 * model takes the object by id; o->object is not looked at).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "model.h"

#define PG VMAR_PAGE_SIZE
#define LO ((vmar_addr_t)0x100000)
#define R  VMAR_PROT_READ
#define RW (VMAR_PROT_READ | VMAR_PROT_WRITE)

static void init(struct model *m, size_t pages, vmar_size_t guard)
{
    struct model_cfg c = {
        .user_lo = LO, .user_hi = LO + pages * PG, .stack_guard = guard};
    assert_int_equal(model_init(m, &c), 0);
}

static int map(struct model *m, vmar_addr_t addr, size_t pages, unsigned prot,
               enum vmar_place place, unsigned flags, vmar_addr_t *out)
{
    struct vmar_map_opts o = {.addr = addr,
                              .size = pages * PG,
                              .prot = prot,
                              .place = place,
                              .flags = flags};
    return model_map(m, &o, out);
}

static size_t nruns(const struct model *m)
{
    struct model_run runs[64];
    assert_true(m->npages <= 64);
    return model_runs(m, runs);
}

static void placement(void **state)
{
    struct model m;
    vmar_addr_t a;

    (void)state;
    init(&m, 16, 0);
    assert_int_equal(map(&m, 0, 2, R, VMAR_PLACE_ANY, 0, &a), 0);
    assert_int_equal(a, LO + 14 * PG); /* top-down: highest fit */
    assert_int_equal(map(&m, 0, 2, R, VMAR_PLACE_ANY, VMAR_MAP_BOTTOM_UP, &a),
                     0);
    assert_int_equal(a, LO); /* bottom-up: lowest fit */
    /* A free hint is taken; a busy one falls back to the search. */
    assert_int_equal(map(&m, LO + 5 * PG, 1, RW, VMAR_PLACE_HINT, 0, &a), 0);
    assert_int_equal(a, LO + 5 * PG);
    assert_int_equal(map(&m, LO + 5 * PG, 1, RW, VMAR_PLACE_HINT, 0, &a), 0);
    assert_int_equal(a, LO + 13 * PG);
    /* Alignment is of the absolute address. */
    struct vmar_map_opts o = {.size = 4 * PG, .align = 4 * PG, .prot = R};
    assert_int_equal(model_map(&m, &o, &a), 0);
    assert_int_equal(a, LO + 8 * PG);
    /* Free now: pages 2-4, 6-7 and 12; 3 fit, 4 do not. */
    assert_int_equal(map(&m, 0, 4, R, VMAR_PLACE_ANY, 0, &a), VMAR_ENOMEM);
    assert_int_equal(map(&m, 0, 3, R, VMAR_PLACE_ANY, 0, &a), 0);
    assert_int_equal(a, LO + 2 * PG);
    assert_int_equal(map(&m, LO, 1, R, VMAR_PLACE_FIXED_NOREPLACE, 0, &a),
                     VMAR_EEXIST);
    model_fini(&m);
}

static void stack_guard(void **state)
{
    struct model m;
    vmar_addr_t a;

    (void)state;
    init(&m, 16, 2 * PG);
    assert_int_equal(
        map(&m, LO + 14 * PG, 2, RW, VMAR_PLACE_FIXED, VMAR_MAP_STACK, &a), 0);
    /* Pages 12 and 13 are the stack's guard. */
    assert_int_equal(map(&m, 0, 1, R, VMAR_PLACE_ANY, 0, &a), 0);
    assert_int_equal(a, LO + 11 * PG);
    /* A hint into the guard is refused and searched instead. */
    assert_int_equal(map(&m, LO + 13 * PG, 1, R, VMAR_PLACE_HINT, 0, &a), 0);
    assert_int_equal(a, LO + 10 * PG);
    /* A mapping placed inside the guard (FIXED may) owns the gap below
     * it: the guard clips only the gap directly below the stack. */
    assert_int_equal(map(&m, LO + 13 * PG, 1, R, VMAR_PLACE_FIXED, 0, &a), 0);
    assert_int_equal(map(&m, 0, 1, R, VMAR_PLACE_ANY, 0, &a), 0);
    assert_int_equal(a, LO + 12 * PG);
    model_fini(&m);

    /* A new stack needs its own guard free below it. */
    init(&m, 8, 2 * PG);
    assert_int_equal(map(&m, LO, 1, R, VMAR_PLACE_FIXED, 0, &a), 0);
    assert_int_equal(map(&m, 0, 1, RW, VMAR_PLACE_ANY,
                         VMAR_MAP_STACK | VMAR_MAP_BOTTOM_UP, &a),
                     0);
    assert_int_equal(a, LO + 3 * PG);
    model_fini(&m);
}

static void merging(void **state)
{
    struct model m;
    vmar_addr_t a;

    (void)state;
    init(&m, 16, 0);
    assert_int_equal(map(&m, LO, 2, R, VMAR_PLACE_FIXED, 0, &a), 0);
    assert_int_equal(map(&m, LO + 2 * PG, 2, R, VMAR_PLACE_FIXED, 0, &a), 0);
    assert_int_equal(nruns(&m), 1);
    assert_int_equal(
        map(&m, LO + 4 * PG, 2, R, VMAR_PLACE_FIXED, VMAR_MAP_SHARED, &a), 0);
    assert_int_equal(nruns(&m), 2); /* shared differs */
    assert_int_equal(model_protect(&m, LO + PG, PG, RW), 0);
    assert_int_equal(nruns(&m), 4);
    assert_int_equal(model_protect(&m, LO + PG, PG, R), 0);
    assert_int_equal(nruns(&m), 2);
    /* POPULATE does not persist and does not split. */
    assert_int_equal(
        map(&m, LO + 6 * PG, 2, R, VMAR_PLACE_FIXED, VMAR_MAP_POPULATE, &a), 0);
    assert_int_equal(nruns(&m), 3);
    assert_int_equal(model_populated(&m), 2);
    model_fini(&m);
}

static void limits(void **state)
{
    struct model m;
    vmar_addr_t a;

    (void)state;
    init(&m, 16, 0);
    model_set_limits(&m, 4 * PG, 2);
    assert_int_equal(map(&m, LO, 2, R, VMAR_PLACE_FIXED, 0, &a), 0);
    assert_int_equal(map(&m, LO + 4 * PG, 2, RW, VMAR_PLACE_FIXED, 0, &a), 0);
    /* Third mapping: count limit (counted before merging, so even one
     * that would merge is refused), after the address-space limit. */
    assert_int_equal(map(&m, LO + 8 * PG, 1, R, VMAR_PLACE_FIXED, 0, &a),
                     VMAR_ENOMEM);
    assert_string_equal(m.why, "as limit");
    model_set_limits(&m, 0, 2);
    assert_int_equal(map(&m, LO + 2 * PG, 1, R, VMAR_PLACE_FIXED, 0, &a),
                     VMAR_ENOMEM);
    assert_string_equal(m.why, "count limit");
    /* An overwrite is charged only what it adds. */
    assert_int_equal(map(&m, LO + 4 * PG, 2, R, VMAR_PLACE_FIXED, 0, &a), 0);
    model_set_limits(&m, 4 * PG, 2);
    assert_int_equal(map(&m, LO, 2, RW, VMAR_PLACE_FIXED, 0, &a), 0);
    /* Punching a hole adds one; a split by protect too. */
    assert_int_equal(model_unmap(&m, LO + PG, PG), 0); /* trims: ok */
    assert_int_equal(model_protect(&m, LO, PG, R), 0); /* no split */
    model_set_limits(&m, 0, 1); /* below current use (2) */
    assert_int_equal(model_protect(&m, LO, PG, RW), 0); /* adds none */
    assert_int_equal(model_protect(&m, LO + 4 * PG, PG, RW), VMAR_ENOMEM);
    assert_int_equal(model_unmap(&m, LO + 4 * PG, 2 * PG), 0);
    model_fini(&m);
}

static void protect_atomic(void **state)
{
    struct model m;
    vmar_addr_t a;
    struct vmar_map_opts o = {.addr = LO,
                              .size = PG,
                              .prot = R,
                              .deny_prot = VMAR_PROT_WRITE,
                              .place = VMAR_PLACE_FIXED};

    (void)state;
    init(&m, 16, 0);
    assert_int_equal(model_map(&m, &o, &a), 0);
    /* [no-W][hole]: the first problem in address order wins. */
    assert_int_equal(model_protect(&m, LO, 2 * PG, RW), VMAR_EACCES);
    o.addr = LO + 3 * PG;
    assert_int_equal(model_map(&m, &o, &a), 0);
    assert_int_equal(model_protect(&m, LO + 2 * PG, 2 * PG, RW), VMAR_ENOMEM);
    assert_int_equal(model_protect(&m, LO + 2 * PG, 2 * PG, R), VMAR_ENOMEM);
    /* Nothing changed by the failures. */
    struct model_run r;
    assert_int_equal(model_query(&m, LO, &r), 0);
    assert_int_equal(r.prot, R);
    assert_int_equal(r.max_prot, VMAR_PROT_READ | VMAR_PROT_EXEC);
    assert_int_equal(model_query(&m, LO + PG, &r), VMAR_ENOENT);
    model_fini(&m);
}

/* Caller objects: max_prot, offsets, merging, private copy-on-write and
 * its revert, past the end, lifetime. */
static void objects(void **state)
{
    struct model m;
    vmar_addr_t a;
    uint64_t done = 0;
    struct vmar_map_opts o = {.addr = LO,
                              .size = 4 * PG,
                              .prot = RW,
                              .place = VMAR_PLACE_FIXED,
                              .flags = VMAR_MAP_SHARED,
                              .backing = VMAR_BACKING_OBJECT};

    (void)state;
    init(&m, 32, 0);
    /* Three pages, read-only: no shared writable map, a private one may. */
    uint64_t ro = model_object_new(&m, 3, R, 0);
    assert_int_equal(model_map_obj(&m, &o, ro, &a), VMAR_EACCES);
    o.flags = 0;
    assert_int_equal(model_map_obj(&m, &o, ro, &a), 0);
    struct model_run r;
    assert_int_equal(model_query(&m, LO, &r), 0);
    assert_int_equal(r.max_prot, RW); /* no EXEC: the object's */
    /* No object, an unaligned offset: EINVAL. */
    assert_int_equal(model_map_obj(&m, &o, 0, &a), VMAR_EINVAL);
    o.offset = PG / 2;
    assert_int_equal(model_map_obj(&m, &o, ro, &a), VMAR_EINVAL);

    /* A private write copies the object's page; DONTNEED reverts it. */
    struct model_page *p;
    uint64_t rw = model_object_new(&m, 3, VMAR_PROT_RWX, 2);
    o.offset = 0;
    o.flags = VMAR_MAP_SHARED;
    o.addr = LO + 8 * PG;
    assert_int_equal(model_map_obj(&m, &o, rw, &a), 0);
    assert_int_equal(
        model_access(&m, LO + 8 * PG, 8, VMAR_PROT_WRITE, true, &done), 0);
    *model_tag(&m, model_page_at(&m, LO + 8 * PG)) = 42;
    o.flags = 0;
    o.addr = LO + 16 * PG;
    assert_int_equal(model_map_obj(&m, &o, rw, &a), 0);
    p = model_page_at(&m, LO + 16 * PG);
    assert_int_equal(*model_tag(&m, p), 42); /* the object's */
    assert_int_equal(
        model_access(&m, LO + 16 * PG, 8, VMAR_PROT_WRITE, true, &done), 0);
    *model_tag(&m, p) = 7; /* the private copy */
    assert_int_equal(*model_tag(&m, model_page_at(&m, LO + 8 * PG)), 42);
    assert_int_equal(model_advise(&m, LO + 16 * PG, PG, VMAR_ADVISE_DONTNEED),
                     0);
    assert_int_equal(*model_tag(&m, p), 42);
    /* Past the end (page 3): private zero-fill, shared ENXIO. */
    assert_int_equal(model_fault(&m, LO + 19 * PG, VMAR_ACCESS_READ, 0), 0);
    assert_int_equal(model_fault(&m, LO + 11 * PG, VMAR_ACCESS_READ, 0),
                     VMAR_ENXIO);
    /* A continuing offset merges, another one does not. */
    size_t before = nruns(&m);
    o.flags = VMAR_MAP_SHARED;
    o.addr = LO + 12 * PG;
    o.size = PG;
    o.offset = 4 * PG;
    assert_int_equal(model_map_obj(&m, &o, rw, &a), 0);
    assert_int_equal(nruns(&m), before);
    o.addr = LO + 13 * PG;
    o.offset = 7 * PG;
    assert_int_equal(model_map_obj(&m, &o, rw, &a), 0);
    assert_int_equal(nruns(&m), before + 1);
    /* Lifetime: alive while mapped after the caller's reference goes. */
    model_object_put(&m, rw);
    assert_false(m.st->obj[rw].dead);
    assert_int_equal(model_unmap(&m, LO + 8 * PG, 12 * PG), 0);
    assert_true(m.st->obj[rw].dead);
    model_object_put(&m, ro);
    assert_false(m.st->obj[ro].dead);
    model_fini(&m);
}

/* Sealing cuts and merges like a hint; a seal refuses unmap, FIXED,
 * protect and remap with EPERM, discarding advice only on read-only
 * private anonymous pages, and a hole makes the seal ENOMEM. */
static void sealing(void **state)
{
    struct model m;
    vmar_addr_t a;

    (void)state;
    init(&m, 32, 0);
    assert_int_equal(map(&m, LO, 8, RW, VMAR_PLACE_FIXED, 0, NULL), 0);
    assert_int_equal(model_seal(&m, LO + 2 * PG, 2 * PG), 0);
    assert_int_equal(nruns(&m), 3);
    assert_int_equal(model_seal(&m, LO, 16 * PG), VMAR_ENOMEM);
    assert_int_equal(nruns(&m), 3);
    assert_int_equal(model_unmap(&m, LO + 3 * PG, 4 * PG), VMAR_EPERM);
    assert_int_equal(map(&m, LO + 3 * PG, 1, RW, VMAR_PLACE_FIXED, 0, NULL),
                     VMAR_EPERM);
    assert_int_equal(model_protect(&m, LO + 2 * PG, PG, RW), VMAR_EPERM);
    assert_int_equal(model_remap(&m, LO + 6 * PG, PG, PG,
                                 VMAR_REMAP_MAYMOVE | VMAR_REMAP_FIXED,
                                 LO + 2 * PG, &a),
                     VMAR_EPERM);
    assert_int_equal(model_advise(&m, LO + 2 * PG, PG, VMAR_ADVISE_DONTNEED),
                     0); /* writable */
    assert_int_equal(model_unmap(&m, LO + 4 * PG, 4 * PG), 0);
    assert_int_equal(model_seal(&m, LO, 2 * PG), 0);
    assert_int_equal(nruns(&m), 1); /* sealed neighbours merge */
    assert_int_equal(model_protect(&m, LO, 4 * PG, R), VMAR_EPERM);
    assert_int_equal(
        map(&m, LO + 8 * PG, 2, R, VMAR_PLACE_FIXED, VMAR_MAP_SEALED, NULL), 0);
    assert_int_equal(model_advise(&m, LO + 8 * PG, PG, VMAR_ADVISE_FREE),
                     VMAR_EPERM);
    assert_int_equal(model_advise(&m, LO + 8 * PG, PG, VMAR_ADVISE_RANDOM), 0);
    model_clear(&m);
    assert_int_equal(nruns(&m), 0);
    model_fini(&m);
}

/* Locking: mlock cuts, populates and merges back; the limit refuses
 * with EPERM (0), ENOMEM (mlock) or EAGAIN (a locked map); locked
 * memory refuses DONTNEED; a fork's child has no lock; mlockall(FUTURE)
 * locks later maps, munlockall ends it. */
static void locking(void **state)
{
    struct model m, c;
    vmar_addr_t a;

    (void)state;
    init(&m, 32, 0);
    assert_int_equal(map(&m, LO, 8, RW, VMAR_PLACE_FIXED, 0, NULL), 0);
    assert_int_equal(model_mlock(&m, LO + 2 * PG, 2 * PG, 0), 0);
    assert_int_equal(nruns(&m), 3);
    assert_int_equal(model_locked(&m), 2 * PG);
    assert_int_equal(model_populated(&m), 2);
    assert_int_equal(model_advise(&m, LO + 2 * PG, PG, VMAR_ADVISE_DONTNEED),
                     VMAR_EINVAL);
    assert_int_equal(model_fork(&c, &m), 0);
    assert_int_equal(nruns(&c), 1); /* unlocked: one mapping again */
    model_fini(&c);
    assert_int_equal(model_munlock(&m, LO, 8 * PG), 0);
    assert_int_equal(nruns(&m), 1);
    model_set_mlock_limit(&m, 0, true);
    assert_int_equal(model_mlock(&m, LO, PG, 0), VMAR_EPERM);
    model_set_mlock_limit(&m, 3 * PG, true);
    assert_int_equal(model_mlock(&m, LO, 4 * PG, VMAR_MLOCK_ONFAULT),
                     VMAR_ENOMEM);
    assert_int_equal(model_mlock(&m, LO, 3 * PG, VMAR_MLOCK_ONFAULT), 0);
    assert_int_equal(model_populated(&m), 2); /* on fault: none added */
    assert_int_equal(map(&m, 0, 1, RW, VMAR_PLACE_ANY, VMAR_MAP_LOCKED, &a),
                     VMAR_EAGAIN);
    model_set_mlock_limit(&m, 0, false);
    assert_int_equal(model_mlockall(&m, VMAR_MLOCKALL_FUTURE), 0);
    assert_int_equal(map(&m, 0, 2, RW, VMAR_PLACE_ANY, 0, &a), 0);
    assert_int_equal(model_locked(&m), 5 * PG);
    assert_int_equal(model_populated(&m), 4);
    assert_int_equal(model_munlockall(&m), 0);
    assert_int_equal(model_locked(&m), 0);
    model_fini(&m);
}

/* Pins: a pinned frame outlives its page until the unpin; a write
 * reuses it; a fork copies it for the child at once. */
static void pins(void **state)
{
    struct model m, c;
    uint64_t id, id2;

    (void)state;
    init(&m, 16, 0);
    assert_int_equal(map(&m, LO, 2, RW, VMAR_PLACE_FIXED, 0, NULL), 0);
    assert_int_equal(model_pin(&m, LO + PG, 2, 0, &id), VMAR_EFAULT);
    assert_int_equal(m.pinned, 0);
    assert_int_equal(model_pin(&m, LO, 1, VMAR_PIN_WRITE, &id), 0);
    assert_int_equal(m.pinned, 1);
    assert_int_equal(model_fork(&c, &m), 0);
    assert_int_not_equal(c.pg[0].frame, m.pg[0].frame); /* a copy */
    assert_int_equal(c.pin_copies, 1);
    model_fini(&c);
    assert_int_equal(model_pin(&m, LO, 1, VMAR_PIN_WRITE, &id2), 0);
    assert_int_equal(id2, id); /* the write reused it */
    assert_int_equal(model_unmap(&m, LO, 2 * PG), 0);
    assert_int_equal(model_pinned_frames(m.st), 1);
    model_unpin(&m, id);
    model_unpin(&m, id);
    assert_int_equal(model_pinned_frames(m.st), 0);
    assert_int_equal(m.pinned, 0);
    model_fini(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(placement),      cmocka_unit_test(stack_guard),
        cmocka_unit_test(merging),        cmocka_unit_test(limits),
        cmocka_unit_test(protect_atomic), cmocka_unit_test(objects),
        cmocka_unit_test(sealing),        cmocka_unit_test(locking),
        cmocka_unit_test(pins),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
