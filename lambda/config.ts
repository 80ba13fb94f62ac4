/**
 * The configuration: its schema, and loading it from YAML or JSON.
 *
 * Unknown keys are errors, so a typo never silently does nothing (and the key probably meant is
 * named); every error names its path and the rejected value (`scanners[3].type: expected one of
 * static, file, iam, ssm (got "ldap")`), and all of them are reported at once. The
 * `scanners` section keeps the shape of polarsquad/eks-auth-sync so its configs carry over.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import * as z from 'zod/mini';
// The classes by name, not through `z.core`: a namespace member access makes esbuild keep zod's whole
// core (JSON-schema generator, compiler, every locale), 400 KB of the bundle and most of our cold start.
import {
  $ZodArray, $ZodDefault, $ZodDiscriminatedUnion, $ZodObject, $ZodOptional, $ZodPipe,
  type $ZodIssue, type $ZodType, type util as zodUtil,
} from 'zod/v4/core';
import { ConfigError } from './errors.js';
import { yamlNestingProblem } from './yaml-limits.js';
import {
  quoteValue, renderedPrefix, reservedPrefix, roleArnProblem, userArnProblem, validateGroups, validateUsername, type RoleArn, type UserArn,
} from './mappings.js';
import { policySpecProblem } from './targets/access-entries/translate.js';
import { TAG_RESTRICTED_POLICIES } from './scanners/iam-policies.js';

/** Fails a string with the message `problem` returns, if any. */
const validString = (problem: (s: string) => string | undefined) =>
  z.string().check(z.superRefine((s, ctx) => {
    const p = problem(s);
    if (p) ctx.addIssue({ code: 'custom', message: p, input: s });
  }));

const groups = z.array(z.string()).check(z.superRefine((g, ctx) => {
  const p = validateGroups(g);
  if (p) ctx.addIssue({ code: 'custom', message: p, input: g });
}));

/**
 * `{policy: AmazonEKSViewPolicy, namespaces: [dev, team-*]}`; no namespaces: cluster scope. The
 * shape is checked here, the name and namespaces by the rule the access-entries target applies.
 */
const accessPolicy = z.strictObject({
  policy: z.string(),
  namespaces: z.optional(z.array(z.string())),
}).check(z.superRefine((spec, ctx) => {
  const p = policySpecProblem(spec);
  if (p) ctx.addIssue({ code: 'custom', message: p, input: spec });
}));
const accessPolicies = z.optional(z.array(accessPolicy));

const userEntry = z.strictObject({
  userarn: z.pipe(validString(userArnProblem), z.transform((s) => s as UserArn)),
  username: validString(validateUsername),
  groups: z._default(groups, []),
  accessPolicies,
});
const roleEntry = z.strictObject({
  rolearn: z.pipe(validString(roleArnProblem), z.transform((s) => s as RoleArn)),
  username: validString(validateUsername),
  groups: z._default(groups, []),
  accessPolicies,
});

/** The aws-auth entry document used by static, file and ssm sources: `{users, roles}`. */
export const mappingsDocumentSchema = z.strictObject({
  users: z._default(z.array(userEntry), []),
  roles: z._default(z.array(roleEntry), []),
});

const LOOPBACK_HOST = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])$/;

/**
 * Why `url` may not be an AWS endpoint, or undefined when it may: https anywhere, plain http
 * only on the loopback interface (local stand-ins), since over http the requests, the cluster CA
 * and the credentials they yield travel unprotected.
 * @example endpointProblem('http://10.0.0.5:4566') // 'plain http is allowed only on loopback …'
 */
export function endpointProblem(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `expected a url (got ${JSON.stringify(url)}): https, or plain http on loopback only`;
  }
  if (parsed.protocol === 'https:') return undefined;
  if (parsed.protocol === 'http:' && LOOPBACK_HOST.test(parsed.hostname)) return undefined;
  if (parsed.protocol === 'http:') {
    return `plain http is allowed only on loopback (127.0.0.1, ::1, localhost) (got ${JSON.stringify(url)}); use https`;
  }
  return `expected an https URL (got ${JSON.stringify(url)})`;
}

const endpointUrl = validString(endpointProblem);

