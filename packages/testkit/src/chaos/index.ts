export * from './faults.js';
export * from './runner.js';
