/* SPDX-License-Identifier: MIT */
/*
 * Locking memory (Linux's mlock, mlock2, munlock, mlockall, munlockall)
 * and the lock limit.
 *
 * A lock is the kept flag VMAR_MAP_LOCKED (and VMAR_MAP_LOCKONFAULT for
 * on-fault locking), changed over a range like any flag
 * (vmar__attr_change), so mappings are cut at the range's ends and merge
 * afterwards. The space counts the bytes of locked mappings in
 * locked_vm (Linux's locked_vm, VmLck): every change of a mapping's
 * extent or lock flags adjusts it (vmar__locked_add), and vmar_check
 * recomputes it.
 *
 * The order is Linux's: the flags change under the exclusive lock, then
 * the range is populated under the shared lock, mapping by mapping
 * (__mm_populate). A population error is reported with the range locked;
 * a locked range refuses DONTNEED and FREE, so what was populated stays.
 *
 * The limit is RLIMIT_MEMLOCK for a process without CAP_IPC_LOCK: the
 * capability is `mlock_limited` false, which lifts every check (Linux's
 * capable(CAP_IPC_LOCK) in can_do_mlock(), mlock and mlock_future_ok()).
 */
#include "fault.h"
#include "mapping.h"

/* Bytes of [lo, hi) that locked mappings cover (Linux's
 * count_mm_mlocked_page_nr()).
 * => caller holds the space lock. */
static vmar_size_t locked_in(const struct vmar_space *space, vmar_addr_t lo,
                             vmar_addr_t hi)
{
    vmar_size_t bytes = 0;

    for (struct vmar__mapping *m = vmar__mapping_first_in(space, lo, hi); m;
         m = vmar__mapping_next_in(m, hi))
        if (vmar__mapping_locked(m))
            bytes += VMAR_MIN(m->node.end, hi) - VMAR_MAX(m->node.start, lo);
    return bytes;
}

/* Set (`set`: VMAR_MAP_LOCKED, with VMAR_MAP_LOCKONFAULT or not) or
 * clear (`set` 0) the lock flags of [lo, hi).
 * => caller holds the space lock exclusively (vmar__lock_layout). */
static int lock_range(struct vmar_space *space, vmar_addr_t lo, vmar_addr_t hi,
                      unsigned set)
{
    return vmar__attr_change(space, lo, hi,
                             &(struct vmar__attr_change){
                                 .kind = VMAR_ATTR_FLAGS,
                                 .clear = VMAR_MAPPING_LOCK_FLAGS,
                                 .set = set,
                                 .lock = true,
                             });
}

int vmar_mlock(struct vmar_space *h, vmar_addr_t addr, vmar_size_t size,
               unsigned flags)
{
    struct vmar_space *space = vmar__base(h);
    const unsigned set =
        VMAR_MAP_LOCKED |
        (flags & VMAR_MLOCK_ONFAULT ? (unsigned)VMAR_MAP_LOCKONFAULT : 0u);

    if (!space ||
        flags & ~(unsigned)(VMAR_MLOCK_ONFAULT | VMAR_MLOCK_NOPOPULATE))
        return VMAR_EINVAL;
    int rc = vmar__check_rights(h, VMAR_RIGHT_WRITE);
    if (rc)
        return rc;
    vmar__lock_layout(space);
    rc = vmar__check_mlock_allowed(space);
    if (!rc)
        rc = vmar__check_range(space, addr, size);
    /* What the range adds to locked_vm (the locked part is charged
     * already), holes and device memory included, as Linux counts. */
    if (!rc &&
        !vmar__mlock_fits(space, size - locked_in(space, addr, addr + size)))
        rc = VMAR_ENOMEM;
    if (!rc)
        rc = lock_range(space, addr, addr + size, set);
    vmar__unlock(space, VMAR_LOCK_EXCLUSIVE);
    if (!rc && !(flags & (VMAR_MLOCK_ONFAULT | VMAR_MLOCK_NOPOPULATE)))
        rc = vmar__populate_locked(space, addr, addr + size, false);
    return rc;
}

