/** The kubeconfig server rewrite (pure): exact, format-preserving, refuses a file that changed. */
import { describe, expect, it } from 'vitest';
import { KubeconfigRewriteError, kubeconfigServer, pointsAt, rewriteKubeconfigServer } from '../src/lib/kubeconfig-server';

const kc = (server: string, extra = '') =>
  `# kubelet kubeconfig\napiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: AAAA\n    server: ${server}  # the apiserver\n  name: default-cluster\n${extra}contexts:\n- context:\n    cluster: default-cluster\n    user: default-auth\n  name: default-context\ncurrent-context: default-context\nkind: Config\n`;

describe('kubeconfig server', () => {
  it('reads the current context cluster server', () => {
    expect(kubeconfigServer(kc('https://10.0.0.11:6443'))).toBe('https://10.0.0.11:6443');
    const two = `clusters:\n- name: a\n  cluster: {server: "https://a:1"}\n- name: b\n  cluster: {server: "https://b:2"}\ncontexts:\n- name: x\n  context: {cluster: b}\ncurrent-context: x\n`;
    expect(kubeconfigServer(two)).toBe('https://b:2');
    expect(kubeconfigServer('not: [yaml')).toBeUndefined();
    expect(kubeconfigServer('kind: Config\n')).toBeUndefined();
  });

  it('rewrites only FROM lines, keeping comments and everything else byte for byte; a second run changes nothing', () => {
    const other = `- cluster:\n    server: https://elsewhere:443\n  name: other\n`;
    const before = kc('https://10.0.0.11:6443', other);
    const r = rewriteKubeconfigServer(before, 'https://10.0.0.11:6443', 'https://10.0.0.100:443');
    expect(r.changed).toBe(true);
    expect(r.lines).toBe(1);
    expect(r.text).toBe(kc('https://10.0.0.100:443', other));
    expect(r.text).toContain('server: https://elsewhere:443');
    expect(rewriteKubeconfigServer(r.text, 'https://10.0.0.11:6443', 'https://10.0.0.100:443')).toEqual({ text: r.text, changed: false, lines: 0 });
  });

  it('keeps quotes', () => {
    const r = rewriteKubeconfigServer(`clusters:\n- name: c\n  cluster:\n    server: "https://10.0.0.11:6443"\n`, 'https://10.0.0.11:6443', 'https://lb:443');
    expect(r.text).toContain('server: "https://lb:443"');
  });

  it('refuses a kubeconfig that points at neither FROM nor TO (it changed since it was checked)', () => {
    expect(() => rewriteKubeconfigServer(kc('https://10.0.0.12:6443'), 'https://10.0.0.11:6443', 'https://lb:443')).toThrow(KubeconfigRewriteError);
  });

  it('pointsAt compares host and port (default port from the scheme)', () => {
    expect(pointsAt('https://10.0.0.100', '10.0.0.100', 443)).toBe(true);
    expect(pointsAt('https://10.0.0.100:443/', '10.0.0.100', 443)).toBe(true);
    expect(pointsAt('https://10.0.0.100:6443', '10.0.0.100', 443)).toBe(false);
    expect(pointsAt(undefined, '10.0.0.100', 443)).toBe(false);
  });
});
