/* SPDX-License-Identifier: MIT */
/**
 * @file version.h
 * @brief The library version, at compile time (macros) and at run time
 *        (vmar_version(), vmar_version_number()).
 *
 * VMAR_VERSION_MAJOR, VMAR_VERSION_MINOR and VMAR_VERSION_PATCH are defined
 * in vmar/vmar.h, which this header includes; CMake checks at configure
 * time that they equal `project(vmar VERSION ...)`. While the major version
 * is 0, every minor release may change the API and the ABI.
 *
 * Comparing the compile-time and the run-time numbers tells an embedder
 * whether the headers it compiled against match the archive it linked:
 * @code
 * if (vmar_version_number() != VMAR_VERSION_NUMBER)
 *     panic("libvmar headers and library differ");
 * @endcode
 */
#ifndef VMAR_VERSION_H
#define VMAR_VERSION_H

#include <vmar/vmar.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Encode a version as one number, 0x00MMmmpp: each part below 256. */
#define VMAR_VERSION_ENCODE(major, minor, patch)                               \
    (((unsigned)(major) << 16) | ((unsigned)(minor) << 8) | (unsigned)(patch))

/** The version of these headers, encoded with VMAR_VERSION_ENCODE(). */
#define VMAR_VERSION_NUMBER                                                    \
    VMAR_VERSION_ENCODE(VMAR_VERSION_MAJOR, VMAR_VERSION_MINOR,                \
                        VMAR_VERSION_PATCH)

/** @cond VMAR_INTERNAL */
#define VMAR_VERSION_JOIN2(a, b, c) #a "." #b "." #c
#define VMAR_VERSION_JOIN(a, b, c)  VMAR_VERSION_JOIN2(a, b, c)
/** @endcond */

/** The version of these headers as a string, "MAJOR.MINOR.PATCH". */
#define VMAR_VERSION_STRING                                                    \
    VMAR_VERSION_JOIN(VMAR_VERSION_MAJOR, VMAR_VERSION_MINOR,                  \
                      VMAR_VERSION_PATCH)

/**
 * The version of the library that was linked, as a string.
 *
 * Returns: a static NUL-terminated string "MAJOR.MINOR.PATCH", equal to
 *  VMAR_VERSION_STRING of the headers the library was built with; never
 *  NULL. Cannot fail.
 * Locking: none; safe from any context (no state, no allocation).
 * On failure: cannot fail.
 */
const char *vmar_version(void);

/**
 * The version of the library that was linked, as a number.
 *
 * Returns: VMAR_VERSION_ENCODE(major, minor, patch) of the library, equal
 *  to VMAR_VERSION_NUMBER of the headers it was built with. Cannot fail.
 * Locking: none; safe from any context (no state, no allocation).
 * On failure: cannot fail.
 */
unsigned vmar_version_number(void);

#ifdef __cplusplus
}
#endif

#endif /* VMAR_VERSION_H */
