/* SPDX-License-Identifier: MIT */
/*
 * Memory-object references. An object is the embedder's; libvmar only
 * counts who holds it (each mapping, each piece of a split) and calls
 * ops->release when the last holder lets go.
 */
#include <vmar/object.h>

#include "atomic.h"

void vmar_object_init(struct vmar_object *obj,
                      const struct vmar_object_ops *ops, unsigned max_prot)
{
    obj->ops = ops;
    obj->refs = 1;
    obj->max_prot = max_prot & VMAR_PROT_RWX;
}

void vmar_object_ref(struct vmar_object *obj)
{
    vmar__atomic_add(&obj->refs, 1);
}

void vmar_object_unref(struct vmar_object *obj)
{
    if (vmar__atomic_add(&obj->refs, (size_t)-1) == 1)
        obj->ops->release(obj);
}
