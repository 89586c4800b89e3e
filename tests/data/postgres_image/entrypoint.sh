#!/bin/sh
# The first start makes the cluster in PGDATA the way the official image does from POSTGRES_USER (the superuser,
# default postgres), POSTGRES_PASSWORD (required) and POSTGRES_DB (default: the user's name); later starts keep
# it. Arguments go to the server.
set -eu
PGDATA="${PGDATA:-/var/lib/postgresql/data}"

if [ "$(id -u)" = 0 ]; then
  # A fresh volume or bind mount belongs to root: hand it and the socket folder to postgres, then drop to it.
  mkdir -p "$PGDATA" /var/run/postgresql
  chown postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  chmod 2777 /var/run/postgresql
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  : "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}"
  user="${POSTGRES_USER:-postgres}"
  db="${POSTGRES_DB:-$user}"
  password_file="$(mktemp)"
  printf '%s\n' "$POSTGRES_PASSWORD" >"$password_file"
  initdb -D "$PGDATA" -U "$user" --pwfile="$password_file" --auth=scram-sha-256 --encoding=UTF8 \
    --locale=C.UTF-8 >/dev/null
  rm -f "$password_file"
  if [ "$db" != postgres ]; then
    quoted="$(printf '%s' "$db" | sed 's/"/""/g')"
    printf 'CREATE DATABASE "%s"\n' "$quoted" | postgres --single -D "$PGDATA" postgres >/dev/null
  fi
  echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  printf 'postgres-entrypoint: made the cluster in %s (user %s, database %s)\n' "$PGDATA" "$user" "$db"
fi

exec postgres -D "$PGDATA" "$@"
