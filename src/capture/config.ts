/**
 * The `capture` section of the configuration: its type and JSON-schema fragment, composed into
 * the full schema by src/config/schema.ts. Units are in the setting names.
 */
import type { ConfigSection } from '../area.js';

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
        default: [],
        description: 'Network interfaces to capture on, e.g. ["eth0"]. Empty in a configuration file: `outpost run` starts without live capture (API and other services still run) and logs a warning. With no configuration file at all, `outpost run` captures on the interfaces that carry the default route (IPv4 and IPv6), or on every up interface except loopback when there is none.',
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
