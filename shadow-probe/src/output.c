// SPDX-License-Identifier: Apache-2.0
/* Records on stdout over a bounded buffer, so a slow reader drops records instead of stopping the loader (output.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "output.h"

/* buf: [0, off) written to fd, [off, committed) whole units waiting, [committed, len) the unit being written */
static struct {
	int fd, nonblock, restore_fl;
	char *buf;
	size_t cap, alloc, off, committed, len;
	int dropping; /* the unit being written did not fit: the rest of it is discarded too */
	int stalled;  /* the last wait for room ran out: no more waits until the reader takes something */
	__u64 dropped;
} o = {.fd = -1};

/* How long a full buffer waits for the reader before it drops: a reader that keeps up makes room in microseconds
 * (a burst after a long reload can be larger than pipe and buffer together); one that has stopped costs this once
 * per stall, not once per record. */
#define STALL_WAIT_MS 20

static void compact(void)
{
	if (!o.off)
		return;
	memmove(o.buf, o.buf + o.off, o.len - o.off);
	o.committed -= o.off;
	o.len -= o.off;
	o.off = 0;
}

void shadow_out_flush(void)
{
	while (o.off < o.committed) {
		ssize_t w = write(o.fd, o.buf + o.off, o.committed - o.off);
		if (w > 0) {
			o.off += (size_t)w;
			o.stalled = 0;
			continue;
		}
		if (w < 0 && errno == EINTR && o.nonblock)
			continue;
		break; /* full (EAGAIN), gone (EPIPE: SIGPIPE is ignored), or a signal during a blocking write: later */
	}
	if (o.off == o.len)
		o.off = o.committed = o.len = 0;
	else if (o.off > o.cap / 2)
		compact();
}

static ssize_t cookie_write(void *cookie, const char *data, size_t n)
{
	(void)cookie;
	if (o.dropping)
		return (ssize_t)n;
	if (o.len + n > o.cap) {
		shadow_out_flush(); /* a blocking fd (terminal, file) waits here, as before: it never drops */
		compact();
		while (o.len + n > o.cap && o.nonblock && !o.stalled && o.committed) {
			struct pollfd pfd = {.fd = o.fd, .events = POLLOUT};
			if (poll(&pfd, 1, STALL_WAIT_MS) <= 0 || (pfd.revents & (POLLERR | POLLHUP))) {
				o.stalled = 1;
				break;
			}
			shadow_out_flush();
			compact();
		}
	}
	if (o.len + n > o.cap) {
		o.dropping = 1;
		o.len = o.committed;
		return (ssize_t)n;
	}
	if (o.len + n > o.alloc) {
		size_t want = o.alloc ? o.alloc : 64 << 10;
		while (want < o.len + n)
			want *= 2;
		want = want < o.cap ? want : o.cap;
		char *b = realloc(o.buf, want);
		if (!b) {
			o.dropping = 1;
			o.len = o.committed;
			return (ssize_t)n;
		}
		o.buf = b;
		o.alloc = want;
	}
	memcpy(o.buf + o.len, data, n);
	o.len += n;
	return (ssize_t)n;
}

int shadow_out_init(int fd, size_t cap)
{
	struct stat st;
	if (fstat(fd, &st))
		return -errno;
	o.fd = fd;
	o.cap = cap;
	if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) {
		int fl = fcntl(fd, F_GETFL);
		if (fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0) {
			o.nonblock = 1;
			o.restore_fl = fl;
		}
	}
	FILE *f = fopencookie(NULL, "w", (cookie_io_functions_t){.write = cookie_write});
	if (!f)
		return -errno;
	fflush(stdout);
	stdout = f; /* glibc lets a program set stdout: printf and the rest now write here */
	return 0;
}

int shadow_out_commit(void)
{
	fflush(stdout);
	if (o.dropping) {
		o.dropping = 0;
		o.dropped++;
		return 0;
	}
	o.committed = o.len;
	return 1;
}

void shadow_out_finish(int timeout_ms)
{
	shadow_out_commit();
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		shadow_out_flush();
		if (o.off >= o.committed)
			break;
		clock_gettime(CLOCK_MONOTONIC, &t);
		int left = timeout_ms - (int)((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0)
			break;
		struct pollfd pfd = {.fd = o.fd, .events = POLLOUT};
		if (poll(&pfd, 1, left) < 0 && errno != EINTR)
			break;
		if (pfd.revents & (POLLERR | POLLHUP))
			break;
	}
	if (o.off < o.committed)
		fprintf(stderr, "shadow-probe: %zu bytes of records not written: the reader took none for %d ms\n",
			o.committed - o.off, timeout_ms);
	if (o.nonblock)
		fcntl(o.fd, F_SETFL, o.restore_fl);
}

__u64 shadow_out_dropped(void)
{
	return o.dropped;
}
