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
        trap '"$REPO/scripts/pg" stop || true' EXIT
        trap 'exit 130' INT
        trap 'exit 143' TERM
    fi
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
