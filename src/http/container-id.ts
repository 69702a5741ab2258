import os from 'node:os';

/** Names this worker in every response's `X-Container-ID` header and in `/health`: its hostname (the container's id under Docker). */
export const CONTAINER_ID = os.hostname();
