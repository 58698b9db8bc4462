/* SPDX-License-Identifier: MIT */
/*
 * The test kernels' side of struct vmar_env (docs/PORTING.md section 2):
 * a frame pool, a metadata heap, frame reference counts, a console and
 * the four byte operations the compiler may call.
 *
 * Frames: one contiguous physical range. Free frames form a stack linked
 * through their first eight bytes (reached with arch_phys_to_virt); frames
 * never handed out yet are taken from a bump pointer, so start-up costs
 * nothing. k_frames_free() lets scenarios prove that destroying a space
 * gave every frame back.
 *
 * Metadata: a static arena. Requests are rounded up to 64 bytes (which
 * also meets every alignment libvmar asks for, at most 64) and freed
 * blocks go to one free list per size class, so the steady state of the
 * scenarios allocates nothing new.
 *
 * Reference counts: one size_t per pool frame, as env.h asks of
 * frame_refcount (fork and copy-on-write need them).
 *
 * Every CPU calls in at once (faults allocate frames outside libvmar's
 * locks), so the pool and the heap sit behind one spinlock, and each
 * space gets a spinning reader-writer lock (env->lock: libvmar locks, and
 * its faults run beside one another in its fault gate). No IPI handler
 * takes a lock, so spinning with interrupts on cannot deadlock with a
 * shootdown.
 */
#include "kernel.h"

#define PAGE     ((vmar_paddr_t)VMAR_PAGE_SIZE)
#define MAX_POOL 16384u /* frames: 64 MiB */

static vmar_paddr_t pool_lo, pool_hi, pool_bump, free_head;
static size_t nfree;
static size_t refcounts[MAX_POOL];

#define HEAP_SIZE  (512u * 1024u)
#define HEAP_GRAIN 64u
#define HEAP_CLASS 64u /* free lists for blocks up to 64 * 64 bytes */
static _Alignas(64) unsigned char heap[HEAP_SIZE];
static size_t heap_used;
static void *heap_free[HEAP_CLASS + 1];

unsigned long k_faults_resolved;
unsigned long k_tlb_flushes;
static int pool_lock;

static void spin_lock(int *l)
{
    while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE) != 0)
        while (__atomic_load_n(l, __ATOMIC_RELAXED) != 0)
            arch_relax();
}

static void spin_unlock(int *l)
{
    __atomic_store_n(l, 0, __ATOMIC_RELEASE);
}

int k_user_fault(vmar_addr_t addr, unsigned access)
{
    struct k_cpu *cpu = arch_this_cpu();
    int rc = vmar_fault(cpu->current, addr, access, VMAR_FAULT_USER);

    if (rc != 0)
        return rc;
    __atomic_fetch_add(&k_faults_resolved, 1, __ATOMIC_RELAXED);
    if (cpu->fault_streak == 0 || addr >> VMAR_PAGE_SHIFT != cpu->fault_last) {
        cpu->fault_last = addr >> VMAR_PAGE_SHIFT;
        cpu->fault_streak = 1;
        return 0;
    }
    return ++cpu->fault_streak > K_FAULT_RETRIES ? K_EFAULT_LOOP : 0;
}

/* ---- console ------------------------------------------------------------ */

void k_puts(const char *s)
{
    while (*s)
        arch_putc(*s++);
}

void k_puthex(uint64_t v)
{
    k_puts("0x");
    for (int shift = 60; shift >= 0; shift -= 4)
        arch_putc("0123456789abcdef"[(v >> shift) & 0xf]);
}

_Noreturn void k_panic(const char *msg)
{
    static int panic_lock;

    spin_lock(&panic_lock); /* one CPU's message, and its exit */
    k_puts("PANIC cpu ");
    k_puthex(arch_this_cpu()->id);
    arch_putc(' ');
    k_puts(msg);
    k_puts("\nFAIL panic\n");
    arch_exit(false);
}

/* ---- env callbacks ---------------------------------------------------- */

static void *k_alloc(void *ctx, size_t size, size_t align)
{
    size_t n = (size + HEAP_GRAIN - 1) / HEAP_GRAIN;
    void *p;

    (void)ctx;
    if (align > HEAP_GRAIN || n == 0)
        return NULL;
    spin_lock(&pool_lock);
    if (n <= HEAP_CLASS && heap_free[n] != NULL) {
        p = heap_free[n];
        heap_free[n] = *(void **)p;
    } else if (n * HEAP_GRAIN > HEAP_SIZE - heap_used) {
        p = NULL; /* libvmar turns this into VMAR_ENOMEM */
    } else {
        p = heap + heap_used;
        heap_used += n * HEAP_GRAIN;
    }
    spin_unlock(&pool_lock);
    return p;
}

