# shellcheck shell=bash
# Sourced by the scripts in scripts/: the repository root, the Swift toolchain on PATH,
# and one way to talk on stderr.

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)

# The toolchain may be unpacked under /opt/swift without being on PATH.
if ! command -v swift >/dev/null 2>&1; then
    for dir in /opt/swift/usr/bin /opt/swift/bin; do
        if [[ -x $dir/swift ]]; then PATH=$dir:$PATH; break; fi
    done
    export PATH
fi

say() { echo "==> $*" >&2; }
die() { echo "error: $*" >&2; exit 1; }

# True when the caller names a database (DATABASE_URL or libpq's PGHOST/PGDATABASE);
# otherwise the scripts bring up the private cluster of scripts/pg.
database_given() { [[ -n ${DATABASE_URL:-} || -n ${PGHOST:-} || -n ${PGDATABASE:-} ]]; }

# Commands run when the calling script exits, last added first (a standby stops before
# its primary).
ON_EXIT=()
run_on_exit() {
    local i
    for (( i = ${#ON_EXIT[@]} - 1; i >= 0; i-- )); do eval "${ON_EXIT[i]}" || true; done
}
at_exit() {
    ON_EXIT+=("$1")
    trap run_on_exit EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# Starts the private cluster, exports DATABASE_URL, and stops the cluster when the
# calling script exits, but only if this call started it and LEDGER_PG_KEEP is unset.
use_private_cluster() {
    local was_running=0
    "$REPO/scripts/pg" status >/dev/null 2>&1 && was_running=1
    DATABASE_URL=$("$REPO/scripts/pg" start)
    export DATABASE_URL
    if (( was_running )); then
        say "using the running private cluster: $DATABASE_URL"
    elif [[ -n ${LEDGER_PG_KEEP:-} ]]; then
        say "started the private cluster: $DATABASE_URL (left running: LEDGER_PG_KEEP is set)"
    else
        say "started the private cluster: $DATABASE_URL (stopped on exit)"
        at_exit '"$REPO/scripts/pg" stop'
    fi
}

# Starts a streaming hot standby of the private cluster (scripts/pg start-standby) and
# exports its URL as LEDGER_STANDBY_URL, for the tests that read from a standby; stops it
# on exit under the same rule as the cluster.
use_private_standby() {
    local was_running=0
    "$REPO/scripts/pg" standby-url >/dev/null 2>&1 \
        && pg_isready_quiet "$("$REPO/scripts/pg" standby-url)" && was_running=1
    LEDGER_STANDBY_URL=$("$REPO/scripts/pg" start-standby)
    export LEDGER_STANDBY_URL
    if (( was_running )) || [[ -n ${LEDGER_PG_KEEP:-} ]]; then
        say "hot standby: $LEDGER_STANDBY_URL"
    else
        say "started a hot standby: $LEDGER_STANDBY_URL (stopped on exit)"
        at_exit '"$REPO/scripts/pg" stop-standby'
    fi
}

pg_isready_quiet() {
    local bindir
    bindir=$(pg_server_bindir)
    [[ -n $bindir ]] && "$bindir/pg_isready" -q -d "$1" -t 2
}

# The PostgreSQL server binaries: pg_config's bindir when it holds a server, else the
# newest Debian-style /usr/lib/postgresql/<major>/bin. Prints nothing if there is none.
pg_server_bindir() {
    local dir
    if command -v pg_config >/dev/null 2>&1; then
        dir=$(pg_config --bindir 2>/dev/null || true)
        if [[ -n $dir && -x $dir/initdb && -x $dir/pg_ctl ]]; then echo "$dir"; return; fi
    fi
    for dir in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -rV); do
        if [[ -x $dir/initdb && -x $dir/pg_ctl ]]; then echo "$dir"; return; fi
    done
}
