#!/bin/sh
# Prints a config: a parent maps and writes 1 MiB, then N times {fork a child, the child
# writes one page (a COW copy), the child exits}. Usage: fork-many.sh N > fork-N.json5
# (issue 18, item 2: a step's check must not grow with the number of processes that lived).
n=${1:-8000}
echo "{ name: \"fork-$n\", memory: \"1G\", thp: { enabled: \"never\" },"
echo "  steps: [ { op: \"mmap\", proc: \"P\", addr: \"0x40000000\", size: \"1M\", prot: \"rw\", map: \"private-anon\" },"
echo "           { op: \"write\", proc: \"P\", addr: \"0x40000000\", size: \"1M\" },"
i=1
while [ $i -le $n ]; do
  echo "           { op: \"fork\", proc: \"P\", child: \"C$i\" }, { op: \"write\", proc: \"C$i\", addr: \"0x40000000\", value: 2 }, { op: \"exit\", proc: \"C$i\" },"
  i=$((i + 1))
done
echo "  ] }"
