// SPDX-License-Identifier: Apache-2.0
/*
 * shadow-probe loader: loads the BPF programs, fills the maps from a config file (updated live on SIGHUP or
 * when the file changes), attaches to each pod (tc on eth0 or the host veth, cgroup_skb + sock_ops on its
 * cgroup), and writes records on stdout (JSON lines, or length-prefixed shadow.h structs with --format raw).
 * Logs go to stderr. Detaches everything on SIGINT/SIGTERM; `--cleanup` removes what a killed loader left.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "shadow.h" /* before the skeleton: it names shadow.h types (the L7 header global) */
#include "shadow.skel.h"
#include "ct_gc.h"
#include "records.h"
#include "edge_gc.h"
#include "config.h"
#include "discover.h"
#include "memory.h"
#include "output.h"

#ifndef BPF_TCX_INGRESS
#define BPF_TCX_INGRESS 46 /* uapi of 6.6+; libbpf 1.1 passes unknown attach types through */
#define BPF_TCX_EGRESS 47
#endif

#define TC_HANDLE 0x5ad
#define TC_PRIO 0x5ad
#define STATE_DIR_DEFAULT "/run/shadow-probe"
#define PIN_DIR_DEFAULT "/sys/fs/bpf/shadow-probe"
#define DRAIN_MS 250 /* the longest a record waits in the ring before it is written out (main loop) */

static volatile sig_atomic_t stop, reload;
static int verbose;
static const char *prog_name = "shadow-probe";

static void logf_(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", prog_name);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static int libbpf_log(enum libbpf_print_level lvl, const char *fmt, va_list ap)
{
	if (lvl == LIBBPF_DEBUG && !verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* ---- attachments ---- */

enum { L_TC_IN, L_TC_EG, L_CG, L_SOCKOPS, L__MAX };

struct attachment {
	char key[CFG_PATH_MAX * 4 + 128]; /* identity of the attachment point: name|netns|ifname|host netns|host ifname|cgroup */
	char name[CFG_NAME_MAX];
	int link_fd[L__MAX];        /* tcx / cgroup links: die with the process, so a killed loader leaves nothing */
	struct bpf_link *cg_link, *so_link;
	int legacy_tc;              /* fell back to netlink clsact filters: must be removed explicitly */
	__u64 cg_id;                /* the pod cgroup's id, when cg_link is set */
	char netns[CFG_PATH_MAX];
	char ifname[32];
	int ifindex;
	int live;
};

/* What tells a new config file from the one read: its mtime alone misses a file renamed into place with an older
 * or preserved mtime (mv, rsync -t); a ConfigMap update swaps a symlink to a new file, which stat follows. */
struct file_stamp {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtim;
};

struct probe {
	struct legs legs; /* inbound app legs waiting for their wire leg (records.h) */
	struct shadow_bpf *skel;
	struct shadow_config cfg;
	const char *config_path;
	struct file_stamp config_stamp;
	struct attachment *att;
	size_t n_att, cap_att;
	struct ring_buffer *rb;
	int raw;
	int no_cgroup, no_sockops, tc_legacy;
	const char *state_dir;
	const char *pin_dir;
	const char *metrics_path; /* Prometheus text file, rewritten atomically at every dump */
	FILE *prom;               /* open while a dump is written */
	__u64 mono_to_real;
	struct shadow_discover_opts disc; /* pods named by ip/uid: where to find them on this node */
	__u64 rediscover_ms;
	__u64 gc_deleted, user_l7, records_out;
	int ncpu;
	__u32 ct_sets, inflight_slots;   /* the tables' sizes, fixed at load (settings.ctFlows, settings.inflightSlots) */
	struct shadow_http_rec *inflight; /* shadow_inflight, mmaped by the first inflight_gc */
	int inflight_failed;
	__u32 inflight_cursor;            /* where the next inflight_gc pass starts */
	struct shadow_ct_set *ct;         /* shadow_ct, mmaped by the first ct_gc */
	int ct_failed;
	__u32 ct_cursor;                  /* where the next ct_gc pass starts */
	__u8 *ct_live_set;                /* valid slots per set at its last sweep */
	__u64 ct_live;                    /* their sum */
	struct shadow_edge_gc *edge_gc;   /* the edge GC's memory between dumps */
	struct shadow_edge_live *edge_live; /* the live edges of the current dump */
	__u32 edge_entries;               /* live edges at the last dump */
};

static int open_netns(const char *netns)
{
	char path[CFG_PATH_MAX + 32];
	if (netns[0] == '/')
		snprintf(path, sizeof(path), "%s", netns);
	else
		snprintf(path, sizeof(path), "/run/netns/%s", netns);
	return open(path, O_RDONLY | O_CLOEXEC);
}

/* run fn inside a network namespace (netlink and ifindex lookups are per netns), then come back */
static int in_netns(const char *netns, int (*fn)(void *), void *arg)
{
	if (!netns[0])
		return fn(arg);
	int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	int target = open_netns(netns);
	int ret;
	if (self < 0 || target < 0) {
		ret = -errno;
		goto out;
	}
	if (setns(target, CLONE_NEWNET)) {
		ret = -errno;
		goto out;
	}
	ret = fn(arg);
	if (setns(self, CLONE_NEWNET)) {
		logf_("failed to return to the host netns: %s", strerror(errno));
		exit(3);
	}
out:
	if (self >= 0)
		close(self);
	if (target >= 0)
		close(target);
	return ret;
}

struct tc_args {
	struct probe *p;
	struct attachment *a;
	int host_side;
	char err[200];
};

static int tc_legacy_attach(int ifindex, int prog_fd, enum bpf_tc_attach_point where)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE, .priority = TC_PRIO, .prog_fd = prog_fd,
		    .flags = BPF_TC_F_REPLACE);
	int err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST)
		return err;
	return bpf_tc_attach(&hook, &opts);
}

static int tc_legacy_detach(int ifindex, enum bpf_tc_attach_point where)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE, .priority = TC_PRIO);
	return bpf_tc_detach(&hook, &opts);
}

static int do_tc_attach(void *arg)
{
	struct tc_args *t = arg;
	struct attachment *a = t->a;
	int ifindex = if_nametoindex(a->ifname);
	if (!ifindex) {
		snprintf(t->err, sizeof(t->err), "interface %s not found", a->ifname);
		return -ENODEV;
	}
	a->ifindex = ifindex;
	/* pod eth0: the body on both hooks, which tell it the direction. Host-side veth: the stubs, hooks swapped
	 * (ingress = from the pod), since there a hairpin packet leaves by the interface it came in by (shadow.bpf.c). */
	int in_fd = bpf_program__fd(t->p->skel->progs.shadow_tc), eg_fd = in_fd;
	if (t->host_side) {
		in_fd = bpf_program__fd(t->p->skel->progs.shadow_tc_from_pod);
		eg_fd = bpf_program__fd(t->p->skel->progs.shadow_tc_to_pod);
	}
	if (!t->p->tc_legacy) {
		int l1 = bpf_link_create(in_fd, ifindex, BPF_TCX_INGRESS, NULL);
		if (l1 >= 0) {
			int l2 = bpf_link_create(eg_fd, ifindex, BPF_TCX_EGRESS, NULL);
			if (l2 >= 0) {
				a->link_fd[L_TC_IN] = l1;
				a->link_fd[L_TC_EG] = l2;
				return 0;
			}
			close(l1);
		}
		if (verbose)
			logf_("tcx links unavailable on %s (%s): using clsact filters", a->ifname, strerror(errno));
		t->p->tc_legacy = 1;
	}
	int err = tc_legacy_attach(ifindex, in_fd, BPF_TC_INGRESS);
	if (!err)
		err = tc_legacy_attach(ifindex, eg_fd, BPF_TC_EGRESS);
	if (err) {
		snprintf(t->err, sizeof(t->err), "clsact filter on %s: %s", a->ifname, strerror(-err));
		tc_legacy_detach(ifindex, BPF_TC_INGRESS);
		return err;
	}
	a->legacy_tc = 1;
	return 0;
}

static int do_tc_legacy_detach(void *arg)
{
	struct attachment *a = arg;
	int ifindex = if_nametoindex(a->ifname);
	if (!ifindex)
		return -ENODEV;
	tc_legacy_detach(ifindex, BPF_TC_INGRESS);
	tc_legacy_detach(ifindex, BPF_TC_EGRESS);
	return 0;
}

static void state_write(struct probe *p)
{
	char path[512], tmp[520];
	mkdir(p->state_dir, 0755);
	snprintf(path, sizeof(path), "%s/state", p->state_dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f) {
		logf_("failed to write state %s: %s", tmp, strerror(errno));
		return;
	}
	fprintf(f, "pid %d\n", getpid());
	for (size_t i = 0; i < p->n_att; i++) {
		struct attachment *a = &p->att[i];
		if (a->live && a->legacy_tc)
			fprintf(f, "tc %s %s\n", a->netns[0] ? a->netns : "-", a->ifname);
	}
	if (p->pin_dir)
		fprintf(f, "pin %s\n", p->pin_dir);
	fclose(f);
	rename(tmp, path);
}

