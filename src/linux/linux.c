/* SPDX-License-Identifier: MIT */
/*
 * The Linux system-call layer (include/vmar/linux.h).
 *
 * Each call follows the structure of the Linux function it stands for
 * (mm/mmap.c do_mmap, mm/vma.c do_vmi_munmap, mm/mprotect.c
 * do_mprotect_pkey, mm/mremap.c do_mremap, mm/madvise.c, mm/mincore.c,
 * mm/mmap.c brk) check by check, so that the first failing check is the
 * one Linux reports. The core's operations are all-or-nothing; where Linux
 * applies part of an operation (mprotect and madvise up to a hole, an
 * mremap that unmaps its target before it fails) the layer calls the core
 * per piece in Linux's order. Freestanding: only the vmar/ headers.
 */
#include <vmar/fault.h>
#include <vmar/linux.h>

#include "mlock.h"

#define PG      ((uint64_t)VMAR_PAGE_SIZE)
#define PG_MASK (PG - 1)

#define E(name) (-(long)VMAR_LINUX_##name)

/* Linux's PAGE_ALIGN: wraps to 0 for the last page's worth of values. */
static uint64_t page_align(uint64_t x)
{
    return (x + PG_MASK) & ~PG_MASK;
}

/* The flags that MAP_SHARED_VALIDATE accepts and MAP_SHARED keeps
 * (Linux's LEGACY_MAP_MASK, x86-64's MAP_32BIT included). */
#define LEGACY_MAP_MASK                                                        \
    (VMAR_LINUX_MAP_SHARED | VMAR_LINUX_MAP_PRIVATE | VMAR_LINUX_MAP_FIXED |   \
     VMAR_LINUX_MAP_ANONYMOUS | VMAR_LINUX_MAP_DENYWRITE |                     \
     VMAR_LINUX_MAP_EXECUTABLE | VMAR_LINUX_MAP_UNINITIALIZED |                \
     VMAR_LINUX_MAP_GROWSDOWN | VMAR_LINUX_MAP_LOCKED |                        \
     VMAR_LINUX_MAP_NORESERVE | VMAR_LINUX_MAP_POPULATE |                      \
     VMAR_LINUX_MAP_NONBLOCK | VMAR_LINUX_MAP_STACK | VMAR_LINUX_MAP_HUGETLB | \
     VMAR_LINUX_MAP_32BIT)

/* A vmar error is already a negative Linux errno. */
static long from_vmar(int err)
{
    return (long)err;
}

/* ---- looking at the space ------------------------------------------- */

struct first_arg {
    struct vmar_mapping_info info;
    bool found;
};

static int first_cb(void *arg, const struct vmar_mapping_info *info)
{
    struct first_arg *a = arg;

    a->info = *info;
    a->found = true;
    return 1;
}

/* The first mapping that intersects [lo, hi) (Linux's vma_find). */
static bool first_in(struct vmar_linux_mm *mm, uint64_t lo, uint64_t hi,
                     struct vmar_mapping_info *out)
{
    struct first_arg a = {.found = false};

    if (lo >= hi)
        return false;
    (void)vmar_iterate(mm->space, lo, hi, first_cb, &a);
    if (a.found)
        *out = a.info;
    return a.found;
}

/* The mapping that contains addr (Linux's vma_lookup). */
static bool lookup(struct vmar_linux_mm *mm, uint64_t addr,
                   struct vmar_mapping_info *out)
{
    return vmar_query(mm->space, addr, out) == 0;
}

/* Linux's may_expand_vm() for RLIMIT_AS: can the space take `bytes`
 * more? (The core applies the same limit when the bytes are mapped; this
 * answers it where Linux asks, before the steps that come first.) */
static bool may_expand(struct vmar_linux_mm *mm, uint64_t bytes)
{
    struct vmar_stats st;

    if (!mm->as_limit)
        return true;
    vmar_stats(mm->space, &st);
    return st.total_vm <= mm->as_limit && bytes <= mm->as_limit - st.total_vm;
}

/* The mapping count. Linux compares it with max_map_count - 3 and the
 * like in int; the layer writes those tests as map_count + k >= max, so
 * that a max_map_count below 3 does not wrap. */
static size_t map_count(struct vmar_linux_mm *mm)
{
    struct vmar_stats st;

    vmar_stats(mm->space, &st);
    return st.map_count;
}

/* Can [addr, addr+len) be mapped without MAP_FIXED? What Linux's hint
 * test and vmar's HINT placement agree on: inside the user range and free. */
static bool range_free(struct vmar_linux_mm *mm, uint64_t addr, uint64_t len)
{
    struct vmar_mapping_info info;

    if (addr < mm->min_addr || len > mm->task_size ||
        addr > mm->task_size - len)
        return false;
    return !first_in(mm, addr, addr + len, &info);
}

/* ---- set-up ---------------------------------------------------------- */

/* The rights every call of the layer may need on the space's handle. */
#define LINUX_RIGHTS (VMAR_RIGHT_READ | VMAR_RIGHT_WRITE | VMAR_RIGHT_EXEC)

int vmar_linux_mm_init(struct vmar_linux_mm *mm, struct vmar_space *space,
                       const struct vmar_env *env, vmar_addr_t start_brk,
                       size_t max_map_count)
{
    struct vmar_stats st;

    if (!mm || !space || !env)
        return (int)E(EINVAL);
    /* Linux has no handle rights: a missing one would surface as an
     * EACCES that munmap, MAP_FIXED or a fault never return there. */
    if ((vmar_space_rights(space) & LINUX_RIGHTS) != LINUX_RIGHTS)
        return (int)E(EINVAL);
    vmar_stats(space, &st);
    if (start_brk & PG_MASK || start_brk < st.user_lo ||
        start_brk >= st.user_hi)
        return (int)E(EINVAL);
    mm->space = space;
    mm->env = env;
    mm->min_addr = st.user_lo;
    mm->task_size = st.user_hi;
    mm->start_brk = start_brk;
    mm->brk = start_brk;
    mm->max_map_count =
        max_map_count ? max_map_count : VMAR_DEFAULT_MAX_MAP_COUNT;
    mm->as_limit = 0;
    mm->locked_stale = 0;
    return 0;
}

