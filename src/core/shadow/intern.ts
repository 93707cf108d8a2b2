// Interning of repeated access-log fields. Every line of a keep-alive connection carries the same addresses
// (downstream local/remote, upstream local/host) and cluster; slicing them gave the join a new string per line,
// whose hash V8 computes again on every Map lookup and whose characters sit in the (cold) chunk. An interner
// hands out one string per distinct value instead: its hash is computed once and cached by V8, and the
// join's string compares on it (`===`) usually hit the same object.

/**
 * A fixed-size, direct-mapped table of strings keyed by a hash of the characters s[i, j). A slot holds the last
 * value that hashed there; a different value in the same slot simply replaces it (a miss costs one slice), so
 * memory is bounded and the result is always a string equal to s.slice(i, j).
 */
export class StringInterner {
  private readonly slots: string[];
  private readonly mask: number;
  hits = 0;
  misses = 0;

  constructor(bits = 12) {
    this.slots = new Array<string>(1 << bits).fill('');
    this.mask = (1 << bits) - 1;
  }

  /** s.slice(i, j), as the same string object as the last time this value was seen (when still in its slot). */
  get(s: string, i: number, j: number): string {
    // FNV-1a over the UTF-16 code units, length mixed in first.
    let h = (0x811c9dc5 ^ (j - i)) | 0;
    for (let k = i; k < j; k++) h = Math.imul(h ^ s.charCodeAt(k), 0x01000193);
    const slot = (h ^ (h >>> 15)) & this.mask;
    const c = this.slots[slot]!;
    if (c.length === j - i && s.startsWith(c, i)) { this.hits++; return c; }
    this.misses++;
    // A copy, not a slice: V8 slices of 13+ characters point into the whole chunk and would keep it alive.
    const v = j - i < 13 ? s.slice(i, j) : (' ' + s.slice(i, j)).slice(1);
    this.slots[slot] = v;
    return v;
  }
}
