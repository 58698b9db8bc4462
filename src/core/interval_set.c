/* SPDX-License-Identifier: MIT */
/*
 * The interval set: a B+tree over the elements' start addresses, augmented
 * with the gap before each element and each subtree's largest gap (see
 * interval_set.h).
 *
 * Shape. Every leaf is at level 0 and every root-to-leaf path has `levels`
 * nodes. A node other than the root holds VMAR__ISET_MIN..FANOUT slots;
 * a leaf root holds at least one, an inner root at least two. An inner
 * node's key[i] is the first key of its child i and gap[i] the largest gap
 * of that child's subtree (the child's "summary").
 *
 * Changes. A slot is inserted into a full node by splitting it (an index
 * node from the spares), the new node's slot going into the parent the
 * same way, up to a new root. A node left with fewer than LOW slots
 * merges into a sibling when the two fit in MERGE_MAX (giving an index
 * node back to the spares), the parent losing a slot the same way, down
 * to a root with one child, which is removed; one left below MIN that
 * cannot merge borrows a slot from a sibling. Any other change
 * of a node's first key or largest gap is carried up by
 * vmar__iset_fix_up(), which stops at the first ancestor whose slot comes
 * out unchanged. A change reads and writes the index nodes on its path and
 * at most one sibling per level, and the elements it adds or removes plus
 * their immediate neighbours (whose gaps change); moving slots between
 * leaves also rewrites the moved elements' leaf pointers.
 *
 * Splits. A full node splits in half, except when the new slot goes at
 * its very end or start: then the new node gets only MIN slots and the
 * old one stays nearly full. Address-ordered insertion (a layout built up
 * or down, a run of splits) thereby fills nodes to FANOUT - MIN + 1 of
 * FANOUT instead of half, which is what keeps the index near 30 bytes per
 * element. MIN is small (3) for the same reason.
 *
 * Removals. MIN alone let the index grow with churn and never shrink: a
 * run of splits halves the nodes it fills, and the removals that undo it
 * left them at 3 of 16 slots. Measured (vmar_bench, 60 000 mappings after
 * its split and merge rounds): 19 184 index nodes, 3.1 elements a leaf
 * and 133 bytes of index per mapping, and random lookups twice as slow as
 * among 100 000 mappings built once. So a node under LOW (10) merges
 * with a sibling when the two fit in MERGE_MAX (15): after vmar_bench's
 * five rounds at 60 000 mappings the index is 36 bytes a mapping (32 when
 * built). LOW 8 and MERGE_MAX 14 left 42 for 2% fewer instructions per
 * merge; LOW 6 and 12 left 48 (docs/perf/history.md). A node's fill then
 * spans LOW..MERGE_MAX between merges, which is why no setting that keeps
 * merges cheap goes much below 36: spreading an underfull node over both
 * siblings (three nodes into two) measured 38 at LOW 8 and 36 at LOW 12.
 * The margins keep a split and a merge from undoing each other: a merged
 * node takes FANOUT - MERGE_MAX inserts before it splits again, and
 * neither a split's smaller half after one removal nor a node just under
 * LOW merges with the other half (FANOUT / 2 + 1 slots). The underfull
 * node's slots are the ones that move, so a merge
 * rewrites at most LOW - 1 back pointers.
 */
#include "interval_set.h"
#include "deps.h"

#define VMAR__ISET_B   VMAR_ISET_FANOUT
#define VMAR__ISET_MIN 3u
/* See "Removals" above. */
#define VMAR__ISET_LOW       (VMAR__ISET_B * 5u / 8u)
#define VMAR__ISET_MERGE_MAX (VMAR__ISET_B - 1u)
/* Deeper than any tree of 2^64 elements at the minimum fill. */
#define VMAR__ISET_MAX_LEVELS 64

_Static_assert(VMAR__ISET_B >= 2 * VMAR__ISET_MIN + 1,
               "a split must leave both halves at the minimum fill");
_Static_assert(VMAR__ISET_MERGE_MAX >= 2 * VMAR__ISET_MIN &&
                   VMAR__ISET_MERGE_MAX < VMAR__ISET_B &&
                   VMAR__ISET_MERGE_MAX < VMAR__ISET_B / 2 + VMAR__ISET_LOW,
               "a node below MIN that cannot merge has a sibling that can "
               "spare a slot; a merged node takes an insert before it "
               "splits; a node just under LOW and a split's half do not "
               "merge");

typedef struct vmar__iset_index vmar__iset_x;
typedef struct vmar__iset_node vmar__iset_node;

/* ---- gaps ------------------------------------------------------------- */

/* eff(n): the lowest address the element keeps from placement. */
static vmar_addr_t vmar__iset_eff(const struct vmar__iset *set,
                                  const vmar__iset_node *n)
{
    const vmar_size_t g = vmar__iset_node_guarded(n) ? set->guard : 0;

    return n->start > g ? n->start - g : 0;
}

/* The gap before n when `pred` (NULL: none) is its predecessor; empty when
 * a guard reaches below pred's end. */
static vmar_size_t vmar__iset_gap_above(const struct vmar__iset *set,
                                        vmar_addr_t below,
                                        const vmar__iset_node *n)
{
    const vmar_addr_t b = vmar__iset_eff(set, n);

    return b > below ? b - below : 0;
}

static vmar_size_t vmar__iset_gap_after(const struct vmar__iset *set,
                                        const vmar__iset_node *pred,
                                        const vmar__iset_node *n)
{
    return vmar__iset_gap_above(set, pred ? pred->end : 0, n);
}

/* Point n's leaf at x, keeping its guarded flag. */
static void vmar__iset_set_leaf(vmar__iset_node *n, vmar__iset_x *x)
{
    n->leaf_bits = (uintptr_t)x | (n->leaf_bits & VMAR__ISET_GUARDED);
}

