#!/usr/bin/env bash
# The main job: bring the whole site up on local containers and say where to look.
#   scripts/demo.sh            create (or reuse) the containers, converge site.yml, prove it works
#   scripts/demo.sh --destroy  remove the demo containers and network
# Idempotent: a second run reuses the venv, images and containers and changes nothing.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
"$ROOT/scripts/venv.sh"
"$ROOT/scripts/testbed.sh"
# shellcheck disable=SC1091
source "$ROOT/.venv/bin/activate"
export ANSIBLE_COLLECTIONS_PATH="$ROOT/.collections"
export ANSIBLE_CONFIG="$ROOT/ansible.cfg"
mkdir -p "$ROOT/.cache/demo"

if [ "${1:-}" = "--destroy" ]; then
  ansible-playbook playbooks/demo_down.yml
  exit 0
fi

start=$SECONDS
ansible-playbook playbooks/demo_up.yml
ansible-playbook -i inventory/demo/hosts.yml site.yml
converge=$((SECONDS - start))
python "$ROOT/scripts/demo_check.py"
cat <<EOT

The foobar.webstack demo is up (site.yml converged in ${converge} s).

  Open it:     https://www.foobar.com:8443/  after adding "127.0.0.1 www.foobar.com foobar.com"
               to /etc/hosts (the certificate is self-signed: accept it), or from a shell:
               curl -k --resolve www.foobar.com:8443:127.0.0.1 https://www.foobar.com:8443/
  JSON API:    curl -k --resolve www.foobar.com:8443:127.0.0.1 https://www.foobar.com:8443/api/messages
  DNS:         dig @127.0.0.1 -p 5353 www.foobar.com
  Containers:  webstack-demo-web (web1: Apache, MariaDB, the app), webstack-demo-dns (ns1: BIND)
  Shell:       docker exec -it webstack-demo-web bash
  Roll back:   ansible-playbook -i inventory/demo/hosts.yml playbooks/rollback.yml
  Tear down:   scripts/demo.sh --destroy
EOT
