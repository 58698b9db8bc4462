/* SPDX-License-Identifier: MIT */
/*
 * Grow-down stacks (VMAR_MAP_GROWSDOWN): a fault below such a mapping
 * extends it down to the faulting page, with Linux's checks (the stack
 * guard to an accessible mapping below, the stack limit, the address
 * space limit, the user range); a refused growth is a hole's fault and
 * changes nothing. With the embedder's lock the growth needs it held
 * exclusively (VMAR_FAULT_EXCLUSIVE, else VMAR_EAGAIN); with libvmar's
 * lock the fault takes it. User copies never grow a stack.
 */
#include "harness.h"

#include <string.h>

#include <vmar/error.h>
#include <vmar/fault.h>
#include <vmar/object.h>

#define RW    (VMAR_PROT_READ | VMAR_PROT_WRITE)
#define GUARD (16 * PG)
#define WR    VMAR_ACCESS_WRITE
#define EXCL  (VMAR_FAULT_USER | VMAR_FAULT_EXCLUSIVE)

/* A stack of 4 pages ending at `top`, and the space set up with the
 * stack guard. */
static vmar_addr_t stack_top(void)
{
    return (vmar_addr_t)0x7f0000000000 < VT_USER_TOP
               ? (vmar_addr_t)0x7f0000000000
               : (vmar_addr_t)0x3f00000000;
}

static void setup(struct vt *vt)
{
    struct vmar_space_opts o = {.stack_guard = GUARD};

    vt_setup(vt, &o, 256);
}

static int map_at(struct vt *vt, vmar_addr_t addr, vmar_size_t size,
                  unsigned prot, unsigned flags)
{
    return vt_map(vt, addr, size, prot, VMAR_PLACE_FIXED, flags, NULL);
}

static int map_stack(struct vt *vt, vmar_addr_t top, vmar_size_t size,
                     unsigned prot)
{
    return map_at(vt, top - size, size, prot, VMAR_MAP_GROWSDOWN);
}

static struct vmar_mapping_info info_at(struct vt *vt, vmar_addr_t addr)
{
    struct vmar_mapping_info mi;

    assert_int_equal(vmar_query(vt->space, addr, &mi), 0);
    return mi;
}

static struct vmar_stats stats(struct vt *vt)
{
    struct vmar_stats st;

    vmar_stats(vt->space, &st);
    return st;
}

/* The stack ends at `top` and starts at `start`; `growths` so far. */
static void expect_stack(struct vt *vt, vmar_addr_t top, vmar_addr_t start,
                         size_t growths)
{
    struct vmar_mapping_info mi = info_at(vt, top - 1);

    assert_int_equal(mi.start, start);
    assert_int_equal(mi.end, top);
    assert_true(mi.flags & VMAR_MAP_GROWSDOWN);
    assert_int_equal(stats(vt).stack_growths, growths);
    VT_CHECK(vt);
}

static void test_grows_on_fault(void **state)
{
    const vmar_addr_t top = stack_top(), start = top - 4 * PG;
    struct vt vt;
    unsigned char b = 0xee;
    (void)state;

    setup(&vt);
    assert_int_equal(map_stack(&vt, top, 4 * PG, RW), 0);
    const vmar_size_t vm = stats(&vt).total_vm;
    /* The embedder's lock, held shared: the caller must come back with
     * it exclusive. Nothing changed meanwhile. */
    assert_int_equal(vmar_fault(vt.space, start - 1, WR, VMAR_FAULT_USER),
                     VMAR_EAGAIN);
    expect_stack(&vt, top, start, 0);
    assert_int_equal(vmar_fault(vt.space, start - 1, WR, EXCL), 0);
    expect_stack(&vt, top, start - PG, 1);
    assert_int_equal(stats(&vt).total_vm, vm + PG);
    assert_int_equal(stats(&vt).resident, PG);
    /* Far below, in one step: no distance rule since Linux 6.5. */
    assert_int_equal(vmar_fault(vt.space, start - 100 * PG + 5, WR, EXCL), 0);
    expect_stack(&vt, top, start - 100 * PG, 2);
    assert_int_equal(stats(&vt).resident, 2 * PG);
    assert_int_equal(vmar_read(vt.space, start - 100 * PG, &b, 1, NULL), 0);
    assert_int_equal(b, 0);
    /* Inside it now: an ordinary fault, no growth. */
    assert_int_equal(vmar_fault(vt.space, start - 50 * PG, WR, 0), 0);
    expect_stack(&vt, top, start - 100 * PG, 2);
    /* A hole below a mapping that does not grow is only a hole. */
    assert_int_equal(map_at(&vt, top + 8 * PG, PG, RW, 0), 0);
    assert_int_equal(vmar_fault(vt.space, top + 7 * PG, WR, EXCL), VMAR_ENOENT);
    VT_CHECK(&vt);
    vt_teardown(&vt);
}

