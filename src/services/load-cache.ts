// A per-key cache of values read from the database, dropped when they change. A read that
// overlaps a drop is answered but not kept: it may have read the old value, and keeping it
// would hide the change until the next one (a load racing a write).
export class LoadCache<K, V> {
  private readonly map = new Map<K, V>();
  /** Counts drops; a read that saw it move was overtaken by a change. */
  private drops = 0;

  constructor(private readonly max: number) {}

  peek(key: K): V | undefined {
    return this.map.get(key);
  }

  async get(key: K, load: () => Promise<V>): Promise<V> {
    const hit = this.map.get(key);
    if (hit !== undefined) return hit;
    const drops = this.drops;
    const v = await load();
    if (drops === this.drops) this.set(key, v);
    return v;
  }

  /** A value known current (just written). */
  set(key: K, v: V): void {
    if (this.map.size >= this.max && !this.map.has(key)) this.map.clear();
    this.map.set(key, v);
  }

  delete(key: K): void {
    this.drops++;
    this.map.delete(key);
  }
}
