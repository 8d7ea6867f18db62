/**
 * The REST base of a member: its `api_url` is `http://host:port/patroni` (Patroni's status
 * endpoint, with any path prefix before it), the other endpoints live beside it. One rule for
 * `hactl`'s requests and the dashboard's links. Throws on a value that is no URL.
 */
export function memberApiBase(apiUrl: string): string {
  const url = new URL(apiUrl);
  url.pathname = url.pathname.replace(/\/patroni\/?$/, '').replace(/\/$/, '');
  url.search = '';
  url.hash = '';
  return url.toString().replace(/\/$/, '');
}