static void test_guard_below(void **state)
{
    const vmar_addr_t top = stack_top(), start = top - 4 * PG;
    const vmar_addr_t low = start - 20 * PG; /* a mapping's end below */
    struct vt vt;
    (void)state;

    setup(&vt);
    assert_int_equal(map_stack(&vt, top, 4 * PG, RW), 0);
    assert_int_equal(map_at(&vt, low - PG, PG, VMAR_PROT_READ, 0), 0);
    /* 15 pages above it: closer than the guard. Refused, unchanged. */
    assert_int_equal(vmar_fault(vt.space, low + 15 * PG, WR, EXCL),
                     VMAR_ENOENT);
    expect_stack(&vt, top, start, 0);
    /* 16 pages: exactly the guard, allowed (Linux refuses only less). */
    assert_int_equal(vmar_fault(vt.space, low + 16 * PG, WR, EXCL), 0);
    expect_stack(&vt, top, low + 16 * PG, 1);
    /* Made inaccessible, the mapping below keeps no guard: the stack may
     * grow right onto it (no merge: the permissions differ). */
    assert_int_equal(vt_protect(&vt, low - PG, PG, VMAR_PROT_NONE), 0);
    assert_int_equal(vmar_fault(vt.space, low, WR, EXCL), 0);
    expect_stack(&vt, top, low, 2);
    assert_int_equal(info_at(&vt, low - PG).end, low);
    vt_teardown(&vt);
}

static void test_grows_onto_a_stack(void **state)
{
    const vmar_addr_t top = stack_top(), start = top - 4 * PG;
    struct vt vt;
    (void)state;

    setup(&vt);
    assert_int_equal(map_stack(&vt, top, 4 * PG, RW), 0);
    /* Another grow-down mapping below keeps no guard either; reaching it,
     * the two are one mapping (the layout keeps no pair that merges). */
    assert_int_equal(map_stack(&vt, start - 8 * PG, 2 * PG, RW), 0);
    assert_int_equal(stats(&vt).map_count, 2);
    assert_int_equal(vmar_fault(vt.space, start - 8 * PG, WR, EXCL), 0);
    assert_int_equal(stats(&vt).map_count, 1);
    struct vmar_mapping_info mi = info_at(&vt, top - 1);
    assert_int_equal(mi.start, start - 10 * PG);
    assert_int_equal(mi.end, top);
    assert_int_equal(stats(&vt).stack_growths, 1);
    VT_CHECK(&vt);
    vt_teardown(&vt);
}

static void test_limits(void **state)
{
    const vmar_addr_t top = stack_top(), start = top - 4 * PG;
    struct vt vt;
    (void)state;

    setup(&vt);
    assert_int_equal(map_stack(&vt, top, 4 * PG, RW), 0);
    /* The stack limit: 8 pages in all. */
    vmar_set_stack_limit(vt.space, 8 * PG);
    assert_int_equal(vmar_fault(vt.space, start - 5 * PG, WR, EXCL),
                     VMAR_ENOENT);
    expect_stack(&vt, top, start, 0);
    assert_int_equal(vmar_fault(vt.space, start - 4 * PG, WR, EXCL), 0);
    expect_stack(&vt, top, start - 4 * PG, 1);
    assert_int_equal(vmar_fault(vt.space, start - 4 * PG - 1, WR, EXCL),
                     VMAR_ENOENT);
    vmar_set_stack_limit(vt.space, 0);
    /* The address space limit: one page more. */
    const vmar_size_t vm = stats(&vt).total_vm;
    vmar_set_limits(vt.space, vm + PG, 0);
    assert_int_equal(vmar_fault(vt.space, start - 6 * PG, WR, EXCL),
                     VMAR_ENOENT);
    expect_stack(&vt, top, start - 4 * PG, 1);
    assert_int_equal(vmar_fault(vt.space, start - 5 * PG, WR, EXCL), 0);
    expect_stack(&vt, top, start - 5 * PG, 2);
    assert_int_equal(stats(&vt).total_vm, vm + PG);
    vt_teardown(&vt);
}

static void test_access_after_growth(void **state)
{
    const vmar_addr_t top = stack_top(), start = top - 4 * PG;
    struct vt vt;
    unsigned char b = 1;
    (void)state;

    setup(&vt);
    assert_int_equal(map_stack(&vt, top, 4 * PG, VMAR_PROT_READ), 0);
    /* Linux grows first and checks the access after: the stack stays
     * grown, the write is refused. */
    assert_int_equal(vmar_fault(vt.space, start - PG, WR, EXCL), VMAR_EACCES);
    expect_stack(&vt, top, start - PG, 1);
    assert_int_equal(
        vmar_fault(vt.space, start - PG, VMAR_ACCESS_READ, VMAR_FAULT_USER), 0);
    /* A user copy below it does not grow it (Linux's GUP does not). */
    assert_int_equal(vmar_read(vt.space, start - 2 * PG, &b, 1, NULL),
                     VMAR_EFAULT);
    expect_stack(&vt, top, start - PG, 1);
    vt_teardown(&vt);
}