const awsSettings = z.strictObject({
  /** A role to assume for this scanner's (or every scanner's) AWS calls. */
  roleARN: z.optional(validString(roleArnProblem)),
  region: z.optional(z.string().check(z.minLength(1))),
  /**
   * The original's single endpoint URL: used only for the scanners' own services (IAM for `iam`
   * scanners, SSM for `ssm` scanners), never for STS or EKS. `endpoints` says it per service.
   */
  endpoint: z.optional(endpointUrl),
  /** An endpoint URL per service, replacing its default one (VPC endpoints, LocalStack). */
  endpoints: z.optional(z.strictObject({
    iam: z.optional(endpointUrl),
    ssm: z.optional(endpointUrl),
    sts: z.optional(endpointUrl),
    eks: z.optional(endpointUrl),
  })),
  /** Retries after the first attempt, with the SDK's adaptive retry. @default retried until the run's deadline */
  maxRetries: z.optional(z.int().check(z.gte(0))),
});

const accountId = z.string().check(z.regex(/^\d{12}$/, 'expected a 12-digit AWS account ID as a string (quote it in YAML)'));

const staticSection = mappingsDocumentSchema;
const fileSection = z.strictObject({ path: z.string().check(z.minLength(1)) });
const iamSection = z.strictObject({
  clusterName: z.optional(z.string().check(z.minLength(1))),
  clusterAccountID: z.optional(accountId),
  pathPrefix: z._default(z.string().check(z.regex(/^\/(?:[\x21-\x7e]*\/)?$/, 'expected an IAM path such as / or /teams/')), '/'),
  groupSeparator: z._default(z.string().check(z.minLength(1)), '::'),
  disableUserScan: z._default(z.boolean(), false),
  disableRoleScan: z._default(z.boolean(), false),
  mode: z._default(z.enum(['bulk', 'perIdentity']), 'bulk'),
  concurrency: z._default(z.int().check(z.gte(1), z.lte(32)), 8),
  allowSystemGroups: z._default(z.array(z.string().check(z.startsWith('system:'))), []),
  /** The admin access policies the `accessPolicies` tag may grant; by default it may grant neither. */
  allowAccessPolicies: z._default(z.array(z.enum(TAG_RESTRICTED_POLICIES)), []),
});
const ssmSection = z.strictObject({
  path: z.string().check(z.regex(/^\/?[\w.\-/]+$/, 'expected an SSM parameter name such as /eks/mycluster/auth')),
  kmsKeyArn: z.optional(z.string().check(z.startsWith('arn:'))),
});

// --- Scanner sections: iamGroups and identityCenter (issue 12) ---

/** The variables an iamGroups `username` template may use, rendered by eks-auth-sync for each member. */
export const MEMBER_TEMPLATES = ['{{UserName}}', '{{AccountID}}'] as const;
// What a member's variables render in the examples a config error shows.
const MEMBER_SAMPLE = new Map([['{{UserName}}', 'alice'], ['{{AccountID}}', '111122223333']]);

/**
 * Why `template` cannot name the members of an IAM group, or undefined when it can: only
 * {@link MEMBER_TEMPLATES}, a rendering must be a valid username, and a literal reserved prefix
 * (`system:{{UserName}}`, which every member would render) is refused. A member whose own name
 * makes a reserved or invalid name is skipped at run time instead.
 */
function memberUsernameProblem(template: string): string | undefined {
  const unknown = template.replace(/\{\{(?:UserName|AccountID)\}\}/g, '').includes('{{');
  if (unknown) return `username ${quoteValue(template)} uses an unknown template (known here: ${MEMBER_TEMPLATES.join(', ')})`;
  const sample = template.replace(/\{\{\w+\}\}/g, (t) => MEMBER_SAMPLE.get(t) ?? t);
  const invalid = validateUsername(sample);
  if (invalid !== undefined) return `username ${quoteValue(template)} renders ${quoteValue(sample)} for the user alice: ${invalid}`;
  // Text before the first template, when it holds a colon, starts every rendering.
  const head = template.split('{{')[0] ?? '';
  const reserved = !template.includes('{{') || head.includes(':') ? reservedPrefix(head) : undefined;
  if (reserved !== undefined) return `username ${quoteValue(template)}: every member would get a "${reserved}" username, which is reserved for Kubernetes, EKS and AWS`;
  return undefined;
}

// IAM's name rules: groups [\w+=,.@-]{1,128}; permission sets [\w+=,.@-]{1,32}.
const iamGroupName = z.string().check(z.regex(/^[\w+=,.@-]{1,128}$/, 'expected an IAM group name: letters, digits and _+=,.@-, at most 128'));
const permissionSetName = z.string().check(z.regex(/^[\w+=,.@-]{1,32}$/, 'expected a permission set name: letters, digits and _+=,.@-, at most 32'));
const scanMode = z._default(z.enum(['bulk', 'perIdentity']), 'bulk');

