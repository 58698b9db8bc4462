/* SPDX-License-Identifier: MIT */
/*
 * The interval set: an intrusive AVL tree of disjoint half-open intervals
 * [start, end), keyed by start, augmented so that free-range search is
 * O(log n).
 *
 * Why half-open and 64-bit: every user range ends at or below 2^57 on any
 * supported MMU, so `end` never overflows; callers reject ranges that wrap
 * before they reach the set.
 *
 * Augmentation. Every node n carries `guard`: bytes below n.start that
 * placement must keep free (stack guard gaps). Its effective start is
 * eff(n) = n.start - n.guard, clamped at 0. The free gap *before* n is
 * [prev.end, eff(n)) where prev is n's in-order predecessor, or [0, eff(n))
 * for the first node (empty when eff(n) <= prev.end). A guard clips only
 * the gap directly below its node: a mapping already inside the guard
 * stops the stack's growth anyway. The set caches
 *   gap        = the length of the gap before n (n's own),
 *   lsub, rsub = the largest `gap` in n's left and right subtree (0 for
 *                an empty one),
 * and n's AVL balance factor, packed into the low bits of its parent
 * pointer. The last gap [last.end, 2^64) belongs to no node.
 *
 * Why the children's summaries live in the parent (and a balance factor
 * instead of a height): a change below walks up its path of ancestors and
 * must read nothing else. With a per-node height and subtree maximum,
 * every step also read the sibling's, a node the descent never touched:
 * at 60 000 mappings that was a cache miss per level, about half of the
 * misses of a protect or map (docs/PERFORMANCE.md). The node stays at 72
 * bytes.
 *
 * Contract: the set never allocates; the caller owns the nodes. Callers
 * guarantee that intervals never overlap. Every function assumes the
 * caller holds the space lock (shared for lookups, exclusive for changes).
 */
#ifndef VMAR_CORE_INTERVAL_SET_H
#define VMAR_CORE_INTERVAL_SET_H

#include <vmar/types.h>

struct vmar_iset_node {
    /* The lookup reads only these four, so they come first: one cache
     * line per level whenever the node is 32-byte aligned. */
    struct vmar_iset_node *left, *right;
    vmar_addr_t start, end; /* the interval; start < end */
    /* What a retrace after a change reads and writes of each node on its
     * way up, inside the first 64 bytes. Maintained by the set, read-only
     * for callers (vmar_iset_parent(), vmar_iset_sub_gap()): */
    uintptr_t parent_bal; /* parent pointer | (balance + 1), see above */
    vmar_size_t lsub;     /* largest `gap` in the left subtree */
    vmar_size_t rsub;     /* largest `gap` in the right subtree */
    vmar_size_t gap;      /* length of the free gap before this node */
    /* Set by the caller: */
    vmar_size_t guard; /* free bytes placement keeps below start */
};

/* The balance factor takes the two low bits of the parent pointer. */
_Static_assert(_Alignof(struct vmar_iset_node) >= 4,
               "iset nodes must leave two pointer bits free");

static inline struct vmar_iset_node *
vmar_iset_parent(const struct vmar_iset_node *n)
{
    return (struct vmar_iset_node *)(n->parent_bal & ~(uintptr_t)3);
}

/* The largest `gap` in n's subtree, n's own included. */
static inline vmar_size_t vmar_iset_sub_gap(const struct vmar_iset_node *n)
{
    vmar_size_t g = n->gap > n->lsub ? n->gap : n->lsub;

    return g > n->rsub ? g : n->rsub;
}

struct vmar_iset {
    struct vmar_iset_node *root;
    size_t count;
};

/* A free-range query for vmar_iset_find_free(). */
struct vmar_iset_query {
    vmar_addr_t lo, hi; /* window: the result lies in [lo, hi) */
    vmar_size_t size;   /* bytes wanted, > 0 */
    vmar_size_t align;  /* power of two; the result is a multiple of it */
    vmar_size_t pre;    /* bytes that must also be free below the result
                           (and inside the window): a new stack's guard */
    bool top_down;      /* highest fit when true, lowest fit when false */
};

void vmar_iset_init(struct vmar_iset *set);

