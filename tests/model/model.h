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

/* One page.
 *
 * Content: the driver only ever writes a page's first 8 bytes with a
 * non-zero tag and every other byte with zeros, so a page's content is
 * its tag (the first 8 bytes, little-endian) followed by zeros. A new or
 * demand-zero page has tag 0. Private memory keeps its tag here; shared
 * anonymous memory in its object (model_obj, per object offset, so that
 * a write through one space or one mapping is seen through every other);
 * device memory in the store's device frames. model_tag() finds it. */
struct model_page {
    uint8_t mapped;
    uint8_t prot;
    uint8_t max_prot;
    uint8_t populated; /* has a present translation (device: always) */
    uint32_t flags;    /* kept vmar_map_flags: SHARED, STACK, hints,
                        * FAULT_AROUND, EOF_FAULT (objects) */
    uint8_t backing;   /* enum vmar_backing */
    /* The page maps a frame that was its object's until a truncate
     * dropped it from the object (vmar_memfd_truncate): the leaf keeps
     * it alive, with `frame` its identity (the store's ftag holds its
     * content, seen by every page that maps it); still file memory. */
    uint8_t orphan;
    uint8_t cache; /* enum vmar_cache: the device mapping's policy */
    /* A guard marker (VMAR_ADVISE_GUARD_INSTALL): never populated, every
     * access VMAR_EFAULT; part of no mapping's identity (joins() ignores
     * it), copied by a fork, moved by a remap. */
    uint8_t guard;
    uint64_t tag; /* private memory: the first 8 bytes */
    /* The memory object (an id of the store): for shared anonymous
     * memory the one its vmar_map call made (each call makes one, as
     * Linux's shmem does), for VMAR_BACKING_OBJECT the caller's (shared
     * or private). Pages of different objects never merge, nor pages
     * whose offsets do not continue. 0: anonymous private or device. */
    uint64_t object;
    /* Byte offset of the page in that object; device memory: the page's
     * physical address. */
    uint64_t objoff;
    /* Private memory: identity of the frame behind a populated page. A
     * fork copies it (parent and child share the frame until either
     * writes), any write gives the page a new one (a copy-on-write break,
     * or a reuse when no one else maps it: the count of distinct
     * identities is the same either way). 0: none. A private page of an
     * object with frame 0 shows the object's page (mapped read-only
     * when populated); its first write copies it into a frame of its own
     * (tag copied), and DONTNEED reverts it to the object's content. */
    uint64_t frame;
    /* Device memory: the mapping (vmar_map call, or piece cut from one)
     * the page belongs to; device mappings never merge. 0 otherwise. */
    uint64_t node;
};

/* One memory object: a shared anonymous one (memfd made by a map call)
 * or a caller's (the driver's vmar_memfd_create or embedder object). Its
 * size and, per page, whether it holds a frame, the frame's tag and
 * whether a shared mapping wrote it (notify_write). */
struct model_obj {
    size_t pages; /* the object's size; pages past it are past its end */
    uint8_t *frame;
    uint64_t *tag;
    uint8_t *dirty; /* written through a shared mapping */
    /* A DMA pin's frame identity of each page (0: never pinned): the
     * store's frefs/fpins index, so that a truncate, punch or the
     * object's death leaves a pinned frame alive under that identity. */
    uint64_t *pinid;
    size_t refs;       /* mapped pages over every space that map it */
    size_t frames;     /* pages holding a frame */
    bool dead;         /* no reference left: the library freed it */
    bool held;         /* the caller (driver) holds a reference */
    bool caller;       /* a caller's object (VMAR_BACKING_OBJECT) */
    unsigned max_prot; /* vmar_object::max_prot */
    size_t slots;      /* a memfd's page array, in pages (truncate) */
    /* An embedder object's page whose get_page fails with VMAR_EIO
     * (SIZE_MAX: none), and whether it has a commit op (which makes
     * every other page of the range resident first). */
    size_t bad;
    bool commit;
    bool nopunch;  /* an embedder object without punch (REMOVE: ENOTSUP) */
    size_t allocs; /* env metadata blocks it holds while alive */
};

/* What the spaces of one session share (a fork's parent and child):
 * shared objects, private frame identities, device frames. */
