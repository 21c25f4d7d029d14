/**
 * The capture area (src/area.ts): the `capture` section, and from it the live capture with its
 * service, routes (GET /v1/interfaces, GET /v1/capture), counters and health.
 */
import type { ActiveArea, AreaParts } from '../area.js';
import type { Logger } from '../telemetry/logger.js';
import { captureConfigSection, type CaptureConfig } from './config.js';
import { LiveCapture } from './live.js';
import { captureApiPlugin } from './routes.js';
import type { PacketCallback } from './types.js';

export interface CaptureDeps {
  /** The pipeline's packet entry point. */
  onPacket: PacketCallback;
  logger: Logger;
  /** The `capture` section as in the file now, for GET /v1/interfaces (may await a restart). */
  configured(): CaptureConfig;
  /** State of the daemon's service group: the capture is ready once every service runs. */
  lifecycleState(): string | undefined;
}

export interface CaptureParts extends AreaParts {
  /** Null when capture.interfaces is empty: the daemon runs without capture. */
  capture: LiveCapture | null;
}

export const captureArea: ActiveArea<CaptureConfig, CaptureDeps, CaptureParts> = {
  name: 'capture',
  config: captureConfigSection,
  create(cfg, deps) {
    const capture = cfg.interfaces.length > 0
      ? new LiveCapture({
        interfaces: cfg.interfaces,
        bpfFilter: cfg.bpfFilter,
        snaplenBytes: cfg.snaplenBytes,
        promiscuous: cfg.promiscuous,
        bufferSizeBytes: cfg.bufferSizeBytes,
        bufferTimeoutMs: cfg.bufferTimeoutMs,
      }, deps.onPacket, undefined, (err) => deps.logger.error({ err }, 'packet handler failed'))
      : null;
    let failed: string | undefined;
    return {
      capture,
      services: [{
        name: 'capture',
        start: async (signal) => {
          if (!capture) { deps.logger.warn('no capture interfaces configured (capture.interfaces): running without capture'); return; }
          try {
            capture.start(signal);
          } catch (err) {
            failed = err instanceof Error ? err.message : String(err);
            throw err;
          }
          deps.logger.info({ interfaces: cfg.interfaces }, 'capture started');
        },
        stop: async () => { capture?.stop(); },
      }],
      // The running settings are the ones the capture was opened with: this slice.
      routes: [captureApiPlugin({ capture, configured: deps.configured, running: () => cfg })],
      ...(capture ? { metrics: { capture: () => capture.counters.snapshot() } } : {}),
      health: {
        capture: () => {
          if (failed !== undefined) return { state: 'failed', ready: false, detail: failed };
          if (!capture) return { state: 'idle', ready: true, detail: 'no capture.interfaces configured' };
          const state = deps.lifecycleState();
          const running = state === 'running';
          return { state: running ? 'running' : (state ?? 'starting'), ready: running, detail: cfg.interfaces.join(',') };
        },
      },
    };
  },
};
