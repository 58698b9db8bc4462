/* SPDX-License-Identifier: MIT */
/* The argument, rights and limit checks every entry point shares. */
#include "space.h"

/* map, protect and vmar_fault ask for rights by permission bits. */
_Static_assert((unsigned)VMAR_RIGHT_READ == (unsigned)VMAR_PROT_READ &&
                   (unsigned)VMAR_RIGHT_WRITE == (unsigned)VMAR_PROT_WRITE &&
                   (unsigned)VMAR_RIGHT_EXEC == (unsigned)VMAR_PROT_EXEC,
               "vmar_rights and vmar_prot bits differ");

int vmar__check_rights(const struct vmar_space *h, unsigned need)
{
    return need & ~h->rights ? VMAR_EACCES : 0;
}

int vmar__check_growth(const struct vmar_space *space, vmar_size_t added,
                       size_t count)
{
    if (space->as_limit && added &&
        (space->total_vm > space->as_limit ||
         added > space->as_limit - space->total_vm))
        return VMAR_ENOMEM;
    if (count > space->max_map_count && count > space->set.count)
        return VMAR_ENOMEM;
    return 0;
}

int vmar__check_mlock_allowed(const struct vmar_space *space)
{
    return space->mlock_limited && space->mlock_limit == 0 ? VMAR_EPERM : 0;
}

bool vmar__mlock_fits(const struct vmar_space *space, vmar_size_t bytes)
{
    const vmar_size_t limit = space->mlock_limit >> VMAR_PAGE_SHIFT;
    const vmar_size_t locked = space->locked_vm >> VMAR_PAGE_SHIFT;
    const vmar_size_t more = (bytes + VMAR_PAGE_SIZE - 1) >> VMAR_PAGE_SHIFT;

    return !space->mlock_limited || (locked <= limit && more <= limit - locked);
}

int vmar__check_range(const struct vmar_space *space, vmar_addr_t addr,
                      vmar_size_t size)
{
    if (size == 0 || (addr | size) & (VMAR_PAGE_SIZE - 1))
        return VMAR_EINVAL;
    if (addr < space->user_lo || addr > space->user_hi ||
        size > space->user_hi - addr)
        return VMAR_EINVAL;
    return 0;
}
