/* SPDX-License-Identifier: MIT */
/**
 * @file linux.h
 * @brief A Linux-compatible system-call layer: mmap, munmap, mprotect,
 *        mremap, madvise, mincore and brk with Linux's raw arguments, flag
 *        values, return values and errno order.
 *
 * Freestanding (only the vmar/ headers): a kernel that offers the Linux ABI
 * calls these from its system-call table and returns the result unchanged.
 * Every call returns what Linux (x86-64, 6.x) returns for the same state
 * and arguments: an address or 0 on success, a negative errno
 * (-VMAR_LINUX_E*) on failure. Where the core's all-or-nothing operations
 * and Linux's partial application differ, the layer reproduces Linux
 * (e.g. mprotect changes the mapped prefix before a hole); the differences
 * that remain are listed, with their reasons, in docs/LINUX.md.
 *
 * The space's user range plays Linux's [mmap_min_addr, TASK_SIZE): an
 * address below user_lo is refused as Linux refuses one below
 * mmap_min_addr for an unprivileged process (EPERM), and user_hi is
 * TASK_SIZE.
 *
 * Threading. Each call is a sequence of core calls, each under the space
 * lock (vmar_env::lock), with no lock held across them; struct
 * vmar_linux_mm (the break) has no lock of its own. Linux holds mmap_lock
 * for writing over a whole call, and the layer gives Linux's results only
 * under the same rule: the embedder serialises the calls on one mm (one
 * mutex per process around the layer's calls, or one caller). Faults,
 * vmar_read()/vmar_write() and the query calls may run beside them.
 * Unserialised calls (a layer call beside another, or beside direct core
 * calls on the same space) stay memory-safe and keep every core
 * invariant, and a call never replaces a mapping it was not asked to
 * replace: MAP_FIXED_NOREPLACE, brk growth and the source that
 * MREMAP_DONTUNMAP leaves behind are each mapped in one
 * VMAR_PLACE_FIXED_NOREPLACE step (EEXIST, or brk's failure, when another
 * thread mapped there first). What such calls do not give is Linux's
 * atomicity: a multi-step call (mprotect or madvise over several
 * mappings, mremap, a placement followed by the map) can interleave with
 * another thread's change, and its errno then reflects the state each of
 * its steps saw; brk's updates of mm->brk race.
 */
#ifndef VMAR_LINUX_H
#define VMAR_LINUX_H

#include <vmar/vmar.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @name Linux's PROT_* values (asm-generic/mman-common.h) */
/**@{*/
#define VMAR_LINUX_PROT_NONE      0x0        /**< PROT_NONE */
#define VMAR_LINUX_PROT_READ      0x1        /**< PROT_READ */
#define VMAR_LINUX_PROT_WRITE     0x2        /**< PROT_WRITE */
#define VMAR_LINUX_PROT_EXEC      0x4        /**< PROT_EXEC */
#define VMAR_LINUX_PROT_SEM       0x8        /**< PROT_SEM */
#define VMAR_LINUX_PROT_GROWSDOWN 0x01000000 /**< PROT_GROWSDOWN */
#define VMAR_LINUX_PROT_GROWSUP   0x02000000 /**< PROT_GROWSUP */
/**@}*/

