/* SPDX-License-Identifier: MIT */
/**
 * @file error.h
 * @brief Error codes: negative Linux errno values, written as literals so
 *        that the header never needs <errno.h>.
 */
#ifndef VMAR_ERROR_H
#define VMAR_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

/**
 * X-macro list of every code libvmar returns: name, errno value, message.
 * One list drives the enum and vmar_strerror(), so they cannot disagree.
 */
#define VMAR_ERRNO_MAP(X)                                                      \
    X(EPERM, 1, "operation not permitted")                                     \
    X(ENOENT, 2, "no mapping at that address")                                 \
    X(EIO, 5, "the memory object could not supply a page")                     \
    X(EAGAIN, 11, "retry with the space lock held exclusively")                \
    X(ENXIO, 6, "access beyond the end of the memory object")                  \
    X(ENOMEM, 12, "out of memory, address space or mapping count")             \
    X(EACCES, 13, "permission beyond the mapping's maximum")                   \
    X(EFAULT, 14, "range does not lie in a single suitable mapping")           \
    X(EBUSY, 16, "resource busy")                                              \
    X(EEXIST, 17, "range overlaps an existing mapping")                        \
    X(EINVAL, 22, "invalid argument")                                          \
    X(EOVERFLOW, 75, "value too large")                                        \
    X(ENOTSUP, 95, "operation not supported")                                  \
    X(ECORRUPT, 117, "internal invariant broken")

/** Error codes. Every public function returns 0 or one of these. */
enum vmar_error {
    VMAR_OK = 0,
/** Expands one VMAR_ERRNO_MAP() entry into an enumerator VMAR_<name>. */
#define VMAR_X_ENUM(name, num, msg) VMAR_##name = -(num),
    VMAR_ERRNO_MAP(VMAR_X_ENUM)
#undef VMAR_X_ENUM
};

/**
 * Describe an error code.
 *
 * @param err  0 or a negative VMAR_E* code.
 * Returns: a static string ("success" for 0); "unknown error" for codes
 *  not in the list.
 * Locking: none; safe from any context (no state, no allocation).
 * On failure: cannot fail.
 */
const char *vmar_strerror(int err);

/**
 * The symbolic name of an error code ("VMAR_ENOMEM").
 *
 * @param err  0 or a negative VMAR_E* code.
 * Returns: a static string ("VMAR_OK" for 0); "VMAR_E?" for codes not in
 *  the list.
 * Locking: none; safe from any context (no state, no allocation).
 * On failure: cannot fail.
 */
const char *vmar_errname(int err);

#ifdef __cplusplus
}
#endif

#endif /* VMAR_ERROR_H */
