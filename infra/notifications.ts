/**
 * Change notifications in the stack: where the function publishes (environment), the permission
 * to publish there and nowhere else, and the alarm for a notification that was not delivered.
 */
import type * as events from 'aws-cdk-lib/aws-events';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { ConfigError } from '../lambda/errors.js';
import { NOTIFICATION_ENV } from '../lambda/notify.js';

/** Where notifications go, as the construct's props give it. */
export interface NotificationProps {
  readonly notificationTopic?: sns.ITopic;
  readonly notificationEventBus?: events.IEventBus;
}

/**
 * Points the function at the topic and the bus, if any, and grants it `sns:Publish` on that topic
 * only (with the topic's KMS key, when the ITopic carries one) and `events:PutEvents` on that bus
 * only.
 * @returns whether any destination is configured (the caller then adds the alarm).
 * @throws ConfigError for a FIFO topic: the payload has no message group, and order is per run anyway.
 */
export function wireNotifications(fn: lambda.Function, role: iam.IRole, props: NotificationProps): boolean {
  const { notificationTopic: topic, notificationEventBus: bus } = props;
  if (topic) {
    if (topic.fifo) throw new ConfigError(`${fn.node.path}: notificationTopic ${topic.topicArn} is a FIFO topic; give a standard topic`);
    fn.addEnvironment(NOTIFICATION_ENV.topicArn, topic.topicArn);
    topic.grantPublish(role);
  }
  if (bus) {
    fn.addEnvironment(NOTIFICATION_ENV.eventBusArn, bus.eventBusArn);
    bus.grantPutEventsTo(role);
  }
  return topic !== undefined || bus !== undefined;
}
