import type { TokenCredential } from "@azure/core-auth";
import { QueueClient } from "@azure/storage-queue";
import type { ReconcileMessage, ReconcileQueue } from "../dispatch/scheduler.js";

/** The queue the queue trigger reads; the Functions host moves messages that keep failing to `-poison`. */
export const RECONCILE_QUEUE = "autoprotect-reconcile";
export const RECONCILE_POISON_QUEUE = `${RECONCILE_QUEUE}-poison`;

export type ReconcileQueueOptions =
  | { readonly queueClient: QueueClient }
  | { readonly endpoint: string; readonly credential: TokenCredential; readonly queueName?: string }
  | { readonly connectionString: string; readonly queueName?: string };

export function queueClientFor(options: ReconcileQueueOptions): QueueClient {
  if ("queueClient" in options) return options.queueClient;
  const name = options.queueName ?? RECONCILE_QUEUE;
  if ("connectionString" in options) return new QueueClient(options.connectionString, name);
  return new QueueClient(`${options.endpoint.replace(/\/+$/, "")}/${name}`, options.credential);
}

/**
 * Sends reconcile messages as base64 of their JSON, which is what the Functions queue trigger decodes
 * by default (`messageEncoding: base64`).
 */
export function createReconcileQueue(options: ReconcileQueueOptions): ReconcileQueue {
  const client = queueClientFor(options);
  let ready: Promise<unknown> | undefined;
  return {
    async send(message: ReconcileMessage, visibilityTimeoutSeconds: number) {
      ready ??= client.createIfNotExists().catch((error: unknown) => {
        ready = undefined;
        throw error;
      });
      await ready;
      const body = Buffer.from(JSON.stringify(message), "utf8").toString("base64");
      // Time-to-live -1: a look scheduled days ahead must not expire before it is due.
      await client.sendMessage(body, { visibilityTimeout: visibilityTimeoutSeconds, messageTimeToLive: -1 });
    },
  };
}
