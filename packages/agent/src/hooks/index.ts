export { CallbackRunner, type CallbackLog, callbackFor } from './callbacks.js';
export { describeOutcome, type HookOutcome, hookArgv, type RunningHook, startHook } from './hook-process.js';
export { localHooks } from './local-hooks.js';
