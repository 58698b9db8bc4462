/* SPDX-License-Identifier: MIT */
/*
 * A minimal freestanding "kernel" that links libvmar the ways
 * docs/PORTING.md section 1 describes (tests/packaging/kernel-route.sh):
 * an identity-mapped static frame pool, a bump heap, the four byte
 * functions the library may call, and one space on the architecture's
 * hardware backend. It is linked with -nostdlib -static, never run: the
 * QEMU kernels (tests/qemu/) run the library. Linking it proves that the
 * archives, the headers and the flags of each route fit together and that
 * nothing but memcpy, memset, memmove and memcmp is left for the kernel.
 */
#include <stddef.h>
#include <stdint.h>
#include <vmar/vmar.h>
#if defined(__x86_64__)
#include <vmar/x86_64.h>
#define KMMU vmar_mmu_x86_64
#elif defined(__riscv) && __riscv_xlen == 64
#include <vmar/riscv64.h>
#define KMMU vmar_mmu_riscv64_sv48
#else
#error "kmain.c: x86-64 or riscv64 only"
#endif

#define KPAGE   4096u
#define KFRAMES 64u

static unsigned char pool[KFRAMES][KPAGE] __attribute__((aligned(4096)));
static unsigned char used[KFRAMES];
static size_t refs[KFRAMES];
static unsigned char heap[64 * 1024] __attribute__((aligned(64)));
static size_t heap_top;

void *memcpy(void *d, const void *s, size_t n)
{
    unsigned char *dp = d;
    const unsigned char *sp = s;
    while (n--)
        *dp++ = *sp++;
    return d;
}

void *memmove(void *d, const void *s, size_t n)
{
    unsigned char *dp = d;
    const unsigned char *sp = s;
    if (dp < sp) {
        while (n--)
            *dp++ = *sp++;
    } else {
        while (n--)
            dp[n] = sp[n];
    }
    return d;
}

void *memset(void *d, int c, size_t n)
{
    unsigned char *dp = d;
    while (n--)
        *dp++ = (unsigned char)c;
    return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *ap = a, *bp = b;
    for (; n; n--, ap++, bp++)
        if (*ap != *bp)
            return *ap < *bp ? -1 : 1;
    return 0;
}

static void *k_alloc(void *ctx, size_t size, size_t align)
{
    (void)ctx;
    size_t at = (heap_top + align - 1) & ~(align - 1);
    if (at + size > sizeof(heap))
        return NULL;
    heap_top = at + size;
    return heap + at;
}

static void k_free(void *ctx, void *ptr, size_t size)
{
    (void)ctx, (void)ptr, (void)size; /* a bump heap never frees */
}

static int k_frame_alloc(void *ctx, unsigned flags, vmar_paddr_t *pa)
{
    (void)ctx;
    for (unsigned i = 0; i < KFRAMES; i++) {
        if (!used[i]) {
            used[i] = 1;
            refs[i] = 0;
            if (flags & VMAR_FRAME_ZERO)
                memset(pool[i], 0, KPAGE);
            *pa = (vmar_paddr_t)(uintptr_t)pool[i]; /* identity map */
            return 0;
        }
    }
    return VMAR_ENOMEM;
}

static unsigned frame_index(vmar_paddr_t pa)
{
    return (unsigned)(((uintptr_t)pa - (uintptr_t)pool) / KPAGE);
}

static void k_frame_free(void *ctx, vmar_paddr_t pa)
{
    (void)ctx;
    used[frame_index(pa)] = 0;
}

static void *k_phys_to_virt(void *ctx, vmar_paddr_t pa)
{
    (void)ctx;
    return (void *)(uintptr_t)pa;
}

static size_t *k_frame_refcount(void *ctx, vmar_paddr_t pa)
{
    (void)ctx;
    return &refs[frame_index(pa)];
}

static const struct vmar_env kenv = {
    .alloc = k_alloc,
    .free = k_free,
    .frame_alloc = k_frame_alloc,
    .frame_free = k_frame_free,
    .phys_to_virt = k_phys_to_virt,
    .frame_refcount = k_frame_refcount,
};

int kmain(void);
int kmain(void)
{
    struct vmar_space *as;
    vmar_addr_t va;
    int rc = vmar_space_create(
        &(struct vmar_space_opts){
            .env = &kenv,
            .mmu = &KMMU,
        },
        &as);
    if (rc != 0)
        return rc;
    rc = vmar_map(as,
                  &(struct vmar_map_opts){
                      .size = 4 * KPAGE,
                      .prot = VMAR_PROT_READ | VMAR_PROT_WRITE,
                      .flags = VMAR_MAP_POPULATE,
                  },
                  &va);
    if (rc == 0)
        rc = vmar_check(as);
    vmar_space_destroy(as);
    return rc;
}

/* The entry point of the -nostdlib link; kmain is the "kernel". */
void _start(void);
void _start(void)
{
    (void)kmain();
    for (;;)
        ;
}
