// SPDX-License-Identifier: (GPL-2.0 OR Apache-2.0)
/*
 * jit_lines PROG_ID: one line per BPF line-info record of a loaded program: "<JIT offset hex> <source line> <text>".
 * bench/probe-profile.sh maps perf's sample offsets (bpf_prog_<tag>_<name>+0x...) to source lines with it: this
 * machine's bpftool and perf are built without libbfd, so neither can annotate JIT code.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: jit_lines PROG_ID\n");
		return 2;
	}
	int fd = bpf_prog_get_fd_by_id((__u32)atoi(argv[1]));
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len)) {
		fprintf(stderr, "jit_lines: program %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	__u32 nli = info.nr_line_info, njli = info.nr_jited_line_info, lrec = info.line_info_rec_size;
	__u32 jrec = info.jited_line_info_rec_size, nks = info.nr_jited_ksyms, btf_id = info.btf_id;
	if (!nli || nli != njli || !nks) {
		fprintf(stderr, "jit_lines: program %s has no JIT line info (loaded without BTF?)\n", argv[1]);
		return 1;
	}
	void *li = calloc(nli, lrec);
	__u64 *jli = calloc(njli, jrec), *ksyms = calloc(nks, sizeof(__u64));
	memset(&info, 0, sizeof(info));
	info.nr_line_info = nli;
	info.line_info_rec_size = lrec;
	info.line_info = (__u64)(unsigned long)li;
	info.nr_jited_line_info = njli;
	info.jited_line_info_rec_size = jrec;
	info.jited_line_info = (__u64)(unsigned long)jli;
	info.nr_jited_ksyms = nks;
	info.jited_ksyms = (__u64)(unsigned long)ksyms;
	len = sizeof(info);
	if (!li || !jli || !ksyms || bpf_obj_get_info_by_fd(fd, &info, &len)) {
		fprintf(stderr, "jit_lines: program %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	struct btf *btf = btf__load_from_kernel_by_id(btf_id);
	/* offsets from the main program's start (subprograms sit after it; perf names them separately) */
	for (__u32 i = 0; i < nli; i++) {
		const struct bpf_line_info *l = (const void *)((const char *)li + (size_t)i * lrec);
		const char *src = btf ? btf__name_by_offset(btf, l->line_off) : NULL;
		printf("0x%llx %u %s\n", (unsigned long long)(jli[i] - ksyms[0]), BPF_LINE_INFO_LINE_NUM(l->line_col),
		       src ? src : "");
	}
	btf__free(btf);
	return 0;
}
