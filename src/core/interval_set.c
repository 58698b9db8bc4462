/* SPDX-License-Identifier: MIT */
/*
 * The interval set: an intrusive AVL tree with parent pointers, keyed by
 * start, augmented with each node's own gap and its subtree's largest gap
 * (see interval_set.h).
 *
 * Every mutation first sets the `gap` of the (at most two) nodes whose
 * predecessor's end or own effective start changed, then walks up from the
 * lowest changed node, fixing heights, sub_gap and balance, and stops at
 * the first node whose height and sub_gap come out as they were: from
 * there up nothing an ancestor reads has changed. The nodes whose `gap`
 * changed get a walk of their own (vmar__iset_pull_up), since the first
 * walk may stop below them.
 */
#include "interval_set.h"
#include "deps.h"

/*
 * No AVL tree of fewer than 2^64 nodes is taller than 1.44 * 64 levels; a
 * deeper path can only come from a corrupted tree, so the checker stops there
 * instead of recursing without bound.
 */
#define VMAR__ISET_MAX_HEIGHT 96

typedef struct vmar_iset_node vmar__iset_node;

static int vmar__iset_height(const vmar__iset_node *n)
{
    return n ? n->height : 0;
}

static vmar_size_t vmar__iset_sub_gap(const vmar__iset_node *n)
{
    return n ? n->sub_gap : 0;
}

/* eff(n) of the header: the lowest address the node keeps from placement. */
static vmar_addr_t vmar__iset_eff(const vmar__iset_node *n)
{
    return n->start > n->guard ? n->start - n->guard : 0;
}

/* Length of the free range [a, b); empty when a guard reaches below a. */
static vmar_size_t vmar__iset_gap(vmar_addr_t a, vmar_addr_t b)
{
    return b > a ? b - a : 0;
}

/* The gap before n when `pred` (NULL: none) is its predecessor. */
static vmar_size_t vmar__iset_gap_after(const vmar__iset_node *pred,
                                        const vmar__iset_node *n)
{
    return vmar__iset_gap(pred ? pred->end : 0, vmar__iset_eff(n));
}

/* Recompute n's height and sub_gap; its children must be current. */
static void vmar__iset_pull(vmar__iset_node *n)
{
    const vmar__iset_node *l = n->left, *r = n->right;
    vmar_size_t g = n->gap;
    int hl = vmar__iset_height(l), hr = vmar__iset_height(r);

    g = VMAR_MAX(g, vmar__iset_sub_gap(l));
    g = VMAR_MAX(g, vmar__iset_sub_gap(r));
    n->sub_gap = g;
    n->height = 1 + VMAR_MAX(hl, hr);
}

/*
 * Pull n and its ancestors after n's `gap` changed, stopping above the
 * first node whose sub_gap comes out unchanged (heights cannot change
 * here: the shape is the same). Every other node must be current with
 * respect to its children.
 */
static void vmar__iset_pull_up(vmar__iset_node *n)
{
    vmar_size_t old = n->sub_gap;

    vmar__iset_pull(n);
    while (n->sub_gap != old && n->parent) {
        n = n->parent;
        old = n->sub_gap;
        vmar__iset_pull(n);
    }
}

/* Point what referred to `old` (its parent's slot or the root) at `new_`. */
static void vmar__iset_replace_child(struct vmar_iset *set,
                                     vmar__iset_node *parent,
                                     const vmar__iset_node *old,
                                     vmar__iset_node *new_)
{
    if (!parent)
        set->root = new_;
    else if (parent->left == old)
        parent->left = new_;
    else
        parent->right = new_;
}

/* Rotations touch only x and its child y, so only those two are pulled. */
static vmar__iset_node *vmar__iset_rotate_left(struct vmar_iset *set,
                                               vmar__iset_node *x)
{
    vmar__iset_node *y = x->right;

    x->right = y->left;
    if (y->left)
        y->left->parent = x;
    y->parent = x->parent;
    vmar__iset_replace_child(set, x->parent, x, y);
    y->left = x;
    x->parent = y;
    vmar__iset_pull(x);
    vmar__iset_pull(y);
    return y;
}

