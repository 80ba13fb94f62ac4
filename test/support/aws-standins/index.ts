import { startIamAccounts } from './accounts.js';
import { demoDataset, roleArn, type AwsAccount, type Dataset, type SsmParameter } from './dataset.js';
import { startEks, type EksClusterSpec, type EksStandin } from './eks.js';
import type { IamStandin } from './iam.js';
import type { BehaviourOptions, StandinServer } from './server.js';
import type { StandinCredential } from './sigv4.js';
import { startSsm, type SsmStandin } from './ssm.js';
import { startSts } from './sts.js';

export { IDENTITY_ACCOUNT_ID, identityAccount } from './accounts.js';
export { demoDataset, generateDataset, roleArn, userArn } from './dataset.js';
export type { AwsAccount, Dataset, DatasetOptions, DatasetSummary, IamRole, IamTag, IamUser, SsmParameter } from './dataset.js';
export { accessPolicyArn, clusterCreatorEntry, fargateProfileEntry, MAX_ACCESS_ENTRIES, nodeRoleEntry } from './access-entries.js';
export type { AccessEntry, AccessEntryType, AssociatedPolicy, IamDirectory, SeedAccessEntry } from './access-entries.js';
export type { AccessEntryView, AccessGrant, AccessScope, AuthenticationMode } from './access-view.js';
export type { EksClusterSpec, EksStandin } from './eks.js';
export type { IamStandin } from './iam.js';
export { ServiceError } from './server.js';
export { trustDecision, trustPolicy } from './trust.js';
export type { TrustDecision, TrustStatement } from './trust.js';
export type { BehaviourOptions, InterceptedCall, Interceptor, RateLimit, StandinControls, StandinServer } from './server.js';
export type { SigV4Expectation, SigV4Result, StandinCredential, WireRequest } from './sigv4.js';
export type { SsmStandin } from './ssm.js';

/** Options for `startAwsStandins`; every one has a default that gives the demo account. */
export interface AwsStandinsOptions {
  /** The account IAM serves, its cluster, region and SSM parameters. @default demoDataset() */
  dataset?: Dataset;
  /**
   * Further accounts IAM serves (e.g. an identity account), reached as in AWS: with keys STS
   * issues by AssumeRole into one of their roles, whose trust policy must allow the caller. @default []
   */
  otherAccounts?: readonly AwsAccount[];
  /** Overrides `dataset.ssmParameters`. */
  ssmParameters?: readonly SsmParameter[];
  /** Clusters EKS describes; more can be added later with `eks.putCluster`. @default [] */
  clusters?: readonly EksClusterSpec[];
  /** Keys the stand-ins accept; the first is the one `env()` hands out. @default [defaultCredential(account)] */
  credentials?: readonly StandinCredential[];
  /** The stand-ins' clock (signature dates). @default () => new Date() */
  now?: () => Date;
  /** Behaviour applied to all four services, unless a per-service entry overrides it. */
  all?: BehaviourOptions;
  iam?: BehaviourOptions;
  sts?: BehaviourOptions;
  ssm?: BehaviourOptions;
  eks?: BehaviourOptions;
}

/** The four running stand-ins and how to point clients at them. */
export interface AwsStandins {
  /** IAM of the dataset's account, at the endpoint every account's IAM is reached through. */
  readonly iam: IamStandin;
  /** Each account's IAM (the dataset's and `otherAccounts`), by account ID: its own data and counters. */
  readonly iamAccounts: ReadonlyMap<string, IamStandin>;
  readonly sts: StandinServer;
  readonly ssm: SsmStandin;
  readonly eks: EksStandin;
  readonly dataset: Dataset;
  readonly region: string;
  /** The key `env()` and `clientConfig()` hand out. */
  readonly credential: StandinCredential;
  /**
   * Environment for a child process (the Lambda bundle, the CLI): endpoints through the SDK's
   * `AWS_ENDPOINT_URL_<SERVICE>` variables, static credentials, region, and no shared config.
   */
  env(): Record<string, string>;
  /** Settings for an in-process SDK client: `new IAMClient({ ...standins.clientConfig('iam') })`. */
  clientConfig(service: 'iam' | 'sts' | 'ssm' | 'eks'): {
    region: string;
    endpoint: string;
    credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  };
  /** Calls per service and action, every account's IAM summed, e.g. `{ iam: { GetAccountAuthorizationDetails: 7 }, sts: {}, … }`. */
  calls(): Record<'iam' | 'sts' | 'ssm' | 'eks', Record<string, number>>;
  /** All calls to all four services. */
  totalCalls(): number;
  /** Resets every service's counters and pending injected failures. */
  reset(): void;
  close(): Promise<void>;
}

/** The key the stand-ins hand out by default: a Lambda-like assumed role in the dataset's account. */
function defaultCredential(accountId: string): StandinCredential {
  return {
    accessKeyId: 'ASIASTANDINEXAMPLE01',
    secretAccessKey: 'standin/Secret/Key/not+a+real+one/0000000',
    sessionToken: 'IQoJb3JpZ2luX2VjEStandinSessionTokenNotReal',
    arn: `arn:aws:sts::${accountId}:assumed-role/eks-auth-sync/eks-auth-sync`,
  };
}

