/** A Defender for Cloud plan (`Microsoft.Security/pricings`) as ARM returns it at 2024-01-01. */
export interface PricingExtension {
  readonly name: string;
  /** ARM sends the strings "True"/"False". */
  readonly isEnabled: string;
  readonly additionalExtensionProperties?: Readonly<Record<string, unknown>>;
  readonly operationStatus?: { readonly code?: string; readonly message?: string };
}

export interface PricingSnapshot {
  readonly id?: string;
  readonly name: string;
  readonly properties: {
    readonly pricingTier: string;
    readonly subPlan?: string;
    readonly extensions?: readonly PricingExtension[];
    readonly [other: string]: unknown;
  };
}

/** The writable body of a pricing PUT. */
export interface PricingUpdate {
  readonly pricingTier: "Standard";
  readonly subPlan?: string;
  /** Carried over as read: a PUT without it could reset the plan's enforcement on child scopes. */
  readonly enforce?: string;
  readonly extensions?: readonly {
    name: string;
    isEnabled: "True" | "False";
    additionalExtensionProperties?: Readonly<Record<string, unknown>>;
  }[];
}
