export { systemClock } from './clock.js';
export { loadNodeConfigFile } from './config-file.js';