static void detach(struct probe *p, struct attachment *a)
{
	for (int i = 0; i < L__MAX; i++) {
		if (a->link_fd[i] > 0)
			close(a->link_fd[i]);
		a->link_fd[i] = -1;
	}
	bpf_link__destroy(a->cg_link);
	bpf_link__destroy(a->so_link);
	a->cg_link = a->so_link = NULL;
	if (a->legacy_tc)
		in_netns(a->netns, do_tc_legacy_detach, a);
	a->legacy_tc = 0;
	a->live = 0;
	logf_("detached pod %s", a->name);
}

static void pod_key(const struct cfg_pod *pod, char *key, size_t n)
{
	/* the sidecar's state is part of the key: a pod that gains or loses one gets or loses its cgroup_skb program */
	snprintf(key, n, "%s|%s|%s|%s|%s|%s|%d", pod->name, pod->netns, pod->ifname, pod->host_netns, pod->host_ifname,
		 pod->cgroup, pod->sidecar != 0);
}

static int attach_pod(struct probe *p, const struct cfg_pod *pod, struct attachment *a)
{
	memset(a, 0, sizeof(*a));
	for (int i = 0; i < L__MAX; i++)
		a->link_fd[i] = -1;
	pod_key(pod, a->key, sizeof(a->key));
	snprintf(a->name, sizeof(a->name), "%s", pod->name);
	if (pod->ifname[0] || pod->host_ifname[0]) {
		struct tc_args t = {.p = p, .a = a, .host_side = !pod->ifname[0]};
		if (pod->ifname[0]) {
			snprintf(a->netns, sizeof(a->netns), "%s", pod->netns);
			snprintf(a->ifname, sizeof(a->ifname), "%s", pod->ifname);
		} else {
			snprintf(a->netns, sizeof(a->netns), "%s", pod->host_netns);
			snprintf(a->ifname, sizeof(a->ifname), "%s", pod->host_ifname);
		}
		int err = in_netns(a->netns, do_tc_attach, &t);
		if (err) {
			logf_("failed to attach tc to pod %s (netns %s, %s): %s", pod->name, a->netns[0] ? a->netns : "host",
			      a->ifname, t.err[0] ? t.err : strerror(-err));
			goto cleanup;
		}
		a->live = 1;
		state_write(p); /* before anything else can fail: --cleanup must know about legacy filters */
	}
	if (pod->cgroup[0]) {
		char path[CFG_PATH_MAX + 32];
		if (pod->cgroup[0] == '/')
			snprintf(path, sizeof(path), "%s", pod->cgroup);
		else
			snprintf(path, sizeof(path), "/sys/fs/cgroup/unified/%s", pod->cgroup);
		int cg = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (cg < 0) {
			logf_("failed to open cgroup %s of pod %s: %s", path, pod->name, strerror(errno));
			goto cleanup;
		}
		struct stat st;
		if (fstat(cg, &st) == 0)
			a->cg_id = st.st_ino; /* cgroup v2: the directory's inode number is the cgroup id */
		/* the app leg is the hop between sidecar and app: a pod known to have no sidecar has none, and the
		 * program would only cost a run on each packet it sends (and misread its own loopback HTTP as an app leg) */
		if (!p->no_cgroup && pod->sidecar != 0) {
			a->cg_link = bpf_program__attach_cgroup(p->skel->progs.shadow_cg_egress, cg);
			if (!a->cg_link) {
				logf_("failed to attach cgroup_skb to %s: %s", path, strerror(errno));
				close(cg);
				goto cleanup;
			}
		}
		if (!p->no_sockops) {
			a->so_link = bpf_program__attach_cgroup(p->skel->progs.shadow_sockops, cg);
			if (!a->so_link) {
				logf_("failed to attach sock_ops to %s: %s", path, strerror(errno));
				close(cg);
				goto cleanup;
			}
		}
		close(cg);
	}
	a->live = 1;
	logf_("attached pod %s (%s%s%s%s%s%s)", pod->name, a->ifname[0] ? "tc " : "", a->ifname,
	      a->legacy_tc ? " clsact" : a->ifname[0] ? " tcx" : "", pod->cgroup[0] ? ", cgroup " : "", pod->cgroup,
	      pod->cgroup[0] && !a->cg_link && !p->no_cgroup ? " without cgroup_skb: no sidecar" : "");
	return 0;
cleanup:
	a->live = 1;
	detach(p, a);
	return -1;
}

/* Each cgroup_skb attachment's endpoint, in its cgroup storage (shadow_cg_ep), from what shadow_config_apply just
 * wrote into shadow_cgroups: endpoint numbers follow the config, so every reload rewrites them. Until then the
 * program falls back to the shadow_cgroups lookup (storage reads ep 0), and between an apply and this sync it may
 * use the previous numbering for an instant, like the CT entries that cache an endpoint. */
static void cg_ep_sync(struct probe *p)
{
	int cgs = bpf_map__fd(p->skel->maps.shadow_cgroups), st = bpf_map__fd(p->skel->maps.shadow_cg_ep);
	for (size_t i = 0; i < p->n_att; i++) {
		struct attachment *a = &p->att[i];
		if (!a->live || !a->cg_link || !a->cg_id)
			continue;
		struct shadow_cg_state e = {0}; /* the L7 caches start empty (they are tagged with the generation anyway) */
		struct bpf_cgroup_storage_key k = {.cgroup_inode_id = a->cg_id, .attach_type = BPF_CGROUP_INET_EGRESS};
		if (bpf_map_lookup_elem(cgs, &a->cg_id, &e.ep))
			memset(&e, 0, sizeof(e)); /* not in the config's cgroup map: the program looks it up itself */
		if (bpf_map_update_elem(st, &k, &e, BPF_ANY))
			logf_("failed to write the endpoint of pod %s into its cgroup storage: %s (it is looked up per packet)",
			      a->name, strerror(errno));
	}
}

/* bring attachments in line with the config: keep unchanged pods, detach removed ones, attach new ones */
static int reconcile(struct probe *p)
{
	int failures = 0;
	char key[CFG_PATH_MAX * 4 + 128];
	for (size_t i = 0; i < p->n_att; i++) {
		struct attachment *a = &p->att[i];
		if (!a->live)
			continue;
		int wanted = 0;
		for (size_t j = 0; j < p->cfg.n_pods; j++) {
			pod_key(&p->cfg.pods[j], key, sizeof(key));
			wanted |= !strcmp(key, a->key);
		}
		if (!wanted)
			detach(p, a);
	}
	for (size_t j = 0; j < p->cfg.n_pods; j++) {
		if (p->cfg.pods[j].discover && !p->cfg.pods[j].found)
			continue; /* not on this node (discover.c logged it) */
		pod_key(&p->cfg.pods[j], key, sizeof(key));
		int have = 0;
		for (size_t i = 0; i < p->n_att; i++)
			have |= p->att[i].live && !strcmp(p->att[i].key, key);
		if (have)
			continue;
		if (p->n_att == p->cap_att) {
			p->cap_att = p->cap_att ? p->cap_att * 2 : 16;
			p->att = realloc(p->att, p->cap_att * sizeof(*p->att));
		}
		if (attach_pod(p, &p->cfg.pods[j], &p->att[p->n_att]) == 0)
			p->n_att++;
		else
			failures++;
	}
	/* compact */
	size_t w = 0;
	for (size_t i = 0; i < p->n_att; i++)
		if (p->att[i].live)
			p->att[w++] = p->att[i];
	p->n_att = w;
	state_write(p);
	cg_ep_sync(p);
	return failures;
}

static struct shadow_map_fds map_fds(struct shadow_bpf *s)
{
	struct shadow_map_fds f = SHADOW_MAP_FDS(s);
	return f;
}

static int file_stamp(const char *path, struct file_stamp *fs)
{
	struct stat st;
	if (stat(path, &st))
		return -1;
	*fs = (struct file_stamp){.dev = st.st_dev, .ino = st.st_ino, .size = st.st_size, .mtim = st.st_mtim};
	return 0;
}

static int same_stamp(const struct file_stamp *a, const struct file_stamp *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtim.tv_sec == b->mtim.tv_sec &&
	       a->mtim.tv_nsec == b->mtim.tv_nsec;
}

/* Settings fixed when the programs load (rodata, map sizes): a reload that changes them says so, since the new values
 * would otherwise look applied, and keeps the running values in the new config, so it stays true to what runs. */
static void start_only_keep(const struct shadow_config *old, struct shadow_config *c)
{
	char what[200] = "";
	size_t n = 0;
#define START_ONLY(field, name)                                                                                  \
	if (old->field != c->field) {                                                                             \
		if (n < sizeof(what))                                                                             \
			n += snprintf(what + n, sizeof(what) - n, "%s%s", n ? ", " : "", name);                   \
		c->field = old->field;                                                                            \
	}
	START_ONLY(rate, "rate")
	START_ONLY(burst, "burst")
	START_ONLY(sample_every, "sampleEvery")
	START_ONLY(outbound_port, "outboundPort")
	START_ONLY(ct_set_bits, "ctFlows")
	START_ONLY(inflight_pair_bits, "inflightSlots")
#undef START_ONLY
	if (n)
		logf_("settings %s changed: they take effect at the next start (the running values stay)", what);
}

