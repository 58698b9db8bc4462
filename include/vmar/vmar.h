/* SPDX-License-Identifier: MIT */
/**
 * @file vmar.h
 * @brief libvmar: a portable manager of a process's virtual address space.
 *
 * Include this one header. A space is an opaque handle built from an
 * environment (vmar/env.h: memory, frames, locks) and an MMU backend
 * (vmar/mmu.h). Every call returns 0 or a negative VMAR_E* code
 * (vmar/error.h) and, on failure, leaves the space exactly as it was:
 * mappings, page tables, counters; nothing is leaked.
 *
 * Ranges are [addr, addr+size): `addr` and `size` are multiples of
 * VMAR_PAGE_SIZE, `size` is non-zero and the range does not wrap.
 */
#ifndef VMAR_VMAR_H
#define VMAR_VMAR_H

#include <vmar/env.h>
#include <vmar/error.h>
#include <vmar/fault.h>
#include <vmar/mmu.h>
#include <vmar/object.h>
#include <vmar/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Major version of these headers. CMake checks that the three equal
 *  project(vmar VERSION); vmar/version.h adds the string, the encoded
 *  number and the run-time vmar_version(). */
#define VMAR_VERSION_MAJOR 0
/** Minor version: while the major version is 0 it may break the API. */
#define VMAR_VERSION_MINOR 1
/** Patch version: fixes only. */
#define VMAR_VERSION_PATCH 0

/** An address space. Opaque. */
struct vmar_space;

/** Default lowest user address (Linux's mmap_min_addr default). */
#define VMAR_DEFAULT_USER_LO ((vmar_addr_t)0x10000)
/** Default limit on the number of mappings (Linux vm.max_map_count). */
#define VMAR_DEFAULT_MAX_MAP_COUNT 65530u

/** vmar_space_opts::flags. */
enum vmar_space_flags {
    /** Placement without an address searches bottom-up (lowest fit)
     *  instead of the default top-down (highest fit). */
    VMAR_SPACE_BOTTOM_UP = 1u << 0,
};

/**
 * Options for vmar_space_create(). Zero means "default" for every field,
 * so designated initializers name only what differs.
 */
struct vmar_space_opts {
    /** Required. The environment; libvmar keeps this pointer, so the
     *  struct must outlive the space and every handle and child of it. */
    const struct vmar_env *env;
    /** Required. The MMU backend, e.g. `&vmar_mmu_sim`; kept like env
     *  (normally constant data). */
    const struct vmar_mmu_ops *mmu;
    /** Backend configuration passed to mmu->create (backend specific).
     *  Read only during vmar_space_create(): libvmar keeps no pointer to
     *  it, so it may live on the caller's stack. What the backend needs
     *  later it copies; what the config points to (the sim machine, a
     *  handle to fill) follows the backend header's rules. A space
     *  created with a non-NULL config forks only with the child's own
     *  (vmar_fork_opts::mmu_config). */
    const void *mmu_config;
    /** Lowest user address, page aligned. 0: VMAR_DEFAULT_USER_LO. */
    vmar_addr_t user_lo;
    /** One past the highest user address, page aligned, at most
     *  mmu->user_top. 0: mmu->user_top. */
    vmar_addr_t user_hi;
    /** Limit on the sum of mapping sizes in bytes (RLIMIT_AS). 0: none. */
    vmar_size_t as_limit;
    /** Limit on the number of mappings. 0: VMAR_DEFAULT_MAX_MAP_COUNT. */
    size_t max_map_count;
    /** Bytes kept free below a VMAR_MAP_STACK or VMAR_MAP_GROWSDOWN
     *  mapping when placing other mappings, and between a grow-down
     *  mapping and an accessible mapping below it when it grows (Linux
     *  stack_guard_gap). Page multiple. 0: no guard. */
    vmar_size_t stack_guard;
    /** Bits of page-granular randomisation for placement without an
     *  address (ASLR). Needs env->random. 0: deterministic. At most 40.
     *  A draw that would shift the window by the whole user range or more
     *  falls back to the unshifted search (see docs/DESIGN.md). */
    unsigned aslr_bits;
    /** vmar_space_flags. */
    unsigned flags;
    /** The embedder's lock object for this space, passed to env->lock.
     *  NULL: the embedder serialises calls itself. Kept: it must outlive
     *  the space. */
    void *lock;
    /** Largest size in bytes a VMAR_MAP_GROWSDOWN mapping may grow to
     *  (RLIMIT_STACK); 0: no limit. Changed with vmar_set_stack_limit(). */
    vmar_size_t stack_limit;
    /** Limit on locked memory in bytes (RLIMIT_MEMLOCK, rounded down to
     *  pages), applied only when mlock_limited is set. Changed with
     *  vmar_set_mlock_limit(). */
    vmar_size_t mlock_limit;
    /** Whether mlock_limit applies: true for a process without Linux's
     *  CAP_IPC_LOCK. false (the default) is the capability: locking is
     *  unlimited, as for root or RLIM_INFINITY. */
    bool mlock_limited;
};

/**
 * Create an empty address space.
 *
 * @param opts  what to build it from: env and mmu are required, every
 *              other zero field means its default (see vmar_space_opts).
 * @param out   receives the new space on success.
 * Returns: 0 and the space in *out; VMAR_ENOTSUP for a backend built for
 * a newer VMAR_MMU_ABI than this library's (logged); VMAR_EINVAL for a
 * missing required env member, a backend without a required member or
 * with ABI 0, an unaligned or empty user range,
 * a user range beyond the backend's, aslr_bits > 40 or without
 * env->random, a stack_guard that is unaligned or larger than the user
 * range, or unknown flags; VMAR_ENOMEM.
 * Locking: none (the space does not exist yet).
 * On failure: nothing allocated, *out untouched.
 */
int vmar_space_create(const struct vmar_space_opts *opts,
                      struct vmar_space **out);

/**
 * Release a handle. The space goes with its last handle (the one
 * vmar_space_create() returned and every vmar_space_dup()): then
 * everything is unmapped and flushed, and every frame, page-table page and
 * metadata block freed. The space must not be active on any CPU then.
 *
 * @param space  the handle; invalid afterwards.
 * Locking: the caller guarantees no other call on the space is running
 *  when the last handle goes (the space lock is not taken).
 * On failure: cannot fail.
 */
void vmar_space_destroy(struct vmar_space *space);

/**
 * Rights of a space handle (the reference's Vmar<Rights>). READ, WRITE
 * and EXEC have the values of the vmar_prot bits they cover.
 *
 * What each operation needs (docs/DESIGN.md, "Rights", gives the reasons).
 * A missing right is VMAR_EACCES before anything changes. In short: READ
 * to see or copy contents, WRITE to change or destroy them (unmapping and
 * replacing included), EXEC to fetch instructions; granting a permission
 * needs its right; looking at the layout needs none.
 *
 * | Operation                              | Rights the handle needs       |
 * |----------------------------------------|-------------------------------|
 * | vmar_map, ANY / HINT / FIXED_NOREPLACE | the bits of prot and of the   |
 * |  (any backing, POPULATE or not)        |  maximum (RWX minus deny_prot |
 * |                                        |  minus what an object denies) |
 * | vmar_map, VMAR_PLACE_FIXED             | the same, and WRITE (it       |
 * |                                        |  replaces what is there)      |
 * | vmar_protect                           | the bits of the new prot      |
 * |                                        |  (lowering needs none)        |
 * | vmar_unmap, vmar_clear, vmar_seal      | WRITE                         |
 * | vmar_mlock, vmar_munlock,              | WRITE (locking refuses        |
 * |  vmar_mlockall, vmar_munlockall        |  DONTNEED and FREE)           |
 * | vmar_pin                               | READ; WRITE too for a write   |
 * |                                        |  pin                          |
 * | vmar_unpin, vmar_set_mlock_limit       | none                          |
 * | vmar_remap, vmar_resize                | WRITE                         |
 * | vmar_advise DONTNEED, FREE, REMOVE,    | WRITE (zeroes memory)         |
 * |  GUARD_INSTALL                         |                               |
 * | vmar_advise POPULATE_READ, _WRITE      | READ, WRITE: as vmar_fault    |
 * | vmar_advise NORMAL, RANDOM, SEQUENTIAL,| none (hints: no contents     |
 * |  WILLNEED, DONTFORK, DOFORK, DONTDUMP, |  change, no access granted)   |
 * |  DODUMP, HUGEPAGE, NOHUGEPAGE, COLD,   |                               |
 * |  PAGEOUT, WIPEONFORK, KEEPONFORK,      |                               |
 * |  GUARD_REMOVE; vmar_inherit            |                               |
 * | vmar_fault                             | READ, WRITE or EXEC: the      |
 * |                                        |  right of `access`            |
 * | vmar_read                              | READ                          |
 * | vmar_write, vmar_fill_zero             | WRITE                         |
 * | vmar_fork                              | READ (the child, a copy, gets |
 * |                                        |  the handle's rights)         |
 * | vmar_space_dup                         | DUP and every right it gives  |
 * | vmar_query, vmar_iterate,              | none (the layout and counters,|
 * |  vmar_resident, vmar_stats, vmar_dump, |  not the contents)            |
 * |  vmar_iterate_stats, vmar_smaps,       |                               |
 * |  vmar_status,                          |                               |
 * |  vmar_check, vmar_space_rights         |                               |
 * | vmar_space_activation,                 | none (what the hardware sees; |
 * |  vmar_space_translate                  |  a kernel keeps it to itself) |
 * | vmar_set_limits                        | none (cannot fail: a kernel   |
 * |                                        |  keeps it to its own handle)  |
 * | vmar_space_destroy                     | none (drops this handle)      |
 */
