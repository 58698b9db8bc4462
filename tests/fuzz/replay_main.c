/* SPDX-License-Identifier: MIT */
/*
 * Replays fuzzer inputs without libFuzzer: every regular file in each
 * directory (or each file) given goes through LLVMFuzzerTestOneInput, the
 * same decoder and differential check the fuzzer runs. Fails when no
 * input was found, so an empty corpus cannot pass.
 */
/* strtok_r, clock_gettime, stat: POSIX, not C11. */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "diff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;

    if (!f) {
        perror(path);
        return -1;
    }
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 4096;
            buf = realloc(buf, cap);
            if (!buf)
                abort();
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        if (n == 0)
            break;
        len += n;
    }
    fclose(f);
    printf("%s: %zu bytes\n", path, len);
    fflush(stdout);
    LLVMFuzzerTestOneInput(buf, len); /* aborts on a divergence */
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    size_t files = 0;

    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            perror(argv[i]);
            return 2;
        }
        if (!S_ISDIR(st.st_mode)) {
            if (run_file(argv[i]))
                return 2;
            files++;
            continue;
        }
        DIR *d = opendir(argv[i]);
        struct dirent *e;
        if (!d) {
            perror(argv[i]);
            return 2;
        }
        while ((e = readdir(d))) {
            char path[4096];
            struct stat fst;
            if (e->d_name[0] == '.')
                continue;
            snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
            if (stat(path, &fst) != 0 || !S_ISREG(fst.st_mode))
                continue;
            if (run_file(path)) {
                closedir(d);
                return 2;
            }
            files++;
        }
        closedir(d);
    }
    diff_cleanup();
    if (files == 0) {
        fprintf(stderr, "no inputs found\n");
        return 2;
    }
    printf("%zu inputs replayed, no divergence\n", files);
    return 0;
}
