// CIDR identities for the probe's ipcache (compilePlan): Cilium gives each CIDR selector's prefix an identity, and an
// address the identity of the longest prefix that holds it.
import { cidrContains, parseCidr } from '../verify/ip.js';
import type { Cidr } from '../verify/ip.js';

/**
 * CIDR identities as Cilium derives them: one per distinct IPv4 prefix the plan names (selectors and their excepts).
 * The probe's ipcache gives an address the longest prefix that holds it, so a selector must take every prefix inside
 * it that no except covers: its own identity alone would miss an address that a longer prefix of another rule claims,
 * and the except's prefixes are exactly the ones left out.
 */
export class CidrIdentities {
  private readonly byPrefix = new Map<string, { cidr: Cidr; text: string; identity: number }>();
  private next = 16_777_217;

  /** world: the identity of an address no prefix names (reserved:world). */
  constructor(private readonly world: number) {}

  private static key(c: Cidr): string { return `${c.base4}/${c.bits}`; }

  add(text: string): void {
    const c = parseCidr(text);
    if (!c || c.v6 || this.byPrefix.has(CidrIdentities.key(c))) return;
    this.byPrefix.set(CidrIdentities.key(c), { cidr: c, text, identity: this.next++ });
  }

  entries(): { cidr: string; identity: number }[] {
    return [...this.byPrefix.values()].map((e) => ({ cidr: e.text, identity: e.identity }));
  }

  all(): number[] { return [...this.byPrefix.values()].map((e) => e.identity); }

  /** The identities an address inside `base` but outside every except can have; null: base is no IPv4 prefix. */
  inside(base: string, except: string[]): number[] | null {
    const b = parseCidr(base);
    if (!b || b.v6) return null;
    const ex = except.map((e) => parseCidr(e)).filter((e): e is Cidr => e !== null && !e.v6);
    const within = (inner: Cidr, outer: Cidr) => inner.bits >= outer.bits && cidrContains(outer, { v6: false, n: inner.base, n4: inner.base4 });
    const out: number[] = [];
    for (const e of this.byPrefix.values()) if (within(e.cidr, b) && !ex.some((x) => within(e.cidr, x))) out.push(e.identity);
    // 0.0.0.0/0 also holds the addresses no prefix names: world
    if (b.bits === 0 && !ex.length) out.push(this.world);
    return out;
  }
}