enum vmar_rights {
    /** vmar_read(), read faults, vmar_fork(); mappings and protections
     *  with VMAR_PROT_READ. */
    VMAR_RIGHT_READ = 1u << 0,
    /** vmar_write(), vmar_fill_zero(), write faults; unmap, clear, remap,
     *  resize, FIXED maps, DONTNEED/FREE/REMOVE advice; mappings and
     * protections with VMAR_PROT_WRITE. */
    VMAR_RIGHT_WRITE = 1u << 1,
    /** Exec faults; mappings and protections with VMAR_PROT_EXEC. */
    VMAR_RIGHT_EXEC = 1u << 2,
    /** vmar_space_dup(). */
    VMAR_RIGHT_DUP = 1u << 3,
    /** What vmar_space_create() gives. */
    VMAR_RIGHTS_ALL = 0xfu,
};

/**
 * Make another handle to the same space with the same or fewer rights.
 * What each operation needs of a handle is the table at vmar_rights; e.g.
 * a mapping made through a handle needs rights covering its permissions
 * and its maximum permissions (set deny_prot for what the handle lacks).
 * Kernels that do not use rights never call this.
 *
 * @param space   a handle with VMAR_RIGHT_DUP.
 * @param rights  vmar_rights bits, a subset of the handle's.
 * @param out     receives the new handle.
 * Returns: 0; VMAR_EINVAL (NULL, unknown bits); VMAR_EACCES (no DUP right,
 *  or rights the handle does not hold); VMAR_ENOMEM.
 * Locking: none (the handle count is atomic).
 * On failure: nothing allocated, *out untouched.
 */
int vmar_space_dup(struct vmar_space *space, unsigned rights,
                   struct vmar_space **out);

/**
 * The rights of a handle.
 *
 * @param space  the handle (NULL: 0).
 * Returns: vmar_rights bits.
 * Locking: none.
 * On failure: cannot fail.
 */
unsigned vmar_space_rights(const struct vmar_space *space);

/**
 * What a CPU loads to run the space (pmap_activate(9)): its root table's
 * physical address and the translation register's value (CR3 with the
 * PCID on x86-64, satp with MODE and ASID on RISC-V; see
 * vmar_mmu_activation). Both are fixed for the life of the space; a
 * kernel reads them once, when it switches to the space.
 *
 * @param space  the space (any handle of it).
 * @param out    receives the description.
 * Returns: 0; VMAR_EINVAL when space or out is NULL; VMAR_ENOTSUP when
 *  the space's backend has no vmar_mmu_ops::activation.
 * Locking: none (nothing it reads ever changes).
 * On failure: *out untouched.
 */
int vmar_space_activation(struct vmar_space *space,
                          struct vmar_mmu_activation *out);

/**
 * The leaf that translates the page holding `va`, as a CPU's page-table
 * walk finds it on a TLB miss (pmap_extract(9)): frame, permission,
 * attributes. For simulated hardware (vmar/sim.h) and debuggers; the
 * kernel's own accesses go through vmar_fault(), vmar_read() and
 * vmar_write().
 *
 * @param space  the space (any handle of it).
 * @param va     any address; its page is looked up.
 * @param out    receives the leaf; pa is the page's own frame, inside a
 *               huge leaf too.
 * Returns: 0 and the leaf; VMAR_ENOENT when no leaf maps the page (or the
 *  page is at or above the backend's user_top); VMAR_EINVAL when space or
 *  out is NULL.
 * Locking: takes no lock, as a hardware walker takes none: the result is
 *  consistent only when no other thread changes the table meanwhile (the
 *  caller holds the space lock at least shared), or with a backend whose
 *  find_next is safe against concurrent changes (the sim backend's is).
 * On failure: *out untouched.
 */
int vmar_space_translate(struct vmar_space *space, vmar_addr_t va,
                         struct vmar_pte *out);

/** Where vmar_map() puts a mapping. */
enum vmar_place {
    /** Anywhere free in the user range; `addr` is ignored. */
    VMAR_PLACE_ANY = 0,
    /** At `addr` if that range is free, otherwise as VMAR_PLACE_ANY. */
    VMAR_PLACE_HINT = 1,
    /** Exactly at `addr`; VMAR_EEXIST if anything overlaps. */
    VMAR_PLACE_FIXED_NOREPLACE = 2,
    /** Exactly at `addr`, atomically replacing whatever overlaps. */
    VMAR_PLACE_FIXED = 3,
};

/** What backs a mapping. */
enum vmar_backing {
    /** Anonymous zero-filled memory. */
    VMAR_BACKING_ANON = 0,
    /** A memory object (vmar/object.h) from byte `offset` on: shared
     *  mappings map the object's pages, private ones copy a page on its
     *  first write. Needs env->frame_refcount. */
    VMAR_BACKING_OBJECT = 1,
    /** Device (I/O) memory at `paddr` with cache policy `cache`: every
     *  page is mapped at map time, never resident (not RSS), never freed,
     *  never merged, and not reachable through vmar_read/vmar_write. */
    VMAR_BACKING_DEVICE = 2,
};

/** vmar_map_opts::flags. */
enum vmar_map_flags {
    /** Shared: fork shares the pages instead of copying them. */
    VMAR_MAP_SHARED = 1u << 0,
    /** Allocate and map every page now instead of on first touch (nothing
     *  for VMAR_PROT_NONE, as Linux). With VMAR_PLACE_FIXED over populated
     *  pages, the new frames are reserved before the old ones are freed,
     *  so the call needs both for a moment: the price of all-or-nothing. */
    VMAR_MAP_POPULATE = 1u << 1,
    /** A stack: placement keeps vmar_space_opts::stack_guard free below. */
    VMAR_MAP_STACK = 1u << 2,
    /** For VMAR_PLACE_ANY/HINT fallback: search bottom-up for this call. */
    VMAR_MAP_BOTTOM_UP = 1u << 3,
    /** ... top-down for this call (overrides VMAR_SPACE_BOTTOM_UP). */
    VMAR_MAP_TOP_DOWN = 1u << 4,
    /** No randomisation for this call even when the space has ASLR. */
    VMAR_MAP_NO_RANDOM = 1u << 5,
    /** Fault-around (object mappings): a read fault also maps up to 16
     *  object pages around the address that are already in memory,
     *  within the mapping and one last-level page table. */
    VMAR_MAP_FAULT_AROUND = 1u << 6,
    /** vmar_fork() leaves this mapping out of the child (Linux
     *  MADV_DONTFORK). Also set by vmar_advise(). */
    VMAR_MAP_DONTFORK = 1u << 7,
    /** Access-pattern hints (Linux MADV_SEQUENTIAL / MADV_RANDOM, which
     *  keep mappings with different hints apart). Also set by
     *  vmar_advise(); at most one of the two. */
    VMAR_MAP_SEQUENTIAL = 1u << 8,
    /** See VMAR_MAP_SEQUENTIAL. */
    VMAR_MAP_RANDOM = 1u << 9,
    /** Object mappings: a private mapping's pages past the object's end
     *  fault with VMAR_ENXIO too (Linux's SIGBUS for any file mapping),
     *  instead of the default zero-fill (the reference's behaviour). */
    VMAR_MAP_EOF_FAULT = 1u << 10,
    /** A stack that grows down (Linux MAP_GROWSDOWN): private anonymous
     *  memory only (VMAR_EINVAL otherwise). vmar_fault() of an address
     *  below it, where no mapping is, first extends it down to that
     *  page, as Linux's expand_stack(): refused (VMAR_ENOENT, the fault
     *  of a hole) below user_lo, when an accessible mapping that does
     *  not grow down would then lie closer below than
     *  vmar_space_opts::stack_guard, when the mapping would exceed the
     *  stack limit (vmar_set_stack_limit()) or the space the as_limit.
     *  Placement keeps the stack guard free below it, as for
     *  VMAR_MAP_STACK. Kept by the mapping (vmar_mapping_info::flags);
     *  mappings merge only with mappings that have it too. */
    VMAR_MAP_GROWSDOWN = 1u << 11,
    /** Locked in memory (Linux's MAP_LOCKED, VM_LOCKED): every page is
     *  populated at map time, as with VMAR_MAP_POPULATE, and stays
     *  populated: vmar_advise() DONTNEED and FREE refuse it with
     *  VMAR_EINVAL. Also set by vmar_mlock() and vmar_mlockall(),
     *  cleared by vmar_munlock() and vmar_munlockall(). Counted in
     *  vmar_stats::locked and held to the space's lock limit
     *  (vmar_set_mlock_limit(): VMAR_EPERM when the limit is 0,
     *  VMAR_EAGAIN when the map would pass it; the whole size is
     *  charged, an overwrite included, as Linux's mlock_future_ok()).
     *  Device mappings are never locked (Linux's VM_SPECIAL): the flag
     *  is checked against the limit, then dropped. vmar_fork() leaves
     *  it out of the child. Kept by the mapping; mappings merge only
     *  with mappings that have the same lock flags. */
    VMAR_MAP_LOCKED = 1u << 12,
    /** With VMAR_MAP_LOCKED only (VMAR_EINVAL alone): locked, but pages
     *  are populated by their first touch instead of at once (Linux's
     *  VM_LOCKONFAULT, from mlock2(MLOCK_ONFAULT) or
     *  mlockall(MCL_ONFAULT)); a touched page stays populated. Kept by
     *  the mapping. */
    VMAR_MAP_LOCKONFAULT = 1u << 13,
    /** Sealed (Linux's mseal(), VM_SEALED): the mapping's layout and
     *  permissions can no longer change. Given at map time or later by
     *  vmar_seal(); never cleared (only vmar_clear() and destroying the
     *  space remove sealed mappings). Refused with VMAR_EPERM, with the
     *  space unchanged: vmar_unmap() of a range meeting it,
     *  VMAR_PLACE_FIXED over it, vmar_remap() and vmar_resize() of it
     *  (source or FIXED target), vmar_protect() of it (even to the same
     *  permissions), and vmar_advise() DONTNEED, FREE and DONTFORK when
     *  it is private anonymous memory without VMAR_PROT_WRITE (Linux's
     *  rule: the caller could have zeroed writable memory anyway; object
     *  and device memory allow them). Other advice, faults, reads and
     *  writes are unaffected. vmar_fork() keeps the seal in the child.
     *  Kept by the mapping; mappings merge only with sealed ones. */
    VMAR_MAP_SEALED = 1u << 14,
    /** Leave the mapping out of a core dump (Linux MADV_DONTDUMP,
     *  VM_DONTDUMP): libvmar only keeps it; the embedder's core-dump
     *  writer reads it (vmar_mapping_info::flags). Also set and cleared
     *  by vmar_advise(). Kept; mappings merge only with like ones. */
    VMAR_MAP_DONTDUMP = 1u << 15,
    /** Huge pages wanted (Linux MADV_HUGEPAGE, VM_HUGEPAGE): kept and
     *  reported only (anonymous memory is mapped with base pages). At
     *  most one of HUGEPAGE and NOHUGEPAGE; set by vmar_advise() too.
     *  Kept; mappings merge only with like ones. */
    VMAR_MAP_HUGEPAGE = 1u << 16,
    /** No huge pages (Linux MADV_NOHUGEPAGE and MAP_STACK,
     *  VM_NOHUGEPAGE): kept and reported, as VMAR_MAP_HUGEPAGE. */
    VMAR_MAP_NOHUGEPAGE = 1u << 17,
    /** vmar_fork() gives the child this mapping empty: it reads as zero
     *  there (Linux MADV_WIPEONFORK, VM_WIPEONFORK; FreeBSD's
     *  VM_INHERIT_ZERO). Private anonymous memory only (VMAR_EINVAL
     *  otherwise). The child keeps the flag. VMAR_MAP_DONTFORK, when
     *  both are set, wins (the child has no mapping there). Set by
     *  vmar_advise() and vmar_inherit() too. Kept; mappings merge only
     *  with like ones. */
    VMAR_MAP_WIPEONFORK = 1u << 18,
};

