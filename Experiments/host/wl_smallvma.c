/* wl_smallvma.c: W8 - fault order in a 40 KiB VMA (write 1st page) and in a 64 KiB-aligned 1 MiB VMA (write at +0x3000, then the other 15 pages of that 64 KiB). */
#include "common.h"

int main(int argc, char **argv)
{
    const char *L = argc > 1 ? argv[1] : "W8";
    struct snap b, e;
    char lbl[128];
    /* (a) 40 KiB VMA at BASE_ADDR (64 KiB aligned start, but no whole 64 KiB range fits) */
    char *a = map_at(BASE_ADDR, 40 * 1024);
    snap_begin(&b);
    a[0] = 1;
    snap_end(&e);
    snprintf(lbl, sizeof(lbl), "%s 40KiB-vma write-first-page", L);
    report(lbl, &b, &e);
    snprintf(lbl, sizeof(lbl), "%s 40KiB-vma", L);
    census(lbl, a, 40 * 1024);
    munmap(a, 40 * 1024);
    /* (b) 1 MiB VMA at BASE_ADDR+64KiB (64 KiB aligned, not 2 MiB aligned) */
    char *m = map_at(BASE_ADDR + 65536, MIB);
    snap_begin(&b);
    m[0x3000] = 1;
    snap_end(&e);
    snprintf(lbl, sizeof(lbl), "%s 1MiB-vma write-at-0x3000", L);
    report(lbl, &b, &e);
    snprintf(lbl, sizeof(lbl), "%s 1MiB-vma after-0x3000", L);
    census(lbl, m, MIB);
    snap_begin(&b);
    for (size_t off = 0; off < 65536; off += PG) if (off != 0x3000) ((volatile char *)m)[off] = 1;
    snap_end(&e);
    snprintf(lbl, sizeof(lbl), "%s 1MiB-vma write-other-15-pages", L);
    report(lbl, &b, &e);
    snprintf(lbl, sizeof(lbl), "%s 1MiB-vma after-16-pages", L);
    census(lbl, m, MIB);
    munmap(m, MIB);
    return 0;
}