/* ---- munmap ------------------------------------------------------------ */

/* do_vmi_munmap's checks, then the core on the part inside the user range
 * (nothing can be mapped below mmap_min_addr). */
long vmar_linux_munmap(struct vmar_linux_mm *mm, uint64_t addr, uint64_t len)
{
    uint64_t end, lo;

    if (addr & PG_MASK || addr > mm->task_size || len > mm->task_size - addr)
        return E(EINVAL);
    end = addr + page_align(len);
    if (end == addr)
        return E(EINVAL);
    lo = addr < mm->min_addr ? mm->min_addr : addr;
    if (lo >= end)
        return 0;
    return from_vmar(vmar_unmap(mm->space, lo, end - lo));
}

/* ---- mmap -------------------------------------------------------------- */

/* A gap of len bytes in the user range? Only the layout is read: the
 * core's free-gap search falls back to the whole user range, so a
 * placement without MAP_FIXED fails exactly when no gap is long enough.
 * The limits (as_limit, max_map_count) play no part here, as in Linux's
 * get_unmapped_area(). */
struct room_walk {
    uint64_t next; /* end of the last mapping seen, at least lo */
    uint64_t hi;   /* the end of the window searched */
    uint64_t len;
    bool found;
};

static int room_cb(void *arg, const struct vmar_mapping_info *info)
{
    struct room_walk *w = arg;
    const uint64_t top = info->start < w->hi ? info->start : w->hi;

    if (top > w->next && top - w->next >= w->len) {
        w->found = true;
        return 1;
    }
    if (info->end > w->next)
        w->next = info->end;
    return 0;
}

/* MAP_32BIT on x86-64 (arch/x86/kernel/sys_x86_64.c, find_start_end()):
 * a mapping without MAP_FIXED goes bottom-up into [1 GiB, 2 GiB), a hint
 * is taken when it ends at or below 2 GiB. Linux moves the window's
 * start up by a random page below 32 MiB per call when the process
 * randomises; the layer does not (docs/LINUX.md). */
#define LOW_BEGIN ((uint64_t)0x40000000)
#define LOW_END   ((uint64_t)0x80000000)

/* Where a placement without MAP_FIXED may go: [*lo, *hi) (the user range,
 * or MAP_32BIT's window inside it: empty when they do not meet), and
 * whether `hint` is usable (inside the user range, free, and for
 * MAP_32BIT ending at or below 2 GiB). */
static bool placement_window(struct vmar_linux_mm *mm, bool low, uint64_t hint,
                             uint64_t len, uint64_t *lo, uint64_t *hi)
{
    *lo = mm->min_addr;
    *hi = mm->task_size;
    if (low) {
        *lo = *lo > LOW_BEGIN ? *lo : LOW_BEGIN;
        *hi = *hi < LOW_END ? *hi : LOW_END;
        if (*lo > *hi)
            *lo = *hi;
    }
    return hint && range_free(mm, hint, len) &&
           (!low || (len <= LOW_END && hint <= LOW_END - len));
}

/* Would a placement of len bytes without MAP_FIXED fail? Linux picks the
 * address (__get_unmapped_area()) before it validates the map type, so a
 * bad type with no room is ENOMEM; with room it is the type's error,
 * whatever the limits, which Linux applies later (mmap_region()). */
static long placement_error(struct vmar_linux_mm *mm, bool low, uint64_t hint,
                            uint64_t len)
{
    struct room_walk w = {.len = len, .found = false};

    if (placement_window(mm, low, hint, len, &w.next, &w.hi))
        return 0;
    if (w.next < w.hi)
        (void)vmar_iterate(mm->space, w.next, w.hi, room_cb, &w);
    if (!w.found && (w.hi < w.next || w.hi - w.next < len))
        return E(ENOMEM);
    return 0;
}

/* do_mmap()'s checks after the placement, in its order: the flags the
 * layer does not implement, file_mmap_ok(), the map type and the file's
 * open mode. Returns 0 or the negative errno; sets *shared, adds to
 * *deny (permissions the mapping may never gain) and drops the flags
 * MAP_SHARED ignores from *flags. */
static long mmap_checks(const struct vmar_linux_file *file, bool anon,
                        uint64_t len, uint64_t pgoff, uint64_t prot,
                        uint64_t *flags, bool *shared, unsigned *deny)
{
    const uint64_t type = *flags & VMAR_LINUX_MAP_TYPE;
    /* file_mmap_ok(): MAX_LFS_FILESIZE is LLONG_MAX. */
    const uint64_t maxsize = (uint64_t)INT64_MAX;

    if (anon) {
        switch (type) {
        case VMAR_LINUX_MAP_SHARED:
            *shared = true;
            /* fall through */
        case VMAR_LINUX_MAP_PRIVATE:
            /* VM_GROWSDOWN is for private anonymous memory only. */
            if (*flags & VMAR_LINUX_MAP_HUGETLB ||
                (*shared && *flags & VMAR_LINUX_MAP_GROWSDOWN))
                return E(EINVAL);
            return 0;
        default: /* MAP_DROPPABLE is not implemented either */
            return E(EINVAL);
        }
    }
    if (len > maxsize || pgoff > (maxsize - len) >> VMAR_PAGE_SHIFT)
        return E(EOVERFLOW);
    switch (type) {
    case VMAR_LINUX_MAP_SHARED:
        *flags &= LEGACY_MAP_MASK;
        /* fall through */
    case VMAR_LINUX_MAP_SHARED_VALIDATE:
        if (*flags & ~(uint64_t)LEGACY_MAP_MASK)
            return E(EOPNOTSUPP);
        if (prot & VMAR_LINUX_PROT_WRITE && !file->writable)
            return E(EACCES);
        *shared = true;
        if (!file->writable)
            *deny |= VMAR_PROT_WRITE;
        /* fall through */
    case VMAR_LINUX_MAP_PRIVATE:
        if (!file->readable)
            return E(EACCES);
        if (file->noexec) {
            if (prot & VMAR_LINUX_PROT_EXEC)
                return E(EPERM);
            *deny |= VMAR_PROT_EXEC;
        }
        if (*flags & VMAR_LINUX_MAP_GROWSDOWN)
            return E(EINVAL);
        return 0;
    default:
        return E(EINVAL);
    }
}

