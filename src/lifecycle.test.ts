import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { OutpostError } from './errors.js';
import { ServiceGroup, type Service } from './lifecycle.js';
import { createLogger } from './telemetry/logger.js';

interface Fake extends Service {
  signal?: AbortSignal;
}

/** A fake service recording start/stop into a shared log, with injectable behaviour. */
function fake(
  name: string,
  log: string[],
  opts: { startFails?: boolean; stopFails?: boolean; stopHangs?: boolean; startWaitsForAbort?: boolean; onStart?: () => void } = {},
): Fake {
  const svc: Fake = {
    name,
    async start(signal) {
      svc.signal = signal;
      log.push(`start ${name}`);
      opts.onStart?.();
      if (opts.startWaitsForAbort) {
        await new Promise<void>((resolve, reject) =>
          signal.addEventListener('abort', () => reject(new Error(`${name} start aborted`)), { once: true }),
        );
      }
      if (opts.startFails) throw new Error(`${name} start failed`);
    },
    async stop() {
      log.push(`stop ${name}`);
      if (opts.stopHangs) await new Promise(() => undefined);
      if (opts.stopFails) throw new Error(`${name} stop failed`);
    },
  };
  return svc;
}

test('starts in order, stops in reverse order, aborts the shared signal', async () => {
  const log: string[] = [];
  const [a, b, c] = [fake('a', log), fake('b', log), fake('c', log)];
  const group = new ServiceGroup([a, b, c]);
  assert.equal(group.state, 'idle');
  await group.start();
  assert.equal(group.state, 'running');
  assert.deepEqual(log, ['start a', 'start b', 'start c']);
  assert.equal(a.signal, group.signal);
  assert.equal(c.signal, group.signal);
  assert.equal(group.signal.aborted, false);
  await group.stop();
  assert.equal(group.signal.aborted, true);
  assert.equal(group.state, 'stopped');
  assert.deepEqual(log, ['start a', 'start b', 'start c', 'stop c', 'stop b', 'stop a']);
});

test('a failing start stops the already-started services in reverse and rethrows the original error', async () => {
  const log: string[] = [];
  const group = new ServiceGroup([fake('a', log), fake('b', log), fake('c', log, { startFails: true }), fake('d', log)]);
  await assert.rejects(group.start(), { message: 'c start failed' });
  // c is not stopped (its start failed and must clean up itself); d is never started.
  assert.deepEqual(log, ['start a', 'start b', 'start c', 'stop b', 'stop a']);
  assert.equal(group.signal.aborted, true);
  assert.equal(group.state, 'stopped');
  // A later stop() (e.g. from a signal handler) is harmless.
  await group.stop();
  assert.deepEqual(log, ['start a', 'start b', 'start c', 'stop b', 'stop a']);
});

test('a failing start still rethrows the original error when rollback stops fail too', async () => {
  const log: string[] = [];
  const group = new ServiceGroup([fake('a', log, { stopFails: true }), fake('b', log, { startFails: true })]);
  await assert.rejects(group.start(), { message: 'b start failed' });
  assert.deepEqual(log, ['start a', 'start b', 'stop a']);
});

