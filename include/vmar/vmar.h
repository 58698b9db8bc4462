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
    /** Required. The environment; must outlive the space. */
    const struct vmar_env *env;
    /** Required. The MMU backend, e.g. &vmar_mmu_sim. */
    const struct vmar_mmu_ops *mmu;
    /** Backend configuration passed to mmu->create (backend specific). */
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
    /** Bytes kept free below a VMAR_MAP_STACK mapping when placing other
     *  mappings (Linux stack_guard_gap). Page multiple. 0: no guard. */
    vmar_size_t stack_guard;
    /** Bits of page-granular randomisation for placement without an
     *  address (ASLR). Needs env->random. 0: deterministic. At most 40.
     *  A draw that would shift the window by the whole user range or more
     *  falls back to the unshifted search (see docs/DESIGN.md). */
    unsigned aslr_bits;
    /** vmar_space_flags. */
    unsigned flags;
    /** The embedder's lock object for this space, passed to env->lock.
     *  NULL: the embedder serialises calls itself. */
    void *lock;
};

/**
 * Create an empty address space.
 *
 * @param opts  what to build it from: env and mmu are required, every
 *              other zero field means its default (see vmar_space_opts).
 * @param out   receives the new space on success.
 * Returns: 0 and the space in *out; VMAR_EINVAL for a missing required
 * env member or backend, an ABI mismatch, an unaligned or empty user range,
 * a user range beyond the backend's, aslr_bits > 40 or without
 * env->random, a stack_guard that is unaligned or larger than the user
 * range, or unknown flags; VMAR_ENOMEM.
 * Locking: none (the space does not exist yet).
 * On failure: nothing allocated, *out untouched.
 */
int vmar_space_create(const struct vmar_space_opts *opts,
                      struct vmar_space **out);

/**
 * Destroy a space: unmap everything, flush, free every frame, page-table
 * page and metadata. The space must not be active on any CPU.
 *
 * @param space  the space; invalid afterwards.
 * Locking: the caller guarantees no other call on the space is running
 *  (the space lock is not taken).
 * On failure: cannot fail.
 */
void vmar_space_destroy(struct vmar_space *space);

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
    /** A memory object at `offset` (arrives with the page-fault work;
     *  VMAR_ENOTSUP until then). */
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
};

struct vmar_object; /* a memory object, defined with the page-fault work */

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
    /** VMAR_BACKING_OBJECT: the memory object. */
    struct vmar_object *object;
    /** VMAR_BACKING_OBJECT: the byte offset into the object. */
    uint64_t offset;
    /** VMAR_BACKING_DEVICE: the physical base address. */
    vmar_paddr_t paddr;
    /** VMAR_BACKING_DEVICE: the cache policy. */
    enum vmar_cache cache;
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
 *   range;
 *  VMAR_EACCES: prot & deny_prot != 0;
 *  VMAR_EEXIST: FIXED_NOREPLACE over an existing mapping;
 *  VMAR_ENOMEM: no free range; the map would grow the space past the
 *   address-space limit (an overwrite is charged only the bytes it adds)
 *   or past the mapping-count limit (counted before merging; an overwrite
 *   is charged only the mappings it adds); or an allocation failed;
 *  VMAR_EINVAL also: a device `paddr` that is unaligned or whose range
 *   wraps, an unknown `cache`, a non-zero `offset` for device memory, or
 *   `offset`, `paddr` or `cache` set for anonymous memory;
 *  VMAR_ENOTSUP: VMAR_BACKING_OBJECT (not available yet).
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
 * Returns: 0; VMAR_EINVAL (unaligned, zero, wrapping, or outside the user
 *  range); VMAR_ENOMEM (cutting a hole in one mapping would exceed the
 *  mapping-count limit, or an allocation failed).
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
 *  mapping's maximum).
 * Locking: takes the space lock exclusively.
 * On failure: the space is unchanged (unlike Linux, no prefix is changed).
 */
int vmar_protect(struct vmar_space *space, vmar_addr_t addr, vmar_size_t size,
                 unsigned prot);

/** What vmar_query() and vmar_iterate() report about one mapping. */
struct vmar_mapping_info {
    vmar_addr_t start; /**< first byte */
    vmar_addr_t end;   /**< one past the last byte */
    unsigned prot;     /**< current permissions */
    unsigned max_prot; /**< permissions it may gain */
    unsigned flags;    /**< vmar_map_flags that persist (SHARED, STACK) */
    enum vmar_backing backing; /**< what backs it */
    /** Object offset of `start`; for a device mapping, the physical
     *  address of `start`; 0 for anonymous memory. */
    uint64_t offset;
    enum vmar_cache cache; /**< cache policy (device mappings) */
};

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
 * Locking: takes the space lock shared. Cost O(present pages in range).
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
 * Check every invariant: tree order, balance and parent links; every
 * augmented gap field recomputed; no overlap; every mapping inside the user
 * range; no two adjacent mappings that should have merged; map_count,
 * total_vm and resident equal to the sums; every present leaf inside a
 * mapping with permissions within the mapping's.
 *
 * @param space  the address space.
 * Returns: 0, or VMAR_ECORRUPT after reporting the first broken rule
 *  through env->log.
 * Locking: takes the space lock shared. Cost O(n + present leaves); for
 *  tests and debugging.
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

#ifdef __cplusplus
}
#endif

#endif /* VMAR_VMAR_H */
