/* SPDX-License-Identifier: MIT */
/**
 * @file types.h
 * @brief Basic types and constants shared by every libvmar header.
 *
 * Freestanding: only the compiler's own <stdint.h>, <stddef.h> and
 * <stdbool.h> are used, so kernels can include this without a libc.
 */
#ifndef VMAR_TYPES_H
#define VMAR_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A virtual address in the managed address space. */
typedef uint64_t vmar_addr_t;
/** A length in bytes of a virtual range. */
typedef uint64_t vmar_size_t;
/** A physical address, as the embedder's frame allocator hands it out. */
typedef uint64_t vmar_paddr_t;

/** log2 of the base page size. */
#define VMAR_PAGE_SHIFT 12u
/** Base page size: every address, size and offset is a multiple of it. */
#define VMAR_PAGE_SIZE ((vmar_size_t)1 << VMAR_PAGE_SHIFT)

/**
 * Access permissions. The values are Linux's PROT_* values so a syscall
 * layer can pass them through. Hardware that cannot express a combination
 * (RISC-V: W without R is reserved) widens it in the backend; the space
 * always reports what the caller asked for.
 */
enum vmar_prot {
    VMAR_PROT_NONE = 0,
    VMAR_PROT_READ = 1u << 0,
    VMAR_PROT_WRITE = 1u << 1,
    VMAR_PROT_EXEC = 1u << 2,
    VMAR_PROT_RWX = VMAR_PROT_READ | VMAR_PROT_WRITE | VMAR_PROT_EXEC,
};

#ifdef __cplusplus
}
#endif

#endif /* VMAR_TYPES_H */
