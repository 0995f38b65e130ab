// Checks the machine's services before integration tests, failing with what to start instead of skipping.

import net from 'node:net';

const START = {
  postgres: "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
  mariadb: 'start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd',
  redis: 'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no',
} as const;

const PORTS = { postgres: 5432, mariadb: 3306, redis: 6379 } as const;

export async function requireService(name: keyof typeof PORTS): Promise<void> {
  const up = await new Promise<boolean>((resolve) => {
    const s = net.connect(PORTS[name], '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  if (!up) throw new Error(`${name} is not answering on 127.0.0.1:${PORTS[name]}; start it with: ${START[name]}`);
}
