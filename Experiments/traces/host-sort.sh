#!/bin/bash
# Usage (root, on the host): seq 1 200000 | shuf --random-source=<(yes) > input.txt; ./host-sort.sh
# Runs sort under each mTHP setting: bare (for the system-wide anon_fault_alloc counters) and
# under perf record (its trace gives the faults in anonymous memory). Restores every setting.
# Records sort under each THP setting; prints mTHP anon_fault_alloc deltas. Restores sysfs.
T=/sys/kernel/mm/transparent_hugepage
cd /tmp/ptrace
orig_top=$(sed 's/.*\[\(.*\)\].*/\1/' $T/enabled)
declare -A orig
for d in $T/hugepages-*kB; do [ -f $d/enabled ] || continue; orig[$d]=$(sed 's/.*\[\(.*\)\].*/\1/' $d/enabled); done
restore() { echo $orig_top > $T/enabled; for d in "${!orig[@]}"; do echo ${orig[$d]} > $d/enabled; done; }
trap restore EXIT
setall() { for d in $T/hugepages-*kB; do [ -f $d/enabled ] || continue; echo never > $d/enabled; done; for s in "$@"; do echo always > $T/hugepages-${s}kB/enabled; done; }
echo never > $T/enabled
for cfg in "none:" "16K:16" "64K:64" "all:64 32 16" "2M:2048"; do
  name=${cfg%%:*}; sizes=${cfg#*:}
  setall $sizes
  declare -A before
  for s in 16 32 64 2048; do before[$s]=$(cat $T/hugepages-${s}kB/stats/anon_fault_alloc); done
  c0=$(awk '$1=="thp_collapse_alloc"{print $2}' /proc/vmstat)
  taskset -c 0 setarch -R sort -n input.txt -o sorted.txt
  out="$name (bare sort):"
  for s in 16 32 64 2048; do out="$out ${s}kB=$(( $(cat $T/hugepages-${s}kB/stats/anon_fault_alloc) - ${before[$s]} ))"; done
  echo "$out"
  for s in 16 32 64 2048; do before[$s]=$(cat $T/hugepages-${s}kB/stats/anon_fault_alloc); done
  taskset -c 0 setarch -R perf record -q -o $name.data -d -e exceptions:page_fault_user -e exceptions:page_fault_kernel -e syscalls:sys_enter_mmap -e syscalls:sys_exit_mmap -e syscalls:sys_enter_munmap -e syscalls:sys_enter_brk -e syscalls:sys_exit_brk -e syscalls:sys_enter_mremap -e syscalls:sys_exit_mremap -e syscalls:sys_enter_madvise -e syscalls:sys_enter_mprotect -e sched:sched_process_fork -e sched:sched_process_exec -e sched:sched_process_exit -- sort -n input.txt -o sorted.txt 2>/dev/null
  out="$name (under perf):"
  for s in 16 32 64 2048; do out="$out ${s}kB=$(( $(cat $T/hugepages-${s}kB/stats/anon_fault_alloc) - ${before[$s]} ))"; done
  c1=$(awk '$1=="thp_collapse_alloc"{print $2}' /proc/vmstat)
  echo "$out collapse=$((c1-c0))"
  perf script -i $name.data --show-mmap-events --show-task-events -F comm,pid,tid,time,event,trace > $name.trace 2>/dev/null
done
