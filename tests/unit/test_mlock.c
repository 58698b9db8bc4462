/* SPDX-License-Identifier: MIT */
/*
 * vmar_mlock(), vmar_munlock(), vmar_mlockall(), vmar_munlockall(),
 * VMAR_MAP_LOCKED / VMAR_MAP_LOCKONFAULT and the lock limit (Linux's
 * mlock family and RLIMIT_MEMLOCK): locking cuts mappings at the range's
 * ends and merges like-locked neighbours; locked ranges are populated
 * (unless on fault) and refuse DONTNEED and FREE; the locked counter
 * (vmar_stats::locked, which vmar_check recomputes) follows every map,
 * unmap, overwrite, remap, resize, protect and stack growth; device
 * mappings are never locked; fork's child and exec start unlocked; the
 * limit gives VMAR_EPERM at 0, VMAR_ENOMEM for mlock and mlockall,
 * VMAR_EAGAIN for a locked map and remap growth; bad input, holes,
 * rights, the count limit and every allocation failure leave the space
 * unchanged.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define R  ((unsigned)VMAR_PROT_READ)
#define W  ((unsigned)VMAR_PROT_WRITE)
#define X  ((unsigned)VMAR_PROT_EXEC)
#define RW (R | W)

#define FIXED    VMAR_PLACE_FIXED
#define BASE     ((vmar_addr_t)0x40000000)
#define LOCKED   VMAR_MAP_LOCKED
#define ONFAULT  VMAR_MAP_LOCKONFAULT
#define LOCKMASK (LOCKED | ONFAULT)

/* The calls, each followed by vmar_check. */
static int mlock_(struct vt *vt, vmar_addr_t a, vmar_size_t n, unsigned f)
{
    int rc = vmar_mlock(vt->space, a, n, f);
    VT_CHECK(vt);
    return rc;
}

static int munlock_(struct vt *vt, vmar_addr_t a, vmar_size_t n)
{
    int rc = vmar_munlock(vt->space, a, n);
    VT_CHECK(vt);
    return rc;
}

static int mlockall_(struct vt *vt, unsigned f)
{
    int rc = vmar_mlockall(vt->space, f);
    VT_CHECK(vt);
    return rc;
}

static int munlockall_(struct vt *vt)
{
    int rc = vmar_munlockall(vt->space);
    VT_CHECK(vt);
    return rc;
}

/* The lock flags of the mapping at `at` (which must exist). */
static unsigned lock_at(struct vt *vt, vmar_addr_t at)
{
    struct vmar_mapping_info info = {0};

    assert_int_equal(vmar_query(vt->space, at, &info), 0);
    return info.flags & LOCKMASK;
}

static size_t count(struct vt *vt)
{
    return vt_space_stats(vt).map_count;
}

static vmar_size_t locked(struct vt *vt)
{
    return vt_space_stats(vt).locked;
}

/* Resident bytes of [lo, hi). */
static vmar_size_t resident(struct vt *vt, vmar_addr_t lo, vmar_addr_t hi)
{
    vmar_size_t b = 0;

    assert_int_equal(vmar_resident(vt->space, lo, hi, &b), 0);
    return b;
}

static void set_limit(struct vt *vt, vmar_size_t limit, bool limited)
{
    vmar_set_mlock_limit(vt->space, limit, limited);
    VT_CHECK(vt);
}

/* Locking the middle cuts and populates; unlocking merges and keeps the
 * pages; locking twice changes nothing; on-fault and populated locks
 * are different mappings. */
static void test_split_merge(void **state)
{
    struct vt vt;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 8, RW, 0);
    VT_EXPECT_RC(mlock_(&vt, BASE + 2 * PG, 3 * PG, 0), 0);
    assert_int_equal(count(&vt), 3);
    assert_int_equal(lock_at(&vt, BASE), 0);
    assert_int_equal(lock_at(&vt, BASE + 2 * PG), LOCKED);
    assert_int_equal(locked(&vt), 3 * PG);
    assert_int_equal(resident(&vt, BASE, BASE + 8 * PG), 3 * PG);
    {
        struct vt_snap snap;
        vt_snap_take(&vt, &snap);
        VT_EXPECT_RC(mlock_(&vt, BASE + 3 * PG, PG, 0), 0);
        VT_EXPECT_UNCHANGED(&vt, &snap);
    }
    /* On fault inside a populated lock: a cut, the counter unchanged. */
    VT_EXPECT_RC(mlock_(&vt, BASE + 3 * PG, PG, VMAR_MLOCK_ONFAULT), 0);
    assert_int_equal(count(&vt), 5);
    assert_int_equal(lock_at(&vt, BASE + 3 * PG), LOCKMASK);
    assert_int_equal(locked(&vt), 3 * PG);
    VT_EXPECT_RC(mlock_(&vt, BASE + 3 * PG, PG, 0), 0);
    assert_int_equal(count(&vt), 3);
    VT_EXPECT_RC(munlock_(&vt, BASE, 8 * PG), 0);
    assert_int_equal(count(&vt), 1);
    assert_int_equal(locked(&vt), 0);
    assert_int_equal(resident(&vt, BASE, BASE + 8 * PG), 3 * PG);
    /* Unlocking what is not locked is no change. */
    VT_EXPECT_RC(munlock_(&vt, BASE + PG, PG), 0);
    assert_int_equal(count(&vt), 1);
    vt_teardown(&vt);
}

