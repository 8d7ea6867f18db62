export { systemClock } from './clock.js';
export { loadNodeConfigFile } from './config-file.js';
export { memberApiBase } from './member-url.js';
