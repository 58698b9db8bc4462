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

#include "objcall.h"
#include "pmap.h"
#include "prep.h"

/* vmar_map_flags that a mapping keeps after creation. */
#define VMAR_MAPPING_KEPT_FLAGS                                                \
    (VMAR_MAP_SHARED | VMAR_MAP_STACK | VMAR_MAP_FAULT_AROUND |                \
     VMAR_MAP_DONTFORK | VMAR_MAP_SEQUENTIAL | VMAR_MAP_RANDOM |               \
     VMAR_MAP_EOF_FAULT | VMAR_MAP_GROWSDOWN | VMAR_MAP_SEALED |               \
     VMAR_MAP_DONTDUMP | VMAR_MAP_HUGEPAGE | VMAR_MAP_NOHUGEPAGE |             \
     VMAR_MAP_WIPEONFORK | VMAR_MAP_LOCKED | VMAR_MAP_LOCKONFAULT)

/* The lock flags (Linux's VM_LOCKED_MASK). */
#define VMAR_MAPPING_LOCK_FLAGS (VMAR_MAP_LOCKED | VMAR_MAP_LOCKONFAULT)

/* Internal flag: the mapping has its full form (vmar__mapping_ext: an
 * object or device memory). Set at creation, never changed: fork, remap
 * and splits keep a mapping's backing. Without it a mapping is
 * VMAR_MAPPING_SHORT bytes and its `ext` is not there to read. */
#define VMAR_MAPPING_FULL (1u << 30)

/* Internal flag: the mapping's anonymous frames may be shared with
 * another space (it or its source went through vmar_fork()), so protect
 * must not make read-only leaves writable. Not a merge obstacle: a merge
 * keeps it if either side had it. */
#define VMAR_MAPPING_COW_SHARED (1u << 31)

/* What only object and device mappings have: their full form. */
struct vmar__mapping_ext {
    /* Backing offset of node.start; for a device mapping, the physical
     * address of node.start (as Linux's vm_pgoff of a PFN mapping). */
    uint64_t offset;
    /* Object mappings: the object, with one reference held by this
     * mapping (each piece of a split holds its own). NULL otherwise. */
    struct vmar_object *object;
};

/*
 * A mapping. Private anonymous memory, most mappings of a process, has
 * neither an object nor an offset: it is allocated in its short form, the
 * node and one word of attributes (32 bytes on a 64-bit machine), and
 * only mappings with VMAR_MAPPING_FULL have `ext` (48 bytes). Read `ext`
 * through vmar__mapping_object() and vmar__mapping_offset(); copy and
 * free a mapping with vmar__mapping_copy() and vmar__mapping_free(),
 * which know its size. The attributes are narrow integers so that they
 * share one word after the node; assign through the setters below.
 */
struct vmar__mapping {
    struct vmar__iset_node node;  /* [start, end), whether guarded */
    uint32_t flags;               /* VMAR_MAPPING_KEPT_FLAGS bits, internal */
    uint8_t prot;                 /* current vmar_prot bits */
    uint8_t max_prot;             /* what protect may grant */
    uint8_t backing;              /* enum vmar_backing */
    uint8_t cache;                /* enum vmar_cache (device mappings) */
    struct vmar__mapping_ext ext; /* VMAR_MAPPING_FULL only */
};

/* Bytes of a mapping of each form. */
#define VMAR_MAPPING_SHORT (offsetof(struct vmar__mapping, ext))
_Static_assert(sizeof(void *) != 8 || (VMAR_MAPPING_SHORT == 32 &&
                                       sizeof(struct vmar__mapping) == 48),
               "a mapping is 32 or 48 bytes on a 64-bit machine");

static inline bool vmar__mapping_full(const struct vmar__mapping *m)
{
    return (m->flags & VMAR_MAPPING_FULL) != 0;
}

