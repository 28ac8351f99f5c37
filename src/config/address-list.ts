import proxyaddr from '@fastify/proxy-addr';

export const ADDRESS_LIST_FORMS =
  'a comma-separated list of IP addresses and CIDRs (10.0.0.5, 192.168.0.0/16, fd00::/8), or loopback, uniquelocal, linklocal';

/**
 * A list of addresses, CIDRs and named ranges, checked by the library that
 * will apply it (proxy-addr, as Fastify does), so what passes here is what
 * the server compiles at start. Empty entries (a trailing comma) are dropped.
 */
export function parseAddressList(text: string): readonly string[] | Error {
  const entries = text
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (entries.length === 0) return new Error('no address in it');
  try {
    proxyaddr.compile(entries);
  } catch (error) {
    return new Error(error instanceof Error ? error.message : String(error));
  }
  return entries;
}
