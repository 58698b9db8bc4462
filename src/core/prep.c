/* SPDX-License-Identifier: MIT */
/* The prepare phase's bundle and the index reservation (prep.h). */
#include "prep.h"

#include "mapping.h"

/* Free the n spares on top of the list. */
static void vmar__index_drop(struct vmar_space *space, size_t n)
{
    while (n--)
        space->env->free(space->env->ctx, vmar__iset_spare_take(&space->set),
                         sizeof(struct vmar__iset_index));
}

int vmar__index_reserve(struct vmar_space *space, size_t inserts)
{
    const struct vmar_env *env = space->env;
    const size_t had = space->set.nspare;
    size_t k = vmar__iset_spares_needed(&space->set, inserts);

    space->index_keep = VMAR_MAX(space->index_keep, inserts);
    if (!space->index_added)
        space->index_gen = space->set.gen;
    while (k--) {
        struct vmar__iset_index *x =
            env->alloc(env->ctx, sizeof(*x), _Alignof(struct vmar__iset_index));
        if (!x) {
            const size_t added = space->set.nspare - had;
            vmar__index_drop(space, added);
            space->index_added -= added;
            return VMAR_ENOMEM;
        }
        vmar__iset_spare_add(&space->set, x);
        space->index_added++;
    }
    return 0;
}

void vmar__index_trim(struct vmar_space *space, size_t inserts)
{
    const size_t keep =
        inserts ? vmar__iset_spares_for(&space->set, inserts) : 0;

    if (space->set.nspare > keep)
        vmar__index_drop(space, space->set.nspare - keep);
}

void vmar__index_slack(struct vmar_space *space)
{
    const size_t keep = VMAR_MAX(space->index_keep, (size_t)VMAR_PREP_NODES);

    if (space->set.nspare > 2 * vmar__iset_spares_for(&space->set, keep))
        vmar__index_trim(space, keep);
}

/* Free prep's nodes from slot `from` on. */
static void prep_free_nodes(struct vmar_space *space, struct vmar__prep *prep,
                            unsigned from)
{
    const struct vmar_env *env = space->env;

    while (prep->nnodes > from) {
        const unsigned i = --prep->nnodes;
        env->free(env->ctx, prep->nodes[i],
                  vmar__mapping_bytes(prep->full >> i & 1u));
    }
    prep->full &= (1u << from) - 1u;
}

int vmar__prep_nodes(struct vmar_space *space, struct vmar__prep *prep,
                     const unsigned n[2])
{
    const struct vmar_env *env = space->env;
    const unsigned had = prep->nnodes, total = n[0] + n[1];

    if (!total)
        return 0;
    VMAR_ASSERT(env, had + total <= VMAR_PREP_NODES);
    for (unsigned i = 0; i < total; i++) {
        const unsigned full = i >= n[0];
        struct vmar__mapping *m =
            env->alloc(env->ctx, vmar__mapping_bytes(full),
                       _Alignof(struct vmar__mapping));
        if (!m) {
            prep_free_nodes(space, prep, had);
            return VMAR_ENOMEM;
        }
        prep->full |= full << prep->nnodes;
        prep->nodes[prep->nnodes++] = m;
    }
    if (vmar__index_reserve(space, prep->nnodes)) {
        prep_free_nodes(space, prep, had);
        return VMAR_ENOMEM;
    }
    return 0;
}

struct vmar__mapping *vmar__prep_take(struct vmar_space *space,
                                      struct vmar__prep *prep, bool full)
{
    const unsigned want = full ? 1u : 0u;
    VMAR_ASSERT(space->env, prep->nnodes > 0);
    const unsigned top = prep->nnodes - 1;
    unsigned i = top;

    /* The last prepared node of that form, most often the top one; if
     * not, it trades places with the top one. */
    while ((prep->full >> i & 1u) != want) {
        VMAR_ASSERT(space->env, i > 0);
        i--;
    }
    struct vmar__mapping *m = prep->nodes[i];
    if (i != top) {
        prep->nodes[i] = prep->nodes[top];
        prep->full ^= 1u << i | 1u << top; /* the two bits differ */
    }
    prep->nnodes = top;
    prep->full &= ~(1u << top); /* bits from nnodes on stay clear */
    return m;
}

void vmar__prep_release(struct vmar_space *space, struct vmar__prep *prep)
{
    const struct vmar_env *env = space->env;

    space->index_keep = 0;
    /* The common end of a commit: every node taken, nothing else held. */
    if (!prep->nnodes && !space->index_added && !prep->tables.count &&
        !prep->frames.count && !prep->pages && !prep->object)
        return;
    if (prep->nnodes)
        prep_free_nodes(space, prep, 0);
    /* An operation that failed (or changed nothing) gives back the spares
     * it added: they are on top of the list, untouched, since only a
     * change of the set takes or returns spares. */
    if (space->index_added && space->set.gen == space->index_gen)
        vmar__index_drop(space, space->index_added);
    space->index_added = 0;
    vmar_frame_list_release(env, &prep->tables);
    vmar_frame_list_release(env, &prep->frames);
    while (prep->npages)
        vmar_frame_put(env, prep->pages[--prep->npages]);
    if (prep->pages)
        env->free(env->ctx, prep->pages,
                  prep->pages_cap * sizeof(*prep->pages));
    if (prep->object)
        vmar_object_unref(prep->object);
    prep->pages = NULL;
    prep->object = NULL;
}
