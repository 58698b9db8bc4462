/* SPDX-License-Identifier: MIT */
/*
 * The interval set: disjoint half-open intervals [start, end) keyed by
 * start, indexed by a B+tree whose nodes hold up to VMAR_ISET_FANOUT keys,
 * augmented so that free-range search is O(log n).
 *
 * Why half-open and 64-bit: every user range ends at or below 2^57 on any
 * supported MMU, so `end` never overflows; callers reject ranges that wrap
 * before they reach the set.
 *
 * Why a B+tree and not a binary tree whose nodes are the mappings: such a
 * tree descends ~17 levels among 60 000 mappings, one mapping per level,
 * and the lower levels' mappings are out of the cache (six of the
 * fourteen cache misses of a random split, measured; docs/perf/history.md).
 * Here a descent reads four or five index nodes,
 * whose keys are packed (the index is 30-40 bytes per mapping, the inner
 * levels ~1/15 of that), and then touches only the one mapping it finds.
 *
 * The elements are `struct vmar__iset_node`s embedded in the caller's
 * objects (the mappings). The leaves hold, per element, its start (the
 * key), a pointer to it and the length of the free gap before it; an inner
 * node holds, per child, the child's first key and the largest gap in the
 * child's subtree. Each element points back at its leaf, so in-order
 * neighbours and removal need no descent.
 *
 * Gaps. An element may be guarded (vmar__iset_node_set_guarded): then
 * placement keeps the set's `guard` bytes below its start free (stack
 * guard gaps; one size per set, as a space has one stack_guard). Its
 * effective start is eff(n) = n.start - guard(n), clamped at 0, where
 * guard(n) is the set's guard for a guarded element and 0 otherwise. The free
 * gap *before* n is [prev.end, eff(n)) where prev is n's in-order predecessor,
 * or [0, eff(n)) for the first element (empty when eff(n) <= prev.end). A guard
 * clips only the gap directly below its element. The last gap [last.end, 2^64)
 * belongs to no element.
 *
 * Memory. The set allocates nothing itself: index nodes come from a list
 * of spares that the caller fills before a change (vmar__iset_spares_needed,
 * vmar__iset_spare_add) and empties when it likes (vmar__iset_spare_take).
 * An insert takes the index nodes it needs from the spares, a removal gives
 * back the ones it frees, so a change, once its spares are there, cannot
 * fail. Inserting with too few spares is a contract violation (it panics).
 *
 * Contract: callers guarantee that intervals never overlap. Every function
 * assumes the caller holds the space lock (shared for lookups, exclusive
 * for changes and for the spare list).
 */
#ifndef VMAR_CORE_INTERVAL_SET_H
#define VMAR_CORE_INTERVAL_SET_H

#include <vmar/types.h>

/* Keys per index node: 16 keys are 128 bytes, two to three cache lines;
 * the whole node (with pointers, gaps and header) is 416 bytes. */
#define VMAR_ISET_FANOUT 16

struct vmar__iset_index;

/* An element: 24 bytes, embedded in the caller's object. */
struct vmar__iset_node {
    vmar_addr_t start, end; /* the interval; start < end. Set by the caller */
    /* The leaf that holds this element (maintained by the set), with the
     * guarded flag (set by the caller) in bit 0: index nodes are at least
     * 8-byte aligned. Read through the accessors below. */
    uintptr_t leaf_bits;
};

#define VMAR__ISET_GUARDED ((uintptr_t)1)

static inline struct vmar__iset_index *
vmar__iset_node_leaf(const struct vmar__iset_node *n)
{
    return (struct vmar__iset_index *)(n->leaf_bits & ~VMAR__ISET_GUARDED);
}

static inline bool vmar__iset_node_guarded(const struct vmar__iset_node *n)
{
    return (n->leaf_bits & VMAR__ISET_GUARDED) != 0;
}

/* Mark n guarded or not: before it is inserted, or followed by
 * vmar__iset_update(). */
static inline void vmar__iset_node_set_guarded(struct vmar__iset_node *n,
                                               bool guarded)
{
    n->leaf_bits = (n->leaf_bits & ~VMAR__ISET_GUARDED) |
                   (guarded ? VMAR__ISET_GUARDED : 0);
}

/*
 * An index node: a leaf (level 0) or an inner node. Slot i holds key[i]
 * (the element's start, or the child's first key), ptr[i] (the element or
 * the child) and gap[i] (the gap before the element, or the largest gap in
 * the child's subtree). Keys ascend; the slots past `count` hold the key
 * UINT64_MAX and no pointer, so that a descent reads neither `count` nor
 * the header. `prev` and `next` link the nodes of one level in key order.
 * Read-only outside interval_set.c except for the checker and tests.
 *
 * Layout: a descent reads the keys (independent loads, fetched together)
 * and the pointer of its pick, which it prefetches with them; the gaps
 * and the header, which only changes and free-range searches read, come
 * after. The node is not forced to cache-line alignment: a 448-byte
 * line-aligned variant (keys and pointers in two lines each) measured
 * within the noise once the descent prefetches both halves of the keys,
 * and costs 32 bytes a node (docs/perf/history.md).
 */
