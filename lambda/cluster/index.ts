/** The cluster folder's public surface: reaching an EKS cluster and knowing who we are to it. */
export { describeCluster, type ClusterInfo } from './eks.js';
export { callerIdentity, canonicalPrincipalArn } from './identity.js';
export { execCredential, presignToken, regionPartition, stsHost, TokenProvider } from './token.js';
export { KubeClient, type KubeClientOptions } from './kube.js';
