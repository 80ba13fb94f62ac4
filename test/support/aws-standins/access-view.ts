/**
 * What a cluster's authoriser needs from EKS access entries, and nothing more: the Kubernetes
 * stand-in depends on this shape, not on the EKS stand-in, so either can be used alone.
 */

/** A cluster's authentication mode (EKS `accessConfig.authenticationMode`). */
export type AuthenticationMode = 'CONFIG_MAP' | 'API_AND_CONFIG_MAP' | 'API';

/** Where an associated access policy applies. */
export interface AccessScope {
  type: 'cluster' | 'namespace';
  /** Namespaces for a `namespace` scope; a trailing `*` matches a prefix (`dev-*`). */
  namespaces: string[];
}

/** What an access entry grants the principal that matched it. */
export interface AccessGrant {
  principalArn: string;
  type: string;
  /** The entry's username, templates (`{{SessionName}}`) not yet rendered. */
  username: string;
  kubernetesGroups: string[];
  policies: { policyArn: string; accessScope: AccessScope }[];
}

/** A cluster's access entries as its authoriser sees them (after any consistency lag). */
export interface AccessEntryView {
  authenticationMode(): AuthenticationMode;
  /** The entry for a caller, by the ARN STS reports for it (an assumed-role ARN matches its role, whatever the role's path). */
  find(callerArn: string): AccessGrant | undefined;
}
