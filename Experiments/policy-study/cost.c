// (PMD THP stays off: its size is "inherit" and the top level "madvise" on the host.)
// Measures the cost-model constants of Experiments/policy-study/REPORT.md on the host:
// per anonymous fault, per 4 KiB page zeroed, per 4 KiB page copied. Run as root (it sets
// the 64K mTHP size to "always" for one measurement and restores it):
//   gcc -O2 -o cost cost.c && taskset -c 0 ./cost
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SIZE (1UL << 30)
static const char *K64 = "/sys/kernel/mm/transparent_hugepage/hugepages-64kB/enabled";

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static void set64(const char *v) { FILE *f = fopen(K64, "w"); if (f) { fputs(v, f); fclose(f); } }

static double fill(void) {  // first-touch write of every page: seconds
    char *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    double t0 = now();
    for (size_t i = 0; i < SIZE; i += 4096) p[i] = 1;
    double t = now() - t0;
    munmap(p, SIZE);
    return t;
}

static double cow(void) {  // the child writes every page of a forked 1 GiB: seconds
    char *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    for (size_t i = 0; i < SIZE; i += 4096) p[i] = 1;
    int fd[2]; pipe(fd);
    pid_t c = fork();
    if (c == 0) {
        double t0 = now();
        for (size_t i = 0; i < SIZE; i += 4096) p[i] = 2;
        double t = now() - t0;
        write(fd[1], &t, sizeof t);
        _exit(0);
    }
    double t; read(fd[0], &t, sizeof t); waitpid(c, NULL, 0);
    munmap(p, SIZE);
    return t;
}

int main(void) {
    double f4 = 1e9, f64 = 1e9, c4 = 1e9;
    set64("never");
    for (int r = 0; r < 5; r++) { double t = fill(); if (t < f4) f4 = t; }
    for (int r = 0; r < 5; r++) { double t = cow(); if (t < c4) c4 = t; }
    set64("always");
    for (int r = 0; r < 5; r++) { double t = fill(); if (t < f64) f64 = t; }
    set64("never");
    double pages = SIZE / 4096.0;
    // f4 = pages * (fault + zero); f64 = pages/16 * fault + pages * zero; c4 = pages * (fault + copy)
    double fault = (f4 - f64) / (pages - pages / 16), zero = f4 / pages - fault, copy = c4 / pages - fault;
    printf("order-0 fill %.3f s, 64K fill %.3f s, order-0 COW %.3f s (best of 5)\n", f4, f64, c4);
    printf("per fault %.0f ns, per page zeroed %.0f ns, per page copied %.0f ns\n", fault * 1e9, zero * 1e9, copy * 1e9);
    return 0;
}
