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
 * [prev.end, eff(n)) where prev is n's in-order predecessor (empty when
 * eff(n) <= prev.end). A guard clips only the gap directly below its node:
 * a mapping already inside the guard stops the stack's growth anyway.
 * Each node caches, for its subtree:
 *   sub_first = eff() of the leftmost node,
 *   sub_end   = end of the rightmost node,
 *   sub_gap   = the largest gap between two consecutive nodes of the
 *               subtree (0 for a single node).
 * These depend only on the subtree, so rotations fix them locally.
 *
 * Contract: the set never allocates; the caller owns the nodes. Callers
 * guarantee that intervals never overlap. Every function assumes the
 * caller holds the space lock (shared for lookups, exclusive for changes).
 */
#ifndef VMAR_CORE_INTERVAL_SET_H
#define VMAR_CORE_INTERVAL_SET_H

#include <vmar/types.h>

struct vmar_iset_node {
    struct vmar_iset_node *left, *right, *parent;
    vmar_addr_t start, end; /* the interval; start < end */
    vmar_size_t guard;      /* free bytes placement keeps below start */
    /* maintained by the set, read-only for callers: */
    vmar_addr_t sub_first;
    vmar_addr_t sub_end;
    vmar_size_t sub_gap;
    int height; /* AVL height, leaf = 1 */
};

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

/* Remove `node`, which must be in the set. O(log n). */
void vmar_iset_remove(struct vmar_iset *set, struct vmar_iset_node *node);

/* Recompute the cached fields from `node` up to the root after the caller
 * changed its start, end or guard without changing its order relative to
 * its neighbours and without creating an overlap. O(log n). */
void vmar_iset_update(struct vmar_iset *set, struct vmar_iset_node *node);

/* The node whose interval contains `addr`, or NULL. O(log n). */
struct vmar_iset_node *vmar_iset_find(const struct vmar_iset *set,
                                      vmar_addr_t addr);

/* The lowest node with end > addr (the first node that meets
 * [addr, +inf)), or NULL. O(log n). */
struct vmar_iset_node *vmar_iset_lower_bound(const struct vmar_iset *set,
                                             vmar_addr_t addr);

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

/*
 * Check every structural invariant: parent links, order and disjointness,
 * AVL heights and balance, every cached field recomputed from scratch, and
 * count. Returns NULL when all hold, else a static string naming the first
 * broken rule. O(n).
 */
const char *vmar_iset_check(const struct vmar_iset *set);

#endif /* VMAR_CORE_INTERVAL_SET_H */
