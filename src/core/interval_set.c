/* SPDX-License-Identifier: MIT */
/*
 * The interval set: an intrusive AVL tree with parent pointers, keyed by
 * start, augmented with each node's own gap and its two subtrees' largest
 * gaps (see interval_set.h).
 *
 * Every mutation first sets the `gap` of the (at most two) nodes whose
 * predecessor's end or own effective start changed, then changes the
 * shape and walks up from the lowest changed position: balance factors
 * while the subtree's height changes, and the parent's summary slot
 * (lsub or rsub) of the node below while that summary changes. A node
 * whose `gap` changed gets a walk of its own (vmar__iset_pull_up), since
 * the first walk may stop below it. Every step reads and writes only the
 * path: a node and the one it came from, never a sibling, except for the
 * sibling a removal rotates up.
 */
#include "interval_set.h"
#include "deps.h"

/*
 * No AVL tree of fewer than 2^64 nodes is taller than 1.44 * 64 levels; a
 * deeper path can only come from a corrupted tree, so the checker stops there
 * instead of recursing without bound.
 */
#define VMAR__ISET_MAX_HEIGHT 96

#define VMAR__ISET_BAL ((uintptr_t)3)

typedef struct vmar_iset_node vmar__iset_node;

/* Balance factor: height(right) - height(left), stored plus one. */
static int vmar__iset_bal(const vmar__iset_node *n)
{
    return (int)(n->parent_bal & VMAR__ISET_BAL) - 1;
}

static void vmar__iset_set_bal(vmar__iset_node *n, int bal)
{
    n->parent_bal =
        (n->parent_bal & ~VMAR__ISET_BAL) | (uintptr_t)(unsigned)(bal + 1);
}

static void vmar__iset_set_parent(vmar__iset_node *n, vmar__iset_node *p)
{
    n->parent_bal = (uintptr_t)p | (n->parent_bal & VMAR__ISET_BAL);
}

static void vmar__iset_set_parent_bal(vmar__iset_node *n, vmar__iset_node *p,
                                      int bal)
{
    n->parent_bal = (uintptr_t)p | (uintptr_t)(unsigned)(bal + 1);
}