const iamGroupsSection = z.strictObject({
  /** `bulk`: membership from GetAccountAuthorizationDetails (shared with iam scanners); `perIdentity`: one GetGroup per group. */
  mode: scanMode,
  groups: z.array(z.strictObject({
    /** The IAM group's name (IAM compares names case-insensitively; so does this). */
    name: iamGroupName,
    /** @default '{{UserName}}' */
    username: z._default(validString(memberUsernameProblem), '{{UserName}}'),
    groups: z._default(groups, []),
    accessPolicies,
  })).check(z.minLength(1, 'list at least one IAM group')),
});

const identityCenterSection = z.strictObject({
  /** `bulk`: the roles of a bulk read of the same account when the config has one, else one ListRoles; `perIdentity`: ListRoles. */
  mode: scanMode,
  permissionSets: z.array(z.strictObject({
    name: permissionSetName,
    /** @default 'sso:<name>:{{SessionName}}' */
    username: z.optional(validString((u) => accessEntryUsernameProblem(u))),
    groups: z._default(groups, []),
    accessPolicies,
  }).check(z.superRefine((ps, ctx) => {
    if (ps.username !== undefined) return;
    const problem = accessEntryUsernameProblem(defaultPermissionSetUsername(ps.name));
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `the default username does not work for this name (${problem}); set username`, input: ps.name, path: ['username'] });
  }))).check(z.minLength(1, 'list at least one permission set')),
});

/**
 * The username a permission set's role gets unless the config sets one: the person's Identity
 * Center user name after a prefix naming the permission set, so the audit log shows both.
 * @example defaultPermissionSetUsername('AdministratorAccess') // 'sso:AdministratorAccess:{{SessionName}}'
 */
export function defaultPermissionSetUsername(permissionSet: string): string {
  return `sso:${permissionSet}:{{SessionName}}`;
}

// --- end of the iamGroups and identityCenter sections ---

/** Why `expression` is not an EventBridge schedule expression, or undefined when it is one. */
function scheduleProblem(expression: string): string | undefined {
  const rate = /^rate\((\d+) (minute|hour|day)(s?)\)$/.exec(expression);
  if (rate) {
    const value = Number(rate[1]);
    if (value < 1) return 'a rate must be at least 1';
    // EventBridge rejects "rate(1 minutes)" and "rate(5 minute)" at deploy time; say so at synth.
    if ((value === 1) !== (rate[3] === '')) return `write rate(1 ${rate[2]}) or rate(N ${rate[2]}s)`;
    return undefined;
  }
  const cron = /^cron\((.+)\)$/.exec(expression);
  if (cron?.[1] !== undefined) {
    const fields = cron[1].split(' ');
    if (fields.length !== 6) return 'a cron expression has six fields: minutes hours day-of-month month day-of-week year';
    if (fields[2] !== '?' && fields[4] !== '?') return 'in a cron expression, day-of-month or day-of-week must be ?';
    return undefined;
  }
  return 'expected an EventBridge schedule expression: rate(15 minutes) or cron(0 * * * ? *)';
}

/**
 * Why EKS would refuse `u` as an access entry's username: its own and the platform's prefixes, judged on what
 * every rendering starts with, and a template anywhere but after a literal prefix with a colon.
 */
function accessEntryUsernameProblem(u: string): string | undefined {
  const problem = validateUsername(u);
  if (problem !== undefined) return problem;
  if (reservedPrefix(u) !== undefined) return 'an access entry username cannot start with system:, eks:, aws:, amazon: or iam:';
  if (renderedPrefix(u).kind !== 'fixed') {
    return `an access entry username may use a template only after a literal prefix with a colon, e.g. "eks-auth-sync:{{SessionName}}" (got ${quoteValue(u)})`;
  }
  return undefined;
}

/**
 * The CDK app's deployment settings (infra/settings.ts maps them onto the EksAuthSync props).
 * The Lambda and the CLI ignore this section; it lives in the same file so one config file
 * describes the sync and its stack, checked with the same path-named errors.
 */