/* What populating does for each kind of memory: a write fault in
 * writable private memory, a read (or execute) fault elsewhere, nothing
 * for PROT_NONE (VMAR_EFAULT, the range locked all the same), nothing on
 * fault; device memory is skipped, never locked, never counted. */
static void test_populate_kinds(void **state)
{
    struct vt vt, child;
    struct vmar_object *obj;
    vmar_paddr_t dev = 0;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_without_refdecoder(&vt);
    vt_map_fixed(&vt, BASE, 2, R, 0);
    vt_map_fixed(&vt, BASE + 4 * PG, 2, X, 0);
    vt_map_fixed(&vt, BASE + 8 * PG, 2, W, 0);
    VT_EXPECT_RC(mlock_(&vt, BASE, 2 * PG, 0), 0);
    VT_EXPECT_RC(mlock_(&vt, BASE + 4 * PG, 2 * PG, 0), 0);
    VT_EXPECT_RC(mlock_(&vt, BASE + 8 * PG, 2 * PG, 0), 0);
    assert_int_equal(resident(&vt, BASE, BASE + 10 * PG), 6 * PG);
    vt_expect_rss(&vt, 6, 0);

    /* PROT_NONE: locked, not populated; the population's error. A
     * later protect to writable populates it (Linux's mprotect_fixup). */
    vt_map_fixed(&vt, BASE + 12 * PG, 2, 0, 0);
    VT_EXPECT_RC(mlock_(&vt, BASE + 12 * PG, 2 * PG, 0), VMAR_EFAULT);
    assert_int_equal(lock_at(&vt, BASE + 12 * PG), LOCKED);
    assert_int_equal(resident(&vt, BASE + 12 * PG, BASE + 14 * PG), 0);
    VT_EXPECT_RC(vt_protect(&vt, BASE + 12 * PG, PG, R), 0);
    assert_int_equal(resident(&vt, BASE + 12 * PG, BASE + 14 * PG), 0);
    VT_EXPECT_RC(vt_protect(&vt, BASE + 13 * PG, PG, RW), 0);
    assert_int_equal(resident(&vt, BASE + 12 * PG, BASE + 14 * PG), PG);
    VT_CHECK(&vt);

    /* On fault: nothing now; a touch populates, and stays. */
    vt_map_fixed(&vt, BASE + 16 * PG, 4, RW, 0);
    VT_EXPECT_RC(mlock_(&vt, BASE + 16 * PG, 4 * PG, VMAR_MLOCK_ONFAULT), 0);
    assert_int_equal(resident(&vt, BASE + 16 * PG, BASE + 20 * PG), 0);
    vt_poke(&vt, BASE + 17 * PG, 1);
    assert_int_equal(resident(&vt, BASE + 16 * PG, BASE + 20 * PG), PG);

    /* Shared object memory is read in (file pages); private object
     * memory that is writable is copied (anonymous pages). */
    assert_int_equal(vmar_memfd_create(vt.env, 2 * PG, &obj), 0);
    VT_EXPECT_RC(
        vt_map_object(&vt, BASE + 24 * PG, 2 * PG, RW, VMAR_MAP_SHARED, obj, 0),
        0);
    VT_EXPECT_RC(vt_map_object(&vt, BASE + 28 * PG, 2 * PG, RW, 0, obj, 0), 0);
    vmar_object_unref(obj);
    struct vmar_stats before = vt_space_stats(&vt);
    VT_EXPECT_RC(mlock_(&vt, BASE + 24 * PG, 6 * PG, 0),
                 VMAR_ENOMEM); /* hole */
    VT_EXPECT_RC(mlock_(&vt, BASE + 24 * PG, 2 * PG, 0), 0);
    VT_EXPECT_RC(mlock_(&vt, BASE + 28 * PG, 2 * PG, 0), 0);
    struct vmar_stats after = vt_space_stats(&vt);
    assert_int_equal(after.resident_file - before.resident_file, 2 * PG);
    assert_int_equal(after.resident_anon - before.resident_anon, 2 * PG);

    /* Device memory: mlock passes over it without locking it. */
    dev = vt_map_device_page(&vt, BASE + 32 * PG);
    vt_map_fixed(&vt, BASE + 33 * PG, 1, RW, 0);
    vmar_size_t was = locked(&vt);
    VT_EXPECT_RC(mlock_(&vt, BASE + 32 * PG, 2 * PG, 0), 0);
    assert_int_equal(lock_at(&vt, BASE + 32 * PG), 0);
    assert_int_equal(lock_at(&vt, BASE + 33 * PG), LOCKED);
    assert_int_equal(locked(&vt), was + PG);
    /* MAP_LOCKED on device memory is dropped. */
    struct vmar_map_opts d = {.addr = BASE + 34 * PG,
                              .size = PG,
                              .prot = RW,
                              .place = FIXED,
                              .flags = LOCKED,
                              .backing = VMAR_BACKING_DEVICE,
                              .paddr = dev};
    VT_EXPECT_RC(vt_map_opts(&vt, &d, NULL), 0);
    assert_int_equal(lock_at(&vt, BASE + 34 * PG), 0);
    assert_int_equal(locked(&vt), was + PG);

    /* A read-only private mapping shared by fork is read, not copied. */
    vt_map_fixed(&vt, BASE + 40 * PG, 2, RW, 0);
    vt_fill_pages(&vt, BASE + 40 * PG, 2, 3);
    VT_EXPECT_RC(vt_protect(&vt, BASE + 40 * PG, 2 * PG, R), 0);
    VT_EXPECT_RC(vt_fork(&vt, &child), 0);
    child.refcheck = false;
    struct vmar_pte p1, p2;
    VT_EXPECT_RC(mlock_(&vt, BASE + 40 * PG, 2 * PG, 0), 0);
    VT_EXPECT_RC(vmar_space_translate(vt.space, BASE + 40 * PG, &p1), 0);
    VT_EXPECT_RC(vmar_space_translate(child.space, BASE + 40 * PG, &p2), 0);
    assert_int_equal(p1.pa, p2.pa);
    /* Made writable, a locked mapping is populated again: copied. */
    VT_EXPECT_RC(vt_protect(&vt, BASE + 40 * PG, 2 * PG, RW), 0);
    VT_EXPECT_RC(vmar_space_translate(vt.space, BASE + 40 * PG, &p1), 0);
    assert_int_not_equal(p1.pa, p2.pa);
    assert_true(p1.prot & W);
    VT_EXPECT_PAGES(&vt, BASE + 40 * PG, 2, 3);
    vt_child_destroy(&child);
    VT_EXPECT_RC(vt_unmap(&vt, BASE + 32 * PG, 3 * PG), 0);
    vt.env->frame_free(vt.env->ctx, dev);
    vt_teardown(&vt);
}

