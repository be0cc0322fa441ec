#!/bin/sh
# fidelity.sh: runs `foliosim kernel-diff` over every host workload config here and prints
# the README's fidelity table (markdown). Needs root and a writable THP sysfs; every
# setting kernel-diff changes is restored. Usage: sudo Experiments/host/fidelity.sh [FOLIOSIM]
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
FOLIOSIM=${1:-$HERE/../../.build/release/foliosim}
echo "kernel-diff on Linux $(uname -r), $(date -u +%Y-%m-%d), each config \`foliosim kernel-diff CONFIG --repeat 3\`:"
echo
echo "| workload | config | counts | kernel-diff |"
echo "|---|---|---|---|"
for f in "$HERE"/*.json5; do
    name=$(basename "$f" .json5)
    what=$(sed -n '1s|^// ||p' "$f" | sed 's/|/\\|/g')
    out=$("$FOLIOSIM" kernel-diff "$f" --repeat 3)
    verdict=$(printf '%s\n' "$out" | sed -n 's/^verdict: //p')
    counts=$(printf '%s\n' "$out" | sed -n 's/^verdict: .* \([0-9][0-9]*\) counts.*/\1/p')
    skipped=$(printf '%s\n' "$out" | sed -n 's/^  step \([0-9]*\) \(.*\): \(.*\)/step \1 skipped: \3/p' | tr '\n' ' ')
    differing=$(printf '%s\n' "$out" | grep DIFFERS | awk '{print "step " $1 " " $(NF-3) ": kernel " $(NF-2) ", FolioSim " $(NF-1)}' | tr '\n' ';')
    echo "| $what | \`$name\` | $counts | $verdict${differing:+ ($differing)}${skipped:+; $skipped} |"
done
