/* SPDX-License-Identifier: MIT */
/*
 * MAP_FIXED_NOREPLACE never replaces (issue 22, item 6): the layer's map
 * is one VMAR_PLACE_FIXED_NOREPLACE step, so a mapping another thread
 * makes after the layer's own look at the range and before its map is
 * refused with EEXIST, never destroyed.
 *
 * test_noreplace_intruder: deterministic. The space's lock hook makes the
 * other thread's mapping at the moment the layer's map takes the lock
 * exclusively (after every look the layer took under the shared lock),
 * which is the interleaving that a check-then-MAP_FIXED implementation
 * loses: it returned the address and the intruder was gone.
 *
 * test_noreplace_threads: the same race between two real threads on the
 * sim's locked env, each owning the range while its map holds it and
 * checking that nobody replaced its mapping. Bounded in time
 * (VMAR_TEST_SECONDS, default 1); it finds the race of a check-then-map
 * implementation with high probability, not certainty, which the
 * deterministic test covers.
 */
/* clock_gettime under -std=c11. */
#define _GNU_SOURCE

#include "harness.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vmar/linux.h>

#define LO ((vmar_addr_t)0x10000000)
#define HI (LO + 512 * PG)
#define AT (LO + 64 * PG) /* the contested range */
#define NP 2              /* its pages */

#define L_RW (VMAR_LINUX_PROT_READ | VMAR_LINUX_PROT_WRITE)
#define L_PA (VMAR_LINUX_MAP_PRIVATE | VMAR_LINUX_MAP_ANONYMOUS)
#define L_SA (VMAR_LINUX_MAP_SHARED | VMAR_LINUX_MAP_ANONYMOUS)
#define L_NR VMAR_LINUX_MAP_FIXED_NOREPLACE

/* ---- the deterministic interleaving ---------------------------------- */

/* The lock hook: with `armed`, the first exclusive lock maps the
 * intruder (PROT_READ, NP pages at AT) before it is granted, as another
 * thread that got the lock first would. Single-threaded: the hooks lock
 * nothing. */
static struct {
    struct vmar_space *space;
    bool armed, inside;
    int rc;
} g_hook;

static void hook_lock(void *ctx, void *lock, enum vmar_lock_mode mode)
{
    struct vmar_map_opts o = {.addr = AT,
                              .size = NP * PG,
                              .place = VMAR_PLACE_FIXED_NOREPLACE,
                              .prot = VMAR_PROT_READ};

    (void)ctx;
    (void)lock;
    if (mode != VMAR_LOCK_EXCLUSIVE || !g_hook.armed || g_hook.inside)
        return;
    g_hook.armed = false;
    g_hook.inside = true;
    g_hook.rc = vmar_map(g_hook.space, &o, NULL);
    g_hook.inside = false;
}

static void hook_unlock(void *ctx, void *lock, enum vmar_lock_mode mode)
{
    (void)ctx;
    (void)lock;
    (void)mode;
}

static void intruder_run(uint64_t flags)
{
    static int dummy_lock;
    struct vmar_env env;
    struct vmar_linux_mm mm;
    struct vmar_mapping_info info;
    struct vt vt;
    long r;

    vt_setup(&vt, NULL, 0); /* the machine; its space is replaced */
    vmar_space_destroy(vt.space);
    env = *vmar_sim_env(vt.sim);
    env.lock = hook_lock;
    env.unlock = hook_unlock;
    env.lock_held = NULL;
    vt.env = &env;
    vt.opts = (struct vmar_space_opts){.env = &env,
                                       .mmu = &vmar_mmu_sim,
                                       .mmu_config = vt.sim,
                                       .lock = &dummy_lock,
                                       .user_lo = LO,
                                       .user_hi = HI};
    vt.refcheck = false;
    assert_int_equal(vmar_space_create(&vt.opts, &vt.space), 0);
    assert_int_equal(vmar_linux_mm_init(&mm, vt.space, &env, LO + 256 * PG, 0),
                     0);
    g_hook.space = vt.space;
    g_hook.rc = 1;
    g_hook.armed = true;

    r = vmar_linux_mmap(&mm, AT, NP * PG, L_RW, flags | L_NR, NULL, 0);
    assert_false(g_hook.armed); /* the intruder came in */
    assert_int_equal(g_hook.rc, 0);
    assert_int_equal(r, -VMAR_LINUX_EEXIST);
    /* The intruder's mapping is whole and still its own. */
    assert_int_equal(vmar_query(vt.space, AT, &info), 0);
    assert_int_equal(info.start, AT);
    assert_int_equal(info.end, AT + NP * PG);
    assert_int_equal(info.prot, VMAR_PROT_READ);
    assert_int_equal(info.flags & VMAR_MAP_SHARED, 0);
    VT_CHECK(&vt);

    /* Without an intruder the same call maps. */
    assert_int_equal(vmar_linux_munmap(&mm, AT, NP * PG), 0);
    r = vmar_linux_mmap(&mm, AT, NP * PG, L_RW, flags | L_NR, NULL, 0);
    assert_int_equal(r, (long)AT);
    VT_CHECK(&vt);
    vt_teardown(&vt); /* nothing leaked (the shared case's object) */
}