static vmar__iset_node *vmar__iset_rotate_right(struct vmar_iset *set,
                                                vmar__iset_node *x)
{
    vmar__iset_node *y = x->left;

    x->left = y->right;
    if (y->right)
        y->right->parent = x;
    y->parent = x->parent;
    vmar__iset_replace_child(set, x->parent, x, y);
    y->right = x;
    x->parent = y;
    vmar__iset_pull(x);
    vmar__iset_pull(y);
    return y;
}

/*
 * Pull n and restore the AVL balance at n. Returns the node now at n's
 * position (n itself, or the child rotated above it).
 * => n's children are balanced and current.
 */
static vmar__iset_node *vmar__iset_rebalance(struct vmar_iset *set,
                                             vmar__iset_node *n)
{
    vmar__iset_node *l = n->left, *r = n->right;
    int bf = vmar__iset_height(l) - vmar__iset_height(r);

    if (bf > 1) {
        if (vmar__iset_height(l->left) < vmar__iset_height(l->right))
            vmar__iset_rotate_left(set, l);
        return vmar__iset_rotate_right(set, n);
    }
    if (bf < -1) {
        if (vmar__iset_height(r->right) < vmar__iset_height(r->left))
            vmar__iset_rotate_right(set, r);
        return vmar__iset_rotate_left(set, n);
    }
    vmar__iset_pull(n);
    return n;
}

/*
 * Rebalance from n up after an insert or remove below n. n's stored height
 * and sub_gap must still describe its position before the change (what
 * its parent last read): once the node at a position comes out with the
 * same height and sub_gap, no ancestor has anything to recompute or
 * rebalance, and the walk stops.
 */
static void vmar__iset_retrace(struct vmar_iset *set, vmar__iset_node *n)
{
    while (n) {
        int old_h = n->height;
        vmar_size_t old_g = n->sub_gap;

        n = vmar__iset_rebalance(set, n);
        if (n->height == old_h && n->sub_gap == old_g)
            return;
        n = n->parent;
    }
}

void vmar_iset_init(struct vmar_iset *set)
{
    set->root = NULL;
    set->count = 0;
}

/*
 * The new node is a leaf, so its neighbours are ancestors: the last node
 * the descent left to the right (pred) and to the left (succ). Only succ's
 * gap changes besides the new node's own.
 */
/*
 * Hang `node` below `parent` (or as the root) as a leaf whose in-order
 * neighbours are pred and succ, and repair the caches. succ's gap is the
 * only other one that can change; `succ_moved` says whether it did.
 */
static void vmar__iset_link_leaf(struct vmar_iset *set,
                                 struct vmar_iset_node *node,
                                 struct vmar_iset_node *parent,
                                 struct vmar_iset_node **link,
                                 const struct vmar_iset_node *pred,
                                 struct vmar_iset_node *succ, bool succ_moved)
{
    node->left = NULL;
    node->right = NULL;
    node->parent = parent;
    node->height = 1;
    node->gap = vmar__iset_gap_after(pred, node);
    node->sub_gap = node->gap;
    *link = node;
    set->count++;
    if (succ_moved)
        succ->gap = vmar__iset_gap_after(node, succ);
    vmar__iset_retrace(set, parent);
    if (succ_moved)
        vmar__iset_pull_up(succ);
}

void vmar_iset_insert(struct vmar_iset *set, struct vmar_iset_node *node)
{
    struct vmar_iset_node **link = &set->root;
    struct vmar_iset_node *parent = NULL, *pred = NULL, *succ = NULL;

    while (*link) {
        parent = *link;
        if (node->start < parent->start) {
            succ = parent;
            link = &parent->left;
        } else {
            pred = parent;
            link = &parent->right;
        }
    }
    vmar__iset_link_leaf(set, node, parent, link, pred, succ, succ != NULL);
}

/*
 * The leaf position right after pred: its right child when it has none,
 * else the left child of its successor (the leftmost node of its right
 * subtree). That is where a descent by key ends, as the new start lies
 * between pred's and its successor's.
 */
