/**
 * The pod role label updater: loaded by the agent (a dynamic import) only when the config has
 * a `kubernetes` section. It never blocks the HA loop: `observe` hands the loop's snapshot to
 * a queue of its own and returns.
 */
import type { KubernetesConfig } from '@hapg/core';
import type { NodeSnapshot } from '../api/snapshot.js';
import type { Logger } from '../logger.js';
import { inClusterTarget, patchPodLabels } from './api.js';
import { PodLabeler } from './labeler.js';
import { podRoleLabels } from './labels.js';

export { type ApiTarget, inClusterTarget, patchPodLabels, SERVICE_ACCOUNT_DIR } from './api.js';
export { classifyPatch, type PatchOutcome, PodLabeler } from './labeler.js';
export { labelsKey, type PodLabels, podRoleLabels } from './labels.js';

export interface RoleLabels {
  /** the loop's latest snapshot: its role becomes the pod's labels, eventually */
  observe(snapshot: NodeSnapshot): void;
  /**
   * At shutdown (Postgres stopped): removes the role label so no Service selects the pod,
   * waiting at most `waitMs`, then stops.
   */
  close(waitMs: number): Promise<void>;
}

/** null (with the reason logged as an error) when not running in a pod. */
export function startRoleLabels(opts: {
  readonly config: { readonly name: string; readonly kubernetes: KubernetesConfig };
  readonly log: Logger;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** tests: where the token, CA and namespace files are (default: the pod's service account) */
  readonly serviceAccountDir?: string;
}): RoleLabels | null {
  const k = opts.config.kubernetes;
  const log = opts.log.child({ component: 'kubernetes' });
  const found = inClusterTarget(
    opts.env,
    k,
    opts.serviceAccountDir === undefined ? {} : { serviceAccountDir: opts.serviceAccountDir },
  );
  if (!found.ok) {
    log.error(
      { reason: found.reason },
      'kubernetes: cannot reach the Kubernetes API; pod role labels will not be kept',
    );
    return null;
  }
  const pod = { namespace: found.namespace, name: opts.config.name };
  const labeler = new PodLabeler({
    patch: (labels, signal) => patchPodLabels(found.target, pod, labels, signal),
    log,
    pod: `${pod.namespace}/${pod.name}`,
  });
  log.info({ pod: `${pod.namespace}/${pod.name}`, roleLabel: k.roleLabel }, 'keeping the pod role label');
  return {
    observe: (snapshot) => labeler.set(podRoleLabels(snapshot, k)),
    close: async (waitMs) => {
      labeler.set(podRoleLabels({ role: 'replica', pgState: 'stopped' }, k));
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        labeler.idle(),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, waitMs);
        }),
      ]);
      clearTimeout(timer);
      labeler.close();
    },
  };
}
