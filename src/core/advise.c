/* SPDX-License-Identifier: MIT */
/*
 * vmar_advise() (madvise): drop pages, or set per-mapping hints; and
 * vmar_inherit() (minherit), which sets the fork flags the same way.
 *
 * Like vmar_protect(), the whole range is checked before anything
 * changes; hint changes cut mappings at the range's ends and merge
 * afterwards, so a hint set and cleared again leaves one mapping.
 */
#include "fault.h"
#include "mapping.h"

/* The kinds of memory that refuse each advice with EINVAL, after Linux's
 * madvise (mm/madvise.c, checked on Linux 6.18): device memory stands
 * for a PFN mapping (VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP, as
 * remap_pfn_range() makes it), object memory for one with a vm_file. */
#define DEV VMAR__KIND_DEVICE
#define NOT_PRIVATE_ANON                                                       \
    (VMAR__KIND_DEVICE | VMAR__KIND_PRIVATE_OBJ | VMAR__KIND_SHARED)

/* Flag advice: the kept flags to clear and set, refused where Linux
 * refuses it. */
static void flag_change(struct vmar__attr_change *c, unsigned clear,
                        unsigned set, unsigned einval)
{
    c->clear = clear;
    c->set = set;
    c->einval = einval;
}

/* The change `advice` makes: hints are kept flags to clear and set,
 * dropping unmaps the pages (REMOVE also punches the object), WILLNEED,
 * COLD and PAGEOUT only check the range (there is no backing store to
 * read ahead from and no reclaim to tell). False for unknown advice. */
static bool advice_change(int advice, struct vmar__attr_change *c)
{
    const unsigned seq = VMAR_MAP_SEQUENTIAL, rnd = VMAR_MAP_RANDOM;
    const unsigned huge = VMAR_MAP_HUGEPAGE, nohuge = VMAR_MAP_NOHUGEPAGE;

    *c = (struct vmar__attr_change){.kind = VMAR_ATTR_FLAGS};
    switch (advice) {
    case VMAR_ADVISE_NORMAL:
        flag_change(c, seq | rnd, 0, 0);
        return true;
    case VMAR_ADVISE_RANDOM:
        flag_change(c, seq, rnd, 0);
        return true;
    case VMAR_ADVISE_SEQUENTIAL:
        flag_change(c, rnd, seq, 0);
        return true;
    case VMAR_ADVISE_DONTFORK:
        flag_change(c, 0, VMAR_MAP_DONTFORK, 0);
        c->discard = true;
        return true;
    case VMAR_ADVISE_DOFORK: /* Linux: EINVAL on VM_IO */
        flag_change(c, VMAR_MAP_DONTFORK, 0, DEV);
        return true;
    case VMAR_ADVISE_WIPEONFORK: /* Linux: EINVAL with a vm_file or shared */
        flag_change(c, 0, VMAR_MAP_WIPEONFORK, NOT_PRIVATE_ANON);
        c->discard = true;
        return true;
    case VMAR_ADVISE_KEEPONFORK:
        flag_change(c, VMAR_MAP_WIPEONFORK, 0, 0);
        return true;
    case VMAR_ADVISE_DONTDUMP:
        flag_change(c, 0, VMAR_MAP_DONTDUMP, 0);
        return true;
    case VMAR_ADVISE_DODUMP: /* Linux: EINVAL on VM_SPECIAL */
        flag_change(c, VMAR_MAP_DONTDUMP, 0, DEV);
        return true;
    case VMAR_ADVISE_HUGEPAGE: /* Linux: EINVAL on VM_SPECIAL */
        flag_change(c, nohuge, huge, DEV);
        return true;
    case VMAR_ADVISE_NOHUGEPAGE:
        flag_change(c, huge, nohuge, DEV);
        return true;
    case VMAR_ADVISE_DONTNEED: /* Linux: EINVAL on VM_PFNMAP, VM_LOCKED */
    case VMAR_ADVISE_FREE:     /* ... and on anything but anonymous memory */
        c->kind = VMAR_ATTR_DROP;
        c->discard = true;
        c->einval = VMAR__KIND_LOCKED |
                    (advice == VMAR_ADVISE_FREE ? NOT_PRIVATE_ANON : DEV);
        return true;
    case VMAR_ADVISE_REMOVE:
        /* madvise_remove(): VM_LOCKED or no vm_file is EINVAL, a mapping that
         * is not shared and may-write EACCES, a file without hole punching
         * EOPNOTSUPP. */
        c->kind = VMAR_ATTR_DROP;
        c->discard = true;
        c->punch = true;
        c->einval = DEV | VMAR__KIND_PRIVATE_ANON | VMAR__KIND_LOCKED;
        c->eacces = VMAR__KIND_PRIVATE_OBJ | VMAR__KIND_SHARED_NOWRITE;
        return true;
    case VMAR_ADVISE_WILLNEED:
        c->kind = VMAR_ATTR_CHECK;
        return true;
    case VMAR_ADVISE_COLD: /* Linux: EINVAL unless can_madv_lru_vma() */
    case VMAR_ADVISE_PAGEOUT:
        c->kind = VMAR_ATTR_CHECK;
        c->einval = DEV | VMAR__KIND_LOCKED;
        return true;
    case VMAR_ADVISE_GUARD_INSTALL:
        /* Drops the pages: discarding, as DONTNEED. Linux: EINVAL on
         * VM_SPECIAL and VM_LOCKED. */
        c->kind = VMAR_ATTR_GUARD_INSTALL;
        c->discard = true;
        c->einval = DEV | VMAR__KIND_LOCKED;
        return true;
    case VMAR_ADVISE_GUARD_REMOVE: /* Linux: EINVAL on VM_SPECIAL */
        c->kind = VMAR_ATTR_GUARD_REMOVE;
        c->einval = DEV;
        return true;
    default:
        return false;
    }
}

