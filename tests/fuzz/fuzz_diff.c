/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer entry: the input bytes are the random source of the
 * differential driver's generators (diff_run_bytes), so a mutation of one
 * byte changes one choice (an op kind, an address among the layout's
 * boundaries, a flag). A divergence prints the shrunk reproducer and
 * aborts, which libFuzzer records as a crash.
 */
#include <stdint.h>
#include <stdlib.h>

#include "diff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (diff_run_bytes(data, size))
        abort();
    return 0;
}
