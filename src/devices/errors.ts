/**
 * Error codes this module needs in src/errors.ts (listed for the lead to merge). Until then,
 * DeviceError carries the same `code` and HTTP status shape as OutpostError.
 */
export const DEVICE_ERRORS = {
  DEVICE_STORE_OPEN_FAILED: { status: 500, message: 'device store could not be opened at {path}: {reason}' },
  AGENT_NOT_ENROLLED: { status: 401, message: 'agent {agentId} is not enrolled' },
  AGENT_SIGNATURE_INVALID: { status: 401, message: 'heartbeat signature does not verify' },
  AGENT_HEARTBEAT_STALE: { status: 401, message: 'heartbeat timestamp is outside the allowed clock skew' },
  AGENT_HEARTBEAT_REPLAYED: { status: 409, message: 'heartbeat nonce was already used' },
  AGENT_LIMIT_REACHED: { status: 429, message: 'no more agents can be enrolled (maxAgents)' },
  AGENT_STORE_WRITE_FAILED: { status: 503, message: 'enrollment of agent {agentId} could not be saved to the device store' },
} as const;

export type DeviceErrorCode = keyof typeof DEVICE_ERRORS;

export class DeviceError extends Error {
  readonly code: DeviceErrorCode;
  readonly statusCode: number;
  constructor(code: DeviceErrorCode, params: Record<string, string | number> = {}) {
    const def = DEVICE_ERRORS[code];
    super(def.message.replace(/\{(\w+)\}/g, (_, k: string) => String(params[k] ?? `{${k}}`)));
    this.code = code;
    this.statusCode = def.status;
  }
}