/* Insert `node` (start, end, guard set by the caller). O(log n).
 * Precondition: it overlaps no node already in the set. */
void vmar_iset_insert(struct vmar_iset *set, struct vmar_iset_node *node);

/*
 * Insert `node` right after `pred` in key order (`pred` NULL: before
 * every node): the caller knows the node's predecessor, e.g. from
 * vmar_iset_lower_bound_pred(), and the descent from the root is skipped.
 * The node lands where vmar_iset_insert() would put it, so the tree comes
 * out the same. Precondition: pred.end <= node.start and node.end <= the
 * start of pred's successor (or of the first node when pred is NULL).
 */
void vmar_iset_insert_after(struct vmar_iset *set, struct vmar_iset_node *pred,
                            struct vmar_iset_node *node);

/* Remove `node`, which must be in the set. O(log n). */
void vmar_iset_remove(struct vmar_iset *set, struct vmar_iset_node *node);

/*
 * Split node at `at` (node.start < at < node.end): node keeps [start, at)
 * and `tail`, which is not in the set and whose guard the caller has set,
 * becomes [at, old end). Same result as shrinking node's end, calling
 * vmar_iset_update() and inserting tail, at a fraction of the cost: no
 * descent from the root, and no neighbour's gap changes. O(log n), usually
 * a few nodes.
 */
void vmar_iset_split(struct vmar_iset *set, struct vmar_iset_node *node,
                     vmar_addr_t at, struct vmar_iset_node *tail);

/*
 * Remove `next`, which must be vmar_iset_next(node), and extend node to
 * next's end: the inverse of vmar_iset_split (node.end may be below
 * next.start; the range between becomes node's). Same result as removing
 * next, moving node's end and calling vmar_iset_update(), without the two
 * walks that would grow and shrink the gap above next. O(log n).
 */
void vmar_iset_merge_next(struct vmar_iset *set, struct vmar_iset_node *node,
                          struct vmar_iset_node *next);

/* Recompute the cached fields after the caller changed node's start, end
 * or guard without changing its order relative to its neighbours and
 * without creating an overlap: node's own gap and its successor's, and
 * their ancestors up to the first one whose cache comes out unchanged.
 * O(log n). */
void vmar_iset_update(struct vmar_iset *set, struct vmar_iset_node *node);

/* The node whose interval contains `addr`, or NULL. O(log n). */
struct vmar_iset_node *vmar_iset_find(const struct vmar_iset *set,
                                      vmar_addr_t addr);

/* The lowest node with end > addr (the first node that meets
 * [addr, +inf)), or NULL. O(log n). */
struct vmar_iset_node *vmar_iset_lower_bound(const struct vmar_iset *set,
                                             vmar_addr_t addr);

/* vmar_iset_lower_bound(), and in *pred its in-order predecessor (the
 * last node with end <= addr), or NULL: both lie on the one descent. */
struct vmar_iset_node *vmar_iset_lower_bound_pred(const struct vmar_iset *set,
                                                  vmar_addr_t addr,
                                                  struct vmar_iset_node **pred);

struct vmar_iset_node *vmar_iset_first(const struct vmar_iset *set);
struct vmar_iset_node *vmar_iset_last(const struct vmar_iset *set);
/* In-order neighbours, NULL at the ends. Amortised O(1). */
struct vmar_iset_node *vmar_iset_next(const struct vmar_iset_node *node);
struct vmar_iset_node *vmar_iset_prev(const struct vmar_iset_node *node);

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
bool vmar_iset_find_free(const struct vmar_iset *set,
                         const struct vmar_iset_query *q, vmar_addr_t *out);

/* The height of n's subtree (a leaf is 1; NULL is 0), counted: O(size of
 * the subtree), for tests and diagnostics. */
int vmar_iset_height(const struct vmar_iset_node *n);

/*
 * Check every structural invariant: parent links, order and disjointness,
 * AVL balance, every cached field recomputed from scratch, and
 * count. Returns NULL when all hold, else a static string naming the first
 * broken rule. O(n).
 */
const char *vmar_iset_check(const struct vmar_iset *set);

#endif /* VMAR_CORE_INTERVAL_SET_H */
