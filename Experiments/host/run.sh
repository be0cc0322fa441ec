#!/bin/bash
# run.sh: builds and runs the host THP/mTHP fault workloads W1..W10 with per-workload sysfs settings; saves and restores every setting it changes (trap on EXIT/INT/TERM).
# Usage: sudo ./run.sh [REPS]   (default 3 repetitions per workload; ONLY=<regex> selects workloads, e.g. ONLY='^W4').
# Run as root on an otherwise idle machine.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPS=${1:-${REPS:-3}}
T=/sys/kernel/mm/transparent_hugepage
BIN=$HERE/bin
SWAPFILE=${SWAPFILE:-/tmp/foliosim-host-swapfile}
SWAP_ADDED=0
DEBUGFS_MOUNTED=0
OUTF=$(mktemp /tmp/foliosim-host-out.XXXXXX)

[ "$(id -u)" = 0 ] || { echo "must run as root" >&2; exit 1; }

# ---------- save / restore ----------
declare -A SAVED
SAVE_ORDER=()
cur() { local v; v=$(cat "$1"); if [[ $v == *"["* ]]; then v=${v#*[}; v=${v%%]*}; fi; echo "$v"; }
save() { SAVED[$1]=$(cur "$1"); SAVE_ORDER+=("$1"); }

# every file this script may write:
for f in $T/hugepages-*kB/enabled; do save "$f"; done
save $T/enabled
save $T/use_zero_page
save $T/khugepaged/pages_to_scan
save $T/khugepaged/scan_sleep_millisecs
MIN_FREE_BEFORE=$(cat /proc/sys/vm/min_free_kbytes)

restore() {
    local rc=$? f
    trap - EXIT INT TERM HUP
    echo "=== restoring settings (exit status of run: $rc) ==="
    for f in "${SAVE_ORDER[@]}"; do
        echo "${SAVED[$f]}" > "$f" 2>/dev/null || echo "RESTORE FAILED: $f <- ${SAVED[$f]}" >&2
    done
    if [ "$SWAP_ADDED" = 1 ]; then swapoff "$SWAPFILE" || echo "SWAPOFF FAILED" >&2; fi
    rm -f "$SWAPFILE" "$OUTF"
    if [ "$DEBUGFS_MOUNTED" = 1 ]; then umount /sys/kernel/debug || echo "UMOUNT debugfs FAILED" >&2; fi
    echo "=== verification (saved -> now) ==="
    local bad=0
    for f in "${SAVE_ORDER[@]}"; do
        local now; now=$(cur "$f")
        [ "$now" = "${SAVED[$f]}" ] || bad=1
        printf '%-70s saved=%-8s now=%-8s %s\n' "$f" "${SAVED[$f]}" "$now" "$([ "$now" = "${SAVED[$f]}" ] && echo OK || echo MISMATCH)"
    done
    printf '%-70s before=%s now=%s\n' /proc/sys/vm/min_free_kbytes "$MIN_FREE_BEFORE" "$(cat /proc/sys/vm/min_free_kbytes)"
    echo "swaps now:"; cat /proc/swaps
    echo "swapfile present: $([ -e "$SWAPFILE" ] && echo YES || echo no)"
    [ $bad = 0 ] && echo "ALL SETTINGS RESTORED" || echo "SOME SETTINGS NOT RESTORED"
    exit $rc
}
trap restore EXIT
trap 'exit 130' INT TERM HUP

# ---------- build ----------
mkdir -p "$BIN"
for c in "$HERE"/wl_*.c; do
    gcc -O2 -Wall -o "$BIN/$(basename "$c" .c)" "$c" || exit 1
done

# ---------- settings ----------
# profile TOP SIZE64 SIZE2M ZERO : all other mTHP sizes forced to never
profile() {
    local f
    for f in $T/hugepages-*kB/enabled; do
        case $f in */hugepages-64kB/*|*/hugepages-2048kB/*) ;; *) echo never > "$f" || exit 1;; esac
    done
    echo "$1" > $T/enabled || exit 1
    echo "$2" > $T/hugepages-64kB/enabled || exit 1
    echo "$3" > $T/hugepages-2048kB/enabled || exit 1
    echo "$4" > $T/use_zero_page || exit 1
    PROFILE="top=$(cur $T/enabled) 64kB=$(cur $T/hugepages-64kB/enabled) 2048kB=$(cur $T/hugepages-2048kB/enabled) use_zero_page=$(cur $T/use_zero_page) (other sizes never)"
}

# khugepaged: only scans VMAs eligible for PMD THP (here only MADV_HUGEPAGE regions of W2a/W3b*).
# Make it nearly inert while we run: 1 PMD range per wakeup, sleep 1 h between scans. Restored on exit.
echo 1 > $T/khugepaged/pages_to_scan || exit 1
echo 3600000 > $T/khugepaged/scan_sleep_millisecs || exit 1

ONLY=${ONLY:-}
want() { [ -z "$ONLY" ] || [[ $1 =~ $ONLY ]]; }
wl() { # wl NAME DESCRIPTION -- command...
    local name=$1 desc=$2 r st; shift 3
    want "$name" || return 0
    echo "=== $name: $desc"
    echo "    settings: $PROFILE"
    for r in $(seq 1 "$REPS"); do
        sync; sleep 0.3
        "$@" > "$OUTF" 2>&1; st=$?   # to a file, so no reader process is active during the windows
        sed "s/^/rep=$r /" "$OUTF"
        [ $st = 0 ] || echo "rep=$r FAILED (exit $st): $*"
    done
}

echo "host: $(uname -r), $(nproc) cpus, page size $(getconf PAGESIZE), reps=$REPS"
echo "khugepaged (during run): pages_to_scan=$(cat $T/khugepaged/pages_to_scan) scan_sleep_millisecs=$(cat $T/khugepaged/scan_sleep_millisecs) max_ptes_none=$(cat $T/khugepaged/max_ptes_none) full_scans=$(cat $T/khugepaged/full_scans) pages_collapsed=$(cat $T/khugepaged/pages_collapsed)"
echo "defrag=$(cur $T/defrag) shrink_underused=$(cat $T/shrink_underused 2>/dev/null) anon_beside_full=$(cat $T/anon_beside_full 2>/dev/null) ksm/run=$(cat /sys/kernel/mm/ksm/run 2>/dev/null) zswap=$(cat /sys/module/zswap/parameters/enabled 2>/dev/null)"

profile madvise always inherit 1
wl W1a "8 MiB, write every page, 64K always, 2M inherit (no MADV_HUGEPAGE)" -- "$BIN/wl_write" W1a 8 0
profile madvise always never 1
wl W1b "8 MiB, write every page, 64K always, 2M never" -- "$BIN/wl_write" W1b 8 0

profile madvise never inherit 1
wl W2a "8 MiB, MADV_HUGEPAGE, write every page" -- "$BIN/wl_write" W2a 8 1
wl W2b "8 MiB, no MADV_HUGEPAGE, write every page" -- "$BIN/wl_write" W2b 8 0

profile never never inherit 1
wl W3a "8 MiB read all then write all, THP off" -- "$BIN/wl_readwrite" W3a 8 0
profile madvise never inherit 1
wl W3b "8 MiB read all then write all, MADV_HUGEPAGE, use_zero_page=1" -- "$BIN/wl_readwrite" W3b 8 1
profile madvise never inherit 0
wl W3b0 "(extra) as W3b but use_zero_page=0" -- "$BIN/wl_readwrite" W3b0 8 1
profile madvise always inherit 1
wl W3c "8 MiB read all then write all, 64K always" -- "$BIN/wl_readwrite" W3c 8 0

profile never never inherit 1
wl W4a-o0 "fork: parent writes 8 MiB, child writes all, exits; parent rewrites (order 0)" -- "$BIN/wl_fork" W4a-o0 8 childwrite
wl W4b-o0 "fork: parent writes 8 MiB, child exits at once; parent rewrites (order 0)" -- "$BIN/wl_fork" W4b-o0 8 childexit
wl W4b-o0-pin "(extra) as W4b-o0 but pinned to CPU 0 (taskset): no remote per-CPU LRU batch refs" -- taskset -c 0 "$BIN/wl_fork" W4b-o0-pin 8 childexit
wl W4c-o0 "(extra) fork: parent writes 8 MiB, parent rewrites while child alive (order 0)" -- "$BIN/wl_fork" W4c-o0 8 parentwrite
profile madvise always inherit 1
wl W4a-64K "fork: parent writes 8 MiB, child writes all, exits; parent rewrites (64K always)" -- "$BIN/wl_fork" W4a-64K 8 childwrite
wl W4b-64K "fork: parent writes 8 MiB, child exits at once; parent rewrites (64K always)" -- "$BIN/wl_fork" W4b-64K 8 childexit
wl W4c-64K "(extra) fork: parent writes 8 MiB, parent rewrites while child alive (64K always)" -- "$BIN/wl_fork" W4c-64K 8 parentwrite

profile madvise always inherit 1
wl W5 "64 MiB, 1000 LCG-random page writes, 64K always" -- "$BIN/wl_sparse" W5 64 1000 12345
wl W6 "8 MiB write all, MADV_DONTNEED 2nd half of each 64K, rewrite all, 64K always" -- "$BIN/wl_dontneed" W6 8

profile never never inherit 1
wl W7a "8 MiB write, mprotect RO, RW, write again (order 0)" -- "$BIN/wl_mprotect" W7a 8
profile madvise always inherit 1
wl W7b "8 MiB write, mprotect RO, RW, write again (64K always)" -- "$BIN/wl_mprotect" W7b 8

profile madvise always inherit 1
wl W8 "40 KiB VMA write 1st page; 1 MiB VMA (64K-aligned) write +0x3000 then other 15 pages (64K always)" -- "$BIN/wl_smallvma" W8

# ---------- W9: MADV_PAGEOUT with a temporary swap file ----------
if want W9; then
echo "=== W9: MADV_PAGEOUT (temporary swap file $SWAPFILE)"
if [ -n "$(tail -n +2 /proc/swaps)" ]; then echo "W9: host already has swap:"; cat /proc/swaps; fi
rm -f "$SWAPFILE"
if dd if=/dev/zero of="$SWAPFILE" bs=1M count=256 status=none && chmod 600 "$SWAPFILE" &&
   mkswap "$SWAPFILE" >/dev/null && swapon "$SWAPFILE"; then
    SWAP_ADDED=1
    echo "W9: swapon OK:"; cat /proc/swaps
    echo "W9: backing device $(findmnt -no SOURCE -T "$SWAPFILE"), rotational=$(cat /sys/block/$(basename "$(findmnt -no SOURCE -T "$SWAPFILE")")/queue/rotational 2>/dev/null)"
    profile never never inherit 1
    wl W9a "8 MiB order 0: write, MADV_PAGEOUT, read all, write all (no wait)" -- "$BIN/wl_pageout" W9a 8 0
    wl W9a-wait "8 MiB order 0: as W9a but sleep 2 s after MADV_PAGEOUT" -- "$BIN/wl_pageout" W9a-wait 8 2
    profile madvise always inherit 1
    wl W9b "(extra) 8 MiB 64K always: write, MADV_PAGEOUT, read all, write all (no wait)" -- "$BIN/wl_pageout" W9b 8 0
    swapoff "$SWAPFILE" && SWAP_ADDED=0
    rm -f "$SWAPFILE"
else
    echo "W9: could not enable swap (swapon not permitted or failed) - not measured"
fi
fi

# ---------- W10: gup_test ----------
if want W10; then
echo "=== W10: gup_test availability"
if ! mountpoint -q /sys/kernel/debug; then
    mount -t debugfs none /sys/kernel/debug && DEBUGFS_MOUNTED=1
fi
echo "W10: debugfs mounted by us: $DEBUGFS_MOUNTED; /sys/kernel/debug/gup_test exists: $([ -e /sys/kernel/debug/gup_test ] && echo YES || echo NO)"
echo "W10: kernel config: $(zcat /proc/config.gz 2>/dev/null | grep -E '^(# )?CONFIG_GUP_TEST' || echo 'config not available')"
if [ "$DEBUGFS_MOUNTED" = 1 ]; then umount /sys/kernel/debug && DEBUGFS_MOUNTED=0; fi
fi
echo "khugepaged after run: full_scans=$(cat $T/khugepaged/full_scans) pages_collapsed=$(cat $T/khugepaged/pages_collapsed)"
