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
python3 "$ROOT/scripts/demo_check.py"
cat <<EOT

The foobar.webstack demo is up (site.yml converged in ${converge} s).
  Containers:  webstack-demo-web (web1), webstack-demo-dns (ns1), network webstack-demo
  Shell:       docker exec -it webstack-demo-web bash
  SSH key:     .cache/demo/id_ed25519 (user demo)
  Tear down:   scripts/demo.sh --destroy
EOT
