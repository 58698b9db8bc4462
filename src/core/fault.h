/* SPDX-License-Identifier: MIT */
/* The fault path, shared by vmar_fault() and the user-memory accessors. */
#ifndef VMAR_CORE_FAULT_H
#define VMAR_CORE_FAULT_H

#include "space.h"

/* Internal access bit beside one vmar_access value: a forced access
 * (vmar_read_flags()/vmar_write_flags() with VMAR_RW_FORCE; Linux's
 * FOLL_FORCE). It needs the permission only in the mapping's maximum; a
 * forced write without WRITE needs private (copy-on-write) memory and
 * writes the page's private copy, leaving its leaf read-only. */
#define VMAR__ACCESS_FORCE (1u << 7)

/*
 * Make the page holding `addr` accessible for `access` (one vmar_access
 * bit) and return its present leaf in *pte. Errors as vmar_fault().
 * => caller holds the space lock, shared or exclusive, and not the
 *    page-table lock (taken and dropped inside, around each round).
 */
int vmar__fault_locked(struct vmar_space *space, vmar_addr_t addr,
                       unsigned access, struct vmar_pte *pte);

/*
 * Fault in the page holding `addr` for `access` (VMAR__ACCESS_FORCE
 * allowed) and pin its frame
 * (vmar__frame_pin: the frame outlives a concurrent copy-on-write break
 * until vmar__frame_unpin, and a pin is no reference, so it is not taken
 * for sharing by vmar_check). VMAR_EFAULT for device memory. Errors as
 * vmar_fault().
 * => caller holds the space lock, shared or exclusive, and not the
 *    page-table lock.
 */
int vmar__fault_pin(struct vmar_space *space, vmar_addr_t addr, unsigned access,
                    struct vmar_pte *pte);

/*
 * vmar_pin() of the page at `va` (page aligned): fault it in for writing
 * (`write`) or reading, make a private anonymous frame this space's own
 * (a read pin copies one shared copy-on-write with another space, as
 * Linux unshares for read-only pins), take a DMA pin on the frame
 * (vmar__frame_pin_dma) and return it in *pa. VMAR_EFAULT when no
 * mapping contains `va`, it is device memory or lacks the access's
 * permission; else the fault's error.
 * => caller holds the space lock shared (not exclusively: a fault may
 *    sleep), and not the page-table lock.
 */
int vmar__fault_pin_dma(struct vmar_space *space, vmar_addr_t va, bool write,
                        vmar_paddr_t *pa);

/*
 * Fault in every page of [lo, hi) (page aligned, inside the user range)
 * for `access` (VMAR_ACCESS_READ or _WRITE), mapping by mapping:
 * vmar_advise()'s POPULATE_READ and POPULATE_WRITE. Returns 0;
 * VMAR_ENOMEM at a hole (or when a fault cannot allocate); VMAR_EINVAL
 * at a device mapping or one without the access's permission; else the
 * first fault error (vmar_fault()'s: VMAR_ENXIO, VMAR_EIO, ...). The
 * pages before the failing one stay populated.
 * => caller holds nothing (the space lock is taken shared per mapping).
 */
int vmar__populate(struct vmar_space *space, vmar_addr_t lo, vmar_addr_t hi,
                   unsigned access);

/*
 * Populate [lo, hi) (page aligned, inside the user range), as Linux's
 * __mm_populate() after mlock: mapping by mapping, locked or not,
 * skipping holes, device memory and VMAR_MAP_LOCKONFAULT mappings; a
 * write fault in writable private memory (breaking copy-on-write), else
 * a read fault, or an execute fault where only that is allowed.
 * Returns 0; VMAR_EFAULT at a VMAR_PROT_NONE mapping; VMAR_EAGAIN when a
 * fault cannot allocate (Linux's mlock answer); else the first fault
 * error. With `after_change` (a change that locked memory or made locked
 * memory writable or larger: mm_populate() of VM_LOCKED memory) only
 * locked mappings are populated, a failing one is left as it is and the
 * next one populated, and the answer is 0.
 * => caller holds nothing (the space lock is taken shared per mapping).
 */
int vmar__populate_locked(struct vmar_space *space, vmar_addr_t lo,
                          vmar_addr_t hi, bool after_change);

#endif /* VMAR_CORE_FAULT_H */
