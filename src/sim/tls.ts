import { readFileSync } from "node:fs";
import { getCACertificates, setDefaultCACertificates } from "node:tls";

/** The loopback-only certificate and key of the simulated voice server (see tls/README.md). */
export interface TlsIdentity {
  readonly cert: string;
  readonly key: string;
}

let identity: TlsIdentity | undefined;

export function loopbackTlsIdentity(): TlsIdentity {
  identity ??= {
    cert: readFileSync(new URL("./tls/cert.pem", import.meta.url), "utf8"),
    key: readFileSync(new URL("./tls/key.pem", import.meta.url), "utf8"),
  };
  return identity;
}

/**
 * Makes this process's TLS clients (the `wss://` socket @discordjs/voice opens with no options)
 * accept the loopback voice server. The certificate is ADDED to the default CA set: verification
 * stays on for every other host, so the same process can still talk to Azure safely.
 * Idempotent; needs Node 22.19+ / 24.5+ (`tls.setDefaultCACertificates`).
 */
export function trustLoopbackCertificate(): void {
  const { cert } = loopbackTlsIdentity();
  const current = getCACertificates("default");
  if (current.includes(cert)) return;
  setDefaultCACertificates([...current, cert]);
}
