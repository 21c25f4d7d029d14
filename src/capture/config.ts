/**
 * The `capture` section of the configuration: its type and JSON-schema fragment, composed into
 * the full schema by src/config/schema.ts. Units are in the setting names.
 */
import type { ConfigSection } from '../area.js';

/**
 * `capture.interfaces: [auto]`: capture on the interfaces the kernel routes the default route
 * through (src/capture/auto-interfaces.ts), the choice `outpost run` makes without a file. It
 * stands alone: "auto plus eth1" would make the list mean two things at once, and a mirror port
 * that must be captured as well is named with the others instead of auto.
 */
export const AUTO_INTERFACES = 'auto';

/** True when the list asks for the automatic choice (`[auto]`). */
export function isAutoInterfaces(interfaces: readonly string[]): boolean {
  return interfaces.length === 1 && interfaces[0] === AUTO_INTERFACES;
}

export interface CaptureConfig {
  interfaces: string[];
  bpfFilter: string;
  snaplenBytes: number;
  promiscuous: boolean;
  bufferSizeBytes: number;
  bufferTimeoutMs: number;
  statsIntervalMs: number;
}

export const captureConfigSection: ConfigSection<CaptureConfig> = {
  key: 'capture',
  schema: {
    type: 'object',
    additionalProperties: false,
    default: {} as CaptureConfig,
    description: 'Live packet capture (libpcap).',
    required: ['interfaces', 'bpfFilter', 'snaplenBytes', 'promiscuous', 'bufferSizeBytes', 'bufferTimeoutMs', 'statsIntervalMs'],
    properties: {
      interfaces: {
        type: 'array',
        items: { type: 'string', minLength: 1 },
        uniqueItems: true,
        // "auto" alone or not at all (see AUTO_INTERFACES); the $comment is the message a
        // violation reports (src/config/load.ts).
        not: { $comment: '"auto" must be the only entry: [auto] alone, or interface names without it', type: 'array', minItems: 2, contains: { const: AUTO_INTERFACES } },
        default: [],
        description: 'Network interfaces to capture on, e.g. ["eth0"]. `[auto]` (alone, not mixed with names): the interfaces that carry the default route (IPv4 and IPv6), or every up interface except loopback when there is none, chosen at start and logged; no interface found ends the start with CAPTURE_NO_INTERFACE. Empty in a configuration file: `outpost run` starts without live capture (API and other services still run) and logs a warning. With no configuration file at all, `outpost run` acts as if `[auto]` were set. Restart required.',
      },
      bpfFilter: {
        type: 'string',
        default: '',
        description: 'Berkeley Packet Filter expression (tcpdump syntax) applied in the kernel to every interface. Empty: capture all packets.',
      },
      snaplenBytes: {
        type: 'integer',
        minimum: 64,
        maximum: 262144,
        default: 65535,
        description: 'Maximum bytes captured per packet. Smaller values save memory and CPU but truncate payloads needed for TLS SNI and HTTP host detection.',
      },
      promiscuous: {
        type: 'boolean',
        default: true,
        description: 'Put interfaces in promiscuous mode, so traffic not addressed to this host (e.g. from a SPAN/mirror port) is seen.',
      },
      bufferSizeBytes: {
        type: 'integer',
        minimum: 65536,
        // pcap_set_buffer_size() takes a C int.
        maximum: 2147483647,
        default: 33554432,
        description: 'Kernel capture buffer per interface. Larger buffers absorb bursts without drops at the cost of memory.',
      },
      bufferTimeoutMs: {
        type: 'integer',
        // 0 means "wait forever" to libpcap on some platforms, which would stall delivery.
        minimum: 1,
        maximum: 10000,
        default: 100,
        description: 'Packet buffer timeout: the kernel hands over buffered packets at least this often, even when the buffer is not full.',
      },
      statsIntervalMs: {
        type: 'integer',
        minimum: 1000,
        maximum: 3600000,
        default: 10000,
        description: 'How often capture statistics (received/dropped packets per interface) are collected and logged.',
      },
    },
  },
};