/* A reload's memory against the cgroup's room (memory.h): 0 fits or no limit, 1 refused (logged). Past the limit the
 * kernel OOM-kills the loader mid-parse or mid-switch, with no word said and the maps half switched. */
static int reload_fits(const struct shadow_mem_reload *r)
{
	struct shadow_mem_room room;
	char mem[900];
	if (shadow_mem_room("/proc/self/cgroup", "/proc/self/mountinfo", &room) || shadow_mem_reload_verdict(r, &room, mem, sizeof(mem)) == 0)
		return 0;
	logf_("failed to reload config: %s (keeping the running one)", mem);
	return 1;
}

/* The start's (and --check's) read of the config, with the reload's check before the parse: jansson's tree of a
 * big config takes ~1.4 KB per rule, and past the limit the kernel OOM-kills the loader mid-parse, before the
 * load's own check says a word. 0, or -1 with err set. */
static int config_load_checked(const char *path, struct shadow_config *c, char *err, size_t n)
{
	char *text = shadow_config_read(path, err, n);
	if (!text)
		return -1;
	struct shadow_mem_room room;
	char mem[900];
	if (shadow_mem_room("/proc/self/cgroup", "/proc/self/mountinfo", &room) == 0 &&
	    shadow_mem_reload_verdict(&(struct shadow_mem_reload){.parse = shadow_config_parse_need(text)}, &room, mem,
				      sizeof(mem))) {
		snprintf(err, n, "%s: %s", path, mem);
		free(text);
		return -1;
	}
	int ret = shadow_config_parse_file(path, text, c, err, n);
	free(text);
	malloc_trim(0); /* the parse tree's heap back before the load, which the cgroup also has to hold */
	return ret;
}

/* reload: parse first, touch nothing if the new file is invalid or would not fit */
static void do_reload(struct probe *p)
{
	struct shadow_config c;
	char err[700];
	char *text = shadow_config_read(p->config_path, err, sizeof(err));
	if (!text) {
		logf_("failed to reload config: %s (keeping the running one)", err);
		return;
	}
	if (reload_fits(&(struct shadow_mem_reload){.parse = shadow_config_parse_need(text)})) {
		free(text);
		return;
	}
	int bad = shadow_config_parse_file(p->config_path, text, &c, err, sizeof(err));
	free(text);
	malloc_trim(0); /* hand the parse's freed heap back, so that the cgroup's usage counts only what is live */
	if (bad) {
		logf_("failed to reload config: %s (keeping the running one)", err);
		return;
	}
	/* the discovery line says what the probe watches: held back until the new config is in */
	char *disc = NULL;
	size_t disc_len = 0;
	FILE *disc_out = p->raw ? NULL : open_memstream(&disc, &disc_len);
	if (shadow_discover(&c, &p->cfg, &p->disc, disc_out, err, sizeof(err)) < 0)
		logf_("%s", err);
	if (disc_out)
		fclose(disc_out);
	struct shadow_map_fds fds = map_fds(p->skel);
	int refused = reload_fits(&(struct shadow_mem_reload){.added = shadow_config_lpm_added(&p->cfg, &c),
							      .entries = shadow_config_lpm_entries(&c)});
	if (!refused && shadow_config_switch(&p->cfg, &c, &fds, err, sizeof(err))) {
		logf_("failed to apply config: %s", err);
		refused = 1;
	}
	if (refused) {
		free(disc);
		shadow_config_free(&c);
		return;
	}
	if (disc_len) {
		fwrite(disc, 1, disc_len, stdout);
		shadow_out_commit();
		shadow_out_flush(); /* before the attach logs and "config reloaded", which readers act on */
	}
	free(disc);
	start_only_keep(&p->cfg, &c);
	shadow_config_free(&p->cfg);
	p->cfg = c;
	int f = reconcile(p);
	logf_("config reloaded: %zu pods, %zu identities, %zu policy rules, %zu l7 rules%s", c.n_pods, c.n_ids,
	      c.n_rules, c.n_l7, f ? " (some pods failed to attach)" : "");
}

/* pods named by ip/uid: look again (pods restart, new ones appear); maps and attachments follow changes */
static void rediscover(struct probe *p)
{
	char err[400];
	int changed = shadow_discover(&p->cfg, NULL, &p->disc, p->raw ? NULL : stdout, err, sizeof(err));
	shadow_out_commit();
	shadow_out_flush(); /* the discovery line before the attach logs: readers act on those */
	if (changed < 0)
		logf_("%s", err);
	if (changed <= 0)
		return;
	struct shadow_map_fds fds = map_fds(p->skel);
	if (shadow_config_apply(&p->cfg, &fds, err, sizeof(err)))
		logf_("failed to apply config: %s", err);
	if (reconcile(p))
		logf_("some pods failed to attach; continuing with the others");
}

/* ---- output ---- */

static const char *pod_name(struct probe *p, __u16 ep)
{
	return ep >= 1 && ep <= p->cfg.n_pods ? p->cfg.pods[ep - 1].name : "";
}

static void raw_out(struct probe *p, const void *data, __u32 size)
{
	fwrite(&size, 4, 1, stdout);
	fwrite(data, size, 1, stdout);
	p->records_out += shadow_out_commit();
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct probe *p = ctx;
	const struct shadow_rec_hdr *h = data;
	if (size < sizeof(*h) || h->size > size)
		return 0;
	struct shadow_http_rec copy;
	if (h->type == SHADOW_REC_HTTP && size >= sizeof(copy) &&
	    ((const struct shadow_http_rec *)data)->where == SHADOW_WHERE_USER) {
		/* the ring is mapped read-only for consumers: decide on a copy */
		memcpy(&copy, data, sizeof(copy));
		if (shadow_config_l7_user(&p->cfg, &copy))
			p->user_l7++;
		data = &copy;
	}
	if (p->raw) {
		raw_out(p, data, h->size);
		return 0;
	}
	__u64 wall = h->ts_ns + p->mono_to_real;
	char line[REC_JSON_MAX];
	size_t n;
	switch (h->type) {
	case SHADOW_REC_FLOW: {
		const struct shadow_flow_rec *r = data;
		if (size < sizeof(*r))
			return 0;
		n = rec_json_flow(line, r, wall, pod_name(p, r->ep));
		break;
	}
	case SHADOW_REC_HTTP: {
		const struct shadow_http_rec *r = data;
		if (size < sizeof(*r))
			return 0;
		n = rec_json_http(line, r, wall, pod_name(p, r->ep), r->dir == SHADOW_DIR_INGRESS ? legs_pair(&p->legs, r) : -1);
		break;
	}
	case SHADOW_REC_CONN: {
		const struct shadow_conn_rec *r = data;
		if (size < sizeof(*r))
			return 0;
		n = rec_json_conn(line, r, wall, pod_name(p, r->ep));
		break;
	}
	default:
		return 0;
	}
	fwrite(line, 1, n, stdout);
	p->records_out += shadow_out_commit();
	return 0;
}

static __u64 mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* One edge as a record: JSON (or raw), and the Prometheus lines when asked. pod: its name ("(overflow)" for the
 * edge that took what found no free index). */
