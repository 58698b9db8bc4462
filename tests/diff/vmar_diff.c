/* SPDX-License-Identifier: MIT */
/*
 * vmar_diff: the differential driver's command line.
 *
 *   vmar_diff [--backend B] [--ops N] [--seed S] [--seeds K] [--epoch N]
 *             [--page-check N] [--coverage] [--stats]
 *   vmar_diff [--backend B] --replay FILE.ops...
 *
 * The backend B is one of tests/support/harness.c's: sim (default),
 * x86_64-4l, x86_64-5l, sv39, sv48, sv57; without --backend,
 * VMAR_TEST_BACKEND chooses. A .ops file's `backend=` overrides it for
 * that file.
 *
 * Random mode runs N operations for each of the seeds S, S+1, ... S+K-1
 * (VMAR_DIFF_OPS overrides N, VMAR_TEST_SEED overrides S), in spaces of
 * random shape that are replaced every `epoch` operations (default: a
 * random length of 200 to 3000). On a divergence it prints the seed and
 * operation index, shrinks the space's sequence to a short reproducer,
 * prints it and writes it to $VMAR_DIFF_OUT when set; exit status 1.
 * With --coverage the run also fails if some outcome the generator aims
 * for never happened (see diff_stats_check), so a drifting generator
 * cannot pass vacuously. Replay mode runs saved .ops cases.
 */
/* strtok_r, clock_gettime, stat: POSIX, not C11. */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "diff.h"
#include "harness.h"
#undef fail

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int replay(int argc, char **argv, const struct diff_opts *o)
{
    int bad = 0;

    if (argc == 0) {
        fprintf(stderr, "--replay needs at least one file\n");
        return 2;
    }
    const char *dflt = diff_backend_name();

    for (int i = 0; i < argc; i++) {
        struct diff_case c;
        char msg[2048];
        FILE *f = fopen(argv[i], "r");

        vt_backend_select(dflt);
        if (!f) {
            perror(argv[i]);
            return 2;
        }
        int rc = diff_parse_case(f, argv[i], &c);
        fclose(f);
        if (rc) {
            diff_case_free(&c);
            return 2;
        }
        /* An empty case would pass without checking anything. */
        if (c.nops == 0) {
            fprintf(stderr, "%s: no operations\n", argv[i]);
            diff_case_free(&c);
            return 2;
        }
        long at = diff_run_case(&c, o, NULL, msg, sizeof(msg));
        if (at >= 0) {
            fprintf(stderr, "%s: DIVERGENCE at op %ld:\n%s", argv[i], at, msg);
            diff_print_case(stderr, &c, true);
            bad = 1;
        } else {
            printf("%s: %zu ops on %s, library and model agree\n", argv[i],
                   c.nops, diff_backend_name());
        }
        diff_case_free(&c);
    }
    return bad;
}

static int run_seed(uint64_t seed, uint64_t nops, uint64_t epoch,
                    const struct diff_opts *o, struct diff_stats *st)
{
    struct diff_rng r;
    uint64_t done = 0, space_no = 0;
    double t0 = now();

    printf("seed %" PRIu64 ": %" PRIu64 " ops on %s (replay: --backend %s "
           "--seed %" PRIu64 " --seeds 1 --ops %" PRIu64 "%s)\n",
           seed, nops, diff_backend_name(), diff_backend_name(), seed, nops,
           epoch ? " --epoch ..." : "");
    fflush(stdout);
    diff_rng_seed(&r, seed);
    while (done < nops) {
        struct diff_case c = {0};
        struct diff_session *s;
        uint64_t len = epoch ? epoch : 200 + diff_rng_below(&r, 2801);
        char msg[2048];
        long bad = -1;

        if (len > nops - done)
            len = nops - done;
        diff_gen_space(&r, &c.space);
        if (diff_open(&s, &c.space, o, st) != 0) {
            fprintf(stderr, "seed %" PRIu64 ": %s\n", seed, diff_error(s));
            diff_close(s, NULL, 0);
            return 1;
        }
        bad = diff_run_generated(s, &r, len, &c, msg, sizeof(msg));
        if (bad >= 0) {
            fprintf(stderr,
                    "seed %" PRIu64 ", space %" PRIu64
                    ", op %ld of that space (op %" PRIu64 " of the run)\n",
                    seed, space_no, bad, done + (uint64_t)bad);
            diff_report(&c, bad, msg, o);
            diff_case_free(&c);
            return 1;
        }
        diff_case_free(&c);
        done += len;
        space_no++;
    }
    printf("seed %" PRIu64 ": %" PRIu64 " ops in %" PRIu64
           " spaces agree (%.1f s)\n",
           seed, done, space_no, now() - t0);
    return 0;
}

int main(int argc, char **argv)
{
    uint64_t nops = 10000, seed = 1, nseeds = 1, epoch = 0;
    bool coverage = false, stats = false;
    struct diff_opts o = {0};
    struct diff_stats st = {0};

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (!strcmp(a, "--replay")) {
            int rc = replay(argc - i - 1, argv + i + 1, &o);
            diff_cleanup();
            return rc;
        }
        if (!strcmp(a, "--coverage")) {
            coverage = true;
            continue;
        }
        if (!strcmp(a, "--stats")) {
            stats = true;
            continue;
        }
        if (!v) {
            fprintf(stderr, "usage: see the comment in vmar_diff.c or "
                            "tests/diff/README.md\n");
            return 2;
        }
        uint64_t x = strtoull(v, NULL, 0);
        i++;
        if (!strcmp(a, "--backend")) {
            if (vt_backend_select(v) != 0) {
                fprintf(stderr, "--backend %s: unknown backend\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--ops"))
            nops = x;
        else if (!strcmp(a, "--seed"))
            seed = x;
        else if (!strcmp(a, "--seeds"))
            nseeds = x;
        else if (!strcmp(a, "--epoch"))
            epoch = x;
        else if (!strcmp(a, "--page-check"))
            o.page_check_every = (unsigned)x;
        else {
            fprintf(stderr, "unknown option %s\n", a);
            return 2;
        }
    }
    if (getenv("VMAR_DIFF_OPS"))
        nops = strtoull(getenv("VMAR_DIFF_OPS"), NULL, 0);
    if (getenv("VMAR_TEST_SEED"))
        seed = strtoull(getenv("VMAR_TEST_SEED"), NULL, 0);
    if (nops == 0 || nseeds == 0) {
        fprintf(stderr, "nothing to run\n");
        return 2;
    }

    double t0 = now();
    for (uint64_t k = 0; k < nseeds; k++) {
        if (run_seed(seed + k, nops, epoch, &o, &st)) {
            diff_cleanup();
            return 1;
        }
    }
    diff_cleanup();
    printf("total: %zu ops on %s over %" PRIu64 " seeds, %zu spaces, "
           "%.1f s, no divergence\n",
           st.ops, diff_backend_name(), nseeds, st.spaces, now() - t0);
    if (stats || coverage)
        diff_stats_print(stdout, &st);
    if (coverage && diff_stats_check(&st))
        return 1;
    return 0;
}
