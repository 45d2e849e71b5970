/** Thrown inside workflow code when an abort is honoured; never crosses an activity boundary. */
export class Aborted extends Error {
  override readonly name = 'Aborted';
}
