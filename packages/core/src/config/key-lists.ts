/**
 * The two lists every Patroni key is on, per document: implemented (the schema names it, and
 * hapg acts on it) or accepted but not acted on (loaded, named in one warning, ignored). The
 * schemas and `*_NOT_IMPLEMENTED` are the lists; this module only spells the first out as key
 * patterns, for the tests that hold docs/configuration.md to them. Any other key is unknown:
 * an error in the node's YAML (with a did-you-mean), a warning in etcd's `config` key.
 */
import { DYNAMIC_NOT_IMPLEMENTED, dynamicConfigSchema } from './dynamic-schema.js';
import { implementedKeys, type KeyPattern } from './keys.js';
import { NODE_NOT_IMPLEMENTED, nodeConfigSchema } from './node-schema.js';

/** Keys of the dynamic config (etcd `config` key, `bootstrap.dcs`) hapg acts on. */
export const DYNAMIC_IMPLEMENTED: readonly KeyPattern[] = implementedKeys(dynamicConfigSchema);

/** Keys of the node's YAML hapg acts on, `bootstrap.dcs.<dynamic key>` included. */
export const NODE_IMPLEMENTED: readonly KeyPattern[] = implementedKeys(nodeConfigSchema);

export { DYNAMIC_NOT_IMPLEMENTED, NODE_NOT_IMPLEMENTED };
