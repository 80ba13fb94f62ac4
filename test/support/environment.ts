/**
 * A whole world on 127.0.0.1: the AWS stand-ins (IAM, STS, SSM, EKS) and the Kubernetes
 * stand-in behind the cluster EKS describes. The sync tests, the end-to-end tests, the demo and
 * the benchmark all run against this.
 */
import { validateConfig, type Config } from '../../lambda/config.js';
import type { ConfigMap } from '../../lambda/configmap.js';
import { startAwsStandins, type AuthenticationMode, type AwsStandins, type AwsStandinsOptions, type SeedAccessEntry } from './aws-standins/index.js';
import { demoDataset } from './aws-standins/dataset.js';
import { awsAuthMap } from './awsauth-fixtures.js';
import { startKubeStandin, type KubeStandin, type KubeStandinOptions } from './kube-standin.js';

export interface EnvironmentOptions {
  aws?: Omit<AwsStandinsOptions, 'clusters'>;
  /** The Kubernetes stand-in's options; identities default to the AWS stand-ins' credential. */
  kube?: Partial<Omit<KubeStandinOptions, 'clusterName' | 'identities'>>;
  /** Seed aws-auth; default: the demo cluster's (an EKS-managed node role and a hand-added admin). */
  awsAuth?: ConfigMap | null;
  /** The cluster's authentication mode, which the Kubernetes stand-in follows too. @default 'API_AND_CONFIG_MAP' */
  authenticationMode?: AuthenticationMode;
  /** Access entries EKS made itself (cluster creator, node roles). @default [] */
  accessEntries?: SeedAccessEntry[];
}

export interface Environment {
  aws: AwsStandins;
  kube: KubeStandin;
  clusterName: string;
  accountId: string;
  /** The environment a process needs to use the stand-ins (endpoints, credentials, region). */
  env(): Record<string, string>;
  /** The live aws-auth, or undefined when there is none. */
  awsAuth(): ConfigMap | undefined;
  /** Switches the cluster's authentication mode (as `aws eks update-cluster-config` does); its access entries stay. */
  setAuthenticationMode(mode: AuthenticationMode): void;
  close(): Promise<void>;
}

/** The group the README's RBAC Role/RoleBinding gives write access to aws-auth. */
export const WRITER_GROUP = 'eks-auth-sync';

/** The demo account's sources as a deployed config: IAM tags (bulk) and the SSM parameter. */
export const DEMO_CONFIG = {
  cluster: { name: 'demo', region: 'eu-west-1' },
  scanners: [
    { type: 'iam', name: 'iam-tags', iam: {} },
    { type: 'ssm', name: 'ssm-param', ssm: { path: '/eks/demo/auth' } },
  ],
};

/**
 * {@link DEMO_CONFIG} validated, as runSync takes it; `extra` adds or replaces top-level
 * sections before validation, e.g. `demoConfig({ sync: { mode: 'replace' } })`.
 */
export function demoConfig(extra: Record<string, unknown> = {}): Config {
  return validateConfig({ ...DEMO_CONFIG, ...extra }, 'DEMO_CONFIG');
}

/**
 * aws-auth as a demo cluster has it before eks-auth-sync: the node role EKS added for a managed
 * node group, a hand-added break-glass admin, the mapping that lets eks-auth-sync's own role in
 * (added by hand as the README says), and an account mapping.
 */
export function seedAwsAuth(accountId: string): ConfigMap {
  return awsAuthMap({
    mapRoles: [
      `- rolearn: arn:aws:iam::${accountId}:role/eks-managed-nodegroup-NodeInstanceRole`,
      '  username: system:node:{{EC2PrivateDNSName}}',
      '  groups:',
      '    - system:bootstrappers',
      '    - system:nodes',
      `- rolearn: arn:aws:iam::${accountId}:role/eks-auth-sync`,
      '  username: eks-auth-sync',
      '  groups:',
      `    - ${WRITER_GROUP}`,
      `- rolearn: arn:aws:iam::${accountId}:role/hand-added-admin`,
      '  username: admin',
      '  groups:',
      '    - system:masters',
      '',
    ].join('\n'),
    mapAccounts: `- "${accountId}"\n`,
  });
}

/** Starts the AWS and Kubernetes stand-ins, wired together. */
export async function startEnvironment(opts: EnvironmentOptions = {}): Promise<Environment> {
  const aws = await startAwsStandins({ dataset: demoDataset(), ...opts.aws });
  const { accountId } = aws.dataset.account;
  const clusterName = aws.dataset.clusterName;
  const seed = opts.awsAuth === undefined ? seedAwsAuth(accountId) : opts.awsAuth;
  let kube: KubeStandin;
  try {
    kube = await startKubeStandin({
      writerGroups: [WRITER_GROUP, 'system:masters'],
      // The API server authorises through the cluster's access entries as its mode says.
      accessEntries: aws.eks.accessView(clusterName),
      ...opts.kube,
      clusterName,
      identities: {
        [aws.credential.accessKeyId]: {
          secretAccessKey: aws.credential.secretAccessKey,
          ...(aws.credential.sessionToken === undefined ? {} : { sessionToken: aws.credential.sessionToken }),
          arn: aws.credential.arn,
        },
      },
      configMaps: seed ? [seed] : [],
    });
  } catch (err) {
    await aws.close();
    throw err;
  }
  const cluster = { name: clusterName, endpoint: kube.url, caPem: kube.caPem, accessEntries: opts.accessEntries ?? [] };
  aws.eks.putCluster({ ...cluster, authenticationMode: opts.authenticationMode ?? 'API_AND_CONFIG_MAP' });
  return {
    aws,
    kube,
    clusterName,
    accountId,
    env: () => aws.env(),
    awsAuth: () => kube.get('kube-system', 'aws-auth'),
    setAuthenticationMode: (mode) => aws.eks.putCluster({ name: clusterName, endpoint: kube.url, caPem: kube.caPem, authenticationMode: mode }),
    close: async () => {
      await Promise.all([aws.close(), kube.close()]);
    },
  };
}

/**
 * A colleague's `kubectl edit` racing the next write: just before the Kubernetes stand-in applies
 * it, mapUsers becomes one entry for `userArn` (username colleague, group viewers), so the write
 * meets a 409 Conflict and the tool must re-read.
 */
export function editBeforeNextWrite(kube: KubeStandin, userArn: string): void {
  kube.beforeWrite((standin) => {
    const cm = standin.get('kube-system', 'aws-auth');
    if (!cm?.data) throw new Error('aws-auth missing');
    standin.put({ ...cm, data: { ...cm.data, mapUsers: `- userarn: ${userArn}\n  username: colleague\n  groups: [viewers]\n` } });
  });
}