static inline size_t vmar__mapping_bytes(bool full)
{
    return full ? sizeof(struct vmar__mapping) : VMAR_MAPPING_SHORT;
}

/* The object of an object mapping (shared anonymous memory included);
 * NULL for private anonymous and device memory. */
static inline struct vmar_object *
vmar__mapping_object(const struct vmar__mapping *m)
{
    return vmar__mapping_full(m) ? m->ext.object : NULL;
}

/* The backing offset (or a device's physical address) of node.start; 0
 * for private anonymous memory. */
static inline uint64_t vmar__mapping_offset(const struct vmar__mapping *m)
{
    return vmar__mapping_full(m) ? m->ext.offset : 0;
}

/* A new mapping of the form `full`: zeroed, VMAR_MAPPING_FULL set when
 * full. The caller sets the rest. */
static inline void vmar__mapping_init(struct vmar__mapping *m, bool full)
{
    if (full) {
        VMAR_MEMSET(m, 0, sizeof(*m));
        m->flags = VMAR_MAPPING_FULL;
    } else {
        VMAR_MEMSET(m, 0, VMAR_MAPPING_SHORT);
    }
}

/* dst becomes a copy of src, of src's form; dst is of the same form.
 * (Constant sizes: the compiler copies inline.) */
static inline void vmar__mapping_copy(struct vmar__mapping *dst,
                                      const struct vmar__mapping *src)
{
    if (vmar__mapping_full(src))
        VMAR_MEMCPY(dst, src, sizeof(struct vmar__mapping));
    else
        VMAR_MEMCPY(dst, src, VMAR_MAPPING_SHORT);
}

static inline void vmar__mapping_set_prot(struct vmar__mapping *m,
                                          unsigned prot)
{
    m->prot = (uint8_t)(prot & VMAR_PROT_RWX);
}

static inline void vmar__mapping_set_flags(struct vmar__mapping *m,
                                           unsigned flags)
{
    m->flags =
        (uint32_t)((m->flags & (VMAR_MAPPING_COW_SHARED | VMAR_MAPPING_FULL)) |
                   (flags & VMAR_MAPPING_KEPT_FLAGS));
}

static inline bool vmar__mapping_shared(const struct vmar__mapping *m)
{
    return (m->flags & VMAR_MAP_SHARED) != 0;
}

static inline bool vmar__mapping_locked(const struct vmar__mapping *m)
{
    return (m->flags & VMAR_MAP_LOCKED) != 0;
}

/* Charge (or with a negative `bytes`, two's complement, uncharge) `bytes`
 * of `m` to the locked counter when `m` is locked: beside every change of
 * total_vm, and when the lock flags change.
 * => caller holds the space lock exclusively. */
static inline void vmar__locked_add(struct vmar_space *space,
                                    const struct vmar__mapping *m,
                                    vmar_size_t bytes)
{
    if (vmar__mapping_locked(m))
        space->locked_vm += bytes;
}

static inline bool vmar__mapping_sealed(const struct vmar__mapping *m)
{
    return (m->flags & VMAR_MAP_SEALED) != 0;
}

/* Whether a sealed `m` refuses advice that discards contents or forgets
 * them at fork (Linux's can_madvise_modify()): only read-only private
 * anonymous memory, whose contents the caller could not have zeroed by
 * writing; object and device memory and writable memory allow it. */
static inline bool vmar__seal_refuses_discard(const struct vmar__mapping *m)
{
    return vmar__mapping_sealed(m) && m->backing == VMAR_BACKING_ANON &&
           !vmar__mapping_shared(m) && !(m->prot & VMAR_PROT_WRITE);
}

/* What kind of memory a mapping is, for the advice and inheritance that
 * some kinds refuse (vmar__attr_change::einval, ::eacces): Linux's
 * madvise tells them apart by VM_PFNMAP/VM_IO, vm_file and VM_SHARED. */
