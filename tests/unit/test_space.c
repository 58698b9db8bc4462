/* SPDX-License-Identifier: MIT */
/* Space life cycle, defaults, limits and the locking hooks. */
#include "harness.h"

#include <string.h>

static void test_defaults(void **state)
{
    struct vt vt;
    struct vmar_stats st;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vmar_stats(vt.space, &st);
    assert_int_equal(st.user_lo, VMAR_DEFAULT_USER_LO);
    assert_int_equal(st.user_hi, VT_USER_TOP);
    assert_int_equal(st.map_count, 0);
    assert_int_equal(st.total_vm, 0);
    assert_int_equal(st.resident, 0);
    vt_teardown(&vt);
}

static void test_custom_range(void **state)
{
    struct vt vt;
    struct vmar_stats st;
    struct vmar_space_opts o = {.user_lo = 0x100000, .user_hi = 0x200000};
    vmar_addr_t a;
    (void)state;

    vt_setup(&vt, &o, 0);
    vmar_stats(vt.space, &st);
    assert_int_equal(st.user_lo, 0x100000);
    assert_int_equal(st.user_hi, 0x200000);
    /* The whole range fits exactly once, and not twice. */
    assert_int_equal(
        vt_map(&vt, 0, 0x100000, VMAR_PROT_READ, VMAR_PLACE_ANY, 0, &a), 0);
    assert_int_equal(a, 0x100000);
    assert_int_equal(vt_map(&vt, 0, PG, VMAR_PROT_READ, VMAR_PLACE_ANY, 0, &a),
                     VMAR_ENOMEM);
    vt_teardown(&vt);
}

/* Destroy with populated mappings returns every frame and table page. */
static void test_destroy_frees_everything(void **state)
{
    struct vt vt;
    struct vmar_sim_stats st;
    (void)state;

    vt_setup(&vt, NULL, 1024);
    assert_int_equal(
        vt_map(&vt, 0x1ff000, 4 * PG, VMAR_PROT_READ | VMAR_PROT_WRITE,
               VMAR_PLACE_FIXED_NOREPLACE, VMAR_MAP_POPULATE, NULL),
        0);
    /* High in the user range of every backend (Sv39 ends at 2^38). */
    assert_int_equal(vt_map(&vt, VT_USER_TOP / 2 / PG * PG, 8 * PG,
                            VMAR_PROT_READ, VMAR_PLACE_FIXED_NOREPLACE,
                            VMAR_MAP_POPULATE, NULL),
                     0);
    st = vt_stats(&vt);
    assert_int_equal(st.leaves_live, 12);
    assert_true(st.tables_live >= 5); /* a root and two separate paths */
    vt_teardown(&vt); /* asserts frames_live == 0 and allocs_live == 0 */
}

/* A fake reader-writer lock that records what the library did with it. */
struct fake_lock {
    int shared, exclusive; /* currently held */
    int acquisitions;
    int wrong_release;
};

static struct vmar_env locked_env;

static void fake_lock_fn(void *ctx, void *lock, enum vmar_lock_mode mode)
{
    struct fake_lock *l = lock;
    (void)ctx;
    assert_int_equal(l->exclusive, 0);
    if (mode == VMAR_LOCK_EXCLUSIVE) {
        assert_int_equal(l->shared, 0);
        l->exclusive = 1;
    } else {
        l->shared++;
    }
    l->acquisitions++;
}

static void fake_unlock_fn(void *ctx, void *lock, enum vmar_lock_mode mode)
{
    struct fake_lock *l = lock;
    (void)ctx;
    if (mode == VMAR_LOCK_EXCLUSIVE && l->exclusive)
        l->exclusive = 0;
    else if (mode == VMAR_LOCK_SHARED && l->shared)
        l->shared--;
    else
        l->wrong_release++;
}