/* ---- index nodes ------------------------------------------------------ */

static vmar__iset_node *vmar__iset_elem(const vmar__iset_x *x, unsigned i)
{
    return (vmar__iset_node *)x->ptr[i];
}

static vmar__iset_x *vmar__iset_child(const vmar__iset_x *x, unsigned i)
{
    return (vmar__iset_x *)x->ptr[i];
}

/* The summary of x in its parent: its largest gap. */
static vmar_size_t vmar__iset_max(const vmar__iset_x *x)
{
    vmar_size_t m = 0;

    for (unsigned i = 0; i < x->count; i++)
        m = x->gap[i] > m ? x->gap[i] : m;
    return m;
}

/*
 * Number of keys <= a: the slot to descend into is that minus one. One
 * compare picks the half (keys ascend: if key[7] <= a, so are key[0..7]),
 * then the half's eight keys are counted without a branch: two dependent
 * steps per node instead of a binary search's five, and the eight loads
 * are independent. The unused slots' keys are UINT64_MAX, above every
 * real key and, with a clamped below it, above a, so neither `count` nor
 * a loop bound is read. The pointer lines and the upper half's keys are
 * prefetched first: the pick's pointer, a dependent load otherwise, then
 * arrives with the keys (a leaf is often out of the cache), and so does
 * the upper half, whose line the first compare would otherwise have to
 * wait for (the keys span two or three lines). Measured (five interleaved
 * pairs of runs): the upper half's prefetch took 10-20% off random
 * lookups, splits and fixed maps at 60 000 and 100 000 mappings.
 */
_Static_assert(VMAR_ISET_FANOUT == 16, "vmar__iset_rank searches 16 slots");
static unsigned vmar__iset_rank(const vmar__iset_x *x, vmar_addr_t a)
{
    __builtin_prefetch(&x->key[VMAR__ISET_B - 1]);
    __builtin_prefetch(&x->ptr[0]);
    __builtin_prefetch(&x->ptr[VMAR__ISET_B - 1]);
    a = a < UINT64_MAX ? a : UINT64_MAX - 1;
    const unsigned half = x->key[7] <= a ? 8u : 0u;
    const vmar_addr_t *k = &x->key[half];

    /* Written out: GCC keeps a loop here, at three times the instructions. */
    return half + (unsigned)(k[0] <= a) + (unsigned)(k[1] <= a) +
           (unsigned)(k[2] <= a) + (unsigned)(k[3] <= a) +
           (unsigned)(k[4] <= a) + (unsigned)(k[5] <= a) +
           (unsigned)(k[6] <= a) + (unsigned)(k[7] <= a);
}

/* The slot of pointer p in x (p must be there). */
static unsigned vmar__iset_slot(const vmar__iset_x *x, const void *p)
{
    unsigned i = 0;

    while (x->ptr[i] != p)
        i++;
    return i;
}

/* Point the occupant of slot i back at x: an element's leaf, or a child's
 * parent. */
static void vmar__iset_adopt(vmar__iset_x *x, unsigned i)
{
    if (x->level)
        vmar__iset_child(x, i)->parent = x;
    else
        vmar__iset_set_leaf(vmar__iset_elem(x, i), x);
}

static void vmar__iset_put(vmar__iset_x *x, unsigned i, vmar_addr_t key,
                           vmar_size_t gap, void *ptr)
{
    x->key[i] = key;
    x->gap[i] = gap;
    x->ptr[i] = ptr;
}

/* Move n slots from `from` at j to `to` at i (to may be from). */
static void vmar__iset_move(vmar__iset_x *to, unsigned i,
                            const vmar__iset_x *from, unsigned j, unsigned n)
{
    VMAR_MEMMOVE(&to->key[i], &from->key[j], n * sizeof(to->key[0]));
    VMAR_MEMMOVE(&to->ptr[i], &from->ptr[j], n * sizeof(to->ptr[0]));
    VMAR_MEMMOVE(&to->gap[i], &from->gap[j], n * sizeof(to->gap[0]));
}

/* Set x's count to n and empty the slots from n on (see rank). */
static void vmar__iset_shrink(vmar__iset_x *x, unsigned n)
{
    for (unsigned i = n; i < x->count; i++) {
        x->key[i] = UINT64_MAX;
        x->ptr[i] = NULL;
    }
    x->count = n;
}

static vmar__iset_x *vmar__iset_take(struct vmar__iset *set, unsigned level)
{
    vmar__iset_x *x = set->spare;

    VMAR_ASSERT(NULL, x != NULL); /* the caller reserved too few spares */
    set->spare = x->parent;
    set->nspare--;
    set->nodes++;
    x->parent = x->prev = x->next = NULL;
    x->count = VMAR__ISET_B; /* whatever it held: empty every slot */
    vmar__iset_shrink(x, 0);
    x->level = level;
    return x;
}

static void vmar__iset_give(struct vmar__iset *set, vmar__iset_x *x)
{
    x->parent = set->spare;
    set->spare = x;
    set->nspare++;
}

/* A node leaves the tree for the spares. */
static void vmar__iset_drop(struct vmar__iset *set, vmar__iset_x *x)
{
    set->nodes--;
    vmar__iset_give(set, x);
}

/*
 * x's first key or largest gap may have changed: rewrite its slot in each
 * ancestor while the slot changes.
 */
static void vmar__iset_fix_up(vmar__iset_x *x)
{
    for (vmar__iset_x *p = x->parent; p; x = p, p = p->parent) {
        const unsigned s = vmar__iset_slot(p, x);
        const vmar_size_t g = vmar__iset_max(x);

        if (p->key[s] == x->key[0] && p->gap[s] == g)
            return;
        p->key[s] = x->key[0];
        p->gap[s] = g;
    }
}

