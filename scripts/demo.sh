#!/usr/bin/env bash
# The main job: bring the whole site up on local containers and say where to look.
#   scripts/demo.sh            create (or reuse) the containers, converge site.yml, prove it works
#   scripts/demo.sh cluster    the same site as a cluster: two LBs with a floating address, two web
#                              nodes, two Galera nodes + arbitrator, DNS and a client (8 containers)
#   scripts/demo.sh --destroy  remove the demo containers and networks (both shapes)
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

case "${1:-}" in
  --destroy)
    ansible-playbook playbooks/demo_down.yml
    exit 0 ;;
  cluster) ;;
  "") ;;
  *) echo "usage: scripts/demo.sh [cluster|--destroy]" >&2; exit 2 ;;
esac

if [ "${1:-}" = "cluster" ]; then
  start=$SECONDS
  ansible-playbook -i inventory/demo-cluster/hosts.yml playbooks/demo_up.yml -e webstack_demo_shape=cluster
  ansible-playbook -i inventory/demo-cluster/hosts.yml site.yml
  converge=$((SECONDS - start))
  WEBSTACK_DEMO_ADDRESS=172.29.253.200 WEBSTACK_DEMO_DNS_PORT=5354 WEBSTACK_DEMO_HTTPS_PORT=9443 \
    python "$ROOT/scripts/demo_check.py"
  cat <<EOT

The foobar.webstack cluster demo is up (containers and site.yml in ${converge} s).

  Open it:     https://www.foobar.com:9443/  after adding "127.0.0.1 www.foobar.com foobar.com"
               to /etc/hosts (self-signed certificate: accept it), or from a shell:
               curl -k --resolve www.foobar.com:9443:127.0.0.1 https://www.foobar.com:9443/api/client
               (127.0.0.1:9443 is the client container forwarding to the floating address 172.29.253.200)
  DNS:         dig @127.0.0.1 -p 5354 www.foobar.com     (answers the floating address)
  Containers:  webstack-demo-lb1, -lb2 (HAProxy, keepalived; garbd on lb1), -web1, -web2 (Apache, the app),
               -db1, -db2 (MariaDB Galera), -ns1 (BIND), -client
  Who holds the address:  docker exec webstack-demo-lb1 ip -4 addr show eth0 (and -lb2)
  HAProxy's view:         docker exec webstack-demo-lb1 sh -c "echo 'show stat' | socat stdio /run/haproxy/admin.sock" | cut -d, -f1,2,18
  Galera:                 docker exec webstack-demo-db1 mariadb -e "SHOW STATUS LIKE 'wsrep_cluster_size'"
  Try a fault: docker exec webstack-demo-lb1 systemctl stop haproxy   (the address moves to lb2)
  Rolling deploy:         ansible-playbook -i inventory/demo-cluster/hosts.yml site.yml -e python_app_version=1.0.1
  Tear down:   scripts/demo.sh --destroy
EOT
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
  nginx:       ansible-playbook -i inventory/demo/hosts.yml site.yml -e webstack_web_server=nginx
               (moves the front from Apache to nginx in one run; the rows stay)
  Tear down:   scripts/demo.sh --destroy
EOT
