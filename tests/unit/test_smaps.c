/* SPDX-License-Identifier: MIT */
/*
 * Per-mapping statistics: vmar_iterate_stats() (Rss, Pss, shared and
 * private, clean and dirty, Anonymous) for private anonymous memory
 * before and after a fork, private and shared object mappings and device
 * memory; the /proc/pid/smaps text of vmar_smaps() and the status lines
 * of vmar_status(); bad input; no allocation; and, on a Linux host, the
 * host kernel's /proc/self/smaps for the same simple layout.
 */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, madvise */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <sys/mman.h>
#include <unistd.h>
#endif

#define R  ((unsigned)VMAR_PROT_READ)
#define W  ((unsigned)VMAR_PROT_WRITE)
#define RW (R | W)

#define FIXED VMAR_PLACE_FIXED
#define BASE  ((vmar_addr_t)0x40000000)

static int grab(void *arg, const struct vmar_mapping_stats *st)
{
    *(struct vmar_mapping_stats *)arg = *st;
    return 1;
}

/* The statistics of the mapping at `at`. */
static struct vmar_mapping_stats stats_at(struct vt *vt, vmar_addr_t at)
{
    struct vmar_mapping_stats st;

    memset(&st, 0xa5, sizeof(st));
    VT_EXPECT_RC(vmar_iterate_stats(vt->space, at, at + 1, grab, &st), 1);
    assert_true(st.info.start <= at && at < st.info.end);
    assert_int_equal(st.size, st.info.end - st.info.start);
    assert_true(st.locked == 0 || st.locked == st.pss);
    assert_true(st.pinned <= st.rss);
    assert_int_equal(st.rss, st.shared_clean + st.shared_dirty +
                                 st.private_clean + st.private_dirty);
    assert_true(st.pss <= st.rss && st.pss_dirty <= st.pss);
    return st;
}

#define EXPECT_STATS(st, rss_, pss_, sc, sd, pc, pd, anon)                     \
    do {                                                                       \
        assert_int_equal((st).rss, (rss_)*PG);                                 \
        assert_int_equal((st).pss, (pss_));                                    \
        assert_int_equal((st).shared_clean, (sc)*PG);                          \
        assert_int_equal((st).shared_dirty, (sd)*PG);                          \
        assert_int_equal((st).private_clean, (pc)*PG);                         \
        assert_int_equal((st).private_dirty, (pd)*PG);                         \
        assert_int_equal((st).anonymous, (anon)*PG);                           \
    } while (0)

/* Private anonymous memory: dirty and private; after a fork the copied
 * pages are shared by two (Pss halves) until one side writes. */
static void test_anon_fork(void **state)
{
    struct vt vt, child;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 4, RW, 0);
    struct vmar_mapping_stats st = stats_at(&vt, BASE);
    EXPECT_STATS(st, 0, 0, 0, 0, 0, 0, 0);
    assert_int_equal(st.size, 4 * PG);
    vt_fill_pages(&vt, BASE, 2, 1);
    st = stats_at(&vt, BASE);
    EXPECT_STATS(st, 2, 2 * PG, 0, 0, 0, 2, 2);
    assert_int_equal(st.pss_dirty, 2 * PG);

    VT_EXPECT_RC(vt_fork(&vt, &child), 0);
    st = stats_at(&vt, BASE);
    EXPECT_STATS(st, 2, PG, 0, 2, 0, 0, 2);
    st = stats_at(&child, BASE);
    EXPECT_STATS(st, 2, PG, 0, 2, 0, 0, 2);
    vt_fill_pages(&child, BASE, 1, 5); /* a copy of its own */
    st = stats_at(&vt, BASE);
    EXPECT_STATS(st, 2, PG + PG / 2, 0, 1, 0, 1, 2);
    st = stats_at(&child, BASE);
    EXPECT_STATS(st, 2, PG + PG / 2, 0, 1, 0, 1, 2);
    vt_child_destroy(&child);
    st = stats_at(&vt, BASE);
    EXPECT_STATS(st, 2, 2 * PG, 0, 0, 0, 2, 2);
    vt_teardown(&vt);
}

