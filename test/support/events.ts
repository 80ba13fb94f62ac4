/** Lambda events the handler tests, the end-to-end tests and the demo send. */

/** What EventBridge sends on schedule: the event that commits. */
export const SCHEDULED_EVENT = {
  version: '0',
  id: '53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa',
  'detail-type': 'Scheduled Event',
  source: 'aws.events',
  account: '111122223333',
  time: '2026-03-04T05:00:00Z',
  region: 'eu-west-1',
  resources: ['arn:aws:events:eu-west-1:111122223333:rule/eks-auth-sync'],
  detail: {},
};
