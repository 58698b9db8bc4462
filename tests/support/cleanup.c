/* SPDX-License-Identifier: MIT */
/*
 * Cleanup after a failed test (harness.h): the machines and spaces a test
 * registered, released by the cmocka teardown vt_cleanup.
 */
#include "harness.h"

static struct {
    struct vmar_sim *sim;
    struct vmar_space *space;
} live[VT_MAX_LIVE];

void vt_live_set(struct vmar_sim *sim, struct vmar_space *space)
{
    size_t i, slot = VT_MAX_LIVE;

    for (i = 0; i < VT_MAX_LIVE; i++) {
        if (live[i].sim == sim)
            break;
        if (!live[i].sim && slot == VT_MAX_LIVE)
            slot = i;
    }
    if (i == VT_MAX_LIVE)
        i = slot;
    assert_true(i < VT_MAX_LIVE);
    live[i].sim = sim;
    live[i].space = space;
}

void vt_live_drop(struct vmar_sim *sim)
{
    for (size_t i = 0; i < VT_MAX_LIVE; i++)
        if (live[i].sim == sim)
            live[i].sim = NULL, live[i].space = NULL;
}

int vt_cleanup(void **state)
{
    (void)state;
    for (size_t i = 0; i < VT_MAX_LIVE; i++) {
        if (!live[i].sim)
            continue;
        if (live[i].space)
            vmar_space_destroy(live[i].space);
        vmar_sim_destroy(live[i].sim);
        live[i].sim = NULL;
        live[i].space = NULL;
    }
    return 0;
}