/* Rewrite the slot of child x in its parent p (at s) from x itself. */
static void vmar__iset_resum(vmar__iset_x *p, unsigned s, const vmar__iset_x *x)
{
    p->key[s] = x->key[0];
    p->gap[s] = vmar__iset_max(x);
}

/* Link y after x on their level. */
static void vmar__iset_link_after(vmar__iset_x *x, vmar__iset_x *y)
{
    y->prev = x;
    y->next = x->next;
    if (y->next)
        y->next->prev = y;
    x->next = y;
}

static void vmar__iset_unlink(vmar__iset_x *x)
{
    if (x->prev)
        x->prev->next = x->next;
    if (x->next)
        x->next->prev = x->prev;
}

/*
 * Insert slot (key, gap, ptr) at position pos of x, splitting x (and its
 * ancestors) when full. Leaves every summary above correct.
 */
static void vmar__iset_insert_at(struct vmar__iset *set, vmar__iset_x *x,
                                 unsigned pos, vmar_addr_t key, vmar_size_t gap,
                                 void *ptr)
{
    if (x->count < VMAR__ISET_B) {
        vmar__iset_move(x, pos + 1, x, pos, x->count - pos);
        vmar__iset_put(x, pos, key, gap, ptr);
        x->count++;
        vmar__iset_adopt(x, pos);
        vmar__iset_fix_up(x);
        return;
    }
    /* Full: x keeps `left` of the B + 1 slots, y gets the rest. */
    const unsigned total = VMAR__ISET_B + 1;
    const unsigned left = pos == VMAR__ISET_B ? total - VMAR__ISET_MIN
                          : pos == 0          ? VMAR__ISET_MIN
                                              : total / 2;
    vmar__iset_x *y = vmar__iset_take(set, x->level);

    if (pos < left) {
        /* The new slot stays in x: y takes x's slots from left - 1 on. */
        vmar__iset_move(y, 0, x, left - 1, VMAR__ISET_B - (left - 1));
        y->count = VMAR__ISET_B - (left - 1);
        vmar__iset_shrink(x, left - 1);
        vmar__iset_move(x, pos + 1, x, pos, x->count - pos);
        vmar__iset_put(x, pos, key, gap, ptr);
        x->count++;
        vmar__iset_adopt(x, pos);
    } else {
        /* The new slot goes to y at pos - left. */
        const unsigned before = pos - left, after = VMAR__ISET_B - pos;
        vmar__iset_move(y, 0, x, left, before);
        vmar__iset_put(y, before, key, gap, ptr);
        vmar__iset_move(y, before + 1, x, pos, after);
        y->count = before + 1 + after;
        vmar__iset_shrink(x, left);
    }
    for (unsigned i = 0; i < y->count; i++)
        vmar__iset_adopt(y, i);
    vmar__iset_link_after(x, y);

    vmar__iset_x *p = x->parent;
    if (!p) {
        /* x was the root: a new root above x and y. */
        p = vmar__iset_take(set, x->level + 1);
        vmar__iset_put(p, 0, x->key[0], vmar__iset_max(x), x);
        vmar__iset_put(p, 1, y->key[0], vmar__iset_max(y), y);
        p->count = 2;
        x->parent = y->parent = p;
        set->root = p;
        set->levels++;
        return;
    }
    const unsigned s = vmar__iset_slot(p, x);
    vmar__iset_resum(p, s, x);
    vmar__iset_insert_at(set, p, s + 1, y->key[0], vmar__iset_max(y), y);
}

static void vmar__iset_remove_at(struct vmar__iset *set, vmar__iset_x *x,
                                 unsigned pos);

/*
 * Merge the children at slots s and s + 1 of p, l and r (at most
 * MERGE_MAX slots in all), moving the slots of `from` (l or r, the
 * underfull one) into the other, and remove `from`'s slot from p.
 */
static void vmar__iset_merge(struct vmar__iset *set, vmar__iset_x *p,
                             unsigned s, vmar__iset_x *l, vmar__iset_x *r,
                             vmar__iset_x *from)
{
    vmar__iset_x *to = from == l ? r : l;
    const unsigned at = from == l ? 0 : l->count, n = from->count;

    if (from == l)
        vmar__iset_move(r, n, r, 0, r->count);
    vmar__iset_move(to, at, from, 0, n);
    to->count += n;
    for (unsigned i = at; i < at + n; i++)
        vmar__iset_adopt(to, i);
    vmar__iset_unlink(from);
    vmar__iset_drop(set, from);
    vmar__iset_resum(p, from == l ? s + 1 : s, to);
    vmar__iset_remove_at(set, p, from == l ? s : s + 1);
}

/*
 * Remove slot pos of x; refill x from a sibling or merge it with one when
 * it falls below the minimum; collapse a root with one child. Leaves
 * every summary above correct.
 */