static void print_edge(struct probe *p, const struct shadow_edge_key *kp, const struct shadow_edge_val *sum, const char *pod,
		       __u64 now)
{
	static const __u64 bounds[SHADOW_LAT_BUCKETS] = SHADOW_LAT_BOUNDS_NS;
	static const char *vnames[] = {"none", "allow", "deny", "audit"};
	struct shadow_edge_rec er = {.hdr = {.type = SHADOW_REC_EDGE, .size = sizeof(er), .ts_ns = now}, .key = *kp, .val = *sum};
	const struct shadow_edge_key k = *kp;
	const struct shadow_edge_val *s = &er.val;
	if (p->prom) {
		static const char *st[] = {"unparsed", "1xx", "2xx", "3xx", "4xx", "5xx"};
		char lbl[200];
		snprintf(lbl, sizeof(lbl), "pod=\"%s\",direction=\"%s\",leg=\"%s\",remote_identity=\"%u\",port=\"%u\"",
			 pod, k.dir ? "egress" : "ingress", k.leg ? "app" : "wire", k.remote_id, k.port);
		for (int c = 0; c < SHADOW_STATUS_CLASSES; c++)
			if (s->status[c])
				fprintf(p->prom, "shadow_probe_edge_requests_total{%s,status_class=\"%s\"} %llu\n", lbl, st[c],
					(unsigned long long)s->status[c]);
		for (int v = 0; v < 4; v++) {
			if (s->verdicts_l4[v])
				fprintf(p->prom, "shadow_probe_edge_flows_total{%s,verdict=\"%s\"} %llu\n", lbl, vnames[v],
					(unsigned long long)s->verdicts_l4[v]);
			if (s->verdicts_l7[v])
				fprintf(p->prom, "shadow_probe_edge_l7_verdicts_total{%s,verdict=\"%s\"} %llu\n", lbl,
					vnames[v], (unsigned long long)s->verdicts_l7[v]);
		}
		__u64 cum = 0;
		for (int b = 0; b < SHADOW_LAT_BUCKETS && s->requests; b++) {
			cum += s->lat_bucket[b];
			if (b == SHADOW_LAT_BUCKETS - 1)
				fprintf(p->prom, "shadow_probe_edge_latency_seconds_bucket{%s,le=\"+Inf\"} %llu\n", lbl,
					(unsigned long long)cum);
			else
				fprintf(p->prom, "shadow_probe_edge_latency_seconds_bucket{%s,le=\"%g\"} %llu\n", lbl,
					bounds[b] / 1e9, (unsigned long long)cum);
		}
		if (s->requests) {
			fprintf(p->prom, "shadow_probe_edge_latency_seconds_sum{%s} %.9f\n", lbl, s->lat_sum_ns / 1e9);
			fprintf(p->prom, "shadow_probe_edge_latency_seconds_count{%s} %llu\n", lbl, (unsigned long long)cum);
		}
		if (s->bytes_sent || s->bytes_received) {
			fprintf(p->prom, "shadow_probe_edge_bytes_sent_total{%s} %llu\n", lbl, (unsigned long long)s->bytes_sent);
			fprintf(p->prom, "shadow_probe_edge_bytes_received_total{%s} %llu\n", lbl,
				(unsigned long long)s->bytes_received);
		}
	}
	if (p->raw) {
		raw_out(p, &er, sizeof(er));
		return;
	}
	printf("{\"type\":\"edge\",\"ts\":%llu,\"pod\":\"%s\",\"dir\":\"%s\",\"leg\":\"%s\",\"remoteIdentity\":%u,"
	       "\"port\":%u,\"proto\":\"%s\",\"flows\":%llu,\"requests\":%llu,\"flowVerdicts\":{",
	       (unsigned long long)(now + p->mono_to_real), pod, k.dir ? "egress" : "ingress",
	       k.leg ? "app" : "wire", k.remote_id, k.port, rec_proto_name(k.proto), (unsigned long long)s->flows,
	       (unsigned long long)s->requests);
	for (int v = 0; v < 4; v++)
		printf("%s\"%s\":%llu", v ? "," : "", vnames[v], (unsigned long long)s->verdicts_l4[v]);
	printf("},\"l7Verdicts\":{");
	for (int v = 0; v < 4; v++)
		printf("%s\"%s\":%llu", v ? "," : "", vnames[v], (unsigned long long)s->verdicts_l7[v]);
	printf("},\"status\":{\"unparsed\":%llu", (unsigned long long)s->status[0]);
	for (int c = 1; c < SHADOW_STATUS_CLASSES; c++)
		printf(",\"%dxx\":%llu", c, (unsigned long long)s->status[c]);
	printf("},\"bytesSent\":%llu,\"bytesReceived\":%llu,\"connsClosed\":%llu,\"retrans\":%llu,"
	       "\"latencySumNs\":%llu,\"latencyBuckets\":[",
	       (unsigned long long)s->bytes_sent, (unsigned long long)s->bytes_received,
	       (unsigned long long)s->conns_closed, (unsigned long long)s->retrans,
	       (unsigned long long)s->lat_sum_ns);
	for (int b = 0; b < SHADOW_LAT_BUCKETS; b++) {
		if (b == SHADOW_LAT_BUCKETS - 1)
			printf("{\"le\":\"+Inf\",\"count\":%llu}", (unsigned long long)s->lat_bucket[b]);
		else
			printf("{\"le\":%llu,\"count\":%llu},", (unsigned long long)bounds[b],
			       (unsigned long long)s->lat_bucket[b]);
	}
	printf("]}\n");
	p->records_out += shadow_out_commit();
}

/* final counts of an edge the GC handed back (shadow_edge_gc_step): one more record, so nothing counted is lost.
 * Not in the Prometheus file, which shows the live edges: the key may already be live again under a new index, and
 * a series twice in one scrape is an error there. */
static void edge_final(void *ctx, const struct shadow_edge_key *k, const struct shadow_edge_val *v)
{
	struct probe *p = ctx;
	FILE *prom = p->prom;
	p->prom = NULL;
	print_edge(p, k, v, k->ep ? pod_name(p, k->ep) : "(overflow)", mono_ns());
	p->prom = prom;
}

/* Every edge in the index, summed over CPUs, and the overflow edge when it counted anything; then a GC step. */
static void dump_edges(struct probe *p)
{
	int ifd = bpf_map__fd(p->skel->maps.shadow_edge_index), efd = bpf_map__fd(p->skel->maps.shadow_edges);
	struct shadow_edge_key k, next, *prev = NULL;
	struct shadow_edge_val *scratch = calloc(p->ncpu, sizeof(*scratch)), sum;
	if (!p->edge_gc)
		p->edge_gc = calloc(1, sizeof(*p->edge_gc));
	if (!p->edge_live)
		p->edge_live = calloc(SHADOW_EDGES_MAX, sizeof(*p->edge_live));
	if (!scratch || !p->edge_gc || !p->edge_live) {
		logf_("out of memory for the edge dump");
		free(scratch);
		return;
	}
	__u64 now = mono_ns();
	__u32 n = 0;
	while (bpf_map_get_next_key(ifd, prev, &next) == 0) {
		k = next;
		prev = &k;
		__u32 idx;
		if (bpf_map_lookup_elem(ifd, &k, &idx) || shadow_edge_sum(efd, idx, p->ncpu, scratch, &sum))
			continue;
		__u64 act = shadow_edge_activity(&sum);
		shadow_edge_gc_note(p->edge_gc, idx, act);
		if (n < SHADOW_EDGES_MAX)
			p->edge_live[n++] = (struct shadow_edge_live){.key = k, .idx = idx, .activity = act};
		print_edge(p, &k, &sum, pod_name(p, k.ep), now);
	}
	p->edge_entries = n;
	struct shadow_edge_key none = {0};
	if (shadow_edge_sum(efd, SHADOW_EDGE_OVERFLOW, p->ncpu, scratch, &sum) == 0 && shadow_edge_activity(&sum))
		print_edge(p, &none, &sum, "(overflow)", now);
	free(scratch);
	int got = shadow_edge_gc_step(p->edge_gc, ifd, efd, bpf_map__fd(p->skel->maps.shadow_edge_free),
				      &p->skel->data_edgehdr->shadow_edge_hdr.epoch, p->ncpu, p->edge_live, n, edge_final, p);
	if (got < 0)
		logf_("edge GC: %s (the indices stay out of use)", strerror(-got));
	else if (got)
		logf_("edge GC: %d idle edges freed (%u live of %u)", got, n, SHADOW_EDGES_MAX);
}

/* A part of the CT per call, a full sweep about every 8 s (so a closing flow goes 10-18 s after its last packet).
 * The table is mmaped: a sweep reads memory, where the LRU hash needed two syscalls per live flow every dump. Only
 * sets with valid slots or new claims are read (ct_gc.h): reading every set cost an idle loader ~15 % of its CPU.
 * *live: valid entries as of each set's last sweep. */
static void ct_gc(struct probe *p, __u64 *live)
{
	*live = p->ct_live;
	if (p->ct_failed)
		return;
	if (!p->ct) {
		size_t len = (size_t)p->ct_sets * sizeof(struct shadow_ct_set);
		void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(p->skel->maps.shadow_ct), 0);
		p->ct_live_set = calloc(p->ct_sets, 1);
		if (m == MAP_FAILED || !p->ct_live_set) {
			logf_("failed to mmap map shadow_ct: %s (idle flows are not expired; a full set evicts its oldest)",
			      strerror(errno));
			if (m != MAP_FAILED)
				munmap(m, len);
			p->ct_failed = 1;
			return;
		}
		p->ct = m;
	}
	__u64 span = (__u64)p->ct_sets * (p->cfg.interval_ms ? p->cfg.interval_ms : 1000) / 8000;
	if (span < p->ct_sets / 64)
		span = p->ct_sets / 64;
	if (span > p->ct_sets)
		span = p->ct_sets;
	__u64 deleted = 0, read = 0;
	shadow_ct_sweep_step(p->ct, p->ct_sets, p->ct_live_set, p->skel->data_ctdirty->shadow_ct_dirty, &p->ct_cursor,
			     (__u32)span, mono_ns(), &p->ct_live, &deleted, &read);
	p->gc_deleted += deleted;
	*live = p->ct_live;
}

/* App-leg requests whose response never came (reset, timeout, not HTTP after all; a wire-leg one waits in its flow's
 * CT slot until the flow's next request or the CT's GC): free their slot after 60 s, so a late
 * response does not match them and a new request does not count them as evicted. The array is mmaped: a scan
 * reads memory, no syscall per slot. A program may reuse a slot between the read and the store; the new request
 * then loses its entry (its response counts as unmatched): only for a slot idle for 60 s, in a window of ns. */
