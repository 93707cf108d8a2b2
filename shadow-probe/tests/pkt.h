/* SPDX-License-Identifier: Apache-2.0 */
/* Crafted packets for BPF_PROG_TEST_RUN: Ethernet + IPv4 + TCP/UDP + payload, with knobs to break them. */
#ifndef SHADOW_PKT_H
#define SHADOW_PKT_H

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

#define PKT_MAX 1600
#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10

struct pkt {
	uint8_t b[PKT_MAX];
	uint32_t len;
};

static inline uint16_t pkt_csum(const void *data, int len)
{
	const uint16_t *p = data;
	uint32_t s = 0;
	for (; len > 1; len -= 2)
		s += *p++;
	if (len)
		s += *(const uint8_t *)p;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* Build eth/ipv4/(tcp|udp)/payload. proto 6 or 17 (or anything: then no L4 header). */
static inline void pkt_build(struct pkt *p, const char *src, uint16_t sport, const char *dst, uint16_t dport,
			     uint8_t proto, uint8_t tcp_flags, const void *payload, uint32_t plen)
{
	memset(p, 0, sizeof(*p));
	uint8_t *b = p->b;
	/* Ethernet: locally administered MACs, type IPv4 */
	const uint8_t dmac[6] = {0x02, 0, 0, 0, 0, 0x02}, smac[6] = {0x02, 0, 0, 0, 0, 0x01};
	memcpy(b, dmac, 6);
	memcpy(b + 6, smac, 6);
	b[12] = 0x08;
	b[13] = 0x00;
	uint8_t *ip = b + 14;
	uint32_t l4len = proto == 6 ? 20 : proto == 17 ? 8 : 0;
	uint16_t tot = (uint16_t)(20 + l4len + plen);
	ip[0] = 0x45;
	ip[2] = tot >> 8;
	ip[3] = tot & 0xff;
	ip[6] = 0x40; /* DF */
	ip[8] = 64;
	ip[9] = proto;
	inet_pton(AF_INET, src, ip + 12);
	inet_pton(AF_INET, dst, ip + 16);
	uint16_t c = pkt_csum(ip, 20);
	memcpy(ip + 10, &c, 2);
	uint8_t *l4 = ip + 20;
	if (proto == 6) {
		l4[0] = sport >> 8;
		l4[1] = sport & 0xff;
		l4[2] = dport >> 8;
		l4[3] = dport & 0xff;
		l4[7] = 1; /* seq */
		l4[12] = 5 << 4;
		l4[13] = tcp_flags;
		l4[14] = 0xff;
		l4[15] = 0xff;
	} else if (proto == 17) {
		l4[0] = sport >> 8;
		l4[1] = sport & 0xff;
		l4[2] = dport >> 8;
		l4[3] = dport & 0xff;
		uint16_t ul = (uint16_t)(8 + plen);
		l4[4] = ul >> 8;
		l4[5] = ul & 0xff;
	}
	if (plen)
		memcpy(l4 + l4len, payload, plen);
	p->len = 14 + tot;
	if (p->len < 60)
		p->len = 60; /* Ethernet minimum: trailing padding beyond tot_len, as on a real wire */
}

static inline void pkt_tcp(struct pkt *p, const char *src, uint16_t sport, const char *dst, uint16_t dport,
			   uint8_t flags, const char *payload)
{
	pkt_build(p, src, sport, dst, dport, 6, flags, payload, payload ? (uint32_t)strlen(payload) : 0);
}

#endif
