/* SPDX-License-Identifier: MIT */
/*
 * The differential driver: operation sequences applied to libvmar (any
 * backend of tests/support/harness.c, public API only) and to the reference
 * model (tests/model/), compared after every operation. Shared by the random
 * driver (vmar_diff), the regression replay, the libFuzzer target and its
 * corpus replay, so that all of them check exactly the same things.
 *
 * Adding an operation (fork, remap, fault, clear, ...): a diff_kind, its
 * fields in diff_op, one case in each of exec (diff.c), the generator, the
 * text format and the C-like printer; the model gets the same function.
 */
#ifndef VMAR_TEST_DIFF_H
#define VMAR_TEST_DIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <vmar/vmar.h>

/* The space an operation sequence runs in (vmar_space_opts subset). */
struct diff_space {
    vmar_addr_t user_lo, user_hi; /* explicit, non-zero */
    vmar_size_t stack_guard;
    vmar_size_t as_limit;
    uint64_t max_map_count;
    unsigned flags; /* vmar_space_flags */
};

enum diff_kind {
    DIFF_MAP,
    DIFF_UNMAP,
    DIFF_PROTECT,
    DIFF_LIMITS,
    DIFF_QUERY,
    DIFF_RESIDENT,
    DIFF_ITERATE,
    /* User memory (vmar/fault.h, vmar/sim.h). */
    DIFF_FAULT, /* vmar_fault(addr, access, flags) */
    DIFF_READ,  /* vmar_read(addr, len), bytes checked */
    DIFF_WRITE, /* vmar_write(addr, len) of tags */
    DIFF_ZERO,  /* vmar_fill_zero(addr, len) */
    DIFF_CPU,   /* vmar_sim_cpu_access(cpu, addr, access, len) */
    /* Newer operations (vmar.h). */
    DIFF_ADVISE,  /* vmar_advise(addr, size, advice) */
    DIFF_REMAP,   /* vmar_remap(addr, size, c, flags, d) */
    DIFF_RESIZE,  /* vmar_resize(addr, size, c) */
    DIFF_CLEAR,   /* vmar_clear() */
    DIFF_FORK,    /* vmar_fork() of space `sp` into the empty slot `a` */
    DIFF_DESTROY, /* vmar_space_destroy() of space `sp` */
    /* Caller-supplied memory objects (vmar/object.h). */
    DIFF_OBJECT, /* make (or drop) the driver's object in slot `obj` */
    DIFF_SEAL,   /* vmar_seal(addr, size) */
    /* Locking and DMA pins (issue #27). */
    DIFF_LOCK,  /* the mlock family: c is the diff_lock_kind */
    DIFF_PIN,   /* vmar_pin(addr, b pages, flags) */
    DIFF_UNPIN, /* vmar_unpin of b of the space's pins from index a */
    DIFF_NKINDS
};

/* diff_op::fail_n: fail the 1st, 2nd, ... allocation until the operation
 * gets through, checking "unchanged, nothing leaked" after every failure. */
#define DIFF_FAIL_EVERY UINT32_MAX

/* Spaces a session can hold at once (forks). */
#define DIFF_SLOTS 4

/* Memory objects the driver holds at once (DIFF_OBJECT slots 1..N). */
#define DIFF_NOBJ 4

/* DIFF_OBJECT kinds (diff_op::c). */
enum diff_obj_kind {
    DIFF_OBJ_MEMFD = 0, /* vmar_memfd_create(size) */
    DIFF_OBJ_EMBED = 1, /* the driver's own object type (diff.c) */
    DIFF_OBJ_DROP = 2,  /* drop the driver's reference */
    /* vmar_memfd_truncate(size) (EINVAL for an embedder object) */
    DIFF_OBJ_TRUNCATE = 3,
};

/* DIFF_LOCK kinds (diff_op::c). */
enum diff_lock_kind {
    DIFF_MLOCK = 0,          /* vmar_mlock(a, b, flags) */
    DIFF_MUNLOCK = 1,        /* vmar_munlock(a, b) */
    DIFF_MLOCKALL = 2,       /* vmar_mlockall(flags) */
    DIFF_MUNLOCKALL = 3,     /* vmar_munlockall() */
    DIFF_MLOCK_POPULATE = 4, /* vmar_mlock_populate(a, b) */
    DIFF_MLOCK_LIMIT = 5,    /* vmar_set_mlock_limit(a, flags != 0) */
};

