// vmamerge: grows its heap with brk and maps next to existing anonymous VMAs, so that the
// kernel merges (vma_merge_new_range / brk's in-place expansion), then prints the number of
// its anonymous VMAs and the large folios in its test regions. Freestanding (no libc), so
// that nothing but the test itself maps or faults memory. Build:
//   gcc -O1 -static -nostdlib -fno-stack-protector -fno-pie -no-pie -o vmamerge vmamerge.c
typedef unsigned long u64;
static long sys(long n, long a, long b, long c, long d, long e, long f) {
    long r;
    register long r10 asm("r10") = d, r8 asm("r8") = e, r9 asm("r9") = f;
    asm volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9) : "rcx", "r11", "memory");
    return r;
}
enum { READ = 0, WRITE = 1, OPEN = 2, CLOSE = 3, MMAP = 9, MPROTECT = 10, BRK = 12, PREAD = 17, FORK = 57, EXIT = 60, WAIT4 = 61 };
#define PROT_RW 3
#define MAP_PRIVATE 0x02
#define MAP_ANON 0x20
#define MAP_FIXED_NOREPLACE 0x100000

static char out[4096] = {1};
static int outLen;
static char maps[16384] = {1};
static u64 entry[1] = {1};

static void put(const char *s) { while (*s) out[outLen++] = *s++; }
static void putHex(u64 v) { char b[17]; int n = 0; do { b[n++] = "0123456789abcdef"[v & 15]; v >>= 4; } while (v); put("0x"); while (n) out[outLen++] = b[--n]; }
static void putDec(u64 v) { char b[21]; int n = 0; do { b[n++] = '0' + v % 10; v /= 10; } while (v); while (n) out[outLen++] = b[--n]; }
static void flush(void) { sys(WRITE, 1, (long)out, outLen, 0, 0, 0); outLen = 0; }

static void *map(u64 addr, u64 len) {
    long r = sys(MMAP, addr, len, PROT_RW, MAP_PRIVATE | MAP_ANON | MAP_FIXED_NOREPLACE, -1, 0);
    if (r != (long)addr) { put("mmap failed at "); putHex(addr); put("\n"); flush(); sys(EXIT, 1, 0, 0, 0, 0, 0); }
    return (void *)r;
}
static void touch(u64 addr) { *(volatile char *)addr = 1; }

// Anonymous VMAs in /proc/self/maps: no path, or [heap], [stack], [anon:...].
static int anonVMAs(void) {
    int fd = sys(OPEN, (long)"/proc/self/maps", 0, 0, 0, 0, 0);
    long n = 0, r;
    while ((r = sys(READ, fd, (long)maps + n, sizeof maps - 1 - n, 0, 0, 0)) > 0) n += r;
    sys(CLOSE, fd, 0, 0, 0, 0, 0);
    int count = 0;
    for (long i = 0; i < n;) {
        long e = i; while (e < n && maps[e] != '\n') e++;
        int fields = 0; long p = i;
        while (p < e && fields < 5) { while (p < e && maps[p] != ' ') p++; while (p < e && maps[p] == ' ') p++; fields++; }
        if (p >= e || maps[p] != '/' ) {
            if (p >= e || (maps[p] == '[' && (maps[p + 1] == 'h' || maps[p + 1] == 's' || maps[p + 1] == 'a'))) count++;
        }
        i = e + 1;
    }
    return count;
}

