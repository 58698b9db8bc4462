/* SPDX-License-Identifier: MIT */
/*
 * vmar_advise() (madvise): drop pages, or set per-mapping hints.
 *
 * Like vmar_protect(), the whole range is checked before anything
 * changes; hint changes cut mappings at the range's ends and merge
 * afterwards, so a hint set and cleared again leaves one mapping.
 */
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
        return true;
    case VMAR_ADVISE_DOFORK:
        c->clear = VMAR_MAP_DONTFORK;
        return true;
    case VMAR_ADVISE_DONTNEED:
    case VMAR_ADVISE_FREE:
        c->kind = VMAR_ATTR_DROP;
        return true;
    case VMAR_ADVISE_WILLNEED:
        c->kind = VMAR_ATTR_CHECK;
        return true;
    default:
        return false;
    }
}

int vmar_advise(struct vmar_space *h, vmar_addr_t addr, vmar_size_t size,
                int advice)
{
    struct vmar_space *space = vmar__base(h);
    struct vmar__attr_change c;
    if (!space)
        return VMAR_EINVAL;
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
