/* SPDX-License-Identifier: MIT */
/**
 * @file fault.h
 * @brief The page-fault handler and user-memory access.
 *
 * A kernel's trap handler calls vmar_fault() with the faulting address and
 * the kind of access, then returns to the faulting instruction when it
 * gets 0, or turns the error into a signal. vmar_read() and vmar_write()
 * are copy_from_user/copy_to_user for any space (not only the current
 * one): they fault pages in exactly as a user access would.
 */
#ifndef VMAR_FAULT_H
#define VMAR_FAULT_H

#include <vmar/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct vmar_space;

/** The kind of access that faulted (exactly one per call). */
enum vmar_access {
    VMAR_ACCESS_READ = 1u << 0,  /**< a load */
    VMAR_ACCESS_WRITE = 1u << 1, /**< a store (x86: W bit in the error code) */
    VMAR_ACCESS_EXEC = 1u << 2,  /**< an instruction fetch */
};

/**
 * The permission an access needs: VMAR_PROT_READ, _WRITE or _EXEC for
 * VMAR_ACCESS_READ, _WRITE or _EXEC (0 for anything else).
 *
 * @param access  one vmar_access value.
 * Returns: a vmar_prot bit, or 0.
 * Locking: none.
 * On failure: cannot fail.
 */
static inline unsigned vmar_access_prot(unsigned access)
{
    switch (access) {
    case VMAR_ACCESS_READ:
        return VMAR_PROT_READ;
    case VMAR_ACCESS_WRITE:
        return VMAR_PROT_WRITE;
    case VMAR_ACCESS_EXEC:
        return VMAR_PROT_EXEC;
    default:
        return 0;
    }
}

/** vmar_fault() flags. */
enum vmar_fault_flags {
    /** The access came from user mode. Kernel-mode accesses to user
     *  memory (copy_from_user) follow the same rules. */
    VMAR_FAULT_USER = 1u << 0,
    /** The caller holds the space lock exclusively: a space whose lock
     *  the embedder takes (no vmar_space_opts::lock) only. A fault that
     *  must grow a VMAR_MAP_GROWSDOWN mapping grows it then; without the
     *  flag it returns VMAR_EAGAIN instead (Linux's mmap_lock upgrade). */
    VMAR_FAULT_EXCLUSIVE = 1u << 1,
};

