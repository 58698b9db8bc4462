/* SPDX-License-Identifier: MIT */
/*
 * The interval set: an intrusive AVL tree with parent pointers, keyed by
 * start, augmented with sub_first / sub_end / sub_gap (see interval_set.h).
 *
 * Every mutation walks from the lowest changed node up to the root, fixing
 * heights, cached fields and balance on the way. Going all the way up (no
 * early exit) costs O(log n) and keeps one simple rule: a node's cached
 * fields are recomputed after its children's, never before.
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

/* Recompute n's height and cached fields; its children must be current. */
static void vmar__iset_pull(vmar__iset_node *n)
{
    const vmar__iset_node *l = n->left, *r = n->right;
    vmar_size_t g = 0;

    n->sub_first = l ? l->sub_first : vmar__iset_eff(n);
    n->sub_end = r ? r->sub_end : n->end;
    if (l)
        g = VMAR_MAX(l->sub_gap, vmar__iset_gap(l->sub_end, vmar__iset_eff(n)));
    if (r) {
        g = VMAR_MAX(g, r->sub_gap);
        g = VMAR_MAX(g, vmar__iset_gap(n->end, r->sub_first));
    }
    n->sub_gap = g;
    n->height = 1 + VMAR_MAX(vmar__iset_height(l), vmar__iset_height(r));
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

    vmar__iset_pull(n);
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
    return n;
}

static void vmar__iset_retrace(struct vmar_iset *set, vmar__iset_node *n)
{
    while (n)
        n = vmar__iset_rebalance(set, n)->parent;
}

void vmar_iset_init(struct vmar_iset *set)
{
    set->root = NULL;
    set->count = 0;
}

void vmar_iset_insert(struct vmar_iset *set, struct vmar_iset_node *node)
{
    struct vmar_iset_node **link = &set->root;
    struct vmar_iset_node *parent = NULL;

    while (*link) {
        parent = *link;
        link = node->start < parent->start ? &parent->left : &parent->right;
    }
    node->left = NULL;
    node->right = NULL;
    node->parent = parent;
    *link = node;
    set->count++;
    vmar__iset_retrace(set, node);
}

/*
 * Move z's in-order successor y (the leftmost node of z's right subtree)
 * into z's place. Returns the lowest node whose subtree changed.
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
                                                    vmar__iset_node *z)
{
    vmar__iset_node *y = z->right, *fix;

    while (y->left)
        y = y->left;
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
    vmar__iset_replace_child(set, z->parent, z, y);
    return fix;
}

void vmar_iset_remove(struct vmar_iset *set, struct vmar_iset_node *node)
{
    vmar__iset_node *fix;

    if (node->left && node->right) {
        fix = vmar__iset_splice_successor(set, node);
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

/*
 * The gap below and above `node` is accounted at node itself or at an
 * ancestor (where the neighbour's subtree meets it), so the path to the
 * root is all that can change; heights cannot.
 */
void vmar_iset_update(struct vmar_iset *set, struct vmar_iset_node *node)
{
    (void)set;
    for (; node; node = node->parent)
        vmar__iset_pull(node);
}

struct vmar_iset_node *vmar_iset_find(const struct vmar_iset *set,
                                      vmar_addr_t addr)
{
    struct vmar_iset_node *n = set->root;

    while (n) {
        if (addr < n->start)
            n = n->left;
        else if (addr >= n->end)
            n = n->right;
        else
            return n;
    }
    return NULL;
}

