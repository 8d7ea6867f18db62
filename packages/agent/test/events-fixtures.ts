/** The wire document of the tests' usual event: a `role_change` of pg1 in demo to `replica`, nothing else known. */
export function replicaRoleChangeWire(over: { id: string; time: unknown; reason: unknown }) {
  return {
    id: over.id,
    type: 'role_change',
    time: over.time,
    scope: 'demo',
    member: 'pg1',
    old_role: null,
    new_role: 'replica',
    old_leader: null,
    new_leader: null,
    timeline: null,
    lsn: null,
    reason: over.reason,
  };
}
