/**
 * Enrolled agents in the device store's LMDB (key ['a', agentId], see persistence.ts), for the
 * AgentRegistry (src/devices/agent-routes.ts): enrollments and their signing secrets survive a
 * restart. Only records are kept here; enrollment, verification and nonces are the registry's.
 */
import type { DevicePersistence } from './persistence.js';

export class AgentRecords {
  constructor(private readonly persistence: DevicePersistence) {}

  /** True while an LMDB store is open (agents can be persisted). */
  get persistent(): boolean { return this.persistence.isOpen; }

  /** Enrolled agents saved by saveAgent(). */
  loadAgents<T extends { agentId: string }>(): T[] { return this.persistence.agentRecords<T>(); }

  /**
   * Saves (or with value undefined removes) an enrolled agent. `durable`: written synchronously
   * (enrollment, revocation); otherwise queued to LMDB's next asynchronous commit (heartbeat
   * times). Returns false when no store is open or the write failed (counted).
   */
  saveAgent(agentId: string, value: object | undefined, durable: boolean): boolean {
    return this.persistence.putAgentRecord(agentId, value, durable);
  }
}
