/**
 * The migration view, for a cluster in API_AND_CONFIG_MAP mode synced with `both`: for every
 * aws-auth entry, whether an access entry covers the same principal. Where one does, EKS uses
 * the access entry and ignores the aws-auth entry; where none does, the principal loses its
 * access when the cluster switches to API mode. Pure.
 */
import { arnKey, canonicalRoleArn, parseRoleArn } from '../mappings.js';
import type { LiveAwsAuth } from './awsauth/index.js';
import { isOwned, type AccessEntriesPlan, type LiveAccessEntry } from './access-entries/index.js';

/** One aws-auth entry and the access entry that covers it, if any. */
export interface MigrationRow {
  kind: 'role' | 'user';
  /** The ARN as aws-auth has it. */
  arn: string;
  username: string;
  groups: string[];
  /** The access entry for the same principal once this run's plan is applied; null when there is none. */
  accessEntry: { principalArn: string; type: string; status: 'exists' | 'planned'; managed: boolean } | null;
  note: string;
}

/**
 * Every aws-auth entry that names a principal, in aws-auth's order (roles, then users), against
 * the access entries as `plan` leaves them (`live` plus creates, less deletes).
 * @example migrationView(parseAwsAuth(cm), live, plan).filter((r) => r.accessEntry === null) // what API mode would lock out
 */
export function migrationView(awsAuth: Pick<LiveAwsAuth, 'roles' | 'users'>, live: readonly LiveAccessEntry[], plan: Pick<AccessEntriesPlan, 'steps'>): MigrationRow[] {
  const after = new Map<string, NonNullable<MigrationRow['accessEntry']>>();
  for (const e of live) after.set(principalKey(e.principalArn), { principalArn: e.principalArn, type: e.type, status: 'exists', managed: isOwned(e) });
  for (const s of plan.steps) {
    if (s.action === 'delete') after.delete(principalKey(s.principalArn));
    if (s.action === 'create') after.set(principalKey(s.principalArn), { principalArn: s.principalArn, type: s.type, status: 'planned', managed: true });
  }
  const rows: MigrationRow[] = [];
  for (const e of [...awsAuth.roles, ...awsAuth.users]) {
    if (e.arn === null) continue;
    const covering = after.get(principalKey(e.arn)) ?? null;
    const note = covering
      ? `covered by the ${covering.status === 'planned' ? 'planned ' : ''}${covering.type} access entry of ${covering.principalArn}; the access entry wins, so this aws-auth entry is not used`
      : 'no access entry: this principal loses its access when the cluster switches to API mode';
    rows.push({ kind: e.kind, arn: e.arn, username: e.username, groups: [...e.groups], accessEntry: covering, note });
  }
  return rows;
}

/** How EKS matches a principal: a role whatever its path (aws-auth writes it without), a user exactly. */
function principalKey(arn: string): string {
  return arnKey(parseRoleArn(arn) ? canonicalRoleArn(arn) : arn);
}