static void inflight_gc(struct probe *p)
{
	if (p->inflight_failed)
		return;
	if (!p->inflight) {
		void *m = mmap(NULL, (size_t)p->inflight_slots * sizeof(struct shadow_http_rec), PROT_READ | PROT_WRITE,
			       MAP_SHARED, bpf_map__fd(p->skel->maps.shadow_inflight), 0);
		if (m == MAP_FAILED) {
			logf_("failed to mmap map shadow_inflight: %s (unanswered requests are not expired)", strerror(errno));
			p->inflight_failed = 1;
			return;
		}
		p->inflight = m;
	}
	/* A part of the array per call, a full sweep about every 16 s (a request is expired 60-76 s after it was sent):
	 * scanning all 12 MiB every interval cost an idle loader a third of its CPU (1.8 against 1.2 ms a second) and
	 * pushed the probe's own lines out of the caches each time. */
	__u64 span = (__u64)p->inflight_slots * (p->cfg.interval_ms ? p->cfg.interval_ms : 1000) / 16000;
	if (span < p->inflight_slots / 64)
		span = p->inflight_slots / 64;
	if (span > p->inflight_slots)
		span = p->inflight_slots;
	__u64 now = mono_ns();
	for (__u32 n = 0; n < span; n++) {
		__u32 i = p->inflight_cursor++ & (p->inflight_slots - 1);
		volatile struct shadow_http_rec *r = &p->inflight[i];
		__u64 ts = r->hdr.ts_ns;
		if (r->ep && !r->status && now > ts && now - ts >= 60000000000ULL)
			r->ep = 0;
	}
}

static const char *counter_names[SHADOW_C__MAX] = {
	"packets", "flows_new", "ringbuf_full", "ratelimited", "ct_full", "ct_created", "parse_fail", "http_requests",
	"http_responses", "http_unmatched", "inflight_evicted", "tls", "sampled_out", "non_ipv4", "no_endpoint", "conn_closed"};

static void dump_metrics(struct probe *p, __u64 ct_live)
{
	int fd = bpf_map__fd(p->skel->maps.shadow_cpu);
	struct shadow_cpu *vals = calloc(p->ncpu, sizeof(*vals));
	struct shadow_metrics_rec m = {.hdr = {.type = SHADOW_REC_METRICS, .size = sizeof(m), .ts_ns = mono_ns()}};
	__u32 zero = 0;
	if (vals && bpf_map_lookup_elem(fd, &zero, vals) == 0) {
		for (int c = 0; c < p->ncpu; c++)
			for (int i = 0; i < SHADOW_C__MAX; i++)
				m.counters[i] += vals[c].counters[i];
	}
	free(vals);
	m.ct_entries = ct_live;
	m.ct_gc_deleted = p->gc_deleted;
	m.user_l7_evaluated = p->user_l7;
	m.records_out = p->records_out;
	m.records_dropped = shadow_out_dropped();
	if (p->prom) {
		for (int i = 0; i < SHADOW_C__MAX; i++) {
			fprintf(p->prom, "# TYPE shadow_probe_%s_total counter\nshadow_probe_%s_total %llu\n", counter_names[i],
				counter_names[i], (unsigned long long)m.counters[i]);
		}
		fprintf(p->prom, "# TYPE shadow_probe_ct_entries gauge\nshadow_probe_ct_entries %llu\n",
			(unsigned long long)ct_live);
		fprintf(p->prom, "# TYPE shadow_probe_ct_gc_deleted_total counter\nshadow_probe_ct_gc_deleted_total %llu\n",
			(unsigned long long)p->gc_deleted);
		fprintf(p->prom, "# TYPE shadow_probe_user_l7_evaluated_total counter\nshadow_probe_user_l7_evaluated_total %llu\n",
			(unsigned long long)p->user_l7);
		fprintf(p->prom, "# TYPE shadow_probe_records_out_total counter\nshadow_probe_records_out_total %llu\n",
			(unsigned long long)p->records_out);
		fprintf(p->prom, "# TYPE shadow_probe_records_dropped_total counter\nshadow_probe_records_dropped_total %llu\n",
			(unsigned long long)m.records_dropped);
	}
	if (p->raw) {
		raw_out(p, &m, sizeof(m));
		return;
	}
	printf("{\"type\":\"metrics\",\"ts\":%llu,\"counters\":{", (unsigned long long)(m.hdr.ts_ns + p->mono_to_real));
	for (int i = 0; i < SHADOW_C__MAX; i++)
		printf("%s\"%s\":%llu", i ? "," : "", counter_names[i] ? counter_names[i] : "unused",
		       (unsigned long long)m.counters[i]);
	/* evicted: flows pushed out of a full CT set, or not tracked (the ct_full counter; ctEntries lags by up to one
	 * sweep, so created - deleted - live would overstate it) */
	/* edges: live in the index at the last dump, and freed by the edge GC so far (their final counts were reported) */
	printf("},\"ctEntries\":%llu,\"ctGcDeleted\":%llu,\"ctEvicted\":%llu,\"edgeEntries\":%u,\"edgesFreed\":%llu,"
	       "\"userL7Evaluated\":%llu,\"recordsOut\":%llu,\"recordsDropped\":%llu}\n",
	       (unsigned long long)ct_live, (unsigned long long)p->gc_deleted,
	       (unsigned long long)m.counters[SHADOW_C_CT_FULL], p->edge_entries,
	       (unsigned long long)(p->edge_gc ? p->edge_gc->freed : 0), (unsigned long long)p->user_l7,
	       (unsigned long long)p->records_out, (unsigned long long)m.records_dropped);
	p->records_out += shadow_out_commit();
}

/* edges and metrics to stdout, and to the Prometheus text file when asked (written to a temp file, renamed) */
static void dump_all(struct probe *p, __u64 ct_live)
{
	char tmp[600];
	if (p->metrics_path) {
		snprintf(tmp, sizeof(tmp), "%s.tmp", p->metrics_path);
		p->prom = fopen(tmp, "w");
		if (!p->prom)
			logf_("failed to write metrics %s: %s", tmp, strerror(errno));
		else
			fprintf(p->prom, "# TYPE shadow_probe_edge_requests_total counter\n# TYPE shadow_probe_edge_flows_total counter\n"
				"# TYPE shadow_probe_edge_l7_verdicts_total counter\n# TYPE shadow_probe_edge_bytes_sent_total counter\n"
				"# TYPE shadow_probe_edge_bytes_received_total counter\n"
				"# TYPE shadow_probe_edge_latency_seconds histogram\n");
	}
	dump_edges(p);
	dump_metrics(p, ct_live);
	if (p->prom) {
		fclose(p->prom);
		p->prom = NULL;
		if (rename(tmp, p->metrics_path))
			logf_("failed to rename metrics %s: %s", tmp, strerror(errno));
	}
}

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reload = 1;
	else
		stop = 1;
}

/* ---- memory ---- */

/* Whether the load fits under the process's memory cgroup (memory.h): 0 yes, 1 no; msg: the figures either way. */
static int memory_fits(struct shadow_bpf *skel, const struct shadow_config *cfg, int ncpu, char *msg, size_t n)
{
	struct shadow_mem_need need;
	struct shadow_mem_room room;
	shadow_mem_estimate(skel->obj, ncpu, shadow_config_lpm_entries(cfg), &need);
	if (shadow_mem_room("/proc/self/cgroup", "/proc/self/mountinfo", &room))
		room.found = 0; /* no /proc: nothing to compare with */
	return shadow_mem_verdict(&need, &room, msg, n);
}

/* ---- --check ---- */