/* Locking without populating, then populating as one: holes and
 * on-fault mappings are passed over, PROT_NONE stops it. */
static void test_nopopulate(void **state)
{
    struct vt vt;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 2, RW, 0);
    vt_map_fixed(&vt, BASE + 4 * PG, 2, R, 0);
    vt_map_fixed(&vt, BASE + 6 * PG, 1, 0, 0);
    vt_map_fixed(&vt, BASE + 7 * PG, 1, RW, 0);
    VT_EXPECT_RC(mlock_(&vt, BASE, 2 * PG, VMAR_MLOCK_NOPOPULATE), 0);
    VT_EXPECT_RC(mlock_(&vt, BASE + 4 * PG, 4 * PG, VMAR_MLOCK_NOPOPULATE), 0);
    assert_int_equal(lock_at(&vt, BASE), LOCKED);
    assert_int_equal(resident(&vt, BASE, BASE + 8 * PG), 0);
    VT_EXPECT_RC(munlock_(&vt, BASE + PG, PG), 0);
    VT_EXPECT_RC(vmar_mlock_populate(vt.space, BASE, 8 * PG), VMAR_EFAULT);
    VT_CHECK(&vt);
    /* Unlocked memory too, as Linux's __mm_populate(). */
    assert_int_equal(resident(&vt, BASE, BASE + 8 * PG), 4 * PG);
    assert_int_equal(resident(&vt, BASE + 7 * PG, BASE + 8 * PG), 0);
    VT_EXPECT_RC(vmar_mlock_populate(vt.space, BASE + 7 * PG, PG), 0);
    VT_CHECK(&vt);
    assert_int_equal(resident(&vt, BASE + 7 * PG, BASE + 8 * PG), PG);
    VT_EXPECT_FAILS(&vt, vmar_mlock_populate(vt.space, BASE + 1, PG),
                    VMAR_EINVAL);
    VT_EXPECT_FAILS(&vt, vmar_mlock_populate(NULL, BASE, PG), VMAR_EINVAL);
    vt_teardown(&vt);
}

/* Locked memory keeps its pages: DONTNEED and FREE are VMAR_EINVAL (on
 * fault too); other advice passes; after munlock they work. */
