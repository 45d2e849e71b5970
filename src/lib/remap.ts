/**
 * Replacing one host's identity (address, name) by another's in config text,
 * as whole tokens only: 10.0.0.1 never matches inside 10.0.0.12, master-1
 * never inside oldmaster-1 or master-10. Pure.
 */
export interface HostIdentity {
  name: string;
  address: string;
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A pattern matching `address` as a whole IPv4 token. */
export function addressPattern(address: string, flags = 'g'): RegExp {
  return new RegExp(`(?<![\\d.])${esc(address)}(?!\\.?\\d)`, flags);
}

/** A pattern matching a host `name` as a whole token (not inside a longer DNS label). */
export function namePattern(name: string, flags = 'g'): RegExp {
  return new RegExp(`(?<![A-Za-z0-9-])${esc(name)}(?![A-Za-z0-9-])`, flags);
}

/** Replaces the old host's address and name (as whole tokens) in a string. */
export function remapHost(value: string, from: HostIdentity, to: HostIdentity): string {
  if (from.address === to.address && from.name === to.name) return value;
  let out = value.replace(addressPattern(from.address), to.address);
  if (from.name && from.name !== to.name) out = out.replace(namePattern(from.name), to.name);
  return out;
}