const deploymentSection = z.strictObject({
  schedule: z.optional(validString(scheduleProblem)),
  dryRunOnly: z.optional(z.boolean()),
  memorySize: z.optional(z.int().check(z.gte(128), z.lte(10_240))),
  // Not down to Lambda's 1 s: the handler stops 10 s before its timeout, ahead of the write.
  timeoutSeconds: z.optional(z.int().check(z.gte(30, 'must be at least 30 (a run stops 10 s before its timeout)'), z.lte(900))),
  /** Checked against the values CloudWatch Logs accepts by the CDK app, which knows them. */
  logRetentionDays: z.optional(z.int().check(z.gte(1))),
  alarmTopicArn: z.optional(z.string().check(z.regex(
    /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w-]{1,256}$/,
    'expected a standard SNS topic ARN such as arn:aws:sns:eu-west-1:111122223333:oncall',
  ))),
  /** At most a week: a CloudWatch alarm looks back no further. */
  noSuccessAlarmMinutes: z.optional(z.int().check(z.gte(1), z.lte(7 * 24 * 60))),
  createAccessEntry: z.optional(z.boolean()),
  kubernetesGroup: z.optional(validString((g) => validateGroups([g])
    ?? (g.startsWith('system:') ? 'an access entry cannot bind a system: group' : undefined))),
  kubernetesUsername: z.optional(validString(accessEntryUsernameProblem)),
  stackName: z.optional(z.string().check(z.regex(
    /^[A-Za-z][A-Za-z0-9-]{0,127}$/,
    'expected a CloudFormation stack name: a letter, then letters, digits and -, at most 128 characters',
  ))),
  // Event-driven sync (lambda/events.ts, infra/events.ts): which change events trigger a run
  // besides the schedule. Each is off unless set.
  events: z.optional(z.strictObject({
    /** Parameter Store Change events for the ssm scanners' parameters. */
    ssm: z.optional(z.boolean()),
    /** IAM's CloudTrail events, forwarded from us-east-1 by a companion stack. */
    iam: z.optional(z.boolean()),
    /** Identity Center account assignments, in the function's region and account. */
    identityCenter: z.optional(z.boolean()),
    /** The function's region, where the forwarder sends IAM's events. @default cluster.region */
    region: z.optional(z.string().check(z.regex(/^[a-z]{2}(?:-[a-z]+)+-\d$/, 'expected an AWS region such as eu-west-1'))),
  })),
  // --- Change notifications and private endpoints (issue 13): existing resources, imported by ID ---
  notifications: z.optional(z.strictObject({
    topicArn: z.optional(z.string().check(z.regex(
      /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w-]{1,256}$/,
      'expected a standard (not FIFO) SNS topic ARN such as arn:aws:sns:eu-west-1:111122223333:access-changes',
    ))),
    eventBus: z.optional(z.string().check(z.regex(
      /^(arn:aws[a-z-]*:events:[a-z0-9-]+:\d{12}:event-bus\/[\w.\-/]{1,256}|[\w.\-/]{1,256})$/,
      'expected an EventBridge bus name (default for the default bus) or a bus ARN such as arn:aws:events:eu-west-1:111122223333:event-bus/platform',
    ))),
  })),
  vpc: z.optional(z.strictObject({
    vpcId: z.string().check(z.regex(/^vpc-[0-9a-f]{8,17}$/, 'expected a VPC ID such as vpc-0123456789abcdef0')),
    subnetIds: z.array(z.string().check(z.regex(/^subnet-[0-9a-f]{8,17}$/, 'expected a subnet ID such as subnet-0123456789abcdef0')))
      .check(z.minLength(1, 'at least one subnet is required')),
    securityGroupIds: z.optional(z.array(z.string().check(z.regex(/^sg-[0-9a-f]{8,17}$/, 'expected a security group ID such as sg-0123456789abcdef0')))
      .check(z.minLength(1, 'omit securityGroupIds to have one created, or name at least one'))),
  })),
});

const scannerBase = { name: z.optional(z.string().check(z.minLength(1))), aws: z.optional(awsSettings) };
const scanner = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('static'), ...scannerBase, static: staticSection }),
  z.strictObject({ type: z.literal('file'), ...scannerBase, file: fileSection }),
  z.strictObject({ type: z.literal('iam'), ...scannerBase, iam: iamSection }),
  z.strictObject({ type: z.literal('ssm'), ...scannerBase, ssm: ssmSection }),
  z.strictObject({ type: z.literal('iamGroups'), ...scannerBase, iamGroups: iamGroupsSection }),
  z.strictObject({ type: z.literal('identityCenter'), ...scannerBase, identityCenter: identityCenterSection }),
]);
const SCANNER_TYPES = ['static', 'file', 'iam', 'ssm', 'iamGroups', 'identityCenter'] as const;