long vmar_linux_mmap(struct vmar_linux_mm *mm, uint64_t addr, uint64_t len,
                     uint64_t prot, uint64_t flags,
                     const struct vmar_linux_file *file, uint64_t off)
{
    const bool anon = (flags & VMAR_LINUX_MAP_ANONYMOUS) != 0;
    /* Placement reads MAP_32BIT before MAP_SHARED drops it (files). */
    const bool low = (flags & VMAR_LINUX_MAP_32BIT) != 0;
    struct vmar_map_opts o = {0};
    struct vmar_object *shm = NULL;
    unsigned deny = 0;
    bool shared = false, fixed, onfault;
    int populate = 0;
    uint64_t pgoff;
    long bad;
    vmar_addr_t at;
    int rc;

    /* arch/x86 sys_mmap, then ksys_mmap_pgoff's fget(). */
    if (off & PG_MASK)
        return E(EINVAL);
    if (!anon && !file)
        return E(EBADF);
    if (!anon && flags & VMAR_LINUX_MAP_HUGETLB)
        return E(EINVAL);
    if (!len)
        return E(EINVAL);
    if (flags & VMAR_LINUX_MAP_FIXED_NOREPLACE)
        flags |= VMAR_LINUX_MAP_FIXED;
    fixed = (flags & VMAR_LINUX_MAP_FIXED) != 0;
    if (!fixed) { /* round_hint_to_min() */
        addr &= ~PG_MASK;
        if (addr && addr < mm->min_addr)
            addr = page_align(mm->min_addr);
    }
    len = page_align(len);
    if (!len)
        return E(ENOMEM);
    pgoff = off >> VMAR_PAGE_SHIFT;
    if (pgoff + (len >> VMAR_PAGE_SHIFT) < pgoff)
        return E(EOVERFLOW);
    if (map_count(mm) > mm->max_map_count)
        return E(ENOMEM);

    /* __get_unmapped_area(): the fixed address is checked now, a free
     * one is picked by the core below (or probed for on an error path). */
    if (len > mm->task_size)
        return E(ENOMEM);
    if (fixed) {
        if (addr > mm->task_size - len)
            return E(ENOMEM);
        if (addr & PG_MASK)
            return E(EINVAL);
        if (addr < mm->min_addr)
            return E(EPERM);
        /* do_mmap()'s EEXIST comes before the checks below: looked up
         * here for the errno order only. The map itself is one atomic
         * VMAR_PLACE_FIXED_NOREPLACE step, which refuses a mapping made
         * since by another thread (EEXIST too). */
        if (flags & VMAR_LINUX_MAP_FIXED_NOREPLACE) {
            struct vmar_mapping_info info;

            if (first_in(mm, addr, addr + len, &info))
                return E(EEXIST);
        }
    }

    /* Every check from here on comes after Linux has picked the address
     * (__get_unmapped_area()), so without MAP_FIXED a full space is
     * ENOMEM first: the lock checks and mmap_checks() say what Linux
     * would say next. */
    bad =
        vmar__linux_mmap_lock(mm, flags & VMAR_LINUX_MAP_LOCKED, len, &onfault);
    if (!bad)
        bad = mmap_checks(file, anon, len, pgoff, prot, &flags, &shared, &deny);
    if (bad) {
        long perr = fixed ? 0 : placement_error(mm, low, addr, len);

        return perr ? perr : bad;
    }

    o.size = len;
    o.prot = (unsigned)(prot & VMAR_PROT_RWX);
    o.deny_prot = deny;
    if (flags & VMAR_LINUX_MAP_FIXED_NOREPLACE) {
        o.place = VMAR_PLACE_FIXED_NOREPLACE;
    } else if (fixed) {
        o.place = VMAR_PLACE_FIXED; /* MAP_32BIT is ignored */
    } else {
        uint64_t lo, hi;
        const bool hint = placement_window(mm, low, addr, len, &lo, &hi);
        o.place = hint ? VMAR_PLACE_HINT : VMAR_PLACE_ANY;
        if (low) {
            /* The hint may lie below 1 GiB; the search may not. */
            if (hint)
                lo = mm->min_addr;
            if (hi <= lo || hi - lo < len)
                return E(ENOMEM);
            o.window_lo = lo;
            o.window_hi = hi;
            o.flags |= VMAR_MAP_BOTTOM_UP | VMAR_MAP_NO_RANDOM;
        }
    }
    o.addr = o.place == VMAR_PLACE_ANY ? 0 : addr;
    if (shared)
        o.flags |= VMAR_MAP_SHARED;
    if (flags & VMAR_LINUX_MAP_GROWSDOWN)
        o.flags |= VMAR_MAP_GROWSDOWN;
    if (flags & VMAR_LINUX_MAP_STACK) /* calc_vm_flag_bits(), with THP */
        o.flags |= VMAR_MAP_NOHUGEPAGE;
    if (flags & VMAR_LINUX_MAP_LOCKED)
        o.flags |= VMAR_MAP_LOCKED;
    /* do_mmap() populates a locked map (by MAP_LOCKED or MCL_FUTURE) as
     * one with MAP_POPULATE, and neither when it locks on fault
     * (populate_vma_page_range() skips VM_LOCKONFAULT). */
    const bool locks =
        flags & VMAR_LINUX_MAP_LOCKED || vmar__linux_mmap_locks(mm);
    if (!(locks && onfault) &&
        ((flags & (VMAR_LINUX_MAP_POPULATE | VMAR_LINUX_MAP_NONBLOCK)) ==
             VMAR_LINUX_MAP_POPULATE ||
         locks)) {
        /* populate_vma_page_range() write-faults a private writable
         * mapping to break COW (its file pages are copied now, and later
         * changes to the file no longer show through) and read-faults
         * the rest, ignoring errors: the core's populate advice after the
         * map. What it refuses (FOLL_FORCE reaches exec- or write-only
         * memory) the core populates at map time. */
        if (!shared && prot & VMAR_LINUX_PROT_WRITE)
            populate = VMAR_ADVISE_POPULATE_WRITE;
        else if (prot & VMAR_LINUX_PROT_READ)
            populate = VMAR_ADVISE_POPULATE_READ;
        else
            o.flags |= VMAR_MAP_POPULATE;
    }
    if (!anon) {
        o.backing = VMAR_BACKING_OBJECT;
        o.object = file->object;
        o.offset = off;
        /* Linux raises SIGBUS past a file's end in private mappings too;
         * the core's default zero-fills them. */
        o.flags |= VMAR_MAP_EOF_FAULT;
    } else if (shared) {
        /* Linux's shmem_zero_setup(): a new object of exactly len bytes
         * per call, so that growing the mapping later reaches past its
         * end as on Linux. The mapping takes its own reference. */
        rc = vmar_memfd_create(mm->env, len, &shm);
        if (rc)
            return from_vmar(rc);
        o.backing = VMAR_BACKING_OBJECT;
        o.object = shm;
    }
    rc = vmar_map(mm->space, &o, &at);
    if (shm)
        vmar_object_unref(shm);
    if (rc)
        return from_vmar(rc);
    /* Up to the first failure (past the file's end, or out of memory),
     * which Linux ignores. */
    if (populate)
        (void)vmar_advise(mm->space, at, len, populate);
    return (long)at;
}

