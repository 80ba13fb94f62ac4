/**
 * An in-memory aws-auth with the API server's write semantics: every write bumps a
 * resourceVersion counter; a replace with a stale resourceVersion and a create of an existing
 * object fail with KubeConflictError; a replace of a missing object fails with KubeNotFoundError.
 */
import type { AwsAuthStore } from '../../lambda/targets/awsauth/index.js';
import type { ConfigMap } from '../../lambda/configmap.js';
import { KubeConflictError, KubeNotFoundError } from '../../lambda/errors.js';

export class MemoryAwsAuthStore implements AwsAuthStore {
  #current: ConfigMap | null = null;
  #version = 0;
  #beforeWrite: (() => void)[] = [];
  /** Every write the store accepted, in order, as stored. */
  readonly writes: ConfigMap[] = [];
  /** Every write attempted through `create` or `replace`, accepted or not. */
  writeAttempts = 0;

  constructor(initial?: ConfigMap) {
    if (initial) this.#store(initial);
  }

  /** What the cluster holds now (a copy). */
  get current(): ConfigMap | null {
    return this.#current === null ? null : structuredClone(this.#current);
  }

  /**
   * Runs `edit` once, just before the next write through `create` or `replace` is processed,
   * as a concurrent editor racing the tool would.
   */
  raceNextWrite(edit: () => void): void {
    this.#beforeWrite.push(edit);
  }

  /** Another client's unconditional edit (kubectl edit, eksctl): bumps the resourceVersion. */
  edit(change: (cm: ConfigMap) => void): void {
    if (this.#current === null) throw new Error('edit: aws-auth does not exist');
    const cm = structuredClone(this.#current);
    change(cm);
    this.#store(cm);
  }

  /** Another client's create or unconditional overwrite. */
  put(cm: ConfigMap): void {
    this.#store(cm);
  }

  delete(): void {
    this.#current = null;
  }

  async read(): Promise<ConfigMap | null> {
    return this.current;
  }

  async create(cm: ConfigMap): Promise<ConfigMap> {
    this.#attempt();
    if (this.#current !== null) throw new KubeConflictError('configmaps "aws-auth" already exists');
    const { resourceVersion: _ignored, ...metadata } = cm.metadata;
    return this.#accept({ ...cm, metadata });
  }

  async replace(cm: ConfigMap): Promise<ConfigMap> {
    this.#attempt();
    if (this.#current === null) throw new KubeNotFoundError('configmaps "aws-auth" not found');
    const sent = cm.metadata.resourceVersion;
    if (sent !== undefined && sent !== this.#current.metadata.resourceVersion) {
      throw new KubeConflictError('Operation cannot be fulfilled on configmaps "aws-auth": the object has been modified');
    }
    return this.#accept(cm);
  }

  #attempt(): void {
    this.writeAttempts++;
    for (const edit of this.#beforeWrite.splice(0)) edit();
  }

  #accept(cm: ConfigMap): ConfigMap {
    const stored = this.#store(cm);
    this.writes.push(structuredClone(stored));
    return structuredClone(stored);
  }

  #store(cm: ConfigMap): ConfigMap {
    const stored = structuredClone(cm);
    stored.metadata.resourceVersion = String(++this.#version);
    this.#current = stored;
    return stored;
  }
}
