/* mem.h: small memory helpers shared by the library. */
#ifndef PFM_MEM_H
#define PFM_MEM_H

#include <stddef.h>

/* Make the buffer *pp (a pointer to any pointer) hold at least n bytes,
 * keeping its contents; *cap tracks its size. 0, or -1 out of memory (the
 * old buffer is kept). */
int pfm_grow(void *pp, size_t *cap, size_t n);

#endif