/**
 * Starts IAM, STS, SSM and EKS stand-ins on 127.0.0.1, each on its own port, sharing one set
 * of accepted keys.
 *
 * @example
 * const aws = await startAwsStandins({ dataset: generateDataset({ roles: 5000, users: 2000 }), all: { latencyMs: 30 }, iam: { rateLimit: { requestsPerSecond: 20 } } });
 * spawn('node', ['dist/handler.mjs'], { env: { ...process.env, ...aws.env() } });
 * await aws.close();
 */
export async function startAwsStandins(opts: AwsStandinsOptions = {}): Promise<AwsStandins> {
  const dataset = opts.dataset ?? demoDataset();
  const { accountId } = dataset.account;
  const region = dataset.region;
  const creds = opts.credentials ?? [defaultCredential(accountId)];
  const credential = creds[0];
  if (credential === undefined) throw new Error('startAwsStandins: credentials must name at least one key');
  const credentials = new Map(creds.map((c) => [c.accessKeyId, c]));
  const common = (b: BehaviourOptions | undefined) => ({ ...opts.all, ...b, credentials, ...(opts.now ? { now: opts.now } : {}) });
  // With a custom endpoint the SDK and the CLI sign global services for the client's region.
  const global = [...new Set(['us-east-1', region])];

  const started: StandinServer[] = [];
  const track = <T extends StandinServer>(s: T): T => {
    started.push(s);
    return s;
  };
  const accounts = [dataset.account, ...(opts.otherAccounts ?? [])];
  let iamAccounts: ReadonlyMap<string, IamStandin> = new Map();
  try {
    const [iam, sts, ssm, eks] = await Promise.all([
      startIamAccounts({ ...common(opts.iam), account: dataset.account, signingRegions: global }, opts.otherAccounts ?? []).then((a) => {
        iamAccounts = a.byAccount;
        return track(a.primary);
      }),
      startSts({
        ...common(opts.sts),
        signingRegions: global,
        assumeRole: {
          // Roles of the served accounts, whose trust policy STS checks; the ARN may carry the role's path or not.
          trustPolicyOf: (arn) => {
            for (const account of accounts) {
              const role = account.roles.find((r) => arn === roleArn(account, r) || arn === roleArn(account, { ...r, path: '/' }));
              if (role !== undefined) return role.assumeRolePolicyDocument;
            }
            return undefined;
          },
          register: (c) => void credentials.set(c.accessKeyId, c),
        },
      }).then(track),
      startSsm({ ...common(opts.ssm), region, accountId, parameters: opts.ssmParameters ?? dataset.ssmParameters }).then(track),
      startEks({
        ...common(opts.eks),
        region,
        accountId,
        partition: dataset.account.partition,
        clusters: opts.clusters ?? [],
        // EKS resolves a principal through IAM: it must exist, under the path IAM has it.
        iam: {
          accountId,
          pathOf: (kind, name) => (kind === 'role' ? dataset.account.roles : dataset.account.users).find((i) => i.name === name)?.path,
        },
      }).then(track),
    ]);
    const services = { iam, sts, ssm, eks };
    // The front's stand-in (`iam`) is tracked in `started`; the other accounts' are counted here.
    const otherIam = [...iamAccounts.values()].filter((s) => s !== iam);
    const iamCalls = (): Record<string, number> => {
      const sum: Record<string, number> = {};
      for (const s of [iam, ...otherIam]) for (const [action, n] of Object.entries(s.calls())) sum[action] = (sum[action] ?? 0) + n;
      return sum;
    };
    return {
      ...services,
      iamAccounts,
      dataset,
      region,
      credential,
      env: () => ({
        AWS_ENDPOINT_URL_IAM: iam.endpoint,
        AWS_ENDPOINT_URL_STS: sts.endpoint,
        AWS_ENDPOINT_URL_SSM: ssm.endpoint,
        AWS_ENDPOINT_URL_EKS: eks.endpoint,
        AWS_ACCESS_KEY_ID: credential.accessKeyId,
        AWS_SECRET_ACCESS_KEY: credential.secretAccessKey,
        ...(credential.sessionToken === undefined ? {} : { AWS_SESSION_TOKEN: credential.sessionToken }),
        AWS_REGION: region,
        AWS_DEFAULT_REGION: region,
        AWS_CONFIG_FILE: '/dev/null',
        AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
        AWS_EC2_METADATA_DISABLED: 'true',
      }),
      clientConfig: (service) => ({
        region,
        endpoint: services[service].endpoint,
        credentials: {
          accessKeyId: credential.accessKeyId,
          secretAccessKey: credential.secretAccessKey,
          ...(credential.sessionToken === undefined ? {} : { sessionToken: credential.sessionToken }),
        },
      }),
      calls: () => ({ iam: iamCalls(), sts: sts.calls(), ssm: ssm.calls(), eks: eks.calls() }),
      totalCalls: () => [...started, ...otherIam].reduce((n, s) => n + s.totalCalls(), 0),
      reset: () => [...started, ...otherIam].forEach((s) => s.reset()),
      close: async () => {
        await Promise.all(started.map((s) => s.close()));
      },
    };
  } catch (err) {
    await Promise.all(started.map((s) => s.close()));
    throw err;
  }
}
