#!/usr/bin/env bash
# The end-to-end figures of issue "Performance": whole-process times of qrun
# against a floor program and the Python glue a team would otherwise write.
#
#   bench/run.sh                 # everything (the 1M-run registry takes minutes to build once)
#   QUICK=1 bench/run.sh         # skip the 1M-run registry and the 100k-run sweep
#   QRUN_BIN=/path/qrun bench/run.sh
#   NOPG=1 bench/run.sh          # without the PostgreSQL figures of bench/pg.sh (run last; it
#                                # starts its own throwaway server, and skips with one line
#                                # where no PostgreSQL binaries are installed)
#
# Measured on tmpfs (/dev/shm) to keep the disk's noise out; the 10,016-run
# sweep is also run once on disk for the record. Each figure is the median of
# several runs, interleaved with the floor where there is one. Needs bash, go,
# python3 (timing and peak RSS via resource.getrusage); PyYAML for the glue.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
fast=/dev/shm
[[ -d $fast && -w $fast ]] || fast=${TMPDIR:-/tmp}
work=$(mktemp -d "$fast/qrun-bench.XXXXXX")
disk=$(mktemp -d "${TMPDIR:-/tmp}/qrun-bench-disk.XXXXXX")
trap 'rm -rf "$work" "$disk"' EXIT