/* Pins the driver holds per space at most (DIFF_PIN refuses more). */
#define DIFF_MAX_PINS 64

/* DIFF_OBJECT with DIFF_OBJ_EMBED: diff_op::flags, which optional ops
 * the object has. */
#define DIFF_OBJ_COMMIT 1u /* ops->commit */
#define DIFF_OBJ_NOTIFY 2u /* ops->notify_write (dirty tracking) */
#define DIFF_OBJ_BAD    4u /* page d cannot be read: get_page VMAR_EIO */

struct diff_op {
    enum diff_kind kind;
    /* The space (slot) it runs in: 0 is the session's first space, the
     * others are made by DIFF_FORK. An op on an empty slot does nothing
     * (a shrunk case may have lost the fork). */
    unsigned sp;
    /* MAP: addr, size; UNMAP/PROTECT: addr, size; RESIDENT/ITERATE: lo, hi;
     * LIMITS: as_limit, max_map_count; QUERY, FAULT: addr;
     * READ/WRITE/ZERO/CPU: addr, len in bytes (any alignment);
     * LOCK: addr, size (MLOCK_LIMIT: a is the limit, flags != 0 whether
     * it applies), c the diff_lock_kind, flags the call's; PIN: addr,
     * pages, flags; UNPIN: a the first pin's index, b how many. */
    uint64_t a, b;
    /* REMAP: new_size (c) and new_addr (d); RESIZE: new_size (c);
     * MAP with VMAR_BACKING_DEVICE: d is the first page of the driver's
     * device frames (paddr = their base + d pages), `cache` its policy.
     * OBJECT: b is the size in bytes, c the diff_obj_kind, prot the
     * embedder object's max_prot, flags its DIFF_OBJ_* ops, d its
     * unreadable page (DIFF_OBJ_BAD). */
    uint64_t c, d;
    /* MAP: the placement window (vmar_map_opts::window_lo, window_hi;
     * 0: the user range's edge). LIMITS: c is the stack limit
     * (vmar_set_stack_limit). READ, WRITE: flags are vmar_rw_flags
     * (VMAR_RW_FORCE). */
    uint64_t wlo, whi;
    /* MAP, OBJECT: the driver's object slot, 1..DIFF_NOBJ (0: none; an
     * empty slot passes a NULL object). MAP: the object offset. */
    unsigned obj;
    uint64_t offset;
    /* ADVISE: the vmar_advice value (unknown ones too). */
    int advice;
    /* MAP only; REMAP: its vmar_remap_flags; flags also FAULT's
     * vmar_fault_flags. */
    unsigned place, deny, flags, backing;
    /* FAULT, CPU: the vmar_access value; CPU: which CPU (0 or 1). */
    unsigned access, cpu;
    /* WRITE, CPU writes: seed of the page tags written. A page whose first
     * byte the access covers gets tag diff_tag(tag, page) in its first 8
     * bytes; every other byte written is zero (see model.h). */
    uint64_t tag;
    uint64_t align;
    /* MAP with VMAR_BACKING_DEVICE: the enum vmar_cache policy, every one
     * on every backend (a backend may store one as another:
     * vmar_mmu_ops::cache_as; the space reports what was asked). */
    unsigned cache;
    /* MAP, PROTECT. */
    unsigned prot;
    /* ITERATE: the callback stops after this many mappings (0: never). */
    unsigned stop;
    /* MAP, UNMAP, PROTECT, FAULT, READ, WRITE, ZERO: allocation failure
     * injection (fail_n = 0: off; else vmar_sim_fail_after(fail_n,
     * fail_mask, fail_persist)). A user copy that fails keeps the pages
     * before the failing one (fault.h), so there the model applies the
     * prefix the library reports as done. */
    uint32_t fail_n;
    unsigned fail_mask;
    bool fail_persist;
};

struct diff_case {
    struct diff_space space;
    struct diff_op *ops;
    size_t nops, cap;
};

/* What a run saw; the ctest runs assert that every kind of outcome
 * happened, so a generator that drifts cannot make them pass vacuously. */