static void vmar__iset_remove_at(struct vmar__iset *set, vmar__iset_x *x,
                                 unsigned pos)
{
    vmar__iset_move(x, pos, x, pos + 1, x->count - 1 - pos);
    vmar__iset_shrink(x, x->count - 1);
    if (!x->parent) {
        if (x->count == 0 || (x->level && x->count == 1)) {
            set->root = x->count ? vmar__iset_child(x, 0) : NULL;
            if (set->root)
                set->root->parent = NULL;
            set->levels--;
            vmar__iset_drop(set, x);
        }
        return;
    }
    if (x->count >= VMAR__ISET_LOW) {
        vmar__iset_fix_up(x);
        return;
    }
    vmar__iset_x *p = x->parent;
    const unsigned s = vmar__iset_slot(p, x);
    vmar__iset_x *l = s > 0 ? vmar__iset_child(p, s - 1) : NULL;
    vmar__iset_x *r = s + 1 < p->count ? vmar__iset_child(p, s + 1) : NULL;

    if (l && l->count + x->count <= VMAR__ISET_MERGE_MAX) {
        vmar__iset_merge(set, p, s - 1, l, x, x);
    } else if (r && x->count + r->count <= VMAR__ISET_MERGE_MAX) {
        vmar__iset_merge(set, p, s, x, r, x);
    } else if (x->count >= VMAR__ISET_MIN) {
        vmar__iset_fix_up(x);
    } else if (l) {
        /* Borrow l's last slot: it could not take x's, so it holds more
         * than MERGE_MAX - MIN >= MIN (the static assertion above). */
        vmar__iset_move(x, 1, x, 0, x->count);
        vmar__iset_move(x, 0, l, l->count - 1, 1);
        vmar__iset_shrink(l, l->count - 1);
        x->count++;
        vmar__iset_adopt(x, 0);
        vmar__iset_resum(p, s - 1, l);
        vmar__iset_resum(p, s, x);
        vmar__iset_fix_up(p);
    } else {
        /* Borrow r's first slot (x is its parent's first child, and a
         * non-root parent has two: r exists, and spares one as l would). */
        VMAR_ASSERT(NULL, r != NULL);
        vmar__iset_move(x, x->count, r, 0, 1);
        x->count++;
        vmar__iset_adopt(x, x->count - 1);
        vmar__iset_move(r, 0, r, 1, r->count - 1);
        vmar__iset_shrink(r, r->count - 1);
        vmar__iset_resum(p, s, x);
        vmar__iset_resum(p, s + 1, r);
        vmar__iset_fix_up(p);
    }
}

/*
 * The same for an element's slot in leaf x when nothing else in x
 * changed: a slot after the first with an empty gap (a split's tail, a
 * merged neighbour) changes neither x's first key nor its largest gap, so
 * unless x must split or refill, nothing above needs to hear of it.
 */
static void vmar__iset_leaf_insert(struct vmar__iset *set, vmar__iset_x *x,
                                   unsigned pos, vmar_addr_t key,
                                   vmar_size_t gap, void *ptr)
{
    if (pos == 0 || gap != 0 || x->count == VMAR__ISET_B) {
        vmar__iset_insert_at(set, x, pos, key, gap, ptr);
        return;
    }
    vmar__iset_move(x, pos + 1, x, pos, x->count - pos);
    vmar__iset_put(x, pos, key, gap, ptr);
    x->count++;
    vmar__iset_adopt(x, pos);
}

static void vmar__iset_leaf_remove(struct vmar__iset *set, vmar__iset_x *x,
                                   unsigned pos)
{
    if (pos == 0 || x->gap[pos] != 0 ||
        (x->parent && x->count <= VMAR__ISET_LOW)) {
        vmar__iset_remove_at(set, x, pos);
        return;
    }
    vmar__iset_move(x, pos, x, pos + 1, x->count - 1 - pos);
    vmar__iset_shrink(x, x->count - 1);
}

/* ---- elements --------------------------------------------------------- */

/* The element before / after slot i of leaf x, in key order. */
static vmar__iset_node *vmar__iset_before(const vmar__iset_x *x, unsigned i)
{
    if (i > 0)
        return vmar__iset_elem(x, i - 1);
    return x->prev ? vmar__iset_elem(x->prev, x->prev->count - 1) : NULL;
}

static vmar__iset_node *vmar__iset_after(const vmar__iset_x *x, unsigned i)
{
    if (i + 1 < x->count)
        return vmar__iset_elem(x, i + 1);
    return x->next ? vmar__iset_elem(x->next, 0) : NULL;
}

/*
 * Store n's gap (its leaf's slot) and carry the change up. Most such
 * changes (a page mapped into a hole or unmapped from beside a mapping)
 * leave the leaf's largest gap as it was: then nothing above changes, and
 * the parent's gap line, which the descent did not read, is not read
 * either (measured: one cache line less per map or unmap among many
 * mappings, docs/perf/history.md).
 */
static void vmar__iset_set_gap_at(vmar__iset_x *x, unsigned i, vmar_size_t gap)
{
    const vmar_size_t old = x->gap[i];
    if (old == gap)
        return;
    x->gap[i] = gap;
    /* The largest gap moves only if the old or the new one exceeds every
     * other slot's; the first other slot at least as large settles it
     * (in most leaves one of the first few). */
    const vmar_size_t hi = old > gap ? old : gap;
    for (unsigned j = 0; j < x->count; j++)
        if (j != i && x->gap[j] >= hi)
            return;
    vmar__iset_fix_up(x);
}

/* The same for element n, which the caller expects at slot `guess` of its
 * leaf (an insert or removal next to it just put it there), else found by
 * a scan: a split or merge of the leaf may have moved it. */
static void vmar__iset_set_gap(vmar__iset_node *n, unsigned guess,
                               vmar_size_t gap)
{
    vmar__iset_x *x = vmar__iset_node_leaf(n);
    const unsigned i =
        guess < x->count && x->ptr[guess] == n ? guess : vmar__iset_slot(x, n);

    vmar__iset_set_gap_at(x, i, gap);
}

/* The leaf reached by following slot `first ? 0 : last` from the root. */
static vmar__iset_x *vmar__iset_edge_leaf(const struct vmar__iset *set,
                                          bool first)
{
    vmar__iset_x *x = set->root;

    while (x && x->level)
        x = vmar__iset_child(x, first ? 0 : x->count - 1);
    return x;
}

/* The leaf whose key range holds a: the last slot with key <= a at every
 * level (slot 0 when none, which only the leftmost path can see). */
static vmar__iset_x *vmar__iset_descend(const struct vmar__iset *set,
                                        vmar_addr_t a)
{
    vmar__iset_x *x = set->root;

    /* The level count is the set's, so the descent reads no node header. */
    for (unsigned l = set->levels; l > 1; l--) {
        const unsigned r = vmar__iset_rank(x, a);
        x = vmar__iset_child(x, r ? r - 1 : 0);
    }
    return x;
}