struct model_store {
    unsigned users;        /* models using it */
    struct model_obj *obj; /* by id, index 0 unused */
    uint64_t nobj;         /* ids handed out */
    size_t obj_cap;
    size_t objs_live, obj_frames_live;
    size_t obj_allocs_live; /* metadata blocks of live objects */
    uint32_t *frefs;        /* private frame identity -> pages that map it */
    uint64_t *ftag;         /* ... -> content, for orphans (shared by all) */
    uint64_t nframe;        /* identities handed out */
    /* DMA pins (vmar_pin) per identity, and for an object page's pin
     * identity the object that still holds the frame (0: none, the
     * frame lives by its pins and leaves alone). */
    uint32_t *fpins;
    uint64_t *fobj;
    /* Identities with pins, for model_pinned_frames(). */
    uint64_t *pinned;
    size_t npinned, pinned_cap;
    size_t frefs_cap;
    size_t frames_live; /* identities mapped by some page */
    uint64_t nnode;     /* device mapping ids handed out */
    /* Device memory: frames [dev_base, dev_base + dev_pages * PG) with
     * their tags (model_set_device). */
    vmar_paddr_t dev_base;
    size_t dev_pages;
    uint64_t *dev_tag;
};

struct model_cfg {
    vmar_addr_t user_lo, user_hi; /* exact, already defaulted */
    vmar_size_t stack_guard;
    vmar_size_t as_limit;    /* 0: none */
    size_t max_map_count;    /* 0: VMAR_DEFAULT_MAX_MAP_COUNT */
    bool bottom_up;          /* VMAR_SPACE_BOTTOM_UP */
    vmar_size_t stack_limit; /* vmar_set_stack_limit(); 0: none */
    vmar_size_t mlock_limit; /* vmar_set_mlock_limit() */
    bool mlock_limited;
};

struct model {
    struct model_cfg cfg; /* max_map_count never 0 here */
    size_t npages;
    struct model_page *pg;
    struct model_store *st; /* shared with forks */
    /* Why the last operation failed ("no fit", "count limit", ...), for
     * divergence reports and the driver's coverage counters. */
    const char *why;
    /* Coverage: pages fault-around mapped, private copies of object
     * pages, private copies DONTNEED dropped, pages first dirtied. */
    size_t faulted_around, obj_copies, obj_reverts, obj_dirtied;
    /* Times a fault grew a VMAR_MAP_GROWSDOWN mapping (vmar_stats). */
    size_t stack_growths;
    /* vmar_mlockall(FUTURE): the lock flags every later map gets. */
    unsigned lock_future;
    /* Pins taken through this space and not given back (vmar_stats). */
    size_t pinned;
    /* Coverage: pages the lock family populated; read pins that copied
     * a frame shared after a fork. */
    size_t lock_populated, pin_unshares;
    /* Coverage: pinned pages a fork copied into this child. */
    size_t pin_copies;
};

/* A mapping as the library must report it: a maximal run of adjacent
 * mapped pages with identical attributes. */
struct model_run {
    vmar_addr_t start, end;
    unsigned prot, max_prot, flags, backing;
    size_t populated; /* pages with a present translation */
    uint64_t offset;  /* object offset (device: paddr) of `start` */
    uint64_t object;  /* the store's object id, 0: none */
    unsigned cache;   /* enum vmar_cache, as asked (WB but for devices) */
};

/* 0, or -1 when the range is not page aligned, empty or too large. */
int model_init(struct model *m, const struct model_cfg *cfg);
void model_fini(struct model *m);
/* dst must be initialised with the same geometry (or zeroed: allocates).
 * A deep copy: dst gets a store of its own (a copy of src's). */
int model_copy(struct model *dst, const struct model *src);
bool model_equal(const struct model *a, const struct model *b);
/* Device memory the driver took from the pool: [base, base + pages * PG),
 * all zero. Call once, on a fresh model. */
void model_set_device(struct model *m, vmar_paddr_t base, size_t pages);

int model_map(struct model *m, const struct vmar_map_opts *o,
              vmar_addr_t *out_addr);