/** @name Linux's MAP_* values (x86-64) */
/**@{*/
#define VMAR_LINUX_MAP_SHARED          0x01      /**< MAP_SHARED */
#define VMAR_LINUX_MAP_PRIVATE         0x02      /**< MAP_PRIVATE */
#define VMAR_LINUX_MAP_SHARED_VALIDATE 0x03      /**< MAP_SHARED_VALIDATE */
#define VMAR_LINUX_MAP_DROPPABLE       0x08      /**< MAP_DROPPABLE */
#define VMAR_LINUX_MAP_TYPE            0x0f      /**< MAP_TYPE */
#define VMAR_LINUX_MAP_FIXED           0x10      /**< MAP_FIXED */
#define VMAR_LINUX_MAP_ANONYMOUS       0x20      /**< MAP_ANONYMOUS */
#define VMAR_LINUX_MAP_32BIT           0x40      /**< MAP_32BIT */
#define VMAR_LINUX_MAP_GROWSDOWN       0x0100    /**< MAP_GROWSDOWN */
#define VMAR_LINUX_MAP_DENYWRITE       0x0800    /**< MAP_DENYWRITE */
#define VMAR_LINUX_MAP_EXECUTABLE      0x1000    /**< MAP_EXECUTABLE */
#define VMAR_LINUX_MAP_LOCKED          0x2000    /**< MAP_LOCKED */
#define VMAR_LINUX_MAP_NORESERVE       0x4000    /**< MAP_NORESERVE */
#define VMAR_LINUX_MAP_POPULATE        0x8000    /**< MAP_POPULATE */
#define VMAR_LINUX_MAP_NONBLOCK        0x10000   /**< MAP_NONBLOCK */
#define VMAR_LINUX_MAP_STACK           0x20000   /**< MAP_STACK */
#define VMAR_LINUX_MAP_HUGETLB         0x40000   /**< MAP_HUGETLB */
#define VMAR_LINUX_MAP_SYNC            0x80000   /**< MAP_SYNC */
#define VMAR_LINUX_MAP_FIXED_NOREPLACE 0x100000  /**< MAP_FIXED_NOREPLACE */
#define VMAR_LINUX_MAP_UNINITIALIZED   0x4000000 /**< MAP_UNINITIALIZED */
/**@}*/

/** @name Linux's MREMAP_* values */
/**@{*/
#define VMAR_LINUX_MREMAP_MAYMOVE   1 /**< MREMAP_MAYMOVE */
#define VMAR_LINUX_MREMAP_FIXED     2 /**< MREMAP_FIXED */
#define VMAR_LINUX_MREMAP_DONTUNMAP 4 /**< MREMAP_DONTUNMAP */
/**@}*/

/** @name Linux's MADV_* values (the ones the layer implements, and the
 *  others Linux knows, which the layer refuses: docs/LINUX.md) */
/**@{*/
#define VMAR_LINUX_MADV_NORMAL         0   /**< MADV_NORMAL */
#define VMAR_LINUX_MADV_RANDOM         1   /**< MADV_RANDOM */
#define VMAR_LINUX_MADV_SEQUENTIAL     2   /**< MADV_SEQUENTIAL */
#define VMAR_LINUX_MADV_WILLNEED       3   /**< MADV_WILLNEED */
#define VMAR_LINUX_MADV_DONTNEED       4   /**< MADV_DONTNEED */
#define VMAR_LINUX_MADV_FREE           8   /**< MADV_FREE */
#define VMAR_LINUX_MADV_REMOVE         9   /**< MADV_REMOVE */
#define VMAR_LINUX_MADV_DONTFORK       10  /**< MADV_DONTFORK */
#define VMAR_LINUX_MADV_DOFORK         11  /**< MADV_DOFORK */
#define VMAR_LINUX_MADV_HUGEPAGE       14  /**< MADV_HUGEPAGE */
#define VMAR_LINUX_MADV_NOHUGEPAGE     15  /**< MADV_NOHUGEPAGE */
#define VMAR_LINUX_MADV_DONTDUMP       16  /**< MADV_DONTDUMP */
#define VMAR_LINUX_MADV_DODUMP         17  /**< MADV_DODUMP */
#define VMAR_LINUX_MADV_WIPEONFORK     18  /**< MADV_WIPEONFORK */
#define VMAR_LINUX_MADV_KEEPONFORK     19  /**< MADV_KEEPONFORK */
#define VMAR_LINUX_MADV_COLD           20  /**< MADV_COLD */
#define VMAR_LINUX_MADV_PAGEOUT        21  /**< MADV_PAGEOUT */
#define VMAR_LINUX_MADV_POPULATE_READ  22  /**< MADV_POPULATE_READ */
#define VMAR_LINUX_MADV_POPULATE_WRITE 23  /**< MADV_POPULATE_WRITE */
#define VMAR_LINUX_MADV_GUARD_INSTALL  102 /**< MADV_GUARD_INSTALL */
#define VMAR_LINUX_MADV_GUARD_REMOVE   103 /**< MADV_GUARD_REMOVE */
/**@}*/

