/**
 * The capture area (src/area.ts): the `capture` section, and from it the live capture with its
 * service, routes (GET /v1/interfaces, GET /v1/capture), counters and health.
 */
import type { ActiveArea, AreaParts } from '../area.js';
import type { Logger } from '../telemetry/logger.js';
import { captureConfigSection, isAutoInterfaces, type CaptureConfig } from './config.js';
import { LiveCapture } from './live.js';
import { captureApiPlugin } from './routes.js';
import type { PacketCallback } from './types.js';
import { chooseInterfaces, type InterfaceChoice } from './auto-interfaces.js';
import { OutpostError } from '../errors.js';

export interface CaptureDeps {
  /** The pipeline's packet entry point. */
  onPacket: PacketCallback;
  logger: Logger;
  /** The `capture` section as in the file now, for GET /v1/interfaces (may await a restart). */
  configured(): CaptureConfig;
  /** State of the daemon's service group: the capture is ready once every service runs. */
  lifecycleState(): string | undefined;
  /**
   * Zero configuration (`outpost run` without a configuration file): an empty capture.interfaces
   * means `[auto]`. With a configuration file, an empty list keeps meaning "no capture".
   */
  emptyMeansAuto?: boolean;
  /** The `[auto]` choice; src/capture/auto-interfaces.ts reading the kernel's tables unless replaced. */
  chooseInterfaces?: () => InterfaceChoice;
}

export interface CaptureParts extends AreaParts {
  /** Null when capture.interfaces is empty: the daemon runs without capture. */
  capture: LiveCapture | null;
}

export const captureArea: ActiveArea<CaptureConfig, CaptureDeps, CaptureParts> = {
  name: 'capture',
  config: captureConfigSection,
  create(configured, deps) {
    const choose = deps.chooseInterfaces ?? (() => chooseInterfaces());
    const auto = isAutoInterfaces(configured.interfaces) || (configured.interfaces.length === 0 && deps.emptyMeansAuto === true);
    // Why the choice was made, for the log line and the error: a file's [auto] or no file at all.
    const source = isAutoInterfaces(configured.interfaces) ? 'capture.interfaces [auto]' : 'no configuration';
    const choice = auto ? choose() : undefined;
    // The running slice names the interfaces actually opened (GET /v1/capture, health).
    const cfg: CaptureConfig = choice ? { ...configured, interfaces: choice.interfaces } : configured;
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
          if (choice?.why === 'none') {
            failed = choice.detail;
            const fix = source === 'no configuration' ? 'set capture.interfaces in a configuration file' : 'name the interfaces in capture.interfaces instead of [auto]';
            throw new OutpostError('CAPTURE_NO_INTERFACE', { reason: `${choice.detail}; ${fix}` }, { details: { reason: choice.detail } });
          }
          if (choice) deps.logger.info({ interfaces: choice.interfaces, why: choice.why, detail: choice.detail }, choice.why === 'default-route' ? `${source}: capturing on the interfaces of the default route` : `${source} and no default route: capturing on every up interface`);
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
      // GET /v1/interfaces marks as configured what the file's [auto] would choose now, rather than
      // an interface named "auto".
      routes: [captureApiPlugin({
        capture,
        configured: () => {
          const file = deps.configured();
          return isAutoInterfaces(file.interfaces) ? { ...file, interfaces: choose().interfaces } : file;
        },
        running: () => cfg,
      })],
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