static void test_bad_uses(void **state)
{
    const vmar_addr_t top = stack_top();
    struct vt vt;
    struct vmar_object *obj;
    (void)state;

    setup(&vt);
    /* Private anonymous memory only, as Linux. */
    assert_int_equal(
        map_at(&vt, top - PG, PG, RW, VMAR_MAP_GROWSDOWN | VMAR_MAP_SHARED),
        VMAR_EINVAL);
    assert_int_equal(vmar_memfd_create(vt.env, 4 * PG, &obj), 0);
    struct vmar_map_opts o = {.addr = top - PG,
                              .size = PG,
                              .place = VMAR_PLACE_FIXED,
                              .prot = RW,
                              .flags = VMAR_MAP_GROWSDOWN,
                              .backing = VMAR_BACKING_OBJECT,
                              .object = obj};
    assert_int_equal(vt_map_opts(&vt, &o, NULL), VMAR_EINVAL);
    o.backing = VMAR_BACKING_DEVICE;
    o.object = NULL;
    o.paddr = 0x100000;
    assert_int_equal(vt_map_opts(&vt, &o, NULL), VMAR_EINVAL);
    vmar_object_unref(obj);
    assert_int_equal(stats(&vt).map_count, 0);
    /* Unknown fault flags. */
    assert_int_equal(vmar_fault(vt.space, top - PG, WR, 1u << 7), VMAR_EINVAL);
    VT_CHECK(&vt);
    vt_teardown(&vt);
}

static void test_fork_inherits(void **state)
{
    const vmar_addr_t top = stack_top(), start = top - 4 * PG;
    struct vt vt, child;
    (void)state;

    setup(&vt);
    assert_int_equal(map_stack(&vt, top, 4 * PG, RW), 0);
    vmar_set_stack_limit(vt.space, 6 * PG);
    assert_int_equal(vt_fork(&vt, &child), 0);
    /* The child's stack grows, the parent's does not; the limit came
     * along. */
    assert_int_equal(vmar_fault(child.space, start - 3 * PG, WR, EXCL),
                     VMAR_ENOENT);
    assert_int_equal(vmar_fault(child.space, start - 2 * PG, WR, EXCL), 0);
    expect_stack(&child, top, start - 2 * PG, 1);
    expect_stack(&vt, top, start, 0);
    vt_child_destroy(&child);
    vt_teardown(&vt);
}

/* libvmar takes the space lock: the fault takes it exclusively to grow
 * the stack, and VMAR_FAULT_EXCLUSIVE has no meaning. */
static void test_libvmar_lock(void **state)
{
    const vmar_addr_t top = stack_top(), start = top - 4 * PG;
    struct vmar_sim_lock *lock;
    struct vt vt;
    (void)state;

    memset(&vt, 0, sizeof(vt));
    assert_int_equal(vmar_sim_create(NULL, &vt.sim), 0);
    assert_int_equal(vmar_sim_lock_create(&lock), 0);
    vt.env = vmar_sim_env_locked(vt.sim);
    vt.opts.env = vt.env;
    vt.opts.stack_guard = GUARD;
    vt_use_backend(&vt.opts, vt.sim, &vt.cfg);
    vt.opts.lock = lock;
    assert_int_equal(vmar_space_create(&vt.opts, &vt.space), 0);
    vt.refcheck = vt_backend()->real;
    assert_int_equal(map_stack(&vt, top, 4 * PG, RW), 0);
    assert_int_equal(vmar_fault(vt.space, start - 3 * PG, WR, EXCL),
                     VMAR_EINVAL);
    expect_stack(&vt, top, start, 0);
    assert_int_equal(vmar_fault(vt.space, start - 3 * PG, WR, VMAR_FAULT_USER),
                     0);
    expect_stack(&vt, top, start - 3 * PG, 1);
    assert_int_equal(stats(&vt).resident, PG);
    vmar_space_destroy(vt.space);
    vt.space = NULL;
    vmar_sim_lock_destroy(lock);
    vt_teardown(&vt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grows_on_fault),
        cmocka_unit_test(test_guard_below),
        cmocka_unit_test(test_grows_onto_a_stack),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_access_after_growth),
        cmocka_unit_test(test_bad_uses),
        cmocka_unit_test(test_fork_inherits),
        cmocka_unit_test(test_libvmar_lock),
    };
    return cmocka_run_group_tests(tests, NULL, vt_cleanup);
}
