/* SPDX-License-Identifier: MIT */
#include "kernel.h"

void k_stream_scenarios(void)
{
}