static void test_dontneed_refused(void **state)
{
    struct vt vt;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 4, RW, 0);
    vt_fill_pages(&vt, BASE, 4, 9);
    VT_EXPECT_RC(mlock_(&vt, BASE + PG, PG, 0), 0);
    VT_EXPECT_RC(mlock_(&vt, BASE + 2 * PG, PG, VMAR_MLOCK_ONFAULT), 0);
    static const int drop[] = {VMAR_ADVISE_DONTNEED, VMAR_ADVISE_FREE};
    for (size_t i = 0; i < 2; i++) {
        VT_EXPECT_FAILS(&vt, vmar_advise(vt.space, BASE, 4 * PG, drop[i]),
                        VMAR_EINVAL);
        VT_EXPECT_FAILS(&vt, vmar_advise(vt.space, BASE + PG, PG, drop[i]),
                        VMAR_EINVAL);
        VT_EXPECT_FAILS(&vt, vmar_advise(vt.space, BASE + 2 * PG, PG, drop[i]),
                        VMAR_EINVAL);
    }
    VT_EXPECT_RC(vmar_advise(vt.space, BASE, 4 * PG, VMAR_ADVISE_RANDOM), 0);
    VT_EXPECT_RC(vmar_advise(vt.space, BASE, 4 * PG, VMAR_ADVISE_NORMAL), 0);
    VT_CHECK(&vt);
    VT_EXPECT_PAGES(&vt, BASE, 4, 9);
    VT_EXPECT_RC(vmar_advise(vt.space, BASE, PG, VMAR_ADVISE_DONTNEED), 0);
    VT_EXPECT_RC(munlock_(&vt, BASE, 4 * PG), 0);
    VT_EXPECT_RC(vmar_advise(vt.space, BASE, 4 * PG, VMAR_ADVISE_DONTNEED), 0);
    VT_EXPECT_ZERO(&vt, BASE, 4);
    vt_teardown(&vt);
}

/* The limit: 0 refuses (EPERM) but unlocking passes; mlock charges what
 * it adds (ENOMEM past it); a locked map, by flag or by mlockall(FUTURE),
 * and remap growth are EAGAIN; mlockall(CURRENT) compares the whole
 * space (ENOMEM); a stack does not grow past it; the capability lifts
 * it; a lowered limit keeps what is locked. */
static void test_limit(void **state)
{
    struct vt vt;
    vmar_addr_t at;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 8, RW, 0);
    set_limit(&vt, 0, true);
    VT_EXPECT_FAILS(&vt, vmar_mlock(vt.space, BASE, PG, 0), VMAR_EPERM);
    VT_EXPECT_FAILS(&vt, vmar_mlockall(vt.space, VMAR_MLOCKALL_FUTURE),
                    VMAR_EPERM);
    VT_EXPECT_FAILS(&vt,
                    vt_map(&vt, BASE + 16 * PG, PG, RW, FIXED, LOCKED, NULL),
                    VMAR_EPERM);
    VT_EXPECT_RC(munlock_(&vt, BASE, 8 * PG), 0);
    VT_EXPECT_RC(munlockall_(&vt), 0);

    /* 4 pages, and a partial page that rounds down. */
    set_limit(&vt, 4 * PG + 100, true);
    VT_EXPECT_RC(mlock_(&vt, BASE, 3 * PG, 0), 0);
    /* Relocking counts only what is not locked yet. */
    VT_EXPECT_RC(mlock_(&vt, BASE, 4 * PG, 0), 0);
    VT_EXPECT_FAILS(&vt, vmar_mlock(vt.space, BASE + 4 * PG, PG, 0),
                    VMAR_ENOMEM);
    VT_EXPECT_FAILS(&vt, vmar_mlock(vt.space, BASE + 2 * PG, 3 * PG, 0),
                    VMAR_ENOMEM);
    VT_EXPECT_FAILS(&vt,
                    vt_map(&vt, BASE + 16 * PG, PG, RW, FIXED, LOCKED, NULL),
                    VMAR_EAGAIN);
    /* An overwrite is charged whole, as Linux's mlock_future_ok(). */
    VT_EXPECT_FAILS(&vt, vt_map(&vt, BASE, PG, RW, FIXED, LOCKED, NULL),
                    VMAR_EAGAIN);
    VT_EXPECT_FAILS(&vt, vmar_mlockall(vt.space, VMAR_MLOCKALL_CURRENT),
                    VMAR_ENOMEM);
    /* Growth of a locked mapping: in place and by a move. */
    VT_EXPECT_FAILS(&vt, vmar_remap(vt.space, BASE, 4 * PG, 5 * PG, 0, 0, &at),
                    VMAR_EAGAIN);
    VT_EXPECT_FAILS(
        &vt,
        vmar_remap(vt.space, BASE, 4 * PG, 5 * PG, VMAR_REMAP_MAYMOVE, 0, &at),
        VMAR_EAGAIN);
    VT_EXPECT_FAILS(&vt, vmar_resize(vt.space, BASE, 4 * PG, 5 * PG),
                    VMAR_EAGAIN);
    /* FUTURE is accepted: only new mappings are checked. */
    VT_EXPECT_RC(mlockall_(&vt, VMAR_MLOCKALL_FUTURE), 0);
    VT_EXPECT_FAILS(&vt, vt_map(&vt, BASE + 16 * PG, PG, RW, FIXED, 0, NULL),
                    VMAR_EAGAIN);
    /* Device memory is never locked, but the check runs first. */
    VT_EXPECT_RC(munlockall_(&vt), 0);
    assert_int_equal(locked(&vt), 0);

    /* A locked stack grows only within the limit. */
    set_limit(&vt, 2 * PG, true);
    vt_map_fixed(&vt, BASE + 64 * PG, 1, RW,
                 VMAR_MAP_GROWSDOWN | VMAR_MAP_LOCKED);
    assert_int_equal(locked(&vt), PG);
    VT_EXPECT_RC(vmar_fault(vt.space, BASE + 63 * PG, VMAR_ACCESS_WRITE,
                            VMAR_FAULT_EXCLUSIVE),
                 0);
    VT_CHECK(&vt);
    assert_int_equal(locked(&vt), 2 * PG);
    VT_EXPECT_RC(vmar_fault(vt.space, BASE + 62 * PG, VMAR_ACCESS_WRITE,
                            VMAR_FAULT_EXCLUSIVE),
                 VMAR_ENOENT);
    VT_CHECK(&vt);

    /* The capability: no limit. Lowering keeps what is locked. */
    set_limit(&vt, 0, false);
    VT_EXPECT_RC(mlock_(&vt, BASE, 8 * PG, 0), 0);
    VT_EXPECT_RC(vmar_fault(vt.space, BASE + 62 * PG, VMAR_ACCESS_WRITE,
                            VMAR_FAULT_EXCLUSIVE),
                 0);
    VT_CHECK(&vt);
    assert_int_equal(locked(&vt), 11 * PG);
    set_limit(&vt, PG, true);
    assert_int_equal(locked(&vt), 11 * PG);
    VT_EXPECT_FAILS(&vt, vmar_mlock(vt.space, BASE + 16 * PG, PG, 0),
                    VMAR_ENOMEM);
    /* Even a lock that adds nothing: Linux compares locked_vm itself. */
    VT_EXPECT_FAILS(&vt, vmar_mlock(vt.space, BASE, 8 * PG, 0), VMAR_ENOMEM);
    VT_EXPECT_RC(munlock_(&vt, BASE, 8 * PG), 0);
    vt_teardown(&vt);
}

