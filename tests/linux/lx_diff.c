/* SPDX-License-Identifier: MIT */
/*
 * The Linux layer (include/vmar/linux.h) against the host kernel.
 *
 * Every operation runs twice: through the layer on a sim space whose user
 * range is the window [WIN, WIN + NPG pages), and as the real system call
 * in a child process, inside the same window at the same address. After
 * each operation the two are compared: the return value (address, 0 or
 * -errno), then the window page by page (mapped, permissions, private or
 * shared, mincore) and the mapping boundaries, and every few operations
 * the contents of every resident readable page.
 *
 * The child is this program run again (fork, then exec of
 * /proc/self/exe with "oracle-child RFD WFD"), not a plain fork: a fresh
 * address space holds only the binary, its libraries and a small heap,
 * and under valgrind (which does not follow exec by default) or a
 * sanitizer's runtime the oracle runs natively while the layer's side is
 * checked. The child: the window is checked free; every other free stretch of
 * its address space below TASK_SIZE is filled with a PROT_NONE MADV_DONTDUMP
 * reservation (never merged with a window mapping: its flags differ), so
 * that a placement without an address can only land in the window, as in
 * the layer's space; its heap is moved into the window with PR_SET_MM;
 * CAP_SYS_RAWIO is dropped so that mmap_min_addr applies as to an
 * ordinary process. Before the reservations it maps the whole test file
 * once outside the window, a probe whose mincore() is the file's page
 * cache, sent with every snapshot (docs/LINUX.md "Notes"). After set-up
 * it allocates nothing (no malloc, no stdio): any allocation could itself
 * land in the window.
 *
 * Placements without an address are compared by contract (both succeed
 * or both fail; the address is page aligned, inside the window and was
 * free), then the layer's mapping is moved to the kernel's address so
 * that the sequence goes on from the same state. Deliberate differences
 * (docs/LINUX.md) are named where they are tolerated; anything else fails.
 *
 *   lx_diff directed                       the directed table
 *   lx_diff random [--seed S] [--ops N]    random sequences (seed printed)
 *
 * Exit 0: no undocumented difference; 1: a difference; 77: not Linux.
 */
#if !defined(__linux__) || !defined(__x86_64__)
#include <stdio.h>
int main(void)
{
    printf("SKIP: lx_diff needs an x86-64 Linux host (the kernel is the "
           "oracle); this is not a pass\n");
    return 77;
}
#else

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/prctl.h>

#include <vmar/fault.h>
#include <vmar/linux.h>
#include <vmar/sim.h>
#include <vmar/vmar.h>

/* ---- the header's values are Linux's -------------------------------- */

#ifndef MAP_DROPPABLE
#define MAP_DROPPABLE 0x08 /* glibc too old to name it */
#endif
#ifndef SYS_mseal
#define SYS_mseal 462 /* x86-64 and asm-generic alike; glibc too old */
#endif
#ifndef PROT_SEM
#define PROT_SEM 0x8
#endif

#define SAME(a, b) _Static_assert((a) == (b), #a " != " #b)
SAME(VMAR_LINUX_PROT_READ, PROT_READ);
SAME(VMAR_LINUX_PROT_WRITE, PROT_WRITE);
SAME(VMAR_LINUX_PROT_EXEC, PROT_EXEC);
SAME(VMAR_LINUX_PROT_NONE, PROT_NONE);
SAME(VMAR_LINUX_PROT_GROWSDOWN, PROT_GROWSDOWN);
SAME(VMAR_LINUX_PROT_GROWSUP, PROT_GROWSUP);
SAME(VMAR_LINUX_MAP_SHARED, MAP_SHARED);
SAME(VMAR_LINUX_MAP_PRIVATE, MAP_PRIVATE);
SAME(VMAR_LINUX_MAP_SHARED_VALIDATE, MAP_SHARED_VALIDATE);
SAME(VMAR_LINUX_MAP_TYPE, MAP_TYPE);
SAME(VMAR_LINUX_MAP_FIXED, MAP_FIXED);
SAME(VMAR_LINUX_MAP_ANONYMOUS, MAP_ANONYMOUS);
SAME(VMAR_LINUX_MAP_32BIT, MAP_32BIT);
SAME(VMAR_LINUX_MAP_GROWSDOWN, MAP_GROWSDOWN);
SAME(VMAR_LINUX_MAP_DENYWRITE, MAP_DENYWRITE);
SAME(VMAR_LINUX_MAP_EXECUTABLE, MAP_EXECUTABLE);
SAME(VMAR_LINUX_MAP_LOCKED, MAP_LOCKED);
SAME(VMAR_LINUX_MAP_NORESERVE, MAP_NORESERVE);
SAME(VMAR_LINUX_MAP_POPULATE, MAP_POPULATE);
SAME(VMAR_LINUX_MAP_NONBLOCK, MAP_NONBLOCK);
SAME(VMAR_LINUX_MAP_STACK, MAP_STACK);
SAME(VMAR_LINUX_MAP_HUGETLB, MAP_HUGETLB);
SAME(VMAR_LINUX_MAP_SYNC, MAP_SYNC);
SAME(VMAR_LINUX_MAP_FIXED_NOREPLACE, MAP_FIXED_NOREPLACE);
SAME(VMAR_LINUX_MREMAP_MAYMOVE, MREMAP_MAYMOVE);
SAME(VMAR_LINUX_MREMAP_FIXED, MREMAP_FIXED);
SAME(VMAR_LINUX_MREMAP_DONTUNMAP, MREMAP_DONTUNMAP);
SAME(VMAR_LINUX_MADV_NORMAL, MADV_NORMAL);
SAME(VMAR_LINUX_MADV_RANDOM, MADV_RANDOM);
SAME(VMAR_LINUX_MADV_SEQUENTIAL, MADV_SEQUENTIAL);
SAME(VMAR_LINUX_MADV_WILLNEED, MADV_WILLNEED);
SAME(VMAR_LINUX_MADV_DONTNEED, MADV_DONTNEED);
SAME(VMAR_LINUX_MADV_FREE, MADV_FREE);
SAME(VMAR_LINUX_MADV_REMOVE, MADV_REMOVE);
SAME(VMAR_LINUX_MADV_DONTFORK, MADV_DONTFORK);
SAME(VMAR_LINUX_MADV_DOFORK, MADV_DOFORK);
SAME(VMAR_LINUX_MADV_HUGEPAGE, MADV_HUGEPAGE);
SAME(VMAR_LINUX_MADV_NOHUGEPAGE, MADV_NOHUGEPAGE);
SAME(VMAR_LINUX_MADV_DONTDUMP, MADV_DONTDUMP);
SAME(VMAR_LINUX_MADV_DODUMP, MADV_DODUMP);
SAME(VMAR_LINUX_MADV_WIPEONFORK, MADV_WIPEONFORK);
SAME(VMAR_LINUX_MADV_KEEPONFORK, MADV_KEEPONFORK);
SAME(VMAR_LINUX_MADV_COLD, MADV_COLD);
SAME(VMAR_LINUX_MADV_PAGEOUT, MADV_PAGEOUT);
SAME(VMAR_LINUX_MADV_POPULATE_READ, MADV_POPULATE_READ);
SAME(VMAR_LINUX_MADV_POPULATE_WRITE, MADV_POPULATE_WRITE);
/* Linux 6.13 (uapi mman-common.h); older C libraries lack the names. */
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#define MADV_GUARD_REMOVE  103
#endif
SAME(VMAR_LINUX_MADV_GUARD_INSTALL, MADV_GUARD_INSTALL);
SAME(VMAR_LINUX_MADV_GUARD_REMOVE, MADV_GUARD_REMOVE);
SAME(VMAR_LINUX_EPERM, EPERM);
SAME(VMAR_LINUX_EBADF, EBADF);
SAME(VMAR_LINUX_EAGAIN, EAGAIN);
SAME(VMAR_LINUX_ENOMEM, ENOMEM);
SAME(VMAR_LINUX_EACCES, EACCES);
SAME(VMAR_LINUX_EFAULT, EFAULT);
SAME(VMAR_LINUX_EEXIST, EEXIST);
SAME(VMAR_LINUX_ENODEV, ENODEV);
SAME(VMAR_LINUX_EINVAL, EINVAL);
SAME(VMAR_LINUX_EOVERFLOW, EOVERFLOW);
SAME(VMAR_LINUX_EOPNOTSUPP, EOPNOTSUPP);

/* ---- the window ---------------------------------------------------------- */

#define PGSZ      ((uint64_t)4096)
#define NPG       512u /* window pages (2 MiB) */
/* Inside MAP_32BIT's window [1 GiB, 2 GiB), where nothing of the process
 * lies, sanitizers included: not just below 2 GiB, where ASan's low
 * shadow begins (0x7fff8000). */
#define WIN       ((uint64_t)0x60000000)
#define WEND      (WIN + NPG * PGSZ)
#define HEAP      (WIN + 320 * PGSZ) /* start_brk, inside the window */
#define FILEPG    64u                /* pages of the test file */
/* x86-64 with 4-level paging: TASK_SIZE of every process. */
#define TASK_SIZE ((uint64_t)0x7ffffffff000)

/* Symbolic addresses: window offsets and the edges of the user range,
 * translated for each side (the layer's user range is the window; the
 * child's is [mmap_min_addr, TASK_SIZE)). */
#define A_LO      (1ull << 62) /* + off: mmap_min_addr / user_lo */
#define A_HI      (2ull << 62) /* + off (two's complement): TASK_SIZE / user_hi */
#define A_ABS     (3ull << 62) /* literal absolute value in low bits */
#define M62       ((1ull << 62) - 1)
#define LO(d)     (A_LO | ((uint64_t)(int64_t)(d)&M62)) /* user_lo + d */
#define HI(d)     (A_HI | ((uint64_t)(int64_t)(d)&M62)) /* user_hi + d */
#define W(off)    (WIN + (uint64_t)(off))
#define P(n)      ((uint64_t)(n)*PGSZ)

static uint64_t g_min_addr; /* the host's mmap_min_addr, page aligned */

enum side {
    VMAR_SIDE,
    LINUX_SIDE
};

static uint64_t xlate(uint64_t a, enum side s)
{
    uint64_t off = a & ((1ull << 62) - 1);

    switch (a & (3ull << 62)) {
    case A_LO:
        return (s == VMAR_SIDE ? WIN : g_min_addr) +
               (uint64_t)((int64_t)(off << 2) >> 2);
    case A_HI:
        /* off is a small negative or positive distance from the top */
        return (s == VMAR_SIDE ? WEND : TASK_SIZE) +
               (uint64_t)((int64_t)(off << 2) >> 2);
    case A_ABS: /* sign-extended: A_ABS + (-P(1) & M62) is -P(1) */
        return (uint64_t)((int64_t)(off << 2) >> 2);
    default:
        return a;
    }
}

/* Translate the address arguments of a call (a[0]; mremap's new_addr
 * a[4]). Lengths, flags and offsets are passed unchanged, so that e.g.
 * -1 stays -1. */
static void xlate_args(int is_mremap, uint64_t a[6], enum side s)
{
    a[0] = xlate(a[0], s);
    if (is_mremap)
        a[4] = xlate(a[4], s);
}

/* ---- operations ------------------------------------------------------ */

enum op_kind {
    OP_MMAP,
    OP_MUNMAP,
    OP_MPROTECT,
    OP_MREMAP,
    OP_MADVISE,
    OP_MINCORE,
    OP_BRK,
    OP_TOUCH_R, /* read one byte; a[1] = nothing */
    OP_TOUCH_W, /* write a[1] (a byte) */
    OP_MSEAL,   /* mseal(a[0], a[1], a[2]) */
    /* Limits: a[0] is the headroom both sides get, in bytes of address
     * space (RLIMIT_AS / as_limit) or in mappings (vm.max_map_count /
     * max_map_count) above what each side uses now. */
    OP_LIMIT_AS,
    OP_LIMIT_MAPS,
    OP_MLOCK,      /* mlock2(a[0], a[1], a[2]) */
    OP_MUNLOCK,    /* munlock(a[0], a[1]) */
    OP_MLOCKALL,   /* mlockall(a[0]) */
    OP_MUNLOCKALL, /* munlockall() */
    /* RLIMIT_MEMLOCK = a[0] bytes without CAP_IPC_LOCK (the layer:
     * vmar_set_mlock_limit(a[0], true)); (uint64_t)-1: with it. */
    OP_LIMIT_LOCK,
    OP_SNAP, /* child only: report the window */
    OP_QUIT,
};

/* File slots: the same test file (memfd) opened read-write, read-only and
 * write-only; FD_BAD is a closed descriptor. */
enum {
    FD_RW = 0,
    FD_RO = 1,
    FD_WO = 2,
    FD_BAD = 3,
    NFD = 4
};

struct op {
    enum op_kind kind;
    uint64_t a[6];   /* the call's arguments (symbolic addresses) */
    const char *doc; /* directed rows: the documented difference, or NULL */
    /* Set by linux_call(): the child snapshots the window right after the
     * call, in the same round trip (0: no; 1: yes; 2: with contents). */
    unsigned snap;
};

/* What a touch returns: 0, or the signal as a negative code. */
#define T_SEGV    (-1000 - SIGSEGV)
#define T_BUS     (-1000 - SIGBUS)
#define T_OTHER   (-2000) /* the layer's access failed otherwise */

/* Page attributes in a snapshot. */
#define PA_R      0x01u
#define PA_W      0x02u
#define PA_X      0x04u
#define PA_SHARED 0x08u
#define PA_START  0x10u /* a mapping starts at this page */
#define PA_MAPPED 0x80u

struct page_snap {
    uint8_t attr;
    uint8_t resident;
    uint8_t hashed;
    uint8_t pad[5];
    uint64_t hash;
};

struct snap {
    struct page_snap pg[NPG];
    /* The kernel's side only (the layer's leaves 0): bit i set when page i
     * of the test file is in the kernel's page cache, from mincore() of
     * the child's probe mapping of the whole file. */
    uint64_t memfd;
    /* Bytes of locked mappings: VmLck of the child (whose only locks are
     * in the window: mlockall(MCL_CURRENT) is not run, see docs/LINUX.md),
     * vmar_stats::locked of the layer. */
    uint64_t locked;
};
_Static_assert(FILEPG <= 64, "struct snap::memfd has a bit per file page");

