/* SPDX-License-Identifier: MIT */
/*
 * The prepare phase's bundle: everything a mutating operation may
 * consume, allocated before its first change so that the commit cannot
 * fail, and the interval set's index nodes reserved for the inserts the
 * commit will make. Every function here runs under the space lock held
 * exclusively (or on a space no one else can reach yet: fork's child).
 */
#ifndef VMAR_CORE_PREP_H
#define VMAR_CORE_PREP_H

#include "space.h"

/*
 * Everything a mutating operation may consume, allocated before the first
 * change (prepare) so that the commit cannot fail. Whatever the commit did
 * not use is returned by vmar__prep_release(), which returns at once
 * when the bundle holds nothing: a new member that holds something joins
 * that test.
 */
#define VMAR_PREP_NODES 3
struct vmar__prep {
    /* Mapping nodes, each of the form its bit in `full` says (mapping.h:
     * short for private anonymous memory, full otherwise). */
    struct vmar__mapping *nodes[VMAR_PREP_NODES];
    unsigned nnodes;
    unsigned full;                 /* bit i: nodes[i] is of the full form */
    struct vmar_frame_list tables; /* page-table pages for the backend */
    struct vmar_frame_list frames; /* data frames (populate) */
    /* A reference to the object a new mapping will hold (the caller's
     * object, or a new one for shared anonymous memory); dropped when the
     * commit did not take it. */
    struct vmar_object *object;
    /* Object pages to map (populate), one reference each; the commit
     * takes them from the end, release drops the rest. */
    vmar_paddr_t *pages;
    size_t npages, pages_cap;
    /* The range the commit carves holds no leaf and no leaf table
     * (vmar__commit_begin): the carve skips the backend's unmap. */
    bool no_table;
};

/*
 * Index nodes of the interval set (interval_set.h): make sure the set holds
 * enough spares for `inserts` inserts. 0 or VMAR_ENOMEM; on failure the
 * spares are as before. vmar__index_trim() frees spares beyond what
 * `inserts` inserts need (0: all of them).
 * => caller holds the space lock exclusively (or owns a space no one
 *    else reaches: fork's child, the last handle's destruction).
 */
int vmar__index_reserve(struct vmar_space *space, size_t inserts);
void vmar__index_trim(struct vmar_space *space, size_t inserts);

/*
 * After a removal in a commit: free spares beyond twice what the running
 * operation reserved (at least VMAR_PREP_NODES inserts' worth), keeping
 * the operation's reservation and enough for the next operation, so that
 * a split and a merge taking turns do not allocate and free an index node
 * each time. Only commits remove, so a failed operation never frees
 * spares: it leaves the allocator exactly as it found it.
 * => caller holds the space lock exclusively.
 */
void vmar__index_slack(struct vmar_space *space);

/* Allocate n[0] more mapping nodes of the short form and n[1] of the
 * full form into `prep`, and the index spares for inserting every node
 * `prep` then holds. 0 or VMAR_ENOMEM; on failure `prep` keeps what it
 * had.
 * => caller holds the space lock exclusively. */
int vmar__prep_nodes(struct vmar_space *space, struct vmar__prep *prep,
                     const unsigned n[2]);
/* Take a prepared node of the form `full`, its contents undefined (the
 * caller writes it whole: vmar__mapping_copy() for a piece of a split,
 * vmar__mapping_init() for a new mapping); the commit asked for it, so
 * one must be there.
 * => caller holds the space lock exclusively. */
struct vmar__mapping *vmar__prep_take(struct vmar_space *space,
                                      struct vmar__prep *prep, bool full);
/* Free everything left in `prep`, and the index spares the operation
 * added when it changed nothing (it failed).
 * => caller holds the space lock exclusively. */
void vmar__prep_release(struct vmar_space *space, struct vmar__prep *prep);

#endif /* VMAR_CORE_PREP_H */
