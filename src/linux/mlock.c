/* SPDX-License-Identifier: MIT */
/*
 * mlock(2), mlock2(2), munlock(2), mlockall(2), munlockall(2) and
 * mmap's lock checks (mm/mlock.c, mm/mmap.c do_mmap) over the core's
 * vmar_mlock() family, check by check in Linux's order. The limit and
 * the capability are the space's (vmar_set_mlock_limit(): an unlimited
 * space is a process with CAP_IPC_LOCK); the layer reads them with the
 * counters to answer where Linux asks, before the core's own checks,
 * which agree. Freestanding: only the vmar/ headers.
 */
#include "mlock.h"

#define PG      ((uint64_t)VMAR_PAGE_SIZE)
#define PG_MASK (PG - 1)

#define E(name) (-(long)VMAR_LINUX_##name)

/* The flags are int in Linux's prototypes: the upper half of the
 * register is not looked at. */
static unsigned int_arg(uint64_t v)
{
    return (unsigned)(v & 0xffffffffu);
}

/* can_do_mlock(): EPERM when the limit applies and is 0. */
static bool can_do_mlock(const struct vmar_stats *st)
{
    return !st->mlock_limited || st->mlock_limit != 0;
}

/* Would `pages` pages locked in all pass the limit? */
static bool over_limit(const struct vmar_stats *st, uint64_t pages)
{
    return st->mlock_limited && pages > (st->mlock_limit >> VMAR_PAGE_SHIFT);
}

/* Linux's locked_vm in pages: the locked mappings and the stale charge. */
static uint64_t locked_vm(const struct vmar_linux_mm *mm,
                          const struct vmar_stats *st)
{
    return (st->locked + mm->locked_stale) >> VMAR_PAGE_SHIFT;
}

struct walk {
    uint64_t next;   /* end of the mapped prefix so far */
    uint64_t locked; /* bytes of locked mappings met */
    uint64_t lo, hi;
    bool hole;
};

static int walk_cb(void *arg, const struct vmar_mapping_info *info)
{
    struct walk *w = arg;
    const uint64_t s = info->start > w->lo ? info->start : w->lo;
    const uint64_t e = info->end < w->hi ? info->end : w->hi;

    if (info->flags & VMAR_MAP_LOCKED)
        w->locked += e - s;
    if (!w->hole && info->start > w->next)
        w->hole = true;
    if (!w->hole)
        w->next = info->end;
    return 0;
}

/* The mappings of [lo, hi): the bytes of them that are locked (Linux's
 * count_mm_mlocked_page_nr()) and where the mapped prefix from lo ends
 * (lo itself when lo is not mapped). */
static struct walk walk_range(struct vmar_linux_mm *mm, uint64_t lo,
                              uint64_t hi)
{
    struct walk w = {.next = lo, .locked = 0, .lo = lo, .hi = hi};

    if (lo < hi)
        (void)vmar_iterate(mm->space, lo, hi, walk_cb, &w);
    if (w.next > hi)
        w.next = hi;
    return w;
}

/* apply_vma_lock_flags(): the mapped prefix of [start, end) is changed,
 * then a hole is ENOMEM (the core call over the prefix changes it as
 * Linux's walk up to the hole does). */
static long apply_lock(struct vmar_linux_mm *mm, uint64_t start, uint64_t end,
                       bool lock, unsigned flags)
{
    if (end < start)
        return E(EINVAL);
    if (end == start)
        return 0;
    struct walk w = walk_range(mm, start, end);
    int rc = 0;

    if (w.next == start)
        return E(ENOMEM);
    if (lock)
        rc = vmar_mlock(mm->space, start, w.next - start, flags);
    else
        rc = vmar_munlock(mm->space, start, w.next - start);
    if (rc)
        return (long)rc;
    return w.next < end ? E(ENOMEM) : 0;
}

/* __mlock_posix_error_return(): a population that met PROT_NONE or the
 * end of a file (EFAULT in GUP) is ENOMEM; out of memory is EAGAIN (the
 * core says so already). */
static long populate_error(int rc)
{
    switch (rc) {
    case VMAR_EFAULT:
    case VMAR_ENXIO:
    case VMAR_EIO:
        return E(ENOMEM);
    default:
        return (long)rc;
    }
}