/**
 * Resolve a page fault at `addr`.
 *
 * Anonymous mappings are filled with zeroed frames on first touch. A fault
 * on a page that is already mapped with enough permission (another CPU
 * fixed it, or a stale TLB entry) succeeds at once.
 *
 * @param space   the faulting address space.
 * @param addr    the faulting address (any byte of the page).
 * @param access  one vmar_access value.
 * @param flags   vmar_fault_flags.
 * Returns: 0 when the access can be retried (after growing a
 *  VMAR_MAP_GROWSDOWN mapping down to `addr` when it lay below one:
 *  vmar_stats::stack_growths counts it);
 *  VMAR_ENOENT: no mapping contains `addr`, and none grows down to it
 *   (SIGSEGV, SEGV_MAPERR);
 *  VMAR_EACCES: the mapping does not allow `access` (SIGSEGV,
 *   SEGV_ACCERR), or the handle lacks the access's right
 *   (VMAR_RIGHT_READ, _WRITE or _EXEC: vmar_access_prot() of it);
 *  VMAR_ENOMEM: no frame or page-table page could be allocated (the
 *   kernel's out-of-memory path);
 *  VMAR_ENXIO: the page lies past the end of the mapping's memory object
 *   in a shared (or VMAR_MAP_EOF_FAULT) mapping (SIGBUS, BUS_ADRERR);
 *  any other error of the object's get_page or notify_write, e.g.
 *   VMAR_EIO (SIGBUS), which is also the answer to a page get_page must
 *   not return (vmar/object.h: e.g. a private-anonymous frame, or one at
 *   or above the backend's pa_top, vmar/mmu.h, which no entry can hold);
 *  VMAR_EFAULT: the page holds a guard marker (VMAR_ADVISE_GUARD_INSTALL:
 *   SIGSEGV, SEGV_MAPERR, as Linux's VM_FAULT_SIGSEGV; checked after the
 *   mapping's permission, so VMAR_EACCES comes first, and before the
 *   object's end and its get_page), or a device page has no translation
 *   (cannot happen unless a backend lost it: device pages are mapped from
 *   map to unmap);
 *  VMAR_EAGAIN: `addr` lies below a VMAR_MAP_GROWSDOWN mapping that
 *   must grow, and the embedder holds the space lock (its own) without
 *   saying it holds it exclusively: nothing changed; call again with the
 *   lock held exclusively and VMAR_FAULT_EXCLUSIVE;
 *  VMAR_EINVAL: `access` is not exactly one vmar_access value, `flags`
 *   has unknown bits, or VMAR_FAULT_EXCLUSIVE for a space whose lock
 *   libvmar takes.
 * Locking: when libvmar takes the space lock itself (env->lock and
 *  vmar_space_opts::lock), enters the fault gate of the page's 2 MiB leaf
 *  block instead (docs/DESIGN.md, "Locking"): faults run in parallel with
 *  each other and with queries, and write no cache line that faults on
 *  other blocks write; a layout change (the exclusive lock) waits for the
 *  faults inside the blocks it changes (every block, except for the
 *  commit of a vmar_map, a vmar_protect, a vmar_advise hint, or an unmap
 *  or drop of pages never touched, which shut out only the blocks of the
 *  mappings they change) and holds new ones off there, which spin a while and
 * then wait for it on the space lock, shared. Otherwise (the embedder locks)
 * takes the space lock shared. Growing a stack is a layout change: the fault
 * takes the space lock exclusively for it (libvmar's lock), or needs the
 * embedder's held exclusively (VMAR_FAULT_EXCLUSIVE). The page-table work is
 * serialised per leaf block by a page-table spinlock, never held across a sleep
 * except env->frame_alloc of a page-table page; what may sleep (a data frame,
 *  the object's get_page and notify_write) runs outside the gate.
 * On failure: nothing changed.
 */
int vmar_fault(struct vmar_space *space, vmar_addr_t addr, unsigned access,
               unsigned flags);

/**
 * Copy `len` bytes from user address `src` of `space` into `dst`
 * (copy_from_user, /proc/pid/mem reads). Pages are faulted in as a user
 * read would; the space need not be the current one.
 *
 * @param space  the address space to read.
 * @param src    user address of the first byte.
 * @param dst    kernel buffer of at least `len` bytes.
 * @param len    bytes to copy (0 is a no-op).
 * @param done   if not NULL, receives the number of bytes copied, also on
 *               failure (the copy stops at the first bad page).
 * Returns: 0; VMAR_EACCES when the handle lacks VMAR_RIGHT_READ (nothing
 *  copied); VMAR_EFAULT at the first page that is not mapped, not
 *  readable, device memory or a guard marker, or when [src, src+len)
 *  wraps; VMAR_ENOMEM if a
 * page could not be faulted in. Locking: takes the space lock (shared, as
 * vmar_fault) per page. On failure: bytes before the bad page were copied; the
 * space may have gained the pages that were faulted in (as a user access
 * would).
 */
int vmar_read(struct vmar_space *space, vmar_addr_t src, void *dst, size_t len,
              size_t *done);

/**
 * Copy `len` bytes from `src` to user address `dst` of `space`
 * (copy_to_user). Pages must be writable by their mapping.
 *
 * @param space  the address space to write.
 * @param dst    user address of the first byte.
 * @param src    kernel buffer of at least `len` bytes.
 * @param len    bytes to copy (0 is a no-op).
 * @param done   if not NULL, receives the number of bytes copied.
 * Returns: 0; VMAR_EACCES when the handle lacks VMAR_RIGHT_WRITE (nothing
 *  written); VMAR_EFAULT at the first page that is not mapped, not
 *  writable, device memory or a guard marker, or when the range wraps;
 * VMAR_ENOMEM if a page could not be faulted in. Locking: takes the space lock
 * (shared) per page. On failure: bytes before the bad page were written; pages
 * faulted in stay.
 */
int vmar_write(struct vmar_space *space, vmar_addr_t dst, const void *src,
               size_t len, size_t *done);

