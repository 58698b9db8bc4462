/* SPDX-License-Identifier: MIT */
/**
 * @file backend.h
 * @brief What an MMU backend may use besides the contract in
 *        <vmar/mmu.h>: assertions, the panic hook, branch hints, min/max
 *        and byte operations, all freestanding.
 *
 * A backend (a page-table format and its ops table) includes <vmar/mmu.h>,
 * this header and its own files, never the core's private headers. The
 * core builds on the same definitions.
 *
 * To route the byte operations elsewhere, or to change what VMAR_ASSERT
 * does, compile with `-DVMAR_DEPS_HEADER='"my_vmar_deps.h"'`: that header
 * is included first, and every macro below that it defines is kept
 * (docs/PORTING.md).
 */
#ifndef VMAR_BACKEND_H
#define VMAR_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vmar/env.h>
#include <vmar/mmu.h>

#ifdef VMAR_DEPS_HEADER
#include VMAR_DEPS_HEADER
#endif

#ifdef __cplusplus
extern "C" {
#endif

#ifndef VMAR_LIKELY
/** Branch hint: `x` is usually true. */
#define VMAR_LIKELY(x) __builtin_expect(!!(x), 1)
#endif
#ifndef VMAR_UNLIKELY
/** Branch hint: `x` is usually false. */
#define VMAR_UNLIKELY(x) __builtin_expect(!!(x), 0)
#endif
#ifndef VMAR_STR
/** Helper of VMAR_STR. */
#define VMAR_STR2(x) #x
/** `x` expanded, as a string literal. */
#define VMAR_STR(x) VMAR_STR2(x)
#endif
#ifndef VMAR_MIN
/** The smaller of `a` and `b` (each evaluated twice). */
#define VMAR_MIN(a, b) ((a) < (b) ? (a) : (b))
#endif
#ifndef VMAR_MAX
/** The larger of `a` and `b` (each evaluated twice). */
#define VMAR_MAX(a, b) ((a) > (b) ? (a) : (b))
#endif
#ifndef VMAR_MEMSET
/** memset through the compiler builtin (GCC and clang may still emit a
 *  call to memset, which every freestanding environment provides). */
#define VMAR_MEMSET(d, c, n) __builtin_memset((d), (c), (n))
#endif
#ifndef VMAR_MEMCPY
/** memcpy through the compiler builtin (see VMAR_MEMSET). */
#define VMAR_MEMCPY(d, s, n) __builtin_memcpy((d), (s), (n))
#endif
#ifndef VMAR_MEMMOVE
/** memmove through the compiler builtin (see VMAR_MEMSET). */
#define VMAR_MEMMOVE(d, s, n) __builtin_memmove((d), (s), (n))
#endif

/**
 * Report a broken invariant through env->panic and stop: a bug in
 * libvmar, a backend or the env, never bad input (that is an error code).
 *
 * @param env  the environment whose panic hook is called; may be NULL.
 * @param msg  what broke, for the log.
 * Locking: any; it does not return, so no lock is released.
 * On failure: it is the failure path; when the hook returns, or there is
 *  none, the CPU traps (__builtin_trap).
 */
_Noreturn void vmar_panic(const struct vmar_env *env, const char *msg);

#ifndef VMAR_ASSERT
/** Check an internal invariant, never input: on in every build (the cost
 *  is a compare); a failure calls vmar_panic() with the file, line and
 *  condition. */
#define VMAR_ASSERT(env, cond)                                                 \
    do {                                                                       \
        if (VMAR_UNLIKELY(!(cond)))                                            \
            vmar_panic((env), __FILE__                                         \
                       ":" VMAR_STR(__LINE__) ": assertion failed: " #cond);   \
    } while (0)
#endif

#ifdef __cplusplus
}
#endif

#endif /* VMAR_BACKEND_H */
