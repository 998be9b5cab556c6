/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The C side of pmtd's CUSE host: libfuse3's cuse_lowlevel with a flat
 * callback interface, so that struct fuse_file_info's bitfields and
 * struct cuse_lowlevel_ops stay in C. Every request reaches Rust as one
 * call with plain arguments; Rust replies through the pmt_cuse_reply_*
 * functions below (or libfuse's own, whose arguments are plain too).
 */
#define FUSE_USE_VERSION 312
#include <cuse_lowlevel.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What Rust handles: one function per request kind, with the session's
 * context (the device) as the first argument. */
struct pmt_cuse_ops {
	void (*open)(void *ctx, fuse_req_t req, int flags);
	void (*read)(void *ctx, fuse_req_t req, uint64_t fh, size_t size, int64_t off);
	void (*write)(void *ctx, fuse_req_t req, uint64_t fh, const char *buf, size_t size, int64_t off);
	void (*release)(void *ctx, fuse_req_t req, uint64_t fh);
	void (*ioctl)(void *ctx, fuse_req_t req, uint64_t fh, unsigned int cmd, uint64_t arg, unsigned int flags,
		      const void *in, size_t in_size, size_t out_size);
	void (*init_done)(void *ctx);
};

struct pmt_cuse {
	struct fuse_session *se;
	const struct pmt_cuse_ops *ops;
	void *ctx;
	int initialized;
};

static struct pmt_cuse *of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static void c_open(fuse_req_t req, struct fuse_file_info *fi)
{
	struct pmt_cuse *c = of(req);
	c->ops->open(c->ctx, req, fi->flags);
}

static void c_read(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct pmt_cuse *c = of(req);
	c->ops->read(c->ctx, req, fi->fh, size, off);
}

static void c_write(fuse_req_t req, const char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct pmt_cuse *c = of(req);
	c->ops->write(c->ctx, req, fi->fh, buf, size, off);
}

static void c_release(fuse_req_t req, struct fuse_file_info *fi)
{
	struct pmt_cuse *c = of(req);
	c->ops->release(c->ctx, req, fi->fh);
}

static void c_ioctl(fuse_req_t req, int cmd, void *arg, struct fuse_file_info *fi, unsigned int flags,
		    const void *in, size_t in_size, size_t out_size)
{
	struct pmt_cuse *c = of(req);
	c->ops->ioctl(c->ctx, req, fi->fh, (unsigned int)cmd, (uint64_t)(uintptr_t)arg, flags, in, in_size, out_size);
}

static void c_init_done(void *userdata)
{
	struct pmt_cuse *c = userdata;
	c->initialized = 1;
	c->ops->init_done(c->ctx);
}

static const struct cuse_lowlevel_ops clops = {
	.init_done = c_init_done,
	.open = c_open,
	.read = c_read,
	.write = c_write,
	.release = c_release,
	.ioctl = c_ioctl,
};

/* A CUSE channel for device DEVNAME (the node is /dev/DEVNAME), with
 * unrestricted ioctls. NULL on failure, with errno set (ENOENT or ENODEV:
 * no cuse module). The device appears once pmt_cuse_loop has run the
 * kernel's CUSE_INIT (ops->init_done). */
struct pmt_cuse *pmt_cuse_new(const char *devname, const struct pmt_cuse_ops *ops, void *ctx)
{
	char info[128], fdpath[32];
	const char *info_argv[] = { info };
	char *argv[] = { "pmtd", NULL };
	struct fuse_args args = FUSE_ARGS_INIT(1, argv);
	struct cuse_info ci;
	struct pmt_cuse *c;
	int fd, saved;

	if (snprintf(info, sizeof(info), "DEVNAME=%s", devname) >= (int)sizeof(info)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->ops = ops;
	c->ctx = ctx;
	memset(&ci, 0, sizeof(ci));
	ci.dev_info_argc = 1;
	ci.dev_info_argv = info_argv;
	ci.flags = CUSE_UNRESTRICTED_IOCTL;
	fd = open("/dev/cuse", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		saved = errno;
		free(c);
		errno = saved;
		return NULL;
	}
	c->se = cuse_lowlevel_new(&args, &ci, &clops, c);
	fuse_opt_free_args(&args);
	snprintf(fdpath, sizeof(fdpath), "/dev/fd/%d", fd);
	if (!c->se || fuse_session_mount(c->se, fdpath) != 0) {
		if (c->se)
			fuse_session_destroy(c->se);
		close(fd);
		free(c);
		errno = EIO;
		return NULL;
	}
	return c;
}

/* Reads and answers the kernel's first request, CUSE_INIT, on the calling
 * thread: when it returns 0 the device node exists. Run before the
 * daemon drops its privileges and before any worker thread starts. */
int pmt_cuse_init(struct pmt_cuse *c)
{
	struct fuse_buf fbuf;
	int r;

	memset(&fbuf, 0, sizeof(fbuf));
	while (!c->initialized) {
		r = fuse_session_receive_buf(c->se, &fbuf);
		if (r == -EINTR)
			continue;
		if (r <= 0)
			break;
		fuse_session_process_buf(c->se, &fbuf);
	}
	free(fbuf.mem);
	return c->initialized ? 0 : -EIO;
}

/* Serves the channel with up to MAX_THREADS worker threads until the
 * session ends; returns libfuse's result. */
int pmt_cuse_loop(struct pmt_cuse *c, unsigned int max_threads)
{
	struct fuse_loop_config *cfg = fuse_loop_cfg_create();
	int r;

	if (!cfg)
		return -ENOMEM;
	fuse_loop_cfg_set_max_threads(cfg, max_threads);
	fuse_loop_cfg_set_idle_threads(cfg, 4);
	r = fuse_session_loop_mt(c->se, cfg);
	fuse_loop_cfg_destroy(cfg);
	return r;
}

/* The caller of a request: its uid, gid and thread id. */
void pmt_cuse_caller(fuse_req_t req, uint32_t *uid, uint32_t *gid, int32_t *pid)
{
	const struct fuse_ctx *x = fuse_req_ctx(req);

	*uid = x->uid;
	*gid = x->gid;
	*pid = x->pid;
}

/* Opens the file: the handle FH, direct and non-seekable as a tape. */
int pmt_cuse_reply_open(fuse_req_t req, uint64_t fh)
{
	struct fuse_file_info fi;

	memset(&fi, 0, sizeof(fi));
	fi.fh = fh;
	fi.direct_io = 1;
	fi.nonseekable = 1;
	return fuse_reply_open(req, &fi);
}
