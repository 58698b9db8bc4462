/* SPDX-License-Identifier: MIT */
/* The fault path, shared by vmar_fault() and the user-memory accessors. */
#ifndef VMAR_CORE_FAULT_H
#define VMAR_CORE_FAULT_H

#include "space.h"

/*
 * Make the page holding `addr` accessible for `access` (one vmar_access
 * bit) and return its present leaf in *pte. Errors as vmar_fault().
 * => caller holds the space lock, shared or exclusive, and not the
 *    page-table lock (taken and dropped inside, around each round).
 */
int vmar__fault_locked(struct vmar_space *space, vmar_addr_t addr,
                       unsigned access, struct vmar_pte *pte);

/*
 * Fault in the page holding `addr` for `access` and pin its frame
 * (vmar__frame_pin: the frame outlives a concurrent copy-on-write break
 * until vmar__frame_unpin, and a pin is no reference, so it is not taken
 * for sharing by vmar_check). VMAR_EFAULT for device memory. Errors as
 * vmar_fault().
 * => caller holds the space lock, shared or exclusive, and not the
 *    page-table lock.
 */
int vmar__fault_pin(struct vmar_space *space, vmar_addr_t addr, unsigned access,
                    struct vmar_pte *pte);

#endif /* VMAR_CORE_FAULT_H */