enum vmar__kind {
    VMAR__KIND_DEVICE = 1u << 0,       /* device memory (a PFN mapping) */
    VMAR__KIND_PRIVATE_ANON = 1u << 1, /* private anonymous memory */
    VMAR__KIND_PRIVATE_OBJ = 1u << 2,  /* private mapping of an object */
    VMAR__KIND_SHARED = 1u << 3,       /* shared (object or anonymous) */
    /* Shared, and may never be writable (Linux's !VM_MAYWRITE); with
     * VMAR__KIND_SHARED. */
    VMAR__KIND_SHARED_NOWRITE = 1u << 4,
    /* Locked (VMAR_MAP_LOCKED, Linux's VM_LOCKED), with its kind. */
    VMAR__KIND_LOCKED = 1u << 5,
};

static inline unsigned vmar__mapping_kind(const struct vmar__mapping *m)
{
    const unsigned locked = vmar__mapping_locked(m) ? VMAR__KIND_LOCKED : 0;

    if (m->backing == VMAR_BACKING_DEVICE)
        return VMAR__KIND_DEVICE;
    if (!vmar__mapping_shared(m))
        return locked | (vmar__mapping_full(m) ? VMAR__KIND_PRIVATE_OBJ
                                               : VMAR__KIND_PRIVATE_ANON);
    return locked | (m->max_prot & VMAR_PROT_WRITE
                         ? VMAR__KIND_SHARED
                         : VMAR__KIND_SHARED | VMAR__KIND_SHARED_NOWRITE);
}

/* Private memory whose leaves may share a frame with another leaf or an
 * object (copy-on-write): a write to such a leaf needs a fault. */
static inline bool vmar__mapping_cow(const struct vmar__mapping *m)
{
    return m->backing != VMAR_BACKING_DEVICE && !vmar__mapping_shared(m);
}

/* Leaves whose write permission only a fault may grant: private memory
 * that may hold shared frames (object pages, frames shared by fork), and
 * shared pages of an object that hears of writes. A private anonymous
 * mapping that never went through fork holds only its own frames, so
 * protect may make them writable directly (no fault per page afterwards,
 * as Linux does for exclusive anonymous pages). */
static inline bool vmar__mapping_keep_ro(const struct vmar__mapping *m)
{
    if (vmar__mapping_cow(m))
        return vmar__mapping_full(m) || (m->flags & VMAR_MAPPING_COW_SHARED);
    const struct vmar_object *o = vmar__mapping_object(m);
    return o && vmar__obj_notifies(o);
}

/* The offset field means something: object pages (shared anonymous
 * memory included) or a device's physical address. */
static inline bool vmar__mapping_has_offset(const struct vmar__mapping *m)
{
    return vmar__mapping_full(m);
}

/*
 * Whether the backend may hold huge leaves for m. Only device mappings get
 * them (device.c maps contiguous physical memory with map_range(HUGE));
 * every other mapping is entered page by page. Fork and remap keep a
 * mapping's backing, so this holds for its whole life.
 */
static inline bool vmar__mapping_may_huge(const struct vmar__mapping *m)
{
    return m->backing == VMAR_BACKING_DEVICE;
}

/*
 * Whether a change of the leaves of exactly [lo, hi) may have to split a
 * huge leaf, i.e. needs prepare(VMAR_PREP_CHANGE): `first` and `last` are
 * the mappings whose leaves change at the two ends (NULL: none there). A
 * leaf never spans two mappings, so only a huge-capable mapping that
 * reaches below lo or above hi can have a leaf straddling an edge. Skipping
 * the backend's walk otherwise is what the mmu contract allows (`resv` is
 * then empty) and saves the prepare of every protect and unmap of
 * ordinary memory.
 */
static inline bool vmar__edges_may_split(const struct vmar__mapping *first,
                                         const struct vmar__mapping *last,
                                         vmar_addr_t lo, vmar_addr_t hi)
{
    return (first && first->node.start < lo && vmar__mapping_may_huge(first)) ||
           (last && last->node.end > hi && vmar__mapping_may_huge(last));
}

