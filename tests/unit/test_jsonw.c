// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_jsonw.c - the JSON writer: escaping of every class of byte, numbers,
 * timestamps, and an independent oracle (Python's strict JSON and UTF-8
 * decoders) over 10,000 random byte strings that also checks that decoding
 * the \xNN escapes gives back the original bytes.
 *
 * Expected strings are derived by hand from jsonw.h: in the JSON text an
 * escaped byte is the five characters \\xNN (lower-case hex), so in C source
 * it reads "\\\\xNN".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "output/jsonw.h"
#include "output/out_common.h"

/* The escaped form of len bytes, NUL-terminated, in a static buffer. */
static const char *escaped(const void *s, size_t len)
{
	static char out[4096];
	struct jsonw w;

	jsonw_init(&w);
	escape_bytes(&w, s, len);
	assert_true(w.len < sizeof(out));
	if (w.len)
		memcpy(out, w.buf, w.len);
	out[w.len] = '\0';
	jsonw_free(&w);
	return out;
}

#define assert_escaped(lit, want) assert_string_equal(escaped(lit, sizeof(lit) - 1), want)

static void test_every_control_byte(void **state)
{
	char want[8];
	uint8_t c;

	(void)state;
	for (c = 0; c < 0x20; c++) {
		snprintf(want, sizeof(want), "\\\\x%c%c", "0123456789abcdef"[c >> 4],
			 "0123456789abcdef"[c & 15]);
		assert_string_equal(escaped(&c, 1), want);
	}
	assert_escaped("\x7f", "\\\\x7f");
	assert_escaped("\t\n\r", "\\\\x09\\\\x0a\\\\x0d");
}

static void test_quote_backslash_and_plain_ascii(void **state)
{
	(void)state;
	assert_escaped("\"", "\\\"");
	assert_escaped("\\", "\\\\");
	assert_escaped("a\"b\\c", "a\\\"b\\\\c");
	assert_escaped(" !/~AZaz09<>@", " !/~AZaz09<>@");
	assert_escaped("", "");
}

static void test_valid_utf8_passes(void **state)
{
	(void)state;
	assert_escaped("\xc3\xa9", "\xc3\xa9");			/* é */
	assert_escaped("\xe2\x82\xac", "\xe2\x82\xac");		/* € */
	assert_escaped("\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"); /* U+1F600 */
	/* the edges of every row of Unicode table 3-7 */
	assert_escaped("\xc2\xa0", "\xc2\xa0");			/* U+00A0 */
	assert_escaped("\xdf\xbf", "\xdf\xbf");			/* U+07FF */
	assert_escaped("\xe0\xa0\x80", "\xe0\xa0\x80");		/* U+0800 */
	assert_escaped("\xed\x9f\xbf", "\xed\x9f\xbf");		/* U+D7FF */
	assert_escaped("\xee\x80\x80", "\xee\x80\x80");		/* U+E000 */
	assert_escaped("\xef\xbf\xbd", "\xef\xbf\xbd");		/* U+FFFD */
	assert_escaped("\xf0\x90\x80\x80", "\xf0\x90\x80\x80"); /* U+10000 */
	assert_escaped("\xf3\xbf\xbf\xbd", "\xf3\xbf\xbf\xbd"); /* U+FFFFD */
	assert_escaped("\xf4\x8f\xbf\xbd", "\xf4\x8f\xbf\xbd"); /* U+10FFFD */
	assert_escaped("a\xc3\xa9z", "a\xc3\xa9z");
}

/* The three forms of one input (jsonw.h, out_common.h). */
static const char *escaped_form(const char *s,
				void (*form)(struct jsonw *, const uint8_t *, size_t))
{
	static char out[256];
	struct jsonw w;

	jsonw_init(&w);
	form(&w, (const uint8_t *)s, strlen(s));
	assert_true(w.len < sizeof(out));
	memcpy(out, w.buf, w.len);
	out[w.len] = '\0';
	jsonw_free(&w);
	return out;
}

/* Characters a terminal or journald acts on: a JSON \u escape (a surrogate
 * pair above U+FFFF), shown as such in text and journal forms; their
 * neighbours pass. */