/** Options for vmar_map(). Zero means "default" for every field. */
struct vmar_map_opts {
    /** Length in bytes; a non-zero multiple of the page size and of
     *  `align`. */
    vmar_size_t size;
    /** Hint or fixed address (multiple of `align`); ignored for ANY. */
    vmar_addr_t addr;
    /** Placement mode. */
    enum vmar_place place;
    /** Alignment: 0 (page) or a power of two >= VMAR_PAGE_SIZE. */
    vmar_size_t align;
    /** Requested permissions (vmar_prot bits). */
    unsigned prot;
    /** Permissions this mapping may never gain (vmar_prot bits), the
     *  complement of its maximum permissions: vmar_protect() cannot grant
     *  them. Zero (the default) allows everything. */
    unsigned deny_prot;
    /** vmar_map_flags. */
    unsigned flags;
    /** What backs it. */
    enum vmar_backing backing;
    /** VMAR_BACKING_OBJECT: the memory object; the mapping takes a
     *  reference (vmar_object_ref()) that it drops when it goes away, so
     *  the caller's own reference may go once the call returns. */
    struct vmar_object *object;
    /** VMAR_BACKING_OBJECT: the byte offset into the object. */
    uint64_t offset;
    /** VMAR_BACKING_DEVICE: the physical base address; the range must
     *  end at or below the backend's vmar_mmu_ops::pa_top. */
    vmar_paddr_t paddr;
    /** VMAR_BACKING_DEVICE: the cache policy. */
    enum vmar_cache cache;
    /** Placement window, lowest address (page aligned): VMAR_PLACE_ANY
     *  and VMAR_PLACE_HINT put the mapping, and the stack guard below a
     *  VMAR_MAP_STACK or VMAR_MAP_GROWSDOWN one, inside
     *  [window_lo, window_hi): a hint outside it is not taken, the search
     *  (top-down or bottom-up, randomised with ASLR) looks only there,
     *  still in O(log n), and a full window is VMAR_ENOMEM, with no
     *  fallback to the rest of the user range. 0: user_lo. Checked in
     *  every mode, but FIXED and FIXED_NOREPLACE map at `addr` wherever
     *  it is, as Linux's MAP_32BIT is ignored with MAP_FIXED. */
    vmar_addr_t window_lo;
    /** Placement window, one past the highest address (page aligned);
     *  0: user_hi. See window_lo. */
    vmar_addr_t window_hi;
};

/**
 * Create a mapping.
 *
 * @param space     the address space.
 * @param opts      size, placement, permissions, flags and backing; zero
 *                  fields mean their defaults (see vmar_map_opts).
 * @param out_addr  receives the start address on success; may be NULL.
 * Returns: 0 and the start address in *out_addr (may be NULL);
 *  VMAR_EINVAL: size zero, unaligned or larger than the user range;
 *   align not a power of two >= page; addr not a multiple of align (HINT,
 *   FIXED*); unknown flag, prot or deny bits; unknown place or backing;
 *   BOTTOM_UP with TOP_DOWN; a FIXED range that wraps or leaves the user
 *   range; a window (window_lo, window_hi, after their defaults) that is
 *   not page aligned, empty or inverted, or reaches outside the user
 *   range (in every placement mode);
 *  VMAR_EACCES: prot & deny_prot != 0, or the handle's rights do not
 *   cover prot and the maximum permissions, or lack WRITE for
 *   VMAR_PLACE_FIXED (the table at vmar_rights);
 *  VMAR_EEXIST: FIXED_NOREPLACE over an existing mapping;
 *  VMAR_EPERM: FIXED over a sealed mapping (VMAR_MAP_SEALED);
 *  VMAR_ENOMEM: no free range (ANY, HINT: inside the window, which
 *   includes a window too small for size, the stack guard and align);
 *   the map would grow the space past the
 *   address-space limit (an overwrite is charged only the bytes it adds)
 *   or past the mapping-count limit (counted before merging; an overwrite
 *   is charged only the mappings it adds); or an allocation failed;
 *  VMAR_EINVAL also: a device `paddr` that is unaligned, whose range
 *   wraps or reaches past the backend's pa_top (vmar/mmu.h: the highest
 *   physical address its entries hold, plus one), an unknown `cache`, a
 *   non-zero `offset` for device memory, or `offset`, `paddr` or `cache`
 *   set for anonymous memory;
 *  VMAR_EINVAL also: an object mapping without `object`, with an
 *   `offset` that is not a multiple of the page size and of `align` or
 *   that wraps with `size`, with `paddr` or `cache` set, or an object
 *   whose ops are incomplete or of an unknown ABI; RANDOM with
 *   SEQUENTIAL; HUGEPAGE with NOHUGEPAGE; FAULT_AROUND or EOF_FAULT on a
 *   non-object mapping; GROWSDOWN or WIPEONFORK on anything but private
 *   anonymous memory;
 *  VMAR_EACCES also: a shared object mapping whose `prot` exceeds the
 *   object's max_prot, or a private one that asks for READ or EXEC the
 *   object does not allow (the object's missing permissions are removed
 *   from the mapping's maximum either way);
 *  VMAR_ENOTSUP: VMAR_BACKING_OBJECT without env->frame_refcount;
 *  with VMAR_MAP_POPULATE on an object: the error of ops->commit or
 *   ops->get_page, or VMAR_EIO for a page get_page must not return
 *   (vmar/object.h; one at or above the backend's pa_top included).
 * Locking: takes the space lock exclusively.
 * On failure: the space is unchanged (a failed FIXED replaces nothing).
 */
int vmar_map(struct vmar_space *space, const struct vmar_map_opts *opts,
             vmar_addr_t *out_addr);

