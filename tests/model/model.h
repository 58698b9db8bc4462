/* SPDX-License-Identifier: MIT */
/*
 * A page-granular reference model of a libvmar space, written to be
 * obviously correct rather than fast: one record per page of the user
 * range, and every answer (mapping list, placement, limits) derived from
 * those records by linear scans.
 *
 * Why a flat array over the user range: the differential driver creates
 * spaces whose user range is small (at most MODEL_MAX_PAGES pages), placed
 * anywhere in the sim's address space (low, across a 1 GiB boundary, at
 * user_top). A small range makes exact fits, "no free range" and the
 * limits easy to reach, and a flat array needs no data structure that
 * could itself be wrong.
 *
 * The model follows include/vmar/vmar.h. Where the header is silent the
 * choice is written down next to the code (grep "ASSUMPTION").
 */
#ifndef VMAR_TEST_MODEL_H
#define VMAR_TEST_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vmar/vmar.h>

/* Largest user range the model accepts, in pages (64 MiB). */
#define MODEL_MAX_PAGES 16384u

/* One page. Fork and remap will add fields here (backing identity and
 * offset, copy-on-write state).
 *
 * Content: the driver only ever writes a page's first 8 bytes with a
 * non-zero tag and every other byte with zeros, so a page's content is
 * its tag (the first 8 bytes, little-endian) followed by zeros. A new or
 * demand-zero page has tag 0. */
struct model_page {
    uint8_t mapped;
    uint8_t prot;
    uint8_t max_prot;
    uint8_t populated; /* has a present translation */
    uint16_t flags;    /* kept vmar_map_flags: SHARED, STACK, hints */
    uint8_t pad[2];    /* explicit, so that model_equal's memcmp is sound */
    uint64_t tag;      /* the first 8 bytes; the rest is zero */
    /* Shared anonymous memory: which vmar_map call made its object (each
     * call makes one, as Linux's shmem does; pages of different objects
     * never merge). 0 for private memory. */
    uint64_t object;
    uint64_t objoff; /* byte offset of the page in that object */
};

struct model_cfg {
    vmar_addr_t user_lo, user_hi; /* exact, already defaulted */
    vmar_size_t stack_guard;
    vmar_size_t as_limit; /* 0: none */
    size_t max_map_count; /* 0: VMAR_DEFAULT_MAX_MAP_COUNT */
    bool bottom_up;       /* VMAR_SPACE_BOTTOM_UP */
};

struct model {
    struct model_cfg cfg; /* max_map_count never 0 here */
    size_t npages;
    struct model_page *pg;
    uint64_t objects; /* shared anonymous objects made so far */
    /* Frames each shared anonymous object holds, by id (index 0 unused):
     * a page of it gets its frame on first touch and keeps it while the
     * object lives, mapped or not, as shmem does. */
    size_t *obj_frames;
    size_t obj_cap;
    /* Why the last operation failed ("no fit", "count limit", ...), for
     * divergence reports and the driver's coverage counters. */
    const char *why;
};

/* A mapping as the library must report it: a maximal run of adjacent
 * mapped pages with identical attributes. */
struct model_run {
    vmar_addr_t start, end;
    unsigned prot, max_prot, flags;
    size_t populated; /* pages with a present translation */
    uint64_t offset;  /* object offset of `start` (shared anonymous) */
};

/* 0, or -1 when the range is not page aligned, empty or too large. */
int model_init(struct model *m, const struct model_cfg *cfg);
void model_fini(struct model *m);
/* dst must be initialised with the same geometry (or zeroed: allocates). */
int model_copy(struct model *dst, const struct model *src);
bool model_equal(const struct model *a, const struct model *b);

int model_map(struct model *m, const struct vmar_map_opts *o,
              vmar_addr_t *out_addr);
int model_unmap(struct model *m, vmar_addr_t addr, vmar_size_t size);
int model_protect(struct model *m, vmar_addr_t addr, vmar_size_t size,
                  unsigned prot);
void model_set_limits(struct model *m, vmar_size_t as_limit,
                      size_t max_map_count);
int model_query(const struct model *m, vmar_addr_t addr, struct model_run *out);
int model_resident(const struct model *m, vmar_addr_t lo, vmar_addr_t hi,
                   vmar_size_t *bytes);

/* vmar_fault: 0 (the page is now populated), VMAR_EINVAL, VMAR_ENOENT
 * (no mapping), VMAR_EACCES (the mapping lacks the access's prot). */
int model_fault(struct model *m, vmar_addr_t addr, unsigned access,
                unsigned flags);
/* A user access to [addr, addr+len) page by page, as vmar_read/vmar_write
 * and a simulated CPU do it: each page must be mapped (else VMAR_ENOENT)
 * with `need` in its prot (else VMAR_EACCES) and becomes populated. Stops
 * at the first bad page; *done is the number of bytes before it. The
 * caller handles a wrapping range. Contents are the caller's (tags). */
int model_access(struct model *m, vmar_addr_t addr, uint64_t len, unsigned need,
                 uint64_t *done);
/* Mark a page present (a fault or an access made it so). */
void model_touch(struct model *m, struct model_page *p);
/* The page containing va, or NULL outside the user range. */
struct model_page *model_page_at(struct model *m, vmar_addr_t va);

/* The mapping list: fills out[] (capacity m->npages) and returns the
 * count. */
size_t model_runs(const struct model *m, struct model_run *out);
vmar_size_t model_total_vm(const struct model *m);
size_t model_populated(const struct model *m);
/* Shared anonymous objects still mapped somewhere, and the frames they
 * hold (*frames); *present_shared: present pages that map them. */
size_t model_objects_live(const struct model *m, size_t *frames,
                          size_t *present_shared);

#endif /* VMAR_TEST_MODEL_H */
