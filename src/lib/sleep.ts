/** Waiting: the one sleep helper, and one that an activity's cancellation cuts short. */
import { cancelled } from './heartbeat';

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Sleep that ends early (rejecting) when the running activity is cancelled; a plain sleep outside an activity. */
export async function sleepUnlessCancelled(ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))), cancelled()]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}
