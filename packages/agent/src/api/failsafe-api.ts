import type { FailsafeReply } from '../failsafe/index.js';

/** What the REST API needs of failsafe mode (`AgentFailsafe` provides it). */
export interface FailsafeApi {
  /** the failsafe key as last read, or as this leader last wrote it; null: none */
  key(): Readonly<Record<string, string>> | null;
  /** `POST /failsafe` */
  answer(body: unknown): Promise<FailsafeReply>;
}
