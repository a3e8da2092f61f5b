/*
 * svc_reflection.c -- grpc.reflection.v1.ServerReflection (and v1alpha, its
 * older name: the same messages): the services this node serves and the
 * descriptors of their protos (proto/descset.h), so that generic clients
 * call axle without its proto files. Members and this node's admins.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc/reflection/v1/reflection.pb-c.h"
#include "gateway/net/rpc.h"
#include "gateway/node/svc.h"
#include "proto/descset.h"

#define MAX_FILES	32	/* a file and what it depends on */
#define MAX_SERVICES	32

typedef Grpc__Reflection__V1__ServerReflectionRequest Request;
typedef Grpc__Reflection__V1__ServerReflectionResponse Response;

struct service_list {
	Grpc__Reflection__V1__ServiceResponse rows[MAX_SERVICES];
	Grpc__Reflection__V1__ServiceResponse *pp[MAX_SERVICES];
	char names[MAX_SERVICES][2 * PB_DESC_NAME_MAX + 2];
	size_t n;
};

/* The services of the set that this node serves (a proto may define more). */
static void
add_service(void *arg, const char *name)
{
	struct service_list *l = arg;

	if (l->n == MAX_SERVICES || !net_rpc_serves(name))
		return;
	snprintf(l->names[l->n], sizeof(l->names[l->n]), "%s", name);
	grpc__reflection__v1__service_response__init(&l->rows[l->n]);
	l->rows[l->n].name = l->names[l->n];
	l->pp[l->n] = &l->rows[l->n];
	l->n++;
}

static void
error_answer(Response *resp, Grpc__Reflection__V1__ErrorResponse *e, int code,
    const char *message)
{
	e->error_code = code;
	e->error_message = (char *)message;
	resp->message_response_case =
	    GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ERROR_RESPONSE;
	resp->error_response = e;
}

static void
reflection_info(struct net_call *call, const ProtobufCMessage *msg)
{
	const Request *req = (const Request *)msg;
	Response resp = GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__INIT;
	Grpc__Reflection__V1__ErrorResponse err = GRPC__REFLECTION__V1__ERROR_RESPONSE__INIT;
	Grpc__Reflection__V1__FileDescriptorResponse fdr =
	    GRPC__REFLECTION__V1__FILE_DESCRIPTOR_RESPONSE__INIT;
	Grpc__Reflection__V1__ExtensionNumberResponse ext =
	    GRPC__REFLECTION__V1__EXTENSION_NUMBER_RESPONSE__INIT;
	Grpc__Reflection__V1__ListServiceResponse lsr =
	    GRPC__REFLECTION__V1__LIST_SERVICE_RESPONSE__INIT;
	struct pb_desc_file root, files[MAX_FILES];
	ProtobufCBinaryData blobs[MAX_FILES];
	struct service_list *services = NULL;
	const char *key = NULL;
	int found = -1;

	if (req == NULL) {	/* the client's last request: answered, so done */
		net_call_finish(call, GRPC_OK, NULL);
		return;
	}
	resp.valid_host = req->host;
	resp.original_request = (Request *)req;
	switch (req->message_request_case) {
	case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_LIST_SERVICES:
		if ((services = calloc(1, sizeof(*services))) == NULL) {
			net_call_error(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
			return;
		}
		(void)pb_descset_services(pb_descriptor_set, pb_descriptor_set_len,
		    add_service, services);
		lsr.n_service = services->n;
		lsr.service = services->pp;
		resp.message_response_case =
		    GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_LIST_SERVICES_RESPONSE;
		resp.list_services_response = &lsr;
		break;
	case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_BY_FILENAME:
		key = req->file_by_filename;
		found = pb_descset_by_name(pb_descriptor_set, pb_descriptor_set_len,
		    key, &root);
		break;
	case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_SYMBOL:
		key = req->file_containing_symbol;
		found = pb_descset_by_symbol(pb_descriptor_set, pb_descriptor_set_len,
		    key, &root);
		break;
	case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_EXTENSION:
		error_answer(&resp, &err, GRPC_NOT_FOUND,
		    "axle's protos define no extensions");
		break;
	case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_ALL_EXTENSION_NUMBERS_OF_TYPE:
		if (pb_descset_by_symbol(pb_descriptor_set, pb_descriptor_set_len,
		    req->all_extension_numbers_of_type, &root) != 0) {
			error_answer(&resp, &err, GRPC_NOT_FOUND, "no such type here");
			break;
		}
		ext.base_type_name = req->all_extension_numbers_of_type;
		resp.message_response_case =
		    GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ALL_EXTENSION_NUMBERS_RESPONSE;
		resp.all_extension_numbers_response = &ext;	/* none */
		break;
	default:
		error_answer(&resp, &err, GRPC_INVALID_ARGUMENT, "the request asks "
		    "nothing: set one of file_by_filename, file_containing_symbol, "
		    "file_containing_extension, all_extension_numbers_of_type, "
		    "list_services");
		break;
	}
	if (key != NULL && found != 0) {
		error_answer(&resp, &err, GRPC_NOT_FOUND, req->message_request_case ==
		    GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_BY_FILENAME ?
		    "no such file here" : "no such symbol here");
	} else if (key != NULL) {
		/* The file, then everything it imports: a client needs them all. */
		fdr.n_file_descriptor_proto = pb_descset_closure(pb_descriptor_set,
		    pb_descriptor_set_len, &root, files, MAX_FILES);
		for (size_t i = 0; i < fdr.n_file_descriptor_proto; i++) {
			blobs[i].data = (uint8_t *)files[i].data;
			blobs[i].len = files[i].len;
		}
		fdr.file_descriptor_proto = blobs;
		resp.message_response_case =
		    GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_FILE_DESCRIPTOR_RESPONSE;
		resp.file_descriptor_response = &fdr;
	}
	if (net_call_send(call, &resp.base) != 0)
		net_call_error(call, GRPC_RESOURCE_EXHAUSTED, "could not send the answer");
	free(services);
}

static const struct net_rpc_method methods[] = {
	{ "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
	  NET_AUTHZ_MEMBER_OR_ADMIN, &grpc__reflection__v1__server_reflection_request__descriptor,
	  reflection_info, NET_RPC_BIDI },
	{ "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
	  NET_AUTHZ_MEMBER_OR_ADMIN, &grpc__reflection__v1__server_reflection_request__descriptor,
	  reflection_info, NET_RPC_BIDI },
};

const struct net_rpc_service gw_svc_reflection = { methods, sizeof(methods) / sizeof(methods[0]) };
