import { LockArgumentError } from '@dlock/lock-core';

/** A seed node of a Redis Cluster URL. */
export interface ClusterSeedNode {
  readonly host: string;
  readonly port: number;
}

/**
 * The seed nodes `h1:p1,h2:p2,[::1]:p3` of `redis+cluster:h1:7000,h2:7001?prefix=app:`. A
 * comma-separated host list is not a valid URL authority (`redis+cluster://h1:7000,h2:7001` does
 * not parse), so, as for `redlock:`, the nodes are the URL's opaque path. A node without a port
 * uses 6379; a node listed twice is refused.
 */
export function parseClusterNodes(url: URL): ClusterSeedNode[] {
  const scheme = url.protocol.slice(0, -1);
  const list = decodeURIComponent(url.pathname.replace(/^\/+/, ''));
  if (list === '') {
    throw new LockArgumentError(
      `connect: a ${scheme} URL lists its seed nodes, as in ${scheme}:h1:7000,h2:7001`,
    );
  }
  const seen = new Set<string>();
  return list.split(',').map((entry) => {
    const match = /^(\[[^\]]+\]|[^:[\]/@]+)(?::(\d+))?$/.exec(entry.trim());
    if (!match) throw new LockArgumentError(`connect: bad ${scheme} node "${entry}"`);
    const host = match[1]!.replace(/^\[(.*)\]$/, '$1');
    const port = match[2] === undefined ? 6379 : Number(match[2]);
    if (!Number.isInteger(port) || port < 1 || port > 65_535) {
      throw new LockArgumentError(`connect: bad port in ${scheme} node "${entry}"`);
    }
    const address = `${host.toLowerCase()}:${port}`;
    if (seen.has(address)) {
      throw new LockArgumentError(`connect: ${scheme} node ${address} is listed twice`);
    }
    seen.add(address);
    return { host, port };
  });
}
