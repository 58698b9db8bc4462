/* SPDX-License-Identifier: MIT */
/*
 * The records of changes not flushed yet, which let the stale-TLB
 * detector (cpu.c) tell a race with a flush in flight from a missing
 * flush.
 *
 * With several threads, a simulated CPU may hit a TLB entry of a page
 * whose leaf another thread has just changed and not yet flushed. Hardware
 * allows that (the flush has not completed, so the access is ordered
 * before it); only a hit after the flush is a bug. The sim backend records
 * each changed range from just before the change until the flush that
 * covers it, and the detector excuses hits inside another thread's
 * records. A hit inside the thread's own record is never excused: between
 * two calls of one thread nothing may be unflushed, which keeps the
 * single-threaded detector exactly as strict as before. A record still
 * there when its thread releases the space lock is a missed flush.
 *
 * With split page-table locks, threads change different leaf blocks at
 * once, and one thread's flush may cover another's block (a long range
 * becomes a flush of the whole table). Such a flush ends only the records
 * of changes already made: a change still under way (between
 * vmar_sim_change_begin and _end) may store after the flush, so its
 * record stays until its own thread ends it, which keeps what its batch
 * has still to flush.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine.h"

static bool same_thread(pthread_t a, pthread_t b)
{
    return pthread_equal(a, b) != 0;
}

/* Written under sim->lock, atomically: vmar__sim_unflushed_missed reads
 * it without the lock. => sim->lock held. */
static void set_count(struct vmar_sim *sim, size_t n)
{
    __atomic_store_n(&sim->nunflushed, n, __ATOMIC_RELAXED);
}

/* => sim->lock held. */
static void unflushed_add(struct vmar_sim *sim, uint64_t table, vmar_addr_t lo,
                          vmar_addr_t hi, pthread_t owner, bool changing)
{
    if (lo >= hi)
        return;
    if (sim->nunflushed == sim->unflushed_cap) {
        size_t cap = sim->unflushed_cap ? 2 * sim->unflushed_cap : 16;
        void *p = realloc(sim->unflushed, cap * sizeof(*sim->unflushed));

        if (p == NULL)
            vmar__sim_die("out of host memory for unflushed ranges");
        sim->unflushed = p;
        sim->unflushed_cap = cap;
    }
    sim->unflushed[sim->nunflushed] =
        (struct vmar__sim_unflushed){table, lo, hi, owner, changing};
    set_count(sim, sim->nunflushed + 1);
}

/* Take [lo, hi) out of the records of `table` that are `owner`'s, and
 * unless only_owner of those of other threads whose change is made.
 * => sim->lock held. */
static void unflushed_cut(struct vmar_sim *sim, uint64_t table, vmar_addr_t lo,
                          vmar_addr_t hi, bool only_owner, pthread_t owner)
{
    size_t n = sim->nunflushed, out = 0;

    for (size_t i = 0; i < n; i++) {
        struct vmar__sim_unflushed u = sim->unflushed[i];
        bool mine = same_thread(u.owner, owner);

        if (u.table != table || (!mine && (only_owner || u.changing)) ||
            u.hi <= lo || u.lo >= hi) {
            sim->unflushed[out++] = u;
            continue;
        }
        /* What stays left of the cut keeps the slot; what stays right of
         * it goes to the end, past the part still to scan. */
        if (u.lo < lo)
            sim->unflushed[out++] = (struct vmar__sim_unflushed){
                u.table, u.lo, lo, u.owner, u.changing};
        if (u.hi > hi)
            unflushed_add(sim, u.table, hi, u.hi, u.owner, u.changing);
    }
    /* Move the right-hand pieces appended past n down behind the kept. */
    if (sim->nunflushed > n)
        memmove(sim->unflushed + out, sim->unflushed + n,
                (sim->nunflushed - n) * sizeof(*sim->unflushed));
    set_count(sim, out + (sim->nunflushed - n));
}

void vmar_sim_change_begin(struct vmar_sim *sim, uint64_t table, vmar_addr_t lo,
                           vmar_addr_t hi)
{
    vmar__sim_lock(&sim->lock);
    if (sim->track_unflushed)
        unflushed_add(sim, table, lo, hi, pthread_self(), true);
    vmar__sim_unlock(&sim->lock);
}

void vmar_sim_change_end(struct vmar_sim *sim, uint64_t table, vmar_addr_t lo,
                         vmar_addr_t hi, vmar_addr_t pending_lo,
                         vmar_addr_t pending_hi)
{
    pthread_t self = pthread_self();

    vmar__sim_lock(&sim->lock);
    if (sim->track_unflushed) {
        /* Both in one critical section: a walker must never find the
         * change made and the record gone. */
        unflushed_cut(sim, table, lo, hi, true, self);
        unflushed_add(sim, table, pending_lo, pending_hi, self, false);
    }
    vmar__sim_unlock(&sim->lock);
}

void vmar__sim_unflushed_flushed(struct vmar_sim *sim, uint64_t table,
                                 vmar_addr_t va, vmar_size_t len)
{
    vmar_addr_t hi =
        len == 0 || len > ~(vmar_addr_t)0 - va ? ~(vmar_addr_t)0 : va + len;

    vmar__sim_lock(&sim->lock);
    unflushed_cut(sim, table, len == 0 ? 0 : va, hi, false, pthread_self());
    vmar__sim_unlock(&sim->lock);
}

bool vmar__sim_unflushed_excused(struct vmar_sim *sim, uint64_t table,
                                 vmar_addr_t page)
{
    pthread_t self = pthread_self();
    bool excused = false;

    vmar__sim_lock(&sim->lock);
    for (size_t i = 0; i < sim->nunflushed && !excused; i++) {
        const struct vmar__sim_unflushed *u = &sim->unflushed[i];

        excused = u->table == table && !same_thread(u->owner, self) &&
                  u->lo <= page && page < u->hi;
    }
    vmar__sim_unlock(&sim->lock);
    return excused;
}

void vmar__sim_unflushed_missed(struct vmar_sim *sim)
{
    pthread_t self = pthread_self();
    size_t out = 0;

    /* Every space unlock asks. Without the lock: this thread's own
     * records were added by this thread, so a count of 0 it reads is no
     * older than they are. */
    if (__atomic_load_n(&sim->nunflushed, __ATOMIC_RELAXED) == 0)
        return;
    vmar__sim_lock(&sim->lock);
    for (size_t i = 0; i < sim->nunflushed; i++) {
        struct vmar__sim_unflushed u = sim->unflushed[i];

        if (!same_thread(u.owner, self)) {
            sim->unflushed[out++] = u;
            continue;
        }
        sim->violations++;
        fprintf(stderr,
                "vmar sim: MISSED FLUSH: [%#llx, %#llx) changed and still "
                "not flushed when the space lock was released\n",
                (unsigned long long)u.lo, (unsigned long long)u.hi);
    }
    set_count(sim, out);
    vmar__sim_unlock(&sim->lock);
}

void vmar__sim_unflushed_fini(struct vmar_sim *sim)
{
    free(sim->unflushed);
    sim->unflushed = NULL;
    sim->nunflushed = sim->unflushed_cap = 0;
}