static void k_free(void *ctx, void *ptr, size_t size)
{
    size_t n = (size + HEAP_GRAIN - 1) / HEAP_GRAIN;

    (void)ctx;
    if (ptr == NULL || n > HEAP_CLASS)
        return; /* large blocks are not reused: the scenarios have none */
    spin_lock(&pool_lock);
    *(void **)ptr = heap_free[n];
    heap_free[n] = ptr;
    spin_unlock(&pool_lock);
}

static int k_frame_alloc(void *ctx, unsigned flags, vmar_paddr_t *pa)
{
    vmar_paddr_t f;

    (void)ctx;
    spin_lock(&pool_lock);
    if (free_head != 0) {
        f = free_head;
        free_head = *(vmar_paddr_t *)arch_phys_to_virt(f);
    } else if (pool_bump < pool_hi) {
        f = pool_bump;
        pool_bump += PAGE;
    } else {
        spin_unlock(&pool_lock);
        return VMAR_ENOMEM;
    }
    nfree--;
    spin_unlock(&pool_lock);
    if (flags & VMAR_FRAME_ZERO)
        memset(arch_phys_to_virt(f), 0, VMAR_PAGE_SIZE);
    *pa = f;
    return 0;
}

static void k_frame_free(void *ctx, vmar_paddr_t pa)
{
    (void)ctx;
    if (pa < pool_lo || pa >= pool_bump || (pa & (PAGE - 1)) != 0)
        k_panic("frame_free of a frame outside the pool");
    /* Poison, so that a use after free shows up as wrong contents. */
    memset(arch_phys_to_virt(pa), 0xa5, VMAR_PAGE_SIZE);
    spin_lock(&pool_lock);
    *(vmar_paddr_t *)arch_phys_to_virt(pa) = free_head;
    free_head = pa;
    nfree++;
    spin_unlock(&pool_lock);
}

static size_t *k_frame_refcount(void *ctx, vmar_paddr_t pa)
{
    (void)ctx;
    if (pa < pool_lo || pa >= pool_hi)
        k_panic("frame_refcount of a frame outside the pool");
    return &refcounts[(pa - pool_lo) / PAGE];
}

static void *k_phys_to_virt(void *ctx, vmar_paddr_t pa)
{
    (void)ctx;
    return arch_phys_to_virt(pa);
}

static void k_tlb_flush(void *ctx, uint64_t root, vmar_addr_t va,
                        vmar_size_t len)
{
    (void)ctx;
    __atomic_fetch_add(&k_tlb_flushes, 1, __ATOMIC_RELAXED);
    arch_tlb_flush(root, va, len);
}

/* env->lock: readers count up, the writer swaps 0 for -1. Readers do not
 * hold off a waiting writer (no fairness is needed here). */
static void k_lock(void *ctx, void *lock, enum vmar_lock_mode mode)
{
    int *st = &((struct k_rwlock *)lock)->state;

    (void)ctx;
    for (;;) {
        int v = __atomic_load_n(st, __ATOMIC_RELAXED);

        if (mode == VMAR_LOCK_EXCLUSIVE) {
            if (v == 0 &&
                __atomic_compare_exchange_n(st, &v, -1, false, __ATOMIC_ACQUIRE,
                                            __ATOMIC_RELAXED))
                return;
        } else if (v >= 0 && __atomic_compare_exchange_n(st, &v, v + 1, false,
                                                         __ATOMIC_ACQUIRE,
                                                         __ATOMIC_RELAXED)) {
            return;
        }
        arch_relax();
    }
}

static void k_unlock(void *ctx, void *lock, enum vmar_lock_mode mode)
{
    int *st = &((struct k_rwlock *)lock)->state;

    (void)ctx;
    if (mode == VMAR_LOCK_EXCLUSIVE)
        __atomic_store_n(st, 0, __ATOMIC_RELEASE);
    else
        __atomic_fetch_sub(st, 1, __ATOMIC_RELEASE);
}

