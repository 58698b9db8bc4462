/* SPDX-License-Identifier: MIT */
/*
 * libvmar demo: one address space on the simulated machine, changed step
 * by step, printed after each step in /proc/pid/maps format.
 *
 * Read the output top to bottom: every step says what it did and what to
 * look for (a mapping split into three, three merged back into one).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <vmar/sim.h>
#include <vmar/vmar.h>

#define KiB(x) ((vmar_size_t)(x) << 10)

static struct vmar_space *space;
static struct vmar_sim *sim;
static int step;

static void print_line(void *arg, const char *line)
{
    (void)arg;
    printf("    %s\n", line);
}

/* FNV-1a over the layout text: "nothing changed" is measured, not said. */
static void hash_line(void *arg, const char *line)
{
    uint64_t *h = arg;
    for (; *line; line++)
        *h = (*h ^ (unsigned char)*line) * UINT64_C(0x100000001b3);
    *h = (*h ^ '\n') * UINT64_C(0x100000001b3);
}

static uint64_t layout_hash(void)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    vmar_dump(space, hash_line, &h);
    return h;
}

static void show_refusal(const char *what, int rc, uint64_t before)
{
    printf("\n[%d] %s\n    -> refused with %s (%s); layout %s\n", ++step, what,
           vmar_errname(rc), vmar_strerror(rc),
           layout_hash() == before ? "unchanged" : "CHANGED (bug!)");
    if (rc == 0 || layout_hash() != before)
        exit(1);
}

static void show(const char *what, const char *why)
{
    struct vmar_stats st;

    vmar_stats(space, &st);
    printf("\n[%d] %s\n    -> %s\n", ++step, what, why);
    vmar_dump(space, print_line, NULL);
    printf("    (%zu mappings, %llu KiB mapped, %llu KiB resident)\n",
           st.map_count, (unsigned long long)(st.total_vm >> 10),
           (unsigned long long)(st.resident >> 10));
    if (vmar_check(space) != 0) {
        fprintf(stderr, "vmar_check failed after step %d\n", step);
        exit(1);
    }
}

static void must(int rc, const char *call)
{
    if (rc != 0) {
        fprintf(stderr, "%s failed: %s (%s)\n", call, vmar_errname(rc),
                vmar_strerror(rc));
        exit(1);
    }
}

static vmar_addr_t map(vmar_addr_t addr, vmar_size_t size, unsigned prot,
                       enum vmar_place place, unsigned flags)
{
    struct vmar_map_opts o = {.addr = addr,
                              .size = size,
                              .prot = prot,
                              .place = place,
                              .flags = flags};
    vmar_addr_t at = 0;
    must(vmar_map(space, &o, &at), "vmar_map");
    return at;
}

int main(void)
{
    const unsigned R = VMAR_PROT_READ, W = VMAR_PROT_WRITE, X = VMAR_PROT_EXEC;

    must(vmar_sim_create(&(struct vmar_sim_opts){.nframes = 1024}, &sim),
         "vmar_sim_create");
    struct vmar_space_opts so = {
        .env = vmar_sim_env(sim),
        .mmu = &vmar_mmu_sim,
        .mmu_config = sim,
        .stack_guard = KiB(64),
    };
    must(vmar_space_create(&so, &space), "vmar_space_create");
    printf("libvmar demo: a 48-bit user address space [0x%llx, 0x%llx) on "
           "the simulated MMU.\n",
           (unsigned long long)0x10000,
           (unsigned long long)vmar_mmu_sim.user_top);

    map(0x400000, KiB(16), R | X, VMAR_PLACE_FIXED_NOREPLACE, 0);
    map(0x600000, KiB(64), R | W, VMAR_PLACE_FIXED_NOREPLACE,
        VMAR_MAP_POPULATE);
    map(0x700000, KiB(32), R, VMAR_PLACE_FIXED_NOREPLACE, 0);
    map(0, KiB(64), R | W, VMAR_PLACE_ANY, VMAR_MAP_STACK);
    vmar_addr_t anon = map(0, KiB(128), R | W, VMAR_PLACE_ANY, 0);
    show("map: code r-x at 0x400000, data rw- at 0x600000 (populated: 16 "
         "frames allocated now), rodata r-- at 0x700000, then a 64 KiB stack "
         "and 128 KiB placed anywhere",
         "placement without an address is top-down, just below the top of "
         "user space; the 64 KiB gap under the stack is its guard, which "
         "placement keeps free");

    map(0x604000, KiB(16), R, VMAR_PLACE_FIXED, 0);
    show(
        "map FIXED r-- over 0x604000-0x608000, inside the rw- data mapping",
        "the data mapping is cut around it: three mappings where there was "
        "one; the 4 populated pages it replaced were freed (resident -16 KiB)");

    must(vmar_protect(space, anon + KiB(32), KiB(32), R), "vmar_protect");
    show("protect the middle 32 KiB of the 128 KiB anonymous mapping to r--",
         "SPLIT: one mapping became three, because one mapping has one set "
         "of permissions");

    must(vmar_protect(space, anon + KiB(32), KiB(32), R | W), "vmar_protect");
    show("protect the same 32 KiB back to rw-",
         "MERGE: the three pieces are identical again, so they are one "
         "mapping again");

    must(vmar_protect(space, 0x604000, KiB(16), R | W), "vmar_protect");
    show("protect the r-- piece inside the data mapping back to rw-",
         "MERGE across what was a fixed overwrite: the data mapping is whole "
         "again (its replaced pages stay unpopulated)");

    must(vmar_unmap(space, anon + KiB(64), KiB(16)), "vmar_unmap");
    show("unmap 16 KiB in the middle of the anonymous mapping",
         "a hole: the mapping splits into two, with nothing in between");

    uint64_t before = layout_hash();
    struct vmar_map_opts bad = {
        .size = KiB(4), .prot = R | W | X, .deny_prot = X};
    show_refusal("map rwx with exec denied (deny_prot = --x)",
                 vmar_map(space, &bad, NULL), before);
    show_refusal("protect 0x400000-0x800000 to r-- (the range has holes)",
                 vmar_protect(space, 0x400000, KiB(4096), R), before);
    printf("    (Linux would have changed the mappings before the first "
           "hole; libvmar checks first and changes nothing)\n");
    show_refusal(
        "map FIXED_NOREPLACE at 0x700000 (occupied)",
        vmar_map(space,
                 &(struct vmar_map_opts){.addr = 0x700000,
                                         .size = KiB(4),
                                         .prot = R,
                                         .place = VMAR_PLACE_FIXED_NOREPLACE},
                 NULL),
        before);

    struct vmar_sim_stats st;
    vmar_space_destroy(space);
    vmar_sim_stats(sim, &st);
    printf("\nspace destroyed: %zu frames, %zu page-table pages and %zu "
           "metadata blocks still allocated.\n",
           st.frames_live, st.tables_live, st.allocs_live);
    vmar_sim_destroy(sim);
    return st.frames_live || st.tables_live || st.allocs_live ? 1 : 0;
}
