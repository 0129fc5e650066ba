/** An error whose message is meant for a person and whose status becomes the HTTP response. */
export class HttpError extends Error {
  override name = 'HttpError';
  readonly status: number;
  readonly headers: Record<string, string>;
  constructor(
    status: number,
    message: string,
    headers: Record<string, string> = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.status = status;
    this.headers = headers;
  }
}

/** A problem with configuration or a file on disk: the program cannot go on, and says why in one line. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}
