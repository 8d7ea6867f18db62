export * from './check-switchover.js';
export * from './cluster-ops.js';
export * from './reply.js';
export * from './store-port.js';
export * from './wait-leader.js';
