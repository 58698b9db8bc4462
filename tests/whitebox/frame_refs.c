/* SPDX-License-Identifier: MIT */
/*
 * vt_frame_refs (tests/support/harness.h): the reference count inside a
 * frame's count word, read with the core's own decoder. Built into
 * vmar_test_private, the only support library with src/ on its include
 * path; a public accessor for the count would make it black-box.
 */
#include <vmar/env.h>

#include "core/frame.h"

size_t vt_frame_refs(const struct vmar_env *env, vmar_paddr_t pa);

size_t vt_frame_refs(const struct vmar_env *env, vmar_paddr_t pa)
{
    return vmar__frame_refs(env, pa);
}
