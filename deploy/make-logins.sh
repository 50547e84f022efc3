#!/bin/sh
# Makes the ZooKeeper logins of a secured ptl deployment: one auth file per role, each with a
# fresh random password, in DIR (docs/deploy.md). Never overwrites: delete a file to replace it.
#
#   deploy/make-logins.sh deploy/secrets          # for docker-compose.yml
#   deploy/make-logins.sh deploy/k8s/secrets      # for kubectl apply -k deploy/k8s
set -eu
dir=${1:?usage: make-logins.sh DIR}
mkdir -p "$dir"
# Only the owner may list or open the folder. The files themselves are readable so that the
# containers' unprivileged user can read them through Compose's bind mounts.
chmod 700 "$dir"
for role in admin coordinator agent submitter; do
    file="$dir/$role.auth"
    if [ -e "$file" ]; then
        echo "$file exists, kept"
        continue
    fi
    password=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
    printf 'digest:ptl-%s:%s\n' "$role" "$password" > "$file"
    chmod 644 "$file"
    echo "$file written"
done