/* The permissions a freshly installed leaf gets: the mapping's, without
 * write where a later write must fault (a private page that is the
 * object's, a shared page of an object that wants to hear of writes,
 * unless this is that write). `anon`: the frame is private anonymous. */
static inline unsigned vmar__mapping_leaf_prot(const struct vmar__mapping *m,
                                               bool anon, bool write)
{
    bool ro = vmar__mapping_shared(m)
                  ? vmar__mapping_object(m) &&
                        vmar__obj_notifies(vmar__mapping_object(m)) && !write
                  : !anon;
    return ro ? m->prot & ~(unsigned)VMAR_PROT_WRITE : m->prot;
}

/* Byte offset into the backing of address `va` of `m`. */
static inline uint64_t vmar__mapping_offset_of(const struct vmar__mapping *m,
                                               vmar_addr_t va)
{
    return vmar__mapping_offset(m) + (va - m->node.start);
}

#define vmar__mapping_of(n)                                                    \
    ((struct vmar__mapping *)(void *)(((char *)(n)) -                          \
                                      offsetof(struct vmar__mapping, node)))

static inline vmar_size_t vmar__mapping_size(const struct vmar__mapping *m)
{
    return m->node.end - m->node.start;
}

/* True when `a` ends where `b` starts and every attribute allows the two
 * to be one mapping (same prot, max_prot, flags and backing; for objects,
 * contiguous offsets).
 * => caller holds the space lock, shared or exclusive.
 */
bool vmar__mapping_can_merge(const struct vmar__mapping *a,
                             const struct vmar__mapping *b);

/* First and next mapping overlapping [lo, hi); NULL when done.
 * => caller holds the space lock, shared or exclusive.
 */
struct vmar__mapping *vmar__mapping_first_in(const struct vmar_space *space,
                                             vmar_addr_t lo, vmar_addr_t hi);
struct vmar__mapping *vmar__mapping_next_in(const struct vmar__mapping *m,
                                            vmar_addr_t hi);

/*
 * Where a range starting at `lo` sits in the set, from one descent: the
 * first node that ends above lo (`next`) and the node before it (`pred`),
 * either NULL at an end. An operation looks its range up once, in its
 * survey, and hands the position to its commit and to the coalescing that
 * follows instead of descending again: between the two, the set changes
 * only in the ways the users below account for.
 * => caller holds the space lock, shared or exclusive.
 */
struct vmar__range_pos {
    struct vmar__iset_node *pred, *next;
};

void vmar__range_locate(const struct vmar_space *space, vmar_addr_t lo,
                        struct vmar__range_pos *pos);

/* vmar__mapping_first_in(lo, hi) for the lo that `pos` was located at,
 * while the set is unchanged. */
static inline struct vmar__mapping *
vmar__range_first_in(const struct vmar__range_pos *pos, vmar_addr_t hi)
{
    struct vmar__iset_node *n = pos->next;

    return n && n->start < hi ? vmar__mapping_of(n) : NULL;
}

/*
 * Split `m` at `at` (m.start < at < m.end): `m` keeps [start, at) and
 * `tail`, a prepared node, becomes [at, end) with the same attributes.
 * => caller holds the space lock exclusively. Cannot fail.
 */
void vmar__mapping_split(struct vmar_space *space, struct vmar__mapping *m,
                         vmar_addr_t at, struct vmar__mapping *tail);

/* Cut `m` at lo and hi where they fall inside it (prepared nodes) and
 * return the piece inside [lo, hi). Cannot fail.
 * => caller holds the space lock exclusively.
 */
struct vmar__mapping *vmar__mapping_isolate(struct vmar_space *space,
                                            struct vmar__mapping *m,
                                            vmar_addr_t lo, vmar_addr_t hi,
                                            struct vmar__prep *prep);

