/**
 * The aws-auth target: read it (`parse.ts`, `repair.ts`), plan the change (`plan.ts`), render it
 * (`render.ts`), and write it with optimistic concurrency (`apply.ts`).
 */
export { syncAwsAuth, type ApplyResult, type AwsAuthStore, type SyncAwsAuthOptions } from './apply.js';
export {
  OWNED_ANNOTATION,
  ownershipMark,
  parseAwsAuth,
  type DroppedChunk,
  type EntryKind,
  type LiveAwsAuth,
  type LiveEntry,
  type ReadOptions,
  type RepairedKey,
} from './parse.js';
export {
  MAX_ANNOTATIONS_BYTES,
  MAX_OBJECT_BYTES,
  SOURCE_NOT_MANAGED,
  SOURCE_PREVIOUSLY_SYNCED,
  planAwsAuth,
  type Plan,
  type PlanInput,
  type PlannedEntry,
} from './plan.js';
export { holdsPlannedContent, renderList, type ListRenderer } from './render.js';
