/* SPDX-License-Identifier: MIT */
/* The env hooks any core file may report through: panic and log. */
#include "deps.h"

_Noreturn void vmar_panic(const struct vmar_env *env, const char *msg)
{
    if (env && env->panic)
        env->panic(env->ctx, msg);
    /* A panic hook must not return; if it does, or there is none, stop. */
    __builtin_trap();
}

void vmar__log(const struct vmar_env *env, enum vmar_log_level level,
               const char *msg)
{
    if (env->log)
        env->log(env->ctx, level, msg);
}