static uint64_t fnv(const volatile unsigned char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;

    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/* ---- the child (the oracle) -------------------------------------------- */

static int c_fd[NFD];
static sigjmp_buf c_jmp;
static volatile sig_atomic_t c_armed;
static char c_maps[16 << 20]; /* 65 530 mappings at the map limit */

static void c_handler(int sig)
{
    if (c_armed)
        siglongjmp(c_jmp, sig);
    _exit(90);
}

static int c_write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;

    while (n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int c_read_all(int fd, void *buf, size_t n)
{
    char *p = buf;

    while (n) {
        ssize_t r = read(fd, p, n);
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* A whole file into c_maps, without allocating. Returns its length. */
static size_t c_read_file(const char *path)
{
    int fd = open(path, O_RDONLY);
    size_t n = 0;
    ssize_t r;

    if (fd < 0)
        _exit(91);
    while ((r = read(fd, c_maps + n, sizeof(c_maps) - 1 - n)) > 0)
        n += (size_t)r;
    close(fd);
    c_maps[n] = 0;
    return n;
}

/* /proc/self/maps into c_maps. Returns its length. */
static size_t c_read_maps(void)
{
    return c_read_file("/proc/self/maps");
}

static uint64_t c_hex(const char **s)
{
    uint64_t v = 0;

    for (;;) {
        char c = **s;
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else
            return v;
        v = v * 16 + d;
        (*s)++;
    }
}

/* Call fn(start, end, perms) for every line of c_maps. */
static void c_each_map(void (*fn)(uint64_t, uint64_t, const char *, void *),
                       void *arg)
{
    const char *s = c_maps;

    while (*s) {
        uint64_t lo = c_hex(&s), hi;
        s++; /* '-' */
        hi = c_hex(&s);
        s++; /* ' ' */
        fn(lo, hi, s, arg);
        while (*s && *s != '\n')
            s++;
        if (*s)
            s++;
    }
}

struct c_fill {
    uint64_t prev_end;
    int bad;
};

static void c_fill_gap(uint64_t lo, uint64_t hi, struct c_fill *f)
{
    if (hi <= lo)
        return;
    void *p =
        mmap((void *)lo, hi - lo, PROT_NONE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE,
             -1, 0);
    if (p != (void *)lo || madvise(p, hi - lo, MADV_DONTDUMP) != 0)
        f->bad = 1;
}

static void c_fill_cb(uint64_t lo, uint64_t hi, const char *perms, void *arg)
{
    struct c_fill *f = arg;

    (void)perms;
    if (lo >= TASK_SIZE)
        return;
    if (lo > f->prev_end) {
        uint64_t a = f->prev_end, b = lo;
        /* leave the window free */
        if (a < WIN && b > WIN) {
            c_fill_gap(a, WIN, f);
            a = WEND;
        } else if (a >= WIN && a < WEND) {
            a = WEND;
        }
        if (b > a)
            c_fill_gap(a, b, f);
    } else if (hi > WIN && lo < WEND) {
        f->bad = 2; /* something is in the window */
    }
    if (hi > f->prev_end)
        f->prev_end = hi;
}

static void __attribute__((noinline)) c_prefault_stack(void)
{
    volatile char buf[512 * 1024];

    for (size_t i = 0; i < sizeof(buf); i += 4096)
        buf[i] = 0;
}

static int c_drop_rawio(void)
{
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];

    if (syscall(SYS_capget, &h, d))
        return -1;
    d[CAP_SYS_RAWIO / 32].effective &= ~(1u << (CAP_SYS_RAWIO % 32));
    return (int)syscall(SYS_capset, &h, d);
}

/* OP_LIMIT_LOCK: CAP_IPC_LOCK in the effective set (it stays permitted,
 * so it can come back) or out of it with RLIMIT_MEMLOCK = `limit`. */
static long c_limit_lock(uint64_t limit)
{
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    const unsigned bit = 1u << (CAP_IPC_LOCK % 32);
    struct rlimit rl;

    /* The hard limit stays (raising it needs CAP_SYS_RESOURCE): the
     * rows stay below the usual 8 MiB. */
    if (getrlimit(RLIMIT_MEMLOCK, &rl))
        return -EIO;
    rl.rlim_cur = (rlim_t)limit < rl.rlim_max ? (rlim_t)limit : rl.rlim_max;
    if (syscall(SYS_capget, &h, d))
        return -EIO;
    if (limit == (uint64_t)-1)
        d[CAP_IPC_LOCK / 32].effective |= bit;
    else
        d[CAP_IPC_LOCK / 32].effective &= ~bit;
    if (syscall(SYS_capset, &h, d))
        return -(long)errno;
    if (limit != (uint64_t)-1 && setrlimit(RLIMIT_MEMLOCK, &rl))
        return -(long)errno;
    return 0;
}

static long c_ret(long r)
{
    return r == -1 ? -(long)errno : r;
}

static int64_t c_touch(uint64_t addr, int write, uint8_t val)
{
    int sig;

    c_armed = 1;
    sig = sigsetjmp(c_jmp, 1);
    if (sig) {
        c_armed = 0;
        return -1000 - sig;
    }
    if (write)
        *(volatile uint8_t *)addr = val;
    else
        (void)*(volatile uint8_t *)addr;
    c_armed = 0;
    return 0;
}

struct c_snap_arg {
    struct snap *s;
};

static void c_snap_cb(uint64_t lo, uint64_t hi, const char *perms, void *arg)
{
    struct snap *s = ((struct c_snap_arg *)arg)->s;
    uint64_t a = lo < WIN ? WIN : lo, b = hi > WEND ? WEND : hi;

    if (a >= b)
        return;
    for (uint64_t va = a; va < b; va += PGSZ) {
        struct page_snap *p = &s->pg[(va - WIN) / PGSZ];
        p->attr = PA_MAPPED | (perms[0] == 'r' ? PA_R : 0) |
                  (perms[1] == 'w' ? PA_W : 0) | (perms[2] == 'x' ? PA_X : 0) |
                  (perms[3] == 's' ? PA_SHARED : 0);
        if (va == lo)
            p->attr |= PA_START;
    }
}

static struct snap c_s;
static unsigned char c_vec[NPG];
/* The probe: the whole test file mapped MAP_SHARED PROT_READ outside the
 * window at set-up and never touched, so that mincore() on it answers
 * from the file's page cache alone. */
static void *c_probe;
static unsigned char c_pvec[FILEPG];

static long c_field(const char *key);

static void c_snapshot(int content)
{
    struct c_snap_arg arg = {&c_s};

    memset(&c_s, 0, sizeof(c_s));
    c_read_maps();
    c_each_map(c_snap_cb, &arg);
    for (unsigned i = 0; i < NPG;) {
        unsigned j = i;
        if (!(c_s.pg[i].attr & PA_MAPPED)) {
            i++;
            continue;
        }
        while (j < NPG && c_s.pg[j].attr & PA_MAPPED)
            j++;
        if (mincore((void *)(WIN + i * PGSZ), (j - i) * PGSZ, c_vec + i))
            _exit(92);
        i = j;
    }
    if (mincore(c_probe, FILEPG * PGSZ, c_pvec))
        _exit(92);
    c_read_file("/proc/self/status");
    c_s.locked = (uint64_t)c_field("VmLck:") * 1024;
    for (unsigned i = 0; i < FILEPG; i++)
        c_s.memfd |= (uint64_t)(c_pvec[i] & 1) << i;
    for (unsigned i = 0; i < NPG; i++) {
        struct page_snap *p = &c_s.pg[i];
        if (!(p->attr & PA_MAPPED))
            continue;
        p->resident = c_vec[i] & 1;
        if (content && p->resident && p->attr & PA_R) {
            int sig;
            c_armed = 1;
            sig = sigsetjmp(c_jmp, 1);
            if (!sig) {
                p->hash =
                    fnv((const volatile unsigned char *)(WIN + i * PGSZ), PGSZ);
                p->hashed = 1;
            }
            c_armed = 0;
        }
    }
}

/* Move the heap into the window: PR_SET_MM_MAP, which needs no
 * CAP_SYS_RESOURCE, with every other field as /proc/self/stat has it. */
static int c_move_heap(void)
{
    char buf[4096], *p, *t, *save;
    uint64_t v[64];
    struct prctl_mm_map m;
    int n = 0;
    FILE *f = fopen("/proc/self/stat", "r");

    if (!f || !fgets(buf, sizeof(buf), f)) {
        if (f)
            fclose(f);
        return -1;
    }
    fclose(f);
    p = strrchr(buf, ')');
    if (!p)
        return -1;
    for (t = strtok_r(p + 2, " ", &save); t && n < 64;
         t = strtok_r(NULL, " ", &save))
        v[n++] = strtoull(t, NULL, 10);
    if (n < 49)
        return -1;
#define F(k)      v[(k)-3] /* proc(5) field k; v[0] is field 3 */
    memset(&m, 0, sizeof(m));
    m.start_code = F(26);
    m.end_code = F(27);
    m.start_stack = F(28);
    m.start_data = F(45);
    m.end_data = F(46);
    m.start_brk = HEAP;
    m.brk = HEAP;
    m.arg_start = F(48);
    m.arg_end = F(49);
    m.env_start = F(50);
    m.env_end = F(51);
    m.exe_fd = (uint32_t)-1;
#undef F
    if (prctl(PR_SET_MM, PR_SET_MM_MAP, &m, sizeof(m), 0))
        return -1;
    return syscall(SYS_brk, 0) == (long)HEAP ? 0 : -1;
}

/* The value after `key` in c_maps (decimal), or -1. */
static long c_field(const char *key)
{
    const char *s = strstr(c_maps, key);

    return s ? strtol(s + strlen(key), NULL, 10) : -1;
}

/* RLIMIT_AS = total_vm (VmSize) + `room` bytes; the hard limit stays, so
 * that the process can raise it again. (uint64_t)-1: the hard limit. */
static long c_limit_as(uint64_t room)
{
    struct rlimit rl;
    long kb;

    c_read_file("/proc/self/status");
    kb = c_field("VmSize:");
    if (kb < 0 || getrlimit(RLIMIT_AS, &rl))
        return -EIO;
    rl.rlim_cur = room == (uint64_t)-1 ? rl.rlim_max : (rlim_t)kb * 1024 + room;
    return setrlimit(RLIMIT_AS, &rl) ? -(long)errno : 0;
}

/* mm->map_count: the lines of /proc/self/maps but the gate area. */
static long c_map_count(void)
{
    size_t n = c_read_maps();
    long lines = 0;

    for (size_t i = 0; i < n; i++)
        lines += c_maps[i] == '\n';
    return strstr(c_maps, "[vsyscall]") ? lines - 1 : lines;
}

/* Leave `room` mappings below vm.max_map_count, a host-wide sysctl that
 * is not changed: the child adds mappings of its own instead, outside
 * the window, by splitting the PROT_NONE reservation that starts at
 * WEND. Every PROT_READ page inside it adds two; for an odd count its
 * first page adds one (the window's mappings never merge with it: the
 * reservation is VM_DONTDUMP). Once per child (the directed groups each
 * get a fresh one). */
static long c_limit_maps(uint64_t room)
{
    long max = -1, need, count = c_map_count();
    char buf[32] = {0};
    int fd = open("/proc/sys/vm/max_map_count", O_RDONLY);

    /* a small read: sysctl files refuse a read as large as c_maps */
    if (fd >= 0 && read(fd, buf, sizeof(buf) - 1) > 0)
        max = strtol(buf, NULL, 10);
    if (fd >= 0)
        close(fd);
    need = max - count - (long)room;
    if (max <= 0 || need < 0)
        return -EIO;
    if (need & 1) {
        if (mprotect((void *)WEND, PGSZ, PROT_READ))
            return -(long)errno;
        need--;
    }
    for (long i = 0; i < need / 2; i++)
        if (mprotect((void *)(WEND + (uint64_t)(3 * i + 2) * PGSZ), PGSZ,
                     PROT_READ))
            return -(long)errno;
    return c_map_count() == max - (long)room ? 0 : -EIO;
}

static int c_fd_of(uint64_t slot)
{
    return slot < NFD ? c_fd[slot] : -1;
}

static void child_main(int rfd, int wfd)
{
    struct c_fill f = {.prev_end = g_min_addr, .bad = 0};
    struct sigaction sa;
    struct op op;
    int64_t ret;
    int memfd;

    /* Everything that might allocate happens before the window is the
     * only free place. */
    c_prefault_stack();
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = c_handler;
    sa.sa_flags = SA_NODEFER;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    memfd = (int)syscall(SYS_memfd_create, "lxfile", 0);
    if (memfd < 0 || ftruncate(memfd, FILEPG * PGSZ))
        _exit(93);
    c_fd[FD_RW] = memfd;
    {
        char path[64];
        snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
        c_fd[FD_RO] = open(path, O_RDONLY);
        c_fd[FD_WO] = open(path, O_WRONLY);
    }
    c_fd[FD_BAD] = 1000;
    close(1000);
    if (c_fd[FD_RO] < 0 || c_fd[FD_WO] < 0)
        _exit(94);
    /* Before the reservations, so that it lands outside the window. */
    c_probe = mmap(NULL, FILEPG * PGSZ, PROT_READ, MAP_SHARED, memfd, 0);
    if (c_probe == MAP_FAILED ||
        ((uint64_t)c_probe < WEND && (uint64_t)c_probe + FILEPG * PGSZ > WIN))
        _exit(88);
    if (c_move_heap())
        _exit(95);
    if (c_drop_rawio())
        _exit(96);
    c_read_maps();
    c_each_map(c_fill_cb, &f);
    if (f.prev_end < TASK_SIZE && !f.bad) {
        uint64_t a = f.prev_end;
        if (a < WEND && a >= WIN)
            a = WEND;
        if (a < WIN) {
            c_fill_gap(a, WIN, &f);
            a = WEND;
        }
        c_fill_gap(a, TASK_SIZE, &f);
    }
    if (f.bad)
        _exit(97);
    /* The window must now be the only place for a mapping. */
    {
        void *p =
            mmap(NULL, PGSZ, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED || (uint64_t)p < WIN || (uint64_t)p >= WEND)
            _exit(98);
        munmap(p, PGSZ);
    }
    ret = 0;
    if (c_write_all(wfd, &ret, sizeof(ret)))
        _exit(99);

    while (c_read_all(rfd, &op, sizeof(op)) == 0) {
        uint64_t *a = op.a;
        xlate_args(op.kind == OP_MREMAP, a, LINUX_SIDE);
        switch (op.kind) {
        case OP_MMAP:
            ret = c_ret(syscall(SYS_mmap, a[0], a[1], a[2], a[3],
                                (a[3] & MAP_ANONYMOUS) ? -1 : c_fd_of(a[4]),
                                a[5]));
            break;
        case OP_MUNMAP:
            ret = c_ret(syscall(SYS_munmap, a[0], a[1]));
            break;
        case OP_MPROTECT:
            ret = c_ret(syscall(SYS_mprotect, a[0], a[1], a[2]));
            break;
        case OP_MREMAP:
            ret = c_ret(syscall(SYS_mremap, a[0], a[1], a[2], a[3], a[4]));
            break;
        case OP_MADVISE:
            ret = c_ret(syscall(SYS_madvise, a[0], a[1], a[2]));
            break;
        case OP_MINCORE:
            memset(c_vec, 0xee, sizeof(c_vec));
            ret = c_ret(syscall(SYS_mincore, a[0], a[1],
                                a[1] <= NPG * PGSZ ? c_vec : NULL));
            break;
        case OP_BRK:
            ret = syscall(SYS_brk, a[0]);
            break;
        case OP_TOUCH_R:
        case OP_TOUCH_W:
            ret = c_touch(a[0], op.kind == OP_TOUCH_W, (uint8_t)a[1]);
            break;
        case OP_MSEAL:
            ret = c_ret(syscall(SYS_mseal, a[0], a[1], a[2]));
            break;
        case OP_LIMIT_AS:
            ret = c_limit_as(a[0]);
            break;
        case OP_LIMIT_MAPS:
            ret = c_limit_maps(a[0]);
            break;
        case OP_MLOCK:
            ret = c_ret(syscall(SYS_mlock2, a[0], a[1], a[2]));
            break;
        case OP_MUNLOCK:
            ret = c_ret(syscall(SYS_munlock, a[0], a[1]));
            break;
        case OP_MLOCKALL:
            ret = c_ret(syscall(SYS_mlockall, a[0]));
            break;
        case OP_MUNLOCKALL:
            ret = c_ret(syscall(SYS_munlockall));
            break;
        case OP_LIMIT_LOCK:
            ret = c_limit_lock(a[0]);
            break;
        case OP_SNAP:
            c_snapshot((int)a[0]);
            if (c_write_all(wfd, &c_s, sizeof(c_s)))
                _exit(99);
            continue;
        case OP_QUIT:
        default:
            _exit(0);
        }
        if (c_write_all(wfd, &ret, sizeof(ret)))
            _exit(99);
        if (op.kind == OP_MINCORE && c_write_all(wfd, c_vec, sizeof(c_vec)))
            _exit(99);
        if (op.snap) {
            c_snapshot(op.snap == 2);
            if (c_write_all(wfd, &c_s, sizeof(c_s)))
                _exit(99);
        }
    }
    _exit(0);
}

/* ---- the parent: both sides ------------------------------------------------
 */

struct world {
    pid_t pid;
    int to, from;
    struct vmar_sim *sim;
    struct vmar_space *space;
    struct vmar_linux_mm mm;
    struct vmar_object *file;
    struct vmar_linux_file files[NFD];
    unsigned char vec[NPG];
    /* counters */
    unsigned long ops, diffs, doc_merge, resyncs, contract, doc_known;
    int64_t last_linux; /* the kernel's result of the last step */
    /* Pages of the test file the kernel has had in this world (bits as
     * struct snap::memfd), and those of them the last snapshot lacks. */
    uint64_t memfd_ever, memfd_lost;
    vmar_size_t as_limit; /* the layer's limits (OP_LIMIT_*); 0: none */
    size_t max_maps;
};

static int verbose;
static char g_self[4096]; /* this program, for the oracle child's exec */

static void world_close(struct world *w)
{
    if (w->pid > 0) {
        struct op q = {.kind = OP_QUIT};
        int st;
        if (write(w->to, &q, sizeof(q)) < 0) {
            /* the child is gone already */
        }
        close(w->to);
        close(w->from);
        waitpid(w->pid, &st, 0);
        w->pid = 0;
    }
    if (w->space)
        vmar_space_destroy(w->space);
    if (w->file)
        vmar_object_unref(w->file);
    if (w->sim)
        vmar_sim_destroy(w->sim);
    w->space = NULL;
    w->sim = NULL;
    w->file = NULL;
}

static int world_open(struct world *w)
{
    int p1[2], p2[2];
    int64_t ready;
    struct vmar_sim_opts so = {.nframes = 16384};
    struct vmar_space_opts o = {0};

    w->pid = 0;
    if (vmar_sim_create(&so, &w->sim))
        return -1;
    o.env = vmar_sim_env(w->sim);
    o.mmu = &vmar_mmu_sim;
    o.mmu_config = w->sim;
    o.user_lo = WIN;
    o.user_hi = WEND;
    /* Linux's stack_guard_gap (256 pages, unless the kernel command line
     * says otherwise) and the child's RLIMIT_STACK, which it inherits. */
    o.stack_guard = 256 * PGSZ;
    struct rlimit rl;
    if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        o.stack_limit = rl.rlim_cur;
    if (vmar_space_create(&o, &w->space))
        return -1;
    if (vmar_linux_mm_init(&w->mm, w->space, o.env, HEAP, 0))
        return -1;
    if (vmar_memfd_create(o.env, FILEPG * PGSZ, &w->file))
        return -1;
    w->files[FD_RW] = (struct vmar_linux_file){w->file, true, true, false};
    w->files[FD_RO] = (struct vmar_linux_file){w->file, true, false, false};
    w->files[FD_WO] = (struct vmar_linux_file){w->file, false, true, false};

    if (pipe(p1) || pipe(p2))
        return -1;
    fflush(stdout);
    fflush(stderr);
    w->pid = fork();
    if (w->pid < 0)
        return -1;
    if (w->pid == 0) {
        char rfd[16], wfd[16];
        close(p1[1]);
        close(p2[0]);
        snprintf(rfd, sizeof(rfd), "%d", p1[0]);
        snprintf(wfd, sizeof(wfd), "%d", p2[1]);
        execl(g_self, g_self, "oracle-child", rfd, wfd, (char *)NULL);
        _exit(89); /* no exec: the parent reports the set-up failure */
    }
    close(p1[0]);
    close(p2[1]);
    w->to = p1[1];
    w->from = p2[0];
    if (c_read_all(w->from, &ready, sizeof(ready))) {
        int st = 0;
        waitpid(w->pid, &st, 0);
        fprintf(stderr,
                "lx_diff: the oracle child failed to set up (exit %d)\n",
                WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        w->pid = 0;
        return -1;
    }
    return 0;
}

static struct snap g_sl; /* the kernel's window after the last call */

static int64_t file_index(struct world *w, unsigned pg);

/* MADV_REMOVE punched the test-file pages its range maps (in the layer,
 * whose mappings the call leaves as they were), even when it fails later
 * (a hole is ENOMEM after the mapped parts had the advice): the kernel
 * may lack them afterwards by right, not by loss. */
static void memfd_punched(struct world *w, const struct op *op)
{
    if (op->kind != OP_MADVISE || op->a[2] != MADV_REMOVE)
        return;
    const uint64_t lo = op->a[0], len = (op->a[1] + PGSZ - 1) & ~(PGSZ - 1);
    for (uint64_t va = lo; va - lo < len && va >= WIN && va < WEND;
         va += PGSZ) {
        int64_t fi = file_index(w, (unsigned)((va - WIN) / PGSZ));
        if (fi >= 0 && fi < 64)
            w->memfd_ever &= ~(1ull << fi);
    }
}

/* Note which pages of the test file the kernel has in snapshot `l`. The
 * only operation of the test that removes file pages is MADV_REMOVE
 * (memfd_punched() forgets what it removed), so any other page the
 * kernel had and now lacks was dropped by the kernel itself
 * (docs/LINUX.md "Notes"): w->memfd_lost. */
static void memfd_seen(struct world *w, const struct snap *l)
{
    w->memfd_lost |= w->memfd_ever & ~l->memfd;
    w->memfd_ever |= l->memfd;
}

/* The call in the child, then its window into g_sl (with the contents of
 * resident readable pages if `content`). */
static int64_t linux_call(struct world *w, const struct op *op, int content)
{
    struct op o;
    int64_t ret;

    /* Field by field over zeroes: the struct's padding goes down the
     * pipe too, and must not be uninitialised stack (valgrind). */
    memset(&o, 0, sizeof(o));
    o.kind = op->kind;
    memcpy(o.a, op->a, sizeof(o.a));
    o.doc = op->doc;
    o.snap = content ? 2 : 1;
    if (c_write_all(w->to, &o, sizeof(o)) ||
        c_read_all(w->from, &ret, sizeof(ret)) ||
        (o.kind == OP_MINCORE && c_read_all(w->from, w->vec, sizeof(w->vec))) ||
        c_read_all(w->from, &g_sl, sizeof(g_sl))) {
        fprintf(stderr, "lx_diff: lost the oracle child\n");
        exit(1);
    }
    memfd_punched(w, op);
    memfd_seen(w, &g_sl);
    return ret;
}

static void linux_snap(struct world *w, struct snap *s, int content)
{
    struct op op = {.kind = OP_SNAP, .a = {(uint64_t)content}};

    if (c_write_all(w->to, &op, sizeof(op)) ||
        c_read_all(w->from, s, sizeof(*s))) {
        fprintf(stderr, "lx_diff: lost the oracle child\n");
        exit(1);
    }
    memfd_seen(w, s);
}

static unsigned char v_vec[NPG];

/* A touch's result: the signal Linux would send for the core's error. */
static int64_t touch_result(int rc)
{
    if (rc == 0)
        return 0;
    /* VMAR_EFAULT from vmar_fault: a guard marker (VM_FAULT_SIGSEGV). */
    if (rc == VMAR_ENOENT || rc == VMAR_EACCES || rc == VMAR_EFAULT)
        return T_SEGV;
    if (rc == VMAR_ENXIO || rc == VMAR_EIO)
        return T_BUS;
    return T_OTHER; /* ENOMEM or a failed copy: never what Linux does */
}

static int64_t lib_call(struct world *w, const struct op *op)
{
    uint64_t a[6];
    struct vmar_linux_mm *mm = &w->mm;
    int rc;

    memcpy(a, op->a, sizeof(a));
    xlate_args(op->kind == OP_MREMAP, a, VMAR_SIDE);
    switch (op->kind) {
    case OP_MMAP:
        return vmar_linux_mmap(
            mm, a[0], a[1], a[2], a[3],
            a[4] < NFD && a[4] != FD_BAD ? &w->files[a[4]] : NULL, a[5]);
    case OP_MUNMAP:
        return vmar_linux_munmap(mm, a[0], a[1]);
    case OP_MPROTECT:
        return vmar_linux_mprotect(mm, a[0], a[1], a[2]);
    case OP_MREMAP:
        return vmar_linux_mremap(mm, a[0], a[1], a[2], a[3], a[4]);
    case OP_MADVISE:
        return vmar_linux_madvise(mm, a[0], a[1], a[2]);
    case OP_MINCORE:
        memset(v_vec, 0xee, sizeof(v_vec));
        return vmar_linux_mincore(mm, a[0], a[1],
                                  a[1] <= NPG * PGSZ ? v_vec : NULL);
    case OP_BRK:
        return (int64_t)vmar_linux_brk(mm, a[0]);
    case OP_MSEAL:
        return vmar_linux_mseal(mm, a[0], a[1], a[2]);
    case OP_MLOCK:
        return vmar_linux_mlock2(mm, a[0], a[1], a[2]);
    case OP_MUNLOCK:
        return vmar_linux_munlock(mm, a[0], a[1]);
    case OP_MLOCKALL:
        return vmar_linux_mlockall(mm, a[0]);
    case OP_MUNLOCKALL:
        return vmar_linux_munlockall(mm);
    case OP_LIMIT_LOCK:
        vmar_set_mlock_limit(w->space, a[0] == (uint64_t)-1 ? 0 : a[0],
                             a[0] != (uint64_t)-1);
        return 0;
    case OP_LIMIT_AS:
    case OP_LIMIT_MAPS: {
        /* The same headroom above what the layer's space uses now. */
        struct vmar_stats st;
        vmar_stats(w->space, &st);
        if (op->kind == OP_LIMIT_AS)
            w->as_limit = a[0] == (uint64_t)-1 ? 0 : st.total_vm + a[0];
        else
            w->max_maps = st.map_count + a[0];
        mm->max_map_count =
            w->max_maps ? w->max_maps : VMAR_DEFAULT_MAX_MAP_COUNT;
        mm->as_limit = w->as_limit;
        vmar_set_limits(w->space, w->as_limit, w->max_maps);
        return 0;
    }
    case OP_TOUCH_R:
    case OP_TOUCH_W: {
        /* A user access: the page fault first (its error is the signal,
         * ENXIO past an object's end being SIGBUS), then the byte. */
        const unsigned access =
            op->kind == OP_TOUCH_W ? VMAR_ACCESS_WRITE : VMAR_ACCESS_READ;
        uint8_t b = (uint8_t)a[1];
        rc = vmar_fault(w->space, a[0], access, VMAR_FAULT_USER);
        /* A stack to grow: the layer's caller holds the space (this
         * thread alone uses it) and says so. */
        if (rc == VMAR_EAGAIN)
            rc = vmar_fault(w->space, a[0], access,
                            VMAR_FAULT_USER | VMAR_FAULT_EXCLUSIVE);
        if (rc == 0)
            rc = op->kind == OP_TOUCH_W
                     ? vmar_write(w->space, a[0], &b, 1, NULL)
                     : vmar_read(w->space, a[0], &b, 1, NULL);
        break;
    }
    default:
        return 0;
    }
    return touch_result(rc);
}

/* docs/LINUX.md "x86 read permission": x86 Linux reads a write-only or
 * execute-only page; libvmar refuses. After the layer's refusal the read
 * is done as Linux does it, with READ granted to the page for the moment
 * (the page is faulted in, or SIGBUS past an object's end), so that both
 * sides go on from the same state. */
static int64_t x86_read(struct world *w, uint64_t va)
{
    const uint64_t pg = va & ~(PGSZ - 1);
    struct vmar_mapping_info m;
    uint8_t b;
    int rc;

    if (vmar_query(w->space, va, &m) ||
        vmar_protect(w->space, pg, PGSZ, m.prot | VMAR_PROT_READ))
        return T_OTHER;
    rc = vmar_fault(w->space, va, VMAR_ACCESS_READ, VMAR_FAULT_USER);
    if (rc == 0)
        rc = vmar_read(w->space, va, &b, 1, NULL);
    if (vmar_protect(w->space, pg, PGSZ, m.prot))
        return T_OTHER;
    return touch_result(rc);
}

struct v_snap_arg {
    struct snap *s;
};

static int v_snap_cb(void *arg, const struct vmar_mapping_info *m)
{
    struct snap *s = ((struct v_snap_arg *)arg)->s;

    for (uint64_t va = m->start; va < m->end; va += PGSZ) {
        struct page_snap *p = &s->pg[(va - WIN) / PGSZ];
        p->attr = PA_MAPPED | (m->prot & VMAR_PROT_READ ? PA_R : 0) |
                  (m->prot & VMAR_PROT_WRITE ? PA_W : 0) |
                  (m->prot & VMAR_PROT_EXEC ? PA_X : 0) |
                  (m->flags & VMAR_MAP_SHARED ? PA_SHARED : 0);
        if (va == m->start)
            p->attr |= PA_START;
    }
    return 0;
}

static void lib_snap(struct world *w, struct snap *s, int content)
{
    struct v_snap_arg arg = {s};
    static unsigned char page[PGSZ];

    struct vmar_stats st;

    memset(s, 0, sizeof(*s));
    vmar_iterate(w->space, WIN, WEND, v_snap_cb, &arg);
    vmar_stats(w->space, &st);
    s->locked = st.locked + w->mm.locked_stale; /* Linux's VmLck */
    for (unsigned i = 0; i < NPG;) {
        unsigned j = i;
        if (!(s->pg[i].attr & PA_MAPPED)) {
            i++;
            continue;
        }
        while (j < NPG && s->pg[j].attr & PA_MAPPED)
            j++;
        if (vmar_linux_mincore(&w->mm, WIN + i * PGSZ, (j - i) * PGSZ,
                               v_vec + i)) {
            fprintf(stderr, "lx_diff: layer mincore failed on a mapped run\n");
            exit(1);
        }
        i = j;
    }
    for (unsigned i = 0; i < NPG; i++) {
        struct page_snap *p = &s->pg[i];
        if (!(p->attr & PA_MAPPED))
            continue;
        p->resident = v_vec[i] & 1;
        if (content && p->resident && p->attr & PA_R &&
            vmar_read(w->space, WIN + i * PGSZ, page, PGSZ, NULL) == 0) {
            p->hash = fnv(page, PGSZ);
            p->hashed = 1;
        }
    }
}

/* ---- comparing ------------------------------------------------------ */

static void op_print(FILE *f, const struct op *op)
{
    static const char *names[] = {
        "mmap",       "munmap",     "mprotect", "mremap",  "madvise",
        "mincore",    "brk",        "touch_r",  "touch_w", "mseal",
        "limit_as",   "limit_maps", "mlock2",   "munlock", "mlockall",
        "munlockall", "limit_lock", "snap",     "quit"};
    fprintf(f, "%s(", names[op->kind]);
    for (int i = 0; i < 6; i++) {
        uint64_t v = op->a[i], t = v & (3ull << 62);
        if (i)
            fprintf(f, ", ");
        if (t == 0 && v >= WIN && v <= WEND)
            fprintf(f, "W+%#" PRIx64, v - WIN);
        else if (t == A_LO)
            fprintf(f, "LO%+" PRId64, (int64_t)(v << 2) >> 2);
        else if (t == A_HI)
            fprintf(f, "HI%+" PRId64, (int64_t)(v << 2) >> 2);
        else if (t == A_ABS)
            fprintf(f, "%#" PRIx64, (uint64_t)(v & ((1ull << 62) - 1)));
        else
            fprintf(f, "%#" PRIx64, v);
    }
    fprintf(f, ")");
}

static void fmt_ret(char *buf, size_t n, int64_t r)
{
    if (r == T_SEGV)
        snprintf(buf, n, "SIGSEGV");
    else if (r == T_BUS)
        snprintf(buf, n, "SIGBUS");
    else if (r == T_OTHER)
        snprintf(buf, n, "access failed (not a signal)");
    else if (r < 0 && r >= -4095)
        snprintf(buf, n, "-%s",
                 strerrorname_np((int)-r) ? strerrorname_np((int)-r) : "?");
    else if ((uint64_t)r >= WIN && (uint64_t)r <= WEND)
        snprintf(buf, n, "W+%#" PRIx64, (uint64_t)r - WIN);
    else
        snprintf(buf, n, "%#" PRIx64, (uint64_t)r);
}

static void snap_print(const struct snap *s)
{
    for (unsigned i = 0; i < NPG;) {
        unsigned j = i + 1;
        uint8_t a = s->pg[i].attr;
        if (!(a & PA_MAPPED)) {
            i++;
            continue;
        }
        while (j < NPG && (s->pg[j].attr & ~PA_START) == (a & ~PA_START) &&
               !(s->pg[j].attr & PA_START))
            j++;
        fprintf(stderr, "    W+%05x-W+%05x %c%c%c%c  res:", i * 4096u,
                j * 4096u, a & PA_R ? 'r' : '-', a & PA_W ? 'w' : '-',
                a & PA_X ? 'x' : '-', a & PA_SHARED ? 's' : 'p');
        for (unsigned k = i; k < j && k < i + 32; k++)
            fputc(s->pg[k].resident ? '1' : '0', stderr);
        fputc('\n', stderr);
        i = j;
    }
}

static unsigned g_diff_page = NPG; /* where snap_compare() stopped */
static unsigned long g_total_ops;  /* operations of the run so far */

/* Compare two snapshots; 0 when equal up to documented differences. */
static int snap_compare(struct world *w, const struct snap *v,
                        const struct snap *l, const char **why)
{
    if (v->locked != l->locked) {
        fprintf(stderr, "  locked: layer %#" PRIx64 ", linux %#" PRIx64 "\n",
                v->locked, l->locked);
        g_diff_page = NPG;
        *why = "locked bytes (VmLck)";
        return -1;
    }
    for (unsigned i = 0; i < NPG; i++) {
        uint8_t av = v->pg[i].attr, al = l->pg[i].attr;
        g_diff_page = i;
        if ((av & ~PA_START) != (al & ~PA_START)) {
            *why = "page attributes";
            return -1;
        }
        if (!(av & PA_MAPPED))
            continue;
        if ((av & PA_START) && !(al & PA_START)) {
            *why = "the layer splits where Linux merged";
            return -1;
        }
        if (!(av & PA_START) && (al & PA_START) && i > 0)
            w->doc_merge++; /* docs/LINUX.md "Merging" */
        if (v->pg[i].resident != l->pg[i].resident) {
            *why = "mincore";
            return -1;
        }
        if (v->pg[i].hashed && l->pg[i].hashed &&
            v->pg[i].hash != l->pg[i].hash) {
            *why = "page contents";
            return -1;
        }
    }
    return 0;
}

/* Does the Linux layout have a boundary inside (lo, hi) that the layer
 * merged away? Then a call that needs one VMA there legitimately differs
 * (docs/LINUX.md "Merging"). */
static int linux_only_boundary(const struct snap *v, const struct snap *l,
                               uint64_t lo, uint64_t hi)
{
    if (lo < WIN || hi > WEND || lo >= hi)
        return 0;
    for (uint64_t va = lo + PGSZ; va < hi; va += PGSZ) {
        unsigned i = (unsigned)((va - WIN) / PGSZ);
        if ((l->pg[i].attr & PA_START) && !(v->pg[i].attr & PA_START))
            return 1;
    }
    return 0;
}

static struct snap g_sv, g_pv, g_pl;
/* The call is mremap(MREMAP_DONTUNMAP) or a copy (old_len 0) of locked
 * memory, or one under mlockall(MCL_FUTURE) (the layer's state before
 * it): what Linux then unlocks and charges depends on whether its copy
 * merged with the source VMA, and the layer remakes an object source or
 * copy as a new mapping, which MCL_FUTURE locks (docs/LINUX.md). */
static int g_dontunmap_locked;
/* The layer's mapping that holds that source before the call: Linux
 * unlocks the source's whole VMA, so where the layer merged it with
 * neighbours that Linux keeps apart, the two unlock different ranges
 * (docs/LINUX.md "Merging"). */
static uint64_t g_dontunmap_lo, g_dontunmap_hi;

static int locked_cb(void *arg, const struct vmar_mapping_info *m)
{
    (void)arg;
    return (m->flags & VMAR_MAP_LOCKED) != 0;
}

/* Is [a, a+n) inside the window and free in snapshot s? */
static int free_in(const struct snap *s, uint64_t a, uint64_t n)
{
    if (a & (PGSZ - 1) || a < WIN || a >= WEND || n > WEND - a)
        return 0;
    for (uint64_t va = a; va < a + n; va += PGSZ)
        if (s->pg[(va - WIN) / PGSZ].attr & PA_MAPPED)
            return 0;
    return 1;
}

/* Move the layer's new mapping [from, from+n) to the kernel's address. */
static int resync(struct world *w, uint64_t from, uint64_t to, uint64_t n)
{
    vmar_addr_t at;
    /* a placeholder that merges with nothing (docs/LINUX.md, open list) */
    struct vmar_map_opts o = {
        .size = n, .place = VMAR_PLACE_ANY, .deny_prot = VMAR_PROT_RWX};

    if (from == to)
        return 0;
    w->resyncs++;
    if (to + n <= from || from + n <= to)
        return vmar_remap(w->space, from, n, n,
                          VMAR_REMAP_MAYMOVE | VMAR_REMAP_FIXED, to, &at);
    /* overlapping: through a temporary place */
    if (vmar_map(w->space, &o, &at))
        return -1;
    if (vmar_remap(w->space, from, n, n, VMAR_REMAP_MAYMOVE | VMAR_REMAP_FIXED,
                   at, &at))
        return -1;
    return vmar_remap(w->space, at, n, n, VMAR_REMAP_MAYMOVE | VMAR_REMAP_FIXED,
                      to, &at);
}

/* Length of the placement an op asks for when its address is free to
 * choose, or 0 when the result must be compared exactly. */
static uint64_t placement_len(const struct op *op, const struct snap *pre)
{
    const uint64_t *a = op->a;
    uint64_t len = (a[1] + PGSZ - 1) & ~(PGSZ - 1);

    if (op->kind == OP_MMAP) {
        if (a[3] & (MAP_FIXED | MAP_FIXED_NOREPLACE))
            return 0;
        uint64_t hint = xlate(a[0], VMAR_SIDE) & ~(PGSZ - 1);
        if (hint && free_in(pre, hint, len))
            return 0; /* the hint is taken by both */
        return len;
    }
    if (op->kind == OP_MREMAP && a[3] & MREMAP_MAYMOVE &&
        !(a[3] & MREMAP_FIXED)) {
        uint64_t nlen = (a[2] + PGSZ - 1) & ~(PGSZ - 1);
        if (a[3] & MREMAP_DONTUNMAP && a[4] &&
            free_in(pre, xlate(a[4], VMAR_SIDE), nlen))
            return 0;
        return nlen;
    }
    return 0;
}

/* Print the kernel's loss of test-file pages (struct world::memfd_lost)
 * found after `op`. */
static void memfd_lost_print(const struct world *w, const struct op *op)
{
    for (unsigned i = 0; i < FILEPG; i++) {
        if (!(w->memfd_lost >> i & 1))
            continue;
        printf("KERNEL DROPPED memfd page %#x (present before, absent after "
               "op %lu of the sequence, %lu overall: ",
               i, w->ops, g_total_ops);
        op_print(stdout, op);
        printf("); no other operation removes file pages: the sequence "
               "ends\n");
    }
}

/* The test-file page that window page `pg` maps in the layer, or -1 when
 * it maps none (not a mapping of the test file). */
static int64_t file_index(struct world *w, unsigned pg)
{
    const uint64_t va = WIN + pg * PGSZ;
    struct vmar_mapping_info m;

    if (pg >= NPG || vmar_query(w->space, va, &m) || m.object != w->file)
        return -1;
    return (int64_t)((m.offset + (va - m.start)) / PGSZ);
}

/* Run one op on both sides and compare. 0: same; 1: a difference; 2: a
 * documented difference after which the states may differ; 3: the kernel
 * dropped a test-file page it had (memfd_seen()), after which its
 * residency and contents are outside the layer's model. */
static int step(struct world *w, const struct op *op, int content)
{
    int64_t rv, rl;
    uint64_t plen;
    const char *why = NULL;
    char bv[64], bl[64];

    lib_snap(w, &g_pv, 0);
    memcpy(&g_pl, &g_sl, sizeof(g_pl)); /* the kernel's state before */
    plen = placement_len(op, &g_pv);
    if (verbose) { /* before the calls: a crash names its operation */
        fprintf(stderr, "  ");
        op_print(stderr, op);
    }
    g_dontunmap_locked = 0;
    if (op->kind == OP_MREMAP &&
        (op->a[3] & MREMAP_DONTUNMAP || op->a[1] == 0)) {
        const uint64_t a = xlate(op->a[0], VMAR_SIDE) & ~(PGSZ - 1);
        struct vmar_stats st;
        vmar_stats(w->space, &st);
        g_dontunmap_locked =
            st.lock_future ||
            vmar_iterate(w->space, a, a + op->a[1] + PGSZ, locked_cb, NULL);
        struct vmar_mapping_info mi;
        g_dontunmap_lo = g_dontunmap_hi = 0;
        if (vmar_query(w->space, a, &mi) == 0) {
            g_dontunmap_lo = mi.start;
            g_dontunmap_hi = mi.end;
        }
    }
    rv = lib_call(w, op);
    rl = linux_call(w, op, content);
    w->last_linux = rl;
    w->ops++;
    g_total_ops++;
    fmt_ret(bv, sizeof(bv), rv);
    fmt_ret(bl, sizeof(bl), rl);
    if (verbose)
        fprintf(stderr, " = %s / %s\n", bv, bl);
    if (w->memfd_lost)
        memfd_lost_print(w, op);

    if (plen && rv >= 0 && rl >= 0 && (uint64_t)rv != (uint64_t)rl) {
        /* A free placement: compare by contract, then follow Linux. */
        w->contract++;
        if ((uint64_t)rl < WIN || (uint64_t)rl + plen > WEND) {
            why = "the kernel placed outside the window (oracle set-up)";
        } else if (!free_in(&g_pv, (uint64_t)rv, plen) &&
                   !(op->kind == OP_MREMAP)) {
            why = "the layer's placement was not free";
        } else if (op->kind == OP_MMAP) {
            /* Redo the same mmap at the kernel's address. */
            struct op redo = *op;
            w->resyncs++;
            redo.a[0] = (uint64_t)rl;
            redo.a[3] |= MAP_FIXED;
            if (vmar_linux_munmap(&w->mm, (uint64_t)rv, plen) ||
                lib_call(w, &redo) != rl)
                why = "could not follow the kernel's placement";
        } else if (resync(w, (uint64_t)rv, (uint64_t)rl, plen)) {
            why = "could not follow the kernel's placement";
        }
        rv = rl;
    }
    if (!why && rv != rl) {
        /* documented: x86 grants read with write or exec */
        if (op->kind == OP_TOUCH_R && rv == T_SEGV) {
            uint64_t va = xlate(op->a[0], VMAR_SIDE);
            uint8_t at =
                va >= WIN && va < WEND ? g_pv.pg[(va - WIN) / PGSZ].attr : 0;
            struct vmar_mapping_info m;
            if (at & PA_MAPPED && !(at & PA_R) && at & (PA_W | PA_X) &&
                !vmar_query(w->space, va, &m) && m.flags & VMAR_MAP_SEALED) {
                /* x86_read() cannot lend READ to a sealed page: the
                 * states part (residency), as after a merge difference. */
                w->doc_known++;
                return w->memfd_lost ? 3 : 2;
            }
            if (at & PA_MAPPED && !(at & PA_R) && at & (PA_W | PA_X)) {
                w->doc_known++;
                rv = x86_read(w, va);
                fmt_ret(bv, sizeof(bv), rv);
            }
        }
    }
    if (!why && rv != rl) {
        /* A pure move stops at the first mapping that fails (EFAULT, or
         * EPERM at a sealed target), so where the kernel has a boundary
         * the layer merged away it moves a different prefix. */
        if (op->kind == OP_MREMAP && (rl == -EFAULT || rl == -EPERM) &&
            linux_only_boundary(&g_pv, &g_pl, xlate(op->a[0], VMAR_SIDE),
                                xlate(op->a[0], VMAR_SIDE) + op->a[1])) {
            w->doc_merge++;
            return w->memfd_lost ? 3 : 2; /* documented, states diverged */
        }
        if (op->doc || g_dontunmap_locked) {
            w->doc_known++;
            return w->memfd_lost ? 3 : 2;
        }
        why = "return value";
    }
    /* No return value depends on residency, but the mincore vector and
     * the snapshot's residency and contents do: after a page the kernel
     * dropped they are not comparable. Before those comparisons. */
    if (!why && w->memfd_lost)
        return 3;
    /* A locked source moved with DONTUNMAP inside a mapping the layer
     * merged where Linux has boundaries: the unlocked ranges differ, and
     * the states diverge in a way no snapshot of this call shows. */
    if (!why && g_dontunmap_locked && rv >= 0 &&
        linux_only_boundary(&g_pv, &g_pl, g_dontunmap_lo, g_dontunmap_hi)) {
        w->doc_merge++;
        return 2;
    }
    g_diff_page = NPG;
    if (!why && op->kind == OP_MINCORE && rl == 0) {
        uint64_t n = (op->a[1] + PGSZ - 1) / PGSZ;
        if (n <= NPG && memcmp(v_vec, w->vec, n)) {
            uint64_t va = xlate(op->a[0], VMAR_SIDE);
            unsigned k = 0;
            why = "mincore vector";
            while (v_vec[k] == w->vec[k])
                k++;
            if (va >= WIN && va + k * PGSZ < WEND)
                g_diff_page = (unsigned)((va - WIN) / PGSZ) + k;
        }
    }
    if (!why) {
        lib_snap(w, &g_sv, content);
        if (snap_compare(w, &g_sv, &g_sl, &why) == 0)
            return 0;
        /* The same EPERM after a pure move that moved a different prefix
         * (see the return-value case above). */
        if (op->kind == OP_MREMAP && rl == -EPERM &&
            linux_only_boundary(&g_pv, &g_pl, xlate(op->a[0], VMAR_SIDE),
                                xlate(op->a[0], VMAR_SIDE) + op->a[1])) {
            w->doc_merge++;
            return 2;
        }
        if (g_dontunmap_locked) {
            w->doc_known++;
            return 2; /* documented, states diverged */
        }
    } else {
        lib_snap(w, &g_sv, 0);
    }
    w->diffs++;
    fprintf(stderr,
            "DIFFERENCE (%s) at op %lu of the sequence (%lu overall): ", why,
            w->ops, g_total_ops);
    op_print(stderr, op);
    fprintf(stderr, "\n  layer: %s   linux: %s\n", bv, bl);
    if (g_diff_page < NPG)
        fprintf(stderr,
                "  first at page W+%#x: layer attr %#x resident %u hash "
                "%016" PRIx64 ", linux attr %#x resident %u hash %016" PRIx64
                "\n",
                g_diff_page * 4096u, g_sv.pg[g_diff_page].attr,
                g_sv.pg[g_diff_page].resident, g_sv.pg[g_diff_page].hash,
                g_sl.pg[g_diff_page].attr, g_sl.pg[g_diff_page].resident,
                g_sl.pg[g_diff_page].hash);
    if (g_diff_page < NPG) {
        /* The file page behind it: does the kernel's memfd have it now,
         * and did it ever in this sequence? A page the layer has and the
         * kernel never had is the layer's; one the kernel had and lost
         * would have ended the sequence before this comparison. */
        const int64_t fi = file_index(w, g_diff_page);
        vmar_paddr_t pa;
        if (fi >= FILEPG) {
            fprintf(stderr, "  file page %#" PRIx64 ": past the file's end\n",
                    (uint64_t)fi);
        } else if (fi >= 0) {
            int lay = w->file->ops->get_page(w->file, (uint64_t)fi,
                                             VMAR_OBJECT_GET_PRESENT, &pa) == 0;
            if (lay)
                vmar_frame_put(vmar_sim_env(w->sim), pa);
            fprintf(stderr,
                    "  file page %#" PRIx64 ": layer memfd has it %d; kernel "
                    "memfd has it now %u, ever in this sequence %u\n",
                    (uint64_t)fi, lay, (unsigned)(g_sl.memfd >> fi & 1),
                    (unsigned)(w->memfd_ever >> fi & 1));
        }
        if (!strcmp(why, "mincore") || !strcmp(why, "mincore vector")) {
            /* Ask the kernel again: a different answer now would point at
             * a transient kernel state rather than at the layer. */
            static struct snap again;
            linux_snap(w, &again, 0);
            fprintf(stderr, "  linux asked again: resident %u",
                    again.pg[g_diff_page].resident);
            if (fi >= 0 && fi < FILEPG)
                fprintf(stderr, ", memfd page %#" PRIx64 " %u", (uint64_t)fi,
                        (unsigned)(again.memfd >> fi & 1));
            fprintf(stderr, "\n");
        }
    }
    fprintf(stderr, "  layer window before:\n");
    snap_print(&g_pv);
    fprintf(stderr, "  layer window after:\n");
    snap_print(&g_sv);
    fprintf(stderr, "  linux window after:\n");
    snap_print(&g_sl);
    return 1;
}

/* ---- the directed table ----------------------------------------------- */

#define MM(addr, len, prot, flags, fd, off)                                    \
    {                                                                          \
        OP_MMAP, {addr, len, prot, flags, fd, off}, NULL, 0                    \
    }
#define MMD(addr, len, prot, flags, fd, off, doc)                              \
    {                                                                          \
        OP_MMAP, {addr, len, prot, flags, fd, off}, doc, 0                     \
    }
#define UN(addr, len)                                                          \
    {                                                                          \
        OP_MUNMAP, {addr, len}, NULL, 0                                        \
    }
#define PR(addr, len, prot)                                                    \
    {                                                                          \
        OP_MPROTECT, {addr, len, prot}, NULL, 0                                \
    }
#define RE(a, ol, nl, fl, na)                                                  \
    {                                                                          \
        OP_MREMAP, {a, ol, nl, fl, na}, NULL, 0                                \
    }
#define AD(addr, len, adv)                                                     \
    {                                                                          \
        OP_MADVISE, {addr, len, adv}, NULL, 0                                  \
    }
#define ADD(addr, len, adv, doc)                                               \
    {                                                                          \
        OP_MADVISE, {addr, len, adv}, doc, 0                                   \
    }
#define MC(addr, len)                                                          \
    {                                                                          \
        OP_MINCORE, {addr, len}, NULL, 0                                       \
    }
#define BRK(v)                                                                 \
    {                                                                          \
        OP_BRK, {v}, NULL, 0                                                   \
    }
#define TR(addr)                                                               \
    {                                                                          \
        OP_TOUCH_R, {addr}, NULL, 0                                            \
    }
#define TW(addr, v)                                                            \
    {                                                                          \
        OP_TOUCH_W, {addr, v}, NULL, 0                                         \
    }
#define MS(addr, len, flags)                                                   \
    {                                                                          \
        OP_MSEAL, {addr, len, flags}, NULL, 0                                  \
    }
#define LIM_AS(room)                                                           \
    {                                                                          \
        OP_LIMIT_AS, {room}, NULL, 0                                           \
    }
#define ML(addr, len, flags)                                                   \
    {                                                                          \
        OP_MLOCK, {addr, len, flags}, NULL, 0                                  \
    }
#define MUL(addr, len)                                                         \
    {                                                                          \
        OP_MUNLOCK, {addr, len}, NULL, 0                                       \
    }
#define MLA(flags)                                                             \
    {                                                                          \
        OP_MLOCKALL, {flags}, NULL, 0                                          \
    }
#define MULA()                                                                 \
    {                                                                          \
        OP_MUNLOCKALL, {0}, NULL, 0                                            \
    }
#define LIM_LOCK(bytes)                                                        \
    {                                                                          \
        OP_LIMIT_LOCK, {bytes}, NULL, 0                                        \
    }
#define LIM_MAPS(room)                                                         \
    {                                                                          \
        OP_LIMIT_MAPS, {room}, NULL, 0                                         \
    }
#define END                                                                    \
    {                                                                          \
        OP_QUIT, {0}, NULL, 0                                                  \
    }

#define PA  (MAP_PRIVATE | MAP_ANONYMOUS)
#define SA  (MAP_SHARED | MAP_ANONYMOUS)
#define FX  MAP_FIXED
#define NR  MAP_FIXED_NOREPLACE
#define RW_ (PROT_READ | PROT_WRITE)
#define MV  MREMAP_MAYMOVE

/* Each group runs in a fresh world; rows run in order. */
static const struct op directed[][40] = {
    /* mmap: argument checks in Linux's order */
    {
        MM(W(0), 0, RW_, PA | FX, 0, 0),             /* zero length */
        MM(W(0), P(1), RW_, PA | FX, 0, 1),          /* unaligned offset */
        MM(W(0), 0, RW_, PA | FX, 0, 1),             /* offset before len */
        MM(W(0), P(1), RW_, MAP_PRIVATE, FD_BAD, 0), /* bad fd */
        MM(W(0), 0, RW_, MAP_PRIVATE, FD_BAD, 0),    /* bad fd before len */
        MM(W(0), -1ull, RW_, PA | FX, 0, 0),         /* rounds to 0 */
        MM(W(0), -P(2), RW_, PA | FX, 0, 0),         /* longer than TASK_SIZE */
        MM(W(1), P(1), RW_, PA | FX, 0, 0),          /* unaligned fixed */
        MM(HI(-P(1)), P(2), RW_, PA | FX, 0, 0),     /* past TASK_SIZE */
        MM(HI(-P(1) + 1), P(2), RW_, PA | FX, 0, 0),
        MM(LO(-P(1)), P(1), RW_, PA | FX, 0, 0),       /* below mmap_min_addr */
        MM(A_ABS, P(1), RW_, PA | FX, 0, 0),           /* at 0 */
        MM(W(0), P(1), RW_, MAP_ANONYMOUS | FX, 0, 0), /* no type */
        MM(W(0), P(1), RW_, MAP_SHARED_VALIDATE | MAP_ANONYMOUS | FX, 0, 0),
        MM(W(0), P(1), RW_, 0x0f | MAP_ANONYMOUS | FX, 0, 0),
        MM(W(0), P(1), RW_, SA | FX | MAP_GROWSDOWN, 0, 0),
        MM(W(P(8)), P(1), RW_, PA | FX | MAP_GROWSDOWN, 0, 0),
        MMD(W(0), P(1), RW_, MAP_DROPPABLE | MAP_ANONYMOUS | FX, 0, 0,
            "MAP_DROPPABLE"),
        MM(0, P(1), RW_, MAP_ANONYMOUS, 0, 0), /* no type, no address */
        MM(W(0), P(1), 0xf0, PA | FX, 0, 0),   /* unknown prot bits */
        MM(W(P(2)), P(1), RW_, PA | FX | 0x800000, 0, 0), /* unknown flag */
        END,
    },
    /* mmap: fixed, noreplace, hints, rounding, merging */
    {
        MM(W(P(4)), P(4), RW_, PA | FX, 0, 0),
        MM(W(P(6)), P(4), RW_, PA | NR, 0, 0),       /* overlaps: EEXIST */
        MM(W(P(8)), P(4), RW_, PA | NR, 0, 0),       /* adjacent: merges */
        MM(W(P(8)), 1, RW_, PA | NR, 0, 0),          /* rounded, EEXIST */
        MM(W(P(12)), 1, PROT_READ, PA | NR, 0, 0),   /* rounded up */
        MM(W(P(5)), P(2), PROT_READ, PA | FX, 0, 0), /* replaces in middle */
        MM(W(P(20)), P(3), RW_, PA, 0, 0),           /* free hint: taken */
        MM(W(P(21)), P(3), RW_, PA, 0, 0),           /* busy hint: elsewhere */
        MM(W(P(30)) + 123, P(1), RW_, PA, 0, 0),     /* unaligned hint */
        MM(LO(-P(1)), P(1), RW_, PA, 0, 0),          /* hint below min */
        MM(HI(-P(1)), P(2), RW_, PA, 0, 0),          /* hint past top */
        MM(0, P(3), RW_, PA, 0, 0),                  /* anywhere */
        MM(0, P(2), PROT_NONE, PA | MAP_NORESERVE, 0, 0),
        MM(W(P(40)), P(2), RW_, PA | FX | MAP_POPULATE, 0, 0),
        MM(W(P(42)), P(2), PROT_READ, PA | FX | MAP_POPULATE, 0, 0),
        MM(W(P(44)), P(2), PROT_NONE, PA | FX | MAP_POPULATE, 0, 0),
        MM(W(P(46)), P(2), RW_, PA | FX | MAP_POPULATE | MAP_NONBLOCK, 0, 0),
        TW(W(P(4)), 7),
        TR(W(P(5))),
        TW(W(P(5)), 1),
        TR(W(P(44))),
        END,
    },
    /* shared anonymous memory and files */
    {
        MM(W(P(10)), P(4), RW_, SA | FX, 0, 0),
        MM(W(P(14)), P(4), RW_, SA | FX, 0, 0), /* never merges */
        TW(W(P(10)), 3),
        TW(W(P(15)), 4),
        MM(W(P(20)), P(4), RW_, MAP_SHARED | FX, FD_RW, 0),
        MM(W(P(24)), P(4), RW_, MAP_SHARED | FX, FD_RW, P(4)), /* merges */
        TW(W(P(21)), 9),
        MM(W(P(30)), P(2), PROT_READ, MAP_SHARED | FX, FD_RW, P(1)),
        TR(W(P(30))),                                       /* sees the write */
        MM(W(P(40)), P(2), RW_, MAP_SHARED | FX, FD_RO, 0), /* EACCES */
        MM(W(P(40)), P(2), PROT_READ, MAP_SHARED | FX, FD_RO, 0),
        PR(W(P(40)), P(2), RW_), /* EACCES: never write */
        MM(W(P(50)), P(2), RW_, MAP_PRIVATE | FX, FD_RO, 0), /* private ok */
        TW(W(P(51)), 5),                                     /* copy on write */
        TR(W(P(21))),
        MM(W(P(60)), P(2), PROT_READ, MAP_PRIVATE | FX, FD_WO, 0),
        MM(W(P(60)), P(2), PROT_WRITE, MAP_SHARED | FX, FD_WO, 0),
        MM(W(P(60)), P(2), PROT_READ, MAP_SHARED_VALIDATE | FX | 0x800000,
           FD_RW, 0), /* EOPNOTSUPP */
        MM(W(P(60)), P(2), PROT_READ, MAP_SHARED | FX | 0x800000, FD_RW, 0),
        MM(W(P(70)), P(2), PROT_READ, MAP_SHARED | FX, FD_RW, P(63)),
        TR(W(P(70))), /* last file page */
        TR(W(P(71))), /* past EOF: SIGBUS */
        MM(W(P(80)), P(1), PROT_READ, MAP_PRIVATE | FX, FD_RW, -P(1)),
        MM(W(P(80)), P(1), PROT_READ, 0 | FX, FD_RW, 0), /* no type */
        AD(W(P(10)), P(4), MADV_DONTNEED),               /* shmem keeps pages */
        TR(W(P(10))),
        END,
    },
    /* munmap */
    {
        MM(W(P(8)), P(8), RW_, PA | FX, 0, 0),
        UN(W(1), P(1)),     /* unaligned */
        UN(W(0), 0),        /* zero */
        UN(HI(P(1)), P(1)), /* past TASK_SIZE */
        UN(HI(-P(1)), P(2)),
        UN(HI(0), 0),
        UN(LO(-P(1)), P(1)),  /* below: fine */
        UN(W(P(10)), P(2)),   /* middle */
        UN(W(P(0)), P(9)),    /* hole + head */
        UN(W(P(15)), 1),      /* rounded */
        UN(W(P(100)), P(50)), /* nothing there */
        END,
    },
    /* mprotect */
    {
        MM(W(P(8)), P(8), RW_, PA | FX, 0, 0),
        MM(W(P(20)), P(4), RW_, PA | FX, 0, 0),
        PR(W(P(8)) + 1, P(1), PROT_READ), /* unaligned */
        PR(W(P(8)), 0, PROT_READ),        /* zero: 0 */
        PR(W(P(200)), 0, PROT_READ),      /* zero, unmapped: 0 */
        PR(A_ABS + (-P(1) & ((1ull << 62) - 1)), P(4), PROT_READ),
        PR(W(P(8)), P(1), 0x10),                 /* bad prot */
        PR(W(P(8)), P(1), PROT_READ | PROT_SEM), /* SEM is fine */
        PR(W(P(8)), P(1), PROT_GROWSDOWN | PROT_GROWSUP | PROT_READ),
        PR(W(P(9)), P(1), PROT_GROWSDOWN | PROT_READ),
        PR(W(P(9)), P(1), PROT_GROWSUP | PROT_READ),
        PR(W(P(100)), P(1), PROT_GROWSDOWN | PROT_READ),
        PR(W(P(0)), P(4), PROT_READ),   /* unmapped */
        PR(W(P(6)), P(4), PROT_READ),   /* starts in a hole */
        PR(W(P(12)), P(10), PROT_READ), /* prefix applied */
        PR(W(P(10)), 1, PROT_EXEC),     /* rounded */
        PR(W(P(8)), P(8), RW_),         /* merges back */
        TW(W(P(8)), 1),
        PR(W(P(8)), P(1), PROT_NONE),
        TR(W(P(8))),
        PR(W(P(8)), P(1), PROT_WRITE),
        TR(W(P(8))), /* x86: W implies R */
        END,
    },
    /* mremap */
    {
        MM(W(P(8)), P(4), RW_, PA | FX, 0, 0),
        TW(W(P(8)), 11),
        RE(W(P(8)), P(4), P(4), 8, 0),                   /* bad flag */
        RE(W(P(8)) + 1, P(4), P(4), 0, 0),               /* unaligned */
        RE(W(P(8)), P(4), 0, 0, 0),                      /* zero new */
        RE(W(P(8)), P(4), -1ull, 0, 0),                  /* new rounds to 0 */
        RE(W(P(8)), P(4), P(4), MREMAP_FIXED, W(P(40))), /* no MAYMOVE */
        RE(W(P(8)), P(4), P(4), MV | MREMAP_FIXED, W(P(40)) + 1),
        RE(W(P(8)), P(4), P(5), MV | MREMAP_DONTUNMAP, 0),
        RE(W(P(100)), P(4), P(4), 0, 0), /* nothing: EFAULT */
        RE(W(P(8)), P(4), P(4), 0, 0),   /* same: address */
        RE(W(P(8)), P(8), P(8), 0, 0),   /* same, too long: ok */
        RE(W(P(8)), P(8), P(10), 0, 0),  /* too long: EFAULT */
        RE(W(P(8)), 0, P(4), MV, 0),     /* private dup: EINVAL */
        RE(W(P(8)), P(4), P(6), 0, 0),   /* grow in place */
        MM(W(P(16)), P(2), PROT_READ, PA | FX, 0, 0),
        RE(W(P(8)), P(6), P(9), 0, 0), /* blocked: ENOMEM */
        RE(W(P(8)), P(6), P(3), 0, 0), /* shrink */
        RE(W(P(8)), P(3), P(3), MV | MREMAP_FIXED, W(P(9))), /* overlap */
        RE(W(P(8)), P(3), P(3), MV | MREMAP_FIXED, W(P(40))),
        TR(W(P(40))),
        RE(W(P(40)), P(3), P(2), MV | MREMAP_FIXED, W(P(16))), /* shrink+mv */
        RE(W(P(16)), P(2), P(2), MV | MREMAP_FIXED, HI(-P(1))),
        RE(W(P(16)), P(2), P(2), MV | MREMAP_FIXED, LO(-P(1))),
        RE(W(P(16)), P(2), P(2), MV | MREMAP_DONTUNMAP, W(P(60))),
        TR(W(P(60))),
        TR(W(P(16))),
        MM(W(P(80)), P(2), RW_, SA | FX, 0, 0),
        TW(W(P(80)), 5),
        RE(W(P(80)), P(2), P(4), 0, 0), /* shmem grows */
        TR(W(P(83))),                   /* past its end */
        RE(W(P(80)), P(2), P(2), MV | MREMAP_DONTUNMAP, W(P(90))),
        TR(W(P(80))),
        TR(W(P(90))),
        RE(W(P(90)), 0, P(2), MV, 0), /* shared dup */
        END,
    },
    /* grow-down stacks: growth by faults, the guard below, mprotect's
     * PROT_GROWSDOWN */
    {
        MM(W(P(100)), P(4), RW_, PA | FX | MAP_GROWSDOWN, 0, 0),
        TW(W(P(103)), 1), /* inside */
        TW(W(P(99)), 2),  /* a page below: grows */
        TR(W(P(90))),     /* further: grows, reads zero */
        TW(W(P(60)) + 5, 3),
        PR(W(P(70)), P(1), PROT_GROWSDOWN | PROT_READ), /* from P(60) */
        TW(W(P(65)), 4), /* read-only now: SIGSEGV */
        TR(W(P(65))),
        TW(W(P(55)), 5), /* grows, then SIGSEGV: the write is refused */
        TR(W(P(54))),
        MM(W(P(10)), P(1), RW_, PA | FX, 0, 0),
        TR(W(P(40))), /* 29 pages above it: within the guard, a hole */
        PR(W(P(10)), P(1), PROT_NONE),
        TR(W(P(40))), /* inaccessible below: no guard */
        TR(W(P(11))), /* right onto it */
        UN(W(P(30)), P(2)),
        TR(W(P(29))), /* the cut-off part still grows... */
        TR(W(P(31))), /* ...and so does the upper one, into the hole */
        MM(W(P(200)), P(2), RW_, PA | FX, 0, 0),
        TR(W(P(199))), /* no grow-down mapping above */
        PR(W(P(199)), P(2), PROT_GROWSDOWN | PROT_READ), /* EINVAL */
        PR(W(P(150)), P(1), PROT_GROWSDOWN | PROT_READ), /* ENOMEM */
        END,
    },
    /* madvise */
    {
        MM(W(P(8)), P(8), RW_, PA | FX, 0, 0),
        TW(W(P(8)), 1),
        TW(W(P(9)), 2),
        AD(W(P(8)), P(1), 5),                 /* unknown advice */
        AD(W(P(8)) + 1, P(1), MADV_DONTNEED), /* unaligned */
        AD(W(P(8)), -1ull, MADV_DONTNEED),    /* len rounds to 0 */
        AD(A_ABS + (-P(1) & ((1ull << 62) - 1)), P(2), MADV_NORMAL),
        AD(W(P(8)), 0, MADV_DONTNEED),    /* zero: 0 */
        AD(W(P(100)), P(1), MADV_NORMAL), /* unmapped */
        AD(W(P(8)), P(1), MADV_DONTNEED),
        TR(W(P(8))),
        AD(W(P(9)), P(1), MADV_FREE),
        TR(W(P(9))),
        AD(W(P(10)), P(2), MADV_RANDOM),
        AD(W(P(11)), P(2), MADV_SEQUENTIAL),
        AD(W(P(8)), P(8), MADV_NORMAL), /* merges back */
        AD(W(P(12)), P(2), MADV_DONTFORK),
        AD(W(P(12)), P(2), MADV_DOFORK),
        AD(W(P(6)), P(4), MADV_WILLNEED), /* hole first */
        AD(W(P(14)), P(4), MADV_RANDOM),  /* hole after: applied */
        MM(W(P(20)), P(2), RW_, SA | FX, 0, 0),
        AD(W(P(14)), P(8), MADV_FREE), /* shared: EINVAL */
        AD(W(P(8)), P(2), MADV_HUGEPAGE),
        AD(W(P(8)), P(2), MADV_DONTDUMP),
        END,
    },
    /* madvise: the flag advice (split and merged as VMA flags), fork
     * inheritance, COLD/PAGEOUT and REMOVE, with every errno on every
     * kind of mapping (private and shared anonymous, shared and private
     * file, the read-only fd, sealed) */
    {
        MM(W(P(8)), P(8), RW_, PA | FX, 0, 0),
        TW(W(P(8)), 1),
        TW(W(P(12)), 2),
        AD(W(P(9)), P(2), MADV_DONTDUMP),
        AD(W(P(10)), P(2), MADV_HUGEPAGE),
        AD(W(P(11)), P(2), MADV_NOHUGEPAGE), /* replaces HUGEPAGE */
        AD(W(P(12)), P(2), MADV_WIPEONFORK),
        AD(W(P(13)), P(1), MADV_DONTFORK), /* both: a third kind */
        AD(W(P(8)), P(8), MADV_DODUMP),
        AD(W(P(8)), P(8), MADV_KEEPONFORK),
        AD(W(P(8)), P(8), MADV_DOFORK),
        AD(W(P(8)), P(8), MADV_COLD),
        AD(W(P(8)), P(8), MADV_PAGEOUT),
        TR(W(P(12))), /* PAGEOUT kept it (no swap) */
        AD(W(P(8)), P(8), MADV_HUGEPAGE),
        AD(W(P(8)), P(8), MADV_NOHUGEPAGE), /* one mapping again */
        AD(W(P(8)), P(8), MADV_REMOVE),     /* private anonymous: EINVAL */
        AD(W(P(6)), P(4), MADV_WIPEONFORK), /* hole first: ENOMEM */
        AD(W(P(8)), P(1), 6),               /* unknown */
        AD(W(P(8)) + 1, P(1), MADV_COLD),   /* unaligned */
        MM(W(P(20)), P(4), RW_, SA | FX, 0, 0),
        TW(W(P(20)), 3),
        TW(W(P(21)), 4),
        AD(W(P(20)), P(4), MADV_WIPEONFORK), /* shared: EINVAL */
        AD(W(P(20)), P(4), MADV_KEEPONFORK),
        AD(W(P(21)), P(1), MADV_REMOVE), /* shmem: the page is punched */
        TR(W(P(21))),
        TR(W(P(20))),
        AD(W(P(16)), P(8), MADV_REMOVE), /* private first: EINVAL */
        END,
    },
    /* madvise REMOVE and the others on files, read-only fds, sealed
     * memory; MAP_STACK's VM_NOHUGEPAGE */
    {
        MM(W(P(30)), P(4), RW_, MAP_SHARED | FX, FD_RW, 0),
        TW(W(P(30)), 5),
        TW(W(P(31)), 6),
        AD(W(P(30)), P(4), MADV_WIPEONFORK), /* file: EINVAL */
        AD(W(P(30)), P(4), MADV_FREE),       /* file: EINVAL */
        AD(W(P(31)), P(1), MADV_REMOVE),     /* the file's page */
        TR(W(P(31))),
        TR(W(P(30))),
        MM(W(P(36)), P(2), PROT_READ, MAP_SHARED | FX, FD_RW, 0),
        AD(W(P(36)), P(2), MADV_REMOVE), /* read-only, writable fd: 0 */
        MM(W(P(40)), P(2), PROT_READ, MAP_SHARED | FX, FD_RO, 0),
        AD(W(P(40)), P(2), MADV_REMOVE), /* read-only fd: EACCES */
        AD(W(P(40)), P(2), MADV_DODUMP),
        MM(W(P(44)), P(2), RW_, MAP_PRIVATE | FX, FD_RW, 0),
        TW(W(P(44)), 7),
        AD(W(P(44)), P(2), MADV_REMOVE), /* private file: EACCES */
        AD(W(P(44)), P(2), MADV_WIPEONFORK),
        AD(W(P(44)), P(2), MADV_COLD),
        AD(W(P(44)), P(2), MADV_PAGEOUT),
        MM(W(P(50)), P(2), PROT_READ, PA | FX, 0, 0),
        MS(W(P(50)), P(2), 0),
        AD(W(P(50)), P(2), MADV_REMOVE),     /* sealed: EPERM first */
        AD(W(P(50)), P(2), MADV_WIPEONFORK), /* EPERM */
        AD(W(P(50)), P(2), MADV_DONTDUMP),
        AD(W(P(50)), P(2), MADV_HUGEPAGE),
        AD(W(P(50)), P(2), MADV_KEEPONFORK),
        AD(W(P(50)), P(2), MADV_COLD),
        MM(W(P(54)), P(2), RW_, PA | FX, 0, 0),
        MS(W(P(54)), P(2), 0),
        AD(W(P(54)), P(2), MADV_WIPEONFORK), /* writable: allowed */
        AD(W(P(54)), P(2), MADV_REMOVE),     /* EINVAL */
        MM(W(P(58)), P(2), RW_, PA | MAP_STACK | FX, 0, 0),
        MM(W(P(60)), P(2), RW_, PA | FX, 0, 0), /* apart: VM_NOHUGEPAGE */
        AD(W(P(60)), P(2), MADV_NOHUGEPAGE),    /* merges */
        END,
    },
    /* guard regions: markers drop the pages under them and fault every
     * access (SIGSEGV) without a split; DONTNEED and mprotect keep them,
     * a populate stops at them (EFAULT), mremap moves them, munmap drops
     * them; shared memory takes them (6.18), a sealed read-only private
     * mapping refuses an install (EPERM) */
    {
        MM(W(P(8)), P(8), RW_, PA | FX, 0, 0),
        TW(W(P(8)), 1),
        TW(W(P(9)), 2),
        TW(W(P(10)), 3),
        AD(W(P(9)) + 1, P(1), MADV_GUARD_INSTALL), /* unaligned */
        AD(W(P(9)), 0, MADV_GUARD_INSTALL),        /* zero: 0 */
        AD(W(P(9)), P(2), MADV_GUARD_INSTALL),
        TR(W(P(9))),
        TW(W(P(10)), 4),
        TR(W(P(8))),
        MC(W(P(8)), P(8)),
        AD(W(P(8)), P(8), MADV_DONTNEED),
        TR(W(P(9))),
        PR(W(P(8)), P(8), PROT_READ),
        TR(W(P(10))),
        PR(W(P(8)), P(8), RW_),
        AD(W(P(8)), P(8), MADV_POPULATE_WRITE), /* EFAULT at the marker */
        MC(W(P(8)), P(8)),
        AD(W(P(6)), P(4), MADV_GUARD_INSTALL), /* hole first: ENOMEM */
        TR(W(P(8))),
        RE(W(P(8)), P(4), P(4), MV | MREMAP_FIXED, W(P(40))),
        TR(W(P(41))),
        TR(W(P(43))),
        AD(W(P(40)), P(4), MADV_GUARD_REMOVE),
        TR(W(P(41))),
        AD(W(P(12)), P(2), MADV_GUARD_INSTALL),
        UN(W(P(12)), P(4)),
        MM(W(P(12)), P(4), RW_, PA | FX, 0, 0),
        TR(W(P(12))),
        END,
    },
    /* guard regions on shared memory and files, and sealed memory */
    {
        MM(W(P(20)), P(2), RW_, SA | FX, 0, 0),
        TW(W(P(20)), 6),
        AD(W(P(20)), P(1), MADV_GUARD_INSTALL),
        TR(W(P(20))),
        MC(W(P(20)), P(2)),
        AD(W(P(20)), P(2), MADV_GUARD_REMOVE),
        TR(W(P(20))),
        MM(W(P(24)), P(2), RW_, MAP_SHARED | FX, FD_RW, 0),
        AD(W(P(24)), P(2), MADV_GUARD_INSTALL),
        TW(W(P(25)), 7),
        AD(W(P(24)), P(2), MADV_GUARD_REMOVE),
        MM(W(P(30)), P(2), PROT_READ, PA | FX, 0, 0),
        MS(W(P(30)), P(2), 0),
        AD(W(P(30)), P(1), MADV_GUARD_INSTALL), /* EPERM */
        AD(W(P(30)), P(1), MADV_GUARD_REMOVE),
        AD(W(P(28)), P(4), MADV_GUARD_REMOVE), /* hole, then fine */
        END,
    },
    /* madvise populate: faulted in from the start, up to the first hole
     * (ENOMEM), a mapping without the access's permission (EINVAL) or a
     * page past a file's end (EFAULT); the pages before stay */
    {
        MM(W(P(8)), P(4), RW_, PA | FX, 0, 0),
        MM(W(P(12)), P(2), PROT_READ, PA | FX, 0, 0),
        MM(W(P(14)), P(2), PROT_NONE, PA | FX, 0, 0),
        MM(W(P(16)), P(2), PROT_EXEC, PA | FX, 0, 0),
        MM(W(P(18)), P(2), PROT_WRITE, PA | FX, 0, 0),
        AD(W(P(8)) + 1, P(1), MADV_POPULATE_READ), /* unaligned */
        AD(W(P(8)), 0, MADV_POPULATE_WRITE),       /* zero */
        AD(W(P(6)), P(4), MADV_POPULATE_READ),     /* hole first */
        AD(W(P(8)), P(1), MADV_POPULATE_READ),
        MC(W(P(8)), P(4)),
        AD(W(P(9)), P(1), MADV_POPULATE_WRITE),
        AD(W(P(10)), P(4), MADV_POPULATE_WRITE), /* read-only: EINVAL */
        MC(W(P(8)), P(8)),
        AD(W(P(12)), P(3), MADV_POPULATE_READ), /* PROT_NONE: EINVAL */
        AD(W(P(16)), P(1), MADV_POPULATE_READ), /* exec-only: EINVAL */
        AD(W(P(18)), P(2), MADV_POPULATE_READ), /* write-only: EINVAL */
        AD(W(P(18)), P(2), MADV_POPULATE_WRITE),
        AD(W(P(18)), P(4), MADV_POPULATE_WRITE), /* hole after */
        MC(W(P(8)), P(12)),
        TR(W(P(11))),
        TW(W(P(11)), 3),
        END,
    },
    /* madvise populate of files: shared, private (a write populate
     * breaks COW), past the end; MAP_POPULATE through the same path */
    {
        MM(W(P(30)), P(4), RW_, MAP_SHARED | FX, FD_RW, 0),
        MM(W(P(40)), P(4), RW_, MAP_PRIVATE | FX, FD_RW, 0),
        AD(W(P(30)), P(4), MADV_POPULATE_WRITE),
        AD(W(P(40)), P(2), MADV_POPULATE_READ),
        AD(W(P(41)), P(2), MADV_POPULATE_WRITE),
        TW(W(P(30)), 9),
        TW(W(P(31)), 8),
        TR(W(P(40))),
        TR(W(P(41))),
        MM(W(P(50)), P(FILEPG + 2), RW_, MAP_SHARED | FX, FD_RW, 0),
        AD(W(P(50)), P(FILEPG + 2), MADV_POPULATE_READ), /* EFAULT */
        MC(W(P(50)), P(FILEPG + 2)),
        MM(W(P(50)), P(FILEPG + 2), RW_, MAP_PRIVATE | FX, FD_RW, 0),
        AD(W(P(50)), P(FILEPG + 2), MADV_POPULATE_WRITE), /* EFAULT */
        MC(W(P(50)), P(FILEPG + 2)),
        /* MAP_POPULATE of a private writable file: copies */
        MM(W(P(70)), P(2), RW_, MAP_PRIVATE | FX | MAP_POPULATE, FD_RW, 0),
        TW(W(P(30)), 5),
        TR(W(P(70))),
        MM(W(P(80)), P(2), PROT_EXEC, PA | FX | MAP_POPULATE, 0, 0),
        MC(W(P(80)), P(2)),
        END,
    },
    /* mincore */
    {
        MM(W(P(8)), P(4), RW_, PA | FX, 0, 0),
        TW(W(P(9)), 1),
        MC(W(P(8)) + 1, P(1)), /* unaligned */
        MC(W(P(8)), 0),        /* zero */
        MC(HI(-P(1)), P(2)),   /* past TASK_SIZE */
        MC(W(P(8)), P(4)),
        MC(W(P(8)), P(3) + 1), /* rounded */
        MC(W(P(6)), P(4)),     /* hole first */
        MC(W(P(10)), P(4)),    /* hole after */
        END,
    },
    /* at the address-space limit (RLIMIT_AS / as_limit): the argument
     * checks, placement and EEXIST come first */
    {
        MM(W(P(8)), P(4), RW_, PA | FX, 0, 0),
        MM(W(P(60)), P(5), PROT_READ, PA | FX, 0, 0),
        BRK(HEAP + P(1)),
        LIM_AS(0),
        MM(0, P(1), RW_, 0x0f | MAP_ANONYMOUS, 0, 0), /* bad type: EINVAL */
        MM(0, P(1), RW_, MAP_ANONYMOUS, 0, 0),        /* no type: EINVAL */
        MM(W(P(20)), P(1), RW_, MAP_ANONYMOUS | FX, 0, 0),
        MM(W(P(20)), P(1), RW_, MAP_ANONYMOUS | NR, 0, 0),
        MM(0, P(1), RW_, MAP_DROPPABLE | MAP_ANONYMOUS | MAP_SHARED, 0, 0),
        MM(0, P(1), RW_, MAP_PRIVATE, FD_BAD, 0),     /* EBADF */
        MM(0, P(1), RW_, MAP_SHARED, FD_RO, 0),       /* EACCES */
        MM(0, P(1), RW_, 0x0f, FD_RW, 0),             /* bad type, file */
        MM(W(P(8)), P(1), RW_, PA | NR, 0, 0),        /* EEXIST */
        MM(W(P(20)), P(1), RW_, PA | FX, 0, 0),       /* ENOMEM */
        MM(0, P(1), RW_, PA, 0, 0),                   /* ENOMEM */
        MM(0, P(1), PROT_READ, MAP_SHARED, FD_RO, 0), /* ENOMEM */
        MM(W(P(8)), P(4), PROT_READ, PA | FX, 0, 0),  /* adds nothing */
        MM(W(P(8)), P(5), PROT_READ, PA | FX, 0, 0),  /* one page more */
        RE(W(P(8)), P(4), P(5), 0, 0),                /* ENOMEM */
        RE(W(P(8)), P(4), P(5), MV, 0),               /* ENOMEM */
        RE(W(P(8)), P(4), P(5), MV | MREMAP_FIXED, W(P(60))), /* target kept */
        RE(W(P(8)), P(1), P(1), MV | MREMAP_DONTUNMAP, 0),    /* ENOMEM */
        RE(W(P(8)), P(4), P(4), MV | MREMAP_FIXED, W(P(40))), /* a move */
        RE(W(P(40)), P(4), P(2), 0, 0),                       /* shrink */
        BRK(HEAP + P(3)), /* fails: the old break */
        LIM_AS(P(1)),
        RE(W(P(40)), P(2), P(3), 0, 0), /* the one page: in place */
        MM(W(P(100)), P(1), RW_, PA | FX, 0, 0),
        UN(W(P(40)), P(1)),
        MM(W(P(100)), P(1), RW_, PA | FX, 0, 0),
        LIM_AS(-1ull),
        MM(W(P(100)), P(1), RW_, PA | FX, 0, 0),
        END,
    },
    /* at the mapping-count limit (vm.max_map_count): Linux's do_mmap
     * refuses only above it, so the checks before mmap_region() decide */
    {
        MM(W(P(8)), P(4), RW_, PA | FX, 0, 0),
        MM(W(P(20)), P(4), RW_, PA | FX, 0, 0),
        LIM_MAPS(0),
        MM(0, P(1), RW_, 0x0f | MAP_ANONYMOUS, 0, 0), /* bad type: EINVAL */
        MM(0, P(1), RW_, MAP_ANONYMOUS, 0, 0),
        MM(W(P(40)), P(1), RW_, MAP_ANONYMOUS | FX, 0, 0),
        MM(0, P(1), RW_, 0x0f, FD_RW, 0),
        MM(0, P(1), RW_, MAP_SHARED, FD_RO, 0), /* EACCES */
        MM(W(P(8)), P(1), RW_, PA | NR, 0, 0),  /* EEXIST */
        MMD(W(P(12)), P(2), RW_, PA | FX, 0, 0, "max_map_count + 1"),
        MM(W(P(8)), P(4), PROT_READ, PA | FX, 0, 0), /* replaces: ok */
        UN(W(P(21)), P(1)),                          /* split: ENOMEM */
        PR(W(P(21)), P(1), PROT_READ),               /* split: ENOMEM */
        UN(W(P(20)), P(1)),                          /* head: ok */
        RE(W(P(8)), P(4), P(4), MV | MREMAP_FIXED, W(P(60))), /* ENOMEM */
        RE(W(P(8)), P(4), P(6), MV, 0),                       /* in place: ok */
        RE(W(P(8)), P(6), P(30), MV, 0), /* must move: ENOMEM */
        END,
    },
    /* a boundary Linux keeps and the layer merges (docs/LINUX.md,
     * "Merging"): a resize across it is EFAULT on Linux; the layer gives
     * ENOMEM without MREMAP_MAYMOVE where the merged mapping extends past
     * the old range, and grows in place where it ends there */
    {
        MM(W(P(8)), P(4), RW_, PA | FX, 0, 0),
        TW(W(P(8)), 1),
        MM(W(P(20)), P(4), RW_, PA | FX, 0, 0),
        TW(W(P(20)), 2),
        RE(W(P(20)), P(4), P(4), MV | MREMAP_FIXED, W(P(12))),
        RE(W(P(8)), P(6), P(8), 0, 0),  /* layer: ENOMEM */
        RE(W(P(8)), P(8), P(10), 0, 0), /* layer: grows (last row) */
        END,
    },
    /* brk */
    {
        BRK(0),           /* query */
        BRK(HEAP - P(1)), /* below start */
        BRK(HEAP + 100),  /* grow, unaligned */
        TW(HEAP + 5, 1),
        BRK(HEAP + P(4)),
        BRK(HEAP + P(4) - 1), /* same page: moves */
        BRK(HEAP + P(2)),     /* shrink */
        MM(HEAP + P(8), P(2), RW_, PA | FX, 0, 0),
        BRK(HEAP + P(7)), /* needs a free page */
        BRK(HEAP + P(8)), /* into the mapping */
        BRK(HEAP + P(6)), /* just fits */
        UN(HEAP, P(6)),
        BRK(HEAP + P(1)), /* shrink over nothing */
        BRK(HEAP + P(7)),
        BRK(WEND + P(1)), /* past the window */
        BRK(HEAP),
        END,
    },
    /* mseal: its errnos, then every call it refuses (EPERM), whole */
    {
        MM(W(P(8)), P(8), RW_, PA | FX, 0, 0),
        TW(W(P(9)), 1),
        MS(W(P(8)) + 1, P(1), 0),           /* unaligned */
        MS(W(P(8)), P(1), 1),               /* flags */
        MS(W(P(8)), -1ull, 0),              /* len rounds to 0 */
        MS(A_ABS + (-P(1) & M62), P(2), 0), /* wraps */
        MS(W(P(8)), 0, 0),                  /* zero: 0 */
        MS(W(P(6)), P(4), 0),               /* hole first: ENOMEM */
        MS(W(P(14)), P(4), 0),              /* hole after: ENOMEM */
        UN(W(P(14)), P(2)),                 /* nothing was sealed */
        MS(W(P(10)), P(2) - 100, 0),        /* rounded; cuts */
        UN(W(P(11)), P(1)),                 /* inside */
        UN(W(P(6)), P(5)),                  /* touching */
        UN(W(P(8)), P(2)),                  /* beside it: 0 */
        MM(W(P(11)), P(2), RW_, PA | FX, 0, 0),
        MM(W(P(11)), P(2), RW_, SA | FX, 0, 0),
        MM(W(P(11)), P(2), RW_, PA | NR, 0, 0), /* EEXIST first */
        PR(W(P(10)), P(2), RW_),                /* same prot: EPERM */
        PR(W(P(12)), P(2), PROT_READ),
        PR(W(P(10)), P(4), PROT_READ),
        PR(W(P(12)), P(4), RW_), /* applied, then the hole */
        RE(W(P(10)), P(2), P(1), 0, 0),
        RE(W(P(10)), P(2), P(4), MV, 0),
        RE(W(P(10)), P(1), P(1), MV | MREMAP_FIXED, W(P(40))),
        RE(W(P(10)), P(2), P(2), MV | MREMAP_DONTUNMAP, 0),
        RE(W(P(12)), P(2), P(2), MV | MREMAP_FIXED, W(P(10))), /* target */
        RE(W(P(12)), P(2), P(4), MV | MREMAP_FIXED, W(P(40))),
        RE(W(P(40)), P(2), P(2), MV | MREMAP_FIXED, W(P(10))),
        AD(W(P(10)), P(2), MADV_DONTNEED), /* writable: allowed */
        AD(W(P(10)), P(2), MADV_RANDOM),
        TR(W(P(10))),
        MS(W(P(10)), P(2), 0), /* again: 0 */
        MS(W(P(40)), P(4), 0), /* merges with nothing sealed */
        END,
    },
    /* mseal and madvise: discarding advice only on read-only anonymous */
    {
        MM(W(P(20)), P(4), RW_, PA | FX, 0, 0),
        TW(W(P(21)), 3),
        PR(W(P(20)), P(4), PROT_READ),
        MS(W(P(20)), P(4), 0),
        AD(W(P(20)), P(4), MADV_DONTNEED), /* read-only anonymous */
        AD(W(P(20)), P(4), MADV_FREE),
        AD(W(P(21)), P(1), MADV_DONTFORK),
        AD(W(P(18)), P(6), MADV_DONTNEED), /* hole first, then EPERM */
        AD(W(P(20)), P(4), MADV_WILLNEED),
        AD(W(P(20)), P(4), MADV_DOFORK),
        AD(W(P(20)), P(4), MADV_SEQUENTIAL),
        TR(W(P(21))),
        MM(W(P(30)), P(2), PROT_READ, SA | FX, 0, 0),
        MS(W(P(30)), P(2), 0),
        AD(W(P(30)), P(2), MADV_DONTNEED), /* shmem: allowed */
        MM(W(P(34)), P(2), PROT_READ, MAP_PRIVATE | FX, FD_RW, 0),
        MS(W(P(34)), P(2), 0),
        AD(W(P(34)), P(2), MADV_DONTNEED), /* a file: allowed */
        MM(W(P(44)), P(1), PROT_READ, MAP_SHARED | FX, FD_RO, 0),
        MS(W(P(44)), P(1), 0),
        PR(W(P(44)), P(1), RW_), /* EACCES before EPERM */
        PR(W(P(44)), P(1), PROT_READ),
        UN(W(P(0)), P(64)),
        END,
    },
    /* mlock, mlock2, munlock: errnos in Linux's order, the range
     * rounded out, applied up to a hole (ENOMEM), populated after
     * (PROT_NONE or a file's end: ENOMEM, the range locked) */
    {
        MM(W(P(8)), P(4), RW_, PA | FX, 0, 0),
        MM(W(P(12)), P(2), PROT_READ, PA | FX, 0, 0),
        MM(W(P(16)), P(2), PROT_NONE, PA | FX, 0, 0),
        MM(W(P(18)), P(2), PROT_WRITE, PA | FX, 0, 0),
        ML(W(P(8)), P(1), 2),               /* flags */
        ML(W(P(8)), 0, 0),                  /* zero */
        ML(A_ABS + (-P(1) & M62), P(2), 0), /* wraps */
        ML(W(P(6)), P(4), 0),               /* hole first */
        ML(W(P(8)) + 100, P(1), 0),         /* rounded out: 2 pages */
        MC(W(P(8)), P(4)),
        ML(W(P(11)), P(4), 0), /* a hole after: partly */
        MC(W(P(8)), P(6)),
        ML(W(P(8)), P(6), VMAR_LINUX_MLOCK_ONFAULT), /* relock on fault */
        TR(W(P(13))),
        ML(W(P(16)), P(2), 0), /* PROT_NONE: locked, ENOMEM */
        ML(W(P(18)), P(2), 0), /* write-only: written in */
        MC(W(P(16)), P(4)),
        PR(W(P(16)), P(1), PROT_READ),
        PR(W(P(17)), P(1), RW_), /* made writable: populated */
        MC(W(P(16)), P(4)),
        AD(W(P(8)), P(2), MADV_DONTNEED), /* locked: EINVAL */
        AD(W(P(9)), P(1), MADV_FREE),
        AD(W(P(12)), P(2), MADV_DONTNEED), /* on fault too */
        AD(W(P(8)), P(2), MADV_RANDOM),
        MUL(W(P(6)), P(4)), /* hole first */
        MUL(W(P(9)), P(1)), /* cuts */
        AD(W(P(9)), P(1), MADV_DONTNEED),
        MUL(W(P(16)), P(6)), /* partly, then the hole */
        MUL(W(P(8)), P(12)),
        AD(W(P(8)), P(12), MADV_DONTNEED),
        UN(W(P(0)), P(64)),
        END,
    },
    /* mlock over guard markers: the range is locked, its pages populated
     * up to the marker, and mlock returns ENOMEM (the populate's EFAULT);
     * mlock2(MLOCK_ONFAULT) populates nothing and succeeds; markers come
     * off locked memory but do not go on (EINVAL) */
    {
        MM(W(P(8)), P(8), RW_, PA | FX, 0, 0),
        AD(W(P(11)), P(1), MADV_GUARD_INSTALL),
        ML(W(P(8)), P(8), 0), /* ENOMEM, locked */
        MC(W(P(8)), P(8)),
        TR(W(P(11))),
        AD(W(P(13)), P(1), MADV_GUARD_INSTALL), /* locked: EINVAL */
        AD(W(P(11)), P(1), MADV_GUARD_REMOVE),
        TR(W(P(11))),
        MUL(W(P(8)), P(8)),
        AD(W(P(13)), P(1), MADV_GUARD_INSTALL),
        ML(W(P(8)), P(8), VMAR_LINUX_MLOCK_ONFAULT), /* 0 */
        MC(W(P(8)), P(8)),
        TR(W(P(13))),
        TW(W(P(14)), 5),
        MC(W(P(8)), P(8)),
        MUL(W(P(8)), P(8)),
        UN(W(P(8)), P(8)),
        END,
    },
    /* mlock of files and shared memory; MAP_LOCKED of every kind */
    {
        MM(W(P(30)), P(4), RW_, MAP_SHARED | FX, FD_RW, 0),
        MM(W(P(40)), P(4), RW_, MAP_PRIVATE | FX, FD_RW, 0),
        MM(W(P(50)), P(FILEPG + 2), PROT_READ, MAP_SHARED | FX, FD_RW, 0),
        ML(W(P(30)), P(4), 0),
        ML(W(P(40)), P(4), 0), /* private, writable: copied */
        TW(W(P(30)), 4),
        TR(W(P(40))),
        ML(W(P(50)), P(FILEPG + 2), 0), /* past the end: ENOMEM */
        MC(W(P(50)), P(FILEPG + 2)),
        MM(W(P(60)), P(4), RW_, PA | FX | MAP_LOCKED, 0, 0),
        MM(W(P(66)), P(2), PROT_NONE, PA | FX | MAP_LOCKED, 0, 0),
        MM(W(P(70)), P(2), RW_, SA | FX | MAP_LOCKED, 0, 0),
        MM(W(P(74)), P(2), RW_, MAP_PRIVATE | FX | MAP_LOCKED, FD_RW, 0),
        MM(W(P(78)), P(2), PROT_EXEC, PA | FX | MAP_LOCKED, 0, 0),
        MC(W(P(60)), P(20)),
        MM(W(P(62)), P(1), RW_, PA | FX, 0, 0), /* overwrite: unlocks */
        RE(W(P(60)), P(2), P(3), 0, 0),         /* grows: populated */
        MC(W(P(60)), P(4)),
        RE(W(P(74)), P(2), P(4), MV | MREMAP_FIXED, W(P(90))),
        MC(W(P(90)), P(4)),
        RE(W(P(90)), P(2), P(2), MV | MREMAP_DONTUNMAP, W(P(100))),
        MC(W(P(90)), P(12)),
        UN(W(P(60)), P(2)),
        END,
    },
    /* the lock limit (RLIMIT_MEMLOCK without CAP_IPC_LOCK): 0 refuses
     * locking (EPERM), mlock is ENOMEM past it, a locked map EAGAIN
     * (MAP_LOCKED or mlockall(MCL_FUTURE)), remap growth EAGAIN */
    {
        MM(W(P(8)), P(8), RW_, PA | FX, 0, 0),
        LIM_LOCK(0),
        ML(W(P(8)), P(1), 0),
        ML(W(P(8)), P(1), 2), /* flags first */
        MM(W(P(20)), P(1), RW_, PA | FX | MAP_LOCKED, 0, 0),
        MM(W(P(20)), P(1), RW_, PA | NR | MAP_LOCKED, 0, 0),
        MM(W(P(8)), P(1), RW_, PA | NR | MAP_LOCKED, 0, 0), /* EEXIST */
        MLA(VMAR_LINUX_MCL_FUTURE),
        MUL(W(P(8)), P(8)),
        MULA(),
        LIM_LOCK(P(4) + 100),
        ML(W(P(8)), P(3), 0),
        ML(W(P(8)), P(4), 0),  /* relocking is charged what it adds */
        ML(W(P(12)), P(1), 0), /* ENOMEM */
        ML(W(P(6)), P(4), 0),  /* over it and a hole: ENOMEM */
        MM(W(P(20)), P(1), RW_, PA | FX | MAP_LOCKED, 0, 0), /* EAGAIN */
        MM(W(P(8)), P(1), RW_, PA | FX | MAP_LOCKED, 0, 0),  /* charged */
        RE(W(P(8)), P(4), P(5), 0, 0),
        RE(W(P(8)), P(4), P(5), MV, 0),
        RE(W(P(8)), P(2), P(1), 0, 0), /* shrinking: fine */
        MLA(VMAR_LINUX_MCL_FUTURE),
        MM(W(P(20)), P(4), RW_, PA | FX, 0, 0), /* EAGAIN */
        MM(W(P(20)), P(2), RW_, PA | FX, 0, 0),
        BRK(HEAP + P(4)), /* refused */
        MULA(),
        BRK(HEAP + P(4)),
        LIM_LOCK(-1ull),
        ML(W(P(8)), P(12), 0),
        UN(W(P(0)), P(64)),
        END,
    },
    /* mlockall(MCL_FUTURE): errnos, later maps locked (populated, or on
     * fault), brk too; MCL_FUTURE alone keeps what is locked;
     * munlockall ends it all */
    {
        MM(W(P(8)), P(2), RW_, PA | FX, 0, 0),
        MLA(0),
        MLA(VMAR_LINUX_MCL_ONFAULT),
        MLA(8),
        MLA(VMAR_LINUX_MCL_FUTURE),
        MM(W(P(12)), P(2), RW_, PA | FX, 0, 0),
        MM(W(P(16)), P(2), RW_, SA | FX | MAP_POPULATE, 0, 0),
        MM(W(P(20)), P(2), PROT_NONE, PA | FX, 0, 0),
        BRK(HEAP + P(2)),
        MC(W(P(8)), P(16)),
        MC(HEAP, P(2)),
        MLA(VMAR_LINUX_MCL_FUTURE | VMAR_LINUX_MCL_ONFAULT),
        MM(W(P(24)), P(2), RW_, PA | FX, 0, 0),
        MM(W(P(28)), P(2), RW_, PA | FX | MAP_POPULATE, 0, 0),
        MM(W(P(32)), P(2), RW_, PA | FX | MAP_LOCKED, 0, 0),
        MC(W(P(24)), P(12)),
        TW(W(P(25)), 2),
        MC(W(P(24)), P(2)),
        MULA(),
        MM(W(P(40)), P(2), RW_, PA | FX, 0, 0),
        MC(W(P(40)), P(2)),
        AD(W(P(12)), P(2), MADV_DONTNEED),
        BRK(HEAP),
        UN(W(P(0)), P(64)),
        END,
    },
    /* mseal and brk: a sealed heap does not shrink; it still grows */
    {
        BRK(HEAP + P(4)),
        TW(HEAP + 5, 1),
        MS(HEAP, P(4), 0),
        BRK(HEAP + P(2)), /* refused: the old break */
        BRK(HEAP + P(6)), /* a new, unsealed mapping */
        BRK(HEAP + P(5)),
        BRK(HEAP + P(3)),
        MS(HEAP + P(4), P(1), 0),
        BRK(HEAP + P(4)),
        END,
    },
    /* MAP_32BIT: bottom-up below 2 GiB (the window lies inside), a hint
     * that ends at or below 2 GiB, FIXED ignores it, ENOMEM when full */
    {
        MM(0, P(1), RW_, PA | MAP_32BIT, 0, 0), /* lowest: W(0) */
        MM(0, P(2), PROT_READ, PA | MAP_32BIT, 0, 0),
        MM(W(P(100)), P(1), RW_, PA | MAP_32BIT, 0, 0), /* free hint */
        MM(W(P(100)), P(1), RW_, PA | MAP_32BIT, 0, 0), /* busy: lowest */
        MM(W(P(511)), P(2), RW_, PA | MAP_32BIT, 0, 0), /* ends past 2G */
        MM(W(P(511)), P(1), RW_, PA | MAP_32BIT, 0, 0), /* ends at 2G */
        MM(W(P(200)), P(2), RW_, PA | MAP_32BIT | FX, 0, 0),
        MM(W(P(200)), P(1), RW_, PA | MAP_32BIT | NR, 0, 0), /* EEXIST */
        MM(0, P(2), PROT_READ, MAP_SHARED | MAP_32BIT, FD_RW, P(4)),
        MM(0, P(1), PROT_READ, MAP_SHARED_VALIDATE | MAP_32BIT, FD_RW, 0),
        MM(0, P(1), RW_, SA | MAP_32BIT, 0, 0),
        MM(0, P(1), RW_, PA | MAP_32BIT | MAP_POPULATE, 0, 0),
        MM(0, 0, RW_, PA | MAP_32BIT, 0, 0),    /* zero length */
        MM(0, P(1), RW_, PA | MAP_32BIT, 0, 1), /* unaligned offset */
        MM(0, P(1), RW_, MAP_32BIT, FD_BAD, 0), /* EBADF first */
        MM(0, P(1), RW_, MAP_ANONYMOUS | MAP_32BIT, 0, 0), /* no type */
        MM(0, 3ull << 30, RW_, PA | MAP_32BIT | MAP_NORESERVE, 0, 0),
        MM(0, P(600), RW_, PA | MAP_32BIT, 0, 0), /* more than is free */
        RE(W(P(100)), P(1), P(3), MV, 0),         /* MREMAP_MAYMOVE: anywhere */
        MM(W(0), P(512), PROT_READ, PA | FX, 0, 0), /* fill the window */
        MM(0, P(1), RW_, PA | MAP_32BIT, 0, 0),     /* ENOMEM */
        MM(W(P(8)), P(1), RW_, PA | MAP_32BIT, 0, 0),
        MM(0, P(1), RW_, MAP_ANONYMOUS | MAP_32BIT, 0, 0), /* ENOMEM first */
        MM(0, P(1), RW_, MAP_32BIT, FD_BAD, 0),            /* EBADF */
        MM(W(P(8)), P(1), RW_, PA | MAP_32BIT | FX, 0, 0), /* replaces */
        END,
    },
};

static int run_directed(void)
{
    struct world w;
    int fails = 0;
    unsigned rows = 0, dropped = 0;

    memset(&w, 0, sizeof(w));
    for (size_t g = 0; g < sizeof(directed) / sizeof(directed[0]); g++) {
        memset(&w, 0, sizeof(w));
        if (world_open(&w)) {
            world_close(&w);
            return 1;
        }
        lib_snap(&w, &g_sv, 1);
        linux_snap(&w, &g_sl, 1);
        for (const struct op *op = directed[g]; op->kind != OP_QUIT; op++) {
            int r = step(&w, op, 1);
            rows++;
            if (r == 1)
                fails++;
            if (r == 3) { /* the rest of the group is not comparable */
                dropped++;
                break;
            }
            if (r == 2 && op->doc) {
                printf("  documented difference (%s): ", op->doc);
                op_print(stdout, op);
                printf("\n");
                /* Undo what the kernel did so that the rows after it
                 * start from the same state. */
                if (op->kind == OP_MMAP && w.last_linux >= 0) {
                    struct op un = {
                        OP_MUNMAP, {(uint64_t)w.last_linux, op->a[1]}, NULL, 0};
                    (void)linux_call(&w, &un, 0);
                }
            }
        }
        world_close(&w);
    }
    printf("directed: %u rows, %d undocumented differences, %u groups cut "
           "short by a page the kernel dropped from its memfd\n",
           rows, fails, dropped);
    return fails ? 1 : 0;
}

/* ---- random sequences -----------------------------------------------------
 */

static uint64_t rng(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

#define R(n) (rng(s) % (n))

static uint64_t r_len(uint64_t *s, uint64_t at_page)
{
    uint64_t max = NPG - at_page, n = 1 + R(R(4) ? 8 : 40);

    if (n > max)
        n = max;
    if (!R(10))
        return n * PGSZ - R(PGSZ - 1) - 1 + 1; /* unaligned, rounds to n */
    return n * PGSZ;
}

static struct op r_op(uint64_t *s)
{
    struct op op = {0};
    uint64_t pg = R(NPG), len = r_len(s, pg), *a = op.a;
    unsigned k = (unsigned)R(100);

    a[0] = W(P(pg));
    a[1] = len;
    if (!R(25)) {
        /* The lock calls, now and then the limit (mlockall(MCL_CURRENT)
         * is not drawn: docs/LINUX.md). */
        unsigned l = (unsigned)R(16);
        if (l < 7) {
            op.kind = OP_MLOCK;
            a[2] = R(3) ? 0 : R(8) ? VMAR_LINUX_MLOCK_ONFAULT : 2;
        } else if (l < 11) {
            op.kind = OP_MUNLOCK;
        } else if (l < 13) {
            op.kind = OP_MLOCKALL;
            a[0] = R(2) ? VMAR_LINUX_MCL_FUTURE
                        : VMAR_LINUX_MCL_FUTURE | VMAR_LINUX_MCL_ONFAULT;
            if (!R(8))
                a[0] = R(3) ? VMAR_LINUX_MCL_ONFAULT : 0;
        } else if (l < 15) {
            op.kind = OP_MUNLOCKALL;
        } else {
            op.kind = OP_LIMIT_LOCK;
            a[0] = R(3) ? P(R(NPG)) : (uint64_t)-1;
        }
        return op;
    }
    if (k < 26) {
        static const uint64_t prots[] = {PROT_NONE,  PROT_READ,
                                         RW_,        PROT_READ | PROT_EXEC,
                                         PROT_WRITE, RW_ | PROT_EXEC};
        unsigned place = (unsigned)R(20);
        op.kind = OP_MMAP;
        a[2] = prots[R(6)];
        a[3] = R(4) ? MAP_PRIVATE : MAP_SHARED;
        if (!R(40))
            a[3] = R(2) ? 0 : MAP_SHARED_VALIDATE;
        a[3] |= MAP_ANONYMOUS;
        if (!R(6)) {
            a[3] &= ~(uint64_t)MAP_ANONYMOUS;
            a[4] = R(NFD);
            a[5] = P(R(FILEPG));
        }
        if (place < 8)
            a[3] |= MAP_FIXED;
        else if (place < 12)
            a[3] |= MAP_FIXED_NOREPLACE;
        else if (place < 16)
            ; /* hint */
        else
            a[0] = 0;
        if (!R(8))
            a[3] |= MAP_NORESERVE;
        if (!R(8))
            a[3] |= MAP_POPULATE;
        if (!R(12))
            a[3] |= MAP_LOCKED;
        /* MAP_GROWSDOWN is drawn only by the directed table: placement
         * beside grow-down mappings differs by design (docs/LINUX.md). */
        if (!R(30))
            a[3] |= MAP_32BIT;
        if (!R(50))
            a[1] = 0;
    } else if (k < 36) {
        op.kind = OP_MUNMAP;
    } else if (k < 50) {
        static const uint64_t prots[] = {
            PROT_NONE, PROT_READ, RW_, PROT_READ | PROT_EXEC, PROT_WRITE, 0x10};
        op.kind = OP_MPROTECT;
        a[2] = prots[R(6)];
    } else if (k < 60) {
        uint64_t npg = R(NPG), nlen = r_len(s, npg);
        op.kind = OP_MREMAP;
        a[2] = R(3) ? nlen : len;
        a[3] = R(4) ? MREMAP_MAYMOVE : 0;
        if (!R(3)) {
            a[3] |= MREMAP_MAYMOVE | MREMAP_FIXED;
            a[4] = W(P(npg));
            if (a[2] > WEND - a[4])
                a[2] = WEND - a[4];
        } else if (!R(6)) {
            a[3] |= MREMAP_MAYMOVE | MREMAP_DONTUNMAP;
            a[2] = len;
            a[4] = R(2) ? W(P(npg)) : 0;
            if (a[4] && a[2] > WEND - a[4])
                a[4] = 0;
        }
    } else if (k < 72) {
        static const uint64_t adv[] = {
            MADV_NORMAL,        MADV_RANDOM,         MADV_SEQUENTIAL,
            MADV_WILLNEED,      MADV_DONTNEED,       MADV_FREE,
            MADV_DONTFORK,      MADV_DOFORK,         6,
            MADV_POPULATE_READ, MADV_POPULATE_WRITE, MADV_REMOVE,
            MADV_HUGEPAGE,      MADV_NOHUGEPAGE,     MADV_DONTDUMP,
            MADV_DODUMP,        MADV_WIPEONFORK,     MADV_KEEPONFORK,
            MADV_COLD,          MADV_GUARD_INSTALL,  MADV_GUARD_REMOVE};
        /* not PAGEOUT: it reclaims clean file pages (docs/LINUX.md,
         * difference 5) */
        op.kind = OP_MADVISE;
        a[2] = adv[R(sizeof(adv) / sizeof(adv[0]))];
    } else if (k < 76) {
        op.kind = OP_MINCORE;
    } else if (k < 82) {
        op.kind = OP_BRK;
        a[0] = HEAP + R(48 * PGSZ);
        if (!R(8))
            a[0] = R(2) ? 0 : HEAP - PGSZ;
    } else if (k < 90) {
        op.kind = OP_TOUCH_R;
        a[0] = W(P(pg) + R(PGSZ));
        a[1] = 0;
    } else if (k < 99) {
        op.kind = OP_TOUCH_W;
        a[0] = W(P(pg) + R(PGSZ));
        a[1] = R(256);
    } else {
        op.kind = OP_MSEAL; /* rare: a sealed mapping refuses much */
        a[2] = R(16) ? 0 : 1;
    }
    if (op.kind != OP_TOUCH_R && op.kind != OP_TOUCH_W && op.kind != OP_BRK &&
        !R(40)) {
        /* An unaligned address, kept from crossing the window's end,
         * which plays TASK_SIZE only in the layer. */
        uint64_t u = 1 + R(PGSZ - 1);
        a[0] += u;
        if (a[0] >= WIN + PGSZ &&
            a[0] + ((a[1] + PGSZ - 1) & ~(PGSZ - 1)) > WEND)
            a[0] -= PGSZ;
    }
    return op;
}

static int run_random(uint64_t seed, unsigned long nops, unsigned seqlen)
{
    struct world w;
    unsigned long done = 0, seqs = 0, cut = 0, fails = 0, diffs_doc = 0;
    unsigned long dropped = 0;
    unsigned long merge = 0, resyncs = 0, contract = 0;
    uint64_t st = seed;

    printf("random: seed %" PRIu64 " (rerun: lx_diff random --seed %" PRIu64
           " --ops %lu)\n",
           seed, seed, nops);
    while (done < nops) {
        memset(&w, 0, sizeof(w));
        if (world_open(&w)) {
            world_close(&w);
            return 1;
        }
        seqs++;
        lib_snap(&w, &g_sv, 1);
        linux_snap(&w, &g_sl, 1);
        for (unsigned i = 0; i < seqlen && done < nops; i++) {
            struct op op = r_op(&st);
            int r = step(&w, &op, (i % 16) == 15);
            done++;
            if (r == 1) {
                fails++;
                break;
            }
            if (r == 2) {
                cut++;
                break;
            }
            if (r == 3) {
                dropped++;
                break;
            }
        }
        merge += w.doc_merge;
        resyncs += w.resyncs;
        contract += w.contract;
        diffs_doc += w.doc_known;
        world_close(&w);
        if (fails)
            break;
    }
    printf("random: %lu operations in %lu sequences; %lu undocumented "
           "differences; documented: %lu merge-boundary pages, %lu other, "
           "%lu sequences cut short by a merge difference; %lu free "
           "placements compared by contract (%lu followed); %lu sequences "
           "cut short by a page the kernel dropped from its memfd\n",
           done, seqs, fails, merge, diffs_doc, cut, contract, resyncs,
           dropped);
    return fails ? 1 : 0;
}

/* ---- main --------------------------------------------------------------- */

static int read_min_addr(void)
{
    FILE *f = fopen("/proc/sys/vm/mmap_min_addr", "r");
    unsigned long v = 0;

    if (!f || fscanf(f, "%lu", &v) != 1) {
        if (f)
            fclose(f);
        return -1;
    }
    fclose(f);
    g_min_addr = (v + PGSZ - 1) & ~(PGSZ - 1);
    if (!g_min_addr)
        g_min_addr = PGSZ;
    return 0;
}

int main(int argc, char **argv)
{
    struct utsname u;
    uint64_t seed = 1;
    unsigned long nops = 20000;
    unsigned seqlen = 1000;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) {
        fprintf(stderr, "usage: lx_diff directed | random [--seed S] "
                        "[--ops N] [--seqlen L] [-v]\n");
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--ops") && i + 1 < argc)
            nops = strtoul(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--seqlen") && i + 1 < argc)
            seqlen = (unsigned)strtoul(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "-v"))
            verbose = 1;
    }
    if (read_min_addr()) {
        printf("SKIP: cannot read /proc/sys/vm/mmap_min_addr\n");
        return 77;
    }
    if (!strcmp(argv[1], "oracle-child") && argc == 4) {
        child_main(atoi(argv[2]), atoi(argv[3]));
        return 0; /* not reached: child_main exits */
    }
    {
        ssize_t n = readlink("/proc/self/exe", g_self, sizeof(g_self) - 1);
        if (n <= 0 || (size_t)n >= sizeof(g_self) - 1) {
            fprintf(stderr, "lx_diff: cannot read /proc/self/exe\n");
            return 1;
        }
        g_self[n] = 0;
    }
    uname(&u);
    printf("oracle: %s %s %s, mmap_min_addr %#" PRIx64 ", window %#" PRIx64
           "-%#" PRIx64 "\n",
           u.sysname, u.release, u.machine, g_min_addr, WIN, WEND);
    if (!strcmp(argv[1], "directed"))
        return run_directed();
    if (!strcmp(argv[1], "random"))
        return run_random(seed, nops, seqlen);
    return 2;
}

#endif /* __linux__ && __x86_64__ */
