/* SPDX-License-Identifier: MIT */
/*
 * vmar_advise() (madvise): drop pages, or set per-mapping hints.
 *
 * Like vmar_protect(), the whole range is checked before anything
 * changes; hint changes cut mappings at the range's ends and merge
 * afterwards, so a hint set and cleared again leaves one mapping.
 */
#include "fault.h"
#include "mapping.h"

/* The change `advice` makes: hints are kept flags to clear and set,
 * dropping unmaps the pages, WILLNEED only checks the range (there is no
 * backing store to read ahead from). False for unknown advice. */
static bool advice_change(int advice, struct vmar__attr_change *c)
{
    const unsigned seq = VMAR_MAP_SEQUENTIAL, rnd = VMAR_MAP_RANDOM;

    *c = (struct vmar__attr_change){.kind = VMAR_ATTR_FLAGS};
    switch (advice) {
    case VMAR_ADVISE_NORMAL:
        c->clear = seq | rnd;
        return true;
    case VMAR_ADVISE_RANDOM:
        c->clear = seq;
        c->set = rnd;
        return true;
    case VMAR_ADVISE_SEQUENTIAL:
        c->clear = rnd;
        c->set = seq;
        return true;
    case VMAR_ADVISE_DONTFORK:
        c->set = VMAR_MAP_DONTFORK;
        c->discard = true;
        return true;
    case VMAR_ADVISE_DOFORK:
        c->clear = VMAR_MAP_DONTFORK;
        return true;
    case VMAR_ADVISE_DONTNEED:
    case VMAR_ADVISE_FREE:
        c->kind = VMAR_ATTR_DROP;
        c->discard = true;
        return true;
    case VMAR_ADVISE_WILLNEED:
        c->kind = VMAR_ATTR_CHECK;
        return true;
    default:
        return false;
    }
}

/* POPULATE_READ / _WRITE: faults, not a layout change, so under the
 * space lock shared as vmar_fault()'s (vmar__populate), with the
 * access's right as vmar_fault() asks. */
static int advise_populate(struct vmar_space *h, vmar_addr_t addr,
                           vmar_size_t size, int advice)
{
    struct vmar_space *space = vmar__base(h);
    const unsigned access = advice == VMAR_ADVISE_POPULATE_WRITE
                                ? VMAR_ACCESS_WRITE
                                : VMAR_ACCESS_READ;
    int rc = vmar__check_range(space, addr, size);

    if (!rc)
        rc = vmar__check_rights(h, vmar_access_prot(access));
    return rc ? rc : vmar__populate(space, addr, addr + size, access);
}

int vmar_advise(struct vmar_space *h, vmar_addr_t addr, vmar_size_t size,
                int advice)
{
    struct vmar_space *space = vmar__base(h);
    struct vmar__attr_change c;
    if (!space)
        return VMAR_EINVAL;
    if (advice == VMAR_ADVISE_POPULATE_READ ||
        advice == VMAR_ADVISE_POPULATE_WRITE)
        return advise_populate(h, addr, size, advice);
    vmar__lock_layout(space);
    int rc = vmar__check_range(space, addr, size);
    if (!rc && !advice_change(advice, &c))
        rc = VMAR_EINVAL;
    /* Dropping pages zeroes private memory, as vmar_fill_zero() would;
     * hints change no contents. */
    if (!rc && c.kind == VMAR_ATTR_DROP)
        rc = vmar__check_rights(h, VMAR_RIGHT_WRITE);
    if (!rc)
        rc = vmar__attr_change(space, addr, addr + size, &c);
    vmar__unlock(space, VMAR_LOCK_EXCLUSIVE);
    return rc;
}
