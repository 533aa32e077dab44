import { AzureApiError } from "../azure/errors.js";

export function describeError(error: unknown): { code: string; message: string } {
  if (error instanceof AzureApiError) return { code: error.code, message: error.message };
  if (error instanceof Error) return { code: error.name, message: error.message };
  return { code: "Error", message: String(error) };
}

/** The outcome's Reason for a failure: ARM's error code first, as the contract asks. */
export function failureReason(error: unknown): string {
  const { code, message } = describeError(error);
  return `${code}: ${message}`;
}
