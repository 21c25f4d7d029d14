/**
 * The address text forms moved to src/decode/format.ts (below src/protocols, which needs them).
 * Kept for src/protocols/inspector.ts and src/devices/identity.ts, which are changing elsewhere:
 * switch them to '../decode/format.js' and delete this file (test/architecture.test.ts lists the
 * inspector edge in its allowlist until then).
 */
export { ipv4ToString, ipv6ToString, macToString } from '../decode/format.js';
