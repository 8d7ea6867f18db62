export * from './choose.js';
export * from './plan.js';
export * from './quorum.js';
export * from './ssn.js';
export * from './types.js';
export * from './key.js';