// ---- One cluster (`cluster:`) or many (`clusters:`) -------------------------------------------
const clusterFields = {
  name: z.string().check(z.minLength(1)),
  region: z.optional(z.string().check(z.minLength(1))),
  accountID: z.optional(accountId),
  /** A role to assume for this cluster's EKS and STS calls (a cluster in another account); scanners keep their own settings. */
  roleARN: z.optional(validString(roleArnProblem)),
};
const syncSection = z.strictObject({
  mode: z._default(z.enum(['merge', 'replace']), 'merge'),
  allowEmpty: z._default(z.boolean(), false),
  maxRemovals: z._default(z.int().check(z.gte(0)), 20),
  conflictRetries: z._default(z.int().check(z.gte(0)), 5),
  /**
   * Rewrite a broken mapRoles/mapUsers from the entries that can still be read, reporting what
   * is dropped, instead of refusing to write (default false). Optional rather than defaulted, so
   * settings written before it existed still type-check.
   */
  repairBrokenAwsAuth: z.optional(z.boolean()),
  /**
   * Where the mappings go: `configMap` (aws-auth), `accessEntries` (EKS access entries), `both`,
   * or `auto` (default), which follows the cluster's authentication mode. Optional rather than
   * defaulted, so settings written before it existed still type-check.
   */
  target: z.optional(z.enum(['auto', 'configMap', 'accessEntries', 'both'])),
});
const scannerList = z.array(scanner).check(z.minLength(1, 'at least one scanner is required'));
/** One cluster of a `clusters:` list: `sync` is merged over the top-level one, `scanners` replace the shared ones. */
const fleetCluster = z.strictObject({
  ...clusterFields,
  sync: z.optional(z.partial(z.strictObject({
    mode: z.enum(['merge', 'replace']),
    allowEmpty: z.boolean(),
    maxRemovals: z.int().check(z.gte(0)),
    conflictRetries: z.int().check(z.gte(0)),
    repairBrokenAwsAuth: z.boolean(),
    target: z.enum(['auto', 'configMap', 'accessEntries', 'both']),
  }))),
  scanners: z.optional(scannerList),
});

const configSchema = z.strictObject({
  cluster: z.optional(z.strictObject(clusterFields)),
  clusters: z.optional(z.array(fleetCluster).check(z.minLength(1, 'at least one cluster is required'))),
  aws: z.optional(awsSettings),
  sync: z._default(syncSection, { mode: 'merge', allowEmpty: false, maxRemovals: 20, conflictRetries: 5 }),
  scanners: z.optional(scannerList),
  deployment: z.optional(deploymentSection),
});

type ConfigDocument = z.infer<typeof configSchema>;
export type ScannerConfig = z.infer<typeof scanner>;
/** The cluster a config keeps in step: `cluster:`, or one entry of `clusters:` without its overrides. */
export type ClusterSettings = NonNullable<ConfigDocument['cluster']>;
/** One entry of a `clusters:` list. */
export type FleetClusterConfig = NonNullable<ConfigDocument['clusters']>[number];
/** A config for one cluster (`cluster:`): what runSync takes. */
export type Config = Omit<ConfigDocument, 'cluster' | 'clusters' | 'scanners'> & { cluster: ClusterSettings; scanners: ScannerConfig[] };
/** A config for many clusters (`clusters:`); lambda/fleet.ts turns each entry into a {@link Config}. */
export type FleetConfig = Omit<ConfigDocument, 'cluster' | 'clusters'> & { clusters: FleetClusterConfig[] };
/** Either form of the config file. */
export type AnyConfig = Config | FleetConfig;

/** True for a `clusters:` config. */
export function isFleetConfig(config: AnyConfig): config is FleetConfig {
  return 'clusters' in config;
}

/**
 * What the schema alone cannot say about `cluster:`/`clusters:`: exactly one of them, each
 * cluster named once, and every cluster with scanners (its own or the shared top-level ones).
 */
