/**
 * Change events as EventBridge delivers them, for the event-driven sync tests. The envelopes and
 * details follow AWS's published examples:
 * - Parameter Store Change: AWS Systems Manager User Guide, "Amazon EventBridge event examples for
 *   Systems Manager" (https://docs.aws.amazon.com/systems-manager/latest/userguide/monitoring-systems-manager-event-examples.html).
 * - AWS API Call via CloudTrail from aws.iam: EventBridge events reference for IAM
 *   (https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-iam.html); the `detail` is the
 *   CloudTrail record (CloudTrail User Guide, "CloudTrail record contents"), requestParameters in
 *   CloudTrail's camelCase (`roleName`, `tags: [{key, value}]`, `tagKeys`).
 * - Identity Center: eventSource sso.amazonaws.com, requestParameters as in the
 *   CreateAccountAssignment request (instanceArn, targetId, targetType, permissionSetArn,
 *   principalType, principalId); IAM Identity Center User Guide, "IAM Identity Center information
 *   in CloudTrail" (https://docs.aws.amazon.com/singlesignon/latest/userguide/sso-info-in-cloudtrail.html).
 */

const ACCOUNT = '111122223333';
let sequence = 0;
const eventId = (): string => `6a7e4feb-b491-4cf7-a9f1-${String(++sequence).padStart(12, '0')}`;

/** A Parameter Store Change event for parameter `name`, at `time` (ISO, whole seconds). */
export function parameterStoreChange(name: string, time: string, operation = 'Update') {
  return {
    version: '0',
    id: eventId(),
    'detail-type': 'Parameter Store Change',
    source: 'aws.ssm',
    account: ACCOUNT,
    time,
    region: 'eu-west-1',
    resources: [`arn:aws:ssm:eu-west-1:${ACCOUNT}:parameter${name.startsWith('/') ? '' : '/'}${name}`],
    detail: { operation, name, type: 'SecureString', description: 'aws-auth entries' },
  };
}

/** The CloudTrail record of an API call, wrapped as EventBridge delivers it. */
function cloudTrailEvent(source: string, eventSource: string, eventName: string, time: string, requestParameters: Record<string, unknown>, errorCode?: string) {
  return {
    version: '0',
    id: eventId(),
    'detail-type': 'AWS API Call via CloudTrail',
    source,
    account: ACCOUNT,
    time,
    region: 'us-east-1',
    resources: [],
    detail: {
      eventVersion: '1.09',
      userIdentity: {
        type: 'AssumedRole',
        principalId: 'AROAEXAMPLEID:terraform',
        arn: `arn:aws:sts::${ACCOUNT}:assumed-role/platform-admin/terraform`,
        accountId: ACCOUNT,
        sessionContext: { sessionIssuer: { type: 'Role', userName: 'platform-admin', accountId: ACCOUNT } },
      },
      eventTime: time,
      eventSource,
      eventName,
      awsRegion: 'us-east-1',
      sourceIPAddress: '203.0.113.10',
      userAgent: 'APN/1.0 HashiCorp/1.0 Terraform/1.9.0',
      ...(errorCode === undefined ? {} : { errorCode, errorMessage: `User is not authorized to perform: iam:${eventName}` }),
      requestParameters,
      responseElements: null,
      requestID: 'c1b9e2f4-5d6a-4b7c-8d9e-0f1a2b3c4d5e',
      eventID: eventId(),
      readOnly: false,
      eventType: 'AwsApiCall',
      managementEvent: true,
      recipientAccountId: ACCOUNT,
      eventCategory: 'Management',
    },
  };
}

/** An IAM call as EventBridge delivers it in us-east-1; `errorCode` makes it a refused call. */
export function iamCall(eventName: string, time: string, requestParameters: Record<string, unknown>, errorCode?: string) {
  return cloudTrailEvent('aws.iam', 'iam.amazonaws.com', eventName, time, requestParameters, errorCode);
}

/** TagRole on `roleName` with `tags` ({key: value}). */
export function tagRole(roleName: string, time: string, tags: Record<string, string>) {
  return iamCall('TagRole', time, { roleName, tags: Object.entries(tags).map(([key, value]) => ({ key, value })) });
}

/** An Identity Center account assignment call on account `targetId`. */
export function accountAssignment(eventName: 'CreateAccountAssignment' | 'DeleteAccountAssignment', time: string, targetId = ACCOUNT) {
  return cloudTrailEvent('aws.sso', 'sso.amazonaws.com', eventName, time, {
    instanceArn: 'arn:aws:sso:::instance/ssoins-1234567890abcdef',
    targetId,
    targetType: 'AWS_ACCOUNT',
    permissionSetArn: 'arn:aws:sso:::permissionSet/ssoins-1234567890abcdef/ps-0123456789abcdef',
    principalType: 'GROUP',
    principalId: '9067b4f5a4-0123abcd-4567-89ef-0123-456789abcdef',
  });
}
