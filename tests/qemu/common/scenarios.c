/* SPDX-License-Identifier: MIT */
/*
 * The scenarios, the same on every machine. Each gets a fresh user space
 * (the user program mapped at UCODE_VA, the space loaded into the MMU),
 * touches memory from user mode through arch_user_op() and returns NULL
 * or a reason. The runner then checks every libvmar invariant with
 * vmar_check(), destroys the space and checks that every frame came back.
 *
 * Output, one line per scenario: "PASS <name>" or "FAIL <name> <reason>
 * <value>"; then "ALL PASS" or "FAILED <n>", then the exit device.
 */
#include <vmar/version.h>

#include "kernel.h"

#define P ((vmar_size_t)VMAR_PAGE_SIZE)
#define M ((vmar_size_t)1 << 20)

static uint64_t detail; /* printed after a FAIL reason */

#define CHECK(cond, why, val)                                                  \
    do {                                                                       \
        if (!(cond)) {                                                         \
            detail = (uint64_t)(val);                                          \
            return why;                                                        \
        }                                                                      \
    } while (0)

/* User-mode accesses that must succeed; a fault that vmar_fault refuses
 * becomes a FAIL with its error code. */
#define LOAD(addr, out)                                                        \
    do {                                                                       \
        int rc_ = arch_user_op(UOP_LOAD64, (addr), 0, (out));                  \
        CHECK(rc_ == 0, "user load faulted", rc_);                             \
    } while (0)
#define STORE(addr, val)                                                       \
    do {                                                                       \
        int rc_ = arch_user_op(UOP_STORE64, (addr), (val), NULL);              \
        CHECK(rc_ == 0, "user store faulted", rc_);                            \
    } while (0)
