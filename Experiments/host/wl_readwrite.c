/* wl_readwrite.c: W3 - faults + mTHP stats for reading every page, then writing every page, of a 2 MiB-aligned anon region. */
#include "common.h"

int main(int argc, char **argv)
{
    if (argc < 4) { fprintf(stderr, "usage: %s label size_mib madv_hugepage(0|1)\n", argv[0]); return 1; }
    size_t len = strtoul(argv[2], NULL, 0) * MIB;
    char *p = map_at(BASE_ADDR, len);
    if (atoi(argv[3]) && madvise(p, len, MADV_HUGEPAGE)) { perror("madvise"); return 2; }
    struct snap b, e;
    char lbl[128];
    snap_begin(&b);
    unsigned long s = read_pages(p, len);
    snap_end(&e);
    snprintf(lbl, sizeof(lbl), "%s read(sum=%lu)", argv[1], s);
    report(lbl, &b, &e);
    snprintf(lbl, sizeof(lbl), "%s after-read", argv[1]);
    census(lbl, p, len);
    snap_begin(&b);
    write_pages(p, len);
    snap_end(&e);
    snprintf(lbl, sizeof(lbl), "%s write", argv[1]);
    report(lbl, &b, &e);
    snprintf(lbl, sizeof(lbl), "%s after-write", argv[1]);
    census(lbl, p, len);
    munmap(p, len);
    return 0;
}
