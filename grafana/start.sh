#!/bin/sh
# Grafana's entrypoint in docker-compose.yml: sets the admin password from
# secrets/grafana/grafana_admin_password, or, when that file is absent, from a random password
# generated once and kept in Grafana's data volume. Grafana never starts with admin/admin.
set -eu

secret=/run/secrets/training/grafana_admin_password
generated="${GF_PATHS_DATA:-/var/lib/grafana}/generated_admin_password"

if [ -e "$secret" ]; then
    if [ ! -r "$secret" ]; then
        echo "grafana: cannot read secrets/grafana/grafana_admin_password; make it readable by the container (uid 472): sudo chown 472 secrets/grafana/grafana_admin_password && chmod 600 secrets/grafana/grafana_admin_password" >&2
        exit 1
    fi
    if [ ! -s "$secret" ]; then
        echo "grafana: secrets/grafana/grafana_admin_password is empty; write a password into it" >&2
        exit 1
    fi
    export GF_SECURITY_ADMIN_PASSWORD__FILE="$secret"
else
    if [ ! -s "$generated" ]; then
        (umask 077 && head -c 24 /dev/urandom | base64 | tr -d '/+=\n' > "$generated")
    fi
    echo "grafana: no secrets/grafana/grafana_admin_password, so the admin password was generated;" \
        "read it with: docker compose exec grafana cat $generated" >&2
    export GF_SECURITY_ADMIN_PASSWORD__FILE="$generated"
fi

exec /run.sh "$@"