static void test_unsafe_code_points(void **state)
{
	(void)state;
	assert_escaped("\xc2\x80", "\\u0080");		       /* U+0080, first C1 */
	assert_escaped("\xc2\x85\xc2\x9b", "\\u0085\\u009b");  /* NEL, 8-bit CSI */
	assert_escaped("\xc2\x9f\xc2\xa0", "\\u009f\xc2\xa0"); /* last C1, NBSP */
	assert_escaped("\xd8\x9c", "\\u061c");		       /* Arabic letter mark */
	assert_escaped("\xe2\x80\x8d\xe2\x80\x8e\xe2\x80\x8f", "\xe2\x80\x8d\\u200e\\u200f");
	assert_escaped("\xe2\x80\xa7\xe2\x80\xa8\xe2\x80\xa9", "\xe2\x80\xa7\\u2028\\u2029");
	assert_escaped("\xe2\x80\xaa\xe2\x80\xae\xe2\x80\xaf", "\\u202a\\u202e\xe2\x80\xaf");
	assert_escaped("\xe2\x81\xa5\xe2\x81\xa6\xe2\x81\xa9\xe2\x81\xaa",
		       "\xe2\x81\xa5\\u2066\\u2069\xe2\x81\xaa");
	assert_escaped("\xef\xb7\x8f\xef\xb7\x90\xef\xb7\xaf\xef\xb7\xb0",
		       "\xef\xb7\x8f\\ufdd0\\ufdef\xef\xb7\xb0"); /* noncharacters */
	assert_escaped("\xef\xbf\xbe\xef\xbf\xbf", "\\ufffe\\uffff");
	assert_escaped("\xf0\x9f\xbf\xbe", "\\ud83f\\udffe"); /* U+1FFFE */
	assert_escaped("\xf4\x8f\xbf\xbf", "\\udbff\\udfff"); /* U+10FFFF */
	/* "invoice<RLO>fdp.exe" shows as written, not as "invoiceexe.pdf" */
	assert_string_equal(escaped_form("a\"\\\x01\xe2\x80\xae"
					 "b",
					 escape_bytes_text),
			    "a\"\\\\\\x01\\u202e"
			    "b");
	assert_string_equal(escaped_form("a\"\\\x01\xe2\x80\xae"
					 "b",
					 escape_bytes_decoded),
			    "a\"\\\\x01\\u202e"
			    "b");
}

static void test_overlong_forms(void **state)
{
	(void)state;
	assert_escaped("\xc0\xaf", "\\\\xc0\\\\xaf");
	assert_escaped("\xc1\xbf", "\\\\xc1\\\\xbf");
	assert_escaped("\xe0\x80\xaf", "\\\\xe0\\\\x80\\\\xaf");
	assert_escaped("\xe0\x9f\xbf", "\\\\xe0\\\\x9f\\\\xbf");
	assert_escaped("\xf0\x80\x80\xaf", "\\\\xf0\\\\x80\\\\x80\\\\xaf");
	assert_escaped("\xf0\x8f\xbf\xbf", "\\\\xf0\\\\x8f\\\\xbf\\\\xbf");
}

static void test_surrogates_and_out_of_range(void **state)
{
	(void)state;
	assert_escaped("\xed\xa0\x80", "\\\\xed\\\\xa0\\\\x80"); /* U+D800 */
	assert_escaped("\xed\xbf\xbf", "\\\\xed\\\\xbf\\\\xbf"); /* U+DFFF */
	assert_escaped("\xf4\x90\x80\x80", "\\\\xf4\\\\x90\\\\x80\\\\x80");
	assert_escaped("\xf5\x80\x80\x80", "\\\\xf5\\\\x80\\\\x80\\\\x80");
	assert_escaped("\xf8\x88\x80\x80\x80", "\\\\xf8\\\\x88\\\\x80\\\\x80\\\\x80");
	assert_escaped("\xfe\xff", "\\\\xfe\\\\xff");
}

static void test_truncated_and_lone_bytes(void **state)
{
	(void)state;
	/* truncated at the end of the string */
	assert_escaped("a\xc3", "a\\\\xc3");
	assert_escaped("\xe2\x82", "\\\\xe2\\\\x82");
	assert_escaped("\xf0\x9f\x98", "\\\\xf0\\\\x9f\\\\x98");
	/* truncated in the middle: the following bytes are judged on their own */
	assert_escaped("\xe2\x82"
		       "A",
		       "\\\\xe2\\\\x82A");
	assert_escaped("\xc3\xc3\xa9", "\\\\xc3\xc3\xa9");
	assert_escaped("\xf0\x9f\x98\xe2\x82\xac", "\\\\xf0\\\\x9f\\\\x98\xe2\x82\xac");
	/* lone continuation bytes */
	assert_escaped("\x80", "\\\\x80");
	assert_escaped("\xbf", "\\\\xbf");
	assert_escaped("a\x80\x80z", "a\\\\x80\\\\x80z");
	/* NUL in the middle does not end the string */
	assert_escaped("a\0b", "a\\\\x00b");
}

