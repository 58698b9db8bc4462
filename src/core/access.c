/* SPDX-License-Identifier: MIT */
/*
 * copy_from_user / copy_to_user / clear_user for any space.
 *
 * Each page is translated, faulted in if needed, and copied while the
 * space lock is held, so that an unmap on another thread cannot free the
 * frame in the middle of the copy. The copy goes through env->phys_to_virt;
 * the target space need not be the one the CPU runs.
 */
#include "fault.h"
#include "frame.h"

enum copy_dir {
    COPY_IN,
    COPY_OUT,
    COPY_ZERO
};

struct copy_job {
    enum copy_dir dir;
    unsigned char *kbuf; /* kernel buffer (NULL for COPY_ZERO) */
    const unsigned char *ksrc;
    unsigned flags; /* vmar_rw_flags */
};

/* Copy the part of one page that [va, va+n) covers.
 * => caller holds the space lock, shared or exclusive, not the
 *    page-table lock. */
static int copy_page(struct vmar_space *space, vmar_addr_t va, size_t n,
                     struct copy_job *job, size_t off)
{
    struct vmar_pte pte;
    unsigned access =
        (job->dir == COPY_IN ? VMAR_ACCESS_READ : VMAR_ACCESS_WRITE) |
        (job->flags & VMAR_RW_FORCE ? VMAR__ACCESS_FORCE : 0u);
    int rc = vmar__fault_pin(space, va, access, &pte);

    if (rc)
        return rc == VMAR_ENOMEM ? VMAR_ENOMEM : VMAR_EFAULT;
    unsigned char *page = space->env->phys_to_virt(space->env->ctx, pte.pa);
    unsigned char *p = page + (va & (VMAR_PAGE_SIZE - 1));
    switch (job->dir) {
    case COPY_IN:
        VMAR_MEMCPY(job->kbuf + off, p, n);
        break;
    case COPY_OUT:
        VMAR_MEMCPY(p, job->ksrc + off, n);
        break;
    case COPY_ZERO:
        VMAR_MEMSET(p, 0, n);
        break;
    }
    if (space->env->frame_refcount)
        vmar__frame_unpin(space->env, pte.pa);
    return 0;
}

static int user_copy(struct vmar_space *h, vmar_addr_t addr, size_t len,
                     struct copy_job *job, size_t *done)
{
    struct vmar_space *space = vmar__base(h);
    size_t off = 0;
    int rc = 0;

    if (!space || addr + len < addr)
        rc = VMAR_EFAULT;
    else if (job->flags & ~(unsigned)VMAR_RW_FORCE)
        rc = VMAR_EINVAL;
    else
        rc = vmar__check_rights(h, job->dir == COPY_IN ? VMAR_RIGHT_READ
                                                       : VMAR_RIGHT_WRITE);
    while (!rc && off < len) {
        vmar_addr_t va = addr + off;
        size_t room = (size_t)(VMAR_PAGE_SIZE - (va & (VMAR_PAGE_SIZE - 1)));
        size_t n = VMAR_MIN(room, len - off);
        vmar__lock(space, VMAR_LOCK_SHARED);
        rc = copy_page(space, va, n, job, off);
        vmar__unlock(space, VMAR_LOCK_SHARED);
        if (!rc)
            off += n;
    }
    if (done)
        *done = off;
    return rc;
}

int vmar_read_flags(struct vmar_space *h, vmar_addr_t src, void *dst,
                    size_t len, unsigned flags, size_t *done)
{
    struct copy_job job = {COPY_IN, dst, NULL, flags};
    return user_copy(h, src, len, &job, done);
}

int vmar_write_flags(struct vmar_space *h, vmar_addr_t dst, const void *src,
                     size_t len, unsigned flags, size_t *done)
{
    struct copy_job job = {COPY_OUT, NULL, src, flags};
    return user_copy(h, dst, len, &job, done);
}

int vmar_read(struct vmar_space *h, vmar_addr_t src, void *dst, size_t len,
              size_t *done)
{
    return vmar_read_flags(h, src, dst, len, 0, done);
}

int vmar_write(struct vmar_space *h, vmar_addr_t dst, const void *src,
               size_t len, size_t *done)
{
    return vmar_write_flags(h, dst, src, len, 0, done);
}

int vmar_fill_zero(struct vmar_space *h, vmar_addr_t dst, size_t len,
                   size_t *done)
{
    struct copy_job job = {COPY_ZERO, NULL, NULL, 0};
    return user_copy(h, dst, len, &job, done);
}
