// A node's place in a deployment on Redis: its lease, the per-user
// connection cap counted over every live node, and the deployment's picture.
export { Cluster, type ClusterEvents, type ClusterOptions } from './cluster.js';
export { describeDeployment, reportOf, type DeploymentStats, type NodeReport } from './node-report.js';
export type { UserSlots } from './user-slots.js';
