/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A JSON document whose top level is an object, read member by member, and an array member element by element.
 * jansson parses each piece (JSON_DISABLE_EOF_CHECK stops it after one value and says how far it read), so at no
 * time is more than one element's tree in memory: a config of 65,536 rules held ~90 MiB of jansson tree when it
 * was parsed whole. This file only steps over the whitespace, ':' and ',' between the pieces.
 */
#ifndef SHADOW_JSON_STREAM_H
#define SHADOW_JSON_STREAM_H
#include <jansson.h>
#include <stddef.h>

struct jstream {
	const char *text;
	size_t len;
	size_t pos;  /* next byte to read */
	int line;    /* 1-based line of pos, for messages */
	int state;   /* internal: what the next call expects */
	char *err;
	size_t errlen;
};

/* Starts at the top-level '{'. 0, or -1 with err set ("line N: ..."). */
int jstream_open(struct jstream *s, const char *text, size_t len, char *err, size_t errlen);
/* The next member's key into key (truncated to keylen - 1): 1; 0 after the last one (and nothing but whitespace after
 * the object); -1 on error. The member's value must then be read with jstream_value, jstream_skip or the array calls. */
int jstream_member(struct jstream *s, char *key, size_t keylen);
/* The member's value, whole (json_decref it); NULL on error. */
json_t *jstream_value(struct jstream *s);
/* Steps over the member's value (an array element by element). 0 or -1. */
int jstream_skip(struct jstream *s);
/* The member's value as an array: 1 at its '[', 0 for null (no elements to read), -2 for any other value (err unset:
 * the caller names the member; the value is still to be read), -1 on error. */
int jstream_array(struct jstream *s);
/* The array's next element into *el (json_decref it): 1; 0 after the last; -1 on error. */
int jstream_element(struct jstream *s, json_t **el);

/* Where the reader is, to come back to a member's value later (jstream_seek, then the calls above for that value). */
struct jstream_mark {
	size_t pos;
	int line;
	int state;
};
struct jstream_mark jstream_tell(const struct jstream *s);
void jstream_seek(struct jstream *s, struct jstream_mark m);

#endif
