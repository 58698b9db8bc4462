/* SPDX-License-Identifier: MIT */
/*
 * The RISC-V half of the test kernel: console and exit device, the mode
 * choice, page-fault glue and the kernel half of user spaces.
 *
 * Memory (QEMU virt, -m 128M, RAM at 0x80000000): OpenSBI below
 * 0x80200000, the kernel from 0x80200000, the frame pool 0x80800000 to
 * 0x84000000, the huge-page scenario's RAM at 0x84000000, the DTB near
 * the top. The kernel reaches physical 0..4 GiB at KOFF + pa (boot.S).
 *
 * Per hart (riscv64/smp.c starts the others): a trap stack whose top word
 * names the hart's struct k_cpu, which is also tp in the kernel.
 * Interrupts stay off in S-mode and U-mode: the shootdown is the SBI's
 * remote fence, which the other harts serve in M-mode.
 */
#include <vmar/riscv64.h>

#include "kernel.h"
#include "rv.h"

#define KOFF     0xffffffc000000000ull
#define PTE_V    1ull
#define PTE_RWX  0xeull
#define PTE_PPN  0x003ffffffffffc00ull
#define UART     0x10000000u /* NS16550A */
#define SIFIVE_T 0x100000u   /* SiFive test device: exit */

extern uint64_t boot_l2[512], boot_l3[512], boot_l4[512];
uint64_t user_enter(uint64_t pc, uint64_t arg0, uint64_t arg1);
_Noreturn void user_return(uint64_t v);
void arch_main(uint64_t hartid, uint64_t dtb);
struct frame;
void trap(struct frame *f);

const vmar_paddr_t arch_device_pa = UART;
/* UC is Svpbmt's IO type: it needs -cpu rv64,svpbmt=on and menvcfg.PBMTE,
 * which OpenSBI sets when the hart has Svpbmt. */
const enum vmar_cache arch_device_cache = VMAR_CACHE_UC;
const vmar_paddr_t arch_huge_pa = 0x84000000;