/* mlockall: CURRENT locks every mapping but device memory and merges
 * what it can; FUTURE locks new ones (populated, or on fault); CURRENT
 * alone ends FUTURE; munlockall ends both. */
static void test_mlockall(void **state)
{
    struct vt vt;
    vmar_addr_t at;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 4, RW, 0);
    VT_EXPECT_RC(mlock_(&vt, BASE + PG, PG, VMAR_MLOCK_ONFAULT), 0);
    vt_map_fixed(&vt, BASE + 8 * PG, 2, R, 0);
    assert_int_equal(count(&vt), 4);
    VT_EXPECT_RC(mlockall_(&vt, VMAR_MLOCKALL_CURRENT), 0);
    assert_int_equal(count(&vt), 2);
    assert_int_equal(locked(&vt), 6 * PG);
    assert_int_equal(resident(&vt, BASE, BASE + 10 * PG), 6 * PG);
    /* Not FUTURE: a new mapping is not locked. */
    vt_map_fixed(&vt, BASE + 16 * PG, 2, RW, 0);
    assert_int_equal(lock_at(&vt, BASE + 16 * PG), 0);

    VT_EXPECT_RC(mlockall_(&vt, VMAR_MLOCKALL_FUTURE), 0);
    VT_EXPECT_RC(vt_map(&vt, 0, 2 * PG, RW, VMAR_PLACE_ANY, 0, &at), 0);
    assert_int_equal(lock_at(&vt, at), LOCKED);
    assert_int_equal(resident(&vt, at, at + 2 * PG), 2 * PG);
    VT_EXPECT_RC(mlockall_(&vt, VMAR_MLOCKALL_FUTURE | VMAR_MLOCKALL_ONFAULT),
                 0);
    VT_EXPECT_RC(vt_map(&vt, 0, 2 * PG, RW, VMAR_PLACE_ANY, 0, &at), 0);
    assert_int_equal(lock_at(&vt, at), LOCKMASK);
    assert_int_equal(resident(&vt, at, at + 2 * PG), 0);
    /* MAP_LOCKED under FUTURE | ONFAULT locks on fault too. */
    VT_EXPECT_RC(vt_map(&vt, 0, 2 * PG, RW, VMAR_PLACE_ANY, LOCKED, &at), 0);
    assert_int_equal(lock_at(&vt, at), LOCKMASK);
    /* CURRENT | ONFAULT turns every lock on fault; CURRENT alone ends
     * FUTURE. */
    VT_EXPECT_RC(mlockall_(&vt, VMAR_MLOCKALL_CURRENT | VMAR_MLOCKALL_ONFAULT),
                 0);
    assert_int_equal(lock_at(&vt, BASE), LOCKMASK);
    assert_int_equal(lock_at(&vt, BASE + 16 * PG), LOCKMASK);
    VT_EXPECT_RC(mlockall_(&vt, VMAR_MLOCKALL_CURRENT), 0);
    assert_int_equal(lock_at(&vt, BASE), LOCKED);
    VT_EXPECT_RC(vt_map(&vt, 0, 2 * PG, RW, VMAR_PLACE_ANY, 0, &at), 0);
    assert_int_equal(lock_at(&vt, at), 0);
    VT_EXPECT_RC(mlockall_(&vt, VMAR_MLOCKALL_CURRENT | VMAR_MLOCKALL_FUTURE),
                 0);
    VT_EXPECT_RC(munlockall_(&vt), 0);
    assert_int_equal(locked(&vt), 0);
    VT_EXPECT_RC(vt_map(&vt, 0, 2 * PG, RW, VMAR_PLACE_ANY, 0, &at), 0);
    assert_int_equal(lock_at(&vt, at), 0);
    vt_teardown(&vt);
}