int vmar_mlock_populate(struct vmar_space *h, vmar_addr_t addr,
                        vmar_size_t size)
{
    struct vmar_space *space = vmar__base(h);

    if (!space)
        return VMAR_EINVAL;
    int rc = vmar__check_range(space, addr, size);
    if (!rc)
        rc = vmar__check_rights(h, VMAR_RIGHT_WRITE);
    return rc ? rc : vmar__populate_locked(space, addr, addr + size, false);
}

int vmar_munlock(struct vmar_space *h, vmar_addr_t addr, vmar_size_t size)
{
    struct vmar_space *space = vmar__base(h);

    if (!space)
        return VMAR_EINVAL;
    int rc = vmar__check_rights(h, VMAR_RIGHT_WRITE);
    if (rc)
        return rc;
    vmar__lock_layout(space);
    rc = vmar__check_range(space, addr, size);
    if (!rc)
        rc = lock_range(space, addr, addr + size, 0);
    vmar__unlock(space, VMAR_LOCK_EXCLUSIVE);
    return rc;
}

/* Linux's apply_mlockall_flags(): the future flags become what `flags`
 * says (none without FUTURE), and with CURRENT every mapping gets the
 * lock flags, without it every mapping loses them (munlockall).
 * => caller holds the space lock exclusively (vmar__lock). */
static void mlockall_apply(struct vmar_space *space, unsigned flags)
{
    const unsigned lock =
        VMAR_MAP_LOCKED |
        (flags & VMAR_MLOCKALL_ONFAULT ? (unsigned)VMAR_MAP_LOCKONFAULT : 0u);

    space->lock_future = flags & VMAR_MLOCKALL_FUTURE ? lock : 0u;
    if (flags & VMAR_MLOCKALL_FUTURE && !(flags & VMAR_MLOCKALL_CURRENT))
        return;
    vmar__attr_change_all(space,
                          &(struct vmar__attr_change){
                              .kind = VMAR_ATTR_FLAGS,
                              .clear = VMAR_MAPPING_LOCK_FLAGS,
                              .set = flags & VMAR_MLOCKALL_CURRENT ? lock : 0u,
                              .lock = true,
                          });
}

int vmar_mlockall(struct vmar_space *h, unsigned flags)
{
    struct vmar_space *space = vmar__base(h);
    const unsigned known =
        VMAR_MLOCKALL_CURRENT | VMAR_MLOCKALL_FUTURE | VMAR_MLOCKALL_ONFAULT;

    if (!space || !flags || flags & ~known || flags == VMAR_MLOCKALL_ONFAULT)
        return VMAR_EINVAL;
    int rc = vmar__check_rights(h, VMAR_RIGHT_WRITE);
    if (rc)
        return rc;
    vmar__lock(space, VMAR_LOCK_EXCLUSIVE);
    rc = vmar__check_mlock_allowed(space);
    /* Linux compares the whole space, not what would be added. */
    if (!rc && flags & VMAR_MLOCKALL_CURRENT && space->mlock_limited &&
        space->total_vm >> VMAR_PAGE_SHIFT > space->mlock_limit >>
            VMAR_PAGE_SHIFT)
        rc = VMAR_ENOMEM;
    if (!rc)
        mlockall_apply(space, flags);
    vmar__unlock(space, VMAR_LOCK_EXCLUSIVE);
    if (!rc && flags & VMAR_MLOCKALL_CURRENT)
        (void)vmar__populate_locked(space, space->user_lo, space->user_hi,
                                    true);
    return rc;
}

int vmar_munlockall(struct vmar_space *h)
{
    struct vmar_space *space = vmar__base(h);

    if (!space)
        return VMAR_EINVAL;
    int rc = vmar__check_rights(h, VMAR_RIGHT_WRITE);
    if (rc)
        return rc;
    vmar__lock(space, VMAR_LOCK_EXCLUSIVE);
    mlockall_apply(space, 0);
    vmar__unlock(space, VMAR_LOCK_EXCLUSIVE);
    return 0;
}

void vmar_set_mlock_limit(struct vmar_space *h, vmar_size_t limit, bool limited)
{
    struct vmar_space *space = h->base;

    vmar__lock(space, VMAR_LOCK_EXCLUSIVE);
    space->mlock_limit = limit;
    space->mlock_limited = limited;
    vmar__unlock(space, VMAR_LOCK_EXCLUSIVE);
}