/**
 * Remove every mapping in [addr, addr+size); holes are allowed, and
 * mappings that straddle an end are cut. Frames of removed pages are freed
 * after the TLB flush.
 *
 * @param space  the address space.
 * @param addr   start of the range, page aligned.
 * @param size   length of the range in bytes, a non-zero page multiple.
 * Returns: 0; VMAR_EACCES (the handle lacks VMAR_RIGHT_WRITE, even for a
 *  range with nothing mapped); VMAR_EINVAL (unaligned, zero, wrapping, or
 *  outside the user range); VMAR_ENOMEM (cutting a hole in one mapping
 *  would exceed the mapping-count limit, or an allocation failed);
 *  VMAR_EPERM (a sealed mapping meets the range, VMAR_MAP_SEALED).
 * Locking: takes the space lock exclusively.
 * On failure: the space is unchanged.
 */
int vmar_unmap(struct vmar_space *space, vmar_addr_t addr, vmar_size_t size);

/**
 * Change the permissions of [addr, addr+size), splitting mappings at the
 * ends and merging compatible neighbours afterwards.
 *
 * @param space  the address space.
 * @param addr   start of the range, page aligned.
 * @param size   length of the range in bytes, a non-zero page multiple.
 * @param prot   the new permissions (vmar_prot bits).
 * Returns: 0; VMAR_EINVAL (as vmar_unmap, or unknown prot bits);
 *  VMAR_ENOMEM (a part of the range is not mapped, the mapping-count
 *  limit, or an allocation failed); VMAR_EACCES (prot exceeds some
 *  mapping's maximum, or the handle's rights do not cover prot);
 *  VMAR_EPERM (a mapping of the range is sealed, VMAR_MAP_SEALED).
 * Locking: takes the space lock exclusively.
 * On failure: the space is unchanged (unlike Linux, no prefix is changed).
 */
int vmar_protect(struct vmar_space *space, vmar_addr_t addr, vmar_size_t size,
                 unsigned prot);

/**
 * Seal every mapping of [addr, addr+size) (Linux's mseal()): set
 * VMAR_MAP_SEALED, which refuses later changes of their layout and
 * permissions (see that flag). Mappings straddling an end are cut there;
 * already sealed mappings stay as they are; sealed neighbours merge.
 *
 * @param space  the address space.
 * @param addr   start of the range, page aligned.
 * @param size   length of the range in bytes, a non-zero page multiple.
 * Returns: 0; VMAR_EINVAL (as vmar_unmap); VMAR_ENOMEM (a part of the
 *  range is not mapped, the mapping-count limit, or an allocation
 *  failed); VMAR_EACCES (the handle lacks VMAR_RIGHT_WRITE: a seal takes
 *  away the changes the WRITE right allows).
 * Locking: takes the space lock exclusively.
 * On failure: the space is unchanged (the whole range is sealed or none
 *  of it).
 */
int vmar_seal(struct vmar_space *space, vmar_addr_t addr, vmar_size_t size);

/** vmar_remap() flags: Linux's MREMAP_* values. */
enum vmar_remap_flags {
    /** The mapping may move when it cannot grow in place. */
    VMAR_REMAP_MAYMOVE = 1u << 0,
    /** Move to `new_addr` exactly, replacing what is there (needs
     *  MAYMOVE). */
    VMAR_REMAP_FIXED = 1u << 1,
    /** Move (needs MAYMOVE) and leave the source mapped but empty
     *  (private anonymous mappings only; old_size == new_size). */
    VMAR_REMAP_DONTUNMAP = 1u << 2,
};

/**
 * Resize or move a mapping, moving its page-table entries (mremap).
 *
 * [old_addr, old_addr+old_size) must lie in mappings that could be one
 * (compatible and contiguous: a range that spans several such mappings
 * moves as one). Shrinking unmaps the tail in place. Growing extends in
 * place when the pages after it are free; otherwise, with
 * VMAR_REMAP_MAYMOVE, the range moves to a free place (or `new_addr` with
 * VMAR_REMAP_FIXED), keeping contents, permissions, residency and device
 * entries; the source is unmapped unless VMAR_REMAP_DONTUNMAP. A moved
 * mapping merges with compatible neighbours at its new place.
 *
 * @param space     the address space.
 * @param old_addr  start of the source range, page aligned.
 * @param old_size  its length (rounded up to a page; 0 is refused).
 * @param new_size  the new length (rounded up to a page), non-zero.
 * @param flags     vmar_remap_flags.
 * @param new_addr  the target with VMAR_REMAP_FIXED, else ignored.
 * @param out_addr  receives the mapping's (possibly new) address; may be
 *                  NULL.
 * Returns: 0 and *out_addr;
 *  VMAR_EINVAL: unaligned old_addr or new_addr, zero or wrapping sizes,
 *   unknown flags, FIXED or DONTUNMAP without MAYMOVE, DONTUNMAP with a
 *   size change or on a mapping that is not private anonymous, a FIXED
 *   target that overlaps the source or leaves the user range;
 *  VMAR_EFAULT: no mapping at old_addr, the source is not wholly
 *   mapped by compatible mappings, or a device mapping would grow
 *   (device ranges never grow);
 *  VMAR_ENOMEM: cannot grow in place without MAYMOVE, no free range, a
 *   limit (address space, mapping count), or an allocation failed;
 *  VMAR_EACCES: the handle lacks VMAR_RIGHT_WRITE;
 *  VMAR_EPERM: a mapping of the source, or one the FIXED target would
 *   replace, is sealed (VMAR_MAP_SEALED).
 * Locking: takes the space lock exclusively.
 * On failure: the space is unchanged; validation and every allocation
 *  happen before the first change (the reference shrinks the source
 *  first and loses it when the move fails).
 */
int vmar_remap(struct vmar_space *space, vmar_addr_t old_addr,
               vmar_size_t old_size, vmar_size_t new_size, unsigned flags,
               vmar_addr_t new_addr, vmar_addr_t *out_addr);

/**
 * Grow or shrink a mapping in place (the reference's resize_mapping, with
 * its FIXME done: the range must lie in a single mapping).
 *
 * @param space     the address space.
 * @param addr      start of a mapping, page aligned.
 * @param old_size  the mapping's current size, a page multiple.
 * @param new_size  the new size, a non-zero page multiple.
 * Returns: 0; VMAR_EINVAL (unaligned or zero sizes, a range that wraps or
 *  leaves the user range); VMAR_EFAULT ([addr, addr+old_size) is not
 *  exactly one mapping from its start, or a device mapping would grow);
 *  VMAR_ENOMEM (the pages after it are not free, a limit, or an
 *  allocation failed); VMAR_EACCES (the handle lacks VMAR_RIGHT_WRITE);
 *  VMAR_EPERM (the mapping is sealed).
 * Locking: takes the space lock exclusively.
 * On failure: the space is unchanged.
 */
int vmar_resize(struct vmar_space *space, vmar_addr_t addr,
                vmar_size_t old_size, vmar_size_t new_size);

/** Options for vmar_fork(); zero fields mean their defaults. */
struct vmar_fork_opts {
    /** Backend configuration of the child's page table, read only
     *  during the call (as vmar_space_opts::mmu_config): its own PCID or
     *  ASID, its kernel_root. Required when the parent
     *  was created with a non-NULL config, since libvmar keeps no pointer
     *  to that one; NULL otherwise creates the child with the backend's
     *  defaults, as the parent was. */
    const void *mmu_config;
    /** The child's lock object (vmar_space_opts::lock); kept, so it must
     *  outlive the child. */
    void *lock;
};

/**
 * Create a child space that is a copy of `parent` (fork). Private
 * mappings become copy-on-write in both: the parent's writable leaves are
 * made read-only, the child maps the same frames read-only, and each
 * frame's reference count goes up; the first write by either copies the
 * page, or reuses it when the count shows no one else maps it. Shared
 * mappings stay shared and writable; device mappings are copied as device
 * mappings; VMAR_MAP_DONTFORK mappings are left out; VMAR_MAP_WIPEONFORK
 * mappings come to the child empty (zero-fill on its next touch) and the
 * parent's stay as they are; sealed mappings stay sealed in the child. The
 * child has the parent's limits, user range, flags and counters. One TLB flush
 * of the parent at the end.
 *
 * @param parent  the space to copy.
 * @param opts    the child's backend configuration and lock; may be NULL.
 * @param out     receives the child.
 * Returns: 0 and the child in *out; VMAR_ENOMEM; VMAR_ENOTSUP without
 *  env->frame_refcount; VMAR_EINVAL for a NULL parent or out, a parent
 *  created with a config and no opts->mmu_config, or a config the
 *  backend refuses; VMAR_EACCES when the handle lacks VMAR_RIGHT_READ
 *  (the child is a copy of the contents; its one handle has the parent
 *  handle's rights).
 * Locking: takes the parent's lock exclusively (its leaves change); the
 *  child is not visible to anyone until the call returns.
 * On failure: the parent is exactly as it was (write permissions
 *  included: they are taken away only after every allocation succeeded),
 *  and the partial child is freed.
 */
int vmar_fork(struct vmar_space *parent, const struct vmar_fork_opts *opts,
              struct vmar_space **out);

