# Shared helpers of the bench scripts: sourced, never run.

# best wall-clock seconds of N runs of a shell command
best() {
    local n=$1 cmd=$2 b=
    for _ in $(seq "$n"); do
        local t0 t1
        t0=$(date +%s.%N)
        bash -c "$cmd"
        t1=$(date +%s.%N)
        b=$(awk -v a="$t0" -v c="$t1" -v b="$b" 'BEGIN {d = c - a; print (b == "" || d < b) ? d : b}')
    done
    echo "$b"
}
# one row of the bench table: job, tpipe seconds, peer seconds, peer / tpipe
row() { printf '%-48s %9s %9s %8s\n' "$@"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
f3() { awk -v x="$1" 'BEGIN {if (x == "-") print "-"; else printf "%.3f", x}'; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.3f", b - a}'; }
