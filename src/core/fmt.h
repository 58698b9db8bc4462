/* SPDX-License-Identifier: MIT */
/* A bounded line builder for diagnostics, without libc. */
#ifndef VMAR_CORE_FMT_H
#define VMAR_CORE_FMT_H

#include "deps.h"

#define VMAR_LINE_MAX 160

struct vmar__line {
    char buf[VMAR_LINE_MAX]; /* always NUL-terminated after each put */
    size_t len;
};

void vmar__line_reset(struct vmar__line *l);
void vmar__line_char(struct vmar__line *l, char c);
void vmar__line_str(struct vmar__line *l, const char *s);
/* Lower-case hex with at least `width` digits (zero padded). */
void vmar__line_hex(struct vmar__line *l, uint64_t v, unsigned width);
/* Decimal, right-aligned in at least `width` columns (space padded). */
void vmar__line_dec(struct vmar__line *l, uint64_t v, unsigned width);
/* Pad with spaces up to column `col`. */
void vmar__line_pad(struct vmar__line *l, size_t col);

#endif /* VMAR_CORE_FMT_H */