/**
 * Remove every mapping, sealed ones included (exec-time teardown: Linux's
 * exec drops sealed mappings with the old mm), and keep the space usable:
 * frames and page-table pages are freed after one flush, counters reset;
 * limits, user range and flags are kept.
 *
 * @param space  the address space.
 * Returns: 0; VMAR_EINVAL for NULL; VMAR_EACCES when the handle lacks
 *  VMAR_RIGHT_WRITE.
 * Locking: takes the space lock exclusively.
 * On failure: the space is unchanged (nothing else can fail).
 */
int vmar_clear(struct vmar_space *space);

/** vmar_advise() advice: Linux's MADV_* values. */
enum vmar_advice {
    VMAR_ADVISE_NORMAL = 0,     /**< clear RANDOM and SEQUENTIAL */
    VMAR_ADVISE_RANDOM = 1,     /**< set VMAR_MAP_RANDOM */
    VMAR_ADVISE_SEQUENTIAL = 2, /**< set VMAR_MAP_SEQUENTIAL */
    VMAR_ADVISE_WILLNEED = 3,   /**< a hint; nothing to do yet */
    /** Drop the pages: private memory reads as zero (or as the object)
     *  again, shared memory is refaulted from its object. */
    VMAR_ADVISE_DONTNEED = 4,
    /** Lazy free (Linux MADV_FREE), private anonymous memory only: the
     *  pages are dropped at once, which is the outcome Linux gives when
     *  reclaim comes before the next write (without reclaim Linux keeps
     *  the old contents; a caller may not rely on either). */
    VMAR_ADVISE_FREE = 8,
    VMAR_ADVISE_DONTFORK = 10, /**< set VMAR_MAP_DONTFORK */
    VMAR_ADVISE_DOFORK = 11,   /**< clear VMAR_MAP_DONTFORK */
    /** Punch a hole in the object behind a shared writable mapping
     *  (Linux MADV_REMOVE): the object forgets [offset, offset+size) of
     *  the range (vmar_object_ops::punch) and the range's pages are
     *  dropped, so they read as zero again. */
    VMAR_ADVISE_REMOVE = 9,
    VMAR_ADVISE_HUGEPAGE = 14,   /**< set VMAR_MAP_HUGEPAGE */
    VMAR_ADVISE_NOHUGEPAGE = 15, /**< set VMAR_MAP_NOHUGEPAGE */
    VMAR_ADVISE_DONTDUMP = 16,   /**< set VMAR_MAP_DONTDUMP */
    VMAR_ADVISE_DODUMP = 17,     /**< clear VMAR_MAP_DONTDUMP */
    VMAR_ADVISE_WIPEONFORK = 18, /**< set VMAR_MAP_WIPEONFORK */
    VMAR_ADVISE_KEEPONFORK = 19, /**< clear VMAR_MAP_WIPEONFORK */
    /** Hints that the pages will not be needed soon (Linux MADV_COLD,
     *  MADV_PAGEOUT): checked, nothing else (there is no reclaim to
     *  tell). */
    VMAR_ADVISE_COLD = 20,
    VMAR_ADVISE_PAGEOUT = 21, /**< see VMAR_ADVISE_COLD */
    /** Fault every page in as a read would (Linux's
     *  MADV_POPULATE_READ). */
    VMAR_ADVISE_POPULATE_READ = 22,
    /** Fault every page in as a write would, breaking copy-on-write
     *  (MADV_POPULATE_WRITE). */
    VMAR_ADVISE_POPULATE_WRITE = 23,
    /** Put a guard marker on every page (Linux 6.13's
     *  MADV_GUARD_INSTALL): its contents are dropped as DONTNEED drops
     *  them, and any access to it fails (vmar_fault(): VMAR_EFAULT, the
     *  SIGSEGV of a guard region; vmar_read() and vmar_write():
     *  VMAR_EFAULT) until GUARD_REMOVE or an unmap. A marker is a
     *  non-present page-table entry: it costs no mapping (no split) and
     *  is neither resident nor present (vmar_resident()). DONTNEED, FREE
     *  and protect keep it, fork copies it into the child, a remap
     *  moves it; unmap and every other removal of the mapping drop it. */
    VMAR_ADVISE_GUARD_INSTALL = 102,
    /** Remove the guard markers of the range (MADV_GUARD_REMOVE); pages
     *  without one are left as they are. */
    VMAR_ADVISE_GUARD_REMOVE = 103,
};

/**
 * Give advice about [addr, addr+size) (madvise). Flag-setting advice
 * splits mappings at the ends and merges afterwards, like vmar_protect().
 *
 * @param space   the address space.
 * @param addr    start of the range, page aligned.
 * @param size    a non-zero page multiple.
 * @param advice  one vmar_advice value.
 * Returns: 0; VMAR_EINVAL (bad range, unknown advice, or advice a
 *  mapping of the range refuses, as Linux's madvise does: DONTNEED,
 *  FREE, COLD, PAGEOUT, DODUMP, DOFORK, HUGEPAGE, NOHUGEPAGE,
 *  WIPEONFORK or REMOVE on a device mapping; FREE on anything but
 *  private anonymous memory; WIPEONFORK on shared or object memory;
 *  REMOVE on private anonymous memory); VMAR_ENOMEM (a part of the range
 *  is not mapped, the mapping-count limit, or an allocation failed);
 *  VMAR_EACCES (DONTNEED, FREE or REMOVE through a handle without
 *  VMAR_RIGHT_WRITE: dropping zeroes memory; hints need no right;
 *  REMOVE on a private object mapping or a shared one that may never be
 *  writable, Linux's rule); VMAR_ENOTSUP (REMOVE on an object without
 *  vmar_object_ops::punch: Linux's EOPNOTSUPP); VMAR_EPERM (DONTNEED,
 *  FREE, REMOVE, DONTFORK or WIPEONFORK on a sealed read-only private
 *  anonymous mapping, VMAR_MAP_SEALED). Each mapping is checked in
 *  address order, the seal first, and the first refusal is returned.
 * REMOVE drops the range's pages and punches the objects of its
 *  mappings, each over the mapping's part of the range; the other
 *  mappings of those object pages in this space drop them too (a
 *  private mapping keeps its own copies), as Linux's do; mappings in
 *  other spaces keep the pages they map until they drop them (Linux zaps
 *  them too: libvmar keeps no reverse map from an object to the spaces
 *  that map it).
 * POPULATE_READ and POPULATE_WRITE fault every page of the range in, in
 *  order, as vmar_fault() of a read or write would (a write breaks
 *  copy-on-write); they change no mapping. They return 0; VMAR_EINVAL
 *  (bad range, or on reaching a device mapping or one without the
 *  access's permission: Linux's EINVAL); VMAR_ENOMEM (on reaching a
 *  hole, or a fault could not allocate); VMAR_EACCES (the handle lacks
 *  VMAR_RIGHT_READ or VMAR_RIGHT_WRITE, the access's right); or the
 *  fault's error: VMAR_ENXIO past the end of the object of a shared or
 *  VMAR_MAP_EOF_FAULT mapping, VMAR_EIO or another error of the object
 *  (Linux's EFAULT for both), VMAR_EFAULT on reaching a guard marker
 *  (Linux's EFAULT). On failure the pages before the failing
 *  one stay populated, as Linux's do; nothing else changes.
 * GUARD_INSTALL and GUARD_REMOVE (any mapping but device memory,
 *  anonymous or object, private or shared, as Linux 6.18 allows) return
 *  0; VMAR_EINVAL (bad range, or a device mapping in it: Linux's
 *  VM_PFNMAP refusal); VMAR_ENOMEM (a part of the range is not mapped,
 *  or the page tables the markers need could not be allocated);
 *  VMAR_EPERM (GUARD_INSTALL on a sealed read-only private anonymous
 *  mapping: it drops pages, as DONTNEED); VMAR_EACCES (GUARD_INSTALL
 *  through a handle without VMAR_RIGHT_WRITE); VMAR_ENOTSUP (the MMU
 *  backend keeps no markers: vmar_mmu_ops::guard is NULL).
 * Locking: takes the space lock exclusively; POPULATE_READ and
 *  POPULATE_WRITE take it shared instead, once per mapping they reach,
 *  and fault as vmar_fault() does under it (what may sleep runs outside
 *  the page-table locks).
 * On failure: the space is unchanged (Linux applies the advice to the
 *  mapped parts and then returns ENOMEM for a hole; a syscall layer that
 *  wants that calls this per mapped part), except for the pages a
 *  populate faulted in before failing.
 */
int vmar_advise(struct vmar_space *space, vmar_addr_t addr, vmar_size_t size,
                int advice);

/** What vmar_fork() gives the child of a mapping (FreeBSD's minherit(2)
 *  values). A mapping's setting is its pair of kept flags
 *  VMAR_MAP_DONTFORK and VMAR_MAP_WIPEONFORK (vmar_mapping_inherit()),
 *  which Linux's fork advice sets one at a time. */
enum vmar_inherit {
    /** The child maps the same pages, and both see every write: what a
     *  shared or device mapping gets. Neither flag. */
    VMAR_INHERIT_SHARE = 0,
    /** The child gets a copy-on-write copy: what a private mapping gets.
     *  Neither flag. */
    VMAR_INHERIT_COPY = 1,
    /** The child has no mapping there: VMAR_MAP_DONTFORK. */
    VMAR_INHERIT_NONE = 2,
    /** The child gets the mapping empty, reading as zero (private
     *  anonymous memory only): VMAR_MAP_WIPEONFORK. */
    VMAR_INHERIT_ZERO = 3,
};