void vmar_iset_insert_after(struct vmar_iset *set, struct vmar_iset_node *pred,
                            struct vmar_iset_node *node)
{
    struct vmar_iset_node **link, *parent, *succ;

    if (!pred) {
        parent = vmar_iset_first(set);
        link = parent ? &parent->left : &set->root;
        succ = parent;
    } else if (!pred->right) {
        parent = pred;
        link = &pred->right;
        succ = vmar_iset_next(pred);
    } else {
        parent = pred->right;
        while (parent->left)
            parent = parent->left;
        link = &parent->left;
        succ = parent;
    }
    vmar__iset_link_leaf(set, node, parent, link, pred, succ, succ != NULL);
}

/*
 * The tail goes right after node in key order: as node's right child, or
 * as the left child of the leftmost node of node's right subtree. That
 * skips the descent from the root, and since the pair covers what node
 * covered, only the tail's own gap is new (usually 0).
 */
void vmar_iset_split(struct vmar_iset *set, struct vmar_iset_node *node,
                     vmar_addr_t at, struct vmar_iset_node *tail)
{
    struct vmar_iset_node *parent = node, **link = &node->right;

    tail->start = at;
    tail->end = node->end;
    node->end = at;
    while (*link) {
        parent = *link;
        link = &parent->left;
    }
    vmar__iset_link_leaf(set, tail, parent, link, node, NULL, false);
}

/*
 * Move z's in-order successor y (the leftmost node of z's right subtree)
 * into z's place; y takes over z's height and sub_gap, which describe the
 * position before the removal (see vmar__iset_retrace). Returns the lowest
 * node whose subtree changed.
 *
 *        z                y
 *       / \              / \
 *      a   r            a   r
 *         /      =>        /
 *       ...              ...
 *       /                /
 *      y                x
 *       \
 *        x
 */
static vmar__iset_node *vmar__iset_splice_successor(struct vmar_iset *set,
                                                    vmar__iset_node *z,
                                                    vmar__iset_node *y)
{
    vmar__iset_node *fix;

    if (y->parent == z) {
        fix = y;
    } else {
        fix = y->parent;
        fix->left = y->right;
        if (y->right)
            y->right->parent = fix;
        y->right = z->right;
        z->right->parent = y;
    }
    y->left = z->left;
    z->left->parent = y;
    y->parent = z->parent;
    y->height = z->height;
    y->sub_gap = z->sub_gap;
    vmar__iset_replace_child(set, z->parent, z, y);
    return fix;
}

/*
 * Only the successor's gap changes: it now starts at the predecessor's
 * end. The successor sits on the retrace path or just below its start
 * (when it replaces a leaf's parent), so its own pull_up is short.
 */
/* Unlink node, whose successor is succ, and rebalance. */
static void vmar__iset_unlink(struct vmar_iset *set, vmar__iset_node *node,
                              vmar__iset_node *succ)
{
    vmar__iset_node *fix;

    if (node->left && node->right) {
        fix = vmar__iset_splice_successor(set, node, succ);
    } else {
        vmar__iset_node *child = node->left ? node->left : node->right;

        if (child)
            child->parent = node->parent;
        vmar__iset_replace_child(set, node->parent, node, child);
        fix = node->parent;
    }
    set->count--;
    /* A removed node keeps no links into the tree it left. */
    node->left = NULL;
    node->right = NULL;
    node->parent = NULL;
    vmar__iset_retrace(set, fix);
}

void vmar_iset_remove(struct vmar_iset *set, struct vmar_iset_node *node)
{
    vmar__iset_node *pred = vmar_iset_prev(node);
    vmar__iset_node *succ = vmar_iset_next(node);

    if (succ)
        succ->gap = vmar__iset_gap_after(pred, succ);
    vmar__iset_unlink(set, node, succ);
    if (succ)
        vmar__iset_pull_up(succ);
}

/*
 * node takes over next's range; the gap above next keeps its lower end
 * (next.end), so apart from the structural removal nothing changes but
 * the disappearance of next's own gap, which the retrace sees.
 */