/* Object pages: a read-only shared page read is clean; a page faulted
 * for a write is dirty; a page mapped twice is shared; a private
 * mapping's own copy is anonymous and dirty, its object pages clean. */
static void test_object(void **state)
{
    struct vt vt;
    struct vmar_object *obj;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_without_refdecoder(&vt);
    assert_int_equal(vmar_memfd_create(vt.env, 4 * PG, &obj), 0);
    struct vmar_map_opts o = {.addr = BASE,
                              .size = 4 * PG,
                              .prot = R,
                              .place = FIXED,
                              .flags = VMAR_MAP_SHARED,
                              .backing = VMAR_BACKING_OBJECT,
                              .object = obj};
    VT_EXPECT_RC(vt_map_opts(&vt, &o, NULL), 0);
    (void)vt_peek(&vt, BASE);
    struct vmar_mapping_stats st = stats_at(&vt, BASE);
    EXPECT_STATS(st, 1, PG, 0, 0, 1, 0, 0);

    /* A second, writable shared mapping: page 1 faulted for a write. */
    o.addr = BASE + 16 * PG;
    o.prot = RW;
    VT_EXPECT_RC(vt_map_opts(&vt, &o, NULL), 0);
    VT_EXPECT_RC(vmar_fault(vt.space, BASE + 17 * PG, VMAR_ACCESS_WRITE, 0), 0);
    st = stats_at(&vt, BASE + 16 * PG);
    EXPECT_STATS(st, 1, PG, 0, 0, 0, 1, 0);
    /* Page 0 in both: shared by two leaves. */
    VT_EXPECT_RC(vmar_fault(vt.space, BASE + 16 * PG, VMAR_ACCESS_READ, 0), 0);
    st = stats_at(&vt, BASE);
    EXPECT_STATS(st, 1, PG / 2, 1, 0, 0, 0, 0);

    /* Private: a read maps the object's page (clean), a write copies it. */
    o.addr = BASE + 32 * PG;
    o.flags = 0;
    VT_EXPECT_RC(vt_map_opts(&vt, &o, NULL), 0);
    VT_EXPECT_RC(vmar_fault(vt.space, BASE + 34 * PG, VMAR_ACCESS_READ, 0), 0);
    VT_EXPECT_RC(vmar_fault(vt.space, BASE + 35 * PG, VMAR_ACCESS_WRITE, 0), 0);
    st = stats_at(&vt, BASE + 32 * PG);
    EXPECT_STATS(st, 2, 2 * PG, 0, 0, 1, 1, 1);
    vmar_object_unref(obj);
    vt_teardown(&vt);
}

/* Device memory is nobody's RSS. */
static void test_device(void **state)
{
    struct vt vt;
    vmar_paddr_t pa;
    (void)state;

    vt_setup(&vt, NULL, 0);
    assert_int_equal(vt.env->frame_alloc(vt.env->ctx, VMAR_FRAME_ZERO, &pa), 0);
    struct vmar_map_opts o = {.addr = BASE,
                              .size = PG,
                              .prot = RW,
                              .place = FIXED,
                              .backing = VMAR_BACKING_DEVICE,
                              .paddr = pa};
    VT_EXPECT_RC(vt_map_opts(&vt, &o, NULL), 0);
    struct vmar_mapping_stats st = stats_at(&vt, BASE);
    EXPECT_STATS(st, 0, 0, 0, 0, 0, 0, 0);
    assert_int_equal(st.info.backing, VMAR_BACKING_DEVICE);
    vmar_space_destroy(vt.space);
    vt.space = NULL;
    vt.env->frame_free(vt.env->ctx, pa);
    vt_teardown(&vt);
}

/* ---- text -----------------------------------------------------------------
 */

struct text {
    char buf[8192];
    size_t len;
};

static void collect(void *arg, const char *line)
{
    struct text *t = arg;
    int n = snprintf(t->buf + t->len, sizeof(t->buf) - t->len, "%s\n", line);
    assert_true(n > 0 && (size_t)n < sizeof(t->buf) - t->len);
    t->len += (size_t)n;
}

