export * from './apply.js';
export * from './ignore.js';
export * from './manager.js';
export * from './names.js';
export * from './plan.js';
