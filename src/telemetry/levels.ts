/**
 * Log levels: pino's, plus 'silent'. Apart from the logger (and without pino), so that the
 * configuration schema can name them without loading the logging library.
 */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