#define CALL(expr)                                                             \
    do {                                                                       \
        int rc_ = (expr);                                                      \
        CHECK(rc_ == 0, #expr " failed", rc_);                                 \
    } while (0)

static int map_anon(struct vmar_space *s, vmar_size_t size, unsigned flags,
                    vmar_addr_t *out)
{
    return vmar_map(s,
                    &(struct vmar_map_opts){
                        .size = size,
                        .prot = VMAR_PROT_READ | VMAR_PROT_WRITE,
                        .flags = flags,
                    },
                    out);
}

/* Demand-zero: the first touch of each page faults once and reads 0. */
static const char *sc_demand_zero(struct vmar_space *s)
{
    vmar_addr_t a;
    uint64_t v = 1, k = 0;
    vmar_size_t res = 0;
    unsigned long f0;

    CALL(map_anon(s, 4 * P, 0, &a));
    CHECK(arch_leaf_level(s, a) == -1, "leaf before first touch", a);
    f0 = k_faults_resolved;
    LOAD(a + 8, &v);
    CHECK(v == 0, "fresh page not zero", v);
    CHECK(k_faults_resolved == f0 + 1, "first touch: not one fault",
          k_faults_resolved - f0);
    STORE(a + P + 16, 0x600dcafe12345678);
    LOAD(a + P + 16, &v);
    CHECK(v == 0x600dcafe12345678, "stored value lost", v);
    CALL(vmar_read(s, a + P + 16, &k, sizeof(k), NULL));
    CHECK(k == v, "vmar_read differs from the user's view", k);
    CALL(vmar_resident(s, a, a + 4 * P, &res));
    CHECK(res == 2 * P, "resident bytes", res);
    CHECK(arch_leaf_level(s, a + P) == 0, "no 4 KiB leaf after touch", a);
    return NULL;
}

/* Read-only: a user write faults with VMAR_EACCES and changes nothing. */
static const char *sc_protect_ro(struct vmar_space *s)
{
    vmar_addr_t a;
    uint64_t v = 0;
    unsigned long f0;
    int rc;

    CALL(map_anon(s, P, VMAR_MAP_POPULATE, &a));
    f0 = k_faults_resolved;
    STORE(a, 0x1111);
    CHECK(k_faults_resolved == f0, "populated page faulted", a);
    f0 = k_tlb_flushes;
    CALL(vmar_protect(s, a, P, VMAR_PROT_READ));
    CHECK(k_tlb_flushes > f0, "downgrade without a TLB flush", a);
    LOAD(a, &v);
    CHECK(v == 0x1111, "contents changed by protect", v);
    rc = arch_user_op(UOP_STORE64, a, 0x2222, NULL);
    CHECK(rc == VMAR_EACCES, "write to read-only: not EACCES", rc);
    LOAD(a, &v);
    CHECK(v == 0x1111, "refused write changed memory", v);
    CALL(vmar_protect(s, a, P, VMAR_PROT_READ | VMAR_PROT_WRITE));
    STORE(a, 0x3333);
    LOAD(a, &v);
    CHECK(v == 0x3333, "write after re-protect lost", v);
    return NULL;
}

/* Unmap: accesses afterwards fault with VMAR_ENOENT. */
static const char *sc_unmap(struct vmar_space *s)
{
    vmar_addr_t a;
    int rc;

    CALL(map_anon(s, 2 * P, 0, &a));
    STORE(a, 1);
    STORE(a + P, 2);
    CALL(vmar_unmap(s, a, 2 * P));
    CHECK(arch_leaf_level(s, a) == -1, "leaf left after unmap", a);
    rc = arch_user_op(UOP_LOAD64, a + P, 0, NULL);
    CHECK(rc == VMAR_ENOENT, "read after unmap: not ENOENT", rc);
    rc = arch_user_op(UOP_STORE64, a, 3, NULL);
    CHECK(rc == VMAR_ENOENT, "write after unmap: not ENOENT", rc);
    return NULL;
}

/* Device memory: mapped at map time (no fault), then used from user mode
 * by the architecture's own test. */
static const char *sc_device(struct vmar_space *s)
{
    struct vmar_mapping_info mi;
    vmar_addr_t a;
    unsigned long f0;
    const char *why;

    CALL(vmar_map(s,
                  &(struct vmar_map_opts){
                      .size = P,
                      .prot = VMAR_PROT_READ | VMAR_PROT_WRITE,
                      .backing = VMAR_BACKING_DEVICE,
                      .paddr = arch_device_pa,
                      .cache = arch_device_cache,
                  },
                  &a));
    CALL(vmar_query(s, a, &mi));
    CHECK(mi.backing == VMAR_BACKING_DEVICE && mi.offset == arch_device_pa,
          "query: not the device", mi.offset);
    CHECK(arch_leaf_level(s, a) == 0, "device page not mapped at once", a);
    f0 = k_faults_resolved;
    why = arch_device_test(a);
    if (why != NULL)
        return why;
    CHECK(k_faults_resolved == f0, "device access faulted", a);
    return NULL;
}

/* Huge leaves: 2 MiB of RAM mapped as device memory with one 2 MiB leaf,
 * then split by protect (first half read-only) and unmap (second half),
 * with the contents intact at every step. */
static uint64_t huge_word(vmar_size_t page)
{
    return 0x4855474500000000 | page; /* "HUGE" */
}

static const char *sc_huge(struct vmar_space *s)
{
    vmar_addr_t a;
    uint64_t v = 0;
    int rc;

    for (vmar_size_t i = 0; i < 2 * M / P; i++)
        *(volatile uint64_t *)arch_phys_to_virt(arch_huge_pa + i * P) =
            huge_word(i);
    CALL(vmar_map(s,
                  &(struct vmar_map_opts){
                      .size = 2 * M,
                      .align = 2 * M,
                      .prot = VMAR_PROT_READ | VMAR_PROT_WRITE,
                      .backing = VMAR_BACKING_DEVICE,
                      .paddr = arch_huge_pa,
                      .cache = VMAR_CACHE_WB,
                  },
                  &a));
    CHECK(arch_leaf_level(s, a) == 1, "not a 2 MiB leaf",
          arch_leaf_level(s, a));
    LOAD(a, &v);
    CHECK(v == huge_word(0), "huge: page 0", v);
    LOAD(a + 511 * P, &v);
    CHECK(v == huge_word(511), "huge: page 511", v);

    CALL(vmar_protect(s, a, M, VMAR_PROT_READ));
    CHECK(arch_leaf_level(s, a) == 0 && arch_leaf_level(s, a + M) == 0,
          "protect did not split the leaf", arch_leaf_level(s, a));
    LOAD(a + 3 * P, &v);
    CHECK(v == huge_word(3), "split: page 3", v);
    LOAD(a + 300 * P, &v);
    CHECK(v == huge_word(300), "split: page 300", v);
    rc = arch_user_op(UOP_STORE64, a + 3 * P, 0, NULL);
    CHECK(rc == VMAR_EACCES, "write to read-only half: not EACCES", rc);
    STORE(a + 300 * P + 8, 0x77);
    v = *(volatile uint64_t *)arch_phys_to_virt(arch_huge_pa + 300 * P + 8);
    CHECK(v == 0x77, "store did not reach the frame", v);

    CALL(vmar_unmap(s, a + M, M));
    rc = arch_user_op(UOP_LOAD64, a + 300 * P, 0, NULL);
    CHECK(rc == VMAR_ENOENT, "read of unmapped half: not ENOENT", rc);
    LOAD(a + 255 * P, &v);
    CHECK(v == huge_word(255), "after unmap: page 255", v);
    return NULL;
}

/* fork: the child sees the parent's memory; each side's first write
 * copies the page (copy-on-write) and the contents diverge. */
static const char *fork_body(struct vmar_space *s, struct vmar_space *c,
                             vmar_addr_t a)
{
    uint64_t v = 0;
    unsigned long f0;

    arch_switch(c);
    LOAD(a, &v);
    CHECK(v == 0xaaaa, "child does not see the parent's value", v);
    f0 = k_faults_resolved;
    STORE(a, 0xbbbb);
    CHECK(k_faults_resolved == f0 + 1, "child write did not fault (no COW)",
          k_faults_resolved - f0);
    LOAD(a + P, &v);
    CHECK(v == 0, "untouched page not zero in the child", v);
    arch_switch(s);
    LOAD(a, &v);
    CHECK(v == 0xaaaa, "parent sees the child's write", v);
    STORE(a, 0xcccc);
    arch_switch(c);
    LOAD(a, &v);
    CHECK(v == 0xbbbb, "child sees the parent's write", v);
    CHECK(vmar_check(c) == 0, "vmar_check(child)", 0);
    return NULL;
}

static const char *sc_fork_cow(struct vmar_space *s)
{
    struct vmar_space *c;
    vmar_addr_t a;
    const char *why;

    CALL(map_anon(s, 2 * P, 0, &a));
    STORE(a, 0xaaaa);
    CALL(arch_space_fork(s, &c));
    why = fork_body(s, c, a);
    arch_switch(s);
    arch_space_destroy(c);
    return why;
}

/* mremap: growing a mapping that cannot grow in place moves it, with its
 * contents; the old address faults. */
static const char *sc_remap_move(struct vmar_space *s)
{
    vmar_addr_t a, n = 0, b = 0;
    uint64_t v = 0;
    int rc;

    /* Three pages, the third replaced by a read-only neighbour (it cannot
     * merge) that blocks growth in place. Placement is top-down, so the
     * page after a fresh mapping may be outside the user range: the
     * blocker goes inside the range that was just reserved. */
    CALL(map_anon(s, 3 * P, 0, &a));
    STORE(a, 0x1001);
    STORE(a + P, 0x1002);
    rc = vmar_map(s,
                  &(struct vmar_map_opts){
                      .size = P,
                      .addr = a + 2 * P,
                      .place = VMAR_PLACE_FIXED,
                      .prot = VMAR_PROT_READ,
                  },
                  &b);
    CHECK(rc == 0 && b == a + 2 * P, "blocker", rc);
    CALL(vmar_remap(s, a, 2 * P, 4 * P, VMAR_REMAP_MAYMOVE, 0, &n));
    CHECK(n != a, "did not move", n);
    LOAD(n, &v);
    CHECK(v == 0x1001, "moved page 0", v);
    LOAD(n + P, &v);
    CHECK(v == 0x1002, "moved page 1", v);
    LOAD(n + 3 * P, &v);
    CHECK(v == 0, "grown page not zero", v);
    rc = arch_user_op(UOP_LOAD64, a, 0, NULL);
    CHECK(rc == VMAR_ENOENT, "old address: not ENOENT", rc);
    LOAD(b, &v);
    CHECK(v == 0, "blocker page changed", v);
    rc = arch_user_op(UOP_STORE64, b, 1, NULL);
    CHECK(rc == VMAR_EACCES, "blocker writable", rc);
    return NULL;
}

/* Guard markers: a user access to a guard page takes a real page fault
 * (the hardware walk finds the non-present marker entry), which
 * vmar_fault reports as VMAR_EFAULT (SIGSEGV); the pages around it work,
 * DONTNEED keeps the marker and GUARD_REMOVE gives a zero page back. */
static const char *sc_guard(struct vmar_space *s)
{
    vmar_addr_t a;
    uint64_t v = 1;
    unsigned long f0;
    int rc;

    CALL(map_anon(s, 4 * P, 0, &a));
    STORE(a, 0x6a);
    STORE(a + P, 0x6b);
    CALL(vmar_advise(s, a + P, 2 * P, VMAR_ADVISE_GUARD_INSTALL));
    CHECK(arch_leaf_level(s, a + P) == -1, "leaf under a marker", a + P);
    rc = arch_user_op(UOP_LOAD64, a + P, 0, NULL);
    CHECK(rc == VMAR_EFAULT, "load of a guard page: not EFAULT", rc);
    rc = arch_user_op(UOP_STORE64, a + 2 * P, 1, NULL);
    CHECK(rc == VMAR_EFAULT, "store to a guard page: not EFAULT", rc);
    LOAD(a, &v);
    CHECK(v == 0x6a, "page before the guard", v);
    STORE(a + 3 * P, 0x6c);
    CALL(vmar_advise(s, a, 4 * P, VMAR_ADVISE_DONTNEED));
    rc = arch_user_op(UOP_LOAD64, a + P, 0, NULL);
    CHECK(rc == VMAR_EFAULT, "marker lost to DONTNEED", rc);
    CALL(vmar_advise(s, a, 4 * P, VMAR_ADVISE_GUARD_REMOVE));
    f0 = k_faults_resolved;
    LOAD(a + P, &v);
    CHECK(v == 0, "page after GUARD_REMOVE not zero", v);
    CHECK(k_faults_resolved == f0 + 1, "removed marker: not one fault",
          k_faults_resolved - f0);
    return NULL;
}

/* ---- runner ------------------------------------------------------------ */

/* A space with the user program at UCODE_VA, current in the MMU. The code
 * page is written through vmar_write (copy_to_user) while writable, then
 * made read+exec. */
const char *space_new(struct vmar_space **out)
{
    struct vmar_space *s;
    size_t len = (size_t)(user_blob_end - user_blob);

    CALL(arch_space_create(&s));
    *out = s;
    CALL(vmar_map(s,
                  &(struct vmar_map_opts){
                      .size = P,
                      .addr = UCODE_VA,
                      .place = VMAR_PLACE_FIXED_NOREPLACE,
                      .prot = VMAR_PROT_READ | VMAR_PROT_WRITE,
                  },
                  NULL));
    CALL(vmar_write(s, UCODE_VA, user_blob, len, NULL));
    CALL(vmar_protect(s, UCODE_VA, P, VMAR_PROT_READ | VMAR_PROT_EXEC));
    arch_switch(s);
    return NULL;
}

static unsigned failures;

static void run(const char *name, const char *(*fn)(struct vmar_space *))
{
    size_t frames = k_frames_free();
    struct vmar_space *s = NULL;
    const char *why;

    detail = 0;
    why = space_new(&s);
    if (why == NULL)
        why = fn(s);
    if (why == NULL && vmar_check(s) != 0)
        why = "vmar_check";
    if (s != NULL)
        arch_space_destroy(s);
    if (why == NULL && k_frames_free() != frames) {
        why = "frames leaked";
        detail = frames - k_frames_free();
    }
    k_report(name, why, detail);
}

void k_report(const char *name, const char *why, uint64_t value)
{
    if (why == NULL) {
        k_puts("PASS ");
        k_puts(name);
        arch_putc('\n');
        return;
    }
    failures++;
    k_puts("FAIL ");
    k_puts(name);
    arch_putc(' ');
    k_puts(why);
    arch_putc(' ');
    if ((int64_t)value < 0) { /* an error code */
        arch_putc('-');
        value = -value;
    }
    k_puthex(value);
    arch_putc('\n');
}

_Noreturn void k_run_scenarios(void)
{
    k_puts("libvmar ");
    k_puts(vmar_version());
    k_puts(" on ");
    k_puts(arch_mmu()->name);
    arch_putc('\n');
    run("demand_zero", sc_demand_zero);
    run("protect_ro", sc_protect_ro);
    run("unmap", sc_unmap);
    run("device", sc_device);
    run("huge_split", sc_huge);
    run("fork_cow", sc_fork_cow);
    run("remap_move", sc_remap_move);
    run("guard", sc_guard);
    k_smp_scenarios();
    k_stream_scenarios();
    if (failures == 0) {
        k_puts("ALL PASS\n");
        arch_exit(true);
    }
    k_puts("FAILED ");
    k_puthex(failures);
    arch_putc('\n');
    arch_exit(false);
}
