/**
 * How many messages wait for a pool: the ready jobs in its Beanstalkd tubes (`stats-tube`), over one connection
 * per server, kept between reads.
 */
import { BeanstalkdConnection } from '../src/backends/beanstalkd/beanstalkd-connection.js';
import { parseStats } from '../src/backends/beanstalkd/beanstalkd-protocol.js';
import type { PoolTubes } from './render.js';

/**
 * @example
 * const probe = new QueueDepthProbe();
 * await probe.readyIn({ server: 'beanstalkd:11300', tubes: ['shop.activities'], partitions: 1 }); // 42
 * probe.close();
 */
export class QueueDepthProbe {
  private readonly connections = new Map<string, BeanstalkdConnection>();

  /** The ready jobs in `tubes`, summed; a tube that does not exist yet holds none. */
  async readyIn(tubes: PoolTubes): Promise<number> {
    const connection = this.connection(tubes.server);
    const counts = await Promise.all(
      tubes.tubes.map(async (tube) => {
        const reply = await connection.command(`stats-tube ${tube}`);
        if (reply.words[0] === 'NOT_FOUND') return 0;
        if (reply.words[0] !== 'OK') throw new Error(`stats-tube ${tube}: ${reply.words.join(' ')}`);
        const ready = parseStats(reply)['current-jobs-ready'];
        return typeof ready === 'number' ? ready : 0;
      }),
    );
    return counts.reduce((sum, n) => sum + n, 0);
  }

  close(): void {
    for (const connection of this.connections.values()) connection.close();
    this.connections.clear();
  }

  private connection(server: string): BeanstalkdConnection {
    let connection = this.connections.get(server);
    if (connection === undefined) {
      const at = server.lastIndexOf(':');
      connection = new BeanstalkdConnection({
        host: server.slice(0, at),
        port: Number(server.slice(at + 1)),
        reconnectTimeoutMs: 2_000,
      });
      this.connections.set(server, connection);
    }
    return connection;
  }
}
