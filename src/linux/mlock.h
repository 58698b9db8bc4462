/* SPDX-License-Identifier: MIT */
/* What mmap (linux.c) asks of the lock calls of the layer (mlock.c). */
#ifndef VMAR_LINUX_MLOCK_H
#define VMAR_LINUX_MLOCK_H

#include <vmar/linux.h>

/* do_mmap()'s lock checks, after the placement: -EPERM for MAP_LOCKED
 * (`locked_flag`) with a zero limit (can_do_mlock()), -EAGAIN when the
 * map, locked by the flag or by MCL_FUTURE, would pass the limit
 * (mlock_future_ok()), else 0. *onfault tells whether such a map locks
 * on fault (MCL_FUTURE | MCL_ONFAULT), so that it is not populated. */
long vmar__linux_mmap_lock(struct vmar_linux_mm *mm, bool locked_flag,
                           uint64_t len, bool *onfault);

/* mlock_future_ok() of a locked mapping: whether `bytes` more locked
 * memory stay within the limit. */
bool vmar__linux_lock_fits(struct vmar_linux_mm *mm, uint64_t bytes);

/* After mremap(MREMAP_DONTUNMAP) of [addr, addr+len) returned `ret`,
 * `src` the mapping that held addr before (end 0: none, or no
 * DONTUNMAP): when it moved a locked mapping, do what Linux's
 * dontunmap_complete() does, which clears the lock of the source's whole
 * VMA, the parts not moved included, and leaves locked_vm charged for
 * it: unlock the rest of `src` and add its size to mm->locked_stale.
 * Returns `ret`. */
long vmar__linux_dontunmap(struct vmar_linux_mm *mm,
                           const struct vmar_mapping_info *src, uint64_t addr,
                           uint64_t len, long ret);

/* Whether a new mapping is locked by MCL_FUTURE. */
bool vmar__linux_mmap_locks(struct vmar_linux_mm *mm);

#endif /* VMAR_LINUX_MLOCK_H */
