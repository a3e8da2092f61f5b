/* test_console.c -- /console/: which paths are the console's, media types, who gets the pages and who the 403 page. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>

#include "gateway/net/console.h"
#include "gateway/net/identity.h"

static struct net_identity
who(const char *uri)
{
	struct net_identity id;

	if (net_identity_parse_uri(uri, strlen(uri), &id, NULL, 0) != 0)
		fail_msg("bad test URI %s", uri);
	return id;
}

/* GET path as caller on fame-test's uk.test: the status, the body in *body (freed by the caller). */
static int
get(const char *path, const char *uri, char **body, const char **ctype,
    const char **location)
{
	struct net_identity id = who(uri);
	struct evbuffer *out = evbuffer_new();
	int status;
	size_t n;

	assert_non_null(out);
	status = net_console_answer(path, &id, "fame-test", "uk.test", out, ctype,
	    location);
	n = evbuffer_get_length(out);
	*body = calloc(1, n + 1);
	assert_non_null(*body);
	evbuffer_remove(out, *body, n);
	evbuffer_free(out);
	return status;
}

static void
test_paths(void **state)
{
	assert_true(net_console_path("/console"));
	assert_true(net_console_path("/console/"));
	assert_true(net_console_path("/console?x=1"));
	assert_true(net_console_path("/console/app.js"));
	assert_false(net_console_path("/consoles"));
	assert_false(net_console_path("/consol"));
	assert_false(net_console_path("/metrics"));
	assert_string_equal(net_console_media_type("/console/app.js"),
	    "text/javascript; charset=utf-8");
	assert_string_equal(net_console_media_type("/console/index.html"),
	    "text/html; charset=utf-8");
	assert_string_equal(net_console_media_type("/console/style.css"),
	    "text/css; charset=utf-8");
	assert_string_equal(net_console_media_type("/console/x.bin"),
	    "application/octet-stream");
	assert_string_equal(net_console_media_type("/console/js"),
	    "application/octet-stream");
}

static void
test_admin_gets_pages(void **state)
{
	const char *admin = "axle://fame-test/admin/uk.test/ops", *ct, *loc;
	char *body;

	assert_int_equal(get("/console", admin, &body, &ct, &loc), 308);
	assert_string_equal(loc, "/console/");
	free(body);
	assert_int_equal(get("/console/?from=bookmark", admin, &body, &ct, &loc), 200);
	assert_null(loc);
	assert_string_equal(ct, "text/html; charset=utf-8");
	assert_non_null(strstr(body, "<html"));
	free(body);
	assert_int_equal(get("/console/../metrics", admin, &body, &ct, &loc), 404);
	assert_null(strstr(body, "<script"));
	free(body);
	/* every compiled-in asset is reachable by its path */
	assert_true(net_console_n_assets >= 1);
	for (size_t i = 0; i < net_console_n_assets; i++) {
		assert_int_equal(get(net_console_assets[i].path, admin, &body, &ct, &loc),
		    200);
		assert_memory_equal(body, net_console_assets[i].data,
		    net_console_assets[i].len);
		free(body);
	}
}

static void
test_others_get_403_without_data(void **state)
{
	static const char *const others[] = {
		"axle://fame-test/member/uk.test.hub",
		"axle://fame-test/admin/uk.other/ops",
		"axle://fame-test/node/uk.test",
		"axle://fame-other/admin/uk.test/ops",
	};
	const char *ct, *loc;
	char *body;

	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		assert_int_equal(get("/console/", others[i], &body, &ct, &loc), 403);
		assert_string_equal(ct, "text/html; charset=utf-8");
		assert_null(loc);
		assert_non_null(strstr(body, "403 Forbidden"));
		assert_null(strstr(body, "<script"));
		/* not even whether an asset exists */
		free(body);
		assert_int_equal(get("/console/no-such", others[i], &body, &ct, &loc), 403);
		free(body);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_admin_gets_pages),
		cmocka_unit_test(test_others_get_403_without_data),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