void vmar__iset_init(struct vmar__iset *set)
{
    *set = (struct vmar__iset){0};
}

/*
 * An insert splits at most one node per level and adds at most one root,
 * so it takes at most h + 1 index nodes, h the number of levels before it.
 * h grows only by a root split, and an insert adds at most one child to
 * the root, which starts with two after a split and splits again at
 * FANOUT + 1: after the first root split, each further one takes at least
 * FANOUT - 1 inserts. So k inserts need at most
 *   k (levels + 1) + (k - 1) (1 + (k - 1) / (FANOUT - 1)).
 * Independently, a tree of n elements whose non-root nodes hold at least
 * MIN slots has at most 2 + log_MIN(n / 2) levels, whichever is smaller
 * (large k: a move of many mappings at once). Up to FANOUT inserts the
 * first bound is the smaller, and interval_set.h computes it inline: every
 * change asks, most of them for one to three inserts.
 */
size_t vmar__iset_spares_for_many(const struct vmar__iset *set, size_t inserts)
{
    const size_t k = inserts;
    const size_t by_splits =
        k * (set->levels + 1) + (k - 1) * (1 + (k - 1) / (VMAR__ISET_B - 1));
    size_t by_size, h = 2;

    for (size_t n = (set->count + k) / 2; n >= VMAR__ISET_MIN;
         n /= VMAR__ISET_MIN)
        h++;
    by_size = k * (h + 1);
    return by_splits < by_size ? by_splits : by_size;
}

void vmar__iset_spare_add(struct vmar__iset *set, struct vmar__iset_index *x)
{
    vmar__iset_give(set, x);
}

struct vmar__iset_index *vmar__iset_spare_take(struct vmar__iset *set)
{
    vmar__iset_x *x = set->spare;

    if (x) {
        set->spare = x->parent;
        set->nspare--;
    }
    return x;
}

/* Insert node at slot pos of leaf x (NULL: the set is empty) with the gap
 * below it already known; the successor's gap follows. */
static void vmar__iset_insert_gap(struct vmar__iset *set, vmar__iset_x *x,
                                  unsigned pos, vmar__iset_node *node,
                                  vmar_size_t gap)
{
    vmar__iset_node *succ = NULL;

    if (!x) {
        x = set->root = vmar__iset_take(set, 0);
        set->levels = 1;
    } else {
        succ = pos < x->count ? vmar__iset_elem(x, pos)
                              : vmar__iset_after(x, x->count - 1);
    }
    vmar__iset_leaf_insert(set, x, pos, node->start, gap, node);
    set->count++;
    set->gen++;
    if (succ)
        vmar__iset_set_gap(succ, pos + 1,
                           vmar__iset_gap_after(set, node, succ));
}

static void vmar__iset_insert_elem(struct vmar__iset *set, vmar__iset_x *x,
                                   unsigned pos, vmar__iset_node *node)
{
    const vmar__iset_node *pred = !x    ? NULL
                                  : pos ? vmar__iset_elem(x, pos - 1)
                                        : vmar__iset_before(x, 0);

    vmar__iset_insert_gap(set, x, pos, node,
                          vmar__iset_gap_after(set, pred, node));
}

void vmar__iset_insert(struct vmar__iset *set, struct vmar__iset_node *node)
{
    vmar__iset_x *x = set->root ? vmar__iset_descend(set, node->start) : NULL;

    vmar__iset_insert_elem(set, x, x ? vmar__iset_rank(x, node->start) : 0,
                           node);
}

void vmar__iset_insert_after(struct vmar__iset *set,
                             struct vmar__iset_node *pred,
                             struct vmar__iset_node *node)
{
    if (pred) {
        vmar__iset_x *x = vmar__iset_node_leaf(pred);
        vmar__iset_insert_elem(set, x, vmar__iset_slot(x, pred) + 1, node);
    } else {
        vmar__iset_insert_elem(set, vmar__iset_edge_leaf(set, true), 0, node);
    }
}

void vmar__iset_insert_hinted(struct vmar__iset *set,
                              const struct vmar__iset_hint *hint,
                              struct vmar__iset_node *node)
{
    if (hint->gen != set->gen) {
        vmar__iset_insert(set, node);
        return;
    }
    vmar__iset_insert_gap(set, hint->leaf, hint->slot, node,
                          vmar__iset_gap_above(set, hint->below, node));
}

void vmar__iset_remove(struct vmar__iset *set, struct vmar__iset_node *node)
{
    vmar__iset_x *x = vmar__iset_node_leaf(node);
    const unsigned i = vmar__iset_slot(x, node);
    vmar__iset_node *pred = vmar__iset_before(x, i);
    vmar__iset_node *succ = vmar__iset_after(x, i);

    vmar__iset_leaf_remove(set, x, i);
    set->count--;
    set->gen++;
    vmar__iset_set_leaf(node, NULL);
    if (succ)
        vmar__iset_set_gap(succ, i, vmar__iset_gap_after(set, pred, succ));
}

/* The tail's gap is empty (it starts where node ends), and no other gap
 * changes: the successor still follows the same end. */
void vmar__iset_split(struct vmar__iset *set, struct vmar__iset_node *node,
                      vmar_addr_t at, struct vmar__iset_node *tail)
{
    vmar__iset_x *x = vmar__iset_node_leaf(node);

    tail->start = at;
    tail->end = node->end;
    node->end = at;
    vmar__iset_leaf_insert(set, x, vmar__iset_slot(x, node) + 1, at,
                           vmar__iset_gap_after(set, node, tail), tail);
    set->count++;
    set->gen++;
}

/* Two splits of one node in one slot shift when its leaf has room for
 * both new slots; their gaps are empty (each starts where the piece below
 * ends), so nothing above the leaf changes. Else the two splits. */