/* The counter stays exact through every layout change (vmar_check
 * recomputes it after each step). */
static void test_counter_ops(void **state)
{
    struct vt vt;
    vmar_addr_t at;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 8, RW, LOCKED);
    assert_int_equal(locked(&vt), 8 * PG);
    assert_int_equal(resident(&vt, BASE, BASE + 8 * PG), 8 * PG);
    VT_EXPECT_RC(vt_unmap(&vt, BASE + 2 * PG, PG), 0);
    assert_int_equal(locked(&vt), 7 * PG);
    VT_EXPECT_RC(vt_map(&vt, BASE + 3 * PG, 2 * PG, RW, FIXED, 0, NULL), 0);
    assert_int_equal(locked(&vt), 5 * PG);
    VT_EXPECT_RC(vt_protect(&vt, BASE + 5 * PG, PG, R), 0);
    assert_int_equal(count(&vt), 4);
    assert_int_equal(locked(&vt), 5 * PG);
    VT_EXPECT_RC(vt_protect(&vt, BASE + 5 * PG, PG, RW), 0);
    assert_int_equal(count(&vt), 3);
    /* remap: grow in place, shrink, move, DONTUNMAP. */
    VT_EXPECT_RC(vmar_remap(vt.space, BASE + 5 * PG, 3 * PG, 5 * PG, 0, 0, &at),
                 0);
    VT_CHECK(&vt);
    assert_int_equal(locked(&vt), 7 * PG);
    assert_int_equal(resident(&vt, BASE + 5 * PG, BASE + 10 * PG), 5 * PG);
    VT_EXPECT_RC(vmar_remap(vt.space, BASE + 5 * PG, 5 * PG, 4 * PG, 0, 0, &at),
                 0);
    VT_CHECK(&vt);
    assert_int_equal(locked(&vt), 6 * PG);
    VT_EXPECT_RC(vmar_remap(vt.space, BASE + 5 * PG, 4 * PG, 6 * PG,
                            VMAR_REMAP_MAYMOVE | VMAR_REMAP_FIXED,
                            BASE + 32 * PG, &at),
                 0);
    VT_CHECK(&vt);
    assert_int_equal(locked(&vt), 8 * PG);
    assert_int_equal(lock_at(&vt, BASE + 32 * PG), LOCKED);
    assert_int_equal(resident(&vt, BASE + 32 * PG, BASE + 38 * PG), 6 * PG);
    VT_EXPECT_RC(
        vmar_remap(vt.space, BASE + 32 * PG, 2 * PG, 2 * PG,
                   VMAR_REMAP_MAYMOVE | VMAR_REMAP_DONTUNMAP | VMAR_REMAP_FIXED,
                   BASE + 48 * PG, &at),
        0);
    VT_CHECK(&vt);
    assert_int_equal(lock_at(&vt, BASE + 32 * PG), 0);
    assert_int_equal(lock_at(&vt, BASE + 48 * PG), LOCKED);
    assert_int_equal(locked(&vt), 8 * PG);
    VT_EXPECT_RC(vmar_resize(vt.space, BASE + 48 * PG, 2 * PG, 3 * PG), 0);
    VT_CHECK(&vt);
    assert_int_equal(locked(&vt), 9 * PG);
    assert_int_equal(resident(&vt, BASE + 48 * PG, BASE + 51 * PG), 3 * PG);
    VT_EXPECT_RC(vt_unmap(&vt, BASE, 64 * PG), 0);
    assert_int_equal(locked(&vt), 0);
    vt_teardown(&vt);
}

/* The child does not inherit locks or FUTURE; exec (clear) drops both. */
static void test_fork_clear(void **state)
{
    struct vt vt, child;
    vmar_addr_t at;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 4, RW, 0);
    vt_fill_pages(&vt, BASE, 4, 5);
    VT_EXPECT_RC(mlock_(&vt, BASE + PG, PG, 0), 0);
    VT_EXPECT_RC(mlockall_(&vt, VMAR_MLOCKALL_FUTURE), 0);
    vt_without_refdecoder(&vt);
    VT_EXPECT_RC(vt_fork(&vt, &child), 0);
    child.refcheck = false;
    assert_int_equal(count(&child), 1); /* merged again */
    assert_int_equal(locked(&child), 0);
    assert_int_equal(lock_at(&child, BASE + PG), 0);
    VT_EXPECT_PAGES(&child, BASE, 4, 5);
    VT_EXPECT_RC(vt_map(&child, 0, PG, RW, VMAR_PLACE_ANY, 0, &at), 0);
    assert_int_equal(lock_at(&child, at), 0);
    VT_EXPECT_RC(vmar_advise(child.space, BASE, 4 * PG, VMAR_ADVISE_DONTNEED),
                 0);
    VT_CHECK(&child);
    vt_child_destroy(&child);
    assert_int_equal(locked(&vt), PG);
    VT_EXPECT_RC(vmar_clear(vt.space), 0);
    VT_CHECK(&vt);
    assert_int_equal(locked(&vt), 0);
    VT_EXPECT_RC(vt_map(&vt, 0, PG, RW, VMAR_PLACE_ANY, 0, &at), 0);
    assert_int_equal(lock_at(&vt, at), 0);
    vt_teardown(&vt);
}

