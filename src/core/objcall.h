/* SPDX-License-Identifier: MIT */
/*
 * The one place the core calls a memory object's operations
 * (struct vmar_object_ops), as pmap.h is for the MMU backend: each
 * optional operation's absence and each answer that is not a VMAR_E* code
 * are handled here once. The inline wrappers cost what the direct call
 * did; the out-of-line ones (usable, get_page) live in object.c with the
 * release, which the object's reference count calls.
 *
 * Objects run their own locking; none of these takes a libvmar lock.
 */
#ifndef VMAR_CORE_OBJCALL_H
#define VMAR_CORE_OBJCALL_H

#include <vmar/object.h>

#include "frame.h"

/* The object's operations are of this ABI and complete (size, get_page and
 * release are required). Out of line: a map asks once. */
bool vmar__obj_usable(const struct vmar_object *obj);

/* The object's size in bytes now. */
static inline uint64_t vmar__obj_size(struct vmar_object *obj)
{
    return obj->ops->size(obj);
}

/* The object wants to hear of the first write to each shared page. */
static inline bool vmar__obj_notifies(const struct vmar_object *obj)
{
    return obj->ops->notify_write != NULL;
}

/* A positive answer is no VMAR_E* code: the object failed. */
static inline int vmar__obj_rc(int rc)
{
    return rc > 0 ? VMAR_EIO : rc;
}

/* Tell the object page `index` is about to be written (a shared mapping's
 * first write). Precondition: vmar__obj_notifies(obj). */
static inline int vmar__obj_notify_write(struct vmar_object *obj,
                                         uint64_t index)
{
    return vmar__obj_rc(obj->ops->notify_write(obj, index));
}

/* Ask the object to back [offset, offset+len) before a populating map;
 * 0 when it has no commit. */
static inline int vmar__obj_commit(struct vmar_object *obj, uint64_t offset,
                                   uint64_t len)
{
    return obj->ops->commit ? vmar__obj_rc(obj->ops->commit(obj, offset, len))
                            : 0;
}

/* The object can punch holes (vmar_advise REMOVE): `punch` exists only
 * in ABI 2 tables, an ABI 1 table ends before it. */
static inline bool vmar__obj_can_punch(const struct vmar_object *obj)
{
    return obj->ops->abi >= 2 && obj->ops->punch;
}

/* Forget [offset, offset+len) of the object. Precondition:
 * vmar__obj_can_punch(obj). */
static inline void vmar__obj_punch(struct vmar_object *obj, uint64_t offset,
                                   uint64_t len)
{
    obj->ops->punch(obj, offset, len);
}

/* Page `index` with a reference for the caller in *pa, vetted by
 * vmar__object_page() against `pa_top` (the backend's) and the frame's
 * count: 0, or the error with *pa 0 and the reference, if any, dropped.
 * Out of line: the object's own call dwarfs a call. */
int vmar__obj_get_page(const struct vmar_env *env, vmar_paddr_t pa_top,
                       struct vmar_object *obj, uint64_t index, unsigned flags,
                       vmar_paddr_t *pa);

#endif /* VMAR_CORE_OBJCALL_H */