void vmar__iset_split3(struct vmar__iset *set, struct vmar__iset_node *node,
                       vmar_addr_t a, struct vmar__iset_node *mid,
                       vmar_addr_t b, struct vmar__iset_node *tail)
{
    vmar__iset_x *x = vmar__iset_node_leaf(node);

    if (x->count + 2 > VMAR__ISET_B) {
        vmar__iset_split(set, node, a, mid);
        vmar__iset_split(set, mid, b, tail);
        return;
    }
    const unsigned pos = vmar__iset_slot(x, node) + 1;

    mid->start = a;
    mid->end = b;
    tail->start = b;
    tail->end = node->end;
    node->end = a;
    vmar__iset_move(x, pos + 2, x, pos, x->count - pos);
    vmar__iset_put(x, pos, a, vmar__iset_gap_after(set, node, mid), mid);
    vmar__iset_put(x, pos + 1, b, vmar__iset_gap_after(set, mid, tail), tail);
    x->count += 2;
    vmar__iset_adopt(x, pos);
    vmar__iset_adopt(x, pos + 1);
    set->count += 2;
    set->gen++;
}

/* next's gap goes with it; its successor still follows the same end. */
void vmar__iset_merge_next(struct vmar__iset *set, struct vmar__iset_node *node,
                           struct vmar__iset_node *next)
{
    vmar__iset_x *x = vmar__iset_node_leaf(next);

    node->end = next->end;
    vmar__iset_leaf_remove(set, x, vmar__iset_slot(x, next));
    set->count--;
    set->gen++;
    vmar__iset_set_leaf(next, NULL);
}

void vmar__iset_update(struct vmar__iset *set, struct vmar__iset_node *node)
{
    vmar__iset_x *x = vmar__iset_node_leaf(node);
    const unsigned i = vmar__iset_slot(x, node);
    vmar__iset_node *succ = vmar__iset_after(x, i);

    set->gen++;
    x->key[i] = node->start;
    x->gap[i] = vmar__iset_gap_after(set, vmar__iset_before(x, i), node);
    vmar__iset_fix_up(x);
    if (succ)
        vmar__iset_set_gap(succ, i + 1, vmar__iset_gap_after(set, node, succ));
}

/* ---- lookups ---------------------------------------------------------- */

struct vmar__iset_node *vmar__iset_find(const struct vmar__iset *set,
                                        vmar_addr_t addr)
{
    if (!set->root)
        return NULL;
    const vmar__iset_x *x = vmar__iset_descend(set, addr);
    const unsigned r = vmar__iset_rank(x, addr);
    vmar__iset_node *n = r ? vmar__iset_elem(x, r - 1) : NULL;

    return n && addr < n->end ? n : NULL;
}

struct vmar__iset_node *
vmar__iset_lower_bound_pred(const struct vmar__iset *set, vmar_addr_t addr,
                            struct vmar__iset_node **pred)
{
    *pred = NULL;
    if (!set->root)
        return NULL;
    const vmar__iset_x *x = vmar__iset_descend(set, addr);
    /* Most callers (vmar__range_locate) go on to change the range here:
     * the leaf's gaps and header come along with its slots. Measured
     * (interleaved runs): without it a random split or map at 60 000
     * mappings is ~60% slower; a read-only caller pays 3 instructions. */
    __builtin_prefetch(&x->gap[0]);
    __builtin_prefetch(&x->gap[VMAR__ISET_B / 2]);
    __builtin_prefetch(&x->parent);
    const unsigned r = vmar__iset_rank(x, addr);
    if (!r) /* below every key: x is the first leaf */
        return vmar__iset_elem(x, 0);
    vmar__iset_node *n = vmar__iset_elem(x, r - 1);
    if (addr < n->end) {
        *pred = vmar__iset_before(x, r - 1);
        return n;
    }
    *pred = n;
    return vmar__iset_after(x, r - 1);
}

struct vmar__iset_node *vmar__iset_lower_bound(const struct vmar__iset *set,
                                               vmar_addr_t addr)
{
    struct vmar__iset_node *pred;

    return vmar__iset_lower_bound_pred(set, addr, &pred);
}

struct vmar__iset_node *vmar__iset_first(const struct vmar__iset *set)
{
    const vmar__iset_x *x = vmar__iset_edge_leaf(set, true);

    return x ? vmar__iset_elem(x, 0) : NULL;
}

struct vmar__iset_node *vmar__iset_last(const struct vmar__iset *set)
{
    const vmar__iset_x *x = vmar__iset_edge_leaf(set, false);

    return x ? vmar__iset_elem(x, x->count - 1) : NULL;
}

struct vmar__iset_node *vmar__iset_next(const struct vmar__iset_node *node)
{
    const vmar__iset_x *x = vmar__iset_node_leaf(node);

    return vmar__iset_after(x, vmar__iset_slot(x, node));
}

struct vmar__iset_node *vmar__iset_prev(const struct vmar__iset_node *node)
{
    const vmar__iset_x *x = vmar__iset_node_leaf(node);

    return vmar__iset_before(x, vmar__iset_slot(x, node));
}

vmar_size_t vmar__iset_max_gap(const struct vmar__iset *set)
{
    return set->root ? vmar__iset_max(set->root) : 0;
}

/* ---- free-range search ------------------------------------------------ */

/*
 * The search walks subtrees together with bounds on their gaps: every gap
 * of an element of subtree t lies inside [lb, ub). For child i of an inner
 * node, the gap of its first element starts at the end of an element of
 * child i - 1, so at or above key[i - 1], and every other gap ends below
 * the first key of child i + 1: [key[i - 1], key[i + 1]), the parent's
 * bounds at the ends. The header's last gap ends at 2^64, but every fit
 * satisfies x + size <= hi <= UINT64_MAX, so ending it at UINT64_MAX loses
 * no fit and keeps the arithmetic in 64 bits.
 */
