// SPDX-License-Identifier: Apache-2.0
/*
 * Pod discovery on this node (see discover.h). The pods cgroup subtree is walked once per round:
 *  - a directory named like a kubelet pod cgroup is a pod: kubepods[-<qos>]-pod<uid with _>.slice (systemd
 *    driver) or pod<uid> (cgroupfs driver); its containers are child cgroups;
 *  - elsewhere (the lab, other runtimes) the topmost directory below the subtree root holding processes is one.
 * A pod's lowest pid (the sandbox's pause process, started first and living as long as the pod) names its
 * netns: <proc>/<pid>/ns/net. The interfaces of each distinct netns are listed once (setns + getifaddrs), so a
 * pod named by IP is the one whose netns holds that address. cgroup.procs lists pids in the reader's pid
 * namespace: the probe needs the host's (hostPID), or it sees no processes at all.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>
#include "discover.h"

#define MAX_DEPTH 7
#define MAX_IFS 8

struct iface {
	__u32 addr; /* network order */
	int ifindex;
	char ifname[IF_NAMESIZE];
};

struct cand {
	char dir[CFG_PATH_MAX];
	char uid[64];
	int pid;
	ino_t netns_ino;
	int host;       /* shares the host netns (hostNetwork pod) */
	int nifs;
	struct iface ifs[MAX_IFS];
};

struct cands {
	struct cand *a;
	size_t n, cap;
};

static void dlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void dlog(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "shadow-probe: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

const char *shadow_cgroup2_root(void)
{
	static const char *roots[] = {"/sys/fs/cgroup/unified", "/sys/fs/cgroup"};
	for (size_t i = 0; i < 2; i++) {
		struct statfs s;
		if (statfs(roots[i], &s) == 0 && s.f_type == CGROUP2_SUPER_MAGIC)
			return roots[i];
	}
	return NULL;
}

/* kubelet's pod cgroup names -> the pod UID with dashes, lower case; 0 if the name is not one */
static int pod_uid_of(const char *name, char *uid, size_t n)
{
	const char *s = NULL;
	size_t len = 0;
	const char *p = strstr(name, "-pod");
	size_t nl = strlen(name);
	if (!strncmp(name, "kubepods", 8) && p && nl > 6 && !strcmp(name + nl - 6, ".slice")) {
		s = p + 4;
		len = (size_t)(name + nl - 6 - s);
	} else if (!strncmp(name, "pod", 3)) {
		s = name + 3;
		len = nl - 3;
	}
	if (!s || len < 8 || len >= n)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i] == '_' ? '-' : (char)tolower((unsigned char)s[i]);
		if (!isxdigit((unsigned char)ch) && ch != '-')
			return 0;
		uid[i] = ch;
	}
	uid[len] = 0;
	return 1;
}

static void norm_uid(const char *in, char *out, size_t n)
{
	size_t i = 0;
	for (; in[i] && i + 1 < n; i++)
		out[i] = in[i] == '_' ? '-' : (char)tolower((unsigned char)in[i]);
	out[i] = 0;
}

static int lowest_pid(const char *dir)
{
	char path[CFG_PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	int pid, best = 0;
	while (fscanf(f, "%d", &pid) == 1)
		if (pid > 0 && (!best || pid < best))
			best = pid;
	fclose(f);
	return best;
}

static struct cand *cand_add(struct cands *cs, const char *dir)
{
	if (cs->n == cs->cap) {
		cs->cap = cs->cap ? cs->cap * 2 : 32;
		cs->a = realloc(cs->a, cs->cap * sizeof(*cs->a));
	}
	struct cand *c = &cs->a[cs->n++];
	memset(c, 0, sizeof(*c));
	snprintf(c->dir, sizeof(c->dir), "%s", dir);
	return c;
}

/* owner: index of the pod this directory belongs to (an ancestor), or -1 */
static void walk(struct cands *cs, const char *dir, int depth, long owner)
{
	const char *base = strrchr(dir, '/');
	base = base ? base + 1 : dir;
	char uid[64];
	if (depth > 0 && owner < 0 && pod_uid_of(base, uid, sizeof(uid))) {
		struct cand *c = cand_add(cs, dir);
		snprintf(c->uid, sizeof(c->uid), "%s", uid);
		owner = (long)(cs->n - 1);
	}
	int pid = lowest_pid(dir);
	if (pid) {
		if (owner < 0 && depth > 0) {
			cand_add(cs, dir);
			owner = (long)(cs->n - 1);
		}
		if (owner >= 0 && (!cs->a[owner].pid || pid < cs->a[owner].pid))
			cs->a[owner].pid = pid;
	}
	if (depth >= MAX_DEPTH)
		return;
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		char sub[CFG_PATH_MAX];
		if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name) >= sizeof(sub))
			continue;
		walk(cs, sub, depth + 1, owner);
	}
	if (d)
		closedir(d);
}