/* The change vmar_inherit() makes (vmar.h, vmar_inherit). */
static bool inherit_change(int inherit, struct vmar__attr_change *c)
{
    const unsigned both = VMAR_MAP_DONTFORK | VMAR_MAP_WIPEONFORK;

    *c = (struct vmar__attr_change){.kind = VMAR_ATTR_FLAGS};
    switch (inherit) {
    case VMAR_INHERIT_SHARE:
        flag_change(c, both, 0,
                    VMAR__KIND_PRIVATE_ANON | VMAR__KIND_PRIVATE_OBJ);
        return true;
    case VMAR_INHERIT_COPY:
        flag_change(c, both, 0, DEV | VMAR__KIND_SHARED);
        return true;
    case VMAR_INHERIT_NONE:
        flag_change(c, VMAR_MAP_WIPEONFORK, VMAR_MAP_DONTFORK, 0);
        c->discard = true;
        return true;
    case VMAR_INHERIT_ZERO:
        flag_change(c, VMAR_MAP_DONTFORK, VMAR_MAP_WIPEONFORK,
                    NOT_PRIVATE_ANON);
        c->discard = true;
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

/* Check the range and make the change `c` (NULL: an unknown value, EINVAL
 * once the range is found good); dropping needs the WRITE right. */
static int attr_apply(struct vmar_space *h, vmar_addr_t addr, vmar_size_t size,
                      const struct vmar__attr_change *c)
{
    struct vmar_space *space = vmar__base(h);
    if (!space)
        return VMAR_EINVAL;
    vmar__lock_layout(space);
    int rc = vmar__check_range(space, addr, size);
    if (!rc && !c)
        rc = VMAR_EINVAL;
    if (!rc &&
        (c->kind == VMAR_ATTR_GUARD_INSTALL ||
         c->kind == VMAR_ATTR_GUARD_REMOVE) &&
        !vmar__pmap_has_guard(space))
        rc = VMAR_ENOTSUP;
    /* Dropping pages zeroes private memory, as vmar_fill_zero() would;
     * hints change no contents. A marker drops the page under it. */
    if (!rc &&
        (c->kind == VMAR_ATTR_DROP || c->kind == VMAR_ATTR_GUARD_INSTALL))
        rc = vmar__check_rights(h, VMAR_RIGHT_WRITE);
    if (!rc)
        rc = vmar__attr_change(space, addr, addr + size, c);
    vmar__unlock(space, VMAR_LOCK_EXCLUSIVE);
    return rc;
}

int vmar_advise(struct vmar_space *h, vmar_addr_t addr, vmar_size_t size,
                int advice)
{
    struct vmar__attr_change c;

    if (!vmar__base(h))
        return VMAR_EINVAL;
    if (advice == VMAR_ADVISE_POPULATE_READ ||
        advice == VMAR_ADVISE_POPULATE_WRITE)
        return advise_populate(h, addr, size, advice);
    return attr_apply(h, addr, size, advice_change(advice, &c) ? &c : NULL);
}

int vmar_inherit(struct vmar_space *h, vmar_addr_t addr, vmar_size_t size,
                 int inherit)
{
    struct vmar__attr_change c;

    return attr_apply(h, addr, size, inherit_change(inherit, &c) ? &c : NULL);
}
