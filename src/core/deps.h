/* SPDX-License-Identifier: MIT */
/*
 * The core's freestanding base: assertions, vmar_panic(), branch hints,
 * min/max and byte operations, shared with the backends through
 * <vmar/backend.h> (which also honours -DVMAR_DEPS_HEADER). The core may
 * include only the compiler's own headers besides the public <vmar/...>
 * headers.
 */
#ifndef VMAR_CORE_DEPS_H
#define VMAR_CORE_DEPS_H

#include <vmar/backend.h>

/* Report a line through env->log (no-op when unset). */
void vmar__log(const struct vmar_env *env, enum vmar_log_level level,
               const char *msg);

#endif /* VMAR_CORE_DEPS_H */
