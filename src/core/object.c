/* SPDX-License-Identifier: MIT */
/*
 * Memory-object references. An object is the embedder's; libvmar only
 * counts who holds it (each mapping, each piece of a split) and calls
 * ops->release when the last holder lets go. With objcall.h, the one place
 * the core calls an object's operations.
 */
#include <vmar/object.h>

#include "atomic.h"
#include "objcall.h"

void vmar_object_init(struct vmar_object *obj,
                      const struct vmar_object_ops *ops, unsigned max_prot)
{
    obj->ops = ops;
    obj->refs = 1;
    obj->max_prot = max_prot & VMAR_PROT_RWX;
}

bool vmar__obj_usable(const struct vmar_object *obj)
{
    const struct vmar_object_ops *ops = obj->ops;

    return ops && ops->abi >= 1 && ops->abi <= VMAR_OBJECT_ABI && ops->size &&
           ops->get_page && ops->release;
}

int vmar__obj_get_page(const struct vmar_env *env, vmar_paddr_t pa_top,
                       struct vmar_object *obj, uint64_t index, unsigned flags,
                       vmar_paddr_t *pa)
{
    int rc;

    *pa = 0;
    rc = obj->ops->get_page(obj, index, flags, pa);
    rc = vmar__object_page(env, pa_top, rc, *pa);
    if (rc)
        *pa = 0;
    return rc;
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
