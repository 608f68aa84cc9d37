#!/usr/bin/env bash
# The official postgres image's entrypoint contract, for Debian's PostgreSQL 15:
# - run as root, it owns PGDATA to postgres and runs itself again as postgres;
# - on an empty PGDATA it runs initdb with POSTGRES_USER (default postgres) and
#   POSTGRES_PASSWORD, or the contents of POSTGRES_PASSWORD_FILE, creates POSTGRES_DB
#   (default: the user's name), runs /docker-entrypoint-initdb.d/*.sh and *.sql, then starts;
# - with data already there, it starts postgres and nothing else.
set -Eeuo pipefail

# VAR_FILE is read into VAR: both set is an error, as in the official image.
file_env() {
    local var=$1 file_var="${1}_FILE" def=${2:-}
    if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
        echo "error: both $var and $file_var are set (but are exclusive)" >&2
        exit 1
    fi
    local val=$def
    if [ -n "${!var:-}" ]; then
        val=${!var}
    elif [ -n "${!file_var:-}" ]; then
        val=$(< "${!file_var}")
    fi
    export "$var"="$val"
    unset "$file_var"
}

if [ "${1:-}" = postgres ] || [ "${1:0:1}" = - ]; then
    [ "${1:0:1}" = - ] && set -- postgres "$@"
    if [ "$(id -u)" = 0 ]; then
        mkdir -p "$PGDATA"
        chown postgres:postgres "$PGDATA"
        chmod 700 "$PGDATA"
        exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
    fi

    if [ ! -s "$PGDATA/PG_VERSION" ]; then
        file_env POSTGRES_PASSWORD
        file_env POSTGRES_USER postgres
        file_env POSTGRES_DB "$POSTGRES_USER"
        if [ -z "$POSTGRES_PASSWORD" ] && [ "${POSTGRES_HOST_AUTH_METHOD:-}" != trust ]; then
            cat >&2 <<'MSG'
error: the database is uninitialized and no superuser password is set.
       Set POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE) to a non-empty value,
       or POSTGRES_HOST_AUTH_METHOD=trust to allow every connection without one.
MSG
            exit 1
        fi
        echo "initdb: creating the database cluster in $PGDATA for user $POSTGRES_USER"
        pwfile=$(mktemp)
        printf '%s' "$POSTGRES_PASSWORD" > "$pwfile"
        initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --auth-local=trust \
            --auth-host="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}" ${POSTGRES_INITDB_ARGS:-} >/dev/null
        rm -f "$pwfile"
        {
            echo
            echo "host all all all ${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
        } >> "$PGDATA/pg_hba.conf"
        echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"

        # A server on the socket only, for creating the database and the init scripts.
        pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -c unix_socket_directories=/var/run/postgresql" -w start >/dev/null
        psql=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --dbname postgres)
        if [ "$POSTGRES_DB" != postgres ]; then
            "${psql[@]}" --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";' >/dev/null
        fi
        for f in /docker-entrypoint-initdb.d/*; do
            case "$f" in
                *.sh) echo "running $f"; . "$f" ;;
                *.sql) echo "running $f"; "${psql[@]}" --dbname "$POSTGRES_DB" -f "$f" ;;
                *.sql.gz) echo "running $f"; gunzip -c "$f" | "${psql[@]}" --dbname "$POSTGRES_DB" ;;
                */\*) ;;
                *) echo "ignoring $f" ;;
            esac
        done
        pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
        unset POSTGRES_PASSWORD
        echo "initdb: done; starting postgres"
    fi
fi

exec "$@"
