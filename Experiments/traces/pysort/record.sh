#!/bin/bash
# Usage (root, on the host, in this directory): ./record.sh [PYTHON]
# Records pysort.py under 16K+32K+64K mTHP (always), pinned to one CPU, ASLR off, with the
# README's perf recipe plus kmem:mm_page_alloc: the GFP_TRANSHUGE_LIGHT allocations in the
# trace are the process's own large anonymous folios by order (order 2 = 16K, 3 = 32K,
# 4 = 64K), free of other processes' noise in the system-wide mTHP counters. Restores the
# sysfs settings; reports khugepaged collapses (a run with any is discarded).
set -e
PY=${1:-/root/.pyenv/versions/3.11.7/bin/python3.11}
T=/sys/kernel/mm/transparent_hugepage
declare -A orig
for s in 16 32 64; do orig[$s]=$(sed 's/.*\[\(.*\)\].*/\1/' $T/hugepages-${s}kB/enabled); done
restore() { for s in 16 32 64; do echo ${orig[$s]} > $T/hugepages-${s}kB/enabled; done; }
trap restore EXIT
for s in 16 32 64; do echo always > $T/hugepages-${s}kB/enabled; done
c0=$(awk '$1=="thp_collapse_alloc"{print $2}' /proc/vmstat)
taskset -c 0 setarch -R perf record -q -o pysort.data -d -e exceptions:page_fault_user -e exceptions:page_fault_kernel \
  -e syscalls:sys_enter_mmap -e syscalls:sys_exit_mmap -e syscalls:sys_enter_munmap \
  -e syscalls:sys_enter_brk -e syscalls:sys_exit_brk -e syscalls:sys_enter_mremap \
  -e syscalls:sys_exit_mremap -e syscalls:sys_enter_madvise -e syscalls:sys_enter_mprotect \
  -e sched:sched_process_fork -e sched:sched_process_exec -e sched:sched_process_exit \
  -e kmem:mm_page_alloc -- $PY pysort.py
c1=$(awk '$1=="thp_collapse_alloc"{print $2}' /proc/vmstat)
echo "khugepaged collapses during the run: $((c1 - c0))"
perf script -i pysort.data --show-mmap-events --show-task-events -F comm,pid,tid,time,event,trace > pysort.trace 2>/dev/null
grep 'mm_page_alloc:.*GFP_TRANSHUGE_LIGHT' pysort.trace | grep -o 'order=[0-9]*' | sort | uniq -c