static int probe_tcx(void)
{
	/* in a throwaway netns: link a trivial sched_cls program to its lo with tcx */
	pid_t pid = fork();
	if (pid == 0) {
		if (unshare(CLONE_NEWNET))
			_exit(2);
		struct bpf_insn insns[] = {{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0},
					   {.code = BPF_JMP | BPF_EXIT}};
		int fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "shadow_check", "GPL", insns, 2, NULL);
		if (fd < 0)
			_exit(3);
		int l = bpf_link_create(fd, 1, BPF_TCX_INGRESS, NULL);
		_exit(l >= 0 ? 0 : 4);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static int is_mounted(const char *path, long magic)
{
	struct statfs s;
	return statfs(path, &s) == 0 && s.f_type == magic;
}

/* Pods the config names only by ip or uid, looked for on this node as the probe would at start, so that the memory
 * estimate counts what the probe will load here: a pod elsewhere keeps only its identity. A row for the table. */
static int check_discovery(struct shadow_config *cfg, const struct shadow_discover_opts *disc, int root, char *msg, size_t n)
{
	size_t want = 0, found = 0;
	for (size_t i = 0; i < cfg->n_pods; i++)
		want += cfg->pods[i].discover != 0;
	if (!want) {
		snprintf(msg, n, "none in the config");
		return 1;
	}
	char err[300];
	if (!root || shadow_discover(cfg, NULL, disc, NULL, err, sizeof(err)) < 0) {
		snprintf(msg, n, "not looked for (%s): the memory estimate counts every pod's entries, an upper bound",
			 root ? err : "needs root");
		return 0;
	}
	for (size_t i = 0; i < cfg->n_pods; i++)
		found += cfg->pods[i].discover && cfg->pods[i].found;
	snprintf(msg, n, "%zu of %zu named by ip or uid found on this node; the memory estimate counts their entries and the "
		 "others' identities%s", found, want,
		 found ? "" : " (run the check on the node, with the probe's --cgroup-root/--pods-cgroup)");
	return 1;
}

/* config_path (or NULL): load the programs with that config's table sizes, so the check allocates what the probe will;
 * disc: where to find the pods it names only by ip or uid */
static int run_check(const char *config_path, const struct shadow_discover_opts *disc)
{
	int fatal = 0;
	struct {
		const char *what;
		int ok;
		const char *detail;
		int required;
	} rows[32];
	int n = 0;
#define ROW(w, o, d, r) rows[n++] = (typeof(rows[0])){w, o, d, r}
	ROW("root (CAP_BPF, CAP_NET_ADMIN)", geteuid() == 0, "load programs, attach tc/cgroup", 1);
	ROW("BTF /sys/kernel/btf/vmlinux", access("/sys/kernel/btf/vmlinux", R_OK) == 0,
	    "not needed at run time: the build uses the pinned include/vmlinux.h", 0);
	ROW("cgroup v2 at /sys/fs/cgroup/unified or /sys/fs/cgroup",
	    is_mounted("/sys/fs/cgroup/unified", CGROUP2_SUPER_MAGIC) || is_mounted("/sys/fs/cgroup", CGROUP2_SUPER_MAGIC),
	    "cgroup_skb and sock_ops attach to pod cgroups", 0);
	ROW("bpffs /sys/fs/bpf", is_mounted("/sys/fs/bpf", BPF_FS_MAGIC), "only for --pin", 0);
	ROW("tracefs /sys/kernel/tracing", is_mounted("/sys/kernel/tracing", TRACEFS_MAGIC),
	    "not used (tracepoints are an option; mount -t tracefs nodev /sys/kernel/tracing)", 0);
	int root = geteuid() == 0;
	ROW("program type sched_cls (tc)", root && libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_SCHED_CLS, NULL) == 1,
	    "L3/L4 verdicts, wire leg", 1);
	ROW("program type cgroup_skb", root && libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_CGROUP_SKB, NULL) == 1,
	    "app leg (loopback hop)", 0);
	ROW("program type sock_ops", root && libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_SOCK_OPS, NULL) == 1,
	    "connection lifecycle", 0);
	ROW("map types ringbuf, lpm_trie, lru_hash, percpu_array, queue",
	    root && libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) == 1 &&
		    libbpf_probe_bpf_map_type(BPF_MAP_TYPE_LPM_TRIE, NULL) == 1 &&
		    libbpf_probe_bpf_map_type(BPF_MAP_TYPE_LRU_HASH, NULL) == 1 &&
		    libbpf_probe_bpf_map_type(BPF_MAP_TYPE_PERCPU_ARRAY, NULL) == 1 &&
		    libbpf_probe_bpf_map_type(BPF_MAP_TYPE_QUEUE, NULL) == 1,
	    "", 1);
	int tcx = root && probe_tcx();
	ROW("tcx links (kernel >= 6.6)", tcx, tcx ? "tc attachments die with the loader" : "falls back to clsact filters", 0);
	ROW("kprobes / fentry", 0, "not used: not available on these kernels", 0);
	/* the real thing: does the verifier accept our programs? */
	int loaded = 0;
	char why[400] = "", sizes[160];
	struct shadow_config cfg;
	char err[1100];
	if (config_path && config_load_checked(config_path, &cfg, err, sizeof(err))) {
		printf("cannot check the config: %s\n", err);
		return 2;
	}
	if (!config_path)
		shadow_config_parse("{}", &cfg, err, sizeof(err)); /* the default sizes */
	__u64 flows = 8ULL << cfg.ct_set_bits, slots = 2ULL << cfg.inflight_pair_bits;
	snprintf(sizes, sizeof(sizes), "CT %llu flows (%llu MiB), in-flight %llu slots (%llu MiB)%s", flows, flows >> 12, slots,
		 slots * sizeof(struct shadow_http_rec) >> 20, config_path ? "" : ", the default sizes");
	char dmsg[400] = "no config given";
	int dok = config_path ? check_discovery(&cfg, disc, root, dmsg, sizeof(dmsg)) : 1;
	char mem[1536] = "not estimated: needs root";
	int fits = 0;
	if (root) {
		struct shadow_bpf *s = shadow_bpf__open();
		int sized = s ? SHADOW_SIZE_TABLES(s, &cfg) : -errno;
		int e = sized ? -sized : errno;
		/* a load that does not fit is not tried: the kernel could OOM-kill this check with it */
		if (s && !sized)
			fits = memory_fits(s, &cfg, libbpf_num_possible_cpus(), mem, sizeof(mem)) == 0;
		else
			snprintf(mem, sizeof(mem), "not estimated: %s", strerror(e));
		if (fits && shadow_bpf__load(s) == 0)
			loaded = 1;
		else
			snprintf(why, sizeof(why), "%s, with %s", s && !sized && !fits ? "not tried: the memory limit cannot hold it" :
				 strerror(fits ? errno : e), sizes);
		shadow_bpf__destroy(s);
	}
	char ok[200];
	snprintf(ok, sizeof(ok), "4 programs accepted; %s", sizes);
	shadow_config_free(&cfg);
	ROW("pods on this node (discovery)", dok, dmsg, 0);
	ROW("memory for the load (memory cgroup)", fits, mem, 1);
	ROW("load shadow programs (verifier)", loaded, loaded ? ok : why, 1);
	for (int i = 0; i < n; i++) {
		int unprobed = !root && i > 4 && !rows[i].ok && strncmp(rows[i].what, "kprobes", 7);
		printf("%-58s %-4s %s%s\n", rows[i].what, unprobed ? "?" : rows[i].ok ? "yes" : "no", rows[i].detail,
		       unprobed ? " (not probed: needs root)" : "");
		if (rows[i].required && !rows[i].ok)
			fatal = 1;
	}
	if (!root) {
		printf("cannot run: needs root (CAP_BPF and CAP_NET_ADMIN to load programs and attach them); run --check as root to "
		       "probe the kernel\n");
		return 1;
	}
	if (fatal) {
		printf("cannot run: ");
		for (int i = 0; i < n; i++)
			if (rows[i].required && !rows[i].ok)
				printf("%s missing; ", rows[i].what);
		printf("\n");
		return 1;
	}
	printf("will use: tc %s on pod eth0 or host veth; cgroup_skb egress%s; sock_ops%s; ring buffer with timed "
	       "drain; in-kernel aggregation per edge\n",
	       tcx ? "(tcx links)" : "(clsact filters)", rows[6].ok ? "" : " (unavailable: no app leg)",
	       rows[7].ok ? "" : " (unavailable: no connection records)");
	return 0;
}

/* ---- --cleanup ---- */

static int prog_name_of(__u32 prog_id, char *name, size_t n)
{
	int fd = bpf_prog_get_fd_by_id(prog_id);
	if (fd < 0)
		return -1;
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int err = bpf_obj_get_info_by_fd(fd, &info, &len);
	close(fd);
	if (err)
		return -1;
	snprintf(name, n, "%s", info.name);
	return 0;
}

static int cleanup_tc_in_netns(void *arg)
{
	int *removed = arg;
	struct if_nameindex *ifs = if_nameindex(), *i;
	if (!ifs)
		return 0;
	for (i = ifs; i->if_index; i++) {
		for (int w = 0; w < 2; w++) {
			enum bpf_tc_attach_point ap = w ? BPF_TC_EGRESS : BPF_TC_INGRESS;
			LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = i->if_index, .attach_point = ap);
			LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE, .priority = TC_PRIO);
			if (bpf_tc_query(&hook, &opts))
				continue;
			char name[32] = "";
			if (prog_name_of(opts.prog_id, name, sizeof(name)) || strncmp(name, "shadow_", 7))
				continue;
			LIBBPF_OPTS(bpf_tc_opts, del, .handle = TC_HANDLE, .priority = TC_PRIO);
			if (bpf_tc_detach(&hook, &del) == 0) {
				(*removed)++;
				logf_("removed tc filter %s on %s %s", name, i->if_name, w ? "egress" : "ingress");
			}
		}
	}
	if_freenameindex(ifs);
	return 0;
}

static int rm_tree(const char *path)
{
	struct stat st;
	if (lstat(path, &st))
		return 0;
	int n = 0;
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		struct dirent *e;
		while (d && (e = readdir(d))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			char sub[1024];
			snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
			n += rm_tree(sub);
		}
		if (d)
			closedir(d);
		rmdir(path);
		return n;
	}
	if (unlink(path) == 0)
		n++;
	return n;
}

