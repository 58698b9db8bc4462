/* SPDX-License-Identifier: MIT */
/*
 * The core's only seam to the outside world besides struct vmar_env.
 *
 * The core is freestanding: it may include only the compiler's own headers.
 * Byte operations go to compiler builtins (GCC and clang may still emit
 * calls to memset/memcpy/memmove, which every freestanding environment
 * provides).
 * An embedder can replace this file with -DVMAR_DEPS_HEADER="myfile.h".
 */
#ifndef VMAR_CORE_DEPS_H
#define VMAR_CORE_DEPS_H

#ifdef VMAR_DEPS_HEADER
#include VMAR_DEPS_HEADER
#else

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define vmar__memset(d, c, n)  __builtin_memset((d), (c), (n))
#define vmar__memcpy(d, s, n)  __builtin_memcpy((d), (s), (n))
#define vmar__memmove(d, s, n) __builtin_memmove((d), (s), (n))

#define VMAR_LIKELY(x)   __builtin_expect(!!(x), 1)
#define VMAR_UNLIKELY(x) __builtin_expect(!!(x), 0)

#define VMAR_STR2(x) #x
#define VMAR_STR(x)  VMAR_STR2(x)

/*
 * VMAR_ASSERT guards internal invariants, never input. It stays on in
 * every build (the cost is a compare); a failure calls the env's panic
 * hook through vmar__panic().
 */
struct vmar_env;
_Noreturn void vmar__panic(const struct vmar_env *env, const char *msg);
#define VMAR_ASSERT(env, cond)                                                 \
    do {                                                                       \
        if (VMAR_UNLIKELY(!(cond)))                                            \
            vmar__panic((env), __FILE__                                        \
                        ":" VMAR_STR(__LINE__) ": assertion failed: " #cond);  \
    } while (0)

#endif /* VMAR_DEPS_HEADER */

#define VMAR_MIN(a, b) ((a) < (b) ? (a) : (b))
#define VMAR_MAX(a, b) ((a) > (b) ? (a) : (b))

#endif /* VMAR_CORE_DEPS_H */
