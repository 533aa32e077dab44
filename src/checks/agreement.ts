/**
 * `defender.agreement`: autoprotect's verdict on a resource against Defender for Cloud's own. Pure:
 * this run's outcomes of the checks an assessment judges, and the assessments as read, in; one finding
 * per resource out, with each assessment's judgement in `details.assessments`.
 *
 * Configuration says what was switched on; Defender's assessment says whether Defender hears from it.
 * They agree when both say protected, or both say not protected (then the other check carries the
 * action). A resource protected by configuration that Defender still calls Unhealthy is given
 * Defender's refresh lag, measured from the later of autoprotect's last change (this run's
 * remediation, or since when the agreement has been waiting) and Defender's last status change; past
 * it, a person looks (the sensor may not reach Defender). Defender calling Healthy what autoprotect
 * finds unprotected is a disagreement to investigate at once.
 */
import type { CheckId, Finding, Status } from "../model/checks.js";
import { assessmentFor, isAssessmentOf, type AssessmentSnapshot } from "../model/defender.js";
import { joinWords } from "./read.js";

/** What one assessment, against autoprotect's verdict, comes to. */
export type AgreementVerdict =
  /** Both say protected, or both say not protected. */
  | "agree"
  /** Protected by configuration, Defender still Unhealthy, within its refresh lag. */
  | "catching-up"
  /** Protected by configuration, Defender Unhealthy past its refresh lag. */
  | "not-by-defender"
  /** Defender says Healthy, autoprotect finds it unprotected. */
  | "not-by-configuration"
  /** Defender says the assessment does not apply. */
  | "not-applicable"
  /** Defender has no assessment of this resource (not yet assessed, or its plan is off). */
  | "not-assessed"
  /** autoprotect has no verdict to compare: its check was skipped, failed, or did not get to look. */
  | "no-verdict";

