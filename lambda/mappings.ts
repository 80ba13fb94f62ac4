/**
 * The model: what aws-auth maps. A role or user ARN to a Kubernetes username and groups.
 *
 * ARNs are branded strings so a role ARN cannot be passed where a user ARN is expected.
 */

/** `arn:<partition>:iam::<account>:role/<name>`, always without an IAM path (see `canonicalRoleArn`). */
export type RoleArn = string & { readonly __brand: 'RoleArn' };
/** `arn:<partition>:iam::<account>:user/<path/><name>`, with its path. */
export type UserArn = string & { readonly __brand: 'UserArn' };

/** One `mapRoles` entry as eks-auth-sync produces it. */
export interface RoleMapping {
  rolearn: RoleArn;
  username: string;
  groups: string[];
}

/** One `mapUsers` entry as eks-auth-sync produces it. */
export interface UserMapping {
  userarn: UserArn;
  username: string;
  groups: string[];
}

/** The desired or live content of aws-auth's `mapRoles` and `mapUsers`. */
export interface Mappings {
  users: UserMapping[];
  roles: RoleMapping[];
}

/** A problem that skipped one identity or entry but did not stop the run. */
export interface Warning {
  /** The scanner (its `name`, else `type[index]`) or component that reported it. */
  source: string;
  /** The ARN or entry it is about, when there is one. */
  subject?: string;
  message: string;
}

/** What one scanner found. */
export interface ScanResult {
  /** The scanner's display name: its `name`, else `<type>[<index>]`, e.g. `iam[2]`. */
  source: string;
  mappings: Mappings;
  warnings: Warning[];
}

/**
 * The key aws-iam-authenticator matches on: it lowercases the canonical ARN, so two entries
 * whose ARNs differ only in case are the same entry.
 */
export function arnKey(arn: string): string {
  return arn.toLowerCase();
}

/** What the sources say aws-auth should hold, and where each entry came from. */
export interface DesiredState {
  mappings: Mappings;
  /** `arnKey(arn)` → the display name of the scanner that produced the entry. */
  sourceOf: ReadonlyMap<string, string>;
  warnings: Warning[];
}