/** @name More MADV_* values the layer refuses; mseal()'s rule names them */
/**@{*/
#define VMAR_LINUX_MADV_DONTNEED_LOCKED 24 /**< MADV_DONTNEED_LOCKED */
/**@}*/

/** @name Linux's errno values (positive; the calls return them negated) */
/**@{*/
#define VMAR_LINUX_EPERM      1  /**< EPERM */
#define VMAR_LINUX_EBADF      9  /**< EBADF */
#define VMAR_LINUX_EAGAIN     11 /**< EAGAIN */
#define VMAR_LINUX_ENOMEM     12 /**< ENOMEM */
#define VMAR_LINUX_EACCES     13 /**< EACCES */
#define VMAR_LINUX_EFAULT     14 /**< EFAULT */
#define VMAR_LINUX_EEXIST     17 /**< EEXIST */
#define VMAR_LINUX_ENODEV     19 /**< ENODEV */
#define VMAR_LINUX_EINVAL     22 /**< EINVAL */
#define VMAR_LINUX_EOVERFLOW  75 /**< EOVERFLOW */
#define VMAR_LINUX_EOPNOTSUPP 95 /**< EOPNOTSUPP */
/**@}*/

/** Linux's IS_ERR_VALUE(): a return value in [-4095, -1] is an error. */
#define VMAR_LINUX_IS_ERR(ret) ((ret) < 0 && (ret) >= -4095)

/**
 * An open file as mmap sees it: the embedder resolves the fd and passes
 * this (Linux's struct file for mapping purposes). The open mode decides
 * what Linux allows, so the embedder states it.
 */
struct vmar_linux_file {
    /** The memory object that backs the file (its page cache). */
    struct vmar_object *object;
    /** Opened for reading (FMODE_READ); mmap refuses a file without it. */
    bool readable;
    /** Opened for writing (FMODE_WRITE); shared writable mappings and a
     *  later mprotect(PROT_WRITE) of a shared mapping need it. */
    bool writable;
    /** On a noexec mount: PROT_EXEC is refused (EPERM) and can never be
     *  gained. */
    bool noexec;
};

/**
 * One process's memory-management state: the space and the program
 * break. Set up with vmar_linux_mm_init(); the fields are the layer's.
 */
struct vmar_linux_mm {
    /** The address space; its user range is [mmap_min_addr, TASK_SIZE). */
    struct vmar_space *space;
    /** The space's environment (shared anonymous memory is created from
     *  it with vmar_memfd_create()). */
    const struct vmar_env *env;
    /** mmap_min_addr: the space's user_lo. */
    vmar_addr_t min_addr;
    /** TASK_SIZE: the space's user_hi. */
    vmar_addr_t task_size;
    /** The heap's start (mm->start_brk), set by the embedder (exec). */
    vmar_addr_t start_brk;
    /** The current break (mm->brk); not necessarily page aligned. */
    vmar_addr_t brk;
    /** vm.max_map_count, for mremap's up-front check; keep it equal to
     *  the space's max_map_count. */
    size_t max_map_count;
    /** RLIMIT_AS in bytes (0: none, vmar_linux_mm_init()'s value), for
     *  the checks Linux makes before the core would apply the limit
     *  (mremap's, before a MREMAP_FIXED target is unmapped); keep it
     *  equal to the space's as_limit (vmar_set_limits()). */
    vmar_size_t as_limit;
    /** Bytes Linux's locked_vm still charges that no locked mapping
     *  holds: mremap(MREMAP_DONTUNMAP) of locked memory unlocks the
     *  source but leaves its charge (Linux 6.18, docs/LINUX.md). Added
     *  to vmar_stats::locked where the layer checks the lock limit, so
     *  that it refuses what Linux refuses; VmLck is locked + this.
     *  vmar_linux_mm_init() sets it to 0. */
    vmar_size_t locked_stale;
};