long vmar_linux_mlock2(struct vmar_linux_mm *mm, uint64_t addr, uint64_t len,
                       uint64_t flags)
{
    const unsigned f = int_arg(flags);
    struct vmar_stats st;
    uint64_t start, end, locked;
    long err;

    if (f & ~(unsigned)VMAR_LINUX_MLOCK_ONFAULT)
        return E(EINVAL);
    vmar_stats(mm->space, &st);
    if (!can_do_mlock(&st))
        return E(EPERM);
    len = (len + (addr & PG_MASK) + PG_MASK) & ~PG_MASK; /* PAGE_ALIGN */
    start = addr & ~PG_MASK;
    end = start + len;
    locked = (len >> VMAR_PAGE_SHIFT) + locked_vm(mm, &st);
    if (over_limit(&st, locked)) {
        /* Only over ULONG_MAX is the count clipped. */
        const uint64_t hi = end < start ? UINT64_MAX : end;
        locked -= walk_range(mm, start, hi).locked >> VMAR_PAGE_SHIFT;
        if (over_limit(&st, locked))
            return E(ENOMEM);
    }
    const bool onfault = f & VMAR_LINUX_MLOCK_ONFAULT;
    err = apply_lock(mm, start, end, true,
                     VMAR_MLOCK_NOPOPULATE |
                         (onfault ? (unsigned)VMAR_MLOCK_ONFAULT : 0u));
    if (err || end == start || onfault)
        return err;
    return populate_error(vmar_mlock_populate(mm->space, start, len));
}

long vmar_linux_munlock(struct vmar_linux_mm *mm, uint64_t addr, uint64_t len)
{
    len = (len + (addr & PG_MASK) + PG_MASK) & ~PG_MASK;
    addr &= ~PG_MASK;
    return apply_lock(mm, addr, addr + len, false, 0);
}

long vmar_linux_mlockall(struct vmar_linux_mm *mm, uint64_t flags)
{
    /* The core's checks are Linux's, in its order: EINVAL, EPERM, then
     * ENOMEM for MCL_CURRENT over the limit; the values are the same. */
    return (long)vmar_mlockall(mm->space, int_arg(flags));
}

long vmar_linux_munlockall(struct vmar_linux_mm *mm)
{
    return (long)vmar_munlockall(mm->space);
}

long vmar__linux_mmap_lock(struct vmar_linux_mm *mm, bool locked_flag,
                           uint64_t len, bool *onfault)
{
    struct vmar_stats st;

    vmar_stats(mm->space, &st);
    *onfault = (st.lock_future & VMAR_MAP_LOCKONFAULT) != 0;
    if (locked_flag && !can_do_mlock(&st))
        return E(EPERM);
    if ((locked_flag || st.lock_future & VMAR_MAP_LOCKED) &&
        over_limit(&st, (len >> VMAR_PAGE_SHIFT) + locked_vm(mm, &st)))
        return E(EAGAIN);
    return 0;
}

bool vmar__linux_lock_fits(struct vmar_linux_mm *mm, uint64_t bytes)
{
    struct vmar_stats st;

    vmar_stats(mm->space, &st);
    return !over_limit(&st, (bytes >> VMAR_PAGE_SHIFT) + locked_vm(mm, &st));
}

bool vmar__linux_mmap_locks(struct vmar_linux_mm *mm)
{
    struct vmar_stats st;

    vmar_stats(mm->space, &st);
    return (st.lock_future & VMAR_MAP_LOCKED) != 0;
}

long vmar__linux_dontunmap(struct vmar_linux_mm *mm,
                           const struct vmar_mapping_info *src, uint64_t addr,
                           uint64_t len, long ret)
{
    if (VMAR_LINUX_IS_ERR(ret) || !src->end || !(src->flags & VMAR_MAP_LOCKED))
        return ret;
    mm->locked_stale += src->end - src->start;
    /* Pieces of mappings the core left locked; unlocking only merges. */
    if (src->start < addr)
        (void)vmar_munlock(mm->space, src->start, addr - src->start);
    if (addr + len < src->end)
        (void)vmar_munlock(mm->space, addr + len, src->end - addr - len);
    return ret;
}
