/* SPDX-License-Identifier: MIT */
/*
 * The x86-64 half of the test kernel: descriptor tables, the serial port,
 * the exit device, page-fault glue and the kernel half of user spaces.
 *
 * Memory (QEMU -m 128M): the kernel at 1 MiB, the frame pool 8..64 MiB,
 * the huge-page scenario's RAM at 64 MiB. The kernel reaches physical
 * memory below 1 GiB at KVA + pa (boot.S).
 *
 * Per CPU (x86_64/smp.c starts the others): a TSS and its GDT slot, a
 * trap stack, GS base pointing at the CPU's struct k_cpu. Interrupts are
 * on in the kernel and in ring 3 (shootdown IPIs must get through while a
 * CPU spins on a lock); only the IPI itself runs with them off.
 */
#include <vmar/x86_64.h>

#include "kernel.h"
#include "x86.h"

#define KVA     0xffffffff80000000ull
#define PTE_P   1ull
#define PTE_PS  (1ull << 7)
#define PTE_ADR 0x000ffffffffff000ull

/* Linked (and used) at their load address, in the low identity map that
 * user spaces lack: reach them through arch_phys_to_virt(boot_cr3()). */
extern uint64_t boot_pml4[512], boot_pml5[512];
extern const uint64_t trap_vectors[25];
uint64_t user_enter(uint64_t rip, uint64_t arg0, uint64_t arg1);
_Noreturn void user_return(uint64_t v);
void arch_main(uint64_t mbi);
struct frame;
void trap(struct frame *f);

const vmar_paddr_t arch_device_pa = 0xb8000; /* VGA text buffer */
const enum vmar_cache arch_device_cache = VMAR_CACHE_UC;
const vmar_paddr_t arch_huge_pa = 64u << 20;

static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
    uint8_t v;

    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

void x86_wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr"
                     :
                     : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

struct k_cpu *arch_this_cpu(void)
{
    struct k_cpu *c;

    __asm__ volatile("mov %%gs:0, %0" : "=r"(c));
    return c;
}

void *arch_phys_to_virt(vmar_paddr_t pa)
{
    if (pa >= (1ull << 30))
        k_panic("phys_to_virt beyond the 1 GiB direct map");
    return (void *)(uintptr_t)(KVA + pa);
}

void arch_putc(char c)
{
    while (!(inb(0x3fd) & 0x20)) /* LSR: THR empty */
        ;
    outb(0x3f8, (uint8_t)c);
}

/* isa-debug-exit (iobase 0xf4): QEMU exits with (v << 1) | 1, so pass is
 * 33 and fail 35; a triple fault would exit 0, never a pass. */
_Noreturn void arch_exit(bool pass)
{
    outb(0xf4, pass ? 0x10 : 0x11);
    for (;;)
        __asm__ volatile("cli; hlt");
}

/* ---- descriptor tables ---------------------------------------------- */

struct tss {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
} __attribute__((packed));

static struct tss tss[K_MAX_CPUS];
static _Alignas(16) uint64_t gdt[5 + 2 * K_MAX_CPUS] = {
    0,
    0x00af9a000000ffff, /* 0x08 kernel code, 64-bit */
    0x00cf92000000ffff, /* 0x10 kernel data */
    0x00cff2000000ffff, /* 0x18 user data, DPL 3 */
    0x00affa000000ffff, /* 0x20 user code, 64-bit, DPL 3 */
    /* 0x28 + 16 * cpu: the CPU's TSS, 16 bytes, filled in at run time */
};
static _Alignas(16) uint64_t idt[256][2];
/* Traps from ring 3 land here (TSS.RSP0), never on the kernel stack that
 * user_enter parked; one per CPU. */
static _Alignas(16) unsigned char trap_stack[K_MAX_CPUS][16384];

struct __attribute__((packed)) dtr {
    uint16_t limit;
    uint64_t base;
};

static void idt_set(unsigned vec, uint64_t handler, unsigned dpl)
{
    idt[vec][0] = (handler & 0xffff) | (0x08ull << 16) |
                  ((uint64_t)(0x8e | dpl << 5) << 40) |
                  ((handler >> 16 & 0xffff) << 48);
    idt[vec][1] = handler >> 32;
}

/* Load the GDT at its kernel-half address (the boot GDT sits in the low
 * identity map, which user spaces lack), the CPU's TSS, the IDT and the
 * GS base (k_cpu). */
