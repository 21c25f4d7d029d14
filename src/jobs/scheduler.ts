/**
 * Scheduled jobs (node-cron) with their last run and outcome, for the API (`GET /v1/jobs`) and
 * metrics (`outpost_job_runs_total`).
 *
 * A job is a cron schedule and a list of *hooks*: functions other components register under the
 * job's name (`scheduler.addHook('retention', 'devices', fn)`). The well-known jobs exist from
 * the start, so a component can add its hook without knowing whether anyone else did:
 *
 * | job              | default schedule   | what its hooks do                                   |
 * |------------------|--------------------|-----------------------------------------------------|
 * | `flows.expire`   | every second       | end idle flows on the wall clock (live traffic can stop) |
 * | `expiry`         | every minute       | expire DHCP leases, stale devices, agent enrolments |
 * | `retention`      | daily 03:17        | delete records older than their retention           |
 * | `compaction`     | Sundays 04:23      | compact LMDB stores                                 |
 * | `catalog.reload` | hourly at :07      | reload the cloud-app catalogue                      |
 * | `reports`        | daily 06:00        | build periodic reports                              |
 *
 * A run calls every hook in turn; one failing hook does not stop the others, and the run's
 * outcome is `error` with each failure listed. Runs of one job never overlap (a run that finds
 * the previous one still going is skipped and counted).
 */
import { createTask, validate, type ScheduledTask } from 'node-cron';
import { OutpostError } from '../errors.js';

export type JobHook = (signal: AbortSignal) => unknown | Promise<unknown>;

export interface JobRun {
  reason: 'scheduled' | 'manual';
  startedAt: string;
  finishedAt: string | null;
  durationMs: number | null;
  outcome: 'running' | 'ok' | 'error';
  /** Per-hook result: `ok` or the error message. */
  hooks: Array<{ name: string; outcome: 'ok' | 'error'; error?: string; durationMs: number }>;
}

export interface JobStatus {
  name: string;
  description: string;
  schedule: string;
  hooks: string[];
  running: boolean;
  runs: number;
  failures: number;
  skippedOverlaps: number;
  nextRunAt: string | null;
  lastRun: JobRun | null;
  lastSuccessAt: string | null;
}

interface Job {
  name: string;
  description: string;
  schedule: string;
  hooks: Map<string, JobHook>;
  task: ScheduledTask | null;
  running: boolean;
  runs: number;
  failures: number;
  skippedOverlaps: number;
  lastRun: JobRun | null;
  lastSuccessAt: string | null;
}

export const WELL_KNOWN_JOBS: ReadonlyArray<{ name: string; schedule: string; description: string }> = [
  { name: 'flows.expire', schedule: '* * * * * *', description: 'End idle flows on the wall clock and flush events.' },
  { name: 'expiry', schedule: '0 * * * * *', description: 'Expire leases, stale devices and agent enrolments.' },
  { name: 'retention', schedule: '0 17 3 * * *', description: 'Delete stored records older than their retention period.' },
  { name: 'compaction', schedule: '0 23 4 * * 0', description: 'Compact the LMDB stores.' },
  { name: 'catalog.reload', schedule: '0 7 * * * *', description: 'Reload the cloud-app catalogue.' },
  { name: 'reports', schedule: '0 0 6 * * *', description: 'Build periodic reports.' },
];

export interface SchedulerOptions {
  /** Called after every run (metrics, logs). */
  onRun?: (job: string, run: JobRun) => void;
}

export class JobScheduler {
  readonly #jobs = new Map<string, Job>();
  readonly #onRun: ((job: string, run: JobRun) => void) | undefined;
  readonly #controller = new AbortController();
  #started = false;

  constructor(options: SchedulerOptions = {}) {
    this.#onRun = options.onRun;
    for (const j of WELL_KNOWN_JOBS) this.define(j.name, j.schedule, j.description);
  }

