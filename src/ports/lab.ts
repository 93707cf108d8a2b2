// What `migrate lab` needs from the machine: the lab script's four verbs, and whether we may run it.
import type { LabDownResult, LabFile, LabLoadRequest, LabLoadResult, LabStatusResult } from '../core/model/lab.js';

export interface LabRunner {
  /** Root is required for network namespaces, iptables and cgroups. */
  isRoot(): boolean;
  up(): Promise<LabFile>;
  status(): Promise<LabStatusResult>;
  load(req: LabLoadRequest): Promise<LabLoadResult>;
  down(): Promise<LabDownResult>;
}