/* ---- mprotect ---------------------------------------------------------- */

struct prot_walk {
    uint64_t next;   /* where the mapped prefix ends so far */
    uint64_t denied; /* start of the first mapping that refuses, or 0 */
    long refusal;    /* its errno: EACCES, or EPERM when sealed */
    unsigned prot;
    bool hole;
};

static int prot_cb(void *arg, const struct vmar_mapping_info *info)
{
    struct prot_walk *w = arg;

    if (info->start > w->next) {
        w->hole = true;
        return 1;
    }
    /* do_mprotect_pkey()'s EACCES, then mprotect_fixup()'s seal check. */
    if (w->prot & ~info->max_prot || info->flags & VMAR_MAP_SEALED) {
        w->denied = w->next;
        w->refusal = w->prot & ~info->max_prot ? E(EACCES) : E(EPERM);
        return 1;
    }
    w->next = info->end;
    return 0;
}

long vmar_linux_mprotect(struct vmar_linux_mm *mm, uint64_t addr, uint64_t len,
                         uint64_t prot)
{
    const uint64_t grows =
        prot & (VMAR_LINUX_PROT_GROWSDOWN | VMAR_LINUX_PROT_GROWSUP);
    struct vmar_mapping_info first;
    struct prot_walk w;
    uint64_t end, stop;
    int rc;

    prot &= ~(uint64_t)(VMAR_LINUX_PROT_GROWSDOWN | VMAR_LINUX_PROT_GROWSUP);
    if (grows == (VMAR_LINUX_PROT_GROWSDOWN | VMAR_LINUX_PROT_GROWSUP))
        return E(EINVAL);
    if (addr & PG_MASK)
        return E(EINVAL);
    if (!len)
        return 0;
    len = page_align(len);
    end = addr + len;
    if (end <= addr)
        return E(ENOMEM);
    /* arch_validate_prot(): READ, WRITE, EXEC and SEM only. */
    if (prot & ~(uint64_t)(VMAR_LINUX_PROT_READ | VMAR_LINUX_PROT_WRITE |
                           VMAR_LINUX_PROT_EXEC | VMAR_LINUX_PROT_SEM))
        return E(EINVAL);
    if (!first_in(mm, addr, end, &first))
        return E(ENOMEM);
    if (grows & VMAR_LINUX_PROT_GROWSDOWN) {
        /* Linux: the range reaches down to the start of the first mapping
         * it meets, which must grow down. */
        if (first.start >= end)
            return E(ENOMEM);
        if (!(first.flags & VMAR_MAP_GROWSDOWN))
            return E(EINVAL);
        addr = first.start;
    }
    if (first.start > addr)
        return E(ENOMEM);
    if (grows & VMAR_LINUX_PROT_GROWSUP)
        return E(EINVAL);

    /* Linux walks the mappings in order and stops at the first one that
     * refuses (EACCES, EPERM) or at a hole (ENOMEM), leaving the ones before it
     * changed. One core call over the accepted prefix does the same. */
    w.next = addr;
    w.denied = 0;
    w.prot = (unsigned)(prot & VMAR_PROT_RWX);
    w.hole = false;
    (void)vmar_iterate(mm->space, addr, end, prot_cb, &w);
    stop = w.denied ? w.denied : (w.next < end ? w.next : end);
    if (stop > addr) {
        rc = vmar_protect(mm->space, addr, stop - addr, w.prot);
        if (rc)
            return from_vmar(rc);
    }
    if (w.denied)
        return w.refusal;
    if (stop < end)
        return E(ENOMEM);
    return 0;
}

/* ---- madvise ----------------------------------------------------------- */

/* The range checks madvise() and mseal() share after their first one:
 * an unaligned start, a length that rounds up to 0 or a range that wraps
 * is EINVAL; otherwise 0 with the page-aligned end in *end (== addr for
 * an empty range). */
static long aligned_range(uint64_t addr, uint64_t len, uint64_t *end)
{
    const uint64_t alen = page_align(len);

    if (addr & PG_MASK || (len && !alen))
        return E(EINVAL);
    *end = addr + alen;
    return *end < addr ? E(EINVAL) : 0;
}