  /** Add a job (or change the schedule of an existing one). Six-field cron: seconds first. */
  define(name: string, schedule: string, description = ''): void {
    if (!validate(schedule)) throw new OutpostError('INTERNAL', { reason: `job ${name}: invalid cron expression "${schedule}"` });
    const existing = this.#jobs.get(name);
    if (existing) {
      existing.schedule = schedule;
      if (description) existing.description = description;
      if (existing.task) { void existing.task.destroy(); existing.task = null; this.#arm(existing); }
      return;
    }
    const job: Job = { name, description, schedule, hooks: new Map(), task: null, running: false, runs: 0, failures: 0, skippedOverlaps: 0, lastRun: null, lastSuccessAt: null };
    this.#jobs.set(name, job);
    if (this.#started) this.#arm(job);
  }

  /** Register a hook under a job; returns a function that removes it. */
  addHook(jobName: string, hookName: string, hook: JobHook): () => void {
    const job = this.#jobs.get(jobName);
    if (!job) throw new OutpostError('JOB_UNKNOWN', { name: jobName });
    if (job.hooks.has(hookName)) throw new OutpostError('INTERNAL', { reason: `job ${jobName}: hook ${hookName} is already registered` });
    job.hooks.set(hookName, hook);
    return () => { job.hooks.delete(hookName); };
  }

  start(): void {
    if (this.#started) return;
    this.#started = true;
    for (const job of this.#jobs.values()) this.#arm(job);
  }

  async stop(): Promise<void> {
    this.#controller.abort();
    this.#started = false;
    for (const job of this.#jobs.values()) {
      if (job.task) await job.task.destroy();
      job.task = null;
    }
  }

  #arm(job: Job): void {
    // Our own overlap guard (below) rather than node-cron's noOverlap, so skips are counted.
    job.task = createTask(job.schedule, async () => {
      if (job.running) { job.skippedOverlaps++; return; }
      // A job without hooks has nothing to do; its lastRun stays null rather than filling up
      // with empty runs every second.
      if (job.hooks.size === 0) return;
      await this.#run(job, 'scheduled');
    }, { name: job.name, suppressMissedWarning: true });
    void job.task.start();
  }

  /** Run a job now (POST /v1/jobs/{name}/run). Resolves with the finished run. */
  async runNow(name: string): Promise<JobRun> {
    const job = this.#jobs.get(name);
    if (!job) throw new OutpostError('JOB_UNKNOWN', { name }, { details: { name } });
    if (job.running) throw new OutpostError('JOB_ALREADY_RUNNING', { name }, { details: { name } });
    return this.#run(job, 'manual');
  }

  async #run(job: Job, reason: JobRun['reason']): Promise<JobRun> {
    job.running = true;
    const t0 = performance.now();
    const run: JobRun = { reason, startedAt: new Date().toISOString(), finishedAt: null, durationMs: null, outcome: 'running', hooks: [] };
    job.lastRun = run;
    try {
      for (const [hookName, hook] of [...job.hooks]) {
        const h0 = performance.now();
        try {
          await hook(this.#controller.signal);
          run.hooks.push({ name: hookName, outcome: 'ok', durationMs: Math.round((performance.now() - h0) * 1000) / 1000 });
        } catch (err) {
          run.hooks.push({ name: hookName, outcome: 'error', error: err instanceof Error ? err.message : String(err), durationMs: Math.round((performance.now() - h0) * 1000) / 1000 });
        }
      }
    } finally {
      job.running = false;
      run.outcome = run.hooks.some((h) => h.outcome === 'error') ? 'error' : 'ok';
      run.finishedAt = new Date().toISOString();
      run.durationMs = Math.round((performance.now() - t0) * 1000) / 1000;
      job.runs++;
      if (run.outcome === 'error') job.failures++;
      else job.lastSuccessAt = run.finishedAt;
      this.#onRun?.(job.name, run);
    }
    return run;
  }

  list(): JobStatus[] {
    return [...this.#jobs.values()].map((j) => this.#status(j));
  }

  get(name: string): JobStatus {
    const job = this.#jobs.get(name);
    if (!job) throw new OutpostError('JOB_UNKNOWN', { name }, { details: { name } });
    return this.#status(job);
  }

  #status(j: Job): JobStatus {
    let next: Date | null = null;
    try { next = j.task?.getNextRun() ?? null; } catch { next = null; }
    return {
      name: j.name,
      description: j.description,
      schedule: j.schedule,
      hooks: [...j.hooks.keys()],
      running: j.running,
      runs: j.runs,
      failures: j.failures,
      skippedOverlaps: j.skippedOverlaps,
      nextRunAt: next ? next.toISOString() : null,
      lastRun: j.lastRun ? structuredClone(j.lastRun) : null,
      lastSuccessAt: j.lastSuccessAt,
    };
  }
}
