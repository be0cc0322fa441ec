/* wl_pageout.c: W9 - write all, MADV_PAGEOUT (needs swap), then read every page and write every page: minor/major faults + swap stats. */
#include "common.h"

int main(int argc, char **argv)
{
    if (argc < 4) { fprintf(stderr, "usage: %s label size_mib sleep_sec_after_pageout\n", argv[0]); return 1; }
    size_t len = strtoul(argv[2], NULL, 0) * MIB;
    int slp = atoi(argv[3]);
    char *p = map_at(BASE_ADDR, len);
    struct snap b, e;
    char lbl[128];
    snap_begin(&b);
    write_pages(p, len);
    snap_end(&e);
    snprintf(lbl, sizeof(lbl), "%s initial-write", argv[1]);
    report(lbl, &b, &e);
    snap_begin(&b);
    if (madvise(p, len, MADV_PAGEOUT)) { perror("madvise(MADV_PAGEOUT)"); return 2; }
    snap_end(&e);
    snprintf(lbl, sizeof(lbl), "%s madv-pageout", argv[1]);
    report(lbl, &b, &e);
    if (slp) sleep(slp);
    snprintf(lbl, sizeof(lbl), "%s after-pageout(+%ds)", argv[1], slp);
    census(lbl, p, len);
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
    munmap(p, len);
    return 0;
}
