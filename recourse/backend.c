/* backend.c -- what every recourse backend shares: destroy and error mapping. */
#include "recourse/backend.h"
#include "recourse/rc.h"

void
recourse_backend_destroy(struct recourse_backend *be)
{
	if (be != NULL)
		be->ops->destroy(be);
}

int
recourse_backend_err(struct recourse_backend *be, int code,
    struct recourse_err *e, const char *what)
{
	if (code == 0)
		return RECOURSE_OK;
	if (code == RECOURSE_ENOMEM)
		return recourse_err_set(e, RECOURSE_ENOMEM, "%s: out of memory",
		    what);
	if (code == RECOURSE_ENOTFOUND)
		return recourse_err_set(e, RECOURSE_ENOTFOUND, "%s: not found",
		    what);
	recourse_err_set(e, RECOURSE_ESTORE, "%s: %s store error: %s", what,
	    be->name, be->ops->strerror(be, code));
	if (e != NULL)
		e->store_rc = code;
	return RECOURSE_ESTORE;
}
