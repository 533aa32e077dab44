/**
 * Defender for Cloud's view, within one run: the subscription's assessments read once (one Resource
 * Graph query, before any of its outcomes), Defender's status attached to every outcome of a check an
 * assessment judges (`Details.defender`), and each resource's `defender.agreement` outcome once its
 * checks are done. The agreement never writes, so audit and enforce are the same.
 *
 * A read that fails costs the agreement, not the checks: they carry no `Details.defender`, and the
 * subscription gets one `failed` `defender.agreement` outcome (on the run's target) instead of one
 * per resource.
 */
import { planAgreement, type OurOutcome } from "../checks/agreement.js";
import type { CheckId, Finding } from "../model/checks.js";
import type { Config } from "../model/config.js";
import {
  assessmentFor,
  DEFENDER_ASSESSMENTS,
  isAssessmentOf,
  type AssessmentSnapshot,
} from "../model/defender.js";
import type { OutcomeRecord } from "../model/outcome.js";
import type { OutcomeFields } from "../outcomes/record.js";
import type { ResourceGraphAdapter } from "../azure/resource-graph.js";
import { outcomeOfError } from "./errors.js";

export const AGREEMENT: CheckId = "defender.agreement";

type Body = Pick<OutcomeFields, "status" | "reason" | "action" | "details">;

export interface DefenderViewPorts {
  readonly resourceGraph: ResourceGraphAdapter;
  readonly config: Pick<Config, "defenderLagHours">;
  now(): Date;
  /** Since when this check on this resource has been waiting (the wait ledger), if it has. */
  waitingSince(check: CheckId, resourceId: string): string | undefined;
  unapplied(finding: Finding<never>): Body;
}

/** Where a subscription's failed read is reported: the run's target. */
export interface ReadScope {
  readonly id: string;
  readonly type: string;
}

interface SubscriptionView {
  readonly scope: ReadScope;
  /** By lower-case resource id. */
  readonly assessments: Map<string, AssessmentSnapshot[]>;
  error?: unknown;
  failureReported: boolean;
}

interface Pending {
  readonly subscriptionId: string;
  readonly resourceId: string;
  readonly resourceType: string;
  readonly ours: OurOutcome[];
}

export interface DefenderView {
  /** Reads the subscription's assessments, once per run; a failure is kept for the agreement to report. */
  load(subscriptionId: string, scope: ReadScope): Promise<void>;
  /** The outcome with `Details.defender` when Defender's verdict on that check and resource is known. */
  annotate(fields: OutcomeFields): OutcomeFields;
  /** Follows the run's outcomes: those an agreement compares, and agreements already written. */
  note(outcome: OutcomeRecord): void;
  /**
   * The agreements of resources whose checks are done: those under `scopeId` (a resource, or an API
   * Management service and its APIs), or every one left.
   */
  settle(scopeId?: string): OutcomeFields[];
}

/** What an outcome carries of Defender's verdict. */
function defenderDetails(assessment: AssessmentSnapshot): Record<string, unknown> {
  return {
    assessment: assessment.key,
    displayName: assessment.displayName,
    status: assessment.status,
    ...(assessment.cause === undefined ? {} : { cause: assessment.cause }),
    ...(assessment.description === undefined ? {} : { description: assessment.description }),
    ...(assessment.statusChangeDate === undefined ? {} : { statusChangeDate: assessment.statusChangeDate }),
  };
}

export function createDefenderView(ports: DefenderViewPorts): DefenderView {
  const subscriptions = new Map<string, SubscriptionView>();
  const loading = new Map<string, Promise<void>>();
  const pending = new Map<string, Pending>();
  const done = new Set<string>();

  const assessmentsOf = (subscriptionId: string, resourceId: string): AssessmentSnapshot[] | undefined =>
    subscriptions.get(subscriptionId.toLowerCase())?.assessments.get(resourceId.toLowerCase());

  const agreement = (item: Pending): OutcomeFields[] => {
    const view = subscriptions.get(item.subscriptionId.toLowerCase());
    if (view === undefined) return [];
    const base = { subscriptionId: item.subscriptionId, check: AGREEMENT, startedAt: ports.now().getTime() };
    if (view.error !== undefined) {
      if (view.failureReported) return [];
      view.failureReported = true;
      return [
        {
          ...base,
          resourceId: view.scope.id,
          resourceType: view.scope.type,
          ...outcomeOfError(view.error, "reading Defender for Cloud's assessments"),
        },
      ];
    }
    const lagHours = ports.config.defenderLagHours;
    const waitingSince = ports.waitingSince(AGREEMENT, item.resourceId);
    const finding = planAgreement({
      resourceType: item.resourceType,
      ours: item.ours,
      assessments: view.assessments.get(item.resourceId.toLowerCase()) ?? [],
      now: ports.now(),
      ...(lagHours === undefined ? {} : { lagMinutes: lagHours * 60 }),
      ...(waitingSince === undefined ? {} : { waitingSince }),
    });
    return [
      { ...base, resourceId: item.resourceId, resourceType: item.resourceType, ...ports.unapplied(finding) },
    ];
  };

  return {
    load(subscriptionId, scope) {
      const key = subscriptionId.toLowerCase();
      let loaded = loading.get(key);
      if (loaded === undefined) {
        const view: SubscriptionView = { scope, assessments: new Map(), failureReported: false };
        loaded = ports.resourceGraph.listDefenderAssessments([subscriptionId]).then(
          (list) => {
            for (const assessment of list) {
              const resource = assessment.resourceId.toLowerCase();
              view.assessments.set(resource, [...(view.assessments.get(resource) ?? []), assessment]);
            }
            subscriptions.set(key, view);
          },
          (error: unknown) => {
            view.error = error;
            subscriptions.set(key, view);
          },
        );
        loading.set(key, loaded);
      }
      return loaded;
    },

    annotate(fields) {
      const info = assessmentFor(fields.check, fields.resourceType);
      if (info === undefined) return fields;
      const found = assessmentsOf(fields.subscriptionId, fields.resourceId)?.find((a) =>
        isAssessmentOf(info, a),
      );
      if (found === undefined) return fields;
      return { ...fields, details: { ...(fields.details ?? {}), defender: defenderDetails(found) } };
    },

    note(outcome) {
      const key = outcome.ResourceId.toLowerCase();
      if (outcome.Check === AGREEMENT) {
        done.add(key);
        pending.delete(key);
        return;
      }
      // A resource that is not there gets its one "not found" outcome and nothing else.
      if (done.has(key) || outcome.Details.notFound === true) return;
      // A judged check's outcome on an enclosing scope (the subscription when its clusters could not be
      // listed, the service when its APIs could not be read) gets the agreement there too.
      if (!DEFENDER_ASSESSMENTS.some((a) => a.check === outcome.Check)) return;
      const item = pending.get(key) ?? {
        subscriptionId: outcome.SubscriptionId,
        resourceId: outcome.ResourceId,
        resourceType: outcome.ResourceType,
        ours: [],
      };
      item.ours.push({
        check: outcome.Check,
        status: outcome.Status,
        reason: outcome.Reason,
        details: outcome.Details,
      });
      pending.set(key, item);
    },

    settle(scopeId) {
      const scope = scopeId?.toLowerCase();
      const out: OutcomeFields[] = [];
      for (const [key, item] of [...pending.entries()]) {
        if (scope !== undefined && key !== scope && !key.startsWith(`${scope}/`)) continue;
        pending.delete(key);
        done.add(key);
        out.push(...agreement(item));
      }
      return out;
    },
  };
}
