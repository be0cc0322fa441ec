#!/bin/bash
# Usage (root, on the host, in this directory):
#   gcc -O1 -static -nostdlib -fno-stack-protector -fno-pie -no-pie -o vmamerge vmamerge.c && ./record.sh
# Runs vmamerge under 16K+32K+64K mTHP (always), pinned to one CPU, ASLR off: once bare, once
# under the README's perf recipe (both print the host's figures), and writes vmamerge.trace.
# Restores the sysfs settings; reports khugepaged collapses (a run with any is discarded).
set -e
T=/sys/kernel/mm/transparent_hugepage
declare -A orig
for s in 16 32 64; do orig[$s]=$(sed 's/.*\[\(.*\)\].*/\1/' $T/hugepages-${s}kB/enabled); done
restore() { for s in 16 32 64; do echo ${orig[$s]} > $T/hugepages-${s}kB/enabled; done; }
trap restore EXIT
for s in 16 32 64; do echo always > $T/hugepages-${s}kB/enabled; done
c0=$(awk '$1=="thp_collapse_alloc"{print $2}' /proc/vmstat)
taskset -c 0 setarch -R ./vmamerge
taskset -c 0 setarch -R perf record -q -o vmamerge.data -d -e exceptions:page_fault_user -e exceptions:page_fault_kernel \
  -e syscalls:sys_enter_mmap -e syscalls:sys_exit_mmap -e syscalls:sys_enter_munmap \
  -e syscalls:sys_enter_brk -e syscalls:sys_exit_brk -e syscalls:sys_enter_mremap \
  -e syscalls:sys_exit_mremap -e syscalls:sys_enter_madvise -e syscalls:sys_enter_mprotect \
  -e sched:sched_process_fork -e sched:sched_process_exec -e sched:sched_process_exit -- ./vmamerge
c1=$(awk '$1=="thp_collapse_alloc"{print $2}' /proc/vmstat)
echo "khugepaged collapses during the runs: $((c1 - c0))"
perf script -i vmamerge.data --show-mmap-events --show-task-events -F comm,pid,tid,time,event,trace > vmamerge.trace 2>/dev/null
