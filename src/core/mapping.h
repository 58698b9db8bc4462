/* SPDX-License-Identifier: MIT */
/*
 * A mapping: one run of pages with uniform attributes. The interval-set
 * node is embedded; the set owns no memory.
 *
 * Split and merge are the two halves of every layout change. The merge
 * predicate is the single place that decides whether two neighbours are
 * one mapping; vmar_check() relies on it to find unmerged neighbours.
 */
#ifndef VMAR_CORE_MAPPING_H
#define VMAR_CORE_MAPPING_H

#include "space.h"

/* vmar_map_flags that a mapping keeps after creation. */
#define VMAR_MAPPING_KEPT_FLAGS (VMAR_MAP_SHARED | VMAR_MAP_STACK)

struct vmar_mapping {
    struct vmar_iset_node node; /* [start, end) and the stack guard */
    unsigned prot;              /* current vmar_prot bits */
    unsigned max_prot;          /* what protect may grant */
    unsigned flags;             /* VMAR_MAPPING_KEPT_FLAGS bits */
    enum vmar_backing backing;
    enum vmar_cache cache; /* device mappings: the cache policy */
    /* Backing offset of node.start; for a device mapping, the physical
     * address of node.start (as Linux's vm_pgoff of a PFN mapping). */
    uint64_t offset;
};

#define vmar__mapping_of(n)                                                    \
    ((struct vmar_mapping *)(void *)(((char *)(n)) -                           \
                                     offsetof(struct vmar_mapping, node)))

static inline vmar_size_t vmar__mapping_size(const struct vmar_mapping *m)
{
    return m->node.end - m->node.start;
}

/* True when `a` ends where `b` starts and every attribute allows the two
 * to be one mapping (same prot, max_prot, flags and backing; for objects,
 * contiguous offsets). */
bool vmar__mapping_can_merge(const struct vmar_mapping *a,
                             const struct vmar_mapping *b);

/* First and next mapping overlapping [lo, hi); NULL when done. */
struct vmar_mapping *vmar__mapping_first_in(const struct vmar_space *space,
                                            vmar_addr_t lo, vmar_addr_t hi);
struct vmar_mapping *vmar__mapping_next_in(const struct vmar_mapping *m,
                                           vmar_addr_t hi);

/*
 * Split `m` at `at` (m.start < at < m.end): `m` keeps [start, at) and
 * `tail`, a prepared node, becomes [at, end) with the same attributes.
 * => caller holds the space lock exclusively. Cannot fail.
 */
void vmar__mapping_split(struct vmar_space *space, struct vmar_mapping *m,
                         vmar_addr_t at, struct vmar_mapping *tail);

/* Move the start of `m` up to `at` (m.start < at < m.end), keeping the
 * backing offset consistent. */
void vmar__mapping_trim_front(struct vmar_space *space, struct vmar_mapping *m,
                              vmar_addr_t at);

/* Remove `m` from the set, uncharge it and free the node. */
void vmar__mapping_destroy(struct vmar_space *space, struct vmar_mapping *m);

/*
 * Merge every mergeable neighbouring pair among the mappings that meet
 * [lo, hi] and their immediate neighbours, freeing the absorbed nodes.
 * Call after a change to [lo, hi) to restore "no mergeable neighbours".
 */
void vmar__coalesce(struct vmar_space *space, vmar_addr_t lo, vmar_addr_t hi);

/*
 * Remove [lo, hi) from the layout: cut straddling mappings, destroy the
 * covered ones, unmap their leaves into `batch`. Needs one prepared node
 * when a single mapping strictly contains the range (see
 * vmar__carve_cost()).
 * => caller holds the space lock exclusively. Cannot fail.
 */
void vmar__carve(struct vmar_space *space, vmar_addr_t lo, vmar_addr_t hi,
                 struct vmar_prep *prep, struct vmar_tlb_batch *batch);

/* What vmar__carve(lo, hi) would do, computed without changing anything. */
struct vmar_carve_cost {
    bool needs_node;    /* one mapping strictly contains [lo, hi) */
    size_t removed;     /* mappings entirely inside [lo, hi) */
    vmar_size_t mapped; /* bytes of [lo, hi) currently mapped */
};
void vmar__carve_cost(const struct vmar_space *space, vmar_addr_t lo,
                      vmar_addr_t hi, struct vmar_carve_cost *cost);

/* Bytes of device mappings inside [lo, hi): their leaves are always
 * present but not resident (not RSS). */
vmar_size_t vmar__device_bytes(const struct vmar_space *space, vmar_addr_t lo,
                               vmar_addr_t hi);

/* Fill a public description of `m`. */
void vmar__mapping_info(const struct vmar_mapping *m,
                        struct vmar_mapping_info *info);

#endif /* VMAR_CORE_MAPPING_H */