/** This run's outcome of a check an assessment judges. */
export interface OurOutcome {
  readonly check: CheckId;
  readonly status: Status;
  readonly reason: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

export interface AgreementInput {
  readonly resourceType: string;
  readonly ours: readonly OurOutcome[];
  /** Defender's assessments of this resource (any; those the table does not know are ignored). */
  readonly assessments: readonly AssessmentSnapshot[];
  readonly now: Date;
  /** Overrides every assessment's documented lag (AUTOPROTECT_DEFENDER_LAG_HOURS). */
  readonly lagMinutes?: number;
  /** Since when this resource's agreement has been waiting for Defender (the wait ledger). */
  readonly waitingSince?: string;
}

/** One assessment's judgement, as `Details.assessments[]` carries it. */
export interface AssessmentJudgement {
  readonly check: CheckId;
  readonly assessment: string;
  readonly displayName: string;
  readonly ours: Status;
  /** Defender's status code, or "" when it has not assessed the resource. */
  readonly defender: string;
  readonly cause?: string;
  readonly description?: string;
  readonly statusChangeDate?: string;
  readonly verdict: AgreementVerdict;
  readonly status: Status;
  readonly reason: string;
  /** For `catching-up`: when Defender's lag ends (ISO 8601). */
  readonly lagEndsAt?: string;
}

const MIN_RETRY_SECONDS = 15 * 60;
const MAX_RETRY_SECONDS = 6 * 3600;
/** Waits a run itself reports, which are no verdict on protection. */
const NOT_A_VERDICT = new Set(["RunBudgetExhausted", "RunInterrupted"]);

type Ours = "protected" | "unprotected" | "none";

/**
 * What autoprotect's outcome says about protection: compliant and remediated protect; planned, manual
 * and a deferral that is waiting for its change (a rollout step, a running update) do not; skipped,
 * failed, and a deferral because Azure or the run stopped it, say nothing.
 */
export function ourVerdict(outcome: Pick<OurOutcome, "status" | "details">): Ours {
  switch (outcome.status) {
    case "compliant":
    case "remediated":
      return "protected";
    case "planned":
    case "manual":
      return "unprotected";
    case "deferred": {
      const details = outcome.details ?? {};
      const code = typeof details.code === "string" ? details.code : undefined;
      return details.error !== undefined || (code !== undefined && NOT_A_VERDICT.has(code))
        ? "none"
        : "unprotected";
    }
    default:
      return "none";
  }
}

/** Defender's words for a status: its cause and description when it gives them. */
function defenderSays(a: AssessmentSnapshot): string {
  const why = [a.cause, a.description].filter((s): s is string => s !== undefined && s !== "");
  return why.length === 0 ? a.status : `${a.status} (${why.join(": ")})`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function latest(...times: (string | undefined)[]): number | undefined {
  const parsed = times.map((t) => (t === undefined ? Number.NaN : Date.parse(t))).filter(Number.isFinite);
  return parsed.length === 0 ? undefined : Math.max(...parsed);
}

function hours(minutes: number): string {
  return minutes % 60 === 0 ? `${String(minutes / 60)} h` : `${String(minutes)} min`;
}

/** One assessment against this run's outcome of the check it judges. */
export function judgeAssessment(
  input: Omit<AgreementInput, "ours" | "assessments">,
  outcome: OurOutcome,
  assessment: AssessmentSnapshot | undefined,
): AssessmentJudgement {
  const info = assessmentFor(outcome.check, input.resourceType);
  const base = {
    check: outcome.check,
    assessment: assessment?.key ?? info?.key ?? "",
    displayName: assessment?.displayName ?? info?.displayName ?? "",
    ours: outcome.status,
    defender: assessment?.status ?? "",
    ...(assessment?.cause === undefined ? {} : { cause: assessment.cause }),
    ...(assessment?.description === undefined ? {} : { description: assessment.description }),
    ...(assessment?.statusChangeDate === undefined ? {} : { statusChangeDate: assessment.statusChangeDate }),
  };
  const judged = (verdict: AgreementVerdict, status: Status, reason: string): AssessmentJudgement => ({
    ...base,
    verdict,
    status,
    reason,
  });
  const ours = ourVerdict(outcome);
  if (ours === "none") {
    return judged(
      "no-verdict",
      "skipped",
      `${outcome.check} has no verdict to compare (${outcome.status}: ${outcome.reason})`,
    );
  }
  if (assessment === undefined) {
    return judged(
      "not-assessed",
      "skipped",
      `Defender for Cloud has not assessed "${base.displayName}" on this resource (not yet, or its plan is off)`,
    );
  }
  if (assessment.status === "NotApplicable") {
    return judged(
      "not-applicable",
      "skipped",
      `Defender for Cloud: "${base.displayName}" does not apply: ${defenderSays(assessment)}`,
    );
  }
  const healthy = assessment.status === "Healthy";
  if (healthy === (ours === "protected")) {
    return judged(
      "agree",
      "compliant",
      healthy
        ? `Defender for Cloud agrees: ${outcome.check} is protected and "${base.displayName}" is Healthy`
        : `Defender for Cloud agrees that ${outcome.check} is not protected yet ("${base.displayName}" is Unhealthy); ${outcome.check} carries the action`,
    );
  }
  if (healthy) {
    return judged(
      "not-by-configuration",
      "manual",
      `Defender for Cloud says "${base.displayName}" is Healthy, but ${outcome.check} is ${outcome.status}: ${outcome.reason}; a disagreement to investigate (has Defender seen the latest change, and does it judge the same setting?)`,
    );
  }
  const lagMinutes = input.lagMinutes ?? info?.documentedLagMinutes ?? 24 * 60;
  const ourChange = outcome.status === "remediated" ? input.now.toISOString() : undefined;
  const since =
    latest(ourChange, input.waitingSince, assessment.statusChangeDate ?? assessment.firstEvaluationDate) ??
    input.now.getTime();
  const lagEnds = since + lagMinutes * 60_000;
  if (input.now.getTime() < lagEnds) {
    return {
      ...judged(
        "catching-up",
        "deferred",
        `${outcome.check} is protected but Defender for Cloud still says ${defenderSays(assessment)}; Defender can take up to ${hours(lagMinutes)} to follow a change (until ${iso(lagEnds)})`,
      ),
      lagEndsAt: iso(lagEnds),
    };
  }
  return judged(
    "not-by-defender",
    "manual",
    `${outcome.check} is protected by configuration, but Defender for Cloud has said ${defenderSays(assessment)} since ${iso(since)}, longer than the ${hours(lagMinutes)} it may take to follow a change: ${info?.hint ?? "look at the resource in Defender for Cloud"}`,
  );
}

const RANK: Readonly<Record<string, number>> = { manual: 3, deferred: 2, compliant: 1, skipped: 0 };

/** "x is" / "x and y are". */
function are(checks: readonly string[]): string {
  return `${joinWords(checks)} ${checks.length === 1 ? "is" : "are"}`;
}

/**
 * The judgements' reasons in a sentence: alike ones said once (the checks Defender agrees about, the
 * assessments it has not made, checks with the same reason for no verdict), the others as they are.
 */
function summary(judgements: readonly AssessmentJudgement[]): string {
  const parts: string[] = [];
  const of = (verdict: AgreementVerdict, ours?: "protected" | "unprotected") =>
    judgements.filter(
      (j) =>
        j.verdict === verdict &&
        (ours === undefined || (j.defender === "Healthy") === (ours === "protected")),
    );
  const safe = of("agree", "protected").map((j) => j.check);
  if (safe.length > 0) parts.push(`Defender for Cloud agrees that ${are(safe)} protected (Healthy)`);
  const open = of("agree", "unprotected").map((j) => j.check);
  if (open.length > 0) {
    parts.push(
      `Defender for Cloud agrees that ${are(open)} not protected yet (Unhealthy); ${open.length === 1 ? "it carries" : "they carry"} the action`,
    );
  }
  const unassessed = of("not-assessed").map((j) => `"${j.displayName}"`);
  if (unassessed.length > 0) {
    parts.push(
      `Defender for Cloud has not assessed ${joinWords(unassessed)} here (not yet, or its plan is off)`,
    );
  }
  const noVerdict = new Map<string, string[]>();
  for (const j of of("no-verdict")) {
    const why = j.reason.slice(j.reason.indexOf("(") + 1, -1);
    noVerdict.set(why, [...(noVerdict.get(why) ?? []), j.check]);
  }
  for (const [why, checks] of noVerdict) parts.push(`nothing to compare: ${are(checks)} ${why}`);
  const alike = new Set<AgreementVerdict>(["agree", "not-assessed", "no-verdict"]);
  parts.push(...judgements.filter((j) => !alike.has(j.verdict)).map((j) => j.reason));
  return parts.join("; ");
}

/**
 * The resource's agreement: the most pressing of its assessments' judgements (manual, then deferred,
 * then compliant, then skipped), with every judgement in `details.assessments`.
 */
export function planAgreement(input: AgreementInput): Finding<never> {
  const judgements = input.ours
    .filter((o) => assessmentFor(o.check, input.resourceType) !== undefined)
    .map((outcome) => {
      const info = assessmentFor(outcome.check, input.resourceType);
      const assessment =
        info === undefined ? undefined : input.assessments.find((a) => isAssessmentOf(info, a));
      return judgeAssessment(input, outcome, assessment);
    });
  const worst = Math.max(-1, ...judgements.map((j) => RANK[j.status] ?? 0));
  const status = (Object.keys(RANK).find((s) => RANK[s] === worst) ?? "skipped") as
    "manual" | "deferred" | "compliant" | "skipped";
  const pressing = judgements.filter((j) => RANK[j.status] === worst);
  const unreached = input.ours.map((o) => `${o.check} is ${o.status} (${o.reason})`).join("; ");
  const reason =
    pressing.length > 0
      ? summary(pressing)
      : unreached === ""
        ? "no check of this resource is judged by a Defender for Cloud assessment"
        : `nothing to compare with Defender for Cloud here: ${unreached}`;
  const details = { assessments: judgements };
  if (status === "deferred") {
    const ends = Math.min(...pressing.map((j) => Date.parse(j.lagEndsAt ?? input.now.toISOString())));
    const wait = Math.round((ends - input.now.getTime()) / 1000);
    return {
      verdict: "deferred",
      reason,
      retryAfterSeconds: Math.min(MAX_RETRY_SECONDS, Math.max(MIN_RETRY_SECONDS, wait)),
      details,
    };
  }
  return { verdict: status, reason, details };
}
