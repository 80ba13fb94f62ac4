import { roleArn, userArn, type AwsAccount, type IamIdentity, type IamRole, type IamTag, type IamUser } from './dataset.js';
import { queryParams, queryProtocol, xml } from './protocols.js';
import { ServiceError, startServer, type ActionHandler, type ServerOptions, type StandinServer } from './server.js';
import type { WireRequest } from './sigv4.js';

/** Options for `startIam`. */
export interface IamStandinOptions extends ServerOptions {
  account: AwsAccount;
  /** Signing regions accepted. IAM is global: the SDK and CLI sign for us-east-1 in partition aws. @default ['us-east-1'] */
  signingRegions?: readonly string[];
}

/** The IAM stand-in: its data can be changed between (or during) runs. */
export interface IamStandin extends StandinServer {
  readonly account: AwsAccount;
  /** Adds the user, or replaces the one with the same name. */
  putUser(user: IamUser): void;
  deleteUser(name: string): void;
}

const NAMESPACE = 'https://iam.amazonaws.com/doc/2010-05-08/';
const iso = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
const tagsXml = (tags: readonly IamTag[]): string =>
  tags.length === 0 ? '<Tags/>' : `<Tags>${tags.map((t) => `<member><Key>${xml(t.Key)}</Key><Value>${xml(t.Value)}</Value></member>`).join('')}</Tags>`;
const bool = (b: boolean): string => String(b);

/** One page of `items` from a query-protocol Marker/MaxItems pair. */
function page(params: Map<string, string>, action: string, total: number, defaultMax = 100): { start: number; end: number; truncationXml: string } {
  const rawMax = params.get('MaxItems');
  const max = rawMax === undefined ? defaultMax : Number(rawMax);
  if (!Number.isInteger(max) || max < 1 || max > 1000) {
    throw new ServiceError(400, 'ValidationError', `1 validation error detected: Value '${rawMax}' at 'maxItems' failed to satisfy constraint: Member must have value less than or equal to 1000 and greater than or equal to 1`);
  }
  const marker = params.get('Marker');
  let start = 0;
  if (marker !== undefined) {
    const m = /^(\w+):(\d+)$/.exec(Buffer.from(marker, 'base64url').toString('utf8'));
    if (m === null || m[1] !== action) throw new ServiceError(400, 'ValidationError', `Invalid Marker: ${marker}`);
    start = Number(m[2]);
  }
  const end = Math.min(total, start + max);
  const truncated = end < total;
  const truncationXml = `<IsTruncated>${bool(truncated)}</IsTruncated>${truncated ? `<Marker>${Buffer.from(`${action}:${end}`).toString('base64url')}</Marker>` : ''}`;
  return { start, end, truncationXml };
}

/** A user's GroupList as GetAccountAuthorizationDetails returns it: the names of its groups. */
function groupListXml(u: IamUser): string {
  const groups = u.groups ?? [];
  return groups.length === 0 ? '<GroupList/>' : `<GroupList>${groups.map((g) => `<member>${xml(g)}</member>`).join('')}</GroupList>`;
}

/**
 * GetGroup: the group and its members (users naming it), paginated like IAM's other lists. IAM
 * names are unique regardless of case, and so is the lookup here; NoSuchEntity for a group it lacks.
 */
function getGroup(account: AwsAccount, protocol: ReturnType<typeof queryProtocol>, userFields: (u: IamUser) => string): ActionHandler {
  return (req, ctx) => {
    const params = queryParams(req);
    const name = params.get('GroupName') ?? '';
    const group = (account.groups ?? []).find((g) => g.name.toLowerCase() === name.toLowerCase());
    if (group === undefined) throw new ServiceError(404, 'NoSuchEntity', `The group with name ${name} cannot be found.`);
    const members = account.users.filter((u) => u.groups?.includes(group.name));
    const { start, end, truncationXml } = page(params, 'GetGroup', members.length);
    const groupXml = `<Group><Path>${xml(group.path)}</Path><GroupName>${xml(group.name)}</GroupName><GroupId>${group.id}</GroupId>` +
      `<Arn>arn:${account.partition}:iam::${account.accountId}:group${xml(group.path)}${xml(group.name)}</Arn><CreateDate>${iso(group.createDate)}</CreateDate></Group>`;
    const usersXml = members.slice(start, end).map((u) => `<member>${userFields(u)}</member>`).join('');
    return protocol.result('GetGroup', `${groupXml}<Users>${usersXml}</Users>${truncationXml}`, ctx.requestId);
  };
}

/**
 * Starts the IAM stand-in (query protocol, XML): ListRoles, ListUsers (without tags, as IAM),
 * ListRoleTags, ListUserTags, GetAccountAuthorizationDetails (users with their GroupList), GetRole
 * and GetGroup, with IAM's pagination.
 */