static const char *kb(const char *name, vmar_size_t bytes)
{
    static char line[16][64];
    static unsigned k;
    char *l = line[k++ % 16];
    snprintf(l, 64, "%-16s%8llu kB\n", name, (unsigned long long)(bytes >> 10));
    return l;
}

static void test_smaps_text(void **state)
{
    struct vt vt;
    struct text t = {.len = 0};
    char want[4096];
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 4, RW, VMAR_MAP_DONTDUMP);
    vt_map_fixed(&vt, BASE + 4 * PG, 1, R,
                 VMAR_MAP_SHARED | VMAR_MAP_NOHUGEPAGE | VMAR_MAP_SEALED);
    vt_fill_pages(&vt, BASE, 3, 2);
    vmar_smaps(vt.space, collect, &t);
    int n = snprintf(
        want, sizeof(want),
        "40000000-40004000 rw-p 00000000 00:00 0\n"
        "%s%s%s%s%s%s%s%s%s%s%s%s%s"
        "VmFlags: rd wr mr mw me dd \n",
        kb("Size:", 4 * PG), kb("KernelPageSize:", PG), kb("MMUPageSize:", PG),
        kb("Rss:", 3 * PG), kb("Pss:", 3 * PG), kb("Pss_Dirty:", 3 * PG),
        kb("Shared_Clean:", 0), kb("Shared_Dirty:", 0), kb("Private_Clean:", 0),
        kb("Private_Dirty:", 3 * PG), kb("Anonymous:", 3 * PG),
        kb("LazyFree:", 0), kb("Locked:", 0));
    snprintf(want + n, sizeof(want) - (size_t)n,
             "40004000-40005000 r--s 00000000 00:00 0\n"
             "%s%s%s%s%s%s%s%s%s%s%s%s%s"
             "VmFlags: rd sh mr mw me ms nh sl \n",
             kb("Size:", PG), kb("KernelPageSize:", PG), kb("MMUPageSize:", PG),
             kb("Rss:", 0), kb("Pss:", 0), kb("Pss_Dirty:", 0),
             kb("Shared_Clean:", 0), kb("Shared_Dirty:", 0),
             kb("Private_Clean:", 0), kb("Private_Dirty:", 0),
             kb("Anonymous:", 0), kb("LazyFree:", 0), kb("Locked:", 0));
    assert_string_equal(t.buf, want);

    t.len = 0;
    t.buf[0] = '\0';
    vmar_status(vt.space, collect, &t);
    snprintf(want, sizeof(want),
             "VmSize:\t%8u kB\nVmLck:\t%8u kB\nVmPin:\t%8u kB\n"
             "VmRSS:\t%8u kB\nRssAnon:\t%8u kB\nRssFile:\t%8u kB\n",
             (unsigned)(5 * PG >> 10), 0u, 0u, (unsigned)(3 * PG >> 10),
             (unsigned)(3 * PG >> 10), 0u);
    assert_string_equal(t.buf, want);
    vt_teardown(&vt);
}

/* Locked is the Pss of a locked mapping, VmFlags says "lo"; pinned
 * counts the pages with a DMA pin; VmLck and VmPin follow vmar_stats. */
