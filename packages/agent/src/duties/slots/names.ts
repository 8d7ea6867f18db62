/** Patroni's slot naming: lower case, anything outside [a-z0-9_] becomes `_`. */
export function slotNameFor(member: string): string {
  return member.toLowerCase().replace(/[^a-z0-9_]/g, '_');
}

/** What Postgres accepts as a slot name: [a-z0-9_], at most NAMEDATALEN-1 (63) bytes. */
export function isValidSlotName(name: string): boolean {
  return /^[a-z0-9_]{1,63}$/.test(name);
}
