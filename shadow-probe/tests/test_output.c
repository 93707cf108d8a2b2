// SPDX-License-Identifier: Apache-2.0
/*
 * Unit test of output.c on REAL pipes (userspace, no root):
 * - a reader that stops reading, then comes back: every unit the writer committed arrives whole and in order, every
 *   unit it was told was dropped is absent, the count of drops is the loader's, and no write blocks for long;
 * - a reader that keeps up, against bursts far larger than the pipe and the buffer together (the ring drained after
 *   a long reload): nothing is dropped. In a child process, since output.c replaces stdout for good.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "output.h"

static int failed, passed;
#define CHECK(cond, ...)                                                                                               \
	do {                                                                                                           \
		if (cond) {                                                                                            \
			passed++;                                                                                      \
		} else {                                                                                               \
			failed++;                                                                                      \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                           \
			fprintf(stderr, __VA_ARGS__);                                                                  \
			fprintf(stderr, "\n");                                                                         \
		}                                                                                                      \
	} while (0)

#define UNITS 3000
static char got[8 << 20];
static size_t got_len;

static void drain(int fd)
{
	ssize_t r;
	while ((r = read(fd, got + got_len, sizeof(got) - got_len)) > 0)
		got_len += (size_t)r;
}

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* unit i: "unit <i> <pad>\n", pad of (i * 37) % 700 letters; every 7th written in three pieces; unit 100 is bigger
 * than the whole buffer */
static size_t pad_of(int i)
{
	return i == 100 ? 9000 : 1 + (size_t)(i * 37) % 700; /* never 0: "unit N \n" would let sscanf skip the newline */
}

static void *reader(void *arg)
{
	int fd = *(int *)arg;
	ssize_t r;
	while ((r = read(fd, got + got_len, sizeof(got) - got_len)) > 0)
		got_len += (size_t)r;
	return NULL;
}

/* the child: 20,000 units of ~300 bytes (6 MB) into an 8 KiB buffer, flushed only every 1,000 units, as the
 * loader's loop does after a burst; a thread reads as fast as it can */
static int fast_reader(void)
{
	int fds[2];
	if (pipe(fds))
		return 2;
	pthread_t t;
	pthread_create(&t, NULL, reader, &fds[0]);
	CHECK(shadow_out_init(fds[1], 8192) == 0, "init");
	int kept = 0;
	enum { N = 20000 };
	for (int i = 0; i < N; i++) {
		printf("unit %d %0300d\n", i, i);
		kept += shadow_out_commit();
		if (i % 1000 == 999)
			shadow_out_flush();
	}
	shadow_out_finish(1000);
	close(fds[1]);
	pthread_join(t, NULL);
	int lines = 0, in_order = 1;
	for (char *s = got, *end = got + got_len; s < end; lines++) {
		char *nl = memchr(s, '\n', (size_t)(end - s));
		int i;
		if (!nl || sscanf(s, "unit %d ", &i) != 1 || i != lines || nl - s != (long)strlen("unit  ") + 300 + snprintf(NULL, 0, "%d", i)) {
			in_order = 0;
			break;
		}
		s = nl + 1;
	}
	CHECK(kept == N && shadow_out_dropped() == 0, "a reader that keeps up loses nothing: kept %d of %d, dropped %llu", kept, N,
	      (unsigned long long)shadow_out_dropped());
	CHECK(in_order && lines == N, "all %d units whole and in order: %d lines", N, lines);
	fprintf(stderr, "test_output (a reader that keeps up): %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}

int main(void)
{
	pid_t child = fork();
	if (child == 0)
		_exit(fast_reader());
	int status = 0;
	waitpid(child, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child (a reader that keeps up) passed: status %d", status);
	int fds[2];
	if (pipe(fds))
		return 2;
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	CHECK(shadow_out_init(fds[1], 8192) == 0, "init");
	static char kept[UNITS];
	static char pad[9001];
	memset(pad, 'x', sizeof(pad) - 1);
	int n_kept = 0;
	double slowest = 0;
	for (int i = 0; i < UNITS; i++) {
		double t0 = now_ms();
		size_t p = pad_of(i);
		if (i % 7) {
			printf("unit %d %.*s\n", i, (int)p, pad);
		} else {
			printf("unit %d ", i);
			fwrite(pad, 1, p / 2, stdout);
			fflush(stdout); /* a stdio flush in the middle of a unit must not let half of it out */
			fwrite(pad, 1, p - p / 2, stdout);
			fputc('\n', stdout);
		}
		kept[i] = (char)shadow_out_commit();
		n_kept += kept[i];
		shadow_out_flush();
		double dt = now_ms() - t0;
		slowest = dt > slowest ? dt : slowest;
		/* the reader stops for the first third (the pipe, 64 KiB, and the buffer fill), then reads */
		if (i > UNITS / 3)
			drain(fds[0]);
	}
	shadow_out_finish(1000);
	close(fds[1]);
	drain(fds[0]);

	CHECK(slowest < 100, "no write blocked: slowest unit %.1f ms", slowest);
	CHECK(!kept[100], "a unit bigger than the buffer is dropped");
	CHECK(n_kept > UNITS / 3 && n_kept < UNITS, "some units dropped, most kept: %d of %d", n_kept, UNITS);
	CHECK(shadow_out_dropped() == (unsigned long long)(UNITS - n_kept), "dropped %llu, told %d",
	      (unsigned long long)shadow_out_dropped(), UNITS - n_kept);
	/* the stream: exactly the kept units, whole and in order */
	int next = 0, bad = 0, lines = 0;
	for (char *s = got, *end = got + got_len; s < end;) {
		char *nl = memchr(s, '\n', (size_t)(end - s));
		if (!nl) {
			bad++;
			break;
		}
		int i;
		int off = 0;
		if (sscanf(s, "unit %d %n", &i, &off) != 1 || i < next || i >= UNITS) {
			bad++;
			break;
		}
		while (next < i && !kept[next])
			next++;
		size_t p = (size_t)(nl - s - off);
		if (next != i || !kept[i] || p != pad_of(i) || (p && (s[off] != 'x' || nl[-1] != 'x')))
			bad++;
		next = i + 1;
		lines++;
		s = nl + 1;
	}
	while (next < UNITS && !kept[next])
		next++;
	CHECK(!bad && lines == n_kept && next == UNITS, "the stream holds the %d kept units whole and in order: %d lines, %d bad",
	      n_kept, lines, bad);
	fprintf(stderr, "test_output: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