/* Ends increase in key order because the intervals are disjoint. */
struct vmar_iset_node *vmar_iset_lower_bound(const struct vmar_iset *set,
                                             vmar_addr_t addr)
{
    struct vmar_iset_node *n = set->root, *best = NULL;

    while (n) {
        if (n->end > addr) {
            best = n;
            n = n->left;
        } else {
            n = n->right;
        }
    }
    return best;
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
 * The search walks subtrees together with the free range around them:
 * lb is the end of the subtree's in-order predecessor (0 for none) and rb
 * is eff() of its successor (UINT64_MAX for none). The header's last gap
 * ends at 2^64, but every fit satisfies x + size <= hi <= UINT64_MAX, so
 * ending it at UINT64_MAX loses no fit and keeps the arithmetic in 64 bits.
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

/*
 * Whether the subtree t, with free range [lb, rb) around it, can hold a fit.
 * Every gap of the subtree lies inside [lb, max(t->sub_end, rb)) (a guard
 * may push rb below the subtree's end), so a subtree whose span meets the
 * window in less than `need` bytes, or whose largest gap (inner or edge) is
 * shorter than `need`, holds no fit. With page-multiple queries a subtree
 * inside the window that passes always holds a fit, so only subtrees that
 * straddle lo or hi are entered in vain: the search is O(log n).
 */
static bool vmar__iset_may_fit(const struct vmar__iset_search *s,
                               const vmar__iset_node *t, vmar_addr_t lb,
                               vmar_addr_t rb)
{
    vmar_addr_t lo = VMAR_MAX(lb, s->q->lo);
    vmar_addr_t hi = VMAR_MIN(VMAR_MAX(t->sub_end, rb), s->q->hi);
    vmar_size_t best = t->sub_gap;

    if (hi <= lo || hi - lo < s->need)
        return false;
    best = VMAR_MAX(best, vmar__iset_gap(lb, t->sub_first));
    best = VMAR_MAX(best, vmar__iset_gap(t->sub_end, rb));
    return best >= s->need;
}

/*
 * Search the gaps of subtree t plus its edge gaps [lb, first) and
 * [last end, rb), in address order (reversed when top-down), and stop at
 * the first fit. An empty subtree is the single gap [lb, rb).
 * Recursion depth is the tree height.
 */
static bool vmar__iset_search(const struct vmar__iset_search *s,
                              const vmar__iset_node *t, vmar_addr_t lb,
                              vmar_addr_t rb)
{
    if (!t)
        return vmar__iset_fit_gap(s, lb, rb);
    if (!vmar__iset_may_fit(s, t, lb, rb))
        return false;
    if (s->q->top_down)
        return vmar__iset_search(s, t->right, t->end, rb) ||
               vmar__iset_search(s, t->left, lb, vmar__iset_eff(t));
    return vmar__iset_search(s, t->left, lb, vmar__iset_eff(t)) ||
           vmar__iset_search(s, t->right, t->end, rb);
}

/*
 * Malformed queries (size 0, an alignment that is not a power of two) and
 * queries whose size + pre exceeds the address space find nothing.
 */
bool vmar_iset_find_free(const struct vmar_iset *set,
                         const struct vmar_iset_query *q, vmar_addr_t *out)
{
    struct vmar__iset_search s;

    if (q->size == 0 || q->align == 0 || (q->align & (q->align - 1)))
        return false;
    if (q->pre > UINT64_MAX - q->size)
        return false;
    s.q = q;
    s.need = q->size + q->pre;
    s.mask = q->align - 1;
    s.out = out;
    return vmar__iset_search(&s, set->root, 0, UINT64_MAX);
}

/* ---- checker ---------------------------------------------------------- */

/* What a subtree looks like, recomputed from the nodes alone. */
struct vmar__iset_summary {
    int height;
    vmar_addr_t first; /* eff() of the leftmost node */
    vmar_addr_t end;   /* end of the rightmost node */
    vmar_size_t gap;   /* largest gap between consecutive nodes */
};

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

static const char *vmar__iset_check_cache(const vmar__iset_node *n,
                                          const struct vmar__iset_summary *l,
                                          const struct vmar__iset_summary *r,
                                          struct vmar__iset_summary *sum)
{
    vmar_addr_t eff = vmar__iset_eff(n);

    sum->height = 1 + (l->height > r->height ? l->height : r->height);
    sum->first = l->height ? l->first : eff;
    sum->end = r->height ? r->end : n->end;
    sum->gap = VMAR_MAX(l->gap, r->gap);
    if (l->height)
        sum->gap = VMAR_MAX(sum->gap, vmar__iset_gap(l->end, eff));
    if (r->height)
        sum->gap = VMAR_MAX(sum->gap, vmar__iset_gap(n->end, r->first));
    if (n->height != sum->height)
        return "iset: cached height is wrong";
    if (l->height - r->height > 1 || r->height - l->height > 1)
        return "iset: AVL balance violated";
    if (n->sub_first != sum->first)
        return "iset: sub_first is wrong";
    if (n->sub_end != sum->end)
        return "iset: sub_end is wrong";
    if (n->sub_gap != sum->gap)
        return "iset: sub_gap is wrong";
    return NULL;
}

/* In-order walk; on failure sets w->err and leaves *sum undefined. */
static void vmar__iset_check_node(const vmar__iset_node *n,
                                  const vmar__iset_node *parent, int depth,
                                  struct vmar__iset_walk *w,
                                  struct vmar__iset_summary *sum)
{
    struct vmar__iset_summary l = {0, 0, 0, 0}, r = {0, 0, 0, 0};

    if (!n) {
        *sum = l;
        return;
    }
    w->err = vmar__iset_check_links(n, parent, depth);
    if (!w->err)
        vmar__iset_check_node(n->left, n, depth + 1, w, &l);
    if (w->err)
        return;
    if (w->prev && w->prev->end > n->start) {
        w->err = "iset: intervals out of order or overlapping";
        return;
    }
    w->prev = n;
    w->count++;
    vmar__iset_check_node(n->right, n, depth + 1, w, &r);
    if (!w->err)
        w->err = vmar__iset_check_cache(n, &l, &r, sum);
}

const char *vmar_iset_check(const struct vmar_iset *set)
{
    struct vmar__iset_walk w = {NULL, 0, NULL};
    struct vmar__iset_summary sum;

    vmar__iset_check_node(set->root, NULL, 1, &w, &sum);
    if (w.err)
        return w.err;
    if (w.count != set->count)
        return "iset: count does not match the number of nodes";
    return NULL;
}
