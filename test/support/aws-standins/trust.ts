/**
 * Role trust policies as STS judges them on AssumeRole: who may assume a role is what its trust
 * policy's `AWS` principals say, an explicit Deny wins over any Allow, and anything not allowed
 * is denied. The caller's own identity policies are not modelled: every key the stand-ins hand
 * out may call sts:AssumeRole, as the function's role may on the roles its config names.
 */

/** The outcome of evaluating a trust policy for one caller. */
export type TrustDecision = 'allow' | 'explicitDeny' | 'implicitDeny';

/** One statement of a trust policy, as written in IAM's JSON. */
export interface TrustStatement {
  Effect: 'Allow' | 'Deny';
  Principal?: '*' | Readonly<Record<string, string | readonly string[]>>;
  NotPrincipal?: unknown;
  Action?: string | readonly string[];
  NotAction?: string | readonly string[];
  Condition?: unknown;
}

/**
 * A trust policy as IAM returns it in AssumeRolePolicyDocument (URL-encoded JSON).
 * @example trustPolicy({ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: 'sts:AssumeRole' })
 */
export function trustPolicy(...statements: TrustStatement[]): string {
  return encodeURIComponent(JSON.stringify({ Version: '2012-10-17', Statement: statements }));
}

/**
 * Whether the caller (`arn:…:iam::A:user/…`, `arn:…:sts::A:assumed-role/Role/Session` or
 * `arn:…:iam::A:root`) may perform `action` under the trust policy `document` (URL-encoded JSON,
 * as IAM stores it). Conditions are not evaluated: an Allow with a Condition never applies and a
 * Deny with one always does, so a test that needs a condition fails closed instead of passing.
 * @throws Error for a document IAM would not have accepted as a trust policy (NotPrincipal).
 */
export function trustDecision(document: string, caller: string, action = 'sts:AssumeRole'): TrustDecision {
  const parsed = JSON.parse(decodeURIComponent(document)) as { Statement: TrustStatement | TrustStatement[] };
  const statements = Array.isArray(parsed.Statement) ? parsed.Statement : [parsed.Statement];
  let allowed = false;
  for (const s of statements) {
    if (s.NotPrincipal !== undefined) throw new Error('NotPrincipal: IAM refuses it in a role trust policy (MalformedPolicyDocument)');
    if (!actionMatches(s, action) || !principalMatches(s.Principal, caller)) continue;
    if (s.Effect === 'Deny') return 'explicitDeny';
    if (s.Condition === undefined) allowed = true;
  }
  return allowed ? 'allow' : 'implicitDeny';
}

const list = (v: string | readonly string[] | undefined): readonly string[] => (v === undefined ? [] : typeof v === 'string' ? [v] : v);

/** IAM action names match case-insensitively, with `*` and `?` wildcards. */
function actionMatches(s: TrustStatement, action: string): boolean {
  const matches = (pattern: string): boolean =>
    new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i').test(action);
  if (s.NotAction !== undefined) return !list(s.NotAction).some(matches);
  return list(s.Action).some(matches);
}

/** The caller's partition, account, and for an assumed-role session the role's name. */
function parseCaller(arn: string): { partition: string; account: string; roleName?: string } | undefined {
  const m = /^arn:([\w-]+):(?:iam|sts)::(\d{12}):(.+)$/.exec(arn);
  if (m === null) return undefined;
  const [, partition, account, resource] = m as unknown as [string, string, string, string];
  const session = /^assumed-role\/([^/]+)\/[^/]+$/.exec(resource);
  return session?.[1] === undefined ? { partition, account } : { partition, account, roleName: session[1] };
}

/**
 * An `AWS` principal names the caller when it is `*`, the caller's account (its ID or
 * `arn:…:iam::A:root`), the caller's own user or session ARN, or the role the session belongs
 * to. IAM resolves a role principal to the role's unique ID when the policy is saved, so its path
 * is already known to be right: the role is matched by account and name.
 */
function principalMatches(principal: TrustStatement['Principal'], caller: string): boolean {
  if (principal === '*') return true;
  const c = parseCaller(caller);
  if (principal === undefined || c === undefined) return false;
  return list(principal['AWS']).some((p) => {
    if (p === '*' || p === caller || p === c.account || p === `arn:${c.partition}:iam::${c.account}:root`) return true;
    const role = /^arn:([\w-]+):iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(p);
    return role !== null && c.roleName !== undefined && role[1] === c.partition && role[2] === c.account && role[3] === c.roleName;
  });
}
