/* SPDX-License-Identifier: MIT */
/*
 * A tiny program outside libvmar that uses it as an installed (or
 * add_subdirectory'd) library: create a sim machine and a space, map, check,
 * query, unmap, destroy. The packaging tests build it against the install
 * tree with find_package and with pkg-config, and from the source tree with
 * add_subdirectory and FetchContent, then run it.
 */
#include <stdio.h>
#include <vmar/linux.h>
#include <vmar/sim.h>
#include <vmar/version.h>
#include <vmar/vmar.h>

#define CHECK(call)                                                            \
    do {                                                                       \
        int rc_ = (call);                                                      \
        if (rc_ != 0) {                                                        \
            fprintf(stderr, "consumer: %s: %s\n", #call, vmar_errname(rc_));   \
            return 1;                                                          \
        }                                                                      \
    } while (0)

int main(void)
{
    struct vmar_sim *sim;
    struct vmar_space *as;
    struct vmar_mapping_info info;
    vmar_addr_t addr;

    if (vmar_version_number() != VMAR_VERSION_NUMBER) {
        fprintf(stderr, "consumer: headers %s, library %s\n",
                VMAR_VERSION_STRING, vmar_version());
        return 1;
    }
    CHECK(vmar_sim_create(&(struct vmar_sim_opts){0}, &sim));
    CHECK(vmar_space_create(
        &(struct vmar_space_opts){
            .env = vmar_sim_env(sim),
            .mmu = &vmar_mmu_sim,
            .mmu_config = sim,
        },
        &as));
    CHECK(vmar_map(as,
                   &(struct vmar_map_opts){
                       .size = 16 * VMAR_PAGE_SIZE,
                       .prot = VMAR_PROT_READ | VMAR_PROT_WRITE,
                       .flags = VMAR_MAP_POPULATE,
                   },
                   &addr));
    CHECK(vmar_check(as));
    CHECK(vmar_query(as, addr + VMAR_PAGE_SIZE, &info));
    if (info.start != addr || info.end != addr + 16 * VMAR_PAGE_SIZE) {
        fprintf(stderr, "consumer: query returned the wrong mapping\n");
        return 1;
    }
    CHECK(vmar_unmap(as, addr, 16 * VMAR_PAGE_SIZE));
    CHECK(vmar_check(as));
    {
        /* The Linux layer (vmar::linux, -lvmar_linux): an anonymous
         * mmap(PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS) and
         * its munmap, with Linux's flag values. */
        struct vmar_linux_mm mm;
        long a;
        CHECK(vmar_linux_mm_init(&mm, as, vmar_sim_env(sim), addr, 0));
        a = vmar_linux_mmap(&mm, 0, 4 * VMAR_PAGE_SIZE, 0x3, 0x22, NULL, 0);
        if (a < 0 || vmar_linux_munmap(&mm, (uint64_t)a, 4 * VMAR_PAGE_SIZE)) {
            fprintf(stderr, "consumer: the Linux layer failed (%ld)\n", a);
            return 1;
        }
    }
    vmar_space_destroy(as);
    vmar_sim_destroy(sim);
    printf("consumer: libvmar %s OK\n", vmar_version());
    return 0;
}
