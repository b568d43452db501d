/* safetensors_int.h: what safetensors.c shares with safetensors_save.c;
 * not part of the library's interface. */
#ifndef PFM_SAFETENSORS_INT_H
#define PFM_SAFETENSORS_INT_H

#include <stddef.h>

/* Length of the valid UTF-8 sequence at s (lead byte >= 0x80), or 0:
 * no overlongs, surrogates or code points past U+10FFFF. */
size_t pfm_st_utf8_seq(const unsigned char *s, size_t n);

#endif