void vmar_iset_merge_next(struct vmar_iset *set, struct vmar_iset_node *node,
                          struct vmar_iset_node *next)
{
    node->end = next->end;
    vmar__iset_unlink(set, next, next->right ? vmar_iset_next(next) : NULL);
}

/*
 * A changed start or guard moves node's own gap, a changed end its
 * successor's; both are recomputed (finding the neighbours is amortised
 * O(1) and cheaper than asking the caller which field moved). Heights
 * cannot change.
 */
void vmar_iset_update(struct vmar_iset *set, struct vmar_iset_node *node)
{
    vmar__iset_node *succ = vmar_iset_next(node);
    vmar_size_t gap = vmar__iset_gap_after(vmar_iset_prev(node), node);

    (void)set;
    if (gap != node->gap) {
        node->gap = gap;
        vmar__iset_pull_up(node);
    }
    if (succ) {
        gap = vmar__iset_gap_after(node, succ);
        if (gap != succ->gap) {
            succ->gap = gap;
            vmar__iset_pull_up(succ);
        }
    }
}

struct vmar_iset_node *vmar_iset_find(const struct vmar_iset *set,
                                      vmar_addr_t addr)
{
    struct vmar_iset_node *n = set->root;

    /* The direction is a data-dependent select, not a branch: on a random
     * address each level's branch would be mispredicted half the time. The
     * containment test is taken once, at the end. */
    while (n) {
        uintptr_t right = (uintptr_t)0 - (uintptr_t)(addr >= n->start);
        uintptr_t l = (uintptr_t)n->left, r = (uintptr_t)n->right;
        if (addr - n->start < n->end - n->start)
            return n;
        n = (struct vmar_iset_node *)((l & ~right) | (r & right));
    }
    return NULL;
}

/* Ends increase in key order because the intervals are disjoint. */
struct vmar_iset_node *vmar_iset_lower_bound(const struct vmar_iset *set,
                                             vmar_addr_t addr)
{
    struct vmar_iset_node *n = set->root;
    uintptr_t best = 0;

    /* Branch-free, as vmar_iset_find. */
    while (n) {
        uintptr_t left = (uintptr_t)0 - (uintptr_t)(n->end > addr);
        uintptr_t l = (uintptr_t)n->left, r = (uintptr_t)n->right;
        best = ((uintptr_t)n & left) | (best & ~left);
        n = (struct vmar_iset_node *)((l & left) | (r & ~left));
    }
    return (struct vmar_iset_node *)best;
}

/* The predecessor is the last node the descent leaves to the right. */
struct vmar_iset_node *vmar_iset_lower_bound_pred(const struct vmar_iset *set,
                                                  vmar_addr_t addr,
                                                  struct vmar_iset_node **pred)
{
    struct vmar_iset_node *n = set->root;
    uintptr_t best = 0, before = 0;

    while (n) {
        uintptr_t left = (uintptr_t)0 - (uintptr_t)(n->end > addr);
        uintptr_t l = (uintptr_t)n->left, r = (uintptr_t)n->right;
        best = ((uintptr_t)n & left) | (best & ~left);
        before = ((uintptr_t)n & ~left) | (before & left);
        n = (struct vmar_iset_node *)((l & left) | (r & ~left));
    }
    *pred = (struct vmar_iset_node *)before;
    return (struct vmar_iset_node *)best;
}

struct vmar_iset_node *vmar_iset_first(const struct vmar_iset *set)
{
    struct vmar_iset_node *n = set->root;

    while (n && n->left)
        n = n->left;
    return n;
}

struct vmar_iset_node *vmar_iset_last(const struct vmar_iset *set)
{
    struct vmar_iset_node *n = set->root;

    while (n && n->right)
        n = n->right;
    return n;
}

struct vmar_iset_node *vmar_iset_next(const struct vmar_iset_node *node)
{
    struct vmar_iset_node *n = node->right;

    if (n) {
        while (n->left)
            n = n->left;
        return n;
    }
    while (node->parent && node->parent->right == node)
        node = node->parent;
    return node->parent;
}