struct diff_stats {
    size_t ops, spaces;
    size_t by_kind[DIFF_NKINDS];
    size_t ok_by_kind[DIFF_NKINDS];
    size_t map_ok_by_place[4];
    size_t einval, eacces, eexist, enotsup, enoent;
    size_t nomem_nofit, nomem_as, nomem_count, nomem_hole, eacces_max;
    size_t merges_seen; /* ops after which the list had fewer mappings */
    size_t stack_maps, populate_maps, aligned_maps;
    size_t fails_fired;    /* injected failures that hit */
    size_t fails_every;    /* DIFF_FAIL_EVERY sweeps */
    size_t page_checks;    /* per-page resident sweeps */
    size_t iterate_stops;  /* early stops seen */
    size_t efault;         /* vmar_read/write/fill_zero refused a page */
    size_t tags_read;      /* pages read back with a written (non-zero) tag */
    size_t zeros_read;     /* pages read back as zero */
    size_t fired_alloc;    /* injected metadata failures that hit */
    size_t fired_frame;    /* injected frame failures that hit */
    size_t fired_data;     /* ... of data frames only (VMAR_SIM_FAIL_DATA) */
    size_t fired_table;    /* ... of page-table pages only (FAIL_TABLE) */
    size_t fired_user;     /* ... that hit a fault or a user copy */
    size_t partial_copies; /* user copies that stopped after some bytes */
    size_t content_checks; /* periodic sweeps of page contents */
    /* Newer operations. */
    size_t advise_drops, advise_hints, advise_dontfork;
    size_t advise_removes, advise_wipe;
    size_t remap_shrink, remap_grow_in_place, remap_moves, remap_fixed,
        remap_dontunmap, remap_multi, remap_efault, remap_nogrow;
    size_t resize_ok, resize_efault;
    size_t seal_refusals; /* operations refused by a seal (VMAR_EPERM) */
    /* Placement windows, grow-down stacks, populate advice, forced
     * access (issue #27). */
    size_t window_maps, window_einval, growsdown_maps, stack_growths,
        stack_eagain, stack_refused, populate_advice, populate_failed,
        forced_ok, forced_refused;
    size_t forks, forks_with_cow, destroys, clears, cow_writes;
    size_t object_shared_reads; /* a shared page read through a fork */
    size_t device_maps, device_maps_wt, device_moves, device_cpu;
    size_t enxio;       /* shared memory past its object's end */
    size_t fired_cpu;   /* injected failures inside a CPU access */
    size_t cpu_partial; /* ... after some pages were accessed */
    size_t fired_fork, fired_remap, fired_advise;
    size_t multi_space_ops; /* ops while more than one space was live */
    /* Caller-supplied objects. */
    size_t obj_maps_shared, obj_maps_private; /* successful object maps */
    size_t obj_eacces;       /* prot beyond the object's max_prot */
    size_t obj_merges;       /* an object map merged with a neighbour */
    size_t obj_zero_eof;     /* private pages past the end read as zero */
    size_t obj_eof_enxio;    /* ... or refused with VMAR_MAP_EOF_FAULT */
    size_t obj_copies;       /* private copies of object pages */
    size_t obj_reverts;      /* DONTNEED dropped a private copy */
    size_t obj_around;       /* pages mapped by fault-around */
    size_t obj_released;     /* objects released with their last mapping */
    size_t obj_tag_reads;    /* written tags read through object pages */
    size_t obj_moves;        /* remaps of object mappings */
    size_t obj_forks;        /* forks with object mappings */
    size_t obj_dirty;        /* shared writes seen by notify_write */
    size_t fired_object;     /* failed calls that left object pages */
    size_t obj_create_fails; /* vmar_memfd_create failed by injection */
    size_t obj_eio;          /* an unreadable object page refused */
    size_t obj_truncates;    /* memfd truncates (shrink or grow) */
    size_t obj_orphans;      /* ... after which a leaf kept a dropped page */
    /* Guard markers. */
    size_t advise_guards; /* successful GUARD_INSTALLs */
    size_t guard_faults;  /* accesses a marker refused */
    size_t guard_checks;  /* markers checked by the page sweep */
    /* Locking (the mlock family) and DMA pins. */
    size_t mlocks, munlocks, mlockalls, munlockalls, mlock_populates;
    size_t locked_maps;         /* successful maps that came out locked */
    size_t lock_populated;      /* pages the lock family populated */
    size_t lock_eperm;          /* refused: the limit applies and is 0 */
    size_t lock_limit;          /* refused: the limit (ENOMEM or EAGAIN) */
    size_t lock_refused_advice; /* advice refused on locked memory */
    size_t lock_efault;         /* locking met a PROT_NONE mapping */
    size_t locked_forks;        /* forks of a space with locked mappings */
    size_t lock_future_maps;    /* maps locked by mlockall(FUTURE) */
    size_t locked_remaps;       /* remaps of locked mappings that grew */
    size_t pins, pins_write, pin_refused, unpins;
    size_t pin_unshares;    /* read pins that copied a shared frame */
    size_t pinned_unmapped; /* pinned frames outliving their pages */
    size_t pinned_forks;    /* forks that copied pinned pages */
    size_t pin_checks;      /* pinned pages translated by the sweep */
};

