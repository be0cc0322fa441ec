/* wl_dontneed.c: W6 - write all, MADV_DONTNEED the 2nd half of every 64 KiB block, then re-write all: faults, split_deferred, nr_anon_partially_mapped. */
#include "common.h"

int main(int argc, char **argv)
{
    if (argc < 3) { fprintf(stderr, "usage: %s label size_mib\n", argv[0]); return 1; }
    size_t len = strtoul(argv[2], NULL, 0) * MIB;
    char *p = map_at(BASE_ADDR, len);
    struct snap b, e;
    char lbl[128];
    snap_begin(&b);
    write_pages(p, len);
    snap_end(&e);
    snprintf(lbl, sizeof(lbl), "%s initial-write", argv[1]);
    report(lbl, &b, &e);
    snprintf(lbl, sizeof(lbl), "%s after-initial-write", argv[1]);
    census(lbl, p, len);
    snap_begin(&b);
    for (size_t off = 0; off < len; off += 65536)
        if (madvise(p + off + 32768, 32768, MADV_DONTNEED)) { perror("madvise"); return 2; }
    snap_end(&e);
    snprintf(lbl, sizeof(lbl), "%s dontneed-2nd-halves", argv[1]);
    report(lbl, &b, &e);
    snprintf(lbl, sizeof(lbl), "%s after-dontneed", argv[1]);
    census(lbl, p, len);
    snap_begin(&b);
    write_pages(p, len);
    snap_end(&e);
    snprintf(lbl, sizeof(lbl), "%s rewrite-all", argv[1]);
    report(lbl, &b, &e);
    snprintf(lbl, sizeof(lbl), "%s after-rewrite", argv[1]);
    census(lbl, p, len);
    snap_begin(&b);
    munmap(p, len);
    snap_end(&e);
    snprintf(lbl, sizeof(lbl), "%s munmap", argv[1]);
    report(lbl, &b, &e);
    return 0;
}
