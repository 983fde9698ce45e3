#!/bin/sh
# Run once by the postgres image when it creates the db service's cluster
# (/docker-entrypoint-initdb.d): lets the replica service take its base backup and stream
# WAL as the ledger role, with its password, from the compose network.
set -e
echo "host replication all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