/**
 * Set up the Linux state of a process over an existing space.
 *
 * @param mm             the state to initialise.
 * @param space          the process's space (its user range gives
 *                       mmap_min_addr and TASK_SIZE): a handle with
 *                       at least VMAR_RIGHT_READ, _WRITE and _EXEC, since
 *                       Linux's calls never fail for want of a right.
 * @param env            the space's environment.
 * @param start_brk      where the heap starts (page aligned, inside the
 *                       user range); the break starts there.
 * @param max_map_count  the space's mapping-count limit (0: the default,
 *                       VMAR_DEFAULT_MAX_MAP_COUNT).
 * Returns: 0 (mm->as_limit is 0, no limit: set it with the space's
 *  as_limit); -VMAR_LINUX_EINVAL for a NULL argument, a handle without
 *  READ, WRITE and EXEC, or a start_brk that is unaligned or outside the
 *  user range.
 * Locking: none (reads the space's counters under its lock).
 * On failure: *mm is untouched.
 */
int vmar_linux_mm_init(struct vmar_linux_mm *mm, struct vmar_space *space,
                       const struct vmar_env *env, vmar_addr_t start_brk,
                       size_t max_map_count);

/**
 * mmap(2). MAP_32BIT (x86-64) places a mapping without MAP_FIXED
 * bottom-up in [1 GiB, 2 GiB) of the user range (a hint is taken when it
 * is free and ends at or below 2 GiB), ENOMEM when that is full; with
 * MAP_FIXED or MAP_FIXED_NOREPLACE it is ignored, and a later mremap
 * moves such a mapping anywhere, as on Linux.
 * Anonymous mappings (MAP_ANONYMOUS) are zero-filled memory:
 * private ones plain anonymous memory, shared ones a new shared-memory
 * object each (Linux's shmem), never merged with a neighbour. Without
 * MAP_ANONYMOUS the file's object is mapped from byte `off`; a touch of
 * a page past the object's end faults with VMAR_ENXIO (SIGBUS), private
 * mappings included (VMAR_MAP_EOF_FAULT), as on Linux.
 *
 * @param mm     the process.
 * @param addr   the hint, or the address with MAP_FIXED or
 *               MAP_FIXED_NOREPLACE.
 * @param len    the length (rounded up to a page).
 * @param prot   VMAR_LINUX_PROT_* (unknown bits are ignored, as Linux).
 * @param flags  VMAR_LINUX_MAP_*.
 * @param file   the open file for a file mapping (the fd, resolved by
 *               the embedder); NULL means a bad fd. Ignored with
 *               MAP_ANONYMOUS.
 * @param off    the file offset in bytes (page aligned).
 * Returns: the mapping's address; or, in Linux's order: -EINVAL for an
 *  unaligned offset; -EBADF for a file mapping without a file; -EINVAL
 *  for a zero length; -ENOMEM when the rounded length overflows;
 *  -EOVERFLOW when offset + length overflows; -ENOMEM for a length larger
 *  than TASK_SIZE, a fixed range past TASK_SIZE or no free range (with
 *  MAP_32BIT: none in [1 GiB, 2 GiB));
 *  -EINVAL for an unaligned fixed address; -EPERM for a fixed address
 *  below mmap_min_addr; -EEXIST for MAP_FIXED_NOREPLACE over a mapping;
 *  -EPERM for MAP_FIXED over a sealed mapping (mseal());
 *  -EOPNOTSUPP for MAP_SHARED_VALIDATE with an unknown flag (files);
 *  -EACCES for a file not open for reading, or a shared writable mapping
 *  of a file not open for writing; -EPERM for PROT_EXEC of a noexec file;
 *  -EINVAL for a map type other than MAP_SHARED/MAP_PRIVATE (files also
 *  MAP_SHARED_VALIDATE), MAP_GROWSDOWN, and the flags the layer does not
 *  implement (MAP_HUGETLB, MAP_LOCKED, MAP_DROPPABLE, MAP_SYNC:
 *  docs/LINUX.md); -ENOMEM for the limits and allocation failures.
 * Locking: the space lock, through the core's calls; the caller
 *  serialises the calls on one mm ("Threading" above).
 * On failure: the space is unchanged, except that a failed MAP_FIXED may
 *  have unmapped the old range (as Linux); with MAP_POPULATE a failure to
 *  populate is ignored, as Linux does (a private writable mapping is
 *  populated with write faults, MADV_POPULATE_WRITE's path, which copy a
 *  file's pages as Linux's populate does; the rest with read faults).
 */
