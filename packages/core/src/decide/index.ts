export * from './candidates.js';
export * from './cannot-connect.js';
export * from './decide.js';
export * from './fast-failover.js';
export * from './leader-key.js';
export * from './lease.js';
export * from './types.js';
