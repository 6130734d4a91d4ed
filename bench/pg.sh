#!/usr/bin/env bash
# The PostgreSQL figures of issue "Performance" (item 7), next to the same
# work on SQLite, measured as whole processes against a throwaway server:
#
#   1. the 10,016-run sweep with --db postgres://…, a fresh database each
#      time (median of 3), interleaved with the same sweep on SQLite;
#   2. 64 planners started at once from 4 project folders (16 each), sharing
#      one registry and one output root: each plans 8 runs, 4 of its own
#      (its seed) and 4 it shares with others (seed 1000+k%8: 8 planners;
#      seed 2000: all 64), so inserts and re-plans contend. Wall time until
#      the last exits; every exit code, every planner's output, the final
#      `qrun runs --count` and the manifests on disk are checked, and any
#      mismatch fails the script. Median of 3, each on a fresh registry and
#      root; the same herd on one SQLite file for comparison;
#   3. one new run planned into a registry holding the 10,016 runs of a
#      sweep (median of 11), PostgreSQL and SQLite.
#
#   bench/pg.sh                      # alone; bench/run.sh calls it at the end unless NOPG=1
#   QRUN_BIN=/path/qrun bench/pg.sh  # the binary to measure (else built from this tree)
#   QRUN_PG_BIN=/usr/lib/postgresql/15/bin bench/pg.sh
#   PGBENCH_TMP=/tmp bench/pg.sh     # where the cluster, the roots and the SQLite files go
#
# Like run.sh, everything (the cluster's data, the output roots, the SQLite
# files) lives on tmpfs (/dev/shm) by default, to keep the disk's noise out:
# fsync stays on but costs little there; PGBENCH_TMP=/tmp measures on disk.
#
# The server is PostgreSQL's defaults (fsync, synchronous_commit and
# full_page_writes on) but for a unix socket in the cluster's folder, no
# TCP, trust authentication and max_connections=300 (64 planners, each
# pooling up to 4 connections). initdb refuses root, so as root the cluster
# belongs to the postgres OS user (nobody where there is none). The server
# is stopped and its folder removed on exit. Without initdb, pg_ctl,
# postgres and psql (on PATH, in $QRUN_PG_BIN or /usr/lib/postgresql/*/bin)
# the script prints one line and exits 0. Needs bash, go (unless QRUN_BIN),
# python3.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# pgbin finds the folder of initdb, pg_ctl, postgres and psql, like
# internal/pgtest: $QRUN_PG_BIN, else initdb's folder on PATH, else the
# newest /usr/lib/postgresql/*/bin.
has_pg() { local b; for b in initdb pg_ctl postgres psql; do [[ -x $1/$b ]] || return 1; done; }
pgbin() {
	if [[ -n ${QRUN_PG_BIN:-} ]]; then
		has_pg "$QRUN_PG_BIN" && echo "$QRUN_PG_BIN"
		return
	fi
	local p d
	if p=$(command -v initdb 2>/dev/null); then
		d=$(dirname "$(readlink -f "$p")")
		if has_pg "$d"; then echo "$d"; return; fi
	fi
	for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -t/ -k4,4nr); do
		if has_pg "$d"; then echo "$d"; return; fi
	done
}
pg=$(pgbin || true)
if [[ -z $pg ]]; then
	echo "PostgreSQL figures skipped: no initdb, pg_ctl, postgres and psql (on PATH, in \$QRUN_PG_BIN or /usr/lib/postgresql/*/bin)"
	exit 0
fi