long vmar_linux_mmap(struct vmar_linux_mm *mm, uint64_t addr, uint64_t len,
                     uint64_t prot, uint64_t flags,
                     const struct vmar_linux_file *file, uint64_t off);

/**
 * munmap(2): remove the mappings in [addr, addr+len); holes are fine.
 *
 * @param mm    the process.
 * @param addr  start, page aligned.
 * @param len   length (rounded up to a page).
 * Returns: 0; -EINVAL (unaligned, zero length, past TASK_SIZE); -ENOMEM
 *  (splitting a mapping would exceed the mapping-count limit); -EPERM (a
 *  sealed mapping meets the range: mseal()).
 * Locking: the space lock, through the core's calls; the caller
 *  serialises the calls on one mm ("Threading" above).
 * On failure: the space is unchanged.
 */
long vmar_linux_munmap(struct vmar_linux_mm *mm, uint64_t addr, uint64_t len);

/**
 * mprotect(2). As Linux, the mappings before the first failure keep their
 * new permissions.
 *
 * @param mm    the process.
 * @param addr  start, page aligned.
 * @param len   length (rounded up; 0 succeeds at once).
 * @param prot  VMAR_LINUX_PROT_* (PROT_SEM is accepted and ignored).
 * Returns: 0; -EINVAL (unaligned, unknown prot bits, both GROWS flags,
 *  PROT_GROWSDOWN/UP: no mapping here grows); -ENOMEM (the range wraps,
 *  or a part of it is not mapped); -EACCES (beyond a mapping's maximum,
 *  e.g. write to a shared mapping of a read-only file); -EPERM (a sealed
 *  mapping, mseal(); a mapping's EACCES comes first).
 * Locking: the space lock, through the core's calls; the caller
 *  serialises the calls on one mm ("Threading" above).
 * On failure: the mapped prefix before the failure point has the new
 *  permissions; nothing after it changed.
 */
long vmar_linux_mprotect(struct vmar_linux_mm *mm, uint64_t addr, uint64_t len,
                         uint64_t prot);

/**
 * mremap(2) as Linux 6.17+ does it: shrink, grow in place or move a
 * mapping. MREMAP_FIXED without a size change is a pure move: every
 * mapping in [old_addr, old_addr+old_len) moves, the gaps between them
 * kept, each one's target unmapped just before it lands. An old_len of 0
 * on a shared mapping maps the same object pages again (a duplicate).
 *
 * @param mm        the process.
 * @param old_addr  start of the source, page aligned.
 * @param old_len   its length (rounded up to a page).
 * @param new_len   the new length (rounded up; 0 is refused).
 * @param flags     VMAR_LINUX_MREMAP_*.
 * @param new_addr  the target with MREMAP_FIXED (a hint with
 *                  MREMAP_DONTUNMAP alone).
 * Returns: the mapping's address; -EINVAL (unknown flags, unaligned
 *  addresses, zero new length, a new length or new_addr + new_len past
 *  TASK_SIZE, FIXED or DONTUNMAP without MAYMOVE, DONTUNMAP with a size
 *  change, overlapping source and target, old_len 0 on a private
 *  mapping); -EFAULT (no mapping at old_addr, the source leaves its
 *  mapping, or a pure move whose range starts in a hole); -EPERM (a
 *  MREMAP_FIXED target below mmap_min_addr, a sealed source mapping, or
 *  a MREMAP_FIXED target over a sealed mapping: mseal()); -ENOMEM (cannot grow
 * in place without MAYMOVE, no free range, limits). Locking: the space lock,
 * through the core's calls; the caller serialises the calls on one mm
 * ("Threading" above). On failure: as Linux, a MREMAP_FIXED target may already
 * be unmapped, a shrinking move may already have shrunk the source, and a pure
 * move keeps the mappings it moved before the failure.
 */
long vmar_linux_mremap(struct vmar_linux_mm *mm, uint64_t old_addr,
                       uint64_t old_len, uint64_t new_len, uint64_t flags,
                       uint64_t new_addr);