/* Random choices: from a splitmix64 state, or from a byte string (the
 * fuzzer), in which case running out sets `exhausted` and yields zeros. */
struct diff_rng {
    uint64_t state;
    const uint8_t *buf;
    size_t len, pos;
    bool exhausted;
};
void diff_rng_seed(struct diff_rng *r, uint64_t seed);
void diff_rng_bytes(struct diff_rng *r, const uint8_t *buf, size_t len);
/* Uniform-ish in [0, n), n > 0. */
uint64_t diff_rng_below(struct diff_rng *r, uint64_t n);

struct diff_opts {
    /* Per-page vmar_resident sweep every this many operations (0: 32). */
    unsigned page_check_every;
};

/* The tag a write puts into the page at `va` (non-zero). */
uint64_t diff_tag(uint64_t seed, uint64_t va);

/* The backend spaces are built with: tests/support/harness.c's selection
 * (vt_backend_select, else VMAR_TEST_BACKEND, else sim). */
const char *diff_backend_name(void);

/* One live pair (library + model). */
struct diff_session;

/* 0, or -1 (message in diff_error) when the space cannot be built. */
int diff_open(struct diff_session **out, const struct diff_space *sp,
              const struct diff_opts *opts, struct diff_stats *stats);
/* Apply one operation to both and compare everything: 0 when they agree,
 * 1 on a divergence (described by diff_error). */
int diff_step(struct diff_session *s, const struct diff_op *op);
/* Destroy both; 1 if the library leaked (described in msg when non-NULL).
 * Frees the session. */
int diff_close(struct diff_session *s, char *msg, size_t msglen);

/* Generate and apply up to `len` ops on `s`, recording each in `c`
 * (stops early when a byte-fed rng runs dry), then close `s`. Returns the
 * index of the first diverging op, c->nops when only the final checks in
 * diff_close failed, or -1 when everything agreed; the reason is in msg. */
long diff_run_generated(struct diff_session *s, struct diff_rng *r,
                        uint64_t len, struct diff_case *c, char *msg,
                        size_t msglen);
const char *diff_error(const struct diff_session *s);
/* Free the machine kept between sessions (at exit, for leak checkers). */
void diff_cleanup(void);

/* Generators, biased toward boundaries of the current layout. */
void diff_gen_space(struct diff_rng *r, struct diff_space *sp);
void diff_gen_op(struct diff_session *s, struct diff_rng *r,
                 struct diff_op *op);

/* Run a whole case; returns -1 when every step agrees, else the index of
 * the diverging op (c->nops for a divergence at teardown); the message
 * goes to msg. */
long diff_run_case(const struct diff_case *c, const struct diff_opts *opts,
                   struct diff_stats *st, char *msg, size_t msglen);
/* Shrink a diverging case in place (delta debugging); returns the number
 * of test runs spent. */
size_t diff_shrink(struct diff_case *c, const struct diff_opts *opts);

void diff_case_push(struct diff_case *c, const struct diff_op *op);
void diff_case_free(struct diff_case *c);
/* The .ops text format (tests/diff/README.md); with `c_like`, each op is
 * followed by a comment with the equivalent C call. */
void diff_print_case(FILE *f, const struct diff_case *c, bool c_like);
/* 0, or -1 with a message on stderr. */
int diff_parse_case(FILE *f, const char *name, struct diff_case *c);

/* Report a diverging case: print the message, shrink it, print the
 * reproducer and write it to $VMAR_DIFF_OUT when set. */
void diff_report(struct diff_case *c, long bad, const char *msg,
                 const struct diff_opts *o);

/* Decode bytes into a space and an op sequence (the same generator with
 * the bytes as its random source) and run the differential check. Returns
 * 0, or 1 after printing the divergence and the shrunk reproducer. */
int diff_run_bytes(const uint8_t *data, size_t len);

/* Print the counters; diff_stats_check() returns 0 when every outcome the
 * generator aims for happened, else 1 after naming the missing ones. */
void diff_stats_print(FILE *f, const struct diff_stats *st);
int diff_stats_check(const struct diff_stats *st);

#endif /* VMAR_TEST_DIFF_H */