/**
 * Set what vmar_fork() gives the child of every mapping of
 * [addr, addr+size) (minherit): NONE sets VMAR_MAP_DONTFORK and clears
 * VMAR_MAP_WIPEONFORK, ZERO the reverse, SHARE and COPY clear both.
 * Splits mappings at the ends and merges afterwards, as vmar_advise().
 * SHARE of private memory is refused: its pages are no object that two
 * spaces could both write, and turning them into one would change the
 * parent's own copy-on-write sharing with earlier children. COPY of
 * shared or device memory is refused likewise: fork never copies them
 * (a copy of a shared object would be a new object).
 *
 * @param space    the address space.
 * @param addr     start of the range, page aligned.
 * @param size     a non-zero page multiple.
 * @param inherit  a vmar_inherit value.
 * Returns: 0; VMAR_EINVAL (bad range, unknown value, SHARE on private
 *  memory, COPY on shared or device memory, ZERO on anything but private
 *  anonymous memory); VMAR_ENOMEM (a part of the range is not mapped,
 *  the mapping-count limit, or an allocation failed); VMAR_EPERM (NONE
 *  or ZERO on a sealed read-only private anonymous mapping, as
 *  DONTFORK and WIPEONFORK advice). The first refusal in address order.
 *  Needs no right (as the fork advice: the parent's contents do not
 *  change).
 * Locking: takes the space lock exclusively.
 * On failure: the space is unchanged.
 */
int vmar_inherit(struct vmar_space *space, vmar_addr_t addr, vmar_size_t size,
                 int inherit);

/** What vmar_query() and vmar_iterate() report about one mapping. */
struct vmar_mapping_info {
    vmar_addr_t start;         /**< first byte */
    vmar_addr_t end;           /**< one past the last byte */
    unsigned prot;             /**< current permissions */
    unsigned max_prot;         /**< permissions it may gain */
    unsigned flags;            /**< vmar_map_flags that persist (SHARED, STACK,
                                    GROWSDOWN, ...) */
    enum vmar_backing backing; /**< what backs it */
    /** Object offset of `start`; for a device mapping, the physical
     *  address of `start`; 0 for anonymous memory. */
    uint64_t offset;
    /** Cache policy of a device mapping, as asked for at map time (the
     *  backend may store it as another: vmar_mmu_ops::cache_as); WB
     *  otherwise. */
    enum vmar_cache cache;
    /** The memory object (object mappings), else NULL. Borrowed: valid
     *  only while the mapping exists, which a change of the space by any
     *  thread may end; to use it later, make sure no change can run and
     *  take vmar_object_ref(). */
    struct vmar_object *object;
};

/**
 * What vmar_fork() gives the child of a mapping, from its description
 * (vmar_inherit): NONE when VMAR_MAP_DONTFORK is set, else ZERO when
 * VMAR_MAP_WIPEONFORK is, else SHARE for shared and device mappings and
 * COPY for private ones.
 *
 * @param info  a description from vmar_query() or vmar_iterate().
 * Returns: a vmar_inherit value.
 * Locking: none (reads `info` only).
 * On failure: cannot fail.
 */
static inline int vmar_mapping_inherit(const struct vmar_mapping_info *info)
{
    if (info->flags & VMAR_MAP_DONTFORK)
        return VMAR_INHERIT_NONE;
    if (info->flags & VMAR_MAP_WIPEONFORK)
        return VMAR_INHERIT_ZERO;
    return info->flags & VMAR_MAP_SHARED || info->backing == VMAR_BACKING_DEVICE
               ? VMAR_INHERIT_SHARE
               : VMAR_INHERIT_COPY;
}

/**
 * The mapping that contains `addr`.
 *
 * @param space  the address space.
 * @param addr   any address (need not be aligned).
 * @param info   receives the mapping's description on success.
 * Returns: 0 and *info; VMAR_ENOENT when no mapping contains it.
 * Locking: takes the space lock shared. O(log n), allocates nothing.
 * On failure: *info is untouched.
 */
int vmar_query(struct vmar_space *space, vmar_addr_t addr,
               struct vmar_mapping_info *info);

/**
 * Bytes in [lo, hi) with a present translation (the Rss of
 * /proc/pid/smaps when [lo, hi) is one anonymous mapping; device pages are
 * always present and counted here, but not in vmar_stats::resident). Not
 * kept per mapping,
 * because a split would have to walk the page table to divide it; this
 * walks only the populated part of the range instead.
 *
 * @param space  the address space.
 * @param lo     start of the range, page aligned.
 * @param hi     end of the range (exclusive), page aligned, >= lo.
 * @param bytes  receives the resident byte count on success.
 * Returns: 0 and *bytes; VMAR_EINVAL if lo > hi or either is unaligned.
 * Locking: takes the space lock shared and every page-table lock stripe.
 *  Cost O(present pages in range).
 * On failure: *bytes is untouched.
 */
int vmar_resident(struct vmar_space *space, vmar_addr_t lo, vmar_addr_t hi,
                  vmar_size_t *bytes);

/** Callback of vmar_iterate(); return non-zero to stop early. Must not
 *  call into the same space. */
typedef int (*vmar_iterate_fn)(void *arg, const struct vmar_mapping_info *info);

/**
 * Call `fn` for every mapping that intersects [lo, hi), in address order.
 *
 * @param space  the address space.
 * @param lo     start of the range.
 * @param hi     end of the range (exclusive), >= lo.
 * @param fn     called once per mapping with `arg` and its description;
 *               must not call into the same space.
 * @param arg    passed to `fn` unchanged.
 * Returns: 0 after visiting all; the callback's non-zero value if it
 *  stopped early; VMAR_EINVAL if lo > hi.
 * Locking: takes the space lock shared for the whole walk.
 * On failure: nothing changes; with VMAR_EINVAL `fn` was not called.
 */
int vmar_iterate(struct vmar_space *space, vmar_addr_t lo, vmar_addr_t hi,
                 vmar_iterate_fn fn, void *arg);

/** Counters of a space (vmar_stats()). */
struct vmar_stats {
    size_t map_count;     /**< number of mappings */
    vmar_size_t total_vm; /**< sum of mapping sizes, bytes */
    /** Resident bytes (RSS): present leaves of anonymous memory; device
     *  pages are not counted. vmar_resident() counts every translation. */
    vmar_size_t resident;
    vmar_addr_t user_lo; /**< the user range: lowest address */
    vmar_addr_t user_hi; /**< one past the highest user address */
    /** The part of `resident` that is private anonymous memory (Linux
     *  RssAnon): anonymous pages and private copies of object pages. */
    vmar_size_t resident_anon;
    /** The part of `resident` that maps object pages (Linux RssFile and
     *  RssShmem). resident == resident_anon + resident_file. */
    vmar_size_t resident_file;
    /** Index nodes of the mapping index the space holds through
     *  vmar_env::alloc, spares included (vmar_stats::index_node_size
     *  bytes each): with the mappings themselves, the metadata that grows
     *  with the layout. */
    size_t index_nodes;
    size_t index_node_size; /**< bytes per index node */
    /** Times a fault grew a VMAR_MAP_GROWSDOWN mapping, since creation
     *  (a fork's child starts at 0). */
    size_t stack_growths;
    /** Bytes of locked mappings (VMAR_MAP_LOCKED; Linux's VmLck,
     *  locked_vm), populated or not. */
    vmar_size_t locked;
    /** Page pins held through vmar_pin() and not yet given back with
     *  vmar_unpin() (a page pinned twice counts twice; Linux's
     *  pinned_vm). */
    size_t pinned;
    /** The lock limit and whether it applies (vmar_set_mlock_limit()). */
    vmar_size_t mlock_limit;
    bool mlock_limited; /**< see mlock_limit */
    /** What every new mapping gets after vmar_mlockall() with FUTURE:
     *  VMAR_MAP_LOCKED, and VMAR_MAP_LOCKONFAULT with ONFAULT; else 0. */
    unsigned lock_future;
};

/**
 * Read the counters.
 *
 * @param space  the address space.
 * @param out    receives the counters.
 * Locking: takes the space lock shared.
 * On failure: cannot fail.
 */
void vmar_stats(struct vmar_space *space, struct vmar_stats *out);

/**
 * Change the limits at run time (setrlimit, sysctl). Existing mappings are
 * kept even if they exceed the new limits; only later growth is refused.
 *
 * @param space          the address space.
 * @param as_limit       limit on the sum of mapping sizes in bytes;
 *                       0: no limit.
 * @param max_map_count  limit on the number of mappings;
 *                       0: VMAR_DEFAULT_MAX_MAP_COUNT.
 * Locking: takes the space lock exclusively.
 * On failure: cannot fail.
 */
void vmar_set_limits(struct vmar_space *space, vmar_size_t as_limit,
                     size_t max_map_count);

/**
 * Change the stack limit at run time (setrlimit(RLIMIT_STACK)): the
 * largest size a VMAR_MAP_GROWSDOWN mapping may grow to. Mappings already
 * larger are kept; only their growth is refused. A fork's child inherits
 * it.
 *
 * @param space  the address space.
 * @param limit  bytes; 0: no limit.
 * Locking: takes the space lock exclusively.
 * On failure: cannot fail.
 */
