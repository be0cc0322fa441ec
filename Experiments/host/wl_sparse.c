/* wl_sparse.c: W5 - faults + mTHP stats for 1000 single-byte writes at LCG-random pages of a 64 MiB 2 MiB-aligned anon region. */
#include "common.h"

int main(int argc, char **argv)
{
    if (argc < 5) { fprintf(stderr, "usage: %s label size_mib nwrites seed\n", argv[0]); return 1; }
    size_t len = strtoul(argv[2], NULL, 0) * MIB, npages = len / PG;
    long nw = atol(argv[3]);
    uint64_t seed = strtoull(argv[4], NULL, 0), x = seed;
    size_t *off = malloc(nw * sizeof(size_t));
    unsigned char *pg_seen = calloc(npages, 1), *blk_seen = calloc(npages / 16, 1);
    long dpages = 0, dblocks = 0;
    /* LCG (Knuth MMIX): x = x*6364136223846793005 + 1442695040888963407 (mod 2^64); page = (x >> 33) % npages */
    for (long i = 0; i < nw; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t pg = (x >> 33) % npages;
        off[i] = pg * PG;
        if (!pg_seen[pg]++) dpages++;
        if (!blk_seen[pg / 16]++) dblocks++;
    }
    printf("LCG x_{k+1} = x_k*6364136223846793005 + 1442695040888963407 mod 2^64, x_0=%llu, page=(x>>33)%%%zu; "
           "first pages: %zu %zu %zu %zu; distinct pages=%ld distinct 64KiB blocks=%ld (computed from sequence)\n",
           (unsigned long long)seed, npages, off[0] / PG, off[1] / PG, off[2] / PG, off[3] / PG, dpages, dblocks);
    char *p = map_at(BASE_ADDR, len);
    struct snap b, e;
    char lbl[128];
    snap_begin(&b);
    for (long i = 0; i < nw; i++) ((volatile char *)p)[off[i]] = 1;
    snap_end(&e);
    snprintf(lbl, sizeof(lbl), "%s sparse-write", argv[1]);
    report(lbl, &b, &e);
    census(argv[1], p, len);
    munmap(p, len);
    return 0;
}