/* The largest gap of subtree n; 0 for an empty one. */
static vmar_size_t vmar__iset_sub(const vmar__iset_node *n)
{
    return n ? vmar_iset_sub_gap(n) : 0;
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

/*
 * n's summary changed (its gap or a slot of its own): store it in its
 * parent's slot for n, and go on up while a stored slot changes. Every
 * slot not on this path must be current.
 */
static void vmar__iset_pull_up(vmar__iset_node *n)
{
    for (vmar__iset_node *p = vmar_iset_parent(n); p;
         n = p, p = vmar_iset_parent(p)) {
        vmar_size_t sub = vmar_iset_sub_gap(n);
        vmar_size_t *slot = p->left == n ? &p->lsub : &p->rsub;

        if (*slot == sub)
            return;
        *slot = sub;
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

/*
 * Rotations. `xb` and `yb` are the balances of x and of the child y that
 * moves up, as the caller knows them: xb may be +-2, and inside a double
 * rotation yb may be +-2 too, which the two stored bits cannot hold. So
 * x's new balance (always -1..1) is stored and y's is returned in *top
 * for the caller to store or pass on. Links and both slots come out
 * right; the rotated subtree holds the same gaps as before, so the slot
 * above stays right.
 *
 * Left at x (y = x.right, with children B and C; x's left A):
 *   new x.bal = b - a              = xb - 1 - max(yb, 0)
 *   new y.bal = c - (1 + max(a,b)) = yb - 1 + min(new x.bal, 0)
 * and the mirror image for a right rotation.
 */
static vmar__iset_node *vmar__iset_rotate_left(struct vmar_iset *set,
                                               vmar__iset_node *x, int xb,
                                               int yb, int *top)
{
    vmar__iset_node *y = x->right, *p = vmar_iset_parent(x), *b = y->left;

    x->right = b;
    x->rsub = y->lsub;
    if (b)
        vmar__iset_set_parent(b, x);
    y->left = x;
    vmar__iset_replace_child(set, p, x, y);
    xb = xb - 1 - VMAR_MAX(yb, 0);
    *top = yb - 1 + VMAR_MIN(xb, 0);
    vmar__iset_set_parent_bal(x, y, xb);
    vmar__iset_set_parent_bal(y, p, 0);
    y->lsub = vmar_iset_sub_gap(x);
    return y;
}

static vmar__iset_node *vmar__iset_rotate_right(struct vmar_iset *set,
                                                vmar__iset_node *x, int xb,
                                                int yb, int *top)
{
    vmar__iset_node *y = x->left, *p = vmar_iset_parent(x), *b = y->right;

    x->left = b;
    x->lsub = y->rsub;
    if (b)
        vmar__iset_set_parent(b, x);
    y->right = x;
    vmar__iset_replace_child(set, p, x, y);
    xb = xb + 1 - VMAR_MIN(yb, 0);
    *top = yb + 1 + VMAR_MAX(xb, 0);
    vmar__iset_set_parent_bal(x, y, xb);
    vmar__iset_set_parent_bal(y, p, 0);
    y->rsub = vmar_iset_sub_gap(x);
    return y;
}

/* Restore the balance at x, whose balance is xb = +-2: a single or double
 * rotation. Returns the node now at x's position. */
static vmar__iset_node *vmar__iset_rotate(struct vmar_iset *set,
                                          vmar__iset_node *x, int xb)
{
    vmar__iset_node *r;
    int yb, top;

    if (xb < 0) {
        yb = vmar__iset_bal(x->left);
        if (yb > 0)
            vmar__iset_rotate_left(set, x->left, yb,
                                   vmar__iset_bal(x->left->right), &yb);
        r = vmar__iset_rotate_right(set, x, xb, yb, &top);
    } else {
        yb = vmar__iset_bal(x->right);
        if (yb < 0)
            vmar__iset_rotate_right(set, x->right, yb,
                                    vmar__iset_bal(x->right->left), &yb);
        r = vmar__iset_rotate_left(set, x, xb, yb, &top);
    }
    vmar__iset_set_bal(r, top);
    return r;
}

/*
 * After leaf c was linked: walk up while the subtree's height grew. A
 * node that comes out balanced, or a rotation, ends the growth; from
 * there only summaries move.
 */
static void vmar__iset_retrace_insert(struct vmar_iset *set, vmar__iset_node *c)
{
    vmar__iset_node *p;

    while ((p = vmar_iset_parent(c)) != NULL) {
        /* The side is a coin flip on random keys: selects, not branches. */
        const bool left = p->left == c;
        vmar_size_t *slot = left ? &p->lsub : &p->rsub;
        const int b = vmar__iset_bal(p) + (left ? -1 : 1);

        *slot = vmar_iset_sub_gap(c);
        if (b == 0) {
            vmar__iset_set_bal(p, 0);
            vmar__iset_pull_up(p);
            return;
        }
        if (b == 1 || b == -1) {
            vmar__iset_set_bal(p, b);
            c = p;
            continue;
        }
        vmar__iset_pull_up(vmar__iset_rotate(set, p, b));
        return;
    }
}

/*
 * After the subtree on one side of p (`left`) got one level shorter, with
 * p's child pointer on that side already updated: walk up while heights
 * shrink. A node left leaning by one keeps its height and ends it; so
 * does a rotation around a balanced sibling.
 */
static void vmar__iset_retrace_remove(struct vmar_iset *set, vmar__iset_node *p,
                                      bool left)
{
    while (p) {
        vmar__iset_node *g = vmar_iset_parent(p);
        const bool p_left = g && g->left == p;
        int b;

        if (left) {
            p->lsub = vmar__iset_sub(p->left);
            b = vmar__iset_bal(p) + 1;
        } else {
            p->rsub = vmar__iset_sub(p->right);
            b = vmar__iset_bal(p) - 1;
        }
        if (b == 1 || b == -1) {
            vmar__iset_set_bal(p, b);
            vmar__iset_pull_up(p);
            return;
        }
        if (b == 0) {
            vmar__iset_set_bal(p, 0);
        } else {
            const vmar__iset_node *y = b > 0 ? p->right : p->left;
            const bool same_height = vmar__iset_bal(y) == 0;

            p = vmar__iset_rotate(set, p, b);
            if (same_height) {
                vmar__iset_pull_up(p);
                return;
            }
        }
        p = g;
        left = p_left;
    }
}

void vmar_iset_init(struct vmar_iset *set)
{
    set->root = NULL;
    set->count = 0;
}

/*
 * Hang `node` below `parent` (or as the root) at `link` as a leaf whose
 * in-order neighbours are pred and succ, and repair the caches. succ's gap
 * is the only other one that can change; `succ_moved` says whether it did.
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
    vmar__iset_set_parent_bal(node, parent, 0);
    node->lsub = 0;
    node->rsub = 0;
    node->gap = vmar__iset_gap_after(pred, node);
    *link = node;
    set->count++;
    if (succ_moved)
        succ->gap = vmar__iset_gap_after(node, succ);
    vmar__iset_retrace_insert(set, node);
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
 * Unlink z, whose successor is succ (NULL when z has no right child is
 * fine: only the two-children case uses it), and rebalance. With two
 * children, succ (the leftmost node of z's right subtree, no left child)
 * takes z's place, balance and left summary:
 *
 *        z                succ
 *       / \              /  \
 *      a   r            a    r
 *         /      =>         /
 *       ...               ...
 *       /                 /
 *     succ               x
 *       \
 *        x
 *
 * Its right summary is z's: the retrace from succ's old parent corrects
 * it on the way up if succ's own gap was the largest there, and otherwise
 * it stays right.
 */
static void vmar__iset_unlink(struct vmar_iset *set, vmar__iset_node *z,
                              vmar__iset_node *succ)
{
    vmar__iset_node *p = vmar_iset_parent(z);

    if (z->left && z->right) {
        vmar__iset_node *y = succ, *fix;
        bool left;

        if (y == z->right) {
            fix = y;
            left = false;
        } else {
            fix = vmar_iset_parent(y);
            left = true;
            fix->left = y->right;
            if (y->right)
                vmar__iset_set_parent(y->right, fix);
            y->right = z->right;
            vmar__iset_set_parent(z->right, y);
            y->rsub = z->rsub;
        }
        y->left = z->left;
        vmar__iset_set_parent(z->left, y);
        y->lsub = z->lsub;
        vmar__iset_set_parent_bal(y, p, vmar__iset_bal(z));
        vmar__iset_replace_child(set, p, z, y);
        vmar__iset_retrace_remove(set, fix, left);
    } else {
        vmar__iset_node *child = z->left ? z->left : z->right;
        const bool left = p && p->left == z;

        if (child)
            vmar__iset_set_parent(child, p);
        vmar__iset_replace_child(set, p, z, child);
        if (p)
            vmar__iset_retrace_remove(set, p, left);
    }
    set->count--;
    /* A removed node keeps no links into the tree it left. */
    z->left = NULL;
    z->right = NULL;
    z->parent_bal = 0;
}

/*
 * Only the successor's gap changes: it now starts at the predecessor's
 * end. Its walk runs after the shape settled.
 */
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
 * O(1) and cheaper than asking the caller which field moved). The shape
 * does not change.
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
    for (n = vmar_iset_parent(node); n && n->right == node;
         n = vmar_iset_parent(n))
        node = n;
    return n;
}

struct vmar_iset_node *vmar_iset_prev(const struct vmar_iset_node *node)
{
    struct vmar_iset_node *n = node->left;

    if (n) {
        while (n->right)
            n = n->right;
        return n;
    }
    for (n = vmar_iset_parent(node); n && n->left == node;
         n = vmar_iset_parent(n))
        node = n;
    return n;
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
                               vmar_size_t sub, vmar_addr_t lb, vmar_addr_t ub)
{
    vmar_addr_t lo = VMAR_MAX(lb, s->q->lo), hi = VMAR_MIN(ub, s->q->hi);

    return sub >= s->need && hi > lo && hi - lo >= s->need;
}

/*
 * Search the gaps of subtree t, whose largest gap is `sub` (from its
 * parent's slot: a subtree that cannot fit is never read), in address
 * order (reversed when top-down) and stop at the first fit. Recursion
 * depth is the tree height.
 */
static bool vmar__iset_search(const struct vmar__iset_search *s,
                              const vmar__iset_node *t, vmar_size_t sub,
                              vmar_addr_t lb, vmar_addr_t ub)
{
    if (!t || !vmar__iset_may_fit(s, sub, lb, ub))
        return false;
    if (s->q->top_down)
        return vmar__iset_search(s, t->right, t->rsub, t->end, ub) ||
               vmar__iset_fit_own(s, t) ||
               vmar__iset_search(s, t->left, t->lsub, lb, t->start);
    return vmar__iset_search(s, t->left, t->lsub, lb, t->start) ||
           vmar__iset_fit_own(s, t) ||
           vmar__iset_search(s, t->right, t->rsub, t->end, ub);
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
    const vmar_size_t root_sub = vmar__iset_sub(set->root);

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
               vmar__iset_search(&s, set->root, root_sub, 0, UINT64_MAX);
    return vmar__iset_search(&s, set->root, root_sub, 0, UINT64_MAX) ||
           vmar__iset_fit_gap(&s, top, UINT64_MAX);
}

/* ---- checker ---------------------------------------------------------- */

int vmar_iset_height(const struct vmar_iset_node *n)
{
    if (!n)
        return 0;
    return 1 + VMAR_MAX(vmar_iset_height(n->left), vmar_iset_height(n->right));
}

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
    if (vmar_iset_parent(n) != parent)
        return "iset: parent link does not match the tree";
    /* With parents checked, this also rules out cycles. */
    if (n->left && n->left == n->right)
        return "iset: left and right child are the same node";
    if (n->start >= n->end)
        return "iset: interval is empty or inverted";
    if ((n->parent_bal & VMAR__ISET_BAL) == VMAR__ISET_BAL)
        return "iset: balance field holds no balance";
    return NULL;
}

/*
 * In-order walk: recomputes the height and largest gap of n's subtree into
 * *height and *gap from the nodes alone and compares n's cache with its
 * children's; on failure sets w->err and leaves *height and *gap
 * undefined.
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
    if (lh - rh > 1 || rh - lh > 1)
        w->err = "iset: AVL balance violated";
    else if (vmar__iset_bal(n) != rh - lh)
        w->err = "iset: cached balance factor is wrong";
    else if (n->lsub != lg || n->rsub != rg)
        w->err = "iset: cached subtree gap is wrong";
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
