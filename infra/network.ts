/**
 * Private endpoints: the function in the cluster's VPC (or one that reaches it), with a security
 * group that allows only HTTPS out, and the network-interface permissions Lambda needs to attach
 * it, scoped as far as EC2 allows.
 */
import { Aws, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';

/** Where the function runs, as the construct's props give it. */
export interface FunctionNetworkProps {
  readonly vpc?: ec2.IVpc;
  readonly vpcSubnets?: ec2.SubnetSelection;
  readonly securityGroups?: ec2.ISecurityGroup[];
}

/** The function's network settings, and the security group created when none was given. */
export interface FunctionNetwork {
  readonly functionProps: Pick<lambda.FunctionProps, 'vpc' | 'vpcSubnets' | 'securityGroups'>;
  readonly securityGroup?: ec2.SecurityGroup;
  /** The ENI permissions, attached to the role before the function is created (Lambda checks them then). */
  readonly policy?: iam.Policy;
}

/**
 * Nothing without a VPC. With one: the given security groups, or a new one whose only rule is
 * HTTPS (443) out, which is all the function speaks (the AWS APIs, the cluster endpoint); DNS to
 * the VPC resolver is not subject to security groups.
 * @throws Error when subnets or security groups are given without a VPC.
 */
export function functionNetwork(scope: Construct, role: iam.IRole, props: FunctionNetworkProps): FunctionNetwork {
  const { vpc } = props;
  if (!vpc) {
    if (props.vpcSubnets || props.securityGroups) throw new Error(`${scope.node.path}: vpcSubnets and securityGroups need a vpc`);
    return { functionProps: {} };
  }
  let securityGroup: ec2.SecurityGroup | undefined;
  let securityGroups = props.securityGroups ?? [];
  if (securityGroups.length === 0) {
    securityGroup = new ec2.SecurityGroup(scope, 'SecurityGroup', {
      vpc,
      description: 'eks-auth-sync: HTTPS out only (AWS APIs, the EKS cluster endpoint)',
      allowAllOutbound: false,
    });
    securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to the AWS APIs and the cluster endpoint');
    securityGroups = [securityGroup];
  }
  const subnets = vpc.selectSubnets(props.vpcSubnets);
  const policy = eniPolicy(scope, role, subnets.subnetIds, securityGroups.map((g) => g.securityGroupId));
  const functionProps = { vpc, securityGroups, ...(props.vpcSubnets ? { vpcSubnets: props.vpcSubnets } : {}) };
  return securityGroup ? { functionProps, securityGroup, policy } : { functionProps, policy };
}

/**
 * What AWSLambdaVPCAccessExecutionRole grants, narrowed: creating an interface only in the chosen
 * subnets with the chosen security groups, and changing or deleting interfaces of this account
 * and region. The two Describe calls support no resource-level permission.
 */
function eniPolicy(scope: Construct, role: iam.IRole, subnetIds: string[], securityGroupIds: string[]): iam.Policy {
  const ec2Arn = (resource: string): string => `arn:${Aws.PARTITION}:ec2:${Aws.REGION}:${Aws.ACCOUNT_ID}:${resource}`;
  const policy = new iam.Policy(scope, 'NetworkInterfaces', {
    roles: [role],
    statements: [
      new iam.PolicyStatement({
        sid: 'DescribeNetworkInterfaces',
        actions: ['ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets'],
        resources: ['*'],
      }),
      new iam.PolicyStatement({
        sid: 'CreateNetworkInterfaces',
        actions: ['ec2:CreateNetworkInterface'],
        resources: [ec2Arn('network-interface/*'), ...subnetIds.map((id) => ec2Arn(`subnet/${id}`)), ...securityGroupIds.map((id) => ec2Arn(`security-group/${id}`))],
      }),
      new iam.PolicyStatement({
        sid: 'ManageNetworkInterfaces',
        actions: ['ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'],
        resources: [ec2Arn('network-interface/*')],
      }),
    ],
  });
  Validations.of(policy).acknowledge({
    id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
    reason: 'ec2:DescribeNetworkInterfaces and ec2:DescribeSubnets support no resource-level permissions; Lambda calls them to attach the function to its subnets.',
  });
  Validations.of(policy).acknowledge({
    id: 'AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:network-interface/*]',
    reason: "Lambda creates the function's network interfaces under IDs nobody knows in advance; creating one is also limited to the chosen subnets and security groups.",
  });
  return policy;
}