static void test_object_and_numbers(void **state)
{
	struct jsonw w;

	(void)state;
	jsonw_init(&w);
	jsonw_begin(&w);
	jsonw_key_cstr(&w, "s", "x\"y");
	jsonw_key_str(&w, "b", (const uint8_t *)"\x01", 1);
	jsonw_key_u64(&w, "zero", 0);
	jsonw_key_u64(&w, "max", UINT64_MAX);
	jsonw_key_bool(&w, "t", true);
	jsonw_key_bool(&w, "f", false);
	jsonw_end(&w);
	jsonw_raw(&w, "", 1);
	assert_string_equal(w.buf, "{\"s\":\"x\\\"y\",\"b\":\"\\\\x01\",\"zero\":0,"
				   "\"max\":18446744073709551615,\"t\":true,\"f\":false}\n");
	/* a second object in the same buffer starts without a comma */
	w.len = 0;
	jsonw_begin(&w);
	jsonw_key_u64(&w, "n", 7);
	jsonw_end(&w);
	jsonw_raw(&w, "", 1);
	assert_string_equal(w.buf, "{\"n\":7}\n");
	jsonw_free(&w);
}

static const char *time_text(uint64_t ns)
{
	static char out[64];
	struct jsonw w;

	jsonw_init(&w);
	jsonw_begin(&w);
	jsonw_key_time(&w, "ts", ns);
	jsonw_end(&w);
	assert_true(w.len < sizeof(out));
	memcpy(out, w.buf, w.len);
	out[w.len] = '\0';
	jsonw_free(&w);
	return out;
}

static void test_time_formatting(void **state)
{
	(void)state;
	assert_string_equal(time_text(0), "{\"ts\":0.000000}\n");
	assert_string_equal(time_text(1000), "{\"ts\":0.000001}\n");
	assert_string_equal(time_text(999), "{\"ts\":0.000000}\n"); /* truncated, not rounded */
	assert_string_equal(time_text(999999999), "{\"ts\":0.999999}\n");
	assert_string_equal(time_text(1000000000), "{\"ts\":1.000000}\n");
	assert_string_equal(time_text(1732640000123456789ull), "{\"ts\":1732640000.123456}\n");
	/* exact where a double would round: 2^53 + 1 microseconds */
	assert_string_equal(time_text(9007199254740993000ull), "{\"ts\":9007199254.740993}\n");
	assert_string_equal(time_text(UINT64_MAX), "{\"ts\":18446744073.709551}\n");
}

static void test_large_string_and_buffer_release(void **state)
{
	size_t n = 3u << 20, i;
	uint8_t *big = malloc(n);
	struct jsonw w;

	(void)state;
	assert_non_null(big);
	for (i = 0; i < n; i++)
		big[i] = (i % 3) ? 'a' : 0xff;
	jsonw_init(&w);
	jsonw_begin(&w);
	jsonw_key_str(&w, "k", big, n);
	jsonw_end(&w);
	/* "{" "\"k\":\"" + n/3 * (5 + 2) + "\"" "}\n" */
	assert_int_equal(w.len, 1 + 5 + n / 3 * 7 + 1 + 2);
	assert_memory_equal(w.buf + 6, "\\\\xffaa\\\\xff", 12);
	/* the next event gives the oversized buffer back */
	w.len = 0;
	jsonw_begin(&w);
	assert_true(w.cap <= (1u << 20));
	jsonw_free(&w);
	free(big);
}

/*
 * Random strings with bytes picked to hit every class often: plain ASCII,
 * quote/backslash, controls, UTF-8 leads, continuations, invalid leads. A
 * backslash is never followed by 'x', because "\x41" typed literally and the
 * escaped byte 0x41 look the same after escaping (as in Zeek's logs).
 */
static size_t random_string(uint8_t *s, size_t cap)
{
	static const uint8_t interesting[] = {0x00, 0x01, 0x09, 0x0a, 0x0d, 0x1f, 0x7f, '"',  '\\',
					      0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2,
					      0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1,
					      0xf3, 0xf4, 0xf5, 0xf8, 0xfe, 0xff};
	size_t len = (size_t)rand() % cap, i;

	for (i = 0; i < len; i++) {
		switch (rand() % 4) {
		case 0:
			s[i] = (uint8_t)(0x20 + rand() % 0x5f);
			break;
		case 1:
			s[i] = interesting[rand() % sizeof(interesting)];
			break;
		case 2:
			s[i] = (uint8_t)(0x80 + rand() % 0x40); /* continuation */
			break;
		default:
			s[i] = (uint8_t)rand();
			break;
		}
		if (i > 0 && s[i - 1] == '\\' && s[i] == 'x')
			s[i] = 'y';
	}
	return len;
}

