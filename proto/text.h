/*
 * proto/text.h -- two tiny text helpers every axle library uses: an error
 * formatter that tolerates a missing buffer, and a hex digit's value.
 * libaxleproto holds them because registry/, recourse/ and gateway/ all link
 * it and none may depend on another.
 */
#ifndef AXLE_PROTO_TEXT_H
#define AXLE_PROTO_TEXT_H

#include <stdarg.h>
#include <stddef.h>

/* Formats into err; does nothing if err is NULL or errlen is 0. */
void axle_seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void axle_vseterr(char *err, size_t errlen, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* The value of hex digit c (either case), or -1. */
int axle_hexval(char c);

#endif
