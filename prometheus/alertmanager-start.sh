#!/bin/sh
# Alertmanager's entrypoint in docker-compose.yml: writes the configuration Alertmanager runs with
# from --config.file (prometheus/alertmanager.yml), keeping each block marked "# if FILE" only when
# FILE is in the secrets directory, and merging telegram.yml and email.yml (their settings) into
# their blocks; then runs Alertmanager with the same flags on the written file. Without any secret
# file every receiver is empty and the stack runs the same, alerts showing in Prometheus,
# Alertmanager and Grafana only. Also run by tests/test_alertmanager_receivers.py:
#   SECRETS=DIR OUT=FILE ALERTMANAGER=true sh alertmanager-start.sh --config.file=prometheus/alertmanager.yml
set -eu
secrets=${SECRETS:-/etc/alertmanager/secrets}
out=${OUT:-/alertmanager/alertmanager.yml}
alertmanager=${ALERTMANAGER:-/bin/alertmanager}

source=""
for arg do
    shift
    case $arg in
        --config.file=*) source=${arg#--config.file=}; set -- "$@" "--config.file=$out" ;;
        *) set -- "$@" "$arg" ;;
    esac
done
[ -n "$source" ] || { echo "alertmanager-start.sh: no --config.file given" >&2; exit 2; }

umask 077
work=$(mktemp)
# templates are relative to the configuration file: keep them where the source's are
sed "s|^  - templates/|  - $(dirname "$source")/templates/|" "$source" > "$work"
for name in slack_webhook_url discord_webhook_url webhook_url telegram.yml email.yml; do
    if [ -f "$secrets/$name" ]; then
        echo "alertmanager-start.sh: $name found: its receiver is on" >&2
        case $name in
            *.yml)
                indented=$(mktemp)
                sed 's/^/        /' "$secrets/$name" > "$indented"
                sed -i "/^        # $name\$/r $indented" "$work"
                rm -f "$indented" ;;
        esac
    else
        sed -i "/^    # if $name\$/,/^    # end $name\$/d" "$work"
    fi
done
mv "$work" "$out"
exec "$alertmanager" "$@"
