/**
 * The capture area's routes:
 *
 *   GET /v1/interfaces   interfaces libpcap can capture on, configured and capturing ones marked
 *   GET /v1/capture      capture state, per-interface kernel counters, running settings
 */
import type { FastifyPluginAsync } from 'fastify';
import type { AreaRoutes } from '../area.js';
import { LiveCapture } from './live.js';
import type { CaptureConfig } from './config.js';

export interface CaptureRoutesDeps {
  /** The running capture; null when no interface is configured. */
  capture: LiveCapture | null;
  /** The `capture` section as in the file now (it may be waiting for a restart). */
  configured(): CaptureConfig;
  /** The `capture` section the running capture was opened with. */
  running(): CaptureConfig;
}

const ifaceStats = {
  type: 'object',
  required: ['interface', 'packetsReceived', 'kernelDrops', 'interfaceDrops', 'packetsDelivered'],
  properties: {
    interface: { type: 'string' },
    ifIndex: { type: 'integer' },
    packetsReceived: { type: 'number', description: 'pcap ps_recv' },
    kernelDrops: { type: 'number', description: 'pcap ps_drop: the capture buffer was full' },
    interfaceDrops: { type: 'number', description: 'pcap ps_ifdrop' },
    packetsDelivered: { type: 'number' },
  },
} as const;

/** GET /v1/interfaces and GET /v1/capture. */
export function captureRoutes(deps: CaptureRoutesDeps): FastifyPluginAsync {
  return async (app) => {
    app.get('/interfaces', {
      schema: {
        summary: 'Interfaces libpcap can capture on, and whether each is configured and capturing',
        response: {
          200: {
            type: 'object',
            required: ['interfaces'],
            properties: {
              interfaces: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['name', 'addresses', 'loopback', 'configured', 'capturing'],
                  properties: {
                    name: { type: 'string' },
                    description: { type: ['string', 'null'] },
                    addresses: { type: 'array', items: { type: 'string' } },
                    loopback: { type: 'boolean' },
                    configured: { type: 'boolean', description: 'Listed in capture.interfaces of the file, or chosen by its [auto] (may need a restart).' },
                    capturing: { type: 'boolean' },
                    stats: ifaceStats,
                  },
                },
              },
            },
          },
        },
      },
    }, async () => {
      const configured = new Set(deps.configured().interfaces);
      const stats = new Map((deps.capture?.stats() ?? []).map((s) => [s.interface, s]));
      let listed: Array<{ name: string; description: string | null; addresses: string[]; loopback: boolean }> = [];
      try { listed = LiveCapture.listInterfaces(); } catch { listed = []; }
      const names = new Set(listed.map((l) => l.name));
      // Configured interfaces that libpcap does not list (absent, renamed) are shown too.
      for (const name of configured) if (!names.has(name)) listed.push({ name, description: null, addresses: [], loopback: false });
      return {
        interfaces: listed.map((l) => {
          const s = stats.get(l.name);
          return { ...l, configured: configured.has(l.name), capturing: s !== undefined, ...(s ? { stats: s } : {}) };
        }),
      };
    });

    app.get('/capture', {
      schema: {
        summary: 'Capture state and statistics: per-interface kernel counters and capture counters',
        response: {
          200: {
            type: 'object',
            required: ['running', 'interfaces', 'counters', 'settings'],
            properties: {
              running: { type: 'boolean' },
              interfaces: { type: 'array', items: ifaceStats },
              counters: { type: 'object', additionalProperties: { type: 'number' } },
              settings: {
                type: 'object',
                properties: {
                  interfaces: { type: 'array', items: { type: 'string' } },
                  bpfFilter: { type: 'string' },
                  snaplenBytes: { type: 'integer' },
                  promiscuous: { type: 'boolean' },
                  bufferSizeBytes: { type: 'integer' },
                  bufferTimeoutMs: { type: 'integer' },
                },
              },
            },
          },
        },
      },
    }, async () => {
      const running = deps.running();
      return {
        running: deps.capture !== null,
        interfaces: deps.capture?.stats() ?? [],
        counters: deps.capture?.counters.snapshot() ?? {},
        settings: {
          interfaces: running.interfaces,
          bpfFilter: running.bpfFilter,
          snaplenBytes: running.snaplenBytes,
          promiscuous: running.promiscuous,
          bufferSizeBytes: running.bufferSizeBytes,
          bufferTimeoutMs: running.bufferTimeoutMs,
        },
      };
    });
  };
}

export function captureApiPlugin(deps: CaptureRoutesDeps): AreaRoutes {
  return { name: 'capture', prefix: '/v1', plugin: captureRoutes(deps) };
}
