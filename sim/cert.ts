/** The simulator's throwaway TLS identity: one self-signed P-256 certificate per process, made on first use. */
import { generate } from "selfsigned";

export interface SimulatorCertificate {
  /** PEM private key. */
  readonly key: string;
  /** PEM certificate; also what clients trust (`tlsOptions.ca`). */
  readonly cert: string;
}

let cached: Promise<SimulatorCertificate> | undefined;

async function create(): Promise<SimulatorCertificate> {
  const now = Date.now();
  const pems = await generate([{ name: "commonName", value: "localhost" }], {
    keyType: "ec",
    curve: "P-256",
    algorithm: "sha256",
    notBeforeDate: new Date(now - 60_000),
    notAfterDate: new Date(now + 7 * 24 * 3600_000),
    extensions: [
      { name: "basicConstraints", cA: false },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
      { name: "extKeyUsage", serverAuth: true },
      {
        name: "subjectAltName",
        altNames: [
          { type: 2, value: "localhost" },
          { type: 7, ip: "127.0.0.1" },
          { type: 7, ip: "::1" },
        ],
      },
    ],
  });
  return { key: pems.private, cert: pems.cert };
}

export function simulatorCertificate(): Promise<SimulatorCertificate> {
  cached ??= create().catch((error: unknown) => {
    cached = undefined;
    throw error;
  });
  return cached;
}