/** vmar_read_flags() and vmar_write_flags() flags. */
enum vmar_rw_flags {
    /** A forced access (Linux's FOLL_FORCE: ptrace PEEK/POKE and
     *  /proc/pid/mem; process_vm_readv/writev do not force): the mapping's
     *  maximum permissions decide instead of its current ones. A forced
     *  read reads a page whose mapping lacks VMAR_PROT_READ (PROT_NONE,
     *  write- or execute-only) when the maximum has READ. A forced write
     *  into a mapping without VMAR_PROT_WRITE needs private memory
     *  (anonymous or a private object mapping) with WRITE in its maximum:
     *  it writes the page's private copy (demand-zero or copied from the
     *  object or a frame shared by fork, as a write fault would) and
     *  leaves the leaf read-only, so that a later user write still
     *  faults (Linux's breakpoint in a read-only text mapping). Refused,
     *  VMAR_EFAULT as any bad page: shared memory without VMAR_PROT_WRITE
     *  now (Linux refuses it whatever the file's mode), a maximum without
     *  the permission, device memory, no mapping (a stack never grows). */
    VMAR_RW_FORCE = 1u << 0,
};

/**
 * vmar_read() with flags, e.g. a debugger's forced read.
 *
 * @param space  the address space to read.
 * @param src    user address of the first byte.
 * @param dst    kernel buffer of at least `len` bytes.
 * @param len    bytes to copy (0 is a no-op).
 * @param flags  vmar_rw_flags (0: vmar_read()).
 * @param done   if not NULL, receives the number of bytes copied, also on
 *               failure.
 * Returns: as vmar_read(); VMAR_EINVAL for unknown flags (nothing
 *  copied); with VMAR_RW_FORCE, VMAR_EFAULT also at the first page whose
 *  mapping's maximum lacks VMAR_PROT_READ, and no error for one whose
 *  current permissions lack it.
 * Locking: takes the space lock (shared, as vmar_fault) per page.
 * On failure: bytes before the bad page were copied; pages faulted in
 *  stay (a forced read of an absent page faults it in with the
 *  mapping's permissions, as a read fault would).
 */
int vmar_read_flags(struct vmar_space *space, vmar_addr_t src, void *dst,
                    size_t len, unsigned flags, size_t *done);

/**
 * vmar_write() with flags, e.g. a debugger's forced write (ptrace
 * POKETEXT, a /proc/pid/mem write).
 *
 * @param space  the address space to write.
 * @param dst    user address of the first byte.
 * @param src    kernel buffer of at least `len` bytes.
 * @param len    bytes to copy (0 is a no-op).
 * @param flags  vmar_rw_flags (0: vmar_write()).
 * @param done   if not NULL, receives the number of bytes copied.
 * Returns: as vmar_write(); VMAR_EINVAL for unknown flags (nothing
 *  written); with VMAR_RW_FORCE, VMAR_EFAULT also at the first page of a
 *  mapping without VMAR_PROT_WRITE that is shared or whose maximum lacks
 *  WRITE, and no error for a private one whose maximum has it (its
 *  private copy is written; the leaf stays read-only).
 * Locking: takes the space lock (shared) per page.
 * On failure: bytes before the bad page were written; pages faulted in
 *  and private copies made stay.
 */
int vmar_write_flags(struct vmar_space *space, vmar_addr_t dst, const void *src,
                     size_t len, unsigned flags, size_t *done);

/**
 * Zero `len` bytes at user address `dst` of `space` (clear_user, the tail
 * of an ELF segment). Pages must be writable by their mapping.
 *
 * @param space  the address space to write.
 * @param dst    user address of the first byte.
 * @param len    bytes to zero (0 is a no-op).
 * @param done   if not NULL, receives the number of bytes zeroed.
 * Returns: as vmar_write().
 * Locking: takes the space lock (shared) per page.
 * On failure: bytes before the bad page were zeroed; pages faulted in
 *  stay.
 */
int vmar_fill_zero(struct vmar_space *space, vmar_addr_t dst, size_t len,
                   size_t *done);

#ifdef __cplusplus
}
#endif

#endif /* VMAR_FAULT_H */
