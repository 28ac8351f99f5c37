/**
 * The client a budget place is charged to. `::ffff:10.0.0.1` and `10.0.0.1`
 * are one client: Node reports IPv4 peers of a dual-stack listener in the
 * mapped form. An IPv6 client is its /64: one subscriber line gets a whole
 * /64, so counting addresses would give it 2^64 budgets.
 */
export function clientAddress(address: string | undefined): string {
  if (address === undefined) return '';
  if (address.startsWith('::ffff:') && address.includes('.')) return address.slice(7);
  return address.includes(':') ? ipv6Prefix64(address) : address;
}

function ipv6Prefix64(address: string): string {
  const bare = address.split('%')[0] ?? address;
  const [head = '', tail] = bare.split('::');
  const front = head === '' ? [] : head.split(':');
  const back = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? front : [...front, ...Array<string>(Math.max(0, 8 - front.length - back.length)).fill('0'), ...back];
  return `${groups
    .slice(0, 4)
    .map((group) => group.toLowerCase().replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}
