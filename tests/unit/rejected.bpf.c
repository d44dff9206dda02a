// SPDX-License-Identifier: GPL-2.0-only
/*
 * rejected.bpf.c - a program that every verifier refuses, for test_bpf_log: it reads a map
 * value at an offset the packet's length decides, with no bound.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} values SEC(".maps");

SEC("tc")
int rejected(struct __sk_buff *skb)
{
	__u32 key = 0;
	__u8 *value = bpf_map_lookup_elem(&values, &key);

	if (!value)
		return 0;
	return *(volatile __u8 *)(value + skb->len);
}

char LICENSE[] SEC("license") = "GPL";