void vmar_set_stack_limit(struct vmar_space *space, vmar_size_t limit);

/**
 * Change the lock limit at run time (setrlimit(RLIMIT_MEMLOCK), or a
 * change of CAP_IPC_LOCK): see vmar_space_opts::mlock_limit. Locked
 * mappings beyond a lowered limit stay locked; only more locking is
 * refused. A fork's child inherits it.
 *
 * @param space    the address space.
 * @param limit    bytes (rounded down to pages); 0 with `limited`
 *                 refuses every lock with VMAR_EPERM.
 * @param limited  whether the limit applies (false: CAP_IPC_LOCK,
 *                 locking is unlimited).
 * Locking: takes the space lock exclusively.
 * On failure: cannot fail.
 */
void vmar_set_mlock_limit(struct vmar_space *space, vmar_size_t limit,
                          bool limited);

/** vmar_mlock() flags: Linux's mlock2() values. */
enum vmar_mlock_flags {
    /** Lock pages as they are touched instead of populating them now
     *  (MLOCK_ONFAULT: VMAR_MAP_LOCKONFAULT). */
    VMAR_MLOCK_ONFAULT = 1u << 0,
    /** Lock without populating now: the caller populates later with
     *  vmar_mlock_populate() (a syscall layer that locks a range piece by
     *  piece, as Linux applies mlock up to a hole, and then populates it
     *  as one, as Linux's __mm_populate()). */
    VMAR_MLOCK_NOPOPULATE = 1u << 1,
};

/**
 * Lock [addr, addr+size) in memory (Linux's mlock() and mlock2()): set
 * VMAR_MAP_LOCKED on every mapping of the range, cutting mappings that
 * straddle an end, and without VMAR_MLOCK_ONFAULT populate every page,
 * as Linux's __mm_populate(): a write fault in writable private memory
 * (copy-on-write is broken), else a read (or execute) fault. Locking a
 * locked range again only changes its on-fault mode. Device mappings in
 * the range are left as they are (Linux's VM_SPECIAL), without error.
 *
 * @param space  the address space.
 * @param addr   start of the range, page aligned.
 * @param size   a non-zero page multiple.
 * @param flags  vmar_mlock_flags.
 * Returns: 0; VMAR_EINVAL (unknown flags, or a bad range as vmar_unmap);
 *  VMAR_EACCES (the handle lacks VMAR_RIGHT_WRITE: locking takes
 *  DONTNEED and FREE away, as a seal does); VMAR_EPERM (the space's lock
 *  limit applies and is 0); VMAR_ENOMEM (the locked bytes would pass
 *  the limit: the space's locked bytes plus `size` minus what of the
 *  range is locked already, as Linux's count_mm_mlocked_page_nr(); a
 *  part of the range is not mapped; the mapping-count limit; or an
 *  allocation failed). Then, with the range locked, the population's
 *  error, Linux's __mm_populate() stopping at the first failing page:
 *  VMAR_EFAULT at a VMAR_PROT_NONE mapping (no access can fault it in);
 *  VMAR_EAGAIN when a fault could not allocate; the object's error
 *  (VMAR_ENXIO past the end of a shared or VMAR_MAP_EOF_FAULT mapping's
 *  object, VMAR_EIO, ...).
 * Locking: takes the space lock exclusively to lock; then shared, once
 *  per mapping, to populate (as vmar_advise() POPULATE_READ).
 * On failure: the space is unchanged, except that a population error
 *  leaves the range locked and the pages before the failing one
 *  populated (Linux's behaviour).
 */
int vmar_mlock(struct vmar_space *space, vmar_addr_t addr, vmar_size_t size,
               unsigned flags);

/**
 * Populate [addr, addr+size) as vmar_mlock() does after locking (Linux's
 * __mm_populate()): mapping by mapping in address order, locked or not,
 * skipping holes, device memory and VMAR_MAP_LOCKONFAULT mappings,
 * stopping at the first error.
 *
 * @param space  the address space.
 * @param addr   start of the range, page aligned.
 * @param size   a non-zero page multiple.
 * Returns: 0; VMAR_EINVAL (a bad range, as vmar_unmap); VMAR_EACCES (the
 *  handle lacks VMAR_RIGHT_WRITE); VMAR_EFAULT (a VMAR_PROT_NONE
 *  mapping); VMAR_EAGAIN (a fault could not allocate); the object's
 *  error (VMAR_ENXIO, VMAR_EIO, ...).
 * Locking: takes the space lock shared, once per mapping.
 * On failure: the pages before the failing one stay populated; nothing
 *  else changes.
 */
int vmar_mlock_populate(struct vmar_space *space, vmar_addr_t addr,
                        vmar_size_t size);

/**
 * Unlock [addr, addr+size) (Linux's munlock()): clear VMAR_MAP_LOCKED
 * and VMAR_MAP_LOCKONFAULT on every mapping of it, cutting mappings that
 * straddle an end and merging afterwards. Pages stay populated.
 *
 * @param space  the address space.
 * @param addr   start of the range, page aligned.
 * @param size   a non-zero page multiple.
 * Returns: 0; VMAR_EINVAL (a bad range, as vmar_unmap); VMAR_EACCES (the
 *  handle lacks VMAR_RIGHT_WRITE); VMAR_ENOMEM (a part of the range is
 *  not mapped, the mapping-count limit, or an allocation failed).
 * Locking: takes the space lock exclusively.
 * On failure: the space is unchanged.
 */
int vmar_munlock(struct vmar_space *space, vmar_addr_t addr, vmar_size_t size);

/** vmar_mlockall() flags: Linux's MCL_* values. */
enum vmar_mlockall_flags {
    /** Lock every current mapping (MCL_CURRENT). */
    VMAR_MLOCKALL_CURRENT = 1u << 0,
    /** Lock every later mapping as it is made (MCL_FUTURE): vmar_map()
     *  adds VMAR_MAP_LOCKED (and VMAR_MAP_LOCKONFAULT with ONFAULT) to
     *  every mapping but a device's and one that may never gain a
     *  permission (deny_prot covering RWX: a reservation, never memory),
     *  and fails with VMAR_EAGAIN when that would pass the lock limit. */
    VMAR_MLOCKALL_FUTURE = 1u << 1,
    /** With CURRENT or FUTURE: lock on fault (MCL_ONFAULT). */
    VMAR_MLOCKALL_ONFAULT = 1u << 2,
};

/**
 * Lock the whole space (Linux's mlockall()). With CURRENT, every mapping
 * but device mappings becomes locked (on fault with ONFAULT, else
 * populated; population errors are ignored, as Linux's mm_populate()),
 * and merges where it now can. FUTURE makes later mappings locked; the
 * call replaces the previous choice, so CURRENT alone ends FUTURE, as on
 * Linux. vmar_fork()'s child and vmar_clear() (exec) start without it.
 *
 * @param space  the address space.
 * @param flags  vmar_mlockall_flags: CURRENT, FUTURE or both, with or
 *               without ONFAULT.
 * Returns: 0; VMAR_EINVAL (no flag, an unknown one, or ONFAULT alone);
 *  VMAR_EACCES (the handle lacks VMAR_RIGHT_WRITE); VMAR_EPERM (the lock
 *  limit applies and is 0); VMAR_ENOMEM (CURRENT while the space's
 *  mapped bytes, vmar_stats::total_vm, pass the limit, as Linux).
 * Locking: takes the space lock exclusively; then, for CURRENT, shared
 *  once per mapping to populate.
 * On failure: the space is unchanged (nothing else can fail).
 */
int vmar_mlockall(struct vmar_space *space, unsigned flags);

/**
 * Unlock every mapping and end VMAR_MLOCKALL_FUTURE (Linux's
 * munlockall()). Pages stay populated.
 *
 * @param space  the address space.
 * Returns: 0; VMAR_EINVAL for NULL; VMAR_EACCES (the handle lacks
 *  VMAR_RIGHT_WRITE).
 * Locking: takes the space lock exclusively.
 * On failure: the space is unchanged (nothing else can fail).
 */
int vmar_munlockall(struct vmar_space *space);

/** vmar_pin() flags. */
enum vmar_pin_flags {
    /** The device will write the pages (Linux's FOLL_WRITE): each is
     *  faulted in for writing first, breaking copy-on-write. */
    VMAR_PIN_WRITE = 1u << 0,
};

