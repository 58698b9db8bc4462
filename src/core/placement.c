/* SPDX-License-Identifier: MIT */
/*
 * Placement policy over the interval set's O(log n) free-gap search.
 *
 * Randomisation keeps the search logarithmic: instead of enumerating all
 * fits and picking one (linear), it draws a random page offset and moves
 * the search window's top (top-down) or bottom (bottom-up) by it, then
 * falls back to the whole window when the narrowed one has no room. The
 * entropy is therefore aslr_bits bits of page offset whenever the space
 * has that much room, which is how Linux randomises mmap_base.
 */
#include "placement.h"

static bool want_top_down(const struct vmar_space *space, unsigned flags)
{
    if (flags & VMAR_MAP_TOP_DOWN)
        return true;
    if (flags & VMAR_MAP_BOTTOM_UP)
        return false;
    return !(space->flags & VMAR_SPACE_BOTTOM_UP);
}

/* The hint is usable when [hint - pre, hint + size) lies in the caller's
 * window and it is the only candidate of a query whose window is exactly
 * that range. */
static bool hint_fits(const struct vmar_space *space,
                      const struct vmar__iset_query *base, vmar_addr_t hint,
                      struct vmar__iset_hint *where)
{
    struct vmar__iset_query q = *base;
    vmar_addr_t got;

    if (hint < base->lo || hint - base->lo < q.pre || hint > base->hi ||
        q.size > base->hi - hint)
        return false;
    q.lo = hint - q.pre;
    q.hi = hint + q.size;
    return vmar__iset_find_free(&space->set, &q, &got, where) && got == hint;
}

static vmar_size_t random_shift(const struct vmar_space *space, unsigned flags)
{
    const struct vmar_env *env = space->env;

    if (!space->aslr_bits || (flags & VMAR_MAP_NO_RANDOM))
        return 0;
    uint64_t r =
        env->random(env->ctx) & ((UINT64_C(1) << space->aslr_bits) - 1);
    return (vmar_size_t)r << VMAR_PAGE_SHIFT;
}

int vmar__place(const struct vmar_space *space, const struct vmar_map_opts *o,
                vmar_size_t align, vmar_addr_t *out,
                struct vmar__iset_hint *where)
{
    /* The caller's window (vmar_map_opts::window_lo/_hi, checked by
     * map_validate()); the search inside it stays O(log n): only the
     * subtrees that straddle an edge of the window are entered in vain. */
    struct vmar__iset_query q = {
        .lo = o->window_lo ? o->window_lo : space->user_lo,
        .hi = o->window_hi ? o->window_hi : space->user_hi,
        .size = o->size,
        .align = align,
        .pre = vmar__mapping_guarded(o->flags) ? space->stack_guard : 0,
        .top_down = want_top_down(space, o->flags),
    };

    if (o->place == VMAR_PLACE_HINT && hint_fits(space, &q, o->addr, where)) {
        *out = o->addr;
        return 0;
    }
    vmar_size_t shift = random_shift(space, o->flags);
    if (shift) {
        struct vmar__iset_query narrow = q;
        if (q.top_down && shift < q.hi - q.lo)
            narrow.hi = q.hi - shift;
        else if (!q.top_down && shift < q.hi - q.lo)
            narrow.lo = q.lo + shift;
        if (vmar__iset_find_free(&space->set, &narrow, out, where))
            return 0;
    }
    return vmar__iset_find_free(&space->set, &q, out, where) ? 0 : VMAR_ENOMEM;
}
