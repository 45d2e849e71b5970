import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: 'forks',
    // real servers (Temporal, etcd, sshd, kube-apiserver) start per file; 2 cores
    maxWorkers: 2,
    reporters: ['default'],
  },
});