static void test_noreplace_intruder(void **state)
{
    (void)state;
    intruder_run(L_PA);
    intruder_run(L_SA);
}

/* ---- two threads ------------------------------------------------------ */

struct race {
    struct vmar_space *space;
    struct vmar_linux_mm mm;
    atomic_bool stop;
    atomic_ulong lost;        /* an owner found its mapping replaced */
    unsigned long wins[2];    /* successful maps per thread */
    struct timespec deadline; /* CLOCK_MONOTONIC */
};

static bool past(const struct timespec *t)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > t->tv_sec ||
           (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

/* Is [AT, AT+NP pages) exactly one mapping with `prot`? */
static bool owns(struct vmar_space *space, unsigned prot)
{
    struct vmar_mapping_info info;

    return vmar_query(space, AT, &info) == 0 && info.start == AT &&
           info.end == AT + NP * PG && info.prot == prot;
}

/* The layer's side: MAP_FIXED_NOREPLACE read-write. */
static void *layer_thread(void *arg)
{
    struct race *r = arg;

    for (unsigned long i = 0; !atomic_load(&r->stop); i++) {
        long a =
            vmar_linux_mmap(&r->mm, AT, NP * PG, L_RW, L_PA | L_NR, NULL, 0);
        if (a == (long)AT) {
            r->wins[0]++;
            if (!owns(r->space, VMAR_PROT_READ | VMAR_PROT_WRITE))
                atomic_fetch_add(&r->lost, 1);
            (void)vmar_unmap(r->space, AT, NP * PG);
        } else if (a != -VMAR_LINUX_EEXIST) {
            atomic_fetch_add(&r->lost, 1);
        }
        if ((i & 255) == 0 && past(&r->deadline))
            atomic_store(&r->stop, true);
    }
    return NULL;
}

/* The other thread: a read-only core mapping at the same place. */
static void *core_thread(void *arg)
{
    struct race *r = arg;
    struct vmar_map_opts o = {.addr = AT,
                              .size = NP * PG,
                              .place = VMAR_PLACE_FIXED_NOREPLACE,
                              .prot = VMAR_PROT_READ};

    while (!atomic_load(&r->stop)) {
        int rc = vmar_map(r->space, &o, NULL);
        if (rc == 0) {
            r->wins[1]++;
            if (!owns(r->space, VMAR_PROT_READ))
                atomic_fetch_add(&r->lost, 1);
            (void)vmar_unmap(r->space, AT, NP * PG);
        } else if (rc != VMAR_EEXIST) {
            atomic_fetch_add(&r->lost, 1);
        }
    }
    return NULL;
}

static void test_noreplace_threads(void **state)
{
    struct vmar_sim_lock *lock;
    struct race *r = calloc(1, sizeof(*r));
    const char *e = getenv("VMAR_TEST_SECONDS");
    pthread_t t[2];
    struct vt vt;

    (void)state;
    assert_non_null(r);
    vt_setup(&vt, NULL, 0);
    vmar_space_destroy(vt.space);
    assert_int_equal(vmar_sim_lock_create(&lock), 0);
    vt.env = vmar_sim_env_locked(vt.sim);
    vt.opts = (struct vmar_space_opts){.env = vt.env,
                                       .mmu = &vmar_mmu_sim,
                                       .mmu_config = vt.sim,
                                       .lock = lock,
                                       .user_lo = LO,
                                       .user_hi = HI};
    vt.refcheck = false;
    assert_int_equal(vmar_space_create(&vt.opts, &vt.space), 0);
    r->space = vt.space;
    assert_int_equal(
        vmar_linux_mm_init(&r->mm, vt.space, vt.env, LO + 256 * PG, 0), 0);
    clock_gettime(CLOCK_MONOTONIC, &r->deadline);
    r->deadline.tv_sec += e ? atoi(e) : 1;

    assert_int_equal(pthread_create(&t[0], NULL, layer_thread, r), 0);
    assert_int_equal(pthread_create(&t[1], NULL, core_thread, r), 0);
    pthread_join(t[0], NULL);
    pthread_join(t[1], NULL);
    fprintf(stderr, "maps: layer %lu, other thread %lu; lost %lu\n", r->wins[0],
            r->wins[1], atomic_load(&r->lost));
    assert_int_equal(atomic_load(&r->lost), 0);
    assert_true(r->wins[0] > 0 && r->wins[1] > 0); /* they did contend */
    VT_CHECK(&vt);
    vmar_space_destroy(vt.space);
    vt.space = NULL;
    vmar_sim_lock_destroy(lock);
    vt_teardown(&vt);
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_noreplace_intruder),
        cmocka_unit_test(test_noreplace_threads),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
