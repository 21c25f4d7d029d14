/**
 * Inline mode's start-up refusals, each with its code, before anything is installed: no policy,
 * a privilege drop asked for, a queue that cannot be opened, a table nft refuses (the queue is
 * then closed again). The addon is a stand-in here; the real one is exercised by
 * test/inline-lab.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { controlArea } from './area.js';
import { controlConfigSection } from './config.js';
import { sectionDefaults } from '../area.js';
import { InlineService } from './inline/service.js';
import type { NfqAddon, NfqHandle } from './inline/native.js';

const quiet = { info: () => {}, error: () => {} };
const allowAll = () => ({ decide: () => ({ verdict: 'allow' as const, reason: 'default' as const, ruleId: 'default' }) });

function cfg(enabled: boolean) {
  const c = sectionDefaults(controlConfigSection);
  c.inline.enabled = enabled;
  return c;
}

function fakeAddon(openThrows = false, realtime = 1, boostGranted = true) {
  const calls: string[] = [];
  let boost = 0;
  const addon: NfqAddon = {
    open: (q, o) => {
      calls.push(`open ${q} rt ${o.realtimePriority ?? 0} boost ${o.boostPriority ?? 0}/${o.boostBudgetMsPerSecond ?? 0}/${o.boostHoldMs ?? 0}`);
      if (openThrows) throw new Error('nfq_create_queue failed: Operation not permitted');
      boost = boostGranted ? o.boostPriority ?? 0 : 0;
      return {} as NfqHandle;
    },
    verdicts: () => 0,
    sendRaw: () => true,
    stats: () => ({ packets: 0, batches: 0, enobufs: 0, recvErrors: 0, truncatedBatches: 0, queueFullWaits: 0, verdicts: 0, preaccepted: 0, verdictErrors: 0, rawSent: 0, rawErrors: 0, readerRealtime: realtime, readerRealtimeError: realtime === 0 ? 1 : 0, boostPriority: boost, boostError: boostGranted ? 0 : 1, boostRaises: 0, boostOverBudget: 0, boostMicros: 0, boostCpuMicros: 0 }),
    latency: () => ({ count: 0, p50Us: 0, p99Us: 0, p999Us: 0, maxUs: 0, wakeCount: 0, wakeP50Us: 0, wakeP99Us: 0, wakeP999Us: 0, wakeMaxUs: 0, kernelCount: 0, kernelP50Us: 0, kernelP99Us: 0, kernelP999Us: 0, kernelMaxUs: 0 }),
    close: () => { calls.push('close'); },
    setThreadRealtime: (p) => { calls.push(`thread rt ${p}`); return 0; },
  };
  return { addon, calls };
}

test('off by default: nothing is made', () => {
  const parts = controlArea.create(cfg(false), { logger: quiet, runAsUser: '' }) as { inline: unknown; services?: unknown };
  assert.equal(parts.inline, null);
  assert.equal(parts.services, undefined);
});

test('on without a policy, or with runAsUser: CONTROL_INLINE_UNSUPPORTED', () => {
  assert.throws(() => controlArea.create(cfg(true), { logger: quiet, runAsUser: '' }), (e: Error & { code?: string }) => e.code === 'CONTROL_INLINE_UNSUPPORTED' && /policy/.test(e.message));
  assert.throws(() => controlArea.create(cfg(true), { logger: quiet, runAsUser: 'outpost', policy: allowAll }), (e: Error & { code?: string }) => e.code === 'CONTROL_INLINE_UNSUPPORTED' && /runAsUser/.test(e.message));
  const parts = controlArea.create(cfg(true), { logger: quiet, runAsUser: '', policy: allowAll }) as { inline: unknown; services?: unknown[] };
  assert.ok(parts.inline instanceof InlineService);
  assert.equal(parts.services?.length, 1);
});

test('a queue that cannot be opened: CONTROL_INLINE_QUEUE_FAILED, nft never run', async () => {
  const { addon, calls } = fakeAddon(true);
  const svc = new InlineService({ cfg: cfg(true).inline, policy: allowAll, logger: quiet, addon, nft: '/nonexistent/nft' });
  await assert.rejects(svc.start(), (e: Error & { code?: string }) => e.code === 'CONTROL_INLINE_QUEUE_FAILED' && /Operation not permitted/.test(e.message));
  assert.deepEqual(calls, ['open 3127 rt 1 boost 1/500/2']);
});

test('a table nft refuses: CONTROL_NFT_FAILED and the queue is closed again', async () => {
  const { addon, calls } = fakeAddon();
  const svc = new InlineService({ cfg: cfg(true).inline, policy: allowAll, logger: quiet, addon, nft: '/nonexistent/nft' });
  await assert.rejects(svc.start(), (e: Error & { code?: string }) => e.code === 'CONTROL_NFT_FAILED');
  assert.deepEqual(calls, ['open 3127 rt 1 boost 1/500/2', 'close']);
  assert.equal(svc.running, false);
  await svc.stop(); // nothing installed, nothing to remove
  assert.deepEqual(calls, ['open 3127 rt 1 boost 1/500/2', 'close']);
});

test('backend iptables whose programs cannot run: CONTROL_IPTABLES_FAILED and the queue is closed again; health names the backend', async () => {
  const { addon, calls } = fakeAddon();
  const broken = { save: { 4: '/nonexistent/iptables-save', 6: '/nonexistent/ip6tables-save' }, restore: { 4: '/nonexistent/iptables-restore', 6: '/nonexistent/ip6tables-restore' }, prefix: [] };
  const svc = new InlineService({ cfg: { ...cfg(true).inline, backend: 'iptables' }, policy: allowAll, logger: quiet, addon, nft: '/nonexistent/nft', iptables: broken });
  await assert.rejects(svc.start(), (e: Error & { code?: string }) => e.code === 'CONTROL_IPTABLES_FAILED' && /iptables-save not found/.test(e.message));
  assert.deepEqual(calls, ['open 3127 rt 1 boost 1/500/2', 'close']);
  assert.equal(svc.backend, null);
  const parts = controlArea.create(cfg(true), { logger: quiet, runAsUser: '', policy: allowAll }) as { health?: Record<string, () => { detail?: string }> };
  assert.equal(parts.health?.['inline']?.().detail, 'queue 3127, fail-open, backend auto (not installed yet)');
});

test('the queue reader thread asks for SCHED_FIFO at readerRealtimePriority; refused, the start goes on with a warning that says why', async () => {
  const warned: string[] = [];
  const logger = { ...quiet, warn: (_o: object, m: string) => { warned.push(m); } };
  const { addon, calls } = fakeAddon(false, 0);
  const svc = new InlineService({ cfg: { ...cfg(true).inline, readerRealtimePriority: 7 }, policy: allowAll, logger, addon, nft: '/nonexistent/nft' });
  await assert.rejects(svc.start(), (e: Error & { code?: string }) => e.code === 'CONTROL_NFT_FAILED');
  assert.deepEqual(calls, ['open 3127 rt 7 boost 1/500/2', 'close']);
  assert.equal(warned.length, 1);
  assert.match(warned[0]!, /could not get SCHED_FIFO priority 7 \(errno 1; CAP_SYS_NICE is needed\)/);
  // Granted, or not asked for (0): no warning.
  for (const [rt, asked] of [[1, 1], [0, 0]] as const) {
    const ok = fakeAddon(false, rt);
    const quietWarn: string[] = [];
    const s2 = new InlineService({ cfg: { ...cfg(true).inline, readerRealtimePriority: asked }, policy: allowAll, logger: { ...quiet, warn: (_o: object, m: string) => { quietWarn.push(m); } }, addon: ok.addon, nft: '/nonexistent/nft' });
    await assert.rejects(s2.start());
    assert.deepEqual(quietWarn, []);
  }
});

test('the JavaScript thread is raised only while it judges (verdictBoostPriority, within its budget); refused, a warning; the permanent setting turns the boost off', async () => {
  const warned: string[] = [];
  const logger = { ...quiet, warn: (_o: object, m: string) => { warned.push(m); } };
  const refused = fakeAddon(false, 1, false);
  const svc = new InlineService({ cfg: { ...cfg(true).inline, verdictBoostPriority: 3, verdictBoostBudgetMsPerSecond: 50, verdictBoostHoldMs: 7 }, policy: allowAll, logger, addon: refused.addon, nft: '/nonexistent/nft' });
  await assert.rejects(svc.start(), (e: Error & { code?: string }) => e.code === 'CONTROL_NFT_FAILED');
  assert.deepEqual(refused.calls, ['open 3127 rt 1 boost 3/50/7', 'close']);
  assert.equal(warned.length, 1);
  assert.match(warned[0]!, /will not be raised to SCHED_FIFO priority 3 while it judges \(refused at the first try: errno 1; CAP_SYS_NICE is needed\)/);
  // Granted: no warning. verdictRealtimePriority set: the thread is at real-time priority all the
  // time, so the boost (whose lowering would undo that) is not asked for, and nothing warns.
  for (const [boostAsked, permanent, expected] of [[1, 0, 'boost 1/500/2'], [1, 5, 'boost 0/500/2'], [0, 0, 'boost 0/500/2']] as const) {
    const ok = fakeAddon(false, 1, true);
    const w2: string[] = [];
    const s2 = new InlineService({ cfg: { ...cfg(true).inline, verdictBoostPriority: boostAsked, verdictRealtimePriority: permanent }, policy: allowAll, logger: { ...quiet, warn: (_o: object, m: string) => { w2.push(m); } }, addon: ok.addon, nft: '/nonexistent/nft' });
    await assert.rejects(s2.start());
    assert.equal(ok.calls[0], `open 3127 rt 1 ${expected}`);
    assert.deepEqual(w2, []);
  }
});
