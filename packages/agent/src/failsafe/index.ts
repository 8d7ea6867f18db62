export { AgentFailsafe, type AgentFailsafeDeps } from './agent-failsafe.js';
export { type AnswerDeps, answerFailsafe, type FailsafeReply } from './answer.js';
export { failsafeKeyDuty, failsafeMembers } from './key-duty.js';
export { LongestPromiseFile } from './longest-promise.js';
export { type AcceptResult, type FailsafeHold, FailsafePromises } from './promises.js';
export {
  type FailsafeAnswer,
  type FailsafeRequest,
  type FailsafeRoundPorts,
  FailsafeRounds,
  type RoundInput,
  type RoundOutcome,
} from './rounds.js';
export { FailsafeRunner, httpFailsafePost, roundIntervalMs } from './runner.js';
