/** Waits for a machine-wide slot for a heavy run; resolves with its release function. See machine-slot.mjs. */
export function acquireMachineSlot (what: string): Promise<() => void>