/* One reader per CSR: the CSR name is part of the instruction. */
#define CSR_READER(csr)                                                        \
    static inline uint64_t read_##csr(void)                                    \
    {                                                                          \
        uint64_t v;                                                            \
        __asm__ volatile("csrr %0, " #csr : "=r"(v));                          \
        return v;                                                              \
    }
CSR_READER(scause)
CSR_READER(stval)
CSR_READER(sepc)
CSR_READER(sstatus)

void *arch_phys_to_virt(vmar_paddr_t pa)
{
    if (pa >= (4ull << 30))
        k_panic("phys_to_virt beyond the 4 GiB direct map");
    return (void *)(uintptr_t)(KOFF + pa);
}

void arch_putc(char c)
{
    volatile uint8_t *uart = arch_phys_to_virt(UART);

    while (!(uart[5] & 0x20)) /* LSR: THR empty */
        ;
    uart[0] = (uint8_t)c;
}

/* SiFive test device: 0x5555 exits with status 0, (code << 16) | 0x3333
 * with status code. Status 0 is also what a shutdown or reset gives, so
 * run.sh also wants "ALL PASS". */
_Noreturn void arch_exit(bool pass)
{
    *(volatile uint32_t *)arch_phys_to_virt(SIFIVE_T) =
        pass ? 0x5555u : (1u << 16) | 0x3333u;
    for (;;)
        __asm__ volatile("wfi");
}

/* ---- spaces ---------------------------------------------------------- */

static const struct vmar_mmu_ops *mmu = &vmar_mmu_riscv64_sv48;
static unsigned levels = 4;

const struct vmar_mmu_ops *arch_mmu(void)
{
    return mmu;
}

static uint64_t *boot_root(void)
{
    return levels == 3 ? boot_l2 : levels == 4 ? boot_l3 : boot_l4;
}

/* A space's root table, and in *satp (when not NULL) the value to load. */
static uint64_t *root_of(struct vmar_space *s, uint64_t *satp)
{
    struct vmar_mmu_activation act;

    if (vmar_space_activation(s, &act) != 0)
        k_panic("no activation for the space");
    if (satp != NULL)
        *satp = act.value;
    return arch_phys_to_virt(act.root);
}

/*
 * The config of every space. kernel_root is the boot table of the mode
 * (physical: the kernel runs at KOFF + pa): libvmar copies the upper half
 * of its root (entries 256..511; the kernel's are 256..259 in Sv39 and
 * 511 in Sv48 and Sv57) into each new root and never walks, frees or
 * changes what those entries point to, so every space shares the
 * kernel's tables. boot.S built them before the first space exists and
 * nothing changes them later, as vmar_riscv64_config::kernel_root asks.
 */
static struct vmar_riscv64_config space_config(struct k_slot *slot)
{
    if (rv_asid_max != 0) {
        slot->tag = k_tag_new(rv_asid_max);
        rv_asid_fresh(slot->tag);
    }
    return (struct vmar_riscv64_config){
        .kernel_root = (uintptr_t)boot_root() - KOFF, .asid = slot->tag};
}

int arch_space_create(struct vmar_space **out)
{
    struct k_slot *slot = k_slot_new();
    struct vmar_riscv64_config cfg = space_config(slot);
    int rc = vmar_space_create(
        &(struct vmar_space_opts){
            .env = &k_env, .mmu = mmu, .mmu_config = &cfg, .lock = &slot->lock},
        out);

    return k_slot_commit(slot, rc, out);
}

int arch_space_fork(struct vmar_space *parent, struct vmar_space **out)
{
    struct k_slot *slot = k_slot_new();
    struct vmar_riscv64_config cfg = space_config(slot);
    int rc = vmar_fork(
        parent,
        &(struct vmar_fork_opts){.mmu_config = &cfg, .lock = &slot->lock}, out);

    return k_slot_commit(slot, rc, out);
}

/* With ASIDs (rv_asid_max > 0) each space has its own and a switch keeps
 * the TLB: a fresh ASID was fenced on every hart (rv_asid_fresh), and the
 * shootdowns keep it coherent since. Without, every switch fences all. */
void arch_switch(struct vmar_space *s)
{
    uint64_t satp = 8ull << 60 | ((uintptr_t)boot_l2 - KOFF) >> 12;

    if (s != NULL)
        root_of(s, &satp);
    k_current = s;
    __asm__ volatile("csrw satp, %0" : : "r"(satp) : "memory");
    if (rv_asid_max == 0)
        __asm__ volatile("sfence.vma" : : : "memory");
}

/* vmar_space_destroy frees the lower half's tables and leaves the
 * kernel's alone (kernel_root); no hart may be using the table. */
void arch_space_destroy(struct vmar_space *s)
{
    if (k_current == s)
        arch_switch(NULL);
    for (unsigned i = 0; i < k_ncpus; i++)
        if (k_cpus[i].current == s)
            k_panic("destroying a space another hart runs");
    k_slot_free(k_slot_of(s));
    vmar_space_destroy(s);
}

int arch_leaf_level(struct vmar_space *s, vmar_addr_t va)
{
    uint64_t *t = root_of(s, NULL);

    for (int level = (int)levels - 1; level >= 0; level--) {
        uint64_t e = t[(va >> (12 + 9 * level)) & 511];

        if (!(e & PTE_V))
            return -1;
        if (e & PTE_RWX)
            return level;
        t = arch_phys_to_virt((e & PTE_PPN) << 2);
    }
    return -1;
}

/* ---- user mode and traps -------------------------------------------- */

struct frame {
    uint64_t x[32]; /* x[2]: the interrupted sp */
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

struct k_cpu *arch_this_cpu(void)
{
    struct k_cpu *c;

    __asm__ volatile("mv %0, tp" : "=r"(c));
    return c;
}

/*
 * A page fault from U-mode (scause 12 fetch, 13 load, 15 store/AMO): the
 * glue of docs/PORTING.md section 7. On 0 sret retries the instruction;
 * an error ends the user run and is reported to arch_user_op (a real
 * kernel would send SIGSEGV). ecall from U-mode (8) ends the run normally
 * with the loaded value in a0. Anything else is a kernel bug.
 */
void trap(struct frame *f)
{
    uint64_t cause = read_scause(), tval = read_stval();
    bool user = !(read_sstatus() & (1u << 8)); /* SPP */
    struct k_cpu *cpu = arch_this_cpu();

    /* UOP_EXEC: any trap but the fetch's own page fault at the target
     * means the instruction there was fetched. */
    if (user && read_sepc() == cpu->exec_target && cause != 12)
        user_return(0);
    if (user && (cause == 12 || cause == 13 || cause == 15)) {
        unsigned access = cause == 12   ? VMAR_ACCESS_EXEC
                          : cause == 13 ? VMAR_ACCESS_READ
                                        : VMAR_ACCESS_WRITE;
        int rc = k_user_fault(tval, access); /* vmar_fault, counted */
        if (rc == 0)
            return;
        cpu->user_fault = rc;
        user_return(0);
    }
    if (user && cause == 8)
        user_return(f->x[10]);
    k_puts("trap scause ");
    k_puthex(cause);
    k_puts(" sepc ");
    k_puthex(read_sepc());
    k_puts(" stval ");
    k_puthex(tval);
    arch_putc('\n');
    k_panic("unexpected trap");
}

/* The UART from U-mode: LSR says the transmitter is idle, and a line
 * written to THR appears on the console. */
const char *arch_device_test(vmar_addr_t va)
{
    const char *p = "[U-mode: written through the device mapping]\n";
    uint64_t lsr = 0;

    if (arch_user_op(UOP_LOAD8, va + 5, 0, &lsr) != 0)
        return "LSR read faulted";
    if (!(lsr & 0x20))
        return "LSR: THR not empty";
    for (; *p; p++)
        if (arch_user_op(UOP_STORE8, va, (uint8_t)*p, NULL) != 0)
            return "THR write faulted";
    return NULL;
}

static const char *dtb_text;
static size_t dtb_len;

void arch_cmdline(const char **text, size_t *len)
{
    *text = dtb_text;
    *len = dtb_len;
}

/* The mode comes from QEMU's -append, which lands in the DTB's
 * /chosen/bootargs: "vmar.mode=sv39" or "sv57"; Sv48 otherwise. A byte
 * search is enough: no other DTB string contains "vmar.mode=". */
static void choose_mode(uint64_t dtb)
{
    const unsigned char *d = arch_phys_to_virt(dtb);
    size_t size = (size_t)d[4] << 24 | (size_t)d[5] << 16 | (size_t)d[6] << 8 |
                  d[7]; /* totalsize, big endian */
    static const char key[] = "vmar.mode=sv";

    dtb_text = (const char *)d;
    dtb_len = size;
    for (size_t i = 0; i + sizeof(key) + 1 < size; i++) {
        if (memcmp(d + i, key, sizeof(key) - 1) != 0)
            continue;
        if (memcmp(d + i + sizeof(key) - 1, "39", 2) == 0) {
            mmu = &vmar_mmu_riscv64_sv39;
            levels = 3;
        } else if (memcmp(d + i + sizeof(key) - 1, "57", 2) == 0) {
            mmu = &vmar_mmu_riscv64_sv57;
            levels = 5;
        }
        return;
    }
}

/* Per hart: the trap stack (its top word names the hart's k_cpu), tp. */
static _Alignas(16) unsigned char trap_stacks[K_MAX_CPUS][16384];

static void cpu_init(struct k_cpu *cpu)
{
    uint64_t top = (uint64_t)(uintptr_t)(trap_stacks[cpu->id] + 16384 - 16);

    cpu->self = cpu;
    *(struct k_cpu **)(uintptr_t)top = cpu;
    cpu->trap_top = top;
    __asm__ volatile("mv tp, %0\n\tcsrw sscratch, %1"
                     :
                     : "r"(cpu), "r"(top)
                     : "memory");
}

/* A secondary hart, from ap_start (boot.S) on its boot stack. */
_Noreturn void arch_ap_init(struct k_cpu *cpu);
_Noreturn void arch_ap_init(struct k_cpu *cpu)
{
    cpu_init(cpu);
    k_ap_main(cpu);
}

void arch_main(uint64_t hartid, uint64_t dtb)
{
    k_cpus[0].hw_id = (unsigned)hartid;
    cpu_init(&k_cpus[0]);
    choose_mode(dtb);
    k_env_init(0x80800000, 0x84000000);
    arch_smp_start();
    k_run_scenarios();
}
