#!/usr/bin/env bash
# kill -9 fault loop for durable forwarding: FORWARD_FAULT_KILLS (default 50) random SIGKILLs of a
# process forwarding to an HTTPS receiver; prints lost (must be 0) and duplicates.
set -euo pipefail
cd "$(dirname "$0")/.."
export FORWARD_FAULT_KILLS="${FORWARD_FAULT_KILLS:-50}"
# enough events that the child is still producing or sending when most kills land
export FORWARD_FAULT_EVENTS="${FORWARD_FAULT_EVENTS:-600000}"
exec node --import tsx --test test/forward-fault.test.ts
