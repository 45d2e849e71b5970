/** A free TCP port on a loopback address (the OS picks it; the socket is closed again). */

export { freePort } from '../../src/lib/net';
