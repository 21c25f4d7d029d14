/**
 * The single catalogue of Outpost error codes.
 *
 * Naming convention: `<AREA>_<WHAT>` in SCREAMING_SNAKE_CASE, e.g. `CAPTURE_FILE_NOT_FOUND`.
 * AREA is the subsystem (CAPTURE, CONFIG, CLI, STORE, API, LIFECYCLE, INTERNAL); WHAT says what
 * went wrong. There is no `OUTPOST_ERR_` prefix: the capture reader's `CaptureFileError` already
 * ships `CAPTURE_FILE_*` codes, and one spelling across the code base beats a namespaced one.
 *
 * Codes are a public, stable contract (API clients, scripts and docs key on them): never rename or
 * reuse a code; add a new one and document it in docs/ERRORS.md (a test enforces both directions).
 * Every error product code throws is an OutpostError (or a subclass) with a code from here, and
 * every code here is thrown somewhere: src/errors-catalogue.test.ts reads the source to check.
 * Retired codes are listed in docs/ERRORS.md and never come back.
 * Messages may be reworded freely; nothing should parse them.
 */

export interface ErrorDefinition {
  /** Message template; `{name}` placeholders are filled from the params given at construction. */
  readonly message: string;
  /** Status the HTTP API answers with when this error reaches it. */
  readonly httpStatus: number;
}