static void k_log(void *ctx, enum vmar_log_level level, const char *msg)
{
    (void)ctx;
    (void)level;
    k_puts("vmar: ");
    k_puts(msg);
    arch_putc('\n');
}

static void k_env_panic(void *ctx, const char *msg)
{
    (void)ctx;
    k_panic(msg);
}

/* libvmar locks (docs/PORTING.md section 5) with k_lock; tlb_flush is the
 * shootdown (section 4, "SMP"). */
const struct vmar_env k_env = {
    .lock = k_lock,
    .unlock = k_unlock,
    .alloc = k_alloc,
    .free = k_free,
    .frame_alloc = k_frame_alloc,
    .frame_free = k_frame_free,
    .phys_to_virt = k_phys_to_virt,
    .log = k_log,
    .panic = k_env_panic,
    .tlb_flush = k_tlb_flush,
    .frame_refcount = k_frame_refcount,
};

void k_env_init(vmar_paddr_t lo, vmar_paddr_t hi)
{
    if ((lo | hi) & (PAGE - 1) || hi <= lo || (hi - lo) / PAGE > MAX_POOL)
        k_panic("bad frame pool");
    pool_lo = pool_bump = lo;
    pool_hi = hi;
    nfree = (size_t)((hi - lo) / PAGE);
}

size_t k_frames_free(void)
{
    return __atomic_load_n(&nfree, __ATOMIC_RELAXED);
}

uint64_t k_cmdline_num(const char *key, uint64_t def)
{
    const char *t;
    size_t len, klen = 0;

    arch_cmdline(&t, &len);
    while (key[klen] != 0)
        klen++;
    for (size_t i = 0; i + klen < len; i++) {
        uint64_t v = 0;
        size_t j = i + klen;

        if (memcmp(t + i, key, klen) != 0)
            continue;
        if (t[j] < '0' || t[j] > '9')
            return def;
        for (; j < len && t[j] >= '0' && t[j] <= '9'; j++)
            v = v * 10 + (uint64_t)(t[j] - '0');
        return v;
    }
    return def;
}

/* ---- space slots -------------------------------------------------------- */

#define MAX_SLOTS 16
static struct k_slot slots[MAX_SLOTS];

struct k_slot *k_slot_new(void)
{
    struct k_slot *s = NULL;

    spin_lock(&pool_lock);
    for (unsigned i = 0; i < MAX_SLOTS && s == NULL; i++)
        if (!slots[i].used)
            s = &slots[i];
    if (s != NULL)
        *s = (struct k_slot){.used = true};
    spin_unlock(&pool_lock);
    if (s == NULL)
        k_panic("out of space slots");
    return s;
}

struct k_slot *k_slot_of(struct vmar_space *space)
{
    for (unsigned i = 0; i < MAX_SLOTS; i++)
        if (slots[i].used && slots[i].space == space)
            return &slots[i];
    k_panic("space without a slot");
}

int k_slot_commit(struct k_slot *slot, int rc, struct vmar_space **out)
{
    if (rc != 0)
        k_slot_free(slot);
    else
        slot->space = *out;
    return rc;
}

void k_slot_free(struct k_slot *slot)
{
    spin_lock(&pool_lock);
    slot->used = false;
    spin_unlock(&pool_lock);
}

uint16_t k_tag_new(uint16_t max)
{
    static uint16_t next;
    uint16_t t;

    spin_lock(&pool_lock);
    next = next >= max ? 1 : (uint16_t)(next + 1);
    t = next;
    spin_unlock(&pool_lock);
    return t;
}

/* ---- byte operations ---------------------------------------------------- */

void *memset(void *d, int c, size_t n)
{
    unsigned char *p = d;

    while (n--)
        *p++ = (unsigned char)c;
    return d;
}

void *memcpy(void *restrict d, const void *restrict s, size_t n)
{
    unsigned char *p = d;
    const unsigned char *q = s;

    while (n--)
        *p++ = *q++;
    return d;
}

void *memmove(void *d, const void *s, size_t n)
{
    unsigned char *p = d;
    const unsigned char *q = s;

    if (p < q) {
        while (n--)
            *p++ = *q++;
    } else {
        while (n--)
            p[n] = q[n];
    }
    return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *p = a, *q = b;

    for (; n--; p++, q++)
        if (*p != *q)
            return *p - *q;
    return 0;
}