/* vmar_map with VMAR_BACKING_OBJECT of the store's object `obj` (0: no
 * object; o->object is not looked at). Same as model_map otherwise. */
int model_map_obj(struct model *m, const struct vmar_map_opts *o, uint64_t obj,
                  vmar_addr_t *out_addr);
/* A caller's object of `size` bytes (`pages` pages before its end: a
 * memfd rounds the size up, an embedder object whose get_page refuses a
 * partial last page rounds down), with `max_prot` and `allocs` metadata
 * blocks; the caller holds one reference. Returns its id. */
uint64_t model_object_new(struct model *m, size_t pages, unsigned max_prot,
                          size_t allocs);
/* vmar_memfd_truncate of a caller's memfd to `pages` pages, applied to
 * the n models that share its store (every live space of the session):
 * pages past the new end leave the object; a present leaf that maps one
 * keeps the frame (orphan); growing adds zero pages, and a memfd whose
 * page array must grow from nothing allocates it. */
void model_object_truncate(struct model *const *ms, size_t n, uint64_t obj,
                           size_t pages);
/* Its page `bad` cannot be read (get_page: VMAR_EIO); `commit`: it has
 * ops->commit (object.h), which a populate calls first. */
void model_object_config(struct model *m, uint64_t obj, size_t bad,
                         bool commit);
/* The caller drops its reference: the object dies now if nothing maps
 * it, else with its last mapping. */
void model_object_put(struct model *m, uint64_t obj);
/* The object page `index` holds a frame (the library allocated it, e.g.
 * in a call that failed afterwards); no-op when it already does. */
void model_object_has_frame(struct model *m, uint64_t obj, size_t index);
int model_unmap(struct model *m, vmar_addr_t addr, vmar_size_t size);
int model_protect(struct model *m, vmar_addr_t addr, vmar_size_t size,
                  unsigned prot);
/* vmar_advise, vmar_remap, vmar_resize, vmar_clear. vmar_inherit is
 * model_advise with MODEL_INHERIT + the vmar_inherit value. After a
 * successful VMAR_ADVISE_REMOVE, model_punch() empties the object pages
 * of the range (ms: every model of the session, m among them). */
#define MODEL_INHERIT 1000
int model_advise(struct model *m, vmar_addr_t addr, vmar_size_t size,
                 int advice);
void model_punch(struct model *const *ms, size_t n, struct model *m,
                 vmar_addr_t addr, vmar_size_t size);
/* The caller's object `obj` has no punch operation (REMOVE: ENOTSUP). */
void model_object_nopunch(struct model *m, uint64_t obj);
/* vmar_seal: VMAR_EINVAL, VMAR_ENOMEM (hole, count limit), else every
 * page of the range gets VMAR_MAP_SEALED. */
int model_seal(struct model *m, vmar_addr_t addr, vmar_size_t size);
int model_remap(struct model *m, vmar_addr_t old_addr, vmar_size_t old_size,
                vmar_size_t new_size, unsigned flags, vmar_addr_t new_addr,
                vmar_addr_t *out_addr);
int model_resize(struct model *m, vmar_addr_t addr, vmar_size_t old_size,
                 vmar_size_t new_size);
void model_clear(struct model *m);
/* vmar_fork: child (uninitialised) becomes a copy of parent sharing its
 * store. 0, or -1 when out of host memory. */
int model_fork(struct model *child, const struct model *parent);
void model_set_limits(struct model *m, vmar_size_t as_limit,
                      size_t max_map_count);
void model_set_stack_limit(struct model *m, vmar_size_t limit);
int model_query(const struct model *m, vmar_addr_t addr, struct model_run *out);
int model_resident(const struct model *m, vmar_addr_t lo, vmar_addr_t hi,
                   vmar_size_t *bytes);

/* vmar_fault: 0 (the page is now populated), VMAR_EINVAL, VMAR_ENOENT
 * (no mapping; a grow-down mapping above that may not grow), VMAR_EAGAIN
 * (one that would grow, without VMAR_FAULT_EXCLUSIVE), VMAR_EACCES (the mapping
 * lacks the access's prot), VMAR_EFAULT (a guard marker, before the object
 * checks), VMAR_ENXIO (an absent page past its object's end of a shared
 * mapping, or of a private one with VMAR_MAP_EOF_FAULT). */
