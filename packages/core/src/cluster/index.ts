export {
  CLUSTER_WIDE_PARAMETERS,
  configuredParameters,
  effectivePgHba,
  mergeParameters,
  type ParameterValue,
} from './parameters.js';
export { cloneSourceOf, upstreamOf } from './upstream.js';