struct vmar__iset_index {
    vmar_addr_t key[VMAR_ISET_FANOUT];
    void *ptr[VMAR_ISET_FANOUT];
    vmar_size_t gap[VMAR_ISET_FANOUT];
    struct vmar__iset_index *parent; /* NULL for the root; spare-list link */
    struct vmar__iset_index *prev, *next;
    uint32_t count; /* slots in use: 1..FANOUT (the root may hold 1) */
    uint32_t level; /* 0: leaf */
};

struct vmar__iset {
    struct vmar__iset_index *root; /* NULL when empty */
    size_t count;                  /* elements */
    unsigned levels;               /* 0 when empty, 1: the root is a leaf */
    size_t nodes;                  /* index nodes in the tree */
    size_t gen;                    /* bumped by every change of the set */
    /* Bytes placement keeps free below a guarded element. Set by the
     * owner before the first insert; fixed while the set is not empty. */
    vmar_size_t guard;
    size_t nspare;
    struct vmar__iset_index *spare; /* chained through `parent` */
};

/*
 * Where vmar__iset_find_free() found its fit (filled when a hint is asked
 * for and the search succeeds): the leaf and slot a node placed in that
 * hole takes, and the end of the node below the hole (0: none), so that
 * vmar__iset_insert_hinted() needs no descent and reads no neighbour for
 * the new node's gap. Valid while the set is unchanged (`gen`); a stale
 * hint is ignored.
 */
struct vmar__iset_hint {
    struct vmar__iset_index *leaf; /* NULL: the set is empty */
    unsigned slot;
    vmar_addr_t below;
    size_t gen;
};

/* A free-range query for vmar__iset_find_free(). */
struct vmar__iset_query {
    vmar_addr_t lo, hi; /* window: the result lies in [lo, hi) */
    vmar_size_t size;   /* bytes wanted, > 0 */
    vmar_size_t align;  /* power of two; the result is a multiple of it */
    vmar_size_t pre;    /* bytes that must also be free below the result
                           (and inside the window): a new stack's guard */
    bool top_down;      /* highest fit when true, lowest fit when false */
};

void vmar__iset_init(struct vmar__iset *set);

/*
 * Spares. vmar__iset_spares_needed(set, k): how many more spare index nodes
 * the set must hold so that any k inserts (vmar__iset_insert, _insert_after,
 * _split), interleaved with any removals, cannot run out. 0 when it has
 * enough. The memory handed to vmar__iset_spare_add() is
 * sizeof(struct vmar__iset_index) bytes aligned to its alignment; the set
 * owns it until vmar__iset_spare_take() returns it (NULL: no spare left).
 */
size_t vmar__iset_spares_for_many(const struct vmar__iset *set, size_t inserts);

/* The spares k inserts may need in all (what vmar__iset_spares_needed()
 * compares nspare with): the bound interval_set.c derives, inline for up
 * to FANOUT inserts, where it is one product and a sum. */
static inline size_t vmar__iset_spares_for(const struct vmar__iset *set,
                                           size_t inserts)
{
    const size_t k = inserts;

    if (k > VMAR_ISET_FANOUT)
        return vmar__iset_spares_for_many(set, k);
    return k ? k * (set->levels + 1) +
                   (k - 1) * (1 + (k - 1) / (VMAR_ISET_FANOUT - 1))
             : 0;
}

static inline size_t vmar__iset_spares_needed(const struct vmar__iset *set,
                                              size_t inserts)
{
    const size_t need = vmar__iset_spares_for(set, inserts);

    return need > set->nspare ? need - set->nspare : 0;
}

void vmar__iset_spare_add(struct vmar__iset *set, struct vmar__iset_index *x);
struct vmar__iset_index *vmar__iset_spare_take(struct vmar__iset *set);

/* Insert `node` (start, end, guard set by the caller). O(log n).
 * Precondition: it overlaps no node already in the set; spares. */
void vmar__iset_insert(struct vmar__iset *set, struct vmar__iset_node *node);

/* vmar__iset_insert() of a node inside the hole that vmar__iset_find_free()
 * returned `hint` for, without a descent when the set has not changed
 * since (else it descends). Precondition: as vmar__iset_insert(), and the
 * node lies in that hole. */
void vmar__iset_insert_hinted(struct vmar__iset *set,
                              const struct vmar__iset_hint *hint,
                              struct vmar__iset_node *node);

/*
 * Insert `node` right after `pred` in key order (`pred` NULL: before
 * every node): the caller knows the node's predecessor, e.g. from
 * vmar__iset_lower_bound_pred(), and the descent from the root is skipped.
 * Precondition: pred.end <= node.start and node.end <= the start of
 * pred's successor (or of the first node when pred is NULL).
 */
