/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Records on stdout, without letting a slow reader stop the loader.
 *
 * A blocking write to a reader that does not keep up (migrate shadow busy joining, a paused pipe) held the whole
 * loop: no CT or edge GC, no dumps, no reloads, no metrics file. So stdout becomes a stdio stream over a bounded
 * buffer. The loader writes a unit (a record, a dump's line) with stdio as before, then commits it; committed bytes
 * go to fd 1 without blocking when it is a pipe, socket or FIFO. A unit that does not fit is dropped whole and
 * counted, so the reader never sees a torn record. A terminal or a file keeps blocking writes (the terminal's open
 * file is shared with the shell; a file does not stall like a reader).
 */
#ifndef SHADOW_OUTPUT_H
#define SHADOW_OUTPUT_H

#include <stddef.h>
#include <linux/types.h>

#define SHADOW_OUT_CAP_DEFAULT (2u << 20) /* ~5 s of the lab's 1,000 records/s as JSON */

/* Replaces stdout with the buffered stream over fd (1). cap: bytes held for a slow reader. 0, or -errno. */
int shadow_out_init(int fd, size_t cap);

/* Ends a unit: what was written since the last commit goes out whole (1), or, if it did not fit, not at all (0). */
int shadow_out_commit(void);

/* Writes what is committed, as far as fd takes it now. */
void shadow_out_flush(void);

/* At exit: writes what is committed, waiting up to timeout_ms for the reader; says on stderr what it could not. */
void shadow_out_finish(int timeout_ms);

/* Units dropped so far because the reader fell behind by more than cap. */
__u64 shadow_out_dropped(void);

#endif