static void descriptors_init(struct k_cpu *cpu)
{
    unsigned id = cpu->id;
    struct tss *t = &tss[id];
    uint64_t base = (uint64_t)(uintptr_t)t;
    struct dtr g = {sizeof(gdt) - 1, (uint64_t)(uintptr_t)gdt};
    struct dtr i = {sizeof(idt) - 1, (uint64_t)(uintptr_t)idt};

    cpu->self = cpu;
    x86_wrmsr(0xc0000101, (uint64_t)(uintptr_t)cpu); /* IA32_GS_BASE */
    cpu->trap_top = (uint64_t)(uintptr_t)(trap_stack[id] + 16384);
    t->rsp[0] = cpu->trap_top;
    t->iomap_base = sizeof(*t); /* no I/O bitmap: ring 3 has no ports */
    gdt[5 + 2 * id] = (sizeof(*t) - 1) | (base & 0xffffff) << 16 |
                      0x89ull << 40 | (base >> 24 & 0xff) << 56;
    gdt[6 + 2 * id] = base >> 32;
    if (id == 0) {
        for (unsigned v = 0; v < 22; v++)
            idt_set(v, trap_vectors[v], 0);
        idt_set(0x80, trap_vectors[22], 3); /* the user program's int $0x80 */
        idt_set(K_IPI_VECTOR, trap_vectors[23], 0);
        idt_set(0xff, trap_vectors[24], 0); /* APIC spurious */
    }
    __asm__ volatile("lgdt %0\n\t"
                     "pushq $0x08\n\t"
                     "leaq 1f(%%rip), %%rax\n\t"
                     "pushq %%rax\n\t"
                     "lretq\n"
                     "1:\n\t"
                     "ltr %w1\n\t"
                     "lidt %2"
                     :
                     : "m"(g), "r"(0x28 + 16 * id), "m"(i)
                     : "rax", "memory");
}

/* ---- spaces ---------------------------------------------------------- */

static bool la57, has_1g;
bool x86_pcid;

const struct vmar_mmu_ops *arch_mmu(void)
{
    return la57 ? &vmar_mmu_x86_64_5l : &vmar_mmu_x86_64_4l;
}

/* A space's root table, and in *cr3 (when not NULL) the value to load. */
static uint64_t *root_of(struct vmar_space *s, uint64_t *cr3)
{
    struct vmar_mmu_activation act;

    if (vmar_space_activation(s, &act) != 0)
        k_panic("no activation for the space");
    if (cr3 != NULL)
        *cr3 = act.value;
    return arch_phys_to_virt(act.root);
}

/* The boot table: the kernel's own root (its symbol is its physical
 * address, boot.S links it in the low identity map). */
static uint64_t boot_cr3(void)
{
    return (uint64_t)(uintptr_t)(la57 ? boot_pml5 : boot_pml4);
}

/*
 * The config of every space. kernel_root is the boot table: libvmar
 * copies its upper half (PML4 or PML5 entries 256..511, here only 511,
 * which maps the kernel at KVA) into each new root and never walks, frees
 * or changes what those entries point to, so every space shares the
 * kernel's tables. boot.S built them before the first space exists and
 * nothing changes them later, as vmar_x86_64_config::kernel_root asks.
 */
/* With PCIDs (CR4.PCIDE, where CPUID offers them: -cpu max) each space
 * gets its own, fresh one (x86_pcid_fresh marks it stale on every CPU, so
 * a CPU's first switch to it drops whatever an earlier owner left). */
static struct vmar_x86_64_config space_config(struct k_slot *slot)
{
    if (x86_pcid) {
        slot->tag = k_tag_new(VMAR_X86_64_PCID_MAX);
        x86_pcid_fresh(slot->tag);
    }
    return (struct vmar_x86_64_config){
        .no_1g_pages = !has_1g, .kernel_root = boot_cr3(), .pcid = slot->tag};
}

int arch_space_create(struct vmar_space **out)
{
    struct k_slot *slot = k_slot_new();
    struct vmar_x86_64_config cfg = space_config(slot);
    int rc = vmar_space_create(&(struct vmar_space_opts){.env = &k_env,
                                                         .mmu = arch_mmu(),
                                                         .mmu_config = &cfg,
                                                         .lock = &slot->lock},
                               out);

    return k_slot_commit(slot, rc, out);
}