struct vmar__iset_search {
    const struct vmar__iset *set;
    const struct vmar__iset_query *q;
    vmar_size_t need; /* size + pre: the shortest gap that can hold a fit */
    vmar_size_t mask; /* align - 1 */
    vmar_addr_t *out;
    struct vmar__iset_hint *hint; /* NULL: not wanted */
};

/*
 * Place the fit inside the free range [a, b) clipped to the window.
 * The clipped range holds at least `need` bytes, so a + pre and b - size
 * cannot wrap; only rounding up to the alignment can.
 */
static bool vmar__iset_fit_gap(const struct vmar__iset_search *s, vmar_addr_t a,
                               vmar_addr_t b)
{
    const struct vmar__iset_query *q = s->q;
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
 * Whether a subtree whose gaps lie in [lb, ub) and whose largest gap is
 * `sub` can hold a fit: its span must meet the window in at least `need`
 * bytes and its largest gap must be that long. With page-multiple queries
 * a subtree inside the window that passes always holds a fit, so only
 * subtrees that straddle lo or hi are entered in vain: O(log n).
 */
static bool vmar__iset_may_fit(const struct vmar__iset_search *s,
                               vmar_size_t sub, vmar_addr_t lb, vmar_addr_t ub)
{
    vmar_addr_t lo = VMAR_MAX(lb, s->q->lo), hi = VMAR_MIN(ub, s->q->hi);

    return sub >= s->need && hi > lo && hi - lo >= s->need;
}

/* Slot i of x: the gap before element i, [eff - gap, eff). */
static bool vmar__iset_fit_elem(const struct vmar__iset_search *s,
                                const vmar__iset_x *x, unsigned i)
{
    if (x->gap[i] < s->need)
        return false;
    const vmar_addr_t eff = vmar__iset_eff(s->set, vmar__iset_elem(x, i));
    if (!vmar__iset_fit_gap(s, eff - x->gap[i], eff))
        return false;
    if (s->hint) {
        s->hint->leaf = (struct vmar__iset_index *)x;
        s->hint->slot = i;
        s->hint->below = eff - x->gap[i];
    }
    return true;
}

/* Search x's slot i (an element, or a child's subtree within [lb, ub) of
 * x's own bounds). */
static bool vmar__iset_search(const struct vmar__iset_search *s,
                              const vmar__iset_x *x, vmar_addr_t lb,
                              vmar_addr_t ub);

static bool vmar__iset_search_slot(const struct vmar__iset_search *s,
                                   const vmar__iset_x *x, unsigned i,
                                   vmar_addr_t lb, vmar_addr_t ub)
{
    if (!x->level)
        return vmar__iset_fit_elem(s, x, i);
    const vmar_addr_t clb = i > 0 ? x->key[i - 1] : lb;
    const vmar_addr_t cub = i + 1 < x->count ? x->key[i + 1] : ub;
    return vmar__iset_may_fit(s, x->gap[i], clb, cub) &&
           vmar__iset_search(s, vmar__iset_child(x, i), clb, cub);
}

/* x's slots in address order (reversed when top-down); the first fit
 * wins. A slot whose gap (an element's, or a child's largest) is short is
 * passed over by one compare before any bounds arithmetic or call: in a
 * space full of small holes most are. Recursion depth is the number of
 * levels. */
static bool vmar__iset_search(const struct vmar__iset_search *s,
                              const vmar__iset_x *x, vmar_addr_t lb,
                              vmar_addr_t ub)
{
    const vmar_size_t need = s->need;

    if (s->q->top_down) {
        for (unsigned i = x->count; i-- > 0;)
            if (x->gap[i] >= need && vmar__iset_search_slot(s, x, i, lb, ub))
                return true;
    } else {
        for (unsigned i = 0; i < x->count; i++)
            if (x->gap[i] >= need && vmar__iset_search_slot(s, x, i, lb, ub))
                return true;
    }
    return false;
}

/*
 * The search's common case in one pass down: at each level the first slot
 * in search order whose gap holds `need`. While that slot's bounds lie
 * inside the window, vmar__iset_may_fit() says no more than the gap does,
 * so vmar__iset_search() would enter the same slot first; at the leaf the
 * slot's fit is tried as it would be. Returns 1 with the fit, or -1 when
 * this pass cannot decide (the pick straddles the window's edge, or its
 * gap holds no aligned fit, or no slot qualifies): the caller then runs
 * vmar__iset_search() from x, which finds the same fit the pass would have
 * found had it gone on. Placement in a space of one-page holes, the usual
 * top-down map, spends 60% of the recursive search's instructions here.
 */
static int vmar__iset_search_greedy(const struct vmar__iset_search *s,
                                    const vmar__iset_x *x, vmar_addr_t lb,
                                    vmar_addr_t ub)
{
    const vmar_size_t need = s->need;
    const vmar_addr_t lo = s->q->lo, hi = s->q->hi;

    for (;;) {
        const unsigned n = x->count;
        unsigned i;

        if (s->q->top_down) {
            for (i = n; i-- > 0 && x->gap[i] < need;)
                ;
        } else {
            for (i = 0; i < n && x->gap[i] < need; i++)
                ;
        }
        if (i >= n)
            return -1;
        if (!x->level)
            return vmar__iset_fit_elem(s, x, i) ? 1 : -1;
        lb = i > 0 ? x->key[i - 1] : lb;
        ub = i + 1 < n ? x->key[i + 1] : ub;
        if (lb < lo || ub > hi)
            return -1;
        x = vmar__iset_child(x, i);
    }
}

/* The last gap, [top, 2^64): a fit there goes after the last element. */
static bool vmar__iset_fit_top(const struct vmar__iset_search *s,
                               const struct vmar__iset *set, vmar_addr_t top)
{
    if (!vmar__iset_fit_gap(s, top, UINT64_MAX))
        return false;
    if (s->hint) {
        vmar__iset_x *x = vmar__iset_edge_leaf(set, false);
        s->hint->leaf = x;
        s->hint->slot = x ? x->count : 0;
        s->hint->below = top;
    }
    return true;
}

/*
 * Malformed queries (size 0, an alignment that is not a power of two) and
 * queries whose size + pre exceeds the address space find nothing. The
 * last gap, [last.end, 2^64) (the whole space when the set is empty),
 * belongs to no node and is tried first top-down, last bottom-up.
 */
bool vmar__iset_find_free(const struct vmar__iset *set,
                          const struct vmar__iset_query *q, vmar_addr_t *out,
                          struct vmar__iset_hint *hint)
{
    struct vmar__iset_search s;
    const vmar__iset_node *last = vmar__iset_last(set);
    const vmar_addr_t top = last ? last->end : 0;
    const vmar__iset_x *root = set->root;

    if (q->size == 0 || q->align == 0 || (q->align & (q->align - 1)))
        return false;
    if (q->pre > UINT64_MAX - q->size)
        return false;
    s.set = set;
    s.q = q;
    s.need = q->size + q->pre;
    s.mask = q->align - 1;
    s.out = out;
    s.hint = hint;
    if (hint)
        hint->gen = set->gen;
    if (q->top_down && vmar__iset_fit_top(&s, set, top))
        return true;
    if (root && (vmar__iset_search_greedy(&s, root, 0, top) > 0 ||
                 vmar__iset_search(&s, root, 0, top)))
        return true;
    return !q->top_down && vmar__iset_fit_top(&s, set, top);
}

/* ---- checker ---------------------------------------------------------- */

size_t vmar__iset_index_nodes(const struct vmar__iset *set)
{
    size_t n = 0;

    /* Level by level along the sibling links. */
    for (const vmar__iset_x *row = set->root; row;
         row = row->level ? vmar__iset_child(row, 0) : NULL)
        for (const vmar__iset_x *x = row; x; x = x->next)
            n++;
    return n;
}

struct vmar__iset_walk {
    const struct vmar__iset *set;
    const vmar__iset_x *last[VMAR__ISET_MAX_LEVELS]; /* per level */
    const vmar__iset_node *prev; /* the element visited last */
    size_t count;
};

static const char *vmar__iset_check_leaf(const vmar__iset_x *x,
                                         struct vmar__iset_walk *w)
{
    for (unsigned i = 0; i < x->count; i++) {
        const vmar__iset_node *n = vmar__iset_elem(x, i);
        if (!n)
            return "iset: leaf slot without an element";
        if (vmar__iset_node_leaf(n) != x)
            return "iset: element's leaf pointer does not match the tree";
        if (n->start >= n->end)
            return "iset: interval is empty or inverted";
        if (x->key[i] != n->start)
            return "iset: leaf key differs from the element's start";
        if (w->prev && w->prev->end > n->start)
            return "iset: intervals overlap or are out of order";
        if (x->gap[i] != vmar__iset_gap_after(w->set, w->prev, n))
            return "iset: cached gap is stale";
        w->prev = n;
        w->count++;
    }
    return NULL;
}

static const char *vmar__iset_check_x(const vmar__iset_x *x,
                                      const vmar__iset_x *parent,
                                      unsigned level, struct vmar__iset_walk *w)
{
    const char *err = NULL;

    if (x->level != level)
        return "iset: node at the wrong level";
    if (x->parent != parent)
        return "iset: parent link does not match the tree";
    if (x->count > VMAR__ISET_B || x->count < (parent  ? VMAR__ISET_MIN
                                               : level ? 2u
                                                       : 1u))
        return "iset: node fill out of bounds";
    if (x->prev != w->last[level] || (x->prev && x->prev->next != x))
        return "iset: sibling links do not match the tree";
    w->last[level] = x;
    for (unsigned i = 1; i < x->count; i++)
        if (x->key[i - 1] >= x->key[i])
            return "iset: keys do not ascend";
    for (unsigned i = x->count; i < VMAR__ISET_B; i++)
        if (x->key[i] != UINT64_MAX || x->ptr[i])
            return "iset: an unused slot is not empty";
    if (!level)
        return vmar__iset_check_leaf(x, w);
    for (unsigned i = 0; i < x->count && !err; i++) {
        const vmar__iset_x *c = vmar__iset_child(x, i);
        if (!c)
            return "iset: inner slot without a child";
        err = vmar__iset_check_x(c, x, level - 1, w);
        if (!err && (x->key[i] != c->key[0] || x->gap[i] != vmar__iset_max(c)))
            err = "iset: inner slot's key or gap is stale";
    }
    return err;
}

const char *vmar__iset_check(const struct vmar__iset *set)
{
    struct vmar__iset_walk w = {.set = set, .prev = NULL, .count = 0};
    const char *err = NULL;
    size_t spares = 0;

    if (!set->root != !set->levels || (!set->root && set->count))
        return "iset: root, levels and count disagree";
    if (set->levels > VMAR__ISET_MAX_LEVELS)
        return "iset: more levels than any tree can have";
    for (unsigned l = 0; l < VMAR__ISET_MAX_LEVELS; l++)
        w.last[l] = NULL;
    if (set->root)
        err = vmar__iset_check_x(set->root, NULL, set->levels - 1, &w);
    if (err)
        return err;
    for (unsigned l = 0; l < set->levels; l++)
        if (w.last[l]->next)
            return "iset: sibling links run past the last node";
    if (w.count != set->count)
        return "iset: count does not match the tree";
    if (vmar__iset_index_nodes(set) != set->nodes)
        return "iset: index node count does not match the tree";
    for (const vmar__iset_x *x = set->spare; x && spares <= set->nspare;
         x = x->parent)
        spares++;
    if (spares != set->nspare)
        return "iset: spare list and its count disagree";
    return NULL;
}