test('stop errors are collected, every service is still stopped, then one error is thrown', async () => {
  const log: string[] = [];
  const group = new ServiceGroup([fake('a', log), fake('b', log, { stopFails: true }), fake('c', log, { stopFails: true })]);
  await group.start();
  const err = await group.stop().then(
    () => assert.fail('stop should reject'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof OutpostError);
  assert.equal(err.code, 'LIFECYCLE_STOP_FAILED');
  assert.deepEqual(log.slice(3), ['stop c', 'stop b', 'stop a']);
  assert.deepEqual(err.details, {
    failures: [
      { service: 'c', code: undefined, message: 'c stop failed' },
      { service: 'b', code: undefined, message: 'b stop failed' },
    ],
  });
  assert.ok(err.cause instanceof AggregateError);
  assert.equal(err.cause.errors.length, 2);
  assert.equal(group.state, 'stopped');
});

test('each stop is bounded by stopTimeoutMs; later services are still stopped', async () => {
  const log: string[] = [];
  const group = new ServiceGroup([fake('a', log), fake('hung', log, { stopHangs: true }), fake('c', log)], { stopTimeoutMs: 30 });
  await group.start();
  const t0 = Date.now();
  await assert.rejects(group.stop(), (err: unknown) => {
    assert.ok(err instanceof OutpostError);
    assert.equal(err.code, 'LIFECYCLE_STOP_FAILED');
    const failures = (err.details as { failures: Array<{ service: string; code: unknown }> }).failures;
    assert.deepEqual(failures.map((f) => [f.service, f.code]), [['hung', 'LIFECYCLE_STOP_TIMEOUT']]);
    return true;
  });
  assert.ok(Date.now() - t0 < 1000, 'stop did not wait for the hung service');
  assert.deepEqual(log.slice(3), ['stop c', 'stop hung', 'stop a']);
});

test('a synchronous throw in stop() is collected like a rejection', async () => {
  const group = new ServiceGroup([
    { name: 'sync', start: async () => undefined, stop: () => { throw new Error('sync boom'); } },
  ]);
  await group.start();
  await assert.rejects(group.stop(), { code: 'LIFECYCLE_STOP_FAILED' });
});

test('stop() is idempotent and concurrent calls share one result', async () => {
  const log: string[] = [];
  const group = new ServiceGroup([fake('a', log)]);
  await group.start();
  const [p1, p2] = [group.stop(), group.stop()];
  assert.equal(p1, p2);
  await p1;
  await group.stop();
  assert.deepEqual(log, ['start a', 'stop a']);
});

test('stop() during startup aborts the in-flight start and stops what was started', async () => {
  const log: string[] = [];
  const slow = fake('slow', log, { startWaitsForAbort: true });
  const group = new ServiceGroup([fake('a', log), slow, fake('c', log)]);
  const starting = group.start();
  await new Promise((r) => setImmediate(r));
  assert.equal(group.state, 'starting');
  await group.stop();
  await assert.rejects(starting, { message: 'slow start aborted' });
  assert.deepEqual(log, ['start a', 'start slow', 'stop a']);
  assert.equal(group.state, 'stopped');
});

test('stop() between two starts: remaining services are skipped, start rejects LIFECYCLE_START_ABORTED', async () => {
  const log: string[] = [];
  let group!: ServiceGroup;
  let stopping: Promise<void> | undefined;
  const b = fake('b', log, { onStart: () => { stopping = group.stop(); } });
  group = new ServiceGroup([fake('a', log), b, fake('c', log)]);
  await assert.rejects(group.start(), (err: unknown) => {
    assert.ok(err instanceof OutpostError);
    assert.equal(err.code, 'LIFECYCLE_START_ABORTED');
    assert.deepEqual(err.details, { notStarted: ['c'] });
    return true;
  });
  await stopping;
  assert.deepEqual(log, ['start a', 'start b', 'stop b', 'stop a']);
});

test('start() twice, or after stop, is rejected', async () => {
  const group = new ServiceGroup([fake('a', [])]);
  await group.start();
  await assert.rejects(group.start(), { code: 'LIFECYCLE_INVALID_STATE' });
  await group.stop();
  await assert.rejects(group.start(), { code: 'LIFECYCLE_INVALID_STATE' });
  const never = new ServiceGroup([fake('a', [])]);
  await never.stop();
  await assert.rejects(never.start(), { code: 'LIFECYCLE_INVALID_STATE' });
});

test('duplicate service names are rejected', () => {
  assert.throws(() => new ServiceGroup([fake('a', []), fake('a', [])]), { code: 'INTERNAL', message: /duplicate service name: a/ });
});

test('an empty group starts and stops', async () => {
  const group = new ServiceGroup([]);
  await group.start();
  await group.stop();
  assert.equal(group.state, 'stopped');
});

/** A pino destination collecting parsed JSON lines. */
function sink(): { stream: Writable; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { stream, lines };
}

test('ServiceGroup logs through a pino logger from createLogger', async () => {
  const { stream, lines } = sink();
  const group = new ServiceGroup([fake('a', []), fake('b', [], { stopFails: true })], { logger: createLogger('info', stream) });
  await group.start();
  await assert.rejects(group.stop());
  const summary = lines.map((l) => `${String(l.level)} ${String(l.service)} ${String(l.msg)}`);
  assert.deepEqual(summary, [
    'info a service started',
    'info b service started',
    'error b service failed to stop',
    'info a service stopped',
  ]);
  assert.equal((lines[2]?.err as { message?: string }).message, 'b stop failed');
});

test('createLogger: level, ISO time, and redaction of secret-looking paths', () => {
  const { stream, lines } = sink();
  const log = createLogger('warn', stream);
  log.info('dropped');
  log.warn(
    {
      token: 't0',
      forwarder: { token: 't1', password: 'p', secret: 's', privateKey: 'k', authorization: 'a', url: 'https://x' },
      headers: { authorization: 'Bearer x', accept: 'json' },
      req: { headers: { authorization: 'Bearer y', cookie: 'c' } },
    },
    'kept',
  );
  assert.equal(lines.length, 1);
  const l = lines[0] ?? {};
  assert.equal(l.level, 'warn');
  assert.equal(l.msg, 'kept');
  assert.match(String(l.time), /^\d{4}-\d\d-\d\dT/);
  const R = '[Redacted]';
  assert.equal(l.token, R);
  assert.deepEqual(l.forwarder, { token: R, password: R, secret: R, privateKey: R, authorization: R, url: 'https://x' });
  assert.deepEqual(l.headers, { authorization: R, accept: 'json' });
  assert.deepEqual(l.req, { headers: { authorization: R, cookie: R } });
  // Redaction must not mutate the caller's object.
  const obj = { api: { token: 'keep-me' } };
  log.warn(obj, 'x');
  assert.equal(obj.api.token, 'keep-me');
});
