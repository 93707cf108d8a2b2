// SPDX-License-Identifier: Apache-2.0
/* Reads a JSON object member by member and its arrays element by element (json_stream.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "json_stream.h"

enum { JS_FIRST_MEMBER, JS_NEXT_MEMBER, JS_VALUE, JS_FIRST_ELEMENT, JS_NEXT_ELEMENT, JS_DONE };

static int js_fail(struct jstream *s, int line, const char *fmt, ...)
{
	char msg[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (s->err && s->errlen)
		snprintf(s->err, s->errlen, "line %d: %s", line, msg);
	return -1;
}

static void advance(struct jstream *s, size_t n)
{
	const char *p = s->text + s->pos, *end = p + n;
	while ((p = memchr(p, '\n', (size_t)(end - p)))) {
		s->line++;
		p++;
	}
	s->pos += n;
}

/* the next byte that is not JSON whitespace, or 0 at the end */
static char peek(struct jstream *s)
{
	size_t n = 0;
	while (s->pos + n < s->len) {
		char c = s->text[s->pos + n];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		n++;
	}
	advance(s, n);
	return s->pos < s->len ? s->text[s->pos] : 0;
}

static const char *found(char c)
{
	static char buf[8];
	if (!c)
		return "the end of the document";
	snprintf(buf, sizeof(buf), "'%c'", c >= ' ' && c < 127 ? c : '?');
	return buf;
}

/* One value at pos. Objects, arrays and strings end at a closing byte, so jansson stops exactly there; a number or
 * literal ends only at the byte after it, which jansson would read too, so its span is cut out first. */
static json_t *parse_one(struct jstream *s)
{
	char c = peek(s);
	json_error_t je;
	json_t *v;
	if (c == '{' || c == '[' || c == '"') {
		v = json_loadb(s->text + s->pos, s->len - s->pos, JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK, &je);
	} else {
		size_t n = 0;
		while (s->pos + n < s->len && !strchr(",]} \t\r\n", s->text[s->pos + n]))
			n++;
		if (!n) {
			js_fail(s, s->line, "expected a value, found %s", found(c));
			return NULL;
		}
		v = json_loadb(s->text + s->pos, n, JSON_DECODE_ANY, &je);
		je.position = (int)n;
	}
	if (!v) {
		js_fail(s, s->line + (je.line > 0 ? je.line - 1 : 0), "%s", je.text);
		return NULL;
	}
	advance(s, (size_t)je.position);
	return v;
}

int jstream_open(struct jstream *s, const char *text, size_t len, char *err, size_t errlen)
{
	*s = (struct jstream){.text = text, .len = len, .line = 1, .err = err, .errlen = errlen, .state = JS_FIRST_MEMBER};
	char c = peek(s);
	if (c != '{')
		return js_fail(s, s->line, "the top level must be an object, found %s", found(c));
	advance(s, 1);
	return 0;
}

int jstream_member(struct jstream *s, char *key, size_t keylen)
{
	if (s->state == JS_VALUE && jstream_skip(s))
		return -1;
	if (s->state != JS_FIRST_MEMBER && s->state != JS_NEXT_MEMBER)
		return s->state == JS_DONE ? 0 : js_fail(s, s->line, "a member read before its array's end");
	char c = peek(s);
	if (c == '}') {
		advance(s, 1);
		s->state = JS_DONE;
		if ((c = peek(s)))
			return js_fail(s, s->line, "%s after the top-level object", found(c));
		return 0;
	}
	if (s->state == JS_NEXT_MEMBER) {
		if (c != ',')
			return js_fail(s, s->line, "expected ',' or '}' after a member, found %s", found(c));
		advance(s, 1);
		c = peek(s);
	}
	if (c != '"')
		return js_fail(s, s->line, "expected a member name, found %s", found(c));
	json_t *k = parse_one(s);
	if (!k)
		return -1;
	snprintf(key, keylen, "%s", json_string_value(k));
	json_decref(k);
	if ((c = peek(s)) != ':')
		return js_fail(s, s->line, "expected ':' after \"%s\", found %s", key, found(c));
	advance(s, 1);
	s->state = JS_VALUE;
	return 1;
}

json_t *jstream_value(struct jstream *s)
{
	if (s->state != JS_VALUE) {
		js_fail(s, s->line, "no member value to read here");
		return NULL;
	}
	json_t *v = parse_one(s);
	if (v)
		s->state = JS_NEXT_MEMBER;
	return v;
}

int jstream_array(struct jstream *s)
{
	if (s->state != JS_VALUE)
		return js_fail(s, s->line, "no member value to read here");
	char c = peek(s);
	if (c == '[') {
		advance(s, 1);
		s->state = JS_FIRST_ELEMENT;
		return 1;
	}
	if (c == 'n' && s->len - s->pos >= 4 && !memcmp(s->text + s->pos, "null", 4)) {
		json_t *v = parse_one(s); /* "null" and nothing glued to it */
		if (!v)
			return -1;
		json_decref(v);
		s->state = JS_NEXT_MEMBER;
		return 0;
	}
	return -2;
}

int jstream_element(struct jstream *s, json_t **el)
{
	*el = NULL;
	if (s->state != JS_FIRST_ELEMENT && s->state != JS_NEXT_ELEMENT)
		return js_fail(s, s->line, "no array to read here");
	char c = peek(s);
	if (c == ']') {
		advance(s, 1);
		s->state = JS_NEXT_MEMBER;
		return 0;
	}
	if (s->state == JS_NEXT_ELEMENT) {
		if (c != ',')
			return js_fail(s, s->line, "expected ',' or ']' after an element, found %s", found(c));
		advance(s, 1);
	}
	if (!(*el = parse_one(s)))
		return -1;
	s->state = JS_NEXT_ELEMENT;
	return 1;
}

int jstream_skip(struct jstream *s)
{
	int a = jstream_array(s);
	if (a == 0 || a == -1)
		return a;
	if (a == -2) {
		json_t *v = jstream_value(s);
		if (!v)
			return -1;
		json_decref(v);
		return 0;
	}
	json_t *el;
	while ((a = jstream_element(s, &el)) > 0)
		json_decref(el);
	return a;
}

struct jstream_mark jstream_tell(const struct jstream *s)
{
	return (struct jstream_mark){.pos = s->pos, .line = s->line, .state = s->state};
}

void jstream_seek(struct jstream *s, struct jstream_mark m)
{
	s->pos = m.pos;
	s->line = m.line;
	s->state = m.state;
}
