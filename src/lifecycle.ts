/**
 * Service lifecycle: start services in dependency order, stop them in reverse.
 *
 * A Service's `start` resolves once the service is up (it does not run until shutdown). The
 * AbortSignal it receives is aborted when the group stops, which lets a slow start (waiting for an
 * interface, retrying a bind) give up promptly when shutdown is requested mid-startup, and lets
 * background loops a service spawned notice shutdown without extra plumbing.
 */
import { OutpostError } from './errors.js';

export interface Service {
  name: string;
  start(signal: AbortSignal): Promise<void>;
  stop(): Promise<void>;
}

/** Structural subset of pino's Logger, so tests and other callers need not bring pino. */
export interface LifecycleLogger {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface ServiceGroupOptions {
  /** Upper bound for each service's stop(); a hung service must not block shutdown. */
  stopTimeoutMs?: number;
  logger?: LifecycleLogger;
}

export interface StopFailure {
  service: string;
  error: unknown;
}

export type ServiceGroupState = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped';

export const DEFAULT_STOP_TIMEOUT_MS = 10_000;

export class ServiceGroup {
  readonly #services: readonly Service[];
  readonly #stopTimeoutMs: number;
  readonly #logger: LifecycleLogger | undefined;
  readonly #controller = new AbortController();
  /** Services whose start() resolved and that have not been stopped yet, in start order. */
  readonly #started: Service[] = [];
  #state: ServiceGroupState = 'idle';
  #startPromise: Promise<void> | undefined;
  #stopPromise: Promise<void> | undefined;

  constructor(services: readonly Service[], options: ServiceGroupOptions = {}) {
    const names = new Set<string>();
    for (const s of services) {
      // Names identify services in logs and in stop-failure details; duplicates make those useless.
      if (names.has(s.name)) throw new OutpostError('INTERNAL', { reason: `duplicate service name: ${s.name}` });
      names.add(s.name);
    }
    this.#services = [...services];
    this.#stopTimeoutMs = options.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
    this.#logger = options.logger;
  }

  get state(): ServiceGroupState {
    return this.#state;
  }

  /** Aborted when stop() is called (or a start fails). */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /**
   * Start every service in order. If one fails, the ones already started are stopped in reverse
   * order and the original error is rethrown (stop failures during that rollback are logged, not
   * thrown, so they cannot mask the cause). The failing service itself is not stopped: a start()
   * that throws must clean up after itself. If stop() is called while starting, the remaining
   * services are not started and start() rejects with LIFECYCLE_START_ABORTED. A group is
   * single-use: it cannot be started again after stopping.
   */
  start(): Promise<void> {
    if (this.#state !== 'idle') {
      return Promise.reject(new OutpostError('LIFECYCLE_INVALID_STATE', { action: 'start', state: this.#state }));
    }
    this.#state = 'starting';
    this.#startPromise = this.#doStart();
    return this.#startPromise;
  }

  async #doStart(): Promise<void> {
    const signal = this.#controller.signal;
    for (const [i, service] of this.#services.entries()) {
      if (signal.aborted) {
        // stop() was called between two starts; it waits for us and then stops what is running.
        throw this.#aborted(i);
      }
      const t0 = performance.now();
      try {
        await service.start(signal);
      } catch (err) {
        this.#logger?.error({ service: service.name, err }, 'service failed to start');
        if (this.#state === 'starting') {
          // Our own rollback. (If stop() is already running, it does this after we settle.)
          this.#state = 'stopping';
          this.#controller.abort();
          const failures = await this.#stopStarted();
          this.#state = 'stopped';
          for (const f of failures) this.#logger?.error({ service: f.service, err: f.error }, 'service failed to stop during rollback');
        }
        throw err;
      }
      this.#started.push(service);
      this.#logger?.info({ service: service.name, durationMs: Math.round(performance.now() - t0) }, 'service started');
    }
    if (signal.aborted) {
      // Every start resolved, but shutdown was requested meanwhile: report that startup did not
      // complete rather than pretend the group is running.
      throw this.#aborted(this.#services.length);
    }
    this.#state = 'running';
  }

  #aborted(firstNotStarted: number): OutpostError {
    const notStarted = this.#services.slice(firstNotStarted).map((s) => s.name);
    return new OutpostError(
      'LIFECYCLE_START_ABORTED',
      { count: notStarted.length },
      { details: { notStarted } },
    );
  }

  /**
   * Abort the signal, then stop started services in reverse order, each bounded by stopTimeoutMs.
   * Every service gets its stop() call even if earlier ones failed; failures are collected and
   * thrown at the end as one OutpostError LIFECYCLE_STOP_FAILED (`details.failures` lists them,
   * `cause` is an AggregateError of the originals). Idempotent: later calls share the first result.
   */
  stop(): Promise<void> {
    this.#stopPromise ??= this.#doStop();
    return this.#stopPromise;
  }

  async #doStop(): Promise<void> {
    if (this.#state !== 'stopped') this.#state = 'stopping';
    this.#controller.abort();
    // Let an in-flight start settle first so we never stop a service while it is starting.
    await this.#startPromise?.catch(() => undefined);
    const failures = await this.#stopStarted();
    this.#state = 'stopped';
    if (failures.length > 0) {
      const services = failures.map((f) => f.service);
      throw new OutpostError(
        'LIFECYCLE_STOP_FAILED',
        { count: failures.length, services: services.join(', ') },
        {
          details: {
            failures: failures.map((f) => ({
              service: f.service,
              code: (f.error as { code?: unknown } | null)?.code,
              message: f.error instanceof Error ? f.error.message : String(f.error),
            })),
          },
          cause: new AggregateError(failures.map((f) => f.error), 'service stop failures'),
        },
      );
    }
  }

  /** Stop and forget started services, newest first. Never throws; returns the failures. */
  async #stopStarted(): Promise<StopFailure[]> {
    const failures: StopFailure[] = [];
    for (let service = this.#started.pop(); service; service = this.#started.pop()) {
      const t0 = performance.now();
      try {
        await this.#stopWithTimeout(service);
        this.#logger?.info({ service: service.name, durationMs: Math.round(performance.now() - t0) }, 'service stopped');
      } catch (error) {
        this.#logger?.error({ service: service.name, err: error }, 'service failed to stop');
        failures.push({ service: service.name, error });
      }
    }
    return failures;
  }

  #stopWithTimeout(service: Service): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(
          new OutpostError(
            'LIFECYCLE_STOP_TIMEOUT',
            { service: service.name, timeoutMs: this.#stopTimeoutMs },
            { details: { service: service.name, timeoutMs: this.#stopTimeoutMs } },
          ),
        );
      }, this.#stopTimeoutMs);
    });
    // Promise.resolve().then(...) also turns a synchronous throw in stop() into a rejection.
    const stopping = Promise.resolve().then(() => service.stop());
    // A stop that loses the race keeps running in the background; nothing can cancel it, but its
    // late rejection must not surface as an unhandled rejection.
    stopping.catch(() => undefined);
    return Promise.race([stopping, timeout]).finally(() => clearTimeout(timer));
  }
}