export async function startIam(opts: IamStandinOptions): Promise<IamStandin> {
  const account = opts.account;
  const protocol = queryProtocol(NAMESPACE, '2010-05-08', () => new ServiceError(500, 'ServiceFailure', 'Service failure'));
  const roles = new Map(account.roles.map((r) => [r.name, r]));
  const users = new Map(account.users.map((u) => [u.name, u]));
  // Lists are rebuilt from the maps only after a change, so paging 7,000 identities stays cheap.
  const sync = (): void => {
    account.roles = [...roles.values()];
    account.users = [...users.values()];
  };

  const roleFields = (r: IamRole): string =>
    `<Path>${xml(r.path)}</Path><RoleName>${xml(r.name)}</RoleName><RoleId>${r.id}</RoleId><Arn>${xml(roleArn(account, r))}</Arn>` +
    `<CreateDate>${iso(r.createDate)}</CreateDate><AssumeRolePolicyDocument>${xml(r.assumeRolePolicyDocument)}</AssumeRolePolicyDocument>`;
  const userFields = (u: IamUser): string =>
    `<Path>${xml(u.path)}</Path><UserName>${xml(u.name)}</UserName><UserId>${u.id}</UserId><Arn>${xml(userArn(account, u))}</Arn><CreateDate>${iso(u.createDate)}</CreateDate>`;

  const list = <T extends IamIdentity>(action: string, all: () => T[], listName: string, render: (x: T) => string): ActionHandler =>
    (req, ctx) => {
      const params = queryParams(req);
      const prefix = params.get('PathPrefix') ?? '/';
      const items = prefix === '/' ? all() : all().filter((x) => x.path.startsWith(prefix));
      const { start, end, truncationXml } = page(params, action, items.length);
      const members = items.slice(start, end).map((x) => `<member>${render(x)}</member>`).join('');
      return protocol.result(action, `<${listName}>${members}</${listName}>${truncationXml}`, ctx.requestId);
    };

  const listTags = (action: string, kind: 'role' | 'user', find: (name: string) => IamIdentity | undefined): ActionHandler =>
    (req, ctx) => {
      const params = queryParams(req);
      const name = params.get(kind === 'role' ? 'RoleName' : 'UserName') ?? '';
      const identity = find(name);
      if (identity === undefined) throw new ServiceError(404, 'NoSuchEntity', `The ${kind} with name ${name} cannot be found.`);
      const { start, end, truncationXml } = page(params, action, identity.tags.length);
      return protocol.result(action, `${tagsXml(identity.tags.slice(start, end))}${truncationXml}`, ctx.requestId);
    };

  // GetRole: eks-auth-sync looks up the path of a role ARN written without one (access entries need it).
  const getRole: ActionHandler = (req, ctx) => {
    const name = queryParams(req).get('RoleName') ?? '';
    const r = roles.get(name);
    if (r === undefined) throw new ServiceError(404, 'NoSuchEntity', `The role with name ${name} cannot be found.`);
    return protocol.result('GetRole', `<Role>${roleFields(r)}<MaxSessionDuration>3600</MaxSessionDuration>${tagsXml(r.tags)}</Role>`, ctx.requestId);
  };

  const details: ActionHandler = (req: WireRequest, ctx) => {
    const params = queryParams(req);
    const filters = new Set([...params].filter(([k]) => /^Filter\.member\.\d+$/.test(k)).map(([, v]) => v));
    for (const f of filters) {
      if (!['User', 'Role', 'Group', 'LocalManagedPolicy', 'AWSManagedPolicy'].includes(f)) {
        throw new ServiceError(400, 'ValidationError', `1 validation error detected: Value '[${f}]' at 'filter' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [LocalManagedPolicy, Role, Group, User, AWSManagedPolicy]]`);
      }
    }
    const wants = (f: string): boolean => filters.size === 0 || filters.has(f);
    // One sequence across lists, users first, as IAM pages them; groups and policies are empty here.
    const userList = wants('User') ? account.users : [];
    const roleList = wants('Role') ? account.roles : [];
    const { start, end, truncationXml } = page(params, 'GetAccountAuthorizationDetails', userList.length + roleList.length);
    const userXml = userList
      .slice(start, end)
      .map((u) => `<member>${userFields(u)}<UserPolicyList/>${groupListXml(u)}<AttachedManagedPolicies/>${tagsXml(u.tags)}</member>`)
      .join('');
    const roleXml = roleList
      .slice(Math.max(0, start - userList.length), Math.max(0, end - userList.length))
      .map((r) => `<member>${roleFields(r)}<InstanceProfileList/><RolePolicyList/><AttachedManagedPolicies/>${tagsXml(r.tags)}<RoleLastUsed/></member>`)
      .join('');
    const inner = `<UserDetailList>${userXml}</UserDetailList><GroupDetailList/><RoleDetailList>${roleXml}</RoleDetailList><Policies/>${truncationXml}`;
    return protocol.result('GetAccountAuthorizationDetails', inner, ctx.requestId);
  };

  const server = await startServer(
    {
      signingName: 'iam',
      regions: opts.signingRegions ?? ['us-east-1'],
      protocol,
      handlers: {
        ListRoles: list('ListRoles', () => account.roles, 'Roles', (r) => `${roleFields(r)}<MaxSessionDuration>3600</MaxSessionDuration>`),
        ListUsers: list('ListUsers', () => account.users, 'Users', userFields),
        ListRoleTags: listTags('ListRoleTags', 'role', (n) => roles.get(n)),
        ListUserTags: listTags('ListUserTags', 'user', (n) => users.get(n)),
        GetAccountAuthorizationDetails: details,
        GetRole: getRole,
        GetGroup: getGroup(account, protocol, userFields),
      },
    },
    opts,
  );

  return {
    ...server,
    account,
    putUser: (user) => {
      users.set(user.name, user);
      sync();
    },
    deleteUser: (name) => {
      users.delete(name);
      sync();
    },
  };
}
