#ifndef CPREP_H
#define CPREP_H
#include <stdint.h>
#include <stddef.h>
struct io_uring_sqe;
struct cprep_layout { const char *name; size_t value; };
int cprep_call(const char *name, struct io_uring_sqe *s, const uint64_t *a);
void cprep_buf_ring_add(void *br, uint64_t addr, unsigned len, unsigned short bid, int mask, int off);
void cprep_buf_ring_advance(void *br, int count);
void cprep_buf_ring_init(void *br);
int cprep_buf_ring_mask(uint32_t n);
const struct cprep_layout *cprep_layouts(void);
#endif
