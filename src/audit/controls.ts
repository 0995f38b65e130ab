// What the audit report shows, mapped to SOC 2 criteria and ISO/IEC 27001:2022 Annex A controls.

export interface ControlMapping {
  readonly framework: 'SOC 2' | 'ISO/IEC 27001:2022';
  readonly control: string;
  readonly title: string;
  /** What in this report is the evidence, and which section shows it. */
  readonly evidence: string;
}

export const CONTROL_MAPPINGS: readonly ControlMapping[] = [
  { framework: 'SOC 2', control: 'CC6.1', title: 'Logical access security over protected assets',
    evidence: 'Every statement went through airlock, the single managed access point, and was decided by the enforced policy (Decisions by rule and resource).' },
  { framework: 'SOC 2', control: 'CC6.2', title: 'Users registered and authorised before access',
    evidence: 'Requesters authenticated as named people; approvers are named people from allowlisted groups (Held requests: requester, approved by).' },
  { framework: 'SOC 2', control: 'CC6.3', title: 'Access by role, least privilege, segregation of duties',
    evidence: 'Risky statements needed approval by distinct people other than the requester; self-approval only through flagged break-glass (Held requests, Break-glass).' },
  { framework: 'SOC 2', control: 'CC7.2', title: 'Monitoring for anomalies and security events',
    evidence: 'Denied, expired and break-glass events are recorded and counted; the trail itself is verified (Outcomes, Verification).' },
  { framework: 'SOC 2', control: 'CC7.3', title: 'Evaluation of security events',
    evidence: 'Every break-glass use is listed with invoker, reason and review due date for post-incident review (Break-glass awaiting review).' },
  { framework: 'SOC 2', control: 'CC8.1', title: 'Changes authorised, tested and approved, including emergency changes',
    evidence: 'Each approved change names its approvers, the decision time, the exact SQL (or its SHA-256) and the outcome (Held requests).' },
  { framework: 'ISO/IEC 27001:2022', control: '5.3', title: 'Segregation of duties',
    evidence: 'Approvers are counted as distinct people and never the requester; exceptions are break-glass and listed (Held requests, Break-glass).' },
  { framework: 'ISO/IEC 27001:2022', control: '5.15', title: 'Access control',
    evidence: 'Policy rules bound to resources decided every statement (Decisions by rule and resource).' },
  { framework: 'ISO/IEC 27001:2022', control: '5.18', title: 'Access rights',
    evidence: 'Access to run a held statement was granted per request, once, with an expiry (Held requests: held, expires, decision).' },
  { framework: 'ISO/IEC 27001:2022', control: '8.2', title: 'Privileged access rights',
    evidence: 'Privileged statements were held for authorisation, limited in time, and emergency use flagged (Held requests, Break-glass).' },
  { framework: 'ISO/IEC 27001:2022', control: '8.15', title: 'Logging',
    evidence: 'A hash-chained, Ed25519-checkpointed trail records user, activity, time, client address and outcome; its verification is part of this report (Verification).' },
  { framework: 'ISO/IEC 27001:2022', control: '8.16', title: 'Monitoring activities',
    evidence: 'Denials, expiries, break-glass uses and trail findings are surfaced for review (Outcomes, Break-glass, Verification).' },
  { framework: 'ISO/IEC 27001:2022', control: '8.32', title: 'Change management',
    evidence: 'Changes to production data were approved before they ran, and their results recorded (Held requests: ran, outcome).' },
];
