/* SPDX-License-Identifier: MIT */
/*
 * The core's atomics: libatomic_ops (header-only for what is used here, so
 * a freestanding build needs no library, only its headers and an assert.h
 * shim where the compiler has none: cmake/freestanding.cmake).
 *
 * Every counter that a fault (under the shared space lock or the gate) may
 * change (frame references, RSS, object references) goes through these.
 * They are full barriers: a count that reaches zero frees memory, and the
 * free must see every write made while the reference was held.
 */
#ifndef VMAR_CORE_ATOMIC_H
#define VMAR_CORE_ATOMIC_H

#include <atomic_ops.h>

#include "deps.h"

_Static_assert(sizeof(AO_t) == sizeof(size_t), "AO_t is not size_t");

static inline size_t vmar__atomic_load(const volatile size_t *w)
{
    return (size_t)AO_load_acquire((const volatile AO_t *)w);
}

static inline void vmar__atomic_store(volatile size_t *w, size_t v)
{
    AO_store_release((volatile AO_t *)w, (AO_t)v);
}

/* Add `d` (two's complement for a subtraction); returns the old value. */
static inline size_t vmar__atomic_add(volatile size_t *w, size_t d)
{
    return (size_t)AO_fetch_and_add_full((volatile AO_t *)w, (AO_t)d);
}

static inline bool vmar__atomic_cas(volatile size_t *w, size_t old, size_t v)
{
    return AO_compare_and_swap_full((volatile AO_t *)w, (AO_t)old, (AO_t)v) !=
           0;
}

#endif /* VMAR_CORE_ATOMIC_H */