// Large folios whose head is mapped in [start, end), by size (pagemap + kpageflags, root).
static void census(u64 start, u64 end, u64 counts[5]) {
    int pm = sys(OPEN, (long)"/proc/self/pagemap", 0, 0, 0, 0, 0), kf = sys(OPEN, (long)"/proc/kpageflags", 0, 0, 0, 0, 0);
    for (u64 a = start; a < end;) {
        sys(PREAD, pm, (long)entry, 8, (a >> 12) * 8, 0, 0);
        if (!(entry[0] >> 63)) { a += 4096; continue; }
        u64 pfn = entry[0] & ((1UL << 55) - 1), flags, size = 1;
        sys(PREAD, kf, (long)entry, 8, pfn * 8, 0, 0);
        flags = entry[0];
        if (flags & (1UL << 15)) {
            for (;;) { sys(PREAD, kf, (long)entry, 8, (pfn + size) * 8, 0, 0); if (!(entry[0] & (1UL << 16))) break; size++; }
        }
        int o = size == 1 ? 0 : size == 4 ? 1 : size == 8 ? 2 : size == 16 ? 3 : 4;
        counts[o]++;
        a += 4096 * size;
    }
    sys(CLOSE, pm, 0, 0, 0, 0, 0); sys(CLOSE, kf, 0, 0, 0, 0, 0);
}

static void report(const char *who, u64 counts[5]) {
    put(who); put(": anonVMAs="); putDec(anonVMAs());
    put(" 4K="); putDec(counts[0]); put(" 16K="); putDec(counts[1]); put(" 32K="); putDec(counts[2]);
    put(" 64K="); putDec(counts[3]); put(" other="); putDec(counts[4]); put("\n"); flush();
}

#define X 0x600000000000UL
#define Y 0x610000000000UL
#define Z 0x620000000000UL

void _start(void) {
    u64 counts[5] = {0, 0, 0, 0, 0};
    // 1. The heap grows by 20K eight times, each new page written: brk expands in place.
    u64 heap = sys(BRK, 0, 0, 0, 0, 0, 0), top = heap;
    for (int i = 0; i < 8; i++) {
        u64 next = top + 0x5000;
        sys(BRK, next, 0, 0, 0, 0, 0);
        for (u64 a = top; a < next; a += 4096) touch(a);
        top = next;
    }
    // 2. A mapping after an anonymous VMA (expands it), one before one (expands it downwards).
    map(X + 0x14000, 0x30000);               // A: [X+0x14000, X+0x44000)
    touch(X + 0x30000);                      // a 64K folio inside A
    map(X + 0x44000, 0x2c000);               // B joins A
    touch(X + 0x44000);                      // 64K [X+0x40000, X+0x50000): only in the merged VMA
    map(X + 0x8000, 0xc000);                 // C joins A from below
    touch(X + 0x10000);                      // 64K [X+0x10000, X+0x20000): only in the merged VMA
    map(X + 0x70000, 0x10000);               // D after B, read only: its own VMA
    sys(MPROTECT, X + 0x70000, 0x10000, 1, 0, 0, 0);
    // 3. A mapping between two: all three become one; an mprotect split and undone.
    map(Y, 0x20000); touch(Y);
    map(Y + 0x30000, 0x20000); touch(Y + 0x30000);
    map(Y + 0x20000, 0x10000); touch(Y + 0x24000);
    sys(MPROTECT, Y + 0x10000, 0x10000, 1, 0, 0, 0);
    sys(MPROTECT, Y + 0x10000, 0x10000, PROT_RW, 0, 0, 0);
    // 4. After fork, the child's copy of a VMA with an anon_vma does not merge.
    map(Z, 0x24000); touch(Z);
    long pid = sys(FORK, 0, 0, 0, 0, 0, 0);
    if (pid == 0) {
        map(Z + 0x24000, 0x2c000);
        touch(Z + 0x24000);                  // 16K: the 64K and 32K blocks reach into the other VMA
        census(Z + 0x24000, Z + 0x50000, counts);
        report("child", counts);
        sys(EXIT, 0, 0, 0, 0, 0, 0);
    }
    sys(WAIT4, pid, 0, 0, 0, 0, 0);
    census(heap, top, counts);
    census(X, X + 0x80000, counts);
    census(Y, Y + 0x50000, counts);
    census(Z, Z + 0x24000, counts);
    report("parent", counts);
    sys(EXIT, 0, 0, 0, 0, 0, 0);
}