int model_fault(struct model *m, vmar_addr_t addr, unsigned access,
                unsigned flags);
/* Only the stack growth of model_fault(addr, flags): a fault that grew
 * a stack and then failed (an allocation) keeps the growth, as the
 * library does. 0 also when nothing grows. */
int model_grow(struct model *m, vmar_addr_t addr, unsigned flags);
/* A user access to [addr, addr+len) page by page, as vmar_read/vmar_write
 * and a simulated CPU do it: each page must be mapped (else VMAR_ENOENT)
 * with `need` in its prot (else VMAR_EACCES), inside its object (else
 * VMAR_ENXIO), and becomes populated; `need` WRITE gives a private page a
 * frame of its own. With `copy` (vmar_read/vmar_write) device pages are
 * refused (VMAR_EFAULT). Stops at the first bad page; *done is the number
 * of bytes before it. The caller handles a wrapping range. Contents are
 * the caller's (model_tag). */
int model_access(struct model *m, vmar_addr_t addr, uint64_t len, unsigned need,
                 bool copy, uint64_t *done);
/* model_access with `force`: a forced access (vmar_read_flags,
 * vmar_write_flags with VMAR_RW_FORCE) needs `need` only in a page's
 * max_prot, and a forced write without WRITE private memory (not shared,
 * not device). A user copy never grows a stack. */
int model_access_force(struct model *m, vmar_addr_t addr, uint64_t len,
                       unsigned need, bool copy, bool force, uint64_t *done);
/* Mark a page present (a fault or an access made it so). */
void model_touch(struct model *m, struct model_page *p);
/* The page containing va, or NULL outside the user range. */
struct model_page *model_page_at(struct model *m, vmar_addr_t va);
/* Where the content (tag) of a mapped page lives. */
uint64_t *model_tag(struct model *m, const struct model_page *p);

/* The mlock family (src/core/mlock.c): vmar_mlock, vmar_munlock,
 * vmar_mlockall, vmar_munlockall, vmar_mlock_populate,
 * vmar_set_mlock_limit. Lock flags are kept flags of the pages
 * (VMAR_MAP_LOCKED, VMAR_MAP_LOCKONFAULT); model_locked() is
 * vmar_stats::locked. */
int model_mlock(struct model *m, vmar_addr_t addr, vmar_size_t size,
                unsigned flags);
int model_munlock(struct model *m, vmar_addr_t addr, vmar_size_t size);
int model_mlockall(struct model *m, unsigned flags);
int model_munlockall(struct model *m);
int model_mlock_populate(struct model *m, vmar_addr_t addr, vmar_size_t size);
void model_set_mlock_limit(struct model *m, vmar_size_t limit, bool limited);
vmar_size_t model_locked(const struct model *m);

/* vmar_pin of npages pages from addr: on success ids[i] is the frame
 * identity pinned for page i (the store's index: the same identity is
 * the same frame), and m->pinned grows by npages; on failure no pin is
 * held and the pages faulted before the failing one stay populated. */
int model_pin(struct model *m, vmar_addr_t addr, size_t npages, unsigned flags,
              uint64_t *ids);
/* vmar_unpin of one page pinned through m as identity `id`. */
void model_unpin(struct model *m, uint64_t id);
/* Frames that only pins keep alive: no leaf maps them and no live
 * object holds them (the machine's frame count includes them). */
size_t model_pinned_frames(const struct model_store *st);
/* The frame identity page p maps for a pin (0: none yet; an object
 * page's pin identity is made by its first pin). */
uint64_t model_page_frame(const struct model *m, const struct model_page *p);

/* The mapping list: fills out[] (capacity m->npages) and returns the
 * count. */
size_t model_runs(const struct model *m, struct model_run *out);
vmar_size_t model_total_vm(const struct model *m);
/* Present pages of anonymous memory (private and shared; not device). */
size_t model_populated(const struct model *m);
/* Present pages that map an object's page (shared, or private not yet
 * copied: RssFile); present device pages. */
size_t model_present_shared(const struct model *m);
size_t model_present_device(const struct model *m);

#endif /* VMAR_TEST_MODEL_H */
