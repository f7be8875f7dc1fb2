// Storage: a backend buffer shared by a tensor and its views, freed when the last user lets go
// (dispose(), `using`, or the FinalizationRegistry backstop when tensors are garbage-collected).
import type { Backend, Buffer } from './core/backend.js';

export class Storage {
  private refs = 0;
  private freed = false;
  constructor(readonly backend: Backend, readonly buffer: Buffer) {}

  get isFreed(): boolean { return this.freed; }

  retain(): void { this.refs++; }

  /** Drops one user; frees the buffer when none is left. */
  release(): void {
    if (this.freed) return;
    if (--this.refs <= 0) {
      this.freed = true;
      this.backend.free(this.buffer);
    }
  }
}

/** Held value: the storage a collected tensor was using. */
const registry = new FinalizationRegistry<Storage>((s) => s.release());

/** Registers `owner` as one user of `storage`; returns the token to unregister on explicit dispose. */
export function track(owner: object, storage: Storage): object {
  storage.retain();
  const token = {};
  registry.register(owner, storage, token);
  return token;
}

/** Explicit release (dispose): unregisters the backstop and drops the reference now. */
export function untrack(token: object, storage: Storage): void {
  registry.unregister(token);
  storage.release();
}
