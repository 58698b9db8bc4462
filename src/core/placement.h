/* SPDX-License-Identifier: MIT */
/* Choosing where a new mapping goes. */
#ifndef VMAR_CORE_PLACEMENT_H
#define VMAR_CORE_PLACEMENT_H

#include "space.h"

/*
 * Choose the start of a new mapping of `o->size` bytes aligned to `align`
 * for VMAR_PLACE_ANY and VMAR_PLACE_HINT: the hint when [hint, hint+size)
 * and the stack guard below it are free and inside the window, otherwise
 * a search of the window (o->window_lo/_hi, valid; 0: the user range's
 * edge), top-down or bottom-up, randomised when the space has ASLR.
 * Returns 0 and *out, or VMAR_ENOMEM when nothing fits. O(log n), no side
 * effects (env->random may be called). `where` (may be NULL) receives the
 * hole's place in the index for vmar__iset_insert_hinted(), which then
 * needs no second descent.
 * => caller holds the space lock exclusively.
 */
int vmar__place(const struct vmar_space *space, const struct vmar_map_opts *o,
                vmar_size_t align, vmar_addr_t *out,
                struct vmar__iset_hint *where);

#endif /* VMAR_CORE_PLACEMENT_H */