static bool advice_known(uint64_t advice)
{
    switch (advice) {
    case VMAR_LINUX_MADV_NORMAL:
    case VMAR_LINUX_MADV_RANDOM:
    case VMAR_LINUX_MADV_SEQUENTIAL:
    case VMAR_LINUX_MADV_WILLNEED:
    case VMAR_LINUX_MADV_DONTNEED:
    case VMAR_LINUX_MADV_FREE:
    case VMAR_LINUX_MADV_DONTFORK:
    case VMAR_LINUX_MADV_DOFORK:
    case VMAR_LINUX_MADV_POPULATE_READ:
    case VMAR_LINUX_MADV_POPULATE_WRITE:
    case VMAR_LINUX_MADV_REMOVE:
    case VMAR_LINUX_MADV_HUGEPAGE:
    case VMAR_LINUX_MADV_NOHUGEPAGE:
    case VMAR_LINUX_MADV_DONTDUMP:
    case VMAR_LINUX_MADV_DODUMP:
    case VMAR_LINUX_MADV_WIPEONFORK:
    case VMAR_LINUX_MADV_KEEPONFORK:
    case VMAR_LINUX_MADV_COLD:
    case VMAR_LINUX_MADV_PAGEOUT:
    case VMAR_LINUX_MADV_GUARD_INSTALL:
    case VMAR_LINUX_MADV_GUARD_REMOVE:
        return true;
    default:
        return false;
    }
}

/* Linux's can_madvise_modify(): advice that discards (is_discard())
 * is refused on a sealed read-only private anonymous mapping. */
static bool seal_refuses(const struct vmar_mapping_info *m, uint64_t advice)
{
    switch (advice) {
    case VMAR_LINUX_MADV_FREE:
    case VMAR_LINUX_MADV_DONTNEED:
    case VMAR_LINUX_MADV_DONTNEED_LOCKED:
    case VMAR_LINUX_MADV_REMOVE:
    case VMAR_LINUX_MADV_DONTFORK:
    case VMAR_LINUX_MADV_WIPEONFORK:
    case VMAR_LINUX_MADV_GUARD_INSTALL:
        return m->flags & VMAR_MAP_SEALED && m->backing == VMAR_BACKING_ANON &&
               !(m->flags & VMAR_MAP_SHARED) && !(m->prot & VMAR_PROT_WRITE);
    default:
        return false;
    }
}

/* The advice for one piece [lo, hi) of the mapping `m`. */
static long advise_piece(struct vmar_linux_mm *mm,
                         const struct vmar_mapping_info *m, uint64_t lo,
                         uint64_t hi, uint64_t advice)
{
    if (seal_refuses(m, advice))
        return E(EPERM);
    /* The rest is the core's advice of the same number, which refuses
     * what Linux's madvise_vma_behavior() refuses on such a VMA (EINVAL,
     * and for REMOVE EACCES and EOPNOTSUPP, i.e. VMAR_ENOTSUP). COLD and
     * PAGEOUT are hints without reclaim or swap (Linux's pages stay
     * resident, or in the page cache, without swap). */
    switch (advice) {
    case VMAR_LINUX_MADV_WILLNEED:
        /* Anonymous memory and shmem: Linux only reads back swap. */
        return 0;
    case VMAR_LINUX_MADV_FREE:
        /* Only private anonymous memory; the pages stay until memory
         * pressure, which the layer never has: nothing to do. */
        if (m->backing != VMAR_BACKING_ANON || m->flags & VMAR_MAP_LOCKED)
            return E(EINVAL);
        return 0;
    case VMAR_LINUX_MADV_DONTNEED:
    case VMAR_LINUX_MADV_GUARD_INSTALL:
    case VMAR_LINUX_MADV_GUARD_REMOVE:
        /* is_valid_guard_vma(): VM_PFNMAP (device memory) refused. */
        if (m->backing == VMAR_BACKING_DEVICE)
            return E(EINVAL);
        break;
    default:
        break;
    }
    return from_vmar(vmar_advise(mm->space, lo, hi - lo, (int)advice));
}

/* madvise_populate(): faultin_page_range() from `addr` on, VMA by VMA,
 * stopping at the first failure (the pages before it stay); a hole is
 * -ENOMEM there, not skipped. */
static long madvise_populate(struct vmar_linux_mm *mm, uint64_t addr,
                             uint64_t end, uint64_t advice)
{
    struct vmar_mapping_info m;
    int rc;

    while (addr < end) {
        if (!first_in(mm, addr, end, &m) || m.start > addr)
            return E(ENOMEM);
        const uint64_t hi = m.end < end ? m.end : end;
        rc = vmar_advise(mm->space, addr, hi - addr, (int)advice);
        /* check_vma_flags() refusals are -EINVAL, a fault's SIGBUS
         * (VMAR_ENXIO, VMAR_EIO, ...) is -EFAULT. */
        if (rc == VMAR_EINVAL || rc == VMAR_ENOMEM)
            return from_vmar(rc);
        if (rc)
            return E(EFAULT);
        addr = hi;
    }
    return 0;
}

long vmar_linux_madvise(struct vmar_linux_mm *mm, uint64_t addr, uint64_t len,
                        uint64_t advice)
{
    struct vmar_mapping_info m;
    long unmapped = 0, rc;
    uint64_t end, hi;

    /* is_valid_madvise(), then the empty range. */
    if (!advice_known(advice))
        return E(EINVAL);
    long bad = aligned_range(addr, len, &end);
    if (bad)
        return bad;
    if (end == addr)
        return 0;

    if (advice == VMAR_LINUX_MADV_POPULATE_READ ||
        advice == VMAR_LINUX_MADV_POPULATE_WRITE)
        return madvise_populate(mm, addr, end, advice);
    /* madvise_walk_vmas(): holes are skipped and reported at the end. */
    while (addr < end) {
        if (!first_in(mm, addr, end, &m))
            return E(ENOMEM);
        if (m.start > addr) {
            unmapped = E(ENOMEM);
            addr = m.start;
        }
        hi = m.end < end ? m.end : end;
        rc = advise_piece(mm, &m, addr, hi, advice);
        if (rc)
            return rc;
        addr = hi;
    }
    return unmapped;
}

/* ---- mincore ----------------------------------------------------------- */

