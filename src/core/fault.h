/* SPDX-License-Identifier: MIT */
/* The fault path, shared by vmar_fault() and the user-memory accessors. */
#ifndef VMAR_CORE_FAULT_H
#define VMAR_CORE_FAULT_H

#include "space.h"

/*
 * Make the page holding `addr` accessible for `access` (one vmar_access
 * bit) and return its present leaf in *pte. Errors as vmar_fault().
 * => caller holds the space lock exclusively.
 */
int vmar__fault_locked(struct vmar_space *space, vmar_addr_t addr,
                       unsigned access, struct vmar_pte *pte);

#endif /* VMAR_CORE_FAULT_H */