/* Move the start of `m` up to `at` (m.start < at < m.end), keeping the
 * backing offset consistent.
 * => caller holds the space lock exclusively.
 */
void vmar__mapping_trim_front(struct vmar_space *space, struct vmar__mapping *m,
                              vmar_addr_t at);

/* Free a node that is in no set, dropping its object reference.
 * => caller holds the space lock exclusively.
 */
void vmar__mapping_free(struct vmar_space *space, struct vmar__mapping *m);

/* Remove `m` from the set, uncharge it and free the node.
 * => caller holds the space lock exclusively.
 */
void vmar__mapping_destroy(struct vmar_space *space, struct vmar__mapping *m);

/*
 * Merge every mergeable neighbouring pair that meets at an address in
 * [lo, hi], freeing the absorbed nodes. Call after a change to [lo, hi)
 * (attributes changed only inside it, cuts only at lo and hi) to restore
 * "no mergeable neighbours": every other pair was apart before and is
 * unchanged.
 * => caller holds the space lock exclusively.
 */
void vmar__coalesce(struct vmar_space *space, vmar_addr_t lo, vmar_addr_t hi);

/* vmar__coalesce(lo, hi) when the caller knows where it starts: `start`
 * is the predecessor of the first mapping that ends above lo, or that
 * mapping when it has none (NULL: the set is empty).
 * => caller holds the space lock exclusively.
 */
void vmar__coalesce_from(struct vmar_space *space,
                         struct vmar__iset_node *start, vmar_addr_t hi);

/* vmar__coalesce_from(pred ? pred : m, m.end) for a mapping m just
 * inserted right after pred (NULL: none): the first pair is known, so it
 * takes no step through the index.
 * => caller holds the space lock exclusively. */
void vmar__coalesce_new(struct vmar_space *space, struct vmar__iset_node *pred,
                        struct vmar__mapping *m);

/* The `start` of vmar__coalesce_from() for [lo, hi) when `pos` was
 * located at lo and the set has since changed only by splits (of the
 * mapping at `pos->next` at lo, and of mappings inside the range). */
static inline struct vmar__iset_node *
vmar__coalesce_start(const struct vmar__range_pos *pos, vmar_addr_t lo)
{
    struct vmar__iset_node *n = pos->next;

    if (n && n->end <= lo)
        return n; /* cut at lo: it now ends there, before the range */
    return pos->pred ? pos->pred : n;
}

/*
 * A change over every mapping of [lo, hi) that keeps the layout's bytes:
 * vmar_protect() (new permissions) and vmar_advise() (hint flags, dropping
 * pages, or only the check). The range is surveyed first, so a hole
 * (VMAR_ENOMEM) or a refusing mapping fails the call before anything
 * changes; then the nodes the two ends' cuts need (and, for new
 * permissions, the page-table pages a huge leaf straddling a cut end
 * needs) are prepared; then each mapping whose attributes differ is cut
 * to the range and changed, and the range coalesced. Plain data, so the
 * per-mapping tests inline.
 */
enum vmar__attr_kind {
    VMAR_ATTR_PROT,  /* new permissions; beyond a max_prot is VMAR_EACCES */
    VMAR_ATTR_FLAGS, /* kept flags f become (f & ~clear) | set */
    VMAR_ATTR_DROP,  /* unmap the range's pages (never of device or locked
                        memory: the caller refuses them through `einval`) */
    VMAR_ATTR_CHECK, /* the survey only (WILLNEED) */
    /* guard markers on every page (pages dropped first) / off every
     * page; a device mapping in the range is VMAR_EINVAL */
    VMAR_ATTR_GUARD_INSTALL,
    VMAR_ATTR_GUARD_REMOVE,
};