static void test_locked_pinned(void **state)
{
    struct vt vt;
    struct text t = {.len = 0};
    char want[512];
    vmar_paddr_t pa[2];
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 4, RW, 0);
    VT_EXPECT_RC(vmar_mlock(vt.space, BASE, 4 * PG, 0), 0);
    VT_CHECK(&vt);
    struct vmar_mapping_stats st = stats_at(&vt, BASE);
    assert_int_equal(st.rss, 4 * PG);
    assert_int_equal(st.locked, 4 * PG);
    assert_int_equal(st.pinned, 0);
    VT_EXPECT_RC(vmar_pin(vt.space, BASE + PG, 2, VMAR_PIN_WRITE, pa), 0);
    VT_CHECK(&vt);
    st = stats_at(&vt, BASE);
    assert_int_equal(st.pinned, 2 * PG);
    vmar_smaps(vt.space, collect, &t);
    assert_non_null(strstr(t.buf, "VmFlags: rd wr mr mw me lo \n"));
    t.len = 0;
    t.buf[0] = '\0';
    vmar_status(vt.space, collect, &t);
    snprintf(want, sizeof(want),
             "VmSize:\t%8u kB\nVmLck:\t%8u kB\nVmPin:\t%8u kB\n",
             (unsigned)(4 * PG >> 10), (unsigned)(4 * PG >> 10),
             (unsigned)(2 * PG >> 10));
    assert_memory_equal(t.buf, want, strlen(want));
    vmar_unpin(vt.space, pa, 2);
    VT_EXPECT_RC(vmar_munlock(vt.space, BASE, 4 * PG), 0);
    VT_CHECK(&vt);
    st = stats_at(&vt, BASE);
    assert_int_equal(st.locked, 0);
    assert_int_equal(st.pinned, 0);
    vt_teardown(&vt);
}

/* ---- the walk -------------------------------------------------------------
 */

struct count {
    size_t n, stop;
    vmar_addr_t starts[8];
};

static int count_cb(void *arg, const struct vmar_mapping_stats *st)
{
    struct count *c = arg;
    c->starts[c->n++] = st->info.start;
    return c->n == c->stop ? 7 : 0;
}

/* The range selects mappings as vmar_iterate does; a non-zero return
 * stops; bad input is EINVAL with no call; nothing is allocated. */
static void test_walk(void **state)
{
    struct vt vt;
    struct count c = {0, 0, {0}};
    (void)state;

    vt_setup(&vt, NULL, 0);
    for (size_t i = 0; i < 4; i++)
        vt_map_fixed(&vt, BASE + i * 4 * PG, 2, RW, 0);
    vt_fill_pages(&vt, BASE, 2, 3);
    const struct vmar_sim_stats before = vt_stats(&vt);
    vmar_sim_fail_after(vt.sim, 1, VMAR_SIM_FAIL_ANY, true);
    VT_EXPECT_RC(
        vmar_iterate_stats(vt.space, BASE + PG, BASE + 9 * PG, count_cb, &c),
        0);
    assert_int_equal(c.n, 3);
    assert_int_equal(c.starts[2], BASE + 8 * PG);
    c = (struct count){0, 2, {0}};
    VT_EXPECT_RC(vmar_iterate_stats(vt.space, 0, ~(vmar_addr_t)0, count_cb, &c),
                 7);
    assert_int_equal(c.n, 2);
    struct text t = {.len = 0};
    vmar_smaps(vt.space, collect, &t);
    vmar_status(vt.space, collect, &t);
    vmar_sim_fail_after(vt.sim, 0, 0, false);
    const struct vmar_sim_stats after = vt_stats(&vt);
    assert_int_equal(after.alloc_calls, before.alloc_calls);
    assert_int_equal(after.frame_alloc_calls, before.frame_alloc_calls);

    c = (struct count){0, 0, {0}};
    VT_EXPECT_RC(vmar_iterate_stats(vt.space, BASE + PG, BASE, count_cb, &c),
                 VMAR_EINVAL);
    VT_EXPECT_RC(vmar_iterate_stats(NULL, 0, 1, count_cb, &c), VMAR_EINVAL);
    VT_EXPECT_RC(vmar_iterate_stats(vt.space, 0, 1, NULL, &c), VMAR_EINVAL);
    VT_EXPECT_RC(vmar_iterate_stats(vt.space, BASE + 2 * PG, BASE + 4 * PG,
                                    count_cb, &c),
                 0); /* a hole */
    assert_int_equal(c.n, 0);
    vt_teardown(&vt);
}

/* ---- the host -------------------------------------------------------------
 */