/* Only what the state file of this state dir records (a killed loader's clsact filters and pins) and an
 * explicit --pin dir. --force: even if the recorded loader is alive. --all: also sweep every netns for our
 * filters and detach links of shadow_* programs, which cuts off every other probe running on the machine. */
static int run_cleanup(const char *state_dir, const char *pin_dir, int pin_explicit, int force, int all)
{
	char path[512], line[700];
	int links = 0, filters = 0, pins = 0;
	snprintf(path, sizeof(path), "%s/state", state_dir);
	FILE *f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		int pid;
		char a[CFG_PATH_MAX], b[32];
		if (sscanf(line, "pid %d", &pid) == 1 && pid != getpid() && kill(pid, 0) == 0 && !force) {
			logf_("failed to clean up: loader pid %d is still running (stop it, or use --force)", pid);
			fclose(f);
			return 1;
		}
		if (sscanf(line, "tc %255s %31s", a, b) == 2) {
			struct attachment at = {};
			snprintf(at.netns, sizeof(at.netns), "%s", strcmp(a, "-") ? a : "");
			snprintf(at.ifname, sizeof(at.ifname), "%s", b);
			in_netns(at.netns, cleanup_tc_in_netns, &filters);
		}
		if (sscanf(line, "pin %255s", a) == 1)
			pins += rm_tree(a);
	}
	if (f)
		fclose(f);
	/* links whose program is ours (tcx, cgroup): gone with the loader unless it hangs (or something holds an
	 * fd); only with --all, since running probes hold them legitimately */
	__u32 id = 0;
	while (all && bpf_link_get_next_id(id, &id) == 0) {
		int fd = bpf_link_get_fd_by_id(id);
		if (fd < 0)
			continue;
		struct bpf_link_info info = {};
		__u32 len = sizeof(info);
		char name[32] = "";
		if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 && prog_name_of(info.prog_id, name, sizeof(name)) == 0 &&
		    !strncmp(name, "shadow_", 7)) {
			if (bpf_link_detach(fd) == 0) {
				links++;
				logf_("detached link %u (%s)", id, name);
			}
		}
		close(fd);
	}
	/* with --all, our clsact filters anywhere: host netns and every named netns (other probes' too) */
	if (all)
		cleanup_tc_in_netns(&filters);
	DIR *d = all ? opendir("/run/netns") : NULL;
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		in_netns(e->d_name, cleanup_tc_in_netns, &filters);
	}
	if (d)
		closedir(d);
	if (all || pin_explicit)
		pins += rm_tree(pin_dir);
	unlink(path);
	rmdir(state_dir);
	printf("{\"type\":\"cleanup\",\"links\":%d,\"tcFilters\":%d,\"pins\":%d}\n", links, filters, pins);
	return 0;
}

static int mount_bpffs(void)
{
	mkdir("/sys/fs/bpf", 0755);
	return system("mount -t bpf bpf /sys/fs/bpf") == 0 ? 0 : -1;
}

static int pin_maps(struct probe *p)
{
	struct bpf_map *m;
	char path[512];
	if (!is_mounted("/sys/fs/bpf", BPF_FS_MAGIC) && mount_bpffs())
		return -1;
	mkdir(p->pin_dir, 0700);
	bpf_object__for_each_map(m, p->skel->obj) {
		const char *name = bpf_map__name(m);
		if (m == p->skel->maps.data_l7hdr)
			name = "shadow_l7_hdr"; /* the L7 header global (generation, seeds), under its former map name */
		else if (strchr(name, '.') || m == p->skel->maps.shadow_tc_body || m == p->skel->maps.shadow_cg_ep)
			continue; /* .rodata and friends, the tail-call array (a pin would keep the body loaded) and the
				   * per-attachment cgroup storage (meaningless without this process's links) */
		snprintf(path, sizeof(path), "%s/%s", p->pin_dir, name);
		if (bpf_map__pin(m, path)) {
			logf_("failed to pin map %s: %s", path, strerror(errno));
			return -1;
		}
	}
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: shadow-probe --config FILE [--format json|raw] [--pin [DIR]] [--tc-legacy] [--no-cgroup]\n"
		"                    [--no-sockops] [--state-dir DIR] [--metrics-file FILE] [-v]\n"
		"                    [--cgroup-root DIR] [--pods-cgroup PATH] [--proc-root DIR] [--rediscover SECONDS]\n"
		"                    [--sched batch|normal] [--out-buffer KIB]\n"
		"       shadow-probe --check [--config FILE [--cgroup-root DIR] [--pods-cgroup PATH] [--proc-root DIR]]\n"
		"                    (with FILE: load with its table sizes, and count the pods found on this node)\n"
		"       shadow-probe --cleanup [--state-dir DIR] [--pin [DIR]] [--force] [--all]\n"
		"Records on stdout, logs on stderr. SIGHUP or a changed config file: reload without restart.\n"
		"Pods named only by ip and/or uid are found on this node under the pods cgroup (default kubepods.slice or\n"
		"kubepods of the cgroup v2 mount), again every --rediscover seconds (default 10, 0: at start and reload).\n"
		"--sched batch (default): the loader never preempts the node's workload when it wakes to drain records; it\n"
		"keeps its full CPU share, so it does not fall behind at saturation. normal: the default Linux policy.\n"
		"--out-buffer: records held for a stdout pipe whose reader falls behind (default 2048 KiB); past it whole\n"
		"records are dropped and counted (recordsDropped), and the loader goes on with its timers and reloads.\n");
}