/* Bad input on every kind of mapping (private and shared anonymous,
 * private and shared object, device): VMAR_E* and nothing changed. */
static void test_bad_input(void **state)
{
    struct vt vt;
    struct vmar_space *ro;
    struct vmar_object *obj;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_without_refdecoder(&vt);
    assert_int_equal(vmar_memfd_create(vt.env, 2 * PG, &obj), 0);
    vt_map_fixed(&vt, BASE, 2, RW, 0);
    vt_map_fixed(&vt, BASE + 4 * PG, 2, RW, VMAR_MAP_SHARED);
    struct vmar_map_opts o = {.addr = BASE + 8 * PG,
                              .size = 2 * PG,
                              .prot = RW,
                              .place = FIXED,
                              .backing = VMAR_BACKING_OBJECT,
                              .object = obj};
    VT_EXPECT_RC(vt_map_opts(&vt, &o, NULL), 0);
    o.addr = BASE + 12 * PG;
    o.flags = VMAR_MAP_SHARED;
    VT_EXPECT_RC(vt_map_opts(&vt, &o, NULL), 0);
    vmar_paddr_t dev = vt_map_device_page(&vt, BASE + 16 * PG);
    const vmar_addr_t kinds[] = {BASE, BASE + 4 * PG, BASE + 8 * PG,
                                 BASE + 12 * PG, BASE + 16 * PG};
    assert_int_equal(
        vmar_space_dup(vt.space, VMAR_RIGHT_READ | VMAR_RIGHT_DUP, &ro), 0);
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        const vmar_addr_t a = kinds[i];
        VT_EXPECT_FAILS(&vt, vmar_mlock(vt.space, a, PG, 4), VMAR_EINVAL);
        VT_EXPECT_FAILS(&vt, vmar_mlock(vt.space, a + 1, PG, 0), VMAR_EINVAL);
        VT_EXPECT_FAILS(&vt, vmar_mlock(vt.space, a, PG + 1, 0), VMAR_EINVAL);
        VT_EXPECT_FAILS(&vt, vmar_mlock(vt.space, a, 0, 0), VMAR_EINVAL);
        VT_EXPECT_FAILS(&vt, vmar_munlock(vt.space, a, PG - 1), VMAR_EINVAL);
        VT_EXPECT_FAILS(&vt, vmar_mlock(vt.space, a, (vmar_size_t)0 - PG, 0),
                        VMAR_EINVAL);
        VT_EXPECT_FAILS(&vt, vmar_mlock(ro, a, PG, 0), VMAR_EACCES);
        VT_EXPECT_FAILS(&vt, vmar_munlock(ro, a, PG), VMAR_EACCES);
        /* A hole after it. */
        VT_EXPECT_FAILS(&vt, vmar_mlock(vt.space, a, 4 * PG, 0), VMAR_ENOMEM);
        VT_EXPECT_FAILS(&vt, vmar_munlock(vt.space, a, 4 * PG), VMAR_ENOMEM);
        /* LOCKONFAULT without LOCKED, over it. */
        struct vmar_map_opts bad = {.addr = a,
                                    .size = PG,
                                    .prot = RW,
                                    .place = FIXED,
                                    .flags = ONFAULT};
        VT_EXPECT_FAILS(&vt, vt_map_opts(&vt, &bad, NULL), VMAR_EINVAL);
    }
    VT_EXPECT_FAILS(&vt, vmar_mlock(NULL, BASE, PG, 0), VMAR_EINVAL);
    VT_EXPECT_FAILS(&vt, vmar_munlock(NULL, BASE, PG), VMAR_EINVAL);
    VT_EXPECT_FAILS(&vt, vmar_mlockall(vt.space, 0), VMAR_EINVAL);
    VT_EXPECT_FAILS(&vt, vmar_mlockall(vt.space, VMAR_MLOCKALL_ONFAULT),
                    VMAR_EINVAL);
    VT_EXPECT_FAILS(&vt, vmar_mlockall(vt.space, 8), VMAR_EINVAL);
    VT_EXPECT_FAILS(&vt, vmar_mlockall(NULL, VMAR_MLOCKALL_CURRENT),
                    VMAR_EINVAL);
    VT_EXPECT_FAILS(&vt, vmar_mlockall(ro, VMAR_MLOCKALL_CURRENT), VMAR_EACCES);
    VT_EXPECT_FAILS(&vt, vmar_munlockall(ro), VMAR_EACCES);
    VT_EXPECT_FAILS(&vt, vmar_munlockall(NULL), VMAR_EINVAL);
    vmar_space_destroy(ro);
    /* The count limit: a cut that would pass it, locking or unlocking. */
    vmar_set_limits(vt.space, 0, count(&vt));
    VT_EXPECT_FAILS(&vt, vmar_mlock(vt.space, BASE, PG, 0), VMAR_ENOMEM);
    VT_EXPECT_RC(mlock_(&vt, BASE, 2 * PG, 0), 0);
    VT_EXPECT_FAILS(&vt, vmar_munlock(vt.space, BASE + PG, PG), VMAR_ENOMEM);
    vmar_set_limits(vt.space, 0, 0);
    VT_EXPECT_RC(munlock_(&vt, BASE, 2 * PG), 0);
    /* Each kind locks (device memory passes over), then unlocks. */
    VT_EXPECT_RC(mlock_(&vt, BASE, 17 * PG, VMAR_MLOCK_ONFAULT), VMAR_ENOMEM);
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        VT_EXPECT_RC(mlock_(&vt, kinds[i], PG, 0), 0);
    assert_int_equal(locked(&vt), 4 * PG);
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        VT_EXPECT_RC(munlock_(&vt, kinds[i], PG), 0);
    assert_int_equal(locked(&vt), 0);
    vmar_object_unref(obj);
    VT_EXPECT_RC(vt_unmap(&vt, BASE + 16 * PG, PG), 0);
    vt.env->frame_free(vt.env->ctx, dev);
    vt_teardown(&vt);
}

