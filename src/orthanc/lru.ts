// A least-recently-used map bounded by bytes, not entries: facts read from
// DICOM files (SOP class, laterality...) are immutable for a given resource
// version and worth keeping between requests, but a study's details can be
// a few hundred bytes or a few megabytes, so only their size can bound them.
export class Lru<K, V> {
  private readonly entries = new Map<K, { value: V; bytes: number }>();
  private used = 0;

  constructor(
    private readonly capacityBytes: number,
    /** An estimate of an entry's size in memory. */
    private readonly sizeOf: (value: V) => number = (value) => 2 * JSON.stringify(value).length,
  ) {}

  get bytes(): number {
    return this.used;
  }

  get(key: K): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  set(key: K, value: V): void {
    this.delete(key);
    const bytes = this.sizeOf(value);
    if (bytes > this.capacityBytes) return; // would evict everything else
    this.entries.set(key, { value, bytes });
    this.used += bytes;
    while (this.used > this.capacityBytes) {
      const oldest = this.entries.keys().next().value as K;
      this.delete(oldest);
    }
  }

  delete(key: K): void {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    this.used -= entry.bytes;
    this.entries.delete(key);
  }

  async getOrLoad(key: K, load: () => Promise<V>): Promise<V> {
    const cached = this.get(key);
    if (cached !== undefined) return cached;
    const value = await load();
    this.set(key, value);
    return value;
  }
}