void vmar__iset_insert_after(struct vmar__iset *set,
                             struct vmar__iset_node *pred,
                             struct vmar__iset_node *node);

/* Remove `node`, which must be in the set. O(log n); frees index nodes
 * onto the spare list. */
void vmar__iset_remove(struct vmar__iset *set, struct vmar__iset_node *node);

/*
 * Split node at `at` (node.start < at < node.end): node keeps [start, at)
 * and `tail`, which is not in the set and whose guarded flag the caller
 * has set,
 * becomes [at, old end). Same result as shrinking node's end, calling
 * vmar__iset_update() and inserting tail, without a descent and without
 * touching any other element. Counts as one insert for the spares.
 */
void vmar__iset_split(struct vmar__iset *set, struct vmar__iset_node *node,
                      vmar_addr_t at, struct vmar__iset_node *tail);

/* vmar__iset_split(node, a, mid) then vmar__iset_split(mid, b, tail)
 * (node.start < a < b < node.end; mid's and tail's guarded flags set by
 * the caller), in one slot shift when the leaf has room. Counts as two
 * inserts for the spares. */
void vmar__iset_split3(struct vmar__iset *set, struct vmar__iset_node *node,
                       vmar_addr_t a, struct vmar__iset_node *mid,
                       vmar_addr_t b, struct vmar__iset_node *tail);

/*
 * Remove `next`, which must be vmar__iset_next(node), and extend node to
 * next's end: the inverse of vmar__iset_split (node.end may be below
 * next.start; the range between becomes node's).
 */
void vmar__iset_merge_next(struct vmar__iset *set, struct vmar__iset_node *node,
                           struct vmar__iset_node *next);

/* Recompute what the set keeps of node after the caller changed its start,
 * end or guarded flag without changing its order relative to its neighbours and
 * without creating an overlap: its key, its own gap and its successor's.
 * O(log n). */
void vmar__iset_update(struct vmar__iset *set, struct vmar__iset_node *node);

/* The node whose interval contains `addr`, or NULL. O(log n). */
struct vmar__iset_node *vmar__iset_find(const struct vmar__iset *set,
                                        vmar_addr_t addr);

/* The lowest node with end > addr (the first node that meets
 * [addr, +inf)), or NULL. O(log n). */
struct vmar__iset_node *vmar__iset_lower_bound(const struct vmar__iset *set,
                                               vmar_addr_t addr);

/* vmar__iset_lower_bound(), and in *pred its in-order predecessor (the
 * last node with end <= addr), or NULL: both from the one descent. */
struct vmar__iset_node *
vmar__iset_lower_bound_pred(const struct vmar__iset *set, vmar_addr_t addr,
                            struct vmar__iset_node **pred);

struct vmar__iset_node *vmar__iset_first(const struct vmar__iset *set);
struct vmar__iset_node *vmar__iset_last(const struct vmar__iset *set);
/* In-order neighbours, NULL at the ends. O(1): the element's leaf. */
struct vmar__iset_node *vmar__iset_next(const struct vmar__iset_node *node);
struct vmar__iset_node *vmar__iset_prev(const struct vmar__iset_node *node);

/*
 * Find an address x such that
 *   x % q->align == 0,
 *   q->lo <= x - q->pre and x + q->size <= q->hi (no overflow),
 *   [x - q->pre, x + q->size) lies inside one free gap, where the free gaps
 *   are [prev.end, eff(next)) between consecutive nodes, plus
 *   [0, eff(first)) and [last.end, 2^64) at the ends (or the whole space
 *   when the set is empty),
 * the highest such x when q->top_down, else the lowest. Stores it in *out
 * and returns true; returns false when none exists.
 * Cost: O(log n) when align is the page size (a subtree is entered only if
 * it holds a gap of at least size + pre); larger alignments may visit gaps
 * that are large enough but cannot hold an aligned fit.
 */
bool vmar__iset_find_free(const struct vmar__iset *set,
                          const struct vmar__iset_query *q, vmar_addr_t *out,
                          struct vmar__iset_hint *hint);

/* The largest gap of any node (0 when empty; the last gap not counted). */
vmar_size_t vmar__iset_max_gap(const struct vmar__iset *set);

/* Index nodes in the tree (spares not counted), counted by walking it:
 * O(n), for tests; set->nodes is the same, kept. */
size_t vmar__iset_index_nodes(const struct vmar__iset *set);

/*
 * Check every structural invariant: levels, fill, parent, leaf and
 * sibling links, key order and disjointness, every cached key and gap
 * recomputed from the elements, count and the spare list. Returns NULL
 * when all hold, else a static string naming the first broken rule. O(n).
 */
const char *vmar__iset_check(const struct vmar__iset *set);

#endif /* VMAR_CORE_INTERVAL_SET_H */
