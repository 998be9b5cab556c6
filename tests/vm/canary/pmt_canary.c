// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * pmt_canary: provokes one report of each kernel checker the debug kernel
 * runs pmt under, so the harness can show that each one is on and that its
 * report fails a run (scripts/qemu-test, on the debug kernel only).
 *
 *   insmod pmt_canary.ko what=NAME
 *
 * NAME: kasan (a read past a kmalloc object), kfence (a write past a KFENCE
 * object: its guard page or its canary bytes), ubsan (a shift past the
 * width and an index past an array), list (a list_add on a corrupted list),
 * sleep (might_sleep under a spinlock), lockdep (two locks taken in both
 * orders), leak (an object nobody references: kmemleak's next scan). The
 * load succeeds; nothing is left broken but the leaked 64 bytes.
 */
#include <linux/jiffies.h>
#include <linux/kfence.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

static char *what = "";
module_param(what, charp, 0444);
MODULE_PARM_DESC(what, "kasan, kfence, ubsan, list, sleep, lockdep or leak");

static noinline void canary_kasan(void)
{
	char *p = kmalloc(16, GFP_KERNEL);

	if (p == NULL)
		return;
	pr_info("pmt_canary: kasan: %d\n", READ_ONCE(p[16]));
	kfree(p);
}

static noinline void canary_kfence(void)
{
	unsigned long deadline = jiffies + 20 * HZ;
	char *p = NULL;

	/*
	 * KFENCE serves the first allocation, anywhere in the kernel, after
	 * each sample interval: allocate and free without sleeping until one
	 * is ours, as the kernel's own KFENCE test does.
	 */
	while (time_before(jiffies, deadline)) {
		p = kmalloc(32, GFP_KERNEL);
		if (p == NULL || is_kfence_address(p))
			break;
		kfree(p);
		p = NULL;
		cond_resched();
	}
	if (p == NULL) {
		pr_err("pmt_canary: kfence: no KFENCE object in 20 s\n");
		return;
	}
	/*
	 * One byte past the object: on its guard page if KFENCE put the object
	 * at the page's end (an out-of-bounds report now), else in its canary
	 * bytes (a memory corruption report when it is freed).
	 */
	WRITE_ONCE(p[32], 1);
	kfree(p);
}

static noinline void canary_ubsan(void)
{
	volatile int shift = 40, index = 4;
	/* a[4] is still inside s (it is b): UBSAN reports, KASAN does not. */
	struct {
		int a[4];
		int b;
	} s = { { 0 }, 0 };

	pr_info("pmt_canary: ubsan: %d %d\n", 1 << shift, s.a[index]);
}

static noinline void canary_list(void)
{
	LIST_HEAD(head);
	struct list_head bogus, entry;

	/* head says its next is bogus, which does not point back. */
	INIT_LIST_HEAD(&bogus);
	head.next = &bogus;
	list_add(&entry, &head);
}

static DEFINE_SPINLOCK(canary_spin);

static noinline void canary_sleep(void)
{
	spin_lock(&canary_spin);
	might_sleep();
	spin_unlock(&canary_spin);
}

static DEFINE_MUTEX(canary_a);
static DEFINE_MUTEX(canary_b);

static noinline void canary_lockdep(void)
{
	mutex_lock(&canary_a);
	mutex_lock(&canary_b);
	mutex_unlock(&canary_b);
	mutex_unlock(&canary_a);
	mutex_lock(&canary_b);
	mutex_lock(&canary_a);
	mutex_unlock(&canary_a);
	mutex_unlock(&canary_b);
}

static void *volatile canary_sink;

static noinline void canary_leak(void)
{
	int i;

	/* Several, so that a stale copy of one pointer on a stack does not
	 * hide them all. */
	for (i = 0; i < 8; i++)
		canary_sink = kmalloc(64, GFP_KERNEL);
	canary_sink = NULL;
	pr_info("pmt_canary: leak: 8 objects of 64 bytes\n");
}

static int __init pmt_canary_init(void)
{
	if (!strcmp(what, "kasan"))
		canary_kasan();
	else if (!strcmp(what, "kfence"))
		canary_kfence();
	else if (!strcmp(what, "ubsan"))
		canary_ubsan();
	else if (!strcmp(what, "list"))
		canary_list();
	else if (!strcmp(what, "sleep"))
		canary_sleep();
	else if (!strcmp(what, "lockdep"))
		canary_lockdep();
	else if (!strcmp(what, "leak"))
		canary_leak();
	else
		return -EINVAL;
	return 0;
}

static void __exit pmt_canary_exit(void)
{
}

module_init(pmt_canary_init);
module_exit(pmt_canary_exit);

MODULE_DESCRIPTION("pmt: provokes one report of a kernel checker (tests)");
MODULE_LICENSE("Dual BSD/GPL");