function clusterProblems(top: Record<string, unknown>): string[] {
  const hasOne = top['cluster'] !== undefined;
  const list = top['clusters'];
  if (hasOne && list !== undefined) {
    return ['cluster, clusters: give one of them: cluster for one cluster, or clusters for a list of them'];
  }
  if (!hasOne && list === undefined) return ['cluster: required (or clusters: a list of clusters)'];
  if (hasOne) return top['scanners'] === undefined ? ['scanners: required'] : [];
  if (!Array.isArray(list)) return [];
  const problems: string[] = [];
  const firstIndex = new Map<unknown, number>();
  list.forEach((entry: unknown, i) => {
    if (!isRecord(entry)) return;
    const name = entry['name'];
    const earlier = firstIndex.get(name);
    if (typeof name === 'string' && earlier !== undefined) {
      problems.push(`clusters[${i}].name: ${quoteValue(name)} is also the name of clusters[${earlier}]; name each cluster once`);
    } else {
      firstIndex.set(name, i);
    }
    if (entry['scanners'] === undefined && top['scanners'] === undefined) {
      problems.push(`clusters[${i}].scanners: required: this cluster has none, and there are no top-level scanners to share`);
    }
  });
  return problems;
}
// ---- end of cluster/clusters ----------------------------------------------------------------
export type AwsSettings = z.infer<typeof awsSettings>;
export type SyncSettings = Config['sync'];
export type StaticScannerConfig = Extract<ScannerConfig, { type: 'static' }>['static'];
export type FileScannerConfig = Extract<ScannerConfig, { type: 'file' }>['file'];
export type IamScannerConfig = Extract<ScannerConfig, { type: 'iam' }>['iam'];
export type SsmScannerConfig = Extract<ScannerConfig, { type: 'ssm' }>['ssm'];
export type IamGroupsScannerConfig = Extract<ScannerConfig, { type: 'iamGroups' }>['iamGroups'];
export type IdentityCenterScannerConfig = Extract<ScannerConfig, { type: 'identityCenter' }>['identityCenter'];

/** A scanner's display name in messages: its `name`, else `<type>[<index>]`, e.g. `iam[2]`. */
export function scannerName(s: ScannerConfig, index: number): string {
  return s.name ?? `${s.type}[${index}]`;
}

type Path = readonly PropertyKey[];

function formatPath(path: Path): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `${out ? '.' : ''}${String(p)}`;
  return out || '(top level)';
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return `string ${quoteValue(value)}`;
  return typeof value === 'object' ? 'a mapping' : `${typeof value} ${String(JSON.stringify(value))}`;
}

