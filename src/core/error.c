/* SPDX-License-Identifier: MIT */
/* Error names and messages, generated from the one list in vmar/error.h. */
#include <vmar/error.h>

const char *vmar_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
#define VMAR_X_MSG(name, num, msg)                                             \
    case -(num):                                                               \
        return msg;
        VMAR_ERRNO_MAP(VMAR_X_MSG)
#undef VMAR_X_MSG
    default:
        return "unknown error";
    }
}

const char *vmar_errname(int err)
{
    switch (err) {
    case 0:
        return "VMAR_OK";
#define VMAR_X_NAME(name, num, msg)                                            \
    case -(num):                                                               \
        return "VMAR_" #name;
        VMAR_ERRNO_MAP(VMAR_X_NAME)
#undef VMAR_X_NAME
    default:
        return "VMAR_E?";
    }
}