/**
 * Pin the pages of [addr, addr + npages pages) for DMA (Linux's
 * pin_user_pages() with FOLL_LONGTERM semantics): fault each in (for
 * writing with VMAR_PIN_WRITE; a read pin of private anonymous memory
 * that shares its frame with another space copies it first, as Linux's
 * unsharing of read-only pins), take a pin on its frame and store the
 * frame's physical address in pages[i]. A pin keeps the frame allocated
 * after the page is unmapped, the space cleared or the frame replaced,
 * until vmar_unpin(). While pinned, the frame stays the space's own: a
 * write fault reuses it rather than copying, and vmar_fork() gives the
 * child a copy of a pinned private anonymous page at once instead of
 * sharing it copy-on-write (Linux's page_needs_cow_for_dma()), so the
 * parent's page keeps its permissions and the device's writes stay
 * visible to the parent. Counted in vmar_stats::pinned. All or nothing:
 * on failure no pin is held.
 *
 * @param space   the address space.
 * @param addr    start, page aligned.
 * @param npages  number of pages, at least 1.
 * @param flags   vmar_pin_flags.
 * @param pages   receives npages physical addresses.
 * Returns: 0; VMAR_EINVAL (NULL, unaligned, zero, wrapping or outside
 *  the user range, unknown flags); VMAR_EACCES (the handle lacks
 *  VMAR_RIGHT_READ, or VMAR_RIGHT_WRITE for a write pin); VMAR_ENOTSUP
 *  without env->frame_refcount; VMAR_EFAULT (a page is in no mapping, in
 *  a device mapping, or in one without the permission: READ for a read
 *  pin, WRITE for a write pin, as Linux's GUP); VMAR_ENOMEM (a fault
 *  could not allocate); the object's error (VMAR_ENXIO, VMAR_EIO, ...).
 * Locking: takes the space lock shared for the whole call; faults as
 *  vmar_fault() does under it.
 * On failure: no pin is held and *pages is undefined; the pages faulted
 *  in before the failure stay populated, as after vmar_fault().
 */
int vmar_pin(struct vmar_space *space, vmar_addr_t addr, size_t npages,
             unsigned flags, vmar_paddr_t *pages);

/**
 * Give back pins taken with vmar_pin() on this space (any handle): one
 * per entry of `pages`, which may be a part of one vmar_pin() result or
 * gather several. A frame that nothing maps any more is freed with its
 * last pin.
 *
 * @param space   the space the pins were taken on; it must still exist
 *                (keep a handle until the DMA ends: vmar_space_destroy()
 *                asserts that no pin is left).
 * @param pages   physical addresses vmar_pin() returned.
 * @param npages  number of entries.
 * Locking: none (atomic counts).
 * On failure: cannot fail; a frame not pinned is a caller bug
 *  (VMAR_ASSERT).
 */
void vmar_unpin(struct vmar_space *space, const vmar_paddr_t *pages,
                size_t npages);

/**
 * Check every invariant: tree order, balance and parent links; every
 * augmented gap field recomputed; no overlap; every mapping inside the user
 * range; no two adjacent mappings that should have merged; map_count,
 * total_vm and resident equal to the sums; every present leaf inside a
 * mapping with permissions within the mapping's; a device leaf at the
 * mapping's physical address with its cache policy as the backend stores
 * it (vmar_mmu_ops::cache_as); a writable private leaf the only reference
 * to its frame (a user copy's pin is no reference: the check is exact
 * beside concurrent faults and copies).
 *
 * @param space  the address space.
 * Returns: 0, or VMAR_ECORRUPT after reporting the first broken rule
 *  through env->log.
 * Locking: takes the space lock shared, and every page-table lock stripe
 *  for the leaf walk. Cost O(n + present leaves); for tests and debugging.
 * On failure: nothing is changed or repaired; env->panic is not called.
 */
int vmar_check(struct vmar_space *space);

/** Line sink for vmar_dump(): `arg` as given to vmar_dump() and one
 *  NUL-terminated line without newline, valid only during the call. */
typedef void (*vmar_line_fn)(void *arg, const char *line);

/**
 * Emit one line per mapping in /proc/pid/maps format:
 * "00010000-00012000 rw-p 00000000 00:00 0" (s instead of p for shared,
 * and "[stack]" for stacks).
 *
 * @param space  the address space.
 * @param emit   called once per mapping, in address order; must not call
 *               into the same space.
 * @param arg    passed to `emit` unchanged.
 * Locking: takes the space lock shared for the whole walk.
 * On failure: cannot fail (lines are formatted on the stack).
 */
void vmar_dump(struct vmar_space *space, vmar_line_fn emit, void *arg);

/**
 * Per-mapping statistics (Linux's /proc/pid/smaps), from
 * vmar_iterate_stats(). Byte counts. Only managed leaves count (a device
 * mapping's Rss is 0, as a PFN mapping's on Linux). A page's "map count"
 * (how many leaves map its frame) is estimated from the frame's
 * reference count: every reference of a private anonymous frame is a
 * leaf's, and an object page's count less one is (the object holds
 * one); so an object that holds more references, or a page a truncate
 * dropped from its object, reads as mapped once more or less often.
 */
struct vmar_mapping_stats {
    struct vmar_mapping_info info; /**< the mapping */
    vmar_size_t size;              /**< end - start */
    vmar_size_t rss;               /**< pages with a managed leaf */
    /** Proportional set size: each resident page divided by its map
     *  count, summed with 12 fraction bits and rounded down to bytes. */
    vmar_size_t pss;
    vmar_size_t pss_dirty; /**< the dirty pages' part of pss */
    /** Resident pages mapped more than once (map count >= 2), clean and
     *  dirty, and the ones mapped only here. Dirty: the leaf's dirty bit
     *  (the core sets it on a leaf it installs for a write; hardware sets
     *  it where the backend lets it; RISC-V leaves are dirty when
     *  writable), or a private anonymous frame, which has no clean copy
     *  to fall back on (Linux maps the zero page on a read fault, which
     *  smaps does not count; libvmar allocates a frame). */
    vmar_size_t shared_clean;
    vmar_size_t shared_dirty;  /**< see shared_clean */
    vmar_size_t private_clean; /**< see shared_clean */
    vmar_size_t private_dirty; /**< see shared_clean */
    /** Resident private anonymous frames (Linux's Anonymous: anonymous
     *  pages and private copies of object pages). */
    vmar_size_t anonymous;
    /** Bytes of this mapping locked in memory (Linux's Locked: the Pss of
     *  a VMAR_MAP_LOCKED mapping, else 0). */
    vmar_size_t locked;
    /** Bytes of resident pages with a DMA pin (vmar_pin(); the short
     *  pins of vmar_read()/vmar_write() copies are not counted). */
    vmar_size_t pinned;
};

/** Callback of vmar_iterate_stats(); return non-zero to stop early. Must
 *  not call into the same space. */
typedef int (*vmar_stats_fn)(void *arg, const struct vmar_mapping_stats *st);

/**
 * Call `fn` with the statistics of every mapping that intersects
 * [lo, hi), in address order (the whole mapping is counted, as smaps
 * does). Allocates nothing; O(mappings + resident pages).
 *
 * @param space  the address space.
 * @param lo     start of the range.
 * @param hi     end of the range (exclusive), >= lo.
 * @param fn     called once per mapping with `arg` and its statistics
 *               (valid only during the call); must not call into the
 *               same space.
 * @param arg    passed to `fn` unchanged.
 * Returns: 0 after visiting all; the callback's non-zero value if it
 *  stopped early; VMAR_EINVAL for a NULL space or fn, or lo > hi.
 * Locking: takes the space lock shared for the whole walk, and every
 *  page-table lock stripe while it counts one mapping's leaves (released
 *  before `fn` runs); faults may run between two mappings.
 * On failure: nothing changes; with VMAR_EINVAL `fn` was not called.
 */
int vmar_iterate_stats(struct vmar_space *space, vmar_addr_t lo, vmar_addr_t hi,
                       vmar_stats_fn fn, void *arg);

/**
 * Emit the space in /proc/pid/smaps form: per mapping its vmar_dump()
 * line, then "Size:", "KernelPageSize:", "MMUPageSize:", "Rss:", "Pss:",
 * "Pss_Dirty:", "Shared_Clean:", "Shared_Dirty:", "Private_Clean:",
 * "Private_Dirty:", "Anonymous:", "LazyFree:" (always 0: FREE drops at
 * once), "Locked:" lines in Linux's layout ("Rss:" padded to column 16,
 * the kB value right-aligned in 8) and "VmFlags:" with Linux's
 * two-letter names (rd wr ex sh mr mw me ms gd pf io sr rr dc de wf dd
 * hg nh sl; no "ac": libvmar does no commit accounting).
 *
 * @param space  the address space.
 * @param emit   called once per line, in address order; must not call
 *               into the same space.
 * @param arg    passed to `emit` unchanged.
 * Locking: as vmar_iterate_stats().
 * On failure: cannot fail (lines are formatted on the stack).
 */
void vmar_smaps(struct vmar_space *space, vmar_line_fn emit, void *arg);

/**
 * Emit the memory lines of /proc/pid/status: "VmSize:", "VmLck:",
 * "VmPin:", "VmRSS:", "RssAnon:", "RssFile:" (object pages, shared
 * anonymous memory included: Linux's RssFile + RssShmem), each as
 * Linux prints them ("VmRSS:\t    1528 kB"). VmLck is
 * vmar_stats::locked, VmPin vmar_stats::pinned pages in bytes.
 *
 * @param space  the address space.
 * @param emit   called once per line; must not call into the same space.
 * @param arg    passed to `emit` unchanged.
 * Locking: takes the space lock shared.
 * On failure: cannot fail.
 */
void vmar_status(struct vmar_space *space, vmar_line_fn emit, void *arg);

#ifdef __cplusplus
}
#endif

#endif /* VMAR_VMAR_H */
