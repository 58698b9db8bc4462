/* SPDX-License-Identifier: MIT */
/*
 * vmar_dump(): /proc/pid/maps lines, formatted without libc so kernels can
 * print them from a panic path.
 */
#include "fmt.h"
#include "mapping.h"

void vmar__mapping_line(struct vmar__line *l, const struct vmar__mapping *m)
{
    vmar__line_reset(l);
    vmar__line_hex(l, m->node.start, 8);
    vmar__line_char(l, '-');
    vmar__line_hex(l, m->node.end, 8);
    vmar__line_char(l, ' ');
    vmar__line_char(l, m->prot & VMAR_PROT_READ ? 'r' : '-');
    vmar__line_char(l, m->prot & VMAR_PROT_WRITE ? 'w' : '-');
    vmar__line_char(l, m->prot & VMAR_PROT_EXEC ? 'x' : '-');
    vmar__line_char(l, m->flags & VMAR_MAP_SHARED ? 's' : 'p');
    vmar__line_char(l, ' ');
    vmar__line_hex(l, vmar__mapping_offset(m), 8);
    vmar__line_str(l, " 00:00 0");
    if (m->flags & VMAR_MAP_STACK) {
        /* Linux pads the path column to a fixed width. */
        vmar__line_pad(l, 73);
        vmar__line_str(l, "[stack]");
    }
}

void vmar_dump(struct vmar_space *h, vmar_line_fn emit, void *arg)
{
    struct vmar_space *space = h->base;
    struct vmar__line l;

    vmar__lock(space, VMAR_LOCK_SHARED);
    for (struct vmar__iset_node *n = vmar__iset_first(&space->set); n;
         n = vmar__iset_next(n)) {
        vmar__mapping_line(&l, vmar__mapping_of(n));
        emit(arg, l.buf);
    }
    vmar__unlock(space, VMAR_LOCK_SHARED);
}
