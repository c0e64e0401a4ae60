// Undo: snapshots of the document before each change. Typing in one field within a second
// is one step, so Ctrl+Z takes back a word or a sentence, not a letter. Pure.

export class History {
  constructor(limit = 200) {
    this.limit = limit;
    this.stack = [];
    this.lastKey = null;
    this.lastAt = 0;
  }

  /** Records `snapshot` (the state before a change); `key` groups quick edits of one field. */
  record(snapshot, key = null, now = Date.now()) {
    if (key !== null && key === this.lastKey && now - this.lastAt < 1000) {
      this.lastAt = now;
      return;
    }
    this.stack.push(snapshot);
    if (this.stack.length > this.limit) this.stack.shift();
    this.lastKey = key;
    this.lastAt = now;
  }

  /** The snapshot to go back to, or undefined. */
  undo() {
    this.lastKey = null;
    return this.stack.pop();
  }

  get size() {
    return this.stack.length;
  }

  clear() {
    this.stack = [];
    this.lastKey = null;
  }
}
