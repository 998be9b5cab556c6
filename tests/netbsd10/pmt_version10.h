/*
 * Compiled first (gcc -include) when the NetBSD glue is checked against
 * NetBSD 10's headers (scripts/netbsd-check): the 2016 tree's sys/param.h,
 * then __NetBSD_Version__ as NetBSD 10.0's, so that every
 * `__NetBSD_Version__ >= 1000000000' branch of the glue is the one
 * compiled, against the headers in this folder.
 */
#include <sys/param.h>
#undef __NetBSD_Version__
#define __NetBSD_Version__	1000000000	/* NetBSD 10.0 */
