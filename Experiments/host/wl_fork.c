/* wl_fork.c: W4 - fork snapshot: faults/mTHP stats of child writes, and of parent re-writes (after child wrote+exited, after child exited at once, or while child alive); counts copied pages via PFN changes. */
#include "common.h"

/* number of pages whose PFN differs; the first (up to 8) page indices are put in idx[] */
static long count_changed(const uint64_t *a, const uint64_t *b, size_t n, char *idx, size_t idxlen)
{
    long c = 0;
    size_t o = 0;
    idx[0] = 0;
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i] && c++ < 8 && o < idxlen) o += snprintf(idx + o, idxlen - o, " %zu", i);
    return c;
}

int main(int argc, char **argv)
{
    if (argc < 4) { fprintf(stderr, "usage: %s label size_mib childwrite|childexit|parentwrite\n", argv[0]); return 1; }
    const char *v = argv[3];
    size_t len = strtoul(argv[2], NULL, 0) * MIB, n = len / PG;
    char lbl[160];
    struct snap b, e;
    char *p = map_at(BASE_ADDR, len);
    uint64_t *orig = malloc(n * 8), *now = malloc(n * 8);
    memset(now, 0, n * 8);

    snap_begin(&b);
    write_pages(p, len);
    snap_end(&e);
    snprintf(lbl, sizeof(lbl), "%s parent-initial-write", argv[1]);
    report(lbl, &b, &e);
    get_pfns(p, len, orig, NULL);
    snprintf(lbl, sizeof(lbl), "%s parent-before-fork", argv[1]);
    census(lbl, p, len);

    int go[2], rdy[2];
    if (pipe(go) || pipe(rdy)) { perror("pipe"); return 2; }
    struct snap fb, fe;
    snap_begin(&fb); /* informational global-stat window over fork + child lifetime (incl. the harness's own memory) */
    pid_t pid = fork();
    if (pid < 0) { perror("fork"); return 2; }
    if (pid == 0) {
        usleep(1000); /* same reason as the parent's usleep below */
        memset(&b, 0, sizeof(b)); memset(&e, 0, sizeof(e)); memset(now, 0, n * 8);
        read_stats(&b); /* warm-up: COW the harness's own buffers (stack, static vmbuf) before any window */
        snap_begin(&b); snap_end(&e);
        snprintf(lbl, sizeof(lbl), "%s child-empty-window(calibration)", argv[1]);
        report(lbl, &b, &e);
        if (!strcmp(v, "childwrite")) {
            snap_begin(&b);
            write_pages(p, len);
            snap_end(&e);
            snprintf(lbl, sizeof(lbl), "%s child-write", argv[1]);
            report(lbl, &b, &e);
            get_pfns(p, len, now, NULL);
            char idx[128];
            long c = count_changed(orig, now, n, idx, sizeof(idx));
            printf("COPIES %s child: pages with PFN != parent's original: %ld of %zu%s%s\n", argv[1], c, n,
                   c && c < (long)n ? "; first indices:" : "", c && c < (long)n ? idx : "");
            snprintf(lbl, sizeof(lbl), "%s child-after-write", argv[1]);
            census(lbl, p, len);
        } else if (!strcmp(v, "parentwrite")) {
            char c;
            fflush(stdout);
            if (write(rdy[1], "r", 1) != 1) _exit(3); /* set-up done; now idle */
            if (read(go[0], &c, 1) != 1) _exit(3);    /* stay alive until the parent has written */
        }
        fflush(stdout);
        _exit(0);
    }
    close(go[0]);
    close(rdy[1]);
    int st;
    if (!strcmp(v, "parentwrite")) {
        char c;
        if (read(rdy[0], &c, 1) != 1) { fprintf(stderr, "child not ready\n"); return 2; }
    } else {
        waitpid(pid, &st, 0); /* parent touches no memory until the child is gone */
        snap_end(&fe);
    }
    /* Sleep once after fork so the first post-fork reschedule happens outside the windows: otherwise the kernel's
       __put_user_8 into our COW-protected TLS page (rseq update) sometimes adds 1 minor fault to a window. */
    usleep(1000);
    memset(&b, 0, sizeof(b)); memset(&e, 0, sizeof(e)); memset(now, 0, n * 8);
    read_stats(&b); /* warm-up, as in the child */
    snap_begin(&b); snap_end(&e);
    snprintf(lbl, sizeof(lbl), "%s parent-empty-window(calibration)", argv[1]);
    report(lbl, &b, &e);
    if (!strcmp(v, "parentwrite")) {
        snap_begin(&b);
        write_pages(p, len);
        snap_end(&e);
        snprintf(lbl, sizeof(lbl), "%s parent-write-while-child-alive", argv[1]);
        report(lbl, &b, &e);
        if (write(go[1], "x", 1) != 1) perror("write");
        waitpid(pid, &st, 0);
        snap_end(&fe);
        snprintf(lbl, sizeof(lbl), "%s info-window-fork..child-exit(global; minflt=parent incl. its write)", argv[1]);
        report(lbl, &fb, &fe);
    } else {
        snprintf(lbl, sizeof(lbl), "%s info-window-fork..child-exit(global; parent idle)", argv[1]);
        report(lbl, &fb, &fe);
        snap_begin(&b);
        write_pages(p, len);
        snap_end(&e);
        snprintf(lbl, sizeof(lbl), "%s parent-rewrite-after-child-exit", argv[1]);
        report(lbl, &b, &e);
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st)) { fprintf(stderr, "child failed\n"); return 2; }
    get_pfns(p, len, now, NULL);
    char idx[128];
    long c = count_changed(orig, now, n, idx, sizeof(idx));
    printf("COPIES %s parent: pages with PFN != original: %ld of %zu%s%s\n", argv[1], c, n,
           c && c < (long)n ? "; first indices:" : "", c && c < (long)n ? idx : "");
    snprintf(lbl, sizeof(lbl), "%s parent-final", argv[1]);
    census(lbl, p, len);
    munmap(p, len);
    return 0;
}
