/* wl_write.c: W1/W2 - faults + mTHP stats for writing every page of a 2 MiB-aligned private anon region (optional MADV_HUGEPAGE). */
#include "common.h"

int main(int argc, char **argv)
{
    if (argc < 4) { fprintf(stderr, "usage: %s label size_mib madv_hugepage(0|1)\n", argv[0]); return 1; }
    size_t len = strtoul(argv[2], NULL, 0) * MIB;
    char *p = map_at(BASE_ADDR, len);
    if (atoi(argv[3]) && madvise(p, len, MADV_HUGEPAGE)) { perror("madvise"); return 2; }
    struct snap b, e;
    char lbl[128];
    calibrate(argv[1]);
    snap_begin(&b);
    write_pages(p, len);
    snap_end(&e);
    snprintf(lbl, sizeof(lbl), "%s write", argv[1]);
    report(lbl, &b, &e);
    census(argv[1], p, len);
    munmap(p, len);
    return 0;
}
