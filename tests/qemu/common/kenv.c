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

struct vmar_space *k_current;
unsigned long k_faults_resolved;
unsigned long k_tlb_flushes;
unsigned k_fault_streak;

int k_user_fault(vmar_addr_t addr, unsigned access)
{
    static vmar_addr_t last;
    int rc = vmar_fault(k_current, addr, access, VMAR_FAULT_USER);

    if (rc != 0)
        return rc;
    k_faults_resolved++;
    if (k_fault_streak == 0 || addr >> VMAR_PAGE_SHIFT != last) {
        last = addr >> VMAR_PAGE_SHIFT;
        k_fault_streak = 1;
        return 0;
    }
    return ++k_fault_streak > K_FAULT_RETRIES ? K_EFAULT_LOOP : 0;
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
    k_puts("PANIC ");
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
    if (n <= HEAP_CLASS && heap_free[n] != NULL) {
        p = heap_free[n];
        heap_free[n] = *(void **)p;
        return p;
    }
    if (n * HEAP_GRAIN > HEAP_SIZE - heap_used)
        return NULL; /* libvmar turns this into VMAR_ENOMEM */
    p = heap + heap_used;
    heap_used += n * HEAP_GRAIN;
    return p;
}

static void k_free(void *ctx, void *ptr, size_t size)
{
    size_t n = (size + HEAP_GRAIN - 1) / HEAP_GRAIN;

    (void)ctx;
    if (ptr == NULL || n > HEAP_CLASS)
        return; /* large blocks are not reused: the scenarios have none */
    *(void **)ptr = heap_free[n];
    heap_free[n] = ptr;
}

static int k_frame_alloc(void *ctx, unsigned flags, vmar_paddr_t *pa)
{
    vmar_paddr_t f;

    (void)ctx;
    if (free_head != 0) {
        f = free_head;
        free_head = *(vmar_paddr_t *)arch_phys_to_virt(f);
    } else if (pool_bump < pool_hi) {
        f = pool_bump;
        pool_bump += PAGE;
    } else {
        return VMAR_ENOMEM;
    }
    nfree--;
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
    *(vmar_paddr_t *)arch_phys_to_virt(pa) = free_head;
    free_head = pa;
    nfree++;
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
    k_tlb_flushes++;
    arch_tlb_flush(root, va, len);
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

/* No lock: one CPU, no preemption, so the embedder "serialises" calls by
 * construction (docs/PORTING.md section 5). tlb_flush is the hook an SMP
 * kernel would use for shootdowns; here it only flushes the local TLB. */
const struct vmar_env k_env = {
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
    return nfree;
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
