/* SPDX-License-Identifier: MIT */
/* Line building for vmar_dump() and vmar_check() reports. Overlong
 * output is truncated, never overflowed. */
#include "fmt.h"

void vmar__line_reset(struct vmar__line *l)
{
    l->len = 0;
    l->buf[0] = '\0';
}

void vmar__line_char(struct vmar__line *l, char c)
{
    if (l->len + 1 < sizeof(l->buf))
        l->buf[l->len++] = c;
    l->buf[l->len] = '\0';
}

void vmar__line_str(struct vmar__line *l, const char *s)
{
    while (*s)
        vmar__line_char(l, *s++);
}

void vmar__line_hex(struct vmar__line *l, uint64_t v, unsigned width)
{
    char tmp[16];
    unsigned n = 0;

    do {
        tmp[n++] = "0123456789abcdef"[v & 0xf];
        v >>= 4;
    } while (v);
    while (n < width && n < sizeof(tmp))
        tmp[n++] = '0';
    while (n)
        vmar__line_char(l, tmp[--n]);
}

void vmar__line_dec(struct vmar__line *l, uint64_t v, unsigned width)
{
    char tmp[20]; /* 2^64 - 1 has 20 digits */
    unsigned n = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (unsigned pad = n; pad < width; pad++)
        vmar__line_char(l, ' ');
    while (n)
        vmar__line_char(l, tmp[--n]);
}

void vmar__line_pad(struct vmar__line *l, size_t col)
{
    while (l->len < col && l->len + 1 < sizeof(l->buf))
        vmar__line_char(l, ' ');
}