int main(int argc, char **argv)
{
	struct probe p = {.state_dir = STATE_DIR_DEFAULT, .rediscover_ms = 10000};
	int check = 0, cleanup = 0, force = 0, all = 0, ret = 1;
	const char *format = "json", *sched = "batch";
	size_t out_cap = SHADOW_OUT_CAP_DEFAULT;
	static const struct option opts[] = {
		{"config", required_argument, 0, 'c'}, {"format", required_argument, 0, 'f'},
		{"check", no_argument, 0, 'k'},        {"cleanup", no_argument, 0, 'C'},
		{"force", no_argument, 0, 'F'},        {"pin", optional_argument, 0, 'p'},
		{"tc-legacy", no_argument, 0, 'L'},    {"no-cgroup", no_argument, 0, 'G'},
		{"no-sockops", no_argument, 0, 'S'},   {"state-dir", required_argument, 0, 's'},
		{"metrics-file", required_argument, 0, 'M'}, {"all", no_argument, 0, 'A'},
		{"verbose", no_argument, 0, 'v'},      {"help", no_argument, 0, 'h'},
		{"cgroup-root", required_argument, 0, 'R'}, {"pods-cgroup", required_argument, 0, 'P'},
		{"proc-root", required_argument, 0, 'O'}, {"rediscover", required_argument, 0, 'D'},
		{"sched", required_argument, 0, 'B'},  {"out-buffer", required_argument, 0, 'U'}, {0, 0, 0, 0}};
	int o;
	while ((o = getopt_long(argc, argv, "c:f:vh", opts, NULL)) != -1) {
		switch (o) {
		case 'c': p.config_path = optarg; break;
		case 'f': format = optarg; break;
		case 'k': check = 1; break;
		case 'C': cleanup = 1; break;
		case 'F': force = 1; break;
		case 'A': all = 1; break;
		case 'p': p.pin_dir = optarg ? optarg : PIN_DIR_DEFAULT; break;
		case 'L': p.tc_legacy = 1; break;
		case 'G': p.no_cgroup = 1; break;
		case 'S': p.no_sockops = 1; break;
		case 's': p.state_dir = optarg; break;
		case 'M': p.metrics_path = optarg; break;
		case 'v': verbose = 1; break;
		case 'R': p.disc.cgroup_root = optarg; break;
		case 'P': p.disc.pods_cgroup = optarg; break;
		case 'O': p.disc.proc_root = optarg; break;
		case 'D': p.rediscover_ms = strtoull(optarg, NULL, 10) * 1000ULL; break;
		case 'B': sched = optarg; break;
		case 'U': {
			char *end;
			unsigned long long kib = strtoull(optarg, &end, 10);
			if (*end || kib < 16 || kib > (1ULL << 20)) {
				logf_("failed to parse --out-buffer: %s is not a number of KiB from 16 to 1048576", optarg);
				return 2;
			}
			out_cap = kib << 10;
			break;
		}
		default: usage(); return o == 'h' ? 0 : 2;
		}
	}
	libbpf_set_print(libbpf_log);
	if (check)
		return run_check(p.config_path, &p.disc);
	if (cleanup)
		return run_cleanup(p.state_dir, p.pin_dir ? p.pin_dir : PIN_DIR_DEFAULT, p.pin_dir != NULL, force, all);
	if (!p.config_path) {
		usage();
		return 2;
	}
	if (strcmp(format, "json") && strcmp(format, "raw")) {
		logf_("failed to parse --format: %s is not json or raw", format);
		return 2;
	}
	p.raw = !strcmp(format, "raw");
	if (strcmp(sched, "batch") && strcmp(sched, "normal")) {
		logf_("failed to parse --sched: %s is not batch or normal", sched);
		return 2;
	}
	int oe = shadow_out_init(STDOUT_FILENO, out_cap);
	if (oe) {
		logf_("failed to set up stdout: %s", strerror(-oe));
		return 2;
	}
	p.ncpu = libbpf_num_possible_cpus();
	char err[1100];
	file_stamp(p.config_path, &p.config_stamp); /* before the read: a change made during it is seen next time */
	if (config_load_checked(p.config_path, &p.cfg, err, sizeof(err))) {
		logf_("failed to load config: %s", err);
		return 2;
	}
	if (geteuid() != 0) {
		logf_("failed to start: needs root (CAP_BPF, CAP_NET_ADMIN); run --check for details");
		goto cleanup;
	}
	struct rlimit rl = {RLIM_INFINITY, RLIM_INFINITY};
	setrlimit(RLIMIT_MEMLOCK, &rl);

	p.skel = shadow_bpf__open();
	if (!p.skel) {
		logf_("failed to open BPF skeleton: %s", strerror(errno));
		goto cleanup;
	}
	__u64 per_cpu = p.cfg.rate / (p.ncpu ? p.ncpu : 1);
	p.skel->rodata->cfg_rate_per_cpu = per_cpu ? per_cpu : 1;
	p.skel->rodata->cfg_burst = p.cfg.burst / p.ncpu ? p.cfg.burst / p.ncpu : 1;
	p.skel->rodata->cfg_sample_every = p.cfg.sample_every;
	p.skel->rodata->cfg_outbound_port = p.cfg.outbound_port;
	p.ct_sets = 1u << p.cfg.ct_set_bits;
	p.inflight_slots = 2u << p.cfg.inflight_pair_bits;
	int sized = SHADOW_SIZE_TABLES(p.skel, &p.cfg);
	if (sized) {
		logf_("failed to size the CT and in-flight tables: %s", strerror(-sized));
		goto cleanup;
	}
	if (getrandom((void *)&p.skel->rodata->cfg_ct_seed, sizeof(p.skel->rodata->cfg_ct_seed), 0) < 0)
		p.skel->rodata->cfg_ct_seed = mono_ns() * 0x9E3779B97F4A7C15ULL; /* no entropy yet: still not guessable from outside */
	/* Discovery before the memory check: a pod elsewhere has no policy entries or L7 sets, so the check counts this
	 * node's pods, not every pod of a cluster-wide config. Its stdout line waits for the load: a probe that does not
	 * start writes nothing there. */
	char *disc = NULL;
	size_t disc_len = 0;
	FILE *disc_out = p.raw ? NULL : open_memstream(&disc, &disc_len);
	int discovered = shadow_discover(&p.cfg, NULL, &p.disc, disc_out, err, sizeof(err));
	if (disc_out)
		fclose(disc_out);
	if (discovered < 0)
		logf_("%s", err);
	/* before the load: past its memory limit the kernel may OOM-kill the loader mid-load, with no word said */
	char mem[1536];
	if (memory_fits(p.skel, &p.cfg, p.ncpu, mem, sizeof(mem)) == 1) {
		logf_("failed to start: the load %s", mem);
		free(disc);
		ret = 2;
		goto cleanup;
	}
	logf_("memory: the load %s", mem); /* the headroom, for whoever sets the container's limit */
	if (shadow_bpf__load(p.skel)) {
		int e = errno;
		logf_("failed to load BPF programs: %s (run --check)%s%s", strerror(e), e == ENOMEM ? "; the load " : "",
		      e == ENOMEM ? mem : "");
		free(disc);
		goto cleanup;
	}
	if (disc_len) {
		fwrite(disc, 1, disc_len, stdout);
		shadow_out_commit();
	}
	free(disc);
	struct shadow_map_fds fds = map_fds(p.skel);
	if (shadow_config_apply(&p.cfg, &fds, err, sizeof(err))) {
		logf_("%s", err);
		goto cleanup;
	}
	if (p.pin_dir && pin_maps(&p))
		goto cleanup;
	struct timespec rt, mt;
	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mt);
	p.mono_to_real = (rt.tv_sec - mt.tv_sec) * 1000000000ULL + (rt.tv_nsec - mt.tv_nsec);

	p.rb = ring_buffer__new(bpf_map__fd(p.skel->maps.shadow_events), on_record, &p, NULL);
	if (!p.rb) {
		logf_("failed to create ring buffer reader: %s", strerror(errno));
		goto cleanup;
	}
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (reconcile(&p))
		logf_("some pods failed to attach; continuing with the others");
	/* An observer's userspace must not add to the workload's latency: a SCHED_BATCH thread that wakes (a forced
	 * ring buffer wakeup, the drain timer, a dump) does not preempt the task running on its CPU; it runs on an idle
	 * CPU or when that task's slice ends. Its weight is unchanged (unlike nice or SCHED_IDLE), so at saturation it
	 * still gets its share and keeps draining. */
	if (!strcmp(sched, "batch")) {
		struct sched_param sp = {0};
		if (sched_setscheduler(0, SCHED_BATCH, &sp))
			logf_("failed to switch to SCHED_BATCH: %s (running under the default policy)", strerror(errno));
	}
	shadow_out_flush(); /* the start's discovery line goes out before "running:", which readers wait for */
	logf_("running: %zu pods attached, %zu policy rules, %zu l7 rules, CT %u flows, in-flight %u slots, maps %.1f MiB, "
	      "format %s, sched %s", p.n_att, p.cfg.n_rules, p.cfg.n_l7, p.ct_sets * SHADOW_CT_WAYS, p.inflight_slots,
	      (double)shadow_mem_loaded(p.skel->obj) / (1 << 20), format, sched);
	fflush(stderr);

	__u64 next_dump = mono_ns() + p.cfg.interval_ms * 1000000ULL, next_stat = mono_ns() + 1000000000ULL;
	__u64 ct_live = 0, next_discover = mono_ns() + p.rediscover_ms * 1000000ULL;
	while (!stop) {
		/* Records are submitted without wakeups (shadow.bpf.c, emit): poll for the ones a CPU forces after 256
		 * records, and drain at least every DRAIN_MS regardless, waking no later than the next timed task. A
		 * wakeup costs ~40 µs of CPU here (a context switch in a VM, with retpolines and SRSO): at the lab's
		 * maximum rate, draining every 50 ms was a quarter of the loader's CPU (bench/RESULTS.md, session 13). */
		__u64 due = next_stat < next_dump ? next_stat : next_dump;
		if (p.rediscover_ms && next_discover < due)
			due = next_discover;
		__u64 t = mono_ns();
		int wait_ms = due <= t ? 0 : (due - t) / 1000000 + 1 < DRAIN_MS ? (int)((due - t) / 1000000 + 1) : DRAIN_MS;
		int n = ring_buffer__poll(p.rb, wait_ms);
		if (n < 0 && n != -EINTR) {
			logf_("failed to poll ring buffer: %s", strerror(-n));
			break;
		}
		ring_buffer__consume(p.rb);
		__u64 now = mono_ns();
		if (now >= next_stat) {
			struct file_stamp fs;
			if (file_stamp(p.config_path, &fs) == 0 && !same_stamp(&fs, &p.config_stamp)) {
				p.config_stamp = fs;
				reload = 1;
			}
			next_stat = now + 1000000000ULL;
		}
		if (reload) {
			reload = 0;
			do_reload(&p);
		}
		if (p.rediscover_ms && now >= next_discover) {
			rediscover(&p);
			next_discover = now + p.rediscover_ms * 1000000ULL;
		}
		if (now >= next_dump) {
			ct_gc(&p, &ct_live);
			inflight_gc(&p);
			dump_all(&p, ct_live);
			next_dump = now + p.cfg.interval_ms * 1000000ULL;
		}
		shadow_out_flush(); /* never blocks on a pipe: a reader that falls behind loses records, counted */
	}
	ring_buffer__consume(p.rb);
	ct_gc(&p, &ct_live);
	dump_all(&p, ct_live);
	shadow_out_finish(2000);
	ret = 0;
cleanup:
	for (size_t i = 0; i < p.n_att; i++)
		if (p.att[i].live)
			detach(&p, &p.att[i]);
	free(p.att);
	ring_buffer__free(p.rb);
	if (p.inflight)
		munmap(p.inflight, (size_t)p.inflight_slots * sizeof(struct shadow_http_rec));
	if (p.ct)
		munmap(p.ct, (size_t)p.ct_sets * sizeof(struct shadow_ct_set));
	free(p.ct_live_set);
	free(p.edge_gc);
	free(p.edge_live);
	if (p.pin_dir)
		rm_tree(p.pin_dir);
	shadow_bpf__destroy(p.skel);
	shadow_config_free(&p.cfg);
	char sp[512];
	snprintf(sp, sizeof(sp), "%s/state", p.state_dir);
	unlink(sp);
	rmdir(p.state_dir);
	if (ret == 0)
		logf_("stopped: detached everything");
	return ret;
}
