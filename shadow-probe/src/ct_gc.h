/* SPDX-License-Identifier: (GPL-2.0 OR Apache-2.0) */
/*
 * The CT's garbage collection, one set at a time, on the map's memory (mmaped). Userspace only: the loader sweeps
 * a part of the table at every dump, and the BPF tests run it on a real map.
 */
#ifndef SHADOW_CT_GC_H
#define SHADOW_CT_GC_H
#include "shadow.h"

/* idle time after which a flow's entry goes, like Cilium's CT timeouts, shorter for a shadow: a closing TCP flow
 * 10 s, TCP 10 min (Cilium: 6 h), anything else 60 s */
static inline __u64 shadow_ct_idle_limit_ns(__u8 proto, __u8 flags)
{
	__u64 s = (flags & SHADOW_F_CLOSING) ? 10 : proto == 6 ? 600 : 60;
	return s * 1000000000ULL;
}

/* Frees the set's valid slots idle past their limit at now (CLOCK_MONOTONIC ns) and returns how many stay valid.
 * A free is a compare-and-swap of the slot's state word against what was read: if a program claimed the slot in
 * between (state and generation changed), it stays. A packet that updates a flow in the window between the read
 * and the swap loses its entry; the next packet creates a new one, marked mid-stream. */
static inline __u32 shadow_ct_sweep_set(struct shadow_ct_set *set, __u64 now, __u64 *deleted)
{
	__u32 live = 0;
	for (int w = 0; w < SHADOW_CT_WAYS; w++) {
		struct shadow_ct_slot *s = &set->way[w];
		__u64 *w1 = (__u64 *)&s->key.rport;
		__u64 x = __atomic_load_n(w1, __ATOMIC_ACQUIRE);
		if ((__u8)(x >> SHADOW_CT_W1_STATE_SHIFT) != SHADOW_CT_VALID)
			continue;
		__u64 last = __atomic_load_n(&s->val.last_ns, __ATOMIC_RELAXED);
		__u8 flags = __atomic_load_n(&s->val.flags, __ATOMIC_RELAXED);
		if (now > last && now - last > shadow_ct_idle_limit_ns(s->key.proto, flags)) {
			__u64 freed = x & ~(0xffULL << SHADOW_CT_W1_STATE_SHIFT); /* SHADOW_CT_FREE, key and gen kept */
			if (__atomic_compare_exchange_n(w1, &x, freed, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
				(*deleted)++;
				continue;
			}
		}
		live++;
	}
	return live;
}

/* Sweeps span sets from *cursor on (wrapping), reading only the sets worth reading: one a program claimed a slot in
 * since its last sweep (dirty) or one that held valid slots then (live_set). A set that was empty and stayed clean
 * cannot hold a valid slot, so skipping it loses nothing, and an idle or sparse table costs a pass a byte per set
 * instead of its slots' lines (8 per set, 64 K lines for the whole table).
 * The order against the programs' (claim, publish, then dirty = 1): the byte is cleared before the set is read, so a
 * claim published after the read sets it again for the next pass, and one published before the clear is seen by
 * the read. sets: the table's (a power of two); live_set[i]: valid slots at set i's last sweep; *live: their sum,
 * kept up to date; *deleted, *read: counts added to. */
static inline void shadow_ct_sweep_step(struct shadow_ct_set *ct, __u32 sets, __u8 *live_set, volatile __u8 *dirty,
					__u32 *cursor, __u32 span, __u64 now, __u64 *live, __u64 *deleted, __u64 *read)
{
	for (__u32 n = 0; n < span; n++) {
		__u32 i = (*cursor)++ & (sets - 1);
		if (__atomic_load_n(&dirty[i], __ATOMIC_RELAXED))
			__atomic_exchange_n(&dirty[i], 0, __ATOMIC_SEQ_CST);
		else if (!live_set[i])
			continue;
		__u32 l = shadow_ct_sweep_set(&ct[i], now, deleted);
		*live += (__u64)l - live_set[i];
		live_set[i] = (__u8)l;
		(*read)++;
	}
}
#endif