/* Is page `va` of mapping `m` in memory? A present translation, or for an
 * object mapping the object's page (Linux's mincore_page() on the page
 * cache: a shared page stays after MADV_DONTNEED). */
static unsigned char page_in_core(struct vmar_linux_mm *mm,
                                  const struct vmar_mapping_info *m,
                                  uint64_t va)
{
    vmar_size_t bytes = 0;
    vmar_paddr_t pa;

    if (vmar_resident(mm->space, va, va + PG, &bytes) == 0 && bytes)
        return 1;
    if (m->backing == VMAR_BACKING_OBJECT && m->object) {
        const uint64_t index = (m->offset + (va - m->start)) >> VMAR_PAGE_SHIFT;
        struct vmar_object *obj = m->object;

        if (obj->ops->get_page(obj, index, VMAR_OBJECT_GET_PRESENT, &pa) == 0) {
            vmar_frame_put(mm->env, pa);
            return 1;
        }
    }
    return 0;
}

long vmar_linux_mincore(struct vmar_linux_mm *mm, uint64_t addr, uint64_t len,
                        unsigned char *vec)
{
    struct vmar_mapping_info m;
    uint64_t pages, i, va;

    if (addr & PG_MASK)
        return E(EINVAL);
    /* access_ok(): the range must end at or below TASK_SIZE. */
    if (addr + len < addr || addr + len > mm->task_size)
        return E(ENOMEM);
    pages = (len >> VMAR_PAGE_SHIFT) + ((len & PG_MASK) != 0);
    if (pages && !vec)
        return E(EFAULT);
    for (i = 0; i < pages; i++) {
        va = addr + i * PG;
        if (!lookup(mm, va, &m))
            return E(ENOMEM);
        vec[i] = page_in_core(mm, &m, va);
    }
    return 0;
}

/* ---- mremap ------------------------------------------------------------ */

/*
 * The structure of Linux 6.17+ (mm/mremap.c): check_mremap_params(), then
 * remap_move() for a pure move (MREMAP_FIXED with old_len == new_len,
 * which may span several mappings), else vma_lookup() and
 * check_prep_vma() (remap_is_valid() when the call maps new space), then
 * mremap_to() or mremap_at().
 */

static bool is_shared(const struct vmar_mapping_info *m)
{
    return (m->flags & VMAR_MAP_SHARED) != 0;
}

/* Linux's remap_is_valid() for [addr, addr+old_len) of mapping `m`. */
static long remap_is_valid(const struct vmar_mapping_info *m, uint64_t addr,
                           uint64_t old_len, uint64_t new_len, uint64_t flags)
{
    /* A shrink may cross boundaries in the part it unmaps. */
    const uint64_t span = new_len < old_len ? new_len : old_len;

    if (!old_len && !is_shared(m))
        return E(EINVAL); /* duplicating a private mapping */
    if (flags & VMAR_LINUX_MREMAP_DONTUNMAP &&
        m->backing == VMAR_BACKING_DEVICE)
        return E(EINVAL); /* VM_PFNMAP */
    if (span > m->end - addr)
        return E(EFAULT);
    if (new_len == span)
        return 0;
    if (m->backing == VMAR_BACKING_DEVICE)
        return E(EFAULT); /* device ranges never grow */
    return 0;
}

/* Map the object pages that `m` maps from `addr` again, at `at` for `len`
 * bytes, with m's permissions and flags, placed with `place`: the source
 * Linux leaves behind for MREMAP_DONTUNMAP of an object mapping (into the
 * range the move just vacated: NOREPLACE, so that a mapping another
 * thread made there meanwhile is kept), and the copy of a shared mapping
 * that mremap(old_len 0) makes (over the target: FIXED). */
static int map_like(struct vmar_linux_mm *mm, const struct vmar_mapping_info *m,
                    uint64_t addr, uint64_t at, uint64_t len,
                    enum vmar_place place)
{
    struct vmar_map_opts o = {0};

    o.size = len;
    o.addr = at;
    o.place = place;
    o.prot = m->prot;
    o.deny_prot = VMAR_PROT_RWX & ~m->max_prot;
    o.flags = m->flags & ~(unsigned)VMAR_MAP_STACK;
    /* The source MREMAP_DONTUNMAP leaves is unlocked (Linux clears its
     * VM_LOCKED_MASK); a copy keeps the lock. */
    if (place == VMAR_PLACE_FIXED_NOREPLACE)
        o.flags &= ~(unsigned)(VMAR_MAP_LOCKED | VMAR_MAP_LOCKONFAULT);
    o.backing = VMAR_BACKING_OBJECT;
    o.object = m->object;
    o.offset = m->offset + (addr - m->start);
    return vmar_map(mm->space, &o, NULL);
}

/* get_unmapped_area() for a move without MREMAP_FIXED: the hint when it
 * is free, else a free place the core picks, reserved with a PROT_NONE
 * placeholder that the move replaces. The placeholder may never gain a
 * permission, which no mapping of the layer is like, so it never merges
 * with a neighbour: a placeholder merged into the source's mapping trips
 * a core bug (docs/LINUX.md, open list). */
static long reserve_target(struct vmar_linux_mm *mm, uint64_t hint,
                           uint64_t len, uint64_t *target)
{
    struct vmar_map_opts o = {
        .size = len, .prot = VMAR_PROT_NONE, .deny_prot = VMAR_PROT_RWX};
    vmar_addr_t at;
    int rc;

    o.place =
        hint && range_free(mm, hint, len) ? VMAR_PLACE_HINT : VMAR_PLACE_ANY;
    o.addr = o.place == VMAR_PLACE_HINT ? hint : 0;
    rc = vmar_map(mm->space, &o, &at);
    if (rc)
        return from_vmar(rc);
    *target = at;
    return 0;
}

/* Linux's move_vma(): [addr, addr+old_len) of `m` to `target`, which is
 * free or reserved. old_len 0 duplicates a shared mapping. */