struct range_arg {
    vmar_addr_t addr;
    vmar_size_t size;
    unsigned flags;
};

static int op_mlock_onfault(struct vt *vt, void *arg)
{
    const struct range_arg *a = arg;

    return vmar_mlock(vt->space, a->addr, a->size, VMAR_MLOCK_ONFAULT);
}

static int op_munlock(struct vt *vt, void *arg)
{
    const struct range_arg *a = arg;

    return vmar_munlock(vt->space, a->addr, a->size);
}

static int op_map_locked(struct vt *vt, void *arg)
{
    const struct range_arg *a = arg;

    return vt_map(vt, a->addr, a->size, RW, FIXED, a->flags, NULL);
}

/* Every allocation of the lock itself (cut nodes, index nodes) and of a
 * locked map (its frames): VMAR_ENOMEM, the space unchanged. A failing
 * population after the lock: VMAR_EAGAIN, the range locked, the pages
 * before it populated, everything consistent. */
static void test_oom_sweep(void **state)
{
    struct vt vt;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 8, RW, 0);
    vt_fill_pages(&vt, BASE, 8, 11);
    struct range_arg a = {BASE + 2 * PG, 3 * PG, 0};
    assert_true(vt_fail_each_allocation(&vt, op_mlock_onfault, &a) >= 2);
    VT_CHECK(&vt);
    assert_int_equal(count(&vt), 3);
    struct range_arg b = {BASE + 3 * PG, PG, 0};
    assert_true(vt_fail_each_allocation(&vt, op_munlock, &b) >= 2);
    VT_CHECK(&vt);
    assert_int_equal(count(&vt), 5);
    VT_EXPECT_PAGES(&vt, BASE, 8, 11);
    struct range_arg c = {BASE + 16 * PG, 4 * PG, LOCKED};
    assert_true(vt_fail_each_allocation(&vt, op_map_locked, &c) >= 4);
    VT_CHECK(&vt);
    assert_int_equal(resident(&vt, BASE + 16 * PG, BASE + 20 * PG), 4 * PG);

    /* Population: the n-th data frame fails. */
    for (size_t n = 1; n <= 4; n++) {
        const vmar_addr_t at = BASE + 32 * PG;
        vt_map_fixed(&vt, at, 4, RW, 0);
        vmar_sim_fail_after(vt.sim, n, VMAR_SIM_FAIL_DATA, false);
        VT_EXPECT_RC(mlock_(&vt, at, 4 * PG, 0), VMAR_EAGAIN);
        vmar_sim_fail_after(vt.sim, 0, 0, false);
        assert_int_equal(lock_at(&vt, at), LOCKED);
        assert_int_equal(resident(&vt, at, at + 4 * PG), (n - 1) * PG);
        VT_EXPECT_RC(vt_unmap(&vt, at, 4 * PG), 0);
    }
    vt_teardown(&vt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_merge),
        cmocka_unit_test(test_populate_kinds),
        cmocka_unit_test(test_nopopulate),
        cmocka_unit_test(test_dontneed_refused),
        cmocka_unit_test(test_limit),
        cmocka_unit_test(test_mlockall),
        cmocka_unit_test(test_counter_ops),
        cmocka_unit_test(test_fork_clear),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_oom_sweep),
    };

    fprintf(stderr, "backend: %s\n", vt_backend()->name);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