struct vmar__attr_change {
    enum vmar__attr_kind kind;
    unsigned prot;       /* VMAR_ATTR_PROT: VMAR_PROT_* */
    unsigned clear, set; /* VMAR_ATTR_FLAGS */
    /* Discarding advice (dropping pages, leaving memory out of a fork):
     * refused on sealed read-only private anonymous memory
     * (vmar__seal_refuses_discard()). New permissions are refused on
     * every sealed mapping. */
    bool discard;
    /* vmar__kind bits of the mappings that refuse the change with
     * VMAR_EINVAL, and then those that refuse it with VMAR_EACCES. */
    unsigned einval, eacces;
    /* VMAR_ATTR_DROP: also punch each mapping's part of the range out of
     * its object (REMOVE); an object that cannot is VMAR_ENOTSUP. */
    bool punch;
    /* VMAR_ATTR_FLAGS of the lock flags: device mappings keep theirs
     * (never locked, Linux's VM_SPECIAL), and the locked counter follows
     * (any flags change keeps it exact; this only skips devices). */
    bool lock;
};

/* 0, VMAR_ENOMEM (a hole, the mapping-count limit, a failed prepare),
 * VMAR_EPERM (a sealed mapping, as above) or the refusals above, the first
 * found in address order (per mapping: EACCES for new permissions beyond
 * its maximum, as Linux's mprotect, then EPERM, as Linux's
 * can_madvise_modify() comes first, then einval, eacces, ENOTSUP); on
 * failure nothing changed. With nothing to change, only the survey runs.
 * => caller holds the space lock exclusively. */
int vmar__attr_change(struct vmar_space *space, vmar_addr_t lo, vmar_addr_t hi,
                      const struct vmar__attr_change *c);

/* A VMAR_ATTR_FLAGS change of every mapping of the space, whole (no cut,
 * so nothing to prepare), then one coalescing of the user range.
 * Cannot fail.
 * => caller holds the space lock exclusively, with every stripe of the
 *    gate closed (vmar__lock). */
void vmar__attr_change_all(struct vmar_space *space,
                           const struct vmar__attr_change *c);

/*
 * Remove [lo, hi) from the layout: cut straddling mappings, destroy the
 * covered ones, unmap their leaves into `batch`. Needs one prepared node
 * when a single mapping strictly contains the range (see
 * vmar__carve_cost()).
 * => caller holds the space lock exclusively. Cannot fail.
 */
void vmar__carve(struct vmar_space *space, vmar_addr_t lo, vmar_addr_t hi,
                 struct vmar__prep *prep, struct vmar__tlb *batch);

/* vmar_unmap() of [lo, hi) with the lock held: prepare, carve, flush.
 * 0 or VMAR_ENOMEM (count limit, allocation); unchanged on failure.
 * => caller holds the space lock exclusively.
 */
int vmar__unmap_range(struct vmar_space *space, vmar_addr_t lo, vmar_addr_t hi);

/* Before the commit of a change to the layout over [lo, hi): close the
 * fault gate over every mapping the change may touch (those meeting the
 * range, and its neighbours at either end, which a merge may join), with
 * vmar__gate_commit(). When the commit `unmaps` the range (a carve),
 * returns whether the backend's unmap must run there
 * (vmar__gate_unmap(); store the answer's negation in prep->no_table);
 * otherwise true. Nothing to do when the space is not gated.
 * => caller holds the space lock exclusively (vmar__lock_layout). */
bool vmar__commit_begin(struct vmar_space *space, vmar_addr_t lo,
                        vmar_addr_t hi, bool unmaps);

/* ---- stack.c ------------------------------------------------------------ */

/* Whether `addr`, which no mapping contains, lies below a
 * VMAR_MAP_GROWSDOWN mapping: a fault there grows it (vmar__stack_grow).
 * => caller holds the space lock, shared or exclusive, or is inside the
 *    gate and the index. */
bool vmar__stack_below(const struct vmar_space *space, vmar_addr_t addr);