static int list_ifs(struct cand *c)
{
	struct ifaddrs *ifa, *i;
	if (getifaddrs(&ifa))
		return -errno;
	for (i = ifa; i && c->nifs < MAX_IFS; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || (i->ifa_flags & IFF_LOOPBACK))
			continue;
		struct iface *f = &c->ifs[c->nifs++];
		f->addr = ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr;
		snprintf(f->ifname, sizeof(f->ifname), "%s", i->ifa_name);
		f->ifindex = (int)if_nametoindex(i->ifa_name);
	}
	freeifaddrs(ifa);
	return 0;
}

/* the IPv4 interfaces of the cand's netns, entered through its pid */
static void netns_ifs(struct cand *c, const char *proc_root)
{
	char path[CFG_PATH_MAX];
	snprintf(path, sizeof(path), "%s/%d/ns/net", proc_root, c->pid);
	int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), target = open(path, O_RDONLY | O_CLOEXEC);
	if (self >= 0 && target >= 0 && setns(target, CLONE_NEWNET) == 0) {
		list_ifs(c);
		if (setns(self, CLONE_NEWNET)) {
			dlog("failed to return to the host netns: %s", strerror(errno));
			exit(3);
		}
	}
	if (self >= 0)
		close(self);
	if (target >= 0)
		close(target);
}

static ino_t inode_of(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? st.st_ino : 0;
}

static const struct cfg_pod *find_pod(const struct shadow_config *c, const char *name)
{
	for (size_t i = 0; c && i < c->n_pods; i++)
		if (!strcmp(c->pods[i].name, name))
			return &c->pods[i];
	return NULL;
}

static void json_esc(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		if ((unsigned char)*s >= 0x20)
			fputc(*s, f);
	}
	fputc('"', f);
}