#ifdef __linux__
/* The host's smaps value of `field` (kB) for the mapping at `at`, or -1. */
static long host_field(void *at, const char *field, char *flags, size_t fl)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[512];
    bool in = false;
    long v = -1;

    assert_non_null(f);
    while (fgets(line, sizeof(line), f)) {
        unsigned long lo, hi;
        char c;
        if (sscanf(line, "%lx-%lx %c", &lo, &hi, &c) == 3 &&
            strchr(line, '-') < strchr(line, ' ')) {
            in = lo == (unsigned long)at;
            continue;
        }
        if (!in)
            continue;
        if (!strncmp(line, field, strlen(field)))
            sscanf(line + strlen(field), "%ld", &v);
        if (flags && !strncmp(line, "VmFlags:", 8))
            snprintf(flags, fl, "%.200s", line);
    }
    fclose(f);
    return v;
}

/* Remove " ac" (commit accounting, which libvmar does not do). */
static void drop_ac(char *s)
{
    char *p = strstr(s, " ac");
    if (p)
        memmove(p, p + 3, strlen(p + 3) + 1);
}

/* A private anonymous mapping of 4 pages, 3 written, one page DONTDUMP:
 * the host kernel's smaps and vmar_smaps agree on every field libvmar
 * reports for both pieces (pages only read are left out: Linux maps the
 * zero page for them, which smaps does not count). */
static void test_host(void **state)
{
    static const char *fields[] = {
        "Size:",         "Rss:",          "Pss:",           "Pss_Dirty:",
        "Shared_Clean:", "Shared_Dirty:", "Private_Clean:", "Private_Dirty:",
        "Anonymous:",    "LazyFree:",     "Locked:"};
    const long hpg = sysconf(_SC_PAGESIZE);
    struct vt vt;
    struct text t = {.len = 0};
    (void)state;

    if (hpg != (long)PG)
        fail_msg("host page size %ld: the comparison needs %u-byte pages", hpg,
                 (unsigned)PG);
    /* Between two PROT_NONE pages, so that it merges with nothing. */
    char *g = mmap(NULL, 6 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(g != MAP_FAILED);
    char *h = mmap(g + PG, 4 * PG, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    assert_true(h == g + PG);
    memset(h, 1, 3 * PG);
    assert_int_equal(madvise(h + 3 * PG, PG, MADV_DONTDUMP), 0);

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 4, RW, 0);
    vt_fill_pages(&vt, BASE, 3, 1);
    VT_EXPECT_RC(vmar_advise(vt.space, BASE + 3 * PG, PG, VMAR_ADVISE_DONTDUMP),
                 0);
    vmar_smaps(vt.space, collect, &t);
    for (size_t piece = 0; piece < 2; piece++) {
        char hflags[256] = "", *at = t.buf;
        char head[64];
        snprintf(head, sizeof(head), "%08llx-",
                 (unsigned long long)(BASE + piece * 3 * PG));
        at = strstr(t.buf, head);
        assert_non_null(at);
        for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
            long hv = host_field(h + piece * 3 * PG, fields[i], hflags,
                                 sizeof(hflags));
            const char *l = strstr(at, fields[i]);
            long lv = -2;
            assert_non_null(l);
            sscanf(l + strlen(fields[i]), "%ld", &lv);
            if (hv != lv)
                fail_msg("%s of piece %zu: host %ld kB, libvmar %ld kB",
                         fields[i], piece, hv, lv);
        }
        drop_ac(hflags);
        const char *lf = strstr(at, "VmFlags:");
        assert_non_null(lf);
        assert_memory_equal(lf, hflags, strlen(hflags));
    }
    munmap(g, 6 * PG);
    vt_teardown(&vt);
}
#endif /* __linux__: the host comparison exists only there */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_anon_fork), cmocka_unit_test(test_object),
        cmocka_unit_test(test_device),    cmocka_unit_test(test_smaps_text),
        cmocka_unit_test(test_walk),      cmocka_unit_test(test_locked_pinned),
#ifdef __linux__
        cmocka_unit_test(test_host),
#endif
    };

    fprintf(stderr, "backend: %s\n", vt_backend()->name);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