base=${PGBENCH_TMP:-/dev/shm}
[[ -d $base && -w $base ]] || base=${TMPDIR:-/tmp}
work=$(mktemp -d "$base/qrun-pgbench.XXXXXX")
cluster=$work/pg # the socket lives here: keep the path short (unix sockets: 107 bytes)
port=5432        # names the socket file only: there is no TCP listener
started=
cleanup() {
	local rc=$?
	if [[ -n $started ]]; then
		as_pg "$pg/pg_ctl" -D "$cluster/data" -m fast -w stop >/dev/null 2>&1 || true
	fi
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# as_pg runs a PostgreSQL binary as the cluster's owner.
as_pg() { "$@"; }
mkdir -m 0755 "$cluster"
if [[ $(id -u) -eq 0 ]]; then
	owner=postgres
	id -u postgres >/dev/null 2>&1 || owner=nobody
	chmod 0755 "$work"
	chown "$owner" "$cluster"
	as_pg() { runuser -u "$owner" -- "$@"; }
fi

bin=${QRUN_BIN:-$work/qrun}
[[ -n ${QRUN_BIN:-} ]] || (cd "$root" && go build -trimpath -o "$bin" ./cmd/qrun)

# The cluster: initdb's --no-sync only skips syncing initdb's own files; the
# server keeps fsync on.
as_pg env LC_ALL=C.UTF-8 TZ=UTC "$pg/initdb" -D "$cluster/data" -U qrun --auth-local=trust --auth-host=reject \
	-E UTF8 --locale=C.UTF-8 --no-sync --no-instructions >"$work/initdb.log" 2>&1 ||
	{ cat "$work/initdb.log" >&2; exit 1; }
as_pg "$pg/pg_ctl" -D "$cluster/data" -l "$cluster/postgres.log" -w -t 60 \
	-o "-k $cluster -p $port -c listen_addresses='' -c max_connections=300 -c unix_socket_permissions=0777" \
	start >/dev/null || { cat "$cluster/postgres.log" >&2; exit 1; }
started=1

url() { echo "postgres:///$1?host=$cluster&port=$port&user=qrun"; }
sql() { "$pg/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$cluster" -p "$port" -U qrun -d "${2:-postgres}" -c "$1"; }
setting() { sql "SHOW $1"; }

formats=int8,fp8_per_channel_per_token,fp8,w4a8_int
grans=default,w_per_tensor,w_per_out_channel,w_per_in_channel,w_group64,w_group128,a_per_token_dynamic,a_per_tensor_static
sweep=(plan --model Qwen/Qwen3-8B "quant_pair=$formats" "quant_granularity=$grans" 'seed=range(0,313)')

# Timing: whole processes, from python (fork/exec included, like run.sh's
# timeit). "once DIR CMD…" prints the milliseconds of one run of CMD in DIR
# and fails with its stderr; "herd" starts every command of a list at once.
cat >"$work/t.py" <<'PY'
import json, re, resource, statistics, subprocess, sys, time
mode = sys.argv[1]
if mode == "once":
    d, cmd = sys.argv[2], sys.argv[3:]
    t = time.perf_counter()
    r = subprocess.run(cmd, cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ms = (time.perf_counter() - t) * 1000
    if r.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd)} exited {r.returncode}: {r.stderr.decode()[-500:]}")
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"{ms:.1f}\t{rss:.0f}")
elif mode == "herd":
    # herd FILE LINES: FILE holds one JSON [cwd, argv…] per planner, started
    # at once; each must exit 0 and print LINES run directories. Prints the
    # wall time and the sum of the planners' "(N new" counts.
    jobs = [json.loads(l) for l in open(sys.argv[2])]
    want = int(sys.argv[3])
    t = time.perf_counter()
    procs = [subprocess.Popen(j[1:], cwd=j[0], stdout=subprocess.PIPE, stderr=subprocess.PIPE) for j in jobs]
    outs = [p.communicate() for p in procs]
    ms = (time.perf_counter() - t) * 1000
    bad, new = [], 0
    for j, p, (out, err) in zip(jobs, procs, outs):
        n = len(out.decode().splitlines())
        m = re.search(r"\((\d+) new", err.decode())
        new += int(m.group(1)) if m else 0
        if p.returncode != 0 or n != want:
            bad.append(f"  {j[0]}: {' '.join(j[1:])}: exit {p.returncode}, {n} lines (want 0, {want}): {err.decode().strip()[-400:]}")
    if bad:
        sys.exit(f"bench: {len(bad)} of {len(jobs)} planners failed, the first ones:\n" + "\n".join(bad[:5]))
    print(f"{ms:.1f}\t{new}")
elif mode == "med":
    xs = [float(x) for x in sys.argv[2:]]
    print(f"{statistics.median(xs):.1f}\t{min(xs):.1f}\t{max(xs):.1f}")
PY
once() { python3 "$work/t.py" once "$@"; }
med() { python3 "$work/t.py" med "$@"; }
row() { printf '%-58s %10s %10s %10s\n' "$@"; }
fresh() { mktemp -d "$work/d.XXXXXX"; }
created=0
newdb() { created=$((created + 1)); db=b$created; sql "CREATE DATABASE $db"; } # sets db
expect() { # expect WHAT GOT WANT
	if [[ $2 != "$3" ]]; then
		echo "bench: $1: got $2, want $3" >&2
		exit 1
	fi
}

fs=$(stat -f -c %T "$work")
echo
echo "PostgreSQL figures — $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) at start"
echo "server: $(sql 'SELECT version()' | cut -d, -f1), unix socket, cluster and output roots in $base ($fs)"
echo "settings: fsync=$(setting fsync) synchronous_commit=$(setting synchronous_commit) full_page_writes=$(setting full_page_writes)" \
	"wal_level=$(setting wal_level) shared_buffers=$(setting shared_buffers) max_connections=$(setting max_connections) (PostgreSQL's defaults but max_connections)"
if [[ $fs == tmpfs ]]; then
	echo "fsync is on, as PostgreSQL ships, but on tmpfs it costs little: PGBENCH_TMP=/tmp measures on disk"
fi
echo "binary: $bin; every PostgreSQL figure uses a database created just before it (qrun migrates it on open, as SQLite creates its file)"
echo
row "what" "median ms" "min ms" "max ms"

