/* rc.c -- recourse return code names and reason formatting. */
#include <stdarg.h>
#include <stdio.h>

#include "recourse/rc.h"

const char *
recourse_rc_name(int rc)
{
	switch (rc) {
	case RECOURSE_OK:		return "OK";
	case RECOURSE_EINVAL:		return "EINVAL";
	case RECOURSE_ENOTFOUND:	return "ENOTFOUND";
	case RECOURSE_EPRECOND:		return "EPRECOND";
	case RECOURSE_ELOOP:		return "ELOOP";
	case RECOURSE_EROOT:		return "EROOT";
	case RECOURSE_ESTORE:		return "ESTORE";
	case RECOURSE_ENOMEM:		return "ENOMEM";
	}
	return "unknown";
}

int
recourse_why(char *buf, size_t len, int rc, const char *fmt, ...)
{
	va_list ap;

	if (buf == NULL || len == 0)
		return rc;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return rc;
}

int
recourse_err_set(struct recourse_err *e, int rc, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return rc;
	e->store_rc = 0;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return rc;
}