static long move_vma(struct vmar_linux_mm *mm,
                     const struct vmar_mapping_info *m, uint64_t addr,
                     uint64_t old_len, uint64_t new_len, uint64_t flags,
                     uint64_t target)
{
    unsigned vflags = VMAR_REMAP_MAYMOVE | VMAR_REMAP_FIXED;
    bool again = false;
    vmar_addr_t at;
    int rc;

    if (!old_len) {
        rc = map_like(mm, m, addr, target, new_len, VMAR_PLACE_FIXED);
        return rc ? from_vmar(rc) : (long)target;
    }
    if (flags & VMAR_LINUX_MREMAP_DONTUNMAP) {
        /* The core leaves only private anonymous sources behind; for an
         * object mapping the layer maps the source again (Linux keeps the
         * VMA, still backed by the object). */
        if (is_shared(m) || m->backing != VMAR_BACKING_ANON)
            again = true;
        else
            vflags |= VMAR_REMAP_DONTUNMAP;
    }
    if (again)
        vmar_object_ref(m->object); /* the move may drop the last mapping */
    rc = vmar_remap(mm->space, addr, old_len, new_len, vflags, target, &at);
    if (!rc && again)
        rc = map_like(mm, m, addr, addr, old_len, VMAR_PLACE_FIXED_NOREPLACE);
    if (again)
        vmar_object_unref(m->object);
    return rc ? from_vmar(rc) : (long)at;
}

/* Linux's mremap_to(): a move to new_addr (MREMAP_FIXED) or to a place
 * picked with new_addr as a hint (MREMAP_DONTUNMAP alone). */
static long mremap_to(struct vmar_linux_mm *mm, uint64_t addr, uint64_t old_len,
                      uint64_t new_len, uint64_t flags, uint64_t new_addr)
{
    const bool fixed = (flags & VMAR_LINUX_MREMAP_FIXED) != 0;
    struct vmar_mapping_info m;
    uint64_t target;
    long rc;

    if (fixed) {
        rc = vmar_linux_munmap(mm, new_addr, new_len);
        if (rc)
            return rc;
        if (!lookup(mm, addr, &m))
            return E(EFAULT);
    }
    if (old_len > new_len) { /* shrink_vma() */
        rc = vmar_linux_munmap(mm, addr + new_len, old_len - new_len);
        if (rc)
            return rc;
        old_len = new_len;
    }
    if (!lookup(mm, addr, &m))
        return E(EFAULT);
    /* The source that MREMAP_DONTUNMAP leaves is charged again. */
    if (flags & VMAR_LINUX_MREMAP_DONTUNMAP && !may_expand(mm, old_len))
        return E(ENOMEM);
    /* vrm_set_new_addr(), then move_vma()'s map-count check. */
    if (fixed) {
        if (new_addr < mm->min_addr)
            return E(EPERM);
        if (map_count(mm) + 3 >= mm->max_map_count)
            return E(ENOMEM);
        return move_vma(mm, &m, addr, old_len, new_len, flags, new_addr);
    }
    rc = reserve_target(mm, new_addr, new_len, &target);
    if (rc)
        return rc;
    if (map_count(mm) + 2 >= mm->max_map_count)
        rc = E(ENOMEM);
    else
        rc = move_vma(mm, &m, addr, old_len, new_len, flags, target);
    if (VMAR_LINUX_IS_ERR(rc))
        (void)vmar_unmap(mm->space, target, new_len);
    return rc;
}

/* Linux's remap_move() (6.17+): MREMAP_FIXED without a size change moves
 * every mapping in [addr, addr+len), keeping the gaps between them; it
 * stops at the first failure (the moves before it stay). */
static long remap_move(struct vmar_linux_mm *mm, uint64_t addr, uint64_t len,
                       uint64_t flags, uint64_t new_addr)
{
    const uint64_t end = addr + len;
    uint64_t cur = addr, target = new_addr, last_end = 0;
    struct vmar_mapping_info m;
    long res = E(EFAULT), rc;
    bool seen = false;

    while (cur < end && first_in(mm, cur, end, &m)) {
        const uint64_t lo = m.start > addr ? m.start : addr;
        const uint64_t hi = m.end < end ? m.end : end;
        const uint64_t to = target + (seen ? m.start - last_end : 0);

        if (!seen && addr < m.start)
            return E(EFAULT); /* no gap at the start */
        last_end = m.end;
        /* check_prep_vma() of each mapping: the seal, then the rest. */
        rc = m.flags & VMAR_MAP_SEALED
                 ? E(EPERM)
                 : remap_is_valid(&m, lo, hi - lo, hi - lo, flags);
        if (!rc)
            rc = mremap_to(mm, lo, hi - lo, hi - lo, flags, to);
        if (VMAR_LINUX_IS_ERR(rc))
            return rc;
        if (!seen)
            res = rc;
        seen = true;
        target = (uint64_t)rc + (hi - lo);
        cur = hi;
    }
    return res;
}

/* Linux's mremap_at(): resize where it is, or move to a free place. */
static long mremap_at(struct vmar_linux_mm *mm,
                      const struct vmar_mapping_info *m, uint64_t addr,
                      uint64_t old_len, uint64_t new_len, uint64_t flags)
{
    uint64_t target;
    vmar_addr_t at;
    long rc;

    if (old_len == new_len)
        return (long)addr;
    if (old_len > new_len) {
        rc = vmar_linux_munmap(mm, addr + new_len, old_len - new_len);
        return rc ? rc : (long)addr;
    }
    /* expand_vma(): in place when [addr, +old_len) ends the mapping and
     * the pages after it are free (vma_expandable()). */
    if (old_len && addr + old_len == m->end &&
        new_len - old_len <= mm->task_size - m->end &&
        range_free(mm, m->end, new_len - old_len))
        return vmar_remap(mm->space, addr, old_len, new_len, 0, 0, &at)
                   ? E(ENOMEM)
                   : (long)addr;
    if (!(flags & VMAR_LINUX_MREMAP_MAYMOVE))
        return E(ENOMEM);
    rc = reserve_target(mm, 0, new_len, &target);
    if (rc)
        return rc;
    if (map_count(mm) + 2 >= mm->max_map_count)
        rc = E(ENOMEM);
    else
        rc = move_vma(mm, m, addr, old_len, new_len, flags, target);
    if (VMAR_LINUX_IS_ERR(rc))
        (void)vmar_unmap(mm->space, target, new_len);
    return rc;
}