# 1. The 10,016-run sweep, interleaved with SQLite in the same file system.
pq=() sq=()
last_pg='' last_sqlite=''
for _ in 1 2 3; do
	newdb
	d=$(fresh)
	pq+=("$(once "$d" "$bin" --db "$(url "$db")" "${sweep[@]}" | cut -f1)")
	expect "runs in the PostgreSQL registry after a sweep" "$("$bin" --db "$(url "$db")" runs --count)" 10016
	last_pg=$db
	d=$(fresh)
	sq+=("$(once "$d" "$bin" "${sweep[@]}" | cut -f1)")
	expect "runs in the SQLite registry after a sweep" "$(cd "$d" && "$bin" runs --count)" 10016
	last_sqlite=$d/.qrun/qrun.db
done
read -r m mn mx < <(med "${pq[@]}")
row "qrun plan, 10,016 runs, PostgreSQL (fresh db each)" "$m" "$mn" "$mx"
pg_sweep=$m
read -r m mn mx < <(med "${sq[@]}")
row "qrun plan, 10,016 runs, SQLite ($fs, same binary)" "$m" "$mn" "$mx"
row "  ratio PostgreSQL / SQLite" "$(python3 -c "print(f'{$pg_sweep/$m:.2f}')")" "" ""
tup=$(sql "SELECT sum(n_tup_ins) FROM pg_stat_all_tables WHERE schemaname = 'public'" "$last_pg" 2>/dev/null || true)

# 2. 64 planners at once: 4 project folders × 16, one registry, one root.
# Planner k plans int8,fp8 × w_group64,w_group128 × seed k, 1000+k%8, 2000:
# 12 runs, 4 of its own, 4 shared with 7 others, 4 shared with all 63.
herd() { # herd DB-URL-OR-PATH ROOT → "ms new" (new: the sum of the planners' new runs)
	local dbloc=$1 out=$2 p k
	: >"$work/herd.jsonl"
	for p in 0 1 2 3; do
		mkdir -p "$out.p$p"
		(cd "$out.p$p" && "$bin" init >/dev/null 2>&1)
		for k in $(seq $((p * 16)) $((p * 16 + 15))); do
			python3 -c 'import json,sys; print(json.dumps(sys.argv[1:]))' "$out.p$p" "$bin" --db "$dbloc" --root "$out" \
				plan --model Qwen/Qwen3-8B quant_pair=int8,fp8 quant_granularity=w_group64,w_group128 \
				"seed=$k,$((1000 + k % 8)),2000" >>"$work/herd.jsonl"
		done
	done
	python3 "$work/t.py" herd "$work/herd.jsonl" 12
}
want=$(((64 + 8 + 1) * 4))
hp=() hs=()
for _ in 1 2 3; do
	newdb
	out=$(fresh)/outputs
	read -r ms new < <(herd "$(url "$db")" "$out")
	hp+=("$ms")
	expect "new runs reported by 64 PostgreSQL planners" "$new" "$want"
	expect "runs in the PostgreSQL registry after 64 planners" "$("$bin" --db "$(url "$db")" runs --count)" "$want"
	expect "manifests under the root after 64 planners" "$(find "$out" -name manifest.yaml | wc -l)" "$want"
	d=$(fresh)
	out=$d/outputs
	read -r ms new < <(herd "$d/shared.db" "$out")
	hs+=("$ms")
	expect "new runs reported by 64 SQLite planners" "$new" "$want"
	expect "runs in the SQLite registry after 64 planners" "$("$bin" --db "$d/shared.db" runs --count)" "$want"
	expect "manifests under the root after 64 planners" "$(find "$out" -name manifest.yaml | wc -l)" "$want"
done
read -r m mn mx < <(med "${hp[@]}")
row "64 planners at once, 4 projects, PostgreSQL: all exited" "$m" "$mn" "$mx"
read -r m mn mx < <(med "${hs[@]}")
row "64 planners at once, 4 projects, one SQLite file" "$m" "$mn" "$mx"
row "  checked: all exit 0 with 12 dirs; $want new in all; runs --count = $want" "" "" ""

# 3. One new run into a registry of 10,016 runs (the last sweep's).
single() { # single DB → ms of 11 plans, each of a new run
	local xs=() i d
	for i in $(seq 1 11); do
		d=$(fresh)
		xs+=("$(once "$d" "$bin" --db "$1" --root "$work/o1" plan --model Qwen/Qwen3-8B --format int8 --granularity w_group64 \
			--param "seed=$((100000 + i))" | cut -f1)")
		rm -rf "$d"
	done
	med "${xs[@]}"
}
read -r m mn mx < <(single "$(url "$last_pg")")
row "qrun plan of 1 new run, 10,016-run registry, PostgreSQL" "$m" "$mn" "$mx"
rm -rf "$work/o1"
read -r m mn mx < <(single "$last_sqlite")
row "qrun plan of 1 new run, 10,016-run registry, SQLite" "$m" "$mn" "$mx"
expect "runs in the PostgreSQL registry after 11 single plans" "$("$bin" --db "$(url "$last_pg")" runs --count)" 10027

echo
if [[ -n $tup ]]; then
	echo "a PostgreSQL sweep inserts $tup rows (runs, events, run_files, recipes, names, layouts, schema version)"
fi
echo "load $(cut -d' ' -f1-3 /proc/loadavg) at the end"