int arch_space_fork(struct vmar_space *parent, struct vmar_space **out)
{
    struct k_slot *slot = k_slot_new();
    struct vmar_x86_64_config cfg = space_config(slot);
    int rc = vmar_fork(
        parent,
        &(struct vmar_fork_opts){.mmu_config = &cfg, .lock = &slot->lock}, out);

    return k_slot_commit(slot, rc, out);
}

/* Load the space's CR3. With PCIDs, bit 63 keeps what the TLB holds for
 * the PCID unless a shootdown marked it stale while it was not current
 * here (x86_pcid_take). */
void arch_switch(struct vmar_space *s)
{
    uint64_t cr3 = boot_cr3(), flags;

    if (s != NULL)
        root_of(s, &cr3);
    /* No shootdown between the look at the mark and the load. */
    __asm__ volatile("pushf; pop %0; cli" : "=r"(flags) : : "memory");
    if (s != NULL && x86_pcid && !x86_pcid_take(cr3 & VMAR_X86_64_PCID_MAX))
        cr3 |= 1ull << 63;
    k_current = s;
    __asm__ volatile("mov %0, %%cr3" : : "r"(cr3) : "memory");
    if (flags & 0x200)
        __asm__ volatile("sti");
}

/* vmar_space_destroy frees the lower half's tables and leaves the
 * kernel's alone (kernel_root); no CPU may be using the table. */
void arch_space_destroy(struct vmar_space *s)
{
    if (k_current == s)
        arch_switch(NULL);
    for (unsigned i = 0; i < k_ncpus; i++)
        if (k_cpus[i].current == s)
            k_panic("destroying a space another CPU runs");
    k_slot_free(k_slot_of(s));
    vmar_space_destroy(s);
}

int arch_leaf_level(struct vmar_space *s, vmar_addr_t va)
{
    uint64_t *t = root_of(s, NULL);

    for (int level = la57 ? 4 : 3; level >= 0; level--) {
        uint64_t e = t[(va >> (12 + 9 * level)) & 511];

        if (!(e & PTE_P))
            return -1;
        if (level == 0 || (e & PTE_PS))
            return level;
        t = arch_phys_to_virt(e & PTE_ADR);
    }
    return -1;
}

/* ---- user mode and traps -------------------------------------------- */

struct frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, err, rip, cs, rflags, rsp, ss;
};

int arch_user_op(enum uop op, vmar_addr_t addr, uint64_t val, uint64_t *out)
{
    struct k_cpu *cpu = arch_this_cpu();
    uint64_t v;

    cpu->user_fault = 0;
    cpu->fault_streak = 0;
    cpu->exec_target = op == UOP_EXEC ? addr : 0;
    v = user_enter(UCODE_VA + UCODE_STRIDE * (unsigned)op, addr, val);
    cpu->exec_target = 0;
    if (cpu->user_fault != 0)
        return cpu->user_fault;
    if (out != NULL)
        *out = v;
    return 0;
}

/*
 * #PF from ring 3: the glue of docs/PORTING.md section 7. On 0 the CPU
 * retries the instruction; an error ends the user run and is reported to
 * arch_user_op (a real kernel would send SIGSEGV). int $0x80 ends the run
 * normally with the loaded value in rax. Anything else is a kernel bug.
 */
void trap(struct frame *f)
{
    struct k_cpu *cpu;
    uint64_t cr2;

    if (f->vector == K_IPI_VECTOR) { /* interrupts stay off */
        x86_ipi();
        return;
    }
    if (f->vector == 0xff) /* spurious: no EOI */
        return;
    __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
    cpu = arch_this_cpu();
    /* UOP_EXEC: any trap but the fetch's own page fault at the target
     * means the instruction there was fetched. */
    if ((f->cs & 3) == 3 && f->rip == cpu->exec_target &&
        !(f->vector == 14 && (f->err & 0x10)))
        user_return(0);
    if ((f->cs & 3) == 3 && f->vector == 14) {
        unsigned access = (f->err & 0x10)  ? VMAR_ACCESS_EXEC
                          : (f->err & 0x2) ? VMAR_ACCESS_WRITE
                                           : VMAR_ACCESS_READ;
        int rc;

        /* With interrupts on: vmar_fault may spin on a lock whose holder
         * waits for this CPU to acknowledge a shootdown. */
        __asm__ volatile("sti");
        rc = k_user_fault(cr2, access); /* vmar_fault, counted */
        __asm__ volatile("cli");
        if (rc == 0)
            return;
        cpu->user_fault = rc;
        user_return(0);
    }
    if ((f->cs & 3) == 3 && f->vector == 0x80)
        user_return(f->rax);
    k_puts("trap ");
    k_puthex(f->vector);
    k_puts(" err ");
    k_puthex(f->err);
    k_puts(" rip ");
    k_puthex(f->rip);
    k_puts(" cr2 ");
    k_puthex(cr2);
    arch_putc('\n');
    k_panic("unexpected trap");
}

