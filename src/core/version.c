/* SPDX-License-Identifier: MIT */
/* The run-time version: the macros of vmar/vmar.h, frozen into the archive. */
#include <vmar/version.h>

const char *vmar_version(void)
{
    return VMAR_VERSION_STRING;
}

unsigned vmar_version_number(void)
{
    return VMAR_VERSION_NUMBER;
}