// `satisfies` instead of a type annotation keeps the literal keys, so `ErrorCode` is a union.
export const ERRORS = {
  // --- capture -------------------------------------------------------------------------------
  CAPTURE_FILE_NOT_FOUND: { message: 'capture file not found: {path}', httpStatus: 404 },
  CAPTURE_FILE_UNREADABLE: { message: 'capture file cannot be read: {path}: {reason}', httpStatus: 500 },
  CAPTURE_FILE_NOT_A_CAPTURE: {
    message: 'not a pcap or pcapng file: {path}',
    httpStatus: 422,
  },
  CAPTURE_INTERFACE_OPEN_FAILED: {
    message: 'cannot open capture interface {interface}: {reason}',
    httpStatus: 500,
  },
  CAPTURE_LIBPCAP_UNAVAILABLE: { message: 'libpcap (the pcap native module) is unavailable: {reason}', httpStatus: 500 },
  CAPTURE_ALREADY_STARTED: { message: 'live capture already started', httpStatus: 500 },

  // --- configuration -------------------------------------------------------------------------
  CONFIG_FILE_NOT_FOUND: { message: 'configuration file not found: {path}', httpStatus: 500 },
  CONFIG_FILE_UNREADABLE: { message: 'configuration file cannot be read: {path}: {reason}', httpStatus: 500 },
  CONFIG_PARSE_FAILED: { message: '{source}: YAML parse error: {reason}', httpStatus: 500 },
  CONFIG_INVALID: { message: '{source}: invalid configuration:\n{problems}', httpStatus: 500 },

  // --- command line --------------------------------------------------------------------------
  CLI_USAGE: { message: '{reason}', httpStatus: 400 },

  // --- storage -------------------------------------------------------------------------------
  STORE_OPEN_FAILED: { message: 'cannot open store at {path}: {reason}', httpStatus: 503 },

  // --- HTTP API ------------------------------------------------------------------------------
  API_LISTEN_FAILED: { message: 'cannot listen on {host}:{port}: {reason}', httpStatus: 500 },
  API_BAD_REQUEST: { message: 'bad request: {reason}', httpStatus: 400 },
  API_NOT_FOUND: { message: 'not found: {resource}', httpStatus: 404 },
  API_VALIDATION_FAILED: { message: 'request does not match the route schema: {reason}', httpStatus: 400 },
  API_UNAUTHORIZED: { message: 'authentication required: {reason}', httpStatus: 401 },
  API_FORBIDDEN: { message: 'forbidden: {reason}', httpStatus: 403 },
  API_PAYLOAD_TOO_LARGE: { message: 'request body larger than {limit} bytes', httpStatus: 413 },
  API_UNSUPPORTED_MEDIA_TYPE: { message: 'unsupported content type {contentType}: send application/json', httpStatus: 415 },
  API_RATE_LIMITED: { message: 'too many requests: at most {max} per minute, retry in {retryAfterS} s', httpStatus: 429 },
  API_INSECURE_BIND: { message: 'refusing to listen on non-loopback address {host} without {missing}', httpStatus: 500 },
  API_TLS_UNREADABLE: { message: 'cannot read TLS {what} file {path}: {reason}', httpStatus: 500 },
  CONFIG_REJECTED: { message: 'configuration change rejected:\n{problems}', httpStatus: 422 },
  CONFIG_CHANGE_REFUSED: { message: 'configuration change refused: the daemon could not start with it, or it would lock administrators out:\n{problems}', httpStatus: 400 },
  CONFIG_CONFIRMATION_REQUIRED: { message: 'this change reduces access ({reductions}): send it again with confirm=reduce-access', httpStatus: 400 },
  API_JSON_TOO_DEEP: { message: 'request body nests deeper than {max} levels', httpStatus: 400 },
  CONFIG_CONFLICT: { message: 'configuration changed since revision {expected} (now {actual})', httpStatus: 409 },
  CONFIG_NO_FILE: { message: 'running on embedded defaults without a configuration file: start with --config FILE to change settings', httpStatus: 409 },
  CONFIG_WRITE_FAILED: { message: 'cannot write configuration file {path}: {reason}', httpStatus: 500 },
  JOB_UNKNOWN: { message: 'no job named {name}', httpStatus: 404 },
  JOB_ALREADY_RUNNING: { message: 'job {name} is already running', httpStatus: 409 },

  // --- service lifecycle ---------------------------------------------------------------------
  LIFECYCLE_INVALID_STATE: { message: 'cannot {action} service group in state {state}', httpStatus: 500 },
  LIFECYCLE_START_ABORTED: { message: 'startup aborted by a stop request; {count} service(s) not started', httpStatus: 503 },
  LIFECYCLE_STOP_TIMEOUT: { message: 'service {service} did not stop within {timeoutMs} ms', httpStatus: 500 },
  LIFECYCLE_STOP_FAILED: { message: '{count} service(s) failed to stop cleanly: {services}', httpStatus: 500 },
  LIFECYCLE_PRIVILEGE_DROP_FAILED: { message: 'cannot switch to user {user} (runAsUser) at step {step}: {reason}', httpStatus: 500 },

  // --- catch-all -----------------------------------------------------------------------------
  INTERNAL: { message: 'internal error: {reason}', httpStatus: 500 },
  // --- forwarding ----------------------------------------------------------------------------
  FORWARD_OUTBOX_OPEN_FAILED: { message: 'cannot open the forwarding outbox at {path}: {reason}', httpStatus: 500 },
  FORWARD_OUTBOX_WRITE_FAILED: { message: 'cannot write the forwarding outbox at {path}: {reason}', httpStatus: 507 },
  FORWARD_OUTBOX_DISK_LOW: { message: 'forwarding outbox at {path}: {freeBytes} bytes free on its file system, below minFreeDiskMb ({minFreeBytes} bytes); new events are refused until space returns', httpStatus: 507 },
  FORWARD_OUTBOX_COMMIT_SLOW: { message: 'forwarding outbox at {path}: a commit completed {ageMs} ms after its oldest event was accepted, more than outboxMaxUncommittedMs ({maxMs}); such events are counted in forward.outbox.late_committed', httpStatus: 503 },
  FORWARD_SINK_CONFIG_INVALID: { message: 'forwarding sink {sink}: {reason}', httpStatus: 500 },
  FORWARD_SINK_SEND_FAILED: { message: 'forwarding sink {sink}: send failed: {reason}', httpStatus: 502 },
  FORWARD_SINK_REJECTED: { message: 'forwarding sink {sink}: receiver rejected a batch ({reason}); batch moved to dead letters', httpStatus: 502 },
  FORWARD_SINK_ITEMS_REJECTED: { message: 'forwarding sink {sink}: receiver rejected {count} of {events} events ({reason}); those moved to dead letters, the rest delivered', httpStatus: 502 },
  // Devices and agents (src/devices), cloud discovery (src/discovery).
  DEVICE_STORE_OPEN_FAILED: { message: 'device store at {path} cannot be opened: {reason}', httpStatus: 500 },
  DEVICE_MAC_ONLY_ONE: { message: 'MAC {mac} is the only MAC of device {uid}: there is no link to split', httpStatus: 409 },
  AGENT_NOT_ENROLLED: { message: 'agent {agentId} is not enrolled (or was revoked)', httpStatus: 401 },
  AGENT_SIGNATURE_INVALID: { message: 'heartbeat signature of agent {agentId} does not verify', httpStatus: 401 },
  AGENT_HEARTBEAT_STALE: { message: 'heartbeat timestamp of agent {agentId} is outside the allowed clock skew', httpStatus: 401 },
  AGENT_HEARTBEAT_REPLAYED: { message: 'heartbeat nonce of agent {agentId} was already used', httpStatus: 409 },
  AGENT_LIMIT_REACHED: { message: 'no more agents can be enrolled (devices.maxAgents = {max})', httpStatus: 429 },
  AGENT_NONCE_WINDOW_FULL: { message: 'agent {agentId} used {max} nonces within the replay window: wait before the next heartbeat', httpStatus: 429 },
  AGENT_CLAIM_INVALID: { message: 'agent claim refused: {reason}', httpStatus: 400 },
  AGENT_HEARTBEAT_MALFORMED: { message: 'heartbeat is malformed: {reason}', httpStatus: 400 },
  AGENT_STORE_WRITE_FAILED: { message: 'enrolled agents cannot be saved: {reason}', httpStatus: 503 },
  AGENT_LISTENER_INSECURE_BIND: { message: 'refusing to start the agent listener on non-loopback address {host} without TLS (devices.agentListener.tlsCertFile and tlsKeyFile)', httpStatus: 500 },
  AGENT_LISTENER_TLS_UNREADABLE: { message: 'cannot read the agent listener TLS {what} file {path}: {reason}', httpStatus: 500 },
  AGENT_LISTENER_LISTEN_FAILED: { message: 'agent listener cannot listen on {host}:{port}: {reason}', httpStatus: 500 },
  DEVICES_RADIUS_SECRET_UNREADABLE: { message: 'cannot read the shared secret of RADIUS NAS {address} from {path}: {reason}', httpStatus: 500 },
  DISCOVERY_CATALOG_INVALID: { message: 'app catalog {path} is invalid: {reason}', httpStatus: 422 },
  DISCOVERY_CATALOG_UNREADABLE: { message: 'app catalog {path} cannot be read: {reason}', httpStatus: 422 },
  DISCOVERY_OVERRIDE_INVALID: { message: 'app override is invalid: {reason}', httpStatus: 400 },
  DISCOVERY_BAD_SANCTION: { message: 'unknown sanction state {state}', httpStatus: 400 },
  DISCOVERY_BAD_RANGE: { message: 'bad time range: {reason}', httpStatus: 400 },
  DISCOVERY_APP_NOT_FOUND: { message: 'no app {appId}', httpStatus: 404 },
  DISCOVERY_PSEUDONYM_UNKNOWN: { message: 'pseudonym {pseudonym} is unknown', httpStatus: 404 },
  DISCOVERY_PSEUDONYMS_DISABLED: { message: 'user pseudonymization is off', httpStatus: 409 },
  DISCOVERY_PSEUDONYM_KEY_INVALID: { message: 'pseudonym key {path} is unusable: {reason}', httpStatus: 500 },
  DISCOVERY_OVERRIDE_CONFLICT: { message: '{field}: {domain} is already claimed by the administrator\'s app {app}', httpStatus: 409 },
  // Console sessions and first-run access (src/api/session.ts, src/api/first-run.ts); zero-configuration capture.
  API_CSRF_REJECTED: { message: 'write refused: {reason}', httpStatus: 403 },
  API_TOKEN_FILE_INVALID: { message: 'first-run admin token file {path} is unusable: {reason}', httpStatus: 500 },
  CAPTURE_NO_INTERFACE: { message: 'no interface to capture on: {reason}', httpStatus: 500 },
  CONTROL_INVALID: { message: 'control policy change refused: {field}: {reason}', httpStatus: 422 },
  CONTROL_NOT_FOUND: { message: 'no control {kind} {id}', httpStatus: 404 },
  CONTROL_LIMIT_REACHED: { message: 'the control policy holds its limit of {limit} {kind}s already', httpStatus: 409 },
  CONTROL_IN_USE: { message: 'control {kind} {id} is named by {by}: remove that first', httpStatus: 409 },

  // --- control (inline enforcement) ----------------------------------------------------------
  CONTROL_INLINE_NATIVE_UNAVAILABLE: { message: 'inline mode needs the outpost_nfq addon, which is unavailable: {reason}', httpStatus: 500 },
  CONTROL_INLINE_QUEUE_FAILED: { message: 'cannot read NFQUEUE {queue}: {reason}', httpStatus: 500 },
  CONTROL_INLINE_UNSUPPORTED: { message: 'inline mode cannot run here: {reason}', httpStatus: 500 },
  CONTROL_NFT_FAILED: { message: 'nftables table inet outpost could not be changed: {reason}', httpStatus: 500 },
  CONTROL_IPTABLES_FAILED: { message: 'iptables chains of Outpost (OUTPOST-FWD, OUTPOST-DNS, OUTPOST-BLOCKED) could not be changed: {reason}', httpStatus: 500 },
  CONTROL_INLINE_NO_BACKEND: { message: 'inline mode has no way to queue packets on this machine: nftables: {nft}; iptables: {iptables}', httpStatus: 500 },
  CONTROL_INLINE_BRIDGE_CAPTURE: { message: 'inline mode: capture on bridge device(s) {interfaces} in promiscuous mode with br_netfilter calls on: new flows bridged through them on the judged ports will not connect; capture on a member port, set capture.promiscuous false, or set net.bridge.bridge-nf-call-iptables to 0 where the box routes', httpStatus: 500 },
} as const satisfies Record<string, ErrorDefinition>;