/**
 * madvise(2) for NORMAL, RANDOM, SEQUENTIAL, WILLNEED, DONTNEED, FREE,
 * REMOVE, DONTFORK, DOFORK, HUGEPAGE, NOHUGEPAGE, DONTDUMP, DODUMP,
 * WIPEONFORK, KEEPONFORK, COLD, PAGEOUT, POPULATE_READ, POPULATE_WRITE,
 * GUARD_INSTALL and GUARD_REMOVE (Linux 6.13 guard regions) (the core's
 * vmar_advise of the same number). As Linux, the
 * advice is applied to the mapped parts of the range and -ENOMEM reported
 * for the holes afterwards; POPULATE_* instead fault the range in from
 * its start and stop at the first hole or failure (madvise_populate()).
 *
 * @param mm      the process.
 * @param addr    start, page aligned.
 * @param len     length (rounded up; 0 succeeds).
 * @param advice  a VMAR_LINUX_MADV_* value.
 * Returns: 0; -EINVAL (unknown or unimplemented advice, unaligned start,
 *  a wrapping range, MADV_FREE on a shared or file mapping, WIPEONFORK on
 *  a shared or file mapping, REMOVE on private anonymous memory,
 *  POPULATE_* reaching device memory or a mapping without the access's
 *  permission, GUARD_* on device memory, GUARD_INSTALL on locked memory);
 *  -EACCES (REMOVE on a private file mapping or a shared
 *  one whose file is not open for writing); -EOPNOTSUPP (REMOVE on a file
 *  whose object cannot punch holes); -ENOMEM
 *  (a hole in the range, the mapping-count limit, or a populate out of
 *  memory); -EFAULT (a populate fault that would raise SIGBUS: past the
 *  end of a file, or the object failed, or one that reaches a guard
 *  marker); -EPERM (discarding advice, Linux's is_discard(): FREE,
 *  DONTNEED, REMOVE, DONTFORK, WIPEONFORK, GUARD_INSTALL, on a sealed
 *  read-only private anonymous mapping: mseal()).
 * Locking: the space lock, through the core's calls; the caller
 *  serialises the calls on one mm ("Threading" above).
 * On failure: the mappings before the failure point have the advice
 *  (for POPULATE_*, the pages before it are populated).
 */
long vmar_linux_madvise(struct vmar_linux_mm *mm, uint64_t addr, uint64_t len,
                        uint64_t advice);

/**
 * mincore(2): one byte per page of [addr, addr+len), 1 when the page is
 * in memory (mapped, or held by the shared object it maps), else 0.
 *
 * @param mm    the process.
 * @param addr  start, page aligned.
 * @param len   length (rounded up; 0 succeeds and writes nothing).
 * @param vec   receives one byte per page.
 * Returns: 0; -EINVAL (unaligned); -ENOMEM (the range leaves TASK_SIZE or
 *  a page is not mapped); -EFAULT (vec is NULL with a non-zero length).
 * Locking: the space lock, through the core's calls; the caller
 *  serialises the calls on one mm ("Threading" above).
 * On failure: vec holds the bytes of the pages before the hole.
 */
long vmar_linux_mincore(struct vmar_linux_mm *mm, uint64_t addr, uint64_t len,
                        unsigned char *vec);

/**
 * brk(2): move the program break. Growing maps private anonymous
 * read-write memory and needs [old break, new break + one page) free;
 * shrinking unmaps.
 *
 * @param mm   the process.
 * @param brk  the wanted break (0 or anything below start_brk only asks
 *             for the current one).
 * Returns: the new break on success; the current break, unchanged, on
 *  any failure (as Linux: brk never returns an errno).
 * Locking: the space lock, through the core's calls; the caller
 *  serialises the calls on one mm ("Threading" above).
 * On failure: nothing changes.
 */
uint64_t vmar_linux_brk(struct vmar_linux_mm *mm, uint64_t brk);