struct vmar_iset_node *vmar_iset_prev(const struct vmar_iset_node *node)
{
    struct vmar_iset_node *n = node->left;

    if (n) {
        while (n->right)
            n = n->right;
        return n;
    }
    while (node->parent && node->parent->left == node)
        node = node->parent;
    return node->parent;
}

/* ---- free-range search ------------------------------------------------ */

/*
 * The search walks subtrees together with bounds on their gaps: every gap
 * of a node x of subtree t, [pred(x).end, eff(x)), lies inside [lb, ub),
 * where lb is the end of t's in-order predecessor (0 for none) and ub the
 * start of its successor (UINT64_MAX for none). The header's last gap ends
 * at 2^64, but every fit satisfies x + size <= hi <= UINT64_MAX, so ending
 * it at UINT64_MAX loses no fit and keeps the arithmetic in 64 bits.
 */
struct vmar__iset_search {
    const struct vmar_iset_query *q;
    vmar_size_t need; /* size + pre: the shortest gap that can hold a fit */
    vmar_size_t mask; /* align - 1 */
    vmar_addr_t *out;
};

/*
 * Place the fit inside the free range [a, b) clipped to the window.
 * The clipped range holds at least `need` bytes, so a + pre and b - size
 * cannot wrap; only rounding up to the alignment can.
 */
static bool vmar__iset_fit_gap(const struct vmar__iset_search *s, vmar_addr_t a,
                               vmar_addr_t b)
{
    const struct vmar_iset_query *q = s->q;
    vmar_addr_t lo = VMAR_MAX(a, q->lo), hi = VMAR_MIN(b, q->hi);
    vmar_addr_t first, last, x;

    if (hi <= lo || hi - lo < s->need)
        return false;
    first = lo + q->pre; /* lowest x whose pre-range starts in the gap */
    last = hi - q->size; /* highest x whose range ends in the gap */
    if (q->top_down) {
        x = last & ~s->mask;
    } else {
        if ((first & s->mask) && first > UINT64_MAX - s->mask)
            return false;
        x = (first + s->mask) & ~s->mask;
    }
    if (x < first || x > last)
        return false;
    *s->out = x;
    return true;
}

/* The gap before t, [eff(t) - gap, eff(t)); nothing when it is empty. */
static bool vmar__iset_fit_own(const struct vmar__iset_search *s,
                               const vmar__iset_node *t)
{
    vmar_addr_t eff = vmar__iset_eff(t);

    return t->gap >= s->need && vmar__iset_fit_gap(s, eff - t->gap, eff);
}

/*
 * Whether subtree t, whose gaps lie in [lb, ub), can hold a fit: its span
 * must meet the window in at least `need` bytes and its largest gap must
 * be that long. With page-multiple queries a subtree inside the window
 * that passes always holds a fit, so only subtrees that straddle lo or hi
 * are entered in vain: the search is O(log n).
 */
static bool vmar__iset_may_fit(const struct vmar__iset_search *s,
                               const vmar__iset_node *t, vmar_addr_t lb,
                               vmar_addr_t ub)
{
    vmar_addr_t lo = VMAR_MAX(lb, s->q->lo), hi = VMAR_MIN(ub, s->q->hi);

    return t->sub_gap >= s->need && hi > lo && hi - lo >= s->need;
}

/*
 * Search the gaps of subtree t in address order (reversed when top-down)
 * and stop at the first fit. Recursion depth is the tree height.
 */
static bool vmar__iset_search(const struct vmar__iset_search *s,
                              const vmar__iset_node *t, vmar_addr_t lb,
                              vmar_addr_t ub)
{
    if (!t || !vmar__iset_may_fit(s, t, lb, ub))
        return false;
    if (s->q->top_down)
        return vmar__iset_search(s, t->right, t->end, ub) ||
               vmar__iset_fit_own(s, t) ||
               vmar__iset_search(s, t->left, lb, t->start);
    return vmar__iset_search(s, t->left, lb, t->start) ||
           vmar__iset_fit_own(s, t) ||
           vmar__iset_search(s, t->right, t->end, ub);
}

