// Time enters workflows only through a Clock, so outputs stay reproducible in tests (DESIGN.md convention 5).
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