long vmar_linux_mremap(struct vmar_linux_mm *mm, uint64_t addr,
                       uint64_t old_len, uint64_t new_len, uint64_t flags,
                       uint64_t new_addr)
{
    const bool implies_new =
        (flags & (VMAR_LINUX_MREMAP_FIXED | VMAR_LINUX_MREMAP_DONTUNMAP)) != 0;
    struct vmar_mapping_info m;
    long rc;

    old_len = page_align(old_len);
    new_len = page_align(new_len);
    /* check_mremap_params() */
    if (flags &
        ~(uint64_t)(VMAR_LINUX_MREMAP_FIXED | VMAR_LINUX_MREMAP_MAYMOVE |
                    VMAR_LINUX_MREMAP_DONTUNMAP))
        return E(EINVAL);
    if (addr & PG_MASK)
        return E(EINVAL);
    if (!new_len)
        return E(EINVAL);
    if (new_len > mm->task_size || new_addr > mm->task_size - new_len)
        return E(EINVAL);
    if (implies_new) {
        if (new_addr & PG_MASK)
            return E(EINVAL);
        if (!(flags & VMAR_LINUX_MREMAP_MAYMOVE))
            return E(EINVAL);
        if (flags & VMAR_LINUX_MREMAP_DONTUNMAP && old_len != new_len)
            return E(EINVAL);
        if (addr + old_len > new_addr && new_addr + new_len > addr)
            return E(EINVAL);
        if (map_count(mm) + 5 >= mm->max_map_count)
            return E(ENOMEM);
    }
    /* The source's mapping as it was: MREMAP_DONTUNMAP unlocks all of
     * it (vmar__linux_dontunmap). */
    struct vmar_mapping_info src = {0};
    if (flags & VMAR_LINUX_MREMAP_DONTUNMAP)
        (void)lookup(mm, addr, &src);
    if (flags & VMAR_LINUX_MREMAP_FIXED && old_len == new_len)
        return vmar__linux_dontunmap(
            mm, &src, addr, old_len,
            remap_move(mm, addr, old_len, flags, new_addr));

    /* check_prep_vma() */
    if (!lookup(mm, addr, &m))
        return E(EFAULT);
    if (m.flags & VMAR_MAP_SEALED)
        return E(EPERM);
    if (implies_new || new_len > old_len) {
        rc = remap_is_valid(&m, addr, old_len, new_len, flags);
        if (rc)
            return rc;
        /* check_prep_vma()'s mlock_future_ok() and may_expand_vm():
         * before a MREMAP_FIXED target is unmapped. */
        if (new_len > old_len && m.flags & VMAR_MAP_LOCKED &&
            !vmar__linux_lock_fits(mm, new_len - old_len))
            return E(EAGAIN);
        if (new_len > old_len && !may_expand(mm, new_len - old_len))
            return E(ENOMEM);
    }
    if (implies_new)
        return vmar__linux_dontunmap(
            mm, &src, addr, old_len,
            mremap_to(mm, addr, old_len, new_len, flags, new_addr));
    return mremap_at(mm, &m, addr, old_len, new_len, flags);
}

/* ---- mseal ------------------------------------------------------------- */

/* do_mseal(): the argument checks, then the whole range or nothing (the
 * core's all-or-nothing survey is Linux's range_contains_unmapped()). */
long vmar_linux_mseal(struct vmar_linux_mm *mm, uint64_t addr, uint64_t len,
                      uint64_t flags)
{
    uint64_t end;

    if (flags)
        return E(EINVAL);
    long bad = aligned_range(addr, len, &end);
    if (bad)
        return bad;
    if (end == addr)
        return 0;
    /* Nothing is mapped outside [mmap_min_addr, TASK_SIZE). */
    if (addr < mm->min_addr || end > mm->task_size)
        return E(ENOMEM);
    return from_vmar(vmar_seal(mm->space, addr, end - addr));
}

/* ---- brk --------------------------------------------------------------- */

uint64_t vmar_linux_brk(struct vmar_linux_mm *mm, uint64_t brk)
{
    struct vmar_map_opts o = {0};
    struct vmar_mapping_info m;
    const uint64_t origbrk = mm->brk;
    uint64_t newbrk, oldbrk;

    if (brk < mm->start_brk)
        return origbrk;
    newbrk = page_align(brk);
    oldbrk = page_align(mm->brk);
    if (oldbrk == newbrk) {
        mm->brk = brk;
        return brk;
    }
    if (brk <= mm->brk) {
        /* Shrinking unmaps [newbrk, oldbrk), but only when something is
         * mapped there (Linux: "mapping intersects with an existing
         * non-brk vma" otherwise). */
        if (!first_in(mm, newbrk, oldbrk, &m))
            return origbrk;
        if (vmar_unmap(mm->space, newbrk, oldbrk - newbrk))
            return origbrk;
        mm->brk = brk;
        return brk;
    }
    /* check_brk_limits(): the new range must fit below TASK_SIZE. */
    if (!newbrk || newbrk - oldbrk > mm->task_size ||
        oldbrk > mm->task_size - (newbrk - oldbrk))
        return origbrk;
    /* One free page must stay above the new break. */
    if (newbrk + PG < newbrk || first_in(mm, oldbrk, newbrk + PG, &m))
        return origbrk;
    /* check_brk_limits()'s mlock_future_ok(), with Linux's charge. */
    if (vmar__linux_mmap_locks(mm) &&
        !vmar__linux_lock_fits(mm, newbrk - oldbrk))
        return origbrk;
    o.size = newbrk - oldbrk;
    o.addr = oldbrk;
    o.place = VMAR_PLACE_FIXED_NOREPLACE;
    o.prot = VMAR_PROT_READ | VMAR_PROT_WRITE;
    if (vmar_map(mm->space, &o, NULL))
        return origbrk;
    mm->brk = brk;
    return brk;
}
