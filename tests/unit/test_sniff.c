// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_sniff.c - the file types of tests/data/sniff/EXPECTED: for every
 * sample, what sniff_type() gives and what libmagic itself gives (the
 * oracle) are the types written there. Every sample file is listed, so
 * none is skipped unnoticed. Run from the repository's top directory.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mime/files.h"
#include "mime/sniff.h"

#define DIR_PATH "tests/data/sniff"

static size_t read_head(const char *name, uint8_t *buf, size_t cap)
{
	char path[512];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", DIR_PATH, name);
	f = fopen(path, "rb");
	if (!f)
		fail_msg("%s: cannot open", path);
	n = fread(buf, 1, cap, f);
	fclose(f);
	return n;
}

static const char *shown(const char *type)
{
	return type[0] ? type : "-";
}

static void test_expected_types(void **state)
{
	static uint8_t buf[FILE_BOF_BYTES];
	char line[512], listed[4096] = "";
	FILE *f = fopen(DIR_PATH "/EXPECTED", "r");
	size_t samples = 0;
	DIR *d;
	struct dirent *de;

	(void)state;
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		char name[128], ours[SNIFF_TYPE_MAX], theirs[SNIFF_TYPE_MAX];
		char got_ours[SNIFF_TYPE_MAX], got_theirs[SNIFF_TYPE_MAX];
		size_t n;

		if (line[0] == '#')
			continue;
		assert_int_equal(sscanf(line, "%127s %127s %127s", name, ours, theirs), 3);
		n = read_head(name, buf, sizeof(buf));
		sniff_type(buf, n, got_ours);
		sniff_type_libmagic(buf, n, got_theirs);
		if (strcmp(shown(got_ours), ours) || strcmp(shown(got_theirs), theirs))
			fail_msg("%s: smtpmon %s, libmagic %s; expected %s and %s", name,
				 shown(got_ours), shown(got_theirs), ours, theirs);
		assert_true(strlen(listed) + strlen(name) + 2 < sizeof(listed));
		strcat(listed, "/");
		strcat(listed, name);
		samples++;
	}
	fclose(f);
	assert_true(samples >= 20);
	strcat(listed, "/");
	d = opendir(DIR_PATH);
	assert_non_null(d);
	while ((de = readdir(d))) {
		char key[300];

		if (de->d_name[0] == '.' || !strcmp(de->d_name, "EXPECTED"))
			continue;
		snprintf(key, sizeof(key), "/%s/", de->d_name);
		if (!strstr(listed, key))
			fail_msg("%s/%s is not in EXPECTED", DIR_PATH, de->d_name);
	}
	closedir(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_expected_types),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