# The programs live on disk, where a user's qrun lives (GOPATH/bin; go run's
# build cache), and run from the page cache; only their files and registries
# go to tmpfs. Started from tmpfs, the same program takes about 0.8 ms longer
# on a VM (its text pages fault in through shmem): the row "binary itself on
# tmpfs" shows it. Each binary is written by the Go linker itself, never
# copied: on a VM a cp'd copy of the same bytes started 0.2-0.4 ms slower
# (more page faults), which would blur a comparison.
mkdir "$disk/bin"
bin=${QRUN_BIN:-$disk/bin/qrun}
[[ -n ${QRUN_BIN:-} ]] || (cd "$root" && go build -trimpath -o "$bin" ./cmd/qrun)
[[ $bin == */* ]] || bin=$(command -v "$bin") # QRUN_BIN=qrun: the one on PATH
(cd "$root" && go build -trimpath -o "$disk/bin/floor" ./bench/floor && go build -trimpath -o "$disk/bin/gen" ./bench/gen && go build -trimpath -o "$disk/bin/cobra" ./bench/cobra)

formats=int8,fp8_per_channel_per_token,fp8,w4a8_int
grans=default,w_per_tensor,w_per_out_channel,w_per_in_channel,w_group64,w_group128,a_per_token_dynamic,a_per_tensor_static

# timeit NAME REPEAT -- COMMAND… : runs COMMAND (in a fresh folder each time
# when it contains @DIR@), prints "NAME median min peakRSS". The process is
# started with posix_spawn, stdout to /dev/null and stderr to a file, and
# reaped with wait4 (its own peak RSS): the harness adds as little as it can
# to a few-millisecond command (see the /bin/true row).
timeit() {
	python3 - "$@" <<'PY'
import os, shutil, statistics, sys, tempfile, time
name, repeat = sys.argv[1], int(sys.argv[2])
cmd = sys.argv[4:]
base = os.environ["BENCH_BASE"]
exe = shutil.which(cmd[0]) or cmd[0]
ts, rss = [], 0
for i in range(repeat):
    d = tempfile.mkdtemp(dir=base)
    args = [a.replace("@DIR@", d) for a in cmd]
    err = os.path.join(base, f".stderr-{os.getpid()}")
    os.chdir(d)
    acts = [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
            (os.POSIX_SPAWN_OPEN, 2, err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)]
    t = time.perf_counter()
    pid = os.posix_spawn(exe, args, os.environ, file_actions=acts)
    _, status, ru = os.wait4(pid, 0)
    ts.append((time.perf_counter() - t) * 1000)
    os.chdir(base)
    rss = max(rss, ru.ru_maxrss)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"bench: {' '.join(args)} failed: {open(err, errors='replace').read()[-300:]}")
    shutil.rmtree(d, ignore_errors=True)
print(f"{name}\t{statistics.median(ts):.1f}\t{min(ts):.1f}\t{rss/1024:.0f}")
PY
}

# interleaved REPEAT NAME COMMAND… ";;" [NAME COMMAND… ";;"]… : runs the
# commands in turn, REPEAT rounds with the order rotating, each as timeit
# runs one, and prints timeit's line for each. A few-millisecond figure
# drifts with the VM; interleaved, the drift falls on every row alike.
interleaved() {
	python3 - "$@" <<'PY'
import os, shutil, statistics, sys, tempfile, time
repeat = int(sys.argv[1])
cmds, cur = [], []
for a in sys.argv[2:]:
    if a == ";;":
        cmds.append((cur[0], [shutil.which(cur[1]) or cur[1]] + cur[2:]))
        cur = []
    else:
        cur.append(a)
base = os.environ["BENCH_BASE"]
err = os.path.join(base, f".stderr-{os.getpid()}")
ts = {n: [] for n, _ in cmds}
rss = {n: 0 for n, _ in cmds}
for r in range(repeat):
    for k in range(len(cmds)):
        name, args = cmds[(k + r) % len(cmds)]
        d = tempfile.mkdtemp(dir=base)
        os.chdir(d)
        acts = [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                (os.POSIX_SPAWN_OPEN, 2, err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)]
        t = time.perf_counter()
        pid = os.posix_spawn(args[0], args, os.environ, file_actions=acts)
        _, status, ru = os.wait4(pid, 0)
        ts[name].append((time.perf_counter() - t) * 1000)
        os.chdir(base)
        shutil.rmtree(d, ignore_errors=True)
        rss[name] = max(rss[name], ru.ru_maxrss)
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"bench: {' '.join(args)} failed: {open(err, errors='replace').read()[-300:]}")
for name, _ in cmds:
    print(f"{name}\t{statistics.median(ts[name]):.1f}\t{min(ts[name]):.1f}\t{rss[name]/1024:.0f}")
PY
}

row() { printf '%-52s %10s %10s %10s\n' "$@"; }
show() { while IFS=$'\t' read -r n med mn rss; do row "$n" "$med" "$mn" "$rss"; done; }
median_of() { cut -f2; }

echo "qrun end-to-end figures — $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), tmpfs: $fast"
echo "binary: $bin ($(du -k "$bin" | cut -f1) KiB), $(go version | cut -d' ' -f3)"
echo
row "what" "median ms" "min ms" "peak MB"

export BENCH_BASE=$work
# 1. The 10,016-run sweep, interleaved: qrun, floor, Python glue.
sweep_q=() sweep_f=() sweep_g=()
for i in 1 2 3; do
	sweep_q+=("$(timeit "qrun plan, 10,016 runs (tmpfs)" 1 -- "$bin" plan --model Qwen/Qwen3-8B "quant_pair=$formats" "quant_granularity=$grans" 'seed=range(0,313)')")
	sweep_f+=("$(timeit "floor, same files and rows (tmpfs)" 1 -- "$disk/bin/floor" -root outputs -db .qrun/qrun.db)")
	if python3 -c 'import yaml' 2>/dev/null; then
		sweep_g+=("$(timeit "Python glue: PyYAML + sqlite3 (tmpfs)" 1 -- python3 "$root/bench/glue.py" outputs q.db 4 8 313)")
	fi
done
med() { printf '%s\n' "$@" | python3 -c 'import sys,statistics; rows=[l.split("\t") for l in sys.stdin.read().split("\n") if l]; print("\t".join([rows[0][0], f"{statistics.median(float(r[1]) for r in rows):.1f}", f"{min(float(r[2]) for r in rows):.1f}", f"{max(float(r[3]) for r in rows):.0f}"]))'; }
q=$(med "${sweep_q[@]}"); f=$(med "${sweep_f[@]}")
echo "$q" | show
echo "$f" | show
[[ ${#sweep_g[@]} -gt 0 ]] && med "${sweep_g[@]}" | show
ratio=$(python3 -c "print(f'{float(\"$(echo "$q" | cut -f2)\")/float(\"$(echo "$f" | cut -f2)\"):.2f}')")
row "  ratio qrun / floor (target ≤ 1.5, and ≤ 1500 ms)" "$ratio" "" ""

BENCH_BASE=$disk timeit "qrun plan, 10,016 runs (disk, once)" 1 -- "$bin" plan --model Qwen/Qwen3-8B "quant_pair=$formats" "quant_granularity=$grans" 'seed=range(0,313)' | show
BENCH_BASE=$disk timeit "floor (disk, once)" 1 -- "$disk/bin/floor" -root outputs -db .qrun/qrun.db | show
sync # the disk runs' write-back would otherwise run under the next figures

# 2. One new run on a registry of 10,000+.
"$disk/bin/gen" -db "$work/r10k.db" -runs 10000 2>/dev/null
seq=0
one_plan() { seq=$((seq + 1)); echo "$bin --db $work/r10k.db --root $work/o10k plan --model Qwen/Qwen3-8B --format int8 --granularity w_group64 --param seed=$((100000 + seq))"; }
singles=()
for i in $(seq 1 21); do singles+=("$(timeit "x" 1 -- $(one_plan))"); done
med "${singles[@]}" | sed 's/^x/qrun plan of 1 new run, 10k-run registry (target 15)/' | show

# 3. Queries.
if [[ -z ${QUICK:-} ]]; then
	big=${QRUN_BENCH_1M:-$fast/qrun-bench-1m.db}
	if [[ ! -f $big ]]; then
		echo "(building the 1,000,000-run registry $big once, through the store code…)" >&2
		"$disk/bin/gen" -db "$big" -runs 1000000 2>/dev/null
	fi
	timeit "qrun runs --granularity w_group64, 1M runs (target 20)" 21 -- "$bin" --db "$big" runs --granularity w_group64 --limit 50 | show
	timeit "qrun runs --granularity w_group64 --count, 1M (target 100)" 21 -- "$bin" --db "$big" runs --granularity w_group64 --count | show
	big1=()
	for i in $(seq 1 11); do big1+=("$(timeit "x" 1 -- "$bin" --db "$big" --root "$work/o1m" plan --model Qwen/Qwen3-8B --format int8 --granularity w_group64 --param "seed=$((200000 + i + RANDOM * 100))")"); done
	med "${big1[@]}" | sed 's/^x/qrun plan of 1 new run, 1M-run registry/' | show
fi
if [[ -n ${QRUN_BIN:-} ]]; then cp "$bin" "$work/qrun-on-tmpfs"; else (cd "$root" && go build -trimpath -o "$work/qrun-on-tmpfs" ./cmd/qrun); fi
interleaved 101 \
	"qrun resolve (target 5)" "$bin" resolve --format w4a8_int --granularity recipe_match_channel_token ";;" \
	"qrun vocab list (target 5)" "$bin" vocab list ";;" \
	"qrun --version (start-up floor)" "$bin" --version ";;" \
	"plain cobra --version (bench/cobra)" "$disk/bin/cobra" --version ";;" \
	"qrun resolve, binary itself on tmpfs" "$work/qrun-on-tmpfs" resolve --format w4a8_int --granularity recipe_match_channel_token ";;" \
	"/bin/true (the harness's own floor)" /bin/true ";;" | show

# 4. Peak memory of a 100,000-run sweep.
if [[ -z ${QUICK:-} ]]; then
	timeit "qrun plan, 100,192 runs: peak RSS (target 100 MB)" 1 -- "$bin" plan --model Qwen/Qwen3-8B "quant_pair=$formats" "quant_granularity=$grans" 'seed=range(0,3131)' | show
fi

# 5. The PostgreSQL figures (bench/pg.sh, runnable alone), with the same binary.
if [[ -z ${NOPG:-} ]]; then
	QRUN_BIN=$bin "$root/bench/pg.sh"
fi