/** ` (got <value>)` for a rejected value: strings quoted (long ones cut), anything else described. */
function got(value: unknown): string {
  return ` (got ${typeof value === 'string' ? quoteValue(value) : describe(value)})`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The keys the strict object at `path` takes, found by walking `schema` along the document
 * `value` (which picks the scanner variant by its `type`); empty when the walk finds no object.
 */
function knownKeys(schema: $ZodType, path: Path, value: unknown): string[] {
  let at: $ZodType | undefined = schema;
  let v = value;
  let depth = 0;
  while (at !== undefined) {
    if (at instanceof $ZodOptional || at instanceof $ZodDefault) {
      at = at._zod.def.innerType;
    } else if (at instanceof $ZodPipe) {
      at = at._zod.def.in;
    } else if (at instanceof $ZodDiscriminatedUnion) {
      const discriminator: string = at._zod.def.discriminator;
      const tag: unknown = isRecord(v) ? v[discriminator] : undefined;
      const options: readonly $ZodType[] = at._zod.def.options;
      at = options.find((o) => o._zod.propValues?.[discriminator]?.has(tag as zodUtil.Primitive));
    } else if (depth === path.length) {
      return at instanceof $ZodObject ? Object.keys(at._zod.def.shape) : [];
    } else {
      const step = path[depth++];
      if (at instanceof $ZodObject && typeof step === 'string' && Object.hasOwn(at._zod.def.shape, step)) {
        at = at._zod.def.shape[step];
        v = isRecord(v) && Object.hasOwn(v, step) ? v[step] : undefined;
      } else if (at instanceof $ZodArray && typeof step === 'number') {
        at = at._zod.def.element;
        v = Array.isArray(v) ? v[step] : undefined;
      } else {
        return [];
      }
    }
  }
  return [];
}

/** Edits (insert, delete, substitute, swap two neighbours) that turn `a` into `b`. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  const cell = (i: number, j: number): number => d[i]?.[j] ?? Infinity;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      let best = Math.min(cell(i - 1, j) + 1, cell(i, j - 1) + 1, cell(i - 1, j - 1) + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, cell(i - 2, j - 2) + 1);
      (d[i] as number[])[j] = best;
    }
  }
  return cell(a.length, b.length);
}

/** The known key `key` was probably meant as: the same but for case, else within a small typo. */
function meantKey(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  const sameButCase = known.find((k) => k.toLowerCase() === lower);
  if (sameButCase !== undefined) return sameButCase;
  const allowed = lower.length <= 4 ? 1 : 2;
  let meant: string | undefined;
  let fewest = allowed + 1;
  for (const k of known) {
    const edits = editDistance(lower, k.toLowerCase());
    if (edits < fewest) [meant, fewest] = [k, edits];
  }
  return meant;
}

function issueLines(issue: $ZodIssue, schema: $ZodType, raw: unknown): string[] {
  const at = (extra: Path = []) => formatPath([...issue.path, ...extra]);
  switch (issue.code) {
    case 'unrecognized_keys': {
      const known = knownKeys(schema, issue.path, raw);
      return issue.keys.map((k) => {
        const meant = meantKey(k, known);
        return `${at([k])}: unknown key${meant === undefined ? '' : `; did you mean ${meant}?`}`;
      });
    }
    case 'invalid_type':
      return [issue.input === undefined ? `${at()}: required` : `${at()}: expected ${issue.expected}, got ${describe(issue.input)}`];
    case 'invalid_union':
      if (issue.discriminator) {
        const tag = isRecord(issue.input) ? issue.input[issue.discriminator] : undefined;
        const options = SCANNER_TYPES.join(', ');
        return [tag === undefined ? `${at()}: required: one of ${options}` : `${at()}: expected one of ${options}${got(tag)}`];
      }
      return [`${at()}: ${issue.message}`];
    case 'invalid_value':
      return [`${at()}: expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}${got(issue.input)}`];
    case 'too_small':
      if (issue.origin === 'string' && issue.minimum === 1) return [`${at()}: must not be empty`];
      if (issue.origin === 'array') return [`${at()}: ${issue.message !== 'Invalid input' ? issue.message : `needs at least ${issue.minimum}`}`];
      return [`${at()}: ${issue.message !== 'Invalid input' ? issue.message : `must be at least ${issue.minimum}`}${got(issue.input)}`];
    case 'too_big':
      return [`${at()}: must be at most ${issue.maximum}${got(issue.input)}`];
    case 'invalid_format': {
      const expected = 'prefix' in issue ? `expected a value starting with ${JSON.stringify(issue.prefix)}` : `expected a ${issue.format}`;
      return [`${at()}: ${issue.message !== 'Invalid input' ? issue.message : expected}${got(issue.input)}`];
    }
    case 'custom':
      // Most custom problems already quote the value (`username "x" …`); the others get it appended.
      return [`${at()}: ${issue.message}${typeof issue.input !== 'string' || issue.message.includes(quoteValue(issue.input)) ? '' : got(issue.input)}`];
    default:
      return [`${at()}: ${issue.message}`];
  }
}

/**
 * Problems zod cannot phrase well: a section that does not match `type`, the original's
 * `kubernetes` section, and the rules of `cluster:`/`clusters:`.
 */
function shapeProblems(raw: unknown): string[] {
  if (!isRecord(raw)) return [];
  const problems: string[] = [];
  const top = raw;
  if ('kubernetes' in top) {
    problems.push('kubernetes: not supported; the cluster section replaces it (cluster.name, cluster.region)');
  }
  problems.push(...clusterProblems(top));
  const scannerLists: [string, unknown][] = [['scanners', top['scanners']]];
  if (Array.isArray(top['clusters'])) {
    top['clusters'].forEach((c: unknown, i) => scannerLists.push([`clusters[${i}].scanners`, isRecord(c) ? c['scanners'] : undefined]));
  }
  for (const [at, list] of scannerLists) {
    if (!Array.isArray(list)) continue;
    list.forEach((s: unknown, i) => {
      if (!isRecord(s)) return;
      const type = s['type'];
      for (const section of SCANNER_TYPES) {
        if (section !== type && section in s) {
          problems.push(typeof type === 'string' && (SCANNER_TYPES as readonly string[]).includes(type)
            ? `${at}[${i}].${section}: a scanner of type ${type} takes an "${type}" section, not "${section}"`
            : `${at}[${i}].${section}: set type: ${section} to use this section`);
        }
      }
    });
  }
  return problems;
}

/** Parses YAML or JSON text (JSON is YAML) safely: duplicate keys, alias bombs and deep nesting are errors. */
export function parseYamlText(text: string, origin: string): unknown {
  const tooDeep = yamlNestingProblem(text);
  if (tooDeep) throw new ConfigError(`${origin}: not read: ${tooDeep}`);
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  const first = doc.errors[0];
  if (first) {
    throw new ConfigError(`${origin}: not valid YAML or JSON: ${first.message}`);
  }
  try {
    return doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new ConfigError(`${origin}: not valid YAML or JSON: ${(err as Error).message}`);
  }
}

/**
 * Validates `raw` against `schema`, throwing one ConfigError listing every `path: problem`
 * (paths relative to the document, prefixed by `origin`).
 */
export function validate<S extends z.ZodMiniType>(schema: S, raw: unknown, origin: string, extra: string[] = []): z.output<S> {
  const result = z.safeParse(schema, raw, { reportInput: true });
  const lines = [...extra];
  if (!result.success) {
    const seen = new Set(lines.map((l) => l.split(':')[0]));
    for (const issue of result.error.issues) {
      // The shape check already explains a section that does not match its type.
      for (const line of issueLines(issue, schema, raw)) if (!seen.has(line.split(':')[0])) lines.push(line);
    }
  }
  if (lines.length === 1) throw new ConfigError(`${origin}: ${lines[0]}`);
  if (lines.length > 0 || !result.success) {
    throw new ConfigError(`${origin}: ${lines.length} problems:\n${lines.map((l) => `  ${l}`).join('\n')}`);
  }
  return result.data;
}

/**
 * Parses and validates a configuration for one cluster (`cluster:`) from YAML or JSON text.
 * @param origin where the text came from (a file name or `<stdin>`), used in error messages.
 * @example parseConfig('cluster: {name: c}\nscanners: [{type: file, file: {path: m.yaml}}]', 'config.yaml')
 * @throws ConfigError listing every problem with its path; for a `clusters:` config, one saying so.
 */
export function parseConfig(text: string, origin: string): Config {
  return validateConfig(parseYamlText(text, origin), origin);
}

/**
 * Validates an already parsed configuration document for one cluster (what {@link parseYamlText} returns).
 * @throws ConfigError listing every problem with its path; for a `clusters:` config, one saying so.
 */
export function validateConfig(raw: unknown, origin: string): Config {
  return oneCluster(validateAnyConfig(raw, origin), origin);
}

/** `config` when it is for one cluster; a ConfigError for a `clusters:` config. */
function oneCluster(config: AnyConfig, origin: string): Config {
  if (isFleetConfig(config)) {
    throw new ConfigError(`${origin}: clusters: this reads a config for one cluster (cluster:); a config with clusters: is read with validateAnyConfig and run with runFleet`);
  }
  return config;
}

/**
 * Parses and validates a configuration in either form, `cluster:` or `clusters:`.
 * @example isFleetConfig(parseAnyConfig(text, 'config.yaml'))
 * @throws ConfigError listing every problem with its path.
 */
export function parseAnyConfig(text: string, origin: string): AnyConfig {
  return validateAnyConfig(parseYamlText(text, origin), origin);
}

/**
 * Validates an already parsed configuration document in either form, `cluster:` or `clusters:`.
 * @throws ConfigError listing every problem with its path.
 */
export function validateAnyConfig(raw: unknown, origin: string): AnyConfig {
  const { cluster, clusters, scanners, ...common } = validate(configSchema, raw, origin, shapeProblems(raw));
  // shapeProblems refused a document with neither or both, and a cluster without scanners.
  if (clusters !== undefined) return { ...common, ...(scanners === undefined ? {} : { scanners }), clusters };
  return { ...common, cluster: cluster as ClusterSettings, scanners: scanners as ScannerConfig[] };
}

/** Parses a `{users, roles}` mappings document (YAML or JSON), validating every entry. */
export function parseMappingsDocument(text: string, origin: string): z.output<typeof mappingsDocumentSchema> {
  return validate(mappingsDocumentSchema, parseYamlText(text, origin), origin);
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Loads a configuration for one cluster from `path`, or from `stdin` when `path` is `-`. `baseDir` is where
 * relative paths in the config (the file scanner's) resolve: the config file's directory, or
 * the working directory for stdin.
 * @throws ConfigError when the file cannot be read or the config is invalid (or is a `clusters:` config).
 */
export async function loadConfig(
  path: string, stdin: NodeJS.ReadableStream = process.stdin,
): Promise<{ config: Config; baseDir: string }> {
  const { config, baseDir } = await loadAnyConfig(path, stdin);
  return { config: oneCluster(config, path === '-' ? '<stdin>' : path), baseDir };
}

/**
 * {@link loadConfig} for either form, `cluster:` or `clusters:` (the CLI and the handler).
 * @throws ConfigError when the file cannot be read or the config is invalid.
 */
export async function loadAnyConfig(
  path: string, stdin: NodeJS.ReadableStream = process.stdin,
): Promise<{ config: AnyConfig; baseDir: string }> {
  if (path === '-') return { config: parseAnyConfig(await readAll(stdin), '<stdin>'), baseDir: process.cwd() };
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`${path}: cannot read the config file: ${(err as Error).message}`);
  }
  return { config: parseAnyConfig(text, path), baseDir: dirname(resolve(path)) };
}