/* Grow the VMAR_MAP_GROWSDOWN mapping above `addr` down to addr's page,
 * with Linux's checks (vmar_map_flags, VMAR_MAP_GROWSDOWN): 0 when it
 * grew, or when a mapping contains `addr` by now; VMAR_ENOENT when no
 * grow-down mapping is above `addr` or a check refuses (nothing changed).
 * => caller holds the space lock exclusively. */
int vmar__stack_grow(struct vmar_space *space, vmar_addr_t addr);

/* What vmar__carve(lo, hi) would do, computed without changing anything. */
struct vmar__carve_cost {
    bool needs_node;    /* one mapping strictly contains [lo, hi) */
    unsigned nodes[2];  /* that one node, by form (vmar__prep_nodes) */
    bool tables;        /* a huge leaf may straddle lo or hi */
    size_t removed;     /* mappings entirely inside [lo, hi) */
    vmar_size_t mapped; /* bytes of [lo, hi) currently mapped
                         * => caller holds the space lock, shared or exclusive.
                         */
    bool sealed; /* a sealed mapping meets [lo, hi): the carve is refused */
};
void vmar__carve_cost(const struct vmar_space *space, vmar_addr_t lo,
                      vmar_addr_t hi, struct vmar__carve_cost *cost);
/* The same, also storing lo's position for vmar__carve_at().
 * => caller holds the space lock, shared or exclusive.
 */
void vmar__carve_cost_at(const struct vmar_space *space, vmar_addr_t lo,
                         vmar_addr_t hi, struct vmar__carve_cost *cost,
                         struct vmar__range_pos *pos);

/* vmar__carve() with lo's position from vmar__carve_cost_at() (the set
 * unchanged since). Returns the node that precedes lo afterwards (the
 * last one ending at or below lo), or NULL.
 * => caller holds the space lock exclusively.
 */
struct vmar__iset_node *vmar__carve_at(struct vmar_space *space, vmar_addr_t lo,
                                       vmar_addr_t hi,
                                       const struct vmar__range_pos *pos,
                                       struct vmar__prep *prep,
                                       struct vmar__tlb *batch);

/* Bytes of device mappings inside [lo, hi): their leaves are always
 * present but not resident (not RSS).
 * => caller holds the space lock, shared or exclusive.
 */
vmar_size_t vmar__device_bytes(const struct vmar_space *space, vmar_addr_t lo,
                               vmar_addr_t hi);

/*
 * Device memory (device.c). What to reserve for installing the leaves of a
 * device range at `va` for physical `paddr`: the exact huge-leaf count
 * when the backend maps ranges and paddr is congruent to va modulo its
 * largest leaf, else the base-page count (after an unmap of the same range
 * in the same commit when `after_unmap`).
 * Reads the backend's constant description only: no lock.
 */
enum vmar_mmu_prep vmar__device_prep(const struct vmar_space *space,
                                     vmar_addr_t va, vmar_paddr_t paddr,
                                     bool after_unmap);
/* Install the leaves of [lo, hi) of device mapping `m` (unmanaged: never
 * freed, never resident), huge where aligned. Cannot fail: `tables` was
 * prepared with vmar__device_prep().
 * => caller holds the space lock exclusively (or builds fork's child,
 *    which no one else reaches yet).
 */
void vmar__device_install(struct vmar_space *space,
                          const struct vmar__mapping *m, vmar_addr_t lo,
                          vmar_addr_t hi, struct vmar_frame_list *tables);

/* Reset `l` to m's /proc/pid/maps line (vmar_dump(); dump.c).
 * => caller holds the space lock, shared or exclusive. */
struct vmar__line;
void vmar__mapping_line(struct vmar__line *l, const struct vmar__mapping *m);

/* Fill a public description of `m`.
 * => caller holds the space lock, shared or exclusive.
 */
void vmar__mapping_info(const struct vmar__mapping *m,
                        struct vmar_mapping_info *info);

#endif /* VMAR_CORE_MAPPING_H */