export type ErrorCode = keyof typeof ERRORS;

export type ErrorParams = Record<string, string | number | boolean | bigint | null | undefined>;

export interface OutpostErrorOptions {
  /** Machine-readable context (paths, failing fields, ...). Returned by the API, so no secrets. */
  details?: Record<string, unknown>;
  /** The underlying error, kept for logs (pino's err serializer prints the chain). */
  cause?: unknown;
  /** Replaces the catalogue template outright; for subclasses that already have a good message. */
  message?: string;
}

/**
 * Fill `{name}` placeholders. An unknown placeholder is left visible as `{name}` rather than
 * silently removed, so a forgotten param shows up in a log instead of producing a vague message.
 */
export function formatMessage(template: string, params: ErrorParams = {}): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const v = params[name];
    return v === undefined || v === null ? whole : String(v);
  });
}

export class OutpostError extends Error {
  readonly code: ErrorCode;
  readonly httpStatus: number;
  // `declare`: no class-field initialiser, so the property is absent (not undefined) when unset and
  // logs/JSON stay free of empty keys.
  declare readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, params: ErrorParams = {}, options: OutpostErrorOptions = {}) {
    const def: ErrorDefinition = ERRORS[code];
    super(options.message ?? formatMessage(def.message, params), options.cause === undefined ? undefined : { cause: options.cause });
    // new.target keeps subclass names (e.g. CaptureFileError) in stack traces and logs.
    this.name = new.target.name;
    this.code = code;
    this.httpStatus = def.httpStatus;
    if (options.details !== undefined) this.details = options.details;
  }

  /** Body for HTTP error responses (same shape as fastify's: statusCode, code, error, message). */
  toJSON(): { statusCode: number; code: ErrorCode; error: string; message: string; details?: Record<string, unknown> } {
    return {
      statusCode: this.httpStatus,
      code: this.code,
      error: this.name,
      message: this.message,
      ...(this.details === undefined ? {} : { details: this.details }),
    };
  }
}

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.prototype.hasOwnProperty.call(ERRORS, code);
}

/**
 * True for an OutpostError, and also for any error whose `code` is in the catalogue: errors that
 * cross module copies (or that a teammate's own class like CaptureFileError throws) still match.
 */
export function isOutpostError(err: unknown, code?: ErrorCode): err is Error & { code: ErrorCode } {
  if (!(err instanceof Error)) return false;
  const c = (err as { code?: unknown }).code;
  if (!isErrorCode(c)) return false;
  return code === undefined || c === code;
}

/** HTTP status for any thrown value: catalogue status for known codes, 500 otherwise. */
export function httpStatusOf(err: unknown): number {
  return isOutpostError(err) ? ERRORS[err.code].httpStatus : 500;
}