static const char oracle_py[] =
    "import json, sys\n"
    "lines = open(sys.argv[1], 'rb').read().split(b'\\n')\n"
    "assert lines[-1] == b''\n"
    "want = [bytes.fromhex(h) for h in open(sys.argv[2]).read().split('\\n')[:-1]]\n"
    "assert len(lines) - 1 == len(want), (len(lines), len(want))\n"
    "for n, (raw, orig) in enumerate(zip(lines, want)):\n"
    "    assert all(b >= 0x20 and b != 0x7f for b in raw), n\n"
    "    unsafe = [c for c in raw.decode('utf-8') if 0x80 <= ord(c) <= 0x9f or\n"
    "              ord(c) in (0x61c, 0x200e, 0x200f) or 0x2028 <= ord(c) <= 0x202e or\n"
    "              0x2066 <= ord(c) <= 0x2069 or 0xfdd0 <= ord(c) <= 0xfdef or\n"
    "              ord(c) & 0xfffe == 0xfffe]\n"
    "    assert not unsafe, (n, unsafe)\n"
    "    obj = json.loads(raw.decode('utf-8', errors='strict'))\n"
    "    s = obj['s']\n"
    "    out = bytearray()\n"
    "    i = 0\n"
    "    while i < len(s):\n"
    "        if s.startswith('\\\\x', i):\n"
    "            out.append(int(s[i + 2:i + 4], 16))\n"
    "            i += 4\n"
    "        else:\n"
    "            out += s[i].encode('utf-8', errors='strict')\n"
    "            i += 1\n"
    "    assert bytes(out) == orig, (n, raw, orig)\n"
    "    assert obj['n'] == n\n"
    "print('oracle: %d lines ok' % n)\n";

static void test_random_strings_python_oracle(void **state)
{
	char dir[] = "/tmp/test_jsonw.XXXXXX", json_path[64], hex_path[64], py_path[64];
	char cmd[256];
	uint8_t s[200];
	FILE *json, *hex, *py;
	struct jsonw w;
	size_t len, i;
	int n;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(json_path, sizeof(json_path), "%s/out.json", dir);
	snprintf(hex_path, sizeof(hex_path), "%s/orig.hex", dir);
	snprintf(py_path, sizeof(py_path), "%s/oracle.py", dir);
	json = fopen(json_path, "w");
	hex = fopen(hex_path, "w");
	py = fopen(py_path, "w");
	assert_true(json && hex && py);
	assert_true(fputs(oracle_py, py) >= 0);
	srand(20241126);
	jsonw_init(&w);
	for (n = 0; n < 10000; n++) {
		len = random_string(s, sizeof(s));
		w.len = 0;
		jsonw_begin(&w);
		jsonw_key_str(&w, "s", s, len);
		jsonw_key_u64(&w, "n", (uint64_t)n);
		jsonw_end(&w);
		assert_int_equal(fwrite(w.buf, 1, w.len, json), w.len);
		for (i = 0; i < len; i++)
			fprintf(hex, "%02x", s[i]);
		fputc('\n', hex);
	}
	jsonw_free(&w);
	assert_int_equal(fclose(json), 0);
	assert_int_equal(fclose(hex), 0);
	assert_int_equal(fclose(py), 0);
	snprintf(cmd, sizeof(cmd), "python3 %s %s %s", py_path, json_path, hex_path);
	assert_int_equal(system(cmd), 0);
	unlink(json_path);
	unlink(hex_path);
	unlink(py_path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_control_byte),
	    cmocka_unit_test(test_quote_backslash_and_plain_ascii),
	    cmocka_unit_test(test_valid_utf8_passes),
	    cmocka_unit_test(test_unsafe_code_points),
	    cmocka_unit_test(test_overlong_forms),
	    cmocka_unit_test(test_surrogates_and_out_of_range),
	    cmocka_unit_test(test_truncated_and_lone_bytes),
	    cmocka_unit_test(test_object_and_numbers),
	    cmocka_unit_test(test_time_formatting),
	    cmocka_unit_test(test_large_string_and_buffer_release),
	    cmocka_unit_test(test_random_strings_python_oracle),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
