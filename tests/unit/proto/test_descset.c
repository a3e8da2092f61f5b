/* test_descset.c -- look-ups in the compiled-in FileDescriptorSet (server reflection's). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/descset.h"

#define SET pb_descriptor_set, pb_descriptor_set_len

/* The file's name field (1), as a C string in buf. */
static const char *
file_name(const struct pb_desc_file *f, char *buf, size_t n)
{
	assert_true(f->len > 2 && f->data[0] == (1 << 3 | 2) && f->data[1] < n);
	memcpy(buf, f->data + 2, f->data[1]);
	buf[f->data[1]] = '\0';
	return buf;
}

static void
by_name(void **state)
{
	struct pb_desc_file f;
	char name[128];

	(void)state;
	assert_int_equal(pb_descset_by_name(SET, "axle/v1/switch.proto", &f), 0);
	assert_string_equal(file_name(&f, name, sizeof(name)), "axle/v1/switch.proto");
	assert_int_equal(pb_descset_by_name(SET, "grpc/health/v1/health.proto", &f), 0);
	assert_int_equal(pb_descset_by_name(SET, "grpc/reflection/v1alpha/reflection.proto", &f), 0);
	assert_int_equal(pb_descset_by_name(SET, "axle/v1/switch", &f), -1);
	assert_int_equal(pb_descset_by_name(SET, "", &f), -1);
}

static void
by_symbol(void **state)
{
	static const char *const found[][2] = {
		{ "axle.v1.Switch", "axle/v1/switch.proto" },			/* service */
		{ "axle.v1.Switch.Send", "axle/v1/switch.proto" },		/* method */
		{ "axle.v1.InfoRequest", "axle/v1/node.proto" },		/* message */
		{ "grpc.health.v1.HealthCheckResponse.ServingStatus",		/* nested enum */
		  "grpc/health/v1/health.proto" },
		{ "grpc.reflection.v1alpha.ServerReflection",
		  "grpc/reflection/v1alpha/reflection.proto" },
	};
	static const char *const missing[] = {
		"axle.v1", "axle.v1.", "axle.v1.Switch.", "axle.v1.Switch.Nope",
		"axle.v1.SwitchX", "Switch", ".axle.v1.Switch", "axle.v2.Switch",
		"grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING",
	};
	struct pb_desc_file f;
	char name[128];

	(void)state;
	for (size_t i = 0; i < sizeof(found) / sizeof(found[0]); i++) {
		assert_int_equal(pb_descset_by_symbol(SET, found[i][0], &f), 0);
		assert_string_equal(file_name(&f, name, sizeof(name)), found[i][1]);
	}
	for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++)
		assert_int_equal(pb_descset_by_symbol(SET, missing[i], &f), -1);
}

static void
count_service(void *arg, const char *name)
{
	size_t *axle = arg;

	if (strncmp(name, "axle.v1.", 8) == 0)
		(*axle)++;
	assert_non_null(strchr(name, '.'));
}

static void
services(void **state)
{
	size_t axle = 0;

	(void)state;
	/* Axle, Node, Portal, Recourse, Registry, Switch; Health; reflection v1, v1alpha. */
	assert_int_equal(pb_descset_services(SET, count_service, &axle), 9);
	assert_int_equal(axle, 6);
}

static void
closure(void **state)
{
	struct pb_desc_file root, out[16];
	char name[128];
	size_t n;

	(void)state;
	assert_int_equal(pb_descset_by_name(SET, "axle/v1/switch.proto", &root), 0);
	n = pb_descset_closure(SET, &root, out, 16);
	assert_true(n >= 2);
	assert_string_equal(file_name(&out[0], name, sizeof(name)), "axle/v1/switch.proto");
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			assert_ptr_not_equal(out[i].data, out[j].data);
	assert_int_equal(pb_descset_closure(SET, &root, out, 1), 1);
	assert_int_equal(pb_descset_by_name(SET, "axle/v1/common.proto", &root), 0);
	assert_int_equal(pb_descset_closure(SET, &root, out, 16), 1);	/* imports nothing */
}

/* Every truncation of the set: no crash, no read past it (ASan), finds at most what the whole set has. */
static void
malformed(void **state)
{
	struct pb_desc_file f, out[16];
	size_t axle = 0;

	(void)state;
	for (size_t len = 0; len < pb_descriptor_set_len; len += 7) {
		uint8_t *copy = malloc(len + 1);

		assert_non_null(copy);
		memcpy(copy, pb_descriptor_set, len);
		if (pb_descset_by_symbol(copy, len, "axle.v1.Switch.Send", &f) == 0) {
			assert_true(f.data >= copy && f.data + f.len <= copy + len);
			(void)pb_descset_closure(copy, len, &f, out, 16);
		}
		(void)pb_descset_by_name(copy, len, "axle/v1/switch.proto", &f);
		assert_true(pb_descset_services(copy, len, count_service, &axle) <= 9);
		free(copy);
	}
	/* A group wire type, a length past the end, a varint that never ends. */
	static const uint8_t bad[][4] = { { 0x0b, 0, 0, 0 }, { 0x0a, 0x7f, 0, 0 },
		{ 0x08, 0xff, 0xff, 0xff } };
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(pb_descset_by_name(bad[i], 4, "x", &f), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(by_name),
		cmocka_unit_test(by_symbol),
		cmocka_unit_test(services),
		cmocka_unit_test(closure),
		cmocka_unit_test(malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