/*
 * Malformed queries (size 0, an alignment that is not a power of two) and
 * queries whose size + pre exceeds the address space find nothing. The
 * last gap, [last.end, 2^64) (the whole space when the set is empty),
 * belongs to no node and is tried first top-down, last bottom-up.
 */
bool vmar_iset_find_free(const struct vmar_iset *set,
                         const struct vmar_iset_query *q, vmar_addr_t *out)
{
    struct vmar__iset_search s;
    const vmar__iset_node *last = vmar_iset_last(set);
    vmar_addr_t top = last ? last->end : 0;

    if (q->size == 0 || q->align == 0 || (q->align & (q->align - 1)))
        return false;
    if (q->pre > UINT64_MAX - q->size)
        return false;
    s.q = q;
    s.need = q->size + q->pre;
    s.mask = q->align - 1;
    s.out = out;
    if (q->top_down)
        return vmar__iset_fit_gap(&s, top, UINT64_MAX) ||
               vmar__iset_search(&s, set->root, 0, UINT64_MAX);
    return vmar__iset_search(&s, set->root, 0, UINT64_MAX) ||
           vmar__iset_fit_gap(&s, top, UINT64_MAX);
}

/* ---- checker ---------------------------------------------------------- */

struct vmar__iset_walk {
    const vmar__iset_node *prev; /* in-order predecessor of the next visit */
    size_t count;
    const char *err;
};

static const char *vmar__iset_check_links(const vmar__iset_node *n,
                                          const vmar__iset_node *parent,
                                          int depth)
{
    if (depth > VMAR__ISET_MAX_HEIGHT)
        return "iset: tree deeper than any AVL tree can be";
    if (n->parent != parent)
        return "iset: parent link does not match the tree";
    /* With parents checked, this also rules out cycles. */
    if (n->left && n->left == n->right)
        return "iset: left and right child are the same node";
    if (n->start >= n->end)
        return "iset: interval is empty or inverted";
    return NULL;
}

/*
 * In-order walk: recomputes n's height and sub_gap into *height and *gap
 * from the nodes alone and compares them with the cache; on failure sets
 * w->err and leaves *height and *gap undefined.
 */
static void vmar__iset_check_node(const vmar__iset_node *n,
                                  const vmar__iset_node *parent, int depth,
                                  struct vmar__iset_walk *w, int *height,
                                  vmar_size_t *gap)
{
    int lh = 0, rh = 0;
    vmar_size_t lg = 0, rg = 0;

    *height = 0;
    *gap = 0;
    if (!n)
        return;
    w->err = vmar__iset_check_links(n, parent, depth);
    if (!w->err)
        vmar__iset_check_node(n->left, n, depth + 1, w, &lh, &lg);
    if (w->err)
        return;
    if (w->prev && w->prev->end > n->start) {
        w->err = "iset: intervals out of order or overlapping";
        return;
    }
    if (n->gap != vmar__iset_gap_after(w->prev, n)) {
        w->err = "iset: gap is wrong";
        return;
    }
    w->prev = n;
    w->count++;
    vmar__iset_check_node(n->right, n, depth + 1, w, &rh, &rg);
    if (w->err)
        return;
    *height = 1 + VMAR_MAX(lh, rh);
    *gap = VMAR_MAX(n->gap, VMAR_MAX(lg, rg));
    if (n->height != *height)
        w->err = "iset: cached height is wrong";
    else if (lh - rh > 1 || rh - lh > 1)
        w->err = "iset: AVL balance violated";
    else if (n->sub_gap != *gap)
        w->err = "iset: sub_gap is wrong";
}

const char *vmar_iset_check(const struct vmar_iset *set)
{
    struct vmar__iset_walk w = {NULL, 0, NULL};
    int height;
    vmar_size_t gap;

    vmar__iset_check_node(set->root, NULL, 1, &w, &height, &gap);
    if (w.err)
        return w.err;
    if (w.count != set->count)
        return "iset: count does not match the number of nodes";
    return NULL;
}
