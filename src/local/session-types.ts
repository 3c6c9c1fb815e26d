/** Shared by the local server's session validation and its capability check. */

export interface SessionOrigin {
  readonly id: string;
  readonly apiVersion: string;
  /** Model mode; absent in agent mode. */
  readonly model: string | undefined;
  readonly agentName: string | undefined;
}

export interface InvalidParam {
  readonly param: string;
  readonly message: string;
}
