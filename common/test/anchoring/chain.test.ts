import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createChainProvider } from '../../src/anchoring';

describe('createChainProvider', () => {
  it('gives up on a node that accepts the request but never answers (no 5-minute stall)', async () => {
    const hanging: http.ServerResponse[] = [];
    const server = http.createServer((_req, res) => void hanging.push(res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const provider = createChainProvider(`http://127.0.0.1:${port}`, 31337, 50, 300);
    try {
      const started = Date.now();
      await expect(provider.send('eth_blockNumber', [])).rejects.toThrow(/timeout/i);
      // The 300 ms timeout given, not the 10 s default (a busy machine is slow, never that slow).
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(hanging.length).toBeGreaterThan(0); // the request did reach the node
    } finally {
      provider.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
