/**
 * The process logger: pino, JSON lines on stdout by default (journald/docker collect stdout, and
 * JSON is what log shippers want; pipe through pino-pretty for humans).
 */
import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';
import type { LogLevel } from './levels.js';

export type Logger = PinoLogger;

/**
 * Paths whose values are replaced by "[Redacted]". Logs leave the box (shipped, attached to
 * tickets), so anything secret-looking is masked at the source rather than trusted to callers.
 * pino's `*` matches exactly one level, so the top-level keys are listed too, and headers are
 * covered both bare (`headers`) and inside a request object (`req.headers`).
 */
export const REDACT_PATHS: readonly string[] = [
  'token',
  'password',
  'authorization',
  'secret',
  'privateKey',
  '*.token',
  '*.password',
  '*.authorization',
  '*.secret',
  '*.privateKey',
  'headers.authorization',
  'headers.cookie',
  '*.headers.authorization',
  '*.headers.cookie',
];

/**
 * Create the root logger. `destination` defaults to stdout; tests pass a stream to capture output.
 * Components should use `logger.child({ component: 'flows' })` rather than their own loggers, so
 * level and redaction stay uniform.
 */
export function createLogger(level: LogLevel = 'info', destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { pid: process.pid },
    redact: { paths: [...REDACT_PATHS], censor: '[Redacted]' },
    // ISO timestamps: the sensor's logs are read by people on appliances as often as by machines.
    timestamp: pino.stdTimeFunctions.isoTime,
    // Level as a label ("warn" rather than 40): greppable and self-explanatory for log shippers.
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return destination ? pino(options, destination) : pino(options);
}
