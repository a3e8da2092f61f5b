/* error.c -- registry/ result code names, gRPC mapping and reasons. */
#include <stdarg.h>
#include <stdio.h>

#include "registry/error.h"

const char *
registry_strerror(int rc)
{
	switch (rc) {
	case REGISTRY_OK:		return "OK";
	case REGISTRY_EINVAL:		return "EINVAL";
	case REGISTRY_EEXIST:		return "EEXIST";
	case REGISTRY_EPERM:		return "EPERM";
	case REGISTRY_ENOTFOUND:	return "ENOTFOUND";
	case REGISTRY_ECONFLICT:	return "ECONFLICT";
	case REGISTRY_EPRECOND:		return "EPRECOND";
	case REGISTRY_ESTORE:		return "ESTORE";
	case REGISTRY_ENOMEM:		return "ENOMEM";
	case REGISTRY_EINTEGRITY:	return "EINTEGRITY";
	default:			return "unknown registry error";
	}
}

int
registry_grpc_status(int rc)
{
	switch (rc) {
	case REGISTRY_OK:		return 0;
	case REGISTRY_EINVAL:		return 3;
	case REGISTRY_ENOTFOUND:	return 5;
	case REGISTRY_EEXIST:		return 6;
	case REGISTRY_EPERM:		return 7;
	case REGISTRY_ENOMEM:		return 8;
	case REGISTRY_EPRECOND:		return 9;
	case REGISTRY_ECONFLICT:	return 10;
	case REGISTRY_EINTEGRITY:	return 15;
	default:			return 14;
	}
}

int
registry_fail(int rc, char *reason, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (reason == NULL || len == 0)
		return rc;
	va_start(ap, fmt);
	vsnprintf(reason, len, fmt, ap);
	va_end(ap);
	return rc;
}