/* VGA text memory: what user mode stores, the device holds. */
const char *arch_device_test(vmar_addr_t va)
{
    const uint64_t cells = 0x2f4b2f4f2f202f55; /* "U OK", white on green */
    uint64_t v = 0;

    if (arch_user_op(UOP_STORE64, va, cells, NULL) != 0 ||
        arch_user_op(UOP_LOAD64, va, 0, &v) != 0)
        return "device access faulted";
    if (v != cells)
        return "device read back differs";
    if (*(volatile uint64_t *)arch_phys_to_virt(arch_device_pa) != cells)
        return "device memory differs";
    return NULL;
}

/* What every CPU sets up for itself: descriptors, GS, the PAT, PCIDs.
 * Leaves interrupts off. */
static void cpu_init(struct k_cpu *cpu)
{
    descriptors_init(cpu);
    /* IA32_PAT as Linux programs it, as x86_64.h asks: PAT0 WB, PAT1 WC,
     * PAT2 UC-, PAT3 UC, PAT4 WB, PAT5 WP, PAT6 UC-, PAT7 WT. */
    x86_wrmsr(0x277, 0x0407050600070106ull);
    if (x86_pcid) { /* CR4.PCIDE; CR3's PCID is 0 on the boot tables */
        uint64_t cr4;

        __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
        __asm__ volatile("mov %0, %%cr4" : : "r"(cr4 | 1ull << 17));
    }
}

/* An application processor, from ap_start64 (boot.S) on its boot stack. */
_Noreturn void arch_ap_init(struct k_cpu *cpu);
_Noreturn void arch_ap_init(struct k_cpu *cpu)
{
    cpu_init(cpu);
    x86_apic_init();
    __asm__ volatile("sti"); /* shootdown IPIs */
    k_ap_main(cpu);
}

/* The boot tables' value for an AP's CR3 (below 4 GiB), and CR4 as the
 * trampoline sets it before paging: PAE, and LA57 when the boot CPU has
 * it. */
uint32_t x86_boot_cr3(void)
{
    return (uint32_t)boot_cr3();
}

uint32_t x86_boot_cr4(void)
{
    return 1u << 5 | (la57 ? 1u << 12 : 0);
}

static const char *cmdline;

/* Multiboot's cmdline: the kernel's file name, a space, -append. */
void arch_cmdline(const char **text, size_t *len)
{
    size_t n = 0;

    while (cmdline != NULL && cmdline[n] != 0)
        n++;
    *text = cmdline;
    *len = n;
}

void arch_main(uint64_t mbi)
{
    const uint32_t *info = arch_phys_to_virt(mbi);
    uint32_t a, b, c, d;
    uint64_t cr4;

    if (info[0] & (1u << 2)) /* flags: cmdline valid */
        cmdline = arch_phys_to_virt(info[4]);
    __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
    la57 = (cr4 >> 12) & 1;
    __asm__ volatile("cpuid"
                     : "=a"(a), "=b"(b), "=c"(c), "=d"(d)
                     : "a"(0x80000001u), "c"(0));
    has_1g = (d >> 26) & 1; /* CPUID.80000001H:EDX.Page1GB */
    __asm__ volatile("cpuid"
                     : "=a"(a), "=b"(b), "=c"(c), "=d"(d)
                     : "a"(1u), "c"(0));
    x86_pcid = (c >> 17) & 1; /* CPUID.01H:ECX.PCID */
    k_cpus[0].id = 0;
    cpu_init(&k_cpus[0]);
    k_env_init(8u << 20, 64u << 20);
    arch_smp_start();
    k_run_scenarios();
}
