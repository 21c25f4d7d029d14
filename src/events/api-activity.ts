/**
 * OCSF API Activity (class 6003) for a change made through the admin API or a configuration
 * reload: who changed what, from which revision to which (objects/api.json, events/application/
 * api_activity.json).
 */
import { OCSF_VERSION, PRODUCT, type OcsfEventBase, type OcsfMetadata } from './ocsf.js';

/** What the builder reads of an audit record (the configuration manager's AuditRecord has these). */
export interface AuditRecordLike {
  time: string;
  action: string;
  revision: string;
  previousRevision?: string | undefined;
  actor: { name: string; kind: string; role?: string | undefined; address?: string | undefined };
  changes: unknown;
  applied: unknown;
  restartRequired: unknown;
}

export interface ApiActivityEvent extends OcsfEventBase {
  class_uid: 6003;
  metadata: OcsfMetadata & { log_name: string };
  api: { operation: string };
  src_endpoint?: { ip: string };
  resources: Array<{ type: string; uid: string }>;
  status_id: number;
  status: string;
}

/** An Update (activity 3) event for a configuration change. */
export function buildApiActivity(r: AuditRecordLike): ApiActivityEvent {
  return {
    activity_id: 3,
    activity_name: 'Update',
    category_uid: 6,
    category_name: 'Application Activity',
    class_uid: 6003,
    class_name: 'API Activity',
    type_uid: 600303,
    type_name: 'API Activity: Update',
    severity_id: 1,
    severity: 'Informational',
    status_id: 1,
    status: 'Success',
    time: Date.parse(r.time),
    metadata: { version: OCSF_VERSION, product: PRODUCT, log_name: 'audit' },
    actor: { user: { name: r.actor.name, type: r.actor.kind, ...(r.actor.role ? { groups: [{ name: r.actor.role }] } : {}) } },
    api: { operation: r.action === 'reload' ? 'config.reload' : `config.${r.action}` },
    ...(r.actor.address ? { src_endpoint: { ip: r.actor.address } } : {}),
    resources: [{ type: 'configuration', uid: r.revision }],
    unmapped: { previous_revision: r.previousRevision, changes: r.changes, applied: r.applied, restart_required: r.restartRequired },
  };
}

/** A change to one resource made through the admin API (not the configuration): who, what, how. */
export interface ResourceChange {
  timeMs: number;
  /** e.g. `control.override.create`. */
  operation: string;
  /** The API token's name. */
  actor: string;
  address?: string;
  resource: { type: string; uid: string };
  activity: 'create' | 'update' | 'delete';
  /** The resource after the change, a reason: in `unmapped`. */
  details?: Record<string, unknown>;
}

/** OCSF API Activity activities (events/application/api_activity.json). */
const API_ACTIVITIES = { create: [1, 'Create'], update: [3, 'Update'], delete: [4, 'Delete'] } as const;

/** A Create (1), Update (3) or Delete (4) event for a resource changed through the admin API. */
export function buildResourceApiActivity(c: ResourceChange): ApiActivityEvent {
  const [id, name] = API_ACTIVITIES[c.activity];
  return {
    activity_id: id,
    activity_name: name,
    category_uid: 6,
    category_name: 'Application Activity',
    class_uid: 6003,
    class_name: 'API Activity',
    type_uid: 600300 + id,
    type_name: `API Activity: ${name}`,
    severity_id: 1,
    severity: 'Informational',
    status_id: 1,
    status: 'Success',
    time: c.timeMs,
    metadata: { version: OCSF_VERSION, product: PRODUCT, log_name: 'audit' },
    actor: { user: { name: c.actor, type: 'token' } },
    api: { operation: c.operation },
    ...(c.address !== undefined ? { src_endpoint: { ip: c.address } } : {}),
    resources: [c.resource],
    ...(c.details !== undefined ? { unmapped: c.details } : {}),
  };
}