int shadow_discover(struct shadow_config *c, const struct shadow_config *prev, const struct shadow_discover_opts *o,
		    FILE *out, char *err, size_t errlen)
{
	size_t want = 0;
	for (size_t i = 0; i < c->n_pods; i++)
		want += c->pods[i].discover;
	if (!want)
		return 0;
	const char *proc = o->proc_root ? o->proc_root : "/proc";
	const char *root = o->cgroup_root ? o->cgroup_root : shadow_cgroup2_root();
	char rootbuf[CFG_PATH_MAX];
	struct statfs sf;
	if (o->cgroup_root && (statfs(root, &sf) || sf.f_type != CGROUP2_SUPER_MAGIC)) {
		/* a hybrid host's /sys/fs/cgroup is a tmpfs with the v2 hierarchy at unified/ */
		snprintf(rootbuf, sizeof(rootbuf), "%s/unified", root);
		if (statfs(rootbuf, &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC)
			root = rootbuf;
	}
	if (!root) {
		snprintf(err, errlen, "failed to find pods: no cgroup v2 mount (pass --cgroup-root)");
		return -1;
	}
	char scope[CFG_PATH_MAX * 2];
	struct stat st;
	if (o->pods_cgroup) {
		snprintf(scope, sizeof(scope), "%s/%s", root, o->pods_cgroup);
	} else {
		snprintf(scope, sizeof(scope), "%s/kubepods.slice", root);
		if (stat(scope, &st))
			snprintf(scope, sizeof(scope), "%s/kubepods", root);
	}
	struct cands cs = {0};
	/* no pods cgroup (yet, or any more): every pod is absent; said once, not at every round */
	static char last_missing[sizeof(scope)];
	if (stat(scope, &st) || !S_ISDIR(st.st_mode)) {
		if (strcmp(last_missing, scope))
			dlog("failed to find pods: no cgroup %s (kubelet pods live under kubepods.slice or kubepods of the cgroup v2 "
			     "mount; pass --cgroup-root / --pods-cgroup)", scope);
		snprintf(last_missing, sizeof(last_missing), "%s", scope);
	} else {
		last_missing[0] = 0;
		walk(&cs, scope, 0, -1);
	}
	char hostns[64];
	snprintf(hostns, sizeof(hostns), "%s/1/ns/net", proc);
	ino_t host_ino = inode_of(hostns);
	for (size_t i = 0; i < cs.n; i++) {
		struct cand *k = &cs.a[i];
		if (!k->pid)
			continue;
		char path[CFG_PATH_MAX];
		snprintf(path, sizeof(path), "%s/%d/ns/net", proc, k->pid);
		k->netns_ino = inode_of(path);
		if (!k->netns_ino)
			continue;
		k->host = k->netns_ino == host_ino;
		if (k->host)
			continue;
		struct cand *same = NULL;
		for (size_t j = 0; j < i && !same; j++)
			if (cs.a[j].netns_ino == k->netns_ino && cs.a[j].pid)
				same = &cs.a[j];
		if (same) {
			k->nifs = same->nifs;
			memcpy(k->ifs, same->ifs, sizeof(k->ifs));
		} else {
			netns_ifs(k, proc);
		}
	}

	int changed = 0, any_logged = 0;
	for (size_t i = 0; i < c->n_pods; i++) {
		struct cfg_pod *p = &c->pods[i];
		if (!p->discover)
			continue;
		const struct cfg_pod *old = find_pod(prev ? prev : c, p->name);
		struct cfg_pod before = old ? *old : (struct cfg_pod){0};
		int seen_before = old && old->discovered;
		p->found = 0;
		p->netns[0] = p->ifname[0] = p->cgroup[0] = 0;
		if (p->addr_from_discovery)
			p->addr = 0;
		char why[CFG_PATH_MAX * 4] = "";
		struct cand *k = NULL;
		const struct iface *ifc = NULL;
		char uid[64];
		norm_uid(p->uid, uid, sizeof(uid));
		if (uid[0]) {
			for (size_t j = 0; j < cs.n && !k; j++)
				if (!strcmp(cs.a[j].uid, uid))
					k = &cs.a[j];
			if (!k)
				snprintf(why, sizeof(why), "no pod cgroup for uid %s under %s", p->uid, scope);
		} else {
			int matches = 0;
			for (size_t j = 0; j < cs.n; j++)
				for (int f = 0; f < cs.a[j].nifs; f++)
					if (cs.a[j].ifs[f].addr == p->addr && cs.a[j].pid) {
						if (!matches++)
							k = &cs.a[j];
						else if (cs.a[j].netns_ino != k->netns_ino)
							matches = 1000; /* two netns hold the address: not one pod */
					}
			char ip[INET_ADDRSTRLEN];
			inet_ntop(AF_INET, &p->addr, ip, sizeof(ip));
			if (!k)
				snprintf(why, sizeof(why), "no netns of a process under %s holds %s", scope, ip);
			else if (matches >= 1000) {
				snprintf(why, sizeof(why), "more than one netns under %s holds %s: name the pod by uid", scope, ip);
				k = NULL;
			}
		}
		if (k && !k->pid) {
			snprintf(why, sizeof(why), "cgroup %s has no process yet", k->dir);
			k = NULL;
		}
		if (k) {
			for (int f = 0; f < k->nifs && !ifc; f++)
				if (p->addr && k->ifs[f].addr == p->addr)
					ifc = &k->ifs[f];
			if (!ifc && !p->addr && k->nifs) { /* named by uid only: the pod IP is the netns's address */
				ifc = &k->ifs[0];
				for (int f = 0; f < k->nifs; f++)
					if (!strcmp(k->ifs[f].ifname, "eth0"))
						ifc = &k->ifs[f];
				p->addr = ifc->addr;
				p->addr_from_discovery = 1;
			}
			if (!ifc && !k->host) {
				char ip[INET_ADDRSTRLEN];
				inet_ntop(AF_INET, &p->addr, ip, sizeof(ip));
				snprintf(why, sizeof(why), "netns of %s does not hold the pod's ip %s", k->dir, ip);
				k = NULL;
			}
		}
		if (k) {
			p->found = 1;
			snprintf(p->cgroup, sizeof(p->cgroup), "%s", k->dir);
			if (!k->host) {
				snprintf(p->ifname, sizeof(p->ifname), "%s", ifc->ifname);
				p->ifindex = ifc->ifindex;
				/* keep the previous path while it is the same netns: an unchanged key keeps the attachment */
				if (before.found && before.netns[0] && inode_of(before.netns) == k->netns_ino)
					snprintf(p->netns, sizeof(p->netns), "%s", before.netns);
				else
					snprintf(p->netns, sizeof(p->netns), "%s/%d/ns/net", proc, k->pid);
			}
		}
		p->discovered = 1;
		int unchanged = seen_before && before.found == p->found && !strcmp(before.netns, p->netns) &&
			   !strcmp(before.ifname, p->ifname) && !strcmp(before.cgroup, p->cgroup) && before.addr == p->addr;
		if (unchanged)
			continue;
		changed = 1;
		any_logged = 1;
		if (p->found && k->host)
			dlog("found pod %s: host network (no tc attachment), cgroup %s", p->name, p->cgroup);
		else if (p->found)
			dlog("found pod %s: %s (ifindex %d) in netns %s, cgroup %s", p->name, p->ifname, p->ifindex, p->netns,
			     p->cgroup);
		else
			dlog("pod %s is not on this node: skipped (%s)", p->name, why);
	}
	/* a reload that drops a discovered pod changes the list too: the line must not go on naming it */
	for (size_t i = 0; prev && i < prev->n_pods; i++)
		if (prev->pods[i].discover && prev->pods[i].discovered && !find_pod(c, prev->pods[i].name))
			changed = any_logged = 1;
	if (out && any_logged) {
		fprintf(out, "{\"type\":\"discovery\",\"ts\":%lld,\"scope\":", (long long)time(NULL) * 1000000000LL);
		json_esc(out, scope);
		fprintf(out, ",\"pods\":[");
		int first = 1;
		for (size_t i = 0; i < c->n_pods; i++) {
			const struct cfg_pod *p = &c->pods[i];
			if (!p->discover)
				continue;
			char ip[INET_ADDRSTRLEN];
			inet_ntop(AF_INET, &p->addr, ip, sizeof(ip));
			fprintf(out, "%s{\"name\":", first ? "" : ",");
			json_esc(out, p->name);
			fprintf(out, ",\"ip\":\"%s\",\"found\":%s", ip, p->found ? "true" : "false");
			if (p->found) {
				fprintf(out, ",\"netns\":");
				json_esc(out, p->netns);
				fprintf(out, ",\"ifname\":");
				json_esc(out, p->ifname);
				fprintf(out, ",\"ifindex\":%d,\"cgroup\":", p->ifindex);
				json_esc(out, p->cgroup);
				fprintf(out, ",\"cgroupId\":%llu", (unsigned long long)inode_of(p->cgroup));
			}
			fputc('}', out);
			first = 0;
		}
		fprintf(out, "]}\n");
		fflush(out);
	}
	free(cs.a);
	return changed;
}