static void test_lock_hooks(void **state)
{
    struct vmar_sim *sim;
    struct vmar_space *space;
    struct fake_lock lock = {0};
    struct vmar_mapping_info info;
    struct vmar_stats st;
    vmar_addr_t a;
    (void)state;

    assert_int_equal(vmar_sim_create(&(struct vmar_sim_opts){0}, &sim), 0);
    locked_env = *vmar_sim_env(sim);
    locked_env.lock = fake_lock_fn;
    locked_env.unlock = fake_unlock_fn;
    struct vmar_space_opts o = {.env = &locked_env,
                                .mmu = &vmar_mmu_sim,
                                .mmu_config = sim,
                                .lock = &lock};
    assert_int_equal(vmar_space_create(&o, &space), 0);
    assert_int_equal(lock.acquisitions, 0);

    struct vmar_map_opts m = {.size = 4 * PG, .prot = VMAR_PROT_READ};
    assert_int_equal(vmar_map(space, &m, &a), 0);
    assert_int_equal(vmar_protect(space, a, PG, VMAR_PROT_NONE), 0);
    assert_int_equal(vmar_query(space, a, &info), 0);
    assert_int_equal(vmar_unmap(space, a, PG), 0);
    vmar_stats(space, &st);
    assert_int_equal(vmar_check(space), 0);
    /* Failing calls release the lock too. */
    assert_int_equal(vmar_unmap(space, a + 1, PG), VMAR_EINVAL);
    assert_int_equal(vmar_query(space, 0x10000, &info), VMAR_ENOENT);
    assert_int_equal(lock.acquisitions, 8);
    assert_int_equal(lock.shared + lock.exclusive, 0);
    assert_int_equal(lock.wrong_release, 0);
    vmar_space_destroy(space);
    vmar_sim_destroy(sim);
}

/* External locking: lock_held is asserted at every entry. */
static jmp_buf panic_jmp;
static int held_answer;
static const char *panic_msg;

static bool fake_lock_held(void *ctx, void *lock, enum vmar_lock_mode mode)
{
    (void)ctx;
    (void)lock;
    (void)mode;
    return held_answer;
}

static void panic_longjmp(void *ctx, const char *msg)
{
    (void)ctx;
    panic_msg = msg;
    longjmp(panic_jmp, 1);
}

static void test_lock_held_asserted(void **state)
{
    struct vmar_sim *sim;
    struct vmar_space *space;
    struct vmar_mapping_info info;
    (void)state;

    assert_int_equal(vmar_sim_create(&(struct vmar_sim_opts){0}, &sim), 0);
    locked_env = *vmar_sim_env(sim);
    locked_env.lock_held = fake_lock_held;
    locked_env.panic = panic_longjmp;
    struct vmar_space_opts o = {
        .env = &locked_env, .mmu = &vmar_mmu_sim, .mmu_config = sim};
    assert_int_equal(vmar_space_create(&o, &space), 0);
    held_answer = 1;
    assert_int_equal(vmar_query(space, 0x10000, &info), VMAR_ENOENT);
    held_answer = 0;
    panic_msg = NULL;
    if (setjmp(panic_jmp) == 0) {
        vmar_query(space, 0x10000, &info);
        fail_msg("vmar_query ran without the caller's lock");
    }
    assert_non_null(panic_msg);
    assert_non_null(strstr(panic_msg, "lock_held"));
    held_answer = 1;
    vmar_space_destroy(space);
    vmar_sim_destroy(sim);
}

static void test_set_limits(void **state)
{
    struct vt vt;
    (void)state;

    vt_setup(&vt, NULL, 0);
    assert_int_equal(
        vt_map(&vt, 0, 4 * PG, VMAR_PROT_READ, VMAR_PLACE_ANY, 0, NULL), 0);
    vmar_set_limits(vt.space, 6 * PG, 2);
    /* Existing mappings stay; growth beyond the limit is refused. */
    assert_int_equal(
        vt_map(&vt, 0, 4 * PG, VMAR_PROT_READ, VMAR_PLACE_ANY, 0, NULL),
        VMAR_ENOMEM);
    assert_int_equal(
        vt_map(&vt, 0, 2 * PG, VMAR_PROT_WRITE, VMAR_PLACE_ANY, 0, NULL), 0);
    vmar_set_limits(vt.space, 0, 0); /* back to no limit, default count */
    assert_int_equal(
        vt_map(&vt, 0, 64 * PG, VMAR_PROT_READ, VMAR_PLACE_ANY, 0, NULL), 0);
    vt_teardown(&vt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_custom_range),
        cmocka_unit_test(test_destroy_frees_everything),
        cmocka_unit_test(test_lock_hooks),
        cmocka_unit_test(test_lock_held_asserted),
        cmocka_unit_test(test_set_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