/**
 * mseal(2) (Linux 6.10): seal every mapping of [addr, addr+len) against
 * later changes (munmap, mmap MAP_FIXED over it, mremap of it or onto it,
 * mprotect, discarding madvise on read-only private anonymous memory and
 * a brk shrink into it: each refused with -EPERM, and fork keeps the
 * seal). The core's vmar_seal().
 *
 * @param mm     the process.
 * @param addr   start, page aligned.
 * @param len    length (rounded up; 0 succeeds at once).
 * @param flags  must be 0.
 * Returns: 0; -EINVAL (non-zero flags, unaligned start, a length that
 *  rounds up to 0 or a range that wraps); -ENOMEM (a part of the range
 *  is not mapped, or the mapping-count limit).
 * Locking: the space lock, through the core's call; the caller
 *  serialises the calls on one mm ("Threading" above).
 * On failure: nothing changes (Linux checks the whole range for holes
 *  before it seals anything).
 */
long vmar_linux_mseal(struct vmar_linux_mm *mm, uint64_t addr, uint64_t len,
                      uint64_t flags);

/** @name mlock2() and mlockall() flags */
/**@{*/
#define VMAR_LINUX_MLOCK_ONFAULT 0x01 /**< MLOCK_ONFAULT */
#define VMAR_LINUX_MCL_CURRENT   1    /**< MCL_CURRENT */
#define VMAR_LINUX_MCL_FUTURE    2    /**< MCL_FUTURE */
#define VMAR_LINUX_MCL_ONFAULT   4    /**< MCL_ONFAULT */
/**@}*/

/**
 * mlock2(2) (mm/mlock.c do_mlock): lock the mappings of the pages of
 * [addr, addr+len) in memory and, without MLOCK_ONFAULT, populate them.
 * The limit is the space's (vmar_set_mlock_limit(): RLIMIT_MEMLOCK, and
 * CAP_IPC_LOCK as an unlimited space). mlock(2) is this with flags 0.
 *
 * @param mm     the process.
 * @param addr   start (rounded down to its page).
 * @param len    length (with addr's offset, rounded up; 0 succeeds).
 * @param flags  0 or VMAR_LINUX_MLOCK_ONFAULT.
 * Returns: 0; -EINVAL (unknown flags, a range that wraps); -EPERM (the
 *  limit applies and is 0); -ENOMEM (the locked pages would pass the
 *  limit, a part of the range is not mapped, the mapping-count limit;
 *  or, with the range locked, its population met a PROT_NONE mapping
 *  or the end of a shared file); -EAGAIN (with the range locked, a page
 *  could not be allocated).
 * Locking: the space lock, through the core's calls; the caller
 *  serialises the calls on one mm.
 * On failure: as Linux, the mappings before a hole stay locked.
 */
long vmar_linux_mlock2(struct vmar_linux_mm *mm, uint64_t addr, uint64_t len,
                       uint64_t flags);

/**
 * munlock(2): unlock the mappings of the pages of [addr, addr+len).
 *
 * @param mm    the process.
 * @param addr  start (rounded down to its page).
 * @param len   length (with addr's offset, rounded up; 0 succeeds).
 * Returns: 0; -EINVAL (a range that wraps); -ENOMEM (a part of the range
 *  is not mapped, the mapping-count limit).
 * Locking: as vmar_linux_mlock2().
 * On failure: as Linux, the mappings before a hole stay unlocked.
 */
long vmar_linux_munlock(struct vmar_linux_mm *mm, uint64_t addr, uint64_t len);

/**
 * mlockall(2): vmar_mlockall() with Linux's checks.
 *
 * @param mm     the process.
 * @param flags  VMAR_LINUX_MCL_* bits.
 * Returns: 0; -EINVAL (no flag, an unknown one, MCL_ONFAULT alone);
 *  -EPERM (the limit applies and is 0); -ENOMEM (MCL_CURRENT while the
 *  mapped pages pass the limit).
 * Locking: as vmar_linux_mlock2().
 * On failure: nothing changes.
 */
long vmar_linux_mlockall(struct vmar_linux_mm *mm, uint64_t flags);

/**
 * munlockall(2): unlock every mapping and end MCL_FUTURE.
 *
 * @param mm  the process.
 * Returns: 0.
 * Locking: as vmar_linux_mlock2().
 * On failure: cannot fail.
 */
long vmar_linux_munlockall(struct vmar_linux_mm *mm);

#ifdef __cplusplus
}
#endif

#endif /* VMAR_LINUX_H */
