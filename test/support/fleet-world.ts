/**
 * The world of the fleet tests: the stand-ins' demo account with its cluster `demo` in `API` mode,
 * more clusters of that account described by the EKS stand-in, and the stand-ins' environment in
 * `process.env` for the in-process SDK clients.
 */
import { clusterCreatorEntry, demoDataset, trustPolicy } from './aws-standins/index.js';
import { startEnvironment, type Environment } from './environment.js';

/** The demo dataset's account. */
export const DEMO_ACCOUNT = '111122223333';

/** A role the function's own role is trusted to assume: how a fleet reaches a cluster as `cluster.roleARN`. */
export const CLUSTER_ACCESS_ROLE = `arn:aws:iam::${DEMO_ACCOUNT}:role/eks-auth-sync-cluster-access`;

/** Starts the world with `demo` and `more` clusters (all `API` mode); `stop` puts `process.env` back. */
export async function startFleetWorld(more: readonly string[]): Promise<{ world: Environment; stop: () => Promise<void> }> {
  const saved = { ...process.env };
  const dataset = demoDataset();
  dataset.account.roles.push({
    name: 'eks-auth-sync-cluster-access', path: '/', id: 'AROAQDEMO0CLUSTERACC1', createDate: new Date('2025-01-01T00:00:00Z'), tags: [],
    assumeRolePolicyDocument: trustPolicy({ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${DEMO_ACCOUNT}:role/eks-auth-sync` }, Action: 'sts:AssumeRole' }),
  });
  const world = await startEnvironment({ aws: { dataset }, authenticationMode: 'API', accessEntries: [clusterCreatorEntry(`arn:aws:iam::${DEMO_ACCOUNT}:role/intern-wants-admin`)] });
  Object.assign(process.env, world.env(), { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' });
  for (const name of more) world.aws.eks.putCluster({ name, endpoint: world.kube.url, caPem: world.kube.caPem, authenticationMode: 'API' });
  return {
    world,
    stop: async () => {
      process.env = saved;
      await world.close();
    },
  };
}
