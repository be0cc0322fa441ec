/* wl_mprotect.c: W7 - write all, mprotect(PROT_READ), mprotect(PROT_READ|PROT_WRITE), write all again: faults of the second write. */
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
    snprintf(lbl, sizeof(lbl), "%s first-write", argv[1]);
    report(lbl, &b, &e);
    snap_begin(&b);
    if (mprotect(p, len, PROT_READ) || mprotect(p, len, PROT_READ | PROT_WRITE)) { perror("mprotect"); return 2; }
    snap_end(&e);
    snprintf(lbl, sizeof(lbl), "%s mprotect-RO-then-RW", argv[1]);
    report(lbl, &b, &e);
    snap_begin(&b);
    write_pages(p, len);
    snap_end(&e);
    snprintf(lbl, sizeof(lbl), "%s second-write", argv[1]);
    report(lbl, &b, &e);
    census(argv[1], p, len);
    munmap(p, len);
    return 0;
}
